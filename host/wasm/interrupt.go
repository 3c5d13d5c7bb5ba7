package wasm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/moss-edge/moss/abi"
)

// Interrupt checks.
//
// wazero stops a guest on a cancelled context (WithCloseOnContextDone) by
// compiling, at every loop header, a call into a trampoline that leaves
// machine code for Go, checks the module's state and comes back; and by
// starting a goroutine per call to watch the context. A Go guest runs loops
// everywhere (its scheduler, memmove, the CBOR decoder), so that costs a
// Go guest about 5x per delivered event (bench/RESULTS.md, the
// no-termination column).
//
// instrument does the same job inside the module. It adds two mutable i32
// globals: fuel, a countdown, and the interrupt flag, exported as
// abi.ExportInterrupt, which the watchdog sets to stop an overrunning call.
// At the entry of every function and the head of every loop it inserts
//
//	global.get $fuel
//	i32.const 1
//	i32.sub
//	global.set $fuel
//	global.get $fuel
//	i32.eqz
//	if                   ;; once every fuelPerYield checks
//	  i32.const 0
//	  memory.grow 0      ;; leaves machine code for Go: a preemption point
//	  drop
//	  global.get $interrupt
//	  if
//	    unreachable      ;; stopped
//	  end
//	  i32.const fuelPerYield
//	  global.set $fuel
//	end
//
// Leaving machine code now and then is not optional: Go cannot preempt a
// goroutine inside machine code it did not compile, so a guest spinning in
// code that never leaves it holds up every stop-the-world of the host's
// garbage collector, the watchdog included, which then never sets the flag
// (the hostile-module tests hung that way before the fuel). memory.grow
// of 0 pages is wazero's cheapest way out and back.
//
// A check costs a load, a store and a branch; wazero's compiler does not
// carry a global's value across a loop header or a call, so each check reads
// the counter afresh. Checking function entries too stops what wazero's
// checks cannot: a deep call tree with no loops.
//
// The guest must not be able to touch either global. Its code cannot name
// them (an index past its own globals is refused below, before they exist),
// and the decoder reads every instruction wazero accepts with its
// immediates, so no global.set can hide inside what was taken for an
// immediate: an opcode it does not know is refused.

// fuelPerYield is how many checks pass between two visits to Go. A visit
// costs about 150 ns; a tight loop makes a check every few nanoseconds, so
// a stop-the-world waits a few microseconds for a spinning guest.
const fuelPerYield = 1000

// checkCode returns the check for the fuel and interrupt globals.
func checkCode(fuel, interrupt uint32) []byte {
	getFuel := binary.AppendUvarint([]byte{0x23}, uint64(fuel))
	setFuel := binary.AppendUvarint([]byte{0x24}, uint64(fuel))
	b := append([]byte(nil), getFuel...)
	b = append(b, 0x41, 0x01, 0x6b) // i32.const 1, i32.sub
	b = append(b, setFuel...)
	b = append(b, getFuel...)
	b = append(b, 0x45, 0x04, 0x40)       // i32.eqz, if
	b = append(b, 0x41, 0x00, 0x40, 0x00) // i32.const 0, memory.grow 0
	b = append(b, 0x1a, 0x23)             // drop, global.get
	b = binary.AppendUvarint(b, uint64(interrupt))
	b = append(b, 0x04, 0x40, 0x00, 0x0b, 0x41) // if unreachable end, i32.const
	b = appendSLEB(b, fuelPerYield)
	b = append(b, setFuel...)
	return append(b, 0x0b) // end
}

// appendSLEB appends v as a signed LEB128 number (binary.AppendVarint
// zigzag-encodes, which is another format).
func appendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// Section ids, and the order the binary format requires of them.
const (
	secCustom = 0
	secImport = 2
	secTable  = 4
	secMemory = 5
	secGlobal = 6
	secExport = 7
	secCode   = 10
)

var sectionRank = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

type section struct {
	id   byte
	body []byte
}

// instrument returns wasm rewritten with interrupt checks. It does not
// validate the module beyond what it must read: wazero validates the result.
func instrument(wasm []byte) ([]byte, error) {
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], []byte("\x00asm")) {
		return nil, errors.New("not a WebAssembly binary (no \\0asm header)")
	}
	if !bytes.Equal(wasm[4:8], []byte{1, 0, 0, 0}) {
		return nil, fmt.Errorf("WebAssembly binary version %d, want 1", binary.LittleEndian.Uint32(wasm[4:8]))
	}
	r := &reader{b: wasm, pos: 8}
	var secs []section
	for !r.done() {
		id := r.byte()
		size := r.u32()
		body := r.bytes(int(size))
		if r.err != nil {
			return nil, fmt.Errorf("section %d at offset %d: %w: %w", id, r.pos, errOversized, r.err)
		}
		if id == secCustom {
			name := (&reader{b: body}).name()
			// DWARF describes code offsets the rewrite moves.
			if strings.HasPrefix(name, ".debug_") {
				continue
			}
		} else if _, ok := sectionRank[id]; !ok {
			return nil, fmt.Errorf("unknown section id %d", id)
		}
		secs = append(secs, section{id, body})
	}

	if err := vet(secs); err != nil {
		return nil, err
	}
	var importedGlobals, definedGlobals, memories uint32
	for _, s := range secs {
		var err error
		switch s.id {
		case secImport:
			var importedMemories uint32
			importedGlobals, importedMemories, err = countImports(s.body)
			memories += importedMemories
		case secMemory:
			r := &reader{b: s.body}
			n := r.count()
			memories, err = memories+n, r.err
		case secGlobal:
			r := &reader{b: s.body}
			definedGlobals, err = r.count(), r.err
		}
		if err != nil {
			return nil, err
		}
	}
	globals := importedGlobals + definedGlobals
	for _, s := range secs {
		if s.id == secExport {
			if err := checkExports(s.body, globals); err != nil {
				return nil, err
			}
		}
	}
	fuel, interrupt := globals, globals+1
	check := checkCode(fuel, interrupt)

	// The checks add a few percent: 4,600 of them, about 25 bytes each,
	// to the 3.9 MB Go sink guest.
	out := make([]byte, 0, len(wasm)+len(wasm)/16)
	out = append(out, wasm[:8]...)
	var sawGlobal, sawExport bool
	emit := func(id byte, body []byte) {
		out = append(out, id)
		out = binary.AppendUvarint(out, uint64(len(body)))
		out = append(out, body...)
	}
	// addMissing emits the global and export sections where the format
	// wants them when the module has none, before a section ranked after.
	addMissing := func(rank int) {
		if !sawGlobal && rank > sectionRank[secGlobal] {
			emit(secGlobal, addGlobals([]byte{2}))
			sawGlobal = true
		}
		if !sawExport && rank > sectionRank[secExport] {
			emit(secExport, addExport([]byte{1}, interrupt))
			sawExport = true
		}
	}
	for _, s := range secs {
		if s.id != secCustom {
			addMissing(sectionRank[s.id])
		}
		switch s.id {
		case secGlobal:
			body, err := rewriteCount(s.body, 2, addGlobals)
			if err != nil {
				return nil, fmt.Errorf("global section: %w", err)
			}
			emit(s.id, body)
			sawGlobal = true
		case secExport:
			body, err := rewriteCount(s.body, 1, func(b []byte) []byte { return addExport(b, interrupt) })
			if err != nil {
				return nil, fmt.Errorf("export section: %w", err)
			}
			emit(s.id, body)
			sawExport = true
		case secTable:
			emit(s.id, capTables(s.body))
		case secCode:
			var err error
			out = append(out, s.id)
			if out, err = rewriteCode(out, s.body, globals, check); err != nil {
				return nil, fmt.Errorf("code section: %w", err)
			}
		default:
			emit(s.id, s.body)
		}
	}
	addMissing(len(sectionRank) + 1)
	if memories == 0 {
		// The checks grow memory by 0 pages, and a component shares its
		// memory with the host anyway.
		return nil, fmt.Errorf("has no linear memory: a component must define one and export it as %q", abi.ExportMemory)
	}
	return out, nil
}

// addGlobals appends the fuel and interrupt globals, both (mut i32).
func addGlobals(b []byte) []byte {
	b = append(b, 0x7f, 0x01, 0x41)
	b = appendSLEB(b, fuelPerYield)
	return append(b, 0x0b, 0x7f, 0x01, 0x41, 0x00, 0x0b)
}

func addExport(b []byte, g uint32) []byte {
	b = binary.AppendUvarint(b, uint64(len(abi.ExportInterrupt)))
	b = append(b, abi.ExportInterrupt...)
	b = append(b, 0x03) // global
	return binary.AppendUvarint(b, uint64(g))
}

// rewriteCount rewrites a vector section with more entries, appended by add.
func rewriteCount(body []byte, more uint64, add func([]byte) []byte) ([]byte, error) {
	r := &reader{b: body}
	n := r.count()
	if r.err != nil {
		return nil, r.err
	}
	out := binary.AppendUvarint(nil, uint64(n)+more)
	out = append(out, body[r.pos:]...)
	return add(out), nil
}

func countImports(body []byte) (globals, memories uint32, err error) {
	r := &reader{b: body}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		r.name()
		r.name()
		switch kind := r.byte(); kind {
		case 0x00: // function: type index
			r.u32()
		case 0x01: // table: reference type, limits
			r.byte()
			r.limits()
		case 0x02: // memory
			r.limits()
			memories++
		case 0x03: // global: value type, mutability
			r.byte()
			r.byte()
			globals++
		default:
			r.fail(fmt.Errorf("import of unknown kind %#x", kind))
		}
	}
	if r.err != nil {
		return 0, 0, fmt.Errorf("import section: %w", r.err)
	}
	return globals, memories, nil
}

// checkExports refuses a module that already exports the interrupt's name,
// or a global past its own (which would be the interrupt).
func checkExports(body []byte, globals uint32) error {
	r := &reader{b: body}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		name := r.name()
		if name == abi.ExportInterrupt {
			return fmt.Errorf("exports %q, a name the host reserves", name)
		}
		kind, index := r.byte(), r.u32()
		if r.err == nil && kind == 0x03 && index >= globals {
			return fmt.Errorf("export %q: global index %d out of range (%d globals)", name, index, globals)
		}
	}
	if r.err != nil {
		return fmt.Errorf("export section: %w", r.err)
	}
	return nil
}

// rewriteCode appends the code section body, sized, to out, with check
// inserted at the entry of every function body and after every loop
// instruction. globals is the module's own global count: an instruction
// naming a global past it is refused. Sizes are written as 5-byte LEB128
// numbers (the format allows padding), so that each body is written once,
// in place.
func rewriteCode(out, body []byte, globals uint32, check []byte) ([]byte, error) {
	r := &reader{b: body}
	n := r.count()
	if r.err != nil {
		return nil, r.err
	}
	secAt := len(out)
	out = append(out, 0, 0, 0, 0, 0)
	out = binary.AppendUvarint(out, uint64(n))
	for i := uint32(0); i < n; i++ {
		size := r.u32()
		code := r.bytes(int(size))
		if r.err != nil {
			return nil, r.err
		}
		fnAt := len(out)
		out = append(out, 0, 0, 0, 0, 0)
		var err error
		if out, err = rewriteFunc(out, code, globals, check); err != nil {
			return nil, fmt.Errorf("function body %d: %w", i, err)
		}
		putSize(out[fnAt:], len(out)-fnAt-5)
	}
	if !r.done() {
		return nil, errors.New("bytes after the last function body")
	}
	putSize(out[secAt:], len(out)-secAt-5)
	return out, nil
}

// putSize writes n as a 5-byte LEB128 number.
func putSize(b []byte, n int) {
	for i := range 4 {
		b[i] = byte(n>>(7*i))&0x7f | 0x80
	}
	b[4] = byte(n >> 28)
}

// Immediates by opcode, for the instructions the scanner steps over
// without reading (see immediates for the rest).
const (
	immNone    = iota
	immLEB     // one LEB128 number (index, block type, signed constant)
	immLEB2    // two (memarg, call_indirect)
	immBytes4  // f32.const
	immBytes8  // f64.const
	immLoop    // insert a check after it
	immGlobal  // check the index
	immOther   // read by immediates
	immRefused // not a WebAssembly 2.0 instruction
)

var immTable = func() (t [256]uint8) {
	for i := range t {
		t[i] = immRefused
	}
	for _, op := range []byte{0x00, 0x01, 0x05, 0x0b, 0x0f, 0x1a, 0x1b, 0xd1} {
		t[op] = immNone
	}
	for op := 0x45; op <= 0xc4; op++ {
		t[op] = immNone
	}
	for _, op := range []byte{0x02, 0x04, 0x0c, 0x0d, 0x10, 0x20, 0x21, 0x22, 0x25, 0x26, 0x3f, 0x40, 0x41, 0x42, 0xd2} {
		t[op] = immLEB
	}
	t[0x11] = immLEB2
	for op := 0x28; op <= 0x3e; op++ {
		t[op] = immLEB2
	}
	t[0x43], t[0x44] = immBytes4, immBytes8
	t[0x03] = immLoop
	t[0x23], t[0x24] = immGlobal, immGlobal
	for _, op := range []byte{0x0e, 0x1c, 0xd0, 0xfc, 0xfd} {
		t[op] = immOther
	}
	return t
}()

// skipLEB returns the position after the LEB128 number at p, of at most
// max bytes, or -1.
func skipLEB(b []byte, p, max int) int {
	for end := min(p+max, len(b)); p < end; {
		c := b[p]
		p++
		if c < 0x80 {
			return p
		}
	}
	return -1
}

func rewriteFunc(out, code []byte, globals uint32, check []byte) ([]byte, error) {
	r := &reader{b: code}
	if r.locals(); r.err != nil {
		return nil, fmt.Errorf("locals: %w", r.err)
	}
	p := r.pos
	out = append(out, code[:p]...)
	out = append(out, check...)
	copied := p
	for p < len(code) {
		at, op := p, code[p]
		p++
		switch immTable[op] {
		case immNone:
		case immLEB:
			p = skipLEB(code, p, 10) // wazero rejects a number too long for its type
		case immLEB2:
			if p = skipLEB(code, p, 5); p >= 0 {
				p = skipLEB(code, p, 5)
			}
		case immBytes4:
			p += 4
		case immBytes8:
			p += 8
		case immLoop:
			if p = skipLEB(code, p, 5); p >= 0 {
				out = append(out, code[copied:p]...)
				out = append(out, check...)
				copied = p
			}
		case immGlobal:
			r.pos = p
			if g := r.u32(); r.err == nil && g >= globals {
				return nil, fmt.Errorf("offset %d: global index %d out of range (%d globals)", at, g, globals)
			}
			p = r.pos
		case immOther:
			r.pos = p
			r.immediates(op)
			p = r.pos
		default:
			return nil, fmt.Errorf("offset %d: opcode %#x is not supported", at, op)
		}
		if p < 0 || p > len(code) || r.err != nil {
			err := r.err
			if err == nil {
				err = errTruncated
			}
			return nil, fmt.Errorf("instruction %#x at offset %d: %w", op, at, err)
		}
	}
	return append(out, code[copied:]...), nil
}

// reader decodes the binary format. The first error sticks; reads after it
// return zero values, so callers check err once after a group of reads.
type reader struct {
	b   []byte
	pos int
	err error
}

var errTruncated = errors.New("unexpected end")

func (r *reader) done() bool { return r.err != nil || r.pos >= len(r.b) }

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) byte() byte {
	if r.err != nil || r.pos >= len(r.b) {
		r.fail(errTruncated)
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b)-r.pos {
		r.fail(errTruncated)
		return nil
	}
	b := r.b[r.pos : r.pos+n]
	r.pos += n
	return b
}

// leb reads an LEB128 number of at most maxBytes bytes, unsigned or signed.
func (r *reader) leb(maxBytes int, signed bool) uint64 {
	var v uint64
	var shift uint
	for i := 0; i < maxBytes; i++ {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if signed && shift < 64 && c&0x40 != 0 {
				v |= ^uint64(0) << shift
			}
			return v
		}
	}
	r.fail(errors.New("LEB128 number too long"))
	return 0
}

func (r *reader) u32() uint32 {
	v := r.leb(5, false)
	if v > 0xffffffff {
		r.fail(errors.New("u32 out of range"))
	}
	return uint32(v)
}

// count reads a vector length; each element takes at least a byte, so a
// count past the remaining bytes is malformed (and would make loops long).
func (r *reader) count() uint32 {
	n := r.u32()
	if r.err == nil && int64(n) > int64(len(r.b)-r.pos) {
		r.fail(fmt.Errorf("%w: vector of %d elements in %d bytes", errOversized, n, len(r.b)-r.pos))
		return 0
	}
	return n
}

func (r *reader) name() string { return string(r.bytes(int(r.u32()))) }

func (r *reader) limits() {
	switch flag := r.byte(); flag {
	case 0x00, 0x02:
		r.u32()
	case 0x01, 0x03:
		r.u32()
		r.u32()
	default:
		r.fail(fmt.Errorf("limits flag %#x", flag))
	}
}

func (r *reader) memarg() {
	r.u32() // alignment
	r.u32() // offset
}

// immediates skips the immediates of an instruction immTable marks
// immOther (br_table, typed select, ref.null and the 0xfc and 0xfd
// prefixes). With immTable it covers the instructions of WebAssembly 2.0
// (wazero's CoreFeaturesV2): MVP, sign extension, non-trapping conversions,
// multi-value, bulk memory, reference types and fixed-width SIMD.
func (r *reader) immediates(op byte) {
	switch op {
	case 0x0e: // br_table
		n := r.count()
		if n > MaxBrTableTargets {
			r.fail(fmt.Errorf("%w: a br_table of %d targets, the limit is %d", ErrCompileBudget, n, MaxBrTableTargets))
			return
		}
		for ; n > 0 && r.err == nil; n-- {
			r.u32()
		}
		r.u32()
	case 0x1c: // select t*
		for n := r.count(); n > 0 && r.err == nil; n-- {
			r.byte()
		}
	case 0xd0: // ref.null t
		r.byte()
	case 0xfc:
		r.miscImmediates(r.u32())
	case 0xfd:
		r.simdImmediates(r.u32())
	default:
		r.fail(fmt.Errorf("opcode %#x is not supported", op))
	}
}

func (r *reader) miscImmediates(sub uint32) {
	switch {
	case sub <= 7: // saturating truncations
	case sub == 8: // memory.init data, mem
		r.u32()
		r.u32()
	case sub == 9: // data.drop
		r.u32()
	case sub == 10: // memory.copy mem, mem
		r.u32()
		r.u32()
	case sub == 11: // memory.fill mem
		r.u32()
	case sub == 12 || sub == 14: // table.init elem, table; table.copy table, table
		r.u32()
		r.u32()
	case sub == 13 || (sub >= 15 && sub <= 17): // elem.drop, table.grow/size/fill
		r.u32()
	default:
		r.fail(fmt.Errorf("opcode 0xfc %d is not supported", sub))
	}
}

func (r *reader) simdImmediates(sub uint32) {
	switch {
	case sub <= 11: // v128 loads and store
		r.memarg()
	case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub <= 20: // swizzle, splats
	case sub <= 34: // extract and replace lane
		r.byte()
	case sub <= 83: // comparisons, bitwise, any_true
	case sub <= 91: // load and store lane
		r.memarg()
		r.byte()
	case sub <= 93: // load zero
		r.memarg()
	case sub <= 255: // arithmetic and conversions, no immediates
	default:
		r.fail(fmt.Errorf("opcode 0xfd %d is not supported", sub))
	}
}
