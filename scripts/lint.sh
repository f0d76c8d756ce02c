#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Lint our code: checkpatch --strict on every patch of the series (as sent)
# and on every new kernel file, get_maintainer.pl, kernel-doc and Sphinx
# (docs.sh), coccicheck, and sparse on drivers/iommu, drivers/vfio and
# kernel/dma of the isolation kernel. Fails on any warning in our files.
set -eu
. "$(dirname "$0")/lib.sh"

"$TOP/scripts/assemble.sh" isolation
src=$TREES/isolation
# Debian's python3 (spdxcheck.py needs its python3-ply), not one earlier in PATH
cp=(env PATH="/usr/bin:$PATH" "$src/scripts/checkpatch.pl" --strict --quiet --no-summary --show-types)
fail=0

# Drop the reports scripts/lint-known.txt explains, saying so.
known() {
	python3 -c '
import sys
known = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])
         if l.strip() and not l.startswith("#")]
for block in sys.stdin.read().strip().split("\n\n"):
    if not block.strip():
        continue
    why = [k[2] for k in known if ":" + k[0] + ":" in block and k[1] in block]
    if why:
        print("known false positive (%s): %s" % (why[0], block.splitlines()[0]),
              file=sys.stderr)
    else:
        print(block + "\n")
' "$TOP/scripts/lint-known.txt"
}

# The series as it is sent (scripts/series.sh): patches/ and the commits
# that add our new files, checked in the tree they apply to.
"$TOP/scripts/series.sh" export
mapfile -t mails < <(ls "$BUILD"/series/0*.patch | grep -v /0000-cover-letter)
for p in "${mails[@]}"; do
	out=$(cd "$src" && "${cp[@]}" "$p" 2>&1 | known || true)
	if [ -n "$out" ]; then
		echo "$out"
		fail=1
	fi
done

# shellcheck disable=SC2086
mapfile -t ours < <(git -C "$TOP" ls-files --cached --others --exclude-standard -- $KERNEL_DIRS |
	grep -E '\.(c|h)$')
for f in "${ours[@]}"; do
	out=$(cd "$src" && "${cp[@]}" --no-tree -f "$f" 2>&1 | known || true)
	if [ -n "$out" ]; then
		echo "$out"
		fail=1
	fi
done
note "checkpatch --strict: ${#ours[@]} files, ${#mails[@]} patches of the series"

# checkpatch asks "does MAINTAINERS need updating?" of every patch that
# adds files without touching MAINTAINERS. Our entry comes with the first
# patch that adds files (series/plan): a later patch that leaves MAINTAINERS
# alone must add only files the entry already covers where it applies.
mapfile -t commits < <(git -C "$TREES/export" rev-list --reverse base..HEAD)
covered=0
for i in "${!mails[@]}"; do
	grep -q '^new file mode' "${mails[$i]}" || continue
	grep -q '^ MAINTAINERS *|' "${mails[$i]}" && continue
	git -C "$TREES/export" show "${commits[$i]}^:MAINTAINERS" > "$BUILD/lint-maintainers"
	out=$(python3 - "${mails[$i]}" "IOMMU ISOLATION-GROUP CORE" \
		"$BUILD/lint-maintainers" <<'PY'
import re
import sys
mail, title, maint = sys.argv[1:]
lines = open(maint).read().split('\n')
pats = []
if title in lines:
    for ln in lines[lines.index(title) + 1:]:
        if not ln.strip():
            break
        if ln.startswith('F:\t'):
            pats.append(ln[3:])
text = open(mail).read()
new = re.findall(r'^diff --git a/(\S+) b/\S+\nnew file mode', text, re.M)
for f in new:
    if not any(f == p or (p.endswith('/') and f.startswith(p)) for p in pats):
        print('%s: adds %s, which no F: line of the entry covers yet' %
              (mail.rsplit('/', 1)[-1], f))
PY
)
	if [ -n "$out" ]; then
		echo "$out"
		fail=1
	else
		covered=$((covered + 1))
	fi
done
note "MAINTAINERS: $covered patches add files only the entry already covers"

# get_maintainer.pl names our MAINTAINERS entry for every patch of the
# series that is about the core, and every file it adds. A fix of the base
# kernel that stands on its own (the iova fix, sent first) goes to the
# maintainers of what it fixes: there it must name "IOMMU SUBSYSTEM"; the
# TARGETS line goes to the kselftest maintainers.
gm=(env PATH="/usr/bin:$PATH" "$src/scripts/get_maintainer.pl" --no-git --no-git-fallback --no-rolestats)
entry="IOMMU ISOLATION-GROUP CORE"
standalone="iommu-iova-"
for p in "${mails[@]}"; do
	want=$entry
	case $(basename "$p") in
	*"$standalone"*) want="IOMMU SUBSYSTEM" ;;
	# the kselftest TARGETS line is the kselftest maintainers' file
	*selftests-build-and-run-the-isolation-selftests*) want="KERNEL SELFTEST FRAMEWORK" ;;
	esac
	(cd "$src" && "${gm[@]}" --roles "$p" 2>/dev/null) | grep -qF "$want" ||
		{ echo "get_maintainer.pl: $want not named for $(basename "$p")"; fail=1; }
done
for f in "${ours[@]}" $(git -C "$TOP" ls-files --cached --others --exclude-standard -- $KERNEL_DIRS | grep -vE '\.(c|h)$'); do
	(cd "$src" && "${gm[@]}" --roles -f "$f" 2>/dev/null) | grep -qF "$entry" ||
		{ echo "get_maintainer.pl: $entry not named for $f"; fail=1; }
done
note "get_maintainer.pl: $entry named for ${#mails[@]} patches and every new file"

# kernel-doc -Wall on our sources, and Sphinx over the pages that use it
"$TOP/scripts/docs.sh" || fail=1

# coccicheck: the kernel's semantic patches, report mode, on our folders.
# Two of them embed OCaml, which Debian's spatch runs only with the OCaml
# compiler installed (285 MB): check_bq27xxx_data.cocci is about one
# battery driver, and badzero.cocci's finding (0 compared with a pointer)
# is sparse's "Using plain integer as NULL pointer", checked below.
: > "$BUILD/coccicheck.log"
ncocci=0
for c in "$src"/scripts/coccinelle/*/*.cocci "$src"/scripts/coccinelle/*/*/*.cocci; do
	grep -q ':ocaml' "$c" && continue
	ncocci=$((ncocci + 1))
	in_src isolation make -s -C "$SRC" O="$(kernel_out isolation x86_64)" \
		coccicheck MODE=report M=drivers/iommu/isolation \
		COCCI="$SRC/${c#"$src"/}" >> "$BUILD/coccicheck.log" 2>&1 ||
		{ tail -20 "$BUILD/coccicheck.log"; die "coccicheck failed on $c"; }
done
if grep -E '^[^ ]*drivers/iommu/isolation/[^ ]*:[0-9]+' "$BUILD/coccicheck.log"; then
	fail=1
fi
note "coccicheck: $ncocci semantic patches on drivers/iommu/isolation, $(grep -cE '^[^ ]*:[0-9]+:' "$BUILD/coccicheck.log" || true) reports"

# sparse: only warnings in files we add or the series changes count
out=$(kernel_out isolation x86_64)
[ -f "$out/.config" ] || "$TOP/scripts/build-kernel.sh" isolation x86_64
mapfile -t touched < <({ printf '%s\n' "${ours[@]}"; git -C "$src" diff --name-only base "$(cat "$TREES/.series-tip")"; } | sort -u)
in_src isolation make -s -C "$SRC" O="$out" C=2 CHECK="sparse" CC="ccache gcc" \
	drivers/iommu/ drivers/vfio/ kernel/dma/ > "$out/sparse.log" 2>&1 || { tail -20 "$out/sparse.log"; die "sparse run failed"; }
n=0
for f in "${touched[@]}"; do
	[ -n "$f" ] || continue
	if grep -F "$f:" "$out/sparse.log"; then
		n=$((n + 1))
	fi
done
note "sparse: drivers/iommu drivers/vfio kernel/dma, $(grep -c 'warning:' "$out/sparse.log" || true) warnings in base code, $n of our files with warnings"
[ $n = 0 ] || fail=1
[ $fail = 0 ] || die "lint found problems"
note "lint clean"
