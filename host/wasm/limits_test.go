package wasm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/internal/testwasm"
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

// lateCounter is a Handler that takes a millisecond a call, as a host call
// doing real work would, and counts the calls it is given after the call's
// deadline (its context cancelled by the watchdog).
type lateCounter struct{ calls, late int }

func (h *lateCounter) HostCall(ctx context.Context, _ Func, _ []byte) ([]byte, error) {
	h.calls++
	if ctx.Err() != nil {
		h.late++
	}
	time.Sleep(time.Millisecond)
	return nil, nil
}

// TestHostCallAfterDeadlineTraps: a guest looping on host calls is trapped
// at the first host call after its deadline, not a thousand calls later
// when its own interrupt check reads the flag, and no handler runs for a
// call past the deadline.
func TestHostCallAfterDeadlineTraps(t *testing.T) {
	for _, interp := range []bool{false, true} {
		e, err := NewEngine(context.Background(), Options{Interpreter: interp})
		if err != nil {
			t.Fatal(err)
		}
		h := &lateCounter{}
		inst, err := instantiate(t, e, "callloop.wat", h, InstanceConfig{Deadline: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		err = inst.Deliver(batch(abi.Event{Kind: abi.EventTimer, ID: 1}))
		e.Close(context.Background())
		if !errors.Is(err, ErrDeadline) {
			t.Fatalf("interpreter %v: Deliver = %v, want ErrDeadline", interp, err)
		}
		// The one call running when the watchdog fired may see its
		// context end; none may start after.
		if h.late > 1 {
			t.Fatalf("interpreter %v: %d of %d host calls reached the handler after the deadline", interp, h.late, h.calls)
		}
	}
}

// blockingHandler waits for its context: a host call that would block past
// the deadline (a QoS 1 publish waiting for its PUBACK).
type blockingHandler struct{}

func (blockingHandler) HostCall(ctx context.Context, _ Func, _ []byte) ([]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestBlockingHostCallEndsAtDeadline: a handler's context ends at the call's
// deadline, and the call then fails with ErrDeadline.
func TestBlockingHostCallEndsAtDeadline(t *testing.T) {
	e := newEngine(t, "")
	inst, err := instantiate(t, e, "callloop.wat", blockingHandler{}, InstanceConfig{Deadline: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.Deliver(batch(abi.Event{Kind: abi.EventTimer, ID: 1})); !errors.Is(err, ErrDeadline) {
		t.Fatalf("Deliver = %v, want ErrDeadline", err)
	}
}

// TestCompileBudget: a br_table past MaxBrTableTargets is refused before
// wazero's compiler sees it; a compilation past CompileTimeout, or whose
// context ends, returns at once with a typed error.
func TestCompileBudget(t *testing.T) {
	e := newEngine(t, "")
	_, err := e.Compile(context.Background(), "brtable", testwasm.WAT(t, filepath.Join("testdata", "brtable.wat")))
	if !errors.Is(err, ErrCompileBudget) || !strings.Contains(err.Error(), "a br_table of 70000 targets, the limit is 65536") {
		t.Fatalf("br_table: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	echo := testwasm.WAT(t, filepath.Join("testdata", "echo.wat"))
	if _, err := e.Compile(ctx, "echo", echo); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	short, err := NewEngine(context.Background(), Options{CompileTimeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close(context.Background())
	// A module that takes far longer than 1 ms to compile (one function of
	// 300 loops: tens of milliseconds at least), so the budget, not a race
	// between the compiler and the timer, decides.
	slow := filepath.Join(t.TempDir(), "slow.wat")
	if err := os.WriteFile(slow, []byte(`(module (memory (export "memory") 1) (func`+strings.Repeat(" (loop)", 300)+"))"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := short.Compile(context.Background(), "slow", testwasm.WAT(t, slow)); !errors.Is(err, ErrCompileBudget) || !strings.Contains(err.Error(), "not compiled within 1ms") {
		t.Fatalf("timeout: %v", err)
	}
}
