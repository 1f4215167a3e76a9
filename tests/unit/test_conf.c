// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_conf.c - the tunables table, value parsing, exports.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct conf c;
static char err[CONF_ERR_MAX];
static char tmpdir[64];

static void setup(void)
{
	cr_assert_eq(conf_init(&c), 0);
	err[0] = '\0';
	tmpdir[0] = '\0';
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void teardown(void)
{
	conf_free(&c);
	if (tmpdir[0] && nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS))
		cr_log_warn("could not remove %s", tmpdir);
}

TestSuite(conf, .init = setup, .fini = teardown);

/* A scratch directory tree: D/a, D/a/b, D/ab, D/a-b, D/file. */
static const char *make_tree(void)
{
	char p[128];
	FILE *f;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/canopy-conf-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(p, sizeof(p), "%s/a", tmpdir);
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/a/b", tmpdir);
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/ab", tmpdir);
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/a-b", tmpdir);
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/file", tmpdir);
	f = fopen(p, "w");
	cr_assert_not_null(f);
	fclose(f);
	return tmpdir;
}

/* Export @dir followed by @tail. */
static void add(const char *dir, const char *tail)
{
	char p[256];

	snprintf(p, sizeof(p), "%s%s", dir, tail);
	cr_assert_eq(conf_add_export(&c, p, err, sizeof(err)), 0, "%s", err);
}

static void set_ok(const char *name, const char *value)
{
	int ret = conf_set(&c, name, value, err, sizeof(err));

	cr_assert_eq(ret, 0, "%s=%s: %s", name, value, err);
}

static void set_fails(const char *name, const char *value, int want,
		      const char *msg)
{
	int ret;

	err[0] = '\0';
	ret = conf_set(&c, name, value, err, sizeof(err));
	cr_assert_eq(ret, want, "%s=%s returned %d (%s)", name, value, ret,
		     err);
	cr_assert_str_eq(err, msg);
}

Test(conf, defaults_are_the_documented_values)
{
	cr_assert_eq(c.exports, NULL);
	cr_assert_eq(c.nexports, 0);
	cr_assert_str_eq(c.cache_dir, "");
	cr_assert_eq(c.cache_capacity, 0);
	cr_assert_eq(c.block_size, 4 << 20);
	cr_assert_eq(c.small_file_max, 16 << 20);
	cr_assert_eq(c.owner_passthrough, false);
	cr_assert_eq(c.max_pages, 4096);
	cr_assert_eq(c.threads, 0);
	cr_assert_str_eq(c.cpus, "");
	cr_assert_eq(c.entry_timeout, 300.0);
	cr_assert_eq(c.attr_timeout, 300.0);
	cr_assert_eq(c.negative_timeout, 300.0);
	cr_assert_eq(c.passthrough, true);
	cr_assert_eq(c.no_open, false);
	cr_assert_eq(c.splice, true);
	cr_assert_eq(c.cold_direct_io, true);
	cr_assert_eq(c.readahead_kb, 0);
	cr_assert_eq(c.uring_depth, 64);
	cr_assert_eq(c.backing_direct, true);
	cr_assert_eq(c.fetch_ahead, 16);
	cr_assert_eq(c.kernel_max_pages_limit, 0);
	cr_assert_eq(c.kernel_enable_uring, -1);
	cr_assert_str_eq(c.ctl_socket, "");
	cr_assert_eq(c.log_level, LOG_LVL_INFO);
	cr_assert_str_eq(c.node, "");
	cr_assert_eq(c.config_path, NULL);
	cr_assert_null(c.nodes);
	cr_assert_eq(c.nnodes, 0);
	cr_assert_null(c.roots);
	cr_assert_eq(c.nroots, 0);
	cr_assert_eq(c.fanout, 4);
	cr_assert_eq(c.placement, PLACEMENT_FILE);
	cr_assert_str_eq(c.provider, "tcp;ofi_rxm");
	cr_assert_eq(c.data_mode, DATA_MODE_RPC);
	cr_assert_eq(c.peer_timeout, 2.0);
	cr_assert_eq(c.peer_threads, 4);
	cr_assert_eq(c.recv_buffers, 16);
	cr_assert_eq(c.ready_wait, 30.0);
	cr_assert_eq(c.auth_none, false);
	cr_assert_null(c.auth_key_file);
	cr_assert_eq(c.node_index, 0);
}

Test(conf, table_has_one_entry_per_field_with_unique_names)
{
	static const size_t fields[] = {
		offsetof(struct conf, cache_dir),
		offsetof(struct conf, cache_capacity),
		offsetof(struct conf, block_size),
		offsetof(struct conf, small_file_max),
		offsetof(struct conf, owner_passthrough),
		offsetof(struct conf, cache_tmpfs),
		offsetof(struct conf, max_pages),
		offsetof(struct conf, threads),
		offsetof(struct conf, cpus),
		offsetof(struct conf, poll_us),
		offsetof(struct conf, entry_timeout),
		offsetof(struct conf, attr_timeout),
		offsetof(struct conf, negative_timeout),
		offsetof(struct conf, passthrough),
		offsetof(struct conf, no_open),
		offsetof(struct conf, splice),
		offsetof(struct conf, cold_direct_io),
		offsetof(struct conf, fuse_uring),
		offsetof(struct conf, uring_entries),
		offsetof(struct conf, uring_threads),
		offsetof(struct conf, uring_batch),
		offsetof(struct conf, readahead_kb),
		offsetof(struct conf, uring_depth),
		offsetof(struct conf, backing_direct),
		offsetof(struct conf, fetch_ahead),
		offsetof(struct conf, dir_fds),
		offsetof(struct conf, kernel_max_pages_limit),
		offsetof(struct conf, kernel_enable_uring),
		offsetof(struct conf, provider),
		offsetof(struct conf, data_mode),
		offsetof(struct conf, peer_timeout),
		offsetof(struct conf, peer_threads),
		offsetof(struct conf, recv_buffers),
		offsetof(struct conf, ready_wait),
		offsetof(struct conf, ctl_socket),
		offsetof(struct conf, log_level),
		offsetof(struct conf, node),
	};
	const size_t nfields = sizeof(fields) / sizeof(fields[0]);
	const struct param *p, *q;
	size_t n = 0, i, hits;

	for (p = conf_params; p->key; p++, n++) {
		cr_assert_not_null(p->opt, "%s", p->key);
		cr_assert_not_null(p->def, "%s", p->key);
		cr_assert_not_null(p->arg, "%s", p->key);
		cr_assert(p->help && *p->help, "%s has no help", p->key);
		for (q = p + 1; q->key; q++) {
			cr_assert_str_neq(p->key, q->key);
			cr_assert_str_neq(p->opt, q->opt);
			cr_assert_neq(p->off, q->off, "%s and %s", p->key,
				      q->key);
		}
		for (i = 0, hits = 0; i < nfields; i++)
			hits += fields[i] == p->off;
		cr_assert_eq(hits, 1, "%s maps to no field of struct conf",
			     p->key);
	}
	cr_assert_eq(n, nfields);
}

Test(conf, finds_tunables_by_key_and_by_option)
{
	const struct param *p = conf_param_by_key("fuse.max_pages");

	cr_assert_not_null(p);
	cr_assert_str_eq(p->opt, "max-pages");
	cr_assert_eq(p->type, PARAM_UINT);
	cr_assert_eq(conf_param_by_opt("ctl-socket"),
		     conf_param_by_key("control.socket"));
	cr_assert_eq(conf_param_by_opt("node"), conf_param_by_key("node"));
	cr_assert_null(conf_param_by_key("max-pages"));
	cr_assert_null(conf_param_by_opt("fuse.max_pages"));
	cr_assert_null(conf_param_by_key("fuse"));
	cr_assert_null(conf_param_by_key(NULL));
}

Test(conf, set_accepts_key_option_and_dashed_option)
{
	set_ok("fuse.max_pages", "256");
	cr_assert_eq(c.max_pages, 256);
	set_ok("max-pages", "512");
	cr_assert_eq(c.max_pages, 512);
	set_ok("--max-pages", "1024");
	cr_assert_eq(c.max_pages, 1024);
}

Test(conf, errors_name_the_tunable_as_the_user_spelled_it)
{
	set_fails("fuse.max_pages", "x", -EINVAL,
		  "fuse.max_pages: \"x\" is not a whole number");
	set_fails("max-pages", "x", -EINVAL,
		  "--max-pages: \"x\" is not a whole number");
}

Test(conf, rejects_unknown_names_with_a_suggestion)
{
	set_fails("max-page", "1", -ENOENT,
		  "unknown tunable \"max-page\" (did you mean \"max-pages\"?)");
	set_fails("fuse.max_page", "1", -ENOENT,
		  "unknown tunable \"fuse.max_page\" "
		  "(did you mean \"fuse.max_pages\"?)");
	set_fails("--thread", "1", -ENOENT,
		  "unknown tunable \"thread\" (did you mean \"threads\"?)");
	set_fails("frobnicate", "1", -ENOENT,
		  "unknown tunable \"frobnicate\" (canopyd --help lists them)");
}

Test(conf, bool_accepts_every_documented_spelling)
{
	static const char *const yes[] = { "true", "yes", "on", "1", "TRUE",
					   "Yes" };
	static const char *const no[] = { "false", "no", "off", "0", "Off" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		c.splice = false;
		set_ok("fuse.splice", yes[i]);
		cr_assert_eq(c.splice, true, "%s", yes[i]);
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		c.splice = true;
		set_ok("splice", no[i]);
		cr_assert_eq(c.splice, false, "%s", no[i]);
	}
}

Test(conf, bool_rejects_other_words)
{
	set_fails("fuse.passthrough", "maybe", -EINVAL,
		  "fuse.passthrough: \"maybe\" is not a boolean; use true or "
		  "false (yes/no, on/off, 1/0)");
	set_fails("fuse.passthrough", "", -EINVAL,
		  "fuse.passthrough: \"\" is not a boolean; use true or "
		  "false (yes/no, on/off, 1/0)");
	cr_assert_eq(c.passthrough, true);
}

Test(conf, uint_parses_decimal_only)
{
	static const char *const bad[] = { "", "-1", "+5", " 5", "5 ", "0x10",
					   "12abc", "1.5", "1e3" };
	size_t i;

	set_ok("threads", "17");
	cr_assert_eq(c.threads, 17);
	set_ok("threads", "007");
	cr_assert_eq(c.threads, 7);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(conf_set(&c, "threads", bad[i], err, sizeof(err)),
			     -EINVAL, "\"%s\" accepted", bad[i]);
		cr_assert(strstr(err, "is not a whole number"), "%s", err);
	}
	cr_assert_eq(c.threads, 7);
}

Test(conf, uint_enforces_each_range)
{
	set_fails("max-pages", "0", -ERANGE,
		  "--max-pages: 0 is out of range (1..65535)");
	set_fails("max-pages", "65536", -ERANGE,
		  "--max-pages: 65536 is out of range (1..65535)");
	set_ok("max-pages", "1");
	set_ok("max-pages", "65535");
	cr_assert_eq(c.max_pages, 65535);
	set_fails("threads", "1025", -ERANGE,
		  "--threads: 1025 is out of range (0..1024)");
	set_ok("threads", "1024");
	set_fails("io.uring_depth", "0", -ERANGE,
		  "io.uring_depth: 0 is out of range (1..4096)");
	set_fails("io.uring_depth", "4097", -ERANGE,
		  "io.uring_depth: 4097 is out of range (1..4096)");
	set_ok("io.uring_depth", "4096");
	cr_assert_eq(c.uring_depth, 4096);
	set_fails("io.fetch_ahead", "65", -ERANGE,
		  "io.fetch_ahead: 65 is out of range (0..64)");
	set_ok("io.fetch_ahead", "0");
	cr_assert_eq(c.fetch_ahead, 0);
}

Test(conf, uint_rejects_values_beyond_64_bits_and_unsigned)
{
	set_fails("readahead-kb", "99999999999999999999", -ERANGE,
		  "--readahead-kb: 99999999999999999999 is out of range "
		  "(0..4294967295)");
	set_fails("readahead-kb", "4294967296", -ERANGE,
		  "--readahead-kb: 4294967296 is out of range "
		  "(0..4294967295)");
	set_ok("readahead-kb", "4294967295");
	cr_assert_eq(c.readahead_kb, UINT_MAX);
}

Test(conf, size_accepts_bytes_and_binary_suffixes)
{
	static const struct {
		const char *in;
		uint64_t want;
	} cases[] = {
		{ "0", 0 },
		{ "4096", 4096 },
		{ "512B", 512 },
		{ "64K", 64ULL << 10 },
		{ "64k", 64ULL << 10 },
		{ "64KiB", 64ULL << 10 },
		{ "64KB", 64ULL << 10 },
		{ "4M", 4ULL << 20 },
		{ "4mib", 4ULL << 20 },
		{ "2G", 2ULL << 30 },
		{ "2GiB", 2ULL << 30 },
		{ "1T", 1ULL << 40 },
		{ "16777215T", 16777215ULL << 40 },
		{ "18446744073709551615", UINT64_MAX },
	};
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 12345;
		cr_assert_eq(conf_parse_size(cases[i].in, &v), 0, "%s",
			     cases[i].in);
		cr_assert_eq(v, cases[i].want, "%s -> %llu", cases[i].in,
			     (unsigned long long)v);
	}
}

Test(conf, size_rejects_malformed_and_overflowing_values)
{
	static const char *const bad[] = { "", "M", "-4M", "+4M", " 4M",
					   "4M ", "4 M", "4X", "4Mi", "4MBB",
					   "4iB", "1.5G", "0x10", "4MiBs" };
	uint64_t v = 7;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(conf_parse_size(bad[i], &v), -EINVAL, "\"%s\"",
			     bad[i]);
	cr_assert_eq(conf_parse_size("16777216T", &v), -ERANGE);
	cr_assert_eq(conf_parse_size("18446744073709551616", &v), -ERANGE);
	cr_assert_eq(conf_parse_size(NULL, &v), -EINVAL);
	cr_assert_eq(v, 7, "output written on failure");
}

Test(conf, size_tunables_report_bad_text_and_overflow)
{
	set_fails("cache-capacity", "lots", -EINVAL,
		  "--cache-capacity: \"lots\" is not a size; use bytes or a "
		  "number with K, M, G or T (\"4M\")");
	set_fails("cache-capacity", "99999999T", -ERANGE,
		  "--cache-capacity: 99999999T is too large for 64 bits");
	set_ok("cache-capacity", "32G");
	cr_assert_eq(c.cache_capacity, 32ULL << 30);
}

Test(conf, block_size_must_be_a_power_of_two_within_64k_to_64m)
{
	set_fails("block-size", "3M", -EINVAL,
		  "--block-size: 3M is not a power of two; try 2M or 4M");
	set_fails("block-size", "100000", -EINVAL,
		  "--block-size: 100000 is not a power of two; try 64K or "
		  "128K");
	set_fails("block-size", "32K", -ERANGE,
		  "--block-size: 32K is out of range (64K..64M)");
	set_fails("cache.block_size", "128M", -ERANGE,
		  "cache.block_size: 128M is out of range (64K..64M)");
	set_ok("block-size", "64K");
	cr_assert_eq(c.block_size, 65536);
	set_ok("block-size", "64MiB");
	cr_assert_eq(c.block_size, 64 << 20);
}

Test(conf, small_file_max_is_at_most_1g)
{
	set_fails("small-file-max", "1025M", -ERANGE,
		  "--small-file-max: 1025M is out of range (0..1G)");
	set_ok("small-file-max", "1G");
	cr_assert_eq(c.small_file_max, 1 << 30);
	set_ok("small-file-max", "0");
	cr_assert_eq(c.small_file_max, 0);
}

Test(conf, seconds_accept_non_negative_decimals)
{
	set_ok("entry-timeout", "0.5");
	cr_assert_eq(c.entry_timeout, 0.5);
	set_ok("fuse.attr_timeout", "0");
	cr_assert_eq(c.attr_timeout, 0.0);
	set_ok("negative-timeout", "1e3");
	cr_assert_eq(c.negative_timeout, 1000.0);
	set_ok("negative-timeout", ".25");
	cr_assert_eq(c.negative_timeout, 0.25);
}

Test(conf, seconds_reject_negative_and_non_numbers)
{
	static const char *const bad[] = { "", "abc", "nan", "inf", "0x10",
					   " 1", "1s", "1..2" };
	size_t i;

	set_fails("entry-timeout", "-1", -ERANGE,
		  "--entry-timeout: -1 is negative; use 0 or more seconds");
	set_fails("entry-timeout", "2e9", -ERANGE,
		  "--entry-timeout: 2e+09 is out of range (0..1e+09 seconds)");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(conf_set(&c, "entry-timeout", bad[i], err,
				      sizeof(err)), -EINVAL, "\"%s\"", bad[i]);
		cr_assert(strstr(err, "is not a number of seconds"), "%s",
			  err);
	}
	cr_assert_eq(c.entry_timeout, 300.0);
}

Test(conf, log_level_accepts_the_five_syslog_names)
{
	set_ok("log-level", "err");
	cr_assert_eq(c.log_level, LOG_LVL_ERR);
	set_ok("log-level", "warning");
	cr_assert_eq(c.log_level, LOG_LVL_WARNING);
	set_ok("log-level", "notice");
	cr_assert_eq(c.log_level, LOG_LVL_NOTICE);
	set_ok("log.level", "debug");
	cr_assert_eq(c.log_level, LOG_LVL_DEBUG);
	set_ok("log.level", "info");
	cr_assert_eq(c.log_level, LOG_LVL_INFO);
	set_fails("log-level", "verbose", -EINVAL,
		  "--log-level: \"verbose\" is not a log level; use err, "
		  "warning, notice, info or debug");
}

Test(conf, strings_are_copied_and_replaced)
{
	char node[] = "n001";

	set_ok("node", node);
	node[0] = 'X';
	cr_assert_str_eq(c.node, "n001");
	set_ok("node", "n002");
	cr_assert_str_eq(c.node, "n002");
	set_ok("cache-dir", "/mnt/nvme/canopy");
	cr_assert_str_eq(c.cache_dir, "/mnt/nvme/canopy");
	set_ok("cache-dir", "");
	cr_assert_str_eq(c.cache_dir, "");
}

Test(conf, cache_dir_and_socket_must_be_absolute)
{
	set_fails("cache-dir", "shm/canopy", -EINVAL,
		  "--cache-dir: \"shm/canopy\" is not an absolute path");
	set_fails("control.socket", "ctl.sock", -EINVAL,
		  "control.socket: \"ctl.sock\" is not an absolute path");
	cr_assert_str_eq(c.cache_dir, "");
}

Test(conf, control_socket_must_fit_a_unix_address)
{
	char path[200];

	memset(path, 'x', sizeof(path) - 1);
	path[0] = '/';
	path[108] = '\0';
	cr_assert_eq(conf_set(&c, "ctl-socket", path, err, sizeof(err)),
		     -ENAMETOOLONG);
	cr_assert(strstr(err, "is 108 bytes; a unix socket path must be "
			      "shorter than 108"), "%s", err);
	path[107] = '\0';
	set_ok("ctl-socket", path);
}

Test(conf, cpus_must_be_a_cpu_list)
{
	static const char *const good[] = { "", "0", "2,3", "0-3", "0-3,8",
					    "4-4,10-11" };
	static const char *const bad[] = { ",", "1,", "a", "3-1", "1-",
					   "-1", "1 2", "0-3,,8", "70000" };
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		set_ok("cpus", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(conf_set(&c, "cpus", bad[i], err, sizeof(err)),
			     -EINVAL, "\"%s\" accepted", bad[i]);
		cr_assert(strstr(err, "is not a cpu list"), "%s", err);
	}
	cr_assert_str_eq(c.cpus, "4-4,10-11");
}

Test(conf, typed_setters_check_like_conf_set)
{
	const struct param *mp = conf_param_by_key("fuse.max_pages");
	const struct param *cap = conf_param_by_key("cache.capacity");
	const struct param *et = conf_param_by_key("fuse.entry_timeout");

	cr_assert_eq(conf_param_set_int(&c, mp, 1024, err, sizeof(err)), 0);
	cr_assert_eq(c.max_pages, 1024);
	cr_assert_eq(conf_param_set_int(&c, mp, -1, err, sizeof(err)),
		     -ERANGE);
	cr_assert_str_eq(err, "fuse.max_pages: -1 is out of range (1..65535)");
	cr_assert_eq(conf_param_set_int(&c, cap, -1, err, sizeof(err)),
		     -ERANGE);
	cr_assert_str_eq(err, "cache.capacity: -1 is out of range (0 or more)");
	cr_assert_eq(conf_param_set_int(&c, et, 5, err, sizeof(err)), -EINVAL);
	cr_assert_eq(conf_param_set_seconds(&c, et, 2.5, err, sizeof(err)), 0);
	cr_assert_eq(c.entry_timeout, 2.5);
	cr_assert_eq(conf_param_set_seconds(&c, et, -0.5, err, sizeof(err)),
		     -ERANGE);
	cr_assert_eq(conf_param_set_seconds(&c, mp, 1, err, sizeof(err)),
		     -EINVAL);
	cr_assert_eq(c.max_pages, 1024);
}

Test(conf, format_size_round_trips_through_parse_size)
{
	static const uint64_t vals[] = { 0, 1, 1000, 4096, 65536, 3 << 20,
					 1ULL << 40, (1ULL << 40) + 1 };
	char buf[32];
	uint64_t v;
	size_t i;

	conf_format_size(4 << 20, buf, sizeof(buf));
	cr_assert_str_eq(buf, "4M");
	conf_format_size(1536, buf, sizeof(buf));
	cr_assert_str_eq(buf, "1536");
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		conf_format_size(vals[i], buf, sizeof(buf));
		cr_assert_eq(conf_parse_size(buf, &v), 0, "%s", buf);
		cr_assert_eq(v, vals[i], "%s", buf);
	}
}

Test(conf, distance_counts_edits_and_transpositions)
{
	cr_assert_eq(conf_distance("fuse", "fuse"), 0);
	cr_assert_eq(conf_distance("fuse", "fsue"), 1);
	cr_assert_eq(conf_distance("max_page", "max_pages"), 1);
	cr_assert_eq(conf_distance("", "abc"), 3);
	cr_assert_eq(conf_distance("kitten", "sitting"), 3);
}

Test(conf, help_prints_every_tunable_on_one_aligned_line)
{
	const struct param *p;
	char *buf = NULL, *line, *save = NULL;
	size_t size = 0, n = 0;
	long keycol = -1;
	FILE *f;

	f = open_memstream(&buf, &size);
	cr_assert_not_null(f);
	conf_help(f);
	fclose(f);

	cr_assert(strstr(buf, "  --max-pages N "), "%s", buf);
	cr_assert(strstr(buf, "fuse.max_pages = 4096 "), "%s", buf);
	cr_assert(strstr(buf, "/proc/sys/fs/fuse/max_pages_limit"));
	cr_assert(strstr(buf, "cache.dir = \"\" "), "%s", buf);
	cr_assert(strstr(buf, "  --provider NAME "), "%s", buf);
	cr_assert(strstr(buf, "transport.provider = tcp;ofi_rxm "), "%s", buf);
	cr_assert(strstr(buf, "  --data-mode MODE "), "%s", buf);
	cr_assert(strstr(buf, "transport.data_mode = rpc "), "%s", buf);
	cr_assert(strstr(buf, "  --peer-timeout SEC "), "%s", buf);
	cr_assert(strstr(buf, "transport.timeout = 2 "), "%s", buf);
	cr_assert(strstr(buf, "  --peer-threads N "), "%s", buf);
	cr_assert(strstr(buf, "transport.threads = 4 "), "%s", buf);
	cr_assert(strstr(buf, "  --recv-buffers N "), "%s", buf);
	cr_assert(strstr(buf, "transport.recv_buffers = 16 "), "%s", buf);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), n++) {
		char *eq = strstr(line, " = ");
		char *key;

		cr_assert_not_null(eq, "%s", line);
		for (key = eq; key > line && key[-1] != ' '; key--)
			;
		if (keycol < 0)
			keycol = key - line;
		cr_assert_eq(key - line, keycol, "misaligned: %s", line);
	}
	for (p = conf_params; p->key; p++)
		n--;
	cr_assert_eq(n, 1, "one line per tunable plus --export");
	free(buf);
}

Test(conf, finish_exports_root_when_none_given)
{
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.nexports, 1);
	cr_assert_str_eq(c.exports[0], "/");
}

Test(conf, finish_normalises_export_paths)
{
	char want[128];
	const char *d = make_tree();

	add(d, "//a/./b/");
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
	snprintf(want, sizeof(want), "%s/a/b", d);
	cr_assert_eq(c.nexports, 1);
	cr_assert_str_eq(c.exports[0], want);
}

Test(conf, finish_folds_duplicates_and_nested_exports_and_sorts)
{
	char want[3][128];
	const char *d = make_tree();

	add(d, "/ab");
	add(d, "/a/b");
	add(d, "/a-b/");
	add(d, "/a");
	add(d, "//a");
	add(d, "/ab");
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
	snprintf(want[0], sizeof(want[0]), "%s/a", d);
	snprintf(want[1], sizeof(want[1]), "%s/a-b", d);
	snprintf(want[2], sizeof(want[2]), "%s/ab", d);
	cr_assert_eq(c.nexports, 3);
	cr_assert_str_eq(c.exports[0], want[0]);
	cr_assert_str_eq(c.exports[1], want[1]);
	cr_assert_str_eq(c.exports[2], want[2]);
}

Test(conf, finish_keeps_only_root_when_root_is_exported)
{
	const char *d = make_tree();

	add(d, "/a");
	add("/", "./");
	add(d, "/ab");
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.nexports, 1);
	cr_assert_str_eq(c.exports[0], "/");
}

Test(conf, finish_is_idempotent)
{
	const char *d = make_tree();

	add(d, "/a/");
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.nexports, 1);
}

Test(conf, export_must_exist)
{
	cr_assert_eq(conf_add_export(&c, "/nope/not/here", err, sizeof(err)),
		     0);
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), -ENOENT);
	cr_assert_str_eq(err,
			 "export \"/nope/not/here\": "
			 "No such file or directory");
}

Test(conf, export_must_be_a_directory)
{
	char p[128];
	const char *d = make_tree();

	add(d, "/file");
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), -ENOTDIR);
	snprintf(p, sizeof(p), "export \"%s/file\": not a directory", d);
	cr_assert_str_eq(err, p);
}

Test(conf, export_must_be_absolute)
{
	cr_assert_eq(conf_add_export(&c, "rel/path", err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "export \"rel/path\": not an absolute path");
	cr_assert_eq(conf_add_export(&c, "", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "export \"\": not an absolute path");
	cr_assert_eq(c.nexports, 0);
}

Test(conf, export_rejects_dot_dot_components)
{
	cr_assert_eq(conf_add_export(&c, "/usr/../etc", err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "export \"/usr/../etc\": \"..\" is not allowed; "
			      "give the path without it");
	cr_assert_eq(conf_add_export(&c, "/usr/..a/b..", err, sizeof(err)),
		     0, "%s", err);
}

Test(conf, finish_rechecks_fields_written_directly)
{
	c.block_size = 3 << 20;
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err,
			 "cache.block_size: 3M is not a power of two; try 2M "
			 "or 4M");
	c.block_size = 4 << 20;
	c.max_pages = 0;
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), -ERANGE);
	cr_assert_str_eq(err, "fuse.max_pages: 0 is out of range (1..65535)");
	c.max_pages = 32;
	c.log_level = 9;
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "log.level: 9 is not a log level (3..7)");
	c.log_level = LOG_LVL_INFO;
	c.data_mode = 2;
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err,
			 "transport.data_mode: 2 is not a valid value (rpc or "
			 "rma)");
	c.data_mode = DATA_MODE_RMA;
	c.peer_timeout = 0;
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), -ERANGE);
	cr_assert_str_eq(err,
			 "transport.timeout: 0 is out of range; use more than "
			 "0 seconds");
	c.peer_timeout = 1;
	c.fanout = 0;
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), -ERANGE);
	cr_assert_str_eq(err, "fanout: 0 is out of range (1..65535)");
	c.fanout = 2;
	c.placement = 5;
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err,
			 "placement: 5 is not a valid value (file or block)");
}

Test(conf, clear_exports_drops_the_list)
{
	cr_assert_eq(conf_add_export(&c, "/usr", err, sizeof(err)), 0);
	cr_assert_eq(conf_add_export(&c, "/etc", err, sizeof(err)), 0);
	cr_assert_eq(c.nexports, 2);
	conf_clear_exports(&c);
	cr_assert_eq(c.nexports, 0);
	cr_assert_null(c.exports);
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.exports[0], "/");
}

Test(conf, free_leaves_a_zeroed_struct_safe_to_free_again)
{
	struct conf z;

	cr_assert_eq(conf_init(&z), 0);
	cr_assert_eq(conf_add_export(&z, "/usr", err, sizeof(err)), 0);
	conf_free(&z);
	cr_assert_null(z.cache_dir);
	cr_assert_null(z.exports);
	conf_free(&z);
	conf_free(NULL);
}

Test(conf, tolerates_a_null_error_buffer)
{
	cr_assert_eq(conf_set(&c, "max-pages", "0", NULL, 0), -ERANGE);
	cr_assert_eq(conf_set(&c, "nope", "0", NULL, 0), -ENOENT);
	cr_assert_eq(conf_add_export(&c, "x", NULL, 0), -EINVAL);
}

Test(conf, truncates_long_messages_within_the_buffer)
{
	char small[16];

	memset(small, 'Z', sizeof(small));
	cr_assert_eq(conf_set(&c, "max-pages", "0", small, sizeof(small)),
		     -ERANGE);
	cr_assert_eq(strlen(small), sizeof(small) - 1);
	cr_assert_str_eq(small, "--max-pages: 0 ");
}

Test(conf, data_mode_is_rpc_or_rma)
{
	set_ok("--data-mode", "rma");
	cr_assert_eq(c.data_mode, DATA_MODE_RMA);
	set_ok("transport.data_mode", "rpc");
	cr_assert_eq(c.data_mode, DATA_MODE_RPC);
	set_fails("data-mode", "RMA", -EINVAL,
		  "--data-mode: \"RMA\" is not allowed; use rpc or rma");
	set_fails("transport.data_mode", "", -EINVAL,
		  "transport.data_mode: \"\" is not allowed; use rpc or rma");
	cr_assert_eq(c.data_mode, DATA_MODE_RPC);
}

Test(conf, param_choices_lists_an_enumeration)
{
	char buf[64];

	conf_param_choices(conf_param_by_key("transport.data_mode"), buf,
			   sizeof(buf));
	cr_assert_str_eq(buf, "rpc or rma");
	conf_param_choices(conf_param_by_key("fuse.threads"), buf,
			   sizeof(buf));
	cr_assert_str_eq(buf, "");
}

Test(conf, transport_tunables_have_options_and_ranges)
{
	set_ok("--provider", "verbs;ofi_rxm");
	cr_assert_str_eq(c.provider, "verbs;ofi_rxm");
	set_fails("provider", "", -EINVAL, "--provider: must not be empty");
	cr_assert_str_eq(c.provider, "verbs;ofi_rxm");
	set_ok("peer-timeout", "0.25");
	cr_assert_eq(c.peer_timeout, 0.25);
	set_fails("peer-timeout", "0", -ERANGE,
		  "--peer-timeout: 0 is out of range; use more than 0 seconds");
	set_fails("peer-threads", "0", -ERANGE,
		  "--peer-threads: 0 is out of range (1..64)");
	set_fails("transport.threads", "65", -ERANGE,
		  "transport.threads: 65 is out of range (1..64)");
	set_ok("peer-threads", "64");
	cr_assert_eq(c.peer_threads, 64);
	set_fails("recv-buffers", "0", -ERANGE,
		  "--recv-buffers: 0 is out of range (1..4096)");
	set_ok("recv-buffers", "4096");
	cr_assert_eq(c.recv_buffers, 4096);
}

Test(conf, parse_addr_splits_host_and_port)
{
	static const struct {
		const char *in, *host, *port;
	} good[] = {
		{ "n1:7001", "n1", "7001" },
		{ "node-1.hsn.example:1", "node-1.hsn.example", "1" },
		{ "10.1.2.3:65535", "10.1.2.3", "65535" },
		{ "[::1]:7001", "::1", "7001" },
		{ "[fe80::1%hsn0]:80", "fe80::1%hsn0", "80" },
		{ "x_y:007", "x_y", "007" },
	};
	static const char *const bad[] = {
		"", "n1", "n1:", ":1", "n1:0", "n1:65536", "n1:1a", "n1:+1",
		"::1:1", "[::1]", "[::1]1", "[]:1", "[::1%]:1", "[1.2.3.4]:1",
		"1.2.3:1", "256.0.0.1:1", "a b:1", "a@b:1",
		"n1:99999999999999999999",
	};
	char *host = NULL, *port = NULL;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cr_assert_eq(conf_parse_addr(good[i].in, &host, &port, err,
					     sizeof(err)), 0, "%s: %s",
			     good[i].in, err);
		cr_assert_str_eq(host, good[i].host);
		cr_assert_str_eq(port, good[i].port);
		free(host);
		free(port);
	}
	host = port = NULL;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = conf_parse_addr(bad[i], &host, &port, err,
					  sizeof(err));

		cr_assert(ret == -EINVAL || ret == -ERANGE, "\"%s\": %d",
			  bad[i], ret);
		cr_assert(strstr(err, bad[i]), "%s does not name %s", err,
			  bad[i]);
		cr_assert_null(host, "%s", bad[i]);
		cr_assert_null(port, "%s", bad[i]);
	}
}

/* @n nodes "n1".."nN" at 127.0.0.1:7001.., as topo_load() would set. */
static void add_nodes(size_t n)
{
	size_t i;

	c.nodes = calloc(n, sizeof(*c.nodes));
	cr_assert_not_null(c.nodes);
	c.nnodes = n;
	c.nroots = 1;
	for (i = 0; i < n; i++) {
		struct conf_node *nd = &c.nodes[i];

		cr_assert_geq(asprintf(&nd->name, "n%zu", i + 1), 0);
		nd->addrs = calloc(1, sizeof(*nd->addrs));
		cr_assert_not_null(nd->addrs);
		cr_assert_geq(asprintf(&nd->addrs[0], "127.0.0.1:%zu",
				       7001 + i), 0);
		nd->naddrs = 1;
		cr_assert_eq(conf_parse_addr(nd->addrs[0], &nd->host,
					     &nd->port, err, sizeof(err)), 0);
	}
}

Test(conf, finish_finds_this_node_by_its_name)
{
	add_nodes(3);
	c.auth_none = true;
	set_ok("node", "n3");
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.node_index, 2);
	set_ok("node", "n1");
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.node_index, 0);
}

Test(conf, finish_refuses_a_node_not_in_the_list)
{
	add_nodes(3);
	c.auth_none = true;
	set_ok("node", "n4");
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), -ENOENT);
	cr_assert_str_eq(err,
			 "node \"n4\" is not in the topology's nodes (n1, n2, "
			 "n3)");
}

Test(conf, finish_lists_at_most_eight_names)
{
	add_nodes(20);
	c.auth_none = true;
	set_ok("node", "x");
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), -ENOENT);
	cr_assert_str_eq(err,
			 "node \"x\" is not in the topology's nodes (n1, n2, "
			 "n3, n4, n5, n6, n7, n8, ... (20 in all))");
}

Test(conf, finish_takes_the_host_name_when_node_is_empty)
{
	char host[256];

	cr_assert_eq(gethostname(host, sizeof(host)), 0);
	add_nodes(3);
	c.auth_none = true;
	free(c.nodes[1].name);
	c.nodes[1].name = strdup(host);
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.node_index, 1);

	free(c.nodes[1].name);
	c.nodes[1].name = strdup("elsewhere");
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "(the host name) is not in the topology's nodes "
			      "(n1, elsewhere, n3); name this node with "
			      "--node or \"node\""), "%s", err);
	cr_assert(strstr(err, host), "%s", err);
}

Test(conf, finish_tries_the_short_host_name)
{
	const char fqdn[] = "n2.cluster.example";

	/* a private UTS namespace, so the machine keeps its name */
	if (unshare(CLONE_NEWUTS) || sethostname(fqdn, strlen(fqdn)))
		cr_skip_test("cannot set a host name here: %s",
			     strerror(errno));
	add_nodes(3);
	c.auth_none = true;
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.node_index, 1);
	/* the full name wins when both are listed */
	free(c.nodes[2].name);
	c.nodes[2].name = strdup(fqdn);
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.node_index, 2);
}

Test(conf, single_node_is_index_zero_without_a_host_name_check)
{
	set_ok("node", "not-a-listed-node");
	c.node_index = 9;
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.node_index, 0);
}

Test(conf, finish_refuses_several_nodes_without_auth)
{
	add_nodes(2);
	set_ok("node", "n1");
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err,
			 "2 nodes and no auth; add \"auth\": {\"key_file\": "
			 "\"/path/to/key\"}, or \"auth\": \"none\" on a "
			 "trusted network");
}

Test(conf, finish_checks_that_the_key_file_exists)
{
	char key[128];
	FILE *f;

	add_nodes(2);
	set_ok("node", "n2");
	c.auth_key_file = strdup("/nonexistent/canopy/job.key");
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), -ENOENT);
	cr_assert_str_eq(err,
			 "auth.key_file \"/nonexistent/canopy/job.key\": "
			 "No such file or directory");

	free(c.auth_key_file);
	c.auth_key_file = strdup(make_tree());
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), -EINVAL);
	snprintf(key, sizeof(key), "auth.key_file \"%s\": not a regular file",
		 tmpdir);
	cr_assert_str_eq(err, key);

	snprintf(key, sizeof(key), "%s/job.key", tmpdir);
	f = fopen(key, "w");
	cr_assert_not_null(f);
	fclose(f);
	free(c.auth_key_file);
	c.auth_key_file = strdup(key);
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.node_index, 1);
}

Test(conf, finish_rechecks_the_roots)
{
	add_nodes(3);
	c.auth_none = true;
	set_ok("node", "n1");
	c.nroots = 4;
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), -ERANGE);
	cr_assert_str_eq(err,
			 "roots: 4 is out of range (1..3, the number of "
			 "nodes)");
	c.roots = calloc(2, sizeof(*c.roots));
	cr_assert_not_null(c.roots);
	c.nroots = 2;
	c.roots[1] = 3;
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), -ERANGE);
	cr_assert_str_eq(err, "roots[1]: node index 3 is out of range (0..2)");
	c.roots[1] = 2;
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
}

Test(conf, find_node_and_list_nodes)
{
	char buf[64];
	size_t idx = 99;

	add_nodes(12);
	cr_assert_eq(conf_find_node(&c, "n12", &idx), 0);
	cr_assert_eq(idx, 11);
	cr_assert_eq(conf_find_node(&c, "n13", &idx), -ENOENT);
	cr_assert_eq(conf_find_node(&c, NULL, &idx), -ENOENT);
	cr_assert_eq(idx, 11);
	conf_list_nodes(&c, buf, sizeof(buf));
	cr_assert_str_eq(buf,
			 "n1, n2, n3, n4, n5, n6, n7, n8, ... (12 in all)");
	conf_list_nodes(&c, buf, 8);
	cr_assert_str_eq(buf, "n1, n2,");
}

Test(conf, clear_nodes_returns_to_a_single_node)
{
	add_nodes(3);
	c.roots = calloc(1, sizeof(*c.roots));
	conf_clear_nodes(&c);
	cr_assert_null(c.nodes);
	cr_assert_eq(c.nnodes, 0);
	cr_assert_null(c.roots);
	cr_assert_eq(c.nroots, 0);
	add_nodes(2);
	c.auth_key_file = strdup("/k");
	conf_free(&c);
	cr_assert_null(c.nodes);
	cr_assert_null(c.auth_key_file);
	cr_assert_eq(conf_init(&c), 0);
}

/* What conf_print_kernel() writes for canopy-tunables, as a string. */
static char *print_kernel(int *lines)
{
	size_t len = 0;
	char *out = NULL;
	FILE *f = open_memstream(&out, &len);

	cr_assert_not_null(f);
	*lines = conf_print_kernel(&c, f);
	fclose(f);
	return out;
}

Test(conf, kernel_tunables_default_to_leaving_the_kernel_alone)
{
	char *out;
	int n;

	out = print_kernel(&n);
	cr_assert_eq(n, 0);
	cr_assert_str_eq(out, "");
	free(out);
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
}

Test(conf, kernel_tunables_print_as_name_value_lines)
{
	char *out;
	int n;

	cr_assert_eq(conf_set(&c, "kernel.max_pages_limit", "1024", err,
			      sizeof(err)), 0, "%s", err);
	cr_assert_eq(conf_set(&c, "--kernel-enable-uring", "yes", err,
			      sizeof(err)), 0, "%s", err);
	out = print_kernel(&n);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(out, "max_pages_limit=1024\nenable_uring=Y\n");
	free(out);

	cr_assert_eq(conf_set(&c, "kernel-enable-uring", "off", err,
			      sizeof(err)), 0, "%s", err);
	cr_assert_eq(conf_set(&c, "kernel.max_pages_limit", "0", err,
			      sizeof(err)), 0, "%s", err);
	out = print_kernel(&n);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(out, "enable_uring=N\n");
	free(out);

	/* "" (and "unset") go back to leaving it alone */
	cr_assert_eq(conf_set(&c, "kernel.enable_uring", "", err,
			      sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.kernel_enable_uring, -1);
	cr_assert_eq(conf_set(&c, "kernel.enable_uring", "unset", err,
			      sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.kernel_enable_uring, -1);
}

Test(conf, kernel_tunables_refuse_bad_values_naming_the_key)
{
	cr_assert_eq(conf_set(&c, "kernel.max_pages_limit", "lots", err,
			      sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "kernel.max_pages_limit: \"lots\" is not a "
			 "whole number");
	cr_assert_eq(conf_set(&c, "kernel-max-pages-limit", "65536", err,
			      sizeof(err)), -ERANGE);
	cr_assert_str_eq(err, "--kernel-max-pages-limit: 65536 is out of "
			 "range (0..65535)");
	cr_assert_eq(conf_set(&c, "kernel.enable_uring", "maybe", err,
			      sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "kernel.enable_uring: \"maybe\" is not a "
			 "boolean; use true or false (yes/no, on/off, 1/0), "
			 "or \"\" to leave it alone");
	cr_assert_eq(c.kernel_max_pages_limit, 0);
	cr_assert_eq(c.kernel_enable_uring, -1);
}

Test(conf, finish_rechecks_a_tristate_written_directly)
{
	c.kernel_enable_uring = 2;
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "kernel.enable_uring: 2 is not true, false or "
			 "unset");
}
