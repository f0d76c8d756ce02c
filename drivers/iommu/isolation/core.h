/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Isolation-group core: objects shared by the files of this directory.
 *
 * Locking (this header owns both locks the core takes):
 *
 *   iommu_probe_device_lock  (global, defined in iommu.c)
 *     Serialises membership: probing a device into a group and releasing
 *     it from its group. Held across group lookup, so two devices that
 *     belong together cannot create two groups. Never taken on the
 *     attach, ownership or DMA paths.
 *
 *   group->mutex  (one per group)
 *     Protects everything in struct iommu_group below it: the device
 *     list, the domains, the owner count and owner, and the PASID array
 *     (whose xa_lock additionally covers lockless readers).
 *
 *   dev->iommu->lock  (owned by the IOMMU drivers)
 *
 * Lock order: iommu_probe_device_lock -> group->mutex -> dev->iommu->lock.
 * Two group mutexes are never held at once. No global lock is taken to
 * attach, detach, claim or release a group.
 *
 * Invariants, checked where the state changes (iso_group_check()):
 *   - group->domain is NULL only before the default domain is set up;
 *     then every device of the group is attached to group->domain.
 *   - group->owner is set only while group->owner_cnt > 0.
 *   - a user-held group (owner set) is never in its default domain,
 *     unless the driver's default domain is its blocking domain.
 */
#ifndef __IOMMU_ISOLATION_CORE_H
#define __IOMMU_ISOLATION_CORE_H

#include <linux/iommu.h>
#include <linux/kobject.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
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

	/* Protects the members below; see the locking rules above */
	struct mutex mutex;
	struct list_head devices;
	struct iommu_domain *default_domain;
	struct iommu_domain *blocking_domain;
	struct iommu_domain *domain;
	/* DMA-API drivers bound plus user claims; see owner.c */
	unsigned int owner_cnt;
	void *owner;
	struct xarray pasid_array;
};

struct group_device {
	struct list_head node;
	struct device *dev;
	/* Name of the link in the group's devices/ directory */
	char *name;
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
void iso_group_check(struct iommu_group *group);

/* domain.c */
int iso_group_set_domain(struct iommu_group *group,
			 struct iommu_domain *domain, bool must_succeed);
int iso_device_enter_domain(struct iommu_group *group, struct device *dev);
int iso_setup_default_domain(struct iommu_group *group, int target_type);
void iso_group_set_core_domain(struct iommu_group *group);
struct iommu_domain *iso_group_alloc_domain(struct iommu_group *group,
					    unsigned int type);
int iso_map_direct_regions(struct iommu_domain *domain, struct device *dev);
int iso_group_change_default_type(struct iommu_group *group, int type);
int iso_check_domain_fits(struct iommu_domain *domain,
			  struct iommu_group *group);
int iso_attach_group_locked(struct iommu_domain *domain,
			    struct iommu_group *group, bool strict);
int iso_detach_group_locked(struct iommu_domain *domain,
			    struct iommu_group *group);

/* sysfs.c */
int iso_group_sysfs_init(struct iommu_group *group);
int iso_device_sysfs_add(struct iommu_group *group, struct group_device *gdev);
void iso_device_sysfs_remove(struct iommu_group *group,
			     struct group_device *gdev);

#endif /* __IOMMU_ISOLATION_CORE_H */
