// SPDX-License-Identifier: GPL-2.0-only
/*
 * Isolation-group core: who holds a group.
 *
 * group->owner_cnt counts the holders. DMA-API drivers are counted
 * without an owner cookie (driver core: iommu_device_use_default_domain()
 * before probe). A user that drives DMA itself (VFIO, iommufd) claims the
 * group with an owner cookie; it is exclusive, may be taken once per
 * device by the same owner, and moves the group to a blocking domain
 * until the user attaches its own. The two kinds never mix.
 *
 * A DMA-API driver may bind while the group is outside its default
 * domain only as the base kernel allowed it: no other driver is bound and
 * the domain was attached with the legacy API (a driver managing its own
 * device, e.g. ARM32 dma-iommu). Never while a user holds the group, a
 * domain_attach_group() domain is attached, or the device is outside the
 * group's domain.
 */
#define pr_fmt(fmt) "iommu: " fmt

#include <linux/device.h>
#include <linux/iommu.h>

#include "core.h"
#include "../iommu-priv.h"

/* @dev is a member the driver could not put into the group's domain */
static bool iso_dev_outside(struct iommu_group *group, struct device *dev)
{
	struct group_device *gdev;

	if (!group->outside_cnt)
		return false;
	gdev = iso_group_find(group, dev);
	return gdev && gdev->outside;
}

/**
 * iommu_device_use_default_domain() - a DMA-API driver is about to bind
 * @dev: the device
 *
 * Called by the driver core before a driver that uses the DMA API probes
 * @dev; paired with iommu_device_unuse_default_domain().
 *
 * Return: 0; -EBUSY while a user holds the group or a domain attached
 * with domain_attach_group() is in place (this covers a device hot-added
 * into such a group), while the device is outside the group's domain, or
 * while other drivers are bound and the group is not in its default
 * domain; -EPROBE_DEFER before the group's default domain exists.
 */
int iommu_device_use_default_domain(struct device *dev)
{
	struct iommu_group *group = dev->iommu_group;
	int ret = 0;

	/* Left out by a bus probe while a driver was bound: joins now */
	if (!group && dev_iommu_fwspec_get(dev) &&
	    iommu_fwspec_ops(dev_iommu_fwspec_get(dev)))
		iommu_probe_device(dev);
	group = dev->iommu_group;
	if (!group)
		return 0;

	mutex_lock(&group->mutex);
	if (!group->default_domain)
		ret = -EPROBE_DEFER;
	else if (group->owner || group->dma_api_off ||
		 iso_dev_outside(group, dev) ||
		 (group->owner_cnt &&
		  (group->domain != group->default_domain ||
		   !xa_empty(&group->pasid_array))))
		ret = -EBUSY;
	else
		group->owner_cnt++;
	iso_group_check(group);
	mutex_unlock(&group->mutex);
	return ret;
}

/**
 * iommu_device_unuse_default_domain() - a DMA-API driver has unbound
 * @dev: the device
 */
void iommu_device_unuse_default_domain(struct device *dev)
{
	struct iommu_group *group = dev->iommu_group;

	if (!group)
		return;

	mutex_lock(&group->mutex);
	if (!WARN_ON(!group->owner_cnt || group->owner ||
		     !xa_empty(&group->pasid_array)))
		group->owner_cnt--;
	mutex_unlock(&group->mutex);
}

static int iso_take_ownership(struct iommu_group *group, void *owner)
{
	int ret;

	lockdep_assert_held(&group->mutex);

	if (list_empty(&group->devices) || !group->default_domain)
		return -ENODEV;
	if (group->domain != group->default_domain ||
	    !xa_empty(&group->pasid_array))
		return -EBUSY;

	ret = iso_alloc_blocking_domain(group);
	if (ret)
		return ret;
	/* The move tries members outside the domain again */
	ret = iso_group_set_domain(group, group->blocking_domain, false);
	if (ret)
		return ret;
	/* A member still outside would not be blocked */
	if (group->outside_cnt) {
		iso_group_set_domain(group, group->default_domain, true);
		return -EBUSY;
	}

	WRITE_ONCE(group->owner, owner);
	group->owner_cnt = 1;
	iso_group_check(group);
	return 0;
}

static void iso_release_ownership(struct iommu_group *group)
{
	lockdep_assert_held(&group->mutex);

	if (WARN_ON(!group->owner_cnt || !group->owner ||
		    !xa_empty(&group->pasid_array)))
		return;

	group->owner_cnt = 0;
	WRITE_ONCE(group->owner, NULL);
	iso_group_set_core_domain(group);
}

/**
 * iommu_group_claim_dma_owner() - a user takes a whole group
 * @group: the group
 * @owner: the user's cookie, not NULL
 *
 * The group moves to a blocking domain; DMA-API drivers can no longer
 * bind to its devices.
 *
 * Return: 0; -EPERM if the group has any holder; -EBUSY if it is attached
 * to a domain, has PASID attachments or a member outside its domain;
 * -ENODEV for a group without devices or default domain; -EINVAL for a
 * NULL @owner, or a device that cannot be blocked (firmware needs its
 * 1:1 map), or the driver's error.
 */
int iommu_group_claim_dma_owner(struct iommu_group *group, void *owner)
{
	int ret;

	if (WARN_ON(!owner))
		return -EINVAL;

	mutex_lock(&group->mutex);
	ret = group->owner_cnt ? -EPERM : iso_take_ownership(group, owner);
	mutex_unlock(&group->mutex);
	return ret;
}
EXPORT_SYMBOL_GPL(iommu_group_claim_dma_owner);

/**
 * iommu_group_release_dma_owner() - give back a group claimed with
 *	iommu_group_claim_dma_owner()
 * @group: the group
 *
 * The group returns to its default domain.
 */
void iommu_group_release_dma_owner(struct iommu_group *group)
{
	mutex_lock(&group->mutex);
	iso_release_ownership(group);
	mutex_unlock(&group->mutex);
}
EXPORT_SYMBOL_GPL(iommu_group_release_dma_owner);

/**
 * iommu_device_claim_dma_owner() - a user takes a device's group
 * @dev: the device (its driver is bound)
 * @owner: the user's cookie, not NULL
 *
 * Several devices of a group may be claimed by the same owner; each
 * claim counts and is given back with iommu_device_release_dma_owner().
 *
 * Return: 0; -EPERM if someone else holds the group; -ENODEV without a
 * group; -EBUSY for a device outside the group's domain; -EBUSY or
 * -EINVAL as iommu_group_claim_dma_owner().
 */
int iommu_device_claim_dma_owner(struct device *dev, void *owner)
{
	struct iommu_group *group = dev->iommu_group;
	int ret = 0;

	if (WARN_ON(!owner))
		return -EINVAL;
	if (!group)
		return -ENODEV;

	mutex_lock(&group->mutex);
	if (iso_dev_outside(group, dev))
		ret = -EBUSY;
	else if (!group->owner_cnt)
		ret = iso_take_ownership(group, owner);
	else if (group->owner != owner)
		ret = -EPERM;
	else
		group->owner_cnt++;
	mutex_unlock(&group->mutex);
	return ret;
}
EXPORT_SYMBOL_GPL(iommu_device_claim_dma_owner);

/**
 * iommu_device_release_dma_owner() - give back one device claim
 * @dev: the device
 *
 * The last claim returns the group to its default domain.
 */
void iommu_device_release_dma_owner(struct device *dev)
{
	struct iommu_group *group = dev->iommu_group;

	mutex_lock(&group->mutex);
	if (group->owner_cnt > 1 && group->owner)
		group->owner_cnt--;
	else
		iso_release_ownership(group);
	mutex_unlock(&group->mutex);
}
EXPORT_SYMBOL_GPL(iommu_device_release_dma_owner);

/**
 * iommu_group_dma_owner_claimed() - whether a group has any holder
 * @group: the group
 *
 * Return: true if a DMA-API driver or a user holds the group. A snapshot,
 * for reporting only.
 */
bool iommu_group_dma_owner_claimed(struct iommu_group *group)
{
	unsigned int cnt;

	mutex_lock(&group->mutex);
	cnt = group->owner_cnt;
	mutex_unlock(&group->mutex);
	return cnt;
}
EXPORT_SYMBOL_GPL(iommu_group_dma_owner_claimed);
