/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Every libioasfs command helper, end to end against the daemon: what each one queues must be
 * what the daemon accepts, and its completion must say what happened. Copies come from a
 * second IOAS mapped through its text `map` file; the unmap-all at the end reports the bytes
 * it removed, and `mappings` shows each result with its access rights.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

#define RW  (IOASFS_PROT_READ | IOASFS_PROT_WRITE)
#define SRC 0x100000ull
#define DST 0x800000ull

struct want {
	const char *what;
	int res;
	uint64_t iova, length; /* iova UINT64_MAX: any */
};

int main(int argc, char **argv)
{
	static const struct want w[] = {
		[1] = { "map_fixed 16K at 0x400000", 0, 0x400000, 0x4000 },
		[2] = { "map (auto) 8K", 0, UINT64_MAX, 0x2000 },
		[3] = { "copy 64K to a fixed iova", 0, DST, 0x10000 },
		[4] = { "copy 64K to an automatic iova", 0, UINT64_MAX, 0x10000 },
		[5] = { "copy 4K read-only, automatic", 0, UINT64_MAX, 0x1000 },
		[6] = { "copy from an IOAS that does not exist", -ENOENT, 0, 0x1000 },
		[7] = { "copy of a range the source has not mapped", -ENOENT, 0, 0x1000 },
		[8] = { "copy over the first copy", -EEXIST, DST, 0x1000 },
		[9] = { "nop", 0, 0, 0 },
		[10] = { "unmap 4K of the 16K mapping (would split it)", -ENOENT, 0x400000,
			 0x1000 },
		[11] = { "unmap the 16K mapping", 0, 0x400000, 0x4000 },
		[12] = { "queue (a raw NOP record)", 0, 0, 0 },
	};
	const unsigned n = sizeof(w) / sizeof(w[0]) - 1;
	struct ioasfs_cmd raw = t_cmd(IOASFS_OP_NOP, 0, 0, 12, 0, 0, 0, NULL);
	struct ioasfs_cqe got[16], c[16];
	char src_ioas[1200], path[1300], *maps;
	struct ioasfs_batch *b = NULL;
	unsigned ngot = 0;
	struct t_env e;
	int r;

	r = t_setup(&e, argc, argv, "helpers", "16M");
	if (r != T_EXIT_PASS)
		return r;
	memset(got, 0, sizeof(got));
	snprintf(src_ioas, sizeof(src_ioas), "%s/ioas/helpers-src", e.mnt);
	snprintf(path, sizeof(path), "%s/map", src_ioas);
	if (!t_check(mkdir(src_ioas, 0755) == 0 && t_write_file(path, "0x100000 64K helpers") == 0,
		     "a second IOAS with 64K mapped at 0x100000"))
		goto out;
	r = ioasfs_batch_open(e.ioas, NULL, &b);
	if (!t_check(r == 0, "open (%s)", t_errname(r)))
		goto out;

	r = ioasfs_batch_map_fixed(b, 0x400000, e.name, 0, 0x4000, RW, 1);
	r |= ioasfs_batch_map(b, e.name, 0x10000, 0x2000, IOASFS_PROT_READ, 2);
	r |= ioasfs_batch_copy(b, "helpers-src", SRC, 0x10000, DST, RW, 3);
	r |= ioasfs_batch_copy(b, "helpers-src", SRC, 0x10000, IOASFS_IOVA_AUTO, RW, 4);
	r |= ioasfs_batch_copy(b, "helpers-src", SRC + 0x4000, 0x1000, IOASFS_IOVA_AUTO,
			       IOASFS_PROT_READ, 5);
	r |= ioasfs_batch_copy(b, "nosuch", SRC, 0x1000, IOASFS_IOVA_AUTO, RW, 6);
	r |= ioasfs_batch_copy(b, "helpers-src", 0x900000, 0x1000, IOASFS_IOVA_AUTO, RW, 7);
	r |= ioasfs_batch_copy(b, "helpers-src", SRC, 0x1000, DST, RW, 8);
	r |= ioasfs_batch_nop(b, 9);
	r |= ioasfs_batch_unmap(b, 0x400000, 0x1000, 10);
	r |= ioasfs_batch_unmap(b, 0x400000, 0x4000, 11);
	r |= ioasfs_batch_queue(b, &raw);
	t_check(r == 0, "%u commands queued", n);
	while (r >= 0 && ioasfs_batch_pending(b)) {
		r = ioasfs_batch_submit(b);
		if (r >= 0)
			r = ioasfs_batch_reap(b, c, 16, 1);
		for (int i = 0; i < r; i++)
			if (c[i].user_data >= 1 && c[i].user_data <= n && ngot++ < n)
				got[c[i].user_data] = c[i];
	}
	t_check(r >= 0 && ngot == n, "%u completions (%s)", ngot, t_errname(r < 0 ? r : 0));
	for (unsigned i = 1; i <= n; i++)
		t_check(got[i].user_data == i && got[i].res == w[i].res &&
			    (w[i].iova == UINT64_MAX || got[i].iova == w[i].iova) &&
			    got[i].length == w[i].length,
			"%s: res %s iova 0x%" PRIx64 " length 0x%" PRIx64, w[i].what,
			t_errname(got[i].res), got[i].iova, got[i].length);

	/* what is left, with the rights each command asked for and the memory behind it */
	maps = t_ioas_file(&e, "mappings");
	{
		static const char *const backing[] = { [2] = "r helpers+0x10000",
						       [3] = "rw helpers+0x0",
						       [4] = "rw helpers+0x0",
						       [5] = "r helpers+0x4000" };
		char line[128];

		for (unsigned i = 2; i <= 5; i++) {
			snprintf(line, sizeof(line), "0x%016" PRIx64 "-0x%016" PRIx64 " %s\n",
				 got[i].iova, got[i].iova + w[i].length - 1, backing[i]);
			t_check(maps && strstr(maps, line), "mappings has %.*s",
				(int)strlen(line) - 1, line);
		}
		t_check(t_stat(&e, "mappings") == 4, "stats: mappings 4 (%" PRIu64 ")",
			t_stat(&e, "mappings"));
	}
	free(maps);

	r = ioasfs_batch_unmap_all(b, 99);
	if (r == 0 && ioasfs_batch_submit(b) == 1)
		r = ioasfs_batch_reap(b, c, 16, 1);
	t_check(r == 1 && c[0].user_data == 99 && c[0].res == 0 && c[0].iova == 0 &&
		    c[0].length == 0x2000 + 0x10000 + 0x10000 + 0x1000,
		"unmap_all: res %s, length 0x%" PRIx64 " (every byte mapped)", t_errname(c[0].res),
		c[0].length);
	t_check(t_stat(&e, "mappings") == 0, "stats: mappings 0");
out:
	ioasfs_batch_close(b);
	snprintf(path, sizeof(path), "%s/unmap", src_ioas);
	t_write_file(path, "all");
	rmdir(src_ioas);
	t_teardown(&e);
	return t_exit();
}
