#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Multi-user mode (-o allow_other, ioasfs.5 SECURITY) with two unprivileged users, nobody
# (user A) and daemon (user B), switched to with setpriv and no supplementary groups: every
# ownership rule, the owners and modes ls shows, a source path opened with the writer's
# credentials, owners kept by save and restore, and the single-user mount refusing them all.
. "${TESTLIB:-$(dirname "$0")/lib.sh}"

two_users

# owner_mode PATH: "uid:gid mode" as stat(2) reports it through the mount
owner_mode() { stat -c '%u:%g %a' "$1"; }

# ---------------------------------------------------------------- single-user mount
mount_ioasfs || exit 1
mkdir "$M/ioas/r"
expect_eq "single user: ioas/ is 0755 root's" "$(owner_mode "$M/ioas")" "0:0 755"
expect_eq "single user: an IOAS is its maker's" "$(owner_mode "$M/ioas/r")" "0:0 755"
expect_as asA "single user: another user cannot even read status" EACCES read "$M/status"
expect_as asA "single user: nor make an IOAS" EACCES mkdir "$M/ioas/x"
umount_ioasfs

# ---------------------------------------------------------------- allow_other
mount_ioasfs allow_other || exit 1
expect_eq "ioas/ is sticky and open to all" "$(owner_mode "$M/ioas")" "0:0 1777"
expect_eq "devices/ is sticky and open to all" "$(owner_mode "$M/devices")" "0:0 1777"
expect_eq "sources/ is sticky and open to all" "$(owner_mode "$M/sources")" "0:0 1777"
expect_eq "status stays root's, world-readable" "$(owner_mode "$M/status")" "0:0 444"
expect_eq "platform/ stays root's, world-readable" "$(owner_mode "$M/platform/profile")" "0:0 444"
expect_as asA "A reads status" ok read "$M/status"

for d in ioas/a devices/da sources/sa; do
	expect_as asA "A makes $d" ok mkdir "$M/$d"
done
for d in ioas/b devices/db sources/sb; do
	expect_as asB "B makes $d" ok mkdir "$M/$d"
done
A="$A_UID:$A_GID"
expect_eq "ls: A's IOAS is A's, 0755" "$(owner_mode "$M/ioas/a")" "$A 755"
expect_eq "ls: A's map is A's, 0600" "$(owner_mode "$M/ioas/a/map")" "$A 600"
expect_eq "ls: A's unmap is A's, 0600" "$(owner_mode "$M/ioas/a/unmap")" "$A 600"
expect_eq "ls: A's batch is A's, 0600" "$(owner_mode "$M/ioas/a/batch")" "$A 600"
expect_eq "ls: A's mappings are A's, 0444" "$(owner_mode "$M/ioas/a/mappings")" "$A 444"
expect_eq "ls: A's windows/ is A's, 0755" "$(owner_mode "$M/ioas/a/windows")" "$A 755"
expect_eq "ls: A's huge_pages is A's, 0644" "$(owner_mode "$M/ioas/a/options/huge_pages")" "$A 644"
expect_eq "ls: A's device is A's" "$(owner_mode "$M/devices/da")" "$A 755"
expect_eq "ls: A's device reserved is A's, 0644" "$(owner_mode "$M/devices/da/reserved")" "$A 644"
expect_eq "ls: A's source path is A's, 0644" "$(owner_mode "$M/sources/sa/path")" "$A 644"
expect_eq "ls: B's IOAS is B's" "$(owner_mode "$M/ioas/b")" "$B_UID:$B_GID 755"
# the mode bits show what is enforced: the command and data files of an IOAS are 0600 (a
# dma file too, where there is one), and each is refused to B below
private=$(cd "$M/ioas/a" && find . -maxdepth 1 -type f -perm 600 | sort | tr '\n' ' ')
for f in batch map unmap dma; do
	[ "$f" != dma ] || [ -e "$M/ioas/a/dma" ] || continue
	case " $private " in
	*" ./$f "*) pass "ioas/a/$f is private (0600)" ;;
	*) fail "ioas/a/$f is not among the private files [$private]" ;;
	esac
done

# ---- sources: opened with the writer's credentials
expect_as asA "A cannot make /etc/shadow a source (opened as A)" EACCES write \
	"$M/sources/sa/path" /etc/shadow
expect_error "the refusal names the file" 'sources/sa/path: cannot open /etc/shadow: EACCES'
printf 'x%.0s' $(seq 1 8192) >"$WORK/root-only"
chmod 600 "$WORK/root-only"
expect_as asA "A cannot use a root 0600 file" EACCES write "$M/sources/sa/path" "$WORK/root-only"
head -c 65536 /dev/zero >"$WORK/a-file"
chown "$A_UID" "$WORK/a-file"
chmod 600 "$WORK/a-file"
expect_as asA "A uses its own 0600 file" ok write "$M/sources/sa/path" "$WORK/a-file"
expect_as asB "B cannot use A's 0600 file" EACCES write "$M/sources/sb/path" "$WORK/a-file"
# the writer's supplementary groups count too: a root:B 0640 file opens for A in group B
head -c 4096 /dev/zero >"$WORK/group-file"
chown "0:$B_GID" "$WORK/group-file"
chmod 640 "$WORK/group-file"
expect_as asA "A without group B cannot open a group-B file" EACCES write "$M/sources/sa/path" \
	"$WORK/group-file"
asAB() { setpriv --reuid="$A_UID" --regid="$A_GID" --groups="$B_GID" "$@"; }
expect_as asAB "A in group B opens it (read-only)" ok write "$M/sources/sa/path" "$WORK/group-file"
expect_eq "A's source is that file" "$(cat "$M/sources/sa/path")" "$WORK/group-file"
expect_as asA "A takes its own file again" ok write "$M/sources/sa/path" "$WORK/a-file"
expect_as asB "B writes its own source" ok write "$M/sources/sb/path" "anon 1M"
expect_as asB "B cannot write A's source path" EACCES write "$M/sources/sa/path" "anon 1M"
expect_as asB "B cannot truncate A's source path" EACCES truncate "$M/sources/sa/path" 0
expect_file "A's source kept A's file" "$M/sources/sa/path" "$WORK/a-file"

# ---- map and unmap
expect_as asA "A maps its source into its IOAS" ok write "$M/ioas/a/map" "0x100000 64K sa"
expect_as asB "B cannot open A's map" EACCES write "$M/ioas/a/map" "0x200000 4K sb"
expect_as asB "B cannot open A's unmap" EACCES write "$M/ioas/a/unmap" "0x100000 64K"
expect_as asB "B cannot read A's map results" EACCES read "$M/ioas/a/map"
expect_as asB "B cannot open A's batch for writing" EACCES rdwr "$M/ioas/a/batch" x
expect_as asB "B cannot open A's batch for reading" EACCES read "$M/ioas/a/batch"
for f in $private; do
	expect_as asB "B cannot read A's private ${f#./}" EACCES read "$M/ioas/a/${f#./}"
done
expect_as asB "B reads A's mappings (0444)" ok read "$M/ioas/a/mappings"
n=$(errcount)
expect_as asB "B cannot map A's source into its own IOAS" EACCES write "$M/ioas/b/map" \
	"0x100000 4K sa"
expect_error "the refusal names the owner" "/ioas/b/map: line 1: source sa belongs to uid $A_UID, not to uid $B_UID"
expect_eq "one errors line" "$(errcount)" "$((n + 1))"
expect_as asB "B maps its source into its IOAS" ok write "$M/ioas/b/map" "0x100000 4K sb"
expect_as asA "A cannot map B's source either" EACCES write "$M/ioas/a/map" "0x300000 4K sb"
expect_file "A's IOAS holds A's mapping only" "$M/ioas/a/mappings" \
	"0x0000000000100000-0x000000000010ffff rw sa+0x0"
expect_file "B's IOAS holds B's mapping only" "$M/ioas/b/mappings" \
	"0x0000000000100000-0x0000000000100fff rw sb+0x0"

# batch COPY from A's IOAS into B's: one 128-byte record, the completion's res is -EACCES
z() { printf '\\0%.0s' $(seq 1 "$1"); }
rec="\\x01\\0\\x04\\x03$(z 4)$(z 8)$(z 8)\\0\\x10$(z 6)\\0\\0\\x10$(z 5)$(z 24)a$(z 63)"
res=$(asB "$FSOP" rdwr "$M/ioas/b/batch" "$rec" | tail -c 32 | od -An -td4 -j8 -N4 | tr -d ' ')
expect_eq "B's batch cannot copy from A's IOAS" "$res" "-13"
expect_error "the refusal names the owner" "/ioas/b/batch: record 1: ioas a belongs to uid $A_UID"
res=$(asA "$FSOP" rdwr "$M/ioas/a/batch" "$rec" | tail -c 32 | od -An -td4 -j8 -N4 | tr -d ' ')
expect_eq "A's batch copies within A's IOAS" "$res" "0"
# the dma file reaches the memory: only the IOAS's owner reads or writes it
expect_as asA "A reads its dma" ok readat 0x100000 16 "$M/ioas/a/dma"
expect_as asA "A writes its dma" ok writeat 0x100000 "$M/ioas/a/dma" "hello"
expect_as asB "B cannot read A's dma" EACCES readat 0x100000 16 "$M/ioas/a/dma"
expect_as asB "B cannot write A's dma" EACCES writeat 0x100000 "$M/ioas/a/dma" "x"
# the text copy file takes the same check as a batch COPY
n=$(errcount)
expect_as asB "B's copy file cannot copy from A's IOAS" EACCES write "$M/ioas/b/copy" \
	"auto 4K a 0x100000"
expect_error "the refusal names the owner" "/ioas/b/copy: line 1: ioas a belongs to uid $A_UID"
expect_eq "one errors line" "$(errcount)" "$((n + 1))"
expect_as asB "B cannot open A's copy file" EACCES write "$M/ioas/a/copy" "auto 4K a 0x100000"
expect_as asA "A copies within its IOAS by text" ok write "$M/ioas/a/copy" "auto 4K a 0x100000"
expect_as asA "A unmaps in its IOAS" ok write "$M/ioas/a/unmap" "all"

# ---- attributes, windows, options
expect_as asB "B cannot set A's huge_pages" EACCES write "$M/ioas/a/options/huge_pages" 0
expect_as asA "A sets its huge_pages" ok write "$M/ioas/a/options/huge_pages" 1
expect_as asB "B cannot make a window in A's IOAS" EACCES mkdir "$M/ioas/a/windows/w"
expect_as asA "A makes a window" ok mkdir "$M/ioas/a/windows/w"
expect_eq "ls: A's window is A's" "$(owner_mode "$M/ioas/a/windows/w/size")" "$A 644"
expect_as asB "B cannot size A's window" EACCES write "$M/ioas/a/windows/w/size" 1G
expect_as asA "A sizes its window" ok write "$M/ioas/a/windows/w/size" 1G
expect_as asB "B cannot remove A's window" EACCES rmdir "$M/ioas/a/windows/w"
expect_as asB "B cannot write A's device reserved" EACCES write "$M/devices/da/reserved" \
	"0x80000000-0x8000ffff rmrr"
expect_as asA "A writes its device reserved" ok write "$M/devices/da/reserved" \
	"0x80000000-0x8000ffff rmrr"

# ---- attach and detach: the device's owner, who must own the IOAS too
n=$(errcount)
expect_as asB "B cannot link its device to A's IOAS" EACCES symlink ../../ioas/a \
	"$M/devices/db/ioas"
expect_error "the refusal names the IOAS's owner" "devices/db/ioas: ioas a belongs to uid $A_UID"
expect_eq "one errors line" "$(errcount)" "$((n + 1))"
expect_as asB "B cannot link A's device to B's IOAS" EACCES symlink ../../ioas/b \
	"$M/devices/da/ioas"
expect_as asA "A cannot link its device to B's IOAS" EACCES symlink ../../ioas/b \
	"$M/devices/da/ioas"
expect_as asA "A attaches its device to its IOAS" ok symlink ../../ioas/a "$M/devices/da/ioas"
expect_eq "A's link is A's" "$(stat -c %u "$M/devices/da/ioas")" "$A_UID"
expect_as asB "B cannot detach A's device" EACCES unlink "$M/devices/da/ioas"
expect_as asB "B cannot make a temporary link in A's device" EACCES symlink ../../ioas/b \
	"$M/devices/da/tmp"
expect_as asA "A makes a temporary link to B's IOAS" ok symlink ../../ioas/b "$M/devices/da/tmp"
expect_as asA "A cannot rename it onto its ioas link" EACCES rename "$M/devices/da/tmp" \
	"$M/devices/da/ioas"
expect_eq "A's device is still attached to A's IOAS" "$(readlink "$M/devices/da/ioas")" \
	"../../ioas/a"
expect_as asB "B attaches its device to its IOAS" ok symlink ../../ioas/b "$M/devices/db/ioas"

# ---- removal: another user's object is EPERM, as in a sticky directory
for d in ioas/a devices/da sources/sa; do
	expect_as asB "B cannot remove A's $d" EPERM rmdir "$M/$d"
done
expect_as asB "B's own source in use is EBUSY, not EPERM" EBUSY rmdir "$M/sources/sb"
snap=$(snapshot)
expect_as asA "A cannot remove B's IOAS" EPERM rmdir "$M/ioas/b"
expect_unchanged "refusals" "$snap"

# ---- root may act on every object
expect "root maps A's source into A's IOAS" ok write "$M/ioas/a/map" "auto 4K sa"
expect "root unmaps in A's IOAS" ok write "$M/ioas/a/unmap" "all"

# ---- owners survive save and restore
cat "$M/save" >"$WORK/saved.json"
expect_match "save records A's IOAS owner" "$WORK/saved.json" "\"uid\": $A_UID,"
umount_ioasfs
mount_ioasfs "allow_other,restore=$WORK/saved.json" || exit 1
expect_eq "restore: A's IOAS is A's" "$(owner_mode "$M/ioas/a")" "$A 755"
expect_eq "restore: A's source is A's" "$(owner_mode "$M/sources/sa/path")" "$A 644"
expect_eq "restore: A's device is A's" "$(owner_mode "$M/devices/da")" "$A 755"
expect_eq "restore: B's device is B's" "$(owner_mode "$M/devices/db")" "$B_UID:$B_GID 755"
expect_file "restore: A's source reopened" "$M/sources/sa/path" "$WORK/a-file"
cat "$M/save" >"$WORK/again.json"
if cmp -s "$WORK/saved.json" "$WORK/again.json"; then
	pass "restore: the tree saves as it was saved"
else
	fail "restore: the tree differs from the saved one"
	diff "$WORK/saved.json" "$WORK/again.json" | head
fi
expect_as asB "restore: B still cannot remove A's IOAS" EPERM rmdir "$M/ioas/a"
expect_as asB "restore: B still cannot map into A's IOAS" EACCES write "$M/ioas/a/map" \
	"auto 4K sb"
expect_as asA "restore: A removes its window" ok rmdir "$M/ioas/a/windows/w"
expect_as asA "restore: A detaches its device" ok unlink "$M/devices/da/ioas"
expect_as asA "restore: A removes its IOAS" ok rmdir "$M/ioas/a"

# a source saved as A's is reopened as A: once A loses the file, the restore leaves it unset
umount_ioasfs
chown root "$WORK/a-file"
mount_ioasfs "allow_other,restore=$WORK/saved.json" || exit 1
expect_file "restore: a file the owner can no longer open is left unset" "$M/sources/sa/path" ""
expect_eq "restore: the source is still A's" "$(owner_mode "$M/sources/sa/path")" "$A 644"
expect_match "and errors says which" "$M/errors" \
	"restore: source sa \($WORK/a-file\): EACCES; left unset, no mapping skipped$"
finish
