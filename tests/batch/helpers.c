/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared pieces of the batch channel tests: set-up and tear-down of a test's own IOAS and
 * source on a mounted ioasfs, file helpers, wire records, and ok/not ok reporting. Kept
 * small and obvious: a helper that could hide a failure would make the tests that use it
 * unable to fail.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerrorname_np */
#endif
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

unsigned t_failed;

bool t_check(bool cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", cond ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!cond)
		t_failed++;
	return cond;
}

void t_log(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

int t_exit(void)
{
	printf("%s\n", t_failed ? "FAIL" : "PASS");
	return t_failed ? T_EXIT_FAIL : T_EXIT_PASS;
}

const char *t_errname(int res)
{
	const char *n;

	if (res == 0)
		return "0";
	n = strerrorname_np(res < 0 ? -res : res);
	return n ? n : "E?";
}

char *t_read_file(const char *path)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0 || !buf)
		goto err;
	while ((n = read(fd, buf + len, cap - len)) > 0) {
		len += (size_t)n;
		if (len == cap) {
			char *nb = realloc(buf, 2 * cap + 1);

			if (!nb)
				goto err;
			buf = nb;
			cap *= 2;
		}
	}
	if (n < 0)
		goto err;
	close(fd);
	buf[len] = '\0';
	return buf;
err:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

int t_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	return r;
}

char *t_ioas_file(const struct t_env *e, const char *file)
{
	char path[1400];

	snprintf(path, sizeof(path), "%s/%s", e->ioas, file);
	return t_read_file(path);
}

uint64_t t_stat(const struct t_env *e, const char *key)
{
	char *s = t_ioas_file(e, "stats"), *p;
	uint64_t v = UINT64_MAX;
	size_t kl = strlen(key);

	for (p = s; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
		if (!strncmp(p, key, kl) && p[kl] == ' ') {
			v = strtoull(p + kl + 1, NULL, 0);
			break;
		}
	free(s);
	return v;
}

unsigned t_new_error_lines(const char *before, const char *after, const char **last,
			   size_t *last_len)
{
	size_t bl = strlen(before), al = strlen(after);
	const char *p;

	*last = after;
	*last_len = 0;
	if (al) {
		const char *end = after + al - (after[al - 1] == '\n');
		const char *start = end;

		while (start > after && start[-1] != '\n')
			start--;
		*last = start;
		*last_len = (size_t)(end - start);
	}
	/* the longest suffix of before (whole lines) that is a prefix of after */
	for (p = before; p < before + bl; p = strchr(p, '\n') + 1) {
		size_t sl = bl - (size_t)(p - before);

		if (sl <= al && !memcmp(p, after, sl)) {
			unsigned n = 0;

			for (const char *q = after + sl; *q; q++)
				n += *q == '\n';
			return n;
		}
		if (!strchr(p, '\n'))
			break;
	}
	/* nothing in common: every line of after is new */
	{
		unsigned n = 0;

		for (const char *q = after; *q; q++)
			n += *q == '\n';
		return n;
	}
}

struct ioasfs_cmd t_cmd(uint8_t opcode, uint8_t prot, uint32_t flags, uint64_t user_data,
			uint64_t iova, uint64_t length, uint64_t offset, const char *name)
{
	struct ioasfs_cmd c;

	memset(&c, 0, sizeof(c));
	c.version = htole16(IOASFS_BATCH_VERSION);
	c.opcode = opcode;
	c.prot = prot;
	c.flags = htole32(flags);
	c.user_data = htole64(user_data);
	c.iova = htole64(iova);
	c.length = htole64(length);
	c.offset = htole64(offset);
	if (name)
		memcpy(c.name, name, strnlen(name, sizeof(c.name)));
	return c;
}

struct ioasfs_cqe t_cqe_host(const struct ioasfs_cqe *wire)
{
	struct ioasfs_cqe c = {
		.user_data = le64toh(wire->user_data),
		.res = (int32_t)le32toh((uint32_t)wire->res),
		.flags = le32toh(wire->flags),
		.iova = le64toh(wire->iova),
		.length = le64toh(wire->length),
	};

	return c;
}

int t_setup(struct t_env *e, int argc, char **argv, const char *name, const char *src_size)
{
	char path[1400], val[64];
	struct stat st;
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(e, 0, sizeof(*e));
	if (argc < 2 || !argv[1][0]) {
		printf("SKIP: usage: %s MOUNTPOINT (a mounted ioasfs)\n", argv[0]);
		return T_EXIT_SKIP;
	}
	snprintf(e->mnt, sizeof(e->mnt), "%s", argv[1]);
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->ioas, sizeof(e->ioas), "%s/ioas/%s", e->mnt, name);
	snprintf(e->batch, sizeof(e->batch), "%s/batch", e->ioas);
	snprintf(e->errors, sizeof(e->errors), "%s/errors", e->mnt);
	if (mkdir(e->ioas, 0755) < 0 && errno != EEXIST) {
		printf("mkdir %s: %s\n", e->ioas, strerror(errno));
		return T_EXIT_FAIL;
	}
	if (stat(e->batch, &st) < 0) {
		printf("SKIP: %s: %s (a daemon without the batch channel)\n", e->batch,
		       strerror(errno));
		rmdir(e->ioas);
		return T_EXIT_SKIP;
	}
	snprintf(path, sizeof(path), "%s/sources/%s", e->mnt, name);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		printf("mkdir %s: %s\n", path, strerror(errno));
		return T_EXIT_FAIL;
	}
	snprintf(path, sizeof(path), "%s/sources/%s/path", e->mnt, name);
	snprintf(val, sizeof(val), "anon %s", src_size);
	r = t_write_file(path, val);
	if (r < 0) {
		printf("%s: %s\n", path, strerror(-r));
		return T_EXIT_FAIL;
	}
	return T_EXIT_PASS;
}

void t_teardown(struct t_env *e)
{
	char path[1400];

	snprintf(path, sizeof(path), "%s/unmap", e->ioas);
	t_write_file(path, "all");
	t_check(rmdir(e->ioas) == 0, "rmdir %s", e->ioas);
	snprintf(path, sizeof(path), "%s/sources/%s", e->mnt, e->name);
	t_check(rmdir(path) == 0, "rmdir %s", path);
}
