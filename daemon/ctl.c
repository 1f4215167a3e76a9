// SPDX-License-Identifier: MIT
/*
 * daemon/ctl.c - the control socket.
 *
 * DESIGN: the socket is bound before the mount (so a bad path fails start-up
 * with nothing mounted) and served once INIT is done: clients that connect
 * earlier wait in the backlog. One thread accepts and answers one command per
 * connection (ctl_i.h). Commands only read counters and negotiated state,
 * except drop-caches, which is refused to peers that are neither root nor
 * the daemon's own user. A prefetch, which refuses the same peers and may
 * take minutes, is handed with its connection to a thread of its own
 * (detached, counted in ctl_prefetches under ctl_lock), so the socket keeps
 * answering meanwhile. ctl_stop() shuts the listening socket down, which
 * wakes the thread; then it is joined, the prefetch threads (which see
 * cp->stopping) are waited for, and the socket file removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "canopyd_i.h"
#include "ctl_i.h"

static int ctl_fd = -1;
static int ctl_wake[2] = { -1, -1 };
static pthread_t ctl_thread;
static bool ctl_running;
static char ctl_path[108];
static pthread_mutex_t ctl_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ctl_cond = PTHREAD_COND_INITIALIZER;
static unsigned ctl_prefetches; /* protected by ctl_lock */

#define CTL_PREFETCH_MAX 4 /* prefetch commands at once */

static const char *yesno(bool b)
{
	return b ? "yes" : "no";
}

static void flag_names(FILE *f, uint64_t flags, const char *sep)
{
	static const struct {
		uint64_t bit;
		const char *name;
	} names[] = {
		{ FUSE_ASYNC_READ, "async_read" },
		{ FUSE_PARALLEL_DIROPS, "parallel_dirops" },
		{ FUSE_DO_READDIRPLUS, "readdirplus" },
		{ FUSE_CACHE_SYMLINKS, "cache_symlinks" },
		{ FUSE_AUTO_INVAL_DATA, "auto_inval_data" },
		{ FUSE_MAX_PAGES, "max_pages" },
		{ FUSE_SPLICE_WRITE, "splice_write" },
		{ FUSE_SPLICE_MOVE, "splice_move" },
		{ FUSE_SPLICE_READ, "splice_read" },
		{ FUSE_DIRECT_IO_ALLOW_MMAP, "direct_io_allow_mmap" },
		{ FUSE_PASSTHROUGH, "passthrough" },
		{ FUSE_OVER_IO_URING, "over_io_uring" },
		{ FUSE_INIT_EXT, "init_ext" },
	};
	bool first = true;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(flags & names[i].bit))
			continue;
		fprintf(f, "%s%s", first ? "" : sep, names[i].name);
		first = false;
	}
}

char *ctl_status(struct canopy *cp, bool json)
{
	const struct negotiated *n = &cp->neg;
	const struct conf *c = cp->conf;
	unsigned k = chan_uring_threads(c);
	char *out = NULL, tree[256];
	size_t len = 0, i;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	if (json) {
		fprintf(f,
			"{\n  \"mount\": \"%s\",\n  \"pid\": %d,\n"
			"  \"protocol\": \"%u.%u\",\n  \"kernel_protocol\": "
			"\"7.%u\",\n  \"max_pages\": %u,\n"
			"  \"max_pages_limit\": %u,\n  \"max_read\": %u,\n"
			"  \"readahead_kb\": %u,\n  \"passthrough\": %s,\n"
			"  \"splice\": %s,\n  \"splice_max\": %u,\n"
			"  \"no_open\": %s,\n"
			"  \"threads\": %u,\n"
			"  \"uring_queues\": %u,\n"
			"  \"cache_dir\": \"%s\",\n  \"cache_capacity\": %llu,\n"
			"  \"block_size\": %llu,\n  \"flags\": \"",
			cp->mnt, (int)getpid(), n->major, n->minor,
			n->kernel_minor, n->max_pages, n->max_pages_limit,
			n->max_pages * 4096, n->readahead_kb,
			n->passthrough ? "true" : "false",
			n->splice ? "true" : "false", n->splice_max,
			c->no_open ? "true" : "false", cp->nworkers,
			n->uring ? atomic_load(&cp->rings_live) / k : 0,
			cache_dir(cp->cache),
			(unsigned long long)cache_capacity(cp->cache),
			(unsigned long long)cache_block_size(cp->cache));
		flag_names(f, n->flags, " ");
		fprintf(f, "\",\n  \"exports\": [");
		for (i = 0; i < c->nexports; i++)
			fprintf(f, "%s\"%s\"", i ? ", " : "", c->exports[i]);
		peers_status(cp, tree, sizeof(tree));
		fprintf(f, "],\n  \"tree\": \"%s\"\n}\n", tree);
	} else {
		fprintf(f, "mount:           %s\n", cp->mnt);
		fprintf(f, "pid:             %d\n", (int)getpid());
		fprintf(f, "exports:        ");
		for (i = 0; i < c->nexports; i++)
			fprintf(f, " %s", c->exports[i]);
		fprintf(f, "\nprotocol:        %u.%u (kernel 7.%u)\n", n->major,
			n->minor, n->kernel_minor);
		fprintf(f, "max_pages:       %u (limit %u)\n", n->max_pages,
			n->max_pages_limit);
		fprintf(f, "max_read:        %u\n", n->max_pages * 4096);
		fprintf(f, "readahead_kb:    %u\n", n->readahead_kb);
		fprintf(f, "passthrough:     %s%s%s%s\n", yesno(n->passthrough),
			n->passthrough ? "" : " (",
			n->passthrough ? "" : n->passthrough_why,
			n->passthrough ? "" : ")");
		fprintf(f, "splice:          %s", yesno(n->splice));
		if (n->splice && n->splice_max < n->max_pages * 4096)
			fprintf(f, " (replies up to %u KiB; larger ones are "
				"copied: fs.pipe-max-size)", n->splice_max / 1024);
		fprintf(f, "\n");
		fprintf(f, "opens:           %s\n", c->no_open ?
			"by the kernel alone (fuse.no_open)" :
			"answered by canopyd");
		fprintf(f, "threads:         %u\n", cp->nworkers);
		if (n->uring)
			fprintf(f, "io_uring:        %u queues of %u entries, "
				"%u thread%s each\n",
				atomic_load(&cp->rings_live) / k,
				c->uring_entries, k, k == 1 ? "" : "s");
		else
			fprintf(f, "io_uring:        no: %s\n", cp->uring_why);
		fprintf(f, "flags:           ");
		flag_names(f, n->flags, " ");
		fprintf(f, "\ncache_dir:       %s\n", cache_dir(cp->cache));
		fprintf(f, "cache_capacity:  %llu\n",
			(unsigned long long)cache_capacity(cp->cache));
		fprintf(f, "block_size:      %llu\n",
			(unsigned long long)cache_block_size(cp->cache));
		fprintf(f, "nodes:           %llu\n",
			(unsigned long long)node_count());
		peers_status(cp, tree, sizeof(tree));
		fprintf(f, "tree:            %s\n", tree);
	}
	fclose(f);
	return out;
}

static bool peer_privileged(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

static void write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= n;
	}
}

/*
 * "prefetch TIMEOUT_MS PATH...": the paths escaped (ctl_i.h), absolute; a
 * path in the mount is taken as the backing path it shows. The answer in
 * *out.
 */
static void ctl_prefetch(struct canopy *cp, char *args, char **out)
{
	char *paths[CTL_PREFETCH_PATHS], *tok, *save = NULL, *end;
	size_t n = 0, mlen = strlen(cp->mnt);
	unsigned long long ms;
	int ret;

	*out = NULL;
	errno = 0;
	ms = strtoull(args, &end, 10);
	if (errno || end == args || (*end && *end != ' ')) {
		*out = strdup("error: prefetch: bad timeout\n");
		return;
	}
	for (tok = strtok_r(end, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		if (n == CTL_PREFETCH_PATHS || ctl_arg_unescape(tok) ||
		    tok[0] != '/') {
			*out = strdup("error: prefetch: bad or too many "
				      "paths\n");
			return;
		}
		/* MOUNT/X is backing path /X */
		if (!strncmp(tok, cp->mnt, mlen) &&
		    (tok[mlen] == '/' || !tok[mlen]) && strcmp(cp->mnt, "/")) {
			tok += mlen;
			if (!*tok)
				tok = "/";
		}
		paths[n++] = tok;
	}
	ret = prefetch_run(cp, paths, n, ms, out);
	if (ret && !*out &&
	    asprintf(out, "error: prefetch: %s\n", strerror(-ret)) < 0)
		*out = NULL;
}

struct ctl_job {
	struct canopy *cp;
	int fd;
	char *args;
};

static void *ctl_prefetch_main(void *arg)
{
	struct ctl_job *j = arg;
	char *out;

	ctl_prefetch(j->cp, j->args, &out);
	if (out)
		write_all(j->fd, out, strlen(out));
	free(out);
	close(j->fd);
	free(j->args);
	free(j);
	pthread_mutex_lock(&ctl_lock);
	ctl_prefetches--;
	pthread_cond_broadcast(&ctl_cond);
	pthread_mutex_unlock(&ctl_lock);
	return NULL;
}

/* Hand @fd to a prefetch thread; true if it took the connection. */
static bool ctl_prefetch_start(struct canopy *cp, int fd, const char *args)
{
	struct ctl_job *j = calloc(1, sizeof(*j));
	pthread_attr_t attr;
	pthread_t tid;
	bool ok;

	if (!j)
		return false;
	j->cp = cp;
	j->fd = fd;
	j->args = strdup(args);
	pthread_mutex_lock(&ctl_lock);
	ok = j->args && ctl_prefetches < CTL_PREFETCH_MAX;
	if (ok)
		ctl_prefetches++;
	pthread_mutex_unlock(&ctl_lock);
	if (ok) {
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		ok = !pthread_create(&tid, &attr, ctl_prefetch_main, j);
		pthread_attr_destroy(&attr);
		if (ok)
			return true;
		pthread_mutex_lock(&ctl_lock);
		ctl_prefetches--;
		pthread_mutex_unlock(&ctl_lock);
	}
	free(j->args);
	free(j);
	return false;
}

/* Answer one command; false if the connection was handed on (prefetch). */
static bool ctl_serve(struct canopy *cp, int fd)
{
	char *cmd = malloc(CTL_CMD_MAX), *out = NULL, *nl;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n = 0;

	if (!cmd)
		return true;
	/* a client that sends nothing must not hold the thread for long */
	while ((size_t)n < CTL_CMD_MAX - 1 && poll(&p, 1, 2000) == 1) {
		ssize_t r = read(fd, cmd + n, CTL_CMD_MAX - 1 - n);

		if (r <= 0)
			break;
		n += r;
		if (memchr(cmd, '\n', n))
			break;
	}
	cmd[n] = '\0';
	nl = strchr(cmd, '\n');
	if (nl)
		*nl = '\0';

	if (!strcmp(cmd, "status"))
		out = ctl_status(cp, false);
	else if (!strcmp(cmd, "status json"))
		out = ctl_status(cp, true);
	else if (!strcmp(cmd, "stats json"))
		out = stats_json();
	else if (!strcmp(cmd, "stats prom"))
		out = stats_prom(cp->mnt);
	else if (!strcmp(cmd, "tree")) {
		out = peers_tree_text(cp);
		if (!out)
			out = strdup("single node: no tree\n");
	}
	else if (!strcmp(cmd, "drop-caches")) {
		if (!peer_privileged(fd)) {
			out = strdup("error: drop-caches: permission denied\n");
		} else {
			cache_drop_all(cp->cache);
			meta_drop_all();
			view_dirs_drop(&cp->view);
			out = strdup("ok\n");
		}
	} else if (!strncmp(cmd, "prefetch ", 9)) {
		if (!peer_privileged(fd)) {
			out = strdup("error: prefetch: permission denied\n");
		} else if (ctl_prefetch_start(cp, fd, cmd + 9)) {
			free(cmd);
			return false;
		} else {
			out = strdup("error: prefetch: too many at once\n");
		}
	} else {
		if (asprintf(&out, "error: unknown command \"%s\"\n", cmd) < 0)
			out = NULL;
	}
	if (out)
		write_all(fd, out, strlen(out));
	free(out);
	free(cmd);
	return true;
}

static void *ctl_main(void *arg)
{
	struct canopy *cp = arg;
	struct pollfd p[2] = { { .fd = ctl_fd, .events = POLLIN },
			       { .fd = ctl_wake[0], .events = POLLIN } };

	for (;;) {
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		fd = accept4(ctl_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (ctl_serve(cp, fd))
			close(fd);
	}
	return NULL;
}

static int mkdir_parent(const char *path)
{
	char dir[sizeof(ctl_path)], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int ctl_open(struct canopy *cp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int ret;

	if (cp->conf->ctl_socket && *cp->conf->ctl_socket) {
		if (strlen(cp->conf->ctl_socket) >= sizeof(ctl_path))
			return -ENAMETOOLONG;
		snprintf(ctl_path, sizeof(ctl_path), "%s",
			 cp->conf->ctl_socket);
	} else if (ctl_default_path(cp->mnt, ctl_path, sizeof(ctl_path))) {
		return -ENAMETOOLONG;
	}
	ret = mkdir_parent(ctl_path);
	if (ret)
		return ret;
	ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl_fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ctl_path);
	unlink(ctl_path); /* a socket left by a daemon that died */
	if (bind(ctl_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(ctl_path, 0666) < 0 || listen(ctl_fd, 64) < 0) {
		ret = -errno;
		goto err_close;
	}
	if (pipe2(ctl_wake, O_CLOEXEC) < 0) {
		ret = -errno;
		goto err_unlink;
	}
	return 0;

err_unlink:
	unlink(ctl_path);
err_close:
	close(ctl_fd);
	ctl_fd = -1;
	return ret;
}

const char *ctl_socket_path(void)
{
	return ctl_path;
}

int ctl_start(struct canopy *cp)
{
	int ret = -pthread_create(&ctl_thread, NULL, ctl_main, cp);

	if (ret)
		return ret;
	ctl_running = true;
	log_info("control socket %s", ctl_path);
	return 0;
}

void ctl_stop(void)
{
	if (ctl_fd < 0)
		return;
	if (ctl_running) {
		if (write(ctl_wake[1], "x", 1) < 0)
			log_debug("ctl wake: %s", strerror(errno));
		pthread_join(ctl_thread, NULL);
		ctl_running = false;
	}
	/* prefetches see cp->stopping and end within a transport timeout */
	pthread_mutex_lock(&ctl_lock);
	while (ctl_prefetches)
		pthread_cond_wait(&ctl_cond, &ctl_lock);
	pthread_mutex_unlock(&ctl_lock);
	close(ctl_wake[0]);
	close(ctl_wake[1]);
	close(ctl_fd);
	unlink(ctl_path);
	ctl_fd = -1;
}
