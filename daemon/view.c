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
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "canopyd_i.h"

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

int view_statx(const struct view *v, const char *path, struct statx *stx)
{
	const char *rel;
	int dirfd, flags = AT_NO_AUTOMOUNT;

	if (!view_follows(v, path))
		flags |= AT_SYMLINK_NOFOLLOW;
	view_at(v, path, &dirfd, &rel);
	if (dirfd != AT_FDCWD && !strcmp(rel, ".")) {
		rel = "";
		flags |= AT_EMPTY_PATH;
	}
	STAT_INC(backing_stats);
	if (statx(dirfd, rel, flags, STATX_BASIC_STATS, stx) < 0)
		return -errno;
	return 0;
}

int view_open(const struct view *v, const char *path, int flags)
{
	const char *rel;
	int dirfd, fd;

	view_at(v, path, &dirfd, &rel);
	fd = openat(dirfd, rel, flags | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return -errno;
	return fd;
}

ssize_t view_readlink(const struct view *v, const char *path, char *buf,
		      size_t len)
{
	const char *rel;
	ssize_t n;
	int dirfd;

	view_at(v, path, &dirfd, &rel);
	n = readlinkat(dirfd, rel, buf, len);
	if (n < 0)
		return -errno;
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
	n = name ? lgetxattr(path, name, buf, len) : llistxattr(path, buf, len);
	return n < 0 ? -errno : n;
}

int view_statfs(const struct view *v, const char *path, struct statvfs *sv)
{
	const char *rel;
	int dirfd, fd, ret = 0;

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
