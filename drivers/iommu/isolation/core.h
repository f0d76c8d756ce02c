/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Isolation-group core: objects shared by the files of this directory.
 *
 * Locking (this header owns both locks the core takes):
 *
 *   iommu_probe_device_lock  (global, defined in iommu.c)
 *     Serialises membership: a device joins or leaves a group, by probe,
 *     release or iommu_group_add_device()/iommu_group_remove_device(),
 *     only under it. Held across group lookup, so two devices that
 *     belong together cannot create two groups. Never taken on the
 *     attach, ownership or DMA paths.
 *
 *   group->mutex  (one per group)
 *     Protects everything in struct iommu_group below it: the domains,
 *     the owner count and owner, the members outside the domain and the
 *     PASID array (whose xa_lock additionally covers lockless readers).
 *     The device list changes under both locks, so either one is enough
 *     to walk it.
 *
 *   group->deferred_lock  (spinlock, one per group)
 *     Ends a device's deferred attach (dev->iommu->attach_deferred): the
 *     DMA map path takes it without the group mutex. Innermost.
 *
 *   dev->iommu->lock  (owned by the IOMMU drivers)
 *
 * Lock order: iommu_probe_device_lock -> group->mutex -> dev->iommu->lock;
 * group->deferred_lock nests inside any of them and takes nothing.
 * Two group mutexes are never held at once. No global lock is taken to
 * attach, detach, claim or release a group, and no sleeping lock on the
 * DMA map path (iommu_deferred_attach()).
 *
 * Invariants, checked where the state changes (iso_group_check()):
 *   - group->domain is NULL only before the default domain is set up;
 *     then every device of the group not marked outside is attached to
 *     group->domain.
 *   - group->owner is set only while group->owner_cnt > 0.
 *   - a user-held group (owner set) is never in its default domain,
 *     unless the driver's default domain is its blocking domain.
 *   - group->dma_api_off is set only while a domain attached with
 *     domain_attach_group() (or one that replaced it) is the group's
 *     domain.
 */
#ifndef __IOMMU_ISOLATION_CORE_H
#define __IOMMU_ISOLATION_CORE_H

#include <linux/iommu.h>
#include <linux/kobject.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/xarray.h>

struct iommu_group {
	/* Lifetime: see group.c. kobj is only the sysfs directory. */
	struct kref ref;
	struct kobject kobj;
	struct kobject *devices_kobj;
	int id;

	/* Set by the IOMMU driver, not protected by the core */
	void *iommu_data;
	void (*iommu_data_release)(void *iommu_data);
	char *name;

	/* Linked on a bus probe's list of groups awaiting a default domain */
	struct list_head probe_node;
	/* Linked on the list of groups to regroup (probe.c) */
	struct list_head regroup_node;
	/*
	 * Joined ports of one PCIe switch that did not isolate each other:
	 * the switch is treated as leaking for as long as the group lives,
	 * whatever ports are present. Under iommu_probe_device_lock.
	 */
	bool pci_ports_merged;

	/* Protects the members below; see the locking rules above */
	struct mutex mutex;
	struct list_head devices;
	struct iommu_domain *default_domain;
	struct iommu_domain *blocking_domain;
	struct iommu_domain *domain;
	/* DMA-API drivers bound plus user claims; see owner.c */
	unsigned int owner_cnt;
	void *owner;
	/* Taken from the DMA API by domain_attach_group() */
	bool dma_api_off;
	/* Members the driver could not put into the group's domain */
	unsigned int outside_cnt;
	/* Ends a device's deferred attach (kdump); innermost, see domain.c */
	spinlock_t deferred_lock;
	struct xarray pasid_array;
};

struct group_device {
	struct list_head node;
	struct device *dev;
	/* Name of the link in the group's devices/ directory */
	char *name;
	/*
	 * Not in the group's domain: the driver refused it (a hot-add into a
	 * held group, a failed rollback or detach). No DMA-API driver can
	 * bind to it and no user can claim it until a move takes it in; a
	 * driver bound before it went outside is not stopped.
	 */
	bool outside;
	/* Refused by a move that must succeed; only inside that move */
	bool refused;
};

#define for_each_group_device(group, gdev) \
	list_for_each_entry(gdev, &(group)->devices, node)

/* What a group is doing; derived from its domains and owner */
enum iso_group_state {
	ISO_GROUP_UNSET,	/* no default domain yet */
	ISO_GROUP_DEFAULT,
	ISO_GROUP_BLOCKED,
	ISO_GROUP_ATTACHED,
};

static inline enum iso_group_state iso_group_state(struct iommu_group *group)
{
	if (!group->domain)
		return ISO_GROUP_UNSET;
	/* A driver's default domain may be its blocking one */
	if (group->owner && group->domain == group->blocking_domain)
		return ISO_GROUP_BLOCKED;
	if (group->domain == group->default_domain)
		return ISO_GROUP_DEFAULT;
	if (group->domain == group->blocking_domain)
		return ISO_GROUP_BLOCKED;
	return ISO_GROUP_ATTACHED;
}

static inline struct device *iso_group_first_dev(struct iommu_group *group)
{
	lockdep_assert_held(&group->mutex);
	return list_first_entry(&group->devices, struct group_device,
				node)->dev;
}

/* group.c */
extern struct kset *iso_group_kset;
struct group_device *iso_group_link_device(struct iommu_group *group,
					   struct device *dev);
void iso_group_unlink_device(struct iommu_group *group,
			     struct group_device *gdev);
struct group_device *iso_group_find(struct iommu_group *group,
				    struct device *dev);
void iso_group_drop_device(struct iommu_group *group, struct device *dev);
void iso_group_check(struct iommu_group *group);
void iso_note_reached_group(struct iommu_group *group);
struct iommu_group *iso_regroup_target(void);
bool iso_group_in_use(struct iommu_group *group);

/* domain.c; the flags of iso_group_move() */
#define ISO_FROM_CORE		BIT(0)
#define ISO_TAKE_DMA_API	BIT(1)
#define ISO_HANDLE		BIT(2)
#define ISO_DETACH		BIT(3)

int __iso_group_move(struct iommu_group *group, struct iommu_domain *domain,
		     struct iommu_attach_handle *handle, unsigned int flags);
int iso_group_move(struct iommu_group *group, struct iommu_domain *domain,
		   struct iommu_attach_handle *handle, unsigned int flags);
int iso_group_set_domain(struct iommu_group *group,
			 struct iommu_domain *domain, bool must_succeed);
int iso_device_enter_domain(struct iommu_group *group,
			    struct group_device *gdev);
int iso_setup_default_domain(struct iommu_group *group, int target_type);
void iso_group_set_core_domain(struct iommu_group *group);
void iso_group_setup_dma_ops(struct iommu_group *group);
int iso_alloc_blocking_domain(struct iommu_group *group);
struct iommu_domain *iso_group_alloc_domain(struct iommu_group *group,
					    unsigned int type);
int iso_map_direct_regions(struct iommu_domain *domain, struct device *dev);
int iso_group_change_default_type(struct iommu_group *group, int type);

/* sysfs.c */
int iso_group_sysfs_init(struct iommu_group *group);
int iso_device_sysfs_add(struct iommu_group *group, struct group_device *gdev);
void iso_device_sysfs_remove(struct iommu_group *group,
			     struct group_device *gdev);

#endif /* __IOMMU_ISOLATION_CORE_H */
