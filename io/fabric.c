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
 *
 * Files: this one holds the data path (posting, operations, memory
 * registration, message buffers, sends, reads, receives) and the progress
 * thread; io/fabric_setup.c the peers (fab_peer()), set-up and tear-down
 * (fab_open(), fab_close()); io/fabric_i.h the structures both share.
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
#include "fabric_i.h"
#include "fabric_lib.h"

#define FAB_CQ_BATCH 16
#define FAB_SREAD_MS 200	  /* wait-object sleep; fab_close() signals */
#define FAB_POLL_MIN_NS 50000	  /* poll mode: first sleep when idle */
#define FAB_POLL_MAX_NS 1000000	  /* poll mode: longest sleep */
#define FAB_POLL_SPINS 64	  /* empty polls before sleeping */
#define FAB_SMALL_MSG 65536	  /* message buffer size classes: small... */
#define FAB_CACHE_SMALL 64	  /* ...cached up to this many */
#define FAB_CACHE_LARGE 8	  /* max_msg buffers cached */
#define FAB_WARN_NS 1000000000ULL /* at most one warning a second */

/* container_of() comes from rdma/fabric.h */

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
int fab_errno(int fierr)
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

void fab_op_free(struct fab *f, struct fab_op *op)
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
		fab_op_free(f, op);
}

/* ------------------------------------------------------------------ */
/* memory registration                                                  */

int fab_mr_reg_fid(struct fab *f, void *buf, size_t len, uint64_t access,
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
	ret = fab_mr_reg_fid(f, buf, len, remote ? FI_REMOTE_READ : FI_READ,
			     &m->mr);
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

void fab_msg_destroy(struct fab_msg *m)
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
		if (fab_mr_reg_fid(f, m->data, cap, FI_SEND, &m->mr))
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
		fab_msg_destroy(m);
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
		fab_op_free(f, op);
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
void fab_rx_post(struct fab *f, struct fab_rx *rx)
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

		fab_rx_post(f, rx);
		rx = next;
	}
}

void fab_recv_done(struct fab *f, void *buf)
{
	if (buf)
		fab_rx_post(f, container_of(buf, struct fab_rx, data));
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
		fab_rx_post(f, rx);
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
			fab_warn(f, "receive failed: %s",
				 fab_lib.strerror(e.err));
		fab_rx_post(f, e.op_context);
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

void *fab_progress(void *arg)
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
			fab_warn(f, "fi_cq_read: %s",
				 fab_lib.strerror((int)-n));
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

