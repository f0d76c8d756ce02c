#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Print what setting up the IOMMU groups of the reference topology costs
at boot, for each built variant, from the kernel's own timestamps.

The IOMMU driver's registration probes every device into its group and
then gives each new group its default domain, in one burst: the cost is
the time from the first "Adding to iommu group" line to the next kernel
message after the burst. Several boots per variant (TCG timing is noisy);
the median and the spread are printed. A first side-by-side number, not a
benchmark.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get('BUILD', os.path.join(TOP, 'build'))
sys.path.insert(0, os.path.join(TOP, 'scripts'))
import vm  # noqa: E402

STAMP = re.compile(r'^\[\s*(\d+\.\d+)\]\s(.*)$')


def burst(console):
    """(milliseconds, devices) of the first group-setup burst, or None."""
    start = None
    count = 0
    for line in console:
        if 'Run /init' in line:
            break
        m = STAMP.match(line)
        if not m:
            continue
        t, text = float(m.group(1)), m.group(2)
        if 'Adding to iommu group' in text:
            if start is None:
                start = t
            count += 1
        elif start is not None:
            return (t - start) * 1000.0, count
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--machine', default='vtd')
    ap.add_argument('--variants', default='stock,isolation')
    ap.add_argument('--boots', type=int, default=3)
    args = ap.parse_args()
    arch = vm.MACHINES[args.machine][0]
    status = 0
    for variant in args.variants.split(','):
        kernel = os.path.join(BUILD, 'out', '%s-%s' % (variant, arch),
                              vm.MACHINES[args.machine][1])
        if not os.path.exists(kernel):
            print('boot-cost: %s/%s not built' % (variant, arch))
            continue
        costs, devices = [], 0
        for _ in range(args.boots):
            with tempfile.NamedTemporaryFile(suffix='.log') as log:
                subprocess.run([sys.executable,
                                os.path.join(TOP, 'scripts', 'vm.py'),
                                '--machine', args.machine, '--variant',
                                variant, '--quiet', '--log', log.name,
                                '--timeout', '300', '--exec', 'true'],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
                with open(log.name, errors='replace') as f:
                    r = burst(f.read().splitlines())
            if r:
                costs.append(r[0])
                devices = r[1]
        if not costs:
            print('boot-cost: %s on %s: no group setup seen' %
                  (variant, args.machine))
            status = 1
            continue
        print('group setup at boot, %s on %s (%d devices, %d boots): '
              'median %.1f ms, min %.1f, max %.1f' %
              (variant, args.machine, devices, len(costs),
               statistics.median(costs), min(costs), max(costs)))
    sys.exit(status)


if __name__ == '__main__':
    main()
