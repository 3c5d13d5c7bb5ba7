package wasm

import (
	"errors"
	"fmt"
)

// errOversized marks what vet refuses.
var errOversized = errors.New("states more than the module holds")

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
		case 3, 4, 5, 6:
			what = "function, table, memory or global"
			r.count()
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
