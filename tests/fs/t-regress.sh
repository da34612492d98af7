#!/bin/bash
# Regressions found in review, each named after what it broke: lines cut across writes,
# ln -sf temporaries outliving their device, windows cutting mappings, no-op window writes,
# tail(1) on a long errors file, SIGTERM's exit status, mount(8)'s source argument.
. "${TESTLIB:-$(dirname "$0")/lib.sh}" || exit 99

mount_ioasfs || finish
mkdir "$M/ioas/vm" "$M/sources/buf"
echo "anon 64M" >"$M/sources/buf/path"

# ---- cat(1) writes 128 KiB at a time and cuts lines: every line still runs once, whole
for i in $(seq 0 9999); do printf '0x%x 4K buf r\n' $((0x100000000 + i * 4096)); done >"$WORK/cmds"
[ "$(stat -c %s "$WORK/cmds")" -gt 131072 ] || fail "the command file is too small to be cut"
cat "$WORK/cmds" >"$M/ioas/vm/map"
expect_match "10000 lines through cat, all mapped" "$M/ioas/vm/stats" "^mappings 10000$"
expect_eq "none lost its access word" "$(grep -c ' r buf' "$M/ioas/vm/mappings")" "10000"
echo all >"$M/ioas/vm/unmap"
# a line finished by a later write, and a last line without newline run at close
expect "a cut line over two writes" ok writes "$M/ioas/vm/map" \
	"$(printf '\\n%.0s' $(seq 1100))0x2000" ' 4K buf\n0x3000 4K buf'
expect_file "both halves of a cut line, and the unterminated last one" "$M/ioas/vm/mappings" \
	"0x0000000000002000-0x0000000000002fff rw buf+0x0
0x0000000000003000-0x0000000000003fff rw buf+0x0"
expect "a short write needs no newline" ok write "$M/ioas/vm/map" "0x4000 4K buf"
echo all >"$M/ioas/vm/unmap"

# ---- ln -sf temporaries die with their device
mkdir "$M/devices/x"
for i in $(seq 64); do "$FSOP" symlink ../../ioas/vm "$M/devices/x/t$i" >/dev/null; done
expect "the 65th temporary" ENOSPC symlink ../../ioas/vm "$M/devices/x/t65"
expect "rmdir of a device holding temporaries" ok rmdir "$M/devices/x"
mkdir "$M/devices/y" "$M/ioas/vm2"
ln -s ../../ioas/vm "$M/devices/y/ioas"
ln -sfn ../../ioas/vm2 "$M/devices/y/ioas"
expect_eq "ln -sfn works again" "$(readlink "$M/devices/y/ioas")" "../../ioas/vm2"
rm "$M/devices/y/ioas"

# ---- a window may cover mappings but not cut one
echo "0x3ff00000 2M buf" >"$M/ioas/vm/map"
mkdir "$M/ioas/vm/windows/w"
echo 0 >"$M/ioas/vm/windows/w/start"
expect "a window cutting a mapping" EADDRINUSE write "$M/ioas/vm/windows/w/size" "1G"
expect_error "names the mapping" "window w 0x0-0x3fffffff cuts mapping 0x3ff00000-0x400fffff \(buf\+0x0\)"
expect "a window covering it" ok write "$M/ioas/vm/windows/w/size" "2G"
expect "writing the value it has, with mappings inside" ok write "$M/ioas/vm/windows/w/size" "2G"
expect "changing it, with mappings inside" EBUSY write "$M/ioas/vm/windows/w/size" "4G"

# ---- and a fixed map may not cross a window's edge either (found by fuzz_core)
expect "a fixed map across the window's end" EINVAL write "$M/ioas/vm/map" "0x7ff00000 2M buf"
expect_error "names the windows" "map 0x7ff00000-0x800fffff crosses the edge of the windows at 0x0-0x7fffffff"
expect "an offset far past the source's end, length 0" EINVAL write "$M/ioas/vm/map" \
	"0x10000000 0 buf+0xffffffffffff0000"

# ---- devices/D/reserved is shown sorted and its kinds are words
printf '0x9000-0x9fff b\n0x1000-0x1fff a\n' >"$M/devices/y/reserved"
expect_file "reserved regions sorted" "$M/devices/y/reserved" \
	"0x0000000000001000-0x0000000000001fff a
0x0000000000009000-0x0000000000009fff b"
expect "a kind with punctuation" EINVAL write "$M/devices/y/reserved" "0x1000-0x1fff a!b"

# ---- a long errors file: tail(1) sees its real end
for i in $(seq 300); do "$FSOP" write "$M/ioas/vm/map" "bogus$i" >/dev/null; done
expect_eq "tail -n 1 errors is the newest line" "$(tail -n 1 "$M/errors" | sed 's/.*: //')" \
	"expected \"IOVA|auto LENGTH SOURCE[+OFFSET] [r|w|rw]\""
expect_eq "the ring keeps 256 lines" "$(wc -l <"$M/errors")" "256"
expect_match "the newest is last" "$M/errors" "/ioas/vm/map: line 1: .*$"
expect_eq "and it is bogus300's" "$(grep -c "bogus300" "$M/errors")" "0"
# listing files report their current length: sendfile(2) (busybox cat) reads them whole
expect_eq "errors through sendfile(2) = through read(2)" \
	"$("$FSOP" sendfile "$M/errors" | md5sum)" "$(md5sum <"$M/errors")"
expect_eq "st_size of errors is its length" "$(stat -c %s "$M/errors")" "$(wc -c <"$M/errors")"
mkdir "$M/sources/s1" && printf 'anon 1M\n' >"$M/sources/s1/path"
n=$(wc -l <"$M/ioas/vm/mappings")
printf 'auto 64K s1\nauto 4K s1\n' >"$M/ioas/vm/map"
expect_eq "mappings through sendfile(2) has the new lines" \
	"$("$FSOP" sendfile "$M/ioas/vm/mappings" | wc -l)" "$((n + 2))"
expect_eq "mappings through sendfile(2) = through read(2)" \
	"$("$FSOP" sendfile "$M/ioas/vm/mappings" | md5sum)" "$(md5sum <"$M/ioas/vm/mappings")"
expect_eq "save through sendfile(2) = through read(2)" \
	"$("$FSOP" sendfile "$M/save" | md5sum)" "$(md5sum <"$M/save")"

# ---- cat ioas/u/map before any result: an empty read (UBSan saw memcpy from NULL, length 0)
mkdir "$M/ioas/u"
expect_file "map read before any command is empty" "$M/ioas/u/map" ""
umount_ioasfs

# ---- SIGTERM is a clean stop
"$IOASFS_BIN" -f "$M" 2>>"$WORK/daemon.log" &
p=$!
for i in $(seq 100); do [ -r "$M/status" ] && break; sleep 0.1; done
kill -TERM $p
rc=0
wait $p || rc=$?
expect_eq "SIGTERM: exit status 0" "$rc" "0"
if mountpoint -q "$M"; then fail "SIGTERM left the mount"; else pass "SIGTERM unmounts"; fi

# ---- mount -t fuse.ioasfs (mount.fuse3 passes a source argument)
# mount.fuse3 runs "PROG SOURCE MOUNTPOINT -o OPTIONS"; PROG#SOURCE names an uninstalled PROG
if mount -t fuse "$IOASFS_BIN#ioasfs" "$M" -o platform=amd-vi 2>"$WORK/mount.err"; then
	expect_match "mount(8) with a source argument and a platform" "$M/status" "^platform amd-vi$"
	fusermount3 -u "$M"
else
	fail "mount -t fuse.ioasfs: $(cat "$WORK/mount.err")"
fi
# ---- the fstab type itself: mount -t fuse.ioasfs finds the program on mount's own PATH
# (/usr/local/sbin first), so the test puts a link there for the run if none is installed
mount_type() {
	if mount -t fuse.ioasfs ioasfs "$M" -o platform=arm-smmuv3 2>"$WORK/mount.err"; then
		expect_match "mount -t fuse.ioasfs ioasfs MNT -o platform=arm-smmuv3 ($1)" \
			"$M/status" "^platform arm-smmuv3$"
		fusermount3 -u "$M"
	else
		fail "mount -t fuse.ioasfs: $(cat "$WORK/mount.err")"
	fi
}
if [ -e /usr/local/sbin/ioasfs ]; then
	mount_type "the installed program"
elif [ -w /usr/local/sbin ]; then
	ln -s "$IOASFS_BIN" /usr/local/sbin/ioasfs
	mount_type "this build"
	rm -f /usr/local/sbin/ioasfs
else
	fail "mount -t fuse.ioasfs: /usr/local/sbin is not writable, cannot put ioasfs on mount's PATH"
fi
finish
