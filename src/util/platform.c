/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Platform profiles: the IOMMU geometry of the machine the sim backend pretends to be.
 *
 * The built-in profiles are stored as profile-file text and go through the same parser as a
 * user's file, so there is one definition of what a profile means and `cat platform/profile`
 * of any profile, built-in or not, is a file that loads back to the same geometry
 * (platform_format() is the inverse of platform_parse()). The parser is strict because a
 * typo in a profile would otherwise silently give a different machine: every line must be
 * understood, and every reason for refusing a file names its line. Checks that relate
 * several lines (overlaps, the address width, containment of reserved ranges in the
 * apertures) run after the whole file is read, since the keys may come in any order, and
 * still report the line of the offending range.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/parse.h"
#include "util/platform.h"

#define PROFILE_MAX_FILE  (64 * 1024)
#define PROFILE_MAX_LINE  512
#define PROFILE_MAX_WORDS 72

/*
 * The geometry Linux reports for such machines (reserved ranges are what iommufd leaves out
 * of IOMMU_IOAS_IOVA_RANGES); each profile's comment says where its numbers come from. One
 * profile line per source line, so clang-format is kept off these.
 */
/* clang-format off */
static const char profile_x86_vtd[] =
	"# Intel VT-d with 4-level (48-bit) second-stage page tables.\n"
	"# 0xfee00000-0xfeefffff is the IOAPIC/MSI interrupt range: DMA writes there are\n"
	"# interrupt requests and are never translated (IOMMU_RESV_MSI).\n"
	"iova_bits 48\n"
	"reserved 0xfee00000-0xfeefffff msi\n"
	"page_sizes 4K 2M 1G\n"
	"max_windows 0\n"
	"iommu intel_vtd\n";

static const char profile_amd_vi[] =
	"# AMD-Vi with 4-level (48-bit) page tables.\n"
	"# 0xfee00000-0xfeefffff is the MSI interrupt range; 0xfd00000000-0xffffffffff is the\n"
	"# HyperTransport reserved range just below 1 TiB (IOMMU_RESV_RESERVED).\n"
	"iova_bits 48\n"
	"reserved 0xfee00000-0xfeefffff msi\n"
	"reserved 0xfd00000000-0xffffffffff ht\n"
	"page_sizes 4K 2M 1G\n"
	"max_windows 0\n"
	"iommu amd_vi\n";

static const char profile_arm_smmuv3[] =
	"# Arm SMMUv3 with 48-bit stage-1 tables. The kernel maps MSI doorbells itself in a\n"
	"# software-managed window at MSI_IOVA_BASE 0x8000000, MSI_IOVA_LENGTH 0x100000\n"
	"# (IOMMU_RESV_SW_MSI).\n"
	"iova_bits 48\n"
	"reserved 0x08000000-0x080fffff sw_msi\n"
	"page_sizes 4K 2M 1G\n"
	"max_windows 0\n"
	"iommu arm_smmuv3\n";

static const char profile_ppc64_papr[] =
	"# POWER under PAPR: the IOMMU translates only inside DMA windows, the default 32-bit\n"
	"# window of 2 GiB at 0 and a 64-bit dynamic DMA window (DDW) at 2^59, here 256 TiB.\n"
	"iova_bits 60\n"
	"aperture 0x0-0x7fffffff\n"
	"aperture 0x0800000000000000-0x0800ffffffffffff\n"
	"page_sizes 4K 64K 2M 1G\n"
	"max_windows 2\n"
	"iommu none\n";
/* clang-format on */

static const struct {
	const char *name;
	const char *text;
} builtins[] = {
	{ "x86-vtd", profile_x86_vtd },
	{ "amd-vi", profile_amd_vi },
	{ "arm-smmuv3", profile_arm_smmuv3 },
	{ "ppc64-papr", profile_ppc64_papr },
};

const char *const platform_builtin_names[] = { "x86-vtd", "amd-vi", "arm-smmuv3", "ppc64-papr",
					       NULL };

static const struct {
	enum platform_iommu type;
	const char *name;
} iommu_names[] = {
	{ PLATFORM_IOMMU_NONE, "none" },
	{ PLATFORM_IOMMU_INTEL_VTD, "intel_vtd" },
	{ PLATFORM_IOMMU_ARM_SMMUV3, "arm_smmuv3" },
	{ PLATFORM_IOMMU_AMD_VI, "amd_vi" },
};

const char *platform_iommu_name(enum platform_iommu t)
{
	size_t i;

	for (i = 0; i < sizeof(iommu_names) / sizeof(iommu_names[0]); i++) {
		if (iommu_names[i].type == t)
			return iommu_names[i].name;
	}
	return "unknown";
}

uint64_t platform_min_page(const struct platform *p)
{
	/* page_sizes is never 0 after parsing; 4K keeps a zeroed struct from dividing by 0. */
	if (!p->page_sizes)
		return 4096;
	return p->page_sizes & -p->page_sizes;
}

static uint64_t bits_mask(unsigned int bits)
{
	return bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
}

/* A range plus the line it came from, so that checks after sorting can name the line. */
struct lrange {
	struct platform_range r;
	unsigned int line;
};

struct profile_state {
	struct platform p;
	struct lrange ap[PLATFORM_MAX_RANGES];
	struct lrange rs[PLATFORM_MAX_RANGES];
	unsigned int n_ap, n_rs;
	/* Line where each single-valued key was seen, 0 = not yet. */
	unsigned int line_bits, line_pages, line_windows, line_iommu;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int perr(struct profile_state *st, unsigned int line,
						      const char *fmt, ...)
{
	va_list ap;
	int n;

	if (st->err && st->errlen) {
		n = snprintf(st->err, st->errlen, "line %u: ", line);
		if (n >= 0 && (size_t)n < st->errlen) {
			va_start(ap, fmt);
			vsnprintf(st->err + n, st->errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return -EINVAL;
}

static int once(struct profile_state *st, unsigned int *seen, unsigned int line, const char *key)
{
	if (*seen)
		return perr(st, line, "duplicate %s (first on line %u)", key, *seen);
	*seen = line;
	return 0;
}

static int one_value(struct profile_state *st, unsigned int line, int nw, char **w, int want)
{
	if (nw - 1 < want)
		return perr(st, line, "%s needs %s", w[0],
			    want == 1 ? "a value" : "START-LAST KIND");
	if (nw - 1 > want)
		return perr(st, line, "%s: extra value '%s'", w[0], w[want + 1]);
	return 0;
}

static int number(struct profile_state *st, unsigned int line, const char *s, uint64_t max,
		  uint64_t *ret)
{
	uint64_t v;

	if (parse_u64(s, &v) < 0 || v > max)
		return perr(st, line, "bad number '%s'", s);
	*ret = v;
	return 0;
}

static bool kind_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

static int add_range(struct profile_state *st, unsigned int line, char **w, bool reserved)
{
	struct lrange *lr;
	uint64_t start, last;
	size_t i;

	if (parse_range(w[1], &start, &last) < 0)
		return perr(st, line, "bad range '%s' (want START-LAST, START <= LAST)", w[1]);
	if (reserved) {
		if (strlen(w[2]) >= PLATFORM_KIND_LEN)
			return perr(st, line, "kind '%s' longer than %d characters", w[2],
				    PLATFORM_KIND_LEN - 1);
		for (i = 0; w[2][i]; i++) {
			if (!kind_char(w[2][i]))
				return perr(st, line, "bad kind '%s' (letters, digits, _ - .)",
					    w[2]);
		}
		if (st->n_rs >= PLATFORM_MAX_RANGES)
			return perr(st, line, "too many reserved ranges (at most %d)",
				    PLATFORM_MAX_RANGES);
		lr = &st->rs[st->n_rs++];
		strcpy(lr->r.kind, w[2]);
	} else {
		if (st->n_ap >= PLATFORM_MAX_RANGES)
			return perr(st, line, "too many apertures (at most %d)",
				    PLATFORM_MAX_RANGES);
		lr = &st->ap[st->n_ap++];
	}
	lr->r.start = start;
	lr->r.last = last;
	lr->line = line;
	return 0;
}

static int set_page_sizes(struct profile_state *st, unsigned int line, int nw, char **w)
{
	uint64_t v;
	int i, r;

	if (nw < 2)
		return perr(st, line, "page_sizes needs a value");
	for (i = 1; i < nw; i++) {
		r = parse_size(w[i], &v);
		if (r < 0)
			return perr(st, line, "bad page size '%s'", w[i]);
		if (v == 0 || (v & (v - 1)))
			return perr(st, line, "page size '%s' is not a power of two", w[i]);
		st->p.page_sizes |= v;
	}
	return 0;
}

static int set_iommu(struct profile_state *st, unsigned int line, const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(iommu_names) / sizeof(iommu_names[0]); i++) {
		if (!strcmp(s, iommu_names[i].name)) {
			st->p.iommu = iommu_names[i].type;
			return 0;
		}
	}
	return perr(st, line, "unknown iommu '%s' (none, intel_vtd, amd_vi, arm_smmuv3)", s);
}

static int parse_line(struct profile_state *st, unsigned int line, char *s)
{
	char *w[PROFILE_MAX_WORDS];
	uint64_t v = 0;
	int nw, r;

	nw = split_words(s, w, PROFILE_MAX_WORDS);
	if (nw == -E2BIG)
		return perr(st, line, "too many values");
	if (nw < 0)
		return perr(st, line, "malformed line");
	if (nw == 0)
		return 0;

	if (!strcmp(w[0], "iova_bits")) {
		r = once(st, &st->line_bits, line, w[0]);
		if (!r)
			r = one_value(st, line, nw, w, 1);
		if (!r)
			r = number(st, line, w[1], 64, &v);
		if (!r && v == 0)
			r = perr(st, line, "iova_bits must be 1..64");
		if (!r)
			st->p.iova_bits = (unsigned int)v;
	} else if (!strcmp(w[0], "aperture")) {
		r = one_value(st, line, nw, w, 1);
		if (!r)
			r = add_range(st, line, w, false);
	} else if (!strcmp(w[0], "reserved")) {
		r = one_value(st, line, nw, w, 2);
		if (!r)
			r = add_range(st, line, w, true);
	} else if (!strcmp(w[0], "page_sizes")) {
		r = once(st, &st->line_pages, line, w[0]);
		if (!r)
			r = set_page_sizes(st, line, nw, w);
	} else if (!strcmp(w[0], "max_windows")) {
		r = once(st, &st->line_windows, line, w[0]);
		if (!r)
			r = one_value(st, line, nw, w, 1);
		if (!r)
			r = number(st, line, w[1], UINT_MAX, &v);
		if (!r)
			st->p.max_windows = (unsigned int)v;
	} else if (!strcmp(w[0], "iommu")) {
		r = once(st, &st->line_iommu, line, w[0]);
		if (!r)
			r = one_value(st, line, nw, w, 1);
		if (!r)
			r = set_iommu(st, line, w[1]);
	} else {
		r = perr(st, line, "unknown key '%s'", w[0]);
	}
	return r;
}

static void sort_ranges(struct lrange *a, unsigned int n)
{
	unsigned int i, j;
	struct lrange t;

	for (i = 1; i < n; i++) {
		t = a[i];
		for (j = i; j > 0 && a[j - 1].r.start > t.r.start; j--)
			a[j] = a[j - 1];
		a[j] = t;
	}
}

static int check_overlaps(struct profile_state *st, const struct lrange *a, unsigned int n,
			  const char *what)
{
	unsigned int i;

	for (i = 1; i < n; i++) {
		const struct lrange *x = &a[i - 1], *y = &a[i];

		if (y->r.start > x->r.last)
			continue;
		if (y->line < x->line) {
			const struct lrange *t = x;

			x = y;
			y = t;
		}
		return perr(st, y->line,
			    "%s 0x%" PRIx64 "-0x%" PRIx64 " overlaps 0x%" PRIx64 "-0x%" PRIx64
			    " (line %u)",
			    what, y->r.start, y->r.last, x->r.start, x->r.last, x->line);
	}
	return 0;
}

/* Is [start, last] covered by the sorted, disjoint apertures (adjacent ones join)? */
static bool in_apertures(const struct platform *p, uint64_t start, uint64_t last)
{
	uint64_t pos = start;
	unsigned int i;

	for (i = 0; i < p->n_apertures; i++) {
		const struct platform_range *a = &p->apertures[i];

		if (a->last < pos)
			continue;
		if (a->start > pos)
			return false;
		if (a->last >= last)
			return true;
		pos = a->last + 1;
	}
	return false;
}

/* Whole-file checks and defaults, once every line has been read. */
static int finish(struct profile_state *st, unsigned int nlines)
{
	struct platform *p = &st->p;
	uint64_t mask, top = 0;
	unsigned int i;
	int r;

	if (!st->line_bits && !st->n_ap)
		return perr(st, nlines ? nlines : 1, "iova_bits or an aperture is required");
	for (i = 0; i < st->n_ap; i++) {
		if (st->ap[i].r.last > top)
			top = st->ap[i].r.last;
	}
	if (!st->line_bits)
		p->iova_bits = top ? 64 - (unsigned int)__builtin_clzll(top) : 1;
	mask = bits_mask(p->iova_bits);

	/* With derived bits, apertures fit by construction and reserved ranges beyond them are
	 * reported as outside the apertures, which is what the user wrote. */
	for (i = 0; st->line_bits && i < st->n_ap; i++) {
		if (st->ap[i].r.last > mask)
			return perr(st, st->ap[i].line,
				    "aperture 0x%" PRIx64 "-0x%" PRIx64 " beyond iova_bits %u",
				    st->ap[i].r.start, st->ap[i].r.last, p->iova_bits);
	}
	for (i = 0; st->line_bits && i < st->n_rs; i++) {
		if (st->rs[i].r.last > mask)
			return perr(st, st->rs[i].line,
				    "reserved 0x%" PRIx64 "-0x%" PRIx64 " beyond iova_bits %u",
				    st->rs[i].r.start, st->rs[i].r.last, p->iova_bits);
	}

	sort_ranges(st->ap, st->n_ap);
	sort_ranges(st->rs, st->n_rs);
	r = check_overlaps(st, st->ap, st->n_ap, "aperture");
	if (r < 0)
		return r;
	r = check_overlaps(st, st->rs, st->n_rs, "reserved");
	if (r < 0)
		return r;

	if (st->n_ap) {
		p->n_apertures = st->n_ap;
		for (i = 0; i < st->n_ap; i++)
			p->apertures[i] = st->ap[i].r;
	} else {
		p->n_apertures = 1;
		p->apertures[0].start = 0;
		p->apertures[0].last = mask;
	}
	for (i = 0; i < st->n_rs; i++) {
		if (!in_apertures(p, st->rs[i].r.start, st->rs[i].r.last))
			return perr(st, st->rs[i].line,
				    "reserved 0x%" PRIx64 "-0x%" PRIx64
				    " is not inside an aperture",
				    st->rs[i].r.start, st->rs[i].r.last);
		p->reserved[i] = st->rs[i].r;
	}
	p->n_reserved = st->n_rs;
	if (!p->page_sizes)
		p->page_sizes = 4096;
	return 0;
}

int platform_parse(const char *text, size_t len, const char *name, struct platform *ret, char *err,
		   size_t errlen)
{
	struct profile_state *st;
	char buf[PROFILE_MAX_LINE];
	unsigned int line = 0;
	size_t pos = 0;
	int r = 0;

	if (err && errlen)
		err[0] = '\0';
	/* ~4 KiB of ranges: keep it off the stack of FUSE worker threads. */
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->err = err;
	st->errlen = errlen;

	while (pos < len) {
		const char *s = text + pos, *nl, *hash;
		size_t n, linelen;

		line++;
		nl = memchr(s, '\n', len - pos);
		linelen = nl ? (size_t)(nl - s) : len - pos;
		pos += linelen + (nl ? 1 : 0);
		if (memchr(s, '\0', linelen)) {
			r = perr(st, line, "NUL byte");
			goto out;
		}
		hash = memchr(s, '#', linelen);
		n = hash ? (size_t)(hash - s) : linelen;
		if (n > 0 && s[n - 1] == '\r')
			n--; /* a file edited on another system */
		if (n >= sizeof(buf)) {
			r = perr(st, line, "line longer than %d characters", PROFILE_MAX_LINE - 1);
			goto out;
		}
		memcpy(buf, s, n);
		buf[n] = '\0';
		r = parse_line(st, line, buf);
		if (r < 0)
			goto out;
	}
	r = finish(st, line);
	if (r < 0)
		goto out;
	snprintf(st->p.name, sizeof(st->p.name), "%s", name ? name : "");
	*ret = st->p;
out:
	free(st);
	return r;
}

int platform_builtin(const char *name, struct platform *ret)
{
	char err[128];
	size_t i;

	if (!name)
		return -ENOENT;
	for (i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
		if (!strcmp(name, builtins[i].name))
			return platform_parse(builtins[i].text, strlen(builtins[i].text),
					      builtins[i].name, ret, err, sizeof(err));
	}
	return -ENOENT;
}

int platform_load(const char *name_or_path, struct platform *ret, char *err, size_t errlen)
{
	char why[160];
	char *text = NULL;
	FILE *f = NULL;
	size_t len;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (!name_or_path)
		return -EINVAL;
	r = platform_builtin(name_or_path, ret);
	if (r != -ENOENT)
		return r;

	f = fopen(name_or_path, "re");
	if (!f) {
		r = -errno;
		snprintf(why, sizeof(why), "%s", strerror(-r));
		goto out;
	}
	text = malloc(PROFILE_MAX_FILE + 1);
	if (!text) {
		r = -ENOMEM;
		snprintf(why, sizeof(why), "%s", strerror(-r));
		goto out;
	}
	/* Read one byte more than allowed to tell "exactly 64 KiB" from "too long". */
	errno = 0;
	len = fread(text, 1, PROFILE_MAX_FILE + 1, f);
	if (ferror(f)) {
		r = errno ? -errno : -EIO;
		snprintf(why, sizeof(why), "%s", strerror(-r));
	} else if (len > PROFILE_MAX_FILE) {
		r = -EFBIG;
		snprintf(why, sizeof(why), "profile larger than %d bytes", PROFILE_MAX_FILE);
	} else {
		r = platform_parse(text, len, name_or_path, ret, why, sizeof(why));
		if (r < 0 && !why[0])
			snprintf(why, sizeof(why), "%s", strerror(-r));
	}
out:
	if (r < 0 && err && errlen)
		snprintf(err, errlen, "%s: %s", name_or_path, why);
	free(text);
	if (f)
		fclose(f);
	return r;
}

/* snprintf-like appending: len counts what the full text needs even when buf is short. */
struct fmtbuf {
	char *buf;
	size_t size, len;
};

__attribute__((format(printf, 2, 3))) static void fb_printf(struct fmtbuf *fb, const char *fmt, ...)
{
	va_list ap;
	size_t room = fb->len < fb->size ? fb->size - fb->len : 0;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? fb->buf + fb->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		fb->len += (size_t)n;
}

static void format_page_sizes_fb(struct fmtbuf *fb, uint64_t bitmap)
{
	static const char suffix[] = "KMGT";
	const char *sep = "";
	int bit, unit;

	for (bit = 0; bit < 64; bit++) {
		if (!(bitmap & (UINT64_C(1) << bit)))
			continue;
		if (bit < 10) {
			fb_printf(fb, "%s0x%" PRIx64, sep, UINT64_C(1) << bit);
		} else {
			unit = bit >= 40 ? 4 : bit / 10;
			fb_printf(fb, "%s%" PRIu64 "%c", sep, UINT64_C(1) << (bit - unit * 10),
				  suffix[unit - 1]);
		}
		sep = " ";
	}
}

size_t format_page_sizes(uint64_t bitmap, char *buf, size_t size)
{
	struct fmtbuf fb = { buf, size, 0 };

	if (buf && size)
		buf[0] = '\0';
	format_page_sizes_fb(&fb, bitmap);
	return fb.len;
}

size_t platform_format(const struct platform *p, char *buf, size_t size)
{
	struct fmtbuf fb = { buf, size, 0 };
	char name[sizeof(p->name)];
	unsigned int i;
	size_t j;

	if (buf && size)
		buf[0] = '\0';
	/* A path may hold a newline, which would end the comment and break the round trip. */
	for (j = 0; j < sizeof(name) - 1 && p->name[j]; j++) {
		unsigned char c = (unsigned char)p->name[j];

		name[j] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	name[j] = '\0';

	fb_printf(&fb, "# ioasfs platform profile: %s\n", name);
	fb_printf(&fb, "iova_bits %u\n", p->iova_bits);
	if (!(p->n_apertures == 1 && p->apertures[0].start == 0 &&
	      p->apertures[0].last == bits_mask(p->iova_bits))) {
		for (i = 0; i < p->n_apertures && i < PLATFORM_MAX_RANGES; i++)
			fb_printf(&fb, "aperture " ADDR_FMT "-" ADDR_FMT "\n",
				  p->apertures[i].start, p->apertures[i].last);
	}
	for (i = 0; i < p->n_reserved && i < PLATFORM_MAX_RANGES; i++)
		fb_printf(&fb, "reserved " ADDR_FMT "-" ADDR_FMT " %.*s\n", p->reserved[i].start,
			  p->reserved[i].last, PLATFORM_KIND_LEN - 1, p->reserved[i].kind);
	fb_printf(&fb, "page_sizes ");
	format_page_sizes_fb(&fb, p->page_sizes);
	fb_printf(&fb, "\nmax_windows %u\n", p->max_windows);
	fb_printf(&fb, "iommu %s\n", platform_iommu_name(p->iommu));
	return fb.len;
}
