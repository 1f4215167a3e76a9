// SPDX-License-Identifier: MIT
/*
 * io/fabric.c - the libfabric transport: one RDM endpoint per daemon,
 * messages and RMA reads between peers.
 *
 * DESIGN
 *
 * Objects: one fabric, domain, endpoint, CQ (FI_CQ_FORMAT_DATA, sends, reads
 * and receives together) and AV (FI_AV_TABLE unless the provider wants MAP).
 * The endpoint is bound to the caller's host:port by fi_getinfo(FI_SOURCE).
 * Every libfabric operation carries a struct fab_ctx whose first member is
 * the fi_context2 the provider may use; op_context maps a completion back.
 *
 * Threads:
 *  - the progress thread (fab_progress()) is the only reader of the CQ. It
 *    blocks in fi_cq_sread() when the CQ has a wait object and the domain is
 *    FI_THREAD_SAFE, else polls fi_cq_read() and sleeps 50 us .. 1 ms
 *    between empty polls (a poster wakes it early). It calls the receive
 *    callback, reposts receive buffers and completes send and read
 *    operations. It never waits on the network.
 *  - caller threads post sends and reads (fi_send, fi_read) and wait on the
 *    operation's condition variable for the progress thread's hand-off, or
 *    for their deadline, or for fab_close(). Any number at once.
 *  - fab_recv_done() reposts from whichever thread calls it.
 * A domain that is not FI_THREAD_SAFE has every data-path call (post, CQ
 * read) serialised under f->post_lock, the one lock held across libfabric
 * calls; then the progress thread polls.
 *
 * Sends up to the provider's inject size go by fi_inject(): the provider
 * copies them out at once and there is no completion to wait for.
 *
 * Hand-offs: a posted send or read is on f->pending until its completion.
 * The waiter and the progress thread meet under f->lock: the completion sets
 * done and signals; a waiter that gives up (timeout, close) sets abandoned
 * and leaves. Whoever comes last frees the operation: the progress thread
 * on a late completion, or fab_close() if none ever arrives. A send's
 * operation lives inside its message buffer, so an abandoned send keeps its
 * bytes valid for the provider until then.
 *
 * Shutdown order (fab_close()): set closing and wake every waiter, which
 * returns -ECANCELED; wait until no caller is inside fab_send()/fab_read(),
 * then up to 200 ms for operations in flight to complete; stop and join
 * the progress thread (the callback is not called after); close the
 * endpoint, after which the provider touches no buffer; free the abandoned
 * operations, receive buffers and cached message buffers with their MRs;
 * close the AV, CQ, domain and fabric.
 *
 * Lock order: f->lock, then nothing. f->msg_lock, f->peer_lock,
 * f->rx_lock and f->post_lock are leaves, never held together.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>

#include "fabric.h"
#include "fabric_lib.h"

#define FAB_FI_VERSION FI_VERSION(1, 17)

/* mr_mode bits this file knows how to honour. */
#define FAB_MR_MODES                                                           \
	(FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY |    \
	 FI_MR_ENDPOINT)

#define FAB_CQ_BATCH 16
#define FAB_SREAD_MS 200	  /* wait-object sleep; fab_close() signals */
#define FAB_POLL_MIN_NS 50000	  /* poll mode: first sleep when idle */
#define FAB_POLL_MAX_NS 1000000	  /* poll mode: longest sleep */
#define FAB_POLL_SPINS 64	  /* empty polls before sleeping */
#define FAB_SMALL_MSG 65536	  /* message buffer size classes: small... */
#define FAB_CACHE_SMALL 64	  /* ...cached up to this many */
#define FAB_CACHE_LARGE 8	  /* max_msg buffers cached */
#define FAB_WARN_NS 1000000000ULL /* at most one warning a second */
#define FAB_CLOSE_GRACE_NS 200000000ULL /* close: wait for ops in flight */

/* container_of() comes from rdma/fabric.h */

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

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ULL),
			      .tv_nsec = (long)(ns % 1000000000ULL)};

	nanosleep(&ts, NULL);
}

/* Deadline in CLOCK_MONOTONIC ns; UINT64_MAX for no limit. */
static uint64_t deadline_of(int timeout_ms)
{
	if (timeout_ms < 0)
		return UINT64_MAX;
	return now_ns() + (uint64_t)timeout_ms * 1000000ULL;
}

static void ts_of(uint64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / 1000000000ULL);
	ts->tv_nsec = (long)(ns % 1000000000ULL);
}

/*
 * A warning a peer can trigger repeatedly: at most one line a second on
 * stderr, with the count of those dropped since the last one.
 */
__attribute__((format(printf, 2, 3))) static void fab_warn(struct fab *f,
							   const char *fmt, ...)
{
	uint64_t now = now_ns(), next = atomic_load(&f->warn_next_ns);
	uint64_t dropped;
	va_list ap;

	if (now < next || !atomic_compare_exchange_strong(
			      &f->warn_next_ns, &next, now + FAB_WARN_NS)) {
		atomic_fetch_add(&f->warn_dropped, 1);
		return;
	}
	dropped = atomic_exchange(&f->warn_dropped, 0);
	fputs("canopy: fabric: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (dropped)
		fprintf(stderr, " (%" PRIu64 " similar suppressed)", dropped);
	fputc('\n', stderr);
}

/* A libfabric error number (positive) as -errno. */
static int fab_errno(int fierr)
{
	if (fierr < 0)
		fierr = -fierr;
	switch (fierr) {
	case 0:
		return -EIO;
	case FI_ETRUNC:
	case FI_ETOOSMALL:
		return -EMSGSIZE;
	case FI_ENOKEY:
		return -ENOKEY;
	case FI_EBADFLAGS:
		return -EINVAL;
	case FI_ENORX:
		return -ENOBUFS;
	case FI_EOVERRUN:
		return -EOVERFLOW;
	default:
		return fierr < FI_ERRNO_OFFSET ? -fierr : -EIO;
	}
}

static void post_lock(struct fab *f)
{
	if (!f->thread_safe)
		pthread_mutex_lock(&f->post_lock);
}

static void post_unlock(struct fab *f)
{
	if (!f->thread_safe)
		pthread_mutex_unlock(&f->post_lock);
}

/* Poll mode: a poster wakes a sleeping progress thread. */
static void kick_progress(struct fab *f)
{
	if (f->wait || !atomic_load(&f->poll_asleep))
		return;
	pthread_mutex_lock(&f->poll_lock);
	atomic_store(&f->poll_asleep, false);
	pthread_cond_signal(&f->poll_cond);
	pthread_mutex_unlock(&f->poll_lock);
}

/*
 * Back off after fi_send/fi_read said EAGAIN: the progress thread frees
 * room meanwhile. Returns 0 to retry, -ETIMEDOUT or -ECANCELED.
 */
static int post_backoff(struct fab *f, unsigned *n, uint64_t deadline)
{
	uint64_t ns = 10000ULL << (*n < 7 ? *n : 7);

	if (atomic_load(&f->closing))
		return -ECANCELED;
	if (now_ns() >= deadline)
		return -ETIMEDOUT;
	(*n)++;
	kick_progress(f);
	sleep_ns(ns);
	return 0;
}

/* One data transfer to post: a send (injected or not) or an RMA read. */
struct post {
	enum { POST_INJECT, POST_SEND, POST_READ } how;
	void *buf;
	size_t len;
	void *desc;
	uint64_t addr;
	uint64_t raddr, key; /* POST_READ */
	void *ctx;
};

static ssize_t post_once(struct fab *f, const struct post *p)
{
	fi_addr_t a = (fi_addr_t)p->addr;

	switch (p->how) {
	case POST_INJECT:
		return fi_inject(f->ep, p->buf, p->len, a);
	case POST_SEND:
		return fi_send(f->ep, p->buf, p->len, p->desc, a, p->ctx);
	case POST_READ:
		return fi_read(f->ep, p->buf, p->len, p->desc, a, p->raddr,
			       p->key, p->ctx);
	}
	return -FI_EINVAL;
}

/*
 * Post @p, backing off while the provider has no room, until @deadline.
 * Returns 0 once posted, else -errno (a provider error is warned).
 */
static int post_retry(struct fab *f, const struct post *p, uint64_t deadline)
{
	static const char *const name[] = { "fi_inject", "fi_send",
					    "fi_read" };
	unsigned n = 0;
	ssize_t rc;
	int ret;

	for (;;) {
		post_lock(f);
		rc = post_once(f, p);
		post_unlock(f);
		if (rc != -FI_EAGAIN)
			break;
		ret = post_backoff(f, &n, deadline);
		if (ret)
			return ret;
	}
	if (!rc)
		return 0;
	fab_warn(f, "%s(%zu bytes): %s", name[p->how], p->len,
		 fab_lib.strerror((int)-rc));
	return fab_errno((int)rc);
}

/* ------------------------------------------------------------------ */
/* operations: posted by callers, completed by the progress thread      */

static int op_init(struct fab_op *op, enum fab_kind kind)
{
	pthread_condattr_t ca;
	int ret;

	memset(op, 0, sizeof(*op));
	op->c.kind = kind;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	ret = -pthread_cond_init(&op->cond, &ca);
	pthread_condattr_destroy(&ca);
	return ret;
}

/*
 * Enter the transport for one operation: count the caller in and put @op
 * on f->pending. -ECANCELED once fab_close() has started.
 */
static int op_start(struct fab *f, struct fab_op *op)
{
	pthread_mutex_lock(&f->lock);
	if (atomic_load(&f->closing)) {
		pthread_mutex_unlock(&f->lock);
		return -ECANCELED;
	}
	f->users++;
	op->res = 0;
	op->done = false;
	op->abandoned = false;
	op->next = f->pending.next;
	op->prev = &f->pending;
	op->next->prev = op;
	f->pending.next = op;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static void op_unlink_locked(struct fab_op *op)
{
	op->prev->next = op->next;
	op->next->prev = op->prev;
	op->prev = op->next = NULL;
}

static void user_leave_locked(struct fab *f)
{
	if (--f->users == 0 && atomic_load(&f->closing))
		pthread_cond_broadcast(&f->idle);
}

/* The post failed: @op never reached the provider. */
static void op_unpost(struct fab *f, struct fab_op *op)
{
	pthread_mutex_lock(&f->lock);
	op_unlink_locked(op);
	user_leave_locked(f);
	pthread_mutex_unlock(&f->lock);
}

/*
 * Wait for @op's completion until @deadline. Returns its result, with
 * *owned true; or -ETIMEDOUT/-ECANCELED with *owned false: @op is abandoned
 * and no longer the caller's.
 */
static int op_wait(struct fab *f, struct fab_op *op, uint64_t deadline,
		   bool *owned)
{
	struct timespec ts;
	int ret;

	ts_of(deadline, &ts);
	pthread_mutex_lock(&f->lock);
	while (!op->done && !atomic_load(&f->closing)) {
		if (deadline == UINT64_MAX) {
			pthread_cond_wait(&op->cond, &f->lock);
			continue;
		}
		if (pthread_cond_timedwait(&op->cond, &f->lock, &ts) ==
		    ETIMEDOUT)
			break;
	}
	if (op->done) {
		op_unlink_locked(op);
		ret = op->res;
		*owned = true;
	} else {
		op->abandoned = true;
		ret = atomic_load(&f->closing) ? -ECANCELED : -ETIMEDOUT;
		*owned = false;
	}
	user_leave_locked(f);
	pthread_mutex_unlock(&f->lock);
	return ret;
}

static void msg_put(struct fab *f, struct fab_msg *m);

static void op_free(struct fab *f, struct fab_op *op)
{
	if (op->c.kind == FAB_SEND) {
		msg_put(f, container_of(op, struct fab_msg, op));
		return;
	}
	pthread_cond_destroy(&op->cond);
	free(op);
}

/* Progress thread: @op's completion arrived with @res. */
static void op_complete(struct fab *f, struct fab_op *op, int res)
{
	bool gone;

	pthread_mutex_lock(&f->lock);
	op->res = res;
	op->done = true;
	gone = op->abandoned;
	if (gone)
		op_unlink_locked(op);
	else
		pthread_cond_signal(&op->cond);
	if (gone && f->pending.next == &f->pending && atomic_load(&f->closing))
		pthread_cond_broadcast(&f->idle);
	pthread_mutex_unlock(&f->lock);
	if (gone)
		op_free(f, op);
}

/* ------------------------------------------------------------------ */
/* memory registration                                                  */

static int mr_reg(struct fab *f, void *buf, size_t len, uint64_t access,
		  struct fid_mr **out)
{
	uint64_t key = 0;
	int ret;

	if (!(f->mr_mode & FI_MR_PROV_KEY))
		key = atomic_fetch_add(&f->next_key, 1);
	ret = fi_mr_reg(f->domain, buf, len, access, 0, key, 0, out, NULL);
	if (ret)
		return fab_errno(ret);
	if (!(f->mr_mode & FI_MR_ENDPOINT))
		return 0;
	ret = fi_mr_bind(*out, &f->ep->fid, 0);
	if (!ret)
		ret = fi_mr_enable(*out);
	if (ret) {
		fi_close(&(*out)->fid);
		*out = NULL;
		return fab_errno(ret);
	}
	return 0;
}

int fab_mr_reg(struct fab *f, void *buf, size_t len, bool remote,
	       struct fab_mr **out)
{
	struct fab_mr *m;
	int ret;

	if (!buf || !len)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	ret = mr_reg(f, buf, len, remote ? FI_REMOTE_READ : FI_READ, &m->mr);
	if (ret)
		goto err_free;
	m->f = f;
	m->base = buf;
	m->len = len;
	*out = m;
	return 0;

err_free:
	free(m);
	return ret;
}

void fab_mr_close(struct fab_mr *mr)
{
	if (!mr)
		return;
	fi_close(&mr->mr->fid);
	free(mr);
}

uint64_t fab_mr_key(const struct fab_mr *mr)
{
	return fi_mr_key(mr->mr);
}

uint64_t fab_mr_raddr(const struct fab_mr *mr, const void *p)
{
	if (mr->f->mr_mode & FI_MR_VIRT_ADDR)
		return (uint64_t)(uintptr_t)p;
	return (uint64_t)((const char *)p - mr->base);
}

/* ------------------------------------------------------------------ */
/* message buffers                                                      */

static void msg_destroy(struct fab_msg *m)
{
	if (m->mr)
		fi_close(&m->mr->fid);
	pthread_cond_destroy(&m->op.cond);
	free(m);
}

void *fab_msg_alloc(struct fab *f, size_t len)
{
	bool small = len <= FAB_SMALL_MSG && f->max_msg > FAB_SMALL_MSG;
	size_t cap = small ? FAB_SMALL_MSG : f->max_msg;
	struct fab_msg *m;

	if (len > f->max_msg)
		return NULL;
	pthread_mutex_lock(&f->msg_lock);
	m = small ? f->free_small : f->free_large;
	if (m && small) {
		f->free_small = m->next_free;
		f->nfree_small--;
	} else if (m) {
		f->free_large = m->next_free;
		f->nfree_large--;
	}
	pthread_mutex_unlock(&f->msg_lock);
	if (m)
		return m->data;

	if (posix_memalign((void **)&m, 64, sizeof(*m) + cap))
		return NULL;
	if (op_init(&m->op, FAB_SEND))
		goto err_free;
	m->cap = cap;
	m->mr = NULL;
	m->desc = NULL;
	if (f->mr_mode & FI_MR_LOCAL) {
		if (mr_reg(f, m->data, cap, FI_SEND, &m->mr))
			goto err_destroy_cond;
		m->desc = fi_mr_desc(m->mr);
	}
	return m->data;

err_destroy_cond:
	pthread_cond_destroy(&m->op.cond);
err_free:
	free(m);
	return NULL;
}

/* Back to the cache of its size class, or freed if that is full. */
static void msg_put(struct fab *f, struct fab_msg *m)
{
	bool small = m->cap < f->max_msg;

	pthread_mutex_lock(&f->msg_lock);
	if (small && f->nfree_small < FAB_CACHE_SMALL) {
		m->next_free = f->free_small;
		f->free_small = m;
		f->nfree_small++;
		m = NULL;
	} else if (!small && f->nfree_large < FAB_CACHE_LARGE) {
		m->next_free = f->free_large;
		f->free_large = m;
		f->nfree_large++;
		m = NULL;
	}
	pthread_mutex_unlock(&f->msg_lock);
	if (m)
		msg_destroy(m);
}

void fab_msg_free(struct fab *f, void *buf)
{
	if (buf)
		msg_put(f, container_of(buf, struct fab_msg, data));
}

/* ------------------------------------------------------------------ */
/* sends and reads                                                      */

int fab_send(struct fab *f, uint64_t addr, void *buf, size_t len,
	     int timeout_ms)
{
	struct fab_msg *m = container_of(buf, struct fab_msg, data);
	uint64_t deadline = deadline_of(timeout_ms);
	bool inject = len <= f->inject_size;
	struct post p = { .how = inject ? POST_INJECT : POST_SEND,
			  .buf = m->data, .len = len, .desc = m->desc,
			  .addr = addr, .ctx = &m->op.c.fctx };
	bool owned;
	int ret;

	if (len > m->cap) {
		ret = -EMSGSIZE;
		goto out_put;
	}
	ret = op_start(f, &m->op);
	if (ret)
		goto out_put;
	ret = post_retry(f, &p, deadline);
	if (ret || inject) {
		/* not posted, or copied out by the provider: no completion */
		op_unpost(f, &m->op);
		if (ret)
			goto out_put;
		kick_progress(f);
		owned = true;
	} else {
		kick_progress(f);
		ret = op_wait(f, &m->op, deadline, &owned);
	}
	if (!ret) {
		atomic_fetch_add(&f->st.sends, 1);
		atomic_fetch_add(&f->st.bytes_sent, len);
	} else {
		atomic_fetch_add(&f->st.send_errors, 1);
	}
	if (owned)
		msg_put(f, m);
	return ret;

out_put:
	atomic_fetch_add(&f->st.send_errors, 1);
	msg_put(f, m);
	return ret;
}

int fab_read(struct fab *f, uint64_t addr, void *local, size_t len,
	     struct fab_mr *lmr, uint64_t raddr, uint64_t key, int timeout_ms)
{
	uint64_t deadline = deadline_of(timeout_ms);
	struct post p = { .how = POST_READ, .buf = local, .len = len,
			  .addr = addr, .raddr = raddr, .key = key };
	struct fab_op *op;
	bool owned;
	int ret;

	if (!lmr || (const char *)local < lmr->base ||
	    (const char *)local + len > lmr->base + lmr->len)
		return -EINVAL;
	p.desc = fi_mr_desc(lmr->mr);
	op = malloc(sizeof(*op));
	if (!op) {
		ret = -ENOMEM;
		goto out_count;
	}
	ret = op_init(op, FAB_READ);
	if (ret)
		goto out_free;
	ret = op_start(f, op);
	if (ret)
		goto out_destroy;
	p.ctx = &op->c.fctx;
	ret = post_retry(f, &p, deadline);
	if (ret) {
		op_unpost(f, op);
		goto out_destroy;
	}
	kick_progress(f);
	ret = op_wait(f, op, deadline, &owned);
	if (owned)
		op_free(f, op);
	if (ret)
		goto out_count;
	atomic_fetch_add(&f->st.reads, 1);
	atomic_fetch_add(&f->st.bytes_read, len);
	return 0;

out_destroy:
	pthread_cond_destroy(&op->cond);
out_free:
	free(op);
out_count:
	atomic_fetch_add(&f->st.read_errors, 1);
	return ret;
}

/* ------------------------------------------------------------------ */
/* receives                                                             */

/* Post @rx; if the provider is out of room, the progress thread retries. */
static void rx_post(struct fab *f, struct fab_rx *rx)
{
	ssize_t rc;

	post_lock(f);
	rc = fi_recv(f->ep, rx->data, f->max_msg, rx->desc, FI_ADDR_UNSPEC,
		     &rx->c.fctx);
	post_unlock(f);
	if (!rc)
		return;
	if (rc != -FI_EAGAIN)
		fab_warn(f, "fi_recv: %s", fab_lib.strerror((int)-rc));
	pthread_mutex_lock(&f->rx_lock);
	rx->next_backlog = f->rx_backlog;
	f->rx_backlog = rx;
	atomic_store(&f->rx_backlogged, true);
	pthread_mutex_unlock(&f->rx_lock);
}

static void rx_retry_backlog(struct fab *f)
{
	struct fab_rx *rx;

	pthread_mutex_lock(&f->rx_lock);
	rx = f->rx_backlog;
	f->rx_backlog = NULL;
	atomic_store(&f->rx_backlogged, false);
	pthread_mutex_unlock(&f->rx_lock);
	while (rx) {
		struct fab_rx *next = rx->next_backlog;

		rx_post(f, rx);
		rx = next;
	}
}

void fab_recv_done(struct fab *f, void *buf)
{
	if (buf)
		rx_post(f, container_of(buf, struct fab_rx, data));
}

/* ------------------------------------------------------------------ */
/* the progress thread                                                  */

static void on_completion(struct fab *f, void *context, size_t len)
{
	struct fab_ctx *c = context;
	struct fab_rx *rx;

	if (c->kind != FAB_RECV) {
		op_complete(f, (struct fab_op *)c, 0);
		return;
	}
	rx = (struct fab_rx *)c;
	atomic_fetch_add(&f->st.recvs, 1);
	atomic_fetch_add(&f->st.bytes_recv, len);
	if (!f->fn || !f->fn(f->fn_arg, rx->data, len))
		rx_post(f, rx);
}

static void on_error(struct fab *f)
{
	struct fi_cq_err_entry e = {0};
	char pbuf[128];
	ssize_t rc;

	post_lock(f);
	rc = fi_cq_readerr(f->cq, &e, 0);
	post_unlock(f);
	if (rc < 1)
		return;
	if (!e.op_context) {
		/* fi_inject() has no context to report a failure to */
		fab_warn(f, "a small send failed: %s",
			 fab_lib.strerror(e.err));
		return;
	}
	if (((struct fab_ctx *)e.op_context)->kind == FAB_RECV) {
		/* a message too large for max_msg, or the endpoint closing */
		if (e.err != FI_ECANCELED)
			fab_warn(f, "receive failed: %s", fab_lib.strerror(e.err));
		rx_post(f, e.op_context);
		return;
	}
	fab_warn(f, "%s failed: %s (%s)",
		 ((struct fab_ctx *)e.op_context)->kind == FAB_SEND ? "send"
								    : "read",
		 fab_lib.strerror(e.err),
		 fi_cq_strerror(f->cq, e.prov_errno, e.err_data, pbuf,
				sizeof(pbuf)));
	op_complete(f, e.op_context, fab_errno(e.err));
}

static void poll_sleep(struct fab *f, uint64_t ns)
{
	struct timespec ts;

	ts_of(now_ns() + ns, &ts);
	pthread_mutex_lock(&f->poll_lock);
	atomic_store(&f->poll_asleep, true);
	while (atomic_load(&f->poll_asleep) && !atomic_load(&f->stop))
		if (pthread_cond_timedwait(&f->poll_cond, &f->poll_lock, &ts) ==
		    ETIMEDOUT)
			break;
	atomic_store(&f->poll_asleep, false);
	pthread_mutex_unlock(&f->poll_lock);
}

static void *fab_progress(void *arg)
{
	struct fi_cq_data_entry ev[FAB_CQ_BATCH];
	struct fab *f = arg;
	unsigned empty = 0;
	uint64_t sleep = FAB_POLL_MIN_NS;
	ssize_t n, i;

	while (!atomic_load(&f->stop)) {
		if (f->wait) {
			n = fi_cq_sread(f->cq, ev, FAB_CQ_BATCH, NULL,
					FAB_SREAD_MS);
		} else {
			post_lock(f);
			n = fi_cq_read(f->cq, ev, FAB_CQ_BATCH);
			post_unlock(f);
		}
		if (n > 0) {
			for (i = 0; i < n; i++)
				on_completion(f, ev[i].op_context, ev[i].len);
			empty = 0;
			sleep = FAB_POLL_MIN_NS;
		} else if (n == -FI_EAVAIL) {
			on_error(f);
		} else if (n != -FI_EAGAIN && n != -FI_ECANCELED &&
			   n != -FI_EINTR) {
			fab_warn(f, "fi_cq_read: %s", fab_lib.strerror((int)-n));
			sleep_ns(FAB_POLL_MAX_NS);
		} else if (!f->wait && ++empty > FAB_POLL_SPINS) {
			poll_sleep(f, sleep);
			sleep = sleep * 2 > FAB_POLL_MAX_NS ? FAB_POLL_MAX_NS
							    : sleep * 2;
		}
		if (atomic_load(&f->rx_backlogged))
			rx_retry_backlog(f);
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* peers                                                                */

static struct fi_info *peer_hints(const struct fab *f)
{
	struct fi_info *h = fab_lib.dupinfo(NULL);

	if (!h)
		return NULL;
	h->caps = f->info->caps;
	h->mode = f->info->mode;
	h->addr_format = f->info->addr_format;
	h->ep_attr->type = FI_EP_RDM;
	h->domain_attr->mr_mode = f->info->domain_attr->mr_mode;
	h->fabric_attr->prov_name = strdup(f->info->fabric_attr->prov_name);
	if (!h->fabric_attr->prov_name) {
		fab_lib.freeinfo(h);
		return NULL;
	}
	return h;
}

static bool peer_find_locked(struct fab *f, const char *host, const char *port,
			     uint64_t *addr)
{
	size_t i;

	for (i = 0; i < f->npeers; i++) {
		if (!strcmp(f->peers[i].host, host) &&
		    !strcmp(f->peers[i].port, port)) {
			*addr = f->peers[i].addr;
			return true;
		}
	}
	return false;
}

static int peer_add_locked(struct fab *f, const char *host, const char *port,
			   fi_addr_t fa)
{
	struct fab_peer_ent *p;

	if (f->npeers == f->peers_cap) {
		size_t cap = f->peers_cap ? f->peers_cap * 2 : 16;

		p = realloc(f->peers, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		f->peers = p;
		f->peers_cap = cap;
	}
	p = &f->peers[f->npeers];
	p->host = strdup(host);
	p->port = strdup(port);
	if (!p->host || !p->port) {
		free(p->host);
		free(p->port);
		return -ENOMEM;
	}
	p->addr = fa;
	f->npeers++;
	return 0;
}

int fab_peer(struct fab *f, const char *host, const char *port, uint64_t *addr)
{
	struct fi_info *hints, *info = NULL;
	fi_addr_t fa = FI_ADDR_NOTAVAIL;
	bool found;
	int ret;

	pthread_mutex_lock(&f->peer_lock);
	found = peer_find_locked(f, host, port, addr);
	pthread_mutex_unlock(&f->peer_lock);
	if (found)
		return 0;

	/* resolve without the lock: fi_getinfo() may ask a name service */
	hints = peer_hints(f);
	if (!hints)
		return -ENOMEM;
	ret = fab_lib.getinfo(FAB_FI_VERSION, host, port, 0, hints, &info);
	fab_lib.freeinfo(hints);
	if (ret)
		return fab_errno(ret);
	if (!info->dest_addr) {
		ret = -EADDRNOTAVAIL;
		goto out_free_info;
	}
	ret = fi_av_insert(f->av, info->dest_addr, 1, &fa, 0, NULL);
	if (ret != 1) {
		ret = ret < 0 ? fab_errno(ret) : -EADDRNOTAVAIL;
		goto out_free_info;
	}

	pthread_mutex_lock(&f->peer_lock);
	if (peer_find_locked(f, host, port, addr)) {
		/* another thread got there first: keep its handle */
		pthread_mutex_unlock(&f->peer_lock);
		if (*addr != fa)
			fi_av_remove(f->av, &fa, 1, 0);
		ret = 0;
		goto out_free_info;
	}
	ret = peer_add_locked(f, host, port, fa);
	pthread_mutex_unlock(&f->peer_lock);
	if (ret) {
		fi_av_remove(f->av, &fa, 1, 0);
		goto out_free_info;
	}
	*addr = fa;

out_free_info:
	fab_lib.freeinfo(info);
	return ret;
}

/* ------------------------------------------------------------------ */
/* open and close                                                       */

static int get_info(const struct fab_opts *o, struct fi_info **out)
{
	struct fi_info *hints = fab_lib.dupinfo(NULL);
	int ret;

	if (!hints)
		return -ENOMEM;
	hints->caps = FI_MSG | FI_RMA | FI_READ | FI_REMOTE_READ;
	hints->mode = FI_CONTEXT | FI_CONTEXT2;
	hints->ep_attr->type = FI_EP_RDM;
	hints->domain_attr->mr_mode = FAB_MR_MODES;
	hints->domain_attr->threading = FI_THREAD_SAFE;
	hints->fabric_attr->prov_name = strdup(o->provider);
	if (!hints->fabric_attr->prov_name) {
		fab_lib.freeinfo(hints);
		return -ENOMEM;
	}
	ret = fab_lib.getinfo(FAB_FI_VERSION, o->host, o->port, FI_SOURCE, hints,
			      out);
	if (ret == -FI_ENODATA) {
		/* not thread-safe: serialise the data path ourselves */
		hints->domain_attr->threading = FI_THREAD_DOMAIN;
		ret = fab_lib.getinfo(FAB_FI_VERSION, o->host, o->port, FI_SOURCE,
				 hints, out);
	}
	fab_lib.freeinfo(hints);
	return ret;
}

static int open_cq(struct fab *f, enum fab_progress progress)
{
	struct fi_cq_attr attr = {
	    .format = FI_CQ_FORMAT_DATA,
	    .size = 0,
	    .wait_obj = FI_WAIT_UNSPEC,
	};
	int ret = -FI_ENOSYS;

	if (progress != FAB_PROGRESS_POLL && f->thread_safe) {
		ret = fi_cq_open(f->domain, &attr, &f->cq, NULL);
		if (!ret)
			f->wait = true;
		else if (progress == FAB_PROGRESS_WAIT)
			return ret;
	} else if (progress == FAB_PROGRESS_WAIT) {
		return -FI_ENOSYS;
	}
	if (ret) {
		attr.wait_obj = FI_WAIT_NONE;
		ret = fi_cq_open(f->domain, &attr, &f->cq, NULL);
	}
	return ret;
}

static int open_rx(struct fab *f, unsigned n)
{
	struct fab_rx *rx;
	unsigned i;
	int ret;

	f->rx = calloc(n, sizeof(*f->rx));
	if (!f->rx)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (posix_memalign((void **)&rx, 64, sizeof(*rx) + f->max_msg))
			return -ENOMEM;
		memset(rx, 0, sizeof(*rx));
		rx->c.kind = FAB_RECV;
		f->rx[f->nrx++] = rx;
		if (f->mr_mode & FI_MR_LOCAL) {
			ret = mr_reg(f, rx->data, f->max_msg, FI_RECV, &rx->mr);
			if (ret)
				return ret;
			rx->desc = fi_mr_desc(rx->mr);
		}
	}
	return 0;
}

static void free_rx(struct fab *f)
{
	unsigned i;

	for (i = 0; i < f->nrx; i++) {
		if (f->rx[i]->mr)
			fi_close(&f->rx[i]->mr->fid);
		free(f->rx[i]);
	}
	free(f->rx);
	f->rx = NULL;
	f->nrx = 0;
}

static void free_msg_cache(struct fab *f)
{
	struct fab_msg *m;

	while ((m = f->free_small)) {
		f->free_small = m->next_free;
		msg_destroy(m);
	}
	while ((m = f->free_large)) {
		f->free_large = m->next_free;
		msg_destroy(m);
	}
	f->nfree_small = f->nfree_large = 0;
}

static void close_fid(struct fab *f, struct fid *fid, const char *what)
{
	int ret;

	if (!fid)
		return;
	ret = fi_close(fid);
	if (ret)
		fprintf(stderr, "canopy: fabric: closing the %s: %s\n", what,
			fab_lib.strerror(-ret));
}

/* The libfabric objects, in reverse order of opening. */
static void close_objects(struct fab *f)
{
	close_fid(f, f->ep ? &f->ep->fid : NULL, "endpoint");
	f->ep = NULL;
	free_rx(f);
	free_msg_cache(f);
	close_fid(f, f->av ? &f->av->fid : NULL, "address vector");
	close_fid(f, f->cq ? &f->cq->fid : NULL, "completion queue");
	close_fid(f, f->domain ? &f->domain->fid : NULL, "domain");
	close_fid(f, f->fabric ? &f->fabric->fid : NULL, "fabric");
	if (f->info)
		fab_lib.freeinfo(f->info);
}

static void destroy_locks(struct fab *f)
{
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->idle);
	pthread_mutex_destroy(&f->msg_lock);
	pthread_mutex_destroy(&f->rx_lock);
	pthread_mutex_destroy(&f->peer_lock);
	pthread_mutex_destroy(&f->post_lock);
	pthread_mutex_destroy(&f->poll_lock);
	pthread_cond_destroy(&f->poll_cond);
}

static int init_locks(struct fab *f)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&f->lock, NULL);
	pthread_mutex_init(&f->msg_lock, NULL);
	pthread_mutex_init(&f->rx_lock, NULL);
	pthread_mutex_init(&f->peer_lock, NULL);
	pthread_mutex_init(&f->post_lock, NULL);
	pthread_mutex_init(&f->poll_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->idle, &ca);
	pthread_cond_init(&f->poll_cond, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

static int open_objects(struct fab *f, const struct fab_opts *o,
			const char **what)
{
	struct fi_av_attr av = {0};
	int ret;

	*what = "fi_fabric";
	ret = fab_lib.fabric(f->info->fabric_attr, &f->fabric, NULL);
	if (ret)
		return ret;
	*what = "fi_domain";
	ret = fi_domain(f->fabric, f->info, &f->domain, NULL);
	if (ret)
		return ret;
	*what = "fi_cq_open";
	ret = open_cq(f, o->progress);
	if (ret)
		return ret;
	*what = "fi_av_open";
	av.type = f->info->domain_attr->av_type == FI_AV_MAP ? FI_AV_MAP
							     : FI_AV_TABLE;
	ret = fi_av_open(f->domain, &av, &f->av, NULL);
	if (ret)
		return ret;
	*what = "fi_endpoint";
	ret = fi_endpoint(f->domain, f->info, &f->ep, NULL);
	if (ret)
		return ret;
	*what = "fi_ep_bind";
	ret = fi_ep_bind(f->ep, &f->cq->fid, FI_TRANSMIT | FI_RECV);
	if (!ret)
		ret = fi_ep_bind(f->ep, &f->av->fid, 0);
	if (ret)
		return ret;
	*what = "fi_enable";
	ret = fi_enable(f->ep);
	if (ret)
		return ret;
	*what = "receive buffers";
	return open_rx(f, o->nrecv);
}

int fab_open(const struct fab_opts *o, fab_recv_fn fn, void *arg,
	     struct fab **out, char *err, size_t errlen)
{
	const char *what = "fi_getinfo";
	struct fab *f;
	unsigned i;
	int ret;

	if (errlen)
		err[0] = '\0';
	if (!o->provider || !o->host || !o->port || !o->max_msg || !o->nrecv) {
		snprintf(err, errlen,
			 "fabric: provider, host, port, max_msg "
			 "and nrecv are required");
		return -EINVAL;
	}
	ret = fab_lib_load(err, errlen);
	if (ret)
		return ret;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	init_locks(f);
	f->pending.next = f->pending.prev = &f->pending;
	f->fn = fn;
	f->fn_arg = arg;
	f->max_msg = o->max_msg;
	atomic_init(&f->next_key, 1);

	ret = get_info(o, &f->info);
	if (ret)
		goto err_report;
	f->thread_safe = f->info->domain_attr->threading == FI_THREAD_SAFE;
	f->mr_mode = f->info->domain_attr->mr_mode;
	f->inject_size = f->info->tx_attr->inject_size;
	if (f->info->ep_attr->max_msg_size < o->max_msg) {
		ret = -FI_EMSGSIZE;
		goto err_report;
	}
	ret = open_objects(f, o, &what);
	if (ret)
		goto err_report;
	for (i = 0; i < f->nrx; i++)
		rx_post(f, f->rx[i]);
	what = "pthread_create";
	ret = -pthread_create(&f->thread, NULL, fab_progress, f);
	if (ret)
		goto err_report;
	*out = f;
	return 0;

err_report:
	snprintf(err, errlen, "%s(%s, %s:%s): %s", what, o->provider, o->host,
		 o->port, fab_lib.strerror(-ret));
	close_objects(f);
	destroy_locks(f);
	free(f);
	return fab_errno(ret);
}

void fab_close(struct fab *f)
{
	struct fab_op *op, *next;
	struct timespec ts;
	size_t i;

	if (!f)
		return;

	/* fail the waiters and let them leave */
	pthread_mutex_lock(&f->lock);
	atomic_store(&f->closing, true);
	for (op = f->pending.next; op != &f->pending; op = op->next)
		pthread_cond_broadcast(&op->cond);
	while (f->users)
		pthread_cond_wait(&f->idle, &f->lock);
	/*
	 * Give operations still in flight a moment to complete: a provider
	 * may keep resources of those it never completes (tcp;ofi_rxm leaves
	 * the domain busy with a rendezvous send or read in flight).
	 */
	ts_of(now_ns() + FAB_CLOSE_GRACE_NS, &ts);
	while (f->pending.next != &f->pending)
		if (pthread_cond_timedwait(&f->idle, &f->lock, &ts) ==
		    ETIMEDOUT)
			break;
	pthread_mutex_unlock(&f->lock);

	/* no more callbacks, no more CQ reads */
	atomic_store(&f->stop, true);
	if (f->wait)
		fi_cq_signal(f->cq);
	kick_progress(f);
	pthread_join(f->thread, NULL);

	/* the provider lets go of every buffer... */
	close_fid(f, &f->ep->fid, "endpoint");
	f->ep = NULL;

	/* ...so what it still held can go: everything left is abandoned */
	for (op = f->pending.next; op != &f->pending; op = next) {
		next = op->next;
		op_free(f, op);
	}
	f->pending.next = f->pending.prev = &f->pending;

	close_objects(f);
	for (i = 0; i < f->npeers; i++) {
		free(f->peers[i].host);
		free(f->peers[i].port);
	}
	free(f->peers);
	destroy_locks(f);
	free(f);
}

const char *fab_provider(const struct fab *f)
{
	return f->info->fabric_attr->prov_name;
}

void fab_get_stats(const struct fab *f, struct fab_stats *s)
{
	s->sends = atomic_load(&f->st.sends);
	s->send_errors = atomic_load(&f->st.send_errors);
	s->recvs = atomic_load(&f->st.recvs);
	s->reads = atomic_load(&f->st.reads);
	s->read_errors = atomic_load(&f->st.read_errors);
	s->bytes_sent = atomic_load(&f->st.bytes_sent);
	s->bytes_recv = atomic_load(&f->st.bytes_recv);
	s->bytes_read = atomic_load(&f->st.bytes_read);
}
