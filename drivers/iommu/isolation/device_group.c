// SPDX-License-Identifier: GPL-2.0-only
/*
 * Isolation-group core: the device_group helpers IOMMU drivers call to
 * name a device's group, with the PCI isolation rules.
 *
 * PCI rule: two devices share a group when the IOMMU cannot tell their
 * requests apart (DMA aliases) or when one can reach the other without
 * passing the IOMMU (peer-to-peer). A bridge isolates what is below it
 * only if ACS (source validation, request and completion redirect,
 * upstream forwarding) is enabled on it and on every bridge above it.
 * Below a PCIe switch, the downstream ports are peers of each other: if
 * any of them lacks ACS, requests from below it can be routed to the
 * other ports directly, so the subtrees of all downstream ports of that
 * switch form one group. The legacy code only checks the path upstream
 * of a device and splits such subtrees.
 *
 * Callers hold iommu_probe_device_lock, so the groups found on other
 * devices cannot go away or change under the lookup.
 */
#include <linux/bitmap.h>
#include <linux/device.h>
#include <linux/fsl/mc.h>
#include <linux/iommu.h>
#include <linux/pci.h>

#include "core.h"

#define ISO_ACS_FLAGS	(PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF)

/**
 * generic_device_group() - a new group for every device
 * @dev: the device
 *
 * Return: a new group, or an ERR_PTR.
 */
struct iommu_group *generic_device_group(struct device *dev)
{
	return iommu_group_alloc();
}
EXPORT_SYMBOL_GPL(generic_device_group);

/**
 * generic_single_device_group() - one group per IOMMU instance
 * @dev: the device, probed by its IOMMU driver
 *
 * For IOMMUs that cannot isolate their devices from each other.
 *
 * Return: the instance's group with a reference for the caller, or an
 * ERR_PTR.
 */
struct iommu_group *generic_single_device_group(struct device *dev)
{
	struct iommu_device *iommu = dev->iommu->iommu_dev;
	struct iommu_group *group;

	if (!iommu->singleton_group) {
		group = iommu_group_alloc();
		if (IS_ERR(group))
			return group;
		/* Dropped by iommu_device_unregister() */
		iommu->singleton_group = group;
	}
	return iommu_group_ref_get(iommu->singleton_group);
}
EXPORT_SYMBOL_GPL(generic_single_device_group);

/**
 * fsl_mc_device_group() - the group of an fsl-mc device: its container's
 * @dev: the device
 *
 * Return: the group with a reference for the caller, or an ERR_PTR.
 */
struct iommu_group *fsl_mc_device_group(struct device *dev)
{
	struct iommu_group *group = iommu_group_get(fsl_mc_cont_dev(dev));

	return group ?: iommu_group_alloc();
}
EXPORT_SYMBOL_GPL(fsl_mc_device_group);

/* A switch's internal bus leaks if one of its downstream ports lacks ACS */
static bool iso_switch_bus_leaks(struct pci_bus *bus)
{
	struct pci_dev *port = NULL;

	for_each_pci_dev(port) {
		if (port->bus == bus &&
		    pci_pcie_type(port) == PCI_EXP_TYPE_DOWNSTREAM &&
		    !pci_acs_enabled(port, ISO_ACS_FLAGS)) {
			pci_dev_put(port);
			return true;
		}
	}
	return false;
}

static bool iso_is_leaky_switch_port(struct pci_dev *pdev)
{
	return pci_is_pcie(pdev) &&
	       pci_pcie_type(pdev) == PCI_EXP_TYPE_DOWNSTREAM &&
	       iso_switch_bus_leaks(pdev->bus);
}

/* Whether @bridge and every bridge above it keep peer traffic upstream */
static bool iso_path_isolates(struct pci_dev *bridge)
{
	for (; bridge; bridge = pci_upstream_bridge(bridge))
		if (!pci_acs_enabled(bridge, ISO_ACS_FLAGS) ||
		    iso_is_leaky_switch_port(bridge))
			return false;
	return true;
}

/* Whether @a and @b, on one bus, can reach each other or alias */
static bool iso_pci_peers(struct pci_dev *a, struct pci_dev *b)
{
	if (pci_devs_are_dma_aliases(a, b))
		return true;
	/* Functions of one device with no ACS between them */
	if (PCI_SLOT(a->devfn) == PCI_SLOT(b->devfn) &&
	    (a->multifunction || b->multifunction) &&
	    !pci_acs_enabled(a, ISO_ACS_FLAGS) &&
	    !pci_acs_enabled(b, ISO_ACS_FLAGS))
		return true;
	/* Downstream ports of a switch that leaks */
	return iso_is_leaky_switch_port(a) && iso_is_leaky_switch_port(b);
}

/*
 * Search the devices of @pdev's bus that @pdev is not isolated from,
 * directly or through other such devices, for an existing group.
 */
static struct iommu_group *iso_pci_peer_group(struct pci_dev *pdev)
{
	DECLARE_BITMAP(todo, 256) = {};
	DECLARE_BITMAP(seen, 256) = {};
	struct pci_bus *bus = pdev->bus;
	struct iommu_group *group = NULL;
	unsigned int devfn;

	set_bit(pdev->devfn, todo);
	while (!group && (devfn = find_first_bit(todo, 256)) < 256) {
		struct pci_dev *cur, *tmp = NULL;

		clear_bit(devfn, todo);
		set_bit(devfn, seen);
		cur = devfn == pdev->devfn ? pci_dev_get(pdev) :
					     pci_get_slot(bus, devfn);
		if (!cur)
			continue;

		for_each_pci_dev(tmp) {
			if (tmp->bus != bus || test_bit(tmp->devfn, seen) ||
			    !iso_pci_peers(cur, tmp))
				continue;
			group = iommu_group_get(&tmp->dev);
			if (group) {
				pci_dev_put(tmp);
				break;
			}
			set_bit(tmp->devfn, todo);
		}
		pci_dev_put(cur);
	}
	return group;
}

struct iso_alias_walk {
	struct pci_dev *last;
	struct iommu_group *group;
};

static int iso_alias_step(struct pci_dev *pdev, u16 alias, void *data)
{
	struct iso_alias_walk *walk = data;

	walk->last = pdev;
	walk->group = iommu_group_get(&pdev->dev);
	return !!walk->group;
}

/**
 * pci_device_group() - the group of a PCI device
 * @dev: a PCI device
 *
 * Applies the PCI isolation rules at the top of this file: the device
 * joins the group of an alias, of a bridge it is not isolated from, or
 * of a peer on the same bus; otherwise it starts a new group.
 *
 * Return: the group with a reference for the caller, or an ERR_PTR.
 */
struct iommu_group *pci_device_group(struct device *dev)
{
	struct iso_alias_walk walk = {};
	struct iommu_group *group;
	struct pci_dev *pdev;
	struct pci_bus *bus;

	if (WARN_ON(!dev_is_pci(dev)))
		return ERR_PTR(-EINVAL);

	/* The requester IDs the IOMMU sees for this device */
	if (pci_for_each_dma_alias(to_pci_dev(dev), iso_alias_step, &walk))
		return walk.group;
	pdev = walk.last;

	/* Up to the first bridge that isolates what is below it */
	for (bus = pdev->bus; !pci_is_root_bus(bus); bus = bus->parent) {
		if (!bus->self)
			continue;
		if (iso_path_isolates(bus->self))
			break;
		pdev = bus->self;
		group = iommu_group_get(&pdev->dev);
		if (group)
			return group;
	}

	group = iso_pci_peer_group(pdev);
	return group ?: iommu_group_alloc();
}
EXPORT_SYMBOL_GPL(pci_device_group);
