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
#include <time.h>
#include <unistd.h>

static struct conf c;
static char err[CONF_ERR_MAX];
static char path[64];
static char dir[64];
static char keyfile[64];

static void setup(void)
{
	cr_assert_eq(conf_init(&c), 0);
	err[0] = '\0';
	path[0] = '\0';
	dir[0] = '\0';
	keyfile[0] = '\0';
}

static void teardown(void)
{
	conf_free(&c);
	if (path[0])
		unlink(path);
	if (dir[0])
		rmdir(dir);
	if (keyfile[0])
		unlink(keyfile);
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

/* config/examples/@name from the source tree. */
static void example_path(const char *name, char *buf, size_t len)
{
	char rel[128];
	const char *src = getenv("CANOPY_SRCDIR");
	const char *here = __FILE__, *cut;
	char exe[PATH_MAX];
	ssize_t n;

	snprintf(rel, sizeof(rel), "config/examples/%s", name);
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

	example_path("single-node.json", ex, sizeof(ex));
	cr_assert_eq(topo_load(&c, ex, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.config_path, ex);
	cr_assert_eq(c.nnodes, 0);
	cr_assert_null(c.nodes);
	cr_assert_eq(c.nroots, 0);
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
	cr_assert_eq(c.node_index, 0);
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

Test(topology, sets_the_kernel_tunables)
{
	load_ok("{\"kernel\": {\"max_pages_limit\": 2048,\n"
		"            \"enable_uring\": false}}");
	cr_assert_eq(c.kernel_max_pages_limit, 2048);
	cr_assert_eq(c.kernel_enable_uring, 0);
	load_ok("{\"kernel\": {\"enable_uring\": true}}");
	cr_assert_eq(c.kernel_enable_uring, 1);
}

Test(topology, refuses_kernel_tunables_of_the_wrong_type)
{
	load_fails("{\n  \"kernel\": {\"max_pages_limit\": \"1024\"}\n}",
		   -EINVAL,
		   ":2: kernel.max_pages_limit: expected an integer, got a "
		   "string; write it without quotes");
	load_fails("{\"kernel\": {\"max_pages_limit\": true}}", -EINVAL,
		   ":1: kernel.max_pages_limit: expected an integer, got a "
		   "boolean");
	load_fails("{\"kernel\": {\"enable_uring\": 1}}", -EINVAL,
		   ":1: kernel.enable_uring: expected true or false, got an "
		   "integer");
	load_fails("{\"kernel\": {\"enable_uring\": \"Y\"}}", -EINVAL,
		   ":1: kernel.enable_uring: expected true or false, got a "
		   "string");
	load_fails("{\"kernel\": {\"max_pages_limit\": 70000}}", -ERANGE,
		   ":1: kernel.max_pages_limit: 70000 is out of range "
		   "(0..65535)");
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
		   "exports, nodes, roots, fanout, placement, auth, cache, "
		   "fuse, io, kernel, transport, control, log, node");
	load_fails("{\"io\": {\"depth_of_ring\": 1}}", -EINVAL,
		   ":1: unknown key \"io.depth_of_ring\"; \"io\" takes "
		   "uring_depth, backing_direct, fetch_ahead, dir_fds");
}

Test(topology, rejects_a_dotted_key_written_flat)
{
	load_fails("{\n\"fuse.max_pages\": 1024}", -EINVAL,
		   ":2: unknown key \"fuse.max_pages\"; nest it: "
		   "{\"fuse\": {\"max_pages\": ...}}");
	load_fails("{\"fuse\": {\"a.b\": 1}}", -EINVAL,
		   ":1: unknown key \"fuse.a.b\"; \"fuse\" takes max_pages, "
		   "threads, cpus, poll_us, entry_timeout, attr_timeout, "
		   "negative_timeout, passthrough, no_open, splice, "
		   "cold_direct_io, "
		   "uring, uring_entries, uring_threads, uring_batch, "
		   "readahead_kb");
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

/* An empty key file; its name is in keyfile[]. */
static const char *make_keyfile(void)
{
	int fd;

	snprintf(keyfile, sizeof(keyfile), "/tmp/canopy-key-XXXXXX");
	fd = mkstemp(keyfile);
	cr_assert_geq(fd, 0);
	close(fd);
	return keyfile;
}

/* Two nodes and "auth": "none" around @extra (",\n"-led members or ""). */
#define TWO_NODES(extra)                                                       \
	"{\"nodes\": [{\"name\": \"a\", \"addr\": \"h1:1\"},\n"                \
	"            {\"name\": \"b\", \"addr\": \"h2:2\"}],\n"                \
	" \"auth\": \"none\"" extra "}"

Test(topology, loads_the_three_node_example)
{
	char ex[PATH_MAX];
	size_t i;

	example_path("three-nodes.json", ex, sizeof(ex));
	cr_assert_eq(topo_load(&c, ex, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.nnodes, 3);
	for (i = 0; i < 3; i++) {
		char name[8], port[8], addr[32];

		snprintf(name, sizeof(name), "n%zu", i + 1);
		snprintf(port, sizeof(port), "%zu", 7001 + i);
		snprintf(addr, sizeof(addr), "127.0.0.1:%s", port);
		cr_assert_str_eq(c.nodes[i].name, name);
		cr_assert_eq(c.nodes[i].naddrs, 1);
		cr_assert_str_eq(c.nodes[i].addrs[0], addr);
		cr_assert_str_eq(c.nodes[i].host, "127.0.0.1");
		cr_assert_str_eq(c.nodes[i].port, port);
		cr_assert_null(c.nodes[i].provider_addr);
	}
	cr_assert_eq(c.nroots, 2);
	cr_assert_not_null(c.roots);
	cr_assert_eq(c.roots[0], 0);
	cr_assert_eq(c.roots[1], 1);
	cr_assert_eq(c.fanout, 2);
	cr_assert_eq(c.placement, PLACEMENT_FILE);
	cr_assert_eq(c.auth_none, false);
	cr_assert_str_eq(c.auth_key_file, "/etc/canopy/job.key");
	cr_assert_str_eq(c.provider, "tcp;ofi_rxm");
	cr_assert_eq(c.data_mode, DATA_MODE_RPC);
	cr_assert_eq(c.peer_timeout, 2.0);
	cr_assert_eq(c.peer_threads, 4);
	cr_assert_eq(c.recv_buffers, 16);

	/* runs as n2 once the key file exists */
	free(c.auth_key_file);
	c.auth_key_file = strdup(make_keyfile());
	cr_assert_eq(conf_set(&c, "--node", "n2", err, sizeof(err)), 0);
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.node_index, 1);
}

Test(topology, parses_node_addresses_into_host_and_port)
{
	load_ok("{\"nodes\": [\n"
		"  {\"name\": \"n1\", \"addr\": \"node-1.cluster:7001\"},\n"
		"  {\"name\": \"n2\", \"addr\": \"10.0.0.2:65535\"},\n"
		"  {\"name\": \"n3\", \"addr\": \"[fe80::1]:1\"},\n"
		"  {\"name\": \"n4\", \"addr\": \"[fe80::1%eth0]:7004\"}\n"
		"], \"auth\": \"none\"}");
	cr_assert_eq(c.nnodes, 4);
	cr_assert_str_eq(c.nodes[0].host, "node-1.cluster");
	cr_assert_str_eq(c.nodes[0].port, "7001");
	cr_assert_str_eq(c.nodes[1].host, "10.0.0.2");
	cr_assert_str_eq(c.nodes[1].port, "65535");
	cr_assert_str_eq(c.nodes[2].host, "fe80::1");
	cr_assert_str_eq(c.nodes[2].port, "1");
	cr_assert_str_eq(c.nodes[2].addrs[0], "[fe80::1]:1");
	cr_assert_str_eq(c.nodes[3].host, "fe80::1%eth0");
	cr_assert_str_eq(c.nodes[3].port, "7004");
}

Test(topology, nodes_without_roots_fanout_or_placement_take_the_defaults)
{
	load_ok(TWO_NODES(""));
	cr_assert_eq(c.nnodes, 2);
	cr_assert_null(c.roots);
	cr_assert_eq(c.nroots, 1);
	cr_assert_eq(c.fanout, 4);
	cr_assert_eq(c.placement, PLACEMENT_FILE);
	cr_assert_eq(c.auth_none, true);
	cr_assert_null(c.auth_key_file);
}

Test(topology, accepts_several_addrs_and_a_provider_addr)
{
	load_ok("{\"nodes\": [\n"
		"  {\"name\": \"n1\", \"addrs\": [\"hsn0-n1:7001\",\n"
		"                               \"hsn1-n1:7001\"],\n"
		"   \"provider_addr\": \"cxi://0x1a2b:5\"},\n"
		"  {\"name\": \"n2\", \"addrs\": [\"hsn0-n2:7001\"]}\n"
		"], \"auth\": \"none\"}");
	cr_assert_eq(c.nodes[0].naddrs, 2);
	cr_assert_str_eq(c.nodes[0].addrs[0], "hsn0-n1:7001");
	cr_assert_str_eq(c.nodes[0].addrs[1], "hsn1-n1:7001");
	cr_assert_str_eq(c.nodes[0].host, "hsn0-n1");
	cr_assert_str_eq(c.nodes[0].port, "7001");
	cr_assert_str_eq(c.nodes[0].provider_addr, "cxi://0x1a2b:5");
	cr_assert_eq(c.nodes[1].naddrs, 1);
	cr_assert_str_eq(c.nodes[1].host, "hsn0-n2");
	cr_assert_null(c.nodes[1].provider_addr);
}

Test(topology, a_node_takes_exactly_one_of_addr_and_addrs)
{
	load_fails("{\"nodes\": [{\"name\": \"n1\", \"addr\": \"h:1\",\n"
		   "  \"addrs\": [\"h:2\"]}]}", -EINVAL,
		   ":1: nodes[0]: give \"addr\" or \"addrs\", not both");
	load_fails("{\"nodes\": [{\"name\": \"n1\", \"addr\": \"h:1\"},\n"
		   "  {\"name\": \"n2\"}]}", -EINVAL,
		   ":2: nodes[1]: missing \"addr\" (\"host:port\"), or "
		   "\"addrs\" for several NICs");
	load_fails("{\"nodes\": [{\"name\": \"n1\", \"addrs\": []}]}",
		   -EINVAL,
		   ":1: nodes[0].addrs: the list is empty; give at least one "
		   "\"host:port\"");
	load_fails("{\"nodes\": [{\"name\": \"n1\", \"addrs\": \"h:1\"}]}",
		   -EINVAL,
		   ":1: nodes[0].addrs: expected an array of \"host:port\" "
		   "strings, got a string");
	load_fails("{\"nodes\": [{\"name\": \"n1\", \"addrs\": [\"h:1\", 7]}]}",
		   -EINVAL,
		   ":1: nodes[0].addrs[1]: expected a string \"host:port\", "
		   "got an integer");
}

Test(topology, rejects_duplicate_node_names)
{
	load_fails("{\"nodes\": [\n"
		   "  {\"name\": \"n1\", \"addr\": \"h1:1\"},\n"
		   "  {\"name\": \"n2\", \"addr\": \"h2:1\"},\n"
		   "  {\"name\": \"n3\", \"addr\": \"h3:1\"},\n"
		   "  {\"name\": \"n1\", \"addr\": \"h4:1\"},\n"
		   "  {\"name\": \"n2\", \"addr\": \"h5:1\"}\n"
		   "], \"auth\": \"none\"}", -EINVAL,
		   ":5: nodes[3].name: duplicate node name \"n1\" (also "
		   "nodes[0])");
}

Test(topology, rejects_duplicate_addresses_across_nodes_and_nics)
{
	load_fails("{\"nodes\": [\n"
		   "  {\"name\": \"n1\", \"addr\": \"Host-A:7001\"},\n"
		   "  {\"name\": \"n2\", \"addrs\": [\"host-b:7001\",\n"
		   "                              \"host-a:07001\"]}\n"
		   "], \"auth\": \"none\"}", -EINVAL,
		   ":4: nodes[1].addrs[1]: duplicate address \"host-a:07001\" "
		   "(also nodes[0].addr)");
	load_fails("{\"nodes\": [\n"
		   "  {\"name\": \"n1\",\n"
		   "   \"addrs\": [\"[::1]:7\", \"[::1]:7\"]}\n"
		   "]}", -EINVAL,
		   ":3: nodes[0].addrs[1]: duplicate address \"[::1]:7\" (also "
		   "nodes[0].addrs[0])");
	/* the same host on another port is another address */
	load_ok("{\"nodes\": [{\"name\": \"n1\", \"addr\": \"h:1\"},\n"
		"  {\"name\": \"n2\", \"addr\": \"h:2\"}],\n"
		" \"auth\": \"none\"}");
	cr_assert_eq(c.nnodes, 2);
}

Test(topology, rejects_empty_blank_and_missing_node_names)
{
	load_fails("{\"nodes\": [{\"name\": \"\", \"addr\": \"h:1\"}]}",
		   -EINVAL, ":1: nodes[0].name: empty; give the node a name");
	load_fails("{\"nodes\": [{\"name\": \"n 1\", \"addr\": \"h:1\"}]}",
		   -EINVAL,
		   ":1: nodes[0].name: \"n 1\" has a blank or a control "
		   "character");
	load_fails("{\"nodes\": [{\"addr\": \"h:1\"}]}", -EINVAL,
		   ":1: nodes[0]: missing \"name\"");
	load_fails("{\"nodes\": [{\"name\": 1, \"addr\": \"h:1\"}]}", -EINVAL,
		   ":1: nodes[0].name: expected a string, got an integer");
}

Test(topology, rejects_a_bad_host_port_naming_the_entry)
{
	static const struct {
		const char *addr, *msg;
		int ret;
	} cases[] = {
		{ "n1", "\"n1\": missing \":port\"; write host:port, such as "
			"\"n1:7001\"", -EINVAL },
		{ "n1:", "\"n1:\": missing the port after \":\"", -EINVAL },
		{ ":7001", "\":7001\": missing the host before \":\"",
		  -EINVAL },
		{ "n1:0", "\"n1:0\": port 0 is out of range (1..65535)",
		  -ERANGE },
		{ "n1:65536", "\"n1:65536\": port 65536 is out of range "
			      "(1..65535)", -ERANGE },
		{ "n1:http", "\"n1:http\": port \"http\" is not a number",
		  -EINVAL },
		{ "n1:-1", "\"n1:-1\": port \"-1\" is not a number", -EINVAL },
		{ "::1:7001", "\"::1:7001\": an IPv6 address needs brackets, "
			      "as in \"[::1]:7001\"", -EINVAL },
		{ "[::g]:1", "\"[::g]:1\": \"::g\" is not an IPv6 address",
		  -EINVAL },
		{ "[::1]", "\"[::1]\": missing \":port\" after \"]\"",
		  -EINVAL },
		{ "[::1:7", "\"[::1:7\": no \"]\" after the IPv6 address",
		  -EINVAL },
		{ "300.1.1.1:1", "\"300.1.1.1:1\": \"300.1.1.1\" is not a host "
				 "name or address", -EINVAL },
		{ "a/b:1", "\"a/b:1\": \"a/b\" is not a host name or address",
		  -EINVAL },
	};
	char json[256], msg[CONF_ERR_MAX];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(json, sizeof(json),
			 "{\"nodes\": [{\"name\": \"x\", \"addr\": \"h:9\"},\n"
			 " {\"name\": \"n1\",\n  \"addr\": \"%s\"}]}",
			 cases[i].addr);
		snprintf(msg, sizeof(msg), ":3: nodes[1].addr: %s",
			 cases[i].msg);
		load_fails(json, cases[i].ret, msg);
	}
	load_fails("{\"nodes\": [{\"name\": \"x\", \"addr\": \"h :9\"}]}",
		   -EINVAL,
		   ":1: nodes[0].addr: \"h :9\" has a blank or a control "
		   "character");
}

Test(topology, rejects_unknown_keys_in_a_node_with_a_suggestion)
{
	load_fails("{\"nodes\": [{\"name\": \"n1\", \"addr\": \"h:1\"},\n"
		   "  {\"name\": \"n2\",\n   \"adr\": \"h:2\"}]}", -EINVAL,
		   ":3: unknown key \"nodes[1].adr\" (did you mean "
		   "\"nodes[1].addr\"?)");
	load_fails("{\"nodes\": [{\"name\": \"n1\", \"provideraddr\": \"x\","
		   " \"addr\": \"h:1\"}]}", -EINVAL,
		   ":1: unknown key \"nodes[0].provideraddr\" (did you mean "
		   "\"nodes[0].provider_addr\"?)");
	load_fails("{\"nodes\": [{\"name\": \"n1\", \"rack\": 4}]}", -EINVAL,
		   ":1: unknown key \"nodes[0].rack\"; a node takes name, "
		   "addr, addrs, provider_addr");
}

Test(topology, rejects_nodes_that_are_not_a_list_of_objects)
{
	load_fails("{\"nodes\": {\"n1\": \"h:1\"}}", -EINVAL,
		   ":1: nodes: expected an array of {\"name\": ..., \"addr\": "
		   "\"host:port\"}, got an object");
	load_fails("{\"nodes\": []}", -EINVAL,
		   ":1: nodes: the list is empty; list the nodes, or leave "
		   "\"nodes\" out to run this node alone");
	load_fails("{\"nodes\": [\"n1:7001\"]}", -EINVAL,
		   ":1: nodes[0]: expected an object {\"name\": ..., \"addr\": "
		   "\"host:port\"}, got a string");
	load_fails("{\"nodes\": [{\"name\": \"n1\", \"addr\": \"h:1\",\n"
		   " \"provider_addr\": \"\"}]}", -EINVAL,
		   ":2: nodes[0].provider_addr: \"\" is empty or has a control "
		   "character; leave it out to use \"addr\"");
}

Test(topology, roots_by_name_become_node_indices)
{
	load_ok("{\"roots\": [\"n3\", \"n1\"],\n"
		" \"nodes\": [{\"name\": \"n1\", \"addr\": \"h1:1\"},\n"
		"            {\"name\": \"n2\", \"addr\": \"h2:1\"},\n"
		"            {\"name\": \"n3\", \"addr\": \"h3:1\"}],\n"
		" \"auth\": \"none\"}");
	cr_assert_eq(c.nroots, 2);
	cr_assert_not_null(c.roots);
	cr_assert_eq(c.roots[0], 2);
	cr_assert_eq(c.roots[1], 0);
}

Test(topology, roots_as_a_count_is_stored_without_indices)
{
	load_ok(TWO_NODES(", \"roots\": 2"));
	cr_assert_null(c.roots);
	cr_assert_eq(c.nroots, 2);
}

Test(topology, rejects_a_roots_count_out_of_range)
{
	load_fails(TWO_NODES(",\n \"roots\": 3"), -ERANGE,
		   ":4: roots: 3 is out of range (1..2, the number of nodes)");
	load_fails(TWO_NODES(", \"roots\": 0"), -ERANGE,
		   ":3: roots: 0 is out of range (1..2, the number of nodes)");
	load_fails(TWO_NODES(", \"roots\": -1"), -ERANGE,
		   ":3: roots: -1 is out of range (1..2, the number of "
		   "nodes)");
}

Test(topology, rejects_an_unknown_root_naming_its_index)
{
	load_fails(TWO_NODES(",\n \"roots\": [\"a\",\n   \"x\"]"), -EINVAL,
		   ":5: roots[1]: unknown node \"x\"; the nodes are a, b");
}

Test(topology, rejects_a_duplicate_root)
{
	load_fails(TWO_NODES(", \"roots\": [\"b\", \"a\", \"b\"]"), -EINVAL,
		   ":3: roots[2]: duplicate root \"b\" (also roots[0])");
}

Test(topology, rejects_roots_of_the_wrong_shape)
{
	load_fails(TWO_NODES(", \"roots\": \"a\""), -EINVAL,
		   ":3: roots: expected a list of node names or a count, got "
		   "a string");
	load_fails(TWO_NODES(", \"roots\": []"), -EINVAL,
		   ":3: roots: the list is empty; name at least one node, or "
		   "give a count");
	load_fails(TWO_NODES(", \"roots\": [0]"), -EINVAL,
		   ":3: roots[0]: expected a node name, got an integer");
}

Test(topology, fanout_is_at_least_one)
{
	load_ok(TWO_NODES(", \"fanout\": 1"));
	cr_assert_eq(c.fanout, 1);
	load_ok(TWO_NODES(", \"fanout\": 65535"));
	cr_assert_eq(c.fanout, 65535);
	load_fails(TWO_NODES(",\n \"fanout\": 0"), -ERANGE,
		   ":4: fanout: 0 is out of range (1..65535)");
	load_fails(TWO_NODES(", \"fanout\": -2"), -ERANGE,
		   ":3: fanout: -2 is out of range (1..65535)");
	load_fails(TWO_NODES(", \"fanout\": 65536"), -ERANGE,
		   ":3: fanout: 65536 is out of range (1..65535)");
	load_fails(TWO_NODES(", \"fanout\": \"2\""), -EINVAL,
		   ":3: fanout: expected an integer, got a string");
	cr_assert_eq(c.fanout, 65535);
}

Test(topology, placement_is_file_or_block)
{
	load_ok(TWO_NODES(", \"placement\": \"block\""));
	cr_assert_eq(c.placement, PLACEMENT_BLOCK);
	load_ok(TWO_NODES(", \"placement\": \"file\""));
	cr_assert_eq(c.placement, PLACEMENT_FILE);
	load_fails(TWO_NODES(", \"placement\": \"blocks\""), -EINVAL,
		   ":3: placement: \"blocks\" is not allowed; use file or "
		   "block");
	load_fails(TWO_NODES(", \"placement\": 1"), -EINVAL,
		   ":3: placement: expected a string (file or block), got an "
		   "integer");
}

Test(topology, auth_takes_a_key_file_or_none)
{
	load_ok("{\"nodes\": [{\"name\": \"a\", \"addr\": \"h1:1\"},\n"
		"  {\"name\": \"b\", \"addr\": \"h2:2\"}],\n"
		" \"auth\": {\"key_file\": \"/etc/canopy/job.key\"}}");
	cr_assert_str_eq(c.auth_key_file, "/etc/canopy/job.key");
	cr_assert_eq(c.auth_none, false);
	load_ok(TWO_NODES(""));
	cr_assert_eq(c.auth_none, true);
	cr_assert_null(c.auth_key_file);
}

Test(topology, rejects_a_bad_auth)
{
	static const char *const nodes =
		"{\"nodes\": [{\"name\": \"a\", \"addr\": \"h1:1\"}],\n";
	char json[256];

	snprintf(json, sizeof(json), "%s \"auth\": \"None\"}", nodes);
	load_fails(json, -EINVAL,
		   ":2: auth: \"None\" is not allowed; use \"none\" or "
		   "{\"key_file\": \"/path\"}");
	snprintf(json, sizeof(json), "%s \"auth\": true}", nodes);
	load_fails(json, -EINVAL,
		   ":2: auth: expected \"none\" or {\"key_file\": \"/path\"}, "
		   "got a boolean");
	snprintf(json, sizeof(json), "%s \"auth\": {\"key_file\": \"k\"}}",
		 nodes);
	load_fails(json, -EINVAL,
		   ":2: auth.key_file: \"k\" is not an absolute path");
	snprintf(json, sizeof(json), "%s \"auth\": {\"keyfile\": \"/k\"}}",
		 nodes);
	load_fails(json, -EINVAL,
		   ":2: unknown key \"auth.keyfile\" (did you mean "
		   "\"auth.key_file\"?)");
	snprintf(json, sizeof(json), "%s \"auth\": {}}", nodes);
	load_fails(json, -EINVAL,
		   ":2: auth: missing \"key_file\"; use \"none\" or "
		   "{\"key_file\": \"/path\"}");
}

Test(topology, refuses_several_nodes_without_auth)
{
	load_fails("{\"node\": \"a\",\n"
		   " \"nodes\": [{\"name\": \"a\", \"addr\": \"h1:1\"},\n"
		   "            {\"name\": \"b\", \"addr\": \"h2:2\"}]}",
		   -EINVAL,
		   ":2: nodes: 2 nodes and no \"auth\"; add \"auth\": "
		   "{\"key_file\": \"/path/to/key\"}, or \"auth\": \"none\" on "
		   "a trusted network");
	/* one node talks to no one */
	load_ok("{\"nodes\": [{\"name\": \"a\", \"addr\": \"h1:1\"}]}");
	cr_assert_eq(c.nnodes, 1);
}

Test(topology, refuses_topology_keys_without_nodes)
{
	static const char *const keys[] = { "roots", "fanout", "placement",
					    "auth" };
	char json[128], msg[CONF_ERR_MAX];
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(json, sizeof(json), "{\n\"node\": \"a\",\n\"%s\": 1}",
			 keys[i]);
		snprintf(msg, sizeof(msg),
			 ":3: %s: means nothing without \"nodes\"; list the "
			 "nodes, or leave \"%s\" out to run this node alone",
			 keys[i], keys[i]);
		load_fails(json, -EINVAL, msg);
	}
	cr_assert_eq(c.fanout, 4);
	cr_assert_eq(c.nroots, 0);
}

Test(topology, transport_section_sets_its_tunables)
{
	load_ok("{\"transport\": {\"provider\": \"cxi\", \"data_mode\": "
		"\"rma\",\n  \"timeout\": 0.5, \"threads\": 8,\n"
		"  \"recv_buffers\": 64}}");
	cr_assert_str_eq(c.provider, "cxi");
	cr_assert_eq(c.data_mode, DATA_MODE_RMA);
	cr_assert_eq(c.peer_timeout, 0.5);
	cr_assert_eq(c.peer_threads, 8);
	cr_assert_eq(c.recv_buffers, 64);
	cr_assert_eq(c.nnodes, 0, "transport alone is harmless");
}

Test(topology, rejects_a_bad_transport_value)
{
	load_fails("{\"transport\": {\n\"data_mode\": \"dma\"}}", -EINVAL,
		   ":2: transport.data_mode: \"dma\" is not allowed; use rpc "
		   "or rma");
	load_fails("{\"transport\": {\"data_mode\": 1}}", -EINVAL,
		   ":1: transport.data_mode: expected a string (rpc or rma), "
		   "got an integer");
	load_fails("{\"transport\": {\"threads\": 65}}", -ERANGE,
		   ":1: transport.threads: 65 is out of range (1..64)");
	load_fails("{\"transport\": {\"timeout\": 0}}", -ERANGE,
		   ":1: transport.timeout: 0 is out of range; use more than 0 "
		   "seconds");
	load_fails("{\"transport\": {\"provider\": \"\"}}", -EINVAL,
		   ":1: transport.provider: must not be empty");
	load_fails("{\"transport\": {\"timeout_ms\": 2000}}", -EINVAL,
		   ":1: unknown key \"transport.timeout_ms\"; write "
		   "\"transport.timeout\" in seconds (2000 ms is 2)");
	load_fails("{\"transport\": {\"provder\": \"cxi\"}}", -EINVAL,
		   ":1: unknown key \"transport.provder\" (did you mean "
		   "\"transport.provider\"?)");
	cr_assert_eq(c.data_mode, DATA_MODE_RPC);
}

Test(topology, a_new_node_list_replaces_the_nodes_and_the_roots)
{
	load_ok(TWO_NODES(", \"roots\": [\"b\"]"));
	cr_assert_eq(c.roots[0], 1);
	load_ok("{\"nodes\": [{\"name\": \"z\", \"addr\": \"h9:9\"}]}");
	cr_assert_eq(c.nnodes, 1);
	cr_assert_str_eq(c.nodes[0].name, "z");
	cr_assert_null(c.roots);
	cr_assert_eq(c.nroots, 1);
	load_ok("{\"fuse\": {\"threads\": 2}}");
	cr_assert_eq(c.nnodes, 1, "a file without nodes keeps them");
}

Test(topology, finds_the_line_of_an_array_element)
{
	load_fails("{\"nodes\": [\n"
		   "  {\"name\": \"n1\", \"addr\": \"h:1\"},\n"
		   "  {\"name\": \"n,]\\\"[{\", \"addr\": \"h:2\"},\n"
		   "  [],\n"
		   "  {\"name\": \"n4\", \"addr\": \"h:4\"}\n"
		   "]}", -EINVAL,
		   ":4: nodes[2]: expected an object {\"name\": ..., \"addr\": "
		   "\"host:port\"}, got an array");
}

/* @n nodes "nidNNNNNN"; the last one reuses node 17's address if @dup. */
static char *many_nodes(size_t n, bool dup)
{
	size_t len = 64 + n * 64, used, i, a;
	char *json = malloc(len);

	cr_assert_not_null(json);
	used = snprintf(json, len, "{\"auth\": \"none\", \"nodes\": [\n");
	for (i = 0; i < n; i++) {
		a = dup && i == n - 1 ? 17 : i;
		used += snprintf(json + used, len - used,
				 "%s{\"name\": \"nid%06zu\", \"addr\": "
				 "\"%s%06zu:%zu\"}\n", i ? "," : "", i,
				 a == i ? "nid" : "NID", a, 7000 + a % 1000);
	}
	snprintf(json + used, len - used, "], \"roots\": 16}");
	return json;
}

Test(topology, loads_thousands_of_nodes_and_finds_a_late_duplicate)
{
	const size_t n = 10000;
	struct timespec t0, t1;
	char *json = many_nodes(n, false);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	load_ok(json);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_log_info("%zu nodes loaded in %.1f ms", n,
		    (t1.tv_sec - t0.tv_sec) * 1e3 +
			    (t1.tv_nsec - t0.tv_nsec) / 1e6);
	free(json);
	cr_assert_eq(c.nnodes, n);
	cr_assert_str_eq(c.nodes[n - 1].name, "nid009999");
	cr_assert_str_eq(c.nodes[n - 1].port, "7999");
	cr_assert_eq(c.nroots, 16);

	json = many_nodes(n, true);
	load_fails(json, -EINVAL,
		   ":10001: nodes[9999].addr: duplicate address "
		   "\"NID000017:7017\" (also nodes[17].addr)");
	free(json);
}
