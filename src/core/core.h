/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The ioasfs object model: named IOASes with their windows and mappings, devices, memory
 * sources, statistics and the error log. This is where every request is validated before the
 * backend sees it, so that a refused request changes nothing and leaves a reason naming the
 * object and the conflicting range. The core knows nothing of FUSE: the frontend hands it
 * names, parsed values and a request context (who asked, and the path to name in `errors`).
 *
 * Objects are addressed by name plus a serial number that is never reused, so a stale handle
 * to a removed object can never reach a new object of the same name (serial 0 = any).
 *
 * Locking: c->topo is a writer-preferring rwlock. Creating or removing any object, attaching
 * and detaching devices and changing a source take it for writing; everything else takes it
 * for reading plus the IOAS's own mutex. So map/unmap on different IOASes run in parallel,
 * and a writer of c->topo has the whole model to itself.
 */
#ifndef IOASFS_CORE_H
#define IOASFS_CORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend/backend.h"
#include "util/platform.h"
#include "util/sbuf.h"

/* Bounds (documented in ioasfs.5 and printed in `status`). */
#define CORE_NAME_MAX	  63
#define CORE_MAX_IOAS	  1024
#define CORE_MAX_DEVICES  1024
#define CORE_MAX_SOURCES  1024
#define CORE_MAX_WINDOWS  64 /* per IOAS */
#define CORE_ERRORS_RING  256
#define CORE_ERROR_LEN	  600
#define CORE_MAX_RESERVED 32  /* per device */
#define CORE_PATH_MAX	  256 /* a device's cdev path */
#define CORE_MAX_GROUPS	  64  /* supplementary groups honoured when opening a source */
/*
 * Under allow_other a user other than root holds at most a quarter of each bound of the
 * whole mount (objects of a kind, batch sessions, pending links), so that no one user can
 * lock the others out of it (ioasfs.5 LIMITS).
 */
#define CORE_USER_SHARE(limit) ((limit) / 4)
#define CORE_MAX_MAPPINGS      (1u << 22) /* per IOAS, by default (core_set_max_mappings) */

struct core;

/* Who is asking, and which file to name in `errors`. */
struct core_req {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	const char *path;   /* e.g. "/ioas/vm/map" */
	const char *prefix; /* optional: "line" makes errors say "line N: " with N = item */
	unsigned item;	    /* 0: the prefix alone */
	bool quiet;	    /* errors go to the ring only, not to stderr (batch results) */
	int ngroups;	    /* supplementary groups, for opening files as the caller */
	gid_t groups[CORE_MAX_GROUPS];
	char *reason; /* optional: core_error leaves its reason here too (restore) */
	size_t reason_len;
};

enum core_obj {
	CORE_IOAS,
	CORE_DEVICE,
	CORE_SOURCE,
	CORE_OBJ_KINDS, /* how many kinds there are */
};

/* A name and serial pair, as returned by listings. */
struct core_name {
	char name[CORE_NAME_MAX + 1];
	uint64_t serial;
};

int core_create(struct backend *be, const struct platform *plat, struct core **ret);
void core_destroy(struct core *c);
const struct platform *core_platform(const struct core *c);
/* Mappings one IOAS may hold (1 .. UINT32_MAX); ENOSPC beyond. */
int core_set_max_mappings(struct core *c, uint64_t max);
/* allow_other: enforce ownership (off: one user, who owns everything). */
void core_set_multiuser(struct core *c, bool on);

/* Record a rejected request: "time pid path: reason" in the ring and on stderr. */
__attribute__((format(printf, 3, 4))) void core_error(struct core *c, const struct core_req *rq,
						      const char *fmt, ...);
void core_show_errors(struct core *c, struct sbuf *sb);
void core_show_status(struct core *c, struct sbuf *sb);

/* ---- generic object directories: ioas/, devices/, sources/ ---- */
int core_obj_create(struct core *c, const struct core_req *rq, enum core_obj kind,
		    const char *name);
int core_obj_remove(struct core *c, const struct core_req *rq, enum core_obj kind,
		    const char *name);
/* 0 and *ret_serial, or -ENOENT. */
int core_obj_lookup(struct core *c, enum core_obj kind, const char *name, uint64_t *ret_serial);
/* A malloc'd array of the objects' names (sorted by creation), *ret_n entries. */
int core_obj_list(struct core *c, enum core_obj kind, struct core_name **ret, size_t *ret_n);

/*
 * Ownership (ioasfs.5 SECURITY): an object belongs to the user and group whose request made
 * it. In multi-user mode root (uid 0) may act on every object and anyone else only on their
 * own; otherwise the one user the mount serves may act on all.
 */
int core_obj_owner(struct core *c, enum core_obj kind, const char *name, uint64_t serial,
		   uid_t *ret_uid, gid_t *ret_gid);
/* Hand an object to another owner (restore). */
int core_obj_chown(struct core *c, enum core_obj kind, const char *name, uid_t uid, gid_t gid);
/* 0 when rq may act on the object as its owner; -EACCES (with an errors line) if not. */
int core_obj_access(struct core *c, const struct core_req *rq, enum core_obj kind, const char *name,
		    uint64_t serial);

/* ---- IOAS ---- */
struct core_ioas_ref {
	const char *name;
	uint64_t serial;
};

int core_ioas_show_id(struct core *c, struct core_ioas_ref r, struct sbuf *sb);
int core_ioas_show_iova_ranges(struct core *c, struct core_ioas_ref r, struct sbuf *sb);
int core_ioas_show_alignment(struct core *c, struct core_ioas_ref r, struct sbuf *sb);
int core_ioas_show_mappings(struct core *c, struct core_ioas_ref r, struct sbuf *sb);
/* The mapping lines from *cursor (an IOVA) on, about max bytes; *done after the last one. */
int core_ioas_mappings_chunk(struct core *c, struct core_ioas_ref r, uint64_t *cursor, bool *done,
			     struct sbuf *sb, size_t max);
/* The length of what core_ioas_show_mappings renders, counted without rendering. */
int core_ioas_mappings_length(struct core *c, struct core_ioas_ref r, uint64_t *ret);
int core_ioas_show_stats(struct core *c, struct core_ioas_ref r, struct sbuf *sb);
int core_ioas_show_huge_pages(struct core *c, struct core_ioas_ref r, struct sbuf *sb);
int core_ioas_store_huge_pages(struct core *c, const struct core_req *rq, struct core_ioas_ref r,
			       uint64_t val);
/* Names of the devices attached to the IOAS. */
int core_ioas_devices(struct core *c, struct core_ioas_ref r, struct core_name **ret,
		      size_t *ret_n);

#define CORE_PROT_READ	1u
#define CORE_PROT_WRITE 2u

struct core_map_cmd {
	bool fixed;    /* false: "auto" */
	uint64_t iova; /* when fixed */
	uint64_t length;
	const char *source; /* a sources/ name */
	uint64_t offset;    /* into the source */
	unsigned prot;	    /* CORE_PROT_* */
};

int core_map(struct core *c, const struct core_req *rq, struct core_ioas_ref r,
	     const struct core_map_cmd *m, uint64_t *ret_iova);
/* The mapping that contains iova: 0 with its range, or -ENOENT. */
int core_ioas_lookup(struct core *c, struct core_ioas_ref r, uint64_t iova, uint64_t *ret_start,
		     uint64_t *ret_last);
/* all: unmap everything (iova/length ignored). *ret_length = bytes unmapped. */
int core_unmap(struct core *c, const struct core_req *rq, struct core_ioas_ref r, bool all,
	       uint64_t iova, uint64_t length, uint64_t *ret_length);

/* IOMMU_IOAS_COPY into an IOAS from the mappings of src_ioas (the `copy` file). */
struct core_copy_cmd {
	bool fixed;    /* false: "auto" */
	uint64_t iova; /* in this IOAS, when fixed */
	uint64_t length;
	const char *src_ioas;
	uint64_t src_iova;
	unsigned prot; /* CORE_PROT_* */
};

int core_copy(struct core *c, const struct core_req *rq, struct core_ioas_ref r,
	      const struct core_copy_cmd *cp, uint64_t *ret_iova);

/*
 * The IOAS as a device sees it (the `dma` file): len bytes at iova, through the mappings to
 * the memory behind them. A device read needs mappings with r, a write mappings with w.
 * Starting at an unmapped IOVA: -EFAULT; at a mapping without the access: -EACCES; both with
 * a line in `errors`. A range that runs into a hole or a forbidden mapping stops there (a
 * short count). The IOVA range is walked under the IOAS lock.
 *
 * Read: fn gets the memory as up to CORE_DMA_IOV pieces, under the lock (it must copy or send
 * them before returning); a range of more pieces comes as one copy. Returns fn's result
 * (0 or -errno), or -errno without calling fn.
 */
#define CORE_DMA_IOV 64
struct iovec;
int core_dma_read(struct core *c, const struct core_req *rq, struct core_ioas_ref r, uint64_t iova,
		  size_t len, int (*fn)(void *arg, const struct iovec *iov, int n), void *arg);
/* Write: the bytes written (short as above), or -errno. */
ssize_t core_dma_write(struct core *c, const struct core_req *rq, struct core_ioas_ref r,
		       uint64_t iova, const void *buf, size_t len);

struct ioasfs_cmd;
struct ioasfs_cqe;
/*
 * Run n batch records (host byte order, already checked for form) against one IOAS in
 * order; out[i] gets the completion of cmds[i]. -ENOENT if the IOAS is gone, else 0.
 */
int core_batch(struct core *c, const struct core_req *rq, struct core_ioas_ref r,
	       const struct ioasfs_cmd *cmds, unsigned n, struct ioasfs_cqe *out);

/* ---- windows ---- */
enum core_win_attr {
	CORE_WIN_START,
	CORE_WIN_SIZE,
	CORE_WIN_PAGE_SIZE,
	CORE_WIN_LEVELS,
};

#define CORE_AUTO UINT64_MAX /* "auto" for start, page_size and levels */

int core_window_create(struct core *c, const struct core_req *rq, struct core_ioas_ref r,
		       const char *name);
int core_window_remove(struct core *c, const struct core_req *rq, struct core_ioas_ref r,
		       const char *name);
int core_window_lookup(struct core *c, struct core_ioas_ref r, const char *name,
		       uint64_t *ret_serial);
int core_window_list(struct core *c, struct core_ioas_ref r, struct core_name **ret, size_t *ret_n);
/* Show one window attribute (or the state with attr < 0). */
int core_window_show(struct core *c, struct core_ioas_ref r, const char *name, uint64_t serial,
		     int attr, struct sbuf *sb);
#define CORE_WIN_STATE (-1)
/* val is CORE_AUTO for "auto" where allowed. */
int core_window_store(struct core *c, const struct core_req *rq, struct core_ioas_ref r,
		      const char *name, uint64_t serial, enum core_win_attr attr, uint64_t val);

/* ---- devices ---- */
/* Attach (or replace the attachment) to the IOAS named ioas. */
int core_device_attach(struct core *c, const struct core_req *rq, const char *dev, uint64_t serial,
		       const char *ioas);
int core_device_detach(struct core *c, const struct core_req *rq, const char *dev, uint64_t serial);
/* Name of the IOAS the device is attached to, or -ENOENT (not attached / no device). */
int core_device_ioas(struct core *c, const char *dev, uint64_t serial, char ret[CORE_NAME_MAX + 1]);
int core_device_show_reserved(struct core *c, const char *dev, uint64_t serial, struct sbuf *sb);
int core_device_store_reserved(struct core *c, const struct core_req *rq, const char *dev,
			       uint64_t serial, const struct platform_range *regions, unsigned num);
bool core_device_reserved_writable(struct core *c);
int core_device_show_hw_info(struct core *c, const char *dev, uint64_t serial, struct sbuf *sb);
/*
 * D/path: the cdev the device is bound to ("sim" on the sim backend, an empty file while a
 * kernel-backend device has none). Storing binds an unbound device to that cdev, which the
 * writer must be able to open read-write; -EBUSY once bound.
 */
int core_device_show_path(struct core *c, const char *dev, uint64_t serial, struct sbuf *sb);
int core_device_store_path(struct core *c, const struct core_req *rq, const char *dev,
			   uint64_t serial, const char *path);

/* ---- sources ---- */
int core_source_show_path(struct core *c, const char *src, uint64_t serial, struct sbuf *sb);
int core_source_show_size(struct core *c, const char *src, uint64_t serial, struct sbuf *sb);
int core_source_show_users(struct core *c, const char *src, uint64_t serial, struct sbuf *sb);
/* anon: daemon-owned memory of `size` bytes; else open `path` with rq's credentials. */
int core_source_set(struct core *c, const struct core_req *rq, const char *src, uint64_t serial,
		    bool anon, uint64_t size, const char *path);

/* ---- save and restore (save.c) ---- */
/* The whole configuration as JSON (the root `save` file; format in ioasfs.5). */
int core_save(struct core *c, struct sbuf *sb);
/*
 * Rebuild a saved configuration into an empty core. 0, or -errno with err saying which key
 * or object could not be rebuilt and why.
 */
int core_restore(struct core *c, const char *file, char *err, size_t errlen);
/* "sim" or "kernel". */
const char *core_backend_name(const struct core *c);
/* What the backend is (its capability fields, backend.h). */
const struct backend_ops *core_backend_ops(const struct core *c);

#endif
