// SPDX-License-Identifier: MIT
/*
 * daemon/reply.c - answering a request: an error, a buffer, an iovec, or
 * a range of a cache file. Over /dev/fuse a reply is one writev() on the fd
 * the request came from, or, for file data, a splice through the worker's
 * pipe when the reply fits it; over io_uring it is written into the
 * request's ring entry (chan_uring.c). The channel itself is chan.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "canopyd_i.h"

#if defined(__SANITIZE_THREAD__)
atomic_ulong chan_kernel_order;
#endif

static void reply_done(struct req *r, int err)
{
	stats_request_done(r->opcode, now_ns() - r->t0, err);
}

static int reply_write(struct req *r, struct iovec *iov, int cnt, int err)
{
	struct fuse_out_header *oh = iov[0].iov_base;
	size_t len = 0;
	ssize_t n;
	int i;

	if (r->ent)
		return ring_reply(r, iov, cnt, err);
	chan_order_release();
	for (i = 0; i < cnt; i++)
		len += iov[i].iov_len;
	oh->len = len;
	oh->error = err;
	oh->unique = r->unique;
	n = writev(r->fd, iov, cnt);
	reply_done(r, err);
	if (n < 0) {
		/* ENOENT: the request was interrupted and is gone */
		if (errno != ENOENT)
			log_warn_rl("reply to %s: %s", stats_opname(r->opcode),
				    strerror(errno));
		return -errno;
	}
	return 0;
}

int reply_err(struct req *r, int err)
{
	struct fuse_out_header oh;
	struct iovec iov = { &oh, sizeof(oh) };

	if (err > 0)
		err = -err; /* tolerate a positive errno */
	return reply_write(r, &iov, 1, err);
}

int reply_buf(struct req *r, const void *data, size_t len)
{
	struct fuse_out_header oh;
	struct iovec iov[2] = { { &oh, sizeof(oh) },
				{ (void *)data, len } };

	return reply_write(r, iov, len ? 2 : 1, 0);
}

int reply_iov(struct req *r, struct iovec *iov, int cnt)
{
	struct fuse_out_header oh;

	iov[0].iov_base = &oh;
	iov[0].iov_len = sizeof(oh);
	return reply_write(r, iov, cnt, 0);
}

static int reply_fd_copy(struct req *r, int fd, uint64_t off, size_t len)
{
	struct worker *w = r->w;
	struct iovec iov[2];
	ssize_t n;

	if (len > w->buf_len)
		len = w->buf_len;
	n = pread(fd, w->buf, len, off);
	if (n < 0)
		return reply_err(r, -errno);
	iov[1].iov_base = w->buf;
	iov[1].iov_len = n;
	return reply_iov(r, iov, 2);
}

bool reply_wants_map(const struct req *r, size_t len)
{
	return !r->ent && (r->w->pipe[1] < 0 || len + PAGE > r->w->pipe_len);
}

int reply_fd(struct req *r, int fd, const char *map, uint64_t off,
	     size_t len)
{
	struct worker *w = r->w;
	struct fuse_out_header oh;
	loff_t pos = off;
	size_t moved = 0;
	ssize_t n;

	if (len == 0)
		return reply_buf(r, NULL, 0);
	if (r->ent)
		return ring_reply_fd(r, fd, off, len);
	if (reply_wants_map(r, len)) {
		if (map) {
			/* one copy, by the kernel, from the cache file's pages */
			struct iovec iov[2] = { { NULL, 0 },
						{ (void *)(map + off), len } };

			STAT_INC(reply_mapped);
			return reply_iov(r, iov, 2);
		}
		STAT_INC(reply_copies);
		return reply_fd_copy(r, fd, off, len);
	}

	chan_order_release();
	oh.len = sizeof(oh) + len;
	oh.error = 0;
	oh.unique = r->unique;
	if (write(w->pipe[1], &oh, sizeof(oh)) != sizeof(oh))
		goto fallback;
	while (moved < len) {
		n = splice(fd, &pos, w->pipe[1], NULL, len - moved,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n <= 0)
			goto fallback;
		moved += n;
	}
	n = splice(w->pipe[0], NULL, r->fd, NULL, sizeof(oh) + len,
		   SPLICE_F_MOVE);
	if (n != (ssize_t)(sizeof(oh) + len)) {
		int e = n < 0 ? errno : EIO;

		worker_pipe_reset(w);
		reply_done(r, 0);
		if (e != ENOENT)
			log_warn_rl("splice reply: %s", strerror(e));
		return -e;
	}
	STAT_INC(reply_splices);
	reply_done(r, 0);
	return 0;

fallback:
	STAT_INC(splice_fallbacks);
	STAT_INC(reply_copies);
	worker_pipe_reset(w);
	return reply_fd_copy(r, fd, off, len);
}
