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

#include "backend/sim_int.h"
/* Lowest free id, as xa_alloc() on an ALLOC1 xarray; ids are few, so a scan is fine. */
int obj_add(struct sim *s, struct sim_obj *o, enum sim_type type)
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

void obj_del(struct sim *s, struct sim_obj *o)
{
	s->objs[o->id] = NULL;
	s->nobjs--;
}

/* The domain's smallest IOMMU page, which becomes the IOAS alignment on attach. */
uint64_t plat_min_page(const struct platform *p)
{
	return p->page_sizes ? lowest_bit(p->page_sizes) : SIM_PAGE;
}

/* ---- queries on one IOAS ---- */

/* Does the union of reserved ranges intersect [start, last]? Binary search of rnodes. */
bool resv_intersects(const struct sim_ioas *ioas, uint64_t start, uint64_t last)
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
bool range_in_use(const struct sim_ioas *ioas, uint64_t start, uint64_t last)
{
	return area_intersects(ioas, start, last) || allowed_intersects(ioas, start, last);
}

/* iopt_check_iova_alignment(): every area must fit a raised alignment. */
bool areas_aligned(const struct sim_ioas *ioas, uint64_t align)
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
uint64_t ioas_alignment(const struct sim *s, const struct sim_ioas *ioas, bool disable_large_pages)
{
	uint64_t align = disable_large_pages ? SIM_PAGE : 1;

	if (ioas->hwpt && plat_min_page(&s->plat) > align)
		align = plat_min_page(&s->plat);
	return align;
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
	.dirty_tracking = "no (sim backend)",
	.iommufd_test = "no (sim backend)",
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
