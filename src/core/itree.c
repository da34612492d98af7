/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * AVL interval tree with cached free gaps.
 *
 * AVL rather than red-black: lookups and first-fit searches outnumber mutations, and AVL's
 * tighter height bound (1.44 log2 n against 2 log2 n) shortens every one of them, while the
 * extra rotations on update are cheap next to the ioctl behind each mutation. Each node caches the
 * gap in front of it instead of the span of its subtree, so that first-fit allocation can
 * skip every subtree whose largest gap is too small without touching its nodes. A node's gap
 * depends on its in-order predecessor, so insert and remove also refresh the successor's gap
 * and the max_gap of its ancestors; rotations do not change the in-order sequence, so they
 * only have to recompute max_gap of the two nodes they move. Walks up the tree stop as soon
 * as a node's height and max_gap come out unchanged, and a finger (struct itree) lets runs of
 * neighbouring operations skip the descent from the root: with a million mappings, a driver
 * mapping and unmapping neighbours should not pay for the whole height of the tree each time.
 */
#include <errno.h>
#include <stdbool.h>

#include "core/itree.h"

/* Deep enough for any AVL tree that fits in memory (height <= 1.44 log2(n + 2)). */
#define ITREE_MAX_HEIGHT 96

void itree_init(struct itree *t)
{
	t->root = NULL;
	t->count = 0;
	t->finger = NULL;
	t->min = t->max = NULL;
	t->plain = false;
}

void itree_init_plain(struct itree *t)
{
	itree_init(t);
	t->plain = true;
}

static inline int height(const struct itree_node *n)
{
	return n ? n->height : 0;
}

static inline uint64_t max_gap(const struct itree_node *n)
{
	return n ? n->max_gap : 0;
}

static inline uint64_t max3(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t m = a > b ? a : b;

	return m > c ? m : c;
}

static void update(struct itree_node *n)
{
	int hl = height(n->left), hr = height(n->right);

	n->height = (hl > hr ? hl : hr) + 1;
	n->max_gap = max3(n->gap, max_gap(n->left), max_gap(n->right));
}

/*
 * Gap in front of n given its predecessor; pred->last < n->start so nothing overflows. The
 * head hole in front of the first node is kept out of the tree, like the tail: a driver that
 * unmaps from the low end would otherwise change the tree's largest gap at every unmap, and a
 * head hole that no allocation may use (below the lowest allowed IOVA) would lead every
 * first-fit search down the whole left spine. itree_find_free tries it first itself.
 */
static uint64_t gap_after(const struct itree_node *pred, const struct itree_node *n)
{
	return pred ? n->start - pred->last - 1 : 0;
}

static void replace_child(struct itree *t, struct itree_node *parent, struct itree_node *old,
			  struct itree_node *new)
{
	if (!parent)
		t->root = new;
	else if (parent->left == old)
		parent->left = new;
	else
		parent->right = new;
	if (new)
		new->parent = parent;
}

/* Returns the new subtree root. */
static struct itree_node *rotate_left(struct itree *t, struct itree_node *x)
{
	struct itree_node *y = x->right;

	replace_child(t, x->parent, x, y);
	x->right = y->left;
	if (x->right)
		x->right->parent = x;
	y->left = x;
	x->parent = y;
	update(x);
	update(y);
	return y;
}

static struct itree_node *rotate_right(struct itree *t, struct itree_node *x)
{
	struct itree_node *y = x->left;

	replace_child(t, x->parent, x, y);
	x->left = y->right;
	if (x->left)
		x->left->parent = x;
	y->right = x;
	x->parent = y;
	update(x);
	update(y);
	return y;
}

/*
 * Recompute heights and max_gap from n towards the root, rotating wherever balance is lost.
 * The walk stops at the first node whose height and max_gap come out unchanged without a
 * rotation (nothing above it can change), but never before it has passed `must`, a node
 * whose subtree was rebuilt out of the walk's sight.
 */
static void rebalance(struct itree *t, struct itree_node *n, const struct itree_node *must)
{
	while (n) {
		int bf, h = n->height;
		uint64_t g = n->max_gap;

		update(n);
		bf = height(n->left) - height(n->right);
		if (bf > 1) {
			if (height(n->left->left) < height(n->left->right))
				rotate_left(t, n->left);
			n = rotate_right(t, n);
		} else if (bf < -1) {
			if (height(n->right->right) < height(n->right->left))
				rotate_right(t, n->right);
			n = rotate_left(t, n);
		} else if (!must && n->height == h && n->max_gap == g) {
			return;
		}
		if (n == must)
			must = NULL;
		n = n->parent;
	}
}

/* Only a gap changed at n: no heights move; stop once a max_gap comes out unchanged. */
static void propagate_max_gap(struct itree_node *n)
{
	for (; n; n = n->parent) {
		uint64_t g = max3(n->gap, max_gap(n->left), max_gap(n->right));

		if (g == n->max_gap)
			return;
		n->max_gap = g;
	}
}

/* itree_next/prev that answer at the ends without climbing to the root. */
static struct itree_node *succ_of(const struct itree *t, const struct itree_node *n)
{
	return n == t->max ? NULL : itree_next(n);
}

static struct itree_node *pred_of(const struct itree *t, const struct itree_node *n)
{
	return n == t->min ? NULL : itree_prev(n);
}

/*
 * Where n (not yet in t) would be linked, found from the finger when n falls between it and
 * its successor. Returns false when the finger does not help.
 */
static bool finger_slot(const struct itree *t, const struct itree_node *n,
			struct itree_node **ret_parent, struct itree_node ***ret_link,
			struct itree_node **ret_pred, struct itree_node **ret_succ)
{
	struct itree_node *f = t->finger, *succ;

	if (!f || f->start >= n->start)
		return false;
	succ = succ_of(t, f);
	if (succ && succ->start <= n->start)
		return false;
	*ret_pred = f;
	*ret_succ = succ;
	if (!f->right) {
		*ret_parent = f;
		*ret_link = &f->right;
	} else {
		/* succ is the leftmost node of f->right, so its left slot is free */
		*ret_parent = succ;
		*ret_link = &succ->left;
	}
	return true;
}

int itree_insert(struct itree *t, struct itree_node *n)
{
	struct itree_node *parent = NULL, *pred = NULL, *succ = NULL;
	struct itree_node **link = &t->root;

	if (n->start > n->last)
		return -EINVAL;

	if (!finger_slot(t, n, &parent, &link, &pred, &succ)) {
		while (*link) {
			parent = *link;
			if (n->start < parent->start) {
				succ = parent;
				link = &parent->left;
			} else if (n->start > parent->start) {
				pred = parent;
				link = &parent->right;
			} else {
				return -EEXIST;
			}
		}
	}
	/* Neighbours are disjoint and sorted, so only they can intersect n. */
	if ((pred && pred->last >= n->start) || (succ && succ->start <= n->last))
		return -EEXIST;

	n->left = n->right = NULL;
	n->parent = parent;
	n->height = 1;
	n->gap = t->plain ? 0 : gap_after(pred, n);
	n->max_gap = n->gap;
	*link = n;
	t->count++;

	rebalance(t, parent, NULL);
	if (succ && !t->plain) {
		succ->gap = gap_after(n, succ);
		propagate_max_gap(succ);
	}
	if (!pred)
		t->min = n;
	if (!succ)
		t->max = n;
	t->finger = n;
	return 0;
}

void itree_remove(struct itree *t, struct itree_node *n)
{
	struct itree_node *pred = pred_of(t, n), *succ = succ_of(t, n);
	struct itree_node *fix, *must = NULL;

	/*
	 * Fix the successor's gap first, while heights are still valid: when n has a single
	 * right child the successor sits below the splice point and the rebalance walk from
	 * there would never reach it.
	 */
	if (succ && !t->plain) {
		succ->gap = gap_after(pred, succ);
		propagate_max_gap(succ);
	}

	if (!n->left || !n->right) {
		struct itree_node *child = n->left ? n->left : n->right;

		fix = n->parent;
		replace_child(t, n->parent, n, child);
	} else {
		/* Two children: succ is the leftmost node of n->right and has no left child. */
		if (succ == n->right) {
			fix = succ;
		} else {
			fix = succ->parent;
			fix->left = succ->right;
			if (succ->right)
				succ->right->parent = fix;
			succ->right = n->right;
			succ->right->parent = succ;
		}
		succ->left = n->left;
		succ->left->parent = succ;
		replace_child(t, n->parent, n, succ);
		must = succ; /* it took n's place: the walk must reach and recompute it */
	}
	t->count--;
	n->left = n->right = n->parent = NULL;
	rebalance(t, fix, must);
	if (t->min == n)
		t->min = succ;
	if (t->max == n)
		t->max = pred;
	t->finger = pred ? pred : succ;
}

/* The first node ending at or after start, if the finger or its successor is it. */
static bool finger_first(const struct itree *t, uint64_t start, struct itree_node **ret)
{
	struct itree_node *f = t->finger, *p;

	if (!f)
		return false;
	if (f->last >= start) {
		p = pred_of(t, f);
		if (p && p->last >= start)
			return false;
		*ret = f;
		return true;
	}
	p = succ_of(t, f);
	if (p && p->last < start)
		return false;
	*ret = p;
	return true;
}

struct itree_node *itree_first_overlap(const struct itree *t, uint64_t start, uint64_t last)
{
	struct itree_node *x = t->root, *best = NULL;

	if (start > last)
		return NULL;
	if (finger_first(t, start, &best)) {
		x = NULL;
	} else {
		/* Disjoint nodes are sorted by last as well: find the first ending >= start. */
		while (x) {
			if (x->last >= start) {
				best = x;
				x = x->left;
			} else {
				x = x->right;
			}
		}
	}
	if (best)
		((struct itree *)t)->finger = best; /* see struct itree: a cache, not state */
	return best && best->start <= last ? best : NULL;
}

struct itree_node *itree_find(const struct itree *t, uint64_t addr)
{
	return itree_first_overlap(t, addr, addr);
}

struct itree_node *itree_first(const struct itree *t)
{
	return t->min;
}

struct itree_node *itree_last(const struct itree *t)
{
	return t->max;
}

struct itree_node *itree_next(const struct itree_node *n)
{
	const struct itree_node *p;

	if (n->right) {
		n = n->right;
		while (n->left)
			n = n->left;
		return (struct itree_node *)n;
	}
	for (p = n->parent; p && p->right == n; p = p->parent)
		n = p;
	return (struct itree_node *)p;
}

struct itree_node *itree_prev(const struct itree_node *n)
{
	const struct itree_node *p;

	if (n->left) {
		n = n->left;
		while (n->right)
			n = n->right;
		return (struct itree_node *)n;
	}
	for (p = n->parent; p && p->left == n; p = p->parent)
		n = p;
	return (struct itree_node *)p;
}

struct ff_query {
	uint64_t lo, hi, length, align, offset;
};

/*
 * Try the hole [hs, he]. The aligned start is computed without ever wrapping: an ALIGN_UP
 * that would pass UINT64_MAX has no representable candidate, and letting it wrap to a small
 * value would make "| offset" produce a bogus hit when the caller ORs in large offsets.
 */
static bool try_hole(const struct ff_query *q, uint64_t hs, uint64_t he, uint64_t *ret)
{
	uint64_t mask = q->align - 1, c;

	if (hs < q->lo)
		hs = q->lo;
	if (he > q->hi)
		he = q->hi;
	if (hs > he || he - hs < q->length - 1)
		return false;
	c = hs;
	if (c & mask) {
		uint64_t step = q->align - (c & mask);

		if (c > UINT64_MAX - step)
			return false;
		c += step;
	}
	c |= q->offset;
	if (c > he || he - c < q->length - 1)
		return false;
	*ret = c;
	return true;
}

/*
 * In-order first-fit over the holes in front of each node of the subtree. Subtrees whose
 * max_gap is too small are skipped, as are those lying wholly below lo (left of a node that
 * starts at or below lo) or wholly above hi (right of a node that ends at or above hi). The
 * recursion depth is the tree height.
 */
static bool find_in(const struct itree_node *x, const struct ff_query *q, uint64_t *ret)
{
	while (x && x->max_gap >= q->length) {
		if (x->start > q->lo) {
			if (find_in(x->left, q, ret))
				return true;
			if (x->gap >= q->length &&
			    try_hole(q, x->start - x->gap, x->start - 1, ret))
				return true;
		}
		if (x->last >= q->hi)
			return false;
		x = x->right;
	}
	return false;
}

int itree_find_free(const struct itree *t, uint64_t lo, uint64_t hi, uint64_t length,
		    uint64_t align, uint64_t offset, uint64_t *ret)
{
	struct ff_query q = {
		.lo = lo, .hi = hi, .length = length, .align = align, .offset = offset
	};
	const struct itree_node *last;

	if (!length || !align || (align & (align - 1)) || lo > hi || t->plain)
		return -EINVAL;
	/* The head and tail holes belong to no node; in an empty tree the hole is everything. */
	if (!t->min)
		return try_hole(&q, 0, UINT64_MAX, ret) ? 0 : -ENOSPC;
	if (t->min->start && try_hole(&q, 0, t->min->start - 1, ret))
		return 0;
	if (find_in(t->root, &q, ret))
		return 0;
	last = t->max;
	if (last->last != UINT64_MAX && try_hole(&q, last->last + 1, UINT64_MAX, ret))
		return 0;
	return -ENOSPC;
}

struct check_state {
	bool plain;
	const struct itree_node *prev;
	size_t seen, limit;
};

/* Returns the subtree height, or -1 on any violation. */
static int check_sub(const struct itree_node *x, const struct itree_node *parent, int depth,
		     struct check_state *s)
{
	int hl, hr, h;

	if (!x)
		return 0;
	/* Bound depth and node count so a corrupted tree with a cycle cannot hang the check. */
	if (depth > ITREE_MAX_HEIGHT || ++s->seen > s->limit)
		return -1;
	if (x->parent != parent)
		return -1;
	hl = check_sub(x->left, x, depth + 1, s);
	if (hl < 0)
		return -1;
	if (x->start > x->last)
		return -1;
	if (s->prev && s->prev->last >= x->start)
		return -1;
	if (x->gap != (s->plain ? 0 : gap_after(s->prev, x)))
		return -1;
	s->prev = x;
	hr = check_sub(x->right, x, depth + 1, s);
	if (hr < 0)
		return -1;
	if (hl - hr > 1 || hr - hl > 1)
		return -1;
	h = (hl > hr ? hl : hr) + 1;
	if (x->height != h)
		return -1;
	if (x->max_gap != max3(x->gap, max_gap(x->left), max_gap(x->right)))
		return -1;
	return h;
}

int itree_check(const struct itree *t)
{
	struct check_state s = { .plain = t->plain, .prev = NULL, .seen = 0, .limit = t->count };

	if (check_sub(t->root, NULL, 0, &s) < 0 || s.seen != t->count)
		return -EFAULT;
	{
		const struct itree_node *lo = t->root, *hi = t->root;

		while (lo && lo->left)
			lo = lo->left;
		while (hi && hi->right)
			hi = hi->right;
		if (lo != t->min || hi != t->max)
			return -EFAULT;
	}
	return 0;
}
