/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer harness for platform profiles (src/util/platform.h). A profile is a file the
 * user hands to `-o platform=FILE`, and `cat platform/profile` must print text that loads
 * back to the same machine: platform_format() is documented as the inverse of
 * platform_parse(). So any text the parser accepts is formatted, parsed again and compared
 * field by field (the name aside); the second text must format to the very same bytes; the
 * parsed geometry must keep the header's promises (apertures and reserved ranges sorted and
 * disjoint, reserved inside the apertures and iova_bits, page_sizes never 0); a refused text
 * must leave the output untouched and say "line N: why"; and a truncated format must be a
 * NUL-terminated prefix of the full text, as snprintf would give. Finally an accepted profile
 * drives the sim backend and the core far enough to render an IOAS's iova_ranges, which must
 * lie inside the apertures and miss every reserved range: a profile the parser accepts
 * is one the daemon will run with.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/core.h"
#include "util/platform.h"
#include "util/sbuf.h"

#define FUZZ_NAME "fuzz_profile"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t mask_bits(unsigned bits)
{
	return bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
}

static bool same_range(const struct platform_range *a, const struct platform_range *b)
{
	return a->start == b->start && a->last == b->last && !strcmp(a->kind, b->kind);
}

static bool same_platform(const struct platform *a, const struct platform *b)
{
	if (a->iova_bits != b->iova_bits || a->n_apertures != b->n_apertures ||
	    a->n_reserved != b->n_reserved || a->page_sizes != b->page_sizes ||
	    a->max_windows != b->max_windows || a->iommu != b->iommu)
		return false;
	for (unsigned i = 0; i < a->n_apertures; i++)
		if (!same_range(&a->apertures[i], &b->apertures[i]))
			return false;
	for (unsigned i = 0; i < a->n_reserved; i++)
		if (!same_range(&a->reserved[i], &b->reserved[i]))
			return false;
	return true;
}

static bool inside_apertures(const struct platform *p, uint64_t start, uint64_t last)
{
	uint64_t pos = start;

	for (unsigned i = 0; i < p->n_apertures; i++) {
		if (p->apertures[i].last < pos)
			continue;
		if (p->apertures[i].start > pos)
			return false;
		if (p->apertures[i].last >= last)
			return true;
		pos = p->apertures[i].last + 1;
	}
	return false;
}

static void check_geometry(const struct platform *p)
{
	uint64_t mask = mask_bits(p->iova_bits);

	CHECK(p->iova_bits >= 1 && p->iova_bits <= 64);
	CHECK(p->n_apertures >= 1 && p->n_apertures <= PLATFORM_MAX_RANGES);
	CHECK(p->n_reserved <= PLATFORM_MAX_RANGES);
	CHECK(p->page_sizes != 0);
	for (unsigned i = 0; i < p->n_apertures; i++) {
		CHECK(p->apertures[i].start <= p->apertures[i].last);
		CHECK(p->apertures[i].last <= mask);
		CHECK(i == 0 || p->apertures[i - 1].last < p->apertures[i].start);
	}
	for (unsigned i = 0; i < p->n_reserved; i++) {
		CHECK(p->reserved[i].start <= p->reserved[i].last);
		CHECK(i == 0 || p->reserved[i - 1].last < p->reserved[i].start);
		CHECK(inside_apertures(p, p->reserved[i].start, p->reserved[i].last));
		CHECK(memchr(p->reserved[i].kind, '\0', PLATFORM_KIND_LEN));
		CHECK(p->reserved[i].kind[0]);
	}
}

static char *format(const struct platform *p, size_t *ret_len)
{
	size_t need = platform_format(p, NULL, 0);
	char *t = malloc(need + 1);

	CHECK(t);
	CHECK(platform_format(p, t, need + 1) == need);
	CHECK(strlen(t) == need);
	*ret_len = need;
	return t;
}

static void check_truncation(const struct platform *p, const char *full, size_t len, size_t cut)
{
	char *t;

	if (cut > len)
		cut = len;
	t = malloc(cut + 1);
	CHECK(t);
	memset(t, 'X', cut + 1);
	CHECK(platform_format(p, t, cut + 1) == len);
	CHECK(strlen(t) == cut && !memcmp(t, full, cut));
	free(t);
}

/* Every line of iova_ranges inside the apertures and clear of the reserved ranges. */
static void check_core(const struct platform *p)
{
	static const struct core_req rq = { .path = "/fuzz", .quiet = true };
	struct core_ioas_ref ref = { "a", 0 };
	struct backend *be;
	struct core *c;
	struct sbuf sb;
	const char *s;
	uint64_t prev = 0;
	bool first = true;

	CHECK(sim_backend_create(p, &be) == 0);
	CHECK(core_create(be, p, &c) == 0);
	CHECK(core_obj_create(c, &rq, CORE_IOAS, "a") == 0);
	sbuf_init(&sb);
	CHECK(core_ioas_show_iova_ranges(c, ref, &sb) == 0);
	for (s = sb.buf; s && *s;) {
		uint64_t a, b;
		int n = 0;

		CHECK(sscanf(s, "0x%" SCNx64 "-0x%" SCNx64 "\n%n", &a, &b, &n) == 2 && n > 0);
		CHECK(a <= b);
		CHECK(first || a > prev);
		CHECK(inside_apertures(p, a, b));
		for (unsigned i = 0; i < p->n_reserved; i++)
			CHECK(b < p->reserved[i].start || a > p->reserved[i].last);
		prev = b;
		first = false;
		s += n;
	}
	sbuf_free(&sb);
	core_destroy(c);
	be->ops->close(be);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct platform p, q, untouched;
	char err[160], err2[160];
	char *t1, *t2;
	size_t l1, l2;
	int r;

	memset(&p, 0xa5, sizeof(p));
	untouched = p;
	r = platform_parse((const char *)data, size, "fuzz", &p, err, sizeof(err));
	if (r < 0) {
		unsigned line;

		CHECK(r == -EINVAL);
		CHECK(!memcmp(&p, &untouched, sizeof(p)));
		CHECK(sscanf(err, "line %u", &line) == 1 && line >= 1);
		CHECK(strstr(err, ": ") && strstr(err, ": ")[2] != '\0');
		return 0;
	}
	CHECK(r == 0);
	CHECK(!strcmp(p.name, "fuzz"));
	check_geometry(&p);

	t1 = format(&p, &l1);
	memset(&q, 0x5a, sizeof(q));
	r = platform_parse(t1, l1, "again", &q, err2, sizeof(err2));
	if (r < 0) {
		fprintf(stderr, "fuzz_profile: formatted profile refused: %s\n---\n%s---\n", err2,
			t1);
		abort();
	}
	if (!same_platform(&p, &q)) {
		fprintf(stderr, "fuzz_profile: round trip changed the platform:\n---\n%s---\n", t1);
		abort();
	}
	CHECK(!strcmp(q.name, "again"));
	snprintf(q.name, sizeof(q.name), "%s", p.name);
	t2 = format(&q, &l2);
	CHECK(l1 == l2 && !strcmp(t1, t2));
	check_truncation(&p, t1, l1, size ? data[0] : 0);
	check_truncation(&p, t1, l1, size > 1 ? (size_t)data[1] * 2 : 0);

	check_core(&p);
	free(t1);
	free(t2);
	return 0;
}
