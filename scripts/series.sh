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
	[ -n "$maint_patch" ] && maint_sync
	return 0
}

# "maintainers N": patch N adds our MAINTAINERS entry. It is not sent as a
# commit of its own: the entry comes with the first commit that adds a file
# it names, and each later commit that adds files no F: line of the entry
# covers yet brings those F: lines, so every commit that adds files updates
# MAINTAINERS or adds only files the entry already covers.
maint_sync() {
	python3 - "$TOP/patches/$maint_patch" "$EXPORT/MAINTAINERS" \
		"${!placed[@]}" <<'PY'
import re
import sys
patch, maint = sys.argv[1:3]
placed = sys.argv[3:]
block, after, hunk = [], None, False
for line in open(patch).read().split('\n'):
    if line.startswith('@@'):
        hunk = True
    elif hunk and line.startswith('+') and not line.startswith('+++'):
        block.append(line[1:])
    elif hunk and block and line.startswith(' ') and line.strip():
        after = line[1:]
        break
while block and not block[-1].strip():
    block.pop()
if not block or after is None:
    sys.exit('series/plan: %s adds no MAINTAINERS entry' % patch)


def covers(pat, f):
    return f == pat or (pat.endswith('/') and f.startswith(pat))


keep = [b for b in block if not b.startswith('F:\t') or
        any(covers(b[3:], f) for f in placed)]
if len(keep) == len([b for b in block if not b.startswith('F:\t')]):
    sys.exit(0)                 # no file of the entry placed yet
lines = open(maint).read().split('\n')
if block[0] in lines:           # drop the entry as the last commit left it
    i = lines.index(block[0])
    j = lines.index('', i)
    del lines[i:j + 1]
k = lines.index(after)
lines[k:k] = keep + ['']
open(maint, 'w').write('\n'.join(lines))
PY
	git -C "$EXPORT" add MAINTAINERS
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
	maint_patch=
	n=$(awk '$1 == "maintainers" { print $2 }' "$PLAN")
	if [ -n "$n" ]; then
		maint_patch=${patches[$((n - 1))]:-}
		[ -n "$maint_patch" ] || die "series/plan: no patch $n in patches/series"
	fi
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
		maintainers|''|'#'*) ;;
		*) die "series/plan line $line: unknown '$kind'" ;;
		esac
	done < "$PLAN"
	for f in "${!owner[@]}"; do
		[ -n "${placed[$f]:-}" ] || die "series/plan: $f was not added"
	done
	for n in $(seq ${#patches[@]}); do
		grep -Eq "^(patch|maintainers) $n( |$)" "$PLAN" ||
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
