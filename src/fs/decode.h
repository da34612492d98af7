/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The decoders of what clients write to the command files: a `map`, `unmap` or `copy` text
 * line, and the records of a `batch` write. They are pure functions of their input (no FUSE, no
 * core state), so the daemon and the fuzz harnesses (tests/fuzz/fuzz_cmdline, fuzz_batch) run the
 * very same code. Each returns 0, or -errno with the reason for `errors` in why.
 */
#ifndef IOASFS_DECODE_H
#define IOASFS_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "ioasfs/batch.h"

#define DECODE_WHY_LEN 160

/*
 * "IOVA|auto LENGTH SOURCE[+OFFSET] [r|w|rw]" (NUL-terminated, no newline). The line is cut
 * into words in place: ret->source points into it. EINVAL or EOVERFLOW.
 */
int decode_map_line(char *line, struct core_map_cmd *ret, char *why, size_t len);

struct decode_unmap {
	bool all;
	uint64_t iova, length; /* 0 for "all" */
};

/* "IOVA LENGTH" or "all". EINVAL or EOVERFLOW. */
int decode_unmap_line(char *line, struct decode_unmap *ret, char *why, size_t len);

/* "IOVA|auto LENGTH SRCIOAS SRCIOVA [r|w|rw]"; ret->src_ioas points into the line. */
int decode_copy_line(char *line, struct core_copy_cmd *ret, char *why, size_t len);

/*
 * Check every record of a batch write before anything runs. The records are read in place
 * (little-endian on the wire); when host is not NULL they are also converted into host
 * order there (host may be raw itself). EINVAL, with the first bad record (from 1) in why.
 */
int decode_batch(const struct ioasfs_cmd *raw, struct ioasfs_cmd *host, unsigned n, char *why,
		 size_t len);

#endif
