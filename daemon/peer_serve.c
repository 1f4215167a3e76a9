// SPDX-License-Identifier: MIT
/*
 * daemon/peer_serve.c - answering peers: PING, STAT, READLINK, LIST and
 * READ requests (a PREFETCH is handed on to prefetch.c), and taking back
 * the RMA buffers a child RELEASEs. Asking peers is in peer_client.c; the
 * DESIGN comment of peer.c describes the tree as a whole.
 *
 * Threads: peers_start() runs peer_server_main() on transport.threads
 * server threads that share the request queue, and on one more that only
 * answers PINGs. Each pops a request, answers it with its own aux worker
 * (so it can read through the cache and ask its own parent), and gives the
 * receive buffer back to the transport. peer_rma_release() also runs on the
 * transport's progress thread, from on_recv(), when a RELEASE arrives.
 *
 * Locks: ps->qlock guards the request queues and ps->stopping; ps->rlock
 * the RMA buffers (busy, cookie, expiry) and the next cookie; ps->hlock the
 * files held open for children. Each is taken alone and dropped before a
 * response is sent or a held file is closed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "canopyd_i.h"
#include "fabric.h"
#include "peer_i.h"
#include "wire.h"

/* ---- helpers ------------------------------------------------------------- */

static void attr_to_wire(struct wire_attr *a, const struct statx *s)
{
	memset(a, 0, sizeof(*a));
	a->ino = s->stx_ino;
	a->size = s->stx_size;
	a->blocks = s->stx_blocks;
	a->dev = makedev(s->stx_dev_major, s->stx_dev_minor);
	a->rdev = makedev(s->stx_rdev_major, s->stx_rdev_minor);
	a->atime_ns = s->stx_atime.tv_sec * 1000000000LL + s->stx_atime.tv_nsec;
	a->mtime_ns = s->stx_mtime.tv_sec * 1000000000LL + s->stx_mtime.tv_nsec;
	a->ctime_ns = s->stx_ctime.tv_sec * 1000000000LL + s->stx_ctime.tv_nsec;
	a->mode = s->stx_mode;
	a->nlink = s->stx_nlink;
	a->uid = s->stx_uid;
	a->gid = s->stx_gid;
	a->blksize = s->stx_blksize;
}

/* ---- serving ------------------------------------------------------------- */

/* Send a response built in @buf (from fab_msg_alloc) to @to. */
void peer_respond(struct peers *ps, uint32_t to, void *buf, ssize_t len)
{
	uint64_t addr;
	int ret;

	if (len < 0) {
		log_warn_rl("cannot encode a response: %s",
			    strerror((int)-len));
		fab_msg_free(ps->fab, buf);
		return;
	}
	wire_seal(buf, len, &ps->key);
	ret = peer_addr(ps, to, &addr);
	if (ret) {
		fab_msg_free(ps->fab, buf);
		return;
	}
	ret = fab_send(ps->fab, addr, buf, len, ps->timeout_ms);
	if (ret)
		log_warn_rl("response to %s: %s", peer_name(ps, to),
			    strerror(-ret));
}

/*
 * Is @path one this node may answer for? It must be inside the exports,
 * and reached without a symlink below its export: the kernel follows a
 * symlink of the view itself (a peer never asks through one), but a
 * backing-store syscall on "export/link/x" would follow "link" out of the
 * exports. Each directory between the export and @path is checked with
 * meta_stat() (no-follow), which keeps the answers.
 */
/* Is directory @d below an export (not the export itself, not above)? */
static bool below_export(const struct view *v, const char *d)
{
	char parent[WIRE_PATH_MAX + 1];
	const char *slash = strrchr(d, '/');
	size_t n = slash ? (size_t)(slash - d) : 0;

	if (!n || n >= sizeof(parent))
		return view_classify(v, "/") == VIEW_REAL && strcmp(d, "/");
	memcpy(parent, d, n);
	parent[n] = '\0';
	return view_classify(v, parent) == VIEW_REAL;
}

bool peer_path_allowed(struct peers *ps, struct worker *w, const char *path)
{
	const struct view *v = &ps->cp->view;
	char dir[WIRE_PATH_MAX + 1], *slash;
	struct statx stx;

	if (view_classify(v, path) != VIEW_REAL)
		goto refuse;
	snprintf(dir, sizeof(dir), "%s", path);
	while ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = '\0';
		if (!below_export(v, dir))
			break;
		if (meta_stat(w, dir, &stx) || !S_ISDIR(stx.stx_mode))
			goto refuse;
	}
	return true;
refuse:
	STAT_INC(peer_refused);
	log_warn_rl("refused a request for %s: outside the exports", path);
	return false;
}

static void serve_ping(struct peers *ps, const struct srv_req *r)
{
	struct wire_hdr h;
	void *buf = fab_msg_alloc(ps->fab, WIRE_HDR_LEN);

	if (!buf)
		return;
	peer_hdr_init(ps, &h, WIRE_PONG, r->h.req_id);
	peer_respond(ps, r->h.src, buf, wire_encode_pong(buf, WIRE_HDR_LEN, &h));
}

static void serve_stat(struct peers *ps, struct worker *w,
		       const struct srv_req *r, const void *body)
{
	struct wire_path_msg *m = malloc(sizeof(*m));
	struct wire_stat_resp resp = {0};
	size_t cap = WIRE_HDR_LEN + 256;
	struct statx stx;
	struct wire_hdr h;
	void *buf;

	if (!m)
		return;
	if (wire_decode_path_msg(body, r->h.body_len, m)) {
		STAT_INC(peer_malformed);
		free(m);
		return;
	}
	if (!peer_path_allowed(ps, w, m->path))
		resp.err = -EPERM;
	else
		resp.err = meta_stat(w, m->path, &stx);
	if (!resp.err)
		attr_to_wire(&resp.attr, &stx);
	free(m);
	buf = fab_msg_alloc(ps->fab, cap);
	if (!buf)
		return;
	peer_hdr_init(ps, &h, WIRE_STAT_RESP, r->h.req_id);
	peer_respond(ps, r->h.src, buf, wire_encode_stat_resp(buf, cap, &h, &resp));
}

static void serve_readlink(struct peers *ps, struct worker *w,
			   const struct srv_req *r, const void *body)
{
	struct wire_readlink_resp *resp = calloc(1, sizeof(*resp));
	struct wire_path_msg *m = malloc(sizeof(*m));
	size_t cap = WIRE_HDR_LEN + WIRE_PATH_MAX + 64;
	struct wire_hdr h;
	ssize_t n;
	void *buf;

	if (!m || !resp)
		goto out;
	if (wire_decode_path_msg(body, r->h.body_len, m)) {
		STAT_INC(peer_malformed);
		goto out;
	}
	if (!peer_path_allowed(ps, w, m->path)) {
		resp->err = -EPERM;
	} else {
		n = meta_readlink(w, m->path, resp->target, WIRE_PATH_MAX);
		if (n < 0)
			resp->err = (int)n;
		else
			resp->target[n] = '\0';
	}
	buf = fab_msg_alloc(ps->fab, cap);
	if (!buf)
		goto out;
	peer_hdr_init(ps, &h, WIRE_READLINK_RESP, r->h.req_id);
	peer_respond(ps, r->h.src, buf,
		wire_encode_readlink_resp(buf, cap, &h, resp));
out:
	free(m);
	free(resp);
}

static void serve_list(struct peers *ps, struct worker *w,
		       const struct srv_req *r, const void *body)
{
	struct wire_list_ent *ent = malloc(sizeof(*ent));
	struct wire_list_req *m = malloc(sizeof(*m));
	size_t cap = ps->max_msg < LIST_MSG_MAX ? ps->max_msg : LIST_MSG_MAX;
	struct meta_list *l = NULL;
	struct wire_list_enc e;
	struct wire_hdr h;
	bool more = false;
	size_t i;
	void *buf = NULL;
	int err;

	if (!m || !ent)
		goto out;
	if (wire_decode_list_req(body, r->h.body_len, m)) {
		STAT_INC(peer_malformed);
		goto out;
	}
	err = peer_path_allowed(ps, w, m->path) ? meta_list(w, m->path, &l) : -EPERM;
	buf = fab_msg_alloc(ps->fab, cap);
	if (!buf)
		goto out;
	peer_hdr_init(ps, &h, WIRE_LIST_RESP, r->h.req_id);
	if (wire_list_begin(&e, buf, cap, &h, err))
		goto out;
	for (i = m->start; l && i < l->n; i++) {
		const struct meta_dent *d = &l->ents[i];

		memset(ent, 0, sizeof(*ent));
		snprintf(ent->name, sizeof(ent->name), "%s", d->name);
		ent->type = d->type;
		ent->err = d->err;
		if (!d->err)
			attr_to_wire(&ent->attr, &d->stx);
		if (wire_list_add(&e, ent)) {
			more = true;
			break;
		}
	}
	peer_respond(ps, r->h.src, buf, wire_list_end(&e, more));
	buf = NULL;
out:
	if (buf)
		fab_msg_free(ps->fab, buf);
	meta_list_put(l);
	free(m);
	free(ent);
}

static ssize_t read_all(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n =
		    pread(fd, (char *)buf + done, len - done, off + done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) {
			/* a hole at the end of a sparse cache file */
			memset((char *)buf + done, 0, len - done);
			break;
		}
		done += n;
	}
	return len;
}

static struct rma_buf *rma_get(struct peers *ps)
{
	struct timespec ts;
	struct rma_buf *rb = NULL;
	uint64_t now;
	size_t i;

	peer_abstime(peer_deadline_in(ps->timeout_ns), &ts);
	pthread_mutex_lock(&ps->rlock);
	for (;;) {
		now = now_ns();
		for (i = 0; i < ps->nrbuf && !rb; i++)
			if (!ps->rbuf[i].busy || ps->rbuf[i].expires < now)
				rb = &ps->rbuf[i];
		if (rb || pthread_cond_timedwait(&ps->rcond, &ps->rlock, &ts) ==
			      ETIMEDOUT)
			break;
	}
	if (rb) {
		rb->busy = true;
		rb->cookie = ++ps->next_cookie;
		rb->expires = now + RMA_HOLD_SLICES * ps->timeout_ns;
	}
	pthread_mutex_unlock(&ps->rlock);
	return rb;
}

void peer_rma_release(struct peers *ps, uint64_t cookie)
{
	size_t i;

	pthread_mutex_lock(&ps->rlock);
	for (i = 0; i < ps->nrbuf; i++)
		if (ps->rbuf[i].busy && ps->rbuf[i].cookie == cookie) {
			ps->rbuf[i].busy = false;
			pthread_cond_signal(&ps->rcond);
			break;
		}
	pthread_mutex_unlock(&ps->rlock);
}

/* Keep @o (opened and referenced by the caller) open for a while. */
static void hold(struct peers *ps, struct cache_obj *o)
{
	struct cache_obj *victim = o;
	unsigned i;

	pthread_mutex_lock(&ps->hlock);
	for (i = 0; i < HOLD_MAX && ps->held[i] != o; i++)
		;
	if (i == HOLD_MAX) {
		victim = ps->held[ps->hnext];
		ps->held[ps->hnext] = o;
		ps->hnext = (ps->hnext + 1) % HOLD_MAX;
	}
	pthread_mutex_unlock(&ps->hlock);
	if (victim) {
		cache_obj_close(victim);
		cache_obj_put(victim);
	}
}

static void serve_read(struct peers *ps, struct worker *w,
		       const struct srv_req *r, const void *body)
{
	struct wire_read_req *m = malloc(sizeof(*m));
	struct wire_read_resp resp = {0};
	size_t cap = WIRE_HDR_LEN + 256, data_off = 0;
	struct cache_obj *o = NULL;
	struct rma_buf *rb = NULL;
	bool opened = false;
	struct ident id;
	struct wire_hdr h;
	uint64_t off = 0;
	ssize_t len;
	void *buf;
	int ret;

	if (!m)
		return;
	if (wire_decode_read_req(body, r->h.body_len, m)) {
		STAT_INC(peer_malformed);
		free(m);
		return;
	}
	ret = peer_path_allowed(ps, w, m->path) ? 0 : -EPERM;
	if (!ret && (m->block_size != ps->bs ||
		     m->block >= (m->id.size + ps->bs - 1) / ps->bs))
		ret = -EINVAL;
	if (!ret) {
		id = (struct ident){.dev = m->id.dev,
				    .ino = m->id.ino,
				    .size = m->id.size,
				    .mtime_ns = m->id.mtime_ns,
				    .ctime_ns = m->id.ctime_ns};
		off = m->block * ps->bs;
		resp.len =
		    (uint32_t)(id.size - off < ps->bs ? id.size - off : ps->bs);
		ret = cache_obj_get(ps->cp->cache, m->path, &id, &o);
	}
	if (!ret) {
		ret = cache_obj_open(o);
		opened = !ret;
	}
	if (!ret)
		ret = resolve_range_wait(w, o, off, resp.len);
	if (!ret && (r->h.flags & WIRE_F_RMA))
		rb = rma_get(ps);
	if (!ret && !rb)
		cap += resp.len;
	buf = fab_msg_alloc(ps->fab, cap);
	if (!buf)
		goto out;
	peer_hdr_init(ps, &h, WIRE_READ_RESP, r->h.req_id);
	resp.err = ret;
	if (ret) {
		resp.len = 0;
		len = wire_encode_read_resp_hdr(buf, cap, &h, &resp, &data_off);
	} else if (rb) {
		h.flags = WIRE_F_RMA;
		len = read_all(cache_obj_fd(o), rb->p, resp.len, off);
		resp.addr = fab_mr_raddr(rb->mr, rb->p);
		resp.key = fab_mr_key(rb->mr);
		resp.cookie = rb->cookie;
		if (len >= 0)
			len = wire_encode_read_resp_hdr(buf, cap, &h, &resp,
							&data_off);
	} else {
		len = wire_encode_read_resp_hdr(buf, cap, &h, &resp, &data_off);
		if (len >= 0) {
			ssize_t n =
			    read_all(cache_obj_fd(o), (uint8_t *)buf + data_off,
				     resp.len, off);
			if (n < 0)
				len = n;
		}
	}
	if (!ret && len >= 0)
		STAT_ADD(peer_bytes_out, resp.len);
	if (len < 0 && rb)
		peer_rma_release(ps, rb->cookie);
	peer_respond(ps, r->h.src, buf, len);
out:
	if (opened) {
		hold(ps, o);
	} else {
		cache_obj_put(o);
	}
	free(m);
}

static void serve(struct peers *ps, struct worker *w, struct srv_req *r)
{
	const void *body = (uint8_t *)r->buf + WIRE_HDR_LEN;

	STAT_INC(peer_requests_in);
	switch (r->h.type) {
	case WIRE_PING:
		serve_ping(ps, r);
		break;
	case WIRE_STAT_REQ:
		serve_stat(ps, w, r, body);
		break;
	case WIRE_READLINK_REQ:
		serve_readlink(ps, w, r, body);
		break;
	case WIRE_LIST_REQ:
		serve_list(ps, w, r, body);
		break;
	case WIRE_READ_REQ:
		serve_read(ps, w, r, body);
		break;
	case WIRE_PREFETCH:
		prefetch_serve(ps, w, &r->h, body);
		break;
	}
}

void *peer_server_main(void *arg)
{
	struct peers *ps = ((struct srv_arg *)arg)->ps;
	unsigned idx = ((struct srv_arg *)arg)->idx;
	struct worker *w = &ps->srv[idx];
	struct rq *q = idx == ps->nsrv ? &ps->pings : &ps->q;
	struct srv_req *r;

	free(arg);
	for (;;) {
		pthread_mutex_lock(&ps->qlock);
		while (!ps->stopping && !q->head)
			pthread_cond_wait(&ps->qcond, &ps->qlock);
		if (ps->stopping) {
			pthread_mutex_unlock(&ps->qlock);
			break;
		}
		r = q->head;
		q->head = r->next;
		if (!q->head)
			q->tail = &q->head;
		q->len--;
		pthread_mutex_unlock(&ps->qlock);

		serve(ps, w, r);
		fab_recv_done(ps->fab, r->buf);
		free(r);
	}
	return NULL;
}
