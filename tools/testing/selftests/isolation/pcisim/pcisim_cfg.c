// SPDX-License-Identifier: GPL-2.0
/*
 * pcisim: the config-space model.
 *
 * Every function has 4 KiB of config space (256 bytes for conventional
 * PCI functions) and a write mask: a write changes only the masked bits,
 * everything else reads back what the builder put there, as read-only
 * hardware registers do. What each register copies from real hardware:
 *
 *  - Vendor/Device/Class/Header Type: fixed, as strapped by the vendor;
 *    VFs read Vendor and Device ID 0xffff (SR-IOV 1.1, 3.4.1.1/2).
 *  - Command: the writable bits of a PCIe function (I/O, memory, bus
 *    master, parity, SERR, INTx disable); Status only reports the
 *    capability list.
 *  - BAR0 ("bar="): a 32-bit non-prefetchable memory BAR; the low bits
 *    below its size are hard-wired to zero, so writing all ones reads
 *    back the size mask, as sizing expects (PCI 3.0, 6.2.5.1).
 *  - Bridge bus numbers and windows: read/write like any PCI-PCI bridge
 *    with 16-bit I/O, 32-bit memory and 32-bit prefetchable windows; the
 *    windows start disabled (base above limit) unless "mem=" presets the
 *    memory window, as firmware leaves windows nothing needs.
 *  - PCIe capability v2: the type given; Device Capabilities 2 has ARI
 *    Forwarding Supported on ports with "ari"; Link Status has Data Link
 *    Layer Link Active on downstream-facing ports unless "link=down"
 *    (with DLL Link Active Reporting Capable, as hot-plug ports have);
 *    Slot Capabilities with "slot": hot-plug capable, No Command
 *    Completed Support (no command waits), presence from the link.
 *  - PCI-X capability ("pcix"): a 133 MHz capable PCI-X bridge or device.
 *  - ACS: the Capability register given; Control bits are writable for
 *    each capability bit present (PCIe 6.0, 7.7.11.3), the enhanced
 *    control fields only with "ecap"; an 8-bit egress control vector with
 *    "ec".
 *  - ARI: Next Function Number chains the ARI functions of the bus in
 *    devfn order, 0 ends the chain (PCIe 6.0, 7.8.7.2).
 *  - SR-IOV: TotalVFs/InitialVFs, First VF Offset and VF Stride constant
 *    (allowed: they may, not must, depend on NumVFs), no VF BARs, 4K to
 *    4M supported page sizes. VFs answer config requests at PF + offset +
 *    stride * i once VF Enable is set and NumVFs covers them.
 *
 * Config requests are routed like in a PCIe hierarchy: from the root bus
 * down through the bridges whose current secondary..subordinate range
 * holds the bus number, by the values the kernel last wrote.
 */
#define pr_fmt(fmt) "pcisim: " fmt

#include <linux/kernel.h>
#include <linux/pci.h>
#include <linux/slab.h>

#include "pcisim.h"

#define PSIM_PCIE_POS		0x40
#define PSIM_PCIE_SIZE		0x3c
#define PSIM_PCIX_SIZE		0x10
#define PSIM_EXT_POS		0x100
#define PSIM_ACS_SIZE		0x0c
#define PSIM_ARI_SIZE		0x08
#define PSIM_SRIOV_SIZE		0x40

/* ACS control bits of PCIe 6.0 "ACS Enhanced Capability" (bits 7..12) */
#define PSIM_ACS_ECAP		0x0080
#define PSIM_ACS_ENH_CTL	0x1f80
#define PSIM_ACS_STD		0x007f

static const u8 psim_pcie_type[PSIM_NR_TYPES] = {
	[PSIM_RP] = PCI_EXP_TYPE_ROOT_PORT,
	[PSIM_USP] = PCI_EXP_TYPE_UPSTREAM,
	[PSIM_DSP] = PCI_EXP_TYPE_DOWNSTREAM,
	[PSIM_PCIE_PCI] = PCI_EXP_TYPE_PCI_BRIDGE,
	[PSIM_PCI_PCIE] = PCI_EXP_TYPE_PCIE_BRIDGE,
	[PSIM_EP] = PCI_EXP_TYPE_ENDPOINT,
	[PSIM_LEGACY] = PCI_EXP_TYPE_LEG_END,
	[PSIM_RCIEP] = PCI_EXP_TYPE_RC_END,
};

bool psim_is_bridge(const struct psim_fn *f)
{
	switch (f->spec.type) {
	case PSIM_RP:
	case PSIM_USP:
	case PSIM_DSP:
	case PSIM_PCIE_PCI:
	case PSIM_PCI_PCIE:
	case PSIM_PCI_PCI:
		return true;
	default:
		return false;
	}
}

static bool psim_is_pcie(const struct psim_fn *f)
{
	return f->spec.type != PSIM_PCI && f->spec.type != PSIM_PCI_PCI;
}

/* Ports whose link goes away from the root: they report DLL Link Active */
static bool psim_is_dsport(const struct psim_fn *f)
{
	return f->spec.type == PSIM_RP || f->spec.type == PSIM_DSP ||
	       f->spec.type == PSIM_PCI_PCIE;
}

static void psim_put(struct psim_fn *f, int pos, int size, u32 val, u32 wmask)
{
	int i;

	for (i = 0; i < size; i++) {
		f->cfg[pos + i] = val >> (8 * i);
		f->wmask[pos + i] = wmask >> (8 * i);
	}
}

static u32 psim_get(const struct psim_fn *f, int pos, int size)
{
	u32 val = 0;
	int i;

	for (i = 0; i < size; i++)
		val |= (u32)f->cfg[pos + i] << (8 * i);
	return val;
}

u16 psim_cfg_read16(struct psim_fn *f, int where)
{
	return psim_get(f, where, 2);
}

static void psim_build_header(struct psim_fn *f)
{
	const struct psim_spec *s = &f->spec;
	bool vf = f->pf;
	u8 hdr = psim_is_bridge(f) ? PCI_HEADER_TYPE_BRIDGE :
		 PCI_HEADER_TYPE_NORMAL;

	psim_put(f, PCI_VENDOR_ID, 2, vf ? 0xffff : s->vendor, 0);
	psim_put(f, PCI_DEVICE_ID, 2, vf ? 0xffff : s->device, 0);
	/* VFs: Memory Space is RsvdP, the PF's VF MSE enables their BARs */
	psim_put(f, PCI_COMMAND, 2, 0, vf ? 0x0544 : 0x0547);
	psim_put(f, PCI_STATUS, 2, PCI_STATUS_CAP_LIST, 0);
	psim_put(f, PCI_CLASS_REVISION, 4, s->class << 8, 0);
	psim_put(f, PCI_CACHE_LINE_SIZE, 1, 0, 0xff);
	psim_put(f, PCI_LATENCY_TIMER, 1, 0, psim_is_pcie(f) ? 0 : 0xff);
	psim_put(f, PCI_HEADER_TYPE, 1, hdr | (s->mf ? 0x80 : 0), 0);
	psim_put(f, PCI_CAPABILITY_LIST, 1, 0, 0);
	psim_put(f, PCI_INTERRUPT_LINE, 1, 0, 0xff);

	if (hdr == PCI_HEADER_TYPE_NORMAL) {
		if (s->bar_size)
			psim_put(f, PCI_BASE_ADDRESS_0, 4, 0,
				 ~(s->bar_size - 1) & PCI_BASE_ADDRESS_MEM_MASK);
		psim_put(f, PCI_SUBSYSTEM_VENDOR_ID, 2, s->vendor, 0);
		psim_put(f, PCI_SUBSYSTEM_ID, 2, s->device, 0);
		return;
	}

	psim_put(f, PCI_PRIMARY_BUS, 4, 0, 0xffffffff);
	/*
	 * 16-bit I/O, 32-bit memory and prefetchable windows, left disabled
	 * (base above limit) as firmware leaves unused windows; Secondary
	 * Status reads 0.
	 */
	psim_put(f, PCI_IO_BASE, 1, 0xf0, 0xf0);
	psim_put(f, PCI_IO_LIMIT, 1, 0, 0xf0);
	psim_put(f, PCI_MEMORY_BASE, 2, 0xfff0, 0xfff0);
	psim_put(f, PCI_MEMORY_LIMIT, 2, 0, 0xfff0);
	psim_put(f, PCI_PREF_MEMORY_BASE, 2, 0xfff0, 0xfff0);
	psim_put(f, PCI_PREF_MEMORY_LIMIT, 2, 0, 0xfff0);
	if (s->has_mem) {
		psim_put(f, PCI_MEMORY_BASE, 2, (s->mem_base >> 16) & 0xfff0,
			 0xfff0);
		psim_put(f, PCI_MEMORY_LIMIT, 2, (s->mem_limit >> 16) & 0xfff0,
			 0xfff0);
	}
	psim_put(f, PCI_BRIDGE_CONTROL, 2, 0, 0x0fff);
}

static int psim_build_pcie(struct psim_fn *f, int pos)
{
	const struct psim_spec *s = &f->spec;
	u8 type = psim_pcie_type[s->type];
	bool link = s->type != PSIM_RCIEP;
	u16 flags = 2 | (type << 4);
	u32 lnkcap = 0, sltcap, devcap2 = 0;
	u16 lnksta = 0;

	if (s->slot)
		flags |= PCI_EXP_FLAGS_SLOT;
	f->pcie = pos;
	psim_put(f, pos, 2, PCI_CAP_ID_EXP, 0);
	psim_put(f, pos + PCI_EXP_FLAGS, 2, flags, 0);
	/* 256-byte MPS supported, role-based error reporting */
	psim_put(f, pos + PCI_EXP_DEVCAP, 4, 0x1 | PCI_EXP_DEVCAP_RBER, 0);
	/* MRRS 512, no-snoop and relaxed ordering on, as after reset */
	psim_put(f, pos + PCI_EXP_DEVCTL, 2, 0x2810, 0x7fff);
	if (link) {
		/* 2.5 GT/s x1, no ASPM: the kernel leaves the link alone */
		lnkcap = PCI_EXP_LNKCAP_SLS_2_5GB | (1 << 4) |
			 (PCI_SLOT(f->devfn) << 24);
		lnksta = PCI_EXP_LNKSTA_CLS_2_5GB | (1 << 4);
		if (psim_is_dsport(f)) {
			lnkcap |= PCI_EXP_LNKCAP_DLLLARC;
			if (!s->link_down)
				lnksta |= PCI_EXP_LNKSTA_DLLLA;
		}
		psim_put(f, pos + PCI_EXP_LNKCAP, 4, lnkcap, 0);
		/* Retrain Link (bit 5) reads 0: training is instant */
		psim_put(f, pos + PCI_EXP_LNKCTL, 2, 0, 0x0fdb);
		psim_put(f, pos + PCI_EXP_LNKSTA, 2, lnksta, 0);
		psim_put(f, pos + PCI_EXP_LNKCAP2, 4, PCI_EXP_LNKCAP2_SLS_2_5GB, 0);
		psim_put(f, pos + PCI_EXP_LNKCTL2, 2, 1, 0xffff);
	}
	if (s->slot) {
		sltcap = PCI_EXP_SLTCAP_HPC | PCI_EXP_SLTCAP_NCCS |
			 ((0x1000 | (f->devfn << 4)) << 19);
		psim_put(f, pos + PCI_EXP_SLTCAP, 4, sltcap, 0);
		psim_put(f, pos + PCI_EXP_SLTCTL, 2, 0, 0x1fff);
		psim_put(f, pos + PCI_EXP_SLTSTA, 2,
			 s->link_down ? 0 : PCI_EXP_SLTSTA_PDS, 0);
	}
	if (s->type == PSIM_RP)
		psim_put(f, pos + PCI_EXP_RTCTL, 2, 0, 0x001f);
	if (s->ari && psim_is_bridge(f))
		devcap2 |= PCI_EXP_DEVCAP2_ARI;
	psim_put(f, pos + PCI_EXP_DEVCAP2, 4, devcap2, 0);
	psim_put(f, pos + PCI_EXP_DEVCTL2, 2, 0,
		 0x001f | (devcap2 & PCI_EXP_DEVCAP2_ARI ? PCI_EXP_DEVCTL2_ARI : 0));
	return pos + PSIM_PCIE_SIZE;
}

static int psim_build_pcix(struct psim_fn *f, int pos)
{
	u32 status = PCI_X_STATUS_64BIT | PCI_X_STATUS_133MHZ;

	f->pcix = pos;
	psim_put(f, pos, 2, PCI_CAP_ID_PCIX, 0);
	if (psim_is_bridge(f)) {
		/* Secondary Status: 133 MHz capable, 64-bit */
		psim_put(f, pos + PCI_X_BRIDGE_SSTATUS, 2, 0x0003, 0);
		psim_put(f, pos + PCI_X_BRIDGE_STATUS, 4, status, 0);
	} else {
		psim_put(f, pos + PCI_X_CMD, 2, 0, 0x007f);
		psim_put(f, pos + PCI_X_STATUS, 4, status, 0);
	}
	return pos + PSIM_PCIX_SIZE;
}

static void psim_link_cap(struct psim_fn *f, int pos, int *prev)
{
	if (*prev)
		f->cfg[*prev + 1] = pos;
	else
		f->cfg[PCI_CAPABILITY_LIST] = pos;
	*prev = pos;
}

static void psim_link_ext(struct psim_fn *f, int pos, u16 id, int *prev)
{
	psim_put(f, pos, 4, id | (1 << 16), 0);
	if (*prev) {
		/* Next Capability Offset: bits 31:20 of the header */
		f->cfg[*prev + 2] |= (pos << 4) & 0xf0;
		f->cfg[*prev + 3] = pos >> 4;
	}
	*prev = pos;
}

static int psim_build_acs(struct psim_fn *f, int pos)
{
	const struct psim_spec *s = &f->spec;
	u16 cap = s->acs_cap, wm = cap & PSIM_ACS_STD;

	if (cap & PSIM_ACS_ECAP)
		wm |= PSIM_ACS_ENH_CTL;
	if (cap & PCI_ACS_EC)
		cap = (cap & 0x00ff) | (8 << 8);	/* an 8-bit vector */
	f->acs = pos;
	psim_put(f, pos + PCI_ACS_CAP, 2, cap, 0);
	psim_put(f, pos + PCI_ACS_CTRL, 2, s->acs_ctl & wm, wm);
	if (cap & PCI_ACS_EC)
		psim_put(f, pos + PCI_ACS_EGRESS_CTL_V, 4, 0, 0xff);
	return pos + PSIM_ACS_SIZE;
}

static int psim_build_sriov(struct psim_fn *f, int pos)
{
	const struct psim_spec *s = &f->spec;

	f->sriov = pos;
	psim_put(f, pos + PCI_SRIOV_CTRL, 2, 0, 0x001f);
	psim_put(f, pos + PCI_SRIOV_INITIAL_VF, 2, s->sriov_total, 0);
	psim_put(f, pos + PCI_SRIOV_TOTAL_VF, 2, s->sriov_total, 0);
	psim_put(f, pos + PCI_SRIOV_NUM_VF, 2, 0, 0xffff);
	/* No dependency on other PFs: the link names the PF itself */
	psim_put(f, pos + PCI_SRIOV_FUNC_LINK, 1, PCI_FUNC(f->devfn), 0);
	psim_put(f, pos + PCI_SRIOV_VF_OFFSET, 2, s->sriov_offset, 0);
	psim_put(f, pos + PCI_SRIOV_VF_STRIDE, 2, s->sriov_stride, 0);
	psim_put(f, pos + PCI_SRIOV_VF_DID, 2, s->sriov_vfdid, 0);
	psim_put(f, pos + PCI_SRIOV_SUP_PGSIZE, 4, 0x553, 0);
	psim_put(f, pos + PCI_SRIOV_SYS_PGSIZE, 4, 1, 0xffffffff);
	return pos + PSIM_SRIOV_SIZE;
}

static void psim_build(struct psim_fn *f)
{
	const struct psim_spec *s = &f->spec;
	int pos = PSIM_PCIE_POS, prev = 0;

	INIT_LIST_HEAD(&f->children);
	INIT_LIST_HEAD(&f->sibling);
	f->cfg_size = psim_is_pcie(f) ? PSIM_CFG_SIZE : 256;
	psim_build_header(f);
	if (psim_is_pcie(f)) {
		psim_link_cap(f, pos, &prev);
		pos = psim_build_pcie(f, pos);
	}
	if (s->pcix) {
		psim_link_cap(f, pos, &prev);
		pos = psim_build_pcix(f, pos);
	}
	if (!prev)
		psim_put(f, PCI_STATUS, 2, 0, 0);
	if (!psim_is_pcie(f))
		return;

	pos = PSIM_EXT_POS;
	prev = 0;
	if (s->has_acs) {
		psim_link_ext(f, pos, PCI_EXT_CAP_ID_ACS, &prev);
		pos = psim_build_acs(f, pos);
	}
	if (s->ari && !psim_is_bridge(f)) {
		psim_link_ext(f, pos, PCI_EXT_CAP_ID_ARI, &prev);
		f->ari = pos;
		psim_put(f, pos + PCI_ARI_CTRL, 2, 0, 0x0073);
		pos += PSIM_ARI_SIZE;
	}
	if (s->sriov_total && !f->pf) {
		psim_link_ext(f, pos, PCI_EXT_CAP_ID_SRIOV, &prev);
		pos = psim_build_sriov(f, pos);
	}
}

struct psim_fn *psim_fn_build(const struct psim_spec *s)
{
	struct psim_fn *f = kvzalloc(sizeof(*f), GFP_KERNEL);

	if (!f)
		return NULL;
	f->spec = *s;
	f->devfn = s->devfn;
	psim_build(f);
	return f;
}

/* A VF looks like its PF without SR-IOV, BAR, multifunction or PCI-X */
struct psim_fn *psim_vf_build(struct psim_fn *pf, u16 index)
{
	struct psim_fn *f = kvzalloc(sizeof(*f), GFP_KERNEL);

	if (!f)
		return NULL;
	f->spec = pf->spec;
	snprintf(f->spec.name, sizeof(f->spec.name), "%.31s.vf%u",
		 pf->spec.name, index);
	f->spec.mf = false;
	f->spec.pcix = false;
	f->spec.bar_size = 0;
	f->spec.sriov_total = 0;
	f->spec.acs_ctl = 0;
	f->pf = pf;
	f->vf_index = index;
	psim_build(f);
	return f;
}

void psim_fn_free(struct psim_fn *f)
{
	struct psim_fn *c, *tmp;
	int i;

	list_for_each_entry_safe(c, tmp, &f->children, sibling) {
		list_del(&c->sibling);
		psim_fn_free(c);
	}
	for (i = 0; i < f->nr_vfs; i++)
		kvfree(f->vfs[i]);
	kfree(f->vfs);
	kvfree(f);
}

/* The ARI functions of a bus form one chain by Next Function Number */
void psim_ari_relink(struct list_head *segment)
{
	struct psim_fn *f, *prev = NULL;

	list_for_each_entry(f, segment, sibling) {
		if (!f->ari)
			continue;
		if (prev)
			prev->cfg[prev->ari + PCI_ARI_CAP + 1] = f->devfn;
		f->cfg[f->ari + PCI_ARI_CAP + 1] = 0;
		prev = f;
	}
}

static bool psim_vf_on(struct psim_fn *pf, u16 *num)
{
	u16 ctrl;

	if (!pf->sriov || !pf->nr_vfs)
		return false;
	ctrl = psim_get(pf, pf->sriov + PCI_SRIOV_CTRL, 2);
	*num = min_t(u16, psim_get(pf, pf->sriov + PCI_SRIOV_NUM_VF, 2),
		     pf->nr_vfs);
	return (ctrl & PCI_SRIOV_CTRL_VFE) && *num;
}

/* Routing ID of VF @i of @pf when the PF sits on bus @bus */
static int psim_vf_rid(struct psim_fn *pf, int bus, int i)
{
	return (bus << 8) + pf->devfn +
	       psim_get(pf, pf->sriov + PCI_SRIOV_VF_OFFSET, 2) +
	       psim_get(pf, pf->sriov + PCI_SRIOV_VF_STRIDE, 2) * i;
}

static struct psim_fn *psim_vf_at(struct psim_fn *pf, int sec, int rid)
{
	int off, stride, delta;
	u16 num;

	if (!psim_vf_on(pf, &num))
		return NULL;
	off = psim_get(pf, pf->sriov + PCI_SRIOV_VF_OFFSET, 2);
	stride = psim_get(pf, pf->sriov + PCI_SRIOV_VF_STRIDE, 2);
	delta = rid - ((sec << 8) + pf->devfn + off);
	if (delta < 0)
		return NULL;
	if (!stride)
		return delta ? NULL : pf->vfs[0];
	if (delta % stride || delta / stride >= num)
		return NULL;
	return pf->vfs[delta / stride];
}

/*
 * The function answering a config request for @bus/@devfn: a type 0
 * request on the bus segment @list (bus number @sec), or forwarded
 * downstream by the bridge whose bus range holds @bus.
 */
static struct psim_fn *psim_route_seg(struct list_head *list, int sec,
				      int bus, int devfn)
{
	struct psim_fn *f, *vf;
	int s, sub;

	list_for_each_entry(f, list, sibling) {
		if (bus == sec && f->devfn == devfn)
			return f;
		if (!psim_is_bridge(f))
			continue;
		s = f->cfg[PCI_SECONDARY_BUS];
		sub = f->cfg[PCI_SUBORDINATE_BUS];
		/* A secondary bus at or above its own bus forwards nothing */
		if (s > sec && bus >= s && bus <= sub)
			return psim_route_seg(&f->children, s, bus, devfn);
	}
	/* VFs may sit on this bus or past it on bus numbers no bridge claims */
	list_for_each_entry(f, list, sibling) {
		vf = psim_vf_at(f, sec, (bus << 8) | devfn);
		if (vf)
			return vf;
	}
	return NULL;
}

static struct psim_host *psim_bus_host(struct pci_bus *bus)
{
	return container_of(bus->sysdata, struct psim_host, sd);
}

static int psim_cfg_read(struct pci_bus *bus, unsigned int devfn, int where,
			 int size, u32 *val)
{
	struct psim_host *h = psim_bus_host(bus);
	struct psim_fn *f;
	unsigned long flags;

	raw_spin_lock_irqsave(&h->lock, flags);
	f = psim_route_seg(&h->root, 0, bus->number, devfn);
	if (f && where + size <= f->cfg_size)
		*val = psim_get(f, where, size);
	else
		*val = ~0;	/* Unsupported Request: all ones */
	raw_spin_unlock_irqrestore(&h->lock, flags);
	return PCIBIOS_SUCCESSFUL;
}

static int psim_cfg_write(struct pci_bus *bus, unsigned int devfn, int where,
			  int size, u32 val)
{
	struct psim_host *h = psim_bus_host(bus);
	struct psim_fn *f;
	unsigned long flags;
	int i;

	raw_spin_lock_irqsave(&h->lock, flags);
	f = psim_route_seg(&h->root, 0, bus->number, devfn);
	if (f && where + size <= f->cfg_size) {
		for (i = 0; i < size; i++) {
			u8 m = f->wmask[where + i], b = val >> (8 * i);

			f->cfg[where + i] = (f->cfg[where + i] & ~m) | (b & m);
		}
	}
	raw_spin_unlock_irqrestore(&h->lock, flags);
	return PCIBIOS_SUCCESSFUL;
}

struct pci_ops psim_pci_ops = {
	.read = psim_cfg_read,
	.write = psim_cfg_write,
};

/* Bus numbers past @sec that the VFs of the PFs on this segment need */
static int psim_iov_buses(struct list_head *list, int sec)
{
	int last = sec, total;
	struct psim_fn *f;

	list_for_each_entry(f, list, sibling) {
		total = f->spec.sriov_total;
		if (f->sriov && total)
			last = max(last, psim_vf_rid(f, sec, total - 1) >> 8);
	}
	return last - sec;
}

/* Depth first, as firmware numbers buses; returns the highest bus used */
static int psim_assign_seg(struct list_head *list, int sec)
{
	int max = sec + psim_iov_buses(list, sec), s, sub;
	struct psim_fn *f;

	list_for_each_entry(f, list, sibling) {
		if (!psim_is_bridge(f))
			continue;
		s = max + 1;
		if (s > 0xff)
			return -ENOSPC;
		f->cfg[PCI_PRIMARY_BUS] = sec;
		f->cfg[PCI_SECONDARY_BUS] = s;
		f->cfg[PCI_SUBORDINATE_BUS] = 0xff;
		sub = psim_assign_seg(&f->children, s);
		if (sub < 0)
			return sub;
		if (f->spec.buses)
			sub = max(sub, s + f->spec.buses - 1);
		if (sub > 0xff)
			return -ENOSPC;
		f->cfg[PCI_SUBORDINATE_BUS] = sub;
		max = sub;
	}
	return max;
}

int psim_assign_buses(struct psim_host *h)
{
	unsigned long flags;
	int ret;

	raw_spin_lock_irqsave(&h->lock, flags);
	ret = psim_assign_seg(&h->root, 0);
	raw_spin_unlock_irqrestore(&h->lock, flags);
	return ret < 0 ? ret : 0;
}

/* The routing ID @f answers at now, or -1 if no request reaches it */
int psim_fn_rid(struct psim_host *h, struct psim_fn *f)
{
	unsigned long flags;
	int bus = 0;

	raw_spin_lock_irqsave(&h->lock, flags);
	if (f->pf) {
		u16 num;

		if (f->pf->parent)
			bus = f->pf->parent->cfg[PCI_SECONDARY_BUS];
		if (!psim_vf_on(f->pf, &num) || f->vf_index >= num)
			bus = -1;
		else if (!f->pf->parent || bus)
			bus = psim_vf_rid(f->pf, bus, f->vf_index);
		else
			bus = -1;
		if (bus > 0xffff)
			bus = -1;
	} else if (f->parent) {
		bus = f->parent->cfg[PCI_SECONDARY_BUS];
		bus = bus ? bus << 8 | f->devfn : -1;
	} else {
		bus = f->devfn;
	}
	raw_spin_unlock_irqrestore(&h->lock, flags);
	return bus;
}
