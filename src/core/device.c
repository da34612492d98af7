/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Devices: bound to the backend, attached to an IOAS by a link, and their reserved regions.
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

	if (c->be->ops->cdev_path && path[0] == '/') {
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

/* ---------------------------------------------------------------- the object */

/*
 * Before the lock: a kernel-backend device named after a cdev (/dev/vfio/devices/NAME) is
 * resolved, as its writer, into ctx; without one, the device waits for D/path.
 */
static int device_prepare(struct core *c, const struct core_req *rq, const char *name, char *ctx)
{
	int r;

	if (!c->be->ops->cdev_path)
		return 0;
	r = device_resolve(c, rq, name, name, true, ctx);
	return r == -ENOENT ? 0 : r;
}

/* topo held for writing: the sim makes a device of any name, the kernel binds ctx's cdev */
static struct obj *device_make(struct core *c, const struct core_req *rq, const char *name,
			       const char *ctx, int *ret)
{
	struct device *d = calloc(1, sizeof(*d));
	int r = 0;

	if (!d) {
		*ret = -ENOMEM;
		return NULL;
	}
	if (!c->be->ops->cdev_path)
		r = device_bind(c, rq, d, name, name, true);
	else if (ctx[0])
		r = device_bind(c, rq, d, name, ctx, true);
	/* kernel backend, no /dev/vfio/devices/NAME: a device to bind through D/path */
	if (r == -ENOENT && c->be->ops->cdev_path)
		r = 0;
	if (r < 0) {
		free(d);
		*ret = r;
		return NULL;
	}
	return &d->o;
}

/* topo held for writing: detached first, then unbound */
static int device_remove(struct core *c, const struct core_req *rq, struct obj *o)
{
	struct device *d = list_entry(o, struct device, o);
	int r;

	if (d->ioas) {
		core_error(c, rq, "device %s is attached to ioas %s; remove its ioas link", o->name,
			   d->ioas->o.name);
		return -ENOTEMPTY;
	}
	r = d->bound ? c->be->ops->device_unbind(c->be, d->dev_id) : 0;
	if (r < 0) {
		core_error(c, rq, "cannot unbind device %s: %s", o->name, errno_name(-r));
		return r;
	}
	d->bound = false;
	refresh_platform(c); /* the kernel backend's geometry is its bound devices' */
	return 0;
}

static void device_free(struct core *c, struct obj *o)
{
	free(list_entry(o, struct device, o));
}

const struct core_obj_ops device_obj_ops = {
	.name = "device",
	.max = CORE_MAX_DEVICES,
	.prepare = device_prepare,
	.make = device_make,
	.remove = device_remove,
	.free = device_free,
};
