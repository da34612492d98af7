#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every bound of ioasfs.5 LIMITS, read from `status` as a user would: the request one past a
# limit gets the documented errno and an `errors` line, and the configuration (`save`) does
# not change.
. "${TESTLIB:-$(dirname "$0")/lib.sh}"

mount_ioasfs max_mappings=8 || exit 1
lim() { sed -n "s/^$1 //p" "$M/status"; }

for k in limit_name limit_ioas limit_devices limit_sources limit_windows limit_mappings \
	limit_reserved limit_anon_bytes limit_errors limit_error_bytes limit_batch_cmds \
	limit_batch_cqes limit_batch_sessions limit_attr_bytes limit_line_bytes \
	limit_lines_per_write limit_pending_links limit_results_bytes limit_user_ioas \
	limit_user_devices limit_user_sources limit_user_batch_sessions limit_user_pending_links \
	limit_opens limit_user_opens limit_user_mappings limit_user_anon_bytes \
	limit_user_whole_handles; do
	v=$(lim "$k")
	case $v in
	'' | *[!0-9]*) fail "status: $k is [$v], not a number" ;;
	*) pass "status: $k $v" ;;
	esac
done
expect_eq "-o max_mappings sets limit_mappings" "$(lim limit_mappings)" 8

# same_save DESC BEFORE: save reads as BEFORE
same_save() { expect_same "$1" save "$2" "$(cat "$M/save")"; }

# expect_full DESC ERRNO REGEX fsop-args...: refused with ERRNO, one errors line matching
# REGEX, and save unchanged.
expect_full() {
	local desc=$1 want=$2 re=$3 before n
	shift 3
	before=$(cat "$M/save")
	n=$(errcount)
	expect "$desc" "$want" "$@"
	expect_error "$desc" "$re"
	expect_eq "$desc: one errors line" "$(errcount)" "$((n + 1))"
	same_save "$desc" "$before"
}

# ---- objects
fill() { # DIR COUNT: mkdir DIR/o1 .. DIR/oCOUNT
	(cd "$1" && seq -f 'o%g' 1 "$2" | xargs mkdir) || fail "mkdir of $2 in $1"
}
for kind in ioas devices sources; do
	case $kind in
	ioas) n=$(lim limit_ioas) what=ioas ;;
	devices) n=$(lim limit_devices) what=device ;;
	sources) n=$(lim limit_sources) what=source ;;
	esac
	fill "$M/$kind" "$n"
	expect_eq "$kind: $n made" "$(ls "$M/$kind" | wc -l)" "$n"
	expect_full "$kind: one more" ENOSPC "too many $what objects \\(limit $n\\)" \
		mkdir "$M/$kind/extra"
	expect_eq "$kind: still $n" "$(ls "$M/$kind" | wc -l)" "$n"
done
n=$(lim limit_windows)
fill "$M/ioas/o1/windows" "$n"
expect_full "windows: one more in an IOAS" ENOSPC "too many windows \\(limit $n\\)" \
	mkdir "$M/ioas/o1/windows/extra"
expect "windows: another IOAS has its own" ok mkdir "$M/ioas/o2/windows/w"
rmdir "$M/ioas/o2/windows/w"

# mappings: text, batch (one completion says ENOSPC) and copy
echo "anon 1M" >"$M/sources/o1/path"
maps=$(for i in $(seq 1 8); do printf '%#x 4K o1\n' $((i * 0x10000)); done)
expect "8 maps" ok write "$M/ioas/o2/map" "$maps"
expect_eq "8 mappings" "$(wc -l <"$M/ioas/o2/mappings")" 8
expect_full "mappings: a 9th map" ENOSPC "ioas o2 has 8 mappings \\(limit 8\\)" \
	write "$M/ioas/o2/map" "auto 4K o1"
expect "mappings: another IOAS has its own" ok write "$M/ioas/o3/map" "auto 4K o1"
z() { printf '\\0%.0s' $(seq 1 "$1"); }
# one COPY record (auto) of 0x10000..0x10fff from o2 into o2: o2 is full
rec="\\x01\\0\\x04\\x03$(z 4)$(z 8)$(z 8)\\0\\x10$(z 6)\\0\\0\\x01$(z 5)$(z 24)o2$(z 62)"
before=$(cat "$M/save")
res=$("$FSOP" rdwr "$M/ioas/o2/batch" "$rec" | tail -c 32 | od -An -td4 -j8 -N4 | tr -d ' ')
expect_eq "mappings: a batch copy into a full IOAS completes with -ENOSPC" "$res" "-28"
expect_error "mappings: copy" "record 1: copy: ioas o2 has 8 mappings, 1 more exceed the limit 8"
same_save "mappings: the copy" "$before"

# ---- values and text
n=$(lim limit_reserved)
lines=$(for i in $(seq 0 "$n"); do printf '%#x-%#x rmrr\n' $((0x100000000 + i * 0x1000)) \
	$((0x100000000 + i * 0x1000 + 0xfff)); done)
expect_full "reserved: $((n + 1)) regions" EINVAL "more than $n reserved regions" \
	write "$M/devices/o1/reserved" "$lines"
n=$(lim limit_anon_bytes)
expect_full "anon: one byte over" EINVAL "anon size must be 1 .. " \
	write "$M/sources/o2/path" "anon $((n + 1))"
n=$(lim limit_name)
long=$(printf 'n%.0s' $(seq 1 $((n + 1))))
expect_full "a name of $((n + 1)) characters" EINVAL "invalid ioas name" mkdir "$M/ioas/$long"
n=$(lim limit_line_bytes)
expect_full "a command line of $((n + 1)) bytes" EINVAL "line 1: longer than $n bytes" \
	write "$M/ioas/o3/unmap" "$(printf ' %.0s' $(seq 1 $((n - 2))))all\n\n"
n=$(lim limit_lines_per_write)
# over 128 KiB: one write(2) by dd, since no argument can be that long
for i in $(seq 1 $((n + 1))); do echo "auto 4K o1"; done >"$WORK/lines"
before=$(cat "$M/save")
dd if="$WORK/lines" of="$M/ioas/o3/map" bs=1M count=1 2>"$WORK/dd.err"
expect_match "$((n + 1)) lines in one write: EINVAL" "$WORK/dd.err" "Invalid argument"
expect_error "the write is refused whole" "$((n + 1)) lines in one write \\(limit $n\\)"
same_save "too many lines" "$before"
expect_eq "no line of it ran" "$(wc -l <"$M/ioas/o3/mappings")" 1
n=$(lim limit_attr_bytes)
expect_full "a value of $((n + 1)) bytes" EINVAL "value longer than $n bytes" \
	write "$M/sources/o3/path" "/$(printf 'x%.0s' $(seq 1 "$n"))"

# ---- the errors ring keeps the newest limit_errors lines
n=$(lim limit_errors)
for i in $(seq 1 $((n + 10))); do
	"$FSOP" write "$M/ioas/o3/map" "ring$i 4K o1" >/dev/null
done
expect_eq "errors holds $n lines" "$(errcount)" "$n"
expect_error "the newest is last" "ring$((n + 10))'"
w=$(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$M/errors")
[ "$w" -lt "$(lim limit_error_bytes)" ] && pass "errors lines are shorter than limit_error_bytes ($w)" ||
	fail "an errors line of $w bytes"
finish
