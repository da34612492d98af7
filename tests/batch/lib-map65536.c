/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libioasfs maps and unmaps 65,536 x 4 KiB regions: first with the asynchronous API (queue
 * everything, then submit and reap until nothing is pending, checking every completion once),
 * then with ioasfs_batch_run(), which must return each completion at its command's position
 * even when every user_data is the same, and finally with chunk and inflight sizes that do
 * not divide the work evenly. `stats` must agree after each phase. Wall times are printed,
 * not asserted (benchmarks are not tests).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helpers.h"

#define N    65536u
#define SZ   0x1000ull
#define BASE 0x200000000ull
#define RW   (IOASFS_PROT_READ | IOASFS_PROT_WRITE)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Submit and reap until nothing is pending. Every completion must be res 0, at BASE + i * SZ
 * for user_data i, with length SZ, and each i must come exactly once.
 */
static void drain(struct ioasfs_batch *b, const char *what, unsigned n)
{
	static struct ioasfs_cqe cqes[2048];
	unsigned char *seen = calloc(n, 1);
	unsigned got = 0, bad = 0, dup = 0, max_sub = 0, calls = 0;
	int r = 0;
	double t0 = now();

	while (seen && ioasfs_batch_pending(b)) {
		r = ioasfs_batch_submit(b);
		if (r < 0)
			break;
		if ((unsigned)r > max_sub)
			max_sub = (unsigned)r;
		r = ioasfs_batch_reap(b, cqes, 2048, 1);
		if (r < 0)
			break;
		calls++;
		for (int i = 0; i < r; i++) {
			const struct ioasfs_cqe *c = &cqes[i];

			if (c->user_data >= n || c->res || c->iova != BASE + c->user_data * SZ ||
			    c->length != SZ) {
				if (bad++ < 3)
					t_log("%s: user_data %" PRIu64 " res %s iova 0x%" PRIx64
					      " length 0x%" PRIx64,
					      what, c->user_data, t_errname(c->res), c->iova,
					      c->length);
				continue;
			}
			dup += seen[c->user_data]++ != 0;
			got++;
		}
	}
	t_log("%s: %u commands in %.3f s, %u reap calls, at most %u submitted per call", what, n,
	      now() - t0, calls, max_sub);
	t_check(r >= 0 && got == n && !bad && !dup,
		"%s: %u of %u completions ok, %u bad, %u duplicate (%s)", what, got, n, bad, dup,
		t_errname(r < 0 ? r : 0));
	free(seen);
}

/* ioasfs_batch_run of n commands; cqes[i] must be the completion of cmds[i]. */
static void run(struct ioasfs_batch *b, const char *what, struct ioasfs_cmd *cmds,
		struct ioasfs_cqe *cqes, unsigned n)
{
	unsigned bad = 0;
	double t0 = now();
	int r = ioasfs_batch_run(b, cmds, n, cqes);

	t_log("%s: %u commands in %.3f s", what, n, now() - t0);
	for (unsigned i = 0; i < n && r == 0; i++)
		if (cqes[i].res || cqes[i].iova != BASE + i * SZ || cqes[i].length != SZ ||
		    cqes[i].user_data != 7) {
			if (bad++ < 3)
				t_log("%s: #%u res %s iova 0x%" PRIx64 " length 0x%" PRIx64, what,
				      i, t_errname(cqes[i].res), cqes[i].iova, cqes[i].length);
		}
	t_check(r == 0 && !bad && ioasfs_batch_pending(b) == 0,
		"%s: returns 0, every completion at its command's position (%s, %u bad)", what,
		t_errname(r), bad);
}

int main(int argc, char **argv)
{
	static struct ioasfs_cmd cmds[N];
	static struct ioasfs_cqe cqes[N];
	struct ioasfs_batch_opts odd = { .chunk = 1000, .inflight = 3 };
	struct ioasfs_batch_opts max = { .chunk = IOASFS_BATCH_MAX_CMDS, .inflight = 8 };
	struct ioasfs_batch *b = NULL;
	struct t_env e;
	int r;

	r = t_setup(&e, argc, argv, "libmap", "256M");
	if (r != T_EXIT_PASS)
		return r;
	r = ioasfs_batch_open(e.ioas, NULL, &b);
	if (!t_check(r == 0, "ioasfs_batch_open %s (%s)", e.ioas, t_errname(r)))
		goto out;

	/* asynchronous: queue all, then submit/reap */
	for (unsigned i = 0; i < N && r == 0; i++)
		r = ioasfs_batch_map_fixed(b, BASE + i * SZ, e.name, i * SZ, SZ, RW, i);
	t_check(r == 0 && ioasfs_batch_pending(b) == N, "queued %u map_fixed, pending %u", N,
		ioasfs_batch_pending(b));
	drain(b, "map_fixed via submit/reap", N);
	t_check(t_stat(&e, "mappings") == N, "stats: mappings %u (%" PRIu64 ")", N,
		t_stat(&e, "mappings"));
	for (unsigned i = 0; i < N && r == 0; i++)
		r = ioasfs_batch_unmap(b, BASE + i * SZ, SZ, i);
	t_check(r == 0, "queued %u unmaps", N);
	drain(b, "unmap via submit/reap", N);
	t_check(t_stat(&e, "mappings") == 0, "stats: mappings 0 (%" PRIu64 ")",
		t_stat(&e, "mappings"));

	/* blocking: positions, not user_data, match completions to commands */
	for (unsigned i = 0; i < N; i++)
		cmds[i] = t_cmd(IOASFS_OP_MAP_FIXED, RW, 0, 7, BASE + i * SZ, SZ, i * SZ, e.name);
	run(b, "map_fixed via ioasfs_batch_run", cmds, cqes, N);
	t_check(t_stat(&e, "mappings") == N, "stats: mappings %u", N);
	for (unsigned i = 0; i < N; i++)
		cmds[i] = t_cmd(IOASFS_OP_UNMAP, 0, 0, 7, BASE + i * SZ, SZ, 0, NULL);
	run(b, "unmap via ioasfs_batch_run", cmds, cqes, N);
	t_check(t_stat(&e, "mappings") == 0, "stats: mappings 0");
	ioasfs_batch_close(b);
	b = NULL;

	/* uneven sizes: 65,536 = 65 chunks of 1000 and one of 536, 3 pairs in flight */
	r = ioasfs_batch_open(e.ioas, &odd, &b);
	if (!t_check(r == 0, "open with chunk 1000, inflight 3 (%s)", t_errname(r)))
		goto out;
	for (unsigned i = 0; i < N && r == 0; i++)
		r = ioasfs_batch_map_fixed(b, BASE + i * SZ, e.name, i * SZ, SZ, RW, i);
	drain(b, "map_fixed, chunk 1000 x 3", N);
	for (unsigned i = 0; i < N; i++)
		cmds[i] = t_cmd(IOASFS_OP_UNMAP, 0, 0, 7, BASE + i * SZ, SZ, 0, NULL);
	run(b, "unmap via run, chunk 1000 x 3", cmds, cqes, N);
	t_check(t_stat(&e, "mappings") == 0, "stats: mappings 0");
	ioasfs_batch_close(b);
	b = NULL;

	/* the largest writes, 8 in flight: nearly all of the session's completion queue */
	r = ioasfs_batch_open(e.ioas, &max, &b);
	if (!t_check(r == 0, "open with chunk %u, inflight 8 (%s)", max.chunk, t_errname(r)))
		goto out;
	for (unsigned i = 0; i < N; i++)
		cmds[i] = t_cmd(IOASFS_OP_MAP_FIXED, RW, 0, 7, BASE + i * SZ, SZ, i * SZ, e.name);
	run(b, "map_fixed via run, largest chunk x 8", cmds, cqes, N);
	t_check(t_stat(&e, "mappings") == N, "stats: mappings %u", N);
	for (unsigned i = 0; i < N && r == 0; i++)
		r = ioasfs_batch_unmap(b, BASE + i * SZ, SZ, i);
	drain(b, "unmap, largest chunk x 8", N);
	t_check(t_stat(&e, "mappings") == 0, "stats: mappings 0");
out:
	ioasfs_batch_close(b);
	t_teardown(&e);
	return t_exit();
}
