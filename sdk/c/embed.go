// Package csdk carries the C SDK's sources for `moss new`, which copies them
// beside a new component so that it builds on its own.
package csdk

import "embed"

// Files holds the SDK: moss.h, moss.c, cbor.h, cbor.c, json.c and build.sh.
//
//go:embed moss.h moss.c cbor.h cbor.c json.c build.sh
var Files embed.FS
