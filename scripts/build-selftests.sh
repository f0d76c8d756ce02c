#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the guest userspace for one architecture into build/selftests/ARCH:
# the isolation selftests (static) with their data, and the edu_dma and
# pcisim test modules for each kernel variant given (build/mod/VARIANT-ARCH).
#   build-selftests.sh ARCH [VARIANT[-FLAVOUR]...]
set -eu
. "$(dirname "$0")/lib.sh"

arch=${1:?usage: $0 ARCH [VARIANT...]}
shift
karch=$(arch_kernel "$arch")
cross=$(arch_cross "$arch")
hdr=$BUILD/headers/$arch
dst=$BUILD/selftests/$arch

"$TOP/scripts/assemble.sh" isolation
src=$TREES/isolation

# uapi headers of the base (Debian 12's linux-libc-dev is 6.1)
if [ ! -f "$hdr/include/linux/iommufd.h" ] ||
   [ "$hdr/include/linux/iommufd.h" -ot "$TREES/.base-id" ]; then
	note "installing $arch uapi headers"
	make -s -C "$TREES/stock" O="$BUILD/out/headers-$arch" ARCH="$karch" \
		INSTALL_HDR_PATH="$hdr" headers_install
fi

# busybox for the guest's architecture
"$TOP/scripts/guest-busybox.sh" "$arch"

note "building isolation selftests for $arch"
mkdir -p "$dst"
make -s -C "$src/tools/testing/selftests/isolation" OUTPUT="$dst" \
	CC="${cross}gcc" KHDR_INCLUDES="-isystem $hdr/include" LDFLAGS=-static all
# tools/isolation/lsisolation, which the lsisolation_check selftest runs
make -s -C "$src/tools/isolation" O="$dst" CC="${cross}gcc" LDFLAGS=-static
rm -rf "$dst/expected"
cp -r "$TOP/tools/testing/selftests/isolation/expected" "$dst/expected" 2>/dev/null || true
rm -f "$dst"/*.o
cp "$TOP/scripts/guest/run-selftests.sh" "$TOP/scripts/guest/kmemleak.sh" "$dst/"

# VARIANT or VARIANT-FLAVOUR (isolation-debug)
for kernel in "$@"; do
	variant=${kernel%%-*}
	flavour=${kernel#"$variant"}
	flavour=${flavour#-}
	out=$(kernel_out "$variant" "$arch" "$flavour")
	mod=$BUILD/mod/$variant-$arch${flavour:+-$flavour}
	[ -f "$out/Module.symvers" ] || die "no $kernel/$arch kernel built in $out"
	note "building edu_dma.ko for $kernel/$arch"
	mkdir -p "$mod"
	cp "$TOP/tools/testing/selftests/isolation/edu_dma/"* "$mod/"
	in_src "$variant" make -s -C "$out" ARCH="$karch" CROSS_COMPILE="$cross" \
		CC="ccache ${cross}gcc" M="$mod" modules
	# pcisim.ko (pcisim/): a Kbuild directory of its own, the module
	# next to edu_dma.ko
	note "building pcisim.ko for $kernel/$arch"
	rm -rf "$mod/pcisim"
	mkdir -p "$mod/pcisim"
	cp "$TOP/tools/testing/selftests/isolation/pcisim/"*.[ch] \
		"$TOP/tools/testing/selftests/isolation/pcisim/Makefile" "$mod/pcisim/"
	in_src "$variant" make -s -C "$out" ARCH="$karch" CROSS_COMPILE="$cross" \
		CC="ccache ${cross}gcc" M="$mod/pcisim" modules
	cp "$mod/pcisim/pcisim.ko" "$mod/pcisim.ko"
	# a kernel that checks module signatures (the distro flavour): sign
	# the test modules with its build key, as its own modules are
	if grep -q '^CONFIG_MODULE_SIG_ALL=y' "$out/.config"; then
		for ko in "$mod/edu_dma.ko" "$mod/pcisim.ko"; do
			"$out/scripts/sign-file" sha256 "$out/certs/signing_key.pem" \
				"$out/certs/signing_key.x509" "$ko"
		done
	fi
done
