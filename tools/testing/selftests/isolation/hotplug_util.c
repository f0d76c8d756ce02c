// SPDX-License-Identifier: GPL-2.0
/* Hot-plug helpers of the isolation selftests; see hotplug_util.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include "edu.h"
#include "hotplug_util.h"
#include "vfio_util.h"

/* pciehp reports a new device in about a second */
#define ADD_TIMEOUT_MS		15000
/* pciehp waits 5 s after the attention button before it powers off */
#define DEL_TIMEOUT_MS		30000
/* pciehp's power-on is done when the power indicator stops blinking */
#define SLOT_TIMEOUT_MS		10000
#define DMA_TIMEOUT_MS		5000

void hp_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int hp_read_hex(const char *bdf, const char *attr)
{
	char path[PATH_MAX], buf[32];

	snprintf(path, sizeof(path), ISO_PCI_DEVICES "/%s/%s", bdf, attr);
	if (iso_read(path, buf, sizeof(buf)))
		return -1;
	return (int)strtol(buf, NULL, 16);
}

/*
 * The directory a hot-plug driver (pciehp, acpiphp) registered for the slot
 * of @port_bdf: the one whose address is the port's secondary bus,
 * "0000:BB:00". pciehp names it after the Physical Slot Number, which
 * repeats across chassis (QEMU's slot=), so the name alone says nothing.
 * 0, or -ENOENT when no driver owns the slot.
 */
static int slot_dir(const char *port_bdf, char *dir, size_t len)
{
	char path[PATH_MAX], want[32], addr[32];
	struct dirent *de;
	int ret = -ENOENT;
	DIR *d;

	snprintf(path, sizeof(path), ISO_PCI_DEVICES "/%s/pci_bus", port_bdf);
	d = opendir(path);
	if (!d)
		return -ENOENT;
	want[0] = '\0';
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			snprintf(want, sizeof(want), "%.16s:00", de->d_name);
	closedir(d);
	if (!want[0])
		return -ENOENT;

	d = opendir("/sys/bus/pci/slots");
	if (!d)
		return -ENOENT;
	while (ret && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/slots/%.64s/address",
			 de->d_name);
		if (!iso_read(path, addr, sizeof(addr)) && !strcmp(addr, want)) {
			snprintf(dir, len, "/sys/bus/pci/slots/%.64s", de->d_name);
			ret = 0;
		}
	}
	closedir(d);
	return ret;
}

/*
 * Who hot-plugs the slot in @dir of port @port_bdf. pciehp binds to the
 * port's hot-plug service ("BDF:pcieNNN" on the pci_express bus). Otherwise
 * a slot with the files of a hot-plug slot (pci_hp_register()'s "power",
 * "adapter") is acpiphp's: QEMU's default q35, where _OSC keeps native
 * hot-plug for the firmware. A slot with neither is only named (the ACPI
 * slot driver, from _SUN): NULL.
 */
static const char *slot_driver(const char *port_bdf, const char *dir)
{
	char prefix[ISO_BDF_LEN + 2], path[PATH_MAX];
	const char *via = NULL;
	struct dirent *de;
	DIR *d;

	snprintf(prefix, sizeof(prefix), "%s:", port_bdf);
	d = opendir("/sys/bus/pci_express/drivers/pciehp");
	if (d) {
		while ((de = readdir(d)))
			if (!strncmp(de->d_name, prefix, strlen(prefix)))
				via = "pciehp";
		closedir(d);
	}
	snprintf(path, sizeof(path), "%s/adapter", dir);
	if (!via && !access(path, F_OK))
		via = "acpiphp";
	return via;
}

int hp_slot_init(struct hp_slot *s, struct iso_topology *t, const char *port,
		 const char *id)
{
	struct iso_dev *d = iso_topology_find(t, port);

	memset(s, 0, sizeof(*s));
	s->port = port;
	s->id = id;
	if (!d || !d->bdf[0])
		return -ENOENT;
	snprintf(s->port_bdf, sizeof(s->port_bdf), "%s", d->bdf);
	snprintf(s->path, sizeof(s->path), "%s/00.0", d->path);
	if (!slot_dir(s->port_bdf, s->slot_dir, sizeof(s->slot_dir)))
		s->via = slot_driver(s->port_bdf, s->slot_dir);
	if (!s->via)
		s->slot_dir[0] = '\0';
	return 0;
}

/*
 * Read a 16-bit register of the PCIe capability of @bdf (config space
 * through sysfs) into *@val. 0 or -errno.
 */
static int pcie_cap_read16(const char *bdf, unsigned int reg, unsigned int *val)
{
	unsigned char cfg[256];
	char path[PATH_MAX];
	unsigned int pos, ttl;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), ISO_PCI_DEVICES "/%s/config", bdf);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = pread(fd, cfg, sizeof(cfg), 0);
	close(fd);
	if (n != sizeof(cfg))
		return -EIO;
	for (pos = cfg[PCI_CAPABILITY_LIST] & ~3u, ttl = 48; pos && ttl--;
	     pos = cfg[pos + 1] & ~3u) {
		if (cfg[pos] == PCI_CAP_ID_EXP) {
			*val = cfg[pos + reg] | cfg[pos + reg + 1] << 8;
			return 0;
		}
	}
	return -ENODEV;
}

/*
 * pciehp adds the device before it turns the power indicator from blinking
 * to on, and QEMU refuses device_del while it blinks ("guest is busy").
 * Wait for a steady "on" where the slot has a power indicator.
 */
static int wait_slot_on(const char *port_bdf, int timeout_ms)
{
	unsigned int cap, ctl;
	int waited;

	if (pcie_cap_read16(port_bdf, PCI_EXP_SLTCAP, &cap) ||
	    !(cap & PCI_EXP_SLTCAP_PIP))
		return 0;
	for (waited = 0; waited < timeout_ms; waited += 50) {
		if (!pcie_cap_read16(port_bdf, PCI_EXP_SLTCTL, &ctl) &&
		    (ctl & PCI_EXP_SLTCTL_PIC) == PCI_EXP_SLTCTL_PWR_IND_ON)
			return 0;
		hp_sleep_ms(50);
	}
	return -ETIMEDOUT;
}

/* QEMU still has a device in the slot (Presence Detect State). */
static bool slot_occupied(const struct hp_slot *s)
{
	unsigned int sta;

	return !pcie_cap_read16(s->port_bdf, PCI_EXP_SLTSTA, &sta) &&
	       (sta & PCI_EXP_SLTSTA_PDS);
}

int hp_add(struct hp_slot *s)
{
	char json[256], path[PATH_MAX];
	int waited;

	snprintf(json, sizeof(json),
		 "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"edu\",\"id\":\"%s\",\"bus\":\"%s\"}}",
		 s->id, s->port);
	iso_qmp(json);
	s->plugged = true;
	for (waited = 0; iso_path_to_bdf(s->path, s->bdf, sizeof(s->bdf));
	     waited += 50) {
		if (waited >= ADD_TIMEOUT_MS) {
			s->bdf[0] = '\0';
			return -ETIMEDOUT;
		}
		hp_sleep_ms(50);
	}
	snprintf(path, sizeof(path), ISO_PCI_DEVICES "/%s/iommu_group", s->bdf);
	iso_wait_path(path, true, HP_GROUP_TIMEOUT_MS);
	/* acpiphp leaves the slot's indicators alone: nothing to wait for */
	if (s->via && strcmp(s->via, "pciehp"))
		return 0;
	return wait_slot_on(s->port_bdf, SLOT_TIMEOUT_MS) ? -EBUSY : 0;
}

const char *hp_add_err(int ret)
{
	return ret == -ETIMEDOUT ? "no device appeared" :
	       "the slot's power indicator did not stop blinking";
}

/*
 * HP_BUTTON: QMP device_del, as an operator would. QEMU presses the slot's
 * attention button; pciehp gives 5 s to cancel (pciehp_queue_pushbutton_work())
 * before it removes the device and turns the slot off, and QEMU unplugs
 * the device once the slot's power and power indicator are off.
 *
 * HP_POWER_OFF: without the 5 s. The guest turns the slot off through its
 * "power" file, on which pciehp removes the device and turns the slot off
 * at once; QEMU 7.2 then unplugs the device right away (measured; in
 * pcie_cap_slot_write_config()). Should QEMU still have it, device_del of a
 * slot that is off unplugs without asking the guest
 * (pcie_cap_slot_unplug_request_cb()). Without a power file: HP_BUTTON.
 */
int hp_del(struct hp_slot *s, enum hp_removal how)
{
	char json[256], path[PATH_MAX], bdf[ISO_BDF_LEN];
	int waited, ret = -ETIMEDOUT;

	if (!s->plugged)
		return 0;
	snprintf(json, sizeof(json),
		 "{\"execute\":\"device_del\",\"arguments\":{\"id\":\"%s\"}}",
		 s->id);
	snprintf(path, sizeof(path), "%s/power", s->slot_dir);
	if (how != HP_POWER_OFF || !s->slot_dir[0] || iso_write(path, "0") ||
	    slot_occupied(s))
		iso_qmp(json);
	for (waited = 0; waited < DEL_TIMEOUT_MS; waited += 50) {
		if (iso_path_to_bdf(s->path, bdf, sizeof(bdf)) && !slot_occupied(s)) {
			ret = 0;
			break;
		}
		hp_sleep_ms(50);
	}
	if (!ret) {
		s->plugged = false;
		s->bdf[0] = '\0';
	}
	return ret;
}

int hp_clear(struct hp_slot *s)
{
	if (iso_path_to_bdf(s->path, s->bdf, sizeof(s->bdf)))
		return 0;
	vfio_release_bdf(s->bdf);
	s->plugged = true;
	return hp_del(s, HP_POWER_OFF);
}

int hp_slots_init(struct iso_topology *t, struct hp_slot *rp5,
		  struct hp_slot *dsw3, char *why, size_t len)
{
	struct hp_slot *s[] = { rp5, dsw3 };
	static const char * const port[] = { "rp5", "dsw3" };
	static const char * const id[] = { "hp-rp5", "hp-dsw3" };
	const char *want;
	int i, ret;

	if (!iso_have_qmp()) {
		snprintf(why, len,
			 "no QMP: the host does not act on @@qmp lines (ISOLATION_QMP unset)");
		return -EOPNOTSUPP;
	}
	ret = iso_topology_load(t);
	if (ret) {
		snprintf(why, len, ISO_TOPOLOGY_FILE ": %s", strerror(-ret));
		return ret;
	}
	for (i = 0; i < 2; i++) {
		if (hp_slot_init(s[i], t, port[i], id[i])) {
			snprintf(why, len, "%s is not in " ISO_TOPOLOGY_FILE
				 " or not in the guest", port[i]);
			return -ENOENT;
		}
	}
	for (i = 0; i < 2; i++) {
		if (!s[i]->slot_dir[0]) {
			snprintf(why, len,
				 "no hot-plug driver owns the slot of %s: pciehp needs QEMU q35 with -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off, acpiphp needs CONFIG_HOTPLUG_PCI_ACPI",
				 port[i]);
			return -EOPNOTSUPP;
		}
	}
	/*
	 * ISOLATION_HOTPLUG names the mechanism the run is meant to test
	 * (check.py's hot-plug suites): a slot owned by the other one fails
	 * the run rather than testing the wrong thing.
	 */
	want = getenv("ISOLATION_HOTPLUG");
	for (i = 0; i < 2; i++) {
		printf("# hot-plug: the slot of %s is %s's\n", port[i], s[i]->via);
		if (want && *want && strcmp(want, s[i]->via)) {
			snprintf(why, len, "the slot of %s is %s's, not %s's",
				 port[i], s[i]->via, want);
			return -EPROTO;
		}
	}
	for (i = 0; i < 2; i++) {
		if (hp_clear(s[i])) {
			snprintf(why, len, "%s is not empty", port[i]);
			return -EBUSY;
		}
	}
	why[0] = '\0';
	return 0;
}

int hp_unplug(struct hp_slot *s)
{
	if (!s->plugged)
		return 0;
	if (s->bdf[0])
		vfio_release_bdf(s->bdf);
	return hp_del(s, HP_POWER_OFF);
}

int hp_new_dev_group(const char *bdf, bool *unprobed)
{
	int g = iso_dev_group(bdf);

	if (g >= 0 || iso_have_core())
		return g;
	*unprobed = true;
	return iso_probe_group(bdf);
}

/* A pattern that differs between runs: stale bytes cannot pass. */
static void fill_pattern(unsigned char *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 13 + (i >> 8));
}

int hp_vfio_round_trip(void *bar, unsigned char *buf, size_t pg,
		       uint64_t iova, char *why, size_t len)
{
	static unsigned int runs;
	unsigned char *src = buf, *dst = buf + pg;
	size_t i;

	fill_pattern(src, EDU_MAX_XFER,
		     (unsigned int)getpid() ^ (uintptr_t)bar ^ runs++ * 37);
	memset(dst, 0xa5, EDU_MAX_XFER);
	if (edu_dma(bar, iova, 0, EDU_MAX_XFER, true, DMA_TIMEOUT_MS) ||
	    edu_dma(bar, iova + pg, 0, EDU_MAX_XFER, false, DMA_TIMEOUT_MS)) {
		snprintf(why, len, "the edu's DMA engine did not complete");
		return -ETIMEDOUT;
	}
	for (i = 0; i < EDU_MAX_XFER; i++) {
		if (src[i] != dst[i]) {
			snprintf(why, len, "byte %zu is 0x%02x, sent 0x%02x", i,
				 dst[i], src[i]);
			return -EIO;
		}
	}
	why[0] = '\0';
	return 0;
}
