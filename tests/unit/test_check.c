// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_check.c - the report of `canopyd --check` on topologies
 * small enough to work out by hand (heap numbering: the children of
 * position p are 2p+1 and 2p+2; tree tr starts at base index tr * N / R).
 */
#include "check_i.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct conf c;
static char err[CONF_ERR_MAX];
static char path[64];
static char *out;

static void setup(void)
{
	cr_assert_eq(conf_init(&c), 0);
	path[0] = '\0';
	out = NULL;
}

static void teardown(void)
{
	conf_free(&c);
	if (path[0])
		unlink(path);
	free(out);
}

TestSuite(check, .init = setup, .fini = teardown);

/* @n nodes n1..nN, then @extra (JSON members, may be ""), as node @self. */
static void load(unsigned n, const char *extra, const char *self)
{
	FILE *f;
	unsigned i;
	int fd;

	snprintf(path, sizeof(path), "/tmp/canopy-check-XXXXXX.json");
	fd = mkstemps(path, 5);
	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	cr_assert_not_null(f);
	fprintf(f, "{\"auth\": \"none\", \"nodes\": [");
	for (i = 1; i <= n; i++)
		fprintf(f, "%s{\"name\": \"n%u\", \"addr\": \"10.0.0.%u:7470\"}",
			i > 1 ? ", " : "", i, i);
	fprintf(f, "]%s%s}\n", *extra ? ", " : "", extra);
	fclose(f);
	cr_assert_eq(topo_load(&c, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(conf_set(&c, "node", self, err, sizeof(err)), 0);
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
}

static void report(void)
{
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	cr_assert_not_null(f);
	cr_assert_eq(check_report(&c, f), 0);
	fclose(f);
}

static void has_line(const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\n%s\n", line);
	cr_assert(strstr(out, want), "no line \"%s\" in:\n%s", line, out);
}

Test(check, single_node_owns_everything)
{
	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
	report();
	cr_assert(!strncmp(out, "config: built-in default: ok\n", 29), "%s",
		  out);
	has_line("exports: /");
	has_line("topology: single node");
	has_line("owned share: 1 = 100% (a single node reads everything from "
		 "the backing store)");
}

Test(check, prints_parent_and_children_of_an_interior_node)
{
	load(7, "\"fanout\": 2", "n2");
	report();
	has_line("topology: 7 nodes, 1 root, fanout 2, height 2, file "
		 "placement");
	has_line("node: n2 (2 of 7)");
	has_line("roots: n1");
	has_line("tree 0: root n1, depth 1, parent n1, children n4, n5");
	has_line("forwards: in 1 of 1 tree");
	has_line("owned share: 0 (not a root: this node reads nothing from "
		 "the backing store while the roots answer)");
}

Test(check, a_leaf_has_no_children)
{
	load(7, "\"fanout\": 2", "n7");
	report();
	has_line("tree 0: root n1, depth 2, parent n3, children none");
	has_line("forwards: in 0 of 1 tree");
}

Test(check, a_root_owns_one_tree_of_r_by_rendezvous)
{
	double measured;
	char *p;

	load(8, "\"fanout\": 2, \"roots\": 2", "n1");
	report();
	has_line("roots: n1, n5");
	has_line("tree 0: root n1, depth 0, parent none (this node is the "
		 "root), children n2, n3");
	/* tree 1 starts at n5: positions 1, 2 are n6, n7; 3, 4 are n8, n1 */
	has_line("tree 1: root n5, depth 2, parent n6, children none");
	has_line("forwards: in 1 of 2 trees");
	p = strstr(out, "owned share: 1/2 = 50.00% expected (root of tree 0, "
			"rendezvous hashing over 2 roots); ");
	cr_assert_not_null(p, "%s", out);
	p = strchr(p, ';') + 2;
	measured = strtod(p, &p);
	cr_assert(measured > 47 && measured < 53, "measured %.2f%%", measured);
	cr_assert(!strcmp(p, "% of 65536 sample paths\n"), "%s", p);
}

Test(check, the_second_root_reports_its_own_tree)
{
	load(8, "\"fanout\": 2, \"roots\": 2", "n5");
	report();
	has_line("tree 0: root n1, depth 2, parent n2, children none");
	has_line("tree 1: root n5, depth 0, parent none (this node is the "
		 "root), children n6, n7");
	cr_assert(strstr(out, "owned share: 1/2 = 50.00% expected (root of "
			      "tree 1,"), "%s", out);
}

Test(check, names_explicit_roots_in_their_order)
{
	load(6, "\"fanout\": 2, \"roots\": [\"n3\", \"n1\"]", "n3");
	report();
	has_line("roots: n3, n1");
	cr_assert(strstr(out, "tree 0: root n3, depth 0, parent none"), "%s",
		  out);
	cr_assert(strstr(out, "(root of tree 0,"), "%s", out);
}

Test(check, block_placement_samples_blocks)
{
	load(4, "\"roots\": 4, \"placement\": \"block\"", "n2");
	report();
	has_line("topology: 4 nodes, 4 roots, fanout 4, height 1, block "
		 "placement");
	cr_assert(strstr(out, "owned share: 1/4 = 25.00% expected (root of "
			      "tree 1, rendezvous hashing over 4 roots); "),
		  "%s", out);
	cr_assert(strstr(out, "% of 65536 sample blocks\n"), "%s", out);
}

Test(check, lists_at_most_sixteen_children)
{
	load(30, "\"fanout\": 20", "n1");
	report();
	has_line("tree 0: root n1, depth 0, parent none (this node is the "
		 "root), children n2, n3, n4, n5, n6, n7, n8, n9, n10, n11, "
		 "n12, n13, n14, n15, n16, n17, ... (20 in all)");
}

Test(check, parent_names_lists_each_parent_once)
{
	char buf[64];

	load(8, "\"fanout\": 2, \"roots\": 2", "n1");
	cr_assert_eq(check_parent_names(&c, buf, sizeof(buf)), 1);
	cr_assert_str_eq(buf, "n6");
	conf_free(&c);
	cr_assert_eq(conf_init(&c), 0);
	unlink(path);
	load(8, "\"fanout\": 2, \"roots\": 2", "n8");
	/* tree 0: position 7, parent position 3 (n4); tree 1: position 3 */
	cr_assert_eq(check_parent_names(&c, buf, sizeof(buf)), 2);
	cr_assert_str_eq(buf, "n4, n6");
}

Test(check, parent_names_is_empty_on_a_single_node)
{
	char buf[16] = "x";

	cr_assert_eq(conf_finish(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(check_parent_names(&c, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "");
}
