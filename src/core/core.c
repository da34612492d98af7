/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The object model and every validation rule that is ioasfs's own (windows as constraints,
 * platform geometry checked before any device exists), in front of a backend that enforces
 * the kernel's rules. The order in each operation is always: look up, validate against the
 * model, ask the backend, and only then change the model. A backend failure leaves the model
 * as it was, and the reason written to `errors` is built from the model (which mapping, which
 * reserved range, which window), because the kernel only ever says an errno.
 *
 * What the backend is told: the union of an IOAS's active windows, or (with no window) the
 * usable ranges of the platform, becomes its IOMMU_IOAS_ALLOW_IOVAS list. That is how `auto`
 * maps avoid the platform's holes before any device has brought its reserved regions, and
 * land only inside windows once there are some.
 *
 * This file holds what every kind shares: the registry of objects, errors, ownership, the
 * geometry (usable ranges, reserved ranges, the allowed list). Each kind has its file:
 * ioas.c (attributes, map, unmap, copy, batch), window.c, device.c, source.c; dma.c reads and
 * writes through mappings and makes the views of maps by fd; save.c saves and restores.
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

/* ---------------------------------------------------------------- range sets */

void rset_free(struct rset *s)
{
	free(s->r);
	*s = (struct rset){ 0 };
}

static void rset_add(struct rset *s, uint64_t start, uint64_t last)
{
	if (s->n == s->cap) {
		unsigned cap = s->cap ? s->cap * 2 : 16;
		struct iova_range *r = realloc(s->r, cap * sizeof(*r));

		if (!r) {
			s->err = -ENOMEM;
			return;
		}
		s->r = r;
		s->cap = cap;
	}
	s->r[s->n++] = (struct iova_range){ start, last };
}

/* Remove [start, last] from a sorted disjoint set. */
void rset_subtract(struct rset *s, uint64_t start, uint64_t last)
{
	struct rset out = { 0 };

	for (unsigned i = 0; i < s->n; i++) {
		struct iova_range r = s->r[i];

		if (r.last < start || r.start > last) {
			rset_add(&out, r.start, r.last);
			continue;
		}
		if (r.start < start)
			rset_add(&out, r.start, start - 1);
		if (r.last > last)
			rset_add(&out, last + 1, r.last);
	}
	out.err = out.err ? out.err : s->err;
	rset_free(s);
	*s = out;
}

static void rset_intersect(struct rset *s, const struct rset *w)
{
	struct rset out = { 0 };

	for (unsigned i = 0; i < s->n; i++)
		for (unsigned j = 0; j < w->n; j++) {
			uint64_t a = s->r[i].start > w->r[j].start ? s->r[i].start : w->r[j].start;
			uint64_t b = s->r[i].last < w->r[j].last ? s->r[i].last : w->r[j].last;

			if (a <= b)
				rset_add(&out, a, b);
		}
	out.err = out.err ? out.err : s->err ? s->err : w->err;
	rset_free(s);
	*s = out;
}

bool ranges_intersect(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1)
{
	return a0 <= b1 && b0 <= a1;
}

/* ---------------------------------------------------------------- objects */

static struct obj *obj_find(struct core *c, enum core_obj kind, const char *name, uint64_t serial)
{
	struct list *p;

	if (!name)
		return NULL;
	list_for_each (p, &c->objs[kind]) {
		struct obj *o = list_entry(p, struct obj, link);

		if (!strcmp(o->name, name))
			return (serial && o->serial != serial) ? NULL : o;
	}
	return NULL;
}

struct ioas *ioas_find(struct core *c, struct core_ioas_ref r)
{
	struct obj *o = obj_find(c, CORE_IOAS, r.name, r.serial);

	return o ? list_entry(o, struct ioas, o) : NULL;
}

struct device *device_find(struct core *c, const char *name, uint64_t serial)
{
	struct obj *o = obj_find(c, CORE_DEVICE, name, serial);

	return o ? list_entry(o, struct device, o) : NULL;
}

struct source *source_find(struct core *c, const char *name, uint64_t serial)
{
	struct obj *o = obj_find(c, CORE_SOURCE, name, serial);

	return o ? list_entry(o, struct source, o) : NULL;
}

struct window *window_find(struct ioas *io, const char *name, uint64_t serial)
{
	struct list *p;

	list_for_each (p, &io->windows) {
		struct window *w = list_entry(p, struct window, o.link);

		if (!strcmp(w->o.name, name))
			return (serial && w->o.serial != serial) ? NULL : w;
	}
	return NULL;
}

/* Lock helpers: topo for reading plus the IOAS lock. */
struct ioas *ioas_get(struct core *c, struct core_ioas_ref r)
{
	struct ioas *io;

	pthread_rwlock_rdlock(&c->topo);
	io = ioas_find(c, r);
	if (!io) {
		pthread_rwlock_unlock(&c->topo);
		return NULL;
	}
	pthread_mutex_lock(&io->lock);
	return io;
}

void ioas_put(struct core *c, struct ioas *io)
{
	pthread_mutex_unlock(&io->lock);
	pthread_rwlock_unlock(&c->topo);
}

struct ioas *core_ioas_get(struct core *c, struct core_ioas_ref r)
{
	return ioas_get(c, r);
}

void core_ioas_put(struct core *c, struct ioas *io)
{
	ioas_put(c, io);
}

/* ---------------------------------------------------------------- errors */

void core_error(struct core *c, const struct core_req *rq, const char *fmt, ...)
{
	struct timespec ts;
	char reason[400];
	char *slot;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);

	if (rq && rq->reason && rq->reason_len) {
		snprintf(rq->reason, rq->reason_len, "%s", reason);
		for (char *p = rq->reason; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	pthread_mutex_lock(&c->err_lock);
	slot = c->errors[(c->err_head + c->err_count) % CORE_ERRORS_RING];
	if (c->err_count == CORE_ERRORS_RING)
		c->err_head = (c->err_head + 1) % CORE_ERRORS_RING;
	else
		c->err_count++;
	if (rq && rq->prefix && rq->item)
		snprintf(slot, CORE_ERROR_LEN, "%lld.%06ld %d %.120s: %.16s %u: %s",
			 (long long)ts.tv_sec, ts.tv_nsec / 1000, (int)rq->pid,
			 rq->path ? rq->path : "-", rq->prefix, rq->item, reason);
	else if (rq && rq->prefix)
		snprintf(slot, CORE_ERROR_LEN, "%lld.%06ld %d %.120s: %.16s: %s",
			 (long long)ts.tv_sec, ts.tv_nsec / 1000, (int)rq->pid,
			 rq->path ? rq->path : "-", rq->prefix, reason);
	else
		snprintf(slot, CORE_ERROR_LEN, "%lld.%06ld %d %.120s: %s", (long long)ts.tv_sec,
			 ts.tv_nsec / 1000, rq ? (int)rq->pid : 0, rq && rq->path ? rq->path : "-",
			 reason);
	/* one line per error, whatever names or values a client sent */
	for (char *p = slot; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (!rq || !rq->quiet)
		fprintf(stderr, "ioasfs: %s\n", slot);
	pthread_mutex_unlock(&c->err_lock);
}

void core_show_errors(struct core *c, struct sbuf *sb)
{
	pthread_mutex_lock(&c->err_lock);
	for (unsigned i = 0; i < c->err_count; i++)
		sbuf_printf(sb, "%s\n", c->errors[(c->err_head + i) % CORE_ERRORS_RING]);
	pthread_mutex_unlock(&c->err_lock);
}

void core_show_status(struct core *c, struct sbuf *sb)
{
	char ps[64];

	format_page_sizes(c->plat.page_sizes, ps, sizeof(ps));
	sbuf_printf(sb, "version %s\n", PACKAGE_VERSION);
	sbuf_printf(sb, "backend %s\n", c->be->ops->name);
	sbuf_printf(sb, "platform %s\n", c->plat.name);
	sbuf_printf(sb, "map_file %s\n", c->be->ops->map_file ? "yes" : "no (sim backend)");
	sbuf_printf(sb, "limit_name %d\n", CORE_NAME_MAX);
	sbuf_printf(sb, "limit_ioas %d\n", CORE_MAX_IOAS);
	sbuf_printf(sb, "limit_devices %d\n", CORE_MAX_DEVICES);
	sbuf_printf(sb, "limit_sources %d\n", CORE_MAX_SOURCES);
	sbuf_printf(sb, "limit_user_ioas %d\n", CORE_USER_SHARE(CORE_MAX_IOAS));
	sbuf_printf(sb, "limit_user_devices %d\n", CORE_USER_SHARE(CORE_MAX_DEVICES));
	sbuf_printf(sb, "limit_user_sources %d\n", CORE_USER_SHARE(CORE_MAX_SOURCES));
	sbuf_printf(sb, "limit_opens %d\n", OPENER_MAX_INFLIGHT);
	sbuf_printf(sb, "limit_user_opens %d\n", OPENER_MAX_PER_UID);
	sbuf_printf(sb, "limit_windows %d\n", CORE_MAX_WINDOWS);
	sbuf_printf(sb, "limit_mappings %" PRIu64 "\n", c->max_mappings);
	sbuf_printf(sb, "limit_user_mappings %" PRIu64 "\n", c->max_mappings);
	sbuf_printf(sb, "limit_user_anon_bytes %" PRIu64 "\n", c->user_anon_bytes);
	sbuf_printf(sb, "limit_reserved %d\n", CORE_MAX_RESERVED);
	sbuf_printf(sb, "limit_anon_bytes %llu\n", ANON_MAX);
	sbuf_printf(sb, "limit_errors %d\n", CORE_ERRORS_RING);
	sbuf_printf(sb, "limit_error_bytes %d\n", CORE_ERROR_LEN);
}

/* ---------------------------------------------------------------- lifecycle */

const char *core_backend_name(const struct core *c)
{
	return c->be->ops->name;
}

const struct core_obj_ops *const core_obj_ops[CORE_OBJ_KINDS] = {
	[CORE_IOAS] = &ioas_obj_ops,
	[CORE_DEVICE] = &device_obj_ops,
	[CORE_SOURCE] = &source_obj_ops,
};

const struct backend_ops *core_backend_ops(const struct core *c)
{
	return c->be->ops;
}

void core_topo_wrlock(struct core *c)
{
	struct timespec t;

	for (;;) {
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 2 * 1000 * 1000;
		if (t.tv_nsec >= 1000 * 1000 * 1000) {
			t.tv_sec++;
			t.tv_nsec -= 1000 * 1000 * 1000;
		}
		if (pthread_rwlock_timedwrlock(&c->topo, &t) == 0)
			return;
		/* the readers that queued behind this writer go first */
		nanosleep(&(struct timespec){ .tv_nsec = 1000 * 1000 }, NULL);
	}
}

int core_create(struct backend *be, const struct platform *plat, struct core **ret)
{
	pthread_rwlockattr_t attr;
	struct core *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->be = be;
	c->plat = *plat;
	c->next_serial = 1;
	c->max_mappings = CORE_MAX_MAPPINGS;
	/* a quarter of the machine's memory, as for the other shares of one user */
	c->user_anon_bytes =
	    CORE_USER_SHARE((uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE));
	for (int i = 0; i < CORE_OBJ_KINDS; i++)
		list_init(&c->objs[i]);
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&c->topo, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&c->err_lock, NULL);
	*ret = c;
	return 0;
}

const struct platform *core_platform(const struct core *c)
{
	return &c->plat;
}

void core_set_multiuser(struct core *c, bool on)
{
	c->multiuser = on;
}

int core_set_max_mappings(struct core *c, uint64_t max)
{
	if (!max || max > UINT32_MAX)
		return -EINVAL;
	c->max_mappings = max;
	return 0;
}

/*
 * The record of uid (topo held for writing): found, or added; NULL when uid's mappings are
 * not counted (a single-user mount, or root) or without memory (-ENOMEM then: the caller
 * tells by owner_counted). Records stay until the core goes, so an IOAS's pointer to its
 * owner's never dangles.
 */
bool owner_counted(const struct core *c, uid_t uid)
{
	return c->multiuser && uid != 0;
}

struct core_user *owner_of(struct core *c, uid_t uid)
{
	struct core_user *u;

	if (!owner_counted(c, uid))
		return NULL; /* nothing to count: see core_user */

	for (u = c->users; u; u = u->next)
		if (u->uid == uid)
			return u;
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->uid = uid;
	u->next = c->users;
	c->users = u;
	return u;
}

void ioas_drop_mappings(struct ioas *io)
{
	struct itree_node *n;

	while ((n = itree_first(&io->maps)))
		mapping_drop(io, itree_entry(n, struct mapping, node));
}

void source_release(struct source *s)
{
	if (s->mem)
		munmap(s->mem, s->mem_len);
	free(s->path);
	s->mem = NULL;
	s->path = NULL;
	s->size = 0;
	s->set = false;
}

void core_fd_view_put(struct source *s)
{
	if (__atomic_sub_fetch(&s->users, 1, __ATOMIC_ACQ_REL))
		return;
	source_release(s);
	free(s);
}

static void obj_free(struct core *c, enum core_obj kind, struct obj *o)
{
	core_obj_ops[kind]->free(c, o);
}

void core_destroy(struct core *c)
{
	struct list *p, *n;

	if (!c)
		return;
	/* Devices first (they hold IOASes busy), then IOASes (they hold sources). */
	list_for_each_safe (p, n, &c->objs[CORE_DEVICE]) {
		struct device *d = list_entry(p, struct device, o.link);

		if (d->bound)
			c->be->ops->device_unbind(c->be, d->dev_id);
		obj_free(c, CORE_DEVICE, &d->o);
	}
	list_for_each_safe (p, n, &c->objs[CORE_IOAS]) {
		struct ioas *io = list_entry(p, struct ioas, o.link);

		c->be->ops->destroy(c->be, io->id);
		obj_free(c, CORE_IOAS, &io->o);
	}
	list_for_each_safe (p, n, &c->objs[CORE_SOURCE])
		obj_free(c, CORE_SOURCE, list_entry(p, struct obj, link));
	pthread_rwlock_destroy(&c->topo);
	pthread_mutex_destroy(&c->err_lock);
	while (c->users) {
		struct core_user *u = c->users;

		c->users = u->next;
		free(u);
	}
	free(c);
}

/* ---------------------------------------------------------------- geometry */

/* The kernel backend's platform is what its bound devices report: re-read it (topo held). */
void refresh_platform(struct core *c)
{
	if (c->be->ops->platform)
		c->be->ops->platform(c->be, &c->plat);
}

/*
 * The kernel backend binds a VFIO cdev, `what` being a path or a name under
 * /dev/vfio/devices/. The daemon opens it as root, so the writer must first be able to open
 * it read-write itself, or any user of an allow_other mount could take a device. The opener
 * opens it as the writer, with no lock held (the path may lead back into this mount); the
 * backend is then given the path that open resolved to, which has no symlink left in it and
 * must lie under /dev. 0 with ret_path, or -errno (-ENOENT when by_name and there is no such
 * cdev: the caller keeps the device unbound, for D/path, and says nothing).
 */
int device_resolve(struct core *c, const struct core_req *rq, const char *name, const char *what,
		   bool by_name, char ret_path[CORE_PATH_MAX])
{
	struct opener_cred cr;
	struct opener_file f;
	char path[CORE_PATH_MAX], self[64];
	ssize_t n;
	int r;

	c->be->ops->cdev_path(what, path, sizeof(path));
	if (!rq || rq->uid == 0 || geteuid() != 0) {
		/* root, or an unprivileged daemon serving itself: the backend opens the path */
		snprintf(ret_path, CORE_PATH_MAX, "%s", path);
		return 0;
	}
	cr = (struct opener_cred){ rq->uid, rq->gid, rq->ngroups, rq->groups };
	r = opener_open(&cr, path, OPENER_CDEV, &f);
	if (r == 0) {
		snprintf(self, sizeof(self), "/proc/self/fd/%d", f.fd);
		n = readlink(self, ret_path, CORE_PATH_MAX - 1);
		close(f.fd);
		if (n < 0 || n >= CORE_PATH_MAX - 1) {
			r = -ENAMETOOLONG;
		} else {
			ret_path[n] = '\0';
			if (strncmp(ret_path, "/dev/", 5))
				r = -EINVAL, f.why = OPENER_NOT_REG;
		}
	}
	if (r < 0 && (r != -ENOENT || !by_name || f.why != OPENER_OPEN)) {
		if (f.why == OPENER_OPEN)
			core_error(c, rq, "cannot bind device %s to %s: %s", name, path,
				   errno_name(-r));
		else
			core_error(c, rq,
				   "cannot bind device %s to %s: not a character device "
				   "under /dev%s%s (%s)",
				   name, path, f.why == OPENER_NOT_REG ? "" : "; ",
				   f.why == OPENER_NOT_REG ? "" : opener_why_str(f.why),
				   errno_name(-r));
	}
	return r;
}

/*
 * Bind device d to the backend's device `what` (topo held for writing): for the kernel
 * backend a cdev path device_resolve gave, for the sim a simulated device. -ENOENT when by_name
 * is not recorded in `errors` (see device_resolve).
 */
int device_bind(struct core *c, const struct core_req *rq, struct device *d, const char *name,
		const char *what, bool by_name)
{
	uint32_t n = CORE_MAX_RESERVED;
	int r;

	r = c->be->ops->device_bind(c->be, what, &d->dev_id);
	if (r < 0) {
		if (r != -ENOENT || !by_name)
			core_error(c, rq, "cannot bind device %s to %s: %s", name, what,
				   errno_name(-r));
		return r;
	}
	r = c->be->ops->device_reserved(c->be, d->dev_id, d->resv, &n);
	if (r < 0) {
		core_error(c, rq, "device %s: reserved regions: %s", name, errno_name(-r));
		c->be->ops->device_unbind(c->be, d->dev_id);
		return r;
	}
	d->n_resv = n;
	d->bound = true;
	snprintf(d->path, sizeof(d->path), "%s", c->be->ops->cdev_path ? what : "sim");
	refresh_platform(c);
	return 0;
}

/* Apertures minus the platform's reserved ranges and those of devices attached to io. */
void ioas_base_ranges(struct core *c, struct ioas *io, const struct device *extra, struct rset *s)
{
	struct list *p;

	*s = (struct rset){ 0 };
	for (unsigned i = 0; i < c->plat.n_apertures; i++)
		rset_add(s, c->plat.apertures[i].start, c->plat.apertures[i].last);
	for (unsigned i = 0; i < c->plat.n_reserved; i++)
		rset_subtract(s, c->plat.reserved[i].start, c->plat.reserved[i].last);
	list_for_each (p, &c->objs[CORE_DEVICE]) {
		struct device *d = list_entry(p, struct device, o.link);

		if (d->ioas != io && d != extra)
			continue;
		for (unsigned i = 0; i < d->n_resv; i++)
			rset_subtract(s, d->resv[i].start, d->resv[i].last);
	}
}

void ioas_window_ranges(struct ioas *io, struct rset *s)
{
	struct list *p;

	*s = (struct rset){ 0 };
	list_for_each (p, &io->windows) {
		struct window *w = list_entry(p, struct window, o.link);

		if (w->active)
			rset_add(s, w->a_start, w->a_last);
	}
	/* Keep sorted: windows are few, insertion sort. */
	for (unsigned i = 1; i < s->n; i++)
		for (unsigned j = i; j > 0 && s->r[j].start < s->r[j - 1].start; j--) {
			struct iova_range t = s->r[j];

			s->r[j] = s->r[j - 1];
			s->r[j - 1] = t;
		}
}

/* What `iova_ranges` shows and what ALLOW_IOVAS receives. */
void ioas_usable(struct core *c, struct ioas *io, const struct device *extra, struct rset *s)
{
	struct rset w;

	ioas_base_ranges(c, io, extra, s);
	ioas_window_ranges(io, &w);
	if (w.n)
		rset_intersect(s, &w);
	rset_free(&w);
}

int ioas_push_allowed(struct core *c, struct ioas *io, const struct device *extra)
{
	struct rset s;
	unsigned n = 0;
	int r;

	ioas_usable(c, io, extra, &s);
	if (s.err) {
		r = s.err;
		rset_free(&s);
		return r;
	}
	/* The kernel rejects one-byte allowed ranges (start >= last). */
	for (unsigned i = 0; i < s.n; i++)
		if (s.r[i].start < s.r[i].last)
			s.r[n++] = s.r[i];
	r = c->be->ops->allow_iovas(c->be, io->id, s.r, n);
	rset_free(&s);
	return r;
}

/* Does [s, l] leave every aperture? Fills the reason. */
bool outside_aperture(struct core *c, uint64_t s, uint64_t l, char *why, size_t len)
{
	const struct platform *p = &c->plat;

	for (unsigned i = 0; i < p->n_apertures; i++)
		if (s >= p->apertures[i].start && l <= p->apertures[i].last)
			return false;
	for (unsigned i = 0; i < p->n_apertures; i++)
		if (ranges_intersect(s, l, p->apertures[i].start, p->apertures[i].last)) {
			snprintf(why, len, "leaves the aperture 0x%" PRIx64 "-0x%" PRIx64,
				 p->apertures[i].start, p->apertures[i].last);
			return true;
		}
	if (p->n_apertures == 1)
		snprintf(why, len, "is outside the aperture 0x%" PRIx64 "-0x%" PRIx64,
			 p->apertures[0].start, p->apertures[0].last);
	else
		snprintf(why, len, "is outside every aperture");
	return true;
}

/* Does [s, l] cross a platform or attached-device reserved range? Fills the reason. */
bool crosses_reserved(struct core *c, struct ioas *io, const struct device *extra, uint64_t s,
		      uint64_t l, char *why, size_t len)
{
	const struct platform *p = &c->plat;
	struct list *pos;

	for (unsigned i = 0; i < p->n_reserved; i++)
		if (ranges_intersect(s, l, p->reserved[i].start, p->reserved[i].last)) {
			snprintf(why, len, "crosses reserved 0x%" PRIx64 "-0x%" PRIx64 " (%s)",
				 p->reserved[i].start, p->reserved[i].last, p->reserved[i].kind);
			return true;
		}
	list_for_each (pos, &c->objs[CORE_DEVICE]) {
		struct device *d = list_entry(pos, struct device, o.link);

		if (d->ioas != io && d != extra)
			continue;
		for (unsigned i = 0; i < d->n_resv; i++)
			if (ranges_intersect(s, l, d->resv[i].start, d->resv[i].last)) {
				snprintf(why, len,
					 "crosses reserved 0x%" PRIx64 "-0x%" PRIx64
					 " (%s) of device %s",
					 d->resv[i].start, d->resv[i].last, d->resv[i].kind,
					 d->o.name);
				return true;
			}
	}
	return false;
}

/* ---------------------------------------------------------------- generic objects */

/* Ownership: root may act on every object, anyone else on their own (ioasfs.5 SECURITY). */
bool owns_obj(const struct core *c, const struct core_req *rq, const struct obj *o)
{
	return !c->multiuser || !rq || rq->uid == 0 || rq->uid == o->uid;
}

/* Refuse rq an object that is not its own: -EACCES and a line naming the owner. */
int check_owner(struct core *c, const struct core_req *rq, enum core_obj kind, const struct obj *o)
{
	if (owns(rq, o))
		return 0;
	core_error(c, rq, "%s %s belongs to uid %u, not to uid %u", core_obj_ops[kind]->name,
		   o->name, (unsigned)o->uid, (unsigned)rq->uid);
	return -EACCES;
}

/* Objects of kind that uid owns (topo held). */
static unsigned objs_of(struct core *c, enum core_obj kind, uid_t uid)
{
	unsigned n = 0;
	struct list *p;

	list_for_each (p, &c->objs[kind])
		n += list_entry(p, struct obj, link)->uid == uid;
	return n;
}

int core_obj_create(struct core *c, const struct core_req *rq, enum core_obj kind, const char *name)
{
	const struct core_obj_ops *ops = core_obj_ops[kind];
	char ctx[CORE_PATH_MAX] = "";
	struct obj *o;
	int r = 0;

	if (!valid_name(name)) {
		core_error(c, rq, "invalid %s name '%.64s'", ops->name, name);
		return -EINVAL;
	}
	if (ops->prepare) {
		r = ops->prepare(c, rq, name, ctx);
		if (r < 0)
			return r;
	}
	core_topo_wrlock(c);
	if (obj_find(c, kind, name, 0)) {
		r = -EEXIST;
		goto out;
	}
	if (c->n_objs[kind] >= ops->max) {
		core_error(c, rq, "too many %s objects (limit %u)", ops->name, ops->max);
		r = -ENOSPC;
		goto out;
	}
	if (c->multiuser && rq && rq->uid != 0 &&
	    objs_of(c, kind, rq->uid) >= CORE_USER_SHARE(ops->max)) {
		core_error(c, rq, "uid %u holds %u %s objects, a user's share (limit %u)",
			   (unsigned)rq->uid, CORE_USER_SHARE(ops->max), ops->name, ops->max);
		r = -ENOSPC;
		goto out;
	}
	o = ops->make(c, rq, name, ctx, &r);
	if (!o)
		goto out;
	snprintf(o->name, sizeof(o->name), "%s", name);
	o->serial = c->next_serial++;
	o->uid = rq ? rq->uid : 0;
	o->gid = rq ? rq->gid : 0;
	list_add_tail(&o->link, &c->objs[kind]);
	c->n_objs[kind]++;
out:
	pthread_rwlock_unlock(&c->topo);
	return r;
}

int core_obj_remove(struct core *c, const struct core_req *rq, enum core_obj kind, const char *name)
{
	struct obj *o;
	int r = 0;

	core_topo_wrlock(c);
	o = obj_find(c, kind, name, 0);
	if (!o) {
		r = -ENOENT;
		goto out;
	}
	/* EPERM, as unlink(2) in a sticky directory says of another user's file */
	if (!owns(rq, o)) {
		core_error(c, rq, "%s %s belongs to uid %u; only it or root may remove it",
			   core_obj_ops[kind]->name, name, (unsigned)o->uid);
		r = -EPERM;
		goto out;
	}
	r = core_obj_ops[kind]->remove(c, rq, o);
	if (r < 0)
		goto out;
	list_del(&o->link);
	c->n_objs[kind]--;
	obj_free(c, kind, o);
out:
	pthread_rwlock_unlock(&c->topo);
	return r;
}

int core_obj_lookup(struct core *c, enum core_obj kind, const char *name, uint64_t *ret_serial)
{
	struct obj *o;
	int r = -ENOENT;

	pthread_rwlock_rdlock(&c->topo);
	o = obj_find(c, kind, name, 0);
	if (o) {
		*ret_serial = o->serial;
		r = 0;
	}
	pthread_rwlock_unlock(&c->topo);
	return r;
}

int list_names(struct list *head, size_t count, struct core_name **ret, size_t *ret_n)
{
	struct core_name *v = calloc(count ? count : 1, sizeof(*v));
	struct list *p;
	size_t i = 0;

	if (!v)
		return -ENOMEM;
	list_for_each (p, head) {
		struct obj *o = list_entry(p, struct obj, link);

		memcpy(v[i].name, o->name, sizeof(v[i].name));
		v[i++].serial = o->serial;
	}
	*ret = v;
	*ret_n = i;
	return 0;
}

int core_obj_list(struct core *c, enum core_obj kind, struct core_name **ret, size_t *ret_n)
{
	int r;

	pthread_rwlock_rdlock(&c->topo);
	r = list_names(&c->objs[kind], c->n_objs[kind], ret, ret_n);
	pthread_rwlock_unlock(&c->topo);
	return r;
}

/* ---------------------------------------------------------------- ownership */

int core_obj_owner(struct core *c, enum core_obj kind, const char *name, uint64_t serial,
		   uid_t *ret_uid, gid_t *ret_gid)
{
	struct obj *o;
	int r = -ENOENT;

	pthread_rwlock_rdlock(&c->topo);
	o = obj_find(c, kind, name, serial);
	if (o) {
		*ret_uid = o->uid;
		*ret_gid = o->gid;
		r = 0;
	}
	pthread_rwlock_unlock(&c->topo);
	return r;
}

int core_obj_chown(struct core *c, enum core_obj kind, const char *name, uid_t uid, gid_t gid)
{
	struct obj *o;
	int r = -ENOENT;

	core_topo_wrlock(c);
	o = obj_find(c, kind, name, 0);
	if (o && kind == CORE_IOAS) {
		struct ioas *io = list_entry(o, struct ioas, o);
		struct core_user *u = owner_of(c, uid);

		if (!u && owner_counted(c, uid)) {
			r = -ENOMEM;
			goto out;
		}
		/* topo held for writing: no map or unmap runs */
		if (io->owner)
			io->owner->mappings -= io->maps.count;
		if (u)
			u->mappings += io->maps.count;
		io->owner = u;
	}
	if (o) {
		o->uid = uid;
		o->gid = gid;
		r = 0;
	}
out:
	pthread_rwlock_unlock(&c->topo);
	return r;
}

int core_obj_access(struct core *c, const struct core_req *rq, enum core_obj kind, const char *name,
		    uint64_t serial)
{
	struct obj *o;
	int r = -ENOENT;

	pthread_rwlock_rdlock(&c->topo);
	o = obj_find(c, kind, name, serial);
	if (o)
		r = check_owner(c, rq, kind, o);
	pthread_rwlock_unlock(&c->topo);
	return r;
}
