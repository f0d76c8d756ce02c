#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest helper: on a kernel built with kmemleak, scan now and print one
# KTAP line "ok|not ok N NAME" (N and NAME from the arguments), with the
# report on a leak; exit 1 on a leak. Prints nothing without kmemleak.
n=${1:-1}
name=${2:-kmemleak}
[ -w /sys/kernel/debug/kmemleak ] || exit 0
echo scan > /sys/kernel/debug/kmemleak
sleep 5
echo scan > /sys/kernel/debug/kmemleak
leaks=$(grep -c '^unreferenced object' /sys/kernel/debug/kmemleak)
if [ "$leaks" = 0 ]; then
	echo "ok $n $name"
	exit 0
fi
cat /sys/kernel/debug/kmemleak
echo "not ok $n $name # $leaks leaks"
exit 1
