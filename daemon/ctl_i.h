/* SPDX-License-Identifier: MIT */
/*
 * daemon/ctl_i.h - the control socket's address and protocol, shared by
 * canopyd (ctl.c) and canopyctl.
 *
 * Protocol: the client connects to the unix stream socket, writes one
 * command line ("status", "status json", "stats json", "stats prom",
 * "tree", "drop-caches", "prefetch TIMEOUT_MS PATH..."), and reads the
 * answer until the daemon closes the connection. An answer that starts with
 * "error: " is a failure. The paths of prefetch are absolute and escaped
 * with ctl_arg_escape() (no space, newline or '%' left), separated by one
 * space.
 */
#ifndef CANOPY_CTL_I_H
#define CANOPY_CTL_I_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CTL_CMD_MAX 65536
#define CTL_PREFETCH_PATHS 16 /* paths one prefetch command takes */

/*
 * Escape @in for a command line: bytes <= ' ', '%' and 0x7f become %XX.
 * Returns the length written, or -1 if @out (of @len) is too small.
 */
static inline int ctl_arg_escape(const char *in, char *out, size_t len)
{
	size_t n = 0;

	for (; *in; in++) {
		unsigned char c = *in;

		if (n + 4 > len)
			return -1;
		if (c <= ' ' || c == '%' || c == 0x7f)
			n += snprintf(out + n, len - n, "%%%02X", c);
		else
			out[n++] = c;
	}
	if (n >= len)
		return -1;
	out[n] = '\0';
	return (int)n;
}

/* Undo ctl_arg_escape() in place; -1 for a bad or NUL escape. */
static inline int ctl_arg_unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		unsigned v;

		if (*s != '%') {
			*w++ = *s;
			continue;
		}
		if (sscanf(s + 1, "%2x", &v) != 1 || !s[1] || !s[2] ||
		    !((s[1] >= '0' && s[1] <= '9') ||
		      (s[1] >= 'A' && s[1] <= 'F') ||
		      (s[1] >= 'a' && s[1] <= 'f')) ||
		    !((s[2] >= '0' && s[2] <= '9') ||
		      (s[2] >= 'A' && s[2] <= 'F') ||
		      (s[2] >= 'a' && s[2] <= 'f')) || !v)
			return -1;
		*w++ = (char)v;
		s += 2;
	}
	*w = '\0';
	return 0;
}

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
