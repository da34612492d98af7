/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The core's object structures, shared by the files of src/core that need them (core.c, and
 * save.c which writes and reads the whole configuration). Nothing outside src/core includes
 * this: the rest of ioasfs sees only core.h.
 */
#ifndef IOASFS_CORE_INT_H
#define IOASFS_CORE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/core.h"
#include "util/itree.h"
#include "util/list.h"
#include "util/slab.h"

struct obj {
	struct list link;
	char name[CORE_NAME_MAX + 1];
	uint64_t serial;
	uid_t uid; /* the owner: who made it (allow_other, ioasfs.5 SECURITY) */
	gid_t gid;
};

struct source {
	struct obj o;
	bool anon, set, writable;
	/*
	 * A map by file descriptor's own view of the file: in no list, named "fd/PID/N", freed
	 * (and its memory unmapped) with the last mapping that uses it, copies included.
	 */
	bool fd_view;
	char *path;
	void *mem;	  /* the bytes of [mem_off, mem_off + mem_len) */
	uint64_t mem_off; /* 0, except for fd views of a range of a file */
	uint64_t mem_len; /* what munmap releases */
	uint64_t size;	  /* offsets up to size are valid */
	uint64_t users;	  /* mappings referring to it: atomic, changed under topo read */
};

struct window {
	struct obj o;
	uint64_t start;	    /* CORE_AUTO or an address */
	uint64_t size;	    /* 0 = unset */
	uint64_t page_size; /* CORE_AUTO or a size */
	uint64_t levels;    /* CORE_AUTO or 1..6 */
	bool active;
	uint64_t a_start, a_last;
};

struct core_user;

struct mapping {
	struct itree_node node;
	struct source *src;
	uint64_t offset;
	unsigned prot;
};

struct ioas {
	struct obj o;
	struct core_user *owner; /* o.uid's record, its mappings counted there; NULL: uncounted */
	uint32_t id;
	pthread_mutex_t lock;
	struct list windows;
	unsigned n_windows;
	unsigned n_devices;
	struct itree maps;
	struct slab slab; /* the mappings */
	uint64_t st_maps, st_unmaps, st_errors, bytes_mapped;
};

struct device {
	struct obj o;
	bool bound;		  /* false: kernel backend, no cdev yet (see D/path) */
	char path[CORE_PATH_MAX]; /* the cdev it is bound to (kernel backend) */
	uint32_t dev_id;
	struct ioas *ioas;
	unsigned n_resv;
	struct platform_range resv[CORE_MAX_RESERVED];
};

/*
 * What one owner's IOASes hold, for the per-user bounds under allow_other (ioasfs.5 LIMITS):
 * one record per uid that ever owned an IOAS, kept until the core goes. The count changes
 * under an IOAS's lock, so IOASes of one owner change it concurrently: atomics.
 */
struct core_user {
	struct core_user *next;
	uid_t uid;
	uint64_t mappings;
};

struct core {
	struct backend *be;
	struct platform plat;
	pthread_rwlock_t topo;
	uint64_t next_serial;
	struct list objs[CORE_OBJ_KINDS];
	unsigned n_objs[CORE_OBJ_KINDS];
	uint64_t max_mappings;	  /* per IOAS, and per owner under allow_other */
	uint64_t user_anon_bytes; /* anon source sizes one owner may declare, under allow_other */
	struct core_user *users;  /* added under topo held for writing */
	bool multiuser;		  /* allow_other: objects are their owners' alone */

	pthread_mutex_t err_lock;
	unsigned err_head, err_count;
	char errors[CORE_ERRORS_RING][CORE_ERROR_LEN];
};

/*
 * topo for writing, without holding readers back for long: the lock prefers writers (so a
 * stream of short readers cannot starve mkdir), and a writer queued behind a long reader (a
 * save's copy of a large tree) would stop every reader that comes after it. So a writer
 * waits at most 2 ms at a time, then lets the queued readers in and tries again (core.c).
 */
void core_topo_wrlock(struct core *c);

/* Lock helpers: topo for reading plus the IOAS lock (core.c). */
struct ioas *core_ioas_get(struct core *c, struct core_ioas_ref r);
void core_ioas_put(struct core *c, struct ioas *io);

/* Record an error against an IOAS too (its `errors` statistic). */
#define ioas_error(c, io, rq, ...)                                                                 \
	do {                                                                                       \
		(io)->st_errors++;                                                                 \
		core_error(c, rq, __VA_ARGS__);                                                    \
	} while (0)

/* The address of a source's byte at offset off (off inside the source). */
static inline char *source_ptr(const struct source *s, uint64_t off)
{
	return (char *)s->mem + (off - s->mem_off);
}

/*
 * Map m of source s into io (locked). With fd >= 0 and a backend that has map_file, the
 * backend maps the file (IOMMU_IOAS_MAP_FILE at m->offset); else, or when the kernel does not
 * know that ioctl (ENOTTY), it maps s's memory.
 */
int core_ioas_map_source(struct core *c, struct ioas *io, const struct core_req *rq,
			 const struct core_map_cmd *m, struct source *s, int fd,
			 uint64_t *ret_iova);
/* Drop one user of an fd view; the last frees it. */
void core_fd_view_put(struct source *s);
/*
 * mmap len bytes of fd at off (or anonymous memory, fd -1) at an address whose offset in a
 * 2 MiB page is phase, so the automatic IOVA the kernel derives from the address keeps the
 * huge-page alignment of the file offset. MAP_FAILED with errno on failure.
 */
void *core_mmap_aligned(uint64_t len, uint64_t phase, int prot, int flags, int fd, uint64_t off);

/* dma.c: map by fd, the batch MAP_FD* records: the view is made with no lock held */
struct core_fd_view {
	struct source *s; /* the daemon's mapping of the range */
	int fd;		  /* the file, for a backend that maps files; or -1 */
	char why[200];	  /* why it could not be made */
};
int core_fd_view_make(const struct core_req *rq, int fdnum, uint64_t offset, uint64_t length,
		      unsigned prot, struct core_fd_view *v);
void core_fd_view_drop(struct core_fd_view *v);
/* ... and mapped with io locked (topo read); v is consumed */
int core_ioas_map_fd(struct core *c, struct ioas *io, const struct core_req *rq, bool fixed,
		     uint64_t iova, int fdnum, uint64_t offset, uint64_t length, unsigned prot,
		     struct core_fd_view *v, uint64_t *ret_iova);

/*
 * What the core's files (core.c for the registry, geometry and ownership; ioas.c, window.c,
 * device.c, source.c for each kind of object) share. Nothing outside src/core sees it.
 */
#define ANON_MAX (1ull << 40)

/*
 * A sorted set of disjoint ranges, grown on the heap: an IOAS's usable ranges are the
 * apertures minus every reserved range of the platform and of up to CORE_MAX_DEVICES devices,
 * so there is no small bound. Allocation failure is sticky in err.
 */
struct rset {
	unsigned n, cap;
	struct iova_range *r;
	int err;
};

bool owns_obj(const struct core *c, const struct core_req *rq, const struct obj *o);
/* does rq own o (c in scope)? */
#define owns(rq, o) owns_obj(c, rq, o)

/* core.c */
void rset_free(struct rset *s);
void rset_subtract(struct rset *s, uint64_t start, uint64_t last);
bool ranges_intersect(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1);
struct ioas *ioas_find(struct core *c, struct core_ioas_ref r);
struct device *device_find(struct core *c, const char *name, uint64_t serial);
struct source *source_find(struct core *c, const char *name, uint64_t serial);
struct window *window_find(struct ioas *io, const char *name, uint64_t serial);
struct ioas *ioas_get(struct core *c, struct core_ioas_ref r);
void ioas_put(struct core *c, struct ioas *io);
void ioas_drop_mappings(struct ioas *io);
void source_release(struct source *s);
int device_resolve(struct core *c, const struct core_req *rq, const char *name, const char *what,
		   bool by_name, char ret_path[CORE_PATH_MAX]);
int device_bind(struct core *c, const struct core_req *rq, struct device *d, const char *name,
		const char *what, bool by_name);
void ioas_base_ranges(struct core *c, struct ioas *io, const struct device *extra, struct rset *s);
void ioas_window_ranges(struct ioas *io, struct rset *s);
void ioas_usable(struct core *c, struct ioas *io, const struct device *extra, struct rset *s);
int ioas_push_allowed(struct core *c, struct ioas *io, const struct device *extra);
bool outside_aperture(struct core *c, uint64_t s, uint64_t l, char *why, size_t len);
bool crosses_reserved(struct core *c, struct ioas *io, const struct device *extra, uint64_t s,
		      uint64_t l, char *why, size_t len);
int check_owner(struct core *c, const struct core_req *rq, enum core_obj kind, const struct obj *o);
int list_names(struct list *head, size_t count, struct core_name **ret, size_t *ret_n);

/* ioas.c */
void describe_mapping(const struct mapping *m, char *buf, size_t len);

/* window.c */
int window_over_mappings(struct ioas *io, struct window *nw, char *why, size_t len);

/* Would count more mappings put io's owner past its share (allow_other, not root)? */
static inline bool owner_full(const struct core *c, const struct ioas *io, uint64_t count)
{
	return io->owner &&
	       __atomic_load_n(&io->owner->mappings, __ATOMIC_RELAXED) + count > c->max_mappings;
}

static inline void owner_add(struct ioas *io, int64_t count)
{
	if (io->owner)
		__atomic_add_fetch(&io->owner->mappings, (uint64_t)count, __ATOMIC_RELAXED);
}

/* Take mapping m out of io (locked) and free it. */
static inline void mapping_drop(struct ioas *io, struct mapping *m)
{
	itree_remove(&io->maps, &m->node);
	owner_add(io, -1);
	io->bytes_mapped -= m->node.last - m->node.start + 1;
	if (m->src->fd_view)
		core_fd_view_put(m->src);
	else
		__atomic_sub_fetch(&m->src->users, 1, __ATOMIC_RELAXED);
	slab_free(&io->slab, m);
}

/*
 * One row per kind of object, as iommufd_object_ops[] in the kernel: what core_obj_create,
 * core_obj_remove and the core's destruction do for a kind. A new kind is a file and a row.
 */
struct core_obj_ops {
	const char *name; /* in errors: "ioas", "device", "source" */
	unsigned max;	  /* objects in the whole mount */
	/*
	 * Optional, with no lock held: what may block or come back into the mount (opening a
	 * device's cdev as the writer), its result in ctx (CORE_PATH_MAX bytes) for make.
	 */
	int (*prepare)(struct core *c, const struct core_req *rq, const char *name, char *ctx);
	/* topo held for writing: the new object, its kind's part made; NULL and *ret = -errno */
	struct obj *(*make)(struct core *c, const struct core_req *rq, const char *name,
			    const char *ctx, int *ret);
	/* topo held for writing: may o go? 0 once the backend let it go, or -errno and a line */
	int (*remove)(struct core *c, const struct core_req *rq, struct obj *o);
	/* o is out of its list: free it and what it holds */
	void (*free)(struct core *c, struct obj *o);
};

extern const struct core_obj_ops ioas_obj_ops, device_obj_ops, source_obj_ops;
extern const struct core_obj_ops *const core_obj_ops[CORE_OBJ_KINDS];

bool owner_counted(const struct core *c, uid_t uid);
struct core_user *owner_of(struct core *c, uid_t uid);
void refresh_platform(struct core *c);

#endif
