#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make bench, inside one guest (scripts/bench.py boots it): loads pcisim.ko,
# builds each topology of the plan /harness/bench/plan (files written by
# bench.py, one ctl command a line) and prints what each step cost, timed
# by the kernel (debugfs pcisim/stats and pcisim/bench):
#   @@bench CASE VALUE [key=value ...]    VALUE: ns per op, or bytes
#   @@bench-error WHAT                    a step failed: the run fails
# Plan lines: "KIND FILE" with KIND enum, vfs, probe, mem, profile (enum
# with the scan profiled) or profile-attach.
# Environment: BENCH_ROUNDS (attach/claim rounds), BENCH_REPS (hot-add,
# removal and SR-IOV repetitions), PROFILE_ROUNDS (rounds of the profiled
# attach).

D=/sys/kernel/debug/pcisim
B=/harness/bench
ROUNDS=${BENCH_ROUNDS:-200}
REPS=${BENCH_REPS:-10}
PROFILE_ROUNDS=${BENCH_PROFILE_ROUNDS:-1000000}
status=0
# What pci_enable_sriov() and pci_disable_sriov() sleep whatever the
# IOMMU layer does (drivers/pci/iov.c: msleep(100) once VF Enable is set,
# ssleep(1) once it is cleared): taken off the SR-IOV times
VF_ENABLE_WAIT=100000000
VF_DISABLE_WAIT=1000000000

err() {
	echo "@@bench-error $*"
	status=1
}

ctl() {
	echo "$*" > "$D/ctl" || { err "ctl: $*"; return 1; }
}

# field NAME FILE: value of NAME=... on the first line of FILE that has it
field() {
	awk -v k="$1=" '{
		for (i = 1; i <= NF; i++)
			if (index($i, k) == 1) { print substr($i, length(k) + 1); exit }
	}' "$2"
}

ngroups() { ls /sys/kernel/iommu_groups | wc -l; }
# bytes in slab objects (active objects times their size)
slab_bytes() {
	awk 'NR > 2 { s += $2 * $4 } END { printf "%.0f\n", s }' /proc/slabinfo
}

# group NAME: the IOMMU group of pcisim function NAME
group() {
	b=$(awk -v n="$1" '$1 == n { print $2 }' "$D/map")
	[ -n "$b" ] && readlink "/sys/bus/pci/devices/$b/iommu_group" |
		sed 's|.*/||'
}

paging() { sed -n 's/.*paging=\([0-9]*\).*/\1/p' "$D/stats"; }

# feed FILE: send its lines to ctl; sets NS (kernel time of the scan and
# sriov lines) and DEVS (devices they added). With PROFILE set the
# profile is reset before the first scan and dumped after it.
feed() {
	NS=0
	DEVS=0
	while read -r line; do
		case "$line" in
		'' | '#'*) continue ;;
		scan*)
			if [ -n "$PROFILE" ]; then
				echo 0 > /proc/profile
			fi
			;;
		esac
		ctl "$line" || return 1
		case "$line" in
		scan*)
			NS=$((NS + $(field ns "$D/stats")))
			DEVS=$((DEVS + $(field added "$D/stats")))
			;;
		sriov*)
			NS=$((NS + $(field ns "$D/stats") - VF_ENABLE_WAIT))
			DEVS=$((DEVS + $(field added "$D/stats")))
			;;
		esac
		case "$line" in
		scan*)
			if [ -n "$PROFILE" ]; then
				echo "@@profile-begin ns=$(field ns "$D/stats")"
				gzip -c /proc/profile | base64
				echo "@@profile-end"
				PROFILE=
			fi
			;;
		esac
	done < "$1"
}

# bench OP NAME ROUNDS CASE WANT: one timed group operation, per round;
# WANT is the group size the case is about
bench() {
	ctl "bench $1 $2 $3" || return 1
	n=$(field devices "$D/bench")
	if [ "$n" != "$5" ]; then
		err "$4: group of $2 has $n devices, not $5"
		return 1
	fi
	echo "@@bench $4 $(($(field ns "$D/bench") / $3))" \
		"devices=$n api=$(field api "$D/bench")"
}

# readd CASE NAME PORT: remove function NAME and find it again with a
# rescan of PORT, REPS times: removal and hot-add, the group made anew
readd() {
	for _ in $(seq "$REPS"); do
		ctl "remove $2" || return 1
		echo "@@bench $1-remove $(field ns "$D/stats")"
		ctl "rescan $3" || return 1
		echo "@@bench $1-hotadd $(field ns "$D/stats")"
	done
	[ -n "$(group "$2")" ] || err "$1: $2 has no group after hot-add"
}

run_enum() {
	g0=$(ngroups)
	ctl create && feed "$B/$1" || return 1
	echo "@@bench $1 $((NS / DEVS)) devices=$DEVS groups=$(($(ngroups) - g0))"
	# the 1,000-device system has an endpoint "hot" below port "hp"
	if grep -q '^fn hot ' "$B/$1"; then
		readd sys hot hp
	fi
	ctl destroy
}

run_vfs() {
	ctl create && feed "$B/$1" || return 1
	vfs=$(sed -n 's/.*sriov=\([0-9]*\).*/\1/p' "$B/$1")
	for _ in $(seq "$REPS"); do
		g0=$(ngroups)
		ctl "sriov pf $vfs" || return 1
		ns=$(($(field ns "$D/stats") - VF_ENABLE_WAIT))
		echo "@@bench $1-enable $((ns / vfs)) groups=$(($(ngroups) - g0))"
		ctl "sriov pf 0" || return 1
		ns=$(($(field ns "$D/stats") - VF_DISABLE_WAIT))
		gone=$((0 - $(field added "$D/stats")))
		echo "@@bench $1-disable $((ns / gone))"
	done
	ctl destroy
}

# probe-gG: G devices a group; member m0, and for the hot-add cases
# endpoint hpe below port hp (g1) or bridge mbr with free slot 08 (g64)
run_probe() {
	size=${1#probe-g}
	size=${size%%.*}
	g0=$(ngroups)
	ctl create && feed "$B/$1" || return 1
	echo "@@bench probe-g$size $((NS / DEVS)) devices=$DEVS" \
		"groups=$(($(ngroups) - g0))"
	bench attach m0 "$ROUNDS" "attach-legacy-g$size" "$size"
	bench attach-core m0 "$ROUNDS" "attach-core-g$size" "$size"
	bench claim m0 "$ROUNDS" "claim-g$size" "$size"
	if [ "$size" = 1 ]; then
		readd g1 hpe hp
	fi
	if [ "$size" = 64 ]; then
		ctl "bench hold m0" || return 1
		ctl "fn bhot mbr 08.0 pci 1b36:ff12" || return 1
		for _ in $(seq "$REPS"); do
			p0=$(paging)
			ctl "rescan mbr" || return 1
			echo "@@bench attached-g64-hotadd $(field ns "$D/stats")"
			if [ "$(group bhot)" != "$(group m0)" ] ||
			   [ "$(paging)" -le "$p0" ]; then
				err "hot-added bhot not in m0's attached group"
			fi
			ctl "remove bhot" || return 1
			echo "@@bench attached-g64-remove $(field ns "$D/stats")"
		done
		ctl "bench unhold"
	fi
	ctl destroy
}

# profile-attach FILE: the profile of ROUNDS attach + detach of m0's group
run_profile_attach() {
	ctl create && feed "$B/$1" || return 1
	echo 0 > /proc/profile
	ctl "bench attach m0 $PROFILE_ROUNDS" || return 1
	echo "@@profile-begin ns=$(field ns "$D/bench") what=attach-$1"
	gzip -c /proc/profile | base64
	echo "@@profile-end"
	ctl destroy
}

# mem-*: slab growth of the scan (/proc/slabinfo), with the mock IOMMU
# taking the devices and with it refusing them (the IOMMU layer's cost is
# the difference)
run_mem() {
	for refuse in 0 1; do
		echo "$refuse" > /sys/module/pcisim/parameters/refuse
		g0=$(ngroups)
		ctl create && feed "$B/$1" || return 1
		sleep 1
		s0=$(slab_bytes)
		ctl scan || return 1
		sleep 1
		s1=$(slab_bytes)
		echo "@@bench $1-refuse$refuse $((s1 - s0))" \
			"devices=$(field added "$D/stats") groups=$(($(ngroups) - g0))"
		ctl destroy
		sleep 1
	done
	echo 0 > /sys/module/pcisim/parameters/refuse
}

mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
insmod /harness/pcisim.ko || { err "insmod pcisim.ko"; exit 1; }
while read -r kind file; do
	case "$kind" in
	'' | '#'*) continue ;;
	enum) run_enum "$file" ;;
	vfs) run_vfs "$file" ;;
	probe) run_probe "$file" ;;
	mem) run_mem "$file" ;;
	profile)
		PROFILE=1
		run_enum "$file"
		;;
	profile-attach) run_profile_attach "$file" ;;
	*) err "plan: unknown kind $kind" ;;
	esac || err "$kind $file"
done < "$B/plan"
rmmod pcisim || err "rmmod pcisim"
dmesg | grep -q 'pcisim: ' && dmesg | grep 'pcisim: ' | head -n 20
exit $status
