/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The opener process (opener.h). The daemon, root, cannot open a client's path in one of
 * its own threads with only the file-system ids switched: setfsuid leaves CAP_SYS_ADMIN,
 * so /proc/self/map_files/ of the daemon would hand any user another user's memory, and
 * /proc/self/fd/ the daemon's descriptors. A thread cannot leave the daemon's /proc/self.
 *
 * So opener_start forks, once and early, a small process (the opener) that reads requests
 * from a SOCK_SEQPACKET socket; each request carries the credentials, the path and one end
 * of a socket pair made for that request. For each, the opener forks a child which closes
 * every descriptor but that end, takes the credentials with setgroups/setresgid/setresuid
 * (which clear every capability and make it undumpable), resolves the path O_PATH, checks
 * what it found, opens it again through /proc/self/fd (its own descriptor, so the kernel's
 * permission checks apply to the client's identity), and sends the descriptor back with
 * SCM_RIGHTS. The opener never waits on a child; a child that cannot resolve the path
 * within OPENER_TIMEOUT_S is killed by its alarm, and the daemon's thread stops waiting at
 * the same time. The opener ends when the daemon's end of its socket closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/magic.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/opener.h"

#define OPENER_GROUPS 64

struct req {
	uint32_t uid, gid, ngroups, kind;
	uint32_t groups[OPENER_GROUPS];
	char path[PATH_MAX];
};

struct reply {
	int32_t err;
	uint32_t why, writable;
	uint64_t size;
};

static int opener_fd = -1;

static pthread_mutex_t inflight_lock = PTHREAD_MUTEX_INITIALIZER;
static uid_t inflight[OPENER_MAX_INFLIGHT];
static bool inflight_used[OPENER_MAX_INFLIGHT];

bool opener_memory_fs(uint64_t f_type)
{
	return f_type == TMPFS_MAGIC || f_type == RAMFS_MAGIC || f_type == HUGETLBFS_MAGIC;
}

const char *opener_why_str(enum opener_why why)
{
	switch (why) {
	case OPENER_NOT_REG:
		return "is not a non-empty regular file";
	case OPENER_FUSE:
		return "is on a FUSE file system (its pages would fault through another process, "
		       "or back into this one): use tmpfs, hugetlbfs or a memfd";
	case OPENER_NOT_MEMORY:
		return "is not in memory (the daemon would wait on its I/O with others waiting on "
		       "it): use tmpfs, hugetlbfs or a memfd";
	case OPENER_BUSY:
		return "too many opens in progress; try again";
	case OPENER_TIMEOUT:
		return "did not resolve in time";
	case OPENER_GONE:
		return "the daemon's opener process is gone";
	default:
		return "";
	}
}

/* 0, or -errno of the first credential call that failed. */
static int become(const struct req *q)
{
	gid_t groups[OPENER_GROUPS];

	if (geteuid() != 0 || q->uid == 0)
		return 0; /* an unprivileged daemon opens as itself; root stays root */
	for (uint32_t i = 0; i < q->ngroups; i++)
		groups[i] = q->groups[i];
	if (setgroups(q->ngroups, groups) < 0 || setresgid(q->gid, q->gid, q->gid) < 0 ||
	    setresuid(q->uid, q->uid, q->uid) < 0)
		return -errno;
	return 0;
}

static void resolve(const struct req *q, struct reply *rep, int *ret_fd)
{
	char self[64];
	struct statfs sfs;
	struct stat st, st2;
	int pfd, fd = -1;

	rep->why = OPENER_OPEN;
	rep->err = become(q);
	if (rep->err < 0)
		return;
	pfd = open(q->path, O_PATH | O_CLOEXEC);
	if (pfd < 0) {
		rep->err = -errno;
		return;
	}
	if (fstat(pfd, &st) < 0 || fstatfs(pfd, &sfs) < 0) {
		rep->err = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rep->err = -EISDIR;
		goto out;
	}
	rep->why = OPENER_NOT_REG;
	rep->err = -EINVAL;
	if (q->kind == OPENER_CDEV ? !S_ISCHR(st.st_mode) : !S_ISREG(st.st_mode))
		goto out;
	if (sfs.f_type == FUSE_SUPER_MAGIC) {
		rep->why = OPENER_FUSE;
		goto out;
	}
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	rep->why = OPENER_OPEN;
	rep->writable = 1;
	fd = open(self, O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && q->kind == OPENER_FILE &&
	    (errno == EACCES || errno == EROFS || errno == EPERM)) {
		rep->writable = 0;
		fd = open(self, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	}
	if (fd < 0 || fstat(fd, &st2) < 0) {
		rep->err = -errno;
		goto out;
	}
	/* a reopen names the same inode; this only makes sure */
	if (st2.st_dev != st.st_dev || st2.st_ino != st.st_ino) {
		rep->err = -EAGAIN;
		goto out;
	}
	if (q->kind == OPENER_FILE && st2.st_size <= 0) {
		rep->why = OPENER_NOT_REG;
		rep->err = -EINVAL;
		goto out;
	}
	/* after the open, whose errors come first, as if the path were opened for I/O */
	if (q->kind == OPENER_FILE && !opener_memory_fs((uint64_t)sfs.f_type)) {
		rep->why = OPENER_NOT_MEMORY;
		rep->err = -EINVAL;
		goto out;
	}
	rep->size = (uint64_t)st2.st_size;
	rep->why = OPENER_OK;
	rep->err = 0;
	*ret_fd = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	close(pfd);
}

/* One message, and descriptor fd with it unless it is -1: 0 or -errno. */
static int send_with_fd(int sock, const void *buf, size_t len, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* The child for one request: answers on sock, then exits. */
static _Noreturn void serve(const struct req *q, int sock)
{
	struct reply rep = { 0 };
	sigset_t alrm;
	int fd = -1;

	/* nothing of the daemon's may be reachable through /proc/self/fd */
	if (sock != 0) {
		dup2(sock, 0);
		sock = 0;
	}
	syscall(SYS_close_range, 1u, ~0u, 0u);
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigprocmask(SIG_UNBLOCK, &alrm, NULL);
	signal(SIGALRM, SIG_DFL);
	alarm(OPENER_TIMEOUT_S);
	resolve(q, &rep, &fd);
	send_with_fd(sock, &rep, sizeof(rep), fd);
	_exit(0);
}

/* One message and at most one descriptor: the byte count, or -errno. */
static ssize_t recv_with_fd(int sock, void *buf, size_t len, int *ret_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;
	ssize_t n;

	*ret_fd = -1;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	cm = CMSG_FIRSTHDR(&mh);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(ret_fd, CMSG_DATA(cm), sizeof(int));
	return n;
}

static _Noreturn void opener_main(int sock)
{
	struct req q;
	int rfd;

	if (sock != 0) {
		dup2(sock, 0);
		sock = 0;
	}
	syscall(SYS_close_range, 1u, ~0u, 0u);
	signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
	signal(SIGTERM, SIG_IGN); /* the daemon ends us by closing its end, after its last open */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	for (;;) {
		ssize_t n = recv_with_fd(sock, &q, sizeof(q), &rfd);

		if (n == 0 || (n < 0 && n != -ENOMEM && n != -ENOBUFS))
			_exit(0);
		if (n == (ssize_t)sizeof(q) && rfd >= 0 && q.ngroups <= OPENER_GROUPS &&
		    memchr(q.path, '\0', sizeof(q.path)) && fork() == 0) {
			signal(SIGCHLD, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			signal(SIGHUP, SIG_DFL);
			serve(&q, rfd);
		}
		if (rfd >= 0)
			close(rfd);
	}
}

int opener_start(void)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (pid == 0)
		opener_main(sv[1]);
	close(sv[1]);
	opener_fd = sv[0];
	return 0;
}

static bool inflight_get(uid_t uid)
{
	int mine = 0, slot = -1;

	pthread_mutex_lock(&inflight_lock);
	for (int i = 0; i < OPENER_MAX_INFLIGHT; i++) {
		if (!inflight_used[i])
			slot = i;
		else if (inflight[i] == uid)
			mine++;
	}
	if (slot >= 0 && mine < OPENER_MAX_PER_UID) {
		inflight_used[slot] = true;
		inflight[slot] = uid;
	} else {
		slot = -1;
	}
	pthread_mutex_unlock(&inflight_lock);
	return slot >= 0;
}

static void inflight_put(uid_t uid)
{
	pthread_mutex_lock(&inflight_lock);
	for (int i = 0; i < OPENER_MAX_INFLIGHT; i++) {
		if (inflight_used[i] && inflight[i] == uid) {
			inflight_used[i] = false;
			break;
		}
	}
	pthread_mutex_unlock(&inflight_lock);
}

/* Hand the request and sv[1] to the opener, or fork the child here: the child's pid or 0. */
static int dispatch(const struct req *q, int sv[2], pid_t *ret_pid)
{
	pid_t pid;

	*ret_pid = 0;
	if (opener_fd >= 0)
		return send_with_fd(opener_fd, q, sizeof(*q), sv[1]);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		serve(q, sv[1]);
	*ret_pid = pid;
	return 0;
}

int opener_open(const struct opener_cred *cr, const char *path, enum opener_kind kind,
		struct opener_file *ret)
{
	struct req *q;
	struct reply rep;
	struct pollfd pfd;
	int sv[2], fd = -1, r;
	pid_t pid = 0;
	ssize_t n;

	ret->fd = -1;
	ret->why = OPENER_OPEN;
	if (strlen(path) >= sizeof(q->path))
		return -ENAMETOOLONG;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->uid = cr->uid;
	q->gid = cr->gid;
	q->kind = kind;
	q->ngroups = cr->ngroups < OPENER_GROUPS ? (uint32_t)cr->ngroups : OPENER_GROUPS;
	for (uint32_t i = 0; i < q->ngroups; i++)
		q->groups[i] = cr->groups[i];
	strcpy(q->path, path);
	if (!inflight_get(cr->uid)) {
		free(q);
		ret->why = OPENER_BUSY;
		return -EBUSY;
	}
	r = socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ? -errno : 0;
	if (r == 0) {
		r = dispatch(q, sv, &pid);
		close(sv[1]);
		if (r < 0)
			ret->why = OPENER_GONE, r = -EIO;
	}
	free(q);
	if (r < 0)
		goto out;
	pfd = (struct pollfd){ .fd = sv[0], .events = POLLIN };
	do
		r = poll(&pfd, 1, (OPENER_TIMEOUT_S + 1) * 1000);
	while (r < 0 && errno == EINTR);
	n = r > 0 ? recv_with_fd(sv[0], &rep, sizeof(rep), &fd) : 0;
	close(sv[0]);
	if (pid > 0) {
		if (r <= 0)
			kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (n != (ssize_t)sizeof(rep)) {
		/* no answer: the child's alarm killed it, or it never ran */
		ret->why = OPENER_TIMEOUT;
		r = -ETIMEDOUT;
	} else if (rep.err < 0 || (rep.err == 0 && fd < 0)) {
		ret->why =
		    rep.err == 0 || rep.why > OPENER_GONE ? OPENER_GONE : (enum opener_why)rep.why;
		r = rep.err < 0 ? rep.err : -EIO;
	} else {
		ret->fd = fd;
		ret->writable = rep.writable;
		ret->size = rep.size;
		ret->why = OPENER_OK;
		fd = -1;
		r = 0;
	}
	if (fd >= 0)
		close(fd);
out:
	inflight_put(cr->uid);
	return r;
}
