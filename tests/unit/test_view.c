// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_view.c - the mount as a view of the backing tree.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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
