// SPDX-License-Identifier: MIT
/*
 * daemon/ops_dir.c - OPENDIR, READDIR, READDIRPLUS, RELEASEDIR.
 *
 * The first READDIR(PLUS) of a handle takes a snapshot of the listing, so
 * offsets stay stable however the kernel pages through it. OPENDIR asks the
 * kernel to cache the listing (FOPEN_CACHE_DIR, FOPEN_KEEP_CACHE) until the
 * directory's mtime changes; while it serves a listing from that cache no
 * READDIR comes, and the backing directory is not read at all. READDIRPLUS gives every entry its attributes, taken with one
 * batch of statx through the worker's io_uring, so a scan followed by stats
 * costs the backing store one round of requests.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "canopyd_i.h"
#include "io.h"

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int snap_add(struct handle *h, size_t *cap, const char *name,
		    uint64_t ino, unsigned type)
{
	struct dirent_snap *e;

	if (h->nents == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct dirent_snap *ne = realloc(h->ents, ncap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		h->ents = ne;
		*cap = ncap;
	}
	e = &h->ents[h->nents];
	e->name = strdup(name);
	if (!e->name)
		return -ENOMEM;
	e->namelen = strlen(name);
	e->ino = ino;
	e->type = type;
	h->nents++;
	return 0;
}

static int snap_real(struct worker *w, struct handle *h)
{
	size_t cap = 0;
	int fd, ret = 0;

	fd = view_open(&w->cp->view, h->node->path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	STAT_INC(backing_readdirs);
	for (;;) {
		long n = syscall(SYS_getdents64, fd, w->buf, w->buf_len);
		long off = 0;

		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0)
			break;
		while (off < n) {
			struct linux_dirent64 *d = (void *)(w->buf + off);

			ret = snap_add(h, &cap, d->d_name, d->d_ino, d->d_type);
			if (ret)
				goto out;
			off += d->d_reclen;
		}
	}
out:
	close(fd);
	return ret;
}

/* In a tree: the listing the owner of the directory gave. */
static int snap_tree(struct worker *w, struct handle *h)
{
	struct meta_list *l;
	size_t cap = 0, i;
	int ret;

	ret = meta_list(w, h->node->path, &l);
	if (ret)
		return ret;
	ret = snap_add(h, &cap, ".", h->node->stx.stx_ino, DT_DIR);
	if (!ret)
		ret = snap_add(h, &cap, "..", 0, DT_DIR);
	for (i = 0; i < l->n && !ret; i++)
		ret = snap_add(h, &cap, l->ents[i].name,
			       l->ents[i].err ? 0 : l->ents[i].stx.stx_ino,
			       l->ents[i].type);
	meta_list_put(l);
	return ret;
}

static int snap_virtual(struct worker *w, struct handle *h)
{
	struct view *v = &w->cp->view;
	size_t cap = 0, n = 0, i;
	char **names = NULL;
	int ret;

	ret = view_virtual_children(v, h->node->path, &names, &n);
	if (ret)
		return ret;
	ret = snap_add(h, &cap, ".", h->node->stx.stx_ino, DT_DIR);
	if (!ret)
		ret = snap_add(h, &cap, "..", 0, DT_DIR);
	for (i = 0; i < n && !ret; i++) {
		char *path = view_join(h->node->path, names[i]);
		struct statx stx;

		if (!path) {
			ret = -ENOMEM;
			break;
		}
		/* an export that is gone is not listed */
		if (!view_statx(v, path, &stx))
			ret = snap_add(h, &cap, names[i], stx.stx_ino, DT_DIR);
		free(path);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}

void op_opendir(struct req *r)
{
	struct compat_open_out out;
	struct node *n = node_get(r->nodeid);
	struct handle *h;
	if (!n) {
		reply_err(r, -ESTALE);
		return;
	}
	if (!S_ISDIR(n->stx.stx_mode)) {
		reply_err(r, -ENOTDIR);
		goto out;
	}
	h = handle_new(H_DIR, n);
	if (!h) {
		reply_err(r, -ENOMEM);
		goto out;
	}
	memset(&out, 0, sizeof(out));
	out.fh = h->fh;
	out.open_flags = FOPEN_CACHE_DIR | FOPEN_KEEP_CACHE;
	reply_buf(r, &out, sizeof(out));
out:
	node_put(n);
}

void op_releasedir(struct req *r)
{
	const struct fuse_release_in *in = r->in;
	struct handle *h = handle_remove(in->fh);

	handle_free(h);
	reply_err(r, h ? 0 : -EBADF);
}

/*
 * The directory handle of a READDIR(PLUS), with its snapshot taken. The
 * kernel serializes the reads of one open directory (the FUSE file's
 * readdir lock), so the first one takes the snapshot alone; the next may
 * come on another thread, ordered by the kernel (see chan_order_release).
 */
static struct handle *dir_handle(struct req *r, uint64_t fh)
{
	struct handle *h = handle_get(fh);
	int ret;

	if (!h || h->kind != H_DIR) {
		reply_err(r, -EBADF);
		return NULL;
	}
	if (!h->listed) {
		if (h->node->kind != VIEW_REAL)
			ret = snap_virtual(r->w, h);
		else if (r->w->cp->peers)
			ret = snap_tree(r->w, h);
		else
			ret = snap_real(r->w, h);
		if (ret) {
			reply_err(r, ret);
			return NULL;
		}
		h->listed = true;
	}
	return h;
}

static bool is_dot(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..");
}

void op_readdir(struct req *r)
{
	const struct fuse_read_in *in = r->in;
	struct worker *w = r->w;
	struct handle *h = dir_handle(r, in->fh);
	size_t size, used = 0, i;

	if (!h)
		return;
	size = in->size < w->buf_len ? in->size : w->buf_len;
	for (i = in->offset; i < h->nents; i++) {
		const struct dirent_snap *e = &h->ents[i];
		size_t len = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + e->namelen);
		struct fuse_dirent *d = (void *)(w->buf + used);

		if (used + len > size)
			break;
		memset(d, 0, len);
		d->ino = e->ino;
		d->off = i + 1;
		d->namelen = e->namelen;
		d->type = e->type;
		memcpy(d->name, e->name, e->namelen);
		used += len;
	}
	reply_buf(r, w->buf, used);
}

/* statx the @n @paths (NULL: skip) of directory @h into stx/res. */
static void plus_statx(struct worker *w, struct handle *h, size_t n,
		       char **paths, struct statx *stx, int *res)
{
	struct view *v = &w->cp->view;
	const char **batch = calloc(n, sizeof(*batch));
	size_t *idx = calloc(n, sizeof(*idx)), nb = 0, i;
	struct statx *bstx = calloc(n, sizeof(*bstx));
	int *bres = calloc(n, sizeof(*bres));
	struct vdir *ref = NULL;
	int dfd = -1;

	chan_may_block(); /* statx of the backing entries */
	/* names in the directory's kept descriptor, else whole paths */
	if (h->node->kind == VIEW_REAL && !w->cp->peers)
		dfd = view_dir_get(v, h->node->path, &ref);
	for (i = 0; i < n; i++) {
		const char *rel;
		int dirfd;

		res[i] = -ENOENT;
		if (!paths[i])
			continue;
		if (w->cp->peers && h->node->kind == VIEW_REAL) {
			/* the listing brought them; meta.c keeps them */
			res[i] = meta_stat(w, paths[i], &stx[i]);
			continue;
		}
		view_at(v, paths[i], &dirfd, &rel);
		if (!batch || !idx || !bstx || !bres ||
		    (dirfd != AT_FDCWD && dfd < 0) ||
		    h->node->kind != VIEW_REAL) {
			/* under the mount point, or above the exports */
			res[i] = view_statx(v, paths[i], &stx[i]);
			continue;
		}
		batch[nb] = dfd >= 0 ? strrchr(paths[i], '/') + 1 : paths[i];
		idx[nb++] = i;
	}
	if (nb) {
		STAT_ADD(backing_stats, nb);
		if (uring_statx_many(w->ring, dfd >= 0 ? dfd : AT_FDCWD, batch,
				     nb, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
				     STATX_BASIC_STATS, bstx, bres) < 0) {
			for (i = 0; i < nb; i++)
				bres[i] = view_statx(v, paths[idx[i]],
						     &bstx[i]);
		}
		for (i = 0; i < nb; i++) {
			res[idx[i]] = bres[i];
			stx[idx[i]] = bstx[i];
		}
	}
	view_dir_put(v, ref);
	free(batch);
	free(idx);
	free(bstx);
	free(bres);
}

void op_readdirplus(struct req *r)
{
	const struct fuse_read_in *in = r->in;
	struct worker *w = r->w;
	const struct conf *conf = w->cp->conf;
	struct handle *h = dir_handle(r, in->fh);
	size_t size, used = 0, n = 0, i;
	struct statx *stx = NULL;
	char **paths = NULL;
	int *res = NULL;

	if (!h)
		return;
	size = in->size < w->buf_len ? in->size : w->buf_len;
	/* how many entries fit */
	for (i = in->offset; i < h->nents; i++) {
		size_t len = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS +
					       h->ents[i].namelen);

		if (used + len > size)
			break;
		used += len;
		n++;
	}
	if (n) {
		paths = calloc(n, sizeof(*paths));
		stx = calloc(n, sizeof(*stx));
		res = calloc(n, sizeof(*res));
		if (!paths || !stx || !res) {
			reply_err(r, -ENOMEM);
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		const char *name = h->ents[in->offset + i].name;

		if (!is_dot(name))
			paths[i] = view_join(h->node->path, name);
	}
	if (n)
		plus_statx(w, h, n, paths, stx, res);

	used = 0;
	for (i = 0; i < n; i++) {
		const struct dirent_snap *e = &h->ents[in->offset + i];
		size_t len = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS +
					       e->namelen);
		struct fuse_direntplus *d = (void *)(w->buf + used);
		struct node *child = NULL;

		memset(d, 0, len);
		if (paths[i] && res[i] == 0) {
			enum view_kind kind = h->node->kind == VIEW_REAL ?
				VIEW_REAL : view_classify(&w->cp->view, paths[i]);

			child = node_lookup(paths[i], kind, &stx[i]);
		}
		if (child) {
			d->entry_out.nodeid = child->nodeid;
			timeout_split(conf->entry_timeout,
				      &d->entry_out.entry_valid,
				      &d->entry_out.entry_valid_nsec);
			timeout_split(conf->attr_timeout,
				      &d->entry_out.attr_valid,
				      &d->entry_out.attr_valid_nsec);
			attr_from_statx(&d->entry_out.attr, &stx[i]);
			node_put(child);
		}
		d->dirent.ino = child ? stx[i].stx_ino : e->ino;
		d->dirent.off = in->offset + i + 1;
		d->dirent.namelen = e->namelen;
		d->dirent.type = e->type;
		memcpy(d->dirent.name, e->name, e->namelen);
		used += len;
	}
	reply_buf(r, w->buf, used);
out:
	for (i = 0; paths && i < n; i++)
		free(paths[i]);
	free(paths);
	free(stx);
	free(res);
}
