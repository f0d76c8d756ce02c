#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A static busybox for the guest's architecture. x86_64 uses the host's
# busybox-static; others are fetched as Debian's busybox-static package of
# that architecture into build/cache/busybox-ARCH.
set -eu
. "$(dirname "$0")/lib.sh"

arch=${1:?usage: $0 ARCH}
case $arch in
x86_64) [ -x /bin/busybox ] || die "busybox-static missing: scripts/deps.sh install"; exit 0 ;;
arm64) deb_arch=arm64 ;;
ppc64le) deb_arch=ppc64el ;;
*) die "unknown architecture $arch" ;;
esac
dst=$BUILD/cache/busybox-$arch
[ -x "$dst/bin/busybox" ] && exit 0
if ! dpkg --print-foreign-architectures | grep -qx "$deb_arch"; then
	dpkg --add-architecture "$deb_arch"
	apt-get update -q >/dev/null
fi
tmp=$(mktemp -d)
(cd "$tmp" && apt-get download -q "busybox-static:$deb_arch" >/dev/null) ||
	{ apt-get update -q >/dev/null; (cd "$tmp" && apt-get download -q "busybox-static:$deb_arch" >/dev/null); }
mkdir -p "$dst"
dpkg-deb -x "$tmp"/busybox-static_*.deb "$dst"
rm -rf "$tmp"
[ -x "$dst/bin/busybox" ] || die "no busybox in busybox-static:$deb_arch"
