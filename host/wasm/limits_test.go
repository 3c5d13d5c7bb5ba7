package wasm

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/moss-edge/moss/abi"
)

// TestStartSectionRefused: a start function would run inside wazero's
// instantiation, before any deadline applies; Compile refuses the module
// and says what to do instead.
func TestStartSectionRefused(t *testing.T) {
	for _, interp := range []bool{false, true} {
		e, err := NewEngine(context.Background(), Options{Interpreter: interp})
		if err != nil {
			t.Fatal(err)
		}
		_, err = instantiate(t, e, "startloop.wat", &recorder{}, InstanceConfig{})
		e.Close(context.Background())
		if !errors.Is(err, ErrStartSection) || !strings.Contains(err.Error(), "outside any deadline; export _initialize instead") {
			t.Fatalf("interpreter %v: start section: %v", interp, err)
		}
	}
}

// TestTableCap: table.grow past MaxTableEntries fails in the guest (-1)
// under both engines, and an initial table over it is refused at Compile.
func TestTableCap(t *testing.T) {
	for _, interp := range []bool{false, true} {
		e, err := NewEngine(context.Background(), Options{Interpreter: interp})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close(context.Background())
		inst, err := instantiate(t, e, "tablegrow.wat", &recorder{}, InstanceConfig{})
		if err != nil {
			t.Fatal(err)
		}
		err = inst.Deliver(batch(abi.Event{Kind: abi.EventTimer, ID: 1}))
		if err == nil || !strings.Contains(err.Error(), "returned 7") {
			t.Fatalf("interpreter %v: Deliver = %v, want the guest's 7 (table.grow failed)", interp, err)
		}
		res, err := inst.mod.ExportedFunction("size").Call(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got := uint32(res[0]); got > MaxTableEntries || got < MaxTableEntries-100000 {
			t.Fatalf("interpreter %v: table size %d after growing to the cap %d", interp, got, MaxTableEntries)
		}
		inst.Close(context.Background())

		_, err = instantiate(t, e, "bigtable.wat", &recorder{}, InstanceConfig{})
		if !errors.Is(err, ErrTableLimit) || !strings.Contains(err.Error(), "initial size 2097152 entries, the limit is 1048576") {
			t.Fatalf("interpreter %v: big table: %v", interp, err)
		}
	}
}
