// SPDX-License-Identifier: MIT
/*
 * daemon/chan_uring.c - FUSE-over-io_uring: requests in ring entries.
 *
 * DESIGN: the kernel keeps one queue per possible cpu and puts a request on
 * the queue of the cpu its caller runs on. canopyd serves queue q with one
 * thread pinned to cpu q, so a synchronous request (OPEN, LOOKUP, ...) is
 * answered on the cpu of the process waiting for it, with no cross-cpu
 * wake-up: that is most of a FUSE round trip on a small machine.
 *
 * Each queue has fuse.uring_entries entries, shared out among
 * fuse.uring_threads threads (struct fring: one thread, its ring and its
 * entries). A thread serves a request that waits on the backing store
 * inline, and the kernel may hand a later request of that cpu to one of
 * its free entries, where it waits too; with one entry per thread, a
 * blocked thread holds only its own request. An entry is a header buffer
 * (struct fuse_uring_req_header: the in/out header, the opcode's fixed
 * part, and the payload size) and a payload buffer of max_read bytes. It is
 * registered once (FUSE_IO_URING_CMD_REGISTER); the kernel completes the
 * command when it puts a request in the entry; the reply goes back in the
 * same buffers with FUSE_IO_URING_CMD_COMMIT_AND_FETCH, which also offers
 * the entry for the next request. The request is rebuilt contiguously and
 * goes through ops_dispatch_ent(), with every check a /dev/fuse request
 * gets.
 *
 * A request that parks (a fetch in flight) may be answered later by any
 * thread. Only the queue's thread submits on its ring, so another thread
 * hands the entry over: on the queue's commit list, then a write to the
 * queue's eventfd, whose read is always pending on the ring.
 *
 * What stays on /dev/fuse: requests before every queue is registered,
 * FORGET and INTERRUPT (the kernel never puts those in a ring), and
 * notifications. The classic workers keep serving it.
 *
 * Shutdown: when the connection ends, the kernel completes every
 * registered entry with an error; a queue's thread ends when none is left.
 * chan_uring_join() ends the rest by its deadline, when entries are still
 * held by requests that never finish.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "canopyd_i.h"
#include "io.h"

/* user_data of the eventfd read; entries use their index */
#define TAG_WAKE UINT64_MAX

struct ring_ent {
	struct fring *q;
	unsigned idx;
	struct fuse_uring_req_header *hdr;
	char *payload;
	size_t payload_len;
	struct iovec iov[2];   /* what REGISTER hands the kernel */
	uint64_t unique;       /* of the request it holds */
	struct ring_ent *next; /* on a commit list */
};

struct fring {
	struct canopy *cp;
	struct worker w;        /* buffers, local ring, a /dev/fuse clone */
	unsigned qid;
	pthread_t tid;
	bool started;
	struct uring_cmdq *cq;
	struct ring_ent *ents;
	unsigned nents;
	unsigned live;          /* entries the kernel holds or we serve */
	char *hdrs;             /* all entries' header buffers */
	char *payloads;         /* all entries' payload buffers */
	size_t payload_len;
	char *reqbuf;           /* a request rebuilt contiguously */
	size_t reqbuf_len;
	int efd;                /* other threads' commits wake us */
	uint64_t wake_val;
	struct ring_ent *local; /* commits of this thread, to queue */
	pthread_mutex_t lock;
	struct ring_ent *remote; /* commits handed over; under lock */
	atomic_bool quit;
	int err;                /* registration outcome, for the starter */
	bool registered;
	pthread_mutex_t *start_lock; /* cp->lock, with start_cond */
	pthread_cond_t *start_cond;
};

/* ---- replies ------------------------------------------------------------ */

static void ent_commit(struct worker *w, struct ring_ent *e)
{
	struct fring *q = e->q;
	bool wake;

	if (w == &q->w) {
		e->next = q->local;
		q->local = e;
		return;
	}
	STAT_INC(uring_handoffs);
	pthread_mutex_lock(&q->lock);
	wake = !q->remote;
	e->next = q->remote;
	q->remote = e;
	pthread_mutex_unlock(&q->lock);
	if (wake) {
		uint64_t one = 1;

		if (write(q->efd, &one, sizeof(one)) != sizeof(one))
			log_warn_rl("queue %u: eventfd: %s", q->qid,
				    strerror(errno));
	}
}

static void ent_set_out(struct req *r, struct ring_ent *e, size_t len,
			int err)
{
	struct fuse_out_header *oh = (struct fuse_out_header *)e->hdr->in_out;

	oh->len = sizeof(*oh) + len;
	oh->error = err;
	oh->unique = r->unique;
	memset(&e->hdr->ring_ent_in_out, 0, sizeof(e->hdr->ring_ent_in_out));
	e->hdr->ring_ent_in_out.commit_id = r->unique;
	e->hdr->ring_ent_in_out.payload_sz = (uint32_t)len;
	stats_request_done(r->opcode, now_ns() - r->t0, err);
	chan_order_release();
	ent_commit(r->w, e);
}

int ring_reply(struct req *r, const struct iovec *iov, int cnt, int err)
{
	struct ring_ent *e = r->ent;
	size_t len = 0;
	int i;

	for (i = 1; i < cnt && !err; i++) {
		if (iov[i].iov_len > e->payload_len - len) {
			log_warn_rl("reply to %s: %zu bytes do not fit the "
				    "ring entry", stats_opname(r->opcode),
				    len + iov[i].iov_len);
			len = 0;
			err = -EIO;
			break;
		}
		memcpy(e->payload + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	ent_set_out(r, e, err ? 0 : len, err);
	return 0;
}

int ring_reply_fd(struct req *r, int fd, uint64_t off, size_t len)
{
	struct ring_ent *e = r->ent;
	size_t done = 0;

	if (len > e->payload_len)
		len = e->payload_len;
	while (done < len) {
		ssize_t n = pread(fd, e->payload + done, len - done,
				  off + done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;

			ent_set_out(r, e, 0, err);
			return err;
		}
		if (n == 0)
			break;
		done += n;
	}
	STAT_INC(reply_copies);
	ent_set_out(r, e, done, 0);
	return 0;
}

/* ---- the queue's thread ------------------------------------------------- */

static int queue_commit(struct fring *q, struct ring_ent *e)
{
	struct fuse_uring_cmd_req c = { .commit_id = e->unique,
					.qid = (uint16_t)q->qid };

	return uring_cmdq_cmd(q->cq, q->w.fd, FUSE_IO_URING_CMD_COMMIT_AND_FETCH,
			      &c, sizeof(c), NULL, 0, e->idx);
}

static void queue_flush(struct fring *q)
{
	struct ring_ent *e;

	while ((e = q->local)) {
		q->local = e->next;
		e->next = NULL;
		if (queue_commit(q, e)) {
			log_err("queue %u: cannot queue a commit", q->qid);
			q->live--;
		}
	}
}

static void queue_take_remote(struct fring *q)
{
	struct ring_ent *list, *next;

	pthread_mutex_lock(&q->lock);
	list = q->remote;
	q->remote = NULL;
	pthread_mutex_unlock(&q->lock);
	for (; list; list = next) {
		next = list->next;
		list->next = q->local;
		q->local = list;
	}
}

ssize_t ring_req_fixed(uint32_t len, uint32_t psz, size_t payload_len,
		       size_t buf_len)
{
	const size_t hdr = sizeof(struct fuse_in_header);
	size_t fixed;

	if (len < hdr || psz > payload_len || psz > len - hdr)
		return -EINVAL;
	fixed = len - hdr - psz;
	if (fixed > FUSE_URING_OP_IN_OUT_SZ || hdr + fixed + psz > buf_len)
		return -EINVAL;
	return (ssize_t)fixed;
}

/*
 * Rebuild the request of @e as /dev/fuse would have delivered it: header,
 * the opcode's fixed part (whatever the header's length leaves after the
 * payload), then the payload.
 */
static void queue_serve(struct fring *q, struct ring_ent *e)
{
	const struct fuse_in_header *ih = (const void *)e->hdr->in_out;
	uint32_t psz = e->hdr->ring_ent_in_out.payload_sz;
	ssize_t fixed = ring_req_fixed(ih->len, psz, e->payload_len,
				       q->reqbuf_len);
	struct req r;

	e->unique = ih->unique;
	if (fixed < 0) {
		STAT_INC(malformed);
		log_warn_rl("queue %u: ring request of opcode %u, length %u, "
			    "payload %u: inconsistent", q->qid, ih->opcode,
			    ih->len, psz);
		memset(&r, 0, sizeof(r));
		r.w = &q->w;
		r.ent = e;
		r.unique = ih->unique;
		r.opcode = ih->opcode;
		r.t0 = now_ns();
		ent_set_out(&r, e, 0, -EINVAL);
		return;
	}
	STAT_INC(uring_requests);
	memcpy(q->reqbuf, ih, sizeof(*ih));
	memcpy(q->reqbuf + sizeof(*ih), e->hdr->op_in, fixed);
	memcpy(q->reqbuf + sizeof(*ih) + fixed, e->payload, psz);
	ops_dispatch_ent(&q->w, e, q->reqbuf, ih->len);
}

/*
 * Pin the thread to its queue's cpu. SCHED_BATCH (fuse.uring_batch): a
 * request the caller does not wait for (RELEASE, readahead) then does not
 * preempt the caller; it is served when the caller next blocks, often in
 * the same wake-up as its next OPEN. That is two context switches fewer
 * per open+close; the price is that a request does not preempt another
 * busy task on that cpu either.
 */
static void queue_thread_setup(struct fring *q)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(q->qid, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		log_debug("queue %u: cannot pin to its cpu", q->qid);
	if (q->cp->conf->uring_batch) {
		struct sched_param sp = { 0 };

		if (sched_setscheduler(0, SCHED_BATCH, &sp))
			log_debug("queue %u: SCHED_BATCH: %s", q->qid,
				  strerror(errno));
	}
}

static int queue_register(struct fring *q)
{
	struct fuse_uring_cmd_req c = { .qid = (uint16_t)q->qid };
	struct uring_done done[64];
	unsigned i;
	int n, ret;

	ret = uring_cmdq_read(q->cq, q->efd, &q->wake_val,
			      sizeof(q->wake_val), TAG_WAKE);
	if (ret)
		return ret;
	for (i = 0; i < q->nents; i++) {
		ret = uring_cmdq_cmd(q->cq, q->w.fd, FUSE_IO_URING_CMD_REGISTER,
				     &c, sizeof(c), q->ents[i].iov, 2, i);
		if (ret)
			return ret;
	}
	ret = uring_cmdq_submit(q->cq);
	if (ret)
		return ret;
	q->live = q->nents;
	/* a refused registration completes at once; a good one waits */
	n = uring_cmdq_poll(q->cq, done, 64);
	for (i = 0; i < (unsigned)(n > 0 ? n : 0); i++) {
		if (done[i].tag == TAG_WAKE || done[i].res >= 0)
			continue; /* nothing can be woken yet */
		q->live--;
		ret = done[i].res;
	}
	return q->live ? 0 : (ret ? ret : -EIO);
}

static void queue_started(struct fring *q, int err)
{
	pthread_mutex_lock(q->start_lock);
	q->err = err;
	q->registered = true;
	pthread_cond_broadcast(q->start_cond);
	pthread_mutex_unlock(q->start_lock);
}

static void *queue_main(void *arg)
{
	struct fring *q = arg;
	struct uring_done done[32];
	int ret, n, i;

	queue_thread_setup(q);
	/* the thread that submits must be the one that made the ring */
	ret = uring_cmdq_new(2 * q->nents + 4, &q->cq);
	if (!ret)
		ret = queue_register(q);
	queue_started(q, ret);
	if (ret) {
		atomic_fetch_sub(&q->cp->rings_live, 1);
		return NULL;
	}
	while (q->live && !atomic_load(&q->quit)) {
		n = uring_cmdq_wait(q->cq, done, 32);
		if (n == -EINTR)
			continue;
		if (n < 0) {
			log_err("queue %u: io_uring: %s", q->qid,
				strerror(-n));
			break;
		}
		for (i = 0; i < n; i++) {
			if (done[i].tag == TAG_WAKE) {
				queue_take_remote(q);
				if (done[i].res < 0 ||
				    uring_cmdq_read(q->cq, q->efd, &q->wake_val,
						    sizeof(q->wake_val),
						    TAG_WAKE))
					log_warn_rl("queue %u: wake-up read: "
						    "%s", q->qid,
						    strerror(-done[i].res));
				continue;
			}
			if (done[i].tag >= q->nents)
				continue;
			if (done[i].res < 0) {
				/* the connection ended (or refused us) */
				if (done[i].res != -ENOTCONN &&
				    done[i].res != -ECANCELED)
					log_warn_rl("queue %u: entry %u: %s",
						    q->qid,
						    (unsigned)done[i].tag,
						    strerror(-done[i].res));
				q->live--;
				continue;
			}
			queue_serve(q, &q->ents[done[i].tag]);
			worker_run_ready(&q->w);
		}
		queue_flush(q);
	}
	worker_run_ready(&q->w);
	atomic_fetch_sub(&q->cp->rings_live, 1);
	return NULL;
}

/* ---- set-up ------------------------------------------------------------- */

/* Queues the kernel keeps: one per possible cpu. */
static unsigned possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	unsigned a, b, max = 0;
	int c;

	if (!f)
		return (unsigned)sysconf(_SC_NPROCESSORS_CONF);
	/* "0-3" or "0,2-5" */
	while (fscanf(f, "%u", &a) == 1) {
		b = a;
		c = fgetc(f);
		if (c == '-' && fscanf(f, "%u", &b) == 1)
			c = fgetc(f);
		if (b + 1 > max)
			max = b + 1;
		if (c != ',')
			break;
	}
	fclose(f);
	return max ? max : 1;
}

static int queue_setup(struct canopy *cp, struct fring *q, unsigned qid,
		       unsigned nents, unsigned idx)
{
	size_t hsz = (sizeof(struct fuse_uring_req_header) + 63) & ~63UL;
	unsigned i;
	int ret;

	q->cp = cp;
	q->qid = qid;
	q->efd = -1;
	q->nents = nents;
	pthread_mutex_init(&q->lock, NULL);
	ret = worker_setup_aux(cp, &q->w);
	if (ret)
		return ret;
	q->w.idx = cp->nworkers + idx;
	q->w.fd = chan_clone_fd(cp->fd);
	if (q->w.fd < 0)
		return q->w.fd;
	q->efd = eventfd(0, EFD_CLOEXEC);
	if (q->efd < 0)
		return -errno;
	/* what the kernel requires: max_pages of payload, at least 8 KiB */
	q->payload_len = (size_t)cp->neg.max_pages * PAGE;
	if (q->payload_len < 2 * PAGE)
		q->payload_len = 2 * PAGE;
	q->reqbuf_len = sizeof(struct fuse_in_header) +
			FUSE_URING_OP_IN_OUT_SZ + q->payload_len;
	q->ents = calloc(q->nents, sizeof(*q->ents));
	q->hdrs = calloc(q->nents, hsz);
	q->reqbuf = malloc(q->reqbuf_len);
	/* touched only as large replies need them */
	q->payloads = mmap(NULL, q->nents * q->payload_len,
			   PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (q->payloads == MAP_FAILED)
		q->payloads = NULL;
	if (!q->ents || !q->hdrs || !q->reqbuf || !q->payloads)
		return -ENOMEM;
	for (i = 0; i < q->nents; i++) {
		struct ring_ent *e = &q->ents[i];

		e->q = q;
		e->idx = i;
		e->hdr = (void *)(q->hdrs + i * hsz);
		e->payload = q->payloads + i * q->payload_len;
		e->payload_len = q->payload_len;
		e->iov[0].iov_base = e->hdr;
		e->iov[0].iov_len = sizeof(*e->hdr);
		e->iov[1].iov_base = e->payload;
		e->iov[1].iov_len = e->payload_len;
	}
	return 0;
}

static void queue_teardown(struct fring *q)
{
	uring_cmdq_free(q->cq);
	q->cq = NULL;
	if (q->payloads)
		munmap(q->payloads, q->nents * q->payload_len);
	free(q->hdrs);
	free(q->ents);
	free(q->reqbuf);
	if (q->efd >= 0)
		close(q->efd);
	worker_teardown(&q->w);
	pthread_mutex_destroy(&q->lock);
}

/*
 * The kernel holds requests until every queue has an entry. A registration
 * it refuses turns io_uring off for the connection; send one on purpose
 * (an entry without its buffers) when a queue cannot be set up, so that
 * the connection goes on over /dev/fuse.
 */
static void uring_refuse(struct canopy *cp)
{
	struct fuse_uring_cmd_req c = { .qid = 0 };
	struct uring_done d;
	struct uring_cmdq *cq;

	if (uring_cmdq_new(4, &cq))
		return;
	if (!uring_cmdq_cmd(cq, cp->fd, FUSE_IO_URING_CMD_REGISTER, &c,
			    sizeof(c), NULL, 0, 0))
		uring_cmdq_wait(cq, &d, 1);
	uring_cmdq_free(cq);
}

static void uring_give_up(struct canopy *cp, int err)
{
	snprintf(cp->uring_why, sizeof(cp->uring_why),
		 "queue set-up failed: %s", strerror(-err));
	log_warn("FUSE over io_uring: %s; serving over /dev/fuse",
		 cp->uring_why);
	uring_refuse(cp);
	cp->neg.uring = false;
}

/* Threads per queue: fuse.uring_threads, each with one entry at least. */
unsigned chan_uring_threads(const struct conf *c)
{
	return c->uring_threads < c->uring_entries ? c->uring_threads
						   : c->uring_entries;
}

unsigned chan_uring_start(struct canopy *cp)
{
	unsigned nq = possible_cpus(), k = chan_uring_threads(cp->conf);
	unsigned e = cp->conf->uring_entries, n = nq * k, i, ok = 0;
	int err = 0;

	if (!cp->neg.uring)
		return 0;
	cp->rings = calloc(n, sizeof(*cp->rings));
	if (!cp->rings) {
		err = -ENOMEM;
		goto fail;
	}
	cp->nrings = n;
	for (i = 0; i < n; i++) {
		struct fring *q = &cp->rings[i];

		q->start_lock = &cp->lock;
		q->start_cond = &cp->cond;
		/* thread i % k of queue i / k: e / k entries, one more for
		 * the first e % k */
		err = queue_setup(cp, q, i / k, e / k + (i % k < e % k), i);
		if (err)
			goto fail;
	}
	atomic_store(&cp->rings_live, n);
	for (i = 0; i < n; i++) {
		struct fring *q = &cp->rings[i];

		err = -pthread_create(&q->tid, NULL, queue_main, q);
		if (err) {
			atomic_fetch_sub(&cp->rings_live, n - i);
			break;
		}
		q->started = true;
	}
	pthread_mutex_lock(&cp->lock);
	for (i = 0; i < n && cp->rings[i].started; i++) {
		while (!cp->rings[i].registered)
			pthread_cond_wait(&cp->cond, &cp->lock);
		if (cp->rings[i].err)
			err = cp->rings[i].err;
		else
			ok++;
	}
	pthread_mutex_unlock(&cp->lock);
	if (ok == n) {
		log_info("FUSE over io_uring: %u queues of %u entries, "
			 "%zu KiB each, %u thread%s each", nq, e,
			 cp->rings[0].payload_len / 1024, k, k == 1 ? "" : "s");
		return n;
	}
	/*
	 * Queues that registered keep their entries until the connection
	 * ends (chan_uring_join), but the kernel will not use them.
	 */
	uring_give_up(cp, err);
	return 0;

fail:
	uring_give_up(cp, err);
	/* no thread was started: tear down what was set up */
	if (cp->rings) {
		for (i = 0; i < cp->nrings; i++)
			queue_teardown(&cp->rings[i]);
		free(cp->rings);
	}
	cp->rings = NULL;
	cp->nrings = 0;
	return 0;
}

void chan_uring_join(struct canopy *cp, uint64_t deadline_ns)
{
	unsigned i;

	for (i = 0; i < cp->nrings; i++) {
		struct fring *q = &cp->rings[i];

		if (!q->started)
			continue;
		while (pthread_tryjoin_np(q->tid, NULL) == EBUSY) {
			if (now_ns() > deadline_ns &&
			    !atomic_exchange(&q->quit, true)) {
				uint64_t one = 1;

				/* entries held by requests that never end */
				if (write(q->efd, &one, sizeof(one)) < 0)
					log_debug("queue %u: eventfd: %s",
						  q->qid, strerror(errno));
			}
			usleep(2000);
		}
	}
	for (i = 0; i < cp->nrings; i++)
		queue_teardown(&cp->rings[i]);
	free(cp->rings);
	cp->rings = NULL;
	cp->nrings = 0;
}
