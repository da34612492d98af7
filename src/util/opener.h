/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Files a client names (a source's path, a device's cdev) are opened by a process that *is*
 * that client: a child that took the client's uid, gid and groups for real and so holds no
 * capability, has no descriptor but its reply socket and nothing of the daemon's memory
 * mapped. /proc/self, /proc/thread-self and /dev/fd name that child, map_files needs
 * CAP_SYS_ADMIN it lacks, and /proc/DAEMONPID is root's. Nothing blocks the daemon: the
 * child resolves the path with O_PATH (a FIFO, a device or a path back into the mount is
 * never opened for I/O by the daemon), checks what it found, and only then opens the file
 * again through its own descriptor, without blocking.
 */
#ifndef IOASFS_OPENER_H
#define IOASFS_OPENER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define OPENER_TIMEOUT_S    5 /* a path that takes longer to resolve is refused (ETIMEDOUT) */
#define OPENER_MAX_INFLIGHT 4 /* opens waiting at once: libfuse keeps 10 workers */
#define OPENER_MAX_PER_UID  2 /* of which one user may hold */

enum opener_kind {
	OPENER_FILE, /* a non-empty regular file, read-write if allowed, else read-only */
	OPENER_CDEV, /* a character device, read-write */
};

/* Why an open failed, for the line in `errors`. */
enum opener_why {
	OPENER_OK,
	OPENER_OPEN,	   /* the path did not open: the errno says why */
	OPENER_NOT_REG,	   /* not a non-empty regular file (or not a character device) */
	OPENER_FUSE,	   /* on a FUSE file system, this mount or another */
	OPENER_NOT_MEMORY, /* a file whose pages may wait on I/O (not tmpfs, ramfs, hugetlbfs) */
	OPENER_BUSY,	   /* too many opens in flight (the caller's share, or all) */
	OPENER_TIMEOUT,	   /* the path did not resolve within OPENER_TIMEOUT_S */
	OPENER_GONE,	   /* the opener process is gone */
};

struct opener_cred {
	uid_t uid;
	gid_t gid;
	int ngroups;
	const gid_t *groups;
};

struct opener_file {
	int fd;
	bool writable;
	uint64_t size;
	enum opener_why why;
};

/*
 * Fork the opener process. Call it early, before any thread or client memory exists: it
 * carries into the children it forks nothing but the program's text. Without it (unit
 * tests), each open forks from the caller. 0 or -errno.
 */
int opener_start(void);

/*
 * Open path as cr. 0 with ret->fd (O_CLOEXEC), ret->writable and ret->size; or -errno with
 * ret->why. Never holds a lock; never waits longer than OPENER_TIMEOUT_S and a little.
 */
int opener_open(const struct opener_cred *cr, const char *path, enum opener_kind kind,
		struct opener_file *ret);

/* Is a file system of this statfs f_type memory (tmpfs and memfds, ramfs, hugetlbfs)? */
bool opener_memory_fs(uint64_t f_type);

/* A sentence for why (after "PATH: " or "cannot open PATH: "). */
const char *opener_why_str(enum opener_why why);

#endif
