/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libioasfs against a fake daemon that misbehaves on purpose, for the paths the real one
 * never takes: reads that return fewer completions than asked (the library must issue
 * follow-up reads and still deliver every completion exactly once), writes refused whole
 * (one completion per command of that write, with the write's errno and the command's own
 * user_data, iova and length), a daemon that stops returning completions and one that
 * returns a completion nobody asked for (the channel fails with EIO instead of hanging).
 *
 * The fake is a minimal FUSE low-level filesystem served by a child process: one file,
 * `batch`, whose sessions echo each command as a completion (res 0, the command's iova and
 * length) in a FIFO per open handle, as ioasfs does. A child, not a thread: a process that
 * dies with io_uring requests in flight on a FUSE file it serves itself never finishes
 * exiting, and memcheck runs one thread at a time. The test steers the fake through shared
 * memory. Needs /dev/fuse (skip otherwise). An alarm turns a hang into a failure.
 */
#define FUSE_USE_VERSION 312
#include <endian.h>
#include <errno.h>
#include <fuse_lowlevel.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#define RW (IOASFS_PROT_READ | IOASFS_PROT_WRITE)

/*
 * How the fake behaves: set by the test between phases (nothing in flight then), counted by
 * the fake; shared memory between the two processes.
 */
struct fake {
	unsigned read_cap;     /* at most this many completions per read (0: no cap) */
	unsigned refuse_every; /* refuse every Nth write with EINVAL (0: never) */
	bool lose;	       /* reads return nothing */
	bool forge;	       /* the next read returns a completion with a forged user_data */
	unsigned long writes, reads, short_reads, refused;
};

static struct fake *fake;

#define GET(f)	  __atomic_load_n(&fake->f, __ATOMIC_SEQ_CST)
#define SET(f, v) __atomic_store_n(&fake->f, v, __ATOMIC_SEQ_CST)
#define INC(f)	  __atomic_add_fetch(&fake->f, 1, __ATOMIC_SEQ_CST)

struct session {
	struct ioasfs_cqe *q;
	size_t head, len, cap;
	struct session *prev, *next; /* all open sessions: RELEASE may come after SIGTERM */
};

static struct session sessions = { .prev = &sessions, .next = &sessions };

static void session_free(struct session *s)
{
	s->prev->next = s->next;
	s->next->prev = s->prev;
	free(s->q);
	free(s);
}

static void fake_stat(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		st->st_size = 1ll << 40; /* io_uring reads past i_size would return 0 */
	}
}

static void fake_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { .ino = 2 };

	if (parent != FUSE_ROOT_ID || strcmp(name, "batch"))
		return (void)fuse_reply_err(req, ENOENT);
	fake_stat(2, &e.attr);
	fuse_reply_entry(req, &e);
}

static void fake_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	fake_stat(ino, &st);
	fuse_reply_attr(req, &st, 0);
}

static void fake_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s)
		return (void)fuse_reply_err(req, ENOMEM);
	s->next = &sessions;
	s->prev = sessions.prev;
	s->prev->next = s;
	sessions.prev = s;
	fi->fh = (uintptr_t)s;
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

static void fake_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	session_free((struct session *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void fake_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct session *s = (struct session *)(uintptr_t)fi->fh;
	size_t n = size / sizeof(struct ioasfs_cmd);
	unsigned long nth;
	bool refuse;

	nth = INC(writes);
	refuse = GET(refuse_every) && nth % GET(refuse_every) == 0;
	if (refuse)
		INC(refused);
	if (refuse || !n || size % sizeof(struct ioasfs_cmd))
		return (void)fuse_reply_err(req, EINVAL);
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 1024;
		struct ioasfs_cqe *q;

		while (cap < s->len + n)
			cap *= 2;
		q = malloc(cap * sizeof(*q));
		if (!q)
			return (void)fuse_reply_err(req, ENOMEM);
		for (size_t i = 0; i < s->len; i++)
			q[i] = s->q[(s->head + i) % s->cap];
		free(s->q);
		s->q = q;
		s->cap = cap;
		s->head = 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct ioasfs_cmd c;
		struct ioasfs_cqe *e = &s->q[(s->head + s->len++) % s->cap];

		memcpy(&c, buf + i * sizeof(c), sizeof(c));
		*e = (struct ioasfs_cqe){ .user_data = c.user_data,
					  .iova = c.iova,
					  .length = c.length };
	}
	fuse_reply_write(req, size);
}

static void fake_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct session *s = (struct session *)(uintptr_t)fi->fh;
	size_t n = size / sizeof(struct ioasfs_cqe);
	struct ioasfs_cqe *out;
	bool forge;

	INC(reads);
	if (GET(read_cap) && n > GET(read_cap))
		n = GET(read_cap);
	if (GET(lose))
		n = 0;
	forge = GET(forge);
	SET(forge, false);
	if (n > s->len)
		n = s->len;
	if (n < size / sizeof(struct ioasfs_cqe))
		INC(short_reads);
	out = malloc(n ? n * sizeof(*out) : 1);
	if (!out)
		return (void)fuse_reply_err(req, ENOMEM);
	for (size_t i = 0; i < n; i++) {
		out[i] = s->q[s->head];
		s->head = (s->head + 1) % s->cap;
		s->len--;
	}
	if (forge && n)
		out[0].user_data = htole64(0x0123456789abcdefull);
	fuse_reply_buf(req, (const char *)out, n * sizeof(*out));
	free(out);
}

static const struct fuse_lowlevel_ops fake_ops = {
	.lookup = fake_lookup,
	.getattr = fake_getattr,
	.open = fake_open,
	.release = fake_release,
	.read = fake_read,
	.write = fake_write,
};

static void set_mode(unsigned read_cap, unsigned refuse_every, bool lose, bool forge)
{
	SET(read_cap, read_cap);
	SET(refuse_every, refuse_every);
	SET(lose, lose);
	SET(forge, forge);
	SET(writes, 0);
	SET(reads, 0);
	SET(short_reads, 0);
	SET(refused, 0);
}

/*
 * The fake daemon: mount on dir, say so on ready, serve until SIGTERM (or the test's death),
 * unmount. Exits 0, or 77 if it cannot mount.
 */
static int serve(const char *argv0, const char *dir, int ready)
{
	char *fargv[] = { (char *)argv0, "-o", "fsname=ioasfs-fake,subtype=ioasfs-fake", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_session *se;
	char ok = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	se = fuse_session_new(&args, &fake_ops, sizeof(fake_ops), NULL);
	if (se && fuse_set_signal_handlers(se) == 0 && fuse_session_mount(se, dir) == 0)
		ok = 1;
	if (write(ready, &ok, 1) != 1 || !ok)
		return T_EXIT_SKIP;
	close(ready);
	fuse_session_loop(se);
	while (sessions.next != &sessions)
		session_free(sessions.next);
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	fuse_opt_free_args(&args);
	return 0;
}

/* Submit and reap n map_fixed (iova i * 4K, user_data i) until nothing is pending. */
static void async_maps(const char *dir, const char *what, unsigned chunk, unsigned inflight,
		       unsigned n)
{
	struct ioasfs_batch_opts o = { chunk, inflight };
	struct ioasfs_cqe cqes[256];
	unsigned char *seen = calloc(n, 1);
	unsigned got = 0, bad = 0, dup = 0;
	struct ioasfs_batch *b;
	int r = ioasfs_batch_open(dir, &o, &b);

	if (!t_check(r == 0 && seen, "%s: open (%s)", what, t_errname(r)))
		goto out;
	for (unsigned i = 0; i < n && r == 0; i++)
		r = ioasfs_batch_map_fixed(b, i * 0x1000ull, "src", 0, 0x1000, RW, i);
	while (r >= 0 && ioasfs_batch_pending(b)) {
		r = ioasfs_batch_submit(b);
		if (r >= 0)
			r = ioasfs_batch_reap(b, cqes, 256, 1);
		for (int i = 0; i < r; i++) {
			const struct ioasfs_cqe *c = &cqes[i];

			if (c->user_data >= n || c->res || c->iova != c->user_data * 0x1000 ||
			    c->length != 0x1000) {
				bad++;
				continue;
			}
			dup += seen[c->user_data]++ != 0;
			got++;
		}
	}
	t_check(r >= 0 && got == n && !bad && !dup,
		"%s: %u of %u completions, %u bad, %u duplicate (%s)", what, got, n, bad, dup,
		t_errname(r < 0 ? r : 0));
	ioasfs_batch_close(b);
out:
	free(seen);
}

static void short_reads(const char *dir)
{
	struct ioasfs_batch_opts o = { 64, 4 };
	static struct ioasfs_cmd cmds[5000];
	static struct ioasfs_cqe cqes[5000];
	struct ioasfs_batch *b;
	unsigned bad = 0;
	int r;

	set_mode(7, 0, false, false);
	async_maps(dir, "reads capped at 7, chunk 64 x 4, submit/reap", 64, 4, 10000);
	t_check(GET(short_reads) > 0 && GET(reads) > GET(writes),
		"the fake answered short: %lu reads for %lu writes, %lu short", GET(reads),
		GET(writes), GET(short_reads));

	set_mode(1000, 0, false, false);
	async_maps(dir, "reads capped at 1000, largest chunk x 8", IOASFS_BATCH_MAX_CMDS, 8,
		   100000);

	set_mode(5, 0, false, false);
	r = ioasfs_batch_open(dir, &o, &b);
	if (!t_check(r == 0, "open (%s)", t_errname(r)))
		return;
	for (unsigned i = 0; i < 5000; i++)
		cmds[i] = t_cmd(IOASFS_OP_MAP_FIXED, RW, 0, 42, i * 0x1000ull, 0x1000, 0, "src");
	r = ioasfs_batch_run(b, cmds, 5000, cqes);
	for (unsigned i = 0; i < 5000; i++)
		bad += cqes[i].res || cqes[i].iova != i * 0x1000ull || cqes[i].user_data != 42;
	t_check(r == 0 && !bad && GET(short_reads),
		"run with reads capped at 5: every completion at its position (%s, %u bad, %lu "
		"short reads)",
		t_errname(r), bad, GET(short_reads));
	ioasfs_batch_close(b);
}

/* Every third write refused whole: its commands complete with EINVAL, the others with 0. */
static void refused(const char *dir)
{
	struct ioasfs_batch_opts o = { 100, 3 };
	static struct ioasfs_cmd cmds[3000];
	static struct ioasfs_cqe cqes[3000];
	unsigned ok = 0, einval = 0, bad = 0;
	struct ioasfs_batch *b;
	int r;

	set_mode(0, 3, false, false);
	r = ioasfs_batch_open(dir, &o, &b);
	if (!t_check(r == 0, "open (%s)", t_errname(r)))
		return;
	for (unsigned i = 0; i < 3000; i++)
		cmds[i] =
		    t_cmd(IOASFS_OP_MAP_FIXED, RW, 0, 1000000 + i, i * 0x1000ull, 0x1000, 0, "src");
	r = ioasfs_batch_run(b, cmds, 3000, cqes);
	for (unsigned i = 0; i < 3000; i++) {
		bad += cqes[i].user_data != 1000000 + i || cqes[i].iova != i * 0x1000ull ||
		       cqes[i].length != 0x1000;
		ok += cqes[i].res == 0;
		einval += cqes[i].res == -EINVAL;
	}
	t_check(r == 0 && !bad && einval == GET(refused) * 100 && ok + einval == 3000 &&
		    GET(refused) == 10,
		"run: %lu of %lu writes refused, %u commands EINVAL, %u ok, all with their own "
		"user_data/iova/length (%s, %u bad)",
		GET(refused), GET(writes), einval, ok, t_errname(r), bad);
	ioasfs_batch_close(b);
}

/* A daemon that stops answering, or answers nonsense: EIO for all, no hang. */
static void broken(const char *dir, bool lose, const char *what)
{
	struct ioasfs_batch_opts o = { 50, 2 };
	struct ioasfs_cqe cqes[300];
	unsigned eio = 0, total = 0;
	struct ioasfs_batch *b;
	int r;

	set_mode(0, 0, lose, !lose);
	r = ioasfs_batch_open(dir, &o, &b);
	if (!t_check(r == 0, "open (%s)", t_errname(r)))
		return;
	for (unsigned i = 0; i < 300; i++)
		ioasfs_batch_nop(b, i);
	while (ioasfs_batch_pending(b)) {
		r = ioasfs_batch_submit(b);
		if (r < 0)
			break;
		r = ioasfs_batch_reap(b, cqes, 300, 1);
		for (int i = 0; i < r; i++, total++)
			eio += cqes[i].res == -EIO;
	}
	t_check(r == -EIO && total == 100 && (lose ? eio == 100 : eio >= 50),
		"%s: the %u commands in flight complete (%u with EIO), then submit fails "
		"with EIO (%s); %u stay queued",
		what, total, eio, t_errname(r), ioasfs_batch_pending(b));
	ioasfs_batch_close(b);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/libioasfs-fake.XXXXXX";
	int ready[2], st = 0;
	char ok = 0;
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (access("/dev/fuse", R_OK | W_OK) < 0) {
		printf("SKIP: /dev/fuse: %s\n", strerror(errno));
		return T_EXIT_SKIP;
	}
	fake = mmap(NULL, sizeof(*fake), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fake == MAP_FAILED || !mkdtemp(dir) || pipe(ready) < 0) {
		perror("set-up");
		return T_EXIT_FAIL;
	}
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		_exit(serve(argv[0], dir, ready[1]));
	}
	close(ready[1]);
	if (pid < 0 || read(ready[0], &ok, 1) != 1 || !ok) {
		printf("SKIP: cannot mount a FUSE filesystem on %s\n", dir);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		rmdir(dir);
		return T_EXIT_SKIP;
	}
	close(ready[0]);
	alarm(120);

	short_reads(dir);
	refused(dir);
	broken(dir, true, "reads that return nothing");
	broken(dir, false, "a completion with a forged user_data");

	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	t_check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the fake daemon exits 0 (status 0x%x)", st);
	rmdir(dir);
	return t_exit();
}
