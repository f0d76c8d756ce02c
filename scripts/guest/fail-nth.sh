#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the "faults" suite: run the isolation_faults KUnit suite
# again, now with failslab armed for GFP_KERNEL allocations, so that the
# sweep makes the N-th slab allocation of each path fail as well as the
# N-th driver callback (at boot it had driver faults only). The kernel
# prints the suite's KTAP on the console as it runs; this prints the
# sweep's "fail_nth:" lines again without the kernel's prefix, and scans
# a kmemleak kernel afterwards.
fi=/sys/kernel/debug/failslab
suite=/sys/kernel/debug/kunit/isolation_faults
if [ ! -d "$fi" ] || [ ! -w "$suite/run" ]; then
	echo "not ok 1 fail_nth # no failslab or KUnit debugfs in this kernel"
	exit 1
fi
echo N > "$fi/ignore-gfp-wait"
echo 0 > "$fi/verbose"
echo 1 > "$suite/run"
echo Y > "$fi/ignore-gfp-wait"
sed -n 's/^ *# fault_sweep: //p' "$suite/results" | sed 's/^/# /'
grep -q 'allocation faults on' "$suite/results" ||
	echo "not ok 2 fail_nth allocation faults # failslab did not arm"
sh /harness/kmemleak.sh 3 "fail_nth kmemleak"
