// SPDX-License-Identifier: MIT
/*
 * daemon/view.c - the mount as a view of the backing tree.
 *
 * MOUNTPOINT/X shows backing path /X when /X is an export or lies below one;
 * the strict ancestors of exports are "virtual" directories that show only
 * the next component towards each export. Every syscall on a backing path is
 * made here, relative to the right directory: paths at or below the mount
 * point go through an O_PATH descriptor of the directory the mount covers,
 * taken before mounting, so a view of "/" never walks into its own mount.
 *
 * A path strictly below an export is resolved in its parent directory,
 * through an O_PATH descriptor kept for it (struct dircache), not walked
 * from "/": on a parallel file system every component of a walk can be a
 * metadata operation on the servers canopy is there to spare.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "canopyd_i.h"

/* A kept directory descriptor. */
struct vdir {
	struct vdir *hnext;             /* hash chain */
	struct vdir *prev, *next;       /* LRU, oldest first */
	char *path;
	uint64_t hash;
	uint64_t opened_ns;
	unsigned refs;                  /* users of fd now */
	bool dead;                      /* dropped while in use: free at put */
	int fd;
	uint64_t dev, ino;              /* what fd is */
};

struct dircache {
	pthread_mutex_t lock;
	struct vdir **index;
	size_t nindex;                  /* a power of two */
	size_t count, max;
	uint64_t ttl_ns;
	struct vdir lru;
};

static uint64_t path_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return h;
}

int view_dirs_enable(struct view *v, unsigned max, uint64_t ttl_ns)
{
	struct dircache *dc;

	if (!max)
		return 0;
	dc = calloc(1, sizeof(*dc));
	if (!dc)
		return -ENOMEM;
	dc->nindex = 1;
	while (dc->nindex < max)
		dc->nindex <<= 1;
	dc->index = calloc(dc->nindex, sizeof(*dc->index));
	if (!dc->index) {
		free(dc);
		return -ENOMEM;
	}
	pthread_mutex_init(&dc->lock, NULL);
	dc->max = max;
	dc->ttl_ns = ttl_ns;
	dc->lru.prev = dc->lru.next = &dc->lru;
	v->dirs = dc;
	return 0;
}

static void vdir_free(struct vdir *d)
{
	close(d->fd);
	free(d->path);
	free(d);
}

/* Take @d out of the index and the LRU; freed now unless in use. */
static void vdir_unlink_locked(struct dircache *dc, struct vdir *d)
{
	struct vdir **s = &dc->index[d->hash & (dc->nindex - 1)];

	while (*s != d)
		s = &(*s)->hnext;
	*s = d->hnext;
	d->prev->next = d->next;
	d->next->prev = d->prev;
	dc->count--;
	if (d->refs)
		d->dead = true;
	else
		vdir_free(d);
}

/*
 * @path was just found to be the directory @stx: a kept descriptor of
 * another directory by that path (replaced on the backing store) goes.
 */
static void dirs_check(const struct view *v, const char *path,
		       const struct statx *stx)
{
	struct dircache *dc = v->dirs;
	uint64_t h = path_hash(path);
	struct vdir *d;

	pthread_mutex_lock(&dc->lock);
	for (d = dc->index[h & (dc->nindex - 1)]; d; d = d->hnext) {
		if (d->hash == h && !strcmp(d->path, path)) {
			if (d->ino != stx->stx_ino ||
			    d->dev != makedev(stx->stx_dev_major,
					      stx->stx_dev_minor))
				vdir_unlink_locked(dc, d);
			break;
		}
	}
	pthread_mutex_unlock(&dc->lock);
}

void view_dirs_drop(const struct view *v)
{
	struct dircache *dc = v->dirs;

	if (!dc)
		return;
	pthread_mutex_lock(&dc->lock);
	while (dc->lru.next != &dc->lru)
		vdir_unlink_locked(dc, dc->lru.next);
	pthread_mutex_unlock(&dc->lock);
}

static void dirs_free(struct dircache *dc)
{
	if (!dc)
		return;
	while (dc->lru.next != &dc->lru)
		vdir_unlink_locked(dc, dc->lru.next);
	pthread_mutex_destroy(&dc->lock);
	free(dc->index);
	free(dc);
}

static void vdir_put(struct dircache *dc, struct vdir *d)
{
	bool gone;

	pthread_mutex_lock(&dc->lock);
	gone = --d->refs == 0 && d->dead;
	pthread_mutex_unlock(&dc->lock);
	if (gone)
		vdir_free(d);
}

static int open_dir(const struct view *v, const char *dir);

/*
 * The kept descriptor of directory @dir, opened if need be; NULL with
 * *err set when it cannot be opened. The caller puts it back.
 */
static struct vdir *vdir_get(const struct view *v, const char *dir, int *err)
{
	struct dircache *dc = v->dirs;
	uint64_t h = path_hash(dir), now = now_ns();
	struct vdir *d, *old;
	struct statx stx;
	int fd;

	pthread_mutex_lock(&dc->lock);
	for (d = dc->index[h & (dc->nindex - 1)]; d; d = d->hnext) {
		if (d->hash != h || strcmp(d->path, dir))
			continue;
		if (now - d->opened_ns >= dc->ttl_ns) {
			vdir_unlink_locked(dc, d); /* expired: open it again */
			break;
		}
		d->refs++;
		d->prev->next = d->next; /* most recently used: to the tail */
		d->next->prev = d->prev;
		d->prev = dc->lru.prev;
		d->next = &dc->lru;
		dc->lru.prev->next = d;
		dc->lru.prev = d;
		pthread_mutex_unlock(&dc->lock);
		return d;
	}
	pthread_mutex_unlock(&dc->lock);

	fd = open_dir(v, dir);
	if (fd < 0) {
		*err = fd;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d || !(d->path = strdup(dir)) ||
	    statx(fd, "", AT_EMPTY_PATH, STATX_INO, &stx) < 0) {
		*err = d && d->path ? -errno : -ENOMEM;
		if (d)
			free(d->path);
		free(d);
		close(fd);
		return NULL;
	}
	d->dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	d->ino = stx.stx_ino;
	d->fd = fd;
	d->hash = h;
	d->opened_ns = now;
	d->refs = 1;
	pthread_mutex_lock(&dc->lock);
	/* another thread may have kept it meanwhile: use that one */
	for (old = dc->index[h & (dc->nindex - 1)]; old; old = old->hnext) {
		if (old->hash == h && !strcmp(old->path, dir)) {
			old->refs++;
			pthread_mutex_unlock(&dc->lock);
			vdir_free(d);
			return old;
		}
	}
	/* the oldest unused ones make room; those in use stay */
	for (old = dc->lru.next; dc->count >= dc->max && old != &dc->lru;) {
		struct vdir *next = old->next;

		if (!old->refs)
			vdir_unlink_locked(dc, old);
		old = next;
	}
	d->hnext = dc->index[h & (dc->nindex - 1)];
	dc->index[h & (dc->nindex - 1)] = d;
	d->prev = dc->lru.prev;
	d->next = &dc->lru;
	dc->lru.prev->next = d;
	dc->lru.prev = d;
	dc->count++;
	pthread_mutex_unlock(&dc->lock);
	return d;
}

int view_init(struct view *v, char **exports, size_t nexports,
	      const char *mnt)
{
	int ret;

	memset(v, 0, sizeof(*v));
	v->exports = exports;
	v->nexports = nexports;
	v->mnt = strdup(mnt);
	if (!v->mnt)
		return -ENOMEM;
	v->mntlen = strlen(mnt);
	v->mnt_fd = open(mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (v->mnt_fd < 0) {
		ret = -errno;
		free(v->mnt);
		v->mnt = NULL;
		return ret;
	}
	return 0;
}

void view_fini(struct view *v)
{
	dirs_free(v->dirs);
	v->dirs = NULL;
	if (v->mnt_fd >= 0)
		close(v->mnt_fd);
	free(v->mnt);
	v->mnt = NULL;
	v->mnt_fd = -1;
}

/* Is @a equal to @b or below it, as paths? */
static bool path_within(const char *a, size_t alen, const char *b,
			size_t blen)
{
	if (blen == 1 && b[0] == '/')
		return true;
	if (alen < blen || memcmp(a, b, blen) != 0)
		return false;
	return alen == blen || a[blen] == '/';
}

enum view_kind view_classify(const struct view *v, const char *path)
{
	size_t plen = strlen(path), i;
	bool virt = false;

	for (i = 0; i < v->nexports; i++) {
		const char *e = v->exports[i];
		size_t elen = strlen(e);

		if (path_within(path, plen, e, elen))
			return VIEW_REAL;
		if (path_within(e, elen, path, plen))
			virt = true;
	}
	return virt ? VIEW_VIRTUAL : VIEW_HIDDEN;
}

int view_virtual_children(const struct view *v, const char *path,
			  char ***names, size_t *n)
{
	size_t plen = strlen(path), i, j, cnt = 0;
	char **out;

	out = calloc(v->nexports + 1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (i = 0; i < v->nexports; i++) {
		const char *e = v->exports[i], *start, *end;
		size_t elen = strlen(e);
		bool dup = false;

		if (!path_within(e, elen, path, plen) || elen == plen)
			continue;
		start = e + (plen == 1 ? 1 : plen + 1);
		end = strchr(start, '/');
		if (!end)
			end = e + elen;
		for (j = 0; j < cnt; j++)
			if (strlen(out[j]) == (size_t)(end - start) &&
			    !memcmp(out[j], start, end - start))
				dup = true;
		if (dup)
			continue;
		out[cnt] = strndup(start, end - start);
		if (!out[cnt])
			goto err_free;
		cnt++;
	}
	*names = out;
	*n = cnt;
	return 0;

err_free:
	for (j = 0; j < cnt; j++)
		free(out[j]);
	free(out);
	return -ENOMEM;
}

char *view_join(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	char *p = malloc(dl + nl + 2);

	if (!p)
		return NULL;
	memcpy(p, dir, dl);
	if (dl == 0 || dir[dl - 1] != '/')
		p[dl++] = '/';
	memcpy(p + dl, name, nl + 1);
	return p;
}

void view_at(const struct view *v, const char *path, int *dirfd,
	     const char **rel)
{
	size_t plen = strlen(path);

	if (v->mnt && path_within(path, plen, v->mnt, v->mntlen) &&
	    !(v->mntlen == 1)) {
		*dirfd = v->mnt_fd;
		*rel = plen == v->mntlen ? "." : path + v->mntlen + 1;
		return;
	}
	*dirfd = AT_FDCWD;
	*rel = path;
}

/*
 * Exports and their ancestors are shown as the directories they lead to,
 * even where one of them is a symlink; below an export, symlinks are shown
 * as symlinks.
 */
static bool view_follows(const struct view *v, const char *path)
{
	size_t plen = strlen(path), i;

	for (i = 0; i < v->nexports; i++) {
		size_t elen = strlen(v->exports[i]);

		if (path_within(v->exports[i], elen, path, plen))
			return true;
	}
	return false;
}

/* Is @path the mount point or below it (and the mount point not "/")? */
static bool under_mount(const struct view *v, const char *path)
{
	return v->mnt && v->mntlen != 1 &&
	       path_within(path, strlen(path), v->mnt, v->mntlen);
}

static void at_parent(const struct view *v, const char *path, int *dirfd,
		      const char **rel, struct vdir **ref);

/*
 * Open directory @dir, following a symlink as a walk through it would: in
 * its parent's kept descriptor below an export (so a new directory costs
 * one component, not its whole path), else by its path.
 */
static int open_dir(const struct view *v, const char *dir)
{
	const char *rel;
	struct vdir *ref;
	int dirfd, fd;

	at_parent(v, dir, &dirfd, &rel, &ref);
	chan_may_block();
	fd = openat(dirfd, rel, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	view_dir_put(v, ref);
	if (fd >= 0)
		STAT_INC(backing_dir_opens);
	return fd;
}

int view_dir_get(const struct view *v, const char *dir, struct vdir **ref)
{
	int err = -EOPNOTSUPP;

	*ref = NULL;
	if (!v->dirs || view_classify(v, dir) != VIEW_REAL ||
	    under_mount(v, dir))
		return err;
	*ref = vdir_get(v, dir, &err);
	return *ref ? (*ref)->fd : err;
}

void view_dir_put(const struct view *v, struct vdir *ref)
{
	if (ref)
		vdir_put(v->dirs, ref);
}

/*
 * Where to resolve @path: its last component in its parent's kept
 * descriptor (*ref set, to put back) when @path lies strictly below an
 * export, else as view_at says. Paths at or below the mount point (whose
 * name in its parent is the mount itself), and exports and their
 * ancestors (which follow symlinks), are left to view_at.
 */
static void at_parent(const struct view *v, const char *path, int *dirfd,
		      const char **rel, struct vdir **ref)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	size_t n;
	int fd;

	*ref = NULL;
	if (v->dirs && slash && slash[1] && !view_follows(v, path) &&
	    !under_mount(v, path) &&
	    (n = slash == path ? 1 : (size_t)(slash - path)) < sizeof(dir)) {
		memcpy(dir, path, n);
		dir[n] = '\0';
		fd = view_dir_get(v, dir, ref);
		if (fd >= 0) {
			*dirfd = fd;
			*rel = slash + 1;
			return;
		}
	}
	view_at(v, path, dirfd, rel);
}

int view_statx(const struct view *v, const char *path, struct statx *stx)
{
	const char *rel;
	int dirfd, flags = AT_NO_AUTOMOUNT, ret = 0;
	struct vdir *ref;

	chan_may_block();
	if (!view_follows(v, path))
		flags |= AT_SYMLINK_NOFOLLOW;
	at_parent(v, path, &dirfd, &rel, &ref);
	if (dirfd != AT_FDCWD && !strcmp(rel, ".")) {
		rel = "";
		flags |= AT_EMPTY_PATH;
	}
	STAT_INC(backing_stats);
	if (statx(dirfd, rel, flags, STATX_BASIC_STATS, stx) < 0)
		ret = -errno;
	view_dir_put(v, ref);
	if (!ret && v->dirs && S_ISDIR(stx->stx_mode))
		dirs_check(v, path, stx);
	return ret;
}

int view_open(const struct view *v, const char *path, int flags)
{
	const char *rel;
	struct vdir *ref;
	int dirfd, fd;

	chan_may_block();
	at_parent(v, path, &dirfd, &rel, &ref);
	fd = openat(dirfd, rel, flags | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		fd = -errno;
	view_dir_put(v, ref);
	return fd;
}

ssize_t view_readlink(const struct view *v, const char *path, char *buf,
		      size_t len)
{
	const char *rel;
	struct vdir *ref;
	ssize_t n;
	int dirfd;

	chan_may_block();
	at_parent(v, path, &dirfd, &rel, &ref);
	n = readlinkat(dirfd, rel, buf, len);
	if (n < 0)
		n = -errno;
	view_dir_put(v, ref);
	return n;
}

ssize_t view_xattr(const struct view *v, const char *path, const char *name,
		   void *buf, size_t len)
{
	const char *rel;
	ssize_t n;
	int dirfd;

	view_at(v, path, &dirfd, &rel);
	if (dirfd != AT_FDCWD) /* under the mount point: shown bare */
		return name ? -ENODATA : 0;
	chan_may_block();
	n = name ? lgetxattr(path, name, buf, len) : llistxattr(path, buf, len);
	return n < 0 ? -errno : n;
}

int view_statfs(const struct view *v, const char *path, struct statvfs *sv)
{
	const char *rel;
	int dirfd, fd, ret = 0;

	chan_may_block();
	view_at(v, path, &dirfd, &rel);
	fd = openat(dirfd, rel, O_PATH | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstatvfs(fd, sv) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

void ident_from_statx(struct ident *id, const struct statx *stx)
{
	id->dev = ((uint64_t)stx->stx_dev_major << 32) | stx->stx_dev_minor;
	id->ino = stx->stx_ino;
	id->size = stx->stx_size;
	id->mtime_ns = stx->stx_mtime.tv_sec * 1000000000LL +
		       stx->stx_mtime.tv_nsec;
	id->ctime_ns = stx->stx_ctime.tv_sec * 1000000000LL +
		       stx->stx_ctime.tv_nsec;
}

bool ident_eq(const struct ident *a, const struct ident *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

int ident_check_fd(int fd, const struct ident *id)
{
	struct statx stx;
	struct ident now;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) < 0)
		return -errno;
	ident_from_statx(&now, &stx);
	return ident_eq(&now, id) ? 0 : -ESTALE;
}
