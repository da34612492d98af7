/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading a saved file: JSON accessors that name the path of what is wrong, and one reader
 * per kind of record, shared by the checking and the building pass of restore.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/core_int.h"
#include "util/parse.h"

#include "core/restore_int.h"

/* ---- reading the JSON: every accessor names the path of what is wrong */

const char *type_name(struct json_object *v)
{
	return v ? json_type_to_name(json_object_get_type(v)) : "null";
}

/* Refuse keys outside allowed (NULL-terminated). */
int only_keys(struct restore *r, struct json_object *o, const char *path,
	      const char *const *allowed)
{
	json_object_object_foreach(o, key, val)
	{
		const char *const *a;

		(void)val;
		for (a = allowed; *a && strcmp(*a, key); a++)
			;
		if (!*a)
			return bad(r, path, "unknown key \"%.64s\"", key);
	}
	return 0;
}

int want_object(struct restore *r, struct json_object *v, const char *path)
{
	if (!json_object_is_type(v, json_type_object))
		return bad(r, path, "expected an object, got %s", type_name(v));
	return 0;
}

/* key's value as a string: 0, or 1 when absent (or null with null_ok), or -EINVAL. */
static int get_str(struct restore *r, struct json_object *o, const char *path, const char *key,
		   bool required, bool null_ok, const char **ret)
{
	struct json_object *v;

	*ret = NULL;
	if (!json_object_object_get_ex(o, key, &v)) {
		if (required)
			return bad(r, path, "missing key \"%s\"", key);
		return 1;
	}
	if (!v && null_ok)
		return 1;
	if (!json_object_is_type(v, json_type_string))
		return bad(r, path, "\"%s\": expected a string, got %s", key, type_name(v));
	*ret = json_object_get_string(v);
	if (strlen(*ret) != (size_t)json_object_get_string_len(v))
		return bad(r, path, "\"%s\": contains a NUL character", key);
	return 0;
}

int get_name(struct restore *r, struct json_object *o, const char *path, const char **ret)
{
	int e = get_str(r, o, path, "name", true, false, ret);

	if (e < 0)
		return e;
	if (!valid_name(*ret))
		return bad(r, path, "\"name\": invalid name \"%.64s\"", *ret);
	return 0;
}

/* A number in a string ("0x1000", "4K" when size), or "auto" when auto_ok. */
static int get_num(struct restore *r, struct json_object *o, const char *path, const char *key,
		   bool size, bool auto_ok, uint64_t *ret)
{
	const char *s;
	int e = get_str(r, o, path, key, false, false, &s);

	if (e)
		return e;
	if (auto_ok && !strcmp(s, "auto")) {
		*ret = CORE_AUTO;
		return 0;
	}
	e = size ? parse_size(s, ret) : parse_u64(s, ret);
	if (e < 0)
		return bad(r, path, "\"%s\": \"%.64s\" is not %s%s", key, s,
			   size ? "a size" : "a number", auto_ok ? " or \"auto\"" : "");
	return 0;
}

/* key's value as an array (n elements), or n = 0 when absent. */
int get_array(struct restore *r, struct json_object *o, const char *path, const char *key,
	      struct json_object **ret, size_t *n)
{
	*ret = NULL;
	*n = 0;
	if (!json_object_object_get_ex(o, key, ret))
		return 0;
	if (!json_object_is_type(*ret, json_type_array))
		return bad(r, path, "\"%s\": expected an array, got %s", key, type_name(*ret));
	*n = json_object_array_length(*ret);
	return 0;
}

/* "uid" and "gid": both or neither, each 0 .. 2^32-2 (-1 means no id to the kernel). */
int get_owner(struct restore *r, struct json_object *o, const char *path, struct owner *ret)
{
	static const char *const keys[] = { "uid", "gid" };
	struct json_object *v[2] = { NULL, NULL };
	bool has[2];
	int64_t id[2] = { 0, 0 };

	ret->set = false;
	for (int i = 0; i < 2; i++)
		has[i] = json_object_object_get_ex(o, keys[i], &v[i]);
	if (!has[0] && !has[1])
		return 0;
	if (has[0] != has[1])
		return bad(r, path, "\"%s\" without \"%s\"", keys[!has[0]], keys[has[0]]);
	for (int i = 0; i < 2; i++) {
		if (!json_object_is_type(v[i], json_type_int))
			return bad(r, path, "\"%s\": expected a number, got %s", keys[i],
				   type_name(v[i]));
		id[i] = json_object_get_int64(v[i]);
		if (id[i] < 0 || id[i] >= (int64_t)UINT32_MAX)
			return bad(r, path, "\"%s\": %" PRId64 " is not a user or group id",
				   keys[i], id[i]);
	}
	ret->set = true;
	ret->uid = (uid_t)id[0];
	ret->gid = (gid_t)id[1];
	return 0;
}

/* Give a rebuilt object its saved owner. */
int build_owner(struct restore *r, enum core_obj kind, const char *name, const struct owner *own)
{
	if (!own->set)
		return 0;
	return core_obj_chown(r->c, kind, name, own->uid, own->gid);
}

/*
 * A source path is opened again as its owner, as it was first opened with the writer's
 * credentials: the owner's groups are those of the user database.
 */
void owner_req(const struct restore *r, const struct owner *own, struct core_req *rq)
{
	struct passwd *pw;
	int n = CORE_MAX_GROUPS;

	*rq = r->rq;
	if (!own->set)
		return;
	rq->uid = own->uid;
	rq->gid = own->gid;
	rq->ngroups = 0;
	pw = getpwuid(own->uid);
	if (pw && getgrouplist(pw->pw_name, own->gid, rq->groups, &n) >= 0)
		rq->ngroups = n;
}

/* ---- one record each */

int read_source(struct restore *r, struct json_object *v, const char *path, struct src_spec *s)
{
	static const char *const keys[] = { "name", "path", "anon", "uid", "gid", NULL };
	const char *anon;
	int e;

	*s = (struct src_spec){ 0 };
	if ((e = want_object(r, v, path)) || (e = only_keys(r, v, path, keys)) ||
	    (e = get_name(r, v, path, &s->name)) || (e = get_owner(r, v, path, &s->own)))
		return e;
	e = get_str(r, v, path, "path", false, false, &s->path);
	if (e < 0)
		return e;
	e = get_str(r, v, path, "anon", false, false, &anon);
	if (e < 0)
		return e;
	if (anon && s->path)
		return bad(r, path, "both \"path\" and \"anon\"");
	/*
	 * A save writes only absolute paths: anything else is a damaged file, refused here rather
	 * than taken for a path that no longer opens (which only leaves the source unset).
	 */
	if (s->path && s->path[0] != '/')
		return bad(r, path, "\"path\": expected an absolute path, got \"%.100s\"", s->path);
	if (anon && (parse_size(anon, &s->size) < 0 || !s->size))
		return bad(r, path, "\"anon\": \"%.64s\" is not a size", anon);
	return 0;
}

int read_window(struct restore *r, struct json_object *v, const char *path, struct win_spec *w)
{
	static const char *const keys[] = { "name",   "start", "size", "page_size",
					    "levels", "state", NULL };
	const char *state;
	int e;

	*w = (struct win_spec){ .start = CORE_AUTO, .page_size = CORE_AUTO, .levels = CORE_AUTO };
	if ((e = want_object(r, v, path)) || (e = only_keys(r, v, path, keys)) ||
	    (e = get_name(r, v, path, &w->name)))
		return e;
	if ((e = get_num(r, v, path, "start", false, true, &w->start)) < 0 ||
	    (e = get_num(r, v, path, "page_size", true, true, &w->page_size)) < 0 ||
	    (e = get_num(r, v, path, "levels", false, true, &w->levels)) < 0)
		return e;
	if (json_object_object_get_ex(v, "size", NULL)) {
		struct json_object *sz = json_object_object_get(v, "size");

		if (sz && (e = get_num(r, v, path, "size", true, false, &w->size)) < 0)
			return e;
		if (sz && !w->size)
			return bad(r, path, "\"size\": 0; write null for an unset size");
	}
	e = get_str(r, v, path, "state", false, false, &state);
	if (e < 0)
		return e;
	if (!state)
		return 0;
	if (!strncmp(state, "active ", 7)) {
		if (parse_range(state + 7, &w->a_start, &w->a_last) < 0)
			return bad(r, path, "\"state\": \"%.64s\" is not \"active START-LAST\"",
				   state);
		w->placed = true;
		if (!w->size || w->a_last - w->a_start + 1 != w->size ||
		    (w->start != CORE_AUTO && w->start != w->a_start))
			return bad(r, path, "\"state\": \"%.64s\" does not match start and size",
				   state);
	} else if (!strcmp(state, "pending")) {
		if (w->size)
			return bad(r, path, "\"state\": pending, but the size is set");
	} else {
		return bad(r, path,
			   "\"state\": \"%.64s\" is not \"pending\" or \"active START-LAST\"",
			   state);
	}
	return 0;
}

/* "START-LAST PROT SOURCE+OFFSET", a line of the `mappings` file. */
int read_mapping(struct restore *r, struct json_object *v, const char *path, struct map_spec *m)
{
	char line[MAP_LINE_MAX + 1], *w[4], *plus;
	uint64_t last;
	int nw;

	if (!json_object_is_type(v, json_type_string))
		return bad(r, path, "expected a string \"START-LAST PROT SOURCE+OFFSET\", got %s",
			   type_name(v));
	if ((size_t)json_object_get_string_len(v) >= sizeof(line) ||
	    memchr(json_object_get_string(v), '\n', json_object_get_string_len(v)))
		goto malformed;
	snprintf(line, sizeof(line), "%s", json_object_get_string(v));
	nw = split_words(line, w, 3);
	if (nw != 3 || parse_range(w[0], &m->iova, &last) < 0)
		goto malformed;
	m->length = last - m->iova + 1;
	if (!m->length)
		return bad(r, path, "the range is 2^64 bytes long");
	if (!strcmp(w[1], "r"))
		m->prot = CORE_PROT_READ;
	else if (!strcmp(w[1], "w"))
		m->prot = CORE_PROT_WRITE;
	else if (!strcmp(w[1], "rw"))
		m->prot = CORE_PROT_READ | CORE_PROT_WRITE;
	else
		return bad(r, path, "access \"%.8s\" is not r, w or rw", w[1]);
	plus = strrchr(w[2], '+');
	if (!plus || parse_u64(plus + 1, &m->offset) < 0)
		goto malformed;
	*plus = '\0';
	if (!valid_name(w[2]))
		return bad(r, path, "invalid source name \"%.64s\"", w[2]);
	snprintf(m->source, sizeof(m->source), "%s", w[2]);
	return 0;
malformed:
	return bad(r, path, "\"%.100s\" is not \"START-LAST PROT SOURCE+OFFSET\"",
		   json_object_get_string(v));
}

static int by_start(const void *a, const void *b)
{
	const struct platform_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

int read_device(struct restore *r, struct json_object *v, const char *path, struct dev_spec *d)
{
	static const char *const keys[] = {
		"name", "path", "reserved", "ioas", "uid", "gid", NULL
	};
	struct json_object *resv;
	char p[256];
	size_t n;
	int e;

	d->name = NULL;
	d->path = NULL;
	d->ioas = NULL;
	d->n_resv = 0;
	d->has_resv = false;
	if ((e = want_object(r, v, path)) || (e = only_keys(r, v, path, keys)) ||
	    (e = get_name(r, v, path, &d->name)) || (e = get_owner(r, v, path, &d->own)))
		return e;
	e = get_str(r, v, path, "ioas", false, true, &d->ioas);
	if (e < 0)
		return e;
	e = get_str(r, v, path, "path", false, false, &d->path);
	if (e < 0)
		return e;
	if (d->path && (d->path[0] != '/' || strlen(d->path) >= CORE_PATH_MAX))
		return bad(r, path, "\"path\": expected an absolute path, got \"%.100s\"", d->path);
	if (d->ioas && !valid_name(d->ioas))
		return bad(r, path, "\"ioas\": invalid name \"%.64s\"", d->ioas);
	if ((e = get_array(r, v, path, "reserved", &resv, &n)) < 0)
		return e;
	d->has_resv = resv != NULL;
	if (n > CORE_MAX_RESERVED)
		return bad(r, path, "\"reserved\": more than %d regions", CORE_MAX_RESERVED);
	for (size_t i = 0; i < n; i++) {
		struct json_object *l = json_object_array_get_idx(resv, i);
		struct platform_range *pr = &d->resv[i];
		char line[200], *w[3];

		snprintf(p, sizeof(p), "%.200s.reserved[%zu]", path, i);
		if (!json_object_is_type(l, json_type_string))
			return bad(r, p, "expected a string \"START-LAST KIND\", got %s",
				   type_name(l));
		snprintf(line, sizeof(line), "%s", json_object_get_string(l));
		if (strchr(line, '\n') || split_words(line, w, 2) != 2 ||
		    parse_range(w[0], &pr->start, &pr->last) < 0 ||
		    strlen(w[1]) >= PLATFORM_KIND_LEN)
			return bad(r, p, "\"%.100s\" is not \"START-LAST KIND\"",
				   json_object_get_string(l));
		snprintf(pr->kind, PLATFORM_KIND_LEN, "%s", w[1]);
	}
	d->n_resv = n;
	qsort(d->resv, n, sizeof(d->resv[0]), by_start);
	return 0;
}
