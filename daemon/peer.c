// SPDX-License-Identifier: MIT
/*
 * daemon/peer.c - the cooperative tree: liveness, calls, routing,
 * receiving, start and stop. Asking peers for metadata and blocks is in
 * peer_client.c, serving them in peer_serve.c.
 *
 * DESIGN
 *
 * Every object belongs to one tree (tree.c: rendezvous hashing of the path,
 * or of (path, block) with block placement; a path's attributes belong to
 * the tree of its directory). A node that needs an object and is not that
 * tree's root asks its parent in the tree; the parent answers from its own
 * cache or asks its own parent in turn, keeps what it forwards and
 * coalesces identical requests (cache.c for blocks, meta.c for metadata),
 * so each object crosses each link once. The root reads the backing store.
 *
 * Threads:
 *   - the transport's progress thread (io/fabric.c) calls on_recv() for
 *     every message: it checks the header and the tag, hands a response to
 *     the call waiting for it and queues a request for the servers. It never
 *     blocks on the network.
 *   - transport.threads server threads take requests from the queue and
 *     answer them; each is an aux worker (its own buffer and io_uring), so
 *     it can fetch through the cache like a FUSE worker. PINGs go to a
 *     queue of their own served by one more thread, so a node whose servers
 *     are all waiting on their parents still shows it is alive.
 *   - callers (FUSE workers, server threads, the control thread) send a
 *     request and sleep on their struct call until the response arrives or
 *     the timeout passes.
 *
 * Failure: a peer that does not answer within transport.timeout is pinged;
 * if it answers the ping it is busy, not gone, and the caller waits on (up
 * to CALL_MAX_SLICES timeouts). A peer that does not answer the ping, or
 * whose messages fail, is marked dead for a backoff that doubles up to
 * 30 s, and logged once. The request then goes to the next ancestor, the
 * owner root, the other roots, and at last the backing store: failovers
 * are counted in failover.count. A peer that has never answered yet may be
 * starting: sends to it are retried with backoff until the timeout.
 *
 * Data modes: rpc puts block bytes in the READ response; rma puts the
 * address and key of a registered buffer holding them, which the child
 * reads with fab_read() and then RELEASEs. A buffer whose RELEASE never
 * comes is taken back once RMA_HOLD_SLICES timeouts have passed.
 *
 * Authentication: every message carries an HMAC tag over header and body
 * (io/wire.c); one that does not verify is dropped and counted
 * (auth.failures). RMA data moves outside messages and is not covered.
 *
 * Shutdown: peers_stop() stops the servers (queued requests are dropped),
 * fails the calls in flight, closes the transport (which joins the
 * progress thread) and frees the rest.
 *
 * Locks: ps->lock protects the call table and the peers' liveness; ps->qlock
 * the request queues; ps->rlock the RMA buffers; ps->hlock the files kept
 * open for children. None is held across a
 * transport call, and none nests in another.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "canopyd_i.h"
#include "fabric.h"
#include "peer_i.h"
#include "tree.h"
#include "wire.h"

/* ---- helpers --------------------------------------------------------------
 */

uint64_t peer_deadline_in(uint64_t ns)
{
	return now_ns() + ns;
}

void peer_abstime(uint64_t deadline_ns, struct timespec *ts)
{
	/* now_ns() is CLOCK_MONOTONIC; condvars are set up to match */
	ts->tv_sec = deadline_ns / 1000000000ULL;
	ts->tv_nsec = deadline_ns % 1000000000ULL;
}

void peer_cond_init_mono(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

void peer_hdr_init(struct peers *ps, struct wire_hdr *h, uint8_t type,
		     uint64_t id)
{
	memset(h, 0, sizeof(*h));
	h->magic = WIRE_MAGIC;
	h->version = WIRE_VERSION;
	h->type = type;
	h->req_id = id;
	h->src = ps->self;
}

const char *peer_name(const struct peers *ps, uint32_t i)
{
	return ps->cp->conf->nodes[i].name;
}

/* ---- liveness ------------------------------------------------------------ */

static bool peer_dead(struct peers *ps, uint32_t i)
{
	bool dead;

	pthread_mutex_lock(&ps->lock);
	dead = now_ns() < ps->peer[i].dead_until;
	pthread_mutex_unlock(&ps->lock);
	return dead;
}

void peer_failed(struct peers *ps, uint32_t i, int err)
{
	struct peer *p = &ps->peer[i];
	uint64_t backoff;
	bool warn;

	pthread_mutex_lock(&ps->lock);
	if (p->fails < 16)
		p->fails++;
	backoff = 500000000ULL << (p->fails - 1);
	if (backoff > DEAD_BACKOFF_MAX_NS)
		backoff = DEAD_BACKOFF_MAX_NS;
	p->dead_until = now_ns() + backoff;
	warn = !p->warned;
	p->warned = true;
	pthread_mutex_unlock(&ps->lock);
	if (warn)
		log_warn("peer %s (%s) does not answer (%s): requests go "
			 "around it",
			 p->cn->name, p->cn->addrs[0], strerror(-err));
}

void peer_answered(struct peers *ps, uint32_t i)
{
	struct peer *p = &ps->peer[i];
	bool back;

	pthread_mutex_lock(&ps->lock);
	back = p->warned;
	p->seen = true;
	p->fails = 0;
	p->dead_until = 0;
	p->warned = false;
	pthread_mutex_unlock(&ps->lock);
	if (back)
		log_notice("peer %s (%s) answers again", p->cn->name,
			   p->cn->addrs[0]);
}

int peer_addr(struct peers *ps, uint32_t i, uint64_t *addr)
{
	struct peer *p = &ps->peer[i];
	uint64_t a;
	int ret;

	pthread_mutex_lock(&ps->lock);
	if (p->have_addr) {
		*addr = p->addr;
		pthread_mutex_unlock(&ps->lock);
		return 0;
	}
	pthread_mutex_unlock(&ps->lock);
	ret = fab_peer(ps->fab, p->cn->host, p->cn->port, &a);
	if (ret)
		return ret;
	pthread_mutex_lock(&ps->lock);
	p->addr = a;
	p->have_addr = true;
	pthread_mutex_unlock(&ps->lock);
	*addr = a;
	return 0;
}

/* ---- calls --------------------------------------------------------------- */

static struct call **bucket(struct peers *ps, uint64_t id)
{
	return &ps->calls[id % CALL_BUCKETS];
}

static void call_unlink_locked(struct peers *ps, struct call *c)
{
	struct call **pp;

	for (pp = bucket(ps, c->id); *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			return;
		}
}

static uint8_t response_type(uint8_t req)
{
	switch (req) {
	case WIRE_PING:
		return WIRE_PONG;
	case WIRE_STAT_REQ:
		return WIRE_STAT_RESP;
	case WIRE_LIST_REQ:
		return WIRE_LIST_RESP;
	case WIRE_READLINK_REQ:
		return WIRE_READLINK_RESP;
	case WIRE_READ_REQ:
		return WIRE_READ_RESP;
	case WIRE_PREFETCH:
		return WIRE_PREFETCH_DONE;
	default:
		return 0;
	}
}

static bool is_transport_err(int err)
{
	return err == -ETIMEDOUT || err == -ECONNREFUSED ||
	       err == -ECONNRESET || err == -EHOSTUNREACH ||
	       err == -ENETUNREACH || err == -EPIPE || err == -ENOTCONN ||
	       err == -ECONNABORTED || err == -EHOSTDOWN || err == -EIO ||
	       err == -ECANCELED || err == -EAGAIN;
}

/* The request id sits at byte 8 of the header, little-endian (wire.h). */
static void set_req_id(void *buf, uint64_t id)
{
	int i;

	for (i = 0; i < 8; i++)
		((uint8_t *)buf)[8 + i] = (uint8_t)(id >> (8 * i));
}

/*
 * Register @c and send a copy of @msg (@len bytes, a request whose type is
 * byte 5) to peer @to. A peer never seen yet may be starting: a send that
 * fails is retried with backoff, for one timeout at most. On error @c is
 * not registered.
 */
int peer_call_send(struct peers *ps, uint32_t to, const void *msg, size_t len,
		     struct call *c)
{
	uint64_t deadline = peer_deadline_in(ps->timeout_ns), addr;
	useconds_t wait_us = 10000;
	bool seen;
	void *buf;
	int ret;

	ret = peer_addr(ps, to, &addr);
	if (ret)
		return ret;
	c->to = to;
	c->want = response_type(((const uint8_t *)msg)[5]);
	c->done = false;
	c->resp = NULL;
	for (;;) {
		buf = fab_msg_alloc(ps->fab, len);
		if (!buf)
			return -ENOMEM;
		memcpy(buf, msg, len);
		c->id = atomic_fetch_add(&ps->next_id, 1);
		set_req_id(buf, c->id);
		wire_seal(buf, len, &ps->key);

		pthread_mutex_lock(&ps->lock);
		c->next = *bucket(ps, c->id);
		*bucket(ps, c->id) = c;
		pthread_mutex_unlock(&ps->lock);

		ret = fab_send(ps->fab, addr, buf, len, ps->timeout_ms);
		if (!ret) {
			STAT_INC(peer_requests_out);
			return 0;
		}
		pthread_mutex_lock(&ps->lock);
		call_unlink_locked(ps, c);
		seen = ps->peer[to].seen;
		pthread_mutex_unlock(&ps->lock);
		if (seen || now_ns() + wait_us * 1000ULL >= deadline)
			return ret;
		/* not up yet: wait, bounded, for it to start */
		usleep(wait_us);
		if (wait_us < 200000)
			wait_us *= 2;
	}
}

/* Wait up to @ns for @c's response; true if it came. */
bool peer_call_wait(struct peers *ps, struct call *c, uint64_t ns)
{
	struct timespec ts;
	bool done;

	chan_may_block(); /* a network round trip at least */
	peer_abstime(peer_deadline_in(ns), &ts);
	pthread_mutex_lock(&ps->lock);
	while (!c->done &&
	       pthread_cond_timedwait(&c->cond, &ps->lock, &ts) != ETIMEDOUT)
		;
	done = c->done;
	pthread_mutex_unlock(&ps->lock);
	return done;
}

/* Give up on @c; true if its response came after all. */
bool peer_call_cancel(struct peers *ps, struct call *c)
{
	bool done;

	pthread_mutex_lock(&ps->lock);
	done = c->done;
	if (!done)
		call_unlink_locked(ps, c);
	pthread_mutex_unlock(&ps->lock);
	return done;
}

int peer_ping(struct peers *ps, uint32_t to)
{
	uint8_t msg[WIRE_HDR_LEN];
	struct wire_hdr h;
	struct call c;
	ssize_t len;
	int ret;

	peer_hdr_init(ps, &h, WIRE_PING, 0);
	len = wire_encode_ping(msg, sizeof(msg), &h);
	if (len < 0)
		return (int)len;
	peer_cond_init_mono(&c.cond);
	ret = peer_call_send(ps, to, msg, len, &c);
	if (!ret && !peer_call_wait(ps, &c, ps->timeout_ns) && !peer_call_cancel(ps, &c))
		ret = -ETIMEDOUT;
	pthread_cond_destroy(&c.cond);
	if (!ret)
		fab_recv_done(ps->fab, c.resp);
	return ret;
}

/*
 * A whole request to peer @to; waits on while the peer answers pings. On
 * success *resp is the response (a receive buffer: give it back with
 * fab_recv_done()) and *body, *body_len its body.
 */
static int call(struct peers *ps, uint32_t to, const void *msg, size_t len,
		void **resp, struct wire_hdr *rh, const void **body,
		size_t *body_len)
{
	unsigned slice;
	struct call c;
	int ret;

	peer_cond_init_mono(&c.cond);
	ret = peer_call_send(ps, to, msg, len, &c);
	for (slice = 0; !ret; slice++) {
		if (peer_call_wait(ps, &c, ps->timeout_ns))
			break;
		/* no answer yet: gone, or busy? */
		if (slice + 1 >= CALL_MAX_SLICES || peer_ping(ps, to)) {
			if (!peer_call_cancel(ps, &c))
				ret = -ETIMEDOUT;
			break;
		}
	}
	pthread_cond_destroy(&c.cond);
	if (ret) {
		peer_failed(ps, to, ret);
		return ret;
	}
	peer_answered(ps, to);
	*resp = c.resp;
	*rh = c.rh;
	*body = (const uint8_t *)c.resp + WIRE_HDR_LEN;
	*body_len = c.resp_len - WIRE_HDR_LEN;
	return 0;
}

/* ---- routing ------------------------------------------------------------- */

/*
 * The peers to ask for an object of tree @tr, in order: the ancestors, then
 * the other roots. Returns how many; 0 when this node is @tr's root.
 */
static size_t route(struct peers *ps, uint32_t tr, uint32_t *cand, size_t max)
{
	size_t n = 0, i;
	uint32_t r, t;
	int64_t p;

	if (tree_root(ps->tree, tr) == ps->self)
		return 0;
	for (p = tree_parent(ps->tree, tr, ps->self); p >= 0 && n < max;
	     p = tree_parent(ps->tree, tr, (uint32_t)p))
		cand[n++] = (uint32_t)p;
	for (t = 1; t < tree_count(ps->tree) && n < max; t++) {
		r = tree_root(ps->tree, (tr + t) % tree_count(ps->tree));
		if (r == ps->self)
			continue;
		for (i = 0; i < n && cand[i] != r; i++)
			;
		if (i == n)
			cand[n++] = r;
	}
	return n;
}

/* Errors that say the peer could not answer, not what the answer is. */
static bool err_is_peer_side(int err)
{
	return is_transport_err(err) || err == -EPERM || err == -ENOMEM ||
	       err == -EBUSY || err == -ENOSPC || err == -EPROTO ||
	       err == -EBADMSG || err == -EREMOTE;
}

/*
 * Ask the peers on @tr's route in turn, starting over from the first that
 * is alive. @answer decodes the response (returns the owner's answer, or
 * -EPROTO if it cannot be read). Returns what the answer says, or -EREMOTE
 * when this node must ask the backing store.
 */
int peer_ask(struct peers *ps, uint32_t tr, const void *msg, size_t len,
	     answer_fn answer, void *arg)
{
	uint32_t cand[MAX_CANDIDATES];
	size_t n = route(ps, tr, cand, MAX_CANDIDATES), i;
	struct wire_hdr rh;
	const void *body;
	size_t body_len;
	void *resp;
	int ret;

	if (!n)
		return -EREMOTE;
	for (i = 0; i < n; i++) {
		if (peer_dead(ps, cand[i]))
			continue;
		ret = call(ps, cand[i], msg, len, &resp, &rh, &body, &body_len);
		if (ret)
			continue;
		ret = answer(ps, cand[i], &rh, body, body_len, arg);
		fab_recv_done(ps->fab, resp);
		if (!err_is_peer_side(ret)) {
			if (i)
				STAT_INC(failover_count);
			return ret;
		}
	}
	STAT_INC(failover_count);
	log_warn_rl("no peer on the way to root %s answered: reading the "
		    "backing store",
		    peer_name(ps, tree_root(ps->tree, tr)));
	return -EREMOTE;
}

/* The tree of a file's data (placement file), or of a directory's listing
 * and the attributes of its entries. */
uint32_t peer_owner_of_path(struct peers *ps, const char *path)
{
	return tree_owner_file(ps->tree, path, strlen(path));
}

bool peers_owns(struct canopy *cp, const char *path)
{
	struct peers *ps = cp->peers;

	if (!ps)
		return true;
	/* with block placement no node owns all of a file */
	return !ps->block_placement &&
	       tree_root(ps->tree, peer_owner_of_path(ps, path)) == ps->self;
}

/* ---- receiving ----------------------------------------------------------- */

static bool is_request(uint8_t type)
{
	return response_type(type) != 0;
}

static bool deliver(struct peers *ps, const struct wire_hdr *h, void *buf,
		    size_t len)
{
	struct call *c;

	pthread_mutex_lock(&ps->lock);
	for (c = *bucket(ps, h->req_id); c; c = c->next)
		if (c->id == h->req_id)
			break;
	if (!c || c->to != h->src || c->want != h->type) {
		pthread_mutex_unlock(&ps->lock);
		STAT_INC(peer_late);
		return false;
	}
	call_unlink_locked(ps, c);
	c->resp = buf;
	c->resp_len = len;
	c->rh = *h;
	c->done = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&ps->lock);
	return true;
}

static bool enqueue(struct peers *ps, const struct wire_hdr *h, void *buf,
		    size_t len)
{
	struct srv_req *r = malloc(sizeof(*r));
	struct rq *q;

	if (!r)
		return false;
	r->next = NULL;
	r->buf = buf;
	r->len = len;
	r->h = *h;
	pthread_mutex_lock(&ps->qlock);
	q = h->type == WIRE_PING ? &ps->pings : &ps->q;
	if (ps->stopping || q->len >= QUEUE_MAX) {
		pthread_mutex_unlock(&ps->qlock);
		free(r);
		STAT_INC(peer_dropped);
		log_warn_rl("peer request queue full: requests dropped");
		return false;
	}
	*q->tail = r;
	q->tail = &r->next;
	q->len++;
	pthread_cond_broadcast(&ps->qcond);
	pthread_mutex_unlock(&ps->qlock);
	return true;
}

/* The transport's progress thread: check, then hand over. Never blocks. */
static bool on_recv(void *arg, void *buf, size_t len)
{
	struct peers *ps = arg;
	struct wire_release rel;
	struct wire_hdr h;
	int ret;

	ret = wire_decode_hdr(buf, len, &h);
	if (ret) {
		STAT_INC(peer_malformed);
		log_warn_rl("dropped a malformed message of %zu bytes: %s", len,
			    strerror(-ret));
		return false;
	}
	if (wire_verify(buf, len, &ps->key)) {
		STAT_INC(auth_failures);
		log_warn_rl("dropped a %s message that failed authentication",
			    wire_type_name(h.type));
		return false;
	}
	if (h.src >= ps->n || h.src == ps->self) {
		STAT_INC(peer_malformed);
		log_warn_rl("dropped a message from node index %" PRIu32
			    " (not a peer)",
			    h.src);
		return false;
	}
	if (h.type == WIRE_RELEASE) {
		if (!wire_decode_release((uint8_t *)buf + WIRE_HDR_LEN,
					 h.body_len, &rel))
			peer_rma_release(ps, rel.cookie);
		else
			STAT_INC(peer_malformed);
		return false;
	}
	if (is_request(h.type))
		return enqueue(ps, &h, buf, len);
	return deliver(ps, &h, buf, len);
}

/* ---- start and stop ------------------------------------------------------ */

static void rq_drop(struct peers *ps, struct rq *q)
{
	struct srv_req *r;

	while ((r = q->head)) {
		q->head = r->next;
		fab_recv_done(ps->fab, r->buf);
		free(r);
	}
	q->tail = &q->head;
	q->len = 0;
}

static void peers_free(struct peers *ps)
{
	size_t i;

	if (!ps)
		return;
	for (i = 0; i < HOLD_MAX; i++) {
		if (!ps->held[i])
			continue;
		cache_obj_close(ps->held[i]);
		cache_obj_put(ps->held[i]);
	}
	for (i = 0; i < ps->nmrs; i++)
		fab_mr_close(ps->mrs[i]);
	free(ps->mrs);
	for (i = 0; i < ps->nrbuf; i++)
		fab_mr_close(ps->rbuf[i].mr);
	/* the transport may still be sending out of an RMA buffer */
	fab_close(ps->fab);
	for (i = 0; i < ps->nrbuf; i++)
		free(ps->rbuf[i].p);
	free(ps->rbuf);
	if (ps->srv)
		for (i = 0; i <= ps->nsrv; i++)
			worker_teardown(&ps->srv[i]);
	free(ps->srv);
	free(ps->tids);
	tree_free(ps->tree);
	free(ps->peer);
	pthread_mutex_destroy(&ps->lock);
	pthread_mutex_destroy(&ps->qlock);
	pthread_cond_destroy(&ps->qcond);
	pthread_mutex_destroy(&ps->rlock);
	pthread_cond_destroy(&ps->rcond);
	pthread_mutex_destroy(&ps->mrlock);
	pthread_mutex_destroy(&ps->hlock);
	free(ps);
}

static int rma_setup(struct peers *ps, char *err, size_t errlen)
{
	size_t i;
	int ret;

	ps->nrbuf = 2 * ps->nsrv;
	ps->rbuf = calloc(ps->nrbuf, sizeof(*ps->rbuf));
	if (!ps->rbuf)
		return -ENOMEM;
	for (i = 0; i < ps->nrbuf; i++) {
		ps->rbuf[i].p = aligned_alloc(4096, ps->bs);
		if (!ps->rbuf[i].p)
			return -ENOMEM;
		ret = fab_mr_reg(ps->fab, ps->rbuf[i].p, ps->bs, true,
				 &ps->rbuf[i].mr);
		if (ret) {
			snprintf(err, errlen,
				 "cannot register RMA buffers "
				 "with %s: %s",
				 fab_provider(ps->fab), strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int peers_start(struct canopy *cp, char *err, size_t errlen)
{
	const struct conf *conf = cp->conf;
	const struct conf_node *me;
	struct fab_opts fo;
	struct peers *ps;
	uint32_t i;
	int ret;

	if (!conf->nnodes)
		return 0;
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	ps->cp = cp;
	ps->n = (uint32_t)conf->nnodes;
	ps->self = (uint32_t)conf->node_index;
	ps->rma = conf->data_mode == DATA_MODE_RMA;
	ps->block_placement = conf->placement == PLACEMENT_BLOCK;
	ps->timeout_ns = (uint64_t)(conf->peer_timeout * 1e9);
	if (ps->timeout_ns < 1000000)
		ps->timeout_ns = 1000000;
	ps->timeout_ms = (int)(ps->timeout_ns / 1000000);
	ps->bs = cache_block_size(cp->cache);
	ps->max_msg = ps->bs + (64 << 10);
	ps->nsrv = conf->peer_threads ? conf->peer_threads : 1;
	atomic_init(&ps->next_id, 1);
	pthread_mutex_init(&ps->lock, NULL);
	pthread_mutex_init(&ps->qlock, NULL);
	pthread_cond_init(&ps->qcond, NULL);
	pthread_mutex_init(&ps->rlock, NULL);
	peer_cond_init_mono(&ps->rcond);
	pthread_mutex_init(&ps->mrlock, NULL);
	pthread_mutex_init(&ps->hlock, NULL);
	ps->q.tail = &ps->q.head;
	ps->pings.tail = &ps->pings.head;

	ps->peer = calloc(ps->n, sizeof(*ps->peer));
	if (!ps->peer) {
		ret = -ENOMEM;
		goto err_free;
	}
	for (i = 0; i < ps->n; i++) {
		ps->peer[i].idx = i;
		ps->peer[i].cn = &conf->nodes[i];
	}
	ret = tree_new(ps->n, conf->fanout, conf->roots, (uint32_t)conf->nroots,
		       &ps->tree);
	if (ret) {
		snprintf(err, errlen, "cannot build the trees: %s",
			 strerror(-ret));
		goto err_free;
	}
	if (conf->auth_none) {
		wire_key_none(&ps->key);
	} else {
		ret = wire_key_load(conf->auth_key_file, &ps->key, err, errlen);
		if (ret)
			goto err_free;
	}

	me = &conf->nodes[ps->self];
	fo = (struct fab_opts){.provider = conf->provider,
			       .host = me->host,
			       .port = me->port,
			       .max_msg = ps->max_msg,
			       .nrecv = conf->recv_buffers};
	ret = fab_open(&fo, on_recv, ps, &ps->fab, err, errlen);
	if (ret)
		goto err_free;
	if (ps->rma) {
		ret = rma_setup(ps, err, errlen);
		if (ret)
			goto err_free;
	}

	ps->srv = calloc(ps->nsrv + 1, sizeof(*ps->srv));
	ps->tids = calloc(ps->nsrv + 1, sizeof(*ps->tids));
	if (!ps->srv || !ps->tids) {
		ret = -ENOMEM;
		goto err_free;
	}
	for (i = 0; i <= ps->nsrv; i++) {
		ps->srv[i].idx = 1000 + i;
		ret = worker_setup_aux(cp, &ps->srv[i]);
		if (ret) {
			snprintf(err, errlen, "peer server %u: %s", i,
				 strerror(-ret));
			goto err_free;
		}
	}
	cp->peers = ps;
	for (i = 0; i <= ps->nsrv; i++) {
		struct srv_arg *a = malloc(sizeof(*a));

		if (!a) {
			ret = -ENOMEM;
			goto err_stop;
		}
		a->ps = ps;
		a->idx = i;
		ret = -pthread_create(&ps->tids[i], NULL, peer_server_main, a);
		if (ret) {
			free(a);
			goto err_stop;
		}
		ps->started++;
	}
	log_notice("node %s (%u of %u) listening on %s:%s through %s, %s "
		   "data",
		   me->name, ps->self + 1, ps->n, me->host, me->port,
		   fab_provider(ps->fab), ps->rma ? "rma" : "rpc");
	return 0;

err_stop:
	snprintf(err, errlen, "cannot start peer servers: %s", strerror(-ret));
	peers_stop(cp);
	return ret;
err_free:
	peers_free(ps);
	return ret;
}

void peers_stop(struct canopy *cp)
{
	struct peers *ps = cp->peers;
	unsigned i;

	if (!ps)
		return;
	/* prefetch jobs send and wait on calls: before the servers go */
	prefetch_stop(ps);
	pthread_mutex_lock(&ps->qlock);
	ps->stopping = true;
	pthread_cond_broadcast(&ps->qcond);
	pthread_mutex_unlock(&ps->qlock);
	for (i = 0; i < ps->started; i++)
		pthread_join(ps->tids[i], NULL);
	/* nothing is queued any more: enqueue() refuses while stopping */
	pthread_mutex_lock(&ps->qlock);
	rq_drop(ps, &ps->q);
	rq_drop(ps, &ps->pings);
	pthread_mutex_unlock(&ps->qlock);
	cp->peers = NULL;
	peers_free(ps);
}

/* ---- status -------------------------------------------------------------- */

void peers_status(struct canopy *cp, char *buf, size_t len)
{
	struct peers *ps = cp->peers;

	if (!ps) {
		snprintf(buf, len, "single node");
		return;
	}
	snprintf(buf, len,
		 "node %s (%u of %u), %u root%s, fanout %u, %s "
		 "placement, %s data over %s",
		 peer_name(ps, ps->self), ps->self + 1, ps->n,
		 tree_count(ps->tree), tree_count(ps->tree) == 1 ? "" : "s",
		 tree_fanout(ps->tree), ps->block_placement ? "block" : "file",
		 ps->rma ? "rma" : "rpc", fab_provider(ps->fab));
}

static void tree_peer(FILE *f, struct peers *ps, uint32_t i)
{
	int ret = peer_ping(ps, i);

	if (!ret)
		peer_answered(ps, i);
	fprintf(f, " %s (%s)", peer_name(ps, i),
		ret ? "unreachable" : "reachable");
}

int peers_unreachable_parents(struct canopy *cp, char *out, size_t len)
{
	struct peers *ps = cp->peers;
	uint32_t tr, seen[64];
	unsigned nseen = 0, i;
	size_t used = 0;
	int64_t parent;
	int n = 0;

	if (len)
		*out = '\0';
	if (!ps)
		return 0;
	for (tr = 0; tr < tree_count(ps->tree); tr++) {
		parent = tree_parent(ps->tree, tr, ps->self);
		if (parent < 0)
			continue;
		for (i = 0; i < nseen && seen[i] != (uint32_t)parent; i++)
			;
		if (i < nseen)
			continue; /* the same parent in two trees */
		if (nseen < 64)
			seen[nseen++] = (uint32_t)parent;
		if (!peer_ping(ps, (uint32_t)parent)) {
			peer_answered(ps, (uint32_t)parent);
			continue;
		}
		if (used < len)
			used += (size_t)snprintf(out + used, len - used, "%s%s",
						 n ? ", " : "",
						 peer_name(ps, (uint32_t)parent));
		n++;
	}
	return n;
}

char *peers_tree_text(struct canopy *cp)
{
	struct peers *ps = cp->peers;
	uint32_t tr, kids[64], nk, i;
	size_t outlen = 0;
	char *out = NULL;
	int64_t parent;
	FILE *f;

	if (!ps)
		return NULL;
	f = open_memstream(&out, &outlen);
	if (!f)
		return NULL;
	fprintf(f, "node %s (%u of %u), %u tree%s, fanout %u, height %u\n",
		peer_name(ps, ps->self), ps->self + 1, ps->n,
		tree_count(ps->tree), tree_count(ps->tree) == 1 ? "" : "s",
		tree_fanout(ps->tree), tree_height(ps->tree));
	for (tr = 0; tr < tree_count(ps->tree); tr++) {
		fprintf(f, "tree %u: root %s, depth %u\n", tr,
			peer_name(ps, tree_root(ps->tree, tr)),
			tree_depth(ps->tree, tr, ps->self));
		parent = tree_parent(ps->tree, tr, ps->self);
		fprintf(f, "  parent:");
		if (parent < 0)
			fprintf(f, " none (this node is the root)");
		else
			tree_peer(f, ps, (uint32_t)parent);
		fprintf(f, "\n  children:");
		nk = tree_children(ps->tree, tr, ps->self, kids, 64);
		if (!nk)
			fprintf(f, " none");
		for (i = 0; i < nk && i < 64; i++)
			tree_peer(f, ps, kids[i]);
		fprintf(f, "\n");
	}
	fclose(f);
	return out;
}
