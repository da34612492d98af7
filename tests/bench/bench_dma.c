/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What reading memory through ioas/NAME/dma costs next to reading the same memory from its
 * file, the way a shell tool would (1 MiB pread(2) calls):
 *   bench_dma DMA_FILE IOVA FILE MIB
 * reads MIB MiB at IOVA of DMA_FILE and the first MIB MiB of FILE (the source mapped there),
 * each in 1 MiB preads, best of 5 passes, checks that both gave the same bytes, and prints
 *   dma_read_MBps N, file_read_MBps N, dma_read_ratio R (dma / file), dma_write_MBps N
 * (MB = 10^6 bytes). Exit 1 if a read fails or the bytes differ.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1u << 20)
#define PASSES 5

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int die(const char *what, const char *path)
{
	fprintf(stderr, "bench_dma: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

/* Best MB/s of PASSES passes of mib 1 MiB preads (or pwrites) at base; the last pass's
 * bytes go to keep (mib MiB) when reading. */
static double pass(const char *path, uint64_t base, unsigned mib, bool write, char *keep)
{
	char *buf = malloc(CHUNK);
	double best = 0;
	int fd = open(path, write ? O_WRONLY : O_RDONLY);

	if (fd < 0 || !buf)
		die("open", path);
	memset(buf, 0x5a, CHUNK);
	for (int p = 0; p < PASSES; p++) {
		double t0 = now_s(), dt;

		for (unsigned i = 0; i < mib; i++) {
			off_t off = (off_t)(base + (uint64_t)i * CHUNK);
			ssize_t n = write ? pwrite(fd, buf, CHUNK, off)
					  : pread(fd, keep + (size_t)i * CHUNK, CHUNK, off);

			if (n != CHUNK) {
				if (n >= 0)
					errno = EIO;
				die(write ? "pwrite" : "pread", path);
			}
		}
		dt = now_s() - t0;
		if (mib * (double)CHUNK / dt / 1e6 > best)
			best = mib * (double)CHUNK / dt / 1e6;
	}
	close(fd);
	free(buf);
	return best;
}

int main(int argc, char **argv)
{
	char *a, *b;
	uint64_t iova;
	unsigned mib;
	double dma, file, wr;

	if (argc != 5) {
		fprintf(stderr, "usage: bench_dma DMA_FILE IOVA FILE MIB\n");
		return 2;
	}
	iova = strtoull(argv[2], NULL, 0);
	mib = (unsigned)strtoul(argv[4], NULL, 0);
	a = malloc((size_t)mib * CHUNK);
	b = malloc((size_t)mib * CHUNK);
	if (!a || !b || !mib)
		return 2;
	dma = pass(argv[1], iova, mib, false, a);
	file = pass(argv[3], 0, mib, false, b);
	if (memcmp(a, b, (size_t)mib * CHUNK)) {
		fprintf(stderr, "bench_dma: dma and the file read different bytes\n");
		return 1;
	}
	wr = pass(argv[1], iova, mib, true, NULL);
	printf("dma_read_MBps %.0f\n", dma);
	printf("file_read_MBps %.0f\n", file);
	printf("dma_read_ratio %.2f\n", dma / file);
	printf("dma_write_MBps %.0f\n", wr);
	free(a);
	free(b);
	return 0;
}
