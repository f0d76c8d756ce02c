#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Assemble the kernel trees under build/tree:
#   stock      the base, as a git repository (tag "base")
#   isolation  base + patches/series + the repository's new kernel files
# Idempotent and incremental: the isolation tree is moved to the new state
# with "git checkout", which rewrites only files whose content differs, so
# kbuild rebuilds only what the change touches.
#
# Base: $KERNEL_SRC (any 6.12.y tree) or Debian's linux-source-6.12.
set -eu
. "$(dirname "$0")/lib.sh"

# One assembly at a time: make targets and helpers may run it in parallel
mkdir -p "$BUILD"
exec 9>"$BUILD/.assemble.lock"
flock 9

TARBALL=/usr/src/linux-source-6.12.tar.xz
STOCK=$TREES/stock
STAGE=$TREES/.stage

base_id() {
	if [ -n "${KERNEL_SRC:-}" ]; then
		[ -f "$KERNEL_SRC/Makefile" ] || die "KERNEL_SRC=$KERNEL_SRC is not a kernel tree"
		echo "dir $(cd "$KERNEL_SRC" && pwd) $(stat -c %Y "$KERNEL_SRC/Makefile")"
	else
		[ -f "$TARBALL" ] || die "$TARBALL missing: run 'scripts/deps.sh install' or set KERNEL_SRC"
		echo "tar $TARBALL $(stat -c %Y "$TARBALL")"
	fi
}

kernel_version() {
	make -s -C "$1" kernelversion 2>/dev/null
}

make_stock() {
	local id
	id=$(base_id)
	if [ -f "$TREES/.base-id" ] && [ "$(cat "$TREES/.base-id")" = "$id" ] &&
	   git -C "$STOCK" rev-parse -q --verify base >/dev/null; then
		return 0
	fi
	note "importing base ($id)"
	rm -rf "$TREES"
	mkdir -p "$STOCK"
	if [ -n "${KERNEL_SRC:-}" ]; then
		rsync -a --exclude=.git "$KERNEL_SRC/" "$STOCK/"
	else
		tar -xf "$TARBALL" -C "$STOCK" --strip-components=1
	fi
	case $(kernel_version "$STOCK") in
	6.12|6.12.*) ;;
	*) die "base is $(kernel_version "$STOCK"), not 6.12.y" ;;
	esac
	git -C "$STOCK" init -q
	git -C "$STOCK" "${GIT_ID[@]}" add -A -f .
	git -C "$STOCK" "${GIT_ID[@]}" commit -q -m "base: Linux $(kernel_version "$STOCK")"
	git -C "$STOCK" tag base
	git -C "$STOCK" worktree add -q --detach "$STAGE" base
	git -C "$STOCK" worktree add -q --detach "$TREES/isolation" base
	echo "$id" > "$TREES/.base-id"
}

# The repository's new kernel files (tracked, or untracked and not ignored).
new_files() {
	# shellcheck disable=SC2086
	git -C "$TOP" ls-files --cached --others --exclude-standard -- $KERNEL_DIRS
}

apply_series() {
	local p files
	git -C "$STAGE" am --abort >/dev/null 2>&1 || true
	git -C "$STAGE" checkout -q --detach base
	git -C "$STAGE" reset -q --hard base
	git -C "$STAGE" clean -q -fdx
	[ -f "$TOP/patches/series" ] || return 0
	while read -r p; do
		case $p in ''|'#'*) continue ;; esac
		[ -f "$TOP/patches/$p" ] || die "patches/series names $p, which does not exist"
		if ! git -C "$STAGE" "${GIT_ID[@]}" am -q --keep-cr "$TOP/patches/$p" >/dev/null 2>"$TREES/.am.log"; then
			files=$(grep -E '^error: (patch failed|.*does not exist)' "$TREES/.am.log" | sed 's/^error: //' | tr '\n' ' ')
			git -C "$STAGE" am --abort >/dev/null 2>&1 || true
			die "patch $p does not apply to base $(kernel_version "$STOCK"): ${files:-see $TREES/.am.log}"
		fi
	done < "$TOP/patches/series"
}

copy_new_files() {
	local f
	git -C "$STAGE" rev-parse HEAD > "$TREES/.series-tip"
	new_files | while read -r f; do
		if [ -e "$TOP/$f" ]; then
			mkdir -p "$STAGE/$(dirname "$f")"
			cp -p "$TOP/$f" "$STAGE/$f"
		fi
	done
	git -C "$STAGE" add -A -f .
	if ! git -C "$STAGE" diff --cached --quiet; then
		git -C "$STAGE" "${GIT_ID[@]}" commit -q -m "project: new kernel files"
	fi
}

update_isolation() {
	local tree=$TREES/isolation dirty
	dirty=$(git -C "$tree" status --porcelain --untracked-files=no)
	if [ -n "$dirty" ] && [ -z "${FORCE:-}" ]; then
		# Building with edits made in the tree is the development loop;
		# only a change from the repository would have to overwrite them.
		if git -C "$tree" diff --quiet HEAD "$(git -C "$STAGE" rev-parse HEAD)"; then
			note "build/tree/isolation has edits not in the repository ('make writeback' saves them)"
			return 0
		fi
		# Edits that the repository now has too (files copied into the
		# tree to build them) are not lost by moving the tree on.
		if git -C "$tree" diff --quiet "$(git -C "$STAGE" rev-parse HEAD)" -- \
			$(git -C "$tree" diff --name-only HEAD); then
			note "build/tree/isolation: its edits are in the repository now"
			git -C "$tree" checkout -q -f --detach "$(git -C "$STAGE" rev-parse HEAD)"
			return 0
		fi
		echo "$dirty" >&2
		die "build/tree/isolation has edits and the repository changed: 'make writeback' first (FORCE=1 discards them)"
	fi
	git -C "$tree" checkout -q -f --detach "$(git -C "$STAGE" rev-parse HEAD)"
}

variant=${1:-isolation}
mkdir -p "$TREES"
make_stock
note "base: Linux $(kernel_version "$STOCK") ($(cut -d' ' -f2 "$TREES/.base-id"))"
case $variant in
stock) ;;
isolation)
	apply_series
	copy_new_files
	update_isolation
	note "isolation: $(git -C "$STAGE" rev-list --count base..HEAD) commits on base"
	;;
*) die "usage: $0 [stock|isolation]" ;;
esac
