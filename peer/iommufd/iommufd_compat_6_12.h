/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Names the upstream iommufd selftests of the Debian 6.12.117 tree use but
 * that the 6.12 uapi (include/uapi/linux/iommufd.h) and the 6.12 mock driver
 * (drivers/iommu/iommufd/iommufd_test.h) do not define. The selftest sources
 * came in with stable backports; the kernel side did not. See README.md.
 *
 * The values are the ones upstream gave these names, so that the bytes the
 * tests hand to the kernel are what a newer userspace would hand it: the
 * point is to see what 6.12 does with them, not to hide them.
 *
 * Only for a base whose headers lack them: scripts/build-peer.sh refuses to
 * use this file once the installed uapi has in_data_type.
 */
#ifndef __IOMMUFD_COMPAT_6_12_H
#define __IOMMUFD_COMPAT_6_12_H

/*
 * uapi, enum iommu_hw_info_type: "no explicit type, the driver's default".
 * Upstream it is an alias of IOMMU_HW_INFO_TYPE_NONE (0); in 6.12 every
 * IOMMU_GET_HW_INFO call is of this kind.
 */
#define IOMMU_HW_INFO_TYPE_DEFAULT	IOMMU_HW_INFO_TYPE_NONE

/*
 * uapi, enum iommufd_hw_info_flags: "in_data_type carries a requested
 * type". 6.12's iommufd_get_hw_info() (drivers/iommu/iommufd/device.c)
 * refuses any non-zero iommu_hw_info.flags with -EOPNOTSUPP.
 */
#define IOMMU_HW_INFO_FLAG_INPUT_TYPE	(1 << 0)

/*
 * mock driver, device flag "PASID capable" (upstream such a mock device
 * reports a PASID width of MOCK_PASID_WIDTH, 20). 6.12's mock_dev_create()
 * (drivers/iommu/iommufd/selftest.c) accepts only MOCK_FLAGS_DEVICE_NO_DIRTY
 * | MOCK_FLAGS_DEVICE_HUGE_IOVA and returns -EINVAL for this one. The
 * adapted tests no longer use MOCK_PASID_WIDTH, so it is not defined here.
 */
#define MOCK_FLAGS_DEVICE_PASID		(1 << 2)

#endif
