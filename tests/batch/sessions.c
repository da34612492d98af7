/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Each open handle of a batch file is a session with its own completion queue: two programs
 * (or two threads) mapping into one IOAS never see each other's completions, and a session
 * closed with completions unread leaves nothing behind for the next one. Checked with raw
 * write/read on interleaved handles, then with two libioasfs handles driven from two threads
 * at once, each checking that it got exactly its own completions.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define RW	   (IOASFS_PROT_READ | IOASFS_PROT_WRITE)
#define PER_THREAD 20000u

static int write_nops(int fd, uint64_t tag, unsigned first, unsigned n)
{
	struct ioasfs_cmd c[8];

	for (unsigned i = 0; i < n; i++)
		c[i] = t_cmd(IOASFS_OP_NOP, 0, 0, tag << 56 | (first + i), 0, 0, 0, NULL);
	return write(fd, c, n * sizeof(c[0])) == (ssize_t)(n * sizeof(c[0])) ? 0 : -errno;
}

/* Read everything queued; check it is tag's completions first..first+n-1 in order. */
static void expect_own(int fd, const char *who, uint64_t tag, unsigned first, unsigned n)
{
	struct ioasfs_cqe w[16];
	ssize_t rd = read(fd, w, sizeof(w));
	unsigned got = rd > 0 ? (unsigned)rd / 32 : 0, ok = 0;

	for (unsigned i = 0; i < got && i < n; i++)
		ok += t_cqe_host(&w[i]).user_data == (tag << 56 | (first + i));
	if (!n)
		t_check(rd == 0, "%s has nothing to read (read returned %zd)", who, rd);
	else
		t_check(got == n && ok == n,
			"%s reads exactly its %u completions, in order (%u read, %u match)", who, n,
			got, ok);
}

struct worker {
	const struct t_env *e;
	uint64_t tag, base_iova;
	unsigned done, foreign, dup, failed;
	int err;
};

static void *worker(void *arg)
{
	struct ioasfs_batch_opts o = { .chunk = 512, .inflight = 4 };
	struct worker *w = arg;
	struct ioasfs_batch *b;
	struct ioasfs_cqe cqes[1024];
	unsigned char *seen = calloc(PER_THREAD, 1);
	int r;

	r = ioasfs_batch_open(w->e->ioas, &o, &b);
	if (r < 0 || !seen) {
		w->err = r < 0 ? r : -ENOMEM;
		free(seen);
		return NULL;
	}
	for (unsigned i = 0; i < PER_THREAD; i++) {
		r = ioasfs_batch_map_fixed(b, w->base_iova + i * 0x1000ull, w->e->name,
					   i * 0x1000ull, 0x1000, RW, w->tag << 56 | i);
		if (r < 0)
			goto out;
	}
	while (ioasfs_batch_pending(b)) {
		r = ioasfs_batch_submit(b);
		if (r < 0)
			goto out;
		r = ioasfs_batch_reap(b, cqes, 1024, 1);
		if (r < 0)
			goto out;
		for (int i = 0; i < r; i++) {
			uint64_t ud = cqes[i].user_data, idx = ud & ((1ull << 56) - 1);

			if (ud >> 56 != w->tag || idx >= PER_THREAD) {
				w->foreign++;
				continue;
			}
			w->dup += seen[idx]++ != 0;
			w->failed +=
			    cqes[i].res != 0 || cqes[i].iova != w->base_iova + idx * 0x1000;
			w->done++;
		}
	}
	r = 0;
out:
	w->err = r;
	ioasfs_batch_close(b);
	free(seen);
	return NULL;
}

int main(int argc, char **argv)
{
	struct worker ws[2];
	pthread_t th[2];
	struct t_env e;
	int a, b, c, r;

	r = t_setup(&e, argc, argv, "sessions", "256M");
	if (r != T_EXIT_PASS)
		return r;
	a = open(e.batch, O_RDWR);
	b = open(e.batch, O_RDWR);
	if (!t_check(a >= 0 && b >= 0, "two handles on %s", e.batch))
		goto out;

	/* interleaved writes on two sessions, reads in the other order */
	t_check(!write_nops(a, 'A', 0, 3) && !write_nops(b, 'B', 0, 2) && !write_nops(a, 'A', 3, 2),
		"A writes 3 NOPs, B writes 2, A writes 2 more");
	expect_own(b, "session B", 'B', 0, 2);
	expect_own(a, "session A", 'A', 0, 5);
	expect_own(a, "session A again", 'A', 0, 0);

	/* a session closed with completions unread leaves nothing to the next one */
	t_check(!write_nops(a, 'A', 5, 8), "A writes 8 NOPs and closes unread");
	close(a);
	c = open(e.batch, O_RDWR);
	t_check(c >= 0, "a third handle opens");
	expect_own(c, "the new session C", 'C', 0, 0);
	expect_own(b, "session B after A closed", 'B', 0, 0);
	close(b);
	close(c);

	/* two libioasfs handles mapping concurrently, 512-command chunks, 4 pairs each */
	for (unsigned i = 0; i < 2; i++) {
		ws[i] = (struct worker){ &e, 'P' + i, 0x100000000ull * (i + 1) };
		pthread_create(&th[i], NULL, worker, &ws[i]);
	}
	for (unsigned i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		t_check(
		    !ws[i].err && ws[i].done == PER_THREAD && !ws[i].foreign && !ws[i].dup &&
			!ws[i].failed,
		    "thread %u: %u of %u own completions, %u foreign, %u duplicate, %u failed (%s)",
		    i, ws[i].done, PER_THREAD, ws[i].foreign, ws[i].dup, ws[i].failed,
		    t_errname(ws[i].err));
	}
	t_check(t_stat(&e, "mappings") == 2 * PER_THREAD, "stats: mappings %u", 2 * PER_THREAD);
out:
	t_teardown(&e);
	return t_exit();
}
