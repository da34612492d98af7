/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Windows: ranges of an IOAS that a program asks for by start, size, page size and levels,
 * placed as constraints (never moved), whose union becomes the IOAS's allowed IOVAs.
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

/* ---------------------------------------------------------------- windows */

int core_window_create(struct core *c, const struct core_req *rq, struct core_ioas_ref r,
		       const char *name)
{
	struct ioas *io;
	struct window *w;
	int ret = 0;

	if (!valid_name(name)) {
		core_error(c, rq, "invalid window name '%.64s'", name);
		return -EINVAL;
	}
	core_topo_wrlock(c);
	io = ioas_find(c, r);
	if (!io) {
		ret = -ENOENT;
		goto out;
	}
	if (window_find(io, name, 0)) {
		ret = -EEXIST;
		goto out;
	}
	if (io->n_windows >= CORE_MAX_WINDOWS) {
		ioas_error(c, io, rq, "too many windows (limit %d)", CORE_MAX_WINDOWS);
		ret = -ENOSPC;
		goto out;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		ret = -ENOMEM;
		goto out;
	}
	snprintf(w->o.name, sizeof(w->o.name), "%s", name);
	w->o.serial = c->next_serial++;
	w->start = CORE_AUTO;
	w->page_size = CORE_AUTO;
	w->levels = CORE_AUTO;
	list_add_tail(&w->o.link, &io->windows);
	io->n_windows++;
out:
	pthread_rwlock_unlock(&c->topo);
	return ret;
}

static bool window_has_mappings(struct ioas *io, const struct window *w)
{
	return w->active && itree_first_overlap(&io->maps, w->a_start, w->a_last);
}

int core_window_remove(struct core *c, const struct core_req *rq, struct core_ioas_ref r,
		       const char *name)
{
	struct ioas *io;
	struct window *w;
	int ret = 0;

	core_topo_wrlock(c);
	io = ioas_find(c, r);
	w = io ? window_find(io, name, 0) : NULL;
	if (!w) {
		ret = -ENOENT;
		goto out;
	}
	if (window_has_mappings(io, w)) {
		ioas_error(c, io, rq, "window %s 0x%" PRIx64 "-0x%" PRIx64 " still has mappings",
			   name, w->a_start, w->a_last);
		ret = -EBUSY;
		goto out;
	}
	list_del(&w->o.link);
	io->n_windows--;
	ret = ioas_push_allowed(c, io, NULL);
	if (ret < 0) {
		list_add_tail(&w->o.link, &io->windows);
		io->n_windows++;
		ioas_error(c, io, rq, "IOMMU_IOAS_ALLOW_IOVAS: %s", errno_name(-ret));
		goto out;
	}
	free(w);
out:
	pthread_rwlock_unlock(&c->topo);
	return ret;
}

int core_window_lookup(struct core *c, struct core_ioas_ref r, const char *name,
		       uint64_t *ret_serial)
{
	struct ioas *io = ioas_get(c, r);
	struct window *w;
	int ret = -ENOENT;

	if (!io)
		return -ENOENT;
	w = window_find(io, name, 0);
	if (w) {
		*ret_serial = w->o.serial;
		ret = 0;
	}
	ioas_put(c, io);
	return ret;
}

int core_window_list(struct core *c, struct core_ioas_ref r, struct core_name **ret, size_t *ret_n)
{
	struct ioas *io = ioas_get(c, r);
	int rc;

	if (!io)
		return -ENOENT;
	rc = list_names(&io->windows, io->n_windows, ret, ret_n);
	ioas_put(c, io);
	return rc;
}

static void show_auto(struct sbuf *sb, uint64_t v, bool hex)
{
	if (v == CORE_AUTO)
		sbuf_printf(sb, "auto\n");
	else if (hex)
		sbuf_printf(sb, "0x%" PRIx64 "\n", v);
	else
		sbuf_printf(sb, "%" PRIu64 "\n", v);
}

int core_window_show(struct core *c, struct core_ioas_ref r, const char *name, uint64_t serial,
		     int attr, struct sbuf *sb)
{
	struct ioas *io = ioas_get(c, r);
	struct window *w;

	if (!io)
		return -ENOENT;
	w = window_find(io, name, serial);
	if (!w) {
		ioas_put(c, io);
		return -ENOENT;
	}
	switch (attr) {
	case CORE_WIN_START:
		show_auto(sb, w->start, true);
		break;
	case CORE_WIN_SIZE:
		if (w->size)
			sbuf_printf(sb, "0x%" PRIx64 "\n", w->size);
		else
			sbuf_printf(sb, "\n");
		break;
	case CORE_WIN_PAGE_SIZE:
		show_auto(sb, w->page_size, true);
		break;
	case CORE_WIN_LEVELS:
		show_auto(sb, w->levels, false);
		break;
	default:
		if (w->active)
			sbuf_printf(sb, "active " ADDR_FMT "-" ADDR_FMT "\n", w->a_start,
				    w->a_last);
		else
			sbuf_printf(sb, "pending\n");
	}
	ioas_put(c, io);
	return 0;
}

/* Largest platform page size that is <= size and >= min, used to align `auto` windows. */
static uint64_t window_auto_align(const struct platform *p, uint64_t ps, uint64_t size)
{
	uint64_t best = ps;

	for (int b = 0; b < 64; b++) {
		uint64_t v = 1ull << b;

		if ((p->page_sizes & v) && v >= ps && v <= size)
			best = v;
	}
	return best;
}

/*
 * A window may cover mappings, but not cut one: a mapping half inside a window would be
 * neither inside the constraint nor outside it. 0, or -EADDRINUSE naming the mapping.
 */
int window_over_mappings(struct ioas *io, struct window *nw, char *why, size_t len)
{
	struct itree_node *n[2] = { itree_find(&io->maps, nw->a_start),
				    itree_find(&io->maps, nw->a_last) };

	for (int i = 0; i < 2; i++)
		if (n[i] && (n[i]->start < nw->a_start || n[i]->last > nw->a_last)) {
			char d[120];

			describe_mapping(itree_entry(n[i], struct mapping, node), d, sizeof(d));
			snprintf(why, len, "cuts mapping %s", d);
			nw->active = false;
			return -EADDRINUSE;
		}
	return 0;
}

/*
 * Validate window nw (a copy of w with one attribute changed) and compute its placement.
 * Returns 0 with nw->active/a_start/a_last set, or -errno with the reason in why.
 */
static int window_place(struct core *c, struct ioas *io, const struct window *w, struct window *nw,
			char *why, size_t len)
{
	const struct platform *p = &c->plat;
	uint64_t ps = nw->page_size == CORE_AUTO ? platform_min_page(p) : nw->page_size;
	struct list *pos;
	unsigned active = 0;
	char ps_list[64];

	nw->active = false;
	if (!(p->page_sizes & ps)) {
		format_page_sizes(p->page_sizes, ps_list, sizeof(ps_list));
		snprintf(why, len, "page_size 0x%" PRIx64 " is not one of the platform's (%s)", ps,
			 ps_list);
		return -EINVAL;
	}
	if (!nw->size)
		return 0;
	if (nw->size % ps || (nw->start != CORE_AUTO && nw->start % ps)) {
		snprintf(why, len, "start and size must be multiples of page_size 0x%" PRIx64, ps);
		return -EINVAL;
	}
	if (nw->start != CORE_AUTO && nw->start + (nw->size - 1) < nw->start) {
		snprintf(why, len, "start 0x%" PRIx64 " + size 0x%" PRIx64 " overflows", nw->start,
			 nw->size);
		return -EOVERFLOW;
	}
	if (nw->levels != CORE_AUTO) {
		/* each level resolves 9 bits of a 4K-entry table: a hint we hold windows to */
		unsigned bits = 0;

		while ((1ull << bits) < ps)
			bits++;
		bits += 9 * (unsigned)nw->levels;
		if (bits < 64 && nw->size > (1ull << bits)) {
			snprintf(why, len,
				 "size 0x%" PRIx64 " needs more than %" PRIu64
				 " levels of 0x%" PRIx64 " pages",
				 nw->size, nw->levels, ps);
			return -EINVAL;
		}
	}
	list_for_each (pos, &io->windows) {
		struct window *o = list_entry(pos, struct window, o.link);

		if (o != w && o->active)
			active++;
	}
	if (p->max_windows && active + 1 > p->max_windows) {
		snprintf(why, len, "the platform allows max_windows %u, all in use",
			 p->max_windows);
		return -ENOSPC;
	}
	if (nw->start == CORE_AUTO) {
		struct rset s;
		uint64_t align = window_auto_align(p, ps, nw->size);
		int err;

		ioas_base_ranges(c, io, NULL, &s);
		list_for_each (pos, &io->windows) {
			struct window *o = list_entry(pos, struct window, o.link);

			if (o != w && o->active)
				rset_subtract(&s, o->a_start, o->a_last);
		}
		for (unsigned i = 0; i < s.n; i++) {
			uint64_t a = (s.r[i].start + align - 1) & ~(align - 1);

			if (a < s.r[i].start || a > s.r[i].last)
				continue;
			if (s.r[i].last - a >= nw->size - 1) {
				nw->active = true;
				nw->a_start = a;
				nw->a_last = a + nw->size - 1;
				break;
			}
		}
		err = s.err;
		rset_free(&s);
		if (nw->active)
			return window_over_mappings(io, nw, why, len);
		if (err)
			return err;
		snprintf(why, len, "no room for size 0x%" PRIx64 " in the usable ranges", nw->size);
		return -ENOSPC;
	}
	nw->a_start = nw->start;
	nw->a_last = nw->start + nw->size - 1;
	if (outside_aperture(c, nw->a_start, nw->a_last, why, len) ||
	    crosses_reserved(c, io, NULL, nw->a_start, nw->a_last, why, len))
		return -EADDRINUSE;
	list_for_each (pos, &io->windows) {
		struct window *o = list_entry(pos, struct window, o.link);

		if (o != w && o->active &&
		    ranges_intersect(nw->a_start, nw->a_last, o->a_start, o->a_last)) {
			snprintf(why, len, "overlaps window %s 0x%" PRIx64 "-0x%" PRIx64, o->o.name,
				 o->a_start, o->a_last);
			return -EEXIST;
		}
	}
	nw->active = true;
	return window_over_mappings(io, nw, why, len);
}

static const char *const win_attr_name[] = { "start", "size", "page_size", "levels" };

int core_window_store(struct core *c, const struct core_req *rq, struct core_ioas_ref r,
		      const char *name, uint64_t serial, enum core_win_attr attr, uint64_t val)
{
	struct ioas *io = ioas_get(c, r);
	struct window *w, nw;
	char why[240] = "";
	int ret;

	if (!io)
		return -ENOENT;
	w = window_find(io, name, serial);
	if (!w) {
		ret = -ENOENT;
		goto out;
	}
	nw = *w;
	switch (attr) {
	case CORE_WIN_START:
		nw.start = val;
		break;
	case CORE_WIN_SIZE:
		if (val == 0 || val == CORE_AUTO) {
			ioas_error(c, io, rq, "window %s: size must be a non-zero size", name);
			ret = -EINVAL;
			goto out;
		}
		nw.size = val;
		break;
	case CORE_WIN_PAGE_SIZE:
		if (val != CORE_AUTO && (!val || (val & (val - 1)))) {
			ioas_error(c, io, rq,
				   "window %s: page_size 0x%" PRIx64 " is not a power of two", name,
				   val);
			ret = -EINVAL;
			goto out;
		}
		nw.page_size = val;
		break;
	case CORE_WIN_LEVELS:
		if (val != CORE_AUTO && (val < 1 || val > 6)) {
			ioas_error(c, io, rq, "window %s: levels must be 1..6 or auto", name);
			ret = -EINVAL;
			goto out;
		}
		nw.levels = val;
		break;
	}
	if (nw.start == w->start && nw.size == w->size && nw.page_size == w->page_size &&
	    nw.levels == w->levels) {
		ret = 0; /* writing the value a window already has changes nothing */
		goto out;
	}
	if (window_has_mappings(io, w)) {
		ioas_error(c, io, rq,
			   "window %s 0x%" PRIx64 "-0x%" PRIx64 " has mappings; unmap them before "
			   "changing %s",
			   name, w->a_start, w->a_last, win_attr_name[attr]);
		ret = -EBUSY;
		goto out;
	}
	ret = window_place(c, io, w, &nw, why, sizeof(why));
	if (ret < 0) {
		if (!nw.size)
			ioas_error(c, io, rq, "window %s: %s", name, why);
		else if (nw.start == CORE_AUTO)
			ioas_error(c, io, rq, "window %s auto size 0x%" PRIx64 " %s", name, nw.size,
				   why);
		else if (nw.start + (nw.size - 1) < nw.start)
			ioas_error(c, io, rq, "window %s: %s", name, why);
		else
			ioas_error(c, io, rq, "window %s 0x%" PRIx64 "-0x%" PRIx64 " %s", name,
				   nw.start, nw.start + nw.size - 1, why);
		goto out;
	}
	if (nw.active == w->active && nw.a_start == w->a_start && nw.a_last == w->a_last) {
		*w = nw;
		goto out;
	}
	{
		struct window old = *w;

		*w = nw;
		ret = ioas_push_allowed(c, io, NULL);
		if (ret < 0) {
			*w = old;
			ioas_error(c, io, rq, "window %s: IOMMU_IOAS_ALLOW_IOVAS: %s", name,
				   errno_name(-ret));
		}
	}
out:
	ioas_put(c, io);
	return ret;
}
