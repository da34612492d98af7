/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Memory as a device sees it, and memory a program hands over by file descriptor.
 *
 * The `dma` file reads and writes an IOAS at an IOVA: the range is walked through the
 * mappings under the IOAS lock, each piece of it is a span of the daemon's own view of the
 * memory behind a mapping (a source's mmap, or an fd view), and a piece must allow the access
 * a device would make (IOMMU_READ for a device read = a file read, IOMMU_WRITE for a write).
 * Reads hand the pieces to the caller as they are (the frontend replies straight from them);
 * only a range cut into very many pieces is gathered into one buffer. Memory is copied with
 * process_vm_readv/writev on the daemon itself rather than memcpy: a file shrunk under a
 * mapping then gives EFAULT, where a plain load or store would kill the daemon with SIGBUS.
 *
 * A map by fd takes the descriptor out of the calling process (pidfd_open of the caller's
 * thread group, then pidfd_getfd; where pidfds are missing, /proc/PID/fd/N opened again with
 * the descriptor's own access mode), after checking that the uid the request came with owns
 * that process (its real, effective and saved uids, as ptrace requires) and that the file
 * was opened with the access the mapping needs. The mapping gets a private source, named
 * fd/PID/N, holding the daemon's MAP_SHARED view of the mapped range of the file: the backend
 * maps the file itself where it can (IOMMU_IOAS_MAP_FILE, for shmem and hugetlbfs files on a
 * kernel that has it), else that view, and `dma` always
 * reads the view. The view lives as long as a mapping (copies included) uses it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "core/core_int.h"
#include "util/itree.h"
#include "util/mountinfo.h"
#include "util/opener.h"
#include "util/parse.h"

#define RW_IOV 1024 /* remote pieces per process_vm_readv/writev (UIO_MAXIOV) */

/* ---------------------------------------------------------------- the dma walk */

/* One piece of the walked range: called in IOVA order; a non-zero return stops the walk. */
typedef int piece_fn(void *arg, char *mem, size_t len);

static const char *const dir_name[2] = { "read", "write" };

/*
 * Walk [iova, iova + len) of io (locked) through its mappings, handing each piece of memory
 * to fn. Stops at a hole, at a mapping without the access, or when fn says so. Returns the
 * bytes handed over (fn's stop included), or -EFAULT / -EACCES for the first byte, or fn's
 * -errno.
 */
static ssize_t dma_walk(struct core *c, struct ioas *io, const struct core_req *rq, uint64_t iova,
			size_t len, bool write, piece_fn *fn, void *arg)
{
	unsigned need = write ? CORE_PROT_WRITE : CORE_PROT_READ;
	struct itree_node *n = itree_find(&io->maps, iova);
	uint64_t at = iova;
	size_t done = 0;
	int r;

	if (!len)
		return 0;
	if (!n) {
		ioas_error(c, io, rq, "dma %s 0x%" PRIx64 ": nothing mapped there", dir_name[write],
			   iova);
		return -EFAULT;
	}
	while (done < len) {
		struct mapping *m = itree_entry(n, struct mapping, node);
		uint64_t avail = n->last - at; /* minus one: n->last may be UINT64_MAX */
		size_t piece = len - done - 1 < avail ? len - done : (size_t)avail + 1;

		if (!(m->prot & need)) {
			if (done)
				break;
			ioas_error(c, io, rq,
				   "dma %s 0x%" PRIx64 ": mapping 0x%" PRIx64 "-0x%" PRIx64
				   " (%s+0x%" PRIx64 ") is %s",
				   dir_name[write], iova, n->start, n->last, m->src->o.name,
				   m->offset,
				   write ? "not writable (no w)" : "not readable (no r)");
			return -EACCES;
		}
		r = fn(arg, source_ptr(m->src, m->offset + (at - n->start)), piece);
		if (r < 0)
			return r;
		done += piece;
		if (r > 0 || done == len || n->last == UINT64_MAX)
			break;
		at = n->last + 1;
		n = itree_next(n);
		if (!n || n->start != at)
			break;
	}
	return (ssize_t)done;
}

/* Copy pieces to or from one local buffer with process_vm_{read,write}v on ourselves. */
struct vm_copy {
	bool write;
	char *buf; /* the local side, consumed as pieces come */
	struct iovec remote[RW_IOV];
	unsigned n;
	size_t pending;
};

static int vm_flush(struct vm_copy *v)
{
	struct iovec local = { v->buf, v->pending };
	ssize_t r;

	if (!v->n)
		return 0;
	if (v->write)
		r = process_vm_writev(getpid(), &local, 1, v->remote, v->n, 0);
	else
		r = process_vm_readv(getpid(), &local, 1, v->remote, v->n, 0);
	if (r < 0)
		return -errno;
	if ((size_t)r != v->pending)
		return -EFAULT;
	v->buf += v->pending;
	v->pending = 0;
	v->n = 0;
	return 0;
}

static int vm_piece(void *arg, char *mem, size_t len)
{
	struct vm_copy *v = arg;

	v->remote[v->n++] = (struct iovec){ mem, len };
	v->pending += len;
	return v->n == RW_IOV ? vm_flush(v) : 0;
}

/* Collect up to CORE_DMA_IOV pieces; 1 (stop) on one more. */
struct iov_list {
	struct iovec iov[CORE_DMA_IOV];
	int n;
	bool more;
};

static int iov_piece(void *arg, char *mem, size_t len)
{
	struct iov_list *l = arg;

	if (l->n == CORE_DMA_IOV) {
		l->more = true;
		return 1;
	}
	l->iov[l->n++] = (struct iovec){ mem, len };
	return 0;
}

/* "source memory is gone": the file behind a mapping shrank under it. */
static int vm_failed(struct core *c, struct ioas *io, const struct core_req *rq, bool write,
		     uint64_t iova, int err)
{
	ioas_error(c, io, rq,
		   "dma %s 0x%" PRIx64 ": the memory behind the mapping faults (%s; "
		   "a file shrunk under it?)",
		   dir_name[write], iova, errno_name(-err));
	return err;
}

int core_dma_read(struct core *c, const struct core_req *rq, struct core_ioas_ref r, uint64_t iova,
		  size_t len, int (*fn)(void *arg, const struct iovec *iov, int n), void *arg)
{
	struct ioas *io = core_ioas_get(c, r);
	struct iov_list *l = NULL;
	struct vm_copy *v = NULL;
	ssize_t got;
	int ret;

	if (!io)
		return -ENOENT;
	l = malloc(sizeof(*l));
	if (!l) {
		ret = -ENOMEM;
		goto out;
	}
	l->n = 0;
	l->more = false;
	got = dma_walk(c, io, rq, iova, len, false, iov_piece, l);
	if (got < 0) {
		ret = (int)got;
		goto out;
	}
	if (!l->more) {
		ret = fn(arg, l->iov, l->n);
		goto out;
	}
	/* more pieces than a reply should carry: gather them into one buffer */
	v = malloc(sizeof(*v));
	l->iov[0].iov_base = malloc(len);
	if (!v || !l->iov[0].iov_base) {
		free(l->iov[0].iov_base);
		ret = -ENOMEM;
		goto out;
	}
	*v = (struct vm_copy){ .write = false, .buf = l->iov[0].iov_base };
	got = dma_walk(c, io, rq, iova, len, false, vm_piece, v);
	ret = got < 0 ? (int)got : vm_flush(v);
	if (ret < 0) {
		vm_failed(c, io, rq, false, iova, ret);
	} else {
		l->iov[0].iov_len = (size_t)got;
		ret = fn(arg, l->iov, 1);
	}
	free(l->iov[0].iov_base);
out:
	core_ioas_put(c, io);
	free(v);
	free(l);
	return ret;
}

ssize_t core_dma_write(struct core *c, const struct core_req *rq, struct core_ioas_ref r,
		       uint64_t iova, const void *buf, size_t len)
{
	struct ioas *io = core_ioas_get(c, r);
	struct vm_copy *v;
	ssize_t got;
	int ret;

	if (!io)
		return -ENOENT;
	v = malloc(sizeof(*v));
	if (!v) {
		got = -ENOMEM;
		goto out;
	}
	*v = (struct vm_copy){ .write = true, .buf = (char *)buf };
	got = dma_walk(c, io, rq, iova, len, true, vm_piece, v);
	if (got >= 0) {
		ret = vm_flush(v);
		if (ret < 0)
			got = vm_failed(c, io, rq, true, iova, ret);
	}
	free(v);
out:
	core_ioas_put(c, io);
	return got;
}

/* ---------------------------------------------------------------- map by fd */

/* A small file of /proc, NUL-terminated: 0 or -ESRCH (-EBADF for a missing fdinfo). */
static int proc_read(int dirfd, const char *name, char *buf, size_t len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT && !strncmp(name, "fd", 2) ? -EBADF : -ESRCH;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	return 0;
}

/* The Tgid and the Uid line (real, effective, saved, fs) of a /proc/PID directory. */
static int proc_status(int dirfd, pid_t *ret_tgid, uid_t uids[4])
{
	char buf[4096], *p;
	unsigned long u[4];
	long tgid;
	int ret = proc_read(dirfd, "status", buf, sizeof(buf));

	if (ret < 0)
		return ret;
	p = strstr(buf, "\nTgid:");
	if (!p || sscanf(p + 6, "%ld", &tgid) != 1)
		return -ESRCH;
	p = strstr(buf, "\nUid:");
	if (!p || sscanf(p + 5, "%lu %lu %lu %lu", &u[0], &u[1], &u[2], &u[3]) != 4)
		return -ESRCH;
	*ret_tgid = (pid_t)tgid;
	for (int i = 0; i < 4; i++)
		uids[i] = (uid_t)u[i];
	return 0;
}

static int proc_open(pid_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -ESRCH : fd;
}

/*
 * Is descriptor fdnum of the process whose /proc directory is dirfd on a FUSE file system?
 * Found without asking any file system (mountinfo.h): a stat of a file of this very mount
 * would be a request the daemon sends itself, which a daemon run under valgrind (one thread
 * at a time) never gets to answer, and a file of another FUSE file system would make the
 * daemon wait on that one's server.
 */
static bool fd_on_fuse(int dirfd, int fdnum)
{
	struct fd_mount m;

	return fd_mount(dirfd, fdnum, &m) == 0 && mount_is_fuse(m.type);
}

/*
 * Descriptor fdnum of the process whose /proc directory is procfd (tgid): pidfd_getfd, or
 * where the system has no pidfds (before Linux 5.6, or under a seccomp filter or valgrind
 * that refuses them) the file opened again through /proc/PID/fd/N with the access mode the
 * descriptor has (its fdinfo flags), which gives the daemon no access the descriptor does not.
 */
static int get_fd(int procfd, pid_t tgid, int fdnum)
{
	char name[32], info[1024], *p;
	unsigned long flags;
	struct stat st;
	int pidfd, fd, ret;

	pidfd = (int)syscall(SYS_pidfd_open, tgid, 0);
	if (pidfd >= 0) {
		/* the number could have been reused since procfd: is procfd's process alive? */
		ret = proc_status(procfd, &(pid_t){ 0 }, (uid_t[4]){ 0 });
		fd = ret < 0 ? ret : (int)syscall(SYS_pidfd_getfd, pidfd, fdnum, 0);
		if (fd == -1)
			fd = -errno;
		close(pidfd);
		if (fd != -ENOSYS)
			return fd;
	} else if (errno != ENOSYS) {
		return -ESRCH;
	}
	snprintf(name, sizeof(name), "fdinfo/%d", fdnum);
	ret = proc_read(procfd, name, info, sizeof(info));
	if (ret < 0)
		return ret;
	p = strstr(info, "flags:");
	if (!p || sscanf(p + 6, "%lo", &flags) != 1 || (flags & O_PATH))
		return -EBADF;
	if (fd_on_fuse(procfd, fdnum))
		return -EXDEV; /* not memory, and no stat of it through the link */
	/* open nothing but a regular file: a FIFO's open could wait, a device's act */
	snprintf(name, sizeof(name), "fd/%d", fdnum);
	if (fstatat(procfd, name, &st, 0) < 0)
		return errno == ENOENT ? -EBADF : -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	fd = openat(procfd, name, (int)(flags & O_ACCMODE) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	return fd < 0 ? (errno == ENOENT ? -EBADF : -errno) : fd;
}

/*
 * A duplicate of descriptor fdnum of the process rq came from, if rq's uid owns it and the
 * file allows prot. 0 with *ret_fd and *ret_tgid, or -errno with the reason in why. The
 * process is held by its /proc directory, so that a pid reused meanwhile cannot answer.
 */
static int take_fd(const struct core_req *rq, int fdnum, unsigned prot, int *ret_fd,
		   pid_t *ret_tgid, char *why, size_t wlen)
{
	pid_t tgid;
	uid_t uids[4];
	int procfd, fd = -1, fl, ret;
	struct stat st;

	/* the request names a thread (an io-wq worker under io_uring): find its process */
	procfd = proc_open(rq->pid);
	ret = procfd < 0 ? procfd : proc_status(procfd, &tgid, uids);
	if (procfd >= 0)
		close(procfd);
	procfd = ret < 0 ? ret : proc_open(tgid);
	ret = procfd < 0 ? procfd : proc_status(procfd, &tgid, uids);
	if (ret < 0) {
		snprintf(why, wlen, "the calling process %d is gone", (int)rq->pid);
		goto out;
	}
	if (rq->uid != 0 && (uids[0] != rq->uid || uids[1] != rq->uid || uids[2] != rq->uid)) {
		snprintf(why, wlen,
			 "process %d (uids %u/%u/%u) is not owned by the caller's uid %u",
			 (int)tgid, (unsigned)uids[0], (unsigned)uids[1], (unsigned)uids[2],
			 (unsigned)rq->uid);
		ret = -EPERM;
		goto out;
	}
	fd = get_fd(procfd, tgid, fdnum);
	if (fd < 0) {
		ret = fd;
		if (ret == -EXDEV) {
			ret = -EINVAL;
			snprintf(why, wlen, "fd %d %s", fdnum, opener_why_str(OPENER_NOT_MEMORY));
		} else if (ret == -EINVAL)
			snprintf(why, wlen, "fd %d is not a regular file", fdnum);
		else
			snprintf(why, wlen, "fd %d of process %d: %s", fdnum, (int)tgid,
				 ret == -EBADF ? "not open" : errno_name(-ret));
		goto out;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY ||
	    ((prot & CORE_PROT_WRITE) && (fl & O_ACCMODE) != O_RDWR)) {
		snprintf(why, wlen, "fd %d is open %s; a mapping with %s needs %s", fdnum,
			 fl < 0				? "oddly"
			 : (fl & O_ACCMODE) == O_WRONLY ? "write-only"
							: "read-only",
			 prot & CORE_PROT_WRITE ? "w" : "r",
			 prot & CORE_PROT_WRITE ? "O_RDWR" : "O_RDONLY or O_RDWR");
		ret = -EPERM;
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, wlen, "fd %d is not a regular file", fdnum);
		ret = -EINVAL;
		goto out;
	}
	*ret_fd = fd;
	*ret_tgid = tgid;
	fd = -1;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (procfd >= 0)
		close(procfd);
	return ret;
}

/*
 * IOMMU_IOAS_MAP_FILE pins a file's pages by the file (memfd_pin_folios), which only shmem
 * (memfds, tmpfs) and hugetlbfs files allow; a ramfs file is mapped through the view.
 */
static bool file_pinnable(const struct statfs *sf)
{
	return sf->f_type == TMPFS_MAGIC || sf->f_type == HUGETLBFS_MAGIC;
}

/*
 * The daemon's view of the range of descriptor fdnum of rq's process, with no lock held: the
 * fd is taken, checked and mapped here, where a file system that is slow to answer (or that
 * is this mount) delays this request alone. Only memory is accepted: a file whose pages
 * wait on I/O would stall every later `dma` read of the IOAS, under its lock.
 */
int core_fd_view_make(const struct core_req *rq, int fdnum, uint64_t offset, uint64_t length,
		      unsigned prot, struct core_fd_view *v)
{
	uint64_t map_off, end;
	struct statfs sf;
	struct stat st;
	struct source *s;
	pid_t tgid = 0;
	int fd = -1, self, ret;
	bool fuse;

	v->s = NULL;
	v->fd = -1;
	if (!(prot & (CORE_PROT_READ | CORE_PROT_WRITE))) {
		snprintf(v->why, sizeof(v->why), "no access given (r, w or rw)");
		return -EINVAL;
	}
	ret = take_fd(rq, fdnum, prot, &fd, &tgid, v->why, sizeof(v->why));
	if (ret < 0)
		return ret;
	self = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fuse = self >= 0 && fd_on_fuse(self, fd);
	if (self >= 0)
		close(self);
	if (fuse || fstatfs(fd, &sf) < 0 || !opener_memory_fs((uint64_t)sf.f_type)) {
		snprintf(v->why, sizeof(v->why), "fd %d %s", fdnum,
			 opener_why_str(OPENER_NOT_MEMORY));
		ret = -EINVAL;
		goto out;
	}
	if (fstat(fd, &st) < 0 || !length || offset > (uint64_t)st.st_size ||
	    length > (uint64_t)st.st_size - offset) {
		snprintf(v->why, sizeof(v->why),
			 "offset 0x%" PRIx64 " + length 0x%" PRIx64
			 " is not inside the file (size 0x%" PRIx64 ")",
			 offset, length, (uint64_t)st.st_size);
		ret = -EINVAL;
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(v->why, sizeof(v->why), "ENOMEM");
		ret = -ENOMEM;
		goto out;
	}
	/* the view: the pages of the range, at the file offset's place in a huge page */
	map_off = offset & ~(BACKEND_PAGE_SIZE - 1);
	end = offset + length;
	s->mem = core_mmap_aligned(end - map_off, map_off,
				   PROT_READ | (prot & CORE_PROT_WRITE ? PROT_WRITE : 0),
				   MAP_SHARED, fd, map_off);
	if (s->mem == MAP_FAILED) {
		ret = -errno;
		snprintf(v->why, sizeof(v->why), "mmap: %s", errno_name(-ret));
		free(s);
		goto out;
	}
	snprintf(s->o.name, sizeof(s->o.name), "fd/%d/%d", (int)tgid, fdnum);
	s->fd_view = true;
	s->set = true;
	s->writable = prot & CORE_PROT_WRITE;
	s->mem_off = map_off;
	s->mem_len = end - map_off;
	s->size = end;
	v->s = s;
	if (file_pinnable(&sf)) {
		v->fd = fd; /* the backend may map the file itself */
		fd = -1;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

void core_fd_view_drop(struct core_fd_view *v)
{
	if (v->s) {
		munmap(v->s->mem, v->s->mem_len);
		free(v->s);
		v->s = NULL;
	}
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}

int core_ioas_map_fd(struct core *c, struct ioas *io, const struct core_req *rq, bool fixed,
		     uint64_t iova, int fdnum, uint64_t offset, uint64_t length, unsigned prot,
		     struct core_fd_view *v, uint64_t *ret_iova)
{
	struct core_map_cmd m = {
		.fixed = fixed, .iova = iova, .length = length, .offset = offset, .prot = prot
	};
	int ret;

	m.source = v->s->o.name;
	ret = core_ioas_map_source(c, io, rq, &m, v->s, v->fd, ret_iova);
	if (ret == 0)
		v->s = NULL; /* the mapping holds it */
	core_fd_view_drop(v);
	return ret;
}
