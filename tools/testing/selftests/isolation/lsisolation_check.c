// SPDX-License-Identifier: GPL-2.0
/*
 * Checks tools/isolation/lsisolation against the kernel it runs on:
 *  - its --json output is valid JSON (parsed strictly here);
 *  - its groups, devices, drivers, types and holders are what sysfs says;
 *  - its VFIO verdict follows the bound drivers;
 *  - its explanations of the reference topology: the edu devices behind
 *    the PCIe-to-PCI bridge by the bridge's alias, the multifunction edu
 *    by missing ACS, the switch by its downstream ports without ACS (and,
 *    on a kernel that splits them, a warning);
 *  - bad options, groups and devices give exit status 1;
 *  - --predict: on VT-d, where every group follows from PCI config space,
 *    the kernel's groups are the predicted ones, except where stock 6.12
 *    splits the switch (the rules join it);
 *  - --diff against a snapshot of this boot reports no change, broken
 *    snapshots give exit status 2, and against a snapshot taken in
 *    another boot ($LSISOLATION_SAVED, default /harness/lsisolation-saved.json,
 *    e.g. the stock kernel's from scripts/lsisolation-diff.sh) it reports
 *    exactly the devices whose group companions changed, the switch's with
 *    the switch rule as the reason.
 * The tool is $LSISOLATION, or lsisolation next to this program or in PATH.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "isolation_util.h"

#define OUT_MAX		(4 << 20)
#define MAX_GROUP_DEVS	256

/* A strict JSON parser, enough to check the tool ------------------------- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
	enum jtype type;
	bool b;
	double num;
	char *str;
	int nr;
	struct jval **item;	/* array items or object values */
	char **key;		/* object keys */
};

struct jparser {
	const char *p;
	const char *err;
	int depth;
};

static void jskip(struct jparser *jp)
{
	while (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r')
		jp->p++;
}

static struct jval *jnew(enum jtype type)
{
	struct jval *v = calloc(1, sizeof(*v));

	if (v)
		v->type = type;
	return v;
}

static void jappend(struct jval *v, char *key, struct jval *item)
{
	v->item = realloc(v->item, (v->nr + 1) * sizeof(*v->item));
	v->key = realloc(v->key, (v->nr + 1) * sizeof(*v->key));
	v->item[v->nr] = item;
	v->key[v->nr] = key;
	v->nr++;
}

static char *jstring(struct jparser *jp)
{
	size_t len = 0, cap = 64;
	char *s = malloc(cap);
	unsigned int u;

	if (*jp->p != '"') {
		jp->err = "string expected";
		goto fail;
	}
	jp->p++;
	while (*jp->p != '"') {
		char c = *jp->p++;

		if ((unsigned char)c < 0x20) {
			jp->err = "control character in string";
			goto fail;
		}
		if (c == '\\') {
			c = *jp->p++;
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
				if (sscanf(jp->p, "%4x", &u) != 1 ||
				    strspn(jp->p, "0123456789abcdefABCDEF") < 4) {
					jp->err = "bad \\u escape";
					goto fail;
				}
				jp->p += 4;
				c = u < 0x80 ? (char)u : '?';
				break;
			default:
				jp->err = "bad escape";
				goto fail;
			}
		}
		if (len + 2 > cap)
			s = realloc(s, cap *= 2);
		s[len++] = c;
	}
	jp->p++;
	s[len] = '\0';
	return s;
fail:
	free(s);
	return NULL;
}

static struct jval *jvalue(struct jparser *jp);

static struct jval *jcontainer(struct jparser *jp, bool obj)
{
	struct jval *v = jnew(obj ? J_OBJ : J_ARR), *item;
	char *key = NULL;

	jp->p++;
	jskip(jp);
	if (*jp->p == (obj ? '}' : ']')) {
		jp->p++;
		return v;
	}
	for (;;) {
		jskip(jp);
		if (obj) {
			key = jstring(jp);
			if (!key)
				return NULL;
			jskip(jp);
			if (*jp->p++ != ':') {
				jp->err = "':' expected";
				return NULL;
			}
		}
		item = jvalue(jp);
		if (!item)
			return NULL;
		jappend(v, key, item);
		jskip(jp);
		if (*jp->p == ',') {
			jp->p++;
			continue;
		}
		if (*jp->p == (obj ? '}' : ']')) {
			jp->p++;
			return v;
		}
		jp->err = obj ? "',' or '}' expected" : "',' or ']' expected";
		return NULL;
	}
}

static struct jval *jvalue(struct jparser *jp)
{
	struct jval *v;
	char *end;

	if (++jp->depth > 64) {
		jp->err = "nested too deep";
		return NULL;
	}
	jskip(jp);
	switch (*jp->p) {
	case '{':
	case '[':
		v = jcontainer(jp, *jp->p == '{');
		break;
	case '"':
		v = jnew(J_STR);
		v->str = jstring(jp);
		if (!v->str)
			v = NULL;
		break;
	case 't':
	case 'f':
	case 'n':
		if (!strncmp(jp->p, "true", 4) || !strncmp(jp->p, "null", 4)) {
			v = jnew(*jp->p == 'n' ? J_NULL : J_BOOL);
			v->b = *jp->p == 't';
			jp->p += 4;
		} else if (!strncmp(jp->p, "false", 5)) {
			v = jnew(J_BOOL);
			jp->p += 5;
		} else {
			jp->err = "bad literal";
			v = NULL;
		}
		break;
	default:
		if (*jp->p != '-' && (*jp->p < '0' || *jp->p > '9')) {
			jp->err = "value expected";
			v = NULL;
			break;
		}
		/* JSON has no leading zeros, '+', hex, inf or nan */
		if ((jp->p[0] == '0' && jp->p[1] >= '0' && jp->p[1] <= '9') ||
		    (jp->p[0] == '-' && (jp->p[1] < '0' || jp->p[1] > '9'))) {
			jp->err = "bad number";
			v = NULL;
			break;
		}
		v = jnew(J_NUM);
		v->num = strtod(jp->p, &end);
		if (strspn(jp->p, "0123456789+-.eE") != (size_t)(end - jp->p)) {
			jp->err = "bad number";
			v = NULL;
			break;
		}
		jp->p = end;
		break;
	}
	jp->depth--;
	return v;
}

/* Parse a whole document; NULL with *err set when it is not valid JSON */
static struct jval *jparse(const char *text, const char **err, long *at)
{
	struct jparser jp = { .p = text };
	struct jval *v = jvalue(&jp);

	if (v) {
		jskip(&jp);
		if (*jp.p) {
			jp.err = "trailing text";
			v = NULL;
		}
	}
	*err = jp.err;
	*at = jp.p - text;
	return v;
}

static struct jval *jget(const struct jval *obj, const char *key)
{
	int i;

	if (!obj || obj->type != J_OBJ)
		return NULL;
	for (i = 0; i < obj->nr; i++)
		if (!strcmp(obj->key[i], key))
			return obj->item[i];
	return NULL;
}

/* The string member @key, "" when null, NULL when missing or not a string */
static const char *jstr(const struct jval *obj, const char *key)
{
	struct jval *v = jget(obj, key);

	if (v && v->type == J_NULL)
		return "";
	return v && v->type == J_STR ? v->str : NULL;
}

static bool jlist_has(const struct jval *arr, const char *s)
{
	int i;

	for (i = 0; arr && arr->type == J_ARR && i < arr->nr; i++)
		if (arr->item[i]->type == J_STR && !strcmp(arr->item[i]->str, s))
			return true;
	return false;
}

/* Running the tool -------------------------------------------------------- */

static char tool[PATH_MAX];

static void find_tool(void)
{
	char self[PATH_MAX - 16], *slash;
	ssize_t n;

	if (getenv("LSISOLATION")) {
		snprintf(tool, sizeof(tool), "%s", getenv("LSISOLATION"));
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(tool, sizeof(tool), "%s/lsisolation", self);
			if (!access(tool, X_OK))
				return;
		}
	}
	snprintf(tool, sizeof(tool), "lsisolation");
}

/* Run the tool with @args; its stdout (malloc'ed) and exit status */
static char *run_tool(const char *args, int *status)
{
	char cmd[PATH_MAX + 256];
	size_t len = 0, n;
	char *out = malloc(OUT_MAX);
	FILE *f;
	int st;

	if (!tool[0])
		find_tool();
	snprintf(cmd, sizeof(cmd), "'%s' %s 2>/dev/null", tool, args);
	f = popen(cmd, "r");
	if (!f || !out) {
		*status = -1;
		return out;
	}
	while (len < OUT_MAX - 1 && (n = fread(out + len, 1, OUT_MAX - 1 - len, f)) > 0)
		len += n;
	out[len] = '\0';
	st = pclose(f);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return out;
}

/* The tool's --json output, parsed; fails the test when it is not valid */
static struct jval *tool_json(struct __test_metadata *_metadata, const char *args)
{
	char full[256];
	const char *err;
	struct jval *v;
	int status;
	char *out;
	long at;

	snprintf(full, sizeof(full), "--json %s", args);
	out = run_tool(full, &status);
	if (status == 127 || status < 0) {
		TH_LOG("cannot run %s", tool);
		return NULL;
	}
	/* --predict: 3 says that some group differs from the prediction */
	if (status && !(status == 3 && strstr(args, "--predict"))) {
		TH_LOG("%s %s: exit %d", tool, full, status);
		return NULL;
	}
	v = jparse(out, &err, &at);
	if (!v)
		TH_LOG("%s %s: not valid JSON at byte %ld: %s: \"%.40s\"", tool, full, at,
		       err, out + (at < 0 ? 0 : at));
	free(out);
	return v;
}

#define TOOL_JSON(args) ({ \
	struct jval *_v = tool_json(_metadata, args); \
	ASSERT_NE(NULL, _v); \
	_v; \
})

static struct jval *group_of(struct jval *doc, int id)
{
	struct jval *groups = jget(doc, "groups");
	int i;

	for (i = 0; groups && i < groups->nr; i++) {
		struct jval *g = jget(groups->item[i], "group");

		if (g && g->type == J_NUM && (int)g->num == id)
			return groups->item[i];
	}
	return NULL;
}

/* The reason of @list ("why" or "warnings") of kind @kind naming @dev */
static struct jval *find_reason(struct jval *group, const char *list, const char *kind,
				const char *dev)
{
	struct jval *r = jget(group, list);
	int i;

	for (i = 0; r && r->type == J_ARR && i < r->nr; i++) {
		const char *k = jstr(r->item[i], "kind");

		if (k && !strcmp(k, kind) && jlist_has(jget(r->item[i], "devices"), dev))
			return r->item[i];
	}
	return NULL;
}

/* Drivers that keep a group usable for VFIO (no DMA API) */
static bool no_dma_driver(const char *drv)
{
	return !drv[0] || strstr(drv, "vfio") || !strcmp(drv, "pcieport") ||
	       !strcmp(drv, "pci-stub");
}

/*
 * The BDFs of topology devices @names (NULL-terminated) into @bdf; the
 * first name the machine lacks, or NULL when it has them all.
 */
static const char *topo_bdfs(const char * const *names, const char **bdf)
{
	static struct iso_topology topo;
	struct iso_dev *d;
	int i;

	if (iso_topology_load(&topo))
		return "/harness/topology";
	for (i = 0; names[i]; i++) {
		d = iso_topology_find(&topo, names[i]);
		if (!d || !d->bdf[0])
			return names[i];
		bdf[i] = d->bdf;
	}
	return NULL;
}

/* Tests ------------------------------------------------------------------- */

TEST(json_valid)
{
	struct jval *doc = TOOL_JSON("");
	struct jval *groups = jget(doc, "groups"), *core = jget(doc, "isolation_core");

	ASSERT_NE(NULL, groups);
	ASSERT_TRUE(groups->type == J_ARR);
	ASSERT_NE(NULL, core);
	ASSERT_TRUE(core->type == J_BOOL);
	EXPECT_EQ(iso_have_core(), core->b);
}

/* The same groups, devices, drivers, types and holders as sysfs */
TEST(groups_match_sysfs)
{
	static char names[MAX_GROUP_DEVS][ISO_DEVNAME_LEN];
	int ids[ISO_MAX_GROUPS], nr, g, i, n;
	struct jval *doc, *groups;

	nr = iso_group_list(ids, ISO_MAX_GROUPS);
	ISO_REQUIRE_GROUPS(return, nr);
	doc = TOOL_JSON("");
	groups = jget(doc, "groups");
	ASSERT_NE(NULL, groups);
	EXPECT_EQ(nr, groups->nr);
	for (g = 0; g < nr; g++) {
		struct jval *jg = group_of(doc, ids[g]), *jd;
		char path[PATH_MAX], val[64];
		const char *s;

		EXPECT_NE(NULL, jg) TH_LOG("group %d missing in the tool's output", ids[g]);
		if (!jg)
			continue;
		snprintf(path, sizeof(path), ISO_GROUPS_DIR "/%d/type", ids[g]);
		if (!iso_read(path, val, sizeof(val))) {
			s = jstr(jg, "type");
			EXPECT_STREQ(val, s ? s : "(none)");
		}
		snprintf(path, sizeof(path), ISO_GROUPS_DIR "/%d/holder", ids[g]);
		s = jstr(jg, "holder");
		ASSERT_NE(NULL, s);
		if (!iso_read(path, val, sizeof(val))) {
			EXPECT_STREQ(val, s) TH_LOG("group %d holder", ids[g]);
			EXPECT_STREQ("sysfs", jstr(jg, "holder_source"));
		} else {
			EXPECT_STREQ("inferred", jstr(jg, "holder_source"));
		}
		snprintf(path, sizeof(path), ISO_GROUPS_DIR "/%d/domain", ids[g]);
		/* EXPECT_*() are not single statements: no if/else around them */
		if (iso_read(path, val, sizeof(val)))
			val[0] = '\0';
		EXPECT_STREQ(val, jstr(jg, "domain"));

		n = iso_group_devices(ids[g], names, MAX_GROUP_DEVS);
		jd = jget(jg, "devices");
		ASSERT_NE(NULL, jd);
		EXPECT_EQ(n, jd->nr) TH_LOG("group %d: %d devices in sysfs, %d in the tool",
					    ids[g], n, jd->nr);
		for (i = 0; i < n && i < jd->nr; i++) {
			char drv[64] = "";
			const char *name = jstr(jd->item[i], "name");

			EXPECT_STREQ(names[i], name ? name : "(none)");
			if (iso_dev_driver(names[i], drv, sizeof(drv)))
				continue;	/* not a PCI device */
			s = jstr(jd->item[i], "driver");
			EXPECT_STREQ(drv, s ? s : "(none)") TH_LOG("driver of %s", names[i]);
			EXPECT_EQ(iso_dev_group(names[i]), ids[g]);
		}
	}
}

/* usable exactly when no device has a DMA-API driver; blockers named */
TEST(vfio_verdict)
{
	struct jval *doc = TOOL_JSON(""), *groups = jget(doc, "groups");
	int g, i, checked = 0;

	ASSERT_NE(NULL, groups);
	for (g = 0; g < groups->nr; g++) {
		struct jval *jg = groups->item[g], *devices = jget(jg, "devices");
		struct jval *vfio = jget(jg, "vfio"), *usable = jget(vfio, "usable");
		struct jval *blockers = jget(vfio, "blockers");
		int nr_block = 0;

		ASSERT_NE(NULL, devices);
		ASSERT_NE(NULL, usable);
		ASSERT_NE(NULL, blockers);
		for (i = 0; i < devices->nr; i++) {
			const char *name = jstr(devices->item[i], "name");
			char drv[64], want[160];
			int k, found = 0;

			if (!name || iso_dev_driver(name, drv, sizeof(drv)) || no_dma_driver(drv))
				continue;
			nr_block++;
			snprintf(want, sizeof(want), "%s is bound to %s", name, drv);
			for (k = 0; k < blockers->nr; k++)
				if (!strcmp(jstr(blockers->item[k], "text") ?: "", want))
					found = 1;
			EXPECT_TRUE(found) TH_LOG("no blocker \"%s\"", want);
		}
		EXPECT_EQ(!nr_block, usable->b);
		EXPECT_EQ(nr_block, blockers->nr);
		checked++;
	}
	EXPECT_LT(0, checked);
}

/* The devices behind the PCIe-to-PCI bridge: by the bridge's alias */
TEST(why_alias)
{
	static const char * const names[] = { "ppb", "edu-pb1", "edu-pb2", NULL };
	const char *bdf[3], *missing;
	const char *ppb, *pb1, *pb2;
	struct jval *doc, *jg, *r;

	missing = topo_bdfs(names, bdf);
	if (missing)
		SKIP(return, "no %s on this machine", missing);
	ppb = bdf[0];
	pb1 = bdf[1];
	pb2 = bdf[2];
	/*
	 * Some IOMMU drivers refuse a second device on the bridge's ID
	 * (SMMUv3) or every device behind it (virtio-iommu): see the
	 * "refused" lines of expected/. Explain the ones that have a group.
	 */
	if (iso_dev_group(pb1) < 0) {
		pb1 = pb2;
		pb2 = NULL;
	} else if (iso_dev_group(pb2) < 0) {
		pb2 = NULL;
	}
	if (iso_dev_group(pb1) < 0)
		SKIP(return, "no device behind %s has a group here", ppb);
	doc = TOOL_JSON("");
	jg = group_of(doc, iso_dev_group(pb1));
	ASSERT_NE(NULL, jg) TH_LOG("%s has no group in the tool's output", pb1);
	r = find_reason(jg, "why", "alias", pb1);
	ASSERT_NE(NULL, r) TH_LOG("no alias reason for %s", pb1);
	EXPECT_STREQ(ppb, jstr(r, "via"));
	if (pb2)
		EXPECT_TRUE(jlist_has(jget(r, "devices"), pb2));
	EXPECT_NE(NULL, strstr(jstr(r, "text") ?: "", "PCIe-to-PCI bridge"));
}

/* The conventional multifunction edu: functions without ACS */
TEST(why_multifunction)
{
	static const char * const names[] = { "edu-mf0", "edu-mf1", NULL };
	const char *bdf[2], *missing;
	const char *mf0, *mf1;
	struct jval *doc, *jg, *r;

	missing = topo_bdfs(names, bdf);
	if (missing)
		SKIP(return, "no %s on this machine", missing);
	mf0 = bdf[0];
	mf1 = bdf[1];
	if (iso_dev_group(mf0) < 0 || iso_dev_group(mf0) != iso_dev_group(mf1))
		SKIP(return, "%s and %s do not share a group here", mf0, mf1);
	doc = TOOL_JSON("");
	jg = group_of(doc, iso_dev_group(mf0));
	ASSERT_NE(NULL, jg);
	r = find_reason(jg, "why", "multifunction", mf0);
	ASSERT_NE(NULL, r) TH_LOG("no multifunction reason for %s", mf0);
	EXPECT_TRUE(jlist_has(jget(r, "devices"), mf1));
}

/*
 * The switch: with the core, one group explained by the downstream ports'
 * missing ACS; on a kernel that splits them, a warning that names them.
 */
TEST(why_switch)
{
	static const char * const names[] = {
		"dsw1", "dsw2", "dsw3", "edu-sw1", "edu-sw2", NULL
	};
	const char *dsw1, *dsw2, *dsw3, *sw1, *sw2, *bdf[5], *missing;
	struct jval *doc, *jg, *r;

	missing = topo_bdfs(names, bdf);
	if (missing)
		SKIP(return, "no %s on this machine", missing);
	dsw1 = bdf[0];
	dsw2 = bdf[1];
	dsw3 = bdf[2];
	sw1 = bdf[3];
	sw2 = bdf[4];
	if (iso_dev_group(sw1) < 0)
		SKIP(return, "%s has no group", sw1);
	doc = TOOL_JSON("");
	jg = group_of(doc, iso_dev_group(sw1));
	ASSERT_NE(NULL, jg);
	r = find_reason(jg, "why", "upstream-no-acs", sw1);
	ASSERT_NE(NULL, r) TH_LOG("no upstream-no-acs reason for %s", sw1);
	EXPECT_STREQ(dsw1, jstr(r, "via"));
	if (iso_dev_group(sw1) == iso_dev_group(sw2)) {
		r = find_reason(jg, "why", "switch-peers", dsw1);
		ASSERT_NE(NULL, r) TH_LOG("no switch-peers reason for %s", dsw1);
		EXPECT_TRUE(jlist_has(jget(r, "devices"), dsw2));
		EXPECT_TRUE(jlist_has(jget(r, "devices"), dsw3));
		EXPECT_NE(NULL, strstr(jstr(r, "text") ?: "", "lack"));
	} else {
		/* stock: split, and the tool must say so */
		r = find_reason(jg, "warnings", "split", dsw1);
		ASSERT_NE(NULL, r) TH_LOG("no split warning for %s in group %d", dsw1,
					  iso_dev_group(sw1));
		EXPECT_TRUE(jlist_has(jget(r, "devices"), dsw2));
		TH_LOG("warning: %s", jstr(r, "text"));
	}
}

/*
 * On VT-d every group of the reference topology follows from PCI config
 * space (expected/vtd); other IOMMU drivers may group by their own rules.
 */
TEST(all_explained)
{
	struct jval *doc = TOOL_JSON(""), *groups = jget(doc, "groups");
	int g, unexplained = 0;

	ASSERT_NE(NULL, groups);
	for (g = 0; g < groups->nr; g++) {
		struct jval *why = jget(groups->item[g], "why");
		int i;

		for (i = 0; why && i < why->nr; i++) {
			const char *k = jstr(why->item[i], "kind");

			if (k && !strcmp(k, "unexplained")) {
				TH_LOG("%s", jstr(why->item[i], "text"));
				unexplained++;
			}
		}
	}
	if (strcmp(iso_machine(), "vtd"))
		SKIP(return, "%d unexplained groups on %s (only vtd follows PCI rules alone)",
		     unexplained, iso_machine());
	EXPECT_EQ(0, unexplained);
}

/* -d and -g select one group; bad input gives exit status 1 */
TEST(selection_and_errors)
{
	static const char * const bad[] = {
		"-g 999999", "-g x", "-d 0000:ff:1f.7", "--no-such-option",
		"-g 1 -d 00:00.0", "extra-argument",
	};
	static const char * const names[] = { "edu-rp1", NULL };
	const char *bdf, *missing;
	struct jval *doc, *groups, *id;
	char args[128];
	int status, i, group;
	char *out;

	missing = topo_bdfs(names, &bdf);
	if (missing)
		SKIP(return, "no %s on this machine", missing);
	group = iso_dev_group(bdf);
	if (group < 0)
		SKIP(return, "%s has no group", bdf);
	snprintf(args, sizeof(args), "-d %s", bdf + 5);	/* without the domain */
	doc = TOOL_JSON(args);
	groups = jget(doc, "groups");
	ASSERT_NE(NULL, groups);
	ASSERT_EQ(1, groups->nr);
	id = jget(groups->item[0], "group");
	ASSERT_NE(NULL, id);
	EXPECT_EQ(group, (int)id->num);
	snprintf(args, sizeof(args), "-g %d", group);
	doc = TOOL_JSON(args);
	EXPECT_EQ(1, jget(doc, "groups")->nr);

	for (i = 0; i < (int)ARRAY_SIZE(bad); i++) {
		free(run_tool(bad[i], &status));
		EXPECT_EQ(1, status) TH_LOG("lsisolation %s: exit %d", bad[i], status);
	}
	out = run_tool("--help", &status);
	EXPECT_EQ(0, status);
	EXPECT_NE(NULL, strstr(out, "SYNOPSIS"));
	EXPECT_NE(NULL, strstr(out, "EXIT STATUS"));
	free(out);
	snprintf(args, sizeof(args), "-g %d", group);
	out = run_tool(args, &status);
	EXPECT_EQ(0, status);
	snprintf(args, sizeof(args), "Group %d:", group);
	EXPECT_NE(NULL, strstr(out, args)) TH_LOG("text output: %.200s", out);
	free(out);
}

/* The names of the devices sharing a group with @name in @doc; their number */
static int json_companions(struct jval *doc, const char *name, const char **out, int max)
{
	struct jval *groups = jget(doc, "groups");
	int g, i, n = 0;

	for (g = 0; groups && g < groups->nr; g++) {
		struct jval *devices = jget(groups->item[g], "devices");
		bool here = false;

		for (i = 0; devices && i < devices->nr; i++)
			here |= !strcmp(jstr(devices->item[i], "name") ?: "", name);
		if (!here)
			continue;
		for (i = 0; i < devices->nr && n < max; i++) {
			const char *d = jstr(devices->item[i], "name");

			if (d && strcmp(d, name))
				out[n++] = d;
		}
		return n;
	}
	return -1;	/* no group */
}

static bool same_set(const char **a, int na, const char **b, int nb)
{
	int i, k;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++) {
		for (k = 0; k < nb && strcmp(a[i], b[k]); k++)
			;
		if (k == nb)
			return false;
	}
	return true;
}

/* The line of @out starting with @lead and naming @name, or NULL */
static const char *line_with(const char *out, const char *lead, const char *name)
{
	const char *p;

	for (p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		const char *end = strchrnul(p, '\n');
		const char *hit = strstr(p, name);

		if (!strncmp(p, lead, strlen(lead)) && hit && hit < end)
			return p;
	}
	return NULL;
}

/* The "moved:" block of @name in @out (up to the next non-indented line) */
static char *moved_block(const char *out, const char *name)
{
	char lead[128];
	const char *p, *end;

	snprintf(lead, sizeof(lead), "moved: %s ", name);
	p = strstr(out, lead);
	if (!p)
		return NULL;
	for (end = strchr(p, '\n'); end && end[1] == ' '; end = strchr(end + 1, '\n'))
		;
	return strndup(p, end ? (size_t)(end - p) : strlen(p));
}

/* On VT-d the kernel's groups are the ones the rules predict */
TEST(predict_agrees)
{
	struct jval *doc = TOOL_JSON("--predict"), *pg = jget(doc, "predicted_groups");
	static const char * const names[] = { "edu-sw1", "edu-sw2", NULL };
	const char *bdf[2], *missing;
	int i, differ = 0;

	ASSERT_NE(NULL, pg);
	ASSERT_LT(0, pg->nr);
	for (i = 0; i < pg->nr; i++) {
		struct jval *agrees = jget(pg->item[i], "agrees");

		ASSERT_NE(NULL, agrees);
		if (!agrees->b) {
			struct jval *d = jget(pg->item[i], "devices");

			TH_LOG("predicted group %d (%s, ...) differs from the kernel's", i + 1,
			       d && d->nr ? d->item[0]->str : "?");
			differ++;
		}
	}
	if (strcmp(iso_machine(), "vtd"))
		SKIP(return, "%d predicted groups differ on %s (only vtd follows PCI rules alone)",
		     differ, iso_machine());
	missing = topo_bdfs(names, bdf);
	if (!missing && iso_dev_group(bdf[0]) >= 0 &&
	    iso_dev_group(bdf[0]) != iso_dev_group(bdf[1])) {
		/* a kernel that splits the switch: the one group that differs */
		EXPECT_EQ(1, differ);
		return;
	}
	EXPECT_EQ(0, differ);
}

/* A snapshot of this boot: no change; broken snapshots: exit status 2 */
TEST(diff_self_and_errors)
{
	static const char * const bad[] = {
		"", "{", "{\"groups\": [}", "[]", "{\"groups\": 1}",
		"{\"groups\": [{\"group\": \"x\", \"devices\": []}]}",
		"{\"groups\": [{\"group\": 1, \"devices\": [{\"name\": 1}]}]}",
		"{\"groups\": []} trailing", "{\"groups\": [], \"x\": tru}",
	};
	char path[] = "/tmp/lsisolation_check.XXXXXX", args[128];
	int fd, status, i;
	char *out;
	FILE *f;

	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	close(fd);
	snprintf(args, sizeof(args), "--json > %s", path);
	free(run_tool(args, &status));
	ASSERT_EQ(0, status);
	snprintf(args, sizeof(args), "--diff %s", path);
	out = run_tool(args, &status);
	EXPECT_EQ(0, status) TH_LOG("--diff of this boot's own snapshot: %.400s", out);
	EXPECT_NE(NULL, strstr(out, "no change"));
	free(out);
	for (i = 0; i < (int)ARRAY_SIZE(bad); i++) {
		f = fopen(path, "w");
		ASSERT_NE(NULL, f);
		fputs(bad[i], f);
		fclose(f);
		out = run_tool(args, &status);
		EXPECT_EQ(2, status) TH_LOG("--diff of '%s': exit %d", bad[i], status);
		EXPECT_EQ(NULL, strstr(out, "moved:"));
		free(out);
	}
	unlink(path);
	free(run_tool("--diff /nonexistent/saved.json", &status));
	EXPECT_EQ(2, status);
	free(run_tool("--diff", &status));
	EXPECT_EQ(1, status);
}

/*
 * Against a snapshot of another boot (another kernel): exactly the devices
 * whose companions changed are reported moved; the switch's devices, if
 * they moved, with the switch rule.
 */
TEST(diff_saved_snapshot)
{
	static const char * const names[] = { "edu-sw1", "edu-sw2", NULL };
	const char *saved = getenv("LSISOLATION_SAVED") ?: "/harness/lsisolation-saved.json";
	const char *then[MAX_GROUP_DEVS], *now[MAX_GROUP_DEVS], *bdf[2], *missing;
	struct jval *old, *cur, *groups;
	int status, g, i, nt, nn, moved = 0, reported = 0;
	const char *err, *p, *hit;
	char args[PATH_MAX + 16], *text, *out, *blk;
	long at;

	if (access(saved, R_OK))
		SKIP(return, "no snapshot %s (scripts/lsisolation-diff.sh makes one)", saved);
	snprintf(args, sizeof(args), "--diff %s", saved);
	out = run_tool(args, &status);
	ASSERT_TRUE(status == 0 || status == 3) TH_LOG("--diff %s: exit %d", saved, status);
	text = NULL;
	{
		FILE *f = fopen(saved, "r");
		size_t n;

		ASSERT_NE(NULL, f);
		text = calloc(1, OUT_MAX);
		ASSERT_NE(NULL, text);
		n = fread(text, 1, OUT_MAX - 1, f);
		text[n] = '\0';
		fclose(f);
	}
	old = jparse(text, &err, &at);
	ASSERT_NE(NULL, old) TH_LOG("%s: %s at %ld", saved, err, at);
	cur = TOOL_JSON("");
	TH_LOG("snapshot of kernel %s, now %s", jstr(old, "kernel") ?: "?",
	       jstr(cur, "kernel") ?: "?");
	/* every device of the snapshot still here: moved iff companions differ */
	groups = jget(old, "groups");
	for (g = 0; groups && g < groups->nr; g++) {
		struct jval *devices = jget(groups->item[g], "devices");

		for (i = 0; devices && i < devices->nr; i++) {
			const char *name = jstr(devices->item[i], "name");
			char lead[128];

			nt = json_companions(old, name, then, MAX_GROUP_DEVS);
			nn = json_companions(cur, name, now, MAX_GROUP_DEVS);
			if (nn < 0)
				continue;	/* gone or without a group now */
			snprintf(lead, sizeof(lead), "moved: %s ", name);
			hit = strstr(out, lead);
			if (same_set(then, nt, now, nn)) {
				EXPECT_EQ(NULL, hit) TH_LOG("%s reported moved", name);
			} else {
				moved++;
				EXPECT_NE(NULL, hit) TH_LOG("%s moved, not reported", name);
			}
		}
	}
	for (p = out; (p = strstr(p, "\nmoved: ")); p++)
		reported++;
	reported += !strncmp(out, "moved: ", 7);
	EXPECT_EQ(moved, reported);
	EXPECT_EQ(moved ? 3 : 0, status);

	missing = topo_bdfs(names, bdf);
	if (missing)
		SKIP(return, "no %s on this machine", missing);
	nt = json_companions(old, bdf[0], then, MAX_GROUP_DEVS);
	nn = json_companions(cur, bdf[0], now, MAX_GROUP_DEVS);
	blk = moved_block(out, bdf[0]);
	if (same_set(then, nt, now, nn)) {
		TH_LOG("edu-sw1 (%s) did not move", bdf[0]);
	} else if (iso_dev_group(bdf[0]) == iso_dev_group(bdf[1])) {
		/* joined by this kernel: the switch rule is the reason */
		ASSERT_NE(NULL, blk);
		p = line_with(blk, "  shares with ", bdf[1]);
		ASSERT_NE(NULL, p) TH_LOG("no \"shares with %s\" in: %s", bdf[1], blk);
		EXPECT_NE(NULL, strstr(p, "switch downstream ports")) TH_LOG("%.300s", p);
		EXPECT_NE(NULL, strstr(p, "lack")) TH_LOG("%.300s", p);
		TH_LOG("%.*s", (int)(strchrnul(p, '\n') - p), p);
	} else {
		/* split by this kernel: the rule that joined them then, and a warning */
		ASSERT_NE(NULL, blk);
		p = line_with(blk, "  no longer shares with ", bdf[1]);
		ASSERT_NE(NULL, p) TH_LOG("no \"no longer shares with %s\" in: %s", bdf[1], blk);
		EXPECT_NE(NULL, strstr(p, "before: switch downstream ports")) TH_LOG("%.300s", p);
		EXPECT_NE(NULL, strstr(p, "config space says they are not isolated"));
		TH_LOG("%.*s", (int)(strchrnul(p, '\n') - p), p);
	}
	free(blk);
	free(out);
	free(text);
}

TEST_HARNESS_MAIN
