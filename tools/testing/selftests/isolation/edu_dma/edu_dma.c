// SPDX-License-Identifier: GPL-2.0
/*
 * edu_dma - a DMA-API driver for the QEMU "edu" device (1234:11e8), used by
 * the isolation selftests to check that a kernel driver's DMA works, or is
 * refused, depending on who owns the device's group.
 *
 * The driver matches no device by itself (its ID table is empty): a test
 * binds it explicitly through driver_override. On probe it does one DMA
 * round trip through a coherent buffer (RAM -> edu buffer -> RAM) and fails
 * with -EIO unless the bytes come back intact. Reading the device attribute
 * "dma_test" does another round trip and reports "ok <bytes>" or
 * "fail <reason>".
 */

#include <linux/bits.h>
#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/io.h>
#include <linux/io-64-nonatomic-lo-hi.h>
#include <linux/iopoll.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/swab.h>
#include <linux/sysfs.h>

#define EDU_VENDOR		0x1234
#define EDU_DEVICE		0x11e8

/* BAR0 registers */
#define EDU_REG_ID		0x00	/* 0xRRrr00ed: major, minor, 0xed */
#define EDU_ID_MAGIC		0xed
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_CNT		0x90
#define EDU_REG_DMA_CMD		0x98
#define EDU_CMD_START		BIT(0)
#define EDU_CMD_FROM_DEV	BIT(1)	/* edu buffer -> RAM; clear: RAM -> edu */

/* The edu's own 4 KiB buffer, at this address on the device side. */
#define EDU_DEV_BUF		0x40000
/* The edu clamps DMA addresses to 28 bits. */
#define EDU_DMA_BITS		28
/* QEMU 7.2 aborts on a transfer of the whole 4096-byte buffer. */
#define EDU_XFER_LEN		4095

/* Coherent buffer: the source at offset 0, the destination at EDU_DST_OFF. */
#define EDU_DST_OFF		4096
#define EDU_COHERENT_SIZE	(2 * EDU_DST_OFF)

/* QEMU starts a transfer 100 ms (virtual time) after the command. */
#define EDU_POLL_US		1000
#define EDU_TIMEOUT_US		(5 * USEC_PER_SEC)

/**
 * struct edu_dma - state of one bound edu device
 * @pdev: the PCI device
 * @bar: BAR0, the registers
 * @buf: CPU address of the coherent buffer
 * @buf_dma: device address of @buf
 * @lock: serialises round trips (the edu has one DMA engine)
 * @runs: round trips done; seeds the byte pattern so that stale data from
 *	an earlier run cannot pass for a fresh transfer
 */
struct edu_dma {
	struct pci_dev *pdev;
	void __iomem *bar;
	u8 *buf;
	dma_addr_t buf_dma;
	struct mutex lock;	/* serialises round trips */
	unsigned int runs;
	bool swapped;
};

/*
 * QEMU's edu has its registers in the target's byte order
 * (DEVICE_NATIVE_ENDIAN): big-endian on qemu-system-ppc64 whatever the guest
 * runs. @swapped is set when the ID register reads byte-swapped.
 */
static void edu_writeq(struct edu_dma *edu, u64 val, unsigned int reg)
{
	writeq(edu->swapped ? swab64(val) : val, edu->bar + reg);
}

static u64 edu_readq(struct edu_dma *edu, unsigned int reg)
{
	u64 val = readq(edu->bar + reg);

	return edu->swapped ? swab64(val) : val;
}

/**
 * edu_dma_xfer() - run one transfer on the edu's DMA engine
 * @edu: the device
 * @addr: device address of the RAM side
 * @to_device: true for RAM -> edu buffer, false for edu buffer -> RAM
 * @len: bytes to move, at most EDU_XFER_LEN
 *
 * Completion only says the engine ran, not that the IOMMU let the data
 * through: callers compare bytes.
 *
 * Return: 0 when the engine cleared its start bit, -ETIMEDOUT otherwise.
 */
static int edu_dma_xfer(struct edu_dma *edu, dma_addr_t addr, bool to_device,
			size_t len)
{
	u64 cmd;

	if (to_device) {
		edu_writeq(edu, addr, EDU_REG_DMA_SRC);
		edu_writeq(edu, EDU_DEV_BUF, EDU_REG_DMA_DST);
	} else {
		edu_writeq(edu, EDU_DEV_BUF, EDU_REG_DMA_SRC);
		edu_writeq(edu, addr, EDU_REG_DMA_DST);
	}
	edu_writeq(edu, len, EDU_REG_DMA_CNT);
	edu_writeq(edu, EDU_CMD_START | (to_device ? 0 : EDU_CMD_FROM_DEV),
		   EDU_REG_DMA_CMD);

	return read_poll_timeout(edu_readq, cmd, !(cmd & EDU_CMD_START),
				 EDU_POLL_US, EDU_TIMEOUT_US, false, edu,
				 EDU_REG_DMA_CMD);
}

/**
 * edu_dma_round_trip() - move a fresh pattern to the edu and back
 * @edu: the device
 * @msg: on failure, a description for the user
 * @len: size of @msg
 *
 * Fills the source half of the coherent buffer with a pattern that differs
 * from run to run, poisons the destination half, copies the source into the
 * edu's buffer and the edu's buffer into the destination, then compares.
 *
 * Return: the number of bytes verified, or a negative errno (-ETIMEDOUT if
 * the engine hung, -EIO if the bytes differ).
 */
static int edu_dma_round_trip(struct edu_dma *edu, char *msg, size_t len)
{
	u8 *src = edu->buf, *dst = edu->buf + EDU_DST_OFF;
	u8 seed;
	size_t i;
	int ret;

	mutex_lock(&edu->lock);
	seed = 0x5a + 37 * edu->runs++;
	for (i = 0; i < EDU_XFER_LEN; i++) {
		src[i] = seed + i * 7 + (i >> 8);
		dst[i] = ~src[i];
	}

	ret = edu_dma_xfer(edu, edu->buf_dma, true, EDU_XFER_LEN);
	if (ret) {
		scnprintf(msg, len, "timeout RAM->device");
		goto out;
	}
	ret = edu_dma_xfer(edu, edu->buf_dma + EDU_DST_OFF, false,
			   EDU_XFER_LEN);
	if (ret) {
		scnprintf(msg, len, "timeout device->RAM");
		goto out;
	}

	for (i = 0; i < EDU_XFER_LEN; i++) {
		if (dst[i] != src[i]) {
			scnprintf(msg, len,
				  "mismatch at %zu: got 0x%02x want 0x%02x",
				  i, dst[i], src[i]);
			ret = -EIO;
			goto out;
		}
	}
	ret = EDU_XFER_LEN;
out:
	mutex_unlock(&edu->lock);
	return ret;
}

/*
 * Reading dma_test runs a round trip: "ok <bytes>" or "fail <reason>".
 */
static ssize_t dma_test_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct edu_dma *edu = dev_get_drvdata(dev);
	char msg[64];
	int ret;

	ret = edu_dma_round_trip(edu, msg, sizeof(msg));
	if (ret < 0)
		return sysfs_emit(buf, "fail %s\n", msg);
	return sysfs_emit(buf, "ok %d\n", ret);
}
static DEVICE_ATTR_RO(dma_test);

static struct attribute *edu_dma_attrs[] = {
	&dev_attr_dma_test.attr,
	NULL
};
ATTRIBUTE_GROUPS(edu_dma);

/**
 * edu_dma_probe() - set the edu up for DMA and prove that DMA works
 * @pdev: the device (bound through driver_override)
 * @id: unused; always pci_device_id_any with driver_override
 *
 * Return: 0, -ENODEV for a device that is not an edu, -EIO if the DMA round
 * trip does not bring the bytes back, or the errno of the failing step.
 */
static int edu_dma_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	struct edu_dma *edu;
	char msg[64];
	u32 ident;
	int ret;

	/* driver_override matches any device: refuse anything but an edu */
	if (pdev->vendor != EDU_VENDOR || pdev->device != EDU_DEVICE)
		return -ENODEV;

	edu = kzalloc(sizeof(*edu), GFP_KERNEL);
	if (!edu)
		return -ENOMEM;
	edu->pdev = pdev;
	mutex_init(&edu->lock);

	ret = pci_enable_device(pdev);
	if (ret)
		goto err_free;
	ret = pci_request_region(pdev, 0, KBUILD_MODNAME);
	if (ret)
		goto err_disable;
	edu->bar = pci_iomap(pdev, 0, 0);
	if (!edu->bar) {
		ret = -ENOMEM;
		goto err_release;
	}
	ident = readl(edu->bar + EDU_REG_ID);
	if ((ident & 0xff) != EDU_ID_MAGIC && (swab32(ident) & 0xff) == EDU_ID_MAGIC) {
		edu->swapped = true;
		ident = swab32(ident);
	}
	if ((ident & 0xff) != EDU_ID_MAGIC) {
		dev_err(dev, "unexpected identification 0x%08x\n", ident);
		ret = -ENODEV;
		goto err_unmap;
	}

	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(EDU_DMA_BITS));
	if (ret) {
		dev_err(dev, "no usable %d-bit DMA: %d\n", EDU_DMA_BITS, ret);
		goto err_unmap;
	}
	pci_set_master(pdev);

	edu->buf = dma_alloc_coherent(dev, EDU_COHERENT_SIZE, &edu->buf_dma,
				      GFP_KERNEL);
	if (!edu->buf) {
		ret = -ENOMEM;
		goto err_master;
	}

	ret = edu_dma_round_trip(edu, msg, sizeof(msg));
	if (ret < 0) {
		dev_err(dev, "DMA round trip at %pad failed: %s\n",
			&edu->buf_dma, msg);
		ret = -EIO;
		goto err_dma;
	}
	dev_info(dev, "DMA round trip of %d bytes at %pad ok\n", ret,
		 &edu->buf_dma);

	pci_set_drvdata(pdev, edu);
	return 0;

err_dma:
	dma_free_coherent(dev, EDU_COHERENT_SIZE, edu->buf, edu->buf_dma);
err_master:
	pci_clear_master(pdev);
err_unmap:
	pci_iounmap(pdev, edu->bar);
err_release:
	pci_release_region(pdev, 0);
err_disable:
	pci_disable_device(pdev);
err_free:
	mutex_destroy(&edu->lock);
	kfree(edu);
	return ret;
}

/**
 * edu_dma_remove() - undo edu_dma_probe()
 * @pdev: the device
 *
 * The driver core removes dma_test before it calls this, so no round trip
 * can be running.
 */
static void edu_dma_remove(struct pci_dev *pdev)
{
	struct edu_dma *edu = pci_get_drvdata(pdev);

	dma_free_coherent(&pdev->dev, EDU_COHERENT_SIZE, edu->buf,
			  edu->buf_dma);
	pci_clear_master(pdev);
	pci_iounmap(pdev, edu->bar);
	pci_release_region(pdev, 0);
	pci_disable_device(pdev);
	mutex_destroy(&edu->lock);
	kfree(edu);
}

/*
 * Deliberately empty: the driver never binds by itself (tests bind it with
 * driver_override), and there is no MODULE_DEVICE_TABLE to autoload it.
 */
static const struct pci_device_id edu_dma_ids[] = {
	{ }
};

static struct pci_driver edu_dma_driver = {
	.name		= KBUILD_MODNAME,
	.id_table	= edu_dma_ids,
	.probe		= edu_dma_probe,
	.remove		= edu_dma_remove,
	.dev_groups	= edu_dma_groups,
};
module_pci_driver(edu_dma_driver);

MODULE_DESCRIPTION("DMA-API test driver for the QEMU edu device");
MODULE_LICENSE("GPL");
