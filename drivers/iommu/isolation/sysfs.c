// SPDX-License-Identifier: GPL-2.0-only
/*
 * Isolation-group core: the sysfs view of groups.
 *
 * /sys/kernel/iommu_groups/N/
 *   devices/          links to the member devices          (ABI, kept)
 *   reserved_regions  merged reserved regions of the group (ABI, kept)
 *   type              default domain type; writable        (ABI, kept)
 *   name              set by some IOMMU drivers            (ABI, kept)
 *   holder            who holds the group: none, dma-api, user
 *   domain            which domain it is in: none, default, blocked,
 *                     attached
 * /sys/devices/.../iommu_group and .../isolation_group link to N.
 *
 * There is deliberately no file to unbind or reset a whole group:
 * devices are unbound one by one through their drivers.
 */
#define pr_fmt(fmt) "iommu: " fmt

#include <linux/capability.h>
#include <linux/device.h>
#include <linux/iommu.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "core.h"
#include "../iommu-priv.h"

#define to_group(k) container_of(k, struct iommu_group, kobj)

static const char * const resv_type_names[] = {
	[IOMMU_RESV_DIRECT]		= "direct",
	[IOMMU_RESV_DIRECT_RELAXABLE]	= "direct-relaxable",
	[IOMMU_RESV_RESERVED]		= "reserved",
	[IOMMU_RESV_MSI]		= "msi",
	[IOMMU_RESV_SW_MSI]		= "msi",
};

static ssize_t reserved_regions_show(struct kobject *kobj,
				     struct kobj_attribute *attr, char *buf)
{
	struct iommu_resv_region *region, *next;
	LIST_HEAD(regions);
	int len = 0;

	iommu_get_group_resv_regions(to_group(kobj), &regions);
	list_for_each_entry_safe(region, next, &regions, list) {
		len += sysfs_emit_at(buf, len, "0x%016llx 0x%016llx %s\n",
				     (u64)region->start,
				     (u64)(region->start + region->length - 1),
				     resv_type_names[region->type]);
		kfree(region);
	}
	return len;
}

static const char *domain_type_name(struct iommu_domain *domain)
{
	if (!domain)
		return "unknown";
	switch (domain->type) {
	case IOMMU_DOMAIN_BLOCKED:
		return "blocked";
	case IOMMU_DOMAIN_IDENTITY:
		return "identity";
	case IOMMU_DOMAIN_UNMANAGED:
		return "unmanaged";
	case IOMMU_DOMAIN_DMA:
		return "DMA";
	case IOMMU_DOMAIN_DMA_FQ:
		return "DMA-FQ";
	default:
		return "unknown";
	}
}

static ssize_t type_show(struct kobject *kobj, struct kobj_attribute *attr,
			 char *buf)
{
	struct iommu_group *group = to_group(kobj);
	const char *name;

	mutex_lock(&group->mutex);
	name = domain_type_name(group->default_domain);
	mutex_unlock(&group->mutex);
	return sysfs_emit(buf, "%s\n", name);
}

/*
 * Same rules as the legacy layer: DMA -> DMA-FQ is done in place at any
 * time; every other change needs a group without bound drivers or users,
 * and leaves the group as it was when it fails.
 */
static ssize_t type_store(struct kobject *kobj, struct kobj_attribute *attr,
			  const char *buf, size_t count)
{
	struct iommu_group *group = to_group(kobj);
	int type, ret;

	if (!capable(CAP_SYS_ADMIN) || !capable(CAP_SYS_RAWIO))
		return -EACCES;

	if (sysfs_streq(buf, "identity"))
		type = IOMMU_DOMAIN_IDENTITY;
	else if (sysfs_streq(buf, "DMA"))
		type = IOMMU_DOMAIN_DMA;
	else if (sysfs_streq(buf, "DMA-FQ"))
		type = IOMMU_DOMAIN_DMA_FQ;
	else if (sysfs_streq(buf, "auto"))
		type = 0;
	else
		return -EINVAL;

	ret = iso_group_change_default_type(group, type);
	return ret ?: count;
}

static ssize_t holder_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	struct iommu_group *group = to_group(kobj);
	const char *holder;

	mutex_lock(&group->mutex);
	if (group->owner)
		holder = "user";
	else if (group->owner_cnt)
		holder = "dma-api";
	else
		holder = "none";
	mutex_unlock(&group->mutex);
	return sysfs_emit(buf, "%s\n", holder);
}

static ssize_t domain_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	static const char * const names[] = {
		[ISO_GROUP_UNSET]	= "none",
		[ISO_GROUP_DEFAULT]	= "default",
		[ISO_GROUP_BLOCKED]	= "blocked",
		[ISO_GROUP_ATTACHED]	= "attached",
	};
	struct iommu_group *group = to_group(kobj);
	enum iso_group_state state;

	mutex_lock(&group->mutex);
	state = iso_group_state(group);
	mutex_unlock(&group->mutex);
	return sysfs_emit(buf, "%s\n", names[state]);
}

static ssize_t name_show(struct kobject *kobj, struct kobj_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%s\n", to_group(kobj)->name);
}

static struct kobj_attribute attr_reserved_regions = __ATTR_RO(reserved_regions);
static struct kobj_attribute attr_type = __ATTR_RW_MODE(type, 0644);
static struct kobj_attribute attr_holder = __ATTR_RO(holder);
static struct kobj_attribute attr_domain = __ATTR_RO(domain);
static struct kobj_attribute attr_name = __ATTR_RO(name);

static struct attribute *iso_group_attrs[] = {
	&attr_reserved_regions.attr,
	&attr_type.attr,
	&attr_holder.attr,
	&attr_domain.attr,
	NULL,
};

static const struct attribute_group iso_group_attr_group = {
	.attrs = iso_group_attrs,
};

int iso_group_sysfs_init(struct iommu_group *group)
{
	return sysfs_create_group(&group->kobj, &iso_group_attr_group);
}

/**
 * iommu_group_set_name() - give a group a name shown in sysfs
 * @group: the group
 * @name: the name, or NULL to remove it
 *
 * Return: 0 or an errno; on failure the group has no name.
 */
int iommu_group_set_name(struct iommu_group *group, const char *name)
{
	int ret;

	if (group->name) {
		sysfs_remove_file(&group->kobj, &attr_name.attr);
		kfree(group->name);
		group->name = NULL;
	}
	if (!name)
		return 0;

	group->name = kstrdup(name, GFP_KERNEL);
	if (!group->name)
		return -ENOMEM;
	ret = sysfs_create_file(&group->kobj, &attr_name.attr);
	if (ret) {
		kfree(group->name);
		group->name = NULL;
	}
	return ret;
}
EXPORT_SYMBOL_GPL(iommu_group_set_name);

/*
 * The device's links to its group and the group's link to the device.
 * Names in devices/ can collide (devices of different buses), so a
 * numbered suffix is tried.
 */
int iso_device_sysfs_add(struct iommu_group *group, struct group_device *gdev)
{
	struct device *dev = gdev->dev;
	int ret, i;

	ret = sysfs_create_link(&dev->kobj, &group->kobj, "iommu_group");
	if (ret)
		return ret;
	ret = sysfs_create_link(&dev->kobj, &group->kobj, "isolation_group");
	if (ret)
		goto err_iommu_group;

	for (i = -1; ; i++) {
		if (i < 0)
			gdev->name = kstrdup(dev_name(dev), GFP_KERNEL);
		else
			gdev->name = kasprintf(GFP_KERNEL, "%s.%d",
					       dev_name(dev), i);
		if (!gdev->name) {
			ret = -ENOMEM;
			break;
		}
		ret = sysfs_create_link_nowarn(group->devices_kobj, &dev->kobj,
					       gdev->name);
		if (ret != -EEXIST || i >= 16)
			break;
		kfree(gdev->name);
	}
	if (!ret)
		return 0;

	kfree(gdev->name);
	gdev->name = NULL;
	sysfs_remove_link(&dev->kobj, "isolation_group");
err_iommu_group:
	sysfs_remove_link(&dev->kobj, "iommu_group");
	return ret;
}

void iso_device_sysfs_remove(struct iommu_group *group,
			     struct group_device *gdev)
{
	sysfs_remove_link(group->devices_kobj, gdev->name);
	sysfs_remove_link(&gdev->dev->kobj, "isolation_group");
	sysfs_remove_link(&gdev->dev->kobj, "iommu_group");
}
