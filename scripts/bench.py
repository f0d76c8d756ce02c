#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Benchmark the IOMMU group layer, stock against isolation, side by side.

Boots guests of both variants alternately (scripts/vm.py, --rounds boots
each), each running scripts/guest/bench.sh: pcisim.ko builds software PCI
topologies behind its mock IOMMU and the kernel times every step with
ktime (debugfs pcisim/stats and pcisim/bench). Prints the median of every
case per variant:

    bench: CASE stock=X isolation=Y ratio=Y/X

X and Y in ns per op (the unit is in the case name) or bytes; growth
lines (per-device cost at the largest size over the smallest) follow,
then the last line "bench: K cases, isolation <= stock in M; worst ratio
R". --profile adds one boot per variant with profile=2 and prints where
the largest scan's time goes. Exits non-zero if a guest failed or a case
has no number; never because of a ratio.
"""

import argparse
import base64
import bisect
import collections
import concurrent.futures
import gzip
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get('BUILD', os.path.join(TOP, 'build'))
LOGS = os.environ.get('LOGS') or os.path.join(BUILD, 'logs')
sys.path.insert(0, os.path.join(TOP, 'scripts'))
import vm  # noqa: E402

# Config space of the model (ids of QEMU's and pcisim's own devices)
RP = 'rp 1b36:000c'
USP = 'usp 1b36:ff01'
DSP = 'dsp 1b36:ff02'
EP = 'ep 1b36:ff10'
PF = 'ep 1b36:ff14'
PCIE_PCI = 'pcie-pci 1b36:000e'
PCI = 'pci 1b36:ff12'
PORT_ACS = 'acs=sv,tb,rr,cr,uf'
FN_ACS = 'acs=rr,cr'
HZ = 250                # CONFIG_HZ of configs/common.config

SHAPES = ('wide', 'sriov', 'deep')
KINDS = ('enum', 'vfs', 'probe', 'mem')
# rounds: of each attach/claim case, long enough (tens of ms) that a
# timer tick or a TCG translation flush does not weigh
FULL = dict(sizes=(100, 1000, 10000), hot=1000, vfs=256, probe=512,
            mem=10000, rounds=5000, reps=10, timeout=3600)
QUICK = dict(sizes=(100, 200), hot=200, vfs=32, probe=64, mem=500,
             rounds=20, reps=2, timeout=300)


def root_port(i, name, extra=''):
    """Root port number @i on the root bus: 8 functions a slot (each with
    the header's multifunction bit, as hardware sets it in all)."""
    slot, fn = divmod(i, 8)
    return 'fn %s root %02x.%x %s mf ari %s%s' % (name, slot, fn, RP,
                                                 PORT_ACS, extra)


def spread(total, parts):
    """@total split into @parts counts that differ by at most one."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def ari_fns(parent, prefix, n, acs=True):
    """An ARI endpoint of @n functions below port @parent."""
    opt = ' ' + FN_ACS if acs else ''
    return ['fn %s_%02x %s %02x %s mf ari%s' % (prefix, f, parent, f, EP, opt)
            for f in range(n)]


def with_hot(lines, ports):
    """An empty root port "hp" with endpoint "hot", for hot-add cases."""
    return lines + [root_port(ports, 'hp'), 'fn hot hp 00.0 %s' % EP]


def wide(n, acs=True, hot=False):
    """Root ports, each with a 16-port switch, each port an ARI endpoint
    (about 1,100 functions a root port: 18 bus numbers)."""
    trees = -(-n // 1100)
    leaf = spread(n - 18 * trees - (2 if hot else 0), 16 * trees)
    port = ' ' + PORT_ACS if acs else ''
    out = []
    for t in range(trees):
        r = 'r%d' % t
        line = root_port(t, r)
        out.append(line if acs else line.replace(' ' + PORT_ACS, ''))
        out.append('fn u%d %s 00.0 %s%s' % (t, r, USP, port))
        for k in range(16):
            d = 'd%d_%d' % (t, k)
            out.append('fn %s u%d %02x.0 %s ari%s' % (d, t, k, DSP, port))
            out += ari_fns(d, 'e%d_%d' % (t, k), leaf[16 * t + k], acs)
    return with_hot(out, trees) if hot else out


def sriov(n, hot=False):
    """Root ports, each with an SR-IOV PF whose VFs are enabled (up to 248
    on the PF's bus)."""
    trees = -(-n // 250)
    vfs = spread(n - 2 * trees - (2 if hot else 0), trees)
    out, enable = [], []
    for t in range(trees):
        out.append(root_port(t, 'r%d' % t))
        out.append('fn p%d r%d 00.0 %s ari %s sriov=%d' %
                   (t, t, PF, FN_ACS, vfs[t]))
        enable.append('sriov p%d %d' % (t, vfs[t]))
    if hot:
        out = with_hot(out, trees)
    return out + ['scan'] + enable


def deep(n, hot=False):
    """Root ports, each with four levels of two-port switches (46 bus
    numbers), ARI endpoints at the 16 leaves."""
    trees = -(-n // 2000)
    leaf = iter(spread(n - 46 * trees - (2 if hot else 0), 16 * trees))
    out = []

    def switch(port, path, level):
        u = 'u' + path
        out.append('fn %s %s 00.0 %s %s' % (u, port, USP, PORT_ACS))
        for k in range(2):
            d = 'd%s%d' % (path, k)
            out.append('fn %s %s %02x.0 %s ari %s' % (d, u, k, DSP,
                                                       PORT_ACS))
            if level < 4:
                switch(d, '%s%d' % (path, k), level + 1)
            else:
                out.extend(ari_fns(d, 'e%s%d' % (path, k), next(leaf)))

    for t in range(trees):
        out.append(root_port(t, 'r%d' % t))
        switch('r%d' % t, '%d_' % t, 1)
    return with_hot(out, trees) if hot else out


def probe(size, n):
    """About @n devices in groups of @size, member m0 in the first: ACS
    root ports with an ARI endpoint with ACS (1), with an 8-function
    endpoint without ACS (8), with a PCIe-to-PCI bridge and 63 conventional
    functions (64; slot 08 of the first bridge, "mbr", is free)."""
    out = []
    if size == 1:
        trees = -(-n // 128)
        for t, fns in enumerate(spread(n - trees - 2, trees)):
            out.append(root_port(t, 'r%d' % t))
            out += ari_fns('r%d' % t, 'e%d' % t, fns)
        out[1] = out[1].replace('fn e0_00 ', 'fn m0 ', 1)
        out += [root_port(trees, 'hp'), 'fn hpe hp 00.0 %s' % EP]
    elif size == 8:
        for t in range(-(-n // 9)):
            out.append(root_port(t, 'r%d' % t))
            for f in range(8):
                out.append('fn %s r%d 00.%d %s mf' % (
                    'm0' if t == f == 0 else 'e%d_%d' % (t, f), t, f, EP))
    else:
        for t in range(-(-n // 65)):
            br = 'mbr' if t == 0 else 'b%d' % t
            out.append(root_port(t, 'r%d' % t))
            out.append('fn %s r%d 00.0 %s' % (br, t, PCIE_PCI))
            for i in range(63):
                s, f = divmod(i, 8)
                out.append('fn %s %s %02x.%d %s mf' % (
                    'm0' if t == i == 0 else 'c%d_%d' % (t, i), br, s, f,
                    PCI))
    return out + ['scan']


def vfs_topology(vfs):
    """One PF with @vfs VFs below an ARI root port (VFs past devfn ff on
    the next bus)."""
    return [root_port(0, 'rp', ' buses=2'),
            'fn pf rp 00.0 %s ari %s sriov=%d' % (PF, FN_ACS, vfs), 'scan']


def make_plan(mode, folder, only):
    """Write the topology files and the guests' plans (plan: the cases,
    plan-profile: the profiled scan and attach loop)."""
    files, plan = {}, []
    for shape in SHAPES:
        for n in mode['sizes']:
            name = 'enum-%s-%d' % (shape, n)
            files[name] = globals()[shape](n, hot=n == mode['hot'] and
                                           shape == 'wide')
            if shape != 'sriov':
                files[name].append('scan')
            plan.append('enum ' + name)
    name = 'vfs-%d' % mode['vfs']
    files[name] = vfs_topology(mode['vfs'])
    plan.append('vfs ' + name)
    for size in (1, 8, 64):
        name = 'probe-g%d' % size
        files[name] = probe(size, mode['probe'])
        plan.append('probe ' + name)
    files['mem-single'] = wide(mode['mem'])
    files['mem-big'] = wide(mode['mem'], acs=False)
    plan += ['mem mem-single', 'mem mem-big']
    files['prof-wide'] = wide(mode['sizes'][-1]) + ['scan']
    for name, lines in files.items():
        with open(os.path.join(folder, name), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    with open(os.path.join(folder, 'plan'), 'w') as f:
        f.write('\n'.join(x for x in plan if x.split()[0] in only) + '\n')
    with open(os.path.join(folder, 'plan-profile'), 'w') as f:
        f.write('profile prof-wide\nprofile-attach probe-g64\n')


def cases(mode, only=KINDS):
    """(display name, guest key) in print order, of the plan kinds @only."""
    out = []
    for shape in SHAPES:
        for n in mode['sizes']:
            out.append(('enum-%s-%d(ns/dev)' % (shape, n),
                        'enum-%s-%d' % (shape, n)))
    out += [('hotadd-into-%d(ns)' % mode['hot'], 'sys-hotadd'),
            ('remove-from-%d(ns)' % mode['hot'], 'sys-remove'),
            ('sriov-enable-%d(ns/vf)' % mode['vfs'],
             'vfs-%d-enable' % mode['vfs']),
            ('sriov-disable-%d(ns/vf)' % mode['vfs'],
             'vfs-%d-disable' % mode['vfs'])]
    for size in (1, 8, 64):
        out.append(('probe-g%d(ns/dev)' % size, 'probe-g%d' % size))
    for what in ('attach-legacy', 'attach-core', 'claim'):
        for size in (1, 8, 64):
            out.append(('%s-g%d(ns/op)' % (what, size),
                        '%s-g%d' % (what, size)))
    out += [('hotadd-new-group(ns)', 'g1-hotadd'),
            ('remove-last-in-group(ns)', 'g1-remove'),
            ('hotadd-attached-g64(ns)', 'attached-g64-hotadd'),
            ('remove-attached-g64(ns)', 'attached-g64-remove'),
            ('mem-singleton-group(B)', 'mem-single'),
            ('mem-device-in-big-group(B)', 'mem-big')]
    return [(name, key) for name, key in out if case_kind(key) in only]


def case_kind(key):
    """The plan kind that measures guest case @key."""
    if key.startswith(('enum-', 'sys-')):
        return 'enum'
    if key.startswith('vfs-'):
        return 'vfs'
    if key.startswith('mem-'):
        return 'mem'
    return 'probe'


BENCH = re.compile(r'^@@bench (\S+) (-?\d+)((?: \S+=\S+)*)\s*$')


def parse(console):
    """{case: [values]}, {case: [info dicts]}, errors, profiles."""
    values = collections.defaultdict(list)
    info = collections.defaultdict(list)
    errors, profiles = [], []
    blob = None
    for line in console:
        # the first line may follow the firmware's output without a newline
        line = line.rstrip('\r')
        if '@@' in line and blob is None:
            line = line[line.index('@@'):]
        if line.startswith('@@profile-begin'):
            kv = dict(x.split('=', 1) for x in line.split()[1:])
            blob = ([], int(kv['ns']), kv.get('what', 'scan'))
            continue
        if line.startswith('@@profile-end') and blob:
            profiles.append((base64.b64decode(''.join(blob[0])), blob[1],
                             blob[2]))
            blob = None
            continue
        if blob is not None:
            blob[0].append(line.strip())
            continue
        if line.startswith('@@bench-error'):
            errors.append(line[len('@@bench-error '):])
            continue
        m = BENCH.match(line)
        if m:
            values[m.group(1)].append(int(m.group(2)))
            info[m.group(1)].append(dict(kv.split('=', 1) for kv in
                                         m.group(3).split()))
    return values, info, errors, profiles


def mem_bytes(values, info, key):
    """Bytes the IOMMU layer keeps per device of topology @key, one per
    boot: slab growth of the scan taken, minus that of the scan refused."""
    out = []
    for took, refused, i in zip(values[key + '-refuse0'],
                                values[key + '-refuse1'],
                                info[key + '-refuse0']):
        devs = int(i.get('devices', 0))
        if devs > 0:
            out.append((took - refused) / devs)
    return out


def boot(args, variant, folder, log, profile=False):
    """One guest; returns (exit status, console lines)."""
    mode = QUICK if args.quick else FULL
    env = 'BENCH_ROUNDS=%d BENCH_REPS=%d' % (mode['rounds'], mode['reps'])
    plan = 'plan-profile' if profile else 'plan'
    cmd = [sys.executable, os.path.join(TOP, 'scripts', 'vm.py'),
           '--machine', args.machine, '--variant', variant, '--quiet',
           '--log', log, '--memory', args.memory,
           '--timeout', str(args.timeout or mode['timeout']),
           '--file', os.path.join(TOP, 'scripts', 'guest', 'bench.sh') +
           ':/harness/bench.sh']
    for fn in sorted(os.listdir(folder)):
        if fn.startswith('plan') and fn != plan:
            continue
        cmd += ['--file', '%s:/harness/bench/%s' % (
            os.path.join(folder, fn), 'plan' if fn == plan else fn)]
    # The kernel's messages (two a device) would time the emulated UART:
    # only warnings and worse reach the console
    params = 'loglevel=4'
    if profile:
        # one CPU: every tick not in kernel text is then pcisim.ko's
        params += ' profile=2'
        cmd += ['--smp', '1']
    cmd += ['--append', params]
    cmd += ['--exec', '%s sh /harness/bench.sh' % env]
    for attempt in (1, 2):
        p = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
        with open(log, errors='replace') as f:
            console = f.read().splitlines()
        started = any(x.startswith('@@bench') for x in console)
        if p.returncode == 0 or started or attempt == 2:
            break
        # a TCG boot flake (scripts/check.py): once more, log kept
        print('bench: %s: guest died before any case (exit %d), booting '
              'once more; log kept as %s.flake' % (variant, p.returncode,
                                                  log), flush=True)
        os.replace(log, log + '.flake')
    if p.returncode:
        console.append('@@bench-error guest exit %d: %s' % (
            p.returncode, (p.stderr.strip().splitlines() or [''])[-1]))
    return p.returncode, console


def load_map(variant, arch):
    path = os.path.join(BUILD, 'out', '%s-%s' % (variant, arch), 'System.map')
    addrs, names, stext = [], [], None
    with open(path) as f:
        for line in f:
            a, t, name = line.split()[:3]
            if name == '_stext':
                stext = int(a, 16)
            if t in 'tTwW':
                addrs.append(int(a, 16))
                names.append(name)
    order = sorted(range(len(addrs)), key=addrs.__getitem__)
    return [addrs[i] for i in order], [names[i] for i in order], stext


LOCKS = ('mutex_', '__mutex', '_raw_', 'queued_', 'native_queued', 'down_',
         'up_', '__down', '__up', 'osq_', 'rwsem', 'lock_')
DEVCORE = ('klist_', 'bus_', 'device_', 'kobject_', 'kobj_', 'driver_',
           '__device', 'get_device', 'put_device', 'next_device', 'dev_',
           'klist', 'bus_find')


def category(sym):
    s = sym.split('.')[0]
    if 'idle' in s or s in ('pv_native_safe_halt', 'native_safe_halt'):
        return 'idle'
    if s.startswith(('dmar_', 'intel_', 'qi_', 'domain_context')):
        return 'vt-d'
    if s.startswith(('iso_', '__iso')) or 'iommu' in s or \
            s.endswith('device_group') or s.startswith('get_pci_'):
        return 'core'
    if 'alloc' in s or 'kmem_cache' in s or 'slab' in s or \
            s in ('kfree', 'kvfree', '__kmalloc', 'kmalloc_trace') or \
            s.startswith(('__kmalloc', 'kmalloc', 'kfree', '__kfree',
                          'free_', '__free', 'kvfree')):
        return 'alloc'
    if 'kernfs' in s or s.startswith(('sysfs_', '__sysfs')) or \
            s in ('internal_create_group', 'create_files', 'remove_files'):
        return 'sysfs'
    # the log lines (dmesg) of the PCI core and the IOMMU layer
    if 'printk' in s or s in ('format_decode', 'vsnprintf', 'number',
                              'string', 'pointer', 'widen_string'):
        return 'printk'
    if s.startswith(LOCKS) or 'spin_' in s or 'rwsem' in s:
        return 'locks'
    if s.startswith(DEVCORE):
        return 'driver core'
    if s.startswith(('pci', '__pci', 'pcie', 'match_pci')):
        return 'pci'
    return 'other'


def profile_report(variant, arch, blob, ns, what, top=15):
    raw = gzip.decompress(blob)
    # /proc/profile: the bytes of text a counter stands for, the counters
    shift = struct.unpack_from('<I', raw)[0].bit_length() - 1
    counts = struct.unpack_from('<%di' % ((len(raw) - 4) // 4), raw, 4)
    addrs, names, stext = load_map(variant, arch)
    per = collections.Counter()
    for i, c in enumerate(counts):
        if c:
            a = stext + (i << shift)
            per[names[max(0, bisect.bisect_right(addrs, a) - 1)]] += c
    seen = sum(per.values())
    ticks = max(seen, int(ns * HZ / 1e9))
    cat = collections.Counter()
    for sym, c in per.items():
        cat[category(sym)] += c
    # one CPU: ticks of the scan outside kernel text ran in pcisim.ko
    cat['driver (pcisim.ko)'] = ticks - seen
    tag = '%s %s' % (variant, what)
    print('bench-profile: %s: %.1f s, %d ticks, %d in kernel text'
          % (tag, ns / 1e9, ticks, seen))
    for sym, c in per.most_common(top):
        print('bench-profile: %s: %6.2f%% %-40s %s' % (
            tag, 100.0 * c / ticks, sym, category(sym)))
    print('bench-profile: %s: by part: %s' % (tag, ', '.join(
        '%s %.1f%%' % (k, 100.0 * v / ticks) for k, v in cat.most_common())))


def fmt(x):
    return '%.0f' % x if abs(x) >= 100 else '%.1f' % x


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--machine', default='vtd')
    ap.add_argument('--variants', default='stock,isolation')
    ap.add_argument('--rounds', type=int, default=5,
                    help='boots per variant (0: --profile only)')
    ap.add_argument('--quick', action='store_true',
                    help='one round of small sizes (make check)')
    ap.add_argument('--profile', action='store_true',
                    help='also profile the largest scan and an attach loop '
                    '(profile=2)')
    ap.add_argument('--memory', default='3G')
    ap.add_argument('--timeout', type=int, default=0)
    ap.add_argument('--jobs', type=int, default=0,
                    help='guests at a time (default: 2 with --quick, else 1)')
    ap.add_argument('--only', default=','.join(KINDS),
                    help='plan kinds to run (%(default)s)')
    ap.add_argument('--from-logs', metavar='DIR',
                    help='no boots: report the bench-*.log consoles in DIR')
    args = ap.parse_args()
    mode = QUICK if args.quick else FULL
    only = args.only.split(',')
    rounds = 1 if args.quick else args.rounds
    jobs = args.jobs or (2 if args.quick else 1)
    variants = args.variants.split(',')
    arch = vm.MACHINES[args.machine][0]
    for v in variants:
        if not os.path.exists(os.path.join(BUILD, 'mod', '%s-%s' % (v, arch),
                                           'pcisim.ko')):
            sys.exit('bench: no pcisim.ko for %s (scripts/build-selftests.sh)'
                     % v)
    logs = args.from_logs or LOGS
    folder = tempfile.mkdtemp(prefix='isolation-bench-')
    os.makedirs(logs, exist_ok=True)
    try:
        make_plan(mode, folder, only)
        # alternating boots: stock, isolation, stock, ...
        runs = [(r, v, False) for r in range(rounds) for v in variants]
        if args.profile:
            runs += [(0, v, True) for v in variants]
        results = collections.defaultdict(lambda: (
            collections.defaultdict(list), collections.defaultdict(list)))
        failed, profiles = [], {}

        def one(run):
            r, v, prof = run
            log = os.path.join(logs, 'bench-%s-%s.log' % (
                v, 'profile' if prof else 'r%d' % r))
            if not args.from_logs:
                return run, boot(args, v, folder, log, prof)
            if not os.path.exists(log):
                return run, (1, ['@@bench-error no log ' + log])
            with open(log, errors='replace') as f:
                return run, (0, f.read().splitlines())

        with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
            for (r, v, prof), (rc, console) in ex.map(one, runs):
                values, info, errors, profs = parse(console)
                print('bench: boot %s %s: %s' % (
                    v, 'profile' if prof else 'round %d' % (r + 1),
                    'ok' if not errors else '; '.join(errors)), flush=True)
                failed += ['%s: %s' % (v, e) for e in errors]
                if prof:
                    if profs:
                        profiles[v] = profs
                    else:
                        failed.append('%s: no profile' % v)
                    continue
                for k, vals in values.items():
                    results[v][0][k] += vals
                    results[v][1][k] += info[k]
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    status = 1 if failed else 0
    if rounds:
        status |= report(mode, variants, results, only)
    for v in variants:
        for prof in profiles.get(v, []):
            profile_report(v, arch, *prof)
    for f in failed:
        print('bench: FAILED %s' % f)
    sys.exit(status)


def report(mode, variants, results, only):
    """Print the bench: lines; 1 if a case has no number."""
    med = {}
    missing = []
    for v in variants:
        values, info = results[v]
        for name, key in cases(mode, only):
            if key.startswith('mem-'):
                vals = mem_bytes(values, info, key)
            else:
                vals = values.get(key, [])
            if vals:
                med[name, v] = statistics.median(vals)
            else:
                missing.append('%s (%s)' % (name, v))
    k = better = 0
    worst = None
    base, new = variants[0], variants[-1]
    for name, _ in cases(mode, only):
        if (name, base) not in med or (name, new) not in med:
            continue
        x, y = med[name, base], med[name, new]
        ratio = y / x if x > 0 else float('inf')
        k += 1
        better += y <= x
        worst = ratio if worst is None else max(worst, ratio)
        print('bench: %s %s=%s %s=%s ratio=%.2f' % (name, base, fmt(x), new,
                                                     fmt(y), ratio))
    for shape in SHAPES if 'enum' in only else ():
        lo, hi = mode['sizes'][0], mode['sizes'][-1]
        g = {}
        for v in variants:
            a = med.get(('enum-%s-%d(ns/dev)' % (shape, lo), v))
            b = med.get(('enum-%s-%d(ns/dev)' % (shape, hi), v))
            if a and b:
                g[v] = b / a
        if base in g and new in g:
            print('bench: growth-%s-%d-to-%d(x) %s=%.2f %s=%.2f ratio=%.2f '
                  '(flat: <= 1.5)' % (shape, lo, hi, base, g[base], new,
                                      g[new], g[new] / g[base]))
    for m in missing:
        print('bench: FAILED no number for %s' % m)
    print('bench: %d cases, %s <= %s in %d; worst ratio %s' % (
        k, new, base, better, '%.2f' % worst if worst is not None else '-'))
    return 1 if missing else 0


if __name__ == '__main__':
    main()
