#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build one guest kernel out of tree, with ccache:
#   build-kernel.sh VARIANT ARCH [debug|off|distro]
# The config is allnoconfig + configs/common.config + configs/ARCH.config
# (+ configs/isolation.config for the isolation variant, + configs/debug.config
# for the debug flavour; the off flavour of the isolation variant takes
# configs/off.config instead of isolation.config: the series applied with
# the core switched off; the distro flavour adds configs/distro.config, which
# makes VFIO and the test drivers modules: they are installed in OUT/modroot).
# Where fragments set an option twice the last one wins. Every option the
# fragments set must survive Kconfig resolution, or the build stops naming
# it.
set -eu
. "$(dirname "$0")/lib.sh"

variant=${1:?usage: $0 VARIANT ARCH [debug]}
arch=${2:?usage: $0 VARIANT ARCH [debug]}
flavour=${3:-}
karch=$(arch_kernel "$arch")
cross=$(arch_cross "$arch")
out=$(kernel_out "$variant" "$arch" "$flavour")

"$TOP/scripts/assemble.sh" "$variant"
mkdir -p "$out" "$CCACHE_DIR"

frags=("$TOP/configs/common.config" "$TOP/configs/$arch.config")
if [ "$flavour" = off ]; then
	frags+=("$TOP/configs/off.config")
elif [ "$variant" = isolation ]; then
	frags+=("$TOP/configs/isolation.config")
fi
case $flavour in
debug) frags+=("$TOP/configs/debug.config") ;;
distro) frags+=("$TOP/configs/distro.config") ;;
esac
cat "${frags[@]}" > "$out/fragment.new"

kmake() {
	in_src "$variant" make -C "$SRC" O="$out" ARCH="$karch" CROSS_COMPILE="$cross" \
		CC="ccache ${cross}gcc" HOSTCC="ccache gcc" "$@"
}

if ! cmp -s "$out/fragment.new" "$out/fragment.config" || [ ! -f "$out/.config" ]; then
	note "configuring $variant/$arch${flavour:+/$flavour}"
	mv "$out/fragment.new" "$out/fragment.config"
	kmake -s KCONFIG_ALLCONFIG="$out/fragment.config" allnoconfig > "$out/config.log" 2>&1 ||
		{ cat "$out/config.log" >&2; die "configuring $variant/$arch failed"; }
	# a later fragment sets options again on purpose: show the rest only
	grep -v 'warning: override: reassigning to symbol' "$out/config.log" >&2 || true
else
	rm -f "$out/fragment.new"
	kmake -s olddefconfig
fi

# Every option a fragment sets must be in the result: its last setting.
bad=0
final=$(awk -F= '/^CONFIG_[A-Za-z0-9_]+=/ { v[$1] = $0; if (!($1 in o)) { o[$1] = n++ } }
	END { for (k in v) print o[k], v[k] }' "$out/fragment.config" | sort -n | cut -d' ' -f2-)
while IFS= read -r line; do
	case $line in
	CONFIG_*=n) opt=${line%=n}
		if grep -q "^$opt=" "$out/.config"; then
			echo "config: $opt should be off" >&2; bad=1
		fi ;;
	CONFIG_*=*)
		if ! grep -qx "$line" "$out/.config"; then
			echo "config: $line did not survive (missing dependency?)" >&2; bad=1
		fi ;;
	esac
done <<< "$final"
[ $bad = 0 ] || die "config fragments of $variant/$arch are not satisfiable"

note "building $variant/$arch${flavour:+/$flavour} in ${out#"$TOP"/}"
start=$(date +%s)
kmake -j"$(nproc)" -s all > "$out/build.log" 2>&1 || {
	tail -40 "$out/build.log" >&2
	die "build of $variant/$arch failed (log: $out/build.log)"
}
grep -E 'warning:|WARNING: modpost' "$out/build.log" >&2 || true
if grep -q '^CONFIG_MODULES=y' "$out/.config" && grep -q '=m$' "$out/.config"; then
	# modpost has checked every module's symbols and namespaces by now;
	# the guest takes the modules from here
	rm -rf "$out/modroot"
	kmake -s INSTALL_MOD_PATH="$out/modroot" INSTALL_MOD_STRIP=1 \
		modules_install >> "$out/build.log" 2>&1 ||
		die "modules_install of $variant/$arch failed (log: $out/build.log)"
fi
secs=$(( $(date +%s) - start ))
echo "$secs" > "$out/build-seconds"
note "built $variant/$arch${flavour:+/$flavour} in ${secs}s: $out/$(arch_image "$arch")"
