// SPDX-License-Identifier: GPL-2.0-only
/*
 * Isolation-group core: default domains and moving groups between
 * domains.
 *
 * A group changes domain only as a whole and only under its mutex
 * (core.h). A change is all or nothing: if the IOMMU driver refuses one
 * device, the devices already moved go back to the previous domain.
 */
#define pr_fmt(fmt) "iommu: " fmt

#include <linux/device.h>
#include <linux/iommu.h>
#include <linux/isolation.h>
#include <linux/pci.h>
#include <trace/events/iommu.h>

#include "core.h"
#include "../dma-iommu.h"
#include "../iommu-priv.h"

struct iommu_domain *iso_group_alloc_domain(struct iommu_group *group,
					    unsigned int type)
{
	struct device *dev = iso_group_first_dev(group);

	return __iommu_domain_alloc(dev_iommu_ops(dev), dev, type);
}

/*
 * Map the firmware's direct (1:1) regions of @dev into a translating
 * @domain, before the device is attached to it, so DMA the firmware set
 * up keeps working. Pages already mapped (by another device of the group)
 * are left alone.
 */
int iso_map_direct_regions(struct iommu_domain *domain, struct device *dev)
{
	struct iommu_resv_region *region;
	unsigned long pgsize;
	LIST_HEAD(regions);
	int ret = 0;

	pgsize = domain->pgsize_bitmap ? 1UL << __ffs(domain->pgsize_bitmap) : 0;
	if (WARN_ON_ONCE(iommu_is_dma_domain(domain) && !pgsize))
		return -EINVAL;

	iommu_get_resv_regions(dev, &regions);
	list_for_each_entry(region, &regions, list) {
		dma_addr_t addr, end, run = 0;
		size_t run_len = 0;

		if (region->type == IOMMU_RESV_DIRECT)
			dev->iommu->require_direct = 1;
		if ((region->type != IOMMU_RESV_DIRECT &&
		     region->type != IOMMU_RESV_DIRECT_RELAXABLE) ||
		    !iommu_is_dma_domain(domain))
			continue;

		addr = ALIGN_DOWN(region->start, pgsize);
		end = ALIGN(region->start + region->length, pgsize);
		/* Map each run of unmapped pages with one call */
		for (; addr <= end; addr += pgsize) {
			if (addr < end && !iommu_iova_to_phys(domain, addr)) {
				if (!run_len)
					run = addr;
				run_len += pgsize;
				continue;
			}
			if (run_len) {
				ret = iommu_map(domain, run, run, run_len,
						region->prot, GFP_KERNEL);
				if (ret)
					goto out;
				run_len = 0;
			}
		}
	}
	if (!list_empty(&regions) && iommu_is_dma_domain(domain))
		iommu_flush_iotlb_all(domain);
out:
	iommu_put_resv_regions(dev, &regions);
	return ret;
}

static int iso_device_attach(struct iommu_domain *domain, struct device *dev)
{
	int ret;

	if (!domain->ops->attach_dev)
		return -ENODEV;
	ret = domain->ops->attach_dev(domain, dev);
	if (!ret)
		trace_attach_device_to_domain(dev);
	return ret;
}

/*
 * kdump: whether @dev still waits for its deferred attach, which this
 * call ends (or, with @again, restores after a failed attach). Under the
 * group's deferred_lock, because the DMA map path ends it without the
 * group mutex (iommu_deferred_attach()).
 */
static bool iso_end_deferral(struct iommu_group *group, struct device *dev,
			     bool again)
{
	unsigned long flags;
	bool was;

	spin_lock_irqsave(&group->deferred_lock, flags);
	was = dev->iommu->attach_deferred;
	dev->iommu->attach_deferred = again;
	spin_unlock_irqrestore(&group->deferred_lock, flags);
	return was;
}

/* Move one device of @group to @domain */
static int iso_device_set_domain(struct iommu_group *group, struct device *dev,
				 struct iommu_domain *domain,
				 bool must_succeed)
{
	struct iommu_domain *block;
	int ret;

	lockdep_assert_held(&group->mutex);

	/* kdump: keep the old kernel's translation until the first DMA map */
	if (dev->iommu->attach_deferred) {
		if (domain == group->default_domain)
			return 0;
		iso_end_deferral(group, dev, false);
	}

	/*
	 * Firmware needs its 1:1 map for this device: never block it, nor
	 * hand it to a user (VFIO refuses such devices). If the old domain
	 * is going away, the default domain, which holds the map, is the
	 * safe place.
	 */
	if (dev->iommu->require_direct &&
	    (domain->type == IOMMU_DOMAIN_BLOCKED ||
	     domain == group->blocking_domain ||
	     (group->owner && domain != group->default_domain))) {
		dev_warn(dev, "firmware requires a 1:1 IOMMU mapping for this device; refusing to block its DMA\n");
		block = group->default_domain;
		ret = -EINVAL;
	} else {
		ret = iso_device_attach(domain, dev);
		/* The old domain is about to go away: block the device */
		block = group->blocking_domain ?:
			dev_iommu_ops(dev)->blocked_domain;
	}
	if (!ret || !must_succeed)
		return ret;
	/* A new group of a driver without a static blocked domain has none */
	if (!block || block == domain)
		dev_warn(dev, "no domain to block it in: %d\n", ret);
	else
		WARN_ON(iso_device_attach(block, dev));
	return ret;
}

/* The group's blocking domain, allocated once */
int iso_alloc_blocking_domain(struct iommu_group *group)
{
	struct iommu_domain *domain;

	if (group->blocking_domain)
		return 0;

	domain = iso_group_alloc_domain(group, IOMMU_DOMAIN_BLOCKED);
	/* Drivers without a blocked type: an empty paging domain blocks too */
	if (IS_ERR(domain))
		domain = iso_group_alloc_domain(group, IOMMU_DOMAIN_UNMANAGED);
	if (IS_ERR(domain))
		return PTR_ERR(domain);
	group->blocking_domain = domain;
	return 0;
}

static void iso_set_outside(struct iommu_group *group,
			    struct group_device *gdev, bool outside)
{
	if (gdev->outside != outside) {
		gdev->outside = outside;
		group->outside_cnt += outside ? 1 : -1;
	}
}

/*
 * Move every device of @group to @domain. On failure every device,
 * including the one the driver refused (VT-d and AMD-Vi block it before
 * they refuse), returns to the group's current domain and the error is
 * returned. With @must_succeed (the old domain is going away) the group
 * ends in @domain; a device the driver refuses is put into the blocking
 * domain, or the default one if firmware forbids blocking it, and stays
 * outside the group's domain until a later move takes it in. Members
 * already outside are tried once the others have moved and do not make a
 * move fail.
 */
int iso_group_set_domain(struct iommu_group *group,
			 struct iommu_domain *domain, bool must_succeed)
{
	struct iommu_domain *old = group->domain;
	struct group_device *gdev, *failed = NULL;
	int ret = 0, err = 0;

	lockdep_assert_held(&group->mutex);

	if (WARN_ON_ONCE(!domain))
		return -EINVAL;
	if (old == domain)
		return 0;

	for_each_group_device(group, gdev) {
		if (gdev->outside)
			continue;
		err = iso_device_set_domain(group, gdev->dev, domain,
					    must_succeed);
		if (err && !must_succeed) {
			failed = gdev;
			goto rollback;
		}
		if (err) {
			dev_warn(gdev->dev, "refused the domain of iommu group %d: %d\n",
				 group->id, err);
			gdev->refused = true;
			ret = ret ?: err;
		}
	}
	/*
	 * Members that were outside before: tried once the move is certain
	 * (no rollback for them), and while group->domain still names the
	 * old domain, which SMMUv3 reads as the device's current one.
	 */
	for_each_group_device(group, gdev) {
		if (gdev->refused) {
			gdev->refused = false;
			iso_set_outside(group, gdev, true);
		} else if (gdev->outside &&
			   !iso_device_set_domain(group, gdev->dev, domain,
						  false)) {
			iso_set_outside(group, gdev, false);
		}
	}
	WRITE_ONCE(group->domain, domain);
	iso_group_check(group);
	return ret;

rollback:
	for_each_group_device(group, gdev) {
		/* A driver must take back a domain the device was just in */
		if (old && !gdev->outside &&
		    iso_device_set_domain(group, gdev->dev, old, true))
			iso_set_outside(group, gdev, true);
		if (gdev == failed)
			break;
	}
	return err;
}

/*
 * A device joining @group enters the group's current domain. If it
 * cannot and the group is held or attached, it stays a member outside
 * that domain: it can still reach the other members, so it must not be
 * given to a DMA-API driver as a device of no group would be.
 */
int iso_device_enter_domain(struct iommu_group *group,
			    struct group_device *gdev)
{
	struct device *dev = gdev->dev;
	int ret;

	lockdep_assert_held(&group->mutex);

	if (group->default_domain)
		iso_map_direct_regions(group->default_domain, dev);
	if (!group->domain)
		return 0;
	ret = iso_device_set_domain(group, dev, group->domain, false);
	if (!ret || iso_group_state(group) == ISO_GROUP_DEFAULT)
		return ret;
	dev_warn(dev, "cannot enter the domain of iommu group %d: %d; no DMA-API driver for it until a later domain change takes it in\n",
		 group->id, ret);
	iso_set_outside(group, gdev, true);
	return 0;
}

/* The DMA ops of every member follow the group's current domain */
void iso_group_setup_dma_ops(struct iommu_group *group)
{
	struct group_device *gdev;

	lockdep_assert_held(&group->mutex);
	for_each_group_device(group, gdev)
		iommu_setup_dma_ops(gdev->dev);
}

/* Back to the domain the core owns: blocked while a user holds the group */
void iso_group_set_core_domain(struct iommu_group *group)
{
	struct iommu_domain *domain;

	domain = group->owner ? group->blocking_domain : group->default_domain;
	WRITE_ONCE(group->dma_api_off, false);
	iso_group_set_domain(group, domain, true);
	/* Members that joined elsewhere were set up for that domain */
	if (domain == group->default_domain)
		iso_group_setup_dma_ops(group);
}

/* What the driver wants for one device, merged into @type */
static int iso_merge_driver_type(struct iommu_group *group,
				 struct device *dev, int type)
{
	const struct iommu_ops *ops = dev_iommu_ops(dev);
	int want = 0;

	if (ops->default_domain)
		want = ops->default_domain->type;
	else if (ops->def_domain_type)
		want = ops->def_domain_type(dev);

	if (!want || want == type)
		return type;
	if (!type)
		return want;

	dev_err_ratelimited(dev, "IOMMU driver asks for both %s and %s default domains in group %d\n",
			    iommu_domain_type_str(type),
			    iommu_domain_type_str(want), group->id);
	/* Identity is the safe choice for a device that insists on it */
	return want == IOMMU_DOMAIN_IDENTITY ? want : type;
}

/*
 * The default domain type for @group: @target (0 for automatic) checked
 * against what the driver and the devices allow. Returns 0 for "the
 * global default", a type, or -EINVAL when no type fits.
 */
static int iso_default_domain_type(struct iommu_group *group, int target)
{
	struct group_device *gdev;
	bool untrusted = false;
	int type = 0;

	lockdep_assert_held(&group->mutex);

	if (IS_ENABLED(CONFIG_ARM_DMA_USE_IOMMU))
		type = IOMMU_DOMAIN_IDENTITY;

	for_each_group_device(group, gdev) {
		type = iso_merge_driver_type(group, gdev->dev, type);
		if (dev_is_pci(gdev->dev) && to_pci_dev(gdev->dev)->untrusted)
			untrusted = true;
	}

	if (!IS_ENABLED(CONFIG_IOMMU_DMA)) {
		if (type == IOMMU_DOMAIN_DMA)
			return -EINVAL;
		type = type ?: IOMMU_DOMAIN_IDENTITY;
	}

	/* External-facing devices are always translated */
	if (untrusted) {
		if (type && type != IOMMU_DOMAIN_DMA)
			return -EINVAL;
		type = IOMMU_DOMAIN_DMA;
	}

	if (target) {
		if (type && type != target)
			return -EINVAL;
		return target;
	}
	return type;
}

/* A default domain of @type: the group's current one if it has that type */
static struct iommu_domain *iso_default_of_type(struct iommu_group *group,
						unsigned int type)
{
	if (group->default_domain && group->default_domain->type == type)
		return group->default_domain;
	return iso_group_alloc_domain(group, type);
}

static struct iommu_domain *iso_alloc_default_domain(struct iommu_group *group,
						     int type)
{
	const struct iommu_ops *ops = dev_iommu_ops(iso_group_first_dev(group));
	unsigned int global = iommu_boot_def_domain_type();
	struct iommu_domain *domain;

	/* Drivers with one static default domain (e.g. sPAPR's platform) */
	if (ops->default_domain)
		return type && type != ops->default_domain->type ?
			ERR_PTR(-EINVAL) : ops->default_domain;

	if (type)
		return iso_default_of_type(group, type);

	domain = iso_default_of_type(group, global);
	if (!IS_ERR(domain) || global == IOMMU_DOMAIN_DMA)
		return domain;

	/* Identity or DMA-FQ unavailable: plain DMA still isolates */
	domain = iso_default_of_type(group, IOMMU_DOMAIN_DMA);
	if (!IS_ERR(domain))
		pr_warn("group %d: no %s default domain, using DMA\n",
			group->id, iommu_domain_type_str(global));
	return domain;
}

/*
 * Give @group a default domain of @target type (0: automatic) and, when
 * the group is in its default domain or has none yet, move it there. The
 * old default domain is freed on success. On failure a group that had a
 * default domain is left as it was; a new group keeps the domain with the
 * devices the driver refused outside it, for the caller to release.
 */
int iso_setup_default_domain(struct iommu_group *group, int target)
{
	struct iommu_domain *old = group->default_domain;
	struct iommu_domain *domain;
	struct group_device *gdev;
	bool direct_failed = false;
	int type, ret = 0, err;

	lockdep_assert_held(&group->mutex);

	type = iso_default_domain_type(group, target);
	if (type < 0)
		return -EINVAL;

	domain = iso_alloc_default_domain(group, type);
	if (IS_ERR(domain))
		return PTR_ERR(domain);
	if (domain == old)
		return 0;

	/* Direct regions are mapped before any device is attached */
	for_each_group_device(group, gdev)
		if (iso_map_direct_regions(domain, gdev->dev))
			direct_failed = true;

	WRITE_ONCE(group->default_domain, domain);
	if (!group->domain) {
		/* A new group: the caller releases devices the driver refused */
		ret = iso_group_set_domain(group, domain, true);
	} else if (group->domain == old) {
		ret = iso_group_set_domain(group, domain, false);
		if (ret)
			goto err_restore;
	}

	/* Some drivers map only after attach: try once more */
	for_each_group_device(group, gdev) {
		if (!direct_failed)
			break;
		err = iso_map_direct_regions(domain, gdev->dev);
		if (!err)
			continue;
		dev_warn(gdev->dev, "cannot map firmware's direct regions: %d\n",
			 err);
		if (!old)
			return ret ?: err;
		if (group->domain == domain)
			iso_group_set_domain(group, old, true);
		ret = err;
		goto err_restore;
	}
	if (old)
		iommu_domain_free(old);
	iso_group_check(group);
	return ret;

err_restore:
	WRITE_ONCE(group->default_domain, old);
	iommu_domain_free(domain);
	return ret;
}

/*
 * The sysfs type switch (type 0: automatic). DMA -> DMA-FQ is done in
 * place at any time; every other change needs a group that has devices
 * but no holder, and leaves the group as it was when it fails.
 */
int iso_group_change_default_type(struct iommu_group *group, int type)
{
	int ret;

	mutex_lock(&group->mutex);
	if (!group->default_domain) {
		ret = -EINVAL;
	} else if (type == IOMMU_DOMAIN_DMA_FQ &&
		   group->default_domain->type == IOMMU_DOMAIN_DMA) {
		ret = iommu_dma_init_fq(group->default_domain);
		if (!ret)
			group->default_domain->type = IOMMU_DOMAIN_DMA_FQ;
	} else if (list_empty(&group->devices) || group->owner_cnt) {
		ret = -EPERM;
	} else {
		ret = iso_setup_default_domain(group, type);
		/* Only now is the new domain certain to stay */
		if (!ret)
			iso_group_setup_dma_ops(group);
	}
	mutex_unlock(&group->mutex);
	return ret;
}

/**
 * iommu_group_default_domain() - the default domain of a group
 * @group: the group
 *
 * Return: the default domain, or NULL before it is set up.
 */
struct iommu_domain *iommu_group_default_domain(struct iommu_group *group)
{
	return group->default_domain;
}

static int iso_check_domain_fits(struct iommu_domain *domain,
				 struct iommu_group *group)
{
	struct device *dev;

	if (list_empty(&group->devices))
		return -ENODEV;
	dev = iso_group_first_dev(group);
	if (!dev_has_iommu(dev) || dev_iommu_ops(dev) != domain->owner)
		return -EINVAL;
	/* Not before the group is set up (a bus probe still running) */
	if (!group->domain)
		return -EBUSY;
	return 0;
}

/* Detach: the group always ends in the core's domain */
static int iso_group_detach(struct iommu_group *group,
			    struct iommu_domain *domain, unsigned int flags)
{
	int ret = 0;

	if (flags & ISO_HANDLE)
		xa_erase(&group->pasid_array, IOMMU_NO_PASID);
	if (!group->domain)
		return -EINVAL;
	if (!domain || group->domain != domain ||
	    domain == group->default_domain ||
	    domain == group->blocking_domain) {
		/* A second detach (tegra-drm's shared groups) is harmless */
		if (iso_group_state(group) == ISO_GROUP_ATTACHED)
			pr_warn("group %d: detach of a domain that is not attached\n",
				group->id);
		ret = -EINVAL;
	}
	iso_group_set_core_domain(group);
	return ret;
}

/**
 * __iso_group_move() - move a group to a domain, or back to the core's
 * @group: the group, its mutex held
 * @domain: the new domain; with %ISO_DETACH the domain attached now
 * @handle: with %ISO_HANDLE, the attach handle to record for
 *	IOMMU_NO_PASID (NULL records none)
 * @flags: %ISO_FROM_CORE: only from the core's domain (attach, not
 *	replace); %ISO_TAKE_DMA_API: domain_attach_group()'s rule, no
 *	DMA-API driver bound and none may bind until detach;
 *	%ISO_HANDLE: record or forget @handle; %ISO_DETACH: back to the
 *	default domain, or the blocking one while a user holds the group
 *
 * The one operation behind every attach, replace and detach entry point.
 * A move is all or nothing. A detach cannot fail: whatever it returns, no
 * device uses @domain afterwards, since a device the driver will not take
 * back is put into the blocking domain, which every move away from the
 * core's domain allocates first (a warning if the driver refuses even
 * that, or, for a device firmware forbids blocking, the default domain).
 *
 * Return: 0; -EBUSY if the group is not in a state to move (attached
 * already, not set up yet, a DMA-API driver bound, a handle recorded);
 * -EINVAL for a domain of another IOMMU, or a detach of a domain that
 * was not attached; -ENODEV for an empty group; -ENOMEM or the driver's
 * error.
 */
int __iso_group_move(struct iommu_group *group, struct iommu_domain *domain,
		     struct iommu_attach_handle *handle, unsigned int flags)
{
	bool reserved = false;
	void *old;
	int ret;

	lockdep_assert_held(&group->mutex);

	if (flags & ISO_DETACH)
		return iso_group_detach(group, domain, flags);

	ret = iso_check_domain_fits(domain, group);
	if (ret)
		return ret;
	if ((flags & ISO_FROM_CORE) &&
	    iso_group_state(group) == ISO_GROUP_ATTACHED)
		return -EBUSY;
	if ((flags & ISO_TAKE_DMA_API) && group->owner_cnt && !group->owner)
		return -EBUSY;
	/* So that leaving @domain again can never fail (detach) */
	ret = iso_alloc_blocking_domain(group);
	if (ret)
		return ret;
	if (flags & ISO_HANDLE) {
		if ((flags & ISO_FROM_CORE) &&
		    xa_load(&group->pasid_array, IOMMU_NO_PASID))
			return -EBUSY;
		/* So that recording the handle below cannot fail */
		if (!xa_load(&group->pasid_array, IOMMU_NO_PASID)) {
			ret = xa_reserve(&group->pasid_array, IOMMU_NO_PASID,
					 GFP_KERNEL);
			if (ret)
				return ret;
			reserved = true;
		}
	}

	ret = iso_group_set_domain(group, domain, false);
	if (ret) {
		if (reserved)
			xa_release(&group->pasid_array, IOMMU_NO_PASID);
		return ret;
	}
	if (flags & ISO_TAKE_DMA_API)
		WRITE_ONCE(group->dma_api_off, true);
	/* A replace onto the core's own domain ends the attachment */
	if (domain == group->default_domain || domain == group->blocking_domain)
		WRITE_ONCE(group->dma_api_off, false);
	if (flags & ISO_HANDLE) {
		if (handle)
			handle->domain = domain;
		old = xa_store(&group->pasid_array, IOMMU_NO_PASID, handle,
			       GFP_KERNEL);
		WARN_ON_ONCE(xa_is_err(old));
	}
	return 0;
}

/* __iso_group_move() under the group's mutex */
int iso_group_move(struct iommu_group *group, struct iommu_domain *domain,
		   struct iommu_attach_handle *handle, unsigned int flags)
{
	int ret;

	if (!group || (!domain && !(flags & ISO_DETACH)))
		return -EINVAL;
	mutex_lock(&group->mutex);
	ret = __iso_group_move(group, domain, handle, flags);
	mutex_unlock(&group->mutex);
	return ret;
}

/**
 * domain_attach_group() - attach a domain to every device of a group
 * @domain: the domain, allocated for the group's IOMMU
 * @group: the group
 *
 * Takes the group away from the DMA API: it works only while every device
 * is in the core's domain (the default domain, or the blocking domain that
 * stands in for it while a user such as VFIO holds the group) and no
 * DMA-API driver is bound to a device of the group; until
 * domain_detach_group(), no DMA-API driver can bind and dma_supported()
 * is false for the group's devices. All or nothing: if the IOMMU driver
 * refuses a device, every device returns to the domain it was in.
 *
 * A driver that attaches its own domain to its own device and keeps
 * using the DMA API calls iommu_attach_device() instead.
 *
 * Context: process; takes the group's mutex.
 * Return: 0; -EBUSY if another domain is attached, a DMA-API driver is
 * bound, or the group is not set up yet; -EINVAL if @domain belongs to
 * another IOMMU; -ENODEV for an empty group; or the driver's error.
 */
int domain_attach_group(struct iommu_domain *domain, struct iommu_group *group)
{
	return iso_group_move(group, domain, NULL,
			      ISO_FROM_CORE | ISO_TAKE_DMA_API);
}
EXPORT_SYMBOL_GPL(domain_attach_group);

/**
 * domain_detach_group() - return every device of a group to the core's
 *	domain
 * @domain: the domain attached with domain_attach_group()
 * @group: the group
 *
 * The devices go back to the default domain, or, while a user holds the
 * group, to the blocking domain: the user still holds it. Detach cannot
 * fail: the caller may free @domain on return, whatever the return value
 * (see __iso_group_move()).
 *
 * Context: process; takes the group's mutex.
 * Return: 0, or -EINVAL (and a warning) if @domain was not the attached
 * domain; the group is in the core's domain either way.
 */
int domain_detach_group(struct iommu_domain *domain, struct iommu_group *group)
{
	return iso_group_move(group, domain, NULL, ISO_DETACH);
}
EXPORT_SYMBOL_GPL(domain_detach_group);

/**
 * iommu_attach_group() - attach a domain to a group
 * @domain: the domain
 * @group: the group
 *
 * The legacy rule: from the core's domain, whether or not DMA-API drivers
 * are bound (a driver may attach its own domain and keep the DMA API).
 *
 * Return: 0, -EBUSY if another domain is attached or the group is not set
 * up yet, or an errno as domain_attach_group().
 */
int iommu_attach_group(struct iommu_domain *domain, struct iommu_group *group)
{
	return iso_group_move(group, domain, NULL, ISO_FROM_CORE);
}
EXPORT_SYMBOL_GPL(iommu_attach_group);

/**
 * iommu_detach_group() - detach a domain from a group
 * @domain: the attached domain
 * @group: the group
 *
 * The group returns to the core's domain: the blocked one while a user
 * holds the group, else the default one.
 */
void iommu_detach_group(struct iommu_domain *domain, struct iommu_group *group)
{
	iso_group_move(group, domain, NULL, ISO_DETACH);
}
EXPORT_SYMBOL_GPL(iommu_detach_group);

/**
 * iommu_group_replace_domain() - move a group to another domain directly
 * @group: the group
 * @new_domain: the domain
 *
 * For iommufd: no blocked step between the old and the new domain.
 *
 * Return: 0 or an errno; on failure the group stays where it was.
 */
int iommu_group_replace_domain(struct iommu_group *group,
			       struct iommu_domain *new_domain)
{
	return iso_group_move(group, new_domain, NULL, 0);
}
EXPORT_SYMBOL_NS_GPL(iommu_group_replace_domain, IOMMUFD_INTERNAL);

/**
 * iommu_attach_device() - attach a domain to a device alone in its group
 * @domain: the domain
 * @dev: the device; its driver, which keeps the DMA API (legacy rule)
 *
 * Return: 0; -EINVAL if @dev shares its group; -ENODEV without a group;
 * or an errno as iommu_attach_group().
 */
int iommu_attach_device(struct iommu_domain *domain, struct device *dev)
{
	struct iommu_group *group = dev->iommu_group;
	int ret = -EINVAL;

	if (!group)
		return -ENODEV;

	mutex_lock(&group->mutex);
	if (list_is_singular(&group->devices))
		ret = __iso_group_move(group, domain, NULL, ISO_FROM_CORE);
	mutex_unlock(&group->mutex);
	return ret;
}
EXPORT_SYMBOL_GPL(iommu_attach_device);

/**
 * iommu_detach_device() - detach a domain from a device alone in its group
 * @domain: the domain attached with iommu_attach_device()
 * @dev: the device
 */
void iommu_detach_device(struct iommu_domain *domain, struct device *dev)
{
	struct iommu_group *group = dev->iommu_group;

	if (!group)
		return;

	/* Even if the group gained a member since: the caller frees @domain */
	mutex_lock(&group->mutex);
	if (!list_is_singular(&group->devices))
		dev_warn(dev, "detaching a shared iommu group %d\n", group->id);
	__iso_group_move(group, domain, NULL, ISO_DETACH);
	mutex_unlock(&group->mutex);
}
EXPORT_SYMBOL_GPL(iommu_detach_device);

/**
 * iommu_get_domain_for_dev() - the domain a device is in now
 * @dev: the device (its driver is bound, so the group cannot go away)
 *
 * Return: the domain, or NULL for a device in no group.
 */
struct iommu_domain *iommu_get_domain_for_dev(struct device *dev)
{
	struct iommu_group *group = dev->iommu_group;

	return group ? group->domain : NULL;
}
EXPORT_SYMBOL_GPL(iommu_get_domain_for_dev);

/* For dma-iommu: the device's group is set up and its driver bound */
struct iommu_domain *iommu_get_dma_domain(struct device *dev)
{
	return dev->iommu_group->default_domain;
}

/*
 * kdump: dma-iommu calls this on every DMA map of a device whose attach
 * may be deferred, in any context (transmit paths, interrupt handlers),
 * so the core takes no sleeping lock here: the deferral ends under the
 * group's deferred_lock, which every domain change also takes to end it,
 * so exactly one caller attaches. The caller is the device's DMA-API
 * driver, which owner.c counts: while it is bound, claims,
 * domain_attach_group() and type switches of the group are refused. Left
 * to the driver: its own legacy attach racing with its own first map, a
 * second first map on another CPU that does not wait for the winner's
 * attach (the base kernel attached twice instead), and an IOMMU driver
 * whose attach_dev() sleeps (VT-d allocates there).
 */
int iommu_deferred_attach(struct device *dev, struct iommu_domain *domain)
{
	struct iommu_group *group = dev->iommu_group;
	int ret;

	if (!dev->iommu || !dev->iommu->attach_deferred || !group ||
	    !iso_end_deferral(group, dev, false))
		return 0;
	ret = iso_device_attach(domain, dev);
	/* The next map tries again, as before */
	if (ret)
		iso_end_deferral(group, dev, true);
	return ret;
}

/**
 * iommu_dev_dma_api_usable() - whether a device may use the DMA API
 * @dev: the device
 *
 * Return: false while the device's group has no default domain yet, is
 * held by a user (VFIO, iommufd) or is attached with domain_attach_group();
 * true otherwise, including for a driver that attached its own domain with
 * iommu_attach_device(). A lockless snapshot: callers are drivers asking
 * dma_supported(), which the ownership rules of owner.c serialise.
 */
bool iommu_dev_dma_api_usable(struct device *dev)
{
	struct iommu_group *group = READ_ONCE(dev->iommu_group);

	if (!group || !dev_has_iommu(dev))
		return true;
	/* Paired with the WRITE_ONCE()s of the writers */
	return READ_ONCE(group->default_domain) && !READ_ONCE(group->owner) &&
	       !READ_ONCE(group->dma_api_off);
}
EXPORT_SYMBOL_GPL(iommu_dev_dma_api_usable);
