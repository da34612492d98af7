/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for platform profiles. The built-in profiles are the machines every other test
 * runs on, so their geometry is asserted number by number against the values the kernel
 * reports on real hardware. The parser's promises are checked as a user meets them: each
 * malformed profile is refused with -EINVAL and an error naming the right line, and
 * `cat platform/profile` output loads back to exactly the same geometry.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/parse.h"
#include "util/platform.h"

#define K (UINT64_C(1) << 10)
#define M (UINT64_C(1) << 20)
#define G (UINT64_C(1) << 30)

static struct platform parse_ok(const char *text)
{
	struct platform p;
	char err[256] = "";
	int r;

	memset(&p, 0, sizeof(p));
	r = platform_parse(text, strlen(text), "test", &p, err, sizeof(err));
	ck_assert_msg(r == 0, "parse failed (%d): %s\n--\n%s", r, err, text);
	return p;
}

/* Refused with -EINVAL, err starts with "line N: " and mentions what, *ret untouched. */
static void parse_bad(const char *text, size_t len, unsigned int line, const char *what)
{
	struct platform p;
	char err[256] = "stale", prefix[32];
	int r;

	memset(&p, 0x5a, sizeof(p));
	r = platform_parse(text, len, "test", &p, err, sizeof(err));
	ck_assert_msg(r == -EINVAL, "accepted (%d):\n%s", r, text);
	snprintf(prefix, sizeof(prefix), "line %u: ", line);
	ck_assert_msg(!strncmp(err, prefix, strlen(prefix)), "want \"%s...\", got \"%s\"", prefix,
		      err);
	ck_assert_msg(strstr(err, what), "\"%s\" does not mention \"%s\"", err, what);
	ck_assert_uint_eq(p.iova_bits, 0x5a5a5a5a);
	ck_assert_uint_eq(p.page_sizes, UINT64_C(0x5a5a5a5a5a5a5a5a));
}

#define BAD(text, line, what) parse_bad(text, strlen(text), line, what)

static void assert_range(const struct platform_range *r, uint64_t start, uint64_t last,
			 const char *kind)
{
	ck_assert_uint_eq(r->start, start);
	ck_assert_uint_eq(r->last, last);
	ck_assert_str_eq(r->kind, kind);
}

static void assert_same(const struct platform *a, const struct platform *b)
{
	unsigned int i;

	ck_assert_uint_eq(a->iova_bits, b->iova_bits);
	ck_assert_uint_eq(a->n_apertures, b->n_apertures);
	for (i = 0; i < a->n_apertures; i++)
		assert_range(&a->apertures[i], b->apertures[i].start, b->apertures[i].last,
			     b->apertures[i].kind);
	ck_assert_uint_eq(a->n_reserved, b->n_reserved);
	for (i = 0; i < a->n_reserved; i++)
		assert_range(&a->reserved[i], b->reserved[i].start, b->reserved[i].last,
			     b->reserved[i].kind);
	ck_assert_uint_eq(a->page_sizes, b->page_sizes);
	ck_assert_uint_eq(a->max_windows, b->max_windows);
	ck_assert_int_eq(a->iommu, b->iommu);
}

/* format -> parse gives the same geometry, and the text is exactly as long as promised. */
static void round_trip(const struct platform *p)
{
	char text[8192], err[256] = "";
	struct platform q;
	size_t n;
	int r;

	n = platform_format(p, text, sizeof(text));
	ck_assert_uint_lt(n, sizeof(text));
	ck_assert_uint_eq(strlen(text), n);
	ck_assert_uint_eq(platform_format(p, NULL, 0), n);
	r = platform_parse(text, n, "again", &q, err, sizeof(err));
	ck_assert_msg(r == 0, "%s\n--\n%s", err, text);
	assert_same(&q, p);
	ck_assert_str_eq(q.name, "again");
	/* The parser zeroes what it does not fill, so the structs are equal byte for byte. */
	memcpy(q.name, p->name, sizeof(q.name));
	ck_assert(!memcmp(&q, p, sizeof(q)));
}

START_TEST(builtin_names)
{
	ck_assert_str_eq(platform_builtin_names[0], "x86-vtd");
	ck_assert_str_eq(platform_builtin_names[1], "amd-vi");
	ck_assert_str_eq(platform_builtin_names[2], "arm-smmuv3");
	ck_assert_str_eq(platform_builtin_names[3], "ppc64-papr");
	ck_assert_ptr_null(platform_builtin_names[4]);
}
END_TEST

START_TEST(builtin_x86_vtd)
{
	struct platform p;

	ck_assert_int_eq(platform_builtin("x86-vtd", &p), 0);
	ck_assert_str_eq(p.name, "x86-vtd");
	ck_assert_uint_eq(p.iova_bits, 48);
	ck_assert_uint_eq(p.n_apertures, 1);
	assert_range(&p.apertures[0], 0, (UINT64_C(1) << 48) - 1, "");
	ck_assert_uint_eq(p.n_reserved, 1);
	assert_range(&p.reserved[0], 0xfee00000, 0xfeefffff, "msi");
	ck_assert_uint_eq(p.page_sizes, 4 * K | 2 * M | 1 * G);
	ck_assert_uint_eq(p.max_windows, 0);
	ck_assert_int_eq(p.iommu, PLATFORM_IOMMU_INTEL_VTD);
	ck_assert_uint_eq(platform_min_page(&p), 4096);
}
END_TEST

START_TEST(builtin_amd_vi)
{
	struct platform p;

	ck_assert_int_eq(platform_builtin("amd-vi", &p), 0);
	ck_assert_str_eq(p.name, "amd-vi");
	ck_assert_uint_eq(p.iova_bits, 48);
	ck_assert_uint_eq(p.n_apertures, 1);
	assert_range(&p.apertures[0], 0, (UINT64_C(1) << 48) - 1, "");
	ck_assert_uint_eq(p.n_reserved, 2);
	assert_range(&p.reserved[0], 0xfee00000, 0xfeefffff, "msi");
	assert_range(&p.reserved[1], UINT64_C(0xfd00000000), UINT64_C(0xffffffffff), "ht");
	ck_assert_uint_eq(p.page_sizes, 4 * K | 2 * M | 1 * G);
	ck_assert_uint_eq(p.max_windows, 0);
	ck_assert_int_eq(p.iommu, PLATFORM_IOMMU_AMD_VI);
}
END_TEST

START_TEST(builtin_arm_smmuv3)
{
	struct platform p;

	ck_assert_int_eq(platform_builtin("arm-smmuv3", &p), 0);
	ck_assert_str_eq(p.name, "arm-smmuv3");
	ck_assert_uint_eq(p.iova_bits, 48);
	ck_assert_uint_eq(p.n_apertures, 1);
	assert_range(&p.apertures[0], 0, (UINT64_C(1) << 48) - 1, "");
	ck_assert_uint_eq(p.n_reserved, 1);
	assert_range(&p.reserved[0], 0x08000000, 0x080fffff, "sw_msi");
	ck_assert_uint_eq(p.page_sizes, 4 * K | 2 * M | 1 * G);
	ck_assert_uint_eq(p.max_windows, 0);
	ck_assert_int_eq(p.iommu, PLATFORM_IOMMU_ARM_SMMUV3);
}
END_TEST

START_TEST(builtin_ppc64_papr)
{
	struct platform p;

	ck_assert_int_eq(platform_builtin("ppc64-papr", &p), 0);
	ck_assert_str_eq(p.name, "ppc64-papr");
	ck_assert_uint_eq(p.iova_bits, 60);
	ck_assert_uint_eq(p.n_apertures, 2);
	assert_range(&p.apertures[0], 0, 0x7fffffff, "");
	assert_range(&p.apertures[1], UINT64_C(1) << 59,
		     (UINT64_C(1) << 59) + (UINT64_C(1) << 48) - 1, "");
	ck_assert_uint_eq(p.n_reserved, 0);
	ck_assert_uint_eq(p.page_sizes, 4 * K | 64 * K | 2 * M | 1 * G);
	ck_assert_uint_eq(p.max_windows, 2);
	ck_assert_int_eq(p.iommu, PLATFORM_IOMMU_NONE);
}
END_TEST

START_TEST(builtin_unknown)
{
	struct platform p;

	memset(&p, 0x5a, sizeof(p));
	ck_assert_int_eq(platform_builtin("x86", &p), -ENOENT);
	ck_assert_int_eq(platform_builtin("", &p), -ENOENT);
	ck_assert_int_eq(platform_builtin("X86-VTD", &p), -ENOENT);
	ck_assert_int_eq(platform_builtin(NULL, &p), -ENOENT);
	ck_assert_uint_eq(p.iova_bits, 0x5a5a5a5a);
}
END_TEST

START_TEST(builtin_round_trip)
{
	struct platform p;
	unsigned int i;

	for (i = 0; platform_builtin_names[i]; i++) {
		ck_assert_int_eq(platform_builtin(platform_builtin_names[i], &p), 0);
		round_trip(&p);
	}
}
END_TEST

START_TEST(format_canonical)
{
	struct platform p;
	char buf[1024];

	ck_assert_int_eq(platform_builtin("x86-vtd", &p), 0);
	platform_format(&p, buf, sizeof(buf));
	ck_assert_str_eq(buf, "# ioasfs platform profile: x86-vtd\n"
			      "iova_bits 48\n"
			      "reserved 0x00000000fee00000-0x00000000feefffff msi\n"
			      "page_sizes 4K 2M 1G\n"
			      "max_windows 0\n"
			      "iommu intel_vtd\n");

	ck_assert_int_eq(platform_builtin("ppc64-papr", &p), 0);
	platform_format(&p, buf, sizeof(buf));
	ck_assert_str_eq(buf, "# ioasfs platform profile: ppc64-papr\n"
			      "iova_bits 60\n"
			      "aperture 0x0000000000000000-0x000000007fffffff\n"
			      "aperture 0x0800000000000000-0x0800ffffffffffff\n"
			      "page_sizes 4K 64K 2M 1G\n"
			      "max_windows 2\n"
			      "iommu none\n");

	/* A single aperture that is not [0, 2^bits - 1] is written out. */
	p = parse_ok("iova_bits 40\naperture 0x1000-0xffffffffff\n");
	platform_format(&p, buf, sizeof(buf));
	ck_assert_str_eq(buf, "# ioasfs platform profile: test\n"
			      "iova_bits 40\n"
			      "aperture 0x0000000000001000-0x000000ffffffffff\n"
			      "page_sizes 4K\n"
			      "max_windows 0\n"
			      "iommu none\n");
}
END_TEST

START_TEST(format_truncates_like_snprintf)
{
	struct platform p;
	char full[1024], small[20];
	size_t n;

	ck_assert_int_eq(platform_builtin("amd-vi", &p), 0);
	n = platform_format(&p, full, sizeof(full));
	ck_assert_uint_eq(n, strlen(full));
	memset(small, 'x', sizeof(small));
	ck_assert_uint_eq(platform_format(&p, small, sizeof(small)), n);
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	ck_assert(!strncmp(small, full, sizeof(small) - 1));
	small[0] = 'x';
	ck_assert_uint_eq(platform_format(&p, small, 1), n);
	ck_assert_str_eq(small, "");
}
END_TEST

START_TEST(format_sanitizes_name)
{
	struct platform p = parse_ok("iova_bits 48\n");
	char buf[1024];

	strcpy(p.name, "/tmp/a\nreserved 0x0-0x0 x");
	platform_format(&p, buf, sizeof(buf));
	ck_assert(!strncmp(buf, "# ioasfs platform profile: /tmp/a?reserved 0x0-0x0 x\n", 53));
	round_trip(&p);
}
END_TEST

START_TEST(page_size_text)
{
	char buf[128];

	ck_assert_uint_eq(format_page_sizes(4 * K | 64 * K | 2 * M | 1 * G, buf, sizeof(buf)), 12);
	ck_assert_str_eq(buf, "4K 64K 2M 1G");
	format_page_sizes(4 * K | 2 * M | 1 * G, buf, sizeof(buf));
	ck_assert_str_eq(buf, "4K 2M 1G");
	format_page_sizes(0x200 | 0x1, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0x1 0x200");
	format_page_sizes(UINT64_C(1) << 40 | UINT64_C(1) << 50 | UINT64_C(1) << 63, buf,
			  sizeof(buf));
	ck_assert_str_eq(buf, "1T 1024T 8388608T");
	format_page_sizes(1 * K | 512 * M, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1K 512M");
	ck_assert_uint_eq(format_page_sizes(0, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_uint_eq(format_page_sizes(4 * K | 2 * M, buf, 3), 5);
	ck_assert_str_eq(buf, "4K");
	ck_assert_uint_eq(format_page_sizes(4 * K | 2 * M, NULL, 0), 5);
}
END_TEST

START_TEST(page_size_round_trip)
{
	struct platform p;

	p = parse_ok("iova_bits 64\npage_sizes 0x1 0x200 1K 4K 1024T 0x8000000000000000\n");
	ck_assert_uint_eq(p.page_sizes,
			  1 | 0x200 | K | 4 * K | UINT64_C(1) << 50 | UINT64_C(1) << 63);
	ck_assert_uint_eq(platform_min_page(&p), 1);
	round_trip(&p);
}
END_TEST

START_TEST(iommu_names)
{
	ck_assert_str_eq(platform_iommu_name(PLATFORM_IOMMU_NONE), "none");
	ck_assert_str_eq(platform_iommu_name(PLATFORM_IOMMU_INTEL_VTD), "intel_vtd");
	ck_assert_str_eq(platform_iommu_name(PLATFORM_IOMMU_ARM_SMMUV3), "arm_smmuv3");
	ck_assert_str_eq(platform_iommu_name(PLATFORM_IOMMU_AMD_VI), "amd_vi");
	ck_assert_int_eq(parse_ok("iova_bits 48\niommu amd_vi\n").iommu, PLATFORM_IOMMU_AMD_VI);
	ck_assert_int_eq(parse_ok("iova_bits 48\niommu arm_smmuv3\n").iommu,
			 PLATFORM_IOMMU_ARM_SMMUV3);
	ck_assert_int_eq(parse_ok("iova_bits 48\niommu intel_vtd\n").iommu,
			 PLATFORM_IOMMU_INTEL_VTD);
	ck_assert_int_eq(parse_ok("iova_bits 48\niommu none\n").iommu, PLATFORM_IOMMU_NONE);
}
END_TEST

START_TEST(seed_profile)
{
	struct platform p = parse_ok("iova_bits 60\nreserved 0x80000000-0xffffffff io\n");

	ck_assert_str_eq(p.name, "test");
	ck_assert_uint_eq(p.iova_bits, 60);
	ck_assert_uint_eq(p.n_apertures, 1);
	assert_range(&p.apertures[0], 0, (UINT64_C(1) << 60) - 1, "");
	ck_assert_uint_eq(p.n_reserved, 1);
	assert_range(&p.reserved[0], 0x80000000, 0xffffffff, "io");
	ck_assert_uint_eq(p.page_sizes, 4096);
	ck_assert_uint_eq(p.max_windows, 0);
	ck_assert_int_eq(p.iommu, PLATFORM_IOMMU_NONE);
	round_trip(&p);
}
END_TEST

START_TEST(defaults_and_syntax)
{
	struct platform p;

	p = parse_ok("iova_bits 39");
	ck_assert_uint_eq(p.iova_bits, 39);
	ck_assert_uint_eq(p.n_apertures, 1);
	assert_range(&p.apertures[0], 0, (UINT64_C(1) << 39) - 1, "");
	ck_assert_uint_eq(p.n_reserved, 0);
	ck_assert_uint_eq(p.page_sizes, 4096);
	ck_assert_uint_eq(p.max_windows, 0);
	ck_assert_int_eq(p.iommu, PLATFORM_IOMMU_NONE);

	p = parse_ok("# leading comment\n\n   \n\t iova_bits\t 0x27  # trailing\r\n"
		     "max_windows 010#no space\n#\n");
	ck_assert_uint_eq(p.iova_bits, 39);
	ck_assert_uint_eq(p.max_windows, 8);

	p = parse_ok("iova_bits 64\n");
	assert_range(&p.apertures[0], 0, UINT64_MAX, "");
	round_trip(&p);
	p = parse_ok("iova_bits 1\n");
	assert_range(&p.apertures[0], 0, 1, "");
	p = parse_ok("iova_bits 48\nmax_windows 4294967295\n");
	ck_assert_uint_eq(p.max_windows, 4294967295u);
	p = parse_ok("iova_bits 48\npage_sizes 4k 4K 2m\n");
	ck_assert_uint_eq(p.page_sizes, 4 * K | 2 * M);
}
END_TEST

START_TEST(bits_from_apertures)
{
	struct platform p;

	p = parse_ok("aperture 0x0-0x7fffffff\n");
	ck_assert_uint_eq(p.iova_bits, 31);
	ck_assert_uint_eq(p.n_apertures, 1);
	assert_range(&p.apertures[0], 0, 0x7fffffff, "");
	round_trip(&p);

	p = parse_ok("aperture 0x0800000000000000-0x0800ffffffffffff\naperture 0-0xfff\n");
	ck_assert_uint_eq(p.iova_bits, 60);
	p = parse_ok("aperture 0-0\n");
	ck_assert_uint_eq(p.iova_bits, 1);
	p = parse_ok("aperture 0x1000-0xffffffffffffffff\n");
	ck_assert_uint_eq(p.iova_bits, 64);
	p = parse_ok("aperture 0x0-0x80000000\n");
	ck_assert_uint_eq(p.iova_bits, 32);
	round_trip(&p);
}
END_TEST

START_TEST(ranges_sorted)
{
	struct platform p;

	p = parse_ok("reserved 0x9000-0x9fff c\n"
		     "aperture 0x10000-0x1ffff\n"
		     "reserved 0x1000-0x1fff a\n"
		     "aperture 0x0-0xffff\n"
		     "reserved 0x10000-0x10fff d\n"
		     "reserved 0x2000-0x2fff b\n");
	ck_assert_uint_eq(p.iova_bits, 17);
	ck_assert_uint_eq(p.n_apertures, 2);
	assert_range(&p.apertures[0], 0, 0xffff, "");
	assert_range(&p.apertures[1], 0x10000, 0x1ffff, "");
	ck_assert_uint_eq(p.n_reserved, 4);
	assert_range(&p.reserved[0], 0x1000, 0x1fff, "a");
	assert_range(&p.reserved[1], 0x2000, 0x2fff, "b");
	assert_range(&p.reserved[2], 0x9000, 0x9fff, "c");
	assert_range(&p.reserved[3], 0x10000, 0x10fff, "d");
	round_trip(&p);

	/* A reserved range may span two adjacent apertures: their union covers it. */
	p = parse_ok("aperture 0-0xfff\naperture 0x1000-0x1fff\nreserved 0x800-0x17ff x\n");
	assert_range(&p.reserved[0], 0x800, 0x17ff, "x");
	/* Touching but not overlapping ranges are fine. */
	p = parse_ok("iova_bits 16\nreserved 0-0xff a\nreserved 0x100-0x1ff b\n");
	ck_assert_uint_eq(p.n_reserved, 2);
	/* A kind of exactly 15 characters fits. */
	p = parse_ok("iova_bits 48\nreserved 0-0xfff abcdefghijklmno\n");
	ck_assert_str_eq(p.reserved[0].kind, "abcdefghijklmno");
	round_trip(&p);
}
END_TEST

START_TEST(limits)
{
	char text[4096];
	size_t n = 0;
	unsigned int i;

	n += (size_t)snprintf(text + n, sizeof(text) - n, "iova_bits 48\n");
	for (i = 0; i < PLATFORM_MAX_RANGES; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "reserved 0x%x-0x%x r%u\n",
				      i * 0x1000, i * 0x1000 + 0xfff, i);
	ck_assert_uint_eq(parse_ok(text).n_reserved, PLATFORM_MAX_RANGES);
	round_trip((const struct platform[]){ parse_ok(text) });
	snprintf(text + n, sizeof(text) - n, "reserved 0x100000-0x100fff extra\n");
	BAD(text, PLATFORM_MAX_RANGES + 2, "too many");

	n = 0;
	for (i = 0; i < PLATFORM_MAX_RANGES; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "aperture 0x%x-0x%x\n",
				      i * 0x2000, i * 0x2000 + 0xfff);
	ck_assert_uint_eq(parse_ok(text).n_apertures, PLATFORM_MAX_RANGES);
	round_trip((const struct platform[]){ parse_ok(text) });
	snprintf(text + n, sizeof(text) - n, "aperture 0x100000-0x100fff\n");
	BAD(text, PLATFORM_MAX_RANGES + 1, "too many");
}
END_TEST

START_TEST(errors_keys_and_values)
{
	BAD("", 1, "required");
	BAD("# just a comment\n\n", 2, "required");
	BAD("page_sizes 4K\nmax_windows 1\niommu none\n", 3, "required");
	BAD("iova_bits 48\nfoo 1\n", 2, "unknown key 'foo'");
	BAD("iova_bits 48\nIOVA_BITS 48\n", 2, "unknown key");
	BAD("iova_bits 48\naperture_x 0-1\n", 2, "unknown key");
	BAD("iova_bits\n", 1, "needs a value");
	BAD("iova_bits 48 49\n", 1, "extra value '49'");
	BAD("iova_bits 48\naperture\n", 2, "needs a value");
	BAD("iova_bits 48\naperture 0-1 2-3\n", 2, "extra value");
	BAD("iova_bits 48\nreserved 0-0xfff\n", 2, "needs");
	BAD("iova_bits 48\nreserved\n", 2, "needs");
	BAD("iova_bits 48\nreserved 0-0xfff msi extra\n", 2, "extra value 'extra'");
	BAD("iova_bits 48\npage_sizes\n", 2, "needs a value");
	BAD("iova_bits 48\npage_sizes # 4K\n", 2, "needs a value");
	BAD("iova_bits 48\nmax_windows\n", 2, "needs a value");
	BAD("iova_bits 48\nmax_windows 1 2\n", 2, "extra value");
	BAD("iova_bits 48\niommu\n", 2, "needs a value");
	BAD("iova_bits 48\niommu intel_vtd amd_vi\n", 2, "extra value");
	BAD("iova_bits 48\niommu smmu\n", 2, "unknown iommu 'smmu'");
}
END_TEST

START_TEST(errors_numbers)
{
	BAD("iova_bits 0x\n", 1, "bad number");
	BAD("iova_bits -1\n", 1, "bad number");
	BAD("iova_bits +48\n", 1, "bad number");
	BAD("iova_bits 48K\n", 1, "bad number");
	BAD("iova_bits 65\n", 1, "bad number");
	BAD("iova_bits 18446744073709551616\n", 1, "bad number");
	BAD("iova_bits 0\n", 1, "1..64");
	BAD("iova_bits 48\nmax_windows 4294967296\n", 2, "bad number");
	BAD("iova_bits 48\nmax_windows 1x\n", 2, "bad number");
	BAD("iova_bits 48\naperture 0x2000-0x1fff\n", 2, "bad range");
	BAD("iova_bits 48\naperture 0x1000\n", 2, "bad range");
	BAD("iova_bits 48\nreserved 1K-2K msi\n", 2, "bad range");
	BAD("iova_bits 48\nreserved 0-0x10000000000000000 msi\n", 2, "bad range");
	BAD("iova_bits 48\npage_sizes 4K 3K\n", 2, "'3K' is not a power of two");
	BAD("iova_bits 48\npage_sizes 0\n", 2, "not a power of two");
	BAD("iova_bits 48\npage_sizes 4Q\n", 2, "bad page size '4Q'");
	BAD("iova_bits 48\npage_sizes 17179869184T\n", 2, "bad page size");
}
END_TEST

START_TEST(errors_duplicates)
{
	BAD("iova_bits 48\n# c\n\niova_bits 40\n", 4, "duplicate iova_bits (first on line 1)");
	BAD("page_sizes 4K\npage_sizes 2M\niova_bits 48\n", 2, "duplicate page_sizes");
	BAD("iova_bits 48\nmax_windows 1\nmax_windows 1\n", 3, "duplicate max_windows");
	BAD("iova_bits 48\niommu none\niommu none\n", 3, "duplicate iommu");
}
END_TEST

START_TEST(errors_geometry)
{
	BAD("iova_bits 48\nreserved 0x1000-0x1fff a\nreserved 0x1800-0x2fff b\n", 3, "overlaps");
	/* The later line is blamed even when its range sorts first. */
	BAD("iova_bits 48\nreserved 0x1800-0x2fff b\nreserved 0x1000-0x1fff a\n", 3,
	    "reserved 0x1000-0x1fff overlaps 0x1800-0x2fff (line 2)");
	BAD("iova_bits 48\nreserved 0x1000-0x1fff a\nreserved 0x1000-0x1fff a\n", 3, "overlaps");
	BAD("aperture 0-0xffff\n\naperture 0xfff0-0x1ffff\n", 3,
	    "aperture 0xfff0-0x1ffff overlaps");
	BAD("iova_bits 32\nreserved 0xfee00000-0x1ffffffff msi\n", 2, "beyond iova_bits 32");
	BAD("iova_bits 32\naperture 0-0x100000000\n", 2, "beyond iova_bits 32");
	/* iova_bits may come after the range it limits. */
	BAD("aperture 0-0x1ffffffff\niova_bits 32\n", 1, "beyond iova_bits");
	BAD("iova_bits 1\nreserved 2-2 x\n", 2, "beyond iova_bits 1");
	BAD("aperture 0-0xffff\nreserved 0x10000-0x10fff msi\n", 2, "not inside an aperture");
	BAD("aperture 0-0xffff\nreserved 0xf000-0x10fff msi\n", 2, "not inside an aperture");
	BAD("iova_bits 60\naperture 0x1000-0xffff\nreserved 0-0xfff msi\n", 3, "not inside");
	BAD("iova_bits 60\naperture 0-0xfff\naperture 0x2000-0x2fff\nreserved 0x800-0x27ff x\n", 4,
	    "not inside");
	/* The DESIGN example's aperture and reserved lines together describe a hole outside the
	 * aperture, which the header forbids. */
	BAD("iova_bits 60\naperture 0x0-0x7fffffff\nreserved 0x80000000-0xffffffff io\n", 3,
	    "not inside");
}
END_TEST

START_TEST(errors_kind_and_lines)
{
	char text[1024];
	size_t n;

	BAD("iova_bits 48\nreserved 0-0xfff abcdefghijklmnop\n", 2, "longer than 15");
	BAD("iova_bits 48\nreserved 0-0xfff a/b\n", 2, "bad kind");
	BAD("iova_bits 48\nreserved 0-0xfff \"x\"\n", 2, "bad kind");
	parse_bad("iova_bits 48\nmax_windows 1\0\n", 27, 2, "NUL");
	parse_bad("iova_bits 48\n\0", 14, 2, "NUL");

	n = (size_t)snprintf(text, sizeof(text), "iova_bits 48\npage_sizes");
	while (n < 600)
		n += (size_t)snprintf(text + n, sizeof(text) - n, " 4K");
	BAD(text, 2, "longer than");
	/* A long comment is fine. */
	n = (size_t)snprintf(text, sizeof(text), "iova_bits 48 #");
	memset(text + n, 'c', 800);
	text[n + 800] = '\0';
	ck_assert_uint_eq(parse_ok(text).iova_bits, 48);

	n = (size_t)snprintf(text, sizeof(text), "iova_bits 48\npage_sizes");
	while (n < 400)
		n += (size_t)snprintf(text + n, sizeof(text) - n, " 4K");
	BAD(text, 2, "too many values");

	/* len bounds the text: the bad second line is not seen. */
	parse_bad("iova_bits 48\nbogus\n", 10, 1, "needs a value");
	{
		struct platform p;
		char err[64];

		ck_assert_int_eq(
		    platform_parse("iova_bits 48\nbogus\n", 13, "n", &p, err, sizeof(err)), 0);
		ck_assert_uint_eq(p.iova_bits, 48);
	}
}
END_TEST

START_TEST(error_buffer_small)
{
	struct platform p;
	char err[12];

	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(platform_parse("iova_bits 48\nfoo\n", 17, "t", &p, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "line 2: unk");
	ck_assert_int_eq(platform_parse("foo\n", 4, "t", &p, NULL, 0), -EINVAL);
	err[0] = 'x';
	ck_assert_int_eq(platform_parse("foo\n", 4, "t", &p, err, 1), -EINVAL);
	ck_assert_int_eq(err[0], '\0');
}
END_TEST

static char tmpdir[] = "/tmp/test_platform.XXXXXX";

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void setup_tmp(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown_tmp(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(load_builtin_and_files)
{
	struct platform p;
	char path[256], err[512];

	ck_assert_int_eq(platform_load("arm-smmuv3", &p, err, sizeof(err)), 0);
	ck_assert_str_eq(p.name, "arm-smmuv3");
	ck_assert_int_eq(p.iommu, PLATFORM_IOMMU_ARM_SMMUV3);

	snprintf(path, sizeof(path), "%s/good.profile", tmpdir);
	write_file(path, "iova_bits 39\nreserved 0xfee00000-0xfeefffff msi\n", 48);
	ck_assert_int_eq(platform_load(path, &p, err, sizeof(err)), 0);
	ck_assert_str_eq(p.name, path);
	ck_assert_uint_eq(p.iova_bits, 39);
	assert_range(&p.reserved[0], 0xfee00000, 0xfeefffff, "msi");

	snprintf(path, sizeof(path), "%s/bad.profile", tmpdir);
	write_file(path, "iova_bits 39\n\nwindows 2\n", 24);
	memset(&p, 0x5a, sizeof(p));
	ck_assert_int_eq(platform_load(path, &p, err, sizeof(err)), -EINVAL);
	ck_assert_uint_eq(p.iova_bits, 0x5a5a5a5a);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_nonnull(strstr(err, ": line 3: unknown key 'windows'"));

	snprintf(path, sizeof(path), "%s/missing.profile", tmpdir);
	ck_assert_int_eq(platform_load(path, &p, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_int_eq(platform_load("no-such-platform", &p, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "no-such-platform"));
	ck_assert_int_eq(platform_load(tmpdir, &p, err, sizeof(err)), -EISDIR);
}
END_TEST

START_TEST(load_size_limit)
{
	static char big[64 * 1024 + 1];
	struct platform p;
	char path[256], err[512];
	size_t n;

	n = (size_t)snprintf(big, sizeof(big), "iova_bits 44\n");
	memset(big + n, '#', sizeof(big) - n);
	big[sizeof(big) - 2] = '\n';

	snprintf(path, sizeof(path), "%s/exact.profile", tmpdir);
	write_file(path, big, 64 * 1024);
	ck_assert_int_eq(platform_load(path, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.iova_bits, 44);

	snprintf(path, sizeof(path), "%s/big.profile", tmpdir);
	write_file(path, big, sizeof(big));
	ck_assert_int_eq(platform_load(path, &p, err, sizeof(err)), -EFBIG);
	ck_assert_ptr_nonnull(strstr(err, path));
}
END_TEST

START_TEST(load_long_path_name)
{
	struct platform p;
	char dir[512], path[600], err[1024];

	snprintf(dir, sizeof(dir), "%s/%s", tmpdir,
		 "a-directory-name-long-enough-to-push-the-path-past-sixty-three-characters");
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/p", dir);
	write_file(path, "iova_bits 48\n", 13);
	ck_assert_int_eq(platform_load(path, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(p.name), sizeof(p.name) - 1);
	ck_assert(!strncmp(p.name, path, sizeof(p.name) - 1));
	round_trip(&p);
}
END_TEST

/* The profile the shell-level tests mount with. */
START_TEST(load_seed_file)
{
	const char *srcdir = getenv("srcdir");
	struct platform p;
	char path[1024], err[1024];

	snprintf(path, sizeof(path), "%s/tests/fs/profiles/seed.profile", srcdir ? srcdir : ".");
	ck_assert_msg(access(path, R_OK) == 0, "%s missing (set srcdir)", path);
	ck_assert_int_eq(platform_load(path, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.iova_bits, 60);
	ck_assert_uint_eq(p.n_reserved, 1);
	assert_range(&p.reserved[0], 0x80000000, 0xffffffff, "io");
	ck_assert_uint_eq(p.page_sizes, 4096);
}
END_TEST

static Suite *platform_suite(void)
{
	Suite *s = suite_create("platform");
	TCase *tc = tcase_create("parse");
	TCase *tf = tcase_create("load");

	tcase_add_test(tc, builtin_names);
	tcase_add_test(tc, builtin_x86_vtd);
	tcase_add_test(tc, builtin_amd_vi);
	tcase_add_test(tc, builtin_arm_smmuv3);
	tcase_add_test(tc, builtin_ppc64_papr);
	tcase_add_test(tc, builtin_unknown);
	tcase_add_test(tc, builtin_round_trip);
	tcase_add_test(tc, format_canonical);
	tcase_add_test(tc, format_truncates_like_snprintf);
	tcase_add_test(tc, format_sanitizes_name);
	tcase_add_test(tc, page_size_text);
	tcase_add_test(tc, page_size_round_trip);
	tcase_add_test(tc, iommu_names);
	tcase_add_test(tc, seed_profile);
	tcase_add_test(tc, defaults_and_syntax);
	tcase_add_test(tc, bits_from_apertures);
	tcase_add_test(tc, ranges_sorted);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, errors_keys_and_values);
	tcase_add_test(tc, errors_numbers);
	tcase_add_test(tc, errors_duplicates);
	tcase_add_test(tc, errors_geometry);
	tcase_add_test(tc, errors_kind_and_lines);
	tcase_add_test(tc, error_buffer_small);
	suite_add_tcase(s, tc);

	tcase_add_unchecked_fixture(tf, setup_tmp, teardown_tmp);
	tcase_add_test(tf, load_builtin_and_files);
	tcase_add_test(tf, load_size_limit);
	tcase_add_test(tf, load_long_path_name);
	tcase_add_test(tf, load_seed_file);
	suite_add_tcase(s, tf);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(platform_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
