#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the iommufd peer suite: upstream's iommufd selftests of the
# base tree (adapted to 6.12, see peer/iommufd/README.md), copied next to
# this script by scripts/build-peer.sh. Sets up what they need, runs
# ./iommufd and ./iommufd_fail_nth (each prints its own KTAP), then looks
# for kernel splats, which iommufd_fail_nth exists to provoke.
cd "$(dirname "$0")" || exit 1
rc=0

# debugfs: the mock driver's fault injection (fail_iommufd) and failslab
# live there. Without them iommufd_fail_nth skips every test, which would
# look like a pass: count it as a failure of the run.
if [ ! -d /sys/kernel/debug/failslab ]; then
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
fi
for d in failslab fail_iommufd; do
	[ -d /sys/kernel/debug/$d ] && continue
	echo "# peer: no /sys/kernel/debug/$d (FAILSLAB, IOMMUFD_TEST, FAULT_INJECTION_DEBUG_FS?)"
	rc=1
done
[ -e /dev/iommu ] || { echo "# peer: no /dev/iommu (CONFIG_IOMMUFD missing?)"; rc=1; }

# 2 MiB huge pages for the *_hugepage variants of iommufd_mock_domain
want=64
have=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
if [ "$have" -lt "$want" ]; then
	echo "$want" > /proc/sys/vm/nr_hugepages 2>/dev/null
	have=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
fi
echo "# peer: nr_hugepages=$have (want >= $want)"
[ "$have" -ge "$want" ] || rc=1

dmesg -c > /dev/null 2>&1
for t in iommufd iommufd_fail_nth; do
	if [ ! -x "./$t" ]; then
		echo "not ok 1 $t # program missing from the initramfs"
		rc=1
		continue
	fi
	echo "# selftest: $t"
	start=$(cut -d' ' -f1 /proc/uptime)
	timeout 500 "./$t"
	st=$?
	end=$(cut -d' ' -f1 /proc/uptime)
	echo "# selftest: $t exit $st ($(awk "BEGIN { print $end - $start }")s)"
	case $st in
	0|4) ;;		# pass / skip
	*) rc=1 ;;
	esac
done

# A WARN/BUG/KASAN report during the run is a failure even if every test
# reported ok: the fault injection sweep is looking for exactly those.
splats=$(dmesg | grep -E 'WARNING:|BUG:|Oops|KASAN|UBSAN|kmemleak|refcount_t:|list_(add|del) corruption' || true)
if [ -n "$splats" ]; then
	echo "# peer: kernel splats during the run:"
	echo "$splats" | sed 's/^/# peer:   /'
	rc=1
else
	echo "# peer: no kernel splats in dmesg"
fi
exit $rc
