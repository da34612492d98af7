/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The whole configuration as JSON (`save` at the mount root) and back (`-o restore=FILE`),
 * the way targetcli saves and restores configfs: what is saved is what a shell could have
 * written into the tree, and a restore writes it again through the same public core calls a
 * shell's writes reach, so every rule that guards a write also guards a restore, and a
 * restore that cannot rebuild an object stops with the core's own reason for it. But for one
 * kind of object: a file source whose path no longer opens for its owner is its owner's loss,
 * not everyone's (under allow_other), so it is rebuilt unset, the mappings that use it are
 * skipped, and each skip is a line in `errors` and on standard error.
 *
 * The text is stable: objects sorted by name, keys in a fixed order, mappings by IOVA, so two
 * saves of the same configuration are byte-identical and a save diffs cleanly. Records are
 * serialized by json-c one per line; the lists of an IOAS's mappings and of a device's
 * reserved regions hold the very lines of its `mappings` and `reserved` files, as JSON
 * strings. That keeps a million mappings at about 66 bytes and one json-c string each (as
 * objects they cost json-c about 1.2 KiB each to parse back), and `jq -r` of the list
 * prints the file.
 *
 * Two things a shell cannot write are kept too: the platform's profile (a restore on another
 * geometry is refused rather than half-applied), and where an `auto` window was placed (an
 * auto window is rebuilt at its old place and reads "auto" again, since first-fit over a
 * different history of windows could put it elsewhere and strand its mappings).
 *
 * Locking (core.h): a save holds c->topo for reading while it writes everything but the
 * mapping lines, and each IOAS's mutex while its windows and options are written and its
 * mappings copied; the lines are written after (struct snap); it calls no public core function,
 * which would take c->topo again (a second read lock on a writer-preferring rwlock deadlocks behind
 * a waiting writer). A restore runs before the mount and uses the public calls, but for one
 * model-only step under the IOAS lock: telling a re-placed window it is `auto` again.
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

#define JSON_FLAGS   (JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)
#define SAVE_VERSION 1

static const char *const prot_names[] = { "-", "r", "w", "rw" };

/* ---------------------------------------------------------------- save */

/* Append a json-c value on one line and drop it (NULL: allocation failed upstream). */
static void put_json(struct sbuf *sb, struct json_object *o)
{
	const char *s = o ? json_object_to_json_string_ext(o, JSON_FLAGS) : NULL;

	if (!s)
		sb->err = -ENOMEM;
	else
		sbuf_add(sb, s, strlen(s));
	json_object_put(o);
}

__attribute__((format(printf, 1, 2))) static struct json_object *jfmt(const char *fmt, ...)
{
	char buf[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return json_object_new_string(buf);
}

static struct json_object *jauto(uint64_t v, bool hex)
{
	if (v == CORE_AUTO)
		return json_object_new_string("auto");
	return hex ? jfmt("0x%" PRIx64, v) : jfmt("%" PRIu64, v);
}

/* json_object_object_add, keeping a NULL value from a failed allocation visible as ENOMEM. */
static void jadd(struct json_object *o, const char *key, struct json_object *v, int *err)
{
	if (!o || !v || json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		*err = -ENOMEM;
	}
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(const struct obj *const *)a)->name, (*(const struct obj *const *)b)->name);
}

/* The objects of a list, sorted by name: a malloc'd array of n pointers. */
static struct obj **sorted(struct list *head, size_t n)
{
	struct obj **v = calloc(n ? n : 1, sizeof(*v));
	struct list *p;
	size_t i = 0;

	if (!v)
		return NULL;
	list_for_each (p, head)
		v[i++] = list_entry(p, struct obj, link);
	qsort(v, i, sizeof(*v), by_name);
	return v;
}

/* "[" items "]" with one item per line at indent, or "[]". */
static void open_list(struct sbuf *sb, const char *key, size_t n, int indent)
{
	sbuf_printf(sb, "%*s\"%s\": [%s", indent, "", key, n ? "\n" : "");
}

static void list_sep(struct sbuf *sb, size_t i, int indent)
{
	sbuf_printf(sb, "%s%*s", i ? ",\n" : "", indent + 2, "");
}

static void close_list(struct sbuf *sb, size_t n, int indent, bool last)
{
	if (n)
		sbuf_printf(sb, "\n%*s", indent, "");
	sbuf_printf(sb, "]%s\n", last ? "" : ",");
}

static void save_source(struct sbuf *sb, struct source *s)
{
	struct json_object *o = json_object_new_object();
	int err = 0;

	jadd(o, "name", json_object_new_string(s->o.name), &err);
	if (s->set && s->anon)
		jadd(o, "anon", jfmt("0x%" PRIx64, s->size), &err);
	else if (s->set)
		jadd(o, "path", json_object_new_string(s->path), &err);
	jadd(o, "uid", json_object_new_int64(s->o.uid), &err);
	jadd(o, "gid", json_object_new_int64(s->o.gid), &err);
	if (err) {
		json_object_put(o);
		o = NULL;
	}
	put_json(sb, o);
}

static void save_window(struct sbuf *sb, struct window *w)
{
	struct json_object *o = json_object_new_object();
	int err = 0;

	jadd(o, "name", json_object_new_string(w->o.name), &err);
	jadd(o, "start", jauto(w->start, true), &err);
	if (w->size)
		jadd(o, "size", jfmt("0x%" PRIx64, w->size), &err);
	else if (o && json_object_object_add(o, "size", NULL) < 0)
		err = -ENOMEM;
	jadd(o, "page_size", jauto(w->page_size, true), &err);
	jadd(o, "levels", jauto(w->levels, false), &err);
	if (w->active)
		jadd(o, "state", jfmt("active " ADDR_FMT "-" ADDR_FMT, w->a_start, w->a_last),
		     &err);
	else
		jadd(o, "state", json_object_new_string("pending"), &err);
	if (err) {
		json_object_put(o);
		o = NULL;
	}
	put_json(sb, o);
}

/*
 * A save in two steps. Under the locks, the text of everything but the mapping lines goes to
 * the output, and each list of mappings is copied as records to a segment that remembers
 * where in the text its lines belong, with the source names copied to a table (a source may
 * be gone by the time the lines are written). Then, unlocked, snap_render writes the text
 * with the lines put in.
 */
struct snap_map {
	uint64_t start, last, offset;
	uint32_t name; /* index into snap.names */
	uint32_t prot;
};

struct snap_seg {
	size_t at; /* where in the locked text the lines go */
	struct snap_map *v;
	size_t n;
	bool owns_v; /* the segments of an IOAS share one allocation; the first frees it */
};

struct snap {
	struct snap_seg *segs;
	size_t n_segs;
	char (*names)[CORE_NAME_MAX + 1];
	size_t n_names, cap_names;
	/* source -> index in names: open addressing on the pointer */
	const struct source **keys;
	uint32_t *vals;
	size_t cap_keys; /* a power of two, at least twice n_names */
	int err;
};

static int snap_name(struct snap *sn, const struct source *src, uint32_t *ret)
{
	size_t h, mask = sn->cap_keys - 1;

	if (2 * (sn->n_names + 1) > sn->cap_keys) {
		size_t cap = sn->cap_keys ? 2 * sn->cap_keys : 64;
		const struct source **keys = calloc(cap, sizeof(*keys));
		uint32_t *vals = calloc(cap, sizeof(*vals));

		if (!keys || !vals) {
			free(keys);
			free(vals);
			return -ENOMEM;
		}
		for (size_t i = 0; i < sn->cap_keys; i++) {
			if (!sn->keys[i])
				continue;
			h = ((uintptr_t)sn->keys[i] >> 4) * 0x9e3779b97f4a7c15ull & (cap - 1);
			while (keys[h])
				h = (h + 1) & (cap - 1);
			keys[h] = sn->keys[i];
			vals[h] = sn->vals[i];
		}
		free(sn->keys);
		free(sn->vals);
		sn->keys = keys;
		sn->vals = vals;
		sn->cap_keys = cap;
		mask = cap - 1;
	}
	h = ((uintptr_t)src >> 4) * 0x9e3779b97f4a7c15ull & mask;
	while (sn->keys[h] && sn->keys[h] != src)
		h = (h + 1) & mask;
	if (!sn->keys[h]) {
		if (sn->n_names == sn->cap_names) {
			size_t cap = sn->cap_names ? 2 * sn->cap_names : 16;
			void *p = realloc(sn->names, cap * sizeof(*sn->names));

			if (!p)
				return -ENOMEM;
			sn->names = p;
			sn->cap_names = cap;
		}
		snprintf(sn->names[sn->n_names], sizeof(sn->names[0]), "%s", src->o.name);
		sn->keys[h] = src;
		sn->vals[h] = (uint32_t)sn->n_names++;
	}
	*ret = sn->vals[h];
	return 0;
}

/*
 * Copy io's mappings (io->lock held), in one walk, to one array: those of sources at the
 * front, those of maps by fd (fd views) at the back, each in IOVA order. NULL when it has none
 * or on error (sn->err).
 */
static struct snap_map *snap_copy(struct snap *sn, struct ioas *io, size_t *ret_n_src,
				  size_t *ret_n_fd)
{
	const struct source *last_src = NULL;
	size_t count = io->maps.count, p = 0, q = count;
	struct itree_node *n;
	struct snap_map *v;
	uint32_t name = 0;

	*ret_n_src = *ret_n_fd = 0;
	if (sn->err || !count)
		return NULL;
	v = malloc(count * sizeof(*v));
	if (!v) {
		sn->err = -ENOMEM;
		return NULL;
	}
	for (n = itree_first(&io->maps); n && p < q; n = itree_next(n)) {
		struct mapping *m = itree_entry(n, struct mapping, node);

		if (m->src != last_src && (sn->err = snap_name(sn, m->src, &name)) < 0) {
			free(v);
			return NULL;
		}
		last_src = m->src;
		v[m->src->fd_view ? --q : p++] =
		    (struct snap_map){ n->start, n->last, m->offset, name, m->prot & 3 };
	}
	/* the fd views went in from the back: put them in IOVA order */
	for (size_t i = q, j = count - 1; i < j; i++, j--) {
		struct snap_map t = v[i];

		v[i] = v[j];
		v[j] = t;
	}
	*ret_n_src = p;
	*ret_n_fd = count - q;
	return v;
}

/* The lines of n records of v go at the text's current end. */
static void snap_seg(struct snap *sn, const struct sbuf *sb, struct snap_map *v, size_t n,
		     bool owns_v)
{
	struct snap_seg *segs;

	if (sn->err || !n) {
		if (owns_v)
			free(v);
		return;
	}
	segs = realloc(sn->segs, (sn->n_segs + 1) * sizeof(*segs));
	if (!segs) {
		sn->err = -ENOMEM;
		if (owns_v)
			free(v);
		return;
	}
	sn->segs = segs;
	segs[sn->n_segs++] = (struct snap_seg){ sb->len, v, n, owns_v };
}

/* The locked text text[0, len) with every segment's lines put in, to out. */
static void snap_render(const struct snap *sn, const char *text, size_t len, struct sbuf *out)
{
	size_t from = 0;

	for (size_t k = 0; k < sn->n_segs && !out->err; k++) {
		const struct snap_seg *seg = &sn->segs[k];

		sbuf_add(out, text + from, seg->at - from);
		from = seg->at;
		/*
		 * The hot loop: one line per mapping, formatted directly. Nothing in it needs
		 * JSON escaping (hex numbers, r/w, and a source name, which valid_name() limits
		 * to [A-Za-z0-9_.:-]).
		 */
		for (size_t i = 0; i < seg->n && !out->err; i++) {
			const struct snap_map *m = &seg->v[i];

			sbuf_printf(out,
				    "%s        \"" ADDR_FMT "-" ADDR_FMT " %s %s+0x%" PRIx64 "\"",
				    i ? ",\n" : "", m->start, m->last, prot_names[m->prot],
				    sn->names[m->name], m->offset);
		}
	}
	sbuf_add(out, text + from, len - from);
}

static void snap_free(struct snap *sn)
{
	for (size_t k = 0; k < sn->n_segs; k++)
		if (sn->segs[k].owns_v)
			free(sn->segs[k].v);
	free(sn->segs);
	free(sn->names);
	free(sn->keys);
	free(sn->vals);
}

/* One IOAS, with io->lock held. */
static void save_ioas(struct core *c, struct sbuf *sb, struct snap *sn, struct ioas *io)
{
	struct json_object *opt = json_object_new_object();
	size_t i, n_src, n_fd;
	struct snap_map *v;
	struct obj **wins;
	uint64_t huge = 0;
	int err = 0, r;

	sbuf_printf(sb, "{\n      \"name\": ");
	put_json(sb, json_object_new_string(io->o.name));
	sbuf_printf(sb, ",\n      \"uid\": %u,\n      \"gid\": %u", (unsigned)io->o.uid,
		    (unsigned)io->o.gid);
	r = c->be->ops->option(c->be, BACKEND_OPTION_HUGE_PAGES, BACKEND_OPTION_OP_GET, io->id,
			       &huge);
	if (r < 0)
		sb->err = r;
	jadd(opt, "huge_pages", json_object_new_int64((int64_t)huge), &err);
	if (err) {
		json_object_put(opt);
		opt = NULL;
	}
	sbuf_printf(sb, ",\n      \"options\": ");
	put_json(sb, opt);
	sbuf_printf(sb, ",\n");

	wins = sorted(&io->windows, io->n_windows);
	if (!wins) {
		sb->err = -ENOMEM;
		return;
	}
	open_list(sb, "windows", io->n_windows, 6);
	for (i = 0; i < io->n_windows; i++) {
		list_sep(sb, i, 6);
		save_window(sb, list_entry(wins[i], struct window, o));
	}
	close_list(sb, io->n_windows, 6, false);
	free(wins);

	/*
	 * The mappings are copied, not rendered: their lines are written once the locks are
	 * let go (struct snap), so that a save of a million mappings holds the locks for the
	 * copy (a few ms) and not for the formatting (seconds), which others would wait behind.
	 */
	v = snap_copy(sn, io, &n_src, &n_fd);
	open_list(sb, "mappings", n_src, 6);
	snap_seg(sn, sb, v, n_src, n_src > 0);
	close_list(sb, n_src, 6, !n_fd);
	if (n_fd) {
		open_list(sb, "fd_mappings", n_fd, 6);
		/* the first segment frees v, or v is freed here when it made none */
		snap_seg(sn, sb, v + n_src, n_fd, !n_src);
		close_list(sb, n_fd, 6, true);
	}
	sbuf_printf(sb, "    }");
}

static void save_device(struct sbuf *sb, struct device *d)
{
	struct json_object *o = json_object_new_object();
	struct json_object *resv = json_object_new_array();
	int err = 0;

	jadd(o, "name", json_object_new_string(d->o.name), &err);
	/* a kernel-backend device bound through D/path: where to find it again */
	if (d->bound && strcmp(d->path, "sim"))
		jadd(o, "path", json_object_new_string(d->path), &err);
	for (unsigned i = 0; i < d->n_resv && resv; i++) {
		struct json_object *l = jfmt(ADDR_FMT "-" ADDR_FMT " %s", d->resv[i].start,
					     d->resv[i].last, d->resv[i].kind);

		if (!l || json_object_array_add(resv, l) < 0) {
			json_object_put(l);
			err = -ENOMEM;
		}
	}
	jadd(o, "reserved", resv, &err);
	if (d->ioas)
		jadd(o, "ioas", json_object_new_string(d->ioas->o.name), &err);
	else if (o && json_object_object_add(o, "ioas", NULL) < 0)
		err = -ENOMEM;
	jadd(o, "uid", json_object_new_int64(d->o.uid), &err);
	jadd(o, "gid", json_object_new_int64(d->o.gid), &err);
	if (err) {
		json_object_put(o);
		o = NULL;
	}
	put_json(sb, o);
}

int core_save(struct core *c, struct sbuf *out)
{
	struct obj **v[CORE_OBJ_KINDS] = { NULL };
	struct sbuf text, *sb = &text;
	struct snap sn = { 0 };
	size_t need, i;
	char *profile;
	int r = 0;

	need = platform_format(&c->plat, NULL, 0);
	profile = malloc(need + 1);
	if (!profile)
		return -ENOMEM;
	sbuf_init(&text);
	platform_format(&c->plat, profile, need + 1);

	pthread_rwlock_rdlock(&c->topo);
	for (int k = 0; k < CORE_OBJ_KINDS; k++) {
		v[k] = sorted(&c->objs[k], c->n_objs[k]);
		if (!v[k]) {
			r = -ENOMEM;
			goto out;
		}
	}
	sbuf_printf(sb, "{\n  \"version\": %d,\n  \"platform\": ", SAVE_VERSION);
	put_json(sb, json_object_new_string(profile));
	sbuf_printf(sb, ",\n");

	open_list(sb, "sources", c->n_objs[CORE_SOURCE], 2);
	for (i = 0; i < c->n_objs[CORE_SOURCE]; i++) {
		list_sep(sb, i, 2);
		save_source(sb, list_entry(v[CORE_SOURCE][i], struct source, o));
	}
	close_list(sb, c->n_objs[CORE_SOURCE], 2, false);

	open_list(sb, "ioas", c->n_objs[CORE_IOAS], 2);
	for (i = 0; i < c->n_objs[CORE_IOAS]; i++) {
		struct ioas *io = list_entry(v[CORE_IOAS][i], struct ioas, o);

		list_sep(sb, i, 2);
		pthread_mutex_lock(&io->lock);
		save_ioas(c, sb, &sn, io);
		pthread_mutex_unlock(&io->lock);
	}
	close_list(sb, c->n_objs[CORE_IOAS], 2, false);

	open_list(sb, "devices", c->n_objs[CORE_DEVICE], 2);
	for (i = 0; i < c->n_objs[CORE_DEVICE]; i++) {
		list_sep(sb, i, 2);
		save_device(sb, list_entry(v[CORE_DEVICE][i], struct device, o));
	}
	close_list(sb, c->n_objs[CORE_DEVICE], 2, true);
	sbuf_printf(sb, "}\n");
	r = sb->err ? sb->err : sn.err;
out:
	pthread_rwlock_unlock(&c->topo);
	if (r == 0) {
		snap_render(&sn, text.buf, text.len, out);
		r = out->err;
	}
	snap_free(&sn);
	sbuf_free(&text);
	for (int k = 0; k < CORE_OBJ_KINDS; k++)
		free(v[k]);
	free(profile);
	return r;
}
