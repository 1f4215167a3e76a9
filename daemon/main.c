// SPDX-License-Identifier: MIT
/*
 * daemon/main.c - canopyd: options, start-up, signals, shutdown.
 *
 * Start-up order: configuration (defaults, file, command line), checks of
 * the mount point, daemonizing (before any thread), the cache directory,
 * the view's handle on the directory under the mount point (before
 * mounting), the mount, the workers, INIT, the control socket, in a tree
 * the parent in each tree (waited for up to transport.ready_wait), and only
 * then "ready": the daemonizing parent exits 0, systemd gets READY=1.
 * Anything that fails on the way undoes what was done and exits non-zero
 * with a message; nothing is left mounted.
 *
 * --check and --print-tunables stop after the configuration: they mount
 * nothing and need no mount point.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "canopyd_i.h"
#include "check_i.h"
#include "ctl_i.h"
#include "notify_i.h"

#define EXIT_USAGE 2

static char *cache_tmpfs_dir; /* the cache's own tmpfs, to unmount at exit */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: canopyd [options] MOUNTPOINT\n"
		"       canopyd --check [options]\n"
		"       canopyd --print-tunables [options]\n"
		"\n"
		"Mounts a read-only, cached view of the backing file system at\n"
		"MOUNTPOINT: MOUNTPOINT/X is /X, restricted to the exports.\n"
		"\n"
		"  --check                   validate the configuration, print\n"
		"                            this node's trees and owned share,\n"
		"                            mount nothing (exit 0, or 2 on error)\n"
		"  --print-tunables          print the kernel.* tunables that are\n"
		"                            set, as name=value lines, and exit\n"
		"                            (canopy-tunables applies them)\n"
		"  -f, --foreground          stay in the foreground (without it,\n"
		"                            canopyd returns once the mount is ready)\n"
		"  -c, --config FILE         JSON configuration (default: built-in\n"
		"                            single-node default)\n"
		"  -h, --help                this help\n"
		"  -V, --version             version\n"
		"\n"
		"Tunables (command line beats config file beats default):\n");
	conf_help(f);
}

static void die_usage(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void die_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("canopyd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	exit(EXIT_USAGE);
}

enum {
	OPT_EXPORT = 0x100,
	OPT_CHECK,
	OPT_PRINT_TUNABLES,
	OPT_PARAM = 0x200,
};

/*
 * Kept reachable while options are parsed, since usage errors exit from
 * inside (external linkage: a static only written would be optimized away).
 */
struct option *canopyd_options;

static struct option *build_options(void)
{
	static const struct option fixed[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "export", required_argument, NULL, OPT_EXPORT },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "print-tunables", no_argument, NULL, OPT_PRINT_TUNABLES },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
	};
	size_t nf = sizeof(fixed) / sizeof(fixed[0]), np = 0, i;
	struct option *o;

	while (conf_params[np].key)
		np++;
	o = calloc(nf + np + 1, sizeof(*o));
	if (!o)
		die_usage("out of memory");
	canopyd_options = o;
	memcpy(o, fixed, sizeof(fixed));
	for (i = 0; i < np; i++) {
		o[nf + i].name = conf_params[i].opt;
		o[nf + i].has_arg = required_argument;
		o[nf + i].val = OPT_PARAM + (int)i;
	}
	return o;
}

enum run_mode { MODE_MOUNT, MODE_CHECK, MODE_PRINT_TUNABLES };

struct args {
	bool foreground;
	enum run_mode mode;
	const char *config;
	const char *mnt; /* NULL in the modes that mount nothing */
};

/* Pass 1 finds -c and the flags; pass 2 applies tunables over the file. */
static void parse_args(int argc, char **argv, struct conf *c, struct args *a)
{
	struct option *opts = build_options();
	char err[CONF_ERR_MAX];
	bool exports_cleared = false;
	int ch, pass;

	for (pass = 1; pass <= 2; pass++) {
		optind = 0;
		opterr = pass == 1;
		while ((ch = getopt_long(argc, argv, "+fc:hV", opts, NULL)) !=
		       -1) {
			if (ch == '?')
				die_usage("try canopyd --help");
			if (pass == 1) {
				if (ch == 'h') {
					usage(stdout);
					free(opts);
					exit(0);
				}
				if (ch == 'V') {
					printf("canopyd %s\n", CANOPY_VERSION);
					free(opts);
					exit(0);
				}
				if (ch == 'f')
					a->foreground = true;
				if (ch == 'c')
					a->config = optarg;
				if (ch == OPT_CHECK)
					a->mode = MODE_CHECK;
				if (ch == OPT_PRINT_TUNABLES)
					a->mode = MODE_PRINT_TUNABLES;
				continue;
			}
			if (ch == OPT_EXPORT) {
				if (!exports_cleared)
					conf_clear_exports(c);
				exports_cleared = true;
				if (conf_add_export(c, optarg, err,
						    sizeof(err)))
					die_usage("%s", err);
			} else if (ch >= OPT_PARAM) {
				const struct param *p =
					&conf_params[ch - OPT_PARAM];

				if (conf_set(c, p->key, optarg, err,
					     sizeof(err)))
					die_usage("%s", err);
			}
		}
		if (pass == 1 && a->config &&
		    topo_load(c, a->config, err, sizeof(err)))
			die_usage("%s", err);
	}
	free(opts);
	canopyd_options = NULL;
	if (a->mode != MODE_MOUNT && optind >= argc)
		return;
	if (optind != argc - 1)
		die_usage("%s; try canopyd --help",
			  optind >= argc ? "no mount point given" :
					   "more than one mount point given");
	a->mnt = argv[optind];
}

static bool has_cap_sys_admin(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return d[CAP_SYS_ADMIN / 32].effective & (1U << (CAP_SYS_ADMIN % 32));
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* How long the view keeps a directory descriptor: as the kernel a name. */
static uint64_t dir_fds_ttl_ns(const struct conf *c)
{
	double t = c->entry_timeout < c->attr_timeout ? c->entry_timeout :
							 c->attr_timeout;

	return t > 0 ? (uint64_t)(t * 1e9) : 0;
}

/*
 * Directory descriptors the view keeps (io.dir_fds), at most a quarter of
 * the descriptors this process may open; none when names are not cached.
 */
static unsigned dir_fds_max(const struct conf *c)
{
	struct rlimit rl;
	unsigned n = c->dir_fds;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    n > rl.rlim_cur / 4)
		n = (unsigned)(rl.rlim_cur / 4);
	return dir_fds_ttl_ns(c) ? n : 0;
}

/*
 * Without -f: fork; the parent waits until the child reports ready (exit 0)
 * or failure (its exit code). Returns the fd the child reports on, or -1.
 */
static int daemonize(void)
{
	int p[2], devnull;
	unsigned char code = 1;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		die_usage("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die_usage("fork: %s", strerror(errno));
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &code, 1) != 1)
			code = 1;
		exit(code);
	}
	close(p[0]);
	setsid();
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		close(devnull);
	}
	return p[1];
}

static void report(int fd, unsigned char code)
{
	if (fd < 0)
		return;
	if (write(fd, &code, 1) != 1)
		log_warn("cannot report start-up to the parent");
	close(fd);
}

static void fail(int fd, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

static void fail(int fd, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("%s", msg);
	notify_status("failed: %s", msg);
	report(fd, code);
	exit(code);
}

static char *default_cache_dir(const char *mnt)
{
	char esc[200], *dir;

	canopy_escape(mnt, esc, sizeof(esc), 120);
	if (asprintf(&dir, "/dev/shm/canopy/%s", esc) < 0)
		return NULL;
	return dir;
}

/*
 * One turn of the main loop: wait up to @ms for SIGTERM or SIGINT, and pet
 * the watchdog. True when the daemon should stop: a signal, or the kernel
 * ended the mount.
 */
static bool main_tick(struct canopy *cp, int ms)
{
	struct timespec tick = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000,
	};
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sig = sigtimedwait(&set, NULL, &tick);
	if (sig == SIGTERM || sig == SIGINT) {
		log_notice("signal %d: unmounting %s", sig, cp->mnt);
		return true;
	}
	if (sig == SIGHUP)
		log_notice("SIGHUP ignored: restart to reconfigure");
	if (atomic_load(&cp->stopping)) {
		log_notice("%s was unmounted", cp->mnt);
		return true;
	}
	notify_watchdog();
	chan_tick(cp);
	return false;
}

/* Serve until SIGTERM or SIGINT, or until the kernel ends the mount. */
static void wait_for_stop(struct canopy *cp)
{
	while (!main_tick(cp, notify_tick_ms()))
		;
}

#define PARENTS_TEXT_MAX 200

/*
 * In a tree: wait until the parent in each tree answers, for
 * transport.ready_wait at most (a parent that never comes up is failed
 * over by every request, so the node works without it). Returns false if
 * the daemon was told to stop meanwhile; *unreachable says who never
 * answered.
 */
static bool wait_for_parents(struct canopy *cp, char *unreachable,
			     size_t len)
{
	uint64_t deadline = now_ns() + (uint64_t)(cp->conf->ready_wait * 1e9);
	bool logged = false;
	int n;

	*unreachable = '\0';
	if (!cp->peers)
		return true;
	/* before the first round of pings, which may take a timeout or two */
	n = check_parent_names(cp->conf, unreachable, len);
	if (n > 0)
		notify_status("waiting for parent%s %s", n == 1 ? "" : "s",
			      unreachable);
	for (;;) {
		n = peers_unreachable_parents(cp, unreachable, len);
		if (n <= 0) {
			if (logged)
				log_notice("every parent answers");
			*unreachable = '\0';
			return true;
		}
		if (now_ns() >= deadline) {
			log_warn("parent%s %s did not answer within %g s: "
				 "serving around %s", n == 1 ? "" : "s",
				 unreachable, cp->conf->ready_wait,
				 n == 1 ? "it" : "them");
			return true;
		}
		if (!logged)
			log_notice("waiting for parent%s %s",
				   n == 1 ? "" : "s", unreachable);
		logged = true;
		notify_status("waiting for parent%s %s", n == 1 ? "" : "s",
			      unreachable);
		if (main_tick(cp, 200))
			return false;
	}
}

int main(int argc, char **argv)
{
	static struct canopy cp_static;
	struct canopy *cp = &cp_static;
	struct args a = { 0 };
	char err[CONF_ERR_MAX], mnt[PATH_MAX], *cache_dir_path;
	struct conf conf;
	struct statx stx;
	struct node *root;
	struct stat st;
	sigset_t set;
	int ret, ready_fd = -1;

	if (conf_init(&conf))
		die_usage("out of memory");
	parse_args(argc, argv, &conf, &a);
	if (conf_finish(&conf, err, sizeof(err)))
		die_usage("%s", err);
	if (a.mode == MODE_CHECK && a.mnt && stat(a.mnt, &st) == 0 &&
	    !S_ISDIR(st.st_mode))
		die_usage("mount point %s: not a directory", a.mnt);
	if (a.mode == MODE_CHECK) {
		ret = check_report(&conf, stdout);
		if (ret)
			die_usage("cannot build the trees: %s", strerror(-ret));
		conf_free(&conf);
		return fflush(stdout) ? 1 : 0;
	}
	if (a.mode == MODE_PRINT_TUNABLES) {
		conf_print_kernel(&conf, stdout);
		conf_free(&conf);
		return fflush(stdout) ? 1 : 0;
	}
	if (stat(a.mnt, &st) < 0)
		die_usage("mount point %s: %s", a.mnt, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		die_usage("mount point %s: not a directory", a.mnt);
	if (access(a.mnt, R_OK | X_OK) < 0)
		die_usage("mount point %s: %s", a.mnt, strerror(errno));
	if (!realpath(a.mnt, mnt))
		die_usage("mount point %s: %s", a.mnt, strerror(errno));

	log_init(conf.log_level, "canopyd");
	if (!a.foreground)
		ready_fd = daemonize();
	notify_init();
	notify_status("starting");

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	raise_nofile();

	cp->conf = &conf;
	cp->mnt = mnt;
	cp->fd = -1;
	cp->started_ns = now_ns();
	pthread_mutex_init(&cp->lock, NULL);
	pthread_cond_init(&cp->cond, NULL);
	cp->nworkers = conf.threads ? conf.threads :
				      (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (cp->nworkers < 1)
		cp->nworkers = 1;
	cp->can_passthrough = conf.passthrough && !conf.no_open &&
			      has_cap_sys_admin();
	if (conf.passthrough && !cp->can_passthrough)
		snprintf(cp->neg.passthrough_why,
			 sizeof(cp->neg.passthrough_why), "%s",
			 conf.no_open ? "fuse.no_open: the kernel opens files "
					"itself" : "needs CAP_SYS_ADMIN");

	cache_dir_path = *conf.cache_dir ? strdup(conf.cache_dir) :
					   default_cache_dir(mnt);
	if (!cache_dir_path)
		fail(ready_fd, 1, "out of memory");
	if (conf.cache_tmpfs && geteuid() == 0) {
		ret = cache_mount_tmpfs(cache_dir_path, &conf.cache_capacity);
		if (ret == -EBUSY)
			fail(ready_fd, 1, "cache directory %s: in use by "
			     "another canopyd", cache_dir_path);
		if (ret)
			log_notice("cache %s stays on its file system (no "
				   "huge-page tmpfs): %s", cache_dir_path,
				   ret == -ENOTEMPTY ? "the directory is not "
				   "empty" : strerror(-ret));
		else
			cache_tmpfs_dir = cache_dir_path;
	}
	ret = cache_new(cache_dir_path, conf.cache_capacity, conf.block_size,
			&cp->cache);
	if (ret) {
		if (cache_tmpfs_dir)
			cache_umount_tmpfs(cache_tmpfs_dir);
		fail(ready_fd, 1, "cache directory %s: %s", cache_dir_path,
		     ret == -EBUSY ? "in use by another canopyd" :
				     strerror(-ret));
	}

	ret = view_init(&cp->view, conf.exports, conf.nexports, mnt);
	if (ret)
		fail(ready_fd, 1, "mount point %s: %s", mnt, strerror(-ret));
	ret = view_dirs_enable(&cp->view, dir_fds_max(&conf),
			       dir_fds_ttl_ns(&conf));
	if (ret)
		fail(ready_fd, 1, "out of memory");
	ret = nodes_init("/", view_classify(&cp->view, "/"));
	if (ret)
		fail(ready_fd, 1, "out of memory");
	ret = view_statx(&cp->view, "/", &stx);
	if (ret)
		fail(ready_fd, 1, "/: %s", strerror(-ret));
	root = node_get(FUSE_ROOT_ID);
	node_set_attr(root, &stx);
	node_put(root);

	err[0] = '\0';
	/* before the peer servers, which answer from it at once */
	ret = meta_init(cp);
	if (!ret)
		ret = peers_start(cp, err, sizeof(err));
	if (ret) {
		peers_stop(cp);
		cache_free(cp->cache);
		if (cache_tmpfs_dir)
			cache_umount_tmpfs(cache_tmpfs_dir);
		fail(ready_fd, 1, "transport: %s",
		     *err ? err : strerror(-ret));
	}

	ret = ctl_open(cp);
	if (ret) {
		peers_stop(cp);
		cache_free(cp->cache);
		if (cache_tmpfs_dir)
			cache_umount_tmpfs(cache_tmpfs_dir);
		fail(ready_fd, 1, "control socket %s: %s", ctl_socket_path(),
		     strerror(-ret));
	}
	notify_status("mounting %s", mnt);
	ret = chan_mount(cp);
	if (ret) {
		ctl_stop();
		peers_stop(cp);
		cache_free(cp->cache);
		if (cache_tmpfs_dir)
			cache_umount_tmpfs(cache_tmpfs_dir);
		fail(ready_fd, 1, "cannot mount %s", mnt);
	}
	ops_file_init(cp);
	ret = resolve_start(cp);
	if (ret) {
		ctl_stop();
		chan_unmount(cp);
		peers_stop(cp);
		cache_free(cp->cache);
		if (cache_tmpfs_dir)
			cache_umount_tmpfs(cache_tmpfs_dir);
		fail(ready_fd, 1, "cannot start fetch threads: %s",
		     strerror(-ret));
	}
	ret = chan_start(cp);
	if (ret) {
		ctl_stop();
		chan_unmount(cp);
		resolve_stop();
		peers_stop(cp);
		cache_free(cp->cache);
		if (cache_tmpfs_dir)
			cache_umount_tmpfs(cache_tmpfs_dir);
		fail(ready_fd, 1, "cannot start workers: %s", strerror(-ret));
	}
	ret = chan_wait_init(cp, 30000);
	if (!ret)
		ret = ctl_start(cp);
	if (ret) {
		log_err("%s", ret == -ETIMEDOUT ?
			"the kernel sent no INIT within 30 s" :
			"cannot serve the control socket");
		ctl_stop();
		chan_unmount(cp);
		resolve_stop();
		chan_join(cp);
		peers_stop(cp);
		cache_free(cp->cache);
		if (cache_tmpfs_dir)
			cache_umount_tmpfs(cache_tmpfs_dir);
		fail(ready_fd, 1, "start-up failed: %s", strerror(-ret));
	}
	if (wait_for_parents(cp, err, sizeof(err))) {
		log_notice("serving %s (exports:%s%s) at %s, cache %s",
			   "backing tree", conf.nexports ? " " : "",
			   conf.nexports ? conf.exports[0] : "", mnt,
			   cache_dir(cp->cache));
		if (*err)
			notify_ready(ready_fd >= 0 ? getpid() : 0,
				     "serving %s; unreachable parents: %s "
				     "(requests go around them)", mnt, err);
		else
			notify_ready(ready_fd >= 0 ? getpid() : 0,
				     "serving %s", mnt);
		report(ready_fd, 0);
		wait_for_stop(cp);
	} else {
		report(ready_fd, 1);
	}
	notify_stopping("stopping: unmounting %s", mnt);
	ctl_stop();
	chan_unmount(cp);
	resolve_stop();
	chan_join(cp);
	peers_stop(cp);
	meta_fini();
	nodes_fini();
	cache_free(cp->cache);
	if (cache_tmpfs_dir)
		cache_umount_tmpfs(cache_tmpfs_dir);
	free(cache_dir_path);
	view_fini(&cp->view);
	conf_free(&conf);
	log_notice("stopped");
	return 0;
}
