/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * map65536: map 65,536 regions of a source into an IOAS the way a userspace driver (DPDK,
 * SPDK) sets up its DMA memory, through libioasfs: queue every map, then keep a few batches in
 * flight with ioasfs_batch_submit() and collect completions with ioasfs_batch_reap() as they
 * arrive, never waiting for one batch before sending the next. Each completion is checked
 * (res, length, user_data) and its IOVA kept, then everything is unmapped the same way. It
 * prints the count and the wall time of both phases.
 *
 *   map65536 MOUNT/ioas/NAME SOURCE
 *
 * SOURCE names a directory under MOUNT/sources; region i maps 4 KiB at offset i * 4 KiB of
 * it, modulo the source's size.
 *
 * Build: cc -o map65536 map65536.c $(pkg-config --cflags --libs libioasfs)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ioasfs/batch.h>

#define REGIONS 65536u
#define REGION	4096u

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* MOUNT/sources/SOURCE/size, found from MOUNT/ioas/NAME; 0 if it cannot be read. */
static uint64_t source_size(const char *ioas_dir, const char *source)
{
	unsigned long long size = 0;
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/../../sources/%s/size", ioas_dir, source);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%lli", &size) != 1)
		size = 0;
	fclose(f);
	return size;
}

/*
 * Keep submitting and reaping until every queued command has completed; check each
 * completion; keep the IOVAs of maps. Returns the number of failed commands, or -errno.
 */
static int drain(struct ioasfs_batch *b, uint64_t *iovas, const char *what)
{
	static struct ioasfs_cqe cqes[4096];
	int bad = 0;

	while (ioasfs_batch_pending(b)) {
		int r = ioasfs_batch_submit(b);

		if (r < 0)
			return r;
		r = ioasfs_batch_reap(b, cqes, sizeof(cqes) / sizeof(cqes[0]), 1);
		if (r < 0)
			return r;
		for (int i = 0; i < r; i++) {
			const struct ioasfs_cqe *c = &cqes[i];

			if (c->user_data >= REGIONS || c->res || c->length != REGION) {
				if (bad++ < 5)
					fprintf(stderr,
						"%s #%" PRIu64 ": %s (iova 0x%" PRIx64
						" length 0x%" PRIx64 ")\n",
						what, c->user_data, strerror(-c->res), c->iova,
						c->length);
				continue;
			}
			if (iovas)
				iovas[c->user_data] = c->iova;
		}
	}
	return bad;
}

int main(int argc, char **argv)
{
	struct ioasfs_batch *b = NULL;
	uint64_t *iovas = NULL, size;
	double t0, t_map, t_unmap;
	int r, bad, ret = 1;

	if (argc != 3) {
		fprintf(stderr, "usage: %s MOUNT/ioas/NAME SOURCE\n", argv[0]);
		return 2;
	}
	size = source_size(argv[1], argv[2]);
	iovas = calloc(REGIONS, sizeof(*iovas));
	if (!iovas)
		goto out;
	r = ioasfs_batch_open(argv[1], NULL, &b);
	if (r < 0) {
		fprintf(stderr, "%s/batch: %s\n", argv[1], strerror(-r));
		goto out;
	}

	t0 = now();
	for (uint64_t i = 0; i < REGIONS; i++) {
		uint64_t off = size >= REGION ? i * REGION % (size - size % REGION) : 0;

		r = ioasfs_batch_map(b, argv[2], off, REGION, IOASFS_PROT_READ | IOASFS_PROT_WRITE,
				     i);
		if (r < 0) {
			fprintf(stderr, "queue map: %s\n", strerror(-r));
			goto out;
		}
	}
	bad = drain(b, iovas, "map");
	t_map = now() - t0;
	if (bad) {
		fprintf(stderr, "map: %s\n", bad < 0 ? strerror(-bad) : "some maps failed");
		goto out;
	}
	printf("mapped %u x %u bytes in %.3f s (%.0f maps/s)\n", REGIONS, REGION, t_map,
	       REGIONS / t_map);

	t0 = now();
	for (uint64_t i = 0; i < REGIONS; i++) {
		r = ioasfs_batch_unmap(b, iovas[i], REGION, i);
		if (r < 0) {
			fprintf(stderr, "queue unmap: %s\n", strerror(-r));
			goto out;
		}
	}
	bad = drain(b, NULL, "unmap");
	t_unmap = now() - t0;
	if (bad) {
		fprintf(stderr, "unmap: %s\n", bad < 0 ? strerror(-bad) : "some unmaps failed");
		goto out;
	}
	printf("unmapped %u regions in %.3f s (%.0f unmaps/s)\n", REGIONS, t_unmap,
	       REGIONS / t_unmap);
	ret = 0;
out:
	ioasfs_batch_close(b);
	free(iovas);
	return ret;
}
