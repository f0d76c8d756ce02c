#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Run the test suites on the harness machines and count the results.

Each run boots one kernel on one machine (scripts/vm.py) and runs a suite in
it; the KTAP the suite prints on the console is counted, and so are the KUnit
results the kernel printed while booting. A hang, a crash or a non-zero exit
with no failing test line counts as a failure. Console logs stay in
build/logs/. The last line is "N passed, N failed, N skipped"; XFAIL results
(stock 6.12 where it is known to differ from the design) are listed before
it and not counted as passes.
"""

import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get('BUILD', os.path.join(TOP, 'build'))
LOGS = os.environ.get('LOGS') or os.path.join(BUILD, 'logs')
sys.path.insert(0, os.path.join(TOP, 'scripts'))
import vm  # noqa: E402

SELFTESTS = ['groups', 'domain_type', 'sysfs_mode', 'vfio_type1', 'vfio_cdev',
             'viability', 'ownership', 'hotplug']

# suite: (machines it runs on, guest command, files to add, kernel params
#         [, kernel flavour: the suite runs only for that flavour
#         [, the variants that have it: default the isolation variant]])
SUITES = {
    'isolation': (['vtd', 'amd', 'virtio', 'smmuv3-dt', 'smmuv3-acpi',
                   'pseries'],
                  'sh /harness/run-selftests.sh', [], ''),
    # the default domain type follows the command line
    'passthrough': (['vtd', 'smmuv3-acpi'],
                    'ISOLATION_TESTS=domain_type sh /harness/run-selftests.sh',
                    [], 'iommu.passthrough=1'),
    'strict': (['virtio'],
               'ISOLATION_TESTS=domain_type sh /harness/run-selftests.sh',
               [], 'iommu.strict=1'),
    'iommufd': (['none', 'virtio'], 'sh /harness/peer/run-iommufd.sh',
                ['peer'], ''),
    # the series applied with CONFIG_IOMMU_ISOLATION_GROUPS=n: must give
    # the results of stock
    'option-off': (['vtd'], 'sh /harness/run-selftests.sh', [], '', 'off'),
    # VFIO users that are not ours: Debian's QEMU assigning an edu to a
    # nested guest, Debian's dpdk-testpmd on two e1000e (REALUSERS_ARGS)
    'realusers': (['vtd'], 'sh /harness/realusers.sh', ['realusers'], ''),
    # the core's fault-injection sweep (KUnit isolation_faults) run again
    # with failslab armed for GFP_KERNEL, then kmemleak on a debug kernel;
    # the core's own KUnit suite exists on the isolation variant only
    'faults': (['vtd'], 'sh /harness/fail-nth.sh', ['fail-nth'], ''),
    # hot-add and hot-remove cycles into a free slot, a shared group and a
    # VFIO-held group (hotplug_cycles); how many: cycles_for()
    'hotplug-cycles': (['vtd', 'smmuv3-acpi'],
                       'ISOLATION_TESTS=hotplug_cycles '
                       'sh /harness/run-selftests.sh', [], ''),
    # the distro flavour (configs/distro.config): VFIO, iommufd and the
    # test drivers as modules the guest loads, Debian's IOMMU settings, no
    # KUnit and no iommufd mock; the selftests with native hot-plug, again
    # with QEMU's default ACPI hot-plug (acpiphp), and the real VFIO users
    'distro': (['vtd'], 'ISOLATION_HOTPLUG=pciehp sh /harness/run-selftests.sh',
               [], '', 'distro', ['stock', 'isolation']),
    'distro-acpi-hotplug': (['vtd'],
                            "ISOLATION_HOTPLUG=acpiphp ISOLATION_TESTS='hotplug "
                            "hotplug_cycles' HOTPLUG_CYCLES=%d "
                            'sh /harness/run-selftests.sh', ['acpi-hotplug'],
                            '', 'distro', ['stock', 'isolation']),
    'distro-realusers': (['vtd'], 'sh /harness/realusers.sh', ['realusers'],
                         '', 'distro', ['stock', 'isolation']),
    # SR-IOV on QEMU's nvme (SRIOV_ARGS): VFs enabled at run time below
    # pci-pf-stub and vfio-pci, their groups against the PCI rules, VFIO
    # viability, VFs added to a held group, disable, 20 cycles
    'sriov': (['vtd', 'smmuv3-acpi'],
              'ISOLATION_TESTS=sriov ISOLATION_TIMEOUT=600 '
              'sh /harness/run-selftests.sh', ['sriov'],
              'vfio_pci.enable_sriov=1'),
    # the grouping conformance table: software PCI topologies built by
    # pcisim.ko behind a mock IOMMU whose device_group is
    # pci_device_group(), each compared with its expected partition
    # (tools/testing/selftests/isolation/pcisim/topologies/README)
    # and pcisim's own smoke test (its commands, hot-add, SR-IOV, unload)
    'grouping': (['vtd'], 'sh /harness/pcisim/grouping.sh; g=$?; '
                 'sh /harness/pcisim/smoke.sh && exit $g', ['pcisim'], ''),
    # the topologies that need a kernel parameter, in a boot of their own
    'grouping-acsredir': (['vtd'],
                          "BOOT_PARAMS='%s' GROUPING_BOOT_ONLY=1 "
                          'sh /harness/pcisim/grouping.sh' %
                          'pci=disable_acs_redir=pci:1b36:ff22', ['pcisim'],
                          'pci=disable_acs_redir=pci:1b36:ff22'),
}

# SR-IOV: QEMU's nvme PF (a subsystem each, flexible resources) behind rp6
# (single function) and rp5 (multifunction=on), both free in a boot of
# their own. "--qemu-arg=-device": a bare -device would be vm.py's option.
SRIOV_NVME = ('nvme,id=nvme-pf%d,serial=sriov%d,subsys=ss%d,bus=rp%d,%s'
              'sriov_max_vfs=4,sriov_vq_flexible=8,sriov_vi_flexible=4,'
              'max_ioqpairs=10,msix_qsize=8')
SRIOV_ARGS = []
for _rp, _mf in ((6, ''), (5, 'multifunction=on,')):
    SRIOV_ARGS += ['--qemu-arg=-device', '--qemu-arg=nvme-subsys,id=ss%d' % _rp,
                   '--qemu-arg=-device',
                   '--qemu-arg=' + SRIOV_NVME % (_rp, _rp, _rp, _rp, _mf)]

# the runner and data of the grouping suites, shipped to /harness/pcisim/
PCISIM_DIR = os.path.join(TOP, 'tools', 'testing', 'selftests', 'isolation',
                          'pcisim')


def pcisim_files():
    """vm.py --file arguments for grouping.sh and its topologies."""
    args = []
    for fn in ('grouping.sh', 'smoke.sh'):
        args += ['--file', '%s:/harness/pcisim/%s' %
                 (os.path.join(PCISIM_DIR, fn), fn)]
    topo = os.path.join(PCISIM_DIR, 'topologies')
    for fn in sorted(os.listdir(topo)):
        if fn.endswith('.topo') or fn == 'README':
            args += ['--file', '%s:/harness/pcisim/topologies/%s' %
                     (os.path.join(topo, fn), fn)]
    return args

# hotplug_cycles: cycles per case in make check and on the debug kernel
# (make check-debug), where kmemleak checks them; HOTPLUG_CYCLES or
# --hotplug-cycles overrides both (HOTPLUG_CYCLES=100 make check: the long
# run). Measured under TCG, the three cases together: 5.6-5.7 s a cycle on
# vtd and smmuv3-acpi, so 20 cycles take 2 min a machine and 100 take 10.
# The guest's time limit grows with the count.
HOTPLUG_CYCLES = 20
HOTPLUG_CYCLES_DEBUG = 100
HOTPLUG_CYCLE_BUDGET_S = 20

# vm.py options of the realusers suite: the overlay of scripts/
# build-realusers.sh, memory for the nested guest, and the SSE4.2 that
# Debian's DPDK is built for (the default qemu64 CPU lacks it)
REALUSERS_ARGS = ['--memory', '3G', '--initrd-overlay',
                  os.path.join(BUILD, 'realusers', 'overlay.cpio.gz'),
                  '--qemu-arg=-cpu',
                  '--qemu-arg=qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt',
                  '--file', os.path.join(TOP, 'scripts', 'guest',
                                         'realusers.sh') +
                  ':/harness/realusers.sh']

# Tests that fail on the debug kernel of both variants for a reason outside
# the core, measured on stock too; counted as XFAIL there, with the reason
DEBUG_XFAIL = {
    ('iommufd', 'basic_fail_nth.map_two_domains'):
        'upstream iommufd_fail_nth gives up after 400 injection points; '
        'KASAN, kmemleak and lockdep make that path allocate more (stock '
        '6.12 fails it the same way on this kernel)',
}

TS = r'(?:\[\s*\d+\.\d+\]\s)?'
# Kernel messages that fail a run whatever the tests said
SPLATS = re.compile(r'(WARNING: CPU|BUG: |Oops|KASAN:|UBSAN:|possible circular '
                    r'locking|possible recursive locking|inconsistent lock state|'
                    r'sleeping function called from invalid context|'
                    r'unreferenced object|Kernel panic)')
# Splats raised in base-kernel code that has nothing to do with IOMMU
# groups. Each is recognised by all of its patterns within the report (the
# 100 console lines after the splat line) and only if the report, up to its
# lock chain's end, names no IOMMU, VFIO or DMA code; it is listed with its
# reason instead of failing the run.
KNOWN_SPLATS = [
    ('pciehp (6.12): lockdep sees pci_rescan_remove_lock -> ctrl->reset_lock '
     'of a nested hot-plug port (switch below a hot-plug root port) as a '
     'cycle; no IOMMU lock is involved',
     [r'possible circular locking', r'\(&ctrl->reset_lock\)',
      r'\(pci_rescan_remove_lock\)', r'pciehp_configure_device']),
]
NOT_KNOWN = re.compile(r'iommu|iso_|isolation|vfio|dma_')


def known_splat(console, i):
    """The reason if console[i] starts a known base-kernel splat."""
    report = '\n'.join(console[i:i + 100])
    end = report.find('---[ end trace')
    if end < 0:
        end = report.find('\n[', report.find('DEADLOCK'))
    for reason, patterns in KNOWN_SPLATS:
        if all(re.search(p, report) for p in patterns) and \
                not NOT_KNOWN.search(report[:end if end > 0 else None]):
            return reason
    return None
# Known emulator flake (see shared notes): TCG and kernel text patching
# collide early in boot ("Oops: int3"; once seen as a silent stop). A
# guest that dies before its first test is booted once more, and
# the first log is kept and named; a kernel that really cannot boot
# fails the second time.
TCG_FLAKE = re.compile(r'Oops:|Kernel panic|BUG:|general protection')
RESULT = re.compile(r'^' + TS + r'(\s*)(not ok|ok) (\d+)\s*-?\s*(.*?)\s*$')
DIRECTIVE = re.compile(r'#\s*(SKIP|XFAIL|TODO|XPASS)\b\s*(.*)', re.I)


def parse_ktap(lines):
    """Count top-level test results of every KTAP document in lines.

    Subtest lines (indented) are counted when their parent is a plain
    program (kselftest_harness prints flat results); KUnit suites nest tests
    under a suite line, and there the leaves are counted.
    """
    res = {'pass': 0, 'fail': 0, 'skip': 0, 'xfail': 0, 'failed': []}
    for line in lines:
        m = RESULT.match(line)
        if not m:
            continue
        indent, verdict, _, rest = m.groups()
        name, _, directive = rest.partition('#')
        d = DIRECTIVE.match('#' + directive) if directive else None
        kind = d.group(1).upper() if d else ''
        name = name.strip()
        if kind == 'SKIP':
            res['skip'] += 1
        elif kind == 'XFAIL':
            res['xfail'] += 1
        elif verdict == 'ok' and kind != 'XPASS':
            res['pass'] += 1
        else:
            res['fail'] += 1
            res['failed'].append(name)
    return res


def split_console(console):
    """The boot (kernel, KUnit) and userspace parts of a console log."""
    for i, line in enumerate(console):
        if 'Run /init' in line:
            return console[:i], console[i:]
    return console, []


def kunit_cases(boot):
    """KUnit test-case results (one indent level below their suite)."""
    out = []
    for line in boot:
        line = re.sub(r'^\[\s*\d+\.\d+\]\s', '', line)
        if re.match(r'    (not ok|ok) \d+ ', line):
            out.append(line)
    return out


def cycles_for(args, flavour):
    """How many cycles hotplug_cycles runs for this kernel flavour."""
    if args.hotplug_cycles:
        return args.hotplug_cycles
    return HOTPLUG_CYCLES_DEBUG if flavour == 'debug' else HOTPLUG_CYCLES


def run(args, suite, machine, variant, flavour):
    arch = vm.MACHINES[machine][0]
    kernel = os.path.join(BUILD, 'out', '%s-%s%s' % (
        variant, arch, '-' + flavour if flavour else ''),
        vm.MACHINES[machine][1])
    tag = '%s/%s%s/%s' % (machine, variant, '-' + flavour if flavour else '',
                          suite)
    if not os.path.exists(kernel):
        return None
    os.makedirs(LOGS, exist_ok=True)
    log = os.path.join(LOGS, tag.replace('/', '-') + '.log')
    _, cmd, extra, params = SUITES[suite][:4]
    if args.tests and suite == 'isolation':
        cmd = "ISOLATION_TESTS='%s' %s" % (args.tests, cmd)
    timeout = args.timeout
    if suite == 'distro-acpi-hotplug':
        n = cycles_for(args, flavour)
        cmd = 'ISOLATION_TIMEOUT=%d %s' % (120 + n * HOTPLUG_CYCLE_BUDGET_S,
                                           cmd % n)
        timeout = max(timeout, 240 + n * HOTPLUG_CYCLE_BUDGET_S * 2)
    if suite == 'hotplug-cycles':
        n = cycles_for(args, flavour)
        limit = 120 + n * HOTPLUG_CYCLE_BUDGET_S * (3 if flavour else 1)
        cmd = 'HOTPLUG_CYCLES=%d ISOLATION_TIMEOUT=%d %s' % (n, limit, cmd)
        timeout = max(timeout, limit + 120)
    vmargs = [sys.executable, os.path.join(TOP, 'scripts', 'vm.py'),
              '--machine', machine, '--variant', variant, '--quiet',
              '--log', log, '--timeout', str(timeout), '--exec', cmd]
    if flavour:
        vmargs += ['--flavour', flavour]
    # lsisolation --diff against the other variant's snapshot of this
    # machine (make lsisolation-diff saves them)
    if suite in ('isolation', 'option-off', 'distro'):
        other = 'stock' if variant == 'isolation' and flavour != 'off' \
            else 'isolation'
        snap = os.path.join(BUILD, 'lsisolation', '%s-%s.json' % (machine,
                                                                  other))
        if os.path.exists(snap):
            vmargs += ['--file', snap + ':/harness/lsisolation-saved.json']
    if params:
        vmargs += ['--append', params]
    if 'peer' in extra:
        peer = os.path.join(BUILD, 'peer', arch)
        for fn in sorted(os.listdir(peer)):
            vmargs += ['--file', '%s:/harness/peer/%s' %
                       (os.path.join(peer, fn), fn)]
    if 'fail-nth' in extra:
        if variant != 'isolation':
            return None
        vmargs += ['--file', os.path.join(TOP, 'scripts', 'guest',
                                          'fail-nth.sh') +
                   ':/harness/fail-nth.sh']
    if 'pcisim' in extra:
        # pcisim gives its devices a fwspec from a bus notifier, without
        # iommu_probe_device_lock (not exported): lockdep warns on debug
        # kernels of both variants, so the table runs on plain kernels
        if flavour:
            return None
        vmargs += pcisim_files()
    if 'sriov' in extra:
        vmargs += SRIOV_ARGS
    if 'acpi-hotplug' in extra:
        vmargs += ['--acpi-hotplug']
    if 'realusers' in extra:
        if flavour == 'debug':
            return None         # plain kernels only (TCG in TCG on KASAN)
        # the nested guest boots the kernel under test too
        vmargs += REALUSERS_ARGS + ['--file', kernel + ':/realusers/bzImage']
    for attempt in (1, 2):
        t0 = time.time()
        p = subprocess.run(vmargs, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
        secs = time.time() - t0
        with open(log, errors='replace') as f:
            console = f.read().splitlines()
        early = []
        for line in console:
            if 'Run /init' in line:
                break
            early.append(line)
        started = any('TAP version' in x for x in console[len(early):])
        if attempt == 1 and not started and p.returncode not in (0, 124):
            why = [x.strip() for x in console if TCG_FLAKE.search(x)]
            print('%s: guest died before any test ran (%s); TCG boot flake'
                  ' suspected, booting once more; log kept as %s.flake' %
                  (tag, why[0] if why else 'no oops line, exit %d' %
                   p.returncode, log))
            os.replace(log, log + '.flake')
            continue
        break
    # KUnit ran in the kernel before the suite: count it separately
    boot, user = split_console(console[1:])
    res = parse_ktap(user)
    kres = parse_ktap(kunit_cases(boot))
    res['known'] = []
    res['debug_xfail'] = []
    if flavour == 'debug':
        for name in list(res['failed']):
            why = DEBUG_XFAIL.get((suite, name))
            if why:
                res['failed'].remove(name)
                res['fail'] -= 1
                res['xfail'] += 1
                res['debug_xfail'].append('%s: %s' % (name, why))
    for i, line in enumerate(console):
        if i and SPLATS.search(line):
            why = known_splat(console, i)
            if why:
                res['known'].append(why)
                continue
            res['fail'] += 1
            res['failed'].append('kernel: ' + line.strip())
    # a non-zero exit is explained by a debug-kernel XFAIL, not by nothing
    if p.returncode != 0 and res['fail'] == 0 and not res['debug_xfail']:
        res['fail'] += 1
        res['failed'].append('guest: ' + (p.stderr.strip().splitlines() or
                                          ['exit %d' % p.returncode])[-1])
        # CI shows only this output: keep the end of the console with it
        res['tail'] = console[-30:]
    res['secs'] = secs
    # "# time NAME: N s" lines of the suite, printed with its result
    res['times'] = [x[len('# time '):] for x in user if x.startswith('# time ')]
    # summary lines of hotplug_cycles and of the fault sweep, printed too
    res['reports'] = [x[2:] for x in user
                      if x.startswith(('# hotplug-cycles: ', '# fail_nth: '))]
    # and the grouping table's "grouping: VARIANT P of T ..." line
    res['reports'] += [x for x in user if x.startswith('grouping: ')]
    res['kunit'] = kres
    res['log'] = log
    res['tag'] = tag
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--variants', default='stock,isolation')
    ap.add_argument('--machines', default='')
    ap.add_argument('--suites', default=','.join(SUITES))
    ap.add_argument('--flavour', default='')
    ap.add_argument('--quick', action='store_true',
                    help='development subset: the vtd machine only')
    ap.add_argument('--tests', default='',
                    help='only these isolation selftests (space separated)')
    ap.add_argument('--timeout', type=int, default=900)
    ap.add_argument('--hotplug-cycles', type=int,
                    default=int(os.environ.get('HOTPLUG_CYCLES') or 0),
                    help='cycles of each hotplug_cycles case (default %d, '
                    '%d on the debug kernel; env HOTPLUG_CYCLES)' %
                    (HOTPLUG_CYCLES, HOTPLUG_CYCLES_DEBUG))
    ap.add_argument('-j', '--jobs', type=int, default=3,
                    help='guests run side by side (default 3)')
    args = ap.parse_args()
    if args.quick and not args.machines:
        args.machines = 'vtd'

    t0 = time.time()
    jobs = []
    for variant in args.variants.split(','):
        for suite in args.suites.split(','):
            machines = SUITES[suite][0]
            if args.machines:
                machines = [m for m in machines
                            if m in args.machines.split(',')]
            flavour = args.flavour
            if len(SUITES[suite]) > 4:
                has = SUITES[suite][5] if len(SUITES[suite]) > 5 \
                    else ['isolation']
                if variant not in has or args.flavour:
                    continue
                flavour = SUITES[suite][4]
            jobs += [(suite, machine, variant, flavour)
                     for machine in machines]

    total = {'pass': 0, 'fail': 0, 'skip': 0, 'xfail': 0}
    kunit_seen = set()
    # Guests spend much of their time waiting (DMA timers, hot-plug
    # delays, rate-limited fault reports): run a few side by side and
    # report in a fixed order.
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run, args, suite, machine, variant, flavour)
                   for suite, machine, variant, flavour in jobs]
        for (suite, machine, variant, flavour), fut in zip(jobs, futures):
            r = fut.result()
            if r is None:
                continue
            arch = vm.MACHINES[machine][0]
            print('%-34s %3d passed, %d failed, %d skipped, %d xfail (%.0fs)'
                  % (r['tag'], r['pass'], r['fail'], r['skip'], r['xfail'],
                     r['secs']), flush=True)
            for n in r['times']:
                print('    time %s' % n)
            for n in r['reports']:
                print('    %s' % n)
            for n in r['failed']:
                print('    FAIL %s  (log: %s)' % (n, r['log']))
            for n in r.get('tail', []):
                print('    | %s' % n)
            for n in r['debug_xfail']:
                print('    xfail on the debug kernel: %s' % n)
            for n in sorted(set(r['known'])):
                print('    known base-kernel splat, not counted: %s' % n)
            for k in ('pass', 'fail', 'skip', 'xfail'):
                total[k] += r[k]
            key = (variant, flavour, arch)
            k = r['kunit']
            if key not in kunit_seen and k['pass'] + k['fail'] + k['skip']:
                kunit_seen.add(key)
                print('%-34s %3d passed, %d failed, %d skipped' % (
                    '%s%s/%s kunit (boot)' % (
                        variant, '-' + flavour if flavour else '', arch),
                    k['pass'], k['fail'], k['skip']), flush=True)
                for n in k['failed']:
                    print('    FAIL kunit %s' % n)
                for x in ('pass', 'fail', 'skip'):
                    total[x] += k[x]
    ran = total['pass'] + total['fail'] + total['skip'] + total['xfail']
    if not ran:
        print('check: no kernel was built, nothing ran', file=sys.stderr)
        total['fail'] += 1
    print('check: %d runs in %.0fs' % (len(jobs), time.time() - t0))
    if total['xfail']:
        print('%d xfail (stock 6.12 where it differs from the design; '
              'not counted as passed)' % total['xfail'])
    print('%d passed, %d failed, %d skipped' % (total['pass'], total['fail'],
                                                total['skip']))
    sys.exit(1 if total['fail'] else 0)


if __name__ == '__main__':
    main()
