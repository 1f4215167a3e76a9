// SPDX-License-Identifier: MIT
/*
 * daemon/check.c - the report of `canopyd --check`.
 *
 * The trees are built with the daemon's own tree.c, so what is printed is
 * what a running canopyd would use: parents and children are exact.
 *
 * Owned share. A node owns the objects of the trees it is the root of;
 * which tree an object belongs to is decided by rendezvous hashing over the
 * R roots (tree_owner_file() / tree_owner_block()). Roots are distinct, so
 * a node roots one tree or none, and its expected share is 1/R or 0. The
 * real share depends on the job's paths, which --check does not know; it
 * therefore also hashes CHECK_SAMPLES synthetic paths ("/check/<i>", and
 * for block placement block i of one file) and reports the fraction this
 * node's tree wins, which shows how close the hash comes to 1/R. The
 * samples are capped so that hashing costs at most CHECK_WORK root weights
 * however many roots there are.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "check_i.h"
#include "tree.h"

#define CHECK_SAMPLES 65536
#define CHECK_SAMPLES_MIN 1024
#define CHECK_WORK (UINT64_C(1) << 23)
#define CHECK_CHILDREN_LISTED 16

static const char *name_of(const struct conf *c, uint32_t i)
{
	return c->nodes[i].name;
}

static void print_children(const struct conf *c, const struct tree *t,
			   uint32_t tr, uint32_t self, FILE *f)
{
	uint32_t kids[CHECK_CHILDREN_LISTED], nk, i;

	nk = tree_children(t, tr, self, kids, CHECK_CHILDREN_LISTED);
	fprintf(f, "children");
	if (!nk)
		fprintf(f, " none");
	for (i = 0; i < nk && i < CHECK_CHILDREN_LISTED; i++)
		fprintf(f, "%s %s", i ? "," : "", name_of(c, kids[i]));
	if (nk > CHECK_CHILDREN_LISTED)
		fprintf(f, ", ... (%" PRIu32 " in all)", nk);
	fprintf(f, "\n");
}

/* The fraction of sample objects that tree @tr owns, and the sample size. */
static double sample_share(const struct conf *c, const struct tree *t,
			   uint32_t tr, uint32_t *nsamples)
{
	uint64_t n = CHECK_WORK / tree_count(t);
	uint32_t i, hits = 0;
	char path[32];
	int len;

	if (n > CHECK_SAMPLES)
		n = CHECK_SAMPLES;
	if (n < CHECK_SAMPLES_MIN)
		n = CHECK_SAMPLES_MIN;
	for (i = 0; i < n; i++) {
		uint32_t owner;

		if (c->placement == PLACEMENT_BLOCK) {
			owner = tree_owner_block(t, "/check/file", 11, i);
		} else {
			len = snprintf(path, sizeof(path), "/check/%" PRIu32,
				       i);
			owner = tree_owner_file(t, path, (size_t)len);
		}
		hits += owner == tr;
	}
	*nsamples = (uint32_t)n;
	return (double)hits / (double)n;
}

static int report_tree(const struct conf *c, FILE *f)
{
	uint32_t self = (uint32_t)c->node_index, n = (uint32_t)c->nnodes;
	uint32_t tr, r, owned = UINT32_MAX, forwards = 0, samples;
	struct tree *t;
	int64_t parent;
	double share;
	int ret;

	ret = tree_new(n, c->fanout, c->roots, (uint32_t)c->nroots, &t);
	if (ret)
		return ret;
	r = tree_count(t);
	fprintf(f, "topology: %" PRIu32 " node%s, %" PRIu32 " root%s, "
		"fanout %u, height %" PRIu32 ", %s placement\n", n,
		n == 1 ? "" : "s", r, r == 1 ? "" : "s", c->fanout,
		tree_height(t),
		c->placement == PLACEMENT_BLOCK ? "block" : "file");
	fprintf(f, "node: %s (%" PRIu32 " of %" PRIu32 ")\n",
		name_of(c, self), self + 1, n);
	fprintf(f, "roots:");
	for (tr = 0; tr < r; tr++)
		fprintf(f, "%s %s", tr ? "," : "",
			name_of(c, tree_root(t, tr)));
	fprintf(f, "\n");

	for (tr = 0; tr < r; tr++) {
		parent = tree_parent(t, tr, self);
		fprintf(f, "tree %" PRIu32 ": root %s, depth %" PRIu32 ", ", tr,
			name_of(c, tree_root(t, tr)), tree_depth(t, tr, self));
		if (parent < 0) {
			fprintf(f, "parent none (this node is the root), ");
			owned = tr;
		} else {
			fprintf(f, "parent %s, ",
				name_of(c, (uint32_t)parent));
		}
		print_children(c, t, tr, self, f);
		forwards += tree_is_interior(t, tr, self);
	}
	fprintf(f, "forwards: in %" PRIu32 " of %" PRIu32 " tree%s\n",
		forwards, r, r == 1 ? "" : "s");

	if (owned == UINT32_MAX) {
		fprintf(f, "owned share: 0 (not a root: this node reads "
			"nothing from the backing store while the roots "
			"answer)\n");
	} else {
		share = sample_share(c, t, owned, &samples);
		fprintf(f, "owned share: 1/%" PRIu32 " = %.2f%% expected (root "
			"of tree %" PRIu32 ", rendezvous hashing over %" PRIu32
			" root%s); %.2f%% of %" PRIu32 " sample %s\n", r,
			100.0 / r, owned, r, r == 1 ? "" : "s", 100.0 * share,
			samples,
			c->placement == PLACEMENT_BLOCK ? "blocks" : "paths");
	}
	tree_free(t);
	return 0;
}

int check_report(const struct conf *c, FILE *f)
{
	size_t i;

	fprintf(f, "config: %s: ok\n",
		c->config_path ? c->config_path : "built-in default");
	fprintf(f, "exports:");
	for (i = 0; i < c->nexports; i++)
		fprintf(f, " %s", c->exports[i]);
	fprintf(f, "\n");
	if (!c->nnodes) {
		fprintf(f, "topology: single node\n"
			"owned share: 1 = 100%% (a single node reads "
			"everything from the backing store)\n");
		return 0;
	}
	return report_tree(c, f);
}

int check_parent_names(const struct conf *c, char *buf, size_t len)
{
	uint32_t self = (uint32_t)c->node_index, tr, prev;
	size_t used = 0;
	struct tree *t;
	int64_t parent;
	int n = 0, ret;
	bool dup;

	if (len)
		*buf = '\0';
	if (!c->nnodes)
		return 0;
	ret = tree_new((uint32_t)c->nnodes, c->fanout, c->roots,
		       (uint32_t)c->nroots, &t);
	if (ret)
		return ret;
	for (tr = 0; tr < tree_count(t); tr++) {
		parent = tree_parent(t, tr, self);
		if (parent < 0)
			continue;
		dup = false;
		for (prev = 0; prev < tr && !dup; prev++)
			dup = tree_parent(t, prev, self) == parent;
		if (dup)
			continue;
		if (used < len)
			used += snprintf(buf + used, len - used, "%s%s",
					 n ? ", " : "",
					 name_of(c, (uint32_t)parent));
		n++;
	}
	tree_free(t);
	return n;
}
