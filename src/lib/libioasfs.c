/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libioasfs: the batch channel of ioasfs (ioas/NAME/batch) driven through io_uring, so that a
 * program maps thousands of regions in a few system calls and never blocks on the daemon.
 *
 * Commands are queued locally, built in the buffers they will be written from, and leave in
 * chunks: each chunk is one IORING_OP_WRITE of its records at offset 0 linked (IOSQE_IO_LINK)
 * to one IORING_OP_READ of as many completions, and up to `inflight` such pairs run at once,
 * each in a slot that owns the two buffers. The daemon keeps one FIFO of completions per
 * session and the writes in flight may run in any order, so a read returns whatever
 * completions are oldest, not necessarily those of its own write. Three consequences shape
 * this file:
 *
 *  - Completions are matched to commands by a tag, not by position: on the wire user_data is
 *    the index of an entry in a table of commands in flight, which remembers the caller's
 *    user_data, iova and length (restored in the completion handed back) and a sequence
 *    number (which lets ioasfs_batch_run() place each completion at its command's position).
 *  - Reads are accounted by counts, not by pair: completions still owed by the daemon are the
 *    tags in use of writes that completed; when the reads in flight ask for fewer than that
 *    (a read came back short, or a short write cancelled its linked read) a follow-up read
 *    goes out on an idle slot. Under the channel's contract a read never comes back empty
 *    when completions are owed, so an empty follow-up read means the channel is broken.
 *  - A write the daemon refused whole (EINVAL, ENOENT, ...) makes the kernel cancel its
 *    linked read; the library synthesizes one completion per command of that write with the
 *    write's errno. Completions are kept in a local FIFO until reaped.
 *
 * chunk * inflight never exceeds IOASFS_BATCH_MAX_CQES, so the session's completion queue
 * cannot overflow (the daemon would refuse such a write with ENOBUFS). A broken channel (a
 * completion with an unknown tag, a torn record, an empty follow-up read, a failing read)
 * completes every command in flight with the error and refuses further submissions. Functions
 * return 0 (or a count) or -errno and never set errno.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <liburing.h>

#include "ioasfs/batch.h"

/* both powers of two: the completion ring doubles from QUEUE_MIN, and indexes with a mask */
#define QUEUE_MAX	 (1u << 20) /* commands queued, in flight or reaped but unread */
#define QUEUE_MIN	 1024
#define CHUNK_DEFAULT	 1024
#define INFLIGHT_DEFAULT 4
#define INFLIGHT_MAX	 64

/* user_data of our SQEs: slot << 1 | kind (a plain field: liburing 2.1 lacks *_data64). */
#define UD_WRITE 0u
#define UD_READ	 1u

struct slot {
	struct ioasfs_cmd *cmds; /* the records being written, user_data = tag; NULL when idle */
	struct ioasfs_cqe *cqes; /* the read buffer */
	unsigned ncmds;		 /* records of the write in flight */
	unsigned asked;		 /* completions the read in flight asks for */
	bool wbusy, rbusy;
	bool followup; /* the read in flight is not linked to a write */
};

/* A write buffer nobody uses: the link of the spares' list, over its first record. */
struct spare {
	struct spare *next;
};

/* A command written (or being written) whose completion has not arrived. */
struct tag {
	uint64_t user_data, iova, length; /* the caller's, host order */
	uint64_t seq;			  /* position in the stream of queued commands */
	bool used;
};

struct ioasfs_batch {
	int fd;
	bool ring_ok;
	struct io_uring ring;
	unsigned chunk, inflight;
	unsigned sqes; /* our SQEs whose CQE has not been seen */
	int err;       /* the channel failed: -errno */
	struct slot *slots;

	struct tag *tags;
	uint32_t *free_tags; /* stack of unused tag indices */
	uint32_t ntags, nfree;

	/*
	 * Commands queued, not yet written, built where they will be written from: a FIFO of
	 * write buffers of chunk records each, all full but the newest, which holds q_tail_n. A
	 * submit hands whole buffers to slots, so it copies nothing, and a write that completed
	 * gives its buffer back to the spares (a list linked through their first bytes).
	 */
	struct ioasfs_cmd **q;
	size_t q_cap, q_head, q_bufs; /* a ring of buffers */
	size_t q_len;		      /* commands in them */
	unsigned q_tail_n;
	uint64_t q_seq; /* seq of the oldest command queued */
	struct spare *spare;

	/* completions arrived, not yet reaped: a ring, host order */
	struct ioasfs_cqe *done;
	size_t done_cap, done_head, done_len;

	/* ioasfs_batch_run() in progress: its completions go straight to run_cqes */
	struct ioasfs_cqe *run_cqes;
	uint64_t run_base;
	unsigned run_n, run_done;
};

static unsigned tags_used(const struct ioasfs_batch *b)
{
	return b->ntags - b->nfree;
}

/* ioasfs_batch_pending() for b != NULL, and without a call through the PLT */
static size_t pending(const struct ioasfs_batch *b)
{
	return b->q_len + tags_used(b) + b->done_len;
}

/* ---------------------------------------------------------------- rings */

/* A write buffer of chunk records, a spare one if there is; NULL when out of memory. */
static struct ioasfs_cmd *buf_get(struct ioasfs_batch *b)
{
	struct spare *sp = b->spare;

	if (!sp)
		return malloc(b->chunk * sizeof(struct ioasfs_cmd));
	b->spare = sp->next;
	return (struct ioasfs_cmd *)sp;
}

static void buf_put(struct ioasfs_batch *b, struct ioasfs_cmd *buf)
{
	struct spare *sp = (struct spare *)buf;

	sp->next = b->spare;
	b->spare = sp;
}

static int queue_grow(struct ioasfs_batch *b)
{
	size_t cap = b->q_cap ? b->q_cap * 2 : 16; /* a power of two, indexed with a mask */
	struct ioasfs_cmd **q;

	q = malloc(cap * sizeof(*q));
	if (!q) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < b->q_bufs; i++)
		q[i] = b->q[(b->q_head + i) & (b->q_cap - 1)];
	free(b->q);
	b->q = q;
	b->q_cap = cap;
	b->q_head = 0;
	return 0;
}

static struct ioasfs_cmd **queue_tail(struct ioasfs_batch *b)
{
	return &b->q[(b->q_head + b->q_bufs - 1) & (b->q_cap - 1)];
}

/*
 * Where to build the next queued command: the newest buffer, or a new one when it is full.
 * The caller writes the whole record there, then counts it with queue_commit().
 */
static int queue_next(struct ioasfs_batch *b, struct ioasfs_cmd **ret)
{
	struct ioasfs_cmd *buf;
	int r;

	if (pending(b) >= QUEUE_MAX) {
		return -ENOSPC;
	}
	if (!b->q_bufs || b->q_tail_n == b->chunk) {
		if (b->q_bufs == b->q_cap) {
			r = queue_grow(b);
			if (r < 0)
				return r;
		}
		buf = buf_get(b);
		if (!buf) {
			return -ENOMEM;
		}
		b->q_bufs++;
		*queue_tail(b) = buf;
		b->q_tail_n = 0;
	}
	*ret = &(*queue_tail(b))[b->q_tail_n];
	return 0;
}

static void queue_commit(struct ioasfs_batch *b)
{
	b->q_tail_n++;
	b->q_len++;
}

static int queue_push(struct ioasfs_batch *b, const struct ioasfs_cmd *cmd)
{
	struct ioasfs_cmd *c;
	int r = queue_next(b, &c);

	if (r < 0)
		return r;
	*c = *cmd;
	queue_commit(b);
	return 0;
}

/* Drop the n newest commands queued. */
static void queue_drop(struct ioasfs_batch *b, size_t n)
{
	while (n && b->q_len) {
		unsigned k = n < b->q_tail_n ? (unsigned)n : b->q_tail_n;

		b->q_tail_n -= k;
		b->q_len -= k;
		n -= k;
		if (!b->q_tail_n) {
			buf_put(b, *queue_tail(b));
			b->q_bufs--;
			b->q_tail_n = b->q_bufs ? b->chunk : 0;
		}
	}
}

/* Make room for n completions in the reaped FIFO, so that harvesting never allocates. */
static int done_reserve(struct ioasfs_batch *b, size_t n)
{
	size_t cap = b->done_cap ? b->done_cap : QUEUE_MIN;
	struct ioasfs_cqe *d;

	if (n <= b->done_cap)
		return 0;
	while (cap < n)
		cap *= 2;
	d = malloc(cap * sizeof(*d));
	if (!d) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < b->done_len; i++)
		d[i] = b->done[(b->done_head + i) & (b->done_cap - 1)];
	free(b->done);
	b->done = d;
	b->done_cap = cap;
	b->done_head = 0;
	return 0;
}

/* ---------------------------------------------------------------- completions */

/* Hand a completion to ioasfs_batch_run() or to the FIFO, and free its tag. */
static void complete(struct ioasfs_batch *b, uint32_t t, int32_t res, uint32_t flags, uint64_t iova,
		     uint64_t length)
{
	struct tag *tag = &b->tags[t];
	struct ioasfs_cqe cqe = {
		.user_data = tag->user_data,
		.res = res,
		.flags = flags,
		.iova = iova,
		.length = length,
	};

	if (b->run_cqes && tag->seq - b->run_base < b->run_n) {
		b->run_cqes[tag->seq - b->run_base] = cqe;
		b->run_done++;
	} else {
		/* done_reserve() at submit time made room for every tag in use */
		b->done[(b->done_head + b->done_len++) & (b->done_cap - 1)] = cqe;
	}
	tag->used = false;
	b->free_tags[b->nfree++] = t;
}

/* A command that did not run: its completion carries err and the command's own values. */
static void complete_err(struct ioasfs_batch *b, uint32_t t, int err)
{
	if (b->tags[t].used) /* a daemon that completed it anyway must not free it twice */
		complete(b, t, err, 0, b->tags[t].iova, b->tags[t].length);
}

/* The channel is broken: complete everything in flight with err, submit nothing more. */
static void channel_failed(struct ioasfs_batch *b, int err)
{
	if (b->err)
		return;
	b->err = err;
	for (uint32_t t = 0; t < b->ntags; t++)
		if (b->tags[t].used)
			complete_err(b, t, err);
}

static void deliver(struct ioasfs_batch *b, const struct ioasfs_cqe *wire)
{
	uint64_t t = le64toh(wire->user_data);

	if (b->err)
		return; /* already completed with the channel's error */
	if (t >= b->ntags || !b->tags[t].used) {
		channel_failed(b, -EIO);
		return;
	}
	complete(b, (uint32_t)t, (int32_t)le32toh((uint32_t)wire->res), le32toh(wire->flags),
		 le64toh(wire->iova), le64toh(wire->length));
}

static void write_done(struct ioasfs_batch *b, struct slot *s, int res)
{
	unsigned ran = 0;
	int err = -EIO;

	s->wbusy = false;
	if (res != (int)(s->ncmds * sizeof(struct ioasfs_cmd)) && !b->err) {
		/* refused whole, or short: what was not written did not run */
		if (res < 0)
			err = res;
		else
			ran = (unsigned)res / sizeof(struct ioasfs_cmd);
		for (unsigned i = ran; i < s->ncmds; i++)
			complete_err(b, (uint32_t)le64toh(s->cmds[i].user_data), err);
	}
	buf_put(b, s->cmds);
	s->cmds = NULL;
}

static void read_done(struct ioasfs_batch *b, struct slot *s, int res)
{
	unsigned got;

	s->rbusy = false;
	if (res < 0) {
		/* cancelled by its failed write, or interrupted: the count logic reads again */
		if (res != -ECANCELED && res != -EINTR && res != -EAGAIN)
			channel_failed(b, res);
		return;
	}
	if (res % sizeof(struct ioasfs_cqe)) {
		channel_failed(b, -EIO);
		return;
	}
	got = (unsigned)res / sizeof(struct ioasfs_cqe);
	if (got > s->asked) {
		channel_failed(b, -EIO);
		return;
	}
	/* follow-ups ask only for completions that exist: an empty answer would loop forever */
	if (!got && s->followup && s->asked)
		channel_failed(b, -EIO);
	for (unsigned i = 0; i < got; i++)
		deliver(b, &s->cqes[i]);
}

/*
 * Completions owed by the daemon are the tags in use minus those of writes still in flight
 * (their linked reads come with them); reads in flight for writes that completed already ask
 * for some. Ask for the rest on idle slots.
 */
static void issue_followups(struct ioasfs_batch *b)
{
	long owed = tags_used(b), asked = 0;
	bool queued = false;

	if (b->err)
		return;
	for (unsigned i = 0; i < b->inflight; i++) {
		const struct slot *s = &b->slots[i];

		if (s->wbusy)
			owed -= s->ncmds;
		else if (s->rbusy)
			asked += s->asked;
	}
	for (unsigned i = 0; i < b->inflight && owed > asked; i++) {
		struct slot *s = &b->slots[i];
		struct io_uring_sqe *sqe;
		unsigned k;

		if (s->wbusy || s->rbusy)
			continue;
		sqe = io_uring_get_sqe(&b->ring);
		if (!sqe) {
			channel_failed(b, -EBUSY); /* cannot happen: the SQ holds two per slot */
			return;
		}
		k = owed - asked < b->chunk ? (unsigned)(owed - asked) : b->chunk;
		io_uring_prep_read(sqe, b->fd, s->cqes, k * sizeof(struct ioasfs_cqe), 0);
		sqe->user_data = (uint64_t)i << 1 | UD_READ;
		sqe->flags |= IOSQE_ASYNC; /* see start_pair() */
		s->rbusy = true;
		s->followup = true;
		s->asked = k;
		asked += k;
		b->sqes++;
		queued = true;
	}
	if (queued)
		io_uring_submit(&b->ring); /* a failure leaves them in the SQ for the next call */
}

/* Process every CQE available now, without waiting. */
static void harvest(struct ioasfs_batch *b)
{
	struct io_uring_cqe *cqe;
	bool any = false;

	while (io_uring_peek_cqe(&b->ring, &cqe) == 0) {
		uint64_t ud = cqe->user_data;
		struct slot *s = &b->slots[ud >> 1];

		if ((ud & 1) == UD_WRITE)
			write_done(b, s, cqe->res);
		else
			read_done(b, s, cqe->res);
		io_uring_cqe_seen(&b->ring, cqe);
		b->sqes--;
		any = true;
	}
	if (any)
		issue_followups(b);
}

/*
 * Wait for at least one CQE (submitting anything left in the SQ), then harvest. Returns 0 or
 * -EINTR; a ring that cannot wait any more fails the channel.
 */
static int wait_some(struct ioasfs_batch *b)
{
	int r;

	if (!b->sqes) {
		/* nothing can arrive: tags in use would be completions lost for good */
		if (tags_used(b))
			channel_failed(b, -EIO);
		return 0;
	}
	r = io_uring_submit_and_wait(&b->ring, 1);
	if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
		channel_failed(b, r);
	harvest(b);
	return r == -EINTR ? r : 0;
}

/* ---------------------------------------------------------------- open and close */

static void batch_free(struct ioasfs_batch *b)
{
	if (b->slots)
		for (unsigned i = 0; i < b->inflight; i++) {
			free(b->slots[i].cmds);
			free(b->slots[i].cqes);
		}
	free(b->slots);
	free(b->tags);
	free(b->free_tags);
	for (size_t i = 0; i < b->q_bufs; i++)
		free(b->q[(b->q_head + i) & (b->q_cap - 1)]);
	free(b->q);
	while (b->spare) {
		struct ioasfs_cmd *buf = buf_get(b);

		free(buf);
	}
	free(b->done);
	if (b->ring_ok)
		io_uring_queue_exit(&b->ring);
	if (b->fd >= 0)
		close(b->fd);
	free(b);
}

int ioasfs_batch_open(const char *ioas_dir, const struct ioasfs_batch_opts *opts,
		      struct ioasfs_batch **ret)
{
	unsigned chunk = opts && opts->chunk ? opts->chunk : CHUNK_DEFAULT;
	unsigned inflight = opts && opts->inflight ? opts->inflight : INFLIGHT_DEFAULT;
	struct ioasfs_batch *b = NULL;
	char *path = NULL;
	int r;

	if (!ioas_dir || !ret || chunk > IOASFS_BATCH_MAX_CMDS || inflight > INFLIGHT_MAX) {
		r = -EINVAL;
		goto err;
	}
	/* the daemon's completion queue must hold everything we can have in flight */
	if ((size_t)chunk * inflight > IOASFS_BATCH_MAX_CQES)
		inflight = IOASFS_BATCH_MAX_CQES / chunk;
	b = calloc(1, sizeof(*b));
	if (!b || asprintf(&path, "%s/batch", ioas_dir) < 0) {
		path = NULL;
		r = -ENOMEM;
		goto err;
	}
	b->fd = -1;
	b->chunk = chunk;
	b->inflight = inflight;
	b->fd = open(path, O_RDWR | O_CLOEXEC);
	if (b->fd < 0) {
		r = -errno;
		goto err;
	}
	/* two SQEs per slot at most: a WRITE and its READ, or one follow-up READ */
	r = io_uring_queue_init(2 * inflight, &b->ring, 0);
	if (r < 0)
		goto err;
	b->ring_ok = true;
	b->slots = calloc(inflight, sizeof(*b->slots));
	b->ntags = chunk * inflight;
	b->tags = calloc(b->ntags, sizeof(*b->tags));
	b->free_tags = malloc(b->ntags * sizeof(*b->free_tags));
	if (!b->slots || !b->tags || !b->free_tags) {
		r = -ENOMEM;
		goto err;
	}
	/* calloc: memcheck cannot see the kernel fill a READ buffer, and would cry wolf */
	for (unsigned i = 0; i < inflight; i++) {
		struct ioasfs_cmd *buf = malloc(chunk * sizeof(struct ioasfs_cmd));

		if (buf)
			buf_put(b, buf);
		b->slots[i].cqes = calloc(chunk, sizeof(struct ioasfs_cqe));
		if (!buf || !b->slots[i].cqes) {
			r = -ENOMEM;
			goto err;
		}
	}
	/* hand out low tags first */
	for (uint32_t t = 0; t < b->ntags; t++)
		b->free_tags[t] = b->ntags - 1 - t;
	b->nfree = b->ntags;
	free(path);
	*ret = b;
	return 0;
err:
	free(path);
	if (b)
		batch_free(b);
	return r;
}

void ioasfs_batch_close(struct ioasfs_batch *b)
{
	if (!b)
		return;
	/*
	 * The kernel writes into our read buffers until each request completes: wait for all of
	 * them before freeing anything. If waiting itself fails, leak rather than free memory
	 * that an in-flight READ may still fill.
	 */
	while (b->sqes) {
		struct io_uring_cqe *cqe;
		int r = io_uring_submit_and_wait(&b->ring, 1);

		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
			return;
		while (io_uring_peek_cqe(&b->ring, &cqe) == 0) {
			io_uring_cqe_seen(&b->ring, cqe);
			b->sqes--;
		}
	}
	batch_free(b);
}

/* ---------------------------------------------------------------- queueing commands */

int ioasfs_batch_queue(struct ioasfs_batch *b, const struct ioasfs_cmd *cmd)
{
	int r;

	if (!b || !cmd) {
		return -EINVAL;
	}
	r = queue_push(b, cmd);
	if (r < 0)
		return r;
	return 0;
}

/* last = first + length - 1 must not wrap (the daemon would refuse the whole write). */
static bool wraps(uint64_t first, uint64_t length)
{
	return length && first + (length - 1) < first;
}

/*
 * Queue a wire record, built where it will be written from; 0, -EINVAL for a bad handle,
 * access or name, or what queue_next() returns. fd is 0 but for MAP_FD*.
 */
static int queue_cmd(struct ioasfs_batch *b, uint8_t opcode, unsigned prot, uint32_t flags,
		     uint64_t user_data, uint64_t iova, uint64_t length, uint64_t offset,
		     const char *name, int32_t fd)
{
	struct ioasfs_cmd *c;
	size_t len = 0;
	int r;

	if (!b || prot & ~(unsigned)(IOASFS_PROT_READ | IOASFS_PROT_WRITE)) {
		return -EINVAL;
	}
	if (name) {
		len = strnlen(name, IOASFS_NAME_LEN);
		if (!len || len == IOASFS_NAME_LEN) {
			return -EINVAL;
		}
	}
	r = queue_next(b, &c);
	if (r < 0)
		return r;
	/* field by field: the whole record at once becomes a slow rep stos */
	c->version = htole16(IOASFS_BATCH_VERSION);
	c->opcode = opcode;
	c->prot = (uint8_t)prot;
	c->flags = htole32(flags);
	c->user_data = htole64(user_data);
	c->iova = htole64(iova);
	c->length = htole64(length);
	c->offset = htole64(offset);
	c->fd = (int32_t)htole32((uint32_t)fd);
	c->fd_pad = 0;
	c->fd_reserved[0] = 0;
	c->fd_reserved[1] = 0;
	memset(c->name, 0, sizeof(c->name));
	if (name)
		memcpy(c->name, name, len);
	queue_commit(b);
	return 0;
}

int ioasfs_batch_map(struct ioasfs_batch *b, const char *source, uint64_t offset, uint64_t length,
		     unsigned prot, uint64_t user_data)
{
	if (!source)
		return -EINVAL;
	if (wraps(offset, length))
		return -EOVERFLOW;
	return queue_cmd(b, IOASFS_OP_MAP, prot, 0, user_data, 0, length, offset, source, 0);
}

int ioasfs_batch_map_fixed(struct ioasfs_batch *b, uint64_t iova, const char *source,
			   uint64_t offset, uint64_t length, unsigned prot, uint64_t user_data)
{
	if (!source)
		return -EINVAL;
	if (wraps(iova, length) || wraps(offset, length))
		return -EOVERFLOW;
	return queue_cmd(b, IOASFS_OP_MAP_FIXED, prot, 0, user_data, iova, length, offset, source,
			 0);
}

int ioasfs_batch_unmap(struct ioasfs_batch *b, uint64_t iova, uint64_t length, uint64_t user_data)
{
	if (wraps(iova, length))
		return -EOVERFLOW;
	return queue_cmd(b, IOASFS_OP_UNMAP, 0, 0, user_data, iova, length, 0, NULL, 0);
}

int ioasfs_batch_unmap_all(struct ioasfs_batch *b, uint64_t user_data)
{
	return queue_cmd(b, IOASFS_OP_UNMAP, 0, IOASFS_CMD_UNMAP_ALL, user_data, 0, 0, 0, NULL, 0);
}

int ioasfs_batch_copy(struct ioasfs_batch *b, const char *src_ioas, uint64_t src_iova,
		      uint64_t length, uint64_t dst_iova, unsigned prot, uint64_t user_data)
{
	bool fixed = dst_iova != IOASFS_IOVA_AUTO;

	if (!src_ioas)
		return -EINVAL;
	if (wraps(src_iova, length) || (fixed && wraps(dst_iova, length)))
		return -EOVERFLOW;
	return queue_cmd(b, IOASFS_OP_COPY, prot, fixed ? IOASFS_CMD_COPY_FIXED : 0, user_data,
			 fixed ? dst_iova : 0, length, src_iova, src_ioas, 0);
}

int ioasfs_batch_map_fd(struct ioasfs_batch *b, uint64_t iova, int fd, uint64_t offset,
			uint64_t length, unsigned prot, uint64_t user_data)
{
	bool fixed = iova != IOASFS_IOVA_AUTO;

	if (fd < 0)
		return -EBADF;
	if ((fixed && wraps(iova, length)) || wraps(offset, length))
		return -EOVERFLOW;
	return queue_cmd(b, fixed ? IOASFS_OP_MAP_FD_FIXED : IOASFS_OP_MAP_FD, prot, 0, user_data,
			 fixed ? iova : 0, length, offset, NULL, fd);
}

int ioasfs_batch_nop(struct ioasfs_batch *b, uint64_t user_data)
{
	return queue_cmd(b, IOASFS_OP_NOP, 0, 0, user_data, 0, 0, 0, NULL, 0);
}

/* ---------------------------------------------------------------- submit and reap */

/* Hand the oldest queued buffer to idle slot i and queue its WRITE+READ pair. */
static int start_pair(struct ioasfs_batch *b, unsigned i)
{
	struct slot *s = &b->slots[i];
	struct io_uring_sqe *w, *rd;
	unsigned k = b->q_bufs == 1 ? b->q_tail_n : b->chunk;
	int r;

	r = done_reserve(b, b->done_len + tags_used(b) + k);
	if (r < 0)
		return r;
	if (io_uring_sq_space_left(&b->ring) < 2) {
		r = -EBUSY; /* cannot happen: the SQ holds two per slot */
		return r;
	}
	w = io_uring_get_sqe(&b->ring);
	rd = io_uring_get_sqe(&b->ring);
	s->cmds = b->q[b->q_head];
	b->q_head = (b->q_head + 1) & (b->q_cap - 1);
	b->q_bufs--;
	b->q_len -= k;
	if (!b->q_bufs)
		b->q_tail_n = 0;
	for (unsigned j = 0; j < k; j++) {
		struct ioasfs_cmd *c = &s->cmds[j];
		uint32_t t = b->free_tags[--b->nfree];
		struct tag *tag = &b->tags[t];

		tag->user_data = le64toh(c->user_data);
		tag->iova = le64toh(c->iova);
		tag->length = le64toh(c->length);
		tag->seq = b->q_seq++;
		tag->used = true;
		c->user_data = htole64(t);
	}
	io_uring_prep_write(w, b->fd, s->cmds, k * sizeof(struct ioasfs_cmd), 0);
	w->user_data = (uint64_t)i << 1 | UD_WRITE;
	/*
	 * FUSE reads and writes always block: IOSQE_ASYNC hands them to an io-wq worker at once,
	 * instead of after a non-blocking attempt that fails and a poll that is armed for nothing.
	 */
	w->flags |= IOSQE_IO_LINK | IOSQE_ASYNC;
	io_uring_prep_read(rd, b->fd, s->cqes, k * sizeof(struct ioasfs_cqe), 0);
	rd->user_data = (uint64_t)i << 1 | UD_READ;
	rd->flags |= IOSQE_ASYNC;
	s->ncmds = k;
	s->asked = k;
	s->wbusy = s->rbusy = true;
	s->followup = false;
	b->sqes += 2;
	return (int)k;
}

int ioasfs_batch_submit(struct ioasfs_batch *b)
{
	int n = 0, r;

	if (!b) {
		return -EINVAL;
	}
	harvest(b);
	if (b->err) {
		r = b->err;
		return r;
	}
	for (unsigned i = 0; i < b->inflight && b->q_len; i++) {
		if (b->slots[i].wbusy || b->slots[i].rbusy)
			continue;
		r = start_pair(b, i);
		if (r < 0) {
			if (n)
				break; /* submit what is prepared; the rest stays queued */
			return r;
		}
		n += r;
	}
	if (n) {
		r = io_uring_submit(&b->ring);
		/* EAGAIN/EBUSY/EINTR leave the SQEs in the SQ: the next wait submits them */
		if (r < 0 && r != -EAGAIN && r != -EBUSY && r != -EINTR)
			channel_failed(b, r);
	}
	return n;
}

int ioasfs_batch_reap(struct ioasfs_batch *b, struct ioasfs_cqe *cqes, unsigned max, unsigned min)
{
	unsigned n = 0;
	int r;

	if (!b || (max && !cqes)) {
		return -EINVAL;
	}
	harvest(b);
	/* wait only for what can arrive without a submit */
	if (min > max)
		min = max;
	if (min > b->done_len + tags_used(b))
		min = (unsigned)(b->done_len + tags_used(b));
	while (b->done_len < min) {
		r = wait_some(b);
		if (r < 0 && !b->done_len)
			return r;
		if (r < 0)
			break;
	}
	/* at most two runs: up to the end of the ring, then from its start */
	while (n < max && b->done_len) {
		size_t k = b->done_cap - b->done_head;

		if (k > b->done_len)
			k = b->done_len;
		if (k > max - n)
			k = max - n;
		memcpy(&cqes[n], &b->done[b->done_head], k * sizeof(*cqes));
		n += (unsigned)k;
		b->done_head = (b->done_head + k) & (b->done_cap - 1);
		b->done_len -= k;
	}
	return (int)n;
}

unsigned ioasfs_batch_pending(const struct ioasfs_batch *b)
{
	if (!b)
		return 0;
	return (unsigned)pending(b);
}

int ioasfs_batch_run(struct ioasfs_batch *b, const struct ioasfs_cmd *cmds, unsigned n,
		     struct ioasfs_cqe *cqes)
{
	unsigned next = 0;
	int r;

	if (!b || (n && (!cmds || !cqes)) || b->run_cqes) {
		return -EINVAL;
	}
	if (b->err) {
		r = b->err;
		return r;
	}
	if (!n)
		return 0;
	b->run_cqes = cqes;
	b->run_base = b->q_seq + b->q_len;
	b->run_n = n;
	b->run_done = 0;
	while (b->run_done < n) {
		/*
		 * Stream the commands in: the local queue is bounded and n is not. A full queue
		 * (or one that cannot grow now) drains as completions arrive.
		 */
		while (next < n) {
			r = queue_push(b, &cmds[next]);
			if (r < 0 && (r == -ENOSPC || b->q_len))
				break;
			if (r < 0)
				goto drop;
			next++;
		}
		r = ioasfs_batch_submit(b);
		if (r < 0 && (b->err || !b->sqes))
			goto drop;
		if (b->run_done < n)
			wait_some(b); /* -EINTR: just go round */
		if (b->err) {
			r = b->err;
			goto drop;
		}
	}
	b->run_cqes = NULL;
	return 0;
drop:
	/*
	 * Nothing of this run is in flight here: either nothing at all is, or the channel failed,
	 * which completed everything. Its commands still queued are the newest: drop them.
	 */
	queue_drop(b, b->q_seq + b->q_len - b->run_base);
	b->run_cqes = NULL;
	return r;
}
