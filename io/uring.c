// SPDX-License-Identifier: MIT
/*
 * io/uring.c - the io_uring engine for local I/O.
 *
 * Each worker thread owns one ring; nothing here is shared between threads,
 * so there are no locks. Operations are issued synchronously from the
 * caller's point of view (submit, then wait for the completions), but several
 * are in flight at once where the caller hands over a batch (statx), and a
 * large read is split into chunks submitted together so the device sees
 * queue depth.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io.h"

/* Split large reads into chunks of this size, all in flight together. */
#define URING_CHUNK (1U << 20)

struct uring {
	struct io_uring ring;
	unsigned depth;
	char *fixed;       /* registered buffer, or NULL */
	size_t fixed_len;
	uint64_t ops;
};

int uring_new(unsigned depth, struct uring **out)
{
	struct uring *u;
	int ret;

	if (depth == 0 || depth > 4096)
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	ret = io_uring_queue_init(depth, &u->ring, 0);
	if (ret < 0)
		goto err_free;
	u->depth = depth;
	*out = u;
	return 0;

err_free:
	free(u);
	return ret;
}

void uring_free(struct uring *u)
{
	if (!u)
		return;
	io_uring_queue_exit(&u->ring);
	free(u);
}

int uring_register_buffer(struct uring *u, void *buf, size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	int ret;

	ret = io_uring_register_buffers(&u->ring, &iov, 1);
	if (ret < 0)
		return ret;
	u->fixed = buf;
	u->fixed_len = len;
	return 0;
}

uint64_t uring_ops(const struct uring *u)
{
	return u->ops;
}

static bool in_fixed(const struct uring *u, const void *p, size_t len)
{
	const char *c = p;

	return u->fixed && c >= u->fixed && c + len <= u->fixed + u->fixed_len;
}

static struct io_uring_sqe *get_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe) {
		/* ring full: flush what is queued and try once more */
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	return sqe;
}

/*
 * Submit what is queued and reap @n completions; user_data of each is the
 * index into @res. Returns 0 or -errno of the ring.
 */
static int submit_and_reap(struct uring *u, unsigned n, int *res)
{
	struct io_uring_cqe *cqe;
	unsigned done = 0;
	int ret;

	ret = io_uring_submit(&u->ring);
	if (ret < 0)
		return ret;
	u->ops += n;
	while (done < n) {
		ret = io_uring_wait_cqe(&u->ring, &cqe);
		if (ret == -EINTR)
			continue;
		if (ret < 0)
			return ret;
		res[cqe->user_data] = cqe->res;
		io_uring_cqe_seen(&u->ring, cqe);
		done++;
	}
	return 0;
}

static void prep_rw(struct uring *u, struct io_uring_sqe *sqe, bool write,
		    int fd, void *buf, size_t len, uint64_t off)
{
	if (in_fixed(u, buf, len)) {
		if (write)
			io_uring_prep_write_fixed(sqe, fd, buf, len, off, 0);
		else
			io_uring_prep_read_fixed(sqe, fd, buf, len, off, 0);
	} else if (write) {
		io_uring_prep_write(sqe, fd, buf, len, off);
	} else {
		io_uring_prep_read(sqe, fd, buf, len, off);
	}
}

/*
 * One pass over [buf, buf+len): chunks submitted together. Returns the number
 * of leading bytes completed (a short chunk ends the run), or -errno if the
 * first chunk failed.
 */
static ssize_t rw_pass(struct uring *u, bool write, int fd, char *buf,
		       size_t len, uint64_t off)
{
	int res[64];
	unsigned n, i, max = u->depth < 64 ? u->depth : 64;
	size_t chunk = URING_CHUNK, done = 0;
	int ret;

	n = (len + chunk - 1) / chunk;
	if (n > max)
		n = max;
	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		size_t o = (size_t)i * chunk;
		size_t l = len - o < chunk ? len - o : chunk;
		struct io_uring_sqe *sqe = get_sqe(&u->ring);

		if (!sqe)
			return -EBUSY;
		prep_rw(u, sqe, write, fd, buf + o, l, off + o);
		sqe->user_data = i;
	}
	ret = submit_and_reap(u, n, res);
	if (ret < 0)
		return ret;
	for (i = 0; i < n; i++) {
		size_t o = (size_t)i * chunk;
		size_t l = len - o < chunk ? len - o : chunk;

		if (res[i] < 0)
			return done ? (ssize_t)done : res[i];
		done += res[i];
		if ((size_t)res[i] < l)
			break;
	}
	return done;
}

static ssize_t rw_full(struct uring *u, bool write, int fd, void *buf,
		       size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = rw_pass(u, write, fd, (char *)buf + done,
				    len - done, off + done);

		if (n < 0)
			return done ? (ssize_t)done : n;
		if (n == 0) {
			if (write)
				return done ? (ssize_t)done : -EIO;
			break; /* end of file */
		}
		done += n;
	}
	return done;
}

ssize_t uring_read(struct uring *u, int fd, void *buf, size_t len,
		   uint64_t off)
{
	return rw_full(u, false, fd, buf, len, off);
}

ssize_t uring_write(struct uring *u, int fd, const void *buf, size_t len,
		    uint64_t off)
{
	ssize_t n = rw_full(u, true, fd, (void *)buf, len, off);

	if (n >= 0 && (size_t)n < len)
		return -EIO;
	return n;
}

int uring_statx_many(struct uring *u, int dirfd, const char *const *names,
		     unsigned n, int flags, unsigned mask, struct statx *out,
		     int *res)
{
	unsigned base = 0;

	while (base < n) {
		unsigned cnt = n - base, i;
		int ret;

		if (cnt > u->depth)
			cnt = u->depth;
		for (i = 0; i < cnt; i++) {
			struct io_uring_sqe *sqe = get_sqe(&u->ring);

			if (!sqe)
				return -EBUSY;
			io_uring_prep_statx(sqe, dirfd, names[base + i], flags,
					    mask, &out[base + i]);
			sqe->user_data = i;
		}
		ret = submit_and_reap(u, cnt, res + base);
		if (ret < 0)
			return ret;
		base += cnt;
	}
	return 0;
}

/* ---- command queues ------------------------------------------------------ */

/*
 * A ring of 128-byte entries for driver commands (IORING_OP_URING_CMD) and
 * the reads that wake its owner. Commands stay in the kernel until the
 * driver completes them, so unlike struct uring nothing here waits for a
 * particular completion: the owner takes them as they come.
 */
struct uring_cmdq {
	struct io_uring ring;
};

int uring_cmdq_new(unsigned depth, struct uring_cmdq **out)
{
	struct uring_cmdq *q;
	int ret;

	if (depth == 0 || depth > 4096)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	/* one thread submits and reaps: completions run when it waits */
	ret = io_uring_queue_init(depth, &q->ring, IORING_SETUP_SQE128 |
				  IORING_SETUP_SINGLE_ISSUER |
				  IORING_SETUP_DEFER_TASKRUN);
	if (ret == -EINVAL)
		ret = io_uring_queue_init(depth, &q->ring,
					  IORING_SETUP_SQE128);
	if (ret < 0) {
		free(q);
		return ret;
	}
	*out = q;
	return 0;
}

void uring_cmdq_free(struct uring_cmdq *q)
{
	if (!q)
		return;
	io_uring_queue_exit(&q->ring);
	free(q);
}

int uring_cmdq_cmd(struct uring_cmdq *q, int fd, uint32_t op,
		   const void *cmd, size_t cmdlen, const void *addr,
		   uint32_t len, uint64_t tag)
{
	struct io_uring_sqe *sqe;

	if (cmdlen > URING_CMD_MAX)
		return -EINVAL;
	sqe = get_sqe(&q->ring);
	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, 2 * sizeof(*sqe)); /* SQE128: two slots */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = op;
	sqe->addr = (uint64_t)(uintptr_t)addr;
	sqe->len = len;
	sqe->user_data = tag;
	memcpy(sqe->cmd, cmd, cmdlen);
	return 0;
}

int uring_cmdq_read(struct uring_cmdq *q, int fd, void *buf, size_t len,
		    uint64_t tag)
{
	struct io_uring_sqe *sqe = get_sqe(&q->ring);

	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, 2 * sizeof(*sqe));
	io_uring_prep_read(sqe, fd, buf, len, (uint64_t)-1);
	sqe->user_data = tag;
	return 0;
}

int uring_cmdq_submit(struct uring_cmdq *q)
{
	int ret = io_uring_submit(&q->ring);

	return ret < 0 ? ret : 0;
}

/* Take up to @max completions that are posted. */
static int cmdq_reap(struct uring_cmdq *q, struct uring_done *out,
		     unsigned max)
{
	struct io_uring_cqe *cqe;
	unsigned n = 0, head;

	io_uring_for_each_cqe(&q->ring, head, cqe) {
		if (n == max)
			break;
		out[n].tag = cqe->user_data;
		out[n].res = cqe->res;
		n++;
	}
	io_uring_cq_advance(&q->ring, n);
	return (int)n;
}

int uring_cmdq_wait(struct uring_cmdq *q, struct uring_done *out,
		    unsigned max)
{
	int ret = io_uring_submit_and_wait(&q->ring, 1);

	return ret < 0 ? ret : cmdq_reap(q, out, max);
}

int uring_cmdq_poll(struct uring_cmdq *q, struct uring_done *out,
		    unsigned max)
{
	int ret = io_uring_submit(&q->ring);

	if (ret < 0)
		return ret;
	/* with DEFER_TASKRUN, completions are posted only when asked for */
	io_uring_get_events(&q->ring);
	return cmdq_reap(q, out, max);
}
