/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The mount a descriptor is on, from /proc alone: the mnt_id of its fdinfo, looked up in the
 * process's mountinfo. Nothing asks the file system, which for a FUSE file (this daemon's own
 * mount, or a dead one) could be a request that is never answered.
 */
#ifndef IOASFS_MOUNTINFO_H
#define IOASFS_MOUNTINFO_H

#include <limits.h>
#include <stdbool.h>

struct fd_mount {
	char point[PATH_MAX]; /* where it is mounted, unescaped */
	char type[64];	      /* "tmpfs", "fuse.ioasfs", ... */
};

/*
 * Descriptor fdnum of the process whose /proc directory is procfd: 0 with ret, -ENOENT when
 * its mount is in no mountinfo that process sees (an internal mount: a memfd's, a pipe's), or
 * -errno.
 */
int fd_mount(int procfd, int fdnum, struct fd_mount *ret);

/* Is a mount of this type FUSE ("fuse", "fuse.NAME", "fuseblk")? */
bool mount_is_fuse(const char *type);

#endif
