/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * In-process benchmarks of what the daemon does per command, without FUSE:
 *   bench_core inproc N   4 KiB fixed-IOVA map + unmap straight into the sim backend: the
 *                         denominator of batch_vs_inprocess_ratio (ns per command)
 *   bench_core corebatch N  the same commands as batch records through core_batch() (the
 *                         daemon's model and the sim, no FUSE), 1024 per call
 *   bench_core scale      per-operation cost of map, lookup, unmap and automatic
 *                         allocation through the core (model + sim) with 1,000 and with
 *                         1,000,000 mappings in one IOAS, and their ratio
 * Figures go to stdout as "key value" lines. Not a test: it asserts nothing but that the
 * operations succeed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "backend/backend.h"
#include "core/core.h"
#include "util/platform.h"
#include "ioasfs/batch.h"

#define PAGE 4096ull

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "bench_core: %s: %s\n", what, strerror(-r));
	exit(1);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int inproc(unsigned n)
{
	struct platform plat;
	struct backend *be;
	uint32_t ioas;
	void *buf = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned rounds = 8;
	double best = 1e30;
	int r;

	platform_builtin("x86-vtd", &plat);
	r = sim_backend_create(&plat, &be);
	if (r < 0)
		die("sim", r);
	r = be->ops->ioas_alloc(be, &ioas);
	if (r < 0)
		die("ioas_alloc", r);
	for (unsigned k = 0; k < rounds; k++) {
		double t0 = now_ns();

		for (unsigned i = 0; i < n; i++) {
			uint64_t iova = 0x100000000ull + i * PAGE;

			r = be->ops->map(be, ioas,
					 BACKEND_MAP_FIXED_IOVA | BACKEND_MAP_READABLE |
						 BACKEND_MAP_WRITEABLE,
					 buf, PAGE, &iova);
			if (r < 0)
				die("map", r);
		}
		for (unsigned i = 0; i < n; i++) {
			uint64_t len = PAGE;

			r = be->ops->unmap(be, ioas, 0x100000000ull + i * PAGE, &len);
			if (r < 0)
				die("unmap", r);
		}
		double per = (now_ns() - t0) / (2.0 * n);
		if (per < best)
			best = per;
	}
	printf("inprocess_ns_per_cmd %.1f\n", best);
	be->ops->close(be);
	return 0;
}

/* A core on the sim backend (x86-vtd) with IOAS "vm" and a one-page anon source "buf". */
static void core_setup(struct platform *plat, struct backend **be, struct core **c)
{
	struct core_req rq = { .path = "/bench", .quiet = true };
	int r;

	platform_builtin("x86-vtd", plat);
	if ((r = sim_backend_create(plat, be)) < 0 || (r = core_create(*be, plat, c)) < 0)
		die("setup", r);
	if ((r = core_obj_create(*c, &rq, CORE_IOAS, "vm")) < 0 ||
	    (r = core_obj_create(*c, &rq, CORE_SOURCE, "buf")) < 0 ||
	    (r = core_source_set(*c, &rq, "buf", 0, true, PAGE, NULL)) < 0)
		die("objects", r);
}

static int corebatch(unsigned n)
{
	struct core_req rq = { .path = "/bench", .quiet = true };
	struct core_ioas_ref ref = { "vm", 0 };
	struct ioasfs_cmd *cmds = calloc(1024, sizeof(*cmds));
	struct ioasfs_cqe *out = calloc(1024, sizeof(*out));
	struct platform plat;
	struct backend *be;
	struct core *c;
	double best = 1e30;
	int r;

	core_setup(&plat, &be, &c);
	for (int k = 0; k < 8; k++) {
		double t0 = now_ns();

		for (int op = 0; op < 2; op++)
			for (unsigned i = 0; i < n; i += 1024) {
				for (unsigned j = 0; j < 1024; j++) {
					struct ioasfs_cmd *cmd = &cmds[j];

					memset(cmd, 0, sizeof(*cmd));
					cmd->version = IOASFS_BATCH_VERSION;
					cmd->opcode = op ? IOASFS_OP_UNMAP : IOASFS_OP_MAP_FIXED;
					cmd->prot = op ? 0 : IOASFS_PROT_READ | IOASFS_PROT_WRITE;
					cmd->iova = 0x100000000ull + (i + j) * PAGE;
					cmd->length = PAGE;
					if (!op)
						strcpy(cmd->name, "buf");
				}
				if ((r = core_batch(c, &rq, ref, cmds, 1024, out)) < 0)
					die("core_batch", r);
				for (unsigned j = 0; j < 1024; j++)
					if (out[j].res)
						die("command", out[j].res);
			}
		double per = (now_ns() - t0) / (2.0 * n);
		if (per < best)
			best = per;
	}
	printf("core_batch_ns_per_cmd %.1f\n", best);
	core_destroy(c);
	be->ops->close(be);
	free(cmds);
	free(out);
	return 0;
}

struct scale {
	double map, lookup, unmap, alloc;
};

/* Mappings packed from 0x1000, so the first free hole is past all of them. */
static void scale_run(unsigned pop, unsigned ops, bool random_order, struct scale *out)
{
	struct core_req rq = { .path = "/bench", .quiet = true };
	struct core_ioas_ref ref = { "vm", 0 };
	struct core_map_cmd m = { .fixed = true, .length = PAGE, .source = "buf", .prot = 3 };
	struct platform plat;
	struct backend *be;
	struct core *c;
	uint64_t iova, len, s = 0x9e3779b97f4a7c15ull, a, b;
	uint64_t *slots = malloc(ops * sizeof(*slots));
	double t0;
	int r;

	core_setup(&plat, &be, &c);
	for (unsigned i = 0; i < pop; i++) {
		m.iova = PAGE + i * PAGE;
		if ((r = core_map(c, &rq, ref, &m, &iova)) < 0)
			die("populate", r);
	}
	/* distinct random slots */
	for (unsigned i = 0; i < ops; i++)
		slots[i] = i;
	for (unsigned i = ops; i-- > 1;) {
		uint64_t j = rnd(&s) % (i + 1), t = slots[i];

		slots[i] = slots[j];
		slots[j] = t;
	}
	for (unsigned i = 0; i < ops; i++) {
		if (random_order)
			slots[i] = PAGE + (slots[i] * (uint64_t)(pop / ops)) * PAGE;
		else /* a driver's pattern: a run of neighbours in the middle, in order */
			slots[i] = PAGE + ((uint64_t)(pop - ops) / 2 + i) * PAGE;
	}

	t0 = now_ns();
	for (unsigned i = 0; i < ops; i++)
		if ((r = core_ioas_lookup(c, ref, slots[i] + 5, &a, &b)) < 0)
			die("lookup", r);
	out->lookup = (now_ns() - t0) / ops;

	t0 = now_ns();
	for (unsigned i = 0; i < ops; i++)
		if ((r = core_unmap(c, &rq, ref, false, slots[i], PAGE, &len)) < 0)
			die("unmap", r);
	out->unmap = (now_ns() - t0) / ops;

	t0 = now_ns();
	for (unsigned i = 0; i < ops; i++) {
		m.iova = slots[i];
		if ((r = core_map(c, &rq, ref, &m, &iova)) < 0)
			die("map", r);
	}
	out->map = (now_ns() - t0) / ops;

	/* every hole refilled: automatic allocation has to find the end of the packed run */
	m.fixed = false;
	t0 = now_ns();
	for (unsigned i = 0; i < ops; i++)
		if ((r = core_map(c, &rq, ref, &m, &iova)) < 0)
			die("auto map", r);
	out->alloc = (now_ns() - t0) / ops;

	core_destroy(c);
	be->ops->close(be);
	free(slots);
}

static void best_of(struct scale *b, const struct scale *t)
{
	b->map = t->map < b->map ? t->map : b->map;
	b->lookup = t->lookup < b->lookup ? t->lookup : b->lookup;
	b->unmap = t->unmap < b->unmap ? t->unmap : b->unmap;
	b->alloc = t->alloc < b->alloc ? t->alloc : b->alloc;
}

static double scale_report(const char *name, bool random_order)
{
	struct scale small = { 1e30, 1e30, 1e30, 1e30 }, big = { 1e30, 1e30, 1e30, 1e30 }, t;
	double rs, rb;

	/* best of 3 for both sizes, the same 1,000 operations of each kind */
	for (int k = 0; k < 3; k++) {
		scale_run(1000, 1000, random_order, &t);
		best_of(&small, &t);
		scale_run(1000000, 1000, random_order, &t);
		best_of(&big, &t);
	}
	printf("%s_1K_ns map %.0f lookup %.0f unmap %.0f auto_alloc %.0f\n", name, small.map,
	       small.lookup, small.unmap, small.alloc);
	printf("%s_1M_ns map %.0f lookup %.0f unmap %.0f auto_alloc %.0f\n", name, big.map,
	       big.lookup, big.unmap, big.alloc);
	printf("%s_ratio_each map %.2f lookup %.2f unmap %.2f auto_alloc %.2f\n", name,
	       big.map / small.map, big.lookup / small.lookup, big.unmap / small.unmap,
	       big.alloc / small.alloc);
	rs = small.map + small.lookup + small.unmap + small.alloc;
	rb = big.map + big.lookup + big.unmap + big.alloc;
	return rb / rs;
}

static int scale(void)
{
	double seq = scale_report("scale_seq", false);
	double rnd_ratio = scale_report("scale_random", true);

	/* random order measures DRAM latency x tree depth as much as the algorithm */
	printf("scale_random_1M_vs_1K_ratio %.2f\n", rnd_ratio);
	printf("scale_1M_vs_1K_ratio %.2f\n", seq);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "inproc"))
		return inproc(argc >= 3 ? (unsigned)atoi(argv[2]) : 65536);
	if (argc >= 2 && !strcmp(argv[1], "scale"))
		return scale();
	if (argc >= 2 && !strcmp(argv[1], "corebatch"))
		return corebatch(argc >= 3 ? (unsigned)atoi(argv[2]) & ~1023u : 65536);
	fprintf(stderr, "usage: bench_core inproc [N] | corebatch [N] | scale\n");
	return 2;
}
