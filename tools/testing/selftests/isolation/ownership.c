// SPDX-License-Identifier: GPL-2.0
/*
 * DMA ownership of a group. While VFIO holds a group, a DMA-API driver
 * (edu_dma, /harness/edu_dma.ko) cannot bind to any device in it; once
 * VFIO lets go it can, and its DMA works. Conversely, while edu_dma is
 * bound to a device of a group, VFIO cannot take that group.
 *
 * Devices: a group of one (edu-rp1) and a group of two (edu-rp2a and
 * edu-rp2b, functions of one conventional device below rp2). AMD-Vi under
 * QEMU 7.2 corrupts the DMA of devices behind a root port, so on that
 * machine the root-bus edu-rc and edu-mf0/edu-mf1 stand in for them.
 *
 * "DMA works" is edu_dma's own check: its probe does a round trip through
 * a coherent buffer and fails with -EIO on a byte mismatch, and reading its
 * dma_test attribute does another and reads "ok <bytes>".
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "../kselftest_harness.h"
#include "isolation_util.h"
#include "vfio_util.h"

#define EDU_DMA_KO	"/harness/edu_dma.ko"
#define EDU_DMA_DRV	"edu_dma"
#define EDU_DMA_SYSFS	"/sys/bus/pci/drivers/" EDU_DMA_DRV

/* Load edu_dma.ko unless its driver is registered: 0, -ENOENT or -errno. */
static int edu_dma_load(void)
{
	int fd, ret = 0;

	if (!access(EDU_DMA_SYSFS, F_OK))
		return 0;
	fd = open(EDU_DMA_KO, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, "", 0) && errno != EEXIST)
		ret = -errno;
	close(fd);
	return ret;
}

/* Run edu_dma's round trip on @bdf; true when it reads "ok <bytes>". */
static bool edu_dma_ok(const char *bdf, char *res, size_t len)
{
	char path[PATH_MAX];
	int ret;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/dma_test", bdf);
	ret = iso_read(path, res, len);
	if (ret) {
		snprintf(res, len, "read dma_test: %s", strerror(-ret));
		return false;
	}
	return !strncmp(res, "ok ", 3) && atoi(res + 3) > 0;
}

static bool is_driver(const char *bdf, const char *want)
{
	char drv[64];

	return !iso_dev_driver(bdf, drv, sizeof(drv)) && !strcmp(drv, want);
}

/*
 * Stock 6.12 applies a VIOT, IORT or device-tree description of the IOMMU
 * to a PCI device only when a driver binds, so under virtio-iommu a device
 * without a driver has no group yet (groups.c reports that). Bind and
 * unbind vfio-pci to give @bdf its group; the group stays.
 */
static int probe_group(const char *bdf)
{
	int g = iso_dev_group(bdf);

	if (g >= 0)
		return g;
	iso_bind(bdf, "vfio-pci");
	vfio_release_bdf(bdf);
	return iso_dev_group(bdf);
}

static void vfio_ctx_reset(struct vfio_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->container = -1;
	c->group = -1;
	c->device = -1;
	c->iommufd = -1;
	c->groupnr = -1;
	c->step = "";
}

FIXTURE(ownership) {
	struct iso_topology topo;
	/* a device alone in its group */
	char one[ISO_BDF_LEN];
	/* two devices of one group: VFIO holds "held", edu_dma tries "other" */
	char held[ISO_BDF_LEN];
	char other[ISO_BDF_LEN];
	struct vfio_ctx c;
};

static void find_dev(struct __test_metadata *_metadata,
		     struct iso_topology *t, const char *name, char *bdf)
{
	struct iso_dev *d = iso_topology_find(t, name);

	ASSERT_NE(NULL, d) TH_LOG("%s is not in /harness/topology", name);
	ASSERT_NE('\0', d->bdf[0]) TH_LOG("%s is missing in the guest", name);
	snprintf(bdf, ISO_BDF_LEN, "%s", d->bdf);
}

FIXTURE_SETUP(ownership)
{
	const char *machine = getenv("ISOLATION_MACHINE");
	bool amd = machine && !strcmp(machine, "amd");
	int ret;

	vfio_ctx_reset(&self->c);
	ASSERT_EQ(0, iso_topology_load(&self->topo));
	if (amd) {
		TH_LOG("AMD-Vi (QEMU 7.2) corrupts DMA behind root ports: %s",
		       "using root-bus edu-rc, edu-mf0, edu-mf1");
		find_dev(_metadata, &self->topo, "edu-rc", self->one);
		find_dev(_metadata, &self->topo, "edu-mf0", self->held);
		find_dev(_metadata, &self->topo, "edu-mf1", self->other);
	} else {
		find_dev(_metadata, &self->topo, "edu-rp1", self->one);
		find_dev(_metadata, &self->topo, "edu-rp2a", self->held);
		find_dev(_metadata, &self->topo, "edu-rp2b", self->other);
	}

	ret = edu_dma_load();
	if (ret == -ENOENT)
		SKIP(return, "%s is absent (build edu_dma/ against this kernel)",
		     EDU_DMA_KO);
	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", EDU_DMA_KO, strerror(-ret));

	/* start from "no driver", whatever an earlier program left */
	ASSERT_EQ(0, vfio_release_bdf(self->one));
	ASSERT_EQ(0, vfio_release_bdf(self->held));
	ASSERT_EQ(0, vfio_release_bdf(self->other));

	ASSERT_LE(0, probe_group(self->one));
	ASSERT_LE(0, probe_group(self->held));
	ASSERT_EQ(iso_dev_group(self->held), probe_group(self->other))
		TH_LOG("%s and %s must share a group for this test",
		       self->held, self->other);
	ASSERT_NE(iso_dev_group(self->one), iso_dev_group(self->held));
}

/*
 * In the parent: after an ASSERT the 6.12 harness skips a teardown that runs
 * in the test process. That process has exited, which closed its VFIO file
 * descriptors; the drivers are what is left to restore.
 */
FIXTURE_TEARDOWN_PARENT(ownership)
{
	if (self->one[0])
		EXPECT_EQ(0, vfio_release_bdf(self->one));
	if (self->held[0])
		EXPECT_EQ(0, vfio_release_bdf(self->held));
	if (self->other[0])
		EXPECT_EQ(0, vfio_release_bdf(self->other));
}

/*
 * A group of one: VFIO takes it and lets it go; afterwards the DMA-API
 * driver binds and its DMA goes through a working default domain again.
 */
TEST_F(ownership, released_group_serves_dma_api)
{
	char res[128];
	int ret;

	ASSERT_EQ(0, iso_bind(self->one, "vfio-pci"));
	ret = vfio_type1_open(&self->c, self->one);
	ASSERT_EQ(0, ret) TH_LOG("VFIO open of %s: %s at %s", self->one,
				 strerror(-ret), self->c.step);
	vfio_ctx_close(&self->c);

	ASSERT_EQ(0, iso_unbind(self->one));
	ret = iso_bind(self->one, EDU_DMA_DRV);
	ASSERT_EQ(0, ret) TH_LOG("binding edu_dma to %s after VFIO: %s",
				 self->one, strerror(-ret));
	ASSERT_TRUE(is_driver(self->one, EDU_DMA_DRV));
	EXPECT_TRUE(edu_dma_ok(self->one, res, sizeof(res)))
		TH_LOG("dma_test of %s: %s", self->one, res);
}

/*
 * VFIO holds the group through one function; binding edu_dma to the other
 * function is refused by the driver core (iommu_device_use_default_domain:
 * -EBUSY). Once VFIO has closed and vfio-pci is unbound, the same bind
 * works and DMA moves.
 */
TEST_F(ownership, held_group_refuses_dma_api)
{
	char res[128];
	int ret;

	ASSERT_EQ(0, iso_bind(self->held, "vfio-pci"));
	ret = vfio_type1_open(&self->c, self->held);
	ASSERT_EQ(0, ret) TH_LOG("VFIO open of %s: %s at %s", self->held,
				 strerror(-ret), self->c.step);

	ret = iso_bind(self->other, EDU_DMA_DRV);
	EXPECT_EQ(-EBUSY, ret) TH_LOG("bind of edu_dma to %s next to VFIO-held %s: %s",
				      self->other, self->held, strerror(-ret));
	EXPECT_FALSE(is_driver(self->other, EDU_DMA_DRV));
	if (is_driver(self->other, EDU_DMA_DRV))
		EXPECT_EQ(0, iso_unbind(self->other));

	vfio_ctx_close(&self->c);
	ASSERT_EQ(0, vfio_release_bdf(self->held));

	ret = iso_bind(self->other, EDU_DMA_DRV);
	ASSERT_EQ(0, ret) TH_LOG("bind of edu_dma to %s after VFIO let go: %s",
				 self->other, strerror(-ret));
	ASSERT_TRUE(is_driver(self->other, EDU_DMA_DRV));
	EXPECT_TRUE(edu_dma_ok(self->other, res, sizeof(res)))
		TH_LOG("dma_test of %s: %s", self->other, res);
}

/*
 * edu_dma is bound to one function: the group is not viable and VFIO
 * cannot take it (VFIO_GROUP_SET_CONTAINER fails with EPERM or EBUSY); the
 * refused attempt leaves edu_dma's DMA working. Once edu_dma is unbound,
 * VFIO can take the group.
 */
TEST_F(ownership, dma_api_blocks_vfio)
{
	char res[128];
	int ret;

	ret = iso_bind(self->other, EDU_DMA_DRV);
	ASSERT_EQ(0, ret) TH_LOG("bind of edu_dma to %s: %s", self->other,
				 strerror(-ret));
	ASSERT_TRUE(edu_dma_ok(self->other, res, sizeof(res)))
		TH_LOG("dma_test of %s: %s", self->other, res);

	ASSERT_EQ(0, iso_bind(self->held, "vfio-pci"));
	ret = vfio_type1_open(&self->c, self->held);
	EXPECT_TRUE(ret == -EPERM || ret == -EBUSY)
		TH_LOG("VFIO open of %s while edu_dma drives %s: %s at %s (want EPERM or EBUSY)",
		       self->held, self->other, ret ? strerror(-ret) : "success",
		       self->c.step);
	if (self->c.group >= 0)
		EXPECT_FALSE(!!(self->c.group_flags & VFIO_GROUP_FLAGS_VIABLE))
			TH_LOG("group %d reported viable", self->c.groupnr);
	vfio_ctx_close(&self->c);

	EXPECT_TRUE(is_driver(self->other, EDU_DMA_DRV));
	EXPECT_TRUE(edu_dma_ok(self->other, res, sizeof(res)))
		TH_LOG("dma_test of %s after VFIO was refused: %s",
		       self->other, res);

	ASSERT_EQ(0, iso_unbind(self->other));
	vfio_ctx_reset(&self->c);
	ret = vfio_type1_open(&self->c, self->held);
	EXPECT_EQ(0, ret) TH_LOG("VFIO open of %s once edu_dma is gone: %s at %s",
				 self->held, strerror(-ret), self->c.step);
}

TEST_HARNESS_MAIN
