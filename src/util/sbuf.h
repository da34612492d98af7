/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A growable text buffer for rendering attribute files. Allocation failure is sticky (err) so
 * show functions can print unconditionally and the caller checks once.
 */
#ifndef IOASFS_SBUF_H
#define IOASFS_SBUF_H

#include <stddef.h>

struct sbuf {
	char *buf;
	size_t len, cap;
	int err;
};

void sbuf_init(struct sbuf *sb);
void sbuf_free(struct sbuf *sb);
void sbuf_reset(struct sbuf *sb);
__attribute__((format(printf, 2, 3))) void sbuf_printf(struct sbuf *sb, const char *fmt, ...);
void sbuf_add(struct sbuf *sb, const char *data, size_t len);
/* Drop the first n bytes. */
void sbuf_consume(struct sbuf *sb, size_t n);

#endif
