// SPDX-License-Identifier: GPL-2.0-only
/*
 * Isolation-group core: devices entering and leaving groups.
 *
 * Membership changes only under iommu_probe_device_lock (core.h): the
 * IOMMU driver's device_group callback looks up groups of other devices,
 * and that lookup and the join must not race with another probe or a
 * release. The lock is held across a whole bus probe, including
 * probe_finalize, so the device lists walked there cannot change.
 *
 * A device joining a group that is set up enters the group's current
 * domain, whatever it is (default, blocked, or attached by a user); if
 * the driver refuses and the group is not in its default domain, it
 * stays a member outside the domain (domain.c). A group created by a bus
 * probe gets its default domain once all devices of the bus have joined,
 * so the domain type can take every member into account; if that fails,
 * its devices leave it rather than wait for a domain that never comes.
 * A bus probe leaves devices with a bound driver alone: their DMA ops
 * must not change under the driver; they join when a driver next binds
 * (iso_leave_alone()).
 *
 * Firmware (a device tree iommu-map, ACPI IORT or VIOT) says which IOMMU
 * translates a PCI device. The legacy layer read it only when a driver
 * bound, so devices without a driver had no group and a group could gain
 * members long after it was handed to a user. The core reads it when the
 * device appears, so every device is in its group from the start.
 */
#define pr_fmt(fmt) "iommu: " fmt

#include <linux/acpi.h>
#include <linux/acpi_iort.h>
#include <linux/acpi_viot.h>
#include <linux/device.h>
#include <linux/iommu.h>
#include <linux/module.h>
#include <linux/of_iommu.h>
#include <linux/pci.h>
#include <linux/slab.h>

#include "core.h"
#include "../dma-iommu.h"
#include "../iommu-priv.h"

/*
 * Let the IOMMU driver take @dev and name its group. On success the
 * caller owns one reference on the returned group.
 */
static struct iommu_group *iso_driver_probe(struct device *dev,
					    const struct iommu_ops *ops)
{
	struct iommu_device *iommu;
	struct iommu_group *group;
	int ret;

	if (!dev_iommu_get(dev))
		return ERR_PTR(-ENOMEM);
	if (!try_module_get(ops->owner)) {
		ret = -EINVAL;
		goto err_free;
	}

	iommu = ops->probe_device(dev);
	if (IS_ERR(iommu)) {
		ret = PTR_ERR(iommu);
		goto err_module;
	}
	dev->iommu->iommu_dev = iommu;

	ret = iommu_device_link(iommu, dev);
	if (ret)
		goto err_release;

	group = ops->device_group(dev);
	if (WARN_ON_ONCE(!group))
		group = ERR_PTR(-EINVAL);
	if (IS_ERR(group)) {
		ret = PTR_ERR(group);
		goto err_unlink;
	}

	dev->iommu->max_pasids = dev_iommu_get_max_pasids(dev);
	if (ops->is_attach_deferred)
		dev->iommu->attach_deferred = ops->is_attach_deferred(dev);
	return group;

err_unlink:
	iommu_device_unlink(iommu, dev);
err_release:
	if (ops->release_device)
		ops->release_device(dev);
err_module:
	module_put(ops->owner);
err_free:
	dev->iommu->iommu_dev = NULL;
	dev_iommu_free(dev);
	return ERR_PTR(ret);
}

/* Domains of a group that lost its last device, freed by the caller */
struct iso_dead_domains {
	struct iommu_domain *default_domain;
	struct iommu_domain *blocking_domain;
};

/* @group has no member left: take its domains, to free without its mutex */
static void iso_group_bury(struct iommu_group *group,
			   struct iso_dead_domains *dead)
{
	lockdep_assert_held(&group->mutex);
	WARN_ON_ONCE(group->owner_cnt);
	dead->default_domain = group->default_domain;
	dead->blocking_domain = group->blocking_domain;
	WRITE_ONCE(group->default_domain, NULL);
	group->blocking_domain = NULL;
	WRITE_ONCE(group->domain, NULL);
	/* A driver may hand the same group to new devices */
	WRITE_ONCE(group->dma_api_off, false);
}

static void iso_free_dead(struct iso_dead_domains *dead)
{
	if (dead->default_domain)
		iommu_domain_free(dead->default_domain);
	if (dead->blocking_domain)
		iommu_domain_free(dead->blocking_domain);
}

/*
 * Take @dev out of @group and hand it back to its IOMMU driver. The
 * driver's release_device() runs under the group mutex, as attach does;
 * the memory of the device's IOMMU state and of an emptied group's
 * domains is freed after the mutex is dropped.
 */
static void __iso_device_leave(struct iommu_group *group, struct device *dev,
			       struct iommu_fwspec **keep_fwspec)
{
	const struct iommu_ops *ops = dev_iommu_ops(dev);
	struct iso_dead_domains dead = {};
	struct group_device *gdev;
	bool member;

	lockdep_assert_held(&iommu_probe_device_lock);

	mutex_lock(&group->mutex);
	gdev = iso_group_find(group, dev);
	member = gdev;
	if (member)
		iso_group_unlink_device(group, gdev);
	/* iso_group_unlink_device() cleared it; the driver still needs it */
	if (member)
		dev->iommu_group = group;

	iommu_device_unlink(dev->iommu->iommu_dev, dev);
	/* The driver's release domain stops DMA before the driver lets go */
	if (!dev->iommu->attach_deferred && ops->release_domain)
		ops->release_domain->ops->attach_dev(ops->release_domain, dev);
	if (ops->release_device)
		ops->release_device(dev);
	dev->iommu_group = NULL;

	if (list_empty(&group->devices))
		iso_group_bury(group, &dead);
	mutex_unlock(&group->mutex);

	iso_free_dead(&dead);
	module_put(ops->owner);
	/* Firmware's description, for a device probed again right away */
	if (keep_fwspec) {
		*keep_fwspec = dev_iommu_fwspec_get(dev);
		dev_iommu_fwspec_set(dev, NULL);
	}
	dev_iommu_free(dev);
#ifdef CONFIG_IOMMU_DMA
	dev->dma_iommu = false;
#endif
	if (member)
		iommu_group_put(group);
}

static void iso_device_leave(struct iommu_group *group, struct device *dev)
{
	__iso_device_leave(group, dev, NULL);
}

static int iso_probe_device(struct device *dev, struct list_head *new_groups);
static void iso_probe_finalize(struct device *dev);

/*
 * Groups that a device being probed reaches besides the one it joins (a
 * PCIe switch port without ACS scanned after its siblings got groups).
 * Once the device has joined, the members of each such group that nobody
 * uses are probed again, outside the IOMMU driver's device_group
 * callback, so that they join the device's group too. Only the groups
 * the device itself reached are taken (not those its re-probed peers
 * reach), each once, and each member once: the work is bounded. A bus
 * probe takes none: it sees every device of the bus at once. All under
 * iommu_probe_device_lock.
 */
static LIST_HEAD(iso_regroup_list);
static bool iso_regroup_off;
/* While members of one group move: where to, and from which group */
static struct iommu_group *iso_regroup_into, *iso_regroup_from;

/**
 * iso_regroup_target() - the group members being probed again should join
 *
 * Return: the group, or NULL when no regroup is running. Under
 * iommu_probe_device_lock.
 */
struct iommu_group *iso_regroup_target(void)
{
	lockdep_assert_held(&iommu_probe_device_lock);
	return iso_regroup_into;
}

/**
 * iso_note_reached_group() - a group the device being probed also reaches
 * @group: the group, with a reference that the core takes over
 *
 * Called by pci_device_group() under iommu_probe_device_lock.
 */
void iso_note_reached_group(struct iommu_group *group)
{
	lockdep_assert_held(&iommu_probe_device_lock);
	if (iso_regroup_off || !list_empty(&group->regroup_node)) {
		/* The group being emptied is reached by its own members */
		if (group != iso_regroup_from && list_empty(&group->regroup_node))
			pr_warn("iommu group %d is not isolated from a device that cannot join it\n",
				group->id);
		iommu_group_put(group);
		return;
	}
	list_add_tail(&group->regroup_node, &iso_regroup_list);
}

/*
 * Whether a driver, a user or a domain other than the default one relies
 * on @group's isolation, or it is not set up: its members must not move.
 * Lockless: the members cannot change under iommu_probe_device_lock, the
 * rest is a hint that the move checks again under the group mutex.
 */
bool iso_group_in_use(struct iommu_group *group)
{
	struct group_device *gdev;

	lockdep_assert_held(&iommu_probe_device_lock);
	if (!READ_ONCE(group->default_domain) ||
	    READ_ONCE(group->domain) != READ_ONCE(group->default_domain) ||
	    READ_ONCE(group->owner_cnt) || READ_ONCE(group->owner) ||
	    READ_ONCE(group->dma_api_off) || READ_ONCE(group->outside_cnt) ||
	    !xa_empty(&group->pasid_array))
		return true;
	for_each_group_device(group, gdev)
		if (READ_ONCE(gdev->dev->driver))
			return true;
	return false;
}

/* Drop the device locks taken by iso_regroup_lock() */
static void iso_regroup_unlock(struct device **devs, unsigned int nr)
{
	while (nr)
		device_unlock(devs[--nr]);
}

/*
 * The members of @from, each device-locked so no driver binds while they
 * move: all of them or none (a group is never split). Only a trylock is
 * possible (the bind path takes device_lock before iommu_probe_device_lock).
 */
static struct device **iso_regroup_lock(struct iommu_group *from,
					unsigned int *nr)
{
	struct group_device *gdev;
	struct device **devs;
	unsigned int n = 0;

	for_each_group_device(from, gdev)
		n++;
	devs = kcalloc(n, sizeof(*devs), GFP_KERNEL);
	if (!devs)
		return NULL;
	*nr = 0;
	for_each_group_device(from, gdev) {
		if (!device_trylock(gdev->dev))
			goto busy;
		devs[(*nr)++] = gdev->dev;
	}
	mutex_lock(&from->mutex);
	if (iso_group_in_use(from)) {
		mutex_unlock(&from->mutex);
		goto busy;
	}
	mutex_unlock(&from->mutex);
	return devs;
busy:
	iso_regroup_unlock(devs, *nr);
	kfree(devs);
	return NULL;
}

/*
 * Probe the members of @from again so their IOMMU driver names their group
 * anew: they join @into if they reach it, as the device that reached both
 * did. A member that lands elsewhere ends the move.
 */
static void iso_regroup_members(struct iommu_group *from,
				struct iommu_group *into, struct device *dev)
{
	struct iommu_fwspec *fwspec;
	struct device **devs;
	unsigned int nr, i;

	devs = iso_regroup_lock(from, &nr);
	if (devs) {
		iso_regroup_into = into;
		iso_regroup_from = from;
	} else {
		dev_warn(dev, "reaches iommu groups %d and %d, which are in use: they cannot be merged\n",
			 into->id, from->id);
		return;
	}
	for (i = 0; i < nr; i++) {
		__iso_device_leave(from, devs[i], &fwspec);
		if (fwspec && !dev_iommu_get(devs[i])) {
			fwnode_handle_put(fwspec->iommu_fwnode);
			kfree(fwspec);
			fwspec = NULL;
		}
		if (fwspec)
			dev_iommu_fwspec_set(devs[i], fwspec);
		if (!iso_probe_device(devs[i], NULL))
			iso_probe_finalize(devs[i]);
		if (devs[i]->iommu_group != into) {
			dev_warn(devs[i], "did not join iommu group %d with its peers\n",
				 into->id);
			break;
		}
	}
	iso_regroup_into = NULL;
	iso_regroup_from = NULL;
	iso_regroup_unlock(devs, nr);
	kfree(devs);
}

/* After @dev joined @into: take in the members of the groups it reached */
static void iso_regroup(struct device *dev, struct iommu_group *into)
{
	struct iommu_group *from;

	lockdep_assert_held(&iommu_probe_device_lock);
	iso_regroup_off = true;
	while ((from = list_first_entry_or_null(&iso_regroup_list,
						struct iommu_group,
						regroup_node))) {
		list_del_init(&from->regroup_node);
		if (into && from != into)
			iso_regroup_members(from, into, dev);
		iommu_group_put(from);
	}
	iso_regroup_off = false;
}

static int iso_probe_device(struct device *dev, struct list_head *new_groups)
{
	const struct iommu_ops *ops;
	struct iommu_group *group;
	struct group_device *gdev;
	int ret = 0;

	lockdep_assert_held(&iommu_probe_device_lock);

	ops = iommu_fwspec_ops(dev_iommu_fwspec_get(dev));
	if (!ops)
		return -ENODEV;
	if (dev->iommu_group)
		return 0;

	group = iso_driver_probe(dev, ops);
	if (IS_ERR(group)) {
		/* Joined nothing: the groups it reached stay as they are */
		if (!iso_regroup_off)
			iso_regroup(dev, NULL);
		return PTR_ERR(group);
	}

	mutex_lock(&group->mutex);
	gdev = iso_group_link_device(group, dev);
	if (IS_ERR(gdev)) {
		ret = PTR_ERR(gdev);
	} else if (group->default_domain) {
		ret = iso_device_enter_domain(group, gdev);
	} else if (!new_groups) {
		ret = iso_setup_default_domain(group, 0);
	} else if (list_empty(&group->probe_node)) {
		/* The bus probe sets the default domain up when all joined */
		kref_get(&group->ref);
		list_add_tail(&group->probe_node, new_groups);
	}
	if (!ret && group->default_domain)
		iommu_setup_dma_ops(dev);
	mutex_unlock(&group->mutex);

	/* Out of the group again, or never in: the driver lets it go */
	if (ret) {
		dev_err(dev, "cannot join iommu group %d: %d\n", group->id, ret);
		iso_device_leave(group, dev);
	}
	/* Groups it also reaches: their members follow it if they can */
	if (!iso_regroup_off)
		iso_regroup(dev, ret ? NULL : group);
	/* The device holds its own reference now */
	iommu_group_put(group);
	return ret;
}

/* Give a PCI device its fwspec from firmware, if firmware describes one */
static void iso_fw_configure(struct device *dev)
{
	struct pci_host_bridge *host;
	struct device_node *np;

	if (!dev_is_pci(dev) || dev_iommu_fwspec_get(dev))
		return;

	host = pci_find_host_bridge(to_pci_dev(dev)->bus);
	np = host->dev.parent ? host->dev.parent->of_node : NULL;
	if (IS_ENABLED(CONFIG_OF_IOMMU) && np) {
		/* Probes the device itself once the fwspec is there */
		of_iommu_configure(dev, np, NULL);
	} else if (has_acpi_companion(&host->dev)) {
		mutex_lock(&iommu_probe_device_lock);
		if (!dev_iommu_fwspec_get(dev)) {
			int err = iort_iommu_configure_id(dev, NULL);

			if (err && err != -EPROBE_DEFER)
				viot_iommu_configure(dev);
		}
		mutex_unlock(&iommu_probe_device_lock);
	}
}

/*
 * A bus probe leaves a device with a driver alone, fwspec included: its
 * DMA ops must not change under the driver, bound or still probing. When
 * a driver next binds, dma_configure() reads the firmware and probes it,
 * or iommu_device_use_default_domain() does. A snapshot without the
 * device lock: a driver that binds right after it finds no group and
 * takes one the same way.
 */
static bool iso_leave_alone(struct device *dev)
{
	return READ_ONCE(dev->driver) && !dev->iommu_group;
}

static int iso_fw_configure_one(struct device *dev, void *unused)
{
	if (!iso_leave_alone(dev))
		iso_fw_configure(dev);
	return 0;
}

static void iso_probe_finalize(struct device *dev)
{
	const struct iommu_ops *ops = dev_iommu_ops(dev);

	if (ops->probe_finalize)
		ops->probe_finalize(dev);
}

/**
 * iommu_probe_device() - put a device into its IOMMU group
 * @dev: the device
 *
 * Called for devices that appear after their IOMMU (hot-add, late
 * firmware configuration). The device joins the group its IOMMU driver
 * names and enters that group's current domain.
 *
 * Return: 0; -ENODEV if no IOMMU translates @dev; or an errno.
 */
int iommu_probe_device(struct device *dev)
{
	int ret = 0;

	iso_fw_configure(dev);

	mutex_lock(&iommu_probe_device_lock);
	if (!dev->iommu_group) {
		ret = iso_probe_device(dev, NULL);
		if (!ret)
			iso_probe_finalize(dev);
	}
	mutex_unlock(&iommu_probe_device_lock);
	return ret;
}

/**
 * iommu_release_device() - take a device out of its IOMMU group
 * @dev: the device, being removed or losing its IOMMU
 *
 * The last device of a group takes the group's domains with it; the
 * group itself goes with its last reference.
 */
void iommu_release_device(struct device *dev)
{
	struct iommu_group *group;

	mutex_lock(&iommu_probe_device_lock);
	group = dev->iommu_group;
	if (group && dev_has_iommu(dev)) {
		iso_device_leave(group, dev);
	} else {
		/* A group built by hand, or a fwspec no driver took */
		if (group)
			iso_group_drop_device(group, dev);
		if (dev->iommu)
			dev_iommu_free(dev);
	}
	mutex_unlock(&iommu_probe_device_lock);
}

/* One device that fails must not keep the others of the bus out */
static int iso_probe_one(struct device *dev, void *new_groups)
{
	int ret;

	if (iso_leave_alone(dev))
		return 0;
	ret = iso_probe_device(dev, new_groups);
	if (ret && ret != -ENODEV)
		dev_warn(dev, "cannot join an iommu group: %d\n", ret);
	return 0;
}

/* A bus probe could not give @group a default domain: release its devices */
static void iso_group_abandon(struct iommu_group *group)
{
	struct group_device *gdev, *next;

	lockdep_assert_held(&iommu_probe_device_lock);
	list_for_each_entry_safe(gdev, next, &group->devices, node)
		iso_device_leave(group, gdev->dev);
}

/*
 * Probe every device of @bus, then give each new group its default
 * domain and finalize its devices. Errors of single devices and groups
 * are logged, not returned: the IOMMU stays usable for the others
 * (iommu_device_register() would tear the whole instance down).
 */
int bus_iommu_probe(const struct bus_type *bus)
{
	struct iommu_group *group, *next;
	struct group_device *gdev;
	LIST_HEAD(new_groups);
	int ret;

	/* Firmware lookups take the probe lock themselves */
	bus_for_each_dev(bus, NULL, NULL, iso_fw_configure_one);

	mutex_lock(&iommu_probe_device_lock);
	/* Every device of the bus is there: no port is grouped too early */
	iso_regroup_off = true;
	bus_for_each_dev(bus, NULL, &new_groups, iso_probe_one);
	iso_regroup_off = false;

	list_for_each_entry_safe(group, next, &new_groups, probe_node) {
		mutex_lock(&group->mutex);
		list_del_init(&group->probe_node);
		ret = 0;
		if (!list_empty(&group->devices))
			ret = iso_setup_default_domain(group, 0);
		if (!ret)
			iso_group_setup_dma_ops(group);
		mutex_unlock(&group->mutex);

		if (ret) {
			pr_err("group %d: no default domain: %d; its devices leave it\n",
			       group->id, ret);
			iso_group_abandon(group);
		} else {
			for_each_group_device(group, gdev)
				iso_probe_finalize(gdev->dev);
		}
		iommu_group_put(group);
	}
	mutex_unlock(&iommu_probe_device_lock);
	return 0;
}

int iommu_bus_notifier(struct notifier_block *nb, unsigned long action,
		       void *data)
{
	struct device *dev = data;
	struct fwnode_handle *fwnode;

	switch (action) {
	case BUS_NOTIFY_ADD_DEVICE:
		return iommu_probe_device(dev) ? NOTIFY_DONE : NOTIFY_OK;
	case BUS_NOTIFY_REMOVED_DEVICE:
		iommu_release_device(dev);
		return NOTIFY_OK;
	case BUS_NOTIFY_BOUND_DRIVER:
		/*
		 * Drivers such as SMMUv3 and virtio-iommu find their instance
		 * among the devices bound to them, so they cannot probe
		 * anything while they register. Once such an IOMMU is bound,
		 * bring in the devices it translates that have no group.
		 */
		fwnode = dev_fwnode(dev);
		if (fwnode && iommu_ops_from_fwnode(fwnode))
			iommu_probe_all_buses();
		return NOTIFY_DONE;
	default:
		return NOTIFY_DONE;
	}
}
