#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Stress: concurrent shells (text map/unmap through read-write handles) and batch programs
# (tests/stress/stress-batch, libioasfs over io_uring) on one shared IOAS and on IOASes of
# their own, each client in an address region of its own. Every client logs each command
# before it sends it and each acknowledgement it gets (the format is in stress-batch.c), so:
#
# 1. load for STRESS_SECONDS; meanwhile a batch client is killed with -9 mid-run; at the end
#    every IOAS's `mappings` must equal the model built from the acknowledged commands, and
#    the killed client's IOASes must hold only whole commands it sent, including every one
#    acknowledged and not undone;
# 2. load again; a save is taken (contrib/ioasfs-save) and SIGTERM sent while the clients
#    still run: the daemon exits 0, the mount point is gone, the clients end by themselves;
#    the saved tree restores, and holds only whole commands that were sent, including every
#    one acknowledged before the save began and not touched until it ended;
# 3. the daemon is killed with -9 after a save: `fusermount3 -u` (or `umount -l`) recovers
#    the mount point, and a restart with -o restore= gives back exactly the saved tree.
#
# Prints "stress: C clients, N ops, D divergences, K crashes" and fails if D or K is not 0
# (a crash: the daemon dying unasked, a client killed by a signal we did not send, a
# sanitizer report). Environment as for tests/fs (IOASFS_BIN, FSOP, TESTLIB), plus
# STRESS_BATCH, IOASFS_SAVE (contrib/ioasfs-save) and STRESS_SECONDS (default 40).
. "${TESTLIB:?TESTLIB must point at tests/fs/lib.sh}"
: "${STRESS_BATCH:?}" "${IOASFS_SAVE:?}"
SECS=${STRESS_SECONDS:-40}
NSHELL=3
NBATCH=3
LOGS=$WORK/logs
mkdir -p "$LOGS"
DIVERGENCES=0
CRASHES=0

now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
diverged() { DIVERGENCES=$((DIVERGENCES + $1)); }

# shell_client ID SHARED OWN SECONDS LOG: fixed maps and unmaps through read-write handles,
# in region (ID+1) << 32 of both IOASes; logs as stress-batch does.
shell_client() {
	local id=$1 shared=$2 own=$3 secs=$4 log=$5
	local region=$(((id + 1) << 32)) end=$((EPOCHSECONDS + secs))
	local -A len=() line=()
	local ioas k slot iova l prot src res t
	local -a prots=("" r w rw)
	RANDOM=$((id * 7919))
	exec 3<>"$M/ioas/$shared/map" 4<>"$M/ioas/$shared/unmap" 5<>"$M/ioas/$own/map" \
		6<>"$M/ioas/$own/unmap" || return 2
	while [ "$EPOCHSECONDS" -lt "$end" ]; do
		if [ $((RANDOM % 2)) -eq 0 ]; then
			ioas=$shared mfd=3 ufd=4
		else
			ioas=$own mfd=5 ufd=6
		fi
		slot=$((RANDOM % 64))
		k=$ioas:$slot
		iova=$((region + slot * 0x10000))
		if [ -n "${len[$k]:-}" ]; then
			printf 'U %s %s 0x%016x\n' "$(now_us)" "$ioas" "$iova" >>"$log"
			printf '%#x %#x\n' "$iova" "${len[$k]}" >&$ufd 2>/dev/null
			read -r res <&$ufd || break
			t=$(now_us)
			case $res in
			ok*)
				printf -- '- %s %s 0x%016x\n' "$t" "$ioas" "$iova" >>"$log"
				unset "len[$k]" "line[$k]"
				;;
			*) printf 'R %s %s %s\n' "$t" "$ioas" "$res" >>"$log" ;;
			esac
			continue
		fi
		l=$(((1 + RANDOM % 16) * 0x1000))
		prot=$((1 + RANDOM % 3))
		src=s$((RANDOM % 4))
		printf -v line[$k] '0x%016x-0x%016x %s %s+0x%x' "$iova" $((iova + l - 1)) \
			"${prots[$prot]}" "$src" $((slot * 0x1000))
		printf 'T %s %s %s\n' "$(now_us)" "$ioas" "${line[$k]}" >>"$log"
		printf '%#x %#x %s+%#x %s\n' "$iova" "$l" "$src" $((slot * 0x1000)) \
			"${prots[$prot]}" >&$mfd 2>/dev/null
		read -r res <&$mfd || break
		t=$(now_us)
		case $res in
		ok*)
			printf '+ %s %s %s\n' "$t" "$ioas" "${line[$k]}" >>"$log"
			len[$k]=$l
			;;
		*)
			printf 'R %s %s %s\n' "$t" "$ioas" "$res" >>"$log"
			unset "line[$k]"
			;;
		esac
	done
	exec 3>&- 4>&- 5>&- 6>&-
	return 0
}

# start_clients PHASE SECONDS [-f]: every client in the background; CLIENT_PIDS, one log each
start_clients() {
	local phase=$1 secs=$2 fixed=${3:-} i
	CLIENT_PIDS=()
	for i in $(seq 1 $NSHELL); do
		shell_client "$i" shared "p$i" "$secs" "$LOGS/c$i.$phase" 2>/dev/null &
		CLIENT_PIDS+=($!)
	done
	for i in $(seq $((NSHELL + 1)) $((NSHELL + NBATCH))); do
		"$STRESS_BATCH" $fixed "$M" shared "p$i" $(((i + 1) << 32)) "$secs" "$((i * 104729))" \
			"$LOGS/c$i.$phase" 2>>"$WORK/clients.err" &
		CLIENT_PIDS+=($!)
	done
}

# wait_clients: wait for CLIENT_PIDS; a client killed by a signal is a crash, one that saw an
# answer it cannot have (status 1) a divergence
wait_clients() {
	local p rc
	for p in "${CLIENT_PIDS[@]}"; do
		rc=0
		wait "$p" || rc=$?
		if [ "$rc" -ge 128 ]; then
			fail "client $p died of signal $((rc - 128))"
			CRASHES=$((CRASHES + 1))
		elif [ "$rc" -eq 1 ]; then
			fail "client $p saw an impossible answer (clients.err)"
			diverged 1
		elif [ "$rc" -ne 0 ]; then
			fail "client $p could not start ($rc)"
			diverged 1
		fi
	done
}

# models LOGS...: for every IOAS the logs name, $WORK/model.IOAS: the mappings the
# acknowledged commands leave, sorted as `mappings` prints them (one pass over the logs, which
# hold millions of lines). The key of a mapping is its start, the first 18 characters.
models() {
	rm -f "$WORK"/model.*
	awk -v dir="$WORK" '
		$1 != "+" && $1 != "-" { next }
		{ io = $3; k = io SUBSEP substr($4, 1, 18); ios[io] = 1 }
		$1 == "+" { line[k] = substr($0, index($0, $4)) }
		$1 == "-" { delete line[k] }
		END {
			for (io in ios)
				printf "" > (dir "/model." io)
			for (k in line) {
				split(k, p, SUBSEP)
				print line[k] > (dir "/model." p[1])
			}
		}' "$@"
}

# compare IOAS: mappings against $WORK/model.IOAS; each line of difference is a divergence
compare() {
	local ioas=$1 d
	touch "$WORK/model.$ioas"
	sort -o "$WORK/model.$ioas" "$WORK/model.$ioas"
	d=$(diff "$WORK/model.$ioas" <(sort "$M/ioas/$ioas/mappings") | grep -c '^[<>]')
	if [ "$d" -eq 0 ]; then
		pass "$ioas: mappings equal the model ($(wc -l <"$M/ioas/$ioas/mappings") lines)"
	else
		fail "$ioas: $d line(s) differ from the model:"
		diff "$WORK/model.$ioas" <(sort "$M/ioas/$ioas/mappings") | head -6
		diverged "$d"
	fi
}

# whole_commands TSAVE0 TSAVE1 LOGS...: for every IOAS with a tree file $WORK/tree.IOAS (its
# mappings), every line is a whole map some client sent (T) or had acknowledged (+), and every
# map acknowledged before TSAVE0 and not touched (an unmap or a map of its start sent) before
# TSAVE1 is there. Prints "IOAS VIOLATIONS" per IOAS, the violations themselves on stderr.
whole_commands() {
	local t0=$1 t1=$2
	shift 2
	awk -v t0="$t0" -v t1="$t1" '
		BEGIN {
			for (i = 1; i < ARGC; i++)
				if (ARGV[i] ~ /\/tree\.[^\/]*$/) {
					io = ARGV[i]
					sub(/.*\/tree\./, "", io)
					ios[io] = 1
					tree[ARGV[i]] = io
				}
		}
		FILENAME in tree { have[tree[FILENAME], $0] = 1; next }
		!($3 in ios) { next }
		{ k = $3 SUBSEP substr($4, 1, 18); rest = $3 SUBSEP substr($0, index($0, $4)) }
		$1 == "T" { may[rest] = 1; if ($2 < t1) touched[k] = 1 }
		$1 == "+" { may[rest] = 1; last[k] = rest; at[k] = $2; touched[k] = 0 }
		$1 == "U" && $2 < t1 { touched[k] = 1 }
		$1 == "-" && $2 < t0 { delete last[k] }
		END {
			for (io in ios)
				bad[io] = 0
			for (l in have)
				if (!(l in may)) {
					split(l, p, SUBSEP)
					print p[1] ": not sent: " p[2] > "/dev/stderr"
					bad[p[1]]++
				}
			for (k in last)
				if (at[k] < t0 && !touched[k] && !(last[k] in have)) {
					split(last[k], p, SUBSEP)
					print p[1] ": acknowledged, missing: " p[2] > "/dev/stderr"
					bad[p[1]]++
				}
			for (io in bad)
				print io, bad[io]
		}' "$WORK"/tree.* "$@"
}

# check_whole WHAT TSAVE0 TSAVE1 LOGS...: whole_commands, a pass or a divergence per IOAS
check_whole() {
	local what=$1 io v
	shift
	rm -f "$WORK/whole.err"
	while read -r io v; do
		if [ "$v" -eq 0 ]; then
			pass "$io: $what"
		else
			fail "$io: $v violation(s): $what:"
			grep "^$io: " "$WORK/whole.err" | head -5
			diverged "$v"
		fi
	done < <(whole_commands "$@" 2>>"$WORK/whole.err")
}

# consistent IOAS: mappings sorted and disjoint, as many as stats counts
consistent() {
	local ioas=$1 n s
	n=$(wc -l <"$M/ioas/$ioas/mappings")
	s=$(sed -n 's/^mappings //p' "$M/ioas/$ioas/stats")
	if [ "$n" = "$s" ] && sort -c "$M/ioas/$ioas/mappings" 2>/dev/null &&
		awk '{ split($1, r, "-"); if (NR > 1 && r[1] <= prev) exit 1; prev = r[2] }' \
			"$M/ioas/$ioas/mappings"; then
		pass "$ioas: $n mappings, sorted and disjoint, as stats counts"
	else
		fail "$ioas: mappings inconsistent ($n lines, stats $s)"
		diverged 1
	fi
}

setup_tree() {
	local i
	for i in 0 1 2 3; do
		mkdir "$M/sources/s$i" && echo "anon 16M" >"$M/sources/s$i/path" || return 1
	done
	mkdir "$M/ioas/shared" "$M/ioas/k0" "$M/ioas/k1" || return 1
	for i in $(seq 1 $((NSHELL + NBATCH))); do
		mkdir "$M/ioas/p$i" || return 1
	done
}

daemon_alive() {
	if ! kill -0 "$PID" 2>/dev/null; then
		fail "the daemon died"
		CRASHES=$((CRASHES + 1))
		return 1
	fi
}

# ---------------------------------------------------------------- 1: load and a killed client
mount_ioasfs || exit 1
setup_tree || { fail "set-up"; exit 1; }
start_clients 1 "$SECS"
# fixed maps only: an automatic one it sent, and was killed before it heard where, has no line
"$STRESS_BATCH" -f "$M" k0 k1 $((9 << 32)) "$SECS" 4242 "$LOGS/victim" 2>>"$WORK/clients.err" &
victim=$!
sleep $((SECS / 8 + 1))
{
	kill -9 "$victim"
	wait "$victim"
} 2>/dev/null
wait_clients
daemon_alive || exit 1
models "$LOGS"/c*.1
for io in shared $(seq -f 'p%g' 1 $((NSHELL + NBATCH))); do
	compare "$io"
done
rm -f "$WORK"/tree.*
for io in k0 k1; do
	consistent "$io"
	cat "$M/ioas/$io/mappings" >"$WORK/tree.$io"
done
check_whole "the killed client left only whole commands, every acknowledged one" \
	99999999999999999 99999999999999999 "$LOGS/victim"

# ---------------------------------------------------------------- 2: SIGTERM under load
start_clients 2 60 -f
sleep 3
t0=$(now_us)
"$IOASFS_SAVE" "$M" "$WORK/state.json" || fail "ioasfs-save under load"
t1=$(now_us)
kill -TERM "$PID"
rc=0
for i in $(seq 1 200); do
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.1
done
wait "$PID" || rc=$?
PID=
expect_eq "SIGTERM under load: the daemon exits 0" "$rc" 0
if mountpoint -q "$M"; then
	fail "SIGTERM under load: still mounted"
	umount -l "$M"
else
	pass "SIGTERM under load: the mount point is gone"
fi
wait_clients
check_sanitizers
mount_ioasfs "restore=$WORK/state.json" || { fail "restore of the save taken under load"; exit 1; }
expect_same "restart from the save taken under load" save "$(cat "$WORK/state.json")" \
	"$(cat "$M/save")"
rm -f "$WORK"/tree.*
for io in shared $(seq -f 'p%g' 1 $((NSHELL + NBATCH))); do
	cat "$M/ioas/$io/mappings" >"$WORK/tree.$io"
done
check_whole "the save under load holds whole commands, every one acknowledged before it" \
	"$t0" "$t1" $(for i in $(seq 1 $((NSHELL + NBATCH))); do echo "$LOGS/c$i.1" "$LOGS/c$i.2"; done)

# ---------------------------------------------------------------- 3: kill -9 of the daemon
start_clients 3 3 -f
wait_clients
"$IOASFS_SAVE" "$M" "$WORK/before-kill.json" || fail "ioasfs-save before kill -9"
{
	kill -9 "$PID"
	wait "$PID"
} 2>/dev/null
PID=
st=$("$FSOP" read "$M/status" | head -n 1)
expect_eq "after kill -9 the mount answers ENOTCONN" "$st" ENOTCONN
fusermount3 -u "$M" 2>/dev/null || umount -l "$M"
if mountpoint -q "$M"; then
	fail "fusermount3 -u did not recover the mount point"
else
	pass "fusermount3 -u recovered the mount point"
fi
mount_ioasfs "restore=$WORK/before-kill.json" || { fail "restart after kill -9"; exit 1; }
expect_same "restart after kill -9" save "$(cat "$WORK/before-kill.json")" "$(cat "$M/save")"
umount_ioasfs

acked=$(cat "$LOGS"/* | grep -c '^[-+] ')
refused=$(cat "$LOGS"/* | grep -c '^R ')
log "stress: $((NSHELL + NBATCH + 1)) clients, $((acked + refused)) ops, $DIVERGENCES divergences, $CRASHES crashes"
log "stress: $acked acknowledged, $refused refused; by the shells $(cat "$LOGS"/c[1-$NSHELL].* |
	grep -c '^[-+R] ')"
[ "$DIVERGENCES" -eq 0 ] && [ "$CRASHES" -eq 0 ] || NFAIL=$((NFAIL + 1))
finish
