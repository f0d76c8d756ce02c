/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VFIO helpers for the isolation selftests: open a PCI device bound to
 * vfio-pci through the legacy container (type1) or through its cdev and
 * iommufd, map its BAR0 and turn on bus mastering, map and unmap DMA, and
 * count IOMMU fault reports in the kernel log.
 *
 * Error convention: every function returns 0 or the -errno of the first
 * step that failed, and leaves the name of that step in c->step, so a test
 * can assert the exact refusal (e.g. -EPERM from VFIO_GROUP_SET_CONTAINER).
 * On failure the context keeps what was opened; vfio_ctx_close() releases
 * it in either case.
 */
#ifndef VFIO_UTIL_H
#define VFIO_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vfio_ctx {
	int container;		/* /dev/vfio/vfio (type1), else -1 */
	int group;		/* /dev/vfio/N (type1), else -1 */
	int groupnr;		/* IOMMU group number of the device */
	int device;		/* device fd from the group or the cdev */
	int iommufd;		/* /dev/iommu (cdev), else -1 */
	uint32_t ioas;		/* IOAS the cdev device is attached to */
	void *bar0;		/* BAR0 mapping, NULL until mapped */
	size_t bar0_size;
	char bdf[16];
	/* extensions */
	uint32_t group_flags;	/* VFIO_GROUP_GET_STATUS before SET_CONTAINER */
	uint32_t devid;		/* iommufd device id from BIND_IOMMUFD */
	const char *step;	/* step that failed, "" when all went well */
};

/*
 * Open @bdf (already bound to vfio-pci) through a new type1v2 container:
 * /dev/vfio/vfio, /dev/vfio/N, VFIO_GROUP_GET_STATUS (kept in group_flags;
 * SET_CONTAINER is tried anyway so that the kernel's own refusal is what is
 * returned), VFIO_GROUP_SET_CONTAINER, VFIO_SET_IOMMU(TYPE1v2),
 * VFIO_GROUP_GET_DEVICE_FD, BAR0 mmap and bus mastering.
 */
int vfio_type1_open(struct vfio_ctx *c, const char *bdf);

/*
 * Another device of the group @c already holds (e.g. one hot-added into
 * it): VFIO_GROUP_GET_DEVICE_FD on c->group, BAR0 mmap (when @bar0 is not
 * NULL) and bus mastering. Release with vfio_device_put().
 */
int vfio_type1_open_device(struct vfio_ctx *c, const char *bdf, int *devfd,
			   void **bar0, size_t *bar0_size);
void vfio_device_put(int devfd, void *bar0, size_t bar0_size);

/*
 * Open @bdf (bound to vfio-pci) through /dev/vfio/devices/vfioX and a new
 * iommufd: VFIO_DEVICE_BIND_IOMMUFD, IOMMU_IOAS_ALLOC,
 * VFIO_DEVICE_ATTACH_IOMMUFD_PT, BAR0 mmap and bus mastering.
 */
int vfio_cdev_open(struct vfio_ctx *c, const char *bdf);

/* Path of the cdev of @bdf ("/dev/vfio/devices/vfioX"); 0 or -errno. */
int vfio_cdev_path(const char *bdf, char *path, size_t len);

/*
 * Map @size bytes at @vaddr readable and writable at the fixed @iova, with
 * VFIO_IOMMU_MAP_DMA or IOMMU_IOAS_MAP, whichever @c uses.
 */
int vfio_dma_map(struct vfio_ctx *c, void *vaddr, uint64_t iova, uint64_t size);
int vfio_dma_unmap(struct vfio_ctx *c, uint64_t iova, uint64_t size);

/*
 * A context with nothing open, which vfio_ctx_close() leaves alone: for a
 * context in fixture data that is closed in a teardown whatever happened.
 */
void vfio_ctx_init(struct vfio_ctx *c);
void vfio_ctx_close(struct vfio_ctx *c);

/*
 * Put @bdf back to "no driver": unbind it and clear driver_override, so that
 * the next test finds the device as the boot left it. 0 or -errno.
 */
int vfio_release_bdf(const char *bdf);

/*
 * True when vfio_cdev_open() failed (@ret, c->step) with EPERM at
 * VFIO_DEVICE_BIND_IOMMUFD while iommufd.allow_unsafe_interrupts is off:
 * then the refusal may be for want of MSI isolation (virtio-iommu, AMD-Vi
 * without interrupt remapping) rather than for the group's owner.
 */
bool vfio_cdev_msi_refused(int ret, const char *step);

/*
 * Set PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY through the config region of
 * a VFIO device fd. 0 or -errno.
 */
int vfio_enable_bus_master(int devfd);

/*
 * IOMMU fault reports in the kernel log. iommu_faults_start() opens
 * /dev/kmsg at its current end; iommu_faults_wait() reads what was logged
 * since, for up to @timeout_ms or until at least @want reports were seen,
 * and returns the number seen since start (or -errno). The formats are
 * those of the 6.12 drivers: VT-d "DMAR: [DMA Read|Write ...]", AMD-Vi
 * "IO_PAGE_FAULT", SMMUv3 "event 0x10 received" (F_TRANSLATION; any
 * "event 0x.." counts), virtio-iommu "... fault from EP N".
 */
struct iommu_faults {
	int fd;
	int count;
	char last[256];		/* text of the last report seen */
};

int iommu_faults_start(struct iommu_faults *f);
int iommu_faults_wait(struct iommu_faults *f, int want, int timeout_ms);
void iommu_faults_stop(struct iommu_faults *f);

/* True when a kernel log line is an IOMMU fault report. */
bool iommu_fault_line(const char *msg);

/*
 * The IOMMU model that translates for @bdf, from its iommu link:
 * "VT-d", "AMD-Vi", "SMMUv3", "virtio-iommu", or "unknown".
 */
const char *iommu_model(const char *bdf);

#endif
