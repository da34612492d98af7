/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ioasfs: command line, backend and platform selection, mount, and the multithreaded FUSE
 * loop. Everything a request does happens in fs.c and below.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/kernel.h"
#include "util/mountinfo.h"
#include "util/opener.h"
#include "util/parse.h"
#include "fs/fs.h"

struct options {
	char *backend;
	char *platform;
	char *restore;
	char *max_mappings;
	int show_help;
	int show_version;
};

enum { KEY_ALLOW_OTHER = 1 };

#define OPT(t, p)                                                                                  \
	{                                                                                          \
		t, offsetof(struct options, p), 1                                                  \
	}
static const struct fuse_opt option_spec[] = {
	OPT("backend=%s", backend),
	OPT("platform=%s", platform),
	OPT("restore=%s", restore),
	OPT("max_mappings=%s", max_mappings),
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	OPT("-h", show_help),
	OPT("--help", show_help),
	OPT("-V", show_version),
	OPT("--version", show_version),
	FUSE_OPT_END,
};

/*
 * mount(8) and fstab call "ioasfs SOURCE MOUNTPOINT -o ...": the source names nothing here,
 * so of two non-option arguments the first is dropped.
 */
static bool source_given;

static void find_source(int argc, char *argv[])
{
	int nonopts = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o"))
			i++;
		else if (argv[i][0] != '-')
			nonopts++;
	}
	source_given = nonopts >= 2;
}

/* allow_other: seen, and passed on to the mount */
static bool allow_other;

static int drop_source(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	static int nonopts;

	if (key == KEY_ALLOW_OTHER)
		allow_other = true;
	if (key != FUSE_OPT_KEY_NONOPT)
		return 1;
	return nonopts++ == 0 && source_given ? 0 : 1;
}

static void usage(const char *prog)
{
	printf("usage: %s [-f] [-d] [-o OPTION[,OPTION...]] MOUNTPOINT\n"
	       "\n"
	       "ioasfs presents iommufd I/O address spaces as a filesystem.\n"
	       "\n"
	       "  -o backend=kernel|sim   default: kernel when /dev/iommu opens, else sim\n"
	       "  -o platform=NAME|FILE   sim only: x86-vtd (default), amd-vi, arm-smmuv3,\n"
	       "                          ppc64-papr, or a profile file\n"
	       "  -o allow_other          multi-user mode: objects belong to their makers\n"
	       "  -o restore=FILE         rebuild a saved tree (cat MOUNT/save) at start\n"
	       "  -o max_mappings=N       mappings one IOAS may hold (default 4194304)\n"
	       "  -f                      stay in the foreground\n"
	       "  -d                      debug output (implies -f)\n"
	       "  -h, --help              this text\n"
	       "  -V, --version           print the version\n"
	       "\n"
	       "Unmount with fusermount3 -u MOUNTPOINT or SIGTERM. See ioasfs(8), ioasfs(5).\n",
	       prog);
}

static int choose_backend(const struct options *o, struct platform *plat, struct backend **ret)
{
	char err[256] = "";
	int r;

	if (o->backend && strcmp(o->backend, "sim") && strcmp(o->backend, "kernel")) {
		fprintf(stderr, "ioasfs: backend=%s: expected kernel or sim\n", o->backend);
		return -EINVAL;
	}
	if (!o->backend || !strcmp(o->backend, "kernel")) {
		r = kernel_backend_create(NULL, NULL, ret);
		if (r == 0) {
			if (o->platform) {
				fprintf(stderr,
					"ioasfs: platform= is for the sim backend; the kernel "
					"backend reports the platform of its devices\n");
				(*ret)->ops->close(*ret);
				return -EINVAL;
			}
			(*ret)->ops->platform(*ret, plat);
			return 0;
		}
		if (o->backend) {
			fprintf(stderr, "ioasfs: backend=kernel: /dev/iommu: %s\n", strerror(-r));
			return r;
		}
	}
	r = platform_load(o->platform ? o->platform : "x86-vtd", plat, err, sizeof(err));
	if (r < 0) {
		/* err names the file and line already */
		fprintf(stderr, "ioasfs: platform: %s\n", err);
		return r;
	}
	return sim_backend_create(plat, ret);
}

/*
 * The type of the mount MNT (absolute, resolved) names, from the mount of an O_PATH
 * descriptor rather than by comparing paths, so that of mounts stacked there the top one, the
 * one stat() reached, is the one looked at. O_PATH reaches a dead mount's root without asking
 * its daemon. -ENOENT: no such mount; -EXDEV: MNT is inside a mount, not at its root (a
 * cached entry of a dead mount still resolves), and detaching that mount would take more
 * than the mount point.
 */
static int mount_type(const char *mnt, char *type, size_t len)
{
	struct fd_mount m;
	int fd, self, r;

	fd = open(mnt, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	self = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = self < 0 ? -errno : fd_mount(self, fd, &m);
	if (self >= 0)
		close(self);
	close(fd);
	if (r == 0 && strcmp(m.point, mnt))
		r = -EXDEV;
	if (r == 0)
		snprintf(type, len, "%s", m.type);
	return r;
}

/* fusermount3 -uz MNT, for a daemon without the right to umount2(): 0 when it exits 0 */
static int fusermount_detach(const char *mnt)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-uz", "--", mnt, (char *)NULL);
		fprintf(stderr, "ioasfs: MOUNT: fusermount3: %s\n", strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EPERM;
}

/*
 * A daemon killed with SIGKILL leaves its mount behind, its connection aborted: every access
 * to the mount point fails with ENOTCONN, libfuse's stat() before mounting included, until
 * someone unmounts it. A restart after a crash must work by itself, so a dead mount of an
 * earlier ioasfs at MNT is detached first (lazily: a process still inside gets ENOTCONN, as
 * it did). Another file system's dead mount is not ours to remove; that is refused, naming
 * it. Mounts stacked there are cleared one by one, a few at most.
 */
static int clear_dead_mount(const char *mnt)
{
	char type[64];
	struct stat st;
	int r;

	for (int i = 0; i < 8; i++) {
		if (stat(mnt, &st) == 0 || errno != ENOTCONN)
			return 0;
		r = mount_type(mnt, type, sizeof(type));
		if (r == -EXDEV) {
			fprintf(stderr,
				"ioasfs: MOUNT: %s lies inside a dead mount (its daemon is gone)\n",
				mnt);
			return r;
		}
		if (r < 0) {
			fprintf(stderr,
				"ioasfs: MOUNT: %s: %s, and no mount of it is in "
				"/proc/self/mountinfo: %s\n",
				mnt, strerror(ENOTCONN), strerror(-r));
			return r;
		}
		if (strcmp(type, "fuse.ioasfs")) {
			fprintf(stderr,
				"ioasfs: MOUNT: %s: a dead mount of %s (its daemon is gone) is "
				"in the way, not ours to clear; unmount it (fusermount3 -u %s)\n",
				mnt, type, mnt);
			return -ENOTCONN;
		}
		/* umount2() wants CAP_SYS_ADMIN; fusermount3 lets the user who mounted it */
		r = umount2(mnt, MNT_DETACH) == 0 ? 0 : -errno;
		if (r == -EPERM)
			r = fusermount_detach(mnt);
		if (r < 0) {
			fprintf(stderr,
				"ioasfs: MOUNT: %s: cannot clear the dead mount of an earlier "
				"ioasfs: %s\n",
				mnt, strerror(-r));
			return r;
		}
		fprintf(stderr,
			"ioasfs: MOUNT: cleared the dead mount of an earlier ioasfs at %s\n", mnt);
	}
	return 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts = { 0 };
	struct fuse_loop_config *cfg = NULL;
	struct options o = { 0 };
	struct platform plat;
	struct backend *be = NULL;
	struct core *core = NULL;
	struct fs fs = { 0 };
	int ret = 1, r;

	find_source(argc, argv);
	if (fuse_opt_parse(&args, &o, option_spec, drop_source) == -1)
		return 1;
	if (o.show_help) {
		usage(argv[0]);
		ret = 0;
		goto out_args;
	}
	if (o.show_version) {
		printf("ioasfs %s (libfuse %s)\n", PACKAGE_VERSION, fuse_pkgversion());
		ret = 0;
		goto out_args;
	}
	if (fuse_parse_cmdline(&args, &opts) != 0)
		goto out_args;
	if (!opts.mountpoint) {
		usage(argv[0]);
		goto out_args;
	}
	/* before any thread, descriptor or memory a client's open must not see (opener.h) */
	r = opener_start();
	if (r < 0) {
		fprintf(stderr, "ioasfs: cannot start the opener process: %s\n", strerror(-r));
		goto out_args;
	}
	if (choose_backend(&o, &plat, &be) < 0)
		goto out_args;
	r = core_create(be, &plat, &core);
	if (r < 0)
		goto out_backend;
	core_set_multiuser(core, allow_other);
	if (o.max_mappings) {
		uint64_t v;

		if (parse_size(o.max_mappings, &v) < 0 || core_set_max_mappings(core, v) < 0) {
			fprintf(stderr, "ioasfs: max_mappings=%s: expected 1 .. 4294967295\n",
				o.max_mappings);
			goto out_core;
		}
	}
	if (o.restore) {
		char why[1024];

		r = core_restore(core, o.restore, why, sizeof(why));
		if (r < 0) {
			fprintf(stderr, "ioasfs: restore: %s\n", why);
			goto out_core;
		}
	}
	if (fs_init(&fs, core, opts.mountpoint) < 0) {
		fprintf(stderr, "ioasfs: %s: cannot resolve the mount point\n", opts.mountpoint);
		goto out_core;
	}
	fs.multiuser = allow_other;
	kernel_probe_uring_cmd(fs.uring_cmd, sizeof(fs.uring_cmd));
	/* attribute modes are enforced by the kernel; names as the fstab line expects */
	fuse_opt_add_arg(&args, "-odefault_permissions,fsname=ioasfs,subtype=ioasfs");
	fs.se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), &fs);
	if (!fs.se)
		goto out_fs;
	if (fuse_set_signal_handlers(fs.se) != 0)
		goto out_session;
	if (clear_dead_mount(fs.mountpoint) < 0)
		goto out_signals;
	if (fuse_session_mount(fs.se, opts.mountpoint) != 0)
		goto out_signals;
	fuse_daemonize(opts.foreground);
	if (opts.singlethread) {
		ret = fuse_session_loop(fs.se);
	} else {
		cfg = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(cfg, opts.clone_fd);
		fuse_loop_cfg_set_max_threads(cfg, opts.max_threads);
		ret = fuse_session_loop_mt(fs.se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	/*
	 * libfuse returns the number of the signal that ended the loop (its handler stores it
	 * as the session error): SIGTERM, SIGINT and SIGHUP are the ways to stop, not failures.
	 */
	ret = ret == SIGTERM || ret == SIGINT || ret == SIGHUP || ret == 0 ? 0 : 1;
	fuse_session_unmount(fs.se);
out_signals:
	fuse_remove_signal_handlers(fs.se);
out_session:
	fuse_session_destroy(fs.se);
out_fs:
	fs_fini(&fs);
out_core:
	core_destroy(core);
out_backend:
	be->ops->close(be);
out_args:
	free(opts.mountpoint);
	free(o.backend);
	free(o.platform);
	free(o.restore);
	free(o.max_mappings);
	fuse_opt_free_args(&args);
	return ret;
}
