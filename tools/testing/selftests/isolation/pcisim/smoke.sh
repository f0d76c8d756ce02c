#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# pcisim smoke test, run inside a harness guest (scripts/vm.py):
#   python3 scripts/vm.py --machine vtd --variant isolation --script FILE
# with FILE this script (the grouping suite runs it after grouping.sh).
# Loads /harness/pcisim.ko, builds a topology (root port with ACS and an
# endpoint, a switch with an ACS-less downstream port, a multifunction
# endpoint without ACS, a PCIe-to-PCI bridge with two devices, an SR-IOV
# PF with 4 VFs), hot-adds and unplugs an endpoint, checks which devices
# share an IOMMU group, and unloads and reloads the module.
# Exit status: 0 if every check passed, 1 otherwise.

echo "TAP version 13"
D=/sys/kernel/debug/pcisim
KO=${PCISIM_KO:-/harness/pcisim.ko}
fail=0
n=0

ok() { n=$((n + 1)); echo "ok $n - $*"; }
bad() { n=$((n + 1)); echo "not ok $n - $*"; fail=1; }
skip() { n=$((n + 1)); echo "ok $n - $* # SKIP"; }

ctl() {
	if echo "$*" > "$D/ctl"; then
		return 0
	fi
	bad "ctl: $*"
	return 1
}

# the BDF of a function, by its name in the map
bdf() { awk -v n="$1" '$1 == n { print $2 }' "$D/map"; }

group() {
	b=$(bdf "$1")
	[ -n "$b" ] && readlink "/sys/bus/pci/devices/$b/iommu_group" |
		sed 's|.*/||'
}

# same A B: A and B are in one group; differ A B: they are not
same() {
	ga=$(group "$1")
	gb=$(group "$2")
	if [ -n "$ga" ] && [ "$ga" = "$gb" ]; then
		ok "$1 and $2 share group $ga"
	else
		bad "$1 (group ${ga:-none}) and $2 (group ${gb:-none}) should share a group"
	fi
}

differ() {
	ga=$(group "$1")
	gb=$(group "$2")
	if [ -n "$ga" ] && [ -n "$gb" ] && [ "$ga" != "$gb" ]; then
		ok "$1 ($ga) and $2 ($gb) differ"
	else
		bad "$1 (group ${ga:-none}) and $2 (group ${gb:-none}) should differ"
	fi
}

present() {
	if [ -n "$(bdf "$1")" ]; then
		ok "$1 present at $(bdf "$1")"
	else
		bad "$1 missing from the map"
	fi
}

dmesg -c > /dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null

# Whether the kernel enables ACS (pci_request_acs(), called by IOMMU
# drivers that find hardware): a root port alone, its ACS Control read
# back from config space (the capability is the first extended one).
acs_probe() {
	echo create > "$D/ctl" &&
	echo "fn probe root 01.0 rp 1b36:c001 acs=sv,rr,cr,uf" > "$D/ctl" &&
	echo scan > "$D/ctl" &&
	od -An -tx2 -j 262 -N 2 "/sys/bus/pci/devices/$(bdf probe)/config" |
		tr -d ' '
	echo destroy > "$D/ctl"
}

topology() {
	ctl create || return 1
	while read -r line; do
		ctl "fn $line" || return 1
	done <<EOF
rp1 root 01.0 rp 1b36:c001 $ACS
ep1 rp1 00.0 ep 1b36:c101 bar=1000
rp2 root 02.0 rp 1b36:c001 $ACS
usp rp2 00.0 usp 1b36:c002
dsp0 usp 00.0 dsp 1b36:c004
dsp1 usp 01.0 dsp 1b36:c003 $ACS
dsp2 usp 02.0 dsp 1b36:c003 $ACS slot buses=4
sw0 dsp0 00.0 ep 1b36:c103
sw1 dsp1 00.0 ep 1b36:c102
rp6 root 06.0 rp 1b36:c001 $ACS
uspb rp6 00.0 usp 1b36:c002
dspb0 uspb 00.0 dsp 1b36:c003 $ACS
dspb1 uspb 01.0 dsp 1b36:c003 $ACS
dspb2 uspb 02.0 dsp 1b36:c004
swb0 dspb0 00.0 ep 1b36:c110
swb1 dspb1 00.0 ep 1b36:c111
swb2 dspb2 00.0 ep 1b36:c112
rp3 root 03.0 rp 1b36:c001 $ACS
mf0 rp3 00.0 ep 1b36:c104 mf
mf1 rp3 00.1 ep 1b36:c104 mf
rp4 root 04.0 rp 1b36:c001 $ACS
pb rp4 00.0 pcie-pci 1b36:c005 pcix
pci1 pb 01.0 pci 1b36:c105
pci2 pb 02.0 pci 1b36:c106
rp5 root 05.0 rp 1b36:c001 $ACS ari
pf rp5 00.0 ep 1b36:c107 ari sriov=8,vfdid=c108
EOF
	ctl scan
}

# a previous user (grouping.sh) may have left it loaded
if [ -d /sys/module/pcisim ] && ! rmmod pcisim; then
	bad "rmmod of the loaded pcisim"
fi
if ! insmod "$KO"; then
	bad "insmod $KO"
	exit 1
fi
ok "insmod"

# Without pci_request_acs() the kernel enables no ACS: then preset ACS
# Control as firmware would, to expect the same groups everywhere.
ACS="acs=sv,rr,cr,uf"
ctl=$(acs_probe)
[ "$ctl" = 001d ] || ACS="$ACS acsctl=sv,rr,cr,uf"
echo "# ACS Control after the kernel's setup: ${ctl:-?}; using '$ACS'"

# bad lines come back as errors
for l in "fn x root 01.0 rp 1b36" "fn x nope 00.0 ep 1b36:0001" \
	 "fn x root 01.0 ep 1b36:0001 acs=zz" "bogus"; do
	[ "$l" = "bogus" ] || echo create > "$D/ctl"
	if echo "$l" > "$D/ctl" 2>/dev/null; then
		bad "'$l' accepted"
	else
		ok "'$l' refused"
	fi
done

topology
cat "$D/stats"
# the isolation core links every grouped device's isolation_group
core=stock
[ -e "/sys/bus/pci/devices/$(bdf ep1)/isolation_group" ] && core=isolation
echo "# pcisim smoke: machine=${ISOLATION_MACHINE:-?} core=$core"
for f in rp1 ep1 rp2 usp dsp0 dsp1 dsp2 sw0 sw1 rp3 mf0 mf1 rp4 pb \
	 pci1 pci2 rp5 pf rp6 uspb dspb0 dspb1 dspb2 swb0 swb1 swb2; do
	present "$f"
done
# BAR sizing: the kernel read a 4 KiB BAR0
# shellcheck disable=SC2046 # the three fields of the line
set -- $(head -1 "/sys/bus/pci/devices/$(bdf ep1)/resource" 2>/dev/null)
if [ $# = 3 ] && [ $(($2 - $1 + 1)) = 4096 ] && [ $(($1)) != 0 ]; then
	ok "ep1 BAR0 sized 4K, assigned at $1"
else
	bad "ep1 BAR0: '$*'"
fi

vfs=0
if echo "sriov pf 4" > "$D/ctl" 2>/dev/null; then
	vfs=4
	cat "$D/stats"
	for i in 0 1 2 3; do
		present "pf.vf$i"
	done
else
	skip "sriov pf 4 refused (a kernel without CONFIG_PCI_IOV?)"
	dmesg | grep pcisim | tail -1
fi

# hot-add below the empty, ACS-enabled downstream port
ctl "fn hp dsp2 00.0 ep 1b36:c109"
ctl "rescan dsp2"
cat "$D/stats"
present hp

echo "# map"
cat "$D/map"
echo "# groups"
ls -l /sys/kernel/iommu_groups/*/devices

differ rp1 ep1
differ ep1 rp2
differ rp2 usp
differ usp dsp1
differ usp sw1
same mf0 mf1
differ rp3 mf0
same pb pci1
same pb pci2
differ rp4 pb
differ rp5 pf
differ pf ep1
if [ $vfs = 4 ]; then
	# a single-function PF without an ACS capability: isolated, as
	# pci_acs_enabled() says (both variants; driver-api policy)
	differ pf pf.vf0
	differ pf.vf0 pf.vf1
	differ pf.vf2 pf.vf3
fi
if [ $core = isolation ]; then
	# the ACS-less dsp0 lets all ports of the switch reach each other
	same dsp0 dsp1
	same dsp0 dsp2
	same sw0 sw1
	same dsp1 sw1
	same hp sw1
	# A switch whose ACS-less port comes after two with ACS: the ports
	# got groups as they were added, and the ACS-less one merges them
	# (nobody uses them yet), so the order of the scan does not matter.
	same dspb0 dspb2
	same swb0 swb2
	same dspb0 dspb1
	same swb1 swb2
else
	# stock checks the path upstream only and splits the switch
	same dsp0 sw0
	differ dsp0 dsp1
	differ dsp1 sw1
	differ sw0 sw1
	differ hp sw1
	differ hp dsp2
	same dspb2 swb2
	differ swb0 swb1
	differ swb1 swb2
	differ dspb0 swb0
fi

hpbdf=$(bdf hp)
ctl "unplug hp"
if [ -z "$(bdf hp)" ] && [ ! -e "/sys/bus/pci/devices/$hpbdf" ]; then
	ok "hp unplugged"
else
	bad "hp still there"
fi
ctl "remove dsp0"
if [ -z "$(bdf sw0)" ]; then ok "remove dsp0 took sw0"; else bad "sw0 still there"; fi
ctl "rescan usp"
present sw0
if [ $core = isolation ]; then
	same sw0 sw1
else
	same dsp0 sw0
fi

if [ $vfs = 4 ]; then
	ctl "sriov pf 0"
	if [ -z "$(bdf pf.vf0)" ]; then ok "VFs gone"; else bad "VFs still there"; fi
fi

# rmmod needs the devices gone: each holds the module through the core
if rmmod pcisim 2>/dev/null; then
	bad "rmmod with devices present"
else
	ok "rmmod refused while devices exist"
fi
ctl destroy
groups_left=0
for l in /sys/kernel/iommu_groups/*/devices/1????:*; do
	[ -e "$l" ] && groups_left=$((groups_left + 1))
done
if [ "$groups_left" = 0 ]; then
	ok "no pcisim device in a group"
else
	bad "$groups_left pcisim devices left in groups"
fi
if rmmod pcisim; then ok "rmmod"; else bad "rmmod"; fi

# and once more, the same topology after a reload
if insmod "$KO"; then ok "insmod again"; else bad "insmod again"; fi
topology
same mf0 mf1
differ rp1 ep1
ctl destroy
if rmmod pcisim; then ok "rmmod again"; else bad "rmmod again"; fi

echo "# dmesg"
dmesg | grep -v -e '^\s*$' > /tmp/dmesg
cat /tmp/dmesg
if grep -q -e 'WARNING' -e 'BUG' -e 'Oops' -e 'Call Trace' /tmp/dmesg; then
	bad "kernel warnings in dmesg"
else
	ok "no warnings in dmesg"
fi
echo "1..$n"
exit $fail
