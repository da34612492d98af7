#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# make bench (run.sh), issue 19: one user's map+unmap latency while another user attacks an
# allow_other mount (tests/fs/t-hostile.sh shows each attack as a functional test). Victim A
# (nobody) maps and unmaps 4 KiB of its anon source in its IOAS for SECONDS, timing each pair
# (tests/bench/hostile victim); meanwhile user B (daemon) runs, in loops of its own:
#   baseline  nothing
#   attack 2  3 processes writing a path inside the mount (B's own dma) as a source path
#   attack 3  3 processes writing a 0444 FIFO of B's as a source path
#   attack 4  2 processes mapping by fd (batch MAP_FD) a file on disk and B's own dma
#   attack 5  writes of 65536 map lines into one IOAS until the mapping bound refuses them,
#             then unmap all; and mkdir of IOASes until B's share refuses them, then rmdir
#   attack 8  reads of `save` of a tree holding an IOAS of 200,000 mappings, while another
#             process makes and removes an IOAS in a loop
# Each attack runs on a fresh mount (sim backend, -o allow_other, on tmpfs). Prints
#   attack N: victim map+unmap n=N median=MSms p99=MSms max=MSms; attacker: COUNTS
#   attack N: verdict: ...   (max <= 50 ms or not; the errnos B's operations got)
# A benchmark, not a test: exit 0 whatever the latencies, but 1 if the victim ever got an
# error (or result) it should not have, or something hung or crashed. Everything has a
# deadline: a FUSE request still blocked past it aborts the connection (as t-hostile does),
# which fails the blocked operations instead of hanging; every process started here is
# killed by its id at the end, and the mount is unmounted.
# Environment: IOASFS_BIN, BENCH_HOSTILE; HOSTILE_SECONDS (victim seconds, default 3).
# shellcheck disable=SC2317,SC2016 # setup_N, start_N are called by name; sh -c '... "$1"'
set -u
: "${IOASFS_BIN:?}" "${BENCH_HOSTILE:?}"
H=$BENCH_HOSTILE
SECS=${HOSTILE_SECONDS:-3}
ASECS=$((SECS + 1)) # the attackers' loops: 0.5 s before the victim starts to 0.5 s after
LIMIT_MS=50
FILL=${HOSTILE_FILL:-200000} # attack 8: mappings in B's large IOAS (HOSTILE_FILL)
REFUSALS='^(ENOSPC|EACCES|EBUSY|EINVAL)$'

if [ "$(id -u)" -ne 0 ]; then
	echo "hostile: skipped (needs root, to mount for two users and to switch to them)"
	exit 0
fi
A=(setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups)
B=(setpriv --reuid="$(id -u daemon)" --regid="$(id -g daemon)" --clear-groups)
B_UID=$(id -u daemon)
B_GID=$(id -g daemon)

W=$(mktemp -d /dev/shm/ioasfs-hostile.XXXXXX)
chmod 755 "$W" # the users reach the mount point and the FIFO
M=$W/mnt
mkdir "$M"
PID=      # the daemon
VP=       # the victim
BG=()     # the attackers of the attack running
FAILED=0  # the victim got an error
BROKEN=0  # something hung or crashed

# abort_mount: abort this mount's FUSE connection (a process in a FUSE request ignores even
# SIGKILL); its pending and later requests fail with ENOTCONN.
abort_mount() {
	local minor
	minor=$(awk -v m="$M" '$5 == m { split($3, d, ":"); print d[2] }' /proc/self/mountinfo |
		tail -n 1)
	[ -n "$minor" ] || return 0
	[ -e /sys/fs/fuse/connections/"$minor" ] ||
		mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null
	echo 1 >/sys/fs/fuse/connections/"$minor"/abort 2>/dev/null
	echo "hostile: aborted the FUSE connection of $M" >&2
}

# gone PID SECS: wait at most SECS (may be fractional) for PID to end; 0 if it did
gone() {
	local end
	end=$(($(date +%s%N) + $(awk -v s="$2" 'BEGIN { printf "%.0f", s * 1e9 }')))
	while kill -0 "$1" 2>/dev/null; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# reap SECS PID...: let each end within SECS s from now, else abort the mount and kill it; 1 if
# any had to be killed
reap() {
	local p rc=0 end=$(($(date +%s) + $1))
	shift
	for p in "$@"; do
		gone "$p" $((end - $(date +%s) > 0 ? end - $(date +%s) : 0)) && continue
		rc=1
		echo "hostile: process $p ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)) still" \
			"runs past its deadline" >&2
		abort_mount
		gone "$p" 2 || kill -9 "$p" 2>/dev/null # it may still say what it got
		gone "$p" 5 || echo "hostile: process $p does not die" >&2
	done
	for p in "$@"; do wait "$p" 2>/dev/null; done
	return $rc
}

# within SECS CMD...: run CMD, at most SECS seconds (reap's rules); its status, 124 if killed
within() {
	local secs=$1 p
	shift
	"$@" &
	p=$!
	if ! gone "$p" "$secs"; then
		abort_mount
		kill -9 "$p" 2>/dev/null
		gone "$p" 5
		wait "$p" 2>/dev/null
		return 124
	fi
	wait "$p"
}

# start LABEL CMD...: an attacker in the background, as B; its counts to $W/att.LABEL.K
start() {
	local label=$1
	shift
	"${B[@]}" "$H" "$@" >"$W/att.$label.${#BG[@]}" 2>&1 &
	BG+=($!)
}

mount_fs() {
	local _
	"$IOASFS_BIN" -f -o allow_other,backend=sim "$M" 2>>"$W/daemon.log" &
	PID=$!
	for _ in $(seq 1 200); do
		mountpoint -q "$M" && [ -r "$M/status" ] && return 0
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "hostile: ioasfs did not mount:" >&2
	tail -5 "$W/daemon.log" >&2
	return 1
}

# unmount_fs: unmount, the daemon exits 0 within 20 s, or it is a breakage
unmount_fs() {
	local rc=0
	[ -n "$PID" ] || return 0
	fusermount3 -u "$M" 2>/dev/null || umount -l "$M" 2>/dev/null
	if ! gone "$PID" 20; then
		echo "hostile: the daemon did not exit within 20 s of its unmount" >&2
		abort_mount
		kill -9 "$PID" 2>/dev/null
		fusermount3 -u "$M" 2>/dev/null || umount -l "$M" 2>/dev/null
		BROKEN=1
	fi
	wait "$PID" 2>/dev/null || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "hostile: the daemon exited with status $rc:" >&2
		tail -5 "$W/daemon.log" >&2
		BROKEN=1
	fi
	PID=
}

cleanup() {
	local p
	for p in $VP "${BG[@]}"; do kill "$p" 2>/dev/null; done
	[ -z "$VP${BG[*]}" ] || reap 5 ${VP:+"$VP"} "${BG[@]}"
	unmount_fs
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# as WHO CMD...: a set-up step as A or B, within 60 s; a failure is a breakage
as() {
	local who=$1
	shift
	local -n u=$who
	within 60 "${u[@]}" "$@" && return 0
	echo "hostile: set-up step failed: $who $*" >&2
	BROKEN=1
	return 1
}

# the objects every attack starts from: A's IOAS v and anon source s; B's IOAS b and anon
# source sb
setup_common() {
	as A mkdir "$M/ioas/v" "$M/sources/s" &&
		as A sh -c 'echo "anon 4K" >"$1"' sh "$M/sources/s/path" &&
		as B mkdir "$M/ioas/b" "$M/sources/sb" &&
		as B sh -c 'echo "anon 4K" >"$1"' sh "$M/sources/sb/path"
}

setup_baseline() { :; }
start_baseline() { :; }

setup_2() { as B mkdir "$M/sources/s2"; }
start_2() {
	local _
	for _ in 1 2 3; do
		start path-in-mount attr "$ASECS" "$M/sources/s2/path" "$M/ioas/b/dma"
	done
}

setup_3() {
	mkfifo "$W/fifo" && chown "$B_UID:$B_GID" "$W/fifo" && chmod 444 "$W/fifo" &&
		as B mkdir "$M/sources/s3"
}
start_3() {
	local _
	for _ in 1 2 3; do start fifo attr "$ASECS" "$M/sources/s3/path" "$W/fifo"; done
}

# a file on disk (not memory) B can read, and B's own dma
DISK_FILE=/etc/passwd
setup_4() { :; }
start_4() {
	local _
	for _ in 1 2; do start map-fd mapfd "$ASECS" "$M/ioas/b" "$DISK_FILE" "$M/ioas/b/dma"; done
}

setup_5() { as B mkdir "$M/ioas/b5"; }
start_5() {
	start maps flood "$ASECS" "$M/ioas/b5" sb
	start ioases mkdirs "$ASECS" "$M/ioas" b5x 1024
}

setup_8() {
	as B mkdir "$M/ioas/b8" && as B "$H" fill "$M/ioas/b8" sb "$FILL" >/dev/null
}
start_8() {
	start save read "$ASECS" "$M/save"
	start mkdir-rmdir mkdirs "$ASECS" "$M/ioas" b8x 1
}

# counts: the attackers' "ROLE KEY N" lines summed by label and role, in order of appearance
# (max_ms: the largest)
counts() {
	local f
	for f in "$W"/att.*; do
		[ -e "$f" ] || continue
		awk -v label="$(basename "$f" | cut -d. -f2)" \
			'NF == 3 && $3 ~ /^[0-9.]+$/ { print label, $1, $2, $3 }' "$f"
	done | awk '
		{ r = $1 " " $2; k = r SUBSEP $3
		  if (!(r in seen)) { seen[r] = 1; roles[++nr] = r }
		  if (!(k in val)) { keys[r, ++nk[r]] = $3; val[k] = $4 + 0 }
		  else if ($3 ~ /^max/) { if ($4 + 0 > val[k]) val[k] = $4 + 0 }
		  else val[k] += $4 }
		END {
			for (i = 1; i <= nr; i++) {
				r = roles[i]
				printf "%s%s:", (i > 1 ? "; " : ""), r
				for (j = 1; j <= nk[r]; j++)
					printf " %s=%s", keys[r, j], val[r SUBSEP keys[r, j]]
			}
			if (!nr)
				printf "none"
		}'
}

# said: what the attackers printed besides their counts (an error of their own)
said() {
	cat "$W"/att.* 2>/dev/null | awk '!(NF == 3 && $3 ~ /^[0-9.]+$/)' | sort | uniq -c | head -5
}

# errnos: the error names among the attackers' counts, one per line
errnos() {
	cat "$W"/att.* 2>/dev/null | awk 'NF == 3 && $2 ~ /^E/ { print $2 }' | sort -u
}

# run NAME TITLE: one attack on a fresh mount
run() {
	local n=$1 title=$2 v stats bad ok max over
	rm -f "$W"/att.* "$W/victim.out" "$W/fifo"
	BG=()
	if ! mount_fs; then
		BROKEN=1
		return
	fi
	if ! setup_common || ! "setup_$n"; then
		echo "$title: set-up failed"
		BROKEN=1
		unmount_fs
		return
	fi
	"start_$n"
	sleep 0.5
	"${A[@]}" "$H" victim "$M/ioas/v" s "$SECS" >"$W/victim.out" 2>&1 &
	VP=$!
	if ! reap $((SECS + 20)) "$VP"; then
		echo "$title: the victim was blocked past its deadline (connection aborted)"
		BROKEN=1
	fi
	VP=
	reap 20 "${BG[@]}" || BROKEN=1
	BG=()
	v=$(grep '^victim n=' "$W/victim.out" | tail -n 1)
	max=$(printf '%s\n' "$v" | sed -n 's/.* max=\([0-9.]*\).*/\1/p')
	over=$(printf '%s\n' "$v" | sed -n 's/.* over50ms=\([0-9]*\).*/\1/p')
	stats=$(printf '%s\n' "$v" | awk '
		{ for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
		END { if (f["n"] != "") printf "n=%s median=%sms p99=%sms max=%sms", f["n"],
			f["median"], f["p99"], f["max"] }')
	echo "$title: victim map+unmap ${stats:-n=0}; attacker: $(counts)"
	said | sed "s/^/$title: the attacker said: /"
	if grep -q FAILED "$W/victim.out" || [ -z "$v" ]; then
		FAILED=1
		echo "$title: VICTIM FAILED: $(grep -v '^victim n=' "$W/victim.out" | head -3)"
	fi
	bad=$(errnos | grep -Ev "$REFUSALS" | tr '\n' ' ')
	ok=$(errnos | grep -E "$REFUSALS" | tr '\n' ' ')
	if [ -n "$max" ] && awk -v m="$max" -v l="$LIMIT_MS" 'BEGIN { exit !(m <= l) }'; then
		v="no stall: max ${max} ms <= $LIMIT_MS ms"
	else
		v="STALL: max ${max:-?} ms > $LIMIT_MS ms (${over:-?} pairs over $LIMIT_MS ms)"
	fi
	if [ -n "$bad" ]; then
		v="$v; the attacker got ${bad% } (not only ENOSPC/EACCES/EBUSY/EINVAL)"
	elif [ -n "$ok" ]; then
		v="$v; the attacker was refused with ${ok% }"
	elif [ "$n" != baseline ]; then
		v="$v; the attacker's operations all succeeded"
	fi
	echo "$title: verdict: $v"
	unmount_fs
}

run baseline "baseline"
run 2 "attack 2"
run 3 "attack 3"
run 4 "attack 4"
run 5 "attack 5"
run 8 "attack 8"
[ "$FAILED" -eq 0 ] && [ "$BROKEN" -eq 0 ]
exit $?
