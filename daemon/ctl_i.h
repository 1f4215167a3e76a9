/* SPDX-License-Identifier: MIT */
/*
 * daemon/ctl_i.h - the control socket's address and protocol, shared by
 * canopyd (ctl.c) and canopyctl.
 *
 * Protocol: the client connects to the unix stream socket, writes one
 * command line ("status", "status json", "stats json", "drop-caches"), and
 * reads the answer until the daemon closes the connection. An answer that
 * starts with "error: " is a failure.
 */
#ifndef CANOPY_CTL_I_H
#define CANOPY_CTL_I_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CTL_CMD_MAX 256

/*
 * Escape an absolute path into one file name, as systemd does for units:
 * "/" becomes "-", bytes other than [A-Za-z0-9:_.] become \xNN. Names that
 * would pass @max bytes are replaced by a hash of the path.
 */
static inline void canopy_escape(const char *path, char *out, size_t len,
				 size_t max)
{
	const char *p = path;
	size_t n = 0;

	while (*p == '/')
		p++;
	if (!*p && len > 1)
		out[n++] = '-';
	for (; *p && n + 5 < len; p++) {
		unsigned char c = *p;

		if (c == '/')
			out[n++] = '-';
		else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == ':' || c == '_' ||
			 c == '.')
			out[n++] = c;
		else
			n += snprintf(out + n, len - n, "\\x%02x", c);
	}
	out[n] = '\0';
	if (n > max || *p) {
		unsigned long long h = 0xcbf29ce484222325ULL;

		for (p = path; *p; p++)
			h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
		snprintf(out, len, "m-%016llx", h);
	}
}

/*
 * The default socket of the mount at @mnt (a canonical absolute path):
 * /run/canopy/<escaped>.sock as root, $XDG_RUNTIME_DIR/canopy/... or
 * /tmp/canopy-<uid>/... otherwise.
 */
static inline int ctl_default_path(const char *mnt, char *out, size_t len)
{
	char dir[128], esc[512];
	const char *rt = getenv("XDG_RUNTIME_DIR");

	if (geteuid() == 0)
		snprintf(dir, sizeof(dir), "/run/canopy");
	else if (rt && *rt == '/' && strlen(rt) < 100)
		snprintf(dir, sizeof(dir), "%s/canopy", rt);
	else
		snprintf(dir, sizeof(dir), "/tmp/canopy-%u",
			 (unsigned)geteuid());
	/* sun_path holds 108 bytes */
	canopy_escape(mnt, esc, sizeof(esc), 107 - strlen(dir) - 7);
	if ((size_t)snprintf(out, len, "%s/%s.sock", dir, esc) >= len)
		return -1;
	return 0;
}

#endif /* CANOPY_CTL_I_H */
