#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of "make check": run every isolation selftest in /harness, one
# after the other, each with a time limit. Each prints its own KTAP; a
# program that dies without reporting gets a "not ok" line here.
cd /harness || exit 1
rc=0
case ${ISOLATION_MACHINE:-} in
# sPAPR: the default domain is the platform's own (no DMA API domain types)
# and VFIO offers the sPAPR TCE v2 container instead of type1.
pseries) tests="groups sysfs_mode vfio_spapr" ;;
*) tests="groups domain_type sysfs_mode vfio_type1 vfio_cdev viability ownership hotplug lsisolation_check" ;;
esac
# ISOLATION_TESTS narrows the list (make check-quick TESTS="groups ...")
# or names others (hotplug_cycles: check.py's hotplug-cycles suite, with
# HOTPLUG_CYCLES); ISOLATION_TIMEOUT is each program's limit in seconds
tests=${ISOLATION_TESTS:-$tests}
for t in $tests; do
	if [ ! -x "./$t" ]; then
		echo "not ok 1 $t # program missing from the initramfs"
		rc=1
		continue
	fi
	echo "# selftest: $t"
	timeout "${ISOLATION_TIMEOUT:-300}" "./$t"
	st=$?
	echo "# selftest: $t exit $st"
	case $st in
	0|4) ;;		# pass / skip
	*) rc=1 ;;
	esac
	# Leave no driver_override behind for the next program
	for d in /sys/bus/pci/devices/*; do
		[ -w "$d/driver_override" ] && echo > "$d/driver_override" 2>/dev/null
	done
done
# A kernel built with kmemleak: scan once all tests are done and report
sh /harness/kmemleak.sh 1 kmemleak || rc=1
exit $rc
