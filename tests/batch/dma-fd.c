/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a device sees, for memory handed over by file descriptor: a memfd with a pattern is
 * mapped through the batch channel by fd (libioasfs), read back through ioas/NAME/dma at the
 * IOVA the map returned, written through dma and seen in the memfd; copied into a second
 * IOAS by a batch COPY and by a line of its `copy` file, after which both IOASes read the same
 * bytes; unmapped, after which dma reads fail with EFAULT and an `errors` line while the copy
 * still reads (it holds the daemon's view). Along the way: a read across two mappings, a read
 * that runs into a hole (short), a write to an r-only mapping (EACCES), a read of a w-only
 * mapping (EACCES), a range of many small mappings (gathered), and the refusals of a map by
 * fd (fd not open, opened read-only for w, not a regular file, beyond the end of the file).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <liburing.h>

#include "helpers.h"

#define RW  (IOASFS_PROT_READ | IOASFS_PROT_WRITE)
#define MiB ((uint64_t)1 << 20)
#define KiB ((uint64_t)1 << 10)

static struct t_env e;
static char dma[1400], dma2[1400], ioas2[1200], name2[80];

static unsigned char pattern(uint64_t i)
{
	return (unsigned char)(i * 7 + (i >> 12) + 3);
}

/* Submit what is queued and wait for one completion. */
static struct ioasfs_cqe one(struct ioasfs_batch *b)
{
	struct ioasfs_cqe c = { .res = -EIO };
	int r = ioasfs_batch_submit(b);

	if (r >= 0)
		r = ioasfs_batch_reap(b, &c, 1, 1);
	if (r != 1)
		c.res = r < 0 ? r : -EIO;
	return c;
}

static struct ioasfs_cqe map_fd(struct ioasfs_batch *b, uint64_t iova, int fd, uint64_t off,
				uint64_t len, unsigned prot)
{
	int r = ioasfs_batch_map_fd(b, iova, fd, off, len, prot, 7);
	struct ioasfs_cqe c = { .res = r };

	return r < 0 ? c : one(b);
}

/* pread of len bytes at off from path: the count, or -errno. */
static ssize_t pread_at(const char *path, void *buf, size_t len, uint64_t off)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len, (off_t)off);
	if (n < 0)
		n = -errno;
	close(fd);
	return n;
}

static ssize_t pwrite_at(const char *path, const void *buf, size_t len, uint64_t off)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pwrite(fd, buf, len, (off_t)off);
	if (n < 0)
		n = -errno;
	close(fd);
	return n;
}

/* Does the file at path hold the pattern of the memfd offsets [foff, foff + len) at off? */
static bool reads_pattern(const char *path, uint64_t off, uint64_t foff, size_t len,
			  const unsigned char *mem)
{
	unsigned char *buf = malloc(len);
	ssize_t n = buf ? pread_at(path, buf, len, off) : -ENOMEM;
	bool ok = n == (ssize_t)len && !memcmp(buf, mem + foff, len);

	if (!ok)
		t_log("%s at 0x%" PRIx64 ": read %zd of %zu bytes%s", path, off, n, len,
		      n == (ssize_t)len ? ", different bytes" : "");
	free(buf);
	return ok;
}

/*
 * One io_uring READ of len bytes at off: async direct I/O, which the kernel answers with 0
 * at or past the file's size, so this is what dma's size is for. The count, or -errno.
 */
static ssize_t uring_read(const char *path, void *buf, unsigned len, uint64_t off)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	int fd = open(path, O_RDONLY), r;

	if (fd < 0)
		return -errno;
	r = io_uring_queue_init(2, &ring, 0);
	if (r < 0) {
		close(fd);
		return r;
	}
	io_uring_prep_read(io_uring_get_sqe(&ring), fd, buf, len, off);
	r = io_uring_submit_and_wait(&ring, 1);
	if (r >= 0)
		r = io_uring_wait_cqe(&ring, &cqe);
	if (r >= 0) {
		r = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
	close(fd);
	return r;
}

/* Snapshot errors, then check after a refusal: one new line containing what. */
static char *errs_before;

static void errors_mark(void)
{
	free(errs_before);
	errs_before = t_read_file(e.errors);
}

static void errors_expect(const char *desc, const char *what)
{
	char *after = t_read_file(e.errors);
	const char *last = "";
	size_t ll = 0;
	unsigned n = after && errs_before ? t_new_error_lines(errs_before, after, &last, &ll) : 0;
	char *line = strndup(last, ll);

	t_check(n == 1 && line && strstr(line, what), "%s: one errors line with \"%s\" (got %u: %s)",
		desc, what, n, line ? line : "?");
	free(line);
	free(after);
}

static void copy_file_checks(const uint64_t a, unsigned char *mem)
{
	char path[1400], line[300], res[200] = "";
	ssize_t n;
	int fd;

	/* a text copy into the second IOAS, at a fixed IOVA; its result line says where */
	snprintf(path, sizeof(path), "%s/copy", ioas2);
	fd = open(path, O_RDWR);
	if (!t_check(fd >= 0, "open %s O_RDWR", path))
		return;
	snprintf(line, sizeof(line), "0x40000000 1M %s 0x%" PRIx64 " rw\n", e.name, a);
	n = write(fd, line, strlen(line));
	t_check(n == (ssize_t)strlen(line), "copy file: \"0x40000000 1M %s 0x%" PRIx64 " rw\"",
		e.name, a);
	n = read(fd, res, sizeof(res) - 1);
	res[n > 0 ? n : 0] = '\0';
	t_check(!strcmp(res, "ok 0x0000000040000000 0x100000\n"), "its result line: %s", res);
	/* rw from the r-only second mapping: EPERM; from past the mappings: ENOENT */
	errors_mark();
	snprintf(line, sizeof(line), "auto 4K %s 0x%" PRIx64 " rw\n", e.name, a + MiB);
	n = write(fd, line, strlen(line));
	t_check(n < 0 && errno == EPERM, "copy rw of an r-only mapping: EPERM (got %s)",
		n < 0 ? t_errname(-errno) : "success");
	errors_expect("copy rw of r-only", "not writable");
	errors_mark();
	snprintf(line, sizeof(line), "auto 4K %s 0x%" PRIx64 " r\n", e.name, a + 2 * MiB);
	n = write(fd, line, strlen(line));
	t_check(n < 0 && errno == ENOENT, "copy of an unmapped range: ENOENT (got %s)",
		n < 0 ? t_errname(-errno) : "success");
	errors_expect("copy of an unmapped range", "not covered");
	close(fd);

	t_check(reads_pattern(dma2, 0x40000000, 0, MiB, mem),
		"the text copy reads the memfd's bytes through %s", dma2);
	/* a write through the copy lands in the memfd, and the first IOAS sees it */
	n = pwrite_at(dma2, "COPY", 4, 0x40000000 + 64);
	t_check(n == 4 && !memcmp(mem + 64, "COPY", 4),
		"a write through the copy's dma lands in the memfd (%zd)", n);
	t_check(reads_pattern(dma, a + 64, 64, 4, mem), "and the first IOAS reads it too");
}

static void fd_refusals(struct ioasfs_batch *b, int memfd, const unsigned char *mem)
{
	char path[64];
	struct ioasfs_cqe c;
	int ro, pfd[2];

	errors_mark();
	c = map_fd(b, IOASFS_IOVA_AUTO, 987, 0, 4 * KiB, IOASFS_PROT_READ);
	t_check(c.res == -EBADF, "map by an fd that is not open: EBADF (got %s)",
		t_errname(c.res));
	errors_expect("fd not open", "not open");

	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	ro = open(path, O_RDONLY);
	errors_mark();
	c = map_fd(b, IOASFS_IOVA_AUTO, ro, 0, 4 * KiB, RW);
	t_check(c.res == -EPERM, "map rw of an fd opened O_RDONLY: EPERM (got %s)",
		t_errname(c.res));
	errors_expect("O_RDONLY fd for rw", "needs O_RDWR");
	c = map_fd(b, 0x7000000, ro, 0, 4 * KiB, IOASFS_PROT_READ);
	t_check(c.res == 0 && c.iova == 0x7000000, "map r of the same O_RDONLY fd (%s)",
		t_errname(c.res));
	close(ro);
	t_check(reads_pattern(dma, 0x7000000, 0, 4 * KiB, mem),
		"and it reads the memfd after the fd is closed");

	/*
	 * a file that is not memory (procfs here, as on a disk: the guest under tests/vm has no
	 * disk), or this mount's own dma, is refused
	 */
	for (int i = 0; i < 2; i++) {
		int df = open(i ? dma : "/proc/self/status", O_RDONLY | O_CLOEXEC);

		t_check(df >= 0, "open %s", i ? dma : "/proc/self/status");
		errors_mark();
		c = map_fd(b, IOASFS_IOVA_AUTO, df, 0, 4 * KiB, IOASFS_PROT_READ);
		t_check(c.res == -EINVAL, "map by fd of %s: EINVAL (got %s)",
			i ? "the IOAS's own dma" : "/proc/self/status", t_errname(c.res));
		errors_expect("not memory", "is not in memory");
		close(df);
	}

	errors_mark();
	c = map_fd(b, IOASFS_IOVA_AUTO, memfd, MiB, 2 * MiB, IOASFS_PROT_READ);
	t_check(c.res == -EINVAL, "map beyond the end of the file: EINVAL (got %s)",
		t_errname(c.res));
	errors_expect("beyond the end", "not inside the file");

	if (pipe(pfd) == 0) {
		errors_mark();
		c = map_fd(b, IOASFS_IOVA_AUTO, pfd[0], 0, 4 * KiB, IOASFS_PROT_READ);
		t_check(c.res == -EINVAL, "map of a pipe: EINVAL (got %s)", t_errname(c.res));
		errors_expect("pipe", "not a regular file");
		close(pfd[0]);
		close(pfd[1]);
	}
}

/* 100 mappings of 4 KiB side by side: one dma read spans them all (gathered). */
static void many_pieces(struct ioasfs_batch *b, int memfd, const unsigned char *mem)
{
	const uint64_t base = 0x10000000;
	struct ioasfs_cqe c[100];
	unsigned ok = 0;
	int r;

	for (unsigned i = 0; i < 100; i++)
		ioasfs_batch_map_fd(b, base + i * 4 * KiB, memfd, (99 - i) * 4 * KiB, 4 * KiB,
				    IOASFS_PROT_READ, i);
	r = ioasfs_batch_submit(b);
	if (r >= 0)
		r = ioasfs_batch_reap(b, c, 100, 100);
	for (int i = 0; i < r; i++)
		ok += c[i].res == 0;
	t_check(r == 100 && ok == 100, "100 maps by fd of 4 KiB pages in reverse order (%u ok)", ok);
	{
		unsigned char *buf = malloc(400 * KiB);
		ssize_t n = pread_at(dma, buf, 400 * KiB, base);
		bool same = n == 400 * KiB;

		for (unsigned i = 0; same && i < 100; i++)
			same = !memcmp(buf + i * 4 * KiB, mem + (99 - i) * 4 * KiB, 4 * KiB);
		t_check(same, "one 400 KiB dma read across the 100 mappings (%zd bytes)", n);
		free(buf);
	}
}

int main(int argc, char **argv)
{
	struct ioasfs_batch *b = NULL, *b2 = NULL;
	unsigned char *mem = MAP_FAILED, buf[64];
	struct ioasfs_cqe c;
	char *maps, want[128];
	uint64_t a = 0, cp = 0;
	int memfd = -1, r;
	ssize_t n;

	r = t_setup(&e, argc, argv, "dma-fd", "4K");
	if (r != T_EXIT_PASS)
		return r;
	snprintf(dma, sizeof(dma), "%s/dma", e.ioas);
	snprintf(name2, sizeof(name2), "%s-2", e.name);
	snprintf(ioas2, sizeof(ioas2), "%s/ioas/%s", e.mnt, name2);
	snprintf(dma2, sizeof(dma2), "%s/dma", ioas2);
	if (!t_check(mkdir(ioas2, 0755) == 0, "mkdir %s", ioas2))
		goto out;

	memfd = memfd_create("dma-fd", MFD_CLOEXEC);
	if (!t_check(memfd >= 0 && ftruncate(memfd, 2 * MiB) == 0, "a 2 MiB memfd"))
		goto out;
	mem = mmap(NULL, 2 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (!t_check(mem != MAP_FAILED, "mmap the memfd"))
		goto out;
	for (uint64_t i = 0; i < 2 * MiB; i++)
		mem[i] = pattern(i);

	r = ioasfs_batch_open(e.ioas, NULL, &b);
	if (!t_check(r == 0, "ioasfs_batch_open %s (%s)", e.ioas, t_errname(r)))
		goto out;
	/* the first MiB rw at an automatic IOVA, the second r-only right after it */
	c = map_fd(b, IOASFS_IOVA_AUTO, memfd, 0, MiB, RW);
	a = c.iova;
	t_check(c.res == 0, "map by fd, auto: %s at 0x%" PRIx64, t_errname(c.res), a);
	c = map_fd(b, a + MiB, memfd, MiB, MiB, IOASFS_PROT_READ);
	t_check(c.res == 0 && c.iova == a + MiB, "map by fd, fixed right after it, r-only: %s",
		t_errname(c.res));
	maps = t_ioas_file(&e, "mappings");
	snprintf(want, sizeof(want), " rw fd/%d/%d+0x0\n", (int)getpid(), memfd);
	t_check(maps && strstr(maps, want), "mappings names the fd: \"%s\" in [%s]", want,
		maps ? maps : "?");
	free(maps);

	/* reads: all of it, across the boundary, into a hole (short), from a hole (EFAULT) */
	t_check(reads_pattern(dma, a, 0, MiB, mem), "one 1 MiB dma read at the returned IOVA");
	{
		unsigned char *big = malloc(MiB);

		n = big ? uring_read(dma, big, MiB, a) : -ENOMEM;
		t_check(n == (ssize_t)MiB && !memcmp(big, mem, MiB),
			"the same read as an io_uring READ (%s)",
			n < 0 ? t_errname((int)n) : "bytes");
		free(big);
	}
	t_check(reads_pattern(dma, a + MiB - 32 * KiB, MiB - 32 * KiB, 64 * KiB, mem),
		"a 64 KiB read across the two mappings");
	{
		unsigned char *big = malloc(MiB);

		n = pread_at(dma, big, MiB, a + 2 * MiB - 4 * KiB);
		t_check(n == 4 * KiB, "a read that runs into a hole is short: %zd of 1 MiB", n);
		free(big);
	}
	errors_mark();
	n = pread_at(dma, buf, sizeof(buf), a + 2 * MiB);
	t_check(n == -EFAULT, "a read at an unmapped IOVA: EFAULT (got %s)",
		n < 0 ? t_errname((int)n) : "data");
	errors_expect("read of a hole", "nothing mapped there");

	/* writes: into the memfd; not into the r-only mapping; short at its edge */
	n = pwrite_at(dma, "hello, device", 13, a + 100);
	t_check(n == 13 && !memcmp(mem + 100, "hello, device", 13),
		"a dma write shows in the memfd (%zd)", n);
	errors_mark();
	n = pwrite_at(dma, "x", 1, a + MiB + 5);
	t_check(n == -EACCES, "a dma write to an r-only mapping: EACCES (got %s)",
		n < 0 ? t_errname((int)n) : "written");
	errors_expect("write to r-only", "not writable");
	n = pwrite_at(dma, "12345678", 8, a + MiB - 4);
	t_check(n == 4 && !memcmp(mem + MiB - 4, "1234", 4) && mem[MiB] == pattern(MiB),
		"a write across into the r-only mapping stops at its edge: %zd of 8", n);

	/* a w-only mapping cannot be read through dma */
	c = map_fd(b, 0x8000000, memfd, 0, 4 * KiB, IOASFS_PROT_WRITE);
	errors_mark();
	n = pread_at(dma, buf, sizeof(buf), 0x8000000);
	t_check(c.res == 0 && n == -EACCES, "a dma read of a w-only mapping: EACCES (%s, %s)",
		t_errname(c.res), n < 0 ? t_errname((int)n) : "data");
	errors_expect("read of w-only", "not readable");

	/* batch COPY of both mappings into the second IOAS */
	r = ioasfs_batch_open(ioas2, NULL, &b2);
	if (!t_check(r == 0, "ioasfs_batch_open %s", ioas2))
		goto out;
	ioasfs_batch_copy(b2, e.name, a, 2 * MiB, IOASFS_IOVA_AUTO, IOASFS_PROT_READ, 1);
	c = one(b2);
	cp = c.iova;
	t_check(c.res == 0, "batch COPY of 2 MiB into %s: %s at 0x%" PRIx64, name2,
		t_errname(c.res), cp);
	t_check(reads_pattern(dma2, cp, 0, MiB, mem) && reads_pattern(dma, a, 0, MiB, mem) &&
			reads_pattern(dma2, cp + MiB, MiB, MiB, mem),
		"both IOASes read the same bytes through their dma files");
	copy_file_checks(a, mem);

	fd_refusals(b, memfd, mem);
	many_pieces(b, memfd, mem);

	/* unmap the originals: dma fails there, the copy still reads (it holds the view) */
	ioasfs_batch_unmap_all(b, 9);
	c = one(b);
	t_check(c.res == 0, "unmap all in %s", e.name);
	errors_mark();
	n = pread_at(dma, buf, sizeof(buf), a);
	t_check(n == -EFAULT, "after unmap a dma read fails: EFAULT (got %s)",
		n < 0 ? t_errname((int)n) : "data");
	errors_expect("read after unmap", "nothing mapped there");
	munmap(mem, 2 * MiB);
	mem = MAP_FAILED;
	close(memfd);
	memfd = -1;
	n = pread_at(dma2, buf, 16, cp + 100);
	t_check(n == 16 && !memcmp(buf, "hello, device", 13),
		"with the memfd closed and unmapped here, the copy still reads it (%zd)", n);
out:
	if (b2) {
		ioasfs_batch_unmap_all(b2, 9);
		one(b2);
		ioasfs_batch_close(b2);
	}
	if (b)
		ioasfs_batch_close(b);
	t_check(rmdir(ioas2) == 0, "rmdir %s", ioas2);
	if (mem != MAP_FAILED)
		munmap(mem, 2 * MiB);
	if (memfd >= 0)
		close(memfd);
	free(errs_before);
	t_teardown(&e);
	return t_exit();
}
