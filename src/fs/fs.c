/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The FUSE low-level frontend: path -> node, directory listings, sysfs-like attribute files,
 * mkdir/rmdir/symlink/unlink/rename mapped onto core objects. It owns no IOMMU semantics.
 *
 * Every handler ends in exactly one reply, errors through one fuse_reply_err(). Attribute
 * files are direct_io with st_size 4096, as sysfs files are (ioasfs.5, Attribute files):
 * every read and write reaches us, a read at offset 0 renders the file again, and a write carries
 * one whole value at offset 0. Entry and attribute timeouts are 0 because other clients change the
 * tree (an attach makes a link appear in ioas/NAME/devices) and we never want the kernel to answer
 * from a stale cache.
 *
 * Nodes live in two hash tables: by inode number (for the kernel) and by path (so repeated
 * lookups return the same inode). A node found by path is re-validated against the core's
 * serial numbers, so after `rmdir ioas/vm; mkdir ioas/vm` old handles see ENOENT and new
 * lookups get new inodes.
 *
 * Links (link.c), open files (file.c) and listings (dir.c) have their own files.
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
#include "fs/fs_int.h"

#define N_BUCKETS 16384

/* ---------------------------------------------------------------- node tables */

static size_t hash_ino(fuse_ino_t ino)
{
	return (ino * 0x9e3779b97f4a7c15ull) >> 50;
}

size_t hash_path(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h % N_BUCKETS;
}

struct node *node_by_ino(struct fs *fs, fuse_ino_t ino)
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
bool node_alive(struct fs *fs, const struct node *n)
{
	struct core_ioas_ref ref = { n->ioas, n->ioas_serial };
	char name[CORE_NAME_MAX + 1];
	uint64_t s;
	enum nkind k = n->kind == N_ATTR ? n->dir_kind : n->kind;

	if (k != N_LINK && dir_types[k].owner != FS_NO_OBJ) {
		if (core_obj_lookup(fs->core, (enum core_obj)dir_types[k].owner, n->ioas, &s) ||
		    s != n->ioas_serial)
			return false;
		if (k == N_WINDOW &&
		    (core_window_lookup(fs->core, ref, n->obj, &s) || s != n->obj_serial))
			return false;
		return true;
	}
	switch (k) {
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
int child_template(struct fs *fs, const struct node *parent, const char *name, struct node *t)
{
	const struct attr_def *a;
	const struct subdir *sd;
	struct core_ioas_ref ref = { parent->ioas, parent->ioas_serial };
	char ioas[CORE_NAME_MAX + 1];
	enum core_obj okind;
	uint64_t s;

	memset(t, 0, sizeof(*t));
	/* context is inherited */
	memcpy(t->ioas, parent->ioas, sizeof(t->ioas));
	t->ioas_serial = parent->ioas_serial;
	memcpy(t->obj, parent->obj, sizeof(t->obj));
	t->obj_serial = parent->obj_serial;

	if (strlen(name) > CORE_NAME_MAX)
		return -ENOENT;
	for (a = dir_types[parent->kind].attrs; a && a->name; a++)
		if (!strcmp(a->name, name)) {
			t->kind = N_ATTR;
			t->attr = a;
			t->dir_kind = parent->kind;
			return 0;
		}
	for (sd = dir_types[parent->kind].subdirs; sd && sd->name; sd++)
		if (!strcmp(sd->name, name)) {
			t->kind = sd->kind;
			return 0;
		}
	if (dir_types[parent->kind].children != FS_NO_OBJ) {
		okind = (enum core_obj)dir_types[parent->kind].children;
		if (core_obj_lookup(fs->core, okind, name, &s))
			return -ENOENT;
		t->kind = obj_dir[okind];
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
	enum nkind k = n->kind == N_ATTR ? n->dir_kind : n->kind;

	if (k == N_LINK)
		/* devices/D/ioas (and ln -sf temporaries) name the device, no obj */
		*ret_kind = n->obj[0] ? CORE_IOAS : CORE_DEVICE;
	else if (dir_types[k].owner != FS_NO_OBJ)
		*ret_kind = (enum core_obj)dir_types[k].owner;
	else
		return -1;
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
int may_own(struct fs *fs, const struct core_req *rq, const struct node *n)
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
		if (fs->multiuser && dir_types[n->kind].children != FS_NO_OBJ)
			st->st_mode = S_IFDIR | S_ISVTX | 0777;
		st->st_nlink = 2;
		break;
	}
}

void reply_entry(fuse_req_t req, struct fs *fs, struct node *n)
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

void make_req(fuse_req_t req, const char *path, struct core_req *rq)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	rq->pid = ctx->pid;
	rq->uid = ctx->uid;
	rq->gid = ctx->gid;
	rq->path = path;
	rq->prefix = NULL;
	rq->quiet = false;
	rq->ngroups = 0;
	rq->reason = NULL;
	rq->reason_len = 0;
}

/* Lookup helper shared by lookup/mkdir/symlink. */
int do_lookup(struct fs *fs, struct node *parent, const char *name, struct node **ret)
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
int entry_req(fuse_req_t req, struct fs *fs, const struct node *p, const char *name,
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
	enum core_obj okind;
	char *path;
	int r;

	r = entry_req(req, fs, p, name, &path, &rq);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	if (dir_types[p->kind].children != FS_NO_OBJ) {
		okind = (enum core_obj)dir_types[p->kind].children;
		r = core_obj_create(fs->core, &rq, okind, name);
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
	enum core_obj okind;
	char *path;
	int r;

	r = entry_req(req, fs, p, name, &path, &rq);
	if (r < 0)
		return (void)fuse_reply_err(req, -r);
	if (dir_types[p->kind].children != FS_NO_OBJ) {
		okind = (enum core_obj)dir_types[p->kind].children;
		uint64_t serial = 0;

		core_obj_lookup(fs->core, okind, name, &serial);
		r = core_obj_remove(fs->core, &rq, okind, name);
		if (r == 0 && okind == CORE_DEVICE) {
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
