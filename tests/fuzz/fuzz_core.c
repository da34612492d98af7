/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer state-machine harness for the core object model (src/core/core.h) on the sim
 * backend. DESIGN.md promises that nothing a client writes can crash the daemon, leak memory
 * or leave half-applied state, and that every refused request changes nothing. A unit test
 * checks those promises on the sequences someone thought of; this harness lets the input
 * bytes choose the sequence: IOASes, windows and their attributes, anon sources, devices with
 * writable reserved regions, attach and detach, map, unmap, batches of records that pass the
 * daemon's form checks, huge_pages, and a save/restore round trip, with fuzzed names, serials,
 * addresses and lengths biased towards the platform's own boundaries and the IOVAs the
 * harness has seen.
 *
 * After every call the model is read back through the public API and held to invariants:
 * each IOAS's `mappings` is sorted and non-overlapping, its line count and byte total are the
 * `mappings` and `bytes_mapped` lines of `stats`, every mapping is found by core_ioas_lookup
 * and lies inside its source; each source's `users` is the number of mapping lines naming it
 * across all IOASes; attachments agree from both sides; active windows are disjoint, within
 * max_windows and sized as asked, and no mapping crosses one's edge; `iova_ranges` is sorted and
 * disjoint and lies inside what the backend itself reports as not reserved. A call that fails (and
 * a batch none of whose records did anything) must leave the whole rendered state byte-identical;
 * an auto map lands inside the usable ranges it was given, with the length asked for; an unmap
 * removes from the model exactly the bytes the backend says it unmapped; a saved configuration
 * restores into a fresh core to the same rendered state. Any violation prints both states and
 * aborts.
 *
 * Input: byte 0 picks the platform (the built-in profiles and one small custom one), then up
 * to MAX_OPS operations, each an opcode byte and its arguments; a short input just ends the
 * sequence. Sources are anon and at most 1 MiB, so an execution stays in the milliseconds.
 * FUZZ_CORE_TRACE=1 in the environment prints each operation and its result, to read what an
 * input (a seed, a crash) does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend/backend.h"
#include "core/core.h"
#include "util/parse.h"
#include "util/platform.h"
#include "util/sbuf.h"
#include "ioasfs/batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS	     32
#define MAX_BATCH    8
#define MAX_SAVES    2 /* save/restore round trips per input */
#define MAX_SRC_SIZE (1u << 20)
#define NRECENT	     16
#define MAX_MAPS     4096 /* per IOAS, far above what MAX_OPS * MAX_BATCH can make */

#define K (UINT64_C(1) << 10)
#define M (UINT64_C(1) << 20)
#define G (UINT64_C(1) << 30)

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fail(__LINE__, #cond);                                                     \
	} while (0)

/* ---------------------------------------------------------------- input */

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct in *in)
{
	uint8_t v;

	if (!in->n)
		return 0;
	v = *in->p++;
	in->n--;
	return v;
}

static uint64_t un(struct in *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)u8(in) << (8 * i);
	return v;
}

/* ---------------------------------------------------------------- state */

static const char *const ioas_names[] = { "a", "b", "c" };
static const char *const win_names[] = { "w0", "w1", "w2" };
static const char *const src_names[] = { "s0", "s1", "s2" };
static const char *const dev_names[] = { "d0", "d1", "d2" };
/* names the core must refuse (or, for the last, never find) */
static const char *const bad_names[] = {
	"",
	".hidden",
	"a b",
	"x/y",
	"0123456789012345678901234567890123456789012345678901234567890123",
	"nosuch"
};
static const char *const kinds[] = { "msi", "sw_msi", "io", "bad!kind" }; /* words, as fs gives */

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct core_req rq = { .pid = 1, .path = "/fuzz", .quiet = true };

/* The platforms, parsed once: the built-ins and a small one where space runs out. */
#define N_PLAT 5
static struct platform plats[N_PLAT];
static const char tiny_profile[] = "iova_bits 24\n"
				   "reserved 0x100000-0x1fffff msi\n"
				   "reserved 0x800000-0x800fff io\n"
				   "page_sizes 4K 64K 2M\n"
				   "max_windows 1\n"
				   "iommu arm_smmuv3\n";

struct ranges {
	size_t n;
	struct iova_range r[256];
};

/* What an operation's own checks need of an IOAS, as of the last check_state(). */
struct ioas_info {
	char name[CORE_NAME_MAX + 1];
	uint64_t bytes_mapped, n_maps;
	struct ranges usable;
};

#define MAX_INFO 8

struct fz {
	struct backend *be;
	struct core *c;
	const struct platform *plat;
	uint64_t recent[NRECENT]; /* IOVAs and window starts seen, fed back as arguments */
	unsigned nrecent, recent_pos;
	struct sbuf before, after;
	bool rendered;	  /* after holds the state as it is now */
	bool after_valid; /* after holds the state after the operation running */
	struct ioas_info info[MAX_INFO];
	unsigned ninfo;
	const char *what; /* the operation running, for failure reports */
	unsigned saves;	  /* save/restore round trips so far */
};

static struct fz *cur;
static bool trace; /* FUZZ_CORE_TRACE=1: each operation and its result on stderr */

static void fail(int line, const char *cond)
{
	fprintf(stderr, "fuzz_core: line %d: invariant failed: %s (during %s)\n", line, cond,
		cur && cur->what ? cur->what : "?");
	if (cur && cur->before.buf)
		fprintf(stderr, "--- state before ---\n%s", cur->before.buf);
	if (cur && cur->after_valid && cur->after.buf)
		fprintf(stderr, "--- state after ---\n%s", cur->after.buf);
	abort();
}

static void remember(struct fz *f, uint64_t v)
{
	f->recent[f->recent_pos] = v;
	f->recent_pos = (f->recent_pos + 1) % NRECENT;
	if (f->nrecent < NRECENT)
		f->nrecent++;
}

/* An address or size: raw, page multiples, the platform's boundaries, or one seen before. */
static uint64_t val(struct fz *f, struct in *in)
{
	static const uint64_t interesting[] = {
		0,
		1,
		0xfff,
		0x1000,
		0x10000,
		0x200000,
		0x100000,
		0x40000000,
		0x7fffffff,
		0x80000000,
		0xfee00000,
		0xfeefffff,
		0xfef00000,
		0x100000000,
		0x08000000,
		0x08100000,
		0xfd00000000,
		0x10000000000,
		0x0800000000000000,
		UINT64_C(1) << 48,
		(UINT64_C(1) << 48) - 0x1000,
		UINT64_C(1) << 60,
		UINT64_MAX - 0xfff,
		UINT64_MAX,
	};
	const struct platform *p = f->plat;
	uint8_t sel = u8(in);
	uint64_t v;

	switch (sel % 10) {
	case 0:
		return un(in, 8);
	case 1:
		return un(in, 2) * 4 * K;
	case 2:
		return u8(in) * 2 * M;
	case 3:
		return u8(in) * G;
	case 4:
		return interesting[u8(in) % N(interesting)];
	case 5:
	case 9:
		v = f->nrecent ? f->recent[u8(in) % f->nrecent] : 0;
		if (sel % 10 == 9)
			v += (uint64_t)((int8_t)u8(in)) * 4 * K;
		return v;
	case 6: {
		unsigned i = u8(in), n = p->n_apertures + p->n_reserved;
		const struct platform_range *r = i % n < p->n_apertures
						     ? &p->apertures[i % n]
						     : &p->reserved[i % n - p->n_apertures];
		v = (i & 0x80) ? r->last + 1 : r->start;
		return v + (uint64_t)((int8_t)u8(in)) * 4 * K;
	}
	case 7:
		return u8(in);
	default:
		return UINT64_C(1) << (u8(in) % 64);
	}
}

/* A length: mostly small page multiples that fit a source, sometimes anything. */
static uint64_t len_val(struct fz *f, struct in *in)
{
	uint8_t sel = u8(in);

	switch (sel % 6) {
	case 0:
	case 1:
		return ((uint64_t)u8(in) % 256 + 1) * 4 * K;
	case 2:
		return val(f, in);
	case 3:
		return 0;
	case 4:
		return un(in, 2);
	default:
		return ((uint64_t)u8(in) % 4 + 1) * 64 * K;
	}
}

static const char *pick(struct in *in, const char *const *names, size_t n, bool allow_bad)
{
	uint8_t b = u8(in);

	if (allow_bad && b >= 0xf0)
		return bad_names[b % N(bad_names)];
	return names[b % n];
}

/* A serial: any (0), the current one, or a stale one. */
static uint64_t serial_of(struct fz *f, struct in *in, enum core_obj kind, const char *name)
{
	uint8_t b = u8(in) % 8;
	uint64_t s = 0;

	if (b < 5)
		return 0;
	if (core_obj_lookup(f->c, kind, name, &s) < 0)
		return b == 7 ? 999999 : 0;
	return b == 7 ? s + 1000 : s;
}

/* ---------------------------------------------------------------- rendering */

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct core_name *)a)->name, ((const struct core_name *)b)->name);
}

/* A listing sorted by name, so that two cores built in different orders render alike. */
static size_t list_sorted(struct fz *f, enum core_obj kind, struct core_name **ret)
{
	size_t n = 0;

	CHECK(core_obj_list(f->c, kind, ret, &n) == 0);
	qsort(*ret, n, sizeof(**ret), by_name);
	return n;
}

/*
 * The whole user-visible state that a refused request must not change. Counters that count
 * refusals (stats maps/errors, the errors ring) are left out; serials are in unless
 * with_serials is false (a restored core has new ones).
 */
static void render(struct fz *f, struct sbuf *sb, bool with_serials)
{
	struct core_name *v, *w;
	size_t n, nw;

	sbuf_reset(sb);
	n = list_sorted(f, CORE_IOAS, &v);
	for (size_t i = 0; i < n; i++) {
		struct core_ioas_ref r = { v[i].name, v[i].serial };

		sbuf_printf(sb, "ioas %s %" PRIu64 "\n", v[i].name, with_serials ? v[i].serial : 0);
		sbuf_printf(sb, " mappings:\n");
		CHECK(core_ioas_show_mappings(f->c, r, sb) == 0);
		sbuf_printf(sb, " iova_ranges:\n");
		CHECK(core_ioas_show_iova_ranges(f->c, r, sb) == 0);
		sbuf_printf(sb, " alignment ");
		CHECK(core_ioas_show_alignment(f->c, r, sb) == 0);
		sbuf_printf(sb, " huge_pages ");
		CHECK(core_ioas_show_huge_pages(f->c, r, sb) == 0);
		CHECK(core_window_list(f->c, r, &w, &nw) == 0);
		qsort(w, nw, sizeof(*w), by_name);
		for (size_t j = 0; j < nw; j++) {
			sbuf_printf(sb, " window %s %" PRIu64 "\n", w[j].name,
				    with_serials ? w[j].serial : 0);
			for (int a = CORE_WIN_STATE; a <= CORE_WIN_LEVELS; a++) {
				sbuf_printf(sb, "  %d ", a);
				CHECK(core_window_show(f->c, r, w[j].name, w[j].serial, a, sb) ==
				      0);
			}
		}
		free(w);
		CHECK(core_ioas_devices(f->c, r, &w, &nw) == 0);
		qsort(w, nw, sizeof(*w), by_name);
		for (size_t j = 0; j < nw; j++)
			sbuf_printf(sb, " device %s\n", w[j].name);
		free(w);
	}
	free(v);

	n = list_sorted(f, CORE_SOURCE, &v);
	for (size_t i = 0; i < n; i++) {
		sbuf_printf(sb, "source %s %" PRIu64 "\n path ", v[i].name,
			    with_serials ? v[i].serial : 0);
		CHECK(core_source_show_path(f->c, v[i].name, v[i].serial, sb) == 0);
		sbuf_printf(sb, " size ");
		CHECK(core_source_show_size(f->c, v[i].name, v[i].serial, sb) == 0);
		sbuf_printf(sb, " users ");
		CHECK(core_source_show_users(f->c, v[i].name, v[i].serial, sb) == 0);
	}
	free(v);

	n = list_sorted(f, CORE_DEVICE, &v);
	for (size_t i = 0; i < n; i++) {
		char io[CORE_NAME_MAX + 1];

		sbuf_printf(sb, "device %s %" PRIu64 "\n ioas %s\n reserved:\n", v[i].name,
			    with_serials ? v[i].serial : 0,
			    core_device_ioas(f->c, v[i].name, v[i].serial, io) ? "-" : io);
		CHECK(core_device_show_reserved(f->c, v[i].name, v[i].serial, sb) == 0);
		CHECK(core_device_show_hw_info(f->c, v[i].name, v[i].serial, sb) == 0);
	}
	free(v);
	CHECK(sb->err == 0);
	if (!sb->buf)
		sbuf_printf(sb, "%s", "");
}

/* ---------------------------------------------------------------- invariants */

struct map_line {
	uint64_t start, last, offset;
	char prot[4];
	char src[CORE_NAME_MAX + 1];
};

/* Parse "START-LAST" lines, checking that they are sorted, disjoint and well-formed. */
static void parse_ranges(const char *s, struct ranges *out)
{
	out->n = 0;
	while (s && *s) {
		uint64_t a, b;
		int len = 0;

		CHECK(sscanf(s, "0x%16" SCNx64 "-0x%16" SCNx64 "\n%n", &a, &b, &len) == 2 && len);
		CHECK(a <= b);
		CHECK(out->n == 0 || out->r[out->n - 1].last < a);
		CHECK(out->n < N(out->r));
		out->r[out->n++] = (struct iova_range){ a, b };
		s += len;
	}
}

/* Is [a, b] covered by the sorted, disjoint ranges (adjacent ones joining)? */
static bool covered(const struct ranges *rs, uint64_t a, uint64_t b)
{
	uint64_t pos = a;

	for (size_t i = 0; i < rs->n; i++) {
		if (rs->r[i].last < pos)
			continue;
		if (rs->r[i].start > pos)
			return false;
		if (rs->r[i].last >= b)
			return true;
		pos = rs->r[i].last + 1;
	}
	return false;
}

static uint64_t stat_line(const char *stats, const char *key)
{
	size_t kl = strlen(key);
	uint64_t v;

	for (const char *s = stats; s && *s; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : "") {
		if (!strncmp(s, key, kl) && s[kl] == ' ') {
			CHECK(sscanf(s + kl + 1, "%" SCNu64, &v) == 1);
			return v;
		}
	}
	CHECK(!"stats line missing");
	return 0;
}

static uint64_t show_u64(int (*show)(struct core *, const char *, uint64_t, struct sbuf *),
			 struct core *c, const char *name, uint64_t serial)
{
	struct sbuf sb;
	uint64_t v = 0;

	sbuf_init(&sb);
	CHECK(show(c, name, serial, &sb) == 0);
	CHECK(sb.buf && sscanf(sb.buf, "%" SCNi64, &v) == 1);
	sbuf_free(&sb);
	return v;
}

static struct ioas_info get_info(struct fz *f, const char *name)
{
	struct ioas_info none = { 0 };

	for (unsigned i = 0; i < f->ninfo; i++)
		if (!strcmp(f->info[i].name, name))
			return f->info[i];
	return none;
}

/* Check the model through the public API, and note each IOAS's info for the next operation. */
static void check_state(struct fz *f)
{
	struct core_name *io, *src, *dev, *w;
	size_t nio, nsrc, ndev, nw;
	uint64_t users[N(src_names) + N(bad_names)] = { 0 }, sizes[N(users)];
	/* static: not reentered, and fresh pages on every call would dominate the run time */
	static struct map_line ml[MAX_MAPS];
	static struct ranges usable_buf, ber_buf;
	struct ranges *usable = &usable_buf, *ber = &ber_buf;
	struct sbuf sb, st;

	sbuf_init(&sb);
	sbuf_init(&st);
	nio = list_sorted(f, CORE_IOAS, &io);
	nsrc = list_sorted(f, CORE_SOURCE, &src);
	ndev = list_sorted(f, CORE_DEVICE, &dev);
	CHECK(nsrc <= N(users));
	for (size_t j = 0; j < nsrc; j++)
		sizes[j] = show_u64(core_source_show_size, f->c, src[j].name, src[j].serial);
	f->ninfo = 0;

	for (size_t i = 0; i < nio; i++) {
		struct core_ioas_ref r = { io[i].name, io[i].serial };
		uint64_t bytes = 0, id, align;
		size_t n = 0, attached = 0, active = 0;
		struct {
			uint64_t a, b;
		} act[CORE_MAX_WINDOWS];
		uint32_t nbe = N(ber->r);
		const char *s;

		/* mappings: sorted, disjoint, counted by stats, found by lookup */
		sbuf_reset(&sb);
		CHECK(core_ioas_show_mappings(f->c, r, &sb) == 0);
		for (s = sb.buf; s && *s;) {
			struct map_line *m = &ml[n];
			uint64_t ls, ll;
			int len = 0;

			CHECK(n < MAX_MAPS);
			CHECK(sscanf(s,
				     "0x%16" SCNx64 "-0x%16" SCNx64
				     " %3s %63[A-Za-z0-9_.:-]+0x%" SCNx64 "\n%n",
				     &m->start, &m->last, m->prot, m->src, &m->offset, &len) == 5 &&
			      len);
			CHECK(m->start <= m->last);
			CHECK(n == 0 || ml[n - 1].last < m->start);
			CHECK(!strcmp(m->prot, "-") || !strcmp(m->prot, "r") ||
			      !strcmp(m->prot, "w") || !strcmp(m->prot, "rw"));
			CHECK(core_ioas_lookup(f->c, r, m->start, &ls, &ll) == 0);
			CHECK(ls == m->start && ll == m->last);
			CHECK(core_ioas_lookup(f->c, r, m->last, &ls, &ll) == 0);
			CHECK(ls == m->start && ll == m->last);
			bytes += m->last - m->start + 1;
			n++;
			s += len;
		}
		sbuf_reset(&st);
		CHECK(core_ioas_show_stats(f->c, r, &st) == 0);
		CHECK(stat_line(st.buf, "mappings") == n);
		CHECK(stat_line(st.buf, "bytes_mapped") == bytes);

		/* each mapping's source exists and the mapping lies inside it */
		for (size_t k = 0; k < n; k++) {
			uint64_t size;
			size_t j;

			for (j = 0; j < nsrc; j++)
				if (!strcmp(src[j].name, ml[k].src))
					break;
			CHECK(j < nsrc);
			users[j]++;
			size = sizes[j];
			CHECK(ml[k].offset <= size &&
			      ml[k].last - ml[k].start < size - ml[k].offset);
		}

		/* windows: counted by stats, disjoint when active, placed as asked */
		CHECK(core_window_list(f->c, r, &w, &nw) == 0);
		CHECK(stat_line(st.buf, "windows") == nw);
		for (size_t j = 0; j < nw; j++) {
			uint64_t start = 0, size = 0, ps = 0, a, b;
			char word[32];

			sbuf_reset(&sb);
			CHECK(core_window_show(f->c, r, w[j].name, w[j].serial, CORE_WIN_STATE,
					       &sb) == 0);
			if (!strcmp(sb.buf, "pending\n"))
				continue;
			CHECK(sscanf(sb.buf, "active 0x%16" SCNx64 "-0x%16" SCNx64, &a, &b) == 2);
			CHECK(a <= b);
			for (size_t k = 0; k < active; k++)
				CHECK(b < act[k].a || a > act[k].b);
			act[active].a = a;
			act[active++].b = b;
			sbuf_reset(&sb);
			CHECK(core_window_show(f->c, r, w[j].name, w[j].serial, CORE_WIN_START,
					       &sb) == 0);
			if (sscanf(sb.buf, "%31s", word) == 1 && strcmp(word, "auto"))
				CHECK(sscanf(word, "%" SCNi64, &start) == 1 && start == a);
			sbuf_reset(&sb);
			CHECK(core_window_show(f->c, r, w[j].name, w[j].serial, CORE_WIN_SIZE,
					       &sb) == 0);
			CHECK(sscanf(sb.buf, "%" SCNi64, &size) == 1 && size == b - a + 1);
			sbuf_reset(&sb);
			CHECK(core_window_show(f->c, r, w[j].name, w[j].serial, CORE_WIN_PAGE_SIZE,
					       &sb) == 0);
			if (strcmp(sb.buf, "auto\n"))
				CHECK(sscanf(sb.buf, "%" SCNi64, &ps) == 1);
			else
				ps = platform_min_page(f->plat);
			CHECK(ps && a % ps == 0 && size % ps == 0);
		}
		free(w);
		CHECK(!f->plat->max_windows || active <= f->plat->max_windows);
		/*
		 * man 5: a mapping is inside the active windows or outside all of them; windows
		 * that touch count as one range (the kernel's allocator spans them).
		 */
		for (size_t k = 0; k < n; k++)
			for (size_t j = 0; j < active; j++) {
				uint64_t a = act[j].a, b = act[j].b;

				for (size_t m2 = 0; m2 < active; m2++) /* grow over touching ones */
					for (size_t q = 0; q < active; q++) {
						if (b != UINT64_MAX && act[q].a == b + 1)
							b = act[q].b;
						if (a != 0 && act[q].b == a - 1)
							a = act[q].a;
					}
				CHECK(ml[k].last < a || ml[k].start > b ||
				      (ml[k].start >= a && ml[k].last <= b));
			}

		/* attachments agree from both sides */
		CHECK(core_ioas_devices(f->c, r, &w, &nw) == 0);
		CHECK(stat_line(st.buf, "devices") == nw);
		for (size_t j = 0; j < nw; j++) {
			char name[CORE_NAME_MAX + 1];

			CHECK(core_device_ioas(f->c, w[j].name, 0, name) == 0);
			CHECK(!strcmp(name, io[i].name));
		}
		free(w);
		for (size_t j = 0; j < ndev; j++) {
			char name[CORE_NAME_MAX + 1];

			if (!core_device_ioas(f->c, dev[j].name, 0, name) &&
			    !strcmp(name, io[i].name))
				attached++;
		}
		CHECK(attached == nw);

		/* iova_ranges: well-formed, and what the backend itself reports */
		sbuf_reset(&sb);
		CHECK(core_ioas_show_iova_ranges(f->c, r, &sb) == 0);
		parse_ranges(sb.buf, usable);
		sbuf_reset(&sb);
		CHECK(core_ioas_show_id(f->c, r, &sb) == 0);
		CHECK(sscanf(sb.buf, "%" SCNu64, &id) == 1);
		CHECK(f->be->ops->iova_ranges(f->be, (uint32_t)id, ber->r, &nbe, &align) == 0);
		ber->n = nbe;
		/* the backend reports the holes of its reserved set (allowed ranges aside) */
		for (size_t j = 0; j < usable->n; j++)
			CHECK(covered(ber, usable->r[j].start, usable->r[j].last));
		if (f->ninfo < MAX_INFO) {
			struct ioas_info *in = &f->info[f->ninfo++];

			snprintf(in->name, sizeof(in->name), "%s", io[i].name);
			in->bytes_mapped = bytes;
			in->n_maps = n;
			in->usable = *usable;
		}
	}

	/* users of each source = mapping lines naming it, across IOASes */
	for (size_t j = 0; j < nsrc; j++)
		CHECK(show_u64(core_source_show_users, f->c, src[j].name, src[j].serial) ==
		      users[j]);

	free(io);
	free(src);
	free(dev);
	sbuf_free(&sb);
	sbuf_free(&st);
}

/* ---------------------------------------------------------------- operations */

enum op {
	OP_IOAS_CREATE,
	OP_IOAS_REMOVE,
	OP_WIN_CREATE,
	OP_WIN_REMOVE,
	OP_WIN_STORE,
	OP_SRC_CREATE,
	OP_SRC_REMOVE,
	OP_SRC_SET,
	OP_DEV_CREATE,
	OP_DEV_REMOVE,
	OP_DEV_RESERVED,
	OP_DEV_ATTACH,
	OP_DEV_DETACH,
	OP_MAP,
	OP_MAP2,
	OP_UNMAP,
	OP_BATCH,
	OP_BATCH2,
	OP_HUGE_PAGES,
	OP_SAVE_RESTORE,
	OP_MAX,
};

static const char *const op_names[OP_MAX] = {
	"ioas create",	   "ioas remove",   "window create", "window remove", "window store",
	"source create",   "source remove", "source set",    "device create", "device remove",
	"device reserved", "device attach", "device detach", "map",	      "map",
	"unmap",	   "batch",	    "batch",	     "huge_pages",    "save/restore",
};

/* The form checks of the daemon's batch_decode(), applied by construction. */
static void make_cmd(struct fz *f, struct in *in, struct ioasfs_cmd *c)
{
	uint8_t b = u8(in);
	bool named, fixed;
	const char *name;

	memset(c, 0, sizeof(*c));
	c->version = IOASFS_BATCH_VERSION;
	/* not MAP_FD*: they take descriptors out of a real process (tests/batch/dma-fd) */
	c->opcode = b % IOASFS_OP_MAP_FD;
	c->user_data = un(in, 2);
	c->iova = val(f, in);
	c->length = len_val(f, in);
	c->offset = (b & 0x80) ? val(f, in) : (uint64_t)(u8(in) % 64) * 4 * K;
	named = c->opcode == IOASFS_OP_MAP || c->opcode == IOASFS_OP_MAP_FIXED ||
		c->opcode == IOASFS_OP_COPY;
	if (c->opcode == IOASFS_OP_UNMAP && (b & 0x40))
		c->flags = IOASFS_CMD_UNMAP_ALL;
	if (c->opcode == IOASFS_OP_COPY && (b & 0x40))
		c->flags = IOASFS_CMD_COPY_FIXED;
	fixed = c->opcode == IOASFS_OP_MAP_FIXED ||
		(c->opcode == IOASFS_OP_UNMAP && !(c->flags & IOASFS_CMD_UNMAP_ALL)) ||
		(c->opcode == IOASFS_OP_COPY && (c->flags & IOASFS_CMD_COPY_FIXED));
	if (named) {
		c->prot = (b >> 3) & 3;
		if (c->opcode == IOASFS_OP_COPY)
			name = pick(in, ioas_names, N(ioas_names), false);
		else
			name = pick(in, src_names, N(src_names), false);
		if (u8(in) == 0xff)
			name = "nosuch";
		snprintf(c->name, sizeof(c->name), "%s", name);
	}
	/* no address + length that wraps */
	if (c->length && fixed && c->iova + (c->length - 1) < c->iova)
		c->length = UINT64_MAX - c->iova + 1;
	if (c->length && named && c->offset + (c->length - 1) < c->offset)
		c->length = UINT64_MAX - c->offset + 1;
	if (c->length && fixed && c->iova + (c->length - 1) < c->iova)
		c->length = 1;
}

static char *memfd_text(const char *text, size_t len, int *ret_fd)
{
	char *path = malloc(64);
	int fd = memfd_create("fuzz-save", MFD_CLOEXEC);

	CHECK(path && fd >= 0);
	CHECK(write(fd, text, len) == (ssize_t)len);
	snprintf(path, 64, "/proc/self/fd/%d", fd);
	*ret_fd = fd;
	return path;
}

/* core_save, then core_restore into a fresh core: the same rendered state. */
static void save_restore(struct fz *f)
{
	struct fz g = { 0 };
	struct sbuf saved, a;
	char err[512] = "";
	char *path;
	int fd, r;

	sbuf_init(&saved);
	sbuf_init(&a);
	CHECK(core_save(f->c, &saved) == 0);
	CHECK(saved.buf);
	CHECK(sim_backend_create(f->plat, &g.be) == 0);
	CHECK(core_create(g.be, f->plat, &g.c) == 0);
	g.plat = f->plat;
	path = memfd_text(saved.buf, saved.len, &fd);
	r = core_restore(g.c, path, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "fuzz_core: restore of a save failed: %s (%d)\n--- save ---\n%s",
			err, r, saved.buf);
		CHECK(!"a saved configuration restores");
	}
	render(f, &a, false);
	render(&g, &f->after, false);
	f->after_valid = true; /* "after" is the restored core here */
	if (strcmp(a.buf, f->after.buf)) {
		fprintf(stderr, "fuzz_core: restore differs\n--- save ---\n%s--- original ---\n%s",
			saved.buf, a.buf);
		sbuf_reset(&f->before);
		CHECK(!"a restored configuration renders as the saved one");
	}
	check_state(&g);
	close(fd);
	free(path);
	sbuf_free(&saved);
	sbuf_free(&a);
	core_destroy(g.c);
	g.be->ops->close(g.be);
}

static void run_op(struct fz *f, struct in *in)
{
	enum op op = (enum op)(u8(in) % OP_MAX);
	struct ioas_info pre, post;
	bool checked = false;
	const char *ioas = pick(in, ioas_names, N(ioas_names), true);
	struct core_ioas_ref ref = { ioas, 0 };
	bool unchanged_ok = false; /* the op changed nothing, whatever it returned */
	int r = 0;

	f->what = op_names[op];
	ref.serial = serial_of(f, in, CORE_IOAS, ioas);
	if (!f->rendered) {
		render(f, &f->after, true);
		check_state(f);
		f->rendered = true;
	}
	/* the state after the last operation is the state before this one */
	{
		struct sbuf t = f->before;

		f->before = f->after;
		f->after = t;
		f->after_valid = false;
	}
	pre = get_info(f, ioas);

	switch (op) {
	case OP_IOAS_CREATE:
		r = core_obj_create(f->c, &rq, CORE_IOAS, ioas);
		break;
	case OP_IOAS_REMOVE:
		r = core_obj_remove(f->c, &rq, CORE_IOAS, ioas);
		break;
	case OP_WIN_CREATE:
		r = core_window_create(f->c, &rq, ref, pick(in, win_names, N(win_names), true));
		break;
	case OP_WIN_REMOVE:
		r = core_window_remove(f->c, &rq, ref, pick(in, win_names, N(win_names), true));
		break;
	case OP_WIN_STORE: {
		const char *w = pick(in, win_names, N(win_names), true);
		uint8_t b = u8(in);
		enum core_win_attr attr = (enum core_win_attr)(b % 4);
		uint64_t serial = 0, v;

		if ((b & 0x30) == 0x30 && core_window_lookup(f->c, ref, w, &serial) == 0)
			serial += (b & 0x40) ? 1 : 0;
		switch (attr) {
		case CORE_WIN_LEVELS:
			v = (b & 0x80) ? CORE_AUTO : u8(in) % 8;
			break;
		case CORE_WIN_PAGE_SIZE:
			v = (b & 0x80) ? CORE_AUTO : val(f, in);
			break;
		case CORE_WIN_START:
			v = (b & 0x80) ? CORE_AUTO : val(f, in);
			break;
		default: /* size: small multiples of the page sizes, or anything */
			v = (b & 0x80) ? ((uint64_t)u8(in) + 1) * ((b & 0x40) ? 4 * K : 64 * K)
				       : val(f, in);
		}
		r = core_window_store(f->c, &rq, ref, w, serial, attr, v);
		break;
	}
	case OP_SRC_CREATE:
		r = core_obj_create(f->c, &rq, CORE_SOURCE,
				    pick(in, src_names, N(src_names), true));
		break;
	case OP_SRC_REMOVE:
		r = core_obj_remove(f->c, &rq, CORE_SOURCE,
				    pick(in, src_names, N(src_names), true));
		break;
	case OP_SRC_SET: {
		const char *s = pick(in, src_names, N(src_names), true);
		uint64_t serial = serial_of(f, in, CORE_SOURCE, s);
		uint8_t b = u8(in);
		uint64_t size = (b & 0x80) ? (uint64_t)un(in, 3) % (MAX_SRC_SIZE + 1)
					   : ((uint64_t)(b % 64) + 1) * 16 * K;

		r = core_source_set(f->c, &rq, s, serial, true, size, NULL);
		break;
	}
	case OP_DEV_CREATE:
		r = core_obj_create(f->c, &rq, CORE_DEVICE,
				    pick(in, dev_names, N(dev_names), true));
		break;
	case OP_DEV_REMOVE:
		r = core_obj_remove(f->c, &rq, CORE_DEVICE,
				    pick(in, dev_names, N(dev_names), true));
		break;
	case OP_DEV_RESERVED: {
		const char *d = pick(in, dev_names, N(dev_names), true);
		uint64_t serial = serial_of(f, in, CORE_DEVICE, d);
		struct platform_range regs[5];
		unsigned num = u8(in) % 5;

		memset(regs, 0, sizeof(regs));
		for (unsigned i = 0; i < num; i++) {
			uint64_t a = val(f, in),
				 b = (u8(in) & 1) ? val(f, in) : a + len_val(f, in) - 1;

			/* the frontend's parse_range gives start <= last */
			regs[i].start = a < b ? a : b;
			regs[i].last = a < b ? b : a;
			snprintf(regs[i].kind, sizeof(regs[i].kind), "%s",
				 kinds[u8(in) % N(kinds)]);
		}
		r = core_device_store_reserved(f->c, &rq, d, serial, regs, num);
		break;
	}
	case OP_DEV_ATTACH: {
		const char *d = pick(in, dev_names, N(dev_names), true);

		r = core_device_attach(f->c, &rq, d, serial_of(f, in, CORE_DEVICE, d), ioas);
		break;
	}
	case OP_DEV_DETACH: {
		const char *d = pick(in, dev_names, N(dev_names), true);

		r = core_device_detach(f->c, &rq, d, serial_of(f, in, CORE_DEVICE, d));
		break;
	}
	case OP_MAP:
	case OP_MAP2: {
		uint8_t b = u8(in);
		struct core_map_cmd m = {
			.fixed = b & 1,
			.prot = (b >> 1) & 3,
			.source = pick(in, src_names, N(src_names), true),
		};
		uint64_t iova = 0xdead;

		m.iova = m.fixed ? val(f, in) : 0;
		m.length = len_val(f, in);
		m.offset = (b & 0x80) ? val(f, in) : (uint64_t)(u8(in) % 64) * 4 * K;
		if (trace)
			fprintf(stderr,
				"fuzz_core: map %s 0x%" PRIx64 " length 0x%" PRIx64 " %s+0x%" PRIx64
				" prot %u\n",
				m.fixed ? "fixed" : "auto", m.iova, m.length, m.source, m.offset,
				m.prot);
		r = core_map(f->c, &rq, ref, &m, &iova);
		if (trace && r == 0)
			fprintf(stderr, "fuzz_core: map at 0x%" PRIx64 "\n", iova);
		if (r == 0) {
			remember(f, iova);
			CHECK(!m.fixed || iova == m.iova);
			CHECK(m.length && iova + (m.length - 1) >= iova);
			/* an auto map lands inside the usable ranges (fixed ones need not: man 5)
			 */
			CHECK(m.fixed || covered(&pre.usable, iova, iova + m.length - 1));
			check_state(f);
			checked = true;
			post = get_info(f, ioas);
			CHECK(post.n_maps == pre.n_maps + 1);
			CHECK(post.bytes_mapped == pre.bytes_mapped + m.length);
			CHECK(core_ioas_lookup(f->c, ref, iova, &m.iova, &m.length) == 0);
		}
		break;
	}
	case OP_UNMAP: {
		uint8_t b = u8(in);
		bool all = (b & 7) == 7;
		uint64_t iova = val(f, in), length = (b & 8) ? val(f, in) : len_val(f, in);
		uint64_t done = 0xdead;

		r = core_unmap(f->c, &rq, ref, all, iova, length, &done);
		if (r == 0) {
			/* the model drops exactly what the backend unmapped */
			check_state(f);
			checked = true;
			post = get_info(f, ioas);
			CHECK(pre.bytes_mapped - post.bytes_mapped == done);
		}
		break;
	}
	case OP_BATCH:
	case OP_BATCH2: {
		struct ioasfs_cmd cmds[MAX_BATCH];
		struct ioasfs_cqe cqes[MAX_BATCH];
		unsigned n = u8(in) % MAX_BATCH + 1;
		bool did = false;

		for (unsigned i = 0; i < n; i++)
			make_cmd(f, in, &cmds[i]);
		memset(cqes, 0xa5, sizeof(cqes));
		r = core_batch(f->c, &rq, ref, cmds, n, cqes);
		if (r < 0)
			break;
		for (unsigned i = 0; i < n; i++) {
			CHECK(cqes[i].user_data == cmds[i].user_data);
			CHECK(cqes[i].flags == 0);
			CHECK(cqes[i].res <= 0);
			if (cqes[i].res == 0 && cmds[i].opcode != IOASFS_OP_NOP)
				did = true;
			if (cqes[i].res == 0 && (cmds[i].opcode == IOASFS_OP_MAP ||
						 cmds[i].opcode == IOASFS_OP_MAP_FIXED ||
						 cmds[i].opcode == IOASFS_OP_COPY))
				remember(f, cqes[i].iova);
		}
		/* a single map that succeeded is where the completion says */
		if (n == 1 && cqes[0].res == 0 &&
		    (cmds[0].opcode == IOASFS_OP_MAP || cmds[0].opcode == IOASFS_OP_MAP_FIXED)) {
			uint64_t s, l;

			CHECK(core_ioas_lookup(f->c, ref, cqes[0].iova, &s, &l) == 0);
			CHECK(s == cqes[0].iova && l - s + 1 == cmds[0].length);
			CHECK(cmds[0].opcode == IOASFS_OP_MAP_FIXED || covered(&pre.usable, s, l));
		}
		unchanged_ok = !did;
		break;
	}
	case OP_HUGE_PAGES: {
		uint8_t b = u8(in);

		r = core_ioas_store_huge_pages(f->c, &rq, ref, b < 0xf0 ? b & 1 : val(f, in));
		break;
	}
	case OP_SAVE_RESTORE:
		/* a round trip rebuilds everything: the first few of an input find what it can */
		if (f->saves++ < MAX_SAVES)
			save_restore(f);
		unchanged_ok = true;
		break;
	default:
		break;
	}

	if (trace)
		fprintf(stderr, "fuzz_core: %-15s ioas %-7s -> %d %s\n", op_names[op], ioas, r,
			r < 0 ? errno_name(r) : "");
	render(f, &f->after, true);
	f->after_valid = true;
	if ((r < 0 || unchanged_ok) && strcmp(f->before.buf, f->after.buf)) {
		fprintf(stderr, "fuzz_core: %s returned %d (%s) but changed the state\n",
			op_names[op], r, errno_name(r));
		CHECK(!"a refused request changes nothing");
	}
	/* an unchanged state (checked just above) holds what it held after the last check */
	if (!checked && r >= 0 && !unchanged_ok)
		check_state(f);
	/* feed the windows' placements back as addresses */
	if (f->after.buf) {
		const char *s = f->after.buf;

		while ((s = strstr(s, "active 0x"))) {
			uint64_t a = 0, b = 0;

			if (sscanf(s, "active 0x%16" SCNx64 "-0x%16" SCNx64, &a, &b) == 2) {
				remember(f, a);
				remember(f, b + 1);
			}
			s += 9;
		}
	}
	f->what = NULL;
}

static void init_platforms(void)
{
	static bool done;
	char err[160];

	if (done)
		return;
	trace = getenv("FUZZ_CORE_TRACE") && strcmp(getenv("FUZZ_CORE_TRACE"), "0");
	for (int i = 0; i < 4; i++)
		CHECK(platform_builtin(platform_builtin_names[i], &plats[i]) == 0);
	CHECK(platform_parse(tiny_profile, strlen(tiny_profile), "tiny", &plats[4], err,
			     sizeof(err)) == 0);
	done = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	struct fz f = { 0 };

	if (size < 2)
		return 0;
	init_platforms();
	f.plat = &plats[u8(&in) % N_PLAT];
	CHECK(sim_backend_create(f.plat, &f.be) == 0);
	CHECK(core_create(f.be, f.plat, &f.c) == 0);
	sbuf_init(&f.before);
	sbuf_init(&f.after);
	cur = &f;
	for (int i = 0; i < MAX_OPS && in.n; i++)
		run_op(&f, &in);
	cur = NULL;
	sbuf_free(&f.before);
	sbuf_free(&f.after);
	core_destroy(f.c);
	f.be->ops->close(f.be);
	return 0;
}
