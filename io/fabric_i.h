/* SPDX-License-Identifier: MIT */
/*
 * io/fabric_i.h - what the two halves of the libfabric transport share:
 * io/fabric.c (the data path and the progress thread) and
 * io/fabric_setup.c (peers, set-up and tear-down). The structures, a few
 * small helpers, and the functions of fabric.c that fabric_setup.c calls.
 * Only io/fabric*.c include this.
 */
#ifndef CANOPY_FABRIC_I_H
#define CANOPY_FABRIC_I_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <rdma/fabric.h>

#include "fabric.h"

enum fab_kind { FAB_SEND, FAB_READ, FAB_RECV };

/* What a completion's op_context points at. */
struct fab_ctx {
	struct fi_context2 fctx; /* the provider's; must be first */
	enum fab_kind kind;
};

/* A posted send or read, waited on by its caller. */
struct fab_op {
	struct fab_ctx c;
	pthread_cond_t cond; /* signalled on completion and at close */
	/* fields below are protected by f->lock */
	struct fab_op *prev, *next; /* on f->pending while posted */
	int res;
	bool done;
	bool abandoned; /* the waiter left: the last to see it frees it */
};

/*
 * A message buffer: the caller's from fab_msg_alloc() to fab_send() or
 * fab_msg_free(), then the transport's; the send's operation lives in it.
 */
struct fab_msg {
	struct fab_op op;
	struct fid_mr *mr; /* FI_MR_LOCAL providers only */
	void *desc;
	size_t cap;
	struct fab_msg *next_free; /* protected by f->msg_lock */
	_Alignas(64) unsigned char data[];
};

/* A receive buffer; the transport's, lent to the callback's owner. */
struct fab_rx {
	struct fab_ctx c;
	struct fid_mr *mr;
	void *desc;
	struct fab_rx *next_backlog; /* protected by f->rx_lock */
	_Alignas(64) unsigned char data[];
};

struct fab_mr {
	struct fab *f;
	struct fid_mr *mr;
	const char *base;
	size_t len;
};

struct fab_peer_ent {
	char *host, *port;
	fi_addr_t addr;
};

struct fab {
	struct fi_info *info;
	struct fid_fabric *fabric;
	struct fid_domain *domain;
	struct fid_cq *cq;
	struct fid_av *av;
	struct fid_ep *ep;
	uint64_t mr_mode;
	size_t max_msg;
	size_t inject_size; /* sends up to this go by fi_inject() */
	bool thread_safe;
	bool wait; /* the progress thread blocks in fi_cq_sread() */
	fab_recv_fn fn;
	void *fn_arg;
	atomic_uint_fast64_t
	    next_key; /* requested keys unless FI_MR_PROV_KEY */

	pthread_t thread;
	atomic_bool stop;
	atomic_bool poll_asleep; /* poll mode: the thread sleeps on poll_cond */
	pthread_mutex_t poll_lock;
	pthread_cond_t poll_cond;

	pthread_mutex_t post_lock; /* domains that are not FI_THREAD_SAFE */

	pthread_mutex_t lock;
	/* fields below are protected by f->lock */
	struct fab_op pending; /* list head: posted sends and reads */
	unsigned users;	       /* callers inside fab_send()/fab_read() */
	pthread_cond_t idle;   /* closing: users or pending dropped to 0 */
	atomic_bool closing;   /* written under f->lock, read anywhere */

	pthread_mutex_t msg_lock;
	/* fields below are protected by f->msg_lock */
	struct fab_msg *free_small, *free_large;
	unsigned nfree_small, nfree_large;

	pthread_mutex_t rx_lock;
	/* fields below are protected by f->rx_lock */
	struct fab_rx *rx_backlog; /* fi_recv() said EAGAIN: retry later */
	atomic_bool rx_backlogged; /* rx_backlog is not empty */

	pthread_mutex_t peer_lock;
	/* fields below are protected by f->peer_lock */
	struct fab_peer_ent *peers;
	size_t npeers, peers_cap;

	/* set in fab_open(), then read only until fab_close() */
	struct fab_rx **rx;
	unsigned nrx;

	atomic_uint_fast64_t warn_next_ns, warn_dropped;
	struct {
		atomic_uint_fast64_t sends, send_errors, recvs, reads;
		atomic_uint_fast64_t read_errors, bytes_sent, bytes_recv;
		atomic_uint_fast64_t bytes_read;
	} st;
};

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline void ts_of(uint64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / 1000000000ULL);
	ts->tv_nsec = (long)(ns % 1000000000ULL);
}

/* Poll mode: a poster wakes a sleeping progress thread. */
static inline void kick_progress(struct fab *f)
{
	if (f->wait || !atomic_load(&f->poll_asleep))
		return;
	pthread_mutex_lock(&f->poll_lock);
	atomic_store(&f->poll_asleep, false);
	pthread_cond_signal(&f->poll_cond);
	pthread_mutex_unlock(&f->poll_lock);
}

/* io/fabric.c: what io/fabric_setup.c calls */

/* A libfabric error number (either sign) as -errno. */
int fab_errno(int fierr);

/*
 * Register @len bytes at @buf for @access (FI_SEND, FI_RECV, FI_READ or
 * FI_REMOTE_READ), bound to the endpoint if the provider wants it. On
 * success *out belongs to the caller; release with fi_close().
 */
int fab_mr_reg_fid(struct fab *f, void *buf, size_t len, uint64_t access,
		   struct fid_mr **out);

/* Free a message buffer that no cache holds, with its MR. */
void fab_msg_destroy(struct fab_msg *m);

/* Free an operation nobody waits for (a send's goes back to the cache). */
void fab_op_free(struct fab *f, struct fab_op *op);

/* Post @rx; if the provider is out of room, the progress thread retries. */
void fab_rx_post(struct fab *f, struct fab_rx *rx);

/* The progress thread: pthread_create(..., fab_progress, f). */
void *fab_progress(void *arg);

#endif /* CANOPY_FABRIC_I_H */
