// SPDX-License-Identifier: GPL-2.0
/*
 * lsisolation - list IOMMU (isolation) groups and explain them
 *
 * Reads /sys/kernel/iommu_groups and /sys/bus/pci/devices (below
 * --sysfs-root), lists every group with its devices, their drivers, the
 * group's holder and domain type, says whether VFIO can use the group and,
 * from the devices' PCI config space, why the devices share a group: DMA
 * aliases of PCIe-to-PCI bridges, multifunction devices without ACS,
 * bridges without ACS on the path upstream, and switch downstream ports
 * without ACS (peer-to-peer). Works with the isolation-group core (holder,
 * domain, isolation_group) and with stock kernels (iommu_group, type).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DEVS	1024
#define MAX_GROUPS	1024
#define MAX_EDGES	8192
#define CFG_SIZE	4096
#define NAME_LEN	64
#define TEXT_LEN	1024

/* Exit status (see --help) */
#define EXIT_OK		0
#define EXIT_USAGE	1
#define EXIT_SYSFS	2

/* PCI config space: offsets and values from include/uapi/linux/pci_regs.h */
#define CFG_VENDOR		0x00
#define CFG_DEVICE		0x02
#define CFG_STATUS		0x06
#define  CFG_STATUS_CAP_LIST	0x10
#define CFG_CLASS_REV		0x08
#define CFG_HEADER_TYPE		0x0e
#define  HEADER_LAYOUT		0x7f
#define  HEADER_MFD		0x80
#define  HEADER_NORMAL		0
#define  HEADER_BRIDGE		1
#define  HEADER_CARDBUS		2
#define CFG_CAP_PTR		0x34
#define CFG_CB_CAP_PTR		0x14
#define CFG_STD_END		0x40
#define CAP_ID_EXP		0x10
#define EXP_FLAGS		0x02
#define  EXP_FLAGS_TYPE		0x00f0
#define EXT_CAP_START		0x100
#define EXT_CAP_ID_ACS		0x000d
#define ACS_CAP			0x04
#define ACS_CTRL		0x06
#define  ACS_SV			0x0001
#define  ACS_RR			0x0004
#define  ACS_CR			0x0008
#define  ACS_UF			0x0010
#define  ACS_EC			0x0020
/* The ACS controls the kernel requires for isolation (REQ_ACS_FLAGS) */
#define ACS_NEEDED		(ACS_SV | ACS_RR | ACS_CR | ACS_UF)

/* PCI Express device/port types (PCI_EXP_TYPE_*) */
enum exp_type {
	EXP_ENDPOINT	= 0x0,
	EXP_LEG_END	= 0x1,
	EXP_ROOT_PORT	= 0x4,
	EXP_UPSTREAM	= 0x5,
	EXP_DOWNSTREAM	= 0x6,
	EXP_PCI_BRIDGE	= 0x7,
	EXP_PCIE_BRIDGE	= 0x8,
	EXP_RC_END	= 0x9,
	EXP_RC_EC	= 0xa,
};

struct dev {
	char name[NAME_LEN];		/* sysfs name: the BDF for PCI */
	char path[PATH_MAX];		/* resolved sysfs path */
	char bus_type[NAME_LEN];	/* "pci", "platform", ... */
	char driver[NAME_LEN];		/* "" when unbound */
	int group;			/* -1 when it has none */
	int parent;			/* upstream PCI bridge, or -1 */
	bool pci;
	/* PCI only */
	unsigned int dom, bus, slot, fn;
	unsigned int vendor, device, class;
	unsigned int cfg_len;		/* bytes of config space read */
	int layout;			/* header layout */
	bool mfd;			/* multifunction bit */
	int exp_type;			/* PCIe type, -1 for conventional */
	int acs_pos;			/* ACS extended capability, 0 if none */
	unsigned int acs_cap, acs_ctrl;
};

struct group {
	int id;
	char type[NAME_LEN];		/* "" when the file is missing */
	char name[NAME_LEN];
	char holder[NAME_LEN];
	bool holder_read;		/* from sysfs, not inferred */
	char domain[NAME_LEN];		/* "" on kernels without the file */
	int nr;
	int dev[MAX_DEVS];
};

enum edge_kind {
	EDGE_ALIAS,	/* a's requests carry bridge b's ID */
	EDGE_UPSTREAM,	/* a is below bridge b, which does not isolate it */
	EDGE_MFD,	/* a and b: functions of one device without ACS */
	EDGE_PEER,	/* a and b: downstream ports of a leaky switch */
};

struct edge {
	enum edge_kind kind;
	int a, b;
	int culprit;	/* EDGE_UPSTREAM: the bridge on the path without ACS */
};

static struct dev devs[MAX_DEVS];
static int nr_devs;
static struct group groups[MAX_GROUPS];
static int nr_groups;
static struct edge edges[MAX_EDGES];
static int nr_edges;
static bool have_core;		/* a device has an isolation_group link */

static const char *sysfs_root = "/sys";
static const char *prog = "lsisolation";
static bool verbose;

static void err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* sysfs helpers ----------------------------------------------------------- */

/* First line of a small file, without the newline; false if unreadable. */
static bool read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	bool ok;

	buf[0] = '\0';
	if (!f)
		return false;
	ok = fgets(buf, len, f);
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

/* Last component of a symbolic link's target into buf, "" if none. */
static void link_base(const char *path, char *buf, size_t len)
{
	char target[PATH_MAX];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	const char *base;

	buf[0] = '\0';
	if (n <= 0)
		return;
	target[n] = '\0';
	base = strrchr(target, '/');
	snprintf(buf, len, "%s", base ? base + 1 : target);
}

static int no_dots(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

static unsigned int le16(const unsigned char *cfg, unsigned int pos)
{
	return cfg[pos] | cfg[pos + 1] << 8;
}

static unsigned int le32(const unsigned char *cfg, unsigned int pos)
{
	return le16(cfg, pos) | (unsigned int)le16(cfg, pos + 2) << 16;
}

/* PCI config space -------------------------------------------------------- */

static void parse_caps(struct dev *d, const unsigned char *cfg)
{
	unsigned int pos, hdr;
	int ttl;

	d->exp_type = -1;
	if (d->cfg_len < CFG_STD_END || !(le16(cfg, CFG_STATUS) & CFG_STATUS_CAP_LIST))
		return;
	pos = cfg[d->layout == HEADER_CARDBUS ? CFG_CB_CAP_PTR : CFG_CAP_PTR];
	for (ttl = 48; ttl > 0; ttl--) {
		pos &= ~3u;
		if (pos < CFG_STD_END || pos + 4 > d->cfg_len)
			break;
		if (cfg[pos] == CAP_ID_EXP) {
			d->exp_type = (le16(cfg, pos + EXP_FLAGS) & EXP_FLAGS_TYPE) >> 4;
			break;
		}
		pos = cfg[pos + 1];
	}
	if (d->exp_type < 0 || d->cfg_len < EXT_CAP_START + 8)
		return;
	pos = EXT_CAP_START;
	for (ttl = (CFG_SIZE - EXT_CAP_START) / 8; ttl > 0; ttl--) {
		if (pos + 8 > d->cfg_len)
			break;
		hdr = le32(cfg, pos);
		if (!hdr || hdr == 0xffffffff)
			break;
		if ((hdr & 0xffff) == EXT_CAP_ID_ACS) {
			d->acs_pos = pos;
			d->acs_cap = le16(cfg, pos + ACS_CAP);
			d->acs_ctrl = le16(cfg, pos + ACS_CTRL);
			break;
		}
		pos = (hdr >> 20) & 0xffc;
		if (pos < EXT_CAP_START)
			break;
	}
}

static unsigned int read_hex_file(const char *dir, const char *file)
{
	char path[PATH_MAX + NAME_LEN], buf[32];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (!read_line(path, buf, sizeof(buf)))
		return 0;
	return strtoul(buf, NULL, 16);
}

static void read_pci(struct dev *d)
{
	static unsigned char cfg[CFG_SIZE];
	char path[PATH_MAX + NAME_LEN];
	ssize_t n = 0, r;
	int fd;

	d->pci = true;
	d->exp_type = -1;
	/* a name that is no PCI address gets a bus number no device has */
	if (sscanf(d->name, "%x:%x:%x.%x", &d->dom, &d->bus, &d->slot, &d->fn) != 4)
		d->bus = UINT_MAX;
	snprintf(path, sizeof(path), "%s/config", d->path);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		while (n < CFG_SIZE &&
		       (r = read(fd, cfg + n, CFG_SIZE - n)) > 0)
			n += r;
		close(fd);
	}
	d->cfg_len = n;
	if (n >= CFG_STD_END) {
		d->vendor = le16(cfg, CFG_VENDOR);
		d->device = le16(cfg, CFG_DEVICE);
		d->class = le32(cfg, CFG_CLASS_REV) >> 8;
		d->layout = cfg[CFG_HEADER_TYPE] & HEADER_LAYOUT;
		d->mfd = cfg[CFG_HEADER_TYPE] & HEADER_MFD;
		parse_caps(d, cfg);
	} else {
		d->vendor = read_hex_file(d->path, "vendor");
		d->device = read_hex_file(d->path, "device");
		d->class = read_hex_file(d->path, "class");
		d->layout = (d->class >> 8) == 0x0604 ? HEADER_BRIDGE : HEADER_NORMAL;
	}
}

/* Devices and groups ------------------------------------------------------ */

/* Index of the device whose sysfs path (or, @by_name, name) is @key, or -1 */
static int find_dev(const char *key, bool by_name)
{
	int i;

	for (i = 0; i < nr_devs; i++)
		if (!strcmp(by_name ? devs[i].name : devs[i].path, key))
			return i;
	return -1;
}

/* Add the device at sysfs path @link (any bus); its index or -1. */
static int add_dev(const char *link)
{
	char path[PATH_MAX], file[PATH_MAX + NAME_LEN], buf[NAME_LEN];
	const char *base;
	struct dev *d;
	int i;

	if (!realpath(link, path))
		return -1;
	i = find_dev(path, false);
	if (i >= 0)
		return i;
	if (nr_devs == MAX_DEVS) {
		err("more than %d devices: ignoring %s", MAX_DEVS, path);
		return -1;
	}
	d = &devs[nr_devs];
	memset(d, 0, sizeof(*d));
	snprintf(d->path, sizeof(d->path), "%s", path);
	base = strrchr(path, '/');
	snprintf(d->name, sizeof(d->name), "%s", base ? base + 1 : path);
	d->group = -1;
	d->parent = -1;
	d->exp_type = -1;
	snprintf(file, sizeof(file), "%s/driver", path);
	link_base(file, d->driver, sizeof(d->driver));
	snprintf(file, sizeof(file), "%s/subsystem", path);
	link_base(file, d->bus_type, sizeof(d->bus_type));
	snprintf(file, sizeof(file), "%s/iommu_group", path);
	link_base(file, buf, sizeof(buf));
	if (buf[0])
		d->group = atoi(buf);
	snprintf(file, sizeof(file), "%s/isolation_group", path);
	if (!access(file, F_OK))
		have_core = true;
	if (!strcmp(d->bus_type, "pci"))
		read_pci(d);
	return nr_devs++;
}

/* Every PCI device; 0 or -errno when the bus cannot be read. */
static int scan_pci(void)
{
	char dir[PATH_MAX], link[PATH_MAX + 2 * NAME_LEN];
	struct dirent **de;
	int n, i, j;

	snprintf(dir, sizeof(dir), "%s/bus/pci/devices", sysfs_root);
	n = scandir(dir, &de, no_dots, alphasort);
	if (n < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		snprintf(link, sizeof(link), "%s/%s", dir, de[i]->d_name);
		j = add_dev(link);
		/* a fake tree may lack the subsystem link */
		if (j >= 0 && !devs[j].pci) {
			snprintf(devs[j].bus_type, NAME_LEN, "pci");
			read_pci(&devs[j]);
		}
		free(de[i]);
	}
	free(de);
	/* the upstream bridge is the parent directory, if a PCI device */
	for (i = 0; i < nr_devs; i++) {
		char parent[PATH_MAX], *slash;

		snprintf(parent, sizeof(parent), "%s", devs[i].path);
		slash = strrchr(parent, '/');
		if (!slash)
			continue;
		*slash = '\0';
		j = find_dev(parent, false);
		if (j >= 0 && devs[j].pci)
			devs[i].parent = j;
	}
	return 0;
}

static int cmp_group(const void *a, const void *b)
{
	return ((const struct group *)a)->id - ((const struct group *)b)->id;
}

static int scan_groups(void)
{
	char dir[PATH_MAX], sub[PATH_MAX + NAME_LEN], file[PATH_MAX + 2 * NAME_LEN];
	struct dirent **de, **dd;
	int n, i, k, m;

	snprintf(dir, sizeof(dir), "%s/kernel/iommu_groups", sysfs_root);
	n = scandir(dir, &de, no_dots, alphasort);
	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	for (i = 0; i < n; i++) {
		struct group *g = &groups[nr_groups];
		char *end;
		long id = strtol(de[i]->d_name, &end, 10);

		if (*end || id < 0 || nr_groups == MAX_GROUPS) {
			free(de[i]);
			continue;
		}
		memset(g, 0, sizeof(*g));
		g->id = id;
		snprintf(sub, sizeof(sub), "%s/%s", dir, de[i]->d_name);
		snprintf(file, sizeof(file), "%s/type", sub);
		read_line(file, g->type, sizeof(g->type));
		snprintf(file, sizeof(file), "%s/name", sub);
		read_line(file, g->name, sizeof(g->name));
		snprintf(file, sizeof(file), "%s/holder", sub);
		g->holder_read = read_line(file, g->holder, sizeof(g->holder));
		snprintf(file, sizeof(file), "%s/domain", sub);
		read_line(file, g->domain, sizeof(g->domain));
		snprintf(file, sizeof(file), "%s/devices", sub);
		m = scandir(file, &dd, no_dots, alphasort);
		for (k = 0; k < m; k++) {
			char link[sizeof(file) + NAME_LEN * 4];
			int d;

			snprintf(link, sizeof(link), "%s/%s", file, dd[k]->d_name);
			d = add_dev(link);
			if (d >= 0 && g->nr < MAX_DEVS) {
				g->dev[g->nr++] = d;
				if (devs[d].group < 0)
					devs[d].group = g->id;
			}
			free(dd[k]);
		}
		if (m >= 0)
			free(dd);
		nr_groups++;
		free(de[i]);
	}
	free(de);
	qsort(groups, nr_groups, sizeof(groups[0]), cmp_group);
	return 0;
}

static struct group *find_group(int id)
{
	int i;

	for (i = 0; i < nr_groups; i++)
		if (groups[i].id == id)
			return &groups[i];
	return NULL;
}

/* Drivers ----------------------------------------------------------------- */

/* VFIO drivers: vfio-pci and its variant drivers (mlx5_vfio_pci, ...) */
static bool driver_is_vfio(const char *drv)
{
	return strstr(drv, "vfio");
}

/* Drivers that do not use the DMA API (driver_managed_dma) */
static bool driver_no_dma(const char *drv)
{
	return !drv[0] || driver_is_vfio(drv) || !strcmp(drv, "pcieport") ||
	       !strcmp(drv, "pci-stub");
}

static void infer_holder(struct group *g)
{
	bool vfio = false;
	int i;

	if (g->holder_read)
		return;
	snprintf(g->holder, sizeof(g->holder), "none");
	for (i = 0; i < g->nr; i++) {
		const char *drv = devs[g->dev[i]].driver;

		if (!driver_no_dma(drv)) {
			snprintf(g->holder, sizeof(g->holder), "dma-api");
			return;
		}
		if (driver_is_vfio(drv))
			vfio = true;
	}
	if (vfio)
		snprintf(g->holder, sizeof(g->holder), "user");
}

/* PCI isolation rules (drivers/pci/pci.c, drivers/iommu) ------------------ */

static const char *kind_name(const struct dev *d)
{
	if (!d->pci)
		return d->bus_type[0] ? d->bus_type : "device";
	if ((d->class >> 8) == 0x0600)
		return "host bridge";
	switch (d->exp_type) {
	case EXP_ENDPOINT:
		return "PCIe endpoint";
	case EXP_LEG_END:
		return "legacy PCIe endpoint";
	case EXP_ROOT_PORT:
		return "root port";
	case EXP_UPSTREAM:
		return "switch upstream port";
	case EXP_DOWNSTREAM:
		return "switch downstream port";
	case EXP_PCI_BRIDGE:
		return "PCIe-to-PCI bridge";
	case EXP_PCIE_BRIDGE:
		return "PCI-to-PCIe bridge";
	case EXP_RC_END:
		return "RC integrated endpoint";
	case EXP_RC_EC:
		return "RC event collector";
	default:
		break;
	}
	if (d->layout == HEADER_BRIDGE)
		return "conventional PCI bridge";
	if (d->layout == HEADER_CARDBUS)
		return "CardBus bridge";
	return "conventional PCI device";
}

static bool is_bridge(const struct dev *d)
{
	return d->pci && (d->layout == HEADER_BRIDGE || d->layout == HEADER_CARDBUS);
}

/*
 * Whether the ACS controls the kernel needs are enabled (controls the
 * device does not implement count as hard-wired on, as in the kernel);
 * @why says what is missing.
 */
static bool acs_flags_enabled(const struct dev *d, char *why, size_t len)
{
	unsigned int need = ACS_NEEDED & (d->acs_cap | ACS_EC);

	if (d->cfg_len <= EXT_CAP_START) {
		snprintf(why, len, "extended config space not readable%s",
			 d->cfg_len <= CFG_STD_END ? " (not root?)" : "");
		return false;
	}
	if (!d->acs_pos) {
		snprintf(why, len, "no ACS capability");
		return false;
	}
	if ((d->acs_ctrl & need) != need) {
		snprintf(why, len, "ACS not enabled: control 0x%04x, needs 0x%04x",
			 d->acs_ctrl, need);
		return false;
	}
	return true;
}

/*
 * pci_acs_enabled() without the kernel's device-specific quirks: whether
 * @d keeps peer-to-peer requests from its functions or ports upstream.
 */
static bool acs_enabled(const struct dev *d, char *why, size_t len)
{
	if (!d->pci) {
		snprintf(why, len, "not a PCI device");
		return false;
	}
	switch (d->exp_type) {
	case -1:
		snprintf(why, len, "conventional PCI: no ACS");
		return false;
	case EXP_PCIE_BRIDGE:
	case EXP_PCI_BRIDGE:
	case EXP_RC_EC:
		snprintf(why, len, "%s: ACS does not apply", kind_name(d));
		return false;
	case EXP_DOWNSTREAM:
	case EXP_ROOT_PORT:
		return acs_flags_enabled(d, why, len);
	case EXP_ENDPOINT:
	case EXP_UPSTREAM:
	case EXP_LEG_END:
	case EXP_RC_END:
		if (d->mfd)
			return acs_flags_enabled(d, why, len);
		break;
	default:
		break;
	}
	return true;
}

static bool lacks_acs(const struct dev *d)
{
	char why[TEXT_LEN];

	return !acs_enabled(d, why, sizeof(why));
}

static bool same_bus(const struct dev *a, const struct dev *b)
{
	return a->pci && b->pci && a->dom == b->dom && a->bus == b->bus &&
	       a->parent == b->parent;
}

/* A downstream port of a switch whose internal bus leaks (some port lacks ACS) */
static bool leaky_switch_port(int i)
{
	int j;

	if (devs[i].exp_type != EXP_DOWNSTREAM)
		return false;
	for (j = 0; j < nr_devs; j++)
		if (same_bus(&devs[i], &devs[j]) &&
		    devs[j].exp_type == EXP_DOWNSTREAM && lacks_acs(&devs[j]))
			return true;
	return false;
}

/* The first bridge from @b upwards that does not isolate; -1 if none */
static int path_culprit(int b)
{
	for (; b >= 0; b = devs[b].parent)
		if (lacks_acs(&devs[b]) || leaky_switch_port(b))
			return b;
	return -1;
}

static void add_edge(enum edge_kind kind, int a, int b, int culprit)
{
	if (nr_edges == MAX_EDGES)
		return;
	edges[nr_edges].kind = kind;
	edges[nr_edges].a = a;
	edges[nr_edges].b = b;
	edges[nr_edges].culprit = culprit;
	nr_edges++;
}

/*
 * The facts pci_device_group() groups by, from config space: the bridges a
 * device's requests alias to, the bridges above it that do not isolate it,
 * and the devices on one bus that can reach each other.
 */
static void find_edges(void)
{
	int i, j, last, b, c;

	for (i = 0; i < nr_devs; i++) {
		if (!devs[i].pci)
			continue;
		/* pci_for_each_dma_alias(): conventional and PCIe-to-PCI bridges */
		last = i;
		for (b = devs[i].parent; b >= 0; b = devs[b].parent) {
			int t = devs[b].exp_type;

			if (t == -1 || t == EXP_PCI_BRIDGE || t == EXP_PCIE_BRIDGE) {
				add_edge(EDGE_ALIAS, i, b, -1);
				last = b;
			}
		}
		/* then up to the first bridge whose path isolates */
		for (b = devs[last].parent; b >= 0; b = devs[b].parent) {
			c = path_culprit(b);
			if (c < 0)
				break;
			add_edge(EDGE_UPSTREAM, last, b, c);
			last = b;
		}
	}
	for (i = 0; i < nr_devs; i++) {
		for (j = i + 1; j < nr_devs; j++) {
			struct dev *a = &devs[i], *d = &devs[j];

			if (!same_bus(a, d))
				continue;
			if (a->slot == d->slot && (a->mfd || d->mfd) &&
			    lacks_acs(a) && lacks_acs(d))
				add_edge(EDGE_MFD, i, j, -1);
			if (leaky_switch_port(i) && leaky_switch_port(j))
				add_edge(EDGE_PEER, i, j, -1);
		}
	}
}

/* Explanations ------------------------------------------------------------ */

struct reason {
	const char *kind;	/* alias, multifunction, upstream-no-acs, ... */
	char text[TEXT_LEN];
	int nr;
	int dev[MAX_DEVS];	/* the devices it is about */
	int via;		/* the bridge, or -1 */
};

#define MAX_REASONS	64

struct explain {
	int nr;
	struct reason r[MAX_REASONS];
};

static void add_unique(int *list, int *nr, int d)
{
	int i;

	for (i = 0; i < *nr; i++)
		if (list[i] == d)
			return;
	if (*nr < MAX_DEVS)
		list[(*nr)++] = d;
}

static void cat_names(char *buf, size_t len, const int *list, int nr)
{
	size_t at = strlen(buf);
	int i;

	for (i = 0; i < nr && at < len; i++) {
		snprintf(buf + at, len - at, "%s%s", i ? ", " : "", devs[list[i]].name);
		at = strlen(buf);
	}
}

static bool in_group(const struct group *g, int d)
{
	int i;

	for (i = 0; i < g->nr; i++)
		if (g->dev[i] == d)
			return true;
	return false;
}

/* The edges of the same kind and bridge as @e form one reason. */
static bool edge_key_eq(const struct edge *e, const struct edge *f)
{
	if (e->kind != f->kind)
		return false;
	switch (e->kind) {
	case EDGE_ALIAS:
		return e->b == f->b;
	case EDGE_UPSTREAM:
		return e->b == f->b && e->culprit == f->culprit;
	case EDGE_MFD:
		return devs[e->a].slot == devs[f->a].slot && same_bus(&devs[e->a], &devs[f->a]);
	case EDGE_PEER:
		return same_bus(&devs[e->a], &devs[f->a]);
	}
	return false;
}

static void reason_text(struct reason *r, const struct edge *e)
{
	char why[TEXT_LEN] = "";
	char *t = r->text;
	size_t len = sizeof(r->text);
	int up;

	t[0] = '\0';
	switch (e->kind) {
	case EDGE_ALIAS:
		r->kind = "alias";
		cat_names(t, len, r->dev, r->nr);
		snprintf(t + strlen(t), len - strlen(t),
			 ": behind %s %s: requests carry the bridge's ID (alias)",
			 kind_name(&devs[e->b]), devs[e->b].name);
		break;
	case EDGE_UPSTREAM:
		r->kind = "upstream-no-acs";
		cat_names(t, len, r->dev, r->nr);
		if (lacks_acs(&devs[e->culprit])) {
			acs_enabled(&devs[e->culprit], why, sizeof(why));
		} else {
			int j;

			for (j = 0; j < nr_devs; j++)
				if (same_bus(&devs[j], &devs[e->culprit]) &&
				    devs[j].exp_type == EXP_DOWNSTREAM && lacks_acs(&devs[j]))
					break;
			snprintf(why, sizeof(why), "its sibling port %s lacks ACS",
				 j < nr_devs ? devs[j].name : "?");
		}
		if (e->culprit == e->b)
			snprintf(t + strlen(t), len - strlen(t),
				 ": below %s %s, which does not isolate (%s)",
				 kind_name(&devs[e->b]), devs[e->b].name, why);
		else
			snprintf(t + strlen(t), len - strlen(t),
				 ": below %s %s; %s %s above it does not isolate (%s)",
				 kind_name(&devs[e->b]), devs[e->b].name,
				 kind_name(&devs[e->culprit]), devs[e->culprit].name, why);
		break;
	case EDGE_MFD:
		r->kind = "multifunction";
		cat_names(t, len, r->dev, r->nr);
		snprintf(t + strlen(t), len - strlen(t),
			 ": functions of one multifunction device without ACS");
		break;
	case EDGE_PEER:
		r->kind = "switch-peers";
		up = devs[e->a].parent;
		snprintf(t, len, "switch downstream ports ");
		cat_names(t, len, r->dev, r->nr);
		snprintf(t + strlen(t), len - strlen(t),
			 "%s%s lack ACS: peer-to-peer possible between the devices below them",
			 up >= 0 ? " of upstream port " : "", up >= 0 ? devs[up].name : "");
		break;
	}
}

static int cmp_dev_name(const void *a, const void *b)
{
	return strcmp(devs[*(const int *)a].name, devs[*(const int *)b].name);
}

/* Union-find over device indices, for what the reasons connect */
static int uf[MAX_DEVS];

static int uf_find(int x)
{
	while (uf[x] != x) {
		uf[x] = uf[uf[x]];
		x = uf[x];
	}
	return x;
}

static void uf_join(int a, int b)
{
	uf[uf_find(a)] = uf_find(b);
}

/*
 * Why the devices of @g share it: the edges between its members, merged
 * into one reason per bridge or device; whatever they do not connect is
 * "unexplained" (the IOMMU driver's grouping, or a DMA alias quirk).
 * With @split, instead: the edges from its members to devices in other
 * groups, which config space says are not isolated from them.
 */
static void explain(const struct group *g, struct explain *x, bool split)
{
	bool used[MAX_EDGES] = { false };
	int i, j, k, root, n;

	memset(x, 0, sizeof(*x));
	for (i = 0; i < nr_devs; i++)
		uf[i] = i;
	for (i = 0; i < nr_edges; i++) {
		const struct edge *e = &edges[i];
		bool ina = in_group(g, e->a), inb = in_group(g, e->b);
		struct reason *r;

		if (used[i])
			continue;
		if (split ? !(ina ^ inb) || devs[ina ? e->b : e->a].group < 0 : !(ina && inb))
			continue;
		if (x->nr == MAX_REASONS)
			break;
		r = &x->r[x->nr++];
		r->via = (e->kind == EDGE_ALIAS || e->kind == EDGE_UPSTREAM) ? e->b : -1;
		for (j = i; j < nr_edges; j++) {
			const struct edge *f = &edges[j];
			bool fa = in_group(g, f->a), fb = in_group(g, f->b);

			if (used[j] || !edge_key_eq(e, f))
				continue;
			if (split ? !(fa ^ fb) || devs[fa ? f->b : f->a].group < 0 : !(fa && fb))
				continue;
			used[j] = true;
			add_unique(r->dev, &r->nr, f->a);
			if (f->kind == EDGE_MFD || f->kind == EDGE_PEER || split)
				add_unique(r->dev, &r->nr, f->b);
			uf_join(f->a, f->b);
		}
		qsort(r->dev, r->nr, sizeof(r->dev[0]), cmp_dev_name);
		reason_text(r, e);
		if (split) {
			size_t at = strlen(r->text);

			snprintf(r->text + at, sizeof(r->text) - at,
				 "; yet ");
			for (k = 0; k < r->nr; k++) {
				at = strlen(r->text);
				snprintf(r->text + at, sizeof(r->text) - at,
					 "%s%s is in group %d", k ? ", " : "",
					 devs[r->dev[k]].name, devs[r->dev[k]].group);
			}
			at = strlen(r->text);
			snprintf(r->text + at, sizeof(r->text) - at,
				 ": the kernel isolates them anyway (a device-specific ACS quirk) or does not group them (stock Linux splits the ports of an ACS-less switch)");
			r->kind = "split";
		}
	}
	if (split || g->nr < 2)
		return;
	/* members the reasons leave unconnected */
	root = uf_find(g->dev[0]);
	for (i = 1; i < g->nr; i++)
		if (uf_find(g->dev[i]) != root)
			break;
	if (i == g->nr || x->nr == MAX_REASONS)
		return;
	{
		struct reason *r = &x->r[x->nr++];
		int comp[MAX_DEVS], nc = 0;

		r->kind = "unexplained";
		r->via = -1;
		for (i = 0; i < g->nr; i++) {
			add_unique(r->dev, &r->nr, g->dev[i]);
			add_unique(comp, &nc, uf_find(g->dev[i]));
		}
		snprintf(r->text, sizeof(r->text), "not explained by PCI config space: ");
		for (k = 0; k < nc; k++) {
			char part[TEXT_LEN] = "";
			int list[MAX_DEVS];

			n = 0;
			for (i = 0; i < g->nr; i++)
				if (uf_find(g->dev[i]) == comp[k])
					list[n++] = g->dev[i];
			cat_names(part, sizeof(part), list, n);
			snprintf(r->text + strlen(r->text), sizeof(r->text) - strlen(r->text),
				 "%s%s%s%s", k ? " | " : "", n > 1 ? "(" : "", part,
				 n > 1 ? ")" : "");
		}
		snprintf(r->text + strlen(r->text), sizeof(r->text) - strlen(r->text),
			 " share the group by the IOMMU driver's rule (one group per bus, host bridge or IOMMU) or a DMA alias quirk (not visible in sysfs)");
	}
}

/* VFIO viability: every device unbound or bound to a non-DMA-API driver */
static int vfio_blockers(const struct group *g, int *list)
{
	int i, n = 0;

	for (i = 0; i < g->nr; i++)
		if (!driver_no_dma(devs[g->dev[i]].driver))
			list[n++] = g->dev[i];
	return n;
}

/* Output: text ------------------------------------------------------------ */

static void print_dev_text(const struct dev *d)
{
	char why[TEXT_LEN];

	if (d->pci)
		printf("    %-14s %04x:%04x  %06x  %-24s %s\n", d->name, d->vendor,
		       d->device, d->class, kind_name(d), d->driver[0] ? d->driver : "-");
	else
		printf("    %-14s %-9s  %6s  %-24s %s\n", d->name, "", "",
		       kind_name(d), d->driver[0] ? d->driver : "-");
	if (!verbose || !d->pci)
		return;
	if (d->exp_type < 0 && !is_bridge(d))
		return;
	if (acs_enabled(d, why, sizeof(why)))
		printf("%20sACS: enabled%s\n", "", d->acs_pos ? "" : " (not needed)");
	else
		printf("%20sACS: %s\n", "", why);
}

static void print_reserved(const struct group *g)
{
	char path[PATH_MAX], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%d/reserved_regions",
		 sysfs_root, g->id);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		printf("  reserved: %s", line);
	fclose(f);
}

static void print_group_text(const struct group *g)
{
	static struct explain x;
	int list[MAX_DEVS], n, i;

	printf("Group %d: type %s, holder %s%s, domain %s%s%s\n", g->id,
	       g->type[0] ? g->type : "?", g->holder,
	       g->holder_read ? "" : " (inferred)",
	       g->domain[0] ? g->domain : "(not reported)",
	       g->name[0] ? ", name " : "", g->name);
	for (i = 0; i < g->nr; i++)
		print_dev_text(&devs[g->dev[i]]);
	if (verbose)
		print_reserved(g);
	explain(g, &x, false);
	for (i = 0; i < x.nr; i++)
		printf("  why: %s\n", x.r[i].text);
	n = vfio_blockers(g, list);
	if (!n) {
		printf("  VFIO: usable%s\n", !strcmp(g->holder, "user") ?
		       " (held by a user now)" : "");
	} else {
		for (i = 0; i < n; i++)
			printf("  VFIO: not usable: %s is bound to %s\n",
			       devs[list[i]].name, devs[list[i]].driver);
	}
	explain(g, &x, true);
	for (i = 0; i < x.nr; i++)
		printf("  warning: %s\n", x.r[i].text);
	printf("\n");
}

/* Output: JSON ------------------------------------------------------------ */

static void json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	putchar('"');
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p == '\n')
			printf("\\n");
		else if (*p == '\t')
			printf("\\t");
		else if (*p < 0x20 || *p >= 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* A string, or null when empty */
static void json_str_null(const char *s)
{
	if (s[0])
		json_str(s);
	else
		printf("null");
}

static void json_dev_list(const int *list, int n)
{
	int i;

	printf("[");
	for (i = 0; i < n; i++) {
		printf("%s", i ? ", " : "");
		json_str(devs[list[i]].name);
	}
	printf("]");
}

static void print_dev_json(const struct dev *d)
{
	char buf[TEXT_LEN];
	bool acs;

	printf("\t\t\t\t{\"name\": ");
	json_str(d->name);
	printf(", \"bus\": ");
	json_str_null(d->bus_type);
	printf(", \"driver\": ");
	json_str_null(d->driver);
	printf(", \"kind\": ");
	json_str(kind_name(d));
	if (d->pci) {
		acs = acs_enabled(d, buf, sizeof(buf));
		printf(", \"vendor\": \"%04x\", \"device\": \"%04x\", \"class\": \"%06x\"",
		       d->vendor, d->device, d->class);
		printf(", \"multifunction\": %s, \"pcie\": %s", d->mfd ? "true" : "false",
		       d->exp_type >= 0 ? "true" : "false");
		printf(", \"parent\": ");
		json_str_null(d->parent >= 0 ? devs[d->parent].name : "");
		printf(", \"config_bytes\": %u", d->cfg_len);
		if (d->acs_pos)
			printf(", \"acs\": {\"cap\": \"0x%04x\", \"ctrl\": \"0x%04x\"}",
			       d->acs_cap, d->acs_ctrl);
		else
			printf(", \"acs\": null");
		printf(", \"acs_enabled\": %s, \"acs_note\": ", acs ? "true" : "false");
		json_str_null(acs ? "" : buf);
	}
	printf("}");
}

static void print_reasons_json(const char *key, const struct explain *x)
{
	int i;

	printf(",\n\t\t\t\"%s\": [", key);
	for (i = 0; i < x->nr; i++) {
		const struct reason *r = &x->r[i];

		printf("%s\n\t\t\t\t{\"kind\": ", i ? "," : "");
		json_str(r->kind);
		printf(", \"devices\": ");
		json_dev_list(r->dev, r->nr);
		printf(", \"via\": ");
		json_str_null(r->via >= 0 ? devs[r->via].name : "");
		printf(", \"text\": ");
		json_str(r->text);
		printf("}");
	}
	printf("%s]", x->nr ? "\n\t\t\t" : "");
}

static void print_group_json(const struct group *g, bool first)
{
	char text[TEXT_LEN];
	static struct explain x;
	int list[MAX_DEVS], n, i;

	printf("%s\t\t{\n\t\t\t\"group\": %d,\n\t\t\t\"type\": ", first ? "" : ",\n", g->id);
	json_str_null(g->type);
	printf(",\n\t\t\t\"name\": ");
	json_str_null(g->name);
	printf(",\n\t\t\t\"holder\": ");
	json_str(g->holder);
	printf(",\n\t\t\t\"holder_source\": \"%s\"", g->holder_read ? "sysfs" : "inferred");
	printf(",\n\t\t\t\"domain\": ");
	json_str_null(g->domain);
	printf(",\n\t\t\t\"devices\": [");
	for (i = 0; i < g->nr; i++) {
		printf("%s\n", i ? "," : "");
		print_dev_json(&devs[g->dev[i]]);
	}
	printf("\n\t\t\t]");
	n = vfio_blockers(g, list);
	printf(",\n\t\t\t\"vfio\": {\"usable\": %s, \"held_by_user\": %s, \"blockers\": [",
	       n ? "false" : "true", strcmp(g->holder, "user") ? "false" : "true");
	for (i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "%s is bound to %s", devs[list[i]].name,
			 devs[list[i]].driver);
		printf("%s{\"device\": ", i ? ", " : "");
		json_str(devs[list[i]].name);
		printf(", \"driver\": ");
		json_str(devs[list[i]].driver);
		printf(", \"text\": ");
		json_str(text);
		printf("}");
	}
	printf("]}");
	explain(g, &x, false);
	print_reasons_json("why", &x);
	explain(g, &x, true);
	print_reasons_json("warnings", &x);
	printf("\n\t\t}");
}

/* Command line ------------------------------------------------------------ */

static const char help_text[] =
	"NAME\n"
	"    lsisolation - list IOMMU isolation groups and explain why devices share them\n"
	"\n"
	"SYNOPSIS\n"
	"    lsisolation [-v] [-j] [-g GROUP | -d DEVICE] [-r DIR]\n"
	"    lsisolation -h\n"
	"\n"
	"DESCRIPTION\n"
	"    Lists the IOMMU groups of /sys/kernel/iommu_groups: for each group its\n"
	"    default domain type, who holds it (none, dma-api or user), which domain\n"
	"    it is in, and its devices with vendor:device, class, kind and driver.\n"
	"\n"
	"    For each group of more than one device it explains why they share it,\n"
	"    from the PCI config space of the devices (/sys/bus/pci/devices/*/config;\n"
	"    the capability lists, ACS, and multifunction bit are parsed here):\n"
	"      alias            behind a PCIe-to-PCI or conventional bridge, requests\n"
	"                       carry the bridge's requester ID\n"
	"      multifunction    functions of one device with no ACS between them\n"
	"      upstream-no-acs  a bridge above the device lacks ACS (or does not\n"
	"                       enable it), so it does not isolate what is below it\n"
	"      switch-peers     downstream ports of one switch lacking ACS: devices\n"
	"                       below them can reach each other peer-to-peer\n"
	"      unexplained      not visible in config space: the IOMMU driver's own\n"
	"                       grouping or a DMA alias quirk\n"
	"    A warning is printed when config space says devices of different groups\n"
	"    are not isolated (a kernel ACS quirk for the device, or a kernel that\n"
	"    splits the ports of an ACS-less switch, as stock Linux does).\n"
	"\n"
	"    It says whether VFIO can use the group: only when no device of it is\n"
	"    bound to a driver that uses the DMA API (vfio-pci, pcieport, pci-stub\n"
	"    and unbound devices are fine), and names each device that blocks it.\n"
	"\n"
	"    With the isolation-group core the holder and domain come from the\n"
	"    group's holder and domain files; on other kernels the holder is\n"
	"    inferred from the drivers (vfio => user, a DMA-API driver => dma-api)\n"
	"    and the domain is not reported. Reading config space beyond 64 bytes\n"
	"    needs root; without it ACS cannot be seen.\n"
	"\n"
	"OPTIONS\n"
	"    -g, --group GROUP     only group number GROUP\n"
	"    -d, --device DEVICE   only the group of DEVICE (a PCI address such as\n"
	"                          0000:00:03.0 or 00:03.0, or a sysfs device name)\n"
	"    -j, --json            JSON output for scripts (see OUTPUT)\n"
	"    -r, --sysfs-root DIR  read DIR instead of /sys (a copy or a fake tree)\n"
	"    -v, --verbose         also ACS state per port and reserved regions\n"
	"    -h, --help            this text\n"
	"\n"
	"OUTPUT\n"
	"    Text: one block per group, \"Group N: type T, holder H, domain D\", a\n"
	"    line per device (name, vendor:device, class, kind, driver or \"-\"),\n"
	"    then \"why:\", \"VFIO:\" and \"warning:\" lines.\n"
	"\n"
	"    JSON: {\"sysfs_root\", \"isolation_core\": bool, \"groups\": [{\"group\",\n"
	"    \"type\", \"name\", \"holder\", \"holder_source\" (sysfs|inferred),\n"
	"    \"domain\", \"devices\": [{\"name\", \"bus\", \"driver\", \"kind\",\n"
	"    \"vendor\", \"device\", \"class\", \"multifunction\", \"pcie\", \"parent\",\n"
	"    \"config_bytes\", \"acs\": {\"cap\", \"ctrl\"} or null, \"acs_enabled\",\n"
	"    \"acs_note\"}], \"vfio\": {\"usable\", \"held_by_user\",\n"
	"    \"blockers\": [{\"device\", \"driver\", \"text\"}]}, \"why\": [{\"kind\",\n"
	"    \"devices\", \"via\", \"text\"}], \"warnings\": [same]}]}. Absent values\n"
	"    are null.\n"
	"\n"
	"EXIT STATUS\n"
	"    0  success (also when there are no groups)\n"
	"    1  wrong use: unknown option, bad argument, no such group or device,\n"
	"       or a device without a group\n"
	"    2  sysfs cannot be read (no DIR/bus/pci/devices)\n"
	"\n"
	"EXAMPLES\n"
	"    lsisolation                 all groups, explained\n"
	"    lsisolation -d 00:03.0      the group of 0000:00:03.0\n"
	"    lsisolation -g 7 -v         group 7 with ACS states\n"
	"    lsisolation --json | jq '.groups[] | select(.vfio.usable)'\n"
	"    lsisolation -r /tmp/fake-sys --json\n";

static void usage(FILE *f)
{
	fputs(help_text, f);
}

static bool parse_group_arg(const char *s, int *id)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 0 || v > INT_MAX)
		return false;
	*id = v;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "group", required_argument, NULL, 'g' },
		{ "device", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "sysfs-root", required_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char device[NAME_LEN] = "";
	bool json = false, first = true;
	int want = -1, c, i, ret;

	while ((c = getopt_long(argc, argv, "g:d:jr:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'g':
			if (!parse_group_arg(optarg, &want)) {
				err("bad group number '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'd':
			if (strlen(optarg) >= NAME_LEN - 5 || !optarg[0]) {
				err("bad device name '%s'", optarg);
				return EXIT_USAGE;
			}
			/* bus:slot.fn without a domain: domain 0000 */
			if (strchr(optarg, ':') == strrchr(optarg, ':') && strchr(optarg, ':'))
				snprintf(device, sizeof(device), "0000:%s", optarg);
			else
				snprintf(device, sizeof(device), "%s", optarg);
			for (i = 0; device[i]; i++)
				device[i] = tolower((unsigned char)device[i]);
			break;
		case 'j':
			json = true;
			break;
		case 'r':
			sysfs_root = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			fprintf(stderr, "Try '%s --help'.\n", prog);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		err("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (want >= 0 && device[0]) {
		err("give -g or -d, not both");
		return EXIT_USAGE;
	}

	ret = scan_pci();
	if (ret) {
		err("cannot read %s/bus/pci/devices: %s", sysfs_root, strerror(-ret));
		return EXIT_SYSFS;
	}
	ret = scan_groups();
	if (ret) {
		err("cannot read %s/kernel/iommu_groups: %s", sysfs_root, strerror(-ret));
		return EXIT_SYSFS;
	}
	for (i = 0; i < nr_groups; i++)
		infer_holder(&groups[i]);
	find_edges();

	if (device[0]) {
		i = find_dev(device, true);
		if (i < 0) {
			err("no such device: %s", device);
			return EXIT_USAGE;
		}
		if (devs[i].group < 0) {
			err("%s has no IOMMU group", device);
			return EXIT_USAGE;
		}
		want = devs[i].group;
	}
	if (want >= 0 && !find_group(want)) {
		err("no such group: %d", want);
		return EXIT_USAGE;
	}

	if (json) {
		printf("{\n\t\"sysfs_root\": ");
		json_str(sysfs_root);
		printf(",\n\t\"isolation_core\": %s,\n\t\"groups\": [\n",
		       have_core ? "true" : "false");
	} else if (!nr_groups) {
		printf("No IOMMU groups in %s/kernel/iommu_groups.\n", sysfs_root);
	}
	for (i = 0; i < nr_groups; i++) {
		if (want >= 0 && groups[i].id != want)
			continue;
		if (json)
			print_group_json(&groups[i], first);
		else
			print_group_text(&groups[i]);
		first = false;
	}
	if (json)
		printf("\n\t]\n}\n");
	return EXIT_OK;
}
