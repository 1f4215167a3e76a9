/* SPDX-License-Identifier: MIT */
/*
 * io/io.h - canopy's local and network I/O engines.
 *
 * uring_*: one io_uring per thread (a ring is not shared between threads).
 * Backing-store reads, cache-file writes and batched statx go through it.
 * liburing stays inside io/uring.c: callers see only struct uring.
 *
 * All functions return 0 or -errno; the read/write ones return bytes done or
 * -errno.
 */
#ifndef CANOPY_IO_H
#define CANOPY_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct statx;
struct uring;

/*
 * Create a ring of @depth entries for the calling thread.
 * On success *out belongs to the caller; release with uring_free().
 */
int uring_new(unsigned depth, struct uring **out);
void uring_free(struct uring *u);

/*
 * Register @buf of @len bytes as the ring's fixed buffer; reads into and
 * writes from inside it then use the registered-buffer opcodes.
 */
int uring_register_buffer(struct uring *u, void *buf, size_t len);

/*
 * Read up to @len bytes at @off, resubmitting short reads until @len bytes or
 * end of file. Returns the bytes read (less than @len only at end of file).
 */
ssize_t uring_read(struct uring *u, int fd, void *buf, size_t len,
		   uint64_t off);

/* Write all @len bytes at @off. Returns @len or -errno (-ENOSPC, ...). */
ssize_t uring_write(struct uring *u, int fd, const void *buf, size_t len,
		    uint64_t off);

/*
 * statx each of @n names relative to @dirfd with @flags and @mask, up to the
 * ring depth at a time. res[i] is 0 or -errno for name i; out[i] is filled
 * when res[i] == 0. Returns 0, or -errno if the ring itself failed.
 */
int uring_statx_many(struct uring *u, int dirfd, const char *const *names,
		     unsigned n, int flags, unsigned mask, struct statx *out,
		     int *res);

/* Operations submitted through this ring since it was created. */
uint64_t uring_ops(const struct uring *u);

/*
 * uring_cmdq_*: a ring of 128-byte entries for driver commands
 * (IORING_OP_URING_CMD), owned by one thread. Commands complete when the
 * driver says so, in any order; each completion returns the tag it was
 * queued with.
 */
struct uring_cmdq;

/* The command area of a 128-byte entry, in bytes. */
#define URING_CMD_MAX 80

struct uring_done {
	uint64_t tag;
	int32_t res;
};

int uring_cmdq_new(unsigned depth, struct uring_cmdq **out);
void uring_cmdq_free(struct uring_cmdq *q);
/*
 * Queue command @op on @fd with @cmdlen bytes of @cmd in the command area,
 * and @addr / @len in the entry's address and length fields.
 */
int uring_cmdq_cmd(struct uring_cmdq *q, int fd, uint32_t op,
		   const void *cmd, size_t cmdlen, const void *addr,
		   uint32_t len, uint64_t tag);
/* Queue a read of @len bytes from @fd at its file position. */
int uring_cmdq_read(struct uring_cmdq *q, int fd, void *buf, size_t len,
		    uint64_t tag);
/* Submit what is queued. */
int uring_cmdq_submit(struct uring_cmdq *q);
/*
 * Submit what is queued, wait for at least one completion and return up to
 * @max of them (count, or -errno: -EINTR when a signal came).
 */
int uring_cmdq_wait(struct uring_cmdq *q, struct uring_done *out,
		    unsigned max);
/* The same without waiting: 0 when nothing has completed. */
int uring_cmdq_poll(struct uring_cmdq *q, struct uring_done *out,
		    unsigned max);

#endif /* CANOPY_IO_H */
