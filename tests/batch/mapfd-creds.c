/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A helper of tests/fs/t-dma.sh for the credential checks of a map by fd: it sends one
 * MAP_FD record through the batch channel (libioasfs) and prints its result, "ok IOVA" or the
 * errno name, for the shell to compare. Exit status 0 whenever the command ran, 1 if the
 * channel itself failed, 2 for a usage error.
 *
 *   mapfd-creds IOAS_DIR fd N r|rw            map descriptor N of this process as it is
 *   mapfd-creds IOAS_DIR seteuid UID PATH r|rw  open PATH read-only with the credentials the
 *                                             program starts with (root), then set only the
 *                                             effective uid to UID (real and saved stay) and
 *                                             map that descriptor
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

static int usage(void)
{
	fprintf(stderr, "usage: mapfd-creds IOAS_DIR fd N r|rw | IOAS_DIR seteuid UID PATH r|rw\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct ioasfs_batch *b;
	struct ioasfs_cqe c;
	unsigned prot;
	int fd, r;

	if (argc < 5)
		return usage();
	prot = !strcmp(argv[argc - 1], "rw")  ? IOASFS_PROT_READ | IOASFS_PROT_WRITE
	       : !strcmp(argv[argc - 1], "r") ? IOASFS_PROT_READ
					      : 0;
	if (!prot)
		return usage();
	if (!strcmp(argv[2], "fd") && argc == 5) {
		fd = atoi(argv[3]);
	} else if (!strcmp(argv[2], "seteuid") && argc == 6) {
		fd = open(argv[4], O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setresuid((uid_t)-1, (uid_t)atoi(argv[3]), (uid_t)-1) < 0) {
			fprintf(stderr, "mapfd-creds: %s: %s\n", argv[4], strerror(errno));
			return 1;
		}
	} else {
		return usage();
	}
	r = ioasfs_batch_open(argv[1], NULL, &b);
	if (r < 0) {
		fprintf(stderr, "mapfd-creds: open %s/batch: %s\n", argv[1], strerror(-r));
		return 1;
	}
	r = ioasfs_batch_map_fd(b, IOASFS_IOVA_AUTO, fd, 0, 4096, prot, 1);
	if (r >= 0)
		r = ioasfs_batch_submit(b);
	if (r >= 0)
		r = ioasfs_batch_reap(b, &c, 1, 1);
	ioasfs_batch_close(b);
	/*
	 * Back to the starting euid (the saved uid allows it): a sanitizer build checks for
	 * leaks at exit by ptrace, which a process whose uids differ cannot do to itself.
	 */
	if (!strcmp(argv[2], "seteuid") && getuid() == 0 && setresuid((uid_t)-1, 0, (uid_t)-1) < 0)
		return 1;
	if (r != 1) {
		fprintf(stderr, "mapfd-creds: the channel failed: %s\n", t_errname(r));
		return 1;
	}
	if (c.res)
		printf("%s\n", t_errname(c.res));
	else
		printf("ok 0x%" PRIx64 "\n", c.iova);
	return 0;
}
