/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for the gap-augmented B+tree interval tree. Besides hand-written cases, a long
 * randomized run cross-checks every query against a sorted array whose first-fit search is
 * written independently in 128-bit arithmetic, so an overflow slip in the tree cannot be
 * mirrored by the model. The seed is fixed (override with ITREE_SEED) and printed.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/itree.h"
#include "failmalloc.h"

#define U64MAX UINT64_MAX

struct item {
	struct itree_node node;
	int in_tree;
};

static struct itree_node *mk(struct item *it, uint64_t start, uint64_t last)
{
	memset(it, 0, sizeof(*it));
	it->node.start = start;
	it->node.last = last;
	return &it->node;
}

/* ---------------------------------------------------------------------------------------- */

START_TEST(test_basic)
{
	struct itree t;
	struct item a, b, c, d, e, lo, hi, x;
	struct itree_node *n;
	uint64_t at;

	itree_init(&t);
	ck_assert_ptr_null(itree_first(&t));
	ck_assert_ptr_null(itree_last(&t));
	ck_assert_ptr_null(itree_find(&t, 0));
	ck_assert_ptr_null(itree_first_overlap(&t, 0, U64MAX));
	ck_assert_int_eq(itree_check(&t), 0);

	ck_assert_int_eq(itree_insert(&t, mk(&a, 0, 9)), 0);
	ck_assert_int_eq(itree_insert(&t, mk(&x, 9, 20)), -EEXIST);
	ck_assert_int_eq(itree_insert(&t, mk(&x, 5, 5)), -EEXIST);
	ck_assert_int_eq(itree_insert(&t, mk(&x, 0, 0)), -EEXIST);
	ck_assert_int_eq(t.count, 1);
	ck_assert_int_eq(itree_insert(&t, mk(&b, 10, 20)), 0);
	ck_assert_int_eq(itree_insert(&t, mk(&x, 21, 20)), -EINVAL);
	ck_assert_int_eq(itree_insert(&t, mk(&c, 30, 40)), 0);
	/* Straddles the hole [21,29] and touches both neighbours. */
	ck_assert_int_eq(itree_insert(&t, mk(&x, 20, 30)), -EEXIST);
	ck_assert_int_eq(itree_insert(&t, mk(&x, 25, 30)), -EEXIST);
	ck_assert_int_eq(itree_insert(&t, mk(&x, 15, 25)), -EEXIST);
	ck_assert_int_eq(itree_insert(&t, mk(&x, 0, U64MAX)), -EEXIST);
	ck_assert_int_eq(t.count, 3);
	ck_assert_int_eq(itree_check(&t), 0);

	/* Gap convention from the header: the hole [21,29] is the only one between ranges. */
	ck_assert_uint_eq(itree_max_gap(&t), 9);

	ck_assert_int_eq(itree_insert(&t, mk(&hi, U64MAX, U64MAX)), 0);
	ck_assert_uint_eq(itree_max_gap(&t), U64MAX - 41);
	ck_assert_int_eq(itree_insert(&t, mk(&d, 21, 29)), 0);
	ck_assert_uint_eq(itree_max_gap(&t), U64MAX - 41);
	ck_assert_int_eq(itree_check(&t), 0);

	ck_assert_ptr_eq(itree_find(&t, 0), &a.node);
	ck_assert_ptr_eq(itree_find(&t, 9), &a.node);
	ck_assert_ptr_eq(itree_find(&t, 10), &b.node);
	ck_assert_ptr_eq(itree_find(&t, 29), &d.node);
	ck_assert_ptr_eq(itree_find(&t, 40), &c.node);
	ck_assert_ptr_null(itree_find(&t, 41));
	ck_assert_ptr_null(itree_find(&t, U64MAX - 1));
	ck_assert_ptr_eq(itree_find(&t, U64MAX), &hi.node);
	ck_assert_ptr_eq(itree_first_overlap(&t, 15, 35), &b.node);
	ck_assert_ptr_eq(itree_first_overlap(&t, 41, U64MAX), &hi.node);
	ck_assert_ptr_null(itree_first_overlap(&t, 41, U64MAX - 1));
	ck_assert_ptr_null(itree_first_overlap(&t, 20, 10));

	ck_assert_ptr_eq(itree_first(&t), &a.node);
	ck_assert_ptr_eq(itree_last(&t), &hi.node);
	ck_assert_ptr_eq(itree_next(&a.node), &b.node);
	ck_assert_ptr_eq(itree_next(&b.node), &d.node);
	ck_assert_ptr_eq(itree_next(&d.node), &c.node);
	ck_assert_ptr_eq(itree_next(&c.node), &hi.node);
	ck_assert_ptr_null(itree_next(&hi.node));
	ck_assert_ptr_eq(itree_prev(&hi.node), &c.node);
	ck_assert_ptr_eq(itree_prev(&c.node), &d.node);
	ck_assert_ptr_eq(itree_prev(&b.node), &a.node);
	ck_assert_ptr_null(itree_prev(&a.node));

	/* Removing the middle node widens its successor's gap. */
	itree_remove(&t, &d.node);
	ck_assert_int_eq(itree_check(&t), 0);
	ck_assert_int_eq(itree_find_free(&t, 0, U64MAX, 9, 1, 0, &at), 0);
	ck_assert_uint_eq(at, 21);
	ck_assert_ptr_null(itree_find(&t, 25));
	ck_assert_ptr_eq(itree_next(&b.node), &c.node);
	itree_remove(&t, &a.node);
	ck_assert_int_eq(itree_check(&t), 0);
	/* the head hole [0, 9] belongs to no node, but is still found first */
	ck_assert_int_eq(itree_find_free(&t, 0, U64MAX, 9, 1, 0, &at), 0);
	ck_assert_uint_eq(at, 0);
	ck_assert_ptr_eq(itree_first(&t), &b.node);
	itree_remove(&t, &hi.node);
	itree_remove(&t, &b.node);
	ck_assert_int_eq(itree_check(&t), 0);
	ck_assert_uint_eq(itree_max_gap(&t), 0);
	ck_assert_ptr_eq(itree_first(&t), &c.node);
	ck_assert_ptr_eq(itree_last(&t), &c.node);
	itree_remove(&t, &c.node);
	ck_assert_ptr_null(t.root);
	ck_assert_int_eq(t.count, 0);

	/* A single node covering everything, and nodes at both ends of the space. */
	ck_assert_int_eq(itree_insert(&t, mk(&a, 0, U64MAX)), 0);
	ck_assert_ptr_eq(itree_find(&t, U64MAX / 2), &a.node);
	ck_assert_int_eq(itree_insert(&t, mk(&x, U64MAX, U64MAX)), -EEXIST);
	itree_remove(&t, &a.node);
	ck_assert_int_eq(itree_insert(&t, mk(&lo, 0, 0)), 0);
	ck_assert_int_eq(itree_insert(&t, mk(&hi, U64MAX, U64MAX)), 0);
	ck_assert_uint_eq(itree_max_gap(&t), U64MAX - 1);
	ck_assert_int_eq(itree_insert(&t, mk(&e, 1, U64MAX - 1)), 0);
	ck_assert_uint_eq(itree_max_gap(&t), 0);
	ck_assert_int_eq(itree_check(&t), 0);
	n = itree_first_overlap(&t, 0, U64MAX);
	ck_assert_ptr_eq(n, &lo.node);
	ck_assert_ptr_eq(itree_next(n), &e.node);
	ck_assert_ptr_eq(itree_next(itree_next(n)), &hi.node);
	itree_clear(&t);
}
END_TEST

/* Corruptions the checker must notice. */
START_TEST(test_check_detects)
{
	struct itree t;
	struct item it[200];
	struct itree_leaf *saved;
	int i;

	itree_init(&t);
	/* enough for three levels: 200 ranges, 32 per node */
	for (i = 0; i < 200; i++)
		ck_assert_int_eq(itree_insert(&t, mk(&it[i], i * 10 + 5, i * 10 + 7)), 0);
	ck_assert_int_eq(itree_check(&t), 0);
	ck_assert_int_ge(t.depth, 2);

	t.count++;
	ck_assert_int_eq(itree_check(&t), -EFAULT);
	t.count--;
	/* a range changed behind the tree's back: order and its copy of the bounds */
	it[4].node.last = it[5].node.start;
	ck_assert_int_eq(itree_check(&t), -EFAULT);
	it[4].node.last = 47;
	it[4].node.start++;
	ck_assert_int_eq(itree_check(&t), -EFAULT);
	it[4].node.start--;
	/* a back pointer */
	saved = it[100].node.leaf;
	it[100].node.leaf = it[0].node.leaf;
	ck_assert_int_eq(itree_check(&t), -EFAULT);
	it[100].node.leaf = saved;
	/* the leaf chain */
	saved = t.tail;
	t.tail = t.head;
	ck_assert_int_eq(itree_check(&t), -EFAULT);
	t.tail = saved;
	t.depth++;
	ck_assert_int_eq(itree_check(&t), -EFAULT);
	t.depth--;
	ck_assert_int_eq(itree_check(&t), 0);
	itree_clear(&t);
	ck_assert_int_eq(itree_check(&t), 0);
	ck_assert_ptr_null(itree_first(&t));
	itree_clear(&t);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */

static int ff(const struct itree *t, uint64_t lo, uint64_t hi, uint64_t len, uint64_t align,
	      uint64_t off, uint64_t *ret)
{
	*ret = 0xdeadbeefdeadbeefULL;
	return itree_find_free(t, lo, hi, len, align, off, ret);
}

START_TEST(test_find_free_edges)
{
	struct itree t;
	struct item a, b, c;
	uint64_t r;

	itree_init(&t);
	/* Invalid arguments. */
	ck_assert_int_eq(ff(&t, 0, 100, 0, 1, 0, &r), -EINVAL);
	ck_assert_int_eq(ff(&t, 0, 100, 1, 0, 0, &r), -EINVAL);
	ck_assert_int_eq(ff(&t, 0, 100, 1, 3, 0, &r), -EINVAL);
	ck_assert_int_eq(ff(&t, 0, 100, 1, 12, 0, &r), -EINVAL);
	ck_assert_int_eq(ff(&t, 101, 100, 1, 1, 0, &r), -EINVAL);

	/* Empty tree: the whole [lo, hi]. */
	ck_assert_int_eq(ff(&t, 0, U64MAX, 1, 1, 0, &r), 0);
	ck_assert_uint_eq(r, 0);
	ck_assert_int_eq(ff(&t, 7, 100, 1, 1, 0, &r), 0);
	ck_assert_uint_eq(r, 7);
	ck_assert_int_eq(ff(&t, 7, 100, 4, 16, 3, &r), 0);
	ck_assert_uint_eq(r, 19);
	ck_assert_int_eq(ff(&t, 0, U64MAX, U64MAX, 1, 0, &r), 0);
	ck_assert_uint_eq(r, 0);
	ck_assert_int_eq(ff(&t, 1, U64MAX, U64MAX, 1, 0, &r), 0);
	ck_assert_uint_eq(r, 1);
	ck_assert_int_eq(ff(&t, 2, U64MAX, U64MAX, 1, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 0, U64MAX, U64MAX, 2, 1, &r), 0);
	ck_assert_uint_eq(r, 1);
	ck_assert_int_eq(ff(&t, 0, U64MAX - 1, U64MAX, 1, 0, &r), 0);
	ck_assert_uint_eq(r, 0);
	ck_assert_int_eq(ff(&t, 1, U64MAX - 1, U64MAX, 1, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 0, U64MAX - 2, U64MAX, 1, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 0, U64MAX, 1, 1ULL << 63, 0, &r), 0);
	ck_assert_uint_eq(r, 0);
	ck_assert_int_eq(ff(&t, 1, U64MAX, 1, 1ULL << 63, 0, &r), 0);
	ck_assert_uint_eq(r, 1ULL << 63);
	ck_assert_int_eq(ff(&t, (1ULL << 63) + 1, U64MAX, 1, 1ULL << 63, 0, &r), -ENOSPC);

	/* lo == hi. */
	ck_assert_int_eq(ff(&t, 5, 5, 1, 1, 0, &r), 0);
	ck_assert_uint_eq(r, 5);
	ck_assert_int_eq(ff(&t, 5, 5, 2, 1, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 5, 5, 1, 4, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 5, 5, 1, 4, 1, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 4, 4, 1, 4, 1, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 5, 5, 1, 1, 5, &r), 0);
	ck_assert_uint_eq(r, 5);
	ck_assert_int_eq(ff(&t, U64MAX, U64MAX, 1, 1, 0, &r), 0);
	ck_assert_uint_eq(r, U64MAX);
	ck_assert_int_eq(ff(&t, U64MAX, U64MAX, 1, 2, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, U64MAX, U64MAX, 1, 2, 1, &r), -ENOSPC);
	ck_assert_int_eq(itree_insert(&t, mk(&a, 5, 5)), 0);
	ck_assert_int_eq(ff(&t, 5, 5, 1, 1, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 4, 4, 1, 1, 0, &r), 0);
	ck_assert_uint_eq(r, 4);
	ck_assert_int_eq(ff(&t, 6, 6, 1, 1, 0, &r), 0);
	ck_assert_uint_eq(r, 6);
	/* Any occupied address leaves no room for UINT64_MAX addresses unless it is at an end. */
	ck_assert_int_eq(ff(&t, 0, U64MAX, U64MAX, 1, 0, &r), -ENOSPC);
	itree_remove(&t, &a.node);
	ck_assert_int_eq(itree_insert(&t, mk(&a, 0, 0)), 0);
	ck_assert_int_eq(ff(&t, 0, U64MAX, U64MAX, 1, 0, &r), 0);
	ck_assert_uint_eq(r, 1);
	ck_assert_int_eq(ff(&t, 0, U64MAX, U64MAX, 2, 0, &r), -ENOSPC);
	/* The offset is ORed after aligning the hole start: ALIGN_UP(1, 2) | 1 = 3, not 1. */
	ck_assert_int_eq(ff(&t, 0, U64MAX, U64MAX, 2, 1, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 0, U64MAX, U64MAX - 2, 2, 1, &r), 0);
	ck_assert_uint_eq(r, 3);
	itree_remove(&t, &a.node);
	ck_assert_int_eq(itree_insert(&t, mk(&a, U64MAX, U64MAX)), 0);
	ck_assert_int_eq(ff(&t, 0, U64MAX, U64MAX, 1, 0, &r), 0);
	ck_assert_uint_eq(r, 0);
	ck_assert_int_eq(ff(&t, 0, U64MAX, U64MAX, 1, 1, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, U64MAX - 1, U64MAX, 1, 1, 0, &r), 0);
	ck_assert_uint_eq(r, U64MAX - 1);
	ck_assert_int_eq(ff(&t, U64MAX - 1, U64MAX, 2, 1, 0, &r), -ENOSPC);
	itree_remove(&t, &a.node);

	/* Hole at the very end of the space: [U64MAX - 9, U64MAX]. */
	ck_assert_int_eq(itree_insert(&t, mk(&a, 0, U64MAX - 10)), 0);
	ck_assert_int_eq(ff(&t, 0, U64MAX, 10, 1, 0, &r), 0);
	ck_assert_uint_eq(r, U64MAX - 9);
	ck_assert_int_eq(ff(&t, 0, U64MAX, 11, 1, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 0, U64MAX, 8, 8, 0, &r), 0);
	ck_assert_uint_eq(r, U64MAX - 7);
	ck_assert_int_eq(ff(&t, 0, U64MAX, 9, 8, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 0, U64MAX, 1, 8, 7, &r), 0);
	ck_assert_uint_eq(r, U64MAX);
	ck_assert_int_eq(ff(&t, 0, U64MAX, 2, 8, 7, &r), -ENOSPC);
	/* ALIGN_UP(U64MAX - 9, 16) passes 2^64: a wrap to 0 must not make "| offset" a hit. */
	ck_assert_int_eq(ff(&t, 0, U64MAX, 1, 16, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 0, U64MAX, 1, 16, 15, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 0, U64MAX, 1, 16, U64MAX - 7, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 0, U64MAX, 1, 1ULL << 63, U64MAX, &r), -ENOSPC);
	/* hi cuts the tail hole. */
	ck_assert_int_eq(ff(&t, 0, U64MAX - 1, 9, 1, 0, &r), 0);
	ck_assert_uint_eq(r, U64MAX - 9);
	ck_assert_int_eq(ff(&t, 0, U64MAX - 1, 10, 1, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 0, U64MAX - 10, 1, 1, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, U64MAX - 3, U64MAX, 4, 1, 0, &r), 0);
	ck_assert_uint_eq(r, U64MAX - 3);
	itree_remove(&t, &a.node);

	/* Holes [0,99] [200,299] [400,U64MAX] around a = [100,199], b = [300,399]. */
	ck_assert_int_eq(itree_insert(&t, mk(&a, 100, 199)), 0);
	ck_assert_int_eq(itree_insert(&t, mk(&b, 300, 399)), 0);
	ck_assert_int_eq(ff(&t, 0, 1000, 100, 1, 0, &r), 0);
	ck_assert_uint_eq(r, 0);
	ck_assert_int_eq(ff(&t, 1, 1000, 100, 1, 0, &r), 0);
	ck_assert_uint_eq(r, 200);
	ck_assert_int_eq(ff(&t, 0, 1000, 101, 1, 0, &r), 0);
	ck_assert_uint_eq(r, 400);
	/* Align larger than the hole. */
	ck_assert_int_eq(ff(&t, 1, 1000, 50, 256, 0, &r), 0);
	ck_assert_uint_eq(r, 512);
	ck_assert_int_eq(ff(&t, 1, 561, 50, 256, 0, &r), 0);
	ck_assert_uint_eq(r, 512);
	ck_assert_int_eq(ff(&t, 1, 560, 50, 256, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 1, 1000, 50, 1024, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 1, 2000, 50, 1024, 0, &r), 0);
	ck_assert_uint_eq(r, 1024);
	/*
	 * The ORed offset moves candidates past their hole: 64 | 63 = 127 is in a, 256 | 63 =
	 * 319 is in b, so only the tail fits.
	 */
	ck_assert_int_eq(ff(&t, 1, 1000, 8, 64, 63, &r), 0);
	ck_assert_uint_eq(r, 448 + 63);
	ck_assert_int_eq(ff(&t, 1, 1000, 2, 128, 63, &r), 0);
	ck_assert_uint_eq(r, 512 + 63);
	ck_assert_int_eq(ff(&t, 200, 1000, 40, 64, 63, &r), 0);
	ck_assert_uint_eq(r, 448 + 63);
	ck_assert_int_eq(ff(&t, 0, 1000, 37, 64, 63, &r), 0);
	ck_assert_uint_eq(r, 63);
	/* 63 + 38 - 1 = 100 is in a; 256 | 63 = 319 is in b; so 448 | 63. */
	ck_assert_int_eq(ff(&t, 0, 1000, 38, 64, 63, &r), 0);
	ck_assert_uint_eq(r, 511);
	ck_assert_int_eq(ff(&t, 0, 549, 38, 64, 63, &r), 0);
	ck_assert_uint_eq(r, 511);
	ck_assert_int_eq(ff(&t, 0, 547, 38, 64, 63, &r), -ENOSPC);
	/* lo and hi both inside one hole. */
	ck_assert_int_eq(ff(&t, 210, 220, 11, 1, 0, &r), 0);
	ck_assert_uint_eq(r, 210);
	ck_assert_int_eq(ff(&t, 210, 220, 12, 1, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 210, 220, 2, 16, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 210, 225, 2, 16, 0, &r), 0);
	ck_assert_uint_eq(r, 224);
	/* lo and hi inside nodes. */
	ck_assert_int_eq(ff(&t, 150, 350, 1, 1, 0, &r), 0);
	ck_assert_uint_eq(r, 200);
	ck_assert_int_eq(ff(&t, 150, 199, 1, 1, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 300, 399, 1, 1, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 0, U64MAX, U64MAX - 399, 1, 0, &r), 0);
	ck_assert_uint_eq(r, 400);
	ck_assert_int_eq(ff(&t, 0, U64MAX, U64MAX - 398, 1, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 0, U64MAX, U64MAX, 1, 0, &r), -ENOSPC);
	/* Fill the first hole completely. */
	ck_assert_int_eq(itree_insert(&t, mk(&c, 0, 99)), 0);
	ck_assert_int_eq(ff(&t, 0, 1000, 1, 1, 0, &r), 0);
	ck_assert_uint_eq(r, 200);
	ck_assert_int_eq(itree_check(&t), 0);
	itree_clear(&t);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */

/* Scale: a million packed nodes, ascending insertion (the rotation-heavy case). */
#define SCALE_N	   1000000u
#define SCALE_BASE 4096u
#define SCALE_W	   4u

START_TEST(test_scale)
{
	struct item *it = calloc(SCALE_N, sizeof(*it));
	const uint64_t end = SCALE_BASE + (uint64_t)SCALE_N * SCALE_W; /* first free after */
	struct itree t;
	uint64_t r, mid;
	unsigned int i;

	ck_assert_ptr_nonnull(it);
	itree_init(&t);
	for (i = 0; i < SCALE_N; i++) {
		uint64_t s = SCALE_BASE + (uint64_t)i * SCALE_W;

		ck_assert_int_eq(itree_insert(&t, mk(&it[i], s, s + SCALE_W - 1)), 0);
	}
	ck_assert_int_eq(itree_check(&t), 0);
	ck_assert_uint_eq(t.count, SCALE_N);
	/* 32 per node: four or five levels for a million */
	ck_assert_int_le(t.depth, 5);
	/* packed: no hole between ranges; the head hole [0, SCALE_BASE) is off the tree */
	ck_assert_uint_eq(itree_max_gap(&t), 0);

	ck_assert_int_eq(ff(&t, 0, U64MAX, 1, 1, 0, &r), 0);
	ck_assert_uint_eq(r, 0);
	ck_assert_int_eq(ff(&t, 0, U64MAX, SCALE_BASE, 1, 0, &r), 0);
	ck_assert_uint_eq(r, 0);
	ck_assert_int_eq(ff(&t, 0, U64MAX, SCALE_BASE + 1, 1, 0, &r), 0);
	ck_assert_uint_eq(r, end);
	ck_assert_int_eq(ff(&t, SCALE_BASE, U64MAX, 1, 1, 0, &r), 0);
	ck_assert_uint_eq(r, end);
	ck_assert_int_eq(ff(&t, 1, U64MAX, 1, 1ULL << 21, 0, &r), 0);
	ck_assert_uint_eq(r, (end + (1ULL << 21) - 1) & ~((1ULL << 21) - 1));
	ck_assert_int_eq(ff(&t, SCALE_BASE, end - 1, 1, 1, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 0, U64MAX, 1, 1, 4096, &r), 0);
	ck_assert_uint_eq(r, end);

	/* Open two holes in the middle: 8 addresses at mid, then 4 after a node. */
	mid = it[SCALE_N / 2].node.start;
	itree_remove(&t, &it[SCALE_N / 2].node);
	itree_remove(&t, &it[SCALE_N / 2 + 1].node);
	itree_remove(&t, &it[SCALE_N / 2 + 3].node);
	ck_assert_int_eq(itree_check(&t), 0);
	ck_assert_int_eq(ff(&t, SCALE_BASE, U64MAX, 1, 1, 0, &r), 0);
	ck_assert_uint_eq(r, mid);
	ck_assert_int_eq(ff(&t, SCALE_BASE, U64MAX, 8, 1, 0, &r), 0);
	ck_assert_uint_eq(r, mid);
	ck_assert_int_eq(ff(&t, SCALE_BASE, U64MAX, 9, 1, 0, &r), 0);
	ck_assert_uint_eq(r, end);
	ck_assert_int_eq(ff(&t, mid + 1, U64MAX, 4, 1, 0, &r), 0);
	ck_assert_uint_eq(r, mid + 1);
	ck_assert_int_eq(ff(&t, mid + 5, U64MAX, 4, 1, 0, &r), 0);
	ck_assert_uint_eq(r, mid + 12);
	ck_assert_int_eq(ff(&t, mid + 13, U64MAX, 1, 1, 0, &r), 0);
	ck_assert_uint_eq(r, mid + 13);
	ck_assert_int_eq(ff(&t, mid + 13, U64MAX, 4, 1, 0, &r), 0);
	ck_assert_uint_eq(r, end);
	ck_assert_int_eq(ff(&t, mid + 13, end - 1, 4, 1, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, SCALE_BASE, U64MAX, 2, 8, 7, &r), 0);
	ck_assert_uint_eq(r, end + 7);
	ck_assert_ptr_null(itree_find(&t, mid + 7));
	ck_assert_ptr_eq(itree_first_overlap(&t, mid, U64MAX), &it[SCALE_N / 2 + 2].node);
	free(it);
	itree_clear(&t);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */

/* Randomized cross-check against a sorted array. */
#define POOL	       6000
#define RAND_OPS       120000
#define CHECK_EVERY_OP 20000

static uint64_t rng_state;

/* Outcome counts, printed so that a run that stopped exercising a path is visible. */
static struct {
	long ins_ok, ins_exist, ff_hit, ff_nospc, full;
	int max_nodes;
} stats;

/* splitmix64: tiny and good enough; the tree is what is under test, not the generator. */
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform-ish in [0, n - 1]; n == 0 means the full 64-bit range. */
static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : rnd();
}

struct model {
	struct item pool[POOL];
	int free_ids[POOL];
	int nfree;
	int sorted[POOL]; /* ids in the tree, ascending by start */
	int n;
	unsigned __int128 occupied; /* addresses covered */
};

/* Index of the first interval with last >= addr (= n if none). */
static int m_lower(const struct model *m, uint64_t addr)
{
	int lo = 0, hi = m->n;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (m->pool[m->sorted[mid]].node.last < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Linear on purpose: an independent answer, not the same binary search twice. */
static struct itree_node *m_first_overlap(const struct model *m, uint64_t s, uint64_t l)
{
	int i;

	for (i = 0; i < m->n; i++) {
		const struct itree_node *x = &m->pool[m->sorted[i]].node;

		if (x->start <= l && s <= x->last)
			return (struct itree_node *)x;
	}
	return NULL;
}

typedef unsigned __int128 u128;

static int m_try(u128 hs, u128 he, uint64_t lo, uint64_t hi, uint64_t len, uint64_t align,
		 uint64_t off, uint64_t *ret)
{
	u128 c;

	if (hs < lo)
		hs = lo;
	if (he > hi)
		he = hi;
	if (hs > he)
		return 0;
	c = (hs + align - 1) / align * align;
	if (c > U64MAX)
		return 0;
	c |= off;
	if (c < hs || c + len - 1 > he)
		return 0;
	*ret = (uint64_t)c;
	return 1;
}

static int m_find_free(const struct model *m, uint64_t lo, uint64_t hi, uint64_t len,
		       uint64_t align, uint64_t off, uint64_t *ret)
{
	u128 hs = 0;
	int i;

	for (i = 0; i < m->n; i++) {
		const struct itree_node *x = &m->pool[m->sorted[i]].node;

		if (x->start > hs && m_try(hs, (u128)x->start - 1, lo, hi, len, align, off, ret))
			return 0;
		hs = (u128)x->last + 1;
	}
	if (hs <= U64MAX && m_try(hs, U64MAX, lo, hi, len, align, off, ret))
		return 0;
	return -ENOSPC;
}

struct universe {
	const char *name;
	uint64_t base, size; /* size 0 = all of 2^64 */
};

/* A random length of scattered magnitude, capped to at most `size` (0 = unbounded). */
static uint64_t rnd_len(uint64_t size)
{
	uint64_t l, dice = rnd_below(size ? 64 : 8);

	/* Small universes get mostly short ranges, so that they pack with many nodes. */
	if (dice < (size ? 54u : 2u))
		l = 1 + rnd_below(8);
	else if (dice < (size ? 60u : 6u))
		l = 1 + rnd_below(size ? 64 : 256);
	else if (dice < (size ? 62u : 7u))
		l = 1ULL << rnd_below(size ? 13 : 40);
	else
		l = 1 + rnd_below(1ULL << rnd_below(64));
	if (size && l > size)
		l = 1 + rnd_below(size);
	return l;
}

/* An address in the universe; for the full range, clustered so that nodes meet. */
static uint64_t rnd_addr(const struct universe *u)
{
	static const uint64_t clusters[] = { 0, 1ULL << 32, 1ULL << 63, U64MAX - (1ULL << 24) };

	if (u->size)
		return u->base + rnd_below(u->size);
	if (rnd_below(8) == 0)
		return rnd();
	if (rnd_below(16) == 0)
		return U64MAX - rnd_below(64);
	return clusters[rnd_below(4)] + rnd_below(1ULL << 24);
}

static uint64_t u_last(const struct universe *u)
{
	return u->size ? u->base + u->size - 1 : U64MAX;
}

static void rand_range(const struct universe *u, uint64_t *s, uint64_t *l)
{
	uint64_t len = rnd_len(u->size), ul = u_last(u);

	*s = rnd_addr(u);
	*l = (ul - *s < len - 1) ? ul : *s + len - 1;
}

/*
 * Free holes of the universe, from the model: returns how many there are, and the one with
 * index `want` in *hs, *he.
 */
static uint64_t m_holes(const struct model *m, const struct universe *u, uint64_t want,
			uint64_t *hs, uint64_t *he)
{
	u128 start = u->base, lim = (u128)u_last(u) + 1;
	uint64_t k = 0;
	int i;

	/* Half-open [start, end) in 128 bits, so neither 0 nor 2^64 needs a special case. */
	for (i = 0; i <= m->n; i++) {
		const struct itree_node *x = i < m->n ? &m->pool[m->sorted[i]].node : NULL;
		u128 end = x && x->start < lim ? x->start : lim;

		if (start < end) {
			if (k == want) {
				*hs = (uint64_t)start;
				*he = (uint64_t)(end - 1);
			}
			k++;
		}
		if (x && (u128)x->last + 1 > start)
			start = (u128)x->last + 1;
	}
	return k;
}

/*
 * A piece of a random free hole, starting at its start (often all of it): random ranges
 * alone almost never close the last small holes, so the universe would never fill up.
 */
static int m_fill_range(const struct model *m, const struct universe *u, uint64_t *s, uint64_t *l)
{
	uint64_t n = m_holes(m, u, UINT64_MAX, s, l), he = 0;

	if (!n)
		return 0;
	m_holes(m, u, rnd_below(n), s, &he);
	*l = (rnd_below(64) == 0 || he - *s < 8) ? he : *s + rnd_below(8);
	return 1;
}

static void op_insert(struct model *m, const struct universe *u, struct itree *t)
{
	uint64_t s, l;
	struct itree_node *ov;
	int id, pos, rc, expect;

	if (!m->nfree)
		return;
	rand_range(u, &s, &l);
	if (rnd_below(64) == 0) {
		/* An inverted range must be refused whatever it overlaps. */
		id = m->free_ids[m->nfree - 1];
		if (s == l)
			return;
		ck_assert_int_eq(itree_insert(t, mk(&m->pool[id], l, s)), -EINVAL);
		return;
	}
	id = m->free_ids[m->nfree - 1];
	if (u->size && rnd_below(3) == 0 && !m_fill_range(m, u, &s, &l))
		return;
	ov = m_first_overlap(m, s, l);
	expect = ov ? -EEXIST : 0;
	rc = itree_insert(t, mk(&m->pool[id], s, l));
	ck_assert_msg(rc == expect, "insert [%" PRIx64 ",%" PRIx64 "] rc %d expected %d", s, l, rc,
		      expect);
	if (rc) {
		stats.ins_exist++;
		return;
	}
	stats.ins_ok++;
	m->nfree--;
	m->pool[id].in_tree = 1;
	pos = m_lower(m, s);
	memmove(&m->sorted[pos + 1], &m->sorted[pos], (m->n - pos) * sizeof(int));
	m->sorted[pos] = id;
	m->n++;
	m->occupied += (unsigned __int128)(l - s) + 1;
	if (m->n > stats.max_nodes)
		stats.max_nodes = m->n;
}

static void op_remove(struct model *m, struct itree *t)
{
	int pos, id;

	if (!m->n)
		return;
	pos = (int)rnd_below(m->n);
	id = m->sorted[pos];
	itree_remove(t, &m->pool[id].node);
	m->pool[id].in_tree = 0;
	m->occupied -= (unsigned __int128)(m->pool[id].node.last - m->pool[id].node.start) + 1;
	memmove(&m->sorted[pos], &m->sorted[pos + 1], (m->n - pos - 1) * sizeof(int));
	m->n--;
	m->free_ids[m->nfree++] = id;
}

static void op_lookup(struct model *m, const struct universe *u, struct itree *t)
{
	uint64_t s, l, a;
	struct itree_node *want;

	rand_range(u, &s, &l);
	want = m_first_overlap(m, s, l);
	ck_assert_ptr_eq(itree_first_overlap(t, s, l), want);
	/* Probe the boundaries of an existing node and just outside them. */
	if (m->n && rnd_below(2)) {
		const struct itree_node *x = &m->pool[m->sorted[rnd_below(m->n)]].node;
		uint64_t probes[4] = { x->start, x->last, x->start - 1, x->last + 1 };

		a = probes[rnd_below(4)];
	} else {
		a = rnd_addr(u);
	}
	ck_assert_ptr_eq(itree_find(t, a), m_first_overlap(m, a, a));
}

static void op_find_free(struct model *m, const struct universe *u, struct itree *t)
{
	uint64_t lo, hi, len, align, off, got = 0, want = 0, shift;
	int rc, erc;

	lo = rnd_addr(u);
	hi = rnd_addr(u);
	if (lo > hi) {
		uint64_t tmp = lo;

		lo = hi;
		hi = tmp;
	}
	switch (rnd_below(8)) {
	case 0:
		lo = u->base;
		hi = u_last(u);
		break;
	case 1:
		hi = U64MAX;
		break;
	case 2:
		hi = lo;
		break;
	default:
		break;
	}
	len = rnd_len(u->size);
	if (rnd_below(200) == 0)
		len = U64MAX - rnd_below(4);
	shift = rnd_below(4) ? rnd_below(6) : rnd_below(22);
	if (rnd_below(100) == 0)
		shift = 22 + rnd_below(42);
	align = 1ULL << shift;
	off = rnd_below(3) ? 0 : rnd_below(align);
	if (rnd_below(100) == 0)
		off = rnd(); /* the header allows ORing in anything */
	erc = m_find_free(m, lo, hi, len, align, off, &want);
	rc = itree_find_free(t, lo, hi, len, align, off, &got);
	ck_assert_msg(rc == erc && (rc || got == want),
		      "find_free lo %" PRIx64 " hi %" PRIx64 " len %" PRIx64 " align %" PRIx64
		      " off %" PRIx64 ": rc %d got %" PRIx64 ", expected rc %d %" PRIx64,
		      lo, hi, len, align, off, rc, got, erc, want);
	if (rc)
		stats.ff_nospc++;
	else
		stats.ff_hit++;
	if (!rc) {
		/* And the answer really is free: the model agrees, but check the claim itself. */
		ck_assert_ptr_null(m_first_overlap(m, got, got + len - 1));
		ck_assert(got >= lo && got + len - 1 <= hi && got + len - 1 >= got);
	}
}

static void compare_walk(const struct model *m, const struct itree *t)
{
	struct itree_node *x = itree_first(t);
	int i;

	for (i = 0; i < m->n; i++) {
		ck_assert_ptr_eq(x, &m->pool[m->sorted[i]].node);
		x = itree_next(x);
	}
	ck_assert_ptr_null(x);
	x = itree_last(t);
	for (i = m->n - 1; i >= 0; i--) {
		ck_assert_ptr_eq(x, &m->pool[m->sorted[i]].node);
		x = itree_prev(x);
	}
	ck_assert_ptr_null(x);
	ck_assert_uint_eq(t->count, (size_t)m->n);
}

static void drain(struct model *m, struct itree *t)
{
	while (m->n)
		op_remove(m, t);
	ck_assert_int_eq(itree_check(t), 0);
	ck_assert_ptr_null(t->root);
}

START_TEST(test_random)
{
	static const struct universe universes[] = {
		{ "small [0,4095]", 0, 4096 },
		{ "full 64-bit", 0, 0 },
		{ "top [2^64-4096, 2^64-1]", U64MAX - 4095, 4096 },
		{ "small [0,255]", 0, 256 },
	};
	/* Percent of the run per universe, and its insert weight out of 12 per mutation. */
	static const int share[] = { 40, 35, 15, 10 };
	static const int ins_bias[] = { 8, 9, 8, 8 };
	struct model *m = calloc(1, sizeof(*m));
	const char *env = getenv("ITREE_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 0x10a5f5eedULL;
	struct itree t;
	long op = 0;
	unsigned int ui;
	int i;

	ck_assert_ptr_nonnull(m);
	printf("test_itree: random cross-check, %d ops, seed 0x%" PRIx64 " (ITREE_SEED=...)\n",
	       RAND_OPS, seed);
	fflush(stdout);
	rng_state = seed;
	itree_init(&t);
	for (i = 0; i < POOL; i++)
		m->free_ids[i] = POOL - 1 - i;
	m->nfree = POOL;

	for (ui = 0; ui < sizeof(universes) / sizeof(universes[0]); ui++) {
		const struct universe *u = &universes[ui];
		long end = op + (long)RAND_OPS * share[ui] / 100;

		for (; op < end; op++) {
			uint64_t dice = rnd_below(16);
			int mutated = 0;

			/*
			 * Alternate phases that fill and drain, so that both packed and sparse
			 * trees are searched.
			 */
			if (dice < 6) {
				int bias = ((op / 5000) & 1) ? ins_bias[ui] - 4 : ins_bias[ui] + 4;

				if ((int)rnd_below(12) < bias)
					op_insert(m, u, &t);
				else
					op_remove(m, &t);
				mutated = 1;
			} else if (dice < 9) {
				op_lookup(m, u, &t);
			} else {
				op_find_free(m, u, &t);
			}
			if ((mutated && op < CHECK_EVERY_OP) || op % 1000 == 0)
				ck_assert_msg(itree_check(&t) == 0, "itree_check failed, op %ld",
					      op);
			if (op % 1000 == 0)
				compare_walk(m, &t);
			if (u->size && m->occupied == u->size)
				stats.full++;
		}
		compare_walk(m, &t);
		drain(m, &t);
		printf("  %-24s insert ok %ld eexist %ld, find_free hit %ld enospc %ld, "
		       "max nodes %d, ops while full %ld\n",
		       u->name, stats.ins_ok, stats.ins_exist, stats.ff_hit, stats.ff_nospc,
		       stats.max_nodes, stats.full);
		fflush(stdout);
		memset(&stats, 0, sizeof(stats));
	}
	ck_assert_int_eq(op, RAND_OPS);
	free(m);
	itree_clear(&t);
}
END_TEST

/* Fill a small universe completely, one address at a time in random order, then empty it. */
START_TEST(test_full_packing)
{
	enum { N = 512 };
	static struct item it[N];
	int order[N];
	struct itree t;
	uint64_t r, minfree = U64MAX;
	int i;

	rng_state = 12345;
	for (i = 0; i < N; i++)
		order[i] = i;
	for (i = N - 1; i > 0; i--) {
		int j = (int)rnd_below(i + 1), tmp = order[i];

		order[i] = order[j];
		order[j] = tmp;
	}
	itree_init(&t);
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(itree_insert(&t, mk(&it[order[i]], order[i], order[i])), 0);
		ck_assert_int_eq(itree_check(&t), 0);
	}
	ck_assert_int_eq(ff(&t, 0, N - 1, 1, 1, 0, &r), -ENOSPC);
	ck_assert_int_eq(ff(&t, 0, U64MAX, 1, 1, 0, &r), 0);
	ck_assert_uint_eq(r, N);
	ck_assert_uint_eq(itree_max_gap(&t), 0);
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(ff(&t, 0, N - 1, 1, 1, 0, &r), (i ? 0 : -ENOSPC));
		if (i)
			ck_assert_uint_eq(r, minfree);
		itree_remove(&t, &it[order[i]].node);
		if ((uint64_t)order[i] < minfree)
			minfree = order[i];
		ck_assert_int_eq(itree_check(&t), 0);
	}
	ck_assert_ptr_null(t.root);
	itree_clear(&t);
}
END_TEST

/*
 * Runs of neighbours, the pattern the finger serves: ascending and descending inserts,
 * lookups walking forwards and backwards, removals from the middle outwards, each checked
 * against the expected node and with itree_check() after every mutation.
 */
START_TEST(test_finger_runs)
{
	enum { N = 3000 };
	static struct itree_node nodes[N];
	struct itree t;
	unsigned i;

	/* _i = 0: a tree with gaps; 1: a plain one (the same answers, no free-space search) */
	if (_i)
		itree_init_plain(&t);
	else
		itree_init(&t);
	/* even slots ascending, then odd slots descending: every insert lands next to the finger */
	for (i = 0; i < N; i += 2) {
		nodes[i].start = 0x1000 + i * 0x1000;
		nodes[i].last = nodes[i].start + 0xfff;
		ck_assert_int_eq(itree_insert(&t, &nodes[i]), 0);
		ck_assert_int_eq(itree_check(&t), 0);
	}
	for (i = N - 1; i < N; i -= 2) {
		nodes[i].start = 0x1000 + i * 0x1000;
		nodes[i].last = nodes[i].start + 0xfff;
		ck_assert_int_eq(itree_insert(&t, &nodes[i]), 0);
		ck_assert_int_eq(itree_check(&t), 0);
	}
	ck_assert_uint_eq(t.count, N);
	/* overlapping a neighbour of the finger is still refused */
	{
		struct itree_node x = { .start = 0x1800, .last = 0x27ff };

		ck_assert_int_eq(itree_insert(&t, &x), -EEXIST);
	}
	for (i = 0; i < N; i++)
		ck_assert_ptr_eq(itree_find(&t, 0x1000 + i * 0x1000 + 7), &nodes[i]);
	for (i = N; i-- > 0;)
		ck_assert_ptr_eq(itree_first_overlap(&t, 0x1000 + i * 0x1000 + 0x800,
						     0x1000 + i * 0x1000 + 0x1800),
				 &nodes[i]);
	ck_assert_ptr_null(itree_find(&t, 0x1000 + N * 0x1000));
	ck_assert_ptr_null(itree_find(&t, 0xfff));
	/* remove from the middle outwards */
	for (i = 0; i < N / 2; i++) {
		itree_remove(&t, &nodes[N / 2 + i]);
		ck_assert_int_eq(itree_check(&t), 0);
		ck_assert_ptr_null(itree_find(&t, nodes[N / 2 + i].start));
		itree_remove(&t, &nodes[N / 2 - 1 - i]);
		ck_assert_int_eq(itree_check(&t), 0);
	}
	ck_assert_uint_eq(t.count, 0);
	ck_assert_ptr_null(t.root);
	if (_i) {
		uint64_t at;

		ck_assert_int_eq(itree_find_free(&t, 0, UINT64_MAX, 1, 1, 0, &at), -EINVAL);
	}
	itree_clear(&t);
}
END_TEST

/*
 * Churn in a deep tree: 100,000 slots inserted and removed at random, then long runs removed
 * at once, so that leaves and inner nodes split, empty, merge and the root changes hands;
 * itree_check() every 20,000 operations and after each run, and first-fit answers compared
 * with a walk over the ranges in order.
 */
START_TEST(test_deep_churn)
{
	enum { N = 100000, W = 16 };
	struct itree_node *a = calloc(N, sizeof(*a));
	char *in = calloc(N, 1);
	struct itree t;
	long ops = 0;

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(in);
	itree_init(&t);
	for (int round = 0; round < 4; round++) {
		unsigned from;

		for (int k = 0; k < N; k++) {
			unsigned i = (unsigned)rnd_below(N);

			if (!in[i]) {
				a[i].start = (uint64_t)i * W;
				a[i].last = a[i].start + rnd_below(W);
				ck_assert_int_eq(itree_insert(&t, &a[i]), 0);
			} else {
				itree_remove(&t, &a[i]);
			}
			in[i] = !in[i];
			if (++ops % 20000 == 0)
				ck_assert_int_eq(itree_check(&t), 0);
		}
		ck_assert_int_ge(t.depth, 3);
		from = (unsigned)rnd_below(N);
		for (unsigned i = from; i < N && i < from + N / 3; i++) {
			if (in[i])
				itree_remove(&t, &a[i]);
			in[i] = 0;
		}
		ck_assert_int_eq(itree_check(&t), 0);
		for (int q = 0; q < 300; q++) {
			uint64_t len = 1 + rnd_below(4 * W), lo = rnd_below((uint64_t)N * W);
			uint64_t hi = (uint64_t)N * W, want = 0, prev_end = 0, r;
			struct itree_node *n = itree_first(&t);
			bool found = false;

			/* holes in order: head, between ranges, tail; each clipped to [lo, hi] */
			for (;; n = itree_next(n)) {
				uint64_t hs = prev_end, he = n ? n->start - 1 : UINT64_MAX;

				if (n && n->start == prev_end) {
					prev_end = n->last + 1;
					continue;
				}
				hs = hs < lo ? lo : hs;
				he = he > hi ? hi : he;
				if (hs <= he && he - hs >= len - 1) {
					want = hs;
					found = true;
					break;
				}
				if (!n)
					break;
				prev_end = n->last + 1;
			}
			ck_assert_int_eq(itree_find_free(&t, lo, hi, len, 1, 0, &r),
					 found ? 0 : -ENOSPC);
			if (found)
				ck_assert_uint_eq(r, want);
		}
	}
	for (unsigned i = 0; i < N; i++)
		if (in[i])
			itree_remove(&t, &a[i]);
	ck_assert_int_eq(itree_check(&t), 0);
	ck_assert_ptr_null(t.root);
	free(a);
	free(in);
	itree_clear(&t);
}
END_TEST

/*
 * An insert that needs new nodes and cannot get them says ENOMEM and leaves the tree as it
 * was, whether no node could be had, all but the last, or all but the last with the others
 * taken from the nodes kept by an earlier failure: first with a full root leaf (a leaf and a
 * new root needed), then with a full leaf under a full inner node under a full root (four).
 */
static void enomem_case(struct itree *t, unsigned need, uint64_t at, int depth)
{
	/* how many mallocs succeed before the one that fails: none, all but one, none again */
	const long runs[3] = { 0, need - 1, 0 };
	size_t count = t->count;
	struct itree_node x = { .start = at, .last = at };

	for (int k = 0; k < 3; k++) {
		int r;

		/* Check allocates too: nothing between arming and disarming but the insert */
		fail_after = runs[k];
		r = itree_insert(t, &x);
		fail_after = -1;
		ck_assert_int_eq(r, -ENOMEM);
		ck_assert_int_eq(itree_check(t), 0);
		ck_assert_uint_eq(t->count, count);
		ck_assert_int_eq(t->depth, depth);
		ck_assert_ptr_null(itree_find(t, at));
	}
	ck_assert_int_eq(itree_insert(t, &x), 0);
	ck_assert_int_eq(t->depth, depth + 1);
	ck_assert_int_eq(itree_check(t), 0);
	itree_remove(t, &x);
}

START_TEST(test_enomem)
{
	enum { N = 32 * 32 * 32 };
	struct itree_node *a = calloc(N, sizeof(*a));
	struct itree t;

	ck_assert_ptr_nonnull(a);
	itree_init(&t);
	for (unsigned i = 0; i < 32; i++) {
		a[i].start = a[i].last = 2 * i;
		ck_assert_int_eq(itree_insert(&t, &a[i]), 0);
	}
	enomem_case(&t, 2, 1, 1);
	itree_clear(&t);
	/* ascending inserts fill every node: 32^3 ranges are three full levels */
	for (unsigned i = 0; i < N; i++) {
		a[i].start = a[i].last = 2 * (uint64_t)i + 2;
		ck_assert_int_eq(itree_insert(&t, &a[i]), 0);
	}
	ck_assert_int_eq(t.depth, 3);
	enomem_case(&t, 4, 3, 3);
	itree_clear(&t);
	free(a);
}
END_TEST

static Suite *itree_suite(void)
{
	Suite *s = suite_create("itree");
	TCase *tc = tcase_create("core");

	/* The randomized and scale cases take seconds under sanitizers. */
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_check_detects);
	tcase_add_test(tc, test_find_free_edges);
	tcase_add_test(tc, test_full_packing);
	tcase_add_test(tc, test_scale);
	tcase_add_test(tc, test_random);
	tcase_add_test(tc, test_deep_churn);
	tcase_add_test(tc, test_enomem);
	tcase_add_loop_test(tc, test_finger_runs, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(itree_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
