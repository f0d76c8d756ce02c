# SPDX-License-Identifier: GPL-2.0
# Shared settings for the harness scripts. Sourced, not run.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
TREES=$BUILD/tree
OUT=$BUILD/out
LOGS=${LOGS:-$BUILD/logs}	# console logs; check.py reads LOGS too
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/isolation-ccache}
# Every kernel is compiled through one path, $SRC, onto which the chosen
# variant's tree is bind-mounted in a private mount namespace (in_src), so
# compiler command lines are the same for both variants and ccache reuses
# the objects of files the series does not change.
SRC=$BUILD/src
export CCACHE_BASEDIR=$BUILD
export CCACHE_NOHASHDIR=1
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}

die() { echo "error: $*" >&2; exit 1; }
note() { echo "==> $*" >&2; }

# cross compiler prefix and kernel ARCH for an architecture name
arch_kernel() {
	case $1 in
	x86_64) echo x86 ;;
	arm64) echo arm64 ;;
	ppc64le) echo powerpc ;;
	s390x) echo s390 ;;
	armhf) echo arm ;;
	*) die "unknown architecture '$1'" ;;
	esac
}

arch_cross() {
	case $1 in
	x86_64) echo "" ;;
	arm64) echo aarch64-linux-gnu- ;;
	ppc64le) echo powerpc64le-linux-gnu- ;;
	s390x) echo s390x-linux-gnu- ;;
	armhf) echo arm-linux-gnueabihf- ;;
	*) die "unknown architecture '$1'" ;;
	esac
}

arch_image() {
	case $1 in
	x86_64) echo arch/x86/boot/bzImage ;;
	arm64) echo arch/arm64/boot/Image ;;
	ppc64le) echo vmlinux ;;
	esac
}

variant_tree() {
	case $1 in
	stock|isolation) echo "$TREES/$1" ;;
	export) echo "$TREES/export" ;;	# the series as sent (series.sh)
	mutant) echo "$TREES/mutant" ;;	# rules taken out (rule-coverage.py)
	*) die "unknown variant '$1' (stock or isolation)" ;;
	esac
}

# out-of-tree build directory of a kernel: variant, arch, optional flavour
kernel_out() {
	echo "$OUT/$1-$2${3:+-$3}"
}

# Top-level folders of the repository that hold new kernel files, copied
# into the assembled tree at the same paths.
KERNEL_DIRS="arch drivers include lib tools Documentation"

GIT_ID=(-c user.name="isolation harness" -c user.email="harness@localhost")

# in_src VARIANT CMD...: run CMD with the variant's tree mounted at $SRC.
in_src() {
	local tree
	tree=$(variant_tree "$1")
	shift
	mkdir -p "$SRC"
	# as a user: a user namespace gives the right to bind-mount
	# shellcheck disable=SC2046
	unshare -m $([ "$(id -u)" = 0 ] || echo -r) --propagation private \
		bash -c 'mount --bind "$0" "$1" && shift && exec "$@"' "$tree" "$SRC" "$@"
}
