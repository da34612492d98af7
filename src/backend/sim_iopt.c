/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sim's io_pagetable: reserved ranges, the automatic IOVA allocator (iopt_alloc_iova)
 * and the areas of an IOAS, as drivers/iommu/iommufd/io_pagetable.c keeps them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "util/itree.h"
#include "util/slab.h"
#include "backend/sim_int.h"

/* ---- reserved ranges ---- */

static int resv_cmp(const void *a, const void *b)
{
	const struct sim_resv *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * Replace the reserved nodes in the tree by the union of ioas->resv, built in `nodes` (room
 * for nresv entries; it may be the current array). The caller has made sure no range meets an
 * area, so the inserts cannot fail.
 */
static void ioas_rebuild_union(struct sim_ioas *ioas, struct sim_area *nodes)
{
	size_t i, n = 0;

	for (i = 0; i < ioas->nrnodes; i++)
		itree_remove(&ioas->tree, &ioas->rnodes[i].node);
	if (nodes != ioas->rnodes)
		free(ioas->rnodes);
	ioas->rnodes = nodes;

	for (i = 0; i < ioas->nresv; i++) {
		const struct sim_resv *r = &ioas->resv[i];
		struct sim_area *prev = n ? &nodes[n - 1] : NULL;

		/* Overlapping or touching ranges merge, as the kernel's span iterators see them. */
		if (prev && (prev->node.last == UINT64_MAX || r->start <= prev->node.last + 1)) {
			if (r->last > prev->node.last)
				prev->node.last = r->last;
			continue;
		}
		memset(&nodes[n], 0, sizeof(nodes[n]));
		nodes[n].node.start = r->start;
		nodes[n].node.last = r->last;
		nodes[n].flags = AREA_RESERVED;
		n++;
	}
	ioas->nrnodes = n;
	for (i = 0; i < n; i++) {
		/*
		 * A reserved range over a mapping would be a bug in the checks above; the only
		 * other failure is a tree node of a few hundred bytes that malloc refused, which
		 * the kernel's small GFP_KERNEL allocations never see either.
		 */
		if (itree_insert(&ioas->tree, &nodes[i].node))
			abort();
	}
}

/* Add already-validated ranges. Allocates first, so -ENOMEM leaves everything unchanged. */
int ioas_add_reserved(struct sim_ioas *ioas, const struct sim_resv *add, size_t nadd)
{
	size_t n = ioas->nresv + nadd;
	struct sim_resv *resv;
	struct sim_area *nodes;

	if (!nadd)
		return 0;
	resv = malloc(n * sizeof(*resv));
	nodes = malloc(n * sizeof(*nodes));
	if (!resv || !nodes) {
		free(resv);
		free(nodes);
		return -ENOMEM;
	}
	if (ioas->nresv)
		memcpy(resv, ioas->resv, ioas->nresv * sizeof(*resv));
	memcpy(resv + ioas->nresv, add, nadd * sizeof(*resv));
	qsort(resv, n, sizeof(*resv), resv_cmp);
	free(ioas->resv);
	ioas->resv = resv;
	ioas->nresv = n;
	ioas_rebuild_union(ioas, nodes);
	return 0;
}

/* Drop one owner's ranges in place: never allocates, so detach cannot fail. */
void ioas_remove_reserved(struct sim_ioas *ioas, const void *owner)
{
	size_t i, n = 0;

	for (i = 0; i < ioas->nresv; i++) {
		if (ioas->resv[i].owner != owner)
			ioas->resv[n++] = ioas->resv[i];
	}
	if (n == ioas->nresv)
		return;
	ioas->nresv = n;
	/* The union of a subset has at most as many ranges, so rnodes has room. */
	ioas_rebuild_union(ioas, ioas->rnodes);
}

/* ---- the automatic IOVA allocator (iopt_alloc_iova) ---- */

/*
 * One allowed span [lo, hi]: the kernel first checks the span is long enough, moves its start
 * to ALIGN(lo) | page_offset, and then tries the holes of reserved ∪ areas inside what is
 * left, each at ALIGN(hole start) | page_offset, lowest first (itree_find_free does the last
 * part). The alignment step refuses to wrap past UINT64_MAX, where the kernel's ALIGN() would
 * wrap; no span reaches that high since spans end at UINT64_MAX - PAGE_SIZE.
 */
static int alloc_in_span(const struct sim_ioas *ioas, uint64_t lo, uint64_t hi, uint64_t length,
			 uint64_t align, uint64_t page_offset, uint64_t *iova)
{
	uint64_t start = lo;

	if (hi - lo < length - 1)
		return -ENOSPC;
	if (start & (align - 1)) {
		if (start > UINT64_MAX - align)
			return -ENOSPC;
		start = (start | (align - 1)) + 1;
	}
	start |= page_offset;
	if (start > hi || hi - start < length - 1)
		return -ENOSPC;
	return itree_find_free(&ioas->tree, start, hi, length, align, page_offset, iova);
}

static int alloc_iova(const struct sim_ioas *ioas, uint64_t addr, uint64_t length, uint64_t *iova)
{
	const uint64_t span_lo = SIM_PAGE, span_hi = UINT64_MAX - SIM_PAGE;
	uint64_t page_offset = addr % SIM_PAGE;
	uint64_t align;
	size_t i;

	/* Protects roundup_pow2() as in the kernel, hence EOVERFLOW rather than ENOSPC. */
	if (!length || length >= UINT64_MAX / 2)
		return -EOVERFLOW;
	/* Keep the alignment present in the address so the IOVA can use the same huge pages. */
	align = roundup_pow2(length);
	if (addr && lowest_bit(addr) < align)
		align = lowest_bit(addr);
	if (align >= BACKEND_HPAGE_SIZE)
		align = BACKEND_HPAGE_SIZE;
	if (align < ioas->iova_alignment)
		return -EINVAL;

	/*
	 * The kernel refuses a span or hole whose aligned start is its last byte
	 * (__alloc_iova_check_range: aligned_start >= last), which for every length but 1 is
	 * already "too short"; so a 1-byte map is placed as if it needed 2 bytes and never takes
	 * a 1-byte hole (found by tests/conform against a 7.3 kernel).
	 */
	if (length == 1)
		length = 2;
	/* Never IOVA 0 and never the last page, even when allowed. */
	if (!ioas->nallowed)
		return alloc_in_span(ioas, span_lo, span_hi, length, align, page_offset, iova);
	for (i = 0; i < ioas->nallowed; i++) {
		uint64_t lo = ioas->allowed[i].start, hi = ioas->allowed[i].last;

		/* Touching allowed ranges form one span, as the kernel's span iterator sees. */
		while (i + 1 < ioas->nallowed && hi != UINT64_MAX &&
		       ioas->allowed[i + 1].start == hi + 1)
			hi = ioas->allowed[++i].last;
		if (hi < span_lo || lo > span_hi)
			continue;
		if (lo < span_lo)
			lo = span_lo;
		if (hi > span_hi)
			hi = span_hi;
		if (!alloc_in_span(ioas, lo, hi, length, align, page_offset, iova))
			return 0;
	}
	return -ENOSPC;
}

/* iopt_check_iova(): a FIXED_IOVA destination. Reserved is checked before existing areas. */
static int check_iova(const struct sim_ioas *ioas, uint64_t iova, uint64_t length)
{
	uint64_t last;

	if (iova & (ioas->iova_alignment - 1))
		return -EINVAL;
	if (__builtin_add_overflow(iova, length - 1, &last))
		return -EOVERFLOW;
	if (resv_intersects(ioas, iova, last))
		return -EINVAL;
	/* No reserved node is in range, so any node found is an area. */
	if (itree_first_overlap(&ioas->tree, iova, last))
		return -EEXIST;
	return 0;
}

/* ---- areas ---- */

/*
 * iopt_alloc_area_pages() + iopt_insert_area(): place `length` bytes made of the pieces at
 * *iova (FIXED_IOVA) or at an allocated IOVA, one area per piece, all or nothing.
 */
int ioas_map_pieces(struct sim_ioas *ioas, const struct sim_piece *pc, size_t npc, uint64_t length,
		    uint32_t flags, uint64_t *iova)
{
	struct sim_area *one, **areas;
	uint64_t dst, cur;
	size_t i, done = 0;
	int rc;

	/* Allocated before any check, as the kernel does, so -ENOMEM comes first. */
	areas = npc == 1 ? &one : calloc(npc, sizeof(*areas));
	if (!areas)
		return -ENOMEM;
	for (i = 0; i < npc; i++) {
		areas[i] = slab_alloc(&ioas->slab);
		if (areas[i])
			memset(areas[i], 0, sizeof(**areas));
		if (!areas[i]) {
			rc = -ENOMEM;
			goto out;
		}
	}

	if ((length & (ioas->iova_alignment - 1)) || !length) {
		rc = -EINVAL;
		goto out;
	}
	if (flags & BACKEND_MAP_FIXED_IOVA) {
		dst = *iova;
		rc = check_iova(ioas, dst, length);
	} else {
		/* The first piece's address guesses the ideal alignment. */
		rc = alloc_iova(ioas, pc[0].user_va, length, &dst);
	}
	if (rc)
		goto out;

	cur = dst;
	for (done = 0; done < npc; done++) {
		struct sim_area *a = areas[done];

		if ((flags & BACKEND_MAP_WRITEABLE) && !pc[done].writable) {
			rc = -EPERM;
			goto out;
		}
		if ((pc[done].user_va % SIM_PAGE) & (ioas->iova_alignment - 1)) {
			rc = -EINVAL;
			goto out;
		}
		a->node.start = cur;
		a->node.last = cur + pc[done].length - 1;
		a->user_va = pc[done].user_va;
		a->flags = (flags & BACKEND_MAP_READABLE ? AREA_READ : 0) |
			   (flags & BACKEND_MAP_WRITEABLE ? AREA_WRITE : 0) |
			   (pc[done].writable ? AREA_PAGES_WRITABLE : 0);
		rc = itree_insert(&ioas->tree, &a->node);
		if (rc == -ENOMEM)
			goto out;
		if (rc)
			abort(); /* check_iova/alloc_iova found this range free */
		cur += pc[done].length;
	}
	ioas->nareas += npc;
	*iova = dst;
out:
	/* On failure, undo the inserted areas: all or nothing, as the kernel aborts them. */
	for (i = 0; rc && i < npc; i++) {
		if (i < done)
			itree_remove(&ioas->tree, &areas[i]->node);
		slab_free(&ioas->slab, areas[i]);
	}
	if (areas != &one)
		free(areas);
	return rc;
}

/*
 * iopt_unmap_iova_range(): areas are visited in ascending order and each must lie wholly
 * inside [start, last]. Like the kernel, an area straddling `last` fails only after the areas
 * before it are gone.
 */
int ioas_unmap_range(struct sim_ioas *ioas, uint64_t start, uint64_t last, uint64_t *unmapped)
{
	struct itree_node *n = itree_first_overlap(&ioas->tree, start, last), *next;
	uint64_t bytes = 0;

	for (; n && n->start <= last; n = next) {
		/* nothing after an area reaching last can start inside the range */
		next = n->last >= last ? NULL : itree_next(n);
		if (is_reserved(n))
			continue;
		if (n->start < start || n->last > last) {
			*unmapped = bytes;
			return -ENOENT;
		}
		bytes += n->last - n->start + 1;
		itree_remove(&ioas->tree, n);
		ioas->nareas--;
		slab_free(&ioas->slab, to_area(n));
	}
	*unmapped = bytes;
	return bytes ? 0 : -ENOENT;
}

/* Free every area, then the tree's own nodes: the tree is being thrown away. */
static void ioas_free_tree(struct sim_ioas *ioas)
{
	struct itree_node *n, *next;

	for (n = itree_first(&ioas->tree); n; n = next) {
		next = itree_next(n);
		if (!is_reserved(n))
			slab_free(&ioas->slab, to_area(n));
	}
	itree_clear(&ioas->tree);
	ioas->nareas = 0;
}

void ioas_free(struct sim_ioas *ioas)
{
	ioas_free_tree(ioas);
	slab_destroy(&ioas->slab);
	free(ioas->rnodes);
	free(ioas->resv);
	free(ioas->allowed);
	free(ioas);
}
