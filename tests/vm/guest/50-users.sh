#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Guest suite: a user other than root cannot make the root daemon bind a VFIO cdev that user
# cannot open (the cdevs are crw------- root). With -o allow_other on the kernel backend,
# nobody's mkdir devices/vfioN and nobody's write to devices/D/path are refused with EACCES
# and one errors line; root's succeed.
# shellcheck source=lib.sh
. "$VMLIB"

as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

bdf=$(pci_find 0x8086 0x10d3) && v=$(vfio_of "$bdf") || v=vfio0
chmod 755 "$WORK"
mount_ioasfs backend=kernel,allow_other || { not_ok "ioasfs -o backend=kernel,allow_other"; finish; }
ok "ioasfs -o backend=kernel,allow_other mounts"
expect_eq "the cdev is root's alone" "$(stat -c '%a %u' "/dev/vfio/devices/$v")" "600 0"

err=$(as_nobody mkdir "$M/devices/$v" 2>&1) && rc=0 || rc=$?
expect_eq "nobody: mkdir devices/$v is refused" "$rc ${err##*: }" "1 Permission denied"
expect_eq "and leaves no device" "$(ls "$M/devices")" ""
if tail -n 1 "$M/errors" | grep -q "cannot bind device $v to /dev/vfio/devices/$v: EACCES"; then
	ok "errors says why: $(tail -n 1 "$M/errors" | cut -d' ' -f3-)"
else
	not_ok "errors line: $(tail -n 1 "$M/errors")"
fi

check "nobody: mkdir devices/nic (no cdev of that name: waits for its path)" \
	as_nobody mkdir "$M/devices/nic"
err=$(as_nobody sh -c "echo /dev/vfio/devices/$v > '$M/devices/nic/path'" 2>&1) && rc=0 || rc=$?
expect_eq "nobody: devices/nic/path = /dev/vfio/devices/$v is refused" "$rc" 1
expect_file "nic stays unbound" "$M/devices/nic/path" ""
check "nobody: rmdir devices/nic" as_nobody rmdir "$M/devices/nic"

check "root: mkdir devices/$v binds it" mkdir "$M/devices/$v"
expect_file "root's device is bound" "$M/devices/$v/path" "/dev/vfio/devices/$v"
err=$(as_nobody rmdir "$M/devices/$v" 2>&1) && rc=0 || rc=$?
expect_eq "nobody cannot remove root's device" "$rc ${err##*: }" "1 Operation not permitted"
check "root: rmdir devices/$v" rmdir "$M/devices/$v"
finish
