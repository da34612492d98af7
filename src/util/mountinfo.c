/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The mount a descriptor is on (mountinfo.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/mountinfo.h"

/* mountinfo writes a space, tab, newline or backslash in a path as \ooo */
static void unescape_octal(char *s)
{
	char *d = s;

	for (; *s; s++, d++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*d = *s;
		}
	}
	*d = '\0';
}

static FILE *proc_file(int procfd, const char *name)
{
	int fd = openat(procfd, name, O_RDONLY | O_CLOEXEC);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "re");

	if (!f && fd >= 0)
		close(fd);
	return f;
}

int fd_mount(int procfd, int fdnum, struct fd_mount *ret)
{
	char name[32], *line = NULL, *save, *tok;
	unsigned long mnt_id = 0, id;
	bool found = false;
	size_t cap = 0;
	FILE *f;
	int r = -ENOENT;

	snprintf(name, sizeof(name), "fdinfo/%d", fdnum);
	f = proc_file(procfd, name);
	if (!f)
		return errno == ENOENT ? -EBADF : -errno;
	while (!found && getline(&line, &cap, f) > 0)
		found = sscanf(line, "mnt_id: %lu", &mnt_id) == 1;
	fclose(f);
	f = found ? proc_file(procfd, "mountinfo") : NULL;
	if (!f) {
		free(line);
		return found ? -errno : -EIO;
	}
	/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS */
	while (r == -ENOENT && getline(&line, &cap, f) > 0) {
		tok = strtok_r(line, " \n", &save);
		if (!tok || sscanf(tok, "%lu", &id) != 1 || id != mnt_id)
			continue;
		for (int i = 0; i < 4 && tok; i++)
			tok = strtok_r(NULL, " \n", &save);
		if (!tok)
			break;
		unescape_octal(tok);
		snprintf(ret->point, sizeof(ret->point), "%s", tok);
		while ((tok = strtok_r(NULL, " \n", &save)) && strcmp(tok, "-"))
			;
		tok = tok ? strtok_r(NULL, " \n", &save) : NULL;
		if (tok) {
			snprintf(ret->type, sizeof(ret->type), "%s", tok);
			r = 0;
		} else {
			r = -EIO;
		}
	}
	free(line);
	fclose(f);
	return r;
}

bool mount_is_fuse(const char *type)
{
	return !strcmp(type, "fuse") || !strncmp(type, "fuse.", 5) || !strcmp(type, "fuseblk");
}
