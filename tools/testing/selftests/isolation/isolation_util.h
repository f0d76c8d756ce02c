/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the isolation selftests: find the devices of the
 * reference topology in sysfs, read their groups, bind drivers, and ask the
 * host to hot-plug (see README).
 */
#ifndef ISOLATION_UTIL_H
#define ISOLATION_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#define ISO_MAX_DEVS	64
#define ISO_NAME_LEN	32
#define ISO_BDF_LEN	16

struct iso_dev {
	char name[ISO_NAME_LEN];	/* name in machines/topology */
	char driver[ISO_NAME_LEN];	/* QEMU device model */
	char bdf[ISO_BDF_LEN];		/* "0000:01:00.0", "" if absent */
};

struct iso_topology {
	int nr;
	struct iso_dev dev[ISO_MAX_DEVS];
};

/* Read /harness/topology and resolve each device's path to its BDF. */
int iso_topology_load(struct iso_topology *t);
struct iso_dev *iso_topology_find(struct iso_topology *t, const char *name);

/*
 * Resolve a slot path ("05.0/00.0": slots from root bus 00 of domain 0, or
 * "1:02.0": from the root bus of domain 1) to a BDF.
 */
int iso_path_to_bdf(const char *path, char *bdf, size_t len);

/* Group number of a PCI device from its iommu_group link, -1 if none. */
int iso_dev_group(const char *bdf);

/* Numbers of the groups in /sys/kernel/iommu_groups, ascending; count or -errno. */
int iso_group_list(int *ids, int max);

/*
 * Entry names of /sys/kernel/iommu_groups/N/devices (the devices' sysfs
 * names), sorted; count or -errno.
 */
#define ISO_DEVNAME_LEN	256
int iso_group_devices(int group, char (*names)[ISO_DEVNAME_LEN], int max);

/* Bound driver's name into buf ("" if none); 0 or -errno. */
int iso_dev_driver(const char *bdf, char *buf, size_t len);

/*
 * Bind a device to a driver through driver_override (unbinding it first if
 * another driver has it). Returns 0 or the -errno the bind write gave.
 */
int iso_bind(const char *bdf, const char *driver);
int iso_unbind(const char *bdf);

/* Write/read a whole small sysfs file; 0 or -errno. */
int iso_write(const char *path, const char *val);
int iso_read(const char *path, char *buf, size_t len);

/* True when the kernel runs the isolation-group core (isolation_group link). */
bool iso_have_core(void);

/* True when the host harness listens for hot-plug requests. */
bool iso_have_qmp(void);

/*
 * Ask the host for a QMP command (JSON text) and, for device_add/device_del,
 * wait until the device at path appears/disappears. Returns 0, or -ETIMEDOUT.
 */
int iso_qmp(const char *json);
int iso_wait_path(const char *path, bool present, int timeout_ms);

#endif
