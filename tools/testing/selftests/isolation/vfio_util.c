// SPDX-License-Identifier: GPL-2.0
/* VFIO and kernel-log helpers of the isolation selftests; see vfio_util.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "isolation_util.h"
#include "vfio_util.h"

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define PCI_COMMAND		0x04
#define PCI_COMMAND_MEMORY	0x2
#define PCI_COMMAND_MASTER	0x4

/* Record the failing step and return its -errno (errno must be set). */
static int fail(struct vfio_ctx *c, const char *step)
{
	int err = errno ? errno : EIO;

	c->step = step;
	return -err;
}

void vfio_ctx_init(struct vfio_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->container = -1;
	c->group = -1;
	c->device = -1;
	c->iommufd = -1;
	c->groupnr = -1;
	c->step = "";
}

static void ctx_init(struct vfio_ctx *c, const char *bdf)
{
	vfio_ctx_init(c);
	snprintf(c->bdf, sizeof(c->bdf), "%s", bdf);
}

int vfio_enable_bus_master(int devfd)
{
	struct vfio_region_info reg = {
		.argsz = sizeof(reg),
		.index = VFIO_PCI_CONFIG_REGION_INDEX,
	};
	uint16_t cmd;

	if (ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, &reg))
		return -errno;
	if (pread(devfd, &cmd, sizeof(cmd), reg.offset + PCI_COMMAND) != sizeof(cmd))
		return errno ? -errno : -EIO;
	cmd |= PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY;
	if (pwrite(devfd, &cmd, sizeof(cmd), reg.offset + PCI_COMMAND) != sizeof(cmd))
		return errno ? -errno : -EIO;
	/* read back: vfio-pci virtualizes the command register */
	if (pread(devfd, &cmd, sizeof(cmd), reg.offset + PCI_COMMAND) != sizeof(cmd))
		return errno ? -errno : -EIO;
	if (!(cmd & PCI_COMMAND_MASTER))
		return -EIO;
	return 0;
}

/* mmap BAR0 of a VFIO device fd and turn on bus mastering. */
static int device_setup(struct vfio_ctx *c, int devfd, void **bar0, size_t *size)
{
	struct vfio_region_info reg = {
		.argsz = sizeof(reg),
		.index = VFIO_PCI_BAR0_REGION_INDEX,
	};
	void *p;
	int ret;

	if (bar0) {
		errno = 0;
		if (ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, &reg))
			return fail(c, "VFIO_DEVICE_GET_REGION_INFO(BAR0)");
		if (!(reg.flags & VFIO_REGION_INFO_FLAG_MMAP) || !reg.size) {
			errno = ENXIO;
			return fail(c, "BAR0 not mmap-able");
		}
		p = mmap(NULL, reg.size, PROT_READ | PROT_WRITE, MAP_SHARED, devfd,
			 reg.offset);
		if (p == MAP_FAILED)
			return fail(c, "mmap(BAR0)");
		*bar0 = p;
		if (size)
			*size = reg.size;
	}
	ret = vfio_enable_bus_master(devfd);
	if (ret) {
		c->step = "bus master via config region";
		return ret;
	}
	return 0;
}

int vfio_type1_open(struct vfio_ctx *c, const char *bdf)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[64];
	int ret;

	ctx_init(c, bdf);
	errno = 0;
	c->groupnr = iso_dev_group(bdf);
	if (c->groupnr < 0) {
		errno = ENODEV;
		return fail(c, "iommu_group link");
	}
	c->container = open("/dev/vfio/vfio", O_RDWR);
	if (c->container < 0)
		return fail(c, "open /dev/vfio/vfio");
	ret = ioctl(c->container, VFIO_GET_API_VERSION);
	if (ret != VFIO_API_VERSION) {
		errno = ret < 0 ? errno : EPROTO;
		return fail(c, "VFIO_GET_API_VERSION");
	}
	ret = ioctl(c->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU);
	if (ret <= 0) {
		errno = ret < 0 ? errno : EOPNOTSUPP;
		return fail(c, "VFIO_CHECK_EXTENSION(TYPE1v2)");
	}
	snprintf(path, sizeof(path), "/dev/vfio/%d", c->groupnr);
	c->group = open(path, O_RDWR);
	if (c->group < 0)
		return fail(c, "open /dev/vfio/N");
	if (ioctl(c->group, VFIO_GROUP_GET_STATUS, &status))
		return fail(c, "VFIO_GROUP_GET_STATUS");
	c->group_flags = status.flags;
	/*
	 * Not viable is expected to make SET_CONTAINER fail with EPERM: let the
	 * kernel give its answer rather than guessing it here.
	 */
	if (ioctl(c->group, VFIO_GROUP_SET_CONTAINER, &c->container))
		return fail(c, "VFIO_GROUP_SET_CONTAINER");
	if (ioctl(c->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return fail(c, "VFIO_SET_IOMMU(TYPE1v2)");
	c->device = ioctl(c->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (c->device < 0)
		return fail(c, "VFIO_GROUP_GET_DEVICE_FD");
	return device_setup(c, c->device, &c->bar0, &c->bar0_size);
}

int vfio_type1_open_device(struct vfio_ctx *c, const char *bdf, int *devfd,
			   void **bar0, size_t *bar0_size)
{
	int fd, ret;

	errno = 0;
	fd = ioctl(c->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (fd < 0)
		return fail(c, "VFIO_GROUP_GET_DEVICE_FD");
	if (bar0)
		*bar0 = NULL;
	ret = device_setup(c, fd, bar0, bar0_size);
	if (ret) {
		if (bar0 && *bar0)
			munmap(*bar0, bar0_size ? *bar0_size : 0);
		close(fd);
		return ret;
	}
	*devfd = fd;
	return 0;
}

void vfio_device_put(int devfd, void *bar0, size_t bar0_size)
{
	if (bar0)
		munmap(bar0, bar0_size);
	if (devfd >= 0)
		close(devfd);
}

int vfio_cdev_path(const char *bdf, char *path, size_t len)
{
	char dir[PATH_MAX];
	struct dirent *de;
	int ret = -ENOENT;
	DIR *d;

	snprintf(dir, sizeof(dir), ISO_PCI_DEVICES "/%s/vfio-dev", bdf);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!strncmp(de->d_name, "vfio", 4)) {
			snprintf(path, len, "/dev/vfio/devices/%s", de->d_name);
			ret = 0;
			break;
		}
	}
	closedir(d);
	return ret;
}

int vfio_cdev_open(struct vfio_ctx *c, const char *bdf)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	char path[PATH_MAX];
	int ret;

	ctx_init(c, bdf);
	c->groupnr = iso_dev_group(bdf);
	ret = vfio_cdev_path(bdf, path, sizeof(path));
	if (ret) {
		c->step = "vfio-dev/vfioX in sysfs";
		return ret;
	}
	errno = 0;
	c->device = open(path, O_RDWR);
	if (c->device < 0)
		return fail(c, "open /dev/vfio/devices/vfioX");
	c->iommufd = open("/dev/iommu", O_RDWR);
	if (c->iommufd < 0)
		return fail(c, "open /dev/iommu");
	bind.iommufd = c->iommufd;
	if (ioctl(c->device, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return fail(c, "VFIO_DEVICE_BIND_IOMMUFD");
	c->devid = bind.out_devid;
	if (ioctl(c->iommufd, IOMMU_IOAS_ALLOC, &alloc))
		return fail(c, "IOMMU_IOAS_ALLOC");
	c->ioas = alloc.out_ioas_id;
	attach.pt_id = c->ioas;
	if (ioctl(c->device, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		return fail(c, "VFIO_DEVICE_ATTACH_IOMMUFD_PT");
	return device_setup(c, c->device, &c->bar0, &c->bar0_size);
}

int vfio_dma_map(struct vfio_ctx *c, void *vaddr, uint64_t iova, uint64_t size)
{
	errno = 0;
	if (c->iommufd >= 0) {
		struct iommu_ioas_map map = {
			.size = sizeof(map),
			.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
				 IOMMU_IOAS_MAP_WRITEABLE,
			.ioas_id = c->ioas,
			.user_va = (uintptr_t)vaddr,
			.length = size,
			.iova = iova,
		};

		if (ioctl(c->iommufd, IOMMU_IOAS_MAP, &map))
			return fail(c, "IOMMU_IOAS_MAP");
		if (map.iova != iova) {
			errno = EPROTO;
			return fail(c, "IOMMU_IOAS_MAP moved the fixed IOVA");
		}
	} else {
		struct vfio_iommu_type1_dma_map map = {
			.argsz = sizeof(map),
			.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
			.vaddr = (uintptr_t)vaddr,
			.iova = iova,
			.size = size,
		};

		if (ioctl(c->container, VFIO_IOMMU_MAP_DMA, &map))
			return fail(c, "VFIO_IOMMU_MAP_DMA");
	}
	return 0;
}

int vfio_dma_unmap(struct vfio_ctx *c, uint64_t iova, uint64_t size)
{
	errno = 0;
	if (c->iommufd >= 0) {
		struct iommu_ioas_unmap unmap = {
			.size = sizeof(unmap),
			.ioas_id = c->ioas,
			.iova = iova,
			.length = size,
		};

		if (ioctl(c->iommufd, IOMMU_IOAS_UNMAP, &unmap))
			return fail(c, "IOMMU_IOAS_UNMAP");
		if (unmap.length != size) {
			errno = EPROTO;
			return fail(c, "IOMMU_IOAS_UNMAP length");
		}
	} else {
		struct vfio_iommu_type1_dma_unmap unmap = {
			.argsz = sizeof(unmap),
			.iova = iova,
			.size = size,
		};

		if (ioctl(c->container, VFIO_IOMMU_UNMAP_DMA, &unmap))
			return fail(c, "VFIO_IOMMU_UNMAP_DMA");
		if (unmap.size != size) {
			errno = EPROTO;
			return fail(c, "VFIO_IOMMU_UNMAP_DMA size");
		}
	}
	return 0;
}

void vfio_ctx_close(struct vfio_ctx *c)
{
	if (c->bar0)
		munmap(c->bar0, c->bar0_size);
	c->bar0 = NULL;
	/* the device first: it pins the group, the group pins the container */
	if (c->device >= 0)
		close(c->device);
	if (c->group >= 0)
		close(c->group);
	if (c->container >= 0)
		close(c->container);
	if (c->iommufd >= 0)
		close(c->iommufd);
	c->device = -1;
	c->group = -1;
	c->container = -1;
	c->iommufd = -1;
}

int vfio_release_bdf(const char *bdf)
{
	return iso_restore_driver(bdf, "");
}

bool vfio_cdev_msi_refused(int ret, const char *step)
{
	char val[8] = "";

	return ret == -EPERM && !strcmp(step, "VFIO_DEVICE_BIND_IOMMUFD") &&
	       !iso_read("/sys/module/iommufd/parameters/allow_unsafe_interrupts",
			 val, sizeof(val)) && val[0] == 'N';
}

bool iommu_fault_line(const char *msg)
{
	static const char * const pat[] = {
		"DMAR: [DMA Read",	/* intel/dmar.c dmar_fault_do_one() */
		"DMAR: [DMA Write",
		"IO_PAGE_FAULT",	/* amd/iommu.c amd_iommu_report_page_fault() */
		" fault from EP ",	/* virtio-iommu.c viommu_fault_handler() */
	};
	const char *p;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(pat); i++)
		if (strstr(msg, pat[i]))
			return true;
	/* arm-smmu-v3.c arm_smmu_evtq_thread(): "event 0x%02x received:" */
	p = strstr(msg, "event 0x");
	return p && strstr(p, " received:");
}

int iommu_faults_start(struct iommu_faults *f)
{
	memset(f, 0, sizeof(*f));
	f->fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (f->fd < 0)
		return -errno;
	if (lseek(f->fd, 0, SEEK_END) < 0) {
		int err = errno;

		close(f->fd);
		f->fd = -1;
		return -err;
	}
	return 0;
}

/* Read every record logged since the last call; count fault reports. */
static int faults_drain(struct iommu_faults *f)
{
	char rec[2048];
	ssize_t n;

	for (;;) {
		char *msg, *nl;

		n = read(f->fd, rec, sizeof(rec) - 1);
		if (n < 0) {
			if (errno == EAGAIN)
				return 0;
			if (errno == EPIPE)	/* records were overwritten */
				continue;
			return -errno;
		}
		rec[n] = '\0';
		/* "prio,seq,usec,flags;text\n KEY=value..." */
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		nl = strchr(msg, '\n');
		if (nl)
			*nl = '\0';
		if (iommu_fault_line(msg)) {
			f->count++;
			snprintf(f->last, sizeof(f->last), "%.*s", (int)sizeof(f->last) - 1, msg);
		}
	}
}

int iommu_faults_wait(struct iommu_faults *f, int want, int timeout_ms)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int waited = 0, ret;

	if (f->fd < 0)
		return -EBADF;
	for (;;) {
		ret = faults_drain(f);
		if (ret)
			return ret;
		if (f->count >= want || waited >= timeout_ms)
			return f->count;
		nanosleep(&ts, NULL);
		waited += 20;
	}
}

void iommu_faults_stop(struct iommu_faults *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

const char *iommu_model(const char *bdf)
{
	char path[PATH_MAX], target[PATH_MAX], *name;
	ssize_t n;

	snprintf(path, sizeof(path), ISO_PCI_DEVICES "/%s/iommu", bdf);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return "unknown";
	target[n] = '\0';
	name = strrchr(target, '/');
	name = name ? name + 1 : target;
	if (!strncmp(name, "dmar", 4))
		return "VT-d";
	if (!strncmp(name, "ivhd", 4))
		return "AMD-Vi";
	if (!strncmp(name, "smmu3", 5))
		return "SMMUv3";
	if (!strncmp(name, "virtio", 6) || strstr(target, "virtio"))
		return "virtio-iommu";
	return "unknown";
}
