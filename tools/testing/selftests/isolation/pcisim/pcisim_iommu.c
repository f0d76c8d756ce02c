// SPDX-License-Identifier: GPL-2.0
/*
 * pcisim: the mock IOMMU that translates pcisim devices.
 *
 * It has a fwnode of its own, and every pcisim device gets a fwspec
 * naming it when the device is added (a bus notifier ahead of the IOMMU
 * core's), the way firmware-described IOMMUs find their devices. So it
 * takes only pcisim devices and coexists with the machine's IOMMU (whose
 * devices have no fwspec, or another one), and the variant's own probe
 * and group code runs: device_group is pci_device_group(). Domains only
 * record the attach; nothing does DMA on pcisim devices.
 */
#define pr_fmt(fmt) "pcisim: " fmt

#include <linux/atomic.h>
#include <linux/device.h>
#include <linux/fwnode.h>
#include <linux/iommu.h>
#include <linux/moduleparam.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "pcisim.h"

static struct fwnode_handle psim_fwnode;
static struct iommu_device psim_iommu;
static bool psim_sysfs_added;

/*
 * make bench's memory baseline: the same scan with every device refused,
 * so the difference is what the IOMMU layer keeps per device and group.
 */
static bool psim_refuse;
module_param_named(refuse, psim_refuse, bool, 0644);
MODULE_PARM_DESC(refuse, "probe_device refuses every device (no IOMMU group)");

/* Attach counts by domain kind, printed in debugfs "stats" */
atomic_t psim_attach_identity, psim_attach_blocked, psim_attach_paging;

struct psim_domain {
	struct iommu_domain domain;
	struct xarray pages;		/* IOVA pfn -> xa_mk_value(pfn) */
};

static int psim_identity_attach(struct iommu_domain *domain,
				struct device *dev)
{
	atomic_inc(&psim_attach_identity);
	return 0;
}

static const struct iommu_domain_ops psim_identity_ops = {
	.attach_dev = psim_identity_attach,
};

static struct iommu_domain psim_identity_domain = {
	.type = IOMMU_DOMAIN_IDENTITY,
	.ops = &psim_identity_ops,
};

static int psim_blocked_attach(struct iommu_domain *domain, struct device *dev)
{
	atomic_inc(&psim_attach_blocked);
	return 0;
}

static const struct iommu_domain_ops psim_blocked_ops = {
	.attach_dev = psim_blocked_attach,
};

static struct iommu_domain psim_blocked_domain = {
	.type = IOMMU_DOMAIN_BLOCKED,
	.ops = &psim_blocked_ops,
};

static struct psim_domain *to_psim_domain(struct iommu_domain *domain)
{
	return container_of(domain, struct psim_domain, domain);
}

static int psim_paging_attach(struct iommu_domain *domain, struct device *dev)
{
	atomic_inc(&psim_attach_paging);
	return 0;
}

static int psim_map_pages(struct iommu_domain *domain, unsigned long iova,
			  phys_addr_t paddr, size_t pgsize, size_t pgcount,
			  int prot, gfp_t gfp, size_t *mapped)
{
	struct psim_domain *d = to_psim_domain(domain);
	unsigned long pfn = iova >> PAGE_SHIFT;
	size_t i;
	int ret;

	for (i = 0; i < pgcount; i++) {
		ret = xa_err(xa_store(&d->pages, pfn + i,
				      xa_mk_value((paddr >> PAGE_SHIFT) + i),
				      gfp));
		if (ret)
			return ret;
		*mapped += pgsize;
	}
	return 0;
}

static size_t psim_unmap_pages(struct iommu_domain *domain, unsigned long iova,
			       size_t pgsize, size_t pgcount,
			       struct iommu_iotlb_gather *gather)
{
	struct psim_domain *d = to_psim_domain(domain);
	unsigned long pfn = iova >> PAGE_SHIFT;
	size_t i;

	for (i = 0; i < pgcount; i++)
		xa_erase(&d->pages, pfn + i);
	return pgsize * pgcount;
}

static phys_addr_t psim_iova_to_phys(struct iommu_domain *domain,
				     dma_addr_t iova)
{
	struct psim_domain *d = to_psim_domain(domain);
	void *entry = xa_load(&d->pages, iova >> PAGE_SHIFT);

	if (!entry)
		return 0;
	return ((phys_addr_t)xa_to_value(entry) << PAGE_SHIFT) |
	       (iova & ~PAGE_MASK);
}

static void psim_domain_free(struct iommu_domain *domain)
{
	struct psim_domain *d = to_psim_domain(domain);

	xa_destroy(&d->pages);
	kfree(d);
}

static const struct iommu_domain_ops psim_paging_ops = {
	.attach_dev = psim_paging_attach,
	.map_pages = psim_map_pages,
	.unmap_pages = psim_unmap_pages,
	.iova_to_phys = psim_iova_to_phys,
	.free = psim_domain_free,
};

static struct iommu_domain *psim_domain_alloc_paging(struct device *dev)
{
	struct psim_domain *d = kzalloc(sizeof(*d), GFP_KERNEL);

	if (!d)
		return ERR_PTR(-ENOMEM);
	xa_init(&d->pages);
	d->domain.ops = &psim_paging_ops;
	d->domain.pgsize_bitmap = PAGE_SIZE;
	d->domain.geometry.aperture_start = 0;
	d->domain.geometry.aperture_end = DMA_BIT_MASK(48);
	d->domain.geometry.force_aperture = true;
	return &d->domain;
}

static struct iommu_device *psim_probe_device(struct device *dev)
{
	if (!psim_dev_is_ours(dev) || READ_ONCE(psim_refuse))
		return ERR_PTR(-ENODEV);
	return &psim_iommu;
}

static void psim_release_device(struct device *dev)
{
}

static int psim_def_domain_type(struct device *dev)
{
	return IOMMU_DOMAIN_IDENTITY;
}

static bool psim_capable(struct device *dev, enum iommu_cap cap)
{
	return false;
}

static const struct iommu_ops psim_ops = {
	.owner = THIS_MODULE,
	.capable = psim_capable,
	.domain_alloc_paging = psim_domain_alloc_paging,
	.probe_device = psim_probe_device,
	.release_device = psim_release_device,
	.device_group = pci_device_group,
	.def_domain_type = psim_def_domain_type,
	.identity_domain = &psim_identity_domain,
	.blocked_domain = &psim_blocked_domain,
	.pgsize_bitmap = PAGE_SIZE,
	.default_domain_ops = &psim_paging_ops,
};

/*
 * Runs before the IOMMU core's notifier (priority), which probes the
 * device through the fwspec set here.
 *
 * The core asserts iommu_probe_device_lock in dev_iommu_get(), which is
 * not exported: lockdep kernels warn here. Nothing else knows the device
 * yet, so nothing races with the fwspec being set.
 */
static int psim_notify(struct notifier_block *nb, unsigned long action,
		       void *data)
{
	struct device *dev = data;
	int ret;

	if (action != BUS_NOTIFY_ADD_DEVICE || !psim_dev_is_ours(dev))
		return NOTIFY_DONE;
	ret = iommu_fwspec_init(dev, &psim_fwnode);
	if (ret)
		dev_warn(dev, "pcisim: no fwspec: %d\n", ret);
	return NOTIFY_DONE;
}

static struct notifier_block psim_nb = {
	.notifier_call = psim_notify,
	.priority = INT_MAX,
};

int psim_iommu_init(struct device *parent)
{
	int ret;

	fwnode_init(&psim_fwnode, NULL);
	ret = iommu_device_sysfs_add(&psim_iommu, parent, NULL, "pcisim");
	if (ret)
		return ret;
	psim_sysfs_added = true;
	ret = bus_register_notifier(&pci_bus_type, &psim_nb);
	if (ret)
		goto err_sysfs;
	/* No hwdev: it would replace the fwnode with the parent's (none) */
	psim_iommu.fwnode = &psim_fwnode;
	ret = iommu_device_register(&psim_iommu, &psim_ops, NULL);
	if (ret)
		goto err_nb;
	return 0;

err_nb:
	bus_unregister_notifier(&pci_bus_type, &psim_nb);
err_sysfs:
	iommu_device_sysfs_remove(&psim_iommu);
	psim_sysfs_added = false;
	return ret;
}

void psim_iommu_exit(void)
{
	if (!psim_sysfs_added)
		return;
	iommu_device_unregister(&psim_iommu);
	bus_unregister_notifier(&pci_bus_type, &psim_nb);
	iommu_device_sysfs_remove(&psim_iommu);
	psim_sysfs_added = false;
}
