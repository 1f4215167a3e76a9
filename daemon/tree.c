// SPDX-License-Identifier: MIT
/*
 * daemon/tree.c - the forwarding trees and rendezvous ownership.
 *
 * Layout. All R trees share one base permutation of the nodes (base[] maps a
 * base index to a node, idx[] a node to its base index). Tree tr starts at
 * base index off[tr] = floor(tr * N / R): its position p is base index
 * (p + off[tr]) mod N, so its root (p = 0) is base[off[tr]], and positions
 * and nodes convert both ways with two array reads and no division.
 *
 * Why interiors differ. In a k-ary heap of N nodes the interior positions
 * are exactly 0 .. I-1 with I = (N - 2) / k + 1 (position p has a child iff
 * k*p + 1 < N). Tree tr's interior nodes are therefore the I base indices
 * from off[tr] on, cyclically. Consecutive offsets are at least floor(N / R)
 * apart, and so is the wrap from off[R-1] back to N + off[0]; when R * I <= N,
 * I <= floor(N / R) and the R runs of I base indices cannot meet: no node
 * forwards in two trees. When R * I > N some node must forward in at least
 * ceil(R * I / N) trees (R * I interior slots, N nodes), and none forwards
 * in more: the trees in which base index x is interior are those with
 * x - I < off[tr] <= x (cyclically), i.e. tr in an interval of real length
 * I * R / N, which holds at most ceil(R * I / N) integers. A chain (k = 1)
 * has I = N - 1 and so overlaps as soon as R > 1.
 *
 * floor(tr * N / R) rather than tr * floor(N / R): the same disjointness
 * bound, the overlap bound above (which the latter misses when R does not
 * divide N), and gaps between roots that differ by at most one node.
 *
 * Base permutation. Without explicit roots it is the identity, and root tr
 * is node off[tr]. With explicit roots, root tr is placed at base index
 * off[tr] and the other nodes fill the free base indices in node-list order.
 *
 * Ownership. tree_hash() is XXH64, written out here so that the value never
 * depends on a library version or the host's byte order. An object's hash h
 * is mixed with a per-root key derived from the root's node index (not from
 * the tree number), and the tree with the highest weight owns the object; a
 * tie goes to the lower root node index, so the answer does not depend on the
 * order of the roots. The seeds and constants below are part of the
 * protocol: every node of a job must compute the same owners.
 */
#include "tree.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TREE_NONE UINT32_MAX

/* Depths 0..31: enough for k = 2 and N = 2^32 - 1. */
#define TREE_LEVELS_MAX 32

/* Seeds of tree_hash() for the two placements, and the salt of root keys. */
#define TREE_SEED_FILE 0x63616e6f70792d66ULL  /* "canopy-f" */
#define TREE_SEED_BLOCK 0x63616e6f70792d62ULL /* "canopy-b" */
#define TREE_SALT_ROOT 0x9e3779b97f4a7c15ULL
#define TREE_SALT_BLOCK 0xd1b54a32d192ed03ULL

struct tree {
	uint32_t n;
	uint32_t k;
	uint32_t r;
	uint32_t interior; /* I: positions 0 .. I-1 have children */
	uint32_t height;
	/* k >= 2: level[d] is the first position at depth d, d < nlevels */
	uint32_t nlevels;
	uint64_t level[TREE_LEVELS_MAX];
	/* [r]: per tree, its root's base index, node index, rendezvous key */
	uint32_t *off;
	uint32_t *root;
	uint64_t *rkey;
	/* [n]: the base permutation, base index -> node and node -> index */
	uint32_t *base;
	uint32_t *idx;
};

/* splitmix64's finalizer: a bijection of 64-bit values with full avalanche. */
static uint64_t tree_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int tree_place_roots(struct tree *t, const uint32_t *roots)
{
	uint32_t tr, v, b;

	if (!roots) {
		for (v = 0; v < t->n; v++) {
			t->base[v] = v;
			t->idx[v] = v;
		}
		for (tr = 0; tr < t->r; tr++)
			t->root[tr] = t->off[tr];
		return 0;
	}
	memset(t->base, 0xff, (size_t)t->n * sizeof(*t->base));
	memset(t->idx, 0xff, (size_t)t->n * sizeof(*t->idx));
	for (tr = 0; tr < t->r; tr++) {
		v = roots[tr];
		if (v >= t->n || t->idx[v] != TREE_NONE)
			return -EINVAL;
		t->idx[v] = t->off[tr];
		t->base[t->off[tr]] = v;
		t->root[tr] = v;
	}
	b = 0;
	for (v = 0; v < t->n; v++) {
		if (t->idx[v] != TREE_NONE)
			continue;
		while (t->base[b] != TREE_NONE)
			b++;
		t->base[b] = v;
		t->idx[v] = b++;
	}
	return 0;
}

/* Interior count, level starts and height: the shape common to all trees. */
static void tree_shape(struct tree *t)
{
	uint64_t first = 0;

	t->interior = t->n >= 2 ? (t->n - 2) / t->k + 1 : 0;
	if (t->k == 1) {
		t->height = t->n - 1;
		return;
	}
	t->nlevels = 0;
	while (first < t->n) {
		assert(t->nlevels < TREE_LEVELS_MAX);
		t->level[t->nlevels++] = first;
		first = first * t->k + 1;
	}
	t->height = t->nlevels - 1;
}

int tree_new(uint32_t n, uint32_t k, const uint32_t *roots, uint32_t nroots,
	     struct tree **out)
{
	struct tree *t;
	uint32_t tr;
	int ret;

	if (n == 0 || k == 0 || nroots == 0 || nroots > n)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->n = n;
	t->k = k;
	t->r = nroots;
	t->off = calloc(nroots, sizeof(*t->off));
	t->root = calloc(nroots, sizeof(*t->root));
	t->rkey = calloc(nroots, sizeof(*t->rkey));
	t->base = calloc(n, sizeof(*t->base));
	t->idx = calloc(n, sizeof(*t->idx));
	ret = -ENOMEM;
	if (!t->off || !t->root || !t->rkey || !t->base || !t->idx)
		goto err_free_tree;

	for (tr = 0; tr < nroots; tr++)
		t->off[tr] = (uint32_t)((uint64_t)tr * n / nroots);
	ret = tree_place_roots(t, roots);
	if (ret)
		goto err_free_tree;
	for (tr = 0; tr < nroots; tr++)
		t->rkey[tr] = tree_mix(t->root[tr] ^ TREE_SALT_ROOT);
	tree_shape(t);
	*out = t;
	return 0;

err_free_tree:
	tree_free(t);
	return ret;
}

void tree_free(struct tree *t)
{
	if (!t)
		return;
	free(t->idx);
	free(t->base);
	free(t->rkey);
	free(t->root);
	free(t->off);
	free(t);
}

uint32_t tree_nodes(const struct tree *t)
{
	return t->n;
}

uint32_t tree_count(const struct tree *t)
{
	return t->r;
}

uint32_t tree_fanout(const struct tree *t)
{
	return t->k;
}

uint32_t tree_height(const struct tree *t)
{
	return t->height;
}

uint32_t tree_interior(const struct tree *t)
{
	return t->interior;
}

uint32_t tree_root(const struct tree *t, uint32_t tr)
{
	assert(tr < t->r);
	return t->root[tr];
}

uint32_t tree_pos(const struct tree *t, uint32_t tr, uint32_t node)
{
	uint32_t b, off;

	assert(tr < t->r && node < t->n);
	b = t->idx[node];
	off = t->off[tr];
	return b >= off ? b - off : b + (t->n - off);
}

uint32_t tree_node_at(const struct tree *t, uint32_t tr, uint32_t pos)
{
	uint64_t b;

	assert(tr < t->r && pos < t->n);
	b = (uint64_t)pos + t->off[tr];
	if (b >= t->n)
		b -= t->n;
	return t->base[b];
}

int64_t tree_parent(const struct tree *t, uint32_t tr, uint32_t node)
{
	uint32_t p = tree_pos(t, tr, node);

	if (p == 0)
		return -1;
	return tree_node_at(t, tr, (p - 1) / t->k);
}

uint32_t tree_children(const struct tree *t, uint32_t tr, uint32_t node,
		       uint32_t *out, uint32_t max)
{
	uint64_t first = (uint64_t)tree_pos(t, tr, node) * t->k + 1;
	uint32_t cnt, i;

	if (first >= t->n)
		return 0;
	cnt = t->n - first < t->k ? (uint32_t)(t->n - first) : t->k;
	for (i = 0; i < cnt && i < max; i++)
		out[i] = tree_node_at(t, tr, (uint32_t)(first + i));
	return cnt;
}

uint32_t tree_depth(const struct tree *t, uint32_t tr, uint32_t node)
{
	uint32_t p = tree_pos(t, tr, node), d;

	if (t->k == 1)
		return p;
	/*
	 * The last level whose first position is <= p. Scanning up from the
	 * bottom: a fraction (k - 1) / k of the nodes are on the last level,
	 * so this takes 1 + 1/k + ... steps on average.
	 */
	d = t->nlevels - 1;
	while (t->level[d] > p)
		d--;
	return d;
}

bool tree_is_interior(const struct tree *t, uint32_t tr, uint32_t node)
{
	return tree_pos(t, tr, node) < t->interior;
}

/* Highest weight mix(h ^ key of root) wins; ties to the lower root index. */
static uint32_t tree_rendezvous(const struct tree *t, uint64_t h)
{
	uint64_t w, best_w = 0;
	uint32_t tr, best = 0;

	for (tr = 0; tr < t->r; tr++) {
		w = tree_mix(h ^ t->rkey[tr]);
		if (tr == 0 || w > best_w ||
		    (w == best_w && t->root[tr] < t->root[best])) {
			best_w = w;
			best = tr;
		}
	}
	return best;
}

uint32_t tree_owner_file(const struct tree *t, const char *path, size_t len)
{
	return tree_rendezvous(t, tree_hash(path, len, TREE_SEED_FILE));
}

uint32_t tree_owner_block(const struct tree *t, const char *path, size_t len,
			  uint64_t block)
{
	uint64_t h = tree_hash(path, len, TREE_SEED_BLOCK);

	return tree_rendezvous(t,
			       tree_mix(h ^ tree_mix(block ^ TREE_SALT_BLOCK)));
}

/* XXH64, after the reference description of xxHash (BSD-2-Clause). */
#define XXH_P1 0x9e3779b185ebca87ULL
#define XXH_P2 0xc2b2ae3d27d4eb4fULL
#define XXH_P3 0x165667b19e3779f9ULL
#define XXH_P4 0x85ebca77c2b2ae63ULL
#define XXH_P5 0x27d4eb2f165667c5ULL

static inline uint64_t xxh_rotl(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t xxh_read64(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
	       (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	       (uint64_t)p[7] << 56;
}

static inline uint32_t xxh_read32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t xxh_round(uint64_t acc, uint64_t in)
{
	acc += in * XXH_P2;
	acc = xxh_rotl(acc, 31);
	return acc * XXH_P1;
}

static inline uint64_t xxh_merge(uint64_t acc, uint64_t v)
{
	acc ^= xxh_round(0, v);
	return acc * XXH_P1 + XXH_P4;
}

uint64_t tree_hash(const void *buf, size_t len, uint64_t seed)
{
	const unsigned char *p = buf;
	const unsigned char *end = len ? p + len : p;
	uint64_t h, v1, v2, v3, v4;

	if (len >= 32) {
		v1 = seed + XXH_P1 + XXH_P2;
		v2 = seed + XXH_P2;
		v3 = seed;
		v4 = seed - XXH_P1;
		do {
			v1 = xxh_round(v1, xxh_read64(p));
			v2 = xxh_round(v2, xxh_read64(p + 8));
			v3 = xxh_round(v3, xxh_read64(p + 16));
			v4 = xxh_round(v4, xxh_read64(p + 24));
			p += 32;
		} while (end - p >= 32);
		h = xxh_rotl(v1, 1) + xxh_rotl(v2, 7) + xxh_rotl(v3, 12) +
		    xxh_rotl(v4, 18);
		h = xxh_merge(h, v1);
		h = xxh_merge(h, v2);
		h = xxh_merge(h, v3);
		h = xxh_merge(h, v4);
	} else {
		h = seed + XXH_P5;
	}
	h += len;
	while (end - p >= 8) {
		h ^= xxh_round(0, xxh_read64(p));
		h = xxh_rotl(h, 27) * XXH_P1 + XXH_P4;
		p += 8;
	}
	if (end - p >= 4) {
		h ^= (uint64_t)xxh_read32(p) * XXH_P1;
		h = xxh_rotl(h, 23) * XXH_P2 + XXH_P3;
		p += 4;
	}
	while (p < end) {
		h ^= *p++ * XXH_P5;
		h = xxh_rotl(h, 11) * XXH_P1;
	}
	h ^= h >> 33;
	h *= XXH_P2;
	h ^= h >> 29;
	h *= XXH_P3;
	h ^= h >> 32;
	return h;
}
