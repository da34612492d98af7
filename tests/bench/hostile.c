/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One user's map+unmap latency while another user attacks the mount (issue 19): the victim
 * and the attackers of tests/bench/hostile.sh, each run as its own user.
 *
 *   hostile victim IOAS_DIR SOURCE SECONDS
 *	through IOAS_DIR/map and IOAS_DIR/unmap, each opened read-write once: writes
 *	"0x100000 4K SOURCE", reads its result, writes "0x100000 4K" to unmap, reads its result,
 *	for SECONDS, timing each pair (CLOCK_MONOTONIC). Prints
 *	"victim n=N median=MS p99=MS max=MS over50ms=K" (milliseconds). Any failure (an errno
 *	or a result line other than "ok 0x0000000000100000 0x1000") is printed, and exit 1.
 *
 * Attackers run for SECONDS, count what each of their operations got, and print one
 * "ROLE KEY N" line per count (KEY: ok, an errno name, or a figure such as max_ms):
 *   hostile attr SECONDS FILE TEXT	     open FILE O_WRONLY|O_TRUNC, write TEXT, close
 *   hostile mapfd SECONDS IOAS_DIR FILE...  batch MAP_FD (auto, 4 KiB, read) of each FILE,
 *					     16 of each per submission
 *   hostile flood SECONDS IOAS_DIR SOURCE   writes of 65536 "auto 4K SOURCE" lines to map
 *					     until one fails, then "all" to unmap; again
 *   hostile mkdirs SECONDS DIR PREFIX MAX   mkdir DIR/PREFIX0.. until MAX or a refusal, then
 *					     rmdir them all; again
 *   hostile read SECONDS FILE		     read FILE to its end (128 KiB reads); again
 *
 * And a set-up step: hostile fill IOAS_DIR SOURCE N maps N 4 KiB automatic mappings through
 * map, 65536 lines a write; exit 1 if a write fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ioasfs/batch.h"

#define LINES_PER_WRITE 65536 /* limit_lines_per_write */
#define MAPFD_EACH	16
#define READ_CHUNK	(128 << 10)
#define ERRNO_MAX	256
#define MAX_ROLES	4

static const char *prog = "hostile";

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *arg, int err)
{
	fprintf(stderr, "%s: %s%s%s: %s\n", prog, what, arg ? " " : "", arg ? arg : "",
		strerror(err));
	exit(2);
}

static double parse_secs(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (*end || !(v > 0))
		die("bad SECONDS", s, EINVAL);
	return v;
}

/* ---------------------------------------------------------------- counting */

struct tally {
	const char *role;
	unsigned long n[ERRNO_MAX + 1]; /* [0]: ok; [ERRNO_MAX]: any larger errno */
	double max_ms;			/* the slowest operation, when timed */
	unsigned long long bytes;
};

static struct tally tallies[MAX_ROLES];
static int n_tallies;

static struct tally *tally(const char *role)
{
	for (int i = 0; i < n_tallies; i++)
		if (!strcmp(tallies[i].role, role))
			return &tallies[i];
	if (n_tallies == MAX_ROLES)
		die("too many roles", role, EINVAL);
	tallies[n_tallies].role = role;
	return &tallies[n_tallies++];
}

/* Count one operation: 0 or an errno (positive or negative). */
static void count(struct tally *t, int err)
{
	if (err < 0)
		err = -err;
	t->n[err < ERRNO_MAX ? err : ERRNO_MAX]++;
}

static void print_tallies(void)
{
	for (int i = 0; i < n_tallies; i++) {
		struct tally *t = &tallies[i];

		printf("%s ok %lu\n", t->role, t->n[0]);
		for (int e = 1; e <= ERRNO_MAX; e++) {
			const char *name = e < ERRNO_MAX ? strerrorname_np(e) : "E_OTHER";

			if (!t->n[e])
				continue;
			if (name)
				printf("%s %s %lu\n", t->role, name, t->n[e]);
			else
				printf("%s E%d %lu\n", t->role, e, t->n[e]);
		}
		if (t->max_ms > 0)
			printf("%s max_ms %.1f\n", t->role, t->max_ms);
		if (t->bytes)
			printf("%s bytes %llu\n", t->role, t->bytes);
	}
	fflush(stdout);
}

/* ---------------------------------------------------------------- the victim */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void victim_report(double *lat, size_t n)
{
	size_t over = 0;

	if (!n) {
		printf("victim n=0\n");
		fflush(stdout);
		return;
	}
	for (size_t i = 0; i < n; i++)
		over += lat[i] > 50.0;
	qsort(lat, n, sizeof(*lat), cmp_double);
	printf("victim n=%zu median=%.3f p99=%.3f max=%.3f over50ms=%zu\n", n, lat[n / 2],
	       lat[n * 99 / 100], lat[n - 1], over);
	fflush(stdout);
}

/* Write one command and read its result; 0 or the errno, with the result line in res. */
static int command(int fd, const char *line, char *res, size_t size)
{
	size_t len = strlen(line);
	ssize_t r = write(fd, line, len);

	if (r < 0)
		return errno;
	if ((size_t)r != len)
		return EIO;
	r = read(fd, res, size - 1);
	if (r < 0)
		return errno;
	res[r] = '\0';
	return 0;
}

static int victim(int argc, char **argv)
{
	static const char want[] = "ok 0x0000000000100000 0x1000\n";
	char path[4096], map_line[256], res[256];
	size_t n = 0, cap = 1 << 16;
	double *lat = malloc(cap * sizeof(*lat));
	double secs, end;
	int mfd, ufd;

	if (argc != 5)
		return -1;
	secs = parse_secs(argv[4]);
	if (!lat)
		die("malloc", NULL, ENOMEM);
	snprintf(map_line, sizeof(map_line), "0x100000 4K %s\n", argv[3]);
	snprintf(path, sizeof(path), "%s/map", argv[2]);
	mfd = open(path, O_RDWR | O_CLOEXEC);
	if (mfd < 0) {
		printf("victim: FAILED: open %s: %s\n", path, strerrorname_np(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/unmap", argv[2]);
	ufd = open(path, O_RDWR | O_CLOEXEC);
	if (ufd < 0) {
		printf("victim: FAILED: open %s: %s\n", path, strerrorname_np(errno));
		return 1;
	}
	end = now_s() + secs;
	for (;;) {
		double t0 = now_s(), t1;
		const char *what = "map";
		int e = command(mfd, map_line, res, sizeof(res));

		if (!e && strcmp(res, want))
			e = -1;
		if (!e) {
			what = "unmap";
			e = command(ufd, "0x100000 4K\n", res, sizeof(res));
			if (!e && strcmp(res, want))
				e = -1;
		}
		t1 = now_s();
		if (e) {
			victim_report(lat, n);
			if (e > 0)
				printf("victim: FAILED: %s %zu: %s after %.1f ms\n", what, n + 1,
				       strerrorname_np(e), (t1 - t0) * 1e3);
			else
				printf("victim: FAILED: %s %zu: result \"%.*s\"\n", what, n + 1,
				       (int)strcspn(res, "\n"), res);
			return 1;
		}
		if (n == cap) {
			double *v = realloc(lat, 2 * cap * sizeof(*lat));

			if (!v)
				die("realloc", NULL, ENOMEM);
			lat = v;
			cap *= 2;
		}
		lat[n++] = (t1 - t0) * 1e3;
		if (t1 >= end)
			break;
	}
	victim_report(lat, n);
	free(lat);
	return 0;
}

/* ---------------------------------------------------------------- attackers */

/* open FILE O_WRONLY|O_TRUNC, write TEXT, close: a source path, say */
static int attr(int argc, char **argv)
{
	struct tally *t = tally("attr-write");
	size_t len;
	double end;

	if (argc != 5)
		return -1;
	end = now_s() + parse_secs(argv[2]);
	len = strlen(argv[4]);
	while (now_s() < end) {
		int fd = open(argv[3], O_WRONLY | O_TRUNC | O_CLOEXEC);
		int e = 0;

		if (fd < 0) {
			count(t, errno);
			continue;
		}
		errno = 0;
		if (write(fd, argv[4], len) != (ssize_t)len)
			e = errno ? errno : EIO;
		if (close(fd) < 0 && !e)
			e = errno;
		count(t, e);
	}
	print_tallies();
	return 0;
}

static int mapfd(int argc, char **argv)
{
	struct tally *t = tally("map-fd"), *topen = tally("open");
	struct ioasfs_cqe cqe[MAPFD_EACH * 8];
	struct ioasfs_batch *b;
	int fds[8], nfd = 0, r;
	double end;

	if (argc < 5 || argc - 4 > 8)
		return -1;
	end = now_s() + parse_secs(argv[2]);
	r = ioasfs_batch_open(argv[3], NULL, &b);
	if (r < 0)
		die("ioasfs_batch_open", argv[3], -r);
	for (int i = 4; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC);

		count(topen, fd < 0 ? errno : 0);
		if (fd >= 0)
			fds[nfd++] = fd;
	}
	if (!nfd)
		die("no FILE opens", NULL, ENOENT);
	while (now_s() < end) {
		for (int k = 0; k < MAPFD_EACH; k++)
			for (int i = 0; i < nfd; i++) {
				r = ioasfs_batch_map_fd(b, IOASFS_IOVA_AUTO, fds[i], 0, 4096,
							IOASFS_PROT_READ, 0);
				if (r < 0)
					die("ioasfs_batch_map_fd", NULL, -r);
			}
		while (ioasfs_batch_pending(b)) {
			r = ioasfs_batch_submit(b);
			if (r < 0)
				die("ioasfs_batch_submit", NULL, -r);
			r = ioasfs_batch_reap(b, cqe, MAPFD_EACH * 8, 1);
			if (r < 0)
				die("ioasfs_batch_reap", NULL, -r);
			for (int i = 0; i < r; i++)
				count(t, cqe[i].res);
		}
	}
	ioasfs_batch_close(b);
	print_tallies();
	return 0;
}

/* A buffer of n "auto 4K SOURCE" lines. */
static char *map_lines(const char *src, unsigned n, size_t *len)
{
	char line[128];
	size_t l = (size_t)snprintf(line, sizeof(line), "auto 4K %s\n", src);
	char *buf = malloc(l * n);

	if (!buf)
		die("malloc", NULL, ENOMEM);
	for (unsigned i = 0; i < n; i++)
		memcpy(buf + i * l, line, l);
	*len = l * n;
	return buf;
}

static int flood(int argc, char **argv)
{
	struct tally *tm = tally("map-65536-lines"), *tu = tally("unmap-all");
	char path[4096];
	size_t len;
	char *buf;
	double end;
	int mfd, ufd;

	if (argc != 5)
		return -1;
	end = now_s() + parse_secs(argv[2]);
	buf = map_lines(argv[4], LINES_PER_WRITE, &len);
	snprintf(path, sizeof(path), "%s/map", argv[3]);
	mfd = open(path, O_WRONLY | O_CLOEXEC);
	if (mfd < 0)
		die("open", path, errno);
	snprintf(path, sizeof(path), "%s/unmap", argv[3]);
	ufd = open(path, O_WRONLY | O_CLOEXEC);
	if (ufd < 0)
		die("open", path, errno);
	while (now_s() < end) {
		double t0 = now_s();
		ssize_t r = write(mfd, buf, len);

		count(tm, r < 0 ? errno : 0);
		if ((now_s() - t0) * 1e3 > tm->max_ms)
			tm->max_ms = (now_s() - t0) * 1e3;
		if (r >= 0)
			continue;
		t0 = now_s();
		r = write(ufd, "all\n", 4);
		count(tu, r < 0 ? errno : 0);
		if ((now_s() - t0) * 1e3 > tu->max_ms)
			tu->max_ms = (now_s() - t0) * 1e3;
	}
	print_tallies();
	free(buf);
	return 0;
}

static int mkdirs(int argc, char **argv)
{
	struct tally *tm = tally("mkdir"), *tr = tally("rmdir");
	char path[4096];
	unsigned max;
	double end;

	if (argc != 6)
		return -1;
	end = now_s() + parse_secs(argv[2]);
	max = (unsigned)strtoul(argv[5], NULL, 0);
	while (now_s() < end) {
		unsigned made = 0;

		while (made < max) {
			snprintf(path, sizeof(path), "%s/%s%u", argv[3], argv[4], made);
			if (mkdir(path, 0755) < 0) {
				count(tm, errno);
				break;
			}
			count(tm, 0);
			made++;
		}
		while (made--) {
			snprintf(path, sizeof(path), "%s/%s%u", argv[3], argv[4], made);
			count(tr, rmdir(path) < 0 ? errno : 0);
		}
	}
	print_tallies();
	return 0;
}

static int readloop(int argc, char **argv)
{
	struct tally *t = tally("read");
	char *buf = malloc(READ_CHUNK);
	double end;

	if (argc != 4)
		return -1;
	if (!buf)
		die("malloc", NULL, ENOMEM);
	end = now_s() + parse_secs(argv[2]);
	while (now_s() < end) {
		double t0 = now_s();
		int fd = open(argv[3], O_RDONLY | O_CLOEXEC);
		ssize_t r = 0;

		if (fd < 0) {
			count(t, errno);
			continue;
		}
		while ((r = read(fd, buf, READ_CHUNK)) > 0)
			t->bytes += (unsigned long long)r;
		count(t, r < 0 ? errno : 0);
		close(fd);
		if ((now_s() - t0) * 1e3 > t->max_ms)
			t->max_ms = (now_s() - t0) * 1e3;
	}
	print_tallies();
	free(buf);
	return 0;
}

/* ---------------------------------------------------------------- set-up */

static int fill(int argc, char **argv)
{
	char path[4096];
	unsigned long n;
	double t0 = now_s();
	size_t len;
	char *buf;
	int fd;

	if (argc != 5)
		return -1;
	n = strtoul(argv[4], NULL, 0);
	buf = map_lines(argv[3], LINES_PER_WRITE, &len);
	snprintf(path, sizeof(path), "%s/map", argv[2]);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die("open", path, errno);
	for (unsigned long done = 0; done < n;) {
		unsigned long k = n - done < LINES_PER_WRITE ? n - done : LINES_PER_WRITE;
		size_t l = len / LINES_PER_WRITE * k;

		if (write(fd, buf, l) != (ssize_t)l)
			die("write", path, errno ? errno : EIO);
		done += k;
	}
	close(fd);
	free(buf);
	printf("fill %lu mappings in %.2f s\n", n, now_s() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} modes[] = {
		{ "victim", victim }, { "attr", attr },	    { "mapfd", mapfd }, { "flood", flood },
		{ "mkdirs", mkdirs }, { "read", readloop }, { "fill", fill },
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; argc > 1 && i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(argv[1], modes[i].name))
			continue;
		int r = modes[i].fn(argc, argv);

		if (r >= 0)
			return r;
		break;
	}
	fprintf(stderr,
		"usage: %s victim IOAS_DIR SOURCE SECONDS\n"
		"       %s attr SECONDS FILE TEXT\n"
		"       %s mapfd SECONDS IOAS_DIR FILE...\n"
		"       %s flood SECONDS IOAS_DIR SOURCE\n"
		"       %s mkdirs SECONDS DIR PREFIX MAX\n"
		"       %s read SECONDS FILE\n"
		"       %s fill IOAS_DIR SOURCE N\n",
		prog, prog, prog, prog, prog, prog, prog);
	return 2;
}
