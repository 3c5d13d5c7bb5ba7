#!/bin/sh
# build.sh builds a Moss component written in AssemblyScript into a reactor
# module that imports only from "moss" (and wasi_snapshot_preview1 for the
# clock, if it reads the time):
#
#	sdk/assemblyscript/build.sh examples/alerts-as/alerts.ts -o alerts-as.wasm
#
# The first argument is the component's entry file (which re-exports
# moss_abi_version, moss_event_buffer and moss_on_events from the SDK); the
# others go to asc after it (-o, more flags). Needs node and npm: the first
# build runs `npm ci` in sdk/assemblyscript to install the pinned compiler
# (package-lock.json) from the npm registry.
#
# Flags: the incremental (non-moving) garbage collector, so buffers handed to
# the host stay put; -O3s; the start function exported as _initialize (a WASI
# reactor's initialiser) instead of a start section; abort routed to the
# SDK's mossAbort, which traps, so the module does not import env.abort (the
# host refuses imports it does not provide); the SDK importable as
# "@moss-edge/sdk" through a package directory made for the build.
set -eu
sdk=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ]; then
	echo "usage: $0 component.ts [-o out.wasm] [asc flags...]" >&2
	exit 2
fi
for tool in node npm; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "build.sh: $tool not found: the AssemblyScript SDK needs node and npm (apt-get install -y nodejs npm)" >&2
		exit 127
	fi
done
# Several builds may start at once (the tests of several packages): one
# installs under the lock while the others wait, and a marker written after
# npm ci finished tells a complete install from one in progress.
if [ ! -f "$sdk/node_modules/.moss-installed" ]; then
	exec 9>"$sdk/.install.lock"
	flock 9
	if [ ! -f "$sdk/node_modules/.moss-installed" ]; then
		(cd "$sdk" && npm ci --no-audit --no-fund --loglevel=error) >&2
		touch "$sdk/node_modules/.moss-installed"
	fi
	flock -u 9
	exec 9>&-
fi
src=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/@moss-edge"
ln -s "$sdk" "$tmp/@moss-edge/sdk"
"$sdk/node_modules/.bin/asc" "$src" --path "$tmp" \
	--runtime incremental -O3s --noAssert \
	--exportStart _initialize \
	--use abort=~lib/@moss-edge/sdk/assembly/index/mossAbort \
	--initialMemory 1 \
	"$@"
