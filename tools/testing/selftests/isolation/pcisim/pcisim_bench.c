// SPDX-License-Identifier: GPL-2.0
/*
 * pcisim: timed IOMMU group operations for "make bench" (scripts/bench.py).
 *
 * "bench OP NAME ROUNDS" finds the group of function NAME and times ROUNDS
 * repetitions of OP with ktime in the kernel, so the number is the group
 * layer's cost: the mock IOMMU's callbacks only count. The result is one
 * line of debugfs "bench" (README). Both variants make the same calls;
 * for the isolation core's own API (domain_attach_group()) stock makes the
 * legacy calls VFIO makes there, and the result line says which API ran.
 */
#define pr_fmt(fmt) "pcisim: " fmt

#include <linux/device.h>
#include <linux/iommu.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/pci.h>
#include <linux/seq_file.h>
#include <linux/string.h>

#include "pcisim.h"

#ifdef CONFIG_IOMMU_ISOLATION_GROUPS
#include <linux/isolation.h>
#define PSIM_CORE_API	"core"
#else
/* Stock has no core API: what VFIO calls there instead */
static int domain_attach_group(struct iommu_domain *domain,
			       struct iommu_group *group)
{
	return iommu_attach_group(domain, group);
}

static int domain_detach_group(struct iommu_domain *domain,
			       struct iommu_group *group)
{
	iommu_detach_group(domain, group);
	return 0;
}

#define PSIM_CORE_API	"legacy"
#endif

#define PSIM_BENCH_MAX_ROUNDS	1000000

/* The last result, for debugfs "bench"; psim_mutex protects it all */
static struct {
	char op[16];
	char name[PSIM_NAME_LEN];
	const char *api;
	int devices;
	u32 rounds;
	s64 ns;
} psim_bench_last;

/* "bench hold": a paging domain left attached, for hot-add into it */
static struct iommu_domain *psim_held_domain;
static struct iommu_group *psim_held_group;

static int psim_bench_count_one(struct device *dev, void *data)
{
	(*(int *)data)++;
	return 0;
}

static int psim_bench_attach(struct iommu_group *group, struct device *dev,
			     bool core, u32 rounds)
{
	struct iommu_domain *domain;
	int ret = 0;
	u32 i;

	/* Allocated once: the domain's page table is the driver's business */
	domain = iommu_paging_domain_alloc(dev);
	if (IS_ERR(domain))
		return PTR_ERR(domain);
	for (i = 0; i < rounds && !ret; i++) {
		if (core) {
			ret = domain_attach_group(domain, group);
			if (!ret)
				ret = domain_detach_group(domain, group);
		} else {
			ret = iommu_attach_group(domain, group);
			if (!ret)
				iommu_detach_group(domain, group);
		}
	}
	iommu_domain_free(domain);
	return ret;
}

static int psim_bench_claim(struct iommu_group *group, u32 rounds)
{
	int ret = 0;
	u32 i;

	for (i = 0; i < rounds && !ret; i++) {
		ret = iommu_group_claim_dma_owner(group, &psim_bench_last);
		if (!ret)
			iommu_group_release_dma_owner(group);
	}
	return ret;
}

static int psim_bench_hold(struct iommu_group *group, struct device *dev)
{
	struct iommu_domain *domain;
	int ret;

	if (psim_held_domain)
		return -EBUSY;
	domain = iommu_paging_domain_alloc(dev);
	if (IS_ERR(domain))
		return PTR_ERR(domain);
	ret = iommu_attach_group(domain, group);
	if (ret) {
		iommu_domain_free(domain);
		return ret;
	}
	psim_held_domain = domain;
	psim_held_group = iommu_group_ref_get(group);
	return 0;
}

/* Detach and free the held domain; also at unload */
void psim_bench_unhold(void)
{
	if (!psim_held_domain)
		return;
	iommu_detach_group(psim_held_domain, psim_held_group);
	iommu_domain_free(psim_held_domain);
	iommu_group_put(psim_held_group);
	psim_held_domain = NULL;
	psim_held_group = NULL;
}

static int psim_bench_run(const char *op, struct iommu_group *group,
			  struct device *dev, u32 rounds)
{
	if (!strcmp(op, "attach"))
		return psim_bench_attach(group, dev, false, rounds);
	if (!strcmp(op, "attach-core"))
		return psim_bench_attach(group, dev, true, rounds);
	if (!strcmp(op, "claim"))
		return psim_bench_claim(group, rounds);
	if (!strcmp(op, "hold"))
		return psim_bench_hold(group, dev);
	pr_err("bench: unknown operation '%s'\n", op);
	return -EINVAL;
}

/* "bench OP NAME ROUNDS" or "bench unhold"; under psim_mutex */
int psim_cmd_bench(char *args)
{
	char *op, *name, *num;
	struct iommu_group *group;
	struct pci_dev *pdev;
	u32 rounds = 1;
	int ret, n = 0;
	ktime_t t0;

	op = strsep(&args, " \t");
	if (op && !strcmp(op, "unhold")) {
		psim_bench_unhold();
		return 0;
	}
	name = args ? strsep(&args, " \t") : NULL;
	num = args ? strim(args) : NULL;
	if (!op || !name || (num && *num && kstrtou32(num, 0, &rounds)) ||
	    !rounds || rounds > PSIM_BENCH_MAX_ROUNDS) {
		pr_err("bench: want OP NAME [ROUNDS] or unhold\n");
		return -EINVAL;
	}
	pdev = psim_get_pci_dev(name);
	if (!pdev) {
		pr_err("bench: no function %s in the kernel\n", name);
		return -ENOENT;
	}
	group = iommu_group_get(&pdev->dev);
	if (!group) {
		pr_err("bench: %s has no IOMMU group\n", name);
		pci_dev_put(pdev);
		return -ENODEV;
	}
	iommu_group_for_each_dev(group, &n, psim_bench_count_one);

	t0 = ktime_get();
	ret = psim_bench_run(op, group, &pdev->dev, rounds);
	psim_bench_last.ns = ktime_to_ns(ktime_sub(ktime_get(), t0));
	if (ret)
		pr_err("bench %s %s: %d\n", op, name, ret);
	strscpy(psim_bench_last.op, op, sizeof(psim_bench_last.op));
	strscpy(psim_bench_last.name, name, sizeof(psim_bench_last.name));
	psim_bench_last.api = strcmp(op, "attach-core") ? "legacy" :
			      PSIM_CORE_API;
	psim_bench_last.devices = n;
	psim_bench_last.rounds = ret ? 0 : rounds;
	iommu_group_put(group);
	pci_dev_put(pdev);
	return ret;
}

void psim_bench_show(struct seq_file *m)
{
	if (!*psim_bench_last.op)
		return;
	seq_printf(m, "op=%s name=%s api=%s devices=%d rounds=%u ns=%lld\n",
		   psim_bench_last.op, psim_bench_last.name,
		   psim_bench_last.api, psim_bench_last.devices,
		   psim_bench_last.rounds, psim_bench_last.ns);
}
