/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Benchmarks through a mounted ioasfs, the way programs use it:
 *   bench_batch batch IOAS_DIR SOURCE N    N 4 KiB fixed-IOVA maps then N unmaps through the
 *                                          batch file (1024-command writes, 4 pairs in flight)
 *   bench_batch lines IOAS_DIR SOURCE N    the same through `map`/`unmap`, one write per line
 *   bench_batch bulk IOAS_DIR SOURCE N     the same, 1024 lines per write
 *   bench_batch fill IOAS_DIR SOURCE N     N maps through the batch file, left in place
 *   bench_batch nop IOAS_DIR SOURCE N      N NOPs through the batch file: the channel's own cost
 *   bench_batch cat FILE                   read FILE to the end; seconds and bytes
 * Each prints "key value" lines: nanoseconds per command (map and unmap each count one), or
 * what it measured; batch and nop also the CPU time this process (with its io_uring workers)
 * spent per command. Every completion is checked; a failed command ends the run with exit 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ioasfs/batch.h"

#define PAGE ((uint64_t)4096)
#define BASE ((uint64_t)0x100000000)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int die(const char *what, int err)
{
	fprintf(stderr, "bench_batch: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* Check and count the completions reaped. */
static unsigned check(const struct ioasfs_cqe *cqe, int r)
{
	if (r < 0)
		die("reap", r);
	for (int i = 0; i < r; i++)
		if (cqe[i].res)
			die("a command failed", cqe[i].res);
	return (unsigned)r;
}

/*
 * The streaming pattern of the asynchronous API: after each chunk queued, submit what fits
 * and take the completions already there, without waiting, so the daemon works while the
 * program builds the next commands.
 */
static unsigned stream(struct ioasfs_batch *b)
{
	struct ioasfs_cqe cqe[1024];
	int r = ioasfs_batch_submit(b);

	if (r < 0)
		die("submit", r);
	return check(cqe, ioasfs_batch_reap(b, cqe, 1024, 0));
}

/* Submit-reap until `n` more completions came (done counts those reaped already). */
static void drain(struct ioasfs_batch *b, unsigned n, unsigned done)
{
	struct ioasfs_cqe cqe[1024];
	int r;

	while (done < n) {
		r = ioasfs_batch_submit(b);
		if (r < 0)
			die("submit", r);
		done += check(cqe, ioasfs_batch_reap(b, cqe, 1024, 1));
	}
}

static double batch_run(const char *dir, const char *src, unsigned n, bool unmap, bool nop)
{
	struct ioasfs_batch_opts o = { .chunk = 1024, .inflight = 4 };
	const char *env = getenv("BENCH_INFLIGHT");

	if (env) /* for experiments; make bench uses the 1024 x 4 */
		o.inflight = (unsigned)atoi(env);
	struct ioasfs_batch *b;
	unsigned done = 0;
	double t0;
	int r;

	r = ioasfs_batch_open(dir, &o, &b);
	if (r < 0)
		die("open", r);
	t0 = now_s();
	for (unsigned i = 0; i < n; i++) {
		r = nop ? ioasfs_batch_nop(b, i)
			: ioasfs_batch_map_fixed(b, BASE + i * PAGE, src, 0, PAGE,
						 IOASFS_PROT_READ | IOASFS_PROT_WRITE, i);
		if (r < 0)
			die("queue map", r);
		if ((i + 1) % 1024 == 0)
			done += stream(b);
	}
	/* the unmaps must not overtake the maps: the writes in flight may run in any order */
	drain(b, n, done);
	if (unmap) {
		done = 0;
		for (unsigned i = 0; i < n; i++) {
			r = ioasfs_batch_unmap(b, BASE + i * PAGE, PAGE, i);
			if (r < 0)
				die("queue unmap", r);
			if ((i + 1) % 1024 == 0)
				done += stream(b);
		}
		drain(b, n, done);
	}
	t0 = now_s() - t0;
	ioasfs_batch_close(b);
	return t0 * 1e9 / (unmap ? 2.0 * n : n);
}

/* The text files: `per` lines in each write(2). */
static double text_run(const char *dir, const char *src, unsigned n, unsigned per)
{
	char path[4096], *buf = malloc((size_t)per * 64);
	int fd[2];
	double t0;

	for (int k = 0; k < 2; k++) {
		snprintf(path, sizeof(path), "%s/%s", dir, k ? "unmap" : "map");
		fd[k] = open(path, O_WRONLY);
		if (fd[k] < 0)
			die(path, errno);
	}
	t0 = now_s();
	for (int k = 0; k < 2; k++)
		for (unsigned i = 0; i < n; i += per) {
			size_t len = 0;

			for (unsigned j = i; j < i + per && j < n; j++)
				len += sprintf(buf + len, k ? "0x%" PRIx64 " 4K\n" : "0x%" PRIx64 " 4K %s\n",
					       BASE + j * PAGE, src);
			if (write(fd[k], buf, len) != (ssize_t)len)
				die(k ? "unmap write" : "map write", errno);
		}
	t0 = now_s() - t0;
	close(fd[0]);
	close(fd[1]);
	free(buf);
	return t0 * 1e9 / (2.0 * n);
}

static int cat(const char *file)
{
	static char buf[1 << 17];
	size_t total = 0;
	double t0 = now_s();
	int fd = open(file, O_RDONLY);
	ssize_t r;

	if (fd < 0)
		die(file, errno);
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		total += r;
	if (r < 0)
		die("read", errno);
	close(fd);
	printf("cat_seconds %.3f\ncat_bytes %zu\n", now_s() - t0, total);
	return 0;
}

/* CPU time of this process in ns: the program and its io_uring workers (same thread group). */
static double cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 0) : 0;
	double c0 = cpu_ns();

	if (argc == 3 && !strcmp(argv[1], "cat"))
		return cat(argv[2]);
	if (argc != 5 || !n) {
		fprintf(stderr, "usage: bench_batch batch|lines|bulk|fill|nop IOAS_DIR SOURCE N | "
				"cat FILE\n");
		return 2;
	}
	if (!strcmp(argv[1], "batch")) {
		printf("batch_ns_per_cmd %.1f\n", batch_run(argv[2], argv[3], n, true, false));
		printf("batch_client_cpu_ns_per_cmd %.1f\n", (cpu_ns() - c0) / (2.0 * n));
	} else if (!strcmp(argv[1], "nop")) {
		printf("batch_nop_ns_per_cmd %.1f\n", batch_run(argv[2], argv[3], n, false, true));
		printf("batch_nop_client_cpu_ns_per_cmd %.1f\n", (cpu_ns() - c0) / n);
	}
	else if (!strcmp(argv[1], "fill"))
		printf("fill_ns_per_map %.1f\n", batch_run(argv[2], argv[3], n, false, false));
	else if (!strcmp(argv[1], "lines"))
		printf("text_line_per_write_ns_per_cmd %.1f\n", text_run(argv[2], argv[3], n, 1));
	else if (!strcmp(argv[1], "bulk"))
		printf("text_1024_lines_per_write_ns_per_cmd %.1f\n",
		       text_run(argv[2], argv[3], n, 1024));
	else
		return 2;
	return 0;
}
