#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Save edits made inside build/tree/isolation back into the repository:
#  - files that are the repository's own new kernel files are copied back;
#  - edits to base files become fixups of the last patch of the series that
#    touches the file, and patches/ is regenerated with git format-patch.
#    An edit to a file no patch touches needs a new patch: give its subject
#    in WRITEBACK_SUBJECT (its body in WRITEBACK_BODY). With WRITEBACK_NEW=1
#    every edit goes into that new patch, also edits to files that earlier
#    patches touch (a new logical change on top of the series).
set -eu
. "$(dirname "$0")/lib.sh"

tree=$TREES/isolation
stage=$TREES/.stage
[ -d "$tree" ] || die "no assembled tree; run 'make assemble' first"
tip=$(cat "$TREES/.series-tip")

mapfile -t changed < <(git -C "$tree" status --porcelain --untracked-files=all | cut -c4-)
[ ${#changed[@]} -gt 0 ] || { note "build/tree/isolation has no edits"; exit 0; }

own() {
	# shellcheck disable=SC2086
	git -C "$TOP" ls-files --cached --others --exclude-standard -- $KERNEL_DIRS | grep -qxF "$1"
}

base_edits=()
for f in "${changed[@]}"; do
	if own "$f" || ! git -C "$tree" cat-file -e "$tip:$f" 2>/dev/null; then
		note "new file: $f"
		mkdir -p "$TOP/$(dirname "$f")"
		if [ -e "$tree/$f" ]; then cp -p "$tree/$f" "$TOP/$f"; else rm -f "$TOP/$f"; fi
	else
		base_edits+=("$f")
	fi
done

if [ ${#base_edits[@]} -gt 0 ]; then
	git -C "$stage" checkout -q -f --detach "$tip"
	ident=$(git -C "$TOP" var GIT_COMMITTER_IDENT | sed 's/>.*/>/')
	for f in "${base_edits[@]}"; do
		target=$(git -C "$stage" log -n1 --format=%H base..HEAD -- "$f")
		[ "${WRITEBACK_NEW:-0}" = 1 ] && target=
		if [ -e "$tree/$f" ]; then cp -p "$tree/$f" "$stage/$f"; else git -C "$stage" rm -q "$f"; fi
		git -C "$stage" add -f -A -- "$f"
		if [ -n "$target" ]; then
			note "fixup of $(git -C "$stage" log -n1 --format=%s "$target"): $f"
			git -C "$stage" "${GIT_ID[@]}" commit -q --fixup="$target"
		else
			[ -n "${WRITEBACK_SUBJECT:-}" ] ||
				die "$f is touched by no patch: set WRITEBACK_SUBJECT to make a new one"
			note "new patch '$WRITEBACK_SUBJECT': $f"
		fi
	done
	if ! git -C "$stage" diff --cached --quiet; then
		git -C "$stage" -c user.name="${ident% <*}" -c user.email="${ident#*<}" \
			commit -q -s -m "$WRITEBACK_SUBJECT" -m "${WRITEBACK_BODY:-}"
	fi
	GIT_SEQUENCE_EDITOR=: git -C "$stage" "${GIT_ID[@]}" rebase -q -i --autosquash base
	rm -f "$TOP"/patches/*.patch
	git -C "$stage" format-patch -q --zero-commit -o "$TOP/patches" base..HEAD
	(cd "$TOP/patches" && ls -1 ./*.patch | sed 's|^\./||') > "$TOP/patches/series"
	note "patches/ regenerated: $(wc -l < "$TOP/patches/series") patches"
fi
# The assembled tree now matches what the repository assembles to.
FORCE=1 "$TOP/scripts/assemble.sh" isolation
