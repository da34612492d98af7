/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A fixed-size object allocator for what there are millions of: mappings (core) and areas
 * (sim). malloc would add a 16-byte header and scatter objects over the heap; a slab packs
 * them into 2 MiB chunks backed by transparent huge pages where the kernel allows, which
 * halves the memory per mapping and the TLB misses of walking a million-node tree. Not
 * thread-safe: each slab belongs to something with a lock (an IOAS, the sim).
 * Chunks are returned to the system only by slab_destroy; freed objects are reused first.
 */
#ifndef IOASFS_SLAB_H
#define IOASFS_SLAB_H

#include <stddef.h>

struct slab {
	size_t size; /* object size, rounded to 8 */
	void *free;  /* free objects, linked through their first word */
	struct slab_chunk *chunks;
	char *next; /* unused tail of the newest chunk */
	char *end;
};

void slab_init(struct slab *s, size_t size);
void *slab_alloc(struct slab *s);
void slab_free(struct slab *s, void *p);
void slab_destroy(struct slab *s);

#endif
