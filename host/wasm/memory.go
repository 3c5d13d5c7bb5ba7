package wasm

import "github.com/tetratelabs/wazero/experimental"

// cappedAllocator backs each instance's linear memory with memory mapped
// for it (memory_mmap.go) or a Go slice, either refusing to grow past limit
// bytes: memory.grow then returns -1 in the guest,
// which a language runtime reports as out of memory. wazero's own limit is
// per runtime; this makes it per component.
type cappedAllocator struct {
	limit uint64
	mem   *cappedMemory // the instance's one memory, once allocated
}

func (a *cappedAllocator) Allocate(capBytes, maxBytes uint64) experimental.LinearMemory {
	a.mem = &cappedMemory{limit: min(a.limit, maxBytes)}
	return a.mem
}

// refused returns the largest size a grow asked for and was refused, or 0.
func (a *cappedAllocator) refused() uint64 {
	if a.mem == nil {
		return 0
	}
	return a.mem.refused
}

type cappedMemory struct {
	buf     []byte
	limit   uint64
	refused uint64
	mapped  *mapped // where the platform allows: the whole limit, mapped (memory_mmap.go)
	tried   bool    // mapping was tried
}

func (m *cappedMemory) Reallocate(size uint64) []byte {
	if size > m.limit {
		// Remembered so that the error that usually follows (a language
		// runtime's "out of memory" exit) can name the limit.
		m.refused = max(m.refused, size)
		return nil
	}
	if !m.tried {
		m.tried = true
		m.mapped = reserve(m.limit)
	}
	if m.mapped != nil {
		m.buf = m.mapped.b[:size]
		return m.buf
	}
	if size <= uint64(cap(m.buf)) {
		// Memory never shrinks, so bytes past len were zeroed by make.
		m.buf = m.buf[:size]
		return m.buf
	}
	// Grow geometrically: runtimes grow a page or a few at a time, and
	// growing by what is asked would copy the whole memory on each step
	// (quadratic: measured 305 MiB of copying to reach 32 MiB a page at a
	// time). Never reserve beyond the limit.
	c := min(max(size, 2*uint64(cap(m.buf))), m.limit)
	nb := make([]byte, size, c)
	copy(nb, m.buf)
	m.buf = nb
	return nb
}

func (m *cappedMemory) Free() {
	if m.mapped != nil {
		m.mapped.release()
	}
	m.buf = nil
}
