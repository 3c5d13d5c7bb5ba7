//go:build linux && (amd64 || arm64)

package wasm

import (
	"runtime"
	"syscall"
)

// mapped is a linear memory reserved outside the Go heap: the whole limit
// is mapped at once, without reserving swap, and only the pages the guest
// touches take memory. Growing is then free (no copy, no garbage left for
// the collector: a Go guest growing to 3.4 MiB used to leave about as much
// behind), and a closed instance's pages go back to the OS at once.
//
// 64-bit only: a 32-bit process has 3 GiB of address space, which a
// hundred components' limits would exhaust.
type mapped struct{ b []byte }

// reserve maps n bytes, or returns nil (the caller then uses the Go heap).
func reserve(n uint64) *mapped {
	if n == 0 || n > 1<<40 {
		return nil
	}
	b, err := syscall.Mmap(-1, 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		return nil
	}
	m := &mapped{b: b}
	// The mapping goes once nothing refers to it: a slice a handler kept
	// past its call (the Handler contract forbids it) reads zeros rather
	// than faulting.
	runtime.AddCleanup(m, func(b []byte) { syscall.Munmap(b) }, b)
	return m
}

// release gives the pages back to the OS; the mapping stays until the
// cleanup.
func (m *mapped) release() { syscall.Madvise(m.b, syscall.MADV_DONTNEED) }
