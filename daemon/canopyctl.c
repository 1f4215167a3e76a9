// SPDX-License-Identifier: MIT
/*
 * daemon/canopyctl.c - canopyctl, the admin client of canopyd's control
 * socket.
 *
 *   canopyctl [-m MOUNT | -s SOCKET] status [--json]
 *   canopyctl [-m MOUNT | -s SOCKET] stats [--json | --prom]
 *   canopyctl [-m MOUNT | -s SOCKET] tree
 *   canopyctl [-m MOUNT | -s SOCKET] drop-caches
 *   canopyctl [-m MOUNT | -s SOCKET] prefetch [--timeout SEC] PATH...
 *
 * MOUNT is a mount point, or the instance name of a canopyd@.service unit
 * (systemd-escape --path of the mount point), which is unescaped.
 *
 * Exit status: 0 success, 1 the daemon cannot be reached, refused or
 * failed, 2 usage.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_i.h"

#define TIMEOUT_MS 10000
#define PREFETCH_TIMEOUT_S 600

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

static const char exit_text[] =
	"exit status: 0 ok; 1 the daemon is unreachable, refused or failed;\n"
	"2 usage (bad option, command or MOUNT)\n";

static void usage(FILE *f)
{
	fputs("usage: canopyctl [-m MOUNT | -s SOCKET] COMMAND [OPTIONS]\n"
	      "       canopyctl COMMAND --help\n"
	      "\n"
	      "commands:\n"
	      "  status [--json]   what the kernel negotiated: protocol,\n"
	      "                    max_pages, max_read, passthrough, splice,\n"
	      "                    threads; exits 0 once the mount is ready\n"
	      "  stats [--json | --prom]\n"
	      "                    counters: per-opcode counts and latencies,\n"
	      "                    read sizes, backing-store operations, cache,\n"
	      "                    peers, prefetch; --prom for Prometheus\n"
	      "  tree              this node's parent and children in each\n"
	      "                    tree, and whether each is reachable\n"
	      "  drop-caches       drop every cached file that is not open,\n"
	      "                    and the metadata kept for the tree\n"
	      "  prefetch PATH...  warm every node's cache with these\n"
	      "                    directories or files before a job needs them\n"
	      "\n"
	      "  -m MOUNT          the canopyd mount to talk to (default /canopy):\n"
	      "                    a mount point (starts with '/', or is . .. ./X\n"
	      "                    ../X), or the instance of a canopyd@.service\n"
	      "                    unit, unescaped as systemd-escape --path -u:\n"
	      "                    'lus-proj' is /lus/proj, '\\x2d' a '-', '-' is\n"
	      "                    /; 'canopyd@lus-proj.service' works too\n"
	      "  -s SOCKET         its control socket, when not the default\n"
	      "  -h, --help        this help\n"
	      "\n",
	      f);
	fputs(exit_text, f);
}

struct command {
	const char *name;
	const char *synopsis;
	const char *help;
};

static const struct command commands[] = {
	{ "status", "status [--json]",
	  "What the kernel negotiated for this mount (protocol, max_pages,\n"
	  "max_read, passthrough, splice, flags), the threads, the cache and\n"
	  "the node's place in the tree. Exits 0 as soon as the mount is\n"
	  "ready, so scripts can poll it.\n"
	  "\n"
	  "  --json   one JSON object\n" },
	{ "stats", "stats [--json | --prom]",
	  "The daemon's counters. Without an option, one \"key value\" line\n"
	  "per counter; the keys are dotted (backing.opens, fuse.read.count,\n"
	  "prefetch.files, ...).\n"
	  "\n"
	  "  --json   one flat JSON object of numbers, the same keys\n"
	  "  --prom   the Prometheus text exposition format: canopy_* metric\n"
	  "           families with HELP and TYPE lines, a mount label on every\n"
	  "           sample, labels for kinds (opcode, op, mode, source), and\n"
	  "           histograms of request latency and READ size. For the\n"
	  "           node exporter's textfile collector:\n"
	  "             canopyctl -m MOUNT stats --prom > DIR/canopy.prom.tmp &&\n"
	  "               mv DIR/canopy.prom.tmp DIR/canopy.prom\n" },
	{ "tree", "tree",
	  "This node's parent and children in each tree of the topology, and\n"
	  "whether each answers a ping now. \"single node: no tree\" without a\n"
	  "topology.\n" },
	{ "drop-caches", "drop-caches",
	  "Drop every cached file that is not open, and the metadata kept for\n"
	  "the tree, on this node only. Needs root or the daemon's own user.\n" },
	{ "prefetch", "prefetch [--timeout SEC] PATH...",
	  "Warm the caches of every node of the tree with the directories\n"
	  "(walked recursively) or files given, before a job's first import.\n"
	  "Each node walks the paths through its normal resolution path, so\n"
	  "the tree coalesces and keeps what it forwards and the backing\n"
	  "store sees each file once tree-wide. Returns when every node is\n"
	  "done (or the timeout passes) and prints the files and bytes warmed\n"
	  "and the nodes done. On a single node it warms the local cache.\n"
	  "\n"
	  "PATH is a path in the mount (MOUNT/lus/proj/env) or the backing\n"
	  "path it shows (/lus/proj/env); a relative PATH is taken from the\n"
	  "current directory. Symbolic links are kept, not followed. A PATH\n"
	  "outside the exports is refused. At most 16 PATHs. Needs root or the\n"
	  "daemon's own user. Files larger than the cache are skipped; a\n"
	  "tree larger than the cache evicts what it warmed first.\n"
	  "\n"
	  "  --timeout SEC   give up on nodes not done after SEC seconds\n"
	  "                  (default 600)\n"
	  "\n"
	  "Exits 0 when every node finished and every file was read; 1 with\n"
	  "the nodes that did not finish, or the errors, otherwise.\n" },
};

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void command_help(FILE *f, const struct command *c)
{
	fprintf(f, "usage: canopyctl [-m MOUNT | -s SOCKET] %s\n\n%s\n",
		c->synopsis, c->help);
	fputs(exit_text, f);
}

static int command_usage(const struct command *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int command_usage(const struct command *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "canopyctl: %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: canopyctl [-m MOUNT | -s SOCKET] %s\n",
		c->synopsis);
	return EXIT_USAGE;
}

/* Is @name a path (as opposed to a unit instance name)? */
static bool is_path(const char *name)
{
	return name[0] == '/' || !strcmp(name, ".") || !strcmp(name, "..") ||
	       !strncmp(name, "./", 2) || !strncmp(name, "../", 3);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The mount point of a canopyd@.service instance: the inverse of
 * systemd-escape --path. "lus-proj" -> "/lus/proj", "a\x2db" -> "/a-b",
 * "-" -> "/". A "canopyd@" prefix and ".service" suffix are dropped.
 * Returns 0, or -EINVAL for a name systemd-escape cannot have written.
 */
static int unit_unescape(const char *name, char *out, size_t len)
{
	char buf[PATH_MAX];
	size_t n = 0, blen;
	const char *p;

	if (!strncmp(name, "canopyd@", 8))
		name += 8;
	snprintf(buf, sizeof(buf), "%s", name);
	blen = strlen(buf);
	if (blen > 8 && !strcmp(buf + blen - 8, ".service"))
		buf[blen - 8] = '\0';
	if (!buf[0] || strchr(buf, '/'))
		return -EINVAL;
	if (!strcmp(buf, "-")) {
		snprintf(out, len, "/");
		return 0;
	}
	/* systemd-escape --path drops leading, trailing and double slashes */
	if (buf[0] == '-' || buf[strlen(buf) - 1] == '-' || strstr(buf, "--"))
		return -EINVAL;
	for (p = buf; *p; p++) {
		int c = (unsigned char)*p;

		if (n + 2 >= len)
			return -ENAMETOOLONG;
		if (n == 0 || c == '-') {
			out[n++] = '/';
			if (c == '-')
				continue;
		}
		if (c == '\\') {
			int hi, lo;

			if (p[1] != 'x' || (hi = hexval(p[2])) < 0 ||
			    (lo = hexval(p[3])) < 0)
				return -EINVAL;
			c = hi << 4 | lo;
			if (!c || c == '/')
				return -EINVAL;
			p += 3;
		}
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

/*
 * Canonical path of the mount point without looking inside the mount
 * (a hung daemon must not hang canopyctl): resolve the parent only.
 */
static int mount_path(const char *mnt, char *out, size_t len)
{
	char a[PATH_MAX], b[PATH_MAX], parent[PATH_MAX];
	char *dir, *base;

	snprintf(a, sizeof(a), "%s", mnt);
	snprintf(b, sizeof(b), "%s", mnt);
	dir = dirname(a);
	base = basename(b);
	if (!strcmp(base, "/")) {
		snprintf(out, len, "/");
		return 0;
	}
	if (!strcmp(base, ".") || !strcmp(base, "..")) {
		if (!realpath(mnt, out))
			return -errno;
		return 0;
	}
	if (!realpath(dir, parent))
		return -errno;
	if ((size_t)snprintf(out, len, "%s%s%s", parent,
			     strcmp(parent, "/") ? "/" : "", base) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * Send @cmd, copy the answer to stdout (an "error: " answer to stderr);
 * 0, or 1 on any failure. @timeout_ms bounds the wait for each read.
 */
static int ask(const char *sock, const char *cmd, bool stats_text,
	       int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd p;
	char buf[65536], *all = NULL;
	size_t alllen = 0;
	int fd, ret = 1;

	if (strlen(sock) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "canopyctl: socket path too long: %s\n", sock);
		return 1;
	}
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "canopyctl: cannot reach canopyd at %s: %s\n",
			sock, strerror(errno));
		goto out;
	}
	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd) ||
	    write(fd, "\n", 1) != 1) {
		fprintf(stderr, "canopyctl: %s: %s\n", sock, strerror(errno));
		goto out;
	}
	p.fd = fd;
	p.events = POLLIN;
	for (;;) {
		ssize_t n;
		char *grown;

		if (poll(&p, 1, timeout_ms) != 1) {
			fprintf(stderr, "canopyctl: canopyd at %s did not "
				"answer within %d s\n", sock, timeout_ms / 1000);
			goto out;
		}
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		grown = realloc(all, alllen + n + 1);
		if (!grown)
			goto out;
		all = grown;
		memcpy(all + alllen, buf, n);
		alllen += n;
		all[alllen] = '\0';
	}
	if (!all) {
		fprintf(stderr, "canopyctl: empty answer from %s\n", sock);
		goto out;
	}
	if (!strncmp(all, "error: ", 7)) {
		fprintf(stderr, "canopyctl: %s", all + 7);
		goto out;
	}
	if (stats_text) {
		/* the flat JSON object as "key value" lines */
		char *line, *save = NULL;

		for (line = strtok_r(all, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char key[256];
			unsigned long long v;

			if (sscanf(line, " \"%255[^\"]\": %llu", key, &v) == 2)
				printf("%-40s %llu\n", key, v);
		}
	} else {
		fputs(all, stdout);
	}
	ret = 0;
out:
	free(all);
	if (fd >= 0)
		close(fd);
	return ret;
}

/*
 * @path made absolute (from the current directory) and normalised without
 * looking at the file system: no "", "." or ".." components.
 */
static int abs_path(const char *path, char *out, size_t len)
{
	char buf[PATH_MAX * 2], *tok, *save = NULL;
	size_t n = 0;

	if (path[0] == '/') {
		if (strlen(path) >= sizeof(buf))
			return -ENAMETOOLONG;
		strcpy(buf, path);
	} else {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		if ((size_t)snprintf(buf, sizeof(buf), "%s/%s", cwd, path) >=
		    sizeof(buf))
			return -ENAMETOOLONG;
	}
	for (tok = strtok_r(buf, "/", &save); tok;
	     tok = strtok_r(NULL, "/", &save)) {
		size_t tl = strlen(tok);

		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			while (n && out[n - 1] != '/')
				n--;
			if (n)
				n--;
			continue;
		}
		if (n + 1 + tl + 1 > len)
			return -ENAMETOOLONG;
		out[n++] = '/';
		memcpy(out + n, tok, tl);
		n += tl;
	}
	if (!n)
		out[n++] = '/';
	out[n] = '\0';
	return 0;
}

/* prefetch [--timeout SEC] PATH...: args are argv[first..argc) */
static int cmd_prefetch(const struct command *c, const char *sock, int argc,
			char **argv, int first)
{
	char *line = malloc(CTL_CMD_MAX), path[PATH_MAX], *end;
	double timeout = PREFETCH_TIMEOUT_S;
	size_t n, npaths = 0;
	int i, w, ret;

	if (!line) {
		fprintf(stderr, "canopyctl: out of memory\n");
		return EXIT_FAIL;
	}
	for (i = first; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (strcmp(argv[i], "--timeout")) {
			free(line);
			return command_usage(c, "unknown option %s", argv[i]);
		}
		if (i + 1 >= argc) {
			free(line);
			return command_usage(c, "%s needs seconds", argv[i]);
		}
		errno = 0;
		timeout = strtod(argv[++i], &end);
		if (errno || end == argv[i] || *end || !(timeout >= 1) ||
		    timeout > 86400) {
			free(line);
			return command_usage(c, "--timeout %s: not 1..86400 "
					     "seconds", argv[i]);
		}
	}
	n = (size_t)snprintf(line, CTL_CMD_MAX, "prefetch %lld",
			     (long long)(timeout * 1000));
	for (; i < argc; i++) {
		ret = abs_path(argv[i], path, sizeof(path));
		if (ret) {
			fprintf(stderr, "canopyctl: prefetch: %s: %s\n", argv[i],
				strerror(-ret));
			free(line);
			return EXIT_USAGE;
		}
		if (++npaths > CTL_PREFETCH_PATHS) {
			free(line);
			return command_usage(c, "more than %d paths",
					     CTL_PREFETCH_PATHS);
		}
		line[n++] = ' ';
		w = ctl_arg_escape(path, line + n, CTL_CMD_MAX - n);
		if (w < 0) {
			free(line);
			return command_usage(c, "%s", "paths too long");
		}
		n += (size_t)w;
	}
	if (!npaths) {
		free(line);
		return command_usage(c, "%s", "no PATH given");
	}
	/* the daemon answers once every node is done or the timeout passed */
	ret = ask(sock, line, false, (int)(timeout * 1000) + 60000);
	free(line);
	return ret;
}

int main(int argc, char **argv)
{
	const char *mnt = "/canopy", *sock = NULL, *cmd;
	char sockbuf[PATH_MAX], canon[PATH_MAX], unit[PATH_MAX];
	const struct command *c;
	bool json = false, prom = false;
	int i, first;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return EXIT_OK;
		}
		if (i + 1 >= argc) {
			usage(stderr);
			return EXIT_USAGE;
		}
		if (!strcmp(argv[i], "-m"))
			mnt = argv[++i];
		else if (!strcmp(argv[i], "-s"))
			sock = argv[++i];
		else {
			fprintf(stderr, "canopyctl: unknown option %s\n",
				argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[i++];
	c = find_command(cmd);
	if (!c) {
		fprintf(stderr, "canopyctl: unknown command %s\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	first = i;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			command_help(stdout, c);
			return EXIT_OK;
		}
	}
	if (strcmp(c->name, "prefetch")) {
		for (i = first; i < argc; i++) {
			if (!strcmp(argv[i], "--json") &&
			    (!strcmp(c->name, "status") ||
			     !strcmp(c->name, "stats")))
				json = true;
			else if (!strcmp(argv[i], "--prom") &&
				 !strcmp(c->name, "stats"))
				prom = true;
			else
				return command_usage(c, "unexpected argument %s",
						     argv[i]);
		}
		if (json && prom)
			return command_usage(c, "%s", "--json or --prom, not both");
	}
	if (!sock) {
		int ret;

		if (!is_path(mnt)) {
			ret = unit_unescape(mnt, unit, sizeof(unit));
			if (ret) {
				fprintf(stderr, "canopyctl: -m %s: not a mount "
					"point nor a canopyd@ unit instance "
					"(systemd-escape --path)\n", mnt);
				return EXIT_USAGE;
			}
			mnt = unit;
		}
		ret = mount_path(mnt, canon, sizeof(canon));
		if (ret) {
			fprintf(stderr, "canopyctl: %s: %s\n", mnt,
				strerror(-ret));
			return EXIT_FAIL;
		}
		if (ctl_default_path(canon, sockbuf, sizeof(sockbuf))) {
			fprintf(stderr, "canopyctl: %s: path too long\n", mnt);
			return EXIT_USAGE;
		}
		sock = sockbuf;
	}
	if (!strcmp(c->name, "status"))
		return ask(sock, json ? "status json" : "status", false,
			   TIMEOUT_MS);
	if (!strcmp(c->name, "stats"))
		return ask(sock, prom ? "stats prom" : "stats json",
			   !json && !prom, TIMEOUT_MS);
	if (!strcmp(c->name, "tree"))
		return ask(sock, "tree", false, TIMEOUT_MS);
	if (!strcmp(c->name, "drop-caches"))
		return ask(sock, "drop-caches", false, TIMEOUT_MS);
	return cmd_prefetch(c, sock, argc, argv, first);
}
