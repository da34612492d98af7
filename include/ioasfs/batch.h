/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ioasfs batch channel: the binary records a program writes to ioas/NAME/batch and the
 * completions it reads back. Shared by the daemon and libioasfs; the only public header.
 *
 * A write(2) carries 1 .. IOASFS_BATCH_MAX_CMDS whole struct ioasfs_cmd records (one FUSE
 * request). The daemon checks every record before running any: a wrong
 * version, an unknown opcode, a non-zero reserved field or flag, a truncated record, a name
 * that is not NUL-terminated, or an iova/offset + length that wraps rejects the whole write
 * with EINVAL and nothing runs. Otherwise the commands run in order, each producing one
 * struct ioasfs_cqe with the kernel's errno in res; the write returns its full size.
 * A read(2) returns the oldest queued completions, as many whole records as fit (0 bytes
 * when none are queued). Each handle opened O_RDWR is a session with its own completion
 * queue; a write that would overflow that queue (IOASFS_BATCH_MAX_CQES) fails whole with
 * ENOBUFS: read completions first (not EAGAIN, which the kernel retries by itself for io_uring
 * writes to a file). A handle opened O_WRONLY keeps no completions. The offset is ignored.
 *
 * All fields are little-endian; records are packed to fixed sizes checked by static
 * assertions below.
 */
#ifndef IOASFS_BATCH_H
#define IOASFS_BATCH_H

#include <stdint.h>

#define IOASFS_BATCH_VERSION 1
/*
 * Additions that keep every version 1 record valid (new opcodes, new flags) raise the minor
 * number instead of the version; `status` prints "batch_version 1.MINOR". A daemon older
 * than an opcode refuses a write that carries it whole with EINVAL (unknown opcode).
 *   1.0  NOP, MAP, MAP_FIXED, UNMAP, COPY
 *   1.1  MAP_FD, MAP_FD_FIXED
 */
#define IOASFS_BATCH_MINOR 1

#define IOASFS_BATCH_CMD_SIZE 128
#define IOASFS_BATCH_CQE_SIZE 32
/*
 * Records per write: 1 MiB less one page, so that a write from any buffer reaches the daemon
 * as one FUSE request (the kernel cuts requests at 1 MiB of the writer's pages; a buffer that
 * does not start on a page boundary spans one more page). A longer write(2) arrives cut,
 * its first piece is over this limit, and it is refused whole with EINVAL.
 */
#define IOASFS_BATCH_MAX_CMDS 8160
#define IOASFS_BATCH_MAX_CQES 65536    /* completions a session keeps unread */
#define IOASFS_NAME_LEN 64

enum ioasfs_opcode {
	IOASFS_OP_NOP = 0,       /* completes with res 0 */
	IOASFS_OP_MAP = 1,       /* name = source; offset into it; IOVA chosen (auto) */
	IOASFS_OP_MAP_FIXED = 2, /* as MAP, at iova */
	IOASFS_OP_UNMAP = 3,     /* [iova, iova+length); IOASFS_CMD_UNMAP_ALL: everything */
	IOASFS_OP_COPY = 4,      /* name = source IOAS; offset = source IOVA; into this IOAS at
				  * iova (IOASFS_CMD_COPY_FIXED) or an automatic IOVA */
	IOASFS_OP_MAP_FD = 5,    /* fd = a descriptor of the writing process; offset into the
				  * file; IOVA chosen (auto). Since 1.1 */
	IOASFS_OP_MAP_FD_FIXED = 6, /* as MAP_FD, at iova. Since 1.1 */
	IOASFS_OP_MAX,
};

/* ioasfs_cmd.prot */
#define IOASFS_PROT_READ 0x1
#define IOASFS_PROT_WRITE 0x2

/* ioasfs_cmd.flags */
#define IOASFS_CMD_UNMAP_ALL 0x1  /* UNMAP only */
#define IOASFS_CMD_COPY_FIXED 0x2 /* COPY only */

struct ioasfs_cmd {
	uint16_t version;   /* IOASFS_BATCH_VERSION */
	uint8_t opcode;     /* enum ioasfs_opcode */
	uint8_t prot;       /* IOASFS_PROT_*: MAP*, COPY; 0 for others */
	uint32_t flags;     /* IOASFS_CMD_* valid for the opcode; others must be 0 */
	uint64_t user_data; /* copied to the completion */
	uint64_t iova;      /* MAP_FIXED, MAP_FD_FIXED, UNMAP, COPY with COPY_FIXED */
	uint64_t length;
	uint64_t offset;    /* MAP*: offset into the source or file; COPY: the source IOVA */
	union {
		uint64_t reserved[3]; /* must be 0, except fd for MAP_FD* */
		struct {
			int32_t fd;		 /* MAP_FD*: the descriptor, >= 0 */
			uint32_t fd_pad;	 /* 0 */
			uint64_t fd_reserved[2]; /* 0 */
		};
	};
	char name[IOASFS_NAME_LEN]; /* MAP, MAP_FIXED: source; COPY: source IOAS; NUL-padded;
				     * other opcodes: 0 */
};

struct ioasfs_cqe {
	uint64_t user_data;
	int32_t res;        /* 0 or -errno */
	uint32_t flags;     /* 0 */
	uint64_t iova;      /* MAP*, COPY: the IOVA mapped; UNMAP: the iova given */
	uint64_t length;    /* MAP*, COPY: the length; UNMAP: bytes unmapped */
};

_Static_assert(sizeof(struct ioasfs_cmd) == IOASFS_BATCH_CMD_SIZE, "ioasfs_cmd size");
_Static_assert(sizeof(struct ioasfs_cqe) == IOASFS_BATCH_CQE_SIZE, "ioasfs_cqe size");

/*
 * libioasfs: the batch channel over io_uring. Functions return 0 (or a count) or -errno and
 * never set errno. Not thread-safe per handle: use one handle per thread.
 */
struct ioasfs_batch;

struct ioasfs_batch_opts {
	unsigned chunk;    /* commands per write; default 1024, at most IOASFS_BATCH_MAX_CMDS */
	unsigned inflight; /* linked WRITE+READ pairs in flight; default 4 */
};

#define IOASFS_IOVA_AUTO UINT64_MAX /* "auto" for ioasfs_batch_copy's dst_iova */

/* Open MOUNT/ioas/NAME/batch; opts may be NULL. */
int ioasfs_batch_open(const char *ioas_dir, const struct ioasfs_batch_opts *opts,
		      struct ioasfs_batch **ret);
void ioasfs_batch_close(struct ioasfs_batch *b);

/* Queue one command (nothing is written until submit); -ENOSPC if the local queue is full. */
int ioasfs_batch_map(struct ioasfs_batch *b, const char *source, uint64_t offset,
		     uint64_t length, unsigned prot, uint64_t user_data);
int ioasfs_batch_map_fixed(struct ioasfs_batch *b, uint64_t iova, const char *source,
			   uint64_t offset, uint64_t length, unsigned prot, uint64_t user_data);
int ioasfs_batch_unmap(struct ioasfs_batch *b, uint64_t iova, uint64_t length,
		       uint64_t user_data);
int ioasfs_batch_unmap_all(struct ioasfs_batch *b, uint64_t user_data);
int ioasfs_batch_copy(struct ioasfs_batch *b, const char *src_ioas, uint64_t src_iova,
		      uint64_t length, uint64_t dst_iova, unsigned prot, uint64_t user_data);
/*
 * Map [offset, offset + length) of the file open as fd in the calling process, at iova or at
 * IOASFS_IOVA_AUTO (since LIBIOASFS_0.2, batch 1.1). The daemon takes its own reference to the
 * file when the command runs (pidfd_getfd), so fd must stay open until its completion is
 * reaped; the mapping then lives on whatever the program does with fd.
 */
int ioasfs_batch_map_fd(struct ioasfs_batch *b, uint64_t iova, int fd, uint64_t offset,
			uint64_t length, unsigned prot, uint64_t user_data);
int ioasfs_batch_nop(struct ioasfs_batch *b, uint64_t user_data);
/* Queue a prepared record as is (for tests and tools). */
int ioasfs_batch_queue(struct ioasfs_batch *b, const struct ioasfs_cmd *cmd);

/*
 * Asynchronous API: submit queued commands as linked WRITE+READ pairs of up to `chunk`
 * commands, at most `inflight` pairs at once; returns the number of commands submitted
 * (commands that do not fit stay queued). Never blocks.
 */
int ioasfs_batch_submit(struct ioasfs_batch *b);
/*
 * Copy up to max completions into cqes, waiting until at least min are available (0: do not
 * wait). A write the daemon refused whole yields one completion per command of it with the
 * write's errno in res. Returns the number copied.
 */
int ioasfs_batch_reap(struct ioasfs_batch *b, struct ioasfs_cqe *cqes, unsigned max,
		      unsigned min);
/* Commands submitted or queued whose completion has not been reaped. */
unsigned ioasfs_batch_pending(const struct ioasfs_batch *b);

/*
 * Blocking helper: run n commands and wait for all of them; cqes[i] is the completion of
 * cmds[i] (matched by position whatever the user_data). Returns 0, or -errno if the channel
 * itself failed.
 */
int ioasfs_batch_run(struct ioasfs_batch *b, const struct ioasfs_cmd *cmds, unsigned n,
		     struct ioasfs_cqe *cqes);

#endif
