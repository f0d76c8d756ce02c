#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Show that every PCI grouping rule of the core is needed: build the
isolation kernel once per rule with that rule taken out of
drivers/iommu/isolation/device_group.c, run the grouping conformance table
(pcisim) on it, and name the topologies that then fail. A rule no topology
catches is printed as SURVIVED and fails the run.

The mutants are built in a tree of their own (build/tree/mutant, a git
worktree of the assembled isolation tree) and build/out/mutant-x86_64, so
the kernels make check boots are never touched; ccache makes each mutant
an incremental build.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get('BUILD', os.path.join(TOP, 'build'))
TREES = os.path.join(BUILD, 'tree')
MUTANT = os.path.join(TREES, 'mutant')
OUT = os.path.join(BUILD, 'out', 'mutant-x86_64')
REF_OUT = os.path.join(BUILD, 'out', 'isolation-x86_64')
FILE = 'drivers/iommu/isolation/device_group.c'
sys.path.insert(0, os.path.join(TOP, 'scripts'))
import check  # noqa: E402

# rule: (text in device_group.c, the same code without the rule)
MUTATIONS = [
    ('alias walk: join the group of a DMA alias',
     '\tif (pci_for_each_dma_alias(to_pci_dev(dev), iso_alias_step, &walk))'
     '\n\t\treturn walk.group;\n',
     '\tif (pci_for_each_dma_alias(to_pci_dev(dev), iso_alias_step, &walk))'
     '\n\t\tiommu_group_put(walk.group);\n'),
    ('DMA aliases among the devices of one bus',
     '\tif (pci_devs_are_dma_aliases(da, db))\n\t\treturn true;\n', ''),
    ('a bridge that does not isolate shares its subtree\'s group',
     '\t\t\ttop = bus->self;\n', '\t\t\t;\n'),
    ('functions of one device without ACS reach each other',
     '\treturn (v->ari || PCI_SLOT(a) == PCI_SLOT(b)) &&',
     '\treturn false &&'),
    ('one function without ACS is enough (asymmetric ACS)',
     '(iso_view_no_acs(v, a) || iso_view_no_acs(v, b))',
     '(iso_view_no_acs(v, a) && iso_view_no_acs(v, b))'),
    ('ARI: all functions on the bus are one device',
     '(v->ari || PCI_SLOT(a) == PCI_SLOT(b))',
     '(PCI_SLOT(a) == PCI_SLOT(b))'),
    ('a switch that leaks joins all its ports (peers on its bus)',
     '\tif (v->leaks)\n\t\treturn true;\n', ''),
    ('a port of a leaking switch does not isolate (path walk)',
     '\t       !(iso_is_dsp(bridge) && iso_switch_bus_leaks(bridge->bus));',
     '\t       true;'),
    ('an endpoint integrated in a switch makes it leak',
     '\tif (!iso_is_dsp(pdev))\n\t\treturn true;\n',
     '\tif (!iso_is_dsp(pdev))\n\t\treturn false;\n'),
    ('a switch once merged keeps leaking (sticky)',
     '\treturn !acs || iso_in_merged_group(pdev);', '\treturn !acs;'),
    ('groups reached besides the one joined are regrouped',
     '\t\t\tiso_note_reached_group(v->found[i]);',
     '\t\t\tiommu_group_put(v->found[i]);'),
    ('a VF shares the group of a PF without ACS',
     '\tif (pdev->is_virtfn && !iso_sriov_isolates(pci_physfn(pdev))) {',
     '\tif (0) {'),
]


def sh(cmd, **kw):
    return subprocess.run(['bash', '-c', '. "%s/scripts/lib.sh"; %s' %
                           (TOP, cmd)], **kw)


def prepare():
    """The mutant tree at the assembled isolation tree's commit."""
    subprocess.run([os.path.join(TOP, 'scripts', 'assemble.sh'),
                    'isolation'], check=True)
    iso = os.path.join(TREES, 'isolation')
    head = subprocess.run(['git', '-C', iso, 'rev-parse', 'HEAD'],
                          check=True, stdout=subprocess.PIPE,
                          universal_newlines=True).stdout.strip()
    # a stale worktree (the isolation tree was assembled anew) is redone
    if os.path.isdir(MUTANT) and subprocess.run(
            ['git', '-C', MUTANT, 'checkout', '-q', '-f', '--detach', head],
            stderr=subprocess.DEVNULL).returncode:
        shutil.rmtree(MUTANT)
    if not os.path.isdir(MUTANT):
        subprocess.run(['git', '-C', iso, 'worktree', 'prune'], check=True)
        subprocess.run(['git', '-C', iso, 'worktree', 'add', '-q',
                        '--detach', MUTANT, head], check=True)
    os.makedirs(OUT, exist_ok=True)
    shutil.copy(os.path.join(REF_OUT, '.config'), os.path.join(OUT, '.config'))
    with open(os.path.join(MUTANT, FILE)) as f:
        return f.read()


def build(log):
    """Build the mutant kernel; its image, or None."""
    with open(log, 'w') as f:
        p = sh('in_src mutant make -C "$SRC" O="%s" ARCH=x86 '
               'CC="ccache gcc" HOSTCC="ccache gcc" -j"$(nproc)" -s '
               'olddefconfig all' % OUT, stdout=f, stderr=subprocess.STDOUT)
    img = os.path.join(OUT, 'arch', 'x86', 'boot', 'bzImage')
    return img if p.returncode == 0 else None


def table(img, log):
    """Names of the topologies that fail on kernel @img (None: no run):
    the grouping suites' two boots, plain and with the kernel parameter
    of the boot-param topologies."""
    failed = []
    for suite in ('grouping', 'grouping-acsredir'):
        _, guest, _, params = check.SUITES[suite][:4]
        cmd = ['python3', os.path.join(TOP, 'scripts', 'vm.py'),
               '--machine', 'vtd', '--variant', 'isolation', '--kernel', img,
               '--quiet', '--log', '%s.%s' % (log, suite), '--exec', guest]
        if params:
            cmd += ['--append', params]
        cmd += check.pcisim_files()
        subprocess.run(cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        with open('%s.%s' % (log, suite), errors='replace') as f:
            console = f.read()
        if 'grouping: isolation' not in console:
            return None
        # the kernel's groups against the table; lsisolation's agreement
        # with the kernel (lsisolation.TOPO) is not about the rule
        failed += [n for n in
                   re.findall(r'^not ok \d+ ([^-\s]\S*)', console, re.M)
                   if not n.startswith('lsisolation.')]
    return failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--only', default='', help='rules whose name has this')
    args = ap.parse_args()
    orig = prepare()
    logs = os.path.join(BUILD, 'logs', 'rule-coverage')
    os.makedirs(logs, exist_ok=True)
    path = os.path.join(MUTANT, FILE)
    survived = broken = 0
    try:
        for i, (rule, old, new) in enumerate(MUTATIONS):
            if args.only not in rule:
                continue
            if orig.count(old) != 1:
                print('rule: %s: BROKEN (its code is not in %s once)' %
                      (rule, FILE), flush=True)
                broken += 1
                continue
            with open(path, 'w') as f:
                f.write(orig.replace(old, new))
            img = build(os.path.join(logs, 'build-%d.log' % i))
            failed = table(img, os.path.join(logs, 'run-%d.log' % i)) \
                if img else None
            if failed is None:
                print('rule: %s: BROKEN (no build or no run, logs in %s)' %
                      (rule, logs), flush=True)
                broken += 1
            elif failed:
                print('rule: %s: caught by %d: %s' %
                      (rule, len(failed), ' '.join(failed)), flush=True)
            else:
                print('rule: %s: SURVIVED (no topology fails without it)' %
                      rule, flush=True)
                survived += 1
    finally:
        with open(path, 'w') as f:
            f.write(orig)
    n = len([m for m in MUTATIONS if args.only in m[0]])
    print('rule-coverage: %d rules, %d caught, %d survived, %d broken' %
          (n, n - survived - broken, survived, broken))
    return 1 if survived or broken else 0


if __name__ == '__main__':
    sys.exit(main())
