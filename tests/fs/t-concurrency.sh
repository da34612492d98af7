#!/bin/bash
# Several shells at once on the same and on different IOASes: mappers reading back their
# automatic IOVAs and unmapping them, fixed mappers, a shell reshaping windows and moving a
# device between IOASes, and readers listing mappings. Nothing deadlocks (every shell ends
# within the time limit), listings are always sorted and disjoint, and at the end the counts
# agree: stats, mappings and sources' users.
. "${TESTLIB:-$(dirname "$0")/lib.sh}" || exit 99

N=${IOASFS_CONC_ROUNDS:-400}
[ -n "${IOASFS_VALGRIND:-}" ] && N=30
mount_ioasfs || finish
mkdir "$M/ioas/a" "$M/ioas/b" "$M/ioas/c" "$M/sources/buf" "$M/devices/d"
echo "anon 64M" >"$M/sources/buf/path"

# auto mapper: map, read back the IOVA, unmap exactly that
auto_mapper() {
	local ioas=$1 i ok iova len
	exec 3<>"$M/ioas/$ioas/map"
	for i in $(seq 1 "$N"); do
		echo "auto 4K buf+$((i * 4096))" >&3 || { echo "map failed" >>"$WORK/errs"; continue; }
		read -r ok iova len <&3
		[ "$ok" = ok ] || echo "bad result $ok $iova" >>"$WORK/errs"
		echo "$iova 4K" >"$M/ioas/$ioas/unmap" || echo "unmap $iova failed" >>"$WORK/errs"
	done
	exec 3>&-
}

# fixed mapper: its own range, so every map must succeed
fixed_mapper() {
	local ioas=$1 base=$2 i
	for i in $(seq 1 "$N"); do
		echo "$((base + i * 0x10000)) 64K buf" >"$M/ioas/$ioas/map" || echo "fixed map $i failed" >>"$WORK/errs"
	done
	for i in $(seq 1 "$N"); do
		echo "$((base + i * 0x10000)) 64K" >"$M/ioas/$ioas/unmap" || echo "fixed unmap $i failed" >>"$WORK/errs"
	done
}

# reshaper: windows and attachments on c, device moved between b and c
reshaper() {
	local i
	for i in $(seq 1 "$N"); do
		mkdir "$M/ioas/c/windows/w$i" 2>/dev/null
		echo 1G >"$M/ioas/c/windows/w$i/size" 2>/dev/null
		ln -sfn ../../ioas/$([ $((i % 2)) = 0 ] && echo b || echo c) "$M/devices/d/ioas"
		rmdir "$M/ioas/c/windows/w$i" 2>/dev/null
	done
	rm -f "$M/devices/d/ioas"
}

# reader: listings are sorted and disjoint at every moment
reader() {
	local i f
	for i in $(seq 1 "$N"); do
		for f in "$M/ioas/a/mappings" "$M/ioas/b/mappings"; do
			# fixed-width hex compares as strings
			awk -F'[- ]' '{ if (NR > 1 && $1 <= last) { print "overlap/unsorted: " $0; exit 1 }
				last = $2 }' "$f" >>"$WORK/errs" 2>&1
		done
	done
}

: >"$WORK/errs"
pids=()
auto_mapper a & pids+=($!)
auto_mapper a & pids+=($!)
auto_mapper b & pids+=($!)
fixed_mapper a 0x100000000 & pids+=($!)
fixed_mapper b 0x200000000 & pids+=($!)
reshaper & pids+=($!)
reader & pids+=($!)
# a deadlock shows as a shell still running at the deadline
deadline=$((SECONDS + 600))
while [ $SECONDS -lt $deadline ]; do
	alive=0
	for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
	[ $alive = 0 ] && break
	sleep 0.2
done
if [ $alive = 1 ]; then
	echo "TIMEOUT: a shell did not finish in 600 s" >>"$WORK/errs"
	kill "${pids[@]}" 2>/dev/null
fi
for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done

if [ -s "$WORK/errs" ]; then
	fail "concurrent shells saw errors:"
	head -20 "$WORK/errs"
else
	pass "7 concurrent shells, $N rounds each, no error and no deadlock"
fi
expect_file "a is empty again" "$M/ioas/a/mappings" ""
expect_file "b is empty again" "$M/ioas/b/mappings" ""
expect_match "stats of a agree" "$M/ioas/a/stats" "^mappings 0$"
expect_match "every map of a was counted" "$M/ioas/a/stats" "^maps $((3 * N))$"
expect_file "the source has no users" "$M/sources/buf/users" "0"
expect_eq "c has no windows left" "$(ls "$M/ioas/c/windows")" ""
expect_eq "the device ended detached" "$(ls "$M/ioas/b/devices" "$M/ioas/c/devices")" "$M/ioas/b/devices:

$M/ioas/c/devices:"
finish
