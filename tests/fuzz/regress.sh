#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Run every saved fuzzer finding once: each file under regress/NAME/ goes to the harness
# NAME (libFuzzer runs the files it is given as arguments, once each, instead of fuzzing).
# A finding stays here after its fix, so this is the regression test for it; until the fix
# it fails, which is the point. Nothing is suppressed here (unlike run.sh), and undefined
# behaviour aborts.
#
# Usage: regress.sh [HARNESS...] (default: every directory under regress/), with
# FUZZ_BINDIR (the built harnesses, default .) and FUZZ_SRCDIR (this directory).
# Exit status: 0 when every input ran clean, 1 when any failed, 2 on a usage error.

set -u

bindir=${FUZZ_BINDIR:-.}
srcdir=${FUZZ_SRCDIR:-$(dirname "$0")}
failed=0
ran=0

UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export UBSAN_OPTIONS

if [ $# -eq 0 ]; then
	for d in "$srcdir"/regress/*/; do
		[ -d "$d" ] && set -- "$@" "$(basename "$d")"
	done
fi

for h in "$@"; do
	[ -d "$srcdir/regress/$h" ] || continue
	if [ ! -x "$bindir/$h" ]; then
		echo "regress.sh: $bindir/$h is not built" >&2
		exit 2
	fi
	for input in "$srcdir/regress/$h"/*; do
		[ -f "$input" ] || continue
		ran=$((ran + 1))
		if out=$("$bindir/$h" "$input" 2>&1); then
			echo "ok    $h $(basename "$input")"
		else
			failed=1
			echo "FAIL  $h $(basename "$input")"
			# the reason and the project's frames of the stack
			printf '%s\n' "$out" |
				grep -E 'ERROR|runtime error|invariant|SUMMARY|^ *#[0-9]+ .*/(src|tests)/' |
				head -n 12 | sed 's/^/      /'
		fi
	done
done
echo "regress.sh: $ran input(s), $([ $failed -eq 0 ] && echo 'all clean' || echo 'failures above')"
exit $failed
