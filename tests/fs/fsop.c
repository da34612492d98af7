/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fsop: one system call on a path, and the errno it returned, for the shell-level tests.
 *
 * The contract of ioasfs is stated in errnos (EINVAL, EBUSY, EADDRINUSE, ...), and a shell
 * cannot see them: `echo x > f` prints a localized strerror and `$?` is 1 whatever failed.
 * fsop makes exactly the system calls named (one write(2) per DATA, so a FUSE write arrives
 * whole) and prints one status line: "ok", the errno name of the first failing call, or
 * "short N" for a write that took only N bytes; read and rdwr then print the data read.
 * rdwr reads even after a failed write: lines before the failing one still have results.
 * Exit status: 0 whenever the calls ran, 1 if stdout failed, 2 for a usage error.
 *
 *   fsop write FILE DATA        open O_WRONLY|O_TRUNC, one write(2), close
 *   fsop writeat OFF FILE DATA  open O_WRONLY, one pwrite(2) at OFF, close
 *   fsop rdwr FILE DATA         open O_RDWR, one write(2), read(2) until 0, close
 *   fsop writes FILE DATA...    open O_WRONLY, one write(2) per DATA in order, close
 *   fsop read FILE              open O_RDONLY, read(2) until 0, close
 *   fsop readat OFF LEN FILE    open O_RDONLY, one pread(2) of LEN at OFF, close ("short N"
 *                               when it returned N < LEN bytes; the data follows)
 *   fsop create FILE            open O_WRONLY|O_CREAT|O_TRUNC 0644 (creat(2)), close
 *   fsop truncate FILE LEN | mkdir PATH | rmdir PATH | unlink PATH
 *   fsop symlink TARGET LINKPATH | rename OLD NEW
 *
 * DATA takes the C escapes \n \t \r \0 \\ and \xHH.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerrorname_np */
#endif
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

/* Attribute files are small; this stops "fsop read /dev/zero" from eating memory. */
#define READ_MAX (64u << 20)

static char status[64] = "ok";
static int failed;

/* Remember the first failure only: that is the call the test is about. */
static void fail(int err)
{
	const char *name = strerrorname_np(err);

	if (failed++)
		return;
	if (name)
		snprintf(status, sizeof(status), "%s", name);
	else
		snprintf(status, sizeof(status), "E%d", err);
}

static int hexval(char c)
{
	static const char hex[] = "0123456789abcdef";
	const char *p = c ? strchr(hex, tolower((unsigned char)c)) : NULL;

	return p ? (int)(p - hex) : -1;
}

/* Decode in place; returns the decoded length or -1 on a malformed escape. */
static long unescape(char *s)
{
	static const char from[] = "ntr0\\", to[] = "\n\t\r\0\\";
	char *out = s, *start = s;
	const char *e;

	while (*s) {
		if (*s != '\\') {
			*out++ = *s++;
			continue;
		}
		if (s[1] == 'x') {
			if (hexval(s[2]) < 0 || hexval(s[3]) < 0)
				return -1;
			*out++ = (char)(hexval(s[2]) << 4 | hexval(s[3]));
			s += 4;
			continue;
		}
		e = s[1] ? strchr(from, s[1]) : NULL;
		if (!e)
			return -1;
		*out++ = to[e - from];
		s += 2;
	}
	return out - start;
}

static int parse_off(const char *s, off_t *ret)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || end == s || *end)
		return -1;
	*ret = (off_t)v;
	return 0;
}

static void do_write(int fd, const char *data, size_t len, off_t off, int at)
{
	ssize_t n = at ? pwrite(fd, data, len, off) : write(fd, data, len);

	if (n < 0)
		fail(errno);
	else if ((size_t)n != len && !failed++)
		snprintf(status, sizeof(status), "short %zd", n);
}

/* Collect everything first: the status line must come before the data. */
static char *read_all(int fd, size_t *ret_len)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	ssize_t n;

	while (buf) {
		if (len == cap) {
			char *nbuf = cap < READ_MAX ? realloc(buf, cap * 2) : NULL;

			if (!nbuf) {
				fail(cap < READ_MAX ? ENOMEM : EFBIG);
				break;
			}
			buf = nbuf;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0)
			fail(errno);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (!buf)
		fail(ENOMEM);
	*ret_len = len;
	return buf;
}

static int flush_stdout(void)
{
	return fflush(stdout) || ferror(stdout) ? 1 : 0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: fsop write|rdwr FILE DATA | writes FILE DATA... | writeat OFF FILE DATA\n"
		"       | read|create|sendfile FILE | readat OFF LEN FILE\n"
		"       | truncate FILE LEN | mkdir|rmdir|unlink PATH\n"
		"       | symlink TARGET LINKPATH | rename OLD NEW\n");
	return 2;
}

/* The open-file operations; prints the status line (and data) itself. */
static int file_op(const char *op, int argc, char **argv)
{
	bool rd = !strcmp(op, "read") || !strcmp(op, "rdwr");
	bool at = !strcmp(op, "writeat");
	char *path, *data = NULL, *out = NULL;
	size_t outlen = 0;
	long len = 0;
	off_t off = 0;
	int fd, flags;

	if (!strcmp(op, "writes")) {
		if (argc < 4)
			return usage();
		fd = open(argv[2], O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			fail(errno);
		} else {
			for (int i = 3; i < argc && !failed; i++) {
				len = unescape(argv[i]);
				if (len < 0)
					return usage();
				do_write(fd, argv[i], (size_t)len, 0, false);
			}
			if (close(fd) < 0)
				fail(errno);
		}
		printf("%s\n", status);
		return flush_stdout();
	}
	if (!strcmp(op, "write") || !strcmp(op, "rdwr")) {
		if (argc != 4)
			return usage();
		data = argv[3];
		flags = !strcmp(op, "write") ? O_WRONLY | O_TRUNC : O_RDWR;
	} else if (at) {
		if (argc != 5 || parse_off(argv[2], &off))
			return usage();
		data = argv[4];
		flags = O_WRONLY;
	} else if (argc == 3) {
		flags = rd ? O_RDONLY : O_WRONLY | O_CREAT | O_TRUNC;
	} else {
		return usage();
	}
	path = at ? argv[3] : argv[2];
	if (data) {
		len = unescape(data);
		if (len < 0)
			return usage();
	}

	fd = open(path, flags | O_CLOEXEC, 0644);
	if (fd < 0) {
		fail(errno);
	} else {
		if (data)
			do_write(fd, data, (size_t)len, off, at);
		if (rd)
			out = read_all(fd, &outlen);
		if (close(fd) < 0)
			fail(errno);
	}
	printf("%s\n", status);
	if (out)
		fwrite(out, 1, outlen, stdout);
	free(out);
	return flush_stdout();
}

/* sendfile FILE: the file's bytes as sendfile(2) delivers them (as busybox cat reads). */
static int sendfile_op(const char *path)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0) {
		fail(errno);
		printf("%s\n", status);
		return flush_stdout();
	}
	fflush(stdout);
	do
		n = sendfile(STDOUT_FILENO, fd, NULL, 1 << 24);
	while (n > 0);
	close(fd);
	return n < 0 ? 1 : 0;
}

/* One pread(2): the positional files (dma) answer at an offset, not from 0. */
static int read_at(int argc, char **argv)
{
	off_t off, len;
	char *buf = NULL;
	ssize_t n = 0;
	int fd;

	if (argc != 5 || parse_off(argv[2], &off) || parse_off(argv[3], &len) || len < 0 ||
	    len > READ_MAX)
		return usage();
	buf = malloc(len ? (size_t)len : 1);
	fd = open(argv[4], O_RDONLY | O_CLOEXEC);
	if (!buf) {
		fail(ENOMEM);
	} else if (fd < 0) {
		fail(errno);
	} else {
		n = pread(fd, buf, (size_t)len, off);
		if (n < 0)
			fail(errno);
		else if (n < len)
			snprintf(status, sizeof(status), "short %zd", n);
	}
	if (fd >= 0 && close(fd) < 0)
		fail(errno);
	printf("%s\n", status);
	if (n > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	free(buf);
	return flush_stdout();
}

int main(int argc, char **argv)
{
	const char *op = argc > 1 ? argv[1] : "";
	off_t len;
	int r;

	if (!strcmp(op, "write") || !strcmp(op, "rdwr") || !strcmp(op, "writeat") ||
	    !strcmp(op, "read") || !strcmp(op, "create") || !strcmp(op, "writes"))
		return file_op(op, argc, argv);
	if (!strcmp(op, "sendfile") && argc == 3)
		return sendfile_op(argv[2]);
	if (!strcmp(op, "readat"))
		return read_at(argc, argv);
	if (!strcmp(op, "truncate") && argc == 4 && !parse_off(argv[3], &len)) {
		r = truncate(argv[2], len);
	} else if (!strcmp(op, "mkdir") && argc == 3) {
		r = mkdir(argv[2], 0755);
	} else if (!strcmp(op, "rmdir") && argc == 3) {
		r = rmdir(argv[2]);
	} else if (!strcmp(op, "unlink") && argc == 3) {
		r = unlink(argv[2]);
	} else if (!strcmp(op, "symlink") && argc == 4) {
		r = symlink(argv[2], argv[3]);
	} else if (!strcmp(op, "rename") && argc == 4) {
		r = rename(argv[2], argv[3]);
	} else {
		return usage();
	}
	if (r < 0)
		fail(errno);
	printf("%s\n", status);
	return flush_stdout();
}
