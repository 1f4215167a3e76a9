/* SPDX-License-Identifier: MIT */
/*
 * daemon/peer_i.h - the cooperative tree's state and the calls peer.c,
 * peer_client.c, peer_serve.c and prefetch.c lend each other. Included
 * only by those four files.
 */
#ifndef CANOPY_PEER_I_H
#define CANOPY_PEER_I_H

#include "canopyd_i.h"
#include "fabric.h"
#include "wire.h"

#define CALL_BUCKETS 256
#define CALL_MAX_SLICES 30 /* a busy peer is waited on this many timeouts */
#define RMA_HOLD_SLICES 8  /* an unreleased RMA buffer is kept this long */
#define QUEUE_MAX 4096	   /* queued requests beyond this are dropped */
#define DEAD_BACKOFF_MAX_NS (30ULL * 1000000000ULL)
#define LIST_MSG_MAX (1u << 20)
#define MAX_CANDIDATES 64
#define HOLD_MAX 64           /* files served recently, kept open */

struct peer {
	uint32_t idx;
	const struct conf_node *cn;
	/* fields below are protected by ps->lock */
	bool have_addr;
	uint64_t addr;
	bool seen;	     /* has answered at least once */
	uint64_t dead_until; /* ns; skipped until then */
	unsigned fails;	     /* failures in a row */
	bool warned;	     /* "does not answer" logged */
};

struct call {
	struct call *next; /* in the call table; protected by ps->lock */
	uint64_t id;
	uint32_t to;
	uint8_t want; /* response type */
	bool done;
	void *resp; /* the response, a kept receive buffer */
	size_t resp_len;
	struct wire_hdr rh;
	pthread_cond_t cond;
};

struct srv_req {
	struct srv_req *next;
	void *buf; /* kept receive buffer */
	size_t len;
	struct wire_hdr h;
};

struct rq {
	struct srv_req *head, **tail;
	size_t len;
};

struct rma_buf {
	void *p;
	struct fab_mr *mr;
	/* fields below are protected by ps->rlock */
	bool busy;
	uint64_t cookie;
	uint64_t expires;
};

struct peers {
	struct canopy *cp;
	struct fab *fab;
	struct tree *tree;
	struct wire_key key;
	uint32_t self, n;
	struct peer *peer;
	bool rma, block_placement;
	uint64_t timeout_ns;
	int timeout_ms;
	uint64_t bs;
	size_t max_msg;
	atomic_uint_fast64_t next_id;

	pthread_mutex_t lock;
	struct call *calls[CALL_BUCKETS]; /* protected by lock */

	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct rq q, pings; /* protected by qlock */
	bool stopping;	    /* protected by qlock */

	unsigned nsrv;
	struct worker *srv; /* [nsrv + 1]: the last one answers pings */
	pthread_t *tids;
	unsigned started;

	pthread_mutex_t rlock;
	pthread_cond_t rcond;
	struct rma_buf *rbuf;
	size_t nrbuf;
	uint64_t next_cookie; /* protected by rlock */

	pthread_mutex_t mrlock;
	struct fab_mr **mrs;  /* worker buffers registered; by mrlock */
	size_t nmrs;

	/*
	 * The files served last stay open (a reference and a cache_obj_open
	 * each), so a child reading a file block by block does not make the
	 * owner open the backing file again for every block.
	 */
	pthread_mutex_t hlock;
	struct cache_obj *held[HOLD_MAX]; /* protected by hlock */
	unsigned hnext;                   /* protected by hlock */
};

/* ---- what peer.c lends to peer_client.c, peer_serve.c and prefetch.c --- */

/* The deadline @ns from now, on the clock of now_ns(). */
uint64_t peer_deadline_in(uint64_t ns);
/* @deadline_ns as a timespec for a condvar from peer_cond_init_mono(). */
void peer_abstime(uint64_t deadline_ns, struct timespec *ts);
/* A condition variable on CLOCK_MONOTONIC, the clock of now_ns(). */
void peer_cond_init_mono(pthread_cond_t *c);
void peer_hdr_init(struct peers *ps, struct wire_hdr *h, uint8_t type,
		   uint64_t id);
const char *peer_name(const struct peers *ps, uint32_t i);
void peer_failed(struct peers *ps, uint32_t i, int err);
void peer_answered(struct peers *ps, uint32_t i);
int peer_addr(struct peers *ps, uint32_t i, uint64_t *addr);
/*
 * Register @c (its cond initialised by the caller) and send a copy of the
 * request @msg to @to; then wait for the response in slices with
 * peer_call_wait(), and give up with peer_call_cancel() (true if the
 * response came after all). A response is in c->resp (a receive buffer:
 * fab_recv_done() it), c->resp_len, c->rh.
 */
int peer_call_send(struct peers *ps, uint32_t to, const void *msg, size_t len,
		   struct call *c);
bool peer_call_wait(struct peers *ps, struct call *c, uint64_t ns);
bool peer_call_cancel(struct peers *ps, struct call *c);
/* 0 if @to answers a PING within the timeout. */
int peer_ping(struct peers *ps, uint32_t to);

/* ---- peer.c, for peer_client.c ------------------------------------------- */

/* Decode the answer of peer @from; see peer_ask(). */
typedef int (*answer_fn)(struct peers *ps, uint32_t from,
			 const struct wire_hdr *rh, const void *body,
			 size_t len, void *arg);
/* Ask @tr's route for @msg; @answer's result, or -EREMOTE: read the store. */
int peer_ask(struct peers *ps, uint32_t tr, const void *msg, size_t len,
	     answer_fn answer, void *arg);
/* The tree of a file's data (placement file) or of a directory's entries. */
uint32_t peer_owner_of_path(struct peers *ps, const char *path);

/* ---- peer_serve.c, for peer.c and prefetch.c ----------------------------- */

/* Seal and send the response @buf (from fab_msg_alloc, @len or -errno). */
void peer_respond(struct peers *ps, uint32_t to, void *buf, ssize_t len);
/* May this node answer for @path (inside the exports, no symlink on the
 * way)? Counts and logs a refusal. */
bool peer_path_allowed(struct peers *ps, struct worker *w, const char *path);
/* Free the RMA buffer lent under @cookie, if any (takes ps->rlock). */
void peer_rma_release(struct peers *ps, uint64_t cookie);

/* A server thread's argument: malloc'd by peers_start(), freed by it. */
struct srv_arg {
	struct peers *ps;
	unsigned idx;
};
/* A server thread: answers ps->srv[idx]'s queue (ps->qlock) until stopping. */
void *peer_server_main(void *arg);

/* ---- prefetch.c, for peer.c ---------------------------------------------- */

/* A PREFETCH from a peer, on a server thread: starts a job, never waits. */
void prefetch_serve(struct peers *ps, struct worker *w,
		    const struct wire_hdr *h, const void *body);
/* Stop the jobs of this node and wait for them (peers_stop). */
void prefetch_stop(struct peers *ps);

#endif /* CANOPY_PEER_I_H */
