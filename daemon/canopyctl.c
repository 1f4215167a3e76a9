// SPDX-License-Identifier: MIT
/*
 * daemon/canopyctl.c - canopyctl, the admin client of canopyd's control
 * socket.
 *
 *   canopyctl [-m MOUNTPOINT | -s SOCKET] status [--json]
 *   canopyctl [-m MOUNTPOINT | -s SOCKET] stats [--json]
 *   canopyctl [-m MOUNTPOINT | -s SOCKET] tree
 *   canopyctl [-m MOUNTPOINT | -s SOCKET] drop-caches
 *
 * Exit status: 0 success, 1 the daemon cannot be reached or refused, 2 usage.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_i.h"

#define TIMEOUT_MS 10000

static void usage(FILE *f)
{
	fputs("usage: canopyctl [-m MOUNTPOINT | -s SOCKET] COMMAND [--json]\n"
	      "\n"
	      "commands:\n"
	      "  status [--json]   what the kernel negotiated: protocol,\n"
	      "                    max_pages, max_read, passthrough, splice,\n"
	      "                    threads; exits 0 once the mount is ready\n"
	      "  stats [--json]    counters: per-opcode counts and latencies,\n"
	      "                    read sizes, backing-store operations, cache\n"
	      "  tree              this node's parent and children in each\n"
	      "                    tree, and whether each is reachable\n"
	      "  drop-caches       drop every cached file that is not open,\n"
	      "                    and the metadata kept for the tree\n"
	      "\n"
	      "  -m MOUNTPOINT     the canopyd mount to talk to (default /canopy)\n"
	      "  -s SOCKET         its control socket, when not the default\n"
	      "  -h, --help        this help\n"
	      "\n"
	      "exit status: 0 ok, 1 daemon unreachable or error, 2 usage\n",
	      f);
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

/* Send @cmd, copy the answer to stdout; 0, or 1 on any failure. */
static int ask(const char *sock, const char *cmd, bool stats_text)
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

		if (poll(&p, 1, TIMEOUT_MS) != 1) {
			fprintf(stderr, "canopyctl: canopyd at %s did not "
				"answer within %d s\n", sock, TIMEOUT_MS / 1000);
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

int main(int argc, char **argv)
{
	const char *mnt = "/canopy", *sock = NULL, *cmd;
	char sockbuf[PATH_MAX], canon[PATH_MAX], line[CTL_CMD_MAX];
	bool json = false;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
		if (i + 1 >= argc) {
			usage(stderr);
			return 2;
		}
		if (!strcmp(argv[i], "-m"))
			mnt = argv[++i];
		else if (!strcmp(argv[i], "-s"))
			sock = argv[++i];
		else {
			fprintf(stderr, "canopyctl: unknown option %s\n",
				argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[i++];
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "canopyctl: %s: unexpected argument %s\n",
				cmd, argv[i]);
			return 2;
		}
	}
	if (!sock) {
		int ret = mount_path(mnt, canon, sizeof(canon));

		if (ret) {
			fprintf(stderr, "canopyctl: %s: %s\n", mnt,
				strerror(-ret));
			return 1;
		}
		if (ctl_default_path(canon, sockbuf, sizeof(sockbuf))) {
			fprintf(stderr, "canopyctl: %s: path too long\n", mnt);
			return 2;
		}
		sock = sockbuf;
	}
	if (!strcmp(cmd, "status")) {
		return ask(sock, json ? "status json" : "status", false);
	} else if (!strcmp(cmd, "stats")) {
		return ask(sock, "stats json", !json);
	} else if (!strcmp(cmd, "tree")) {
		return ask(sock, "tree", false);
	} else if (!strcmp(cmd, "drop-caches")) {
		snprintf(line, sizeof(line), "drop-caches");
		return ask(sock, line, false);
	}
	fprintf(stderr, "canopyctl: unknown command %s\n", cmd);
	usage(stderr);
	return 2;
}
