/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the isolation selftests: sysfs files, the reference
 * topology, the harness machine, groups, drivers, edu_dma.ko, cleanup after
 * a failed ASSERT, run-time XFAIL, and hot-plug requests to the host (see
 * README). VFIO is in vfio_util.h.
 */
#ifndef ISOLATION_UTIL_H
#define ISOLATION_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define ISO_TOPOLOGY_FILE	"/harness/topology"
#define ISO_PCI_DEVICES		"/sys/bus/pci/devices"
#define ISO_GROUPS_DIR		"/sys/kernel/iommu_groups"
#define ISO_IOMMU_CLASS		"/sys/class/iommu"

#define ISO_MAX_DEVS	64
#define ISO_MAX_GROUPS	512
#define ISO_NAME_LEN	32
#define ISO_BDF_LEN	16
#define ISO_PATH_LEN	128

/* sysfs files ------------------------------------------------------------ */

/* Write/read a whole small sysfs file; 0 or -errno. */
int iso_write(const char *path, const char *val);
int iso_read(const char *path, char *buf, size_t len);

/* scandir() filter: every entry but "." and ".." (and hidden ones). */
struct dirent;
int iso_no_dots(const struct dirent *de);

/* The reference topology ------------------------------------------------- */

struct iso_dev {
	char name[ISO_NAME_LEN];	/* name in machines/topology */
	char driver[ISO_NAME_LEN];	/* QEMU device model */
	char path[ISO_PATH_LEN];	/* slot path from the root bus */
	char bdf[ISO_BDF_LEN];		/* "0000:01:00.0", "" if absent */
};

struct iso_topology {
	int nr;
	struct iso_dev dev[ISO_MAX_DEVS];
};

/* Read /harness/topology and resolve each device's path to its BDF. */
int iso_topology_load(struct iso_topology *t);
struct iso_dev *iso_topology_find(struct iso_topology *t, const char *name);
/* BDF of topology device @name, NULL when it is not in the guest. */
const char *iso_topology_bdf(struct iso_topology *t, const char *name);

/*
 * Resolve a slot path ("05.0/00.0": slots from root bus 00 of domain 0, or
 * "1:02.0": from the root bus of domain 1) to a BDF.
 */
int iso_path_to_bdf(const char *path, char *bdf, size_t len);

/* The harness machine ---------------------------------------------------- */

/* ISOLATION_MACHINE: vtd, amd, virtio, smmuv3-dt, ... ("" outside the harness) */
const char *iso_machine(void);

/* Harness machines other than "none" have an IOMMU (README). */
bool iso_machine_has_iommu(void);

/*
 * AMD-Vi under QEMU 7.2 corrupts the DMA of devices behind a root port or
 * bridge without reporting a fault (README): true on that machine, where
 * DMA tests take root-bus devices instead.
 */
bool iso_port_dma_broken(void);

/* True when the kernel runs the isolation-group core (isolation_group link). */
bool iso_have_core(void);

/* Groups ----------------------------------------------------------------- */

/* Group number of a PCI device from its iommu_group link, -1 if none. */
int iso_dev_group(const char *bdf);

/* Numbers of the groups in /sys/kernel/iommu_groups, ascending; count or -errno. */
int iso_group_list(int *ids, int max);

/*
 * Entry names of /sys/kernel/iommu_groups/N/devices (the devices' sysfs
 * names), sorted; count or -errno.
 */
#define ISO_DEVNAME_LEN	256
int iso_group_devices(int group, char (*names)[ISO_DEVNAME_LEN], int max);

/* Number of devices in group @group (iso_group_devices()), or -errno. */
int iso_group_size(int group);

/* /sys/kernel/iommu_groups/@group exists. */
bool iso_group_exists(int group);

/*
 * In a test that needs groups, with @nr from iso_group_list(): fail when
 * they cannot be listed or when a machine with an IOMMU has none; SKIP
 * with @statement (as SKIP() does) when a machine without one has none.
 */
#define ISO_REQUIRE_GROUPS(statement, nr) do { \
	int _iso_nr = (nr); \
	ASSERT_LE(0, _iso_nr) \
		TH_LOG("cannot list " ISO_GROUPS_DIR ": %s", strerror(-_iso_nr)); \
	if (!_iso_nr && !iso_machine_has_iommu()) \
		SKIP(statement, "no IOMMU groups on machine '%s'", iso_machine()); \
	ASSERT_LT(0, _iso_nr) \
		TH_LOG("machine %s has an IOMMU but no groups", iso_machine()); \
} while (0)

/* Drivers ---------------------------------------------------------------- */

/* Bound driver's name into buf ("" if none); 0 or -errno. */
int iso_dev_driver(const char *bdf, char *buf, size_t len);

/*
 * Bind a device to a driver through driver_override (unbinding it first if
 * another driver has it). Returns 0 or the -errno the bind write gave.
 */
int iso_bind(const char *bdf, const char *driver);
int iso_unbind(const char *bdf);

/* Clear driver_override (a lone newline does); 0 or -errno. */
int iso_clear_override(const char *bdf);

/*
 * Put @bdf back to driver @driver ("" for none) as found, with no
 * driver_override left: a driver whose ID table matches binds directly,
 * any other through a driver_override that is cleared again. 0 or -errno.
 */
int iso_restore_driver(const char *bdf, const char *driver);

/*
 * The group of @bdf, giving it one first if it has none: stock 6.12 applies
 * a VIOT, IORT or device-tree description of the IOMMU to a PCI device only
 * when a driver binds (dma_configure()), so there a device that never had a
 * driver has no group yet (groups reports that as XFAIL). One bind of
 * vfio-pci, undone at once, gives it the group it keeps until it goes.
 * Returns the group number or -1.
 */
int iso_probe_group(const char *bdf);

/* edu_dma.ko, the DMA-API driver for the edu (edu_dma/) ------------------ */

#define ISO_EDU_DMA_KO	"/harness/edu_dma.ko"
#define ISO_EDU_DMA	"edu_dma"	/* module and driver name */

/*
 * Load edu_dma.ko unless its driver is registered. 0 when it is there
 * (*@loaded says whether this call loaded it), -ENOENT when the guest has
 * no edu_dma.ko, else -errno.
 */
int iso_edu_dma_load(bool *loaded);
int iso_edu_dma_unload(void);

/*
 * Have edu_dma (bound to @bdf) do a DMA round trip by reading its dma_test
 * attribute; true when it reads "ok <bytes>". @res (@len bytes) gets what
 * it read, or why it could not.
 */
bool iso_edu_dma_test(const char *bdf, char *res, size_t len);

/* Cleanup after a failed ASSERT ------------------------------------------ */

/*
 * kselftest_harness.h of 6.12 decides where a fixture's teardown runs from
 * a "child" variable that the longjmp() of a failed ASSERT may clobber
 * (-Wclobbered): where the compiler kept it in a register, the test process
 * takes itself for the parent. Then a FIXTURE_TEARDOWN() does not run at
 * all, and a FIXTURE_TEARDOWN_PARENT() runs once, but in the test process
 * (measured: in most fixtures here; in the parent otherwise). Every
 * fixture here that changes the system
 *  - uses FIXTURE_TEARDOWN_PARENT() and has a struct iso_cleanup, which
 *    iso_cleanup_init() sets up first thing in FIXTURE_SETUP();
 *  - notes each device with iso_cleanup_dev() before it changes its driver,
 *    and loads edu_dma with iso_cleanup_edu_dma();
 *  - neither ASSERTs nor SKIPs in FIXTURE_SETUP() past its first change (no
 *    teardown follows a setup that did not complete): it records results
 *    for the tests to check, or calls iso_cleanup_run() before a SKIP;
 *  - in its teardown, first closes the VFIO file descriptors and BAR
 *    mappings of the test process if iso_cleanup_in_test() (while they are
 *    open, an unbind from vfio-pci waits for ever), then removes what it
 *    hot-plugged and calls iso_cleanup_run().
 */
#define ISO_CLEANUP_DEVS	4

struct iso_cleanup {
	pid_t test_pid;			/* the process of setup and test */
	int nr;
	struct {
		char bdf[ISO_BDF_LEN];
		char driver[ISO_NAME_LEN];	/* as found, "" for none */
	} dev[ISO_CLEANUP_DEVS];
	bool edu_dma_loaded;		/* loaded by this test: unload it */
};

void iso_cleanup_init(struct iso_cleanup *cl);
/* Note @bdf and its driver (once; later calls are no-ops); 0 or -errno. */
int iso_cleanup_dev(struct iso_cleanup *cl, const char *bdf);
/* iso_edu_dma_load(), noting whether to unload it again. */
int iso_cleanup_edu_dma(struct iso_cleanup *cl);
/* True when the teardown runs in the test process (after a failed ASSERT). */
bool iso_cleanup_in_test(const struct iso_cleanup *cl);
/*
 * Give every noted device its driver back, with no driver_override, and
 * unload edu_dma if the test loaded it. 0 or the first -errno.
 */
int iso_cleanup_run(struct iso_cleanup *cl);

/* Expected failures decided at run time ---------------------------------- */

/*
 * Report XFAIL with a reason and end with @statement, as SKIP() does for a
 * skip. XFAIL_ADD() covers only what is known when the program is built; a
 * test that exits with KSFT_XFAIL is passed through by __wait_for_test()
 * and printed as "ok N name # XFAIL reason".
 */
#define ISO_XFAIL(statement, fmt, ...) do { \
	snprintf(_metadata->results->reason, \
		 sizeof(_metadata->results->reason), fmt, ##__VA_ARGS__); \
	fprintf(TH_LOG_STREAM, "#      XFAIL     %s\n", \
		_metadata->results->reason); \
	_metadata->exit_code = KSFT_XFAIL; \
	statement; \
} while (0)

/* Hot-plug requests to the host ------------------------------------------ */

/* True when the host harness listens for hot-plug requests. */
bool iso_have_qmp(void);

/*
 * Ask the host for a QMP command (JSON text) and, for device_add/device_del,
 * wait until the device at path appears/disappears. Returns 0, or -ETIMEDOUT.
 */
int iso_qmp(const char *json);
int iso_wait_path(const char *path, bool present, int timeout_ms);

#endif
