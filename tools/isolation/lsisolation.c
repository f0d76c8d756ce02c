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
#include <sys/stat.h>
#include <sys/utsname.h>
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
#define EXIT_SYSFS	2	/* also: the saved JSON of --diff cannot be read */
#define EXIT_CHANGED	3	/* --diff: groups changed; --predict: they differ */

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
#define EXP_DEVCTL2		0x28
#define  EXP_DEVCTL2_ARI	0x0020
#define PCI_FN(devfn)		((devfn) & 7)
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

/*
 * Device-specific quirks of drivers/pci/quirks.c that change grouping,
 * by vendor:device ID, so that the tool's rules give the kernel's groups.
 * ACS quirks (pci_dev_specific_acs_enabled()): the ID's verdict replaces
 * what config space says. The Intel PCH, AMD southbridge, Zhaoxin port,
 * Cavium and Annapurna quirks depend on more than the ID (device lists,
 * ACPI tables, registers) and are not mirrored: for those the tool
 * follows config space and may warn where the kernel isolates.
 */
#define ANY_ID		0xffffffffu
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

enum acs_verdict {
	ACS_QUIRK_YES,		/* the kernel treats it as isolating */
	ACS_QUIRK_NO,		/* the kernel treats it as not isolating */
	ACS_QUIRK_RCIEP,	/* yes for RC integrated endpoints only */
};

struct acs_quirk {
	unsigned int vendor, device;	/* device: ANY_ID or a last ID */
	unsigned int last;		/* a range device..last; 0: one ID */
	enum acs_verdict verdict;
	const char *name;		/* the kernel's quirk function */
};

#define MF_EP(v, d)	{ v, d, 0, ACS_QUIRK_YES, "pci_quirk_mf_endpoint_acs" }
#define NO_P2P(v, d, n)	{ v, d, 0, ACS_QUIRK_YES, n }

/* In the kernel's order: the first entry that gives a verdict wins */
static const struct acs_quirk acs_quirks[] = {
	MF_EP(0x1924, 0x0903), MF_EP(0x1924, 0x0923), MF_EP(0x1924, 0x0a03),
	/* Intel NICs: 82599, X540, X550, 82580, 82576, 82575, I350, ... */
	MF_EP(0x8086, 0x10c6), MF_EP(0x8086, 0x10db), MF_EP(0x8086, 0x10dd),
	MF_EP(0x8086, 0x10e1), MF_EP(0x8086, 0x10f1), MF_EP(0x8086, 0x10f7),
	MF_EP(0x8086, 0x10f8), MF_EP(0x8086, 0x10f9), MF_EP(0x8086, 0x10fa),
	MF_EP(0x8086, 0x10fb), MF_EP(0x8086, 0x10fc), MF_EP(0x8086, 0x1507),
	MF_EP(0x8086, 0x1514), MF_EP(0x8086, 0x151c), MF_EP(0x8086, 0x1529),
	MF_EP(0x8086, 0x152a), MF_EP(0x8086, 0x154d), MF_EP(0x8086, 0x154f),
	MF_EP(0x8086, 0x1551), MF_EP(0x8086, 0x1558), MF_EP(0x8086, 0x1509),
	MF_EP(0x8086, 0x150e), MF_EP(0x8086, 0x150f), MF_EP(0x8086, 0x1510),
	MF_EP(0x8086, 0x1511), MF_EP(0x8086, 0x1516), MF_EP(0x8086, 0x1527),
	MF_EP(0x8086, 0x10c9), MF_EP(0x8086, 0x10e6), MF_EP(0x8086, 0x10e7),
	MF_EP(0x8086, 0x10e8), MF_EP(0x8086, 0x150a), MF_EP(0x8086, 0x150d),
	MF_EP(0x8086, 0x1518), MF_EP(0x8086, 0x1526), MF_EP(0x8086, 0x10a7),
	MF_EP(0x8086, 0x10a9), MF_EP(0x8086, 0x10d6), MF_EP(0x8086, 0x1521),
	MF_EP(0x8086, 0x1522), MF_EP(0x8086, 0x1523), MF_EP(0x8086, 0x1524),
	MF_EP(0x8086, 0x105e), MF_EP(0x8086, 0x105f), MF_EP(0x8086, 0x1060),
	MF_EP(0x8086, 0x10d9), MF_EP(0x8086, 0x15b7), MF_EP(0x8086, 0x15b8),
	{ 0x8086, ANY_ID, 0, ACS_QUIRK_RCIEP, "pci_quirk_rciep_acs" },
	NO_P2P(0x17cb, 0x0400, "pci_quirk_qcom_rp_acs"),
	NO_P2P(0x17cb, 0x0401, "pci_quirk_qcom_rp_acs"),
	NO_P2P(0x17cb, 0x0115, "pci_quirk_qcom_rp_acs"),
	NO_P2P(0x17cb, 0x0111, "pci_quirk_qcom_rp_acs"),
	NO_P2P(0x17cb, 0x0120, "pci_quirk_qcom_rp_acs"),
	NO_P2P(0x1dbf, 0x0401, "pci_quirk_qcom_rp_acs"),
	MF_EP(0x19a2, 0x0710), MF_EP(0x10df, 0x0720),
	MF_EP(0x177d, 0xa026), MF_EP(0x177d, 0xa059), MF_EP(0x177d, 0xa060),
	NO_P2P(0x10e8, 0xe004, "pci_quirk_xgene_acs"),
	{ 0x1def, 0xe005, 0xe00c, ACS_QUIRK_YES, "pci_quirk_xgene_acs" },
	MF_EP(0x14e4, 0x16d7), MF_EP(0x14e4, 0x1750), MF_EP(0x14e4, 0x1751),
	MF_EP(0x14e4, 0x1752), MF_EP(0x14e4, 0x1760), MF_EP(0x14e4, 0x1761),
	MF_EP(0x14e4, 0x1762), MF_EP(0x14e4, 0x1763),
	NO_P2P(0x14e4, 0xd714, "pci_quirk_brcm_acs"),
	{ 0x0014, 0x3c09, 0, ACS_QUIRK_YES, "pci_quirk_loongson_acs" },
	{ 0x0014, 0x3c19, 0, ACS_QUIRK_YES, "pci_quirk_loongson_acs" },
	{ 0x0014, 0x3c29, 0, ACS_QUIRK_YES, "pci_quirk_loongson_acs" },
	{ 0x0014, 0x7a09, 0, ACS_QUIRK_YES, "pci_quirk_loongson_acs" },
	{ 0x0014, 0x7a19, 0, ACS_QUIRK_YES, "pci_quirk_loongson_acs" },
	{ 0x0014, 0x7a29, 0, ACS_QUIRK_YES, "pci_quirk_loongson_acs" },
	{ 0x0014, 0x7a39, 0, ACS_QUIRK_YES, "pci_quirk_loongson_acs" },
	{ 0x0014, 0x7a49, 0, ACS_QUIRK_YES, "pci_quirk_loongson_acs" },
	{ 0x0014, 0x7a59, 0, ACS_QUIRK_YES, "pci_quirk_loongson_acs" },
	{ 0x0014, 0x7a69, 0, ACS_QUIRK_YES, "pci_quirk_loongson_acs" },
	MF_EP(0x1d17, 0x3038), MF_EP(0x1d17, 0x3104), MF_EP(0x1d17, 0x9083),
	/* NXP LX2xx0/LX2xx2 root ports */
	{ 0x1957, 0x8d80, 0x8d83, ACS_QUIRK_YES, "pci_quirk_nxp_rp_acs" },
	{ 0x1957, 0x8d88, 0x8d8b, ACS_QUIRK_YES, "pci_quirk_nxp_rp_acs" },
	{ 0x1957, 0x8d90, 0x8d93, ACS_QUIRK_YES, "pci_quirk_nxp_rp_acs" },
	{ 0x1957, 0x8d98, 0x8d9b, ACS_QUIRK_YES, "pci_quirk_nxp_rp_acs" },
	{ 0x1957, 0x8da0, 0x8da1, ACS_QUIRK_YES, "pci_quirk_nxp_rp_acs" },
	{ 0x1957, 0x8da8, 0x8da9, ACS_QUIRK_YES, "pci_quirk_nxp_rp_acs" },
	{ 0x1957, 0x8db0, 0x8db1, ACS_QUIRK_YES, "pci_quirk_nxp_rp_acs" },
	{ 0x1957, 0x8db8, 0x8db9, ACS_QUIRK_YES, "pci_quirk_nxp_rp_acs" },
	/* Wangxun NICs: the listed ones isolate, any other does not */
	{ 0x8088, 0x0100, 0x010f, ACS_QUIRK_YES, "pci_quirk_wangxun_nic_acs" },
	{ 0x8088, 0x1001, 0, ACS_QUIRK_YES, "pci_quirk_wangxun_nic_acs" },
	{ 0x8088, 0x2001, 0, ACS_QUIRK_YES, "pci_quirk_wangxun_nic_acs" },
	{ 0x8088, 0x5010, 0, ACS_QUIRK_YES, "pci_quirk_wangxun_nic_acs" },
	{ 0x8088, 0x5025, 0, ACS_QUIRK_YES, "pci_quirk_wangxun_nic_acs" },
	{ 0x8088, 0x5040, 0, ACS_QUIRK_YES, "pci_quirk_wangxun_nic_acs" },
	{ 0x8088, 0x5110, 0, ACS_QUIRK_YES, "pci_quirk_wangxun_nic_acs" },
	{ 0x8088, 0x5125, 0, ACS_QUIRK_YES, "pci_quirk_wangxun_nic_acs" },
	{ 0x8088, 0x5140, 0, ACS_QUIRK_YES, "pci_quirk_wangxun_nic_acs" },
	{ 0x8088, ANY_ID, 0, ACS_QUIRK_NO, "pci_quirk_wangxun_nic_acs" },
};

/* DMA alias quirks (DECLARE_PCI_FIXUP_HEADER ... _alias) */
enum alias_kind {
	ALIAS_FUNC0,		/* DMA as function 0 of its slot */
	ALIAS_FUNC1,		/* DMA as function 1 of its slot */
	ALIAS_MIC_X200,		/* also as 10.0, 11.0 and 12.3 of its bus */
	ALIAS_PEX_VCA,		/* also as functions 0-4 of every slot */
	ALIAS_PCIE_BRIDGE,	/* a PCIe-to-PCI bridge without PCIe cap */
};

struct alias_quirk {
	unsigned int vendor, device;
	enum alias_kind kind;
	const char *name;
};

#define FUNC0(v, d)	{ v, d, ALIAS_FUNC0, "quirk_dma_func0_alias" }
#define FUNC1(v, d)	{ v, d, ALIAS_FUNC1, "quirk_dma_func1_alias" }
#define BRALIAS(v, d)	{ v, d, ALIAS_PCIE_BRIDGE, "quirk_use_pcie_bridge_dma_alias" }
#define VCA(d)		{ 0x8086, d, ALIAS_PEX_VCA, "quirk_pex_vca_alias" }

static const struct alias_quirk alias_quirks[] = {
	FUNC0(0x1180, 0xe832), FUNC0(0x1180, 0xe476),
	FUNC0(0x6766, 0x3d40), FUNC0(0x6766, 0x3d41),
	FUNC1(0x1b4b, 0x9120), FUNC1(0x1b4b, 0x9123), FUNC1(0x1b4b, 0x9125),
	FUNC1(0x1b4b, 0x9128), FUNC1(0x1b4b, 0x9130), FUNC1(0x1b4b, 0x9170),
	FUNC1(0x1b4b, 0x9172), FUNC1(0x1b4b, 0x917a), FUNC1(0x1b4b, 0x9182),
	FUNC1(0x1b4b, 0x9183), FUNC1(0x1b4b, 0x91a0), FUNC1(0x1b4b, 0x9215),
	FUNC1(0x1b4b, 0x9220), FUNC1(0x1b4b, 0x9230), FUNC1(0x1b4b, 0x9235),
	FUNC1(0x1103, 0x0642), FUNC1(0x1103, 0x0645), FUNC1(0x197b, 0x2392),
	FUNC1(0x1c28, 0x0122),
	BRALIAS(0x1b21, 0x1080), BRALIAS(0x10e3, 0x8113),
	BRALIAS(0x1283, 0x8892), BRALIAS(0x1283, 0x8893),
	BRALIAS(0x8086, 0x244e),
	{ 0x8086, 0x2260, ALIAS_MIC_X200, "quirk_mic_x200_dma_alias" },
	{ 0x8086, 0x2264, ALIAS_MIC_X200, "quirk_mic_x200_dma_alias" },
	VCA(0x2954), VCA(0x2955), VCA(0x2956), VCA(0x2958), VCA(0x2959),
	VCA(0x295a),
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
	bool mfd;			/* multifunction, as the PCI core sets it */
	int exp_type;			/* PCIe type, -1 for conventional */
	int exp_pos;			/* PCIe capability, 0 if none */
	bool ari_fwd;			/* a port with ARI forwarding enabled */
	int acs_pos;			/* ACS extended capability, 0 if none */
	unsigned int acs_cap, acs_ctrl;
	bool vf;			/* an SR-IOV virtual function */
	int pf;				/* its physical function, or -1 */
	const struct acs_quirk *acs_quirk;	/* the kernel's, if any */
	const struct alias_quirk *alias_quirk;
	unsigned char alias[32];	/* DMA alias devfns on its bus (quirks) */
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
	EDGE_MFD,	/* a and b: functions of one device, one without ACS */
	EDGE_PEER,	/* a and b: on the internal bus of a leaky switch */
	EDGE_DMA_ALIAS,	/* a and b: one DMAs as the other (a quirk) */
	EDGE_SRIOV,	/* a: a VF of b, a PF that does not isolate its VFs */
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
			d->exp_pos = pos;
			if (pos + EXP_DEVCTL2 + 2 <= d->cfg_len)
				d->ari_fwd = le16(cfg, pos + EXP_DEVCTL2) & EXP_DEVCTL2_ARI;
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
		d->class = read_hex_file(d->path, "class");
		d->layout = (d->class >> 8) == 0x0604 ? HEADER_BRIDGE : HEADER_NORMAL;
	}
	/* the IDs the kernel matches quirks with (a VF's registers read ffff) */
	snprintf(path, sizeof(path), "%s/vendor", d->path);
	if (!access(path, R_OK)) {
		d->vendor = read_hex_file(d->path, "vendor");
		d->device = read_hex_file(d->path, "device");
	}
	snprintf(path, sizeof(path), "%s/physfn", d->path);
	d->vf = !access(path, F_OK);
	d->pf = -1;
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

static unsigned int devfn_of(const struct dev *d)
{
	return (d->slot << 3 | d->fn) & 0xff;
}

/* Whether the bus @d sits on has ARI forwarding enabled (pci_ari_enabled) */
static bool on_ari_bus(const struct dev *d)
{
	return d->parent >= 0 && devs[d->parent].ari_fwd;
}

static void set_alias(struct dev *d, unsigned int devfn)
{
	d->alias[(devfn & 0xff) / 8] |= 1 << (devfn % 8);
}

static bool has_alias(const struct dev *d, unsigned int devfn)
{
	return d->alias[(devfn & 0xff) / 8] & 1 << (devfn % 8);
}

static const struct acs_quirk *find_acs_quirk(const struct dev *d)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(acs_quirks); i++) {
		const struct acs_quirk *q = &acs_quirks[i];
		unsigned int last = q->last ? q->last : q->device;

		if (q->vendor != d->vendor)
			continue;
		if (q->device != ANY_ID && (d->device < q->device || d->device > last))
			continue;
		/* pci_quirk_rciep_acs has no verdict for other devices */
		if (q->verdict == ACS_QUIRK_RCIEP && d->exp_type != EXP_RC_END)
			continue;
		return q;
	}
	return NULL;
}

/*
 * What the PCI core adds to config space: the multifunction flag (every
 * function but 0, with ARI every devfn but 0; never a VF), the PF of a VF,
 * and the quirks of the device's ID.
 */
static void pci_fixups(struct dev *d)
{
	char path[PATH_MAX + NAME_LEN], pf[PATH_MAX];
	unsigned int slot, fn, devfn = devfn_of(d);
	size_t i;

	if (d->vf) {
		d->mfd = false;
		snprintf(path, sizeof(path), "%s/physfn", d->path);
		if (realpath(path, pf))
			d->pf = find_dev(pf, false);
	} else if (on_ari_bus(d) ? devfn != 0 : d->fn != 0) {
		d->mfd = true;
	}
	d->acs_quirk = find_acs_quirk(d);
	for (i = 0; i < ARRAY_SIZE(alias_quirks); i++)
		if (alias_quirks[i].vendor == d->vendor &&
		    alias_quirks[i].device == d->device)
			d->alias_quirk = &alias_quirks[i];
	if (!d->alias_quirk)
		return;
	switch (d->alias_quirk->kind) {
	case ALIAS_FUNC0:
		if (PCI_FN(devfn) != 0)
			set_alias(d, devfn & ~7u);
		break;
	case ALIAS_FUNC1:
		if (PCI_FN(devfn) != 1)
			set_alias(d, (devfn & ~7u) | 1);
		break;
	case ALIAS_MIC_X200:
		set_alias(d, 0x10 << 3);
		set_alias(d, 0x11 << 3);
		set_alias(d, 0x12 << 3 | 3);
		break;
	case ALIAS_PEX_VCA:
		for (slot = 0; slot < 0x20; slot++)
			for (fn = 0; fn < 5; fn++)
				set_alias(d, slot << 3 | fn);
		break;
	case ALIAS_PCIE_BRIDGE:
		/* only where the bridge is one: not PCIe itself, below PCIe */
		if (d->parent < 0 || d->layout != HEADER_BRIDGE || d->exp_type >= 0 ||
		    devs[d->parent].exp_type < 0 ||
		    devs[d->parent].exp_type == EXP_PCI_BRIDGE)
			d->alias_quirk = NULL;
		break;
	}
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
	for (i = 0; i < nr_devs; i++)
		if (devs[i].pci)
			pci_fixups(&devs[i]);
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
static bool acs_flags_enabled(const struct dev *d, unsigned int needed,
			      char *why, size_t len)
{
	unsigned int need = needed & (d->acs_cap | ACS_EC);

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
 * pci_acs_enabled(): whether @d keeps peer-to-peer requests from its
 * functions or ports upstream, with the kernel's ACS quirks by ID.
 */
static bool acs_enabled(const struct dev *d, char *why, size_t len)
{
	if (!d->pci) {
		snprintf(why, len, "not a PCI device");
		return false;
	}
	if (d->acs_quirk) {
		if (d->acs_quirk->verdict == ACS_QUIRK_NO) {
			snprintf(why, len, "not isolated by kernel quirk %s (%04x:%04x)",
				 d->acs_quirk->name, d->vendor, d->device);
			return false;
		}
		snprintf(why, len, "isolated by kernel quirk %s (%04x:%04x)",
			 d->acs_quirk->name, d->vendor, d->device);
		return true;
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
		return acs_flags_enabled(d, ACS_NEEDED, why, len);
	case EXP_ENDPOINT:
	case EXP_UPSTREAM:
	case EXP_LEG_END:
	case EXP_RC_END:
		if (d->mfd)
			return acs_flags_enabled(d, ACS_NEEDED, why, len);
		break;
	default:
		break;
	}
	snprintf(why, len, "single function: ACS not needed");
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

/* Whether @d sits on the internal bus of a PCIe switch */
static bool on_switch_bus(const struct dev *d)
{
	return d->parent >= 0 && devs[d->parent].exp_type == EXP_UPSTREAM;
}

/*
 * The device that makes the switch whose internal bus @d sits on leak:
 * a downstream port without ACS, or an endpoint integrated in the switch
 * (any function on that bus but a downstream port); -1 if none.
 */
static int switch_leak(const struct dev *d)
{
	int j;

	if (!on_switch_bus(d))
		return -1;
	for (j = 0; j < nr_devs; j++)
		if (same_bus(d, &devs[j]) &&
		    (devs[j].exp_type != EXP_DOWNSTREAM || lacks_acs(&devs[j])))
			return j;
	return -1;
}

/* Whether bridge @b isolates what is below it (iso_bridge_isolates()) */
static bool bridge_isolates(const struct dev *b)
{
	return !lacks_acs(b) && !(b->exp_type == EXP_DOWNSTREAM && switch_leak(b) >= 0);
}

/* The first bridge from @b upwards that does not isolate; -1 if none */
static int path_culprit(int b)
{
	for (; b >= 0; b = devs[b].parent)
		if (!bridge_isolates(&devs[b]))
			return b;
	return -1;
}

/*
 * pci_for_each_dma_alias(): the nearest bridge above @i whose requester
 * ID its requests carry (conventional, PCIe-to-PCI and PCI-to-PCIe
 * bridges; ports keep the ID); -1 if none.
 */
static int alias_bridge(int i)
{
	int b, t;

	for (b = devs[i].parent; b >= 0; b = devs[b].parent) {
		t = devs[b].exp_type;
		if (t == -1 || t == EXP_PCI_BRIDGE || t == EXP_PCIE_BRIDGE)
			return b;
	}
	return -1;
}

/*
 * iso_sriov_isolates(): a PF whose ACS capability has P2P redirect but
 * does not enable it reaches its VFs; without the capability (or as a
 * multifunction device) pci_acs_enabled() decides.
 */
static bool pf_isolates(const struct dev *pf)
{
	unsigned int flags = (ACS_RR | ACS_CR) & pf->acs_cap;

	if (pf->acs_quirk || pf->mfd || !pf->acs_pos)
		return !lacks_acs(pf);
	return (pf->acs_ctrl & flags) == flags;
}

/* iso_pci_peers(): why @a and @b of one bus reach each other, or -1 */
static int peer_kind(const struct dev *a, const struct dev *b)
{
	if ((a->alias_quirk && has_alias(a, devfn_of(b))) ||
	    (b->alias_quirk && has_alias(b, devfn_of(a))))
		return EDGE_DMA_ALIAS;
	if (switch_leak(a) >= 0)
		return EDGE_PEER;
	if (a->vf || b->vf)
		return -1;
	if ((on_ari_bus(a) || a->slot == b->slot) && (a->mfd || b->mfd) &&
	    (lacks_acs(a) || lacks_acs(b)))
		return EDGE_MFD;
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
 * The facts pci_device_group() groups by, from config space, in its
 * order: a device joins the nearest bridge it aliases to; else a VF the
 * PF that does not isolate it; else, if a bridge of its path does not
 * isolate, the bridge above it; else the devices of its bus that it
 * reaches (aliases, a leaky switch's internal bus, functions of one
 * device). The groups are what these edges connect.
 */
static void find_edges(void)
{
	static bool by_peers[MAX_DEVS];
	int i, j, b, c, k;

	for (i = 0; i < nr_devs; i++) {
		by_peers[i] = false;
		if (!devs[i].pci)
			continue;
		b = alias_bridge(i);
		if (b >= 0) {
			add_edge(EDGE_ALIAS, i, b, -1);
			continue;
		}
		if (devs[i].vf && devs[i].pf >= 0 && !pf_isolates(&devs[devs[i].pf])) {
			add_edge(EDGE_SRIOV, i, devs[i].pf, -1);
			continue;
		}
		c = path_culprit(devs[i].parent);
		if (c >= 0) {
			add_edge(EDGE_UPSTREAM, i, devs[i].parent, c);
			continue;
		}
		by_peers[i] = true;
	}
	for (i = 0; i < nr_devs; i++) {
		for (j = i + 1; j < nr_devs; j++) {
			if (!(by_peers[i] || by_peers[j]) || !same_bus(&devs[i], &devs[j]))
				continue;
			k = peer_kind(&devs[i], &devs[j]);
			if (k >= 0)
				add_edge(k, i, j, -1);
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
	const struct dev *a = &devs[e->a], *b = &devs[f->a];

	if (e->kind != f->kind)
		return false;
	switch (e->kind) {
	case EDGE_ALIAS:
	case EDGE_SRIOV:
		return e->b == f->b;
	case EDGE_UPSTREAM:
		return e->b == f->b && e->culprit == f->culprit;
	case EDGE_MFD:
		return same_bus(a, b) && (on_ari_bus(a) || a->slot == b->slot);
	case EDGE_PEER:
	case EDGE_DMA_ALIAS:
		return same_bus(a, b);
	}
	return false;
}

static void cat_text(char *t, size_t len, const char *fmt, ...)
{
	size_t at = strlen(t);
	va_list ap;

	if (at >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(t + at, len - at, fmt, ap);
	va_end(ap);
}

/* Why @c, a bridge of a path, does not isolate what is below it */
static void culprit_text(int c, char *why, size_t len)
{
	int l;

	if (!acs_enabled(&devs[c], why, len))
		return;
	l = switch_leak(&devs[c]);
	if (l >= 0) {
		if (devs[l].exp_type == EXP_DOWNSTREAM)
			snprintf(why, len, "its switch leaks: sibling port %s lacks ACS",
				 devs[l].name);
		else
			snprintf(why, len, "its switch leaks: %s %s is integrated in the switch",
				 kind_name(&devs[l]), devs[l].name);
	}
}

/* The peers of a leaky switch: which ports lack ACS, which endpoints sit inside */
static void peer_text(struct reason *r, const struct edge *e)
{
	int lack[MAX_DEVS], inner[MAX_DEVS], nl = 0, ni = 0, j, up = devs[e->a].parent;
	char why[TEXT_LEN] = "", *t = r->text;
	size_t len = sizeof(r->text);

	for (j = 0; j < nr_devs; j++) {
		if (!same_bus(&devs[j], &devs[e->a]))
			continue;
		if (devs[j].exp_type != EXP_DOWNSTREAM)
			inner[ni++] = j;
		else if (lacks_acs(&devs[j]))
			lack[nl++] = j;
	}
	snprintf(t, len, "switch downstream ports ");
	cat_names(t, len, r->dev, r->nr);
	cat_text(t, len, "%s%s reach each other", up >= 0 ? " of upstream port " : "",
		 up >= 0 ? devs[up].name : "");
	if (nl) {
		cat_text(t, len, ": ");
		cat_names(t, len, lack, nl);
		acs_enabled(&devs[lack[0]], why, sizeof(why));
		cat_text(t, len,
			 " %s ACS (%s): requests from below %s are routed to the other ports directly (peer-to-peer)",
			 nl > 1 ? "lack" : "lacks", why, nl > 1 ? "them" : "it");
	}
	if (ni) {
		cat_text(t, len, "%s", nl ? "; " : ": ");
		cat_names(t, len, inner, ni);
		cat_text(t, len,
			 " %s integrated in the switch: %s requests reach every port's window",
			 ni > 1 ? "are endpoints" : "is an endpoint", ni > 1 ? "their" : "its");
	}
}

static void reason_text(struct reason *r, const struct edge *e)
{
	char why[TEXT_LEN] = "";
	char *t = r->text;
	size_t len = sizeof(r->text);
	const struct dev *q;

	t[0] = '\0';
	switch (e->kind) {
	case EDGE_ALIAS:
		r->kind = "alias";
		cat_names(t, len, r->dev, r->nr);
		q = &devs[e->b];
		cat_text(t, len, ": behind %s %s: requests carry the bridge's ID (alias%s%s)",
			 kind_name(q), q->name, q->alias_quirk ? ", kernel quirk " : "",
			 q->alias_quirk ? q->alias_quirk->name : "");
		break;
	case EDGE_UPSTREAM:
		r->kind = "upstream-no-acs";
		cat_names(t, len, r->dev, r->nr);
		culprit_text(e->culprit, why, sizeof(why));
		if (e->culprit == e->b)
			cat_text(t, len, ": below %s %s, which does not isolate (%s)",
				 kind_name(&devs[e->b]), devs[e->b].name, why);
		else
			cat_text(t, len, ": below %s %s; %s %s above it does not isolate (%s)",
				 kind_name(&devs[e->b]), devs[e->b].name,
				 kind_name(&devs[e->culprit]), devs[e->culprit].name, why);
		break;
	case EDGE_MFD:
		r->kind = "multifunction";
		cat_names(t, len, r->dev, r->nr);
		cat_text(t, len,
			 ": functions of one %sdevice, not all with ACS: a function without it reaches the others",
			 on_ari_bus(&devs[e->a]) ? "ARI " : "multifunction ");
		break;
	case EDGE_PEER:
		r->kind = "switch-peers";
		peer_text(r, e);
		break;
	case EDGE_DMA_ALIAS:
		r->kind = "dma-alias";
		cat_names(t, len, r->dev, r->nr);
		q = devs[e->a].alias_quirk ? &devs[e->a] : &devs[e->b];
		cat_text(t, len,
			 ": DMA aliases: %04x:%04x DMAs with another function's requester ID (kernel quirk %s)",
			 q->vendor, q->device, q->alias_quirk->name);
		break;
	case EDGE_SRIOV:
		r->kind = "sriov";
		cat_names(t, len, r->dev, r->nr);
		q = &devs[e->b];
		cat_text(t, len,
			 ": VFs of PF %s, which does not isolate its functions (ACS P2P redirect off: control 0x%04x)",
			 q->name, q->acs_ctrl);
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
		r->via = (e->kind == EDGE_ALIAS || e->kind == EDGE_UPSTREAM ||
			  e->kind == EDGE_SRIOV) ? e->b : -1;
		for (j = i; j < nr_edges; j++) {
			const struct edge *f = &edges[j];
			bool fa = in_group(g, f->a), fb = in_group(g, f->b);

			if (used[j] || !edge_key_eq(e, f))
				continue;
			if (split ? !(fa ^ fb) || devs[fa ? f->b : f->a].group < 0 : !(fa && fb))
				continue;
			used[j] = true;
			add_unique(r->dev, &r->nr, f->a);
			if (f->kind == EDGE_MFD || f->kind == EDGE_PEER ||
			    f->kind == EDGE_DMA_ALIAS || split)
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
				 ": the kernel does not group them (stock Linux checks only the path above a device: it splits a leaky switch and functions of which only one lacks ACS), or a kernel quirk this tool does not know isolates them");
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

/* Predicted groups (--predict) -------------------------------------------- */

static struct group pgroups[MAX_GROUPS];
static int nr_pgroups;

/* The groups the rules give from config space alone: what the edges connect */
static void predict(void)
{
	int i, j, root[MAX_DEVS];

	for (i = 0; i < nr_devs; i++)
		uf[i] = i;
	for (i = 0; i < nr_edges; i++)
		uf_join(edges[i].a, edges[i].b);
	nr_pgroups = 0;
	for (i = 0; i < nr_devs; i++) {
		if (!devs[i].pci)
			continue;
		root[i] = uf_find(i);
		for (j = 0; j < nr_pgroups; j++)
			if (root[pgroups[j].dev[0]] == root[i])
				break;
		if (j == nr_pgroups) {
			if (nr_pgroups == MAX_GROUPS)
				continue;
			memset(&pgroups[j], 0, sizeof(pgroups[j]));
			pgroups[j].id = ++nr_pgroups;
		}
		if (pgroups[j].nr < MAX_DEVS)
			pgroups[j].dev[pgroups[j].nr++] = i;
	}
	for (j = 0; j < nr_pgroups; j++)
		qsort(pgroups[j].dev, pgroups[j].nr, sizeof(int), cmp_dev_name);
}

/*
 * The kernel groups of the members of predicted group @p (-1: no group)
 * into @ids; whether the kernel has exactly this group.
 */
static bool pgroup_agrees(const struct group *p, int *ids, int *nr)
{
	const struct group *g;
	int i, k;

	*nr = 0;
	for (i = 0; i < p->nr; i++) {
		int id = devs[p->dev[i]].group;

		for (k = 0; k < *nr && ids[k] != id; k++)
			;
		if (k == *nr)
			ids[(*nr)++] = id;
	}
	if (*nr != 1 || ids[0] < 0)
		return false;
	g = find_group(ids[0]);
	for (i = 0; g && i < g->nr; i++)
		if (devs[g->dev[i]].pci && !in_group(p, g->dev[i]))
			return false;
	return g;
}

static void print_predict_text(void)
{
	static struct explain x;
	int ids[MAX_DEVS], n, i, k, differ = 0;
	bool ok;

	for (i = 0; i < nr_pgroups; i++) {
		const struct group *p = &pgroups[i];

		ok = pgroup_agrees(p, ids, &n);
		differ += !ok;
		printf("Predicted group %d:", p->id);
		for (k = 0; k < p->nr; k++)
			printf(" %s", devs[p->dev[k]].name);
		printf(" (kernel: group%s", n > 1 ? "s" : "");
		for (k = 0; k < n; k++) {
			if (ids[k] < 0)
				printf("%s none", k ? "," : "");
			else
				printf("%s %d", k ? "," : "", ids[k]);
		}
		printf("%s)\n", ok ? "" : "; differs");
		explain(p, &x, false);
		for (k = 0; k < x.nr; k++)
			printf("  why: %s\n", x.r[k].text);
	}
	if (differ)
		printf("lsisolation: %d predicted groups, %d of them differ from the kernel's\n",
		       nr_pgroups, differ);
	else
		printf("lsisolation: %d predicted groups, all as the kernel has them\n",
		       nr_pgroups);
}

static void print_predict_json(void)
{
	static struct explain x;
	int ids[MAX_DEVS], n, i, k;
	bool ok, all = true;

	printf(",\n\t\"predicted_groups\": [");
	for (i = 0; i < nr_pgroups; i++) {
		const struct group *p = &pgroups[i];

		ok = pgroup_agrees(p, ids, &n);
		all &= ok;
		printf("%s\n\t\t{\"devices\": ", i ? "," : "");
		json_dev_list(p->dev, p->nr);
		printf(", \"kernel_groups\": [");
		for (k = 0; k < n; k++) {
			if (ids[k] < 0)
				printf("%snull", k ? ", " : "");
			else
				printf("%s%d", k ? ", " : "", ids[k]);
		}
		printf("], \"agrees\": %s", ok ? "true" : "false");
		explain(p, &x, false);
		print_reasons_json("why", &x);
		printf("}");
	}
	printf("%s],\n\t\"agrees\": %s", nr_pgroups ? "\n\t" : "", all ? "true" : "false");
}

static bool predict_agrees(void)
{
	int ids[MAX_DEVS], n, i;

	for (i = 0; i < nr_pgroups; i++)
		if (!pgroup_agrees(&pgroups[i], ids, &n))
			return false;
	return true;
}

/* JSON input (--diff) ----------------------------------------------------- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jnode {
	enum jtype type;
	bool b;
	double num;
	char *str;
	int nr;
	struct jnode **item;	/* array items, object values */
	char **key;		/* object keys */
};

struct jreader {
	const char *text, *p;
	const char *err;
	int depth;
};

static void *xalloc(size_t size)
{
	void *p = calloc(1, size);

	if (!p) {
		err("out of memory");
		exit(EXIT_SYSFS);
	}
	return p;
}

static void jspace(struct jreader *jr)
{
	while (*jr->p == ' ' || *jr->p == '\t' || *jr->p == '\n' || *jr->p == '\r')
		jr->p++;
}

static bool jfail(struct jreader *jr, const char *msg)
{
	if (!jr->err)
		jr->err = msg;
	return false;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A string at jr->p into a new buffer; NULL on error */
static char *jstring(struct jreader *jr)
{
	size_t len = 0, cap = strlen(jr->p) + 1;
	char *s;
	int i, h, u;

	if (*jr->p != '"') {
		jfail(jr, "a string expected");
		return NULL;
	}
	/* never longer than the rest of the text */
	s = xalloc(cap);
	for (jr->p++; *jr->p != '"'; ) {
		unsigned char c = *jr->p++;

		if (!c || c < 0x20) {
			jfail(jr, c ? "control character in a string" : "unterminated string");
			free(s);
			return NULL;
		}
		if (c == '\\') {
			c = *jr->p++;
			switch (c) {
			case '"': case '\\': case '/':
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case 't':
				c = '\t';
				break;
			case 'u':
				for (u = 0, i = 0; i < 4; i++) {
					h = hexval(jr->p[i]);
					if (h < 0) {
						jfail(jr, "bad \\u escape");
						free(s);
						return NULL;
					}
					u = u << 4 | h;
				}
				jr->p += 4;
				/* the writer escapes single bytes as \u00XX */
				c = u < 0x100 ? u : '?';
				break;
			default:
				jfail(jr, "bad escape in a string");
				free(s);
				return NULL;
			}
		}
		s[len++] = c;
	}
	jr->p++;
	s[len] = '\0';
	return s;
}

static struct jnode *jvalue(struct jreader *jr);

static void jappend(struct jnode *v, char *key, struct jnode *item)
{
	struct jnode **items = realloc(v->item, (v->nr + 1) * sizeof(*items));
	char **keys = realloc(v->key, (v->nr + 1) * sizeof(*keys));

	if (!items || !keys) {
		err("out of memory");
		exit(EXIT_SYSFS);
	}
	v->item = items;
	v->key = keys;
	v->item[v->nr] = item;
	v->key[v->nr] = key;
	v->nr++;
}

static struct jnode *jcontainer(struct jreader *jr, bool obj)
{
	struct jnode *v = xalloc(sizeof(*v)), *item;
	char end = obj ? '}' : ']', *key = NULL;

	v->type = obj ? J_OBJ : J_ARR;
	jr->p++;
	jspace(jr);
	if (*jr->p == end) {
		jr->p++;
		return v;
	}
	for (;;) {
		jspace(jr);
		if (obj) {
			key = jstring(jr);
			if (!key)
				return NULL;
			jspace(jr);
			if (*jr->p != ':') {
				jfail(jr, "':' expected after a key");
				return NULL;
			}
			jr->p++;
		}
		item = jvalue(jr);
		if (!item)
			return NULL;
		jappend(v, key, item);
		jspace(jr);
		if (*jr->p == ',') {
			jr->p++;
			continue;
		}
		if (*jr->p == end) {
			jr->p++;
			return v;
		}
		jfail(jr, obj ? "',' or '}' expected" : "',' or ']' expected");
		return NULL;
	}
}

static struct jnode *jvalue(struct jreader *jr)
{
	struct jnode *v = NULL;
	const char *start;
	char *end;

	if (++jr->depth > 32) {
		jfail(jr, "nested too deep");
		return NULL;
	}
	jspace(jr);
	start = jr->p;
	switch (*jr->p) {
	case '{':
	case '[':
		v = jcontainer(jr, *jr->p == '{');
		break;
	case '"':
		v = xalloc(sizeof(*v));
		v->type = J_STR;
		v->str = jstring(jr);
		if (!v->str)
			v = NULL;
		break;
	case '\0':
		jfail(jr, "unexpected end of the text");
		break;
	default:
		v = xalloc(sizeof(*v));
		if (!strncmp(jr->p, "true", 4) || !strncmp(jr->p, "false", 5)) {
			v->type = J_BOOL;
			v->b = *jr->p == 't';
			jr->p += v->b ? 4 : 5;
		} else if (!strncmp(jr->p, "null", 4)) {
			v->type = J_NULL;
			jr->p += 4;
		} else if (*jr->p == '-' || isdigit((unsigned char)*jr->p)) {
			v->type = J_NUM;
			v->num = strtod(jr->p, &end);
			/* JSON numbers only: no hex, inf, nan or leading '+' */
			if (end == jr->p ||
			    strspn(jr->p, "0123456789+-.eE") < (size_t)(end - jr->p)) {
				jfail(jr, "bad number");
				return NULL;
			}
			jr->p = end;
		} else {
			jfail(jr, "a value expected");
			return NULL;
		}
		if (isalnum((unsigned char)*jr->p)) {
			jr->p = start;
			jfail(jr, "a value expected");
			return NULL;
		}
		break;
	}
	jr->depth--;
	return v;
}

static struct jnode *jget(const struct jnode *obj, const char *key)
{
	int i;

	if (!obj || obj->type != J_OBJ)
		return NULL;
	for (i = 0; i < obj->nr; i++)
		if (!strcmp(obj->key[i], key))
			return obj->item[i];
	return NULL;
}

/* Member @key as a string: "" when null or missing, NULL when not a string */
static const char *jstr(const struct jnode *obj, const char *key)
{
	const struct jnode *v = jget(obj, key);

	if (!v || v->type == J_NULL)
		return "";
	return v->type == J_STR ? v->str : NULL;
}

/* Reading a saved snapshot ------------------------------------------------ */

struct saved_dev {
	const char *name;
	char id[16];		/* "vvvv:dddd", "" for non-PCI devices */
	const char *kind;
	int group;		/* its number then */
	const struct jnode *g;	/* its group in the snapshot */
	int now;		/* the device now, -1 if gone */
};

static struct saved_dev saved[MAX_DEVS];
static int nr_saved;
static const char *saved_kernel;
static bool saved_core;

static char *read_file(const char *path, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = xalloc(cap + 1), *bigger;
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	size_t r;

	if (!f) {
		free(buf);
		return NULL;
	}
	while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			if (cap >= 256u << 20)
				break;
			bigger = realloc(buf, cap * 2 + 1);
			if (!bigger)
				break;
			buf = bigger;
			cap *= 2;
		}
	}
	if (f != stdin)
		fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Parse @path, an lsisolation --json output; false (with a message) if not */
static bool load_saved(const char *path)
{
	struct jreader jr = { 0 };
	const struct jnode *doc, *gs, *g, *ds, *d, *num;
	const char *name, *v, *dv, *line;
	int i, k, lineno = 1;
	size_t len;
	char *text;

	text = read_file(path, &len);
	if (!text) {
		err("cannot read %s: %s", path, strerror(errno));
		return false;
	}
	if (strlen(text) != len) {
		err("%s: not JSON: it contains a NUL byte", path);
		return false;
	}
	jr.text = text;
	jr.p = text;
	doc = jvalue(&jr);
	if (doc) {
		jspace(&jr);
		if (*jr.p)
			doc = NULL, jfail(&jr, "text after the JSON value");
	}
	if (!doc) {
		for (line = text; line < jr.p && strchr(line, '\n') && strchr(line, '\n') < jr.p;
		     line = strchr(line, '\n') + 1)
			lineno++;
		err("%s: invalid JSON at line %d, column %d: %s", path, lineno,
		    (int)(jr.p - line) + 1, jr.err ? jr.err : "?");
		return false;
	}
	gs = jget(doc, "groups");
	if (doc->type != J_OBJ || !gs || gs->type != J_ARR) {
		err("%s: not an lsisolation --json snapshot (no \"groups\" array)%s", path,
		    jget(doc, "predicted_groups") ? ": a --predict output" : "");
		return false;
	}
	saved_kernel = jstr(doc, "kernel");
	num = jget(doc, "isolation_core");
	saved_core = num && num->type == J_BOOL && num->b;
	for (i = 0; i < gs->nr; i++) {
		g = gs->item[i];
		num = jget(g, "group");
		ds = jget(g, "devices");
		if (g->type != J_OBJ || !num || num->type != J_NUM || !ds || ds->type != J_ARR) {
			err("%s: group %d of the snapshot: no \"group\" number or \"devices\"",
			    path, i + 1);
			return false;
		}
		for (k = 0; k < ds->nr; k++) {
			struct saved_dev *s = &saved[nr_saved];

			d = ds->item[k];
			name = jstr(d, "name");
			v = jstr(d, "vendor");
			dv = jstr(d, "device");
			if (d->type != J_OBJ || !name || !name[0] || !v || !dv) {
				err("%s: device %d of group %d: no \"name\" string", path, k + 1,
				    (int)num->num);
				return false;
			}
			if (nr_saved == MAX_DEVS) {
				err("%s: more than %d devices", path, MAX_DEVS);
				return false;
			}
			s->name = name;
			snprintf(s->id, sizeof(s->id), "%s%s%s", v, v[0] ? ":" : "", dv);
			s->kind = jstr(d, "kind") ?: "";
			s->group = num->num;
			s->g = g;
			s->now = -1;
			nr_saved++;
		}
	}
	return true;
}

/* Comparing --------------------------------------------------------------- */

static void dev_id(const struct dev *d, char *buf, size_t len)
{
	if (d->pci)
		snprintf(buf, len, "%04x:%04x", d->vendor, d->device);
	else
		buf[0] = '\0';
}

/* The saved device that is @d now, or -1 */
static int saved_of(int d)
{
	char id[16];
	int i;

	dev_id(&devs[d], id, sizeof(id));
	for (i = 0; i < nr_saved; i++)
		if (!strcmp(saved[i].name, devs[d].name) && !strcmp(saved[i].id, id))
			return i;
	return -1;
}

/*
 * A reason as a hyperedge over device names: the devices it is about and
 * its bridge. A path of them between two devices says why they share.
 */
#define MAX_HEDGES	(3 * MAX_REASONS)

struct hedge {
	char *text;
	bool warn;		/* a warning: config space says they share */
	int nr;
	const char **name;
};

static struct hedge hedges[MAX_HEDGES];
static int nr_hedges;

static void hedge_add(const char *text, bool warn, const char **names, int nr)
{
	struct hedge *h;

	if (nr_hedges == MAX_HEDGES)
		return;
	h = &hedges[nr_hedges++];
	h->text = strdup(text);
	h->warn = warn;
	h->nr = nr;
	h->name = xalloc((nr ? nr : 1) * sizeof(*h->name));
	memcpy(h->name, names, nr * sizeof(*names));
}

static void hedges_reset(void)
{
	while (nr_hedges > 0) {
		nr_hedges--;
		free(hedges[nr_hedges].text);
		free(hedges[nr_hedges].name);
	}
}

/* The reasons of group @g now (@split: its warnings) as hyperedges */
static void hedges_now(const struct group *g, bool split)
{
	static const char *names[MAX_DEVS + 1];
	static struct explain x;
	int i, k;

	if (!g)
		return;
	explain(g, &x, split);
	for (i = 0; i < x.nr; i++) {
		for (k = 0; k < x.r[i].nr; k++)
			names[k] = devs[x.r[i].dev[k]].name;
		if (x.r[i].via >= 0)
			names[k++] = devs[x.r[i].via].name;
		hedge_add(x.r[i].text, split, names, k);
	}
}

/* The "why" reasons of a saved group (any group: NULL) as hyperedges */
static void hedges_saved(const struct jnode *g)
{
	static const char *names[MAX_DEVS + 1];
	const struct jnode *why, *r, *ds;
	const char *text, *via;
	int i, k, n, s;

	for (s = 0; s < nr_saved; s++) {
		/* each group once: at its first device */
		if ((g && saved[s].g != g) || (s && saved[s - 1].g == saved[s].g))
			continue;
		why = jget(saved[s].g, "why");
		for (i = 0; why && why->type == J_ARR && i < why->nr; i++) {
			r = why->item[i];
			ds = jget(r, "devices");
			text = jstr(r, "text");
			via = jstr(r, "via");
			if (!ds || ds->type != J_ARR || !text)
				continue;
			for (n = 0, k = 0; k < ds->nr && n < MAX_DEVS; k++)
				if (ds->item[k]->type == J_STR)
					names[n++] = ds->item[k]->str;
			if (via && via[0])
				names[n++] = via;
			hedge_add(text, false, names, n);
		}
	}
}

/* The hyperedges linking @from to @to, shortest chain, into @chain; or -1 */
static int hedge_path(const char *from, const char *to, int *chain)
{
	static const char *node[MAX_DEVS];
	static int prev[MAX_DEVS], via[MAX_DEVS];
	int nn = 1, head, h, k, m, nc = 0;

	node[0] = from;
	prev[0] = -1;
	for (head = 0; head < nn; head++) {
		if (!strcmp(node[head], to))
			break;
		for (h = 0; h < nr_hedges; h++) {
			for (k = 0; k < hedges[h].nr && strcmp(hedges[h].name[k], node[head]); k++)
				;
			if (k == hedges[h].nr)
				continue;
			for (k = 0; k < hedges[h].nr && nn < MAX_DEVS; k++) {
				for (m = 0; m < nn && strcmp(node[m], hedges[h].name[k]); m++)
					;
				if (m < nn)
					continue;
				node[nn] = hedges[h].name[k];
				prev[nn] = head;
				via[nn++] = h;
			}
		}
	}
	if (head == nn)
		return -1;
	for (m = head; prev[m] >= 0; m = prev[m])
		nc++;
	for (k = nc - 1, m = head; prev[m] >= 0; m = prev[m])
		chain[k--] = via[m];
	return nc;
}

/* Texts that held before (@then) or hold now, to find what changed */
static const char *known[MAX_HEDGES];
static int nr_known;

static void know_hedges(void)
{
	int h;

	for (h = 0; h < nr_hedges && nr_known < MAX_HEDGES; h++)
		known[nr_known++] = strdup(hedges[h].text);
}

static void forget_known(void)
{
	while (nr_known > 0)
		free((char *)known[--nr_known]);
}

static bool is_known(const char *text)
{
	int i;

	for (i = 0; i < nr_known; i++)
		if (!strcmp(known[i], text))
			return true;
	return false;
}

/*
 * The texts of @chain into @buf, each once: with @warn only warnings;
 * else those not in known[] (what changed), or all if every one is.
 */
static void chain_text(const int *chain, int n, bool warn, char *buf, size_t len)
{
	int pass, k, m;

	buf[0] = '\0';
	for (pass = 0; pass < 2 && !buf[0]; pass++) {
		for (k = 0; k < n; k++) {
			const struct hedge *h = &hedges[chain[k]];

			for (m = 0; m < k && chain[m] != chain[k]; m++)
				;
			if (m < k || (warn && !h->warn) ||
			    (!warn && !pass && is_known(h->text)))
				continue;
			cat_text(buf, len, "%s%s", buf[0] ? "; " : "", h->text);
		}
	}
}

/* Lines "LEAD NAME, NAME: TEXT", devices of the same TEXT on one line */
#define MAX_LINES	64

struct line_set {
	int nr;
	char *text[MAX_LINES];
	char names[MAX_LINES][TEXT_LEN];
};

static void line_add(struct line_set *ls, const char *name, const char *text)
{
	int i;

	for (i = 0; i < ls->nr && strcmp(ls->text[i], text); i++)
		;
	if (i == ls->nr) {
		if (ls->nr == MAX_LINES)
			return;
		ls->text[ls->nr] = strdup(text);
		ls->names[ls->nr++][0] = '\0';
	}
	cat_text(ls->names[i], TEXT_LEN, "%s%s", ls->names[i][0] ? ", " : "", name);
}

static void line_print(struct line_set *ls, const char *lead)
{
	int i;

	for (i = 0; i < ls->nr; i++) {
		printf("  %s %s%s%s\n", lead, ls->names[i], ls->text[i][0] ? ": " : "",
		       ls->text[i]);
		free(ls->text[i]);
	}
	ls->nr = 0;
}

/* Whether the co-members of saved device @s then and of @d now differ */
static bool members_differ(int s, int d)
{
	const struct group *g = devs[d].group >= 0 ? find_group(devs[d].group) : NULL;
	int i, n = 0, then = 0;

	for (i = 0; i < nr_saved; i++) {
		if (i == s || saved[i].g != saved[s].g)
			continue;
		then++;
		if (saved[i].now < 0 || !g || !in_group(g, saved[i].now))
			return true;
	}
	for (i = 0; g && i < g->nr; i++)
		n += g->dev[i] != d;
	return n != then || !g;
}

static void print_members_then(int s)
{
	int i, n = 0;

	printf("  before: group %d", saved[s].group);
	for (i = 0; i < nr_saved; i++)
		if (i != s && saved[i].g == saved[s].g)
			printf("%s %s", n++ ? "," : " with", saved[i].name);
	printf("%s\n", n ? "" : " alone");
}

static void print_members_now(int d)
{
	const struct group *g = devs[d].group >= 0 ? find_group(devs[d].group) : NULL;
	int i, n = 0;

	if (!g) {
		printf("  now:    no group\n");
		return;
	}
	printf("  now:    group %d", g->id);
	for (i = 0; i < g->nr; i++)
		if (g->dev[i] != d)
			printf("%s %s", n++ ? "," : " with", devs[g->dev[i]].name);
	printf("%s\n", n ? "" : " alone");
}

/*
 * Why moved device @d (saved as @s) shares with whom it shares now: the
 * reasons that did not hold before; and why it no longer shares with the
 * others: the reasons that held then and not now, and the warning if
 * config space says they still should share.
 */
static void print_move_reasons(int s, int d)
{
	const struct group *g = devs[d].group >= 0 ? find_group(devs[d].group) : NULL;
	static char text[8 * TEXT_LEN], now[8 * TEXT_LEN];
	static struct line_set ls;
	int chain[MAX_DEVS], i, j, n;

	/* devices it shares with now and did not before */
	hedges_saved(NULL);
	know_hedges();
	hedges_reset();
	hedges_now(g, false);
	for (i = 0; g && i < g->nr; i++) {
		j = g->dev[i];
		if (j == d || (saved_of(j) >= 0 && saved[saved_of(j)].g == saved[s].g))
			continue;
		n = hedge_path(devs[d].name, devs[j].name, chain);
		if (n < 0)
			snprintf(text, sizeof(text),
				 "not explained by PCI config space (the IOMMU driver's grouping, a quirk this tool does not know, or a group that merged earlier and never splits)");
		else
			chain_text(chain, n, false, text, sizeof(text));
		line_add(&ls, devs[j].name, text);
	}
	line_print(&ls, "shares with");
	forget_known();
	hedges_reset();
	/* the reasons that hold now, in any group */
	for (i = 0; i < nr_groups; i++)
		hedges_now(&groups[i], false);
	know_hedges();
	hedges_reset();

	/* devices it shared with before and does not now */
	for (i = 0; i < nr_saved; i++) {
		const struct group *o;

		if (i == s || saved[i].g != saved[s].g)
			continue;
		if (saved[i].now >= 0 && g && in_group(g, saved[i].now))
			continue;
		hedges_saved(saved[s].g);
		n = hedge_path(saved[s].name, saved[i].name, chain);
		text[0] = '\0';
		if (n >= 0) {
			chain_text(chain, n, false, now, sizeof(now));
			snprintf(text, sizeof(text), "before: %s", now);
		}
		hedges_reset();
		o = saved[i].now >= 0 && devs[saved[i].now].group >= 0 ?
			find_group(devs[saved[i].now].group) : NULL;
		if (saved[i].now < 0) {
			snprintf(now, sizeof(now), "it is gone");
		} else if (!o) {
			snprintf(now, sizeof(now), "it has no group");
		} else {
			hedges_now(g, false);
			hedges_now(g, true);
			hedges_now(o, false);
			n = g ? hedge_path(devs[d].name, saved[i].name, chain) : -1;
			if (n >= 0)
				snprintf(now, sizeof(now),
					 "in group %d, though config space says they are not isolated (the warning of group %d)",
					 o->id, g->id);
			else
				snprintf(now, sizeof(now),
					 "in group %d: config space gives no reason to share",
					 o->id);
			hedges_reset();
		}
		if (text[0])
			cat_text(text, sizeof(text), "; ");
		else
			snprintf(text, sizeof(text), "before: ");
		cat_text(text, sizeof(text), "now: %s", now);
		line_add(&ls, saved[i].name, text);
	}
	line_print(&ls, "no longer shares with");
	forget_known();
}

static void print_dev_line(const char *what, const char *name, const char *id,
			   const char *kind)
{
	printf("%s %s%s%s%s%s%s\n", what, name, id[0] ? " [" : "", id, id[0] ? "]" : "",
	       kind[0] ? " " : "", kind);
}

/* --diff: today's groups against a saved snapshot; the exit status */
static int run_diff(const char *path)
{
	int i, s, moved = 0, appeared = 0, gone = 0;
	char id[16], kernel[NAME_LEN * 2];
	struct utsname u;

	if (!load_saved(path))
		return EXIT_SYSFS;
	for (i = 0; i < nr_devs; i++) {
		s = saved_of(i);
		if (s >= 0)
			saved[s].now = i;
	}
	snprintf(kernel, sizeof(kernel), "%s", !strcmp(sysfs_root, "/sys") && !uname(&u) ?
		 u.release : sysfs_root);
	printf("lsisolation --diff: %s (kernel %s%s) -> now (%s%s)\n", path,
	       saved_kernel && saved_kernel[0] ? saved_kernel : "not recorded",
	       saved_core ? ", isolation core" : "", kernel,
	       have_core ? ", isolation core" : "");
	for (s = 0; s < nr_saved; s++) {
		if (saved[s].now < 0 || !members_differ(s, saved[s].now))
			continue;
		moved++;
		print_dev_line("moved:", saved[s].name, saved[s].id, saved[s].kind);
		print_members_then(s);
		print_members_now(saved[s].now);
		print_move_reasons(s, saved[s].now);
	}
	for (i = 0; i < nr_devs; i++) {
		/* a snapshot lists the devices that have a group */
		if (saved_of(i) >= 0 || devs[i].group < 0)
			continue;
		appeared++;
		dev_id(&devs[i], id, sizeof(id));
		print_dev_line("appeared:", devs[i].name, id, kind_name(&devs[i]));
		print_members_now(i);
	}
	for (s = 0; s < nr_saved; s++) {
		if (saved[s].now >= 0)
			continue;
		gone++;
		print_dev_line("disappeared:", saved[s].name, saved[s].id, saved[s].kind);
		print_members_then(s);
	}
	if (moved + appeared + gone)
		printf("lsisolation --diff: %d moved, %d appeared, %d disappeared\n",
		       moved, appeared, gone);
	else
		printf("lsisolation --diff: no change: %d devices in the same groups\n",
		       nr_saved);
	return moved + appeared + gone ? EXIT_CHANGED : EXIT_OK;
}

/* Command line ------------------------------------------------------------ */

static const char help_text[] =
	"NAME\n"
	"    lsisolation - list IOMMU isolation groups and explain why devices share them\n"
	"\n"
	"SYNOPSIS\n"
	"    lsisolation [-v] [-j] [-g GROUP | -d DEVICE] [-r DIR]\n"
	"    lsisolation --predict [-j] [-r DIR]\n"
	"    lsisolation --diff SAVED.json [-r DIR]\n"
	"    lsisolation -h\n"
	"\n"
	"DESCRIPTION\n"
	"    Lists the IOMMU groups of /sys/kernel/iommu_groups: for each group its\n"
	"    default domain type, who holds it (none, dma-api or user), which domain\n"
	"    it is in, and its devices with vendor:device, class, kind and driver.\n"
	"\n"
	"    For each group of more than one device it explains why they share it,\n"
	"    from the PCI config space of the devices (/sys/bus/pci/devices/*/config;\n"
	"    the capability lists, ACS, ARI forwarding and multifunction bit are\n"
	"    parsed here), by the PCI grouping rules of the isolation-group core\n"
	"    (Documentation/driver-api/isolation-groups.rst, \"PCI grouping rules\"):\n"
	"      alias            behind a PCIe-to-PCI or conventional bridge, requests\n"
	"                       carry the bridge's requester ID\n"
	"      dma-alias        a device that DMAs with another function's requester\n"
	"                       ID (a kernel DMA alias quirk for its vendor:device)\n"
	"      multifunction    functions of one device (all functions on an ARI\n"
	"                       bus) of which one lacks ACS: it reaches the others\n"
	"      sriov            VFs of a PF whose ACS capability has P2P redirect\n"
	"                       turned off\n"
	"      upstream-no-acs  a bridge above the device lacks ACS (or does not\n"
	"                       enable it, or is a port of a leaky switch), so it\n"
	"                       does not isolate what is below it\n"
	"      switch-peers     the ports of a switch one of whose downstream ports\n"
	"                       lacks ACS, or that has an endpoint on its internal\n"
	"                       bus: the devices below them reach each other\n"
	"      unexplained      not visible in config space: the IOMMU driver's own\n"
	"                       grouping, a quirk this tool does not know, or a\n"
	"                       group that merged earlier (groups never split)\n"
	"    The ACS and DMA alias quirks of drivers/pci/quirks.c that depend on the\n"
	"    vendor:device ID alone are applied as the kernel applies them. A\n"
	"    warning is printed when the rules say devices of different groups are\n"
	"    not isolated (stock Linux checks only the path above a device and\n"
	"    splits a leaky switch, or the kernel knows a quirk this tool does not).\n"
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
	"    --predict prints the groups the rules give from config space alone,\n"
	"    each with the kernel's group(s) of its devices, and says which differ\n"
	"    (on stock Linux: where it splits what the rules join).\n"
	"\n"
	"    --diff compares today's groups with SAVED.json, the --json output of\n"
	"    an earlier run on the same machine (for instance before a kernel\n"
	"    upgrade). Devices are matched by name (the PCI address) and\n"
	"    vendor:device, not by group number, which differs between kernels.\n"
	"    For each device whose companions changed it prints the devices it\n"
	"    shared a group with before and now, and for each companion the reason:\n"
	"    \"shares with X: WHY\" gives the rules that join them now and did not\n"
	"    before; \"no longer shares with X: before: WHY; now: ...\" the rules\n"
	"    that joined them then, and whether config space still says they are\n"
	"    not isolated. Devices that appeared or disappeared are listed too.\n"
	"\n"
	"OPTIONS\n"
	"    -g, --group GROUP     only group number GROUP\n"
	"    -d, --device DEVICE   only the group of DEVICE (a PCI address such as\n"
	"                          0000:00:03.0 or 00:03.0, or a sysfs device name)\n"
	"    -j, --json            JSON output for scripts (see OUTPUT)\n"
	"    -r, --sysfs-root DIR  read DIR instead of /sys (a copy or a fake tree)\n"
	"    -v, --verbose         also ACS state per port and reserved regions\n"
	"        --predict         the groups the PCI rules predict (see above)\n"
	"        --diff SAVED.json compare with a saved --json snapshot (\"-\": stdin)\n"
	"    -h, --help            this text\n"
	"\n"
	"OUTPUT\n"
	"    Text: one block per group, \"Group N: type T, holder H, domain D\", a\n"
	"    line per device (name, vendor:device, class, kind, driver or \"-\"),\n"
	"    then \"why:\", \"VFIO:\" and \"warning:\" lines.\n"
	"\n"
	"    JSON: {\"sysfs_root\", \"isolation_core\": bool, \"kernel\" (uname -r,\n"
	"    null with -r), \"groups\": [{\"group\",\n"
	"    \"type\", \"name\", \"holder\", \"holder_source\" (sysfs|inferred),\n"
	"    \"domain\", \"devices\": [{\"name\", \"bus\", \"driver\", \"kind\",\n"
	"    \"vendor\", \"device\", \"class\", \"multifunction\", \"pcie\", \"parent\",\n"
	"    \"config_bytes\", \"acs\": {\"cap\", \"ctrl\"} or null, \"acs_enabled\",\n"
	"    \"acs_note\"}], \"vfio\": {\"usable\", \"held_by_user\",\n"
	"    \"blockers\": [{\"device\", \"driver\", \"text\"}]}, \"why\": [{\"kind\",\n"
	"    \"devices\", \"via\", \"text\"}], \"warnings\": [same]}]}. Absent values\n"
	"    are null.\n"
	"\n"
	"    --predict: \"Predicted group K: DEVICE... (kernel: group N)\", with\n"
	"    \"groups N, M; differs\" where the kernel has them otherwise, then \"why:\"\n"
	"    lines; the last line counts the groups that differ. With --json:\n"
	"    {\"sysfs_root\", \"isolation_core\", \"predicted_groups\": [{\"devices\",\n"
	"    \"kernel_groups\" (null: no group), \"agrees\", \"why\"}], \"agrees\"}.\n"
	"\n"
	"    --diff: a first line naming both kernels, then \"moved: DEVICE [vvvv:dddd]\n"
	"    KIND\" with \"before:\", \"now:\", \"shares with\" and \"no longer shares\n"
	"    with\" lines, \"appeared:\" and \"disappeared:\" lines, and a count.\n"
	"\n"
	"EXIT STATUS\n"
	"    0  success (also when there are no groups); --diff: no change;\n"
	"       --predict: the kernel's groups are the predicted ones\n"
	"    1  wrong use: unknown option, bad argument, no such group or device,\n"
	"       or a device without a group\n"
	"    2  sysfs cannot be read (no DIR/bus/pci/devices), or SAVED.json cannot\n"
	"       be read or is not an lsisolation --json snapshot (the message says\n"
	"       where the JSON is invalid)\n"
	"    3  --diff: a device moved, appeared or disappeared; --predict: some\n"
	"       group differs from the prediction\n"
	"\n"
	"EXAMPLES\n"
	"    lsisolation                 all groups, explained\n"
	"    lsisolation -d 00:03.0      the group of 0000:00:03.0\n"
	"    lsisolation -g 7 -v         group 7 with ACS states\n"
	"    lsisolation --json | jq '.groups[] | select(.vfio.usable)'\n"
	"    lsisolation -r /tmp/fake-sys --json\n"
	"    lsisolation --json > before.json   (then upgrade the kernel, reboot)\n"
	"    lsisolation --diff before.json     what moved, and why\n"
	"    lsisolation --predict              where the kernel differs from the rules\n";

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
		{ "predict", no_argument, NULL, 'P' },
		{ "diff", required_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 }
	};
	char device[NAME_LEN] = "";
	bool json = false, first = true, predicting = false;
	const char *saved_path = NULL;
	int want = -1, c, i, ret;
	struct utsname u;

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
		case 'P':
			predicting = true;
			break;
		case 'D':
			saved_path = optarg;
			break;
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
	if ((predicting || saved_path) && (want >= 0 || device[0])) {
		err("--predict and --diff cover every group: no -g or -d with them");
		return EXIT_USAGE;
	}
	if (predicting && saved_path) {
		err("give --predict or --diff, not both");
		return EXIT_USAGE;
	}
	if (saved_path && json) {
		err("--diff prints text only: no --json with it");
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
	if (saved_path)
		return run_diff(saved_path);
	if (predicting) {
		predict();
		if (json) {
			printf("{\n\t\"sysfs_root\": ");
			json_str(sysfs_root);
			printf(",\n\t\"isolation_core\": %s", have_core ? "true" : "false");
			print_predict_json();
			printf("\n}\n");
		} else {
			print_predict_text();
		}
		return predict_agrees() ? EXIT_OK : EXIT_CHANGED;
	}

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
		printf(",\n\t\"isolation_core\": %s,\n\t\"kernel\": ",
		       have_core ? "true" : "false");
		json_str_null(!strcmp(sysfs_root, "/sys") && !uname(&u) ? u.release : "");
		printf(",\n\t\"groups\": [\n");
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
