// SPDX-License-Identifier: MIT
/*
 * daemon/ops_entry.c - names and attributes: LOOKUP, FORGET, BATCH_FORGET,
 * GETATTR, READLINK, STATFS, ACCESS, GETXATTR, LISTXATTR.
 *
 * The kernel keeps what these return for the configured timeouts (entries,
 * attributes, negative entries for missing names), so a warm tree is served
 * by the kernel alone; each handler here costs one statx of the backing
 * store at most.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "canopyd_i.h"

void timeout_split(double t, uint64_t *sec, uint32_t *nsec)
{
	if (t < 0)
		t = 0;
	*sec = (uint64_t)t;
	*nsec = (uint32_t)((t - (double)*sec) * 1e9);
}

void attr_from_statx(struct fuse_attr *a, const struct statx *stx)
{
	uint32_t maj = stx->stx_rdev_major, min = stx->stx_rdev_minor;

	memset(a, 0, sizeof(*a));
	a->ino = stx->stx_ino;
	a->size = stx->stx_size;
	a->blocks = stx->stx_blocks;
	a->atime = stx->stx_atime.tv_sec;
	a->atimensec = stx->stx_atime.tv_nsec;
	a->mtime = stx->stx_mtime.tv_sec;
	a->mtimensec = stx->stx_mtime.tv_nsec;
	a->ctime = stx->stx_ctime.tv_sec;
	a->ctimensec = stx->stx_ctime.tv_nsec;
	a->mode = stx->stx_mode;
	a->nlink = stx->stx_nlink;
	a->uid = stx->stx_uid;
	a->gid = stx->stx_gid;
	/* the kernel's new_encode_dev() form */
	a->rdev = (min & 0xff) | (maj << 8) | ((min & ~0xffU) << 12);
	a->blksize = stx->stx_blksize;
}

static void fill_entry(struct fuse_entry_out *e, const struct conf *conf,
		       uint64_t nodeid, const struct statx *stx)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = nodeid;
	timeout_split(conf->entry_timeout, &e->entry_valid,
		      &e->entry_valid_nsec);
	timeout_split(conf->attr_timeout, &e->attr_valid, &e->attr_valid_nsec);
	attr_from_statx(&e->attr, stx);
}

static void reply_negative(struct req *r)
{
	const struct conf *conf = r->w->cp->conf;
	struct fuse_entry_out e;

	if (conf->negative_timeout <= 0) {
		reply_err(r, -ENOENT);
		return;
	}
	/* nodeid 0: the kernel keeps a negative dentry for entry_valid */
	memset(&e, 0, sizeof(e));
	timeout_split(conf->negative_timeout, &e.entry_valid,
		      &e.entry_valid_nsec);
	reply_buf(r, &e, sizeof(e));
}

static bool name_ok(const char *name)
{
	return name[0] && strcmp(name, ".") && strcmp(name, "..") &&
	       !strchr(name, '/');
}

void op_lookup(struct req *r)
{
	struct canopy *cp = r->w->cp;
	const char *name = r->in;
	struct node *parent, *child;
	struct fuse_entry_out e;
	enum view_kind kind;
	struct statx stx;
	char *path = NULL;
	int ret;

	parent = node_get(r->nodeid);
	if (!parent) {
		reply_err(r, -ESTALE);
		return;
	}
	if (!name_ok(name)) {
		ret = -EINVAL;
		goto out_err;
	}
	if (strlen(name) > NAME_MAX) {
		ret = -ENAMETOOLONG;
		goto out_err;
	}
	path = view_join(parent->path, name);
	if (!path) {
		ret = -ENOMEM;
		goto out_err;
	}
	kind = parent->kind == VIEW_REAL ? VIEW_REAL :
					   view_classify(&cp->view, path);
	if (kind == VIEW_HIDDEN) {
		reply_negative(r);
		goto out;
	}
	ret = meta_stat(r->w, path, &stx);
	if (ret == -ENOENT || (ret == -ENOTDIR && kind == VIEW_REAL)) {
		reply_negative(r);
		goto out;
	}
	if (ret)
		goto out_err;
	child = node_lookup(path, kind, &stx);
	if (!child) {
		ret = -ENOMEM;
		goto out_err;
	}
	fill_entry(&e, cp->conf, child->nodeid, &stx);
	node_put(child);
	reply_buf(r, &e, sizeof(e));
	goto out;

out_err:
	reply_err(r, ret);
out:
	free(path);
	node_put(parent);
}

void op_forget(struct req *r)
{
	const struct fuse_forget_in *in = r->in;

	node_forget(r->nodeid, in->nlookup);
	stats_request_done(r->opcode, now_ns() - r->t0, 0);
}

void op_batch_forget(struct req *r)
{
	const struct fuse_batch_forget_in *in = r->in;
	const struct fuse_forget_one *one = (const void *)(in + 1);
	size_t room = (r->inlen - sizeof(*in)) / sizeof(*one), i;
	size_t count = in->count < room ? in->count : room;

	if (count < in->count) {
		STAT_INC(malformed);
		log_warn_rl("BATCH_FORGET claims %u entries, carries %zu",
			    in->count, room);
	}
	for (i = 0; i < count; i++)
		node_forget(one[i].nodeid, one[i].nlookup);
	stats_request_done(r->opcode, now_ns() - r->t0, 0);
}

void op_getattr(struct req *r)
{
	struct canopy *cp = r->w->cp;
	struct fuse_attr_out out;
	struct node *n = node_get(r->nodeid);
	struct statx stx;
	int ret;

	if (!n) {
		reply_err(r, -ESTALE);
		return;
	}
	ret = meta_stat(r->w, n->path, &stx);
	if (ret == -ENOENT && n->nodeid != FUSE_ROOT_ID) {
		/* gone from its path: files open on it keep what they saw */
		pthread_mutex_lock(&n->lock);
		stx = n->stx;
		pthread_mutex_unlock(&n->lock);
	} else if (ret) {
		reply_err(r, ret);
		goto out;
	} else if (!node_same_inode(n, &stx)) {
		/* replaced by another inode: the next LOOKUP makes a new
		 * node; this one keeps the attributes of its own inode */
		pthread_mutex_lock(&n->lock);
		stx = n->stx;
		pthread_mutex_unlock(&n->lock);
	} else {
		node_set_attr(n, &stx);
	}
	memset(&out, 0, sizeof(out));
	timeout_split(cp->conf->attr_timeout, &out.attr_valid,
		      &out.attr_valid_nsec);
	attr_from_statx(&out.attr, &stx);
	reply_buf(r, &out, sizeof(out));
out:
	node_put(n);
}

void op_readlink(struct req *r)
{
	struct node *n = node_get(r->nodeid);
	char target[PATH_MAX];
	ssize_t len;

	if (!n) {
		reply_err(r, -ESTALE);
		return;
	}
	len = meta_readlink(r->w, n->path, target, sizeof(target));
	if (len < 0)
		reply_err(r, (int)len);
	else
		reply_buf(r, target, len);
	node_put(n);
}

void op_statfs(struct req *r)
{
	struct canopy *cp = r->w->cp;
	struct fuse_statfs_out out;
	struct node *n = node_get(r->nodeid);
	const char *path;
	struct statvfs sv;
	int ret;

	if (!n) {
		reply_err(r, -ESTALE);
		return;
	}
	/* above the exports, show the file system of the first export */
	path = n->kind == VIEW_REAL ? n->path : cp->view.exports[0];
	ret = view_statfs(&cp->view, path, &sv);
	if (ret) {
		reply_err(r, ret);
		goto out;
	}
	memset(&out, 0, sizeof(out));
	out.st.blocks = sv.f_blocks;
	out.st.bfree = sv.f_bfree;
	out.st.bavail = sv.f_bavail;
	out.st.files = sv.f_files;
	out.st.ffree = sv.f_ffree;
	out.st.bsize = sv.f_bsize;
	out.st.namelen = sv.f_namemax;
	out.st.frsize = sv.f_frsize;
	reply_buf(r, &out, sizeof(out));
out:
	node_put(n);
}

/*
 * The mount uses default_permissions, so the kernel checks modes itself and
 * sends ACCESS rarely; when it does, answer from the attributes we hold.
 */
void op_access(struct req *r)
{
	const struct fuse_access_in *in = r->in;
	struct node *n = node_get(r->nodeid);
	unsigned mode, bits;
	int ret = 0;

	if (!n) {
		reply_err(r, -ESTALE);
		return;
	}
	if (in->mask & W_OK) {
		ret = -EROFS;
		goto out;
	}
	pthread_mutex_lock(&n->lock);
	mode = n->stx.stx_mode;
	if (r->uid == n->stx.stx_uid)
		bits = (mode >> 6) & 7;
	else if (r->gid == n->stx.stx_gid)
		bits = (mode >> 3) & 7;
	else
		bits = mode & 7;
	pthread_mutex_unlock(&n->lock);
	if (r->uid == 0) {
		/* root may read anything, and execute what anyone may */
		if ((in->mask & X_OK) && !S_ISDIR(mode) && !(mode & 0111))
			ret = -EACCES;
	} else if ((in->mask & R_OK && !(bits & 4)) ||
		   (in->mask & X_OK && !(bits & 1))) {
		ret = -EACCES;
	}
out:
	reply_err(r, ret);
	node_put(n);
}

static void reply_xattr(struct req *r, uint32_t size, ssize_t n,
			const void *buf)
{
	struct fuse_getxattr_out out;

	if (n < 0) {
		reply_err(r, (int)n);
	} else if (size == 0) {
		memset(&out, 0, sizeof(out));
		out.size = n;
		reply_buf(r, &out, sizeof(out));
	} else {
		reply_buf(r, buf, n);
	}
}

/* GETXATTR of @name, or LISTXATTR when @name is NULL. */
static void xattr_op(struct req *r, const char *name)
{
	const struct fuse_getxattr_in *in = r->in;
	struct worker *w = r->w;
	struct node *n = node_get(r->nodeid);
	size_t size = in->size < w->buf_len ? in->size : w->buf_len;
	ssize_t len;

	if (!n) {
		reply_err(r, -ESTALE);
		return;
	}
	len = view_xattr(&w->cp->view, n->path, name, size ? w->buf : NULL,
			 size);
	reply_xattr(r, in->size, len, w->buf);
	node_put(n);
}

void op_getxattr(struct req *r)
{
	const struct fuse_getxattr_in *in = r->in;

	xattr_op(r, (const char *)(in + 1));
}

void op_listxattr(struct req *r)
{
	xattr_op(r, NULL);
}
