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
            'EXIT STATUS', 'EXAMPLES')), 'help.sections')
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print('1..%d' % t.n)
    print('# %d passed, %d failed' % (t.n - t.failed, t.failed))
    return 1 if t.failed else 0


if __name__ == '__main__':
    sys.exit(main())
