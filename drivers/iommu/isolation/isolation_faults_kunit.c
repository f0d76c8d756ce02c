// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit fault-injection sweep of the isolation-group core, in the manner
 * of iommufd_fail_nth: every path of the core is run again and again,
 * with the N-th driver callback failing (the mock's mock_fail_nth) and
 * with the N-th slab allocation failing (the fault-injection framework's
 * per-task fail_nth, when failslab is armed for GFP_KERNEL), for N = 1, 2,
 * ... until the path runs through without reaching an N-th point.
 *
 * After every injected failure the error must reach the caller and the
 * scene must be exactly as before: the domain every device's hardware
 * translates with, group membership and sysfs links, the group's domains,
 * holders and attach handle, and the number of live paging domains and
 * groups. A path that succeeds although a fault was injected (the core or
 * the base kernel tolerates it, e.g. a failed uevent) must leave a
 * consistent scene; it is counted as tolerated.
 *
 * Allocation faults need failslab with ignore-gfp-wait=N; the suite runs
 * at boot with driver faults only and again from debugfs once the guest
 * has armed failslab (scripts/guest/fail-nth.sh).
 */
#include <kunit/test.h>
#include <linux/device.h>
#include <linux/iommu.h>
#include <linux/isolation.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "core.h"
#include "isolation_mock.h"
#include "../iommu-priv.h"

#define SCENE_DEVS	3

/* What one run of a path works on; made afresh for every run */
struct scene {
	struct kunit *test;
	struct mock_dev *devs[SCENE_DEVS + 1];
	int ndevs;
	/* The device the path adds, if any: devs[ndevs - 1] */
	bool adds;
	struct iommu_group *group;
	struct iommu_domain *dom, *dom2;
	struct iommu_attach_handle handle, handle2;
	bool held;
};

struct fault_path {
	const char *name;
	/* Build the scene without faults */
	void (*setup)(struct scene *sc);
	int (*op)(struct scene *sc);
	/* A path that cannot fail (detach, release): check the end state */
	void (*check_safe)(struct scene *sc);
	/* Needs DMA domains (CONFIG_IOMMU_DMA) */
	bool dma;
};

/* The scene's state that an injected failure must leave unchanged */
struct scene_state {
	struct iommu_domain *hw[SCENE_DEVS + 1];
	struct iommu_domain *hw_pasid[SCENE_DEVS + 1];
	struct iommu_group *grp[SCENE_DEVS + 1];
	bool linked[SCENE_DEVS + 1];
	struct iommu_domain *domain, *def;
	unsigned int owner_cnt, members, outside;
	void *owner, *handle;
	bool dma_api_off;
	int paging_live, groups;
};

static int count_groups(void)
{
	struct kobject *k;
	int n = 0;

	spin_lock(&iso_group_kset->list_lock);
	list_for_each_entry(k, &iso_group_kset->list, entry)
		n++;
	spin_unlock(&iso_group_kset->list_lock);
	return n;
}

static void scene_state(struct scene *sc, struct scene_state *st)
{
	struct iommu_group *group = sc->group;
	int i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < sc->ndevs; i++) {
		st->hw[i] = sc->devs[i]->domain;
		st->hw_pasid[i] = sc->devs[i]->pasid_domain;
		st->grp[i] = sc->devs[i]->dev.iommu_group;
		st->linked[i] = link_target(sc->devs[i]->dev.kobj.sd,
					    "iommu_group");
	}
	st->paging_live = atomic_read(&mock_paging_live);
	st->groups = count_groups();
	if (!group)
		return;
	mutex_lock(&group->mutex);
	st->domain = group->domain;
	st->def = group->default_domain;
	st->owner_cnt = group->owner_cnt;
	st->owner = group->owner;
	st->dma_api_off = group->dma_api_off;
	st->outside = group->outside_cnt;
	st->members = list_count_nodes(&group->devices);
	st->handle = xa_load(&group->pasid_array, IOMMU_NO_PASID);
	mutex_unlock(&group->mutex);
}

static void expect_same_state(struct kunit *test, const char *path,
			      unsigned int n, struct scene_state *a,
			      struct scene_state *b)
{
	int i;

	for (i = 0; i < SCENE_DEVS + 1; i++) {
		KUNIT_EXPECT_PTR_EQ_MSG(test, a->hw[i], b->hw[i],
					"%s #%u: device %d translates elsewhere",
					path, n, i);
		KUNIT_EXPECT_PTR_EQ_MSG(test, a->hw_pasid[i], b->hw_pasid[i],
					"%s #%u: PASID of device %d", path, n,
					i);
		KUNIT_EXPECT_PTR_EQ_MSG(test, a->grp[i], b->grp[i],
					"%s #%u: group of device %d", path, n,
					i);
		KUNIT_EXPECT_EQ_MSG(test, a->linked[i], b->linked[i],
				    "%s #%u: iommu_group link of device %d",
				    path, n, i);
	}
	KUNIT_EXPECT_PTR_EQ_MSG(test, a->domain, b->domain, "%s #%u: domain",
				path, n);
	KUNIT_EXPECT_PTR_EQ_MSG(test, a->def, b->def,
				"%s #%u: default domain", path, n);
	KUNIT_EXPECT_EQ_MSG(test, a->owner_cnt, b->owner_cnt,
			    "%s #%u: owner count", path, n);
	KUNIT_EXPECT_PTR_EQ_MSG(test, a->owner, b->owner, "%s #%u: owner",
				path, n);
	KUNIT_EXPECT_PTR_EQ_MSG(test, a->handle, b->handle,
				"%s #%u: attach handle", path, n);
	KUNIT_EXPECT_EQ_MSG(test, a->dma_api_off, b->dma_api_off,
			    "%s #%u: DMA API state", path, n);
	KUNIT_EXPECT_EQ_MSG(test, a->outside, b->outside,
			    "%s #%u: members outside", path, n);
	KUNIT_EXPECT_EQ_MSG(test, a->members, b->members,
			    "%s #%u: members", path, n);
	KUNIT_EXPECT_EQ_MSG(test, a->paging_live, b->paging_live,
			    "%s #%u: paging domains leaked or lost", path, n);
	KUNIT_EXPECT_EQ_MSG(test, a->groups, b->groups,
			    "%s #%u: groups in sysfs", path, n);
}

/* Any end state: members are in the group's domain or marked outside */
static void expect_consistent(struct scene *sc, const char *path,
			      unsigned int n)
{
	struct group_device *gdev;
	int i;

	for (i = 0; i < sc->ndevs; i++) {
		struct iommu_group *group = sc->devs[i]->dev.iommu_group;

		if (!group)
			continue;
		mutex_lock(&group->mutex);
		for_each_group_device(group, gdev)
			if (gdev->dev == &sc->devs[i]->dev && !gdev->outside)
				KUNIT_EXPECT_PTR_EQ_MSG(sc->test,
							sc->devs[i]->domain,
							group->domain,
							"%s #%u: device %d",
							path, n, i);
		mutex_unlock(&group->mutex);
	}
}

/* Scenes */

static void scene_add(struct scene *sc, int key, bool probe)
{
	struct mock_dev *mdev = mock_dev_new(sc->test, key);

	sc->devs[sc->ndevs++] = mdev;
	if (probe)
		KUNIT_ASSERT_EQ(sc->test, iommu_probe_device(&mdev->dev), 0);
}

static void setup_pair(struct scene *sc)
{
	scene_add(sc, 1, true);
	scene_add(sc, 1, true);
	sc->group = mock_group(sc->devs[0]);
	sc->dom = mock_user_domain(sc->test, sc->devs[0]);
	sc->dom2 = mock_user_domain(sc->test, sc->devs[0]);
}

static void setup_held(struct scene *sc)
{
	setup_pair(sc);
	KUNIT_ASSERT_EQ(sc->test, iommu_group_claim_dma_owner(sc->group, sc),
			0);
	sc->held = true;
}

static void setup_attached(struct scene *sc)
{
	setup_pair(sc);
	KUNIT_ASSERT_EQ(sc->test, domain_attach_group(sc->dom, sc->group), 0);
}

static void setup_held_handle(struct scene *sc)
{
	setup_held(sc);
	KUNIT_ASSERT_EQ(sc->test, domain_attach_group_handle(sc->dom, sc->group,
							     &sc->handle), 0);
}

static void setup_hotadd(struct scene *sc)
{
	setup_pair(sc);
	scene_add(sc, 1, false);
	sc->adds = true;
}

static void setup_hotadd_held(struct scene *sc)
{
	setup_held(sc);
	scene_add(sc, 1, false);
	sc->adds = true;
}

static void setup_hotadd_attached(struct scene *sc)
{
	setup_attached(sc);
	scene_add(sc, 1, false);
	sc->adds = true;
}

static void setup_new_group(struct scene *sc)
{
	scene_add(sc, 1, true);
	sc->dom = mock_user_domain(sc->test, sc->devs[0]);
	scene_add(sc, 2, false);
	sc->adds = true;
}

static void setup_bus(struct scene *sc)
{
	scene_add(sc, 1, true);
	scene_add(sc, 2, false);
	scene_add(sc, 2, false);
}

static void setup_identity(struct scene *sc)
{
	setup_pair(sc);
	KUNIT_ASSERT_EQ(sc->test,
			iso_group_change_default_type(sc->group,
						      IOMMU_DOMAIN_IDENTITY), 0);
}

static void setup_pasid(struct scene *sc)
{
	int i;

	setup_pair(sc);
	/* As dev_iommu_get_max_pasids() would find it on PASID hardware */
	for (i = 0; i < sc->ndevs; i++)
		sc->devs[i]->dev.iommu->max_pasids = 8;
}

/* Paths */

static int op_probe_added(struct scene *sc)
{
	return iommu_probe_device(&sc->devs[sc->ndevs - 1]->dev);
}

static int op_bus_probe(struct scene *sc)
{
	return bus_iommu_probe(&mock_bus);
}

static int op_attach(struct scene *sc)
{
	return domain_attach_group(sc->dom, sc->group);
}

static int op_attach_legacy(struct scene *sc)
{
	return iommu_attach_group(sc->dom, sc->group);
}

static int op_attach_handle(struct scene *sc)
{
	return domain_attach_group_handle(sc->dom, sc->group, &sc->handle);
}

static int op_replace_handle(struct scene *sc)
{
	return iommu_replace_group_handle(sc->group, sc->dom2, &sc->handle2);
}

static int op_claim(struct scene *sc)
{
	int ret = iommu_group_claim_dma_owner(sc->group, sc);

	sc->held = !ret;
	return ret;
}

static int op_claim_device(struct scene *sc)
{
	int ret = iommu_device_claim_dma_owner(&sc->devs[1]->dev, sc);

	sc->held = !ret;
	return ret;
}

static int op_type_dma(struct scene *sc)
{
	return iso_group_change_default_type(sc->group, IOMMU_DOMAIN_DMA);
}

static int op_pasid(struct scene *sc)
{
	return iommu_attach_device_pasid(sc->dom, &sc->devs[0]->dev, 1, NULL);
}

static int op_detach(struct scene *sc)
{
	return domain_detach_group(sc->dom, sc->group);
}

static int op_release(struct scene *sc)
{
	iommu_group_release_dma_owner(sc->group);
	sc->held = false;
	return 0;
}

/* Whatever failed on the way, no device is left in the detached domain */
static void check_detached(struct scene *sc)
{
	struct iommu_domain *core = sc->held ? sc->group->blocking_domain :
					       sc->group->default_domain;
	int i;

	KUNIT_EXPECT_PTR_EQ(sc->test, sc->group->domain, core);
	KUNIT_EXPECT_FALSE(sc->test, sc->group->dma_api_off);
	for (i = 0; i < sc->ndevs; i++)
		KUNIT_EXPECT_PTR_NE(sc->test, sc->devs[i]->domain, sc->dom);
}

static void check_released(struct scene *sc)
{
	KUNIT_EXPECT_NULL(sc->test, sc->group->owner);
	KUNIT_EXPECT_EQ(sc->test, sc->group->owner_cnt, 0);
	KUNIT_EXPECT_PTR_EQ(sc->test, sc->group->domain,
			    sc->group->default_domain);
}

static const struct fault_path fault_paths[] = {
	{ "probe", setup_hotadd, op_probe_added },
	{ "probe-new-group", setup_new_group, op_probe_added },
	{ "bus-probe", setup_bus, op_bus_probe },
	{ "hotadd-held", setup_hotadd_held, op_probe_added },
	{ "hotadd-attached", setup_hotadd_attached, op_probe_added },
	{ "attach", setup_pair, op_attach },
	{ "attach-held", setup_held, op_attach },
	{ "attach-legacy", setup_pair, op_attach_legacy },
	{ "attach-handle", setup_held, op_attach_handle },
	{ "replace-handle", setup_held_handle, op_replace_handle },
	{ "detach", setup_attached, op_detach, check_detached },
	{ "claim", setup_pair, op_claim },
	{ "claim-device", setup_pair, op_claim_device },
	{ "release", setup_held, op_release, check_released },
	{ "type-switch", setup_identity, op_type_dma, NULL, true },
	{ "pasid-attach", setup_pasid, op_pasid },
};

static void scene_end(struct scene *sc)
{
	int i;

	if (sc->group && sc->devs[0]->dev.iommu_group == sc->group) {
		struct iommu_domain *now = READ_ONCE(sc->group->domain);

		iommu_detach_device_pasid(sc->dom, &sc->devs[0]->dev, 1);
		if (now == sc->dom || now == sc->dom2)
			iommu_detach_group_handle(now, sc->group);
		if (sc->held)
			iommu_group_release_dma_owner(sc->group);
	}
	if (sc->dom2)
		mock_domain_del(sc->test, sc->dom2);
	if (sc->dom)
		mock_domain_del(sc->test, sc->dom);
	for (i = sc->ndevs - 1; i >= 0; i--)
		mock_dev_del(sc->test, sc->devs[i]);
}

enum fault_kind { FAULT_DRIVER, FAULT_ALLOC };

static void fault_arm(enum fault_kind kind, unsigned int n)
{
	if (kind == FAULT_DRIVER)
		atomic_set(&mock_fail_nth, n);
#ifdef CONFIG_FAULT_INJECTION
	else
		current->fail_nth = n;
#endif
}

/* Disarm; whether the n-th point was reached */
static bool fault_disarm(enum fault_kind kind)
{
	unsigned int left = 0;

	if (kind == FAULT_DRIVER) {
		left = atomic_xchg(&mock_fail_nth, 0);
	} else {
#ifdef CONFIG_FAULT_INJECTION
		left = current->fail_nth;
		current->fail_nth = 0;
#endif
	}
	return !left;
}

/* Whether a GFP_KERNEL slab allocation of this task can be made to fail */
static bool alloc_faults_armed(void)
{
	void *p;

	if (!IS_ENABLED(CONFIG_FAILSLAB))
		return false;
	fault_arm(FAULT_ALLOC, 1);
	p = kmalloc(16, GFP_KERNEL);
	fault_disarm(FAULT_ALLOC);
	kfree(p);
	return !p;
}

struct sweep_count {
	unsigned int points, failures, tolerated;
};

static void sweep_path(struct kunit *test, const struct fault_path *path,
		       enum fault_kind kind, struct sweep_count *cnt)
{
	struct scene_state before, after;
	unsigned int n;

	for (n = 1; n < 1000; n++) {
		struct scene sc = { .test = test };
		bool hit;
		int ret;

		path->setup(&sc);
		scene_state(&sc, &before);
		fault_arm(kind, n);
		ret = path->op(&sc);
		hit = fault_disarm(kind);

		if (!hit) {
			/* No n-th point: the path ran through untouched */
			KUNIT_EXPECT_EQ_MSG(test, ret, 0, "%s without a fault",
					    path->name);
			scene_end(&sc);
			cnt->points += n - 1;
			return;
		}
		if (path->check_safe) {
			path->check_safe(&sc);
			cnt->tolerated++;
		} else if (ret) {
			cnt->failures++;
			scene_state(&sc, &after);
			expect_same_state(test, path->name, n, &before, &after);
		} else {
			cnt->tolerated++;
			expect_consistent(&sc, path->name, n);
		}
		scene_end(&sc);
	}
	KUNIT_FAIL(test, "%s: no end to the injection points", path->name);
}

static void fault_sweep(struct kunit *test)
{
	bool alloc = alloc_faults_armed();
	unsigned int points = 0, failures = 0, paths = 0;
	int i;

	kunit_info(test, "fail_nth: allocation faults %s\n",
		   alloc ? "on" : "off (failslab not armed for GFP_KERNEL)");
	for (i = 0; i < ARRAY_SIZE(fault_paths); i++) {
		struct sweep_count cnt = {};

		if (fault_paths[i].dma && !IS_ENABLED(CONFIG_IOMMU_DMA)) {
			kunit_info(test, "fail_nth: %s skipped: no DMA domains\n",
				   fault_paths[i].name);
			continue;
		}
		sweep_path(test, &fault_paths[i], FAULT_DRIVER, &cnt);
		if (alloc)
			sweep_path(test, &fault_paths[i], FAULT_ALLOC, &cnt);
		kunit_info(test, "fail_nth: %s points=%u failures=%u tolerated=%u\n",
			   fault_paths[i].name, cnt.points, cnt.failures,
			   cnt.tolerated);
		points += cnt.points;
		failures += cnt.failures;
		paths++;
	}
	kunit_info(test, "fail_nth: %u paths, %u points, %u failures\n",
		   paths, points, failures);
}

static struct kunit_case isolation_faults_cases[] = {
	KUNIT_CASE(fault_sweep),
	{}
};

static struct kunit_suite isolation_faults_suite = {
	.name = "isolation_faults",
	.init = mock_test_init,
	.suite_init = mock_suite_init,
	.suite_exit = mock_suite_exit,
	.test_cases = isolation_faults_cases,
};

kunit_test_suite(isolation_faults_suite);
