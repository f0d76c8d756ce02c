/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the hot-plug selftests (hotplug, hotplug_cycles) share: the empty
 * slots of the topology, adding an edu into one through QMP and removing it
 * again, the group a hot-added device gets, and a DMA round trip of an edu
 * opened through VFIO.
 *
 * The host adds and removes devices through QMP (iso_qmp(), see README);
 * the guest sees them through pciehp. An operator removes a device by
 * device_del, which costs pciehp's 5 s attention-button delay
 * (HP_BUTTON); HP_POWER_OFF has the guest turn the slot off instead, the
 * same removal in pciehp without the wait.
 */
#ifndef HOTPLUG_UTIL_H
#define HOTPLUG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "isolation_util.h"

/* a device has its iommu_group link right after it is registered */
#define HP_GROUP_TIMEOUT_MS	2000

/* One slot to hot-plug into: the port's QEMU id, and the new device's. */
struct hp_slot {
	const char *port;	/* topology name = QEMU bus id of the port */
	const char *id;		/* QEMU id of the device we add */
	char path[ISO_PATH_LEN + 8];	/* slot path of the device we add */
	char bdf[ISO_BDF_LEN];	/* its BDF while present */
	char port_bdf[ISO_BDF_LEN];
	char slot_dir[96];	/* /sys/bus/pci/slots/N of the port's slot */
	const char *via;	/* "pciehp" or "acpiphp": who owns the slot */
	bool plugged;		/* added by us and not yet seen removed */
};

/* How hp_del() removes a device; see there. */
enum hp_removal {
	HP_BUTTON,
	HP_POWER_OFF,
};

/*
 * Find port @port of the topology and the slot a hot-plug driver
 * registered for it (slot_dir stays empty when none did); 0 or -ENOENT
 * when the port is not in the guest.
 */
int hp_slot_init(struct hp_slot *s, struct iso_topology *t, const char *port,
		 const char *id);

/*
 * device_add an edu into @s and wait for it to appear at its path, then
 * for its iommu_group link and for the slot to settle. 0 (the BDF is in
 * s->bdf), -ETIMEDOUT (no device appeared) or -EBUSY (the slot's power
 * indicator kept blinking); hp_add_err() says which in words.
 */
int hp_add(struct hp_slot *s);
const char *hp_add_err(int ret);

/*
 * Remove what hp_add() added: wait until the guest has no device in the
 * slot and QEMU none either. 0 or -ETIMEDOUT.
 */
int hp_del(struct hp_slot *s, enum hp_removal how);

/* Remove a device of ours left in @s by a run that did not clean up. */
int hp_clear(struct hp_slot *s);

/*
 * Load the topology into @t and find the two empty slots the hot-plug
 * tests use, the root port rp5 and the switch port dsw3 (hp_slot_init()),
 * emptied of what an earlier run left (hp_clear()). 0; -EOPNOTSUPP when
 * the host takes no QMP requests or no hot-plug driver owns the slots (a
 * reason to skip); another -errno when the topology or the slots are
 * missing or the slots cannot be emptied. @why (@len bytes) says what
 * went wrong.
 */
int hp_slots_init(struct iso_topology *t, struct hp_slot *rp5,
		  struct hp_slot *dsw3, char *why, size_t len);

/*
 * Remove what we added to @s and is still there, unbinding its driver
 * first (a teardown after a failure). 0 or -ETIMEDOUT.
 */
int hp_unplug(struct hp_slot *s);

/*
 * The group of a device just hot-added. Without the isolation core a
 * device that has none yet (see iso_probe_group()) gets one through a
 * driver bind, and *@unprobed says so; with the core it must have one
 * already. The group number or -1.
 */
int hp_new_dev_group(const char *bdf, bool *unprobed);

#define HP_UNPROBED_WHY "stock: the hot-added device had no group until a driver bound"

/* A hexadecimal sysfs attribute of PCI device @bdf ("vendor"), or -1. */
int hp_read_hex(const char *bdf, const char *attr);

void hp_sleep_ms(int ms);

/*
 * An edu opened through VFIO (BAR0 at @bar) copies a fresh pattern from
 * the page at @iova (mapped to @buf) into its buffer and back to the page
 * after it. 0 when the bytes came back, -ETIMEDOUT when the DMA engine did
 * not complete, -EIO on a mismatch; @why (@len bytes) says what went wrong.
 */
int hp_vfio_round_trip(void *bar, unsigned char *buf, size_t pg,
		       uint64_t iova, char *why, size_t len);

#endif
