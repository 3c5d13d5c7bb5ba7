// Package assdk carries the AssemblyScript SDK's sources for `moss new`,
// which copies them beside a new component so that it builds on its own.
package assdk

import "embed"

// Files holds the SDK: package.json, package-lock.json (the pinned
// compiler), build.sh, index.ts and assembly/*.ts.
//
//go:embed package.json package-lock.json build.sh index.ts assembly/*.ts
var Files embed.FS
