#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The Debian packages the project needs, listed once. "deps.sh install"
# installs whatever is missing; "deps.sh list" prints the list.
set -eu

PACKAGES=(
	# kernel build
	build-essential flex bison bc libelf-dev libssl-dev cpio xz-utils kmod
	rsync git python3 ccache
	# base kernel
	linux-source-6.12
	# emulators and firmware
	qemu-system-x86 qemu-system-arm qemu-efi-aarch64 qemu-system-ppc
	# cross compilers and static C libraries for guest programs
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross
	gcc-powerpc64le-linux-gnu libc6-dev-ppc64el-cross
	# compile coverage only (make check-compile): no guest of these
	gcc-s390x-linux-gnu gcc-arm-linux-gnueabihf
	# guest userspace
	busybox-static
	# lint
	sparse coccinelle
	# checkpatch runs scripts/spdxcheck.py on new files
	python3-ply python3-git
	# docs (Sphinx with the kernel's extensions)
	python3-sphinx
)

missing() {
	local p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed' || echo "$p"
	done
}

case ${1:-install} in
list)
	printf '%s\n' "${PACKAGES[@]}"
	;;
install)
	mapfile -t need < <(missing)
	if [ ${#need[@]} -eq 0 ]; then
		exit 0
	fi
	echo "==> installing: ${need[*]}" >&2
	[ "$(id -u)" = 0 ] && sudo= || sudo=sudo
	# A mirror that is mid-sync for one architecture's index fails the
	# update; the install below still finds what it needs, or says so.
	$sudo apt-get update -q || echo "warning: apt-get update failed; installing from the old index" >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
	;;
*)
	echo "usage: $0 [install|list]" >&2
	exit 2
	;;
esac
