#!/bin/bash
# The seed scenario of DESIGN.md: an emulator that needs 0..2GiB and 2^59..2^59+1TiB.
# On a host that can do both, both windows are active and auto maps land inside them; on
# x86-vtd each window is refused with the reason; on ppc64-papr both fit and a third is refused.
. "${TESTLIB:-$(dirname "$0")/lib.sh}" || exit 99

# ---- a 60-bit host with an I/O hole at 2-4 GiB
mount_ioasfs "platform=$PROFILES/seed.profile" || finish
mkdir "$M/ioas/vm" "$M/ioas/vm/windows/dma32" "$M/ioas/vm/windows/dma64"
W=$M/ioas/vm/windows
expect_file "new window is pending" "$W/dma32/state" "pending"
expect_file "start defaults to auto" "$W/dma32/start" "auto"
echo 0 >"$W/dma32/start"
echo 2G >"$W/dma32/size"
expect_file "dma32 active" "$W/dma32/state" "active 0x0000000000000000-0x000000007fffffff"
echo 0x0800000000000000 >"$W/dma64/start"
echo 1T >"$W/dma64/size"
expect_file "dma64 active" "$W/dma64/state" "active 0x0800000000000000-0x080000ffffffffff"
expect_file "iova_ranges lists exactly the two windows" "$M/ioas/vm/iova_ranges" \
	"0x0000000000000000-0x000000007fffffff
0x0800000000000000-0x080000ffffffffff"
mkdir "$M/sources/buf" "$M/sources/big"
echo "anon 4M" >"$M/sources/buf/path"
echo "anon 2G" >"$M/sources/big/path"
expect_rdwr "auto map lands in dma32" "ok
ok 0x0000000000200000 0x200000" "$M/ioas/vm/map" "auto 2M buf"
expect_rdwr "fill dma32 from its start" "ok
ok 0x0000000000000000 0x200000" "$M/ioas/vm/map" "0 2M big"
expect_rdwr "fill the rest of dma32" "ok
ok 0x0000000000400000 0x7fc00000" "$M/ioas/vm/map" "0x400000 0x7fc00000 big+0x400000"
expect_rdwr "the next auto map lands in dma64" "ok
ok 0x0800000000000000 0x200000" "$M/ioas/vm/map" "auto 2M buf"
expect_file "mappings, sorted" "$M/ioas/vm/mappings" \
	"0x0000000000000000-0x00000000001fffff rw big+0x0
0x0000000000200000-0x00000000003fffff rw buf+0x0
0x0000000000400000-0x000000007fffffff rw big+0x400000
0x0800000000000000-0x08000000001fffff rw buf+0x0"
expect "a map outside every window but in the aperture is a constraint, not moved: hole" \
	EINVAL write "$M/ioas/vm/map" "0x80000000 4K buf"
expect_error "names the hole" "crosses reserved 0x80000000-0xffffffff \(io\)"
umount_ioasfs

# ---- x86 VT-d: 48-bit aperture, MSI hole at 0xfee00000
mount_ioasfs "platform=x86-vtd" || finish
mkdir "$M/ioas/vm" "$M/ioas/vm/windows/dma64" "$M/ioas/vm/windows/dma32"
W=$M/ioas/vm/windows
echo 0x0800000000000000 >"$W/dma64/start"
before=$(snapshot)
expect "64-bit window beyond the 48-bit aperture is refused" EADDRINUSE \
	write "$W/dma64/size" "1T"
expect_error "the refusal names the window and the aperture" \
	"/ioas/vm/windows/dma64/size: window dma64 0x800000000000000-0x80000ffffffffff (leaves|is outside) the aperture 0x0-0xffffffffffff"
expect_unchanged "after the 64-bit refusal" "$before"
expect_file "dma64 still pending" "$W/dma64/state" "pending"
echo 0 >"$W/dma32/start"
before=$(snapshot)
expect "0..4G window crossing the MSI hole is refused" EADDRINUSE write "$W/dma32/size" "4G"
expect_error "the refusal names the MSI range" \
	"window dma32 0x0-0xffffffff crosses reserved 0xfee00000-0xfeefffff \(msi\)"
expect_unchanged "after the 4G refusal" "$before"
expect "a 0..2G window fits" ok write "$W/dma32/size" "2G"
expect_file "iova_ranges is that window" "$M/ioas/vm/iova_ranges" \
	"0x0000000000000000-0x000000007fffffff"
umount_ioasfs

# ---- POWER: exactly two DMA windows
mount_ioasfs "platform=ppc64-papr" || finish
mkdir "$M/ioas/vm" "$M/ioas/vm/windows/dma32" "$M/ioas/vm/windows/dma64" \
	"$M/ioas/vm/windows/third"
W=$M/ioas/vm/windows
expect_file "two apertures" "$M/platform/apertures" \
	"0x0000000000000000-0x000000007fffffff
0x0800000000000000-0x0800ffffffffffff"
expect_file "max_windows" "$M/platform/max_windows" "2"
echo 0 >"$W/dma32/start"
expect "dma32 fits" ok write "$W/dma32/size" "2G"
echo 0x0800000000000000 >"$W/dma64/start"
expect "dma64 fits" ok write "$W/dma64/size" "1T"
expect_file "iova_ranges lists exactly the two windows" "$M/ioas/vm/iova_ranges" \
	"0x0000000000000000-0x000000007fffffff
0x0800000000000000-0x080000ffffffffff"
before=$(snapshot)
expect "a third window is refused" ENOSPC write "$W/third/size" "64K"
expect_error "names max_windows" "window third auto size 0x10000 .*max_windows 2"
expect_unchanged "after the third-window refusal" "$before"
finish
