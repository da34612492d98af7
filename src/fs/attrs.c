/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Attribute files, one table per directory kind, one show/store pair per file (the nvmet
 * configfs pattern): adding a file is adding one line to a table. This file owns the text:
 * it parses what a shell writes into values and commands, and leaves every IOMMU rule to the
 * core. The command files `map` and `unmap` take many lines per write; each line runs in
 * order and the first failure ends the write with that line's errno.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "util/parse.h"
#include "fs/decode.h"
#include "fs/fs.h"

#define IOAS_REF(n) ((struct core_ioas_ref){ (n)->ioas, (n)->ioas_serial })

int fs_parse_auto(const char *val, bool size, uint64_t *ret)
{
	if (!strcmp(val, "auto")) {
		*ret = CORE_AUTO;
		return 0;
	}
	return size ? parse_size(val, ret) : parse_u64(val, ret);
}

/* Report a parse failure of an attribute value. */
static int bad_value(struct fs *fs, struct core_req *rq, int err, const char *what, const char *val)
{
	core_error(fs->core, rq, "invalid %s '%.64s'%s", what, val,
		   err == -EOVERFLOW ? " (does not fit in 64 bits)" : "");
	return err;
}

/* ---------------------------------------------------------------- root */

static int show_status(struct fs *fs, struct node *n, struct sbuf *sb)
{
	const struct backend_ops *ops = core_backend_ops(fs->core);

	core_show_status(fs->core, sb);
	sbuf_printf(sb, "uring_cmd %s\n", fs->uring_cmd);
	sbuf_printf(sb, "dirty_tracking %s\n", ops->dirty_tracking);
	sbuf_printf(sb, "iommufd_test %s\n", ops->iommufd_test);
	sbuf_printf(sb, "batch_version %d.%d\n", IOASFS_BATCH_VERSION, IOASFS_BATCH_MINOR);
	sbuf_printf(sb, "limit_batch_cmds %d\n", IOASFS_BATCH_MAX_CMDS);
	sbuf_printf(sb, "limit_batch_cqes %d\n", IOASFS_BATCH_MAX_CQES);
	sbuf_printf(sb, "limit_batch_sessions %d\n", FS_MAX_SESSIONS);
	sbuf_printf(sb, "limit_user_batch_sessions %d\n", CORE_USER_SHARE(FS_MAX_SESSIONS));
	sbuf_printf(sb, "limit_attr_bytes %d\n", FS_ATTR_MAX);
	sbuf_printf(sb, "limit_line_bytes %d\n", FS_LINE_MAX);
	sbuf_printf(sb, "limit_lines_per_write %d\n", FS_LINES_MAX);
	sbuf_printf(sb, "limit_pending_links %d\n", FS_PENDING_LINKS);
	sbuf_printf(sb, "limit_user_pending_links %d\n", CORE_USER_SHARE(FS_PENDING_LINKS));
	sbuf_printf(sb, "limit_user_whole_handles %d\n", FS_MAX_WHOLE);
	sbuf_printf(sb, "limit_results_bytes %u\n", FS_RESULTS_MAX);
	return 0;
}

static int show_errors(struct fs *fs, struct node *n, struct sbuf *sb)
{
	core_show_errors(fs->core, sb);
	return 0;
}

static int show_save(struct fs *fs, struct node *n, struct sbuf *sb)
{
	return core_save(fs->core, sb);
}

static const struct attr_def root_attrs[] = {
	{ "status", 0444, show_status },
	{ "errors", 0444, show_errors, .st_size = FS_SIZE_STREAM },
	{ "save", 0444, show_save, .st_size = FS_SIZE_STREAM, .whole = true },
	{ NULL },
};

/* ---------------------------------------------------------------- platform */

static int show_iova_bits(struct fs *fs, struct node *n, struct sbuf *sb)
{
	sbuf_printf(sb, "%u\n", core_platform(fs->core)->iova_bits);
	return 0;
}

static int show_page_sizes(struct fs *fs, struct node *n, struct sbuf *sb)
{
	char buf[128];

	format_page_sizes(core_platform(fs->core)->page_sizes, buf, sizeof(buf));
	sbuf_printf(sb, "%s\n", buf);
	return 0;
}

static int show_reserved(struct fs *fs, struct node *n, struct sbuf *sb)
{
	const struct platform *p = core_platform(fs->core);

	for (unsigned i = 0; i < p->n_reserved; i++)
		sbuf_printf(sb, ADDR_FMT "-" ADDR_FMT " %s\n", p->reserved[i].start,
			    p->reserved[i].last, p->reserved[i].kind);
	return 0;
}

static int show_apertures(struct fs *fs, struct node *n, struct sbuf *sb)
{
	const struct platform *p = core_platform(fs->core);

	for (unsigned i = 0; i < p->n_apertures; i++)
		sbuf_printf(sb, ADDR_FMT "-" ADDR_FMT "\n", p->apertures[i].start,
			    p->apertures[i].last);
	return 0;
}

static int show_max_windows(struct fs *fs, struct node *n, struct sbuf *sb)
{
	sbuf_printf(sb, "%u\n", core_platform(fs->core)->max_windows);
	return 0;
}

static int show_profile(struct fs *fs, struct node *n, struct sbuf *sb)
{
	const struct platform *p = core_platform(fs->core);
	size_t need = platform_format(p, NULL, 0);
	char *buf = malloc(need + 1);

	if (!buf)
		return -ENOMEM;
	platform_format(p, buf, need + 1);
	sbuf_add(sb, buf, need);
	free(buf);
	return 0;
}

static const struct attr_def platform_attrs[] = {
	{ "iova_bits", 0444, show_iova_bits },
	{ "page_sizes", 0444, show_page_sizes },
	{ "reserved", 0444, show_reserved },
	{ "apertures", 0444, show_apertures },
	{ "max_windows", 0444, show_max_windows },
	{ "profile", 0444, show_profile },
	{ NULL },
};

/* ---------------------------------------------------------------- ioas/NAME */

static int show_id(struct fs *fs, struct node *n, struct sbuf *sb)
{
	return core_ioas_show_id(fs->core, IOAS_REF(n), sb);
}

static int show_iova_ranges(struct fs *fs, struct node *n, struct sbuf *sb)
{
	return core_ioas_show_iova_ranges(fs->core, IOAS_REF(n), sb);
}

static int show_alignment(struct fs *fs, struct node *n, struct sbuf *sb)
{
	return core_ioas_show_alignment(fs->core, IOAS_REF(n), sb);
}

static int mappings_length(struct fs *fs, struct node *n, uint64_t *ret)
{
	return core_ioas_mappings_length(fs->core, IOAS_REF(n), ret);
}

static int chunk_mappings(struct fs *fs, struct node *n, uint64_t *cursor, bool *done,
			  struct sbuf *sb, size_t max)
{
	return core_ioas_mappings_chunk(fs->core, IOAS_REF(n), cursor, done, sb, max);
}

static int show_mappings(struct fs *fs, struct node *n, struct sbuf *sb)
{
	return core_ioas_show_mappings(fs->core, IOAS_REF(n), sb);
}

static int show_stats(struct fs *fs, struct node *n, struct sbuf *sb)
{
	return core_ioas_show_stats(fs->core, IOAS_REF(n), sb);
}

/* "ok IOVA LENGTH": what a read-write handle reads back for each command (fh->lock held). */
static void result(struct fh *fh, uint64_t iova, uint64_t length)
{
	if (fh->rdwr && fh->results.len < FS_RESULTS_MAX)
		sbuf_printf(&fh->results, "ok " ADDR_FMT " 0x%" PRIx64 "\n", iova, length);
}

static void result_err_locked(struct fh *fh, int err)
{
	if (fh->rdwr && fh->results.len < FS_RESULTS_MAX)
		sbuf_printf(&fh->results, "error %s\n", errno_name(-err));
}

typedef int line_fn(struct fs *, struct node *, struct fh *, struct core_req *, char *);

/* One command line (NUL-free, no newline): blank lines are skipped. */
static int run_line(struct fs *fs, struct node *n, struct fh *fh, struct core_req *rq,
		    const char *data, size_t l, line_fn *fn)
{
	char line[FS_LINE_MAX + 1];

	if (l > FS_LINE_MAX) {
		core_error(fs->core, rq, "longer than %d bytes", FS_LINE_MAX);
		return -EINVAL;
	}
	if (memchr(data, '\0', l)) {
		core_error(fs->core, rq, "contains a NUL byte");
		return -EINVAL;
	}
	memcpy(line, data, l);
	line[l] = '\0';
	if (strspn(line, " \t") == l)
		return 0;
	return fn(fs, n, fh, rq, line);
}

/*
 * Run each line of a command write through fn, in order, stopping at the first failure.
 * Streaming writers cut lines across writes (stdio flushes 4 KiB, cat(1) 128 KiB, the kernel
 * splits writes over 1 MiB), so the unterminated tail of a write of FS_LINE_MAX bytes or more
 * is kept on the handle, completed by the next write or run at close (flush). A shorter
 * write is one command or a few, and its last line runs now with or without a newline, so
 * `write(fd, "auto 4K buf", 11)` answers at once. fh->lock serializes writers of a handle.
 */
static int run_lines(struct fs *fs, struct node *n, struct fh *fh, struct core_req *rq,
		     const char *data, size_t len, line_fn *fn)
{
	char *buf = NULL;
	size_t pos = 0, end, wlen = len, nlines;
	unsigned lineno = 0;
	int r = 0;

	pthread_mutex_lock(&fh->lock);
	if (fh->carry_len) {
		buf = malloc(fh->carry_len + len);
		if (!buf) {
			r = -ENOMEM;
			goto out;
		}
		memcpy(buf, fh->carry, fh->carry_len);
		memcpy(buf + fh->carry_len, data, len);
		len += fh->carry_len;
		data = buf;
		fh->carry_len = 0;
	}
	/* everything up to the last newline runs now, and the tail too after a short write */
	for (end = len; end > 0 && data[end - 1] != '\n'; end--)
		;
	if (wlen < FS_LINE_MAX)
		end = len;
	/* counted before any line runs, so a refused write changes nothing */
	nlines = end && data[end - 1] != '\n';
	for (const char *p = data; (p = memchr(p, '\n', data + end - p)); p++)
		nlines++;
	if (nlines > FS_LINES_MAX) {
		core_error(fs->core, rq, "%zu lines in one write (limit %d)", nlines, FS_LINES_MAX);
		r = -EINVAL;
		goto fail;
	}
	while (pos < end) {
		const char *nl = memchr(data + pos, '\n', end - pos);
		size_t l = nl ? (size_t)(nl - (data + pos)) : end - pos;

		rq->prefix = "line";
		rq->item = ++lineno;
		r = run_line(fs, n, fh, rq, data + pos, l, fn);
		if (r < 0)
			goto fail;
		pos += l + 1;
	}
	if (len - end > FS_LINE_MAX) {
		rq->prefix = "line";
		rq->item = ++lineno;
		core_error(fs->core, rq, "longer than %d bytes", FS_LINE_MAX);
		r = -EINVAL;
		goto fail;
	}
	memcpy(fh->carry, data + end, len - end);
	fh->carry_len = len - end;
	goto out;
fail:
	result_err_locked(fh, r);
out:
	pthread_mutex_unlock(&fh->lock);
	rq->prefix = NULL;
	free(buf);
	return r;
}

/* close(2): a last line without its newline runs now, and close returns its errno. */
static int flush_lines(struct fs *fs, struct node *n, struct fh *fh, struct core_req *rq,
		       line_fn *fn)
{
	int r = 0;

	pthread_mutex_lock(&fh->lock);
	if (fh->carry_len) {
		rq->prefix = "last line";
		rq->item = 0;
		r = run_line(fs, n, fh, rq, fh->carry, fh->carry_len, fn);
		fh->carry_len = 0;
		if (r < 0)
			result_err_locked(fh, r);
		rq->prefix = NULL;
	}
	pthread_mutex_unlock(&fh->lock);
	return r;
}

static int map_line(struct fs *fs, struct node *n, struct fh *fh, struct core_req *rq, char *line)
{
	struct core_map_cmd m;
	char why[DECODE_WHY_LEN];
	uint64_t iova;
	int r;

	r = decode_map_line(line, &m, why, sizeof(why));
	if (r < 0) {
		core_error(fs->core, rq, "%s", why);
		return r;
	}
	r = core_map(fs->core, rq, IOAS_REF(n), &m, &iova);
	if (r < 0)
		return r;
	result(fh, iova, m.length);
	return 0;
}

static int unmap_line(struct fs *fs, struct node *n, struct fh *fh, struct core_req *rq, char *line)
{
	struct decode_unmap u;
	char why[DECODE_WHY_LEN];
	uint64_t done = 0;
	int r;

	r = decode_unmap_line(line, &u, why, sizeof(why));
	if (r < 0) {
		core_error(fs->core, rq, "%s", why);
		return r;
	}
	r = core_unmap(fs->core, rq, IOAS_REF(n), u.all, u.iova, u.length, &done);
	if (r < 0)
		return r;
	result(fh, u.iova, done);
	return 0;
}

/* "IOVA|auto LENGTH SRCIOAS SRCIOVA [r|w|rw]": IOMMU_IOAS_COPY into this IOAS. */
static int copy_line(struct fs *fs, struct node *n, struct fh *fh, struct core_req *rq, char *line)
{
	struct core_copy_cmd cp;
	char why[DECODE_WHY_LEN];
	uint64_t iova;
	int r;

	r = decode_copy_line(line, &cp, why, sizeof(why));
	if (r < 0) {
		core_error(fs->core, rq, "%s", why);
		return r;
	}
	r = core_copy(fs->core, rq, IOAS_REF(n), &cp, &iova);
	if (r < 0)
		return r;
	result(fh, iova, cp.length);
	return 0;
}

static int write_copy(struct fs *fs, struct node *n, struct fh *fh, struct core_req *rq,
		      const char *data, size_t len)
{
	return run_lines(fs, n, fh, rq, data, len, copy_line);
}

static int flush_copy(struct fs *fs, struct node *n, struct fh *fh, struct core_req *rq)
{
	return flush_lines(fs, n, fh, rq, copy_line);
}

/* ---------------------------------------------------------------- dma */

/* Reply to a dma read straight from the memory the core hands over (under its lock). */
static int dma_reply(void *arg, const struct iovec *iov, int n)
{
	/* once sent, the reply is the request's only one, whatever writev said */
	fuse_reply_iov((fuse_req_t)arg, iov, n);
	return 0;
}

static void pread_dma(struct fs *fs, struct node *n, fuse_req_t req, struct core_req *rq,
		      size_t size, off_t off)
{
	int r = core_dma_read(fs->core, rq, IOAS_REF(n), (uint64_t)off, size, dma_reply, req);

	if (r < 0)
		fuse_reply_err(req, -r);
}

static ssize_t pwrite_dma(struct fs *fs, struct node *n, struct core_req *rq, const char *buf,
			  size_t size, off_t off)
{
	return core_dma_write(fs->core, rq, IOAS_REF(n), (uint64_t)off, buf, size);
}

static int write_map(struct fs *fs, struct node *n, struct fh *fh, struct core_req *rq,
		     const char *data, size_t len)
{
	return run_lines(fs, n, fh, rq, data, len, map_line);
}

static int flush_map(struct fs *fs, struct node *n, struct fh *fh, struct core_req *rq)
{
	return flush_lines(fs, n, fh, rq, map_line);
}

static int write_unmap(struct fs *fs, struct node *n, struct fh *fh, struct core_req *rq,
		       const char *data, size_t len)
{
	return run_lines(fs, n, fh, rq, data, len, unmap_line);
}

static int flush_unmap(struct fs *fs, struct node *n, struct fh *fh, struct core_req *rq)
{
	return flush_lines(fs, n, fh, rq, unmap_line);
}

/* The result lines of a read-write command handle. */
static size_t read_results(struct fs *fs, struct fh *fh, char *buf, size_t size)
{
	size_t len = size < fh->results.len ? size : fh->results.len;

	if (!len)
		return 0; /* no result yet: results.buf may be NULL, which memcpy may not get */
	memcpy(buf, fh->results.buf, len);
	sbuf_consume(&fh->results, len);
	return len;
}

/* ---------------------------------------------------------------- batch */

/* Grow a per-session scratch array to at least n elements of size sz. */
static void *scratch(void **p, size_t *cap, size_t n, size_t sz)
{
	if (n > *cap) {
		void *q = realloc(*p, n * sz);

		if (!q)
			return NULL;
		*p = q;
		*cap = n;
	}
	return *p;
}

/*
 * Make room for count more completions (fh->lock held). ENOBUFS, not EAGAIN, when the queue
 * would overflow: the kernel retries a regular file's EAGAIN by itself under io_uring, which
 * would spin. Logged once until the session reads.
 */
static int cq_reserve(struct fs *fs, struct fh *fh, struct core_req *rq, unsigned count)
{
	size_t cap;
	struct ioasfs_cqe *q;

	if (fh->cq_len + count > IOASFS_BATCH_MAX_CQES) {
		if (!fh->cq_full_logged)
			core_error(fs->core, rq, "batch: %zu completions unread; read them first",
				   fh->cq_len);
		fh->cq_full_logged = true;
		return -ENOBUFS;
	}
	if (fh->cq_len + count <= fh->cq_cap)
		return 0;
	for (cap = fh->cq_cap ? fh->cq_cap : 1024; cap < fh->cq_len + count;)
		cap *= 2;
	q = malloc(cap * sizeof(*q));
	if (!q)
		return -ENOMEM;
	for (size_t i = 0; i < fh->cq_len; i++)
		q[i] = fh->cq[(fh->cq_head + i) & (fh->cq_cap - 1)];
	free(fh->cq);
	fh->cq = q;
	fh->cq_head = 0;
	fh->cq_cap = cap;
	return 0;
}

/*
 * A write of commands. Writes of one session run one at a time (fh->exec), which keeps its
 * completions in command order and lets the session's scratch buffers serve every write (the
 * hot path allocates nothing). The completion queue has its own lock (fh->lock), held only to
 * reserve room and to append: a READ of the previous pair's completions must not wait for
 * this write's commands to run, or the pairs in flight would not overlap.
 */
static int write_batch(struct fs *fs, struct node *n, struct fh *fh, struct core_req *rq,
		       const char *data, size_t len)
{
	struct core_ioas_ref ref = { n->ioas, n->ioas_serial };
	unsigned count = len / sizeof(struct ioasfs_cmd);
	const struct ioasfs_cmd *cmds = (const void *)data;
	bool convert = __BYTE_ORDER != __LITTLE_ENDIAN || ((uintptr_t)data & 7);
	struct ioasfs_cmd *host = NULL;
	struct ioasfs_cqe *out;
	char why[160];
	int r;

	if (!len || len % sizeof(struct ioasfs_cmd) || count > IOASFS_BATCH_MAX_CMDS) {
		core_error(fs->core, rq, "batch: %zu bytes is not 1..%d whole %zu-byte records",
			   len, IOASFS_BATCH_MAX_CMDS, sizeof(struct ioasfs_cmd));
		return -EINVAL;
	}
	pthread_mutex_lock(&fh->exec);
	out = scratch((void **)&fh->out, &fh->out_cap, count, sizeof(*out));
	if (convert)
		host = scratch((void **)&fh->host, &fh->host_cap, count, sizeof(*host));
	if (!out || (convert && !host)) {
		r = -ENOMEM;
		goto out;
	}
	if (host && __BYTE_ORDER == __LITTLE_ENDIAN)
		memcpy(host, data, len); /* only to align; decode then converts in place */
	r = decode_batch(host ? host : cmds, host, count, why, sizeof(why));
	if (r < 0) {
		core_error(fs->core, rq, "batch rejected whole: %s", why);
		goto out;
	}
	if (fh->rdwr) {
		/* only writers (serialized by exec) add to the queue: room checked stays room */
		pthread_mutex_lock(&fh->lock);
		r = cq_reserve(fs, fh, rq, count);
		pthread_mutex_unlock(&fh->lock);
		if (r < 0)
			goto out;
	}
	r = core_batch(fs->core, rq, ref, host ? host : cmds, count, out);
	/* a write-only handle can never read its completions: it keeps none */
	if (r == 0 && fh->rdwr) {
		pthread_mutex_lock(&fh->lock);
		for (unsigned i = 0; i < count; i++) {
			/* cq_cap is a power of two */
			struct ioasfs_cqe *q =
			    &fh->cq[(fh->cq_head + fh->cq_len++) & (fh->cq_cap - 1)];

			q->user_data = htole64(out[i].user_data);
			q->res = (int32_t)htole32((uint32_t)out[i].res);
			q->flags = 0;
			q->iova = htole64(out[i].iova);
			q->length = htole64(out[i].length);
		}
		pthread_mutex_unlock(&fh->lock);
	}
out:
	pthread_mutex_unlock(&fh->exec);
	return r;
}

static size_t read_batch(struct fs *fs, struct fh *fh, char *buf, size_t size)
{
	size_t n = size / sizeof(struct ioasfs_cqe);

	if (n > fh->cq_len)
		n = fh->cq_len;
	if (n)
		fh->cq_full_logged = false;
	for (size_t i = 0; i < n; i++) {
		memcpy(buf + i * sizeof(struct ioasfs_cqe), &fh->cq[fh->cq_head],
		       sizeof(struct ioasfs_cqe));
		fh->cq_head = (fh->cq_head + 1) & (fh->cq_cap - 1);
	}
	fh->cq_len -= n;
	return n * sizeof(struct ioasfs_cqe);
}

static const struct attr_def ioas_attrs[] = {
	{ "id", 0444, show_id },
	{ "iova_ranges", 0444, show_iova_ranges },
	{ "alignment", 0444, show_alignment },
	{ "map", 0600, NULL, NULL, write_map, .read = read_results, .flush = flush_map },
	{ "unmap", 0600, NULL, NULL, write_unmap, .read = read_results, .flush = flush_unmap },
	{ "batch", 0600, NULL, NULL, write_batch, .read = read_batch, .st_size = 1ull << 40,
	  .session = true },
	{ "copy", 0600, NULL, NULL, write_copy, .read = read_results, .flush = flush_copy },
	/* file offset = IOVA: as far as an off_t reaches */
	{ "dma", 0600, .pread = pread_dma, .pwrite = pwrite_dma, .st_size = INT64_MAX },
	{ "mappings", 0444, show_mappings, .st_size = FS_SIZE_STREAM, .length = mappings_length,
	  .chunk = chunk_mappings },
	{ "stats", 0444, show_stats },
	{ NULL },
};

static int show_huge_pages(struct fs *fs, struct node *n, struct sbuf *sb)
{
	return core_ioas_show_huge_pages(fs->core, IOAS_REF(n), sb);
}

static int store_huge_pages(struct fs *fs, struct node *n, struct core_req *rq, const char *val)
{
	uint64_t v;
	int r = parse_u64(val, &v);

	if (r < 0)
		return bad_value(fs, rq, r, "huge_pages", val);
	return core_ioas_store_huge_pages(fs->core, rq, IOAS_REF(n), v);
}

static const struct attr_def options_attrs[] = {
	{ "huge_pages", 0644, show_huge_pages, store_huge_pages },
	{ NULL },
};

/* ---------------------------------------------------------------- windows/W */

#define WINDOW_ATTR(field, attr, is_size, auto_ok)                                                 \
	static int show_win_##field(struct fs *fs, struct node *n, struct sbuf *sb)                \
	{                                                                                          \
		return core_window_show(fs->core, IOAS_REF(n), n->obj, n->obj_serial, attr, sb);   \
	}                                                                                          \
	static int store_win_##field(struct fs *fs, struct node *n, struct core_req *rq,           \
				     const char *val)                                              \
	{                                                                                          \
		uint64_t v;                                                                        \
		int r = fs_parse_auto(val, is_size, &v);                                           \
		if (r < 0 || (!(auto_ok) && v == CORE_AUTO))                                       \
			return bad_value(fs, rq, r < 0 ? r : -EINVAL, #field, val);                \
		return core_window_store(fs->core, rq, IOAS_REF(n), n->obj, n->obj_serial, attr,   \
					 v);                                                       \
	}

WINDOW_ATTR(start, CORE_WIN_START, false, true)
WINDOW_ATTR(size, CORE_WIN_SIZE, true, false)
WINDOW_ATTR(page_size, CORE_WIN_PAGE_SIZE, true, true)
WINDOW_ATTR(levels, CORE_WIN_LEVELS, false, true)

static int show_win_state(struct fs *fs, struct node *n, struct sbuf *sb)
{
	return core_window_show(fs->core, IOAS_REF(n), n->obj, n->obj_serial, CORE_WIN_STATE, sb);
}

static const struct attr_def window_attrs[] = {
	{ "start", 0644, show_win_start, store_win_start },
	{ "size", 0644, show_win_size, store_win_size },
	{ "page_size", 0644, show_win_page_size, store_win_page_size },
	{ "levels", 0644, show_win_levels, store_win_levels },
	{ "state", 0444, show_win_state },
	{ NULL },
};

/* ---------------------------------------------------------------- devices/D */

static int show_dev_reserved(struct fs *fs, struct node *n, struct sbuf *sb)
{
	return core_device_show_reserved(fs->core, n->ioas, n->ioas_serial, sb);
}

/* "START-LAST KIND" per line; the value may hold several lines. */
static int store_dev_reserved(struct fs *fs, struct node *n, struct core_req *rq, const char *val)
{
	struct platform_range regs[CORE_MAX_RESERVED];
	char line[FS_LINE_MAX + 1];
	unsigned num = 0;
	const char *p = val;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		char *w[3];
		int nw, r;

		if (l > FS_LINE_MAX) {
			core_error(fs->core, rq, "line longer than %d bytes", FS_LINE_MAX);
			return -EINVAL;
		}
		memcpy(line, p, l);
		line[l] = '\0';
		p += l + (nl ? 1 : 0);
		nw = split_words(line, w, 2);
		if (nw == 0)
			continue;
		if (nw != 2) {
			core_error(fs->core, rq, "expected \"START-LAST KIND\" per line");
			return -EINVAL;
		}
		if (num == CORE_MAX_RESERVED) {
			core_error(fs->core, rq, "more than %d reserved regions",
				   CORE_MAX_RESERVED);
			return -EINVAL;
		}
		r = parse_range(w[0], &regs[num].start, &regs[num].last);
		if (r < 0)
			return bad_value(fs, rq, r, "range", w[0]);
		if (strlen(w[1]) >= PLATFORM_KIND_LEN)
			return bad_value(fs, rq, -EINVAL, "kind", w[1]);
		snprintf(regs[num].kind, PLATFORM_KIND_LEN, "%s", w[1]);
		num++;
	}
	return core_device_store_reserved(fs->core, rq, n->ioas, n->ioas_serial, regs, num);
}

static int show_hw_info(struct fs *fs, struct node *n, struct sbuf *sb)
{
	return core_device_show_hw_info(fs->core, n->ioas, n->ioas_serial, sb);
}

static int show_dev_path(struct fs *fs, struct node *n, struct sbuf *sb)
{
	return core_device_show_path(fs->core, n->ioas, n->ioas_serial, sb);
}

static int store_dev_path(struct fs *fs, struct node *n, struct core_req *rq, const char *val)
{
	return core_device_store_path(fs->core, rq, n->ioas, n->ioas_serial, val);
}

static const struct attr_def device_attrs[] = {
	{ "path", 0644, show_dev_path, store_dev_path, .creds = true },
	{ "reserved", 0644, show_dev_reserved, store_dev_reserved, .multiline = true },
	{ "hw_info", 0444, show_hw_info },
	{ NULL },
};

/* ---------------------------------------------------------------- sources/S */

static int show_src_path(struct fs *fs, struct node *n, struct sbuf *sb)
{
	return core_source_show_path(fs->core, n->ioas, n->ioas_serial, sb);
}

static int store_src_path(struct fs *fs, struct node *n, struct core_req *rq, const char *val)
{
	uint64_t size = 0;
	int r;

	if (!strncmp(val, "anon ", 5) || !strcmp(val, "anon")) {
		r = val[4] ? parse_size(val + 5, &size) : -EINVAL;
		if (r < 0)
			return bad_value(fs, rq, r, "anon size", val[4] ? val + 5 : "");
		return core_source_set(fs->core, rq, n->ioas, n->ioas_serial, true, size, NULL);
	}
	return core_source_set(fs->core, rq, n->ioas, n->ioas_serial, false, 0, val);
}

static int show_src_size(struct fs *fs, struct node *n, struct sbuf *sb)
{
	return core_source_show_size(fs->core, n->ioas, n->ioas_serial, sb);
}

static int show_src_users(struct fs *fs, struct node *n, struct sbuf *sb)
{
	return core_source_show_users(fs->core, n->ioas, n->ioas_serial, sb);
}

static const struct attr_def source_attrs[] = {
	{ "path", 0644, show_src_path, store_src_path, .creds = true },
	{ "size", 0444, show_src_size },
	{ "users", 0444, show_src_users },
	{ NULL },
};

static const struct subdir root_dirs[] = {
	{ "platform", N_PLATFORM },
	{ "ioas", N_IOAS_DIR },
	{ "devices", N_DEVICES_DIR },
	{ "sources", N_SOURCES_DIR },
	{ NULL },
};

static const struct subdir ioas_dirs[] = {
	{ "windows", N_WINDOWS },
	{ "devices", N_IOAS_DEVS },
	{ "options", N_OPTIONS },
	{ NULL },
};

const struct dir_type dir_types[] = {
	[N_ROOT] = { root_attrs, root_dirs, FS_NO_OBJ, FS_NO_OBJ },
	[N_PLATFORM] = { platform_attrs, NULL, FS_NO_OBJ, FS_NO_OBJ },
	[N_IOAS_DIR] = { NULL, NULL, CORE_IOAS, FS_NO_OBJ },
	[N_DEVICES_DIR] = { NULL, NULL, CORE_DEVICE, FS_NO_OBJ },
	[N_SOURCES_DIR] = { NULL, NULL, CORE_SOURCE, FS_NO_OBJ },
	[N_IOAS] = { ioas_attrs, ioas_dirs, FS_NO_OBJ, CORE_IOAS },
	[N_WINDOWS] = { NULL, NULL, FS_NO_OBJ, CORE_IOAS },
	[N_WINDOW] = { window_attrs, NULL, FS_NO_OBJ, CORE_IOAS },
	[N_IOAS_DEVS] = { NULL, NULL, FS_NO_OBJ, CORE_IOAS },
	[N_OPTIONS] = { options_attrs, NULL, FS_NO_OBJ, CORE_IOAS },
	[N_DEVICE] = { device_attrs, NULL, FS_NO_OBJ, CORE_DEVICE },
	[N_SOURCE] = { source_attrs, NULL, FS_NO_OBJ, CORE_SOURCE },
	[N_ATTR] = { NULL, NULL, FS_NO_OBJ, FS_NO_OBJ },
	[N_LINK] = { NULL, NULL, FS_NO_OBJ, FS_NO_OBJ }, /* owner: node_object */
};

const enum nkind obj_dir[CORE_OBJ_KINDS] = {
	[CORE_IOAS] = N_IOAS,
	[CORE_DEVICE] = N_DEVICE,
	[CORE_SOURCE] = N_SOURCE,
};
