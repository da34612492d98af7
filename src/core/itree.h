/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Interval tree of disjoint closed ranges [start, last] over the 64-bit IOVA space.
 *
 * An AVL tree keyed by start. Each node also caches the size of the free gap between its
 * in-order predecessor and itself ("gap") and the largest such gap in its subtree ("max_gap"),
 * so that first-fit free-space search prunes every subtree that cannot hold the request and
 * runs in O(log n) on the trees the allocator builds. Nodes are embedded in the caller's
 * objects (container_of), so a mapping costs no extra allocation. The tree never allocates.
 *
 * Gap convention: the gap of a node other than the first is [prev->last + 1, node->start - 1];
 * the first node's gap is 0. The head [0, first->start - 1] and the tail [last->last + 1,
 * UINT64_MAX] belong to no node and are tried by itree_find_free() itself, so that unmapping
 * from the low end or a head hole no allocation may use costs nothing. Gap sizes are "number
 * of addresses" (a full 2^64 gap cannot occur between two nodes).
 */
#ifndef IOASFS_ITREE_H
#define IOASFS_ITREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct itree_node {
	struct itree_node *left, *right, *parent;
	uint64_t start, last;
	uint64_t gap, max_gap;
	int height;
};

struct itree {
	struct itree_node *root;
	size_t count;
	/*
	 * The node last found or inserted. Lookups and inserts near it (the common pattern: a
	 * driver maps and unmaps runs of neighbours) start there instead of at the root, as
	 * the kernel's IOVA allocator keeps a cached node. Lookups update it, so callers must
	 * serialize even read-only lookups on one tree (ioasfs holds the IOAS lock).
	 */
	struct itree_node *finger;
	/* the lowest and highest nodes: the finger's usual neighbours at the ends */
	struct itree_node *min, *max;
	bool plain; /* no gaps kept: itree_find_free is not available */
};

#define itree_entry(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

void itree_init(struct itree *t);
/*
 * A tree that keeps no gaps, for callers that never search for free space (the core's
 * record of mappings): insert and remove then skip the gap upkeep, which with runs of
 * neighbours is most of their cost. itree_find_free on it returns -EINVAL.
 */
void itree_init_plain(struct itree *t);

/*
 * Insert n (n->start <= n->last set by the caller). Returns 0, or -EEXIST if n intersects a
 * node already in the tree (the tree is then unchanged), or -EINVAL if start > last.
 */
int itree_insert(struct itree *t, struct itree_node *n);

/* Remove n, which must be in t. */
void itree_remove(struct itree *t, struct itree_node *n);

/* Lowest node intersecting [start, last], or NULL. */
struct itree_node *itree_first_overlap(const struct itree *t, uint64_t start, uint64_t last);

/* Node containing addr, or NULL. */
struct itree_node *itree_find(const struct itree *t, uint64_t addr);

struct itree_node *itree_first(const struct itree *t);
struct itree_node *itree_last(const struct itree *t);
struct itree_node *itree_next(const struct itree_node *n);
struct itree_node *itree_prev(const struct itree_node *n);

/*
 * First-fit search for a free range of `length` addresses (length >= 1) inside [lo, hi].
 * A candidate start is computed from a free hole [hs, he] (clipped to [lo, hi]) as
 *     c = ALIGN_UP(hs, align) | offset
 * (align a power of two >= 1, offset < align or any value the caller wants OR-ed in, exactly
 * as the kernel's iopt_alloc_iova does with the page offset), and is accepted if c >= hs and
 * c + length - 1 <= he without overflow. Holes are tried in ascending address order, so the
 * result is the lowest accepted candidate over all holes. Returns 0 and *ret, -ENOSPC, or
 * -EINVAL (length 0, align not a power of two, lo > hi). Subtrees whose largest gap is below
 * length are pruned; holes that are long enough but rejected by alignment are each visited
 * (as the kernel's allocator does), so the search is O(log n) unless many such holes exist.
 */
int itree_find_free(const struct itree *t, uint64_t lo, uint64_t hi, uint64_t length,
		    uint64_t align, uint64_t offset, uint64_t *ret);

/* Checks every structural invariant (order, disjointness, heights, balance, gaps, parent
 * links, count). Returns 0 or -EFAULT; for tests. */
int itree_check(const struct itree *t);

#endif
