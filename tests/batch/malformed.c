/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A malformed batch is rejected whole before anything runs. Each case writes, with one
 * write(2), a valid MAP_FIXED followed by one bad record (or a torn write), and checks what a
 * program can see: the write fails with EINVAL, the valid map did not happen (`mappings` and
 * `stats` read exactly as before), no completion can be read, and
 * `errors` gained exactly one line that names the batch file.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define GOOD_IOVA 0x40000000ull

struct bad_case {
	const char *what;
	struct ioasfs_cmd bad;
	size_t cut; /* bytes to leave off the end of the write */
};

static struct bad_case cases[32];
static unsigned ncases;

/* Add a case; returns its bad record, for the test to spoil. */
static struct ioasfs_cmd *bad(const char *what, struct ioasfs_cmd cmd, size_t cut)
{
	cases[ncases] = (struct bad_case){ what, cmd, cut };
	return &cases[ncases++].bad;
}

#define NOP	       t_cmd(IOASFS_OP_NOP, 0, 0, 2, 0, 0, 0, NULL)
#define UNMAP(i, l)    t_cmd(IOASFS_OP_UNMAP, 0, 0, 2, i, l, 0, NULL)
#define MAP(i, l, off) t_cmd(IOASFS_OP_MAP, 3, 0, 2, i, l, off, e.name)

static void run_case(const struct t_env *e, int fd, const struct bad_case *c)
{
	struct ioasfs_cmd buf[2];
	struct ioasfs_cqe cqe;
	char *maps0 = t_ioas_file(e, "mappings"), *stats0 = t_ioas_file(e, "stats");
	char *err0 = t_read_file(e->errors), *maps1, *stats1, *err1;
	size_t len = sizeof(buf) - c->cut, ll;
	const char *last;
	ssize_t n;
	unsigned added;

	buf[0] = t_cmd(IOASFS_OP_MAP_FIXED, IOASFS_PROT_READ | IOASFS_PROT_WRITE, 0, 1, GOOD_IOVA,
		       0x1000, 0, e->name);
	buf[1] = c->bad;
	errno = 0;
	n = write(fd, buf, len);
	t_check(n == -1 && errno == EINVAL,
		"%s: write of %zu bytes fails with EINVAL (got %zd, %s)", c->what, len, n,
		n < 0 ? t_errname(errno) : "no error");
	maps1 = t_ioas_file(e, "mappings");
	stats1 = t_ioas_file(e, "stats");
	err1 = t_read_file(e->errors);
	t_check(maps0 && maps1 && !strcmp(maps0, maps1), "%s: mappings unchanged", c->what);
	t_check(stats0 && stats1 && !strcmp(stats0, stats1), "%s: stats unchanged", c->what);
	n = read(fd, &cqe, sizeof(cqe));
	t_check(n == 0, "%s: no completion to read (read returned %zd)", c->what, n);
	added = err0 && err1 ? t_new_error_lines(err0, err1, &last, &ll) : 0;
	t_check(added == 1 && memmem(last, ll, "/batch", 6),
		"%s: errors gained one line naming the batch file (%u new, newest: %.*s)", c->what,
		added, err1 ? (int)ll : 0, err1 ? last : "");
	free(maps0);
	free(maps1);
	free(stats0);
	free(stats1);
	free(err0);
	free(err1);
}

int main(int argc, char **argv)
{
	struct t_env e;
	int fd, r;

	r = t_setup(&e, argc, argv, "malformed", "16M");
	if (r != T_EXIT_PASS)
		return r;
	fd = open(e.batch, O_RDWR);
	if (!t_check(fd >= 0, "open %s O_RDWR", e.batch))
		goto out;

	bad("bad version", NOP, 0)->version = htole16(2);
	bad("version 0", NOP, 0)->version = 0;
	bad("opcode IOASFS_OP_MAX", t_cmd(IOASFS_OP_MAX, 0, 0, 2, 0, 0, 0, NULL), 0);
	bad("opcode 0xff", t_cmd(0xff, 0, 0, 2, 0, 0, 0, NULL), 0);
	bad("truncated record (1 byte short)", NOP, 1);
	bad("truncated record (half a record)", NOP, 64);
	bad("reserved[0] set", NOP, 0)->reserved[0] = htole64(1);
	bad("reserved[2] set (top byte)", UNMAP(0x1000, 0x1000), 0)->reserved[2] =
	    htole64(1ull << 63);
	bad("unknown flag on UNMAP", UNMAP(0x1000, 0x1000), 0)->flags = htole32(0x4);
	bad("COPY_FIXED on MAP", MAP(0, 0x1000, 0), 0)->flags = htole32(IOASFS_CMD_COPY_FIXED);
	bad("UNMAP_ALL on NOP", NOP, 0)->flags = htole32(IOASFS_CMD_UNMAP_ALL);
	memset(bad("name without NUL", MAP(0, 0x1000, 0), 0)->name, 'a', IOASFS_NAME_LEN);
	bad("bytes after the name's NUL", MAP(0, 0x1000, 0), 0)->name[IOASFS_NAME_LEN - 1] = 'x';
	/* the source is "malformed", NUL at 9: a byte in the NUL's 8-byte word, one in the next */
	bad("a byte right after the name's NUL", MAP(0, 0x1000, 0), 0)->name[10] = 'x';
	bad("a byte in the word after the NUL's", MAP(0, 0x1000, 0), 0)->name[17] = 'x';
	bad("a name on UNMAP", UNMAP(0x1000, 0x1000), 0)->name[0] = 'x';
	bad("a byte in the middle of NOP's name", NOP, 0)->name[37] = 'x';
	bad("MAP_FIXED iova + length wraps", MAP(0xfffffffffffff000ull, 0x2000, 0), 0)->opcode =
	    IOASFS_OP_MAP_FIXED;
	bad("MAP offset + length wraps", MAP(0, 0x2000, 0xfffffffffffff000ull), 0);
	bad("UNMAP iova + length wraps", UNMAP(0xffffffffffffffffull, 0x2), 0);
	bad("prot bit 0x4", MAP(0, 0x1000, 0), 0)->prot = 0x7;
	bad("prot on NOP", NOP, 0)->prot = IOASFS_PROT_READ;

	for (unsigned i = 0; i < ncases; i++)
		run_case(&e, fd, &cases[i]);

	/* one record more than a write may carry: refused whole too */
	{
		static struct ioasfs_cmd big[IOASFS_BATCH_MAX_CMDS + 1];
		struct bad_case c = { "one record over IOASFS_BATCH_MAX_CMDS" };
		char *maps0 = t_ioas_file(&e, "mappings"), *err0 = t_read_file(e.errors), *maps1;
		char *err1;
		struct ioasfs_cqe cqe;
		const char *last = "";
		size_t ll = 0;
		unsigned added = 0;
		ssize_t w;

		big[0] = t_cmd(IOASFS_OP_MAP_FIXED, 3, 0, 1, GOOD_IOVA, 0x1000, 0, e.name);
		for (unsigned i = 1; i <= IOASFS_BATCH_MAX_CMDS; i++)
			big[i] = t_cmd(IOASFS_OP_NOP, 0, 0, i, 0, 0, 0, NULL);
		errno = 0;
		w = write(fd, big, sizeof(big));
		t_check(w == -1 && errno == EINVAL, "%s: %u records: EINVAL (%zd, %s)", c.what,
			IOASFS_BATCH_MAX_CMDS + 1, w, t_errname(errno));
		maps1 = t_ioas_file(&e, "mappings");
		err1 = t_read_file(e.errors);
		t_check(maps0 && maps1 && !strcmp(maps0, maps1), "%s: mappings unchanged", c.what);
		t_check(read(fd, &cqe, sizeof(cqe)) == 0, "%s: no completion to read", c.what);
		if (err0 && err1)
			added = t_new_error_lines(err0, err1, &last, &ll);
		t_check(added == 1, "%s: errors gained one line (%u; %.*s)", c.what, added, (int)ll,
			last);
		free(maps0);
		free(maps1);
		free(err0);
		free(err1);
	}

	/* the same session still works: the good record alone maps */
	{
		struct ioasfs_cmd good =
		    t_cmd(IOASFS_OP_MAP_FIXED, 3, 0, 7, GOOD_IOVA, 0x1000, 0, e.name);
		struct ioasfs_cqe wire, c;
		ssize_t w = write(fd, &good, sizeof(good)), rd = read(fd, &wire, sizeof(wire));

		c = t_cqe_host(&wire);
		t_check(w == sizeof(good) && rd == sizeof(wire) && c.res == 0 && c.user_data == 7 &&
			    c.iova == GOOD_IOVA,
			"after the rejections the session maps (write %zd, read %zd, res %s)", w,
			rd, t_errname(c.res));
	}
	close(fd);
out:
	t_teardown(&e);
	return t_exit();
}
