/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libioasfs's local queue when its commands span several write buffers: ioasfs_batch_run()
 * over a channel that breaks drops the commands of its own it never sent, and only those;
 * the commands queued before it keep their place (the oldest complete with EIO in order,
 * the rest stay pending). As in lib-unit, the "batch file" is a regular file: the linked read
 * returns the records just written, whose first bytes are no tag the library gave out.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define RW (IOASFS_PROT_READ | IOASFS_PROT_WRITE)

#define EARLIER 7  /* queued before the run: one buffer of 5, and 2 in the next */
#define RUN	23 /* the rest of that buffer, then four more */

/* Returns T_EXIT_SKIP without io_uring, else T_EXIT_PASS (failures are counted). */
static int run_drops_its_own(const char *dir)
{
	struct ioasfs_batch_opts o = { .chunk = 5, .inflight = 1 };
	struct ioasfs_cmd cmds[RUN];
	struct ioasfs_cqe cqes[RUN + EARLIER];
	struct ioasfs_batch *b;
	unsigned in_order = 0;
	int r;

	r = ioasfs_batch_open(dir, &o, &b);
	if (r == -ENOSYS || r == -EPERM) {
		printf("SKIP: io_uring is not available here (%s)\n", t_errname(r));
		return T_EXIT_SKIP;
	}
	if (!t_check(r == 0, "open with chunk 5, inflight 1 (%s)", t_errname(r)))
		return T_EXIT_PASS;
	for (unsigned i = 0; i < EARLIER && r == 0; i++)
		r = ioasfs_batch_map(b, "buf", 0, 0x1000, RW, i);
	t_check(r == 0 && ioasfs_batch_pending(b) == EARLIER, "%u maps queued (%u pending)",
		EARLIER, ioasfs_batch_pending(b));

	for (unsigned i = 0; i < RUN; i++)
		cmds[i] = t_cmd(IOASFS_OP_MAP, RW, 0, 100 + i, 0, 0x1000, 0, "buf");
	r = ioasfs_batch_run(b, cmds, RUN, cqes);
	t_check(r == -EIO, "run over a channel that breaks at the first write: -EIO (%s)",
		t_errname(r));
	t_check(ioasfs_batch_pending(b) == EARLIER,
		"its %u commands are gone; the %u queued before stay pending (%u)", RUN, EARLIER,
		ioasfs_batch_pending(b));

	r = ioasfs_batch_reap(b, cqes, RUN + EARLIER, 0);
	for (int i = 0; i < r; i++)
		in_order += cqes[i].user_data == (uint64_t)i && cqes[i].res == -EIO;
	t_check(r == 5 && in_order == 5,
		"the 5 written complete with EIO, oldest first (%d reaped, %u in order)", r,
		in_order);
	t_check(ioasfs_batch_pending(b) == EARLIER - 5 && ioasfs_batch_submit(b) == -EIO,
		"the %u never written stay pending (%u); submit: -EIO", EARLIER - 5,
		ioasfs_batch_pending(b));
	ioasfs_batch_close(b);
	return T_EXIT_PASS;
}

int main(void)
{
	char dir[] = "/tmp/libioasfs-queue.XXXXXX", path[64];
	int fd = -1, r = T_EXIT_FAIL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (mkdtemp(dir)) {
		snprintf(path, sizeof(path), "%s/batch", dir);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	}
	if (fd < 0) {
		perror("a regular file as the batch file");
		goto out;
	}
	close(fd);
	r = run_drops_its_own(dir);
	unlink(path);
	if (r == T_EXIT_PASS)
		r = t_exit();
out:
	rmdir(dir);
	return r;
}
