#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the "peer suite" for one architecture into build/peer/ARCH: upstream's
# iommufd selftests (iommufd, iommufd_fail_nth) from the base tree, adapted
# to the 6.12 kernel by peer/iommufd/ (see its README), linked statically,
# plus the guest script run-iommufd.sh that runs them.
#   build-peer.sh ARCH
# The base tree is never touched: its selftest sources are copied to
# build/peer/src and the adaptation is applied there.
set -eu
. "$(dirname "$0")/lib.sh"

arch=${1:?usage: $0 ARCH}
arch_kernel "$arch" > /dev/null
cross=$(arch_cross "$arch")
base=$TREES/stock
peer=$TOP/peer/iommufd
hdr=$BUILD/headers/$arch/include
src=$BUILD/peer/src
dst=$BUILD/peer/$arch
st=tools/testing/selftests

[ -d "$base/$st/iommu" ] || die "no base tree at $base (scripts/assemble.sh stock)"
[ -f "$hdr/linux/iommufd.h" ] ||
	die "no $arch uapi headers in $hdr (scripts/build-selftests.sh $arch installs them)"
command -v "${cross}gcc" > /dev/null || die "${cross}gcc missing: scripts/deps.sh install"

# The adaptation is for a base whose uapi lacks what its selftests use. If
# the headers have caught up, the compat header would clash: rework it.
if grep -q in_data_type "$hdr/linux/iommufd.h"; then
	die "$hdr/linux/iommufd.h has in_data_type: peer/iommufd is obsolete for this base, rework it"
fi

note "copying the base's iommufd selftests to $src"
rm -rf "$src"
mkdir -p "$src/$st" "$src/drivers/iommu/iommufd"
cp -r "$base/$st/iommu" "$src/$st/"
cp "$base/$st/lib.mk" "$base/$st/kselftest.h" "$base/$st/kselftest_harness.h" "$src/$st/"
# iommufd_utils.h includes the mock driver's uapi by a path into the tree
cp "$base/drivers/iommu/iommufd/iommufd_test.h" "$src/drivers/iommu/iommufd/"

note "applying the 6.12 adaptation (peer/iommufd)"
cp "$peer/iommufd_compat_6_12.h" "$src/$st/iommu/"
patch -s -p1 -d "$src" --no-backup-if-mismatch < "$peer/iommufd-6.12.patch" ||
	die "peer/iommufd/iommufd-6.12.patch does not apply to the base's selftests"

note "building iommufd selftests for $arch"
rm -rf "$dst"
mkdir -p "$dst"
make -s -C "$src/$st/iommu" OUTPUT="$dst" CC="${cross}gcc" \
	KHDR_INCLUDES="-isystem $hdr" USERLDFLAGS=-static all
for t in iommufd iommufd_fail_nth; do
	[ -x "$dst/$t" ] || die "$t was not built"
done
install -m 755 "$peer/run-iommufd.sh" "$dst/run-iommufd.sh"
note "peer suite in $dst: $(cd "$dst" && echo *)"
