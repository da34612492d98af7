/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer harness for the text parsers of src/util/parse.h, the first code to see every
 * byte a user writes into the tree. The parsers promise more than "does not crash": exactly
 * one C-syntax number per token, -EOVERFLOW for 2^64 and above, nothing written on failure.
 * So each input is also held to properties: a number that parses prints back ("%" PRIu64,
 * "0x%" PRIx64) to the same value; where strtoull() reads the whole token without skipping
 * or signing anything, parse_u64 agrees with it (a differential against libc); a size is its
 * number shifted by its suffix; a range has start <= last and is its two numbers; split_words
 * returns the blank-free words of a reference split in order, and leaves a line with too many
 * words as it was; attr_input and valid_name match small reference models. Any violation is
 * an abort(), which libFuzzer reports as a crash.
 *
 * Input: byte 0 picks the split_words limit and the attr_input buffer size; the rest is the
 * text (NUL-terminated in a copy for the string functions, used raw for attr_input).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/parse.h"

#define FUZZ_NAME "fuzz_parse"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_WORDS 16

static bool parse_err_ok(int r)
{
	return r == -EINVAL || r == -EOVERFLOW;
}

/* strtoull() reads the whole token, with nothing parse_u64 is documented to refuse. */
static void check_u64_vs_strtoull(const char *s, size_t len, int r, uint64_t v)
{
	unsigned long long ref;
	char *end;

	if (len == 0 || !isdigit((unsigned char)s[0]))
		return; /* strtoull would skip blanks or take a sign */
	errno = 0;
	ref = strtoull(s, &end, 0);
	if (end != s + len)
		return; /* strtoull stopped early: not one number */
	if (errno == ERANGE) {
		CHECK(r == -EOVERFLOW);
		return;
	}
	CHECK(r == 0);
	CHECK(v == (uint64_t)ref);
}

static void check_u64(const char *s, size_t len)
{
	char buf[32];
	uint64_t v = 0xdeadbeef, v2;
	int r;

	r = parse_u64(s, &v);
	if (r < 0) {
		CHECK(parse_err_ok(r));
		CHECK(v == 0xdeadbeef); /* untouched on failure */
		check_u64_vs_strtoull(s, len, r, v);
		return;
	}
	check_u64_vs_strtoull(s, len, r, v);

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	CHECK(parse_u64(buf, &v2) == 0 && v2 == v);
	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	CHECK(parse_u64(buf, &v2) == 0 && v2 == v);
	snprintf(buf, sizeof(buf), "0%" PRIo64, v);
	CHECK(parse_u64(buf, &v2) == 0 && v2 == v);
	/* a plain number is a size without a suffix */
	CHECK(parse_size(s, &v2) == 0 && v2 == v);
}

static int suffix_shift(char c)
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

static void check_size(const char *s, size_t len)
{
	char buf[32], head[4096];
	uint64_t v = 0xdeadbeef, base, v2;
	int shift = len ? suffix_shift(s[len - 1]) : 0;
	int r, rb;

	r = parse_size(s, &v);
	if (r < 0) {
		CHECK(parse_err_ok(r));
		CHECK(v == 0xdeadbeef);
	}
	if (!shift) {
		rb = parse_u64(s, &base);
		CHECK(rb == r);
		if (!r)
			CHECK(base == v);
		return;
	}
	if (len - 1 >= sizeof(head))
		return;
	memcpy(head, s, len - 1);
	head[len - 1] = '\0';
	rb = parse_u64(head, &base);
	if (rb < 0) {
		CHECK(r == rb);
		return;
	}
	if (base > (UINT64_MAX >> shift)) {
		CHECK(r == -EOVERFLOW);
		return;
	}
	CHECK(r == 0 && v == base << shift);
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	CHECK(parse_size(buf, &v2) == 0 && v2 == v);
}

static void check_range(const char *s)
{
	char buf[64], *t;
	const char *dash;
	uint64_t a = 1, b = 2, a2, b2;
	int r;

	r = parse_range(s, &a, &b);
	if (r < 0) {
		CHECK(parse_err_ok(r));
		CHECK(a == 1 && b == 2);
		return;
	}
	CHECK(a <= b);
	snprintf(buf, sizeof(buf), "%" PRIu64 "-0x%" PRIx64, a, b);
	CHECK(parse_range(buf, &a2, &b2) == 0 && a2 == a && b2 == b);

	/* the first '-' separates two parse_u64 numbers */
	dash = strchr(s, '-');
	CHECK(dash);
	t = strndup(s, (size_t)(dash - s));
	CHECK(t);
	CHECK(parse_u64(t, &a2) == 0 && a2 == a);
	CHECK(parse_u64(dash + 1, &b2) == 0 && b2 == b);
	free(t);
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

static void check_split(const char *s, size_t len, int max)
{
	char *line = malloc(len + 1), *orig = malloc(len + 1);
	char *words[MAX_WORDS];
	size_t i, start, nref = 0;
	int n;

	CHECK(line && orig);
	memcpy(line, s, len + 1);
	memcpy(orig, s, len + 1);
	for (i = 0; i < (size_t)max; i++)
		words[i] = NULL;

	n = split_words(line, words, max);
	if (memchr(orig, '\n', len)) {
		CHECK(n == -EINVAL);
		CHECK(!memcmp(line, orig, len + 1));
		goto out;
	}
	/* reference count of blank-separated words */
	for (i = 0; i < len;) {
		while (i < len && blank(orig[i]))
			i++;
		if (i == len)
			break;
		nref++;
		while (i < len && !blank(orig[i]))
			i++;
	}
	if (nref > (size_t)max) {
		CHECK(n == -E2BIG);
		CHECK(!memcmp(line, orig, len + 1)); /* left as it was */
		goto out;
	}
	CHECK(n >= 0 && (size_t)n == nref);
	/* each word is the next run of non-blank bytes of the original, in order */
	start = 0;
	for (int k = 0; k < n; k++) {
		size_t off, wl;

		CHECK(words[k] >= line && words[k] < line + len);
		off = (size_t)(words[k] - line);
		CHECK(off >= start);
		for (i = start; i < off; i++)
			CHECK(blank(orig[i]));
		wl = strlen(words[k]);
		CHECK(wl > 0 && off + wl <= len);
		for (i = 0; i < wl; i++)
			CHECK(!blank(words[k][i]) && words[k][i] == orig[off + i]);
		CHECK(off + wl == len || blank(orig[off + wl]));
		start = off + wl;
	}
	for (i = start; i < len; i++)
		CHECK(blank(orig[i]));
out:
	free(line);
	free(orig);
}

static void check_attr_input(const uint8_t *data, size_t len, size_t bufsz)
{
	char *buf = malloc(bufsz ? bufsz : 1);
	size_t l = len;
	bool ok = true;
	int r;

	CHECK(buf);
	if (l > 0 && data[l - 1] == '\n')
		l--;
	for (size_t i = 0; i < l; i++)
		if (data[i] == '\n' || data[i] == '\0')
			ok = false;
	if (bufsz == 0 || l > bufsz - 1)
		ok = false;

	r = attr_input((const char *)data, len, buf, bufsz, NULL);
	if (!ok) {
		CHECK(r == -EINVAL);
	} else {
		CHECK(r == 0);
		CHECK(buf[l] == '\0');
		CHECK(!memcmp(buf, data, l));
	}
	free(buf);
}

static void check_name(const char *s, size_t len)
{
	bool ref = len >= 1 && len <= 63 && s[0] != '.';

	for (size_t i = 0; i < len && ref; i++) {
		char c = s[i];

		ref = isalnum((unsigned char)c) || c == '_' || c == '.' || c == ':' || c == '-';
	}
	CHECK(valid_name(s) == ref);
}

static void check_one_errno(int e)
{
	const char *n = errno_name(e);

	CHECK(n && n[0] == 'E');
	if (e != INT_MIN)
		CHECK(!strcmp(n, errno_name(-e)));
}

/* The first bytes as an int, and the selector byte as a small one (the names that exist). */
static void check_errno_name(uint8_t sel, const uint8_t *data, size_t size)
{
	int e = 0;

	memcpy(&e, data, size < sizeof(e) ? size : sizeof(e));
	check_one_errno(e);
	check_one_errno((int8_t)sel);
	check_one_errno(INT_MIN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len, slen, bufsz;
	uint8_t sel;
	int max;
	char *s;

	if (size < 1)
		return 0;
	sel = data[0];
	max = data[0] % (MAX_WORDS + 1);
	bufsz = data[0] >> 2; /* 0..63: exercises "does not fit" too */
	data++;
	size--;

	s = malloc(size + 1);
	CHECK(s);
	memcpy(s, data, size);
	s[size] = '\0';
	len = size;
	slen = strlen(s); /* the C string stops at the first NUL of the input */

	check_u64(s, slen);
	check_size(s, slen);
	check_range(s);
	check_split(s, slen, max);
	check_name(s, slen);
	check_attr_input(data, len, bufsz);
	check_errno_name(sel, data, size);
	/* NULL is refused, not dereferenced */
	CHECK(parse_u64(NULL, NULL) == -EINVAL);
	CHECK(parse_size(NULL, NULL) == -EINVAL);
	CHECK(parse_range(NULL, NULL, NULL) == -EINVAL);
	CHECK(split_words(NULL, NULL, 0) == -EINVAL);
	free(s);
	return 0;
}
