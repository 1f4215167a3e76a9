// SPDX-License-Identifier: MIT
/*
 * daemon/ops_file.c - OPEN, READ, RELEASE, FLUSH, LSEEK.
 *
 * Each open gets one of three modes (DESIGN.md, "Kernel interface"):
 *   passthrough  the file is complete in its cache file (or, with
 *                cache.owner_passthrough, the backing file itself); the
 *                kernel reads it directly and canopyd sees no READ;
 *   cached       READs are answered from the cache file (spliced),
 *                fetching missing blocks first; FOPEN_DIRECT_IO while a
 *                file over cache.small_file_max is not whole yet
 *                (fuse.cold_direct_io: no second copy in the FUSE page
 *                cache), else FOPEN_KEEP_CACHE. When the cache file system
 *                is full, the handle's READs go to the backing file;
 *   direct       FOPEN_DIRECT_IO, for files the cache cannot hold; READs go
 *                to the backing file.
 * Small files are fetched whole at OPEN, so their opens end in passthrough.
 *
 * With fuse.no_open, OPEN answers ENOSYS: from then on the kernel opens and
 * closes regular files itself (no OPEN, RELEASE or FLUSH), keeps their pages
 * cached (FOPEN_KEEP_CACHE) and sends READ with fh 0. Such a READ is served
 * by its node, through a handle of its own: the node's current object,
 * opened for that READ alone, or the backing file when the cache cannot hold
 * it. Between READs the object may be evicted; a later READ fetches again.
 *
 * The kernel requires every open of an inode in passthrough to use the same
 * backing file, and refuses passthrough while the inode has cached opens;
 * node->pt_opens / cached_opens / backing_id mirror that state, under
 * node->lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "canopyd_i.h"
#include "io.h"

struct open_wait {
	struct cache_wait cw;
	struct req r;            /* r.in is not kept */
	struct node *n;          /* referenced */
	struct cache_obj *o;     /* referenced and opened */
};

struct read_wait {
	struct cache_wait cw;
	struct req r;            /* r.in is not kept */
	struct handle *h;
	bool own;                /* h is this READ's alone (read_done) */
	uint64_t off;
	uint32_t size;
};

static void reply_open(struct req *r, struct handle *h, uint32_t flags,
		       int backing_id)
{
	struct compat_open_out out;

	memset(&out, 0, sizeof(out));
	out.fh = h->fh;
	out.open_flags = flags | FOPEN_NOFLUSH;
	out.backing_id = backing_id;
	reply_buf(r, &out, sizeof(out));
}

/* Errors of the cache file system, not of the file: a full cache. */
static bool cache_full(int err)
{
	return err == -ENOSPC || err == -EDQUOT;
}

/* Register @fd with the kernel for passthrough on /dev/fuse fd @devfd. */
static int backing_open_on(int devfd, int fd)
{
	struct fuse_backing_map map = { .fd = fd };
	int id = ioctl(devfd, FUSE_DEV_IOC_BACKING_OPEN, &map);

	if (id < 0) {
		int ret = -errno;

		log_warn_rl("passthrough refused by the kernel (%s); serving "
			    "through the cache", strerror(-ret));
		return ret;
	}
	return id;
}

static void backing_close_on(int devfd, int id)
{
	uint32_t bid = id;

	if (ioctl(devfd, FUSE_DEV_IOC_BACKING_CLOSE, &bid) < 0)
		log_warn_rl("passthrough id %d: close: %s", id,
			    strerror(errno));
}

static int backing_open(struct req *r, int fd)
{
	return backing_open_on(r->fd, fd);
}

static void backing_close(struct req *r, int id)
{
	backing_close_on(r->fd, id);
}

/*
 * The cache keeps a complete file's passthrough id for as long as it holds
 * the file, so an open+close cycle costs no registration. Any /dev/fuse fd
 * of the connection will do; the session's lives as long as the mount.
 */
static int cache_pt_open(int fd, void *arg)
{
	struct canopy *cp = arg;

	return backing_open_on(cp->fd, fd);
}

static void cache_pt_close(int id, void *arg)
{
	struct canopy *cp = arg;

	if (!atomic_load(&cp->stopping))
		backing_close_on(cp->fd, id);
}

void ops_file_init(struct canopy *cp)
{
	cache_set_passthrough(cp->cache, cache_pt_open, cache_pt_close, cp);
}

/*
 * Join the passthrough opens of @n, if it has any; n->lock held. Takes over
 * @o (opened) if given. Returns true if it replied.
 */
static bool open_join_pt_locked(struct req *r, struct node *n,
				struct cache_obj *o)
{
	struct handle *h;

	if (!n->pt_opens)
		return false;
	h = handle_new(H_PASSTHROUGH, n);
	if (!h)
		return false;
	if (o && o != n->pt_obj) {
		cache_obj_close(o);
		cache_obj_put(o);
		o = NULL;
	}
	if (!o && n->pt_obj) {
		o = n->pt_obj;
		cache_obj_ref(o);
		cache_obj_open(o); /* reserved already: cannot fail */
	}
	h->obj = o;
	n->pt_opens++;
	STAT_INC(passthrough_opens);
	reply_open(r, h, FOPEN_PASSTHROUGH, n->backing_id);
	return true;
}

/* Open the backing file of @n (counted); fd or -errno. */
static int backing_file_open(struct req *r, const struct node *n)
{
	int fd = view_open(&r->w->cp->view, n->path, O_RDONLY);

	if (fd >= 0)
		STAT_INC(backing_opens);
	return fd;
}

/* Passthrough straight to the backing file (cache.owner_passthrough). */
static bool open_owner_pt_locked(struct req *r, struct node *n)
{
	struct handle *h;
	int fd, id;

	if (n->cached_opens)
		return false;
	fd = backing_file_open(r, n);
	if (fd < 0)
		return false;
	id = backing_open(r, fd);
	close(fd);
	if (id < 0)
		return false;
	h = handle_new(H_PASSTHROUGH, n);
	if (!h) {
		backing_close(r, id);
		return false;
	}
	n->pt_opens = 1;
	n->backing_id = id;
	STAT_INC(passthrough_opens);
	reply_open(r, h, FOPEN_PASSTHROUGH, id);
	return true;
}

/* Second half of OPEN: @o is opened and, for small files, complete. */
static void open_finish(struct req *r, struct node *n, struct cache_obj *o)
{
	struct canopy *cp = r->w->cp;
	struct handle *h;
	int id;

	pthread_mutex_lock(&n->lock);
	if (open_join_pt_locked(r, n, o))
		goto out_unlock;
	if (cp->neg.passthrough && !n->cached_opens && cache_obj_complete(o)) {
		id = cache_obj_passthrough_id(o);
		if (id >= 0) {
			h = handle_new(H_PASSTHROUGH, n);
			if (!h)
				goto err_nomem;
			h->obj = o;
			n->pt_opens = 1;
			n->backing_id = id;
			n->pt_obj = o;
			cache_obj_ref(o);
			STAT_INC(passthrough_opens);
			reply_open(r, h, FOPEN_PASSTHROUGH, id);
			goto out_unlock;
		}
	}
	h = handle_new(H_CACHED, n);
	if (!h)
		goto err_nomem;
	h->obj = o;
	n->cached_opens++;
	STAT_INC(cached_opens);
	if (cp->conf->cold_direct_io && !cache_obj_complete(o) &&
	    cache_obj_ident(o)->size > cp->conf->small_file_max) {
		STAT_INC(cold_direct_opens);
		reply_open(r, h, FOPEN_DIRECT_IO, 0);
	} else {
		reply_open(r, h, FOPEN_KEEP_CACHE, 0);
	}
out_unlock:
	pthread_mutex_unlock(&n->lock);
	return;

err_nomem:
	pthread_mutex_unlock(&n->lock);
	cache_obj_close(o);
	cache_obj_put(o);
	reply_err(r, -ENOMEM);
}

static void open_wake(struct worker *w, struct cache_wait *cw, int err)
{
	struct open_wait *ow = (struct open_wait *)cw;
	uint64_t size = cache_obj_ident(ow->o)->size;
	int ret = err;

	ow->r.w = w;
	if (!ret)
		ret = resolve_range(w, ow->o, 0, size, &ow->cw);
	if (ret == CACHE_PARKED)
		return;
	if (ret == 0 || cache_full(ret)) {
		/* a full cache: its READs are answered from the backing file */
		open_finish(&ow->r, ow->n, ow->o);
	} else {
		cache_obj_close(ow->o);
		cache_obj_put(ow->o);
		reply_err(&ow->r, ret == -ESTALE ? -EIO : ret);
	}
	node_put(ow->n);
	free(ow);
}

/* The file cannot be cached: serve it from the backing file directly. */
static void open_direct(struct req *r, struct node *n, uint64_t size)
{
	struct handle *h;
	int fd;

	fd = backing_file_open(r, n);
	if (fd < 0) {
		reply_err(r, fd);
		return;
	}
	h = handle_new(H_DIRECT, n);
	if (!h) {
		close(fd);
		reply_err(r, -ENOMEM);
		return;
	}
	h->backing_fd = fd;
	h->size = size;
	STAT_INC(direct_opens);
	reply_open(r, h, FOPEN_DIRECT_IO, 0);
}

/* A READ or OPEN of @n needs a regular file; 0 or -errno. */
static int node_regular_locked(const struct node *n)
{
	if (S_ISREG(n->stx.stx_mode))
		return 0;
	return S_ISDIR(n->stx.stx_mode) ? -EISDIR : -EINVAL;
}

/* @n's current content, referenced into *out; 0 or -errno. */
static int node_obj_locked(struct canopy *cp, struct node *n,
			   struct cache_obj **out)
{
	int ret;

	if (!n->obj) {
		ret = cache_obj_get(cp->cache, n->path, &n->id, &n->obj);
		if (ret)
			return ret;
	}
	cache_obj_ref(n->obj);
	*out = n->obj;
	return 0;
}

void op_open(struct req *r)
{
	const struct fuse_open_in *in = r->in;
	struct canopy *cp = r->w->cp;
	struct cache_obj *o = NULL;
	struct open_wait *ow;
	struct node *n;
	uint64_t size;
	int ret;

	if ((in->flags & O_ACCMODE) != O_RDONLY ||
	    (in->flags & (O_TRUNC | O_CREAT))) {
		reply_err(r, -EROFS);
		return;
	}
	if (cp->conf->no_open) {
		/* the kernel opens by itself from now on (op_read) */
		reply_err(r, -ENOSYS);
		return;
	}
	n = node_get(r->nodeid);
	if (!n) {
		reply_err(r, -ESTALE);
		return;
	}
	pthread_mutex_lock(&n->lock);
	ret = node_regular_locked(n);
	if (ret) {
		pthread_mutex_unlock(&n->lock);
		reply_err(r, ret);
		goto out;
	}
	if (open_join_pt_locked(r, n, NULL) ||
	    (cp->conf->owner_passthrough && cp->neg.passthrough &&
	     peers_owns(cp, n->path) && open_owner_pt_locked(r, n))) {
		pthread_mutex_unlock(&n->lock);
		goto out;
	}
	ret = node_obj_locked(cp, n, &o);
	size = n->id.size;
	pthread_mutex_unlock(&n->lock);
	if (ret) {
		reply_err(r, ret);
		goto out;
	}

	ret = cache_obj_open(o);
	if (ret == -ENOSPC) {
		cache_obj_put(o);
		open_direct(r, n, size);
		goto out;
	}
	if (ret) {
		cache_obj_put(o);
		reply_err(r, ret);
		goto out;
	}
	if (size > cp->conf->small_file_max) {
		open_finish(r, n, o);
		goto out;
	}
	/* a small file: fetch it whole, then open it in passthrough */
	ret = resolve_range(r->w, o, 0, size, NULL);
	if (ret == 0 || cache_full(ret)) {
		/* a full cache: its READs are answered from the backing file */
		open_finish(r, n, o);
		goto out;
	}
	if (ret != CACHE_PARKED) {
		cache_obj_close(o);
		cache_obj_put(o);
		reply_err(r, ret == -ESTALE ? -EIO : ret);
		goto out;
	}
	ow = calloc(1, sizeof(*ow));
	if (!ow) {
		cache_obj_close(o);
		cache_obj_put(o);
		reply_err(r, -ENOMEM);
		goto out;
	}
	ow->cw.wake = open_wake;
	ow->r = *r;
	ow->r.in = NULL;
	ow->n = n;
	ow->o = o;
	/* try again with the waiter: the fetch may have ended meanwhile */
	open_wake(r->w, &ow->cw, 0);
	return; /* ow owns the node reference */
out:
	node_put(n);
}

/*
 * Answer a READ of a cached or passthrough handle from its cache file, then
 * fetch ahead of a sequential reader. Once the reply is out the kernel may
 * RELEASE the handle on another worker: the readahead holds its own
 * reference on the object, taken before.
 */
static void read_cached_reply(struct req *r, struct handle *h, uint64_t off,
			      uint32_t size)
{
	struct cache_obj *o = h->obj;
	uint64_t fsize = cache_obj_ident(o)->size;
	size_t len = off >= fsize ? 0 : (fsize - off < size ? fsize - off : size);
	int fd;

	STAT_INC(cache_hits);
	STAT_ADD(bytes_from_cache, len);
	cache_obj_ref(o);
	fd = cache_obj_fd(o);
	reply_fd(r, fd, reply_wants_map(r, len) ? cache_obj_map(o, false) : NULL,
		 off, len);
	resolve_readahead(r->w, o, off, size);
	cache_obj_put(o);
}

static void read_direct(struct req *r, int fd, uint64_t off, uint32_t size)
{
	struct worker *w = r->w;
	ssize_t n;

	if (size > w->buf_len)
		size = w->buf_len;
	chan_may_block();
	n = uring_read(w->ring, fd, w->buf, size, off);
	if (n < 0) {
		reply_err(r, (int)n);
		return;
	}
	STAT_INC(backing_reads);
	STAT_ADD(backing_bytes, n);
	STAT_ADD(bytes_from_backing, n);
	reply_buf(r, w->buf, n);
}

/*
 * The cache file system is full: answer this handle's READs from the
 * backing file itself from now on, as in direct mode, so that a full cache
 * costs speed, never a reader's data. The fd is the handle's own, opened
 * once (the first of two racing workers keeps its fd) and checked against
 * the object's identity: a file that changed since the open reads EIO, as
 * a fetch of it would.
 */
static void read_uncached(struct req *r, struct handle *h, uint64_t off,
			  uint32_t size)
{
	int fd = __atomic_load_n(&h->backing_fd, __ATOMIC_ACQUIRE), none = -1;

	if (fd < 0) {
		fd = backing_file_open(r, h->node);
		if (fd < 0) {
			reply_err(r, fd);
			return;
		}
		if (ident_check_fd(fd, cache_obj_ident(h->obj))) {
			close(fd);
			reply_err(r, -EIO);
			return;
		}
		log_warn_rl("cache full: %s is read from the backing file",
			    h->node->path);
		if (!__atomic_compare_exchange_n(&h->backing_fd, &none, fd,
						 false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE)) {
			close(fd);
			fd = none;
		}
	}
	STAT_INC(cache_full_reads);
	read_direct(r, fd, off, size);
}

/* The end of a READ through @h: a handle of this READ alone is torn down. */
static void read_done(struct handle *h, bool own)
{
	if (!own)
		return;
	if (h->kind == H_CACHED)
		cache_obj_close(h->obj);
	handle_free(h);
}

static void read_wake(struct worker *w, struct cache_wait *cw, int err)
{
	struct read_wait *rw = (struct read_wait *)cw;
	int ret = err;

	rw->r.w = w;
	if (!ret)
		ret = resolve_range(w, rw->h->obj, rw->off, rw->size, &rw->cw);
	if (ret == CACHE_PARKED)
		return;
	if (ret == 0)
		read_cached_reply(&rw->r, rw->h, rw->off, rw->size);
	else if (cache_full(ret))
		read_uncached(&rw->r, rw->h, rw->off, rw->size);
	else
		reply_err(&rw->r, ret == -ESTALE ? -EIO : ret);
	read_done(rw->h, rw->own);
	free(rw);
}

/* Answer a READ through @h; with @own, @h is this READ's alone. */
static void read_handle(struct req *r, struct handle *h, uint64_t off,
			uint32_t size, bool own)
{
	struct read_wait *rw;
	int ret;

	if (h->kind == H_DIRECT) {
		read_direct(r, h->backing_fd, off, size);
		goto out;
	}
	if (!h->obj) {
		/* passthrough of the backing file: the kernel reads it */
		reply_err(r, -EIO);
		goto out;
	}
	if (__atomic_load_n(&h->backing_fd, __ATOMIC_ACQUIRE) >= 0) {
		read_uncached(r, h, off, size);
		goto out;
	}
	ret = resolve_range(r->w, h->obj, off, size, NULL);
	if (ret == 0) {
		read_cached_reply(r, h, off, size);
		goto out;
	}
	if (cache_full(ret)) {
		read_uncached(r, h, off, size);
		goto out;
	}
	if (ret != CACHE_PARKED) {
		reply_err(r, ret == -ESTALE ? -EIO : ret);
		goto out;
	}
	rw = calloc(1, sizeof(*rw));
	if (!rw) {
		reply_err(r, -ENOMEM);
		goto out;
	}
	rw->cw.wake = read_wake;
	rw->r = *r;
	rw->r.in = NULL;
	rw->h = h;
	rw->own = own;
	rw->off = off;
	rw->size = size;
	read_wake(r->w, &rw->cw, 0);
	return; /* rw owns h */
out:
	read_done(h, own);
}

/*
 * The backing file of @n for one READ of a file the cache cannot hold, as
 * a descriptor of its own (the handle closes it). The node keeps the file
 * open from its first such READ until the file changes or the kernel
 * forgets the node, so on a parallel file system the reader costs one open,
 * not one per READ.
 */
static int node_direct_fd(struct req *r, struct node *n)
{
	int fd, mine;

	pthread_mutex_lock(&n->lock);
	fd = n->direct_fd >= 0 ? fcntl(n->direct_fd, F_DUPFD_CLOEXEC, 0) : -1;
	pthread_mutex_unlock(&n->lock);
	if (fd >= 0)
		return fd;
	mine = backing_file_open(r, n);
	if (mine < 0)
		return mine;
	fd = fcntl(mine, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		fd = -errno;
		close(mine);
		return fd;
	}
	pthread_mutex_lock(&n->lock);
	if (n->direct_fd < 0) {
		n->direct_fd = mine; /* the first of two racing READs keeps it */
		mine = -1;
	}
	pthread_mutex_unlock(&n->lock);
	if (mine >= 0)
		close(mine);
	return fd;
}

/*
 * fuse.no_open: a READ of a file the kernel opened by itself (fh 0), given
 * a handle of its own: cached on the node's current object, opened for this
 * READ, or direct on the backing file when the cache cannot hold the file.
 */
static void read_by_node(struct req *r, const struct fuse_read_in *in)
{
	struct canopy *cp = r->w->cp;
	struct cache_obj *o;
	struct handle *h;
	struct node *n;
	int ret, fd;

	n = node_get(r->nodeid);
	if (!n) {
		reply_err(r, -ESTALE);
		return;
	}
	pthread_mutex_lock(&n->lock);
	ret = node_regular_locked(n);
	if (!ret)
		ret = node_obj_locked(cp, n, &o);
	pthread_mutex_unlock(&n->lock);
	if (ret)
		goto err;
	ret = cache_obj_open(o);
	if (ret && ret != -ENOSPC) {
		cache_obj_put(o);
		goto err;
	}
	h = handle_alloc(ret ? H_DIRECT : H_CACHED, n);
	if (!h) {
		if (!ret)
			cache_obj_close(o);
		cache_obj_put(o);
		ret = -ENOMEM;
		goto err;
	}
	if (ret) {
		/* the cache cannot hold it: read the backing file */
		cache_obj_put(o);
		fd = node_direct_fd(r, n);
		if (fd < 0) {
			handle_free(h);
			ret = fd;
			goto err;
		}
		h->backing_fd = fd;
	} else {
		h->obj = o;
	}
	STAT_INC(no_open_reads);
	read_handle(r, h, in->offset, in->size, true);
	node_put(n);
	return;

err:
	reply_err(r, ret);
	node_put(n);
}

void op_read(struct req *r)
{
	const struct fuse_read_in *in = r->in;
	struct handle *h;

	stats_read_size(in->size);
	if (in->fh == 0 && r->w->cp->conf->no_open) {
		read_by_node(r, in);
		return;
	}
	h = handle_get(in->fh);
	if (!h || h->kind == H_DIR) {
		reply_err(r, -EBADF);
		return;
	}
	read_handle(r, h, in->offset, in->size, false);
}

void op_release(struct req *r)
{
	const struct fuse_release_in *in = r->in;
	struct cache_obj *pt_obj = NULL;
	struct handle *h = handle_remove(in->fh);
	struct node *n;

	if (!h || h->kind == H_DIR) {
		/* the kernel ignores RELEASE errors; still say what happened */
		reply_err(r, -EBADF);
		handle_free(h);
		return;
	}
	n = h->node;
	pthread_mutex_lock(&n->lock);
	if (h->kind == H_PASSTHROUGH && n->pt_opens && --n->pt_opens == 0) {
		/* a cache file's id stays with the cache; the backing file's
		 * was this node's alone */
		if (!n->pt_obj)
			backing_close(r, n->backing_id);
		n->backing_id = -1;
		pt_obj = n->pt_obj;
		n->pt_obj = NULL;
	} else if (h->kind == H_CACHED && n->cached_opens) {
		n->cached_opens--;
	}
	pthread_mutex_unlock(&n->lock);
	cache_obj_put(pt_obj);
	if (h->obj)
		cache_obj_close(h->obj);
	handle_free(h);
	reply_err(r, 0);
}

void op_flush(struct req *r)
{
	/*
	 * Nothing is ever written. Opens answered by canopyd say
	 * FOPEN_NOFLUSH; files the kernel opened itself (fuse.no_open) do not,
	 * and ENOSYS tells it never to send FLUSH again.
	 */
	reply_err(r, r->w->cp->conf->no_open ? -ENOSYS : 0);
}

void op_lseek(struct req *r)
{
	const struct fuse_lseek_in *in = r->in;
	struct fuse_lseek_out out;
	struct handle *h = NULL;
	struct node *n = NULL;
	int fd, own = -1;
	off_t pos;

	if (in->fh == 0 && r->w->cp->conf->no_open) {
		n = node_get(r->nodeid); /* a file the kernel opened itself */
	} else {
		h = handle_get(in->fh);
		if (h && h->kind == H_DIR)
			h = NULL;
	}
	if (!h && !n) {
		reply_err(r, -EBADF);
		return;
	}
	if (in->whence != SEEK_DATA && in->whence != SEEK_HOLE) {
		reply_err(r, -EINVAL); /* the kernel does the others itself */
		goto out;
	}
	/* holes are the backing file's: ask it (read_uncached may set it) */
	if (h)
		own = __atomic_load_n(&h->backing_fd, __ATOMIC_ACQUIRE);
	fd = own >= 0 ? own : backing_file_open(r, h ? h->node : n);
	if (fd < 0) {
		reply_err(r, fd);
		goto out;
	}
	pos = lseek(fd, in->offset, in->whence);
	if (pos < 0) {
		reply_err(r, -errno);
	} else {
		memset(&out, 0, sizeof(out));
		out.offset = pos;
		reply_buf(r, &out, sizeof(out));
	}
	if (fd != own)
		close(fd);
out:
	node_put(n);
}
