// SPDX-License-Identifier: GPL-2.0
/*
 * SR-IOV: the groups of the VFs of QEMU's nvme PF, cold-plugged behind a
 * free root port of the reference topology (see the suite in check.py):
 *
 *   rp6  a single-function PF
 *   rp5  the same PF with multifunction=on in its header type
 *
 * Each is a fixture variant; one whose port has no SR-IOV PF below it is
 * skipped. VFs are enabled at run time through sriov_numvfs, with the PF
 * bound to pci-pf-stub (pci_sriov_configure_simple) or to vfio-pci
 * (vfio_pci.enable_sriov=1; the test sets the parameter if it is off).
 *
 * The expected partition of port, PF and VFs is computed from their config
 * space and the PCI rules of drivers/iommu/isolation/device_group.c
 * (Documentation/driver-api/isolation-groups.rst):
 *  - the root port isolates what is below it when its ACS capability has
 *    source validation, request and completion redirect and upstream
 *    forwarding enabled (as far as it implements them);
 *  - a VF shares its PF's group when the PF does not isolate its
 *    functions (iso_sriov_isolates()): a PF without an ACS capability, or
 *    a multifunction one, follows pci_acs_enabled(): a single function is
 *    isolated (PCIe 6.12.1.3, no vendor quirk for QEMU's 1b36:0010), a
 *    multifunction endpoint only with ACS; a single-function PF with ACS
 *    isolates when P2P request and completion redirect are enabled;
 *  - VFs are never peers of each other but through their PF, and QEMU's
 *    nvme has no DMA alias.
 * Stock 6.12 gives every VF a group of its own below an ACS port; where
 * that differs from the rules (the multifunction PF) the difference is
 * XFAIL on stock and FAIL with the core. Stock also gives a device that
 * never had a driver no group on IORT machines (iso_probe_group()).
 *
 * QEMU 7.2's nvme has no ACS capability and no property for one, and
 * pci=config_acs= only sets control bits of a capability that is there:
 * the PF-with-ACS rule is covered by pcisim's topologies 45-sriov-pf-acs
 * and 55-sriov-pf-redir-off (grouping suites), and pf_acs says so as a
 * skip when the PF has no ACS capability.
 *
 *   partition       VFs' iommu_group links against the expected partition;
 *                   virtfnN links against the SR-IOV capability's offset
 *                   and stride
 *   links           iommu_group and isolation_group links of each VF name
 *                   one group, whose devices/ lists exactly the members
 *                   the rules give it
 *   vfio_viable     a VF's group is viable once all its devices are bound
 *                   to vfio-pci: GET_STATUS, SET_CONTAINER, SET_IOMMU, the
 *                   VF's device fd (with a VF token if the PF is vfio-pci);
 *                   with a DMA-API driver (pci-pf-stub) on a member it is
 *                   not (SET_CONTAINER: EPERM)
 *   held_group      VFs enabled while VFIO holds the PF's group: vfio-pci
 *                   captures them; one in the held group cannot get the
 *                   DMA-API driver pci-pf-stub (EBUSY), one in a group of
 *                   its own can; disabling them while held removes them
 *   disable         disabling the VFs removes the groups they had alone,
 *                   the PF's group lists them no longer, and the groups
 *                   are those of before
 *   cycles          SRIOV_CYCLES (20) enable/disable cycles with the
 *                   checks of partition, links and disable each time;
 *                   prints "# time sriov.cycles: N s"
 *   pf_acs          the PF-with-ACS rule, where the PF has ACS
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "../kselftest_harness.h"
#include "isolation_util.h"
#include "vfio_util.h"

#define PF_STUB			"pci-pf-stub"
#define VFIO_PCI		"vfio-pci"
#define ENABLE_SRIOV		"/sys/module/vfio_pci/parameters/enable_sriov"
#define MAX_VFS			8
#define GROUP_GONE_MS		2000
#define CYCLES_DEFAULT		20
#define CASE_TIMEOUT_S		300

/* config space */
#define CFG_SIZE		4096
#define CFG_VENDOR		0x00
#define CFG_STATUS		0x06
#define CFG_STATUS_CAP_LIST	0x10
#define CFG_HEADER_TYPE		0x0e
#define CFG_HEADER_MF		0x80
#define CFG_CAP_PTR		0x34
#define CAP_ID_EXP		0x10
#define EXT_CAP_ID_ACS		0x0d
#define EXT_CAP_ID_ARI		0x0e
#define EXT_CAP_ID_SRIOV	0x10
#define ACS_CAP			0x04
#define ACS_CTRL		0x06
#define ACS_SV			0x0001
#define ACS_RR			0x0004
#define ACS_CR			0x0008
#define ACS_UF			0x0010
#define ISO_ACS_FLAGS		(ACS_SV | ACS_RR | ACS_CR | ACS_UF)
#define SRIOV_CTRL		0x08
#define SRIOV_CTRL_ARI		0x0010
#define SRIOV_VF_OFFSET		0x14
#define SRIOV_VF_STRIDE		0x16

/* The rules the VFs may follow (expect_partition()) */
#define RULE_SF_NOACS \
	"single-function PF without an ACS capability: pci_acs_enabled() calls a single " \
	"function isolated (PCIe 6.12.1.3; no quirk for QEMU's IDs), so are its VFs: a " \
	"group each (policy; pcisim 46-sriov-pf-noacs)"
#define RULE_MF_NOACS \
	"multifunction PF without an ACS capability: pci_acs_enabled() is false, its " \
	"functions reach each other: the VFs share the PF's group"
#define RULE_MF_ACS	"multifunction PF with ACS SV/RR/CR/UF enabled: a group each"
#define RULE_MF_ACS_OFF	"multifunction PF with ACS not fully enabled: the VFs share the PF's group"
#define RULE_SF_ACS \
	"single-function PF with ACS P2P redirect enabled: a group each (pcisim 45-sriov-pf-acs)"
#define RULE_SF_ACS_OFF \
	"single-function PF with ACS P2P redirect off: the VFs share the PF's group " \
	"(pcisim 55-sriov-pf-redir-off)"
#define NO_PF_ACS \
	"no ACS capability (QEMU 7.2's nvme has none, pci=config_acs= only sets the " \
	"control bits of one that is there): the PF-with-ACS rule is covered by pcisim " \
	"topologies 45-sriov-pf-acs and 55-sriov-pf-redir-off (grouping suites)"

/* What the rules read of a function's config space. */
struct fn_cfg {
	uint16_t vendor;
	bool multifunction;
	bool pcie;
	unsigned int acs;		/* ACS capability offset, 0: none */
	uint16_t acs_cap;
	uint16_t acs_ctrl;
	unsigned int sriov;		/* SR-IOV capability offset */
	uint16_t vf_offset;
	uint16_t vf_stride;
	bool ari;			/* ARI capable hierarchy set in SR-IOV ctrl */
};

/* The partition of port, PF and VFs: devices with one label share a group. */
enum { DEV_PORT, DEV_PF, DEV_VF0 };
#define NR_DEVS			(DEV_VF0 + MAX_VFS)

struct sriov_state {
	char port[ISO_BDF_LEN];
	char pf[ISO_BDF_LEN];
	struct fn_cfg port_cfg;
	struct fn_cfg pf_cfg;
	int nr_vfs;
	char vf[MAX_VFS][ISO_BDF_LEN];
	/* computed */
	bool port_isolates;
	bool pf_isolates;
	const char *rule;		/* the rule the VFs follow, in words */
	int label[NR_DEVS];		/* isolation core */
	int stock_label[NR_DEVS];	/* stock 6.12 */
	/* found */
	int group[NR_DEVS];
	bool unprobed;			/* a VF had no group until a driver bound */
};

static const char *const dev_role[] = { "port", "PF" };

static const char *dev_bdf(const struct sriov_state *s, int i)
{
	return i == DEV_PORT ? s->port : i == DEV_PF ? s->pf : s->vf[i - DEV_VF0];
}

static int nr_devs(const struct sriov_state *s)
{
	return DEV_VF0 + s->nr_vfs;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Config space ------------------------------------------------------------ */

static uint16_t le16(const unsigned char *p)
{
	return p[0] | p[1] << 8;
}

static uint32_t le32(const unsigned char *p)
{
	return le16(p) | (uint32_t)le16(p + 2) << 16;
}

static int ext_cap(const unsigned char *cfg, size_t len, unsigned int id)
{
	unsigned int off = 0x100, n;

	for (n = 0; n < 96 && off >= 0x100 && off + 4 <= len; n++) {
		uint32_t hdr = le32(cfg + off);

		if (!hdr || hdr == 0xffffffff)
			return 0;
		if ((hdr & 0xffff) == id)
			return off;
		off = (hdr >> 20) & 0xffc;
	}
	return 0;
}

static bool has_pcie_cap(const unsigned char *cfg)
{
	unsigned int off = cfg[CFG_CAP_PTR] & 0xfc, n;

	if (!(le16(cfg + CFG_STATUS) & CFG_STATUS_CAP_LIST))
		return false;
	for (n = 0; n < 48 && off >= 0x40; n++) {
		if (cfg[off] == CAP_ID_EXP)
			return true;
		off = cfg[off + 1] & 0xfc;
	}
	return false;
}

static int fn_cfg_read(const char *bdf, struct fn_cfg *f)
{
	static unsigned char cfg[CFG_SIZE];
	char path[PATH_MAX];
	ssize_t len;
	FILE *file;

	memset(f, 0, sizeof(*f));
	snprintf(path, sizeof(path), ISO_PCI_DEVICES "/%s/config", bdf);
	file = fopen(path, "r");
	if (!file)
		return -errno;
	memset(cfg, 0, sizeof(cfg));
	len = fread(cfg, 1, sizeof(cfg), file);
	fclose(file);
	if (len < 64)
		return -EIO;
	f->vendor = le16(cfg + CFG_VENDOR);
	f->multifunction = cfg[CFG_HEADER_TYPE] & CFG_HEADER_MF;
	f->pcie = has_pcie_cap(cfg);
	f->acs = ext_cap(cfg, len, EXT_CAP_ID_ACS);
	if (f->acs) {
		f->acs_cap = le16(cfg + f->acs + ACS_CAP);
		f->acs_ctrl = le16(cfg + f->acs + ACS_CTRL);
	}
	f->sriov = ext_cap(cfg, len, EXT_CAP_ID_SRIOV);
	if (f->sriov) {
		f->vf_offset = le16(cfg + f->sriov + SRIOV_VF_OFFSET);
		f->vf_stride = le16(cfg + f->sriov + SRIOV_VF_STRIDE);
		f->ari = le16(cfg + f->sriov + SRIOV_CTRL) & SRIOV_CTRL_ARI;
	}
	return 0;
}

/*
 * pci_acs_flags_enabled(): flags the capability does not implement count
 * as enabled; no capability, none.
 */
static bool acs_flags_enabled(const struct fn_cfg *f, uint16_t flags)
{
	if (!f->acs)
		return false;
	flags &= f->acs_cap;
	return (f->acs_ctrl & flags) == flags;
}

/* The rules --------------------------------------------------------------- */

/*
 * Fill in the expected partition of @s from its config space, with the
 * rule the VFs follow in words.
 */
static void expect_partition(struct sriov_state *s)
{
	const struct fn_cfg *pf = &s->pf_cfg;
	int i, pf_label;

	/* a root port on the root bus: only its own ACS counts */
	s->port_isolates = acs_flags_enabled(&s->port_cfg, ISO_ACS_FLAGS);
	if (!pf->acs && !pf->multifunction) {
		s->pf_isolates = true;
		s->rule = RULE_SF_NOACS;
	} else if (!pf->acs) {
		s->pf_isolates = false;
		s->rule = RULE_MF_NOACS;
	} else if (pf->multifunction) {
		s->pf_isolates = acs_flags_enabled(pf, ISO_ACS_FLAGS);
		s->rule = s->pf_isolates ? RULE_MF_ACS : RULE_MF_ACS_OFF;
	} else {
		s->pf_isolates = acs_flags_enabled(pf, ACS_RR | ACS_CR);
		s->rule = s->pf_isolates ? RULE_SF_ACS : RULE_SF_ACS_OFF;
	}
	s->label[DEV_PORT] = DEV_PORT;
	s->stock_label[DEV_PORT] = DEV_PORT;
	pf_label = s->port_isolates ? DEV_PF : DEV_PORT;
	s->label[DEV_PF] = pf_label;
	s->stock_label[DEV_PF] = pf_label;
	for (i = DEV_VF0; i < nr_devs(s); i++) {
		/*
		 * A VF the PF isolates still walks the path up: below a
		 * port that does not isolate, it joins the port's group.
		 */
		s->label[i] = s->pf_isolates && s->port_isolates ? i : pf_label;
		s->stock_label[i] = s->port_isolates ? i : DEV_PORT;
	}
}

static bool partition_is(const struct sriov_state *s, const int *label)
{
	int i, j;

	for (i = 0; i < nr_devs(s); i++) {
		if (s->group[i] < 0)
			return false;
		for (j = 0; j < i; j++) {
			bool same = label[i] == label[j];
			bool found = s->group[i] == s->group[j];

			if (same != found)
				return false;
		}
	}
	return true;
}

/* sysfs ------------------------------------------------------------------- */

static int write_numvfs(const char *pf, int n)
{
	char path[PATH_MAX], val[16];

	snprintf(path, sizeof(path), ISO_PCI_DEVICES "/%s/sriov_numvfs", pf);
	snprintf(val, sizeof(val), "%d", n);
	return iso_write(path, val);
}

static int read_int(const char *bdf, const char *attr)
{
	char path[PATH_MAX], buf[32];

	snprintf(path, sizeof(path), ISO_PCI_DEVICES "/%s/%s", bdf, attr);
	if (iso_read(path, buf, sizeof(buf)))
		return -1;
	return atoi(buf);
}

/* Target of link @name of @bdf, its last component; 0 or -errno. */
static int link_base(const char *bdf, const char *name, char *buf, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX], *slash;
	ssize_t n;

	snprintf(path, sizeof(path), ISO_PCI_DEVICES "/%s/%s", bdf, name);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	slash = strrchr(target, '/');
	snprintf(buf, len, "%.*s", (int)len - 1, slash ? slash + 1 : target);
	return 0;
}

/* The BDF the SR-IOV capability gives VF @i of @pf (routing ID arithmetic). */
static void vf_expected_bdf(const char *pf, const struct fn_cfg *f, int i,
			    char *buf, size_t len)
{
	unsigned int dom, bus, slot, fn, rid;

	if (sscanf(pf, "%x:%x:%x.%x", &dom, &bus, &slot, &fn) != 4) {
		snprintf(buf, len, "?");
		return;
	}
	rid = (bus << 8 | slot << 3 | fn) + f->vf_offset + i * f->vf_stride;
	snprintf(buf, len, "%04x:%02x:%02x.%x", dom, (rid >> 8) & 0xff,
		 (rid >> 3) & 0x1f, rid & 7);
}

/* A group's holder file (isolation core), "" where there is none. */
static void group_holder(int group, char *buf, size_t len)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), ISO_GROUPS_DIR "/%d/holder", group);
	if (iso_read(path, buf, len))
		buf[0] = '\0';
}

static bool group_gone(int group)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), ISO_GROUPS_DIR "/%d", group);
	return !iso_wait_path(path, false, GROUP_GONE_MS);
}

/* The fixture -------------------------------------------------------------- */

FIXTURE(sriov) {
	struct iso_cleanup cl;
	struct vfio_ctx c;
	struct sriov_state s;
	int total_vfs;
	int want_vfs;
	int before[ISO_MAX_GROUPS];
	int nr_before;
	char enable_sriov[4];		/* as found, "" if not there */
	int reset_ret;			/* numvfs 0 at the start */
	bool core;
};

FIXTURE_VARIANT(sriov) {
	const char *port;
	const char *pf;			/* how the suite adds the PF */
};

FIXTURE_VARIANT_ADD(sriov, rp6) {
	.port = "rp6",
	.pf = "nvme,bus=rp6,sriov_max_vfs=4,...",
};

FIXTURE_VARIANT_ADD(sriov, rp5) {
	.port = "rp5",
	.pf = "nvme,bus=rp5,multifunction=on,sriov_max_vfs=4,...",
};

FIXTURE_SETUP(sriov)
{
	struct iso_topology topo;
	struct iso_dev *port;
	char path[ISO_PATH_LEN + 8];

	iso_cleanup_init(&self->cl);
	vfio_ctx_init(&self->c);
	memset(&self->s, 0, sizeof(self->s));
	self->core = iso_have_core();
	ASSERT_EQ(0, iso_topology_load(&topo));
	port = iso_topology_find(&topo, variant->port);
	ASSERT_NE(NULL, port) TH_LOG("%s is not in /harness/topology", variant->port);
	if (!port->bdf[0])
		SKIP(return, "%s is not in this guest", variant->port);
	snprintf(self->s.port, sizeof(self->s.port), "%s", port->bdf);
	snprintf(path, sizeof(path), "%s/00.0", port->path);
	if (iso_path_to_bdf(path, self->s.pf, sizeof(self->s.pf)))
		SKIP(return, "no device behind %s: the sriov suite adds -device %s",
		     variant->port, variant->pf);
	self->total_vfs = read_int(self->s.pf, "sriov_totalvfs");
	if (self->total_vfs <= 0)
		SKIP(return, "%s behind %s is no SR-IOV PF (CONFIG_PCI_IOV?)",
		     self->s.pf, variant->port);
	self->want_vfs = self->total_vfs < MAX_VFS ? self->total_vfs : MAX_VFS;
	ASSERT_EQ(0, fn_cfg_read(self->s.port, &self->s.port_cfg));
	ASSERT_EQ(0, fn_cfg_read(self->s.pf, &self->s.pf_cfg));
	ASSERT_NE(0U, self->s.pf_cfg.sriov);
	ASSERT_EQ(0, iso_cleanup_dev(&self->cl, self->s.pf));
	if (iso_read(ENABLE_SRIOV, self->enable_sriov, sizeof(self->enable_sriov)))
		self->enable_sriov[0] = '\0';

	/* no ASSERT past this point (iso_cleanup): the tests check */
	self->reset_ret = write_numvfs(self->s.pf, 0);
}

FIXTURE_TEARDOWN_PARENT(sriov)
{
	if (iso_cleanup_in_test(&self->cl))
		vfio_ctx_close(&self->c);
	if (self->s.pf[0]) {
		/* vfio-pci's sriov_configure wants enable_sriov, also for 0 */
		if (self->enable_sriov[0])
			iso_write(ENABLE_SRIOV, "Y");
		EXPECT_EQ(0, write_numvfs(self->s.pf, 0));
	}
	EXPECT_EQ(0, iso_cleanup_run(&self->cl));
	if (self->enable_sriov[0])
		iso_write(ENABLE_SRIOV, self->enable_sriov);
}

/* What every test starts from: the PF without VFs. */
static void sriov_ready(struct __test_metadata *_metadata,
			struct _test_data_sriov *self)
{
	ASSERT_EQ(0, self->reset_ret)
		TH_LOG("sriov_numvfs 0 on %s: %s", self->s.pf, strerror(-self->reset_ret));
}

/*
 * The groups once the PF has its driver and before any VF exists (stock on
 * IORT gives the PF its group only when a driver binds).
 */
static void snap_before(struct __test_metadata *_metadata,
			struct _test_data_sriov *self)
{
	self->nr_before = iso_group_list(self->before, ISO_MAX_GROUPS);
	ISO_REQUIRE_GROUPS(return, self->nr_before);
}

/* Bind the PF to @drv (pci-pf-stub, or vfio-pci with enable_sriov on). */
static void pf_bind(struct __test_metadata *_metadata,
		    struct _test_data_sriov *self, const char *drv)
{
	char cur[ISO_NAME_LEN];
	int ret;

	if (!strcmp(drv, VFIO_PCI)) {
		ASSERT_NE('\0', self->enable_sriov[0])
			TH_LOG("%s missing: vfio-pci without SR-IOV support", ENABLE_SRIOV);
		ASSERT_EQ(0, iso_write(ENABLE_SRIOV, "Y"));
	}
	ASSERT_EQ(0, iso_dev_driver(self->s.pf, cur, sizeof(cur)));
	if (!strcmp(cur, drv))
		return;
	ret = iso_bind(self->s.pf, drv);
	ASSERT_EQ(0, ret) TH_LOG("binding PF %s to %s: %s", self->s.pf, drv, strerror(-ret));
}

/*
 * Enable the VFs, read their BDFs from the virtfnN links and check them
 * against the SR-IOV capability, and compute the partition the rules give.
 */
static void vfs_enable(struct __test_metadata *_metadata,
		       struct _test_data_sriov *self, int cycle)
{
	struct sriov_state *s = &self->s;
	char name[24], want[ISO_BDF_LEN];
	int ret, i;

	ret = write_numvfs(s->pf, self->want_vfs);
	ASSERT_EQ(0, ret) TH_LOG("cycle %d: sriov_numvfs %d on %s: %s", cycle,
				 self->want_vfs, s->pf, strerror(-ret));
	ASSERT_EQ(self->want_vfs, read_int(s->pf, "sriov_numvfs"));
	/* offset and stride may depend on NumVFs and ARI: read them now */
	ASSERT_EQ(0, fn_cfg_read(s->pf, &s->pf_cfg));
	s->nr_vfs = self->want_vfs;
	for (i = 0; i < s->nr_vfs; i++) {
		snprintf(name, sizeof(name), "virtfn%d", i);
		ASSERT_EQ(0, link_base(s->pf, name, s->vf[i], sizeof(s->vf[i])))
			TH_LOG("cycle %d: %s/%s", cycle, s->pf, name);
		vf_expected_bdf(s->pf, &s->pf_cfg, i, want, sizeof(want));
		ASSERT_STREQ(want, s->vf[i])
			TH_LOG("VF %d: offset %#x stride %#x", i, s->pf_cfg.vf_offset,
			       s->pf_cfg.vf_stride);
	}
	expect_partition(s);
}

static void vfs_disable(struct __test_metadata *_metadata,
			struct _test_data_sriov *self, int cycle)
{
	int ret = write_numvfs(self->s.pf, 0);

	ASSERT_EQ(0, ret) TH_LOG("cycle %d: sriov_numvfs 0 on %s: %s", cycle,
				 self->s.pf, strerror(-ret));
	ASSERT_EQ(0, read_int(self->s.pf, "sriov_numvfs"));
}

/*
 * Read the groups of port, PF and VFs. A VF without one gets one through a
 * bind of vfio-pci where the kernel has no core (stock on IORT, see
 * iso_probe_group()); with the core every VF has one when it appears.
 */
static void read_groups(struct __test_metadata *_metadata, struct sriov_state *s,
			bool core, int cycle)
{
	int i;

	for (i = 0; i < nr_devs(s); i++) {
		s->group[i] = iso_dev_group(dev_bdf(s, i));
		if (s->group[i] < 0 && i >= DEV_VF0 && !core) {
			s->group[i] = iso_probe_group(dev_bdf(s, i));
			s->unprobed |= s->group[i] >= 0;
		}
		ASSERT_LE(0, s->group[i])
			TH_LOG("cycle %d: %s %s has no iommu_group", cycle,
			       i < DEV_VF0 ? dev_role[i] : "VF", dev_bdf(s, i));
	}
}

static void log_partition(struct __test_metadata *_metadata,
			  const struct sriov_state *s)
{
	char line[512];
	int i, n;

	n = snprintf(line, sizeof(line), "groups:");
	for (i = 0; i < nr_devs(s) && n < (int)sizeof(line); i++)
		n += snprintf(line + n, sizeof(line) - n, " %s=%d",
			      dev_bdf(s, i), s->group[i]);
	TH_LOG("%s", line);
}

/*
 * The groups against the rules. With the core they must match; on stock a
 * match of stock's own known partition is noted in @why (XFAIL later).
 */
static void check_partition(struct __test_metadata *_metadata,
			    struct sriov_state *s, bool core, int cycle,
			    char *why, size_t len)
{
	read_groups(_metadata, s, core, cycle);
	if (partition_is(s, s->label))
		return;
	if (!core && partition_is(s, s->stock_label)) {
		if (!why[0])
			snprintf(why, len,
				 "stock gives every VF a group of its own (cycle %d); the rule: %s",
				 cycle, s->rule);
		return;
	}
	log_partition(_metadata, s);
	ASSERT_TRUE(false) TH_LOG("cycle %d: not the partition of the rule: %s", cycle, s->rule);
}

/*
 * iommu_group and, with the core, isolation_group of each VF name its
 * group; the group's devices/ lists exactly the devices whose label is the
 * VF's under the partition found (the rules' with the core).
 */
static void check_links(struct __test_metadata *_metadata,
			const struct sriov_state *s, bool core, int cycle)
{
	static char names[ISO_MAX_DEVS][ISO_DEVNAME_LEN];
	char ig[32], og[32];
	int i, j, n, want;

	for (i = DEV_VF0; i < nr_devs(s); i++) {
		ASSERT_EQ(0, link_base(s->vf[i - DEV_VF0], "iommu_group", ig, sizeof(ig)));
		ASSERT_EQ(s->group[i], atoi(ig));
		if (core) {
			ASSERT_EQ(0, link_base(s->vf[i - DEV_VF0], "isolation_group", og,
					       sizeof(og)))
				TH_LOG("cycle %d: %s has no isolation_group link", cycle,
				       s->vf[i - DEV_VF0]);
			ASSERT_STREQ(ig, og);
		} else {
			ASSERT_EQ(-ENOENT, link_base(s->vf[i - DEV_VF0], "isolation_group", og,
						     sizeof(og)));
		}
		n = iso_group_devices(s->group[i], names, ISO_MAX_DEVS);
		ASSERT_LE(0, n);
		want = 0;
		for (j = 0; j < nr_devs(s); j++) {
			int k;

			if (s->group[j] != s->group[i])
				continue;
			want++;
			for (k = 0; k < n && strcmp(names[k], dev_bdf(s, j)); k++)
				;
			ASSERT_LT(k, n) TH_LOG("cycle %d: group %d does not list %s",
					       cycle, s->group[i], dev_bdf(s, j));
		}
		ASSERT_EQ(want, n) TH_LOG("cycle %d: group %d lists %d devices, %d expected",
					  cycle, s->group[i], n, want);
	}
}

/*
 * After the VFs went: the groups they had alone are gone, the others no
 * longer list them, and the groups are those of before (ids from an IDA:
 * the set is compared).
 */
static void check_removed(struct __test_metadata *_metadata,
			  struct _test_data_sriov *self, const int *vf_group,
			  int nr_vfs, int cycle)
{
	static char names[ISO_MAX_DEVS][ISO_DEVNAME_LEN];
	const struct sriov_state *s = &self->s;
	int after[ISO_MAX_GROUPS], nr, i, k, n;
	bool shared;

	for (i = 0; i < nr_vfs; i++) {
		shared = vf_group[i] == s->group[DEV_PF] || vf_group[i] == s->group[DEV_PORT];
		for (k = 0; k < nr_vfs; k++)
			shared |= k != i && vf_group[k] == vf_group[i];
		if (!shared) {
			ASSERT_TRUE(group_gone(vf_group[i]))
				TH_LOG("cycle %d: group %d of VF %s outlived it", cycle,
				       vf_group[i], s->vf[i]);
			continue;
		}
		n = iso_group_devices(vf_group[i], names, ISO_MAX_DEVS);
		for (k = 0; k < n; k++)
			ASSERT_STRNE(s->vf[i], names[k])
				TH_LOG("cycle %d: group %d still lists %s", cycle,
				       vf_group[i], s->vf[i]);
	}
	nr = iso_group_list(after, ISO_MAX_GROUPS);
	ASSERT_EQ(self->nr_before, nr) TH_LOG("cycle %d: %d groups, %d before", cycle,
					      nr, self->nr_before);
	for (i = 0; i < nr; i++)
		ASSERT_EQ(self->before[i], after[i])
			TH_LOG("cycle %d: group %d not there before", cycle, after[i]);
}

static void xfail_if(struct __test_metadata *_metadata, const char *why, bool unprobed)
{
	if (_metadata->exit_code != KSFT_PASS)
		return;
	if (why[0])
		ISO_XFAIL(return, "%s%s", why,
			  unprobed ? "; stock: VFs had no group until a driver bound" : "");
	if (unprobed)
		ISO_XFAIL(return, "stock: VFs without a driver had no group until vfio-pci bound");
}

/* The tests ------------------------------------------------------------------ */

TEST_F_TIMEOUT(sriov, partition, CASE_TIMEOUT_S)
{
	struct sriov_state *s = &self->s;
	char why[512] = "";

	sriov_ready(_metadata, self);
	pf_bind(_metadata, self, PF_STUB);
	vfs_enable(_metadata, self, 0);
	ksft_print_msg("%s: PF %s (%s, ACS %s), %d VFs %s..%s, offset %u stride %u, ARI %s\n",
		       variant->port, s->pf, s->pf_cfg.multifunction ? "multifunction" :
		       "single function", s->pf_cfg.acs ? "yes" : "none", s->nr_vfs, s->vf[0],
		       s->vf[s->nr_vfs - 1], s->pf_cfg.vf_offset, s->pf_cfg.vf_stride,
		       s->pf_cfg.ari ? "on" : "off");
	ksft_print_msg("port %s: ACS cap %#x ctrl %#x: %s\n", s->port, s->port_cfg.acs_cap,
		       s->port_cfg.acs_ctrl, s->port_isolates ? "isolates" : "does not isolate");
	ksft_print_msg("rule: %s\n", s->rule);
	check_partition(_metadata, s, self->core, 0, why, sizeof(why));
	log_partition(_metadata, s);
	xfail_if(_metadata, why, s->unprobed);
}

TEST_F_TIMEOUT(sriov, links, CASE_TIMEOUT_S)
{
	struct sriov_state *s = &self->s;
	char why[512] = "";

	sriov_ready(_metadata, self);
	pf_bind(_metadata, self, PF_STUB);
	vfs_enable(_metadata, self, 0);
	check_partition(_metadata, s, self->core, 0, why, sizeof(why));
	check_links(_metadata, s, self->core, 0);
	xfail_if(_metadata, why, s->unprobed);
}

/* Open the group of VF @vf through VFIO_GROUP_GET_DEVICE_FD with @token. */
static int vf_open_with_token(struct vfio_ctx *c, const char *vf, const char *token)
{
	char arg[96];
	int fd;

	snprintf(arg, sizeof(arg), "%s%s%s", vf, token ? " vf_token=" : "", token ? token : "");
	fd = ioctl(c->group, VFIO_GROUP_GET_DEVICE_FD, arg);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

#define VF_TOKEN	"6b2f0d1e-0d5c-4b8e-9a43-5f1e0c7a2b11"

static int set_vf_token(int pfdev)
{
	static const unsigned char uuid[16] = {
		0x6b, 0x2f, 0x0d, 0x1e, 0x0d, 0x5c, 0x4b, 0x8e,
		0x9a, 0x43, 0x5f, 0x1e, 0x0c, 0x7a, 0x2b, 0x11,
	};
	unsigned char buf[sizeof(struct vfio_device_feature) + 16];
	struct vfio_device_feature *f = (void *)buf;

	f->argsz = sizeof(buf);
	f->flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PCI_VF_TOKEN;
	memcpy(f->data, uuid, sizeof(uuid));
	return ioctl(pfdev, VFIO_DEVICE_FEATURE, f) ? -errno : 0;
}

/*
 * A VF's group given to VFIO. Where the VFs are alone in their groups the
 * PF keeps pci-pf-stub and each VF alone goes to vfio-pci: viable, opened
 * whole (vfio_type1_open). Where they share the PF's group, the group is
 * not viable while pci-pf-stub (a DMA-API driver) drives the PF; vfio-pci
 * refuses a PF whose VFs are enabled, so the VFs are enabled again below
 * the PF bound to vfio-pci and opened through VFIO, which captures them:
 * then the group is viable, and a VF's device opens with the PF's VF token
 * (without it: EACCES).
 */
TEST_F_TIMEOUT(sriov, vfio_viable, CASE_TIMEOUT_S)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	struct sriov_state *s = &self->s;
	char why[512] = "", holder[16];
	int ret, i;

	sriov_ready(_metadata, self);
	pf_bind(_metadata, self, PF_STUB);
	vfs_enable(_metadata, self, 0);
	check_partition(_metadata, s, self->core, 0, why, sizeof(why));

	if (s->group[DEV_VF0] != s->group[DEV_PF]) {
		for (i = 0; i < s->nr_vfs; i++) {
			ASSERT_EQ(1, iso_group_size(s->group[DEV_VF0 + i]));
			ret = iso_bind(s->vf[i], VFIO_PCI);
			ASSERT_EQ(0, ret) TH_LOG("binding VF %s to vfio-pci: %s", s->vf[i],
						 strerror(-ret));
			ret = vfio_type1_open(&self->c, s->vf[i]);
			ksft_print_msg("VF %s group %d: %s (%s), flags %#x\n", s->vf[i],
				       s->group[DEV_VF0 + i],
				       self->c.step[0] ? self->c.step : "opened",
				       strerror(-ret), self->c.group_flags);
			ASSERT_EQ(0, ret) TH_LOG("%s: %s", self->c.step, strerror(-ret));
			ASSERT_NE(0U, self->c.group_flags & VFIO_GROUP_FLAGS_VIABLE);
			if (self->core) {
				group_holder(s->group[DEV_VF0 + i], holder, sizeof(holder));
				ASSERT_STREQ("user", holder);
			}
			vfio_ctx_close(&self->c);
			ASSERT_EQ(0, vfio_release_bdf(s->vf[i]));
		}
		xfail_if(_metadata, why, s->unprobed);
		return;
	}

	/* the VFs share the PF's group, which pci-pf-stub uses */
	ret = iso_bind(s->vf[0], VFIO_PCI);
	ASSERT_EQ(0, ret) TH_LOG("binding VF %s to vfio-pci: %s", s->vf[0], strerror(-ret));
	ret = vfio_type1_open(&self->c, s->vf[0]);
	ksft_print_msg("PF on %s: VF %s group %d: %s (%s), flags %#x\n", PF_STUB, s->vf[0],
		       s->group[DEV_VF0], self->c.step[0] ? self->c.step : "opened",
		       strerror(-ret), self->c.group_flags);
	ASSERT_STREQ("VFIO_GROUP_SET_CONTAINER", self->c.step);
	ASSERT_EQ(-EPERM, ret);
	ASSERT_EQ(0U, self->c.group_flags & VFIO_GROUP_FLAGS_VIABLE);
	vfio_ctx_close(&self->c);
	ASSERT_EQ(0, vfio_release_bdf(s->vf[0]));

	/*
	 * vfio-pci resets a PF when its device is opened, and an FLR of
	 * QEMU 7.2's nvme PF drops its VFs while VF Enable still reads set
	 * (the VFs' config space then reads all ones, vfio-pci waits 65 s
	 * for each of their resets): open the PF before the VFs exist.
	 */
	vfs_disable(_metadata, self, 0);
	pf_bind(_metadata, self, VFIO_PCI);
	ret = vfio_type1_open(&self->c, s->pf);
	ASSERT_EQ(0, ret) TH_LOG("VFIO open of PF %s: %s at %s", s->pf, strerror(-ret),
				 self->c.step);
	ASSERT_EQ(0, set_vf_token(self->c.device));
	vfs_enable(_metadata, self, 1);
	check_partition(_metadata, s, self->core, 1, why, sizeof(why));
	for (i = 0; i < s->nr_vfs; i++) {
		char drv[ISO_NAME_LEN];

		ASSERT_EQ(0, iso_dev_driver(s->vf[i], drv, sizeof(drv)));
		ASSERT_STREQ(VFIO_PCI, drv) TH_LOG("VF %s not captured by vfio-pci", s->vf[i]);
	}
	ASSERT_EQ(0, ioctl(self->c.group, VFIO_GROUP_GET_STATUS, &status));
	ksft_print_msg("all on vfio-pci: group %d of %d devices, flags %#x\n", s->group[DEV_PF],
		       iso_group_size(s->group[DEV_PF]), status.flags);
	ASSERT_NE(0U, status.flags & VFIO_GROUP_FLAGS_VIABLE);
	ASSERT_NE(0U, status.flags & VFIO_GROUP_FLAGS_CONTAINER_SET);
	EXPECT_EQ(-EACCES, vf_open_with_token(&self->c, s->vf[0], NULL));
	ret = vf_open_with_token(&self->c, s->vf[0], VF_TOKEN);
	ASSERT_EQ(0, ret) TH_LOG("VF %s device fd with the VF token: %s", s->vf[0],
				 strerror(-ret));
	vfio_ctx_close(&self->c);
	xfail_if(_metadata, why, s->unprobed);
}

/*
 * VFs enabled through vfio-pci's sriov_configure while VFIO holds the PF's
 * group: vfio-pci captures each (driver_override); a VF in the held group
 * must not get a DMA-API driver (pci-pf-stub: dma_configure() ->
 * iommu_device_use_default_domain() refuses with EBUSY, the group stays
 * "user"), one in a group of its own may. Disabling the VFs while the
 * group is held removes them from it.
 */
TEST_F_TIMEOUT(sriov, held_group, CASE_TIMEOUT_S)
{
	struct sriov_state *s = &self->s;
	int vf_group[MAX_VFS], ret, i, n;
	char why[512] = "", drv[ISO_NAME_LEN], holder[16];
	int refused = 0, bound = 0;

	sriov_ready(_metadata, self);
	pf_bind(_metadata, self, VFIO_PCI);
	snap_before(_metadata, self);
	ret = vfio_type1_open(&self->c, s->pf);
	ASSERT_EQ(0, ret) TH_LOG("VFIO open of PF %s: %s at %s", s->pf, strerror(-ret),
				 self->c.step);
	if (self->core) {
		group_holder(self->c.groupnr, holder, sizeof(holder));
		ASSERT_STREQ("user", holder);
	}
	vfs_enable(_metadata, self, 0);
	ksft_print_msg("rule: %s\n", s->rule);
	check_partition(_metadata, s, self->core, 0, why, sizeof(why));
	log_partition(_metadata, s);
	ASSERT_EQ(self->c.groupnr, s->group[DEV_PF]);
	for (i = 0; i < s->nr_vfs; i++) {
		int g = s->group[DEV_VF0 + i];

		vf_group[i] = g;
		ASSERT_EQ(0, iso_dev_driver(s->vf[i], drv, sizeof(drv)));
		ASSERT_STREQ(VFIO_PCI, drv) TH_LOG("VF %s not captured by vfio-pci", s->vf[i]);
		ret = iso_bind(s->vf[i], PF_STUB);
		ASSERT_EQ(0, iso_dev_driver(s->vf[i], drv, sizeof(drv)));
		if (g == self->c.groupnr) {
			ksft_print_msg("VF %s in the held group %d: bind of %s: %s\n", s->vf[i],
				       g, PF_STUB, strerror(-ret));
			EXPECT_EQ(-EBUSY, ret);
			EXPECT_STREQ("", drv);
			refused += ret == -EBUSY;
		} else {
			ksft_print_msg("VF %s in group %d of its own: bind of %s: %s\n",
				       s->vf[i], g, PF_STUB, strerror(-ret));
			EXPECT_EQ(0, ret);
			EXPECT_STREQ(PF_STUB, drv);
			bound += !ret;
		}
		if (self->core) {
			group_holder(g, holder, sizeof(holder));
			EXPECT_STREQ(g == self->c.groupnr ? "user" : "dma-api", holder);
		}
		iso_unbind(s->vf[i]);
	}
	ksft_print_msg("held group %d: %d VFs in it refused %s, %d alone in a group bound it\n",
		       self->c.groupnr, refused, PF_STUB, bound);
	if (why[0] && bound) {
		n = strlen(why);
		snprintf(why + n, sizeof(why) - n, "; so %s bound to %d VFs of the VFIO-held PF",
			 PF_STUB, bound);
	}

	vfs_disable(_metadata, self, 0);
	for (i = 0; i < s->nr_vfs; i++)
		ASSERT_EQ(-1, iso_dev_group(s->vf[i]));
	n = s->nr_vfs;
	s->nr_vfs = 0;
	/* the PF, and its port where the port does not isolate it */
	ASSERT_EQ(s->label[DEV_PF] == s->label[DEV_PORT] ? 2 : 1,
		  iso_group_size(self->c.groupnr))
		TH_LOG("held group %d keeps %d devices", self->c.groupnr,
		       iso_group_size(self->c.groupnr));
	if (self->core) {
		group_holder(self->c.groupnr, holder, sizeof(holder));
		ASSERT_STREQ("user", holder);
	}
	vfio_ctx_close(&self->c);
	check_removed(_metadata, self, vf_group, n, 0);
	xfail_if(_metadata, why, s->unprobed);
}

TEST_F_TIMEOUT(sriov, disable, CASE_TIMEOUT_S)
{
	struct sriov_state *s = &self->s;
	int vf_group[MAX_VFS], i, n;
	char why[512] = "";

	sriov_ready(_metadata, self);
	pf_bind(_metadata, self, PF_STUB);
	snap_before(_metadata, self);
	vfs_enable(_metadata, self, 0);
	check_partition(_metadata, s, self->core, 0, why, sizeof(why));
	for (i = 0; i < s->nr_vfs; i++)
		vf_group[i] = s->group[DEV_VF0 + i];
	n = s->nr_vfs;
	vfs_disable(_metadata, self, 0);
	for (i = 0; i < n; i++)
		ASSERT_EQ(-1, iso_dev_group(s->vf[i]));
	check_removed(_metadata, self, vf_group, n, 0);
	ksft_print_msg("%d VFs gone with their groups; %d groups, as before\n", n,
		       self->nr_before);
	xfail_if(_metadata, why, s->unprobed);
}

TEST_F_TIMEOUT(sriov, cycles, 1800)
{
	struct sriov_state *s = &self->s;
	const char *env = getenv("SRIOV_CYCLES");
	int nr = env ? atoi(env) : CYCLES_DEFAULT;
	int vf_group[MAX_VFS], i, c, n;
	char why[512] = "";
	double t0;

	ASSERT_LT(0, nr) TH_LOG("SRIOV_CYCLES=%s: no cycle to run", env);
	sriov_ready(_metadata, self);
	pf_bind(_metadata, self, PF_STUB);
	snap_before(_metadata, self);
	t0 = now_s();
	for (c = 0; c < nr; c++) {
		vfs_enable(_metadata, self, c);
		check_partition(_metadata, s, self->core, c, why, sizeof(why));
		check_links(_metadata, s, self->core, c);
		for (i = 0; i < s->nr_vfs; i++)
			vf_group[i] = s->group[DEV_VF0 + i];
		n = s->nr_vfs;
		vfs_disable(_metadata, self, c);
		check_removed(_metadata, self, vf_group, n, c);
	}
	printf("# time sriov.cycles: %.1f s, %d cycles of %d VFs (%s), %.2f s a cycle\n",
	       now_s() - t0, nr, self->want_vfs, variant->port,
	       nr ? (now_s() - t0) / nr : 0);
	fflush(stdout);
	xfail_if(_metadata, why, s->unprobed);
}

/*
 * The PF-with-ACS rule needs a PF with an ACS capability: QEMU 7.2's nvme
 * has none (pci=config_acs= cannot add one); pcisim's topologies cover it.
 */
TEST_F_TIMEOUT(sriov, pf_acs, CASE_TIMEOUT_S)
{
	struct sriov_state *s = &self->s;
	char why[512] = "";

	sriov_ready(_metadata, self);
	if (!s->pf_cfg.acs)
		SKIP(return, "PF %s: %s", s->pf, NO_PF_ACS);
	pf_bind(_metadata, self, PF_STUB);
	vfs_enable(_metadata, self, 0);
	ksft_print_msg("PF ACS cap %#x ctrl %#x; rule: %s\n", s->pf_cfg.acs_cap,
		       s->pf_cfg.acs_ctrl, s->rule);
	check_partition(_metadata, s, self->core, 0, why, sizeof(why));
	xfail_if(_metadata, why, s->unprobed);
}

TEST_HARNESS_MAIN
