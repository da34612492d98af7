#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Guest suite: the conformance transcript of the real kernel. tests/conform/conform runs its
# edge cases and seeded random operations on the kernel backend with both vfio-bound devices
# (e1000e, edu) and the transcript goes to the console as "K "-prefixed lines; tests/vm/run
# compares it with the sim backend's transcript made on the host (same seed, the qemu-vtd
# profile) and prints "conformance: N ops compared, M mismatches".
# shellcheck source=lib.sh
. "$VMLIB"
CONFORM_OPS=${CONFORM_OPS:-20000}

devs=()
for ids in "0x8086 0x10d3" "0x1234 0x11e8"; do
	# shellcheck disable=SC2086 # two words on purpose
	bdf=$(pci_find $ids) && v=$(vfio_of "$bdf") && devs+=(--device "/dev/vfio/devices/$v")
done
expect_eq "two vfio-bound devices for the conformance run" "${#devs[@]}" 4

if conform --backend kernel "${devs[@]}" --ops "$CONFORM_OPS" >"$WORK/kernel.txt" \
	2>"$WORK/conform.err"; then
	ok "conform on the kernel backend: $(wc -l <"$WORK/kernel.txt") operations"
else
	not_ok "conform on the kernel backend failed"
	note_file "$WORK/conform.err"
fi
echo "# conform transcript follows"
sed 's/^/K /' "$WORK/kernel.txt"
echo "# conform transcript ends"
finish
