// SPDX-License-Identifier: GPL-2.0-only
/*
 * Isolation-group core KUnit tests: the mock IOMMU driver.
 *
 * A mock IOMMU driver on a mock bus: devices with the same test-chosen
 * key share a group. The mock records, per device, the domain its
 * "hardware" really translates with (NULL: none, DMA blocked), and the
 * tests assert on that record, not on the core's bookkeeping.
 *
 * The mock is as unkind as the real drivers; each mode copies one:
 * - MOCK_FAIL_KEEPS: a refused attach leaves the device as it was
 *   (arm-smmu-v3 checks the domain before it writes the STE).
 * - MOCK_FAIL_BLOCKS: a refused attach leaves the device blocked
 *   (intel_iommu_attach_device() blocks translation first,
 *   amd_iommu_attach_device() detaches first).
 * - fail_errno -EINVAL on a domain: a domain the device cannot use
 *   (VT-d's and SMMUv3's "incompatible" answer).
 * - deferred: is_attach_deferred() as VT-d answers in a kdump kernel
 *   whose translation the old kernel left on.
 * - rmrr: an IOMMU_RESV_DIRECT region, as VT-d reports an RMRR; the
 *   device must never be blocked.
 * - probe_errno: probe_device() refuses the device (SMMUv3 on a
 *   StreamID it cannot take, virtio-iommu on an unknown endpoint).
 * - fail_type: the device refuses one domain type (blocked, identity).
 * - mock_fail_nth: the N-th driver callback fails with -ENOMEM, for the
 *   fault-injection sweep.
 */
#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/fwnode.h>
#include <linux/iommu.h>
#include <linux/kernfs.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "core.h"
#include "isolation_mock.h"
#include "../iommu-priv.h"

/* Where the "hardware" of a deferred device still points: the old kernel */
struct iommu_domain mock_old_kernel_domain;

static int mock_bus_match(struct device *dev, const struct device_driver *drv);

const struct bus_type mock_bus = {
	.name = "isolation-kunit",
	.match = mock_bus_match,
};

static struct fwnode_handle mock_fwnode;
static struct iommu_device mock_iommu;
LIST_HEAD(mock_devs);
static atomic_t mock_dev_ids = ATOMIC_INIT(0);

/* Per-test knobs, reset by mock_test_init() */
int mock_def_type;
int mock_paging_errno;
int mock_map_errno;
bool mock_map_needs_attach;
/* 0: off; N: the N-th driver callback from now fails */
atomic_t mock_fail_nth = ATOMIC_INIT(0);

/* Paging domains the driver allocated and not yet freed */
atomic_t mock_paging_live = ATOMIC_INIT(0);
/* Calls of the group's iommudata release, i.e. groups freed */
atomic_t mock_groups_freed = ATOMIC_INIT(0);

static const struct iommu_domain_ops mock_paging_ops;

static struct mock_dev *to_mock_dev(struct device *dev)
{
	return container_of(dev, struct mock_dev, dev);
}

/* A paging domain with a page table the tests can read */
struct mock_domain {
	struct iommu_domain domain;
	struct xarray pt;
	bool attached;
};

static struct mock_domain *to_mock_domain(struct iommu_domain *domain)
{
	return container_of(domain, struct mock_domain, domain);
}

bool mock_fail_now(void)
{
	return atomic_read(&mock_fail_nth) &&
	       atomic_dec_and_test(&mock_fail_nth);
}

static int mock_attach_dev(struct iommu_domain *domain, struct device *dev)
{
	struct mock_dev *mdev = to_mock_dev(dev);
	int err = 0;

	mdev->attaches++;
	if (mdev->fail_errno && (domain == mdev->fail_domain ||
				 (int)domain->type == mdev->fail_type))
		err = mdev->fail_errno;
	else if (mock_fail_now())
		err = -ENOMEM;
	if (err) {
		if (mdev->fail_mode == MOCK_FAIL_BLOCKS)
			mdev->domain = NULL;
		return err;
	}
	mdev->domain = domain;
	if (domain->ops == &mock_paging_ops)
		to_mock_domain(domain)->attached = true;
	return 0;
}

static void mock_domain_free(struct iommu_domain *domain)
{
	struct mock_domain *md = to_mock_domain(domain);

	atomic_dec(&mock_paging_live);
	xa_destroy(&md->pt);
	kfree(md);
}

static int mock_map_pages(struct iommu_domain *domain, unsigned long iova,
			  phys_addr_t paddr, size_t pgsize, size_t pgcount,
			  int prot, gfp_t gfp, size_t *mapped)
{
	struct mock_domain *md = to_mock_domain(domain);
	size_t i;
	int ret;

	if (mock_map_errno)
		return mock_map_errno;
	if (mock_map_needs_attach && !md->attached)
		return -ENODEV;
	if (mock_fail_now())
		return -ENOMEM;
	for (i = 0; i < pgcount; i++) {
		ret = xa_err(xa_store(&md->pt, (iova + i * pgsize) >> PAGE_SHIFT,
				      xa_mk_value((paddr + i * pgsize) >>
						  PAGE_SHIFT), gfp));
		if (ret)
			return ret;
		*mapped += pgsize;
	}
	return 0;
}

static size_t mock_unmap_pages(struct iommu_domain *domain, unsigned long iova,
			       size_t pgsize, size_t pgcount,
			       struct iommu_iotlb_gather *gather)
{
	struct mock_domain *md = to_mock_domain(domain);
	size_t i;

	for (i = 0; i < pgcount; i++)
		xa_erase(&md->pt, (iova + i * pgsize) >> PAGE_SHIFT);
	return pgsize * pgcount;
}

phys_addr_t mock_iova_to_phys(struct iommu_domain *domain,
			      dma_addr_t iova)
{
	void *entry = xa_load(&to_mock_domain(domain)->pt, iova >> PAGE_SHIFT);

	if (!entry)
		return 0;
	return ((phys_addr_t)xa_to_value(entry) << PAGE_SHIFT) |
	       (iova & ~PAGE_MASK);
}

/* One PASID per device is enough for the core's bookkeeping */
static int mock_set_dev_pasid(struct iommu_domain *domain, struct device *dev,
			      ioasid_t pasid, struct iommu_domain *old)
{
	if (mock_fail_now())
		return -ENOMEM;
	to_mock_dev(dev)->pasid_domain = domain;
	return 0;
}

static void mock_remove_dev_pasid(struct device *dev, ioasid_t pasid,
				  struct iommu_domain *domain)
{
	to_mock_dev(dev)->pasid_domain = NULL;
}

static const struct iommu_domain_ops mock_paging_ops = {
	.attach_dev = mock_attach_dev,
	.set_dev_pasid = mock_set_dev_pasid,
	.map_pages = mock_map_pages,
	.unmap_pages = mock_unmap_pages,
	.iova_to_phys = mock_iova_to_phys,
	.free = mock_domain_free,
};

/* Static domains have no free: the core must never need one */
static const struct iommu_domain_ops mock_static_ops = {
	.attach_dev = mock_attach_dev,
};

struct iommu_domain mock_identity_domain = {
	.type = IOMMU_DOMAIN_IDENTITY,
	.ops = &mock_static_ops,
};

struct iommu_domain mock_blocked_domain = {
	.type = IOMMU_DOMAIN_BLOCKED,
	.ops = &mock_static_ops,
};

static struct iommu_domain *mock_domain_alloc_paging(struct device *dev)
{
	struct mock_domain *md;

	if (mock_paging_errno)
		return ERR_PTR(mock_paging_errno);
	if (mock_fail_now())
		return ERR_PTR(-ENOMEM);

	md = kzalloc(sizeof(*md), GFP_KERNEL);
	if (!md)
		return ERR_PTR(-ENOMEM);
	xa_init(&md->pt);
	/* Enough for dma-iommu to set up an IOVA allocator */
	md->domain.pgsize_bitmap = SZ_4K;
	md->domain.geometry.aperture_end = DMA_BIT_MASK(48);
	md->domain.geometry.force_aperture = true;
	atomic_inc(&mock_paging_live);
	return &md->domain;
}

/* The "hardware" translation of @mdev goes through @iova to @phys */
bool mock_translates(struct mock_dev *mdev, dma_addr_t iova,
		     phys_addr_t phys)
{
	struct iommu_domain *domain = mdev->domain;

	if (!domain)
		return false;
	if (domain->type == IOMMU_DOMAIN_IDENTITY)
		return iova == phys;
	if (domain->type == IOMMU_DOMAIN_BLOCKED ||
	    domain == &mock_old_kernel_domain)
		return false;
	return mock_iova_to_phys(domain, iova) == phys;
}

static void mock_get_resv_regions(struct device *dev, struct list_head *head)
{
	struct iommu_resv_region *region;

	if (!to_mock_dev(dev)->rmrr)
		return;
	region = iommu_alloc_resv_region(MOCK_RMRR_START, MOCK_RMRR_SIZE,
					 IOMMU_READ | IOMMU_WRITE,
					 IOMMU_RESV_DIRECT, GFP_KERNEL);
	if (region)
		list_add_tail(&region->list, head);
}

static bool mock_is_attach_deferred(struct device *dev)
{
	return to_mock_dev(dev)->deferred;
}

static struct iommu_device *mock_probe_device(struct device *dev)
{
	struct mock_dev *mdev = to_mock_dev(dev);

	/* Only our fwnode leads here, but be strict about it */
	if (dev->bus != &mock_bus)
		return ERR_PTR(-ENODEV);
	if (mdev->probe_errno)
		return ERR_PTR(mdev->probe_errno);
	if (mock_fail_now())
		return ERR_PTR(-ENOMEM);
	mdev->released = false;
	mdev->released_locked = false;
	mdev->named_group = NULL;
	mdev->domain = mdev->deferred ? &mock_old_kernel_domain : NULL;
	return &mock_iommu;
}

static void mock_release_device(struct device *dev)
{
	struct mock_dev *mdev = to_mock_dev(dev);
	struct iommu_group *group = dev->iommu_group ?: mdev->named_group;

	mdev->released = true;
	mdev->released_locked = group && mutex_is_locked(&group->mutex);
	mdev->domain = NULL;
}

static struct iommu_group *mock_device_group(struct device *dev)
{
	struct mock_dev *mdev = to_mock_dev(dev);
	struct iommu_group *group = NULL;
	struct mock_dev *other;

	/* The core promises the lookup cannot race with (un)probing */
	lockdep_assert_held(&iommu_probe_device_lock);

	if (mdev->group_hook)
		mdev->group_hook(mdev);
	list_for_each_entry(other, &mock_devs, node)
		if (other != mdev && other->key == mdev->key &&
		    other->dev.iommu_group) {
			group = iommu_group_get(&other->dev);
			break;
		}
	if (!group)
		group = iommu_group_alloc();
	if (!IS_ERR(group))
		mdev->named_group = group;
	return group;
}

static int mock_def_domain_type(struct device *dev)
{
	return mock_def_type;
}

const struct iommu_ops mock_ops = {
	.owner = THIS_MODULE,
	.probe_device = mock_probe_device,
	.release_device = mock_release_device,
	.device_group = mock_device_group,
	.def_domain_type = mock_def_domain_type,
	.get_resv_regions = mock_get_resv_regions,
	.is_attach_deferred = mock_is_attach_deferred,
	.remove_dev_pasid = mock_remove_dev_pasid,
	.domain_alloc_paging = mock_domain_alloc_paging,
	.identity_domain = &mock_identity_domain,
	.blocked_domain = &mock_blocked_domain,
	.default_domain_ops = &mock_paging_ops,
	.pgsize_bitmap = SZ_4K,
};

/* Another IOMMU driver, only as the owner of foreign domains */
static const struct iommu_ops mock_foreign_ops = {
	.owner = THIS_MODULE,
	.pgsize_bitmap = SZ_4K,
};

/* A driver that binds to the devices whose bind flag is set */
static int mock_bus_match(struct device *dev, const struct device_driver *drv)
{
	return to_mock_dev(dev)->bind;
}

struct device_driver mock_driver = {
	.name = "isolation-kunit-drv",
	.bus = &mock_bus,
};

static void mock_dev_release(struct device *dev)
{
	kfree(to_mock_dev(dev));
}

/* Out of its group, off the bus, freed with its last reference */
static void mock_dev_remove(void *data)
{
	struct mock_dev *mdev = data;

	iommu_release_device(&mdev->dev);
	mutex_lock(&iommu_probe_device_lock);
	list_del(&mdev->node);
	mutex_unlock(&iommu_probe_device_lock);
	device_unregister(&mdev->dev);
}

/* A device on the mock bus behind the mock IOMMU, not probed yet */
struct mock_dev *mock_dev_new(struct kunit *test, int key)
{
	struct mock_dev *mdev;
	int ret;

	mdev = kzalloc(sizeof(*mdev), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, mdev);
	mdev->key = key;
	mdev->fail_type = -1;
	mdev->fail_mode = MOCK_FAIL_KEEPS;
	mdev->dma_mask = DMA_BIT_MASK(32);

	device_initialize(&mdev->dev);
	mdev->dev.bus = &mock_bus;
	mdev->dev.release = mock_dev_release;
	mdev->dev.dma_mask = &mdev->dma_mask;
	mdev->dev.coherent_dma_mask = DMA_BIT_MASK(32);
	ret = dev_set_name(&mdev->dev, "isokunit%d",
			   atomic_inc_return(&mock_dev_ids));
	if (!ret)
		ret = device_add(&mdev->dev);
	if (ret) {
		put_device(&mdev->dev);
		KUNIT_ASSERT_EQ(test, ret, 0);
	}

	mutex_lock(&iommu_probe_device_lock);
	list_add_tail(&mdev->node, &mock_devs);
	mutex_unlock(&iommu_probe_device_lock);
	ret = kunit_add_action_or_reset(test, mock_dev_remove, mdev);
	KUNIT_ASSERT_EQ(test, ret, 0);

	/* dev_iommu_get() wants the probe lock held */
	mutex_lock(&iommu_probe_device_lock);
	ret = iommu_fwspec_init(&mdev->dev, &mock_fwnode);
	mutex_unlock(&iommu_probe_device_lock);

	KUNIT_ASSERT_EQ(test, ret, 0);
	return mdev;
}

/* Remove @mdev now rather than at the end of the test */
void mock_dev_del(struct kunit *test, struct mock_dev *mdev)
{
	kunit_release_action(test, mock_dev_remove, mdev);
}

/* A device probed into the group of its key */
struct mock_dev *mock_dev_add(struct kunit *test, int key)
{
	struct mock_dev *mdev = mock_dev_new(test, key);

	KUNIT_ASSERT_EQ(test, iommu_probe_device(&mdev->dev), 0);
	KUNIT_ASSERT_NOT_NULL(test, mdev->dev.iommu_group);
	return mdev;
}

struct iommu_group *mock_group(struct mock_dev *mdev)
{
	return mdev->dev.iommu_group;
}

/* Two devices of one group, the setup most rules start from */
struct iommu_group *mock_pair(struct kunit *test,
			      struct mock_dev **devs,
			      struct iommu_domain **def)
{
	struct iommu_group *group;

	devs[0] = mock_dev_add(test, 1);
	devs[1] = mock_dev_add(test, 1);
	group = mock_group(devs[0]);
	if (def)
		*def = iommu_group_default_domain(group);
	return group;
}

/* Free a test's domain; a failed test may have left a group in it */
static void mock_domain_put(void *data)
{
	struct iommu_domain *domain = data;
	struct mock_dev *mdev;

	mutex_lock(&iommu_probe_device_lock);
	list_for_each_entry(mdev, &mock_devs, node) {
		struct iommu_group *group = mock_group(mdev);

		if (group && READ_ONCE(group->domain) == domain)
			iommu_detach_group(domain, group);
	}
	mutex_unlock(&iommu_probe_device_lock);
	iommu_domain_free(domain);
}

/* An unmanaged domain of the mock IOMMU, as a kernel user gets one */
struct iommu_domain *mock_user_domain(struct kunit *test,
				      struct mock_dev *mdev)
{
	struct iommu_domain *domain = iommu_paging_domain_alloc(&mdev->dev);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, domain);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, mock_domain_put,
							domain), 0);
	return domain;
}

static void mock_foreign_free(struct iommu_domain *domain)
{
	kfree(domain);
}

static const struct iommu_domain_ops mock_foreign_domain_ops = {
	.attach_dev = mock_attach_dev,
	.free = mock_foreign_free,
};

/* Free @domain, from mock_user_domain(), now */
void mock_domain_del(struct kunit *test, struct iommu_domain *domain)
{
	kunit_release_action(test, mock_domain_put, domain);
}

/* A domain of another IOMMU driver, whose attach would still be seen */
struct iommu_domain *mock_foreign_domain(struct kunit *test)
{
	struct iommu_domain *domain = kzalloc(sizeof(*domain), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, domain);
	domain->type = IOMMU_DOMAIN_UNMANAGED;
	domain->owner = &mock_foreign_ops;
	domain->ops = &mock_foreign_domain_ops;
	domain->pgsize_bitmap = SZ_4K;
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, mock_domain_put,
							domain), 0);
	return domain;
}

/* Every device in @devs is in @domain, as the driver saw it */
void expect_devs_in(struct kunit *test, struct mock_dev **devs,
		    int n, struct iommu_domain *domain,
		    const char *when)
{
	int i;

	for (i = 0; i < n; i++)
		KUNIT_EXPECT_PTR_EQ_MSG(test, devs[i]->domain, domain,
					"%s: device %d (%s) is in the wrong domain",
					when, i, dev_name(&devs[i]->dev));
}

/* What the symlink @name in @dir points to, NULL if there is none */
struct kernfs_node *link_target(struct kernfs_node *dir,
				const char *name)
{
	struct kernfs_node *kn = kernfs_find_and_get(dir, name);
	struct kernfs_node *target = NULL;

	if (!kn)
		return NULL;
	/* Only compared, never dereferenced */
	if (kernfs_type(kn) == KERNFS_LINK)
		target = kn->symlink.target_kn;
	kernfs_put(kn);
	return target;
}

bool group_in_sysfs(int id)
{
	struct kobject *kobj;
	char name[16];

	snprintf(name, sizeof(name), "%d", id);
	kobj = kset_find_obj(iso_group_kset, name);
	kobject_put(kobj);
	return kobj;
}

void mock_group_data_release(void *data)
{
	atomic_inc(&mock_groups_freed);
}

/* CONFIG_DEBUG_KOBJECT_RELEASE frees the group a few seconds late */
int groups_freed_since(int base, int expect)
{
	int i;

	for (i = 0; IS_ENABLED(CONFIG_DEBUG_KOBJECT_RELEASE) && i < 100 &&
	     atomic_read(&mock_groups_freed) - base < expect; i++)
		msleep(100);
	return atomic_read(&mock_groups_freed) - base;
}

int walk_count(struct device *dev, void *data)
{
	struct walk_result *res = data;

	res->devices++;
	if (dev->bus == &mock_bus && to_mock_dev(dev)->key == res->key)
		res->of_key++;
	return 0;
}

int mock_test_init(struct kunit *test)
{
	mock_def_type = 0;
	mock_paging_errno = 0;
	mock_map_errno = 0;
	mock_map_needs_attach = false;
	atomic_set(&mock_fail_nth, 0);
	return 0;
}

int mock_suite_init(struct kunit_suite *suite)
{
	int ret;

	ret = bus_register(&mock_bus);
	if (ret)
		return ret;
	ret = driver_register(&mock_driver);
	if (ret)
		goto err_bus;

	fwnode_init(&mock_fwnode, NULL);
	ret = iommu_device_sysfs_add(&mock_iommu, NULL, NULL,
				     "isolation-kunit");
	if (ret)
		goto err_driver;

	/* Devices whose fwspec names this fwnode are ours */
	mock_iommu.fwnode = &mock_fwnode;
	ret = iommu_device_register(&mock_iommu, &mock_ops, NULL);
	if (ret)
		goto err_sysfs;
	return 0;

err_sysfs:
	iommu_device_sysfs_remove(&mock_iommu);
err_driver:
	driver_unregister(&mock_driver);
err_bus:
	bus_unregister(&mock_bus);
	return ret;
}

void mock_suite_exit(struct kunit_suite *suite)
{
	iommu_device_unregister(&mock_iommu);
	iommu_device_sysfs_remove(&mock_iommu);
	driver_unregister(&mock_driver);
	bus_unregister(&mock_bus);
}
