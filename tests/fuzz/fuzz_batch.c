/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer harness for the batch record decoder (src/fs/decode.h), which sees every byte of
 * every `batch` write before anything runs. The input is a run of 128-byte records
 * (include/ioasfs/batch.h, little-endian); a trailing partial record is dropped as the daemon
 * refuses it before decoding. Besides not crashing, the decoder is held to the format:
 *
 * - a batch is accepted whole or refused whole: refused, it names the first bad record
 *   ("record N: ", 1 <= N <= count) and that record alone, decoded, is refused too, while
 *   every record before it alone is accepted; accepted, every record alone is accepted;
 * - an accepted record has the version, a known opcode, only that opcode's flags, zero
 *   reserved fields (a descriptor >= 0 and zeros after it for a map by fd) and prot bits
 *   only where memory is named; its name is a valid object name padded with zeros (or 64
 *   zeros for an opcode without one); its IOVA and source ranges do not wrap;
 * - the host-order copy equals a reference conversion of the wire record, and decoding in
 *   place (raw == host) gives the same result as decoding into another buffer.
 *
 * Any violation is an abort(), which libFuzzer reports as a crash.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/parse.h"
#include "fs/decode.h"

#define FUZZ_NAME "fuzz_batch"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECORDS 64

static bool takes_name(uint8_t op)
{
	return op == IOASFS_OP_MAP || op == IOASFS_OP_MAP_FIXED || op == IOASFS_OP_COPY;
}

static bool by_fd(uint8_t op)
{
	return op == IOASFS_OP_MAP_FD || op == IOASFS_OP_MAP_FD_FIXED;
}

/* A little-endian field of the wire record, read byte by byte. */
static uint64_t le_field(const struct ioasfs_cmd *w, size_t off, size_t bytes)
{
	const uint8_t *p = (const uint8_t *)w + off;
	uint64_t v = 0;

	while (bytes--)
		v = v << 8 | p[bytes];
	return v;
}

/* The wire record in host order: a reference independent of the decoder's byte swaps. */
static struct ioasfs_cmd reference(const struct ioasfs_cmd *w)
{
	struct ioasfs_cmd c = *w;

#define FIELD(f) (c.f = le_field(w, offsetof(struct ioasfs_cmd, f), sizeof(c.f)))
	FIELD(version);
	FIELD(flags);
	FIELD(user_data);
	FIELD(iova);
	FIELD(length);
	FIELD(offset);
	if (by_fd(c.opcode))
		c.fd = (int32_t)(uint32_t)FIELD(fd);
#undef FIELD
	return c;
}


static void check_accepted(const struct ioasfs_cmd *c)
{
	static const char zeros[IOASFS_NAME_LEN];
	bool fixed;

	CHECK(c->version == IOASFS_BATCH_VERSION);
	CHECK(c->opcode < IOASFS_OP_MAX);
	if (by_fd(c->opcode))
		CHECK(c->fd >= 0 && !c->fd_pad && !c->fd_reserved[0] && !c->fd_reserved[1]);
	else
		CHECK(!c->reserved[0] && !c->reserved[1] && !c->reserved[2]);
	switch (c->opcode) {
	case IOASFS_OP_UNMAP:
		CHECK(!(c->flags & ~IOASFS_CMD_UNMAP_ALL));
		break;
	case IOASFS_OP_COPY:
		CHECK(!(c->flags & ~IOASFS_CMD_COPY_FIXED));
		break;
	default:
		CHECK(c->flags == 0);
	}
	CHECK(!(c->prot & ~(IOASFS_PROT_READ | IOASFS_PROT_WRITE)));
	if (takes_name(c->opcode)) {
		size_t l = strnlen(c->name, sizeof(c->name));

		CHECK(l < sizeof(c->name) && valid_name(c->name));
		CHECK(!memcmp(c->name + l, zeros, sizeof(c->name) - l));
		if (c->length)
			CHECK(c->offset + (c->length - 1) >= c->offset);
	} else {
		CHECK(by_fd(c->opcode) || c->prot == 0);
		CHECK(!memcmp(c->name, zeros, sizeof(c->name)));
		if (by_fd(c->opcode) && c->length)
			CHECK(c->offset + (c->length - 1) >= c->offset);
	}
	fixed = c->opcode == IOASFS_OP_MAP_FIXED || c->opcode == IOASFS_OP_MAP_FD_FIXED ||
		(c->opcode == IOASFS_OP_UNMAP && !(c->flags & IOASFS_CMD_UNMAP_ALL)) ||
		(c->opcode == IOASFS_OP_COPY && (c->flags & IOASFS_CMD_COPY_FIXED));
	if (fixed && c->length)
		CHECK(c->iova + (c->length - 1) >= c->iova);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ioasfs_cmd raw[MAX_RECORDS], host[MAX_RECORDS], inplace[MAX_RECORDS];
	unsigned n = size / sizeof(struct ioasfs_cmd), bad;
	char why[DECODE_WHY_LEN], why1[DECODE_WHY_LEN];
	int r;

	if (n > MAX_RECORDS)
		n = MAX_RECORDS;
	if (!n)
		return 0;
	memcpy(raw, data, n * sizeof(raw[0]));
	memset(host, 0xa5, sizeof(host));
	why[0] = '\0';
	r = decode_batch(raw, host, n, why, sizeof(why));
	CHECK(r == 0 || r == -EINVAL);
	memcpy(inplace, raw, n * sizeof(raw[0]));
	CHECK(decode_batch(inplace, inplace, n, why1, sizeof(why1)) == r);
	CHECK(decode_batch(raw, NULL, n, why1, sizeof(why1)) == r);
	if (r == 0) {
		for (unsigned i = 0; i < n; i++) {
			struct ioasfs_cmd ref = reference(&raw[i]);

			CHECK(!memcmp(&host[i], &ref, sizeof(ref)));
			CHECK(!memcmp(&inplace[i], &ref, sizeof(ref)));
			check_accepted(&host[i]);
		}
		return 0;
	}
	CHECK(!strchr(why, '\n'));
	CHECK(sscanf(why, "record %u: ", &bad) == 1);
	CHECK(bad >= 1 && bad <= n);
	CHECK(!strcmp(why, why1));
	for (unsigned i = 0; i + 1 < bad; i++)
		CHECK(decode_batch(&raw[i], NULL, 1, why1, sizeof(why1)) == 0);
	CHECK(decode_batch(&raw[bad - 1], NULL, 1, why1, sizeof(why1)) == -EINVAL);
	CHECK(!strncmp(why1, "record 1: ", 10) && !strcmp(why1 + 10, strchr(why, ':') + 2));
	return 0;
}
