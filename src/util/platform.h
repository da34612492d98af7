/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Platform profiles: the IOMMU geometry the sim backend simulates and the core checks
 * windows and maps against. Built-in profiles are kept as profile-file text and parsed by
 * the same parser as user files, so `cat platform/profile` of a built-in profile is a valid
 * profile file.
 *
 * Profile file: one "key value..." per line, '#' starts a comment, blank lines ignored.
 *   iova_bits N            1..64; aperture 0 .. 2^N-1 unless aperture lines are given
 *   aperture START-LAST    repeatable; replaces the default aperture
 *   reserved START-LAST KIND   repeatable; KIND is a word (msi, sw_msi, ht, io, direct, ...)
 *   page_sizes SIZE...     e.g. "4K 2M 1G"; each a power of two
 *   max_windows N          0 = unlimited
 *   iommu TYPE             hw_info type: intel_vtd, amd_vi, arm_smmuv3, none (default none)
 * Unknown keys, duplicate single-valued keys, overlapping apertures or reserved ranges,
 * reserved ranges outside every aperture are errors.
 */
#ifndef IOASFS_PLATFORM_H
#define IOASFS_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#define PLATFORM_MAX_RANGES 32
#define PLATFORM_KIND_LEN   16

struct platform_range {
	uint64_t start, last;
	char kind[PLATFORM_KIND_LEN]; /* "" for apertures */
};

enum platform_iommu {
	PLATFORM_IOMMU_NONE = 0,
	PLATFORM_IOMMU_INTEL_VTD = 1,  /* IOMMU_HW_INFO_TYPE_INTEL_VTD */
	PLATFORM_IOMMU_ARM_SMMUV3 = 2, /* IOMMU_HW_INFO_TYPE_ARM_SMMUV3 */
	PLATFORM_IOMMU_AMD_VI = 3,     /* no uAPI type in 6.x; decoded as "amd_vi" by ioasfs */
};

struct platform {
	char name[64];	      /* "x86-vtd" or the profile file path */
	unsigned iova_bits;   /* 1..64 */
	unsigned n_apertures; /* >= 1 after parsing (default from iova_bits) */
	struct platform_range apertures[PLATFORM_MAX_RANGES]; /* sorted, disjoint */
	unsigned n_reserved;
	struct platform_range reserved[PLATFORM_MAX_RANGES]; /* sorted, disjoint */
	uint64_t page_sizes;  /* bitmap of supported IOMMU page sizes; never 0 */
	unsigned max_windows; /* 0 = unlimited */
	enum platform_iommu iommu;
};

/* Names of the built-in profiles, NULL-terminated. */
extern const char *const platform_builtin_names[];

/*
 * Parse profile text. On error returns -EINVAL and writes "line N: reason" into err.
 * *ret is untouched on failure. name is copied into ret->name.
 */
int platform_parse(const char *text, size_t len, const char *name, struct platform *ret, char *err,
		   size_t errlen);

/* A built-in profile by name: 0 or -ENOENT. */
int platform_builtin(const char *name, struct platform *ret);

/* Built-in name, or else a profile file path. 0 or -errno with a reason in err. */
int platform_load(const char *name_or_path, struct platform *ret, char *err, size_t errlen);

/*
 * The profile in profile-file format (parseable by platform_parse to an equal platform).
 * Returns the number of characters that the full text needs (like snprintf).
 */
size_t platform_format(const struct platform *p, char *buf, size_t size);

/* "4K 2M 1G" for a page-size bitmap (like snprintf). */
size_t format_page_sizes(uint64_t bitmap, char *buf, size_t size);

/* Smallest supported page size. */
uint64_t platform_min_page(const struct platform *p);

const char *platform_iommu_name(enum platform_iommu t);

#endif
