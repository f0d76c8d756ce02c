#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the "realusers" suite (vtd machine): VFIO users that are not
# ours, from Debian (scripts/build-realusers.sh puts them in the initramfs):
#  1. qemu-system-x86_64 assigns the edu edu-rc through vfio-pci to a nested
#     guest (TCG in TCG, no IOMMU there, this same kernel) whose /init,
#     edu-nested, reads the ID register, computes a factorial through MMIO
#     and checks a DMA round trip through the nested path;
#  2. dpdk-testpmd drives the two e1000e functions nic-mf0 and nic-mf1
#     through vfio-pci; QEMU joins them with a hub, so what one sends the
#     other receives. Both ports must count packets both ways, no errors.
# Prints KTAP; the wall time of each is a "# time NAME: N s" line (check.py
# prints those). Program output is shown as "# " diagnostics.

NESTED_TIMEOUT=300
DPDK_TIMEOUT=120

# PCI address of a topology device on the root bus
bdf() {
	echo "0000:00:$(awk -v n="$1" '$1 == n {print $3}' /harness/topology)"
}

uptime_s() {
	cut -d' ' -f1 /proc/uptime
}

# bind_vfio BDF: give the device to vfio-pci; its group node must appear
bind_vfio() {
	d=/sys/bus/pci/devices/$1
	[ -e "$d" ] || { echo "# no device $1"; return 1; }
	echo vfio-pci > "$d/driver_override"
	[ -e "$d/driver" ] && echo "$1" > "$d/driver/unbind"
	echo "$1" > /sys/bus/pci/drivers_probe
	drv=$(basename "$(readlink "$d/driver")")
	grp=$(basename "$(readlink "$d/iommu_group")")
	echo "# $1: driver $drv, group $grp"
	[ "$drv" = vfio-pci ] && [ -c "/dev/vfio/$grp" ]
}

# prompts N SECONDS PID: until testpmd has shown its prompt N times (each
# command ends with one; its other output is block-buffered into the log and
# comes at exit); fails if PID ends first
prompts() {
	tries=0
	while [ "$(grep -o 'testpmd> ' /tmp/testpmd.log | wc -l)" -lt "$1" ]; do
		kill -0 "$3" 2>/dev/null || return 1
		tries=$((tries + 1))
		[ $tries -gt $(($2 * 5)) ] && return 1
		sleep 0.2
	done
}

nested_qemu() {
	dev=$(bdf edu-rc)
	bind_vfio "$dev" || return 1
	# kunit.enable=0: the kernel's own KUnit run belongs to the outer boot
	timeout $NESTED_TIMEOUT qemu-system-x86_64 -accel tcg -M pc -m 128M \
		-smp 1 -nodefaults -display none -no-reboot -serial stdio \
		-kernel /realusers/bzImage -initrd /realusers/nested.cpio.gz \
		-append 'console=ttyS0 quiet kunit.enable=0 panic=-1' \
		-device "vfio-pci,host=$dev" </dev/null >/tmp/nested.log 2>&1
	st=$?
	tr -d '\r' </tmp/nested.log | sed 's/^/# nested: /'
	echo "# qemu-system-x86_64 exit $st"
	grep -q '^edu-nested: PASS' /tmp/nested.log
}

dpdk_testpmd() {
	a=$(bdf nic-mf0)
	b=$(bdf nic-mf1)
	bind_vfio "$a" || return 1
	bind_vfio "$b" || return 1
	mkdir -p /var/run
	rm -f /tmp/testpmd.in /tmp/testpmd.log
	mkfifo /tmp/testpmd.in
	# --no-shconf, --no-telemetry: no UNIX sockets in this kernel
	timeout $DPDK_TIMEOUT dpdk-testpmd -l 0-1 -n 1 --no-huge -m 256 \
		--no-shconf --no-telemetry -a "$a" -a "$b" -- -i \
		--total-num-mbufs=4096 --nb-cores=1 \
		</tmp/testpmd.in >/tmp/testpmd.log 2>&1 &
	pid=$!
	exec 3>/tmp/testpmd.in
	ok=0
	if prompts 1 90 $pid; then
		echo 'start tx_first' >&3
		prompts 2 20 $pid
		t0=$(uptime_s)
		sleep 6
		echo 'stop' >&3
		prompts 3 20 $pid
		t1=$(uptime_s)
		echo 'show port stats all' >&3
		prompts 4 20 $pid && ok=1
	fi
	echo 'quit' >&3
	exec 3>&-
	wait $pid
	st=$?
	tr -d '\r' </tmp/testpmd.log | sed 's/^/# testpmd: /'
	echo "# dpdk-testpmd exit $st"
	[ $ok = 1 ] && [ $st = 0 ] || return 1
	# the NIC counters of both ports: packets both ways, no errors
	awk -v secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" '
	/NIC statistics for port/ { p = $(NF - 1) + 0; seen[p] = 1 }
	/RX-packets:/ && /RX-missed:/ { rx[p] = $2; miss[p] = $4 }
	/RX-errors:/ { rxe[p] = $2 }
	/TX-packets:/ && /TX-errors:/ { tx[p] = $2; txe[p] = $4 }
	END {
		bad = 0
		for (p = 0; p < 2; p++) {
			printf "# port %d: rx %d tx %d missed %d rx-errors %d tx-errors %d\n",
				p, rx[p], tx[p], miss[p], rxe[p], txe[p]
			if (!seen[p] || rx[p] <= 0 || tx[p] <= 0 || rxe[p] != 0 || txe[p] != 0)
				bad = 1
		}
		if (secs > 0)
			printf "forwarded %d packets in %.1f s, %.0f pps\n",
				rx[0] + rx[1], secs, (rx[0] + rx[1]) / secs > "/tmp/realusers.note"
		exit bad
	}' /tmp/testpmd.log
}

# a program that ends early must not take this script with it (SIGPIPE)
trap '' PIPE
# REALUSERS_TESTS narrows the list (development)
tests=${REALUSERS_TESTS:-dpdk_testpmd nested_qemu}
echo 'TAP version 13'
echo "1..$(echo $tests | wc -w)"
n=0
rc=0
for t in $tests; do
	n=$((n + 1))
	name=$(echo $t | tr _ -)
	start=$(uptime_s)
	rm -f /tmp/realusers.note
	$t
	st=$?
	secs=$(awk -v a="$start" -v b="$(uptime_s)" 'BEGIN {printf "%.1f", b - a}')
	# a test may leave a measurement for its time line
	note=$(cat /tmp/realusers.note 2>/dev/null)
	echo "# time $name: $secs s${note:+ ($note)}"
	if [ $st = 0 ]; then
		echo "ok $n $name ($secs s)"
	else
		echo "not ok $n $name ($secs s)"
		rc=1
	fi
done
exit $rc
