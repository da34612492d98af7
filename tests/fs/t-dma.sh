#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The memory behind mappings, from a shell: ioas/NAME/dma read and written with dd, od and
# fsop at IOVAs (file offset = IOVA), what it refuses (EFAULT, EACCES) with one `errors` line
# each; the `copy` file; options/huge_pages as IOMMU_OPTION_HUGE_PAGES; maps by fd in `save`
# and across a restore; and who may make the daemon map what: a user who cannot read a file
# cannot make the daemon map it, by `sources/S/path` or by a map by fd (runuser -u nobody).
# BATCHDIR names the built tests/batch directory (mapfd-creds sends one map by fd).
# shellcheck source=tests/fs/lib.sh
. "${TESTLIB:-$(dirname "$0")/lib.sh}" || exit 99
: "${BATCHDIR:?BATCHDIR must point at the built tests/batch directory}"
MAPFD=$BATCHDIR/mapfd-creds

mount_ioasfs "platform=x86-vtd" || finish
V=$M/ioas/vm

# expect_errline DESC N-BEFORE REGEX: exactly one line was added to errors, matching REGEX.
expect_errline() {
	local desc=$1 before=$2 re=$3
	expect_eq "$desc: one errors line" "$(($(errcount) - before))" 1
	expect_error "$desc" "$re"
}

# ---- dma through text maps
mkdir "$V" "$M/sources/buf"
echo "anon 4M" >"$M/sources/buf/path"
printf '0x100000 1M buf\n0x200000 64K buf+1M r\n0x300000 4K buf+2M w\n' >"$V/map"
expect_eq "dma reaches every IOVA an off_t can name" "$(stat -c %s "$V/dma")" 9223372036854775807
printf 'through the iommu' | dd of="$V/dma" bs=1M seek=$((0x100000)) oflag=seek_bytes \
	conv=notrunc status=none
expect_eq "dd reads back what dd wrote at 0x100000" \
	"$(dd if="$V/dma" bs=17 count=1 skip=$((0x100000)) iflag=skip_bytes status=none)" \
	"through the iommu"
expect_eq "od at an IOVA" "$(od -An -c -j $((0x100000)) -N 7 "$V/dma" | tr -d ' ')" "through"
# the same source mapped in a second IOAS: the bytes are the source's, not the IOAS's
mkdir "$M/ioas/vm2"
echo "0x7000000 1M buf r" >"$M/ioas/vm2/map"
expect "a second IOAS reads the same source memory" ok readat $((0x7000000)) 17 "$M/ioas/vm2/dma"
expect_eq "... and the same bytes" "$("$FSOP" readat $((0x7000000)) 17 "$M/ioas/vm2/dma" | tail -n 1)" \
	"through the iommu"
printf 'truncate me' | dd of="$V/dma" bs=1M seek=$((0x100040)) oflag=seek_bytes status=none &&
	pass "dd without conv=notrunc (its ftruncate is accepted and changes nothing)" ||
	fail "dd without conv=notrunc"
expect_eq "... and the bytes before it are still there" \
	"$("$FSOP" readat $((0x100000)) 7 "$V/dma" | tail -n 1)" "through"

n=$(errcount)
expect "read of an unmapped IOVA" EFAULT readat $((0x400000)) 16 "$V/dma"
expect_errline "unmapped" "$n" "/ioas/vm/dma: dma read 0x400000: nothing mapped there$"
expect "a read running from a mapping into a hole is short" "short 4096" \
	readat $((0x20f000)) 65536 "$V/dma"
expect "a read across two adjacent mappings is whole" ok readat $((0x1f8000)) 65536 "$V/dma"
n=$(errcount)
expect "write to an r-only mapping" EACCES writeat $((0x200010)) "$V/dma" "x"
expect_errline "r-only" "$n" "dma write 0x200010: mapping 0x200000-0x20ffff \(buf\+0x100000\) is not writable \(no w\)$"
n=$(errcount)
expect "read of a w-only mapping" EACCES readat $((0x300000)) 4 "$V/dma"
expect_errline "w-only" "$n" "dma read 0x300000: mapping 0x300000-0x300fff \(buf\+0x200000\) is not readable \(no r\)$"
expect "a write into the w-only mapping" ok writeat $((0x300000)) "$V/dma" "wo"
expect "a write running into a hole is short" "short 2" writeat $((0x300ffe)) "$V/dma" "abcd"

# ---- copy, as text: IOVA|auto LENGTH SRCIOAS SRCIOVA [r|w|rw]
mkdir "$M/ioas/dst"
expect_rdwr "copy auto, result line" "ok
ok 0x0000000000100000 0x100000" "$M/ioas/dst/copy" "auto 1M vm 0x100000 r"
expect_eq "the copy's mappings" "$(cat "$M/ioas/dst/mappings")" \
	"0x0000000000100000-0x00000000001fffff r buf+0x0"
expect_eq "the copy reads the bytes" "$("$FSOP" readat $((0x100000)) 7 "$M/ioas/dst/dma" | tail -n 1)" \
	"through"
expect_rdwr "copy of two adjacent mappings, fixed" "ok
ok 0x0000000080000000 0x110000" "$M/ioas/dst/copy" "0x80000000 0x110000 vm 0x100000 r"
expect_eq "... became two mappings" "$(grep -c '^0x00000000800\|^0x00000000801' "$M/ioas/dst/mappings")" 2
expect_rdwr "copy within one IOAS" "ok
ok 0x0000000005000000 0x1000" "$V/copy" "0x5000000 4K vm 0x100000 r"
expect_eq "... reads the same bytes" "$("$FSOP" readat $((0x5000000)) 7 "$V/dma" | tail -n 1)" "through"
echo "0x5000000 4K" >"$V/unmap"
before=$(snapshot)
n=$(errcount)
expect "copy rw from an r-only source mapping" EPERM write "$M/ioas/dst/copy" "auto 4K vm 0x200000 rw"
expect_errline "r-only source" "$n" "copy: a source mapping is not writable$"
expect "copy of a range not fully mapped" ENOENT write "$M/ioas/dst/copy" "auto 128K vm 0x200000 r"
expect_error "not covered" "copy from ioas vm 0x200000-0x21ffff: not covered by contiguous mappings$"
expect "copy from no such IOAS" ENOENT write "$M/ioas/dst/copy" "auto 4K nosuch 0x100000"
expect "copy onto an existing mapping" EEXIST write "$M/ioas/dst/copy" "0x100000 4K vm 0x100000 r"
expect "copy onto the MSI window" EINVAL write "$M/ioas/dst/copy" "0xfee00000 4K vm 0x100000 r"
expect "copy with a bad line" EINVAL write "$M/ioas/dst/copy" "auto 4K vm"
expect_error "says the syntax" 'expected "IOVA\|auto LENGTH SRCIOAS SRCIOVA \[r\|w\|rw\]"$'
expect_unchanged "after the refused copies" "$before"
echo all >"$M/ioas/dst/unmap"
echo all >"$M/ioas/vm2/unmap"

# ---- options/huge_pages: IOMMU_OPTION_HUGE_PAGES as the kernel decides it
echo all >"$V/unmap"
expect "a map of a source at an offset inside a page" ok write "$V/map" "0x100800 2K buf+0x800"
n=$(errcount)
expect "huge_pages 0 with a mapping not aligned to PAGE_SIZE" EADDRINUSE \
	write "$V/options/huge_pages" 0
expect_errline "misaligned" "$n" "a mapping is not aligned to the page size huge_pages 0 requires$"
expect_file "huge_pages still 1" "$V/options/huge_pages" "1"
echo all >"$V/unmap"
expect "huge_pages 0 once it is gone" ok write "$V/options/huge_pages" 0
expect_file "alignment 4K" "$V/alignment" "0x1000"
expect "a 2K map is now refused" EINVAL write "$V/map" "0x100000 2K buf"
expect "and so is a page of the source at offset 0x800" EINVAL write "$V/map" "0x100000 4K buf+0x800"
expect "huge_pages 1 again" ok write "$V/options/huge_pages" 1
expect_file "alignment 1 again" "$V/alignment" "0x1"
mkdir "$M/devices/d0"
ln -s ../../ioas/vm "$M/devices/d0/ioas"
echo "0x100000 2M buf" >"$V/map"
n=$(errcount)
expect "huge_pages 0 with a device attached and mappings" EINVAL write "$V/options/huge_pages" 0
expect_errline "attached" "$n" "huge_pages 0 is refused while devices are attached and mappings exist$"
echo all >"$V/unmap"
expect "with the device but no mapping it is allowed" ok write "$V/options/huge_pages" 0
expect "huge_pages 2" EINVAL write "$V/options/huge_pages" 2
rm "$M/devices/d0/ioas"
rmdir "$M/devices/d0"

# ---- maps by fd in mappings, save and restore
head -c 64K /dev/urandom >"$WORK/file"
out=$("$MAPFD" "$V" fd 3 rw 3<>"$WORK/file")
expect_eq "map by fd of a file (mapfd-creds)" "${out%% *}" "ok"
iova=${out#ok }
expect_match "mappings names it fd/PID/3" "$V/mappings" "^0x0*${iova#0x}-0x[0-9a-f]+ rw fd/[0-9]+/3\+0x0$"
expect_eq "dma reads the file after the mapping program exited" \
	"$("$FSOP" readat "$iova" 4096 "$V/dma" | tail -c +4 | cmp - <(head -c 4096 "$WORK/file") && echo same)" "same"
expect "a dma write" ok writeat "$iova" "$V/dma" "written by a device"
expect_eq "lands in the file" "$(head -c 19 "$WORK/file")" "written by a device"
echo "0x40000000 4K buf" >"$V/map"
cat "$M/save" >"$WORK/save.json"
expect_match "save lists the map by fd apart" "$WORK/save.json" '"fd_mappings": \[$'
expect_match "with its mappings line" "$WORK/save.json" " rw fd/[0-9]+/3\+0x0\"$"
umount_ioasfs
mount_ioasfs "platform=x86-vtd,restore=$WORK/save.json" || finish
expect_match "a restore says the map by fd is not rebuilt" "$WORK/daemon.log" \
	'restore: ioas vm: not rebuilt: map by fd ".* rw fd/[0-9]+/3\+0x0" \(a client.s file descriptor cannot be obtained again\)$'
expect_file "and rebuilds the rest" "$V/mappings" \
	"0x0000000040000000-0x0000000040000fff rw buf+0x0"
expect_match "status says the batch version" "$M/status" "^batch_version 1\.1$"
umount_ioasfs

# ---- who may make the daemon map what (runuser -u nobody)
if [ "$(id -u)" -ne 0 ]; then
	log "ok - the credential checks # SKIP they need root (runuser, setpriv)"
	finish
fi
# The daemon runs as root with its real uid set to nobody, so the tree's files belong to
# nobody (ioasfs gives its files to the uid that runs it) and nobody passes their modes;
# allow_other lets root in too. It still opens sources and takes descriptors as root does.
# valgrind's launcher resets a real uid that differs from the effective one, so this mount
# runs without it (the code it runs ran under valgrind above, under IOASFS_VALGRIND=1).
chmod 755 "$WORK"
# nobody runs these: copies it can reach wherever the build tree is (lib.sh, share_prog)
FSOP=$(share_prog "$FSOP")
MAPFD=$(share_prog "$MAPFD")
[ -n "${IOASFS_VALGRIND:-}" ] && log "# the nobody mount runs without valgrind"
IOASFS_VALGRIND='' IOASFS_WRAP="setpriv --ruid=nobody" \
	mount_ioasfs "platform=x86-vtd,allow_other" || finish
NB="runuser -u nobody --"
$NB "$FSOP" mkdir "$M/sources/s" >/dev/null
$NB "$FSOP" mkdir "$M/ioas/n" >/dev/null
n=$(errcount)
expect_eq "nobody cannot make a source of /etc/shadow" \
	"$($NB "$FSOP" write "$M/sources/s/path" /etc/shadow)" EACCES
expect_errline "/etc/shadow as nobody" "$n" "/sources/s/path: cannot open /etc/shadow: EACCES$"
expect_file "the source stays unset" "$M/sources/s/size" "0x0"
install -o nobody -m 0400 /dev/null "$WORK/nobody.ro"
{ printf 'nobody may read this'; head -c 4076 /dev/zero; } >"$WORK/nobody.ro"
expect_eq "nobody can make a source of a file only nobody can read" \
	"$($NB "$FSOP" write "$M/sources/s/path" "$WORK/nobody.ro")" ok
expect_eq "... read-only for nobody: a map with w" \
	"$($NB "$FSOP" write "$M/ioas/n/map" "0x100000 4K s")" EPERM
expect_error "says why" "source s is read-only; map it with r$"
expect_eq "... with r" "$($NB "$FSOP" write "$M/ioas/n/map" "0x100000 4K s r")" ok
expect_eq "and nobody reads it through dma" \
	"$($NB "$FSOP" readat $((0x100000)) 20 "$M/ioas/n/dma" | tail -n 1)" "nobody may read this"
echo all >"$M/ioas/n/unmap"
install -m 0600 /dev/null "$WORK/root.secret"
head -c 4096 /dev/zero >"$WORK/root.secret"
expect_eq "nobody cannot make a source of root's 0600 file" \
	"$($NB "$FSOP" write "$M/sources/s/path" "$WORK/root.secret")" EACCES
expect "root can make a source of it: the refusal was nobody's" ok \
	write "$M/sources/s/path" "$WORK/root.secret"
# a file whose pages may wait on disk I/O is not memory (ioasfs.5, sources/S/path)
expect "root's /etc/shadow, on disk, is not memory" EINVAL write "$M/sources/s/path" /etc/shadow
expect_error "says why" "/etc/shadow is not in memory .*: use tmpfs, hugetlbfs or a memfd"

# by fd: the daemon takes descriptors only from the caller's own process
sleep 600 7</etc/shadow &
holder=$!
n=$(errcount)
expect_eq "nobody naming fd 7 of a root process that holds /etc/shadow" \
	"$($NB "$MAPFD" "$M/ioas/n" fd 7 r)" EBADF
expect_errline "another process's fd" "$n" "map by fd 7: fd 7 of process [0-9]+: not open$"
kill "$holder"
wait "$holder" 2>/dev/null
n=$(errcount)
expect_eq "a root process that opened /etc/shadow and then took nobody's euid" \
	"$("$MAPFD" "$M/ioas/n" seteuid 65534 /etc/shadow r)" EPERM
expect_errline "setuid caller" "$n" \
	"map by fd [0-9]+: process [0-9]+ \(uids 0/65534/0\) is not owned by the caller's uid 65534$"
out=$($NB bash -c "exec 3<'$WORK/nobody.ro'; '$MAPFD' '$M/ioas/n' fd 3 r")
expect_eq "nobody may map a descriptor of its own" "${out%% *}" "ok"
expect_eq "... but not with w from an O_RDONLY descriptor" \
	"$($NB bash -c "exec 3<'$WORK/nobody.ro'; '$MAPFD' '$M/ioas/n' fd 3 rw")" EPERM
echo all >"$M/ioas/n/unmap"
finish
