/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The FUSE frontend's shared definitions. Directories are typed nodes; each type has a table
 * of attribute files (attrs.c) and knows how to find its dynamic children in the core. Nodes
 * copy the names and serials of the objects they stand for, so a node that outlives its
 * object (a cached dentry, an open file) resolves to ENOENT rather than to whatever object
 * later takes the same name.
 */
#ifndef IOASFS_FS_H
#define IOASFS_FS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/core.h"
#include "util/sbuf.h"
#include "ioasfs/batch.h"

/* Bounds of the text interface (ioasfs.5). */
#define FS_ATTR_MAX	 4096	    /* one attribute value */
#define FS_LINE_MAX	 1024	    /* one map/unmap command line */
#define FS_LINES_MAX	 65536	    /* command lines in one write */
#define FS_RESULTS_MAX	 (1u << 20) /* result bytes a read-write handle keeps unread */
#define FS_PENDING_LINKS 64	    /* ln -sf temporaries across all devices */
/* Listings that grow past a page report size 0 as procfs does, so tail(1) reads them whole. */
#define FS_SIZE_STREAM	UINT64_MAX
#define FS_MAX_SESSIONS 1024 /* open batch handles */
#define FS_MAX_WHOLE	4    /* rendered handles of a whole-file listing one user keeps */

enum nkind {
	N_ROOT,
	N_PLATFORM,
	N_IOAS_DIR,    /* ioas/ */
	N_DEVICES_DIR, /* devices/ */
	N_SOURCES_DIR, /* sources/ */
	N_IOAS,	       /* ioas/NAME/ */
	N_WINDOWS,     /* ioas/NAME/windows/ */
	N_WINDOW,      /* ioas/NAME/windows/W/ */
	N_IOAS_DEVS,   /* ioas/NAME/devices/ */
	N_OPTIONS,     /* ioas/NAME/options/ */
	N_DEVICE,      /* devices/D/ */
	N_SOURCE,      /* sources/S/ */
	N_ATTR,	       /* an attribute file */
	N_LINK,	       /* a symlink */
};

struct fs;
struct node;
struct fh;

struct attr_def {
	const char *name;
	unsigned mode;
	/* Render the whole file. */
	int (*show)(struct fs *fs, struct node *n, struct sbuf *sb);
	/* One value, trailing newline removed, NUL-terminated. */
	int (*store)(struct fs *fs, struct node *n, struct core_req *rq, const char *val);
	/* Command files (map, unmap): raw bytes of one write. */
	int (*write)(struct fs *fs, struct node *n, struct fh *fh, struct core_req *rq,
		     const char *data, size_t len);
	/* Stream files: take up to size bytes of what the handle has queued into buf. */
	size_t (*read)(struct fs *fs, struct fh *fh, char *buf, size_t size);
	/* close(2) of a handle (FLUSH): finish what the writes left pending. */
	int (*flush)(struct fs *fs, struct node *n, struct fh *fh, struct core_req *rq);
	/* Positional files (dma): a read replies by itself, exactly once. */
	void (*pread)(struct fs *fs, struct node *n, fuse_req_t req, struct core_req *rq,
		      size_t size, off_t off);
	/* ... and a write returns the bytes it took, or -errno. */
	ssize_t (*pwrite)(struct fs *fs, struct node *n, struct core_req *rq, const char *buf,
			  size_t size, off_t off);
	uint64_t st_size; /* 0: 4096, like sysfs; FS_SIZE_STREAM: the current length */
	bool session;	  /* each handle is a counted batch session */
	bool creds;	  /* the store opens files: give it the caller's groups too */
	bool multiline;	  /* the value may span lines (a list) */
	bool whole;	  /* a large listing rendered whole per handle: FS_MAX_WHOLE per user */
	/* Listing files: the length show would render, without rendering it (optional). */
	int (*length)(struct fs *fs, struct node *n, uint64_t *ret);
	/*
	 * Long listings, instead of show: append the lines from *cursor on, about max bytes,
	 * and move *cursor past them (*done at the end). Each call takes the object's lock
	 * once, briefly; a handle keeps only the window of text it is reading.
	 */
	int (*chunk)(struct fs *fs, struct node *n, uint64_t *cursor, bool *done, struct sbuf *sb,
		     size_t max);
};

struct node {
	fuse_ino_t ino;
	uint64_t nlookup;
	fuse_ino_t parent_ino;
	enum nkind kind;
	const struct attr_def *attr;  /* N_ATTR */
	enum nkind dir_kind;	      /* N_ATTR: the kind of directory it lives in */
	char *path;		      /* "/ioas/vm/map" */
	const char *name;	      /* last component of path */
	char ioas[CORE_NAME_MAX + 1]; /* context: the IOAS, device or source */
	uint64_t ioas_serial;
	char obj[CORE_NAME_MAX + 1]; /* context: a window, or a device for links */
	uint64_t obj_serial;
	bool hashed; /* reachable by path */
	struct node *next_ino, *next_path;
};

struct fh {
	struct node *n;
	struct fh *prev_open, *next_open; /* fs->open: freed at unmount if never released */
	bool dir;
	bool rdwr;	  /* command files: record results */
	uid_t uid;	  /* who opened it: batch sessions count against its share */
	struct sbuf snap; /* rendered attribute; for chunk files, the text from snap_off */
	bool rendered;
	uint64_t snap_off, cursor; /* chunk files: where snap starts, where the next chunk does */
	bool done;
	struct sbuf results;
	pthread_mutex_t lock;
	pthread_mutex_t exec; /* batch: one write of a session at a time */
	/* list attributes: what this handle has written so far */
	size_t acc_len, acc_prev;
	char acc[FS_ATTR_MAX];
	/* command files: an unterminated last line, completed by the next write */
	size_t carry_len;
	char carry[FS_LINE_MAX + 1];
	/* batch sessions: a ring of completions */
	struct ioasfs_cqe *cq;
	size_t cq_head, cq_len, cq_cap;
	bool cq_full_logged;
	struct ioasfs_cqe *out; /* scratch: one write's completions */
	size_t out_cap;
	struct ioasfs_cmd *host; /* scratch: records in host order, when the wire's is not */
	size_t host_cap;
	/* directory listings */
	size_t n_entries;
	struct fh_dirent {
		char name[CORE_NAME_MAX + 1];
		unsigned mode;
	} * entries;
};

struct pending_link {
	bool used;
	uid_t uid; /* who made it: its share of FS_PENDING_LINKS */
	uint64_t dev_serial;
	char name[CORE_NAME_MAX + 1];
	char ioas[CORE_NAME_MAX + 1];
};

struct fs {
	struct core *core;
	struct fuse_session *se;
	char *mountpoint;     /* absolute */
	time_t started;	      /* the time every file shows */
	pthread_mutex_t lock; /* the node tables and pending links */
	fuse_ino_t next_ino;
	size_t n_buckets;
	struct node **by_ino, **by_path;
	struct pending_link pending[FS_PENDING_LINKS];
	unsigned sessions;   /* open batch handles, under lock */
	struct fh *open;     /* every open file and directory, under lock */
	char uring_cmd[128]; /* what the start-up probe found */
	bool multiuser;	     /* -o allow_other: objects belong to their makers */
};

extern const struct fuse_lowlevel_ops fs_ops;

int fs_init(struct fs *fs, struct core *core, const char *mountpoint);
void fs_fini(struct fs *fs);

/* attrs.c: the attribute table of a directory kind (NULL-terminated), or NULL. */
/* A fixed subdirectory of a directory kind. */
struct subdir {
	const char *name;
	enum nkind kind;
};

#define FS_NO_OBJ (-1)

/*
 * One row per directory kind (attrs.c), as configfs gives each item a config_item_type:
 * its attribute files, its fixed subdirectories, the core kind of the objects mkdir makes in
 * it (ioas/, devices/, sources/), and the core kind of the object that owns it (whose owner
 * owns its files); FS_NO_OBJ for none.
 */
struct dir_type {
	const struct attr_def *attrs;
	const struct subdir *subdirs;
	int children;
	int owner;
};

extern const struct dir_type dir_types[];
/* The directory kind of an object of each core kind: ioas/NAME is N_IOAS, ... */
extern const enum nkind obj_dir[CORE_OBJ_KINDS];
/* Parse "auto" or a number/size; returns CORE_AUTO for auto. */
int fs_parse_auto(const char *val, bool size, uint64_t *ret);

#endif
