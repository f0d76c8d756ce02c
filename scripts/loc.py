#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Code lines (not blank, not comment) of the isolation-group core next to
those of the legacy group code of iommu.c it replaces: the parts of the
assembled iommu.c and iommu.h that CONFIG_IOMMU_ISOLATION_GROUPS compiles
out. KUnit suites and their mock are not counted."""

import glob
import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TREE = os.path.join(os.environ.get('BUILD', os.path.join(TOP, 'build')),
                    'tree', 'isolation')
OPT = 'CONFIG_IOMMU_ISOLATION_GROUPS'


def code(text):
    text = re.sub(r'/\*.*?\*/', lambda m: '\n' * m.group(0).count('\n'),
                  text, flags=re.S)
    text = re.sub(r'//.*', '', text)
    return [x for x in text.splitlines() if x.strip()]


def legacy(path):
    """Lines compiled only without the option (#ifndef OPT, or the #else
    of #ifdef OPT), directives excluded."""
    out, stack = [], []
    for line in open(path).read().splitlines():
        d = line.strip()
        if d.startswith('#if'):
            stack.append('legacy' if d == '#ifndef ' + OPT else
                         'core' if d == '#ifdef ' + OPT else None)
        elif d.startswith('#else') and stack:
            stack[-1] = {'legacy': 'core', 'core': 'legacy'}.get(stack[-1])
        elif d.startswith('#endif') and stack:
            stack.pop()
        elif 'legacy' in stack:
            out.append(line)
    return code('\n'.join(out))


def main():
    core = sorted(f for f in glob.glob(os.path.join(
        TOP, 'drivers/iommu/isolation/*.[ch]')) if 'kunit' not in f and
        'mock' not in f) + [os.path.join(TOP, 'include/linux/isolation.h')]
    n = 0
    for f in core:
        k = len(code(open(f).read()))
        n += k
        print('%5d %s' % (k, os.path.relpath(f, TOP)))
    print('%5d core' % n)
    old = 0
    for f in ('drivers/iommu/iommu.c', 'include/linux/iommu.h'):
        p = os.path.join(TREE, f)
        if not os.path.exists(p):
            sys.exit('no assembled tree: run make assemble')
        k = len(legacy(p))
        old += k
        print('%5d %s (legacy parts)' % (k, f))
    print('%5d legacy' % old)


if __name__ == '__main__':
    main()
