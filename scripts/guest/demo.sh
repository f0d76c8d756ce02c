#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of "make demo": show the IOMMU groups of the reference topology
# as userspace sees them in sysfs, lsisolation's listing of them with why
# devices share a group (the switch below an ACS-less port must be
# explained), then a VFIO DMA round trip.
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

# BDF of topology device $1 (a name of /harness/topology)
bdf_named() {
	while read -r n drv path; do
		[ "$n" = "$1" ] && { bdf_of "$path"; return; }
	done < /harness/topology
	return 1
}

group_of() {
	g=$(readlink "/sys/bus/pci/devices/$1/iommu_group" 2>/dev/null) || return 1
	basename "$g"
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
echo "== lsisolation: the groups and why devices share them"
lsiso=/harness/lsisolation
[ -x "$lsiso" ] || fail "no $lsiso (scripts/build-selftests.sh builds it)"
"$lsiso" > /tmp/lsisolation.out 2> /tmp/lsisolation.err
st=$?
cat /tmp/lsisolation.out
[ "$st" = 0 ] || fail "lsisolation exited with status $st: $(cat /tmp/lsisolation.err)"
# The switch: edu-sw1 and edu-sw2 below downstream ports without ACS
sw1=$(bdf_named edu-sw1) && sw2=$(bdf_named edu-sw2) ||
	fail "no edu-sw1/edu-sw2 in this machine's topology"
g1=$(group_of "$sw1") || fail "edu-sw1 ($sw1) has no IOMMU group"
g2=$(group_of "$sw2") || fail "edu-sw2 ($sw2) has no IOMMU group"
# the block of edu-sw1's group in the listing
awk -v g="Group $g1:" 'index($0, g) == 1 { p = 1; print; next }
	/^Group / { p = 0 } p' /tmp/lsisolation.out > /tmp/lsisolation.sw
echo "== lsisolation: why edu-sw1 ($sw1) and edu-sw2 ($sw2) are grouped as they are"
grep -E '^  (why|warning): ' /tmp/lsisolation.sw
grep -q "^  why: $sw1: below switch downstream port" /tmp/lsisolation.sw ||
	fail "no why line for edu-sw1 ($sw1) in group $g1"
if [ "$g1" = "$g2" ]; then
	grep -q "^  why: $sw2: below switch downstream port" /tmp/lsisolation.sw ||
		fail "no why line for edu-sw2 ($sw2) in group $g1"
	grep -q '^  why: switch downstream ports .* reach each other: .* ACS' /tmp/lsisolation.sw ||
		fail "no why line for the switch's ports in group $g1 (edu-sw1 and edu-sw2 share it)"
	why="edu-sw1 and edu-sw2 share group $g1: the switch's ports lack ACS"
else
	# a kernel that splits the switch (stock): the tool must warn
	dsw2=$(bdf_named dsw2) || fail "no dsw2 in this machine's topology"
	grep -q "^  warning: switch downstream ports .*$dsw2.* yet " /tmp/lsisolation.sw ||
		fail "edu-sw1 (group $g1) and edu-sw2 (group $g2) are split, and lsisolation does not warn"
	why="edu-sw1 (group $g1) and edu-sw2 (group $g2) split by this kernel; lsisolation warns"
fi
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
echo "demo: ok: $groups IOMMU groups, $why, VFIO type1 DMA round trip passed"
