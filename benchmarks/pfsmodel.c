/* SPDX-License-Identifier: MIT */
/*
 * benchmarks/pfsmodel.c - a model of a contended parallel file system.
 *
 * A read-only FUSE file system (libfuse3 high-level API) that serves a
 * directory through a fixed number of service slots, like the service
 * threads of a metadata server. Every operation takes a slot (a counting
 * semaphore; requests beyond the slot count queue), is executed, and keeps
 * the slot until its service time has passed:
 *
 *   metadata ops (getattr/lookup, readlink, open, release, opendir,
 *   readdir, releasedir, statfs):       --meta-us microseconds
 *   read:                               --data-us + bytes * ns-per-byte
 *
 * so N clients contend as on a real metadata server: the model serves at
 * most slots / meta-us metadata operations per second, whatever the load.
 * Every operation is counted; the counters are written as one JSON object
 * to --stats FILE on SIGUSR1 and when the file system is unmounted.
 *
 * The kernel's attribute, entry and negative-entry caches are off by default
 * (--cache-timeout 0), so every stat, open and lookup of the client reaches
 * the server, as on a client whose caches are cold or were invalidated.
 *
 *   pfsmodel [options] SOURCE MOUNTPOINT [FUSE options, e.g. -f]
 *
 * DESIGN: libfuse's multi-threaded loop (one thread per concurrent request,
 * created on demand) calls the handlers below; each handler brackets its
 * work with slot_take()/slot_give(). Counters are atomics. A stats thread
 * waits on a semaphore posted by the SIGUSR1 handler and writes the file;
 * the destroy callback writes it a last time.
 */
#define FUSE_USE_VERSION 35

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* ---- options -------------------------------------------------------- */

struct pfs_opts {
	char *source;
	char *stats;
	int slots;           /* --slots, default 4 */
	double meta_us;      /* --meta-us, default 250 */
	double data_us;      /* --data-us, default 0 (per read request) */
	double ns_per_byte;  /* --data-ns-per-byte, default 2 (500 MB/s) */
	double data_mbps;    /* --data-mbps, overrides ns-per-byte if > 0 */
	double cache_timeout;/* --cache-timeout, default 0 */
	int show_help;
	int n_nonopt;
};

#define PFS_OPT(t, p) { t, offsetof(struct pfs_opts, p), 1 }
static const struct fuse_opt pfs_opt_spec[] = {
	PFS_OPT("--slots=%d", slots),
	PFS_OPT("--meta-us=%lf", meta_us),
	PFS_OPT("--data-us=%lf", data_us),
	PFS_OPT("--data-ns-per-byte=%lf", ns_per_byte),
	PFS_OPT("--data-mbps=%lf", data_mbps),
	PFS_OPT("--cache-timeout=%lf", cache_timeout),
	PFS_OPT("--stats=%s", stats),
	PFS_OPT("--help", show_help),
	PFS_OPT("-h", show_help),
	FUSE_OPT_END
};

static struct pfs_opts opts = {
	.slots = 4,
	.meta_us = 250,
	.data_us = 0,
	.ns_per_byte = 2.0,
	.cache_timeout = 0,
};

static void usage(const char *prog)
{
	printf("usage: %s [options] SOURCE MOUNTPOINT [fuse options]\n"
	       "\n"
	       "Serves SOURCE read-only at MOUNTPOINT through a fixed number\n"
	       "of service slots, with a service time per operation.\n"
	       "\n"
	       "  --slots=N              concurrent service slots (4)\n"
	       "  --meta-us=US           service time of a metadata op (250)\n"
	       "  --data-us=US           fixed service time of a read (0)\n"
	       "  --data-ns-per-byte=NS  service time per byte read (2,\n"
	       "                         i.e. 500 MB/s per slot)\n"
	       "  --data-mbps=MBPS       the same as a rate (overrides)\n"
	       "  --cache-timeout=S      kernel attr/entry/negative timeout (0)\n"
	       "  --stats=FILE           write JSON counters here on SIGUSR1\n"
	       "                         and at unmount\n"
	       "  -f                     stay in the foreground\n"
	       "  -o OPT                 FUSE mount options\n",
	       prog);
}

/* ---- counters ------------------------------------------------------- */

enum pfs_op {
	OP_GETATTR,
	OP_READLINK,
	OP_OPEN,
	OP_READ,
	OP_RELEASE,
	OP_OPENDIR,
	OP_READDIR,
	OP_RELEASEDIR,
	OP_STATFS,
	OP_NR
};

static const char *const op_names[OP_NR] = {
	[OP_GETATTR] = "getattr",	[OP_READLINK] = "readlink",
	[OP_OPEN] = "open",		[OP_READ] = "read",
	[OP_RELEASE] = "release",	[OP_OPENDIR] = "opendir",
	[OP_READDIR] = "readdir",	[OP_RELEASEDIR] = "releasedir",
	[OP_STATFS] = "statfs",
};

struct pfs_stats {
	atomic_ullong count[OP_NR];
	atomic_ullong errors[OP_NR];
	atomic_ullong read_bytes;
	atomic_ullong wait_ns;     /* time spent queued for a slot */
	atomic_ullong busy_ns;     /* time slots were held */
	atomic_int inflight;       /* holding or waiting for a slot */
	atomic_int inflight_max;
};

static struct pfs_stats st;
static sem_t slots_sem;
static sem_t dump_sem;
static struct timespec start_ts;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Take a service slot; returns the time the service started. */
static uint64_t slot_take(void)
{
	int in = atomic_fetch_add(&st.inflight, 1) + 1;
	int max = atomic_load(&st.inflight_max);
	uint64_t t0, t1;

	while (in > max &&
	       !atomic_compare_exchange_weak(&st.inflight_max, &max, in))
		;
	t0 = now_ns();
	while (sem_wait(&slots_sem) < 0 && errno == EINTR)
		;
	t1 = now_ns();
	atomic_fetch_add(&st.wait_ns, t1 - t0);
	return t1;
}

/* Hold the slot until service_ns after t_start, then give it back. */
static void slot_give(uint64_t t_start, uint64_t service_ns)
{
	uint64_t end = t_start + service_ns;
	uint64_t t = now_ns();

	if (t < end) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t abs = (uint64_t)ts.tv_sec * 1000000000ull +
			       ts.tv_nsec + (end - t);
		ts.tv_sec = abs / 1000000000ull;
		ts.tv_nsec = abs % 1000000000ull;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
				       NULL) == EINTR)
			;
		t = now_ns();
	}
	atomic_fetch_add(&st.busy_ns, t - t_start);
	sem_post(&slots_sem);
	atomic_fetch_sub(&st.inflight, 1);
}

static uint64_t meta_ns(void)
{
	return (uint64_t)(opts.meta_us * 1000.0);
}

static void count(enum pfs_op op, int ret)
{
	atomic_fetch_add(&st.count[op], 1);
	if (ret < 0)
		atomic_fetch_add(&st.errors[op], 1);
}

static int write_stats(void)
{
	char tmp[PATH_MAX];
	FILE *f;
	double up;
	int i;

	if (!opts.stats)
		return 0;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", opts.stats) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	up = (double)(now_ns() - ((uint64_t)start_ts.tv_sec * 1000000000ull +
				  start_ts.tv_nsec)) / 1e9;
	fprintf(f, "{\"uptime_s\": %.6f, \"slots\": %d, \"meta_us\": %g, "
		   "\"data_us\": %g, \"ns_per_byte\": %g, ",
		up, opts.slots, opts.meta_us, opts.data_us, opts.ns_per_byte);
	unsigned long long meta = 0, total = 0;
	for (i = 0; i < OP_NR; i++) {
		unsigned long long c = atomic_load(&st.count[i]);

		fprintf(f, "\"%s\": %llu, \"%s_errors\": %llu, ", op_names[i],
			c, op_names[i], (unsigned long long)atomic_load(
						&st.errors[i]));
		total += c;
		if (i != OP_READ)
			meta += c;
	}
	fprintf(f, "\"meta_ops\": %llu, \"total_ops\": %llu, "
		   "\"read_bytes\": %llu, \"wait_s\": %.6f, \"busy_s\": %.6f, "
		   "\"inflight_max\": %d}\n",
		meta, total, (unsigned long long)atomic_load(&st.read_bytes),
		atomic_load(&st.wait_ns) / 1e9, atomic_load(&st.busy_ns) / 1e9,
		atomic_load(&st.inflight_max));
	if (fclose(f) != 0)
		return -errno;
	if (rename(tmp, opts.stats) < 0)
		return -errno;
	return 0;
}

static void on_usr1(int sig)
{
	(void)sig;
	sem_post(&dump_sem);
}

static void *stats_thread(void *arg)
{
	sigset_t set;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	for (;;) {
		while (sem_wait(&dump_sem) < 0 && errno == EINTR)
			;
		write_stats();
	}
	return NULL;
}

/* ---- file system ---------------------------------------------------- */

/* SOURCE + path; path always starts with '/'. */
static int src_path(char *buf, size_t len, const char *path)
{
	if (snprintf(buf, len, "%s%s", opts.source, path) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* Run one metadata operation inside a slot. */
#define META_OP(op, expr)                                                      \
	({                                                                     \
		uint64_t t0_ = slot_take();                                    \
		int r_ = (expr);                                               \
		slot_give(t0_, meta_ns());                                     \
		count(op, r_);                                                 \
		r_;                                                            \
	})

static int do_lstat(const char *p, struct stat *sb)
{
	return lstat(p, sb) < 0 ? -errno : 0;
}

static int pfs_getattr(const char *path, struct stat *sb,
		       struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	int ret;

	if (fi)
		return META_OP(OP_GETATTR,
			       fstat(fi->fh, sb) < 0 ? -errno : 0);
	ret = src_path(p, sizeof(p), path);
	if (ret < 0)
		return ret;
	return META_OP(OP_GETATTR, do_lstat(p, sb));
}

static int do_readlink(const char *p, char *buf, size_t size)
{
	ssize_t n = readlink(p, buf, size - 1);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int pfs_readlink(const char *path, char *buf, size_t size)
{
	char p[PATH_MAX];
	int ret = src_path(p, sizeof(p), path);

	if (ret < 0)
		return ret;
	return META_OP(OP_READLINK, do_readlink(p, buf, size));
}

static int do_open(const char *p, struct fuse_file_info *fi)
{
	int fd = open(p, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	fi->fh = fd;
	return 0;
}

static int pfs_open(const char *path, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	int ret;

	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	ret = src_path(p, sizeof(p), path);
	if (ret < 0)
		return ret;
	return META_OP(OP_OPEN, do_open(p, fi));
}

static int pfs_read(const char *path, char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	uint64_t t0 = slot_take();
	ssize_t n = pread(fi->fh, buf, size, off);
	int ret = n < 0 ? -errno : (int)n;
	uint64_t service = (uint64_t)(opts.data_us * 1000.0);

	if (n > 0) {
		service += (uint64_t)(opts.ns_per_byte * (double)n);
		atomic_fetch_add(&st.read_bytes, (unsigned long long)n);
	}
	slot_give(t0, service);
	count(OP_READ, ret);
	return ret;
}

static int do_close(int fd)
{
	return close(fd) < 0 ? -errno : 0;
}

static int pfs_release(const char *path, struct fuse_file_info *fi)
{
	META_OP(OP_RELEASE, do_close(fi->fh));
	return 0;
}

static int do_opendir(const char *p, struct fuse_file_info *fi)
{
	DIR *d = opendir(p);

	if (!d)
		return -errno;
	fi->fh = (uint64_t)(uintptr_t)d;
	return 0;
}

static int pfs_opendir(const char *path, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	int ret = src_path(p, sizeof(p), path);

	if (ret < 0)
		return ret;
	return META_OP(OP_OPENDIR, do_opendir(p, fi));
}

static int do_readdir(DIR *d, void *buf, fuse_fill_dir_t filler)
{
	struct dirent *de;

	rewinddir(d);
	errno = 0;
	while ((de = readdir(d))) {
		struct stat sb = { .st_ino = de->d_ino,
				   .st_mode = (mode_t)DTTOIF(de->d_type) };

		if (filler(buf, de->d_name, &sb, 0, 0))
			break;
	}
	return errno ? -errno : 0;
}

static int pfs_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
		       off_t off, struct fuse_file_info *fi,
		       enum fuse_readdir_flags flags)
{
	DIR *d = (DIR *)(uintptr_t)fi->fh;

	return META_OP(OP_READDIR, do_readdir(d, buf, filler));
}

static int do_closedir(DIR *d)
{
	return closedir(d) < 0 ? -errno : 0;
}

static int pfs_releasedir(const char *path, struct fuse_file_info *fi)
{
	DIR *d = (DIR *)(uintptr_t)fi->fh;

	META_OP(OP_RELEASEDIR, do_closedir(d));
	return 0;
}

static int do_statfs(struct statvfs *sv)
{
	return statvfs(opts.source, sv) < 0 ? -errno : 0;
}

static int pfs_statfs(const char *path, struct statvfs *sv)
{
	return META_OP(OP_STATFS, do_statfs(sv));
}

static void *pfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	pthread_t tid;

	/* here, not in main(): fuse_main() may have forked to background */
	if (pthread_create(&tid, NULL, stats_thread, NULL) == 0)
		pthread_detach(tid);
	cfg->use_ino = 1;
	cfg->readdir_ino = 1;
	cfg->kernel_cache = 0;
	cfg->attr_timeout = opts.cache_timeout;
	cfg->entry_timeout = opts.cache_timeout;
	cfg->negative_timeout = opts.cache_timeout;
	cfg->nullpath_ok = 1;
	return NULL;
}

static void pfs_destroy(void *data)
{
	write_stats();
}

static const struct fuse_operations pfs_ops = {
	.init = pfs_init,
	.destroy = pfs_destroy,
	.getattr = pfs_getattr,
	.readlink = pfs_readlink,
	.open = pfs_open,
	.read = pfs_read,
	.release = pfs_release,
	.opendir = pfs_opendir,
	.readdir = pfs_readdir,
	.releasedir = pfs_releasedir,
	.statfs = pfs_statfs,
};

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct pfs_opts *o = data;

	if (key == FUSE_OPT_KEY_NONOPT && o->n_nonopt++ == 0) {
		o->source = realpath(arg, NULL);
		if (!o->source) {
			fprintf(stderr, "pfsmodel: %s: %s\n", arg,
				strerror(errno));
			return -1;
		}
		return 0; /* consumed: the mount point is left for libfuse */
	}
	return 1;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigset_t set;
	char mntopts[256];
	int ret;

	if (fuse_opt_parse(&args, &opts, pfs_opt_spec, opt_proc) < 0)
		return 1;
	if (opts.show_help) {
		usage(argv[0]);
		return 0;
	}
	if (!opts.source || opts.n_nonopt < 2) {
		usage(argv[0]);
		return 1;
	}
	if (opts.slots < 1 || opts.meta_us < 0 || opts.data_us < 0 ||
	    opts.ns_per_byte < 0 || opts.cache_timeout < 0) {
		fprintf(stderr, "pfsmodel: invalid option value\n");
		return 1;
	}
	if (opts.data_mbps > 0)
		opts.ns_per_byte = 1000.0 / opts.data_mbps;

	snprintf(mntopts, sizeof(mntopts),
		 "-oro,default_permissions,fsname=pfsmodel:%s,subtype=pfsmodel%s",
		 opts.source, geteuid() == 0 ? ",allow_other" : "");
	fuse_opt_add_arg(&args, mntopts);

	/* sleeps are the model: make them precise */
	prctl(PR_SET_TIMERSLACK, 1UL);
	clock_gettime(CLOCK_MONOTONIC, &start_ts);
	sem_init(&slots_sem, 0, (unsigned)opts.slots);
	sem_init(&dump_sem, 0, 0);

	/* only the stats thread takes SIGUSR1 */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigaction(SIGUSR1, &sa, NULL);

	ret = fuse_main(args.argc, args.argv, &pfs_ops, NULL);
	fuse_opt_free_args(&args);
	return ret;
}
