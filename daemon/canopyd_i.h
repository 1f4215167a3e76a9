/* SPDX-License-Identifier: MIT */
/*
 * daemon/canopyd_i.h - canopyd's internals, shared by the files of daemon/.
 *
 * Objects and who owns them:
 *   struct canopy   one per daemon; lives for the whole run.
 *   struct worker   one per worker thread; owned by the channel.
 *   struct node     one per backing path the kernel knows (nodeid); found in
 *                   the node table; reference-counted (node_put()).
 *   struct handle   one per open file or directory (fh); found in the handle
 *                   table; holds a reference on its node and its cache object.
 *   struct cache_obj one per backing file identity (path, dev, ino, size,
 *                   mtime); reference-counted (cache_obj_put()).
 *
 * Lock order, outermost first: the node table's lock, node->lock,
 * cache->lock. The handle table's lock is a leaf.
 * No lock is held across a FUSE reply, an io_uring submission or a syscall
 * on the backing store.
 */
#ifndef CANOPY_CANOPYD_I_H
#define CANOPY_CANOPYD_I_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "config.h"
#include "fuse_compat_i.h"

struct uring;
struct canopy;
struct worker;
struct cache;
struct cache_obj;
struct peers;
struct fab_mr;

/* ---- logging (log.c) ---------------------------------------------------- */

void log_init(int level, const char *ident);
void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* At most one message per @interval_s for this call site's @state. */
void log_ratelimited(atomic_uint_fast64_t *state, unsigned interval_s,
		     int level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#ifdef CANOPY_DEBUG
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#else
#define log_debug(...)                                                         \
	do {                                                                   \
	} while (0)
#endif
/* A warning that a peer or the kernel can trigger repeatedly: once a minute. */
#define log_warn_rl(...)                                                       \
	do {                                                                   \
		static atomic_uint_fast64_t rl_state_;                         \
		log_ratelimited(&rl_state_, 60, LOG_LVL_WARNING, __VA_ARGS__); \
	} while (0)

/* ---- counters (stats.c) ------------------------------------------------- */

#define STATS_LAT_BUCKETS 24  /* log2 microseconds: <1us .. >4s */
#define STATS_SIZE_BUCKETS 16 /* log2 bytes: <=4K, <=8K, .. <=64M, more */

typedef atomic_uint_fast64_t counter_t;

struct stats {
	counter_t op_count[CANOPY_FUSE_OPCODES];
	counter_t op_errors[CANOPY_FUSE_OPCODES];
	counter_t op_lat_ns[CANOPY_FUSE_OPCODES];
	counter_t op_lat_hist[CANOPY_FUSE_OPCODES][STATS_LAT_BUCKETS];
	counter_t op_unknown;
	counter_t malformed;
	counter_t read_size_hist[STATS_SIZE_BUCKETS];
	counter_t read_size_max;
	counter_t read_bytes;
	counter_t backing_opens;
	counter_t backing_reads;
	counter_t backing_bytes;
	counter_t backing_direct_reads;
	counter_t backing_stats;
	counter_t backing_dir_opens; /* directory descriptors kept by the view */
	counter_t backing_readdirs;
	counter_t passthrough_opens;
	counter_t cached_opens;
	counter_t cold_direct_opens; /* cached opens made FOPEN_DIRECT_IO */
	counter_t cache_full_reads;  /* READs from the backing: cache full */
	counter_t no_open_reads;     /* READs with no open (fuse.no_open) */
	counter_t direct_opens;
	counter_t cache_bytes;    /* gauge: bytes of blocks present */
	counter_t cache_reserved; /* gauge: bytes reserved for cached files */
	counter_t cache_files;    /* gauge */
	counter_t cache_evictions;
	counter_t cache_hits;     /* READ blocks already present */
	counter_t cache_misses;   /* READ blocks fetched */
	counter_t cache_waits;    /* requests parked on a fetch in flight */
	counter_t cache_readaheads; /* blocks fetched ahead of a sequential read */
	counter_t cache_stale;    /* objects dropped because the file changed */
	counter_t bytes_from_cache;
	counter_t bytes_from_backing;
	counter_t splice_fallbacks; /* splices that failed midway */
	counter_t reply_splices;  /* READ replies spliced from cache files */
	counter_t reply_copies;   /* READ replies copied from cache files */
	counter_t reply_mapped;   /* READ replies written from a mapping */
	counter_t polled;         /* /dev/fuse requests a polling worker took */
	counter_t unparks;        /* parked /dev/fuse workers woken to read */
	counter_t parked;         /* /dev/fuse workers parked now (a gauge) */
	counter_t uring_requests; /* requests that came over io_uring */
	counter_t uring_handoffs; /* of them, answered by another thread */
	counter_t nodes;          /* gauge */
	counter_t peer_requests_in;  /* requests served for other nodes */
	counter_t peer_requests_out; /* requests sent to other nodes */
	counter_t peer_bytes_in;     /* block bytes received from peers */
	counter_t peer_bytes_out;    /* block bytes sent to peers */
	counter_t peer_refused;      /* requests for paths outside the view */
	counter_t peer_malformed;    /* messages that did not decode */
	counter_t peer_dropped;      /* requests dropped: server queue full */
	counter_t peer_late;         /* responses after their request gave up */
	counter_t failover_count;    /* requests moved past a peer that failed */
	counter_t auth_failures;     /* messages whose tag did not verify */
	counter_t bytes_from_peers;
	counter_t meta_hits;         /* metadata answered by this node's cache */
	counter_t meta_misses;       /* metadata resolved (peer or backing) */
	counter_t prefetch_requests; /* prefetch walks taken part in */
	counter_t prefetch_files;    /* files a prefetch made complete here */
	counter_t prefetch_bytes;    /* their bytes */
	counter_t prefetch_skipped;  /* files larger than the cache */
	counter_t prefetch_errors;   /* files a prefetch could not read */
};

extern struct stats stats;

#define STAT_ADD(f, n)                                                         \
	atomic_fetch_add_explicit(&stats.f, (n), memory_order_relaxed)
#define STAT_SUB(f, n)                                                         \
	atomic_fetch_sub_explicit(&stats.f, (n), memory_order_relaxed)
#define STAT_INC(f) STAT_ADD(f, 1)

void stats_request_done(uint32_t opcode, uint64_t ns, int err);
void stats_read_size(uint64_t size);
const char *stats_opname(uint32_t opcode);
/* One flat JSON object with dotted keys, into a malloc'd string. */
char *stats_json(void);
/*
 * The same counters in the Prometheus text exposition format (version
 * 0.0.4), every sample labelled mount="@mount"; a malloc'd string.
 */
char *stats_prom(const char *mount);
uint64_t now_ns(void);

/* ---- the view of the backing tree (view.c) ------------------------------ */

enum view_kind {
	VIEW_HIDDEN,  /* outside every export and not on the way to one */
	VIEW_VIRTUAL, /* a strict ancestor of an export: shows only exports */
	VIEW_REAL,    /* an export or below one */
};

/*
 * The mount is a view: MOUNTPOINT/X is backing path /X, restricted to the
 * exports. A view of "/" contains the mount point itself; every backing
 * syscall goes through view_*, which sends paths at or below the mount point
 * to the directory it covers (an O_PATH fd opened before mounting), so the
 * daemon never walks into its own mount.
 */
struct view {
	char **exports;  /* borrowed from struct conf */
	size_t nexports;
	char *mnt;       /* realpath of the mount point */
	size_t mntlen;
	int mnt_fd;      /* O_PATH fd of the directory under the mount */
	struct dircache *dirs; /* NULL: every path is walked whole */
};

int view_init(struct view *v, char **exports, size_t nexports,
	      const char *mnt);
void view_fini(struct view *v);
/*
 * Resolve paths below an export in their parent directory: up to @max
 * O_PATH descriptors of backing directories are kept, each for @ttl_ns
 * (then opened again, so that a directory replaced on the backing store is
 * seen after the attribute timeout, as a replaced file is). On a parallel
 * file system each component of a path walk can cost a metadata operation;
 * this makes a LOOKUP, an OPEN or a READLINK one component.
 */
int view_dirs_enable(struct view *v, unsigned max, uint64_t ttl_ns);
/* Close every kept descriptor (canopyctl drop-caches). */
void view_dirs_drop(const struct view *v);
struct vdir;
/*
 * A descriptor of directory @dir (an export or below one) to resolve its
 * names in, kept by the view; -errno when there is none to give (no
 * dircache, not below an export, under the mount point). Put *ref back.
 */
int view_dir_get(const struct view *v, const char *dir, struct vdir **ref);
void view_dir_put(const struct view *v, struct vdir *ref);
enum view_kind view_classify(const struct view *v, const char *path);
/*
 * The names shown in virtual directory @path: the next component of each
 * export below it. *names is a malloc'd array of malloc'd strings.
 */
int view_virtual_children(const struct view *v, const char *path,
			  char ***names, size_t *n);
/* Join @dir and @name into a new path ("/" + "a" = "/a"). */
char *view_join(const char *dir, const char *name);
/* dirfd and relative path for syscalls; *rel is "." for the covered dir. */
void view_at(const struct view *v, const char *path, int *dirfd,
	     const char **rel);
int view_statx(const struct view *v, const char *path, struct statx *stx);
int view_open(const struct view *v, const char *path, int flags);
ssize_t view_readlink(const struct view *v, const char *path, char *buf,
		      size_t len);
/* lgetxattr of @name, or llistxattr when @name is NULL */
ssize_t view_xattr(const struct view *v, const char *path, const char *name,
		   void *buf, size_t len);
int view_statfs(const struct view *v, const char *path, struct statvfs *sv);

/* The page size the FUSE protocol and O_DIRECT alignment assume. */
#define PAGE 4096U

/* ---- identity of a backing file ----------------------------------------- */

struct ident {
	uint64_t dev;
	uint64_t ino;
	uint64_t size;
	int64_t mtime_ns;
	int64_t ctime_ns;
};

void ident_from_statx(struct ident *id, const struct statx *stx);
bool ident_eq(const struct ident *a, const struct ident *b);
/* 0 if open file @fd is the file of @id, -ESTALE if not, -errno. */
int ident_check_fd(int fd, const struct ident *id);

/* ---- continuations: requests parked on work in flight ------------------- */

/*
 * A request that cannot be answered yet parks a cache_wait on the object it
 * waits for. When that object changes, the waiters are moved to the ready
 * list of the worker that changed it, and that worker calls wake() after it
 * has finished its own request, with @err set if the awaited fetch failed.
 */
struct cache_wait {
	struct cache_wait *next;
	void (*wake)(struct worker *w, struct cache_wait *cw, int err);
	int err;
};

/* ---- local cache (cache.c) ---------------------------------------------- */

int cache_new(const char *dir, uint64_t capacity, uint64_t block_size,
	      struct cache **out);
/*
 * Mount a private tmpfs with transparent huge pages on @dir (made if
 * missing; it must hold nothing but canopy's own files), sized for
 * *capacity (0: half the file system @dir is on, written back). A tmpfs of
 * 4 KiB pages reads at about 0.6x the speed of a disk file system's page
 * cache; with huge pages passthrough reads are as fast as native ones.
 */
int cache_mount_tmpfs(const char *dir, uint64_t *capacity);
void cache_umount_tmpfs(const char *dir);
void cache_free(struct cache *c);
uint64_t cache_capacity(const struct cache *c);
uint64_t cache_block_size(const struct cache *c);
const char *cache_dir(const struct cache *c);

/*
 * Find or create the object for a backing file identity. On success *out
 * belongs to the caller; release with cache_obj_put(). put(NULL) is a no-op.
 */
int cache_obj_get(struct cache *c, const char *path, const struct ident *id,
		  struct cache_obj **out);
void cache_obj_ref(struct cache_obj *o);
void cache_obj_put(struct cache_obj *o);
const char *cache_obj_path(const struct cache_obj *o);
const struct ident *cache_obj_ident(const struct cache_obj *o);

/*
 * An open that will read through the cache file: reserve room for the whole
 * file (evicting least-recently-used files that are not open) and create the
 * cache file. -ENOSPC when the file cannot be held: serve it directly.
 * Each successful cache_obj_open() is paired with cache_obj_close().
 */
int cache_obj_open(struct cache_obj *o);
void cache_obj_close(struct cache_obj *o);
/* The file changed: drop the data now, or at its last close. */
void cache_obj_stale(struct cache_obj *o);
bool cache_obj_complete(struct cache_obj *o);
/* The cache file descriptor; valid between cache_obj_open and _close. */
int cache_obj_fd(struct cache_obj *o);
/* The shared read-write mapping of the whole cache file of an open @o,
 * unmapped at its last close; with @make, mapped now if it is not. NULL if
 * there is none. */
char *cache_obj_map(struct cache_obj *o, bool make);
/*
 * Passthrough: the kernel's backing id of a complete cache file, registered
 * at first use with @open and released with @close when the file leaves
 * the cache. Returns the id, -EAGAIN if the file is not complete, or the
 * -errno of the registration.
 */
void cache_set_passthrough(struct cache *c, int (*open)(int fd, void *arg),
			   void (*close)(int id, void *arg), void *arg);
int cache_obj_passthrough_id(struct cache_obj *o);

enum cache_claim_result {
	CACHE_PRESENT = 0, /* every block of the range is present */
	CACHE_CLAIMED = 1, /* *block is claimed: fetch it, then _block_done */
	CACHE_PARKED = 2,  /* @cw parked until a fetch in flight ends */
};

/*
 * For the blocks covering [off, off+len): claim the first missing block that
 * nobody is fetching, or park @cw if only blocks in flight are missing (with
 * @cw NULL, only report CACHE_PARKED).
 * Returns an enum cache_claim_result or -errno.
 */
int cache_claim(struct cache_obj *o, uint64_t off, uint64_t len,
		struct cache_wait *cw, uint64_t *block);
/*
 * End a claimed fetch: the block is present if @err is 0. Parked waiters are
 * handed to @w's ready list.
 */
void cache_block_done(struct cache_obj *o, uint64_t block, int err,
		      struct worker *w);
bool cache_block_present(struct cache_obj *o, uint64_t block);
uint64_t cache_obj_nblocks(const struct cache_obj *o);
/* Drop every cached file that is not open. */
void cache_drop_all(struct cache *c);

/*
 * The backing file of @o, opened once per object and checked against its
 * identity (-ESTALE if the file changed). Borrowed: valid while the object
 * is referenced. @direct asks for O_DIRECT; a file system that refuses it
 * at open gets a buffered fd.
 */
int cache_obj_backing_fd(struct cache_obj *o, const struct view *v,
			 bool direct);

/* ---- nodes and handles (node.c) ----------------------------------------- */

struct node {
	uint64_t nodeid;
	char *path;             /* backing path, absolute; immutable */
	enum view_kind kind;    /* immutable */
	atomic_uint refs;
	/* fields below are protected by the node table's lock */
	uint64_t nlookup;
	bool hashed;            /* findable by path */
	struct node *next_id, *next_path;

	pthread_mutex_t lock;
	/* fields below are protected by n->lock */
	struct statx stx;       /* last attributes seen */
	struct ident id;
	struct cache_obj *obj;  /* current content; NULL until opened */
	unsigned pt_opens;      /* open handles in passthrough mode */
	unsigned cached_opens;  /* open handles in cached mode */
	int backing_id;         /* kernel passthrough id while pt_opens > 0 */
	struct cache_obj *pt_obj; /* the cache file backing_id maps, or NULL
				   * when it maps the backing file itself */
	int direct_fd;          /* fuse.no_open: the backing file, for the
				 * READs of a file the cache cannot hold */
};

int nodes_init(const char *root_path, enum view_kind root_kind);
void nodes_fini(void);
/* Find by nodeid, referenced; NULL if unknown. */
struct node *node_get(uint64_t nodeid);
void node_put(struct node *n);
/*
 * Find or make the node of @path for a LOOKUP reply and count the lookup
 * (the kernel will FORGET it). A node whose path now names another inode is
 * replaced by a new one. Referenced.
 */
struct node *node_lookup(const char *path, enum view_kind kind,
			 const struct statx *stx);
void node_forget(uint64_t nodeid, uint64_t nlookup);
/* Is @stx the inode @n stands for (type, device, inode number)? */
bool node_same_inode(struct node *n, const struct statx *stx);
/* Take fresh attributes; drops the cached content if the file changed. */
void node_set_attr(struct node *n, const struct statx *stx);
uint64_t node_count(void);

enum handle_kind {
	H_DIR,
	H_PASSTHROUGH,
	H_CACHED,
	H_DIRECT,
};

struct dirent_snap {
	uint64_t ino;
	uint32_t type;   /* DT_* */
	uint32_t namelen;
	char *name;
};

struct handle {
	uint64_t fh;
	enum handle_kind kind;
	struct node *node;       /* referenced */
	struct cache_obj *obj;   /* referenced; H_CACHED and H_PASSTHROUGH */
	int backing_fd;          /* H_DIRECT: own fd of the backing file */
	uint64_t size;           /* H_DIRECT: size at open */
	struct dirent_snap *ents; /* H_DIR: the listing, taken at the first
				   * READDIR (the kernel may need none) */
	size_t nents;
	bool listed;             /* H_DIR: ents is taken */
	struct handle *next;     /* protected by the handle table's lock */
};

/* Allocate and register; the handle holds a reference on @n. */
struct handle *handle_new(enum handle_kind kind, struct node *n);
/*
 * The same, unregistered (fh 0): a handle of one request, for a READ the
 * kernel sends without an open (fuse.no_open). Release with handle_free().
 */
struct handle *handle_alloc(enum handle_kind kind, struct node *n);
/* Find by fh; NULL if unknown. Valid until handle_release(fh). */
struct handle *handle_get(uint64_t fh);
/* Unregister and return it for the caller to tear down; NULL if unknown. */
struct handle *handle_remove(uint64_t fh);
void handle_free(struct handle *h);

/* ---- the kernel channel (chan.c) ---------------------------------------- */

struct req {
	struct worker *w; /* the worker running it now */
	int fd;           /* /dev/fuse fd it came on: replies go there */
	uint64_t unique;
	uint32_t opcode;
	uint64_t nodeid;
	uint32_t uid, gid, pid;
	struct ring_ent *ent; /* io_uring entry it came in, or NULL */
	const void *in;   /* body, after struct fuse_in_header */
	size_t inlen;
	uint64_t t0;      /* when it was read, ns */
};

struct worker {
	struct canopy *cp;
	unsigned idx;
	pthread_t tid;
	int fd;              /* this worker's clone of /dev/fuse */
	char *reqbuf;        /* request buffer */
	size_t reqbuf_len;
	char *buf;           /* data buffer: fetches, direct reads, listings */
	size_t buf_len;
	int pipe[2];         /* for splice replies; -1 without splice */
	size_t pipe_len;
	struct uring *ring;
	struct cache_wait *ready; /* woken continuations to run */
	struct fab_mr *mr;   /* buf registered with the transport, or NULL */
	bool covered;        /* this request woke a parked worker already */
	unsigned streak;     /* requests in a row that were already queued */
};

/* What INIT negotiated; written once by the INIT handler. */
struct negotiated {
	atomic_bool done;       /* set last, after everything below */
	uint32_t major, minor;
	uint32_t kernel_minor;
	uint64_t kernel_flags;
	uint64_t flags;
	unsigned max_pages;
	unsigned max_pages_limit; /* /proc/sys/fs/fuse/max_pages_limit */
	uint32_t max_readahead;
	unsigned readahead_kb;    /* what the mount's bdi was set to, 0 if not */
	bool passthrough;
	char passthrough_why[96]; /* why not, when it is off */
	bool splice;
	uint32_t splice_max;    /* largest READ reply a worker's pipe holds */
	bool uring;             /* FUSE_OVER_IO_URING negotiated */
	unsigned dev_major, dev_minor;
};

struct canopy {
	struct conf *conf;
	char *mnt;               /* realpath of the mount point */
	struct view view;
	struct cache *cache;
	struct fuse_session *se;
	int fd;                  /* the session's /dev/fuse fd */
	unsigned nworkers;
	struct worker *workers;
	bool can_passthrough;    /* CAP_SYS_ADMIN and fuse.passthrough */
	struct negotiated neg;
	pthread_mutex_t lock;
	pthread_cond_t cond;     /* signalled when INIT is done */
	atomic_bool stopping;
	atomic_bool polling;     /* a /dev/fuse worker is polling (poll_us) */
	atomic_uint readers;     /* /dev/fuse workers in read() or polling */
	atomic_uint parked;      /* /dev/fuse workers parked (chan.c) */
	atomic_uint park_seq;    /* futex word: bumped to wake a parked one */
	atomic_bool chan_ending; /* a worker saw the connection end */
	atomic_ulong taken;      /* /dev/fuse requests read, for chan_tick() */
	unsigned long tick_taken; /* main thread's: taken at the last tick */
	uint64_t started_ns;
	struct peers *peers;     /* NULL on a single node */
	struct fring *rings;     /* io_uring threads: uring_threads per cpu */
	unsigned nrings;
	atomic_uint rings_live;  /* io_uring threads serving requests */
	char uring_why[96];      /* why not, when io_uring is off */
};

/* Set up @w for a thread that serves peers: buffers and ring, no fd. */
int worker_setup_aux(struct canopy *cp, struct worker *w);
/* Give an aux worker that answers FUSE requests a pipe to splice with. */
void worker_pipe_open(struct worker *w);
/* Empty the pipe after a failed splice (a new pipe is cheaper than a
 * drain). */
void worker_pipe_reset(struct worker *w);
void worker_teardown(struct worker *w);

int chan_mount(struct canopy *cp);
/* A clone of the session's /dev/fuse fd @master, or -errno. */
int chan_clone_fd(int master);
int chan_start(struct canopy *cp);
/* Wait until INIT is done (or @timeout_ms passes: -ETIMEDOUT). */
int chan_wait_init(struct canopy *cp, int timeout_ms);
void chan_unmount(struct canopy *cp);
void chan_join(struct canopy *cp);
/*
 * Called by code that may wait (a backing store or network operation, or
 * another thread's): if the calling /dev/fuse worker is the only one that
 * would read the next request, a parked worker takes over reading. A
 * no-op on any other thread.
 */
void chan_may_block(void);
/* The main thread's periodic check that parked workers are not forgotten. */
void chan_tick(struct canopy *cp);

/*
 * FUSE-over-io_uring (chan_uring.c): once INIT negotiated it, one queue per
 * possible cpu, each served by a thread pinned to that cpu. Until every
 * queue has registered, the kernel holds new requests, so this is called
 * right after INIT; when a queue cannot be set up, the connection is
 * turned back to /dev/fuse. Returns the number of queues serving.
 */
unsigned chan_uring_start(struct canopy *cp);
/* io_uring threads per cpu queue that fuse.uring_threads gives */
unsigned chan_uring_threads(const struct conf *c);
/*
 * The length of the opcode's fixed part of a ring request whose header
 * says @len bytes and whose entry says @psz payload bytes; -EINVAL when the
 * two disagree, or do not fit the entry's payload area (@payload_len) or a
 * request buffer of @buf_len.
 */
ssize_t ring_req_fixed(uint32_t len, uint32_t psz, size_t payload_len,
		       size_t buf_len);
/* Wait for the queues' threads to end (the connection has ended). */
void chan_uring_join(struct canopy *cp, uint64_t deadline_ns);
/* Reply to a request that came over io_uring (r->ent set). */
int ring_reply(struct req *r, const struct iovec *iov, int cnt, int err);
int ring_reply_fd(struct req *r, int fd, uint64_t off, size_t len);

/*
 * The kernel orders a reply before the requests it causes (a READ after
 * its OPEN's reply, a RELEASE after the last READ's), but those may run on
 * different threads, with nothing in canopyd between them: another worker,
 * another io_uring queue. ThreadSanitizer cannot see the kernel's order;
 * under it, every reply releases and every request acquires one counter,
 * which is what the kernel's own locks do. Nothing otherwise.
 */
#if defined(__SANITIZE_THREAD__)
extern atomic_ulong chan_kernel_order;
static inline void chan_order_release(void)
{
	atomic_fetch_add_explicit(&chan_kernel_order, 1, memory_order_release);
}
static inline void chan_order_acquire(void)
{
	(void)atomic_load_explicit(&chan_kernel_order, memory_order_acquire);
}
#else
static inline void chan_order_release(void) {}
static inline void chan_order_acquire(void) {}
#endif

int reply_err(struct req *r, int err); /* err: 0 or -errno */
int reply_buf(struct req *r, const void *data, size_t len);
/* iov[0] is left free for the header; @cnt counts it. */
int reply_iov(struct req *r, struct iovec *iov, int cnt);
/* Reply with @len bytes of @fd at @off: spliced when the reply fits the
 * worker's pipe, else written from @map (the whole file mapped, or NULL),
 * else copied through the worker's buffer. */
int reply_fd(struct req *r, int fd, const char *map, uint64_t off,
	     size_t len);
/* Would reply_fd() write @len bytes from a mapping (not splice them)? */
bool reply_wants_map(const struct req *r, size_t len);
void worker_ready(struct worker *w, struct cache_wait *list);
/* Run the continuations woken so far. */
void worker_run_ready(struct worker *w);

/* ---- request handlers (ops*.c) ------------------------------------------ */

/* Validate and run one request of @len bytes read into w->reqbuf. */
void ops_dispatch(struct worker *w, const void *buf, size_t len);
/* The same for a request that came in io_uring entry @ent. */
void ops_dispatch_ent(struct worker *w, struct ring_ent *ent,
		      const void *buf, size_t len);

typedef void (*op_fn)(struct req *r);
struct op_desc {
	op_fn fn;
	size_t in_min;  /* minimum body size */
	bool name;      /* body ends with a NUL-terminated name */
};
extern const struct op_desc ops_table[CANOPY_FUSE_OPCODES];

void op_init(struct req *r);
void op_destroy(struct req *r);
void op_lookup(struct req *r);
void op_forget(struct req *r);
void op_batch_forget(struct req *r);
void op_getattr(struct req *r);
void op_readlink(struct req *r);
void op_statfs(struct req *r);
void op_access(struct req *r);
void op_getxattr(struct req *r);
void op_listxattr(struct req *r);
void ops_file_init(struct canopy *cp);
void op_open(struct req *r);
void op_read(struct req *r);
void op_release(struct req *r);
void op_flush(struct req *r);
void op_lseek(struct req *r);
void op_opendir(struct req *r);
void op_readdir(struct req *r);
void op_readdirplus(struct req *r);
void op_releasedir(struct req *r);

/* Fill a fuse_attr from statx, with the inode number canopy reports. */
struct fuse_attr;
void attr_from_statx(struct fuse_attr *a, const struct statx *stx);
/* Attribute timeout split into the kernel's (sec, nsec). */
void timeout_split(double t, uint64_t *sec, uint32_t *nsec);

/* ---- fetching (resolve.c) ----------------------------------------------- */

/*
 * Make [off, off+len) of @o present in its cache file. Returns 0 when it is,
 * CACHE_PARKED when @cw was parked (it is woken later), or -errno.
 * May fetch blocks itself, synchronously, through the worker's ring.
 */
int resolve_range(struct worker *w, struct cache_obj *o, uint64_t off,
		  uint64_t len, struct cache_wait *cw);
/*
 * resolve_range() for a thread that may block (peer servers, prefetch):
 * waits for fetches in flight of other threads. 0 or -errno.
 */
int resolve_range_wait(struct worker *w, struct cache_obj *o, uint64_t off,
		       uint64_t len);
/*
 * After a read of [off, off+len) was answered: if it continues a sequential
 * run, have the io.fetch_ahead blocks after it fetched by the fetch
 * threads (or, with none, the next block now, by this worker), so that
 * fetching overlaps with the application consuming what it got (the
 * kernel's readahead window is smaller than a block and would ask for it
 * only when it is needed).
 */
void resolve_readahead(struct worker *w, struct cache_obj *o, uint64_t off,
		       uint64_t len);
/*
 * The fetch threads: started once the cache and the view are set up;
 * stopped after the kernel connection is gone and before the workers'
 * fds are closed (the threads answer the READs parked on their blocks).
 */
int resolve_start(struct canopy *cp);
void resolve_stop(void);

/* ---- metadata through the tree (meta.c) --------------------------------- */

/*
 * On a single node these are the backing store's answers. In a tree, the
 * attributes of a path belong to the owner of its directory, a directory's
 * listing (with the attributes of its entries) to the owner of the
 * directory: they are asked of the parent in the owner's tree, kept for
 * the attribute timeout (negative answers too), and identical requests in
 * flight are coalesced.
 */
struct meta_dent {
	char *name;
	uint8_t type;   /* DT_* */
	int err;        /* 0: stx is valid */
	struct statx stx;
};
struct meta_list {
	atomic_uint refs;
	size_t n;
	struct meta_dent *ents;  /* without "." and ".." */
};

int meta_init(struct canopy *cp);
void meta_fini(void);
int meta_stat(struct worker *w, const char *path, struct statx *stx);
ssize_t meta_readlink(struct worker *w, const char *path, char *buf,
		      size_t len);
/* On success *out belongs to the caller; release with meta_list_put(). */
int meta_list(struct worker *w, const char *path, struct meta_list **out);
void meta_list_put(struct meta_list *l);
/* Append an entry (err -ENOENT until filled); *cap is l->ents' room. */
int meta_list_add(struct meta_list *l, size_t *cap, const char *name,
		  uint8_t type);
/* Drop everything cached (drop-caches). */
void meta_drop_all(void);
/* Local answers (the backing store, or the view above the exports). */
int meta_local_list(struct worker *w, const char *path,
		    struct meta_list **out);

/* ---- peers (peer.c, peer_client.c, peer_serve.c) ------------------------ */

/*
 * Start the transport and the threads that serve peers when the config has
 * nodes; a no-op (cp->peers stays NULL) on a single node.
 */
int peers_start(struct canopy *cp, char *err, size_t errlen);
void peers_stop(struct canopy *cp);
/*
 * Fetch block @b of @o (@len bytes at b * block size) from the peers into
 * the cache file. Returns 0 when the block is there, -EREMOTE when this node
 * must read the backing store itself (it owns the block, or every peer on
 * the way failed: counted as a failover), or the -errno the owner reported.
 */
int peers_fetch_block(struct worker *w, struct cache_obj *o, uint64_t b,
		      uint64_t len);
/*
 * Metadata from the owner's tree; -EREMOTE when this node must answer it
 * from the backing store. @dir is the directory whose owner decides.
 */
int peers_stat(struct worker *w, const char *dir, const char *path,
	       struct statx *stx);
ssize_t peers_readlink(struct worker *w, const char *dir, const char *path,
		       char *buf, size_t len);
int peers_list(struct worker *w, const char *path, struct meta_list **out);
/*
 * Before worker_teardown() of an aux worker that fetched from peers:
 * forget its buffer's registration with the transport.
 */
void peers_worker_release(struct canopy *cp, struct worker *w);
/* Does this node read @path's blocks from the backing store itself? */
bool peers_owns(struct canopy *cp, const char *path);
/* The "tree" text of canopyctl, malloc'd; NULL on a single node. */
char *peers_tree_text(struct canopy *cp);
/*
 * Ping this node's parent in each tree (each distinct parent once); the
 * names of those that did not answer go into @out as "n1, n4". Returns
 * how many did not answer; 0 on a single node.
 */
int peers_unreachable_parents(struct canopy *cp, char *out, size_t len);
/* One line for status: "node n1 (3 of 8), 2 roots, fanout 4, rpc". */
void peers_status(struct canopy *cp, char *buf, size_t len);

/* ---- control socket (ctl.c) --------------------------------------------- */

/* Bind the socket (before mounting); then serve it (after INIT). */
int ctl_open(struct canopy *cp);
int ctl_start(struct canopy *cp);
const char *ctl_socket_path(void);
void ctl_stop(void);
/* status text (or JSON) into a malloc'd string */
char *ctl_status(struct canopy *cp, bool json);

/* ---- prefetch (prefetch.c) ---------------------------------------------- */

/*
 * Warm the caches of the whole tree (or of this node alone) with the @n
 * backing paths @paths, within @timeout_ms; blocks until done. *out is the
 * answer for canopyctl, malloc'd ("error: ..." on failure). 0 or -errno
 * (-ENOMEM: no answer).
 */
int prefetch_run(struct canopy *cp, char **paths, size_t n,
		 uint64_t timeout_ms, char **out);


#endif /* CANOPY_CANOPYD_I_H */
