#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A restart after a crash works by itself (issue 19 item 9). A daemon killed with SIGKILL
# leaves its mount behind with the connection aborted, and every access to the mount point
# fails with ENOTCONN, libfuse's own check before mounting included; the next daemon clears
# that dead mount, since it is an ioasfs one, says so, and mounts as usual. A dead mount of
# another file system is not cleared: the start fails and names it. As root the daemon
# detaches with umount2(); as a user it runs fusermount3 -uz, tested when nobody may open
# /dev/fuse.
. "${TESTLIB:-$(dirname "$0")/lib.sh}" || exit 99
export LC_ALL=C

# mounts_at DIR: how many mounts /proc/self/mountinfo has at DIR (no space in it, no escapes)
mounts_at() { awk -v d="$1" '$5 == d' /proc/self/mountinfo | wc -l; }

# crash [AS...]: kill -9 the daemon, wait (20 s at most) until it is gone, and check that its
# mount is left dead: stat (as AS, when given) gets ENOTCONN. Leaves PID empty.
crash() {
	local old=$PID deadline=$((SECONDS + 20)) out
	kill -9 "$old"
	while kill -0 "$old" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
		sleep 0.1
	done
	if kill -0 "$old" 2>/dev/null; then
		fail "the daemon outlives kill -9 by 20 s"
		finish
	fi
	wait "$old" 2>/dev/null
	PID=
	out=$("$@" stat "$M" 2>&1)
	expect_match "after kill -9 the mount is dead: stat fails with ENOTCONN" <(printf '%s\n' "$out") \
		"Transport endpoint is not connected"
}

# restart DESC [OPTIONS]: mount_ioasfs over the dead mount; on failure clear it ourselves, so
# that the rest of the test and the clean-up find a directory
restart() {
	local n
	n=$(wc -l <"$WORK/daemon.log")
	if mount_ioasfs "${2:-}"; then
		pass "$1: the restart mounts"
	else
		fail "$1: the restart does not mount over the dead mount"
		umount -l "$M" 2>/dev/null || fusermount3 -uz "$M"
		finish
	fi
	expect_match "$1: it says so" <(tail -n +$((n + 1)) "$WORK/daemon.log") \
		"^ioasfs: MOUNT: cleared the dead mount of an earlier ioasfs at $M\$"
	expect_eq "$1: one mount at the mount point, not one over a dead one" "$(mounts_at "$M")" 1
}

# ---- as root (or whoever runs the suite): umount2(MNT_DETACH)
mount_ioasfs || finish
mkdir "$M/ioas/vm"
expect_eq "an IOAS before the crash" "$(ls "$M/ioas")" vm
crash
restart "as $(id -un)"
expect_match "status reads" "$M/status" "^backend "
expect_eq "the new daemon starts from nothing (state lived in the dead one)" "$(ls "$M/ioas")" ""
expect "and serves: mkdir ioas/vm2" ok mkdir "$M/ioas/vm2"
umount_ioasfs

# ---- as a user: fusermount3 -uz, which lets the user who mounted it clear it
if [ "$(id -u)" -ne 0 ]; then
	log "# the user sub-case needs root to switch to nobody: skipped"
elif ! setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c ': <>/dev/fuse' 2>/dev/null
then
	log "# nobody cannot open /dev/fuse here ($(stat -c %A /dev/fuse)): the user sub-case is skipped"
elif ! grep -Eq '^[[:space:]]*user_allow_other' /etc/fuse.conf 2>/dev/null; then
	# mount_ioasfs, as root, reads the mount: a user's needs allow_other for that
	log "# no user_allow_other in /etc/fuse.conf: the user sub-case is skipped"
else
	chmod 755 "$WORK"
	chown nobody "$M"
	IOASFS_BIN=$(share_prog "$IOASFS_BIN") # the build tree may be out of nobody's reach
	AS="setpriv --reuid=nobody --regid=nogroup --clear-groups"
	# valgrind's launcher and a user's mount: as in t-dma, this mount runs without it
	if ! IOASFS_VALGRIND='' IOASFS_WRAP=$AS mount_ioasfs allow_other; then
		fail "nobody cannot mount"
		finish
	fi
	$AS mkdir "$M/ioas/vm"
	# shellcheck disable=SC2086 # AS is a command of several words
	crash $AS
	IOASFS_VALGRIND='' IOASFS_WRAP=$AS restart "as nobody" allow_other
	expect_match "status reads (as nobody)" <($AS cat "$M/status") "^backend "
	umount_ioasfs
	chown root "$M"
fi

# ---- a dead mount of another FUSE file system is not ours: it stays, and the start fails.
# A fuse.other mount whose /dev/fuse descriptor is closed at once is one (root only).
if [ "$(id -u)" -ne 0 ]; then
	log "# a dead mount of another file system needs root to make: skipped"
elif ! mount -i -t fuse.other -o fd=3,rootmode=40000,user_id=0,group_id=0 other "$M" \
	3<>/dev/fuse; then
	fail "cannot make a dead fuse.other mount to test with"
else
	out=$(stat "$M" 2>&1)
	expect_match "a dead fuse.other mount" <(printf '%s\n' "$out") \
		"Transport endpoint is not connected"
	rc=0
	timeout 30 "$IOASFS_BIN" -f "$M" >"$WORK/other.out" 2>&1 || rc=$?
	if [ "$(mounts_at "$M")" -gt 1 ]; then
		fusermount3 -u "$M"
	fi
	expect_eq "the start over it fails: exit status" "$rc" 1
	expect_match "naming it" "$WORK/other.out" \
		"^ioasfs: MOUNT: $M: a dead mount of fuse\.other .*not ours to clear"
	expect_eq "and leaves it alone" \
		"$(awk -v d="$M" '$5 == d { sub(/.* - /, ""); print $1 }' /proc/self/mountinfo)" \
		fuse.other
	umount -l "$M"
fi
finish
