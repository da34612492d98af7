#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `make install` gives a user what the README promises: the daemon, ioasfs-save, libioasfs
# with <ioasfs/batch.h> and libioasfs.pc, the man pages and the systemd unit. Installs this
# build tree into a DESTDIR, builds contrib/examples/map65536.c against the installed tree
# the way the example's header says (pkg-config), runs it with the installed daemon, checks
# the installed unit with systemd-analyze verify, and uninstalls to nothing.
. "${TESTLIB:-$(dirname "$0")/lib.sh}" || exit 99
: "${IOASFS_BUILDDIR:?IOASFS_BUILDDIR must point at the build tree}"

DEST=$WORK/dest
CC=${IOASFS_CC:-cc}
MAKE=${IOASFS_MAKE:-make}
# a make of our own, not a job of the `make check` that runs this test
unset MAKEFLAGS MFLAGS MAKELEVEL

if $MAKE -C "$IOASFS_BUILDDIR" install DESTDIR="$DEST" >"$WORK/install.log" 2>&1; then
	pass "make install DESTDIR"
else
	fail "make install DESTDIR:"
	tail -20 "$WORK/install.log"
	finish
fi
for f in "$IOASFS_BINDIR/ioasfs" "$IOASFS_BINDIR/ioasfs-save"; do
	if [ -x "$DEST$f" ]; then pass "installed $f"; else fail "no executable $f"; fi
done
for f in "$IOASFS_INCLUDEDIR/ioasfs/batch.h" "$IOASFS_LIBDIR/pkgconfig/libioasfs.pc" \
	"$IOASFS_LIBDIR/libioasfs.so" "$IOASFS_MANDIR/man8/ioasfs.8" "$IOASFS_MANDIR/man5/ioasfs.5" \
	"$IOASFS_MANDIR/man3/libioasfs.3" "$IOASFS_UNITDIR/ioasfs.service"; do
	if [ -e "$DEST$f" ]; then pass "installed $f"; else fail "no $f"; fi
done
expect_eq "the installed daemon runs" "$("$DEST$IOASFS_BINDIR/ioasfs" --version | cut -d' ' -f1)" "ioasfs"

# ---- a program built against the installed tree, as the example's header says
SRC=$IOASFS_SRCDIR/contrib/examples/map65536.c
if [ ! -e "$SRC" ]; then
	# the example is not in this tree: a program that opens a batch session stands in
	SRC=$WORK/open.c
	cat >"$SRC" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <ioasfs/batch.h>
int main(int argc, char **argv)
{
	struct ioasfs_batch *b;
	int r = ioasfs_batch_open(argv[1], NULL, &b);

	if (r < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	ioasfs_batch_close(b);
	return 0;
}
EOF
fi
PC="env PKG_CONFIG_PATH=$DEST$IOASFS_LIBDIR/pkgconfig PKG_CONFIG_SYSROOT_DIR=$DEST pkg-config"
# shellcheck disable=SC2046
if $CC -o "$WORK/example" "$SRC" $($PC --cflags --libs libioasfs) >"$WORK/cc.log" 2>&1; then
	pass "$(basename "$SRC") builds with pkg-config against the installed tree"
else
	fail "$(basename "$SRC") does not build: $(cat "$WORK/cc.log")"
	finish
fi
expect_match "pkg-config points into DESTDIR" <($PC --cflags --libs libioasfs) "^-I$DEST/.* -L$DEST/"
expect_match "the program needs libioasfs" <(readelf -d "$WORK/example") \
	"NEEDED.*\[libioasfs\.so\.0\]"
expect_match "and finds the installed one" \
	<(LD_LIBRARY_PATH=$DEST$IOASFS_LIBDIR ldd "$WORK/example") \
	"libioasfs\.so\.0 => $DEST$IOASFS_LIBDIR/libioasfs\.so\.0"

# ...and works, with the installed daemon
IOASFS_BIN=$DEST$IOASFS_BINDIR/ioasfs
if mount_ioasfs; then
	mkdir "$M/sources/buf" "$M/ioas/vm"
	echo "anon 4M" >"$M/sources/buf/path"
	if LD_LIBRARY_PATH=$DEST$IOASFS_LIBDIR "$WORK/example" "$M/ioas/vm" buf >"$WORK/run.log" 2>&1
	then
		pass "the installed library and daemon: $(head -n 1 "$WORK/run.log")"
	else
		fail "the program against the installed daemon: $(cat "$WORK/run.log")"
	fi
	umount_ioasfs
fi

# ---- the systemd unit, as installed, pointed at the DESTDIR copies of its programs
mkdir "$WORK/unit"
sed "s|$IOASFS_BINDIR/|$DEST$IOASFS_BINDIR/|g" "$DEST$IOASFS_UNITDIR/ioasfs.service" \
	>"$WORK/unit/ioasfs.service"
if [ "$IOASFS_BINDIR" = /usr/local/bin ]; then
	if cmp -s "$IOASFS_SRCDIR/contrib/ioasfs.service" "$DEST$IOASFS_UNITDIR/ioasfs.service"; then
		pass "installed unit = contrib/ioasfs.service"
	else
		fail "installed unit differs from contrib/ioasfs.service"
	fi
fi
if ! command -v systemd-analyze >/dev/null; then
	fail "systemd-analyze is not installed (Debian package systemd; contrib/deps.sh installs it)"
elif MANPATH=$DEST$IOASFS_MANDIR systemd-analyze verify "$WORK/unit/ioasfs.service" \
	>"$WORK/verify.log" 2>&1 && ! [ -s "$WORK/verify.log" ]; then
	pass "systemd-analyze verify ioasfs.service (its man pages found too)"
else
	fail "systemd-analyze verify ioasfs.service: $(cat "$WORK/verify.log")"
fi

# ---- uninstall leaves nothing
if $MAKE -C "$IOASFS_BUILDDIR" uninstall DESTDIR="$DEST" >"$WORK/uninstall.log" 2>&1; then
	expect_eq "make uninstall removes every file" "$(find "$DEST" ! -type d | head -5)" ""
else
	fail "make uninstall: $(tail -5 "$WORK/uninstall.log")"
fi
finish
