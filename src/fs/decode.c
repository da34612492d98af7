/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Decoders of client input (decode.h): the text command lines of `map`, `unmap` and `copy`,
 * and the fixed-size records of `batch`. What a line or record means is the core's business;
 * this file only says whether it is well formed and what it asks for, and why not.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/parse.h"
#include "fs/decode.h"

/* A value that does not parse: its errno, and "invalid WHAT 'VALUE'" in why. */
static int bad(char *why, size_t len, int err, const char *what, const char *val)
{
	snprintf(why, len, "invalid %s '%.64s'%s", what, val,
		 err == -EOVERFLOW ? " (does not fit in 64 bits)" : "");
	return err;
}

/* "r", "w" or "rw". */
static int decode_prot(const char *w, unsigned *ret, char *why, size_t len)
{
	if (!strcmp(w, "r"))
		*ret = CORE_PROT_READ;
	else if (!strcmp(w, "w"))
		*ret = CORE_PROT_WRITE;
	else if (!strcmp(w, "rw"))
		*ret = CORE_PROT_READ | CORE_PROT_WRITE;
	else
		return bad(why, len, -EINVAL, "access (r, w or rw)", w);
	return 0;
}

/* The destination of a map or copy: "IOVA|auto LENGTH" in w[0], w[1]. */
static int decode_dest(char **w, bool *ret_fixed, uint64_t *ret_iova, uint64_t *ret_length,
		       char *why, size_t len)
{
	int r;

	*ret_fixed = strcmp(w[0], "auto") != 0;
	if (*ret_fixed) {
		r = parse_u64(w[0], ret_iova);
		if (r < 0)
			return bad(why, len, r, "IOVA", w[0]);
	}
	r = parse_size(w[1], ret_length);
	if (r < 0)
		return bad(why, len, r, "LENGTH", w[1]);
	return 0;
}

int decode_map_line(char *line, struct core_map_cmd *ret, char *why, size_t len)
{
	struct core_map_cmd m = { .prot = CORE_PROT_READ | CORE_PROT_WRITE };
	char *w[5], *plus;
	int nw, r;

	nw = split_words(line, w, 4);
	if (nw < 3) {
		snprintf(why, len, "expected \"IOVA|auto LENGTH SOURCE[+OFFSET] [r|w|rw]\"");
		return -EINVAL;
	}
	r = decode_dest(w, &m.fixed, &m.iova, &m.length, why, len);
	if (r < 0)
		return r;
	plus = strrchr(w[2], '+');
	if (plus) {
		*plus = '\0';
		r = parse_size(plus + 1, &m.offset);
		if (r < 0)
			return bad(why, len, r, "OFFSET", plus + 1);
	}
	if (!valid_name(w[2]))
		return bad(why, len, -EINVAL, "SOURCE", w[2]);
	m.source = w[2];
	if (nw == 4) {
		r = decode_prot(w[3], &m.prot, why, len);
		if (r < 0)
			return r;
	}
	*ret = m;
	return 0;
}

int decode_unmap_line(char *line, struct decode_unmap *ret, char *why, size_t len)
{
	struct decode_unmap u = { 0 };
	char *w[3];
	int nw, r;

	nw = split_words(line, w, 2);
	if (nw == 1 && !strcmp(w[0], "all")) {
		u.all = true;
	} else if (nw == 2) {
		r = parse_u64(w[0], &u.iova);
		if (r < 0)
			return bad(why, len, r, "IOVA", w[0]);
		r = parse_size(w[1], &u.length);
		if (r < 0)
			return bad(why, len, r, "LENGTH", w[1]);
	} else {
		snprintf(why, len, "expected \"IOVA LENGTH\" or \"all\"");
		return -EINVAL;
	}
	*ret = u;
	return 0;
}

int decode_copy_line(char *line, struct core_copy_cmd *ret, char *why, size_t len)
{
	struct core_copy_cmd cp = { .prot = CORE_PROT_READ | CORE_PROT_WRITE };
	char *w[6];
	int nw, r;

	nw = split_words(line, w, 5);
	if (nw < 4 || nw > 5) {
		snprintf(why, len, "expected \"IOVA|auto LENGTH SRCIOAS SRCIOVA [r|w|rw]\"");
		return -EINVAL;
	}
	r = decode_dest(w, &cp.fixed, &cp.iova, &cp.length, why, len);
	if (r < 0)
		return r;
	if (!valid_name(w[2]))
		return bad(why, len, -EINVAL, "SRCIOAS", w[2]);
	cp.src_ioas = w[2];
	r = parse_u64(w[3], &cp.src_iova);
	if (r < 0)
		return bad(why, len, r, "SRCIOVA", w[3]);
	if (nw == 5) {
		r = decode_prot(w[4], &cp.prot, why, len);
		if (r < 0)
			return r;
	}
	*ret = cp;
	return 0;
}

/* Whether name[from..] is all zero: whole words where it can, as most records end in zeros. */
static bool zero_from(const char *name, size_t from)
{
	uint64_t acc = 0, w;
	size_t i = from;

	for (; i < IOASFS_NAME_LEN && (i & 7); i++)
		acc |= (unsigned char)name[i];
	for (; i < IOASFS_NAME_LEN; i += 8) {
		memcpy(&w, name + i, sizeof(w));
		acc |= w;
	}
	return !acc;
}

int decode_batch(const struct ioasfs_cmd *raw, struct ioasfs_cmd *host, unsigned n, char *why,
		 size_t len)
{
	static const uint32_t flags_ok[IOASFS_OP_MAX] = {
		[IOASFS_OP_UNMAP] = IOASFS_CMD_UNMAP_ALL,
		[IOASFS_OP_COPY] = IOASFS_CMD_COPY_FIXED,
	};

	for (unsigned i = 0; i < n; i++) {
		const struct ioasfs_cmd *w = &raw[i];
		struct ioasfs_cmd c = *w;
		bool named, by_fd, fixed_iova;
		const char *nul;

		c.version = le16toh(w->version);
		c.flags = le32toh(w->flags);
		c.user_data = le64toh(w->user_data);
		c.iova = le64toh(w->iova);
		c.length = le64toh(w->length);
		c.offset = le64toh(w->offset);
		if (c.version != IOASFS_BATCH_VERSION) {
			snprintf(why, len, "record %u: version %u, expected %u", i + 1, c.version,
				 IOASFS_BATCH_VERSION);
			return -EINVAL;
		}
		if (c.opcode >= IOASFS_OP_MAX) {
			snprintf(why, len, "record %u: unknown opcode %u", i + 1, c.opcode);
			return -EINVAL;
		}
		by_fd = c.opcode == IOASFS_OP_MAP_FD || c.opcode == IOASFS_OP_MAP_FD_FIXED;
		if (c.flags & ~flags_ok[c.opcode]) {
			snprintf(why, len, "record %u: unknown flags 0x%x", i + 1, c.flags);
			return -EINVAL;
		}
		if (by_fd) {
			c.fd = (int32_t)le32toh((uint32_t)w->fd);
			if (c.fd < 0 || c.fd_pad || c.fd_reserved[0] || c.fd_reserved[1]) {
				snprintf(
				    why, len,
				    "record %u: fd %d is negative or fields after it are not zero",
				    i + 1, c.fd);
				return -EINVAL;
			}
		} else if (c.reserved[0] || c.reserved[1] || c.reserved[2]) {
			snprintf(why, len, "record %u: reserved fields are not zero", i + 1);
			return -EINVAL;
		}
		named = c.opcode == IOASFS_OP_MAP || c.opcode == IOASFS_OP_MAP_FIXED ||
			c.opcode == IOASFS_OP_COPY;
		fixed_iova = c.opcode == IOASFS_OP_MAP_FIXED ||
			     c.opcode == IOASFS_OP_MAP_FD_FIXED ||
			     (c.opcode == IOASFS_OP_UNMAP && !(c.flags & IOASFS_CMD_UNMAP_ALL)) ||
			     (c.opcode == IOASFS_OP_COPY && (c.flags & IOASFS_CMD_COPY_FIXED));
		if (c.prot & ~(IOASFS_PROT_READ | IOASFS_PROT_WRITE) ||
		    (!named && !by_fd && c.prot)) {
			snprintf(why, len, "record %u: invalid prot 0x%x", i + 1, c.prot);
			return -EINVAL;
		}
		/* a name: NUL-terminated, zero after the NUL; no name: 64 zero bytes */
		nul = named ? memchr(c.name, '\0', sizeof(c.name)) : c.name;
		if (!nul || (named && !valid_name(c.name))) {
			snprintf(why, len, "record %u: name is not a NUL-terminated object name",
				 i + 1);
			return -EINVAL;
		}
		if (!zero_from(c.name, (size_t)(nul - c.name))) {
			snprintf(why, len, "record %u: %s", i + 1,
				 named ? "name has bytes after its end"
				       : "a name on an opcode that takes none");
			return -EINVAL;
		}
		if (c.length && ((fixed_iova && c.iova + (c.length - 1) < c.iova) ||
				 ((named || by_fd) && c.offset + (c.length - 1) < c.offset))) {
			snprintf(why, len, "record %u: address + length wraps", i + 1);
			return -EINVAL;
		}
		if (host)
			host[i] = c;
	}
	return 0;
}
