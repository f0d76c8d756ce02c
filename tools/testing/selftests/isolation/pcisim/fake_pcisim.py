#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Host-side stand-in for pcisim's ctl, to test grouping.sh without a guest.

    GROUPING_ROOT=/tmp/fake GROUPING_FAKE='python3 fake_pcisim.py' \
        VARIANT=isolation BOOT_PARAMS= sh grouping.sh

Each call handles one ctl command (its arguments). The state lives in
$GROUPING_ROOT/fake-state.json; the script writes
$GROUPING_ROOT/sys/kernel/debug/pcisim/map and the
$GROUPING_ROOT/sys/bus/pci/devices/BDF/iommu_group links as pcisim and the
kernel would. Grouping is deliberately naive (FAKE_MODE): "single" gives
every device a group of its own, "one" puts all in one group, "none" gives
no group; it tests the runner's plumbing, not the kernel's rules.
"""
import json
import os
import shutil
import sys

root = os.environ['GROUPING_ROOT']
mode = os.environ.get('FAKE_MODE', 'single')
state_f = os.path.join(root, 'fake-state.json')
dbg = os.path.join(root, 'sys/kernel/debug/pcisim')
devs = os.path.join(root, 'sys/bus/pci/devices')
groups = os.path.join(root, 'sys/kernel/iommu_groups')


def load():
    try:
        with open(state_f) as f:
            return json.load(f)
    except OSError:
        return {'domain': 0x10000 - 1, 'fns': [], 'present': []}


def publish(st):
    shutil.rmtree(devs, ignore_errors=True)
    shutil.rmtree(groups, ignore_errors=True)
    os.makedirs(devs)
    os.makedirs(groups)
    os.makedirs(dbg, exist_ok=True)
    lines = []
    for i, name in enumerate(st['present']):
        bdf = '%05x:%02x:%02x.%d' % (st['domain'], 1 + i // 32, i % 32, 0)
        lines.append('%s %s\n' % (name, bdf))
        d = os.path.join(devs, bdf)
        os.makedirs(d)
        if mode == 'none':
            continue
        g = '0' if mode == 'one' else str(i + 100)
        os.makedirs(os.path.join(groups, g), exist_ok=True)
        os.symlink('../../../kernel/iommu_groups/' + g,
                   os.path.join(d, 'iommu_group'))
    with open(os.path.join(dbg, 'map'), 'w') as f:
        f.writelines(lines)


def subtree(st, name):
    out = [name]
    for f in st['fns']:
        if f['parent'] in out and f['name'] not in out:
            out.append(f['name'])
    return out + [n for n in st['present'] if n.startswith(name + '.vf')]


def main():
    st = load()
    cmd, args = sys.argv[1], sys.argv[2:]
    names = [f['name'] for f in st['fns']]
    if cmd == 'create':
        st = {'domain': st['domain'] + 1, 'fns': [], 'present': []}
    elif cmd == 'destroy':
        st['fns'], st['present'] = [], []
    elif cmd == 'fn':
        if len(args) < 5 or args[0] in names or \
                (args[1] != 'root' and args[1] not in names):
            sys.exit('write error: Invalid argument')
        st['fns'].append({'name': args[0], 'parent': args[1]})
    elif cmd in ('scan', 'rescan'):
        if cmd == 'rescan' and args[0] not in st['present']:
            sys.exit('write error: No such device')
        for n in names:
            if n not in st['present']:
                st['present'].append(n)
    elif cmd in ('remove', 'unplug'):
        if args[0] not in st['present']:
            sys.exit('write error: No such device')
        gone = subtree(st, args[0])
        st['present'] = [n for n in st['present'] if n not in gone]
        if cmd == 'unplug':
            st['fns'] = [f for f in st['fns'] if f['name'] not in gone]
    elif cmd == 'sriov':
        pf, n = args[0], int(args[1])
        st['present'] = [x for x in st['present']
                         if not x.startswith(pf + '.vf')]
        st['present'] += ['%s.vf%d' % (pf, i) for i in range(n)]
    else:
        sys.exit('write error: Invalid argument')
    with open(state_f, 'w') as f:
        json.dump(st, f)
    publish(st)


main()
