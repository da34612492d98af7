/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for the text parsers. Every string a user can echo into an attribute file ends
 * up in one of these functions, so each accepted form is checked for its exact value and
 * each rejected form for its exact errno: a parser that is merely "mostly right" lets
 * `echo -1 > size` map 16 EiB or `echo " 1" > start` mean something.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h> /* parse.h uses PRIx64 without including it */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/parse.h"

static uint64_t u64_of(const char *s)
{
	uint64_t v = 0xdeadbeef;

	ck_assert_msg(parse_u64(s, &v) == 0, "parse_u64(\"%s\") failed", s);
	return v;
}

static int u64_err(const char *s)
{
	uint64_t v = 0xdeadbeef;
	int r = parse_u64(s, &v);

	/* Output parameters stay untouched on failure. */
	ck_assert_uint_eq(v, 0xdeadbeef);
	return r;
}

static uint64_t size_of(const char *s)
{
	uint64_t v = 0xdeadbeef;

	ck_assert_msg(parse_size(s, &v) == 0, "parse_size(\"%s\") failed", s);
	return v;
}

static int size_err(const char *s)
{
	uint64_t v = 0xdeadbeef;
	int r = parse_size(s, &v);

	ck_assert_uint_eq(v, 0xdeadbeef);
	return r;
}

START_TEST(u64_accepts_c_syntax)
{
	ck_assert_uint_eq(u64_of("0"), 0);
	ck_assert_uint_eq(u64_of("4096"), 4096);
	ck_assert_uint_eq(u64_of("0x1000"), 0x1000);
	ck_assert_uint_eq(u64_of("0X1000"), 0x1000);
	ck_assert_uint_eq(u64_of("0xabcDEF"), 0xabcdef);
	ck_assert_uint_eq(u64_of("010"), 8);
	ck_assert_uint_eq(u64_of("00"), 0);
	ck_assert_uint_eq(u64_of("0777"), 0777);
	ck_assert_uint_eq(u64_of("0x0"), 0);
	ck_assert_uint_eq(u64_of("0x0000000000001000"), 0x1000);
	ck_assert_uint_eq(u64_of("18446744073709551615"), UINT64_MAX);
	ck_assert_uint_eq(u64_of("0xffffffffffffffff"), UINT64_MAX);
	ck_assert_uint_eq(u64_of("0x00000000000000000000ffffffffffffffff"), UINT64_MAX);
	ck_assert_uint_eq(u64_of("01777777777777777777777"), UINT64_MAX);
	ck_assert_uint_eq(u64_of("18446744073709551614"), UINT64_MAX - 1);
}
END_TEST

START_TEST(u64_rejects_junk)
{
	ck_assert_int_eq(u64_err(""), -EINVAL);
	ck_assert_int_eq(u64_err(NULL), -EINVAL);
	ck_assert_int_eq(u64_err("0x"), -EINVAL);
	ck_assert_int_eq(u64_err("0X"), -EINVAL);
	ck_assert_int_eq(u64_err(" 1"), -EINVAL);
	ck_assert_int_eq(u64_err("1 "), -EINVAL);
	ck_assert_int_eq(u64_err("\t1"), -EINVAL);
	ck_assert_int_eq(u64_err("1\n"), -EINVAL);
	ck_assert_int_eq(u64_err("-1"), -EINVAL);
	ck_assert_int_eq(u64_err("+1"), -EINVAL);
	ck_assert_int_eq(u64_err("-0"), -EINVAL);
	ck_assert_int_eq(u64_err("1K"), -EINVAL);
	ck_assert_int_eq(u64_err("1Q"), -EINVAL);
	ck_assert_int_eq(u64_err("16E"), -EINVAL);
	ck_assert_int_eq(u64_err("08"), -EINVAL);
	ck_assert_int_eq(u64_err("09"), -EINVAL);
	ck_assert_int_eq(u64_err("0xg"), -EINVAL);
	ck_assert_int_eq(u64_err("0x-1"), -EINVAL);
	ck_assert_int_eq(u64_err("0x 1"), -EINVAL);
	ck_assert_int_eq(u64_err("0b101"), -EINVAL);
	ck_assert_int_eq(u64_err("1.0"), -EINVAL);
	ck_assert_int_eq(u64_err("1e3"), -EINVAL);
	ck_assert_int_eq(u64_err("x10"), -EINVAL);
	ck_assert_int_eq(u64_err("auto"), -EINVAL);
	ck_assert_int_eq(u64_err("1,000"), -EINVAL);
	/* Junk wins over overflow: this is not a number at all. */
	ck_assert_int_eq(u64_err("99999999999999999999x"), -EINVAL);
}
END_TEST

START_TEST(u64_overflow)
{
	ck_assert_int_eq(u64_err("18446744073709551616"), -EOVERFLOW);
	ck_assert_int_eq(u64_err("18446744073709551620"), -EOVERFLOW);
	ck_assert_int_eq(u64_err("99999999999999999999"), -EOVERFLOW);
	ck_assert_int_eq(u64_err("0x10000000000000000"), -EOVERFLOW);
	ck_assert_int_eq(u64_err("0x1ffffffffffffffff"), -EOVERFLOW);
	ck_assert_int_eq(u64_err("02000000000000000000000"), -EOVERFLOW);
	ck_assert_int_eq(u64_err("184467440737095516150"), -EOVERFLOW);
}
END_TEST

START_TEST(size_suffixes)
{
	ck_assert_uint_eq(size_of("4096"), 4096);
	ck_assert_uint_eq(size_of("0"), 0);
	ck_assert_uint_eq(size_of("0K"), 0);
	ck_assert_uint_eq(size_of("4K"), 4096);
	ck_assert_uint_eq(size_of("4k"), 4096);
	ck_assert_uint_eq(size_of("2M"), 2ULL << 20);
	ck_assert_uint_eq(size_of("2m"), 2ULL << 20);
	ck_assert_uint_eq(size_of("1G"), 1ULL << 30);
	ck_assert_uint_eq(size_of("1g"), 1ULL << 30);
	ck_assert_uint_eq(size_of("1T"), 1ULL << 40);
	ck_assert_uint_eq(size_of("1t"), 1ULL << 40);
	ck_assert_uint_eq(size_of("0x10K"), 16ULL << 10);
	ck_assert_uint_eq(size_of("0x1B"), 0x1b);
	ck_assert_uint_eq(size_of("010K"), 8ULL << 10);
	ck_assert_uint_eq(size_of("16777215T"), 16777215ULL << 40);
	ck_assert_uint_eq(size_of("0xffffffffffffffff"), UINT64_MAX);
}
END_TEST

START_TEST(size_rejects)
{
	ck_assert_int_eq(size_err(""), -EINVAL);
	ck_assert_int_eq(size_err(NULL), -EINVAL);
	ck_assert_int_eq(size_err("K"), -EINVAL);
	ck_assert_int_eq(size_err("1KK"), -EINVAL);
	ck_assert_int_eq(size_err("1Q"), -EINVAL);
	ck_assert_int_eq(size_err("1KB"), -EINVAL);
	ck_assert_int_eq(size_err("1 K"), -EINVAL);
	ck_assert_int_eq(size_err(" 1K"), -EINVAL);
	ck_assert_int_eq(size_err("1K "), -EINVAL);
	ck_assert_int_eq(size_err("-1K"), -EINVAL);
	ck_assert_int_eq(size_err("+1K"), -EINVAL);
	ck_assert_int_eq(size_err("16E"), -EINVAL);
	ck_assert_int_eq(size_err("1P"), -EINVAL);
	ck_assert_int_eq(size_err("0xK"), -EINVAL);
	ck_assert_int_eq(size_err("0x"), -EINVAL);
	ck_assert_int_eq(size_err("08K"), -EINVAL);
}
END_TEST

START_TEST(size_overflow)
{
	ck_assert_int_eq(size_err("17179869184T"), -EOVERFLOW);
	ck_assert_int_eq(size_err("16777216T"), -EOVERFLOW);
	ck_assert_int_eq(size_err("17179869184G"), -EOVERFLOW);
	ck_assert_int_eq(size_err("18014398509481984K"), -EOVERFLOW);
	ck_assert_int_eq(size_err("18446744073709551616"), -EOVERFLOW);
	ck_assert_int_eq(size_err("18446744073709551616K"), -EOVERFLOW);
	ck_assert_uint_eq(size_of("18014398509481983K"), 18014398509481983ULL << 10);
	ck_assert_uint_eq(size_of("18446744073709551615"), UINT64_MAX);
}
END_TEST

START_TEST(ranges)
{
	uint64_t a = 1, b = 2;

	ck_assert_int_eq(parse_range("0x1000-0x1fff", &a, &b), 0);
	ck_assert_uint_eq(a, 0x1000);
	ck_assert_uint_eq(b, 0x1fff);
	ck_assert_int_eq(parse_range("0-0", &a, &b), 0);
	ck_assert_uint_eq(a, 0);
	ck_assert_uint_eq(b, 0);
	ck_assert_int_eq(parse_range("5-5", &a, &b), 0);
	ck_assert_uint_eq(a, 5);
	ck_assert_uint_eq(b, 5);
	ck_assert_int_eq(parse_range("0x0000000000000000-0xffffffffffffffff", &a, &b), 0);
	ck_assert_uint_eq(a, 0);
	ck_assert_uint_eq(b, UINT64_MAX);
	ck_assert_int_eq(parse_range("4096-010", &a, &b), -EINVAL); /* 010 is 8 */
	ck_assert_int_eq(parse_range("010-4096", &a, &b), 0);
	ck_assert_uint_eq(a, 8);
	ck_assert_uint_eq(b, 4096);

	a = 1;
	b = 2;
	ck_assert_int_eq(parse_range("0x2000-0x1fff", &a, &b), -EINVAL);
	ck_assert_int_eq(parse_range("", &a, &b), -EINVAL);
	ck_assert_int_eq(parse_range(NULL, &a, &b), -EINVAL);
	ck_assert_int_eq(parse_range("-", &a, &b), -EINVAL);
	ck_assert_int_eq(parse_range("1-", &a, &b), -EINVAL);
	ck_assert_int_eq(parse_range("-1", &a, &b), -EINVAL);
	ck_assert_int_eq(parse_range("1", &a, &b), -EINVAL);
	ck_assert_int_eq(parse_range("1--2", &a, &b), -EINVAL);
	ck_assert_int_eq(parse_range("1-2-3", &a, &b), -EINVAL);
	ck_assert_int_eq(parse_range("1 -2", &a, &b), -EINVAL);
	ck_assert_int_eq(parse_range("1- 2", &a, &b), -EINVAL);
	ck_assert_int_eq(parse_range(" 1-2", &a, &b), -EINVAL);
	ck_assert_int_eq(parse_range("1-2 ", &a, &b), -EINVAL);
	ck_assert_int_eq(parse_range("1-+2", &a, &b), -EINVAL);
	ck_assert_int_eq(parse_range("1K-2K", &a, &b), -EINVAL);
	ck_assert_int_eq(parse_range("0x-0x1", &a, &b), -EINVAL);
	ck_assert_int_eq(parse_range("0-18446744073709551616", &a, &b), -EOVERFLOW);
	ck_assert_int_eq(parse_range("0x10000000000000000-1", &a, &b), -EOVERFLOW);
	ck_assert_uint_eq(a, 1);
	ck_assert_uint_eq(b, 2);
}
END_TEST

START_TEST(words)
{
	char line[] = "  map\tauto  2M buf+0x1000 rw\t ";
	char *w[8];
	char *w2[2] = { NULL, NULL };
	char many[] = "a b c";
	char nl[] = "a\nb";
	char empty[] = "";
	char blank[] = " \t \t";
	char one[] = "word";

	ck_assert_int_eq(split_words(line, w, 8), 5);
	ck_assert_str_eq(w[0], "map");
	ck_assert_str_eq(w[1], "auto");
	ck_assert_str_eq(w[2], "2M");
	ck_assert_str_eq(w[3], "buf+0x1000");
	ck_assert_str_eq(w[4], "rw");

	/* Exactly max words fit; one more is -E2BIG and leaves the line alone. */
	ck_assert_int_eq(split_words(many, w2, 2), -E2BIG);
	ck_assert_str_eq(many, "a b c");
	ck_assert_ptr_null(w2[1]);
	ck_assert_int_eq(split_words(many, w, 3), 3);
	ck_assert_str_eq(w[0], "a");
	ck_assert_str_eq(w[1], "b");
	ck_assert_str_eq(w[2], "c");

	ck_assert_int_eq(split_words(empty, w, 8), 0);
	ck_assert_int_eq(split_words(blank, w, 8), 0);
	ck_assert_int_eq(split_words(blank, w, 0), 0);
	ck_assert_int_eq(split_words(one, w, 0), -E2BIG);
	ck_assert_int_eq(split_words(one, w, 1), 1);
	ck_assert_str_eq(w[0], "word");
	ck_assert_int_eq(split_words(nl, w, 8), -EINVAL);
}
END_TEST

START_TEST(attr_input_forms)
{
	char buf[8];

	ck_assert_int_eq(attr_input("4096\n", 5, buf, sizeof(buf), NULL), 0);
	ck_assert_str_eq(buf, "4096");
	ck_assert_int_eq(attr_input("4096", 4, buf, sizeof(buf), NULL), 0);
	ck_assert_str_eq(buf, "4096");
	/* Only one trailing newline is stripped; "\n\n" has an inner one. */
	ck_assert_int_eq(attr_input("1\n\n", 3, buf, sizeof(buf), NULL), -EINVAL);
	ck_assert_int_eq(attr_input("\n", 1, buf, sizeof(buf), NULL), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(attr_input("", 0, buf, sizeof(buf), NULL), 0);
	ck_assert_str_eq(buf, "");
	/* len, not the NUL, bounds the input. */
	ck_assert_int_eq(attr_input("12345", 2, buf, sizeof(buf), NULL), 0);
	ck_assert_str_eq(buf, "12");
	/* Blanks are kept: it is the attribute's parser that rejects them. */
	ck_assert_int_eq(attr_input(" 1 \n", 4, buf, sizeof(buf), NULL), 0);
	ck_assert_str_eq(buf, " 1 ");
}
END_TEST

START_TEST(attr_input_rejects)
{
	char buf[8];

	strcpy(buf, "keep");
	ck_assert_int_eq(attr_input("1\0002", 3, buf, sizeof(buf), NULL), -EINVAL);
	ck_assert_int_eq(attr_input("12\0", 3, buf, sizeof(buf), NULL), -EINVAL);
	ck_assert_int_eq(attr_input("12\0\n", 4, buf, sizeof(buf), NULL), -EINVAL);
	ck_assert_int_eq(attr_input("\0", 1, buf, sizeof(buf), NULL), -EINVAL);
	ck_assert_int_eq(attr_input("1\n2", 3, buf, sizeof(buf), NULL), -EINVAL);
	ck_assert_int_eq(attr_input("1\n2\n", 4, buf, sizeof(buf), NULL), -EINVAL);
	ck_assert_int_eq(attr_input("\n1", 2, buf, sizeof(buf), NULL), -EINVAL);
	ck_assert_str_eq(buf, "keep");
}
END_TEST

/* Why a value is refused, in the order op_write reports it: NUL, then length, then lines. */
START_TEST(attr_input_why)
{
	enum attr_refusal why;
	char buf[8];

	ck_assert_int_eq(attr_input("1\n2\0", 4, buf, sizeof(buf), &why), -EINVAL);
	ck_assert_int_eq(why, ATTR_NUL);
	ck_assert_int_eq(attr_input("1\n345678", 8, buf, sizeof(buf), &why), -EINVAL);
	ck_assert_int_eq(why, ATTR_LONG);
	ck_assert_int_eq(attr_input("1\n2\n", 4, buf, sizeof(buf), &why), -EINVAL);
	ck_assert_int_eq(why, ATTR_LINES);
	ck_assert_int_eq(attr_input("1234567\n", 8, buf, sizeof(buf), &why), 0);
	ck_assert_int_eq(why, 0);
}
END_TEST

START_TEST(attr_input_length)
{
	char buf[8];

	/* bufsz - 1 = 7 bytes fit, with or without the newline. */
	ck_assert_int_eq(attr_input("1234567", 7, buf, sizeof(buf), NULL), 0);
	ck_assert_str_eq(buf, "1234567");
	ck_assert_int_eq(attr_input("7654321\n", 8, buf, sizeof(buf), NULL), 0);
	ck_assert_str_eq(buf, "7654321");
	strcpy(buf, "keep");
	ck_assert_int_eq(attr_input("12345678", 8, buf, sizeof(buf), NULL), -EINVAL);
	ck_assert_int_eq(attr_input("12345678\n", 9, buf, sizeof(buf), NULL), -EINVAL);
	ck_assert_str_eq(buf, "keep");
	ck_assert_int_eq(attr_input("", 0, buf, 1, NULL), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(attr_input("1", 1, buf, 1, NULL), -EINVAL);
	ck_assert_int_eq(attr_input("", 0, buf, 0, NULL), -EINVAL);
}
END_TEST

START_TEST(names)
{
	char longest[64], too_long[65];

	memset(longest, 'a', 63);
	longest[63] = '\0';
	memset(too_long, 'a', 64);
	too_long[64] = '\0';

	ck_assert(valid_name("vm"));
	ck_assert(valid_name("a"));
	ck_assert(valid_name("dma32"));
	ck_assert(valid_name("0000:00:1f.2"));
	ck_assert(valid_name("my_ioas-1.x"));
	ck_assert(valid_name("a..b"));
	ck_assert(valid_name(longest));
	ck_assert(!valid_name(too_long));
	ck_assert(!valid_name(""));
	ck_assert(!valid_name(NULL));
	ck_assert(!valid_name("."));
	ck_assert(!valid_name(".."));
	ck_assert(!valid_name(".hidden"));
	ck_assert(!valid_name("a/b"));
	ck_assert(!valid_name("a b"));
	ck_assert(!valid_name("a\nb"));
	ck_assert(!valid_name("a+b"));
	ck_assert(!valid_name("caf\xc3\xa9"));
}
END_TEST

START_TEST(errno_names)
{
	static const struct {
		int err;
		const char *name;
	} t[] = {
		{ EPERM, "EPERM" },
		{ ENOENT, "ENOENT" },
		{ EIO, "EIO" },
		{ E2BIG, "E2BIG" },
		{ EBADF, "EBADF" },
		{ ENOMEM, "ENOMEM" },
		{ EACCES, "EACCES" },
		{ EFAULT, "EFAULT" },
		{ EBUSY, "EBUSY" },
		{ EEXIST, "EEXIST" },
		{ ENODEV, "ENODEV" },
		{ ENOTDIR, "ENOTDIR" },
		{ EISDIR, "EISDIR" },
		{ EINVAL, "EINVAL" },
		{ ENOSPC, "ENOSPC" },
		{ ERANGE, "ERANGE" },
		{ ENAMETOOLONG, "ENAMETOOLONG" },
		{ ENOTEMPTY, "ENOTEMPTY" },
		{ EOPNOTSUPP, "EOPNOTSUPP" },
		{ EADDRINUSE, "EADDRINUSE" },
		{ EOVERFLOW, "EOVERFLOW" },
		{ EMSGSIZE, "EMSGSIZE" },
		{ ENOTTY, "ENOTTY" },
		{ ENOSYS, "ENOSYS" },
		{ ESPIPE, "ESPIPE" },
		{ EROFS, "EROFS" },
		{ EAGAIN, "EAGAIN" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_str_eq(errno_name(t[i].err), t[i].name);
		ck_assert_str_eq(errno_name(-t[i].err), t[i].name);
	}
	ck_assert_int_eq(EINVAL, 22);
	ck_assert_str_eq(errno_name(22), "EINVAL");
	ck_assert_str_eq(errno_name(0), "E?");
	ck_assert_str_eq(errno_name(9999), "E?");
	ck_assert_str_eq(errno_name(-9999), "E?");
	ck_assert_str_eq(errno_name(-2147483647 - 1), "E?");
}
END_TEST

START_TEST(addr_fmt)
{
	char buf[32];

	snprintf(buf, sizeof(buf), ADDR_FMT, (uint64_t)0xfee00000);
	ck_assert_str_eq(buf, "0x00000000fee00000");
	snprintf(buf, sizeof(buf), ADDR_FMT, UINT64_MAX);
	ck_assert_str_eq(buf, "0xffffffffffffffff");
}
END_TEST

static Suite *parse_suite(void)
{
	Suite *s = suite_create("parse");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, u64_accepts_c_syntax);
	tcase_add_test(tc, u64_rejects_junk);
	tcase_add_test(tc, u64_overflow);
	tcase_add_test(tc, size_suffixes);
	tcase_add_test(tc, size_rejects);
	tcase_add_test(tc, size_overflow);
	tcase_add_test(tc, ranges);
	tcase_add_test(tc, words);
	tcase_add_test(tc, attr_input_forms);
	tcase_add_test(tc, attr_input_rejects);
	tcase_add_test(tc, attr_input_why);
	tcase_add_test(tc, attr_input_length);
	tcase_add_test(tc, names);
	tcase_add_test(tc, errno_names);
	tcase_add_test(tc, addr_fmt);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(parse_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
