/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared pieces of the batch channel tests. Each test is one program about one behaviour
 * (the liburing habit): it exits 0 pass, 1 fail, 77 skip, and prints one "ok - ..." or
 * "not ok - ..." line per check so a failure says what was seen. Tests that need a daemon
 * take the mount point as argv[1] (tests/fs/t-batch.sh passes it) and work in an IOAS and a
 * source of their own, named after the test, which they remove at the end.
 */
#ifndef IOASFS_TESTS_BATCH_HELPERS_H
#define IOASFS_TESTS_BATCH_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ioasfs/batch.h"

#define T_EXIT_PASS 0
#define T_EXIT_FAIL 1
#define T_EXIT_SKIP 77

struct t_env {
	char mnt[1024];
	char name[64];	   /* the test's IOAS and source name */
	char ioas[1200];   /* MOUNT/ioas/NAME */
	char batch[1300];  /* MOUNT/ioas/NAME/batch */
	char errors[1100]; /* MOUNT/errors */
};

extern unsigned t_failed;

/* One check: prints ok/not ok with the description, counts failures; returns cond. */
__attribute__((format(printf, 2, 3))) bool t_check(bool cond, const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void t_log(const char *fmt, ...);
/* T_EXIT_PASS, or T_EXIT_FAIL if any check failed. */
int t_exit(void);

/*
 * Mount point from argv[1]; creates ioas/NAME and sources/NAME ("anon src_size").
 * Returns T_EXIT_PASS, or T_EXIT_SKIP (no mount given, no batch file), or T_EXIT_FAIL.
 */
int t_setup(struct t_env *e, int argc, char **argv, const char *name, const char *src_size);
/* Unmap everything, remove the IOAS and the source. */
void t_teardown(struct t_env *e);

/* A malloc'd NUL-terminated copy of a file (NULL on error, errno set). */
char *t_read_file(const char *path);
/* One write(2) of s; 0 or -errno. */
int t_write_file(const char *path, const char *s);
/* The value of "key value" in e->ioas/stats, or UINT64_MAX. */
uint64_t t_stat(const struct t_env *e, const char *key);
char *t_ioas_file(const struct t_env *e, const char *file);

/*
 * How many lines `errors` gained between two reads of it (it is a bounded ring, so the
 * old lines may have scrolled); *last is set to the newest line of after (in after).
 */
unsigned t_new_error_lines(const char *before, const char *after, const char **last,
			   size_t *last_len);

/* A wire record, little-endian. */
struct ioasfs_cmd t_cmd(uint8_t opcode, uint8_t prot, uint32_t flags, uint64_t user_data,
			uint64_t iova, uint64_t length, uint64_t offset, const char *name);
/* A completion from the wire, in host order. */
struct ioasfs_cqe t_cqe_host(const struct ioasfs_cqe *wire);

const char *t_errname(int res);

#endif
