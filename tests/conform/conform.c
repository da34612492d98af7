/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * conform: one sequence of iommufd operations, written out as a transcript, so the sim
 * backend and the real kernel can be compared line by line (tests/vm/run runs it with the
 * sim on the host and with the kernel backend in the guest, then diffs the two).
 *
 *   conform --backend sim --platform FILE|NAME --device NAME... [--seed S] [--ops N]
 *   conform --backend kernel --device /dev/vfio/devices/vfioN... [--seed S] [--ops N]
 *   conform --mock ...   devices are IOMMUFD_TEST mock devices instead (below)
 *
 * The sequence is a hand-written part (the edge cases of the kernel's iommufd ioctls,
 * ioasfs.5 ERRORS and MAP AND UNMAP: zero and overflowing lengths, flags, reserved ranges,
 * splitting unmaps, unmap all, allowed lists over holes, capacity-limited IOVA_RANGES, COPY rules, options, destroy of a
 * busy IOAS) followed by N seeded random operations over a few IOASes and the given
 * devices. Every line is "N op args -> result outputs"; a result is 0 or an errno name, and
 * the outputs are what the kernel wrote back (IOVAs, lengths, ranges, alignment, ids).
 *
 * With --mock the devices are the kernel's IOMMUFD_TEST mock devices: "mock attach" is
 * IOMMU_TEST_CMD MOCK_DOMAIN on an IOAS (a mock device bound and attached at once, aperture
 * 0x1000000-0x7fffffff, 2 KiB pages) and "mock detach" the IOMMU_DESTROY of it. On the sim
 * (with tests/conform/mock.profile) the same is a bind and an attach, plus one placeholder
 * object so that both sides use the same ids (the kernel's stdev, idev and hwpt), and the ids
 * that follow agree; the stdev is not visible until MOCK_DOMAIN returns, so naming its own id
 * as the IOAS is ENOENT there, and the placeholder does the same.
 *
 * All user addresses lie inside one 2 MiB-aligned buffer that is really mapped, so a map
 * with a device attached (which pins pages) behaves the same as without, and the automatic
 * allocator, which follows the buffer's alignment, sees the same alignment on both sides.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <sys/ioctl.h>

#include "backend/backend.h"
#include "backend/iommufd_uapi.h"
#include "backend/kernel.h"
#include "util/parse.h"
#include "util/platform.h"

#define BUF_SIZE (8ull << 20)
#define MAX_DEVS 4
#define MAX_IOAS 4
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define R	 BACKEND_MAP_READABLE
#define W	 BACKEND_MAP_WRITEABLE
#define RW	 (R | W)
#define FIX	 BACKEND_MAP_FIXED_IOVA

static struct backend *be;
static char *buf; /* BUF_SIZE bytes, 2 MiB aligned */
static uint32_t dev[MAX_DEVS];
static unsigned ndev;
static bool mock, kernel;

/* IOMMU_TEST_CMD (drivers/iommu/iommufd/iommufd_test.h): only MOCK_DOMAIN's fields. */
#define IOMMU_TEST_CMD		  _IO(IOMMUFD_TYPE, 0x80 + 32)
#define IOMMU_TEST_OP_MOCK_DOMAIN 2
struct mock_domain_cmd {
	uint32_t size, op, id, reserved;
	uint32_t out_stdev_id, out_hwpt_id, out_idev_id;
	uint8_t zero[244]; /* the rest of the kernel's union and `last`: zero is accepted */
};

/*
 * A mock device: the kernel's stdev id, or the sim's placeholder (a second simulated device,
 * which is no IOAS either, so a pt_id naming it is EINVAL on both sides) and device.
 */
static struct {
	bool on;
	uint32_t stdev, placeholder, dev;
} mocks[2];
static unsigned long opno;
static uint64_t rs;

static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

static const char *res(int r)
{
	static char s[32];

	if (r == 0)
		return "0";
	snprintf(s, sizeof(s), "%s", errno_name(-r));
	return s;
}

__attribute__((format(printf, 1, 2))) static void line(const char *fmt, ...)
{
	va_list ap;

	printf("%lu ", ++opno);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* ---- one wrapper per op: run it and print the line ---- */

static int op_alloc(uint32_t *id)
{
	int r = be->ops->ioas_alloc(be, id);

	line("alloc -> %s id %u", res(r), r ? 0 : *id);
	return r;
}

static int op_destroy(uint32_t id)
{
	int r = be->ops->destroy(be, id);

	line("destroy %u -> %s", id, res(r));
	return r;
}

static int op_map(uint32_t id, uint32_t flags, uint64_t off, uint64_t len, uint64_t iova)
{
	uint64_t io = iova;
	int r = be->ops->map(be, id, flags, buf + off, len, &io);

	line("map %u flags %u buf+0x%" PRIx64 " len 0x%" PRIx64 " iova 0x%" PRIx64
	     " -> %s iova 0x%" PRIx64,
	     id, flags, off, len, iova, res(r), r ? 0 : io);
	return r;
}

static int op_unmap(uint32_t id, uint64_t iova, uint64_t len)
{
	uint64_t l = len;
	int r = be->ops->unmap(be, id, iova, &l);

	line("unmap %u 0x%" PRIx64 " len 0x%" PRIx64 " -> %s unmapped 0x%" PRIx64, id, iova, len,
	     res(r), r ? 0 : l);
	return r;
}

static int op_copy(uint32_t flags, uint32_t dst, uint32_t src, uint64_t len, uint64_t dst_iova,
		   uint64_t src_iova)
{
	uint64_t d = dst_iova;
	int r = be->ops->copy(be, flags, dst, src, len, &d, src_iova);

	line("copy flags %u %u<-%u len 0x%" PRIx64 " dst 0x%" PRIx64 " src 0x%" PRIx64
	     " -> %s dst 0x%" PRIx64,
	     flags, dst, src, len, dst_iova, src_iova, res(r), r ? 0 : d);
	return r;
}

static int op_ranges(uint32_t id, uint32_t cap)
{
	struct iova_range rg[16] = { 0 };
	uint64_t align = 0;
	uint32_t n = cap;
	int r = be->ops->iova_ranges(be, id, rg, &n, &align);
	char out[1024] = "";
	size_t at = 0;

	if (r == 0 || r == -EMSGSIZE) {
		at += snprintf(out, sizeof(out), " n %u align 0x%" PRIx64, n, align);
		for (uint32_t i = 0; i < cap && i < n && i < NELEM(rg); i++)
			at += snprintf(out + at, sizeof(out) - at, " 0x%" PRIx64 "-0x%" PRIx64,
				       rg[i].start, rg[i].last);
	}
	line("iova_ranges %u cap %u -> %s%s", id, cap, res(r), out);
	return r;
}

static int op_allow(uint32_t id, const struct iova_range *rg, uint32_t n)
{
	int r = be->ops->allow_iovas(be, id, rg, n);
	char in[256] = "";
	size_t at = 0;

	for (uint32_t i = 0; i < n; i++)
		at += snprintf(in + at, sizeof(in) - at, " 0x%" PRIx64 "-0x%" PRIx64, rg[i].start,
			       rg[i].last);
	line("allow %u n %u%s -> %s", id, n, in, res(r));
	return r;
}

static int op_option(uint32_t opt, uint16_t op, uint32_t obj, uint64_t val)
{
	uint64_t v = val;
	int r = be->ops->option(be, opt, op, obj, &v);

	line("option %u op %u obj %u val %" PRIu64 " -> %s val %" PRIu64, opt, op, obj, val, res(r),
	     r ? 0 : v);
	return r;
}

static int op_attach(unsigned d, uint32_t pt)
{
	uint32_t p = pt;
	int r = be->ops->device_attach(be, dev[d], &p);

	line("attach dev%u %u -> %s hwpt %u", d, pt, res(r), r ? 0 : p);
	return r;
}

static int op_detach(unsigned d)
{
	int r = be->ops->device_detach(be, dev[d]);

	line("detach dev%u -> %s", d, res(r));
	return r;
}

static int op_mock_attach(unsigned m, uint32_t ioas)
{
	uint32_t hwpt = 0;
	int r;

	if (kernel) {
		struct mock_domain_cmd cmd = { .size = sizeof(cmd),
					       .op = IOMMU_TEST_OP_MOCK_DOMAIN,
					       .id = ioas };

		r = ioctl(kernel_backend_iommufd(be), IOMMU_TEST_CMD, &cmd) < 0 ? -errno : 0;
		mocks[m].stdev = cmd.out_stdev_id;
		hwpt = cmd.out_hwpt_id;
	} else {
		uint32_t pt = ioas;

		r = be->ops->device_bind(be, "placeholder", &mocks[m].placeholder);
		/* the kernel's stdev is not visible to lookups before MOCK_DOMAIN finishes */
		if (!r && ioas == mocks[m].placeholder) {
			be->ops->device_unbind(be, mocks[m].placeholder);
			r = -ENOENT;
		} else if (!r) {
			r = be->ops->device_bind(be, "mock", &mocks[m].dev);
			if (r)
				be->ops->device_unbind(be, mocks[m].placeholder);
		}
		if (!r) {
			r = be->ops->device_attach(be, mocks[m].dev, &pt);
			if (r) {
				be->ops->device_unbind(be, mocks[m].dev);
				be->ops->device_unbind(be, mocks[m].placeholder);
			}
			hwpt = pt;
		}
		mocks[m].stdev = mocks[m].placeholder;
	}
	mocks[m].on = r == 0;
	line("mock attach %u -> %s hwpt %u", ioas, res(r), r ? 0 : hwpt);
	return r;
}

static int op_mock_detach(unsigned m)
{
	int r;

	if (!mocks[m].on)
		return 0;
	if (kernel) {
		r = be->ops->destroy(be, mocks[m].stdev);
	} else {
		r = be->ops->device_detach(be, mocks[m].dev);
		if (!r)
			r = be->ops->device_unbind(be, mocks[m].dev);
		if (!r)
			r = be->ops->device_unbind(be, mocks[m].placeholder);
	}
	mocks[m].on = r != 0;
	line("mock detach -> %s", res(r));
	return r;
}

/* ---- the hand-written part ---- */

static void edge_cases(void)
{
	const uint64_t P = 4096;
	struct iova_range over_msi = { 0xfe000000, 0xfeffffff }, one = { 0x5000, 0x5000 };
	struct iova_range two[2] = { { 0x100000, 0x1fffff }, { 0x180000, 0x2fffff } };
	struct iova_range ok[2] = { { 0x200000, 0x3fffffff }, { 0x100000000, 0x1ffffffff } };
	uint32_t a, b;

	op_destroy(0);
	op_alloc(&a);
	op_alloc(&b);
	op_ranges(a, 0);
	op_ranges(a, 4);
	/* flags, lengths, overflow, first fit never at 0 */
	op_map(a, 0, 0, P, 0);
	op_map(a, FIX, 0, P, 0x1000);
	op_map(a, RW | 8, 0, P, 0);
	op_map(a, RW, 0, 0, 0);
	op_map(a, RW, 0, UINT64_MAX, 0);
	op_map(a, RW | FIX, 0, P, UINT64_MAX);
	op_map(a, RW, 0, P, 0);
	op_map(a, RW, 0x1000, P, 0);
	op_map(a, RW, 0x200000, 0x200000, 0);
	op_map(a, RW, 0x800, 0x800, 0);
	op_map(a, RW | FIX, 0, P, 0);
	op_map(a, RW | FIX, 0, 2 * P, 0x1000);
	op_map(a, R | FIX, 0x3000, 3, 0x40000003);
	op_ranges(a, 4);
	/* unmap: straddling first and last areas, nothing there, all */
	op_map(a, RW | FIX, 0, 4 * P, 0x100000);
	op_map(a, RW | FIX, 0, 4 * P, 0x104000);
	op_unmap(a, 0x101000, 0x1000);
	op_unmap(a, 0x100000, 0x5000);
	op_unmap(a, 0x100000, 0x8000);
	op_unmap(a, 0x100000, 0x8000);
	op_unmap(a, 0x100000, 0);
	op_unmap(a, UINT64_MAX, P);
	op_unmap(a, 0x100000, UINT64_MAX);
	op_unmap(a, 0, UINT64_MAX);
	op_unmap(a, 0, UINT64_MAX);
	/* allowed lists */
	op_allow(a, &one, 1);
	op_allow(a, two, 2);
	op_allow(a, ok, 2);
	op_map(a, RW, 0, 0x10000, 0);
	op_map(a, RW, 0, 0x400000, 0);
	op_map(a, RW | FIX, 0, P, 0x1000); /* fixed maps ignore the allowed list */
	op_ranges(a, 4);
	/* copy: sub-ranges, spanning, holes, read-only sources */
	op_map(b, R | FIX, 0, 0x2000, 0x10000);
	op_map(b, R | FIX, 0x2000, 0x2000, 0x12000);
	op_copy(RW, a, b, 0x1000, 0, 0x10000);
	op_copy(R, a, b, 0x3000, 0, 0x10800);
	op_copy(R | FIX, a, b, 0x4000, 0x500000, 0x10000);
	op_copy(R, a, b, 0x5000, 0, 0x10000);
	op_copy(R, a, b, 0, 0, 0x10000);
	op_copy(R, b, b, 0x1000, 0, 0x10000);
	op_unmap(a, 0x500000, 0x2000);
	op_unmap(a, 0x500000, 0x4000);
	/* options */
	op_option(BACKEND_OPTION_HUGE_PAGES, BACKEND_OPTION_OP_GET, a, 0);
	op_option(BACKEND_OPTION_HUGE_PAGES, BACKEND_OPTION_OP_GET, 0, 0);
	op_option(BACKEND_OPTION_HUGE_PAGES, BACKEND_OPTION_OP_SET, b, 2);
	op_option(BACKEND_OPTION_HUGE_PAGES, BACKEND_OPTION_OP_SET, b, 0);
	op_option(BACKEND_OPTION_HUGE_PAGES, BACKEND_OPTION_OP_GET, b, 0);
	op_option(BACKEND_OPTION_HUGE_PAGES, BACKEND_OPTION_OP_SET, b, 1);
	op_option(BACKEND_OPTION_HUGE_PAGES, 7, b, 1);
	op_option(9, BACKEND_OPTION_OP_GET, 0, 0);
	op_option(BACKEND_OPTION_RLIMIT_MODE, BACKEND_OPTION_OP_GET, 0, 0);
	op_option(BACKEND_OPTION_RLIMIT_MODE, BACKEND_OPTION_OP_SET, a, 0);
	op_option(BACKEND_OPTION_RLIMIT_MODE, BACKEND_OPTION_OP_SET, 0, 2);
	op_unmap(a, 0, UINT64_MAX);
	op_unmap(b, 0, UINT64_MAX);
	op_allow(a, NULL, 0);
	/* devices: attach, reserved ranges of the real device, maps over them, busy IOAS */
	for (unsigned d = 0; d < ndev; d++) {
		op_allow(a, &over_msi, 1);
		op_attach(d, a);
		op_allow(a, NULL, 0);
		op_map(a, RW | FIX, 0, 0x10000, 0x200000);
		op_attach(d, a);
		op_ranges(a, 4);
		op_ranges(a, 1);
		op_map(a, RW | FIX, 0, P, 0xfee00000);
		op_map(a, RW | FIX, 0, 2 * P, 0xfedff000);
		op_map(a, RW | FIX, 0, P, 1ull << 47);
		op_map(a, RW | FIX, 0x800, 0x800, 0x300000);
		op_map(a, RW, 0, 0x1800, 0);
		op_allow(a, &over_msi, 1);
		op_option(BACKEND_OPTION_HUGE_PAGES, BACKEND_OPTION_OP_SET, a, 0);
		op_option(BACKEND_OPTION_HUGE_PAGES, BACKEND_OPTION_OP_SET, a, 1);
		op_destroy(a);
		op_attach(d, b);
		op_ranges(b, 4);
		op_detach(d);
		op_ranges(b, 4);
		op_unmap(a, 0, UINT64_MAX);
	}
	if (mock) {
		/* the mock domain: aperture 0x1000000-0x7fffffff, 2 KiB pages */
		op_map(a, RW | FIX, 0, P, 0x1000);
		op_mock_attach(0, a);
		op_unmap(a, 0, UINT64_MAX);
		op_map(a, RW | FIX, 0x800, 0x800, 0x1000800);
		op_mock_attach(0, a);
		op_ranges(a, 4);
		op_map(a, RW | FIX, 0, 0x400, 0x2000000);
		op_map(a, RW | FIX, 0, 0x800, 0x2000400);
		op_map(a, RW | FIX, 0, P, 0x800000);
		op_map(a, RW | FIX, 0, P, 0x7ffff000);
		op_map(a, RW | FIX, 0, 2 * P, 0x7ffff000);
		op_map(a, RW, 0x800, 0x1800, 0);
		op_map(a, RW, 0x400, 0x800, 0);
		op_option(BACKEND_OPTION_HUGE_PAGES, BACKEND_OPTION_OP_SET, a, 0);
		op_destroy(a);
		op_mock_attach(1, b);
		op_mock_detach(0);
		op_ranges(a, 4);
		op_mock_detach(1);
		op_unmap(a, 0, UINT64_MAX);
	}
	op_destroy(a);
	op_destroy(b);
	op_destroy(a);
}

/* ---- the random part ---- */

static void random_op(void)
{
	static const uint64_t lens[] = { 0,	 1,	  0x800,    0x1000,   0x2000,
					 0x3000, 0x10000, 0x200000, 0x201000, UINT64_MAX };
	static const uint64_t iovas[] = { 0,
					  0x1000,
					  0x2000,
					  0x3000,
					  0x10000,
					  0x200000,
					  0x40000000,
					  0xfee00000,
					  0xfedff000,
					  1ull << 38,
					  (1ull << 39) - 0x1000,
					  1ull << 47,
					  UINT64_MAX,
					  0x1001 };
	static const uint64_t offs[] = { 0, 0x1000, 0x200000, 0x800, 0x3000, 0x400000 };
	static const uint32_t flagset[] = { R, W, RW, R | FIX, RW | FIX, 0, FIX, 8 };
	uint32_t id = 1 + rnd() % (MAX_IOAS + 2), id2 = 1 + rnd() % (MAX_IOAS + 2);
	uint64_t len = lens[rnd() % NELEM(lens)];
	uint64_t iova = iovas[rnd() % NELEM(iovas)];

	switch (rnd() % 16) {
	case 0: {
		uint32_t n;

		op_alloc(&n);
		break;
	}
	case 1:
		/* destroying a mock's stdev is its detach: that is op_mock_detach's business */
		if (rnd() % 4 == 0 && !(mock && ((mocks[0].on && mocks[0].stdev == id) ||
						 (mocks[1].on && mocks[1].stdev == id))))
			op_destroy(id);
		break;
	case 2:
	case 3:
	case 4:
	case 5: {
		uint64_t off = offs[rnd() % NELEM(offs)];

		/* a successful map never reaches past the real buffer */
		if (len != UINT64_MAX && off + len > BUF_SIZE)
			len = 0x1000;
		op_map(id, flagset[rnd() % NELEM(flagset)], off, len, iova);
		break;
	}
	case 6:
	case 7:
		if (rnd() % 8 == 0)
			op_unmap(id, 0, UINT64_MAX);
		else
			op_unmap(id, iova, len);
		break;
	case 8:
		op_copy(flagset[rnd() % NELEM(flagset)], id, id2, len, iova,
			iovas[rnd() % NELEM(iovas)]);
		break;
	case 9:
		op_ranges(id, rnd() % 5);
		break;
	case 10: {
		struct iova_range rg[2] = { { 0x1000, 0x3fffffff }, { 0x80000000, 0xffffffff } };

		if (rnd() % 3 == 0)
			rg[1] = (struct iova_range){ 0xfe000000, 0xfeffffff };
		op_allow(id, rg, rnd() % 3);
		break;
	}
	case 11:
		op_option(BACKEND_OPTION_HUGE_PAGES, rnd() % 2, rnd() % 4 ? id : 0, rnd() % 3);
		break;
	case 12:
	case 13:
		if (mock) {
			unsigned m = rnd() % 2;

			if (!mocks[m].on)
				op_mock_attach(m, id);
		} else if (ndev) {
			op_attach(rnd() % ndev, id);
		}
		break;
	case 14:
	case 15:
		if (mock)
			op_mock_detach(rnd() % 2);
		else if (ndev)
			op_detach(rnd() % ndev);
		break;
	}
}

static __attribute__((noreturn)) void usage(void)
{
	fprintf(stderr, "usage: conform --backend sim|kernel [--platform P] [--device D...] "
			"[--mock] [--seed S] [--ops N]\n");
	exit(2);
}

int main(int argc, char *argv[])
{
	static const struct option lo[] = {
		{ "backend", required_argument, NULL, 'b' },
		{ "platform", required_argument, NULL, 'p' },
		{ "device", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, 's' },
		{ "ops", required_argument, NULL, 'n' },
		{ "mock", no_argument, NULL, 'm' },
		{ 0 },
	};
	const char *backend = NULL, *platform = "x86-vtd", *devs[MAX_DEVS];
	unsigned long nops = 2000;
	struct platform plat;
	char err[256];
	int c, r;

	rs = 0x10a5f5eed;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'b':
			backend = optarg;
			break;
		case 'p':
			platform = optarg;
			break;
		case 'd':
			if (ndev == MAX_DEVS)
				usage();
			devs[ndev++] = optarg;
			break;
		case 's':
			rs = strtoull(optarg, NULL, 0) | 1;
			break;
		case 'n':
			nops = strtoul(optarg, NULL, 0);
			break;
		case 'm':
			mock = true;
			break;
		default:
			usage();
		}
	}
	if (!backend)
		usage();
	if (!strcmp(backend, "kernel")) {
		kernel = true;
		r = kernel_backend_create(NULL, NULL, &be);
	} else if (!strcmp(backend, "sim")) {
		r = platform_load(platform, &plat, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "conform: platform: %s\n", err);
			return 1;
		}
		r = sim_backend_create(&plat, &be);
	} else {
		usage();
	}
	if (r < 0) {
		fprintf(stderr, "conform: %s backend: %s\n", backend, strerror(-r));
		return 1;
	}
	buf = mmap(NULL, BUF_SIZE + (2 << 20), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED)
		return 1;
	buf = (char *)(((uintptr_t)buf + (2 << 20) - 1) & ~(uintptr_t)((2 << 20) - 1));
	for (unsigned i = 0; i < ndev; i++) {
		r = be->ops->device_bind(be, devs[i], &dev[i]);
		/* the device name differs between the sides; the id does not */
		line("bind dev%u -> %s id %u", i, res(r), r ? 0 : dev[i]);
		if (r < 0)
			return 1;
	}
	edge_cases();
	for (unsigned long i = 0; i < nops; i++)
		random_op();
	be->ops->close(be);
	fprintf(stderr, "conform: %s: %lu operations\n", backend, opno);
	return 0;
}
