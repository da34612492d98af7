#!/bin/bash
# Every errno case of research/iommufd-uapi.md section 2 that a shell user can reach, with
# the errno the writing process sees and the line it leaves in `errors`, on x86-vtd.
. "${TESTLIB:-$(dirname "$0")/lib.sh}" || exit 99

mount_ioasfs "platform=x86-vtd" || finish
mkdir "$M/ioas/vm" "$M/sources/buf" "$M/devices/d0"
echo "anon 16M" >"$M/sources/buf/path"
MAP=$M/ioas/vm/map
UNMAP=$M/ioas/vm/unmap

# ---- automatic allocator: first fit, ascending, never 0, aligned to the length
expect_rdwr "auto 4K lands at 0x1000, never 0" "ok
ok 0x0000000000001000 0x1000" "$MAP" "auto 4K buf"
expect_rdwr "auto 2M is 2M aligned" "ok
ok 0x0000000000200000 0x200000" "$MAP" "auto 2M buf"
expect_rdwr "auto 4K takes the next hole" "ok
ok 0x0000000000002000 0x1000" "$MAP" "auto 4K buf+4K"
expect_rdwr "auto 8K is 8K aligned" "ok
ok 0x0000000000004000 0x2000" "$MAP" "auto 8K buf"
expect_rdwr "several lines, one result each" "ok
ok 0x0000000000003000 0x1000
ok 0x0000000000008000 0x8000" "$MAP" 'auto 4K buf\nauto 32K buf\n'
expect_file "alignment before any device" "$M/ioas/vm/alignment" "0x1"

# ---- MAP
expect "fixed map over a mapping" EEXIST write "$MAP" "0x200000 4K buf"
expect_error "names the mapping" "line 1: map 0x200000 length 0x1000: overlaps mapping 0x200000-0x3fffff \(buf\+0x0\)"
expect "fixed map over the MSI range" EINVAL write "$MAP" "0xfee00000 4K buf"
expect_error "names the reserved range" "map 0xfee00000-0xfee00fff crosses reserved 0xfee00000-0xfeefffff \(msi\)"
expect "fixed map beyond the 48-bit aperture" EINVAL write "$MAP" "0x1000000000000 4K buf"
expect_error "names the aperture" "outside the aperture 0x0-0xffffffffffff"
expect "zero length" EINVAL write "$MAP" "0x10000000 0 buf"
expect_error "says why" "length is zero"
expect "iova at the top of the space" EOVERFLOW write "$MAP" "0xffffffffffffffff 4K buf"
expect_error "says overflow" "overflows"
expect "iova + length wraps" EOVERFLOW write "$MAP" "0xfffffffffffff000 8K buf"
expect "a number past 64 bits" EOVERFLOW write "$MAP" "0x10000000000000000 4K buf"
expect_error "says it does not fit" "invalid IOVA '0x10000000000000000' \(does not fit in 64 bits\)"
expect "unknown source" ENOENT write "$MAP" "auto 4K nosuch"
expect_error "names the source" "no source 'nosuch'"
expect "past the end of the source" EINVAL write "$MAP" "auto 4K buf+16M"
expect_error "names the source size" "beyond the end of source buf \(size 0x1000000\)"

# ---- attach raises the alignment to the IOMMU page size
ln -s ../../ioas/vm "$M/devices/d0/ioas"
expect_eq "attached device mirrored in ioas/vm/devices" "$(readlink "$M/ioas/vm/devices/d0")" \
	"../../../devices/d0"
expect_file "alignment after attach" "$M/ioas/vm/alignment" "0x1000"
expect "misaligned iova after attach" EINVAL write "$MAP" "0x10000800 4K buf"
expect_error "names the alignment" "not aligned to the IOAS alignment 0x1000"
expect "misaligned length after attach" EINVAL write "$MAP" "0x10000000 0x800 buf"
expect "fixed map over the MSI range with a device" EINVAL write "$MAP" "0xfee00000 4K buf"

# ---- UNMAP
expect "unmap that would split a mapping" ENOENT write "$UNMAP" "0x200000 4K"
expect_error "names the mapping" "would split mapping 0x200000-0x3fffff \(buf\+0x0\)"
before=$(snapshot)
expect "unmap whose last mapping straddles the end" ENOENT write "$UNMAP" "0x1000 0x200000"
expect_unchanged "the kernel would have removed 0x1000 first; ioasfs refuses whole" "$before"
expect "unmap that covers nothing" ENOENT write "$UNMAP" "0x50000000 4K"
expect_error "says so" "unmap 0x50000000-0x50000fff: nothing mapped there"
expect "unmap of zero length" EINVAL write "$UNMAP" "0x1000 0"
expect_rdwr "unmap covering several mappings with gaps" "ok
ok 0x0000000000000000 0x3000" "$UNMAP" "0 0x4000"
expect_rdwr "unmap all" "ok
ok 0x0000000000000000 0x20a000" "$UNMAP" "all"
expect_file "no mappings left" "$M/ioas/vm/mappings" ""
expect_rdwr "unmap all of an empty IOAS succeeds" "ok
ok 0x0000000000000000 0x0" "$UNMAP" "all"

# ---- windows: ALLOW_IOVAS over a reserved range, no room for auto
mkdir "$M/ioas/vm/windows/w"
echo 0xfe000000 >"$M/ioas/vm/windows/w/start"
expect "window over the MSI range" EADDRINUSE write "$M/ioas/vm/windows/w/size" "32M"
expect_error "names it" "window w 0xfe000000-0xffffffff crosses reserved 0xfee00000-0xfeefffff \(msi\)"
echo 0x40000000 >"$M/ioas/vm/windows/w/start"
echo 64K >"$M/ioas/vm/windows/w/size"
expect "auto map bigger than the only window" ENOSPC write "$MAP" "auto 128K buf"
expect_error "says where it looked" "no free IOVA range inside the active windows"
expect_rdwr "auto map inside the window" "ok
ok 0x0000000040000000 0x10000" "$MAP" "auto 64K buf"
expect_file "window with a mapping" "$M/ioas/vm/mappings" "0x0000000040000000-0x000000004000ffff rw buf+0x0"
expect "a window with mappings cannot move" EBUSY write "$M/ioas/vm/windows/w/start" "0x80000000"
expect "a window with mappings cannot go" EBUSY rmdir "$M/ioas/vm/windows/w"

# ---- DESTROY and attach
expect "rmdir of an IOAS with a device attached" EBUSY rmdir "$M/ioas/vm"
expect_error "names the devices" "ioas vm has 1 device\(s\) attached"
echo "unmap all" >/dev/null
echo all >"$UNMAP"
rmdir "$M/ioas/vm/windows/w"
echo "0x10000000 64K buf" >"$MAP"
mkdir "$M/devices/d1"
echo "0x10000000-0x1000ffff custom" >"$M/devices/d1/reserved"
expect_file "a sim device's reserved regions are writable until attached" \
	"$M/devices/d1/reserved" "0x0000000010000000-0x000000001000ffff custom"
before=$(snapshot)
expect "attach whose reserved region hits a mapping" EADDRINUSE \
	symlink ../../ioas/vm "$M/devices/d1/ioas"
expect_error "names the region and the mapping" \
	"device d1 reserved 0x10000000-0x1000ffff \(custom\) intersects mapping 0x10000000-0x1000ffff \(buf\+0x0\)"
expect_unchanged "after the refused attach" "$before"
mkdir "$M/ioas/other" "$M/ioas/other/windows/w"
echo 0x10000000 >"$M/ioas/other/windows/w/start"
echo 1M >"$M/ioas/other/windows/w/size"
expect "attach whose reserved region hits an active window" EADDRINUSE \
	symlink ../../ioas/other "$M/devices/d1/ioas"
expect_error "names the window" "device d1 reserved 0x10000000-0x1000ffff \(custom\) intersects window w 0x10000000-0x100fffff"
expect "reserved is read-only once attached" EBUSY write "$M/devices/d0/reserved" "0x0-0xfff x"

# ---- replacing the link replaces the attachment
ln -sfn ../../ioas/other "$M/devices/d0/ioas"
expect_eq "ln -sf moved the device" "$(readlink "$M/devices/d0/ioas")" "../../ioas/other"
expect_eq "gone from the old IOAS" "$(ls "$M/ioas/vm/devices")" ""
expect_eq "in the new IOAS" "$(ls "$M/ioas/other/devices")" "d0"
expect "rmdir of an attached device" ENOTEMPTY rmdir "$M/devices/d0"
rm "$M/devices/d0/ioas"
expect_eq "detached" "$(ls "$M/ioas/other/devices")" ""
expect "rmdir of a detached device" ok rmdir "$M/devices/d0"

# ---- options/huge_pages (IOMMU_OPTION_HUGE_PAGES)
expect_file "huge_pages default" "$M/ioas/vm/options/huge_pages" "1"
expect "huge_pages 2" EINVAL write "$M/ioas/vm/options/huge_pages" "2"
expect "huge_pages 0" ok write "$M/ioas/vm/options/huge_pages" "0"
expect_file "huge_pages reads back" "$M/ioas/vm/options/huge_pages" "0"
expect_file "alignment is PAGE_SIZE with huge_pages 0" "$M/ioas/vm/alignment" "0x1000"

# ---- rmdir of an IOAS with windows, then with mappings
expect "rmdir of an IOAS with windows" ENOTEMPTY rmdir "$M/ioas/other"
rmdir "$M/ioas/other/windows/w"
expect "rmdir of an IOAS with mappings unmaps them" ok rmdir "$M/ioas/vm"
expect_file "its source is free again" "$M/sources/buf/users" "0"
finish
