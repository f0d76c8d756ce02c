/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The QEMU "edu" device (1234:11e8) as a DMA engine for tests. BAR0 holds
 * the registers; the device's own 4 KiB buffer sits at device address
 * EDU_BUF. The device starts a transfer when EDU_CMD is written with
 * EDU_CMD_START and clears that bit when done. Bus mastering must be on
 * in the PCI command register, or QEMU drops the transfer.
 */
#ifndef EDU_H
#define EDU_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define EDU_VENDOR	0x1234
#define EDU_DEVICE	0x11e8
#define EDU_BAR0_SIZE	0x100000

#define EDU_ID		0x00	/* reads 0x010000ed */
#define EDU_ID_VALUE	0x010000edu
#define EDU_LIVENESS	0x04	/* reads back the bitwise NOT of what was written */
#define EDU_DMA_SRC	0x80
#define EDU_DMA_DST	0x88
#define EDU_DMA_CNT	0x90
#define EDU_DMA_CMD	0x98
#define EDU_CMD_START	0x1
#define EDU_CMD_TO_RAM	0x2	/* device buffer -> RAM; clear: RAM -> device buffer */

#define EDU_BUF		0x40000
/*
 * QEMU 7.2 aborts the VM (hw_error) on a transfer that reaches the end of
 * the 4096-byte buffer: offset + count must stay below 4096.
 */
#define EDU_MAX_XFER	4095
/* Device addresses are clamped to the edu's 28-bit DMA mask. */
#define EDU_DMA_BITS	28

/* Relaxed atomics keep the compiler from merging or dropping MMIO accesses. */
static inline uint32_t edu_raw_rd32(void *bar, unsigned int off)
{
	return __atomic_load_n((uint32_t *)((char *)bar + off), __ATOMIC_RELAXED);
}

/*
 * QEMU keeps the edu's registers in its target's byte order: big-endian on
 * qemu-system-ppc64 whatever the guest runs, so a little-endian ppc64 guest
 * reads the ID as 0xed000001. Told once from the ID register (one QEMU, one
 * order); the DMA data itself is bytes.
 */
static int edu_order;	/* 0 not known yet, 1 as the CPU, -1 swapped */

static inline bool edu_swapped(void *bar)
{
	if (!edu_order)
		edu_order = edu_raw_rd32(bar, EDU_ID) ==
			    __builtin_bswap32(EDU_ID_VALUE) ? -1 : 1;
	return edu_order < 0;
}

static inline uint32_t edu_rd32(void *bar, unsigned int off)
{
	uint32_t v = edu_raw_rd32(bar, off);

	return edu_swapped(bar) ? __builtin_bswap32(v) : v;
}

static inline void edu_wr32(void *bar, unsigned int off, uint32_t v)
{
	if (edu_swapped(bar))
		v = __builtin_bswap32(v);
	__atomic_store_n((uint32_t *)((char *)bar + off), v, __ATOMIC_RELAXED);
}

static inline uint64_t edu_rd64(void *bar, unsigned int off)
{
	uint64_t v = __atomic_load_n((uint64_t *)((char *)bar + off), __ATOMIC_RELAXED);

	return edu_swapped(bar) ? __builtin_bswap64(v) : v;
}

static inline void edu_wr64(void *bar, unsigned int off, uint64_t v)
{
	if (edu_swapped(bar))
		v = __builtin_bswap64(v);
	__atomic_store_n((uint64_t *)((char *)bar + off), v, __ATOMIC_RELAXED);
}

/*
 * One transfer between device address @iova and the edu's buffer (offset
 * @off in it). Returns 0 when the engine reports completion, -ETIMEDOUT
 * after @timeout_ms. Completion says nothing about whether the IOMMU let
 * the data through: callers compare bytes.
 */
static inline int edu_dma(void *bar, uint64_t iova, unsigned int off,
			  uint64_t count, bool to_device, int timeout_ms)
{
	struct timespec ts = { 0, 1000 * 1000 };
	int waited;

	/* QEMU's edu aborts the whole VM on a range past EDU_MAX_XFER */
	if (!count || off + count > EDU_MAX_XFER)
		return -EINVAL;
	if (to_device) {
		edu_wr64(bar, EDU_DMA_SRC, iova);
		edu_wr64(bar, EDU_DMA_DST, EDU_BUF + off);
	} else {
		edu_wr64(bar, EDU_DMA_SRC, EDU_BUF + off);
		edu_wr64(bar, EDU_DMA_DST, iova);
	}
	edu_wr64(bar, EDU_DMA_CNT, count);
	edu_wr64(bar, EDU_DMA_CMD, EDU_CMD_START | (to_device ? 0 : EDU_CMD_TO_RAM));
	for (waited = 0; waited < timeout_ms; waited++) {
		if (!(edu_rd64(bar, EDU_DMA_CMD) & EDU_CMD_START))
			return 0;
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

#endif
