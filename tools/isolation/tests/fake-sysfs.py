#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Host test of lsisolation against small fake sysfs trees (well under 1 s).

    fake-sysfs.py PATH-TO-LSISOLATION [--keep DIR]

Builds two trees of one topology, as a stock kernel and as the isolation
core would show it, with PCI config space written here byte by byte:

  00:01.0 00:01.1  conventional multifunction device, no ACS    group 1
  00:02.0          root port, ACS enabled                       group 2
   01:00.0         PCIe-to-PCI bridge                           group 3
    02:01.0 02:02.0  conventional devices (02:01.0 on e1000e)   group 3
  00:03.0          root port without ACS                        group 4
   03:00.0         PCIe endpoint on vfio-pci                    group 4
  00:04.0          root port, ACS enabled                       group 5
   04:00.0         switch upstream port                         group 6
    05:00.0 05:01.0  downstream ports without ACS
     06:00.0 07:00.0 endpoints below them
                   stock: {05:00.0 06:00.0} 7, {05:01.0 07:00.0} 8
                   core:  all four in group 7
Checks the listing, --json, --predict (the core's tree agrees with the
rules, stock's splits the switch) and --diff between the two trees both
ways (the switch's devices moved, with the switch rule as why), devices
that appeared or disappeared, and broken snapshots.
Prints KTAP; exit status 0 when every check passes.
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

# PCIe types
ENDPOINT, ROOT_PORT, UPSTREAM, DOWNSTREAM, PCI_BRIDGE = 0, 4, 5, 6, 7
ACS_ALL = 0x1d          # SV RR CR UF


def config(vendor, device, cls, bridge=False, mfd=False, pcie=None, acs=None):
    """4 KiB config space: header, PCIe capability, AER then ACS."""
    c = bytearray(4096)
    struct.pack_into('<HH', c, 0, vendor, device)
    c[0x09], c[0x0a], c[0x0b] = cls & 0xff, (cls >> 8) & 0xff, cls >> 16
    c[0x0e] = (1 if bridge else 0) | (0x80 if mfd else 0)
    if pcie is not None:
        struct.pack_into('<H', c, 0x06, 0x10)           # capability list
        c[0x34] = 0x50
        c[0x50], c[0x51] = 0x05, 0x40                   # MSI, next PCIe
        c[0x40], c[0x41] = 0x10, 0x00                   # PCIe, end
        struct.pack_into('<H', c, 0x42, (pcie << 4) | 2)
        struct.pack_into('<I', c, 0x100, 0x0001 | 1 << 16 | 0x140 << 20)
        if acs is not None:
            struct.pack_into('<I', c, 0x140, 0x000d | 1 << 16)
            struct.pack_into('<HH', c, 0x144, ACS_ALL, acs)
    return bytes(c)


EDU = dict(vendor=0x1234, device=0x11e8, cls=0x00ff00)
PORT = dict(vendor=0x1b36, device=0x000c, cls=0x060400, bridge=True)

# bdf, parent bdf, config, driver, stock group, core group
DEVICES = [
    ('0000:00:01.0', None, config(**EDU, mfd=True), '', 1, 1),
    ('0000:00:01.1', None, config(**EDU), '', 1, 1),
    ('0000:00:02.0', None, config(**PORT, pcie=ROOT_PORT, acs=ACS_ALL),
     'pcieport', 2, 2),
    ('0000:01:00.0', '0000:00:02.0',
     config(0x1b36, 0x000e, 0x060400, bridge=True, pcie=PCI_BRIDGE), '', 3, 3),
    ('0000:02:01.0', '0000:01:00.0', config(**EDU), 'e1000e', 3, 3),
    ('0000:02:02.0', '0000:01:00.0', config(**EDU), '', 3, 3),
    ('0000:00:03.0', None, config(**PORT, pcie=ROOT_PORT), 'pcieport', 4, 4),
    ('0000:03:00.0', '0000:00:03.0',
     config(0x8086, 0x10d3, 0x020000, pcie=ENDPOINT), 'vfio-pci', 4, 4),
    ('0000:00:04.0', None, config(**PORT, pcie=ROOT_PORT, acs=ACS_ALL),
     'pcieport', 5, 5),
    ('0000:04:00.0', '0000:00:04.0',
     config(0x104c, 0x8232, 0x060400, bridge=True, pcie=UPSTREAM),
     'pcieport', 6, 6),
    ('0000:05:00.0', '0000:04:00.0',
     config(0x104c, 0x8233, 0x060400, bridge=True, pcie=DOWNSTREAM),
     'pcieport', 7, 7),
    ('0000:05:01.0', '0000:04:00.0',
     config(0x104c, 0x8233, 0x060400, bridge=True, pcie=DOWNSTREAM),
     'pcieport', 8, 7),
    ('0000:06:00.0', '0000:05:00.0', config(**EDU), '', 7, 7),
    ('0000:07:00.0', '0000:05:01.0', config(**EDU), '', 8, 7),
]

# a group name no JSON writer may pass through unescaped
ODD_NAME = 'odd "name" \\ with\ttab \x01 and caf\xe9'


def build(root, core):
    parents = {}
    for bdf, parent, cfg, driver, sgroup, cgroup in DEVICES:
        base = parents[parent] if parent else os.path.join(root, 'devices',
                                                           'pci0000:00')
        path = os.path.join(base, bdf)
        parents[bdf] = path
        os.makedirs(path)
        with open(os.path.join(path, 'config'), 'wb') as f:
            f.write(cfg)
        vendor, device = struct.unpack_from('<HH', cfg, 0)
        for name, val in (('vendor', vendor), ('device', device),
                          ('class', int.from_bytes(cfg[9:12], 'little'))):
            with open(os.path.join(path, name), 'w') as f:
                f.write('0x%04x\n' % val)
        os.makedirs(os.path.join(root, 'bus', 'pci', 'devices'), exist_ok=True)
        os.symlink(path, os.path.join(root, 'bus', 'pci', 'devices', bdf))
        os.symlink(os.path.join(root, 'bus', 'pci'),
                   os.path.join(path, 'subsystem'))
        if driver:
            drv = os.path.join(root, 'bus', 'pci', 'drivers', driver)
            os.makedirs(drv, exist_ok=True)
            os.symlink(drv, os.path.join(path, 'driver'))
        group = cgroup if core else sgroup
        gdir = os.path.join(root, 'kernel', 'iommu_groups', str(group))
        os.makedirs(os.path.join(gdir, 'devices'), exist_ok=True)
        with open(os.path.join(gdir, 'type'), 'w') as f:
            f.write('DMA\n')
        os.symlink(path, os.path.join(gdir, 'devices', bdf))
        os.symlink(gdir, os.path.join(path, 'iommu_group'))
        if core:
            os.symlink(gdir, os.path.join(path, 'isolation_group'))
            with open(os.path.join(gdir, 'holder'), 'w') as f:
                f.write('dma-api\n' if group == 3 else 'none\n')
            with open(os.path.join(gdir, 'domain'), 'w') as f:
                f.write('default\n')
    with open(os.path.join(root, 'kernel', 'iommu_groups', '1', 'name'),
              'w', encoding='latin-1') as f:
        f.write(ODD_NAME + '\n')


class Ktap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, ok, name, detail=''):
        self.n += 1
        if not ok:
            self.failed += 1
        print('%sok %d %s%s' % ('' if ok else 'not ', self.n, name,
                                ' # ' + detail if detail and not ok else ''))


def run(tool, *args):
    p = subprocess.run([tool] + list(args), capture_output=True, text=True,
                       encoding='latin-1')
    return p.returncode, p.stdout, p.stderr


def reason(group, key, kind, dev):
    for r in group[key]:
        if r['kind'] == kind and dev in r['devices']:
            return r
    return None


def check_tree(t, tool, root, core):
    tag = 'core' if core else 'stock'
    rc, out, err = run(tool, '--json', '-r', root)
    t.check(rc == 0, tag + '.exit', err.strip())
    try:
        doc = json.loads(out)
    except ValueError as e:
        t.check(False, tag + '.json_valid', str(e))
        return
    t.check(True, tag + '.json_valid')
    g = {x['group']: x for x in doc['groups']}
    want = {}
    for bdf, _, _, _, sgroup, cgroup in DEVICES:
        want.setdefault(cgroup if core else sgroup, []).append(bdf)
    got = {k: [d['name'] for d in v['devices']] for k, v in g.items()}
    t.check(got == {k: sorted(v) for k, v in want.items()}, tag + '.groups',
            'got %s' % got)
    t.check(doc['isolation_core'] == core, tag + '.isolation_core')
    t.check(g[1]['name'] == ODD_NAME, tag + '.name_escaped', repr(g[1]['name']))
    r = reason(g[1], 'why', 'multifunction', '0000:00:01.0')
    t.check(r and '0000:00:01.1' in r['devices'], tag + '.why_multifunction')
    r = reason(g[3], 'why', 'alias', '0000:02:01.0')
    t.check(r and r['via'] == '0000:01:00.0' and '0000:02:02.0' in r['devices'],
            tag + '.why_alias', str(r))
    r = reason(g[4], 'why', 'upstream-no-acs', '0000:03:00.0')
    t.check(r and r['via'] == '0000:00:03.0' and 'no ACS capability' in r['text'],
            tag + '.why_root_port_without_acs', str(r))
    v = g[3]['vfio']
    t.check(not v['usable'] and [b['text'] for b in v['blockers']] ==
            ['0000:02:01.0 is bound to e1000e'], tag + '.vfio_blocker', str(v))
    t.check(g[4]['vfio']['usable'] and g[2]['vfio']['usable'],
            tag + '.vfio_usable')
    if core:
        t.check(g[3]['holder'] == 'dma-api' and
                g[3]['holder_source'] == 'sysfs' and
                g[3]['domain'] == 'default', tag + '.holder_from_sysfs')
        r = reason(g[7], 'why', 'switch-peers', '0000:05:00.0')
        t.check(r and '0000:05:01.0' in r['devices'], tag + '.why_switch_peers',
                str(r))
        t.check(not any(x['warnings'] for x in doc['groups']),
                tag + '.no_warnings')
    else:
        t.check(g[4]['holder'] == 'user' and g[3]['holder'] == 'dma-api' and
                g[1]['holder'] == 'none' and
                g[4]['holder_source'] == 'inferred' and
                g[4]['domain'] is None, tag + '.holder_inferred',
                str((g[4]['holder'], g[3]['holder'], g[1]['holder'])))
        r = reason(g[7], 'warnings', 'split', '0000:05:00.0')
        t.check(r and '0000:05:01.0' in r['devices'], tag + '.warn_split_switch',
                str(g[7]['warnings']))
    unexplained = [r['text'] for x in doc['groups'] for r in x['why']
                   if r['kind'] == 'unexplained']
    t.check(not unexplained, tag + '.all_explained', str(unexplained))


SWITCH = ['0000:05:00.0', '0000:05:01.0', '0000:06:00.0', '0000:07:00.0']


def check_predict(t, tool, stock, core):
    """--predict: the core's groups are the rules'; stock splits the switch."""
    rc, out, err = run(tool, '--predict', '-r', core)
    t.check(rc == 0 and 'all as the kernel has them' in out, 'predict.core',
            'exit %d: %s' % (rc, out[-300:] + err))
    rc, out, _ = run(tool, '--predict', '-r', stock)
    differs = [x for x in out.splitlines() if x.endswith('differs)')]
    t.check(rc == 3 and len(differs) == 1 and
            all(d in differs[0] for d in SWITCH) and
            differs[0].endswith('(kernel: groups 7, 8; differs)'),
            'predict.stock_switch_differs', 'exit %d: %s' % (rc, differs))
    rc, out, _ = run(tool, '--predict', '--json', '-r', stock)
    try:
        doc = json.loads(out)
        bad = [g for g in doc['predicted_groups'] if not g['agrees']]
        ok = rc == 3 and not doc['agrees'] and len(bad) == 1 and \
            sorted(bad[0]['devices']) == SWITCH and \
            bad[0]['kernel_groups'] == [7, 8] and \
            any(r['kind'] == 'switch-peers' for r in bad[0]['why'])
    except (ValueError, KeyError) as e:
        ok, bad = False, str(e)
    t.check(ok, 'predict.json', str(bad))
    for args in (['--predict', '-g', '1'], ['--predict', '--diff', 'x']):
        rc, _, err = run(tool, '-r', stock, *args)
        t.check(rc == 1 and err, 'predict.usage.' + '_'.join(args))


def moved(out):
    """The "moved:" blocks of a --diff output: {device: [its lines]}."""
    blocks, cur = {}, None
    for line in out.splitlines():
        if line.startswith('moved: '):
            cur = line.split()[1]
            blocks[cur] = []
        elif line.startswith('  ') and cur:
            blocks[cur].append(line)
        else:
            cur = None
    return blocks


def check_diff(t, tool, tmp, stock, core):
    """--diff between the two trees, both ways; errors."""
    snap = {}
    for tag, root in (('stock', stock), ('core', core)):
        snap[tag] = os.path.join(tmp, tag + '.json')
        rc, out, _ = run(tool, '--json', '-r', root)
        with open(snap[tag], 'w', encoding='latin-1') as f:
            f.write(out)
        rc, out, _ = run(tool, '-r', root, '--diff', snap[tag])
        t.check(rc == 0 and 'no change: 14 devices' in out,
                'diff.%s_self' % tag, 'exit %d: %s' % (rc, out[-200:]))
    # stock snapshot, core kernel: the switch's devices joined
    rc, out, _ = run(tool, '-r', core, '--diff', snap['stock'])
    b = moved(out)
    t.check(rc == 3 and sorted(b) == SWITCH and
            '4 moved, 0 appeared, 0 disappeared' in out,
            'diff.to_core.moved', 'exit %d, moved %s' % (rc, sorted(b)))
    lines = [x for x in b.get('0000:06:00.0', []) if 'shares with' in x]
    t.check(len(lines) == 1 and lines[0].startswith(
        '  shares with 0000:05:01.0, 0000:07:00.0: switch downstream ports '
        '0000:05:00.0, 0000:05:01.0 of upstream port 0000:04:00.0 reach each '
        'other: ') and 'lack ACS' in lines[0], 'diff.to_core.why', str(lines))
    t.check(any(x == '  before: group 7 with 0000:05:00.0' for x in
                b.get('0000:06:00.0', [])) and
            any(x.startswith('  now:    group 7 with 0000:05:00.0, '
                             '0000:05:01.0, 0000:07:00.0') for x in
                b.get('0000:06:00.0', [])), 'diff.to_core.before_now',
            str(b.get('0000:06:00.0')))
    # core snapshot, stock kernel: split, with the rule of then
    rc, out, _ = run(tool, '-r', stock, '--diff', snap['core'])
    b = moved(out)
    lines = [x for x in b.get('0000:07:00.0', []) if 'no longer' in x]
    t.check(rc == 3 and sorted(b) == SWITCH and len(lines) == 1 and
            lines[0].startswith('  no longer shares with 0000:05:00.0, '
                                '0000:06:00.0: before: switch downstream '
                                'ports ') and
            'now: in group 7, though config space says they are not isolated'
            in lines[0], 'diff.to_stock.why', 'exit %d: %s' % (rc, lines))
    # a device replaced (other vendor:device) and one removed
    with open(snap['stock'], encoding='latin-1') as f:
        doc = json.load(f)
    for g in doc['groups']:
        for d in g['devices']:
            if d['name'] == '0000:03:00.0':
                d['device'] = 'beef'
        g['devices'] = [d for d in g['devices']
                        if d['name'] != '0000:00:02.0']
    doc['groups'] = [g for g in doc['groups'] if g['devices']]
    edited = os.path.join(tmp, 'edited.json')
    with open(edited, 'w', encoding='latin-1') as f:
        json.dump(doc, f)
    rc, out, _ = run(tool, '-r', stock, '--diff', edited)
    t.check(rc == 3 and 'appeared: 0000:00:02.0 [1b36:000c] root port' in out
            and 'appeared: 0000:03:00.0 [8086:10d3]' in out and
            'disappeared: 0000:03:00.0 [8086:beef]' in out and
            '1 moved, 2 appeared, 1 disappeared' in out,
            'diff.appeared_disappeared', out[-400:])
    # broken snapshots: exit status 2 and where
    for name, text, want in (
            ('truncated', '{"groups": [', 'invalid JSON at line 1, column 13'),
            ('garbage', 'hello', 'invalid JSON at line 1, column 1'),
            ('second_line', '{"groups": [],\n "x": nul}',
             'invalid JSON at line 2, column 7'),
            ('not_snapshot', '{"sysfs_root": "/sys"}', 'no "groups" array'),
            ('bad_device', '{"groups": [{"group": 1, "devices": [{}]}]}',
             'no "name" string'),
            ('empty', '', 'unexpected end')):
        path = os.path.join(tmp, name + '.json')
        with open(path, 'w') as f:
            f.write(text)
        rc, out, err = run(tool, '-r', stock, '--diff', path)
        t.check(rc == 2 and want in err and not out.count('moved'),
                'diff.error.' + name, 'exit %d, stderr %r' % (rc, err))
    rc, _, err = run(tool, '-r', stock, '--diff', os.path.join(tmp, 'none'))
    t.check(rc == 2 and 'cannot read' in err, 'diff.error.missing', err)
    for args in (['--diff'], ['--diff', snap['core'], '-d', '00:02.0'],
                 ['--diff', snap['core'], '--json']):
        rc, _, err = run(tool, '-r', stock, *args)
        t.check(rc == 1 and err, 'diff.usage.' + '_'.join(
            a if a.startswith('-') else 'X' for a in args))


def main():
    tool = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else 'lsisolation'
    keep = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == '--keep' else None
    tmp = keep or tempfile.mkdtemp(prefix='lsisolation-')
    t = Ktap()
    print('TAP version 13')
    try:
        stock, core = os.path.join(tmp, 'stock'), os.path.join(tmp, 'core')
        build(stock, False)
        build(core, True)
        check_tree(t, tool, stock, False)
        check_tree(t, tool, core, True)
        rc, out, _ = run(tool, '-r', stock, '-d', '01:00.0')
        t.check(rc == 0 and out.startswith('Group 3:') and 'why: ' in out and
                'VFIO: not usable: 0000:02:01.0 is bound to e1000e' in out,
                'text.device_selects_group', out[:200])
        rc, out, _ = run(tool, '-r', stock, '-g', '7')
        t.check(rc == 0 and out.count('Group ') == 1 and 'warning: ' in out,
                'text.group_with_warning')
        for args, code in ((['-g', '99'], 1), (['-g', '-1'], 1),
                           (['-d', '0000:09:00.0'], 1), (['--bogus'], 1),
                           (['-g'], 1), (['stray'], 1),
                           (['-r', os.path.join(tmp, 'nonexistent')], 2)):
            rc, _, err = run(tool, '-r', stock, *args)
            t.check(rc == code and err.strip() != '', 'errors.' + ' '.join(args)
                    .replace(tmp + '/', ''), 'exit %d, stderr %r' % (rc, err))
        rc, out, _ = run(tool, '--help')
        t.check(rc == 0 and all(s in out for s in (
            'NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'OUTPUT',
            'EXIT STATUS', 'EXAMPLES', '--diff', '--predict')),
            'help.sections')
        check_predict(t, tool, stock, core)
        check_diff(t, tool, tmp, stock, core)
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print('1..%d' % t.n)
    print('# %d passed, %d failed' % (t.n - t.failed, t.failed))
    return 1 if t.failed else 0


if __name__ == '__main__':
    sys.exit(main())
