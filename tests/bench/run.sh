#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# make bench: mount a private ioasfs on the sim backend and print the figures of the batch
# issue as "key value" lines. A benchmark, not a test: it fails only if something breaks.
#   batch_vs_inprocess_ratio  4 KiB fixed map+unmap, batch file vs the sim backend in-process
#   batch_nop_*               the same channel carrying NOPs: what FUSE and io_uring cost alone
#   *_cpu_ns_per_cmd          CPU time per command of the daemon and of the program (with its
#                             io_uring workers) during a long batch run: where the time goes
#   scale_1M_vs_1K_ratio      per-op cost with 1,000,000 mappings vs 1,000 (bench_core)
#   bytes_per_mapping         daemon RSS growth per mapping at 1,000,000 mappings
#   cat_mappings_*            reading `mappings` at 100,000 and 1,000,000 lines
#   dma_read_MBps             1 MiB preads of 64 MiB mapped from a tmpfs file, through `dma`,
#   file_read_MBps            ... and the same preads from the file itself;
#   dma_read_ratio            the first over the second (bench_dma)
#   attack N: ...             one user's map+unmap latency while another attacks the mount,
#                             and a verdict line each (hostile.sh; needs root, else skipped)
set -eu
: "${IOASFS_BIN:?}" "${BENCH_CORE:?}" "${BENCH_BATCH:?}" "${BENCH_DMA:?}" "${BENCH_HOSTILE:?}"
W=$(mktemp -d /tmp/ioasfs-bench.XXXXXX)
M=$W/mnt
mkdir -p "$M"
SHM=$(mktemp /dev/shm/ioasfs-bench.XXXXXX)
cleanup() { fusermount3 -u "$M" 2>/dev/null || true; wait 2>/dev/null; rm -rf "$W" "$SHM"; }
trap cleanup EXIT
"$IOASFS_BIN" -f "$M" 2>"$W/daemon.log" &
PID=$!
for _ in $(seq 100); do [ -r "$M/status" ] && break; sleep 0.1; done
mkdir "$M/ioas/vm" "$M/sources/buf"
echo "anon 4K" >"$M/sources/buf/path"
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$PID/status"; }
best() { sort -g | head -1; }
val() { awk -v k="$1" '$1 == k { print $2 }'; }

N=65536
ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
hz=$(getconf CLK_TCK)
inproc=$(for _ in 1 2 3; do "$BENCH_CORE" inproc $N | val inprocess_ns_per_cmd; done | best)
corein=$(for _ in 1 2 3; do "$BENCH_CORE" corebatch $N | val core_batch_ns_per_cmd; done | best)
batch=$(for _ in 1 2 3; do "$BENCH_BATCH" batch "$M/ioas/vm" buf $N | val batch_ns_per_cmd; done | best)
lines=$("$BENCH_BATCH" lines "$M/ioas/vm" buf 20000 | val text_line_per_write_ns_per_cmd)
bulk=$("$BENCH_BATCH" bulk "$M/ioas/vm" buf $N | val text_1024_lines_per_write_ns_per_cmd)
nop=$(for _ in 1 2 3; do "$BENCH_BATCH" nop "$M/ioas/vm" buf $((4 * N)) | val batch_nop_ns_per_cmd; done | best)
# CPU accounting over a longer run (clock ticks are coarse): 8 x 65536 maps and unmaps
t0=$(ticks)
"$BENCH_BATCH" batch "$M/ioas/vm" buf $((4 * N)) >"$W/cpu"
t1=$(ticks)
echo "inprocess_ns_per_cmd $inproc"
echo "core_batch_inprocess_ns_per_cmd $corein"
echo "batch_ns_per_cmd $batch"
echo "text_one_line_per_write_ns_per_cmd $lines"
echo "text_1024_lines_per_write_ns_per_cmd $bulk"
echo "batch_nop_ns_per_cmd $nop"
awk -v b="$nop" -v i="$inproc" 'BEGIN { printf "batch_nop_vs_inprocess_ratio %.2f\n", b / i }'
awk -v t="$((t1 - t0))" -v hz="$hz" -v n="$((8 * N))" \
	'BEGIN { printf "batch_daemon_cpu_ns_per_cmd %.0f\n", t * 1e9 / hz / n }'
val batch_client_cpu_ns_per_cmd <"$W/cpu" | awk '{ printf "batch_client_cpu_ns_per_cmd %.0f\n", $1 }'
echo "cpus $(nproc)"
# the issue's ratio: against the sim backend alone; and the channel's own cost: against the
# same records run by the daemon's core in-process (model + sim, no FUSE)
awk -v b="$batch" -v i="$inproc" 'BEGIN { printf "batch_vs_inprocess_ratio %.2f\n", b / i }'
awk -v b="$batch" -v i="$corein" 'BEGIN { printf "batch_vs_core_inprocess_ratio %.2f\n", b / i }'

# dma: a 64 MiB tmpfs file as a source, mapped at 4 GiB, read through dma and directly
head -c 64M /dev/urandom >"$SHM"
mkdir "$M/sources/shm"
echo "$SHM" >"$M/sources/shm/path"
echo "0x100000000 64M shm" >"$M/ioas/vm/map"
"$BENCH_DMA" "$M/ioas/vm/dma" 0x100000000 "$SHM" 64
echo "0x100000000 64M" >"$M/ioas/vm/unmap"

"$BENCH_CORE" scale

r0=$(rss)
"$BENCH_BATCH" fill "$M/ioas/vm" buf 1000000 >"$W/fill"
r1=$(rss)
cat "$W/fill"
awk -v a="$r0" -v b="$r1" 'BEGIN { printf "bytes_per_mapping %.0f\n", (b - a) * 1024 / 1000000 }'

"$BENCH_BATCH" cat "$M/ioas/vm/mappings" >"$W/cat1m"
echo all >"$M/ioas/vm/unmap"
"$BENCH_BATCH" fill "$M/ioas/vm" buf 100000 >/dev/null
"$BENCH_BATCH" cat "$M/ioas/vm/mappings" >"$W/cat100k"
s1=$(val cat_seconds <"$W/cat1m"); b1=$(val cat_bytes <"$W/cat1m")
s2=$(val cat_seconds <"$W/cat100k"); b2=$(val cat_bytes <"$W/cat100k")
echo "cat_mappings_100K_seconds $s2 ($b2 bytes)"
echo "cat_mappings_1M_seconds $s1 ($b1 bytes)"
awk -v s1="$s1" -v s2="$s2" -v b1="$b1" -v b2="$b2" \
	'BEGIN { printf "cat_mappings_ns_per_byte_1M_vs_100K %.2f\n", (s1 / b1) / (s2 / b2) }'

# issue 19: user A's map+unmap while user B runs each attack on an allow_other mount of its own
# (fails only if A got an error or something hung)
bash "$(dirname "$0")/hostile.sh"
