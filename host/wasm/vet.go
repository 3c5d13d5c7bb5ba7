package wasm

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/moss-edge/moss/abi"
)

// errOversized marks what vet refuses.
var errOversized = errors.New("states more than the module holds")

// ErrStartSection is returned by Compile for a module with a start section.
var ErrStartSection = errors.New("has a start section")

// ErrTableLimit is returned by Compile for a module declaring more tables,
// or a larger initial table, than MaxTables and MaxTableEntries allow.
var ErrTableLimit = errors.New("over the table limit")

// ErrCompileBudget is returned by Compile for a module that would cost more
// to compile than the engine allows: past Options.CompileTimeout, or past a
// limit vet checks because wazero's compile time grows faster than linearly
// with it (MaxBrTableTargets).
var ErrCompileBudget = errors.New("over the compile budget")

// MaxBrTableTargets is the most targets one br_table may have. A 2 MB module
// holding one br_table of 2 million targets kept wazero's compiler busy for
// over 12 minutes and 800 MB; a compiler-generated switch has a few hundred.
const MaxBrTableTargets = 1 << 16

// MaxTables and MaxTableEntries bound what the tables of one instance make
// the host allocate: wazero keeps a table as a slice of 8-byte references,
// allocated as table.grow asks, outside the linear memory that
// limits.memory caps. A module grown its table by 100 million slots in a
// loop took the host to 17.8 GiB. The rewrite (interrupt.go) gives every
// table a maximum of MaxTableEntries, so table.grow past it returns -1 as
// memory.grow does past limits.memory; an initial size over it is refused.
// 1 Mi entries is 8 MiB per table; toolchains emit one table, of a few
// thousand entries for a Go guest.
const (
	MaxTables       = 16
	MaxTableEntries = 1 << 20
)

// maxLocals is the most locals a function may declare, V8's limit. The
// binary format lets a function declare 4 billion locals in a few bytes,
// and wazero allocates them all before it looks further.
const maxLocals = 50000

// vet refuses the sections whose numbers would make wazero's decoder
// allocate far more than the module's size: wazero 1.12 sizes a vector's
// slice from the count the module states before reading the elements, so a
// 60-byte module stating a 800-million-entry export section kept
// CompileModule busy for 18 s and tens of GiB (FuzzInstrument found it).
// Each element of a vector takes at least a byte, so a count past the bytes
// left is malformed; vet checks every vector wazero sizes that way. The
// code and export sections are read, with the same checks, by instrument.
func vet(secs []section) error {
	for _, s := range secs {
		r := &reader{b: s.body}
		var what string
		switch s.id {
		case 1:
			what = "type"
			for n := r.count(); n > 0 && r.err == nil; n-- {
				if form := r.byte(); form != 0x60 && r.err == nil {
					r.fail(fmt.Errorf("function type form %#x", form))
				}
				r.bytes(int(r.count())) // parameters
				r.bytes(int(r.count())) // results
			}
		case 3, 5, 6:
			what = "function, memory or global"
			r.count()
		case 4:
			what = "table"
			r.tables()
		case 8:
			// wazero runs the start function inside instantiation,
			// before the instance exists for the watchdog to interrupt:
			// guest code outside any deadline (docs/RATIONALE.md, "Why
			// is a start section refused?").
			return fmt.Errorf("%w: function %d would run while the module is instantiated, outside any deadline; export %s instead (the WASI reactor initialiser, which runs under the call deadline)",
				ErrStartSection, r.u32(), abi.ExportInitialize)
		case 9:
			what = "element"
			for n := r.count(); n > 0 && r.err == nil; n-- {
				r.element()
			}
		case 11:
			what = "data"
			for n := r.count(); n > 0 && r.err == nil; n-- {
				switch flags := r.u32(); flags {
				case 0:
					r.constExpr()
				case 1:
				case 2:
					r.u32()
					r.constExpr()
				default:
					r.fail(fmt.Errorf("data segment flags %d", flags))
				}
				r.bytes(int(r.u32()))
			}
		}
		if r.err != nil {
			return fmt.Errorf("%s section: %w", what, r.err)
		}
	}
	return nil
}

// element reads an element segment: its eight forms differ in what they
// state explicitly (table, element kind) and in holding function indices or
// expressions.
func (r *reader) element() {
	flags := r.u32()
	if flags > 7 {
		r.fail(fmt.Errorf("element segment flags %d", flags))
		return
	}
	if flags&1 == 0 { // active
		if flags&2 != 0 {
			r.u32() // table
		}
		r.constExpr()
	}
	if flags&3 != 0 {
		r.byte() // element kind or reference type
	}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		if flags&4 != 0 {
			r.constExpr()
		} else {
			r.u32()
		}
	}
}

// constExpr reads a constant expression, up to its end.
func (r *reader) constExpr() {
	for r.err == nil {
		op := r.byte()
		switch immTable[op] {
		case immNone:
			if op == 0x0b {
				return
			}
		case immLEB, immGlobal:
			r.leb(10, true)
		case immBytes4:
			r.bytes(4)
		case immBytes8:
			r.bytes(8)
		case immOther:
			r.immediates(op)
		default:
			r.fail(fmt.Errorf("opcode %#x in a constant expression", op))
		}
	}
}

// tables reads the table section, refusing more than MaxTables tables or an
// initial size over MaxTableEntries.
func (r *reader) tables() {
	n := r.count()
	if n > MaxTables {
		r.fail(fmt.Errorf("%w: %d tables, the limit is %d", ErrTableLimit, n, MaxTables))
		return
	}
	for ; n > 0 && r.err == nil; n-- {
		r.byte() // reference type
		min, _, _ := r.limitsMax()
		if r.err == nil && min > MaxTableEntries {
			r.fail(fmt.Errorf("%w: initial size %d entries, the limit is %d entries (8 bytes each)", ErrTableLimit, min, MaxTableEntries))
		}
	}
}

// locals reads a function's local declarations, refusing more than
// maxLocals in all.
func (r *reader) locals() {
	var sum uint64
	for n := r.count(); n > 0 && r.err == nil; n-- {
		sum += uint64(r.u32())
		r.byte()
		if sum > maxLocals {
			r.fail(fmt.Errorf("%w: %d locals or more, the limit is %d", errOversized, sum, maxLocals))
		}
	}
}

// limitsMax reads limits, returning the maximum when they state one.
func (r *reader) limitsMax() (min, max uint32, hasMax bool) {
	flag := r.byte()
	switch flag {
	case 0x00, 0x02:
		return r.u32(), 0, false
	case 0x01, 0x03:
		return r.u32(), r.u32(), true
	}
	r.fail(fmt.Errorf("limits flag %#x", flag))
	return 0, 0, false
}

// capTables rewrites a table section (vetted by tables) so that every table
// has a maximum of at most MaxTableEntries.
func capTables(body []byte) []byte {
	r := &reader{b: body}
	n := r.count()
	out := binary.AppendUvarint(nil, uint64(n))
	for ; n > 0 && r.err == nil; n-- {
		out = append(out, r.byte())
		min, max, hasMax := r.limitsMax()
		if !hasMax || max > MaxTableEntries {
			max = MaxTableEntries
		}
		out = append(out, 0x01)
		out = binary.AppendUvarint(out, uint64(min))
		out = binary.AppendUvarint(out, uint64(max))
	}
	return out
}

// capTablesOnly returns wasm (already read by instrument) with capTables
// applied to its table section and nothing else changed: for an engine that
// compiles modules without interrupt checks.
func capTablesOnly(wasm []byte) []byte {
	r := &reader{b: wasm, pos: 8}
	out := append([]byte(nil), wasm[:8]...)
	for !r.done() {
		start := r.pos
		id := r.byte()
		body := r.bytes(int(r.u32()))
		if id != 4 {
			out = append(out, wasm[start:r.pos]...)
			continue
		}
		body = capTables(body)
		out = append(out, id)
		out = binary.AppendUvarint(out, uint64(len(body)))
		out = append(out, body...)
	}
	return out
}
