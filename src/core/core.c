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

#define ANON_MAX (1ull << 40)

/*
 * A sorted set of disjoint ranges, grown on the heap: an IOAS's usable ranges are the
 * apertures minus every reserved range of the platform and of up to CORE_MAX_DEVICES devices,
 * so there is no small bound. Allocation failure is sticky in err.
 */
struct rset {
	unsigned n, cap;
	struct iova_range *r;
	int err;
};

static const unsigned obj_max[CORE_OBJ_KINDS] = { CORE_MAX_IOAS, CORE_MAX_DEVICES,
						  CORE_MAX_SOURCES };
static const char *const obj_kind_name[CORE_OBJ_KINDS] = { "ioas", "device", "source" };

/* ---------------------------------------------------------------- range sets */

static void rset_free(struct rset *s)
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
static void rset_subtract(struct rset *s, uint64_t start, uint64_t last)
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

static bool ranges_intersect(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1)
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

static struct ioas *ioas_find(struct core *c, struct core_ioas_ref r)
{
	struct obj *o = obj_find(c, CORE_IOAS, r.name, r.serial);

	return o ? list_entry(o, struct ioas, o) : NULL;
}

static struct device *device_find(struct core *c, const char *name, uint64_t serial)
{
	struct obj *o = obj_find(c, CORE_DEVICE, name, serial);

	return o ? list_entry(o, struct device, o) : NULL;
}

static struct source *source_find(struct core *c, const char *name, uint64_t serial)
{
	struct obj *o = obj_find(c, CORE_SOURCE, name, serial);

	return o ? list_entry(o, struct source, o) : NULL;
}

static struct window *window_find(struct ioas *io, const char *name, uint64_t serial)
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
static struct ioas *ioas_get(struct core *c, struct core_ioas_ref r)
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

static void ioas_put(struct core *c, struct ioas *io)
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
 * The record of uid (topo held for writing): found, or added. NULL without memory. Records
 * stay until the core goes, so an IOAS's pointer to its owner's never dangles.
 */
static struct core_user *owner_of(struct core *c, uid_t uid)
{
	struct core_user *u;

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

/* Would count more mappings put io's owner past its share (allow_other, not root)? */
static bool owner_full(struct core *c, struct ioas *io, uint64_t count)
{
	return c->multiuser && io->o.uid != 0 &&
	       __atomic_load_n(&io->owner->mappings, __ATOMIC_RELAXED) + count > c->max_mappings;
}

static void mapping_drop(struct ioas *io, struct mapping *m)
{
	itree_remove(&io->maps, &m->node);
	__atomic_sub_fetch(&io->owner->mappings, 1, __ATOMIC_RELAXED);
	io->bytes_mapped -= m->node.last - m->node.start + 1;
	if (m->src->fd_view)
		core_fd_view_put(m->src);
	else
		__atomic_sub_fetch(&m->src->users, 1, __ATOMIC_RELAXED);
	slab_free(&io->slab, m);
}

static void ioas_drop_mappings(struct ioas *io)
{
	struct itree_node *n;

	while ((n = itree_first(&io->maps)))
		mapping_drop(io, itree_entry(n, struct mapping, node));
}

static void source_release(struct source *s)
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
	if (kind == CORE_IOAS) {
		struct ioas *io = list_entry(o, struct ioas, o);
		struct list *p, *n;

		ioas_drop_mappings(io);
		itree_clear(&io->maps);
		slab_destroy(&io->slab);
		list_for_each_safe (p, n, &io->windows)
			free(list_entry(p, struct window, o.link));
		pthread_mutex_destroy(&io->lock);
		free(io);
	} else if (kind == CORE_SOURCE) {
		struct source *s = list_entry(o, struct source, o);

		source_release(s);
		free(s);
	} else {
		free(list_entry(o, struct device, o));
	}
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
static void refresh_platform(struct core *c)
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
static int device_resolve(struct core *c, const struct core_req *rq, const char *name,
			  const char *what, bool by_name, char ret_path[CORE_PATH_MAX])
{
	struct opener_cred cr;
	struct opener_file f;
	char path[CORE_PATH_MAX], self[64];
	ssize_t n;
	int r;

	if (strchr(what, '/'))
		snprintf(path, sizeof(path), "%s", what);
	else
		snprintf(path, sizeof(path), "/dev/vfio/devices/%s", what);
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
static int device_bind(struct core *c, const struct core_req *rq, struct device *d,
		       const char *name, const char *what, bool by_name)
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
	snprintf(d->path, sizeof(d->path), "%s", c->be->ops->platform ? what : "sim");
	refresh_platform(c);
	return 0;
}

/* Apertures minus the platform's reserved ranges and those of devices attached to io. */
static void ioas_base_ranges(struct core *c, struct ioas *io, const struct device *extra,
			     struct rset *s)
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

static void ioas_window_ranges(struct ioas *io, struct rset *s)
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
static void ioas_usable(struct core *c, struct ioas *io, const struct device *extra, struct rset *s)
{
	struct rset w;

	ioas_base_ranges(c, io, extra, s);
	ioas_window_ranges(io, &w);
	if (w.n)
		rset_intersect(s, &w);
	rset_free(&w);
}

static int ioas_push_allowed(struct core *c, struct ioas *io, const struct device *extra)
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
static bool outside_aperture(struct core *c, uint64_t s, uint64_t l, char *why, size_t len)
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
static bool crosses_reserved(struct core *c, struct ioas *io, const struct device *extra,
			     uint64_t s, uint64_t l, char *why, size_t len)
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
static bool owns_obj(const struct core *c, const struct core_req *rq, const struct obj *o)
{
	return !c->multiuser || !rq || rq->uid == 0 || rq->uid == o->uid;
}

#define owns(rq, o) owns_obj(c, rq, o)

/* Refuse rq an object that is not its own: -EACCES and a line naming the owner. */
static int check_owner(struct core *c, const struct core_req *rq, enum core_obj kind,
		       const struct obj *o)
{
	if (owns(rq, o))
		return 0;
	core_error(c, rq, "%s %s belongs to uid %u, not to uid %u", obj_kind_name[kind], o->name,
		   (unsigned)o->uid, (unsigned)rq->uid);
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
	char cdev[CORE_PATH_MAX] = "";
	struct obj *o;
	int r = 0;

	if (!valid_name(name)) {
		core_error(c, rq, "invalid %s name '%.64s'", obj_kind_name[kind], name);
		return -EINVAL;
	}
	if (kind == CORE_DEVICE && c->be->ops->platform) {
		/* kernel backend, no /dev/vfio/devices/NAME: a device to bind through D/path */
		r = device_resolve(c, rq, name, name, true, cdev);
		if (r == -ENOENT)
			r = 0;
		else if (r < 0)
			return r;
	}
	core_topo_wrlock(c);
	if (obj_find(c, kind, name, 0)) {
		r = -EEXIST;
		goto out;
	}
	if (c->n_objs[kind] >= obj_max[kind]) {
		core_error(c, rq, "too many %s objects (limit %u)", obj_kind_name[kind],
			   obj_max[kind]);
		r = -ENOSPC;
		goto out;
	}
	if (c->multiuser && rq && rq->uid != 0 &&
	    objs_of(c, kind, rq->uid) >= CORE_USER_SHARE(obj_max[kind])) {
		core_error(c, rq, "uid %u holds %u %s objects, a user's share (limit %u)",
			   (unsigned)rq->uid, CORE_USER_SHARE(obj_max[kind]), obj_kind_name[kind],
			   obj_max[kind]);
		r = -ENOSPC;
		goto out;
	}
	if (kind == CORE_IOAS) {
		struct core_user *owner = owner_of(c, rq ? rq->uid : 0);
		struct ioas *io = owner ? calloc(1, sizeof(*io)) : NULL;

		if (!io) {
			r = -ENOMEM;
			goto out;
		}
		io->owner = owner;
		r = c->be->ops->ioas_alloc(c->be, &io->id);
		if (r < 0) {
			core_error(c, rq, "IOMMU_IOAS_ALLOC: %s", errno_name(-r));
			free(io);
			goto out;
		}
		pthread_mutex_init(&io->lock, NULL);
		list_init(&io->windows);
		itree_init_plain(&io->maps); /* the core never searches it for free space */
		slab_init(&io->slab, sizeof(struct mapping));
		o = &io->o;
		r = ioas_push_allowed(c, io, NULL);
		if (r < 0) {
			core_error(c, rq, "IOMMU_IOAS_ALLOW_IOVAS: %s", errno_name(-r));
			c->be->ops->destroy(c->be, io->id);
			pthread_mutex_destroy(&io->lock);
			free(io);
			goto out;
		}
	} else if (kind == CORE_DEVICE) {
		struct device *d = calloc(1, sizeof(*d));

		if (!d) {
			r = -ENOMEM;
			goto out;
		}
		if (!c->be->ops->platform)
			r = device_bind(c, rq, d, name, name, true);
		else if (cdev[0])
			r = device_bind(c, rq, d, name, cdev, true);
		/* kernel backend, no /dev/vfio/devices/NAME: a device to bind through D/path */
		if (r == -ENOENT && c->be->ops->platform)
			r = 0;
		if (r < 0) {
			free(d);
			goto out;
		}
		o = &d->o;
	} else {
		struct source *s = calloc(1, sizeof(*s));

		if (!s) {
			r = -ENOMEM;
			goto out;
		}
		o = &s->o;
	}
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
			   obj_kind_name[kind], name, (unsigned)o->uid);
		r = -EPERM;
		goto out;
	}
	if (kind == CORE_IOAS) {
		struct ioas *io = list_entry(o, struct ioas, o);

		if (io->n_devices) {
			core_error(c, rq, "ioas %s has %u device(s) attached", name, io->n_devices);
			r = -EBUSY;
			goto out;
		}
		if (io->n_windows) {
			core_error(c, rq, "ioas %s still has %u window(s)", name, io->n_windows);
			r = -ENOTEMPTY;
			goto out;
		}
		r = c->be->ops->destroy(c->be, io->id);
		if (r < 0) {
			core_error(c, rq, "IOMMU_DESTROY ioas %s: %s", name, errno_name(-r));
			goto out;
		}
	} else if (kind == CORE_DEVICE) {
		struct device *d = list_entry(o, struct device, o);

		if (d->ioas) {
			core_error(c, rq, "device %s is attached to ioas %s; remove its ioas link",
				   name, d->ioas->o.name);
			r = -ENOTEMPTY;
			goto out;
		}
		r = d->bound ? c->be->ops->device_unbind(c->be, d->dev_id) : 0;
		if (r < 0) {
			core_error(c, rq, "cannot unbind device %s: %s", name, errno_name(-r));
			goto out;
		}
	} else {
		struct source *s = list_entry(o, struct source, o);

		if (s->users) {
			core_error(c, rq, "source %s is used by %" PRIu64 " mapping(s)", name,
				   s->users);
			r = -EBUSY;
			goto out;
		}
	}
	list_del(&o->link);
	c->n_objs[kind]--;
	obj_free(c, kind, o);
	if (kind == CORE_DEVICE)
		refresh_platform(c);
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

static int list_names(struct list *head, size_t count, struct core_name **ret, size_t *ret_n)
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

		if (!u) {
			r = -ENOMEM;
			goto out;
		}
		/* topo held for writing: no map or unmap runs */
		io->owner->mappings -= io->maps.count;
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

static void describe_mapping(const struct mapping *m, char *buf, size_t len)
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
	__atomic_add_fetch(&io->owner->mappings, 1, __ATOMIC_RELAXED);
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
	__atomic_add_fetch(&io->owner->mappings, count, __ATOMIC_RELAXED);
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
static int window_over_mappings(struct ioas *io, struct window *nw, char *why, size_t len)
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

/* ---------------------------------------------------------------- devices */

static void attach_failure(struct core *c, struct ioas *io, const struct core_req *rq,
			   struct device *d, int err)
{
	struct itree_node *n;

	if (err == -EADDRINUSE) {
		/* Which mapping sits on the device's reserved ranges or outside its aperture? */
		for (unsigned i = 0; i < d->n_resv; i++) {
			n = itree_first_overlap(&io->maps, d->resv[i].start, d->resv[i].last);
			if (n) {
				char m[120];

				describe_mapping(itree_entry(n, struct mapping, node), m,
						 sizeof(m));
				ioas_error(c, io, rq,
					   "device %s reserved 0x%" PRIx64 "-0x%" PRIx64
					   " (%s) intersects mapping %s",
					   d->o.name, d->resv[i].start, d->resv[i].last,
					   d->resv[i].kind, m);
				return;
			}
		}
		for (n = itree_first(&io->maps); n; n = itree_next(n)) {
			char why[160];

			if (outside_aperture(c, n->start, n->last, why, sizeof(why))) {
				char m[120];

				describe_mapping(itree_entry(n, struct mapping, node), m,
						 sizeof(m));
				ioas_error(c, io, rq, "device %s: mapping %s %s", d->o.name, m,
					   why);
				return;
			}
		}
	}
	if (err == -EINVAL || err == -EADDRINUSE) {
		ioas_error(c, io, rq,
			   "device %s: a mapping is not aligned to the device's "
			   "page size 0x%" PRIx64 " (%s)",
			   d->o.name, platform_min_page(&c->plat), errno_name(-err));
		return;
	}
	ioas_error(c, io, rq, "cannot attach device %s to ioas %s: %s", d->o.name, io->o.name,
		   errno_name(-err));
}

int core_device_attach(struct core *c, const struct core_req *rq, const char *dev, uint64_t serial,
		       const char *ioas)
{
	struct core_ioas_ref ref = { ioas, 0 };
	struct device *d;
	struct ioas *io, *old;
	struct list *p;
	uint32_t pt;
	int ret;

	core_topo_wrlock(c);
	d = device_find(c, dev, serial);
	if (!d) {
		ret = -ENOENT;
		goto out;
	}
	io = ioas_find(c, ref);
	if (!io) {
		core_error(c, rq, "no ioas '%s' to attach device %s to", ioas, dev);
		ret = -ENOENT;
		goto out;
	}
	/* attaching takes both: the device's DMA and the IOAS's address space */
	ret = check_owner(c, rq, CORE_DEVICE, &d->o);
	if (!ret)
		ret = check_owner(c, rq, CORE_IOAS, &io->o);
	if (ret < 0)
		goto out;
	if (!d->bound) {
		core_error(c, rq, "device %s has no cdev yet: write its path to devices/%s/path",
			   dev, dev);
		ret = -ENODEV;
		goto out;
	}
	old = d->ioas;
	if (old == io) {
		ret = 0;
		goto out;
	}
	/* A device whose reserved regions intersect an active window cannot attach. */
	list_for_each (p, &io->windows) {
		struct window *w = list_entry(p, struct window, o.link);

		if (!w->active)
			continue;
		for (unsigned i = 0; i < d->n_resv; i++)
			if (ranges_intersect(w->a_start, w->a_last, d->resv[i].start,
					     d->resv[i].last)) {
				ioas_error(c, io, rq,
					   "device %s reserved 0x%" PRIx64 "-0x%" PRIx64
					   " (%s) intersects window %s 0x%" PRIx64 "-0x%" PRIx64,
					   dev, d->resv[i].start, d->resv[i].last, d->resv[i].kind,
					   w->o.name, w->a_start, w->a_last);
				ret = -EADDRINUSE;
				goto out;
			}
	}
	/* Shrink the allowed list first: the kernel refuses reserved over allowed. */
	ret = ioas_push_allowed(c, io, d);
	if (ret < 0) {
		ioas_error(c, io, rq, "IOMMU_IOAS_ALLOW_IOVAS: %s", errno_name(-ret));
		goto out;
	}
	pt = io->id;
	ret = c->be->ops->device_attach(c->be, d->dev_id, &pt);
	if (ret < 0) {
		attach_failure(c, io, rq, d, ret);
		ioas_push_allowed(c, io, NULL);
		goto out;
	}
	d->ioas = io;
	io->n_devices++;
	if (old) {
		old->n_devices--;
		ioas_push_allowed(c, old, NULL);
	}
out:
	pthread_rwlock_unlock(&c->topo);
	return ret;
}

int core_device_detach(struct core *c, const struct core_req *rq, const char *dev, uint64_t serial)
{
	struct device *d;
	struct ioas *io;
	int ret;

	core_topo_wrlock(c);
	d = device_find(c, dev, serial);
	if (!d || !d->ioas) {
		ret = -ENOENT;
		goto out;
	}
	ret = check_owner(c, rq, CORE_DEVICE, &d->o);
	if (ret < 0)
		goto out;
	io = d->ioas;
	ret = c->be->ops->device_detach(c->be, d->dev_id);
	if (ret < 0) {
		core_error(c, rq, "cannot detach device %s: %s", dev, errno_name(-ret));
		goto out;
	}
	d->ioas = NULL;
	io->n_devices--;
	ioas_push_allowed(c, io, NULL);
out:
	pthread_rwlock_unlock(&c->topo);
	return ret;
}

int core_device_ioas(struct core *c, const char *dev, uint64_t serial, char ret[CORE_NAME_MAX + 1])
{
	struct device *d;
	int r = -ENOENT;

	pthread_rwlock_rdlock(&c->topo);
	d = device_find(c, dev, serial);
	if (d && d->ioas) {
		memcpy(ret, d->ioas->o.name, CORE_NAME_MAX + 1);
		r = 0;
	}
	pthread_rwlock_unlock(&c->topo);
	return r;
}

int core_device_show_reserved(struct core *c, const char *dev, uint64_t serial, struct sbuf *sb)
{
	struct device *d;
	int r = -ENOENT;

	pthread_rwlock_rdlock(&c->topo);
	d = device_find(c, dev, serial);
	if (d) {
		for (unsigned i = 0; i < d->n_resv; i++)
			sbuf_printf(sb, ADDR_FMT "-" ADDR_FMT " %s\n", d->resv[i].start,
				    d->resv[i].last, d->resv[i].kind);
		r = 0;
	}
	pthread_rwlock_unlock(&c->topo);
	return r;
}

int core_device_show_path(struct core *c, const char *dev, uint64_t serial, struct sbuf *sb)
{
	struct device *d;
	int r = -ENOENT;

	pthread_rwlock_rdlock(&c->topo);
	d = device_find(c, dev, serial);
	if (d) {
		if (d->bound)
			sbuf_printf(sb, "%s\n", d->path);
		r = 0;
	}
	pthread_rwlock_unlock(&c->topo);
	return r;
}

int core_device_store_path(struct core *c, const struct core_req *rq, const char *dev,
			   uint64_t serial, const char *path)
{
	char cdev[CORE_PATH_MAX] = "";
	struct device *d;
	int r;

	if (c->be->ops->platform && path[0] == '/') {
		r = device_resolve(c, rq, dev, path, false, cdev);
		if (r < 0)
			return r;
		path = cdev;
	}
	core_topo_wrlock(c);
	d = device_find(c, dev, serial);
	if (!d) {
		r = -ENOENT;
	} else if (d->bound && !strcmp(d->path, path)) {
		r = 0; /* the same cdev again: nothing to do, as for a rewrite of any attribute */
	} else if (d->bound) {
		core_error(c, rq, "device %s is bound to %s; rmdir it to bind another", dev,
			   d->path);
		r = -EBUSY;
	} else if (path[0] != '/') {
		core_error(c, rq, "device %s: path '%.200s' is not absolute", dev, path);
		r = -EINVAL;
	} else {
		r = device_bind(c, rq, d, dev, path, false);
	}
	pthread_rwlock_unlock(&c->topo);
	return r;
}

bool core_device_reserved_writable(struct core *c)
{
	return c->be->ops->device_set_reserved != NULL;
}

int core_device_store_reserved(struct core *c, const struct core_req *rq, const char *dev,
			       uint64_t serial, const struct platform_range *regions, unsigned num)
{
	struct device *d;
	int r;

	if (!c->be->ops->device_set_reserved) {
		core_error(c, rq, "the %s backend reports reserved regions; they are read-only",
			   c->be->ops->name);
		return -EPERM;
	}
	if (num > CORE_MAX_RESERVED) {
		core_error(c, rq, "too many reserved regions (limit %d)", CORE_MAX_RESERVED);
		return -EINVAL;
	}
	core_topo_wrlock(c);
	d = device_find(c, dev, serial);
	if (!d) {
		r = -ENOENT;
		goto out;
	}
	if (d->ioas) {
		core_error(c, rq, "device %s is attached to ioas %s; detach it first", dev,
			   d->ioas->o.name);
		r = -EBUSY;
		goto out;
	}
	for (unsigned i = 0; i < num; i++)
		for (unsigned j = i + 1; j < num; j++)
			if (ranges_intersect(regions[i].start, regions[i].last, regions[j].start,
					     regions[j].last)) {
				core_error(c, rq,
					   "reserved 0x%" PRIx64 "-0x%" PRIx64
					   " overlaps 0x%" PRIx64 "-0x%" PRIx64,
					   regions[j].start, regions[j].last, regions[i].start,
					   regions[i].last);
				r = -EINVAL;
				goto out;
			}
	for (unsigned i = 0; i < num; i++)
		if (!regions[i].kind[0]) {
			core_error(c, rq,
				   "reserved 0x%" PRIx64 "-0x%" PRIx64 ": a KIND is required",
				   regions[i].start, regions[i].last);
			r = -EINVAL;
			goto out;
		}
	for (unsigned i = 0; i < num; i++)
		for (const char *k = regions[i].kind; *k; k++)
			if (!isalnum((unsigned char)*k) && !strchr("_-.", *k)) {
				core_error(c, rq, "reserved kind '%s': use letters, digits, _ - .",
					   regions[i].kind);
				r = -EINVAL;
				goto out;
			}
	r = c->be->ops->device_set_reserved(c->be, d->dev_id, regions, num);
	if (r < 0) {
		core_error(c, rq, "device %s: reserved: %s", dev, errno_name(-r));
		goto out;
	}
	memcpy(d->resv, regions, num * sizeof(*regions));
	d->n_resv = num;
	/* shown sorted, like every other list of ranges */
	for (unsigned i = 1; i < num; i++)
		for (unsigned j = i; j > 0 && d->resv[j].start < d->resv[j - 1].start; j--) {
			struct platform_range t = d->resv[j];

			d->resv[j] = d->resv[j - 1];
			d->resv[j - 1] = t;
		}
out:
	pthread_rwlock_unlock(&c->topo);
	return r;
}

int core_device_show_hw_info(struct core *c, const char *dev, uint64_t serial, struct sbuf *sb)
{
	struct backend_hw_info hi;
	struct device *d;
	int r = -ENOENT;

	pthread_rwlock_rdlock(&c->topo);
	d = device_find(c, dev, serial);
	if (!d)
		goto out;
	r = 0;
	if (!d->bound)
		goto out; /* nothing to report until the device has a cdev */
	memset(&hi, 0, sizeof(hi));
	r = c->be->ops->hw_info(c->be, d->dev_id, &hi);
	if (r < 0)
		goto out;
	sbuf_printf(sb, "type %s\n", platform_iommu_name(hi.type));
	sbuf_printf(sb, "capabilities 0x%" PRIx64 "%s\n", hi.capabilities,
		    (hi.capabilities & 1) ? " dirty_tracking" : "");
	sbuf_printf(sb, "max_pasid_log2 %u\n", hi.max_pasid_log2);
	if (hi.type == PLATFORM_IOMMU_INTEL_VTD && hi.data_len >= 24) {
		uint32_t flags;
		uint64_t cap, ecap;

		memcpy(&flags, hi.data, 4);
		memcpy(&cap, hi.data + 8, 8);
		memcpy(&ecap, hi.data + 16, 8);
		sbuf_printf(sb, "flags 0x%x\ncap_reg 0x%016" PRIx64 "\necap_reg 0x%016" PRIx64 "\n",
			    flags, cap, ecap);
		/* VT-d CAP_REG: MGAW bits 21:16 (+1), SAGAW bits 12:8 */
		sbuf_printf(sb, "mgaw %u\n", (unsigned)((cap >> 16) & 0x3f) + 1);
	} else if (hi.type == PLATFORM_IOMMU_ARM_SMMUV3 && hi.data_len >= 40) {
		uint32_t v[10];

		memcpy(v, hi.data, sizeof(v));
		sbuf_printf(sb, "flags 0x%x\n", v[0]);
		for (int i = 0; i < 6; i++)
			sbuf_printf(sb, "idr%d 0x%08x\n", i, v[2 + i]);
		sbuf_printf(sb, "iidr 0x%08x\naidr 0x%08x\n", v[8], v[9]);
	}
out:
	pthread_rwlock_unlock(&c->topo);
	return r;
}

/* ---------------------------------------------------------------- sources */

int core_source_show_path(struct core *c, const char *src, uint64_t serial, struct sbuf *sb)
{
	struct source *s;
	int r = -ENOENT;

	pthread_rwlock_rdlock(&c->topo);
	s = source_find(c, src, serial);
	if (s) {
		if (!s->set)
			sbuf_printf(sb, "\n");
		else if (s->anon)
			sbuf_printf(sb, "anon 0x%" PRIx64 "\n", s->size);
		else
			sbuf_printf(sb, "%s\n", s->path);
		r = 0;
	}
	pthread_rwlock_unlock(&c->topo);
	return r;
}

int core_source_show_size(struct core *c, const char *src, uint64_t serial, struct sbuf *sb)
{
	struct source *s;
	int r = -ENOENT;

	pthread_rwlock_rdlock(&c->topo);
	s = source_find(c, src, serial);
	if (s) {
		sbuf_printf(sb, "0x%" PRIx64 "\n", s->size);
		r = 0;
	}
	pthread_rwlock_unlock(&c->topo);
	return r;
}

int core_source_show_users(struct core *c, const char *src, uint64_t serial, struct sbuf *sb)
{
	struct source *s;
	int r = -ENOENT;

	pthread_rwlock_rdlock(&c->topo);
	s = source_find(c, src, serial);
	if (s) {
		sbuf_printf(sb, "%" PRIu64 "\n", __atomic_load_n(&s->users, __ATOMIC_RELAXED));
		r = 0;
	}
	pthread_rwlock_unlock(&c->topo);
	return r;
}

/*
 * The kernel derives the automatic IOVA alignment from the address being mapped
 * (iopt_alloc_iova), so a source placed 2 MiB-aligned (or, for a range of a file, at the file
 * offset's place in a 2 MiB page) is what lets `auto` maps of 2 MiB land on 2 MiB boundaries,
 * as the kernel selftests' buffer does.
 */
void *core_mmap_aligned(uint64_t len, uint64_t phase, int prot, int flags, int fd, uint64_t off)
{
	const uint64_t align = BACKEND_HPAGE_SIZE;
	uint64_t span = (len + BACKEND_PAGE_SIZE - 1) & ~(BACKEND_PAGE_SIZE - 1);
	char *base, *p;
	uintptr_t a;

	phase &= align - 1;
	base = mmap(NULL, span + 2 * align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		    -1, 0);
	if (base == MAP_FAILED)
		return MAP_FAILED;
	a = (((uintptr_t)base + align - 1) & ~(uintptr_t)(align - 1)) + phase;
	p = mmap((void *)a, len, prot, flags | MAP_FIXED, fd, (off_t)off);
	if (p == MAP_FAILED) {
		int e = errno;

		munmap(base, span + 2 * align);
		errno = e;
		return MAP_FAILED;
	}
	if (a > (uintptr_t)base)
		munmap(base, a - (uintptr_t)base);
	/* a + span < base + span + 2 * align: there is always a tail to give back */
	munmap((void *)(a + span), (uintptr_t)base + span + 2 * align - (a + span));
	return p;
}

/*
 * Is source src of serial there and unused? 0, or -errno with the reason in `errors`. Asked
 * before the memory is made (a busy source is refused before its path is looked at) and
 * again, under the write lock, before it changes.
 */
static int source_settable(struct core *c, const struct core_req *rq, const char *src,
			   uint64_t serial, uint64_t anon, struct source **ret_s)
{
	struct source *s = source_find(c, src, serial);
	uint64_t held = 0;
	struct list *p;

	if (!s)
		return -ENOENT;
	if (s->users) {
		core_error(c, rq, "source %s is used by %" PRIu64 " mapping(s)", src, s->users);
		return -EBUSY;
	}
	if (anon && c->multiuser && s->o.uid != 0) {
		/* the owner's other anon sources: memory the daemon commits as it is written */
		list_for_each (p, &c->objs[CORE_SOURCE]) {
			const struct source *o = list_entry(p, struct source, o.link);

			if (o != s && o->o.uid == s->o.uid && o->set && o->anon)
				held += o->size;
		}
		if (held + anon > c->user_anon_bytes) {
			core_error(c, rq,
				   "uid %u has 0x%" PRIx64 " bytes of anon sources; 0x%" PRIx64
				   " more exceed limit_user_anon_bytes 0x%" PRIx64,
				   (unsigned)s->o.uid, held, anon, c->user_anon_bytes);
			return -ENOSPC;
		}
	}
	*ret_s = s;
	return 0;
}

/*
 * The memory of a source: anon SIZE, or the file at path opened by the opener as the writer.
 * No lock is held: the open may take a while, and may come back into this mount.
 */
static int source_memory(struct core *c, const struct core_req *rq, bool anon, uint64_t size,
			 const char *path, void **ret_mem, uint64_t *ret_size, bool *ret_writable)
{
	struct opener_cred cr = { 0 };
	struct opener_file f;
	void *mem;
	int fd, r;

	if (anon) {
		if (!size || size > ANON_MAX) {
			core_error(c, rq, "anon size must be 1 .. 0x%llx bytes", ANON_MAX);
			return -EINVAL;
		}
		/* a memfd of mode 0600, not MAP_ANONYMOUS's world-accessible shmem */
		fd = memfd_create("ioasfs-anon", MFD_CLOEXEC);
		r = fd < 0 || fchmod(fd, 0600) < 0 || ftruncate(fd, (off_t)size) < 0 ? -errno : 0;
		mem = r < 0 ? MAP_FAILED
			    : core_mmap_aligned(size, 0, PROT_READ | PROT_WRITE,
						MAP_SHARED | MAP_NORESERVE, fd, 0);
		if (r == 0 && mem == MAP_FAILED)
			r = -errno;
		if (fd >= 0)
			close(fd);
		if (r < 0) {
			core_error(c, rq, "anon 0x%" PRIx64 ": %s", size, errno_name(-r));
			return r;
		}
		*ret_writable = true;
		*ret_size = size;
		*ret_mem = mem;
		return 0;
	}
	if (path[0] != '/') {
		core_error(c, rq, "source path '%.200s' must be absolute (or anon SIZE)", path);
		return -EINVAL;
	}
	if (rq) {
		cr = (struct opener_cred){ rq->uid, rq->gid, rq->ngroups, rq->groups };
		if (geteuid() != 0)
			cr.uid = geteuid(); /* an unprivileged daemon opens as itself */
	}
	r = opener_open(&cr, path, OPENER_FILE, &f);
	if (r < 0) {
		if (f.why == OPENER_OPEN)
			core_error(c, rq, "cannot open %.200s: %s", path, errno_name(-r));
		else
			core_error(c, rq, "%.200s %s (%s)", path, opener_why_str(f.why),
				   errno_name(-r));
		return r;
	}
	mem = core_mmap_aligned(f.size, 0, PROT_READ | (f.writable ? PROT_WRITE : 0), MAP_SHARED,
				f.fd, 0);
	r = mem == MAP_FAILED ? -errno : 0;
	close(f.fd);
	if (r < 0) {
		core_error(c, rq, "cannot map %.200s: %s", path, errno_name(-r));
		return r;
	}
	*ret_writable = f.writable;
	*ret_size = f.size;
	*ret_mem = mem;
	return 0;
}

int core_source_set(struct core *c, const struct core_req *rq, const char *src, uint64_t serial,
		    bool anon, uint64_t size, const char *path)
{
	struct source *s;
	bool writable = true;
	char *dup = NULL;
	void *mem;
	int r;

	pthread_rwlock_rdlock(&c->topo);
	r = source_settable(c, rq, src, serial, anon ? size : 0, &s);
	pthread_rwlock_unlock(&c->topo);
	if (r < 0)
		return r;
	r = source_memory(c, rq, anon, size, path, &mem, &size, &writable);
	if (r < 0)
		return r;
	if (!anon) {
		dup = strdup(path);
		if (!dup) {
			munmap(mem, size);
			return -ENOMEM;
		}
	}
	core_topo_wrlock(c);
	r = source_settable(c, rq, src, serial, anon ? size : 0, &s);
	if (r < 0) {
		pthread_rwlock_unlock(&c->topo);
		munmap(mem, size);
		free(dup);
		return r;
	}
	source_release(s);
	s->anon = anon;
	s->path = dup;
	s->mem = mem;
	s->mem_len = size;
	s->size = size;
	s->writable = writable;
	s->set = true;
	pthread_rwlock_unlock(&c->topo);
	return 0;
}
