// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO through the device cdev and iommufd: an edu bound to vfio-pci, opened
 * as /dev/vfio/devices/vfioN, bound to a /dev/iommu context, attached to an
 * IOAS in which the buffer is mapped with IOMMU_IOAS_MAP at fixed IOVAs. The
 * shared tests (vfio_dma_tests.h) move bytes both ways, check that unmapped
 * IOVAs do not land and fault, and that IOMMU_IOAS_UNMAP revokes access;
 * detach_blocks checks that detaching the device from the IOAS blocks its
 * DMA and attaching it again lets it through.
 */
#include <sys/ioctl.h>

#include <linux/vfio.h>

#include "vfio_dma_tests.h"

/*
 * Without MSI isolation (virtio-iommu, AMD-Vi without interrupt remapping)
 * iommufd refuses the bind with EPERM unless iommufd.allow_unsafe_interrupts
 * is set; name that cause instead of leaving a bare EPERM.
 */
static int cdev_open(struct vfio_ctx *c, const char *bdf)
{
	int ret = vfio_cdev_open(c, bdf);

	if (vfio_cdev_msi_refused(ret, c->step))
		c->step = "VFIO_DEVICE_BIND_IOMMUFD (iommufd.allow_unsafe_interrupts=N)";
	return ret;
}

FIXTURE_VARIANT_ADD(vfio_dma, cdev) {
	.api = "cdev",
	.open = cdev_open,
};

static void set_attached(struct __test_metadata *_metadata, struct _test_data_vfio_dma *self,
			 bool attach)
{
	struct vfio_device_attach_iommufd_pt at = {
		.argsz = sizeof(at),
		.pt_id = self->c.ioas,
	};
	struct vfio_device_detach_iommufd_pt de = { .argsz = sizeof(de) };

	if (attach) {
		ASSERT_EQ(0, ioctl(self->c.device, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at))
			TH_LOG("VFIO_DEVICE_ATTACH_IOMMUFD_PT: %s", strerror(errno));
	} else {
		ASSERT_EQ(0, ioctl(self->c.device, VFIO_DEVICE_DETACH_IOMMUFD_PT, &de))
			TH_LOG("VFIO_DEVICE_DETACH_IOMMUFD_PT: %s", strerror(errno));
	}
}

/*
 * Detached, the device sits in the blocking domain of its owned group: the
 * IOAS mappings are still there but reach nothing. Attached again, they do.
 */
TEST_F(vfio_dma, detach_blocks)
{
	dma_ready(_metadata, self);
	dma_load_device(_metadata, self, EDU_MAX_XFER);
	set_attached(_metadata, self, false);

	/* the still-mapped IOVAs: the device must neither write nor read */
	dma_try_cut_off(_metadata, self, "while detached");

	set_attached(_metadata, self, true);
	dma_expect_src_not_received(_metadata, self, "read while detached");

	/* attached again: both directions work */
	dma_load_device(_metadata, self, EDU_MAX_XFER);
}

TEST_HARNESS_MAIN
