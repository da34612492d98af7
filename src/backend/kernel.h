/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel backend (/dev/iommu + VFIO cdevs) and its one seam to the system: every open,
 * close, ioctl and sysfs read goes through struct kernel_sys, so tests can put a model of the
 * kernel behind it. Each function returns what the system call returns, or -errno.
 */
#ifndef IOASFS_KERNEL_H
#define IOASFS_KERNEL_H

#include <stddef.h>
#include <sys/types.h>

#include "backend/backend.h"

struct kernel_sys {
	int (*open)(void *ctx, const char *path, int flags);
	int (*close)(void *ctx, int fd);
	int (*ioctl)(void *ctx, int fd, unsigned long req, void *arg);
	ssize_t (*read_file)(void *ctx, const char *path, char *buf, size_t len);
	void *ctx;
};

/* The real system calls. */
extern const struct kernel_sys kernel_sys_real;

/*
 * Open iommu_path (NULL: /dev/iommu) through sys (NULL: the real system calls). 0, or the
 * open's -errno.
 */
int kernel_backend_create(const struct kernel_sys *sys, const char *iommu_path,
			  struct backend **ret);

/* The /dev/iommu descriptor, for tests that issue IOMMU_TEST_CMD on the backend's objects. */
int kernel_backend_iommufd(struct backend *be);

/*
 * Does /dev/iommu accept IORING_OP_URING_CMD? A sentence for `status` (uring_cmd), in out.
 */
void kernel_probe_uring_cmd(char *out, size_t len);

#endif
