/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Sources: the memory that maps refer to by name (anon memory, or a file the opener opened as
 * the writer).
 * Split out of core.c; the shared helpers are in core_int.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core_int.h"
#include "util/itree.h"
#include "util/opener.h"
#include "util/parse.h"
#include "util/slab.h"

/* ---------------------------------------------------------------- sources */

int core_source_show_path(struct core *c, const char *src, uint64_t serial, struct sbuf *sb)
{
	struct source *s;
	int r = -ENOENT;

	pthread_rwlock_rdlock(&c->topo);
	s = source_find(c, src, serial);
	if (s) {
		if (!s->set)
			sbuf_printf(sb, "\n");
		else if (s->anon)
			sbuf_printf(sb, "anon 0x%" PRIx64 "\n", s->size);
		else
			sbuf_printf(sb, "%s\n", s->path);
		r = 0;
	}
	pthread_rwlock_unlock(&c->topo);
	return r;
}

int core_source_show_size(struct core *c, const char *src, uint64_t serial, struct sbuf *sb)
{
	struct source *s;
	int r = -ENOENT;

	pthread_rwlock_rdlock(&c->topo);
	s = source_find(c, src, serial);
	if (s) {
		sbuf_printf(sb, "0x%" PRIx64 "\n", s->size);
		r = 0;
	}
	pthread_rwlock_unlock(&c->topo);
	return r;
}

int core_source_show_users(struct core *c, const char *src, uint64_t serial, struct sbuf *sb)
{
	struct source *s;
	int r = -ENOENT;

	pthread_rwlock_rdlock(&c->topo);
	s = source_find(c, src, serial);
	if (s) {
		sbuf_printf(sb, "%" PRIu64 "\n", __atomic_load_n(&s->users, __ATOMIC_RELAXED));
		r = 0;
	}
	pthread_rwlock_unlock(&c->topo);
	return r;
}

/*
 * The kernel derives the automatic IOVA alignment from the address being mapped
 * (iopt_alloc_iova), so a source placed 2 MiB-aligned (or, for a range of a file, at the file
 * offset's place in a 2 MiB page) is what lets `auto` maps of 2 MiB land on 2 MiB boundaries,
 * as the kernel selftests' buffer does.
 */
void *core_mmap_aligned(uint64_t len, uint64_t phase, int prot, int flags, int fd, uint64_t off)
{
	const uint64_t align = BACKEND_HPAGE_SIZE;
	uint64_t span = (len + BACKEND_PAGE_SIZE - 1) & ~(BACKEND_PAGE_SIZE - 1);
	char *base, *p;
	uintptr_t a;

	phase &= align - 1;
	base = mmap(NULL, span + 2 * align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		    -1, 0);
	if (base == MAP_FAILED)
		return MAP_FAILED;
	a = (((uintptr_t)base + align - 1) & ~(uintptr_t)(align - 1)) + phase;
	p = mmap((void *)a, len, prot, flags | MAP_FIXED, fd, (off_t)off);
	if (p == MAP_FAILED) {
		int e = errno;

		munmap(base, span + 2 * align);
		errno = e;
		return MAP_FAILED;
	}
	if (a > (uintptr_t)base)
		munmap(base, a - (uintptr_t)base);
	/* a + span < base + span + 2 * align: there is always a tail to give back */
	munmap((void *)(a + span), (uintptr_t)base + span + 2 * align - (a + span));
	return p;
}

/*
 * Is source src of serial there and unused? 0, or -errno with the reason in `errors`. Asked
 * before the memory is made (a busy source is refused before its path is looked at) and
 * again, under the write lock, before it changes.
 */
static int source_settable(struct core *c, const struct core_req *rq, const char *src,
			   uint64_t serial, uint64_t anon, struct source **ret_s)
{
	struct source *s = source_find(c, src, serial);
	uint64_t held = 0;
	struct list *p;

	if (!s)
		return -ENOENT;
	if (s->users) {
		core_error(c, rq, "source %s is used by %" PRIu64 " mapping(s)", src, s->users);
		return -EBUSY;
	}
	if (anon && c->multiuser && s->o.uid != 0) {
		/* the owner's other anon sources: memory the daemon commits as it is written */
		list_for_each (p, &c->objs[CORE_SOURCE]) {
			const struct source *o = list_entry(p, struct source, o.link);

			if (o != s && o->o.uid == s->o.uid && o->set && o->anon)
				held += o->size;
		}
		if (held + anon > c->user_anon_bytes) {
			core_error(c, rq,
				   "uid %u has 0x%" PRIx64 " bytes of anon sources; 0x%" PRIx64
				   " more exceed limit_user_anon_bytes 0x%" PRIx64,
				   (unsigned)s->o.uid, held, anon, c->user_anon_bytes);
			return -ENOSPC;
		}
	}
	*ret_s = s;
	return 0;
}

/*
 * The memory of a source: anon SIZE, or the file at path opened by the opener as the writer.
 * No lock is held: the open may take a while, and may come back into this mount.
 */
static int source_memory(struct core *c, const struct core_req *rq, bool anon, uint64_t size,
			 const char *path, void **ret_mem, uint64_t *ret_size, bool *ret_writable)
{
	struct opener_cred cr = { 0 };
	struct opener_file f;
	void *mem;
	int fd, r;

	if (anon) {
		if (!size || size > ANON_MAX) {
			core_error(c, rq, "anon size must be 1 .. 0x%llx bytes", ANON_MAX);
			return -EINVAL;
		}
		/* a memfd of mode 0600, not MAP_ANONYMOUS's world-accessible shmem */
		fd = memfd_create("ioasfs-anon", MFD_CLOEXEC);
		r = fd < 0 || fchmod(fd, 0600) < 0 || ftruncate(fd, (off_t)size) < 0 ? -errno : 0;
		mem = r < 0 ? MAP_FAILED
			    : core_mmap_aligned(size, 0, PROT_READ | PROT_WRITE,
						MAP_SHARED | MAP_NORESERVE, fd, 0);
		if (r == 0 && mem == MAP_FAILED)
			r = -errno;
		if (fd >= 0)
			close(fd);
		if (r < 0) {
			core_error(c, rq, "anon 0x%" PRIx64 ": %s", size, errno_name(-r));
			return r;
		}
		*ret_writable = true;
		*ret_size = size;
		*ret_mem = mem;
		return 0;
	}
	if (path[0] != '/') {
		core_error(c, rq, "source path '%.200s' must be absolute (or anon SIZE)", path);
		return -EINVAL;
	}
	if (rq) {
		cr = (struct opener_cred){ rq->uid, rq->gid, rq->ngroups, rq->groups };
		if (geteuid() != 0)
			cr.uid = geteuid(); /* an unprivileged daemon opens as itself */
	}
	r = opener_open(&cr, path, OPENER_FILE, &f);
	if (r < 0) {
		if (f.why == OPENER_OPEN)
			core_error(c, rq, "cannot open %.200s: %s", path, errno_name(-r));
		else
			core_error(c, rq, "%.200s %s (%s)", path, opener_why_str(f.why),
				   errno_name(-r));
		return r;
	}
	mem = core_mmap_aligned(f.size, 0, PROT_READ | (f.writable ? PROT_WRITE : 0), MAP_SHARED,
				f.fd, 0);
	r = mem == MAP_FAILED ? -errno : 0;
	close(f.fd);
	if (r < 0) {
		core_error(c, rq, "cannot map %.200s: %s", path, errno_name(-r));
		return r;
	}
	*ret_writable = f.writable;
	*ret_size = f.size;
	*ret_mem = mem;
	return 0;
}

int core_source_set(struct core *c, const struct core_req *rq, const char *src, uint64_t serial,
		    bool anon, uint64_t size, const char *path)
{
	struct source *s;
	bool writable = true;
	char *dup = NULL;
	void *mem;
	int r;

	pthread_rwlock_rdlock(&c->topo);
	r = source_settable(c, rq, src, serial, anon ? size : 0, &s);
	pthread_rwlock_unlock(&c->topo);
	if (r < 0)
		return r;
	r = source_memory(c, rq, anon, size, path, &mem, &size, &writable);
	if (r < 0)
		return r;
	if (!anon) {
		dup = strdup(path);
		if (!dup) {
			munmap(mem, size);
			return -ENOMEM;
		}
	}
	core_topo_wrlock(c);
	r = source_settable(c, rq, src, serial, anon ? size : 0, &s);
	if (r < 0) {
		pthread_rwlock_unlock(&c->topo);
		munmap(mem, size);
		free(dup);
		return r;
	}
	source_release(s);
	s->anon = anon;
	s->path = dup;
	s->mem = mem;
	s->mem_len = size;
	s->size = size;
	s->writable = writable;
	s->set = true;
	pthread_rwlock_unlock(&c->topo);
	return 0;
}

/* ---------------------------------------------------------------- the object */

/* topo held for writing: a source starts unset (its path is written next) */
static struct obj *source_make(struct core *c, const struct core_req *rq, const char *name,
			       const char *ctx, int *ret)
{
	struct source *s = calloc(1, sizeof(*s));

	if (!s) {
		*ret = -ENOMEM;
		return NULL;
	}
	return &s->o;
}

static int source_remove(struct core *c, const struct core_req *rq, struct obj *o)
{
	struct source *s = list_entry(o, struct source, o);

	if (s->users) {
		core_error(c, rq, "source %s is used by %" PRIu64 " mapping(s)", o->name, s->users);
		return -EBUSY;
	}
	return 0;
}

static void source_free(struct core *c, struct obj *o)
{
	struct source *s = list_entry(o, struct source, o);

	source_release(s);
	free(s);
}

const struct core_obj_ops source_obj_ops = {
	.name = "source",
	.max = CORE_MAX_SOURCES,
	.make = source_make,
	.remove = source_remove,
	.free = source_free,
};
