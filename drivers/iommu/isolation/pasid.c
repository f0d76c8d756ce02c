// SPDX-License-Identifier: GPL-2.0-only
/*
 * Isolation-group core: PASID attachments and attach handles.
 *
 * group->pasid_array maps a PASID to the attach handle of the domain
 * attached there (IOMMU_NO_PASID: the handle of the whole group's domain,
 * for iommufd's fault delivery). A PASID attachment is made to every
 * PASID-capable device of the group, since the group is the unit of
 * isolation. Writers hold group->mutex; readers use the xarray lock.
 */
#include <linux/device.h>
#include <linux/iommu.h>

#include "core.h"
#include "../iommu-priv.h"

static void iso_remove_pasid(struct iommu_group *group, ioasid_t pasid,
			     struct iommu_domain *domain,
			     struct group_device *stop)
{
	struct group_device *gdev;

	for_each_group_device(group, gdev) {
		if (gdev == stop)
			break;
		if (gdev->dev->iommu->max_pasids)
			dev_iommu_ops(gdev->dev)->remove_dev_pasid(gdev->dev,
								   pasid,
								   domain);
	}
}

static int iso_set_pasid(struct iommu_group *group, ioasid_t pasid,
			 struct iommu_domain *domain)
{
	struct group_device *gdev;
	int ret;

	for_each_group_device(group, gdev) {
		if (!gdev->dev->iommu->max_pasids)
			continue;
		ret = domain->ops->set_dev_pasid(domain, gdev->dev, pasid,
						 NULL);
		if (ret) {
			iso_remove_pasid(group, pasid, domain, gdev);
			return ret;
		}
	}
	return 0;
}

/**
 * iommu_attach_device_pasid() - attach a domain to a PASID of a device
 * @domain: the domain
 * @dev: the device
 * @pasid: the PASID, not IOMMU_NO_PASID
 * @handle: attach handle to record, or NULL
 *
 * Return: 0; -EOPNOTSUPP if the domain cannot be attached to a PASID;
 * -EINVAL for a PASID out of range or a foreign domain; -EBUSY if the
 * PASID is in use; or the driver's error.
 */
int iommu_attach_device_pasid(struct iommu_domain *domain, struct device *dev,
			      ioasid_t pasid,
			      struct iommu_attach_handle *handle)
{
	struct iommu_group *group = dev->iommu_group;
	struct group_device *gdev;
	int ret;

	if (!domain->ops->set_dev_pasid)
		return -EOPNOTSUPP;
	if (!group)
		return -ENODEV;
	if (!dev_has_iommu(dev) || dev_iommu_ops(dev) != domain->owner ||
	    pasid == IOMMU_NO_PASID)
		return -EINVAL;

	mutex_lock(&group->mutex);
	ret = 0;
	for_each_group_device(group, gdev) {
		u32 max = gdev->dev->iommu->max_pasids;

		if (max && pasid >= max)
			ret = -EINVAL;
	}
	if (ret)
		goto out;

	if (handle)
		handle->domain = domain;
	ret = xa_insert(&group->pasid_array, pasid, handle, GFP_KERNEL);
	if (ret)
		goto out;
	ret = iso_set_pasid(group, pasid, domain);
	if (ret)
		xa_erase(&group->pasid_array, pasid);
out:
	mutex_unlock(&group->mutex);
	return ret;
}
EXPORT_SYMBOL_GPL(iommu_attach_device_pasid);

/**
 * iommu_detach_device_pasid() - detach a domain from a PASID of a device
 * @domain: the domain attached with iommu_attach_device_pasid()
 * @dev: the device
 * @pasid: the PASID
 */
void iommu_detach_device_pasid(struct iommu_domain *domain, struct device *dev,
			       ioasid_t pasid)
{
	struct iommu_group *group = dev->iommu_group;

	mutex_lock(&group->mutex);
	iso_remove_pasid(group, pasid, domain, NULL);
	xa_erase(&group->pasid_array, pasid);
	mutex_unlock(&group->mutex);
}
EXPORT_SYMBOL_GPL(iommu_detach_device_pasid);

/**
 * iommu_attach_handle_get() - the attach handle of a PASID of a group
 * @group: the group
 * @pasid: the PASID, or IOMMU_NO_PASID for the group's domain
 * @type: the domain type the caller expects, 0 for any
 *
 * The lookup is under the xarray's lock (the fault path calls this with
 * no other lock); the handle stays valid only while the caller keeps
 * @pasid attached, as iommufd does for its fault handlers.
 *
 * Return: the handle; ERR_PTR(-ENOENT) if none; ERR_PTR(-EBUSY) if the
 * attached domain has another type.
 */
struct iommu_attach_handle *
iommu_attach_handle_get(struct iommu_group *group, ioasid_t pasid,
			unsigned int type)
{
	struct iommu_attach_handle *handle;

	xa_lock(&group->pasid_array);
	handle = xa_load(&group->pasid_array, pasid);
	if (!handle)
		handle = ERR_PTR(-ENOENT);
	else if (type && handle->domain->type != type)
		handle = ERR_PTR(-EBUSY);
	xa_unlock(&group->pasid_array);
	return handle;
}
EXPORT_SYMBOL_NS_GPL(iommu_attach_handle_get, IOMMUFD_INTERNAL);

/**
 * domain_attach_group_handle() - domain_attach_group() with an attach handle
 * @domain: the domain, allocated for the group's IOMMU
 * @group: the group
 * @handle: recorded for IOMMU_NO_PASID while @domain is attached, so that
 *	the fault path finds the attachment (iommu_attach_handle_get())
 *
 * The rules and errors of domain_attach_group(); iommufd attaches this way.
 *
 * Context: process; takes the group's mutex.
 * Return: 0 or an errno as domain_attach_group(); -EBUSY also if a handle
 * is recorded already. On failure nothing is changed.
 */
int domain_attach_group_handle(struct iommu_domain *domain,
			       struct iommu_group *group,
			       struct iommu_attach_handle *handle)
{
	return iso_group_move(group, domain, handle, ISO_FROM_CORE |
			      ISO_TAKE_DMA_API | ISO_HANDLE);
}
EXPORT_SYMBOL_NS_GPL(domain_attach_group_handle, IOMMUFD_INTERNAL);

/**
 * domain_detach_group_handle() - undo domain_attach_group_handle()
 * @domain: the attached domain
 * @group: the group
 *
 * As domain_detach_group(), and the handle is forgotten.
 *
 * Context: process; takes the group's mutex.
 * Return: 0, or -EINVAL if @domain was not the attached domain; the group
 * is in the core's domain either way.
 */
int domain_detach_group_handle(struct iommu_domain *domain,
			       struct iommu_group *group)
{
	return iso_group_move(group, domain, NULL, ISO_DETACH | ISO_HANDLE);
}
EXPORT_SYMBOL_NS_GPL(domain_detach_group_handle, IOMMUFD_INTERNAL);

/**
 * iommu_attach_group_handle() - iommu_attach_group() with an attach handle
 * @domain: the domain
 * @group: the group
 * @handle: recorded for IOMMU_NO_PASID while the domain is attached
 *
 * Return: 0 or an errno as iommu_attach_group(); -EBUSY if a handle is
 * recorded already.
 */
int iommu_attach_group_handle(struct iommu_domain *domain,
			      struct iommu_group *group,
			      struct iommu_attach_handle *handle)
{
	return iso_group_move(group, domain, handle,
			      ISO_FROM_CORE | ISO_HANDLE);
}
EXPORT_SYMBOL_NS_GPL(iommu_attach_group_handle, IOMMUFD_INTERNAL);

/**
 * iommu_detach_group_handle() - undo iommu_attach_group_handle()
 * @domain: the attached domain
 * @group: the group
 */
void iommu_detach_group_handle(struct iommu_domain *domain,
			       struct iommu_group *group)
{
	iso_group_move(group, domain, NULL, ISO_DETACH | ISO_HANDLE);
}
EXPORT_SYMBOL_NS_GPL(iommu_detach_group_handle, IOMMUFD_INTERNAL);

/**
 * iommu_replace_group_handle() - move a group straight to another domain,
 *	with an attach handle
 * @group: the group
 * @new_domain: the domain
 * @handle: recorded for IOMMU_NO_PASID in place of the previous one
 *
 * Return: 0 or an errno; on failure nothing changed.
 */
int iommu_replace_group_handle(struct iommu_group *group,
			       struct iommu_domain *new_domain,
			       struct iommu_attach_handle *handle)
{
	return iso_group_move(group, new_domain, handle, ISO_HANDLE);
}
EXPORT_SYMBOL_NS_GPL(iommu_replace_group_handle, IOMMUFD_INTERNAL);
