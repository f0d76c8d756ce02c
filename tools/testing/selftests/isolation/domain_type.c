// SPDX-License-Identifier: GPL-2.0
/*
 * The default domain of each group as /sys/kernel/iommu_groups/N/type shows
 * it (Documentation/ABI/testing/sysfs-kernel-iommu_groups):
 *  - its type follows the kernel command line, the build default and the
 *    few cases where an IOMMU driver forces strict invalidation;
 *  - a group without a bound driver changes type and back (also by "auto");
 *  - a group whose device is bound to a DMA-API driver (e1000e) refuses a
 *    change with EPERM and keeps its type;
 *  - anything but DMA, DMA-FQ, identity and auto is refused with EINVAL and
 *    changes nothing.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "isolation_util.h"

#define MAX_GROUP_DEVS	64
#define TYPE_LEN	32

#ifndef BIT_ULL
#define BIT_ULL(nr)	(1ULL << (nr))
#endif

/* VT-d capability bits (drivers/iommu/intel/iommu.h) */
#define VTD_CAP_CM		BIT_ULL(7)	/* caching mode: a virtual IOMMU */
#define VTD_ECAP_PT		BIT_ULL(6)	/* pass-through translation */
#define VTD_ECAP_SMTS		BIT_ULL(43)	/* scalable mode */
#define VTD_ECAP_FLTS		BIT_ULL(47)	/* first-level translation */
/* AMD-Vi capability header bit (drivers/iommu/amd/amd_iommu_types.h) */
#define AMD_CAP_NPCACHE		BIT_ULL(26)	/* not-present entries cached */

/* What the kernel's architecture decides, by `uname -m`. */
struct arch_facts {
	const char *machine;
	/*
	 * The Kconfig default of the "IOMMU default domain type" choice
	 * (drivers/iommu/Kconfig) is lazy on X86 and S390, strict elsewhere.
	 * The harness configs keep it; the guest has no /proc/config.gz.
	 */
	bool lazy;
	/* iommu=pt and iommu=nopt are x86 options (arch/x86/kernel/pci-dma.c) */
	bool x86;
};

static const struct arch_facts arch_table[] = {
	{ "x86_64", true, true },
	{ "i386", true, true },
	{ "i486", true, true },
	{ "i586", true, true },
	{ "i686", true, true },
	{ "s390x", true, false },
	{ "s390", true, false },
};

/* The facts for the running kernel; an unknown machine has neither. */
static const struct arch_facts *arch(void)
{
	static struct arch_facts other;
	static struct utsname u;
	unsigned int i;

	if (!u.machine[0] && uname(&u))
		snprintf(u.machine, sizeof(u.machine), "unknown");
	for (i = 0; i < ARRAY_SIZE(arch_table); i++)
		if (!strcmp(u.machine, arch_table[i].machine))
			return &arch_table[i];
	other.machine = u.machine;
	return &other;
}

static int read_type(int group, char *buf)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), ISO_GROUPS_DIR "/%d/type", group);
	return iso_read(path, buf, TYPE_LEN);
}

static int write_type(int group, const char *type)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), ISO_GROUPS_DIR "/%d/type", group);
	return iso_write(path, type);
}

/* kstrtobool() */
static bool parse_bool(const char *v, int *b)
{
	switch (v[0]) {
	case 'y': case 'Y': case 't': case 'T': case '1':
		*b = 1;
		return true;
	case 'n': case 'N': case 'f': case 'F': case '0':
		*b = 0;
		return true;
	case 'o': case 'O':
		if (v[1] == 'n' || v[1] == 'N')
			*b = 1;
		else if (v[1] == 'f' || v[1] == 'F')
			*b = 0;
		else
			return false;
		return true;
	}
	return false;
}

/* Is opt one of the comma-separated options in list? */
static bool has_opt(const char *list, const char *opt)
{
	size_t len = strlen(opt);
	const char *p;

	for (p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, opt, len) && (p[len] == ',' || p[len] == '\0'))
			return true;
	return false;
}

static bool read_hex(const char *path, unsigned long long *val)
{
	char buf[64];

	if (iso_read(path, buf, sizeof(buf)))
		return false;
	*val = strtoull(buf, NULL, 16);
	return true;
}

/*
 * The hardware facts that make a driver override the command line: a
 * virtual VT-d (caching mode, unless DMA domains use first-level tables in
 * scalable mode) or AMD-Vi with NpCache forces strict invalidation
 * (iommu_set_dma_strict()); VT-d without pass-through support never gives an
 * identity domain (device_def_domain_type()).
 */
struct hw_facts {
	const char *forces_strict;	/* why, or NULL */
	const char *no_identity;	/* why, or NULL */
};

static void hw_facts(bool sm_on, struct hw_facts *hw)
{
	static char strict_why[128], ident_why[128];
	unsigned long long cap, ecap;
	char path[PATH_MAX];
	int i;

	memset(hw, 0, sizeof(*hw));
	for (i = 0; i < 64; i++) {
		snprintf(path, sizeof(path), ISO_IOMMU_CLASS "/dmar%d/intel-iommu/cap", i);
		if (!read_hex(path, &cap))
			continue;
		snprintf(path, sizeof(path), ISO_IOMMU_CLASS "/dmar%d/intel-iommu/ecap", i);
		if (!read_hex(path, &ecap))
			continue;
		if ((cap & VTD_CAP_CM) &&
		    !(sm_on && (ecap & VTD_ECAP_SMTS) && (ecap & VTD_ECAP_FLTS))) {
			snprintf(strict_why, sizeof(strict_why),
				 "dmar%d has caching mode: batching disallowed", i);
			hw->forces_strict = strict_why;
		}
		if (!(ecap & VTD_ECAP_PT)) {
			snprintf(ident_why, sizeof(ident_why),
				 "dmar%d has no pass-through support", i);
			hw->no_identity = ident_why;
		}
	}
	for (i = 0; i < 64; i++) {
		snprintf(path, sizeof(path), ISO_IOMMU_CLASS "/ivhd%d/amd-iommu/cap", i);
		if (read_hex(path, &cap) && (cap & AMD_CAP_NPCACHE)) {
			snprintf(strict_why, sizeof(strict_why),
				 "ivhd%d has NpCache: strict mode due to virtualization", i);
			hw->forces_strict = strict_why;
		}
	}
}

/*
 * The default domain type the kernel must have chosen, as
 * iommu_subsys_init() and the drivers decide it, and why.
 */
static const char *expected_type(char *why, size_t len)
{
	int passthrough = -1, strict = -1, b;
	bool drv_strict = false, sm_on = false, x86 = arch()->x86, lazy;
	bool build_lazy = arch()->lazy;
	char cmdline[4096], *tok, *save = NULL;
	struct hw_facts hw;

	if (iso_read("/proc/cmdline", cmdline, sizeof(cmdline)))
		cmdline[0] = '\0';
	for (tok = strtok_r(cmdline, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (!strncmp(tok, "iommu.passthrough=", 18) && parse_bool(tok + 18, &b)) {
			passthrough = b;
		} else if (!strncmp(tok, "iommu.strict=", 13) && parse_bool(tok + 13, &b)) {
			strict = b;
		} else if (x86 && !strncmp(tok, "iommu=", 6) && has_opt(tok + 6, "pt")) {
			passthrough = 1;
		} else if (x86 && !strncmp(tok, "iommu=", 6) && has_opt(tok + 6, "nopt")) {
			passthrough = 0;
		} else if (!strncmp(tok, "intel_iommu=", 12)) {
			drv_strict |= has_opt(tok + 12, "strict");
			if (has_opt(tok + 12, "sm_on"))
				sm_on = true;
			if (has_opt(tok + 12, "sm_off"))
				sm_on = false;
		} else if (!strncmp(tok, "amd_iommu=", 10)) {
			drv_strict |= has_opt(tok + 10, "fullflush");
		}
	}
	hw_facts(sm_on, &hw);

	if (passthrough == 1 && !hw.no_identity) {
		snprintf(why, len, "iommu.passthrough=1 on the command line");
		return "identity";
	}
	if (passthrough == 1) {
		snprintf(why, len, "iommu.passthrough=1, but %s", hw.no_identity);
		return "DMA";
	}
	lazy = strict >= 0 ? !strict : build_lazy;
	if (strict >= 0)
		snprintf(why, len, "iommu.strict=%d on the command line", strict);
	else
		snprintf(why, len, "build default on %s (%s)", arch()->machine,
			 build_lazy ? "IOMMU_DEFAULT_DMA_LAZY" : "IOMMU_DEFAULT_DMA_STRICT");
	if (lazy && drv_strict) {
		snprintf(why + strlen(why), len - strlen(why),
			 ", but a driver's strict option is given");
		lazy = false;
	}
	if (lazy && hw.forces_strict) {
		snprintf(why + strlen(why), len - strlen(why), ", but %s",
			 hw.forces_strict);
		lazy = false;
	}
	return lazy ? "DMA-FQ" : "DMA";
}

/*
 * Each group's default domain has the expected type. No device of the
 * reference topology asks its driver for a type of its own
 * (def_domain_type: Intel Azalia/integrated GPUs, AMD PASID-capable devices,
 * HiSilicon PTT) and none is untrusted (external-facing), so every group
 * must show the global default.
 */
TEST(default_type)
{
	int ids[ISO_MAX_GROUPS], nr, i;
	const char *want;
	char why[512], type[TYPE_LEN];

	nr = iso_group_list(ids, ISO_MAX_GROUPS);
	ISO_REQUIRE_GROUPS(return, nr);

	want = expected_type(why, sizeof(why));
	TH_LOG("expecting %s: %s", want, why);
	for (i = 0; i < nr; i++) {
		ASSERT_EQ(0, read_type(ids[i], type));
		EXPECT_STREQ(want, type)
			TH_LOG("group %d has type %s, expected %s", ids[i], type, want);
	}
}

/* Does any device of the group have a bound driver? */
static bool group_bound(int group)
{
	static char names[MAX_GROUP_DEVS][ISO_DEVNAME_LEN];
	char path[PATH_MAX];
	int n, i;

	n = iso_group_devices(group, names, MAX_GROUP_DEVS);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), ISO_GROUPS_DIR "/%d/devices/%.200s/driver", group,
			 names[i]);
		if (!access(path, F_OK))
			return true;
	}
	return n <= 0;
}

/*
 * A group without a bound driver: that of edu-rc (edu has no driver unless
 * a test loads edu_dma) when the topology is there, else the first one found.
 */
static int unbound_group(void)
{
	int ids[ISO_MAX_GROUPS], nr, i, g;
	struct iso_topology topo;
	struct iso_dev *d;

	if (!iso_topology_load(&topo)) {
		d = iso_topology_find(&topo, "edu-rc");
		g = d && d->bdf[0] ? iso_probe_group(d->bdf) : -1;
		if (g >= 0 && !group_bound(g))
			return g;
	}
	nr = iso_group_list(ids, ISO_MAX_GROUPS);
	for (i = 0; i < nr; i++)
		if (!group_bound(ids[i]))
			return ids[i];
	return -1;
}

/*
 * The group change_unbound and garbage work on, one without a bound
 * driver, and its type in @orig; -1 when the test is over (skipped).
 */
static int unbound_test_group(struct __test_metadata *_metadata, char *orig)
{
	int ids[ISO_MAX_GROUPS], nr, g;

	nr = iso_group_list(ids, ISO_MAX_GROUPS);
	ISO_REQUIRE_GROUPS(return -1, nr);
	if (geteuid())
		SKIP(return -1, "needs root");
	g = unbound_group();
	if (g < 0)
		SKIP(return -1, "every group has a bound driver");
	ASSERT_EQ(0, read_type(g, orig));
	return g;
}

/*
 * The type of group @g is @want. Not an ASSERT: once a test has changed a
 * type it checks with this and restore_type() puts the type back at its end.
 */
static void expect_type(struct __test_metadata *_metadata, int g, const char *want)
{
	char type[TYPE_LEN] = "";

	EXPECT_EQ(0, read_type(g, type));
	EXPECT_STREQ(want, type);
}

static void restore_type(struct __test_metadata *_metadata, int g, const char *orig)
{
	char type[TYPE_LEN] = "";

	if (!read_type(g, type) && strcmp(type, orig))
		EXPECT_EQ(0, write_type(g, orig))
			TH_LOG("group %d: cannot restore type %s", g, orig);
}

/* No driver bound: the type changes and changes back, also through "auto". */
TEST(change_unbound)
{
	char orig[TYPE_LEN];
	const char *other;
	int g;

	g = unbound_test_group(_metadata, orig);
	if (g < 0)
		return;
	other = strcmp(orig, "identity") ? "identity" : "DMA";
	TH_LOG("group %d: %s -> %s -> auto -> %s", g, orig, other, orig);

	ASSERT_EQ(0, write_type(g, other));
	expect_type(_metadata, g, other);

	/* "auto": back to the type the group was booted with */
	EXPECT_EQ(0, write_type(g, "auto"));
	expect_type(_metadata, g, orig);

	EXPECT_EQ(0, write_type(g, other));
	EXPECT_EQ(0, write_type(g, orig));
	expect_type(_metadata, g, orig);
	restore_type(_metadata, g, orig);
}

/*
 * A group whose device is bound to a DMA-API driver (nic-mf0, bound to
 * e1000e at boot) keeps its domain: iommu_group_store_type() refuses with
 * EPERM while the group has an owner. The one change stock allows with a
 * driver bound, DMA to DMA-FQ (a flush queue is added to the live domain),
 * is not tried.
 */
TEST(change_bound)
{
	static const char * const types[] = { "identity", "DMA", "DMA-FQ" };
	char orig[TYPE_LEN], drv[64];
	int ids[ISO_MAX_GROUPS], nr, g, ret;
	struct iso_topology topo;
	struct iso_dev *d;
	unsigned int i;

	nr = iso_group_list(ids, ISO_MAX_GROUPS);
	ISO_REQUIRE_GROUPS(return, nr);
	if (geteuid())
		SKIP(return, "needs root");
	if (iso_topology_load(&topo))
		SKIP(return, "no reference topology");
	d = iso_topology_find(&topo, "nic-mf0");
	ASSERT_NE(NULL, d) TH_LOG("nic-mf0 is not in the topology");
	ASSERT_NE('\0', d->bdf[0]) TH_LOG("nic-mf0 is absent in the guest");
	ASSERT_EQ(0, iso_dev_driver(d->bdf, drv, sizeof(drv)));
	ASSERT_STREQ("e1000e", drv) TH_LOG("nic-mf0 (%s) is not bound to e1000e", d->bdf);
	g = iso_dev_group(d->bdf);
	ASSERT_LE(0, g);
	ASSERT_EQ(0, read_type(g, orig));

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		if (!strcmp(types[i], orig) ||
		    (!strcmp(orig, "DMA") && !strcmp(types[i], "DMA-FQ")))
			continue;
		ret = write_type(g, types[i]);
		TH_LOG("group %d (e1000e bound): %s -> %s: %s", g, orig, types[i],
		       ret ? strerror(-ret) : "success");
		EXPECT_EQ(-EPERM, ret)
			TH_LOG("group %d (e1000e bound): %s -> %s gave %s", g, orig,
			       types[i], ret ? strerror(-ret) : "success");
		expect_type(_metadata, g, orig);
	}

	/* a malformed value is refused before the owner is looked at */
	EXPECT_EQ(-EINVAL, write_type(g, "bogus"));
	expect_type(_metadata, g, orig);
	restore_type(_metadata, g, orig);
}

/* Anything but a known type is refused with EINVAL and changes nothing. */
TEST(garbage)
{
	static const char * const bad[] = {
		"bogus", "\n", "identityx", " DMA", "dma", "DMA-FQ-",
	};
	char orig[TYPE_LEN];
	unsigned int i;
	int g, ret;

	g = unbound_test_group(_metadata, orig);
	if (g < 0)
		return;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ret = write_type(g, bad[i]);
		EXPECT_EQ(-EINVAL, ret)
			TH_LOG("group %d: writing \"%s\" gave %s", g,
			       bad[i][0] == '\n' ? "\\n" : bad[i],
			       ret ? strerror(-ret) : "success");
		expect_type(_metadata, g, orig);
	}

	/* a zero-length write never reaches the store method: no change */
	ret = write_type(g, "");
	EXPECT_TRUE(ret == 0 || ret == -EINVAL);
	expect_type(_metadata, g, orig);
	restore_type(_metadata, g, orig);
}

TEST_HARNESS_MAIN
