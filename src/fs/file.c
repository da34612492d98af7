/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Open files: handles, and read, write, flush and release of attribute, command, listing,
 * batch and dma files.
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
 * Open handles are listed so that the ones the kernel never released (a lazy unmount while a
 * process holds a file) are freed when the daemon stops, not leaked.
 */
void fh_track(struct fs *fs, struct fh *fh)
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

void fh_free(struct fs *fs, struct fh *fh)
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

/* Open handles of uid on files of attribute attr (rendered ones only, if so); fs->lock held. */
static unsigned handles_of(struct fs *fs, uid_t uid, const struct attr_def *attr, bool rendered)
{
	unsigned n = 0;

	for (struct fh *o = fs->open; o; o = o->next_open)
		n += !o->dir && o->n->attr == attr && o->uid == uid && (!rendered || o->rendered);
	return n;
}

/* One more batch session for uid: 0, or -EMFILE past the mount's bound or uid's share. */
static int session_take(struct fs *fs, fuse_req_t req, struct node *n, uid_t uid)
{
	unsigned mine = 0;
	struct core_req rq;
	int r = 0;

	pthread_mutex_lock(&fs->lock);
	if (fs->multiuser && uid != 0)
		mine = handles_of(fs, uid, n->attr, false);
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

void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
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
	struct core_req rq;
	unsigned mine;

	if (!fs->multiuser || fh->uid == 0)
		return 0;
	pthread_mutex_lock(&fs->lock);
	mine = handles_of(fs, fh->uid, n->attr, true); /* fh is not rendered yet */
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

void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
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
	val[len] = '\0';
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

void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
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
		enum attr_refusal why;

		if (off != 0) {
			core_error(fs->core, &rq,
				   "write at offset %lld: an attribute takes one whole "
				   "value at offset 0",
				   (long long)off);
			r = -EINVAL;
			goto out;
		}
		r = attr_input(buf, size, val, sizeof(val), &why);
		if (why == ATTR_NUL)
			core_error(fs->core, &rq, "value contains a NUL byte");
		else if (why == ATTR_LONG)
			core_error(fs->core, &rq, "value longer than %d bytes", FS_ATTR_MAX);
		else if (why == ATTR_LINES)
			core_error(fs->core, &rq, "one value per write: found more than one line");
		if (r < 0)
			goto out;
	}
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

void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
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

void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fh_free(FS(req), (struct fh *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}
