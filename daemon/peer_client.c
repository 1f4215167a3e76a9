// SPDX-License-Identifier: MIT
/*
 * daemon/peer_client.c - asking the tree: the attributes (STAT), link
 * targets (READLINK) and listings (LIST) of paths, and the blocks of files
 * (READ, then a RELEASE of the parent's buffer in rma mode). Each request
 * goes to the peers peer_ask() finds on the object's route; -EREMOTE tells
 * the caller to read the backing store itself. The tree as a whole, calls,
 * routing and receiving are in peer.c; answering peers is in peer_serve.c.
 *
 * Callers: FUSE workers on a cache or metadata miss (meta.c, resolve.c),
 * server threads that forward a child's request to their own parent, and
 * prefetch jobs reading through the cache (prefetch.c). Each asks with its
 * own worker: its buffer (registered once for rma reads) and its io_uring.
 *
 * Locks: this file takes only ps->mrlock, around the list of registered
 * worker buffers, and registers or closes a buffer outside it. No lock is
 * held here across a transport call: peer_ask() sends and waits with none,
 * and an rma read and its RELEASE go out with none either.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "canopyd_i.h"
#include "fabric.h"
#include "io.h"
#include "peer_i.h"
#include "tree.h"
#include "wire.h"

/* ---- helpers ------------------------------------------------------------- */

static void ts_from_ns(struct statx_timestamp *t, int64_t ns)
{
	int64_t sec = ns / 1000000000LL, rem = ns % 1000000000LL;

	if (rem < 0) {
		rem += 1000000000LL;
		sec--;
	}
	t->tv_sec = sec;
	t->tv_nsec = (uint32_t)rem;
}

static void attr_from_wire(struct statx *s, const struct wire_attr *a)
{
	memset(s, 0, sizeof(*s));
	s->stx_mask = STATX_BASIC_STATS;
	s->stx_ino = a->ino;
	s->stx_size = a->size;
	s->stx_blocks = a->blocks;
	s->stx_dev_major = major(a->dev);
	s->stx_dev_minor = minor(a->dev);
	s->stx_rdev_major = major(a->rdev);
	s->stx_rdev_minor = minor(a->rdev);
	ts_from_ns(&s->stx_atime, a->atime_ns);
	ts_from_ns(&s->stx_mtime, a->mtime_ns);
	ts_from_ns(&s->stx_ctime, a->ctime_ns);
	s->stx_mode = (uint16_t)a->mode;
	s->stx_nlink = a->nlink;
	s->stx_uid = a->uid;
	s->stx_gid = a->gid;
	s->stx_blksize = a->blksize;
}

/* ---- client: metadata ---------------------------------------------------- */

static int stat_answer(struct peers *ps, uint32_t from,
		       const struct wire_hdr *rh, const void *body, size_t len,
		       void *arg)
{
	struct wire_stat_resp m;

	if (wire_decode_stat_resp(body, len, &m))
		return -EPROTO;
	if (!m.err)
		attr_from_wire(arg, &m.attr);
	return m.err;
}

/* Ask @dir's tree a request of @type that carries just @path. */
static int ask_path(struct peers *ps, uint8_t type, const char *dir,
		    const char *path, answer_fn answer, void *arg)
{
	uint8_t msg[WIRE_HDR_LEN + WIRE_PATH_MAX + 16];
	struct wire_path_msg *m = malloc(sizeof(*m));
	struct wire_hdr h;
	ssize_t len;

	if (!m)
		return -ENOMEM;
	snprintf(m->path, sizeof(m->path), "%s", path);
	peer_hdr_init(ps, &h, type, 0);
	if (type == WIRE_STAT_REQ)
		len = wire_encode_stat_req(msg, sizeof(msg), &h, m);
	else
		len = wire_encode_readlink_req(msg, sizeof(msg), &h, m);
	free(m);
	if (len < 0)
		return (int)len;
	return peer_ask(ps, peer_owner_of_path(ps, dir), msg, len, answer, arg);
}

int peers_stat(struct worker *w, const char *dir, const char *path,
	       struct statx *stx)
{
	struct peers *ps = w->cp->peers;

	if (!ps)
		return -EREMOTE;
	return ask_path(ps, WIRE_STAT_REQ, dir, path, stat_answer, stx);
}

struct link_arg {
	char *buf;
	size_t len;
	ssize_t n;
};

static int link_answer(struct peers *ps, uint32_t from,
		       const struct wire_hdr *rh, const void *body, size_t len,
		       void *arg)
{
	struct wire_readlink_resp *m = malloc(sizeof(*m));
	struct link_arg *la = arg;
	int ret;

	if (!m)
		return -ENOMEM;
	ret = wire_decode_readlink_resp(body, len, m) ? -EPROTO : m->err;
	if (!ret) {
		size_t n = strlen(m->target);

		la->n = n < la->len ? (ssize_t)n : (ssize_t)la->len;
		memcpy(la->buf, m->target, la->n);
	}
	free(m);
	return ret;
}

ssize_t peers_readlink(struct worker *w, const char *dir, const char *path,
		       char *buf, size_t len)
{
	struct peers *ps = w->cp->peers;
	struct link_arg la = { buf, len, 0 };
	int ret;

	if (!ps)
		return -EREMOTE;
	ret = ask_path(ps, WIRE_READLINK_REQ, dir, path, link_answer, &la);
	return ret ? ret : la.n;
}

struct list_arg {
	struct meta_list *l;
	size_t cap;
	bool more;
};

static int list_answer(struct peers *ps, uint32_t from,
		       const struct wire_hdr *rh, const void *body, size_t len,
		       void *arg)
{
	struct wire_list_ent *ent = malloc(sizeof(*ent));
	struct list_arg *la = arg;
	struct wire_list_dec d;
	int ret;

	if (!ent)
		return -ENOMEM;
	if (wire_list_decode(body, len, &d)) {
		free(ent);
		return -EPROTO;
	}
	ret = d.err;
	la->more = d.more;
	while (!ret && (ret = wire_list_next(&d, ent)) == 1) {
		struct meta_dent *md;

		ret = meta_list_add(la->l, &la->cap, ent->name, ent->type);
		if (ret)
			break;
		md = &la->l->ents[la->l->n - 1];
		md->err = ent->err;
		if (!ent->err)
			attr_from_wire(&md->stx, &ent->attr);
	}
	if (ret < 0 && ret != d.err)
		ret = ret == -ENOMEM ? -ENOMEM : -EPROTO;
	free(ent);
	return ret;
}

int peers_list(struct worker *w, const char *path, struct meta_list **out)
{
	struct peers *ps = w->cp->peers;
	uint8_t msg[WIRE_HDR_LEN + WIRE_PATH_MAX + 16];
	struct list_arg la = {0};
	struct wire_list_req *m;
	struct wire_hdr h;
	uint32_t tr;
	ssize_t len;
	int ret;

	if (!ps)
		return -EREMOTE;
	tr = peer_owner_of_path(ps, path);
	if (tree_root(ps->tree, tr) == ps->self)
		return -EREMOTE;
	m = malloc(sizeof(*m));
	la.l = calloc(1, sizeof(*la.l));
	if (!m || !la.l) {
		free(m);
		free(la.l);
		return -ENOMEM;
	}
	atomic_init(&la.l->refs, 1);
	snprintf(m->path, sizeof(m->path), "%s", path);
	do {
		m->start = (uint32_t)la.l->n;
		peer_hdr_init(ps, &h, WIRE_LIST_REQ, 0);
		len = wire_encode_list_req(msg, sizeof(msg), &h, m);
		if (len < 0) {
			ret = (int)len;
			break;
		}
		la.more = false;
		ret = peer_ask(ps, tr, msg, len, list_answer, &la);
	} while (!ret && la.more);
	free(m);
	if (ret) {
		meta_list_put(la.l);
		return ret;
	}
	*out = la.l;
	return 0;
}

/* ---- client: blocks ------------------------------------------------------ */

struct read_arg {
	struct worker *w;
	struct cache_obj *o;
	uint64_t off, len;
};

static struct fab_mr *worker_mr(struct peers *ps, struct worker *w)
{
	struct fab_mr **mrs;

	if (w->mr)
		return w->mr;
	if (fab_mr_reg(ps->fab, w->buf, w->buf_len, false, &w->mr))
		return NULL;
	pthread_mutex_lock(&ps->mrlock);
	mrs = realloc(ps->mrs, (ps->nmrs + 1) * sizeof(*mrs));
	if (mrs) {
		ps->mrs = mrs;
		ps->mrs[ps->nmrs++] = w->mr;
	}
	pthread_mutex_unlock(&ps->mrlock);
	if (!mrs) {
		fab_mr_close(w->mr);
		w->mr = NULL;
	}
	return w->mr;
}

void peers_worker_release(struct canopy *cp, struct worker *w)
{
	struct peers *ps = cp->peers;
	size_t i;

	if (!ps || !w->mr)
		return;
	pthread_mutex_lock(&ps->mrlock);
	for (i = 0; i < ps->nmrs; i++)
		if (ps->mrs[i] == w->mr) {
			ps->mrs[i] = ps->mrs[--ps->nmrs];
			break;
		}
	pthread_mutex_unlock(&ps->mrlock);
	fab_mr_close(w->mr);
	w->mr = NULL;
}

static void send_release(struct peers *ps, uint32_t to, uint64_t cookie)
{
	struct wire_release rel = {.cookie = cookie};
	struct wire_hdr h;
	uint64_t addr;
	ssize_t len;
	void *buf;

	if (peer_addr(ps, to, &addr))
		return;
	buf = fab_msg_alloc(ps->fab, WIRE_HDR_LEN + 64);
	if (!buf)
		return;
	peer_hdr_init(ps, &h, WIRE_RELEASE, 0);
	len = wire_encode_release(buf, WIRE_HDR_LEN + 64, &h, &rel);
	if (len < 0) {
		fab_msg_free(ps->fab, buf);
		return;
	}
	wire_seal(buf, len, &ps->key);
	fab_send(ps->fab, addr, buf, len, ps->timeout_ms);
}

static ssize_t write_all(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
				   off + done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += n;
	}
	return done;
}

static int read_answer(struct peers *ps, uint32_t from,
		       const struct wire_hdr *rh, const void *body, size_t len,
		       void *arg)
{
	struct read_arg *ra = arg;
	struct worker *w = ra->w;
	struct wire_read_resp m;
	const void *data;
	struct fab_mr *mr;
	uint64_t addr;
	ssize_t n;
	int ret, cfd;

	if (wire_decode_read_resp(body, len, rh->flags, &m))
		return -EPROTO;
	if (m.err)
		return m.err;
	if (m.len != ra->len)
		return -EPROTO;
	cfd = cache_obj_fd(ra->o);
	if (cfd < 0)
		return -EBADF;
	if (!(rh->flags & WIRE_F_RMA)) {
		data = m.data;
	} else {
		/* rma: read the parent's buffer, then let it go */
		mr = worker_mr(ps, w);
		ret = mr ? peer_addr(ps, from, &addr) : -ENOMEM;
		if (!ret)
			ret = fab_read(ps->fab, addr, w->buf, m.len, mr, m.addr,
				       m.key, ps->timeout_ms);
		send_release(ps, from, m.cookie);
		if (ret)
			return ret == -ETIMEDOUT ? ret : -EIO;
		data = w->buf;
	}
	n = data == w->buf ? uring_write(w->ring, cfd, data, m.len, ra->off)
			   : write_all(cfd, data, m.len, ra->off);
	if (n < 0) {
		log_warn_rl("cache write %s: %s", cache_obj_path(ra->o),
			    strerror((int)-n));
		return (int)n == -ENOSPC ? -ENOSPC : -EIO;
	}
	STAT_ADD(peer_bytes_in, m.len);
	STAT_ADD(bytes_from_peers, m.len);
	return 0;
}

int peers_fetch_block(struct worker *w, struct cache_obj *o, uint64_t b,
		      uint64_t len)
{
	struct peers *ps = w->cp->peers;
	const struct ident *id = cache_obj_ident(o);
	const char *path = cache_obj_path(o);
	struct wire_read_req *m;
	struct read_arg ra;
	struct wire_hdr h;
	uint32_t tr;
	ssize_t mlen;
	void *msg;
	int ret;

	if (!ps)
		return -EREMOTE;
	if (ps->block_placement)
		tr = tree_owner_block(ps->tree, path, strlen(path), b);
	else
		tr = peer_owner_of_path(ps, path);
	if (tree_root(ps->tree, tr) == ps->self)
		return -EREMOTE;
	m = malloc(sizeof(*m));
	msg = malloc(WIRE_HDR_LEN + sizeof(*m));
	if (!m || !msg) {
		free(m);
		free(msg);
		return -ENOMEM;
	}
	memset(m, 0, sizeof(*m));
	snprintf(m->path, sizeof(m->path), "%s", path);
	m->id.dev = id->dev;
	m->id.ino = id->ino;
	m->id.size = id->size;
	m->id.mtime_ns = id->mtime_ns;
	m->id.ctime_ns = id->ctime_ns;
	m->block = b;
	m->block_size = (uint32_t)ps->bs;
	peer_hdr_init(ps, &h, WIRE_READ_REQ, 0);
	if (ps->rma)
		h.flags = WIRE_F_RMA;
	mlen = wire_encode_read_req(msg, WIRE_HDR_LEN + sizeof(*m), &h, m);
	free(m);
	if (mlen < 0) {
		free(msg);
		return (int)mlen;
	}
	ra = (struct read_arg){.w = w, .o = o, .off = b * ps->bs, .len = len};
	ret = peer_ask(ps, tr, msg, mlen, read_answer, &ra);
	free(msg);
	return ret;
}
