/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Isolation-group core KUnit tests: the mock IOMMU driver and the helpers
 * the suites share (isolation_mock.c says which real driver each mock
 * behaviour copies).
 */
#ifndef __ISOLATION_MOCK_H
#define __ISOLATION_MOCK_H

#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/device.h>
#include <linux/iommu.h>
#include <linux/kernfs.h>
#include <linux/sizes.h>

enum mock_fail_mode {
	MOCK_FAIL_KEEPS,
	MOCK_FAIL_BLOCKS,
};

#define MOCK_RMRR_START	0xe0000
#define MOCK_RMRR_SIZE	SZ_64K

struct mock_dev {
	struct device dev;
	/* On mock_devs, under iommu_probe_device_lock */
	struct list_head node;
	u64 dma_mask;
	/* Devices with one key share a group */
	int key;
	/* What the hardware translates with; written under the group mutex */
	struct iommu_domain *domain;
	unsigned int attaches;
	bool released;
	/* release_device() ran while the group's mutex was held */
	bool released_locked;
	/* The group device_group() named, to check the release above */
	struct iommu_group *named_group;
	/* Refuse attaching to fail_domain, or to any domain of fail_type */
	struct iommu_domain *fail_domain;
	int fail_type;
	int fail_errno;
	enum mock_fail_mode fail_mode;
	bool deferred;
	/* What the hardware does for the PASID the tests use */
	struct iommu_domain *pasid_domain;
	bool rmrr;
	int probe_errno;
	/* mock_driver binds to the device */
	bool bind;
	/* Called from device_group(), inside the probe */
	void (*group_hook)(struct mock_dev *mdev);
	void *hook_data;
};

struct walk_result {
	int devices;
	int of_key;
	int key;
};

extern const struct bus_type mock_bus;
extern struct list_head mock_devs;
extern const struct iommu_ops mock_ops;
extern struct device_driver mock_driver;
extern struct iommu_domain mock_identity_domain;
extern struct iommu_domain mock_blocked_domain;
extern struct iommu_domain mock_old_kernel_domain;

/* Per-test knobs, reset by mock_test_init() */
extern int mock_def_type;
extern int mock_paging_errno;
extern int mock_map_errno;
/* Paging domains map only once attached (arm-smmu v2 sets up at attach) */
extern bool mock_map_needs_attach;
/* 0: off; N: the N-th driver callback from now fails with -ENOMEM */
extern atomic_t mock_fail_nth;
/* Paging domains the driver allocated and not yet freed */
extern atomic_t mock_paging_live;
/* Calls of the group's iommudata release, i.e. groups freed */
extern atomic_t mock_groups_freed;

bool mock_fail_now(void);
phys_addr_t mock_iova_to_phys(struct iommu_domain *domain,
			      dma_addr_t iova);
bool mock_translates(struct mock_dev *mdev, dma_addr_t iova,
		     phys_addr_t phys);
struct mock_dev *mock_dev_new(struct kunit *test, int key);
struct mock_dev *mock_dev_add(struct kunit *test, int key);
void mock_dev_del(struct kunit *test, struct mock_dev *mdev);
void mock_domain_del(struct kunit *test, struct iommu_domain *domain);
struct iommu_group *mock_group(struct mock_dev *mdev);
struct iommu_group *mock_pair(struct kunit *test,
			      struct mock_dev **devs,
			      struct iommu_domain **def);
struct iommu_domain *mock_user_domain(struct kunit *test,
				      struct mock_dev *mdev);
struct iommu_domain *mock_foreign_domain(struct kunit *test);
void expect_devs_in(struct kunit *test, struct mock_dev **devs,
		    int n, struct iommu_domain *domain,
		    const char *when);
struct kernfs_node *link_target(struct kernfs_node *dir,
				const char *name);
bool group_in_sysfs(int id);
void mock_group_data_release(void *data);
int groups_freed_since(int base, int expect);
int walk_count(struct device *dev, void *data);
int mock_test_init(struct kunit *test);
int mock_suite_init(struct kunit_suite *suite);
void mock_suite_exit(struct kunit_suite *suite);

#endif /* __ISOLATION_MOCK_H */
