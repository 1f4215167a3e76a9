// SPDX-License-Identifier: MIT
/*
 * daemon/resolve.c - the fetch path: make a range of a file present in its
 * local cache file.
 *
 * DESIGN: for each block a request needs, in order: present in the local
 * cache (serve it), already being fetched (park on it, one fetch per block),
 * or claimed by this worker and fetched: from the parent in the owner's
 * tree (peer_client.c), or, on the node that owns it, from the backing store
 * through the worker's io_uring; then written to the cache file.
 *
 * A block is read from the backing file the object opened and checked
 * against its identity; if the file changed while it was being read, the
 * block is refused (-ESTALE) rather than mixing old and new bytes.
 * Blocks that are holes in the backing file are left as holes. Blocks of
 * large files (over cache.small_file_max) are read with O_DIRECT straight
 * into the cache file (io.backing_direct); other reads go through a bounce
 * buffer, and one that continues a sequential run asks the backing file
 * system to read the next blocks ahead, so the disk works while this block
 * is copied and served.
 */

#define PREFETCH_BLOCKS 2
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdlib.h>
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

/* O_DIRECT reads end on a page (past the end of the file for the last). */
static uint64_t page_round(uint64_t len)
{
	return (len + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

/*
 * Read a block of a large file with O_DIRECT into its place in the cache
 * file, through the object's mapping of it: the device fills the cache
 * file's pages, with no bounce copy and no second copy in the backing
 * file's page cache, and the pages stay mapped for the replies. The range
 * is allocated first where the cache file system can, so a full one is an
 * ENOSPC here rather than a fault under the read. Returns the bytes read or
 * -errno: -EINVAL when the backing file system refuses this O_DIRECT read,
 * -ENODEV when the cache file cannot be mapped.
 */
static ssize_t read_direct_into(struct worker *w, struct cache_obj *o,
				int bfd, int cfd, uint64_t off, uint64_t len)
{
	char *map;

	if (fallocate(cfd, 0, off, len) < 0 && errno == ENOSPC)
		return -ENOSPC;
	map = cache_obj_map(o, true);
	if (!map)
		return -ENODEV;
	return uring_read(w->ring, bfd, map + off, page_round(len), off);
}

/* Free the cache file's pages of a block that was not made present. */
static void drop_range(int cfd, uint64_t off, uint64_t len)
{
	fallocate(cfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
}

static int fetch_block(struct worker *w, struct cache_obj *o, uint64_t b)
{
	const struct ident *id = cache_obj_ident(o);
	const struct conf *conf = w->cp->conf;
	uint64_t bs = cache_block_size(w->cp->cache), off = b * bs, len;
	bool odirect, direct = false; /* fd has O_DIRECT; read into the cache */
	ssize_t n;
	int bfd, cfd, ret;

	len = id->size - off < bs ? id->size - off : bs;
	chan_may_block();
	if (w->cp->peers) {
		ret = peers_fetch_block(w, o, b, len);
		if (ret != -EREMOTE)
			return ret;
	}
	bfd = cache_obj_backing_fd(o, &w->cp->view, conf->backing_direct &&
				   id->size > conf->small_file_max);
	if (bfd < 0)
		return bfd;
	cfd = cache_obj_fd(o);
	if (cfd < 0)
		return -EBADF;
	if (range_is_hole(bfd, off, len))
		return 0;
	odirect = fcntl(bfd, F_GETFL) & O_DIRECT;
	if (odirect) {
		n = read_direct_into(w, o, bfd, cfd, off, len);
		if (n == -EINVAL) {
			/* clearing is safe under concurrent reads; setting is not */
			log_warn_rl("%s: O_DIRECT read refused; reading it "
				    "buffered", cache_obj_path(o));
			fcntl(bfd, F_SETFL, fcntl(bfd, F_GETFL) & ~O_DIRECT);
			drop_range(cfd, off, len);
			odirect = false;
		} else if (n != -ENODEV) {
			direct = true;
			if (n >= 0)
				STAT_INC(backing_direct_reads);
		}
	}
	if (!direct) {
		if (!odirect && b + 1 < cache_obj_nblocks(o) &&
		    (b == 0 || cache_block_present(o, b - 1)))
			posix_fadvise(bfd, off + len, PREFETCH_BLOCKS * bs,
				      POSIX_FADV_WILLNEED);
		n = uring_read(w->ring, bfd, w->buf,
			       odirect ? page_round(len) : len,
			       off);
	}
	if (n < 0)
		goto fail;
	STAT_INC(backing_reads);
	STAT_ADD(backing_bytes, n);
	ret = ident_check_fd(bfd, id);
	if (!ret && (uint64_t)n != len)
		ret = -ESTALE;
	if (ret) {
		if (ret == -ESTALE)
			log_warn_rl("%s changed while it was read; refetch "
				    "after the attribute timeout",
				    cache_obj_path(o));
		n = ret;
		goto fail;
	}
	if (direct)
		return 0;
	n = uring_write(w->ring, cfd, w->buf, len, off);
	if (n < 0) {
		log_warn_rl("cache write %s: %s", cache_obj_path(o),
			    strerror((int)-n));
		return n;
	}
	return 0;

fail:
	if (direct) {
		if (n == -ENOSPC)
			log_warn_rl("cache write %s: %s", cache_obj_path(o),
				    strerror(ENOSPC));
		drop_range(cfd, off, len); /* what the read may have filled */
	}
	return (int)n;
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
		chan_may_block();
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

/*
 * Fetching ahead. A sequential reader keeps up to io.fetch_ahead blocks
 * after the one it reads present or in flight (twice the run it has read,
 * so the window opens as the run grows): the worker that answered its READ
 * claims them and queues them for the fetch threads, one block per thread
 * at a time, so that several blocks are read from the backing store (or a
 * parent) at once while the workers go on answering. A queued block is
 * claimed (busy), so readers of it park as for any fetch in flight and are
 * answered by the fetch thread when it is done. Each job holds the object
 * open and referenced. fa.lock protects the queue; a slot is reserved
 * before the claim, so a claimed block always has a place (a claim that
 * could not be queued would strand its waiters). resolve_stop() refuses
 * new slots; the threads end once no slot is queued or reserved, so every
 * queued block is fetched and its readers answered. fa.nthreads is
 * written only before the workers start.
 */
#define FA_QUEUE 256

struct fetch_job {
	struct cache_obj *o;
	uint64_t block;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct fetch_job q[FA_QUEUE];
	unsigned head, len, reserved; /* protected by lock */
	bool stop;                    /* protected by lock */
	unsigned nthreads;
	struct worker *w;
} fa = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void *fetcher_main(void *arg)
{
	struct worker *w = arg;
	struct fetch_job job;
	int ret;

	for (;;) {
		pthread_mutex_lock(&fa.lock);
		while (!fa.len && !(fa.stop && !fa.reserved))
			pthread_cond_wait(&fa.cond, &fa.lock);
		if (!fa.len) {
			pthread_mutex_unlock(&fa.lock);
			break;
		}
		job = fa.q[fa.head];
		fa.head = (fa.head + 1) % FA_QUEUE;
		fa.len--;
		pthread_mutex_unlock(&fa.lock);
		ret = fetch_block(w, job.o, job.block);
		cache_block_done(job.o, job.block, ret, w);
		worker_run_ready(w);
		cache_obj_close(job.o);
		cache_obj_put(job.o);
	}
	return NULL;
}

int resolve_start(struct canopy *cp)
{
	unsigned i, n = cp->conf->fetch_ahead;
	int ret;

	if (n == 0)
		return 0;
	if (n > 16)
		n = 16; /* one thread per block of the window, up to 16 */
	fa.w = calloc(n, sizeof(*fa.w));
	if (!fa.w)
		return -ENOMEM;
	fa.stop = false;
	for (i = 0; i < n; i++) {
		struct worker *w = &fa.w[i];

		w->idx = i;
		ret = worker_setup_aux(cp, w);
		if (!ret)
			worker_pipe_open(w);
		if (!ret)
			ret = -pthread_create(&w->tid, NULL, fetcher_main, w);
		if (ret) {
			worker_teardown(w);
			break;
		}
		fa.nthreads++;
	}
	if (fa.nthreads == n)
		return 0;
	resolve_stop();
	return ret;
}

void resolve_stop(void)
{
	unsigned i;

	pthread_mutex_lock(&fa.lock);
	fa.stop = true;
	pthread_cond_broadcast(&fa.cond);
	pthread_mutex_unlock(&fa.lock);
	if (!fa.w)
		return;
	for (i = 0; i < fa.nthreads; i++) {
		pthread_join(fa.w[i].tid, NULL);
		worker_teardown(&fa.w[i]);
	}
	free(fa.w);
	fa.w = NULL;
}

/* A queue slot for one claim, or false (stopping, or full). */
static bool fa_reserve(void)
{
	bool ok;

	pthread_mutex_lock(&fa.lock);
	ok = !fa.stop && fa.len + fa.reserved < FA_QUEUE;
	if (ok)
		fa.reserved++;
	pthread_mutex_unlock(&fa.lock);
	return ok;
}

/* Queue a claimed block (@o opened and referenced for the job), or, with
 * @o NULL, give the reserved slot back. */
static void fa_queue(struct cache_obj *o, uint64_t block)
{
	pthread_mutex_lock(&fa.lock);
	fa.reserved--;
	if (o) {
		fa.q[(fa.head + fa.len) % FA_QUEUE] =
			(struct fetch_job){ .o = o, .block = block };
		fa.len++;
		pthread_cond_signal(&fa.cond);
	}
	/* the last slot of a stop: every thread may end now */
	if (fa.stop && !fa.reserved)
		pthread_cond_broadcast(&fa.cond);
	pthread_mutex_unlock(&fa.lock);
}

/* Claim the blocks of [from, from + n) that nobody has, for the fetchers. */
static void fetch_ahead(struct cache_obj *o, uint64_t bs, uint64_t from,
			uint64_t n)
{
	uint64_t block;

	while (fa_reserve()) {
		if (cache_obj_open(o)) {
			fa_queue(NULL, 0);
			return;
		}
		if (cache_claim(o, from * bs, n * bs, NULL, &block) !=
		    CACHE_CLAIMED) {
			cache_obj_close(o);
			fa_queue(NULL, 0);
			return;
		}
		STAT_INC(cache_readaheads);
		cache_obj_ref(o);
		fa_queue(o, block);
	}
}

/*
 * How far ahead of block @last to fetch: twice the sequential run that ends
 * there, up to @max blocks, so a reader of a file's first bytes costs the
 * backing store two blocks, not the whole window, and a long run gets it.
 */
static uint64_t ahead_window(struct cache_obj *o, uint64_t last, uint64_t max)
{
	uint64_t run = 1;

	while (2 * run < max && run <= last && cache_block_present(o, last - run))
		run++;
	return 2 * run < max ? 2 * run : max;
}

/* @o is referenced by the caller (not through a handle: see op_read) */
void resolve_readahead(struct worker *w, struct cache_obj *o, uint64_t off,
		       uint64_t len)
{
	uint64_t bs = cache_block_size(w->cp->cache), last, next, block;
	uint64_t nblocks = cache_obj_nblocks(o);
	int ret;

	if (!len || off >= cache_obj_ident(o)->size)
		return;
	last = (off + len - 1) / bs;
	next = last + 1;
	/* only a sequential run: this block and the one before are here */
	if (next >= nblocks || !cache_block_present(o, last) ||
	    (last && !cache_block_present(o, last - 1)))
		return;
	if (fa.nthreads) {
		fetch_ahead(o, bs, next, ahead_window(o, last,
						      w->cp->conf->fetch_ahead));
		return;
	}
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
