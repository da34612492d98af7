#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Guest suite: the conformance transcript with the kernel's IOMMUFD_TEST mock devices
# (IOMMU_TEST_CMD MOCK_DOMAIN: aperture 0x1000000-0x7fffffff, 2 KiB IO pages) instead of the
# vfio-bound ones, printed as "M " lines; tests/conform/compare-mock runs the sim on
# tests/conform/mock.profile on the host and compares.
# shellcheck source=lib.sh
. "$VMLIB"
CONFORM_OPS=${CONFORM_OPS:-20000}

if conform --backend kernel --mock --ops "$CONFORM_OPS" >"$WORK/kernel.txt" \
	2>"$WORK/conform.err"; then
	ok "conform with mock devices on the kernel backend: $(wc -l <"$WORK/kernel.txt") operations"
else
	not_ok "conform with mock devices on the kernel backend failed"
	note_file "$WORK/conform.err"
fi
expect_eq "mock devices attached in the transcript" \
	"$(grep -c 'mock attach .* -> 0 ' "$WORK/kernel.txt" | awk '{ print ($1 > 0) }')" 1
echo "# conform transcript (mock devices) follows"
sed 's/^/M /' "$WORK/kernel.txt"
echo "# conform transcript ends"
finish
