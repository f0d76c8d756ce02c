#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Print what setting up the IOMMU groups of the reference topology costs
at boot, for each built variant, from the kernel's own timestamps.

The IOMMU driver's registration probes every device into its group and
then gives each new group its default domain: the cost is the time from
the first "Adding to iommu group" line to the next kernel message after
the last one (on vtd all devices join at the driver's registration). Several boots per variant (TCG timing is noisy);
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
# A PCI device of the topology joining its group (not KUnit's mock devices)
PCI_ADD = re.compile(r' [0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]: '
                     r'Adding to iommu group')


def burst(console):
    """(milliseconds, devices) of the boot's group setup, or None.

    From the first "Adding to iommu group" line to the first kernel line
    after the last one, before userspace starts: other CPUs may print in
    between, and the default domains are set up after the last device
    joined its group.
    """
    stamps = []
    for line in console:
        if 'Run /init' in line:
            break
        m = STAMP.match(line)
        if m:
            stamps.append((float(m.group(1)),
                           bool(PCI_ADD.search(m.group(2)))))
    adds = [i for i, (_, add) in enumerate(stamps) if add]
    if not adds or adds[-1] + 1 >= len(stamps):
        return None
    start = stamps[adds[0]][0]
    end = stamps[adds[-1] + 1][0]
    return (end - start) * 1000.0, len(adds)


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
