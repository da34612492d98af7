/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A session keeps at most IOASFS_BATCH_MAX_CQES completions unread. Writes of NOPs, the
 * largest allowed, fill it exactly; one more write (a MAP_FIXED) fails whole with ENOBUFS,
 * runs nothing and leaves one line in `errors`; reading one completion makes room for it.
 * All 65,537 completions then read back in order.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define RW   (IOASFS_PROT_READ | IOASFS_PROT_WRITE)
#define IOVA 0x300000000ull

static struct ioasfs_cmd cmds[IOASFS_BATCH_MAX_CMDS];
static struct ioasfs_cqe cqes[IOASFS_BATCH_MAX_CMDS];

int main(int argc, char **argv)
{
	struct ioasfs_cmd map;
	struct t_env e;
	char *maps0 = NULL, *maps1 = NULL, *err0 = NULL, *err1 = NULL;
	const char *last = "";
	unsigned ok = 0, total = 0, order_ok = 1, nlines = 0;
	size_t ll = 0;
	ssize_t w;
	int fd, r;

	r = t_setup(&e, argc, argv, "overflow", "16M");
	if (r != T_EXIT_PASS)
		return r;
	fd = open(e.batch, O_RDWR);
	if (!t_check(fd >= 0, "open %s O_RDWR", e.batch))
		goto out;
	/* IOASFS_BATCH_MAX_CMDS at a time (the largest write), the remainder last */
	for (unsigned done = 0, writes = 0; done < IOASFS_BATCH_MAX_CQES; writes++) {
		unsigned n = IOASFS_BATCH_MAX_CQES - done < IOASFS_BATCH_MAX_CMDS
				 ? IOASFS_BATCH_MAX_CQES - done
				 : IOASFS_BATCH_MAX_CMDS;

		for (unsigned i = 0; i < n; i++)
			cmds[i] = t_cmd(IOASFS_OP_NOP, 0, 0, done + i, 0, 0, 0, NULL);
		w = write(fd, cmds, n * sizeof(cmds[0]));
		if (w != (ssize_t)(n * sizeof(cmds[0]))) {
			t_check(false, "write %u of %u NOPs: %zd (%s)", writes, n, w,
				t_errname(errno));
			break;
		}
		done += n;
		ok = done;
	}
	t_check(ok == IOASFS_BATCH_MAX_CQES,
		"writes of up to %u NOPs fill the completion queue with %u (%u)",
		IOASFS_BATCH_MAX_CMDS, IOASFS_BATCH_MAX_CQES, ok);

	map = t_cmd(IOASFS_OP_MAP_FIXED, RW, 0, 0xabc, IOVA, 0x1000, 0, e.name);
	maps0 = t_ioas_file(&e, "mappings");
	err0 = t_read_file(e.errors);
	errno = 0;
	w = write(fd, &map, sizeof(map));
	t_check(w == -1 && errno == ENOBUFS, "one more command: ENOBUFS (%zd, %s)", w,
		t_errname(errno));
	maps1 = t_ioas_file(&e, "mappings");
	err1 = t_read_file(e.errors);
	t_check(maps0 && maps1 && !strcmp(maps0, maps1), "the refused map did not run");
	if (err0 && err1)
		nlines = t_new_error_lines(err0, err1, &last, &ll);
	t_check(nlines == 1 && memmem(last, ll, "/batch", 6),
		"errors gained one line naming the batch file (%u; %.*s)", nlines, (int)ll, last);

	r = (int)read(fd, cqes, sizeof(cqes[0]));
	t_check(r == 32 && t_cqe_host(&cqes[0]).user_data == 0, "read one completion (%d bytes)",
		r);
	w = write(fd, &map, sizeof(map));
	t_check(w == sizeof(map), "now the map fits (%zd)", w);

	for (total = 1;;) {
		ssize_t rd = read(fd, cqes, sizeof(cqes));

		if (rd <= 0)
			break;
		for (unsigned i = 0; i < rd / 32; i++, total++) {
			struct ioasfs_cqe c = t_cqe_host(&cqes[i]);

			if (total < IOASFS_BATCH_MAX_CQES)
				order_ok &= c.user_data == total && c.res == 0;
			else
				order_ok &= c.user_data == 0xabc && c.res == 0 && c.iova == IOVA;
		}
	}
	t_check(total == IOASFS_BATCH_MAX_CQES + 1 && order_ok,
		"%u completions read back, in order, the map's last (%u)",
		IOASFS_BATCH_MAX_CQES + 1, total);
	close(fd);
out:
	free(maps0);
	free(maps1);
	free(err0);
	free(err1);
	t_teardown(&e);
	return t_exit();
}
