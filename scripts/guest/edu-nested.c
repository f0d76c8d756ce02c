// SPDX-License-Identifier: GPL-2.0
/*
 * edu-nested: /init of the nested guest of the "realusers" suite.
 *
 * The outer vtd guest runs Debian's qemu-system-x86_64 with an edu assigned
 * through vfio-pci; this program runs in that nested guest (no IOMMU there)
 * and drives the edu from user space: it finds the device, reads its ID
 * register, computes a factorial through MMIO, and moves a fresh pattern
 * RAM -> edu buffer -> RAM with the edu's DMA engine, using pages whose
 * guest-physical address it reads from /proc/self/pagemap. Each step prints
 * one "edu-nested: ..." line; the last is "edu-nested: PASS" or
 * "edu-nested: FAIL <reason>". Then it powers the nested guest off.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <time.h>
#include <unistd.h>

#define EDU_ID		0x00
#define EDU_FACT	0x08
#define EDU_STATUS	0x20	/* bit 0: factorial computing */
#define EDU_DMA_SRC	0x80
#define EDU_DMA_DST	0x88
#define EDU_DMA_CNT	0x90
#define EDU_DMA_CMD	0x98
#define EDU_CMD_START	0x1
#define EDU_CMD_TO_RAM	0x2	/* edu buffer -> RAM; clear: RAM -> edu */
#define EDU_BUF		0x40000
#define XFER		4095	/* QEMU 7.2 aborts on a 4096-byte transfer */
#define PAGE		4096

static volatile uint8_t *bar;

static void finish(const char *fmt, ...)
{
	va_list ap;

	printf("edu-nested: ");
	if (fmt) {
		printf("FAIL ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	} else {
		printf("PASS\n");
	}
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

static uint32_t rd32(unsigned int off)
{
	return *(volatile uint32_t *)(bar + off);
}

static void wr32(unsigned int off, uint32_t v)
{
	*(volatile uint32_t *)(bar + off) = v;
}

static uint64_t rd64(unsigned int off)
{
	return *(volatile uint64_t *)(bar + off);
}

static void wr64(unsigned int off, uint64_t v)
{
	*(volatile uint64_t *)(bar + off) = v;
}

static int read_hex(const char *dir, const char *file, unsigned long *val)
{
	char path[512], buf[32];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	*val = strtoul(buf, NULL, 16);
	return 0;
}

/* Guest-physical address of the page at virt (locked and present). */
static uint64_t phys_of(void *virt)
{
	uint64_t ent;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		finish("open pagemap: %s", strerror(errno));
	if (pread(fd, &ent, sizeof(ent),
		  (uintptr_t)virt / PAGE * sizeof(ent)) != sizeof(ent))
		finish("read pagemap: %s", strerror(errno));
	close(fd);
	if (!(ent & (1ULL << 63)) || !(ent & ((1ULL << 55) - 1)))
		finish("pagemap gives no frame (present %d)", !!(ent >> 63));
	return (ent & ((1ULL << 55) - 1)) * PAGE;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One transfer; the engine starts 100 ms (virtual) after the command. */
static void dma(uint64_t src, uint64_t dst, int to_ram)
{
	double end = now() + 10;

	wr64(EDU_DMA_SRC, src);
	wr64(EDU_DMA_DST, dst);
	wr64(EDU_DMA_CNT, XFER);
	wr64(EDU_DMA_CMD, EDU_CMD_START | (to_ram ? EDU_CMD_TO_RAM : 0));
	while (rd64(EDU_DMA_CMD) & EDU_CMD_START) {
		if (now() > end)
			finish("DMA %s timed out", to_ram ? "edu->RAM" : "RAM->edu");
		usleep(1000);
	}
}

int main(void)
{
	char dev[300] = "", path[400];
	unsigned long vendor, device;
	uint8_t *src, *dst, seed;
	uint64_t psrc, pdst;
	uint16_t cmd;
	struct dirent *de;
	uint32_t id, fact;
	DIR *d;
	int fd, i;

	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);

	d = opendir("/sys/bus/pci/devices");
	if (!d)
		finish("no /sys/bus/pci/devices");
	while ((de = readdir(d))) {
		char p[300];

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s", de->d_name);
		if (!read_hex(p, "vendor", &vendor) &&
		    !read_hex(p, "device", &device) &&
		    vendor == 0x1234 && device == 0x11e8) {
			strcpy(dev, p);
			break;
		}
	}
	closedir(d);
	if (!dev[0])
		finish("no edu (1234:11e8) on the nested PCI bus");
	printf("edu-nested: found 1234:11e8 at %s\n", strrchr(dev, '/') + 1);

	/* memory decoding and bus mastering: no driver does it for us */
	snprintf(path, sizeof(path), "%s/config", dev);
	fd = open(path, O_RDWR);
	if (fd < 0 || pread(fd, &cmd, 2, 4) != 2)
		finish("read config: %s", strerror(errno));
	cmd |= 0x6;
	if (pwrite(fd, &cmd, 2, 4) != 2)
		finish("write config: %s", strerror(errno));
	close(fd);

	snprintf(path, sizeof(path), "%s/resource0", dev);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0)
		finish("open resource0: %s", strerror(errno));
	bar = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (bar == MAP_FAILED)
		finish("mmap resource0: %s", strerror(errno));

	id = rd32(EDU_ID);
	printf("edu-nested: id 0x%08x\n", id);
	if (id != 0x010000ed)
		finish("id 0x%08x, want 0x010000ed", id);

	wr32(EDU_FACT, 10);
	for (i = 0; i < 1000 && (rd32(EDU_STATUS) & 1); i++)
		usleep(1000);
	fact = rd32(EDU_FACT);
	printf("edu-nested: factorial(10) = %u\n", fact);
	if (fact != 3628800)
		finish("factorial(10) = %u, want 3628800", fact);

	/* two locked pages: each is physically contiguous by itself */
	src = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED | MAP_POPULATE,
		   -1, 0);
	if (src == MAP_FAILED || mlock(src, 2 * PAGE))
		finish("locked buffer: %s", strerror(errno));
	dst = src + PAGE;
	seed = (uint8_t)(now() * 1000);
	for (i = 0; i < XFER; i++) {
		src[i] = seed + i * 7 + (i >> 8);
		dst[i] = ~src[i];
	}
	psrc = phys_of(src);
	pdst = phys_of(dst);
	printf("edu-nested: DMA buffers at 0x%llx and 0x%llx\n",
	       (unsigned long long)psrc, (unsigned long long)pdst);
	if (pdst >= 1ULL << 28 || psrc >= 1ULL << 28)
		finish("buffer above the edu's 28-bit DMA range");

	dma(psrc, EDU_BUF, 0);
	dma(EDU_BUF, pdst, 1);
	for (i = 0; i < XFER; i++)
		if (dst[i] != src[i])
			finish("DMA mismatch at %d: got 0x%02x want 0x%02x",
			       i, dst[i], src[i]);
	printf("edu-nested: DMA round trip of %d bytes ok\n", XFER);
	finish(NULL);
	return 0;
}
