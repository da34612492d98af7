/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Directory listings: opendir, readdir, releasedir.
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

void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	struct node *n = node_by_ino(fs, ino);
	struct core_ioas_ref ref;
	const struct attr_def *a;
	const struct subdir *sd;
	struct core_name *names = NULL;
	size_t cap = 0, nn = 0;
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
	for (a = dir_types[n->kind].attrs; a && a->name; a++)
		add_entry(fh, &cap, a->name, S_IFREG);
	for (sd = dir_types[n->kind].subdirs; sd && sd->name; sd++)
		add_entry(fh, &cap, sd->name, S_IFDIR);
	ref = (struct core_ioas_ref){ n->ioas, n->ioas_serial };
	if (dir_types[n->kind].children != FS_NO_OBJ)
		r = core_obj_list(fs->core, (enum core_obj)dir_types[n->kind].children, &names,
				  &nn);
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

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
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

void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fh_free(FS(req), (struct fh *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}
