#!/bin/bash
# Bad input from a client: garbage lines, over-long lines, overflowing numbers, unknown words,
# NUL bytes, writes at odd offsets, random bytes. Each gets EINVAL (or the kernel's errno) and
# one line in `errors`, and the tree reads exactly as before. The daemon survives it all.
. "${TESTLIB:-$(dirname "$0")/lib.sh}" || exit 99

mount_ioasfs || finish
mkdir "$M/ioas/vm" "$M/ioas/vm/windows/w" "$M/sources/buf" "$M/devices/d"
echo "anon 1M" >"$M/sources/buf/path"
echo 0x100000 >"$M/ioas/vm/windows/w/start"
echo 16M >"$M/ioas/vm/windows/w/size"
echo "auto 64K buf" >"$M/ioas/vm/map"
MAP=$M/ioas/vm/map
W=$M/ioas/vm/windows/w
before=$(snapshot)

# bad DESC ERRNO REGEX fsop-args...: one refusal, one errors line matching REGEX
bad() {
	local desc=$1 want=$2 re=$3 n
	shift 3
	n=$(errcount)
	expect "$desc" "$want" "$@"
	expect_eq "$desc: one errors line" "$(errcount)" "$((n + 1))"
	expect_error "$desc" "$re"
}

long=$(printf 'x%.0s' $(seq 1100))
bad "a garbage map line" EINVAL 'line 1: expected "IOVA\|auto LENGTH' write "$MAP" "hello"
bad "too many words" EINVAL "line 1: expected" write "$MAP" "auto 4K buf rw extra"
bad "an unknown access word" EINVAL "invalid access \(r, w or rw\) 'x'" write "$MAP" "auto 4K buf x"
bad "a bad IOVA" EINVAL "invalid IOVA '0xg'" write "$MAP" "0xg 4K buf"
bad "a negative length" EINVAL "invalid LENGTH '-4096'" write "$MAP" "auto -4096 buf"
bad "a length that overflows" EOVERFLOW "does not fit in 64 bits" write "$MAP" "auto 18446744073709551616 buf"
bad "a suffix that overflows" EOVERFLOW "does not fit in 64 bits" write "$MAP" "auto 17179869184T buf"
bad "a bad offset" EINVAL "invalid OFFSET 'zz'" write "$MAP" "auto 4K buf+zz"
bad "a map line over 1024 bytes" EINVAL "line 1: longer than 1024 bytes" write "$MAP" "$long"
bad "a NUL byte in a map line" EINVAL "line 1: contains a NUL byte" write "$MAP" 'auto 4K\0 buf'
bad "the second of two lines fails" EINVAL "line 2: expected" write "$MAP" '\nbogus\n'
bad "a garbage unmap line" EINVAL 'line 1: expected "IOVA LENGTH" or "all"' write "$M/ioas/vm/unmap" "everything"
bad "a window size that overflows" EOVERFLOW "invalid size '99999999999999999999' \(does not fit" write "$W/size" "99999999999999999999"
bad "a window size with an unknown suffix" EINVAL "invalid size '1Q'" write "$W/size" "1Q"
bad "a signed start" EINVAL "invalid start '\+5'" write "$W/start" "+5"
bad "a word for a number" EINVAL "invalid levels 'many'" write "$W/levels" "many"
bad "size auto" EINVAL "invalid size 'auto'" write "$W/size" "auto"
bad "a NUL byte in a value" EINVAL "value contains a NUL byte" write "$W/start" '0x1000\0'
bad "two values" EINVAL "one value per write" write "$W/start" '0x1000\n0x2000\n'
bad "a value over 4096 bytes" EINVAL "value longer than 4096 bytes" write "$W/start" "$(printf '1%.0s' $(seq 5000))"
bad "a write at an odd offset" EINVAL "write at offset 3" writeat 3 "$W/start" "0x1000"
bad "huge_pages yes" EINVAL "invalid huge_pages 'yes'" write "$M/ioas/vm/options/huge_pages" "yes"
bad "a reserved line without a kind" EINVAL "expected \"START-LAST KIND\"" write "$M/devices/d/reserved" "0x0-0xfff"
bad "a reserved range backwards" EINVAL "invalid range '0x2000-0x1000'" write "$M/devices/d/reserved" "0x2000-0x1000 x"
bad "overlapping reserved ranges" EINVAL "overlaps" write "$M/devices/d/reserved" '0x0-0xfff a\n0x800-0x1fff b'
bad "a source path with no size" EINVAL "invalid anon size ''" write "$M/sources/buf/path" "anon"
expect_unchanged "after every refusal" "$before"

# random bytes into every writable file: refused or applied, never a crash
for i in $(seq 1 40); do
	for f in "$MAP" "$M/ioas/vm/unmap" "$W/start" "$W/size" "$W/page_size" "$W/levels" \
		"$M/ioas/vm/options/huge_pages" "$M/devices/d/reserved"; do
		head -c $((RANDOM % 300 + 1)) /dev/urandom >"$WORK/junk"
		"$FSOP" write "$f" "$(tr -d '\0' <"$WORK/junk" | head -c 290 | sed 's/\\/\\\\/g')" >/dev/null
	done
done
if kill -0 "$PID" && [ -r "$M/status" ]; then
	pass "the daemon survived 320 random writes"
else
	fail "the daemon died under random writes"
fi
expect_file "the mapping is still there" "$M/ioas/vm/mappings" \
	"0x0000000000100000-0x000000000010ffff rw buf+0x0"

# a profile with an unknown key refuses to start and says which line
printf 'iova_bits 48\nfrobnicate 1\n' >"$WORK/bad.profile"
if "$IOASFS_BIN" -f -o platform="$WORK/bad.profile" "$WORK" 2>"$WORK/bad.err"; then
	fail "ioasfs started with a bad profile"
else
	expect_match "a bad profile is refused with its line" "$WORK/bad.err" "line 2: .*frobnicate"
fi
finish
