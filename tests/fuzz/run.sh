#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Run each libFuzzer harness named on the command line for FUZZ_SECONDS (default 60; fuzz_core
# for FUZZ_CORE_RUNS executions, default 1,000,000) and
# print, per harness, how many inputs it executed, how fast, the coverage it reached and how
# many crashes it found. `make fuzz` calls this after building the harnesses; it is a
# separate script so the figures come out the same whoever runs it.
#
# Each harness mutates a working corpus of its own (FUZZ_WORKDIR/corpus/NAME, kept between
# runs so coverage accumulates) seeded from the checked-in corpus/NAME, which libFuzzer only
# reads. Crashes land in FUZZ_WORKDIR/artifacts/NAME; a crash must be kept as a regression
# input under regress/NAME and reported (README.md). Known findings not fixed yet are
# suppressed here (ubsan.supp) so the run keeps looking for new ones; regress.sh runs
# them unsuppressed. Exit status: 0 when no harness crashed, 1 otherwise.
#
# Environment: FUZZ_BINDIR (the built harnesses, default .), FUZZ_SRCDIR (this directory),
# FUZZ_WORKDIR (default FUZZ_BINDIR/work), FUZZ_SECONDS, FUZZ_CORE_RUNS, FUZZ_CORE_MAX_SECONDS,
# FUZZ_ARGS (more libFuzzer options).

set -u

bindir=${FUZZ_BINDIR:-.}
srcdir=${FUZZ_SRCDIR:-$(dirname "$0")}
workdir=${FUZZ_WORKDIR:-$bindir/work}
seconds=${FUZZ_SECONDS:-60}
crashed=0

case $seconds in
'' | *[!0-9]*)
	echo "run.sh: FUZZ_SECONDS must be a number of seconds, not '$seconds'" >&2
	exit 2
	;;
esac
if [ $# -eq 0 ]; then
	echo "usage: run.sh HARNESS..." >&2
	exit 2
fi

# Undefined behaviour is a crash, as a memory error is; known findings are skipped.
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$srcdir/ubsan.supp"
export UBSAN_OPTIONS

for h in "$@"; do
	bin=$bindir/$h
	corpus=$workdir/corpus/$h
	arts=$workdir/artifacts/$h
	log=$workdir/$h.log
	stamp=$workdir/$h.stamp
	dict=

	if [ ! -x "$bin" ]; then
		echo "run.sh: $bin is not built" >&2
		exit 2
	fi
	mkdir -p "$corpus" "$arts" || exit 2
	: >"$stamp"
	[ -f "$srcdir/$h.dict" ] && dict=-dict=$srcdir/$h.dict
	opts=
	secs=$seconds
	case $h in
	# Operation sequences: let inputs grow towards MAX_OPS operations sooner. One execution
	# is a whole sequence with the model checked after each step, a hundred times the work
	# of a parser input, so this one is bounded by executions (FUZZ_CORE_RUNS) rather than
	# seconds, with FUZZ_CORE_MAX_SECONDS as a backstop. The entropic scheduler's
	# bookkeeping took 60% of the time on this harness's corpus; plain scheduling is off.
	fuzz_core)
		opts="-max_len=384 -len_control=20 -entropic=0 -runs=${FUZZ_CORE_RUNS:-1000000}"
		secs=${FUZZ_CORE_MAX_SECONDS:-3600}
		;;
	# A few command lines per input: the line is the unit the decoders see, and longer
	# inputs only repeat it. Scanning its bytes several times per line makes each input
	# cost, and the entropic scheduler took a quarter of the time: plain scheduling.
	fuzz_cmdline) opts="-max_len=256 -entropic=0" ;;
	esac

	# -timeout: one input that runs for 25 s is a hang, reported like a crash.
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=25 \
		-artifact_prefix="$arts/" $dict $opts ${FUZZ_ARGS:-} \
		"$corpus" "$srcdir/corpus/$h" >"$log" 2>&1
	rc=$?

	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' "$log" | tail -n 1)
	new=$(find "$arts" -type f -newer "$stamp" | sort)
	found=$(printf '%s' "$new" | grep -c .)
	rm -f "$stamp"
	if [ "$rc" -ne 0 ] && [ "$found" -eq 0 ]; then
		found=1 # died without writing an artifact: still a failure to look at
	fi
	printf '%-14s %12s execs %8s exec/s  cov %-6s %s crash(es)\n' "$h" "${execs:-?}" \
		"${rate:-?}" "${cov:-?}" "$found"
	if [ "$found" -ne 0 ]; then
		crashed=1
		echo "  log: $log"
		[ -n "$new" ] && printf '%s\n' "$new" | sed 's/^/  artifact: /'
		echo "  keep each as $srcdir/regress/$h/NAME (a name saying what fails) and report it"
	fi
done
exit $crashed
