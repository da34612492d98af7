/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Parsers for the text the tree accepts: numbers in C syntax, sizes with binary suffixes,
 * "START-LAST" ranges and whitespace-separated words. They accept exactly one token (no
 * leading or trailing junk), never allocate, and return 0 or -errno:
 *   -EINVAL     not a number / malformed / empty
 *   -EOVERFLOW  a number or a suffix product that does not fit in 64 bits
 */
#ifndef IOASFS_PARSE_H
#define IOASFS_PARSE_H

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "4096", "0x1000", "0X1000", "010" (octal, as strtoull base 0). No sign, no spaces. */
int parse_u64(const char *s, uint64_t *ret);

/* parse_u64 plus an optional suffix K, M, G, T (also k, m, g, t; 2^10 .. 2^40). */
int parse_size(const char *s, uint64_t *ret);

/* "START-LAST" with start <= last, each a parse_u64 number. */
int parse_range(const char *s, uint64_t *ret_start, uint64_t *ret_last);

/*
 * Split a line in place into at most max words separated by spaces or tabs. Returns the word
 * count, or -E2BIG when there are more than max words. The line must not contain '\n'.
 */
int split_words(char *line, char **words, int max);

/* Why attr_input refused its input, in the order it checks. */
enum attr_refusal {
	ATTR_NUL = 1, /* a NUL byte anywhere */
	ATTR_LONG,    /* longer than bufsz - 1 bytes, a trailing newline apart */
	ATTR_LINES,   /* a newline other than one at the end */
};

/*
 * Attribute-store input: the bytes of one write(2) to an attribute file. Copies into buf
 * (size bufsz) with one trailing "\n" removed and a NUL added. Returns 0, or -EINVAL for
 * embedded NUL bytes, input that does not fit (bufsz - 1 bytes), or other newlines, with
 * *ret_why (if not NULL) saying which.
 */
int attr_input(const char *data, size_t len, char *buf, size_t bufsz, enum attr_refusal *ret_why);

/* Name of a directory the user creates (ioas, window, device, source): 1..63 characters of
 * [A-Za-z0-9_.:-], not starting with '.'. */
bool valid_name(const char *name);

/* "EINVAL" for 22, etc.; "E?" for unknown. */
const char *errno_name(int err);

/* Format helpers: 16-digit hex "0x%016" PRIx64 */
#define ADDR_FMT "0x%016" PRIx64

#endif
