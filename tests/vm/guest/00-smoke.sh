#!/bin/bash
# The plumbing of tests/vm, before any kernel backend: the guest kernel has iommufd and VFIO
# cdevs, the assigned devices are on vfio-pci, the ioasfs daemon (with its shared libraries)
# runs and mounts through FUSE, and the edu device's DMA is seen by the IOMMU: a DMA to an
# IOVA that nothing mapped is blocked and reported in the kernel log, which is what the
# kernel suite relies on to show that an unmap took effect.
# shellcheck source=lib.sh
. "${VMLIB:-/vm/lib.sh}" || exit 99

check "/dev/iommu is a character device" test -c /dev/iommu
check "/dev/vfio/devices/vfio0 is a character device" test -c /dev/vfio/devices/vfio0
edu=$(pci_find 0x1234 0x11e8) || edu=
if [ -n "$edu" ]; then
	drv=$(basename "$(readlink "/sys/bus/pci/devices/$edu/driver")")
	expect_eq "edu device $edu is bound to vfio-pci" "$drv" vfio-pci
	if v=$(vfio_of "$edu"); then ok "edu device has the VFIO cdev $v"; else not_ok "edu device has no vfio-dev"; fi
else
	not_ok "no edu device (1234:11e8) on the guest's PCI bus"
fi
expect_eq "edu-dma finds the same device" "$("$EDU_DMA" find 2>&1)" "$edu"

# ---- the daemon, sim backend
if mount_ioasfs backend=sim; then
	ok "ioasfs -o backend=sim mounts"
	check "status names the sim backend" grep -qi 'sim' "$M/status"
	note "status in the guest:"
	note_file "$M/status" 20
	check "mkdir ioas/a" mkdir "$M/ioas/a"
	check "mkdir sources/s" mkdir "$M/sources/s"
	expect_eq "anon source" "$(write_err "$M/sources/s/path" "anon 4M")" ""
	expect_auto_map "$M/ioas/a/map" 0x200000 s
	expect_file "mappings lists the map" "$M/ioas/a/mappings" "$AUTO_IOVA-$AUTO_LAST rw s+0x0"
	expect_eq "unmap all" "$(write_err "$M/ioas/a/unmap" all)" ""
	expect_file "mappings is empty after unmap" "$M/ioas/a/mappings" ""
	check "rmdir ioas/a" rmdir "$M/ioas/a"
	umount_ioasfs
	if is_mounted; then not_ok "still mounted after umount"; else ok "unmounted"; fi
else
	not_ok "ioasfs -o backend=sim mounts"
fi

# ---- the edu device's DMA goes through the IOMMU. The device sits in its default kernel
# DMA domain, where nothing is mapped at this IOVA, so the read must be blocked.
if [ -n "$edu" ]; then
	before=$(dmar_faults)
	if "$EDU_DMA" to-dev 0x4000000 64 >"$WORK/edu.out" 2>&1; then
		ok "edu DMA engine finishes a transfer: $(head -n 1 "$WORK/edu.out")"
	else
		not_ok "edu DMA engine did not finish"
		note_file "$WORK/edu.out"
	fi
	expect_dmar_fault "a DMA from an unmapped IOVA is blocked" "$before" Read 0x4000000
fi
finish
