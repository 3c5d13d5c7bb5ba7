#!/bin/sh
# build.sh builds a Moss component written in Rust into a WASI reactor
# module, with rustc alone (no cargo, no crates): first the SDK
# (sdk/rust/src) as an rlib, then the component as a cdylib linked against
# it.
#
#	sdk/rust/build.sh examples/alerts-rust/alerts.rs -o alerts-rust.wasm
#
# The first argument is the component's crate root; the others go to rustc
# after it (-o, more flags). Needs Debian's rustc (1.63), its wasm32-wasi
# standard library, and lld-14 (rustc links Wasm with rust-lld, a link to
# lld-14; libstd-rust-dev-wasm32 only recommends it):
#
#	apt-get install -y rustc libstd-rust-dev-wasm32 lld-14
#
# Set RUSTC to use another rustc (one with the wasm32-wasi target); the
# default is /usr/bin/rustc, named in full because a rustup rustc earlier
# on PATH may have no wasm targets. Set RUSTFLAGS to add flags to both
# steps (e.g. RUSTFLAGS='-C strip=symbols').
#
# Flags: optimised for size, with the standard library through LTO (the
# alerts example: 175 KB, against 215 KB with -O alone); panic=abort (a
# panic traps and the host restarts the component; no unwinding tables);
# debug info stripped, function names kept for trap stack traces; a 64 KiB
# stack, as clang gives C components (rustc's default is 1 MiB, all of it
# in every instance's memory). A stack overflow traps: the stack sits below
# the data, at address 0.
set -eu
sdk=$(cd "$(dirname "$0")" && pwd)
rustc=${RUSTC:-/usr/bin/rustc}
hint="apt-get install -y rustc libstd-rust-dev-wasm32 lld-14"
if [ $# -lt 1 ]; then
	echo "usage: $0 component.rs [-o out.wasm] [rustc flags...]" >&2
	exit 2
fi
if ! command -v "$rustc" >/dev/null 2>&1; then
	echo "build.sh: $rustc not found: $hint" >&2
	exit 127
fi
sysroot=$("$rustc" --print sysroot)
if ! ls "$sysroot"/lib/rustlib/wasm32-wasi/lib/libstd-*.rlib >/dev/null 2>&1; then
	echo "build.sh: $rustc has no wasm32-wasi standard library in $sysroot/lib/rustlib: $hint" >&2
	exit 127
fi
src=$1
shift
# The rlib goes to a directory of its own, removed on exit.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags="--edition 2021 --target wasm32-wasi -C opt-level=s -C panic=abort -C strip=debuginfo ${RUSTFLAGS:-}"
# shellcheck disable=SC2086 # flags is a list of flags
"$rustc" $flags --crate-type rlib --crate-name moss -o "$tmp/libmoss.rlib" "$sdk/src/lib.rs"
# shellcheck disable=SC2086
"$rustc" $flags --crate-type cdylib -C lto -C codegen-units=1 -C link-arg=-zstack-size=65536 \
	--extern moss="$tmp/libmoss.rlib" "$src" "$@"
