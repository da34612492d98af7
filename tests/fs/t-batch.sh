#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The batch channel end to end: the C programs of tests/batch/ (raw write/read on the batch
# file, and libioasfs over io_uring) against a real mount, one after the other on the same
# daemon, which must come out of all of them healthy: nothing left behind in the tree, and
# under IOASFS_VALGRIND=1 no error or leak when it exits (lib.sh checks at unmount).
# BATCHDIR names the directory of the built programs; MAP65536, if set, is the
# contrib/examples/map65536 binary, run as a smoke test of the example.
# shellcheck source=tests/fs/lib.sh
. "${TESTLIB:-$(dirname "$0")/lib.sh}" || exit 99
: "${BATCHDIR:?BATCHDIR must point at the built tests/batch directory}"

mount_ioasfs "platform=x86-vtd" || finish

# run_prog NAME: run one program against the mount, show its lines, count its verdict.
run_prog() {
	local name=$1 rc=0
	"$BATCHDIR/$name" "$M" >"$WORK/$name.out" 2>&1 || rc=$?
	sed 's/^/    /' "$WORK/$name.out"
	case $rc in
	0) pass "$name" ;;
	77) log "ok - $name # SKIP $(grep -m1 '^SKIP' "$WORK/$name.out")" ;;
	*) fail "$name (exit status $rc)" ;;
	esac
}

before=$(snapshot)
# malformed first: it counts lines in `errors`, a bounded ring
for prog in malformed order sessions overflow lib-helpers lib-map65536 killed-client dma-fd; do
	run_prog "$prog"
done

if [ -n "${MAP65536:-}" ]; then
	mkdir "$M/ioas/example" "$M/sources/example"
	echo "anon 256M" >"$M/sources/example/path"
	if out=$("$MAP65536" "$M/ioas/example" example 2>&1); then
		pass "map65536 example: $(printf '%s' "$out" | tr '\n' ';')"
	else
		fail "map65536 example: $out"
	fi
	expect_file "the example unmapped everything" "$M/ioas/example/mappings" ""
	rmdir "$M/ioas/example" "$M/sources/example"
fi

expect_unchanged "after all the batch programs" "$before"
expect_eq "the daemon still answers" "$(grep -c '^limit_batch' "$M/status")" "3"
finish
