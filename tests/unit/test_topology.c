// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_topology.c - loading the JSON configuration file.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct conf c;
static char err[CONF_ERR_MAX];
static char path[64];
static char dir[64];

static void setup(void)
{
	cr_assert_eq(conf_init(&c), 0);
	err[0] = '\0';
	path[0] = '\0';
	dir[0] = '\0';
}

static void teardown(void)
{
	conf_free(&c);
	if (path[0])
		unlink(path);
	if (dir[0])
		rmdir(dir);
}

TestSuite(topology, .init = setup, .fini = teardown);

/* Write @json to a fresh temp file; its name is in path[]. */
static const char *cfg(const char *json)
{
	size_t len = strlen(json);
	int fd;

	if (path[0])
		unlink(path);
	snprintf(path, sizeof(path), "/tmp/canopy-topo-XXXXXX.json");
	fd = mkstemps(path, 5);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, json, len), (ssize_t)len);
	close(fd);
	return path;
}

static void load_ok(const char *json)
{
	int ret = topo_load(&c, cfg(json), err, sizeof(err));

	cr_assert_eq(ret, 0, "%s", err);
}

/* Loading @json fails with @want and the message "<file>@msg". */
static void load_fails(const char *json, int want, const char *msg)
{
	char full[CONF_ERR_MAX];
	int ret;

	err[0] = '\0';
	ret = topo_load(&c, cfg(json), err, sizeof(err));
	cr_assert_eq(ret, want, "returned %d (%s)", ret, err);
	snprintf(full, sizeof(full), "%s%s", path, msg);
	cr_assert_str_eq(err, full);
}

/* config/examples/single-node.json from the source tree. */
static void example_path(char *buf, size_t len)
{
	const char *rel = "config/examples/single-node.json";
	const char *src = getenv("CANOPY_SRCDIR");
	const char *here = __FILE__, *cut;
	char exe[PATH_MAX];
	ssize_t n;

	if (src) {
		snprintf(buf, len, "%s/%s", src, rel);
		return;
	}
	cut = strstr(here, "tests/unit/");
	snprintf(buf, len, "%.*s%s", cut ? (int)(cut - here) : 0, here, rel);
	if (!access(buf, R_OK))
		return;
	/* run from elsewhere: build/<variant>/tests/test_topology */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		cut = strstr(exe, "/build/");
		if (cut)
			snprintf(buf, len, "%.*s/%s", (int)(cut - exe), exe,
				 rel);
	}
}

Test(topology, loads_the_single_node_example_as_the_defaults)
{
	const struct param *p;
	struct conf def;
	char ex[PATH_MAX];

	example_path(ex, sizeof(ex));
	cr_assert_eq(topo_load(&c, ex, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.config_path, ex);
	cr_assert_eq(c.nexports, 1);
	cr_assert_str_eq(c.exports[0], "/");
	cr_assert_str_eq(c.cache_dir, "/dev/shm/canopy/default");

	/* everything else is what the built-in defaults say */
	cr_assert_eq(conf_init(&def), 0);
	for (p = conf_params; p->key; p++) {
		const char *a = (const char *)&c + p->off;
		const char *b = (const char *)&def + p->off;

		if (!strcmp(p->key, "cache.dir"))
			continue;
		if (p->type == PARAM_STRING)
			cr_assert_str_eq(*(char *const *)a, *(char *const *)b,
					 "%s", p->key);
		else if (p->type == PARAM_SIZE)
			cr_assert_eq(*(const uint64_t *)a,
				     *(const uint64_t *)b, "%s", p->key);
		else if (p->type == PARAM_SECONDS)
			cr_assert_eq(*(const double *)a, *(const double *)b,
				     "%s", p->key);
		else if (p->type == PARAM_BOOL)
			cr_assert_eq(*(const bool *)a, *(const bool *)b, "%s",
				     p->key);
		else
			cr_assert_eq(*(const int *)a, *(const int *)b, "%s",
				     p->key);
	}
	conf_free(&def);
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
}

Test(topology, sets_tunables_from_every_section)
{
	load_ok("{\n"
		"  \"node\": \"x1000c0s0b0n0\",\n"
		"  \"cache\": {\"dir\": \"/mnt/nvme/canopy\",\n"
		"            \"capacity\": \"200G\", \"block_size\": 1048576,\n"
		"            \"small_file_max\": \"1MiB\",\n"
		"            \"owner_passthrough\": true},\n"
		"  \"fuse\": {\"max_pages\": 1024, \"threads\": 16,\n"
		"           \"cpus\": \"0-3\", \"entry_timeout\": 60,\n"
		"           \"attr_timeout\": 0.5, \"negative_timeout\": 0,\n"
		"           \"passthrough\": false, \"splice\": false,\n"
		"           \"readahead_kb\": 4096},\n"
		"  \"io\": {\"uring_depth\": 256},\n"
		"  \"control\": {\"socket\": \"/run/canopy/ctl\"},\n"
		"  \"log\": {\"level\": \"debug\"}\n"
		"}\n");
	cr_assert_str_eq(c.node, "x1000c0s0b0n0");
	cr_assert_str_eq(c.cache_dir, "/mnt/nvme/canopy");
	cr_assert_eq(c.cache_capacity, 200ULL << 30);
	cr_assert_eq(c.block_size, 1 << 20);
	cr_assert_eq(c.small_file_max, 1 << 20);
	cr_assert_eq(c.owner_passthrough, true);
	cr_assert_eq(c.max_pages, 1024);
	cr_assert_eq(c.threads, 16);
	cr_assert_str_eq(c.cpus, "0-3");
	cr_assert_eq(c.entry_timeout, 60.0);
	cr_assert_eq(c.attr_timeout, 0.5);
	cr_assert_eq(c.negative_timeout, 0.0);
	cr_assert_eq(c.passthrough, false);
	cr_assert_eq(c.splice, false);
	cr_assert_eq(c.readahead_kb, 4096);
	cr_assert_eq(c.uring_depth, 256);
	cr_assert_str_eq(c.ctl_socket, "/run/canopy/ctl");
	cr_assert_eq(c.log_level, LOG_LVL_DEBUG);
	cr_assert_str_eq(c.config_path, path);
}

Test(topology, leaves_tunables_the_file_omits_unchanged)
{
	c.threads = 12;
	load_ok("{\"fuse\": {\"max_pages\": 256}}");
	cr_assert_eq(c.max_pages, 256);
	cr_assert_eq(c.threads, 12);
	cr_assert_eq(c.uring_depth, 64);
	cr_assert_eq(c.block_size, 4 << 20);
	cr_assert_eq(c.nexports, 0);
}

Test(topology, command_line_settings_override_the_file)
{
	load_ok("{\"fuse\": {\"max_pages\": 256, \"threads\": 8},\n"
		" \"log\": {\"level\": \"err\"}}");
	cr_assert_eq(conf_set(&c, "max-pages", "2048", err, sizeof(err)), 0);
	cr_assert_eq(conf_set(&c, "log.level", "notice", err, sizeof(err)),
		     0);
	cr_assert_eq(c.max_pages, 2048);
	cr_assert_eq(c.threads, 8);
	cr_assert_eq(c.log_level, LOG_LVL_NOTICE);
}

Test(topology, accepts_an_empty_object)
{
	load_ok("{}");
	cr_assert_eq(c.max_pages, 4096);
	cr_assert_str_eq(c.config_path, path);
}

Test(topology, size_accepts_an_integer_or_a_suffixed_string)
{
	load_ok("{\"cache\": {\"block_size\": 131072, \"capacity\": \"1T\"}}");
	cr_assert_eq(c.block_size, 128 << 10);
	cr_assert_eq(c.cache_capacity, 1ULL << 40);
	load_ok("{\"cache\": {\"block_size\": \"256KiB\"}}");
	cr_assert_eq(c.block_size, 256 << 10);
}

Test(topology, seconds_accept_an_integer_or_a_real)
{
	load_ok("{\"fuse\": {\"entry_timeout\": 5, \"attr_timeout\": 1.25,\n"
		"          \"negative_timeout\": 1e1}}");
	cr_assert_eq(c.entry_timeout, 5.0);
	cr_assert_eq(c.attr_timeout, 1.25);
	cr_assert_eq(c.negative_timeout, 10.0);
}

Test(topology, rejects_a_wrong_type_naming_the_path_and_the_expected_type)
{
	load_fails("{\n  \"fuse\": {\"max_pages\": \"lots\"}\n}", -EINVAL,
		   ":2: fuse.max_pages: expected an integer, got a string");
	load_fails("{\"fuse\": {\"passthrough\": 1}}", -EINVAL,
		   ":1: fuse.passthrough: expected true or false, got an "
		   "integer");
	load_fails("{\"cache\": {\"block_size\": true}}", -EINVAL,
		   ":1: cache.block_size: expected a size (bytes, or a string "
		   "such as \"4M\"), got a boolean");
	load_fails("{\"fuse\": {\"attr_timeout\": \"5\"}}", -EINVAL,
		   ":1: fuse.attr_timeout: expected a number of seconds, got "
		   "a string; write it without quotes");
	load_fails("{\"node\": 7}", -EINVAL,
		   ":1: node: expected a string, got an integer");
	load_fails("{\"log\": {\"level\": 7}}", -EINVAL,
		   ":1: log.level: expected a string (err, warning, notice, "
		   "info or debug), got an integer");
	load_fails("{\"fuse\": {\"cpus\": [1, 2]}}", -EINVAL,
		   ":1: fuse.cpus: expected a string, got an array");
}

Test(topology, suggests_unquoting_a_quoted_number_or_boolean)
{
	load_fails("{\"fuse\": {\"max_pages\": \"1024\"}}", -EINVAL,
		   ":1: fuse.max_pages: expected an integer, got a string; "
		   "write it without quotes");
	load_fails("{\"fuse\": {\"splice\": \"false\"}}", -EINVAL,
		   ":1: fuse.splice: expected true or false, got a string; "
		   "write it without quotes");
}

Test(topology, rejects_a_real_for_an_integer_tunable)
{
	load_fails("{\"io\": {\"uring_depth\": 64.0}}", -EINVAL,
		   ":1: io.uring_depth: expected an integer, got a real "
		   "number");
}

Test(topology, rejects_null_values)
{
	load_fails("{\"fuse\": {\"threads\": null}}", -EINVAL,
		   ":1: fuse.threads: expected an integer, got null");
}

Test(topology, reports_an_out_of_range_value_with_its_line)
{
	load_fails("{\n\t\"fuse\": {\n\t\t\"threads\": 4,\n"
		   "\t\t\"max_pages\": 0\n\t}\n}\n", -ERANGE,
		   ":4: fuse.max_pages: 0 is out of range (1..65535)");
	load_fails("{\"cache\": {\n \"block_size\": \"3M\"}}", -EINVAL,
		   ":2: cache.block_size: 3M is not a power of two; try 2M or "
		   "4M");
	load_fails("{\"fuse\": {\"entry_timeout\": -1}}", -ERANGE,
		   ":1: fuse.entry_timeout: -1 is negative; use 0 or more "
		   "seconds");
	load_fails("{\"log\": {\"level\": \"loud\"}}", -EINVAL,
		   ":1: log.level: \"loud\" is not a log level; use err, "
		   "warning, notice, info or debug");
}

Test(topology, rejects_negative_integers)
{
	load_fails("{\"fuse\": {\"readahead_kb\": -1}}", -ERANGE,
		   ":1: fuse.readahead_kb: -1 is out of range "
		   "(0..4294967295)");
	load_fails("{\"cache\": {\"capacity\": -4096}}", -ERANGE,
		   ":1: cache.capacity: -4096 is out of range (0 or more)");
}

Test(topology, finds_the_line_of_the_key_in_its_own_section)
{
	load_fails("{\n"
		   "  \"node\": \"level\",\n"
		   "  \"cache\": {\"level\": 1},\n"
		   "  \"x\": 1\n"
		   "}\n", -EINVAL,
		   ":3: unknown key \"cache.level\"; \"cache\" takes dir, "
		   "capacity, block_size, small_file_max, tmpfs, "
		   "owner_passthrough");
	load_fails("{\n"
		   "  \"node\": \"threads\",\n"
		   "  \"io\": {\"uring_depth\": 64},\n"
		   "  \"fuse\": {\n"
		   "    \"threads\" : 2000\n"
		   "  }\n"
		   "}\n", -ERANGE,
		   ":5: fuse.threads: 2000 is out of range (0..1024)");
}

Test(topology, leaves_the_line_out_when_the_key_cannot_be_found)
{
	/* best effort: a key written with escapes is not found */
	load_fails("{\"fu\\u0073e\": {\"max_pages\": 0}}", -ERANGE,
		   ": fuse.max_pages: 0 is out of range (1..65535)");
}

Test(topology, rejects_unknown_key_with_its_dotted_path)
{
	load_fails("{\n  \"fuse\": {\n    \"max_page\": 1024\n  }\n}",
		   -EINVAL,
		   ":3: unknown key \"fuse.max_page\" (did you mean "
		   "\"fuse.max_pages\"?)");
}

Test(topology, suggests_the_nearest_section_or_top_level_key)
{
	load_fails("{\"fsue\": {}}", -EINVAL,
		   ":1: unknown key \"fsue\" (did you mean \"fuse\"?)");
	load_fails("{\"export\": [\"/\"]}", -EINVAL,
		   ":1: unknown key \"export\" (did you mean \"exports\"?)");
	load_fails("{\"cache\": {\"blocksize\": 4096}}", -EINVAL,
		   ":1: unknown key \"cache.blocksize\" (did you mean "
		   "\"cache.block_size\"?)");
}

Test(topology, lists_the_valid_keys_when_no_name_is_close)
{
	load_fails("{\"frobnicate\": 1}", -EINVAL,
		   ":1: unknown key \"frobnicate\"; the top level takes "
		   "exports, cache, fuse, io, control, log, node");
	load_fails("{\"io\": {\"depth_of_ring\": 1}}", -EINVAL,
		   ":1: unknown key \"io.depth_of_ring\"; \"io\" takes "
		   "uring_depth");
}

Test(topology, rejects_a_dotted_key_written_flat)
{
	load_fails("{\n\"fuse.max_pages\": 1024}", -EINVAL,
		   ":2: unknown key \"fuse.max_pages\"; nest it: "
		   "{\"fuse\": {\"max_pages\": ...}}");
	load_fails("{\"fuse\": {\"a.b\": 1}}", -EINVAL,
		   ":1: unknown key \"fuse.a.b\"; \"fuse\" takes max_pages, "
		   "threads, cpus, entry_timeout, attr_timeout, "
		   "negative_timeout, passthrough, splice, readahead_kb");
	cr_assert_eq(c.max_pages, 4096);
}

Test(topology, rejects_a_tunable_nested_too_deep)
{
	load_fails("{\"fuse\": {\"threads\": {\"count\": 4}}}", -EINVAL,
		   ":1: fuse.threads: expected an integer, got an object");
}

Test(topology, rejects_a_section_that_is_not_an_object)
{
	load_fails("{\n\"fuse\": 4096}", -EINVAL,
		   ":2: fuse: expected an object, got an integer");
}

Test(topology, reports_syntax_errors_with_line_and_column)
{
	char want[CONF_ERR_MAX];

	cr_assert_eq(topo_load(&c, cfg("{\n  \"fuse\": {\n"
					"    \"threads\": 4\n"
					"    \"max_pages\": 8\n  }\n}\n"),
			       err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:4:15: ", path);
	cr_assert(!strncmp(err, want, strlen(want)), "%s", err);
	cr_assert(strstr(err, "'}' expected near '\"max_pages\"'"), "%s",
		  err);
	cr_assert_eq(c.threads, 0, "nothing applied from a broken file");
	cr_assert_null(c.config_path);
}

Test(topology, reports_an_empty_file_as_a_syntax_error)
{
	char want[CONF_ERR_MAX];

	cr_assert_eq(topo_load(&c, cfg(""), err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:1:0: ", path);
	cr_assert(!strncmp(err, want, strlen(want)), "%s", err);
	cr_assert(strstr(err, "end of file"), "%s", err);
}

Test(topology, rejects_duplicate_keys)
{
	char want[CONF_ERR_MAX];

	cr_assert_eq(topo_load(&c, cfg("{\"fuse\": {\"threads\": 4,\n"
					"          \"threads\": 8}}"),
			       err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2:", path);
	cr_assert(!strncmp(err, want, strlen(want)), "%s", err);
	cr_assert(strstr(err, "duplicate object key"), "%s", err);
	cr_assert_eq(c.threads, 0);
}

Test(topology, rejects_a_root_that_is_not_an_object)
{
	load_fails("[\"/\"]", -EINVAL,
		   ": the top level must be an object ({ ... }), got an "
		   "array");
	load_fails("\"fuse\"", -EINVAL,
		   ": the top level must be an object ({ ... }), got a "
		   "string");
	load_fails("42", -EINVAL,
		   ": the top level must be an object ({ ... }), got an "
		   "integer");
}

Test(topology, reports_a_missing_file_with_its_errno)
{
	cr_assert_eq(topo_load(&c, "/nonexistent/cfg.json", err, sizeof(err)),
		     -ENOENT);
	cr_assert_str_eq(err,
			 "/nonexistent/cfg.json: No such file or directory");
	cr_assert_null(c.config_path);
}

Test(topology, reports_a_directory_given_as_the_file)
{
	snprintf(dir, sizeof(dir), "/tmp/canopy-topo-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(topo_load(&c, dir, err, sizeof(err)), -EISDIR);
	cr_assert(strstr(err, ": Is a directory"), "%s", err);
}

Test(topology, exports_replace_the_exports_given_before)
{
	cr_assert_eq(conf_add_export(&c, "/usr", err, sizeof(err)), 0);
	load_ok("{\"exports\": [\"/tmp\", \"/etc/\"]}");
	cr_assert_eq(c.nexports, 2);
	cr_assert_str_eq(c.exports[0], "/tmp");
	cr_assert_str_eq(c.exports[1], "/etc/");
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.exports[0], "/etc");
	cr_assert_str_eq(c.exports[1], "/tmp");
}

Test(topology, command_line_exports_replace_the_files)
{
	load_ok("{\"exports\": [\"/tmp\"]}");
	conf_clear_exports(&c);
	cr_assert_eq(conf_add_export(&c, "/usr", err, sizeof(err)), 0);
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.nexports, 1);
	cr_assert_str_eq(c.exports[0], "/usr");
}

Test(topology, exports_must_be_an_array_of_strings)
{
	load_fails("{\"exports\": \"/\"}", -EINVAL,
		   ":1: exports: expected an array of absolute paths, got a "
		   "string");
	load_fails("{\"exports\": [\"/\",\n 5]}", -EINVAL,
		   ":1: exports[1]: expected a string, got an integer");
}

Test(topology, rejects_an_empty_exports_list)
{
	load_fails("{\"exports\": []}", -EINVAL,
		   ":1: exports: the list is empty; name at least one "
		   "directory, or leave \"exports\" out to export \"/\"");
}

Test(topology, rejects_a_relative_export_naming_its_index_and_line)
{
	load_fails("{\"exports\": [\n  \"/usr\",\n  \"rel/path\"\n]}",
		   -EINVAL,
		   ":3: exports[1]: export \"rel/path\": not an absolute "
		   "path");
	load_fails("{\"exports\": [\"/a/../b\"]}", -EINVAL,
		   ":1: exports[0]: export \"/a/../b\": \"..\" is not "
		   "allowed; give the path without it");
}

Test(topology, a_missing_export_is_caught_by_finish)
{
	load_ok("{\"exports\": [\"/nope/not/here\"]}");
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), -ENOENT);
	cr_assert_str_eq(err,
			 "export \"/nope/not/here\": "
			 "No such file or directory");
}

Test(topology, refuses_multi_node_keys_as_not_supported_yet)
{
	static const char *const keys[] = { "nodes", "roots", "fanout",
					    "placement", "transport", "auth" };
	char json[128], msg[CONF_ERR_MAX];
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(json, sizeof(json), "{\n\"node\": \"a\",\n\"%s\": 1}",
			 keys[i]);
		snprintf(msg, sizeof(msg),
			 ":3: \"%s\": multi-node topologies are not supported "
			 "by this build yet; leave \"%s\" out to run this node "
			 "alone", keys[i], keys[i]);
		load_fails(json, -EOPNOTSUPP, msg);
	}
}

Test(topology, keeps_config_path_of_the_last_good_file)
{
	char first[sizeof(path)];

	load_ok("{}");
	snprintf(first, sizeof(first), "%s", path);
	cr_assert_str_eq(c.config_path, first);
	cr_assert_eq(topo_load(&c, cfg("{\"x\": 1}"), err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(c.config_path, first);
	load_ok("{\"node\": \"n2\"}");
	cr_assert_str_eq(c.config_path, path);
}

Test(topology, tolerates_a_null_error_buffer)
{
	cr_assert_eq(topo_load(&c, cfg("{\"x\": 1}"), NULL, 0), -EINVAL);
	cr_assert_eq(topo_load(&c, cfg("{"), NULL, 0), -EINVAL);
	cr_assert_eq(topo_load(&c, "/nonexistent", NULL, 0), -ENOENT);
}
