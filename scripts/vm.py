#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Boot a guest kernel on one of the harness machines and run a command in it.

    vm.py --machine vtd --variant isolation --exec 'ls /sys/kernel/iommu_groups'
    vm.py --machine smmuv3-acpi --script mytest.sh --file ./prog:/bin/prog
    vm.py --machine virtio --shell

The guest is QEMU (TCG) with the reference PCI topology (machines/topology)
and an initramfs of busybox, the isolation selftests, the edu DMA test
module, and any --file given. The console goes to stdout (or only to --log
with --quiet). The command's exit status becomes vm.py's; a guest that does
not finish within --timeout is killed and reported as a hang (exit 124).

Guest programs may ask the host to hot-plug by printing a line
    @@qmp {"execute": "device_add", "arguments": {...}}
vm.py passes it to QEMU's QMP socket (and for device_del waits for
DEVICE_DELETED); the guest then polls sysfs for the result.
"""

import argparse
import gzip
import io
import json
import os
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get('BUILD', os.path.join(TOP, 'build'))
SELFTEST = 'tools/testing/selftests/isolation'

X86_IMAGE = 'arch/x86/boot/bzImage'
ARM64_IMAGE = 'arch/arm64/boot/Image'
EFI_ARM64 = '/usr/share/qemu-efi-aarch64/QEMU_EFI.fd'
PSERIES = 'pseries,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,' \
    'cap-ccf-assist=off'

# q35 hands PCIe hot-plug to ACPI by default; the guests use native PCIe
# hot-plug (pciehp), as on most real machines, unless --acpi-hotplug.
Q35 = ['-global', 'ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off']

# name: (arch, image, qemu options, kernel command line)
MACHINES = {
    'none': ('x86_64', X86_IMAGE,
             ['-M', 'q35'] + Q35, 'console=ttyS0'),
    'vtd': ('x86_64', X86_IMAGE,
            ['-M', 'q35,kernel-irqchip=split'] + Q35 +
            ['-device', 'intel-iommu,intremap=on,caching-mode=on'],
            'console=ttyS0 intel_iommu=on'),
    'amd': ('x86_64', X86_IMAGE,
            ['-M', 'q35'] + Q35 + ['-device', 'amd-iommu'],
            'console=ttyS0'),
    'virtio': ('x86_64', X86_IMAGE,
               ['-M', 'q35'] + Q35 +
               ['-device', 'virtio-iommu-pci,addr=1e.0'],
               # no interrupt remapping with virtio-iommu
               'console=ttyS0 vfio_iommu_type1.allow_unsafe_interrupts=1 '
               'iommufd.allow_unsafe_interrupts=1'),
    'smmuv3-dt': ('arm64', ARM64_IMAGE,
                  ['-M', 'virt,iommu=smmuv3,gic-version=3',
                   '-cpu', 'max,pauth-impdef=on'],
                  'console=ttyAMA0'),
    'smmuv3-acpi': ('arm64', ARM64_IMAGE,
                    ['-M', 'virt,iommu=smmuv3,gic-version=3',
                     '-cpu', 'max,pauth-impdef=on', '-bios', EFI_ARM64],
                    'console=ttyAMA0 acpi=force'),
    # SLOF firmware (VOF does not find devices behind a pci-bridge)
    'pseries': ('ppc64le', 'vmlinux',
                ['-M', PSERIES, '-cpu', 'power9'], 'console=hvc0'),
}

QEMU = {'x86_64': 'qemu-system-x86_64', 'arm64': 'qemu-system-aarch64',
        'ppc64le': 'qemu-system-ppc64'}
ROOT_BUS = {'ppc64le': 'pci.0'}


def read_topology(machine):
    """Devices of the machine's topology file, with their path from root."""
    devs = {}
    order = []
    fn = 'topology-pseries' if machine == 'pseries' else 'topology'
    with open(os.path.join(TOP, 'machines', fn)) as f:
        for line in f:
            line = line.split('#', 1)[0].split()
            if not line:
                continue
            name, driver, bus, slot = line[:4]
            props = line[4] if len(line) > 4 else ''
            if bus == '-':              # a host bridge
                path = '-'
            elif bus == 'root':
                path = slot
            elif devs[bus]['bus'] == '-':
                path = '%s:%s' % (props_get(devs[bus]['props'], 'index'),
                                  slot)
            else:
                path = devs[bus]['path'] + '/' + slot
            devs[name] = dict(name=name, driver=driver, bus=bus, slot=slot,
                              props=props, path=path)
            order.append(name)
    return [devs[n] for n in order]


def props_get(props, key):
    for p in props.split(','):
        if p.startswith(key + '='):
            return p.split('=', 1)[1]
    return None


def topology_args(topo, root_bus):
    args = []
    hubs = []
    bridges = set(d['name'] for d in topo if d['bus'] == '-')
    for d in topo:
        if d['bus'] == '-':
            args += ['-device', '%s,id=%s,%s' % (d['driver'], d['name'],
                                                  d['props'])]
            continue
        bus = d['bus']
        if bus == 'root':
            bus = root_bus
        elif bus in bridges:
            bus += '.0'
        opts = [d['driver'], 'id=' + d['name'], 'bus=' + bus,
                'addr=' + d['slot']]
        if d['props']:
            opts.append(d['props'])
            for p in d['props'].split(','):
                if p.startswith('netdev='):
                    hubs.append(p.split('=', 1)[1])
        args += ['-device', ','.join(opts)]
    net = []
    for h in hubs:
        net += ['-netdev', 'hubport,id=%s,hubid=0' % h]
    return net + args


class Cpio:
    """A gzip'd newc archive written in memory (no root needed for nodes)."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1
        self.dirs = set()

    def _entry(self, name, mode, data=b'', rdev=(0, 0)):
        hdr = '070701' + ''.join('%08x' % v for v in (
            self.ino, mode, 0, 0, 1, 0, len(data), 0, 0,
            rdev[0], rdev[1], len(name) + 1, 0))
        self.ino += 1
        self.buf.write(hdr.encode() + name.encode() + b'\0')
        self.buf.write(b'\0' * ((4 - self.buf.tell() % 4) % 4))
        self.buf.write(data)
        self.buf.write(b'\0' * ((4 - self.buf.tell() % 4) % 4))

    def mkdir(self, path):
        path = path.strip('/')
        parts = path.split('/')
        for i in range(1, len(parts) + 1):
            d = '/'.join(parts[:i])
            if d and d not in self.dirs:
                self.dirs.add(d)
                self._entry(d, 0o40755)

    def file(self, path, data, mode=0o644):
        path = path.strip('/')
        self.mkdir(os.path.dirname(path))
        self._entry(path, 0o100000 | mode, data)

    def symlink(self, path, target):
        path = path.strip('/')
        self.mkdir(os.path.dirname(path))
        self._entry(path, 0o120777, target.encode())

    def chardev(self, path, major, minor):
        path = path.strip('/')
        self.mkdir(os.path.dirname(path))
        self._entry(path, 0o20600, rdev=(major, minor))

    def finish(self):
        self._entry('TRAILER!!!', 0)
        return gzip.compress(self.buf.getvalue(), compresslevel=1)


INIT = r'''#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /sbin /usr/bin /usr/sbin /etc
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
export PATH=/harness:/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
export ISOLATION_MACHINE=@MACHINE@ ISOLATION_VARIANT=@VARIANT@ ISOLATION_QMP=1
if [ -d /lib/modules ]; then
	# a modular (distro) kernel: load modules as a distribution's udev does,
	# for each device's modalias at boot and at hot-add (mdev listening on
	# netlink, as udev does: distribution kernels have no uevent helper),
	# then what a VFIO user loads by hand
	echo '$MODALIAS=.* 0:0 660 @modprobe -q "$MODALIAS"' > /etc/mdev.conf
	mdev -d
	for a in $(cat /sys/bus/pci/devices/*/modalias); do
		modprobe -q "$a"
	done
	modprobe -a vfio-pci vfio_iommu_type1 iommufd pci-pf-stub ||
		echo "harness: modprobe of the VFIO modules failed"
	echo "harness: modules: $(cut -d' ' -f1 /proc/modules | sort | tr '\n' ' ')"
fi
cd /harness
if [ -f /harness/shell ]; then
	echo "harness: shell on the console; 'poweroff -f' ends the guest"
	setsid cttyhack sh -l
else
	sh /harness/run.sh
	echo "@@exit $?"
fi
poweroff -f
'''


def kernel_out(args, arch):
    """The kernel's build folder (build/out/VARIANT-ARCH[-FLAVOUR])."""
    return os.path.join(BUILD, 'out', '%s-%s%s' % (
        args.variant, arch, '-' + args.flavour if args.flavour else ''))


def busybox_path(arch):
    if arch == 'x86_64':
        return '/bin/busybox'
    return os.path.join(BUILD, 'cache', 'busybox-' + arch, 'bin', 'busybox')


def make_initramfs(args, arch, topo):
    c = Cpio()
    c.chardev('dev/console', 5, 1)
    c.chardev('dev/null', 1, 3)
    with open(busybox_path(arch), 'rb') as f:
        c.file('bin/busybox', f.read(), 0o755)
    init = INIT.replace('@MACHINE@', args.machine).replace('@VARIANT@',
                                                            args.variant)
    c.file('init', init.encode(), 0o755)
    lines = ['# name driver path'] + ['%s %s %s' % (d['name'], d['driver'],
                                                    d['path'])
                                      for d in topo if d['path'] != '-']
    c.file('harness/topology', ('\n'.join(lines) + '\n').encode())
    # selftest binaries and data for this guest's architecture
    st = os.path.join(BUILD, 'selftests', arch)
    if os.path.isdir(st):
        for root, _, files in os.walk(st):
            for fn in files:
                src = os.path.join(root, fn)
                rel = os.path.relpath(src, st)
                with open(src, 'rb') as f:
                    c.file('harness/' + rel, f.read(),
                           0o755 if os.access(src, os.X_OK) else 0o644)
    # a modular kernel's modules (scripts/build-kernel.sh installs them)
    modroot = os.path.join(kernel_out(args, arch), 'modroot')
    for root, _, files in os.walk(modroot):
        for fn in files:
            src = os.path.join(root, fn)
            if os.path.islink(src):
                continue
            with open(src, 'rb') as f:
                c.file(os.path.relpath(src, modroot), f.read())
    moddir = os.path.join(BUILD, 'mod', '%s-%s%s' % (
        args.variant, arch, '-' + args.flavour if args.flavour else ''))
    for ko in ('edu_dma.ko', 'pcisim.ko'):
        mod = os.path.join(moddir, ko)
        if os.path.exists(mod):
            with open(mod, 'rb') as f:
                c.file('harness/' + ko, f.read())
    for spec in args.file:
        src, _, dst = spec.partition(':')
        dst = dst or '/harness/' + os.path.basename(src)
        with open(src, 'rb') as f:
            c.file(dst, f.read(), 0o755 if os.access(src, os.X_OK) else 0o644)
    if args.shell:
        c.file('harness/shell', b'')
    script = ''
    if args.script:
        with open(args.script) as f:
            script = f.read()
    elif args.exec:
        script = args.exec + '\n'
    c.file('harness/run.sh', script.encode(), 0o755)
    return c.finish()


class Qmp:
    def __init__(self, path):
        self.path = path
        self.sock = None
        self.buf = b''
        self.events = []

    def connect(self, timeout=20):
        end = time.time() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(self.path)
                break
            except OSError:
                if time.time() > end:
                    raise
                time.sleep(0.1)
        self._read()                     # greeting
        self.command({'execute': 'qmp_capabilities'})

    def _read(self, timeout=30):
        end = time.time() + timeout
        while b'\n' not in self.buf:
            left = end - time.time()
            if left <= 0:
                raise TimeoutError('QMP did not answer')
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                data = self.sock.recv(65536)
                if not data:
                    raise EOFError('QMP closed')
                self.buf += data
        line, self.buf = self.buf.split(b'\n', 1)
        return json.loads(line)

    def command(self, cmd):
        self.sock.sendall(json.dumps(cmd).encode() + b'\n')
        while True:
            msg = self._read()
            if 'event' in msg:
                self.events.append(msg)
                continue
            return msg

    def wait_event(self, name, dev_id, timeout=30):
        end = time.time() + timeout
        while True:
            for e in self.events:
                if e['event'] == name and \
                        e.get('data', {}).get('device') == dev_id:
                    self.events.remove(e)
                    return True
            if time.time() > end:
                return False
            try:
                msg = self._read(max(0.1, end - time.time()))
            except TimeoutError:
                return False
            if 'event' in msg:
                self.events.append(msg)


def open_log(path):
    """Open the --log file for writing, creating its folder: callers pass
    paths such as build/logs/demo.log that a fresh clone does not have."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    return open(path, 'w')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--machine', default='vtd', choices=sorted(MACHINES))
    ap.add_argument('--variant', default='isolation',
                    choices=['stock', 'isolation'])
    ap.add_argument('--flavour', default='', help='kernel flavour (debug)')
    ap.add_argument('--kernel', help='kernel image (default: the built one)')
    ap.add_argument('--exec', help='shell command to run in the guest')
    ap.add_argument('--script', help='shell script to run in the guest')
    ap.add_argument('--file', action='append', default=[],
                    help='SRC[:DST] file to put into the guest')
    ap.add_argument('--append', default='', help='extra kernel parameters')
    ap.add_argument('--acpi-hotplug', action='store_true',
                    help="q35: QEMU's default ACPI PCI hot-plug (acpiphp) "
                    'instead of native PCIe hot-plug (pciehp)')
    ap.add_argument('--shell', action='store_true',
                    help='interactive shell on the console')
    ap.add_argument('--timeout', type=int, default=300)
    ap.add_argument('--memory', default='2G')
    ap.add_argument('--smp', default='2')
    ap.add_argument('--log', help='write the console here too')
    ap.add_argument('--quiet', action='store_true',
                    help='console only to --log; print only test output')
    ap.add_argument('--qemu-arg', action='append', default=[],
                    help='extra QEMU argument (repeatable)')
    ap.add_argument('--initrd-overlay', action='append', default=[],
                    help='compressed cpio archive appended to the '
                    'initramfs (repeatable)')
    args = ap.parse_args()

    arch, image, mopts, cmdline = MACHINES[args.machine]
    if args.acpi_hotplug:
        mopts = [o for o in mopts if o not in Q35]
    kernel = args.kernel or os.path.join(kernel_out(args, arch), image)
    if not os.path.exists(kernel):
        sys.exit('vm.py: no kernel at %s (make kernels first)' % kernel)
    topo = read_topology(args.machine)
    # before anything that needs cleaning up if the log cannot be opened
    log = open_log(args.log) if args.log and not args.shell else None

    tmp = tempfile.mkdtemp(prefix='isolation-vm-')
    initrd = os.path.join(tmp, 'initrd.gz')
    with open(initrd, 'wb') as f:
        f.write(make_initramfs(args, arch, topo))
        # the kernel unpacks concatenated archives one after the other
        for overlay in args.initrd_overlay:
            with open(overlay, 'rb') as o:
                shutil.copyfileobj(o, f)
    qmp_path = os.path.join(tmp, 'qmp.sock')

    cmd = [QEMU[arch], '-accel', 'tcg', '-nodefaults', '-nographic',
           '-no-reboot', '-m', args.memory, '-smp', args.smp] + mopts
    cmd += topology_args(topo, ROOT_BUS.get(arch, 'pcie.0'))
    cmd += ['-kernel', kernel, '-initrd', initrd,
            '-append', ' '.join([cmdline, 'panic=-1 oops=panic',
                                 args.append]).strip(),
            '-qmp', 'unix:%s,server=on,wait=off' % qmp_path]
    cmd += args.qemu_arg
    if args.shell:
        cmd += ['-serial', 'mon:stdio']
        os.execvp(cmd[0], cmd)
    cmd += ['-serial', 'stdio']

    if log:
        log.write('# ' + ' '.join(shlex.quote(a) for a in cmd) + '\n')
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    qmp = Qmp(qmp_path)
    start = time.time()
    status = None
    pending = b''
    deadline = start + args.timeout
    try:
        qmp.connect()
        while True:
            left = deadline - time.time()
            if left <= 0:
                break
            r, _, _ = select.select([proc.stdout], [], [], min(left, 1))
            if not r:
                if proc.poll() is not None:
                    break
                continue
            data = os.read(proc.stdout.fileno(), 65536)
            if not data:
                break
            pending += data
            while b'\n' in pending:
                raw, pending = pending.split(b'\n', 1)
                line = raw.decode('utf-8', 'replace').rstrip('\r')
                if log:
                    log.write(line + '\n')
                    log.flush()
                if not args.quiet:
                    print(line, flush=True)
                if '@@qmp ' in line:
                    req = json.loads(line.split('@@qmp ', 1)[1])
                    resp = qmp.command(req)
                    ok = 'return' in resp
                    if ok and req.get('execute') == 'device_del':
                        ok = qmp.wait_event('DEVICE_DELETED',
                                            req['arguments']['id'])
                    msg = '@@host qmp %s: %s' % (req.get('execute'),
                                                'ok' if ok else resp)
                    if log:
                        log.write(msg + '\n')
                    if not args.quiet:
                        print(msg, flush=True)
                elif line.startswith('@@exit '):
                    status = int(line.split()[1])
                    # Some firmware does not end QEMU on power-off
                    deadline = min(deadline, time.time() + 10)
                elif args.quiet and (line.startswith(('ok ', 'not ok ', '#',
                                                      'TAP', '1..')) or
                                     line.startswith('    ')):
                    print(line, flush=True)
    finally:
        # QEMU's own end: its status, or the signal that killed it
        qemu_rc = proc.poll()
        if qemu_rc is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if log:
            log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.time() - start
    if status is None:
        why = 'timed out after %ds' % args.timeout \
            if time.time() >= deadline else \
            'guest stopped without an exit status (panic or crash; ' \
            'QEMU exit %s)' % ('signal %d' % -qemu_rc if qemu_rc and
                               qemu_rc < 0 else qemu_rc)
        print('vm.py: %s: %s%s' % (args.machine, why,
                                   ', log: ' + args.log if args.log else ''),
              file=sys.stderr)
        sys.exit(124 if 'timed out' in why else 125)
    print('vm.py: %s/%s finished in %.1fs, status %d' %
          (args.machine, args.variant, elapsed, status), file=sys.stderr)
    sys.exit(status)


if __name__ == '__main__':
    main()
