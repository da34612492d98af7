/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What restore.c (the passes over a saved file) and restore_read.c (reading its records)
 * share.
 */
#ifndef IOASFS_RESTORE_INT_H
#define IOASFS_RESTORE_INT_H

#include <json-c/json.h>

#include "core/core_int.h"

#define JSON_FLAGS    (JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)
#define SAVE_VERSION  1
#define RESTORE_DEPTH 16  /* the format nests 5 deep */
#define MAP_LINE_MAX  256 /* "START-LAST PROT SOURCE+OFFSET" needs at most 128 */

/*
 * A file source whose path no longer opens for its owner: rebuilt unset, and the mappings that
 * name it skipped, so that one user's file (a /proc/PID/fd/N of a process that is gone) cannot
 * keep every other user's objects from coming back.
 */
struct skipped {
	const char *name, *path; /* in the parsed document */
	int err;
	uint64_t n_ioas; /* its mappings skipped in the IOAS being built */
	uint64_t n_all;
};

struct restore {
	struct core *c;
	struct core_req rq;
	const char *file;
	char *err;
	size_t errlen;
	bool apply;		     /* false: the checking pass, which changes nothing */
	char reason[CORE_ERROR_LEN]; /* r->rq.reason: the last reason the core gave */
	struct skipped *skip;	     /* sorted by name once the sources are built */
	size_t n_skip;
};

/* An object's "uid" and "gid" (absent: the restoring user's). */
struct owner {
	bool set;
	uid_t uid;
	gid_t gid;
};

/* What the checking pass and the building pass read out of one record. */
struct src_spec {
	struct owner own;
	const char *name;
	const char *path; /* NULL: anon (size) or not set (size 0) */
	uint64_t size;
};

struct win_spec {
	const char *name;
	uint64_t start, size, page_size, levels; /* size 0: unset */
	bool placed;
	uint64_t a_start, a_last;
};

struct map_spec {
	uint64_t iova, length, offset;
	unsigned prot;
	char source[CORE_NAME_MAX + 1];
};

struct dev_spec {
	struct owner own;
	const char *name;
	const char *path; /* NULL: bound by name (or not bound) */
	const char *ioas; /* NULL: not attached */
	bool has_resv;
	unsigned n_resv;
	struct platform_range resv[CORE_MAX_RESERVED];
};

__attribute__((format(printf, 3, 4))) static int bad(struct restore *r, const char *path,
						     const char *fmt, ...)
{
	char what[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(r->err, r->errlen, "%s: %s: %s", r->file, path, what);
	return -EINVAL;
}

/* restore_read.c */
const char *type_name(struct json_object *v);
int only_keys(struct restore *r, struct json_object *o, const char *path,
	      const char *const *allowed);
int want_object(struct restore *r, struct json_object *v, const char *path);
int get_name(struct restore *r, struct json_object *o, const char *path, const char **ret);
int get_array(struct restore *r, struct json_object *o, const char *path, const char *key,
	      struct json_object **ret, size_t *n);
int get_owner(struct restore *r, struct json_object *o, const char *path, struct owner *ret);
int build_owner(struct restore *r, enum core_obj kind, const char *name, const struct owner *own);
void owner_req(const struct restore *r, const struct owner *own, struct core_req *rq);
int read_source(struct restore *r, struct json_object *v, const char *path, struct src_spec *s);
int read_window(struct restore *r, struct json_object *v, const char *path, struct win_spec *w);
int read_mapping(struct restore *r, struct json_object *v, const char *path, struct map_spec *m);
int read_device(struct restore *r, struct json_object *v, const char *path, struct dev_spec *d);

#endif
