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
	if (ret)
		return ret;
	dev->iommu->attach_deferred = 0;
	trace_attach_device_to_domain(dev);
	return 0;
}

/* Move one device of @group to @domain */
static int iso_device_set_domain(struct iommu_group *group, struct device *dev,
				 struct iommu_domain *domain,
				 bool must_succeed)
{
	int ret;

	lockdep_assert_held(&group->mutex);

	/* Firmware needs its 1:1 map for this device: never block it */
	if (dev->iommu->require_direct &&
	    (domain->type == IOMMU_DOMAIN_BLOCKED ||
	     domain == group->blocking_domain)) {
		dev_warn(dev, "firmware requires a 1:1 IOMMU mapping for this device; refusing to block its DMA\n");
		return -EINVAL;
	}

	/* kdump: keep the old kernel's translation until the first DMA map */
	if (dev->iommu->attach_deferred) {
		if (domain == group->default_domain)
			return 0;
		dev->iommu->attach_deferred = 0;
	}

	ret = iso_device_attach(domain, dev);
	if (ret && must_succeed && group->blocking_domain &&
	    group->blocking_domain != domain)
		/* Do not leave the device on a domain about to be freed */
		iso_device_attach(group->blocking_domain, dev);
	return ret;
}

/*
 * Move every device of @group to @domain. On failure the devices already
 * moved return to the group's current domain and the error is returned;
 * with @must_succeed the remaining devices are still moved and the group
 * ends in @domain (used where the old domain is about to go away).
 */
int iso_group_set_domain(struct iommu_group *group,
			 struct iommu_domain *domain, bool must_succeed)
{
	struct iommu_domain *old = group->domain;
	struct group_device *gdev, *failed;
	int ret, first_err = 0;

	lockdep_assert_held(&group->mutex);

	if (WARN_ON_ONCE(!domain))
		return -EINVAL;
	if (group->domain == domain)
		return 0;

	for_each_group_device(group, gdev) {
		ret = iso_device_set_domain(group, gdev->dev, domain,
					    must_succeed);
		if (!ret)
			continue;
		if (!must_succeed)
			goto rollback;
		first_err = first_err ?: ret;
	}
	group->domain = domain;
	iso_group_check(group);
	/*
	 * A device that joined while the group was elsewhere was set up
	 * for that domain's DMA ops; back home, all get the default's.
	 */
	if (old && domain == group->default_domain)
		for_each_group_device(group, gdev)
			iommu_setup_dma_ops(gdev->dev);
	return first_err;

rollback:
	failed = gdev;
	for_each_group_device(group, gdev) {
		if (gdev == failed)
			break;
		/* A driver must take back a domain the device was just in */
		if (old)
			WARN_ON(iso_device_set_domain(group, gdev->dev, old,
						      true));
	}
	return ret;
}

/* A device joining @group enters the group's current domain */
int iso_device_enter_domain(struct iommu_group *group, struct device *dev)
{
	lockdep_assert_held(&group->mutex);

	if (group->default_domain)
		iso_map_direct_regions(group->default_domain, dev);
	if (!group->domain)
		return 0;
	return iso_device_set_domain(group, dev, group->domain, false);
}

/* Back to the domain the core owns: blocked while a user holds the group */
void iso_group_set_core_domain(struct iommu_group *group)
{
	struct iommu_domain *domain;

	domain = group->owner ? group->blocking_domain : group->default_domain;
	WARN_ON(iso_group_set_domain(group, domain, true));
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
 * old default domain is freed on success; on failure the group is left
 * as it was.
 */
int iso_setup_default_domain(struct iommu_group *group, int target)
{
	struct iommu_domain *old = group->default_domain;
	struct iommu_domain *domain;
	struct group_device *gdev;
	bool direct_failed = false;
	int type, ret;

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

	group->default_domain = domain;
	if (!group->domain) {
		/* First attach: a failure leaves devices the driver rejected */
		ret = iso_group_set_domain(group, domain, true);
		if (WARN_ON(ret))
			goto out_free_old;
	} else if (group->domain == old) {
		ret = iso_group_set_domain(group, domain, false);
		if (ret)
			goto err_restore;
	}

	/* Some drivers map only after attach: try once more */
	if (direct_failed) {
		for_each_group_device(group, gdev) {
			ret = iso_map_direct_regions(domain, gdev->dev);
			if (ret) {
				dev_warn(gdev->dev, "cannot map firmware's direct regions: %d\n",
					 ret);
				if (old)
					iso_group_set_domain(group, old, true);
				goto err_restore;
			}
		}
	}
	ret = 0;

out_free_old:
	if (old)
		iommu_domain_free(old);
	iso_group_check(group);
	return ret;

err_restore:
	if (old) {
		group->default_domain = old;
		iommu_domain_free(domain);
	}
	return ret;
}

/*
 * The sysfs type switch (type 0: automatic). DMA -> DMA-FQ is done in
 * place at any time; every other change needs a group that has devices
 * but no holder, and leaves the group as it was when it fails.
 */
int iso_group_change_default_type(struct iommu_group *group, int type)
{
	struct group_device *gdev;
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
		if (!ret)
			for_each_group_device(group, gdev)
				iommu_setup_dma_ops(gdev->dev);
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

int iso_check_domain_fits(struct iommu_domain *domain,
			  struct iommu_group *group)
{
	struct device *dev;

	lockdep_assert_held(&group->mutex);

	if (list_empty(&group->devices))
		return -ENODEV;
	dev = iso_group_first_dev(group);
	if (!dev_has_iommu(dev) || dev_iommu_ops(dev) != domain->owner)
		return -EINVAL;
	return 0;
}

/**
 * domain_attach_group() - attach a domain to every device of a group
 * @domain: the domain, allocated for the group's IOMMU
 * @group: the group
 *
 * Only a group whose devices are all in the core's domain can be attached:
 * the default domain, or, while a user holds the group
 * (iommu_group_claim_dma_owner()), the blocking domain that stands in for
 * it so that nothing the DMA API mapped stays reachable. While it is
 * attached the group's devices cannot use the DMA API. All or nothing: if
 * the IOMMU driver refuses a device, every device returns to the domain it
 * was in.
 *
 * Context: process; takes the group's mutex.
 * Return: 0; -EBUSY if another domain is attached or the group has no
 * default domain yet; -EINVAL if @domain belongs to another IOMMU; -ENODEV
 * for an empty group; or the driver's error.
 */
int domain_attach_group(struct iommu_domain *domain, struct iommu_group *group)
{
	int ret;

	if (!domain || !group)
		return -EINVAL;

	mutex_lock(&group->mutex);
	ret = iso_attach_group_locked(domain, group, true);
	mutex_unlock(&group->mutex);
	return ret;
}
EXPORT_SYMBOL_GPL(domain_attach_group);

int iso_detach_group_locked(struct iommu_domain *domain,
			    struct iommu_group *group)
{
	lockdep_assert_held(&group->mutex);

	if (!domain || group->domain != domain ||
	    domain == group->default_domain ||
	    domain == group->blocking_domain)
		return -EINVAL;
	iso_group_set_core_domain(group);
	return 0;
}

/**
 * domain_detach_group() - return every device of a group to the core's
 *	domain
 * @domain: the domain attached with domain_attach_group()
 * @group: the group
 *
 * The devices go back to the default domain, or, while a user holds the
 * group, to the blocking domain: the user still holds it.
 *
 * Context: process; takes the group's mutex.
 * Return: 0, or -EINVAL if @group is not attached to @domain (nothing is
 * changed then).
 */
int domain_detach_group(struct iommu_domain *domain, struct iommu_group *group)
{
	int ret;

	if (!domain || !group)
		return -EINVAL;

	mutex_lock(&group->mutex);
	ret = iso_detach_group_locked(domain, group);
	mutex_unlock(&group->mutex);
	return ret;
}
EXPORT_SYMBOL_GPL(domain_detach_group);

/*
 * A group takes a new domain only from the core's domain (default, or
 * blocked while held). @strict is domain_attach_group()'s rule; the legacy
 * API also attaches a group that has no default domain yet, as it always
 * did.
 */
int iso_attach_group_locked(struct iommu_domain *domain,
			    struct iommu_group *group, bool strict)
{
	int ret;

	lockdep_assert_held(&group->mutex);

	ret = iso_check_domain_fits(domain, group);
	if (ret)
		return ret;
	switch (iso_group_state(group)) {
	case ISO_GROUP_DEFAULT:
	case ISO_GROUP_BLOCKED:
		break;
	case ISO_GROUP_UNSET:
		if (!strict)
			break;
		fallthrough;
	default:
		return -EBUSY;
	}
	return iso_group_set_domain(group, domain, false);
}

/**
 * iommu_attach_group() - attach a domain to a group
 * @domain: the domain
 * @group: the group
 *
 * As domain_attach_group(), but also for a group that has no default
 * domain yet (the rule of the legacy API).
 *
 * Return: 0, -EBUSY if another domain is attached, or an errno.
 */
int iommu_attach_group(struct iommu_domain *domain, struct iommu_group *group)
{
	int ret;

	mutex_lock(&group->mutex);
	ret = iso_attach_group_locked(domain, group, false);
	mutex_unlock(&group->mutex);
	return ret;
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
	mutex_lock(&group->mutex);
	iso_group_set_core_domain(group);
	mutex_unlock(&group->mutex);
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
	int ret;

	if (!new_domain)
		return -EINVAL;

	mutex_lock(&group->mutex);
	ret = iso_group_set_domain(group, new_domain, false);
	mutex_unlock(&group->mutex);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(iommu_group_replace_domain, IOMMUFD_INTERNAL);

/**
 * iommu_attach_device() - attach a domain to a device alone in its group
 * @domain: the domain
 * @dev: the device
 *
 * Return: 0; -EINVAL if @dev shares its group; -ENODEV without a group.
 */
int iommu_attach_device(struct iommu_domain *domain, struct device *dev)
{
	struct iommu_group *group = dev->iommu_group;
	int ret;

	if (!group)
		return -ENODEV;

	mutex_lock(&group->mutex);
	ret = -EINVAL;
	if (list_is_singular(&group->devices))
		ret = iso_attach_group_locked(domain, group, false);
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

	mutex_lock(&group->mutex);
	if (!WARN_ON(domain != group->domain ||
		     !list_is_singular(&group->devices)))
		iso_group_set_core_domain(group);
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
 * kdump: the first DMA mapping of a device whose attach was deferred does
 * the attach. Under the group mutex, like every other attach, so it cannot
 * race a domain change of the group; checked again under the lock, since
 * only the first caller attaches. The flag is clear on every later call,
 * so the DMA fast path never takes the mutex.
 */
int iommu_deferred_attach(struct device *dev, struct iommu_domain *domain)
{
	struct iommu_group *group = dev->iommu_group;
	int ret = 0;

	/* A bit field: a racy read is fine, the lock settles it */
	if (!dev->iommu || !dev->iommu->attach_deferred)
		return 0;

	mutex_lock(&group->mutex);
	if (dev->iommu->attach_deferred)
		ret = iso_device_attach(domain, dev);
	mutex_unlock(&group->mutex);
	return ret;
}

/**
 * iommu_dev_dma_api_usable() - whether a device may use the DMA API
 * @dev: the device
 *
 * Return: false while the device's group is out of its default domain
 * (held by a user or attached to another domain), true otherwise. A
 * lockless snapshot: callers are drivers asking dma_supported() during
 * probe, which the ownership rules of owner.c already serialise.
 */
bool iommu_dev_dma_api_usable(struct device *dev)
{
	struct iommu_group *group = READ_ONCE(dev->iommu_group);

	if (!group || !dev_has_iommu(dev))
		return true;
	return !READ_ONCE(group->owner) &&
	       READ_ONCE(group->domain) == READ_ONCE(group->default_domain);
}
EXPORT_SYMBOL_GPL(iommu_dev_dma_api_usable);
