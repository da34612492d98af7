#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Guest suite: save and restore on the kernel backend. A configuration with a real device
# attached (its MSI hole and 39-bit aperture in force), a window, a source and mappings is
# saved, the daemon is stopped, and a new daemon started with -o restore= rebuilds it through
# the real ioctls: the same save, the same iova_ranges, the device attached again. The device
# is named nic and bound through devices/nic/path, so the save carries its cdev path.
# shellcheck source=lib.sh
. "$VMLIB"

bdf=$(pci_find 0x8086 0x10d3) && v=$(vfio_of "$bdf") || v=vfio0
mount_ioasfs backend=kernel || { not_ok "ioasfs -o backend=kernel mounts"; finish; }
check "mkdir ioas/vm ioas/other sources/ram devices/nic" \
	mkdir "$M/ioas/vm" "$M/ioas/other" "$M/sources/ram" "$M/devices/nic"
expect_file "devices/nic has no cdev yet: path is empty" "$M/devices/nic/path" ""
expect_eq "devices/nic/path = /dev/vfio/devices/$v binds it" \
	"$(write_err "$M/devices/nic/path" "/dev/vfio/devices/$v")" ""
expect_file "path reads back" "$M/devices/nic/path" "/dev/vfio/devices/$v"
expect_eq "sources/ram/path = anon 8M" "$(write_err "$M/sources/ram/path" "anon 8M")" ""
check "ln -s attaches nic" ln -s ../../ioas/vm "$M/devices/nic/ioas"
check "mkdir ioas/vm/windows/low" mkdir "$M/ioas/vm/windows/low"
expect_eq "window low 1G at 0x40000000" \
	"$( (write_err "$M/ioas/vm/windows/low/start" 0x40000000;
		write_err "$M/ioas/vm/windows/low/size" 1G) | tr -d '\n')" ""
expect_eq "map three regions" \
	"$(write_err "$M/ioas/vm/map" "$(printf '0x40000000 2M ram\nauto 64K ram+0x200000 r\nauto 4K ram+0x300000\n')")" ""
expect_eq "map into ioas/other" "$(write_err "$M/ioas/other/map" "0x1000 4K ram")" ""
saved=$(cat "$M/save")
ranges=$(cat "$M/ioas/vm/iova_ranges")
maps=$(cat "$M/ioas/vm/mappings")
printf '%s\n' "$saved" >"$WORK/saved.json"
note "iova_ranges before: $(tr '\n' ' ' <<<"$ranges")"
umount_ioasfs

mount_ioasfs "backend=kernel,restore=$WORK/saved.json" ||
	{ not_ok "restart with restore="; finish; }
ok "restart with -o restore= on the kernel backend"
expect_eq "the restored save equals the saved one" "$(cat "$M/save")" "$saved"
expect_eq "iova_ranges restored" "$(cat "$M/ioas/vm/iova_ranges")" "$ranges"
expect_eq "mappings restored" "$(cat "$M/ioas/vm/mappings")" "$maps"
expect_eq "nic bound to $v and attached again" \
	"$(cat "$M/devices/nic/path") $(readlink "$M/devices/nic/ioas")" \
	"/dev/vfio/devices/$v ../../ioas/vm"
expect_eq "window low active" "$(cat "$M/ioas/vm/windows/low/state")" \
	"active 0x0000000040000000-0x000000007fffffff"
check "unmap all, unlink, rmdir everything" bash -c "echo all >'$M/ioas/vm/unmap' &&
	echo all >'$M/ioas/other/unmap' && rm '$M/devices/nic/ioas' &&
	rmdir '$M/ioas/vm/windows/low' '$M/ioas/vm' '$M/ioas/other' '$M/sources/ram' '$M/devices/nic'"
finish
