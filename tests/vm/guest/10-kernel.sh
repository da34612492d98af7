#!/bin/bash
# The kernel backend against the real iommufd of the guest kernel, through the mounted tree
# (issue #5 "Show"): an IOAS, two vfio-pci devices bound and attached with mkdir and ln -s,
# the real VT-d geometry in iova_ranges (the MSI hole 0xfee00000-0xfeefffff and qemu's
# 39-bit top), text map and unmap of tmpfs files, and QEMU's edu device doing DMA through
# the mappings: the bytes reach the source file, and after unmap the IOMMU blocks the DMA
# and logs a fault. A daemon that refuses -o backend=kernel fails this suite; it never skips.
# shellcheck source=lib.sh
. "${VMLIB:-/vm/lib.sh}" || exit 99

if ! mount_ioasfs backend=kernel; then
	not_ok "ioasfs -o backend=kernel mounts (needs the kernel backend, issue #5)"
	finish
fi
ok "ioasfs -o backend=kernel mounts"
check "status names the kernel backend" grep -qi 'kernel' "$M/status"

edu=$(pci_find 0x1234 0x11e8) || edu=
nic=$(pci_find 0x8086 0x10d3) || nic=
eduv=$(vfio_of "$edu") || eduv=
nicv=$(vfio_of "$nic") || nicv=
note "edu $edu is $eduv, e1000e $nic is $nicv"

# ---- an IOAS and the first device: the geometry the kernel reports
check "mkdir ioas/vm" mkdir "$M/ioas/vm"
check "ioas/vm/id reads" grep -q . "$M/ioas/vm/id"
check "mkdir devices/vfio0 binds /dev/vfio/devices/vfio0" mkdir "$M/devices/vfio0"
check "ln -s ../../ioas/vm devices/vfio0/ioas attaches" ln -s ../../ioas/vm "$M/devices/vfio0/ioas"
expect_eq "the link reads back" "$(readlink "$M/devices/vfio0/ioas")" "../../ioas/vm"
check "hw_info is decoded as VT-d" grep -qiE 'vt-?d|intel' "$M/devices/vfio0/hw_info"
expect_file "iova_ranges: the MSI hole and the 39-bit top" "$M/ioas/vm/iova_ranges" \
	"0x0000000000000000-0x00000000fedfffff
0x00000000fef00000-0x0000007fffffffff"
expect_file "alignment is the IOMMU page" "$M/ioas/vm/alignment" "0x1000"

# ---- sources: tmpfs files, and daemon-owned memory
dd if=/dev/zero of=/tmp/src.bin bs=64K count=1 2>/dev/null
dd if=/dev/zero of=/tmp/dst.bin bs=64K count=1 2>/dev/null
check "mkdir sources/src sources/dst sources/ram" mkdir "$M/sources/src" "$M/sources/dst" "$M/sources/ram"
expect_eq "sources/src/path = /tmp/src.bin" "$(write_err "$M/sources/src/path" /tmp/src.bin)" ""
expect_eq "sources/dst/path = /tmp/dst.bin" "$(write_err "$M/sources/dst/path" /tmp/dst.bin)" ""
expect_eq "sources/ram/path = anon 4M" "$(write_err "$M/sources/ram/path" "anon 4M")" ""
expect_file "sources/src/size" "$M/sources/src/size" "0x10000"

# ---- text map and unmap. The edu device reaches only 28-bit addresses: keep its IOVAs low.
expect_eq "map 0x100000 64K src" "$(write_err "$M/ioas/vm/map" "0x100000 64K src rw")" ""
expect_eq "map 0x200000 64K dst" "$(write_err "$M/ioas/vm/map" "0x200000 64K dst rw")" ""
expect_eq "a fixed map in the MSI hole is refused with EINVAL" \
	"$(write_err "$M/ioas/vm/map" "0xfee00000 4K ram")" "Invalid argument"
err=$(write_err "$M/ioas/vm/map" "0x8000000000 4K ram")
if [ -n "$err" ]; then ok "a fixed map above the 39-bit top is refused ($err)"; else
	not_ok "a fixed map at 0x8000000000, above the 39-bit top, succeeded"; fi
expect_auto_map "$M/ioas/vm/map" 0x200000 ram
expect_file "mappings, sorted" "$M/ioas/vm/mappings" \
	"$(sort <<EOF
0x0000000000100000-0x000000000010ffff rw src+0x0
0x0000000000200000-0x000000000020ffff rw dst+0x0
$AUTO_IOVA-$AUTO_LAST rw ram+0x0
EOF
)"
expect_eq "unmap the auto map" "$(write_err "$M/ioas/vm/unmap" "$AUTO_IOVA 2M")" ""

# ---- DMA by the edu device through the mappings
if [ -z "$edu" ] || [ -z "$eduv" ]; then
	not_ok "no edu device on vfio-pci: cannot show DMA through the IOMMU"
	finish
fi
if [ "$eduv" != vfio0 ]; then
	check "mkdir devices/$eduv binds the edu device" mkdir "$M/devices/$eduv"
	check "ln -s attaches the edu device to ioas/vm" ln -s ../../ioas/vm "$M/devices/$eduv/ioas"
fi
check "ioas/vm/devices lists the edu device" test -L "$M/ioas/vm/devices/$eduv"

pattern() { printf '%-64.64s' "ioasfs-edu-dma-$1-$RANDOM$RANDOM$RANDOM-through-the-emulated-vt-d"; }
pat1=$(pattern one)
printf '%s' "$pat1" | dd of=/tmp/src.bin conv=notrunc 2>/dev/null
faults=$(dmar_faults)
if "$EDU_DMA" -d "$edu" copy 0x100000 0x200000 64 >"$WORK/edu.out" 2>&1; then
	ok "edu DMA 0x100000 -> device -> 0x200000 finishes"
else
	not_ok "edu DMA did not finish"
	note_file "$WORK/edu.out"
fi
expect_eq "the bytes the device read at IOVA 0x100000 arrived in dst.bin at IOVA 0x200000" \
	"$(head -c 64 /tmp/dst.bin)" "$pat1"
expect_eq "no IOMMU fault while both IOVAs were mapped" "$(dmar_faults)" "$faults"

# unmap the destination: the device's write must be blocked and reported, dst.bin unchanged
expect_eq "unmap 0x200000 64K" "$(write_err "$M/ioas/vm/unmap" "0x200000 64K")" ""
expect_file "mappings after unmap" "$M/ioas/vm/mappings" \
	"0x0000000000100000-0x000000000010ffff rw src+0x0"
pat2=$(pattern two)
printf '%s' "$pat2" | dd of=/tmp/src.bin conv=notrunc 2>/dev/null
"$EDU_DMA" -d "$edu" copy 0x100000 0x200000 64 >"$WORK/edu.out" 2>&1 ||
	note "edu-dma after unmap: $(tail -n 1 "$WORK/edu.out")"
expect_dmar_fault "the IOMMU blocked the write to the unmapped IOVA" "$faults" Write 0x200000
expect_eq "after unmap the DMA did not reach dst.bin" "$(head -c 64 /tmp/dst.bin)" "$pat1"
faults=$(dmar_faults)

# unmap the source too: now the device's read is blocked
expect_eq "unmap all" "$(write_err "$M/ioas/vm/unmap" all)" ""
"$EDU_DMA" -d "$edu" to-dev 0x100000 64 >"$WORK/edu.out" 2>&1 ||
	note "edu-dma after unmap all: $(tail -n 1 "$WORK/edu.out")"
expect_dmar_fault "the IOMMU blocked the read of the unmapped IOVA" "$faults" Read 0x100000

# ---- detach and tear down
check "rm devices/vfio0/ioas detaches" rm "$M/devices/vfio0/ioas"
[ "$eduv" = vfio0 ] || check "rm devices/$eduv/ioas detaches" rm "$M/devices/$eduv/ioas"
check "rmdir ioas/vm once nothing is attached" rmdir "$M/ioas/vm"
finish
