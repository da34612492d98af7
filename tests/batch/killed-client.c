/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A client killed in the middle of a batch leaves the daemon healthy. A child maps and
 * unmaps in a loop through libioasfs with 8 pairs in flight, while a second session of it
 * writes batches it never reads; once it is busy the parent SIGKILLs it, several times. Then
 * a fresh session must work, `mappings` and `stats` must agree, and every session slot the
 * dead children held must come back (all `limit_batch_sessions` handles open at once). Leaks
 * in the daemon are caught by running this under IOASFS_VALGRIND=1 (tests/fs/t-batch.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

#define RW     (IOASFS_PROT_READ | IOASFS_PROT_WRITE)
#define ROUNDS 5
#define PER    2048u

/* The child: never returns. Tells the parent through ready once batches are in flight. */
static void client(const struct t_env *e, unsigned round, int ready)
{
	struct ioasfs_batch_opts o = { .chunk = 256, .inflight = 8 };
	static struct ioasfs_cmd nops[IOASFS_BATCH_MAX_CMDS];
	struct ioasfs_cqe cqes[512];
	uint64_t base = 0x1000000000ull * (round + 1);
	struct ioasfs_batch *b;
	bool told = false;
	int raw = open(e->batch, O_RDWR);

	if (ioasfs_batch_open(e->ioas, &o, &b) < 0 || raw < 0)
		_exit(3);
	for (unsigned i = 0; i < IOASFS_BATCH_MAX_CMDS; i++)
		nops[i] = t_cmd(IOASFS_OP_NOP, 0, 0, i, 0, 0, 0, NULL);
	for (;;) {
		/* completions the daemon keeps for a session nobody reads (ENOBUFS when full) */
		if (write(raw, nops, sizeof(nops)) < 0 && errno != ENOBUFS)
			_exit(4);
		for (unsigned i = 0; i < PER; i++)
			ioasfs_batch_map_fixed(b, base + i * 0x1000ull, e->name, i * 0x1000ull,
					       0x1000, RW, i);
		for (unsigned i = 0; i < PER; i++)
			ioasfs_batch_unmap(b, base + i * 0x1000ull, 0x1000, i);
		while (ioasfs_batch_pending(b)) {
			if (ioasfs_batch_submit(b) < 0)
				_exit(5);
			if (!told) {
				told = write(ready, "x", 1) == 1;
				close(ready);
			}
			if (ioasfs_batch_reap(b, cqes, 512, 1) < 0)
				_exit(6);
		}
	}
}

/* How many lines a file has. */
static long lines(const char *s)
{
	long n = 0;

	for (; s && *s; s++)
		n += *s == '\n';
	return s ? n : -1;
}

/* Open limit handles at once; the releases of killed clients arrive asynchronously. */
static void sessions_back(const struct t_env *e)
{
	char *status = NULL, path[1200], *p;
	long limit = 0, opened = 0;
	int *fds = NULL, err = 0;
	struct rlimit rl;

	snprintf(path, sizeof(path), "%s/status", e->mnt);
	status = t_read_file(path);
	p = status ? strstr(status, "limit_batch_sessions ") : NULL;
	if (p)
		limit = strtol(p + strlen("limit_batch_sessions "), NULL, 0);
	if (!t_check(limit > 0 && limit < 100000, "status says limit_batch_sessions %ld", limit))
		goto out;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < (rlim_t)limit + 64) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)limit + 64 ? rl.rlim_max : (rlim_t)limit + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < (rlim_t)limit + 16) {
		t_log("RLIMIT_NOFILE %lu is too low to open %ld sessions; not checked",
		      (unsigned long)rl.rlim_cur, limit);
		goto out;
	}
	fds = calloc((size_t)limit + 1, sizeof(*fds));
	for (int tries = 0; fds && tries < 100; tries++) {
		while (opened < limit) {
			fds[opened] = open(e->batch, O_RDWR);
			if (fds[opened] < 0) {
				err = errno;
				break;
			}
			opened++;
		}
		if (opened == limit)
			break;
		usleep(50000);
	}
	t_check(opened == limit, "all %ld session slots are free again (%ld opened, last %s)",
		limit, opened, t_errname(err));
	if (fds && opened == limit) {
		fds[opened] = open(e->batch, O_RDWR);
		t_check(fds[opened] < 0 && errno == EMFILE, "session %ld: EMFILE", limit + 1);
		if (fds[opened] >= 0)
			close(fds[opened]);
	}
	while (opened > 0)
		close(fds[--opened]);
out:
	free(fds);
	free(status);
}

int main(int argc, char **argv)
{
	struct ioasfs_cmd cmds[3];
	struct ioasfs_cqe cqes[3];
	struct ioasfs_batch *b;
	struct t_env e;
	char *maps, *status, path[1200];
	int r;

	r = t_setup(&e, argc, argv, "killed", "64M");
	if (r != T_EXIT_PASS)
		return r;
	srand((unsigned)time(NULL));
	for (unsigned round = 0; round < ROUNDS; round++) {
		int pipefd[2], st = 0;
		char c;
		pid_t pid;

		if (pipe(pipefd) < 0)
			break;
		pid = fork();
		if (pid == 0) {
			close(pipefd[0]);
			client(&e, round, pipefd[1]);
		}
		close(pipefd[1]);
		r = (int)read(pipefd[0], &c, 1);
		close(pipefd[0]);
		usleep(1000 * (useconds_t)(rand() % 100));
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		t_check(r == 1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
			"round %u: client busy, then killed by SIGKILL (status 0x%x)", round, st);
	}

	snprintf(path, sizeof(path), "%s/status", e.mnt);
	status = t_read_file(path);
	t_check(status && strstr(status, "limit_batch_cmds"), "the daemon answers (status)");
	free(status);

	r = ioasfs_batch_open(e.ioas, NULL, &b);
	if (t_check(r == 0, "a fresh session opens (%s)", t_errname(r))) {
		cmds[0] = t_cmd(IOASFS_OP_NOP, 0, 0, 1, 0, 0, 0, NULL);
		cmds[1] = t_cmd(IOASFS_OP_MAP_FIXED, RW, 0, 2, 0x7000000000ull, 0x2000, 0, e.name);
		cmds[2] = t_cmd(IOASFS_OP_UNMAP, 0, 0, 3, 0x7000000000ull, 0x2000, 0, NULL);
		r = ioasfs_batch_run(b, cmds, 3, cqes);
		t_check(r == 0 && cqes[0].res == 0 && cqes[1].res == 0 &&
			    cqes[1].iova == 0x7000000000ull && cqes[2].res == 0 &&
			    cqes[2].length == 0x2000,
			"it runs NOP, MAP_FIXED, UNMAP (%s; %s %s %s)", t_errname(r),
			t_errname(cqes[0].res), t_errname(cqes[1].res), t_errname(cqes[2].res));
		ioasfs_batch_close(b);
	}
	/*
	 * Once every slot is free, every dead client's file was released, so none of its writes
	 * is still running in the daemon (a write the daemon had already read when the client
	 * died can finish after the kill): only then do stats and mappings stand still.
	 */
	sessions_back(&e);
	{
		uint64_t before = t_stat(&e, "mappings"), after;

		maps = t_ioas_file(&e, "mappings");
		after = t_stat(&e, "mappings");
		t_check(maps && before == after && after == (uint64_t)lines(maps),
			"stats and mappings agree (%" PRIu64 ", %" PRIu64 " vs %ld lines)", before,
			after, lines(maps));
		free(maps);
	}
	t_teardown(&e);
	return t_exit();
}
