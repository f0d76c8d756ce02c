# SPDX-License-Identifier: GPL-2.0
# The isolation-group core: build the kernels, boot them in QEMU, run the
# tests. "make help" lists the targets.

SHELL := /bin/bash
S := scripts
# Machines and variants "make check" covers (override on the command line)
VARIANTS ?= stock,isolation
MACHINES ?=

.PHONY: help deps assemble kernels kernel-% selftests peer demo check \
	check-quick check-debug check-rules bench-boot bench bench-profile vm \
	writeback lint clean \
	kernel-isolation-x86_64-off realusers series series-am series-bisect \
	check-series kernel-isolation-x86_64-distro kernel-stock-x86_64-distro \
	lsisolation-diff check-compile

help:
	@echo "make demo         build the isolation kernel, boot vtd: groups and a VFIO DMA round trip"
	@echo "make check        build everything and run every suite on every machine"
	@echo "make check-quick [TESTS='groups hotplug']  isolation kernel, vtd only (development)"
	@echo "make check-debug  debug kernel (lockdep, KASAN, kmemleak) through the selftests"
	@echo "make bench-boot   cost of setting up all groups at boot, stock vs isolation"
	@echo "make check-rules  every PCI grouping rule is needed: the table on kernels without each"
	@echo "make bench        group layer benchmarks on pcisim, stock vs isolation (5 boots each, profile)"
	@echo "make bench-profile  only where the largest scan's time goes (profile=2)"
	@echo "make check-compile  allmodconfig: every in-tree caller of the group API compiles, 5 architectures"
	@echo "make lsisolation-diff  lsisolation --diff: stock vs isolation on vtd, both ways"
	@echo "make vm MACHINE=vtd [VARIANT=isolation] [RUN='cmd']   a shell or a command in a guest"
	@echo "make writeback    save edits made in build/tree/isolation into the repository"
	@echo "make lint         checkpatch --strict and sparse on our code"
	@echo "make docs         Sphinx and kernel-doc on our documentation, warnings fail"
	@echo "make series       the series as sent: build/series/ (format-patch --cover-letter)"
	@echo "make series-am    git am of build/series/ onto a clean 6.12.y gives the harness tree"
	@echo "make series-bisect  every patch of the series builds the x86_64 isolation kernel"
	@echo "make check-series lint, docs, series-am and series-bisect: what a submission needs"

deps:
	@$(S)/deps.sh install

assemble: deps
	@$(S)/assemble.sh isolation

# kernel-VARIANT-ARCH, e.g. kernel-stock-x86_64
kernel-%: deps
	@$(S)/build-kernel.sh $(word 1,$(subst -, ,$*)) $(subst $(word 1,$(subst -, ,$*))-,,$*)

kernels: kernel-isolation-x86_64 kernel-stock-x86_64 kernel-isolation-x86_64-off \
	kernel-isolation-x86_64-distro kernel-stock-x86_64-distro \
	kernel-isolation-arm64 kernel-isolation-ppc64le

# The series with CONFIG_IOMMU_ISOLATION_GROUPS=n: must behave as stock
kernel-isolation-x86_64-off: deps
	@$(S)/build-kernel.sh isolation x86_64 off

# The distro flavour (configs/distro.config): modules, ACPI hot-plug,
# Debian's IOMMU settings; make check runs its suites on vtd
kernel-isolation-x86_64-distro kernel-stock-x86_64-distro: kernel-%-x86_64-distro: deps
	@$(S)/build-kernel.sh $* x86_64 distro

selftests: kernels
	@$(S)/build-selftests.sh x86_64 stock isolation isolation-off \
		isolation-distro stock-distro
	@$(S)/build-selftests.sh arm64 isolation
	@$(S)/build-selftests.sh ppc64le isolation

peer: deps
	@$(S)/build-peer.sh x86_64

# Debian's QEMU and DPDK for the realusers suite (an initramfs overlay)
realusers: deps
	@$(S)/build-realusers.sh

demo: kernel-isolation-x86_64
	@$(S)/build-selftests.sh x86_64 isolation
	@$(S)/demo.sh

# snapshots of both variants' groups on vtd, and lsisolation --diff of
# one against the other; the selftests then diff against them too
lsisolation-diff: kernel-stock-x86_64 kernel-isolation-x86_64
	@$(S)/build-selftests.sh x86_64 stock isolation
	@$(S)/lsisolation-diff.sh vtd

# every object file that calls the group or attach API, built alone from
# allmodconfig with the core on, for x86_64 arm64 ppc64le s390x armhf: one
# "compile: ARCH dirs=N objects=M errors=E warnings=W" line each (about
# 8 min with a cold ccache, 1.5 min warm)
check-compile: deps
	@$(S)/compile-coverage.sh

check: selftests peer realusers lsisolation-diff check-compile
	@$(S)/check-nm.sh x86_64
	@$(S)/docs.sh
	@$(S)/series.sh am
	@$(S)/check.py --variants $(VARIANTS) $(if $(MACHINES),--machines $(MACHINES))
	@$(S)/bench.py --quick
	@$(S)/boot-cost.py --machine vtd

bench-boot: kernel-isolation-x86_64 kernel-stock-x86_64
	@$(S)/boot-cost.py --machine vtd --boots 5

# pcisim topologies up to 10,000 functions, timed in the guest kernel;
# 20-40 min (BENCH_ARGS: e.g. --rounds 3)
bench: kernel-isolation-x86_64 kernel-stock-x86_64
	@$(S)/build-selftests.sh x86_64 stock isolation
	@$(S)/bench.py --profile $(BENCH_ARGS)

bench-profile: kernel-isolation-x86_64 kernel-stock-x86_64
	@$(S)/build-selftests.sh x86_64 stock isolation
	@$(S)/bench.py --rounds 0 --profile

# each PCI grouping rule taken out in turn, the conformance table run on
# the mutant kernel: every rule must be caught (about 12 min)
check-rules: kernel-isolation-x86_64
	@$(S)/build-selftests.sh x86_64 isolation
	@$(S)/rule-coverage.py

check-quick: kernel-isolation-x86_64
	@$(S)/build-selftests.sh x86_64 isolation
	@$(S)/check.py --quick --variants isolation --suites isolation $(if $(TESTS),--tests '$(TESTS)')

check-debug: deps
	@$(S)/build-kernel.sh isolation x86_64 debug
	@$(S)/build-selftests.sh x86_64 isolation-debug
	@$(S)/check.py --variants isolation --flavour debug --machines vtd,virtio

MACHINE ?= vtd
VARIANT ?= isolation
vm:
	@$(S)/vm.py --machine $(MACHINE) --variant $(VARIANT) \
		$(if $(RUN),--exec '$(RUN)',--shell)

writeback:
	@$(S)/writeback.sh

lint: deps
	@$(S)/lint.sh

.PHONY: docs
docs: deps
	@$(S)/docs.sh

series: deps
	@$(S)/series.sh export

series-am: deps
	@$(S)/series.sh am

series-bisect: deps
	@$(S)/series.sh bisect

check-series: lint docs series-am series-bisect check-compile

clean:
	rm -rf build
