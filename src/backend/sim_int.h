/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sim backend's objects, shared by sim.c (ids, IOAS ops, the ops table), sim_iopt.c
 * (reserved ranges, allocation, areas) and sim_device.c (devices). Nothing else sees them.
 */
#ifndef IOASFS_SIM_INT_H
#define IOASFS_SIM_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"
#include "util/itree.h"
#include "util/slab.h"

#define SIM_PAGE      BACKEND_PAGE_SIZE
#define SIM_MAP_FLAGS (BACKEND_MAP_FIXED_IOVA | BACKEND_MAP_WRITEABLE | BACKEND_MAP_READABLE)
/* The kernel allocates object ids with xa_limit_31b. */
#define SIM_MAX_ID INT32_MAX

enum sim_type {
	SIM_OBJ_IOAS = 1,
	SIM_OBJ_DEVICE,
	SIM_OBJ_HWPT,
};

struct sim_obj {
	uint32_t id;
	enum sim_type type;
};

/* sim_area.flags */
#define AREA_READ  (1u << 0)
#define AREA_WRITE (1u << 1)
/* The memory behind the area was mapped writable (iopt_pages->writable, inherited by COPY). */
#define AREA_PAGES_WRITABLE (1u << 2)
/* Not a mapping: one range of the union of reserved ranges. */
#define AREA_RESERVED (1u << 3)

/* One mapping: 80 bytes on LP64 and nothing else per mapping. */
struct sim_area {
	struct itree_node node;
	uint64_t user_va; /* of the first byte of the area */
	uint32_t flags;
};
_Static_assert(UINTPTR_MAX != UINT64_MAX || sizeof(struct sim_area) <= 80,
	       "a mapping should cost the tree node plus 16 bytes");

/* A reserved range and who reserved it (a struct sim_dev or a struct sim_hwpt). */
struct sim_resv {
	uint64_t start, last;
	const void *owner;
};

struct sim_hwpt;

struct sim_ioas {
	struct sim_obj obj;
	struct itree tree; /* areas and the union of resv[] */
	size_t nareas;
	struct slab slab;      /* the areas */
	struct sim_resv *resv; /* every owner's ranges, sorted by start, may overlap */
	size_t nresv;
	struct sim_area *rnodes; /* the union of resv[] as tree nodes; room for nresv */
	size_t nrnodes;
	struct iova_range *allowed; /* sorted, disjoint */
	size_t nallowed;
	uint64_t iova_alignment;
	bool disable_large_pages; /* IOMMU_OPTION_HUGE_PAGES == 0 */
	struct sim_hwpt *hwpt;	  /* the auto domain while devices are attached */
};

struct sim_hwpt {
	struct sim_obj obj;
	struct sim_ioas *ioas;
	unsigned int ndevs;
};

struct sim_dev {
	struct sim_obj obj;
	char *name;
	struct platform_range *regions; /* sorted, disjoint */
	uint32_t nregions;
	struct sim_hwpt *hwpt;
};

struct sim {
	struct backend be;
	pthread_mutex_t lock;
	struct platform plat;
	struct sim_obj **objs; /* indexed by id; objs[0] stays NULL */
	uint32_t cap;
	uint32_t nobjs;
	bool account_mm; /* IOMMU_OPTION_RLIMIT_MODE */
};

static inline struct sim *to_sim(struct backend *be)
{
	return (struct sim *)((char *)be - offsetof(struct sim, be));
}

static inline struct sim_area *to_area(const struct itree_node *n)
{
	return itree_entry(n, struct sim_area, node);
}

static inline bool is_reserved(const struct itree_node *n)
{
	return to_area(n)->flags & AREA_RESERVED;
}

/* ---- object ids ---- */

static inline struct sim_obj *obj_get_any(struct sim *s, uint32_t id)
{
	if (!id || id >= s->cap)
		return NULL;
	return s->objs[id];
}

static inline void *obj_get(struct sim *s, uint32_t id, enum sim_type type)
{
	struct sim_obj *o = obj_get_any(s, id);

	return o && o->type == type ? o : NULL;
}

/* x in [1, 2^63]. */
static inline uint64_t roundup_pow2(uint64_t x)
{
	return x <= 1 ? 1 : UINT64_C(1) << (64 - __builtin_clzll(x - 1));
}

/* ---- arithmetic ---- */

static inline uint64_t lowest_bit(uint64_t x)
{
	return x & -x;
}

/* A slice of memory to map: one for MAP, one per source area for COPY. */
struct sim_piece {
	uint64_t user_va;
	uint64_t length;
	bool writable;
};

/* sim.c */
int obj_add(struct sim *s, struct sim_obj *o, enum sim_type type);
void obj_del(struct sim *s, struct sim_obj *o);
uint64_t plat_min_page(const struct platform *p);
bool resv_intersects(const struct sim_ioas *ioas, uint64_t start, uint64_t last);
bool range_in_use(const struct sim_ioas *ioas, uint64_t start, uint64_t last);
bool areas_aligned(const struct sim_ioas *ioas, uint64_t align);
uint64_t ioas_alignment(const struct sim *s, const struct sim_ioas *ioas, bool disable_large_pages);

/* sim_iopt.c */
int ioas_add_reserved(struct sim_ioas *ioas, const struct sim_resv *add, size_t nadd);
void ioas_remove_reserved(struct sim_ioas *ioas, const void *owner);
int ioas_map_pieces(struct sim_ioas *ioas, const struct sim_piece *pc, size_t npc, uint64_t length,
		    uint32_t flags, uint64_t *iova);
int ioas_unmap_range(struct sim_ioas *ioas, uint64_t start, uint64_t last, uint64_t *unmapped);
void ioas_free(struct sim_ioas *ioas);

/* sim_device.c */
int sim_device_bind(struct backend *be, const char *path, uint32_t *ret_dev_id);
int sim_device_attach(struct backend *be, uint32_t dev_id, uint32_t *pt_id);
int sim_device_detach(struct backend *be, uint32_t dev_id);
void dev_free(struct sim_dev *dev);
int sim_device_unbind(struct backend *be, uint32_t dev_id);
int sim_hw_info(struct backend *be, uint32_t dev_id, struct backend_hw_info *ret);
int sim_device_reserved(struct backend *be, uint32_t dev_id, struct platform_range *regions,
			uint32_t *num);
int sim_device_set_reserved(struct backend *be, uint32_t dev_id,
			    const struct platform_range *regions, uint32_t num);

#endif
