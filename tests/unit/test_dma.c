/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The core's view of what a device sees (core_dma_read, core_dma_write), maps by file
 * descriptor (core_batch MAP_FD records from this very process) and core_copy, without FUSE:
 * the bytes that come back, the access each mapping allows, short counts at holes, the
 * errno and `errors` line of a refusal, a range of many mappings, a map by fd that outlives
 * its descriptor and its copies, and a file shrunk under a mapping (EFAULT, not SIGBUS).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "backend/backend.h"
#include "core/core.h"
#include "util/platform.h"
#include "util/sbuf.h"
#include "ioasfs/batch.h"

#define K  (UINT64_C(1) << 10)
#define M  (UINT64_C(1) << 20)
#define RW (CORE_PROT_READ | CORE_PROT_WRITE)

static struct backend *be;
static struct core *c;
static struct core_req rq = { .pid = 0, .uid = 0, .path = "/ioas/vm/dma", .quiet = true };

static struct core_ioas_ref ref(const char *name)
{
	return (struct core_ioas_ref){ name, 0 };
}

static void setup(void)
{
	struct platform p;

	ck_assert_int_eq(platform_builtin("x86-vtd", &p), 0);
	ck_assert_int_eq(sim_backend_create(&p, &be), 0);
	ck_assert_int_eq(core_create(be, &p, &c), 0);
	rq.pid = getpid();
	ck_assert_int_eq(core_obj_create(c, &rq, CORE_IOAS, "vm"), 0);
	ck_assert_int_eq(core_obj_create(c, &rq, CORE_SOURCE, "buf"), 0);
	ck_assert_int_eq(core_source_set(c, &rq, "buf", 0, true, 4 * M, NULL), 0);
}

static void teardown(void)
{
	core_destroy(c);
	be->ops->close(be);
	c = NULL;
}

static void map(const char *io, uint64_t iova, uint64_t len, uint64_t off, unsigned prot)
{
	struct core_map_cmd m = { .fixed = true, .iova = iova, .length = len, .source = "buf",
				  .offset = off, .prot = prot };
	uint64_t got;

	ck_assert_int_eq(core_map(c, &rq, ref(io), &m, &got), 0);
	ck_assert_uint_eq(got, iova);
}

/* The read callback: gather the pieces into a buffer with a kernel copy (as writev would). */
struct gather {
	char buf[2 * M];
	size_t len;
	int n;
};

static int gather(void *arg, const struct iovec *iov, int n)
{
	struct gather *g = arg;
	struct iovec local;
	size_t total = 0;
	ssize_t r;

	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	ck_assert_uint_le(total, sizeof(g->buf));
	local = (struct iovec){ g->buf, total };
	r = n ? process_vm_readv(getpid(), &local, 1, iov, (unsigned long)n, 0) : 0;
	if (r < 0)
		return -errno;
	g->len = (size_t)r;
	g->n = n;
	return 0;
}

static ssize_t rd(const char *io, uint64_t iova, size_t len, struct gather *g)
{
	int r;

	g->len = 0;
	g->n = -1;
	r = core_dma_read(c, &rq, ref(io), iova, len, gather, g);
	return r < 0 ? r : (ssize_t)g->len;
}

/* The newest errors line contains what. */
static void last_error_has(const char *what)
{
	struct sbuf sb;
	char *last;

	sbuf_init(&sb);
	core_show_errors(c, &sb);
	ck_assert_ptr_nonnull(sb.buf);
	sb.buf[sb.len - 1] = '\0';
	last = strrchr(sb.buf, '\n');
	last = last ? last + 1 : sb.buf;
	ck_assert_msg(strstr(last, what), "errors line [%s] lacks [%s]", last, what);
	sbuf_free(&sb);
}

START_TEST(test_dma_rw)
{
	static struct gather g;
	const char msg[] = "seen by a device";

	setup();
	map("vm", 0x100000, 64 * K, 0, RW);
	map("vm", 0x110000, 64 * K, 64 * K, CORE_PROT_READ);
	map("vm", 0x200000, 4 * K, 256 * K, CORE_PROT_WRITE);

	/* a write lands in the source: the second mapping of the same memory reads it */
	ck_assert_int_eq(core_dma_write(c, &rq, ref("vm"), 0x100010, msg, sizeof(msg)),
			 sizeof(msg));
	ck_assert_int_eq(core_obj_create(c, &rq, CORE_IOAS, "other"), 0);
	map("other", 0x40000000, 4 * K, 0, CORE_PROT_READ);
	ck_assert_int_eq(rd("other", 0x40000010, sizeof(msg), &g), sizeof(msg));
	ck_assert_str_eq(g.buf, msg);

	/* across the two adjacent mappings, in two pieces; into the hole after them: short */
	ck_assert_int_eq(rd("vm", 0x10f000, 8 * K, &g), 8 * K);
	ck_assert_int_eq(g.n, 2);
	ck_assert_int_eq(rd("vm", 0x11f000, 64 * K, &g), 4 * K);
	/* a write stops where the r-only mapping starts */
	ck_assert_int_eq(core_dma_write(c, &rq, ref("vm"), 0x10fffe, "abcd", 4), 2);

	/* refusals: the errno and one line naming the mapping */
	ck_assert_int_eq(rd("vm", 0x120000, 16, &g), -EFAULT);
	last_error_has("dma read 0x120000: nothing mapped there");
	ck_assert_int_eq(core_dma_write(c, &rq, ref("vm"), 0x110000, "x", 1), -EACCES);
	last_error_has("dma write 0x110000: mapping 0x110000-0x11ffff (buf+0x10000) is not "
		       "writable (no w)");
	ck_assert_int_eq(rd("vm", 0x200000, 16, &g), -EACCES);
	last_error_has("is not readable (no r)");
	ck_assert_int_eq(core_dma_write(c, &rq, ref("vm"), 0x200000, "w", 1), 1);
	ck_assert_int_eq(rd("nosuch", 0, 1, &g), -ENOENT);
	/* nothing asked, nothing refused */
	ck_assert_int_eq(rd("vm", 0x120000, 0, &g), 0);
	teardown();
}
END_TEST

START_TEST(test_dma_many_pieces)
{
	static struct gather g;
	static char want[300 * 1024];

	setup();
	/* 300 mappings of 1 KiB, each of a different place of the source, side by side */
	for (unsigned i = 0; i < 300; i++)
		map("vm", 0x100000 + i * K, K, (299 - i) * 2 * K, CORE_PROT_READ);
	for (unsigned i = 0; i < 300; i++) {
		char tag[16];

		snprintf(tag, sizeof(tag), "piece %u", i);
		ck_assert_int_eq(core_dma_write(c, &rq, ref("vm"), 0x100000 + i * K, tag, 16),
				 -EACCES);
		memset(want + i * K, 0, K);
	}
	/* write the source through a second, writable IOAS, then read the 300 pieces at once */
	ck_assert_int_eq(core_obj_create(c, &rq, CORE_IOAS, "w"), 0);
	map("w", 0x100000, 600 * K, 0, RW);
	for (unsigned i = 0; i < 300; i++) {
		snprintf(want + i * K, 16, "piece %u", i);
		ck_assert_int_eq(core_dma_write(c, &rq, ref("w"), 0x100000 + (299 - i) * 2 * K,
						want + i * K, K),
				 K);
	}
	ck_assert_int_eq(rd("vm", 0x100000, 300 * K, &g), 300 * K);
	/* more pieces than CORE_DMA_IOV: gathered into one */
	ck_assert_int_eq(g.n, 1);
	ck_assert_int_eq(memcmp(g.buf, want, 300 * K), 0);
	ck_assert_int_eq(rd("vm", 0x100000, CORE_DMA_IOV * K, &g), CORE_DMA_IOV * K);
	ck_assert_int_eq(g.n, CORE_DMA_IOV);
	teardown();
}
END_TEST

/* One MAP_FD record through core_batch, from this process. */
static struct ioasfs_cqe map_fd(uint64_t iova, int fd, uint64_t off, uint64_t len,
				unsigned prot)
{
	struct ioasfs_cmd cmd = { .version = IOASFS_BATCH_VERSION,
				  .opcode = iova == UINT64_MAX ? IOASFS_OP_MAP_FD
							       : IOASFS_OP_MAP_FD_FIXED,
				  .prot = (uint8_t)prot,
				  .iova = iova == UINT64_MAX ? 0 : iova,
				  .length = len,
				  .offset = off };
	struct ioasfs_cqe cqe;

	cmd.fd = fd;
	ck_assert_int_eq(core_batch(c, &rq, ref("vm"), &cmd, 1, &cqe), 0);
	return cqe;
}

START_TEST(test_dma_map_fd)
{
	static struct gather g;
	struct ioasfs_cqe cqe;
	struct core_copy_cmd cp = { .length = 8 * K, .src_ioas = "vm", .prot = CORE_PROT_READ };
	struct sbuf sb;
	uint64_t iova, done;
	char want[64], *mem;
	int fd, ro;

	setup();
	fd = memfd_create("test-dma", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 64 * K), 0);
	mem = mmap(NULL, 64 * K, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(mem, MAP_FAILED);
	strcpy(mem + 4 * K + 5, "in the memfd");

	/* a range that starts inside a page: the mapping's offset is the file offset */
	cqe = map_fd(0x300000, fd, 4 * K, 8 * K, RW);
	ck_assert_int_eq(cqe.res, 0);
	sbuf_init(&sb);
	ck_assert_int_eq(core_ioas_show_mappings(c, ref("vm"), &sb), 0);
	snprintf(want, sizeof(want), " rw fd/%d/%d+0x1000\n", (int)getpid(), fd);
	ck_assert_msg(strstr(sb.buf, want), "%s lacks %s", sb.buf, want);
	sbuf_free(&sb);
	ck_assert_int_eq(rd("vm", 0x300005, 13, &g), 13);
	ck_assert_str_eq(g.buf, "in the memfd");
	ck_assert_int_eq(core_dma_write(c, &rq, ref("vm"), 0x300000, "dev", 3), 3);
	ck_assert_int_eq(memcmp(mem + 4 * K, "dev", 3), 0);

	/* the refusals of the record */
	ck_assert_int_eq(map_fd(UINT64_MAX, 999, 0, 4 * K, RW).res, -EBADF);
	last_error_has("map by fd 999: fd 999 of process");
	snprintf(want, sizeof(want), "/proc/self/fd/%d", fd);
	ro = open(want, O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(map_fd(UINT64_MAX, ro, 0, 4 * K, RW).res, -EPERM);
	last_error_has("is open read-only; a mapping with w needs O_RDWR");
	ck_assert_int_eq(map_fd(UINT64_MAX, ro, 60 * K, 8 * K, CORE_PROT_READ).res, -EINVAL);
	last_error_has("is not inside the file (size 0x10000)");
	ck_assert_int_eq(map_fd(UINT64_MAX, ro, 0, 4 * K, 0).res, -EINVAL);
	close(ro);
	ck_assert_int_eq(map_fd(0x300000, fd, 0, 4 * K, RW).res, -EEXIST);
	/* a uid that does not own this process */
	rq.uid = 12345;
	ck_assert_int_eq(map_fd(UINT64_MAX, fd, 0, 4 * K, CORE_PROT_READ).res, -EPERM);
	last_error_has("is not owned by the caller's uid 12345");
	rq.uid = 0;

	/* a copy of it in another IOAS outlives the original mapping and the descriptor */
	ck_assert_int_eq(core_obj_create(c, &rq, CORE_IOAS, "copy"), 0);
	cp.src_iova = 0x300000;
	ck_assert_int_eq(core_copy(c, &rq, ref("copy"), &cp, &iova), 0);
	cp.prot = RW;
	ck_assert_int_eq(core_copy(c, &rq, ref("copy"), &cp, &done), 0);
	cp.src_iova = 0x300000 + 8 * K;
	ck_assert_int_eq(core_copy(c, &rq, ref("copy"), &cp, &done), -ENOENT);
	last_error_has("not covered by contiguous mappings");
	ck_assert_int_eq(core_unmap(c, &rq, ref("vm"), true, 0, 0, &done), 0);
	close(fd);
	ck_assert_int_eq(rd("vm", 0x300000, 3, &g), -EFAULT);
	ck_assert_int_eq(rd("copy", iova, 3, &g), 3);
	ck_assert_int_eq(memcmp(g.buf, "dev", 3), 0);

	/* the file shrinks under the mapping: EFAULT and a line, not SIGBUS */
	{
		int fd2 = memfd_create("test-dma-2", MFD_CLOEXEC);

		ck_assert_int_eq(ftruncate(fd2, 64 * K), 0);
		cqe = map_fd(0x500000, fd2, 0, 64 * K, RW);
		ck_assert_int_eq(cqe.res, 0);
		ck_assert_int_eq(ftruncate(fd2, 0), 0);
		ck_assert_int_eq(core_dma_write(c, &rq, ref("vm"), 0x500000, "x", 1), -EFAULT);
		last_error_has("the memory behind the mapping faults");
		ck_assert_int_eq(rd("vm", 0x500000, 16, &g), -EFAULT);
		close(fd2);
	}
	munmap(mem, 64 * K);
	teardown();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dma");
	TCase *t = tcase_create("dma");
	SRunner *sr;
	int failed;

	tcase_add_test(t, test_dma_rw);
	tcase_add_test(t, test_dma_many_pieces);
	tcase_add_test(t, test_dma_map_fd);
	suite_add_tcase(s, t);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
