/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libioasfs without a daemon: argument checks, the local queue bound, the wire encoding of
 * every command helper, and what happens when the channel breaks. The "batch file" here is a
 * regular file in a temporary directory: a submit writes the records to it (so the encoding
 * can be read back byte for byte, tags in user_data included), and the linked read then reads
 * those records back as if they were completions. Their user_data is no tag the library
 * gave out, so the library must declare the channel broken: every command in flight completes
 * with -EIO and its own user_data, iova and length, and nothing more is submitted.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

#define RW (IOASFS_PROT_READ | IOASFS_PROT_WRITE)

static char dir[64] = "/tmp/libioasfs-unit.XXXXXX";

static void args(void)
{
	struct ioasfs_batch_opts big_chunk = { .chunk = IOASFS_BATCH_MAX_CMDS + 1 };
	struct ioasfs_batch_opts many = { .inflight = 65 };
	struct ioasfs_batch *b = (struct ioasfs_batch *)1;
	char longname[IOASFS_NAME_LEN + 1];
	int r;

	r = ioasfs_batch_open("/nonexistent/ioas/x", NULL, &b);
	t_check(r == -ENOENT && b == (struct ioasfs_batch *)1,
		"open of a missing IOAS: -ENOENT, *ret untouched (%s)", t_errname(r));
	t_check(ioasfs_batch_open(dir, &big_chunk, &b) == -EINVAL, "chunk %u: -EINVAL",
		big_chunk.chunk);
	t_check(ioasfs_batch_open(dir, &many, &b) == -EINVAL, "inflight 65: -EINVAL");
	t_check(ioasfs_batch_open(NULL, NULL, &b) == -EINVAL, "NULL dir: -EINVAL");
	t_check(ioasfs_batch_open(dir, NULL, NULL) == -EINVAL, "NULL ret: -EINVAL");

	r = ioasfs_batch_open(dir, NULL, &b);
	if (!t_check(r == 0, "open %s/batch (a regular file) (%s)", dir, t_errname(r)))
		return;
	memset(longname, 'n', IOASFS_NAME_LEN);
	longname[IOASFS_NAME_LEN] = '\0';
	t_check(ioasfs_batch_map(b, longname, 0, 4096, RW, 0) == -EINVAL,
		"a 64-byte source name does not fit: -EINVAL");
	longname[IOASFS_NAME_LEN - 1] = '\0';
	t_check(ioasfs_batch_map(b, longname, 0, 4096, RW, 0) == 0, "a 63-byte source name fits");
	t_check(ioasfs_batch_map(b, "", 0, 4096, RW, 0) == -EINVAL, "an empty name: -EINVAL");
	t_check(ioasfs_batch_map(b, NULL, 0, 4096, RW, 0) == -EINVAL, "a NULL name: -EINVAL");
	t_check(ioasfs_batch_copy(b, NULL, 0, 4096, IOASFS_IOVA_AUTO, RW, 0) == -EINVAL,
		"copy from a NULL IOAS: -EINVAL");
	t_check(ioasfs_batch_map(b, "s", 0, 4096, 4, 0) == -EINVAL, "prot 4: -EINVAL");
	t_check(ioasfs_batch_map_fixed(b, UINT64_MAX - 4095, "s", 0, 8192, RW, 0) == -EOVERFLOW,
		"map_fixed whose iova + length wraps: -EOVERFLOW");
	t_check(ioasfs_batch_map_fixed(b, UINT64_MAX - 4095, "s", 0, 4096, RW, 0) == 0,
		"map_fixed ending exactly at 2^64 is accepted");
	t_check(ioasfs_batch_map(b, "s", UINT64_MAX, 2, RW, 0) == -EOVERFLOW,
		"map whose offset + length wraps: -EOVERFLOW");
	t_check(ioasfs_batch_unmap(b, 1ull << 63, 1ull << 63 | 1, 0) == -EOVERFLOW,
		"unmap that wraps: -EOVERFLOW");
	t_check(ioasfs_batch_copy(b, "src", 0, 4096, UINT64_MAX - 1, RW, 0) == -EOVERFLOW,
		"copy to a fixed iova that wraps: -EOVERFLOW");
	t_check(ioasfs_batch_queue(b, NULL) == -EINVAL, "queue NULL: -EINVAL");
	t_check(ioasfs_batch_pending(b) == 2, "pending counts the 2 accepted commands (%u)",
		ioasfs_batch_pending(b));
	t_check(ioasfs_batch_reap(b, NULL, 1, 0) == -EINVAL, "reap into NULL: -EINVAL");
	t_check(ioasfs_batch_run(b, NULL, 1, NULL) == -EINVAL, "run of NULL commands: -EINVAL");
	t_check(ioasfs_batch_submit(NULL) == -EINVAL && ioasfs_batch_pending(NULL) == 0,
		"NULL handle: submit -EINVAL, pending 0");
	ioasfs_batch_close(b);
	ioasfs_batch_close(NULL);
}

/* The local queue holds 1,048,576 commands; the next one is -ENOSPC. */
static void bound(void)
{
	struct ioasfs_batch *b;
	unsigned i;
	int r = ioasfs_batch_open(dir, NULL, &b);

	if (!t_check(r == 0, "open (%s)", t_errname(r)))
		return;
	for (i = 0; i < (1u << 20) && r == 0; i++)
		r = ioasfs_batch_nop(b, i);
	t_check(r == 0 && i == 1u << 20, "1,048,576 NOPs queue (stopped at %u: %s)", i,
		t_errname(r));
	r = ioasfs_batch_nop(b, 0);
	t_check(r == -ENOSPC, "the next one: -ENOSPC (%s)", t_errname(r));
	t_check(ioasfs_batch_pending(b) == 1u << 20, "pending %u", ioasfs_batch_pending(b));
	ioasfs_batch_close(b); /* with everything still queued: frees it all */
}

struct want {
	uint8_t opcode, prot;
	uint32_t flags;
	uint64_t user_data, iova, length, offset;
	const char *name;
};

static void encoding(void)
{
	static const struct want w[] = {
		{ IOASFS_OP_MAP, RW, 0, 0x1111, 0, 0x2000, 0x3000, "buf" },
		{ IOASFS_OP_MAP_FIXED, IOASFS_PROT_READ, 0, 0x2222, 0xabc000, 0x1000, 0x5000,
		  "src-2" },
		{ IOASFS_OP_UNMAP, 0, 0, 0x3333, 0x10000, 0x20000, 0, NULL },
		{ IOASFS_OP_UNMAP, 0, IOASFS_CMD_UNMAP_ALL, 0x4444, 0, 0, 0, NULL },
		{ IOASFS_OP_COPY, IOASFS_PROT_WRITE, IOASFS_CMD_COPY_FIXED, 0x5555, 0x700000,
		  0x4000, 0x900000, "other" },
		{ IOASFS_OP_COPY, RW, 0, 0x6666, 0, 0x4000, 0x900000, "other" },
		{ IOASFS_OP_NOP, 0, 0, UINT64_MAX, 0, 0, 0, NULL },
		{ IOASFS_OP_NOP, 0, 0, 0x8888, 0, 0, 0, NULL }, /* queued raw, below */
	};
	const unsigned n = sizeof(w) / sizeof(w[0]);
	struct ioasfs_batch_opts o = { .chunk = 5, .inflight = 1 };
	struct ioasfs_cmd raw = t_cmd(IOASFS_OP_NOP, 0, 0, 0x8888, 0, 0, 0, NULL);
	struct ioasfs_cmd file[8], cmds[3];
	struct ioasfs_cqe cqes[16];
	struct ioasfs_batch *b;
	char path[128];
	unsigned got = 0, eio = 0, match = 0;
	int r, fd;

	r = ioasfs_batch_open(dir, &o, &b);
	if (!t_check(r == 0, "open with chunk 5, inflight 1 (%s)", t_errname(r)))
		return;
	/* any failure makes r non-zero */
	r = ioasfs_batch_map(b, "buf", 0x3000, 0x2000, RW, 0x1111);
	r |= ioasfs_batch_map_fixed(b, 0xabc000, "src-2", 0x5000, 0x1000, IOASFS_PROT_READ, 0x2222);
	r |= ioasfs_batch_unmap(b, 0x10000, 0x20000, 0x3333);
	r |= ioasfs_batch_unmap_all(b, 0x4444);
	r |= ioasfs_batch_copy(b, "other", 0x900000, 0x4000, 0x700000, IOASFS_PROT_WRITE, 0x5555);
	r |= ioasfs_batch_copy(b, "other", 0x900000, 0x4000, IOASFS_IOVA_AUTO, RW, 0x6666);
	r |= ioasfs_batch_nop(b, UINT64_MAX);
	r |= ioasfs_batch_queue(b, &raw);
	t_check(r == 0 && ioasfs_batch_pending(b) == n, "%u commands queued", n);

	/* one submit sends the first chunk of 5 only: one pair in flight */
	r = ioasfs_batch_submit(b);
	t_check(r == 5, "submit sends one chunk of 5 (%d)", r);
	r = ioasfs_batch_reap(b, cqes, 16, 5);
	t_check(r == 5, "reap(min 5) returns the 5 (%d)", r);
	for (int i = 0; i < r; i++) {
		got++;
		eio += cqes[i].res == -EIO;
		match += cqes[i].user_data == w[i].user_data && cqes[i].iova == w[i].iova &&
			 cqes[i].length == w[i].length;
	}
	t_check(eio == 5 && match == 5,
		"a read of garbage breaks the channel: all 5 complete with EIO and their own "
		"user_data, iova, length (%u EIO, %u match)",
		eio, match);
	t_check(ioasfs_batch_submit(b) == -EIO, "submit after that: -EIO");
	t_check(ioasfs_batch_run(b, &raw, 1, cqes) == -EIO, "run after that: -EIO");
	t_check(ioasfs_batch_pending(b) == n - 5, "the 3 never submitted stay pending (%u)",
		ioasfs_batch_pending(b));
	t_check(ioasfs_batch_reap(b, cqes, 16, 3) == 0,
		"reap(min 3) does not wait for commands never submitted");
	ioasfs_batch_close(b);

	snprintf(path, sizeof(path), "%s/batch", dir);
	fd = open(path, O_RDONLY);
	r = fd < 0 ? -errno : (int)read(fd, file, sizeof(file));
	if (fd >= 0)
		close(fd);
	t_check(r == 5 * 128, "the file holds the 5 records written (%d bytes)", r);
	for (unsigned i = 0; i < 5 && r == 5 * 128; i++) {
		const struct ioasfs_cmd *c = &file[i];
		char name[IOASFS_NAME_LEN] = { 0 };

		if (w[i].name)
			memcpy(name, w[i].name, strlen(w[i].name));
		t_check(
		    le16toh(c->version) == IOASFS_BATCH_VERSION && c->opcode == w[i].opcode &&
			c->prot == w[i].prot && le32toh(c->flags) == w[i].flags &&
			le64toh(c->iova) == w[i].iova && le64toh(c->length) == w[i].length &&
			le64toh(c->offset) == w[i].offset && !c->reserved[0] && !c->reserved[1] &&
			!c->reserved[2] && !memcmp(c->name, name, sizeof(name)),
		    "record %u (opcode %u) encodes as little-endian wire fields", i, w[i].opcode);
		t_check(le64toh(c->user_data) < 5,
			"record %u carries a tag, not the caller's user_data (0x%" PRIx64 ")", i,
			le64toh(c->user_data));
	}

	/*
	 * run() on a fresh handle over the same kind of file: MAP records read back as
	 * completions carry 0x03010001 (version, opcode, prot) where a tag should be.
	 */
	r = ioasfs_batch_open(dir, &o, &b);
	if (!t_check(r == 0, "open again (%s)", t_errname(r)))
		return;
	for (unsigned i = 0; i < 3; i++)
		cmds[i] = t_cmd(IOASFS_OP_MAP, RW, 0, 100 + i, 0, 0x1000, 0, "buf");
	memset(cqes, 0, sizeof(cqes));
	r = ioasfs_batch_run(b, cmds, 3, cqes);
	t_check(r == -EIO && cqes[0].user_data == 100 && cqes[1].user_data == 101 &&
		    cqes[2].user_data == 102 && cqes[0].res == -EIO && cqes[2].res == -EIO,
		"run over a broken channel: -EIO, each command's completion at its position (%s)",
		t_errname(r));
	t_check(ioasfs_batch_pending(b) == 0, "nothing pending after run (%u)",
		ioasfs_batch_pending(b));
	ioasfs_batch_close(b);
}

int main(int argc, char **argv)
{
	char path[128];
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return T_EXIT_FAIL;
	}
	snprintf(path, sizeof(path), "%s/batch", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror(path);
		return T_EXIT_FAIL;
	}
	close(fd);
	{
		struct ioasfs_batch *b;
		int r = ioasfs_batch_open(dir, NULL, &b);

		if (r == -ENOSYS || r == -EPERM) {
			printf("SKIP: io_uring is not available here (%s)\n", t_errname(r));
			unlink(path);
			rmdir(dir);
			return T_EXIT_SKIP;
		}
		if (r == 0)
			ioasfs_batch_close(b);
	}
	args();
	bound();
	encoding();
	unlink(path);
	rmdir(dir);
	return t_exit();
}
