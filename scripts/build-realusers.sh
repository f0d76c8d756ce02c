#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The initramfs overlay of the "realusers" suite, build/realusers/overlay.cpio.gz:
# real VFIO users that are not ours, from Debian packages, for the x86_64
# vtd guest (vm.py --initrd-overlay appends it to the harness initramfs):
#  - qemu-system-x86_64 of the host's qemu-system-x86 with every library
#    ldd lists, its TCG accelerator module and firmware, and the initramfs
#    of its nested guest (/realusers/nested.cpio.gz: edu-nested as /init);
#  - dpdk-testpmd of dpdk-dev with the e1000 PMD and the ring mempool
#    driver, fetched with apt-get download into build/cache/realusers.
# The nested guest's kernel and the guest script are added per run by
# check.py. Rebuilt only when an input changed.
set -eu
. "$(dirname "$0")/lib.sh"

cache=$BUILD/cache/realusers
dst=$BUILD/realusers
overlay=$dst/overlay.cpio.gz
stage=$dst/stage
LIBDIR=usr/lib/x86_64-linux-gnu
# Packages to fetch; their library dependencies that the host lacks come too
DPDK_PKGS=(dpdk-dev librte-net-e1000-23 librte-mempool-ring23)
# Drivers EAL loads from its plugin directory (testpmd does not link them;
# EAL loads the files there named *.so or *.so.ABI)
PMDS=$LIBDIR/dpdk/pmds-23.0
PLUGINS=(librte_net_e1000.so.23.0 librte_mempool_ring.so.23.0)
QEMU_BIN=/usr/bin/qemu-system-x86_64
QEMU_TCG=/$LIBDIR/qemu/accel-tcg-x86_64.so
NESTED_SRC=$TOP/scripts/guest/edu-nested.c

installed() {
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed'
}

# DPDK's packages and the library packages they need that the host lacks
fetch_dpdk() {
	local -A seen=()
	local level=("${DPDK_PKGS[@]}") next want=() p dep deb
	[ -f "$cache/root/.done" ] && return
	note "fetching dpdk-testpmd and its libraries into $cache"
	[ -n "$(apt-cache policy dpdk-dev | grep 'Candidate: [0-9]')" ] ||
		apt-get update -q >/dev/null
	for p in "${level[@]}"; do
		seen[$p]=1
	done
	# breadth first: one apt-cache call a level (each takes seconds)
	while [ ${#level[@]} -gt 0 ]; do
		want+=("${level[@]}")
		next=()
		for dep in $(apt-cache depends --no-recommends --no-suggests \
			--no-conflicts --no-breaks --no-replaces --no-enhances "${level[@]}" |
			awk '$1 ~ /^\|?(Pre)?Depends:$/ && $2 !~ /^</ {print $2}' | sort -u); do
			case $dep in
			*-dev) continue ;;
			lib*|ibverbs-providers) ;;
			*) continue ;;		# python3, rdma-core: not needed
			esac
			[ -z "${seen[$dep]:-}" ] || continue
			seen[$dep]=1
			installed "$dep" || next+=("$dep")
		done
		level=("${next[@]}")
	done
	rm -rf "$cache/debs" "$cache/root"
	mkdir -p "$cache/debs" "$cache/root"
	# (apt warns that its _apt user cannot write here; it downloads anyway)
	(cd "$cache/debs" && apt-get download -q "${want[@]}" 2>&1 >/dev/null |
		grep -v 'unsandboxed as root' >&2 || true)
	for p in "${want[@]}"; do
		ls "$cache/debs/${p}_"*.deb >/dev/null 2>&1 || die "apt-get download $p failed"
	done
	for deb in "$cache"/debs/*.deb; do
		dpkg-deb -x "$deb" "$cache/root"
	done
	touch "$cache/root/.done"
}

# put FILE into the stage at its own path, or at the path given
put() {
	mkdir -p "$stage$(dirname "${2:-$1}")"
	cp -L "$1" "$stage${2:-$1}"
}

# put every library FILES... load (fetched ones first) at its path
put_libs() {
	local lib
	LD_LIBRARY_PATH=$cache/root/$LIBDIR ldd "$@" > "$dst/ldd.txt"
	if grep -q 'not found' "$dst/ldd.txt"; then
		grep 'not found' "$dst/ldd.txt" | sort -u >&2
		die "libraries missing for $*"
	fi
	for lib in $(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/lib/ {print $1}' \
		     "$dst/ldd.txt" | sort -u); do
		put "$lib" "${lib#"$cache/root"}"
	done
}

fetch_dpdk
[ -x "$QEMU_BIN" ] && [ -f "$QEMU_TCG" ] || die "qemu-system-x86 missing: scripts/deps.sh install"
if [ -f "$overlay" ] &&
   [ -z "$(find "$0" "$NESTED_SRC" "$QEMU_BIN" "$cache/root/.done" \
	   -newer "$overlay" 2>/dev/null)" ]; then
	exit 0
fi
note "building the realusers overlay (Debian's QEMU and DPDK)"
rm -rf "$stage"
mkdir -p "$stage/realusers"

# QEMU: binary, libraries, TCG module, firmware
put "$QEMU_BIN"
put "$QEMU_TCG"
put_libs "$QEMU_BIN" "$QEMU_TCG"
mkdir -p "$stage/usr/share"
cp -a /usr/share/qemu /usr/share/seabios "$stage/usr/share/"

# DPDK: testpmd, the plugins, their libraries, and libgcc_s (glibc loads it
# at thread exit; ldd does not list it)
put "$cache/root/usr/bin/dpdk-testpmd" /usr/bin/dpdk-testpmd
for p in "${PLUGINS[@]}"; do
	put "$cache/root/$PMDS/$p" "/$PMDS/$p"
done
put_libs "$cache/root/usr/bin/dpdk-testpmd" "${PLUGINS[@]/#/$cache/root/$PMDS/}"
for d in /lib/x86_64-linux-gnu /$LIBDIR; do
	if [ -f "$d/libgcc_s.so.1" ]; then
		put "$d/libgcc_s.so.1"
		break
	fi
done
[ -f "$stage/lib/x86_64-linux-gnu/libgcc_s.so.1" ] ||
	[ -f "$stage/$LIBDIR/libgcc_s.so.1" ] || die "no libgcc_s.so.1 on the host"

# The nested guest: a static edu-nested as /init and a console node
gcc -static -O2 -Wall -o "$dst/edu-nested" "$NESTED_SRC"
PYTHONPATH=$TOP/scripts python3 -c '
import sys, vm
c = vm.Cpio()
c.chardev("dev/console", 5, 1)
c.mkdir("proc")
c.mkdir("sys")
with open(sys.argv[1], "rb") as f:
    c.file("init", f.read(), 0o755)
with open(sys.argv[2], "wb") as f:
    f.write(c.finish())
' "$dst/edu-nested" "$stage/realusers/nested.cpio.gz"

# "." too: it sets the guest's / to 0755 (the kernel leaves it world-writable,
# which EAL refuses for its plugin path)
chmod 755 "$stage"
(cd "$stage" && find . | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0) | gzip -6 > "$overlay.tmp"
mv "$overlay.tmp" "$overlay"
note "realusers overlay: $(du -sh "$stage" | cut -f1) in $(du -h "$overlay" | cut -f1) compressed"
