#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Guest suite: the batch channel on the kernel backend. The programs of tests/batch/ (raw
# records on the batch file, and libioasfs over io_uring) run against a daemon started with
# -o backend=kernel, after the e1000e has been bound so that the platform carries the real
# MSI hole and 39-bit aperture the programs' refusal cases expect; every map and unmap they
# make is an IOMMU_IOAS_MAP / UNMAP ioctl on the guest's /dev/iommu, and dma-fd's maps of a
# memfd by fd are IOMMU_IOAS_MAP_FILE (status must say map_file yes).
# shellcheck source=lib.sh
. "$VMLIB"

mount_ioasfs backend=kernel || { not_ok "ioasfs -o backend=kernel mounts"; finish; }
ok "ioasfs -o backend=kernel mounts"
bdf=$(pci_find 0x8086 0x10d3) && v=$(vfio_of "$bdf") || v=
check "mkdir devices/$v binds the e1000e" mkdir "$M/devices/$v"
expect_file "platform/reserved is the device's MSI hole" "$M/platform/reserved" \
	"0x00000000fee00000-0x00000000feefffff msi"

expect_eq "status: the kernel has IOMMU_IOAS_MAP_FILE" "$(grep '^map_file' "$M/status")" \
	"map_file yes"
for prog in malformed order sessions overflow lib-helpers lib-map65536 killed-client dma-fd; do
	rc=0
	"/bin/$prog" "$M" >"$WORK/$prog.out" 2>&1 || rc=$?
	sed 's/^/#   /' "$WORK/$prog.out"
	if [ $rc -eq 0 ]; then
		ok "$prog on the kernel backend"
	else
		not_ok "$prog on the kernel backend (exit status $rc)"
	fi
done
expect_eq "no IOAS left behind" "$(ls "$M/ioas" | wc -l)" 0
check "rmdir devices/$v" rmdir "$M/devices/$v"
finish
