/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Seam tests for the kernel backend (src/backend/kernel.c), no /dev/iommu needed.
 *
 * Behind the backend's one seam (struct kernel_sys) sits `ukern`, a model of the kernel at
 * the uAPI level: it decodes each ioctl's struct the way iommufd's main.c and VFIO do
 * (number, size, reserved fields, flags), runs the request on the sim backend and writes the
 * results back into the caller's struct, including the parts the kernel writes back on
 * failure (IOVA_RANGES on EMSGSIZE). Any struct kernel.c fills with a wrong size, a non-zero
 * reserved field or an unknown number fails the test at once. On top of that:
 * - parity: a seeded random sequence of operations gives the same result, errno and output
 *   through kernel.c + ukern as on the sim backend called directly;
 * - devices: the geometry probe at bind (scratch IOAS, IOVA_RANGES with the EMSGSIZE retry),
 *   the naming of reserved pieces from sysfs, the derived platform;
 * - every error path of bind, attach, detach, unbind and create, with injected failures,
 *   checking that no file descriptor and no scratch IOAS is left behind;
 * - the core running on the kernel backend: attach, iova_ranges, the platform refresh.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/iommufd_uapi.h"
#include "backend/kernel.h"
#include "core/core.h"
#include "util/platform.h"
#include "util/sbuf.h"

#define IOMMUFD_FD 100
#define DEV_FD0	   200
#define MAX_FDS	   16

struct ukern {
	struct backend *sim;
	struct platform plat;
	bool iommufd_open;
	struct {
		bool open, bound, attached;
		char name[64];
		uint32_t dev_id;
	} dev[MAX_FDS];
	int live_ioas; /* IOASes alive in the model */
	unsigned calls[256];	      /* per ioctl nr (low byte) */
	unsigned long fail_req;	      /* inject: this request fails ... */
	int fail_err;		      /* ... with this errno ... */
	unsigned fail_skip;	      /* ... after this many successful calls of it */
	bool sysfs;		      /* serve reserved_regions */
	bool no_map_file;	      /* a kernel before 6.13 */
};

static void ukern_init(struct ukern *u, const char *platform)
{
	char err[128];

	memset(u, 0, sizeof(*u));
	ck_assert_int_eq(platform_load(platform, &u->plat, err, sizeof(err)), 0);
	ck_assert_int_eq(sim_backend_create(&u->plat, &u->sim), 0);
	u->sysfs = true;
}

static void ukern_fini(struct ukern *u)
{
	u->sim->ops->close(u->sim);
}

static int open_fds(const struct ukern *u)
{
	int n = u->iommufd_open;

	for (int i = 0; i < MAX_FDS; i++)
		n += u->dev[i].open;
	return n;
}

static int u_open(void *ctx, const char *path, int flags)
{
	struct ukern *u = ctx;
	const char *base = strrchr(path, '/');

	ck_assert(flags & O_CLOEXEC);
	ck_assert_int_eq(flags & O_ACCMODE, O_RDWR);
	if (!strcmp(path, "/dev/iommu")) {
		u->iommufd_open = true;
		return IOMMUFD_FD;
	}
	if (strncmp(path, "/dev/vfio/devices/", 18) || !base || strncmp(base + 1, "vfio", 4))
		return -ENOENT;
	for (int i = 0; i < MAX_FDS; i++)
		if (!u->dev[i].open) {
			u->dev[i].open = true;
			u->dev[i].bound = false;
			snprintf(u->dev[i].name, sizeof(u->dev[i].name), "%s", base + 1);
			return DEV_FD0 + i;
		}
	return -EMFILE;
}

static int u_close(void *ctx, int fd)
{
	struct ukern *u = ctx;

	if (fd == IOMMUFD_FD) {
		ck_assert(u->iommufd_open);
		u->iommufd_open = false;
		return 0;
	}
	ck_assert(fd >= DEV_FD0 && fd < DEV_FD0 + MAX_FDS && u->dev[fd - DEV_FD0].open);
	fd -= DEV_FD0;
	/* vfio_df_unbind_iommufd: detach and unbind when the cdev is closed */
	if (u->dev[fd].bound)
		ck_assert_int_eq(u->sim->ops->device_unbind(u->sim, u->dev[fd].dev_id), 0);
	u->dev[fd].open = u->dev[fd].bound = u->dev[fd].attached = false;
	return 0;
}

static ssize_t u_read_file(void *ctx, const char *path, char *buf, size_t len)
{
	struct ukern *u = ctx;
	size_t n = 0;

	if (!u->sysfs || strncmp(path, "/sys/class/vfio-dev/vfio", 24) ||
	    !strstr(path, "/device/iommu_group/reserved_regions"))
		return -ENOENT;
	for (unsigned i = 0; i < u->plat.n_reserved; i++)
		n += snprintf(buf + n, len - n, "0x%016" PRIx64 " 0x%016" PRIx64 " %s\n",
			      u->plat.reserved[i].start, u->plat.reserved[i].last,
			      u->plat.reserved[i].kind);
	return n;
}

/* The checks main.c and VFIO make before a handler runs; kernel.c must always pass them. */
static void check_iommufd_struct(unsigned long req, const void *arg, size_t want)
{
	uint32_t size;

	memcpy(&size, arg, sizeof(size));
	ck_assert_msg(size == want, "ioctl 0x%lx: size %u, struct is %zu", req, size, want);
}

static int u_iommufd(struct ukern *u, unsigned long req, void *arg)
{
	struct backend *s = u->sim;
	uint64_t iova, len, val;
	int r;

	switch (req) {
	case IOMMU_IOAS_ALLOC: {
		struct iommu_ioas_alloc *c = arg;

		check_iommufd_struct(req, arg, sizeof(*c));
		if (c->flags)
			return -EOPNOTSUPP;
		r = s->ops->ioas_alloc(s, &c->out_ioas_id);
		u->live_ioas += r == 0;
		return r;
	}
	case IOMMU_DESTROY: {
		struct iommu_destroy *c = arg;
		uint64_t ignored = 0;
		uint32_t n = 0;
		bool ioas;

		check_iommufd_struct(req, arg, sizeof(*c));
		ioas = s->ops->iova_ranges(s, c->id, NULL, &n, &ignored) != -ENOENT;
		r = s->ops->destroy(s, c->id);
		u->live_ioas -= r == 0 && ioas;
		return r;
	}
	case IOMMU_IOAS_IOVA_RANGES: {
		struct iommu_ioas_iova_ranges *c = arg;
		uint64_t align = 0;

		check_iommufd_struct(req, arg, sizeof(*c));
		if (c->__reserved)
			return -EOPNOTSUPP;
		r = s->ops->iova_ranges(s, c->ioas_id, (struct iova_range *)(uintptr_t)c->allowed_iovas,
					&c->num_iovas, &align);
		if (r == 0 || r == -EMSGSIZE)
			c->out_iova_alignment = align;
		return r;
	}
	case IOMMU_IOAS_ALLOW_IOVAS: {
		struct iommu_ioas_allow_iovas *c = arg;

		check_iommufd_struct(req, arg, sizeof(*c));
		if (c->__reserved)
			return -EOPNOTSUPP;
		return s->ops->allow_iovas(s, c->ioas_id,
					   (const struct iova_range *)(uintptr_t)c->allowed_iovas,
					   c->num_iovas);
	}
	case IOMMU_IOAS_MAP: {
		struct iommu_ioas_map *c = arg;

		check_iommufd_struct(req, arg, sizeof(*c));
		if (c->__reserved)
			return -EOPNOTSUPP;
		iova = c->iova;
		r = s->ops->map(s, c->ioas_id, c->flags, (void *)(uintptr_t)c->user_va, c->length,
				&iova);
		c->iova = iova;
		return r;
	}
	case IOMMU_IOAS_MAP_FILE: {
		struct iommu_ioas_map_file *c = arg;

		if (u->no_map_file)
			return -ENOTTY;
		check_iommufd_struct(req, arg, sizeof(*c));
		if (c->fd < 0)
			return -EBADF;
		/* the file offset plays the user address's part in the allocator */
		iova = c->iova;
		r = s->ops->map(s, c->ioas_id, c->flags, (void *)(uintptr_t)c->start, c->length,
				&iova);
		c->iova = iova;
		return r;
	}
	case IOMMU_IOAS_UNMAP: {
		struct iommu_ioas_unmap *c = arg;

		check_iommufd_struct(req, arg, sizeof(*c));
		len = c->length;
		r = s->ops->unmap(s, c->ioas_id, c->iova, &len);
		c->length = len;
		return r;
	}
	case IOMMU_IOAS_COPY: {
		struct iommu_ioas_copy *c = arg;

		check_iommufd_struct(req, arg, sizeof(*c));
		iova = c->dst_iova;
		r = s->ops->copy(s, c->flags, c->dst_ioas_id, c->src_ioas_id, c->length, &iova,
				 c->src_iova);
		c->dst_iova = iova;
		return r;
	}
	case IOMMU_OPTION: {
		struct iommu_option *c = arg;

		check_iommufd_struct(req, arg, sizeof(*c));
		if (c->__reserved)
			return -EOPNOTSUPP;
		val = c->val64;
		r = s->ops->option(s, c->option_id, c->op, c->object_id, &val);
		c->val64 = val;
		return r;
	}
	case IOMMU_GET_HW_INFO: {
		struct iommu_hw_info *c = arg;
		struct backend_hw_info hi;
		size_t n;

		check_iommufd_struct(req, arg, sizeof(*c));
		if (c->flags)
			return -EOPNOTSUPP;
		r = s->ops->hw_info(s, c->dev_id, &hi);
		if (r < 0)
			return r;
		n = c->data_len < hi.data_len ? c->data_len : hi.data_len;
		memcpy((void *)(uintptr_t)c->data_uptr, hi.data, n);
		/* trailing bytes of the user buffer are zeroed */
		memset((char *)(uintptr_t)c->data_uptr + n, 0, c->data_len - n);
		c->data_len = hi.data_len;
		c->out_data_type = hi.type;
		c->out_capabilities = hi.capabilities;
		((uint8_t *)c)[offsetof(struct iommu_hw_info, out_data_type) + 4] =
			hi.max_pasid_log2;
		return 0;
	}
	}
	return -ENOTTY;
}

static int u_vfio(struct ukern *u, int i, unsigned long req, void *arg)
{
	struct backend *s = u->sim;
	int r;

	ck_assert(u->dev[i].open);
	switch (req) {
	case VFIO_DEVICE_BIND_IOMMUFD: {
		struct vfio_device_bind_iommufd *c = arg;

		ck_assert_uint_eq(c->argsz, sizeof(*c));
		if (c->flags)
			return -EINVAL;
		if (c->iommufd != IOMMUFD_FD)
			return -EBADF;
		if (u->dev[i].bound)
			return -EINVAL;
		r = s->ops->device_bind(s, u->dev[i].name, &c->out_devid);
		if (r == 0) {
			u->dev[i].bound = true;
			u->dev[i].dev_id = c->out_devid;
		}
		return r;
	}
	case VFIO_DEVICE_ATTACH_IOMMUFD_PT: {
		struct vfio_device_attach_iommufd_pt *c = arg;

		ck_assert_uint_eq(c->argsz, sizeof(*c));
		if (c->flags || c->pasid)
			return -EINVAL;
		if (!u->dev[i].bound)
			return -EINVAL;
		r = s->ops->device_attach(s, u->dev[i].dev_id, &c->pt_id);
		u->dev[i].attached |= r == 0;
		return r;
	}
	case VFIO_DEVICE_DETACH_IOMMUFD_PT: {
		struct vfio_device_detach_iommufd_pt *c = arg;

		ck_assert_uint_eq(c->argsz, sizeof(*c));
		if (c->flags || c->pasid)
			return -EINVAL;
		if (!u->dev[i].bound)
			return -EINVAL;
		if (!u->dev[i].attached)
			return 0; /* VFIO: detaching a detached device is not an error */
		r = s->ops->device_detach(s, u->dev[i].dev_id);
		u->dev[i].attached &= r != 0;
		return r;
	}
	}
	return -ENOTTY;
}

static int u_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	struct ukern *u = ctx;

	ck_assert_msg((req & ~0xffUL) == 0x3b00, "ioctl 0x%lx is not _IO(';', nr)", req);
	u->calls[req & 0xff]++;
	if (req == u->fail_req && u->fail_err) {
		if (u->fail_skip == 0) {
			u->fail_req = 0;
			return -u->fail_err;
		}
		u->fail_skip--;
	}
	if (fd == IOMMUFD_FD) {
		ck_assert(u->iommufd_open);
		return u_iommufd(u, req, arg);
	}
	ck_assert(fd >= DEV_FD0 && fd < DEV_FD0 + MAX_FDS);
	return u_vfio(u, fd - DEV_FD0, req, arg);
}

static struct backend *kernel_on(struct ukern *u)
{
	struct kernel_sys sys = {
		.open = u_open,
		.close = u_close,
		.ioctl = u_ioctl,
		.read_file = u_read_file,
		.ctx = u,
	};
	struct backend *be;

	ck_assert_int_eq(kernel_backend_create(&sys, NULL, &be), 0);
	ck_assert(u->iommufd_open);
	return be;
}

static void fail_next(struct ukern *u, unsigned long req, int err, unsigned skip)
{
	u->fail_req = req;
	u->fail_err = err;
	u->fail_skip = skip;
}

/* ---------------------------------------------------------------- parity */

static uint64_t rnd_state;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static uint64_t pick(const uint64_t *v, size_t n)
{
	return v[rnd() % n];
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* One random operation on both backends; compares result and outputs. */
static void parity_step(struct backend *a, struct backend *b, uint32_t dev, unsigned step)
{
	static const uint64_t lens[] = { 0, 1, 0x800, 0x1000, 0x2000, 0x3000, 0x10000, 0x200000,
					 0x201000, UINT64_MAX, 1ull << 40 };
	static const uint64_t iovas[] = { 0, 0x1000, 0x2000, 0x3000, 0x10000, 0x200000,
					  0x40000000, 0xfee00000, 0xfedff000, 1ull << 47,
					  (1ull << 48) - 0x1000, UINT64_MAX, 0x1001 };
	static const uint64_t vas[] = { 0x7f0000000000, 0x7f0000001000, 0x7f0000200000,
					0x7f0000000800, 0x7f0000003000 };
	static const uint32_t flagset[] = { 4, 2, 6, 5, 7, 0, 1, 8, 0x16 };
	uint32_t id = 1 + rnd() % 6, id2 = 1 + rnd() % 6;
	int ra = 0, rb = 0;
	char what[64];

	switch (rnd() % 12) {
	case 0: {
		uint32_t ia = 0, ib = 0;

		snprintf(what, sizeof(what), "alloc");
		ra = a->ops->ioas_alloc(a, &ia);
		rb = b->ops->ioas_alloc(b, &ib);
		ck_assert_uint_eq(ia, ib);
		break;
	}
	case 1:
		snprintf(what, sizeof(what), "destroy %u", id);
		ra = a->ops->destroy(a, id);
		rb = b->ops->destroy(b, id);
		break;
	case 2:
	case 3:
	case 4: {
		uint32_t fl = flagset[rnd() % NELEM(flagset)];
		uint64_t len = pick(lens, NELEM(lens)), ia = pick(iovas, NELEM(iovas)), ib = ia;
		void *va = (void *)(uintptr_t)pick(vas, NELEM(vas));

		snprintf(what, sizeof(what), "map %u fl %u len 0x%" PRIx64, id, fl, len);
		ra = a->ops->map(a, id, fl, va, len, &ia);
		rb = b->ops->map(b, id, fl, va, len, &ib);
		ck_assert_uint_eq(ia, ib);
		break;
	}
	case 5:
	case 6: {
		uint64_t ia = pick(iovas, NELEM(iovas)), la = pick(lens, NELEM(lens)), lb;

		if (rnd() % 8 == 0) {
			ia = 0;
			la = UINT64_MAX;
		}
		lb = la;
		snprintf(what, sizeof(what), "unmap %u 0x%" PRIx64 "+0x%" PRIx64, id, ia, la);
		ra = a->ops->unmap(a, id, ia, &la);
		rb = b->ops->unmap(b, id, ia, &lb);
		ck_assert_uint_eq(la, lb);
		break;
	}
	case 7: {
		uint32_t fl = flagset[rnd() % NELEM(flagset)];
		uint64_t len = pick(lens, NELEM(lens)), src = pick(iovas, NELEM(iovas));
		uint64_t da = pick(iovas, NELEM(iovas)), db = da;

		snprintf(what, sizeof(what), "copy %u<-%u", id, id2);
		ra = a->ops->copy(a, fl, id, id2, len, &da, src);
		rb = b->ops->copy(b, fl, id, id2, len, &db, src);
		ck_assert_uint_eq(da, db);
		break;
	}
	case 8: {
		struct iova_range ga[4] = { 0 }, gb[4] = { 0 };
		uint32_t cap = rnd() % 4, na = cap, nb = cap;
		uint64_t aa = 0, ab = 0;

		snprintf(what, sizeof(what), "iova_ranges %u cap %u", id, cap);
		ra = a->ops->iova_ranges(a, id, ga, &na, &aa);
		rb = b->ops->iova_ranges(b, id, gb, &nb, &ab);
		if (ra == 0 || ra == -EMSGSIZE) {
			ck_assert_uint_eq(na, nb);
			ck_assert_uint_eq(aa, ab);
			ck_assert_mem_eq(ga, gb, sizeof(ga));
		}
		break;
	}
	case 9: {
		struct iova_range rg[2] = { { 0x1000, 0x3fffffff }, { 0x80000000, 0xffffffff } };
		uint32_t n = rnd() % 3;

		if (rnd() % 4 == 0)
			rg[1] = (struct iova_range){ 0xfe000000, 0xfeffffff };
		snprintf(what, sizeof(what), "allow %u n %u", id, n);
		ra = a->ops->allow_iovas(a, id, rg, n);
		rb = b->ops->allow_iovas(b, id, rg, n);
		break;
	}
	case 10: {
		uint64_t va = rnd() % 3, vb = va;
		uint16_t op = rnd() % 3;
		uint32_t opt = rnd() % 3, obj = rnd() % 2 ? id : 0;

		snprintf(what, sizeof(what), "option %u op %u obj %u", opt, op, obj);
		ra = a->ops->option(a, opt, op, obj, &va);
		rb = b->ops->option(b, opt, op, obj, &vb);
		ck_assert_uint_eq(va, vb);
		break;
	}
	case 11: {
		uint32_t pa = id, pb = id;

		if (rnd() % 2) {
			snprintf(what, sizeof(what), "attach %u", id);
			ra = a->ops->device_attach(a, dev, &pa);
			rb = b->ops->device_attach(b, dev, &pb);
			ck_assert_uint_eq(pa, pb);
		} else {
			snprintf(what, sizeof(what), "detach");
			ra = a->ops->device_detach(a, dev);
			rb = b->ops->device_detach(b, dev);
		}
		break;
	}
	}
	ck_assert_msg(ra == rb, "step %u %s: kernel.c %d, sim %d", step, what, ra, rb);
}

START_TEST(parity_random)
{
	struct ukern u;
	struct backend *k, *sim;
	uint32_t dk = 0, ds = 0;
	unsigned ops = 0;

	ukern_init(&u, "x86-vtd");
	k = kernel_on(&u);
	ck_assert_int_eq(sim_backend_create(&u.plat, &sim), 0);
	ck_assert_int_eq(k->ops->device_bind(k, "vfio0", &dk), 0);
	ck_assert_int_eq(sim->ops->device_bind(sim, "vfio0", &ds), 0);
	ck_assert_uint_eq(dk, ds);
	for (unsigned seed = 1; seed <= 4; seed++) {
		rnd_state = 0x10a5f5eedull * seed;
		for (unsigned i = 0; i < 2500; i++, ops++)
			parity_step(k, sim, dk, i);
	}
	printf("parity: %u operations, kernel.c + uAPI model == sim\n", ops);
	/* every ioctl the backend has was exercised */
	ck_assert_uint_gt(u.calls[IOMMU_IOAS_MAP & 0xff], 1000);
	ck_assert_uint_gt(u.calls[IOMMU_IOAS_COPY & 0xff], 100);
	ck_assert_uint_gt(u.calls[IOMMU_OPTION & 0xff], 100);
	ck_assert_uint_gt(u.calls[VFIO_DEVICE_ATTACH_IOMMUFD_PT & 0xff], 100);
	k->ops->close(k);
	sim->ops->close(sim);
	ck_assert_int_eq(open_fds(&u), 0);
	ukern_fini(&u);
}
END_TEST

START_TEST(map_file_marshaling)
{
	struct ukern u;
	struct backend *k;
	uint32_t ioas;
	uint64_t iova = 0;

	ukern_init(&u, "x86-vtd");
	k = kernel_on(&u);
	ck_assert_ptr_nonnull(k->ops->map_file);
	ck_assert_int_eq(k->ops->ioas_alloc(k, &ioas), 0);
	ck_assert_int_eq(k->ops->map_file(k, ioas, 6, 7, 0x200000, 0x1000, &iova), 0);
	ck_assert_uint_eq(iova, 0x1000); /* first fit, offset's alignment, never page 0 */
	iova = 0x400000;
	ck_assert_int_eq(k->ops->map_file(k, ioas, 7, 7, 0, 0x2000, &iova), 0);
	ck_assert_uint_eq(iova, 0x400000);
	ck_assert_int_eq(k->ops->map_file(k, ioas, 6, -1, 0, 0x1000, &iova), -EBADF);
	/* three maps and the probe at create */
	ck_assert_uint_eq(u.calls[IOMMU_IOAS_MAP_FILE & 0xff], 4);
	k->ops->close(k);
	ukern_fini(&u);

	/* a kernel without the ioctl: the backend offers no map_file (status says no) */
	ukern_init(&u, "x86-vtd");
	u.no_map_file = true;
	k = kernel_on(&u);
	ck_assert_ptr_null(k->ops->map_file);
	ck_assert_ptr_nonnull(k->ops->map);
	k->ops->close(k);
	ukern_fini(&u);
}
END_TEST

/* ---------------------------------------------------------------- devices */

START_TEST(bind_probes_geometry)
{
	struct ukern u;
	struct backend *k;
	struct platform_range rv[8];
	struct backend_hw_info hi;
	struct platform p;
	uint32_t dev, n = 8, ioas;

	ukern_init(&u, "x86-vtd");
	k = kernel_on(&u);
	k->ops->platform(k, &p);
	ck_assert_str_eq(p.name, "kernel");
	ck_assert_uint_eq(p.iova_bits, 64);
	ck_assert_uint_eq(p.n_reserved, 0);
	ck_assert_uint_eq(p.page_sizes, 0x1000);

	ck_assert_int_eq(k->ops->device_bind(k, "vfio0", &dev), 0);
	ck_assert_int_eq(u.live_ioas, 0); /* the scratch IOAS is gone */
	ck_assert_int_eq(k->ops->device_reserved(k, dev, rv, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(rv[0].start, 0xfee00000);
	ck_assert_uint_eq(rv[0].last, 0xfeefffff);
	ck_assert_str_eq(rv[0].kind, "msi");
	ck_assert_uint_eq(rv[1].start, 1ull << 48);
	ck_assert_uint_eq(rv[1].last, UINT64_MAX);
	ck_assert_str_eq(rv[1].kind, "aperture");
	n = 1;
	ck_assert_int_eq(k->ops->device_reserved(k, dev, rv, &n), -EMSGSIZE);
	ck_assert_uint_eq(n, 2);

	k->ops->platform(k, &p);
	ck_assert_uint_eq(p.iova_bits, 48);
	ck_assert_uint_eq(p.n_apertures, 1);
	ck_assert_uint_eq(p.apertures[0].last, (1ull << 48) - 1);
	ck_assert_uint_eq(p.n_reserved, 1);
	ck_assert_str_eq(p.reserved[0].kind, "msi");
	ck_assert_uint_eq(p.page_sizes, 0x1000 | 0x200000 | 0x40000000); /* cap_reg SLLPS */
	ck_assert_int_eq(p.iommu, PLATFORM_IOMMU_INTEL_VTD);

	ck_assert_int_eq(k->ops->hw_info(k, dev, &hi), 0);
	ck_assert_uint_eq(hi.type, IOMMU_HW_INFO_TYPE_INTEL_VTD);
	ck_assert_uint_eq(hi.data_len, 24);
	ck_assert_int_eq(k->ops->hw_info(k, 99, &hi), -ENOENT);

	/* the device is detached after the probe: a real attach works and is reported */
	ck_assert_int_eq(k->ops->ioas_alloc(k, &ioas), 0);
	{
		struct iova_range all = { 0x1000, 0xfedfffff };
		uint32_t pt = ioas;

		ck_assert_int_eq(k->ops->allow_iovas(k, ioas, &all, 1), 0);
		ck_assert_int_eq(k->ops->device_attach(k, dev, &pt), 0);
		ck_assert_uint_ne(pt, ioas); /* the auto HWPT's id */
		ck_assert_int_eq(k->ops->destroy(k, ioas), -EBUSY);
		ck_assert_int_eq(k->ops->device_detach(k, dev), 0);
		ck_assert_int_eq(k->ops->device_detach(k, dev), -EINVAL); /* backend.h */
	}
	ck_assert_int_eq(k->ops->device_unbind(k, dev), 0);
	ck_assert_int_eq(k->ops->device_unbind(k, dev), -ENOENT);
	ck_assert_int_eq(k->ops->destroy(k, ioas), 0);
	k->ops->platform(k, &p);
	ck_assert_uint_eq(p.iova_bits, 64);
	ck_assert_int_eq(open_fds(&u), 1);
	k->ops->close(k);
	ck_assert_int_eq(open_fds(&u), 0);
	ukern_fini(&u);
}
END_TEST

/* A device with more holes than the first IOVA_RANGES call has room for: EMSGSIZE, retry. */
START_TEST(bind_probe_grows_on_emsgsize)
{
	struct ukern u;
	struct backend *k;
	struct platform_range rv[16];
	uint32_t dev, n = 16;
	char text[1024] = "iova_bits 39\npage_sizes 4K\n";
	char err[128];

	memset(&u, 0, sizeof(u));
	for (int i = 0; i < 10; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "reserved 0x%x-0x%x r%d\n", (i + 1) << 24, ((i + 1) << 24) + 0xfff, i);
	ck_assert_int_eq(platform_parse(text, strlen(text), "ten", &u.plat, err, sizeof(err)),
			 0);
	ck_assert_int_eq(sim_backend_create(&u.plat, &u.sim), 0);
	u.sysfs = false; /* no sysfs file: pieces are named "aperture" and bind still works */
	k = kernel_on(&u);
	ck_assert_int_eq(k->ops->device_bind(k, "vfio3", &dev), 0);
	ck_assert_uint_eq(u.calls[IOMMU_IOAS_IOVA_RANGES & 0xff], 2);
	ck_assert_int_eq(k->ops->device_reserved(k, dev, rv, &n), 0);
	ck_assert_uint_eq(n, 11);
	ck_assert_uint_eq(rv[3].start, 4u << 24);
	ck_assert_uint_eq(rv[10].start, 1ull << 39);
	k->ops->close(k);
	ck_assert_int_eq(open_fds(&u), 0);
	ukern_fini(&u);
}
END_TEST

START_TEST(bind_error_paths)
{
	static const struct {
		unsigned long req;
		int err;
		unsigned skip;
	} cases[] = {
		{ VFIO_DEVICE_BIND_IOMMUFD, EPERM, 0 },	  /* e.g. no interrupt remapping */
		{ IOMMU_GET_HW_INFO, ENOENT, 0 },	  /* hw_info fails */
		{ IOMMU_IOAS_ALLOC, ENOMEM, 0 },	  /* scratch IOAS */
		{ VFIO_DEVICE_ATTACH_IOMMUFD_PT, EPERM, 0 }, /* probe attach */
		{ IOMMU_IOAS_IOVA_RANGES, EFAULT, 0 },	  /* probe read */
		{ VFIO_DEVICE_DETACH_IOMMUFD_PT, EBUSY, 0 }, /* probe detach */
		{ IOMMU_DESTROY, EBUSY, 0 },		  /* scratch destroy */
	};

	for (unsigned i = 0; i < NELEM(cases); i++) {
		struct ukern u;
		struct backend *k;
		uint32_t dev = 0xdead, ioas;

		ukern_init(&u, "arm-smmuv3");
		k = kernel_on(&u);
		fail_next(&u, cases[i].req, cases[i].err, cases[i].skip);
		ck_assert_int_eq(k->ops->device_bind(k, "vfio1", &dev), -cases[i].err);
		ck_assert_uint_eq(dev, 0xdead);
		ck_assert_msg(open_fds(&u) == 1, "case %u: the cdev was left open", i);
		/* no scratch IOAS left, even when its first DESTROY failed */
		ck_assert_msg(u.live_ioas == 0, "case %u: %d IOAS left", i, u.live_ioas);
		/* and the next bind works */
		ck_assert_int_eq(k->ops->device_bind(k, "vfio1", &dev), 0);
		ck_assert_int_eq(k->ops->ioas_alloc(k, &ioas), 0);
		k->ops->close(k);
		ck_assert_int_eq(open_fds(&u), 0);
		ukern_fini(&u);
	}
}
END_TEST

START_TEST(open_errors)
{
	struct ukern u;
	struct backend *k;
	struct kernel_sys sys = { u_open, u_close, u_ioctl, u_read_file, &u };
	uint32_t dev = 0;

	ukern_init(&u, "x86-vtd");
	ck_assert_int_eq(kernel_backend_create(&sys, "/dev/nope", &k), -ENOENT);
	ck_assert_int_eq(open_fds(&u), 0);
	k = kernel_on(&u);
	ck_assert_int_eq(k->ops->device_bind(k, "nic0", &dev), -ENOENT);
	ck_assert_int_eq(k->ops->device_bind(k, "/dev/vfio/devices/vfio7", &dev), 0);
	ck_assert_int_eq(k->ops->device_attach(k, dev + 1, &dev), -ENOENT);
	ck_assert_int_eq(k->ops->device_detach(k, dev + 1), -ENOENT);
	/* the kernel's errno passes through unchanged */
	{
		uint32_t pt = 12345;

		ck_assert_int_eq(k->ops->device_attach(k, dev, &pt), -ENOENT);
		ck_assert_uint_eq(pt, 12345);
	}
	ck_assert_ptr_null(k->ops->device_set_reserved);
	k->ops->close(k);
	ck_assert_int_eq(open_fds(&u), 0);
	ukern_fini(&u);
}
END_TEST

/* ---------------------------------------------------------------- the core on top */

START_TEST(core_on_kernel_backend)
{
	struct core_req rq = { .path = "/test" };
	struct core_ioas_ref ref = { "vm", 0 };
	struct ukern u;
	struct backend *k;
	struct platform p;
	struct core *c;
	struct sbuf sb = { 0 };

	ukern_init(&u, "x86-vtd");
	k = kernel_on(&u);
	k->ops->platform(k, &p);
	ck_assert_int_eq(core_create(k, &p, &c), 0);
	ck_assert_int_eq(core_obj_create(c, &rq, CORE_IOAS, "vm"), 0);
	ck_assert_int_eq(core_obj_create(c, &rq, CORE_DEVICE, "vfio0"), 0);
	ck_assert_uint_eq(core_platform(c)->iova_bits, 48);
	ck_assert_uint_eq(core_platform(c)->n_reserved, 1);
	ck_assert_int_eq(core_device_attach(c, &rq, "vfio0", 0, "vm"), 0);
	ck_assert_int_eq(core_ioas_show_iova_ranges(c, ref, &sb), 0);
	ck_assert_str_eq(sb.buf, "0x0000000000000000-0x00000000fedfffff\n"
				 "0x00000000fef00000-0x0000ffffffffffff\n");
	ck_assert_int_eq(core_device_detach(c, &rq, "vfio0", 0), 0);
	ck_assert_int_eq(core_obj_remove(c, &rq, CORE_DEVICE, "vfio0"), 0);
	ck_assert_uint_eq(core_platform(c)->iova_bits, 64);

	/* devices/D/path: a name with no cdev makes a device waiting for its path */
	sbuf_reset(&sb);
	ck_assert_int_eq(core_obj_create(c, &rq, CORE_DEVICE, "nic"), 0);
	ck_assert_int_eq(core_device_show_path(c, "nic", 0, &sb), 0);
	ck_assert_uint_eq(sb.len, 0);
	ck_assert_int_eq(core_device_show_hw_info(c, "nic", 0, &sb), 0);
	ck_assert_uint_eq(sb.len, 0);
	ck_assert_int_eq(core_device_attach(c, &rq, "nic", 0, "vm"), -ENODEV);
	ck_assert_int_eq(core_device_store_path(c, &rq, "nic", 0, "vfio2"), -EINVAL);
	ck_assert_int_eq(core_device_store_path(c, &rq, "nic", 0, "/dev/vfio/devices/nope"),
			 -ENOENT);
	ck_assert_int_eq(core_device_store_path(c, &rq, "nic", 0, "/dev/vfio/devices/vfio2"), 0);
	ck_assert_int_eq(core_device_show_path(c, "nic", 0, &sb), 0);
	ck_assert_str_eq(sb.buf, "/dev/vfio/devices/vfio2\n");
	ck_assert_uint_eq(core_platform(c)->iova_bits, 48);
	ck_assert_int_eq(core_device_store_path(c, &rq, "nic", 0, "/dev/vfio/devices/vfio2"), 0);
	ck_assert_int_eq(core_device_store_path(c, &rq, "nic", 0, "/dev/vfio/devices/vfio3"),
			 -EBUSY);
	ck_assert_int_eq(core_device_attach(c, &rq, "nic", 0, "vm"), 0);
	sbuf_reset(&sb);
	ck_assert_int_eq(core_save(c, &sb), 0);
	ck_assert_ptr_nonnull(strstr(sb.buf, "\"path\": \"/dev/vfio/devices/vfio2\""));
	ck_assert_int_eq(core_device_detach(c, &rq, "nic", 0), 0);
	ck_assert_int_eq(core_obj_remove(c, &rq, CORE_DEVICE, "nic"), 0);
	/* and an unbound one goes away without an unbind */
	ck_assert_int_eq(core_obj_create(c, &rq, CORE_DEVICE, "spare"), 0);
	ck_assert_int_eq(core_obj_remove(c, &rq, CORE_DEVICE, "spare"), 0);
	ck_assert_int_eq(core_obj_create(c, &rq, CORE_DEVICE, "spare"), 0); /* core_destroy */
	sbuf_free(&sb);
	core_destroy(c);
	k->ops->close(k);
	ck_assert_int_eq(open_fds(&u), 0);
	ukern_fini(&u);
}
END_TEST

/* restore on the kernel backend compares the platform once the devices are bound again */
static int restore_on(const char *platform, const char *file, char *why, size_t len)
{
	struct ukern u;
	struct backend *k;
	struct platform p;
	struct core *c;
	int r;

	ukern_init(&u, platform);
	k = kernel_on(&u);
	k->ops->platform(k, &p);
	ck_assert_int_eq(core_create(k, &p, &c), 0);
	r = core_restore(c, file, why, len);
	core_destroy(c);
	k->ops->close(k);
	ck_assert_int_eq(open_fds(&u), 0);
	ukern_fini(&u);
	return r;
}

START_TEST(restore_on_kernel_backend)
{
	struct core_req rq = { .path = "/test" };
	char file[] = "/tmp/test_kernel.XXXXXX", why[1024];
	struct ukern u;
	struct backend *k;
	struct platform p;
	struct core *c;
	struct sbuf sb;
	int fd;

	ukern_init(&u, "x86-vtd");
	k = kernel_on(&u);
	k->ops->platform(k, &p);
	ck_assert_int_eq(core_create(k, &p, &c), 0);
	ck_assert_int_eq(core_obj_create(c, &rq, CORE_IOAS, "vm"), 0);
	ck_assert_int_eq(core_obj_create(c, &rq, CORE_DEVICE, "vfio0"), 0);
	ck_assert_int_eq(core_device_attach(c, &rq, "vfio0", 0, "vm"), 0);
	sbuf_init(&sb);
	ck_assert_int_eq(core_save(c, &sb), 0);
	fd = mkstemp(file);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, sb.buf, sb.len), (ssize_t)sb.len);
	close(fd);
	sbuf_free(&sb);
	core_destroy(c);
	k->ops->close(k);
	ukern_fini(&u);

	/* the same machine: rebuilt, although no device was bound when the restore began */
	ck_assert_int_eq(restore_on("x86-vtd", file, why, sizeof(why)), 0);
	/* a machine whose device reports other reserved regions: refused, naming the device */
	ck_assert_msg(restore_on("amd-vi", file, why, sizeof(why)) == -EPERM, "%s", why);
	ck_assert_ptr_nonnull(strstr(why, "device vfio0 reserved"));
	unlink(file);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kernel");
	TCase *tc = tcase_create("seam");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, parity_random);
	tcase_add_test(tc, map_file_marshaling);
	tcase_add_test(tc, bind_probes_geometry);
	tcase_add_test(tc, bind_probe_grows_on_emsgsize);
	tcase_add_test(tc, bind_error_paths);
	tcase_add_test(tc, open_errors);
	tcase_add_test(tc, core_on_kernel_backend);
	tcase_add_test(tc, restore_on_kernel_backend);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
