/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel backend: the ops of backend.h on /dev/iommu and VFIO device cdevs.
 *
 * Every system call goes through one seam, struct kernel_sys (open, close, ioctl, reading a
 * small sysfs file), so that tests/unit/test_kernel drives this file against the sim model
 * at the uAPI level: the structs built here are decoded there, and each errno the kernel can
 * return comes back through the same path. Each op fills one uAPI struct, issues one ioctl
 * and copies the results out; the errno is the kernel's, untouched.
 *
 * Devices. device_bind opens the cdev (a path, or a bare name under /dev/vfio/devices/),
 * binds it with VFIO_DEVICE_BIND_IOMMUFD and then learns the device's geometry from the
 * kernel itself: it attaches the device to a scratch IOAS, reads IOMMU_IOAS_IOVA_RANGES
 * (growing the array on EMSGSIZE), detaches and destroys the scratch IOAS. The complement of
 * those ranges is exactly what the kernel reserves in an IOAS when the device attaches (its
 * reserved regions and the outside of its domain's aperture), which is what the core must
 * keep out of the allowed list before an attach; each piece is named after the sysfs
 * reserved region it overlaps (msi, direct, reserved) or "aperture". The platform the core
 * checks windows against is derived from the bound devices (backend op `platform`).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/iommufd_uapi.h"
#include "backend/kernel.h"

#define KERNEL_MAX_DEVICES  1024
#define KERNEL_PROBE_RANGES 8

_Static_assert(sizeof(struct iova_range) == sizeof(struct iommu_iova_range) &&
		   offsetof(struct iova_range, last) == offsetof(struct iommu_iova_range, last),
	       "struct iova_range is passed to the kernel as struct iommu_iova_range");

struct kdev {
	uint32_t dev_id;
	int fd;
	bool attached;
	char path[PATH_MAX];
	uint64_t alignment; /* out_iova_alignment with only this device attached */
	struct backend_hw_info hw;
	unsigned n_resv;
	struct platform_range resv[PLATFORM_MAX_RANGES];
};

struct kbackend {
	struct backend be;
	struct kernel_sys sys;
	int iommufd;
	pthread_mutex_t lock; /* the device table */
	struct kdev *devs[KERNEL_MAX_DEVICES];
};

static struct kbackend *kb_of(struct backend *be)
{
	return (struct kbackend *)be;
}

static int kioctl(struct kbackend *k, int fd, unsigned long req, void *arg)
{
	return k->sys.ioctl(k->sys.ctx, fd, req, arg);
}

static int kfd_ioctl(struct kbackend *k, unsigned long req, void *arg)
{
	return kioctl(k, k->iommufd, req, arg);
}

/* ---------------------------------------------------------------- the seam, for real */

static int real_open(void *ctx, const char *path, int flags)
{
	int fd = open(path, flags);

	return fd < 0 ? -errno : fd;
}

static int real_close(void *ctx, int fd)
{
	return close(fd) < 0 ? -errno : 0;
}

static int real_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

static ssize_t real_read_file(void *ctx, const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len);
	if (n < 0)
		n = -errno;
	close(fd);
	return n;
}

const struct kernel_sys kernel_sys_real = {
	.open = real_open,
	.close = real_close,
	.ioctl = real_ioctl,
	.read_file = real_read_file,
};

/* ---------------------------------------------------------------- IOAS ops */

static int k_ioas_alloc(struct backend *be, uint32_t *ret_id)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };
	int r = kfd_ioctl(kb_of(be), IOMMU_IOAS_ALLOC, &cmd);

	if (r == 0)
		*ret_id = cmd.out_ioas_id;
	return r;
}

static int k_destroy(struct backend *be, uint32_t id)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = id };

	return kfd_ioctl(kb_of(be), IOMMU_DESTROY, &cmd);
}

static int k_iova_ranges(struct backend *be, uint32_t ioas_id, struct iova_range *ranges,
			 uint32_t *num, uint64_t *ret_alignment)
{
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.num_iovas = *num,
		.allowed_iovas = (uintptr_t)ranges,
	};
	int r = kfd_ioctl(kb_of(be), IOMMU_IOAS_IOVA_RANGES, &cmd);

	/* on EMSGSIZE the kernel has written the struct back: the total and the alignment */
	if (r == 0 || r == -EMSGSIZE) {
		*num = cmd.num_iovas;
		if (ret_alignment)
			*ret_alignment = cmd.out_iova_alignment;
	}
	return r;
}

static int k_allow_iovas(struct backend *be, uint32_t ioas_id, const struct iova_range *ranges,
			 uint32_t num)
{
	struct iommu_ioas_allow_iovas cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.num_iovas = num,
		.allowed_iovas = (uintptr_t)ranges,
	};

	return kfd_ioctl(kb_of(be), IOMMU_IOAS_ALLOW_IOVAS, &cmd);
}

static int k_map(struct backend *be, uint32_t ioas_id, uint32_t flags, void *user_va,
		 uint64_t length, uint64_t *iova)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.ioas_id = ioas_id,
		.user_va = (uintptr_t)user_va,
		.length = length,
		.iova = *iova,
	};
	int r = kfd_ioctl(kb_of(be), IOMMU_IOAS_MAP, &cmd);

	if (r == 0)
		*iova = cmd.iova;
	return r;
}

static int k_map_file(struct backend *be, uint32_t ioas_id, uint32_t flags, int fd, uint64_t start,
		      uint64_t length, uint64_t *iova)
{
	struct iommu_ioas_map_file cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.ioas_id = ioas_id,
		.fd = fd,
		.start = start,
		.length = length,
		.iova = *iova,
	};
	int r = kfd_ioctl(kb_of(be), IOMMU_IOAS_MAP_FILE, &cmd);

	if (r == 0)
		*iova = cmd.iova;
	return r;
}

static int k_unmap(struct backend *be, uint32_t ioas_id, uint64_t iova, uint64_t *length)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.iova = iova,
		.length = *length,
	};
	int r = kfd_ioctl(kb_of(be), IOMMU_IOAS_UNMAP, &cmd);

	if (r == 0)
		*length = cmd.length;
	return r;
}

static int k_copy(struct backend *be, uint32_t flags, uint32_t dst_ioas_id, uint32_t src_ioas_id,
		  uint64_t length, uint64_t *dst_iova, uint64_t src_iova)
{
	struct iommu_ioas_copy cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dst_ioas_id = dst_ioas_id,
		.src_ioas_id = src_ioas_id,
		.length = length,
		.dst_iova = *dst_iova,
		.src_iova = src_iova,
	};
	int r = kfd_ioctl(kb_of(be), IOMMU_IOAS_COPY, &cmd);

	if (r == 0)
		*dst_iova = cmd.dst_iova;
	return r;
}

static int k_option(struct backend *be, uint32_t option_id, uint16_t op, uint32_t object_id,
		    uint64_t *val)
{
	struct iommu_option cmd = {
		.size = sizeof(cmd),
		.option_id = option_id,
		.op = op,
		.object_id = object_id,
		.val64 = *val,
	};
	int r = kfd_ioctl(kb_of(be), IOMMU_OPTION, &cmd);

	if (r == 0)
		*val = cmd.val64;
	return r;
}

/* ---------------------------------------------------------------- devices */

static struct kdev *kdev_find(struct kbackend *k, uint32_t dev_id)
{
	for (unsigned i = 0; i < KERNEL_MAX_DEVICES; i++)
		if (k->devs[i] && k->devs[i]->dev_id == dev_id)
			return k->devs[i];
	return NULL;
}

static int kdev_attach(struct kbackend *k, struct kdev *d, uint32_t *pt_id)
{
	struct vfio_device_attach_iommufd_pt cmd = {
		.argsz = sizeof(cmd),
		.pt_id = *pt_id,
	};
	int r = kioctl(k, d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &cmd);

	if (r == 0) {
		*pt_id = cmd.pt_id;
		d->attached = true;
	}
	return r;
}

static int kdev_detach(struct kbackend *k, struct kdev *d)
{
	struct vfio_device_detach_iommufd_pt cmd = { .argsz = sizeof(cmd) };
	int r = kioctl(k, d->fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &cmd);

	if (r == 0)
		d->attached = false;
	return r;
}

static int kdev_hw_info(struct kbackend *k, uint32_t dev_id, struct backend_hw_info *ret)
{
	uint8_t data[sizeof(ret->data)] = { 0 };
	struct iommu_hw_info cmd = {
		.size = sizeof(cmd),
		.dev_id = dev_id,
		.data_len = sizeof(data),
		.data_uptr = (uintptr_t)data,
	};
	int r = kfd_ioctl(k, IOMMU_GET_HW_INFO, &cmd);

	if (r < 0)
		return r;
	*ret = (struct backend_hw_info){
		.type = cmd.out_data_type,
		.capabilities = cmd.out_capabilities,
		/* the byte after out_data_type (6.13+); older kernels leave it zero */
		.max_pasid_log2 =
		    ((const uint8_t *)&cmd)[offsetof(struct iommu_hw_info, out_data_type) + 4],
		.data_len = cmd.data_len < sizeof(data) ? cmd.data_len : sizeof(data),
	};
	memcpy(ret->data, data, ret->data_len);
	return 0;
}

/*
 * The sysfs reserved regions of the device's group ("0x... 0x... kind" per line), used only
 * to name the pieces of the reserved set; a missing file is not an error.
 */
static unsigned sysfs_reserved(struct kbackend *k, const char *path, struct platform_range *out,
			       unsigned max)
{
	const char *base = strrchr(path, '/');
	char file[PATH_MAX + 64], buf[4096];
	unsigned n = 0;
	ssize_t len;
	char *line, *save = NULL;

	base = base ? base + 1 : path;
	snprintf(file, sizeof(file), "/sys/class/vfio-dev/%s/device/iommu_group/reserved_regions",
		 base);
	len = k->sys.read_file(k->sys.ctx, file, buf, sizeof(buf) - 1);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	for (line = strtok_r(buf, "\n", &save); line && n < max;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long long s, l;
		char kind[PLATFORM_KIND_LEN];

		if (sscanf(line, "%llx %llx %15s", &s, &l, kind) != 3 || s > l)
			continue;
		out[n].start = s;
		out[n].last = l;
		snprintf(out[n].kind, sizeof(out[n].kind), "%s", kind);
		n++;
	}
	return n;
}

/* The kind of the sysfs region that overlaps [s, l], else "aperture". */
static void name_piece(struct platform_range *p, const struct platform_range *sys, unsigned n)
{
	snprintf(p->kind, sizeof(p->kind), "aperture");
	for (unsigned i = 0; i < n; i++)
		if (sys[i].start <= p->last && p->start <= sys[i].last) {
			snprintf(p->kind, sizeof(p->kind), "%s", sys[i].kind);
			return;
		}
}

/* IOVA_RANGES of an IOAS, all of them: grows the array on EMSGSIZE. Caller frees *ret. */
static int iova_ranges_all(struct backend *be, uint32_t ioas_id, struct iova_range **ret,
			   uint32_t *ret_n, uint64_t *ret_align)
{
	uint32_t cap = KERNEL_PROBE_RANGES;

	for (int tries = 0; tries < 4; tries++) {
		struct iova_range *rg = calloc(cap, sizeof(*rg));
		uint32_t n = cap;
		int r;

		if (!rg)
			return -ENOMEM;
		r = k_iova_ranges(be, ioas_id, rg, &n, ret_align);
		if (r == 0) {
			*ret = rg;
			*ret_n = n;
			return 0;
		}
		free(rg);
		if (r != -EMSGSIZE)
			return r;
		cap = n; /* the total, written back with EMSGSIZE */
	}
	return -EMSGSIZE; /* the total kept growing: give up rather than loop */
}

/*
 * Learn what the kernel reserves for this device: attach it to a scratch IOAS and read the
 * usable ranges back. Fills d->resv (the complement, named) and d->alignment. If the scratch
 * IOAS could not be destroyed (the detach failed, so its HWPT holds it), *leftover names it
 * for the caller to destroy once closing the cdev has detached the device.
 */
static int kdev_probe(struct kbackend *k, struct kdev *d, uint32_t *leftover)
{
	struct platform_range sys[PLATFORM_MAX_RANGES];
	unsigned nsys = sysfs_reserved(k, d->path, sys, PLATFORM_MAX_RANGES);
	struct iova_range *rg = NULL;
	uint32_t ioas = 0, pt, n = 0;
	uint64_t next = 0;
	int r, r2;

	r = k_ioas_alloc(&k->be, &ioas);
	if (r < 0)
		return r;
	pt = ioas;
	r = kdev_attach(k, d, &pt);
	if (r == 0) {
		r = iova_ranges_all(&k->be, ioas, &rg, &n, &d->alignment);
		r2 = kdev_detach(k, d);
		if (r == 0)
			r = r2;
	}
	r2 = k_destroy(&k->be, ioas);
	if (r2 < 0)
		*leftover = ioas;
	if (r == 0)
		r = r2;
	if (r < 0)
		goto out;
	d->n_resv = 0;
	for (uint32_t i = 0; i <= n; i++) {
		struct platform_range *p;
		uint64_t end = i < n ? rg[i].start : 0;

		if (i < n && rg[i].start == next) {
			/* no gap before this range */
		} else if (d->n_resv == PLATFORM_MAX_RANGES) {
			r = -E2BIG;
			goto out;
		} else {
			p = &d->resv[d->n_resv++];
			p->start = next;
			p->last = i < n ? end - 1 : UINT64_MAX;
			name_piece(p, sys, nsys);
		}
		if (i == n || rg[i].last == UINT64_MAX)
			break;
		next = rg[i].last + 1;
	}
out:
	free(rg);
	return r;
}

/* A cdev path, or a bare name under /dev/vfio/devices/. */
static void k_cdev_path(const char *name_or_path, char *buf, size_t len)
{
	if (strchr(name_or_path, '/'))
		snprintf(buf, len, "%s", name_or_path);
	else
		snprintf(buf, len, "/dev/vfio/devices/%s", name_or_path);
}

static int k_device_bind(struct backend *be, const char *path, uint32_t *ret_dev_id)
{
	struct kbackend *k = kb_of(be);
	struct vfio_device_bind_iommufd cmd = { .argsz = sizeof(cmd), .iommufd = k->iommufd };
	struct kdev *d;
	uint32_t leftover = 0;
	int slot = -1, r;

	pthread_mutex_lock(&k->lock);
	for (int i = 0; i < KERNEL_MAX_DEVICES && slot < 0; i++)
		if (!k->devs[i])
			slot = i;
	if (slot < 0) {
		r = -ENOSPC;
		goto out;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		r = -ENOMEM;
		goto out;
	}
	k_cdev_path(path, d->path, sizeof(d->path));
	d->fd = k->sys.open(k->sys.ctx, d->path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0) {
		r = d->fd;
		free(d);
		goto out;
	}
	r = kioctl(k, d->fd, VFIO_DEVICE_BIND_IOMMUFD, &cmd);
	if (r == 0) {
		d->dev_id = cmd.out_devid;
		r = kdev_hw_info(k, d->dev_id, &d->hw);
	}
	if (r == 0)
		r = kdev_probe(k, d, &leftover);
	if (r < 0) {
		k->sys.close(k->sys.ctx, d->fd); /* closing the cdev detaches and unbinds */
		if (leftover)
			k_destroy(&k->be, leftover);
		free(d);
		goto out;
	}
	k->devs[slot] = d;
	*ret_dev_id = d->dev_id;
out:
	pthread_mutex_unlock(&k->lock);
	return r;
}

static int k_device_unbind(struct backend *be, uint32_t dev_id)
{
	struct kbackend *k = kb_of(be);
	int r = -ENOENT;

	pthread_mutex_lock(&k->lock);
	for (unsigned i = 0; i < KERNEL_MAX_DEVICES; i++) {
		struct kdev *d = k->devs[i];

		if (!d || d->dev_id != dev_id)
			continue;
		/* closing the cdev detaches and unbinds (vfio_df_unbind_iommufd) */
		r = k->sys.close(k->sys.ctx, d->fd);
		free(d);
		k->devs[i] = NULL;
		break;
	}
	pthread_mutex_unlock(&k->lock);
	return r;
}

static int k_device_attach(struct backend *be, uint32_t dev_id, uint32_t *pt_id)
{
	struct kbackend *k = kb_of(be);
	struct kdev *d;
	int r;

	pthread_mutex_lock(&k->lock);
	d = kdev_find(k, dev_id);
	r = d ? kdev_attach(k, d, pt_id) : -ENOENT;
	pthread_mutex_unlock(&k->lock);
	return r;
}

static int k_device_detach(struct backend *be, uint32_t dev_id)
{
	struct kbackend *k = kb_of(be);
	struct kdev *d;
	int r;

	pthread_mutex_lock(&k->lock);
	d = kdev_find(k, dev_id);
	if (!d)
		r = -ENOENT;
	else if (!d->attached)
		r = -EINVAL; /* backend.h: VFIO itself would return 0 */
	else
		r = kdev_detach(k, d);
	pthread_mutex_unlock(&k->lock);
	return r;
}

static int k_hw_info(struct backend *be, uint32_t dev_id, struct backend_hw_info *ret)
{
	return kdev_hw_info(kb_of(be), dev_id, ret);
}

static int k_device_reserved(struct backend *be, uint32_t dev_id, struct platform_range *regions,
			     uint32_t *num)
{
	struct kbackend *k = kb_of(be);
	struct kdev *d;
	int r = 0;

	pthread_mutex_lock(&k->lock);
	d = kdev_find(k, dev_id);
	if (!d) {
		r = -ENOENT;
	} else {
		uint32_t cap = *num;

		memcpy(regions, d->resv, (cap < d->n_resv ? cap : d->n_resv) * sizeof(*regions));
		*num = d->n_resv;
		if (d->n_resv > cap)
			r = -EMSGSIZE;
	}
	pthread_mutex_unlock(&k->lock);
	return r;
}

/* VT-d second-level large page support, cap_reg bits 34 (2M) and 35 (1G). */
static uint64_t vtd_page_sizes(const struct backend_hw_info *hw)
{
	struct iommu_hw_info_vtd v;
	uint64_t ps = 0;

	if (hw->type != IOMMU_HW_INFO_TYPE_INTEL_VTD || hw->data_len < sizeof(v))
		return 0;
	memcpy(&v, hw->data, sizeof(v));
	if (v.cap_reg & (1ull << 34))
		ps |= 2ull << 20;
	if (v.cap_reg & (1ull << 35))
		ps |= 1ull << 30;
	return ps;
}

/*
 * The platform as the bound devices report it: the aperture is what every device can reach,
 * the reserved ranges the union of their named regions inside it, the smallest page size the
 * largest device alignment. With no device bound: all of 0..2^64-1, PAGE_SIZE pages.
 */
static void k_platform(struct backend *be, struct platform *p)
{
	struct kbackend *k = kb_of(be);
	uint64_t lo = 0, hi = UINT64_MAX, align = BACKEND_PAGE_SIZE, big = 0;
	bool any = false;

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "kernel");
	pthread_mutex_lock(&k->lock);
	for (unsigned i = 0; i < KERNEL_MAX_DEVICES; i++) {
		struct kdev *d = k->devs[i];

		if (!d)
			continue;
		for (unsigned j = 0; j < d->n_resv; j++) {
			struct platform_range *r = &d->resv[j];

			if (strcmp(r->kind, "aperture"))
				continue;
			if (r->start == 0 && r->last >= lo)
				lo = r->last + 1;
			else if (r->last == UINT64_MAX && r->start - 1 < hi)
				hi = r->start - 1;
		}
		if (d->alignment > align)
			align = d->alignment;
		big = any ? big & vtd_page_sizes(&d->hw) : vtd_page_sizes(&d->hw);
		if (!any)
			p->iommu =
			    d->hw.type == IOMMU_HW_INFO_TYPE_ARM_SMMUV3	 ? PLATFORM_IOMMU_ARM_SMMUV3
			    : d->hw.type == IOMMU_HW_INFO_TYPE_INTEL_VTD ? PLATFORM_IOMMU_INTEL_VTD
									 : PLATFORM_IOMMU_NONE;
		any = true;
	}
	if (lo > hi)
		lo = hi = 0; /* devices with disjoint apertures: nothing is usable by all */
	p->n_apertures = 1;
	p->apertures[0].start = lo;
	p->apertures[0].last = hi;
	p->iova_bits = hi == UINT64_MAX ? 64 : 64 - __builtin_clzll(hi | 1);
	p->page_sizes = align | (big & ~(align - 1));
	for (unsigned i = 0; i < KERNEL_MAX_DEVICES; i++) {
		struct kdev *d = k->devs[i];

		for (unsigned j = 0; d && j < d->n_resv; j++) {
			struct platform_range r = d->resv[j];
			unsigned at;

			if (!strcmp(r.kind, "aperture") || r.last < lo || r.start > hi)
				continue;
			r.start = r.start < lo ? lo : r.start;
			r.last = r.last > hi ? hi : r.last;
			/* keep sorted and disjoint: merge into an overlapping entry */
			for (at = 0; at < p->n_reserved; at++)
				if (r.start <= p->reserved[at].last &&
				    p->reserved[at].start <= r.last)
					break;
			if (at < p->n_reserved) {
				struct platform_range *m = &p->reserved[at];

				m->start = r.start < m->start ? r.start : m->start;
				m->last = r.last > m->last ? r.last : m->last;
				continue;
			}
			if (p->n_reserved == PLATFORM_MAX_RANGES)
				continue;
			for (at = p->n_reserved; at > 0 && p->reserved[at - 1].start > r.start;
			     at--)
				p->reserved[at] = p->reserved[at - 1];
			p->reserved[at] = r;
			p->n_reserved++;
		}
	}
	pthread_mutex_unlock(&k->lock);
}

static void k_close(struct backend *be)
{
	struct kbackend *k = kb_of(be);

	for (unsigned i = 0; i < KERNEL_MAX_DEVICES; i++) {
		if (!k->devs[i])
			continue;
		k->sys.close(k->sys.ctx, k->devs[i]->fd);
		free(k->devs[i]);
	}
	k->sys.close(k->sys.ctx, k->iommufd);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

static const struct backend_ops kernel_ops;
static struct backend_ops kernel_ops_no_map_file;

/*
 * Does this kernel have IOMMU_IOAS_MAP_FILE (6.13+)? Asked with IOAS id 0, which no kernel
 * accepts: ENOTTY means the ioctl is unknown, any other answer that it exists.
 */
static bool has_map_file(struct kbackend *k)
{
	struct iommu_ioas_map_file cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_READABLE,
		.fd = -1,
		.length = BACKEND_PAGE_SIZE,
	};

	return kfd_ioctl(k, IOMMU_IOAS_MAP_FILE, &cmd) != -ENOTTY;
}

static const struct backend_ops kernel_ops = {
	.name = "kernel",
	.cdev_path = k_cdev_path,
	/* the kernel backend would have to probe them */
	.dirty_tracking = "unknown (not probed)",
	.iommufd_test = "unknown (not probed)",
	.close = k_close,
	.ioas_alloc = k_ioas_alloc,
	.destroy = k_destroy,
	.iova_ranges = k_iova_ranges,
	.allow_iovas = k_allow_iovas,
	.map = k_map,
	.map_file = k_map_file,
	.unmap = k_unmap,
	.copy = k_copy,
	.option = k_option,
	.device_bind = k_device_bind,
	.device_unbind = k_device_unbind,
	.device_attach = k_device_attach,
	.device_detach = k_device_detach,
	.hw_info = k_hw_info,
	.device_reserved = k_device_reserved,
	.device_set_reserved = NULL,
	.platform = k_platform,
};

int kernel_backend_iommufd(struct backend *be)
{
	return kb_of(be)->iommufd;
}

int kernel_backend_create(const struct kernel_sys *sys, const char *iommu_path,
			  struct backend **ret)
{
	struct kbackend *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	k->sys = sys ? *sys : kernel_sys_real;
	k->iommufd =
	    k->sys.open(k->sys.ctx, iommu_path ? iommu_path : "/dev/iommu", O_RDWR | O_CLOEXEC);
	if (k->iommufd < 0) {
		int r = k->iommufd;

		free(k);
		return r;
	}
	pthread_mutex_init(&k->lock, NULL);
	k->be.ops = &kernel_ops;
	if (!has_map_file(k)) {
		kernel_ops_no_map_file = kernel_ops;
		kernel_ops_no_map_file.map_file = NULL;
		k->be.ops = &kernel_ops_no_map_file;
	}
	*ret = &k->be;
	return 0;
}

/*
 * Does the iommufd accept IORING_OP_URING_CMD? Neither iommufd nor FUSE files implement
 * ->uring_cmd today, which is why the batch channel carries ioctl-shaped commands in WRITEs;
 * this records what the running kernel says, for `status`.
 */
void kernel_probe_uring_cmd(char *out, size_t len)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	int fd, r;

	fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(out, len, "no (no /dev/iommu: %s)", strerror(errno));
		return;
	}
	r = io_uring_queue_init(2, &ring, 0);
	if (r < 0) {
		snprintf(out, len, "unknown (io_uring: %s)", strerror(-r));
		goto out;
	}
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = 0;
	r = io_uring_submit_and_wait(&ring, 1);
	if (r >= 0)
		r = io_uring_wait_cqe(&ring, &cqe);
	if (r < 0) {
		snprintf(out, len, "unknown (io_uring: %s)", strerror(-r));
	} else {
		if (cqe->res == -EOPNOTSUPP || cqe->res == -EINVAL)
			snprintf(out, len, "no (/dev/iommu: %s)", strerror(-cqe->res));
		else
			snprintf(out, len, "yes (/dev/iommu answered %d)", cqe->res);
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
out:
	close(fd);
}
