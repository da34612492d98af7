/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `-o restore=FILE`: the saved JSON (save.c) read back and written again through the same
 * public core calls a shell's writes reach (the design is in save.c's file comment).
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

/* ---------------------------------------------------------------- restore */
/* Before a core call: forget the last reason, to tell whether the call gives one. */
static void mark(struct restore *r)
{
	r->reason[0] = '\0';
}

/*
 * A core call failed: "WHAT: EERRNO: REASON", the reason being what the core wrote to
 * `errors` for it (r->rq.reason), or strerror when it wrote nothing.
 */
__attribute__((format(printf, 3, 4))) static int failed(struct restore *r, int err, const char *fmt,
							...)
{
	char what[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(r->err, r->errlen, "%s: %s: %s", what, errno_name(-err),
		 r->reason[0] ? r->reason : strerror(-err));
	return err;
}

/* ---- building */

/* Remember a file source left unset, for its mappings to be skipped and reported. */
static int skip_source(struct restore *r, const struct src_spec *s, int err)
{
	struct skipped *v = realloc(r->skip, (r->n_skip + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	r->skip = v;
	v[r->n_skip++] = (struct skipped){ .name = s->name, .path = s->path, .err = err };
	return 0;
}

static int skipped_by_name(const void *a, const void *b)
{
	return strcmp(((const struct skipped *)a)->name, ((const struct skipped *)b)->name);
}

/* The skipped source of that name, or NULL (a bsearch: there can be a million mappings). */
static struct skipped *skipped(struct restore *r, const char *name)
{
	struct skipped key = { .name = name };

	if (!r->n_skip)
		return NULL;
	return bsearch(&key, r->skip, r->n_skip, sizeof(key), skipped_by_name);
}

/*
 * One line in `errors` and on standard error for each skipped source that lost mappings in
 * ioas (the IOAS just built), or with ioas NULL for each that lost none. Standard error too:
 * the next save no longer has what was skipped, and the log keeps the record when the ring
 * has moved on.
 */
static void report_skipped(struct restore *r, const char *ioas)
{
	struct core_req rq = r->rq;

	rq.quiet = false;
	for (size_t i = 0; i < r->n_skip; i++) {
		struct skipped *k = &r->skip[i];

		if (ioas && k->n_ioas)
			core_error(r->c, &rq,
				   "source %s (%.200s): %s; left unset, %" PRIu64
				   " mapping(s) of ioas %s skipped",
				   k->name, k->path, errno_name(-k->err), k->n_ioas, ioas);
		else if (!ioas && !k->n_all)
			core_error(r->c, &rq,
				   "source %s (%.200s): %s; left unset, no mapping skipped",
				   k->name, k->path, errno_name(-k->err));
		k->n_all += k->n_ioas;
		k->n_ioas = 0;
	}
}

static int build_source(struct restore *r, const struct src_spec *s)
{
	struct core *c = r->c;
	struct core_req rq;
	uint64_t serial;
	int e;

	mark(r);
	e = core_obj_create(c, &r->rq, CORE_SOURCE, s->name);
	if (!e)
		e = build_owner(r, CORE_SOURCE, s->name, &s->own);
	if (!e)
		e = core_obj_lookup(c, CORE_SOURCE, s->name, &serial);
	if (e < 0)
		return failed(r, e, "source %s", s->name);
	if (!s->path && !s->size)
		return 0;
	owner_req(r, &s->own, &rq);
	/*
	 * A path is the owner's to keep opening: whatever stops it now (a process gone, a file
	 * removed or no longer readable to the owner) stops that owner's source, not the restore.
	 * The source stays, unset, with its owner; and as the start goes on, the core's reason
	 * goes to the log as well as to `errors`.
	 */
	rq.quiet = !s->path;
	e = core_source_set(c, &rq, s->name, serial, !s->path, s->size, s->path);
	if (e < 0 && s->path)
		return skip_source(r, s, e);
	if (e < 0)
		return failed(r, e, "source %s", s->name);
	return 0;
}

/*
 * An `auto` window that was placed is rebuilt at its old place (the start written as that
 * address), then reads "auto" again: only the model's record of what was asked changes, under
 * the IOAS lock, and the placement and the backend's allowed ranges stay as they are.
 */
static int window_make_auto(struct core *c, struct core_ioas_ref ref, const char *name)
{
	struct ioas *io = core_ioas_get(c, ref);
	struct list *p;
	int e = -ENOENT;

	if (!io)
		return -ENOENT;
	list_for_each (p, &io->windows) {
		struct window *w = list_entry(p, struct window, o.link);

		if (!strcmp(w->o.name, name)) {
			w->start = CORE_AUTO;
			e = 0;
		}
	}
	core_ioas_put(c, io);
	return e;
}

static int build_window(struct restore *r, const char *ioas, const struct win_spec *w)
{
	struct core_ioas_ref ref = { ioas, 0 };
	struct core *c = r->c;
	uint64_t serial, start = w->start;
	int e;

	mark(r);
	e = core_window_create(c, &r->rq, ref, w->name);
	if (!e)
		e = core_window_lookup(c, ref, w->name, &serial);
	if (!e && w->page_size != CORE_AUTO)
		e = core_window_store(c, &r->rq, ref, w->name, serial, CORE_WIN_PAGE_SIZE,
				      w->page_size);
	if (!e && w->levels != CORE_AUTO)
		e = core_window_store(c, &r->rq, ref, w->name, serial, CORE_WIN_LEVELS, w->levels);
	if (start == CORE_AUTO && w->placed)
		start = w->a_start;
	if (!e && start != CORE_AUTO)
		e = core_window_store(c, &r->rq, ref, w->name, serial, CORE_WIN_START, start);
	if (!e && w->size)
		e = core_window_store(c, &r->rq, ref, w->name, serial, CORE_WIN_SIZE, w->size);
	if (!e && w->start == CORE_AUTO && w->placed)
		e = window_make_auto(c, ref, w->name);
	if (e < 0)
		return failed(r, e, "ioas %s window %s", ioas, w->name);
	return 0;
}

static int build_device(struct restore *r, const struct dev_spec *d)
{
	struct core *c = r->c;
	struct sbuf have, want;
	uint64_t serial;
	int e;

	mark(r);
	e = core_obj_create(c, &r->rq, CORE_DEVICE, d->name);
	if (!e)
		e = build_owner(r, CORE_DEVICE, d->name, &d->own);
	if (!e)
		e = core_obj_lookup(c, CORE_DEVICE, d->name, &serial);
	if (!e && d->path)
		e = core_device_store_path(c, &r->rq, d->name, serial, d->path);
	if (e < 0)
		return failed(r, e, "device %s", d->name);
	if (!d->has_resv)
		return 0;
	/* Only regions that differ from what the device came with are written back. */
	sbuf_init(&have);
	sbuf_init(&want);
	e = core_device_show_reserved(c, d->name, serial, &have);
	for (unsigned i = 0; i < d->n_resv; i++)
		sbuf_printf(&want, ADDR_FMT "-" ADDR_FMT " %s\n", d->resv[i].start, d->resv[i].last,
			    d->resv[i].kind);
	if (!e)
		e = have.err ? have.err : want.err;
	if (!e && (have.len != want.len || (have.len && strcmp(have.buf, want.buf))))
		e = core_device_store_reserved(c, &r->rq, d->name, serial, d->resv, d->n_resv);
	sbuf_free(&have);
	sbuf_free(&want);
	if (e < 0)
		return failed(r, e, "device %s reserved", d->name);
	return 0;
}

static int build_attach(struct restore *r, const struct dev_spec *d)
{
	int e;

	if (!d->ioas)
		return 0;
	mark(r);
	e = core_device_attach(r->c, &r->rq, d->name, 0, d->ioas);
	if (e < 0)
		return failed(r, e, "device %s ioas %s", d->name, d->ioas);
	return 0;
}

static int build_mapping(struct restore *r, const char *ioas, const struct map_spec *m,
			 const char *text)
{
	struct core_map_cmd cmd = {
		.fixed = true,
		.iova = m->iova,
		.length = m->length,
		.source = m->source,
		.offset = m->offset,
		.prot = m->prot,
	};
	struct core_ioas_ref ref = { ioas, 0 };
	uint64_t iova;
	int e;

	mark(r);
	e = core_map(r->c, &r->rq, ref, &cmd, &iova);
	if (e < 0)
		return failed(r, e, "ioas %s mapping \"%s\"", ioas, text);
	return 0;
}

/* The platform the file was saved on must be the one in force (names aside). */
static int check_platform(struct restore *r, const char *text)
{
	struct platform saved;
	char perr[200], *a = NULL, *b = NULL;
	size_t la, lb;
	int e = 0;

	if (platform_parse(text, strlen(text), r->c->plat.name, &saved, perr, sizeof(perr)) < 0)
		return bad(r, ".platform", "not a platform profile: %s", perr);
	if (!r->apply)
		return 0;
	la = platform_format(&saved, NULL, 0);
	lb = platform_format(&r->c->plat, NULL, 0);
	a = malloc(la + 1);
	b = malloc(lb + 1);
	if (!a || !b) {
		e = -ENOMEM;
		goto out;
	}
	platform_format(&saved, a, la + 1);
	platform_format(&r->c->plat, b, lb + 1);
	if (strcmp(a, b) && r->c->be->ops->platform) {
		snprintf(r->err, r->errlen,
			 "%s: .platform: the devices bound now report another geometry than when "
			 "the file was saved:\n--- saved\n%s--- now\n%s",
			 r->file, a, b);
		e = -EINVAL;
	} else if (strcmp(a, b)) {
		/* the profile's first line names it: "# ioasfs platform profile: NAME" */
		const char *name = strstr(text, "profile: ");
		int nlen = name ? (int)strcspn(name + 9, "\n") : 0;

		snprintf(r->err, r->errlen,
			 "%s: .platform: the file was saved on platform %.*s, not %s, which is in "
			 "force; start with -o platform=%.*s (or with its profile: "
			 "jq -r .platform %s >PROFILE)",
			 r->file, name ? nlen : 9, name ? name + 9 : "(unnamed)", r->c->plat.name,
			 name ? nlen : 7, name ? name + 9 : "PROFILE", r->file);
		e = -EINVAL;
	}
out:
	free(a);
	free(b);
	return e;
}

/*
 * Maps by file descriptor are saved for the record but not rebuilt: the descriptor was the
 * client's and cannot be obtained again. Each is checked to be a string and, when building,
 * named on standard error.
 */
static int fd_mappings(struct restore *r, struct json_object *io, const char *path,
		       const char *name)
{
	struct json_object *fds;
	size_t n;
	int e = get_array(r, io, path, "fd_mappings", &fds, &n);

	for (size_t j = 0; !e && j < n; j++) {
		struct json_object *l = json_object_array_get_idx(fds, j);
		char p[256];

		snprintf(p, sizeof(p), "%.200s.fd_mappings[%zu]", path, j);
		if (!json_object_is_type(l, json_type_string))
			e = bad(r, p, "expected a string, got %s", type_name(l));
		else if (r->apply)
			fprintf(stderr,
				"ioasfs: restore: ioas %s: not rebuilt: map by fd \"%.200s\" "
				"(a client's file descriptor cannot be obtained again)\n",
				name, json_object_get_string(l));
	}
	return e;
}

/*
 * Walk the document in dependency order. With r->apply false every record is read and
 * checked and nothing is built, so a malformed file is refused before the first object
 * exists; with it true the same walk builds.
 */
static int walk(struct restore *r, struct json_object *root)
{
	static const char *const root_keys[] = { "version", "platform", "sources",
						 "ioas",    "devices",	NULL };
	static const char *const ioas_keys[] = { "name",    "uid",	"gid",	       "options",
						 "windows", "mappings", "fd_mappings", NULL };
	static const char *const opt_keys[] = { "huge_pages", NULL };
	struct json_object *srcs, *ioases, *devs, *v;
	size_t n_src, n_ioas, n_dev;
	struct dev_spec *dev = NULL;
	const char *plat_text = NULL;
	char path[200];
	int e;

	if ((e = want_object(r, root, "(top level)")) ||
	    (e = only_keys(r, root, "(top level)", root_keys)))
		return e;
	if (!json_object_object_get_ex(root, "version", &v))
		return bad(r, "(top level)", "missing key \"version\"");
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) != SAVE_VERSION)
		return bad(r, ".version", "expected %d, got %s %s", SAVE_VERSION, type_name(v),
			   json_object_to_json_string_ext(v, JSON_FLAGS));
	if (json_object_object_get_ex(root, "platform", &v)) {
		if (!json_object_is_type(v, json_type_string))
			return bad(r, ".platform", "expected a string, got %s", type_name(v));
		/*
		 * A platform the backend derives from its devices (kernel) can only be compared
		 * once the devices are bound again, below.
		 */
		if (r->c->be->ops->platform && r->apply)
			plat_text = json_object_get_string(v);
		else if ((e = check_platform(r, json_object_get_string(v))) < 0)
			return e;
	}
	if ((e = get_array(r, root, "(top level)", "sources", &srcs, &n_src)) < 0 ||
	    (e = get_array(r, root, "(top level)", "ioas", &ioases, &n_ioas)) < 0 ||
	    (e = get_array(r, root, "(top level)", "devices", &devs, &n_dev)) < 0)
		return e;

	for (size_t i = 0; i < n_src; i++) {
		struct src_spec s;

		snprintf(path, sizeof(path), ".sources[%zu]", i);
		e = read_source(r, json_object_array_get_idx(srcs, i), path, &s);
		if (!e && r->apply)
			e = build_source(r, &s);
		if (e < 0)
			return e;
	}
	if (r->n_skip)
		qsort(r->skip, r->n_skip, sizeof(r->skip[0]), skipped_by_name);

	/* IOASes, their options and windows; their mappings come last */
	for (size_t i = 0; i < n_ioas; i++) {
		struct json_object *io = json_object_array_get_idx(ioases, i), *wins, *maps, *opt;
		struct core_ioas_ref ref;
		size_t n_win, n_map;
		struct owner own;
		const char *name;

		snprintf(path, sizeof(path), ".ioas[%zu]", i);
		if ((e = want_object(r, io, path)) || (e = only_keys(r, io, path, ioas_keys)) ||
		    (e = get_name(r, io, path, &name)) || (e = get_owner(r, io, path, &own)) ||
		    (e = get_array(r, io, path, "windows", &wins, &n_win)) ||
		    (e = get_array(r, io, path, "mappings", &maps, &n_map)))
			return e;
		ref = (struct core_ioas_ref){ name, 0 };
		if (r->apply) {
			mark(r);
			e = core_obj_create(r->c, &r->rq, CORE_IOAS, name);
			if (!e)
				e = build_owner(r, CORE_IOAS, name, &own);
			if (e < 0)
				return failed(r, e, "ioas %s", name);
		}
		if (json_object_object_get_ex(io, "options", &opt)) {
			char p[256];

			snprintf(p, sizeof(p), "%.200s.options", path);
			if ((e = want_object(r, opt, p)) || (e = only_keys(r, opt, p, opt_keys)))
				return e;
			if (json_object_object_get_ex(opt, "huge_pages", &v)) {
				if (!json_object_is_type(v, json_type_int))
					return bad(r, p, "\"huge_pages\": expected 0 or 1, got %s",
						   type_name(v));
				if (r->apply) {
					mark(r);
					e = core_ioas_store_huge_pages(r->c, &r->rq, ref,
								       json_object_get_int64(v));
					if (e < 0)
						return failed(r, e, "ioas %s huge_pages", name);
				}
			}
		}
		for (size_t j = 0; j < n_win; j++) {
			struct win_spec w;
			char p[256];

			snprintf(p, sizeof(p), "%.200s.windows[%zu]", path, j);
			e = read_window(r, json_object_array_get_idx(wins, j), p, &w);
			if (!e && r->apply)
				e = build_window(r, name, &w);
			if (e < 0)
				return e;
		}
		e = fd_mappings(r, io, path, name);
		if (e < 0)
			return e;
		if (!r->apply)
			for (size_t j = 0; j < n_map; j++) {
				struct map_spec m;
				char p[256];

				snprintf(p, sizeof(p), "%.200s.mappings[%zu]", path, j);
				e = read_mapping(r, json_object_array_get_idx(maps, j), p, &m);
				if (e < 0)
					return e;
			}
	}

	/* devices, their reserved regions, then every attachment */
	dev = malloc(sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n_dev; i++) {
			snprintf(path, sizeof(path), ".devices[%zu]", i);
			e = read_device(r, json_object_array_get_idx(devs, i), path, dev);
			if (!e && r->apply)
				e = pass ? build_attach(r, dev) : build_device(r, dev);
			if (e < 0)
				goto out;
		}
		if (pass == 0 && plat_text && (e = check_platform(r, plat_text)) < 0)
			goto out;
	}

	/* mappings at their fixed IOVAs */
	for (size_t i = 0; i < n_ioas && r->apply; i++) {
		struct json_object *io = json_object_array_get_idx(ioases, i), *maps;
		const char *name = json_object_get_string(json_object_object_get(io, "name"));
		size_t n_map;

		snprintf(path, sizeof(path), ".ioas[%zu]", i);
		get_array(r, io, path, "mappings", &maps, &n_map);
		for (size_t j = 0; j < n_map; j++) {
			struct json_object *l = json_object_array_get_idx(maps, j);
			struct skipped *k;
			struct map_spec m;
			char p[256];

			snprintf(p, sizeof(p), "%.200s.mappings[%zu]", path, j);
			e = read_mapping(r, l, p, &m);
			if (e < 0)
				goto out;
			k = skipped(r, m.source);
			if (k)
				k->n_ioas++;
			else if ((e = build_mapping(r, name, &m, json_object_get_string(l))) < 0)
				goto out;
		}
		report_skipped(r, name);
	}
	if (r->apply)
		report_skipped(r, NULL);
	e = 0;
out:
	free(dev);
	return e;
}

/* The whole file in memory, NUL-terminated. */
static int read_file(const char *file, char **ret, size_t *ret_len)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap), *nb;
	int fd, e = 0;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = -errno;
		goto err;
	}
	for (;;) {
		if (len + 1 >= cap) {
			nb = realloc(buf, cap * 2);
			if (!nb) {
				e = -ENOMEM;
				goto err;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = -errno;
			goto err;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
err:
	if (fd >= 0)
		close(fd);
	free(buf);
	return e;
}

/* "line L column C" of a byte offset. */
static void where(const char *buf, size_t off, char *out, size_t len)
{
	unsigned line = 1, col = 1;

	for (size_t i = 0; i < off; i++, col++)
		if (buf[i] == '\n') {
			line++;
			col = 0;
		}
	snprintf(out, len, "line %u column %u", line, col);
}

int core_restore(struct core *c, const char *file, char *err, size_t errlen)
{
	struct restore r = {
		.c = c,
		.file = file,
		.err = err,
		.errlen = errlen,
		.rq = { .pid = getpid(),
			.uid = geteuid(),
			.gid = getegid(),
			.path = "restore",
			.quiet = true },
	};
	struct json_tokener *tok = NULL;
	struct json_object *root = NULL;
	char *buf = NULL, pos[64];
	size_t len = 0, end;
	int e;

	r.rq.reason = r.reason;
	r.rq.reason_len = sizeof(r.reason);
	snprintf(err, errlen, "%s: out of memory", file);
	e = read_file(file, &buf, &len);
	if (e < 0) {
		snprintf(err, errlen, "%s: %s", file, strerror(-e));
		return e;
	}
	tok = json_tokener_new_ex(RESTORE_DEPTH);
	if (!tok) {
		e = -ENOMEM;
		goto out;
	}
	if (len > INT32_MAX) {
		snprintf(err, errlen, "%s: larger than 2 GiB", file);
		e = -EFBIG;
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, buf, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (!root) {
		enum json_tokener_error je = json_tokener_get_error(tok);

		where(buf, end, pos, sizeof(pos));
		snprintf(err, errlen, "%s: not JSON: %s: %s", file, pos,
			 je == json_tokener_continue ? "unexpected end of file"
						     : json_tokener_error_desc(je));
		e = -EINVAL;
		goto out;
	}
	end += strspn(buf + end, " \t\r\n");
	if (end < len) {
		where(buf, end, pos, sizeof(pos));
		snprintf(err, errlen, "%s: not JSON: %s: data after the end of the document", file,
			 pos);
		e = -EINVAL;
		goto out;
	}
	e = walk(&r, root);
	if (e < 0)
		goto out;
	r.apply = true;
	e = walk(&r, root);
out:
	free(r.skip);
	json_object_put(root);
	if (tok)
		json_tokener_free(tok);
	free(buf);
	return e;
}
