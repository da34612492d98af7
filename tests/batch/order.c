/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Completions come back in command order, one per command, with the kernel's errno and the
 * values a program needs (the IOVA an automatic map chose, the bytes an unmap removed).
 * One write(2) carries a mix of commands that succeed and fail; reads with odd buffer sizes
 * get whole records only, oldest first; a failing command stops nothing after it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define RW	 (IOASFS_PROT_READ | IOASFS_PROT_WRITE)
#define UD(i)	 (0xfeedf00d00000000ull | (i)) /* all 64 bits of user_data come back */
#define FIXED	 0x100000ull
#define ANY_IOVA UINT64_MAX

struct expect {
	const char *what;
	struct ioasfs_cmd cmd;
	int res;
	uint64_t iova; /* ANY_IOVA: checked separately */
	uint64_t length;
};

int main(int argc, char **argv)
{
	struct expect ex[16];
	struct ioasfs_cmd cmds[16];
	struct ioasfs_cqe wire[16], got[16];
	char name[IOASFS_NAME_LEN];
	unsigned n = 0, ngot = 0;
	struct t_env e;
	char *maps;
	ssize_t w;
	int fd, r;

	r = t_setup(&e, argc, argv, "order", "16M");
	if (r != T_EXIT_PASS)
		return r;
	snprintf(name, sizeof(name), "%s", e.name);
	fd = open(e.batch, O_RDWR);
	if (!t_check(fd >= 0, "open %s O_RDWR", e.batch))
		goto out;

#define ADD(w, op, prot, fl, iova, len, off, nm, r_, riova, rlen)                                  \
	ex[n] =                                                                                    \
	    (struct expect){ w, t_cmd(op, prot, fl, UD(n), iova, len, off, nm), r_, riova, rlen }; \
	n++
	ADD("MAP_FIXED 64K", IOASFS_OP_MAP_FIXED, RW, 0, FIXED, 0x10000, 0, name, 0, FIXED,
	    0x10000);
	ADD("MAP_FIXED overlapping it", IOASFS_OP_MAP_FIXED, RW, 0, FIXED + 0x8000, 0x1000, 0, name,
	    -EEXIST, FIXED + 0x8000, 0x1000);
	ADD("MAP of an unknown source", IOASFS_OP_MAP, RW, 0, 0, 0x1000, 0, "nosuch", -ENOENT, 0,
	    0x1000);
	ADD("UNMAP that would split the mapping", IOASFS_OP_UNMAP, 0, 0, FIXED, 0x1000, 0, NULL,
	    -ENOENT, FIXED, 0x1000);
	ADD("NOP", IOASFS_OP_NOP, 0, 0, 0, 0, 0, NULL, 0, 0, 0);
	ADD("MAP auto 8K", IOASFS_OP_MAP, RW, 0, 0, 0x2000, 0x2000, name, 0, ANY_IOVA, 0x2000);
	ADD("MAP_FIXED over the x86 MSI window", IOASFS_OP_MAP_FIXED, RW, 0, 0xfee00000, 0x1000, 0,
	    name, -EINVAL, 0xfee00000, 0x1000);
	ADD("MAP past the end of the source", IOASFS_OP_MAP, RW, 0, 0, 0x2000, 16 << 20, name,
	    -EINVAL, 0, 0x2000);
	ADD("MAP_FIXED of length 0", IOASFS_OP_MAP_FIXED, RW, 0, 0x200000, 0, 0, name, -EINVAL,
	    0x200000, 0);
	ADD("UNMAP covering nothing", IOASFS_OP_UNMAP, 0, 0, 0x50000000, 0x1000, 0, NULL, -ENOENT,
	    0x50000000, 0x1000);
	ADD("UNMAP of the 64K mapping", IOASFS_OP_UNMAP, 0, 0, FIXED, 0x10000, 0, NULL, 0, FIXED,
	    0x10000);
	ADD("MAP_FIXED again where it was", IOASFS_OP_MAP_FIXED, IOASFS_PROT_READ, 0, FIXED, 0x1000,
	    0, name, 0, FIXED, 0x1000);
#undef ADD
	for (unsigned i = 0; i < n; i++)
		cmds[i] = ex[i].cmd;
	w = write(fd, cmds, n * sizeof(cmds[0]));
	t_check(w == (ssize_t)(n * sizeof(cmds[0])),
		"one write of %u commands returns its size (%zd)", n, w);

	/* odd sizes: a read returns whole records only, and 0 bytes once none are left */
	{
		static const size_t sizes[] = { 3 * 32 + 17, 1 * 32, 31, 5 * 32 + 31, 64 * 32, 32 };
		char *p = (char *)wire;

		for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			size_t want = sizes[i] / 32 < n - ngot ? sizes[i] / 32 : n - ngot;
			char buf[64 * 32];
			ssize_t rd = read(fd, buf, sizes[i]);

			t_check(rd == (ssize_t)(want * 32),
				"read of %zu bytes returns %zu whole completions (%zd bytes)",
				sizes[i], want, rd);
			if (rd > 0 && ngot + rd / 32 <= n) {
				memcpy(p + ngot * 32, buf, (size_t)rd);
				ngot += (unsigned)rd / 32;
			}
		}
	}
	t_check(ngot == n, "%u completions for %u commands", ngot, n);
	for (unsigned i = 0; i < ngot; i++) {
		const struct expect *x = &ex[i];

		got[i] = t_cqe_host(&wire[i]);
		t_check(got[i].user_data == UD(i) && got[i].res == x->res && got[i].flags == 0 &&
			    (x->iova == ANY_IOVA || got[i].iova == x->iova) &&
			    got[i].length == x->length,
			"#%u %s: user_data 0x%" PRIx64 " res %s iova 0x%" PRIx64
			" length 0x%" PRIx64 " (want res %s)",
			i, x->what, got[i].user_data, t_errname(got[i].res), got[i].iova,
			got[i].length, t_errname(x->res));
	}
	/*
	 * The automatic map: not 0, clear of the fixed mapping, aligned to its length (the
	 * kernel caps that alignment at the source address's, which is 8K at offset 8K).
	 */
	if (ngot > 5) {
		uint64_t a = got[5].iova;

		t_check(a && !(a & 0x1fff) && (a + 0x2000 <= FIXED || a >= FIXED + 0x10000),
			"MAP auto chose 0x%" PRIx64
			": non-zero, 8K aligned, clear of 0x%llx-0x%llx",
			a, FIXED, FIXED + 0xffff);
		maps = t_ioas_file(&e, "mappings");
		{
			char line[256];

			snprintf(line, sizeof(line),
				 "0x%016" PRIx64 "-0x%016" PRIx64 " rw %s+0x2000\n"
				 "0x%016llx-0x%016llx r %s+0x0\n",
				 a, a + 0x1fff, name, FIXED, FIXED + 0xfff, name);
			if (a > FIXED)
				snprintf(line, sizeof(line),
					 "0x%016llx-0x%016llx r %s+0x0\n"
					 "0x%016" PRIx64 "-0x%016" PRIx64 " rw %s+0x2000\n",
					 FIXED, FIXED + 0xfff, name, a, a + 0x1fff, name);
			if (!t_check(maps && !strcmp(maps, line), "mappings lists the two maps"))
				t_log("mappings reads [%s], want [%s]",
				      maps ? maps : "(unreadable)", line);
		}
		free(maps);
	}
	t_check(t_stat(&e, "mappings") == 2, "stats: mappings 2");
	close(fd);
out:
	t_teardown(&e);
	return t_exit();
}
