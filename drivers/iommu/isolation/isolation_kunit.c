// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests of the isolation-group core: the rules of the core, on the
 * mock IOMMU driver of isolation_mock.c. Every case asserts on the domain
 * the mock's hardware translates with, not on the core's bookkeeping.
 */
#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/iommu.h>
#include <linux/iommu-dma.h>
#include <linux/isolation.h>
#include <linux/list.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/sysfs.h>

#include "core.h"
#include "isolation_mock.h"
#include "../iommu-priv.h"

/* Rule 1: a key is a group; devices and groups link to each other */
static void enumeration_groups_devices_by_key(struct kunit *test)
{
	struct mock_dev *a0 = mock_dev_add(test, 1);
	struct mock_dev *a1 = mock_dev_add(test, 1);
	struct mock_dev *b = mock_dev_add(test, 2);
	struct iommu_group *ga = mock_group(a0), *gb = mock_group(b);
	struct walk_result walk = { .key = 1 };
	struct iommu_group *got;

	KUNIT_EXPECT_PTR_EQ(test, mock_group(a1), ga);
	KUNIT_EXPECT_PTR_NE(test, gb, ga);
	KUNIT_EXPECT_NE(test, iommu_group_id(ga), iommu_group_id(gb));
	KUNIT_EXPECT_EQ(test, list_count_nodes(&ga->devices), 2);
	KUNIT_EXPECT_EQ(test, list_count_nodes(&gb->devices), 1);

	got = iommu_group_get(&a1->dev);
	KUNIT_EXPECT_PTR_EQ(test, got, ga);
	iommu_group_put(got);

	KUNIT_EXPECT_EQ(test, iommu_group_for_each_dev(ga, &walk, walk_count),
			0);
	KUNIT_EXPECT_EQ(test, walk.devices, 2);
	KUNIT_EXPECT_EQ(test, walk.of_key, 2);

	KUNIT_EXPECT_TRUE(test, group_in_sysfs(iommu_group_id(ga)));
	KUNIT_EXPECT_TRUE(test, group_in_sysfs(iommu_group_id(gb)));
}

static void expect_linked(struct kunit *test, struct mock_dev *mdev,
			  struct iommu_group *group)
{
	struct device *dev = &mdev->dev;

	KUNIT_EXPECT_PTR_EQ(test, link_target(dev->kobj.sd, "iommu_group"),
			    group->kobj.sd);
	KUNIT_EXPECT_PTR_EQ(test, link_target(dev->kobj.sd, "isolation_group"),
			    group->kobj.sd);
	KUNIT_EXPECT_PTR_EQ(test, link_target(group->devices_kobj->sd,
					      dev_name(dev)), dev->kobj.sd);
}

/* Rule 1: the sysfs links come with membership and go with it */
static void enumeration_sysfs_links(struct kunit *test)
{
	struct mock_dev *a0 = mock_dev_add(test, 1);
	struct mock_dev *a1 = mock_dev_add(test, 1);
	struct iommu_group *group = mock_group(a0);
	struct device *dev = &a1->dev;

	expect_linked(test, a0, group);
	expect_linked(test, a1, group);

	iommu_release_device(dev);
	KUNIT_EXPECT_NULL(test, dev->iommu_group);
	KUNIT_EXPECT_TRUE(test, a1->released);
	KUNIT_EXPECT_EQ(test, list_count_nodes(&group->devices), 1);
	KUNIT_EXPECT_NULL(test, link_target(dev->kobj.sd, "iommu_group"));
	KUNIT_EXPECT_NULL(test, link_target(dev->kobj.sd, "isolation_group"));
	KUNIT_EXPECT_NULL(test, link_target(group->devices_kobj->sd,
					    dev_name(dev)));
	/* The other member is untouched */
	expect_linked(test, a0, group);
}

/* Rule 2: probing makes the default domain and puts every device in it */
static void default_domain_set_at_probe(struct kunit *test)
{
	struct mock_dev *devs[2];
	struct iommu_domain *def;
	struct iommu_group *group;
	int i;

	group = mock_pair(test, devs, &def);

	KUNIT_ASSERT_NOT_NULL(test, def);
	KUNIT_EXPECT_PTR_EQ(test, group->domain, def);
	expect_devs_in(test, devs, 2, def, "after probe");
	for (i = 0; i < 2; i++) {
		KUNIT_EXPECT_PTR_EQ(test, iommu_get_domain_for_dev(&devs[i]->dev),
				    def);
		KUNIT_EXPECT_TRUE(test, iommu_dev_dma_api_usable(&devs[i]->dev));
	}

	if (def->type == IOMMU_DOMAIN_IDENTITY) {
		KUNIT_EXPECT_PTR_EQ(test, def, &mock_identity_domain);
	} else {
		KUNIT_EXPECT_TRUE(test, iommu_is_dma_domain(def));
		KUNIT_EXPECT_PTR_EQ(test, def->owner, &mock_ops);
	}
	/* dma-iommu runs the DMA API of a device in a DMA domain */
	for (i = 0; i < 2; i++)
		KUNIT_EXPECT_EQ(test, use_dma_iommu(&devs[i]->dev),
				iommu_is_dma_domain(def));
}

/* Rule 2: the driver's def_domain_type decides a new group's type */
static void default_domain_follows_driver_type(struct kunit *test)
{
	struct mock_dev *ident, *dma;
	struct iommu_domain *def;

	mock_def_type = IOMMU_DOMAIN_IDENTITY;
	ident = mock_dev_add(test, 1);
	KUNIT_EXPECT_PTR_EQ(test, iommu_group_default_domain(mock_group(ident)),
			    &mock_identity_domain);
	KUNIT_EXPECT_PTR_EQ(test, ident->domain, &mock_identity_domain);

	if (!IS_ENABLED(CONFIG_IOMMU_DMA))
		kunit_skip(test, "no DMA domains without CONFIG_IOMMU_DMA");

	mock_def_type = IOMMU_DOMAIN_DMA;
	dma = mock_dev_add(test, 2);
	def = iommu_group_default_domain(mock_group(dma));
	KUNIT_ASSERT_NOT_NULL(test, def);
	KUNIT_EXPECT_EQ(test, def->type, IOMMU_DOMAIN_DMA);
	KUNIT_EXPECT_PTR_EQ(test, def->owner, &mock_ops);
	KUNIT_EXPECT_PTR_EQ(test, dma->domain, def);
	KUNIT_EXPECT_TRUE(test, use_dma_iommu(&dma->dev));
}

/* Rule 3: a successful attach moves every device and ends the DMA API */
static void attach_moves_every_device(struct kunit *test)
{
	struct mock_dev *devs[3];
	struct iommu_group *group;
	struct iommu_domain *def, *dom;
	int i;

	for (i = 0; i < 3; i++)
		devs[i] = mock_dev_add(test, 1);
	group = mock_group(devs[0]);
	def = iommu_group_default_domain(group);
	dom = mock_user_domain(test, devs[0]);

	/* The DMA API works before, so a failure below is the attach's */
	for (i = 0; i < 3; i++) {
		KUNIT_ASSERT_NOT_NULL(test, devs[i]->dev.dma_mask);
		KUNIT_EXPECT_EQ(test, dma_set_mask(&devs[i]->dev,
						   DMA_BIT_MASK(32)), 0);
	}

	KUNIT_ASSERT_EQ(test, domain_attach_group(dom, group), 0);
	KUNIT_EXPECT_PTR_EQ(test, group->domain, dom);
	KUNIT_EXPECT_PTR_EQ(test, iommu_group_default_domain(group), def);
	expect_devs_in(test, devs, 3, dom, "attached");
	for (i = 0; i < 3; i++) {
		struct device *dev = &devs[i]->dev;

		KUNIT_EXPECT_PTR_EQ(test, iommu_get_domain_for_dev(dev), dom);
		KUNIT_EXPECT_FALSE(test, iommu_dev_dma_api_usable(dev));
		KUNIT_EXPECT_NE(test, dma_set_mask(dev, DMA_BIT_MASK(32)), 0);
		KUNIT_EXPECT_NE(test, dma_set_coherent_mask(dev,
							    DMA_BIT_MASK(32)),
				0);
	}

	KUNIT_EXPECT_EQ(test, domain_detach_group(dom, group), 0);
	for (i = 0; i < 3; i++) {
		KUNIT_EXPECT_TRUE(test, iommu_dev_dma_api_usable(&devs[i]->dev));
		KUNIT_EXPECT_EQ(test, dma_set_mask(&devs[i]->dev,
						   DMA_BIT_MASK(32)), 0);
	}
}

/* Rule 3: only a group in its default domain can be attached */
static void attach_attached_group_is_busy(struct kunit *test)
{
	struct mock_dev *devs[2];
	struct iommu_domain *dom1, *dom2;
	struct iommu_group *group;

	group = mock_pair(test, devs, NULL);
	dom1 = mock_user_domain(test, devs[0]);
	dom2 = mock_user_domain(test, devs[0]);

	KUNIT_ASSERT_EQ(test, domain_attach_group(dom1, group), 0);
	KUNIT_EXPECT_EQ(test, domain_attach_group(dom2, group), -EBUSY);
	KUNIT_EXPECT_EQ(test, domain_attach_group(dom1, group), -EBUSY);
	KUNIT_EXPECT_PTR_EQ(test, group->domain, dom1);
	expect_devs_in(test, devs, 2, dom1, "after the second attach");
	KUNIT_EXPECT_EQ(test, domain_detach_group(dom1, group), 0);
}

/*
 * Rules 3 and 4 with a user (VFIO): the blocking domain stands in for the
 * default one while the group is held, so the holder attaches from there,
 * a second domain is refused, and detaching leaves the group blocked, not
 * in the DMA API's domain.
 */
static void attach_user_held_group(struct kunit *test)
{
	struct mock_dev *devs[2];
	struct iommu_domain *def, *dom, *dom2;
	struct iommu_group *group;

	group = mock_pair(test, devs, &def);
	dom = mock_user_domain(test, devs[0]);
	dom2 = mock_user_domain(test, devs[0]);

	KUNIT_ASSERT_EQ(test, iommu_group_claim_dma_owner(group, test), 0);
	KUNIT_ASSERT_EQ(test, domain_attach_group(dom, group), 0);
	expect_devs_in(test, devs, 2, dom, "attached while held");
	KUNIT_EXPECT_EQ(test, domain_attach_group(dom2, group), -EBUSY);
	KUNIT_EXPECT_EQ(test, domain_attach_group(dom, group), -EBUSY);
	expect_devs_in(test, devs, 2, dom, "after a refused second attach");
	KUNIT_EXPECT_FALSE(test, iommu_dev_dma_api_usable(&devs[0]->dev));

	KUNIT_EXPECT_EQ(test, domain_detach_group(dom, group), 0);
	KUNIT_EXPECT_PTR_EQ(test, group->domain, group->blocking_domain);
	expect_devs_in(test, devs, 2, &mock_blocked_domain, "detached, held");
	/* Not handed to the DMA API while the user still holds it */
	KUNIT_EXPECT_FALSE(test, iommu_dev_dma_api_usable(&devs[0]->dev));
	KUNIT_EXPECT_FALSE(test, iommu_dev_dma_api_usable(&devs[1]->dev));
	KUNIT_EXPECT_EQ(test, domain_detach_group(dom, group), -EINVAL);

	/* The same through the legacy attach */
	KUNIT_ASSERT_EQ(test, iommu_attach_group(dom, group), 0);
	KUNIT_EXPECT_EQ(test, domain_detach_group(dom, group), 0);
	expect_devs_in(test, devs, 2, &mock_blocked_domain, "legacy, held");

	iommu_group_release_dma_owner(group);
	expect_devs_in(test, devs, 2, def, "released");
}

/* Rule 3 for iommufd: the attach handle lives exactly as long as the attach */
static void attach_handle_recorded(struct kunit *test)
{
	struct iommu_attach_handle handle = {}, other = {};
	struct mock_dev *devs[2];
	struct iommu_domain *def, *dom;
	struct iommu_group *group;

	group = mock_pair(test, devs, &def);
	dom = mock_user_domain(test, devs[0]);

	KUNIT_ASSERT_EQ(test, iommu_group_claim_dma_owner(group, test), 0);
	KUNIT_ASSERT_EQ(test, domain_attach_group_handle(dom, group, &handle),
			0);
	expect_devs_in(test, devs, 2, dom, "attached with a handle");
	KUNIT_EXPECT_PTR_EQ(test, handle.domain, dom);
	KUNIT_EXPECT_PTR_EQ(test,
			    iommu_attach_handle_get(group, IOMMU_NO_PASID, 0),
			    &handle);
	/* A refused second attach leaves the first handle in place */
	KUNIT_EXPECT_EQ(test, domain_attach_group_handle(dom, group, &other),
			-EBUSY);
	KUNIT_EXPECT_PTR_EQ(test,
			    iommu_attach_handle_get(group, IOMMU_NO_PASID, 0),
			    &handle);

	KUNIT_EXPECT_EQ(test, domain_detach_group_handle(dom, group), 0);
	KUNIT_EXPECT_PTR_EQ(test,
			    iommu_attach_handle_get(group, IOMMU_NO_PASID, 0),
			    ERR_PTR(-ENOENT));
	expect_devs_in(test, devs, 2, &mock_blocked_domain, "detached, held");
	iommu_group_release_dma_owner(group);
	expect_devs_in(test, devs, 2, def, "released");
}

/* Rule 3: a domain of another IOMMU driver is refused untouched */
static void attach_foreign_domain_is_invalid(struct kunit *test)
{
	struct mock_dev *devs[2];
	struct iommu_domain *def, *foreign;
	struct iommu_group *group;
	unsigned int attaches;

	group = mock_pair(test, devs, &def);
	foreign = mock_foreign_domain(test);
	attaches = devs[0]->attaches + devs[1]->attaches;

	KUNIT_EXPECT_EQ(test, domain_attach_group(foreign, group), -EINVAL);
	KUNIT_EXPECT_EQ(test, devs[0]->attaches + devs[1]->attaches, attaches);
	KUNIT_EXPECT_PTR_EQ(test, group->domain, def);
	expect_devs_in(test, devs, 2, def, "after a foreign attach");
	KUNIT_EXPECT_TRUE(test, iommu_dev_dma_api_usable(&devs[0]->dev));
}

/* Rule 3: all or nothing; a refused device sends the others back */
static void attach_failure_rolls_back(struct kunit *test)
{
	struct mock_dev *devs[3];
	struct iommu_domain *def, *dom;
	struct iommu_group *group;
	unsigned int before;
	int i;

	for (i = 0; i < 3; i++)
		devs[i] = mock_dev_add(test, 1);
	group = mock_group(devs[0]);
	def = iommu_group_default_domain(group);
	dom = mock_user_domain(test, devs[0]);

	devs[1]->fail_domain = dom;
	devs[1]->fail_errno = -EXDEV;
	before = devs[0]->attaches + devs[2]->attaches;

	KUNIT_EXPECT_EQ(test, domain_attach_group(dom, group), -EXDEV);
	KUNIT_EXPECT_PTR_EQ(test, group->domain, def);
	expect_devs_in(test, devs, 3, def, "after a refused attach");
	/* Someone was moved before the refusal, so it had to come back */
	KUNIT_EXPECT_GE(test, devs[0]->attaches + devs[2]->attaches,
			before + 2);
	for (i = 0; i < 3; i++)
		KUNIT_EXPECT_TRUE(test, iommu_dev_dma_api_usable(&devs[i]->dev));
	KUNIT_EXPECT_EQ(test, iommu_device_use_default_domain(&devs[0]->dev),
			0);
	iommu_device_unuse_default_domain(&devs[0]->dev);

	/* The group is consistent: a later attach works */
	devs[1]->fail_errno = 0;
	KUNIT_EXPECT_EQ(test, domain_attach_group(dom, group), 0);
	expect_devs_in(test, devs, 3, dom, "attached after the failure");
	KUNIT_EXPECT_EQ(test, domain_detach_group(dom, group), 0);
}

/* Rule 4: detach returns every device to the default domain */
static void detach_returns_to_default(struct kunit *test)
{
	struct mock_dev *devs[3];
	struct iommu_domain *def, *dom;
	struct iommu_group *group;
	int i;

	for (i = 0; i < 3; i++)
		devs[i] = mock_dev_add(test, 1);
	group = mock_group(devs[0]);
	def = iommu_group_default_domain(group);
	dom = mock_user_domain(test, devs[0]);

	KUNIT_ASSERT_EQ(test, domain_attach_group(dom, group), 0);
	KUNIT_EXPECT_EQ(test, domain_detach_group(dom, group), 0);
	KUNIT_EXPECT_PTR_EQ(test, group->domain, def);
	expect_devs_in(test, devs, 3, def, "detached");
	for (i = 0; i < 3; i++) {
		KUNIT_EXPECT_PTR_EQ(test, iommu_get_domain_for_dev(&devs[i]->dev),
				    def);
		KUNIT_EXPECT_TRUE(test, iommu_dev_dma_api_usable(&devs[i]->dev));
	}
	/* Not attached any more */
	KUNIT_EXPECT_EQ(test, domain_detach_group(dom, group), -EINVAL);
}

/* Rule 5: a device hot-added to an attached group joins that domain */
static void hotadd_enters_attached_domain(struct kunit *test)
{
	struct mock_dev *a0 = mock_dev_add(test, 1);
	struct iommu_group *group = mock_group(a0);
	struct iommu_domain *def = iommu_group_default_domain(group);
	struct iommu_domain *dom = mock_user_domain(test, a0);
	struct mock_dev *added;

	KUNIT_ASSERT_EQ(test, domain_attach_group(dom, group), 0);

	added = mock_dev_add(test, 1);
	KUNIT_EXPECT_PTR_EQ(test, mock_group(added), group);
	KUNIT_EXPECT_PTR_EQ(test, added->domain, dom);
	KUNIT_EXPECT_PTR_EQ(test, a0->domain, dom);
	KUNIT_EXPECT_FALSE(test, iommu_dev_dma_api_usable(&added->dev));
	KUNIT_EXPECT_EQ(test, iommu_device_use_default_domain(&added->dev),
			-EBUSY);
	KUNIT_EXPECT_EQ(test, group->owner_cnt, 0);

	KUNIT_ASSERT_EQ(test, domain_detach_group(dom, group), 0);
	KUNIT_EXPECT_PTR_EQ(test, added->domain, def);
	KUNIT_EXPECT_TRUE(test, iommu_dev_dma_api_usable(&added->dev));
	KUNIT_EXPECT_EQ(test, iommu_device_use_default_domain(&added->dev), 0);
	KUNIT_EXPECT_EQ(test, group->owner_cnt, 1);
	iommu_device_unuse_default_domain(&added->dev);
}

/* Rule 5: a device hot-added to a user-held group is blocked */
static void hotadd_enters_blocked_domain(struct kunit *test)
{
	struct mock_dev *a0 = mock_dev_add(test, 1);
	struct iommu_group *group = mock_group(a0);
	struct iommu_domain *def = iommu_group_default_domain(group);
	struct mock_dev *added;

	KUNIT_ASSERT_EQ(test, iommu_group_claim_dma_owner(group, test), 0);

	added = mock_dev_add(test, 1);
	KUNIT_EXPECT_PTR_EQ(test, mock_group(added), group);
	KUNIT_EXPECT_PTR_EQ(test, added->domain, &mock_blocked_domain);
	KUNIT_EXPECT_FALSE(test, iommu_dev_dma_api_usable(&added->dev));
	KUNIT_EXPECT_EQ(test, iommu_device_use_default_domain(&added->dev),
			-EBUSY);
	KUNIT_EXPECT_EQ(test, group->owner_cnt, 1);

	iommu_group_release_dma_owner(group);
	KUNIT_EXPECT_PTR_EQ(test, added->domain, def);
	KUNIT_EXPECT_PTR_EQ(test, a0->domain, def);
	KUNIT_EXPECT_EQ(test, iommu_device_use_default_domain(&added->dev), 0);
	iommu_device_unuse_default_domain(&added->dev);
}

/*
 * Rule 5, DMA API side: once the group is back in its DMA default
 * domain, the hot-added device must use dma-iommu like the others, or
 * a DMA-API driver bound to it would hand out untranslated addresses.
 */
static void hotadd_gets_default_dma_ops(struct kunit *test)
{
	struct mock_dev *a0, *attached, *held;
	struct iommu_domain *def, *dom;
	struct iommu_group *group;

	if (!IS_ENABLED(CONFIG_IOMMU_DMA))
		kunit_skip(test, "no DMA domains without CONFIG_IOMMU_DMA");

	mock_def_type = IOMMU_DOMAIN_DMA;
	a0 = mock_dev_add(test, 1);
	group = mock_group(a0);
	def = iommu_group_default_domain(group);
	KUNIT_ASSERT_TRUE(test, iommu_is_dma_domain(def));
	KUNIT_ASSERT_TRUE(test, use_dma_iommu(&a0->dev));
	dom = mock_user_domain(test, a0);

	KUNIT_ASSERT_EQ(test, domain_attach_group(dom, group), 0);
	attached = mock_dev_add(test, 1);
	KUNIT_ASSERT_EQ(test, domain_detach_group(dom, group), 0);
	KUNIT_EXPECT_PTR_EQ(test, attached->domain, def);
	KUNIT_EXPECT_TRUE_MSG(test, use_dma_iommu(&attached->dev),
			      "added while attached: no dma-iommu in the DMA default domain");

	KUNIT_ASSERT_EQ(test, iommu_group_claim_dma_owner(group, test), 0);
	held = mock_dev_add(test, 1);
	iommu_group_release_dma_owner(group);
	KUNIT_EXPECT_PTR_EQ(test, held->domain, def);
	KUNIT_EXPECT_TRUE_MSG(test, use_dma_iommu(&held->dev),
			      "added while held: no dma-iommu in the DMA default domain");
}

/* Rule 6: DMA-API drivers are counted and exclude a user */
static void owner_dma_api_users_exclude_claim(struct kunit *test)
{
	struct mock_dev *devs[2];
	struct iommu_domain *def;
	struct iommu_group *group;
	int owner;

	group = mock_pair(test, devs, &def);

	KUNIT_EXPECT_FALSE(test, iommu_group_dma_owner_claimed(group));
	KUNIT_ASSERT_EQ(test, iommu_device_use_default_domain(&devs[0]->dev),
			0);
	KUNIT_ASSERT_EQ(test, iommu_device_use_default_domain(&devs[1]->dev),
			0);
	KUNIT_EXPECT_EQ(test, group->owner_cnt, 2);
	KUNIT_EXPECT_TRUE(test, iommu_group_dma_owner_claimed(group));

	KUNIT_EXPECT_EQ(test, iommu_group_claim_dma_owner(group, &owner),
			-EPERM);
	KUNIT_EXPECT_EQ(test, iommu_device_claim_dma_owner(&devs[0]->dev,
							   &owner), -EPERM);
	KUNIT_EXPECT_NULL(test, group->owner);
	expect_devs_in(test, devs, 2, def, "claim refused");

	/* One driver left is still a holder */
	iommu_device_unuse_default_domain(&devs[1]->dev);
	KUNIT_EXPECT_EQ(test, group->owner_cnt, 1);
	KUNIT_EXPECT_EQ(test, iommu_group_claim_dma_owner(group, &owner),
			-EPERM);
	iommu_device_unuse_default_domain(&devs[0]->dev);
	KUNIT_EXPECT_EQ(test, group->owner_cnt, 0);
	KUNIT_EXPECT_FALSE(test, iommu_group_dma_owner_claimed(group));
	expect_devs_in(test, devs, 2, def, "no holder");
}

/* Rule 6: a user's claim blocks the group and excludes DMA-API drivers */
static void owner_claim_blocks_group(struct kunit *test)
{
	struct mock_dev *devs[2];
	struct iommu_domain *def, *dom;
	struct iommu_group *group;
	int owner, other;

	group = mock_pair(test, devs, &def);
	dom = mock_user_domain(test, devs[0]);

	KUNIT_ASSERT_EQ(test, iommu_group_claim_dma_owner(group, &owner), 0);
	KUNIT_EXPECT_PTR_EQ(test, group->owner, &owner);
	KUNIT_EXPECT_EQ(test, group->owner_cnt, 1);
	KUNIT_EXPECT_TRUE(test, iommu_group_dma_owner_claimed(group));
	KUNIT_ASSERT_NOT_NULL(test, group->blocking_domain);
	KUNIT_EXPECT_PTR_EQ(test, group->domain, group->blocking_domain);
	expect_devs_in(test, devs, 2, &mock_blocked_domain, "claimed");
	KUNIT_EXPECT_FALSE(test, iommu_dev_dma_api_usable(&devs[0]->dev));
	KUNIT_EXPECT_NE(test, dma_set_mask(&devs[0]->dev, DMA_BIT_MASK(32)),
			0);

	KUNIT_EXPECT_EQ(test, iommu_device_use_default_domain(&devs[0]->dev),
			-EBUSY);
	KUNIT_EXPECT_EQ(test, iommu_group_claim_dma_owner(group, &owner),
			-EPERM);

	/* The same owner may claim per device; another one may not */
	KUNIT_EXPECT_EQ(test, iommu_device_claim_dma_owner(&devs[1]->dev,
							   &owner), 0);
	KUNIT_EXPECT_EQ(test, group->owner_cnt, 2);
	KUNIT_EXPECT_EQ(test, iommu_device_claim_dma_owner(&devs[1]->dev,
							   &other), -EPERM);
	KUNIT_EXPECT_EQ(test, group->owner_cnt, 2);
	KUNIT_EXPECT_PTR_EQ(test, group->owner, &owner);

	/* The user's own domain, then back to blocked, not to default */
	KUNIT_EXPECT_EQ(test, iommu_attach_group(dom, group), 0);
	expect_devs_in(test, devs, 2, dom, "user attached");
	iommu_detach_group(dom, group);
	expect_devs_in(test, devs, 2, &mock_blocked_domain, "user detached");

	iommu_device_release_dma_owner(&devs[1]->dev);
	KUNIT_EXPECT_EQ(test, group->owner_cnt, 1);
	expect_devs_in(test, devs, 2, &mock_blocked_domain, "one claim left");

	iommu_group_release_dma_owner(group);
	KUNIT_EXPECT_EQ(test, group->owner_cnt, 0);
	KUNIT_EXPECT_NULL(test, group->owner);
	KUNIT_EXPECT_PTR_EQ(test, group->domain, def);
	expect_devs_in(test, devs, 2, def, "released");
	KUNIT_EXPECT_TRUE(test, iommu_dev_dma_api_usable(&devs[0]->dev));
	KUNIT_EXPECT_EQ(test, iommu_device_use_default_domain(&devs[0]->dev),
			0);
	iommu_device_unuse_default_domain(&devs[0]->dev);
}

/* Rule 6: device claims count; the last release returns to default */
static void owner_device_claims_counted(struct kunit *test)
{
	struct mock_dev *devs[2];
	struct iommu_domain *def;
	struct iommu_group *group;
	int owner, other;

	group = mock_pair(test, devs, &def);

	KUNIT_ASSERT_EQ(test, iommu_device_claim_dma_owner(&devs[0]->dev,
							   &owner), 0);
	expect_devs_in(test, devs, 2, &mock_blocked_domain, "first claim");
	KUNIT_ASSERT_EQ(test, iommu_device_claim_dma_owner(&devs[1]->dev,
							   &owner), 0);
	KUNIT_EXPECT_EQ(test, group->owner_cnt, 2);
	KUNIT_EXPECT_EQ(test, iommu_device_claim_dma_owner(&devs[0]->dev,
							   &other), -EPERM);
	KUNIT_EXPECT_EQ(test, iommu_group_claim_dma_owner(group, &other),
			-EPERM);

	iommu_device_release_dma_owner(&devs[0]->dev);
	KUNIT_EXPECT_EQ(test, group->owner_cnt, 1);
	KUNIT_EXPECT_PTR_EQ(test, group->owner, &owner);
	expect_devs_in(test, devs, 2, &mock_blocked_domain, "one claim left");

	iommu_device_release_dma_owner(&devs[1]->dev);
	KUNIT_EXPECT_EQ(test, group->owner_cnt, 0);
	KUNIT_EXPECT_NULL(test, group->owner);
	expect_devs_in(test, devs, 2, def, "all claims released");
}

/* Rule 6: a group attached by a kernel user cannot be claimed */
static void owner_claim_attached_group_is_busy(struct kunit *test)
{
	struct mock_dev *a0 = mock_dev_add(test, 1);
	struct iommu_group *group = mock_group(a0);
	struct iommu_domain *dom = mock_user_domain(test, a0);
	int owner;

	KUNIT_ASSERT_EQ(test, domain_attach_group(dom, group), 0);
	KUNIT_EXPECT_EQ(test, iommu_group_claim_dma_owner(group, &owner),
			-EBUSY);
	KUNIT_EXPECT_EQ(test, iommu_device_claim_dma_owner(&a0->dev, &owner),
			-EBUSY);
	KUNIT_EXPECT_EQ(test, group->owner_cnt, 0);
	KUNIT_EXPECT_NULL(test, group->owner);
	KUNIT_EXPECT_PTR_EQ(test, a0->domain, dom);
	KUNIT_EXPECT_EQ(test, domain_detach_group(dom, group), 0);
}

/* Rule 7: members and references keep a group; the last put frees it */
static void lifetime_group_freed_on_last_put(struct kunit *test)
{
	int live = atomic_read(&mock_paging_live), freed = atomic_read(&mock_groups_freed);
	struct mock_dev *a0 = mock_dev_add(test, 1);
	struct mock_dev *a1 = mock_dev_add(test, 1);
	struct iommu_group *group = mock_group(a0), *ref1, *ref2;
	int id = iommu_group_id(group);

	iommu_group_set_iommudata(group, test, mock_group_data_release);
	ref1 = iommu_group_get(&a0->dev);
	ref2 = iommu_group_ref_get(ref1);
	KUNIT_EXPECT_PTR_EQ(test, ref2, group);

	iommu_release_device(&a0->dev);
	KUNIT_EXPECT_TRUE(test, a0->released);
	KUNIT_EXPECT_NULL(test, a0->dev.iommu_group);
	KUNIT_EXPECT_NULL(test, iommu_group_get(&a0->dev));
	KUNIT_EXPECT_EQ(test, list_count_nodes(&group->devices), 1);
	KUNIT_EXPECT_NOT_NULL(test, group->default_domain);

	/* The last device takes the domains, not the group */
	iommu_release_device(&a1->dev);
	KUNIT_EXPECT_TRUE(test, a1->released);
	KUNIT_EXPECT_EQ(test, list_count_nodes(&group->devices), 0);
	KUNIT_EXPECT_NULL(test, group->default_domain);
	KUNIT_EXPECT_NULL(test, group->domain);
	KUNIT_EXPECT_EQ(test, atomic_read(&mock_paging_live), live);
	KUNIT_EXPECT_EQ(test, groups_freed_since(freed, 0), 0);
	KUNIT_EXPECT_TRUE(test, group_in_sysfs(id));

	iommu_group_put(ref2);
	KUNIT_EXPECT_EQ(test, groups_freed_since(freed, 0), 0);
	KUNIT_EXPECT_TRUE(test, group_in_sysfs(id));

	iommu_group_put(ref1);
	KUNIT_EXPECT_EQ(test, groups_freed_since(freed, 1), 1);
	KUNIT_EXPECT_FALSE(test, group_in_sysfs(id));
}

/* Rule 7: without other references the last device frees the group */
static void lifetime_group_freed_with_last_device(struct kunit *test)
{
	int live = atomic_read(&mock_paging_live), freed = atomic_read(&mock_groups_freed);
	struct mock_dev *a0 = mock_dev_add(test, 1);
	struct mock_dev *a1 = mock_dev_add(test, 1);
	struct iommu_group *group = mock_group(a0);
	int id = iommu_group_id(group);

	iommu_group_set_iommudata(group, test, mock_group_data_release);

	iommu_release_device(&a1->dev);
	KUNIT_EXPECT_EQ(test, groups_freed_since(freed, 0), 0);
	KUNIT_EXPECT_TRUE(test, group_in_sysfs(id));
	/* The remaining member is unaffected */
	KUNIT_EXPECT_PTR_EQ(test, a0->domain, iommu_group_default_domain(group));

	iommu_release_device(&a0->dev);
	KUNIT_EXPECT_EQ(test, groups_freed_since(freed, 1), 1);
	KUNIT_EXPECT_FALSE(test, group_in_sysfs(id));
	KUNIT_EXPECT_EQ(test, atomic_read(&mock_paging_live), live);

	/* A new device of the key gets a new, working group */
	a0 = mock_dev_add(test, 1);
	KUNIT_EXPECT_NOT_NULL(test, iommu_group_default_domain(mock_group(a0)));
	KUNIT_EXPECT_PTR_EQ(test, a0->domain,
			    iommu_group_default_domain(mock_group(a0)));
}

/* Rule 8: with no holder the default domain type can be switched */
static void type_switch_without_holder(struct kunit *test)
{
	struct mock_dev *devs[2];
	struct iommu_group *group;
	struct iommu_domain *dma;
	int live, ret;

	if (!IS_ENABLED(CONFIG_IOMMU_DMA))
		kunit_skip(test, "no DMA domains without CONFIG_IOMMU_DMA");

	group = mock_pair(test, devs, NULL);

	/* From whatever the boot default is to a known start */
	ret = iso_group_change_default_type(group, IOMMU_DOMAIN_DMA);
	KUNIT_ASSERT_EQ(test, ret, 0);
	dma = iommu_group_default_domain(group);
	KUNIT_ASSERT_EQ(test, dma->type, IOMMU_DOMAIN_DMA);
	expect_devs_in(test, devs, 2, dma, "DMA");
	live = atomic_read(&mock_paging_live);

	ret = iso_group_change_default_type(group, IOMMU_DOMAIN_IDENTITY);
	KUNIT_ASSERT_EQ(test, ret, 0);
	KUNIT_EXPECT_PTR_EQ(test, iommu_group_default_domain(group),
			    &mock_identity_domain);
	KUNIT_EXPECT_PTR_EQ(test, group->domain, &mock_identity_domain);
	expect_devs_in(test, devs, 2, &mock_identity_domain, "identity");
	KUNIT_EXPECT_FALSE(test, use_dma_iommu(&devs[0]->dev));
	/* The old default domain was freed */
	KUNIT_EXPECT_EQ(test, atomic_read(&mock_paging_live), live - 1);

	ret = iso_group_change_default_type(group, IOMMU_DOMAIN_DMA);
	KUNIT_ASSERT_EQ(test, ret, 0);
	dma = iommu_group_default_domain(group);
	KUNIT_EXPECT_EQ(test, dma->type, IOMMU_DOMAIN_DMA);
	KUNIT_EXPECT_PTR_EQ(test, dma->owner, &mock_ops);
	KUNIT_EXPECT_PTR_EQ(test, group->domain, dma);
	expect_devs_in(test, devs, 2, dma, "DMA again");
	KUNIT_EXPECT_TRUE(test, use_dma_iommu(&devs[0]->dev));
	KUNIT_EXPECT_TRUE(test, use_dma_iommu(&devs[1]->dev));
	KUNIT_EXPECT_EQ(test, atomic_read(&mock_paging_live), live);
}

/* Rule 8: a DMA-API driver or a user holding the group forbids a switch */
static void type_switch_with_holder_is_denied(struct kunit *test)
{
	struct mock_dev *devs[2];
	struct iommu_domain *def;
	struct iommu_group *group;
	int target;

	group = mock_pair(test, devs, &def);
	/* A switch that would succeed without the holder */
	target = def->type == IOMMU_DOMAIN_IDENTITY ? IOMMU_DOMAIN_DMA :
						      IOMMU_DOMAIN_IDENTITY;
	if (!IS_ENABLED(CONFIG_IOMMU_DMA))
		target = IOMMU_DOMAIN_IDENTITY;

	KUNIT_ASSERT_EQ(test, iommu_device_use_default_domain(&devs[1]->dev),
			0);
	KUNIT_EXPECT_EQ(test, iso_group_change_default_type(group, target),
			-EPERM);
	KUNIT_EXPECT_PTR_EQ(test, iommu_group_default_domain(group), def);
	expect_devs_in(test, devs, 2, def, "DMA-API holder");
	iommu_device_unuse_default_domain(&devs[1]->dev);

	KUNIT_ASSERT_EQ(test, iommu_group_claim_dma_owner(group, test), 0);
	KUNIT_EXPECT_EQ(test, iso_group_change_default_type(group, target),
			-EPERM);
	KUNIT_EXPECT_PTR_EQ(test, iommu_group_default_domain(group), def);
	expect_devs_in(test, devs, 2, &mock_blocked_domain, "user holder");
	iommu_group_release_dma_owner(group);
	expect_devs_in(test, devs, 2, def, "released");

	if (target == def->type)
		return;
	/* Without holders the same switch goes through */
	KUNIT_EXPECT_EQ(test, iso_group_change_default_type(group, target), 0);
	KUNIT_EXPECT_EQ(test, iommu_group_default_domain(group)->type, target);
}

/* Rule 8: a failed switch leaves the old default domain in place */
static void type_switch_failure_keeps_default(struct kunit *test)
{
	struct mock_dev *devs[2];
	struct iommu_group *group;
	struct iommu_domain *def;
	unsigned int before;
	int live, ret;

	if (!IS_ENABLED(CONFIG_IOMMU_DMA))
		kunit_skip(test, "no DMA domains without CONFIG_IOMMU_DMA");

	group = mock_pair(test, devs, NULL);
	ret = iso_group_change_default_type(group, IOMMU_DOMAIN_IDENTITY);
	KUNIT_ASSERT_EQ(test, ret, 0);
	def = iommu_group_default_domain(group);
	KUNIT_ASSERT_PTR_EQ(test, def, &mock_identity_domain);
	live = atomic_read(&mock_paging_live);

	/* The driver cannot allocate the new domain */
	mock_paging_errno = -ENOSPC;
	ret = iso_group_change_default_type(group, IOMMU_DOMAIN_DMA);
	KUNIT_EXPECT_EQ(test, ret, -ENOSPC);
	mock_paging_errno = 0;
	KUNIT_EXPECT_PTR_EQ(test, iommu_group_default_domain(group), def);
	KUNIT_EXPECT_PTR_EQ(test, group->domain, def);
	expect_devs_in(test, devs, 2, def, "allocation refused");

	/* The driver refuses the second device: the first comes back */
	devs[1]->fail_type = IOMMU_DOMAIN_DMA;
	devs[1]->fail_errno = -EXDEV;
	before = devs[0]->attaches;
	ret = iso_group_change_default_type(group, IOMMU_DOMAIN_DMA);
	KUNIT_EXPECT_EQ(test, ret, -EXDEV);
	KUNIT_EXPECT_PTR_EQ(test, iommu_group_default_domain(group), def);
	KUNIT_EXPECT_PTR_EQ(test, group->domain, def);
	expect_devs_in(test, devs, 2, def, "attach refused");
	KUNIT_EXPECT_EQ(test, devs[0]->attaches, before + 2);
	/* The new domain did not leak */
	KUNIT_EXPECT_EQ(test, atomic_read(&mock_paging_live), live);
	devs[1]->fail_errno = 0;

	/* The driver insists on identity: DMA does not fit */
	mock_def_type = IOMMU_DOMAIN_IDENTITY;
	ret = iso_group_change_default_type(group, IOMMU_DOMAIN_DMA);
	KUNIT_EXPECT_EQ(test, ret, -EINVAL);
	KUNIT_EXPECT_PTR_EQ(test, iommu_group_default_domain(group), def);
	expect_devs_in(test, devs, 2, def, "type refused by the driver");
	mock_def_type = 0;

	/* Nothing stuck: the switch works now */
	ret = iso_group_change_default_type(group, IOMMU_DOMAIN_DMA);
	KUNIT_EXPECT_EQ(test, ret, 0);
	expect_devs_in(test, devs, 2, iommu_group_default_domain(group),
		       "DMA at last");
}

/*
 * Contract of the legacy API: a driver that attaches its own domain to
 * its own device (ARM32 dma-iommu at dma_configure time, host1x,
 * tegra-drm, remoteproc, msm, ath1xk, venus...) keeps the DMA API, and
 * may bind while its domain is attached, as with the base kernel.
 */
static void attach_by_own_driver_keeps_dma_api(struct kunit *test)
{
	struct mock_dev *mdev = mock_dev_add(test, 1);
	struct iommu_group *group = mock_group(mdev);
	struct iommu_domain *def = iommu_group_default_domain(group);
	struct iommu_domain *dom = mock_user_domain(test, mdev);
	struct device *dev = &mdev->dev;

	/* ARM32: attached before the driver core counts the driver */
	KUNIT_ASSERT_EQ(test, iommu_attach_device(dom, dev), 0);
	KUNIT_EXPECT_PTR_EQ(test, mdev->domain, dom);
	KUNIT_EXPECT_EQ(test, iommu_device_use_default_domain(dev), 0);
	KUNIT_EXPECT_TRUE(test, iommu_dev_dma_api_usable(dev));
	KUNIT_EXPECT_EQ(test, dma_set_mask(dev, DMA_BIT_MASK(32)), 0);
	iommu_detach_device(dom, dev);
	KUNIT_EXPECT_PTR_EQ(test, mdev->domain, def);

	/* A bound driver attaches its own domain, to the device or group */
	KUNIT_ASSERT_EQ(test, iommu_attach_device(dom, dev), 0);
	KUNIT_EXPECT_PTR_EQ(test, mdev->domain, dom);
	KUNIT_EXPECT_EQ(test, dma_set_mask(dev, DMA_BIT_MASK(32)), 0);
	iommu_detach_device(dom, dev);
	KUNIT_ASSERT_EQ(test, iommu_attach_group(dom, group), 0);
	KUNIT_EXPECT_PTR_EQ(test, mdev->domain, dom);
	KUNIT_EXPECT_TRUE(test, iommu_dev_dma_api_usable(dev));
	iommu_detach_group(dom, group);
	iommu_device_unuse_default_domain(dev);
	KUNIT_EXPECT_PTR_EQ(test, mdev->domain, def);
	KUNIT_EXPECT_EQ(test, group->owner_cnt, 0);
}

/*
 * domain_attach_group() takes a group away from the DMA API: not while a
 * DMA-API driver is bound, or its IOVAs would be translated by the new
 * domain's page table.
 */
static void attach_refused_while_dma_api_bound(struct kunit *test)
{
	struct iommu_attach_handle handle = {};
	struct mock_dev *devs[2];
	struct iommu_domain *def, *dom;
	struct iommu_group *group;

	group = mock_pair(test, devs, &def);
	dom = mock_user_domain(test, devs[0]);

	KUNIT_ASSERT_EQ(test, iommu_device_use_default_domain(&devs[1]->dev),
			0);
	KUNIT_EXPECT_EQ(test, domain_attach_group(dom, group), -EBUSY);
	KUNIT_EXPECT_EQ(test, domain_attach_group_handle(dom, group, &handle),
			-EBUSY);
	expect_devs_in(test, devs, 2, def, "DMA-API driver bound");
	KUNIT_EXPECT_TRUE(test, iommu_dev_dma_api_usable(&devs[1]->dev));
	KUNIT_EXPECT_PTR_EQ(test,
			    iommu_attach_handle_get(group, IOMMU_NO_PASID, 0),
			    ERR_PTR(-ENOENT));
	iommu_device_unuse_default_domain(&devs[1]->dev);

	KUNIT_EXPECT_EQ(test, domain_attach_group(dom, group), 0);
	expect_devs_in(test, devs, 2, dom, "no driver bound");
	/* And no DMA-API driver binds while it is attached */
	KUNIT_EXPECT_EQ(test, iommu_device_use_default_domain(&devs[1]->dev),
			-EBUSY);
	KUNIT_EXPECT_EQ(test, domain_detach_group(dom, group), 0);
	expect_devs_in(test, devs, 2, def, "detached");
}

/*
 * VT-d and AMD-Vi block (detach) a device before they refuse the new
 * domain: the rollback must restore the refusing device too.
 */
static void attach_block_then_fail_restores_all(struct kunit *test)
{
	struct mock_dev *devs[3];
	struct iommu_domain *def, *dom;
	struct iommu_group *group;
	int i;

	for (i = 0; i < 3; i++)
		devs[i] = mock_dev_add(test, 1);
	group = mock_group(devs[0]);
	def = iommu_group_default_domain(group);
	dom = mock_user_domain(test, devs[0]);
	devs[1]->fail_domain = dom;
	devs[1]->fail_errno = -EINVAL;
	devs[1]->fail_mode = MOCK_FAIL_BLOCKS;

	KUNIT_EXPECT_EQ(test, domain_attach_group(dom, group), -EINVAL);
	expect_devs_in(test, devs, 3, def, "block-then-fail, default");

	KUNIT_ASSERT_EQ(test, iommu_group_claim_dma_owner(group, test), 0);
	KUNIT_EXPECT_EQ(test, domain_attach_group(dom, group), -EINVAL);
	expect_devs_in(test, devs, 3, &mock_blocked_domain,
		       "block-then-fail, held");
	KUNIT_EXPECT_EQ(test, iommu_group_replace_domain(group, dom), -EINVAL);
	expect_devs_in(test, devs, 3, &mock_blocked_domain,
		       "block-then-fail, replace");

	/* Consistent: once the driver accepts, the attach goes through */
	devs[1]->fail_errno = 0;
	KUNIT_EXPECT_EQ(test, domain_attach_group(dom, group), 0);
	expect_devs_in(test, devs, 3, dom, "accepted");
	KUNIT_EXPECT_EQ(test, domain_detach_group(dom, group), 0);
	iommu_group_release_dma_owner(group);
	expect_devs_in(test, devs, 3, def, "released");
}

/*
 * A device hot-added into a held group that cannot enter the group's
 * domain (an RMRR forbids blocking it) still belongs to the group: it
 * can reach the user's devices, so no DMA-API driver may bind to it.
 */
static void hotadd_unblockable_into_held_group(struct kunit *test)
{
	struct mock_dev *a0 = mock_dev_add(test, 1);
	struct iommu_group *group = mock_group(a0);
	struct iommu_domain *def = iommu_group_default_domain(group);
	struct iommu_domain *dom = mock_user_domain(test, a0);
	struct mock_dev *rmrr, *other;

	KUNIT_ASSERT_EQ(test, iommu_group_claim_dma_owner(group, test), 0);
	rmrr = mock_dev_new(test, 1);
	rmrr->rmrr = true;
	iommu_probe_device(&rmrr->dev);
	KUNIT_EXPECT_PTR_EQ(test, mock_group(rmrr), group);
	KUNIT_EXPECT_PTR_NE(test, rmrr->domain, &mock_blocked_domain);
	KUNIT_EXPECT_FALSE(test, iommu_dev_dma_api_usable(&rmrr->dev));
	KUNIT_EXPECT_NE(test, dma_set_mask(&rmrr->dev, DMA_BIT_MASK(32)), 0);
	KUNIT_EXPECT_EQ(test, iommu_device_use_default_domain(&rmrr->dev),
			-EBUSY);
	/* Nor can the user take it: it is not in the user's domain */
	KUNIT_EXPECT_EQ(test, iommu_device_claim_dma_owner(&rmrr->dev, test),
			-EBUSY);
	KUNIT_EXPECT_PTR_EQ(test, a0->domain, &mock_blocked_domain);

	/* A device the attached domain does not fit: the same */
	KUNIT_ASSERT_EQ(test, domain_attach_group(dom, group), 0);
	KUNIT_EXPECT_PTR_EQ(test, a0->domain, dom);
	/* Not handed to the user either, as VFIO refuses RMRR devices */
	KUNIT_EXPECT_PTR_NE(test, rmrr->domain, dom);
	other = mock_dev_new(test, 1);
	other->fail_domain = dom;
	other->fail_errno = -EINVAL;
	iommu_probe_device(&other->dev);
	KUNIT_EXPECT_PTR_EQ(test, mock_group(other), group);
	KUNIT_EXPECT_PTR_NE(test, other->domain, dom);
	KUNIT_EXPECT_EQ(test, iommu_device_use_default_domain(&other->dev),
			-EBUSY);
	KUNIT_EXPECT_FALSE(test, iommu_dev_dma_api_usable(&other->dev));
	KUNIT_EXPECT_EQ(test, domain_detach_group(dom, group), 0);
	KUNIT_EXPECT_PTR_NE(test, rmrr->domain, dom);
	KUNIT_EXPECT_PTR_NE(test, other->domain, dom);

	/* Back in the default domain both work as any member */
	iommu_group_release_dma_owner(group);
	KUNIT_EXPECT_PTR_EQ(test, rmrr->domain, def);
	KUNIT_EXPECT_PTR_EQ(test, other->domain, def);
	KUNIT_EXPECT_EQ(test, iommu_device_use_default_domain(&rmrr->dev), 0);
	iommu_device_unuse_default_domain(&rmrr->dev);
}

/*
 * A bus probe (an IOMMU that registers late, or the rescan once it is
 * bound) must not pull in a device whose driver is already bound: its
 * DMA ops would change under the running driver.
 */
static void bus_probe_skips_bound_devices(struct kunit *test)
{
	struct mock_dev *mdev = mock_dev_new(test, 1);

	mdev->bind = true;
	KUNIT_ASSERT_EQ(test, device_attach(&mdev->dev), 1);
	KUNIT_EXPECT_EQ(test, bus_iommu_probe(&mock_bus), 0);
	KUNIT_EXPECT_NULL(test, mdev->dev.iommu_group);
	KUNIT_EXPECT_EQ(test, mdev->attaches, 0);
	KUNIT_EXPECT_FALSE(test, use_dma_iommu(&mdev->dev));
	device_release_driver(&mdev->dev);

	/* The next bind (dma_configure) takes it in */
	KUNIT_EXPECT_EQ(test, iommu_device_use_default_domain(&mdev->dev), 0);
	KUNIT_EXPECT_NOT_NULL(test, mdev->dev.iommu_group);
	KUNIT_EXPECT_PTR_EQ(test, mdev->domain,
			    iommu_group_default_domain(mock_group(mdev)));
	iommu_device_unuse_default_domain(&mdev->dev);
}

/* A bus probe that cannot give a group a domain does not strand it */
static void bus_probe_failure_releases_members(struct kunit *test)
{
	struct mock_dev *a = mock_dev_new(test, 1);
	struct mock_dev *b = mock_dev_new(test, 1);

	if (!IS_ENABLED(CONFIG_IOMMU_DMA))
		kunit_skip(test, "no DMA domains without CONFIG_IOMMU_DMA");

	mock_def_type = IOMMU_DOMAIN_DMA;
	mock_paging_errno = -ENOSPC;
	/* Logged, not returned: the IOMMU stays up for the other groups */
	KUNIT_EXPECT_EQ(test, bus_iommu_probe(&mock_bus), 0);
	mock_paging_errno = 0;
	KUNIT_EXPECT_NULL(test, a->dev.iommu_group);
	KUNIT_EXPECT_NULL(test, b->dev.iommu_group);
	KUNIT_EXPECT_TRUE(test, a->released);
	KUNIT_EXPECT_TRUE(test, b->released);
	/* Not waiting on -EPROBE_DEFER for a domain that never comes */
	KUNIT_EXPECT_EQ(test, iommu_device_use_default_domain(&a->dev), 0);
}

/* Detach cannot fail: the caller frees the domain right after it */
static void detach_always_ends_in_core_domain(struct kunit *test)
{
	struct iommu_attach_handle handle = {};
	struct mock_dev *devs[2];
	struct iommu_domain *def, *dom, *other;
	struct iommu_group *group;

	group = mock_pair(test, devs, &def);
	dom = mock_user_domain(test, devs[0]);
	other = mock_user_domain(test, devs[0]);

	KUNIT_ASSERT_EQ(test, domain_attach_group(dom, group), 0);
	KUNIT_EXPECT_EQ(test, domain_detach_group(other, group), -EINVAL);
	expect_devs_in(test, devs, 2, def, "after a mismatched detach");
	KUNIT_EXPECT_TRUE(test, iommu_dev_dma_api_usable(&devs[0]->dev));
	/* In the default domain there is nothing to detach */
	KUNIT_EXPECT_EQ(test, domain_detach_group(def, group), -EINVAL);
	expect_devs_in(test, devs, 2, def, "default");

	/* Held: back to blocked, and the handle goes with the domain */
	KUNIT_ASSERT_EQ(test, iommu_group_claim_dma_owner(group, test), 0);
	KUNIT_ASSERT_EQ(test, domain_attach_group_handle(dom, group, &handle),
			0);
	KUNIT_EXPECT_EQ(test, domain_detach_group_handle(other, group),
			-EINVAL);
	expect_devs_in(test, devs, 2, &mock_blocked_domain,
		       "mismatched detach, held");
	KUNIT_EXPECT_PTR_EQ(test,
			    iommu_attach_handle_get(group, IOMMU_NO_PASID, 0),
			    ERR_PTR(-ENOENT));
	iommu_group_release_dma_owner(group);
	expect_devs_in(test, devs, 2, def, "released");

	/* The driver refuses to take a device back: blocked, not left in dom */
	devs[1]->fail_domain = def;
	devs[1]->fail_errno = -ENOMEM;
	KUNIT_ASSERT_EQ(test, domain_attach_group(dom, group), 0);
	KUNIT_EXPECT_EQ(test, domain_detach_group(dom, group), 0);
	KUNIT_EXPECT_PTR_EQ(test, devs[0]->domain, def);
	KUNIT_EXPECT_PTR_EQ(test, devs[1]->domain, &mock_blocked_domain);
	KUNIT_EXPECT_EQ(test, iommu_device_use_default_domain(&devs[1]->dev),
			-EBUSY);
	/* Tried again by the next move, a user's claim here */
	devs[1]->fail_errno = 0;
	KUNIT_EXPECT_EQ(test, iommu_group_claim_dma_owner(group, test), 0);
	expect_devs_in(test, devs, 2, &mock_blocked_domain, "claimed again");
	iommu_group_release_dma_owner(group);
	devs[1]->fail_errno = -ENOMEM;
	KUNIT_ASSERT_EQ(test, domain_attach_group(dom, group), 0);
	KUNIT_EXPECT_EQ(test, domain_detach_group(dom, group), 0);
	devs[1]->fail_errno = 0;
	/* A bind does not move the group; the next move takes it in */
	KUNIT_EXPECT_EQ(test, iommu_device_use_default_domain(&devs[1]->dev),
			-EBUSY);
	KUNIT_EXPECT_EQ(test, iommu_group_claim_dma_owner(group, test), 0);
	iommu_group_release_dma_owner(group);
	expect_devs_in(test, devs, 2, def, "taken back by the next move");
	KUNIT_EXPECT_EQ(test, iommu_device_use_default_domain(&devs[1]->dev),
			0);
	iommu_device_unuse_default_domain(&devs[1]->dev);
}

/* Drivers that map only once a domain is attached (arm-smmu v2) */
static void direct_regions_mapped_after_attach(struct kunit *test)
{
	struct mock_dev *mdev;

	if (!IS_ENABLED(CONFIG_IOMMU_DMA))
		kunit_skip(test, "no DMA domains without CONFIG_IOMMU_DMA");

	mock_def_type = IOMMU_DOMAIN_DMA;
	mock_map_needs_attach = true;
	mdev = mock_dev_new(test, 1);
	mdev->rmrr = true;
	KUNIT_ASSERT_EQ(test, iommu_probe_device(&mdev->dev), 0);
	KUNIT_EXPECT_TRUE(test, mock_translates(mdev, MOCK_RMRR_START,
						MOCK_RMRR_START));
	KUNIT_EXPECT_TRUE(test, mock_translates(mdev, MOCK_RMRR_START +
						MOCK_RMRR_SIZE - SZ_4K,
						MOCK_RMRR_START +
						MOCK_RMRR_SIZE - SZ_4K));
}

struct unset_probe {
	struct mock_dev *first;
	struct iommu_domain *dom;
	int legacy, core;
	bool usable, entered;
};

/* Runs inside the bus probe, while the first device has no domain yet */
static void attach_while_unset(struct mock_dev *mdev)
{
	struct unset_probe *p = mdev->hook_data;
	struct iommu_group *group = mock_group(p->first);

	p->usable = iommu_dev_dma_api_usable(&p->first->dev);
	p->legacy = iommu_attach_group(p->dom, group);
	p->core = domain_attach_group(p->dom, group);
	p->entered = p->first->domain == p->dom;
}

/* No attach before the group has its default domain (legacy API too) */
static void attach_before_default_domain_is_busy(struct kunit *test)
{
	struct mock_dev *probed = mock_dev_add(test, 2);
	struct unset_probe p = {};
	struct mock_dev *second;

	p.dom = mock_user_domain(test, probed);
	p.first = mock_dev_new(test, 1);
	second = mock_dev_new(test, 3);
	second->group_hook = attach_while_unset;
	second->hook_data = &p;

	KUNIT_EXPECT_EQ(test, bus_iommu_probe(&mock_bus), 0);
	KUNIT_EXPECT_EQ(test, p.legacy, -EBUSY);
	KUNIT_EXPECT_EQ(test, p.core, -EBUSY);
	KUNIT_EXPECT_FALSE(test, p.entered);
	KUNIT_EXPECT_FALSE(test, p.usable);
	/* The bus probe then set the group up as usual */
	KUNIT_EXPECT_PTR_EQ(test, p.first->domain,
			    iommu_group_default_domain(mock_group(p.first)));
}

/* A refused type switch leaves the DMA ops of the old default domain */
static void type_switch_failure_keeps_dma_ops(struct kunit *test)
{
	struct mock_dev *mdev;
	struct iommu_group *group;
	int live, ret;

	if (!IS_ENABLED(CONFIG_IOMMU_DMA))
		kunit_skip(test, "no DMA domains without CONFIG_IOMMU_DMA");

	mdev = mock_dev_new(test, 1);
	mdev->rmrr = true;
	KUNIT_ASSERT_EQ(test, iommu_probe_device(&mdev->dev), 0);
	group = mock_group(mdev);
	ret = iso_group_change_default_type(group, IOMMU_DOMAIN_IDENTITY);
	KUNIT_ASSERT_EQ(test, ret, 0);
	KUNIT_ASSERT_FALSE(test, use_dma_iommu(&mdev->dev));
	live = atomic_read(&mock_paging_live);

	/* The RMRR cannot be mapped into the new domain, even after attach */
	mock_map_errno = -ENOSPC;
	ret = iso_group_change_default_type(group, IOMMU_DOMAIN_DMA);
	KUNIT_EXPECT_EQ(test, ret, -ENOSPC);
	mock_map_errno = 0;
	KUNIT_EXPECT_PTR_EQ(test, iommu_group_default_domain(group),
			    &mock_identity_domain);
	KUNIT_EXPECT_PTR_EQ(test, mdev->domain, &mock_identity_domain);
	KUNIT_EXPECT_FALSE_MSG(test, use_dma_iommu(&mdev->dev),
			       "DMA ops of the refused DMA domain");
	KUNIT_EXPECT_EQ(test, atomic_read(&mock_paging_live), live);

	/* Mapped, the RMRR is translated 1:1 in the new DMA domain */
	ret = iso_group_change_default_type(group, IOMMU_DOMAIN_DMA);
	KUNIT_ASSERT_EQ(test, ret, 0);
	KUNIT_EXPECT_TRUE(test, use_dma_iommu(&mdev->dev));
	KUNIT_EXPECT_TRUE(test, mock_translates(mdev, MOCK_RMRR_START,
						MOCK_RMRR_START));
}

/* Stands for a driver's transmit or interrupt path */
static DEFINE_SPINLOCK(map_path_lock);

/*
 * kdump: the old kernel's translation stays until the first DMA map,
 * which attaches from dma-iommu's map path: any context, here under a
 * spinlock (DEBUG_ATOMIC_SLEEP reports a sleeping lock taken there).
 */
static void deferred_attach_on_first_map(struct kunit *test)
{
	struct mock_dev *mdev = mock_dev_new(test, 1), *held;
	struct iommu_domain *def;
	unsigned int attaches;
	unsigned long flags;
	int ret;

	mdev->deferred = true;
	KUNIT_ASSERT_EQ(test, iommu_probe_device(&mdev->dev), 0);
	def = iommu_group_default_domain(mock_group(mdev));
	KUNIT_EXPECT_PTR_EQ(test, mdev->domain, &mock_old_kernel_domain);
	KUNIT_ASSERT_EQ(test, iommu_device_use_default_domain(&mdev->dev), 0);

	spin_lock_irqsave(&map_path_lock, flags);
	ret = iommu_deferred_attach(&mdev->dev, def);
	spin_unlock_irqrestore(&map_path_lock, flags);
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_PTR_EQ(test, mdev->domain, def);
	attaches = mdev->attaches;
	KUNIT_EXPECT_EQ(test, iommu_deferred_attach(&mdev->dev, def), 0);
	KUNIT_EXPECT_EQ(test, mdev->attaches, attaches);
	iommu_device_unuse_default_domain(&mdev->dev);

	/* A domain change before the first map ends the deferral */
	held = mock_dev_new(test, 2);
	held->deferred = true;
	KUNIT_ASSERT_EQ(test, iommu_probe_device(&held->dev), 0);
	def = iommu_group_default_domain(mock_group(held));
	KUNIT_ASSERT_EQ(test, iommu_group_claim_dma_owner(mock_group(held),
							  test), 0);
	KUNIT_EXPECT_PTR_EQ(test, held->domain, &mock_blocked_domain);
	KUNIT_EXPECT_EQ(test, iommu_deferred_attach(&held->dev, def), 0);
	KUNIT_EXPECT_PTR_EQ(test, held->domain, &mock_blocked_domain);
	iommu_group_release_dma_owner(mock_group(held));
	KUNIT_EXPECT_PTR_EQ(test, held->domain, def);
}

/* A device that fails to join is released under the group's mutex */
static void probe_failure_releases_under_mutex(struct kunit *test)
{
	struct mock_dev *a0 = mock_dev_add(test, 1);
	struct iommu_group *group = mock_group(a0);
	struct mock_dev *mdev = mock_dev_new(test, 1);
	char name[32];
	int i;

	/* Take every name the new member's devices/ link could have */
	for (i = -1; i <= 16; i++) {
		if (i < 0)
			strscpy(name, dev_name(&mdev->dev));
		else
			snprintf(name, sizeof(name), "%s.%d",
				 dev_name(&mdev->dev), i);
		KUNIT_ASSERT_EQ(test, sysfs_create_link_nowarn(group->devices_kobj,
							       &a0->dev.kobj,
							       name), 0);
	}
	KUNIT_EXPECT_EQ(test, iommu_probe_device(&mdev->dev), -EEXIST);
	for (i = -1; i <= 16; i++) {
		if (i < 0)
			strscpy(name, dev_name(&mdev->dev));
		else
			snprintf(name, sizeof(name), "%s.%d",
				 dev_name(&mdev->dev), i);
		sysfs_remove_link(group->devices_kobj, name);
	}
	KUNIT_EXPECT_NULL(test, mdev->dev.iommu_group);
	KUNIT_EXPECT_TRUE(test, mdev->released);
	KUNIT_EXPECT_TRUE(test, mdev->released_locked);
	KUNIT_EXPECT_EQ(test, list_count_nodes(&group->devices), 1);
}

/* Groups built by hand (VFIO no-IOMMU): membership under the probe lock */
static void group_add_device_by_hand(struct kunit *test)
{
	struct mock_dev *mdev = mock_dev_new(test, 1);
	struct iommu_group *group = iommu_group_alloc();
	struct walk_result walk = { .key = 1 };

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, group);
	KUNIT_EXPECT_EQ(test, iommu_group_add_device(group, &mdev->dev), 0);
	KUNIT_EXPECT_PTR_EQ(test, mdev->dev.iommu_group, group);
	KUNIT_EXPECT_EQ(test, iommu_group_add_device(group, &mdev->dev),
			-EBUSY);
	iommu_group_for_each_dev(group, &walk, walk_count);
	KUNIT_EXPECT_EQ(test, walk.of_key, 1);
	KUNIT_EXPECT_PTR_EQ(test, link_target(mdev->dev.kobj.sd, "iommu_group"),
			    group->kobj.sd);
	iommu_group_remove_device(&mdev->dev);
	KUNIT_EXPECT_NULL(test, mdev->dev.iommu_group);
	KUNIT_EXPECT_TRUE(test, list_empty(&group->devices));
	iommu_group_put(group);
}

static struct kunit_case isolation_core_cases[] = {
	KUNIT_CASE(enumeration_groups_devices_by_key),
	KUNIT_CASE(enumeration_sysfs_links),
	KUNIT_CASE(default_domain_set_at_probe),
	KUNIT_CASE(default_domain_follows_driver_type),
	KUNIT_CASE(attach_moves_every_device),
	KUNIT_CASE(attach_attached_group_is_busy),
	KUNIT_CASE(attach_user_held_group),
	KUNIT_CASE(attach_handle_recorded),
	KUNIT_CASE(attach_foreign_domain_is_invalid),
	KUNIT_CASE(attach_failure_rolls_back),
	KUNIT_CASE(detach_returns_to_default),
	KUNIT_CASE(hotadd_enters_attached_domain),
	KUNIT_CASE(hotadd_enters_blocked_domain),
	KUNIT_CASE(hotadd_gets_default_dma_ops),
	KUNIT_CASE(owner_dma_api_users_exclude_claim),
	KUNIT_CASE(owner_claim_blocks_group),
	KUNIT_CASE(owner_device_claims_counted),
	KUNIT_CASE(owner_claim_attached_group_is_busy),
	KUNIT_CASE(lifetime_group_freed_on_last_put),
	KUNIT_CASE(lifetime_group_freed_with_last_device),
	KUNIT_CASE(type_switch_without_holder),
	KUNIT_CASE(type_switch_with_holder_is_denied),
	KUNIT_CASE(type_switch_failure_keeps_default),
	KUNIT_CASE(attach_by_own_driver_keeps_dma_api),
	KUNIT_CASE(attach_refused_while_dma_api_bound),
	KUNIT_CASE(attach_block_then_fail_restores_all),
	KUNIT_CASE(hotadd_unblockable_into_held_group),
	KUNIT_CASE(bus_probe_skips_bound_devices),
	KUNIT_CASE(bus_probe_failure_releases_members),
	KUNIT_CASE(detach_always_ends_in_core_domain),
	KUNIT_CASE(attach_before_default_domain_is_busy),
	KUNIT_CASE(type_switch_failure_keeps_dma_ops),
	KUNIT_CASE(deferred_attach_on_first_map),
	KUNIT_CASE(probe_failure_releases_under_mutex),
	KUNIT_CASE(group_add_device_by_hand),
	KUNIT_CASE(direct_regions_mapped_after_attach),
	{}
};

static struct kunit_suite isolation_core_suite = {
	.name = "isolation_core",
	.init = mock_test_init,
	.suite_init = mock_suite_init,
	.suite_exit = mock_suite_exit,
	.test_cases = isolation_core_cases,
};

kunit_test_suite(isolation_core_suite);
