/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An IOAS: its attributes, and map, unmap, copy and batch against it, validated against the
 * model (windows as constraints, reserved ranges, the aperture) before the backend is asked.
 * Split out of core.c; the shared helpers are in core_int.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core_int.h"
#include "util/itree.h"
#include "util/opener.h"
#include "util/parse.h"
#include "util/slab.h"
#include "ioasfs/batch.h"

/* ---------------------------------------------------------------- IOAS attributes */

int core_ioas_show_id(struct core *c, struct core_ioas_ref r, struct sbuf *sb)
{
	struct ioas *io = ioas_get(c, r);

	if (!io)
		return -ENOENT;
	sbuf_printf(sb, "%u\n", io->id);
	ioas_put(c, io);
	return 0;
}

int core_ioas_show_iova_ranges(struct core *c, struct core_ioas_ref r, struct sbuf *sb)
{
	struct ioas *io = ioas_get(c, r);
	struct rset s;
	int ret;

	if (!io)
		return -ENOENT;
	ioas_usable(c, io, NULL, &s);
	for (unsigned i = 0; i < s.n; i++)
		sbuf_printf(sb, ADDR_FMT "-" ADDR_FMT "\n", s.r[i].start, s.r[i].last);
	ioas_put(c, io);
	ret = s.err;
	rset_free(&s);
	return ret;
}

int core_ioas_show_alignment(struct core *c, struct core_ioas_ref r, struct sbuf *sb)
{
	struct ioas *io = ioas_get(c, r);
	struct iova_range rg[1];
	uint32_t n = 1;
	uint64_t align = 0;
	int ret;

	if (!io)
		return -ENOENT;
	/* only the alignment is wanted; the ranges may not fit (EMSGSIZE) */
	ret = c->be->ops->iova_ranges(c->be, io->id, rg, &n, &align);
	if (ret == 0 || ret == -EMSGSIZE) {
		sbuf_printf(sb, "0x%" PRIx64 "\n", align);
		ret = 0;
	}
	ioas_put(c, io);
	return ret;
}

static const char *prot_name(unsigned prot)
{
	static const char *const names[] = { "-", "r", "w", "rw" };

	return names[prot & 3];
}

/* One `mappings` line: "START-LAST PROT SOURCE+0xOFFSET". */
#define MAPPING_FMT ADDR_FMT "-" ADDR_FMT " %s %s+0x%" PRIx64 "\n"

int core_ioas_show_mappings(struct core *c, struct core_ioas_ref r, struct sbuf *sb)
{
	struct ioas *io = ioas_get(c, r);
	struct itree_node *n;

	if (!io)
		return -ENOENT;
	for (n = itree_first(&io->maps); n; n = itree_next(n)) {
		struct mapping *m = itree_entry(n, struct mapping, node);

		sbuf_printf(sb, MAPPING_FMT, n->start, n->last, prot_name(m->prot), m->src->o.name,
			    m->offset);
	}
	ioas_put(c, io);
	return 0;
}

int core_ioas_mappings_chunk(struct core *c, struct core_ioas_ref r, uint64_t *cursor, bool *done,
			     struct sbuf *sb, size_t max)
{
	struct ioas *io = ioas_get(c, r);
	size_t end = sb->len + max;
	struct itree_node *n;

	if (!io)
		return -ENOENT;
	n = itree_first_overlap(&io->maps, *cursor, UINT64_MAX);
	for (; n && sb->len < end; n = itree_next(n)) {
		struct mapping *m = itree_entry(n, struct mapping, node);

		sbuf_printf(sb, MAPPING_FMT, n->start, n->last, prot_name(m->prot), m->src->o.name,
			    m->offset);
		*cursor = n->last + 1;
		if (n->last == UINT64_MAX)
			n = NULL;
		if (!n)
			break;
	}
	*done = !n;
	ioas_put(c, io);
	return 0;
}

int core_ioas_mappings_length(struct core *c, struct core_ioas_ref r, uint64_t *ret)
{
	/* MAPPING_FMT's fixed part: two 18-character addresses, "-", 2 spaces, "+0x", "\n" */
	const uint64_t fixed = 18 + 1 + 18 + 2 + 3 + 1;
	struct ioas *io = ioas_get(c, r);
	struct itree_node *n;
	uint64_t len = 0;

	if (!io)
		return -ENOENT;
	for (n = itree_first(&io->maps); n; n = itree_next(n)) {
		struct mapping *m = itree_entry(n, struct mapping, node);
		unsigned digits = m->offset ? (67 - __builtin_clzll(m->offset)) / 4 : 1;

		len += fixed + strlen(prot_name(m->prot)) + strlen(m->src->o.name) + digits;
	}
	ioas_put(c, io);
	*ret = len;
	return 0;
}

int core_ioas_show_stats(struct core *c, struct core_ioas_ref r, struct sbuf *sb)
{
	struct ioas *io = ioas_get(c, r);

	if (!io)
		return -ENOENT;
	sbuf_printf(sb, "mappings %zu\n", io->maps.count);
	sbuf_printf(sb, "maps %" PRIu64 "\n", io->st_maps);
	sbuf_printf(sb, "unmaps %" PRIu64 "\n", io->st_unmaps);
	sbuf_printf(sb, "bytes_mapped %" PRIu64 "\n", io->bytes_mapped);
	/* The kernel pins only once a domain (a device) is attached. */
	sbuf_printf(sb, "pages_pinned %" PRIu64 "\n",
		    io->n_devices
			? (uint64_t)((io->bytes_mapped + BACKEND_PAGE_SIZE - 1) / BACKEND_PAGE_SIZE)
			: (uint64_t)0);
	sbuf_printf(sb, "windows %u\n", io->n_windows);
	sbuf_printf(sb, "devices %u\n", io->n_devices);
	sbuf_printf(sb, "errors %" PRIu64 "\n", io->st_errors);
	ioas_put(c, io);
	return 0;
}

int core_ioas_show_huge_pages(struct core *c, struct core_ioas_ref r, struct sbuf *sb)
{
	struct ioas *io = ioas_get(c, r);
	uint64_t val = 0;
	int ret;

	if (!io)
		return -ENOENT;
	ret = c->be->ops->option(c->be, BACKEND_OPTION_HUGE_PAGES, BACKEND_OPTION_OP_GET, io->id,
				 &val);
	if (!ret)
		sbuf_printf(sb, "%" PRIu64 "\n", val);
	ioas_put(c, io);
	return ret;
}

int core_ioas_store_huge_pages(struct core *c, const struct core_req *rq, struct core_ioas_ref r,
			       uint64_t val)
{
	struct ioas *io = ioas_get(c, r);
	int ret;

	if (!io)
		return -ENOENT;
	ret = c->be->ops->option(c->be, BACKEND_OPTION_HUGE_PAGES, BACKEND_OPTION_OP_SET, io->id,
				 &val);
	if (ret == -EINVAL && val > 1)
		ioas_error(c, io, rq, "huge_pages takes 0 or 1");
	else if (ret == -EINVAL)
		ioas_error(c, io, rq,
			   "huge_pages 0 is refused while devices are attached and "
			   "mappings exist");
	else if (ret == -EADDRINUSE)
		ioas_error(c, io, rq,
			   "a mapping is not aligned to the page size huge_pages 0 "
			   "requires");
	else if (ret < 0)
		ioas_error(c, io, rq, "IOMMU_OPTION: %s", errno_name(-ret));
	ioas_put(c, io);
	return ret;
}

int core_ioas_devices(struct core *c, struct core_ioas_ref r, struct core_name **ret, size_t *ret_n)
{
	struct core_name *v;
	struct ioas *io;
	struct list *p;
	size_t i = 0;

	pthread_rwlock_rdlock(&c->topo);
	io = ioas_find(c, r);
	if (!io) {
		pthread_rwlock_unlock(&c->topo);
		return -ENOENT;
	}
	v = calloc(io->n_devices ? io->n_devices : 1, sizeof(*v));
	if (!v) {
		pthread_rwlock_unlock(&c->topo);
		return -ENOMEM;
	}
	list_for_each (p, &c->objs[CORE_DEVICE]) {
		struct device *d = list_entry(p, struct device, o.link);

		if (d->ioas != io)
			continue;
		memcpy(v[i].name, d->o.name, sizeof(v[i].name));
		v[i++].serial = d->o.serial;
	}
	pthread_rwlock_unlock(&c->topo);
	*ret = v;
	*ret_n = i;
	return 0;
}

/* ---------------------------------------------------------------- map / unmap */

void describe_mapping(const struct mapping *m, char *buf, size_t len)
{
	snprintf(buf, len, "0x%" PRIx64 "-0x%" PRIx64 " (%s+0x%" PRIx64 ")", m->node.start,
		 m->node.last, m->src->o.name, m->offset);
}

static void map_failure(struct core *c, struct ioas *io, const struct core_req *rq,
			const struct core_map_cmd *m, int err)
{
	char what[160], more[200] = "";
	uint64_t align = 0;
	struct iova_range rg[1];
	uint32_t n = 1;

	if (m->fixed)
		snprintf(what, sizeof(what), "map 0x%" PRIx64 " length 0x%" PRIx64, m->iova,
			 m->length);
	else
		snprintf(what, sizeof(what), "map auto length 0x%" PRIx64, m->length);

	switch (err) {
	case -EEXIST: {
		struct itree_node *n0 = NULL;

		if (m->length && m->iova + (m->length - 1) >= m->iova)
			n0 = itree_first_overlap(&io->maps, m->iova, m->iova + m->length - 1);
		if (n0) {
			char d[120];

			describe_mapping(itree_entry(n0, struct mapping, node), d, sizeof(d));
			snprintf(more, sizeof(more), "overlaps mapping %s", d);
		} else {
			snprintf(more, sizeof(more), "overlaps an existing mapping");
		}
		break;
	}
	case -ENOSPC:
		snprintf(more, sizeof(more), "no free IOVA range %s",
			 io->n_windows ? "inside the active windows" : "in the usable ranges");
		break;
	case -EOVERFLOW:
		snprintf(more, sizeof(more), "iova + length overflows");
		break;
	case -EINVAL:
		c->be->ops->iova_ranges(c->be, io->id, rg, &n, &align);
		if (!m->length)
			snprintf(more, sizeof(more), "length is zero");
		else if (align > 1 && ((m->length | (m->fixed ? m->iova : 0)) & (align - 1)))
			snprintf(more, sizeof(more), "not aligned to the IOAS alignment 0x%" PRIx64,
				 align);
		else
			snprintf(more, sizeof(more), "invalid (kernel EINVAL)");
		break;
	default:
		snprintf(more, sizeof(more), "IOMMU_IOAS_MAP: %s", errno_name(-err));
	}
	ioas_error(c, io, rq, "%s: %s", what, more);
}

/*
 * A mapping is inside the active windows or outside all of them, never across an edge: the
 * same rule that refuses a window cutting a mapping (window_over_mappings). Windows that touch
 * count as one range, as the kernel's allocator spans adjacent allowed ranges. Fills the
 * reason.
 */
static bool crosses_window_edge(struct ioas *io, uint64_t s, uint64_t l, char *why, size_t len)
{
	struct rset w;
	bool crosses = false;

	ioas_window_ranges(io, &w);
	for (unsigned i = 0; i < w.n && !crosses; i++) {
		uint64_t a = w.r[i].start, b = w.r[i].last;

		/* merge the windows that touch this one */
		while (i + 1 < w.n && b != UINT64_MAX && w.r[i + 1].start == b + 1)
			b = w.r[++i].last;
		if (ranges_intersect(s, l, a, b) && (s < a || l > b)) {
			snprintf(why, len,
				 "crosses the edge of the windows at 0x%" PRIx64 "-0x%" PRIx64, a,
				 b);
			crosses = true;
		}
	}
	rset_free(&w);
	return crosses;
}

/*
 * Map with io locked (and topo read). *hint caches the last source looked up, so a batch of
 * maps from one source does not search the source list each time.
 */
static int ioas_map(struct core *c, struct ioas *io, const struct core_req *rq,
		    const struct core_map_cmd *m, struct source **hint, uint64_t *ret_iova)
{
	struct source *s = *hint;

	if (!s || strcmp(s->o.name, m->source))
		s = *hint = source_find(c, m->source, 0);
	if (!s) {
		ioas_error(c, io, rq, "no source '%s'", m->source);
		return -ENOENT;
	}
	if (!owns(rq, &s->o)) {
		io->st_errors++;
		return check_owner(c, rq, CORE_SOURCE, &s->o);
	}
	if (!s->set) {
		ioas_error(c, io, rq, "source %s has no memory yet (write its path)", s->o.name);
		return -EINVAL;
	}
	return core_ioas_map_source(c, io, rq, m, s, -1, ret_iova);
}

int core_ioas_map_source(struct core *c, struct ioas *io, const struct core_req *rq,
			 const struct core_map_cmd *m, struct source *s, int fd, uint64_t *ret_iova)
{
	struct mapping *mp;
	uint32_t flags = 0;
	uint64_t iova = m->iova;
	char why[200];
	int ret;

	/* an offset past the end is refused whatever the length: no pointer is made to it */
	if (m->offset < s->mem_off || m->offset > s->size || m->length > s->size - m->offset) {
		ioas_error(c, io, rq,
			   "offset 0x%" PRIx64 " + length 0x%" PRIx64
			   " is beyond the end of source %s (size 0x%" PRIx64 ")",
			   m->offset, m->length, s->o.name, s->size);
		ret = -EINVAL;
		goto out;
	}
	if ((m->prot & CORE_PROT_WRITE) && !s->writable) {
		ioas_error(c, io, rq, "source %s is read-only; map it with r", s->o.name);
		ret = -EPERM;
		goto out;
	}
	/* Platform geometry, before any device brings it to the backend. */
	if (m->fixed && m->length && m->iova != UINT64_MAX && m->length != UINT64_MAX &&
	    m->iova + (m->length - 1) >= m->iova) {
		uint64_t last = m->iova + m->length - 1;

		if (outside_aperture(c, m->iova, last, why, sizeof(why)) ||
		    crosses_reserved(c, io, NULL, m->iova, last, why, sizeof(why)) ||
		    crosses_window_edge(io, m->iova, last, why, sizeof(why))) {
			ioas_error(c, io, rq, "map 0x%" PRIx64 "-0x%" PRIx64 " %s", m->iova, last,
				   why);
			ret = -EINVAL;
			goto out;
		}
	}
	if (io->maps.count >= c->max_mappings) {
		ioas_error(c, io, rq, "ioas %s has %" PRIu64 " mappings (limit %" PRIu64 ")",
			   io->o.name, (uint64_t)io->maps.count, c->max_mappings);
		ret = -ENOSPC;
		goto out;
	}
	if (owner_full(c, io, 1)) {
		ioas_error(c, io, rq,
			   "uid %u holds %" PRIu64 " mappings in its IOASes (limit_user_mappings)",
			   (unsigned)io->o.uid, c->max_mappings);
		ret = -ENOSPC;
		goto out;
	}
	if (m->prot & CORE_PROT_READ)
		flags |= BACKEND_MAP_READABLE;
	if (m->prot & CORE_PROT_WRITE)
		flags |= BACKEND_MAP_WRITEABLE;
	if (m->fixed)
		flags |= BACKEND_MAP_FIXED_IOVA;
	mp = slab_alloc(&io->slab);
	if (!mp) {
		ret = -ENOMEM;
		goto out;
	}
	ret = -ENOTTY;
	if (fd >= 0 && c->be->ops->map_file)
		ret = c->be->ops->map_file(c->be, io->id, flags, fd, m->offset, m->length, &iova);
	/* no IOMMU_IOAS_MAP_FILE (a kernel before 6.13): map the daemon's view of the file */
	if (ret == -ENOTTY) {
		iova = m->iova;
		ret = c->be->ops->map(c->be, io->id, flags, source_ptr(s, m->offset), m->length,
				      &iova);
	}
	if (ret < 0) {
		slab_free(&io->slab, mp);
		map_failure(c, io, rq, m, ret);
		goto out;
	}
	mp->node.start = iova;
	mp->node.last = iova + m->length - 1;
	mp->src = s;
	mp->offset = m->offset;
	mp->prot = m->prot;
	ret = itree_insert(&io->maps, &mp->node);
	if (ret < 0) {
		/* No memory for the record, or the model and the backend disagree: undo the map */
		uint64_t len = m->length;

		c->be->ops->unmap(c->be, io->id, iova, &len);
		slab_free(&io->slab, mp);
		if (ret == -ENOMEM) {
			ioas_error(c, io, rq, "map 0x%" PRIx64 ": out of memory", iova);
			goto out;
		}
		ioas_error(c, io, rq, "internal: backend mapped 0x%" PRIx64 " over the model",
			   iova);
		ret = -EIO;
		goto out;
	}
	__atomic_add_fetch(&s->users, 1, __ATOMIC_RELAXED);
	owner_add(io, 1);
	io->st_maps++;
	io->bytes_mapped += m->length;
	*ret_iova = iova;
out:
	return ret;
}

int core_map(struct core *c, const struct core_req *rq, struct core_ioas_ref r,
	     const struct core_map_cmd *m, uint64_t *ret_iova)
{
	struct ioas *io = ioas_get(c, r);
	struct source *hint = NULL;
	int ret;

	if (!io)
		return -ENOENT;
	ret = ioas_map(c, io, rq, m, &hint, ret_iova);
	ioas_put(c, io);
	return ret;
}

static int ioas_unmap(struct core *c, struct ioas *io, const struct core_req *rq, bool all,
		      uint64_t iova, uint64_t length, uint64_t *ret_length)
{
	struct itree_node *first = NULL, *lastn, *n, *next;
	uint64_t last, len;
	int ret;

	if (all || (iova == 0 && length == UINT64_MAX)) {
		len = UINT64_MAX;
		ret = c->be->ops->unmap(c->be, io->id, 0, &len);
		if (ret < 0) {
			ioas_error(c, io, rq, "unmap all: %s", errno_name(-ret));
			goto out;
		}
		ioas_drop_mappings(io);
		io->st_unmaps++;
		*ret_length = len;
		goto out;
	}
	/*
	 * Refuse what the kernel would refuse only after removing part of the range (a last
	 * area straddling the end), so a failed unmap never changes anything.
	 */
	if (length && iova != UINT64_MAX && length != UINT64_MAX && iova + (length - 1) >= iova) {
		last = iova + length - 1;
		first = itree_first_overlap(&io->maps, iova, last);
		if (!first) {
			ioas_error(c, io, rq,
				   "unmap 0x%" PRIx64 "-0x%" PRIx64 ": nothing mapped there", iova,
				   last);
			ret = -ENOENT;
			goto out;
		}
		lastn = first->last >= last ? first : itree_find(&io->maps, last);
		if (!lastn) {
			/* the last node starting before `last` */
			lastn = first;
			for (n = itree_next(first); n && n->start <= last; n = itree_next(n))
				lastn = n;
		}
		if (first->start < iova || lastn->last > last) {
			struct itree_node *cut = first->start < iova ? first : lastn;
			char d[120];

			describe_mapping(itree_entry(cut, struct mapping, node), d, sizeof(d));
			ioas_error(c, io, rq,
				   "unmap 0x%" PRIx64 "-0x%" PRIx64 " would split mapping %s", iova,
				   last, d);
			ret = -ENOENT;
			goto out;
		}
	}
	len = length;
	ret = c->be->ops->unmap(c->be, io->id, iova, &len);
	if (ret < 0) {
		if (ret == -EINVAL)
			ioas_error(c, io, rq, "unmap: length is zero");
		else if (ret == -EOVERFLOW)
			ioas_error(c, io, rq, "unmap: iova + length overflows");
		else
			ioas_error(c, io, rq, "unmap 0x%" PRIx64 " length 0x%" PRIx64 ": %s", iova,
				   length, errno_name(-ret));
		goto out;
	}
	last = iova + length - 1;
	if (!first)
		first = itree_first_overlap(&io->maps, iova, last);
	for (n = first; n && n->start <= last; n = next) {
		next = n->last >= last ? NULL : itree_next(n);
		mapping_drop(io, itree_entry(n, struct mapping, node));
	}
	io->st_unmaps++;
	*ret_length = len;
out:
	return ret;
}

int core_ioas_lookup(struct core *c, struct core_ioas_ref r, uint64_t iova, uint64_t *ret_start,
		     uint64_t *ret_last)
{
	struct ioas *io = ioas_get(c, r);
	struct itree_node *n;

	if (!io)
		return -ENOENT;
	n = itree_find(&io->maps, iova);
	if (n) {
		*ret_start = n->start;
		*ret_last = n->last;
	}
	ioas_put(c, io);
	return n ? 0 : -ENOENT;
}

int core_unmap(struct core *c, const struct core_req *rq, struct core_ioas_ref r, bool all,
	       uint64_t iova, uint64_t length, uint64_t *ret_length)
{
	struct ioas *io = ioas_get(c, r);
	int ret;

	if (!io)
		return -ENOENT;
	ret = ioas_unmap(c, io, rq, all, iova, length, ret_length);
	ioas_put(c, io);
	return ret;
}

/*
 * IOMMU_IOAS_COPY from src to io, both locked: the source range must be covered by
 * contiguous mappings (else ENOENT), each becomes one mapping in io, of the same memory.
 */
static int ioas_copy(struct core *c, struct ioas *io, struct ioas *src, const struct core_req *rq,
		     bool fixed, uint64_t dst_iova, uint64_t src_iova, uint64_t length,
		     unsigned prot, uint64_t *ret_iova)
{
	struct itree_node *n, *first;
	uint64_t last, at, iova = dst_iova, count = 0, i;
	uint32_t flags = 0;
	struct mapping **news;
	char why[200];
	int ret;

	/* a copy maps the source IOAS's memory: its owner's (or root's) to take */
	if (!owns(rq, &src->o)) {
		io->st_errors++;
		return check_owner(c, rq, CORE_IOAS, &src->o);
	}
	if (length && src_iova + (length - 1) >= src_iova) {
		last = src_iova + length - 1;
		bool covered = false;

		first = itree_find(&src->maps, src_iova);
		at = src_iova;
		for (n = first; n && n->start <= at; n = itree_next(n)) {
			count++;
			if (n->last >= last) {
				covered = true;
				break;
			}
			at = n->last + 1;
		}
		if (!covered) {
			ioas_error(c, io, rq,
				   "copy from ioas %s 0x%" PRIx64 "-0x%" PRIx64
				   ": not covered by contiguous mappings",
				   src->o.name, src_iova, last);
			return -ENOENT;
		}
	}
	if (fixed && length && dst_iova + (length - 1) >= dst_iova &&
	    (outside_aperture(c, dst_iova, dst_iova + length - 1, why, sizeof(why)) ||
	     crosses_reserved(c, io, NULL, dst_iova, dst_iova + length - 1, why, sizeof(why)) ||
	     crosses_window_edge(io, dst_iova, dst_iova + length - 1, why, sizeof(why)))) {
		ioas_error(c, io, rq, "copy to 0x%" PRIx64 "-0x%" PRIx64 " %s", dst_iova,
			   dst_iova + length - 1, why);
		return -EINVAL;
	}
	if (io->maps.count + count > c->max_mappings) {
		ioas_error(c, io, rq,
			   "copy: ioas %s has %" PRIu64 " mappings, %" PRIu64 " more exceed the "
			   "limit %" PRIu64,
			   io->o.name, (uint64_t)io->maps.count, count, c->max_mappings);
		return -ENOSPC;
	}
	if (owner_full(c, io, count)) {
		ioas_error(c, io, rq,
			   "copy: uid %u would hold more than %" PRIu64
			   " mappings in its IOASes (limit_user_mappings)",
			   (unsigned)io->o.uid, c->max_mappings);
		return -ENOSPC;
	}
	news = calloc(count ? count : 1, sizeof(*news));
	if (!news)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		news[i] = slab_alloc(&io->slab);
		if (!news[i]) {
			ret = -ENOMEM;
			goto out;
		}
	}
	if (prot & CORE_PROT_READ)
		flags |= BACKEND_MAP_READABLE;
	if (prot & CORE_PROT_WRITE)
		flags |= BACKEND_MAP_WRITEABLE;
	if (fixed)
		flags |= BACKEND_MAP_FIXED_IOVA;
	ret = c->be->ops->copy(c->be, flags, io->id, src->id, length, &iova, src_iova);
	if (ret < 0) {
		struct core_map_cmd m = { .fixed = fixed, .iova = dst_iova, .length = length };

		if (ret == -EPERM)
			ioas_error(c, io, rq, "copy: a source mapping is not writable");
		else
			map_failure(c, io, rq, &m, ret);
		goto out;
	}
	/* one mapping per source mapping, clipped to the copied range */
	last = src_iova + length - 1;
	n = itree_find(&src->maps, src_iova);
	for (i = 0; i < count; i++, n = itree_next(n)) {
		struct mapping *sm = itree_entry(n, struct mapping, node);
		uint64_t s0 = n->start > src_iova ? n->start : src_iova;
		uint64_t s1 = n->last < last ? n->last : last;

		news[i]->node.start = iova + (s0 - src_iova);
		news[i]->node.last = iova + (s1 - src_iova);
		news[i]->src = sm->src;
		news[i]->offset = sm->offset + (s0 - n->start);
		news[i]->prot = prot;
		if ((ret = itree_insert(&io->maps, &news[i]->node)) < 0)
			break;
	}
	if (ret < 0) {
		/* all or nothing: take back the records made so far and the backend's copy */
		uint64_t len = length;

		while (i--)
			itree_remove(&io->maps, &news[i]->node);
		c->be->ops->unmap(c->be, io->id, iova, &len);
		if (ret == -ENOMEM) {
			ioas_error(c, io, rq, "copy to 0x%" PRIx64 ": out of memory", iova);
		} else {
			ioas_error(c, io, rq,
				   "internal: backend copied to 0x%" PRIx64 " over the model",
				   iova);
			ret = -EIO;
		}
		goto out;
	}
	for (i = 0; i < count; i++) {
		__atomic_add_fetch(&news[i]->src->users, 1, __ATOMIC_RELAXED);
		io->bytes_mapped += news[i]->node.last - news[i]->node.start + 1;
		news[i] = NULL;
	}
	owner_add(io, (int64_t)count);
	io->st_maps++;
	*ret_iova = iova;
out:
	for (i = 0; i < count; i++)
		slab_free(&io->slab, news[i]);
	free(news);
	return ret;
}

/* Copy from the IOAS named src_name into io (locked, topo read held). */
static int ioas_copy_from(struct core *c, struct ioas *io, const struct core_req *rq,
			  const char *src_name, bool fixed, uint64_t dst_iova, uint64_t src_iova,
			  uint64_t length, unsigned prot, uint64_t *ret_iova)
{
	struct core_ioas_ref sr = { src_name, 0 };
	struct ioas *src = ioas_find(c, sr);
	int ret;

	if (!src) {
		ioas_error(c, io, rq, "copy: no ioas '%s'", src_name);
		return -ENOENT;
	}
	/* locks in address order; the topo read lock keeps both alive */
	if (src < io) {
		pthread_mutex_unlock(&io->lock);
		pthread_mutex_lock(&src->lock);
		pthread_mutex_lock(&io->lock);
	} else if (src != io) {
		pthread_mutex_lock(&src->lock);
	}
	ret = ioas_copy(c, io, src, rq, fixed, dst_iova, src_iova, length, prot, ret_iova);
	if (src != io)
		pthread_mutex_unlock(&src->lock);
	return ret;
}

int core_copy(struct core *c, const struct core_req *rq, struct core_ioas_ref r,
	      const struct core_copy_cmd *cp, uint64_t *ret_iova)
{
	struct ioas *io = ioas_get(c, r);
	int ret;

	if (!io)
		return -ENOENT;
	ret = ioas_copy_from(c, io, rq, cp->src_ioas, cp->fixed, cp->iova, cp->src_iova, cp->length,
			     cp->prot, ret_iova);
	ioas_put(c, io);
	return ret;
}

/*
 * Run a batch of commands (already checked for form by the caller) against one IOAS, under
 * one lock acquisition; out[i] is the completion of cmds[i].
 */
/* The IOAS went while a batch was unlocked: command i and those after it complete ENOENT. */
static void batch_gone(const struct ioasfs_cmd *cmds, unsigned i, unsigned n,
		       struct ioasfs_cqe *out)
{
	for (; i < n; i++) {
		out[i].user_data = cmds[i].user_data;
		out[i].flags = 0;
		out[i].iova = cmds[i].iova;
		out[i].length = cmds[i].length;
		out[i].res = -ENOENT;
	}
}

int core_batch(struct core *c, const struct core_req *rq, struct core_ioas_ref r,
	       const struct ioasfs_cmd *cmds, unsigned n, struct ioasfs_cqe *out)
{
	struct ioas *io = ioas_get(c, r);
	struct core_req crq = *rq;
	struct source *hint = NULL;
	struct core_fd_view view;

	if (!io)
		return -ENOENT;
	crq.prefix = "record";
	crq.quiet = true;
	for (unsigned i = 0; i < n; i++) {
		const struct ioasfs_cmd *cmd = &cmds[i];
		struct ioasfs_cqe *cqe = &out[i];
		struct core_map_cmd m;
		int ret = 0;

		crq.item = i + 1; /* errors count records from 1, like lines */
		cqe->user_data = cmd->user_data;
		cqe->flags = 0;
		cqe->iova = cmd->iova;
		cqe->length = cmd->length;
		switch (cmd->opcode) {
		case IOASFS_OP_MAP:
		case IOASFS_OP_MAP_FIXED:
			m = (struct core_map_cmd){
				.fixed = cmd->opcode == IOASFS_OP_MAP_FIXED,
				.iova = cmd->iova,
				.length = cmd->length,
				.source = cmd->name,
				.offset = cmd->offset,
				.prot = cmd->prot,
			};
			ret = ioas_map(c, io, &crq, &m, &hint, &cqe->iova);
			break;
		case IOASFS_OP_UNMAP:
			ret = ioas_unmap(c, io, &crq, cmd->flags & IOASFS_CMD_UNMAP_ALL, cmd->iova,
					 cmd->length, &cqe->length);
			break;
		case IOASFS_OP_COPY:
			ret = ioas_copy_from(c, io, &crq, cmd->name,
					     cmd->flags & IOASFS_CMD_COPY_FIXED, cmd->iova,
					     cmd->offset, cmd->length, cmd->prot, &cqe->iova);
			break;
		case IOASFS_OP_MAP_FD:
		case IOASFS_OP_MAP_FD_FIXED:
			/* the fd is taken and mapped with no lock held (core_fd_view_make) */
			ioas_put(c, io);
			hint = NULL; /* sources may go while unlocked */
			ret = core_fd_view_make(&crq, cmd->fd, cmd->offset, cmd->length, cmd->prot,
						&view);
			io = ioas_get(c, r);
			if (!io) {
				core_fd_view_drop(&view);
				batch_gone(cmds, i, n, out);
				return 0;
			}
			if (ret < 0)
				ioas_error(c, io, &crq, "map by fd %d: %s", cmd->fd, view.why);
			else
				ret = core_ioas_map_fd(c, io, &crq,
						       cmd->opcode == IOASFS_OP_MAP_FD_FIXED,
						       cmd->iova, cmd->fd, cmd->offset, cmd->length,
						       cmd->prot, &view, &cqe->iova);
			break;
		default: /* NOP */
			break;
		}
		cqe->res = ret;
	}
	ioas_put(c, io);
	return 0;
}

/* ---------------------------------------------------------------- the object */

/* topo held for writing: a new IOAS in the backend, allowed what the platform allows */
static struct obj *ioas_make(struct core *c, const struct core_req *rq, const char *name,
			     const char *ctx, int *ret)
{
	uid_t uid = rq ? rq->uid : 0;
	struct core_user *owner = owner_of(c, uid);
	struct ioas *io = owner || !owner_counted(c, uid) ? calloc(1, sizeof(*io)) : NULL;
	int r;

	if (!io) {
		*ret = -ENOMEM;
		return NULL;
	}
	io->owner = owner;
	r = c->be->ops->ioas_alloc(c->be, &io->id);
	if (r < 0) {
		core_error(c, rq, "IOMMU_IOAS_ALLOC: %s", errno_name(-r));
		free(io);
		*ret = r;
		return NULL;
	}
	pthread_mutex_init(&io->lock, NULL);
	list_init(&io->windows);
	itree_init_plain(&io->maps); /* the core never searches it for free space */
	slab_init(&io->slab, sizeof(struct mapping));
	r = ioas_push_allowed(c, io, NULL);
	if (r < 0) {
		core_error(c, rq, "IOMMU_IOAS_ALLOW_IOVAS: %s", errno_name(-r));
		c->be->ops->destroy(c->be, io->id);
		pthread_mutex_destroy(&io->lock);
		free(io);
		*ret = r;
		return NULL;
	}
	return &io->o;
}

/* topo held for writing: no device and no window left, then IOMMU_DESTROY */
static int ioas_remove(struct core *c, const struct core_req *rq, struct obj *o)
{
	struct ioas *io = list_entry(o, struct ioas, o);
	int r;

	if (io->n_devices) {
		core_error(c, rq, "ioas %s has %u device(s) attached", o->name, io->n_devices);
		return -EBUSY;
	}
	if (io->n_windows) {
		core_error(c, rq, "ioas %s still has %u window(s)", o->name, io->n_windows);
		return -ENOTEMPTY;
	}
	r = c->be->ops->destroy(c->be, io->id);
	if (r < 0)
		core_error(c, rq, "IOMMU_DESTROY ioas %s: %s", o->name, errno_name(-r));
	return r;
}

static void ioas_free(struct core *c, struct obj *o)
{
	struct ioas *io = list_entry(o, struct ioas, o);
	struct list *p, *n;

	ioas_drop_mappings(io);
	itree_clear(&io->maps);
	slab_destroy(&io->slab);
	list_for_each_safe (p, n, &io->windows)
		free(list_entry(p, struct window, o.link));
	pthread_mutex_destroy(&io->lock);
	free(io);
}

const struct core_obj_ops ioas_obj_ops = {
	.name = "ioas",
	.max = CORE_MAX_IOAS,
	.make = ioas_make,
	.remove = ioas_remove,
	.free = ioas_free,
};
