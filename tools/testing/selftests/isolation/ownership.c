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
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "../kselftest_harness.h"
#include "isolation_util.h"
#include "vfio_util.h"

static bool is_driver(const char *bdf, const char *want)
{
	char drv[64];

	return !iso_dev_driver(bdf, drv, sizeof(drv)) && !strcmp(drv, want);
}

FIXTURE(ownership) {
	struct iso_cleanup cl;
	/* a device alone in its group */
	char one[ISO_BDF_LEN];
	/* two devices of one group: VFIO holds "held", edu_dma tries "other" */
	char held[ISO_BDF_LEN];
	char other[ISO_BDF_LEN];
	struct vfio_ctx c;
	/* what the setup found: 0, or -errno of the first release */
	int release_ret;
	int group_one;
	int group_held;
	int group_other;
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
	struct iso_topology topo;
	const char *devs[3];
	int ret, i;

	iso_cleanup_init(&self->cl);
	vfio_ctx_init(&self->c);
	ASSERT_EQ(0, iso_topology_load(&topo));
	if (iso_port_dma_broken()) {
		TH_LOG("AMD-Vi (QEMU 7.2) corrupts DMA behind root ports: %s",
		       "using root-bus edu-rc, edu-mf0, edu-mf1");
		find_dev(_metadata, &topo, "edu-rc", self->one);
		find_dev(_metadata, &topo, "edu-mf0", self->held);
		find_dev(_metadata, &topo, "edu-mf1", self->other);
	} else {
		find_dev(_metadata, &topo, "edu-rp1", self->one);
		find_dev(_metadata, &topo, "edu-rp2a", self->held);
		find_dev(_metadata, &topo, "edu-rp2b", self->other);
	}
	devs[0] = self->one;
	devs[1] = self->held;
	devs[2] = self->other;
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, iso_cleanup_dev(&self->cl, devs[i]));

	ret = iso_cleanup_edu_dma(&self->cl);
	if (ret == -ENOENT)
		SKIP(return, "%s is absent (build edu_dma/ against this kernel)",
		     ISO_EDU_DMA_KO);
	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", ISO_EDU_DMA_KO, strerror(-ret));

	/*
	 * No ASSERT past this point (iso_cleanup): own_ready() checks. Start
	 * from "no driver", whatever an earlier program left.
	 */
	for (i = 0; i < 3; i++) {
		ret = vfio_release_bdf(devs[i]);
		self->release_ret = self->release_ret ? self->release_ret : ret;
	}
	self->group_one = iso_probe_group(self->one);
	self->group_held = iso_probe_group(self->held);
	self->group_other = iso_probe_group(self->other);
}

/* The devices as the tests need them: no driver, groups as described. */
static void own_ready(struct __test_metadata *_metadata, struct _test_data_ownership *self)
{
	ASSERT_EQ(0, self->release_ret) TH_LOG("releasing the devices: %s",
					       strerror(-self->release_ret));
	ASSERT_LE(0, self->group_one);
	ASSERT_LE(0, self->group_held);
	ASSERT_EQ(self->group_held, self->group_other)
		TH_LOG("%s and %s must share a group for this test",
		       self->held, self->other);
	ASSERT_NE(self->group_one, self->group_held);
}

/* The devices go back to no driver and edu_dma away (iso_cleanup). */
FIXTURE_TEARDOWN_PARENT(ownership)
{
	if (iso_cleanup_in_test(&self->cl))
		vfio_ctx_close(&self->c);
	EXPECT_EQ(0, iso_cleanup_run(&self->cl));
}

/* VFIO takes the group of @bdf: vfio-pci bound, opened into self->c. */
static void vfio_take(struct __test_metadata *_metadata, struct _test_data_ownership *self,
		      const char *bdf)
{
	int ret;

	ASSERT_EQ(0, iso_bind(bdf, "vfio-pci"));
	ret = vfio_type1_open(&self->c, bdf);
	ASSERT_EQ(0, ret) TH_LOG("VFIO open of %s: %s at %s", bdf, strerror(-ret),
				 self->c.step);
}

/* Once VFIO let go, edu_dma binds to @bdf and its DMA works. */
static void edu_dma_serves(struct __test_metadata *_metadata, const char *bdf)
{
	char res[128];
	int ret;

	ret = iso_bind(bdf, ISO_EDU_DMA);
	ASSERT_EQ(0, ret) TH_LOG("bind of edu_dma to %s after VFIO let go: %s", bdf,
				 strerror(-ret));
	ASSERT_TRUE(is_driver(bdf, ISO_EDU_DMA));
	EXPECT_TRUE(iso_edu_dma_test(bdf, res, sizeof(res)))
		TH_LOG("dma_test of %s: %s", bdf, res);
}

/*
 * A group of one: VFIO takes it and lets it go; afterwards the DMA-API
 * driver binds and its DMA goes through a working default domain again.
 */
TEST_F(ownership, released_group_serves_dma_api)
{
	own_ready(_metadata, self);
	vfio_take(_metadata, self, self->one);
	vfio_ctx_close(&self->c);

	ASSERT_EQ(0, iso_unbind(self->one));
	edu_dma_serves(_metadata, self->one);
}

/*
 * VFIO holds the group through one function; binding edu_dma to the other
 * function is refused by the driver core (iommu_device_use_default_domain:
 * -EBUSY). Once VFIO has closed and vfio-pci is unbound, the same bind
 * works and DMA moves.
 */
TEST_F(ownership, held_group_refuses_dma_api)
{
	int ret;

	own_ready(_metadata, self);
	vfio_take(_metadata, self, self->held);

	ret = iso_bind(self->other, ISO_EDU_DMA);
	EXPECT_EQ(-EBUSY, ret) TH_LOG("bind of edu_dma to %s next to VFIO-held %s: %s",
				      self->other, self->held, strerror(-ret));
	EXPECT_FALSE(is_driver(self->other, ISO_EDU_DMA));
	if (is_driver(self->other, ISO_EDU_DMA))
		EXPECT_EQ(0, iso_unbind(self->other));

	vfio_ctx_close(&self->c);
	ASSERT_EQ(0, vfio_release_bdf(self->held));
	edu_dma_serves(_metadata, self->other);
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

	own_ready(_metadata, self);
	ret = iso_bind(self->other, ISO_EDU_DMA);
	ASSERT_EQ(0, ret) TH_LOG("bind of edu_dma to %s: %s", self->other,
				 strerror(-ret));
	ASSERT_TRUE(iso_edu_dma_test(self->other, res, sizeof(res)))
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

	EXPECT_TRUE(is_driver(self->other, ISO_EDU_DMA));
	EXPECT_TRUE(iso_edu_dma_test(self->other, res, sizeof(res)))
		TH_LOG("dma_test of %s after VFIO was refused: %s",
		       self->other, res);

	ASSERT_EQ(0, iso_unbind(self->other));
	ret = vfio_type1_open(&self->c, self->held);
	EXPECT_EQ(0, ret) TH_LOG("VFIO open of %s once edu_dma is gone: %s at %s",
				 self->held, strerror(-ret), self->c.step);
}

TEST_HARNESS_MAIN
