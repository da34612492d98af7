/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Interval tree of disjoint closed ranges [start, last] over the 64-bit IOVA space.
 *
 * A B+tree keyed by start: leaves hold up to 32 ranges each, in order, with copies of their
 * bounds (a search never touches the caller's objects), and are chained both ways; inner nodes
 * hold up to 32 children with a lower bound of each child's starts and the largest free gap
 * inside each child, so that first-fit free-space search skips every child that cannot hold
 * the request. With a million ranges the tree is four levels deep, each a few cache lines,
 * where a binary tree is twenty scattered nodes: per-operation cost hardly grows with the
 * number of mappings.
 *
 * The caller's object embeds a struct itree_node (container_of), whose start and last the
 * caller sets before insert and must not change while it is in the tree. The tree allocates
 * its own nodes: insert can fail with -ENOMEM (leaving the tree unchanged); remove never fails.
 *
 * Gap convention: the gap of a range other than the first is [prev->last + 1, start - 1]. The
 * head [0, first->start - 1] and the tail [last->last + 1, UINT64_MAX] belong to no range and
 * are tried by itree_find_free() itself, so that unmapping from the low end, or a head hole
 * no allocation may use, costs nothing.
 */
#ifndef IOASFS_ITREE_H
#define IOASFS_ITREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct itree_leaf;

struct itree_node {
	uint64_t start, last;
	struct itree_leaf *leaf; /* the tree's: where the range is */
};

struct itree {
	void *root; /* NULL when empty, a leaf when depth is 1, else an inner node */
	size_t count;
	int depth;
	struct itree_leaf *head, *tail; /* the first and last leaves */
	/*
	 * The leaf last found or changed. Lookups of neighbours (the common pattern: a driver
	 * maps and unmaps runs of neighbours) start there instead of at the root. Lookups update
	 * it, so callers must serialize even read-only lookups on one tree (ioasfs holds the IOAS
	 * lock).
	 */
	struct itree_leaf *finger;
	unsigned fidx; /* where in the finger the last search ended: a hint, checked before use */
	void *spare;   /* freed nodes, kept for reuse until itree_clear() */
	bool plain;    /* no gaps kept: itree_find_free is not available */
};

#define itree_entry(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

void itree_init(struct itree *t);
/*
 * A tree that keeps no gaps, for callers that never search for free space (the core's
 * record of mappings): insert and remove then skip the gap upkeep. itree_find_free on it
 * returns -EINVAL.
 */
void itree_init_plain(struct itree *t);
/*
 * Free the tree's own nodes, including those it keeps for reuse; the ranges in it are
 * forgotten, not touched. An emptied tree keeps its spare nodes until this is called.
 */
void itree_clear(struct itree *t);

/*
 * Insert n (n->start <= n->last set by the caller). Returns 0, or -EEXIST if n intersects a
 * range already in the tree, -EINVAL if start > last, -ENOMEM; the tree is then unchanged.
 */
int itree_insert(struct itree *t, struct itree_node *n);

/* Remove n, which must be in t. */
void itree_remove(struct itree *t, struct itree_node *n);

/* Lowest range intersecting [start, last], or NULL. */
struct itree_node *itree_first_overlap(const struct itree *t, uint64_t start, uint64_t last);

/* Range containing addr, or NULL. */
struct itree_node *itree_find(const struct itree *t, uint64_t addr);

struct itree_node *itree_first(const struct itree *t);
struct itree_node *itree_last(const struct itree *t);
struct itree_node *itree_next(const struct itree_node *n);
struct itree_node *itree_prev(const struct itree_node *n);

/* The largest gap between two ranges (0 for a plain tree); for tests. */
uint64_t itree_max_gap(const struct itree *t);

/*
 * First-fit search for a free range of `length` addresses (length >= 1) inside [lo, hi].
 * A candidate start is computed from a free hole [hs, he] (clipped to [lo, hi]) as
 *     c = ALIGN_UP(hs, align) | offset
 * (align a power of two >= 1, offset < align or any value the caller wants OR-ed in, exactly
 * as the kernel's iopt_alloc_iova does with the page offset), and is accepted if c >= hs and
 * c + length - 1 <= he without overflow. Holes are tried in ascending address order, so the
 * result is the lowest accepted candidate over all holes. Returns 0 and *ret, -ENOSPC, or
 * -EINVAL (length 0, align not a power of two, lo > hi, a plain tree). Children whose largest
 * gap is below length are skipped; holes long enough but rejected by alignment are each
 * visited (as the kernel's allocator does), so the search is O(log n) unless many such exist.
 */
int itree_find_free(const struct itree *t, uint64_t lo, uint64_t hi, uint64_t length,
		    uint64_t align, uint64_t offset, uint64_t *ret);

/*
 * Checks every structural invariant (order, disjointness, bounds and back pointers, node
 * fill, depth, gaps, leaf chain, count). Returns 0 or -EFAULT; for tests.
 */
int itree_check(const struct itree *t);

#endif
