# SPDX-License-Identifier: LGPL-2.1-or-later
# Shell-level test library: mounts a real ioasfs on a temporary directory and asserts what a
# user sees: the errno a system call gets (through fsop), file contents, and lines in
# `errors`. Sourced by tests/fs/t-*.sh; run by `make check` with IOASFS_BIN, FSOP set.
# With IOASFS_VALGRIND=1 the daemon runs under valgrind and any error or leak fails the test;
# a daemon built with sanitizers fails it on any report in its log (check_sanitizers).

set -u
: "${IOASFS_BIN:?IOASFS_BIN must point at the ioasfs binary}"
: "${FSOP:?FSOP must point at tests/fs/fsop}"
TESTDIR=$(cd "$(dirname "$0")" && pwd)
PROFILES=$TESTDIR/profiles

# on tmpfs: a file source must be memory (ioasfs.5), and the tests' files are sources
WORK=$(mktemp -d /dev/shm/ioasfs-test.XXXXXX)
M=$WORK/mnt
mkdir -p "$M"
PID=
NFAIL=0
NPASS=0
TNAME=$(basename "$0" .sh)

log() { printf '%s\n' "$*"; }
pass() { NPASS=$((NPASS + 1)); log "ok - $*"; }
fail() { NFAIL=$((NFAIL + 1)); log "not ok - $*"; }

# mount_ioasfs [OPTIONS...]: mount with -o OPTIONS, wait until the root answers.
# IOASFS_WRAP, if set, is a command (words) the daemon (and its valgrind) runs under.
mount_ioasfs() {
	local opts=${1:-}
	# shellcheck disable=SC2086
	if [ -n "${IOASFS_VALGRIND:-}" ]; then
		${IOASFS_WRAP:-} valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
			--errors-for-leak-kinds=definite,indirect --log-file="$WORK/valgrind.%p" \
			"$IOASFS_BIN" -f ${opts:+-o "$opts"} "$M" 2>>"$WORK/daemon.log" &
	else
		${IOASFS_WRAP:-} "$IOASFS_BIN" -f ${opts:+-o "$opts"} "$M" 2>>"$WORK/daemon.log" &
	fi
	PID=$!
	local i
	for i in $(seq 1 600); do
		if mountpoint -q "$M" && [ -r "$M/status" ]; then
			return 0
		fi
		if ! kill -0 "$PID" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	log "ioasfs did not mount ($opts):"
	cat "$WORK/daemon.log"
	PID=
	return 1
}

# umount_ioasfs: unmount, and check the daemon exited 0 (and valgrind was clean).
umount_ioasfs() {
	[ -n "$PID" ] || return 0
	fusermount3 -u "$M" 2>/dev/null || umount -l "$M"
	local rc=0
	wait "$PID" || rc=$?
	PID=
	if [ "$rc" -ne 0 ]; then
		fail "daemon exit status $rc"
		tail -20 "$WORK/daemon.log"
	fi
	check_sanitizers
	if [ -n "${IOASFS_VALGRIND:-}" ]; then
		local f
		for f in "$WORK"/valgrind.*; do
			[ -e "$f" ] || continue
			# valgrind 3.19 does not know pidfd_open/pidfd_getfd: it answers ENOSYS, which
			# the daemon handles (ioasfs.5, BATCH), and warns; that warning is no error
			sed -i -E '/^--[0-9]+-- (WARNING: unhandled amd64-linux syscall: 43[48]$|You may be able to write your own handler\.$|Read the file README_MISSING_SYSCALL_OR_IOCTL\.$|Nevertheless we consider this a bug\.  Please report$|it at http:\/\/valgrind\.org\/support\/bug_reports\.html\.$)/d' "$f"
			if [ -s "$f" ]; then
				fail "valgrind reported errors:"
				cat "$f"
			fi
			rm -f "$f"
		done
	fi
}

# check_sanitizers [FILE...]: a daemon built with -fsanitize=address,undefined (contrib/check)
# writes its reports to its log (daemon.log, or the FILEs a test gave other runs); any report
# fails the test, whether or not the daemon died of it. A file reported is moved aside, so
# each report fails once.
SAN_RE='ERROR: (Address|Leak)Sanitizer|runtime error:'
check_sanitizers() {
	local f
	[ $# -gt 0 ] || set -- "$WORK/daemon.log"
	for f in "$@"; do
		[ -s "$f" ] && grep -Eq "$SAN_RE" "$f" || continue
		fail "sanitizers reported in ${f##*/}:"
		grep -E -A12 "$SAN_RE" "$f" | head -40
		mv "$f" "$f.reported"
	done
}

cleanup() {
	if [ -n "$PID" ]; then
		fusermount3 -u "$M" 2>/dev/null || umount -l "$M" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

# finish: the closing line and the exit status automake reads.
finish() {
	umount_ioasfs
	check_sanitizers "$WORK"/*.log "$WORK"/*.err
	log "$TNAME: $NPASS passed, $NFAIL failed"
	[ "$NFAIL" -eq 0 ]
	exit $?
}

# expect DESC EXPECTED-STATUS fsop-args...: the first line fsop prints.
expect() {
	local desc=$1 want=$2
	shift 2
	local got
	got=$("$FSOP" "$@" | head -n 1)
	if [ "$got" = "$want" ]; then
		pass "$desc"
	else
		fail "$desc: expected $want, got $got"
	fi
}

# expect_out DESC EXPECTED-OUTPUT fsop-args...: everything after the status line.
expect_rdwr() {
	local desc=$1 want=$2
	shift 2
	local got
	got=$("$FSOP" rdwr "$@")
	if [ "$got" = "$want" ]; then
		pass "$desc"
	else
		fail "$desc: expected [$want], got [$got]"
	fi
}

# expect_file DESC FILE EXPECTED: cat FILE equals EXPECTED (trailing newline ignored).
expect_file() {
	local desc=$1 file=$2 want=$3 got
	got=$(cat "$file" 2>&1)
	if [ "$got" = "$want" ]; then
		pass "$desc"
	else
		fail "$desc: $file: expected [$want], got [$got]"
	fi
}

# expect_match DESC FILE REGEX: some line of FILE matches the extended regex.
expect_match() {
	local desc=$1 file=$2 re=$3
	if grep -Eq -- "$re" "$file"; then
		pass "$desc"
	else
		fail "$desc: no line of $file matches /$re/:"
		sed 's/^/    /' "$file" | tail -5
	fi
}

# expect_error DESC REGEX: the newest line of errors matches REGEX.
expect_error() {
	local desc=$1 re=$2 last
	last=$(tail -n 1 "$M/errors")
	if printf '%s\n' "$last" | grep -Eq -- "$re"; then
		pass "$desc (errors: ${last#* * })"
	else
		fail "$desc: newest errors line [$last] does not match /$re/"
	fi
}

# errcount: number of lines in errors (to see that a request added exactly one).
errcount() { wc -l <"$M/errors"; }

# snapshot: every readable file (except the error log, counters, the command files and the
# address space `dma`, whose reads are DMA, not state) and every link target.
snapshot() {
	(
		cd "$M" || exit 1
		find . -type l | sort | while read -r l; do printf '%s -> %s\n' "$l" "$(readlink "$l")"; done
		find . -type f ! -name errors ! -name map ! -name unmap ! -name copy ! -name dma | sort | while read -r f; do
			printf '== %s\n' "$f"
			if [ "${f##*/}" = stats ]; then grep -v '^errors ' "$f"; else cat "$f"; fi
		done
	)
}

# expect_same DESC WHAT BEFORE NOW: NOW equals BEFORE, else the head of their diff.
expect_same() {
	if [ "$4" = "$3" ]; then
		pass "$1: $2 unchanged"
	else
		fail "$1: $2 changed:"
		diff <(printf '%s\n' "$3") <(printf '%s\n' "$4") | head -20
	fi
}

# expect_unchanged DESC BEFORE: the tree reads exactly as BEFORE (a snapshot).
expect_unchanged() { expect_same "$1" tree "$2" "$(snapshot)"; }

# expect_eq DESC GOT WANT: a value computed by the test (readlink, ls) equals WANT.
expect_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1: expected [$3], got [$2]"
	fi
}

# share_prog PROG: the path of a copy of the built program PROG that other users can run,
# in $WORK/bin: the build tree may lie where they cannot go (a clone in root's home, mode
# 0700). A libtool wrapper is replaced by its program and the build tree's libraries.
share_prog() {
	local p=$1 name dir
	name=$(basename "$p")
	dir=$(dirname "$p")
	mkdir -p "$WORK/bin" "$WORK/lib"
	if [ -x "$dir/.libs/$name" ] && grep -q "libtool" "$p" 2>/dev/null; then
		cp "$dir/.libs/$name" "$WORK/bin/.$name"
		cp -P "${IOASFS_BUILDDIR:?}"/.libs/*.so* "$WORK/lib/"
		printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$WORK/lib" \
			"$WORK/bin/.$name" >"$WORK/bin/$name"
	else
		cp "$p" "$WORK/bin/$name"
	fi
	chmod -R a+rX "$WORK/bin" "$WORK/lib"
	chmod a+x "$WORK/bin/$name"
	printf '%s\n' "$WORK/bin/$name"
}

# two_users: users A (nobody) and B (daemon), switched to with asA / asB (setpriv, no
# supplementary groups), and expect_as; the test must run as root (else it is skipped).
# FSOP becomes a copy they can run.
two_users() {
	if [ "$(id -u)" -ne 0 ]; then
		log "$TNAME: needs root to mount for two users and to switch to them"
		exit 77
	fi
	A_UID=$(id -u nobody) || exit 99
	B_UID=$(id -u daemon) || exit 99
	A_GID=$(id -g nobody)
	B_GID=$(id -g daemon)
	# the users must reach the mount point, the test's files and its programs
	chmod 755 "$WORK"
	FSOP=$(share_prog "$FSOP")
}
asA() { setpriv --reuid="$A_UID" --regid="$A_GID" --clear-groups "$@"; }
asB() { setpriv --reuid="$B_UID" --regid="$B_GID" --clear-groups "$@"; }

# expect_as USER DESC EXPECTED fsop-args...: like expect, as asA or asB
expect_as() {
	local who=$1 desc=$2 want=$3 got
	shift 3
	got=$("$who" "$FSOP" "$@" | head -n 1)
	if [ "$got" = "$want" ]; then
		pass "$desc"
	else
		fail "$desc: expected $want, got $got"
	fi
}

# a_holds FILE: a 64 KiB file of A's, mode 0600, starting "A-FILE-BYTES", held open as
# descriptor 3 by a process of A's whose pid is APID (setpriv itself, not asA, a function:
# APID must be the process that holds the descriptor)
a_holds() {
	local i
	printf 'A-FILE-BYTES' >"$1"
	truncate -s 64K "$1"
	chown "$A_UID:$A_GID" "$1"
	chmod 600 "$1"
	setpriv --reuid="$A_UID" --regid="$A_GID" --clear-groups bash -c \
		"exec 3<>'$1'; exec sleep 60" &
	APID=$!
	for i in $(seq 1 50); do
		[ "$(readlink "/proc/$APID/fd/3" 2>/dev/null)" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
