// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit stress test of the isolation-group core, on the mock IOMMU driver
 * of isolation_mock.c.
 *
 * Kernel threads race, each for a fixed number of iterations, the entry
 * points that change a group: release and probe of its devices, attach
 * and detach (domain_attach_group() and the legacy API), user and DMA-API
 * ownership, default-domain type switches, and what its sysfs files run.
 * They share one group of four devices; two of them are never released,
 * so the group lives, and the threads take their group reference through
 * the first. One more thread runs all of these operations one after the
 * other on a neighbouring group, where nothing may be refused.
 *
 * Under contention a refusal (-EBUSY, -EPERM, -EINVAL from a detach) is
 * an expected outcome and only counted. Anything else is counted as bad:
 * another error, a state the rules exclude while a thread holds the group,
 * a device still in a domain after its detach, a member outside the
 * group's domain under the group's mutex, a sysfs file showing a value it
 * never may. At the end the group must be in its default domain with
 * every device in it, as the mock's hardware sees it, without holders and
 * without leaked domains, and the kernel must not have splatted.
 */
#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/debug_locks.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/err.h>
#include <linux/gfp.h>
#include <linux/iommu.h>
#include <linux/isolation.h>
#include <linux/jiffies.h>
#include <linux/kernfs.h>
#include <linux/kobject.h>
#include <linux/kthread.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/panic.h>
#include <linux/sched.h>
#include <linux/sched/debug.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/stdarg.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/xarray.h>

#include "core.h"
#include "isolation_mock.h"
#include "../iommu-priv.h"

/* Keys of their own: no device of another suite shares these groups */
#define STRESS_KEY		100
#define STRESS_NEIGHBOUR_KEY	101
#define STRESS_ITERS		200
/* Between operations and while holding the group, in microseconds */
#define STRESS_PAUSE_US		10
/* Far beyond a run on a debug kernel under TCG: a thread is stuck */
#define STRESS_STUCK_SECS	120

/* A sysfs file of the group and what it may show under any interleaving */
struct stress_attr {
	const char *name;
	const char * const values[4];
};

static const struct stress_attr stress_attrs[] = {
	/* The mock reports no reserved regions */
	{ "reserved_regions", { "" } },
	{ "type", { "identity", "DMA", "DMA-FQ" } },
	{ "holder", { "none", "dma-api", "user" } },
	/* The anchors keep the group set up: never "none" */
	{ "domain", { "default", "blocked", "attached" } },
};

/* A group under test */
struct stress_group {
	int key;
	/* Never released while the threads run; stable[0] anchors the group */
	struct mock_dev *stable[2];
	unsigned int nr_stable;
	/* Released and probed again */
	struct mock_dev *churn[2];
	unsigned int nr_churn;
	/* The default domain type before the run */
	unsigned int type;
};

struct stress_ctx {
	struct stress_group main;
	struct stress_group neighbour;
	/* What the mock devices' fwspec names, given back on each re-probe */
	struct fwnode_handle *fwnode;
	/* Behind the group's sysfs files, in stress_attrs[] order */
	struct attribute *attrs[ARRAY_SIZE(stress_attrs)];
	/* All threads start at once */
	struct completion go;
	bool abort;
};

struct stress_thread;

struct stress_role {
	const char *name;
	void (*step)(struct stress_thread *t, unsigned int i);
};

struct stress_thread {
	const struct stress_role *role;
	struct stress_ctx *ctx;
	struct stress_group *sg;
	/* Taken through the anchor, held for the whole run */
	struct iommu_group *group;
	struct task_struct *task;
	struct completion done;
	/* For show(), which writes a whole page */
	char *page;
	/* Alone on its group: a refusal is bad too */
	bool strict;
	unsigned int ops;
	unsigned int refused;
	unsigned int bad;
	/* The first bad outcome */
	char why[96];
};

/*
 * Let the other threads in. Without preemption a thread would otherwise do
 * its iterations in one go, and the threads would hardly overlap.
 */
static void stress_pause(void)
{
	usleep_range(STRESS_PAUSE_US, 3 * STRESS_PAUSE_US);
}

static __printf(2, 3) void stress_bad(struct stress_thread *t,
				      const char *fmt, ...)
{
	va_list args;

	if (t->bad++)
		return;
	va_start(args, fmt);
	vsnprintf(t->why, sizeof(t->why), fmt, args);
	va_end(args);
}

/*
 * Count a call that returned @ret; @busy and @other are the refusals that
 * contention explains. Return: whether the call succeeded.
 */
static bool stress_ret(struct stress_thread *t, const char *what, int ret,
		       int busy, int other)
{
	t->ops++;
	if (!ret)
		return true;
	if (!t->strict && (ret == busy || ret == other))
		t->refused++;
	else
		stress_bad(t, "%s: %d", what, ret);
	return false;
}

/*
 * After a detach no device of the group is in @domain any more, whatever
 * the detach returned. Alone on its group, a thread also knows which of
 * the core's domains the group is in.
 */
static void stress_check_detached(struct stress_thread *t,
				  struct iommu_domain *domain)
{
	struct iommu_group *group = t->group;
	struct iommu_domain *core;
	struct mock_dev *mdev;
	bool used = false;

	mutex_lock(&iommu_probe_device_lock);
	mutex_lock(&group->mutex);
	list_for_each_entry(mdev, &mock_devs, node)
		if (mdev->key == t->sg->key && mdev->domain == domain)
			used = true;
	core = group->owner ? group->blocking_domain : group->default_domain;
	if (group->domain == domain || (t->strict && group->domain != core))
		used = true;
	mutex_unlock(&group->mutex);
	mutex_unlock(&iommu_probe_device_lock);
	if (used)
		stress_bad(t, "a detached domain is still in use");
}

/* A user holds the group: @owner, and the DMA API is off */
static void stress_check_owner(struct stress_thread *t, void *owner)
{
	if (READ_ONCE(t->group->owner) != owner ||
	    iommu_dev_dma_api_usable(&t->sg->stable[0]->dev))
		stress_bad(t, "claimed, but the group is not the owner's");
}

/* A kernel user: its own domain, attached, detached and freed */
static void stress_attach(struct stress_thread *t, bool legacy)
{
	struct iommu_group *group = t->group;
	struct iommu_domain *domain;
	int ret;

	domain = iommu_paging_domain_alloc(&t->sg->stable[0]->dev);
	if (!stress_ret(t, "iommu_paging_domain_alloc",
			PTR_ERR_OR_ZERO(domain), 0, 0))
		return;

	if (legacy)
		ret = iommu_attach_group(domain, group);
	else
		ret = domain_attach_group(domain, group);
	if (stress_ret(t, legacy ? "iommu_attach_group" :
			   "domain_attach_group", ret, -EBUSY, 0)) {
		stress_pause();
		if (legacy) {
			iommu_detach_group(domain, group);
			t->ops++;
		} else {
			/* -EINVAL: someone moved the group meanwhile */
			stress_ret(t, "domain_detach_group",
				   domain_detach_group(domain, group),
				   -EINVAL, 0);
		}
		stress_check_detached(t, domain);
	}
	iommu_domain_free(domain);
	t->ops++;
}

static void step_attach(struct stress_thread *t, unsigned int i)
{
	stress_attach(t, false);
}

static void step_legacy_attach(struct stress_thread *t, unsigned int i)
{
	stress_attach(t, true);
}

/* A user such as VFIO: the whole group, sometimes with its own domain */
static void step_group_owner(struct stress_thread *t, unsigned int i)
{
	int ret;

	ret = iommu_group_claim_dma_owner(t->group, t);
	if (!stress_ret(t, "iommu_group_claim_dma_owner", ret, -EPERM,
			-EBUSY))
		return;
	stress_check_owner(t, t);
	if (i & 1)
		stress_attach(t, i & 2);
	stress_pause();
	iommu_group_release_dma_owner(t->group);
	t->ops++;
}

/* A user claiming device by device (an iommufd cdev) */
static void step_device_owner(struct stress_thread *t, unsigned int i)
{
	struct stress_group *sg = t->sg;
	struct device *first = &sg->stable[i % sg->nr_stable]->dev;
	struct device *second = &sg->stable[(i + 1) % sg->nr_stable]->dev;
	int ret;

	ret = iommu_device_claim_dma_owner(first, t);
	if (!stress_ret(t, "iommu_device_claim_dma_owner", ret, -EPERM,
			-EBUSY))
		return;
	stress_check_owner(t, t);
	/* The owner adds another device of its group: nothing may refuse */
	if (second != first && (i & 2) &&
	    stress_ret(t, "second iommu_device_claim_dma_owner",
		       iommu_device_claim_dma_owner(second, t), 0, 0)) {
		stress_pause();
		iommu_device_release_dma_owner(second);
		t->ops++;
	}
	stress_pause();
	iommu_device_release_dma_owner(first);
	t->ops++;
}

/* DMA-API drivers binding to the group's devices and unbinding */
static void step_dma_api(struct stress_thread *t, unsigned int i)
{
	struct stress_group *sg = t->sg;
	struct device *first = &sg->stable[i % sg->nr_stable]->dev;
	struct device *second = &sg->stable[(i + 1) % sg->nr_stable]->dev;
	bool both = false;
	int ret;

	ret = iommu_device_use_default_domain(first);
	if (!stress_ret(t, "iommu_device_use_default_domain", ret, -EBUSY, 0))
		return;
	if (second != first && (i & 2))
		both = stress_ret(t, "second iommu_device_use_default_domain",
				  iommu_device_use_default_domain(second),
				  -EBUSY, 0);
	/* While a driver is bound nobody takes the group from the DMA API */
	if (!iommu_dev_dma_api_usable(first) || READ_ONCE(t->group->owner))
		stress_bad(t, "a bound DMA-API driver lost the DMA API");
	stress_pause();
	if (both) {
		iommu_device_unuse_default_domain(second);
		t->ops++;
	}
	iommu_device_unuse_default_domain(first);
	t->ops++;
}

/* Writes of the group's sysfs "type": refused while anyone holds it */
static void step_type(struct stress_thread *t, unsigned int i)
{
	struct iommu_group *group = t->group;
	unsigned int type = IOMMU_DOMAIN_IDENTITY;
	int ret;

	if (IS_ENABLED(CONFIG_IOMMU_DMA) && (i & 1))
		type = IOMMU_DOMAIN_DMA;
	ret = iso_group_change_default_type(group, type);
	if (!stress_ret(t, "iso_group_change_default_type", ret, -EPERM, 0))
		return;
	/* No other thread switches this group's type */
	mutex_lock(&group->mutex);
	if (group->default_domain->type != type)
		stress_bad(t, "switched to type %u, default domain of type %u",
			   type, group->default_domain->type);
	mutex_unlock(&group->mutex);
}

struct stress_walk {
	struct iommu_group *group;
	unsigned int members;
	unsigned int outside;
};

/* Called under the group's mutex: every member is in the group's domain */
static int stress_member(struct device *dev, void *data)
{
	struct stress_walk *walk = data;
	struct iommu_domain *domain = walk->group->domain;

	walk->members++;
	if (dev->bus != &mock_bus || dev->iommu_group != walk->group ||
	    iommu_get_domain_for_dev(dev) != domain ||
	    container_of(dev, struct mock_dev, dev)->domain != domain)
		walk->outside++;
	return 0;
}

/* What reads of the group's sysfs files run, and the calls behind them */
static void step_read(struct stress_thread *t, unsigned int i)
{
	const struct sysfs_ops *ops = t->group->kobj.ktype->sysfs_ops;
	struct stress_walk walk = { .group = t->group };
	struct iommu_resv_region *region, *next;
	struct stress_group *sg = t->sg;
	LIST_HEAD(regions);
	unsigned int a;
	ssize_t len;
	int ret;

	if (!t->page)
		t->page = (char *)get_zeroed_page(GFP_KERNEL);
	if (!t->page) {
		stress_bad(t, "no page for show()");
		return;
	}
	for (a = 0; a < ARRAY_SIZE(stress_attrs); a++) {
		len = ops->show(&t->group->kobj, t->ctx->attrs[a], t->page);
		t->ops++;
		if (len < 0 || len >= PAGE_SIZE) {
			stress_bad(t, "%s: show() returned %zd",
				   stress_attrs[a].name, len);
			continue;
		}
		t->page[len] = '\0';
		if (__sysfs_match_string(stress_attrs[a].values,
					 ARRAY_SIZE(stress_attrs[a].values),
					 t->page) < 0)
			stress_bad(t, "%s shows \"%.40s\"", stress_attrs[a].name,
				   t->page);
	}

	ret = iommu_get_group_resv_regions(t->group, &regions);
	stress_ret(t, "iommu_get_group_resv_regions", ret, 0, 0);
	if (!list_empty(&regions))
		stress_bad(t, "reserved regions the mock never reported");
	list_for_each_entry_safe(region, next, &regions, list)
		kfree(region);

	iommu_group_dma_owner_claimed(t->group);
	t->ops++;
	iommu_group_for_each_dev(t->group, &walk, stress_member);
	t->ops++;
	if (walk.outside || walk.members < sg->nr_stable ||
	    walk.members > sg->nr_stable + sg->nr_churn)
		stress_bad(t, "%u members, %u outside the group's domain",
			   walk.members, walk.outside);
}

/* A device of the group goes and comes back (unplug, replug) */
static void step_churn(struct stress_thread *t, unsigned int i)
{
	struct mock_dev *mdev = t->sg->churn[i % t->sg->nr_churn];
	struct device *dev = &mdev->dev;
	int ret;

	iommu_release_device(dev);
	t->ops++;
	if (dev->iommu_group || !mdev->released)
		stress_bad(t, "%s not released", dev_name(dev));
	stress_pause();

	/* The release freed the fwspec: firmware gives it again */
	mutex_lock(&iommu_probe_device_lock);
	ret = iommu_fwspec_init(dev, t->ctx->fwnode);
	mutex_unlock(&iommu_probe_device_lock);
	if (!stress_ret(t, "iommu_fwspec_init", ret, 0, 0))
		return;
	ret = iommu_probe_device(dev);
	if (stress_ret(t, "iommu_probe_device", ret, 0, 0) &&
	    dev->iommu_group != t->group)
		stress_bad(t, "%s probed into another group", dev_name(dev));
}

static const struct stress_role stress_roles[] = {
	{ "churn", step_churn },
	{ "attach", step_attach },
	{ "legacy", step_legacy_attach },
	{ "group-owner", step_group_owner },
	{ "device-owner", step_device_owner },
	{ "dma-api", step_dma_api },
	{ "type", step_type },
	{ "reader", step_read },
};

/* The neighbour: every role in turn, alone on its group */
static void step_neighbour(struct stress_thread *t, unsigned int i)
{
	unsigned int n = ARRAY_SIZE(stress_roles);

	stress_roles[i % n].step(t, i / n);
}

static const struct stress_role stress_neighbour_role = {
	"neighbour", step_neighbour
};

#define STRESS_THREADS	(ARRAY_SIZE(stress_roles) + 1)

static int stress_thread_fn(void *data)
{
	struct stress_thread *t = data;
	unsigned int i;

	wait_for_completion(&t->ctx->go);
	/* The anchor is never released: its group lives, and is this one */
	t->group = iommu_group_get(&t->sg->stable[0]->dev);
	if (!t->group)
		stress_bad(t, "the anchor has no group");
	for (i = 0; t->group && !READ_ONCE(t->ctx->abort) &&
	     i < STRESS_ITERS; i++) {
		t->role->step(t, i);
		stress_pause();
	}
	iommu_group_put(t->group);
	if (t->page)
		free_page((unsigned long)t->page);
	kthread_complete_and_exit(&t->done, 0);
}

static void stress_wait(struct kunit *test, struct stress_thread *t)
{
	if (!t->task)
		return;
	if (!wait_for_completion_timeout(&t->done, STRESS_STUCK_SECS * HZ)) {
		KUNIT_FAIL(test, "%s: not done after %d s", t->role->name,
			   STRESS_STUCK_SECS);
		sched_show_task(t->task);
		debug_show_all_locks();
		/* It still uses the test's devices: never free them under it */
		wait_for_completion(&t->done);
	}
	put_task_struct(t->task);
}

static void stress_group_init(struct kunit *test, struct stress_group *sg,
			      int key, unsigned int nr_stable,
			      unsigned int nr_churn)
{
	struct iommu_domain *def;
	unsigned int i;

	sg->key = key;
	sg->nr_stable = nr_stable;
	sg->nr_churn = nr_churn;
	for (i = 0; i < nr_stable; i++)
		sg->stable[i] = mock_dev_add(test, key);
	for (i = 0; i < nr_churn; i++)
		sg->churn[i] = mock_dev_add(test, key);
	def = iommu_group_default_domain(mock_group(sg->stable[0]));
	KUNIT_ASSERT_NOT_NULL(test, def);
	sg->type = def->type;
}

/* The group's sysfs files by name, as a read(2) finds them */
static void stress_find_attrs(struct kunit *test, struct stress_ctx *ctx,
			      struct iommu_group *group)
{
	struct kernfs_node *kn;
	unsigned int a;

	KUNIT_ASSERT_NOT_NULL(test, group->kobj.ktype->sysfs_ops->show);
	for (a = 0; a < ARRAY_SIZE(stress_attrs); a++) {
		kn = kernfs_find_and_get(group->kobj.sd, stress_attrs[a].name);
		KUNIT_ASSERT_NOT_NULL_MSG(test, kn, "no sysfs file %s",
					  stress_attrs[a].name);
		/* sysfs keeps a file's attribute in its node */
		if (kernfs_type(kn) == KERNFS_FILE)
			ctx->attrs[a] = kn->priv;
		kernfs_put(kn);
		KUNIT_ASSERT_NOT_NULL(test, ctx->attrs[a]);
	}
}

/* In the default domain, as the mock's hardware sees it, and unheld */
static void stress_expect_settled(struct kunit *test, struct stress_group *sg,
				  const char *what)
{
	struct iommu_group *group = mock_group(sg->stable[0]);
	struct device *dev = &sg->stable[0]->dev;
	unsigned int members = 0;
	struct iommu_domain *def;
	struct mock_dev *mdev;
	int ret;

	mutex_lock(&iommu_probe_device_lock);
	mutex_lock(&group->mutex);
	def = group->default_domain;
	KUNIT_EXPECT_NOT_NULL_MSG(test, def, "%s: no default domain", what);
	KUNIT_EXPECT_PTR_EQ_MSG(test, group->domain, def,
				"%s: not in its default domain", what);
	KUNIT_EXPECT_EQ_MSG(test, group->owner_cnt, 0, "%s: held", what);
	KUNIT_EXPECT_NULL_MSG(test, group->owner, "%s: owned", what);
	KUNIT_EXPECT_FALSE_MSG(test, group->dma_api_off,
			       "%s: DMA API still off", what);
	KUNIT_EXPECT_EQ_MSG(test, group->outside_cnt, 0,
			    "%s: members outside its domain", what);
	KUNIT_EXPECT_TRUE_MSG(test, xa_empty(&group->pasid_array),
			      "%s: attach handles left", what);
	list_for_each_entry(mdev, &mock_devs, node) {
		if (mdev->key != sg->key)
			continue;
		members++;
		KUNIT_EXPECT_PTR_EQ_MSG(test, mdev->dev.iommu_group, group,
					"%s: %s is not in the group", what,
					dev_name(&mdev->dev));
		KUNIT_EXPECT_PTR_EQ_MSG(test, mdev->domain, def,
					"%s: %s is not in the default domain",
					what, dev_name(&mdev->dev));
	}
	KUNIT_EXPECT_EQ(test, members, sg->nr_stable + sg->nr_churn);
	KUNIT_EXPECT_EQ(test, list_count_nodes(&group->devices), members);
	mutex_unlock(&group->mutex);
	mutex_unlock(&iommu_probe_device_lock);

	/* Nothing stuck: a DMA-API driver binds, a user claims */
	KUNIT_EXPECT_TRUE(test, iommu_dev_dma_api_usable(dev));
	ret = iommu_device_use_default_domain(dev);
	KUNIT_EXPECT_EQ_MSG(test, ret, 0, "%s: DMA-API driver refused", what);
	if (!ret)
		iommu_device_unuse_default_domain(dev);
	ret = iommu_group_claim_dma_owner(group, sg);
	KUNIT_EXPECT_EQ_MSG(test, ret, 0, "%s: user refused", what);
	if (!ret)
		iommu_group_release_dma_owner(group);

	/* The type of before, so that the paging domains can be counted */
	if (def && def->type != sg->type)
		KUNIT_EXPECT_EQ(test, iso_group_change_default_type(group,
								    sg->type),
				0);
}

/* What a splat leaves behind: a WARN taint, lockdep off, a bad page */
struct stress_splats {
	bool warn;
	bool lockdep_off;
	bool bad_page;
};

static void stress_splats_now(struct stress_splats *s)
{
	s->warn = test_taint(TAINT_WARN);
	s->lockdep_off = !debug_locks;
	s->bad_page = test_taint(TAINT_BAD_PAGE);
}

static unsigned int stress_splats_since(struct kunit *test,
					const struct stress_splats *before)
{
	struct stress_splats now;

	stress_splats_now(&now);
	if (before->warn || before->lockdep_off || before->bad_page)
		kunit_info(test, "before the run: warn taint %d, lockdep off %d, bad page taint %d; those cannot count\n",
			   before->warn, before->lockdep_off, before->bad_page);
	return (now.warn && !before->warn) +
	       (now.lockdep_off && !before->lockdep_off) +
	       (now.bad_page && !before->bad_page);
}

/* Every operation at once on one group, and all of them on a neighbour */
static void stress_group_and_neighbour(struct kunit *test)
{
	unsigned int i, ops = 0, splats, len = 0;
	struct stress_splats before;
	struct stress_thread *threads, *t;
	struct iommu_fwspec *fwspec;
	struct stress_ctx *ctx;
	unsigned long start;
	char refused[160];
	int live;

	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ctx);
	threads = kunit_kcalloc(test, STRESS_THREADS, sizeof(*threads),
				GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, threads);

	stress_group_init(test, &ctx->main, STRESS_KEY, 2, 2);
	stress_group_init(test, &ctx->neighbour, STRESS_NEIGHBOUR_KEY, 1, 1);
	KUNIT_ASSERT_PTR_NE(test, mock_group(ctx->main.stable[0]),
			    mock_group(ctx->neighbour.stable[0]));
	fwspec = dev_iommu_fwspec_get(&ctx->main.stable[0]->dev);
	KUNIT_ASSERT_NOT_NULL(test, fwspec);
	ctx->fwnode = fwspec->iommu_fwnode;
	stress_find_attrs(test, ctx, mock_group(ctx->main.stable[0]));
	init_completion(&ctx->go);

	live = atomic_read(&mock_paging_live);
	stress_splats_now(&before);
	start = jiffies;

	for (i = 0; i < STRESS_THREADS; i++) {
		t = &threads[i];
		t->ctx = ctx;
		init_completion(&t->done);
		if (i < ARRAY_SIZE(stress_roles)) {
			t->role = &stress_roles[i];
			t->sg = &ctx->main;
		} else {
			t->role = &stress_neighbour_role;
			t->sg = &ctx->neighbour;
			t->strict = true;
		}
		t->task = kthread_run(stress_thread_fn, t, "isostress/%s",
				      t->role->name);
		if (IS_ERR(t->task)) {
			KUNIT_FAIL(test, "%s: no thread: %ld", t->role->name,
				   PTR_ERR(t->task));
			t->task = NULL;
			WRITE_ONCE(ctx->abort, true);
			break;
		}
		/* For stress_wait(); it cannot exit before the start */
		get_task_struct(t->task);
	}
	complete_all(&ctx->go);
	for (i = 0; i < STRESS_THREADS; i++)
		stress_wait(test, &threads[i]);
	if (ctx->abort)
		return;

	for (i = 0; i < STRESS_THREADS; i++) {
		t = &threads[i];
		ops += t->ops;
		len += scnprintf(refused + len, sizeof(refused) - len, " %s %u",
				 t->role->name, t->refused);
		KUNIT_EXPECT_EQ_MSG(test, t->bad, 0, "%s: %u bad, first: %s",
				    t->role->name, t->bad, t->why);
	}

	stress_expect_settled(test, &ctx->main, "group");
	stress_expect_settled(test, &ctx->neighbour, "neighbour");
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&mock_paging_live), live,
			    "paging domains leaked");

	splats = stress_splats_since(test, &before);
	kunit_info(test, "stress: ops=%u splats=%u\n", ops, splats);
	kunit_info(test, "refused:%s; %u ms\n", refused,
		   jiffies_to_msecs(jiffies - start));
	KUNIT_EXPECT_EQ(test, splats, 0);
}

static struct kunit_case isolation_stress_cases[] = {
	KUNIT_CASE(stress_group_and_neighbour),
	{}
};

static struct kunit_suite isolation_stress_suite = {
	.name = "isolation_stress",
	.init = mock_test_init,
	.suite_init = mock_suite_init,
	.suite_exit = mock_suite_exit,
	.test_cases = isolation_stress_cases,
};

kunit_test_suite(isolation_stress_suite);
