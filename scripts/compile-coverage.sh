#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Compile coverage of the in-tree callers of the group and attach API
# against the isolation-group core:
#   compile-coverage.sh [--arch A,B] [--list]
# For each architecture, allmodconfig of the isolation tree out of tree in
# build/out/allmod-ARCH (CONFIG_WERROR off, so a warning stays a warning),
# then every object whose source calls the API, in one "make -k" of single
# targets. The API is read from the trees, not listed here: what the core
# exports, the functions of <linux/isolation.h>, the group API of
# <linux/iommu.h> and the functions of iommu.c's legacy group layer (the
# code CONFIG_IOMMU_ISOLATION_GROUPS compiles out). An object whose Kconfig
# symbol is off, or that kbuild cannot make on an architecture, is listed as
# "not on ARCH". An object that fails is built again with the option off (the
# stock group layer) to tell whether the error is the core's.
# Log per architecture: build/logs/compile-ARCH.txt. Exit status: 1 if any
# object failed, 2 if an architecture cannot have the option, else 0.
# Takes build/.kbuild.lock per architecture: do not run it under that lock.
set -eu
. "$(dirname "$0")/lib.sh"

ALL_ARCHES="x86_64 arm64 ppc64le s390x armhf"
LOCK=$BUILD/.kbuild.lock
ISO=$(variant_tree isolation)
OPT=CONFIG_IOMMU_ISOLATION_GROUPS

usage() { echo "usage: $0 [--arch A,B] [--list]" >&2; exit 1; }

arches=$ALL_ARCHES list=
while [ $# -gt 0 ]; do
	case $1 in
	--arch) [ $# -ge 2 ] || usage; arches=${2//,/ }; shift ;;
	--arch=*) arches=${1#--arch=}; arches=${arches//,/ } ;;
	--list) list=1 ;;
	*) usage ;;
	esac
	shift
done
for a in $arches; do arch_kernel "$a" >/dev/null; done

lock() { exec 8>"$LOCK"; flock 8; }
unlock() { flock -u 8; exec 8>&-; }

# code FILE: the file without its comments
code() { perl -0pe 's{/\*.*?\*/}{}gs; s{//[^\n]*}{}g' "$1"; }

# The API: one name a line
api_names() {
	local t=$ISO
	# exported by the core
	sed -n 's/^EXPORT_SYMBOL[A-Z_]*(\([A-Za-z0-9_]*\).*/\1/p' \
		"$t"/drivers/iommu/isolation/*.c
	# declared or inline in <linux/isolation.h>
	code "$t/include/linux/isolation.h" | grep -oE '\b[a-z_][a-z0-9_]*\(' |
		tr -d '(' | grep -vxE 'defined|sizeof|if|return'
	# the group, attach and ownership API of <linux/iommu.h>
	code "$t/include/linux/iommu.h" | grep -oE '\b[a-z_][a-z0-9_]*\(' | tr -d '(' |
		grep -E '^(iommu_group_|iommu_attach_|iommu_detach_|domain_(at|de)tach_)|dma_owner|_default_domain$|^iommu_get_(dma_)?domain|^iommu_paging_domain_alloc$|device_group$'
	# non-static functions and exports of iommu.c in its
	# "#ifndef CONFIG_IOMMU_ISOLATION_GROUPS" regions: the legacy layer
	awk '
	/^#[ \t]*if/ { st[++n] = ($0 ~ /^#ifndef CONFIG_IOMMU_ISOLATION_GROUPS/); g += st[n]; prev = $0; next }
	/^#[ \t]*endif/ { if (n) { g -= st[n]; n-- }; prev = $0; next }
	g && /^EXPORT_SYMBOL/ {
		s = $0; sub(/^EXPORT_SYMBOL[A-Z_]*\(/, "", s); sub(/[,)].*/, "", s); print s }
	g && /^[A-Za-z_].*[A-Za-z0-9_]\(/ && prev !~ /^static/ &&
	     !/^(static|EXPORT|[a-z_]*initcall|module_|__setup|[A-Z_]+\()/ {
		s = $0; sub(/\(.*/, "", s); sub(/.*[ *]/, "", s); print s }
	{ prev = $0 }' "$t/drivers/iommu/iommu.c"
}

# Objects of the tree's C files that use the API (tracked files, as in the
# tree's work tree), the core and tools/ left out
api_objects() {
	git -C "$ISO" grep -l -w -F -f <(api_names | sort -u) -- '*.c' \
		':!drivers/iommu/isolation' ':!tools' | sed 's/\.c$/.o/'
}

# kbuild_file DIR: the directory's kbuild file (Kbuild wins, as in kbuild)
kbuild_file() {
	if [ -f "$ISO/$1/Kbuild" ]; then echo "$ISO/$1/Kbuild"
	elif [ -f "$ISO/$1/Makefile" ]; then echo "$ISO/$1/Makefile"
	fi
}

# lhs_of FILE WORD: the left-hand sides of the assignments listing WORD; a
# make variable in a listed name matches anything (dma-mapping$(MMUEXT).o)
lhs_of() {
	awk -v w="$2" '
	function check(line,	lhs, rhs, n, i, ws, p) {
		if (!match(line, /^[ \t]*[A-Za-z0-9_$().-]+[ \t]*[:+?]?=/))
			return
		lhs = substr(line, 1, RLENGTH); rhs = substr(line, RLENGTH + 1)
		sub(/[ \t]*[:+?]?=$/, "", lhs); sub(/^[ \t]*/, "", lhs)
		n = split(rhs, ws, /[ \t]+/)
		for (i = 1; i <= n; i++) {
			p = ws[i]; sub(/^\$\(obj\)\//, "", p)
			if (p == w) { print lhs; return }
			if (p ~ /\$\([A-Za-z0-9_]+\)/ && p !~ /^\$\([A-Za-z0-9_]+\)\//) {
				gsub(/\./, "[.]", p); gsub(/\$\([A-Za-z0-9_]+\)/, ".*", p)
				if (w ~ ("^" p "$")) { print lhs; return }
			}
		}
	}
	{ line = line $0 }
	/\\$/ { sub(/\\$/, " ", line); next }
	{ check(line); line = "" }
	END { if (line != "") check(line) }' "$1"
}

# listed DIR WORD: DIR's kbuild file lists WORD
listed() {
	local mk
	mk=$(kbuild_file "$1")
	[ -n "$mk" ] && [ -n "$(lhs_of "$mk" "$2")" ]
}

# gate DIR WORD [FILE [DEPTH]]: why kbuild does not build DIR/WORD on this .config:
# nothing if it does, else the reason. WORD is an object (x.o) or a
# subdirectory (x/), listed by FILE (DIR's kbuild file by default); a
# Makefile construct not read here counts as "built", kbuild then decides.
gate() {
	local dir=$1 word=$2 mk=${3:-} depth=${4:-0} lhs sym name why="" any="" up rest
	[ "$depth" -lt 8 ] || return 0
	case $dir in
	arch/"$KARCH"|arch/"$KARCH"/*) ;;
	arch/*) echo "another architecture's"; return ;;
	esac
	[ -n "$mk" ] || mk=$(kbuild_file "$dir")
	[ -n "$mk" ] || return 0
	while read -r lhs; do
		[ -n "$lhs" ] || continue
		any=1
		case $lhs in
		obj-y|obj-m|lib-y|subdir-y|subdir-m|core-y|*-y|*-m|*-objs)
			name=${lhs%-*} sym= ;;
		*-\$\(CONFIG_*\))
			name=${lhs%%-\$\(*} sym=${lhs##*\$\(}; sym=${sym%\)} ;;
		*)	return 0 ;;
		esac
		why=
		if [ -n "$sym" ] && ! grep -qE "^$sym=[ym]$" "$CONFIG"; then
			why="$sym is not set"
		fi
		case $name in
		obj|lib|subdir|core) ;;
		*) [ -n "$why" ] || [ "$name.o" = "$word" ] ||
			why=$(gate "$dir" "$name.o" "" $((depth + 1))) ;;
		esac
		[ -n "$why" ] || break
	done <<<"$(lhs_of "$mk" "$word")"
	[ -n "$any" ] || return 0
	# the directory: the nearest parent whose kbuild file lists it
	up=$dir rest=
	while [ -z "$why" ] && [ "${up%/*}" != "$up" ]; do
		rest=${up##*/}/$rest up=${up%/*}
		if listed "$up" "$rest"; then
			why=$(gate "$up" "$rest" "" $((depth + 1)))
			break
		fi
	done
	[ -z "$why" ] || echo "$why"
}

# kbuild_target OBJ: "TARGET DIR WORD FILE": the single target kbuild knows
# OBJ by, and where it is listed (gate's arguments); nothing if no kbuild
# file of this architecture lists OBJ (kbuild would compile it all the same,
# unconfigured). An object a shared fragment lists as $(VAR)/x.o
# (virt/kvm/Makefile.kvm) is built through the architecture's directory that
# includes the fragment.
kbuild_target() {
	local o=$1 dir=${1%/*} up frag word var rel inc
	# in the directory's kbuild file, as x.o or by its path from a parent
	# directory whose kbuild file includes it (nouveau's nvkm/.../x.o)
	up=$dir word=${o##*/}
	while :; do
		if [ -n "$(kbuild_file "$dir")" ] &&
		   [ -n "$(lhs_of "$(kbuild_file "$dir")" "$word")" ]; then
			echo "$o $up $word $(kbuild_file "$dir")"; return
		fi
		[ "${up%/*}" != "$up" ] || break
		word=${up##*/}/$word up=${up%/*}
	done
	for frag in "$ISO/$dir"/Makefile.*; do
		[ -f "$frag" ] || continue
		word=$(grep -oE "\\\$\\([A-Z_]+\\)/${o##*/}\b" "$frag" | head -1)
		[ -n "$word" ] || continue
		var=${word#\$(} var=${var%%)*}
		rel=$(sed -n "s/^${var}[ \t]*[:?]*=[ \t]*//p" "$frag" | head -1)
		inc=$(git -C "$ISO" grep -l -F "${frag#"$ISO"/}" -- "arch/$KARCH" | head -1)
		if [ -n "$rel" ] && [ -n "$inc" ]; then
			echo "${inc%/*}/$rel/${o##*/} ${inc%/*} $word $frag"; return
		fi
	done
}

# kmake OUT ARGS...: make in the isolation tree, the lock held by the caller
kmake() {
	local out=$1
	shift
	in_src isolation make -C "$SRC" O="$out" ARCH="$KARCH" CROSS_COMPILE="$CROSS" \
		CC="ccache ${CROSS}gcc" HOSTCC="ccache gcc" "$@" 8>&-
}

# configure OUT ON|OFF: allmodconfig, with the option forced off for OFF
configure() {
	local out=$1
	mkdir -p "$out"
	# no -Werror: every WERROR option off (WERROR, DRM_WERROR, ...), or on
	# for PPC_DISABLE_WERROR
	git -C "$ISO" grep -h -oE '^config [A-Z0-9_]*WERROR$' -- '*Kconfig*' | sort -u |
		sed 's/^config \(.*DISABLE_WERROR\)$/CONFIG_\1=y/
		     s/^config \(.*\)/# CONFIG_\1 is not set/' > "$out/allmod.config"
	[ "$2" = on ] || echo "# $OPT is not set" >> "$out/allmod.config"
	kmake "$out" -s KCONFIG_ALLCONFIG="$out/allmod.config" allmodconfig
}

# Why the option is off in CONFIG: its "depends on" lines, from Kconfig
why_off() {
	local kc deps s v
	kc=$(git -C "$ISO" grep -l -E "^config ${OPT#CONFIG_}\$" -- '*Kconfig*' | head -1)
	deps=$(awk -v c="config ${OPT#CONFIG_}" '
		$0 == c { f = 1; next }
		f && /^(config|menuconfig|endmenu|menu|choice|endif|if|source) / { f = 0 }
		f && /^[ \t]+depends on / { sub(/^[ \t]+depends on /, ""); print }' "$ISO/$kc")
	printf '%s depends on %s (%s):' "${OPT#CONFIG_}" "${deps//$'\n'/ && }" "$kc"
	for s in $(grep -oE '\b[A-Z][A-Z0-9_]+\b' <<<"$deps" | sort -u); do
		v=$(sed -n "s/^CONFIG_$s=//p" "$CONFIG")
		printf ' %s=%s' "$s" "${v:-n}"
	done
	echo
}

# parse LOG TARGETS...: per target "ok", "warning" or "error", then the
# first diagnostic. Output of make -Otarget: each compile is one block,
# opened by kbuild's "  CC [M]  path" line.
parse() {
	local log=$1
	shift
	awk -v targets="$*" '
	BEGIN { n = split(targets, t, " "); for (i = 1; i <= n; i++) want[t[i]] = 1 }
	/^  [A-Z0-9_]+( \[M\])? +[^ ]+$/ { cur = $NF; next }
	/: error: |: fatal error: / { if (cur != "" && !(cur in first)) first[cur] = $0; err[cur] = 1; next }
	/: warning: / { if (cur != "" && !(cur in wfirst)) wfirst[cur] = $0; warn[cur] = 1; next }
	/^make\[[0-9]+\]: \*\*\* \[.*\] Error/ {
		s = $0; sub(/\] Error.*/, "", s); sub(/.*: /, "", s); err[s] = 1; next }
	/No rule to make target/ {
		s = $0; gsub(/`/, "\047", s); split(s, q, "\047"); norule[q[2]] = 1; next }
	END {
		for (i = 1; i <= n; i++) {
			o = t[i]
			if (o in norule) print o, "norule"
			else if (o in err) print o, "error", first[o]
			else if (o in warn) print o, "warning", wfirst[o]
			else print o, "ok"
		}
	}' "$log"
}

hms() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

status=0
first=1
for arch in $arches; do
	KARCH=$(arch_kernel "$arch")
	CROSS=$(arch_cross "$arch")
	out=$OUT/allmod-$arch
	CONFIG=$out/.config
	log=$LOGS/compile-$arch.txt
	mkdir -p "$OUT" "$LOGS" "$CCACHE_DIR"

	note "$arch: waiting for ${LOCK#"$TOP"/}"
	lock
	start=$(date +%s)
	"$TOP/scripts/assemble.sh" isolation
	if [ -n "$first" ]; then
		objs=$(api_objects)
		note "$(wc -l <<<"$objs") objects use the API ($(api_names | sort -u | wc -l) names)"
		first=
		if [ -n "$list" ]; then
			unlock
			echo "$objs"
			exit 0
		fi
	fi

	note "$arch: allmodconfig in ${out#"$TOP"/}"
	configure "$out" on
	{
		echo "# compile coverage: $arch, allmodconfig of $(git -C "$ISO" log -1 --format='%h %s'), $(date -u '+%F %T') UTC"
	} > "$log"
	if ! grep -qx "$OPT=y" "$CONFIG"; then
		why=$(why_off)
		echo "unsupported: $why" >> "$log"
		echo "compile: $arch unsupported: $why"
		[ $status = 1 ] || status=2
		unlock
		continue
	fi

	# the objects kbuild makes here
	targets=() skipped=0
	for o in $objs; do
		read -r t tdir tword tmk <<<"$(kbuild_target "$o")" || true
		if [ -z "${t:-}" ]; then
			why="no kbuild file of $KARCH lists it"
		else
			why=$(gate "$tdir" "$tword" "$tmk")
		fi
		if [ -n "$why" ]; then
			echo "not on $arch: $o ($why)" >> "$log"
			skipped=$((skipped + 1))
		else
			targets+=("$t")
		fi
	done
	# built again every time, so that their warnings are in the log
	(cd "$out" && rm -f "${targets[@]}")
	note "$arch: ${#targets[@]} objects (${skipped} not on $arch), make -k -j2"
	mstart=$(date +%s)
	kmake "$out" -k -j2 -Otarget "${targets[@]}" > "$out/compile.log" 2>&1 || true
	msecs=$(( $(date +%s) - mstart ))

	errors=() nerr=0 nwarn=0 nok=0 dirs=()
	while read -r o verdict diag; do
		case $verdict in
		norule)
			echo "not on $arch: $o (kbuild does not make it)" >> "$log"
			skipped=$((skipped + 1)); continue ;;
		error) nerr=$((nerr + 1)); errors+=("$o") ;;
		warning) nwarn=$((nwarn + 1)) ;;
		ok)
			if [ -f "$out/$o" ]; then
				nok=$((nok + 1))
			else
				verdict=error diag="no object file: see the make log"
				nerr=$((nerr + 1)); errors+=("$o")
			fi ;;
		esac
		printf '%-7s %s%s\n' "$verdict" "$o" "${diag:+  $diag}" >> "$log"
		dirs+=("$(dirname "$(realpath -s -m "/$o")" | cut -c2-)")
	done <<<"$(parse "$out/compile.log" "${targets[@]}")"

	# an error with the option off too is not the core's
	if [ $nerr -gt 0 ]; then
		status=1
		note "$arch: $nerr errors; the same objects with ${OPT#CONFIG_}=n"
		configure "$out-off" off
		grep -q "^$OPT=y" "$out-off/.config" && die "$arch: ${OPT#CONFIG_} cannot be switched off"
		(cd "$out-off" && rm -f "${errors[@]}")
		kmake "$out-off" -k -j2 -Otarget "${errors[@]}" > "$out-off/compile.log" 2>&1 || true
		while read -r o verdict diag; do
			case $verdict in
			error) echo "error with ${OPT#CONFIG_}=n too (not the core's): $o" ;;
			norule) echo "not built with ${OPT#CONFIG_}=n: $o" ;;
			*) echo "builds with ${OPT#CONFIG_}=n (the core's error): $o" ;;
			esac
		done <<<"$(parse "$out-off/compile.log" "${errors[@]}")" >> "$log"
	fi

	mapfile -t dirs < <(printf '%s\n' "${dirs[@]}" | sort -u)
	secs=$(( $(date +%s) - start ))
	{
		echo "directories (${#dirs[@]}):"
		printf '  %s\n' "${dirs[@]}"
		echo "time: $(hms $secs) in all, make of the objects $(hms $msecs) (make log: ${out#"$TOP"/}/compile.log)"
	} >> "$log"
	unlock
	echo "compile: $arch dirs=${#dirs[@]} objects=$((nok + nwarn + nerr)) errors=$nerr warnings=$nwarn"
	note "$arch: $(hms $secs) (make $(hms $msecs)), $skipped not on $arch; ${log#"$TOP"/}"
done
exit $status
