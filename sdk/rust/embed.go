// Package rustsdk carries the Rust SDK's sources for `moss new`, which copies
// them beside a new component so that it builds on its own.
package rustsdk

import "embed"

// Files holds the SDK: build.sh and src/*.rs.
//
//go:embed build.sh src/*.rs
var Files embed.FS
