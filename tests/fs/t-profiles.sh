#!/bin/bash
# Platform profiles: each built-in one shows its geometry, `platform/profile` can be copied
# to a file and used with -o platform=FILE to get the same platform back.
. "${TESTLIB:-$(dirname "$0")/lib.sh}" || exit 99

declare -A RESERVED=(
	[x86-vtd]="0x00000000fee00000-0x00000000feefffff msi"
	[amd-vi]="0x00000000fee00000-0x00000000feefffff msi
0x000000fd00000000-0x000000ffffffffff ht"
	[arm-smmuv3]="0x0000000008000000-0x00000000080fffff sw_msi"
	[ppc64-papr]=""
)
declare -A RANGES=(
	[x86-vtd]="0x0000000000000000-0x00000000fedfffff
0x00000000fef00000-0x0000ffffffffffff"
	[amd-vi]="0x0000000000000000-0x00000000fedfffff
0x00000000fef00000-0x000000fcffffffff
0x0000010000000000-0x0000ffffffffffff"
	[arm-smmuv3]="0x0000000000000000-0x0000000007ffffff
0x0000000008100000-0x0000ffffffffffff"
	[ppc64-papr]="0x0000000000000000-0x000000007fffffff
0x0800000000000000-0x0800ffffffffffff"
)
declare -A HWTYPE=([x86-vtd]=intel_vtd [amd-vi]=amd_vi [arm-smmuv3]=arm_smmuv3 [ppc64-papr]=none)

for p in x86-vtd amd-vi arm-smmuv3 ppc64-papr; do
	mount_ioasfs "platform=$p" || finish
	expect_file "$p: reserved" "$M/platform/reserved" "${RESERVED[$p]}"
	mkdir "$M/ioas/x" "$M/devices/d"
	expect_file "$p: iova_ranges of a new IOAS" "$M/ioas/x/iova_ranges" "${RANGES[$p]}"
	expect_match "$p: hw_info type" "$M/devices/d/hw_info" "^type ${HWTYPE[$p]}$"
	ln -s ../../ioas/x "$M/devices/d/ioas"
	expect_file "$p: attaching a device changes nothing visible" "$M/ioas/x/iova_ranges" \
		"${RANGES[$p]}"
	cat "$M/platform/profile" >"$WORK/$p.profile"
	expect_match "$p: profile names itself" "$WORK/$p.profile" "^# ioasfs platform profile: $p$"
	umount_ioasfs
	mount_ioasfs "platform=$WORK/$p.profile" || finish
	expect_match "$p: a copied profile is a platform" "$M/status" "^platform $WORK/$p.profile$"
	expect_eq "$p: same geometry back" "$(grep -v '^#' "$M/platform/profile")" \
		"$(grep -v '^#' "$WORK/$p.profile")"
	umount_ioasfs
done
finish
