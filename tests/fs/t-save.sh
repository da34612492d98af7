#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Operations (DESIGN.md): `cat save` prints the whole configuration as JSON and
# `ioasfs -o restore=FILE` rebuilds it. A save restored and saved again must be the same
# bytes and the tree must read the same, including an `auto` window whose first-fit place
# depends on history a restore cannot replay; a damaged file must stop the start with exit
# status 1 and a message that names what is wrong. Also the feature lines of `status` and
# contrib/ioasfs-save, which the systemd unit uses to write the file atomically.
. "${TESTLIB:-$(dirname "$0")/lib.sh}" || exit 99

SAVE_TOOL=$TESTDIR/../../contrib/ioasfs-save

# The tree minus what a restore cannot and need not reproduce: backend object ids (allocated
# in restore order) and the maps/unmaps counters (history, not configuration).
config_snapshot() {
	snapshot | awk '/^== \.\/ioas\/[^/]*\/id$/ { skip = 1; next }
		skip { skip = 0; next }
		/^(maps|unmaps) [0-9]+$/ { next }
		{ print }'
}

# restore_fails DESC FILE REGEX [OPTIONS]: the daemon refuses to start, exit status 1, and
# its message on stderr matches REGEX. (timeout: a restore that wrongly succeeds would serve.)
restore_fails() {
	local desc=$1 file=$2 re=$3 opts=${4:+,$4} rc=0
	timeout 30 "$IOASFS_BIN" -f -o "restore=$file$opts" "$M" >"$WORK/restore.out" 2>&1 || rc=$?
	if mountpoint -q "$M"; then
		fusermount3 -u "$M"
	fi
	if [ "$rc" -ne 1 ]; then
		fail "$desc: exit status $rc, expected 1: $(cat "$WORK/restore.out")"
	elif grep -Eq -- "$re" "$WORK/restore.out"; then
		pass "$desc ($(head -n 1 "$WORK/restore.out"))"
	else
		fail "$desc: message [$(cat "$WORK/restore.out")] does not match /$re/"
	fi
}

mount_ioasfs || finish

# ---- status: the kernel features, honestly answered for the sim
expect_match "status: map_file" "$M/status" "^map_file no"
expect_match "status: uring_cmd" "$M/status" "^uring_cmd (no|yes|unknown)"
expect_match "status: dirty_tracking" "$M/status" "^dirty_tracking no \(sim backend\)$"
expect_match "status: iommufd_test" "$M/status" "^iommufd_test no \(sim backend\)$"

# ---- save of an empty tree
expect_eq "save is read-only" "$(stat -c %A "$M/save")" "-r--r--r--"
expect_eq "save has the size of its JSON" "$(stat -c %s "$M/save")" "$(wc -c <"$M/save")"
expect_file "save of an empty tree" "$M/save" '{
  "version": 1,
  "platform": "# ioasfs platform profile: x86-vtd\niova_bits 48\nreserved 0x00000000fee00000-0x00000000feefffff msi\npage_sizes 4K 2M 1G\nmax_windows 0\niommu intel_vtd\n",
  "sources": [],
  "ioas": [],
  "devices": []
}'
expect "writing save" EACCES write "$M/save" "{}"

# ---- a configuration with some history; names not created in sorted order
dd if=/dev/urandom of="$WORK/file" bs=64K count=4 status=none
mkdir "$M/sources/buf" "$M/sources/file" "$M/sources/spare"
echo "anon 4M" >"$M/sources/buf/path"
echo "$WORK/file" >"$M/sources/file/path"
mkdir "$M/ioas/vm" "$M/ioas/dpdk"
echo "0x100000000 64K buf+0x10000 rw" >"$M/ioas/vm/map" # before any window: outside them
for w in a b c fixed; do mkdir "$M/ioas/vm/windows/$w"; done
echo 1G >"$M/ioas/vm/windows/a/size"
echo 1G >"$M/ioas/vm/windows/b/size"
rmdir "$M/ioas/vm/windows/a"
# first fit now puts c after b; replayed in name order without history it would land at 0
echo 1536M >"$M/ioas/vm/windows/c/size"
echo 2M >"$M/ioas/vm/windows/fixed/page_size"
echo 3 >"$M/ioas/vm/windows/fixed/levels"
echo 0x200000000 >"$M/ioas/vm/windows/fixed/start"
echo 1G >"$M/ioas/vm/windows/fixed/size"
mkdir "$M/ioas/vm/windows/pending"
echo 2M >"$M/ioas/vm/windows/pending/page_size"
expect_file "window c was placed after b" "$M/ioas/vm/windows/c/state" \
	"active 0x0000000080000000-0x00000000dfffffff"
printf '%s\n' "0x40000000 4K buf r" "0x40001000 8K buf+0x3000 w" "0x80000000 64K file+0x0 rw" \
	"0x200000000 2M buf+0x200000" >"$M/ioas/vm/map"
echo "0x90000000 64K file+0x10000 r" >"$M/ioas/vm/map"
echo "0x40100000 4K buf" >"$M/ioas/vm/map"
echo "0x40100000 4K" >"$M/ioas/vm/unmap"
echo 0 >"$M/ioas/dpdk/options/huge_pages"
printf '%s\n' "0x10000 64K buf+0x1000 rw" "0x20000 4K file+0x3f000 r" >"$M/ioas/dpdk/map"
mkdir "$M/devices/nic0" "$M/devices/acc" "$M/devices/idle"
printf '%s\n' "0x1000000-0x1ffffff rmrr" "0xfee00000-0xfeefffff msi" >"$M/devices/acc/reserved"
ln -s ../../ioas/vm "$M/devices/nic0/ioas"
ln -s ../../ioas/dpdk "$M/devices/acc/ioas"
expect_file "the custom reserved regions" "$M/devices/acc/reserved" \
	"0x0000000001000000-0x0000000001ffffff rmrr
0x00000000fee00000-0x00000000feefffff msi"

cat "$M/save" >"$WORK/A.json"
before=$(config_snapshot)
expect_match "save lists the auto window where it is" "$WORK/A.json" \
	'"name": "c", "start": "auto", "size": "0x60000000", .*"state": "active 0x0000000080000000-0x00000000dfffffff"'
expect_match "save keeps a mapping as its mappings line" "$WORK/A.json" \
	'^        "0x0000000040001000-0x0000000040002fff w buf\+0x3000",$'
expect_match "save names a file source by path" "$WORK/A.json" "\"name\": \"file\", \"path\": \"$WORK/file\""
expect_match "save lists IOASes by name" "$WORK/A.json" '"name": "dpdk",'
if [ "$(grep -n '"name": "dpdk",' "$WORK/A.json" | cut -d: -f1)" -lt \
	"$(grep -n '"name": "vm",' "$WORK/A.json" | cut -d: -f1)" ]; then
	pass "IOASes sorted by name"
else
	fail "IOASes not sorted by name"
fi
cat "$M/save" >"$WORK/A2.json"
if cmp -s "$WORK/A.json" "$WORK/A2.json"; then pass "two saves are the same bytes"; else fail "two saves differ"; fi
if command -v jq >/dev/null; then
	expect_eq "jq reads it" "$(jq -r '.ioas[1].mappings[0]' "$WORK/A.json")" \
		"0x0000000040000000-0x0000000040000fff r buf+0x0"
	expect_eq "its platform is a profile" "$(jq -r .platform "$WORK/A.json")" \
		"$(cat "$M/platform/profile")"
fi

# contrib/ioasfs-save: the file is written whole and private
if "$SAVE_TOOL" "$M" "$WORK/state.json" 2>"$WORK/save.err"; then
	if cmp -s "$WORK/A.json" "$WORK/state.json"; then pass "ioasfs-save writes the save"; else fail "ioasfs-save wrote something else"; fi
	expect_eq "ioasfs-save: mode 600" "$(stat -c %a "$WORK/state.json")" "600"
	expect_eq "ioasfs-save: no temporary left" "$(ls "$WORK" | grep -c 'state.json.')" "0"
else
	fail "ioasfs-save: $(cat "$WORK/save.err")"
fi
expect_eq "ioasfs-save of a non-mount fails" "$("$SAVE_TOOL" "$WORK" "$WORK/x.json" 2>/dev/null; echo $?)" "1"
expect_eq "and leaves no file" "$(ls "$WORK" | grep -c '^x.json')" "0"
umount_ioasfs

# ---- restore, then save again: the same bytes, the same tree
if mount_ioasfs "restore=$WORK/A.json"; then
	cat "$M/save" >"$WORK/B.json"
	if cmp -s "$WORK/A.json" "$WORK/B.json"; then
		pass "restore then save: byte-identical"
	else
		fail "restore then save differs:"
		diff "$WORK/A.json" "$WORK/B.json" | head -20
	fi
	now=$(config_snapshot)
	if [ "$now" = "$before" ]; then
		pass "the restored tree reads the same"
	else
		fail "the restored tree reads differently:"
		diff <(printf '%s\n' "$before") <(printf '%s\n' "$now") | head -20
	fi
	expect_file "the auto window reads auto" "$M/ioas/vm/windows/c/start" "auto"
	expect_file "and sits where it was" "$M/ioas/vm/windows/c/state" \
		"active 0x0000000080000000-0x00000000dfffffff"
	expect_file "a restored file source maps the file" "$M/sources/file/size" "0x40000"
	expect_file "huge_pages 0 kept" "$M/ioas/dpdk/options/huge_pages" "0"
	expect_eq "no errors from a restore" "$(errcount)" "0"
	umount_ioasfs
fi

# ---- restore refuses damaged files, exit status 1, and says what is wrong
head -c 700 "$WORK/A.json" >"$WORK/trunc.json"
restore_fails "truncated JSON" "$WORK/trunc.json" \
	"^ioasfs: restore: $WORK/trunc.json: not JSON: line [0-9]+ column [0-9]+: unexpected end of file$"
printf '{ "version": 1, }' >"$WORK/comma.json"
restore_fails "not JSON (a trailing comma)" "$WORK/comma.json" \
	"comma.json: not JSON: line 1 column 17: unexpected character"
sed 's/"huge_pages": 0/"huge_pages": "0"/' "$WORK/A.json" >"$WORK/type.json"
restore_fails "a wrong type" "$WORK/type.json" \
	'type.json: .ioas\[0\].options: "huge_pages": expected 0 or 1, got string$'
sed 's/"size": "0x40000000", "page_size": "0x200000", "levels": "3"/"size": 1073741824, "page_size": "0x200000", "levels": "3"/' \
	"$WORK/A.json" >"$WORK/type2.json"
restore_fails "a number where a string is expected" "$WORK/type2.json" \
	'type2.json: .ioas\[1\].windows\[2\]: "size": expected a string, got int$'
sed 's/"name": "nic0", "reserved"/"name": "nic0", "reservd"/' "$WORK/A.json" >"$WORK/key.json"
restore_fails "an unknown key" "$WORK/key.json" 'key.json: .devices\[2\]: unknown key "reservd"$'
sed 's/"version": 1,/"version": 1, "extra": true,/' "$WORK/A.json" >"$WORK/key2.json"
restore_fails "an unknown top-level key" "$WORK/key2.json" 'unknown key "extra"$'
sed 's/"version": 1/"version": 2/' "$WORK/A.json" >"$WORK/version.json"
restore_fails "another version" "$WORK/version.json" '.version: expected 1, got int 2$'
sed 's/"start": "0x200000000", "size": "0x40000000"/"start": "0xc0000000", "size": "0x40000000"/;
	s/active 0x0000000200000000-0x000000023fffffff/active 0x00000000c0000000-0x00000000ffffffff/' \
	"$WORK/A.json" >"$WORK/window.json"
restore_fails "a window this platform cannot place" "$WORK/window.json" \
	'^ioasfs: restore: ioas vm window fixed: EADDRINUSE: window fixed 0xc0000000-0xffffffff crosses reserved 0xfee00000-0xfeefffff \(msi\)$'
sed 's/"start": "0x200000000", "size": "0x40000000"/"start": "0x200000000", "size": "0x50000000"/' \
	"$WORK/A.json" >"$WORK/wstate.json"
restore_fails "a window whose state contradicts its size" "$WORK/wstate.json" \
	'.ioas\[1\].windows\[2\]: "state": "active 0x0000000200000000-0x000000023fffffff" does not match start and size$'
sed 's/{ "name": "file", "path"/{ "name": "other", "path"/' "$WORK/A.json" >"$WORK/source.json"
restore_fails "a mapping whose source is missing" "$WORK/source.json" \
	"^ioasfs: restore: ioas dpdk mapping \"0x0000000000020000-0x0000000000020fff r file\+0x3f000\": ENOENT: no source 'file'$"
sed 's/"0x0000000040000000-0x0000000040000fff r buf+0x0"/"0x0000000040000000-0x0000000040000fff x buf+0x0"/' \
	"$WORK/A.json" >"$WORK/prot.json"
restore_fails "a mapping with a bad access" "$WORK/prot.json" \
	'.ioas\[1\].mappings\[0\]: access "x" is not r, w or rw$'
sed "s|\"path\": \"$WORK/file\"|\"path\": \"file\"|" "$WORK/A.json" >"$WORK/relative.json"
restore_fails "a relative source path" "$WORK/relative.json" \
	'relative.json: .sources\[1\]: "path": expected an absolute path, got "file"$'
# a file source that is gone does not stop the start: it is left unset, its mappings skipped
sed "s|\"path\": \"$WORK/file\"|\"path\": \"$WORK/gone\"|" "$WORK/A.json" >"$WORK/gone.json"
if mount_ioasfs "restore=$WORK/gone.json"; then
	expect_file "a file source that is gone is left unset" "$M/sources/file/path" ""
	expect_file "its mappings are skipped, the others rebuilt" "$M/ioas/dpdk/mappings" \
		"0x0000000000010000-0x000000000001ffff rw buf+0x1000"
	expect_match "errors says so" "$M/errors" \
		"restore: source file \($WORK/gone\): ENOENT; left unset, 2 mapping\(s\) of ioas vm skipped$"
	umount_ioasfs
else
	fail "a file source that is gone stops the start"
fi
restore_fails "another platform" "$WORK/A.json" \
	'.platform: the file was saved on platform x86-vtd, not amd-vi, which is in force; start with -o platform=x86-vtd' \
	platform=amd-vi
restore_fails "a missing file" "$WORK/nonexistent.json" "nonexistent.json: No such file or directory$"
: >"$WORK/empty.json"
restore_fails "an empty file" "$WORK/empty.json" "empty.json: not JSON: line 1 column 1: unexpected end of file$"

# ---- a hand-written file: only what differs from the defaults
cat >"$WORK/hand.json" <<'EOF'
{
  "version": 1,
  "sources": [ { "name": "buf", "anon": "2M" } ],
  "ioas": [ { "name": "vm", "windows": [ { "name": "w", "size": "1G" } ],
              "mappings": [ "0x1000-0x1fff rw buf+0x1000" ] } ],
  "devices": [ { "name": "nic0", "ioas": "vm" } ]
}
EOF
if mount_ioasfs "restore=$WORK/hand.json"; then
	expect_file "hand-written: window placed" "$M/ioas/vm/windows/w/state" \
		"active 0x0000000000000000-0x000000003fffffff"
	expect_file "hand-written: mapping" "$M/ioas/vm/mappings" \
		"0x0000000000001000-0x0000000000001fff rw buf+0x1000"
	expect_eq "hand-written: attached" "$(readlink "$M/devices/nic0/ioas")" "../../ioas/vm"
	umount_ioasfs
fi

# ---- 100,000 mappings: the round trip at scale (figures printed, not asserted)
mount_ioasfs || finish
mkdir "$M/sources/buf" "$M/ioas/big"
echo "anon 1G" >"$M/sources/buf/path"
awk 'BEGIN { for (i = 0; i < 100000; i++)
	printf "0x%x 4K buf+0x%x %s\n", 268435456 + i * 8192, (i * 4096) % 1073741824,
		(i % 3 == 0) ? "r" : (i % 3 == 1) ? "w" : "rw" }' >"$WORK/maps.txt"
cat "$WORK/maps.txt" >"$M/ioas/big/map"
t0=$(date +%s.%N)
cat "$M/save" >"$WORK/big.json"
t1=$(date +%s.%N)
expect_eq "100,000 mappings saved" "$(grep -c '^        "0x' "$WORK/big.json")" "100000"
umount_ioasfs
t2=$(date +%s.%N)
if mount_ioasfs "restore=$WORK/big.json"; then
	t3=$(date +%s.%N)
	# not cmp FILE save: cmp trusts st_size, and save has 0 like procfs
	cat "$M/save" >"$WORK/big2.json"
	if cmp -s "$WORK/big.json" "$WORK/big2.json"; then
		pass "100,000 mappings: restore then save is byte-identical"
	else
		fail "100,000 mappings: restore then save differs"
	fi
	log "# save of 100,000 mappings: $(awk "BEGIN { print $t1 - $t0 }") s," \
		"$(stat -c %s "$WORK/big.json") bytes; start with their restore:" \
		"$(awk "BEGIN { print $t3 - $t2 }") s"
fi
finish
