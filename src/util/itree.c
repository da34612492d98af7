/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * B+tree interval tree with cached free gaps (see itree.h).
 *
 * Leaves hold the ranges in order as (start, last, node) triples and are chained; an inner
 * node holds for each child the first start in it (key) and the largest gap inside it. Keys
 * are exact, so a leaf's stretch of the address space is from its first start to the next
 * leaf's: an insert next to the last one (the finger) needs no descent from the root. The gap of a
 * leaf's first range depends on the previous leaf's last one, so a change at a leaf's end also
 * refreshes the next leaf. A leaf or inner node that falls below a quarter full merges with a
 * neighbour under the same parent when both fit in one; empty nodes go, and a root with one child
 * hands over to it. The arrays are small enough that scanning them is cheaper than anything
 * cleverer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/itree.h"

#define LEAF_MAX  32
#define INNER_MAX 32
#define MAX_DEPTH 24 /* 16^23 ranges would not fit in memory */

struct itree_inner;

struct ent {
	uint64_t start, last;
	struct itree_node *node;
};

struct itree_leaf {
	struct itree_inner *parent;
	unsigned pidx; /* index in parent->child[] */
	struct itree_leaf *prev, *next;
	unsigned n;
	uint64_t max_gap;
	struct ent e[LEAF_MAX];
};

struct itree_inner {
	struct itree_inner *parent;
	unsigned pidx;
	unsigned n;
	uint64_t key[INNER_MAX];
	uint64_t gap[INNER_MAX];
	void *child[INNER_MAX];
};

/* Both node kinds begin with the parent pointer and their index under it. */
struct hdr {
	struct itree_inner *parent;
	unsigned pidx;
};

static inline struct itree_inner **parent_of(void *x)
{
	return &((struct hdr *)x)->parent;
}

/*
 * x's first start is now k: so is the key that leads to it, up to the first ancestor that is
 * not a first child.
 */
static void first_changed(void *x, uint64_t k)
{
	struct itree_inner *p;

	for (; (p = *parent_of(x)); x = p) {
		unsigned i = ((struct hdr *)x)->pidx;

		p->key[i] = k;
		if (i)
			return;
	}
}

/* Children from index i on learn where they are (after an array moved). */
static void reindex(struct itree_inner *p, unsigned i)
{
	for (; i < p->n; i++)
		((struct hdr *)p->child[i])->pidx = i;
}

void itree_init(struct itree *t)
{
	memset(t, 0, sizeof(*t));
}

void itree_init_plain(struct itree *t)
{
	itree_init(t);
	t->plain = true;
}

union anynode {
	struct itree_leaf leaf;
	struct itree_inner inner;
};

/*
 * Nodes come from the tree's own list of freed ones first: a driver that unmaps and maps the
 * same number of ranges again (a ring of buffers) then asks malloc for nothing, and the heap
 * is not trimmed and faulted back in at every cycle. The list lives until itree_clear().
 */
static void *node_get(struct itree *t)
{
	void *x = t->spare;

	if (!x)
		return malloc(sizeof(union anynode));
	t->spare = *(void **)x;
	return x;
}

static void node_put(struct itree *t, void *x)
{
	*(void **)x = t->spare;
	t->spare = x;
}

/* An empty tree, keeping its kind and its freed nodes. */
static void reset(struct itree *t)
{
	bool plain = t->plain;
	void *spare = t->spare;

	itree_init(t);
	t->plain = plain;
	t->spare = spare;
}

static void free_sub(void *x, int depth)
{
	if (depth > 1) {
		struct itree_inner *in = x;

		for (unsigned i = 0; i < in->n; i++)
			free_sub(in->child[i], depth - 1);
	}
	free(x);
}

void itree_clear(struct itree *t)
{
	if (t->root)
		free_sub(t->root, t->depth);
	while (t->spare) {
		void *x = t->spare;

		t->spare = *(void **)x;
		free(x);
	}
	reset(t);
}

/* ---------------------------------------------------------------- searching */

/*
 * Index of the child of `in` whose range holds addr: the last key <= addr, else 0. Both
 * searches halve without branches on the data (the compiler emits a conditional move), since
 * a driver's addresses make the branches of a plain binary search unpredictable.
 */
static unsigned route(const struct itree_inner *in, uint64_t addr)
{
	const uint64_t *b = in->key;
	unsigned n = in->n;

	while (n > 1) {
		unsigned h = n / 2;

		b = b[h] <= addr ? b + h : b;
		n -= h;
	}
	return (unsigned)(b - in->key);
}

/* Number of entries of L starting at or below addr. */
static unsigned upper(const struct itree_leaf *L, uint64_t addr)
{
	const struct ent *b = L->e;
	unsigned n = L->n;

	if (!n)
		return 0;
	while (n > 1) {
		unsigned h = n / 2;

		b = b[h].start <= addr ? b + h : b;
		n -= h;
	}
	return (unsigned)(b - L->e) + (b->start <= addr);
}

/*
 * Ask for every cache line of a node's search array at once: the search then waits for one
 * memory access per level instead of one per probe (a million mappings do not fit in cache).
 */
static inline void prefetch_span(const void *p, size_t len)
{
	for (size_t o = 0; o < len; o += 64)
		__builtin_prefetch((const char *)p + o);
}

static struct itree_leaf *descend(const struct itree *t, uint64_t addr)
{
	void *x = t->root;

	for (int d = t->depth; d > 1; d--) {
		struct itree_inner *in = x;

		x = in->child[route(in, addr)];
		prefetch_span(x, d > 2 ? offsetof(struct itree_inner, gap)
				       : offsetof(struct itree_leaf, e) +
					     sizeof(struct ent) * LEAF_MAX);
	}
	return x;
}

/*
 * The leaf holding the last range starting at or below addr, if there is one, else the first
 * leaf: where a lookup looks and where an insert goes, since keys are exact first starts. From
 * the finger when addr falls in its stretch (from its first start, or from 0 for the first
 * leaf, to the next leaf's first start).
 */
static struct itree_leaf *leaf_at(const struct itree *t, uint64_t addr)
{
	struct itree_leaf *f = t->finger;

	if (f && (f == t->head || f->e[0].start <= addr) &&
	    (!f->next || f->next->e[0].start > addr))
		return f;
	f = descend(t, addr);
	((struct itree *)t)->finger = f; /* see struct itree: a cache, not state */
	return f;
}

static unsigned index_of(const struct itree_node *n)
{
	return upper(n->leaf, n->start) - 1;
}

/*
 * upper() for the finger leaf, trying first the slot where the last search there ended and
 * the one after it: a run of neighbours then costs two comparisons instead of a search.
 */
static unsigned upper_near(const struct itree *t, const struct itree_leaf *L, uint64_t addr)
{
	if (L == t->finger) {
		for (unsigned k = t->fidx; k <= t->fidx + 1 && k <= L->n; k++)
			if ((!k || L->e[k - 1].start <= addr) &&
			    (k == L->n || L->e[k].start > addr))
				return k;
	}
	return upper(L, addr);
}

struct itree_node *itree_first_overlap(const struct itree *t, uint64_t start, uint64_t last)
{
	struct itree_leaf *L;
	unsigned j;

	if (!t->root || start > last)
		return NULL;
	L = leaf_at(t, start);
	j = upper_near(t, L, start);
	((struct itree *)t)->fidx = j;
	/* the last range starting at or below start, if it reaches start */
	if (j && L->e[j - 1].last >= start)
		return L->e[j - 1].node;
	if (j == L->n) {
		L = L->next;
		j = 0;
	}
	return L && L->e[j].start <= last ? L->e[j].node : NULL;
}

struct itree_node *itree_find(const struct itree *t, uint64_t addr)
{
	return itree_first_overlap(t, addr, addr);
}

struct itree_node *itree_first(const struct itree *t)
{
	return t->head ? t->head->e[0].node : NULL;
}

struct itree_node *itree_last(const struct itree *t)
{
	return t->tail ? t->tail->e[t->tail->n - 1].node : NULL;
}

struct itree_node *itree_next(const struct itree_node *n)
{
	const struct itree_leaf *L = n->leaf;
	unsigned j = index_of(n);

	if (j + 1 < L->n)
		return L->e[j + 1].node;
	return L->next ? L->next->e[0].node : NULL;
}

struct itree_node *itree_prev(const struct itree_node *n)
{
	const struct itree_leaf *L = n->leaf;
	unsigned j = index_of(n);

	if (j)
		return L->e[j - 1].node;
	return L->prev ? L->prev->e[L->prev->n - 1].node : NULL;
}

/* ---------------------------------------------------------------- gaps */

static uint64_t gap_of(const struct itree_leaf *L, unsigned j)
{
	if (j)
		return L->e[j].start - L->e[j - 1].last - 1;
	/* the head hole belongs to no range */
	return L->prev ? L->e[0].start - L->prev->e[L->prev->n - 1].last - 1 : 0;
}

/* Where x is in its parent's arrays. */
static unsigned child_index(const void *x)
{
	return ((const struct hdr *)x)->pidx;
}

static uint64_t inner_max(const struct itree_inner *in)
{
	uint64_t m = 0;

	for (unsigned i = 0; i < in->n; i++)
		if (in->gap[i] > m)
			m = in->gap[i];
	return m;
}

/* x's largest gap is m: tell its ancestors, as far as anything changes. */
static void propagate(void *x, uint64_t m)
{
	struct itree_inner *p;

	for (; (p = *parent_of(x)); x = p) {
		unsigned i = child_index(x);

		if (p->gap[i] == m)
			return;
		p->gap[i] = m;
		m = inner_max(p);
	}
}

/* Recompute L's largest gap and pass it up. */
static void refresh(const struct itree *t, struct itree_leaf *L)
{
	uint64_t m = 0;

	if (t->plain || !L)
		return;
	for (unsigned j = 0; j < L->n; j++) {
		uint64_t g = gap_of(L, j);

		if (g > m)
			m = g;
	}
	L->max_gap = m;
	propagate(L, m);
}

/*
 * A change at L took gaps of at most `lost` away and brought gaps of at most `added`: the
 * largest gap moves only if a new one beats it or the largest one may be gone.
 */
static void regap(const struct itree *t, struct itree_leaf *L, uint64_t lost, uint64_t added)
{
	if (t->plain || !L)
		return;
	if (added > L->max_gap) {
		L->max_gap = added;
		propagate(L, added);
	} else if (lost == L->max_gap && lost > added) {
		refresh(t, L);
	}
}

static uint64_t max2(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

uint64_t itree_max_gap(const struct itree *t)
{
	if (!t->root)
		return 0;
	return t->depth == 1 ? ((struct itree_leaf *)t->root)->max_gap : inner_max(t->root);
}

/* ---------------------------------------------------------------- insert */

static void set_ent(struct itree_leaf *L, unsigned j, struct itree_node *n)
{
	L->e[j] = (struct ent){ n->start, n->last, n };
	n->leaf = L;
}

/* Put child c (lower bound key, largest gap g) into p at index i; p has room. */
static void inner_put(struct itree_inner *p, unsigned i, uint64_t key, uint64_t g, void *c)
{
	memmove(&p->key[i + 1], &p->key[i], (p->n - i) * sizeof(p->key[0]));
	memmove(&p->gap[i + 1], &p->gap[i], (p->n - i) * sizeof(p->gap[0]));
	memmove(&p->child[i + 1], &p->child[i], (p->n - i) * sizeof(p->child[0]));
	p->key[i] = key;
	p->gap[i] = g;
	p->child[i] = c;
	*parent_of(c) = p;
	p->n++;
	reindex(p, i);
}

static uint64_t node_max(const void *x, bool leaf)
{
	return leaf ? ((const struct itree_leaf *)x)->max_gap : inner_max(x);
}

/*
 * Hang `right` (lower bound key) beside `left` in left's parent, splitting parents as needed
 * with the nodes in spare (enough were allocated). `leaf`: they are leaves.
 */
static void hang(struct itree *t, void *left, void *right, uint64_t key, bool leaf,
		 struct itree_inner **spare)
{
	struct itree_inner *p = *parent_of(left), *q;
	unsigned i, half;

	if (!p) {
		p = *spare++;
		p->parent = NULL;
		p->n = 0;
		inner_put(p, 0,
			  leaf ? ((struct itree_leaf *)left)->e[0].start
			       : ((struct itree_inner *)left)->key[0],
			  node_max(left, leaf), left);
		inner_put(p, 1, key, node_max(right, leaf), right);
		t->root = p;
		t->depth++;
		return;
	}
	i = child_index(left) + 1;
	if (p->n < INNER_MAX) {
		inner_put(p, i, key, node_max(right, leaf), right);
		propagate(p, inner_max(p));
		return;
	}
	/*
	 * Split p: the upper half goes to q; or, when the new child goes after all of p's, q
	 * starts with it alone, so that ranges added in ascending order fill their nodes.
	 */
	half = i == INNER_MAX ? INNER_MAX : INNER_MAX / 2;
	q = *spare++;
	q->parent = NULL;
	q->n = INNER_MAX - half;
	memcpy(q->key, &p->key[half], q->n * sizeof(q->key[0]));
	memcpy(q->gap, &p->gap[half], q->n * sizeof(q->gap[0]));
	memcpy(q->child, &p->child[half], q->n * sizeof(q->child[0]));
	for (unsigned k = 0; k < q->n; k++)
		*parent_of(q->child[k]) = q;
	reindex(q, 0);
	p->n = half;
	if (i <= half && half < INNER_MAX)
		inner_put(p, i, key, node_max(right, leaf), right);
	else
		inner_put(q, i - half, key, node_max(right, leaf), right);
	hang(t, p, q, q->key[0], false, spare);
	propagate(p, inner_max(p));
	propagate(q, inner_max(q));
}

int itree_insert(struct itree *t, struct itree_node *n)
{
	struct itree_inner *spare[MAX_DEPTH + 1];
	struct itree_leaf *L, *R;
	struct ent *pred = NULL, *succ = NULL;
	unsigned j, need = 0, got;
	uint64_t og;

	if (n->start > n->last)
		return -EINVAL;
	if (!t->root) {
		L = node_get(t);
		if (!L)
			return -ENOMEM;
		memset(L, 0, sizeof(*L));
		set_ent(L, 0, n);
		L->n = 1;
		t->root = t->head = t->tail = t->finger = L;
		t->depth = 1;
		t->count = 1;
		return 0;
	}
	L = leaf_at(t, n->start);
	j = upper_near(t, L, n->start);
	/* neighbours are disjoint and sorted, so only they can intersect n */
	if (j)
		pred = &L->e[j - 1];
	else if (L->prev)
		pred = &L->prev->e[L->prev->n - 1];
	if (j < L->n)
		succ = &L->e[j];
	else if (L->next)
		succ = &L->next->e[0];
	if ((pred && pred->last >= n->start) || (succ && succ->start <= n->last))
		return -EEXIST;

	/* every full node on the way up splits, and a full root needs a new one above */
	if (L->n == LEAF_MAX) {
		struct itree_inner *p = L->parent;

		need = 1;
		while (p && p->n == INNER_MAX) {
			need++;
			p = p->parent;
		}
		if (!p)
			need++;
	}
	R = NULL;
	if (need) {
		R = node_get(t);
		for (got = 0; R && got < need - 1; got++)
			if (!(spare[got] = node_get(t)))
				break;
		if (!R || got < need - 1) {
			if (R)
				node_put(t, R);
			while (got--)
				node_put(t, spare[got]);
			return -ENOMEM;
		}
	}
	if (R) {
		/* as in hang(): an append after all of L's ranges starts R with n alone */
		unsigned half = j == LEAF_MAX ? LEAF_MAX : LEAF_MAX / 2;

		R->n = LEAF_MAX - half;
		R->parent = NULL;
		R->max_gap = 0;
		for (unsigned k = 0; k < R->n; k++) {
			R->e[k] = L->e[half + k];
			R->e[k].node->leaf = R;
		}
		L->n = half;
		R->prev = L;
		R->next = L->next;
		if (L->next)
			L->next->prev = R;
		else
			t->tail = R;
		L->next = R;
		if (j > half || half == LEAF_MAX) {
			L = R;
			j -= half;
		}
	}
	/* the gap n splits: in front of L's j-th range, or of the next leaf's first */
	og = t->plain || R ? 0 : j < L->n ? gap_of(L, j) : L->next ? gap_of(L->next, 0) : 0;
	memmove(&L->e[j + 1], &L->e[j], (L->n - j) * sizeof(L->e[0]));
	set_ent(L, j, n);
	L->n++;
	t->count++;
	t->finger = L;
	t->fidx = j + 1;
	if (!j)
		first_changed(L, n->start);
	if (R) {
		struct itree_leaf *left = R->prev;

		refresh(t, left);
		refresh(t, R);
		hang(t, left, R, R->e[0].start, true, spare);
		refresh(t, R->next);
	} else if (!t->plain) {
		if (j + 1 < L->n) {
			regap(t, L, og, max2(gap_of(L, j), gap_of(L, j + 1)));
		} else {
			regap(t, L, 0, gap_of(L, j));
			if (L->next)
				regap(t, L->next, og, gap_of(L->next, 0));
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- remove */

/* Take child i out of p. */
static void inner_take(struct itree_inner *p, unsigned i)
{
	memmove(&p->key[i], &p->key[i + 1], (p->n - i - 1) * sizeof(p->key[0]));
	memmove(&p->gap[i], &p->gap[i + 1], (p->n - i - 1) * sizeof(p->gap[0]));
	memmove(&p->child[i], &p->child[i + 1], (p->n - i - 1) * sizeof(p->child[0]));
	p->n--;
	reindex(p, i);
	if (!i && p->n)
		first_changed(p, p->key[0]);
}

static void unlink_leaf(struct itree *t, struct itree_leaf *L)
{
	if (L->prev)
		L->prev->next = L->next;
	else
		t->head = L->next;
	if (L->next)
		L->next->prev = L->prev;
	else
		t->tail = L->prev;
	if (t->finger == L)
		t->finger = NULL;
}

static void shrink(struct itree *t, struct itree_inner *p);

/* Merge leaf b into its left neighbour a (same parent, both fit in one). */
static void merge_leaves(struct itree *t, struct itree_leaf *a, struct itree_leaf *b)
{
	for (unsigned k = 0; k < b->n; k++) {
		a->e[a->n + k] = b->e[k];
		a->e[a->n + k].node->leaf = a;
	}
	a->n += b->n;
	unlink_leaf(t, b);
	inner_take(b->parent, child_index(b));
	node_put(t, b);
	refresh(t, a);
}

static void merge_inners(struct itree *t, struct itree_inner *a, struct itree_inner *b)
{
	for (unsigned k = 0; k < b->n; k++) {
		a->key[a->n + k] = b->key[k];
		a->gap[a->n + k] = b->gap[k];
		a->child[a->n + k] = b->child[k];
		*parent_of(b->child[k]) = a;
	}
	a->n += b->n;
	reindex(a, a->n - b->n);
	inner_take(b->parent, child_index(b));
	node_put(t, b);
}

/*
 * p lost a child: pass its gap up, drop it if empty, hand the root over to a single child,
 * merge it into a neighbour when it fell below a quarter and both fit in one node.
 */
static void shrink(struct itree *t, struct itree_inner *p)
{
	struct itree_inner *g = p->parent;
	unsigned i;

	if (!g) {
		if (p->n == 1) {
			t->root = p->child[0];
			*parent_of(t->root) = NULL;
			t->depth--;
			node_put(t, p);
		}
		return;
	}
	i = child_index(p);
	if (!p->n) {
		inner_take(g, i);
		node_put(t, p);
		shrink(t, g);
		return;
	}
	if (p->n < INNER_MAX / 4) {
		if (i + 1 < g->n &&
		    p->n + ((struct itree_inner *)g->child[i + 1])->n <= INNER_MAX) {
			merge_inners(t, p, g->child[i + 1]);
			propagate(p, inner_max(p));
			shrink(t, g);
			return;
		}
		if (i && p->n + ((struct itree_inner *)g->child[i - 1])->n <= INNER_MAX) {
			struct itree_inner *a = g->child[i - 1];

			merge_inners(t, a, p);
			propagate(a, inner_max(a));
			shrink(t, g);
			return;
		}
	}
	propagate(p, inner_max(p));
}

void itree_remove(struct itree *t, struct itree_node *n)
{
	struct itree_leaf *L = n->leaf, *next = L->next;
	struct itree_inner *p = L->parent;
	unsigned j = upper_near(t, L, n->start) - 1, i;
	/* the gaps in front of n and of what follows it merge into one */
	uint64_t lost = 0, lost_next = 0;

	if (!t->plain) {
		lost = gap_of(L, j);
		if (j + 1 < L->n)
			lost = max2(lost, gap_of(L, j + 1));
		else if (next)
			lost_next = gap_of(next, 0);
	}
	memmove(&L->e[j], &L->e[j + 1], (L->n - j - 1) * sizeof(L->e[0]));
	L->n--;
	t->count--;
	n->leaf = NULL;
	if (!L->n) {
		unlink_leaf(t, L);
		if (!p) {
			node_put(t, L);
			reset(t);
			return;
		}
		inner_take(p, child_index(L));
		node_put(t, L);
		shrink(t, p);
		refresh(t, next); /* its first gap now reaches back further */
		return;
	}
	t->finger = L;
	t->fidx = j;
	if (!j)
		first_changed(L, L->e[0].start);
	if (p && L->n < LEAF_MAX / 4) {
		i = child_index(L);
		if (i + 1 < p->n && L->n + ((struct itree_leaf *)p->child[i + 1])->n <= LEAF_MAX) {
			merge_leaves(t, L, p->child[i + 1]);
			shrink(t, p);
			refresh(t, L->next);
			return;
		}
		if (i && L->n + ((struct itree_leaf *)p->child[i - 1])->n <= LEAF_MAX) {
			struct itree_leaf *a = p->child[i - 1];

			merge_leaves(t, a, L);
			shrink(t, p);
			t->finger = a;
			refresh(t, a->next);
			return;
		}
	}
	if (t->plain)
		return;
	if (j < L->n) {
		regap(t, L, lost, gap_of(L, j));
	} else {
		regap(t, L, lost, 0);
		if (next)
			regap(t, next, lost_next, gap_of(next, 0));
	}
}

/* ---------------------------------------------------------------- free space */

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

enum { FF_ON, FF_FOUND, FF_STOP };

/*
 * In-order first-fit over the gaps of a subtree. Ranges starting at or below lo have their
 * gap wholly below lo; once a range reaches hi, no later gap starts inside [lo, hi] (FF_STOP).
 */
static int ff_leaf(const struct itree_leaf *L, const struct ff_query *q, uint64_t *ret)
{
	unsigned j = upper(L, q->lo);

	if (j && L->e[j - 1].last >= q->hi)
		return FF_STOP;
	for (; j < L->n; j++) {
		uint64_t g = gap_of(L, j);

		if (g >= q->length && try_hole(q, L->e[j].start - g, L->e[j].start - 1, ret))
			return FF_FOUND;
		if (L->e[j].last >= q->hi)
			return FF_STOP;
	}
	return FF_ON;
}

static int ff_sub(const void *x, int depth, const struct ff_query *q, uint64_t *ret)
{
	const struct itree_inner *in = x;

	if (depth == 1)
		return ff_leaf(x, q, ret);
	for (unsigned i = route(in, q->lo); i < in->n; i++) {
		if (in->gap[i] >= q->length) {
			int r = ff_sub(in->child[i], depth - 1, q, ret);

			if (r != FF_ON)
				return r;
		}
		/* every range of child i starts, so ends, above hi: later gaps start above it */
		if (in->key[i] > q->hi)
			return FF_STOP;
	}
	return FF_ON;
}

int itree_find_free(const struct itree *t, uint64_t lo, uint64_t hi, uint64_t length,
		    uint64_t align, uint64_t offset, uint64_t *ret)
{
	struct ff_query q = {
		.lo = lo, .hi = hi, .length = length, .align = align, .offset = offset
	};
	const struct itree_node *first, *last;

	if (!length || !align || (align & (align - 1)) || lo > hi || t->plain)
		return -EINVAL;
	/* The head and tail holes belong to no range; in an empty tree the hole is everything. */
	first = itree_first(t);
	if (!first)
		return try_hole(&q, 0, UINT64_MAX, ret) ? 0 : -ENOSPC;
	if (first->start && try_hole(&q, 0, first->start - 1, ret))
		return 0;
	switch (ff_sub(t->root, t->depth, &q, ret)) {
	case FF_FOUND:
		return 0;
	case FF_STOP:
		return -ENOSPC;
	}
	last = itree_last(t);
	if (last->last != UINT64_MAX && try_hole(&q, last->last + 1, UINT64_MAX, ret))
		return 0;
	return -ENOSPC;
}

/* ---------------------------------------------------------------- checking */

struct check_state {
	const struct itree *t;
	const struct itree_leaf *prev_leaf;
	const struct ent *prev;
	size_t seen;
	int leaf_depth;
};

/*
 * Checks the subtree x at depth d (root 1) whose starts must lie in [lo, hi_excl) (hi_excl
 * 0: unbounded) and whose parent is p; returns its largest gap through *gap. -1 on any
 * violation.
 */
static int check_sub(const void *x, const struct itree_inner *p, int d, uint64_t lo,
		     uint64_t hi_excl, struct check_state *s, uint64_t *gap, uint64_t *first)
{
	if (d > MAX_DEPTH || *parent_of((void *)x) != p)
		return -1;
	if (p && p->child[((const struct hdr *)x)->pidx] != x)
		return -1;
	if (d == s->t->depth) {
		const struct itree_leaf *L = x;
		uint64_t m = 0;

		if (!L->n || L->n > LEAF_MAX || (p && L->n > LEAF_MAX) || L->prev != s->prev_leaf)
			return -1;
		if ((s->prev_leaf ? s->prev_leaf->next : s->t->head) != L)
			return -1;
		for (unsigned j = 0; j < L->n; j++) {
			const struct ent *e = &L->e[j];

			if (e->start > e->last || e->start < lo || (hi_excl && e->start >= hi_excl))
				return -1;
			if (!e->node || e->node->start != e->start || e->node->last != e->last ||
			    e->node->leaf != L)
				return -1;
			if (s->prev && s->prev->last >= e->start)
				return -1;
			if (gap_of(L, j) > m)
				m = gap_of(L, j);
			s->prev = e;
			s->seen++;
		}
		if (L->max_gap != (s->t->plain ? 0 : m))
			return -1;
		s->prev_leaf = L;
		*gap = L->max_gap;
		*first = L->e[0].start;
		return 0;
	} else {
		const struct itree_inner *in = x;
		uint64_t m = 0;

		if (!in->n || in->n > INNER_MAX || (!p && in->n < 2) || in->key[0] < lo)
			return -1;
		for (unsigned i = 0; i < in->n; i++) {
			uint64_t end = i + 1 < in->n ? in->key[i + 1] : hi_excl, g, f;

			if (i + 1 < in->n && in->key[i + 1] <= in->key[i])
				return -1;
			if (check_sub(in->child[i], in, d + 1, in->key[i], end, s, &g, &f) < 0)
				return -1;
			/* keys are exact: the first start of the child */
			if (in->gap[i] != g || in->key[i] != f)
				return -1;
			if (!i)
				*first = f;
			if (g > m)
				m = g;
		}
		*gap = m;
		return 0;
	}
}

int itree_check(const struct itree *t)
{
	struct check_state s = { .t = t };
	uint64_t g, f;

	if (!t->root)
		return t->count || t->depth || t->head || t->tail ? -EFAULT : 0;
	if (t->depth < 1 || t->depth > MAX_DEPTH)
		return -EFAULT;
	if (check_sub(t->root, NULL, 1, 0, 0, &s, &g, &f) < 0)
		return -EFAULT;
	if (s.seen != t->count || s.prev_leaf != t->tail || t->tail->next)
		return -EFAULT;
	return 0;
}
