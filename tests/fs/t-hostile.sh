#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A hostile local user on an allow_other mount (ioasfs.5 SECURITY): user B (daemon) tries to
# reach user A's (nobody's) memory through the magic links of /proc (the daemon's own
# map_files and fd through /proc/self, /proc/thread-self, /dev/fd and /proc/DAEMONPID, and
# A's process), and to hang the daemon for everyone with a source path that leads back into
# the mount or to a FIFO. Each hang is probed with a deadline: a request stuck in the daemon
# fails the test (and the connection is aborted) instead of hanging the suite.
. "${TESTLIB:-$(dirname "$0")/lib.sh}"

two_users

# within SECS OUT CMD...: run CMD with its output to OUT and wait at most SECS for it; a miss
# aborts the FUSE connection (a process in a FUSE request ignores even SIGKILL). 0 if it ended.
within() {
	local secs=$1 out=$2 i
	shift 2
	rm -f "$out" "$out.done"
	("$@" >"$out" 2>&1; touch "$out.done") &
	for i in $(seq 1 $((secs * 10))); do
		[ -e "$out.done" ] && return 0
		sleep 0.1
	done
	abort_mount
	return 1
}

abort_mount() {
	local minor
	minor=$(awk -v m="$M" '$5 == m { split($3, d, ":"); print d[2] }' /proc/self/mountinfo | tail -n 1)
	[ -n "$minor" ] || return 0
	[ -e /sys/fs/fuse/connections/"$minor" ] ||
		mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null
	echo 1 >/sys/fs/fuse/connections/"$minor"/abort 2>/dev/null
}

# expect_within USER DESC WANT fsop-args...: the fsop status line, within 20 s
expect_within() {
	local who=$1 desc=$2 want=$3 got
	shift 3
	if ! within 20 "$WORK/probe" "$who" "$FSOP" "$@"; then
		fail "$desc: still blocked after 20 s (connection aborted)"
		return 1
	fi
	got=$(head -n 1 "$WORK/probe")
	if [ "$got" = "$want" ]; then
		pass "$desc"
	else
		fail "$desc: expected $want, got $got"
	fi
}

# expect_refused USER DESC fsop-args...: anything but ok, within 20 s
expect_refused() {
	local who=$1 desc=$2 got
	shift 2
	if ! within 20 "$WORK/probe" "$who" "$FSOP" "$@"; then
		fail "$desc: still blocked after 20 s (connection aborted)"
		return 1
	fi
	got=$(head -n 1 "$WORK/probe")
	if [ "$got" != ok ]; then
		pass "$desc ($got)"
	else
		fail "$desc: the open succeeded"
	fi
}

root() { "$@"; }

# stop_daemon: unmount and let the daemon exit within 20 s (then the usual checks of its
# exit status and log), or kill it and fail: a daemon stuck on its own lock never exits.
stop_daemon() {
	local i
	fusermount3 -u "$M" 2>/dev/null || umount -l "$M" 2>/dev/null
	for i in $(seq 1 200); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$PID" 2>/dev/null; then
		fail "the daemon did not exit within 20 s of its unmount"
		abort_mount
		kill -9 "$PID"
		PID=
	else
		umount_ioasfs 2>/dev/null
	fi
}

mount_ioasfs allow_other || exit 1
DPID=$PID

# ---------------------------------------------------------------- A's secret
asA mkdir "$M/ioas/a" "$M/sources/sa" || exit 99
expect_as_ok() { [ "$(asA "$FSOP" "$@" | head -n 1)" = ok ]; }
expect_as_ok write "$M/sources/sa/path" "anon 3M" || fail "A's anon source"
expect_as_ok write "$M/ioas/a/map" "0x100000 3M sa" || fail "A maps its source"
expect_as_ok writeat $((0x100000)) "$M/ioas/a/dma" "SECRET-OF-A" || fail "A writes its secret"
asB mkdir "$M/ioas/b" "$M/sources/sb" || exit 99

# the daemon's view of A's memory: the 3 MiB shared mapping in its address space
range=
while read -r r perms _; do
	[ "${perms:3:1}" = s ] || continue
	lo=$((16#${r%-*})) hi=$((16#${r#*-}))
	if [ $((hi - lo)) -eq $((3 << 20)) ]; then
		range=$(printf '%x-%x' "$lo" "$hi")
		break
	fi
done <"/proc/$DPID/maps"
if [ -z "$range" ]; then
	fail "A's anon memory is not in the daemon's maps"
	finish
fi
expect_eq "A's anon memory is not world-accessible (mode of the daemon's shmem)" \
	"$(stat -L -c %a "/proc/$DPID/map_files/$range")" 600

# ---------------------------------------------------------------- item 1: magic links
for p in "/proc/self/map_files/$range" "/proc/thread-self/../map_files/$range" \
	"/proc/$DPID/map_files/$range" "/proc/$DPID/task/$DPID/map_files/$range"; do
	expect_refused asB "B cannot name A's memory as $p" write "$M/sources/sb/path" "$p"
done
for n in $(ls "/proc/$DPID/fd"); do
	# valgrind keeps its own descriptors (the program it runs, its pipes) near 20000, in every
	# process it runs, the opener's children included: they are not the daemon's
	[ -n "${IOASFS_VALGRIND:-}" ] && [ "$n" -ge 10000 ] && continue
	for p in "/proc/self/fd/$n" "/dev/fd/$n" "/proc/thread-self/fd/$n" "/proc/$DPID/fd/$n"; do
		got=$(asB "$FSOP" write "$M/sources/sb/path" "$p" | head -n 1)
		[ "$got" != ok ] || fail "B opened the daemon's descriptor $n through $p"
	done
done
pass "B opens none of the daemon's descriptors through /proc/self, /dev/fd, /proc/$DPID"
expect_file "B's source is still unset" "$M/sources/sb/path" ""
expect_refused root "root cannot reach the daemon's memory through /proc/self either" \
	write "$M/sources/sb/path" "/proc/self/map_files/$range"

# A's own process and descriptor: A may name it, B may not
a_holds "$WORK/a-shm" || fail "A's process holds its file"
expect_refused asB "B cannot name A's descriptor /proc/$APID/fd/3" write \
	"$M/sources/sb/path" "/proc/$APID/fd/3"
asA mkdir "$M/sources/sa2"
expect_within asA "A names its own descriptor /proc/$APID/fd/3" ok write \
	"$M/sources/sa2/path" "/proc/$APID/fd/3"
expect_within asA "A maps it" ok write "$M/ioas/a/map" "0x800000 64K sa2"
got=$(asA "$FSOP" readat $((0x800000)) 12 "$M/ioas/a/dma")
expect_eq "A reads its file through its dma" "${got#*$'\n'}" "A-FILE-BYTES"
kill "$APID" 2>/dev/null
wait "$APID" 2>/dev/null
expect_eq "B's source stayed unset" "$(cat "$M/sources/sb/path")" ""
expect_as_ok read "$M/ioas/a/mappings" || fail "A reads its mappings"

# what B gets through its own dma is B's alone
expect_within asB "B's source is its own anon" ok write "$M/sources/sb/path" "anon 3M"
expect_within asB "B maps it" ok write "$M/ioas/b/map" "0x100000 3M sb"
if asB "$FSOP" readat $((0x100000)) 11 "$M/ioas/b/dma" | grep -q SECRET; then
	fail "B reads A's secret"
else
	pass "B's memory does not hold A's secret"
fi

# ---------------------------------------------------------------- item 2: back into the mount
asB mkdir "$M/sources/s2" || exit 99
expect_within asB "B's source path inside the mount is refused at once" EINVAL write \
	"$M/sources/s2/path" "$M/ioas/b/dma"
expect_error "the refusal says why" "sources/s2/path: $M/ioas/b/dma is on a FUSE file system"
expect_within root "root's too" EINVAL write "$M/sources/s2/path" "$M/ioas/a/dma"
expect_within asA "A's ls works meanwhile" ok read "$M/ioas/a/mappings"
expect_within asA "A's mkdir works meanwhile" ok mkdir "$M/ioas/a2"

# ---------------------------------------------------------------- item 3: a FIFO
if ! [ -r "$M/status" ]; then
	# a connection aborted above: start again, so that this part is judged on its own
	fusermount3 -uz "$M" 2>/dev/null
	kill -9 "$PID" 2>/dev/null # a daemon stuck on its own lock never exits by itself
	PID=
	mount_ioasfs allow_other || exit 1
	asA mkdir "$M/ioas/a" "$M/sources/sa"
	asA "$FSOP" write "$M/sources/sa/path" "anon 3M" >/dev/null
	asB mkdir "$M/sources/s2"
fi
mkfifo "$WORK/fifo"
chown "$B_UID:$B_GID" "$WORK/fifo"
chmod 444 "$WORK/fifo"
expect_within asB "B's 0444 FIFO is refused at once" EINVAL write "$M/sources/s2/path" \
	"$WORK/fifo"
expect_error "the refusal says why" "fifo is not a non-empty regular file"
expect_within asA "A's mkdir works after it" ok mkdir "$M/ioas/a3"
expect_within asA "A's map works after it" ok write "$M/ioas/a/map" "auto 4K sa"

# ---------------------------------------------------------------- item 6: shares of bounds
# B holds a quarter of each bound of the whole mount, no more; A is not locked out
asB mkdir "$M/ioas/b6" "$M/devices/db6"
for i in $(seq 1 16); do
	asB ln -s ../../ioas/b6 "$M/devices/db6/tmp$i" || fail "B's pending link $i"
done
expect_as asB "B's 17th pending link is past its share" ENOSPC symlink ../../ioas/b6 \
	"$M/devices/db6/tmp17"
expect_error "says whose share" "uid $B_UID holds 16 pending links, a user's share \(limit 64\)"
asA mkdir "$M/devices/da6"
expect_as asA "A's ln -sfn still works" ok symlink ../../ioas/a "$M/devices/da6/tmpa"
expect_as asA "... and lands" ok rename "$M/devices/da6/tmpa" "$M/devices/da6/ioas"
for i in $(seq 1 16); do asB rm -f "$M/devices/db6/tmp$i"; done

# batch sessions: B holds 256 open batch files, its share of 1024
setpriv --reuid="$B_UID" --regid="$B_GID" --clear-groups bash -c "
	for i in \$(seq 1 256); do exec {f}<'$M/ioas/b6/batch' || exit 1; done
	if exec {g}<'$M/ioas/b6/batch'; then echo opened; else echo refused; fi
	exec sleep 60" 2>/dev/null >"$WORK/sessions.out" &
holder=$!
for i in $(seq 1 100); do [ -s "$WORK/sessions.out" ] && break; sleep 0.1; done
expect_eq "B's 257th batch session is refused" "$(cat "$WORK/sessions.out")" refused
expect_error "says whose share" "uid $B_UID holds 256 batch sessions, a user's share"
expect_eq "A opens its batch meanwhile" \
	"$(asA bash -c "exec 3<'$M/ioas/a/batch' && echo ok")" ok
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

# objects: 256 IOASes of B's, then ENOSPC for B alone
n=$(ls "$M/ioas" | wc -l)
asB bash -c "for i in \$(seq 1 300); do mkdir '$M/ioas/bx'\$i 2>/dev/null || break; done"
expect_eq "B holds 256 IOASes, its share of 1024" \
	"$(stat -c %u "$M"/ioas/* | grep -c "^$B_UID$")" 256
expect_error "says whose share" "uid $B_UID holds 256 ioas objects, a user's share \(limit 1024\)"
expect_as asA "A still makes an IOAS" ok mkdir "$M/ioas/a7"
for i in $(seq 1 300); do rmdir "$M/ioas/bx$i" 2>/dev/null || break; done

# ---------------------------------------------------------------- item 5: listings stream
# 30 of B's handles on A's 100,000 mappings, each read for one byte, keep no copy of them
asA mkdir "$M/ioas/big"
seq 1 100000 | sed 's/.*/auto 4K sa/' | asA dd of="$M/ioas/big/map" bs=128K status=none
expect_eq "A has 100,000 mappings" "$(grep -c . "$M/ioas/big/mappings")" 100000
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status"; }
before=$(rss)
setpriv --reuid="$B_UID" --regid="$B_GID" --clear-groups bash -c "
	for i in \$(seq 1 30); do
		exec {f}<'$M/ioas/big/mappings'; read -r -N 1 -u \$f x || exit 1
	done
	echo held; exec sleep 60" >"$WORK/handles.out" 2>&1 &
holder=$!
for i in $(seq 1 100); do [ -s "$WORK/handles.out" ] && break; sleep 0.1; done
grown=$(($(rss) - before))
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
expect_eq "B's 30 handles are open and read" "$(cat "$WORK/handles.out")" held
if [ "$grown" -lt 20480 ]; then
	pass "30 handles on a 100,000-line listing took ${grown} KiB of the daemon's RSS"
else
	fail "30 handles on a 100,000-line listing took ${grown} KiB of the daemon's RSS"
fi
expect_eq "a listing read in 100-byte pieces is the whole listing" \
	"$(dd if="$M/ioas/big/mappings" bs=100 status=none | md5sum)" \
	"$(cat "$M/ioas/big/mappings" | md5sum)"
expect_eq "and through sendfile(2)" "$("$FSOP" sendfile "$M/ioas/big/mappings" | md5sum)" \
	"$(cat "$M/ioas/big/mappings" | md5sum)"
# save is rendered whole per handle: B keeps 4 rendered handles, not a 5th; A reads it
setpriv --reuid="$B_UID" --regid="$B_GID" --clear-groups bash -c "
	for i in \$(seq 1 4); do
		exec {f}<'$M/save'; read -r -N 1 -u \$f x || exit 1
	done
	exec {g}<'$M/save'; if read -r -N 1 -u \$g x 2>/dev/null; then echo read; else echo refused; fi
	exec sleep 60" >"$WORK/save.out" 2>&1 &
holder=$!
for i in $(seq 1 100); do [ -s "$WORK/save.out" ] && break; sleep 0.1; done
expect_eq "B's 5th rendered save handle is refused" "$(cat "$WORK/save.out")" refused
expect_error "says why" "uid $B_UID keeps 4 rendered save handles \(limit_user_whole_handles 4\)"
expect_eq "A reads save meanwhile" "$(asA head -c 1 "$M/save")" "{"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
asA "$FSOP" write "$M/ioas/big/unmap" all >/dev/null

# a restore naming a FIFO fails at once instead of hanging the start
cat "$M/save" >"$WORK/saved.json"
stop_daemon
sed -i "s|\"path\": \"/proc/[0-9]*/fd/3\"|\"path\": \"$WORK/fifo\"|" "$WORK/saved.json"
grep -q "\"$WORK/fifo\"" "$WORK/saved.json" || fail "the saved file names the FIFO"
# the start neither hangs nor stops: the FIFO source is left unset (item 7)
"$IOASFS_BIN" -f -o "allow_other,restore=$WORK/saved.json" "$M" 2>"$WORK/restore.out" &
PID=$!
for i in $(seq 1 200); do
	{ mountpoint -q "$M" && [ -r "$M/status" ]; } && break
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.1
done
if mountpoint -q "$M" && [ -r "$M/status" ]; then
	pass "a restore naming a FIFO mounts at once"
	expect_match "and leaves that source unset (SAVE AND RESTORE)" "$M/errors" \
		"restore: source sa2 \($WORK/fifo\): EINVAL; left unset"
	stop_daemon
elif ! kill -0 "$PID" 2>/dev/null; then
	fail "a restore naming a FIFO stops the start ($(tail -n 1 "$WORK/restore.out"))"
	PID=
else
	fail "a restore naming a FIFO hangs"
	abort_mount
	kill -9 "$PID"
	PID=
fi

# ---------------------------------------------------------------- item 5: what a user holds
mount_ioasfs allow_other,max_mappings=1000 || exit 1
lim() { sed -n "s/^$1 //p" "$M/status"; }
expect_eq "limit_user_mappings is max_mappings" "$(lim limit_user_mappings)" 1000
asB mkdir "$M/ioas/b1" "$M/ioas/b2" "$M/sources/sb"
asB "$FSOP" write "$M/sources/sb/path" "anon 1M" >/dev/null
seq 1 600 | sed 's/.*/auto 4K sb/' | asB dd of="$M/ioas/b1/map" bs=64K status=none
seq 1 400 | sed 's/.*/auto 4K sb/' | asB dd of="$M/ioas/b2/map" bs=64K status=none
expect_eq "B holds 1000 mappings in two IOASes" \
	"$(cat "$M/ioas/b1/mappings" "$M/ioas/b2/mappings" | grep -c .)" 1000
expect_as asB "B's 1001st mapping is past its share, in an IOAS of 400" ENOSPC write \
	"$M/ioas/b2/map" "auto 4K sb"
expect_error "says whose" "uid $B_UID holds 1000 mappings in its IOASes \(limit_user_mappings\)"
asA mkdir "$M/ioas/a" "$M/sources/sa"
asA "$FSOP" write "$M/sources/sa/path" "anon 1M" >/dev/null
expect_as asA "A maps meanwhile" ok write "$M/ioas/a/map" "auto 4K sa"
expect_as asB "B unmaps some" ok write "$M/ioas/b1/unmap" "all"
expect_as asB "and maps again" ok write "$M/ioas/b2/map" "auto 4K sb"

anon=$(lim limit_user_anon_bytes)
asB mkdir "$M/sources/big" "$M/sources/more"
expect_as asB "B declares anon memory up to its share" ok write "$M/sources/big/path" \
	"anon $((anon - (1 << 20)))"
expect_as asB "and no more" ENOSPC write "$M/sources/more/path" "anon 2M"
expect_error "says why" "uid $B_UID has 0x[0-9a-f]+ bytes of anon sources; 0x200000 more exceed"
asA mkdir "$M/sources/sa2"
expect_as asA "A's anon source meanwhile" ok write "$M/sources/sa2/path" "anon 2M"
expect_as asB "B's own source may shrink" ok write "$M/sources/big/path" "anon 1M"
expect_as asB "and then the other fits" ok write "$M/sources/more/path" "anon 2M"

finish
