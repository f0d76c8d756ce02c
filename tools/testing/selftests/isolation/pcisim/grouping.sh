#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# grouping.sh [DIR]: the grouping conformance table (topologies/README).
#
# For every DIR/*.topo (default: topologies/ next to this script) build the
# topology with pcisim.ko (pcisim/README), read which pcisim device is in
# which IOMMU group, and compare the partition with the file's expect
# lines. KTAP on stdout, one result per topology; the last line is
#   grouping: VARIANT P of T topologies as expected
# Exit status 0 when no result is "not ok".
#
# Environment:
#   VARIANT / ISOLATION_VARIANT  stock or isolation (else: uname -r, then
#                      whether the kernel has the isolation core's sysfs)
#   BOOT_PARAMS        kernel parameters this boot has (default
#                      /proc/cmdline); a topology with "boot-param X" runs
#                      only if X is in it, else it is a SKIP
#   GROUPING_BOOT_ONLY=1  list only the topologies with a boot-param
#                      that BOOT_PARAMS has (the separate boot of check.py)
#   GROUPING_ONLY      space-separated topology names (no .topo) to run
#   PCISIM_KO          the module (default /harness/pcisim.ko)
#   GROUPING_ROOT      host testing: prefix for /sys and /proc paths
#   GROUPING_FAKE      host testing: a command run with each ctl command
#                      as its arguments instead of writing to ctl (it
#                      keeps GROUPING_ROOT's map and iommu_group links);
#                      no insmod then
#   GROUPING_DMESG     the command printing the kernel log (dmesg)
#   GROUPING_DRYRUN=1  print the ctl commands only ("# ctl: ..."), check
#                      the files' syntax, compare nothing
#   LSISOLATION        tools/isolation/lsisolation (default
#                      /harness/lsisolation); GROUPING_LSISOLATION=0 skips it
#
# lsisolation: after each block the tool's "--predict" (the groups the PCI
# rules give from config space alone) is compared with the kernel's groups
# of the pcisim devices; one more result per topology,
#   ok N lsisolation.TOPO        the same partition in every block
#   not ok N lsisolation.TOPO # block K: kernel {..}; lsisolation {..}
#   ok N lsisolation.TOPO # XFAIL ...   stock where the file says "stock
#                      differs" and the tool predicts the expect lines; or
#                      a block after hot-plug steps (rescan, remove,
#                      unplug) where the kernel keeps what it grouped before
#                      as the expect lines say (groups never split, groups
#                      in use take in no members), which config space alone
#                      cannot show, while every block before agrees
# and the line "grouping: lsisolation agrees with the kernel on X of N
# topologies run (VARIANT, ...)".
#
# POSIX sh (busybox ash): no arrays, no [[ ]], no local.

set -f
here=$(dirname "$0")
dir=${1:-$here/topologies}
root=${GROUPING_ROOT:-}
dbg=$root/sys/kernel/debug/pcisim
ctl=$dbg/ctl
map=$dbg/map
pcidevs=$root/sys/bus/pci/devices
ko=${PCISIM_KO:-/harness/pcisim.ko}
dmesg_cmd=${GROUPING_DMESG:-dmesg}
dryrun=${GROUPING_DRYRUN:-}
fake=${GROUPING_FAKE:-}
splat='WARNING:|BUG:'
lsiso=${LSISOLATION:-/harness/lsisolation}
if [ "${GROUPING_LSISOLATION:-1}" = 0 ] || [ -n "$dryrun" ] || [ ! -x "$lsiso" ]; then
	lsiso_skip="lsisolation not run${dryrun:+ (dry run)}"
	[ -x "$lsiso" ] || lsiso_skip="no lsisolation at $lsiso"
	lsiso=
fi

if [ -z "${BOOT_PARAMS+x}" ]; then
	BOOT_PARAMS=$(cat "$root/proc/cmdline" 2>/dev/null)
fi
cmdline=$(cat "$root/proc/cmdline" 2>/dev/null)

variant=${VARIANT:-${ISOLATION_VARIANT:-}}
if [ -z "$variant" ]; then
	case $(uname -r) in
	*isolation*) variant=isolation ;;
	esac
fi
if [ -z "$variant" ]; then
	set +f
	for h in "$root"/sys/kernel/iommu_groups/*/holder \
		 "$pcidevs"/*/isolation_group; do
		if [ -e "$h" ]; then
			variant=isolation
			break
		fi
	done
	set -f
	variant=${variant:-stock}
fi

tmp=$(mktemp -d /tmp/grouping.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# ---------------------------------------------------------------------------
# Partitions. A partition is kept as a file of "GROUPID NAME" lines;
# canon() prints it as "{a,b} {c} nogroup{d}" (names sorted in a group,
# groups sorted), so two partitions are equal iff their canon strings are.

canon() {
	sort -k2 "$1" | awk '
		$1 == "none" { ng = ng (ng == "" ? "" : ",") $2; next }
		{ g[$1] = g[$1] (g[$1] == "" ? "" : ",") $2 }
		END {
			for (k in g)
				print "{" g[k] "}"
			if (ng != "")
				print "nogroup{" ng "}"
		}' | sort | tr '\n' ' ' | sed 's/ $//'
}

# The names of a partition file appearing more than once
dups() {
	awk '{ print $2 }' "$1" | sort | uniq -d | tr '\n' ' ' | sed 's/ $//'
}

# The actual partition of the pcisim devices now in the kernel
actual() {
	: > "$tmp/actual"
	[ -r "$map" ] || return 1
	while read -r nm bdf rest; do
		[ -n "$nm" ] || continue
		link=$pcidevs/$bdf/iommu_group
		if [ -L "$link" ]; then
			g=$(readlink "$link")
			g=${g##*/}
		else
			g=none
		fi
		echo "$g $nm" >> "$tmp/actual"
	done < "$map"
	return 0
}

# The partition lsisolation --predict gives for the pcisim devices now in
# the kernel, as actual() does for the kernel's groups
predicted() {
	: > "$tmp/pred"
	"$lsiso" --predict -r "$root/sys" > "$tmp/pred.out" 2> "$tmp/pred.err"
	rc=$?
	if [ "$rc" != 0 ] && [ "$rc" != 3 ]; then
		ls_err="lsisolation --predict: exit $rc: $(head -n 1 "$tmp/pred.err")"
		return 1
	fi
	awk 'NR == FNR {
		if ($1 == "Predicted" && $2 == "group") {
			g = $3
			sub(":", "", g)
			for (i = 4; i <= NF && substr($i, 1, 1) != "("; i++)
				grp[$i] = "p" g
		}
		next
	}
	$1 != "" { print (($2 in grp) ? grp[$2] : "none"), $1 }' \
		"$tmp/pred.out" "$map" > "$tmp/pred"
}

# Compare the tool's partition of this block with the kernel's ($a) and
# the expect lines ($e); after_steps=1 once a hot-plug step has run
ls_block() {
	[ -n "$lsiso" ] && [ -z "$ls_err" ] || return 0
	predicted || return 0
	p=$(canon "$tmp/pred")
	if [ "$p" != "$a" ]; then
		echo "# $name block $blk: lsisolation $p"
		[ -n "$ls_first" ] || ls_first="block $blk: kernel $a; lsisolation $p"
		if [ "$after_steps" = 1 ]; then
			ls_late=1
		else
			ls_early=1
		fi
	fi
	if [ "$p" != "$e" ] && [ "$after_steps" = 0 ] && [ -z "$ls_design" ]; then
		ls_design="block $blk: expected $e; lsisolation $p"
	fi
}

# ---------------------------------------------------------------------------
# ctl

ctl_err=
send() {
	if [ -n "$dryrun" ]; then
		echo "# ctl: $*"
		return 0
	fi
	if [ -n "$fake" ]; then
		ctl_err=$($fake "$@" 2>&1 </dev/null) && return 0
	else
		ctl_err=$( { printf '%s\n' "$*" > "$ctl"; } 2>&1) && return 0
	fi
	why=$(echo "$ctl_err" | tail -n 1)
	# pcisim says why in the kernel log
	klog=$($dmesg_cmd 2>/dev/null | grep 'pcisim: ' | tail -n 1 |
	       sed 's/^\[[^]]*\] *//')
	ctl_err="ctl '$*' failed${why:+: $why}${klog:+ (log: $klog)}"
	return 1
}

# The BDF of pcisim function $1 now in the kernel (empty if absent)
bdf_of() {
	[ -r "$map" ] || return 0
	while read -r nm bdf rest; do
		if [ "$nm" = "$1" ]; then
			echo "$bdf"
			return 0
		fi
	done < "$map"
}

splats() {
	$dmesg_cmd 2>/dev/null | grep -E "$splat"
}

# ---------------------------------------------------------------------------
# One .topo file. Sets: verdict (ok, not ok), directive (text after '#'),
# matched (1 if every block matched the expect lines).

bad=
blk=0
nblk_mismatch=
first_mismatch=
stock_mismatch=
block_open=0

block_start() {
	blk=$((blk + 1))
	: > "$tmp/exp"
	: > "$tmp/sexp"
	egid=0
	sgid=0
	block_open=1
}

# add_group FILE GIDVAR-PREFIX NAMES...
block_end() {
	block_open=0
	[ -n "$dryrun" ] && return 0
	if ! actual; then
		bad="cannot read $map"
		return 1
	fi
	e=$(canon "$tmp/exp")
	a=$(canon "$tmp/actual")
	d=$(dups "$tmp/exp")
	if [ -n "$d" ]; then
		bad="block $blk: $d in more than one expect line"
		return 1
	fi
	echo "# $name block $blk: actual $a"
	if [ "$e" != "$a" ]; then
		nblk_mismatch=$((nblk_mismatch + 1))
		[ -n "$first_mismatch" ] ||
			first_mismatch="block $blk: expected $e; actual $a"
	fi
	if [ -s "$tmp/sexp" ]; then
		s=$(canon "$tmp/sexp")
		if [ "$s" != "$a" ] && [ -z "$stock_mismatch" ]; then
			stock_mismatch="block $blk: stock-expect $s; actual $a"
		fi
	fi
	[ "$e" = "$a" ] || [ "$after_steps" = 0 ] || ls_late_kernel_off=1
	ls_block
	return 0
}

run_topo() {
	file=$1
	skip=
	bad=
	blk=0
	nblk_mismatch=0
	first_mismatch=
	stock_mismatch=
	block_open=0
	scanned=0
	lineno=0
	after_steps=0
	ls_err=
	ls_first=
	ls_early=
	ls_late=
	ls_late_kernel_off=
	ls_design=

	send create || { bad=$ctl_err; return; }
	while IFS= read -r line || [ -n "$line" ]; do
		lineno=$((lineno + 1))
		line=${line%%#*}
		# shellcheck disable=SC2086
		set -- $line
		[ $# -gt 0 ] || continue
		kw=$1
		case $kw in
		expect | nogroup | stock-expect | stock-nogroup)
			if [ "$scanned" = 0 ]; then
				send scan || { bad=$ctl_err; break; }
				scanned=1
			fi
			[ "$block_open" = 1 ] || block_start
			shift
			names=
			while [ $# -gt 0 ] && [ "$1" != ":" ]; do
				case $1 in
				*:) names="$names ${1%:}"; shift; break ;;
				esac
				names="$names $1"
				shift
			done
			if [ -z "$names" ]; then
				bad="line $lineno: $kw without names"
				break
			fi
			case $kw in
			expect) egid=$((egid + 1)); out=$tmp/exp; g=e$egid ;;
			nogroup) out=$tmp/exp; g=none ;;
			stock-expect) sgid=$((sgid + 1)); out=$tmp/sexp; g=s$sgid ;;
			stock-nogroup) out=$tmp/sexp; g=none ;;
			esac
			for n in $names; do
				echo "$g $n" >> "$out"
			done
			continue
			;;
		boot-param | stock)
			continue
			;;
		esac
		# any other line is a step: it ends the current expect block
		if [ "$block_open" = 1 ]; then
			block_end || break
		fi
		case $kw in
		fn)
			shift
			if [ $# -lt 5 ]; then
				bad="line $lineno: fn needs NAME PARENT DD.F TYPE VVVV:DDDD"
				break
			fi
			send fn "$@" || { bad=$ctl_err; break; }
			;;
		scan)
			send scan || { bad=$ctl_err; break; }
			scanned=1
			;;
		rescan | unplug | remove)
			[ $# -eq 2 ] || { bad="line $lineno: $kw NAME"; break; }
			if [ "$scanned" = 0 ]; then
				send scan || { bad=$ctl_err; break; }
				scanned=1
			fi
			send "$@" || { bad=$ctl_err; break; }
			after_steps=1
			;;
		sriov)
			[ $# -eq 3 ] || { bad="line $lineno: sriov NAME N"; break; }
			if [ "$scanned" = 0 ]; then
				send scan || { bad=$ctl_err; break; }
				scanned=1
			fi
			if [ -z "$dryrun" ] && [ -z "$fake" ]; then
				pfb=$(bdf_of "$2")
				if [ -n "$pfb" ] && [ ! -e "$pcidevs/$pfb/sriov_totalvfs" ]; then
					skip="kernel without SR-IOV support"
					skip="$skip (CONFIG_PCI_IOV: no sriov_totalvfs on $2)"
					break
				fi
			fi
			send "$@" || { bad=$ctl_err; break; }
			;;
		*)
			bad="line $lineno: unknown keyword '$kw'"
			break
			;;
		esac
	done < "$file"
	if [ -z "$bad" ] && [ -z "$skip" ] && [ "$block_open" = 1 ]; then
		block_end
	fi
	if [ -z "$bad" ] && [ -z "$skip" ] && [ "$blk" = 0 ]; then
		bad="no expect lines"
	fi
	send destroy || [ -n "$bad" ] || bad=$ctl_err
}

# ---------------------------------------------------------------------------
# main

set +f
files=
for f in "$dir"/*.topo; do
	[ -f "$f" ] || continue
	n=${f##*/}
	n=${n%.topo}
	if [ -n "${GROUPING_ONLY:-}" ]; then
		case " $GROUPING_ONLY " in
		*" $n "*) ;;
		*) continue ;;
		esac
	fi
	bp=$(sed -n 's/^boot-param[[:space:]]\{1,\}\([^#[:space:]]*\).*/\1/p' "$f" | head -n 1)
	if [ -n "${GROUPING_BOOT_ONLY:-}" ]; then
		[ -n "$bp" ] || continue
		case " $BOOT_PARAMS " in
		*" $bp "*) ;;
		*) continue ;;
		esac
	fi
	files="$files $f"
done
set -f

total=0
for f in $files; do
	total=$((total + 1))
done

echo "TAP version 13"
if [ -n "$dryrun" ]; then
	echo "1..$total"
else
	echo "1..$((2 * total))"
fi
echo "# grouping: variant $variant, topologies from $dir"

if [ -z "$dryrun" ] && [ -z "$fake" ] && [ ! -e "$ctl" ]; then
	[ -d "$root/sys/kernel/debug" ] && [ -z "$(ls "$root/sys/kernel/debug" 2>/dev/null)" ] &&
		mount -t debugfs debugfs "$root/sys/kernel/debug" 2>/dev/null
	if [ ! -e "$ctl" ]; then
		if ! out=$(insmod "$ko" 2>&1) || [ ! -e "$ctl" ]; then
			i=0
			for f in $files; do
				n=${f##*/}
				i=$((i + 1))
				echo "not ok $i ${n%.topo} # pcisim not available: insmod $ko: $out"
				i=$((i + 1))
				echo "ok $i lsisolation.${n%.topo} # SKIP pcisim not available"
			done
			echo "grouping: $variant 0 of $total topologies as expected"
			exit 1
		fi
	fi
fi

# One topology's grouping result, test number $t; ls_skip says why its
# lsisolation result cannot be had
one_topo() {
	f=$1
	ls_skip=
	bp=$(sed -n 's/^boot-param[[:space:]]\{1,\}\([^#[:space:]]*\).*/\1/p' "$f" | head -n 1)
	sp='[[:space:]]'
	sd=$(sed -n "s/^stock$sp\\{1,\\}differs$sp*:\\{0,1\\}$sp*\\(.*\\)/\\1/p" "$f" |
		head -n 1)
	if grep -q '^stock[[:space:]]\{1,\}differs' "$f"; then
		stock_differs=1
		sd=${sd:-stock 6.12 differs}
	else
		stock_differs=0
	fi
	if [ -n "$bp" ]; then
		case " $BOOT_PARAMS " in
		*" $bp "*) ;;
		*)
			echo "ok $t $name # SKIP needs boot param $bp"
			ls_skip="needs boot param $bp"
			return
			;;
		esac
		case " $cmdline " in
		*" $bp "*) ;;
		*)
			if [ -z "$dryrun" ] && [ -z "$fake" ]; then
				echo "not ok $t $name # BOOT_PARAMS has $bp" \
					"but /proc/cmdline does not"
				failed=$((failed + 1))
				ls_skip="the topology did not run"
				return
			fi
			;;
		esac
	fi

	n0=$(splats | wc -l)
	run_topo "$f"
	newsplat=
	if [ -z "$dryrun" ]; then
		n1=$(splats | wc -l)
		if [ "$n1" -gt "$n0" ]; then
			newsplat=$(splats | tail -n $((n1 - n0)) | head -n 1 |
				   sed 's/^\[[^]]*\] *//')
		elif [ "$n1" -lt "$n0" ]; then
			# the log wrapped; compare the last line instead
			:
		fi
	fi

	if [ -n "$bad" ]; then
		echo "not ok $t $name # $bad"
		failed=$((failed + 1))
		ls_skip="the topology did not run"
		return
	fi
	if [ -n "$skip" ] && [ -z "$newsplat" ]; then
		echo "ok $t $name # SKIP $skip"
		ls_skip=$skip
		return
	fi
	if [ -n "$dryrun" ]; then
		echo "ok $t $name # SKIP dry run"
		return
	fi
	if [ -n "$newsplat" ]; then
		[ "$nblk_mismatch" = 0 ] && pass=$((pass + 1))
		echo "not ok $t $name # kernel log: $newsplat"
		failed=$((failed + 1))
		return
	fi
	if [ "$nblk_mismatch" = 0 ]; then
		pass=$((pass + 1))
		if [ "$variant" = stock ] && [ "$stock_differs" = 1 ]; then
			echo "not ok $t $name # XPASS stock matches the expected grouping ($sd)"
			failed=$((failed + 1))
		else
			echo "ok $t $name"
		fi
		return
	fi
	if [ "$variant" = stock ] && [ "$stock_differs" = 1 ]; then
		if [ -n "$stock_mismatch" ]; then
			echo "not ok $t $name # stock changed: $stock_mismatch"
			failed=$((failed + 1))
		else
			echo "ok $t $name # XFAIL $sd"
		fi
		return
	fi
	echo "not ok $t $name # $first_mismatch"
	failed=$((failed + 1))
}

# The topology's lsisolation result, test number $t
ls_verdict() {
	if [ -z "$lsiso" ] || [ -n "$ls_skip" ]; then
		echo "ok $t lsisolation.$name # SKIP ${ls_skip:-$lsiso_skip}"
		ls_skipped=$((ls_skipped + 1))
		return
	fi
	ls_ran=$((ls_ran + 1))
	if [ -n "$ls_err" ]; then
		echo "not ok $t lsisolation.$name # $ls_err"
		failed=$((failed + 1))
		return
	fi
	if [ -z "$ls_early$ls_late" ]; then
		# the tool must predict the rules, not stock's grouping
		if [ -n "$ls_design" ]; then
			why="agrees with the kernel, not with the rules"
			echo "not ok $t lsisolation.$name # $why: $ls_design"
			failed=$((failed + 1))
			return
		fi
		ls_agree=$((ls_agree + 1))
		echo "ok $t lsisolation.$name"
		return
	fi
	if [ "$variant" = stock ] && [ "$stock_differs" = 1 ] && [ -z "$ls_design" ]; then
		why="lsisolation predicts the expected groups"
		echo "ok $t lsisolation.$name # XFAIL $sd ($why)"
		ls_xfail=$((ls_xfail + 1))
		return
	fi
	if [ -z "$ls_early" ] && [ -z "$ls_late_kernel_off" ] && [ -z "$ls_design" ]; then
		why="kernel keeps groups of before the hot-plug steps, as expected"
		why="$why; config space alone cannot show that"
		echo "ok $t lsisolation.$name # XFAIL $why: $ls_first"
		ls_xfail=$((ls_xfail + 1))
		return
	fi
	echo "not ok $t lsisolation.$name # $ls_first"
	failed=$((failed + 1))
}

pass=0
failed=0
ls_agree=0
ls_xfail=0
ls_ran=0
ls_skipped=0
i=0
for f in $files; do
	i=$((i + 1))
	name=${f##*/}
	name=${name%.topo}
	if [ -n "$dryrun" ]; then
		t=$i
		one_topo "$f"
		continue
	fi
	t=$((2 * i - 1))
	one_topo "$f"
	t=$((2 * i))
	ls_verdict
done

echo "grouping: $variant $pass of $total topologies as expected"
if [ -z "$dryrun" ]; then
	echo "grouping: lsisolation agrees with the kernel on $ls_agree of" \
		"$ls_ran topologies run ($variant; $ls_xfail XFAIL, $ls_skipped skipped)"
fi
[ "$failed" = 0 ]
