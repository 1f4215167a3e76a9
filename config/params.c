// SPDX-License-Identifier: MIT
/*
 * config/params.c - the tunables table and the textual forms of their values:
 * finding a tunable by key or option, parsing, checking and setting a value,
 * and --help.
 *
 * Every tunable is one entry of conf_params[]: the JSON key, the command-line
 * option, the type, the default and a line of help. conf_init() sets each
 * default through the same parser as the command line, so a default that does
 * not parse is caught by the first test that calls conf_init().
 *
 * Every setter checks the value against the entry's range and flags before it
 * stores it; conf_finish() checks all of them again (conf_check_param()), in
 * case a caller wrote a field directly.
 *
 * Functions return 0 or -errno and, where they take an err buffer, leave a
 * message there that names the tunable (as the user spelled it: "--max-pages"
 * or "fuse.max_pages") and what would be accepted.
 */
#include "config.h"
#include "conf_i.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)

#define FIELD(f) offsetof(struct conf, f)

/* Longest cpu number accepted in a cpu list; the daemon checks what exists. */
#define CPU_MAX 65535

/* PARAM_ENUM choices, in the order of their enum */
static const char *const data_modes[] = { "rpc", "rma", NULL };

const struct param conf_params[] = {
	{
		.key = "cache.dir", .opt = "cache-dir",
		.type = PARAM_STRING, .off = FIELD(cache_dir),
		.def = "", .arg = "DIR", .flags = PARAM_F_ABSPATH,
		.help = "cache directory; \"\" = /dev/shm/canopy/<mount point>",
	},
	{
		.key = "cache.capacity", .opt = "cache-capacity",
		.type = PARAM_SIZE, .off = FIELD(cache_capacity),
		.def = "0", .arg = "SIZE", .min = 0, .max = UINT64_MAX,
		.help = "cache size limit; 0 = half the cache file system",
	},
	{
		.key = "cache.block_size", .opt = "block-size",
		.type = PARAM_SIZE, .off = FIELD(block_size),
		.def = "4M", .arg = "SIZE", .min = 64 * KIB, .max = 64 * MIB,
		.flags = PARAM_F_POW2,
		.help = "unit of fetching and caching large files",
	},
	{
		.key = "cache.small_file_max", .opt = "small-file-max",
		.type = PARAM_SIZE, .off = FIELD(small_file_max),
		.def = "16M", .arg = "SIZE", .min = 0, .max = GIB,
		.help = "files up to this size are fetched whole on first read",
	},
	{
		.key = "cache.tmpfs", .opt = "cache-tmpfs",
		.type = PARAM_BOOL, .off = FIELD(cache_tmpfs),
		.def = "true", .arg = "BOOL",
		.help = "as root, mount a huge-page tmpfs of the capacity on an "
			"empty cache dir",
	},
	{
		.key = "cache.owner_passthrough", .opt = "owner-passthrough",
		.type = PARAM_BOOL, .off = FIELD(owner_passthrough),
		.def = "false", .arg = "BOOL",
		.help = "owners pass opens through to the backing file",
	},
	{
		.key = "fuse.max_pages", .opt = "max-pages",
		.type = PARAM_UINT, .off = FIELD(max_pages),
		.def = "4096", .arg = "N", .min = 1, .max = 65535,
		.help = "largest FUSE request in pages "
			"(capped by /proc/sys/fs/fuse/max_pages_limit)",
	},
	{
		.key = "fuse.threads", .opt = "threads",
		.type = PARAM_UINT, .off = FIELD(threads),
		.def = "0", .arg = "N", .min = 0, .max = 1024,
		.help = "FUSE worker threads; 0 = one per online cpu",
	},
	{
		.key = "fuse.cpus", .opt = "cpus",
		.type = PARAM_STRING, .off = FIELD(cpus),
		.def = "", .arg = "LIST", .flags = PARAM_F_CPULIST,
		.help = "pin workers to these cpus (\"2,3\", \"0-3\"); "
			"\"\" = no pinning",
	},
	{
		.key = "fuse.poll_us", .opt = "poll-us",
		.type = PARAM_UINT, .off = FIELD(poll_us),
		.def = "50", .arg = "USEC", .min = 0, .max = 10000,
		.help = "after a request, one /dev/fuse worker polls for the "
			"next for this long instead of sleeping; 0 = never",
	},
	{
		.key = "fuse.entry_timeout", .opt = "entry-timeout",
		.type = PARAM_SECONDS, .off = FIELD(entry_timeout),
		.def = "300", .arg = "SEC",
		.help = "how long the kernel caches names",
	},
	{
		.key = "fuse.attr_timeout", .opt = "attr-timeout",
		.type = PARAM_SECONDS, .off = FIELD(attr_timeout),
		.def = "300", .arg = "SEC",
		.help = "how long the kernel caches attributes",
	},
	{
		.key = "fuse.negative_timeout", .opt = "negative-timeout",
		.type = PARAM_SECONDS, .off = FIELD(negative_timeout),
		.def = "300", .arg = "SEC",
		.help = "how long the kernel caches missing names; 0 = never",
	},
	{
		.key = "fuse.passthrough", .opt = "passthrough",
		.type = PARAM_BOOL, .off = FIELD(passthrough),
		.def = "true", .arg = "BOOL",
		.help = "serve cached files by FUSE passthrough (needs root)",
	},
	{
		.key = "fuse.no_open", .opt = "no-open",
		.type = PARAM_BOOL, .off = FIELD(no_open),
		.def = "false", .arg = "BOOL",
		.help = "answer OPEN with ENOSYS: the kernel then opens and "
			"closes files without asking canopyd (open+read+close "
			"near native speed), and files are read through the "
			"FUSE page cache, never by passthrough",
	},
	{
		.key = "fuse.splice", .opt = "splice",
		.type = PARAM_BOOL, .off = FIELD(splice),
		.def = "true", .arg = "BOOL",
		.help = "splice read replies from the cache files",
	},
	{
		.key = "fuse.cold_direct_io", .opt = "cold-direct-io",
		.type = PARAM_BOOL, .off = FIELD(cold_direct_io),
		.def = "true", .arg = "BOOL",
		.help = "open files over cache.small_file_max that are not "
			"cached whole yet with FOPEN_DIRECT_IO: no second copy "
			"in the kernel page cache",
	},
	{
		.key = "fuse.uring", .opt = "fuse-uring",
		.type = PARAM_BOOL, .off = FIELD(fuse_uring),
		.def = "true", .arg = "BOOL",
		.help = "take requests over FUSE-over-io_uring, one queue "
			"per cpu, when the kernel offers it (fuse module "
			"enable_uring=Y)",
	},
	{
		.key = "fuse.uring_entries", .opt = "uring-entries",
		.type = PARAM_UINT, .off = FIELD(uring_entries),
		.def = "4", .arg = "N", .min = 1, .max = 64,
		.help = "requests in flight per cpu queue over io_uring",
	},
	{
		.key = "fuse.uring_threads", .opt = "uring-threads",
		.type = PARAM_UINT, .off = FIELD(uring_threads),
		.def = "1", .arg = "N", .min = 1, .max = 64,
		.help = "threads per cpu queue over io_uring, sharing its "
			"entries; with one entry each, a request that waits "
			"on the backing store holds up no other",
	},
	{
		.key = "fuse.uring_batch", .opt = "uring-batch",
		.type = PARAM_BOOL, .off = FIELD(uring_batch),
		.def = "true", .arg = "BOOL",
		.help = "io_uring queue threads run SCHED_BATCH: requests "
			"nobody waits for (RELEASE) do not preempt the caller",
	},
	{
		.key = "fuse.readahead_kb", .opt = "readahead-kb",
		.type = PARAM_UINT, .off = FIELD(readahead_kb),
		.def = "0", .arg = "N", .min = 0, .max = UINT_MAX,
		.help = "read_ahead_kb of the mount; 0 = match max_read",
	},
	{
		.key = "io.uring_depth", .opt = "uring-depth",
		.type = PARAM_UINT, .off = FIELD(uring_depth),
		.def = "64", .arg = "N", .min = 1, .max = 4096,
		.help = "io_uring queue depth per worker",
	},
	{
		.key = "io.backing_direct", .opt = "backing-direct",
		.type = PARAM_BOOL, .off = FIELD(backing_direct),
		.def = "true", .arg = "BOOL",
		.help = "read blocks of files over cache.small_file_max with "
			"O_DIRECT, straight into the cache file",
	},
	{
		.key = "io.fetch_ahead", .opt = "fetch-ahead",
		.type = PARAM_UINT, .off = FIELD(fetch_ahead),
		.def = "16", .arg = "N", .min = 0, .max = 64,
		.help = "blocks fetched ahead of a sequential reader (up to "
			"twice its run), by up to 16 fetch threads; 0 = the "
			"next block, by the worker that served the read",
	},
	{
		.key = "io.dir_fds", .opt = "dir-fds",
		.type = PARAM_UINT, .off = FIELD(dir_fds),
		.def = "4096", .arg = "N", .min = 0, .max = 1 << 20,
		.help = "backing directories kept open (O_PATH, for the "
			"entry timeout) so that a name is looked up in its "
			"parent, not by walking its whole path; 0 = walk",
	},
	{
		.key = "kernel.max_pages_limit",
		.opt = "kernel-max-pages-limit",
		.type = PARAM_UINT, .off = FIELD(kernel_max_pages_limit),
		.def = "0", .arg = "N", .min = 0, .max = 65535,
		.help = "set /proc/sys/fs/fuse/max_pages_limit before start "
			"(canopy-tunables); 0 = leave alone",
	},
	{
		.key = "kernel.enable_uring", .opt = "kernel-enable-uring",
		.type = PARAM_TRIBOOL, .off = FIELD(kernel_enable_uring),
		.def = "", .arg = "BOOL",
		.help = "set the fuse module's enable_uring before start "
			"(canopy-tunables); \"\" = leave alone",
	},
	{
		.key = "transport.provider", .opt = "provider",
		.type = PARAM_STRING, .off = FIELD(provider),
		.def = "tcp;ofi_rxm", .arg = "NAME", .flags = PARAM_F_NONEMPTY,
		.help = "libfabric provider between nodes (\"cxi\", "
			"\"verbs;ofi_rxm\")",
	},
	{
		.key = "transport.data_mode", .opt = "data-mode",
		.type = PARAM_ENUM, .off = FIELD(data_mode),
		.def = "rpc", .arg = "MODE", .choices = data_modes,
		.help = "rpc (blocks travel in replies) or rma (the child "
			"reads them with fi_read)",
	},
	{
		.key = "transport.timeout", .opt = "peer-timeout",
		.type = PARAM_SECONDS, .off = FIELD(peer_timeout),
		.def = "2", .arg = "SEC", .flags = PARAM_F_POSITIVE,
		.help = "a peer request not answered by then goes elsewhere",
	},
	{
		.key = "transport.threads", .opt = "peer-threads",
		.type = PARAM_UINT, .off = FIELD(peer_threads),
		.def = "4", .arg = "N", .min = 1, .max = 64,
		.help = "threads serving peer requests",
	},
	{
		.key = "transport.recv_buffers", .opt = "recv-buffers",
		.type = PARAM_UINT, .off = FIELD(recv_buffers),
		.def = "16", .arg = "N", .min = 1, .max = 4096,
		.help = "receive buffers posted for peer messages",
	},
	{
		.key = "transport.ready_wait", .opt = "ready-wait",
		.type = PARAM_SECONDS, .off = FIELD(ready_wait),
		.def = "30", .arg = "SEC",
		.help = "at start, wait this long at most for the parent in "
			"each tree before reporting ready",
	},
	{
		.key = "control.socket", .opt = "ctl-socket",
		.type = PARAM_STRING, .off = FIELD(ctl_socket),
		.def = "", .arg = "PATH",
		.flags = PARAM_F_ABSPATH | PARAM_F_SOCKPATH,
		.help = "control socket; \"\" = derived from the mount point",
	},
	{
		.key = "log.level", .opt = "log-level",
		.type = PARAM_LOGLEVEL, .off = FIELD(log_level),
		.def = "info", .arg = "LEVEL",
		.help = "err, warning, notice, info or debug",
	},
	{
		.key = "node", .opt = "node",
		.type = PARAM_STRING, .off = FIELD(node),
		.def = "", .arg = "NAME",
		.help = "this node's name in the topology; \"\" = host name",
	},
	{ .key = NULL },
};

static const struct {
	const char *name;
	int level;
} log_levels[] = {
	{ "err", LOG_LVL_ERR },
	{ "warning", LOG_LVL_WARNING },
	{ "notice", LOG_LVL_NOTICE },
	{ "info", LOG_LVL_INFO },
	{ "debug", LOG_LVL_DEBUG },
};

#define LOG_LEVEL_NAMES "err, warning, notice, info or debug"

const struct param *conf_param_by_key(const char *key)
{
	const struct param *p;

	if (!key)
		return NULL;
	for (p = conf_params; p->key; p++)
		if (!strcmp(p->key, key))
			return p;
	return NULL;
}

const struct param *conf_param_by_opt(const char *opt)
{
	const struct param *p;

	if (!opt)
		return NULL;
	for (p = conf_params; p->key; p++)
		if (!strcmp(p->opt, opt))
			return p;
	return NULL;
}

/*
 * Optimal string alignment distance (Levenshtein plus transpositions of two
 * neighbours, the commonest typo). Names longer than NAME_MAX_DIST never
 * match.
 */
#define NAME_MAX_DIST 64

size_t conf_distance(const char *a, const char *b)
{
	size_t rows[3][NAME_MAX_DIST + 1];
	size_t *pp, *prev, *cur;
	size_t la = strlen(a), lb = strlen(b), i, j;

	if (la > NAME_MAX_DIST || lb > NAME_MAX_DIST)
		return SIZE_MAX;
	pp = rows[0];
	prev = rows[1];
	cur = rows[2];
	for (j = 0; j <= lb; j++)
		prev[j] = j;
	for (i = 1; i <= la; i++) {
		size_t *t;

		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t d = prev[j - 1] + cost;

			if (prev[j] + 1 < d)
				d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && pp[j - 2] + 1 < d)
				d = pp[j - 2] + 1;
			cur[j] = d;
		}
		t = pp;
		pp = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

/* The nearest key or option name to @name, if it is a likely typo. */
static const char *suggest(const char *name)
{
	size_t len = strlen(name), best = SIZE_MAX, limit, d;
	const char *hit = NULL;
	const struct param *p;

	limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
	for (p = conf_params; p->key; p++) {
		d = conf_distance(name, p->key);
		if (d < best) {
			best = d;
			hit = p->key;
		}
		d = conf_distance(name, p->opt);
		if (d < best) {
			best = d;
			hit = p->opt;
		}
	}
	return best <= limit ? hit : NULL;
}

void conf_format_size(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "TGMK";
	int i;

	for (i = 0; i < 4 && v; i++) {
		unsigned shift = 10 * (4 - i);

		if (!(v & ((UINT64_C(1) << shift) - 1))) {
			snprintf(buf, len, "%" PRIu64 "%c", v >> shift,
				 units[i]);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu64, v);
}

int conf_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "kmgt";
	const char *end, *u;
	unsigned shift = 0;
	uint64_t v;
	int ret;

	if (!s)
		return -EINVAL;
	ret = parse_u64(s, &end, &v);
	if (ret)
		return ret;
	if (*end && *end != 'b' && *end != 'B') {
		u = strchr(units, *end | 0x20);
		if (!u)
			return -EINVAL;
		shift = 10 * (unsigned)(u - units + 1);
		end++;
		if ((end[0] | 0x20) == 'i' && (end[1] | 0x20) == 'b')
			end += 2;
		else if ((end[0] | 0x20) == 'b')
			end++;
	} else if (*end) {
		end++;
	}
	if (*end)
		return -EINVAL;
	if (shift && v > UINT64_MAX >> shift)
		return -ERANGE;
	*out = v << shift;
	return 0;
}

void conf_param_choices(const struct param *p, char *buf, size_t len)
{
	size_t used = 0, i, n;

	*buf = '\0';
	if (p->type != PARAM_ENUM)
		return;
	for (n = 0; p->choices[n]; n++)
		;
	for (i = 0; i < n && used < len; i++) {
		used += snprintf(buf + used, len - used, "%s%s",
				 !i ? "" : i + 1 < n ? ", " : " or ",
				 p->choices[i]);
	}
}

static void format_num(const struct param *p, uint64_t v, char *buf,
		       size_t len)
{
	if (p->type == PARAM_SIZE)
		conf_format_size(v, buf, len);
	else
		snprintf(buf, len, "%" PRIu64, v);
}

static void format_range(const struct param *p, char *buf, size_t len)
{
	char lo[32], hi[32];

	format_num(p, p->min, lo, sizeof(lo));
	if (p->max == UINT64_MAX) {
		snprintf(buf, len, "%s or more", lo);
		return;
	}
	format_num(p, p->max, hi, sizeof(hi));
	snprintf(buf, len, "%s..%s", lo, hi);
}

/* @name is how the user spelled the tunable; @v is the value to store. */
static int check_num(const struct param *p, const char *name, uint64_t v,
		     char *err, size_t errlen)
{
	char shown[32], range[80], lo[32], hi[32];
	uint64_t below;

	format_num(p, v, shown, sizeof(shown));
	if (v < p->min || v > p->max) {
		format_range(p, range, sizeof(range));
		return fail(err, errlen, -ERANGE, "%s: %s is out of range (%s)",
			    name, shown, range);
	}
	if ((p->flags & PARAM_F_POW2) && (v & (v - 1))) {
		below = UINT64_C(1) << (63 - __builtin_clzll(v));
		format_num(p, below, lo, sizeof(lo));
		format_num(p, below << 1, hi, sizeof(hi));
		return fail(err, errlen, -EINVAL,
			    "%s: %s is not a power of two; try %s or %s", name,
			    shown, lo, hi);
	}
	return 0;
}

static int set_num(struct conf *c, const struct param *p, const char *name,
		   uint64_t v, char *err, size_t errlen)
{
	int ret;

	ret = check_num(p, name, v, err, errlen);
	if (ret)
		return ret;
	if (p->type == PARAM_SIZE)
		*(uint64_t *)field(c, p) = v;
	else
		*(unsigned *)field(c, p) = (unsigned)v;
	return 0;
}

static int check_seconds(const struct param *p, const char *name, double v,
			 char *err, size_t errlen)
{
	if (isnan(v))
		return fail(err, errlen, -EINVAL,
			    "%s: not a number of seconds", name);
	if (v < 0)
		return fail(err, errlen, -ERANGE,
			    "%s: %g is negative; use 0 or more seconds", name,
			    v);
	if ((p->flags & PARAM_F_POSITIVE) && v == 0)
		return fail(err, errlen, -ERANGE,
			    "%s: 0 is out of range; use more than 0 seconds",
			    name);
	if (v > CONF_SECONDS_MAX)
		return fail(err, errlen, -ERANGE,
			    "%s: %g is out of range (0..%g seconds)", name, v,
			    CONF_SECONDS_MAX);
	return 0;
}

static int check_cpulist(const char *s)
{
	const char *q = s;
	uint64_t lo, hi;

	if (!*s)
		return 0;
	for (;;) {
		if (parse_u64(q, &q, &lo) || lo > CPU_MAX)
			return -EINVAL;
		hi = lo;
		if (*q == '-' && (parse_u64(q + 1, &q, &hi) || hi > CPU_MAX ||
				  hi < lo))
			return -EINVAL;
		if (!*q)
			return 0;
		if (*q++ != ',')
			return -EINVAL;
	}
}

static int check_string(const struct param *p, const char *name,
			const char *v, char *err, size_t errlen)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);

	if (!v)
		return fail(err, errlen, -EINVAL, "%s: not set", name);
	if ((p->flags & PARAM_F_NONEMPTY) && !*v)
		return fail(err, errlen, -EINVAL, "%s: must not be empty",
			    name);
	if ((p->flags & PARAM_F_ABSPATH) && *v && *v != '/')
		return fail(err, errlen, -EINVAL,
			    "%s: \"%s\" is not an absolute path", name, v);
	if ((p->flags & PARAM_F_SOCKPATH) && strlen(v) >= max)
		return fail(err, errlen, -ENAMETOOLONG,
			    "%s: \"%s\" is %zu bytes; a unix socket path must "
			    "be shorter than %zu", name, v, strlen(v), max);
	if ((p->flags & PARAM_F_CPULIST) && check_cpulist(v))
		return fail(err, errlen, -EINVAL,
			    "%s: \"%s\" is not a cpu list; use numbers and "
			    "ascending ranges such as \"2,3\" or \"0-3,8\"",
			    name, v);
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_seconds(const char *s, double *out)
{
	char *end;

	/* strtod() would also take blanks, "inf", "nan" and hex */
	if (!*s || strspn(s, "0123456789.eE+-") != strlen(s))
		return -EINVAL;
	errno = 0;
	*out = strtod(s, &end);
	if (*end || end == s)
		return -EINVAL;
	if (errno == ERANGE && (*out > 1 || *out < -1))
		return -ERANGE;
	return 0;
}

/* Parse @v by p->type and store it; @name is what the user called it. */
static int set_text(struct conf *c, const struct param *p, const char *name,
		    const char *v, char *err, size_t errlen)
{
	const char *end;
	char range[80];
	uint64_t n;
	double secs;
	char *copy;
	size_t i;
	bool b;
	int ret;

	if (!v)
		return fail(err, errlen, -EINVAL, "%s: missing value", name);

	switch (p->type) {
	case PARAM_BOOL:
		if (parse_bool(v, &b))
			return fail(err, errlen, -EINVAL,
				    "%s: \"%s\" is not a boolean; use true or "
				    "false (yes/no, on/off, 1/0)", name, v);
		*(bool *)field(c, p) = b;
		return 0;
	case PARAM_TRIBOOL:
		if (!*v || !strcasecmp(v, "unset")) {
			*(int *)field(c, p) = -1;
			return 0;
		}
		if (parse_bool(v, &b))
			return fail(err, errlen, -EINVAL,
				    "%s: \"%s\" is not a boolean; use true or "
				    "false (yes/no, on/off, 1/0), or \"\" to "
				    "leave it alone", name, v);
		*(int *)field(c, p) = b;
		return 0;
	case PARAM_UINT:
		ret = parse_u64(v, &end, &n);
		if (ret == -ERANGE) {
			format_range(p, range, sizeof(range));
			return fail(err, errlen, ret,
				    "%s: %s is out of range (%s)", name, v,
				    range);
		}
		if (ret || *end)
			return fail(err, errlen, -EINVAL,
				    "%s: \"%s\" is not a whole number", name,
				    v);
		return set_num(c, p, name, n, err, errlen);
	case PARAM_SIZE:
		ret = conf_parse_size(v, &n);
		if (ret == -ERANGE)
			return fail(err, errlen, ret,
				    "%s: %s is too large for 64 bits", name, v);
		if (ret)
			return fail(err, errlen, ret,
				    "%s: \"%s\" is not a size; use bytes or a "
				    "number with K, M, G or T (\"4M\")", name,
				    v);
		return set_num(c, p, name, n, err, errlen);
	case PARAM_SECONDS:
		ret = parse_seconds(v, &secs);
		if (ret == -ERANGE)
			return fail(err, errlen, ret,
				    "%s: %s is out of range (0..%g seconds)",
				    name, v, CONF_SECONDS_MAX);
		if (ret)
			return fail(err, errlen, ret,
				    "%s: \"%s\" is not a number of seconds",
				    name, v);
		ret = check_seconds(p, name, secs, err, errlen);
		if (ret)
			return ret;
		*(double *)field(c, p) = secs;
		return 0;
	case PARAM_STRING:
		ret = check_string(p, name, v, err, errlen);
		if (ret)
			return ret;
		copy = strdup(v);
		if (!copy)
			return fail(err, errlen, -ENOMEM, "%s: out of memory",
				    name);
		free(*(char **)field(c, p));
		*(char **)field(c, p) = copy;
		return 0;
	case PARAM_LOGLEVEL:
		for (i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]);
		     i++) {
			if (!strcasecmp(v, log_levels[i].name)) {
				*(int *)field(c, p) = log_levels[i].level;
				return 0;
			}
		}
		return fail(err, errlen, -EINVAL,
			    "%s: \"%s\" is not a log level; use "
			    LOG_LEVEL_NAMES, name, v);
	case PARAM_ENUM:
		for (i = 0; p->choices[i]; i++) {
			if (!strcmp(v, p->choices[i])) {
				*(int *)field(c, p) = (int)i;
				return 0;
			}
		}
		conf_param_choices(p, range, sizeof(range));
		return fail(err, errlen, -EINVAL,
			    "%s: \"%s\" is not allowed; use %s", name, v,
			    range);
	}
	return fail(err, errlen, -EINVAL, "%s: tunable of unknown type %d",
		    name, (int)p->type);
}

int conf_param_set_text(struct conf *c, const struct param *p,
			const char *value, char *err, size_t errlen)
{
	return set_text(c, p, p->key, value, err, errlen);
}

int conf_param_set_int(struct conf *c, const struct param *p, int64_t value,
		       char *err, size_t errlen)
{
	char range[80];

	if (p->type != PARAM_UINT && p->type != PARAM_SIZE)
		return fail(err, errlen, -EINVAL, "%s: not a number tunable",
			    p->key);
	if (value < 0) {
		format_range(p, range, sizeof(range));
		return fail(err, errlen, -ERANGE,
			    "%s: %" PRId64 " is out of range (%s)", p->key,
			    value, range);
	}
	return set_num(c, p, p->key, (uint64_t)value, err, errlen);
}

int conf_param_set_seconds(struct conf *c, const struct param *p, double value,
			   char *err, size_t errlen)
{
	int ret;

	if (p->type != PARAM_SECONDS)
		return fail(err, errlen, -EINVAL, "%s: not a seconds tunable",
			    p->key);
	ret = check_seconds(p, p->key, value, err, errlen);
	if (ret)
		return ret;
	*(double *)field(c, p) = value;
	return 0;
}

int conf_set(struct conf *c, const char *name, const char *value, char *err,
	     size_t errlen)
{
	const struct param *p;
	const char *hint;
	char shown[80];

	if (!name)
		return fail(err, errlen, -EINVAL, "missing tunable name");
	p = conf_param_by_key(name);
	if (p)
		return set_text(c, p, name, value, err, errlen);

	if (!strncmp(name, "--", 2))
		name += 2;
	p = conf_param_by_opt(name);
	if (p) {
		snprintf(shown, sizeof(shown), "--%s", p->opt);
		return set_text(c, p, shown, value, err, errlen);
	}

	hint = suggest(name);
	if (hint)
		return fail(err, errlen, -ENOENT,
			    "unknown tunable \"%s\" (did you mean \"%s\"?)",
			    name, hint);
	return fail(err, errlen, -ENOENT,
		    "unknown tunable \"%s\" (canopyd --help lists them)", name);
}

int conf_check_param(struct conf *c, const struct param *p, char *err,
		     size_t errlen)
{
	char names[80];
	int level;
	size_t n;

	switch (p->type) {
	case PARAM_BOOL:
		return 0;
	case PARAM_TRIBOOL:
		level = *(int *)field(c, p);
		if (level < -1 || level > 1)
			return fail(err, errlen, -EINVAL,
				    "%s: %d is not true, false or unset",
				    p->key, level);
		return 0;
	case PARAM_UINT:
		return check_num(p, p->key, *(unsigned *)field(c, p), err,
				 errlen);
	case PARAM_SIZE:
		return check_num(p, p->key, *(uint64_t *)field(c, p), err,
				 errlen);
	case PARAM_SECONDS:
		return check_seconds(p, p->key, *(double *)field(c, p), err,
				     errlen);
	case PARAM_STRING:
		return check_string(p, p->key, *(char **)field(c, p), err,
				    errlen);
	case PARAM_LOGLEVEL:
		level = *(int *)field(c, p);
		if (level < LOG_LVL_ERR || level > LOG_LVL_DEBUG)
			return fail(err, errlen, -EINVAL,
				    "%s: %d is not a log level (%d..%d)",
				    p->key, level, LOG_LVL_ERR, LOG_LVL_DEBUG);
		return 0;
	case PARAM_ENUM:
		level = *(int *)field(c, p);
		for (n = 0; p->choices[n]; n++)
			;
		if (level < 0 || (size_t)level >= n) {
			conf_param_choices(p, names, sizeof(names));
			return fail(err, errlen, -EINVAL,
				    "%s: %d is not a valid value (%s)", p->key,
				    level, names);
		}
		return 0;
	}
	return fail(err, errlen, -EINVAL, "%s: tunable of unknown type %d",
		    p->key, (int)p->type);
}

void conf_help(FILE *f)
{
	int wopt = (int)strlen("--export DIR"), wkey = 0, n;
	const struct param *p;
	char buf[160];

	for (p = conf_params; p->key; p++) {
		n = snprintf(buf, sizeof(buf), "--%s %s", p->opt, p->arg);
		if (n > wopt)
			wopt = n;
		n = snprintf(buf, sizeof(buf), "%s = %s", p->key,
			     *p->def ? p->def : "\"\"");
		if (n > wkey)
			wkey = n;
	}

	fprintf(f, "  %-*s  %-*s  %s\n", wopt, "--export DIR", wkey,
		"exports = [\"/\"]",
		"export this backing directory (repeatable)");
	for (p = conf_params; p->key; p++) {
		char opt[80], key[80];

		snprintf(opt, sizeof(opt), "--%s %s", p->opt, p->arg);
		snprintf(key, sizeof(key), "%s = %s", p->key,
			 *p->def ? p->def : "\"\"");
		fprintf(f, "  %-*s  %-*s  %s\n", wopt, opt, wkey, key, p->help);
	}
}
