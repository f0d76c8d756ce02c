/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcisim: software-defined PCI topologies for the grouping tests.
 * Shared declarations of the config-space model (pcisim_cfg.c), the mock
 * IOMMU (pcisim_iommu.c) and the control interface (pcisim_ctl.c).
 */
#ifndef _PCISIM_H
#define _PCISIM_H

#include <linux/atomic.h>
#include <linux/list.h>
#include <linux/pci.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#define PSIM_NAME_MAX		31	/* a NAME of a "fn" line */
#define PSIM_NAME_LEN		48	/* room for NAME.vfN */
#define PSIM_CFG_SIZE		4096
#define PSIM_MAX_VFS		1024

enum psim_type {
	PSIM_RP,		/* PCIe root port */
	PSIM_USP,		/* switch upstream port */
	PSIM_DSP,		/* switch downstream port */
	PSIM_PCIE_PCI,		/* PCIe-to-PCI/PCI-X bridge */
	PSIM_PCI_PCIE,		/* PCI/PCI-X-to-PCIe bridge */
	PSIM_PCI_PCI,		/* conventional PCI-to-PCI bridge */
	PSIM_EP,		/* PCIe endpoint */
	PSIM_LEGACY,		/* PCIe legacy endpoint */
	PSIM_RCIEP,		/* root complex integrated endpoint */
	PSIM_PCI,		/* conventional PCI device */
	PSIM_NR_TYPES
};

/* One parsed "fn" line */
struct psim_spec {
	char name[PSIM_NAME_LEN];
	char parent[PSIM_NAME_LEN];	/* "" for the root bus */
	u8 devfn;
	bool ari_fn;			/* written as FF (ARI function number) */
	enum psim_type type;
	u16 vendor, device;
	u32 class;
	bool mf, ari, pcix, slot, link_down;
	bool has_acs;
	u16 acs_cap, acs_ctl;
	u16 sriov_total, sriov_offset, sriov_stride, sriov_vfdid;
	u32 bar_size;
	bool has_mem;
	u32 mem_base, mem_limit;
	u16 buses;
};

struct psim_fn {
	struct list_head sibling;	/* on the parent's children, by devfn */
	struct list_head children;	/* bridges: functions on the secondary bus */
	struct psim_fn *parent;		/* NULL: on the root bus */
	struct psim_spec spec;
	u8 devfn;
	/* capability offsets, 0 when absent */
	u16 pcie, pcix, acs, ari, sriov;
	u16 cfg_size;
	/* VFs: their PF and index; PFs: the VFs made for "sriov NAME N" */
	struct psim_fn *pf;
	u16 vf_index;
	struct psim_fn **vfs;
	u16 nr_vfs;
	u8 cfg[PSIM_CFG_SIZE];
	u8 wmask[PSIM_CFG_SIZE];	/* bits a config write may change */
};

struct psim_host {
#ifdef CONFIG_X86
	struct pci_sysdata sd;		/* x86 reads the domain from here */
#else
	int sd;				/* sysdata must not be NULL */
#endif
	raw_spinlock_t lock;		/* the model; taken inside pci_lock */
	struct list_head root;		/* functions on the root bus */
	struct resource busn;
	struct resource mem, io;	/* windows taken from the machine's */
	struct pci_bus *bus;		/* NULL until the first scan */
	int domain;
};

/* pcisim_cfg.c */
extern struct pci_ops psim_pci_ops;
struct psim_fn *psim_fn_build(const struct psim_spec *s);
struct psim_fn *psim_vf_build(struct psim_fn *pf, u16 index);
void psim_fn_free(struct psim_fn *f);
bool psim_is_bridge(const struct psim_fn *f);
void psim_ari_relink(struct list_head *segment);
int psim_assign_buses(struct psim_host *h);
int psim_fn_rid(struct psim_host *h, struct psim_fn *f);
u16 psim_cfg_read16(struct psim_fn *f, int where);

/* pcisim_iommu.c */
extern atomic_t psim_attach_identity, psim_attach_blocked, psim_attach_paging;
int psim_iommu_init(struct device *parent);
void psim_iommu_exit(void);

/* pcisim_ctl.c */
bool psim_dev_is_ours(struct device *dev);
struct pci_dev *psim_get_pci_dev(const char *name);

/* pcisim_bench.c */
struct seq_file;
int psim_cmd_bench(char *args);
void psim_bench_unhold(void);
void psim_bench_show(struct seq_file *m);

#endif /* _PCISIM_H */
