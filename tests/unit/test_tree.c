// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_tree.c - the forwarding trees and rendezvous ownership.
 *
 * The structural tests walk every topology of 1..SMALL_N nodes with 1..8
 * roots and the fan-outs below, then a fixed-seed sample up to 100,000 nodes.
 * Each check is written against the definition (parents reached by walking,
 * children listed by the module, depths counted), not against the module's
 * own position arithmetic.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tree.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/*
 * A sanitizer makes every array access several times dearer (the full sweep
 * takes ~30 s under ASan): a smaller one, through the same code paths.
 */
#define SMALL_N 1000
#define SAMPLES 40
#else
#define SMALL_N 2000
#define SAMPLES 200
#endif
#define LARGE_N 100000
#define MAX_ROOTS 8
#define MAX_FANOUT 64

/* splitmix64: a fixed-seed generator so a failure reproduces. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t rng_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(rng_next(s) % n);
}

/* ceil(log_k(n)) in integers: the least h with k^h >= n; a chain: n - 1. */
static uint32_t depth_bound(uint32_t n, uint32_t k)
{
	uint64_t span = 1;
	uint32_t h = 0;

	if (k == 1)
		return n - 1;
	while (span < n) {
		span *= k;
		h++;
	}
	return h;
}

/* Scratch arrays of one topology, sized for the largest n checked. */
struct scratch {
	uint32_t *depth;    /* walked depth, or UINT32_MAX not yet known */
	uint32_t *stack;    /* nodes of the current walk */
	uint32_t *seen;	    /* times a node was met, per tree */
	uint32_t *lister;   /* the node that listed it as a child */
	uint32_t *forwards; /* trees in which a node is interior */
};

static void scratch_init(struct scratch *s, uint32_t n)
{
	s->depth = calloc(n, sizeof(uint32_t));
	s->stack = calloc(n + 1, sizeof(uint32_t));
	s->seen = calloc(n, sizeof(uint32_t));
	s->lister = calloc(n, sizeof(uint32_t));
	s->forwards = calloc(n, sizeof(uint32_t));
	cr_assert(s->depth && s->stack && s->seen && s->lister && s->forwards);
}

static void scratch_fini(struct scratch *s)
{
	free(s->depth);
	free(s->stack);
	free(s->seen);
	free(s->lister);
	free(s->forwards);
}

/* R distinct roots below n, drawn from *rng. */
static void pick_roots(uint64_t *rng, uint32_t n, uint32_t r, uint32_t *roots)
{
	uint32_t i, j;

	for (i = 0; i < r; i++) {
	again:
		roots[i] = rng_below(rng, n);
		for (j = 0; j < i; j++)
			if (roots[j] == roots[i])
				goto again;
	}
}

#define CHECK(cond, fmt, ...)                                                  \
	do {                                                                   \
		if (!(cond))                                                   \
			cr_assert_fail("n=%u k=%u R=%u: " fmt, n, k, r,        \
				       ##__VA_ARGS__);                         \
	} while (0)

/*
 * Positions of tree tr are a permutation with the root first; every node but
 * the root is listed as a child by exactly one node, its parent; walking
 * parents from any node reaches the root within height steps; depths agree.
 * Returns the greatest depth walked.
 */
static uint32_t check_one_tree(const struct tree *t, uint32_t tr,
			       const uint32_t *roots, struct scratch *s)
{
	uint32_t n = tree_nodes(t), k = tree_fanout(t), r = tree_count(t);
	uint32_t height = tree_height(t), root = tree_root(t, tr);
	uint32_t kids[MAX_FANOUT + 1], v, w, c, i, pos, top, d, deepest = 0;
	uint64_t edges = 0, interior = 0;
	int64_t up;

	CHECK(root < n, "tree %u root %u", tr, root);
	if (roots)
		CHECK(root == roots[tr], "tree %u root %u, asked %u", tr, root,
		      roots[tr]);
	CHECK(tree_pos(t, tr, root) == 0, "tree %u root not at 0", tr);
	CHECK(tree_parent(t, tr, root) == -1, "tree %u root has a parent", tr);

	memset(s->seen, 0, n * sizeof(uint32_t));
	for (pos = 0; pos < n; pos++) {
		v = tree_node_at(t, tr, pos);
		CHECK(v < n && !s->seen[v], "tree %u pos %u -> %u twice", tr,
		      pos, v);
		s->seen[v] = 1;
		CHECK(tree_pos(t, tr, v) == pos, "tree %u node %u pos", tr, v);
	}

	memset(s->seen, 0, n * sizeof(uint32_t));
	for (v = 0; v < n; v++) {
		kids[k < MAX_FANOUT ? k : MAX_FANOUT] = UINT32_MAX;
		c = tree_children(t, tr, v, kids, k);
		CHECK(c <= k, "tree %u node %u has %u children", tr, v, c);
		CHECK(kids[k < MAX_FANOUT ? k : MAX_FANOUT] == UINT32_MAX,
		      "tree %u node %u: children written past max", tr, v);
		CHECK(tree_is_interior(t, tr, v) == (c > 0),
		      "tree %u node %u interior but %u children", tr, v, c);
		for (i = 0; i < c; i++) {
			w = kids[i];
			CHECK(w < n && w != root, "tree %u child %u", tr, w);
			s->seen[w]++;
			s->lister[w] = v;
		}
		edges += c;
		if (c) {
			interior++;
			s->forwards[v]++;
		}
	}
	CHECK(edges == n - 1, "tree %u has %llu edges", tr,
	      (unsigned long long)edges);
	CHECK(interior == tree_interior(t), "tree %u has %llu interior", tr,
	      (unsigned long long)interior);
	for (v = 0; v < n; v++)
		CHECK(s->seen[v] == (v != root), "tree %u node %u listed %u",
		      tr, v, s->seen[v]);

	/* walk up from every node, remembering depths already known */
	memset(s->depth, 0xff, n * sizeof(uint32_t));
	s->depth[root] = 0;
	for (v = 0; v < n; v++) {
		top = 0;
		w = v;
		while (s->depth[w] == UINT32_MAX) {
			CHECK(top < height, "tree %u: %u not rooted", tr, v);
			s->stack[top++] = w;
			up = tree_parent(t, tr, w);
			CHECK(up == s->lister[w],
			      "tree %u node %u: parent %lld, listed by %u", tr,
			      w, (long long)up, s->lister[w]);
			w = (uint32_t)up;
		}
		d = s->depth[w];
		while (top) {
			w = s->stack[--top];
			s->depth[w] = ++d;
		}
		d = s->depth[v];
		CHECK(d <= height, "tree %u node %u depth %u", tr, v, d);
		CHECK(tree_depth(t, tr, v) == d, "tree %u node %u depth %u/%u",
		      tr, v, tree_depth(t, tr, v), d);
		if (d > deepest)
			deepest = d;
	}
	return deepest;
}

/* All R trees of one topology, and how often a node forwards. */
static void check_topology(uint32_t n, uint32_t k, uint32_t r,
			   const uint32_t *roots, struct scratch *s)
{
	struct tree *t = NULL;
	uint32_t tr, v, interior, most;

	CHECK(tree_new(n, k, roots, r, &t) == 0, "tree_new failed");
	CHECK(tree_nodes(t) == n && tree_fanout(t) == k && tree_count(t) == r,
	      "accessors");
	CHECK(tree_height(t) <= depth_bound(n, k), "height %u > bound %u",
	      tree_height(t), depth_bound(n, k));
	memset(s->forwards, 0, n * sizeof(uint32_t));
	for (tr = 0; tr < r; tr++)
		CHECK(check_one_tree(t, tr, roots, s) == tree_height(t),
		      "tree %u is not %u deep", tr, tree_height(t));

	interior = tree_interior(t);
	most = 0;
	for (v = 0; v < n; v++)
		if (s->forwards[v] > most)
			most = s->forwards[v];
	if ((uint64_t)r * interior <= n)
		CHECK(most <= 1, "a node forwards in %u trees (I=%u)", most,
		      interior);
	else
		/* overlap is forced: no more than the pigeonhole minimum */
		CHECK(most <= ((uint64_t)r * interior + n - 1) / n,
		      "a node forwards in %u trees (I=%u)", most, interior);
	tree_free(t);
}

static void sweep_small(uint32_t k)
{
	struct scratch s;
	uint32_t roots[MAX_ROOTS], n, r;
	uint64_t rng = 0x7472656500000000ULL + k;

	scratch_init(&s, SMALL_N);
	for (n = 1; n <= SMALL_N; n++) {
		for (r = 1; r <= MAX_ROOTS && r <= n; r++) {
			/* half default roots, half explicit ones */
			if ((n + r) % 2) {
				check_topology(n, k, r, NULL, &s);
				continue;
			}
			pick_roots(&rng, n, r, roots);
			check_topology(n, k, r, roots, &s);
		}
	}
	scratch_fini(&s);
}

Test(tree, forms_r_spanning_trees_over_every_small_chain)
{
	sweep_small(1);
}

Test(tree, forms_r_spanning_trees_over_every_small_binary_topology)
{
	sweep_small(2);
}

Test(tree, forms_r_spanning_trees_over_every_small_ternary_topology)
{
	sweep_small(3);
}

Test(tree, forms_r_spanning_trees_over_every_small_4_ary_topology)
{
	sweep_small(4);
}

Test(tree, forms_r_spanning_trees_over_every_small_8_ary_topology)
{
	sweep_small(8);
}

Test(tree, forms_r_spanning_trees_over_every_small_16_ary_topology)
{
	sweep_small(16);
}

Test(tree, forms_r_spanning_trees_over_every_small_64_ary_topology)
{
	sweep_small(64);
}

Test(tree, forms_r_spanning_trees_over_sampled_topologies_up_to_100000)
{
	struct scratch s;
	uint32_t roots[MAX_ROOTS], i, n, k, r;
	uint64_t rng = 0x5eed;

	scratch_init(&s, LARGE_N);
	for (i = 0; i < SAMPLES; i++) {
		n = 1 + rng_below(&rng, LARGE_N);
		k = 1 + rng_below(&rng, MAX_FANOUT);
		r = 1 + rng_below(&rng, MAX_ROOTS);
		if (r > n)
			r = n;
		if (i % 2) {
			check_topology(n, k, r, NULL, &s);
		} else {
			pick_roots(&rng, n, r, roots);
			check_topology(n, k, r, roots, &s);
		}
	}
	/* the extremes: largest n, binary and widest fan-out, all roots */
	check_topology(LARGE_N, 2, MAX_ROOTS, NULL, &s);
	check_topology(LARGE_N, MAX_FANOUT, MAX_ROOTS, NULL, &s);
	scratch_fini(&s);
}

Test(tree, rejects_bad_arguments_with_einval)
{
	struct tree *t = (struct tree *)&t;
	uint32_t dup[] = {3, 1, 3}, far[] = {0, 10}, ok[] = {9, 0};

	cr_expect_eq(tree_new(0, 2, NULL, 1, &t), -EINVAL);
	cr_expect_eq(tree_new(10, 0, NULL, 1, &t), -EINVAL);
	cr_expect_eq(tree_new(10, 2, NULL, 0, &t), -EINVAL);
	cr_expect_eq(tree_new(3, 2, NULL, 4, &t), -EINVAL);
	cr_expect_eq(tree_new(10, 2, dup, 3, &t), -EINVAL);
	cr_expect_eq(tree_new(10, 2, far, 2, &t), -EINVAL);
	cr_expect_eq(tree_new(2, 2, ok, 2, &t), -EINVAL); /* 9 >= n */
	cr_assert_eq(t, (struct tree *)&t, "*out written on failure");

	cr_assert_eq(tree_new(10, 2, ok, 2, &t), 0);
	tree_free(t);
	tree_free(NULL);
}

Test(tree, numbers_a_single_tree_as_a_heap)
{
	uint32_t kids[4] = {0}, i;
	struct tree *t;

	cr_assert_eq(tree_new(7, 2, NULL, 1, &t), 0);
	cr_expect_eq(tree_root(t, 0), 0);
	for (i = 0; i < 7; i++)
		cr_expect_eq(tree_node_at(t, 0, i), i);
	cr_expect_eq(tree_parent(t, 0, 0), -1);
	cr_expect_eq(tree_parent(t, 0, 1), 0);
	cr_expect_eq(tree_parent(t, 0, 2), 0);
	cr_expect_eq(tree_parent(t, 0, 5), 2);
	cr_expect_eq(tree_parent(t, 0, 6), 2);
	cr_expect_eq(tree_children(t, 0, 2, kids, 4), 2);
	cr_expect_eq(kids[0], 5);
	cr_expect_eq(kids[1], 6);
	cr_expect_eq(tree_children(t, 0, 3, kids, 4), 0);
	cr_expect_eq(tree_depth(t, 0, 0), 0);
	cr_expect_eq(tree_depth(t, 0, 2), 1);
	cr_expect_eq(tree_depth(t, 0, 3), 2);
	cr_expect_eq(tree_height(t), 2);
	cr_expect_eq(tree_interior(t), 3);
	cr_expect(tree_is_interior(t, 0, 2));
	cr_expect_not(tree_is_interior(t, 0, 3));
	tree_free(t);
}

Test(tree, puts_explicit_roots_at_position_zero)
{
	uint32_t roots[] = {5, 0, 9}, tr;
	struct tree *t;

	cr_assert_eq(tree_new(10, 3, roots, 3, &t), 0);
	for (tr = 0; tr < 3; tr++) {
		cr_expect_eq(tree_root(t, tr), roots[tr]);
		cr_expect_eq(tree_node_at(t, tr, 0), roots[tr]);
		cr_expect_eq(tree_pos(t, tr, roots[tr]), 0);
		cr_expect_eq(tree_parent(t, tr, roots[tr]), -1);
		cr_expect_eq(tree_depth(t, tr, roots[tr]), 0);
	}
	/* each root is a leaf of the other trees: 10 >= 3 * I = 3 * 3 */
	cr_expect_not(tree_is_interior(t, 0, 0));
	cr_expect_not(tree_is_interior(t, 1, 9));
	cr_expect_not(tree_is_interior(t, 2, 5));
	tree_free(t);
}

Test(tree, spreads_default_roots_evenly_over_the_node_list)
{
	struct tree *t;
	uint32_t tr;

	cr_assert_eq(tree_new(10, 2, NULL, 3, &t), 0);
	cr_expect_eq(tree_root(t, 0), 0);
	cr_expect_eq(tree_root(t, 1), 3);
	cr_expect_eq(tree_root(t, 2), 6);
	tree_free(t);
	cr_assert_eq(tree_new(100000, 16, NULL, 8, &t), 0);
	for (tr = 0; tr < 8; tr++)
		cr_expect_eq(tree_root(t, tr), tr * 12500);
	tree_free(t);
	cr_assert_eq(tree_new(5, 1, NULL, 5, &t), 0);
	for (tr = 0; tr < 5; tr++)
		cr_expect_eq(tree_root(t, tr), tr);
	tree_free(t);
}

Test(tree, counts_every_child_when_the_buffer_is_short)
{
	uint32_t kids[4] = {0, 0, 0, 77};
	struct tree *t;

	cr_assert_eq(tree_new(100, 8, NULL, 1, &t), 0);
	cr_expect_eq(tree_children(t, 0, 0, kids, 3), 8);
	cr_expect_eq(kids[0], 1);
	cr_expect_eq(kids[2], 3);
	cr_expect_eq(kids[3], 77, "wrote past max");
	cr_expect_eq(tree_children(t, 0, 12, NULL, 0), 3); /* 97..99 */
	tree_free(t);
}

Test(tree, handles_a_single_node)
{
	struct tree *t;

	cr_assert_eq(tree_new(1, 4, NULL, 1, &t), 0);
	cr_expect_eq(tree_parent(t, 0, 0), -1);
	cr_expect_eq(tree_children(t, 0, 0, NULL, 0), 0);
	cr_expect_eq(tree_height(t), 0);
	cr_expect_eq(tree_interior(t), 0);
	cr_expect_eq(tree_owner_file(t, "/x", 2), 0);
	tree_free(t);
}

/* Reference XXH64 values (xxHash 0.8.1, libxxhash). */
Test(tree, hashes_bytes_as_xxh64)
{
	unsigned char seq[100];
	const char *p = "/scratch/job1/input.dat";
	int i;

	for (i = 0; i < 100; i++)
		seq[i] = (unsigned char)i;
	cr_expect_eq(tree_hash("", 0, 0), 0xef46db3751d8e999ULL);
	cr_expect_eq(tree_hash(NULL, 0, 0), 0xef46db3751d8e999ULL);
	cr_expect_eq(tree_hash("abc", 3, 0), 0x44bc2cf5ad770999ULL);
	cr_expect_eq(tree_hash("a", 1, 1), 0xdec2bc81c3cd46c6ULL);
	cr_expect_eq(tree_hash(p, strlen(p), 0), 0x2b94af671e98c67cULL);
	cr_expect_eq(tree_hash(seq, 100, 0x9e3779b97f4a7c15ULL),
		     0x3b97d91eba03e785ULL);
}

Test(tree, hashes_unaligned_bytes_like_aligned_ones)
{
	uint64_t words[9];
	unsigned char *b = (unsigned char *)words;
	unsigned char copy[64];
	int i;

	for (i = 0; i < 72; i++)
		b[i] = (unsigned char)(i * 37 + 1);
	for (i = 1; i < 8; i++) {
		memcpy(copy, b + i, 64);
		cr_expect_eq(tree_hash(b + i, 64, 7), tree_hash(copy, 64, 7));
	}
}

#define NPATHS 100000

/* The i-th of NPATHS paths, shaped like a job's output tree. */
static size_t test_path(char *buf, size_t size, uint32_t i)
{
	return (size_t)snprintf(buf, size, "/lustre/proj%u/run%u/rank%u.h5",
				i % 13, i / 1000, i);
}

/* Every tree gets its share of @total within 3% (about 4 sigma at R = 8). */
static void expect_fair(const uint32_t *count, uint32_t r, uint32_t total)
{
	uint32_t tr, fair = total / r, slack = fair * 3 / 100;

	for (tr = 0; tr < r; tr++)
		cr_expect(count[tr] + slack >= fair &&
			      count[tr] <= fair + slack,
			  "R=%u: tree %u owns %u, fair is %u", r, tr, count[tr],
			  fair);
}

Test(tree, spreads_files_within_three_percent_of_fair)
{
	uint32_t count[MAX_ROOTS], r, i;
	struct tree *t;
	char path[64];
	size_t len;

	for (r = 2; r <= MAX_ROOTS; r++) {
		cr_assert_eq(tree_new(1000, 8, NULL, r, &t), 0);
		memset(count, 0, sizeof(count));
		for (i = 0; i < NPATHS; i++) {
			len = test_path(path, sizeof(path), i);
			count[tree_owner_file(t, path, len)]++;
		}
		expect_fair(count, r, NPATHS);
		tree_free(t);
	}
}

Test(tree, spreads_the_blocks_of_one_file_over_trees)
{
	static const char path[] = "/lustre/proj1/checkpoint.h5";
	uint32_t count[MAX_ROOTS], r, o, prev, same;
	struct tree *t;
	uint64_t b;

	for (r = 2; r <= MAX_ROOTS; r++) {
		cr_assert_eq(tree_new(1000, 8, NULL, r, &t), 0);
		memset(count, 0, sizeof(count));
		same = 0;
		prev = UINT32_MAX;
		for (b = 0; b < NPATHS; b++) {
			o = tree_owner_block(t, path, sizeof(path) - 1, b);
			count[o]++;
			same += o == prev;
			prev = o;
		}
		expect_fair(count, r, NPATHS);
		/* neighbouring blocks are independent: same owner 1/R */
		cr_expect(same > NPATHS / r - NPATHS / 100 &&
			      same < NPATHS / r + NPATHS / 100,
			  "R=%u: %u neighbours share an owner", r, same);
		tree_free(t);
	}
}

/* The root node owning object i: file i (@block 0) or block i of one file. */
static uint32_t owner_root(const struct tree *t, uint32_t i, int block)
{
	char path[64];
	size_t len;

	if (block)
		return tree_root(t, tree_owner_block(t, "/lustre/big", 11, i));
	len = test_path(path, sizeof(path), i);
	return tree_root(t, tree_owner_file(t, path, len));
}

/*
 * With R explicit roots, drop each one in turn: objects of the other roots
 * keep their owner, those of the dropped root move to all the others.
 */
static void expect_stable(int block)
{
	uint32_t roots[MAX_ROOTS], fewer[MAX_ROOTS], got[MAX_ROOTS];
	uint32_t r, gone, tr, j, i, before, after, moved, owned;
	struct tree *all, *t;
	uint64_t rng = 0x57ab1e;

	for (r = 2; r <= MAX_ROOTS; r++) {
		pick_roots(&rng, 1000, r, roots);
		cr_assert_eq(tree_new(1000, 4, roots, r, &all), 0);
		for (gone = 0; gone < r; gone++) {
			for (tr = 0, j = 0; tr < r; tr++)
				if (tr != gone)
					fewer[j++] = roots[tr];
			cr_assert_eq(tree_new(1000, 4, fewer, r - 1, &t), 0);
			memset(got, 0, sizeof(got));
			moved = owned = 0;
			for (i = 0; i < NPATHS / 5; i++) {
				before = owner_root(all, i, block);
				after = owner_root(t, i, block);
				cr_assert_neq(after, roots[gone]);
				moved += after != before;
				if (before != roots[gone]) {
					cr_assert_eq(after, before,
						     "R=%u drop %u: object %u "
						     "moved %u -> %u",
						     r, gone, i, before, after);
					continue;
				}
				owned++;
				for (tr = 0; tr < r - 1; tr++)
					got[tr] += after == fewer[tr];
			}
			cr_expect_gt(owned, NPATHS / 5 / r / 2);
			cr_expect_eq(moved, owned);
			for (tr = 0; tr < r - 1; tr++)
				cr_expect_gt(got[tr], 0,
					     "R=%u: root %u got none", r,
					     fewer[tr]);
			tree_free(t);
		}
		tree_free(all);
	}
}

Test(tree, moves_only_the_files_of_a_removed_tree)
{
	expect_stable(0);
}

Test(tree, moves_only_the_blocks_of_a_removed_tree)
{
	expect_stable(1);
}

Test(tree, gives_the_same_owner_whatever_the_order_of_the_roots)
{
	uint32_t a[] = {17, 3, 42, 8, 999}, b[] = {999, 42, 8, 17, 3}, i;
	struct tree *ta, *tb;

	cr_assert_eq(tree_new(1000, 2, a, 5, &ta), 0);
	cr_assert_eq(tree_new(1000, 16, b, 5, &tb), 0);
	for (i = 0; i < NPATHS / 10; i++) {
		cr_assert_eq(owner_root(ta, i, 0), owner_root(tb, i, 0));
		cr_assert_eq(owner_root(ta, i, 1), owner_root(tb, i, 1));
	}
	tree_free(ta);
	tree_free(tb);
}

/*
 * Every node of a job must compute the same owners, whatever its build: a
 * change of hash, seed or mixing fails here before it splits a cluster.
 */
Test(tree, owns_known_objects_by_the_same_tree_in_every_build)
{
	static const struct {
		const char *path;
		uint32_t file;
		uint32_t block[4]; /* blocks 0, 1, 2 and 2^40 */
	} known[] = {
	    {"/", 0, {0, 5, 7, 5}},
	    {"/lustre", 5, {3, 5, 1, 1}},
	    {"/lustre/proj1/run0/rank0.h5", 0, {2, 4, 4, 2}},
	    {"/home/alice/.bashrc", 2, {0, 3, 2, 7}},
	    {"/scratch/job1/input.dat", 4, {1, 3, 3, 7}},
	    {"/x", 2, {0, 6, 1, 4}},
	};
	static const uint64_t blocks[] = {0, 1, 2, 1ULL << 40};
	struct tree *t;
	size_t i, j, len;

	cr_assert_eq(tree_new(100, 4, NULL, 8, &t), 0);
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		len = strlen(known[i].path);
		cr_expect_eq(tree_owner_file(t, known[i].path, len),
			     known[i].file, "%s", known[i].path);
		for (j = 0; j < 4; j++)
			cr_expect_eq(
			    tree_owner_block(t, known[i].path, len, blocks[j]),
			    known[i].block[j], "%s block %llu", known[i].path,
			    (unsigned long long)blocks[j]);
	}
	tree_free(t);
}
