/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * slab: see slab.h. A chunk is 2 MiB, mapped 2 MiB-aligned so that one huge page can back
 * it, with the chunk header at its start.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "util/slab.h"

#define CHUNK (2u << 20)

struct slab_chunk {
	struct slab_chunk *next;
};

void slab_init(struct slab *s, size_t size)
{
	s->size = (size + 7) & ~(size_t)7;
	if (s->size < sizeof(void *))
		s->size = sizeof(void *);
	s->free = NULL;
	s->chunks = NULL;
	s->next = s->end = NULL;
}

static struct slab_chunk *chunk_new(void)
{
	char *base =
	    mmap(NULL, 2 * CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t a;

	if (base == MAP_FAILED)
		return NULL;
	a = ((uintptr_t)base + CHUNK - 1) & ~(uintptr_t)(CHUNK - 1);
	if (a > (uintptr_t)base)
		munmap(base, a - (uintptr_t)base);
	munmap((char *)a + CHUNK, (uintptr_t)base + 2 * CHUNK - (a + CHUNK));
	madvise((void *)a, CHUNK, MADV_HUGEPAGE); /* a hint: fine if THP is off */
	return (struct slab_chunk *)a;
}

void *slab_alloc(struct slab *s)
{
	void *p = s->free;
	struct slab_chunk *c;

	if (p) {
		s->free = *(void **)p;
		return p;
	}
	if ((size_t)(s->end - s->next) < s->size) {
		c = chunk_new();
		if (!c)
			return NULL;
		c->next = s->chunks;
		s->chunks = c;
		s->next = (char *)c + ((sizeof(*c) + 15) & ~(size_t)15);
		s->end = (char *)c + CHUNK;
	}
	p = s->next;
	s->next += s->size;
	return p;
}

void slab_free(struct slab *s, void *p)
{
	if (!p)
		return;
	*(void **)p = s->free;
	s->free = p;
}

void slab_destroy(struct slab *s)
{
	while (s->chunks) {
		struct slab_chunk *c = s->chunks;

		s->chunks = c->next;
		munmap(c, CHUNK);
	}
	slab_init(s, s->size);
}
