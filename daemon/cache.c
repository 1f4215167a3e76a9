// SPDX-License-Identifier: MIT
/*
 * daemon/cache.c - local cache files, block bitmaps, capacity and eviction.
 *
 * DESIGN: one sparse file per backing-file identity in the cache directory,
 * with a present-block bitmap and a busy-block bitmap (a fetch in flight)
 * kept in memory. Any worker may claim a missing block and fetch it; a
 * request that needs a block someone else is fetching parks a cache_wait on
 * the object and its worker moves on. When a fetch ends, the parked waiters
 * are handed to the ready list of the worker that ended it.
 *
 * Capacity is reserved per object at its first open for the file's whole
 * size; objects that are not open are evicted least-recently-used first to
 * make room. An object that cannot be held is served directly. The index
 * holds no reference: an unreferenced object stays while it has data (it is
 * the cache) and is freed when it is evicted; an unreferenced object without
 * data is freed at once.
 *
 * File descriptors: an object holds its cache file and backing file open
 * only while it is open itself (opened on demand, closed at the last close),
 * so a cache of many thousand files costs no descriptors at rest; a
 * passthrough id keeps its own reference in the kernel. Likewise its shared
 * mapping (cache_obj_map()), made by the first O_DIRECT block read while
 * it is open and unmapped at its last close: blocks are read into it and
 * replies that cannot be spliced are written from it while it is there,
 * with no mmap/munmap per block and no copy through a buffer per reply.
 *
 * One mutex (c->lock) protects the index, the LRU list and every object's
 * state. Nothing sleeps under it except the cache-file syscalls of
 * cache_obj_open() and eviction, which are on the cache file system (tmpfs
 * or local NVMe), never on the backing store.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "canopyd_i.h"

#define CACHE_SUFFIX ".cnp"

struct cache_obj {
	struct cache *c;
	char *path;
	struct ident id;
	uint64_t key;
	char name[48];          /* file name in the cache directory */
	uint64_t nblocks;
	/* fields below are protected by c->lock */
	unsigned refs;
	struct cache_obj *hnext; /* index chain */
	struct cache_obj *lru_prev, *lru_next;
	bool reserved;          /* holds room and a cache file */
	bool stale;             /* the backing file changed: drop when idle */
	unsigned opens;
	int fd;                 /* cache file while open, or -1 */
	char *map;              /* shared mapping of it while open, or NULL */
	size_t map_len;
	bool unmappable;        /* mmap refused it: read through a buffer */
	int backing_fd;         /* backing file while open and incomplete */
	bool backing_opening;   /* a thread is opening it: wait on open_cond */
	int pt_id;              /* kernel passthrough id of the cache file */
	uint64_t npresent;
	uint64_t bytes;         /* bytes of the present blocks */
	uint64_t *present;      /* bitmaps of nblocks bits */
	uint64_t *busy;
	struct cache_wait *waiters;
};

struct cache {
	char *dir;
	int dirfd;
	int lockfd;
	uint64_t capacity;
	uint64_t block_size;
	unsigned block_shift;
	pthread_mutex_t lock;
	pthread_cond_t open_cond; /* a backing open finished */
	/* fields below are protected by c->lock */
	struct cache_obj **index;
	size_t nindex;          /* buckets, power of two */
	size_t count;
	uint64_t reserved;      /* bytes */
	struct cache_obj lru;   /* list head: lru.lru_next is the oldest */
	/* passthrough ids: registered and released through the channel */
	int (*pt_open)(int fd, void *arg);
	void (*pt_close)(int id, void *arg);
	void *pt_arg;
};

static bool bit_test(const uint64_t *m, uint64_t b)
{
	return m[b / 64] & (1ULL << (b % 64));
}

static void bit_set(uint64_t *m, uint64_t b)
{
	m[b / 64] |= 1ULL << (b % 64);
}

static void bit_clear(uint64_t *m, uint64_t b)
{
	m[b / 64] &= ~(1ULL << (b % 64));
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	while (n--)
		h = (h ^ *s++) * 0x100000001b3ULL;
	return h;
}

static uint64_t obj_key(const char *path, const struct ident *id)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = fnv(h, path, strlen(path));
	return fnv(h, id, sizeof(*id));
}

static bool is_cache_name(const char *name)
{
	size_t len = strlen(name), i;

	if (len != 32 + strlen(CACHE_SUFFIX) ||
	    strcmp(name + 32, CACHE_SUFFIX) != 0)
		return false;
	for (i = 0; i < 32; i++)
		if (!strchr("0123456789abcdef", name[i]))
			return false;
	return true;
}

/* Remove cache files a previous run left (only names canopy makes). */
static void cache_sweep(struct cache *c)
{
	int fd = openat(c->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (is_cache_name(de->d_name))
			unlinkat(c->dirfd, de->d_name, 0);
	closedir(d);
}

static int mkdir_p(const char *path)
{
	char *p = strdup(path), *s;
	int ret = 0;

	if (!p)
		return -ENOMEM;
	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char saved = *s;

		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			ret = -errno;
			break;
		}
		*s = saved;
		if (!saved)
			break;
	}
	free(p);
	return ret;
}

/*
 * Does @dir hold nothing but what canopy puts there? Leftovers of an earlier
 * run are removed; anything else means the directory is the user's.
 */
static int dir_is_ours(const char *dir)
{
	struct dirent *de;
	int ret = 1, fd;
	DIR *d = opendir(dir);

	if (!d)
		return -errno;
	fd = dirfd(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (strcmp(de->d_name, ".lock") && !is_cache_name(de->d_name)) {
			ret = 0;
			break;
		}
	}
	if (ret == 1) {
		rewinddir(d);
		while ((de = readdir(d)))
			if (!strcmp(de->d_name, ".lock") ||
			    is_cache_name(de->d_name))
				unlinkat(fd, de->d_name, 0);
	}
	closedir(d);
	return ret;
}

/* Is the .lock of @dir held, by a canopyd serving from it? */
static bool dir_locked(const char *dir)
{
	char path[PATH_MAX];
	bool held;
	int fd;

	if (snprintf(path, sizeof(path), "%s/.lock", dir) >= (int)sizeof(path))
		return false;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	held = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd); /* and with it the lock, if it was ours */
	return held;
}

/* Is the top mount on @dir a cache tmpfs of canopyd's (mount_tmpfs)? */
static bool is_cache_tmpfs(const char *dir)
{
	char line[4096], mp[PATH_MAX], *real, *sep;
	bool found = false;
	FILE *f;

	real = realpath(dir, NULL);
	f = fopen("/proc/self/mountinfo", "re");
	if (!real || !f)
		goto out;
	/* later lines are mounted later: the last match is the top one */
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
		    strcmp(mp, real))
			continue;
		sep = strstr(line, " - ");
		found = sep && !strncmp(sep, " - tmpfs canopy-cache ", 22);
	}
out:
	if (f)
		fclose(f);
	free(real);
	return found;
}

int cache_mount_tmpfs(const char *dir, uint64_t *capacity)
{
	char opts[128];
	struct statvfs sv;
	uint64_t size;
	int ret;

	ret = mkdir_p(dir);
	if (ret)
		return ret;
	for (;;) {
		/* before anything in it is touched: it may be a live daemon's */
		if (dir_locked(dir))
			return -EBUSY;
		/* what a canopyd that was killed left mounted */
		if (!is_cache_tmpfs(dir))
			break;
		if (umount2(dir, MNT_DETACH) < 0)
			return -errno;
		log_notice("unmounted the cache tmpfs that a stopped canopyd "
			   "left on %s", dir);
	}
	ret = dir_is_ours(dir);
	if (ret <= 0)
		return ret ? ret : -ENOTEMPTY;
	if (!*capacity) {
		if (statvfs(dir, &sv) < 0)
			return -errno;
		*capacity = (uint64_t)sv.f_blocks * sv.f_frsize / 2;
	}
	/* room for the last partial huge page of files and the directory */
	size = *capacity + *capacity / 16 + (64ULL << 20);
	snprintf(opts, sizeof(opts), "mode=0700,huge=within_size,size=%llu",
		 (unsigned long long)size);
	if (mount("canopy-cache", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  opts) < 0)
		return -errno;
	return 0;
}

void cache_umount_tmpfs(const char *dir)
{
	if (umount2(dir, MNT_DETACH) < 0)
		log_warn("unmount cache tmpfs %s: %s", dir, strerror(errno));
	rmdir(dir);
}

int cache_new(const char *dir, uint64_t capacity, uint64_t block_size,
	      struct cache **out)
{
	struct cache *c;
	int ret;

	if (!block_size || (block_size & (block_size - 1)))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->dirfd = c->lockfd = -1;
	c->dir = strdup(dir);
	c->nindex = 1024;
	c->index = calloc(c->nindex, sizeof(*c->index));
	if (!c->dir || !c->index) {
		ret = -ENOMEM;
		goto err_free;
	}
	ret = mkdir_p(dir);
	if (ret)
		goto err_free;
	c->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0) {
		ret = -errno;
		goto err_free;
	}
	c->lockfd = openat(c->dirfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC,
			   0600);
	if (c->lockfd < 0) {
		ret = -errno;
		goto err_free;
	}
	/* two daemons sharing a cache directory would corrupt each other */
	if (flock(c->lockfd, LOCK_EX | LOCK_NB) < 0) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto err_free;
	}
	cache_sweep(c);
	if (!capacity) {
		/* the default: half of the cache file system */
		struct statvfs sv;

		if (fstatvfs(c->dirfd, &sv) < 0) {
			ret = -errno;
			goto err_free;
		}
		capacity = (uint64_t)sv.f_blocks * sv.f_frsize / 2;
	}
	c->capacity = capacity;
	c->block_size = block_size;
	c->block_shift = __builtin_ctzll(block_size);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->open_cond, NULL);
	c->lru.lru_next = c->lru.lru_prev = &c->lru;
	*out = c;
	return 0;

err_free:
	if (c->lockfd >= 0)
		close(c->lockfd);
	if (c->dirfd >= 0)
		close(c->dirfd);
	free(c->index);
	free(c->dir);
	free(c);
	return ret;
}

uint64_t cache_capacity(const struct cache *c)
{
	return c->capacity;
}

uint64_t cache_block_size(const struct cache *c)
{
	return c->block_size;
}

const char *cache_dir(const struct cache *c)
{
	return c->dir;
}

const char *cache_obj_path(const struct cache_obj *o)
{
	return o->path;
}

const struct ident *cache_obj_ident(const struct cache_obj *o)
{
	return &o->id;
}

static void lru_del_locked(struct cache_obj *o)
{
	if (!o->lru_next)
		return;
	o->lru_prev->lru_next = o->lru_next;
	o->lru_next->lru_prev = o->lru_prev;
	o->lru_next = o->lru_prev = NULL;
}

/* Make @o the most recently used. */
static void lru_touch_locked(struct cache *c, struct cache_obj *o)
{
	lru_del_locked(o);
	o->lru_prev = c->lru.lru_prev;
	o->lru_next = &c->lru;
	c->lru.lru_prev->lru_next = o;
	c->lru.lru_prev = o;
}

static struct cache_obj **index_slot(struct cache *c, uint64_t key)
{
	return &c->index[key & (c->nindex - 1)];
}

static void index_del_locked(struct cache *c, struct cache_obj *o)
{
	struct cache_obj **s = index_slot(c, o->key);

	for (; *s; s = &(*s)->hnext) {
		if (*s == o) {
			*s = o->hnext;
			c->count--;
			return;
		}
	}
}

static void index_grow_locked(struct cache *c)
{
	size_t n = c->nindex * 2, i;
	struct cache_obj **ni = calloc(n, sizeof(*ni));

	if (!ni)
		return;
	for (i = 0; i < c->nindex; i++) {
		struct cache_obj *o = c->index[i], *next;

		for (; o; o = next) {
			next = o->hnext;
			o->hnext = ni[o->key & (n - 1)];
			ni[o->key & (n - 1)] = o;
		}
	}
	free(c->index);
	c->index = ni;
	c->nindex = n;
}

static uint64_t block_len(const struct cache_obj *o, uint64_t b)
{
	uint64_t bs = o->c->block_size, off = b * bs;

	return o->id.size - off < bs ? o->id.size - off : bs;
}

/* Drop the data of @o: its file, its bitmaps and its room. */
static void drop_data_locked(struct cache *c, struct cache_obj *o)
{
	if (!o->reserved)
		return;
	if (o->map) { /* not while open: the last close unmaps it first */
		munmap(o->map, o->map_len);
		o->map = NULL;
	}
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->pt_id >= 0 && c->pt_close)
		c->pt_close(o->pt_id, c->pt_arg);
	o->pt_id = -1;
	unlinkat(c->dirfd, o->name, 0);
	if (o->backing_fd >= 0)
		close(o->backing_fd);
	o->backing_fd = -1;
	memset(o->present, 0, (o->nblocks + 63) / 64 * 8);
	STAT_SUB(cache_bytes, o->bytes);
	o->npresent = 0;
	o->bytes = 0;
	o->reserved = false;
	c->reserved -= o->id.size;
	STAT_SUB(cache_reserved, o->id.size);
	STAT_SUB(cache_files, 1);
	lru_del_locked(o);
}

static void obj_free_locked(struct cache *c, struct cache_obj *o)
{
	drop_data_locked(c, o);
	index_del_locked(c, o);
	if (o->backing_fd >= 0)
		close(o->backing_fd);
	free(o->present);
	free(o->busy);
	free(o->path);
	free(o);
}

void cache_free(struct cache *c)
{
	size_t i;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->nindex; i++) {
		while (c->index[i])
			obj_free_locked(c, c->index[i]);
	}
	pthread_mutex_unlock(&c->lock);
	unlinkat(c->dirfd, ".lock", 0);
	close(c->lockfd);
	close(c->dirfd);
	rmdir(c->dir); /* only if empty: it may be a directory of the user's */
	pthread_cond_destroy(&c->open_cond);
	pthread_mutex_destroy(&c->lock);
	free(c->index);
	free(c->dir);
	free(c);
}

static struct cache_obj *obj_alloc(struct cache *c, const char *path,
				   const struct ident *id, uint64_t key)
{
	struct cache_obj *o = calloc(1, sizeof(*o));
	uint64_t words;

	if (!o)
		return NULL;
	o->c = c;
	o->id = *id;
	o->key = key;
	o->fd = o->backing_fd = o->pt_id = -1;
	o->refs = 1;
	o->nblocks = (id->size + c->block_size - 1) >> c->block_shift;
	words = (o->nblocks + 63) / 64 + 1;
	o->path = strdup(path);
	o->present = calloc(words, 8);
	o->busy = calloc(words, 8);
	if (!o->path || !o->present || !o->busy) {
		free(o->path);
		free(o->present);
		free(o->busy);
		free(o);
		return NULL;
	}
	snprintf(o->name, sizeof(o->name), "%016" PRIx64 "%016" PRIx64 "%s",
		 key, fnv(key, path, strlen(path)), CACHE_SUFFIX);
	return o;
}

int cache_obj_get(struct cache *c, const char *path, const struct ident *id,
		  struct cache_obj **out)
{
	uint64_t key = obj_key(path, id);
	struct cache_obj *o, *fresh, **s;

	/* allocated up front so that find-or-insert is one critical section */
	fresh = obj_alloc(c, path, id, key);
	if (!fresh)
		return -ENOMEM;
	pthread_mutex_lock(&c->lock);
	for (o = *index_slot(c, key); o; o = o->hnext) {
		if (o->key == key && !o->stale && ident_eq(&o->id, id) &&
		    !strcmp(o->path, path)) {
			o->refs++;
			pthread_mutex_unlock(&c->lock);
			free(fresh->path);
			free(fresh->present);
			free(fresh->busy);
			free(fresh);
			*out = o;
			return 0;
		}
	}
	s = index_slot(c, key);
	fresh->hnext = *s;
	*s = fresh;
	if (++c->count > c->nindex)
		index_grow_locked(c);
	pthread_mutex_unlock(&c->lock);
	*out = fresh;
	return 0;
}

void cache_obj_ref(struct cache_obj *o)
{
	pthread_mutex_lock(&o->c->lock);
	o->refs++;
	pthread_mutex_unlock(&o->c->lock);
}

void cache_obj_put(struct cache_obj *o)
{
	struct cache *c;

	if (!o)
		return;
	c = o->c;
	pthread_mutex_lock(&c->lock);
	if (--o->refs == 0 && (!o->reserved || o->stale))
		obj_free_locked(c, o);
	pthread_mutex_unlock(&c->lock);
}

/* Evict idle objects, oldest first, until @need more bytes fit. */
static bool make_room_locked(struct cache *c, struct cache_obj *self,
			     uint64_t need)
{
	struct cache_obj *o, *next;

	for (o = c->lru.lru_next; o != &c->lru; o = next) {
		if (c->reserved + need <= c->capacity)
			return true;
		next = o->lru_next;
		if (o == self || o->opens)
			continue;
		drop_data_locked(c, o);
		STAT_INC(cache_evictions);
		if (o->refs == 0)
			obj_free_locked(c, o);
	}
	return c->reserved + need <= c->capacity;
}

int cache_obj_open(struct cache_obj *o)
{
	struct cache *c = o->c;
	int ret = 0, fd;

	pthread_mutex_lock(&c->lock);
	if (o->reserved) {
		o->opens++;
		lru_touch_locked(c, o);
		goto out_unlock;
	}
	if (o->id.size > c->capacity || !make_room_locked(c, o, o->id.size)) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	fd = openat(c->dirfd, o->name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
	if (fd < 0) {
		ret = -errno;
		goto out_unlock;
	}
	if (ftruncate(fd, o->id.size) < 0) {
		ret = -errno;
		close(fd);
		unlinkat(c->dirfd, o->name, 0);
		goto out_unlock;
	}
	o->fd = fd;
	o->reserved = true;
	o->opens++;
	c->reserved += o->id.size;
	STAT_ADD(cache_reserved, o->id.size);
	STAT_INC(cache_files);
	lru_touch_locked(c, o);
	if (o->nblocks == 0)
		o->npresent = 0; /* an empty file is complete as it is */
out_unlock:
	pthread_mutex_unlock(&c->lock);
	return ret;
}

void cache_obj_close(struct cache_obj *o)
{
	struct cache *c = o->c;

	int fd = -1, bfd = -1;
	char *map = NULL;
	size_t map_len = 0;

	pthread_mutex_lock(&c->lock);
	if (o->opens && --o->opens == 0) {
		/* idle: keep the data, not the descriptors nor the mapping */
		map = o->map;
		map_len = o->map_len;
		o->map = NULL;
		if (o->stale) {
			drop_data_locked(c, o);
		} else if (o->reserved) {
			lru_touch_locked(c, o);
			fd = o->fd;
			bfd = o->backing_fd;
			o->fd = o->backing_fd = -1;
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (map)
		munmap(map, map_len);
	if (fd >= 0)
		close(fd);
	if (bfd >= 0)
		close(bfd);
}

void cache_obj_stale(struct cache_obj *o)
{
	struct cache *c = o->c;

	pthread_mutex_lock(&c->lock);
	if (!o->stale) {
		o->stale = true;
		STAT_INC(cache_stale);
		if (!o->opens)
			drop_data_locked(c, o);
	}
	pthread_mutex_unlock(&c->lock);
}

bool cache_obj_complete(struct cache_obj *o)
{
	bool done;

	pthread_mutex_lock(&o->c->lock);
	done = o->reserved && o->npresent == o->nblocks;
	pthread_mutex_unlock(&o->c->lock);
	return done;
}

void cache_set_passthrough(struct cache *c, int (*open)(int fd, void *arg),
			   void (*close)(int id, void *arg), void *arg)
{
	c->pt_open = open;
	c->pt_close = close;
	c->pt_arg = arg;
}

int cache_obj_passthrough_id(struct cache_obj *o)
{
	struct cache *c = o->c;
	int id, fd;

	pthread_mutex_lock(&c->lock);
	id = o->pt_id;
	if (id < 0 && (!o->reserved || o->npresent != o->nblocks))
		id = -EAGAIN;
	pthread_mutex_unlock(&c->lock);
	if (id != -1)
		return id;
	if (!c->pt_open)
		return -EOPNOTSUPP;
	fd = cache_obj_fd(o);
	if (fd < 0)
		return -EBADF;
	/* register outside the lock: an ioctl that allocates in the kernel */
	id = c->pt_open(fd, c->pt_arg);
	if (id < 0)
		return id;
	pthread_mutex_lock(&c->lock);
	if (o->pt_id < 0 && o->reserved) {
		o->pt_id = id;
		id = -1;
	}
	pthread_mutex_unlock(&c->lock);
	if (id >= 0)
		c->pt_close(id, c->pt_arg); /* lost a race, or the file went */
	pthread_mutex_lock(&c->lock);
	id = o->pt_id;
	pthread_mutex_unlock(&c->lock);
	return id >= 0 ? id : -EAGAIN;
}

int cache_obj_fd(struct cache_obj *o)
{
	struct cache *c = o->c;
	int fd;

	pthread_mutex_lock(&c->lock);
	if (o->fd < 0 && o->reserved && o->opens) {
		o->fd = openat(c->dirfd, o->name, O_RDWR | O_CLOEXEC);
		if (o->fd < 0)
			log_warn_rl("cache file %s: %s", o->name,
				    strerror(errno));
	}
	fd = o->fd;
	pthread_mutex_unlock(&c->lock);
	return fd;
}

char *cache_obj_map(struct cache_obj *o, bool make)
{
	struct cache *c = o->c;
	size_t len = (o->id.size + PAGE - 1) & ~(size_t)(PAGE - 1);
	char *map;

	pthread_mutex_lock(&c->lock);
	if (make && !o->map && !o->unmappable && o->reserved && o->opens &&
	    o->fd >= 0 && len) {
		map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			   o->fd, 0);
		if (map == MAP_FAILED) {
			/* once: the cache file system cannot map files */
			log_notice("cache file %s: mmap: %s; its blocks are "
				   "read through a buffer", o->name,
				   strerror(errno));
			o->unmappable = true;
		} else {
			o->map = map;
			o->map_len = len;
		}
	}
	map = o->map;
	pthread_mutex_unlock(&c->lock);
	return map;
}

int cache_claim(struct cache_obj *o, uint64_t off, uint64_t len,
		struct cache_wait *cw, uint64_t *block)
{
	struct cache *c = o->c;
	uint64_t b, first, last, end;
	bool busy = false;
	int ret = CACHE_PRESENT;

	if (off >= o->id.size || len == 0)
		return CACHE_PRESENT;
	end = o->id.size - off < len ? o->id.size : off + len;
	first = off >> c->block_shift;
	last = (end - 1) >> c->block_shift;
	pthread_mutex_lock(&c->lock);
	if (!o->reserved) {
		ret = -EBADF;
		goto out_unlock;
	}
	for (b = first; b <= last; b++) {
		if (bit_test(o->present, b))
			continue;
		if (bit_test(o->busy, b)) {
			busy = true;
			continue;
		}
		bit_set(o->busy, b);
		*block = b;
		ret = CACHE_CLAIMED;
		goto out_unlock;
	}
	if (busy && !cw) {
		ret = CACHE_PARKED;
	} else if (busy) {
		cw->next = o->waiters;
		o->waiters = cw;
		STAT_INC(cache_waits);
		ret = CACHE_PARKED;
	}
out_unlock:
	pthread_mutex_unlock(&c->lock);
	return ret;
}

bool cache_block_present(struct cache_obj *o, uint64_t block)
{
	bool present;

	pthread_mutex_lock(&o->c->lock);
	present = block < o->nblocks && bit_test(o->present, block);
	pthread_mutex_unlock(&o->c->lock);
	return present;
}

uint64_t cache_obj_nblocks(const struct cache_obj *o)
{
	return o->nblocks;
}

void cache_block_done(struct cache_obj *o, uint64_t block, int err,
		      struct worker *w)
{
	struct cache *c = o->c;
	struct cache_wait *list, *cw;

	pthread_mutex_lock(&c->lock);
	bit_clear(o->busy, block);
	if (!err && o->reserved && !bit_test(o->present, block)) {
		bit_set(o->present, block);
		o->npresent++;
		o->bytes += block_len(o, block);
		STAT_ADD(cache_bytes, block_len(o, block));
	}
	list = o->waiters;
	o->waiters = NULL;
	pthread_mutex_unlock(&c->lock);
	for (cw = list; cw; cw = cw->next)
		cw->err = err;
	worker_ready(w, list);
}

void cache_drop_all(struct cache *c)
{
	struct cache_obj *o, *next;

	pthread_mutex_lock(&c->lock);
	for (o = c->lru.lru_next; o != &c->lru; o = next) {
		next = o->lru_next;
		if (o->opens)
			continue;
		drop_data_locked(c, o);
		if (o->refs == 0)
			obj_free_locked(c, o);
	}
	pthread_mutex_unlock(&c->lock);
}

int cache_obj_backing_fd(struct cache_obj *o, const struct view *v,
			 bool direct)
{
	struct cache *c = o->c;
	int fd;

	/* one thread opens, the others wait: the backing store sees one open */
	pthread_mutex_lock(&c->lock);
	while (o->backing_opening) {
		chan_may_block(); /* another thread opens it */
		pthread_cond_wait(&c->open_cond, &c->lock);
	}
	fd = o->backing_fd;
	if (fd < 0)
		o->backing_opening = true;
	pthread_mutex_unlock(&c->lock);
	if (fd >= 0)
		return fd;

	fd = view_open(v, o->path, O_RDONLY | (direct ? O_DIRECT : 0));
	if (fd == -EINVAL && direct)
		fd = view_open(v, o->path, O_RDONLY); /* no O_DIRECT here */
	if (fd >= 0) {
		int ret;

		STAT_INC(backing_opens);
		ret = ident_check_fd(fd, &o->id);
		if (ret) {
			close(fd);
			fd = ret;
		}
	}
	pthread_mutex_lock(&c->lock);
	if (fd >= 0)
		o->backing_fd = fd;
	o->backing_opening = false;
	pthread_cond_broadcast(&c->open_cond);
	pthread_mutex_unlock(&c->lock);
	return fd;
}
