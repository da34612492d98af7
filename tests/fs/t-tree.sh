#!/bin/bash
# The tree as DESIGN.md "The tree" describes it: listings, modes, sysfs-like attributes,
# configfs-like mkdir/rmdir/ln, sources, stats, hw_info and the errors format.
. "${TESTLIB:-$(dirname "$0")/lib.sh}" || exit 99

mount_ioasfs || finish
expect_eq "root listing" "$(ls "$M" | tr '\n' ' ')" "devices errors ioas platform save sources status "
expect_match "status names the backend" "$M/status" "^backend sim$"
expect_match "status names the platform" "$M/status" "^platform x86-vtd$"
expect_match "status shows limits" "$M/status" "^limit_line_bytes 1024$"
expect_file "iova_bits" "$M/platform/iova_bits" "48"
expect_file "page_sizes" "$M/platform/page_sizes" "4K 2M 1G"
expect_file "platform reserved" "$M/platform/reserved" "0x00000000fee00000-0x00000000feefffff msi"
expect_match "profile in profile-file format" "$M/platform/profile" "^iova_bits 48$"
expect_eq "attribute size is 4096, like sysfs" "$(stat -c %s "$M/status")" "4096"
expect_eq "read-only attribute mode" "$(stat -c %A "$M/status")" "-r--r--r--"

# ---- IOAS directories
mkdir "$M/ioas/vm"
expect_eq "ioas listing" "$(ls "$M/ioas/vm" | tr '\n' ' ')" \
	"alignment batch copy devices dma id iova_ranges map mappings options stats unmap windows "
expect_match "id is a backend object id" "$M/ioas/vm/id" "^[1-9][0-9]*$"
expect_eq "map is write-only to others" "$(stat -c %A "$M/ioas/vm/map")" "-rw-------"
expect_file "iova_ranges without windows: the platform's usable ranges" "$M/ioas/vm/iova_ranges" \
	"0x0000000000000000-0x00000000fedfffff
0x00000000fef00000-0x0000ffffffffffff"
expect "mkdir of an existing IOAS" EEXIST mkdir "$M/ioas/vm"
expect "mkdir with a hidden name" EINVAL mkdir "$M/ioas/.vm"
expect_error "names the problem" "invalid ioas name '.vm'"
expect "mkdir with a 64-character name" EINVAL mkdir "$M/ioas/$(printf 'a%.0s' $(seq 64))"
expect "mkdir at the root" EPERM mkdir "$M/other"
expect "rmdir of a built-in directory" EPERM rmdir "$M/platform"
expect "creating a file" EPERM create "$M/ioas/vm/newfile"
expect "writing a read-only attribute, even as root" EACCES write "$M/ioas/vm/id" "5"
expect "truncating a read-only attribute" EACCES truncate "$M/status" 0
expect "unlink of an attribute" EPERM unlink "$M/ioas/vm/id"
expect "a link outside devices/D" EPERM symlink ../../ioas/vm "$M/ioas/vm/x"

# ---- windows behave like sysfs attributes
mkdir "$M/ioas/vm/windows/w"
W=$M/ioas/vm/windows/w
expect_eq "window listing" "$(ls "$W" | tr '\n' ' ')" "levels page_size size start state "
expect_file "size unset" "$W/size" ""
expect_file "page_size auto" "$W/page_size" "auto"
expect_file "levels auto" "$W/levels" "auto"
printf 0x40000000 >"$W/start"
expect_file "a value without a newline is accepted" "$W/start" "0x40000000"
echo 2M >"$W/page_size"
expect "start not a multiple of page_size" EINVAL write "$W/size" "3M"
expect_error "says why" "start and size must be multiples of page_size 0x200000"
expect "page size the platform lacks" EINVAL write "$W/page_size" "64K"
expect_error "lists the platform's" "page_size 0x10000 is not one of the platform's \(4K 2M 1G\)"
expect "size with too few levels" ok write "$W/levels" "1"
expect "1 level of 2M pages holds 1G" EINVAL write "$W/size" "2G"
expect_error "says why" "needs more than 1 levels"
echo auto >"$W/levels"
expect "size 2G" ok write "$W/size" "2G"
expect_file "active" "$W/state" "active 0x0000000040000000-0x00000000bfffffff"
expect_file "size reads back in hex" "$W/size" "0x80000000"
mkdir "$M/ioas/vm/windows/a"
echo 1G >"$M/ioas/vm/windows/a/size"
expect_file "an auto window is placed below the first" "$M/ioas/vm/windows/a/state" \
	"active 0x0000000000000000-0x000000003fffffff"
mkdir "$M/ioas/vm/windows/b"
expect "a start over another window is only a value yet" ok write "$M/ioas/vm/windows/b/start" "0x80000000"
expect_file "start alone does not activate" "$M/ioas/vm/windows/b/state" "pending"
expect "its size does" EEXIST write "$M/ioas/vm/windows/b/size" "1G"
expect_error "names the other window" "window b 0x80000000-0xbfffffff overlaps window w 0x40000000-0xbfffffff"
rmdir "$M/ioas/vm/windows/b" "$M/ioas/vm/windows/a"
expect_file "iova_ranges is the window" "$M/ioas/vm/iova_ranges" "0x0000000040000000-0x00000000bfffffff"

# ---- sources
mkdir "$M/sources/s"
expect_file "path unset" "$M/sources/s/path" ""
echo "anon 1M" >"$M/sources/s/path"
expect_file "anon path" "$M/sources/s/path" "anon 0x100000"
expect_file "anon size" "$M/sources/s/size" "0x100000"
expect_file "no users" "$M/sources/s/users" "0"
echo "auto 64K s" >"$M/ioas/vm/map"
expect_file "one user" "$M/sources/s/users" "1"
expect "rmdir of a used source" EBUSY rmdir "$M/sources/s"
expect_error "says how many use it" "source s is used by 1 mapping"
expect "changing a used source" EBUSY write "$M/sources/s/path" "anon 2M"
mkdir "$M/sources/z"
expect "anon 0" EINVAL write "$M/sources/z/path" "anon 0"
expect "anon with a bad size" EINVAL write "$M/sources/z/path" "anon 1Q"
expect "anon beyond 1T" EINVAL write "$M/sources/z/path" "anon 2T"
rmdir "$M/sources/z"
dd if=/dev/zero of="$WORK/file" bs=64K count=4 status=none
mkdir "$M/sources/f"
echo "$WORK/file" >"$M/sources/f/path"
expect_file "file source path" "$M/sources/f/path" "$WORK/file"
expect_file "file source size" "$M/sources/f/size" "0x40000"
expect "relative path" EINVAL write "$M/sources/f/path" "file"
expect "missing file" ENOENT write "$M/sources/f/path" "$WORK/nosuch"
expect "a directory" EISDIR write "$M/sources/f/path" "$WORK"
expect_file "a refused path leaves the old one" "$M/sources/f/path" "$WORK/file"
chmod 0444 "$WORK/file"
expect_rdwr "a read-only mapping of a file" "ok
ok 0x0000000040010000 0x1000" "$M/ioas/vm/map" "auto 4K f r"
expect_match "mappings show the access" "$M/ioas/vm/mappings" "^0x0000000040010000-0x0000000040010fff r f\+0x0$"

# ---- stats
expect_match "stats maps" "$M/ioas/vm/stats" "^maps 2$"
expect_match "stats mappings" "$M/ioas/vm/stats" "^mappings 2$"
expect_match "stats bytes_mapped" "$M/ioas/vm/stats" "^bytes_mapped 69632$"
expect_match "stats pages_pinned without a device" "$M/ioas/vm/stats" "^pages_pinned 0$"

# ---- devices
mkdir "$M/devices/nic0"
expect_eq "device listing" "$(ls "$M/devices/nic0" | tr '\n' ' ')" "hw_info path reserved "
expect_file "a sim device's path says sim" "$M/devices/nic0/path" "sim"
expect "a sim device is bound already: path EBUSY" EBUSY write "$M/devices/nic0/path" \
	/dev/vfio/devices/vfio0
expect_error "says to what" "device nic0 is bound to sim; rmdir it to bind another"
expect_file "a sim device brings the platform's reserved regions" "$M/devices/nic0/reserved" \
	"0x00000000fee00000-0x00000000feefffff msi"
expect_match "hw_info" "$M/devices/nic0/hw_info" "^type intel_vtd$"
expect "a link to something else" EINVAL symlink ../../sources/s "$M/devices/nic0/ioas"
expect "a link to a missing IOAS" ENOENT symlink ../../ioas/nosuch "$M/devices/nic0/ioas"
ln -s "$M/ioas/vm" "$M/devices/nic0/ioas"
expect_eq "an absolute link works and reads back relative" "$(readlink "$M/devices/nic0/ioas")" \
	"../../ioas/vm"
expect_eq "the device dir lists the link" "$(ls "$M/devices/nic0" | tr '\n' ' ')" \
	"hw_info ioas path reserved "
expect_match "stats pages_pinned with a device" "$M/ioas/vm/stats" "^pages_pinned 17$"
expect "linking again" EEXIST symlink ../../ioas/vm "$M/devices/nic0/ioas"
expect "removing the mirror link" EPERM unlink "$M/ioas/vm/devices/nic0"
rm "$M/devices/nic0/ioas"

# ---- a handle to a removed object never reaches its successor
mkdir "$M/ioas/tmp"
exec 3>"$M/ioas/tmp/map"
rmdir "$M/ioas/tmp"
mkdir "$M/ioas/tmp"
if echo "auto 4K s" >&3 2>/dev/null; then
	fail "a write through a handle to the removed IOAS succeeded"
else
	pass "a write through a handle to the removed IOAS fails"
fi
exec 3>&-
expect_file "the new IOAS has no mappings" "$M/ioas/tmp/mappings" ""

# ---- errors format: "SECONDS.USEC PID PATH: reason", newest last
expect_match "errors lines have time, pid, path and reason" "$M/errors" \
	"^[0-9]+\.[0-9]{6} [0-9]+ /[a-z/0-9]+: .+$"
finish
