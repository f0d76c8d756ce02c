#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# With CONFIG_IOMMU_ISOLATION_GROUPS the legacy group layer must not be
# compiled: drivers/iommu/iommu.o of the isolation kernel defines none of
# its functions, and the core's objects define every exported one. The
# stock kernel's iommu.o is checked to define them, so the list is real.
set -eu
. "$(dirname "$0")/lib.sh"

arch=${1:-x86_64}
iso=$BUILD/out/isolation-$arch
stock=$BUILD/out/stock-$arch

# Exported by the legacy layer, provided by the core
exported="iommu_group_alloc iommu_group_get iommu_group_put iommu_group_ref_get
iommu_group_id iommu_group_set_name iommu_group_get_iommudata
iommu_group_set_iommudata iommu_group_add_device iommu_group_remove_device
iommu_group_for_each_dev iommu_group_has_isolated_msi
iommu_get_group_resv_regions iommu_group_claim_dma_owner
iommu_group_release_dma_owner iommu_group_dma_owner_claimed
iommu_device_claim_dma_owner iommu_device_release_dma_owner
iommu_attach_group iommu_detach_group iommu_attach_device iommu_detach_device
iommu_get_domain_for_dev iommu_group_replace_domain iommu_attach_device_pasid
iommu_detach_device_pasid iommu_attach_handle_get iommu_attach_group_handle
iommu_detach_group_handle iommu_replace_group_handle pci_device_group
generic_device_group generic_single_device_group fsl_mc_device_group"
# Internal to the legacy layer (static there) or used by other kernel code
internal="iommu_probe_device bus_iommu_probe iommu_device_use_default_domain
iommu_device_unuse_default_domain iommu_get_dma_domain iommu_deferred_attach
iommu_group_default_domain iommu_release_device iommu_bus_notifier
iommu_setup_default_domain __iommu_group_set_domain_internal
iommu_group_store_type iommu_group_alloc_device __iommu_probe_device
iommu_init_device iommu_deinit_device get_pci_alias_group
iommu_group_release __iommu_attach_group"

defined() { nm --defined-only "$1" | awk '{print $3}' | sort -u; }

for f in "$iso/drivers/iommu/iommu.o" "$stock/drivers/iommu/iommu.o" \
	"$iso/drivers/iommu/isolation/built-in.a"; do
	[ -e "$f" ] || die "$f is missing: build both $arch kernels first"
done
iso_syms=$(defined "$iso/drivers/iommu/iommu.o")
stock_syms=$(defined "$stock/drivers/iommu/iommu.o")
core_syms=$(defined "$iso/drivers/iommu/isolation/built-in.a")

fail=0 legacy=0 left=0 provided=0
for s in $exported $internal; do
	grep -qx "$s" <<<"$stock_syms" && legacy=$((legacy + 1))
	if grep -qx "$s" <<<"$iso_syms"; then
		echo "FAIL: isolation iommu.o still defines $s" >&2
		left=$((left + 1)) fail=1
	fi
done
for s in $exported; do
	if grep -qx "$s" <<<"$core_syms"; then
		provided=$((provided + 1))
	else
		echo "FAIL: the core does not define $s" >&2
		fail=1
	fi
done
nr=$(wc -w <<<"$exported $internal")
echo "nm ($arch): stock iommu.o defines $legacy of $nr legacy group functions;" \
	"isolation iommu.o defines $left; the core defines $provided of" \
	"$(wc -w <<<"$exported") exported ones"
[ "$legacy" -ge $((nr * 3 / 4)) ] || { echo "FAIL: the legacy list does not match stock" >&2; fail=1; }

# The distro flavour builds the core's callers as modules, and modpost has
# refused any module whose symbol is missing or in a namespace it does not
# import. Beyond the callers this build has: every symbol stock's iommu.o
# exports, and every export of the VFIO and iommufd modules the series
# changes, must be exported by the isolation kernel under the same
# EXPORT_SYMBOL kind and namespace, or out-of-tree modules (and in-tree
# ones of other configs) break. The core's new exports are GPL-only.
siso=$BUILD/out/isolation-$arch-distro
sstock=$BUILD/out/stock-$arch-distro
for f in "$siso/Module.symvers" "$sstock/Module.symvers" "$sstock/drivers/iommu/iommu.o"; do
	[ -e "$f" ] || die "$f is missing: build both $arch distro kernels first"
done
# SYMBOL KIND NAMESPACE of the exports of vmlinux and of drivers/vfio and
# drivers/iommu modules (Module.symvers: CRC SYMBOL MODULE KIND NAMESPACE)
exports() {
	awk -F'\t' '$3 == "vmlinux" || $3 ~ /^drivers\/(vfio|iommu)\// { print $2 "\t" $3 "\t" $4 "\t" $5 }' "$1" | sort
}
stock_exp=$(defined "$sstock/drivers/iommu/iommu.o")
iso_list=$(exports "$siso/Module.symvers")
n=0 bad=0
while IFS=$'\t' read -r sym mod kind ns; do
	[ "$mod" = vmlinux ] && ! grep -qx "$sym" <<<"$stock_exp" && continue
	n=$((n + 1))
	got=$(awk -F'\t' -v s="$sym" '$1 == s { print $2 "\t" $3 "\t" $4 }' <<<"$iso_list")
	if [ "$got" != "$mod"$'\t'"$kind"$'\t'"$ns" ]; then
		echo "FAIL: $sym: stock exports it from $mod as $kind${ns:+ ($ns)}, isolation: ${got:-nothing}" >&2
		bad=$((bad + 1)) fail=1
	fi
done < <(exports "$sstock/Module.symvers")
[ "$n" -ge 60 ] || { echo "FAIL: only $n exports compared: Module.symvers or iommu.o not as expected" >&2; fail=1; }
# exports only the isolation kernel has: the core's new API, GPL-only
new=$(comm -13 <(exports "$sstock/Module.symvers" | cut -f1 | sort) \
	<(awk -F'\t' '$3 == "vmlinux" { print $2 }' "$siso/Module.symvers" | sort) |
	grep -xF -f <(nm --defined-only "$iso/drivers/iommu/isolation/built-in.a" | awk '{print $3}') || true)
for sym in $new; do
	kind=$(awk -F'\t' -v s="$sym" '$2 == s { print $4 }' "$siso/Module.symvers")
	[ "$kind" = EXPORT_SYMBOL_GPL ] ||
		{ echo "FAIL: the core's new export $sym is $kind, not EXPORT_SYMBOL_GPL" >&2; bad=$((bad + 1)) fail=1; }
done
# the modules of the distro build that import the group API
users=()
for ko in $(find "$siso" -path "$siso/modroot" -prune -o -name '*.ko' -print | sort); do
	k=$(nm -u "$ko" | awk '{print $2}' | grep -cxF -f <(tr -s " " "\n" <<<"$exported") || true)
	[ "$k" -gt 0 ] && users+=("$(basename "$ko" .ko):$k")
done
echo "exports ($arch distro): $n exports of stock's iommu.o and VFIO/iommufd modules compared," \
	"$bad differ; new GPL-only exports of the core: $(wc -w <<<"$new");" \
	"modules importing the group API: ${users[*]:-none}"
[ ${#users[@]} -gt 0 ] || { echo "FAIL: no module of the distro build uses the group API" >&2; fail=1; }
exit $fail
