// SPDX-License-Identifier: GPL-2.0
/*
 * pcisim: software-defined PCI topologies for the grouping tests.
 *
 * A host bridge of our own (a PCI domain of its own, like vmd) whose
 * config space is an in-memory model (pcisim_cfg.c), scanned by the
 * normal PCI core, with a mock IOMMU behind it (pcisim_iommu.c). The
 * topology is written line by line into debugfs (README); this file
 * parses it and drives the PCI core: scans, hot-add, hot-remove, SR-IOV.
 *
 * Locking: psim_mutex serializes the commands and the readers of the
 * model tree; the host's raw spinlock protects what config accesses see
 * (they come under pci_lock, from any context). Scans and removals run
 * under pci_lock_rescan_remove(), as the PCI core's own sysfs files do.
 */
#define pr_fmt(fmt) "pcisim: " fmt

#include <linux/acpi.h>
#include <linux/debugfs.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/platform_device.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "pcisim.h"

#define PSIM_LINE_MAX		1024
#define PSIM_MAX_TOKENS		32
#define PSIM_DOMAIN_BASE	0x10000

static DEFINE_MUTEX(psim_mutex);
static struct platform_device *psim_pdev;
static struct psim_host *psim_host;
static struct dentry *psim_dir;

/* What the last scan, rescan or sriov command cost (debugfs "stats") */
static struct {
	char cmd[8];
	char name[PSIM_NAME_LEN];
	s64 ns;
	int added;
} psim_stats;

static const char * const psim_type_names[PSIM_NR_TYPES] = {
	[PSIM_RP] = "rp",
	[PSIM_USP] = "usp",
	[PSIM_DSP] = "dsp",
	[PSIM_PCIE_PCI] = "pcie-pci",
	[PSIM_PCI_PCIE] = "pci-pcie",
	[PSIM_PCI_PCI] = "pci-pci",
	[PSIM_EP] = "ep",
	[PSIM_LEGACY] = "legacy",
	[PSIM_RCIEP] = "rciep",
	[PSIM_PCI] = "pci",
};

bool psim_dev_is_ours(struct device *dev)
{
	struct pci_host_bridge *host;

	if (!dev_is_pci(dev) || !psim_pdev)
		return false;
	host = pci_find_host_bridge(to_pci_dev(dev)->bus);
	return host && host->dev.parent == &psim_pdev->dev;
}

/* ---- parsing ------------------------------------------------------ */

static bool psim_valid_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > PSIM_NAME_MAX)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* ACS bits: names (sv,tb,rr,cr,uf,ec,dt,ecap) or a hex register value */
static int psim_parse_acs(const char *val, u16 *bits)
{
	static const struct {
		const char *name;
		u16 bit;
	} names[] = {
		{ "sv", PCI_ACS_SV }, { "tb", PCI_ACS_TB }, { "rr", PCI_ACS_RR },
		{ "cr", PCI_ACS_CR }, { "uf", PCI_ACS_UF }, { "ec", PCI_ACS_EC },
		{ "dt", PCI_ACS_DT }, { "ecap", 0x0080 },
	};
	char buf[64], *p = buf, *tok;
	u16 acc = 0;
	int i;

	if (strscpy(buf, val, sizeof(buf)) < 0)
		return -EINVAL;
	/* Names first: "ec" is a name, write 0xec for the number */
	while ((tok = strsep(&p, ",")) != NULL) {
		for (i = 0; i < ARRAY_SIZE(names); i++)
			if (!strcmp(tok, names[i].name))
				break;
		if (i == ARRAY_SIZE(names))
			return kstrtou16(val, 16, bits);
		acc |= names[i].bit;
	}
	*bits = acc;
	return 0;
}

static int psim_parse_sriov(struct psim_spec *s, char *val)
{
	char *tok, *v;
	u16 n;
	int ret;

	tok = strsep(&val, ",");
	ret = kstrtou16(tok, 0, &s->sriov_total);
	if (ret || !s->sriov_total || s->sriov_total > PSIM_MAX_VFS)
		return -EINVAL;
	s->sriov_offset = 1;
	s->sriov_stride = 1;
	s->sriov_vfdid = s->device;
	while ((tok = strsep(&val, ",")) != NULL) {
		v = strchr(tok, '=');
		if (!v)
			return -EINVAL;
		*v++ = '\0';
		if (!strcmp(tok, "vfdid"))
			ret = kstrtou16(v, 16, &n);
		else
			ret = kstrtou16(v, 0, &n);
		if (ret)
			return ret;
		if (!strcmp(tok, "offset"))
			s->sriov_offset = n;
		else if (!strcmp(tok, "stride"))
			s->sriov_stride = n;
		else if (!strcmp(tok, "vfdid"))
			s->sriov_vfdid = n;
		else
			return -EINVAL;
	}
	if (!s->sriov_offset || (s->sriov_total > 1 && !s->sriov_stride))
		return -EINVAL;
	return 0;
}

static int psim_parse_mem(struct psim_spec *s, char *val)
{
	char *limit = strchr(val, '-');
	int ret;

	if (!limit)
		return -EINVAL;
	*limit++ = '\0';
	ret = kstrtou32(val, 16, &s->mem_base);
	if (!ret)
		ret = kstrtou32(limit, 16, &s->mem_limit);
	/* 1 MiB granules: base aligned, limit the last byte of a granule */
	if (ret || s->mem_base & 0xfffff || (s->mem_limit & 0xfffff) != 0xfffff ||
	    s->mem_base > s->mem_limit)
		return -EINVAL;
	s->has_mem = true;
	return 0;
}

static int psim_parse_loc(struct psim_spec *s, const char *loc)
{
	unsigned int dev, fn;
	char c;

	if (strchr(loc, '.')) {
		if (sscanf(loc, "%x.%x%c", &dev, &fn, &c) != 2 || dev > 0x1f ||
		    fn > 7)
			return -EINVAL;
		s->devfn = PCI_DEVFN(dev, fn);
		return 0;
	}
	if (strlen(loc) > 2 || sscanf(loc, "%x%c", &fn, &c) != 1)
		return -EINVAL;
	s->devfn = fn;
	s->ari_fn = true;
	return 0;
}

static bool psim_type_is(const struct psim_spec *s, u32 mask)
{
	return mask & BIT(s->type);
}

#define PSIM_BRIDGES	(BIT(PSIM_RP) | BIT(PSIM_USP) | BIT(PSIM_DSP) | \
			 BIT(PSIM_PCIE_PCI) | BIT(PSIM_PCI_PCIE) | \
			 BIT(PSIM_PCI_PCI))
#define PSIM_DSPORTS	(BIT(PSIM_RP) | BIT(PSIM_DSP) | BIT(PSIM_PCI_PCIE))
#define PSIM_CONV	(BIT(PSIM_PCI_PCI) | BIT(PSIM_PCI))
#define PSIM_PCIX_OK	(BIT(PSIM_PCI_PCI) | BIT(PSIM_PCIE_PCI) | \
			 BIT(PSIM_PCI_PCIE) | BIT(PSIM_PCI))

/* One option of a "fn" line; the caller says which one failed */
static int psim_parse_opt(struct psim_spec *s, char *opt, u16 *acsenh,
			  bool *has_acsctl)
{
	char *val = strchr(opt, '=');
	u32 n;
	int ret;

	if (val)
		*val++ = '\0';
	if (!val) {
		if (!strcmp(opt, "mf"))
			s->mf = true;
		else if (!strcmp(opt, "ari"))
			s->ari = true;
		else if (!strcmp(opt, "pcix"))
			s->pcix = psim_type_is(s, PSIM_PCIX_OK);
		else if (!strcmp(opt, "slot"))
			s->slot = psim_type_is(s, PSIM_DSPORTS);
		else
			return -EINVAL;
		/* pcix and slot only where the hardware has them */
		if (!strcmp(opt, "pcix") && !s->pcix)
			return -EINVAL;
		if (!strcmp(opt, "slot") && !s->slot)
			return -EINVAL;
		return 0;
	}

	if (!strcmp(opt, "acs")) {
		s->has_acs = true;
		return psim_parse_acs(val, &s->acs_cap);
	}
	if (!strcmp(opt, "acsctl")) {
		*has_acsctl = true;
		return psim_parse_acs(val, &s->acs_ctl);
	}
	if (!strcmp(opt, "acsenh"))
		return kstrtou16(val, 16, acsenh);
	if (!strcmp(opt, "sriov"))
		return psim_parse_sriov(s, val);
	if (!strcmp(opt, "bar")) {
		ret = kstrtou32(val, 16, &s->bar_size);
		if (ret || s->bar_size < 16 || s->bar_size > SZ_2G ||
		    !is_power_of_2(s->bar_size))
			return -EINVAL;
		return 0;
	}
	if (!strcmp(opt, "mem"))
		return psim_parse_mem(s, val);
	if (!strcmp(opt, "link")) {
		if (strcmp(val, "down") && strcmp(val, "up"))
			return -EINVAL;
		s->link_down = !strcmp(val, "down");
		return 0;
	}
	if (!strcmp(opt, "buses")) {
		ret = kstrtou32(val, 0, &n);
		if (ret || !n || n > 256)
			return -EINVAL;
		s->buses = n;
		return 0;
	}
	if (!strcmp(opt, "class")) {
		ret = kstrtou32(val, 16, &n);
		if (ret || n > 0xffffff)
			return -EINVAL;
		s->class = n;
		return 0;
	}
	return -EINVAL;
}

/* Options that make no sense for the type: refused, so data files stay honest */
static const char *psim_check_spec(const struct psim_spec *s, u16 acsenh,
				   bool has_acsctl)
{
	bool bridge = psim_type_is(s, PSIM_BRIDGES);

	if ((s->has_acs || has_acsctl || acsenh) && psim_type_is(s, PSIM_CONV))
		return "acs on a conventional PCI function";
	if (has_acsctl && !s->has_acs)
		return "acsctl without acs";
	if (s->acs_ctl & ~s->acs_cap & 0x7f)
		return "acsctl bits the capability lacks";
	if (acsenh && !(s->acs_cap & 0x80))
		return "acsenh without ecap in acs";
	if (acsenh & ~0x1f80)
		return "acsenh outside bits 7..12";
	if (s->ari && psim_type_is(s, PSIM_CONV))
		return "ari on a conventional PCI function";
	if (s->sriov_total && (bridge || psim_type_is(s, PSIM_CONV)))
		return "sriov on a bridge or a conventional PCI function";
	if (s->bar_size && bridge)
		return "bar on a bridge";
	if ((s->has_mem || s->buses) && !bridge)
		return "mem or buses on a function that is no bridge";
	if (s->link_down && !psim_type_is(s, PSIM_DSPORTS))
		return "link=down on a function that is no downstream port";
	return NULL;
}

static int psim_parse_line(char *line, struct psim_spec *s)
{
	char *tok[PSIM_MAX_TOKENS], *p = line, *t;
	unsigned int vendor, device;
	bool has_acsctl = false;
	u16 acsenh = 0;
	const char *why;
	int n = 0, i, ret;
	char c;

	memset(s, 0, sizeof(*s));
	while ((t = strsep(&p, " \t")) != NULL) {
		if (!*t)
			continue;
		if (n == PSIM_MAX_TOKENS) {
			pr_err("fn: too many options\n");
			return -EINVAL;
		}
		tok[n++] = t;
	}
	if (n < 5) {
		pr_err("fn: want NAME PARENT DD.F TYPE VVVV:DDDD [option ...]\n");
		return -EINVAL;
	}
	if (!psim_valid_name(tok[0]) || !strcmp(tok[0], "root")) {
		pr_err("fn: bad name '%s' ([a-z0-9_-]+, not \"root\")\n", tok[0]);
		return -EINVAL;
	}
	strscpy(s->name, tok[0], sizeof(s->name));
	if (strcmp(tok[1], "root")) {
		if (!psim_valid_name(tok[1])) {
			pr_err("fn %s: bad parent '%s'\n", s->name, tok[1]);
			return -EINVAL;
		}
		strscpy(s->parent, tok[1], sizeof(s->parent));
	}
	if (psim_parse_loc(s, tok[2])) {
		pr_err("fn %s: bad location '%s' (DD.F or, under ARI, FF)\n",
		       s->name, tok[2]);
		return -EINVAL;
	}
	for (i = 0; i < PSIM_NR_TYPES; i++)
		if (!strcmp(tok[3], psim_type_names[i]))
			break;
	if (i == PSIM_NR_TYPES) {
		pr_err("fn %s: unknown type '%s'\n", s->name, tok[3]);
		return -EINVAL;
	}
	s->type = i;
	if (sscanf(tok[4], "%x:%x%c", &vendor, &device, &c) != 2 ||
	    vendor > 0xffff || device > 0xffff || vendor == 0xffff ||
	    strlen(tok[4]) != 9) {
		pr_err("fn %s: bad ID '%s' (VVVV:DDDD)\n", s->name, tok[4]);
		return -EINVAL;
	}
	s->vendor = vendor;
	s->device = device;
	s->class = psim_type_is(s, PSIM_BRIDGES) ? PCI_CLASS_BRIDGE_PCI << 8 :
		   0xff0000;

	for (i = 5; i < n; i++) {
		char opt[128];

		strscpy(opt, tok[i], sizeof(opt));
		ret = psim_parse_opt(s, tok[i], &acsenh, &has_acsctl);
		if (ret) {
			pr_err("fn %s: bad option '%s' for type %s\n", s->name,
			       opt, psim_type_names[s->type]);
			return -EINVAL;
		}
	}
	why = psim_check_spec(s, acsenh, has_acsctl);
	if (why) {
		pr_err("fn %s: %s\n", s->name, why);
		return -EINVAL;
	}
	s->acs_ctl |= acsenh;
	return 0;
}

/* ---- the model tree ----------------------------------------------- */

static struct psim_fn *psim_find_in(struct list_head *list, const char *name)
{
	struct psim_fn *f, *found;

	list_for_each_entry(f, list, sibling) {
		if (!strcmp(f->spec.name, name))
			return f;
		found = psim_find_in(&f->children, name);
		if (found)
			return found;
	}
	return NULL;
}

static struct psim_fn *psim_find(const char *name)
{
	return psim_host ? psim_find_in(&psim_host->root, name) : NULL;
}

static struct pci_dev *psim_pci_dev(struct psim_fn *f)
{
	int rid;

	if (!psim_host->bus)
		return NULL;
	rid = psim_fn_rid(psim_host, f);
	if (rid < 0)
		return NULL;
	return pci_get_domain_bus_and_slot(psim_host->domain, rid >> 8,
					   rid & 0xff);
}

/* Function @name of the current host, referenced, or NULL (pcisim_bench.c) */
struct pci_dev *psim_get_pci_dev(const char *name)
{
	struct psim_fn *f = psim_find(name);

	return f ? psim_pci_dev(f) : NULL;
}

/* Take the model's VFs of @pf away, after the kernel let go of them */
static void psim_free_vfs(struct psim_fn *pf)
{
	struct psim_fn **vfs;
	unsigned long flags;
	int i, n;

	raw_spin_lock_irqsave(&psim_host->lock, flags);
	vfs = pf->vfs;
	n = pf->nr_vfs;
	pf->vfs = NULL;
	pf->nr_vfs = 0;
	raw_spin_unlock_irqrestore(&psim_host->lock, flags);
	for (i = 0; i < n; i++)
		kvfree(vfs[i]);
	kfree(vfs);
}

/* A PF must lose its VFs before it goes (sriov_release() BUGs otherwise) */
static void psim_disable_vfs(struct psim_fn *f)
{
	struct psim_fn *c;
	struct pci_dev *pdev;

	list_for_each_entry(c, &f->children, sibling)
		psim_disable_vfs(c);
	if (!f->nr_vfs)
		return;
	pdev = psim_pci_dev(f);
	if (pdev) {
		pci_lock_rescan_remove();
		pci_disable_sriov(pdev);
		pci_unlock_rescan_remove();
		pci_dev_put(pdev);
	}
	psim_free_vfs(f);
}

static void psim_disable_vfs_list(struct list_head *list)
{
	struct psim_fn *f;

	list_for_each_entry(f, list, sibling)
		psim_disable_vfs(f);
}

static int psim_count_one(struct device *dev, void *data)
{
	if (psim_dev_is_ours(dev))
		(*(int *)data)++;
	return 0;
}

static int psim_count_devs(void)
{
	int n = 0;

	bus_for_each_dev(&pci_bus_type, NULL, &n, psim_count_one);
	return n;
}

static void psim_stats_done(const char *cmd, const char *name, ktime_t t0,
			    int before)
{
	psim_stats.ns = ktime_to_ns(ktime_sub(ktime_get(), t0));
	psim_stats.added = psim_count_devs() - before;
	strscpy(psim_stats.cmd, cmd, sizeof(psim_stats.cmd));
	strscpy(psim_stats.name, name ?: "-", sizeof(psim_stats.name));
}

/* ---- commands ----------------------------------------------------- */

static void psim_destroy(void)
{
	struct psim_host *h = psim_host;
	struct psim_fn *f, *tmp;

	if (!h)
		return;
	psim_bench_unhold();
	psim_disable_vfs_list(&h->root);
	if (h->bus) {
		pci_lock_rescan_remove();
		pci_stop_root_bus(h->bus);
		pci_remove_root_bus(h->bus);
		pci_unlock_rescan_remove();
	}
	if (h->mem.parent)
		release_resource(&h->mem);
	if (h->io.parent)
		release_resource(&h->io);
	list_for_each_entry_safe(f, tmp, &h->root, sibling) {
		list_del(&f->sibling);
		psim_fn_free(f);
	}
	psim_host = NULL;
	kfree(h);
}

static int psim_create(void)
{
	struct psim_host *h;

	psim_destroy();
	h = kzalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	raw_spin_lock_init(&h->lock);
	INIT_LIST_HEAD(&h->root);
	h->domain = -1;
#ifdef CONFIG_X86
	/* x86 takes the domain from sysdata, as for vmd */
	h->sd.domain = PSIM_DOMAIN_BASE;
	h->sd.node = NUMA_NO_NODE;
#endif
	psim_host = h;
	return 0;
}

static int psim_cmd_fn(char *line)
{
	struct psim_fn *f, *parent = NULL, *pos;
	struct list_head *list, *at;
	struct psim_spec s;
	unsigned long flags;
	int ret;

	/* A comment or blank line is no function */
	line[strcspn(line, "#")] = '\0';
	if (!*strim(line))
		return 0;
	ret = psim_parse_line(line, &s);
	if (ret)
		return ret;
	if (psim_find(s.name)) {
		pr_err("fn %s: name exists\n", s.name);
		return -EEXIST;
	}
	if (*s.parent) {
		parent = psim_find(s.parent);
		if (!parent) {
			pr_err("fn %s: no parent %s\n", s.name, s.parent);
			return -ENOENT;
		}
		if (!psim_is_bridge(parent)) {
			pr_err("fn %s: parent %s is no bridge\n", s.name, s.parent);
			return -EINVAL;
		}
	}
	if (s.ari_fn && (!parent || !parent->spec.ari)) {
		pr_err("fn %s: function number FF needs a parent with ari\n",
		       s.name);
		return -EINVAL;
	}
	list = parent ? &parent->children : &psim_host->root;
	at = list;
	list_for_each_entry(pos, list, sibling) {
		if (pos->devfn == s.devfn) {
			pr_err("fn %s: %s sits there\n", s.name, pos->spec.name);
			return -EEXIST;
		}
		if (pos->devfn > s.devfn) {
			at = &pos->sibling;
			break;
		}
	}

	f = psim_fn_build(&s);
	if (!f)
		return -ENOMEM;
	f->parent = parent;
	/* Bridges added after the first scan stay unnumbered: hot-add */
	raw_spin_lock_irqsave(&psim_host->lock, flags);
	list_add_tail(&f->sibling, at);
	psim_ari_relink(list);
	raw_spin_unlock_irqrestore(&psim_host->lock, flags);
	return 0;
}

/*
 * Address space for BARs and bridge windows, as a host bridge claims its
 * apertures, so the kernel assigns resources as usual: a free CPU range
 * above 4 GiB that the bridge maps to bus addresses from 2 GiB (an
 * offset, as vmd has), so 32-bit BARs fit. No cycle ever reaches it.
 * I/O space is rarely free: without it only I/O windows fail to assign.
 */
#define PSIM_BUS_MEM	0x80000000ULL

static void psim_host_windows(struct psim_host *h, struct list_head *res)
{
	resource_size_t size;

	h->mem.name = "pcisim mem";
	h->mem.flags = IORESOURCE_MEM;
	for (size = SZ_256M; size >= SZ_16M; size /= 4)
		if (!allocate_resource(&iomem_resource, &h->mem, size,
				       SZ_4G, ~(resource_size_t)0, SZ_256M,
				       NULL, NULL))
			break;
	if (h->mem.parent)
		pci_add_resource_offset(res, &h->mem,
					h->mem.start - PSIM_BUS_MEM);
	else
		pr_info("no free memory range for BARs\n");

	h->io.name = "pcisim io";
	h->io.flags = IORESOURCE_IO;
	if (!allocate_resource(&ioport_resource, &h->io, SZ_16K, SZ_4K,
			       IO_SPACE_LIMIT, SZ_4K, NULL, NULL))
		pci_add_resource(res, &h->io);
}

static int psim_cmd_scan(void)
{
	struct psim_host *h = psim_host;
	LIST_HEAD(resources);
	struct pci_bus *bus;
	int before, ret;
	ktime_t t0;

	before = psim_count_devs();
	t0 = ktime_get();
	if (h->bus) {
		pci_lock_rescan_remove();
		pci_rescan_bus(h->bus);
		pci_unlock_rescan_remove();
		psim_stats_done("scan", NULL, t0, before);
		return 0;
	}

	if (IS_ENABLED(CONFIG_PCI_DOMAINS_GENERIC) && !acpi_disabled) {
		/* Domain lookup would take sysdata for an ACPI config window */
		pr_err("scan: needs a device-tree boot on this architecture\n");
		return -EOPNOTSUPP;
	}
	ret = psim_assign_buses(h);
	if (ret) {
		pr_err("scan: not enough bus numbers for the topology\n");
		return ret;
	}
	h->busn.name = "pcisim bus";
	h->busn.start = 0;
	h->busn.end = 0xff;
	h->busn.flags = IORESOURCE_BUS;
	pci_add_resource(&resources, &h->busn);
	psim_host_windows(h, &resources);

	pci_lock_rescan_remove();
	bus = pci_create_root_bus(&psim_pdev->dev, 0, &psim_pci_ops, &h->sd,
				  &resources);
	if (!bus) {
		pci_unlock_rescan_remove();
		pci_free_resource_list(&resources);
		if (h->mem.parent)
			release_resource(&h->mem);
		if (h->io.parent)
			release_resource(&h->io);
		return -ENOMEM;
	}
	h->bus = bus;
	h->domain = pci_domain_nr(bus);
	pci_scan_child_bus(bus);
	pci_assign_unassigned_bus_resources(bus);
	pci_bus_add_devices(bus);
	pci_unlock_rescan_remove();
	psim_stats_done("scan", NULL, t0, before);
	return 0;
}

static struct psim_fn *psim_lookup(const char *cmd, const char *name)
{
	struct psim_fn *f = name ? psim_find(name) : NULL;

	if (!name)
		pr_err("%s: which function?\n", cmd);
	else if (!f)
		pr_err("%s: no function %s\n", cmd, name);
	return f;
}

static int psim_cmd_rescan(const char *name)
{
	struct psim_fn *f = psim_lookup("rescan", name);
	struct pci_dev *pdev;
	int before;
	ktime_t t0;

	if (!f)
		return name ? -ENOENT : -EINVAL;
	if (!psim_is_bridge(f)) {
		pr_err("rescan: %s is no bridge\n", name);
		return -EINVAL;
	}
	pdev = psim_pci_dev(f);
	if (!pdev) {
		pr_err("rescan: %s is not in the kernel\n", name);
		return -ENOENT;
	}
	before = psim_count_devs();
	t0 = ktime_get();
	pci_lock_rescan_remove();
	/* A bridge the kernel gave no bus yet gets one from its parent's scan */
	pci_rescan_bus(pdev->subordinate ?: pdev->bus);
	pci_unlock_rescan_remove();
	psim_stats_done("rescan", name, t0, before);
	pci_dev_put(pdev);
	return 0;
}

static int psim_cmd_remove(const char *name, bool unplug)
{
	const char *cmd = unplug ? "unplug" : "remove";
	struct psim_fn *f = psim_lookup(cmd, name);
	struct pci_dev *pdev;
	unsigned long flags;
	int before;
	ktime_t t0;

	if (!f)
		return name ? -ENOENT : -EINVAL;
	psim_disable_vfs(f);
	pdev = psim_pci_dev(f);
	if (!pdev && !unplug) {
		pr_err("remove: %s is not in the kernel\n", name);
		return -ENOENT;
	}
	if (pdev) {
		before = psim_count_devs();
		t0 = ktime_get();
		pci_lock_rescan_remove();
		pci_stop_and_remove_bus_device(pdev);
		pci_unlock_rescan_remove();
		psim_stats_done(cmd, name, t0, before);
		pci_dev_put(pdev);
	}
	if (!unplug)
		return 0;

	raw_spin_lock_irqsave(&psim_host->lock, flags);
	list_del(&f->sibling);
	psim_ari_relink(f->parent ? &f->parent->children : &psim_host->root);
	raw_spin_unlock_irqrestore(&psim_host->lock, flags);
	psim_fn_free(f);
	return 0;
}

static int psim_cmd_sriov(const char *name, const char *num)
{
	struct psim_fn *f = psim_lookup("sriov", name);
	struct psim_fn **vfs;
	struct pci_dev *pdev;
	unsigned long flags;
	int before, ret, i;
	ktime_t t0;
	u16 n;

	if (!f)
		return name ? -ENOENT : -EINVAL;
	if (!num || kstrtou16(num, 0, &n)) {
		pr_err("sriov: want NAME N\n");
		return -EINVAL;
	}
	if (!f->sriov || n > f->spec.sriov_total) {
		pr_err("sriov %s: has %u VFs\n", name, f->spec.sriov_total);
		return -EINVAL;
	}
	if (!IS_ENABLED(CONFIG_PCI_IOV)) {
		pr_err("sriov: the kernel has no CONFIG_PCI_IOV\n");
		return -EOPNOTSUPP;
	}
	pdev = psim_pci_dev(f);
	if (!pdev) {
		pr_err("sriov: %s is not in the kernel\n", name);
		return -ENOENT;
	}
	before = psim_count_devs();
	t0 = ktime_get();
	if (!n) {
		pci_lock_rescan_remove();
		pci_disable_sriov(pdev);
		pci_unlock_rescan_remove();
		psim_free_vfs(f);
		ret = 0;
		goto out;
	}
	if (f->nr_vfs) {
		pr_err("sriov %s: VFs enabled; write 0 first\n", name);
		ret = -EBUSY;
		goto out_put;
	}

	/* The VFs answer once the kernel sets VF Enable */
	ret = -ENOMEM;
	vfs = kcalloc(n, sizeof(*vfs), GFP_KERNEL);
	if (!vfs)
		goto out_put;
	for (i = 0; i < n; i++) {
		vfs[i] = psim_vf_build(f, i);
		if (!vfs[i])
			goto out_free;
	}
	raw_spin_lock_irqsave(&psim_host->lock, flags);
	f->vfs = vfs;
	f->nr_vfs = n;
	raw_spin_unlock_irqrestore(&psim_host->lock, flags);

	pci_lock_rescan_remove();
	ret = pci_enable_sriov(pdev, n);
	pci_unlock_rescan_remove();
	if (ret) {
		pr_err("sriov %s: pci_enable_sriov: %d\n", name, ret);
		psim_free_vfs(f);
		goto out_put;
	}
out:
	psim_stats_done("sriov", name, t0, before);
out_put:
	pci_dev_put(pdev);
	return ret;

out_free:
	while (i--)
		kvfree(vfs[i]);
	kfree(vfs);
	goto out_put;
}

static int psim_command(char *buf)
{
	char *line = strim(buf), *cmd, *arg1, *arg2;

	cmd = strsep(&line, " \t");
	if (!*cmd || *cmd == '#')
		return 0;
	if (!strcmp(cmd, "create"))
		return psim_create();
	if (!psim_host) {
		pr_err("%s: no host; write \"create\" first\n", cmd);
		return -ENOENT;
	}
	if (!strcmp(cmd, "fn"))
		return psim_cmd_fn(line ?: "");
	if (!strcmp(cmd, "scan"))
		return psim_cmd_scan();
	if (!strcmp(cmd, "bench"))
		return psim_cmd_bench(line ? skip_spaces(line) : NULL);
	if (!strcmp(cmd, "destroy")) {
		psim_destroy();
		return 0;
	}

	line = line ? skip_spaces(line) : NULL;
	arg1 = line ? strsep(&line, " \t") : NULL;
	arg2 = line ? strim(line) : NULL;
	if (arg1 && !*arg1)
		arg1 = NULL;
	if (!strcmp(cmd, "rescan"))
		return psim_cmd_rescan(arg1);
	if (!strcmp(cmd, "unplug"))
		return psim_cmd_remove(arg1, true);
	if (!strcmp(cmd, "remove"))
		return psim_cmd_remove(arg1, false);
	if (!strcmp(cmd, "sriov"))
		return psim_cmd_sriov(arg1, arg2);
	pr_err("unknown command '%s'\n", cmd);
	return -EINVAL;
}

/* ---- debugfs ------------------------------------------------------ */

static ssize_t psim_ctl_write(struct file *file, const char __user *ubuf,
			      size_t len, loff_t *ppos)
{
	char *buf;
	int ret;

	if (len >= PSIM_LINE_MAX)
		return -EINVAL;
	buf = memdup_user_nul(ubuf, len);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	mutex_lock(&psim_mutex);
	ret = psim_command(buf);
	mutex_unlock(&psim_mutex);
	kfree(buf);
	return ret ? ret : len;
}

static const struct file_operations psim_ctl_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = psim_ctl_write,
	.llseek = noop_llseek,
};

static void psim_map_one(struct seq_file *m, struct psim_fn *f)
{
	struct pci_dev *pdev = psim_pci_dev(f);

	if (!pdev)
		return;
	seq_printf(m, "%s %s\n", f->spec.name, pci_name(pdev));
	pci_dev_put(pdev);
}

static void psim_map_list(struct seq_file *m, struct list_head *list)
{
	struct psim_fn *f;
	int i;

	list_for_each_entry(f, list, sibling) {
		psim_map_one(m, f);
		for (i = 0; i < f->nr_vfs; i++)
			psim_map_one(m, f->vfs[i]);
		psim_map_list(m, &f->children);
	}
}

static int psim_map_show(struct seq_file *m, void *unused)
{
	mutex_lock(&psim_mutex);
	if (psim_host)
		psim_map_list(m, &psim_host->root);
	mutex_unlock(&psim_mutex);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(psim_map);

static int psim_stats_show(struct seq_file *m, void *unused)
{
	mutex_lock(&psim_mutex);
	if (*psim_stats.cmd)
		seq_printf(m, "cmd=%s name=%s ns=%lld added=%d\n",
			   psim_stats.cmd, psim_stats.name, psim_stats.ns,
			   psim_stats.added);
	seq_printf(m, "attach identity=%d blocked=%d paging=%d\n",
		   atomic_read(&psim_attach_identity),
		   atomic_read(&psim_attach_blocked),
		   atomic_read(&psim_attach_paging));
	mutex_unlock(&psim_mutex);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(psim_stats);

static int psim_bench_file_show(struct seq_file *m, void *unused)
{
	mutex_lock(&psim_mutex);
	psim_bench_show(m);
	mutex_unlock(&psim_mutex);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(psim_bench_file);

static int __init psim_init(void)
{
	int ret;

	psim_pdev = platform_device_register_simple("pcisim", PLATFORM_DEVID_NONE,
						    NULL, 0);
	if (IS_ERR(psim_pdev))
		return PTR_ERR(psim_pdev);
	ret = psim_iommu_init(&psim_pdev->dev);
	if (ret) {
		platform_device_unregister(psim_pdev);
		return ret;
	}
	psim_dir = debugfs_create_dir("pcisim", NULL);
	debugfs_create_file("ctl", 0200, psim_dir, NULL, &psim_ctl_fops);
	debugfs_create_file("map", 0444, psim_dir, NULL, &psim_map_fops);
	debugfs_create_file("stats", 0444, psim_dir, NULL, &psim_stats_fops);
	debugfs_create_file("bench", 0444, psim_dir, NULL, &psim_bench_file_fops);
	return 0;
}

static void __exit psim_exit(void)
{
	/* No command runs past this: debugfs waits for the writers */
	debugfs_remove_recursive(psim_dir);
	mutex_lock(&psim_mutex);
	psim_destroy();
	mutex_unlock(&psim_mutex);
	psim_iommu_exit();
	platform_device_unregister(psim_pdev);
}

module_init(psim_init);
module_exit(psim_exit);
MODULE_DESCRIPTION("Software-defined PCI topologies behind a mock IOMMU");
MODULE_LICENSE("GPL");
