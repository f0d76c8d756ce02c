#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# lsisolation --diff across a real kernel change, on one harness machine:
#   1. boot stock, save its "lsisolation --json" as build/lsisolation/
#      MACHINE-stock.json;
#   2. boot isolation with that snapshot: save MACHINE-isolation.json, run
#      "lsisolation --diff" of the stock snapshot and the lsisolation_check
#      selftest (its diff_saved_snapshot case reads the snapshot);
#   3. boot stock again with the isolation snapshot: the diff the other way.
# Checked here (KTAP): both diffs exit 3, the switch's devices (edu-sw1,
# edu-sw2, whose ports lack ACS) are reported as moved, with the switch
# rule as why ("shares with" on isolation, "no longer shares with ...
# before: switch downstream ports ..." on stock), no device appears or
# disappears, and each kernel's diff of its own snapshot finds no change.
# The diffs are kept as MACHINE-{stock-to-isolation,isolation-to-stock}.txt.
#   lsisolation-diff.sh [MACHINE]        (default vtd; x86_64 machines)
# Needs both x86_64 kernels and scripts/build-selftests.sh x86_64 stock
# isolation. Exit status 0 when every check passes.
set -eu
. "$(dirname "$0")/lib.sh"

machine=${1:-vtd}
dir=$BUILD/lsisolation
mkdir -p "$dir" "$LOGS"
for v in stock isolation; do
	[ -f "$(kernel_out "$v" x86_64)/$(arch_image x86_64)" ] ||
		die "no $v x86_64 kernel: make kernel-$v-x86_64"
done
[ -x "$BUILD/selftests/x86_64/lsisolation" ] ||
	die "no lsisolation: scripts/build-selftests.sh x86_64 stock isolation"

# The guest's part: its own snapshot (lines "@@json ..."), the BDFs of the
# switch's devices ("@@bdf NAME BDF"), the diff of its own snapshot and of
# /harness/lsisolation-saved.json if given ("@@diff ..." lines, then
# "@@diff-status N"), and the selftest if asked.
guest=$(mktemp /tmp/lsisolation-diff.XXXXXX)
trap 'rm -f "$guest"' EXIT
cat > "$guest" <<'GUEST'
bdf() {
	dir=/sys/class/pci_bus/0000:00/device
	for slot in $(echo "$1" | tr / ' '); do
		set -- "$dir"/0000:??:"$slot"
		[ -e "$1" ] || return 1
		dir=$1
	done
	basename "$dir"
}
while read -r n drv path; do
	case $n in edu-sw1|edu-sw2|dsw1|dsw2|dsw3|usw) echo "@@bdf $n $(bdf "$path")" ;; esac
done < /harness/topology
lsisolation --json > /tmp/now.json
echo "@@json-status $?"
sed 's/^/@@json /' /tmp/now.json
lsisolation --diff /tmp/now.json > /tmp/self.txt
echo "@@self-status $?"
if [ -f /harness/lsisolation-saved.json ]; then
	lsisolation --diff /harness/lsisolation-saved.json > /tmp/diff.txt
	st=$?
	sed 's/^/@@diff /' /tmp/diff.txt
	echo "@@diff-status $st"
	if [ -n "${SELFTEST:-}" ]; then
		/harness/lsisolation_check -t diff_saved_snapshot 2>&1 | sed 's/^/@@check /'
	fi
fi
GUEST

n=0
failed=0
check() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2${3:+ # $3}"
		failed=$((failed + 1))
	fi
}

# boot VARIANT SAVED-OR-EMPTY TAG [SELFTEST]: the console in $LOGS
boot() {
	local args=() log=$LOGS/lsisolation-diff-$3.log
	[ -n "$2" ] && args+=(--file "$2:/harness/lsisolation-saved.json")
	"$TOP/scripts/vm.py" --machine "$machine" --variant "$1" --quiet \
		--log "$log" --timeout 600 "${args[@]}" \
		--exec "SELFTEST=${4:-} sh /harness/run-diff.sh" \
		--file "$guest:/harness/run-diff.sh" >/dev/null || true
	tr -d '\r' < "$log" > "$log.txt"
}

# field LOG KEY: the lines "@@KEY ..." without the prefix
field() {
	sed -n -e "s/^@@$2 //p" -e "/^@@$2\$/s/.*//p" "$1"
}

snapshot() {
	local log=$1 out=$2
	field "$log" json > "$out"
	[ "$(field "$log" json-status)" = 0 ] &&
		python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$out" 2>/dev/null
}

# verify TAG LOG DIRECTION: the diff in LOG; DIRECTION joined or split
verify() {
	local tag=$1 log=$2 how=$3 txt=$dir/$machine-$1.txt st bad sw1 sw2 d l
	field "$log" diff > "$txt"
	st=$(field "$log" diff-status)
	check "$([ "$st" = 3 ]; echo $?)" "diff.$tag.exit" "exit ${st:-none}, want 3"
	sw1=$(field "$log" bdf | awk '$1 == "edu-sw1" { print $2 }')
	sw2=$(field "$log" bdf | awk '$1 == "edu-sw2" { print $2 }')
	# moved: the switch's ports and endpoints, nothing else
	bad=
	want=$(field "$log" bdf | awk '$1 != "usw" { print $2 }' | sort | tr '\n' ' ')
	got=$(sed -n 's/^moved: \([^ ]*\) .*/\1/p' "$txt" | sort | tr '\n' ' ')
	check "$([ "$want" = "$got" ]; echo $?)" "diff.$tag.moved_set" \
		"moved: $got; want $want"
	grep -Eq '^(appeared|disappeared): ' "$txt" && bad=1
	check "${bad:-0}" "diff.$tag.nothing_appeared"
	for d in "$sw1=$sw2" "$sw2=$sw1"; do
		a=${d%%=*}
		b=${d#*=}
		if [ -z "$a" ] || [ -z "$b" ]; then
			check 1 "diff.$tag.switch_why" "no BDFs of edu-sw1/edu-sw2"
			continue
		fi
		# the moved block of $a
		blk=$(awk -v m="moved: $a " 'index($0, m) == 1 { p = 1; print; next }
			/^[^ ]/ { p = 0 } p' "$txt")
		if [ "$how" = joined ]; then
			l=$(echo "$blk" | grep "^  shares with .*$b" | head -n 1)
			echo "$l" | grep -q ': switch downstream ports .* lack ACS' ||
				l=
		else
			l=$(echo "$blk" | grep "^  no longer shares with .*$b" | head -n 1)
			echo "$l" | grep -q 'before: switch downstream ports .* lack ACS.*now: in group .*not isolated' ||
				l=
		fi
		check "$([ -n "$l" ]; echo $?)" "diff.$tag.switch_why.$a" \
			"no switch rule for $a and $b: $(echo "$blk" | head -n 4 | tr '\n' '|')"
		[ -n "$l" ] && echo "#$l" | cut -c1-400
	done
}

# from here on every failure is a result, not the end
set +e
echo "TAP version 13"
stock_json=$dir/$machine-stock.json
iso_json=$dir/$machine-isolation.json

boot stock "" stock-1
snapshot "$LOGS/lsisolation-diff-stock-1.log.txt" "$stock_json"
check $? snapshot.stock "no valid JSON in $LOGS/lsisolation-diff-stock-1.log"
st=$(field "$LOGS/lsisolation-diff-stock-1.log.txt" self-status)
check "$([ "$st" = 0 ]; echo $?)" diff.stock_self "exit ${st:-none}, want 0"

boot isolation "$stock_json" isolation isolation
log=$LOGS/lsisolation-diff-isolation.log.txt
snapshot "$log" "$iso_json"
check $? snapshot.isolation "no valid JSON in $LOGS/lsisolation-diff-isolation.log"
st=$(field "$log" self-status)
check "$([ "$st" = 0 ]; echo $?)" diff.isolation_self "exit ${st:-none}, want 0"
verify stock-to-isolation "$log" joined
r=$(field "$log" check | grep -E '^(not )?ok [0-9]+ .*diff_saved_snapshot' | tail -n 1)
check "$(echo "$r" | grep -q '^ok '; echo $?)" selftest.diff_saved_snapshot "${r:-no result}"

boot stock "$iso_json" stock-2
verify isolation-to-stock "$LOGS/lsisolation-diff-stock-2.log.txt" split

echo "1..$n"
echo "lsisolation-diff: $machine $((n - failed)) of $n checks passed (diffs in $dir)"
[ "$failed" = 0 ]
