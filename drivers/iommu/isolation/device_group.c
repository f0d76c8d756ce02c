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
 * other ports directly, and an endpoint integrated in the switch reaches
 * every port, so then the subtrees of all ports of that switch form one
 * group. Functions of one device (all functions on an ARI bus; a PF and
 * its VFs) reach each other unless every one of them has ACS. The legacy
 * code checks only the path upstream of a device and splits such
 * subtrees. The driver-api page lists the rules with their reasons.
 *
 * Callers hold iommu_probe_device_lock, so no device joins or leaves a
 * group under the lookup; pci_device_group() itself changes no group (it
 * may run under the IOMMU driver's own locks): groups it finds besides
 * the one it returns are handed to probe.c, which moves their members
 * once the device has joined. The devices of a bus are found among the
 * children of the bus's bridge device, under no PCI core lock: a lookup
 * costs the size of the device's own bus and of its path to the root,
 * not the number of PCI devices in the system.
 */
#include <linux/bitmap.h>
#include <linux/device.h>
#include <linux/fsl/mc.h>
#include <linux/iommu.h>
#include <linux/pci.h>
#include <linux/slab.h>

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

struct iso_bus_walk {
	struct pci_bus *bus;
	int (*fn)(struct pci_dev *pdev, void *data);
	void *data;
};

static int iso_bus_walk_one(struct device *dev, void *data)
{
	struct iso_bus_walk *walk = data;

	if (!dev_is_pci(dev) || to_pci_dev(dev)->bus != walk->bus)
		return 0;
	return walk->fn(to_pci_dev(dev), walk->data);
}

/*
 * Call @fn for each registered device on @bus, until it returns non-zero.
 * PCI devices are children of their bus's bridge (VFs on a virtual bus:
 * of their PF's), so only the devices of one bus are visited, under no
 * lock of the PCI core: the driver core's list of children is walked.
 */
static int iso_walk_bus(struct pci_bus *bus,
			int (*fn)(struct pci_dev *pdev, void *data), void *data)
{
	struct iso_bus_walk walk = { .bus = bus, .fn = fn, .data = data };
	struct device *parent = bus->bridge;

	if (!parent && bus->parent)
		parent = bus->parent->bridge;
	if (!parent)
		return 0;
	return device_for_each_child(parent, &walk, iso_bus_walk_one);
}

static bool iso_is_dsp(struct pci_dev *pdev)
{
	return pci_is_pcie(pdev) && pci_pcie_type(pdev) == PCI_EXP_TYPE_DOWNSTREAM;
}

/* The internal bus of a PCIe switch: its downstream ports sit on it */
static bool iso_is_switch_bus(struct pci_bus *bus)
{
	return bus->self && pci_is_pcie(bus->self) &&
	       pci_pcie_type(bus->self) == PCI_EXP_TYPE_UPSTREAM;
}

static bool iso_in_merged_group(struct pci_dev *pdev)
{
	struct iommu_group *group = iommu_group_get(&pdev->dev);
	bool merged = group && group->pci_ports_merged;

	iommu_group_put(group);
	return merged;
}

/*
 * Whether @pdev, on a switch's internal bus, makes the switch leak: a
 * downstream port without ACS lets requests from below it reach the other
 * ports; an endpoint integrated in the switch reaches every port's window
 * (ACS acts on requests entering a downstream port from below only); a
 * port already merged with its siblings keeps the switch leaking even if
 * the port that lacked ACS was removed since, so the groups do not depend
 * on the order devices appear in.
 */
static bool iso_leaks_switch(struct pci_dev *pdev, bool acs)
{
	if (!iso_is_dsp(pdev))
		return true;
	return !acs || iso_in_merged_group(pdev);
}

static int iso_port_leaks(struct pci_dev *pdev, void *unused)
{
	bool acs = iso_is_dsp(pdev) && pci_acs_enabled(pdev, ISO_ACS_FLAGS);

	return iso_leaks_switch(pdev, acs);
}

/*
 * Whether the devices of a switch's internal bus reach each other. Only
 * the devices of @bus are visited: the cost does not grow with the number
 * of PCI devices in the system.
 */
static bool iso_switch_bus_leaks(struct pci_bus *bus)
{
	return iso_is_switch_bus(bus) &&
	       iso_walk_bus(bus, iso_port_leaks, NULL);
}

/* Whether @bridge itself keeps requests from below it upstream */
static bool iso_bridge_isolates(struct pci_dev *bridge)
{
	return pci_acs_enabled(bridge, ISO_ACS_FLAGS) &&
	       !(iso_is_dsp(bridge) && iso_switch_bus_leaks(bridge->bus));
}

/*
 * The devices of one bus with what the peer rules need to know of them,
 * gathered in one walk of the bus: ACS is read at most once a device.
 */
struct iso_bus_view {
	struct pci_dev *dev[256];
	DECLARE_BITMAP(present, 256);
	DECLARE_BITMAP(acs_read, 256);
	DECLARE_BITMAP(no_acs, 256);
	/* The groups of the peers found, one reference each */
	struct iommu_group *found[256];
	bool switch_bus;
	bool leaks;
	/* ARI: one device of up to 256 functions, whatever the slot */
	bool ari;
};

static bool iso_view_no_acs(struct iso_bus_view *v, unsigned int devfn)
{
	if (!test_and_set_bit(devfn, v->acs_read) &&
	    !pci_acs_enabled(v->dev[devfn], ISO_ACS_FLAGS))
		set_bit(devfn, v->no_acs);
	return test_bit(devfn, v->no_acs);
}

static int iso_view_add(struct pci_dev *pdev, void *data)
{
	struct iso_bus_view *v = data;
	unsigned int devfn = pdev->devfn;

	v->dev[devfn] = pci_dev_get(pdev);
	set_bit(devfn, v->present);
	if (v->switch_bus && !v->leaks) {
		bool acs = iso_is_dsp(pdev) && !iso_view_no_acs(v, devfn);

		v->leaks = iso_leaks_switch(pdev, acs);
	}
	return 0;
}

/* Whether the devices at @a and @b of the view can reach each other or alias */
static bool iso_pci_peers(struct iso_bus_view *v, unsigned int a,
			  unsigned int b)
{
	struct pci_dev *da = v->dev[a], *db = v->dev[b];

	if (pci_devs_are_dma_aliases(da, db))
		return true;
	/* The devices of a switch's internal bus that leaks */
	if (v->leaks)
		return true;
	/*
	 * Functions of one device: ACS acts on the requests a function
	 * sends, so one function without it reaches the others. VFs follow
	 * their PF instead (iso_sriov_isolates()).
	 */
	if (da->is_virtfn || db->is_virtfn)
		return false;
	return (v->ari || PCI_SLOT(a) == PCI_SLOT(b)) &&
	       (da->multifunction || db->multifunction) &&
	       (iso_view_no_acs(v, a) || iso_view_no_acs(v, b));
}

/*
 * Search the devices of @pdev's bus that @pdev is not isolated from,
 * directly or through other such devices without a group, for their group.
 * The cost depends on the size of @pdev's bus only. Peers found in several
 * groups make one group: @pdev joins one of them, and the members of the
 * others are probed again after it joined, while nobody uses them.
 */
static struct iommu_group *iso_pci_peer_group(struct pci_dev *pdev,
					      bool *merged)
{
	DECLARE_BITMAP(todo, 256) = {};
	DECLARE_BITMAP(seen, 256) = {};
	struct iommu_group *group = NULL, *other;
	unsigned int cur, devfn, nr = 0, i;
	struct iso_bus_view *v;

	v = kzalloc(sizeof(*v), GFP_KERNEL);
	if (!v)
		return ERR_PTR(-ENOMEM);
	v->switch_bus = iso_is_switch_bus(pdev->bus);
	v->ari = pci_ari_enabled(pdev->bus);
	iso_walk_bus(pdev->bus, iso_view_add, v);
	/* A device joins its parent's children only after its probe */
	if (!v->dev[pdev->devfn])
		iso_view_add(pdev, v);
	if (WARN_ON_ONCE(v->dev[pdev->devfn] != pdev)) {
		group = ERR_PTR(-EINVAL);
		goto out;
	}

	set_bit(pdev->devfn, todo);
	while ((cur = find_first_bit(todo, 256)) < 256) {
		clear_bit(cur, todo);
		set_bit(cur, seen);
		for_each_set_bit(devfn, v->present, 256) {
			if (test_bit(devfn, seen) || test_bit(devfn, todo) ||
			    !iso_pci_peers(v, cur, devfn))
				continue;
			other = iommu_group_get(&v->dev[devfn]->dev);
			if (!other) {
				set_bit(devfn, todo);
				continue;
			}
			/* A member's peers are in its group: look no further */
			set_bit(devfn, seen);
			for (i = 0; i < nr && v->found[i] != other; i++)
				;
			if (i < nr)
				iommu_group_put(other);
			else
				v->found[nr++] = other;
		}
	}

	/*
	 * Join the group a regroup moves members into, else one in use (its
	 * members cannot move), else the first; the members of the others
	 * follow once the device has joined, as far as nobody uses them
	 * (iso_note_reached_group()).
	 */
	for (i = 0; i < nr && !group; i++)
		if (v->found[i] == iso_regroup_target())
			group = v->found[i];
	for (i = 0; i < nr && !group; i++)
		if (iso_group_in_use(v->found[i]))
			group = v->found[i];
	if (nr && !group)
		group = v->found[0];
	for (i = 0; i < nr; i++)
		if (v->found[i] != group)
			iso_note_reached_group(v->found[i]);
	*merged = v->leaks;
out:
	for_each_set_bit(devfn, v->present, 256)
		pci_dev_put(v->dev[devfn]);
	kfree(v);
	return group;
}

/*
 * Whether the functions of SR-IOV device @pf isolate each other. The spec
 * handles an SR-IOV device as a multifunction device for ACS. For a PF
 * without an ACS capability the core follows pci_acs_enabled(), which
 * calls a single-function device isolated and applies the vendor quirks
 * that vouch for devices without one: VF assignment on such devices keeps
 * working as in 6.12. A PF whose ACS capability has P2P redirect but not
 * enabled (pci=disable_acs_redir, firmware without an IOMMU) says its
 * functions reach each other: its VFs share its group.
 */
static bool iso_sriov_isolates(struct pci_dev *pf)
{
	u16 cap, ctrl, flags = PCI_ACS_RR | PCI_ACS_CR;

	if (pf->multifunction || !pf->acs_cap)
		return pci_acs_enabled(pf, ISO_ACS_FLAGS);
	pci_read_config_word(pf, pf->acs_cap + PCI_ACS_CAP, &cap);
	pci_read_config_word(pf, pf->acs_cap + PCI_ACS_CTRL, &ctrl);
	flags &= cap;
	return (ctrl & flags) == flags;
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
	struct iommu_group *group = NULL;
	struct pci_dev *pdev, *top = NULL;
	bool merged = false;
	struct pci_bus *bus;

	if (WARN_ON(!dev_is_pci(dev)))
		return ERR_PTR(-EINVAL);

	/* The requester IDs the IOMMU sees for this device */
	if (pci_for_each_dma_alias(to_pci_dev(dev), iso_alias_step, &walk))
		return walk.group;
	pdev = walk.last;

	/* A VF shares the group of a PF that does not isolate its functions */
	if (pdev->is_virtfn && !iso_sriov_isolates(pci_physfn(pdev))) {
		group = iommu_group_get(&pci_physfn(pdev)->dev);
		if (group)
			return group;
	}

	/*
	 * Up to the first bridge that isolates what is below it, with every
	 * bridge above it: the highest bridge of the path that does not
	 * isolate is the last one whose group the device may share. One
	 * verdict per bridge of the path.
	 */
	for (bus = pdev->bus; !pci_is_root_bus(bus); bus = bus->parent)
		if (bus->self && !iso_bridge_isolates(bus->self))
			top = bus->self;
	for (bus = pdev->bus; top && !pci_is_root_bus(bus); bus = bus->parent) {
		if (!bus->self)
			continue;
		pdev = bus->self;
		group = iommu_group_get(&pdev->dev);
		if (group || pdev == top)
			break;
	}
	if (group)
		return group;

	group = iso_pci_peer_group(pdev, &merged);
	if (!group)
		group = iommu_group_alloc();
	if (!IS_ERR(group) && merged)
		group->pci_ports_merged = true;
	return group;
}
EXPORT_SYMBOL_GPL(pci_device_group);
