/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Links: a device's `ioas` link (attach, detach, replace) and the temporaries of ln -sf,
 * renamed over it; and unlink and rename in general.
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

void op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
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

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
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

void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
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

void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	fuse_reply_err(req, EPERM);
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi)
{
	fuse_reply_err(req, EPERM);
}
