// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_view.c - the mount as a view of the backing tree.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "canopyd_i.h"

static char *exports[] = { "/opt/env", "/usr/lib/python3" };
static struct view v = { .exports = exports, .nexports = 2, .mnt_fd = -1 };

Test(view, classifies_paths_against_the_exports)
{
	cr_assert_eq(view_classify(&v, "/"), VIEW_VIRTUAL);
	cr_assert_eq(view_classify(&v, "/usr"), VIEW_VIRTUAL);
	cr_assert_eq(view_classify(&v, "/usr/lib"), VIEW_VIRTUAL);
	cr_assert_eq(view_classify(&v, "/usr/lib/python3"), VIEW_REAL);
	cr_assert_eq(view_classify(&v, "/usr/lib/python3/json"), VIEW_REAL);
	cr_assert_eq(view_classify(&v, "/usr/lib/python3.11"), VIEW_HIDDEN);
	cr_assert_eq(view_classify(&v, "/etc"), VIEW_HIDDEN);
	cr_assert_eq(view_classify(&v, "/opt/environment"), VIEW_HIDDEN);
}

Test(view, lists_the_next_component_of_each_export)
{
	char **names;
	size_t n, i;

	cr_assert_eq(view_virtual_children(&v, "/", &names, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(names[0], "opt");
	cr_assert_str_eq(names[1], "usr");
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	cr_assert_eq(view_virtual_children(&v, "/usr/lib", &names, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(names[0], "python3");
	free(names[0]);
	free(names);
}

Test(view, joins_paths)
{
	char *a = view_join("/", "usr"), *b = view_join("/usr", "lib");

	cr_assert_str_eq(a, "/usr");
	cr_assert_str_eq(b, "/usr/lib");
	free(a);
	free(b);
}

Test(view, sends_paths_under_the_mount_point_to_the_covered_directory)
{
	char *all[] = { "/" };
	struct view m;
	const char *rel;
	int dirfd;

	cr_assert_eq(view_init(&m, all, 1, "/tmp"), 0);
	view_at(&m, "/tmp", &dirfd, &rel);
	cr_assert_eq(dirfd, m.mnt_fd);
	cr_assert_str_eq(rel, ".");
	view_at(&m, "/tmp/a/b", &dirfd, &rel);
	cr_assert_eq(dirfd, m.mnt_fd);
	cr_assert_str_eq(rel, "a/b");
	view_at(&m, "/tmpfoo", &dirfd, &rel);
	cr_assert_eq(dirfd, AT_FDCWD);
	cr_assert_str_eq(rel, "/tmpfoo");
	view_fini(&m);
}

/* The kept directory descriptors: names resolved in their parent. */
static char tree[] = "/tmp/canopy-test-dirs-XXXXXX";
static char *dexp[1];
static char dpath[3][256];

static void put_file(const char *path, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert_geq(fd, 0, "%s", path);
	cr_assert_eq(ftruncate(fd, size), 0);
	close(fd);
}

static void dirs_setup(void)
{
	char p[PATH_MAX];
	int i;

	cr_assert_not_null(mkdtemp(tree));
	snprintf(p, sizeof(p), "%s/exp", tree);
	cr_assert_eq(mkdir(p, 0755), 0);
	for (i = 0; i < 3; i++) {
		snprintf(dpath[i], sizeof(dpath[i]), "%s/exp/d%d", tree, i);
		cr_assert_eq(mkdir(dpath[i], 0755), 0);
		snprintf(p, sizeof(p), "%s/f", dpath[i]);
		put_file(p, 100 + i);
	}
	snprintf(p, sizeof(p), "%s/exp/file", tree);
	put_file(p, 1);
	cr_assert_gt(asprintf(&dexp[0], "%s/exp", tree), 0);
}

static void dirs_teardown(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tree);
	cr_assert_eq(system(cmd), 0);
	free(dexp[0]);
}

static uint64_t dir_opens(void)
{
	return atomic_load(&stats.backing_dir_opens);
}

/* statx @dir/@name through @m; its size, or -errno */
static long long size_of(struct view *m, const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct statx stx;
	int ret;

	if (snprintf(p, sizeof(p), "%s/%s", dir, name) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	ret = view_statx(m, p, &stx);
	return ret ? ret : (long long)stx.stx_size;
}

Test(view, resolves_names_in_a_kept_parent_descriptor, .init = dirs_setup,
     .fini = dirs_teardown)
{
	struct view m;
	char p[PATH_MAX], q[PATH_MAX], buf[8];
	uint64_t o0;
	int fd;

	cr_assert_eq(view_init(&m, dexp, 1, "/proc"), 0);
	cr_assert_eq(view_dirs_enable(&m, 3, 60 * 1000000000ULL), 0);
	/* d0 is opened in exp, which is opened by its path: then no more */
	o0 = dir_opens();
	cr_assert_eq(size_of(&m, dpath[0], "f"), 100);
	cr_assert_eq(dir_opens(), o0 + 2);
	cr_assert_eq(size_of(&m, dpath[0], "f"), 100);
	cr_assert_eq(size_of(&m, dpath[0], "missing"), -ENOENT);
	cr_assert_lt(snprintf(p, sizeof(p), "%s/f", dpath[0]), (int)sizeof(p));
	fd = view_open(&m, p, O_RDONLY);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(dir_opens(), o0 + 2);
	/* errors as a whole walk gives them */
	cr_assert_eq(size_of(&m, dexp[0], "nodir/f"), -ENOENT);
	cr_assert_eq(size_of(&m, dexp[0], "file/f"), -ENOTDIR);
	cr_assert_eq(view_readlink(&m, p, buf, sizeof(buf)), -EINVAL);
	cr_assert_eq(dir_opens(), o0 + 2);

	/* three kept, the least recently used goes: exp, d1, d2 (not d0) */
	cr_assert_eq(size_of(&m, dpath[1], "f"), 101);
	cr_assert_eq(size_of(&m, dpath[2], "f"), 102);
	o0 = dir_opens();
	cr_assert_eq(size_of(&m, dpath[2], "f"), 102);
	cr_assert_eq(size_of(&m, dpath[1], "f"), 101);
	cr_assert_eq(dir_opens(), o0);
	cr_assert_eq(size_of(&m, dpath[0], "f"), 100);
	cr_assert_eq(dir_opens(), o0 + 1);

	/*
	 * d0 replaced on the backing store: the kept descriptor shows the old
	 * directory until d0 itself is looked up again (as the kernel does at
	 * its entry timeout) or the descriptor's time is up
	 */
	cr_assert_lt(snprintf(q, sizeof(q), "%s.old", dpath[0]),
		     (int)sizeof(q));
	cr_assert_eq(rename(dpath[0], q), 0);
	cr_assert_eq(mkdir(dpath[0], 0755), 0);
	put_file(p, 555);
	cr_assert_eq(size_of(&m, dpath[0], "f"), 100);
	cr_assert_geq(size_of(&m, dexp[0], "d0"), 0);
	cr_assert_eq(size_of(&m, dpath[0], "f"), 555);
	cr_assert_eq(dir_opens(), o0 + 2);

	/* canopyctl drop-caches: exp and d0 are opened again */
	view_dirs_drop(&m);
	cr_assert_eq(size_of(&m, dpath[0], "f"), 555);
	cr_assert_eq(dir_opens(), o0 + 4);
	view_fini(&m);

	/* a time of 1 ns: exp and d1 opened at every use */
	cr_assert_eq(view_init(&m, dexp, 1, "/proc"), 0);
	cr_assert_eq(view_dirs_enable(&m, 16, 1), 0);
	o0 = dir_opens();
	cr_assert_eq(size_of(&m, dpath[1], "f"), 101);
	cr_assert_eq(size_of(&m, dpath[1], "f"), 101);
	cr_assert_eq(dir_opens(), o0 + 4);
	view_fini(&m);

	/* none kept: every path walked, no descriptor opened */
	cr_assert_eq(view_init(&m, dexp, 1, "/proc"), 0);
	o0 = dir_opens();
	cr_assert_eq(size_of(&m, dpath[1], "f"), 101);
	cr_assert_eq(size_of(&m, dexp[0], "file/f"), -ENOTDIR);
	cr_assert_eq(dir_opens(), o0);
	view_fini(&m);
}
