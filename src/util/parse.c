/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Text parsers for everything a user writes into the tree.
 *
 * strtoull() is not used because it is too forgiving for a filesystem interface: it skips
 * leading white space, accepts a sign (and negates "-1" into 2^64-1), and silently clamps on
 * overflow unless errno is checked. A value written with `echo` must mean exactly one
 * number, so the digit loop below accepts only what C source would (decimal, 0x/0X hex,
 * leading-0 octal), reports 2^64 and above as -EOVERFLOW, and rejects everything else as
 * -EINVAL. All helpers work on a (pointer, length) pair internally so that sizes and
 * ranges can be parsed without copying their parts. Output parameters are written only on
 * success.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "util/parse.h"

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Parse exactly len bytes at s as one number. A malformed string wins over an overflow:
 * "99999999999999999999x" is not a number at all, so it is -EINVAL.
 */
static int parse_num(const char *s, size_t len, uint64_t *ret)
{
	unsigned int base = 10;
	bool overflow = false;
	uint64_t v = 0;
	size_t i = 0;

	if (!s || len == 0)
		return -EINVAL;
	if (s[0] == '0' && len >= 2 && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
		if (len == 2)
			return -EINVAL; /* "0x" */
	} else if (s[0] == '0' && len >= 2) {
		base = 8;
		i = 1;
	}
	for (; i < len; i++) {
		int d = digit_value(s[i]);

		if (d < 0 || (unsigned int)d >= base)
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			overflow = true;
		else
			v = v * base + (uint64_t)d;
	}
	if (overflow)
		return -EOVERFLOW;
	*ret = v;
	return 0;
}

static int size_shift(char c)
{
	switch (c) {
	case 'k':
	case 'K':
		return 10;
	case 'm':
	case 'M':
		return 20;
	case 'g':
	case 'G':
		return 30;
	case 't':
	case 'T':
		return 40;
	}
	return 0;
}

static int parse_size_n(const char *s, size_t len, uint64_t *ret)
{
	uint64_t v;
	int shift = 0;
	int r;

	/* No suffix letter is a hex digit, so "0x10K" is 16 KiB and "0x1B" is 27. */
	if (len > 0)
		shift = size_shift(s[len - 1]);
	if (shift)
		len--;
	r = parse_num(s, len, &v);
	if (r < 0)
		return r;
	if (v > (UINT64_MAX >> shift))
		return -EOVERFLOW;
	*ret = v << shift;
	return 0;
}

int parse_u64(const char *s, uint64_t *ret)
{
	if (!s)
		return -EINVAL;
	return parse_num(s, strlen(s), ret);
}

int parse_size(const char *s, uint64_t *ret)
{
	if (!s)
		return -EINVAL;
	return parse_size_n(s, strlen(s), ret);
}

int parse_range(const char *s, uint64_t *ret_start, uint64_t *ret_last)
{
	const char *dash;
	uint64_t start, last;
	int r;

	if (!s)
		return -EINVAL;
	/* Numbers carry no sign, so the first '-' is the separator; a second one is junk. */
	dash = strchr(s, '-');
	if (!dash)
		return -EINVAL;
	r = parse_num(s, (size_t)(dash - s), &start);
	if (r < 0)
		return r;
	r = parse_num(dash + 1, strlen(dash + 1), &last);
	if (r < 0)
		return r;
	if (start > last)
		return -EINVAL;
	*ret_start = start;
	*ret_last = last;
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int split_words(char *line, char **words, int max)
{
	int n = 0;
	char *p;

	if (!line)
		return -EINVAL;
	if (strchr(line, '\n'))
		return -EINVAL;
	/* Count first so that a line with too many words is left as it was. */
	for (p = line; *p;) {
		while (is_blank(*p))
			p++;
		if (!*p)
			break;
		n++;
		while (*p && !is_blank(*p))
			p++;
	}
	if (n > max)
		return -E2BIG;

	n = 0;
	for (p = line; *p;) {
		while (is_blank(*p))
			p++;
		if (!*p)
			break;
		words[n++] = p;
		while (*p && !is_blank(*p))
			p++;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

int attr_input(const char *data, size_t len, char *buf, size_t bufsz, enum attr_refusal *ret_why)
{
	enum attr_refusal why = 0;

	if (len > 0 && memchr(data, '\0', len))
		why = ATTR_NUL;
	else if (len > 0 && data[len - 1] == '\n')
		len--;
	if (!why && (bufsz == 0 || len > bufsz - 1))
		why = ATTR_LONG;
	else if (!why && len > 0 && memchr(data, '\n', len))
		why = ATTR_LINES;
	if (ret_why)
		*ret_why = why;
	if (why)
		return -EINVAL;
	if (len)
		memcpy(buf, data, len);
	buf[len] = '\0';
	return 0;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == ':' || c == '-';
}

bool valid_name(const char *name)
{
	size_t i;

	if (!name || name[0] == '\0' || name[0] == '.')
		return false;
	for (i = 0; name[i]; i++) {
		if (i >= 63 || !name_char(name[i]))
			return false;
	}
	return true;
}

#define ERRNO_CASE(e)                                                                              \
	case e:                                                                                    \
		return #e

const char *errno_name(int err)
{
	/* Accept -EINVAL as well as EINVAL: callers hold both forms. */
	if (err < 0 && err != INT_MIN)
		err = -err;
	switch (err) {
		ERRNO_CASE(EPERM);
		ERRNO_CASE(ENOENT);
		ERRNO_CASE(ESRCH);
		ERRNO_CASE(EINTR);
		ERRNO_CASE(EIO);
		ERRNO_CASE(ENXIO);
		ERRNO_CASE(E2BIG);
		ERRNO_CASE(ENOEXEC);
		ERRNO_CASE(EBADF);
		ERRNO_CASE(ECHILD);
		ERRNO_CASE(EAGAIN);
		ERRNO_CASE(ENOMEM);
		ERRNO_CASE(EACCES);
		ERRNO_CASE(EFAULT);
		ERRNO_CASE(EBUSY);
		ERRNO_CASE(EEXIST);
		ERRNO_CASE(EXDEV);
		ERRNO_CASE(ENODEV);
		ERRNO_CASE(ENOTDIR);
		ERRNO_CASE(EISDIR);
		ERRNO_CASE(EINVAL);
		ERRNO_CASE(ENFILE);
		ERRNO_CASE(EMFILE);
		ERRNO_CASE(ENOTTY);
		ERRNO_CASE(ETXTBSY);
		ERRNO_CASE(EFBIG);
		ERRNO_CASE(ENOSPC);
		ERRNO_CASE(ESPIPE);
		ERRNO_CASE(EROFS);
		ERRNO_CASE(EMLINK);
		ERRNO_CASE(EPIPE);
		ERRNO_CASE(EDOM);
		ERRNO_CASE(ERANGE);
		ERRNO_CASE(EDEADLK);
		ERRNO_CASE(ENAMETOOLONG);
		ERRNO_CASE(ENOLCK);
		ERRNO_CASE(ENOSYS);
		ERRNO_CASE(ENOTEMPTY);
		ERRNO_CASE(ELOOP);
		ERRNO_CASE(ENODATA);
		ERRNO_CASE(ETIME);
		ERRNO_CASE(EPROTO);
		ERRNO_CASE(EBADMSG);
		ERRNO_CASE(EOVERFLOW);
		ERRNO_CASE(EILSEQ);
		ERRNO_CASE(EMSGSIZE);
		ERRNO_CASE(EOPNOTSUPP);
		ERRNO_CASE(EADDRINUSE);
		ERRNO_CASE(EADDRNOTAVAIL);
		ERRNO_CASE(ENOBUFS);
		ERRNO_CASE(ETIMEDOUT);
		ERRNO_CASE(ECONNREFUSED);
		ERRNO_CASE(EALREADY);
		ERRNO_CASE(EINPROGRESS);
		ERRNO_CASE(ESTALE);
		ERRNO_CASE(EDQUOT);
		ERRNO_CASE(ECANCELED);
		ERRNO_CASE(EOWNERDEAD);
	}
	return "E?";
}
