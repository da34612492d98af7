# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by contrib/check and contrib/quickstart: install the Debian packages ioasfs needs to
# build, test and run, if any is missing. Debian 12 (bookworm) or later, as root.
IOASFS_DEPS=(build-essential autoconf automake libtool pkg-config libfuse3-dev fuse3
	liburing-dev check valgrind
	libjson-c-dev systemd # save/restore; systemd-analyze for tests/fs/t-install.sh
	clang libclang-rt-14-dev) # the sanitizer build of contrib/check, and make fuzz

# tests/vm (the real iommufd kernel under qemu): qemu, the guest's busybox, the kernel build
IOASFS_VM_DEPS=(qemu-system-x86 busybox-static flex bison cpio libelf-dev bc libssl-dev xz-utils
	gcc make)

ioasfs_install_deps() {
	ioasfs_install_pkgs "${IOASFS_DEPS[@]}"
}

ioasfs_install_vm_deps() {
	ioasfs_install_pkgs "${IOASFS_VM_DEPS[@]}"
}

# Install those of the packages given that are missing, from the host's own archive.
ioasfs_install_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "ioasfs: missing packages: ${missing[*]}; run as root to install them" >&2
		return 1
	fi
	echo "ioasfs: installing ${missing[*]}"
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Configure and build in $1 (created), from the source tree $2, with configure arguments
# $3... (CC=..., CFLAGS=...) if any.
ioasfs_build() {
	local build=$1 top=$2
	shift 2
	mkdir -p "$top/m4"
	(cd "$top" && autoreconf -fi >/dev/null)
	mkdir -p "$build"
	(cd "$build" && { [ -f Makefile ] || "$top/configure" -q "$@"; } &&
		make -j"$(nproc)" >/dev/null)
}
