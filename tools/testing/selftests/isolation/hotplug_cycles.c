// SPDX-License-Identifier: GPL-2.0
/*
 * Hot-plug cycles: an edu is added and removed HOTPLUG_CYCLES times (from
 * the environment; 20 when unset) in each of three places. Afterwards the
 * groups are those of before, DMA works, and with kmemleak nothing new is
 * unreferenced. Removal is by slot power-off (HP_POWER_OFF: pciehp's
 * removal without device_del's 5 s wait).
 *
 *   free_slot     the empty root port rp5 (ACS): each edu gets a new group
 *                 of one, which is gone once the edu is (where root ports
 *                 share their device's group, arm64 from device tree, it
 *                 joins rp5's group instead)
 *   shared_group  the empty switch slot dsw3: each edu joins the switch
 *                 group of edu-sw1 and edu-sw2, which no one holds (stock
 *                 6.12: dsw3's group, XFAIL)
 *   held_group    the same while VFIO holds the switch group through
 *                 edu-sw1 with two pages mapped: each edu lands in VFIO's
 *                 group and edu_dma's probe is refused (stock: dsw3's
 *                 group, next to VFIO's, and edu_dma binds: XFAIL). On
 *                 SMMUv3 dsw3's port driver is bound again once VFIO holds
 *                 the group, or its MSIs would fault (port_rebind())
 *   kmemleak      kmemleak's suspects after the cycles that were not there
 *                 before the first (SKIP on kernels without kmemleak); it
 *                 prints the summary line
 *
 * Leaks: the groups (ids and member counts) before and after a case's
 * cycles. A group present after that was not there before, or one whose
 * devices/ is empty, is leaked; ids come from an IDA, so a new group may
 * reuse a freed id and the check is of the set, not of the numbers.
 *
 * DMA: edu_dma's round trip (its probe and dma_test) on the last cycle's
 * edu of free_slot and shared_group, and after the cycles on a device that
 * stayed (edu-rp1, edu-sw1); in held_group VFIO's round trip through the
 * container's mapping with the last cycle's edu (opened through VFIO's
 * group) and after the cycles with edu-sw1. AMD-Vi under QEMU 7.2 corrupts
 * DMA behind ports: there mismatches are logged, not counted.
 *
 * For check.py each case prints "# time hotplug_cycles.CASE: ..." and the
 * kmemleak test one line
 *   # hotplug-cycles: MACHINE VARIANT cycles=N leaked-groups=L dma=ok|bad
 *     kmemleak=clean|K-new|n/a held-joined=J/N edu_dma-refused=R/J
 *     [edu_dma-bound-next-to-vfio=B/N]
 * where cycles is the fewest any case completed, dma is "unchecked" where
 * a case had no DMA check (no edu_dma.ko, AMD-Vi) and the last field is
 * stock's (edu_dma bound to edus in the group next to VFIO's).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "edu.h"
#include "hotplug_util.h"
#include "isolation_util.h"
#include "vfio_util.h"

#define DEFAULT_CYCLES		20
#define MAX_CYCLES		1000
/* per case; what bounds a run is run-selftests.sh's ISOLATION_TIMEOUT */
#define CASE_TIMEOUT_S		3600
#define DMA_IOVA		0x100000ULL
#define KMEMLEAK		"/sys/kernel/debug/kmemleak"
/* kmemleak reports an object only once it is 5 s old (jiffies_min_age) */
#define KMEMLEAK_AGE_MS		6000
#define KMEMLEAK_MAX		256

enum cycle_case { CASE_FREE, CASE_SHARED, CASE_HELD, NR_CASES };

static const char * const case_name[NR_CASES] = {
	"free_slot", "shared_group", "held_group",
};

enum dma_result { DMA_NOT_RUN, DMA_OK, DMA_UNCHECKED, DMA_BAD };

struct case_result {
	bool ran;
	int cycles;		/* completed */
	int leaked;		/* groups new after the cycles, or empty */
	int changed;		/* groups of before with other member counts */
	enum dma_result dma;
	/* held_group */
	int joined;		/* edus that landed in VFIO's group */
	int refused;		/* of those, edu_dma probes refused */
	int bound;		/* edus outside VFIO's group edu_dma bound to */
};

/*
 * What the cases found, for the kmemleak test to report: shared with the
 * test processes the harness forks (mapped before the first fork).
 */
static struct cycles_report {
	struct case_result c[NR_CASES];
	bool kmemleak_base;		/* suspects before the first cycle noted */
	int kmemleak_nr;		/* how many; -1: no kmemleak */
	unsigned long kmemleak_obj[KMEMLEAK_MAX];
} *report;

static void __attribute__((constructor)) report_map(void)
{
	void *p = mmap(NULL, sizeof(*report), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	report = p == MAP_FAILED ? NULL : p;
}

static int cycles_wanted(void)
{
	const char *v = getenv("HOTPLUG_CYCLES");
	int n = v ? atoi(v) : DEFAULT_CYCLES;

	return n < 1 ? DEFAULT_CYCLES : n > MAX_CYCLES ? MAX_CYCLES : n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* kmemleak --------------------------------------------------------------- */

/*
 * Have kmemleak scan, after letting what was just freed or leaked age into
 * what it reports; a second scan drops suspects that were only in flight.
 * 0, or -errno when the kernel has no (working) kmemleak.
 */
static int kmemleak_scan(void)
{
	int ret;

	if (access(KMEMLEAK, W_OK))
		return -ENOENT;
	hp_sleep_ms(KMEMLEAK_AGE_MS);
	ret = iso_write(KMEMLEAK, "scan");
	if (!ret) {
		hp_sleep_ms(1000);
		ret = iso_write(KMEMLEAK, "scan");
	}
	return ret;
}

/*
 * Addresses of the objects kmemleak reports ("unreferenced object 0x..."),
 * at most @max into @obj; the number reported, or -errno.
 */
static int kmemleak_suspects(unsigned long *obj, int max)
{
	char line[256];
	unsigned long a;
	int nr = 0;
	FILE *f;

	f = fopen(KMEMLEAK, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "unreferenced object 0x%lx", &a) != 1)
			continue;
		if (nr < max)
			obj[nr] = a;
		nr++;
	}
	fclose(f);
	return nr;
}

/* Note kmemleak's suspects before the first cycle of the program. */
static void kmemleak_baseline(void)
{
	if (report->kmemleak_base)
		return;
	report->kmemleak_base = true;
	report->kmemleak_nr = kmemleak_scan() ? -1 :
		kmemleak_suspects(report->kmemleak_obj, KMEMLEAK_MAX);
}

static bool kmemleak_known(unsigned long a)
{
	int i;

	for (i = 0; i < report->kmemleak_nr && i < KMEMLEAK_MAX; i++)
		if (report->kmemleak_obj[i] == a)
			return true;
	return false;
}

/* Groups ----------------------------------------------------------------- */

/* The groups and their member counts at one moment. */
struct group_snap {
	int nr;
	int id[ISO_MAX_GROUPS];
	int size[ISO_MAX_GROUPS];
};

static int snap_take(struct group_snap *s)
{
	int i;

	s->nr = iso_group_list(s->id, ISO_MAX_GROUPS);
	for (i = 0; i < s->nr; i++)
		s->size[i] = iso_group_size(s->id[i]);
	return s->nr;
}

static int snap_find(const struct group_snap *s, int id)
{
	int i;

	for (i = 0; i < s->nr; i++)
		if (s->id[i] == id)
			return i;
	return -1;
}

/* Compare the groups with @before: leaked and changed ones into @r. */
static void check_groups(struct __test_metadata *_metadata,
			 const struct group_snap *before, struct case_result *r)
{
	struct group_snap after;
	int i, j;

	ASSERT_LT(0, snap_take(&after));
	r->leaked = 0;
	r->changed = 0;
	for (i = 0; i < after.nr; i++) {
		j = snap_find(before, after.id[i]);
		if (j < 0 || after.size[i] <= 0) {
			r->leaked++;
			TH_LOG("leaked: group %d %s", after.id[i],
			       j < 0 ? "was not there before the cycles" :
			       "has no devices");
		} else if (after.size[i] != before->size[j]) {
			r->changed++;
			TH_LOG("group %d has %d devices, %d before the cycles",
			       after.id[i], after.size[i], before->size[j]);
		}
	}
	for (j = 0; j < before->nr; j++) {
		if (snap_find(&after, before->id[j]) < 0) {
			r->changed++;
			TH_LOG("group %d of before the cycles is gone", before->id[j]);
		}
	}
	EXPECT_EQ(0, r->leaked);
	EXPECT_EQ(0, r->changed);
}

/* A group whose last device went is gone at once; allow a little. */
static bool group_gone(int group)
{
	int waited;

	for (waited = 0; iso_group_exists(group); waited += 50) {
		if (waited >= HP_GROUP_TIMEOUT_MS)
			return false;
		hp_sleep_ms(50);
	}
	return true;
}

/* DMA -------------------------------------------------------------------- */

/* Add one DMA check's outcome to @r (a failure fails the test). */
static void dma_note(struct __test_metadata *_metadata, struct case_result *r,
		     bool ok, const char *what, const char *why)
{
	enum dma_result d = ok ? DMA_OK : DMA_BAD;

	if (!ok && iso_port_dma_broken()) {
		TH_LOG("%s: %s; AMD-Vi (QEMU 7.2) corrupts DMA behind ports: not counted",
		       what, why);
		d = DMA_UNCHECKED;
	} else if (!ok) {
		TH_LOG("%s: %s", what, why);
	}
	if (d > r->dma)
		r->dma = d;
	EXPECT_TRUE(d != DMA_BAD);
}

/*
 * edu_dma binds to @bdf (its probe does a round trip and fails on a
 * mismatch) and moves bytes once more through dma_test; it stays bound.
 */
static void edu_dma_check(struct __test_metadata *_metadata,
			  struct case_result *r, const char *bdf, const char *what)
{
	char res[128], msg[192];
	int ret;

	ret = iso_bind(bdf, ISO_EDU_DMA);
	if (ret) {
		snprintf(msg, sizeof(msg), "edu_dma bind to %s: %s", bdf,
			 strerror(-ret));
		dma_note(_metadata, r, false, what, msg);
		return;
	}
	ret = iso_edu_dma_test(bdf, res, sizeof(res));
	snprintf(msg, sizeof(msg), "edu_dma dma_test of %s: %s", bdf, res);
	dma_note(_metadata, r, ret, what, msg);
}

/* The fixture of the cycles ---------------------------------------------- */

FIXTURE(hotplug_cycles) {
	struct iso_cleanup cl;
	struct iso_topology topo;
	struct hp_slot rp5;
	struct hp_slot dsw3;
	int nr;			/* cycles to run */
	int have_edu_dma;	/* 0, or why edu_dma.ko is not there */
	struct group_snap before;
	/* held_group */
	struct vfio_ctx c;
	int devfd;
	void *bar;
	size_t bar_size;
	unsigned char *buf;
	size_t buf_size;
	/* pcieport bound to dsw3 in VFIO's domain (port_rebind()) */
	bool port_in_vfio;
};

FIXTURE_SETUP(hotplug_cycles)
{
	char why[256];
	int ret;

	iso_cleanup_init(&self->cl);
	vfio_ctx_init(&self->c);
	self->devfd = -1;
	self->nr = cycles_wanted();
	ASSERT_NE(NULL, report) TH_LOG("no shared mapping for the results");
	ret = hp_slots_init(&self->topo, &self->rp5, &self->dsw3, why, sizeof(why));
	if (ret == -EOPNOTSUPP)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, ret) TH_LOG("%s", why);
	kmemleak_baseline();
	/* the first change: no ASSERT or SKIP after it (iso_cleanup) */
	self->have_edu_dma = iso_cleanup_edu_dma(&self->cl);
}

/*
 * SMMUv3 translates MSIs like any DMA, and the doorbell a device's MSIs go
 * to is mapped in the domain it is in when its driver allocates them
 * (iommu_dma_prepare_msi()). dsw3 is in the switch group with the core:
 * once VFIO's domain replaces the default one, the doorbell of dsw3's port
 * services is unmapped, its hot-plug interrupts fault (event 0x10) and no
 * hot-add is seen; so with any grouping, for a port in a VFIO-held group
 * (hotplug.vfio_held_group skips). Binding pcieport to dsw3 again while
 * VFIO holds the group maps the doorbell in VFIO's domain (VFIO gave it an
 * MSI cookie); vfio_let_go() unbinds it before VFIO's domain goes, and
 * binds it again once the default domain is back. 0 or -errno.
 */
static int port_rebind(struct _test_data_hotplug_cycles *self)
{
	const char *port = self->dsw3.port_bdf;
	int ret;

	ret = iso_unbind(port);
	if (!ret)
		ret = iso_write("/sys/bus/pci/drivers/pcieport/bind", port);
	/* pciehp registered the slot anew */
	if (hp_slot_init(&self->dsw3, &self->topo, "dsw3", "hp-dsw3") == 0 &&
	    !self->dsw3.slot_dir[0] && !ret)
		ret = -ENODEV;
	return ret;
}

/*
 * VFIO lets go of the group; where pcieport was bound to dsw3 inside its
 * domain (see above), it is unbound first and bound again after. 0 or
 * -errno.
 */
static int vfio_let_go(struct _test_data_hotplug_cycles *self)
{
	int ret = 0;

	if (self->port_in_vfio)
		ret = iso_unbind(self->dsw3.port_bdf);
	vfio_ctx_close(&self->c);
	if (self->port_in_vfio && !ret)
		ret = port_rebind(self);
	if (!ret)
		self->port_in_vfio = false;
	return ret;
}

/*
 * Whatever happened (iso_cleanup): dsw3 gets its port driver back in the
 * default domain, the hot-added devices go, the topology's devices get
 * their drivers back, and edu_dma is unloaded if the test loaded it.
 */
FIXTURE_TEARDOWN_PARENT(hotplug_cycles)
{
	struct hp_slot *slots[] = { &self->rp5, &self->dsw3 };
	size_t i;

	if (iso_cleanup_in_test(&self->cl)) {
		vfio_device_put(self->devfd, self->bar, self->bar_size);
		if (self->port_in_vfio)
			iso_unbind(self->dsw3.port_bdf);
		vfio_ctx_close(&self->c);
	}
	if (self->port_in_vfio)
		EXPECT_EQ(0, port_rebind(self)) TH_LOG("pcieport back on dsw3");
	for (i = 0; i < ARRAY_SIZE(slots); i++) {
		EXPECT_EQ(0, hp_unplug(slots[i]))
			TH_LOG("%s did not go away", slots[i]->id);
	}
	EXPECT_EQ(0, iso_cleanup_run(&self->cl));
}

static struct case_result *case_start(struct __test_metadata *_metadata,
				      struct _test_data_hotplug_cycles *self,
				      enum cycle_case which)
{
	struct case_result *r = &report->c[which];

	memset(r, 0, sizeof(*r));
	r->ran = true;
	if (self->have_edu_dma)
		TH_LOG("%s not loaded (%s): edu_dma checks left out",
		       ISO_EDU_DMA_KO, strerror(-self->have_edu_dma));
	return r;
}

/* Cycle @i adds an edu into @s; the group it is in. */
static int cycle_add(struct __test_metadata *_metadata, struct hp_slot *s,
		     int i, bool *unprobed)
{
	int g, ret;

	ret = hp_add(s);
	ASSERT_EQ(0, ret) TH_LOG("cycle %d: device_add at %s: %s", i, s->path,
				 hp_add_err(ret));
	g = hp_new_dev_group(s->bdf, unprobed);
	ASSERT_LE(0, g) TH_LOG("cycle %d: %s has no iommu_group", i, s->bdf);
	return g;
}

/* Time taken by @r's cycles since @t0, as check.py prints it. */
static void case_time(enum cycle_case which, const struct case_result *r,
		      double t0)
{
	double secs = now_s() - t0;
	double each = r->cycles ? secs / r->cycles : 0;

	printf("# time hotplug_cycles.%s: %.1f s, %d cycles, %.2f s a cycle\n",
	       case_name[which], secs, r->cycles, each);
	fflush(stdout);
}

/*
 * rp5 is an empty root port like rp1, which has edu-rp1 below it: each edu
 * added below it is grouped as edu-rp1 is, alone in a group that did not
 * exist before it and goes with it, or (root ports without ACS at the bus
 * scan) in rp5's group. The last cycle's edu serves edu_dma; so does
 * edu-rp1 after the cycles.
 */
TEST_F_TIMEOUT(hotplug_cycles, free_slot, CASE_TIMEOUT_S)
{
	struct case_result *r = case_start(_metadata, self, CASE_FREE);
	const char *ref = iso_topology_bdf(&self->topo, "edu-rp1");
	const char *rp5 = self->rp5.port_bdf;
	struct hp_slot *s = &self->rp5;
	int rp_group, rp_size, g, i, lingered = 0;
	bool unprobed = false, with_port;
	double t0;

	ASSERT_NE(NULL, ref);
	with_port = iso_probe_group(ref) ==
		    iso_dev_group(iso_topology_bdf(&self->topo, "rp1"));
	rp_group = iso_dev_group(rp5);
	rp_size = iso_group_size(rp_group);
	ASSERT_LT(0, snap_take(&self->before));
	TH_LOG("%d cycles at %s; edu-rp1 %s rp1's group: each edu must too",
	       self->nr, rp5, with_port ? "shares" : "does not share");

	t0 = now_s();
	for (i = 0; i < self->nr; i++) {
		g = cycle_add(_metadata, s, i, &unprobed);
		if (with_port) {
			ASSERT_EQ(rp_group, g)
				TH_LOG("cycle %d: %s in group %d, rp5 in %d",
				       i, s->bdf, g, rp_group);
			ASSERT_EQ(rp_size + 1, iso_group_size(g));
		} else {
			ASSERT_GT(0, snap_find(&self->before, g))
				TH_LOG("cycle %d: %s joined group %d, which it must not share",
				       i, s->bdf, g);
			ASSERT_EQ(1, iso_group_size(g))
				TH_LOG("cycle %d: group %d of %s is not its own", i, g, s->bdf);
		}
		if (i == self->nr - 1 && !self->have_edu_dma)
			edu_dma_check(_metadata, r, s->bdf, "last cycle's edu");
		ASSERT_EQ(0, hp_del(s, HP_POWER_OFF))
			TH_LOG("cycle %d: %s not removed", i, s->id);
		if (!with_port && !group_gone(g) && !lingered++)
			TH_LOG("cycle %d: group %d outlived its only device", i, g);
		r->cycles++;
	}
	case_time(CASE_FREE, r, t0);
	EXPECT_EQ(0, lingered) TH_LOG("%d groups outlived their device", lingered);

	check_groups(_metadata, &self->before, r);
	if (!self->have_edu_dma) {
		ASSERT_EQ(0, iso_cleanup_dev(&self->cl, ref));
		edu_dma_check(_metadata, r, ref, "edu-rp1 after the cycles");
		EXPECT_EQ(0, vfio_release_bdf(ref));
	}
	if (unprobed && _metadata->exit_code == KSFT_PASS)
		ISO_XFAIL(return, HP_UNPROBED_WHY);
}

/*
 * The group an edu added below dsw3 joins: with the core the switch group
 * of edu-sw1 (no ACS in the switch); stock 6.12 puts it with dsw3 alone.
 * Anything else fails the test. *@split says that stock's was it.
 */
static void check_switch_join(struct __test_metadata *_metadata, int cycle,
			      const char *bdf, int g, int g_sw1, int g_dsw3,
			      bool *split)
{
	if (g == g_sw1)
		return;
	ASSERT_FALSE(iso_have_core())
		TH_LOG("cycle %d: %s in group %d, edu-sw1 in %d", cycle, bdf, g, g_sw1);
	ASSERT_EQ(g_dsw3, g)
		TH_LOG("cycle %d: %s in group %d: neither dsw3's (%d) nor edu-sw1's (%d)",
		       cycle, bdf, g, g_dsw3, g_sw1);
	*split = true;
}

/*
 * dsw3 is an empty downstream port of a switch without ACS: each edu added
 * below it joins the group of edu-sw1 and edu-sw2, which no one holds,
 * and leaves it again. The last cycle's edu serves edu_dma through that
 * group's default domain; so does edu-sw1 after the cycles.
 */
TEST_F_TIMEOUT(hotplug_cycles, shared_group, CASE_TIMEOUT_S)
{
	struct case_result *r = case_start(_metadata, self, CASE_SHARED);
	const char *sw1 = iso_topology_bdf(&self->topo, "edu-sw1");
	struct hp_slot *s = &self->dsw3;
	int g_sw1, g_dsw3, g, size, i, j;
	bool unprobed = false, split = false;
	char why[256] = "";
	double t0;

	ASSERT_NE(NULL, sw1);
	g_sw1 = iso_probe_group(sw1);
	g_dsw3 = iso_dev_group(s->port_bdf);
	ASSERT_LE(0, g_sw1);
	ASSERT_LE(0, g_dsw3);
	ASSERT_LT(0, snap_take(&self->before));

	t0 = now_s();
	for (i = 0; i < self->nr; i++) {
		g = cycle_add(_metadata, s, i, &unprobed);
		check_switch_join(_metadata, i, s->bdf, g, g_sw1, g_dsw3, &split);
		j = snap_find(&self->before, g);
		ASSERT_LE(0, j) TH_LOG("cycle %d: group %d is new", i, g);
		size = self->before.size[j];
		ASSERT_EQ(size + 1, iso_group_size(g))
			TH_LOG("cycle %d: group %d has %d devices with %s, %d before",
			       i, g, iso_group_size(g), s->bdf, size);
		if (i == self->nr - 1 && !self->have_edu_dma)
			edu_dma_check(_metadata, r, s->bdf, "last cycle's edu");
		ASSERT_EQ(0, hp_del(s, HP_POWER_OFF))
			TH_LOG("cycle %d: %s not removed", i, s->id);
		r->cycles++;
	}
	case_time(CASE_SHARED, r, t0);

	check_groups(_metadata, &self->before, r);
	if (!self->have_edu_dma) {
		ASSERT_EQ(0, iso_cleanup_dev(&self->cl, sw1));
		edu_dma_check(_metadata, r, sw1, "edu-sw1 after the cycles");
		EXPECT_EQ(0, vfio_release_bdf(sw1));
	}
	if (split)
		snprintf(why, sizeof(why),
			 "stock splits the ACS-less switch: the edus below dsw3 joined dsw3's group %d, not group %d of edu-sw1%s",
			 g_dsw3, g_sw1, unprobed ? "; " HP_UNPROBED_WHY : "");
	else if (unprobed)
		snprintf(why, sizeof(why), HP_UNPROBED_WHY);
	if (why[0] && _metadata->exit_code == KSFT_PASS)
		ISO_XFAIL(return, "%s", why);
}

/* VFIO round trip through the mapping at DMA_IOVA, into @r. */
static void vfio_dma_check(struct __test_metadata *_metadata,
			   struct _test_data_hotplug_cycles *self,
			   struct case_result *r, void *bar, const char *what)
{
	char why[128];
	int ret;

	ret = hp_vfio_round_trip(bar, self->buf, getpagesize(), DMA_IOVA, why,
				 sizeof(why));
	dma_note(_metadata, r, !ret, what, why);
}

/*
 * The edu of cycle @i is in VFIO's group: the DMA-API driver edu_dma is
 * refused (-EBUSY from the driver core) and does not end up bound. On the
 * last cycle it is opened through VFIO's group and moves bytes through
 * the container's mapping, made before it existed.
 */
static void held_edu(struct __test_metadata *_metadata,
		     struct _test_data_hotplug_cycles *self,
		     struct case_result *r, int i)
{
	const char *bdf = self->dsw3.bdf;
	bool refused;
	char drv[64];
	int ret;

	r->joined++;
	if (!self->have_edu_dma) {
		ret = iso_bind(bdf, ISO_EDU_DMA);
		ASSERT_EQ(0, iso_dev_driver(bdf, drv, sizeof(drv)));
		refused = ret == -EBUSY && strcmp(drv, ISO_EDU_DMA);
		r->refused += refused;
		EXPECT_TRUE(refused)
			TH_LOG("cycle %d: edu_dma to %s in VFIO's group %d: %s, driver '%s'",
			       i, bdf, self->c.groupnr,
			       ret ? strerror(-ret) : "bound", drv);
	}
	if (i != self->nr - 1)
		return;
	ASSERT_EQ(0, iso_bind(bdf, "vfio-pci"));
	ret = vfio_type1_open_device(&self->c, bdf, &self->devfd, &self->bar,
				     &self->bar_size);
	ASSERT_EQ(0, ret) TH_LOG("%s through VFIO group %d: %s at %s", bdf,
				 self->c.groupnr, strerror(-ret), self->c.step);
	EXPECT_EQ(EDU_ID_VALUE, edu_rd32(self->bar, EDU_ID));
	vfio_dma_check(_metadata, self, r, self->bar, "last cycle's edu through VFIO");
	vfio_device_put(self->devfd, self->bar, self->bar_size);
	self->devfd = -1;
	self->bar = NULL;
	EXPECT_EQ(0, vfio_release_bdf(bdf));
}

/*
 * VFIO holds the switch group (through edu-sw1) with two pages mapped
 * while an edu is added below dsw3 and removed, nr times: each time it
 * lands in VFIO's group (held_edu()) and leaves it, and VFIO's own device
 * still moves bytes after the cycles. Stock 6.12 puts each in dsw3's
 * group next to VFIO's, where edu_dma binds to it: XFAIL.
 */
TEST_F_TIMEOUT(hotplug_cycles, held_group, CASE_TIMEOUT_S)
{
	struct case_result *r = case_start(_metadata, self, CASE_HELD);
	const char *sw1 = iso_topology_bdf(&self->topo, "edu-sw1");
	const char *sw2 = iso_topology_bdf(&self->topo, "edu-sw2");
	struct hp_slot *s = &self->dsw3;
	size_t pg = getpagesize();
	int g, g_dsw3, held_size, i, ret;
	bool unprobed = false, split = false;
	char why[320] = "", bound[64] = "";
	double t0;

	ASSERT_NE(NULL, sw1);
	ASSERT_NE(NULL, sw2);
	g_dsw3 = iso_dev_group(s->port_bdf);

	/* VFIO takes the group of edu-sw1 and maps two pages */
	ASSERT_EQ(0, iso_cleanup_dev(&self->cl, sw1));
	ASSERT_EQ(0, iso_cleanup_dev(&self->cl, sw2));
	ASSERT_EQ(0, vfio_release_bdf(sw2));
	ASSERT_EQ(0, iso_bind(sw1, "vfio-pci"));
	ret = vfio_type1_open(&self->c, sw1);
	ASSERT_EQ(0, ret) TH_LOG("VFIO open of %s: %s at %s", sw1,
				 strerror(-ret), self->c.step);
	if (!strncmp(iso_machine(), "smmuv3", 6) && g_dsw3 == self->c.groupnr) {
		TH_LOG("SMMUv3: dsw3 in VFIO's group %d: pcieport bound again for its MSIs",
		       g_dsw3);
		self->port_in_vfio = true;
		ret = port_rebind(self);
		ASSERT_EQ(0, ret) TH_LOG("pcieport to dsw3: %s", strerror(-ret));
	}
	self->buf_size = 2 * pg;
	self->buf = mmap(NULL, self->buf_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	ret = vfio_dma_map(&self->c, self->buf, DMA_IOVA, self->buf_size);
	ASSERT_EQ(0, ret) TH_LOG("map: %s at %s", strerror(-ret), self->c.step);
	/* control: the mapping works for the device VFIO opened */
	vfio_dma_check(_metadata, self, r, self->c.bar0, "edu-sw1 before the cycles");
	ASSERT_TRUE(r->dma != DMA_BAD);
	ASSERT_LT(0, snap_take(&self->before));
	held_size = iso_group_size(self->c.groupnr);

	t0 = now_s();
	for (i = 0; i < self->nr; i++) {
		g = cycle_add(_metadata, s, i, &unprobed);
		check_switch_join(_metadata, i, s->bdf, g, self->c.groupnr,
				  g_dsw3, &split);
		if (g == self->c.groupnr) {
			held_edu(_metadata, self, r, i);
		} else if (!self->have_edu_dma) {
			/* stock: what its grouping allows, next to VFIO */
			ret = iso_bind(s->bdf, ISO_EDU_DMA);
			if (!ret)
				r->bound++;
			else if (!i)
				TH_LOG("stock: edu_dma bind to %s: %s", s->bdf,
				       strerror(-ret));
		}
		ASSERT_EQ(0, hp_del(s, HP_POWER_OFF))
			TH_LOG("cycle %d: %s not removed", i, s->id);
		ASSERT_EQ(held_size, iso_group_size(self->c.groupnr))
			TH_LOG("cycle %d: VFIO's group %d has %d devices, %d before",
			       i, self->c.groupnr, iso_group_size(self->c.groupnr),
			       held_size);
		r->cycles++;
	}
	case_time(CASE_HELD, r, t0);

	check_groups(_metadata, &self->before, r);
	/* VFIO's own device, and its mapping, are unaffected by all that */
	vfio_dma_check(_metadata, self, r, self->c.bar0, "edu-sw1 after the cycles");
	EXPECT_EQ(0, vfio_let_go(self));

	if (split && !self->have_edu_dma)
		snprintf(bound, sizeof(bound),
			 "; edu_dma bound to %d of them next to VFIO", r->bound);
	if (split)
		snprintf(why, sizeof(why),
			 "stock splits the ACS-less switch: the %d edus below dsw3 joined dsw3's group %d, not VFIO's group %d of edu-sw1%s%s",
			 r->cycles, g_dsw3, self->c.groupnr, bound,
			 unprobed ? "; " HP_UNPROBED_WHY : "");
	else if (unprobed)
		snprintf(why, sizeof(why), HP_UNPROBED_WHY);
	if (why[0] && _metadata->exit_code == KSFT_PASS)
		ISO_XFAIL(return, "%s", why);
}

/* After the cycles ------------------------------------------------------- */

FIXTURE(after_cycles) {
	int unused;
};

FIXTURE_SETUP(after_cycles)
{
}

FIXTURE_TEARDOWN(after_cycles)
{
}

static const char *dma_word(enum dma_result d)
{
	return d == DMA_OK ? "ok" : d == DMA_BAD ? "bad" :
	       d == DMA_UNCHECKED ? "unchecked" : "not-run";
}

/* The summary line of the cases that ran (see the top of the file). */
static void print_summary(const char *kmemleak)
{
	const char *variant = getenv("ISOLATION_VARIANT");
	const struct case_result *held = &report->c[CASE_HELD];
	enum dma_result dma = DMA_NOT_RUN;
	int cycles = -1, leaked = 0, i;

	for (i = 0; i < NR_CASES; i++) {
		const struct case_result *r = &report->c[i];

		if (!r->ran)
			continue;
		if (cycles < 0 || r->cycles < cycles)
			cycles = r->cycles;
		leaked += r->leaked;
		/* a case that ran without a DMA check leaves the line short of "ok" */
		if ((r->dma == DMA_NOT_RUN ? DMA_UNCHECKED : r->dma) > dma)
			dma = r->dma == DMA_NOT_RUN ? DMA_UNCHECKED : r->dma;
	}
	printf("# hotplug-cycles: %s %s cycles=%d leaked-groups=%d dma=%s kmemleak=%s",
	       iso_machine()[0] ? iso_machine() : "unknown",
	       variant ? variant : "unknown", cycles < 0 ? 0 : cycles, leaked,
	       dma_word(dma), kmemleak);
	if (held->ran)
		printf(" held-joined=%d/%d edu_dma-refused=%d/%d",
		       held->joined, held->cycles, held->refused, held->joined);
	if (held->bound)
		printf(" edu_dma-bound-next-to-vfio=%d/%d", held->bound, held->cycles);
	printf("\n");
	fflush(stdout);
}

/*
 * kmemleak's suspects now that were not before the first cycle: each is
 * printed (its backtrace says who allocated it) and fails the test. The
 * summary line goes out in any case; without kmemleak, SKIP.
 */
TEST_F_TIMEOUT(after_cycles, kmemleak, 600)
{
	unsigned long obj[KMEMLEAK_MAX];
	char km[32] = "n/a";
	int nr, i, fresh = 0;

	ASSERT_NE(NULL, report);
	if (!report->kmemleak_base)
		kmemleak_baseline();
	if (report->kmemleak_nr < 0 || kmemleak_scan()) {
		print_summary(km);
		SKIP(return, "no kmemleak in this kernel (kmemleak=n/a; make check-debug has it)");
	}
	nr = kmemleak_suspects(obj, KMEMLEAK_MAX);
	ASSERT_LE(0, nr);
	if (nr > KMEMLEAK_MAX || report->kmemleak_nr > KMEMLEAK_MAX) {
		/* too many to tell apart by address: count them */
		fresh = nr > report->kmemleak_nr ? nr - report->kmemleak_nr : 0;
	} else {
		for (i = 0; i < nr; i++)
			fresh += !kmemleak_known(obj[i]);
	}
	if (fresh)
		snprintf(km, sizeof(km), "%d-new", fresh);
	else
		snprintf(km, sizeof(km), "clean");
	print_summary(km);
	if (fresh) {
		char line[256];
		FILE *f = fopen(KMEMLEAK, "r");

		while (f && fgets(line, sizeof(line), f))
			fputs(line, stdout);
		if (f)
			fclose(f);
	}
	EXPECT_EQ(0, fresh) TH_LOG("%d objects unreferenced since before the cycles (%d before)",
				   fresh, report->kmemleak_nr);
}

TEST_HARNESS_MAIN
