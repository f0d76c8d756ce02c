/* SPDX-License-Identifier: GPL-2.0-only */
/**
 * DOC: isolation group states
 *
 * Isolation-group core: the kernel-internal API of IOMMU groups beyond
 * what <linux/iommu.h> declares.
 *
 * A group is the smallest set of devices the platform can isolate from
 * everything else. Every group has a default domain, made when the group
 * is set up and used by the DMA API. A group is in exactly one of these
 * states:
 *
 * default
 *	every device is in the default domain; DMA-API drivers may bind
 *	and use the DMA API.
 * blocked
 *	a user (VFIO, iommufd) holds the group and no domain is attached:
 *	all DMA is blocked.
 * attached
 *	every device is in a domain attached with domain_attach_group() or
 *	with the legacy iommu_attach_group() / iommu_attach_device().
 *
 * A group a user holds, or one that domain_attach_group() took, is taken
 * from the DMA API: dma_supported() is false for its devices and DMA-API
 * drivers cannot bind to them. A driver that attaches its own domain with
 * the legacy API keeps the DMA API, as it always did.
 */
#ifndef __LINUX_ISOLATION_H
#define __LINUX_ISOLATION_H

#include <linux/iommu.h>
#include <linux/types.h>

struct device;

#ifdef CONFIG_IOMMU_ISOLATION_GROUPS
int domain_attach_group(struct iommu_domain *domain, struct iommu_group *group);
int domain_detach_group(struct iommu_domain *domain, struct iommu_group *group);
bool iommu_dev_dma_api_usable(struct device *dev);
#else
/* Without the core, callers such as VFIO make the legacy calls. */
static inline int domain_attach_group(struct iommu_domain *domain,
				      struct iommu_group *group)
{
	return iommu_attach_group(domain, group);
}

static inline int domain_detach_group(struct iommu_domain *domain,
				      struct iommu_group *group)
{
	iommu_detach_group(domain, group);
	return 0;
}

static inline bool iommu_dev_dma_api_usable(struct device *dev)
{
	return true;
}
#endif

#endif /* __LINUX_ISOLATION_H */
