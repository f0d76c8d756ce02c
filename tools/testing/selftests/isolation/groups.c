// SPDX-License-Identifier: GPL-2.0
/*
 * Enumeration of isolation groups as userspace sees them in sysfs:
 *  - every PCI device behind an IOMMU has an iommu_group link;
 *  - the links and /sys/kernel/iommu_groups/N/devices agree both ways, and
 *    no device is in two groups;
 *  - the reference topology is grouped as expected/MACHINE says (format in
 *    expected/README), one test per expected group.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "isolation_util.h"

#define MAX_GROUP_DEVS	256
#define MAX_LINES	ISO_MAX_DEVS
#define REASON_LEN	160
#define PATH_LEN	(PATH_MAX + 64)	/* a realpath() result plus a file name */

/* path is dir itself or lies below it */
static bool path_below(const char *path, const char *dir)
{
	size_t len = strlen(dir);

	return !strncmp(path, dir, len) && (path[len] == '\0' || path[len] == '/');
}

static bool is_host_bridge(const char *bdf)
{
	char path[PATH_MAX], class[16];

	snprintf(path, sizeof(path), ISO_PCI_DEVICES "/%s/class", bdf);
	return !iso_read(path, class, sizeof(class)) && !strncmp(class, "0x0600", 6);
}

/*
 * The IOMMU's own PCI function (amd-iommu, virtio-iommu) is not translated
 * by itself: it is the device, or an ancestor of the device, that an entry
 * of /sys/class/iommu names.
 */
static bool is_iommu_function(const char *bdf)
{
	char path[PATH_MAX], dev[PATH_MAX], iommu[PATH_MAX];
	struct dirent **de;
	bool found = false;
	int n, i;

	snprintf(path, sizeof(path), ISO_PCI_DEVICES "/%s", bdf);
	if (!realpath(path, dev))
		return false;
	n = scandir(ISO_IOMMU_CLASS, &de, iso_no_dots, alphasort);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), ISO_IOMMU_CLASS "/%s/device", de[i]->d_name);
		if (realpath(path, iommu) && path_below(iommu, dev))
			found = true;
		free(de[i]);
	}
	if (n >= 0)
		free(de);
	return found;
}

/*
 * Stock 6.12 applies a VIOT, IORT or device-tree description of the IOMMU
 * to a PCI device only in dma_configure(), when a driver binds; DMAR (VT-d)
 * and IVRS (AMD-Vi) drivers probe every device at boot. So under the former
 * a device without a driver has no group yet. That is known and reported as
 * XFAIL without the isolation core, which groups devices at enumeration.
 */
static bool stock_unprobed(const char *bdf)
{
	char drv[64];

	if (!access("/sys/firmware/acpi/tables/DMAR", F_OK) ||
	    !access("/sys/firmware/acpi/tables/IVRS", F_OK))
		return false;
	return !iso_dev_driver(bdf, drv, sizeof(drv)) && !drv[0];
}

/* One group line of expected/MACHINE with its optional stock line. */
struct exp_line {
	char name[256];			/* test variant: the devices joined by '+' */
	int nr;
	char dev[ISO_MAX_DEVS][ISO_NAME_LEN];
	char reason[REASON_LEN];
	bool stock;			/* a stock line follows */
	int part[ISO_MAX_DEVS];		/* the stock part of each device */
	char stock_reason[REASON_LEN];
};

/* Devices the machine's IOMMU driver refuses (the "refused" line) */
static struct exp_line exp_refused;

/* Whether the expected file says the IOMMU driver refuses this device */
static bool refused_bdf(const char *bdf)
{
	struct iso_topology topo;
	int i;

	if (!exp_refused.nr || iso_topology_load(&topo))
		return false;
	for (i = 0; i < exp_refused.nr; i++) {
		struct iso_dev *d = iso_topology_find(&topo, exp_refused.dev[i]);

		if (d && !strcmp(d->bdf, bdf))
			return true;
	}
	return false;
}

/*
 * Every PCI device has an iommu_group link, except host bridges (which the
 * firmware may leave out of the IOMMU's scope) and the IOMMU's own function.
 */
TEST(device_links)
{
	int ids[ISO_MAX_GROUPS], nr, n, i, missing = 0, unprobed = 0, linked = 0;
	struct dirent **de;

	nr = iso_group_list(ids, ISO_MAX_GROUPS);
	ISO_REQUIRE_GROUPS(return, nr);

	n = scandir(ISO_PCI_DEVICES, &de, iso_no_dots, alphasort);
	ASSERT_LT(0, n) TH_LOG("no PCI devices in " ISO_PCI_DEVICES);
	for (i = 0; i < n; i++) {
		const char *bdf = de[i]->d_name;

		if (iso_dev_group(bdf) >= 0) {
			linked++;
		} else if (is_host_bridge(bdf)) {
			TH_LOG("%s: host bridge, not behind the IOMMU: no group", bdf);
		} else if (is_iommu_function(bdf)) {
			TH_LOG("%s: the IOMMU's own function: no group", bdf);
		} else if (refused_bdf(bdf)) {
			TH_LOG("%s: refused by the IOMMU driver (%s): no group", bdf,
			       exp_refused.reason);
		} else if (stock_unprobed(bdf)) {
			TH_LOG("%s: no driver, no group", bdf);
			unprobed++;
		} else {
			TH_LOG("%s: no iommu_group link", bdf);
			missing++;
		}
		free(de[i]);
	}
	free(de);
	EXPECT_EQ(0, missing);
	EXPECT_LT(0, linked);
	if (unprobed && !missing && linked) {
		if (!iso_have_core())
			ISO_XFAIL(return, "stock: %d devices without a driver have no group",
				  unprobed);
		TH_LOG("isolation core: %d devices without a driver have no group", unprobed);
		EXPECT_EQ(0, unprobed);
	}
}

/*
 * Every entry of N/devices links back to N, no device is listed in two
 * groups, and every PCI device whose link names N is listed in N/devices.
 */
TEST(links_agree)
{
	static char names[MAX_GROUP_DEVS][ISO_DEVNAME_LEN];
	int ids[ISO_MAX_GROUPS], owner[ISO_MAX_GROUPS * 4];
	char *seen[ISO_MAX_GROUPS * 4];
	int nr, nr_seen = 0, g, i, j, n;
	struct dirent **de;

	nr = iso_group_list(ids, ISO_MAX_GROUPS);
	ISO_REQUIRE_GROUPS(return, nr);

	for (g = 0; g < nr; g++) {
		char path[PATH_LEN], dev[PATH_MAX], want[PATH_MAX], got[PATH_MAX];

		n = iso_group_devices(ids[g], names, MAX_GROUP_DEVS);
		EXPECT_LT(0, n) TH_LOG("group %d lists no devices", ids[g]);
		snprintf(path, sizeof(path), ISO_GROUPS_DIR "/%d", ids[g]);
		ASSERT_NE(NULL, realpath(path, want));
		for (i = 0; i < n; i++) {
			snprintf(path, sizeof(path), ISO_GROUPS_DIR "/%d/devices/%.255s", ids[g],
				 names[i]);
			if (!realpath(path, dev)) {
				TH_LOG("group %d: dangling devices/%s", ids[g], names[i]);
				_metadata->exit_code = KSFT_FAIL;
				continue;
			}
			snprintf(path, sizeof(path), "%s/iommu_group", dev);
			if (!realpath(path, got))
				snprintf(got, sizeof(got), "(no link)");
			EXPECT_STREQ(want, got)
				TH_LOG("%s is in group %d but its iommu_group is %s",
				       names[i], ids[g], got);
			for (j = 0; j < nr_seen; j++) {
				EXPECT_STRNE(seen[j], dev)
					TH_LOG("%s is in groups %d and %d",
					       names[i], owner[j], ids[g]);
			}
			ASSERT_GT(ISO_MAX_GROUPS * 4, nr_seen);
			owner[nr_seen] = ids[g];
			seen[nr_seen++] = strdup(dev);
		}
	}

	n = scandir(ISO_PCI_DEVICES, &de, iso_no_dots, alphasort);
	ASSERT_LT(0, n);
	for (i = 0; i < n; i++) {
		char path[PATH_MAX], dev[PATH_MAX], listed[PATH_MAX];
		const char *bdf = de[i]->d_name;

		snprintf(path, sizeof(path), ISO_PCI_DEVICES "/%s", bdf);
		g = iso_dev_group(bdf);
		if (g >= 0 && realpath(path, dev)) {
			snprintf(path, sizeof(path), ISO_GROUPS_DIR "/%d/devices/%s", g, bdf);
			if (!realpath(path, listed))
				snprintf(listed, sizeof(listed), "(not listed)");
			EXPECT_STREQ(dev, listed)
				TH_LOG("%s links to group %d, whose devices/ has %s",
				       bdf, g, listed);
		}
		free(de[i]);
	}
	free(de);
	for (j = 0; j < nr_seen; j++)
		free(seen[j]);
}

static struct exp_line exp_lines[MAX_LINES];
static int exp_nr;
static char exp_path[128];
static char exp_error[512];		/* why the expected file is unusable */

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

static int exp_find(const struct exp_line *l, const char *name)
{
	int i;

	for (i = 0; i < l->nr; i++)
		if (!strcmp(l->dev[i], name))
			return i;
	return -1;
}

static int parse_group(struct exp_line *l, char **save)
{
	char *tok;

	while ((tok = strtok_r(NULL, " \t\n", save))) {
		if (l->nr == ISO_MAX_DEVS || strlen(tok) >= ISO_NAME_LEN)
			return -E2BIG;
		if (exp_find(l, tok) >= 0)
			return -EEXIST;
		snprintf(l->dev[l->nr], ISO_NAME_LEN, "%s", tok);
		if (l->nr)
			strncat(l->name, "+", sizeof(l->name) - strlen(l->name) - 1);
		strncat(l->name, tok, sizeof(l->name) - strlen(l->name) - 1);
		l->nr++;
	}
	return l->nr ? 0 : -EINVAL;
}

static int parse_stock(struct exp_line *l, char **save)
{
	int i, part = 0, done = 0;
	char *tok;

	for (i = 0; i < l->nr; i++)
		l->part[i] = -1;
	while ((tok = strtok_r(NULL, " \t\n", save))) {
		if (!strcmp(tok, "|")) {
			part++;
			continue;
		}
		i = exp_find(l, tok);
		if (i < 0 || l->part[i] >= 0)
			return -EINVAL;
		l->part[i] = part;
		done++;
	}
	return done == l->nr ? 0 : -EINVAL;
}

static int load_expected(void)
{
	struct exp_line *last = NULL;
	int lineno = 0, ret = 0;
	char buf[512];
	FILE *f;

	if (!iso_machine_has_iommu())
		return -ENOENT;
	snprintf(exp_path, sizeof(exp_path), "/harness/expected/%s", iso_machine());
	f = fopen(exp_path, "r");
	if (!f) {
		snprintf(exp_path, sizeof(exp_path), "expected/%s", iso_machine());
		f = fopen(exp_path, "r");
	}
	if (!f) {
		snprintf(exp_error, sizeof(exp_error), "no expected/%s: %s", iso_machine(),
			 strerror(errno));
		return -ENOENT;
	}
	while (!ret && fgets(buf, sizeof(buf), f)) {
		char *hash, *reason = "", *tok, *save = NULL;

		lineno++;
		hash = strchr(buf, '#');
		if (hash) {
			*hash = '\0';
			reason = trim(hash + 1);
		}
		tok = strtok_r(buf, " \t\n", &save);
		if (!tok) {
			last = NULL;
			continue;
		}
		if (!strcmp(tok, "group") && exp_nr < MAX_LINES) {
			last = &exp_lines[exp_nr++];
			snprintf(last->reason, REASON_LEN, "%s", reason);
			ret = parse_group(last, &save);
		} else if (!strcmp(tok, "refused") && !exp_refused.nr) {
			snprintf(exp_refused.reason, REASON_LEN, "%s", reason);
			ret = parse_group(&exp_refused, &save);
			last = NULL;
		} else if (!strcmp(tok, "stock") && last && !last->stock) {
			snprintf(last->stock_reason, REASON_LEN, "%s", reason);
			last->stock = true;
			ret = parse_stock(last, &save);
			last = NULL;
		} else {
			ret = -EINVAL;
		}
	}
	fclose(f);
	if (ret)
		snprintf(exp_error, sizeof(exp_error), "%s:%d: malformed line (see README)",
			 exp_path, lineno);
	return ret;
}

FIXTURE(expected) {
	struct iso_topology topo;
	bool core;
};

FIXTURE_VARIANT(expected) {
	const struct exp_line *line;
};

FIXTURE_SETUP(expected)
{
	if (!variant)
		SKIP(return, "no expected grouping (see expected_file)");
	ASSERT_EQ(0, iso_topology_load(&self->topo));
	self->core = iso_have_core();
}

FIXTURE_TEARDOWN(expected)
{
}

/*
 * The group lines are only known at run time: register one variant of the
 * "expected" fixture per line, after the harness's own constructors have
 * registered the fixture (priority KSELFTEST_PRIO_TEST).
 */
static struct __fixture_variant_metadata exp_meta[MAX_LINES];
static FIXTURE_VARIANT(expected) exp_variant[MAX_LINES];

static void __attribute__((constructor(KSELFTEST_PRIO_TEST + 1))) register_expected(void)
{
	int i;

	if (load_expected())
		return;
	for (i = 0; i < exp_nr; i++) {
		exp_variant[i].line = &exp_lines[i];
		exp_meta[i].name = exp_lines[i].name;
		exp_meta[i].data = &exp_variant[i];
		__register_fixture_variant(&_expected_fixture_object, &exp_meta[i]);
	}
}

/* The expected file exists, parses, and names each topology device once. */
TEST(expected_file)
{
	struct iso_topology topo;
	int i, j, count;

	if (!iso_machine_has_iommu())
		SKIP(return, "machine '%s' has no expected grouping", iso_machine());
	ASSERT_EQ('\0', exp_error[0]) TH_LOG("%s", exp_error);
	ASSERT_EQ(0, iso_topology_load(&topo));
	ASSERT_LT(0, topo.nr);

	for (i = 0; i < topo.nr; i++) {
		count = 0;
		for (j = 0; j < exp_nr; j++)
			count += exp_find(&exp_lines[j], topo.dev[i].name) >= 0;
		EXPECT_EQ(1, count)
			TH_LOG("%s: %s is in %d group lines", exp_path, topo.dev[i].name, count);
	}
	for (i = 0; i < exp_refused.nr; i++) {
		count = 0;
		for (j = 0; j < exp_nr; j++)
			count += exp_find(&exp_lines[j], exp_refused.dev[i]) >= 0;
		EXPECT_EQ(1, count)
			TH_LOG("%s: refused %s is in %d group lines", exp_path,
			       exp_refused.dev[i], count);
	}
	for (j = 0; j < exp_nr; j++) {
		for (i = 0; i < exp_lines[j].nr; i++) {
			const char *name = exp_lines[j].dev[i];

			EXPECT_NE(NULL, iso_topology_find(&topo, name))
				TH_LOG("%s: %s is not in the topology", exp_path, name);
		}
	}
}

/* Actual groups of the line's devices as "name=group ...". */
static void describe(const struct exp_line *l, const int *grp, char *buf, size_t len)
{
	size_t off = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < l->nr && off < len; i++) {
		if (grp[i] < 0)
			off += snprintf(buf + off, len - off, "%s%s=none", i ? " " : "",
					l->dev[i]);
		else
			off += snprintf(buf + off, len - off, "%s%s=%d", i ? " " : "",
					l->dev[i], grp[i]);
	}
}

TEST_F(expected, grouped)
{
	const struct exp_line *l = variant->line;
	int grp[ISO_MAX_DEVS], i, j, first = -1, outsiders = 0, unprobed = 0;
	bool one = true, stock = true;
	char actual[1024];

	for (i = 0; i < l->nr; i++) {
		struct iso_dev *d = iso_topology_find(&self->topo, l->dev[i]);

		ASSERT_NE(NULL, d) TH_LOG("%s is not in the topology", l->dev[i]);
		ASSERT_NE('\0', d->bdf[0]) TH_LOG("%s is absent in the guest", l->dev[i]);
		grp[i] = iso_dev_group(d->bdf);
		if (grp[i] < 0 && exp_find(&exp_refused, l->dev[i]) >= 0) {
			TH_LOG("%s (%s): refused by the IOMMU driver (%s)", l->dev[i],
			       d->bdf, exp_refused.reason);
			continue;
		}
		if (grp[i] < 0 && stock_unprobed(d->bdf)) {
			TH_LOG("%s (%s): no driver, no group", l->dev[i], d->bdf);
			unprobed++;
			continue;
		}
		ASSERT_LE(0, grp[i]) TH_LOG("%s (%s) has no iommu_group", l->dev[i], d->bdf);
		if (first < 0)
			first = i;
	}
	describe(l, grp, actual, sizeof(actual));

	/* no other topology device may share a group with these */
	for (j = 0; j < self->topo.nr; j++) {
		const struct iso_dev *d = &self->topo.dev[j];
		int g;

		if (exp_find(l, d->name) >= 0 || !d->bdf[0])
			continue;
		g = iso_dev_group(d->bdf);
		for (i = 0; g >= 0 && i < l->nr; i++) {
			if (g == grp[i]) {
				TH_LOG("%s (not in this line) shares group %d", d->name, g);
				outsiders++;
				break;
			}
		}
	}

	/* compare the partition of the devices that have a group */
	for (i = 0; i < l->nr; i++) {
		if (grp[i] < 0)
			continue;
		one &= grp[i] == grp[first];
		for (j = 0; l->stock && j < l->nr; j++)
			if (grp[j] >= 0)
				stock &= (l->part[i] == l->part[j]) == (grp[i] == grp[j]);
	}
	stock &= l->stock;

	if (!outsiders && one && !unprobed)
		return;
	if (!outsiders && (one || stock) && !self->core) {
		if (unprobed)
			ISO_XFAIL(return, "stock: %d of %d devices have no driver and no group",
				  unprobed, l->nr);
		ISO_XFAIL(return, "stock grouping: %s", l->stock_reason);
	}
	if (self->core && !outsiders && (stock || unprobed))
		TH_LOG("stock behaviour on a kernel with the isolation core");
	TH_LOG("expected one group (%s)", l->reason);
	TH_LOG("actual: %s", actual);
	EXPECT_TRUE(one);
	EXPECT_EQ(0, outsiders);
	EXPECT_EQ(0, unprobed);
}

TEST_HARNESS_MAIN
