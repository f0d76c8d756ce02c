// SPDX-License-Identifier: GPL-2.0
/*
 * Nothing under /sys/kernel/iommu_groups/N is writable but `type`: every
 * other file is read-only by its mode and cannot be opened for writing (not
 * even by root, whom the mode does not stop), and no entry can be added to
 * or removed from a group directory or its devices/ directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "isolation_util.h"

#define MAX_DEPTH	4
#define NEW_NAME	"isolation-selftest-new"
#define PATH_LEN	(PATH_MAX + 64)

/*
 * Check the files below dir (a group directory or one of its
 * subdirectories other than devices/). Returns the number of offenders;
 * *types counts the `type` files seen.
 */
static int check_files(struct __test_metadata *_metadata, const char *dir, int depth,
		       int *types)
{
	struct dirent **de;
	int n, i, bad = 0;

	n = scandir(dir, &de, iso_no_dots, alphasort);
	if (n < 0) {
		TH_LOG("%s: %s", dir, strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++) {
		char path[PATH_LEN];
		bool is_type;
		struct stat st;
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, de[i]->d_name);
		is_type = depth == 0 && !strcmp(de[i]->d_name, "type");
		if (lstat(path, &st)) {
			TH_LOG("%s: %s", path, strerror(errno));
			bad++;
		} else if (S_ISDIR(st.st_mode)) {
			if (st.st_mode & 0022) {
				TH_LOG("%s: directory mode %o", path, st.st_mode & 07777);
				bad++;
			}
			/* devices/ holds links to the devices: checked by dirs_fixed */
			if ((depth || strcmp(de[i]->d_name, "devices")) && depth < MAX_DEPTH)
				bad += check_files(_metadata, path, depth + 1, types);
		} else if (S_ISREG(st.st_mode) && is_type) {
			(*types)++;
			if ((st.st_mode & 07777) != 0644) {
				TH_LOG("%s: mode %o, expected 644", path, st.st_mode & 07777);
				bad++;
			}
			fd = open(path, O_WRONLY);
			if (fd < 0) {
				TH_LOG("%s: cannot be opened for writing: %s", path,
				       strerror(errno));
				bad++;
			} else {
				close(fd);
			}
		} else if (S_ISREG(st.st_mode)) {
			if (st.st_mode & 0222) {
				TH_LOG("%s: writable mode %o", path, st.st_mode & 07777);
				bad++;
			}
			fd = open(path, O_WRONLY);
			if (fd >= 0) {
				TH_LOG("%s: opened for writing", path);
				close(fd);
				bad++;
			}
		} else {
			TH_LOG("%s: unexpected file type %o", path, st.st_mode & S_IFMT);
			bad++;
		}
		free(de[i]);
	}
	free(de);
	return bad;
}

/* Every file is read-only but `type`, which each group has, owner-writable. */
TEST(files_read_only)
{
	int ids[ISO_MAX_GROUPS], nr, i, types, bad;
	char dir[PATH_MAX];

	nr = iso_group_list(ids, ISO_MAX_GROUPS);
	ISO_REQUIRE_GROUPS(return, nr);
	if (geteuid())
		SKIP(return, "needs root");

	for (i = 0; i < nr; i++) {
		types = 0;
		snprintf(dir, sizeof(dir), ISO_GROUPS_DIR "/%d", ids[i]);
		bad = check_files(_metadata, dir, 0, &types);
		EXPECT_EQ(0, bad) TH_LOG("group %d has %d writable entries", ids[i], bad);
		EXPECT_EQ(1, types) TH_LOG("group %d has no type file", ids[i]);
	}
}

/*
 * Try to add an entry to dir in every way; each must fail. Anything that
 * got created is removed again. Returns the number of ways that worked.
 */
static int try_add(struct __test_metadata *_metadata, const char *dir)
{
	char path[PATH_LEN];
	int fd, bad = 0;

	snprintf(path, sizeof(path), "%s/" NEW_NAME, dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd >= 0) {
		TH_LOG("%s: created a file", path);
		close(fd);
		unlink(path);
		bad++;
	}
	if (!mkdir(path, 0755)) {
		TH_LOG("%s: created a directory", path);
		rmdir(path);
		bad++;
	}
	if (!symlink("/", path)) {
		TH_LOG("%s: created a symlink", path);
		unlink(path);
		bad++;
	}
	return bad;
}

/*
 * No entry can be added to a group directory or its devices/ directory, and
 * no device link can be removed or renamed.
 */
TEST(dirs_fixed)
{
	static char names[1][ISO_DEVNAME_LEN];
	int ids[ISO_MAX_GROUPS], nr, i, bad;
	char dir[PATH_MAX], link[PATH_LEN + NAME_MAX], moved[PATH_LEN];
	struct stat st;

	nr = iso_group_list(ids, ISO_MAX_GROUPS);
	ISO_REQUIRE_GROUPS(return, nr);
	if (geteuid())
		SKIP(return, "needs root");

	for (i = 0; i < nr; i++) {
		snprintf(dir, sizeof(dir), ISO_GROUPS_DIR "/%d", ids[i]);
		bad = try_add(_metadata, dir);
		snprintf(dir, sizeof(dir), ISO_GROUPS_DIR "/%d/devices", ids[i]);
		ASSERT_EQ(0, stat(dir, &st));
		EXPECT_EQ(0U, st.st_mode & 0022)
			TH_LOG("%s: directory mode %o", dir, st.st_mode & 07777);
		bad += try_add(_metadata, dir);

		ASSERT_EQ(1, iso_group_devices(ids[i], names, 1));
		snprintf(link, sizeof(link), "%s/%s", dir, names[0]);
		snprintf(moved, sizeof(moved), "%s/" NEW_NAME, dir);
		if (!rename(link, moved)) {
			TH_LOG("%s: renamed", link);
			rename(moved, link);
			bad++;
		}
		if (!unlink(link)) {
			TH_LOG("%s: removed", link);
			bad++;
		}
		EXPECT_EQ(0, lstat(link, &st)) TH_LOG("%s: gone", link);
		EXPECT_EQ(0, bad) TH_LOG("group %d could be changed", ids[i]);
	}
}

TEST_HARNESS_MAIN
