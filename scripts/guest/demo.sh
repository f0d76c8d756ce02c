#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of "make demo": show the IOMMU groups of the reference topology
# as userspace sees them in sysfs, then a VFIO DMA round trip.
# BDF of a topology path such as 05.0/00.0 (slot chain from root bus 00)
bdf_of() {
	dir=/sys/class/pci_bus/0000:00/device
	for slot in $(echo "$1" | tr / ' '); do
		set -- $dir/0000:??:$slot
		[ -e "$1" ] || return 1
		dir=$1
	done
	basename "$dir"
}

name_of() {
	while read -r n drv path; do
		case $n in '#'*) continue ;; esac
		[ "$(bdf_of "$path")" = "$1" ] && { echo "$n"; return; }
	done < /harness/topology
	echo "-"
}

fail() {
	echo "demo: FAILED: $*"
	exit 1
}

echo "== IOMMU groups ($(ls /sys/class/iommu 2>/dev/null | tr '\n' ' '))"
groups=0
for g in $(ls /sys/kernel/iommu_groups 2>/dev/null | sort -n); do
	gd=/sys/kernel/iommu_groups/$g
	printf 'group %-3s type %-9s' "$g" "$(cat $gd/type)"
	for d in $(ls $gd/devices); do
		drv=$(basename "$(readlink /sys/bus/pci/devices/$d/driver 2>/dev/null)" 2>/dev/null)
		printf ' %s(%s%s)' "$d" "$(name_of $d)" "${drv:+,$drv}"
	done
	echo
	groups=$((groups + 1))
done
[ "$groups" -gt 0 ] || fail "no IOMMU groups in /sys/kernel/iommu_groups"
echo
echo "== VFIO type1 round trip"
# The selftest exits 0 also when its tests skip (no edu, no VFIO): the demo
# has shown a round trip only if that test passed outright.
out=/tmp/vfio_type1.out
{ /harness/vfio_type1 2>&1; echo "$?" > "$out.status"; } | tee "$out"
st=$(cat "$out.status")
[ "$st" = 0 ] || fail "vfio_type1 exited with status $st"
grep -Eq '^ok [0-9]+ vfio_dma\.type1\.round_trip$' "$out" ||
	fail "the VFIO DMA round trip did not pass: $(grep -E '^(not )?ok [0-9]+ vfio_dma\.type1\.round_trip' "$out" || echo 'no result')"
echo "demo: ok: $groups IOMMU groups, VFIO type1 DMA round trip passed"
