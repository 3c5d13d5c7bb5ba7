//go:build !(linux && (amd64 || arm64))

package wasm

// mapped is unused where linear memories live in the Go heap (see
// memory_mmap.go).
type mapped struct{ b []byte }

func reserve(uint64) *mapped { return nil }

func (m *mapped) release() {}
