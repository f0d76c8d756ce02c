// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO through the legacy container: an edu bound to vfio-pci, its group set
 * to a type1v2 container, a buffer mapped with VFIO_IOMMU_MAP_DMA at fixed
 * IOVAs. The tests (vfio_dma_tests.h) move bytes both ways, check that
 * transfers through unmapped IOVAs do not land and are reported as faults,
 * and that VFIO_IOMMU_UNMAP_DMA revokes access.
 */
#include "vfio_dma_tests.h"

FIXTURE_VARIANT_ADD(vfio_dma, type1) {
	.api = "type1",
	.open = vfio_type1_open,
};

TEST_HARNESS_MAIN
