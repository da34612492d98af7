#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A restore on an allow_other mount is not hostage to one user's file (issue 19 item 7,
# ioasfs.5 SAVE AND RESTORE): user A (nobody) names a file it holds open in a process,
# /proc/PID/fd/3, and maps it; the process exits before the restart. The restore must still
# mount and rebuild everything else: B's (daemon's) IOAS and mapping, A's IOASes and A's other
# mappings; A's source comes back A's and unset, the mappings that used it are skipped, and
# each skip is a line in `errors` and in the daemon's log. A source of B's whose file became
# unreadable to B (EACCES) and that no mapping used is left unset the same way.
. "${TESTLIB:-$(dirname "$0")/lib.sh}"

two_users

# The files behind the sources live in /dev/shm: a source must be memory (tmpfs, hugetlbfs or
# a memfd), and /tmp need not be. They are removed however the test ends.
SHM_A=/dev/shm/ioasfs-t-restore-skip.$$.a
SHM_B=/dev/shm/ioasfs-t-restore-skip.$$.b
APID=
trap '[ -z "$APID" ] || kill "$APID" 2>/dev/null; rm -f "$SHM_A" "$SHM_B"; cleanup' EXIT

owner_mode() { stat -c '%u:%g %a' "$1"; }

mount_ioasfs allow_other || exit 1

# ---- A: a file only its process holds, named by /proc/PID/fd/3, mapped twice into ioas a
# and once into ioas a2; and an anon source mapped into ioas a, which must come back
a_holds "$SHM_A" || fail "A's process holds its file"
rm -f "$SHM_A" # from here on only A's descriptor reaches the file, as with a memfd
for d in ioas/a ioas/a2 sources/sa sources/sa2; do
	expect_as asA "A makes $d" ok mkdir "$M/$d"
done
expect_as asA "A names its descriptor /proc/$APID/fd/3" ok write "$M/sources/sa2/path" \
	"/proc/$APID/fd/3"
expect_as asA "A's anon source" ok write "$M/sources/sa/path" "anon 64K"
expect_as asA "A maps its descriptor's file" ok write "$M/ioas/a/map" "0x800000 16K sa2"
expect_as asA "A maps it again, read-only" ok write "$M/ioas/a/map" "0x900000 16K sa2+0x4000 r"
expect_as asA "A maps its anon source" ok write "$M/ioas/a/map" "0x100000 64K sa"
expect_as asA "A maps its descriptor's file into a2" ok write "$M/ioas/a2/map" "0x200000 4K sa2"
got=$(asA "$FSOP" readat $((0x800000)) 12 "$M/ioas/a/dma")
expect_eq "A reads its file through its dma" "${got#*$'\n'}" "A-FILE-BYTES"

# ---- B: an IOAS with an anon source mapped, and a file source nothing maps
for d in ioas/b sources/sb sources/sb2; do
	expect_as asB "B makes $d" ok mkdir "$M/$d"
done
expect_as asB "B's anon source" ok write "$M/sources/sb/path" "anon 1M"
expect_as asB "B maps it" ok write "$M/ioas/b/map" "0x100000 64K sb"
head -c 4096 /dev/zero >"$SHM_B"
chown "$B_UID:$B_GID" "$SHM_B"
chmod 600 "$SHM_B"
expect_as asB "B names its own file" ok write "$M/sources/sb2/path" "$SHM_B"

A_MAPS='0x0000000000100000-0x000000000010ffff rw sa+0x0'
B_MAPS='0x0000000000100000-0x000000000010ffff rw sb+0x0'
expect_file "ioas a holds three mappings" "$M/ioas/a/mappings" "$A_MAPS
0x0000000000800000-0x0000000000803fff rw sa2+0x0
0x0000000000900000-0x0000000000903fff r sa2+0x4000"
cat "$M/save" >"$WORK/saved.json"
expect_match "the save names A's descriptor" "$WORK/saved.json" \
	"\"name\": \"sa2\", \"path\": \"/proc/$APID/fd/3\", \"uid\": $A_UID,"
umount_ioasfs

# ---- A's process exits, B loses its file: the restart must not depend on either
kill "$APID"
wait "$APID" 2>/dev/null
SAVED_APID=$APID
APID=
chmod 000 "$SHM_B" # B owns it but may no longer open it: EACCES, as B
n_log=$(wc -l <"$WORK/daemon.log")
if ! mount_ioasfs "allow_other,restore=$WORK/saved.json"; then
	fail "the restore mounts although A's process is gone"
	finish
fi
pass "the restore mounts although A's process is gone"
tail -n +"$((n_log + 1))" "$WORK/daemon.log" >"$WORK/restore.log"

expect_file "B's mapping is back" "$M/ioas/b/mappings" "$B_MAPS"
expect_eq "B's IOAS is B's" "$(owner_mode "$M/ioas/b")" "$B_UID:$B_GID 755"
expect_file "A's IOAS is back with its anon mapping only" "$M/ioas/a/mappings" "$A_MAPS"
expect_file "A's other IOAS is back, empty" "$M/ioas/a2/mappings" ""
expect_eq "A's IOAS is A's" "$(owner_mode "$M/ioas/a")" "$A_UID:$A_GID 755"
expect_eq "A's source is back" "$(owner_mode "$M/sources/sa2")" "$A_UID:$A_GID 755"
expect_file "A's source is unset" "$M/sources/sa2/path" ""
expect_file "B's unreadable source is unset" "$M/sources/sb2/path" ""
expect_eq "B's unreadable source is B's" "$(owner_mode "$M/sources/sb2")" "$B_UID:$B_GID 755"

re_sa2="restore: source sa2 \(/proc/$SAVED_APID/fd/3\): ENOENT; left unset"
re_a="$re_sa2, 2 mapping\(s\) of ioas a skipped$"
re_a2="$re_sa2, 1 mapping\(s\) of ioas a2 skipped$"
re_b="restore: source sb2 \($SHM_B\): EACCES; left unset, no mapping skipped$"
expect_match "errors: A's skipped mappings in ioas a" "$M/errors" "$re_a"
expect_match "errors: A's skipped mapping in ioas a2" "$M/errors" "$re_a2"
expect_match "errors: B's unset source" "$M/errors" "$re_b"
expect_match "log: A's skipped mappings in ioas a" "$WORK/restore.log" "^ioasfs: .*$re_a"
expect_match "log: A's skipped mapping in ioas a2" "$WORK/restore.log" "^ioasfs: .*$re_a2"
expect_match "log: B's unset source" "$WORK/restore.log" "^ioasfs: .*$re_b"
expect_match "errors: the reason A's path did not open" "$M/errors" \
	"restore: cannot open /proc/$SAVED_APID/fd/3: ENOENT$"
expect_match "log: the reason A's path did not open" "$WORK/restore.log" \
	"^ioasfs: .* restore: cannot open /proc/$SAVED_APID/fd/3: ENOENT$"
expect_eq "one skip line per source and IOAS" \
	"$(grep -c 'left unset' "$M/errors")" 3

# the next save has the sources unset and the mappings gone (ioasfs.5: the lines are the record)
cat "$M/save" >"$WORK/again.json"
expect_match "the next save has A's source unset" "$WORK/again.json" \
	"\"name\": \"sa2\", \"uid\": $A_UID, \"gid\": $A_GID }"
if grep -q 'sa2+' "$WORK/again.json"; then
	fail "the next save still lists the skipped mappings"
else
	pass "the next save no longer lists the skipped mappings"
fi

# the unset source is an ordinary one: A sets it and maps it again
expect_as asA "A sets its source again" ok write "$M/sources/sa2/path" "anon 64K"
expect_as asA "A maps it where it was" ok write "$M/ioas/a/map" "0x800000 16K sa2"
expect_as asB "B still cannot touch A's source" EACCES write "$M/sources/sa2/path" "anon 4K"
finish
