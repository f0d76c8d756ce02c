// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO viability: a group in which a device is bound to a host DMA-API
 * driver cannot be given to VFIO, and can once that device is unbound.
 *
 * What makes a group "not viable" in 6.12 is DMA ownership: a driver bound
 * without driver_managed_dma takes the group's default domain
 * (iommu_device_use_default_domain(), owner_cnt > 0 with no owner), so
 * iommu_group_claim_dma_owner() from VFIO_GROUP_SET_CONTAINER and
 * iommu_device_claim_dma_owner() from VFIO_DEVICE_BIND_IOMMUFD fail with
 * EPERM, and VFIO_GROUP_GET_STATUS leaves out VFIO_GROUP_FLAGS_VIABLE.
 * Devices with no driver, and drivers that manage DMA themselves (pcieport,
 * vfio-pci; pci-stub too, which is why it would be no help here) do not
 * count.
 *
 * host_driver: two edu functions of one multifunction device (conventional,
 * no ACS between functions, so one group), vfio-pci on the first and
 * edu_dma.ko on the second: edu_dma is a plain DMA-API driver whose probe
 * does a DMA round trip, so "bound" means it really uses the DMA API.
 *   root_bus   edu-mf0/edu-mf1 on the root bus
 *   root_port  edu-rp2a/edu-rp2b behind a root port; not on AMD-Vi, where
 *              QEMU 7.2 corrupts DMA behind root ports and edu_dma's probe
 *              fails
 * The kernel has no other host driver that would bind to a device sharing
 * a group with one VFIO can take: the multifunction e1000e (nic-mf0/1) is
 * split into one group per function by pci_quirk_rciep_acs, and pci-stub,
 * were it built, is driver_managed_dma.
 * Both the legacy container and the cdev/iommufd path are checked, refused
 * first and accepted after the unbind, so a refusal for another reason
 * (e.g. no MSI isolation) cannot pass as the rule.
 *
 * no_host_driver: the controls. A group with other devices that have no
 * driver (the pcie-pci-bridge, which nothing binds, and the second edu
 * behind it), or that are bound to the driver_managed_dma pcieport (a switch
 * downstream port grouped with its endpoint on stock), is viable.
 *
 * The teardown (iso_cleanup) gives every device its driver back as it
 * found it, with no driver_override, whatever the test did.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "../kselftest_harness.h"
#include "isolation_util.h"
#include "vfio_util.h"

/* Drivers that may sit in a group VFIO takes: they manage DMA themselves. */
static bool dma_managing_driver(const char *drv)
{
	return !drv[0] || !strcmp(drv, "vfio-pci") || !strcmp(drv, "pcieport");
}

static const char *cdev_hint(int ret, const char *step)
{
	if (vfio_cdev_msi_refused(ret, step))
		return " (no MSI isolation needs iommufd.allow_unsafe_interrupts=1)";
	return "";
}

FIXTURE(host_driver) {
	struct iso_cleanup cl;		/* drivers as found, restored after */
	char vfio_bdf[ISO_BDF_LEN];
	char host_bdf[ISO_BDF_LEN];
	int group;
	int bind_vfio;
	int bind_host;
};

FIXTURE_VARIANT(host_driver) {
	const char *vfio_dev;
	const char *host_dev;
	const char *host_drv;	/* edu_dma is loaded first */
	bool not_on_amd;	/* behind a root port: AMD-Vi in QEMU 7.2 corrupts DMA */
};

FIXTURE_VARIANT_ADD(host_driver, root_bus) {
	.vfio_dev = "edu-mf0",
	.host_dev = "edu-mf1",
	.host_drv = ISO_EDU_DMA,
};

FIXTURE_VARIANT_ADD(host_driver, root_port) {
	.vfio_dev = "edu-rp2a",
	.host_dev = "edu-rp2b",
	.host_drv = ISO_EDU_DMA,
	.not_on_amd = true,
};

FIXTURE_SETUP(host_driver)
{
	struct iso_topology topo;
	char cur[ISO_NAME_LEN] = "";
	struct iso_dev *v, *h;
	int ret;

	iso_cleanup_init(&self->cl);
	if (variant->not_on_amd && iso_port_dma_broken())
		SKIP(return, "AMD-Vi: QEMU 7.2 corrupts DMA behind root ports, %s probe fails -EIO",
		     variant->host_drv);
	ASSERT_EQ(0, iso_topology_load(&topo));
	v = iso_topology_find(&topo, variant->vfio_dev);
	h = iso_topology_find(&topo, variant->host_dev);
	ASSERT_TRUE(v && h);
	if (!v->bdf[0] || !h->bdf[0])
		SKIP(return, "%s or %s not present", variant->vfio_dev, variant->host_dev);
	snprintf(self->vfio_bdf, sizeof(self->vfio_bdf), "%s", v->bdf);
	snprintf(self->host_bdf, sizeof(self->host_bdf), "%s", h->bdf);
	ASSERT_EQ(0, iso_cleanup_dev(&self->cl, v->bdf));
	ASSERT_EQ(0, iso_cleanup_dev(&self->cl, h->bdf));
	if (!strcmp(variant->host_drv, ISO_EDU_DMA)) {
		ret = iso_cleanup_edu_dma(&self->cl);
		if (ret == -ENOENT)
			SKIP(return, "%s not in this guest", ISO_EDU_DMA_KO);
		ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", ISO_EDU_DMA_KO, strerror(-ret));
	}

	/* no ASSERT past this point, the tests check the results (iso_cleanup) */
	iso_dev_driver(h->bdf, cur, sizeof(cur));
	if (strcmp(cur, variant->host_drv))
		self->bind_host = iso_bind(h->bdf, variant->host_drv);
	self->bind_vfio = iso_bind(v->bdf, "vfio-pci");
	ksft_print_msg("%s %s -> vfio-pci (%d), %s %s -> %s (%d), IOMMU %s\n",
		       variant->vfio_dev, v->bdf, self->bind_vfio, variant->host_dev, h->bdf,
		       variant->host_drv, self->bind_host, iommu_model(v->bdf));
}

/* No VFIO file stays open past an ASSERT here: the drivers are what is left. */
FIXTURE_TEARDOWN_PARENT(host_driver)
{
	EXPECT_EQ(0, iso_cleanup_run(&self->cl));
}

/*
 * (FIXTURE_DATA/FIXTURE_VARIANT spelled out as their structs for checkpatch,
 * as in vfio_dma_tests.h.)
 * The groups are read once both drivers are bound: with virtio-iommu on x86
 * (ACPI VIOT) 6.12 gives a device its group only when a driver binds.
 * False (and SKIP) when the pair does not share a group here.
 */
static bool host_bound(struct __test_metadata *_metadata, struct _test_data_host_driver *self,
		       const struct _fixture_variant_host_driver *variant)
{
	char drv[ISO_NAME_LEN];
	int hg;

	self->group = iso_dev_group(self->vfio_bdf);
	hg = iso_dev_group(self->host_bdf);
	if (self->group < 0) {
		SKIP(return false, "%s has no IOMMU group, not even when vfio-pci binds (%s)",
		     self->vfio_bdf, strerror(-self->bind_vfio));
	}
	if (hg != self->group) {
		SKIP(return false, "%s (group %d) and %s (group %d) do not share a group here",
		     variant->vfio_dev, self->group, variant->host_dev, hg);
	}
	ksft_print_msg("both in group %d\n", self->group);
	EXPECT_EQ(0, self->bind_vfio)
		TH_LOG("binding %s to vfio-pci: %s", self->vfio_bdf, strerror(-self->bind_vfio));
	EXPECT_EQ(0, self->bind_host)
		TH_LOG("binding %s to %s: %s", self->host_bdf, variant->host_drv,
		       strerror(-self->bind_host));
	EXPECT_EQ(0, iso_dev_driver(self->host_bdf, drv, sizeof(drv)));
	EXPECT_STREQ(variant->host_drv, drv);
	return _metadata->exit_code == KSFT_PASS;
}

TEST_F(host_driver, type1_refused_until_unbound)
{
	struct vfio_ctx c;
	int ret;

	if (!host_bound(_metadata, self, variant))
		return;

	ret = vfio_type1_open(&c, self->vfio_bdf);
	ksft_print_msg("with %s bound: %s -> %s, group flags %#x\n", variant->host_drv,
		       c.step[0] ? c.step : "opened", strerror(-ret), c.group_flags);
	vfio_ctx_close(&c);
	ASSERT_STREQ("VFIO_GROUP_SET_CONTAINER", c.step);
	ASSERT_EQ(-EPERM, ret);
	ASSERT_EQ(0U, c.group_flags & VFIO_GROUP_FLAGS_VIABLE);

	ASSERT_EQ(0, iso_unbind(self->host_bdf));
	ret = vfio_type1_open(&c, self->vfio_bdf);
	ksft_print_msg("%s unbound: %s -> %s, group flags %#x\n", self->host_bdf,
		       c.step[0] ? c.step : "opened", strerror(-ret), c.group_flags);
	vfio_ctx_close(&c);
	ASSERT_EQ(0, ret)
		TH_LOG("%s failed: %s", c.step, strerror(-ret));
	ASSERT_NE(0U, c.group_flags & VFIO_GROUP_FLAGS_VIABLE);
}

TEST_F(host_driver, cdev_refused_until_unbound)
{
	struct vfio_ctx c;
	int ret;

	if (!host_bound(_metadata, self, variant))
		return;

	ret = vfio_cdev_open(&c, self->vfio_bdf);
	ksft_print_msg("with %s bound: %s -> %s\n", variant->host_drv,
		       c.step[0] ? c.step : "opened", strerror(-ret));
	vfio_ctx_close(&c);
	ASSERT_STREQ("VFIO_DEVICE_BIND_IOMMUFD", c.step);
	ASSERT_EQ(-EPERM, ret);

	ASSERT_EQ(0, iso_unbind(self->host_bdf));
	ret = vfio_cdev_open(&c, self->vfio_bdf);
	ksft_print_msg("%s unbound: %s -> %s\n", self->host_bdf,
		       c.step[0] ? c.step : "opened", strerror(-ret));
	vfio_ctx_close(&c);
	ASSERT_EQ(0, ret)
		TH_LOG("%s failed: %s%s", c.step, strerror(-ret), cdev_hint(ret, c.step));
}

FIXTURE(no_host_driver) {
	struct iso_cleanup cl;
	char bdf[ISO_BDF_LEN];
	int group;
	int bind_vfio;
};

FIXTURE_VARIANT(no_host_driver) {
	const char *vfio_dev;
	const char *why;
};

FIXTURE_VARIANT_ADD(no_host_driver, bridge) {
	.vfio_dev = "edu-pb1",
	.why = "behind the pcie-pci-bridge: bridge and edu-pb2 have no driver",
};

FIXTURE_VARIANT_ADD(no_host_driver, switch_port) {
	.vfio_dev = "edu-sw1",
	.why = "below an ACS-less switch port bound to pcieport",
};

FIXTURE_SETUP(no_host_driver)
{
	struct iso_topology topo;
	struct iso_dev *d;

	iso_cleanup_init(&self->cl);
	ASSERT_EQ(0, iso_topology_load(&topo));
	d = iso_topology_find(&topo, variant->vfio_dev);
	ASSERT_NE(NULL, d);
	if (!d->bdf[0])
		SKIP(return, "%s not present", variant->vfio_dev);
	snprintf(self->bdf, sizeof(self->bdf), "%s", d->bdf);
	ASSERT_EQ(0, iso_cleanup_dev(&self->cl, d->bdf));
	self->bind_vfio = iso_bind(d->bdf, "vfio-pci");
}

FIXTURE_TEARDOWN_PARENT(no_host_driver)
{
	EXPECT_EQ(0, iso_cleanup_run(&self->cl));
}

TEST_F(no_host_driver, viable)
{
	char dir[PATH_MAX], drv[ISO_NAME_LEN];
	int others = 0, managed = 0, ret;
	struct dirent *de;
	struct vfio_ctx c;
	DIR *d;

	/* read once bound, as in host_bound() */
	self->group = iso_dev_group(self->bdf);
	if (self->group < 0)
		SKIP(return, "%s has no IOMMU group, not even when vfio-pci binds (%s)",
		     self->bdf, strerror(-self->bind_vfio));
	ASSERT_EQ(0, self->bind_vfio)
		TH_LOG("binding %s to vfio-pci: %s", self->bdf, strerror(-self->bind_vfio));

	snprintf(dir, sizeof(dir), ISO_GROUPS_DIR "/%d/devices", self->group);
	d = opendir(dir);
	ASSERT_NE(NULL, d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, self->bdf))
			continue;
		ASSERT_EQ(0, iso_dev_driver(de->d_name, drv, sizeof(drv)));
		ksft_print_msg("group %d also holds %s, driver %s\n", self->group,
			       de->d_name, drv[0] ? drv : "(none)");
		if (!dma_managing_driver(drv)) {
			closedir(d);
			SKIP(return, "%s in group %d is bound to %s: not a control",
			     de->d_name, self->group, drv);
		}
		others++;
		managed += !!drv[0];
	}
	closedir(d);
	if (!others)
		SKIP(return, "%s is alone in group %d here: nothing to show", self->bdf,
		     self->group);
	ksft_print_msg("%s: %d other device(s), %d bound to a DMA-managing driver\n",
		       variant->why, others, managed);

	ret = vfio_type1_open(&c, self->bdf);
	vfio_ctx_close(&c);
	ASSERT_EQ(0, ret)
		TH_LOG("type1: %s failed: %s", c.step, strerror(-ret));
	ASSERT_NE(0U, c.group_flags & VFIO_GROUP_FLAGS_VIABLE);

	ret = vfio_cdev_open(&c, self->bdf);
	vfio_ctx_close(&c);
	ASSERT_EQ(0, ret)
		TH_LOG("cdev: %s failed: %s%s", c.step, strerror(-ret), cdev_hint(ret, c.step));
}

TEST_HARNESS_MAIN
