/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sim backend: a userspace model of the iommufd uAPI on object ids, so ioasfs runs (and its
 * tests mean the same thing) on machines without an IOMMU. Every op returns the errno the
 * kernel returns for the same request, found by the same checks in the same order as
 * drivers/iommu/iommufd/{ioas,io_pagetable,main,device}.c (ioasfs.5, ERRORS).
 *
 * The model. Objects (IOAS, simulated device, auto-domain HWPT) share one id space that
 * behaves like the kernel's XA_FLAGS_ALLOC1 xarray: 0 is never valid and the lowest free id is
 * reused; looking up an id of the wrong type gives ENOENT. Each IOAS keeps one interval tree
 * holding both its areas (mappings) and the union of its reserved ranges, so the first-fit
 * automatic allocator searches the holes of "reserved ∪ areas" in one O(log n) walk, exactly
 * the set the kernel's double-span iterator walks. Reserved ranges come from several owners
 * (each attached device's regions, and the complement of the apertures owned by the IOAS's
 * auto HWPT, as iopt_table_add_domain does) and may overlap each other, so the per-owner list
 * is kept on the side and only its union lives in the tree. The allowed list is a small sorted
 * array. A device belongs to the platform given at creation: its reserved regions are the
 * platform's, its aperture the platform's apertures, its IOMMU page size the platform's
 * smallest, so all devices on one IOAS can share one auto HWPT, which holds the IOAS busy
 * (DESTROY -> EBUSY) from the first attach to the last detach.
 *
 * What it does not model. It never pins or touches memory: user_va is only a number (the
 * kernel too pins nothing while no domain is attached, and the sim has no real domain), so a
 * bogus user_va always maps and EFAULT never happens. There are no in-kernel accesses (so no
 * EBUSY from a busy area and no access alignment), no user-allocated, nested or dirty-tracking
 * HWPTs, no PASID, no VFIO compat container, no MAP_FILE (the op is NULL), no pinned-page
 * accounting (RLIMIT_MODE is stored and reported, never enforced, and its SET never fails
 * with EPERM since there are no capabilities to check). DESTROY of a device id gives EBUSY as
 * in the kernel, where the VFIO driver holds a user reference until unbind.
 *
 * Where it departs from the kernel on purpose: device_detach of a device that is not attached
 * returns -EINVAL as backend.h asks (VFIO_DEVICE_DETACH_IOMMUFD_PT itself returns 0), and a
 * replace onto an IOAS with no domain yet checks the device's regions before the domain's
 * alignment and aperture, as a first attach does (the kernel's replace path checks them the
 * other way round; only a platform with pages above 4 KiB could tell, EINVAL vs EADDRINUSE).
 *
 * One mutex serializes every op, so callers may share the backend between threads.
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

#define SIM_PAGE      BACKEND_PAGE_SIZE
#define SIM_MAP_FLAGS (BACKEND_MAP_FIXED_IOVA | BACKEND_MAP_WRITEABLE | BACKEND_MAP_READABLE)
/* The kernel allocates object ids with xa_limit_31b. */
#define SIM_MAX_ID INT32_MAX

enum sim_type {
	SIM_OBJ_IOAS = 1,
	SIM_OBJ_DEVICE,
	SIM_OBJ_HWPT,
};

struct sim_obj {
	uint32_t id;
	enum sim_type type;
};

/* sim_area.flags */
#define AREA_READ  (1u << 0)
#define AREA_WRITE (1u << 1)
/* The memory behind the area was mapped writable (iopt_pages->writable, inherited by COPY). */
#define AREA_PAGES_WRITABLE (1u << 2)
/* Not a mapping: one range of the union of reserved ranges. */
#define AREA_RESERVED (1u << 3)

/* One mapping: 80 bytes on LP64 and nothing else per mapping. */
struct sim_area {
	struct itree_node node;
	uint64_t user_va; /* of the first byte of the area */
	uint32_t flags;
};
_Static_assert(UINTPTR_MAX != UINT64_MAX || sizeof(struct sim_area) <= 80,
	       "a mapping should cost the tree node plus 16 bytes");

/* A reserved range and who reserved it (a struct sim_dev or a struct sim_hwpt). */
struct sim_resv {
	uint64_t start, last;
	const void *owner;
};

struct sim_hwpt;

struct sim_ioas {
	struct sim_obj obj;
	struct itree tree; /* areas and the union of resv[] */
	size_t nareas;
	struct slab slab;      /* the areas */
	struct sim_resv *resv; /* every owner's ranges, sorted by start, may overlap */
	size_t nresv;
	struct sim_area *rnodes; /* the union of resv[] as tree nodes; room for nresv */
	size_t nrnodes;
	struct iova_range *allowed; /* sorted, disjoint */
	size_t nallowed;
	uint64_t iova_alignment;
	bool disable_large_pages; /* IOMMU_OPTION_HUGE_PAGES == 0 */
	struct sim_hwpt *hwpt;	  /* the auto domain while devices are attached */
};

struct sim_hwpt {
	struct sim_obj obj;
	struct sim_ioas *ioas;
	unsigned int ndevs;
};

struct sim_dev {
	struct sim_obj obj;
	char *name;
	struct platform_range *regions; /* sorted, disjoint */
	uint32_t nregions;
	struct sim_hwpt *hwpt;
};

struct sim {
	struct backend be;
	pthread_mutex_t lock;
	struct platform plat;
	struct sim_obj **objs; /* indexed by id; objs[0] stays NULL */
	uint32_t cap;
	uint32_t nobjs;
	bool account_mm; /* IOMMU_OPTION_RLIMIT_MODE */
};

static struct sim *to_sim(struct backend *be)
{
	return (struct sim *)((char *)be - offsetof(struct sim, be));
}

static struct sim_area *to_area(const struct itree_node *n)
{
	return itree_entry(n, struct sim_area, node);
}

static bool is_reserved(const struct itree_node *n)
{
	return to_area(n)->flags & AREA_RESERVED;
}

/* ---- object ids ---- */

static struct sim_obj *obj_get_any(struct sim *s, uint32_t id)
{
	if (!id || id >= s->cap)
		return NULL;
	return s->objs[id];
}

static void *obj_get(struct sim *s, uint32_t id, enum sim_type type)
{
	struct sim_obj *o = obj_get_any(s, id);

	return o && o->type == type ? o : NULL;
}

/* Lowest free id, as xa_alloc() on an ALLOC1 xarray; ids are few, so a scan is fine. */
static int obj_add(struct sim *s, struct sim_obj *o, enum sim_type type)
{
	uint32_t id;

	for (id = 1; id < s->cap && s->objs[id]; id++)
		;
	if (id >= s->cap) {
		uint32_t ncap = s->cap ? s->cap * 2 : 16;
		struct sim_obj **n;

		if (id > SIM_MAX_ID)
			return -EBUSY; /* what xa_alloc() returns when the range is full */
		if (ncap > (uint32_t)SIM_MAX_ID + 1)
			ncap = (uint32_t)SIM_MAX_ID + 1;
		n = realloc(s->objs, ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		memset(n + s->cap, 0, (ncap - s->cap) * sizeof(*n));
		s->objs = n;
		s->cap = ncap;
	}
	o->id = id;
	o->type = type;
	s->objs[id] = o;
	s->nobjs++;
	return 0;
}

static void obj_del(struct sim *s, struct sim_obj *o)
{
	s->objs[o->id] = NULL;
	s->nobjs--;
}

/* ---- arithmetic ---- */

/* x in [1, 2^63]. */
static uint64_t roundup_pow2(uint64_t x)
{
	return x <= 1 ? 1 : UINT64_C(1) << (64 - __builtin_clzll(x - 1));
}

static uint64_t lowest_bit(uint64_t x)
{
	return x & -x;
}

/* The domain's smallest IOMMU page, which becomes the IOAS alignment on attach. */
static uint64_t plat_min_page(const struct platform *p)
{
	return p->page_sizes ? lowest_bit(p->page_sizes) : SIM_PAGE;
}

/* ---- queries on one IOAS ---- */

/* Does the union of reserved ranges intersect [start, last]? Binary search of rnodes. */
static bool resv_intersects(const struct sim_ioas *ioas, uint64_t start, uint64_t last)
{
	size_t lo = 0, hi = ioas->nrnodes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ioas->rnodes[mid].node.last < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ioas->nrnodes && ioas->rnodes[lo].node.start <= last;
}

/* Does any area intersect [start, last]? Only the few reserved nodes are ever skipped. */
static bool area_intersects(const struct sim_ioas *ioas, uint64_t start, uint64_t last)
{
	struct itree_node *n = itree_first_overlap(&ioas->tree, start, last);

	for (; n && n->start <= last; n = itree_next(n)) {
		if (!is_reserved(n))
			return true;
	}
	return false;
}

static bool allowed_intersects(const struct sim_ioas *ioas, uint64_t start, uint64_t last)
{
	size_t lo = 0, hi = ioas->nallowed;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ioas->allowed[mid].last < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ioas->nallowed && ioas->allowed[lo].start <= last;
}

/* What iopt_reserve_iova() refuses with EADDRINUSE: a mapping or an allowed range is there. */
static bool range_in_use(const struct sim_ioas *ioas, uint64_t start, uint64_t last)
{
	return area_intersects(ioas, start, last) || allowed_intersects(ioas, start, last);
}

/* iopt_check_iova_alignment(): every area must fit a raised alignment. */
static bool areas_aligned(const struct sim_ioas *ioas, uint64_t align)
{
	uint64_t mask = align - 1;
	struct itree_node *n;

	for (n = itree_first(&ioas->tree); n; n = itree_next(n)) {
		struct sim_area *a = to_area(n);

		if (a->flags & AREA_RESERVED)
			continue;
		if ((n->start & mask) || ((n->last - n->start + 1) & mask) ||
		    ((a->user_va % SIM_PAGE) & mask))
			return false;
	}
	return true;
}

/* iopt_calculate_iova_alignment() without the accesses the sim does not have. */
static uint64_t ioas_alignment(const struct sim *s, const struct sim_ioas *ioas,
			       bool disable_large_pages)
{
	uint64_t align = disable_large_pages ? SIM_PAGE : 1;

	if (ioas->hwpt && plat_min_page(&s->plat) > align)
		align = plat_min_page(&s->plat);
	return align;
}

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
static int ioas_add_reserved(struct sim_ioas *ioas, const struct sim_resv *add, size_t nadd)
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
static void ioas_remove_reserved(struct sim_ioas *ioas, const void *owner)
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

/* A slice of memory to map: one for MAP, one per source area for COPY. */
struct sim_piece {
	uint64_t user_va;
	uint64_t length;
	bool writable;
};

/*
 * iopt_alloc_area_pages() + iopt_insert_area(): place `length` bytes made of the pieces at
 * *iova (FIXED_IOVA) or at an allocated IOVA, one area per piece, all or nothing.
 */
static int ioas_map_pieces(struct sim_ioas *ioas, const struct sim_piece *pc, size_t npc,
			   uint64_t length, uint32_t flags, uint64_t *iova)
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
static int ioas_unmap_range(struct sim_ioas *ioas, uint64_t start, uint64_t last,
			    uint64_t *unmapped)
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

static void ioas_free(struct sim_ioas *ioas)
{
	ioas_free_tree(ioas);
	slab_destroy(&ioas->slab);
	free(ioas->rnodes);
	free(ioas->resv);
	free(ioas->allowed);
	free(ioas);
}

/* ---- ops: IOAS ---- */

static int sim_ioas_alloc(struct backend *be, uint32_t *ret_id)
{
	struct sim *s = to_sim(be);
	struct sim_ioas *ioas = calloc(1, sizeof(*ioas));
	int rc;

	if (!ioas)
		return -ENOMEM;
	itree_init(&ioas->tree);
	slab_init(&ioas->slab, sizeof(struct sim_area));
	/* Software tables start with no alignment restriction (iopt_init_table). */
	ioas->iova_alignment = 1;
	pthread_mutex_lock(&s->lock);
	rc = obj_add(s, &ioas->obj, SIM_OBJ_IOAS);
	if (!rc)
		*ret_id = ioas->obj.id;
	pthread_mutex_unlock(&s->lock);
	if (rc)
		free(ioas);
	return rc;
}

static int sim_destroy(struct backend *be, uint32_t id)
{
	struct sim *s = to_sim(be);
	struct sim_obj *o;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	o = obj_get_any(s, id);
	if (!o) {
		rc = -ENOENT;
	} else if (o->type == SIM_OBJ_IOAS) {
		struct sim_ioas *ioas = (struct sim_ioas *)o;

		/* The auto HWPT holds a user reference; mappings do not. */
		if (ioas->hwpt) {
			rc = -EBUSY;
		} else {
			obj_del(s, o);
			ioas_free(ioas);
		}
	} else {
		/*
		 * A device is held by its driver until unbind, and an auto HWPT exists only while
		 * a device holds it: refcount_dec_if_one() fails for both.
		 */
		rc = -EBUSY;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int sim_iova_ranges(struct backend *be, uint32_t ioas_id, struct iova_range *ranges,
			   uint32_t *num, uint64_t *ret_alignment)
{
	struct sim *s = to_sim(be);
	struct sim_ioas *ioas;
	uint32_t max = *num, total = 0;
	uint64_t cur = 0;
	bool covered = false;
	size_t i;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	ioas = obj_get(s, ioas_id, SIM_OBJ_IOAS);
	if (!ioas) {
		rc = -ENOENT;
		goto out;
	}
	/* A NULL buffer that claims room is the kernel's bad user pointer. */
	if (max && !ranges) {
		rc = -EFAULT;
		goto out;
	}
	/* The holes of the reserved set only: the allowed list is not reflected. */
	for (i = 0; i < ioas->nrnodes; i++) {
		const struct itree_node *r = &ioas->rnodes[i].node;

		if (r->start > cur) {
			if (total < max) {
				ranges[total].start = cur;
				ranges[total].last = r->start - 1;
			}
			total++;
		}
		if (r->last == UINT64_MAX) {
			covered = true;
			break;
		}
		cur = r->last + 1;
	}
	if (!covered) {
		if (total < max) {
			ranges[total].start = cur;
			ranges[total].last = UINT64_MAX;
		}
		total++;
	}
	/* The kernel writes the count and alignment back before failing with EMSGSIZE. */
	*num = total;
	*ret_alignment = ioas->iova_alignment;
	if (total > max)
		rc = -EMSGSIZE;
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int range_cmp(const void *a, const void *b)
{
	const struct iova_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int sim_allow_iovas(struct backend *be, uint32_t ioas_id, const struct iova_range *ranges,
			   uint32_t num)
{
	struct sim *s = to_sim(be);
	struct iova_range *list = NULL;
	struct sim_ioas *ioas;
	uint32_t i;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	ioas = obj_get(s, ioas_id, SIM_OBJ_IOAS);
	if (!ioas) {
		rc = -ENOENT;
		goto out;
	}
	if (num && !ranges) {
		rc = -EFAULT;
		goto out;
	}
	if (num) {
		list = malloc((size_t)num * sizeof(*list));
		if (!list) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(list, ranges, (size_t)num * sizeof(*list));
	}
	/* A one-address range is refused too (start >= last), as the kernel does. */
	for (i = 0; i < num; i++) {
		if (list[i].start >= list[i].last) {
			rc = -EINVAL;
			goto out;
		}
	}
	if (num)
		qsort(list, num, sizeof(*list), range_cmp);
	for (i = 1; i < num; i++) {
		if (list[i].start <= list[i - 1].last) {
			rc = -EINVAL;
			goto out;
		}
	}
	/* Existing mappings are not checked; reserved ranges are, and the old list stays. */
	for (i = 0; i < num; i++) {
		if (resv_intersects(ioas, list[i].start, list[i].last)) {
			rc = -EADDRINUSE;
			goto out;
		}
	}
	free(ioas->allowed);
	ioas->allowed = list;
	ioas->nallowed = num;
	list = NULL;
out:
	pthread_mutex_unlock(&s->lock);
	free(list);
	return rc;
}

static int sim_map(struct backend *be, uint32_t ioas_id, uint32_t flags, void *user_va,
		   uint64_t length, uint64_t *iova)
{
	struct sim *s = to_sim(be);
	uint64_t uva = (uintptr_t)user_va, end;
	struct sim_ioas *ioas;
	int rc;

	pthread_mutex_lock(&s->lock);
	if (flags & ~SIM_MAP_FLAGS) {
		rc = -EOPNOTSUPP;
	} else if (*iova == UINT64_MAX || length == UINT64_MAX) {
		/* The kernel checks the iova field even without FIXED_IOVA. */
		rc = -EOVERFLOW;
	} else if (!(flags & (BACKEND_MAP_READABLE | BACKEND_MAP_WRITEABLE))) {
		rc = -EINVAL;
	} else if (!(ioas = obj_get(s, ioas_id, SIM_OBJ_IOAS))) {
		rc = -ENOENT;
	} else if (__builtin_add_overflow(uva, length, &end)) {
		rc = -EOVERFLOW;
	} else if (!length || length > UINT64_MAX - SIM_PAGE) {
		rc = -EINVAL;
	} else {
		struct sim_piece pc = {
			.user_va = uva,
			.length = length,
			.writable = flags & BACKEND_MAP_WRITEABLE,
		};

		rc = ioas_map_pieces(ioas, &pc, 1, length, flags, iova);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int sim_unmap(struct backend *be, uint32_t ioas_id, uint64_t iova, uint64_t *length)
{
	struct sim *s = to_sim(be);
	struct sim_ioas *ioas;
	uint64_t unmapped = 0, last;
	int rc;

	pthread_mutex_lock(&s->lock);
	ioas = obj_get(s, ioas_id, SIM_OBJ_IOAS);
	if (!ioas) {
		rc = -ENOENT;
	} else if (iova == 0 && *length == UINT64_MAX) {
		/* Unmap-all succeeds on an empty IOAS. */
		rc = ioas_unmap_range(ioas, 0, UINT64_MAX, &unmapped);
		if (rc == -ENOENT)
			rc = 0;
	} else if (iova == UINT64_MAX || *length == UINT64_MAX) {
		rc = -EOVERFLOW;
	} else if (!*length) {
		rc = -EINVAL;
	} else if (__builtin_add_overflow(iova, *length - 1, &last)) {
		rc = -EOVERFLOW;
	} else {
		rc = ioas_unmap_range(ioas, iova, last, &unmapped);
	}
	/* On failure the kernel does not write the length back, even if areas went away. */
	if (!rc)
		*length = unmapped;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/*
 * iopt_get_pages(): the source must be covered by areas that follow each other without a
 * gap; a sub-range of an area is fine. Returns one piece per source area touched.
 */
static int ioas_get_pieces(const struct sim_ioas *ioas, uint64_t iova, uint64_t length,
			   struct sim_piece **ret, size_t *ret_n)
{
	struct itree_node *first, *n;
	struct sim_piece *pc;
	uint64_t last, cur;
	size_t cnt = 0, i;

	if (!length)
		return -EINVAL;
	if (__builtin_add_overflow(iova, length - 1, &last))
		return -EOVERFLOW;

	first = itree_first_overlap(&ioas->tree, iova, iova);
	if (!first || is_reserved(first))
		return -ENOENT;
	/* First pass: check contiguity and count. */
	for (n = first;;) {
		cnt++;
		if (last <= n->last)
			break;
		cur = n->last + 1;
		n = itree_next(n);
		if (!n || is_reserved(n) || n->start != cur)
			return -ENOENT;
	}
	pc = malloc(cnt * sizeof(*pc));
	if (!pc)
		return -ENOMEM;
	cur = iova;
	for (i = 0, n = first; i < cnt; i++, n = itree_next(n)) {
		const struct sim_area *a = to_area(n);
		uint64_t end = last < n->last ? last : n->last;

		pc[i].user_va = a->user_va + (cur - n->start);
		pc[i].length = end - cur + 1;
		pc[i].writable = a->flags & AREA_PAGES_WRITABLE;
		cur = end + 1;
	}
	*ret = pc;
	*ret_n = cnt;
	return 0;
}

static int sim_copy(struct backend *be, uint32_t flags, uint32_t dst_ioas_id, uint32_t src_ioas_id,
		    uint64_t length, uint64_t *dst_iova, uint64_t src_iova)
{
	struct sim *s = to_sim(be);
	struct sim_ioas *src, *dst;
	struct sim_piece *pc = NULL;
	size_t npc = 0;
	int rc;

	pthread_mutex_lock(&s->lock);
	if (flags & ~SIM_MAP_FLAGS) {
		rc = -EOPNOTSUPP;
	} else if (length == UINT64_MAX || src_iova == UINT64_MAX || *dst_iova == UINT64_MAX) {
		rc = -EOVERFLOW;
	} else if (!(flags & (BACKEND_MAP_READABLE | BACKEND_MAP_WRITEABLE))) {
		rc = -EINVAL;
	} else if (!(src = obj_get(s, src_ioas_id, SIM_OBJ_IOAS))) {
		rc = -ENOENT;
	} else if (!(rc = ioas_get_pieces(src, src_iova, length, &pc, &npc))) {
		/* The destination is looked up only once the source is known to be mapped. */
		dst = obj_get(s, dst_ioas_id, SIM_OBJ_IOAS);
		if (!dst)
			rc = -ENOENT;
		else
			rc = ioas_map_pieces(dst, pc, npc, length, flags, dst_iova);
	}
	pthread_mutex_unlock(&s->lock);
	free(pc);
	return rc;
}

/* iopt_disable_large_pages() / iopt_enable_large_pages(). */
static int ioas_set_huge_pages(struct sim *s, struct sim_ioas *ioas, uint64_t val)
{
	uint64_t align;

	if (val == 1) {
		ioas->disable_large_pages = false;
		/* The alignment can only go down here, so no area needs checking. */
		ioas->iova_alignment = ioas_alignment(s, ioas, false);
		return 0;
	}
	if (val != 0)
		return -EINVAL;
	if (ioas->disable_large_pages)
		return 0;
	/* Domains that already hold mappings might hold them in huge pages. */
	if (ioas->hwpt && ioas->nareas)
		return -EINVAL;
	align = ioas_alignment(s, ioas, true);
	if (align > ioas->iova_alignment && !areas_aligned(ioas, align))
		return -EADDRINUSE;
	ioas->disable_large_pages = true;
	ioas->iova_alignment = align;
	return 0;
}

static int sim_option(struct backend *be, uint32_t option_id, uint16_t op, uint32_t object_id,
		      uint64_t *val)
{
	struct sim *s = to_sim(be);
	struct sim_ioas *ioas;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	switch (option_id) {
	case BACKEND_OPTION_RLIMIT_MODE:
		if (object_id) {
			rc = -EOPNOTSUPP;
		} else if (op == BACKEND_OPTION_OP_GET) {
			*val = s->account_mm;
		} else if (op == BACKEND_OPTION_OP_SET) {
			/* The accounting mode can change only while the context is empty. */
			if (s->nobjs)
				rc = -EBUSY;
			else if (*val > 1)
				rc = -EINVAL;
			else
				s->account_mm = *val;
		} else {
			rc = -EOPNOTSUPP;
		}
		break;
	case BACKEND_OPTION_HUGE_PAGES:
		/* The IOAS is looked up before the op is even looked at. */
		ioas = obj_get(s, object_id, SIM_OBJ_IOAS);
		if (!ioas)
			rc = -ENOENT;
		else if (op == BACKEND_OPTION_OP_GET)
			*val = !ioas->disable_large_pages;
		else if (op == BACKEND_OPTION_OP_SET)
			rc = ioas_set_huge_pages(s, ioas, *val);
		else
			rc = -EOPNOTSUPP;
		break;
	default:
		rc = -EOPNOTSUPP;
		break;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* ---- ops: devices ---- */

static int sim_device_bind(struct backend *be, const char *path, uint32_t *ret_dev_id)
{
	struct sim *s = to_sim(be);
	struct sim_dev *dev;
	int rc;

	if (!path)
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->name = strdup(path);
	dev->nregions = s->plat.n_reserved;
	if (dev->nregions) {
		dev->regions = malloc(dev->nregions * sizeof(*dev->regions));
		if (dev->regions)
			memcpy(dev->regions, s->plat.reserved,
			       dev->nregions * sizeof(*dev->regions));
	}
	if (!dev->name || (dev->nregions && !dev->regions)) {
		rc = -ENOMEM;
		goto err;
	}
	pthread_mutex_lock(&s->lock);
	rc = obj_add(s, &dev->obj, SIM_OBJ_DEVICE);
	if (!rc)
		*ret_dev_id = dev->obj.id;
	pthread_mutex_unlock(&s->lock);
	if (!rc)
		return 0;
err:
	free(dev->regions);
	free(dev->name);
	free(dev);
	return rc;
}

/*
 * A device leaves its HWPT: its regions leave the IOAS, and the last device out takes the
 * HWPT, its aperture reservations and its alignment with it (iopt_table_remove_domain).
 */
static void dev_leave_hwpt(struct sim *s, struct sim_dev *dev)
{
	struct sim_hwpt *hwpt = dev->hwpt;
	struct sim_ioas *ioas = hwpt->ioas;

	dev->hwpt = NULL;
	ioas_remove_reserved(ioas, dev);
	if (--hwpt->ndevs)
		return;
	ioas_remove_reserved(ioas, hwpt);
	ioas->hwpt = NULL;
	ioas->iova_alignment = ioas_alignment(s, ioas, ioas->disable_large_pages);
	obj_del(s, &hwpt->obj);
	free(hwpt);
}

/* The complement of the platform's apertures, in ascending order. Returns the count. */
static size_t aperture_holes(const struct platform *p, struct sim_resv *out, const void *owner)
{
	uint64_t cur = 0;
	size_t n = 0;
	unsigned int i;

	if (!p->n_apertures) {
		/* A hand-filled profile without apertures: 0 .. 2^iova_bits - 1. */
		if (p->iova_bits && p->iova_bits < 64)
			out[n++] =
			    (struct sim_resv){ UINT64_C(1) << p->iova_bits, UINT64_MAX, owner };
		return n;
	}
	for (i = 0; i < p->n_apertures; i++) {
		const struct platform_range *a = &p->apertures[i];

		if (a->start > cur)
			out[n++] = (struct sim_resv){ cur, a->start - 1, owner };
		if (a->last == UINT64_MAX)
			return n;
		cur = a->last + 1;
	}
	out[n++] = (struct sim_resv){ cur, UINT64_MAX, owner };
	return n;
}

/*
 * Attach (or move) dev to ioas. Everything that can fail is checked before anything changes,
 * so a failed replace leaves the device where it was. The order follows the kernel's first
 * attach: the device's regions, then the domain's alignment, then its aperture.
 */
static int dev_attach_ioas(struct sim *s, struct sim_dev *dev, struct sim_ioas *ioas,
			   uint32_t *pt_id)
{
	struct sim_hwpt *hwpt = ioas->hwpt, *newhwpt = NULL;
	uint64_t align = ioas->iova_alignment;
	struct sim_resv *add;
	size_t nadd = 0, i;
	int rc;

	add = malloc((dev->nregions + s->plat.n_apertures + 2) * sizeof(*add));
	if (!add)
		return -ENOMEM;
	for (i = 0; i < dev->nregions; i++) {
		const struct platform_range *r = &dev->regions[i];

		if (range_in_use(ioas, r->start, r->last)) {
			rc = -EADDRINUSE;
			goto out;
		}
		add[nadd++] = (struct sim_resv){ r->start, r->last, dev };
	}
	if (!hwpt) {
		size_t first = nadd;

		if (plat_min_page(&s->plat) > align)
			align = plat_min_page(&s->plat);
		/* iopt_table_add_domain: the IOAS cannot go above PAGE_SIZE alignment. */
		if (align > SIM_PAGE) {
			rc = -EINVAL;
			goto out;
		}
		if (align != ioas->iova_alignment && !areas_aligned(ioas, align)) {
			rc = -EADDRINUSE;
			goto out;
		}
		newhwpt = calloc(1, sizeof(*newhwpt));
		if (!newhwpt) {
			rc = -ENOMEM;
			goto out;
		}
		nadd += aperture_holes(&s->plat, add + nadd, newhwpt);
		for (i = first; i < nadd; i++) {
			if (range_in_use(ioas, add[i].start, add[i].last)) {
				rc = -EADDRINUSE;
				goto out;
			}
		}
		rc = obj_add(s, &newhwpt->obj, SIM_OBJ_HWPT);
		if (rc)
			goto out;
	}
	rc = ioas_add_reserved(ioas, add, nadd);
	if (rc) {
		if (newhwpt)
			obj_del(s, &newhwpt->obj);
		goto out;
	}
	if (newhwpt) {
		newhwpt->ioas = ioas;
		ioas->hwpt = newhwpt;
		ioas->iova_alignment = align;
		hwpt = newhwpt;
		newhwpt = NULL;
	}
	/* Replace: join the new HWPT first, then leave the old one (iommufd_device_do_replace). */
	hwpt->ndevs++;
	if (dev->hwpt)
		dev_leave_hwpt(s, dev);
	dev->hwpt = hwpt;
	*pt_id = hwpt->obj.id;
out:
	free(newhwpt);
	free(add);
	return rc;
}

static int sim_device_attach(struct backend *be, uint32_t dev_id, uint32_t *pt_id)
{
	struct sim *s = to_sim(be);
	struct sim_ioas *ioas = NULL;
	struct sim_dev *dev;
	struct sim_obj *pt;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	dev = obj_get(s, dev_id, SIM_OBJ_DEVICE);
	pt = obj_get_any(s, *pt_id);
	if (!dev || !pt) {
		rc = -ENOENT;
	} else if (pt->type == SIM_OBJ_IOAS) {
		ioas = (struct sim_ioas *)pt;
	} else if (pt->type == SIM_OBJ_HWPT) {
		ioas = ((struct sim_hwpt *)pt)->ioas;
	} else {
		/* iommufd_device_change_pt(): an object that is neither IOAS nor HWPT. */
		rc = -EINVAL;
	}
	if (!rc) {
		if (dev->hwpt && dev->hwpt->ioas == ioas)
			*pt_id = dev->hwpt->obj.id; /* the same domain: nothing to do */
		else
			rc = dev_attach_ioas(s, dev, ioas, pt_id);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int sim_device_detach(struct backend *be, uint32_t dev_id)
{
	struct sim *s = to_sim(be);
	struct sim_dev *dev;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	dev = obj_get(s, dev_id, SIM_OBJ_DEVICE);
	if (!dev)
		rc = -ENOENT;
	else if (!dev->hwpt)
		rc = -EINVAL;
	else
		dev_leave_hwpt(s, dev);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static void dev_free(struct sim_dev *dev)
{
	free(dev->regions);
	free(dev->name);
	free(dev);
}

static int sim_device_unbind(struct backend *be, uint32_t dev_id)
{
	struct sim *s = to_sim(be);
	struct sim_dev *dev;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	dev = obj_get(s, dev_id, SIM_OBJ_DEVICE);
	if (!dev) {
		rc = -ENOENT;
	} else {
		if (dev->hwpt)
			dev_leave_hwpt(s, dev);
		obj_del(s, &dev->obj);
		dev_free(dev);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* Bits of the address space the aperture spans (what VT-d MGAW / SMMU OAS describe). */
static unsigned int plat_addr_bits(const struct platform *p)
{
	uint64_t top;

	if (!p->n_apertures)
		return p->iova_bits && p->iova_bits < 64 ? p->iova_bits : 64;
	top = p->apertures[p->n_apertures - 1].last;
	return top ? 64 - __builtin_clzll(top) : 1;
}

/*
 * Register contents for IOMMU_GET_HW_INFO. They are plausible, fixed values, not read from any
 * machine: VT-d cap 0x00d2008c40660462 / ecap 0x0000000000f050da as the DMAR driver prints
 * them on a Xeon server, with MGAW (bits 21:16) and SAGAW (bits 12:8) rewritten to match the
 * profile's address width; SMMUv3 IDR0-5/IIDR/AIDR of an Arm MMU-600-like SMMUv3.1 (stage 1
 * and 2, AArch64 tables, coherent, ATS/PRI, 16-bit ASID/VMID, 2-level stream table,
 * 16-bit StreamIDs, 20-bit SubstreamIDs, 48-bit OAS, 4K/16K/64K granules).
 */
static void fill_hw_info(const struct platform *p, struct backend_hw_info *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->type = p->iommu;
	if (p->iommu == PLATFORM_IOMMU_INTEL_VTD) {
		struct {
			uint32_t flags, reserved;
			uint64_t cap_reg, ecap_reg;
		} vtd = { 0 };
		unsigned int bits = plat_addr_bits(p);
		uint64_t sagaw = bits <= 39 ? 0x2 : bits <= 48 ? 0x4 : 0x8;

		vtd.cap_reg = UINT64_C(0x00d2008c40660462);
		vtd.cap_reg &= ~((UINT64_C(0x3f) << 16) | (UINT64_C(0x1f) << 8));
		vtd.cap_reg |= ((uint64_t)(bits - 1) << 16) | (sagaw << 8);
		vtd.ecap_reg = UINT64_C(0x0000000000f050da);
		memcpy(ret->data, &vtd, sizeof(vtd));
		ret->data_len = sizeof(vtd);
	} else if (p->iommu == PLATFORM_IOMMU_ARM_SMMUV3) {
		struct {
			uint32_t flags, reserved;
			uint32_t idr[6];
			uint32_t iidr, aidr;
		} smmu = {
			.idr = { 0x080d34bb, 0x02739d10, 0x00000000, 0x00000404, 0x00000000,
				 0x00000075 },
			.iidr = 0x4830043b,
			.aidr = 0x00000001,
		};

		memcpy(ret->data, &smmu, sizeof(smmu));
		ret->data_len = sizeof(smmu);
	}
}

static int sim_hw_info(struct backend *be, uint32_t dev_id, struct backend_hw_info *ret)
{
	struct sim *s = to_sim(be);
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (!obj_get(s, dev_id, SIM_OBJ_DEVICE))
		rc = -ENOENT;
	else
		fill_hw_info(&s->plat, ret);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int sim_device_reserved(struct backend *be, uint32_t dev_id, struct platform_range *regions,
			       uint32_t *num)
{
	struct sim *s = to_sim(be);
	struct sim_dev *dev;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	dev = obj_get(s, dev_id, SIM_OBJ_DEVICE);
	if (!dev) {
		rc = -ENOENT;
	} else if (*num && !regions) {
		rc = -EFAULT;
	} else {
		uint32_t n = dev->nregions < *num ? dev->nregions : *num;

		if (n)
			memcpy(regions, dev->regions, n * sizeof(*regions));
		if (dev->nregions > *num)
			rc = -EMSGSIZE;
		*num = dev->nregions;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int region_cmp(const void *a, const void *b)
{
	const struct platform_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int sim_device_set_reserved(struct backend *be, uint32_t dev_id,
				   const struct platform_range *regions, uint32_t num)
{
	struct sim *s = to_sim(be);
	struct platform_range *list = NULL;
	struct sim_dev *dev;
	uint32_t i;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	dev = obj_get(s, dev_id, SIM_OBJ_DEVICE);
	if (!dev) {
		rc = -ENOENT;
		goto out;
	}
	/* The regions are in the IOAS while attached; changing them under it is not a thing. */
	if (dev->hwpt) {
		rc = -EBUSY;
		goto out;
	}
	if (num && !regions) {
		rc = -EFAULT;
		goto out;
	}
	if (num) {
		list = malloc((size_t)num * sizeof(*list));
		if (!list) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(list, regions, (size_t)num * sizeof(*list));
	}
	for (i = 0; i < num; i++) {
		if (list[i].start > list[i].last) {
			rc = -EINVAL;
			goto out;
		}
		list[i].kind[PLATFORM_KIND_LEN - 1] = '\0';
	}
	if (num)
		qsort(list, num, sizeof(*list), region_cmp);
	for (i = 1; i < num; i++) {
		if (list[i].start <= list[i - 1].last) {
			rc = -EINVAL;
			goto out;
		}
	}
	free(dev->regions);
	dev->regions = list;
	dev->nregions = num;
	list = NULL;
out:
	pthread_mutex_unlock(&s->lock);
	free(list);
	return rc;
}

/* ---- lifetime ---- */

static void sim_close(struct backend *be)
{
	struct sim *s;
	uint32_t id;

	if (!be)
		return;
	s = to_sim(be);
	/* HWPTs point into IOASes and devices into HWPTs: free each kind without following. */
	for (id = 1; id < s->cap; id++) {
		struct sim_obj *o = s->objs[id];

		if (!o)
			continue;
		if (o->type == SIM_OBJ_IOAS)
			ioas_free((struct sim_ioas *)o);
		else if (o->type == SIM_OBJ_DEVICE)
			dev_free((struct sim_dev *)o);
		else
			free(o);
	}
	free(s->objs);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct backend_ops sim_ops = {
	.name = "sim",
	.close = sim_close,
	.ioas_alloc = sim_ioas_alloc,
	.destroy = sim_destroy,
	.iova_ranges = sim_iova_ranges,
	.allow_iovas = sim_allow_iovas,
	.map = sim_map,
	.map_file = NULL,
	.unmap = sim_unmap,
	.copy = sim_copy,
	.option = sim_option,
	.device_bind = sim_device_bind,
	.device_unbind = sim_device_unbind,
	.device_attach = sim_device_attach,
	.device_detach = sim_device_detach,
	.hw_info = sim_hw_info,
	.device_reserved = sim_device_reserved,
	.device_set_reserved = sim_device_set_reserved,
};

int sim_backend_create(const struct platform *plat, struct backend **ret)
{
	struct sim *s;

	if (!plat || !ret)
		return -EINVAL;
	if (plat->n_reserved > PLATFORM_MAX_RANGES || plat->n_apertures > PLATFORM_MAX_RANGES)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (pthread_mutex_init(&s->lock, NULL)) {
		free(s);
		return -ENOMEM;
	}
	s->plat = *plat;
	s->be.ops = &sim_ops;
	*ret = &s->be;
	return 0;
}
