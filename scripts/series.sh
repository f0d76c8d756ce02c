#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The series as kernel developers receive it.
#
#   series.sh export   build/series/: git format-patch --cover-letter of the
#                      commits series/plan lists (patches/ and our new files)
#   series.sh am       git am of build/series/ onto a fresh import of the
#                      6.12.y base gives the tree the harness builds
#   series.sh bisect   every commit of the series builds the x86_64
#                      isolation kernel, without a warning
set -eu
. "$(dirname "$0")/lib.sh"

EXPORT=$TREES/export
OUTDIR=$BUILD/series
PLAN=$TOP/series/plan

# ident of the repository: the author and signer of every commit
ident() {
	git -C "$TOP" var GIT_AUTHOR_IDENT | sed 's/>.*/>/'
}

as_author() {
	local id
	id=$(ident)
	GIT_AUTHOR_DATE=$(git -C "$TOP" log -1 --format=%aD) \
	GIT_COMMITTER_DATE=$(git -C "$TOP" log -1 --format=%aD) \
	git -C "$EXPORT" -c user.name="${id% <*}" -c user.email="${id#*<}" "$@"
}

# The plan entry (line number) a new file belongs to: longest PATH match.
plan_owner() {
	awk -v f="$1" '
	/^(patch|new) / {
		for (i = 3; i <= NF; i++) {
			p = $i
			if ((f == p || (p ~ /\/$/ && index(f, p) == 1)) && length(p) > best) {
				best = length(p); line = NR
			}
		}
	}
	END { if (line) print line }' "$PLAN"
}

add_files() {
	local line=$1 f
	for f in "${!owner[@]}"; do
		[ "${owner[$f]}" = "$line" ] || continue
		mkdir -p "$EXPORT/$(dirname "$f")"
		cp -p "$TOP/$f" "$EXPORT/$f"
		git -C "$EXPORT" add -f "$f"
		placed[$f]=1
	done
}

do_export() {
	local f n line kind arg p msg subject
	"$TOP/scripts/assemble.sh" isolation
	declare -gA owner=() placed=()
	# shellcheck disable=SC2086
	while read -r f; do
		[ -e "$TOP/$f" ] || continue
		n=$(plan_owner "$f")
		[ -n "$n" ] || die "series/plan puts $f in no commit"
		owner[$f]=$n
	done < <(git -C "$TOP" ls-files --cached --others --exclude-standard -- $KERNEL_DIRS)

	mapfile -t patches < <(grep -v '^#' "$TOP/patches/series" | grep .)
	if [ -d "$EXPORT" ]; then
		git -C "$EXPORT" am --abort >/dev/null 2>&1 || true
		git -C "$EXPORT" checkout -q -f --detach base
		git -C "$EXPORT" clean -q -fdx
	else
		git -C "$TREES/stock" worktree add -q --detach "$EXPORT" base
	fi

	line=0
	while read -r kind arg rest; do
		line=$((line + 1))
		case $kind in
		patch)
			p=${patches[$((arg - 1))]:-}
			[ -n "$p" ] || die "series/plan: no patch $arg in patches/series"
			as_author am -q --keep-cr "$TOP/patches/$p" ||
				die "patch $p does not apply"
			add_files "$line"
			git -C "$EXPORT" diff --cached --quiet ||
				as_author commit -q --amend --no-edit
			;;
		new)
			msg=$TOP/series/$arg.msg
			[ -f "$msg" ] || die "series/plan: $msg missing"
			add_files "$line"
			git -C "$EXPORT" diff --cached --quiet &&
				die "series/plan line $line ($arg) adds no file"
			as_author commit -q -s -F "$msg"
			;;
		''|'#'*) ;;
		*) die "series/plan line $line: unknown '$kind'" ;;
		esac
	done < "$PLAN"
	for f in "${!owner[@]}"; do
		[ -n "${placed[$f]:-}" ] || die "series/plan: $f was not added"
	done
	for n in $(seq ${#patches[@]}); do
		grep -Eq "^patch $n( |$)" "$PLAN" ||
			die "series/plan leaves out ${patches[$((n - 1))]}"
	done

	# The exported tree must be the tree the harness builds.
	[ "$(git -C "$EXPORT" rev-parse 'HEAD^{tree}')" = \
	  "$(git -C "$TREES/isolation" rev-parse 'HEAD^{tree}')" ] ||
		die "the exported series does not give build/tree/isolation's tree"

	rm -rf "$OUTDIR"
	as_author format-patch -q --cover-letter --thread=shallow \
		-o "$OUTDIR" base..HEAD
	subject=$(head -n1 "$TOP/series/cover-letter.txt")
	python3 - "$OUTDIR"/0000-cover-letter.patch "$TOP/series/cover-letter.txt" \
		"$TOP/series/results.txt" "$subject" <<'PY'
import sys
cover, text, results, subject = sys.argv[1:]
body = open(text).read().split('\n', 1)[1].lstrip('\n')
body = body.replace('@RESULTS@', open(results).read().rstrip('\n'))
s = open(cover).read()
s = s.replace('*** SUBJECT HERE ***', subject)
s = s.replace('*** BLURB HERE ***', body.rstrip('\n'))
open(cover, 'w').write(s)
PY
	note "series: $(git -C "$EXPORT" rev-list --count base..HEAD) patches + cover letter in ${OUTDIR#"$TOP"/}"
}

# git am onto a clean import of the base, as a reader of the list would.
do_am() {
	local clean=$BUILD/series-am tarball=/usr/src/linux-source-6.12.tar.xz want got mails
	[ -f "$OUTDIR/0000-cover-letter.patch" ] || do_export
	rm -rf "$clean"
	mkdir -p "$clean"
	note "importing a clean base into ${clean#"$TOP"/}"
	if [ -n "${KERNEL_SRC:-}" ]; then
		rsync -a --exclude=.git "$KERNEL_SRC/" "$clean/"
	else
		tar -xf "$tarball" -C "$clean" --strip-components=1
	fi
	git -C "$clean" init -q
	git -C "$clean" "${GIT_ID[@]}" add -A -f .
	git -C "$clean" "${GIT_ID[@]}" commit -q -m base
	mapfile -t mails < <(ls "$OUTDIR"/0*.patch | grep -v /0000-cover-letter)
	git -C "$clean" "${GIT_ID[@]}" am -q "${mails[@]}" ||
		die "git am of the series onto a clean base failed"
	want=$(git -C "$TREES/isolation" rev-parse 'HEAD^{tree}')
	got=$(git -C "$clean" rev-parse 'HEAD^{tree}')
	if [ "$want" != "$got" ]; then
		git -C "$clean" diff --stat "$got" "$want" | tail -20 >&2 || true
		die "git am of the series gives tree $got, the harness builds $want"
	fi
	note "git am of ${#mails[@]} patches onto a clean $(make -s -C "$clean" kernelversion) gives the harness tree ($got)"
	rm -rf "$clean"
}

# Build every commit of the series, in order, in one out-of-tree folder:
# each step rebuilds only what the commit changes.
do_bisect() {
	local out commits c i=0 start secs
	[ -d "$EXPORT" ] || do_export
	out=$(kernel_out bisect x86_64)
	mkdir -p "$out" "$CCACHE_DIR"
	mapfile -t commits < <(git -C "$EXPORT" rev-list --reverse base..HEAD)
	cat "$TOP/configs/common.config" "$TOP/configs/x86_64.config" \
		"$TOP/configs/isolation.config" > "$out/fragment.config"
	for c in "${commits[@]}"; do
		i=$((i + 1))
		git -C "$EXPORT" checkout -q -f --detach "$c"
		start=$(date +%s)
		in_src export make -C "$SRC" O="$out" CC="ccache gcc" HOSTCC="ccache gcc" \
			-s KCONFIG_ALLCONFIG="$out/fragment.config" allnoconfig >/dev/null
		if ! in_src export make -C "$SRC" O="$out" CC="ccache gcc" HOSTCC="ccache gcc" \
			-j"$(nproc)" -s all > "$out/build-$i.log" 2>&1; then
			tail -30 "$out/build-$i.log" >&2
			die "patch $i/${#commits[@]} does not build: $(git -C "$EXPORT" log -1 --format=%s "$c")"
		fi
		if grep -q 'warning:' "$out/build-$i.log"; then
			grep 'warning:' "$out/build-$i.log" >&2
			die "patch $i/${#commits[@]} builds with warnings: $(git -C "$EXPORT" log -1 --format=%s "$c")"
		fi
		secs=$(( $(date +%s) - start ))
		printf 'bisect: %2d/%d builds (%3ds, isolation core %s)  %s\n' "$i" "${#commits[@]}" \
			"$secs" "$(grep -q '^CONFIG_IOMMU_ISOLATION_GROUPS=y' "$out/.config" && echo on || echo absent)" \
			"$(git -C "$EXPORT" log -1 --format=%s "$c")"
	done
	git -C "$EXPORT" checkout -q -f --detach "${commits[-1]}"
}

case ${1:-export} in
export) do_export ;;
am) do_export; do_am ;;
bisect) do_export; do_bisect ;;
*) die "usage: $0 [export|am|bisect]" ;;
esac
