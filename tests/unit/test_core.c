/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for the core object model on the sim backend. They check ioasfs's own rules
 * through the public core API only, and read results back as the user would (the rendered
 * text of iova_ranges, mappings, stats, window attributes and errors): window placement
 * (fixed and automatic first fit, alignment, every refusal with its errno), the usable ranges
 * of each built-in profile, map and unmap validation and bookkeeping, memory sources, devices
 * and their reserved regions, object names and limits, status, alignment, huge_pages and the
 * errors ring. Every refusal is checked to change nothing (the rendered state is compared
 * before and after) and to leave exactly one line in `errors` that names the object. A threaded
 * run of maps, unmaps, window changes and device moves checks that the model stays consistent
 * with itself and with the backend.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend/backend.h"
#include "core/core.h"
#include "util/platform.h"
#include "util/sbuf.h"
#include "failmalloc.h"

#define K (UINT64_C(1) << 10)
#define M (UINT64_C(1) << 20)
#define G (UINT64_C(1) << 30)
#define T (UINT64_C(1) << 40)

#define RW (CORE_PROT_READ | CORE_PROT_WRITE)

/* iova_ranges of an x86-vtd IOAS without windows. */
#define X86_PLAIN "0x0000000000000000-0x00000000fedfffff\n0x00000000fef00000-0x0000ffffffffffff\n"

static struct backend *be;
static struct core *c;
static const struct core_req rq = { .pid = 4242, .uid = 0, .gid = 0, .path = "/test" };

/* ---------------------------------------------------------------- set-up and text helpers */

/* Rendered strings live until the end of the test (main thread only). */
#define KEEP_MAX 8192
static char *kept[KEEP_MAX];
static size_t nkept;

static char *keep(char *s)
{
	ck_assert_ptr_nonnull(s);
	ck_assert_msg(nkept < KEEP_MAX, "too many kept strings");
	kept[nkept++] = s;
	return s;
}

static void teardown(void);

static void setup_platform(const struct platform *p)
{
	/* With CK_FORK=no a failed test leaves its core behind. */
	if (c)
		teardown();
	ck_assert_int_eq(sim_backend_create(p, &be), 0);
	ck_assert_int_eq(core_create(be, p, &c), 0);
}

static void setup(const char *profile)
{
	struct platform p;

	ck_assert_int_eq(platform_builtin(profile, &p), 0);
	setup_platform(&p);
}

static void teardown(void)
{
	core_destroy(c);
	be->ops->close(be);
	c = NULL;
	be = NULL;
	while (nkept)
		free(kept[--nkept]);
}

static struct core_ioas_ref ref(const char *ioas)
{
	return (struct core_ioas_ref){ ioas, 0 };
}

static char *sb_take(struct sbuf *sb)
{
	char *s;

	ck_assert_int_eq(sb->err, 0);
	s = strdup(sb->buf ? sb->buf : "");
	sbuf_free(sb);
	return s;
}

typedef int (*ioas_show_fn)(struct core *, struct core_ioas_ref, struct sbuf *);

static char *ioas_text(ioas_show_fn fn, const char *ioas)
{
	struct sbuf sb;
	int r;

	sbuf_init(&sb);
	r = fn(c, ref(ioas), &sb);
	ck_assert_msg(r == 0, "show on ioas %s: %d", ioas, r);
	return keep(sb_take(&sb));
}

#define RANGES(io)   ioas_text(core_ioas_show_iova_ranges, io)
#define MAPPINGS(io) ioas_text(core_ioas_show_mappings, io)

static char *win_text(const char *ioas, const char *win, int attr)
{
	struct sbuf sb;
	int r;

	sbuf_init(&sb);
	r = core_window_show(c, ref(ioas), win, 0, attr, &sb);
	ck_assert_msg(r == 0, "show window %s/%s: %d", ioas, win, r);
	return keep(sb_take(&sb));
}

#define STATE(io, w) win_text(io, w, CORE_WIN_STATE)

typedef int (*named_show_fn)(struct core *, const char *, uint64_t, struct sbuf *);

static char *named_text(named_show_fn fn, const char *name)
{
	struct sbuf sb;
	int r;

	sbuf_init(&sb);
	r = fn(c, name, 0, &sb);
	ck_assert_msg(r == 0, "show %s: %d", name, r);
	return keep(sb_take(&sb));
}

static char *errors_text(void)
{
	struct sbuf sb;

	sbuf_init(&sb);
	core_show_errors(c, &sb);
	return keep(sb_take(&sb));
}

static unsigned errors_count(void)
{
	unsigned n = 0;

	for (const char *p = errors_text(); *p; p++)
		n += *p == '\n';
	/* A full ring would hide new lines from the counting below. */
	ck_assert_uint_lt(n, CORE_ERRORS_RING);
	return n;
}

static const char *errors_last(void)
{
	char *t = errors_text();
	size_t len = strlen(t);
	char *p;

	ck_assert_msg(len > 0, "errors is empty");
	t[len - 1] = '\0';
	p = strrchr(t, '\n');
	return p ? p + 1 : t;
}

static uint64_t stat_of(const char *ioas, const char *key)
{
	char *t = ioas_text(core_ioas_show_stats, ioas);
	size_t kl = strlen(key);

	for (char *line = t; *line;) {
		char *nl = strchr(line, '\n');

		if (!strncmp(line, key, kl) && line[kl] == ' ')
			return strtoull(line + kl + 1, NULL, 10);
		if (!nl)
			break;
		line = nl + 1;
	}
	ck_abort_msg("no stat '%s' in:\n%s", key, t);
	return 0;
}

static void mk(enum core_obj kind, const char *name)
{
	int r = core_obj_create(c, &rq, kind, name);

	ck_assert_msg(r == 0, "create %s: %d", name, r);
}

static void mkwin(const char *ioas, const char *win)
{
	int r = core_window_create(c, &rq, ref(ioas), win);

	ck_assert_msg(r == 0, "create window %s/%s: %d", ioas, win, r);
}

static int wset(const char *ioas, const char *win, enum core_win_attr attr, uint64_t val)
{
	return core_window_store(c, &rq, ref(ioas), win, 0, attr, val);
}

static void wset_ok(const char *ioas, const char *win, enum core_win_attr attr, uint64_t val)
{
	int r = wset(ioas, win, attr, val);

	ck_assert_msg(r == 0, "window %s/%s attr %d = 0x%" PRIx64 ": %d (%s)", ioas, win, attr, val,
		      r, errors_last());
}

/* A window with start (or CORE_AUTO) and size; returns its state text. */
static char *window(const char *ioas, const char *win, uint64_t start, uint64_t size)
{
	mkwin(ioas, win);
	if (start != CORE_AUTO)
		wset_ok(ioas, win, CORE_WIN_START, start);
	wset_ok(ioas, win, CORE_WIN_SIZE, size);
	return STATE(ioas, win);
}

static void anon(const char *src, uint64_t size)
{
	int r;

	mk(CORE_SOURCE, src);
	r = core_source_set(c, &rq, src, 0, true, size, NULL);
	ck_assert_msg(r == 0, "anon source %s: %d", src, r);
}

static int map_cmd(const char *ioas, bool fixed, uint64_t iova, uint64_t len, const char *src,
		   uint64_t off, unsigned prot, uint64_t *ret)
{
	struct core_map_cmd m = {
		.fixed = fixed,
		.iova = fixed ? iova : 0,
		.length = len,
		.source = src,
		.offset = off,
		.prot = prot,
	};
	uint64_t dummy;

	return core_map(c, &rq, ref(ioas), &m, ret ? ret : &dummy);
}

static int map_at(const char *ioas, uint64_t iova, uint64_t len, const char *src, uint64_t off,
		  unsigned prot)
{
	return map_cmd(ioas, true, iova, len, src, off, prot, NULL);
}

static void map_at_ok(const char *ioas, uint64_t iova, uint64_t len, const char *src)
{
	int r = map_at(ioas, iova, len, src, 0, RW);

	ck_assert_msg(r == 0, "map 0x%" PRIx64 "+0x%" PRIx64 ": %d", iova, len, r);
}

static uint64_t map_auto_ok(const char *ioas, uint64_t len, const char *src, uint64_t off)
{
	uint64_t iova = 0;
	int r = map_cmd(ioas, false, 0, len, src, off, RW, &iova);

	ck_assert_msg(r == 0, "map auto 0x%" PRIx64 ": %d", len, r);
	return iova;
}

static int unmap(const char *ioas, uint64_t iova, uint64_t len, uint64_t *ret)
{
	uint64_t dummy;

	return core_unmap(c, &rq, ref(ioas), false, iova, len, ret ? ret : &dummy);
}

/* Everything a user can see of one IOAS except the errors statistic. */
static char *ioas_state(const char *ioas)
{
	struct core_name *w = NULL;
	struct sbuf sb;
	size_t n = 0;
	char *stats;

	sbuf_init(&sb);
	sbuf_printf(&sb, "iova_ranges:\n%s", RANGES(ioas));
	sbuf_printf(&sb, "mappings:\n%s", MAPPINGS(ioas));
	stats = ioas_text(core_ioas_show_stats, ioas);
	for (char *line = stats; *line;) {
		char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) + 1 : strlen(line);

		if (strncmp(line, "errors ", 7))
			sbuf_add(&sb, line, len);
		line += len;
	}
	ck_assert_int_eq(core_window_list(c, ref(ioas), &w, &n), 0);
	for (size_t i = 0; i < n; i++) {
		sbuf_printf(&sb, "window %s: start %s", w[i].name,
			    win_text(ioas, w[i].name, CORE_WIN_START));
		sbuf_printf(&sb, " size %s", win_text(ioas, w[i].name, CORE_WIN_SIZE));
		sbuf_printf(&sb, " page_size %s", win_text(ioas, w[i].name, CORE_WIN_PAGE_SIZE));
		sbuf_printf(&sb, " levels %s", win_text(ioas, w[i].name, CORE_WIN_LEVELS));
		sbuf_printf(&sb, " state %s", STATE(ioas, w[i].name));
	}
	free(w);
	return keep(sb_take(&sb));
}

/* Does line name "KIND NAME" as a whole word (followed by a space, colon or end)? */
static bool names(const char *line, const char *kind, const char *name)
{
	char want[160];
	size_t len;

	len = (size_t)snprintf(want, sizeof(want), "%s %s", kind, name);
	for (const char *p = strstr(line, want); p; p = strstr(p + 1, want)) {
		char next = p[len];

		if (next == ' ' || next == ':' || next == '-' || next == '\0')
			return true;
	}
	return false;
}

struct before {
	const char *ioas;
	char *state;
	unsigned nerr;
	uint64_t ioas_errors;
};

static struct before snap(const char *ioas)
{
	struct before b = { .ioas = ioas };

	b.state = ioas_state(ioas);
	b.nerr = errors_count();
	b.ioas_errors = stat_of(ioas, "errors");
	return b;
}

/*
 * A refusal: the errno, nothing visible changed, exactly one new error line naming
 * "kind name" (and containing `why` unless NULL), and the IOAS's errors statistic bumped
 * when counted is true.
 */
static void refused_(const struct before *b, int got, int want, const char *kind, const char *name,
		     const char *why, bool counted, const char *what, int line)
{
	const char *last;

	ck_assert_msg(got == want, "line %d: %s: got %d (%s), want %d (%s)", line, what, got,
		      strerror(-got), want, strerror(-want));
	ck_assert_str_eq(ioas_state(b->ioas), b->state);
	ck_assert_msg(errors_count() == b->nerr + 1, "line %d: %s: %u new error lines", line, what,
		      errors_count() - b->nerr);
	last = errors_last();
	ck_assert_msg(names(last, kind, name), "line %d: error does not name %s %s: %s", line, kind,
		      name, last);
	ck_assert_msg(!why || strstr(last, why), "line %d: error lacks \"%s\": %s", line, why,
		      last);
	ck_assert_msg(strstr(last, " 4242 /test: "), "line %d: error lacks pid and path: %s", line,
		      last);
	if (counted)
		ck_assert_uint_eq(stat_of(b->ioas, "errors"), b->ioas_errors + 1);
}

#define REFUSED(io, call, want, kind, name, why)                                                   \
	do {                                                                                       \
		struct before b_ = snap(io);                                                       \
		int r_ = (call);                                                                   \
		refused_(&b_, r_, want, kind, name, why, true, #call, __LINE__);                   \
	} while (0)

/* Refusals that core_error() records without an IOAS's errors statistic. */
#define REFUSED_NC(io, call, want, kind, name, why)                                                \
	do {                                                                                       \
		struct before b_ = snap(io);                                                       \
		int r_ = (call);                                                                   \
		refused_(&b_, r_, want, kind, name, why, false, #call, __LINE__);                  \
	} while (0)

/* ---------------------------------------------------------------- windows: placement */

START_TEST(test_window_fixed)
{
	setup("x86-vtd");
	mk(CORE_IOAS, "vm");
	mkwin("vm", "w");
	ck_assert_str_eq(STATE("vm", "w"), "pending\n");
	ck_assert_str_eq(win_text("vm", "w", CORE_WIN_START), "auto\n");
	ck_assert_str_eq(win_text("vm", "w", CORE_WIN_SIZE), "\n");
	ck_assert_str_eq(win_text("vm", "w", CORE_WIN_PAGE_SIZE), "auto\n");
	ck_assert_str_eq(win_text("vm", "w", CORE_WIN_LEVELS), "auto\n");
	/* A pending window constrains nothing. */
	ck_assert_str_eq(RANGES("vm"), X86_PLAIN);

	wset_ok("vm", "w", CORE_WIN_START, 0x40000000);
	ck_assert_str_eq(STATE("vm", "w"), "pending\n");
	wset_ok("vm", "w", CORE_WIN_SIZE, G);
	ck_assert_str_eq(STATE("vm", "w"), "active 0x0000000040000000-0x000000007fffffff\n");
	ck_assert_str_eq(win_text("vm", "w", CORE_WIN_START), "0x40000000\n");
	ck_assert_str_eq(win_text("vm", "w", CORE_WIN_SIZE), "0x40000000\n");
	ck_assert_str_eq(RANGES("vm"), "0x0000000040000000-0x000000007fffffff\n");
	ck_assert_uint_eq(stat_of("vm", "windows"), 1);

	/* Moving and resizing an active window without mappings. */
	wset_ok("vm", "w", CORE_WIN_START, 0x100000000);
	ck_assert_str_eq(STATE("vm", "w"), "active 0x0000000100000000-0x000000013fffffff\n");
	wset_ok("vm", "w", CORE_WIN_SIZE, 2 * M);
	ck_assert_str_eq(STATE("vm", "w"), "active 0x0000000100000000-0x00000001001fffff\n");
	wset_ok("vm", "w", CORE_WIN_PAGE_SIZE, 2 * M);
	wset_ok("vm", "w", CORE_WIN_LEVELS, 1);
	ck_assert_str_eq(win_text("vm", "w", CORE_WIN_PAGE_SIZE), "0x200000\n");
	ck_assert_str_eq(win_text("vm", "w", CORE_WIN_LEVELS), "1\n");
	wset_ok("vm", "w", CORE_WIN_LEVELS, CORE_AUTO);
	ck_assert_str_eq(win_text("vm", "w", CORE_WIN_LEVELS), "auto\n");

	/* Windows touching each other and the reserved range are fine. */
	ck_assert_str_eq(window("vm", "below", 0xfec00000, 2 * M),
			 "active 0x00000000fec00000-0x00000000fedfffff\n");
	ck_assert_str_eq(window("vm", "above", 0xfef00000, M),
			 "active 0x00000000fef00000-0x00000000feffffff\n");
	ck_assert_str_eq(window("vm", "next", 0xff000000, M),
			 "active 0x00000000ff000000-0x00000000ff0fffff\n");
	ck_assert_str_eq(RANGES("vm"), "0x00000000fec00000-0x00000000fedfffff\n"
				       "0x00000000fef00000-0x00000000feffffff\n"
				       "0x00000000ff000000-0x00000000ff0fffff\n"
				       "0x0000000100000000-0x00000001001fffff\n");
	/* The top of the aperture. */
	ck_assert_str_eq(window("vm", "top", (UINT64_C(1) << 48) - G, G),
			 "active 0x0000ffffc0000000-0x0000ffffffffffff\n");

	/* Removing a window gives its range back. */
	ck_assert_int_eq(core_window_remove(c, &rq, ref("vm"), "w"), 0);
	ck_assert_int_eq(core_window_remove(c, &rq, ref("vm"), "w"), -ENOENT);
	ck_assert_int_eq(core_window_remove(c, &rq, ref("vm"), "below"), 0);
	ck_assert_int_eq(core_window_remove(c, &rq, ref("vm"), "above"), 0);
	ck_assert_int_eq(core_window_remove(c, &rq, ref("vm"), "next"), 0);
	ck_assert_int_eq(core_window_remove(c, &rq, ref("vm"), "top"), 0);
	ck_assert_uint_eq(stat_of("vm", "windows"), 0);
	ck_assert_str_eq(RANGES("vm"), X86_PLAIN);
	ck_assert_int_eq(core_obj_remove(c, &rq, CORE_IOAS, "vm"), 0);
	teardown();
}
END_TEST

START_TEST(test_window_auto)
{
	setup("x86-vtd");
	mk(CORE_IOAS, "vm");
	ck_assert_str_eq(window("vm", "a", CORE_AUTO, G),
			 "active 0x0000000000000000-0x000000003fffffff\n");
	ck_assert_str_eq(window("vm", "b", CORE_AUTO, G),
			 "active 0x0000000040000000-0x000000007fffffff\n");
	/* 4G does not fit below the MSI hole; aligned to 1G above it. */
	ck_assert_str_eq(window("vm", "c", CORE_AUTO, 4 * G),
			 "active 0x0000000100000000-0x00000001ffffffff\n");
	/* 2M fits right after b, 2M-aligned; 12K is 4K-aligned right after that. */
	ck_assert_str_eq(window("vm", "d", CORE_AUTO, 2 * M),
			 "active 0x0000000080000000-0x00000000801fffff\n");
	ck_assert_str_eq(window("vm", "e", CORE_AUTO, 12 * K),
			 "active 0x0000000080200000-0x0000000080202fff\n");
	/* 3M: aligned to 2M (the largest page <= size), so not at 0x80203000. */
	ck_assert_str_eq(window("vm", "f", CORE_AUTO, 3 * M),
			 "active 0x0000000080400000-0x00000000806fffff\n");
	ck_assert_str_eq(win_text("vm", "f", CORE_WIN_START), "auto\n");
	/* page_size raises the alignment floor: a 1G window of 1G pages is 1G-aligned. */
	mkwin("vm", "g");
	wset_ok("vm", "g", CORE_WIN_PAGE_SIZE, G);
	wset_ok("vm", "g", CORE_WIN_SIZE, G);
	ck_assert_str_eq(STATE("vm", "g"), "active 0x0000000200000000-0x000000023fffffff\n");
	/* One line per window, touching or not. */
	ck_assert_str_eq(RANGES("vm"), "0x0000000000000000-0x000000003fffffff\n"
				       "0x0000000040000000-0x000000007fffffff\n"
				       "0x0000000080000000-0x00000000801fffff\n"
				       "0x0000000080200000-0x0000000080202fff\n"
				       "0x0000000080400000-0x00000000806fffff\n"
				       "0x0000000100000000-0x00000001ffffffff\n"
				       "0x0000000200000000-0x000000023fffffff\n");
	/* Removing a frees its place for the next auto window; re-placing a keeps b. */
	ck_assert_int_eq(core_window_remove(c, &rq, ref("vm"), "a"), 0);
	ck_assert_str_eq(window("vm", "h", CORE_AUTO, 512 * M),
			 "active 0x0000000000000000-0x000000001fffffff\n");
	/* Resizing an auto window re-places it (it may stay or move). */
	wset_ok("vm", "h", CORE_WIN_SIZE, 256 * M);
	ck_assert_str_eq(STATE("vm", "h"), "active 0x0000000000000000-0x000000000fffffff\n");
	/* Fixed start, then back to auto. */
	wset_ok("vm", "h", CORE_WIN_START, 0x10000000);
	ck_assert_str_eq(STATE("vm", "h"), "active 0x0000000010000000-0x000000001fffffff\n");
	wset_ok("vm", "h", CORE_WIN_START, CORE_AUTO);
	ck_assert_str_eq(STATE("vm", "h"), "active 0x0000000000000000-0x000000000fffffff\n");
	teardown();
}
END_TEST

/* Auto placement skips platform reserved ranges on the other profiles too. */
START_TEST(test_window_auto_profiles)
{
	setup("arm-smmuv3");
	mk(CORE_IOAS, "vm");
	/* 0 .. 0x7ffffff is too small for 1G; the SW_MSI window is skipped. */
	ck_assert_str_eq(window("vm", "a", CORE_AUTO, G),
			 "active 0x0000000040000000-0x000000007fffffff\n");
	ck_assert_str_eq(window("vm", "b", CORE_AUTO, 64 * M),
			 "active 0x0000000000000000-0x0000000003ffffff\n");
	ck_assert_str_eq(window("vm", "c", CORE_AUTO, 64 * M),
			 "active 0x0000000004000000-0x0000000007ffffff\n");
	/* The next 64M goes after the SW_MSI hole, 2M aligned. */
	ck_assert_str_eq(window("vm", "d", CORE_AUTO, 64 * M),
			 "active 0x0000000008200000-0x000000000c1fffff\n");
	teardown();

	setup("amd-vi");
	mk(CORE_IOAS, "vm");
	/* 512G: [0xfef00000, 0xfcffffffff] has room at 1G-aligned 0x100000000. */
	ck_assert_str_eq(window("vm", "a", CORE_AUTO, 512 * G),
			 "active 0x0000000100000000-0x00000080ffffffff\n");
	teardown();

	setup("amd-vi");
	mk(CORE_IOAS, "vm");
	/* 1T cannot fit below the HT hole: placed at 1T, right after it. */
	ck_assert_str_eq(window("vm", "a", CORE_AUTO, T),
			 "active 0x0000010000000000-0x000001ffffffffff\n");
	teardown();

	setup("ppc64-papr");
	mk(CORE_IOAS, "vm");
	ck_assert_str_eq(window("vm", "dma32", CORE_AUTO, 2 * G),
			 "active 0x0000000000000000-0x000000007fffffff\n");
	ck_assert_str_eq(window("vm", "ddw", CORE_AUTO, T),
			 "active 0x0800000000000000-0x080000ffffffffff\n");
	teardown();
}
END_TEST

/* The seed scenario: what PPC64 can do and x86 cannot, with a clear reason. */
START_TEST(test_window_seed)
{
	setup("ppc64-papr");
	mk(CORE_IOAS, "vm");
	ck_assert_str_eq(window("vm", "dma32", 0, 2 * G),
			 "active 0x0000000000000000-0x000000007fffffff\n");
	ck_assert_str_eq(window("vm", "ddw", UINT64_C(1) << 59, T),
			 "active 0x0800000000000000-0x080000ffffffffff\n");
	ck_assert_str_eq(RANGES("vm"), "0x0000000000000000-0x000000007fffffff\n"
				       "0x0800000000000000-0x080000ffffffffff\n");
	teardown();

	setup("x86-vtd");
	mk(CORE_IOAS, "vm");
	mkwin("vm", "dma32");
	wset_ok("vm", "dma32", CORE_WIN_START, 0);
	REFUSED("vm", wset("vm", "dma32", CORE_WIN_SIZE, 4 * G), -EADDRINUSE, "window", "dma32",
		"crosses reserved 0xfee00000-0xfeefffff (msi)");
	ck_assert_str_eq(STATE("vm", "dma32"), "pending\n");
	mkwin("vm", "ddw");
	wset_ok("vm", "ddw", CORE_WIN_START, UINT64_C(1) << 59);
	REFUSED("vm", wset("vm", "ddw", CORE_WIN_SIZE, T), -EADDRINUSE, "window", "ddw",
		"outside the aperture 0x0-0xffffffffffff");
	teardown();
}
END_TEST

/* ---------------------------------------------------------------- windows: refusals */

START_TEST(test_window_refusals)
{
	setup("x86-vtd");
	mk(CORE_IOAS, "vm");
	ck_assert_str_eq(window("vm", "w", 0x40000000, G),
			 "active 0x0000000040000000-0x000000007fffffff\n");
	mkwin("vm", "p"); /* pending */

	/* start/size not multiples of the page size */
	REFUSED("vm", wset("vm", "w", CORE_WIN_START, 0x40000800), -EINVAL, "window", "w",
		"multiples of page_size 0x1000");
	REFUSED("vm", wset("vm", "w", CORE_WIN_SIZE, G + 0x800), -EINVAL, "window", "w",
		"multiples of page_size 0x1000");
	wset_ok("vm", "p", CORE_WIN_START, 0x1800); /* accepted while there is no size */
	REFUSED("vm", wset("vm", "p", CORE_WIN_SIZE, 0x2000), -EINVAL, "window", "p",
		"multiples of page_size");
	wset_ok("vm", "p", CORE_WIN_START, CORE_AUTO);
	/* size 0 or "auto" */
	REFUSED("vm", wset("vm", "w", CORE_WIN_SIZE, 0), -EINVAL, "window", "w", "size");
	REFUSED("vm", wset("vm", "p", CORE_WIN_SIZE, CORE_AUTO), -EINVAL, "window", "p", "size");

	/* page sizes, refused even before the window has a size */
	REFUSED("vm", wset("vm", "p", CORE_WIN_PAGE_SIZE, 64 * K), -EINVAL, "window", "p",
		"page_size 0x10000 is not one of the platform's (4K 2M 1G)");
	REFUSED("vm", wset("vm", "w", CORE_WIN_PAGE_SIZE, 0x3000), -EINVAL, "window", "w",
		"not a power of two");
	REFUSED("vm", wset("vm", "w", CORE_WIN_PAGE_SIZE, 0), -EINVAL, "window", "w",
		"not a power of two");
	REFUSED("vm", wset("vm", "w", CORE_WIN_PAGE_SIZE, 64 * K), -EINVAL, "window", "w",
		"page_size 0x10000 is not one of the platform's (4K 2M 1G)");

	/* levels: out of range, or too few for the size */
	REFUSED("vm", wset("vm", "w", CORE_WIN_LEVELS, 0), -EINVAL, "window", "w", "levels");
	REFUSED("vm", wset("vm", "w", CORE_WIN_LEVELS, 7), -EINVAL, "window", "w", "levels");
	REFUSED("vm", wset("vm", "w", CORE_WIN_LEVELS, 1), -EINVAL, "window", "w",
		"needs more than 1 levels of 0x1000 pages");
	wset_ok("vm", "w", CORE_WIN_LEVELS, 2); /* 2 levels of 4K reach 1G exactly */
	REFUSED("vm", wset("vm", "w", CORE_WIN_SIZE, 2 * G), -EINVAL, "window", "w",
		"needs more than 2 levels");

	/* overflow */
	wset_ok("vm", "p", CORE_WIN_START, UINT64_C(0xfffffffffffff000));
	REFUSED("vm", wset("vm", "p", CORE_WIN_SIZE, 0x2000), -EOVERFLOW, "window", "p",
		"overflows");
	wset_ok("vm", "p", CORE_WIN_START, CORE_AUTO);
	wset_ok("vm", "p", CORE_WIN_SIZE, 0x2000);
	ck_assert_str_eq(STATE("vm", "p"), "active 0x0000000000000000-0x0000000000001fff\n");
	REFUSED("vm", wset("vm", "p", CORE_WIN_START, UINT64_C(0xfffffffffffff000)), -EOVERFLOW,
		"window", "p", "overflows");
	REFUSED("vm", wset("vm", "p", CORE_WIN_PAGE_SIZE, 2 * M), -EINVAL, "window", "p",
		"multiples of page_size 0x200000");

	/* outside the aperture, wholly or partly */
	REFUSED("vm", wset("vm", "w", CORE_WIN_START, UINT64_C(1) << 48), -EADDRINUSE, "window",
		"w", "is outside the aperture 0x0-0xffffffffffff");
	REFUSED("vm", wset("vm", "w", CORE_WIN_START, (UINT64_C(1) << 48) - 0x1000), -EADDRINUSE,
		"window", "w", "leaves the aperture 0x0-0xffffffffffff");

	/* crossing the MSI range, from either side or inside it */
	REFUSED("vm", wset("vm", "w", CORE_WIN_START, 0xfec00000), -EADDRINUSE, "window", "w",
		"crosses reserved 0xfee00000-0xfeefffff (msi)");
	REFUSED("vm", wset("vm", "p", CORE_WIN_START, 0xfee00000), -EADDRINUSE, "window", "p",
		"crosses reserved 0xfee00000-0xfeefffff (msi)");
	REFUSED("vm", wset("vm", "p", CORE_WIN_START, 0xfeeff000), -EADDRINUSE, "window", "p",
		"crosses reserved");

	/* overlapping another window */
	REFUSED("vm", wset("vm", "p", CORE_WIN_START, 0x7ffff000), -EEXIST, "window", "p",
		"overlaps window w 0x40000000-0x7fffffff");
	wset_ok("vm", "p", CORE_WIN_START, 0); /* where it is, but fixed */
	REFUSED("vm", wset("vm", "p", CORE_WIN_SIZE, 0x40001000), -EEXIST, "window", "p",
		"overlaps window w");

	/* auto with no room */
	wset_ok("vm", "p", CORE_WIN_START, CORE_AUTO);
	REFUSED("vm", wset("vm", "p", CORE_WIN_SIZE, UINT64_C(1) << 48), -ENOSPC, "window", "p",
		"no room for size 0x1000000000000");

	/* After all that, the windows are where they were. */
	ck_assert_str_eq(STATE("vm", "w"), "active 0x0000000040000000-0x000000007fffffff\n");
	ck_assert_str_eq(STATE("vm", "p"), "active 0x0000000000000000-0x0000000000001fff\n");
	ck_assert_str_eq(win_text("vm", "w", CORE_WIN_LEVELS), "2\n");
	ck_assert_str_eq(win_text("vm", "w", CORE_WIN_PAGE_SIZE), "auto\n");

	/* Unknown objects are ENOENT without a log line. */
	ck_assert_int_eq(wset("vm", "nope", CORE_WIN_SIZE, G), -ENOENT);
	ck_assert_int_eq(core_window_store(c, &rq, ref("nope"), "w", 0, CORE_WIN_SIZE, G), -ENOENT);
	teardown();
}
END_TEST

START_TEST(test_window_max_windows)
{
	setup("ppc64-papr");
	mk(CORE_IOAS, "vm");
	window("vm", "a", 0, 1 * G);
	window("vm", "b", 0x40000000, 1 * G);
	mkwin("vm", "c");
	wset_ok("vm", "c", CORE_WIN_START, UINT64_C(1) << 59); /* pending: does not count */
	REFUSED("vm", wset("vm", "c", CORE_WIN_SIZE, G), -ENOSPC, "window", "c", "max_windows 2");
	wset_ok("vm", "c", CORE_WIN_START, CORE_AUTO);
	REFUSED("vm", wset("vm", "c", CORE_WIN_SIZE, 64 * K), -ENOSPC, "window", "c",
		"max_windows 2");
	/* An active window can still be changed; ppc has 64K pages. */
	wset_ok("vm", "b", CORE_WIN_PAGE_SIZE, 64 * K);
	wset_ok("vm", "b", CORE_WIN_SIZE, 64 * K);
	ck_assert_str_eq(STATE("vm", "b"), "active 0x0000000040000000-0x000000004000ffff\n");
	/* Removing one makes room. */
	ck_assert_int_eq(core_window_remove(c, &rq, ref("vm"), "b"), 0);
	wset_ok("vm", "c", CORE_WIN_START, UINT64_C(1) << 59);
	wset_ok("vm", "c", CORE_WIN_SIZE, G);
	ck_assert_str_eq(STATE("vm", "c"), "active 0x0800000000000000-0x080000003fffffff\n");
	/* Between the two apertures is outside every aperture. */
	mkwin("vm", "d");
	ck_assert_int_eq(core_window_remove(c, &rq, ref("vm"), "c"), 0);
	wset_ok("vm", "d", CORE_WIN_START, 0x80000000);
	REFUSED("vm", wset("vm", "d", CORE_WIN_SIZE, 64 * K), -EADDRINUSE, "window", "d",
		"outside every aperture");
	wset_ok("vm", "d", CORE_WIN_START, 0x70000000);
	REFUSED("vm", wset("vm", "d", CORE_WIN_SIZE, 512 * M), -EADDRINUSE, "window", "d",
		"leaves the aperture 0x0-0x7fffffff");
	teardown();
}
END_TEST

START_TEST(test_window_busy)
{
	uint64_t len;

	setup("x86-vtd");
	mk(CORE_IOAS, "vm");
	anon("buf", 4 * M);
	window("vm", "w", 0x40000000, G);
	window("vm", "x", CORE_AUTO, 2 * M);
	map_at_ok("vm", 0x40100000, 0x1000, "buf");

	REFUSED("vm", wset("vm", "w", CORE_WIN_SIZE, 2 * G), -EBUSY, "window", "w",
		"has mappings; unmap them before changing size");
	REFUSED("vm", wset("vm", "w", CORE_WIN_START, 0x80000000), -EBUSY, "window", "w",
		"changing start");
	REFUSED("vm", wset("vm", "w", CORE_WIN_PAGE_SIZE, 2 * M), -EBUSY, "window", "w",
		"changing page_size");
	REFUSED("vm", wset("vm", "w", CORE_WIN_LEVELS, 3), -EBUSY, "window", "w",
		"changing levels");
	REFUSED("vm", core_window_remove(c, &rq, ref("vm"), "w"), -EBUSY, "window", "w",
		"0x40000000-0x7fffffff still has mappings");
	REFUSED_NC("vm", core_obj_remove(c, &rq, CORE_IOAS, "vm"), -ENOTEMPTY, "ioas", "vm",
		   "2 window(s)");
	/* The other window is free to change. */
	wset_ok("vm", "x", CORE_WIN_SIZE, 4 * M);
	ck_assert_int_eq(core_window_remove(c, &rq, ref("vm"), "x"), 0);

	ck_assert_int_eq(unmap("vm", 0x40100000, 0x1000, &len), 0);
	ck_assert_uint_eq(len, 0x1000);
	wset_ok("vm", "w", CORE_WIN_SIZE, 2 * G);
	ck_assert_str_eq(STATE("vm", "w"), "active 0x0000000040000000-0x00000000bfffffff\n");
	ck_assert_int_eq(core_window_remove(c, &rq, ref("vm"), "w"), 0);
	ck_assert_int_eq(core_obj_remove(c, &rq, CORE_IOAS, "vm"), 0);
	teardown();
}
END_TEST

/* A window crossing the reserved range of an attached device names the device. */
START_TEST(test_window_device_reserved)
{
	struct platform_range r[2] = {
		{ 0x20000000, 0x2fffffff, "direct" },
		{ 0xfee00000, 0xfeefffff, "msi" },
	};

	setup("x86-vtd");
	mk(CORE_IOAS, "vm");
	mk(CORE_DEVICE, "nic");
	ck_assert_int_eq(core_device_store_reserved(c, &rq, "nic", 0, r, 2), 0);
	ck_assert_int_eq(core_device_attach(c, &rq, "nic", 0, "vm"), 0);
	ck_assert_str_eq(RANGES("vm"), "0x0000000000000000-0x000000001fffffff\n"
				       "0x0000000030000000-0x00000000fedfffff\n"
				       "0x00000000fef00000-0x0000ffffffffffff\n");
	mkwin("vm", "w");
	wset_ok("vm", "w", CORE_WIN_START, 0);
	REFUSED("vm", wset("vm", "w", CORE_WIN_SIZE, G), -EADDRINUSE, "window", "w",
		"crosses reserved 0x20000000-0x2fffffff (direct) of device nic");
	/* Auto placement steps over it: 512M fits at 0, the next 512M right after it. */
	wset_ok("vm", "w", CORE_WIN_START, CORE_AUTO);
	wset_ok("vm", "w", CORE_WIN_SIZE, 512 * M);
	ck_assert_str_eq(STATE("vm", "w"), "active 0x0000000000000000-0x000000001fffffff\n");
	ck_assert_str_eq(window("vm", "v", CORE_AUTO, 512 * M),
			 "active 0x0000000030000000-0x000000004fffffff\n");
	teardown();
}
END_TEST

/* ---------------------------------------------------------------- iova_ranges per profile */

START_TEST(test_iova_ranges_profiles)
{
	static const struct {
		const char *profile, *plain, *with_window;
		uint64_t start, size;
	} cases[] = {
		{ "x86-vtd",
		  "0x0000000000000000-0x00000000fedfffff\n0x00000000fef00000-0x0000ffffffffffff\n",
		  "0x00000000fef00000-0x00000000feffffff\n", 0xfef00000, M },
		{ "amd-vi",
		  "0x0000000000000000-0x00000000fedfffff\n0x00000000fef00000-0x000000fcffffffff\n"
		  "0x0000010000000000-0x0000ffffffffffff\n",
		  "0x000000fc00000000-0x000000fcffffffff\n", 0xfc00000000, 4 * G },
		{ "arm-smmuv3",
		  "0x0000000000000000-0x0000000007ffffff\n0x0000000008100000-0x0000ffffffffffff\n",
		  "0x0000000008100000-0x00000000081fffff\n", 0x8100000, M },
		{ "ppc64-papr",
		  "0x0000000000000000-0x000000007fffffff\n0x0800000000000000-0x0800ffffffffffff\n",
		  "0x0800ffffffff0000-0x0800ffffffffffff\n", UINT64_C(0x0800ffffffff0000), 64 * K },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setup(cases[i].profile);
		mk(CORE_IOAS, "a");
		mk(CORE_IOAS, "b");
		ck_assert_str_eq(RANGES("a"), cases[i].plain);
		window("a", "w", cases[i].start, cases[i].size);
		ck_assert_str_eq(RANGES("a"), cases[i].with_window);
		/* One IOAS's windows do not constrain another. */
		ck_assert_str_eq(RANGES("b"), cases[i].plain);
		/* A device with the platform's reserved regions changes nothing. */
		mk(CORE_DEVICE, "d");
		ck_assert_int_eq(core_device_attach(c, &rq, "d", 0, "b"), 0);
		ck_assert_str_eq(RANGES("b"), cases[i].plain);
		ck_assert_int_eq(core_device_attach(c, &rq, "d", 0, "a"), 0);
		ck_assert_str_eq(RANGES("a"), cases[i].with_window);
		ck_assert_int_eq(core_window_remove(c, &rq, ref("a"), "w"), 0);
		ck_assert_str_eq(RANGES("a"), cases[i].plain);
		teardown();
	}
}
END_TEST

/* A custom profile through platform_parse. */
START_TEST(test_iova_ranges_custom)
{
	static const char text[] = "iova_bits 32\n"
				   "reserved 0x10000000-0x1fffffff io\n"
				   "reserved 0xf0000000-0xffffffff msi\n"
				   "page_sizes 4K 64K\n"
				   "max_windows 1\n";
	struct platform p;
	char err[256] = "";

	ck_assert_int_eq(platform_parse(text, strlen(text), "custom", &p, err, sizeof(err)), 0);
	setup_platform(&p);
	mk(CORE_IOAS, "vm");
	ck_assert_str_eq(RANGES("vm"), "0x0000000000000000-0x000000000fffffff\n"
				       "0x0000000020000000-0x00000000efffffff\n");
	/* 512M (64K-aligned as the largest page) does not fit under the io hole. */
	ck_assert_str_eq(window("vm", "w", CORE_AUTO, 512 * M),
			 "active 0x0000000020000000-0x000000003fffffff\n");
	mkwin("vm", "x");
	REFUSED("vm", wset("vm", "x", CORE_WIN_SIZE, 64 * K), -ENOSPC, "window", "x",
		"max_windows 1");
	REFUSED("vm", wset("vm", "w", CORE_WIN_PAGE_SIZE, 2 * M), -EINVAL, "window", "w",
		"(4K 64K)");
	teardown();
}
END_TEST

/* ---------------------------------------------------------------- maps */

START_TEST(test_map_auto)
{
	uint64_t iova;

	setup("x86-vtd");
	mk(CORE_IOAS, "vm");
	anon("buf", 64 * M);
	/* Never IOVA 0; 4K maps are 4K aligned, 2M maps of 2M-aligned memory 2M aligned. */
	ck_assert_uint_eq(map_auto_ok("vm", 0x1000, "buf", 0), 0x1000);
	ck_assert_uint_eq(map_auto_ok("vm", 2 * M, "buf", 0), 0x200000);
	ck_assert_uint_eq(map_auto_ok("vm", 0x1000, "buf", 0x1000), 0x2000);
	ck_assert_str_eq(MAPPINGS("vm"), "0x0000000000001000-0x0000000000001fff rw buf+0x0\n"
					 "0x0000000000002000-0x0000000000002fff rw buf+0x1000\n"
					 "0x0000000000200000-0x00000000003fffff rw buf+0x0\n");

	/* With windows, auto maps land inside them only. */
	window("vm", "w", 0x40000000, 16 * M);
	window("vm", "v", 0x100000000, 16 * M);
	for (int i = 0; i < 8; i++) {
		iova = map_auto_ok("vm", 2 * M, "buf", 0);
		ck_assert_msg(iova >= 0x40000000 && iova + 2 * M - 1 <= 0x40ffffff,
			      "auto map %d at 0x%" PRIx64 " outside window w", i, iova);
	}
	/* w is full: the next goes to v. */
	iova = map_auto_ok("vm", 2 * M, "buf", 0);
	ck_assert_uint_eq(iova, 0x100000000);
	for (int i = 0; i < 7; i++)
		map_auto_ok("vm", 2 * M, "buf", 2 * M);
	REFUSED("vm", map_cmd("vm", false, 0, 0x1000, "buf", 0, RW, &iova), -ENOSPC, "map auto",
		"length", "no free IOVA range inside the active windows");
	ck_assert_uint_eq(stat_of("vm", "mappings"), 3 + 16);

	/* A pending window does not constrain; removing the windows frees the space. */
	ck_assert_int_eq(unmap("vm", 0x100000000, 16 * M, NULL), 0);
	ck_assert_int_eq(core_window_remove(c, &rq, ref("vm"), "v"), 0);
	ck_assert_int_eq(unmap("vm", 0x40000000, 16 * M, NULL), 0);
	ck_assert_int_eq(core_window_remove(c, &rq, ref("vm"), "w"), 0);
	mkwin("vm", "pending");
	ck_assert_uint_eq(map_auto_ok("vm", 0x1000, "buf", 0), 0x3000);
	teardown();
}
END_TEST

/* Maps that cross the platform's holes are refused before any device exists. */
START_TEST(test_map_geometry)
{
	setup("x86-vtd");
	mk(CORE_IOAS, "vm");
	anon("buf", 64 * M);
	REFUSED("vm", map_at("vm", 0xfed00000, 2 * M, "buf", 0, RW), -EINVAL, "map", "0xfed00000",
		"crosses reserved 0xfee00000-0xfeefffff (msi)");
	REFUSED("vm", map_at("vm", 0xfee80000, 0x1000, "buf", 0, RW), -EINVAL, "map", "0xfee80000",
		"crosses reserved");
	REFUSED("vm", map_at("vm", 0xfeeff000, 0x2000, "buf", 0, RW), -EINVAL, "map", "0xfeeff000",
		"crosses reserved");
	REFUSED("vm", map_at("vm", UINT64_C(1) << 48, 0x1000, "buf", 0, RW), -EINVAL, "map",
		"0x1000000000000", "is outside the aperture 0x0-0xffffffffffff");
	REFUSED("vm", map_at("vm", (UINT64_C(1) << 48) - 0x1000, 0x2000, "buf", 0, RW), -EINVAL,
		"map", "0xfffffffff000", "leaves the aperture");
	/* Right next to the hole is fine. */
	map_at_ok("vm", 0xfed00000, M, "buf");
	map_at_ok("vm", 0xfef00000, M, "buf");
	map_at_ok("vm", (UINT64_C(1) << 48) - 0x1000, 0x1000, "buf");
	ck_assert_uint_eq(stat_of("vm", "mappings"), 3);
	teardown();

	setup("ppc64-papr");
	mk(CORE_IOAS, "vm");
	anon("buf", 64 * M);
	REFUSED("vm", map_at("vm", 0x80000000, 0x10000, "buf", 0, RW), -EINVAL, "map", "0x80000000",
		"outside every aperture");
	REFUSED("vm", map_at("vm", 0x7fff0000, 0x20000, "buf", 0, RW), -EINVAL, "map", "0x7fff0000",
		"leaves the aperture 0x0-0x7fffffff");
	map_at_ok("vm", UINT64_C(1) << 59, 0x10000, "buf");
	teardown();

	setup("arm-smmuv3");
	mk(CORE_IOAS, "vm");
	anon("buf", 64 * M);
	REFUSED("vm", map_at("vm", 0x7f00000, 2 * M, "buf", 0, RW), -EINVAL, "map", "0x7f00000",
		"crosses reserved 0x8000000-0x80fffff (sw_msi)");
	teardown();
}
END_TEST

START_TEST(test_map_refusals)
{
	uint64_t iova = 0;

	setup("x86-vtd");
	mk(CORE_IOAS, "vm");
	anon("buf", 64 * K);
	mk(CORE_SOURCE, "empty");
	map_at_ok("vm", 0x100000, 0x4000, "buf");
	ck_assert_uint_eq(stat_of("vm", "maps"), 1);

	REFUSED("vm", map_at("vm", 0x103000, 0x2000, "buf", 0, RW), -EEXIST, "map", "0x103000",
		"overlaps mapping 0x100000-0x103fff (buf+0x0)");
	REFUSED("vm", map_at("vm", 0xff000, 0x2000, "buf", 0, RW), -EEXIST, "map", "0xff000",
		"overlaps mapping");
	REFUSED("vm", map_at("vm", 0x0, 0x200000, "buf", 0, RW), -EINVAL, "offset", "0x0",
		"beyond the end of source buf (size 0x10000)");
	REFUSED("vm", map_at("vm", 0x200000, 0x1000, "nosuch", 0, RW), -ENOENT, "source",
		"'nosuch'", NULL);
	REFUSED("vm", map_at("vm", 0x200000, 0x1000, "empty", 0, RW), -EINVAL, "source", "empty",
		"no memory yet");
	REFUSED("vm", map_at("vm", 0x200000, 0x2000, "buf", 0xf000, RW), -EINVAL, "source", "buf",
		"offset 0xf000 + length 0x2000 is beyond the end");
	REFUSED("vm", map_at("vm", 0x200000, 0x1000, "buf", UINT64_MAX, RW), -EINVAL, "source",
		"buf", "beyond the end");
	REFUSED("vm", map_at("vm", 0x200000, 0, "buf", 0, RW), -EINVAL, "map", "0x200000",
		"length is zero");
	REFUSED("vm", map_cmd("vm", false, 0, 0, "buf", 0, RW, &iova), -EINVAL, "map auto",
		"length", "length is zero");
	REFUSED("vm", map_at("vm", UINT64_C(0xfffffffffffff000), 0x2000, "buf", 0, RW), -EOVERFLOW,
		"map", "0xfffffffffffff000", "overflows");
	REFUSED("vm", map_at("vm", 0x200000, 0x1000, "buf", 0, 0), -EINVAL, "map", "0x200000",
		NULL);
	/* A whole, exact fit is fine; so are r and w alone. */
	map_at_ok("vm", 0x200000, 64 * K, "buf");
	ck_assert_int_eq(map_at("vm", 0x300000, 0x1000, "buf", 0xf000, CORE_PROT_READ), 0);
	ck_assert_int_eq(map_at("vm", 0x400000, 0x1000, "buf", 0x1000, CORE_PROT_WRITE), 0);
	ck_assert_str_eq(MAPPINGS("vm"), "0x0000000000100000-0x0000000000103fff rw buf+0x0\n"
					 "0x0000000000200000-0x000000000020ffff rw buf+0x0\n"
					 "0x0000000000300000-0x0000000000300fff r buf+0xf000\n"
					 "0x0000000000400000-0x0000000000400fff w buf+0x1000\n");
	ck_assert_str_eq(named_text(core_source_show_users, "buf"), "4\n");
	/* Unknown IOAS: ENOENT. */
	ck_assert_int_eq(map_at("nope", 0x200000, 0x1000, "buf", 0, RW), -ENOENT);
	teardown();
}
END_TEST

static char tmpdir_file[64];

static const char *make_file(size_t size, mode_t mode)
{
	char *buf = calloc(1, size);
	int fd;

	/* a source must be memory (tmpfs): /dev/shm */
	snprintf(tmpdir_file, sizeof(tmpdir_file), "/dev/shm/test_core.XXXXXX");
	fd = mkstemp(tmpdir_file);
	ck_assert_int_ge(fd, 0);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(write(fd, buf, size), (ssize_t)size);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	free(buf);
	return tmpdir_file;
}

START_TEST(test_map_readonly_file)
{
	struct core_req nobody = { .pid = 4242, .uid = 65534, .gid = 65534, .path = "/test" };
	const char *path;
	char want[80];

	if (geteuid() != 0) {
		fprintf(stderr, "test_map_readonly_file: not root, skipped\n");
		return;
	}
	setup("x86-vtd");
	mk(CORE_IOAS, "vm");
	path = make_file(64 * K, 0444);
	mk(CORE_SOURCE, "ro");
	ck_assert_int_eq(core_source_set(c, &nobody, "ro", 0, false, 0, path), 0);
	snprintf(want, sizeof(want), "%s\n", path);
	ck_assert_str_eq(named_text(core_source_show_path, "ro"), want);
	ck_assert_str_eq(named_text(core_source_show_size, "ro"), "0x10000\n");
	REFUSED("vm", map_at("vm", 0x100000, 0x1000, "ro", 0, RW), -EPERM, "source", "ro",
		"read-only; map it with r");
	REFUSED("vm", map_at("vm", 0x100000, 0x1000, "ro", 0, CORE_PROT_WRITE), -EPERM, "source",
		"ro", "read-only");
	ck_assert_int_eq(map_at("vm", 0x100000, 64 * K, "ro", 0, CORE_PROT_READ), 0);
	ck_assert_str_eq(MAPPINGS("vm"), "0x0000000000100000-0x000000000010ffff r ro+0x0\n");

	/* The same file opened by root is writable. */
	mk(CORE_SOURCE, "rw");
	ck_assert_int_eq(core_source_set(c, &rq, "rw", 0, false, 0, path), 0);
	ck_assert_int_eq(map_at("vm", 0x200000, 0x1000, "rw", 0x1000, RW), 0);

	/* A 0600 root file cannot be opened by nobody at all. */
	ck_assert_int_eq(chmod(path, 0600), 0);
	mk(CORE_SOURCE, "no");
	ck_assert_int_eq(core_source_set(c, &nobody, "no", 0, false, 0, path), -EACCES);
	ck_assert_str_eq(named_text(core_source_show_path, "no"), "\n");
	unlink(path);
	teardown();
}
END_TEST

/*
 * "Opened with the writer's credentials, never the daemon's": that includes the daemon's
 * supplementary groups. Root usually runs with group 0 among them (initgroups), so nobody
 * must not be able to open a root:root 0640 file as a source.
 */
START_TEST(test_source_supplementary_groups)
{
	struct core_req nobody = { .pid = 4242, .uid = 65534, .gid = 65534, .path = "/test" };
	gid_t root_group = 0, saved[64];
	int nsaved;
	const char *path;

	if (geteuid() != 0) {
		fprintf(stderr, "test_source_supplementary_groups: not root, skipped\n");
		return;
	}
	nsaved = getgroups(64, saved);
	ck_assert_int_ge(nsaved, 0);
	ck_assert_int_eq(setgroups(1, &root_group), 0);
	setup("x86-vtd");
	path = make_file(4096, 0640);
	ck_assert_int_eq(chown(path, 0, 0), 0);
	mk(CORE_SOURCE, "s");
	ck_assert_int_eq(core_source_set(c, &nobody, "s", 0, false, 0, path), -EACCES);
	ck_assert_str_eq(named_text(core_source_show_path, "s"), "\n");
	unlink(path);
	teardown();
	ck_assert_int_eq(setgroups((size_t)nsaved, saved), 0);
}
END_TEST

START_TEST(test_map_stats)
{
	uint64_t len;

	setup("x86-vtd");
	mk(CORE_IOAS, "vm");
	anon("buf", 64 * M);
	ck_assert_str_eq(ioas_text(core_ioas_show_stats, "vm"), "mappings 0\nmaps 0\nunmaps 0\n"
								"bytes_mapped 0\npages_pinned 0\n"
								"windows 0\ndevices 0\nerrors 0\n");
	map_at_ok("vm", 0x100000, 0x3000, "buf");
	map_at_ok("vm", 0x200000, 2 * M, "buf");
	map_auto_ok("vm", 0x1000, "buf", 0);
	ck_assert_int_eq(map_at("vm", 0x100000, 0x1000, "buf", 0, RW), -EEXIST);
	ck_assert_int_eq(unmap("vm", 0x200000, 2 * M, &len), 0);
	ck_assert_int_eq(unmap("vm", 0x200000, 2 * M, &len), -ENOENT);
	ck_assert_str_eq(ioas_text(core_ioas_show_stats, "vm"),
			 "mappings 2\nmaps 3\nunmaps 1\n"
			 "bytes_mapped 16384\npages_pinned 0\n"
			 "windows 0\ndevices 0\nerrors 2\n");
	/* The kernel pins once a device brings a domain. */
	mk(CORE_DEVICE, "d");
	ck_assert_int_eq(core_device_attach(c, &rq, "d", 0, "vm"), 0);
	ck_assert_uint_eq(stat_of("vm", "pages_pinned"), 4);
	ck_assert_uint_eq(stat_of("vm", "devices"), 1);
	ck_assert_int_eq(core_unmap(c, &rq, ref("vm"), true, 0, 0, &len), 0);
	ck_assert_uint_eq(len, 0x4000);
	ck_assert_str_eq(ioas_text(core_ioas_show_stats, "vm"), "mappings 0\nmaps 3\nunmaps 2\n"
								"bytes_mapped 0\npages_pinned 0\n"
								"windows 0\ndevices 1\nerrors 2\n");
	teardown();
}
END_TEST

/* ---------------------------------------------------------------- unmap */

START_TEST(test_unmap)
{
	const char *three = "0x0000000000010000-0x000000000001ffff rw buf+0x0\n"
			    "0x0000000000030000-0x000000000003ffff rw buf+0x0\n"
			    "0x0000000000050000-0x000000000005ffff rw buf+0x0\n";
	uint64_t len;

	setup("x86-vtd");
	mk(CORE_IOAS, "vm");
	anon("buf", 64 * K);
	map_at_ok("vm", 0x10000, 0x10000, "buf");
	map_at_ok("vm", 0x30000, 0x10000, "buf");
	map_at_ok("vm", 0x50000, 0x10000, "buf");
	ck_assert_str_eq(MAPPINGS("vm"), three);

	/* The first intersected mapping straddles the start. */
	REFUSED("vm", unmap("vm", 0x18000, 0x30000, &len), -ENOENT, "split", "mapping",
		"unmap 0x18000-0x47fff would split mapping 0x10000-0x1ffff (buf+0x0)");
	/* The last one straddles the end, after a whole one the kernel would remove first. */
	REFUSED("vm", unmap("vm", 0x30000, 0x28000, &len), -ENOENT, "split", "mapping",
		"would split mapping 0x50000-0x5ffff (buf+0x0)");
	REFUSED("vm", unmap("vm", 0x0, 0x58000, &len), -ENOENT, "split", "mapping",
		"would split mapping 0x50000-0x5ffff");
	/* A range inside one mapping. */
	REFUSED("vm", unmap("vm", 0x34000, 0x1000, &len), -ENOENT, "split", "mapping",
		"would split mapping 0x30000-0x3ffff");
	/* Nothing there. */
	REFUSED("vm", unmap("vm", 0x20000, 0x10000, &len), -ENOENT, "unmap",
		"0x20000-0x2ffff:", "nothing mapped there");
	REFUSED("vm", unmap("vm", 0x60000, 0x1000000, &len), -ENOENT, "unmap",
		"0x60000-0x105ffff:", "nothing mapped there");
	REFUSED("vm", unmap("vm", 0x10000, 0, &len), -EINVAL, "length", "is", "zero");
	REFUSED("vm", unmap("vm", UINT64_C(0xfffffffffffff000), 0x2000, &len), -EOVERFLOW, "iova",
		"+", "overflows");
	ck_assert_str_eq(MAPPINGS("vm"), three);
	ck_assert_str_eq(named_text(core_source_show_users, "buf"), "3\n");

	/* Several mappings with gaps, exactly covered at both ends. */
	len = 0;
	ck_assert_int_eq(unmap("vm", 0x30000, 0x30000, &len), 0);
	ck_assert_uint_eq(len, 0x20000);
	ck_assert_str_eq(MAPPINGS("vm"), "0x0000000000010000-0x000000000001ffff rw buf+0x0\n");
	/* A range with room on both sides. */
	map_at_ok("vm", 0x30000, 0x10000, "buf");
	ck_assert_int_eq(unmap("vm", 0x0, 0x100000, &len), 0);
	ck_assert_uint_eq(len, 0x20000);
	ck_assert_str_eq(MAPPINGS("vm"), "");
	ck_assert_str_eq(named_text(core_source_show_users, "buf"), "0\n");
	ck_assert_uint_eq(stat_of("vm", "bytes_mapped"), 0);

	/* all, and all on an empty IOAS; iova 0 + length ~0 means all too. */
	map_at_ok("vm", 0x10000, 0x10000, "buf");
	map_at_ok("vm", 0xfef00000, 0x10000, "buf");
	ck_assert_int_eq(core_unmap(c, &rq, ref("vm"), true, 0x1234, 1, &len), 0);
	ck_assert_uint_eq(len, 0x20000);
	ck_assert_int_eq(core_unmap(c, &rq, ref("vm"), true, 0, 0, &len), 0);
	ck_assert_uint_eq(len, 0);
	map_at_ok("vm", 0x10000, 0x10000, "buf");
	ck_assert_int_eq(unmap("vm", 0, UINT64_MAX, &len), 0);
	ck_assert_uint_eq(len, 0x10000);
	ck_assert_str_eq(MAPPINGS("vm"), "");
	ck_assert_uint_eq(stat_of("vm", "unmaps"), 5);
	ck_assert_uint_eq(stat_of("vm", "maps"), 7);
	ck_assert_int_eq(core_unmap(c, &rq, ref("nope"), true, 0, 0, &len), -ENOENT);
	teardown();
}
END_TEST

/* ---------------------------------------------------------------- sources */

START_TEST(test_sources)
{
	const char *path;
	char want[80];

	setup("x86-vtd");
	mk(CORE_IOAS, "a");
	mk(CORE_IOAS, "b");
	mk(CORE_SOURCE, "s");
	ck_assert_str_eq(named_text(core_source_show_path, "s"), "\n");
	ck_assert_str_eq(named_text(core_source_show_size, "s"), "0x0\n");
	ck_assert_str_eq(named_text(core_source_show_users, "s"), "0\n");
	ck_assert_int_eq(core_source_set(c, &rq, "s", 0, true, 0, NULL), -EINVAL);
	ck_assert_int_eq(core_source_set(c, &rq, "s", 0, true, T + 1, NULL), -EINVAL);
	ck_assert_int_eq(core_source_set(c, &rq, "s", 0, false, 0, "relative/file"), -EINVAL);
	ck_assert_int_eq(core_source_set(c, &rq, "s", 0, false, 0, "/nonexistent/x"), -ENOENT);
	ck_assert_int_eq(core_source_set(c, &rq, "nope", 0, true, 4096, NULL), -ENOENT);
	ck_assert_str_eq(named_text(core_source_show_path, "s"), "\n");

	ck_assert_int_eq(core_source_set(c, &rq, "s", 0, true, 0x1000, NULL), 0);
	ck_assert_str_eq(named_text(core_source_show_path, "s"), "anon 0x1000\n");
	ck_assert_str_eq(named_text(core_source_show_size, "s"), "0x1000\n");
	/* Not a page multiple: the size is what was asked. */
	ck_assert_int_eq(core_source_set(c, &rq, "s", 0, true, 100, NULL), 0);
	ck_assert_str_eq(named_text(core_source_show_size, "s"), "0x64\n");
	/* Large anon sources cost nothing until touched (1T does not fit under sanitizers). */
	ck_assert_int_eq(core_source_set(c, &rq, "s", 0, true, G, NULL), 0);
	ck_assert_str_eq(named_text(core_source_show_path, "s"), "anon 0x40000000\n");
	ck_assert_int_eq(core_source_set(c, &rq, "s", 0, true, 16 * M, NULL), 0);

	/* Users count mappings in every IOAS. */
	map_at_ok("a", 0x100000, 0x1000, "s");
	map_at_ok("a", 0x200000, 0x1000, "s");
	map_at_ok("b", 0x100000, 0x1000, "s");
	ck_assert_str_eq(named_text(core_source_show_users, "s"), "3\n");
	REFUSED_NC("a", core_obj_remove(c, &rq, CORE_SOURCE, "s"), -EBUSY, "source", "s",
		   "used by 3 mapping(s)");
	REFUSED_NC("a", core_source_set(c, &rq, "s", 0, true, 4096, NULL), -EBUSY, "source", "s",
		   "used by 3 mapping(s)");
	path = make_file(8192, 0644);
	REFUSED_NC("a", core_source_set(c, &rq, "s", 0, false, 0, path), -EBUSY, "source", "s",
		   "used by 3");
	ck_assert_str_eq(named_text(core_source_show_path, "s"), "anon 0x1000000\n");

	/* Removing an IOAS gives its mappings' references back. */
	ck_assert_int_eq(core_obj_remove(c, &rq, CORE_IOAS, "b"), 0);
	ck_assert_str_eq(named_text(core_source_show_users, "s"), "2\n");
	ck_assert_int_eq(core_unmap(c, &rq, ref("a"), true, 0, 0, &(uint64_t){ 0 }), 0);
	ck_assert_str_eq(named_text(core_source_show_users, "s"), "0\n");

	ck_assert_int_eq(core_source_set(c, &rq, "s", 0, false, 0, path), 0);
	snprintf(want, sizeof(want), "%s\n", path);
	ck_assert_str_eq(named_text(core_source_show_path, "s"), want);
	ck_assert_str_eq(named_text(core_source_show_size, "s"), "0x2000\n");
	map_at_ok("a", 0x100000, 0x2000, "s");
	ck_assert_int_eq(unmap("a", 0x100000, 0x2000, NULL), 0);
	/* Empty files and directories are not sources; the old memory stays. */
	ck_assert_int_eq(truncate(path, 0), 0);
	ck_assert_int_eq(core_source_set(c, &rq, "s", 0, false, 0, path), -EINVAL);
	ck_assert_int_ne(core_source_set(c, &rq, "s", 0, false, 0, "/tmp"), 0);
	ck_assert_str_eq(named_text(core_source_show_size, "s"), "0x2000\n");
	unlink(path);
	ck_assert_int_eq(core_obj_remove(c, &rq, CORE_SOURCE, "s"), 0);
	ck_assert_int_eq(core_obj_remove(c, &rq, CORE_SOURCE, "s"), -ENOENT);
	teardown();
}
END_TEST

/* ---------------------------------------------------------------- devices */

static size_t ioas_device_names(const char *ioas, char *out, size_t len)
{
	struct core_name *v = NULL;
	size_t n = 0;

	ck_assert_int_eq(core_ioas_devices(c, ref(ioas), &v, &n), 0);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? " " : "", v[i].name);
	free(v);
	return n;
}

START_TEST(test_devices)
{
	char name[CORE_NAME_MAX + 1], list[256];
	struct platform_range r = { 0x1000, 0x1fff, "direct" };
	char *hw;

	setup("x86-vtd");
	mk(CORE_IOAS, "a");
	mk(CORE_IOAS, "b");
	mk(CORE_DEVICE, "d0");
	mk(CORE_DEVICE, "d1");
	ck_assert(core_device_reserved_writable(c));
	ck_assert_str_eq(named_text(core_device_show_reserved, "d0"),
			 "0x00000000fee00000-0x00000000feefffff msi\n");
	hw = named_text(core_device_show_hw_info, "d0");
	ck_assert_msg(!strncmp(hw, "type intel_vtd\n", 15), "hw_info:\n%s", hw);
	ck_assert_msg(strstr(hw, "\nmgaw 48\n"), "hw_info:\n%s", hw);
	ck_assert_int_eq(core_device_ioas(c, "d0", 0, name), -ENOENT);

	ck_assert_int_eq(core_device_attach(c, &rq, "d0", 0, "a"), 0);
	ck_assert_int_eq(core_device_attach(c, &rq, "d1", 0, "a"), 0);
	ck_assert_int_eq(core_device_attach(c, &rq, "d1", 0, "a"), 0); /* same: nothing */
	ck_assert_int_eq(core_device_ioas(c, "d0", 0, name), 0);
	ck_assert_str_eq(name, "a");
	ck_assert_uint_eq(ioas_device_names("a", list, sizeof(list)), 2);
	ck_assert_str_eq(list, "d0 d1");
	ck_assert_uint_eq(stat_of("a", "devices"), 2);

	/* Replace: d1 moves to b. */
	ck_assert_int_eq(core_device_attach(c, &rq, "d1", 0, "b"), 0);
	ck_assert_int_eq(core_device_ioas(c, "d1", 0, name), 0);
	ck_assert_str_eq(name, "b");
	ck_assert_uint_eq(stat_of("a", "devices"), 1);
	ck_assert_uint_eq(stat_of("b", "devices"), 1);
	ck_assert_uint_eq(ioas_device_names("a", list, sizeof(list)), 1);
	ck_assert_str_eq(list, "d0");
	ck_assert_uint_eq(ioas_device_names("b", list, sizeof(list)), 1);
	ck_assert_str_eq(list, "d1");

	REFUSED_NC("b", core_obj_remove(c, &rq, CORE_IOAS, "b"), -EBUSY, "ioas", "b",
		   "1 device(s) attached");
	REFUSED_NC("b", core_obj_remove(c, &rq, CORE_DEVICE, "d1"), -ENOTEMPTY, "device", "d1",
		   "attached to ioas b");
	REFUSED_NC("b", core_device_store_reserved(c, &rq, "d1", 0, &r, 1), -EBUSY, "device", "d1",
		   "detach it first");
	ck_assert_str_eq(named_text(core_device_show_reserved, "d1"),
			 "0x00000000fee00000-0x00000000feefffff msi\n");
	REFUSED_NC("b", core_device_attach(c, &rq, "d1", 0, "nope"), -ENOENT, "device", "d1",
		   "no ioas 'nope'");
	ck_assert_int_eq(core_device_ioas(c, "d1", 0, name), 0);
	ck_assert_str_eq(name, "b");
	ck_assert_int_eq(core_device_attach(c, &rq, "nope", 0, "b"), -ENOENT);

	ck_assert_int_eq(core_device_detach(c, &rq, "d1", 0), 0);
	ck_assert_int_eq(core_device_detach(c, &rq, "d1", 0), -ENOENT);
	ck_assert_uint_eq(stat_of("b", "devices"), 0);
	ck_assert_int_eq(core_device_ioas(c, "d1", 0, name), -ENOENT);
	ck_assert_int_eq(core_obj_remove(c, &rq, CORE_IOAS, "b"), 0);
	ck_assert_int_eq(core_obj_remove(c, &rq, CORE_DEVICE, "d1"), 0);
	ck_assert_int_eq(core_device_attach(c, &rq, "d0", 0, "b"), -ENOENT);
	ck_assert_int_eq(core_device_ioas(c, "d0", 0, name), 0);
	ck_assert_str_eq(name, "a");
	teardown();

	/* Other profiles' reserved regions and hw_info. */
	setup("amd-vi");
	mk(CORE_DEVICE, "d");
	ck_assert_str_eq(named_text(core_device_show_reserved, "d"),
			 "0x00000000fee00000-0x00000000feefffff msi\n"
			 "0x000000fd00000000-0x000000ffffffffff ht\n");
	ck_assert(!strncmp(named_text(core_device_show_hw_info, "d"), "type amd_vi\n", 12));
	teardown();
	setup("arm-smmuv3");
	mk(CORE_DEVICE, "d");
	ck_assert_str_eq(named_text(core_device_show_reserved, "d"),
			 "0x0000000008000000-0x00000000080fffff sw_msi\n");
	ck_assert(!strncmp(named_text(core_device_show_hw_info, "d"), "type arm_smmuv3\n", 16));
	teardown();
	setup("ppc64-papr");
	mk(CORE_DEVICE, "d");
	ck_assert_str_eq(named_text(core_device_show_reserved, "d"), "");
	teardown();
}
END_TEST

START_TEST(test_device_reserved)
{
	struct platform_range r[3] = {
		{ 0x40000000, 0x4000ffff, "direct" },
		{ 0xfee00000, 0xfeefffff, "msi" },
		{ 0x40008000, 0x40008fff, "io" },
	};

	setup("x86-vtd");
	mk(CORE_IOAS, "vm");
	mk(CORE_DEVICE, "d");
	ck_assert_int_eq(core_device_store_reserved(c, &rq, "d", 0, r, 3), -EINVAL);
	ck_assert_msg(strstr(errors_last(), "overlaps"), "%s", errors_last());
	ck_assert_int_eq(core_device_store_reserved(c, &rq, "d", 0, r, CORE_MAX_RESERVED + 1),
			 -EINVAL);
	ck_assert_int_eq(core_device_store_reserved(c, &rq, "nope", 0, r, 2), -ENOENT);
	ck_assert_str_eq(named_text(core_device_show_reserved, "d"),
			 "0x00000000fee00000-0x00000000feefffff msi\n");
	ck_assert_int_eq(core_device_store_reserved(c, &rq, "d", 0, r, 2), 0);
	ck_assert_str_eq(named_text(core_device_show_reserved, "d"),
			 "0x0000000040000000-0x000000004000ffff direct\n"
			 "0x00000000fee00000-0x00000000feefffff msi\n");

	/* A window over the device's region: the device cannot attach. */
	window("vm", "w", 0x40000000, G);
	REFUSED(
	    "vm", core_device_attach(c, &rq, "d", 0, "vm"), -EADDRINUSE, "device", "d",
	    "reserved 0x40000000-0x4000ffff (direct) intersects window w 0x40000000-0x7fffffff");
	ck_assert_msg(names(errors_last(), "window", "w"), "%s", errors_last());
	ck_assert_int_eq(core_device_ioas(c, "d", 0, (char[CORE_NAME_MAX + 1]){ 0 }), -ENOENT);
	/* Moved away, the window lets it attach; then the window cannot come back. */
	wset_ok("vm", "w", CORE_WIN_START, 0x80000000);
	ck_assert_int_eq(core_device_attach(c, &rq, "d", 0, "vm"), 0);
	ck_assert_str_eq(RANGES("vm"), "0x0000000080000000-0x00000000bfffffff\n");
	REFUSED("vm", wset("vm", "w", CORE_WIN_START, 0x40000000), -EADDRINUSE, "window", "w",
		"crosses reserved 0x40000000-0x4000ffff (direct) of device d");
	ck_assert_int_eq(core_device_detach(c, &rq, "d", 0), 0);
	ck_assert_int_eq(core_window_remove(c, &rq, ref("vm"), "w"), 0);

	/* A mapping under the device's region: the backend refuses, the core names it. */
	anon("buf", M);
	map_at_ok("vm", 0x40004000, 0x1000, "buf");
	REFUSED("vm", core_device_attach(c, &rq, "d", 0, "vm"), -EADDRINUSE, "device", "d",
		"reserved 0x40000000-0x4000ffff (direct) intersects mapping "
		"0x40004000-0x40004fff (buf+0x0)");
	ck_assert_uint_eq(stat_of("vm", "devices"), 0);
	/* Attaching elsewhere and replacing into vm fails the same way and stays put. */
	mk(CORE_IOAS, "other");
	ck_assert_int_eq(core_device_attach(c, &rq, "d", 0, "other"), 0);
	REFUSED("vm", core_device_attach(c, &rq, "d", 0, "vm"), -EADDRINUSE, "device", "d",
		"intersects mapping");
	ck_assert_uint_eq(stat_of("other", "devices"), 1);
	ck_assert_int_eq(core_device_detach(c, &rq, "d", 0), 0);
	/* Once the mapping is gone it attaches, and iova_ranges leave its region out. */
	ck_assert_int_eq(unmap("vm", 0x40004000, 0x1000, NULL), 0);
	ck_assert_int_eq(core_device_attach(c, &rq, "d", 0, "vm"), 0);
	ck_assert_str_eq(RANGES("vm"), "0x0000000000000000-0x000000003fffffff\n"
				       "0x0000000040010000-0x00000000fedfffff\n"
				       "0x00000000fef00000-0x0000ffffffffffff\n");
	REFUSED("vm", map_at("vm", 0x4000f000, 0x2000, "buf", 0, RW), -EINVAL, "map", "0x4000f000",
		"crosses reserved 0x40000000-0x4000ffff (direct) of device d");
	/* Detached, the region is usable again. */
	ck_assert_int_eq(core_device_detach(c, &rq, "d", 0), 0);
	ck_assert_str_eq(RANGES("vm"), X86_PLAIN);
	map_at_ok("vm", 0x4000f000, 0x2000, "buf");
	ck_assert_int_eq(unmap("vm", 0x4000f000, 0x2000, NULL), 0);

	/* A failed attach gives the backend its allowed ranges back: auto maps go low again. */
	{
		struct platform_range low = { 0, 0x1fffff, "direct" };

		mk(CORE_DEVICE, "low");
		ck_assert_int_eq(core_device_store_reserved(c, &rq, "low", 0, &low, 1), 0);
		map_at_ok("vm", 0x100000, 0x1000, "buf");
		REFUSED("vm", core_device_attach(c, &rq, "low", 0, "vm"), -EADDRINUSE, "device",
			"low", "intersects mapping 0x100000-0x100fff");
		ck_assert_int_eq(unmap("vm", 0x100000, 0x1000, NULL), 0);
		ck_assert_uint_eq(map_auto_ok("vm", 0x1000, "buf", 0), 0x1000);
	}
	/* No regions at all is allowed too. */
	ck_assert_int_eq(core_device_store_reserved(c, &rq, "d", 0, r, 0), 0);
	ck_assert_str_eq(named_text(core_device_show_reserved, "d"), "");
	teardown();
}
END_TEST

/*
 * Many devices with many reserved regions on one IOAS: iova_ranges must still list every
 * usable range up to the top of the aperture.
 */
START_TEST(test_device_many_reserved)
{
	struct platform_range r[CORE_MAX_RESERVED];
	char name[16], *t, *lastline;
	unsigned lines = 0;

	setup("x86-vtd");
	mk(CORE_IOAS, "vm");
	for (int d = 0; d < 9; d++) {
		snprintf(name, sizeof(name), "d%d", d);
		mk(CORE_DEVICE, name);
		for (int i = 0; i < CORE_MAX_RESERVED; i++) {
			uint64_t s = G * (uint64_t)(1 + d * CORE_MAX_RESERVED + i);

			r[i] = (struct platform_range){ s, s + 0xfff, "io" };
		}
		ck_assert_int_eq(core_device_store_reserved(c, &rq, name, 0, r, CORE_MAX_RESERVED),
				 0);
		ck_assert_int_eq(core_device_attach(c, &rq, name, 0, "vm"), 0);
	}
	t = RANGES("vm");
	for (char *p = t; *p; p++)
		lines += *p == '\n';
	/* 0..msi, msi..1G, then one range after each of the 288 regions. */
	ck_assert_uint_eq(lines, 2 + 9 * CORE_MAX_RESERVED);
	t[strlen(t) - 1] = '\0';
	lastline = strrchr(t, '\n') + 1;
	ck_assert_str_eq(lastline, "0x0000004800001000-0x0000ffffffffffff");
	teardown();
}
END_TEST

/* ---------------------------------------------------------------- names and limits */

START_TEST(test_names)
{
	static const char *const bad[] = {
		"",
		".",
		".hidden",
		"a/b",
		"a b",
		"tab\t",
		"x*",
		"\xc3\xa9",
		"nul\x01",
		"0123456789012345678901234567890123456789012345678901234567890123", /* 64 */
	};
	const char *n63 = "012345678901234567890123456789012345678901234567890123456789012";
	struct core_name *v = NULL;
	uint64_t serial, serial2;
	size_t n = 0;
	unsigned nerr;

	setup("x86-vtd");
	for (int kind = CORE_IOAS; kind <= CORE_SOURCE; kind++) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			nerr = errors_count();
			ck_assert_int_eq(core_obj_create(c, &rq, kind, bad[i]), -EINVAL);
			ck_assert_uint_eq(errors_count(), nerr + 1);
			ck_assert_msg(strstr(errors_last(), "invalid"), "%s", errors_last());
		}
		mk(kind, n63);
		mk(kind, "a-b_c.d:E9");
		ck_assert_int_eq(core_obj_create(c, &rq, kind, "a-b_c.d:E9"), -EEXIST);
		ck_assert_int_eq(core_obj_list(c, kind, &v, &n), 0);
		ck_assert_uint_eq(n, 2);
		ck_assert_str_eq(v[0].name, n63);
		ck_assert_str_eq(v[1].name, "a-b_c.d:E9");
		ck_assert_uint_lt(v[0].serial, v[1].serial);
		free(v);
		ck_assert_int_eq(core_obj_remove(c, &rq, kind, "nope"), -ENOENT);
		ck_assert_int_eq(core_obj_lookup(c, kind, "nope", &serial), -ENOENT);
	}
	/* Names are per kind. */
	ck_assert_int_eq(core_obj_lookup(c, CORE_IOAS, "a-b_c.d:E9", &serial), 0);
	ck_assert_int_eq(core_obj_lookup(c, CORE_SOURCE, "a-b_c.d:E9", &serial2), 0);
	ck_assert_uint_ne(serial, serial2);

	/* Windows. */
	mk(CORE_IOAS, "vm");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		nerr = errors_count();
		ck_assert_int_eq(core_window_create(c, &rq, ref("vm"), bad[i]), -EINVAL);
		ck_assert_uint_eq(errors_count(), nerr + 1);
	}
	mkwin("vm", n63);
	ck_assert_int_eq(core_window_create(c, &rq, ref("vm"), n63), -EEXIST);
	ck_assert_int_eq(core_window_create(c, &rq, ref("nope"), "w"), -ENOENT);
	mkwin("a-b_c.d:E9", "w"); /* another IOAS, same window name */

	/* A stale serial never reaches a new object of the same name. */
	ck_assert_int_eq(core_obj_lookup(c, CORE_SOURCE, n63, &serial), 0);
	ck_assert_int_eq(core_obj_remove(c, &rq, CORE_SOURCE, n63), 0);
	mk(CORE_SOURCE, n63);
	ck_assert_int_eq(core_obj_lookup(c, CORE_SOURCE, n63, &serial2), 0);
	ck_assert_uint_ne(serial, serial2);
	ck_assert_int_eq(core_source_show_size(c, n63, serial, &(struct sbuf){ 0 }), -ENOENT);
	ck_assert_int_eq(core_source_set(c, &rq, n63, serial, true, 4096, NULL), -ENOENT);
	ck_assert_int_eq(core_source_set(c, &rq, n63, serial2, true, 4096, NULL), 0);
	ck_assert_int_eq(core_window_lookup(c, ref("vm"), n63, &serial), 0);
	ck_assert_int_eq(core_window_remove(c, &rq, ref("vm"), n63), 0);
	mkwin("vm", n63);
	ck_assert_int_eq(core_window_lookup(c, ref("vm"), n63, &serial2), 0);
	ck_assert_uint_ne(serial, serial2);
	ck_assert_int_eq(
	    core_window_show(c, ref("vm"), n63, serial, CORE_WIN_STATE, &(struct sbuf){ 0 }),
	    -ENOENT);
	ck_assert_int_eq(core_window_store(c, &rq, ref("vm"), n63, serial, CORE_WIN_SIZE, G),
			 -ENOENT);
	ck_assert_int_eq(core_window_store(c, &rq, ref("vm"), n63, serial2, CORE_WIN_SIZE, G), 0);
	ck_assert_int_eq(core_obj_lookup(c, CORE_DEVICE, n63, &serial), 0);
	ck_assert_int_eq(core_device_attach(c, &rq, n63, serial + 1000, "vm"), -ENOENT);
	ck_assert_int_eq(core_device_attach(c, &rq, n63, serial, "vm"), 0);
	ck_assert_int_eq(
	    core_ioas_show_id(c, (struct core_ioas_ref){ "vm", 1 }, &(struct sbuf){ 0 }), -ENOENT);
	teardown();
}
END_TEST

/*
 * A refused name is quoted in `errors`, which has one record per line: a name holding a
 * newline (legal in mkdir(2)) must not add a second, forged line.
 */
START_TEST(test_name_newline)
{
	static const char *const bad[] = { "nl\n", "x\n0.0 1 /ioas/vm/map: forged" };
	unsigned nerr;

	setup("x86-vtd");
	mk(CORE_IOAS, "vm");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		nerr = errors_count();
		ck_assert_int_eq(core_obj_create(c, &rq, CORE_SOURCE, bad[i]), -EINVAL);
		ck_assert_msg(errors_count() == nerr + 1, "name \"%s\" made %u error lines:\n%s",
			      bad[i], errors_count() - nerr, errors_text());
		nerr = errors_count();
		ck_assert_int_eq(core_window_create(c, &rq, ref("vm"), bad[i]), -EINVAL);
		ck_assert_msg(errors_count() == nerr + 1, "window \"%s\" made %u error lines",
			      bad[i], errors_count() - nerr);
	}
	teardown();
}
END_TEST

START_TEST(test_status_alignment_options)
{
	struct sbuf sb;
	char *t;

	setup("arm-smmuv3");
	sbuf_init(&sb);
	core_show_status(c, &sb);
	t = keep(sb_take(&sb));
	ck_assert_msg(strstr(t, "version 0.") && strstr(t, "\nbackend sim\n") &&
			  strstr(t, "\nplatform arm-smmuv3\n") &&
			  strstr(t, "\nmap_file no (sim backend)\n") &&
			  strstr(t, "\nlimit_name 63\n") && strstr(t, "\nlimit_windows 64\n"),
		      "status:\n%s", t);
	ck_assert_str_eq(core_platform(c)->name, "arm-smmuv3");

	mk(CORE_IOAS, "vm");
	mk(CORE_DEVICE, "d");
	anon("buf", M);
	ck_assert_str_eq(ioas_text(core_ioas_show_alignment, "vm"), "0x1\n");
	ck_assert_str_eq(ioas_text(core_ioas_show_huge_pages, "vm"), "1\n");
	/* Without a domain any length maps; a domain then needs 4K alignment. */
	map_at_ok("vm", 0x100000, 0x800, "buf");
	REFUSED("vm", core_device_attach(c, &rq, "d", 0, "vm"), -EADDRINUSE, "device", "d", NULL);
	ck_assert_int_eq(unmap("vm", 0x100000, 0x800, NULL), 0);
	ck_assert_int_eq(core_device_attach(c, &rq, "d", 0, "vm"), 0);
	ck_assert_str_eq(ioas_text(core_ioas_show_alignment, "vm"), "0x1000\n");
	REFUSED("vm", map_at("vm", 0x100000, 0x800, "buf", 0, RW), -EINVAL, "map", "0x100000",
		"not aligned to the IOAS alignment 0x1000");

	/* huge_pages */
	REFUSED("vm", core_ioas_store_huge_pages(c, &rq, ref("vm"), 2), -EINVAL, "huge_pages",
		"takes", NULL);
	map_at_ok("vm", 0x100000, 0x1000, "buf");
	REFUSED("vm", core_ioas_store_huge_pages(c, &rq, ref("vm"), 0), -EINVAL, "huge_pages", "0",
		"devices are attached");
	ck_assert_int_eq(unmap("vm", 0x100000, 0x1000, NULL), 0);
	ck_assert_int_eq(core_ioas_store_huge_pages(c, &rq, ref("vm"), 0), 0);
	ck_assert_str_eq(ioas_text(core_ioas_show_huge_pages, "vm"), "0\n");
	ck_assert_int_eq(core_ioas_store_huge_pages(c, &rq, ref("vm"), 1), 0);
	ck_assert_str_eq(ioas_text(core_ioas_show_huge_pages, "vm"), "1\n");
	ck_assert_int_eq(core_ioas_store_huge_pages(c, &rq, ref("nope"), 1), -ENOENT);

	/* The errors ring keeps the newest CORE_ERRORS_RING lines, oldest first. */
	for (int i = 0; i < CORE_ERRORS_RING + 10; i++)
		core_error(c, &rq, "synthetic %d", i);
	t = errors_text();
	ck_assert_ptr_nonnull(strstr(t, ": synthetic 10\n"));
	ck_assert_ptr_null(strstr(t, ": synthetic 9\n"));
	ck_assert_msg(!strncmp(strchr(t, ':'), ": synthetic 10\n", 15), "%.80s", t);
	ck_assert_ptr_nonnull(strstr(t, ": synthetic 265\n"));
	core_error(c, NULL, "no request");
	ck_assert_msg(strstr(errors_text(), " 0 -: no request\n"), "%s", errors_last());
	teardown();
}
END_TEST

/* allow_other: who owns what, and what only the owner or root may do (ioasfs.5 SECURITY). */
START_TEST(test_owners)
{
	const struct core_req a = { .pid = 1, .uid = 1000, .gid = 100, .path = "/a" };
	const struct core_req b = { .pid = 2, .uid = 2000, .gid = 200, .path = "/b" };
	struct core_map_cmd m = {
		.fixed = true, .iova = 0x100000, .length = 0x1000, .source = "sa", .prot = RW
	};
	uint64_t iova;
	unsigned nerr;
	uid_t u;
	gid_t g;

	setup("x86-vtd");
	/* one user per mount: no ownership checks */
	ck_assert_int_eq(core_obj_create(c, &a, CORE_IOAS, "x"), 0);
	ck_assert_int_eq(core_obj_remove(c, &b, CORE_IOAS, "x"), 0);
	core_set_multiuser(c, true);
	ck_assert_int_eq(core_obj_create(c, &a, CORE_IOAS, "ia"), 0);
	ck_assert_int_eq(core_obj_create(c, &a, CORE_SOURCE, "sa"), 0);
	ck_assert_int_eq(core_obj_create(c, &a, CORE_DEVICE, "da"), 0);
	ck_assert_int_eq(core_obj_create(c, &b, CORE_IOAS, "ib"), 0);
	ck_assert_int_eq(core_obj_create(c, &b, CORE_DEVICE, "db"), 0);
	ck_assert_int_eq(core_obj_owner(c, CORE_IOAS, "ia", 0, &u, &g), 0);
	ck_assert(u == 1000 && g == 100);
	ck_assert_int_eq(core_obj_owner(c, CORE_DEVICE, "db", 0, &u, &g), 0);
	ck_assert(u == 2000 && g == 200);
	ck_assert_int_eq(core_obj_access(c, &a, CORE_IOAS, "ia", 0), 0);
	ck_assert_int_eq(core_obj_access(c, &rq, CORE_IOAS, "ia", 0), 0);
	nerr = errors_count();
	ck_assert_int_eq(core_obj_access(c, &b, CORE_IOAS, "ia", 0), -EACCES);
	ck_assert_uint_eq(errors_count(), nerr + 1);
	ck_assert_str_eq(strstr(errors_last(), "ioas"),
			 "ioas ia belongs to uid 1000, not to uid 2000");
	ck_assert_int_eq(core_source_set(c, &a, "sa", 0, true, 64 * K, NULL), 0);

	/* a map names a source: only its owner's (or root's) maps may */
	ck_assert_int_eq(core_map(c, &a, ref("ia"), &m, &iova), 0);
	ck_assert_int_eq(core_map(c, &b, ref("ib"), &m, &iova), -EACCES);
	ck_assert_msg(strstr(errors_last(), "source sa belongs to uid 1000"), "%s", errors_last());
	ck_assert_str_eq(MAPPINGS("ib"), "");
	ck_assert_uint_eq(stat_of("ib", "errors"), 1);
	m.iova = 0x200000;
	ck_assert_int_eq(core_map(c, &rq, ref("ib"), &m, &iova), 0);

	/* attach takes the device and the IOAS; detach the device */
	ck_assert_int_eq(core_device_attach(c, &b, "db", 0, "ia"), -EACCES);
	ck_assert_msg(strstr(errors_last(), "ioas ia belongs to uid 1000"), "%s", errors_last());
	ck_assert_int_eq(core_device_attach(c, &b, "da", 0, "ib"), -EACCES);
	ck_assert_msg(strstr(errors_last(), "device da belongs to uid 1000"), "%s", errors_last());
	ck_assert_int_eq(core_device_attach(c, &a, "da", 0, "ia"), 0);
	ck_assert_int_eq(core_device_detach(c, &b, "da", 0), -EACCES);
	ck_assert_int_eq(core_device_attach(c, &rq, "db", 0, "ia"), 0); /* root may */
	ck_assert_int_eq(stat_of("ia", "devices"), 2);

	/* removal by anyone else: EPERM, as in a sticky directory */
	nerr = errors_count();
	ck_assert_int_eq(core_obj_remove(c, &b, CORE_SOURCE, "sa"), -EPERM);
	ck_assert_int_eq(core_obj_remove(c, &a, CORE_IOAS, "ib"), -EPERM);
	ck_assert_uint_eq(errors_count(), nerr + 2);
	ck_assert_msg(strstr(errors_last(), "only it or root may remove it"), "%s", errors_last());
	ck_assert_int_eq(core_obj_lookup(c, CORE_IOAS, "ib", &iova), 0);

	/* a restore hands objects to their saved owners */
	ck_assert_int_eq(core_obj_chown(c, CORE_IOAS, "ib", 1000, 100), 0);
	ck_assert_int_eq(core_obj_access(c, &a, CORE_IOAS, "ib", 0), 0);
	ck_assert_int_eq(core_obj_chown(c, CORE_IOAS, "none", 1, 1), -ENOENT);
	teardown();
}
END_TEST

/* -o max_mappings: maps and copies past it are ENOSPC and change nothing. */
START_TEST(test_max_mappings)
{
	struct sbuf sb;

	setup("x86-vtd");
	ck_assert_int_eq(core_set_max_mappings(c, 0), -EINVAL);
	ck_assert_int_eq(core_set_max_mappings(c, 3), 0);
	sbuf_init(&sb);
	core_show_status(c, &sb);
	ck_assert_msg(strstr(sb.buf, "\nlimit_mappings 3\n"), "%s", sb.buf);
	sbuf_free(&sb);
	mk(CORE_IOAS, "vm");
	anon("buf", 1 * M);
	map_at_ok("vm", 0x100000, 0x1000, "buf");
	map_at_ok("vm", 0x200000, 0x1000, "buf");
	map_at_ok("vm", 0x300000, 0x1000, "buf");
	REFUSED("vm", map_at("vm", 0x400000, 0x1000, "buf", 0, RW), -ENOSPC, "ioas", "vm",
		"has 3 mappings (limit 3)");
	ck_assert_uint_eq(stat_of("vm", "mappings"), 3);
	teardown();
}
END_TEST

START_TEST(test_limits)
{
	char name[32];
	unsigned nerr;

	setup("x86-vtd");
	for (int kind = CORE_IOAS; kind <= CORE_SOURCE; kind++) {
		const unsigned max[] = { CORE_MAX_IOAS, CORE_MAX_DEVICES, CORE_MAX_SOURCES };

		for (unsigned i = 0; i < max[kind]; i++) {
			snprintf(name, sizeof(name), "o%u", i);
			mk(kind, name);
		}
		nerr = errors_count();
		ck_assert_int_eq(core_obj_create(c, &rq, kind, "one-more"), -ENOSPC);
		ck_assert_uint_eq(errors_count(), nerr + 1);
		ck_assert_msg(strstr(errors_last(), "(limit "), "%s", errors_last());
		ck_assert_int_eq(core_obj_remove(c, &rq, kind, "o7"), 0);
		mk(kind, "one-more");
	}
	for (unsigned i = 0; i < CORE_MAX_WINDOWS; i++) {
		snprintf(name, sizeof(name), "w%u", i);
		mkwin("o0", name);
	}
	REFUSED("o0", core_window_create(c, &rq, ref("o0"), "one-more"), -ENOSPC, "too many",
		"windows", "(limit 64)");
	ck_assert_int_eq(core_window_remove(c, &rq, ref("o0"), "w3"), 0);
	mkwin("o0", "one-more");
	ck_assert_uint_eq(stat_of("o0", "windows"), CORE_MAX_WINDOWS);
	/* Every window active at once: the usable ranges are exactly the 64 windows. */
	for (unsigned i = 0; i < CORE_MAX_WINDOWS; i++) {
		snprintf(name, sizeof(name), "w%u", i);
		if (i == 3)
			snprintf(name, sizeof(name), "one-more");
		wset_ok("o0", name, CORE_WIN_SIZE, 2 * M);
	}
	ck_assert_str_eq(STATE("o0", "one-more"), "active 0x0000000000600000-0x00000000007fffff\n");
	ck_assert_str_eq(STATE("o0", "w63"), "active 0x0000000007e00000-0x0000000007ffffff\n");
	teardown();
}
END_TEST

/* ---------------------------------------------------------------- concurrency */

#define CC_MAP_THREADS 4
#define CC_MAP_OPS     5000
#define CC_TOPO_OPS    5000

static pthread_barrier_t cc_start;
static atomic_uint cc_bad;
static char cc_bad_msg[256];
static pthread_mutex_t cc_msg_lock = PTHREAD_MUTEX_INITIALIZER;

/* Successes per kind of operation, so a run that exercised nothing cannot pass. */
enum { CC_FIXED, CC_AUTO, CC_UNMAP, CC_ALL, CC_WSET, CC_WREMOVE, CC_ATTACH, CC_DETACH, CC_N };
static atomic_uint cc_ok[CC_N];

static void cc_check(bool ok, const char *what, int r)
{
	if (ok)
		return;
	if (atomic_fetch_add(&cc_bad, 1) == 0) {
		pthread_mutex_lock(&cc_msg_lock);
		snprintf(cc_bad_msg, sizeof(cc_bad_msg), "%s: unexpected %d (%s)", what, r,
			 strerror(-r));
		pthread_mutex_unlock(&cc_msg_lock);
	}
}

static void *cc_mapper(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 17u;
	uint64_t out;

	pthread_barrier_wait(&cc_start);
	for (int i = 0; i < CC_MAP_OPS; i++) {
		const char *io = rand_r(&seed) & 1 ? "A" : "B";
		const char *src = rand_r(&seed) & 1 ? "s0" : "s1";
		unsigned op = (unsigned)rand_r(&seed) % 100;
		uint64_t len = (1 + (uint64_t)(rand_r(&seed) % 16)) * 0x1000;
		uint64_t iova = 0x100000 + (uint64_t)(rand_r(&seed) % 256) * 0x4000;
		uint64_t off = (uint64_t)(rand_r(&seed) % 256) * 0x1000;
		int r;

		if (op < 45) {
			r = map_cmd(io, true, iova, len, src, off, RW, &out);
			cc_check(r == 0 || r == -EEXIST, "fixed map", r);
			atomic_fetch_add(&cc_ok[CC_FIXED], !r);
		} else if (op < 60) {
			r = map_cmd(io, false, 0, len, src, off, RW, &out);
			cc_check(r == 0 || r == -ENOSPC, "auto map", r);
			atomic_fetch_add(&cc_ok[CC_AUTO], !r);
		} else if (op < 99) {
			r = unmap(io, iova, len * 4, &out);
			cc_check(r == 0 || r == -ENOENT, "unmap", r);
			atomic_fetch_add(&cc_ok[CC_UNMAP], !r);
		} else {
			r = core_unmap(c, &rq, ref(io), true, 0, 0, &out);
			cc_check(r == 0, "unmap all", r);
			atomic_fetch_add(&cc_ok[CC_ALL], !r);
		}
		if (op % 10 == 0) {
			struct sbuf sb;

			sbuf_init(&sb);
			r = core_ioas_show_mappings(c, ref(io), &sb);
			cc_check(r == 0, "show mappings", r);
			r = core_ioas_show_iova_ranges(c, ref(io), &sb);
			cc_check(r == 0, "show iova_ranges", r);
			sbuf_free(&sb);
		}
	}
	return NULL;
}

static void *cc_topo(void *arg)
{
	static const uint64_t starts[] = { CORE_AUTO, 0x40000000, 0x80000000, 0 };
	unsigned seed = 99991u + (unsigned)(uintptr_t)arg;

	pthread_barrier_wait(&cc_start);
	for (int i = 0; i < CC_TOPO_OPS; i++) {
		const char *io = rand_r(&seed) & 1 ? "A" : "B";
		const char *win = rand_r(&seed) & 1 ? "w0" : "w1";
		unsigned op = (unsigned)rand_r(&seed) % 8;
		struct sbuf sb;
		int r;

		switch (op) {
		case 0:
			r = core_window_create(c, &rq, ref(io), win);
			cc_check(r == 0 || r == -EEXIST, "window create", r);
			break;
		case 1:
			r = core_window_store(c, &rq, ref(io), win, 0, CORE_WIN_START,
					      starts[rand_r(&seed) % 4]);
			cc_check(r == 0 || r == -ENOENT || r == -EBUSY || r == -EEXIST,
				 "window start", r);
			atomic_fetch_add(&cc_ok[CC_WSET], !r);
			break;
		case 2:
			r = core_window_store(c, &rq, ref(io), win, 0, CORE_WIN_SIZE,
					      rand_r(&seed) & 1 ? G : 256 * M);
			cc_check(r == 0 || r == -ENOENT || r == -EBUSY || r == -EEXIST,
				 "window size", r);
			atomic_fetch_add(&cc_ok[CC_WSET], !r);
			break;
		case 3:
			r = core_window_remove(c, &rq, ref(io), win);
			cc_check(r == 0 || r == -ENOENT || r == -EBUSY, "window remove", r);
			atomic_fetch_add(&cc_ok[CC_WREMOVE], !r);
			break;
		case 4:
			r = core_device_attach(c, &rq, "dev", 0, io);
			cc_check(r == 0, "attach", r);
			atomic_fetch_add(&cc_ok[CC_ATTACH], !r);
			break;
		case 5:
			r = core_device_detach(c, &rq, "dev", 0);
			cc_check(r == 0 || r == -ENOENT, "detach", r);
			atomic_fetch_add(&cc_ok[CC_DETACH], !r);
			break;
		case 6:
			r = core_obj_create(c, &rq, CORE_SOURCE, "tmp");
			if (!r)
				r = core_source_set(c, &rq, "tmp", 0, true, M, NULL);
			if (!r)
				r = core_obj_remove(c, &rq, CORE_SOURCE, "tmp");
			cc_check(r == 0, "source churn", r);
			break;
		default:
			sbuf_init(&sb);
			r = core_window_show(c, ref(io), win, 0, CORE_WIN_STATE, &sb);
			cc_check(r == 0 || r == -ENOENT, "window show", r);
			r = core_ioas_show_stats(c, ref(io), &sb);
			cc_check(r == 0, "stats", r);
			core_show_errors(c, &sb);
			sbuf_free(&sb);
			break;
		}
	}
	return NULL;
}

/* Each source's users must equal the mappings that name it, over both IOASes. */
static void cc_check_users(void)
{
	uint64_t users[2] = { 0, 0 };
	char want[32];

	for (int i = 0; i < 2; i++) {
		char *t = MAPPINGS(i ? "B" : "A");

		for (char *p = strstr(t, " rw s"); p; p = strstr(p + 1, " rw s"))
			users[p[5] - '0']++;
	}
	for (int i = 0; i < 2; i++) {
		snprintf(want, sizeof(want), "%" PRIu64 "\n", users[i]);
		ck_assert_str_eq(named_text(core_source_show_users, i ? "s1" : "s0"), want);
	}
	ck_assert_uint_gt(users[0] + users[1], 0);
}

static int range_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Active windows are disjoint and are exactly the IOAS's iova_ranges. */
static void cc_check_windows(const char *io)
{
	struct core_name *w = NULL;
	uint64_t r[CORE_MAX_WINDOWS][2];
	size_t n = 0, nact = 0;
	struct sbuf sb;
	char *want;

	ck_assert_int_eq(core_window_list(c, ref(io), &w, &n), 0);
	for (size_t i = 0; i < n; i++) {
		char *st = STATE(io, w[i].name);

		if (!strcmp(st, "pending\n"))
			continue;
		ck_assert_msg(
		    sscanf(st, "active 0x%" SCNx64 "-0x%" SCNx64, &r[nact][0], &r[nact][1]) == 2,
		    "state %s", st);
		nact++;
	}
	free(w);
	qsort(r, nact, sizeof(r[0]), range_cmp);
	sbuf_init(&sb);
	for (size_t i = 0; i < nact; i++) {
		ck_assert(i == 0 || r[i][0] > r[i - 1][1]);
		sbuf_printf(&sb, "0x%016" PRIx64 "-0x%016" PRIx64 "\n", r[i][0], r[i][1]);
	}
	if (!nact)
		sbuf_printf(&sb, "%s", X86_PLAIN);
	want = keep(sb_take(&sb));
	ck_assert_str_eq(RANGES(io), want);
}

/*
 * One IOAS's mappings text is sorted and disjoint and agrees with its stats; then each
 * mapping is unmapped alone, and the backend must give back exactly its length and hold
 * nothing once they are all gone.
 */
static void cc_verify_ioas(const char *io)
{
	char *t = MAPPINGS(io), src[CORE_NAME_MAX + 1], *idtext;
	uint64_t prev_last = 0, bytes = 0, n = 0, id, len;
	bool first = true;
	struct sbuf sb;

	for (char *line = t; *line;) {
		uint64_t s, l, off;
		char prot[4];
		char *nl = strchr(line, '\n');

		ck_assert_ptr_nonnull(nl);
		*nl = '\0';
		ck_assert_msg(sscanf(line, "0x%" SCNx64 "-0x%" SCNx64 " %3s %63[^+]+0x%" SCNx64, &s,
				     &l, prot, src, &off) == 5,
			      "bad line: %s", line);
		ck_assert_str_eq(prot, "rw");
		ck_assert_msg(s <= l, "inverted: %s", line);
		ck_assert_msg(first || s > prev_last, "unsorted or overlapping: %s", line);
		ck_assert_msg(!strcmp(src, "s0") || !strcmp(src, "s1"), "source: %s", line);
		prev_last = l;
		first = false;
		bytes += l - s + 1;
		n++;
		line = nl + 1;
	}
	ck_assert_uint_eq(stat_of(io, "mappings"), n);
	ck_assert_uint_eq(stat_of(io, "bytes_mapped"), bytes);

	t = MAPPINGS(io);
	for (char *line = t; *line;) {
		uint64_t s, l;
		char *nl = strchr(line, '\n');

		*nl = '\0';
		ck_assert_int_eq(sscanf(line, "0x%" SCNx64 "-0x%" SCNx64, &s, &l), 2);
		ck_assert_int_eq(unmap(io, s, l - s + 1, &len), 0);
		ck_assert_msg(len == l - s + 1, "%s: backend unmapped 0x%" PRIx64, line, len);
		line = nl + 1;
	}
	ck_assert_str_eq(MAPPINGS(io), "");
	ck_assert_uint_eq(stat_of(io, "bytes_mapped"), 0);
	sbuf_init(&sb);
	ck_assert_int_eq(core_ioas_show_id(c, ref(io), &sb), 0);
	idtext = keep(sb_take(&sb));
	id = strtoull(idtext, NULL, 10);
	len = UINT64_MAX;
	ck_assert_int_eq(be->ops->unmap(be, (uint32_t)id, 0, &len), 0);
	ck_assert_msg(len == 0, "backend still had 0x%" PRIx64 " bytes in %s", len, io);
}

static void cc_run(uintptr_t seed)
{
	pthread_t mt[CC_MAP_THREADS], tt;
	struct timespec t0, t1;

	setup("x86-vtd");
	mk(CORE_IOAS, "A");
	mk(CORE_IOAS, "B");
	anon("s0", 2 * M);
	anon("s1", 2 * M);
	mk(CORE_DEVICE, "dev");
	atomic_store(&cc_bad, 0);
	for (int i = 0; i < CC_N; i++)
		atomic_store(&cc_ok[i], 0);
	ck_assert_int_eq(pthread_barrier_init(&cc_start, NULL, CC_MAP_THREADS + 1), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uintptr_t i = 0; i < CC_MAP_THREADS; i++)
		ck_assert_int_eq(pthread_create(&mt[i], NULL, cc_mapper, (void *)(seed + i)), 0);
	ck_assert_int_eq(pthread_create(&tt, NULL, cc_topo, (void *)seed), 0);
	for (int i = 0; i < CC_MAP_THREADS; i++)
		ck_assert_int_eq(pthread_join(mt[i], NULL), 0);
	ck_assert_int_eq(pthread_join(tt, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_barrier_destroy(&cc_start);
	fprintf(stderr,
		"concurrency: %d operations in %.2f s; succeeded: %u fixed maps, %u auto maps, "
		"%u unmaps, %u unmap all, %u window stores, %u window removals, %u attaches, "
		"%u detaches\n",
		CC_MAP_THREADS * CC_MAP_OPS + CC_TOPO_OPS,
		(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		cc_ok[CC_FIXED], cc_ok[CC_AUTO], cc_ok[CC_UNMAP], cc_ok[CC_ALL], cc_ok[CC_WSET],
		cc_ok[CC_WREMOVE], cc_ok[CC_ATTACH], cc_ok[CC_DETACH]);
	for (int i = 0; i < CC_N; i++)
		ck_assert_msg(atomic_load(&cc_ok[i]) > 0, "operation kind %d never succeeded", i);
	ck_assert_msg(atomic_load(&cc_bad) == 0, "%u unexpected results; first: %s",
		      atomic_load(&cc_bad), cc_bad_msg);
	cc_check_users();
	cc_check_windows("A");
	cc_check_windows("B");
}

START_TEST(test_concurrency)
{
	cc_run(0);
	cc_verify_ioas("A");
	cc_verify_ioas("B");
	ck_assert_str_eq(named_text(core_source_show_users, "s0"), "0\n");
	ck_assert_str_eq(named_text(core_source_show_users, "s1"), "0\n");
	teardown();
}
END_TEST

/* Another schedule; this time removing the IOASes must drop every reference. */
START_TEST(test_concurrency_remove)
{
	int r;

	cc_run(100);
	r = core_device_detach(c, &rq, "dev", 0);
	ck_assert(r == 0 || r == -ENOENT);
	for (int i = 0; i < 2; i++) {
		const char *io = i ? "B" : "A";
		struct core_name *w = NULL;
		size_t n = 0;

		ck_assert_int_eq(core_unmap(c, &rq, ref(io), true, 0, 0, &(uint64_t){ 0 }), 0);
		ck_assert_int_eq(core_window_list(c, ref(io), &w, &n), 0);
		for (size_t j = 0; j < n; j++)
			ck_assert_int_eq(core_window_remove(c, &rq, ref(io), w[j].name), 0);
		free(w);
		ck_assert_int_eq(core_obj_remove(c, &rq, CORE_IOAS, io), 0);
	}
	ck_assert_str_eq(named_text(core_source_show_users, "s0"), "0\n");
	ck_assert_str_eq(named_text(core_source_show_users, "s1"), "0\n");
	ck_assert_int_eq(core_obj_remove(c, &rq, CORE_SOURCE, "s0"), 0);
	teardown();
}
END_TEST

/* What the sim backend holds at [iova, iova + len): its unmap says how much it took away. */
static int backend_unmap(const char *ioas, uint64_t iova, uint64_t len)
{
	uint32_t id = (uint32_t)strtoul(ioas_text(core_ioas_show_id, ioas), NULL, 0);

	return be->ops->unmap(be, id, iova, &len);
}

/* The calls the sweep below makes fail, and what each checks after a failure. */
static int sweep_map(void)
{
	return map_at("b", 0x200000, 0x1000, "buf", 0, RW);
}

static void sweep_map_check(void)
{
	ck_assert_int_eq(backend_unmap("b", 0x200000, 0x1000), -ENOENT);
}

static int sweep_copy(void)
{
	struct core_copy_cmd cp = { .fixed = true,
				    .iova = 0x40000000,
				    .length = 0x3000,
				    .src_ioas = "a",
				    .src_iova = 0x100000,
				    .prot = CORE_PROT_READ };
	uint64_t iova;

	return core_copy(c, &rq, ref("c"), &cp, &iova);
}

static void sweep_copy_check(void)
{
	ck_assert_int_eq(backend_unmap("c", 0x40000000, 0x3000), -ENOENT);
}

static int sweep_attach(void)
{
	return core_device_attach(c, &rq, "d", 0, "b");
}

static void sweep_attach_check(void)
{
	char ioas[CORE_NAME_MAX + 1];

	/* not attached, and the backend agrees: a detach has nothing to undo */
	ck_assert_int_ne(core_device_ioas(c, "d", 0, ioas), 0);
	ck_assert_int_ne(core_device_detach(c, &rq, "d", 0), 0);
}

/*
 * Run call with the k-th malloc failing, k = 0, 1, ... until it gets all it asks for: after
 * each ENOMEM nothing visible changed in ioas and check() finds the backend agreeing. Returns
 * how many times it failed.
 */
static long sweep(int (*call)(void), const char *ioas, void (*check)(void))
{
	long k;
	int r;

	for (k = 0;; k++) {
		char *before = ioas_state(ioas);

		fail_after = k;
		r = call();
		fail_after = -1;
		if (r != -ENOMEM)
			break;
		ck_assert_str_eq(ioas_state(ioas), before);
		check();
	}
	ck_assert_int_eq(r, 0);
	return k;
}

/*
 * Memory running out at each allocation in turn of a map and of a copy into an empty IOAS
 * (the backend's tree and the core's record each need their first node), and of an attach
 * to an IOAS with a mapping. Each must have failed at least at the backend's allocations,
 * and the map and the copy at the core's record too.
 */
START_TEST(test_enomem_sweep)
{
	char ioas[CORE_NAME_MAX + 1];

	setup("x86-vtd");
	mk(CORE_IOAS, "a");
	mk(CORE_IOAS, "b");
	mk(CORE_IOAS, "c");
	mk(CORE_DEVICE, "d");
	anon("buf", M);
	for (unsigned i = 0; i < 3; i++)
		map_at_ok("a", 0x100000 + i * 0x1000, 0x1000, "buf");
	ck_assert_int_ge(sweep(sweep_map, "b", sweep_map_check), 2);
	ck_assert_str_eq(MAPPINGS("b"), "0x0000000000200000-0x0000000000200fff rw buf+0x0\n");
	ck_assert_int_ge(sweep(sweep_copy, "c", sweep_copy_check), 3);
	ck_assert_uint_eq(stat_of("c", "mappings"), 3);
	ck_assert_uint_eq(stat_of("c", "bytes_mapped"), 0x3000);
	ck_assert_int_ge(sweep(sweep_attach, "b", sweep_attach_check), 1);
	ck_assert_int_eq(core_device_ioas(c, "d", 0, ioas), 0);
	ck_assert_str_eq(ioas, "b");
	teardown();
}
END_TEST

static Suite *core_suite(void)
{
	Suite *s = suite_create("core");
	TCase *tw = tcase_create("windows");
	TCase *tm = tcase_create("maps");
	TCase *to = tcase_create("objects");
	TCase *tc = tcase_create("concurrency");

	tcase_add_test(tw, test_window_fixed);
	tcase_add_test(tw, test_window_auto);
	tcase_add_test(tw, test_window_auto_profiles);
	tcase_add_test(tw, test_window_seed);
	tcase_add_test(tw, test_window_refusals);
	tcase_add_test(tw, test_window_max_windows);
	tcase_add_test(tw, test_window_busy);
	tcase_add_test(tw, test_window_device_reserved);
	tcase_add_test(tw, test_iova_ranges_profiles);
	tcase_add_test(tw, test_iova_ranges_custom);
	suite_add_tcase(s, tw);

	tcase_add_test(tm, test_map_auto);
	tcase_add_test(tm, test_map_geometry);
	tcase_add_test(tm, test_map_refusals);
	tcase_add_test(tm, test_map_readonly_file);
	tcase_add_test(tm, test_source_supplementary_groups);
	tcase_add_test(tm, test_map_stats);
	tcase_add_test(tm, test_unmap);
	tcase_add_test(tm, test_enomem_sweep);
	suite_add_tcase(s, tm);

	/* Creating 3 x 1024 objects takes a while under sanitizers. */
	tcase_set_timeout(to, 120);
	tcase_add_test(to, test_sources);
	tcase_add_test(to, test_devices);
	tcase_add_test(to, test_device_reserved);
	tcase_add_test(to, test_device_many_reserved);
	tcase_add_test(to, test_names);
	tcase_add_test(to, test_name_newline);
	tcase_add_test(to, test_status_alignment_options);
	tcase_add_test(to, test_limits);
	tcase_add_test(to, test_owners);
	tcase_add_test(to, test_max_mappings);
	suite_add_tcase(s, to);

	/* A deadlock shows up as this timeout. */
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_concurrency);
	tcase_add_test(tc, test_concurrency_remove);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(core_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
