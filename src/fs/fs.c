/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The FUSE low-level frontend: path -> node, directory listings, sysfs-like attribute files,
 * mkdir/rmdir/symlink/unlink/rename mapped onto core objects. It owns no IOMMU semantics.
 *
 * Every handler ends in exactly one reply, errors through one fuse_reply_err(). Attribute
 * files are direct_io with st_size 4096, as sysfs files are (ioasfs.5, Attribute files): every read
 * and write reaches us, a read at offset 0 renders the file again, and a write carries one
 * whole value at offset 0. Entry and attribute timeouts are 0 because other clients change
 * the tree (an attach makes a link appear in ioas/NAME/devices) and we never want the kernel
 * to answer from a stale cache.
 *
 * Nodes live in two hash tables: by inode number (for the kernel) and by path (so repeated
 * lookups return the same inode). A node found by path is re-validated against the core's
 * serial numbers, so after `rmdir ioas/vm; mkdir ioas/vm` old handles see ENOENT and new
 * lookups get new inodes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/parse.h"
#include "fs/fs.h"

#define N_BUCKETS 16384
#define FS(req)	  ((struct fs *)fuse_req_userdata(req))

struct subdir {
	const char *name;
	enum nkind kind;
};

static const struct subdir root_dirs[] = {
	{ "platform", N_PLATFORM },
	{ "ioas", N_IOAS_DIR },
	{ "devices", N_DEVICES_DIR },
	{ "sources", N_SOURCES_DIR },
	{ NULL },
};

static const struct subdir ioas_dirs[] = {
	{ "windows", N_WINDOWS },
	{ "devices", N_IOAS_DEVS },
	{ "options", N_OPTIONS },
	{ NULL },
};

static const struct subdir *subdirs(enum nkind k)
{
	return k == N_ROOT ? root_dirs : k == N_IOAS ? ioas_dirs : NULL;
}

/* Which core object a directory kind's children are, for mkdir/rmdir/readdir. */
static int container_kind(enum nkind k, enum core_obj *ret)
{
	switch (k) {
	case N_IOAS_DIR:
		*ret = CORE_IOAS;
		return 0;
	case N_DEVICES_DIR:
		*ret = CORE_DEVICE;
		return 0;
	case N_SOURCES_DIR:
		*ret = CORE_SOURCE;
		return 0;
	default:
		return -1;
	}
}

static enum nkind child_kind(enum core_obj k)
{
	return k == CORE_IOAS ? N_IOAS : k == CORE_DEVICE ? N_DEVICE : N_SOURCE;
}

/* ---------------------------------------------------------------- node tables */

static size_t hash_ino(fuse_ino_t ino)
{
	return (ino * 0x9e3779b97f4a7c15ull) >> 50;
}

static size_t hash_path(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h % N_BUCKETS;
}

static struct node *node_by_ino(struct fs *fs, fuse_ino_t ino)
{
	struct node *n;

	pthread_mutex_lock(&fs->lock);
	for (n = fs->by_ino[hash_ino(ino)]; n; n = n->next_ino)
		if (n->ino == ino)
			break;
	pthread_mutex_unlock(&fs->lock);
	return n;
}

static void unhash_path_locked(struct fs *fs, struct node *n)
{
	struct node **pp;

	if (!n->hashed)
		return;
	for (pp = &fs->by_path[hash_path(n->path)]; *pp; pp = &(*pp)->next_path)
		if (*pp == n) {
			*pp = n->next_path;
			break;
		}
	n->hashed = false;
}

static void node_free_locked(struct fs *fs, struct node *n)
{
	struct node **pp;

	unhash_path_locked(fs, n);
	for (pp = &fs->by_ino[hash_ino(n->ino)]; *pp; pp = &(*pp)->next_ino)
		if (*pp == n) {
			*pp = n->next_ino;
			break;
		}
	free(n->path);
	free(n);
}

/* Is the object a node stands for still the one it was created for? */
static bool node_alive(struct fs *fs, const struct node *n)
{
	struct core_ioas_ref ref = { n->ioas, n->ioas_serial };
	char name[CORE_NAME_MAX + 1];
	uint64_t s;
	enum nkind k = n->kind == N_ATTR ? n->dir_kind : n->kind;

	switch (k) {
	case N_IOAS:
	case N_WINDOWS:
	case N_IOAS_DEVS:
	case N_OPTIONS:
	case N_WINDOW:
		if (core_obj_lookup(fs->core, CORE_IOAS, n->ioas, &s) || s != n->ioas_serial)
			return false;
		if (k == N_WINDOW &&
		    (core_window_lookup(fs->core, ref, n->obj, &s) || s != n->obj_serial))
			return false;
		break;
	case N_DEVICE:
		if (core_obj_lookup(fs->core, CORE_DEVICE, n->ioas, &s) || s != n->ioas_serial)
			return false;
		break;
	case N_SOURCE:
		if (core_obj_lookup(fs->core, CORE_SOURCE, n->ioas, &s) || s != n->ioas_serial)
			return false;
		break;
	case N_LINK:
		if (!strcmp(n->name, "ioas") && n->obj[0] == '\0')
			/* devices/D/ioas */
			return !core_device_ioas(fs->core, n->ioas, n->ioas_serial, name);
		if (n->obj[0] == '\0') {
			/* a pending ln -sf temporary in devices/D */
			bool found = false;

			pthread_mutex_lock(&fs->lock);
			for (int i = 0; i < FS_PENDING_LINKS; i++)
				if (fs->pending[i].used &&
				    fs->pending[i].dev_serial == n->ioas_serial &&
				    !strcmp(fs->pending[i].name, n->name))
					found = true;
			pthread_mutex_unlock(&fs->lock);
			return found;
		}
		/* ioas/NAME/devices/D: obj = device */
		return !core_device_ioas(fs->core, n->obj, n->obj_serial, name) &&
		       !strcmp(name, n->ioas) &&
		       !core_obj_lookup(fs->core, CORE_IOAS, n->ioas, &s) && s == n->ioas_serial;
	default:
		break;
	}
	return true;
}

/*
 * Find or create the node for parent/name, with its context copied from tmpl. Takes one
 * lookup reference.
 */
static struct node *node_get(struct fs *fs, const struct node *parent, const char *name,
			     const struct node *tmpl)
{
	size_t plen = strlen(parent->path), nlen = strlen(name);
	char *path = malloc(plen + nlen + 2);
	struct node *n, *found = NULL;

	if (!path)
		return NULL;
	memcpy(path, parent->path, plen);
	path[plen] = '/';
	memcpy(path + plen + 1, name, nlen + 1);

	pthread_mutex_lock(&fs->lock);
	for (n = fs->by_path[hash_path(path)]; n; n = n->next_path)
		if (!strcmp(n->path, path))
			break;
	if (n && n->kind == tmpl->kind && n->ioas_serial == tmpl->ioas_serial &&
	    n->obj_serial == tmpl->obj_serial && !strcmp(n->obj, tmpl->obj)) {
		found = n;
	} else if (n) {
		unhash_path_locked(fs, n); /* a stale node: its object was replaced */
	}
	if (found) {
		found->nlookup++;
		pthread_mutex_unlock(&fs->lock);
		free(path);
		return found;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		pthread_mutex_unlock(&fs->lock);
		free(path);
		return NULL;
	}
	*n = *tmpl;
	n->ino = fs->next_ino++;
	n->nlookup = 1;
	n->parent_ino = parent->ino;
	n->path = path;
	n->name = path + plen + 1;
	n->hashed = true;
	n->next_path = fs->by_path[hash_path(path)];
	fs->by_path[hash_path(path)] = n;
	n->next_ino = fs->by_ino[hash_ino(n->ino)];
	fs->by_ino[hash_ino(n->ino)] = n;
	pthread_mutex_unlock(&fs->lock);
	return n;
}

/* The template of parent's child `name`: 0, or -ENOENT. */
static int child_template(struct fs *fs, const struct node *parent, const char *name,
			  struct node *t)
{
	const struct attr_def *a;
	const struct subdir *sd;
	struct core_ioas_ref ref = { parent->ioas, parent->ioas_serial };
	char ioas[CORE_NAME_MAX + 1];
	enum core_obj ok;
	uint64_t s;

	memset(t, 0, sizeof(*t));
	/* context is inherited */
	memcpy(t->ioas, parent->ioas, sizeof(t->ioas));
	t->ioas_serial = parent->ioas_serial;
	memcpy(t->obj, parent->obj, sizeof(t->obj));
	t->obj_serial = parent->obj_serial;

	if (strlen(name) > CORE_NAME_MAX)
		return -ENOENT;
	for (a = fs_attrs(parent->kind); a && a->name; a++)
		if (!strcmp(a->name, name)) {
			t->kind = N_ATTR;
			t->attr = a;
			t->dir_kind = parent->kind;
			return 0;
		}
	for (sd = subdirs(parent->kind); sd && sd->name; sd++)
		if (!strcmp(sd->name, name)) {
			t->kind = sd->kind;
			return 0;
		}
	if (!container_kind(parent->kind, &ok)) {
		if (core_obj_lookup(fs->core, ok, name, &s))
			return -ENOENT;
		t->kind = child_kind(ok);
		snprintf(t->ioas, sizeof(t->ioas), "%s", name);
		t->ioas_serial = s;
		return 0;
	}
	switch (parent->kind) {
	case N_WINDOWS:
		if (core_window_lookup(fs->core, ref, name, &s))
			return -ENOENT;
		t->kind = N_WINDOW;
		snprintf(t->obj, sizeof(t->obj), "%s", name);
		t->obj_serial = s;
		return 0;
	case N_IOAS_DEVS:
		if (core_obj_lookup(fs->core, CORE_DEVICE, name, &s) ||
		    core_device_ioas(fs->core, name, s, ioas) || strcmp(ioas, parent->ioas))
			return -ENOENT;
		t->kind = N_LINK;
		snprintf(t->obj, sizeof(t->obj), "%s", name);
		t->obj_serial = s;
		return 0;
	case N_DEVICE:
		t->kind = N_LINK;
		if (!strcmp(name, "ioas"))
			return core_device_ioas(fs->core, parent->ioas, parent->ioas_serial, ioas)
				   ? -ENOENT
				   : 0;
		pthread_mutex_lock(&fs->lock);
		for (int i = 0; i < FS_PENDING_LINKS; i++)
			if (fs->pending[i].used &&
			    fs->pending[i].dev_serial == parent->ioas_serial &&
			    !strcmp(fs->pending[i].name, name)) {
				pthread_mutex_unlock(&fs->lock);
				return 0;
			}
		pthread_mutex_unlock(&fs->lock);
		return -ENOENT;
	default:
		return -ENOENT;
	}
}

/* Symlink target of a link node, or -ENOENT. */
static int link_target(struct fs *fs, const struct node *n, char *buf, size_t len)
{
	char ioas[CORE_NAME_MAX + 1];

	if (n->obj[0]) {
		snprintf(buf, len, "../../../devices/%s", n->obj);
		return 0;
	}
	if (!strcmp(n->name, "ioas")) {
		if (core_device_ioas(fs->core, n->ioas, n->ioas_serial, ioas))
			return -ENOENT;
		snprintf(buf, len, "../../ioas/%s", ioas);
		return 0;
	}
	pthread_mutex_lock(&fs->lock);
	for (int i = 0; i < FS_PENDING_LINKS; i++)
		if (fs->pending[i].used && fs->pending[i].dev_serial == n->ioas_serial &&
		    !strcmp(fs->pending[i].name, n->name)) {
			snprintf(buf, len, "../../ioas/%s", fs->pending[i].ioas);
			pthread_mutex_unlock(&fs->lock);
			return 0;
		}
	pthread_mutex_unlock(&fs->lock);
	return -ENOENT;
}

/*
 * A listing file (errors, mappings, save) reports the length of what a read would return
 * now. Size 0 as procfs has would be simpler, but FUSE serves sendfile(2) and splice(2) from
 * the page cache up to st_size whatever direct_io says, so busybox cat (which uses sendfile)
 * would print nothing; the exact length also lets tail(1) seek to the real end. A file that
 * can grow large (mappings) counts its length without rendering it, since every lookup asks.
 */
static uint64_t stream_size(struct fs *fs, const struct node *n)
{
	struct sbuf sb;
	uint64_t len;

	if (n->attr->length)
		return n->attr->length(fs, (struct node *)n, &len) < 0 ? 0 : len;
	sbuf_init(&sb);
	len = n->attr->show(fs, (struct node *)n, &sb) < 0 || sb.err ? 0 : sb.len;
	sbuf_free(&sb);
	return len;
}

/*
 * The object a node belongs to, whose owner owns the node: 0 with its kind, name and serial,
 * or -1 for the daemon's own nodes (the root, platform/ and the three object directories).
 */
static int node_object(const struct node *n, enum core_obj *ret_kind, const char **ret_name,
		       uint64_t *ret_serial)
{
	switch (n->kind == N_ATTR ? n->dir_kind : n->kind) {
	case N_IOAS:
	case N_WINDOWS:
	case N_WINDOW:
	case N_IOAS_DEVS:
	case N_OPTIONS:
		*ret_kind = CORE_IOAS;
		break;
	case N_DEVICE:
		*ret_kind = CORE_DEVICE;
		break;
	case N_SOURCE:
		*ret_kind = CORE_SOURCE;
		break;
	case N_LINK:
		/* devices/D/ioas (and ln -sf temporaries) name the device, no obj */
		*ret_kind = n->obj[0] ? CORE_IOAS : CORE_DEVICE;
		break;
	default:
		return -1;
	}
	*ret_name = n->ioas;
	*ret_serial = n->ioas_serial;
	return 0;
}

/*
 * The one ownership check of the frontend (ioasfs.5 SECURITY): may rq act on the object n
 * belongs to? Every open for writing, every open of a private file (no read bit for others:
 * map, unmap, batch, dma) and every change to an object's directory comes through here, so a
 * new file in an object's table is covered by its mode alone. 0, or -EACCES (logged).
 */
static int may_own(struct fs *fs, const struct core_req *rq, const struct node *n)
{
	enum core_obj kind;
	const char *name;
	uint64_t serial;

	if (node_object(n, &kind, &name, &serial))
		return 0;
	return core_obj_access(fs->core, rq, kind, name, serial);
}

static void fill_stat(struct fs *fs, const struct node *n, struct stat *st)
{
	char target[PATH_MAX];

	enum core_obj kind;
	const char *name;
	uint64_t serial;

	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_uid = getuid();
	st->st_gid = getgid();
	if (!node_object(n, &kind, &name, &serial))
		core_obj_owner(fs->core, kind, name, serial, &st->st_uid, &st->st_gid);
	st->st_blksize = 4096;
	st->st_atime = st->st_mtime = st->st_ctime = fs->started;
	switch (n->kind) {
	case N_ATTR:
		st->st_mode = S_IFREG | n->attr->mode;
		st->st_nlink = 1;
		st->st_size = n->attr->st_size == FS_SIZE_STREAM ? stream_size(fs, n)
			      : n->attr->st_size		 ? n->attr->st_size
								 : 4096;
		break;
	case N_LINK:
		st->st_mode = S_IFLNK | 0777;
		st->st_nlink = 1;
		st->st_size = link_target(fs, n, target, sizeof(target)) ? 0 : strlen(target);
		break;
	default:
		st->st_mode = S_IFDIR | 0755;
		/* anyone makes objects, and removes only their own, as in /tmp */
		if (fs->multiuser && !container_kind(n->kind, &kind))
			st->st_mode = S_IFDIR | S_ISVTX | 0777;
		st->st_nlink = 2;
		break;
	}
}

static void reply_entry(fuse_req_t req, struct fs *fs, struct node *n)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = n->ino;
	fill_stat(fs, n, &e.attr);
	if (fuse_reply_entry(req, &e) == -ENOENT) {
		/* interrupted: drop the reference the kernel will never forget */
		pthread_mutex_lock(&fs->lock);
		if (--n->nlookup == 0)
			node_free_locked(fs, n);
		pthread_mutex_unlock(&fs->lock);
	}
}

static void make_req(fuse_req_t req, const char *path, struct core_req *rq)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	rq->pid = ctx->pid;
	rq->uid = ctx->uid;
	rq->gid = ctx->gid;
	rq->path = path;
	rq->prefix = NULL;
	rq->quiet = false;
	rq->ngroups = 0;
}

/* Lookup helper shared by lookup/mkdir/symlink. */
static int do_lookup(struct fs *fs, struct node *parent, const char *name, struct node **ret)
{
	struct node t;
	int r;

	if (!node_alive(fs, parent))
		return -ENOENT;
	r = child_template(fs, parent, name, &t);
	if (r < 0)
		return r;
	*ret = node_get(fs, parent, name, &t);
	return *ret ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------------- operations */

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = FS(req);
	struct node *p = node_by_ino(fs, parent), *n;
	int r;

	if (!p)
		return (void)fuse_reply_err(req, ENOENT);
	r = do_lookup(fs, p, name, &n);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	reply_entry(req, fs, n);
}

static void forget_one(struct fs *fs, fuse_ino_t ino, uint64_t nlookup)
{
	struct node *n;

	if (ino == FUSE_ROOT_ID)
		return;
	pthread_mutex_lock(&fs->lock);
	for (n = fs->by_ino[hash_ino(ino)]; n; n = n->next_ino)
		if (n->ino == ino)
			break;
	if (n) {
		n->nlookup = nlookup >= n->nlookup ? 0 : n->nlookup - nlookup;
		if (!n->nlookup)
			node_free_locked(fs, n);
	}
	pthread_mutex_unlock(&fs->lock);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(FS(req), ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		forget_one(FS(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	struct node *n = node_by_ino(fs, ino);
	struct stat st;

	if (!n || !node_alive(fs, n))
		return (void)fuse_reply_err(req, ENOENT);
	fill_stat(fs, n, &st);
	fuse_reply_attr(req, &st, 0);
}

/*
 * Only truncation of an attribute file is accepted (the O_TRUNC of `echo v > attr` when the
 * kernel sends it as SETATTR); modes, owners and times are fixed.
 */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	struct node *n = node_by_ino(fs, ino);
	struct stat st;

	if (!n || !node_alive(fs, n))
		return (void)fuse_reply_err(req, ENOENT);
	if (to_set & ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
		       FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME))
		return (void)fuse_reply_err(req, EPERM);
	if (to_set & FUSE_SET_ATTR_SIZE) {
		struct core_req rq;
		int r;

		if (n->kind != N_ATTR || !(n->attr->store || n->attr->write || n->attr->pwrite))
			return (void)fuse_reply_err(req, n->kind == N_ATTR ? EACCES : EISDIR);
		make_req(req, n->path, &rq);
		r = may_own(fs, &rq, n);
		if (r < 0)
			return (void)fuse_reply_err(req, -r);
		/* a positional file is an address space: dd's ftruncate changes nothing there */
		if (attr->st_size != 0 && !n->attr->pwrite)
			return (void)fuse_reply_err(req, EINVAL);
	}
	fill_stat(fs, n, &st);
	fuse_reply_attr(req, &st, 0);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = FS(req);
	struct node *n = node_by_ino(fs, ino);
	char target[PATH_MAX];

	if (!n || n->kind != N_LINK || link_target(fs, n, target, sizeof(target)))
		return (void)fuse_reply_err(req, ENOENT);
	fuse_reply_readlink(req, target);
}

static char *child_path(const struct node *p, const char *name)
{
	char *s;

	if (asprintf(&s, "%s/%s", p->path, name) < 0)
		return NULL;
	return s;
}

/*
 * The preamble of the calls that change a directory: the parent must still stand for its
 * object, and the request names parent/name in `errors`. 0 with *ret_path to free, or -errno.
 */
static int entry_req(fuse_req_t req, struct fs *fs, const struct node *p, const char *name,
		     char **ret_path, struct core_req *rq)
{
	if (!p || !node_alive(fs, p))
		return -ENOENT;
	*ret_path = child_path(p, name);
	if (!*ret_path)
		return -ENOMEM;
	make_req(req, *ret_path, rq);
	return 0;
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fs *fs = FS(req);
	struct node *p = node_by_ino(fs, parent), *n;
	struct core_ioas_ref ref;
	struct core_req rq;
	enum core_obj ok;
	char *path;
	int r;

	r = entry_req(req, fs, p, name, &path, &rq);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	if (!container_kind(p->kind, &ok)) {
		r = core_obj_create(fs->core, &rq, ok, name);
	} else if (p->kind == N_WINDOWS) {
		ref = (struct core_ioas_ref){ p->ioas, p->ioas_serial };
		r = may_own(fs, &rq, p);
		if (!r)
			r = core_window_create(fs->core, &rq, ref, name);
	} else {
		core_error(fs->core, &rq,
			   "directories can only be made in ioas/, "
			   "ioas/NAME/windows/, devices/ and sources/");
		r = -EPERM;
	}
	if (r == 0)
		r = do_lookup(fs, p, name, &n);
	free(path);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	reply_entry(req, fs, n);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = FS(req);
	struct node *p = node_by_ino(fs, parent);
	struct core_ioas_ref ref;
	struct core_req rq;
	enum core_obj ok;
	char *path;
	int r;

	r = entry_req(req, fs, p, name, &path, &rq);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	if (!container_kind(p->kind, &ok)) {
		uint64_t serial = 0;

		core_obj_lookup(fs->core, ok, name, &serial);
		r = core_obj_remove(fs->core, &rq, ok, name);
		if (r == 0 && ok == CORE_DEVICE) {
			/* ln -sf temporaries left in the device die with it */
			pthread_mutex_lock(&fs->lock);
			for (int i = 0; i < FS_PENDING_LINKS; i++)
				if (fs->pending[i].used && fs->pending[i].dev_serial == serial)
					fs->pending[i].used = false;
			pthread_mutex_unlock(&fs->lock);
		}
	} else if (p->kind == N_WINDOWS) {
		ref = (struct core_ioas_ref){ p->ioas, p->ioas_serial };
		r = may_own(fs, &rq, p);
		if (!r)
			r = core_window_remove(fs->core, &rq, ref, name);
	} else {
		struct node t;

		r = child_template(fs, p, name, &t);
		if (r == 0) {
			core_error(fs->core, &rq, "built-in directories cannot be removed");
			r = t.kind == N_ATTR || t.kind == N_LINK ? -ENOTDIR : -EPERM;
		}
	}
	free(path);
	fuse_reply_err(req, -r);
}

/*
 * The ioas name a device link points at: "../../ioas/NAME" or MOUNTPOINT/ioas/NAME.
 */
static int parse_link_target(struct fs *fs, const char *target, char *ret)
{
	const char *name;
	size_t ml = strlen(fs->mountpoint);

	if (!strncmp(target, "../../ioas/", 11))
		name = target + 11;
	else if (!strncmp(target, fs->mountpoint, ml) && !strncmp(target + ml, "/ioas/", 6))
		name = target + ml + 6;
	else
		return -EINVAL;
	if (!valid_name(name))
		return -EINVAL;
	snprintf(ret, CORE_NAME_MAX + 1, "%s", name);
	return 0;
}

static void op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	struct fs *fs = FS(req);
	struct node *p = node_by_ino(fs, parent), *n;
	char ioas[CORE_NAME_MAX + 1], cur[CORE_NAME_MAX + 1];
	struct core_req rq;
	char *path;
	int r, slot = -1, mine = 0;

	r = entry_req(req, fs, p, name, &path, &rq);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	if (p->kind != N_DEVICE) {
		core_error(fs->core, &rq, "links are made only as devices/D/ioas");
		r = -EPERM;
		goto out;
	}
	r = may_own(fs, &rq, p);
	if (r < 0)
		goto out;
	if (parse_link_target(fs, target, ioas)) {
		core_error(fs->core, &rq, "link target '%.200s' is not ../../ioas/NAME", target);
		r = -EINVAL;
		goto out;
	}
	if (!strcmp(name, "ioas")) {
		if (!core_device_ioas(fs->core, p->ioas, p->ioas_serial, cur)) {
			r = -EEXIST;
			goto out;
		}
		r = core_device_attach(fs->core, &rq, p->ioas, p->ioas_serial, ioas);
	} else if (!valid_name(name)) {
		r = -EINVAL;
	} else {
		/* A temporary of `ln -sf`, renamed over `ioas` next: remember it. */
		uint64_t s;

		r = core_obj_lookup(fs->core, CORE_IOAS, ioas, &s);
		if (r < 0) {
			core_error(fs->core, &rq, "no ioas '%s'", ioas);
			goto out;
		}
		pthread_mutex_lock(&fs->lock);
		for (int i = 0; i < FS_PENDING_LINKS; i++) {
			if (fs->pending[i].used && fs->pending[i].dev_serial == p->ioas_serial &&
			    !strcmp(fs->pending[i].name, name)) {
				slot = -2;
				break;
			}
			if (!fs->pending[i].used && slot == -1)
				slot = i;
			mine += fs->pending[i].used && fs->pending[i].uid == rq.uid;
		}
		if (slot >= 0 && fs->multiuser && rq.uid != 0 &&
		    mine >= CORE_USER_SHARE(FS_PENDING_LINKS))
			slot = -3;
		if (slot >= 0) {
			struct pending_link *pl = &fs->pending[slot];

			pl->used = true;
			pl->uid = rq.uid;
			snprintf(pl->dev, sizeof(pl->dev), "%s", p->ioas);
			pl->dev_serial = p->ioas_serial;
			snprintf(pl->name, sizeof(pl->name), "%s", name);
			snprintf(pl->ioas, sizeof(pl->ioas), "%s", ioas);
		}
		pthread_mutex_unlock(&fs->lock);
		r = slot == -2 ? -EEXIST : slot < 0 ? -ENOSPC : 0;
		if (slot == -1)
			core_error(fs->core, &rq, "too many pending links (limit %d)",
				   FS_PENDING_LINKS);
		else if (slot == -3)
			core_error(fs->core, &rq,
				   "uid %u holds %d pending links, a user's share (limit %d)",
				   (unsigned)rq.uid, CORE_USER_SHARE(FS_PENDING_LINKS),
				   FS_PENDING_LINKS);
	}
	if (r == 0)
		r = do_lookup(fs, p, name, &n);
out:
	free(path);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	reply_entry(req, fs, n);
}

/* Remove a pending link; returns its ioas name in ioas (if non-NULL). 0 or -ENOENT. */
static int pending_take(struct fs *fs, const struct node *dev, const char *name, char *ioas)
{
	int r = -ENOENT;

	pthread_mutex_lock(&fs->lock);
	for (int i = 0; i < FS_PENDING_LINKS; i++)
		if (fs->pending[i].used && fs->pending[i].dev_serial == dev->ioas_serial &&
		    !strcmp(fs->pending[i].name, name)) {
			if (ioas)
				memcpy(ioas, fs->pending[i].ioas, CORE_NAME_MAX + 1);
			fs->pending[i].used = false;
			r = 0;
			break;
		}
	pthread_mutex_unlock(&fs->lock);
	return r;
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = FS(req);
	struct node *p = node_by_ino(fs, parent);
	struct core_req rq;
	char *path;
	int r;

	r = entry_req(req, fs, p, name, &path, &rq);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	if (p->kind == N_DEVICE && (r = may_own(fs, &rq, p)) < 0) {
		/* refused: the device is someone else's */
	} else if (p->kind == N_DEVICE && !strcmp(name, "ioas")) {
		r = core_device_detach(fs->core, &rq, p->ioas, p->ioas_serial);
	} else if (p->kind == N_DEVICE && !pending_take(fs, p, name, NULL)) {
		r = 0;
	} else {
		struct node t;

		r = child_template(fs, p, name, &t);
		if (r == 0) {
			core_error(fs->core, &rq, "only devices/D/ioas links can be removed%s",
				   t.kind == N_LINK ? " (ioas/NAME/devices mirrors them)" : "");
			r = t.kind == N_ATTR || t.kind == N_LINK ? -EPERM : -EISDIR;
		}
	}
	free(path);
	fuse_reply_err(req, -r);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct fs *fs = FS(req);
	struct node *p = node_by_ino(fs, parent);
	char ioas[CORE_NAME_MAX + 1], cur[CORE_NAME_MAX + 1];
	struct core_req rq;
	char *path;
	int r;

	r = entry_req(req, fs, p, newname, &path, &rq);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	if (p->kind != N_DEVICE || parent != newparent || strcmp(newname, "ioas") ||
	    (flags & ~RENAME_NOREPLACE)) {
		core_error(fs->core, &rq, "only a link renamed onto devices/D/ioas can move");
		r = -EPERM;
		goto out;
	}
	r = may_own(fs, &rq, p);
	if (r < 0)
		goto out;
	if ((flags & RENAME_NOREPLACE) &&
	    !core_device_ioas(fs->core, p->ioas, p->ioas_serial, cur)) {
		r = -EEXIST;
		goto out;
	}
	r = pending_take(fs, p, name, ioas);
	if (r < 0)
		goto out;
	/* Replacing the link replaces the attachment; on failure the link is gone. */
	r = core_device_attach(fs->core, &rq, p->ioas, p->ioas_serial, ioas);
out:
	free(path);
	fuse_reply_err(req, -r);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	fuse_reply_err(req, EPERM);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	fuse_reply_err(req, EPERM);
}

/*
 * Open handles are listed so that the ones the kernel never released (a lazy unmount while a
 * process holds a file) are freed when the daemon stops, not leaked.
 */
static void fh_track(struct fs *fs, struct fh *fh)
{
	pthread_mutex_lock(&fs->lock);
	fh->prev_open = NULL;
	fh->next_open = fs->open;
	if (fs->open)
		fs->open->prev_open = fh;
	fs->open = fh;
	pthread_mutex_unlock(&fs->lock);
}

static void fh_untrack(struct fs *fs, struct fh *fh)
{
	pthread_mutex_lock(&fs->lock);
	if (fh->prev_open)
		fh->prev_open->next_open = fh->next_open;
	else if (fs->open == fh)
		fs->open = fh->next_open;
	if (fh->next_open)
		fh->next_open->prev_open = fh->prev_open;
	fh->prev_open = fh->next_open = NULL;
	pthread_mutex_unlock(&fs->lock);
}

static void fh_free(struct fs *fs, struct fh *fh)
{
	fh_untrack(fs, fh);
	if (fh->dir) {
		free(fh->entries);
		free(fh);
		return;
	}
	if (fh->n->attr->session) {
		pthread_mutex_lock(&fs->lock);
		fs->sessions--;
		pthread_mutex_unlock(&fs->lock);
	}
	sbuf_free(&fh->snap);
	sbuf_free(&fh->results);
	free(fh->cq);
	free(fh->out);
	free(fh->host);
	pthread_mutex_destroy(&fh->lock);
	pthread_mutex_destroy(&fh->exec);
	free(fh);
}

/* One more batch session for uid: 0, or -EMFILE past the mount's bound or uid's share. */
static int session_take(struct fs *fs, fuse_req_t req, struct node *n, uid_t uid)
{
	unsigned mine = 0;
	struct core_req rq;
	struct fh *o;
	int r = 0;

	pthread_mutex_lock(&fs->lock);
	if (fs->multiuser && uid != 0)
		for (o = fs->open; o; o = o->next_open)
			mine += !o->dir && o->n->attr->session && o->uid == uid;
	if (fs->sessions >= FS_MAX_SESSIONS || mine >= CORE_USER_SHARE(FS_MAX_SESSIONS))
		r = -EMFILE;
	else
		fs->sessions++;
	pthread_mutex_unlock(&fs->lock);
	if (r < 0) {
		make_req(req, n->path, &rq);
		if (mine >= CORE_USER_SHARE(FS_MAX_SESSIONS))
			core_error(fs->core, &rq,
				   "uid %u holds %u batch sessions, a user's share (limit %d)",
				   (unsigned)uid, mine, FS_MAX_SESSIONS);
		else
			core_error(fs->core, &rq, "too many batch sessions (limit %d)",
				   FS_MAX_SESSIONS);
	}
	return r;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	struct node *n = node_by_ino(fs, ino);
	int acc = fi->flags & O_ACCMODE;
	struct fh *fh;

	if (!n || !node_alive(fs, n))
		return (void)fuse_reply_err(req, ENOENT);
	if (n->kind != N_ATTR)
		return (void)fuse_reply_err(req, EISDIR);
	/* like sysfs: no write op, no opening for write, whoever asks */
	if (acc != O_RDONLY && !n->attr->store && !n->attr->write && !n->attr->pwrite)
		return (void)fuse_reply_err(req, EACCES);
	if (acc != O_RDONLY || !(n->attr->mode & S_IROTH)) {
		struct core_req rq;
		int r;

		make_req(req, n->path, &rq);
		r = may_own(fs, &rq, n);
		if (r < 0)
			return (void)fuse_reply_err(req, -r);
	}
	fh = calloc(1, sizeof(*fh));
	if (!fh)
		return (void)fuse_reply_err(req, ENOMEM);
	fh->uid = fuse_req_ctx(req)->uid;
	if (n->attr->session) {
		int r = session_take(fs, req, n, fh->uid);

		if (r < 0) {
			free(fh);
			return (void)fuse_reply_err(req, -r);
		}
	}
	fh->n = n;
	fh->rdwr = acc == O_RDWR;
	sbuf_init(&fh->snap);
	sbuf_init(&fh->results);
	pthread_mutex_init(&fh->lock, NULL);
	pthread_mutex_init(&fh->exec, NULL);
	fh_track(fs, fh);
	/* Keep the node alive while open: the kernel holds a lookup reference anyway. */
	fi->fh = (uintptr_t)fh;
	fi->direct_io = 1;
	fi->keep_cache = 0;
	/* text command files are streams; the batch file takes io_uring writes at offset 0 */
	if (n->attr->write && !n->attr->session)
		fi->nonseekable = 1;
	if (fuse_reply_open(req, fi) == -ENOENT)
		fh_free(fs, fh);
}

/*
 * Replies are sent after fh->lock is dropped, from a copy: once a reply is out, the kernel
 * may release the file and op_release may free fh on another thread.
 */
/*
 * A handle of a file rendered whole (save) keeps its text until it is closed: under
 * allow_other a user other than root may keep FS_MAX_WHOLE of them (fh->lock held).
 */
static int whole_take(struct fs *fs, fuse_req_t req, struct node *n, struct fh *fh)
{
	unsigned mine = 0;
	struct core_req rq;
	struct fh *o;

	if (!fs->multiuser || fh->uid == 0)
		return 0;
	pthread_mutex_lock(&fs->lock);
	for (o = fs->open; o; o = o->next_open)
		mine +=
		    o != fh && !o->dir && o->n->attr == n->attr && o->rendered && o->uid == fh->uid;
	pthread_mutex_unlock(&fs->lock);
	if (mine < FS_MAX_WHOLE)
		return 0;
	make_req(req, n->path, &rq);
	core_error(fs->core, &rq,
		   "uid %u keeps %u rendered %s handles (limit_user_whole_handles %d); close one",
		   (unsigned)fh->uid, mine, n->name, FS_MAX_WHOLE);
	return -EBUSY;
}

/* Bytes of a listing render at a time: one lock hold, and about what a handle keeps. */
#define FS_CHUNK (64 * 1024)

/*
 * Make snap hold [off, off + size) of a chunk file's text, or as much of it as there is
 * (fh->lock held). Reading on from where the last read ended renders only what is new and
 * drops what was read; a read at 0 starts again; a read behind the window renders again
 * from the start, and a read ahead renders up to it.
 */
static int read_chunks(struct fs *fs, struct node *n, struct fh *fh, size_t size, off_t off)
{
	uint64_t want = (uint64_t)off + size;
	int r;

	if (off == 0 || (uint64_t)off < fh->snap_off || !fh->rendered) {
		sbuf_reset(&fh->snap);
		fh->snap_off = fh->cursor = 0;
		fh->done = false;
		fh->rendered = true;
	}
	while (!fh->done && fh->snap_off + fh->snap.len < want) {
		/* keep only what this read still needs */
		size_t drop = (uint64_t)off > fh->snap_off ? (uint64_t)off - fh->snap_off : 0;

		if (drop > fh->snap.len)
			drop = fh->snap.len;
		sbuf_consume(&fh->snap, drop);
		fh->snap_off += drop;
		r = n->attr->chunk(fs, n, &fh->cursor, &fh->done, &fh->snap, FS_CHUNK);
		if (!r)
			r = fh->snap.err;
		if (r < 0) {
			fh->rendered = false;
			return r;
		}
	}
	return 0;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	struct fh *fh = (struct fh *)(uintptr_t)fi->fh;
	struct node *n = fh->n;
	char *copy = NULL;
	size_t len = 0;
	int r = 0;

	if (n->attr->pread) {
		struct core_req rq;

		make_req(req, n->path, &rq);
		return n->attr->pread(fs, n, req, &rq, size, off);
	}
	pthread_mutex_lock(&fh->lock);
	if (n->attr->read) {
		/* a stream: hand out and forget what the handle has queued */
		copy = malloc(size ? size : 1);
		if (!copy) {
			r = -ENOMEM;
			goto out;
		}
		len = n->attr->read(fs, fh, copy, size);
		goto out;
	}
	if (n->attr->chunk) {
		r = read_chunks(fs, n, fh, size, off);
		if (r < 0)
			goto out;
		off -= (off_t)fh->snap_off; /* now an offset into snap */
	} else if (!n->attr->show) {
		r = -EACCES;
		goto out;
	} else if (off == 0 || !fh->rendered) {
		sbuf_reset(&fh->snap);
		if (n->attr->whole && !fh->rendered && (r = whole_take(fs, req, n, fh)) < 0)
			goto out;
		r = n->attr->show(fs, n, &fh->snap);
		if (!r)
			r = fh->snap.err;
		if (r < 0)
			goto out;
		fh->rendered = true;
	}
	if ((size_t)off < fh->snap.len)
		len = fh->snap.len - off < size ? fh->snap.len - off : size;
	copy = len ? malloc(len) : NULL;
	if (len && !copy) {
		r = -ENOMEM;
		goto out;
	}
	if (len)
		memcpy(copy, fh->snap.buf + off, len);
out:
	pthread_mutex_unlock(&fh->lock);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_buf(req, copy, len);
	free(copy);
}

/* Append one write to a list attribute's value on this handle; val gets the whole list. */
static int multiline_value(struct fs *fs, struct fh *fh, struct core_req *rq, const char *buf,
			   size_t size, off_t off, char *val, size_t *ret_len)
{
	size_t len;
	int r = 0;

	pthread_mutex_lock(&fh->lock);
	if (off != 0 && (size_t)off != fh->acc_len) {
		core_error(fs->core, rq,
			   "write at offset %lld: a list is written from offset 0 onwards",
			   (long long)off);
		r = -EINVAL;
		goto out;
	}
	if (memchr(buf, '\0', size)) {
		core_error(fs->core, rq, "value contains a NUL byte");
		r = -EINVAL;
		goto out;
	}
	if (off == 0)
		fh->acc_len = 0;
	if (fh->acc_len + size > FS_ATTR_MAX) {
		core_error(fs->core, rq, "value longer than %d bytes", FS_ATTR_MAX);
		r = -EINVAL;
		goto out;
	}
	fh->acc_prev = fh->acc_len;
	memcpy(fh->acc + fh->acc_len, buf, size);
	fh->acc_len += size;
	len = fh->acc_len;
	memcpy(val, fh->acc, len);
	if (len && val[len - 1] == '\n')
		len--;
	*ret_len = len;
out:
	pthread_mutex_unlock(&fh->lock);
	return r;
}

/*
 * The supplementary groups of the calling thread, from the "Groups:" line of its
 * /proc/PID/task/PID/status: up to max of them, or -errno. (libfuse 3.14's
 * fuse_req_getgroups() reads that file into a buffer it does not terminate, and strstr() runs
 * past its end: AddressSanitizer caught it in the daemon.) A caller whose groups cannot be
 * read opens files with none.
 */
static int caller_groups(pid_t pid, gid_t *list, int max)
{
	char path[64], buf[8192], *p;
	size_t len = 0;
	ssize_t r;
	int fd, n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < sizeof(buf) - 1 && (r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += r;
	close(fd);
	buf[len] = '\0';
	p = strstr(buf, "\nGroups:");
	if (!p)
		return -EIO;
	p += strlen("\nGroups:");
	while (n < max) {
		char *end;
		unsigned long g;

		p += strspn(p, " \t");
		if (*p < '0' || *p > '9')
			break;
		errno = 0;
		g = strtoul(p, &end, 10);
		if (errno || g > UINT32_MAX - 1)
			return -EIO;
		list[n++] = (gid_t)g;
		p = end;
	}
	return n;
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	struct fh *fh = (struct fh *)(uintptr_t)fi->fh;
	struct node *n = fh->n;
	char val[FS_ATTR_MAX + 1];
	struct core_req rq;
	size_t len = size;
	int r;

	make_req(req, n->path, &rq);
	if (n->attr->pwrite) {
		ssize_t done = n->attr->pwrite(fs, n, &rq, buf, size, off);

		if (done < 0)
			return (void)fuse_reply_err(req, (int)-done);
		return (void)fuse_reply_write(req, (size_t)done);
	}
	if (n->attr->write) {
		r = n->attr->write(fs, n, fh, &rq, buf, size);
		goto out;
	}
	if (n->attr->multiline) {
		/*
		 * A list (one entry per line) may come in several writes, as printf(1) and echo
		 * flush line by line: a write at offset 0 starts the list, one at the end of what
		 * this handle wrote extends it, and each write stores the whole list so far.
		 */
		r = multiline_value(fs, fh, &rq, buf, size, off, val, &len);
		if (r < 0)
			goto out;
	} else {
		if (off != 0) {
			core_error(fs->core, &rq,
				   "write at offset %lld: an attribute takes one whole "
				   "value at offset 0",
				   (long long)off);
			r = -EINVAL;
			goto out;
		}
		if (memchr(buf, '\0', size)) {
			core_error(fs->core, &rq, "value contains a NUL byte");
			r = -EINVAL;
			goto out;
		}
		if (len && buf[len - 1] == '\n')
			len--;
		if (len > FS_ATTR_MAX) {
			core_error(fs->core, &rq, "value longer than %d bytes", FS_ATTR_MAX);
			r = -EINVAL;
			goto out;
		}
		if (memchr(buf, '\n', len)) {
			core_error(fs->core, &rq, "one value per write: found more than one line");
			r = -EINVAL;
			goto out;
		}
		memcpy(val, buf, len);
	}
	val[len] = '\0';
	if (n->attr->creds) {
		/* read from /proc, so only for the stores that open files as the caller */
		r = caller_groups(rq.pid, rq.groups, CORE_MAX_GROUPS);
		rq.ngroups = r < 0 ? 0 : r;
	}
	r = n->attr->store(fs, n, &rq, val);
	pthread_mutex_lock(&fh->lock);
	if (n->attr->multiline)
		fh->acc_len = r < 0 ? fh->acc_prev : fh->acc_len;
	/* sysfs re-arms show after a write */
	fh->rendered = false;
	pthread_mutex_unlock(&fh->lock);
out:
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	fuse_reply_write(req, size);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fh *fh = (struct fh *)(uintptr_t)fi->fh;
	struct node *n = fh->n;
	struct core_req rq;
	int r = 0;

	if (n->attr->flush) {
		make_req(req, n->path, &rq);
		r = n->attr->flush(FS(req), n, fh, &rq);
	}
	fuse_reply_err(req, -r);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fh_free(FS(req), (struct fh *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static int add_entry(struct fh *fh, size_t *cap, const char *name, unsigned mode)
{
	if (fh->n_entries == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		void *p = realloc(fh->entries, nc * sizeof(*fh->entries));

		if (!p)
			return -ENOMEM;
		fh->entries = p;
		*cap = nc;
	}
	snprintf(fh->entries[fh->n_entries].name, CORE_NAME_MAX + 1, "%s", name);
	fh->entries[fh->n_entries++].mode = mode;
	return 0;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	struct node *n = node_by_ino(fs, ino);
	struct core_ioas_ref ref;
	const struct attr_def *a;
	const struct subdir *sd;
	struct core_name *names = NULL;
	size_t cap = 0, nn = 0;
	enum core_obj ok;
	struct fh *fh;
	int r = 0;

	if (!n || !node_alive(fs, n))
		return (void)fuse_reply_err(req, ENOENT);
	if (n->kind == N_ATTR || n->kind == N_LINK)
		return (void)fuse_reply_err(req, ENOTDIR);
	fh = calloc(1, sizeof(*fh));
	if (!fh)
		return (void)fuse_reply_err(req, ENOMEM);
	fh->n = n;
	fh->dir = true;
	add_entry(fh, &cap, ".", S_IFDIR);
	add_entry(fh, &cap, "..", S_IFDIR);
	for (a = fs_attrs(n->kind); a && a->name; a++)
		add_entry(fh, &cap, a->name, S_IFREG);
	for (sd = subdirs(n->kind); sd && sd->name; sd++)
		add_entry(fh, &cap, sd->name, S_IFDIR);
	ref = (struct core_ioas_ref){ n->ioas, n->ioas_serial };
	if (!container_kind(n->kind, &ok))
		r = core_obj_list(fs->core, ok, &names, &nn);
	else if (n->kind == N_WINDOWS)
		r = core_window_list(fs->core, ref, &names, &nn);
	else if (n->kind == N_IOAS_DEVS)
		r = core_ioas_devices(fs->core, ref, &names, &nn);
	for (size_t i = 0; i < nn; i++)
		add_entry(fh, &cap, names[i].name, n->kind == N_IOAS_DEVS ? S_IFLNK : S_IFDIR);
	free(names);
	if (n->kind == N_DEVICE) {
		char ioas[CORE_NAME_MAX + 1];

		if (!core_device_ioas(fs->core, n->ioas, n->ioas_serial, ioas))
			add_entry(fh, &cap, "ioas", S_IFLNK);
		pthread_mutex_lock(&fs->lock);
		for (int i = 0; i < FS_PENDING_LINKS; i++)
			if (fs->pending[i].used && fs->pending[i].dev_serial == n->ioas_serial)
				add_entry(fh, &cap, fs->pending[i].name, S_IFLNK);
		pthread_mutex_unlock(&fs->lock);
	}
	if (r < 0) {
		free(fh->entries);
		free(fh);
		return (void)fuse_reply_err(req, -r);
	}
	fi->fh = (uintptr_t)fh;
	fh_track(fs, fh);
	if (fuse_reply_open(req, fi) == -ENOENT)
		fh_free(fs, fh);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct fh *fh = (struct fh *)(uintptr_t)fi->fh;
	char *buf = malloc(size), *p = buf;
	size_t rem = size;

	if (!buf)
		return (void)fuse_reply_err(req, ENOMEM);
	for (size_t i = off; i < fh->n_entries; i++) {
		struct stat st = { .st_mode = fh->entries[i].mode };
		size_t l;

		/* informational inode numbers: stable per name, never 0 */
		st.st_ino = (hash_path(fh->entries[i].name) << 20) | (ino & 0xfffff) | 1;
		l = fuse_add_direntry(req, p, rem, fh->entries[i].name, &st, i + 1);
		if (l > rem)
			break;
		p += l;
		rem -= l;
	}
	fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fh_free(FS(req), (struct fh *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	/* `echo v > attr` arrives as OPEN(O_TRUNC) then WRITE at 0, no SETATTR */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/*
	 * No splice: libfuse would move each write through a pipe into a fresh heap buffer
	 * (for a 1 MiB batch, an mmap and page clearing per request); reading /dev/fuse straight
	 * into the worker's own buffer costs one copy and nothing else.
	 */
	conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	/*
	 * io_uring writes to the batch file are async direct I/O, i.e. background requests:
	 * allow enough of them that several linked WRITE+READ pairs per program stream.
	 */
	conn->max_background = 128;
	conn->congestion_threshold = 96;
	/*
	 * `dma` reads and writes of up to 1 MiB arrive as one request each: libfuse asks the
	 * kernel for 256-page requests and max_write of 1 MiB, and sets no max_read (which
	 * would also need the mount option); ask for no less.
	 */
	if (conn->max_write < (1u << 20))
		conn->max_write = 1u << 20;
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.create = op_create,
};

int fs_init(struct fs *fs, struct core *core, const char *mountpoint)
{
	struct node *root;

	memset(fs, 0, sizeof(*fs));
	fs->core = core;
	fs->started = time(NULL);
	fs->mountpoint = realpath(mountpoint, NULL);
	fs->by_ino = calloc(N_BUCKETS, sizeof(*fs->by_ino));
	fs->by_path = calloc(N_BUCKETS, sizeof(*fs->by_path));
	root = calloc(1, sizeof(*root));
	if (!fs->mountpoint || !fs->by_ino || !fs->by_path || !root) {
		free(root);
		fs_fini(fs);
		return -ENOMEM;
	}
	pthread_mutex_init(&fs->lock, NULL);
	root->ino = FUSE_ROOT_ID;
	root->nlookup = 1;
	root->kind = N_ROOT;
	root->path = strdup("");
	root->name = root->path;
	fs->by_ino[hash_ino(FUSE_ROOT_ID)] = root;
	fs->next_ino = FUSE_ROOT_ID + 1;
	return root->path ? 0 : -ENOMEM;
}

void fs_fini(struct fs *fs)
{
	while (fs->open)
		fh_free(fs, fs->open);
	if (fs->by_ino) {
		for (size_t i = 0; i < N_BUCKETS; i++)
			while (fs->by_ino[i])
				node_free_locked(fs, fs->by_ino[i]);
		pthread_mutex_destroy(&fs->lock);
	}
	free(fs->by_ino);
	free(fs->by_path);
	free(fs->mountpoint);
	fs->by_ino = fs->by_path = NULL;
	fs->mountpoint = NULL;
}
