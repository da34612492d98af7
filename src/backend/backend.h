/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The backend interface: one ops table that mirrors the iommufd uAPI on object ids, so the
 * core can run on the kernel (/dev/iommu + VFIO cdevs) or on the userspace model in sim.c
 * with the same results. Every op returns 0 or the negative errno the kernel returns for the
 * same request (drivers/iommu/iommufd/; ioasfs.5, ERRORS), and leaves state unchanged on error
 * except where the kernel itself does not (documented per op).
 *
 * Ops are not required to be thread-safe with respect to each other on the same object;
 * sim.c nevertheless takes one internal mutex per call so concurrent callers are safe.
 */
#ifndef IOASFS_BACKEND_H
#define IOASFS_BACKEND_H

#include <stdint.h>
#include "util/platform.h"

/* Same values as IOMMU_IOAS_MAP_* in <linux/iommufd.h>. */
#define BACKEND_MAP_FIXED_IOVA (1u << 0)
#define BACKEND_MAP_WRITEABLE  (1u << 1)
#define BACKEND_MAP_READABLE   (1u << 2)

/* IOMMU_OPTION ids and ops. */
#define BACKEND_OPTION_RLIMIT_MODE 0
#define BACKEND_OPTION_HUGE_PAGES  1
#define BACKEND_OPTION_OP_SET	   0
#define BACKEND_OPTION_OP_GET	   1

/* The kernel's PAGE_SIZE and the THP size that caps automatic IOVA alignment. */
#define BACKEND_PAGE_SIZE  4096ull
#define BACKEND_HPAGE_SIZE (2ull << 20)

struct iova_range {
	uint64_t start, last;
};

struct backend_hw_info {
	uint32_t type;	       /* enum platform_iommu */
	uint64_t capabilities; /* IOMMU_HW_CAP_* */
	uint8_t max_pasid_log2;
	uint32_t data_len; /* bytes valid in data */
	uint8_t data[64];  /* type-specific (struct iommu_hw_info_vtd, _arm_smmuv3) */
};

struct backend;

struct backend_ops {
	const char *name; /* "sim" or "kernel" */
	/*
	 * What the backend is, for the core and `status`, rather than a test of its name. A
	 * backend with cdev_path binds VFIO cdevs, named by a path or a bare name that cdev_path
	 * turns into one (/dev/vfio/devices/NAME); without it, device_bind makes a device of
	 * any name (the sim). dirty_tracking and iommufd_test are what `status` says of them.
	 */
	void (*cdev_path)(const char *name_or_path, char *buf, size_t len);
	const char *dirty_tracking;
	const char *iommufd_test;
	void (*close)(struct backend *be);

	/*
	 * IOMMU_IOAS_ALLOC / IOMMU_DESTROY. Destroy of an IOAS with attached devices: -EBUSY; of a
	 * device id: -EBUSY (VFIO holds it until unbind).
	 */
	int (*ioas_alloc)(struct backend *be, uint32_t *ret_id);
	int (*destroy)(struct backend *be, uint32_t id);

	/*
	 * IOMMU_IOAS_IOVA_RANGES: *num is the capacity on input and the total on output; as many
	 * entries as fit are written; -EMSGSIZE when the total exceeds the capacity.
	 */
	int (*iova_ranges)(struct backend *be, uint32_t ioas_id, struct iova_range *ranges,
			   uint32_t *num, uint64_t *ret_alignment);
	/* IOMMU_IOAS_ALLOW_IOVAS: replaces the allowed list atomically. */
	int (*allow_iovas)(struct backend *be, uint32_t ioas_id, const struct iova_range *ranges,
			   uint32_t num);
	/*
	 * IOMMU_IOAS_MAP: *iova is in/out (in only with FIXED_IOVA, but the kernel checks it for
	 * U64_MAX either way, so callers initialise it).
	 */
	int (*map)(struct backend *be, uint32_t ioas_id, uint32_t flags, void *user_va,
		   uint64_t length, uint64_t *iova);
	/* IOMMU_IOAS_MAP_FILE (may be NULL when unsupported). */
	int (*map_file)(struct backend *be, uint32_t ioas_id, uint32_t flags, int fd,
			uint64_t start, uint64_t length, uint64_t *iova);
	/* IOMMU_IOAS_UNMAP: *length is in/out (bytes unmapped). iova 0 + length UINT64_MAX = all.
	 */
	int (*unmap)(struct backend *be, uint32_t ioas_id, uint64_t iova, uint64_t *length);
	/* IOMMU_IOAS_COPY: *dst_iova in/out as for map. */
	int (*copy)(struct backend *be, uint32_t flags, uint32_t dst_ioas_id, uint32_t src_ioas_id,
		    uint64_t length, uint64_t *dst_iova, uint64_t src_iova);
	/* IOMMU_OPTION: *val in for SET, out for GET. */
	int (*option)(struct backend *be, uint32_t option_id, uint16_t op, uint32_t object_id,
		      uint64_t *val);

	/*
	 * VFIO_DEVICE_BIND_IOMMUFD. The kernel backend opens `path` (a VFIO cdev); the sim
	 * backend creates a simulated device named `path` with the platform's reserved regions.
	 */
	int (*device_bind)(struct backend *be, const char *path, uint32_t *ret_dev_id);
	/* Close the device; detaches first if attached. */
	int (*device_unbind)(struct backend *be, uint32_t dev_id);
	/*
	 * VFIO_DEVICE_ATTACH_IOMMUFD_PT: *pt_id in = IOAS id, out = hwpt id. Re-attach replaces.
	 * A pt_id of the wrong object type: -EINVAL, as the kernel.
	 */
	int (*device_attach)(struct backend *be, uint32_t dev_id, uint32_t *pt_id);
	/*
	 * VFIO_DEVICE_DETACH_IOMMUFD_PT. Not attached: -EINVAL (an ioasfs choice: VFIO returns 0;
	 * the core never detaches a device it has not attached).
	 */
	int (*device_detach)(struct backend *be, uint32_t dev_id);
	/* IOMMU_GET_HW_INFO. */
	int (*hw_info)(struct backend *be, uint32_t dev_id, struct backend_hw_info *ret);
	/*
	 * The device's reserved regions (what the kernel reserves in an IOAS at attach, apertures
	 * excluded): capacity/total/-EMSGSIZE convention as iova_ranges.
	 */
	int (*device_reserved)(struct backend *be, uint32_t dev_id, struct platform_range *regions,
			       uint32_t *num);
	/* Sim only (NULL on kernel): replace a device's reserved regions; -EBUSY while attached. */
	int (*device_set_reserved)(struct backend *be, uint32_t dev_id,
				   const struct platform_range *regions, uint32_t num);
	/*
	 * Kernel only (NULL on sim, whose platform is the profile it was created with): the
	 * geometry the bound devices report, for the core to check windows against. Called after
	 * every bind and unbind.
	 */
	void (*platform)(struct backend *be, struct platform *ret);
};

struct backend {
	const struct backend_ops *ops;
};

/*
 * The userspace model of iommufd. Simulated devices have the platform's reserved regions,
 * its apertures (everything outside them is reserved at attach, as iopt_table_add_domain
 * does) and its smallest page size as IOVA alignment once attached.
 */
int sim_backend_create(const struct platform *plat, struct backend **ret);

#endif
