// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_cache.c - cache files, block claims, parking, capacity.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "canopyd_i.h"

static char dir[] = "/tmp/canopy-test-cache-XXXXXX";
static char cdir[300];
static struct cache *c;

static void setup(void)
{
	cr_assert(mkdtemp(dir));
	snprintf(cdir, sizeof(cdir), "%s/c", dir);
	/* 1 MiB of room, 64 KiB blocks */
	cr_assert_eq(cache_new(cdir, 1 << 20, 1 << 16, &c), 0);
}

static void teardown(void)
{
	char cmd[400];

	cache_free(c);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(cache, .init = setup, .fini = teardown);

static struct cache_obj *obj(const char *path, uint64_t size, int64_t mtime)
{
	struct ident id = { .dev = 1, .ino = 2, .size = size,
			    .mtime_ns = mtime };
	struct cache_obj *o;

	cr_assert_eq(cache_obj_get(c, path, &id, &o), 0);
	return o;
}

/* Claim and complete every block of [0, size). */
static void fill(struct cache_obj *o, uint64_t size)
{
	uint64_t b;
	int r;

	while ((r = cache_claim(o, 0, size, NULL, &b)) == CACHE_CLAIMED)
		cache_block_done(o, b, 0, NULL);
	cr_assert_eq(r, CACHE_PRESENT);
}

static int woken;
static int woken_err;

static void wake(struct worker *w, struct cache_wait *cw, int err)
{
	woken++;
	woken_err = err;
}

Test(cache, finds_the_same_object_for_the_same_identity)
{
	struct cache_obj *a = obj("/a", 100, 1), *b = obj("/a", 100, 1);
	struct cache_obj *d = obj("/a", 100, 2);

	cr_assert_eq(a, b);
	cr_assert_neq(a, d);
	cache_obj_put(a);
	cache_obj_put(b);
	cache_obj_put(d);
}

Test(cache, claims_each_missing_block_once)
{
	struct cache_obj *o = obj("/f", 200000, 1); /* 4 blocks */
	uint64_t b1, b2;

	cr_assert_eq(cache_obj_open(o), 0);
	cr_assert_eq(cache_claim(o, 0, 200000, NULL, &b1), CACHE_CLAIMED);
	cr_assert_eq(b1, 0);
	cr_assert_eq(cache_claim(o, 0, 200000, NULL, &b2), CACHE_CLAIMED);
	cr_assert_eq(b2, 1);
	/* block 0 alone is busy: nothing to claim, the caller must wait */
	cr_assert_eq(cache_claim(o, 0, 1000, NULL, &b2), CACHE_PARKED);
	cache_block_done(o, b1, 0, NULL);
	cr_assert_eq(cache_claim(o, 0, 1000, NULL, &b2), CACHE_PRESENT);
	cr_assert_not(cache_obj_complete(o));
	cache_block_done(o, 1, 0, NULL);
	fill(o, 200000);
	cr_assert(cache_obj_complete(o));
	cache_obj_close(o);
	cache_obj_put(o);
}

Test(cache, wakes_parked_requests_with_the_fetch_result)
{
	struct cache_obj *o = obj("/f", 100, 1);
	struct cache_wait cw = { .wake = wake };
	struct worker w;
	uint64_t b;

	memset(&w, 0, sizeof(w));
	cr_assert_eq(cache_obj_open(o), 0);
	cr_assert_eq(cache_claim(o, 0, 100, NULL, &b), CACHE_CLAIMED);
	cr_assert_eq(cache_claim(o, 0, 100, &cw, &b), CACHE_PARKED);
	cache_block_done(o, 0, -EIO, &w);
	cr_assert_eq(w.ready, &cw);
	cr_assert_eq(cw.err, -EIO);
	/* the failed block can be claimed again */
	cr_assert_eq(cache_claim(o, 0, 100, NULL, &b), CACHE_CLAIMED);
	cache_block_done(o, b, 0, &w);
	cache_obj_close(o);
	cache_obj_put(o);
}

Test(cache, refuses_a_file_larger_than_the_capacity)
{
	struct cache_obj *o = obj("/huge", 2 << 20, 1);

	cr_assert_eq(cache_obj_open(o), -ENOSPC);
	cache_obj_put(o);
}

Test(cache, evicts_the_least_recently_used_idle_file)
{
	struct cache_obj *a = obj("/a", 400000, 1), *b = obj("/b", 400000, 1);
	struct cache_obj *d = obj("/d", 400000, 1);

	cr_assert_eq(cache_obj_open(a), 0);
	fill(a, 400000);
	cache_obj_close(a);
	cr_assert_eq(cache_obj_open(b), 0);
	fill(b, 400000);
	cache_obj_close(b);
	cr_assert_eq(atomic_load(&stats.cache_evictions), 0);
	/* a third file does not fit: a, the oldest, goes */
	cr_assert_eq(cache_obj_open(d), 0);
	cr_assert_eq(atomic_load(&stats.cache_evictions), 1);
	cr_assert_not(cache_obj_complete(a));
	cr_assert(cache_obj_complete(b));
	cr_assert_leq(atomic_load(&stats.cache_reserved), 1 << 20);
	cache_obj_close(d);
	cache_obj_put(a);
	cache_obj_put(b);
	cache_obj_put(d);
}

Test(cache, never_evicts_an_open_file)
{
	struct cache_obj *a = obj("/a", 600000, 1), *b = obj("/b", 600000, 1);

	cr_assert_eq(cache_obj_open(a), 0);
	fill(a, 600000);
	cr_assert_eq(cache_obj_open(b), -ENOSPC);
	cr_assert(cache_obj_complete(a));
	cache_obj_close(a);
	cr_assert_eq(cache_obj_open(b), 0);
	cache_obj_close(b);
	cache_obj_put(a);
	cache_obj_put(b);
}

Test(cache, drops_a_stale_file_at_its_last_close)
{
	struct cache_obj *a = obj("/a", 1000, 1);
	char path[400];
	struct stat st;
	int fd;

	cr_assert_eq(cache_obj_open(a), 0);
	fd = cache_obj_fd(a);
	cr_assert_geq(fd, 0);
	fill(a, 1000);
	cache_obj_stale(a);
	cr_assert(cache_obj_complete(a)); /* still readable while open */
	cache_obj_close(a);
	cr_assert_eq(atomic_load(&stats.cache_bytes), 0);
	cr_assert_eq(cache_obj_fd(a), -1);
	cache_obj_put(a);
	snprintf(path, sizeof(path), "%s", cdir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_nlink, 2, "the cache file is gone");
}

Test(cache, refuses_a_second_daemon_on_the_same_directory)
{
	struct cache *other;

	cr_assert_eq(cache_new(cdir, 1 << 20, 1 << 16, &other), -EBUSY);
}

Test(cache, treats_an_empty_file_as_complete)
{
	struct cache_obj *o = obj("/empty", 0, 1);
	uint64_t b;

	cr_assert_eq(cache_obj_open(o), 0);
	cr_assert(cache_obj_complete(o));
	cr_assert_eq(cache_claim(o, 0, 4096, NULL, &b), CACHE_PRESENT);
	cache_obj_close(o);
	cache_obj_put(o);
}

Test(cache, holds_no_descriptor_for_an_idle_file)
{
	struct cache_obj *o = obj("/idle", 1000, 1);
	int before = 0, after = 0;
	char path[64];

	for (int fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		before += access(path, F_OK) == 0;
	}
	cr_assert_eq(cache_obj_open(o), 0);
	fill(o, 1000);
	cr_assert_geq(cache_obj_fd(o), 0);
	cache_obj_close(o);
	for (int fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		after += access(path, F_OK) == 0;
	}
	cr_assert_eq(after, before, "an idle cached file keeps an fd open");
	/* reopened on demand, with its data */
	cr_assert_eq(cache_obj_open(o), 0);
	cr_assert(cache_obj_complete(o));
	cr_assert_geq(cache_obj_fd(o), 0);
	cache_obj_close(o);
	cache_obj_put(o);
}
