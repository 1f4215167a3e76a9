// SPDX-License-Identifier: MIT
/*
 * daemon/chan.c - the /dev/fuse kernel channel.
 *
 * DESIGN: libfuse3 mounts and unmounts (fusermount3 when unprivileged); the
 * protocol itself is spoken here, so that canopyd can negotiate what the
 * packaged libfuse cannot (passthrough, requests above 1 MiB).
 *
 * Threads: N workers, each reading requests from its own clone of the
 * session's /dev/fuse fd (FUSE_DEV_IOC_CLONE) and replying on the fd the
 * request came from (the kernel matches replies on that fd's list; the
 * replies themselves are in reply.c). A worker runs one request at a time;
 * a request that must wait for a fetch another worker is doing parks, and
 * is finished later by the worker that ends the fetch, from its ready
 * list, after its own request.
 *
 * Polling (fuse.poll_us): a sleeping worker costs each request two
 * wakeups across cpus, the worker's and then the caller's. The first is
 * avoided for a caller that comes back soon (an import opens file after
 * file): after a request, one worker at a time reads its fd non-blocking
 * until the next request or poll_us, and sleeps in read() only then. The
 * other workers sleep as before, so at most one cpu polls, and only while
 * requests keep coming.
 *
 * Parking (with polling on): a worker asleep in read() is woken by the
 * kernel for every request queued, even one the poller takes first, and
 * that wakeup costs the caller more than the rest of its request. So while
 * a worker reads or polls, the others wait in userspace (a futex) instead,
 * where the kernel cannot see them. A parked worker is woken to read when
 * the only reader may wait (chan_may_block(): a backing store or network
 * operation, or another thread's), when requests were already queued each
 * time the poller looked for several in a row, and, as a backstop, when
 * no request was read for a whole tick of the main thread while one is
 * being served. Served from caches, requests are answered one after the
 * other by one hot worker; anything slow runs beside the others.
 *
 * Shutdown: the main thread unmounts; the kernel sends DESTROY (answered by
 * a worker) and then ends the connection, so every worker's read fails with
 * ENODEV and the worker exits; the main thread joins them. If files are
 * still open on the lazily unmounted tree, no DESTROY comes: after a grace
 * period the connection is aborted through /sys/fs/fuse/connections when
 * fusectl is mounted, and the workers are interrupted with SIGUSR2 (their
 * read fails with EINTR and they see cp->stopping); closing the last
 * /dev/fuse fd then ends the connection. An umount by someone else ends
 * the connection the same way (no DESTROY for a non-block mount): the
 * first worker to read ENODEV sets cp->stopping, and the main thread stops
 * the daemon as after a signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>

#include "canopyd_i.h"
#include "io.h"

/* Requests on a read-only mount are small; writes never come (max_write). */
#define REQBUF_LEN (128U * 1024 + PAGE)

int chan_mount(struct canopy *cp)
{
	static const struct fuse_lowlevel_ops no_ops;
	char fsname[256], opts[512];
	char *argv[] = { "canopyd", "-o", opts, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	bool root = geteuid() == 0;

	snprintf(fsname, sizeof(fsname), "canopy:%s",
		 cp->conf->nexports ? cp->conf->exports[0] : "/");
	/* commas would split the option list */
	for (char *p = fsname; *p; p++)
		if (*p == ',')
			*p = '_';
	snprintf(opts, sizeof(opts),
		 "ro,default_permissions,subtype=canopy,fsname=%s%s", fsname,
		 root ? ",allow_other" : "");
	cp->se = fuse_session_new(&args, &no_ops, sizeof(no_ops), cp);
	fuse_opt_free_args(&args); /* option parsing may have copied them */
	if (!cp->se)
		return -EINVAL;
	if (fuse_session_mount(cp->se, cp->mnt) != 0) {
		fuse_session_destroy(cp->se);
		cp->se = NULL;
		return -EIO;
	}
	cp->fd = fuse_session_fd(cp->se);
	return 0;
}

int chan_clone_fd(int master)
{
	uint32_t m = master;
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, FUSE_DEV_IOC_CLONE, &m) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

static void pipe_close(struct worker *w)
{
	if (w->pipe[0] >= 0)
		close(w->pipe[0]);
	if (w->pipe[1] >= 0)
		close(w->pipe[1]);
	w->pipe[0] = w->pipe[1] = -1;
	w->pipe_len = 0;
}

/*
 * A pipe that holds a whole reply: header page plus max_read of data. A
 * large pipe needs a large array in the kernel that may not be had: halve
 * until it is (replies larger than the pipe are copied, not spliced).
 */
static void pipe_open(struct worker *w, size_t want)
{
	int sz = -1;

	if (pipe2(w->pipe, O_CLOEXEC) < 0) {
		w->pipe[0] = w->pipe[1] = -1;
		return;
	}
	for (; want >= 2 * PAGE && sz < 0; want /= 2)
		sz = fcntl(w->pipe[1], F_SETPIPE_SZ, (int)want);
	if (sz < 0)
		sz = fcntl(w->pipe[1], F_GETPIPE_SZ);
	w->pipe_len = sz > 0 ? (size_t)sz : 0;
}

static size_t data_buf_len(const struct canopy *cp)
{
	size_t max_read = (size_t)cp->conf->max_pages * PAGE;
	size_t bs = cache_block_size(cp->cache);

	return max_read > bs ? max_read : bs;
}

/*
 * The data buffers and the ring of a worker. Registering the buffer pins
 * the block's worth of it (RSS); only the FUSE workers, which fetch small
 * files through it all the time, do (@fixed). Large files' blocks are read
 * straight into the cache file.
 */
static int worker_buffers(struct canopy *cp, struct worker *w, bool fixed)
{
	int ret;

	w->reqbuf_len = REQBUF_LEN;
	w->reqbuf = malloc(w->reqbuf_len);
	w->buf_len = data_buf_len(cp);
	/* pages are touched only as large requests need them */
	w->buf = mmap(NULL, w->buf_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!w->reqbuf || w->buf == MAP_FAILED) {
		w->buf = NULL;
		return -ENOMEM;
	}
	ret = uring_new(cp->conf->uring_depth, &w->ring);
	if (ret < 0)
		return ret;
	/* the fetch region is the one reused by every backing read */
	if (fixed &&
	    uring_register_buffer(w->ring, w->buf, cache_block_size(cp->cache)))
		log_debug("worker %u: no registered buffer", w->idx);
	return 0;
}

static int worker_setup(struct canopy *cp, struct worker *w)
{
	int ret;

	w->cp = cp;
	w->pipe[0] = w->pipe[1] = -1;
	w->fd = chan_clone_fd(cp->fd);
	if (w->fd < 0)
		return w->fd;
	ret = worker_buffers(cp, w, true);
	if (ret)
		return ret;
	if (cp->conf->splice)
		pipe_open(w, w->buf_len + PAGE);
	return 0;
}

int worker_setup_aux(struct canopy *cp, struct worker *w)
{
	w->cp = cp;
	w->pipe[0] = w->pipe[1] = -1;
	w->fd = -1;
	return worker_buffers(cp, w, false);
}

void worker_pipe_open(struct worker *w)
{
	if (w->cp->conf->splice)
		pipe_open(w, w->buf_len + PAGE);
}

/* Empty the pipe after a failed splice; a new pipe is cheaper than a drain. */
void worker_pipe_reset(struct worker *w)
{
	size_t len = w->pipe_len;

	pipe_close(w);
	pipe_open(w, len);
}

void worker_teardown(struct worker *w)
{
	uring_free(w->ring);
	w->ring = NULL;
	if (w->buf)
		munmap(w->buf, w->buf_len);
	w->buf = NULL;
	free(w->reqbuf);
	w->reqbuf = NULL;
	pipe_close(w);
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

void worker_ready(struct worker *w, struct cache_wait *list)
{
	struct cache_wait *next;

	for (; list; list = next) {
		next = list->next;
		list->next = w->ready;
		w->ready = list;
	}
}

void worker_run_ready(struct worker *w)
{
	struct cache_wait *cw;

	while ((cw = w->ready)) {
		w->ready = cw->next;
		cw->next = NULL;
		cw->wake(w, cw, cw->err);
	}
}

/* Pin worker @idx to the idx-th cpu of the configured list. */
static void worker_pin(struct canopy *cp, struct worker *w)
{
	const char *s = cp->conf->cpus;
	int cpus[CPU_SETSIZE], n = 0;
	cpu_set_t set;

	if (!s || !*s)
		return;
	while (*s && n < CPU_SETSIZE) {
		char *end;
		long a = strtol(s, &end, 10), b = a;

		if (end == s)
			break;
		if (*end == '-')
			b = strtol(end + 1, &end, 10);
		for (; a <= b && n < CPU_SETSIZE; a++)
			if (a >= 0 && a < CPU_SETSIZE)
				cpus[n++] = (int)a;
		s = *end == ',' ? end + 1 : end;
		if (*end != ',')
			break;
	}
	if (!n)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpus[w->idx % n], &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		log_warn("worker %u: cannot pin to cpu %d", w->idx,
			 cpus[w->idx % n]);
}

/* ---- parking ------------------------------------------------------------ */

/* Requests in a row found already queued that call in another worker. */
#define BACKLOG_STREAK 8

static __thread struct worker *cur_worker; /* a /dev/fuse worker's own */

static long futex(atomic_uint *word, int op, unsigned val)
{
	return syscall(SYS_futex, word, op | FUTEX_PRIVATE_FLAG, val, NULL,
		       NULL, 0);
}

/* Wake one parked worker, if there is one, to read. */
static void unpark_one(struct canopy *cp)
{
	if (!atomic_load(&cp->parked))
		return;
	atomic_fetch_add(&cp->park_seq, 1);
	futex(&cp->park_seq, FUTEX_WAKE, 1);
	STAT_INC(unparks);
}

/* Wake every parked worker, for good: the connection is ending. */
static void unpark_all(struct canopy *cp)
{
	atomic_store(&cp->chan_ending, true);
	atomic_fetch_add(&cp->park_seq, 1);
	futex(&cp->park_seq, FUTEX_WAKE, INT_MAX);
}

/*
 * Wait while another worker reads (parking is for polling: without it,
 * a sleeping reader takes each request it is woken for). Returns false if
 * the wait was interrupted to stop (chan_join()).
 *
 * No wakeup is lost: a worker counts itself parked before it looks at
 * the readers, and a waker counts itself out of the readers before it
 * looks at the parked (all sequentially consistent), so one of the two
 * sees the other; and the futex word is read before either look.
 */
static bool worker_park(struct worker *w)
{
	struct canopy *cp = w->cp;

	if (!cp->conf->poll_us || cp->nworkers < 2)
		return true;
	for (;;) {
		unsigned seq = atomic_load(&cp->park_seq);
		bool stop = false;

		if (!atomic_load(&cp->readers) ||
		    atomic_load(&cp->chan_ending))
			return true;
		atomic_fetch_add(&cp->parked, 1);
		STAT_INC(parked);
		if (atomic_load(&cp->readers) &&
		    !atomic_load(&cp->chan_ending) &&
		    futex(&cp->park_seq, FUTEX_WAIT, seq) < 0 && errno == EINTR)
			stop = atomic_load(&cp->stopping);
		STAT_SUB(parked, 1);
		atomic_fetch_sub(&cp->parked, 1);
		if (stop)
			return false;
	}
}

void chan_may_block(void)
{
	struct worker *w = cur_worker;

	if (!w || w->covered)
		return;
	w->covered = true;
	if (!atomic_load(&w->cp->readers))
		unpark_one(w->cp);
}

void chan_tick(struct canopy *cp)
{
	unsigned long taken = atomic_load(&cp->taken);

	/* a request served for a whole tick, with nobody reading */
	if (taken == cp->tick_taken && !atomic_load(&cp->readers) &&
	    atomic_load(&cp->parked))
		unpark_one(cp);
	cp->tick_taken = taken;
}

/*
 * Poll @w's fd for the next request for up to fuse.poll_us, if no other
 * worker is polling. Returns its length; 0 when none came (or another
 * worker polls), for the caller to sleep in read(); -1 with errno set when
 * the read failed otherwise.
 */
static ssize_t worker_poll(struct worker *w)
{
	struct canopy *cp = w->cp;
	uint64_t end;
	ssize_t n;
	int fl, e;

	if (!cp->conf->poll_us || atomic_exchange(&cp->polling, true))
		return 0;
	fl = fcntl(w->fd, F_GETFL);
	if (fl < 0 || fcntl(w->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		atomic_store(&cp->polling, false);
		return 0;
	}
	end = now_ns() + cp->conf->poll_us * 1000ULL;
	n = read(w->fd, w->reqbuf, w->reqbuf_len);
	if (n > 0) {
		/* queued while the last one was served: more than one
		 * worker's worth, if it keeps happening */
		if (++w->streak >= BACKLOG_STREAK) {
			w->streak = 0;
			unpark_one(cp);
		}
	} else {
		w->streak = 0;
	}
	while (n < 0 && errno == EAGAIN && now_ns() < end)
		n = read(w->fd, w->reqbuf, w->reqbuf_len);
	e = errno;
	fcntl(w->fd, F_SETFL, fl);
	atomic_store(&cp->polling, false);
	if (n > 0)
		STAT_INC(polled);
	else if (n < 0 && e == EAGAIN)
		n = 0;
	errno = e;
	return n;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct canopy *cp = w->cp;

	worker_pin(cp, w);
	cur_worker = w;
	for (;;) {
		ssize_t n;

		if (!worker_park(w))
			break; /* interrupted by chan_join() */
		atomic_fetch_add(&cp->readers, 1);
		n = worker_poll(w);
		if (n == 0)
			n = read(w->fd, w->reqbuf, w->reqbuf_len);
		atomic_fetch_sub(&cp->readers, 1);
		w->covered = false;

		if (n < 0) {
			int e = errno;

			if (e == EINTR && atomic_load(&w->cp->stopping))
				break; /* interrupted by chan_join() */
			if (e == EINTR || e == EAGAIN || e == ENOENT)
				continue; /* ENOENT: the request was aborted */
			if (e == ENODEV) {
				/* unmounted, by us or by an admin's umount:
				 * the main thread sees it on its next tick */
				atomic_store(&cp->stopping, true);
				break;
			}
			log_err("worker %u: read /dev/fuse: %s", w->idx,
				strerror(e));
			break;
		}
		atomic_fetch_add_explicit(&cp->taken, 1, memory_order_relaxed);
		ops_dispatch(w, w->reqbuf, n);
		worker_run_ready(w);
	}
	unpark_all(cp); /* the others read, and see the end themselves */
	worker_run_ready(w);
	cur_worker = NULL;
	return NULL;
}

static void on_sigusr2(int sig)
{
	(void)sig; /* only to interrupt a worker's read */
}

int chan_start(struct canopy *cp)
{
	struct sigaction sa = { .sa_handler = on_sigusr2 };
	unsigned i;
	int ret;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL); /* no SA_RESTART: read() gets EINTR */

	cp->workers = calloc(cp->nworkers, sizeof(*cp->workers));
	if (!cp->workers)
		return -ENOMEM;
	for (i = 0; i < cp->nworkers; i++) {
		struct worker *w = &cp->workers[i];

		w->idx = i;
		w->fd = -1;
		ret = worker_setup(cp, w);
		if (ret < 0) {
			log_err("worker %u: %s", i, strerror(-ret));
			goto err_teardown;
		}
	}
	for (i = 0; i < cp->nworkers; i++) {
		ret = -pthread_create(&cp->workers[i].tid, NULL, worker_main,
				      &cp->workers[i]);
		if (ret) {
			log_err("cannot start worker %u: %s", i,
				strerror(-ret));
			cp->nworkers = i;
			return ret;
		}
	}
	return 0;

err_teardown:
	for (i = 0; i < cp->nworkers; i++)
		worker_teardown(&cp->workers[i]);
	free(cp->workers);
	cp->workers = NULL;
	cp->nworkers = 0;
	return ret;
}

int chan_wait_init(struct canopy *cp, int timeout_ms)
{
	struct timespec ts;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&cp->lock);
	while (!cp->neg.done && ret == 0)
		ret = pthread_cond_timedwait(&cp->cond, &cp->lock, &ts);
	pthread_mutex_unlock(&cp->lock);
	if (!cp->neg.done)
		return -ETIMEDOUT;
	/* the kernel holds requests until the queues are registered */
	chan_uring_start(cp);
	return 0;
}

/* Abort the connection of @cp's mount, for files still open at stop. */
static void abort_conn(struct canopy *cp)
{
	char path[96];
	int fd;

	if (!cp->neg.dev_minor && !cp->neg.dev_major)
		return;
	snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%u/abort",
		 cp->neg.dev_minor);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return; /* already gone: DESTROY ended it */
	if (write(fd, "1", 1) < 0)
		log_debug("abort %s: %s", path, strerror(errno));
	close(fd);
}

void chan_unmount(struct canopy *cp)
{
	if (!cp->se)
		return;
	atomic_store(&cp->stopping, true);
	fuse_session_unmount(cp->se);
}

void chan_join(struct canopy *cp)
{
	uint64_t deadline = now_ns() + 2000000000ULL;
	unsigned i;
	bool forced = false;

	for (i = 0; i < cp->nworkers; i++) {
		struct worker *w = &cp->workers[i];

		/* DESTROY ends the connection; wait for it, then force it */
		while (pthread_tryjoin_np(w->tid, NULL) == EBUSY) {
			if (now_ns() > deadline) {
				unsigned j;

				if (!forced) {
					log_notice("files are still open on "
						   "%s: ending the connection",
						   cp->mnt);
					abort_conn(cp);
					forced = true;
				}
				atomic_store(&cp->stopping, true);
				for (j = i; j < cp->nworkers; j++)
					pthread_kill(cp->workers[j].tid,
						     SIGUSR2);
				deadline = now_ns() + 100000000ULL;
			}
			usleep(10000);
		}
	}
	chan_uring_join(cp, deadline);
	for (i = 0; i < cp->nworkers; i++)
		worker_teardown(&cp->workers[i]);
	free(cp->workers);
	cp->workers = NULL;
	cp->nworkers = 0;
	if (cp->se) {
		fuse_session_destroy(cp->se);
		cp->se = NULL;
	}
}

/* ---- INIT negotiation --------------------------------------------------- */

static unsigned read_uint_file(const char *path, unsigned dflt)
{
	unsigned v = dflt;
	FILE *f = fopen(path, "re");

	if (!f)
		return dflt;
	if (fscanf(f, "%u", &v) != 1)
		v = dflt;
	fclose(f);
	return v;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static bool mountinfo_path_eq(const char *field, const char *path)
{
	while (*field && *path) {
		if (field[0] == '\\' && field[1] >= '0' && field[1] <= '3' &&
		    field[2] && field[3]) {
			int c = (field[1] - '0') * 64 + (field[2] - '0') * 8 +
				(field[3] - '0');

			if (c != (unsigned char)*path)
				return false;
			field += 4;
		} else if (*field++ != *path) {
			return false;
		}
		path++;
	}
	return !*field && !*path;
}

/* The device numbers of our mount, from /proc/self/mountinfo. */
static int find_mount_dev(const char *mnt, unsigned *maj, unsigned *min)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], mp[4096], fstype[256];
	unsigned a, b;
	int found = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*u %*u %u:%u %*s %4095s", &a, &b,
				   mp) != 3)
			continue;
		if (sscanf(sep + 3, "%255s", fstype) != 1)
			continue;
		if (strcmp(fstype, "fuse.canopy") || !mountinfo_path_eq(mp, mnt))
			continue;
		*maj = a;
		*min = b;
		found = 0; /* the last match is the top of the stack */
	}
	fclose(f);
	return found;
}

/* The readahead canopy wants, in KiB: configured, or max_read. */
static unsigned readahead_want_kb(const struct canopy *cp, unsigned max_pages)
{
	return cp->conf->readahead_kb ? cp->conf->readahead_kb :
					max_pages * (PAGE / 1024);
}

/*
 * Cached reads are cut at the bdi readahead. INIT can only lower it on
 * stock kernels (kmod-patches/ lets it rise), so raise it through sysfs,
 * then report what the mount really has.
 */
static void raise_readahead(struct canopy *cp)
{
	struct negotiated *neg = &cp->neg;
	unsigned kb = readahead_want_kb(cp, neg->max_pages);
	char path[128], val[32];
	int fd, len;

	if (find_mount_dev(cp->mnt, &neg->dev_major, &neg->dev_minor)) {
		log_warn("cannot find the mount of %s in mountinfo", cp->mnt);
		return;
	}
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb",
		 neg->dev_major, neg->dev_minor);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		len = snprintf(val, sizeof(val), "%u", kb);
		if (write(fd, val, len) != len)
			log_notice("cannot set %s to %u: %s", path, kb,
				   strerror(errno));
		close(fd);
	} else if (errno != EACCES && errno != EPERM) {
		log_notice("readahead: %s: %s", path, strerror(errno));
	}
	neg->readahead_kb = read_uint_file(path, 0);
}

/*
 * The largest READ reply that is spliced: what the smallest worker pipe
 * holds beside its header page. Without CAP_SYS_RESOURCE a pipe grows only
 * to fs.pipe-max-size (1 MiB by default), one page short of a 1 MiB reply,
 * and a larger reply is written from the cache file's mapping or copied
 * (reply.c): say so once.
 */
static void splice_limits(struct canopy *cp)
{
	struct negotiated *neg = &cp->neg;
	size_t least = SIZE_MAX, max_read = (size_t)neg->max_pages * PAGE;
	unsigned i;

	for (i = 0; i < cp->nworkers; i++)
		if (cp->workers[i].pipe[1] >= 0 &&
		    cp->workers[i].pipe_len < least)
			least = cp->workers[i].pipe_len;
	neg->splice_max = !neg->splice || least == SIZE_MAX || least <= PAGE ?
				  0 : (uint32_t)(least - PAGE);
	if (neg->splice && neg->splice_max < max_read)
		log_notice("splice: a worker pipe holds %zu KiB (fs.pipe-max-size "
			   "is %u KiB; more needs CAP_SYS_RESOURCE): READ "
			   "replies over %u KiB are copied, not spliced; "
			   "fs.pipe-max-size = %zu splices them all",
			   least == SIZE_MAX ? 0 : least / 1024,
			   read_uint_file("/proc/sys/fs/pipe-max-size", 0) /
				   1024,
			   neg->splice_max / 1024, max_read + PAGE);
}

void op_init(struct req *r)
{
	const struct fuse_init_in *in = r->in;
	struct canopy *cp = r->w->cp;
	struct negotiated *neg = &cp->neg;
	struct compat_init_out out;
	uint64_t kflags, want, got, ra;
	unsigned limit;
	size_t outlen = sizeof(out);

	memset(&out, 0, sizeof(out));
	out.major = CANOPY_PROTO_MAJOR;
	out.minor = CANOPY_PROTO_MINOR;
	if (neg->done) {
		reply_err(r, -EIO);
		return;
	}
	if (in->major < 7) {
		log_err("kernel FUSE protocol %u.%u is too old", in->major,
			in->minor);
		reply_err(r, -EPROTO);
		return;
	}
	if (in->major > 7) {
		/* answer with ours; the kernel sends INIT again for 7 */
		reply_buf(r, &out, sizeof(out));
		return;
	}
	kflags = in->flags;
	if (r->inlen >= offsetof(struct fuse_init_in, flags2) + 4 &&
	    (in->flags & FUSE_INIT_EXT))
		kflags |= (uint64_t)in->flags2 << 32;

	want = FUSE_ASYNC_READ | FUSE_PARALLEL_DIROPS | FUSE_DO_READDIRPLUS |
	       FUSE_CACHE_SYMLINKS | FUSE_AUTO_INVAL_DATA | FUSE_MAX_PAGES |
	       FUSE_INIT_EXT | FUSE_DIRECT_IO_ALLOW_MMAP;
	if (cp->conf->splice)
		want |= FUSE_SPLICE_WRITE | FUSE_SPLICE_MOVE | FUSE_SPLICE_READ;
	if (cp->can_passthrough)
		want |= FUSE_PASSTHROUGH;
	if (cp->conf->fuse_uring)
		want |= FUSE_OVER_IO_URING;
	got = want & kflags;

	out.minor = in->minor < CANOPY_PROTO_MINOR ? in->minor :
						     CANOPY_PROTO_MINOR;
	out.flags = (uint32_t)got;
	out.flags2 = (uint32_t)(got >> 32);
	/* the kernel takes the smaller of this and the mount's readahead */
	out.max_readahead = in->max_readahead;
	out.max_background = 64;
	out.congestion_threshold = 48;
	out.max_write = PAGE; /* read-only: no write ever reaches us */
	out.time_gran = 1;
	limit = read_uint_file("/proc/sys/fs/fuse/max_pages_limit", 256);
	if (got & FUSE_MAX_PAGES) {
		unsigned mp = cp->conf->max_pages;

		out.max_pages = mp < limit ? mp : limit;
		if (out.max_pages == 0)
			out.max_pages = 1;
	}
	if (got & FUSE_PASSTHROUGH)
		out.max_stack_depth = 1;
	ra = (uint64_t)readahead_want_kb(cp, (got & FUSE_MAX_PAGES) ?
					 out.max_pages : 32) * 1024;
	if (ra > out.max_readahead)
		out.max_readahead = ra > UINT32_MAX ? UINT32_MAX : (uint32_t)ra;
	if (out.minor < 23)
		outlen = 24; /* FUSE_COMPAT_22_INIT_OUT_SIZE */

	neg->major = out.major;
	neg->minor = out.minor;
	neg->kernel_minor = in->minor;
	neg->kernel_flags = kflags;
	neg->flags = got;
	neg->max_pages = (got & FUSE_MAX_PAGES) ? out.max_pages : 32;
	neg->max_pages_limit = limit;
	neg->max_readahead = out.max_readahead;
	neg->passthrough = got & FUSE_PASSTHROUGH;
	if (!neg->passthrough && !neg->passthrough_why[0])
		snprintf(neg->passthrough_why, sizeof(neg->passthrough_why),
			 "%s", cp->can_passthrough ?
			 "the kernel does not offer it" : "disabled");
	neg->splice = (got & FUSE_SPLICE_WRITE) && cp->conf->splice;
	neg->uring = got & FUSE_OVER_IO_URING;
	if (!neg->uring)
		snprintf(cp->uring_why, sizeof(cp->uring_why), "%s",
			 !cp->conf->fuse_uring ? "disabled by fuse.uring" :
			 "the kernel does not offer it; the fuse module has "
			 "enable_uring=N");

	splice_limits(cp);

	reply_buf(r, &out, outlen);
	raise_readahead(cp);

	log_info("FUSE %u.%u (kernel 7.%u): max_pages %u (limit %u), "
		 "max_read %u KiB, readahead %u KiB, passthrough %s, splice %s, "
		 "%u threads", neg->major, neg->minor, neg->kernel_minor,
		 neg->max_pages, limit, neg->max_pages * 4, neg->readahead_kb,
		 neg->passthrough ? "on" : "off", neg->splice ? "on" : "off",
		 cp->nworkers);
	pthread_mutex_lock(&cp->lock);
	neg->done = true;
	pthread_cond_broadcast(&cp->cond);
	pthread_mutex_unlock(&cp->lock);
}

void op_destroy(struct req *r)
{
	atomic_store(&r->w->cp->stopping, true);
	reply_err(r, 0);
}
