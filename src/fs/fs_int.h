/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the frontend's files share: fs.c (the node tables, lookup, attributes, mkdir and
 * rmdir, and the operations table), link.c, file.c and dir.c. main.c and attrs.c see fs.h.
 */
#ifndef IOASFS_FS_INT_H
#define IOASFS_FS_INT_H

#include "fs/fs.h"

#define FS(req) ((struct fs *)fuse_req_userdata(req))

/* fs.c */
size_t hash_path(const char *s);
struct node *node_by_ino(struct fs *fs, fuse_ino_t ino);
bool node_alive(struct fs *fs, const struct node *n);
int child_template(struct fs *fs, const struct node *parent, const char *name, struct node *t);
int may_own(struct fs *fs, const struct core_req *rq, const struct node *n);
void reply_entry(fuse_req_t req, struct fs *fs, struct node *n);
void make_req(fuse_req_t req, const char *path, struct core_req *rq);
int do_lookup(struct fs *fs, struct node *parent, const char *name, struct node **ret);
int entry_req(fuse_req_t req, struct fs *fs, const struct node *p, const char *name,
	      char **ret_path, struct core_req *rq);

/* link.c */
void op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name);
void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	       const char *newname, unsigned int flags);
void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi);

/* file.c */
void fh_track(struct fs *fs, struct fh *fh);
void fh_free(struct fs *fs, struct fh *fh);
void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	      struct fuse_file_info *fi);
void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

/* dir.c */
void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

#endif
