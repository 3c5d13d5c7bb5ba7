#!/bin/sh
# build.sh builds a Moss component written in C into a WASI reactor module,
# linking the SDK (moss.c, cbor.c, json.c) in:
#
#	sdk/c/build.sh examples/alerts-c/alerts.c -o alerts-c.wasm
#
# Arguments go to clang after the SDK's sources: more sources, -o, flags.
# Needs clang, wasm-ld and wasi-libc; on Debian:
#
#	apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32
#
# Debian's wasi-libc carries DWARF; --strip-debug drops it (about 100 KB)
# but keeps the function names that show in a trap's stack trace. Set CC to
# use another clang, CFLAGS to add flags (e.g. CFLAGS=-Wl,--strip-all).
set -eu
sdk=$(cd "$(dirname "$0")" && pwd)
cc=${CC:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "build.sh: $cc not found: apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32" >&2
	exit 127
fi
# shellcheck disable=SC2086 # CFLAGS is a list of flags
exec "$cc" --target=wasm32-wasi -mexec-model=reactor -O2 -Wall -Wextra \
	-Wl,--strip-debug ${CFLAGS:-} -I"$sdk" "$sdk/moss.c" "$sdk/cbor.c" "$sdk/json.c" "$@"
