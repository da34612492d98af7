# SPDX-License-Identifier: LGPL-2.1-or-later
# Library of the tests/vm guest suites (sourced as /vm/lib.sh; tests/vm/guest/NN-*.sh).
# A suite prints one line per check, "ok N - what" or "not ok N - what: why", which
# tests/vm/run reads back from the serial console, and exits non-zero if any check failed.
# Comment lines start with "#". Runs as root in the guest: busybox, bash, the ioasfs daemon
# (IOASFS_BIN) and edu-dma (EDU_DMA) are on the initramfs; /tmp is a tmpfs.

set -u
IOASFS_BIN=${IOASFS_BIN:-/bin/ioasfs}
EDU_DMA=${EDU_DMA:-/bin/edu-dma}
SUITE=$(basename "$0" .sh)
SUITE=${SUITE#[0-9][0-9]-} # tests/vm/run packs suites as NN-NAME.sh to keep their order
WORK=$(mktemp -d /tmp/"$SUITE".XXXXXX)
M=$WORK/mnt
mkdir -p "$M"
PID=
TNUM=0
NPASS=0
NFAIL=0

ok() {
	TNUM=$((TNUM + 1))
	NPASS=$((NPASS + 1))
	printf 'ok %d - %s: %s\n' "$TNUM" "$SUITE" "$*"
}

not_ok() {
	TNUM=$((TNUM + 1))
	NFAIL=$((NFAIL + 1))
	printf 'not ok %d - %s: %s\n' "$TNUM" "$SUITE" "$*"
}

note() { printf '# %s\n' "$*"; }

# note_file FILE: FILE's last lines as comments (the evidence for a failure).
note_file() { tail -n "${2:-10}" "$1" 2>/dev/null | sed 's/^/#   /'; }

# check DESC COMMAND...: ok when COMMAND succeeds.
check() {
	local desc=$1
	shift
	if "$@" >"$WORK/check.out" 2>&1; then
		ok "$desc"
	else
		not_ok "$desc: '$*' failed"
		note_file "$WORK/check.out"
	fi
}

# expect_eq DESC GOT WANT
expect_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1: expected [$3], got [$2]"
	fi
}

# expect_file DESC FILE WANT: cat FILE equals WANT (trailing newline ignored). busybox cat
# reads with sendfile(2), which stops at st_size: this also checks that listing files report
# their length (they once said 0 and read back empty here).
expect_file() {
	local got
	got=$(cat "$2" 2>&1)
	expect_eq "$1" "$got" "$3"
}

# write_err FILE TEXT: echo TEXT into FILE; prints nothing if the write succeeded, else the
# error message the shell got (e.g. "Invalid argument").
write_err() {
	local out
	if out=$( { printf '%s\n' "$2" >"$1"; } 2>&1); then
		return 0
	fi
	printf '%s\n' "${out##*: }"
}

# expect_auto_map MAPFILE LENGTH-HEX SOURCE: "auto LENGTH SOURCE" through a read-write handle,
# which reads back "ok IOVA LENGTH"; sets AUTO_IOVA and AUTO_LAST (16-digit hex) for the
# mappings line to expect.
expect_auto_map() {
	local res=
	exec 3<>"$1"
	printf 'auto %s %s\n' "$2" "$3" >&3
	read -r res <&3 || true
	exec 3>&-
	case $res in
	"ok 0x"*" $2") ok "auto map answers [$res]" ;;
	*) not_ok "auto map of $2: expected [ok IOVA $2], got [$res]" ;;
	esac
	AUTO_IOVA=${res#ok }
	AUTO_IOVA=${AUTO_IOVA%% *}
	# shellcheck disable=SC2034 # read by the suites
	AUTO_LAST=$(printf '0x%016x' $((AUTO_IOVA + $2 - 1)))
}

is_mounted() { grep -q " $M fuse" /proc/mounts; }

# mount_ioasfs OPTIONS: start the daemon on $M with -o OPTIONS and wait until the root
# answers; on failure the daemon's log is printed as comments and the status is 1.
mount_ioasfs() {
	"$IOASFS_BIN" -f -o "$1" "$M" 2>>"$WORK/daemon.log" &
	PID=$!
	local tries=100
	while [ $tries -gt 0 ]; do
		tries=$((tries - 1))
		if is_mounted && [ -r "$M/status" ]; then
			return 0
		fi
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	note "ioasfs -o $1 did not mount; its log:"
	note_file "$WORK/daemon.log"
	kill "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	PID=
	return 1
}

# umount_ioasfs: unmount and check that the daemon exits with status 0.
umount_ioasfs() {
	[ -n "$PID" ] || return 0
	local rc=0
	umount "$M" || umount -l "$M"
	wait "$PID" || rc=$?
	PID=
	if [ $rc -eq 0 ]; then
		ok "daemon exits 0 after unmount"
	else
		not_ok "daemon exit status $rc after unmount"
		note_file "$WORK/daemon.log"
	fi
}

# dmar_faults: how many IOMMU fault reports the kernel log holds so far.
dmar_faults() { dmesg | grep -c 'DMAR: \[DMA' || true; }

# expect_dmar_fault DESC BEFORE Read|Write IOVA: the kernel logged an IOMMU fault since the
# count BEFORE (from dmar_faults), and the newest fault of that kind is at IOVA.
expect_dmar_fault() {
	local desc=$1 before=$2 kind=$3 iova=$4 now line
	sleep 0.2 # the fault interrupt may be handled after the engine said it finished
	now=$(dmar_faults)
	line=$(dmesg | grep "DMAR: \[DMA $kind" | tail -n 1)
	if [ "$now" -gt "$before" ] && grep -q "fault addr $iova " <<<"$line"; then
		ok "$desc: ${line#\[*\] }"
	else
		not_ok "$desc: no new DMAR $kind fault at $iova ($before faults before, $now after)"
		dmesg | grep -i dmar | tail -n 5 | sed 's/^/#   /'
	fi
}

# vfio_of BDF: the vfioN name of a PCI device bound to vfio-pci.
vfio_of() {
	local v
	for v in "/sys/bus/pci/devices/$1/vfio-dev"/vfio*; do
		[ -e "$v" ] && echo "${v##*/}" && return 0
	done
	return 1
}

# pci_find VENDOR DEVICE: the address of the first PCI device with those IDs (0x1234 0x11e8).
pci_find() {
	local d
	for d in /sys/bus/pci/devices/*; do
		if [ "$(cat "$d/vendor")" = "$1" ] && [ "$(cat "$d/device")" = "$2" ]; then
			echo "${d##*/}"
			return 0
		fi
	done
	return 1
}

cleanup() {
	if [ -n "$PID" ]; then
		umount -l "$M" 2>/dev/null
		kill "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

# finish: the suite's closing comment and exit status.
finish() {
	umount_ioasfs
	note "$SUITE: $NPASS passed, $NFAIL failed"
	[ "$NFAIL" -eq 0 ]
	exit $?
}
