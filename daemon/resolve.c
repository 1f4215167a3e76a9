// SPDX-License-Identifier: MIT
/*
 * daemon/resolve.c - the fetch path: make a range of a file present in its
 * local cache file.
 *
 * DESIGN: for each block a request needs, in order: present in the local
 * cache (serve it), already being fetched (park on it, one fetch per block),
 * or claimed by this worker and fetched: from the parent in the owner's
 * tree (peer.c), or, on the node that owns it, from the backing store
 * through the worker's io_uring; then written to the cache file.
 *
 * A block is read from the backing file the object opened and checked
 * against its identity; if the file changed while it was being read, the
 * block is refused (-ESTALE) rather than mixing old and new bytes.
 * Blocks that are holes in the backing file are left as holes. A fetch that
 * continues a sequential run asks the backing file system to read the next
 * blocks ahead, so the disk works while this block is copied and served.
 */

#define PREFETCH_BLOCKS 2
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "canopyd_i.h"
#include "io.h"

/* Is [off, off+len) one hole of @fd? */
static bool range_is_hole(int fd, uint64_t off, uint64_t len)
{
	off_t data = lseek(fd, off, SEEK_DATA);

	if (data < 0)
		return errno == ENXIO; /* no data after off */
	return (uint64_t)data >= off + len;
}

static int fetch_block(struct worker *w, struct cache_obj *o, uint64_t b)
{
	const struct ident *id = cache_obj_ident(o);
	uint64_t bs = cache_block_size(w->cp->cache), off = b * bs, len;
	struct ident after;
	struct statx stx;
	ssize_t n;
	int bfd, cfd;

	len = id->size - off < bs ? id->size - off : bs;
	if (w->cp->peers) {
		int ret = peers_fetch_block(w, o, b, len);

		if (ret != -EREMOTE)
			return ret;
	}
	bfd = cache_obj_backing_fd(o, &w->cp->view);
	if (bfd < 0)
		return bfd;
	cfd = cache_obj_fd(o);
	if (cfd < 0)
		return -EBADF;
	if (range_is_hole(bfd, off, len))
		return 0;
	if (b + 1 < cache_obj_nblocks(o) &&
	    (b == 0 || cache_block_present(o, b - 1)))
		posix_fadvise(bfd, off + len, PREFETCH_BLOCKS * bs,
			      POSIX_FADV_WILLNEED);
	n = uring_read(w->ring, bfd, w->buf, len, off);
	if (n < 0)
		return n;
	STAT_INC(backing_reads);
	STAT_ADD(backing_bytes, n);
	if (statx(bfd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) < 0)
		return -errno;
	ident_from_statx(&after, &stx);
	if ((uint64_t)n != len || !ident_eq(&after, id)) {
		log_warn_rl("%s changed while it was read; refetch after the "
			    "attribute timeout", cache_obj_path(o));
		return -ESTALE;
	}
	n = uring_write(w->ring, cfd, w->buf, len, off);
	if (n < 0) {
		log_warn_rl("cache write %s: %s", cache_obj_path(o),
			    strerror((int)-n));
		return n;
	}
	return 0;
}

int resolve_range(struct worker *w, struct cache_obj *o, uint64_t off,
		  uint64_t len, struct cache_wait *cw)
{
	uint64_t block;
	int ret;

	for (;;) {
		ret = cache_claim(o, off, len, cw, &block);
		if (ret != CACHE_CLAIMED)
			return ret;
		STAT_INC(cache_misses);
		ret = fetch_block(w, o, block);
		cache_block_done(o, block, ret, w);
		if (ret)
			return ret;
	}
}

/* A thread that may block waits for a fetch in flight synchronously. */
struct sync_wait {
	struct cache_wait cw;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done; /* protected by lock */
	int err;
};

static void sync_wake(struct worker *w, struct cache_wait *cw, int err)
{
	struct sync_wait *sw = (struct sync_wait *)cw;

	pthread_mutex_lock(&sw->lock);
	sw->err = err;
	sw->done = true;
	pthread_cond_signal(&sw->cond);
	pthread_mutex_unlock(&sw->lock);
}

int resolve_range_wait(struct worker *w, struct cache_obj *o, uint64_t off,
		       uint64_t len)
{
	struct sync_wait sw;
	int ret;

	memset(&sw, 0, sizeof(sw));
	sw.cw.wake = sync_wake;
	pthread_mutex_init(&sw.lock, NULL);
	pthread_cond_init(&sw.cond, NULL);
	for (;;) {
		sw.done = false;
		ret = resolve_range(w, o, off, len, &sw.cw);
		worker_run_ready(w);
		if (ret != CACHE_PARKED)
			break;
		pthread_mutex_lock(&sw.lock);
		while (!sw.done)
			pthread_cond_wait(&sw.cond, &sw.lock);
		pthread_mutex_unlock(&sw.lock);
		if (sw.err) {
			ret = sw.err;
			break;
		}
	}
	pthread_cond_destroy(&sw.cond);
	pthread_mutex_destroy(&sw.lock);
	return ret;
}

/* @o is referenced by the caller (not through a handle: see op_read) */
void resolve_readahead(struct worker *w, struct cache_obj *o, uint64_t off,
		       uint64_t len)
{
	uint64_t bs = cache_block_size(w->cp->cache), last, next, block;
	int ret;

	if (!len || off >= cache_obj_ident(o)->size)
		return;
	last = (off + len - 1) / bs;
	next = last + 1;
	/* only a sequential run: this block and the one before are here */
	if (next >= cache_obj_nblocks(o) || !cache_block_present(o, last) ||
	    (last && !cache_block_present(o, last - 1)))
		return;
	/* held open like any reader, so the file is not evicted under us */
	if (cache_obj_open(o))
		return;
	if (cache_claim(o, next * bs, 1, NULL, &block) == CACHE_CLAIMED) {
		/* answer what this worker has woken, then go on fetching */
		worker_run_ready(w);
		STAT_INC(cache_readaheads);
		ret = fetch_block(w, o, block);
		cache_block_done(o, block, ret, w);
	}
	cache_obj_close(o);
}
