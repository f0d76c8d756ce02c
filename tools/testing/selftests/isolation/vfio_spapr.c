// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO on POWER (pseries): the legacy container with the sPAPR TCE v2 IOMMU.
 * On pseries a group is a partitionable endpoint (PE), here one per PCI host
 * bridge (PHB), and DMA goes through a TCE table that maps a window of bus
 * addresses.
 *
 *  tce          edu-h1, alone on PHB 1: SET_IOMMU(SPAPR_TCE_v2), the DMA32
 *               window (VFIO_IOMMU_SPAPR_TCE_GET_INFO), the v2 rules for
 *               registered memory, and edu DMA round trips through a mapping
 *               in the window; an IOVA without a TCE, and one unmapped again,
 *               reach no memory.
 *  shared_pe    edu-h0a and edu-h0b share the PE of PHB 0: with edu-h0a bound
 *               to the edu_dma DMA-API driver VFIO refuses the group (EPERM);
 *               once it is unbound VFIO takes it; while VFIO holds it edu_dma
 *               cannot bind, and after VFIO let go edu_dma's DMA works (on
 *               the device the kernel restores; the other one is a known
 *               6.12 use after free, run only on request).
 *  bridge_pe    edu-pb2a behind the pci-bridge on PHB 2: the bridge and the
 *               other edu have no driver, so the group is viable.
 *
 * The sPAPR TCE v2 container of 6.12 (drivers/vfio/vfio_iommu_spapr_tce.c)
 * differs from type1:
 *  - VFIO_IOMMU_ENABLE is v1 only (ENOTTY on v2): the first
 *    VFIO_IOMMU_SPAPR_REGISTER_MEMORY enables the container, and MAP_DMA
 *    before that fails with EPERM;
 *  - MAP_DMA maps registered memory only (else EINVAL), at an IOVA inside a
 *    DMA window only (else ENXIO), in whole TCE pages; the default window
 *    (4 KiB TCEs over the DMA32 window) is created by the first MAP_DMA.
 * QEMU reports no DMA through a missing TCE to the guest, so there is no
 * fault to look for; the tests compare bytes.
 *
 * Without the sPAPR TCE IOMMU in VFIO (any other machine) every test skips.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "../kselftest_harness.h"
#include "edu.h"
#include "isolation_util.h"
#include "vfio_util.h"

/* IOVAs from the start of the DMA32 window, below the edu's DMA mask */
#define IOVA_BASE_OFF	0x100000ULL
#define IOVA_FAR_OFF	0x800000ULL
#define TCE_PAGE	4096ULL		/* TCE size of the default window */
#define DMA_TIMEOUT_MS	5000

/* Buffer pages (system pages): two mapped at base, one far, one never */
enum { PG_SRC, PG_DST, PG_SENT, PG_GUARD, PG_NR };

/*
 * Whether VFIO offers the sPAPR TCE v2 IOMMU; if not, why not in @why.
 * Asked of an empty container, which asks every registered IOMMU driver.
 */
static bool spapr_available(char *why, size_t len)
{
	int fd, ret;

	fd = open("/dev/vfio/vfio", O_RDWR);
	if (fd < 0) {
		snprintf(why, len, "no VFIO container: /dev/vfio/vfio: %s", strerror(errno));
		return false;
	}
	ret = ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_v2_IOMMU);
	close(fd);
	if (ret <= 0) {
		snprintf(why, len, "VFIO has no sPAPR TCE v2 IOMMU (%d): not pseries", ret);
		return false;
	}
	return true;
}

/* SKIP with @statement, as SKIP() does, where there is no sPAPR TCE IOMMU */
#define REQUIRE_SPAPR(statement) do { \
	char _why[128]; \
	if (!spapr_available(_why, sizeof(_why))) \
		SKIP(statement, "%s", _why); \
} while (0)

/* Record the failing step; returns its -errno (errno must be set). */
static int step_fail(struct vfio_ctx *c, const char *step)
{
	c->step = step;
	return errno ? -errno : -EIO;
}

/*
 * Container and group of @bdf (bound to vfio-pci) with the sPAPR TCE v2
 * IOMMU: /dev/vfio/vfio, VFIO_CHECK_EXTENSION, /dev/vfio/N,
 * VFIO_GROUP_GET_STATUS (kept in group_flags; SET_CONTAINER is tried anyway
 * so that the kernel's own refusal is what is returned),
 * VFIO_GROUP_SET_CONTAINER, VFIO_SET_IOMMU. No device is opened.
 * 0 or -errno, with the failing step in c->step; vfio_ctx_close() releases.
 */
static int spapr_open_group(struct vfio_ctx *c, const char *bdf)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[64];
	int ret;

	vfio_ctx_init(c);
	snprintf(c->bdf, sizeof(c->bdf), "%s", bdf);
	errno = 0;
	c->groupnr = iso_dev_group(bdf);
	if (c->groupnr < 0) {
		errno = ENODEV;
		return step_fail(c, "iommu_group link");
	}
	c->container = open("/dev/vfio/vfio", O_RDWR);
	if (c->container < 0)
		return step_fail(c, "open /dev/vfio/vfio");
	ret = ioctl(c->container, VFIO_GET_API_VERSION);
	if (ret != VFIO_API_VERSION) {
		errno = ret < 0 ? errno : EPROTO;
		return step_fail(c, "VFIO_GET_API_VERSION");
	}
	ret = ioctl(c->container, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_v2_IOMMU);
	if (ret <= 0) {
		errno = ret < 0 ? errno : EOPNOTSUPP;
		return step_fail(c, "VFIO_CHECK_EXTENSION(SPAPR_TCE_v2)");
	}
	snprintf(path, sizeof(path), "/dev/vfio/%d", c->groupnr);
	c->group = open(path, O_RDWR);
	if (c->group < 0)
		return step_fail(c, "open /dev/vfio/N");
	if (ioctl(c->group, VFIO_GROUP_GET_STATUS, &status))
		return step_fail(c, "VFIO_GROUP_GET_STATUS");
	c->group_flags = status.flags;
	if (ioctl(c->group, VFIO_GROUP_SET_CONTAINER, &c->container))
		return step_fail(c, "VFIO_GROUP_SET_CONTAINER");
	if (ioctl(c->container, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU))
		return step_fail(c, "VFIO_SET_IOMMU(SPAPR_TCE_v2)");
	return 0;
}

/* VFIO_IOMMU_SPAPR_(UN)REGISTER_MEMORY; 0 or -errno with c->step. */
static int spapr_register(struct vfio_ctx *c, void *vaddr, uint64_t size, bool reg)
{
	struct vfio_iommu_spapr_register_memory r = {
		.argsz = sizeof(r),
		.vaddr = (uintptr_t)vaddr,
		.size = size,
	};

	errno = 0;
	if (ioctl(c->container, reg ? VFIO_IOMMU_SPAPR_REGISTER_MEMORY :
		  VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &r))
		return step_fail(c, reg ? "VFIO_IOMMU_SPAPR_REGISTER_MEMORY" :
				 "VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY");
	return 0;
}

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static void fill(uint64_t *s, void *p, size_t n)
{
	unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = rnd(s) >> 56;
}

/* A vfio_util or spapr_*() step that must work; its name on failure */
#define ASSERT_STEP(c, call) do { \
	int _ret = (call); \
	ASSERT_EQ(0, _ret) TH_LOG("%s: %s", (c)->step, strerror(-_ret)); \
} while (0)

/* ---------------------------------------------------------------------- */

FIXTURE(tce) {
	struct iso_cleanup cl;
	struct vfio_ctx c;
	struct vfio_iommu_spapr_tce_info info;
	char bdf[ISO_BDF_LEN];
	char *buf;
	char *snap;
	size_t pg;
	uint64_t rng;
	uint64_t base;		/* IOVA of PG_SRC, PG_DST follows */
	uint64_t hole;		/* in the window, never mapped */
	uint64_t far;		/* IOVA of PG_SENT */
	int bind_ret;
	int open_ret;
	int info_ret;
};

FIXTURE_SETUP(tce)
{
	struct iso_topology topo;
	struct iso_dev *d;
	struct timespec ts;
	void *p;

	iso_cleanup_init(&self->cl);
	vfio_ctx_init(&self->c);
	REQUIRE_SPAPR(return);
	ASSERT_EQ(0, iso_topology_load(&topo));
	d = iso_topology_find(&topo, "edu-h1");
	if (!d || !d->bdf[0])
		SKIP(return, "edu-h1 (the edu alone on PHB 1) is not in this machine");
	snprintf(self->bdf, sizeof(self->bdf), "%s", d->bdf);
	ASSERT_LE(0, iso_dev_group(self->bdf)) TH_LOG("%s has no IOMMU group", self->bdf);

	self->pg = sysconf(_SC_PAGESIZE);
	p = mmap(NULL, PG_NR * self->pg, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	self->buf = p;
	self->snap = malloc(PG_NR * self->pg);
	ASSERT_NE(NULL, self->snap);
	clock_gettime(CLOCK_REALTIME, &ts);
	self->rng = (ts.tv_sec * 1000000000ULL + ts.tv_nsec) ^ ((uint64_t)getpid() << 40);
	self->rng = self->rng ? self->rng : 1;
	fill(&self->rng, self->buf, PG_NR * self->pg);
	ksft_print_msg("edu-h1 %s group %d, page size %zu, pattern seed %#llx\n", self->bdf,
		       iso_dev_group(self->bdf), self->pg, (unsigned long long)self->rng);

	/* no ASSERT or SKIP from here on: the teardown gives the device back */
	self->open_ret = -ECANCELED;
	self->info_ret = -ECANCELED;
	self->bind_ret = iso_cleanup_dev(&self->cl, self->bdf);
	if (!self->bind_ret)
		self->bind_ret = iso_bind(self->bdf, "vfio-pci");
	if (self->bind_ret)
		return;
	self->open_ret = spapr_open_group(&self->c, self->bdf);
	if (self->open_ret)
		return;
	self->info.argsz = sizeof(self->info);
	self->info_ret = ioctl(self->c.container, VFIO_IOMMU_SPAPR_TCE_GET_INFO,
			       &self->info) ? -errno : 0;
	self->base = self->info.dma32_window_start + IOVA_BASE_OFF;
	self->hole = self->base + 2 * self->pg;
	self->far = self->info.dma32_window_start + IOVA_FAR_OFF;
	self->open_ret = vfio_type1_open_device(&self->c, self->bdf, &self->c.device,
						&self->c.bar0, &self->c.bar0_size);
}

FIXTURE_TEARDOWN_PARENT(tce)
{
	/* after a failed ASSERT this runs in the test process (isolation_util.h) */
	if (iso_cleanup_in_test(&self->cl))
		vfio_ctx_close(&self->c);
	EXPECT_EQ(0, iso_cleanup_run(&self->cl));
}

/*
 * Helpers take the fixture as struct _test_data_tce, which is what
 * FIXTURE_DATA(tce) expands to: checkpatch reads the macro form followed
 * by "*self" as a multiplication.
 */
static char *page(struct _test_data_tce *self, int pg)
{
	return self->buf + pg * self->pg;
}

/*
 * The container, the window and the device are there and usable: true, or
 * false after a SKIP (the test returns then).
 */
static bool tce_ready(struct __test_metadata *_metadata, struct _test_data_tce *self)
{
	uint64_t start = self->info.dma32_window_start;
	uint64_t end = start + self->info.dma32_window_size;

	ASSERT_EQ(0, self->bind_ret)
		TH_LOG("binding %s to vfio-pci: %s", self->bdf, strerror(-self->bind_ret));
	ASSERT_EQ(0, self->open_ret)
		TH_LOG("%s: %s failed: %s", self->bdf, self->c.step, strerror(-self->open_ret));
	ASSERT_EQ(0, self->info_ret)
		TH_LOG("VFIO_IOMMU_SPAPR_TCE_GET_INFO: %s", strerror(-self->info_ret));
	ASSERT_LT(0U, self->info.dma32_window_size) TH_LOG("the DMA32 window is empty");
	/* the IOVAs used must be in the window and reachable by the edu */
	if (self->far + self->pg > end || self->far + self->pg > (1ULL << EDU_DMA_BITS))
		SKIP(return false, "DMA32 window [%#llx, %#llx) too small for the test IOVAs %s",
		     (unsigned long long)start, (unsigned long long)end,
		     "below the edu's 28-bit DMA mask");
	ASSERT_EQ(EDU_ID_VALUE, edu_rd32(self->c.bar0, EDU_ID))
		TH_LOG("BAR0 of %s does not read as an edu", self->bdf);
	return true;
}

/* Register the whole buffer; map SRC+DST at base and SENT at far. */
static void tce_map(struct __test_metadata *_metadata, struct _test_data_tce *self)
{
	ASSERT_STEP(&self->c, spapr_register(&self->c, self->buf, PG_NR * self->pg, true));
	ASSERT_STEP(&self->c, vfio_dma_map(&self->c, page(self, PG_SRC), self->base,
					   2 * self->pg));
	ASSERT_STEP(&self->c, vfio_dma_map(&self->c, page(self, PG_SENT), self->far, self->pg));
}

static void xfer(struct __test_metadata *_metadata, struct _test_data_tce *self,
		 uint64_t iova, unsigned int off, size_t len, bool to_device)
{
	ASSERT_EQ(0, edu_dma(self->c.bar0, iova, off, len, to_device, DMA_TIMEOUT_MS))
		TH_LOG("edu DMA %s IOVA %#llx did not complete", to_device ? "from" : "to",
		       (unsigned long long)iova);
}

static void expect_bytes(struct __test_metadata *_metadata, const char *what,
			 const void *got, const void *want, size_t n)
{
	const unsigned char *g = got, *w = want;
	size_t i;

	for (i = 0; i < n && g[i] == w[i]; i++)
		;
	ASSERT_EQ(n, i)
		TH_LOG("%s: byte %zu of %zu is %#x, expected %#x", what, i, n, g[i], w[i]);
}

static void expect_unchanged(struct __test_metadata *_metadata, struct _test_data_tce *self,
			     const char *what)
{
	static const char * const names[] = { "source", "destination", "sentinel", "guard" };
	char msg[160];
	int i;

	for (i = 0; i < PG_NR; i++) {
		snprintf(msg, sizeof(msg), "%s: %s page changed", what, names[i]);
		expect_bytes(_metadata, msg, page(self, i), self->snap + i * self->pg, self->pg);
	}
}

/* Put a fresh pattern into the edu (at 0) and prove it by reading it back. */
static void load_device(struct __test_metadata *_metadata, struct _test_data_tce *self)
{
	fill(&self->rng, page(self, PG_SRC), self->pg);
	fill(&self->rng, page(self, PG_DST), self->pg);
	xfer(_metadata, self, self->base, 0, EDU_MAX_XFER, true);
	xfer(_metadata, self, self->base + self->pg, 0, EDU_MAX_XFER, false);
	expect_bytes(_metadata, "device buffer load", page(self, PG_DST), page(self, PG_SRC),
		     EDU_MAX_XFER);
}

/* VFIO_IOMMU_SPAPR_TCE_GET_INFO describes a DMA32 window the edu can use. */
TEST_F(tce, window)
{
	if (!tce_ready(_metadata, self))
		return;
	ksft_print_msg("DMA32 window %#x + %#x (%u MiB), flags %#x%s\n",
		       self->info.dma32_window_start, self->info.dma32_window_size,
		       self->info.dma32_window_size >> 20, self->info.flags,
		       self->info.flags & VFIO_IOMMU_SPAPR_INFO_DDW ? " (DDW)" : "");
	if (self->info.flags & VFIO_IOMMU_SPAPR_INFO_DDW)
		ksft_print_msg("DDW: page sizes %#llx, %u windows, %u levels\n",
			       (unsigned long long)self->info.ddw.pgsizes,
			       self->info.ddw.max_dynamic_windows_supported,
			       self->info.ddw.levels);
	ASSERT_EQ(0U, self->info.dma32_window_size % TCE_PAGE);
	ksft_print_msg("test IOVAs: %#llx (2 pages), hole %#llx, %#llx (1 page)\n",
		       (unsigned long long)self->base, (unsigned long long)self->hole,
		       (unsigned long long)self->far);
}

/*
 * The v2 rules: no ENABLE, MAP_DMA only after registration, only of
 * registered memory, only inside a window, in whole TCE pages.
 */
TEST_F(tce, register_rules)
{
	uint64_t end;
	char *other;
	int ret;

	if (!tce_ready(_metadata, self))
		return;
	end = (uint64_t)self->info.dma32_window_start + self->info.dma32_window_size;

	ret = vfio_dma_map(&self->c, page(self, PG_SRC), self->base, self->pg);
	ASSERT_EQ(-EPERM, ret)
		TH_LOG("MAP_DMA before any registration: %s, expected EPERM", strerror(-ret));

	ret = ioctl(self->c.container, VFIO_IOMMU_ENABLE) ? -errno : 0;
	ksft_print_msg("VFIO_IOMMU_ENABLE on a v2 container: %s\n",
		       ret ? strerror(-ret) : "ok");
	ASSERT_EQ(-ENOTTY, ret) TH_LOG("v2 has no ENABLE: registering memory enables");

	ASSERT_STEP(&self->c, spapr_register(&self->c, self->buf, PG_NR * self->pg, true));
	ret = spapr_register(&self->c, self->buf, PG_NR * self->pg, true);
	ASSERT_EQ(-EBUSY, ret) TH_LOG("registering twice: %s", strerror(-ret));

	other = mmap(NULL, self->pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		     -1, 0);
	ASSERT_NE(MAP_FAILED, other);
	memset(other, 0, self->pg);
	ret = vfio_dma_map(&self->c, other, self->base, self->pg);
	munmap(other, self->pg);
	ASSERT_EQ(-EINVAL, ret) TH_LOG("MAP_DMA of unregistered memory: %s", strerror(-ret));

	ret = vfio_dma_map(&self->c, page(self, PG_SRC), end, self->pg);
	ASSERT_EQ(-ENXIO, ret)
		TH_LOG("MAP_DMA at %#llx, past the window: %s", (unsigned long long)end,
		       strerror(-ret));
	ret = vfio_dma_map(&self->c, page(self, PG_SRC), self->base, TCE_PAGE / 2);
	ASSERT_EQ(-EINVAL, ret) TH_LOG("MAP_DMA of half a TCE page: %s", strerror(-ret));

	/*
	 * Unregistering memory that is still mapped is not tried: 6.12 returns
	 * 0 instead of EBUSY, forgets the region while it stays pinned, and
	 * WARNs in destroy_context() when the process exits.
	 */
	ASSERT_STEP(&self->c, vfio_dma_map(&self->c, page(self, PG_SRC), self->base, self->pg));
	ASSERT_STEP(&self->c, vfio_dma_unmap(&self->c, self->base, self->pg));
	ASSERT_STEP(&self->c, spapr_register(&self->c, self->buf, PG_NR * self->pg, false));
	ret = vfio_dma_map(&self->c, page(self, PG_SRC), self->base, self->pg);
	ASSERT_EQ(-EINVAL, ret) TH_LOG("MAP_DMA of unregistered memory: %s", strerror(-ret));
}

/* RAM -> edu -> RAM through the TCE mapping, bytes compared. */
TEST_F(tce, round_trip)
{
	char *src = page(self, PG_SRC), *dst = page(self, PG_DST);
	uint32_t v;
	int i;

	if (!tce_ready(_metadata, self))
		return;
	tce_map(_metadata, self);
	v = rnd(&self->rng);
	edu_wr32(self->c.bar0, EDU_LIVENESS, v);
	ASSERT_EQ(~v, edu_rd32(self->c.bar0, EDU_LIVENESS));

	for (i = 0; i < 4; i++) {
		size_t len = 1 + rnd(&self->rng) % EDU_MAX_XFER;
		size_t soff = rnd(&self->rng) % (self->pg - len + 1);
		size_t roff = rnd(&self->rng) % (self->pg - len + 1);
		unsigned int doff = rnd(&self->rng) % (EDU_MAX_XFER - len + 1);

		if (!i) {	/* once the largest transfer, at 0 */
			len = EDU_MAX_XFER;
			soff = 0;
			roff = 0;
			doff = 0;
		}
		fill(&self->rng, self->buf, PG_NR * self->pg);
		memcpy(self->snap, self->buf, PG_NR * self->pg);
		xfer(_metadata, self, self->base + soff, doff, len, true);
		xfer(_metadata, self, self->base + self->pg + roff, doff, len, false);
		expect_bytes(_metadata, "round trip", dst + roff, src + soff, len);
		memcpy(self->snap + PG_DST * self->pg + roff, src + soff, len);
		expect_unchanged(_metadata, self, "round trip");
		ksft_print_msg("round trip %zu bytes: IOVA %#llx -> edu+%#x -> IOVA %#llx ok\n",
			       len, (unsigned long long)(self->base + soff), doff,
			       (unsigned long long)(self->base + self->pg + roff));
	}
}

/* edu -> RAM through an IOVA of the window without a TCE: nothing lands. */
TEST_F(tce, unmapped_write_dropped)
{
	if (!tce_ready(_metadata, self))
		return;
	tce_map(_metadata, self);
	load_device(_metadata, self);
	memcpy(self->snap, self->buf, PG_NR * self->pg);
	xfer(_metadata, self, self->hole, 0, EDU_MAX_XFER, false);
	expect_unchanged(_metadata, self, "write to an IOVA without a TCE");

	/* positive control: the same write through the sentinel's TCE */
	xfer(_metadata, self, self->far, 0, EDU_MAX_XFER, false);
	expect_bytes(_metadata, "write through the sentinel's mapping", page(self, PG_SENT),
		     page(self, PG_SRC), EDU_MAX_XFER);
}

/* RAM -> edu through an IOVA without a TCE: the edu gets no RAM contents. */
TEST_F(tce, unmapped_read_blocked)
{
	char *dst = page(self, PG_DST), *sent = page(self, PG_SENT);
	char *guard = page(self, PG_GUARD);
	size_t i, old = 0, zero = 0;

	if (!tce_ready(_metadata, self))
		return;
	tce_map(_metadata, self);
	load_device(_metadata, self);
	memcpy(self->snap, page(self, PG_SRC), EDU_MAX_XFER);	/* what the edu holds */
	fill(&self->rng, sent, self->pg);
	fill(&self->rng, guard, self->pg);
	xfer(_metadata, self, self->hole, 0, EDU_MAX_XFER, true);
	fill(&self->rng, dst, self->pg);
	xfer(_metadata, self, self->base + self->pg, 0, EDU_MAX_XFER, false);
	for (i = 0; i + 8 <= EDU_MAX_XFER; i++) {
		/* any run of sentinel or guard bytes would be a leak */
		ASSERT_NE(0, memcmp(dst + i, sent + i, 8))
			TH_LOG("edu read sentinel bytes at %zu through an IOVA without a TCE", i);
		ASSERT_NE(0, memcmp(dst + i, guard + i, 8))
			TH_LOG("edu read guard bytes at %zu through an IOVA without a TCE", i);
	}
	for (i = 0; i < EDU_MAX_XFER; i++) {
		old += dst[i] == self->snap[i];
		zero += !dst[i];
	}
	ksft_print_msg("after the refused read the edu holds %zu/%d old, %zu zero bytes\n",
		       old, EDU_MAX_XFER, zero);

	/* positive control: the same read through the sentinel's TCE */
	xfer(_metadata, self, self->far, 0, EDU_MAX_XFER, true);
	xfer(_metadata, self, self->base + self->pg, 0, EDU_MAX_XFER, false);
	expect_bytes(_metadata, "read through the sentinel's mapping", dst, sent, EDU_MAX_XFER);
}

/* After UNMAP_DMA the old IOVAs reach nothing; mapped again they do. */
TEST_F(tce, unmap_revokes)
{
	char *src = page(self, PG_SRC), *dst = page(self, PG_DST);
	char *sent = page(self, PG_SENT);
	size_t i;

	if (!tce_ready(_metadata, self))
		return;
	tce_map(_metadata, self);
	load_device(_metadata, self);
	ASSERT_STEP(&self->c, vfio_dma_unmap(&self->c, self->base, 2 * self->pg));

	/* edu -> RAM to the old destination IOVA: memory unchanged */
	fill(&self->rng, dst, self->pg);
	memcpy(self->snap, self->buf, PG_NR * self->pg);
	xfer(_metadata, self, self->base + self->pg, 0, EDU_MAX_XFER, false);
	expect_unchanged(_metadata, self, "write to the unmapped old IOVA");

	/* RAM -> edu from the old source IOVA: the edu must not get src */
	fill(&self->rng, src, self->pg);
	xfer(_metadata, self, self->base, 0, EDU_MAX_XFER, true);
	fill(&self->rng, sent, self->pg);
	xfer(_metadata, self, self->far, 0, EDU_MAX_XFER, false);
	for (i = 0; i + 8 <= EDU_MAX_XFER; i++)
		ASSERT_NE(0, memcmp(sent + i, src + i, 8))
			TH_LOG("edu read source bytes at %zu through the unmapped IOVA", i);

	/* mapped again, the same IOVA works: the edu was not just dead */
	ASSERT_STEP(&self->c, vfio_dma_map(&self->c, src, self->base, 2 * self->pg));
	load_device(_metadata, self);
}

/* ---------------------------------------------------------------------- */

/*
 * edu-h0a and edu-h0b share the PE of PHB 0. edu-h0a is bound to edu_dma,
 * whose probe does a DMA round trip through the platform's TCE window;
 * edu-h0b is bound to vfio-pci.
 *
 * The roles are not interchangeable on 6.12. When VFIO takes a PE,
 * spapr_tce_take_ownership() runs for each of its devices: for the first
 * (edu-h0a: 00:02.0 joins the group first at boot) it frees the default
 * TCE table and clears the device's table pointer; for the others it
 * returns early and leaves their pointers to the freed table. When VFIO
 * lets go, spapr_tce_release_ownership() makes a new table and gives it to
 * the first device only. The DMA API of any other device of the PE then
 * uses the freed table: binding edu_dma to edu-h0b after VFIO used the PE
 * oopses in iommu_area_alloc() (other_device_after_release, which runs only
 * with ISOLATION_SPAPR_UAF=1 since it takes the guest down).
 */
FIXTURE(shared_pe) {
	struct iso_cleanup cl;
	struct vfio_ctx c;
	char vfio_bdf[ISO_BDF_LEN];
	char host_bdf[ISO_BDF_LEN];
	int load_ret;
	int bind_vfio;
	int bind_host;
};

FIXTURE_SETUP(shared_pe)
{
	struct iso_topology topo;
	struct iso_dev *v, *h;
	int g, hg;

	iso_cleanup_init(&self->cl);
	vfio_ctx_init(&self->c);
	REQUIRE_SPAPR(return);
	ASSERT_EQ(0, iso_topology_load(&topo));
	h = iso_topology_find(&topo, "edu-h0a");
	v = iso_topology_find(&topo, "edu-h0b");
	if (!v || !h || !v->bdf[0] || !h->bdf[0])
		SKIP(return, "edu-h0a and edu-h0b (PHB 0) are not in this machine");
	snprintf(self->vfio_bdf, sizeof(self->vfio_bdf), "%s", v->bdf);
	snprintf(self->host_bdf, sizeof(self->host_bdf), "%s", h->bdf);
	g = iso_dev_group(v->bdf);
	hg = iso_dev_group(h->bdf);
	ASSERT_LE(0, g);
	if (hg != g)
		SKIP(return, "edu-h0a (group %d) and edu-h0b (group %d) do not share a PE here",
		     hg, g);

	/* loading the module is the first change: no ASSERT or SKIP after it */
	self->bind_vfio = -ECANCELED;
	self->bind_host = -ECANCELED;
	self->load_ret = iso_cleanup_edu_dma(&self->cl);
	if (self->load_ret)
		return;
	self->bind_host = iso_cleanup_dev(&self->cl, h->bdf);
	if (!self->bind_host)
		self->bind_host = iso_bind(h->bdf, ISO_EDU_DMA);
	self->bind_vfio = iso_cleanup_dev(&self->cl, v->bdf);
	if (!self->bind_vfio)
		self->bind_vfio = iso_bind(v->bdf, "vfio-pci");
	ksft_print_msg("group %d: edu-h0a %s -> edu_dma (%d), edu-h0b %s -> vfio-pci (%d)\n",
		       g, h->bdf, self->bind_host, v->bdf, self->bind_vfio);
}

FIXTURE_TEARDOWN_PARENT(shared_pe)
{
	if (iso_cleanup_in_test(&self->cl))
		vfio_ctx_close(&self->c);
	EXPECT_EQ(0, iso_cleanup_run(&self->cl));
}

/* edu_dma's own round trip through the platform's TCE window for @bdf */
static void dma_api_ok(struct __test_metadata *_metadata, const char *bdf)
{
	char path[128], res[64];

	snprintf(path, sizeof(path), ISO_PCI_DEVICES "/%s/dma_test", bdf);
	ASSERT_EQ(0, iso_read(path, res, sizeof(res))) TH_LOG("reading %s", path);
	ksft_print_msg("%s edu_dma dma_test: %s\n", bdf, res);
	ASSERT_EQ(0, strncmp(res, "ok", 2)) TH_LOG("DMA-API round trip: %s", res);
}

static bool shared_ready(struct __test_metadata *_metadata, struct _test_data_shared_pe *self)
{
	char drv[ISO_NAME_LEN];

	if (self->load_ret == -ENOENT)
		SKIP(return false, "%s not in this guest: no DMA-API driver to bind",
		     ISO_EDU_DMA_KO);
	ASSERT_EQ(0, self->load_ret)
		TH_LOG("loading %s: %s", ISO_EDU_DMA_KO, strerror(-self->load_ret));
	ASSERT_EQ(0, self->bind_vfio)
		TH_LOG("binding %s to vfio-pci: %s", self->vfio_bdf, strerror(-self->bind_vfio));
	/*
	 * ENODEV: edu_dma's probe refused the device. An edu_dma that reads
	 * the ID register without minding its byte order does so on
	 * qemu-system-ppc64 (the kernel log says "unexpected identification
	 * 0xed000001").
	 */
	ASSERT_EQ(0, self->bind_host)
		TH_LOG("binding %s to edu_dma (its probe does a DMA round trip): %s",
		       self->host_bdf, strerror(-self->bind_host));
	ASSERT_EQ(0, iso_dev_driver(self->host_bdf, drv, sizeof(drv)));
	ASSERT_STREQ(ISO_EDU_DMA, drv);
	return true;
}

/* A PE with a device bound to a DMA-API driver is not viable: EPERM. */
TEST_F(shared_pe, refused_with_host_driver)
{
	int ret;

	if (!shared_ready(_metadata, self))
		return;
	dma_api_ok(_metadata, self->host_bdf);
	ret = spapr_open_group(&self->c, self->vfio_bdf);
	ksft_print_msg("edu_dma bound to %s: %s -> %s, group flags %#x\n", self->host_bdf,
		       self->c.step[0] ? self->c.step : "opened", strerror(-ret),
		       self->c.group_flags);
	vfio_ctx_close(&self->c);
	ASSERT_STREQ("VFIO_GROUP_SET_CONTAINER", self->c.step);
	ASSERT_EQ(-EPERM, ret);
	ASSERT_EQ(0U, self->c.group_flags & VFIO_GROUP_FLAGS_VIABLE);
	/* the refusal took nothing from the host driver */
	dma_api_ok(_metadata, self->host_bdf);
}

/* With the host driver unbound the PE is viable and VFIO takes it. */
TEST_F(shared_pe, accepted_once_unbound)
{
	int ret;

	if (!shared_ready(_metadata, self))
		return;
	ASSERT_EQ(0, iso_unbind(self->host_bdf));
	ret = spapr_open_group(&self->c, self->vfio_bdf);
	ksft_print_msg("%s unbound: %s -> %s, group flags %#x\n", self->host_bdf,
		       self->c.step[0] ? self->c.step : "opened", strerror(-ret),
		       self->c.group_flags);
	vfio_ctx_close(&self->c);
	ASSERT_EQ(0, ret) TH_LOG("%s failed: %s", self->c.step, strerror(-ret));
	ASSERT_NE(0U, self->c.group_flags & VFIO_GROUP_FLAGS_VIABLE);
}

/*
 * While VFIO holds the PE, edu_dma cannot bind to edu-h0a; after VFIO let go
 * it binds to @bdf (its probe does a DMA round trip) and dma_test works.
 */
static void host_driver_after_release(struct __test_metadata *_metadata,
				      struct _test_data_shared_pe *self, const char *bdf)
{
	char drv[ISO_NAME_LEN];
	int ret;

	ASSERT_EQ(0, iso_unbind(self->host_bdf));
	ret = spapr_open_group(&self->c, self->vfio_bdf);
	ASSERT_EQ(0, ret) TH_LOG("%s failed: %s", self->c.step, strerror(-ret));

	ret = iso_bind(self->host_bdf, ISO_EDU_DMA);
	ASSERT_EQ(0, iso_dev_driver(self->host_bdf, drv, sizeof(drv)));
	ksft_print_msg("binding edu_dma to %s while VFIO holds group %d: %s, driver '%s'\n",
		       self->host_bdf, self->c.groupnr, ret ? strerror(-ret) : "bound", drv);
	vfio_ctx_close(&self->c);
	EXPECT_NE(0, ret) TH_LOG("edu_dma bound to %s while VFIO held its PE", self->host_bdf);
	ASSERT_STRNE(ISO_EDU_DMA, drv);

	ret = iso_bind(bdf, ISO_EDU_DMA);
	ASSERT_EQ(0, ret)
		TH_LOG("binding edu_dma to %s after VFIO let go (probe does a DMA round trip): %s",
		       bdf, strerror(-ret));
	dma_api_ok(_metadata, bdf);
}

/* The device whose TCE table the kernel gives back: edu-h0a. */
TEST_F(shared_pe, host_driver_after_release)
{
	if (!shared_ready(_metadata, self))
		return;
	host_driver_after_release(_metadata, self, self->host_bdf);
}

/*
 * The other device of the PE: edu-h0b, which VFIO held. Its DMA API uses
 * the TCE table that VFIO's take-over freed (see FIXTURE(shared_pe)); on
 * 6.12 this oopses and, with oops=panic, ends the guest.
 */
TEST_F(shared_pe, other_device_after_release)
{
	const char *run = getenv("ISOLATION_SPAPR_UAF");

	if (!shared_ready(_metadata, self))
		return;
	if (!run || strcmp(run, "1"))
		SKIP(return, "%s (set ISOLATION_SPAPR_UAF=1 to run it)",
		     "6.12 oopses: use after free of the PE's TCE table");
	host_driver_after_release(_metadata, self, self->vfio_bdf);
}

/* ---------------------------------------------------------------------- */

/*
 * edu-pb2a behind the pci-bridge on PHB 2: the bridge (no driver) and
 * edu-pb2b (no driver) share its PE, which is therefore viable.
 */
FIXTURE(bridge_pe) {
	struct iso_cleanup cl;
	struct vfio_ctx c;
	char bdf[ISO_BDF_LEN];
	int bind_ret;
};

FIXTURE_SETUP(bridge_pe)
{
	struct iso_topology topo;
	struct iso_dev *d;

	iso_cleanup_init(&self->cl);
	vfio_ctx_init(&self->c);
	REQUIRE_SPAPR(return);
	ASSERT_EQ(0, iso_topology_load(&topo));
	d = iso_topology_find(&topo, "edu-pb2a");
	if (!d || !d->bdf[0])
		SKIP(return, "edu-pb2a (behind the pci-bridge on PHB 2) is not in this machine");
	snprintf(self->bdf, sizeof(self->bdf), "%s", d->bdf);
	ASSERT_LE(0, iso_dev_group(self->bdf));
	self->bind_ret = iso_cleanup_dev(&self->cl, self->bdf);
	if (!self->bind_ret)
		self->bind_ret = iso_bind(self->bdf, "vfio-pci");
}

FIXTURE_TEARDOWN_PARENT(bridge_pe)
{
	if (iso_cleanup_in_test(&self->cl))
		vfio_ctx_close(&self->c);
	EXPECT_EQ(0, iso_cleanup_run(&self->cl));
}

TEST_F(bridge_pe, viable_without_drivers)
{
	static char names[16][ISO_DEVNAME_LEN];
	char drv[ISO_NAME_LEN];
	int group, n, i, others = 0, ret;

	ASSERT_EQ(0, self->bind_ret)
		TH_LOG("binding %s to vfio-pci: %s", self->bdf, strerror(-self->bind_ret));
	group = iso_dev_group(self->bdf);
	n = iso_group_devices(group, names, 16);
	ASSERT_LT(0, n);
	for (i = 0; i < n; i++) {
		if (!strcmp(names[i], self->bdf))
			continue;
		ASSERT_EQ(0, iso_dev_driver(names[i], drv, sizeof(drv)));
		ksft_print_msg("group %d also holds %s, driver %s\n", group, names[i],
			       drv[0] ? drv : "(none)");
		if (drv[0] && strcmp(drv, "vfio-pci"))
			SKIP(return, "%.64s in group %d is bound to %s: not a control",
			     names[i], group, drv);
		others++;
	}
	if (!others)
		SKIP(return, "%s is alone in group %d: nothing to show", self->bdf, group);

	ret = spapr_open_group(&self->c, self->bdf);
	vfio_ctx_close(&self->c);
	ASSERT_EQ(0, ret) TH_LOG("%s failed: %s", self->c.step, strerror(-ret));
	ASSERT_NE(0U, self->c.group_flags & VFIO_GROUP_FLAGS_VIABLE);
}

TEST_HARNESS_MAIN
