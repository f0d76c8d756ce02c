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

echo "== IOMMU groups ($(ls /sys/class/iommu | tr '\n' ' '))"
for g in $(ls /sys/kernel/iommu_groups | sort -n); do
	gd=/sys/kernel/iommu_groups/$g
	printf 'group %-3s type %-9s' "$g" "$(cat $gd/type)"
	for d in $(ls $gd/devices); do
		drv=$(basename "$(readlink /sys/bus/pci/devices/$d/driver 2>/dev/null)" 2>/dev/null)
		printf ' %s(%s%s)' "$d" "$(name_of $d)" "${drv:+,$drv}"
	done
	echo
done
echo
echo "== VFIO type1 round trip"
/harness/vfio_type1
