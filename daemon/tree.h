/* SPDX-License-Identifier: MIT */
/*
 * daemon/tree.h - the forwarding trees and the owner of an object.
 *
 * A topology of N nodes (indices 0..N-1, the order of the topology's node
 * list) has R roots and fan-out k. Each root heads one k-ary tree over all N
 * nodes, in heap numbering: position 0 is the root, the parent of position p
 * is (p - 1) / k, its children are k*p + 1 .. k*p + k (those below N). The
 * trees differ in which node sits at which position, so that their interior
 * (forwarding) nodes differ: no node forwards in two trees whenever
 * R * I <= N, I being the number of interior positions of one tree.
 *
 * An object (a file's path, or a (path, block) pair) belongs to one tree by
 * rendezvous hashing over the roots' node indices, so every node computes
 * the same owner and removing one root moves only that root's objects.
 *
 * This module is plain libc: the daemon, `canopyd --check` and the
 * benchmarks link it. A struct tree is immutable once built: any number of
 * threads may read it without a lock. Node, tree and position arguments out
 * of range are programmer errors (assert()).
 */
#ifndef CANOPY_TREE_H
#define CANOPY_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tree; /* opaque, immutable after tree_new(): safe to share */

/*
 * Build R = @nroots trees over @n nodes with fan-out @k >= 1. @roots holds R
 * distinct node indices below @n, the root of each tree in order; or NULL to
 * spread R roots evenly over the node list (root tr is node tr * n / R).
 * 1 <= R <= n. Returns 0, -EINVAL for bad arguments or -ENOMEM.
 * On success *out belongs to the caller; release with tree_free().
 */
int tree_new(uint32_t n, uint32_t k, const uint32_t *roots, uint32_t nroots,
	     struct tree **out);
void tree_free(struct tree *t); /* NULL is a no-op */

uint32_t tree_nodes(const struct tree *t);  /* N */
uint32_t tree_count(const struct tree *t);  /* R */
uint32_t tree_fanout(const struct tree *t); /* k */

/* Node index of the root of tree @tr. */
uint32_t tree_root(const struct tree *t, uint32_t tr);

/* @node's position in tree @tr (its root is at 0), and back: both O(1). */
uint32_t tree_pos(const struct tree *t, uint32_t tr, uint32_t node);
uint32_t tree_node_at(const struct tree *t, uint32_t tr, uint32_t pos);

/* Parent of @node in tree @tr: a node index, or -1 for the root. O(1). */
int64_t tree_parent(const struct tree *t, uint32_t tr, uint32_t node);

/*
 * Children of @node in tree @tr, in position order, into out[0..max).
 * Returns how many it has, which may exceed @max (then only @max are
 * written; @out may be NULL when @max is 0). O(k).
 */
uint32_t tree_children(const struct tree *t, uint32_t tr, uint32_t node,
		       uint32_t *out, uint32_t max);

/* Hops from @node up to the root of tree @tr (the root: 0). */
uint32_t tree_depth(const struct tree *t, uint32_t tr, uint32_t node);

/* Greatest depth of any node; the same in every tree. */
uint32_t tree_height(const struct tree *t);

/* Whether @node has children (forwards requests) in tree @tr. */
bool tree_is_interior(const struct tree *t, uint32_t tr, uint32_t node);

/*
 * Interior positions of one tree: positions 0 .. I-1 have children, the
 * rest are leaves. 0 for a single node.
 */
uint32_t tree_interior(const struct tree *t);

/*
 * Rendezvous (highest random weight) hashing: the tree (0..R-1) that owns an
 * object. tree_owner_file(): by the @len bytes of @path (placement "file";
 * also directory metadata, by the directory's path). tree_owner_block(): by
 * (@path, @block) (placement "block"). The weights are hashes of the object
 * and of each root's node index, so the answer is the same in every process
 * on every machine, spread fairly over the trees, and when a root is taken
 * out of the list only the objects it owned move.
 */
uint32_t tree_owner_file(const struct tree *t, const char *path, size_t len);
uint32_t tree_owner_block(const struct tree *t, const char *path, size_t len,
			  uint64_t block);

/*
 * XXH64 of the @len bytes at @buf with @seed: the same value on any machine
 * (bytes are read little-endian whatever the host's order).
 */
uint64_t tree_hash(const void *buf, size_t len, uint64_t seed);

#endif /* CANOPY_TREE_H */
