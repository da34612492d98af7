/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer harness for the text command lines of `map`, `unmap` and `copy`
 * (src/fs/decode.h), which every shell write to those files goes through. The input is cut into
 * lines the way the daemon cuts a write (at newlines, each at most FS_LINE_MAX bytes, NUL-free) and
 * each line is decoded as a map, an unmap and a copy command. Besides not crashing, the decoders
 * are held to what ioasfs.5 says of the format:
 *
 * - a refusal is EINVAL or EOVERFLOW, with a reason that is one non-empty line;
 * - an accepted map names a valid source, has prot r, w or rw, and reads back: printed
 *   canonically ("IOVA|auto LENGTH SOURCE+OFFSET PROT") it decodes to the same command; the
 *   same for an unmap ("IOVA LENGTH" or "all");
 * - a map line has 3 or 4 words, an unmap line 1 or 2, a copy line 4 or 5: more or fewer is
 *   refused;
 * - decoding is a function of the words: the line with its blanks doubled decodes alike.
 *
 * Any violation is an abort(), which libFuzzer reports as a crash.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/parse.h"
#include "fs/decode.h"

#define FUZZ_NAME "fuzz_cmdline"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LINE_MAX_BYTES 1024 /* FS_LINE_MAX of src/fs/fs.h, which needs FUSE */

static void check_refusal(int r, const char *why)
{
	CHECK(r == -EINVAL || r == -EOVERFLOW);
	CHECK(why[0] != '\0');
	CHECK(!strchr(why, '\n'));
}

static int count_words(const char *s)
{
	int n = 0;

	for (const char *p = s; *p;) {
		p += strspn(p, " \t");
		if (!*p)
			break;
		n++;
		p += strcspn(p, " \t");
	}
	return n;
}

/* The line with every blank doubled. */
static void widen(const char *s, char *out)
{
	for (; *s; s++) {
		*out++ = *s;
		if (*s == ' ' || *s == '\t')
			*out++ = *s;
	}
	*out = '\0';
}

static const char *prot_word(unsigned prot)
{
	return prot == CORE_PROT_READ ? "r" : prot == CORE_PROT_WRITE ? "w" : "rw";
}

static void check_map(const char *line)
{
	char buf[LINE_MAX_BYTES + 1], wide[2 * LINE_MAX_BYTES + 1], text[256], why[DECODE_WHY_LEN];
	struct core_map_cmd m, m2;
	int words = count_words(line), r;

	strcpy(buf, line);
	why[0] = '\0';
	r = decode_map_line(buf, &m, why, sizeof(why));
	widen(line, wide);
	{
		struct core_map_cmd mw;
		char why2[DECODE_WHY_LEN];

		CHECK(decode_map_line(wide, &mw, why2, sizeof(why2)) == r);
		if (!r)
			CHECK(mw.fixed == m.fixed && mw.iova == m.iova && mw.length == m.length &&
			      mw.offset == m.offset && mw.prot == m.prot &&
			      !strcmp(mw.source, m.source));
	}
	if (r < 0) {
		check_refusal(r, why);
		return;
	}
	CHECK(words == 3 || words == 4);
	CHECK(valid_name(m.source));
	CHECK(m.prot == CORE_PROT_READ || m.prot == CORE_PROT_WRITE ||
	      m.prot == (CORE_PROT_READ | CORE_PROT_WRITE));
	CHECK(m.fixed || m.iova == 0);
	if (m.fixed)
		snprintf(text, sizeof(text), "0x%" PRIx64 " 0x%" PRIx64 " %s+0x%" PRIx64 " %s",
			 m.iova, m.length, m.source, m.offset, prot_word(m.prot));
	else
		snprintf(text, sizeof(text), "auto %" PRIu64 " %s+%" PRIu64 " %s", m.length,
			 m.source, m.offset, prot_word(m.prot));
	CHECK(decode_map_line(text, &m2, why, sizeof(why)) == 0);
	CHECK(m2.fixed == m.fixed && m2.iova == m.iova && m2.length == m.length &&
	      m2.offset == m.offset && m2.prot == m.prot);
}

static void check_copy(const char *line)
{
	char buf[LINE_MAX_BYTES + 1], text[256], why[DECODE_WHY_LEN];
	struct core_copy_cmd cp, cp2;
	int words = count_words(line), r;

	strcpy(buf, line);
	why[0] = '\0';
	r = decode_copy_line(buf, &cp, why, sizeof(why));
	if (r < 0) {
		check_refusal(r, why);
		return;
	}
	CHECK(words == 4 || words == 5);
	CHECK(valid_name(cp.src_ioas));
	CHECK(cp.prot == CORE_PROT_READ || cp.prot == CORE_PROT_WRITE ||
	      cp.prot == (CORE_PROT_READ | CORE_PROT_WRITE));
	if (cp.fixed)
		snprintf(text, sizeof(text), "0x%" PRIx64 " 0x%" PRIx64 " %s 0x%" PRIx64 " %s",
			 cp.iova, cp.length, cp.src_ioas, cp.src_iova, prot_word(cp.prot));
	else
		snprintf(text, sizeof(text), "auto %" PRIu64 " %s %" PRIu64 " %s", cp.length,
			 cp.src_ioas, cp.src_iova, prot_word(cp.prot));
	CHECK(decode_copy_line(text, &cp2, why, sizeof(why)) == 0);
	CHECK(cp2.fixed == cp.fixed && (!cp.fixed || cp2.iova == cp.iova) &&
	      cp2.length == cp.length && cp2.src_iova == cp.src_iova && cp2.prot == cp.prot &&
	      !strcmp(cp2.src_ioas, cp.src_ioas));
}

static void check_unmap(const char *line)
{
	char buf[LINE_MAX_BYTES + 1], text[64], why[DECODE_WHY_LEN];
	struct decode_unmap u, u2;
	int words = count_words(line), r;

	strcpy(buf, line);
	why[0] = '\0';
	r = decode_unmap_line(buf, &u, why, sizeof(why));
	if (r < 0) {
		check_refusal(r, why);
		CHECK(words != 1 || strcmp(line + strspn(line, " \t"), "all") != 0 ||
		      strpbrk(line + strspn(line, " \t"), " \t"));
		return;
	}
	CHECK(words == 1 || words == 2);
	CHECK(u.all == (words == 1));
	CHECK(!u.all || (u.iova == 0 && u.length == 0));
	if (u.all)
		snprintf(text, sizeof(text), "all");
	else
		snprintf(text, sizeof(text), "%" PRIu64 " 0x%" PRIx64, u.iova, u.length);
	CHECK(decode_unmap_line(text, &u2, why, sizeof(why)) == 0);
	CHECK(u2.all == u.all && u2.iova == u.iova && u2.length == u.length);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[LINE_MAX_BYTES + 1];
	size_t pos = 0;

	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t l = nl ? (size_t)(nl - (data + pos)) : size - pos;

		/* the daemon refuses these before any decoding */
		if (l <= LINE_MAX_BYTES && !memchr(data + pos, '\0', l)) {
			memcpy(line, data + pos, l);
			line[l] = '\0';
			if (strspn(line, " \t") != l) { /* blank lines are skipped */
				check_map(line);
				check_unmap(line);
				check_copy(line);
			}
		}
		pos += l + 1;
	}
	return 0;
}
