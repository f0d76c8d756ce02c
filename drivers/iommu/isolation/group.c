// SPDX-License-Identifier: GPL-2.0-only
/*
 * Isolation-group core: group objects, their lifetime and membership.
 *
 * A group lives as long as its kref: one reference per member device
 * (taken by iso_group_link_device()) plus one per iommu_group_get() or
 * iommu_group_ref_get() caller. The last put removes the sysfs directory
 * and frees the group; its domains are gone by then, freed when the last
 * device left (probe.c). Locking rules are in core.h.
 */
#define pr_fmt(fmt) "iommu: " fmt

#include <linux/device.h>
#include <linux/idr.h>
#include <linux/iommu.h>
#include <linux/msi.h>
#include <linux/slab.h>
#include <trace/events/iommu.h>

#include "core.h"
#include "../iommu-priv.h"

struct kset *iso_group_kset;
static DEFINE_IDA(iso_group_ida);

static void iso_group_kobj_release(struct kobject *kobj)
{
	struct iommu_group *group = container_of(kobj, struct iommu_group,
						 kobj);

	if (group->iommu_data_release)
		group->iommu_data_release(group->iommu_data);
	ida_free(&iso_group_ida, group->id);
	kfree(group->name);
	kfree(group);
}

static const struct kobj_type iso_group_ktype = {
	.sysfs_ops = &kobj_sysfs_ops,
	.release = iso_group_kobj_release,
};

/**
 * iommu_group_alloc() - allocate a new, empty group
 *
 * Called by IOMMU drivers (usually from their device_group callback). The
 * group appears in /sys/kernel/iommu_groups/ at once.
 *
 * Return: the group with one reference held by the caller, which passes
 * it on (device_group) or drops it with iommu_group_put(); an ERR_PTR on
 * failure.
 */
struct iommu_group *iommu_group_alloc(void)
{
	struct iommu_group *group;
	int ret;

	group = kzalloc(sizeof(*group), GFP_KERNEL);
	if (!group)
		return ERR_PTR(-ENOMEM);

	kref_init(&group->ref);
	mutex_init(&group->mutex);
	spin_lock_init(&group->deferred_lock);
	INIT_LIST_HEAD(&group->devices);
	INIT_LIST_HEAD(&group->probe_node);
	INIT_LIST_HEAD(&group->regroup_node);
	xa_init(&group->pasid_array);

	ret = ida_alloc(&iso_group_ida, GFP_KERNEL);
	if (ret < 0) {
		kfree(group);
		return ERR_PTR(ret);
	}
	group->id = ret;

	group->kobj.kset = iso_group_kset;
	ret = kobject_init_and_add(&group->kobj, &iso_group_ktype, NULL, "%d",
				   group->id);
	if (ret)
		goto err_put;

	group->devices_kobj = kobject_create_and_add("devices", &group->kobj);
	if (!group->devices_kobj) {
		ret = -ENOMEM;
		goto err_put;
	}

	ret = iso_group_sysfs_init(group);
	if (ret)
		goto err_devices;
	return group;

err_devices:
	kobject_put(group->devices_kobj);
err_put:
	/* The kobject's release frees the id and the group */
	kobject_put(&group->kobj);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_GPL(iommu_group_alloc);

static void iso_group_release(struct kref *ref)
{
	struct iommu_group *group = container_of(ref, struct iommu_group, ref);

	/* The last device took the domains with it */
	WARN_ON_ONCE(!list_empty(&group->devices) || group->default_domain ||
		     group->blocking_domain || group->owner_cnt);
	WARN_ON_ONCE(!xa_empty(&group->pasid_array));
	kobject_put(group->devices_kobj);
	kobject_del(&group->kobj);
	kobject_put(&group->kobj);
}

/**
 * iommu_group_get() - get the group of a device and take a reference
 * @dev: the device
 *
 * Return: the group, or NULL if @dev is in none. Drop the reference with
 * iommu_group_put().
 */
struct iommu_group *iommu_group_get(struct device *dev)
{
	struct iommu_group *group = dev->iommu_group;

	if (group)
		kref_get(&group->ref);
	return group;
}
EXPORT_SYMBOL_GPL(iommu_group_get);

/**
 * iommu_group_ref_get() - take another reference on a group
 * @group: a group the caller already holds a reference on
 *
 * Return: @group.
 */
struct iommu_group *iommu_group_ref_get(struct iommu_group *group)
{
	kref_get(&group->ref);
	return group;
}
EXPORT_SYMBOL_GPL(iommu_group_ref_get);

/**
 * iommu_group_put() - drop a reference on a group
 * @group: the group, or NULL
 *
 * The last reference frees the group and removes it from sysfs.
 */
void iommu_group_put(struct iommu_group *group)
{
	if (group)
		kref_put(&group->ref, iso_group_release);
}
EXPORT_SYMBOL_GPL(iommu_group_put);

/**
 * iommu_group_id() - the number of a group
 * @group: the group
 *
 * Return: the group's number, also its directory name in sysfs.
 */
int iommu_group_id(struct iommu_group *group)
{
	return group->id;
}
EXPORT_SYMBOL_GPL(iommu_group_id);

/**
 * iommu_group_get_iommudata() - the IOMMU driver's private data of a group
 * @group: the group
 *
 * Return: what iommu_group_set_iommudata() stored, or NULL.
 */
void *iommu_group_get_iommudata(struct iommu_group *group)
{
	return group->iommu_data;
}
EXPORT_SYMBOL_GPL(iommu_group_get_iommudata);

/**
 * iommu_group_set_iommudata() - store IOMMU driver data in a group
 * @group: the group
 * @iommu_data: the data
 * @release: called with @iommu_data when the group is freed, or NULL
 */
void iommu_group_set_iommudata(struct iommu_group *group, void *iommu_data,
			       void (*release)(void *iommu_data))
{
	group->iommu_data = iommu_data;
	group->iommu_data_release = release;
}
EXPORT_SYMBOL_GPL(iommu_group_set_iommudata);

/*
 * Make @dev a member of @group: the sysfs links both ways and the list
 * entry. The device takes a group reference, dropped by unlink.
 */
struct group_device *iso_group_link_device(struct iommu_group *group,
					   struct device *dev)
{
	struct group_device *gdev;
	int ret;

	lockdep_assert_held(&iommu_probe_device_lock);
	lockdep_assert_held(&group->mutex);

	gdev = kzalloc(sizeof(*gdev), GFP_KERNEL);
	if (!gdev)
		return ERR_PTR(-ENOMEM);
	gdev->dev = dev;

	ret = iso_device_sysfs_add(group, gdev);
	if (ret) {
		kfree(gdev);
		dev_err(dev, "cannot join iommu group %d: %d\n", group->id, ret);
		return ERR_PTR(ret);
	}

	kref_get(&group->ref);
	dev->iommu_group = group;
	list_add_tail(&gdev->node, &group->devices);
	trace_add_device_to_group(group->id, dev);
	dev_info(dev, "Adding to iommu group %d\n", group->id);
	return gdev;
}

/*
 * Undo iso_group_link_device(). The caller drops the device's group
 * reference once it no longer uses the group (never under its mutex:
 * it may be the last one).
 */
void iso_group_unlink_device(struct iommu_group *group,
			     struct group_device *gdev)
{
	lockdep_assert_held(&iommu_probe_device_lock);
	lockdep_assert_held(&group->mutex);

	if (gdev->outside)
		group->outside_cnt--;
	list_del(&gdev->node);
	iso_device_sysfs_remove(group, gdev);
	trace_remove_device_from_group(group->id, gdev->dev);
	gdev->dev->iommu_group = NULL;
	kfree(gdev->name);
	kfree(gdev);
}

struct group_device *iso_group_find(struct iommu_group *group,
				    struct device *dev)
{
	struct group_device *gdev;

	lockdep_assert_held(&group->mutex);
	for_each_group_device(group, gdev)
		if (gdev->dev == dev)
			return gdev;
	return NULL;
}

/* Invariants of core.h, checked after every state change */
void iso_group_check(struct iommu_group *group)
{
	lockdep_assert_held(&group->mutex);

	WARN_ON_ONCE(group->owner && !group->owner_cnt);
	/* (Some drivers, like iommufd's mock, block DMA by default) */
	WARN_ON_ONCE(group->owner && group->domain &&
		     group->domain == group->default_domain &&
		     group->domain != group->blocking_domain);
	WARN_ON_ONCE(group->domain && !group->default_domain);
	WARN_ON_ONCE(group->dma_api_off &&
		     iso_group_state(group) != ISO_GROUP_ATTACHED);
}

/**
 * iommu_group_add_device() - put a device into a group by hand
 * @group: the group (the caller holds a reference)
 * @dev: a device in no group
 *
 * For groups outside the IOMMU API (VFIO no-IOMMU, platform code that
 * builds its own groups). Devices probed through an IOMMU driver join
 * their group in iommu_probe_device() instead.
 *
 * Return: 0, -EBUSY if @dev is in a group already, or another errno.
 */
int iommu_group_add_device(struct iommu_group *group, struct device *dev)
{
	struct group_device *gdev = ERR_PTR(-EBUSY);

	mutex_lock(&iommu_probe_device_lock);
	if (!dev->iommu_group) {
		mutex_lock(&group->mutex);
		gdev = iso_group_link_device(group, dev);
		mutex_unlock(&group->mutex);
	}
	mutex_unlock(&iommu_probe_device_lock);
	return PTR_ERR_OR_ZERO(gdev);
}
EXPORT_SYMBOL_GPL(iommu_group_add_device);

/* A device added by hand leaves its group; the probe lock is held */
void iso_group_drop_device(struct iommu_group *group, struct device *dev)
{
	struct group_device *gdev;
	bool member;

	lockdep_assert_held(&iommu_probe_device_lock);

	dev_info(dev, "Removing from iommu group %d\n", group->id);
	mutex_lock(&group->mutex);
	gdev = iso_group_find(group, dev);
	member = !WARN_ON_ONCE(!gdev);
	if (member)
		iso_group_unlink_device(group, gdev);
	mutex_unlock(&group->mutex);
	if (member)
		iommu_group_put(group);
}

/**
 * iommu_group_remove_device() - take a device out of its group
 * @dev: the device
 *
 * Reverses iommu_group_add_device(), or releases an IOMMU-probed device.
 */
void iommu_group_remove_device(struct device *dev)
{
	iommu_release_device(dev);
}
EXPORT_SYMBOL_GPL(iommu_group_remove_device);

#ifdef CONFIG_LOCKDEP
/**
 * iommu_group_mutex_assert() - assert that the device's group is locked
 * @dev: a device in a group
 */
void iommu_group_mutex_assert(struct device *dev)
{
	lockdep_assert_held(&dev->iommu_group->mutex);
}
EXPORT_SYMBOL_GPL(iommu_group_mutex_assert);
#endif

/**
 * iommu_group_for_each_dev() - call a function for each device of a group
 * @group: the group (the caller holds a reference)
 * @data: passed to @fn
 * @fn: the function; a non-zero return stops the walk
 *
 * @fn runs with the group's mutex held: it must not call back into the
 * group API for @group.
 *
 * Return: the first non-zero value @fn returned, or 0.
 */
int iommu_group_for_each_dev(struct iommu_group *group, void *data,
			     int (*fn)(struct device *, void *))
{
	struct group_device *gdev;
	int ret = 0;

	mutex_lock(&group->mutex);
	for_each_group_device(group, gdev) {
		ret = fn(gdev->dev, data);
		if (ret)
			break;
	}
	mutex_unlock(&group->mutex);
	return ret;
}
EXPORT_SYMBOL_GPL(iommu_group_for_each_dev);

/**
 * iommu_group_has_isolated_msi() - whether every device of a group has
 *	isolated MSIs
 * @group: the group
 *
 * Return: true if msi_device_has_isolated_msi() holds for all devices.
 */
bool iommu_group_has_isolated_msi(struct iommu_group *group)
{
	struct group_device *gdev;
	bool isolated = true;

	mutex_lock(&group->mutex);
	for_each_group_device(group, gdev)
		isolated = isolated && msi_device_has_isolated_msi(gdev->dev);
	mutex_unlock(&group->mutex);
	return isolated;
}
EXPORT_SYMBOL_GPL(iommu_group_has_isolated_msi);

/*
 * Add @region to @list, which stays sorted by start address; regions of
 * the same type that overlap or touch are merged into one.
 */
static int iso_resv_insert(struct iommu_resv_region *region,
			   struct list_head *list)
{
	struct iommu_resv_region *new, *pos, *next;
	phys_addr_t start = region->start;
	phys_addr_t end = region->start + region->length - 1;

	/* Swallow every same-type region that overlaps or touches */
	list_for_each_entry_safe(pos, next, list, list) {
		phys_addr_t pos_end = pos->start + pos->length - 1;

		if (pos->type != region->type)
			continue;
		if (pos->start > end + 1 || pos_end + 1 < start)
			continue;
		start = min(start, pos->start);
		end = max(end, pos_end);
		list_del(&pos->list);
		kfree(pos);
	}

	new = iommu_alloc_resv_region(start, end - start + 1, region->prot,
				      region->type, GFP_KERNEL);
	if (!new)
		return -ENOMEM;

	list_for_each_entry(pos, list, list)
		if (pos->start > start ||
		    (pos->start == start && pos->type > new->type))
			break;
	list_add_tail(&new->list, &pos->list);
	return 0;
}

/**
 * iommu_get_group_resv_regions() - the reserved regions of a group
 * @group: the group
 * @head: list to add the regions to; the caller frees them with kfree()
 *
 * The union of the reserved regions of all devices of the group, sorted
 * by address, regions of one type merged.
 *
 * Return: 0 or -ENOMEM.
 */
int iommu_get_group_resv_regions(struct iommu_group *group,
				 struct list_head *head)
{
	struct iommu_resv_region *region;
	struct group_device *gdev;
	int ret = 0;

	mutex_lock(&group->mutex);
	for_each_group_device(group, gdev) {
		LIST_HEAD(dev_regions);

		/* Groups built by hand (no-IOMMU) have no regions */
		if (!dev_has_iommu(gdev->dev))
			break;

		iommu_get_resv_regions(gdev->dev, &dev_regions);
		list_for_each_entry(region, &dev_regions, list) {
			ret = iso_resv_insert(region, head);
			if (ret)
				break;
		}
		iommu_put_resv_regions(gdev->dev, &dev_regions);
		if (ret)
			break;
	}
	mutex_unlock(&group->mutex);
	return ret;
}
EXPORT_SYMBOL_GPL(iommu_get_group_resv_regions);

static int __init iso_groups_init(void)
{
	iso_group_kset = kset_create_and_add("iommu_groups", NULL,
					     kernel_kobj);
	return iso_group_kset ? 0 : -ENOMEM;
}
core_initcall(iso_groups_init);
