// SPDX-License-Identifier: GPL-2.0
/* Helpers shared by the isolation selftests; see isolation_util.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest.h"
#include "isolation_util.h"

/*
 * The programs test the IOMMU groups of a machine whose PCI devices a
 * topology file names (README): the harness's guests. Anywhere else, e.g.
 * run_kselftest.sh on a developer's machine, each skips before it reads or
 * changes anything.
 */
static void __attribute__((constructor)) iso_require_topology(void)
{
	if (access(ISO_TOPOLOGY_FILE, R_OK))
		ksft_exit_skip("no %s: not a machine of the isolation harness (see README)\n",
			       ISO_TOPOLOGY_FILE);
}

int iso_write(const char *path, const char *val)
{
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != strlen(val))
		ret = -EIO;
	close(fd);
	return ret;
}

int iso_read(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

int iso_no_dots(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

/* Bus number of the PCI devices in a bridge's sysfs directory. */
static int secondary_bus(const char *dir, unsigned int *bus)
{
	struct dirent *de;
	int ret = -ENOENT;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return -errno;
	while (ret && (de = readdir(d))) {
		unsigned int dom, b, s, f;
		int end = 0;

		/* skip port services such as "0000:00:05.0:pcie002" */
		if (sscanf(de->d_name, "%x:%x:%x.%x%n", &dom, &b, &s, &f, &end) == 4 &&
		    !de->d_name[end]) {
			*bus = b;
			ret = 0;
		}
	}
	closedir(d);
	return ret;
}

/*
 * Follow a slot path from a root bus: the first component is a slot on
 * bus 00, each later one a slot on the secondary bus of the previous
 * device (whose sysfs directory holds its children).
 */
int iso_path_to_bdf(const char *path, char *bdf, size_t len)
{
	char dir[PATH_MAX], copy[128], *tok, *save = NULL;
	char cur[ISO_BDF_LEN] = "";
	unsigned int bus = 0, domain = 0;
	const char *colon = strchr(path, ':');

	/* "N:slot/..." starts on the root bus of PCI domain N */
	if (colon) {
		domain = strtoul(path, NULL, 16);
		path = colon + 1;
	}
	snprintf(copy, sizeof(copy), "%s", path);
	/* the host bridge is not always at /sys/devices/pciDDDD:00 (arm64: platform/) */
	snprintf(dir, sizeof(dir), "/sys/class/pci_bus/%04x:00/device", domain);
	for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		/* below a bridge: the secondary bus number is in its children's names */
		if (cur[0] && secondary_bus(dir, &bus))
			return -ENOENT;
		snprintf(cur, sizeof(cur), "%04x:%02x:%s", domain, bus, tok);
		if (strlen(dir) + strlen(cur) + 2 > sizeof(dir))
			return -ENAMETOOLONG;
		strcat(dir, "/");
		strcat(dir, cur);
		if (access(dir, F_OK))
			return -ENOENT;
	}
	snprintf(bdf, len, "%s", cur);
	return 0;
}

int iso_topology_load(struct iso_topology *t)
{
	char line[256];
	FILE *f;

	memset(t, 0, sizeof(*t));
	f = fopen(ISO_TOPOLOGY_FILE, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f) && t->nr < ISO_MAX_DEVS) {
		struct iso_dev *d = &t->dev[t->nr];

		if (line[0] == '#')
			continue;
		if (sscanf(line, "%31s %31s %127s", d->name, d->driver, d->path) != 3)
			continue;
		if (iso_path_to_bdf(d->path, d->bdf, sizeof(d->bdf)))
			d->bdf[0] = '\0';
		t->nr++;
	}
	fclose(f);
	return 0;
}

struct iso_dev *iso_topology_find(struct iso_topology *t, const char *name)
{
	int i;

	for (i = 0; i < t->nr; i++)
		if (!strcmp(t->dev[i].name, name))
			return &t->dev[i];
	return NULL;
}

const char *iso_topology_bdf(struct iso_topology *t, const char *name)
{
	struct iso_dev *d = iso_topology_find(t, name);

	return d && d->bdf[0] ? d->bdf : NULL;
}

int iso_dev_group(const char *bdf)
{
	char path[PATH_MAX], target[PATH_MAX], *slash;
	ssize_t n;

	snprintf(path, sizeof(path), ISO_PCI_DEVICES "/%s/iommu_group", bdf);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -1;
	target[n] = '\0';
	slash = strrchr(target, '/');
	return slash ? atoi(slash + 1) : -1;
}

int iso_group_list(int *ids, int max)
{
	struct dirent **de;
	int n, i, nr = 0;

	n = scandir(ISO_GROUPS_DIR, &de, iso_no_dots, versionsort);
	if (n < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		if (nr < max)
			ids[nr++] = atoi(de[i]->d_name);
		free(de[i]);
	}
	free(de);
	return nr;
}

int iso_group_devices(int group, char (*names)[ISO_DEVNAME_LEN], int max)
{
	char path[PATH_MAX];
	struct dirent **de;
	int n, i, nr = 0;

	snprintf(path, sizeof(path), ISO_GROUPS_DIR "/%d/devices", group);
	n = scandir(path, &de, iso_no_dots, alphasort);
	if (n < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		if (nr < max)
			snprintf(names[nr++], ISO_DEVNAME_LEN, "%s", de[i]->d_name);
		free(de[i]);
	}
	free(de);
	return nr;
}

int iso_group_size(int group)
{
	static char names[ISO_MAX_DEVS][ISO_DEVNAME_LEN];

	return iso_group_devices(group, names, ISO_MAX_DEVS);
}

bool iso_group_exists(int group)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), ISO_GROUPS_DIR "/%d", group);
	return !access(path, F_OK);
}

int iso_dev_driver(const char *bdf, char *buf, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX], *slash;
	ssize_t n;

	snprintf(path, sizeof(path), ISO_PCI_DEVICES "/%s/driver", bdf);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0) {
		if (errno != ENOENT)
			return -errno;
		buf[0] = '\0';
		return 0;
	}
	target[n] = '\0';
	slash = strrchr(target, '/');
	snprintf(buf, len, "%s", slash ? slash + 1 : target);
	return 0;
}

int iso_unbind(const char *bdf)
{
	char path[PATH_MAX], drv[64];
	int ret;

	ret = iso_dev_driver(bdf, drv, sizeof(drv));
	if (ret || !drv[0])
		return ret;
	snprintf(path, sizeof(path), ISO_PCI_DEVICES "/%s/driver/unbind", bdf);
	return iso_write(path, bdf);
}

int iso_bind(const char *bdf, const char *driver)
{
	char path[PATH_MAX];
	int ret;

	ret = iso_unbind(bdf);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), ISO_PCI_DEVICES "/%s/driver_override", bdf);
	ret = iso_write(path, driver);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/bind", driver);
	return iso_write(path, bdf);
}

int iso_clear_override(const char *bdf)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), ISO_PCI_DEVICES "/%s/driver_override", bdf);
	return iso_write(path, "\n");
}

int iso_restore_driver(const char *bdf, const char *driver)
{
	char path[PATH_MAX], cur[ISO_NAME_LEN];
	int ret, ret2;

	if (!iso_dev_driver(bdf, cur, sizeof(cur)) && !strcmp(cur, driver))
		return iso_clear_override(bdf);
	ret = iso_unbind(bdf);
	ret2 = iso_clear_override(bdf);
	if (ret || ret2 || !driver[0])
		return ret ? ret : ret2;
	/* drivers whose ID table matches bind without an override */
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/bind", driver);
	ret = iso_write(path, bdf);
	if (ret == -ENODEV || ret == -EINVAL) {
		ret = iso_bind(bdf, driver);
		iso_clear_override(bdf);
	}
	return ret;
}

int iso_probe_group(const char *bdf)
{
	int g = iso_dev_group(bdf);

	if (g >= 0)
		return g;
	iso_bind(bdf, "vfio-pci");
	iso_restore_driver(bdf, "");
	return iso_dev_group(bdf);
}

int iso_edu_dma_load(bool *loaded)
{
	int fd, ret = 0;

	*loaded = false;
	if (!access("/sys/bus/pci/drivers/" ISO_EDU_DMA, F_OK))
		return 0;
	fd = open(ISO_EDU_DMA_KO, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (!syscall(SYS_finit_module, fd, "", 0))
		*loaded = true;
	else if (errno != EEXIST)
		ret = -errno;
	close(fd);
	return ret;
}

int iso_edu_dma_unload(void)
{
	return syscall(SYS_delete_module, ISO_EDU_DMA, O_NONBLOCK) ? -errno : 0;
}

bool iso_edu_dma_test(const char *bdf, char *res, size_t len)
{
	char path[PATH_MAX];
	int ret;

	snprintf(path, sizeof(path), ISO_PCI_DEVICES "/%s/dma_test", bdf);
	ret = iso_read(path, res, len);
	if (ret) {
		snprintf(res, len, "read dma_test: %s", strerror(-ret));
		return false;
	}
	return !strncmp(res, "ok ", 3) && atoi(res + 3) > 0;
}

void iso_cleanup_init(struct iso_cleanup *cl)
{
	memset(cl, 0, sizeof(*cl));
	cl->test_pid = getpid();
}

int iso_cleanup_dev(struct iso_cleanup *cl, const char *bdf)
{
	int i, ret;

	for (i = 0; i < cl->nr; i++)
		if (!strcmp(cl->dev[i].bdf, bdf))
			return 0;
	if (cl->nr == ISO_CLEANUP_DEVS)
		return -E2BIG;
	snprintf(cl->dev[i].bdf, sizeof(cl->dev[i].bdf), "%s", bdf);
	ret = iso_dev_driver(bdf, cl->dev[i].driver, sizeof(cl->dev[i].driver));
	if (!ret)
		cl->nr++;
	return ret;
}

int iso_cleanup_edu_dma(struct iso_cleanup *cl)
{
	bool loaded;
	int ret;

	ret = iso_edu_dma_load(&loaded);
	cl->edu_dma_loaded |= loaded;
	return ret;
}

bool iso_cleanup_in_test(const struct iso_cleanup *cl)
{
	return getpid() == cl->test_pid;
}

int iso_cleanup_run(struct iso_cleanup *cl)
{
	int ret = 0, err;

	while (cl->nr > 0) {
		cl->nr--;
		err = iso_restore_driver(cl->dev[cl->nr].bdf, cl->dev[cl->nr].driver);
		ret = ret ? ret : err;
	}
	if (cl->edu_dma_loaded) {
		err = iso_edu_dma_unload();
		ret = ret ? ret : err;
		cl->edu_dma_loaded = false;
	}
	return ret;
}

const char *iso_machine(void)
{
	const char *m = getenv("ISOLATION_MACHINE");

	return m ? m : "";
}

bool iso_machine_has_iommu(void)
{
	return iso_machine()[0] && strcmp(iso_machine(), "none");
}

bool iso_port_dma_broken(void)
{
	return !strcmp(iso_machine(), "amd");
}

bool iso_have_core(void)
{
	struct dirent *de;
	bool found = false;
	DIR *d;

	d = opendir(ISO_PCI_DEVICES);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), ISO_PCI_DEVICES "/%s/isolation_group", de->d_name);
		found = !access(path, F_OK);
	}
	closedir(d);
	return found;
}

bool iso_have_qmp(void)
{
	const char *v = getenv("ISOLATION_QMP");

	return v && !strcmp(v, "1");
}

int iso_qmp(const char *json)
{
	/* One line on the console; the host harness acts on it. */
	fflush(stdout);
	printf("@@qmp %s\n", json);
	fflush(stdout);
	return 0;
}

int iso_wait_path(const char *path, bool present, int timeout_ms)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int waited;

	for (waited = 0; waited <= timeout_ms; waited += 50) {
		if (!access(path, F_OK) == present)
			return 0;
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}
