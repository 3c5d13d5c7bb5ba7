package wasm

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/internal/testwasm"
)

// rawModule instantiates wasm in a plain wazero runtime (no Moss ABI), with
// the global env.g its test module imports.
func rawModule(t *testing.T, interpreter bool, wasm []byte) api.Module {
	t.Helper()
	ctx := context.Background()
	rc := wazero.NewRuntimeConfigCompiler()
	if interpreter || !compilerPlatform() {
		rc = wazero.NewRuntimeConfigInterpreter()
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc.WithCoreFeatures(api.CoreFeaturesV2))
	t.Cleanup(func() { rt.Close(ctx) })
	// Host modules cannot export globals: env is a one-global Wasm module.
	env := []byte("\x00asm\x01\x00\x00\x00" +
		"\x06\x06\x01\x7f\x00\x41\x05\x0b" + // global i32 = 5
		"\x07\x05\x01\x01g\x03\x00") // export "g"
	if _, err := rt.InstantiateWithConfig(ctx, env, wazero.NewModuleConfig().WithName("env")); err != nil {
		t.Fatal(err)
	}
	m, err := rt.Instantiate(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func call(t *testing.T, m api.Module, fn string, args ...uint64) ([]uint64, error) {
	t.Helper()
	f := m.ExportedFunction(fn)
	if f == nil {
		t.Fatalf("no export %s", fn)
	}
	return f.Call(context.Background(), args...)
}

// TestInstrumentKeepsBehaviour: a module using every kind of immediate the
// rewrite steps over computes the same result before and after it, under
// both engines.
func TestInstrumentKeepsBehaviour(t *testing.T) {
	orig := testwasm.WAT(t, filepath.Join("testdata", "instrument.wat"))
	inst, err := instrument(orig)
	if err != nil {
		t.Fatal(err)
	}
	if len(inst) <= len(orig) {
		t.Fatalf("instrumented module is %d bytes, the original %d", len(inst), len(orig))
	}
	for _, interp := range []bool{false, true} {
		want, err := call(t, rawModule(t, interp, orig), "run")
		if err != nil {
			t.Fatal(err)
		}
		m := rawModule(t, interp, inst)
		got, err := call(t, m, "run")
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != want[0] {
			t.Fatalf("interpreter=%v: run returned %d instrumented, %d before", interp, got[0], want[0])
		}
		if g := m.ExportedGlobal(abi.ExportInterrupt); g == nil || g.Get() != 0 {
			t.Fatalf("interrupt global %v", g)
		}
	}
}

// TestInterruptStops: setting the global from another goroutine stops a
// tight loop at its head and a loop-free call tree (2^40 calls) at a
// function entry.
func TestInterruptStops(t *testing.T) {
	inst, err := instrument(testwasm.WAT(t, filepath.Join("testdata", "instrument.wat")))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		fn   string
		args []uint64
	}{{"spin", nil}, {"tree", []uint64{40}}} {
		t.Run(tc.fn, func(t *testing.T) {
			m := rawModule(t, false, inst)
			g := m.ExportedGlobal(abi.ExportInterrupt).(api.MutableGlobal)
			done := make(chan error, 1)
			go func() {
				_, err := m.ExportedFunction(tc.fn).Call(context.Background(), tc.args...)
				done <- err
			}()
			select {
			case err := <-done:
				t.Fatalf("%s returned before the interrupt: %v", tc.fn, err)
			case <-time.After(20 * time.Millisecond): // let it run: there is no event for "is spinning"
			}
			// A garbage collection stops the world, which waits for
			// the spinning goroutine to reach a preemption point: the
			// checks make one every fuelPerYield checks.
			gc := make(chan struct{})
			go func() { runtime.GC(); close(gc) }()
			select {
			case <-gc:
			case <-time.After(10 * time.Second):
				t.Fatalf("a garbage collection waited 10s for %s", tc.fn)
			}
			g.Set(1)
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "unreachable") {
					t.Fatalf("%s ended with %v, want the interrupt's trap", tc.fn, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s not stopped 10s after the interrupt", tc.fn)
			}
		})
	}
}

// TestEngineStopsLoopFreeCallTree: through the engine, the watchdog stops a
// guest that recurses without looping, which wazero's own checks (loop
// heads only) could not.
func TestEngineStopsLoopFreeCallTree(t *testing.T) {
	if !compilerPlatform() {
		t.Skip("interrupt checks are compiled in on amd64 and arm64 only")
	}
	e := newEngine(t, "")
	inst, err := instantiate(t, e, "tree.wat", &recorder{}, InstanceConfig{Deadline: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(context.Background())
	start := time.Now()
	err = inst.Deliver(batch(abi.Event{Kind: abi.EventMessage, Topic: "t", Payload: []byte("x")}))
	if !errors.Is(err, ErrDeadline) {
		t.Fatalf("Deliver: %v, want ErrDeadline", err)
	}
	// 2^40 calls take hours; stopped, the call ends within the deadline
	// plus the watchdog's tick. Generous for -race on a busy machine.
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("stopped after %v", took)
	}
}

// TestInstrumentRefuses: what would let a guest reach the interrupt global,
// or cannot be read, is refused with the reason.
func TestInstrumentRefuses(t *testing.T) {
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		t.Fatalf("wat2wasm not found: install Debian's wabt (make deps): %v", err)
	}
	for _, tc := range []struct{ name, wat, want string }{
		{"no memory", `(module (func))`, `has no linear memory: a component must define one and export it as "memory"`},
		{"reserved export", `(module (global (export "moss_interrupt") i32 (i32.const 0)))`, `exports "moss_interrupt", a name the host reserves`},
		// Global 1 does not exist in the module; after the rewrite it
		// would be the interrupt.
		{"set past its globals", `(module (global (mut i32) (i32.const 0)) (func (global.set 1 (i32.const 0))))`, "global index 1 out of range (1 globals)"},
		{"get past its globals", `(module (func (result i32) (global.get 0)))`, "global index 0 out of range (0 globals)"},
		{"export past its globals", `(module (export "g" (global 0)))`, `export "g": global index 0 out of range (0 globals)`},
		{"atomics", `(module (memory 1 1 shared) (func (drop (i32.atomic.load (i32.const 0)))))`, "opcode 0xfe is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "m.wat")
			os.WriteFile(src, []byte(tc.wat), 0o644)
			out, err := exec.Command("wat2wasm", "--no-check", "--enable-threads", "-o", filepath.Join(dir, "m.wasm"), src).CombinedOutput()
			if err != nil {
				t.Fatalf("wat2wasm: %v\n%s", err, out)
			}
			wasm, _ := os.ReadFile(filepath.Join(dir, "m.wasm"))
			_, err = instrument(wasm)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("instrument: %v, want %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		wasm []byte
		want string
	}{
		{"empty", nil, "not a WebAssembly binary"},
		{"version 2", []byte("\x00asm\x02\x00\x00\x00"), "version 2, want 1"},
		{"truncated section", []byte("\x00asm\x01\x00\x00\x00\x0a\x10\x01"), "unexpected end"},
		{"huge count", []byte("\x00asm\x01\x00\x00\x00\x0a\x05\xff\xff\xff\xff\x0f"), "vector of 4294967295 elements"},
		{"overlong LEB", []byte("\x00asm\x01\x00\x00\x00\x0a\x06\xff\xff\xff\xff\xff\x00"), "too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := instrument(tc.wasm)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("instrument: %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzInstrument: instrument never panics, never refuses a module wazero
// accepts, and never turns a module wazero refuses into one it accepts (the
// way a guest could reach the interrupt global).
func FuzzInstrument(f *testing.F) {
	entries, _ := os.ReadDir("testdata")
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".wat") {
			f.Add(testwasm.WAT(f, filepath.Join("testdata", e.Name())))
		}
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2))
	defer rt.Close(ctx)
	valid := func(wasm []byte) error {
		cm, err := rt.CompileModule(ctx, wasm)
		if err == nil {
			cm.Close(ctx)
		}
		return err
	}
	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, ierr := instrument(wasm)
		if ierr != nil && !semanticRefusal(ierr) {
			// Refused while reading the sections (an unknown id, a
			// truncated one, a count past the bytes): wazero refuses
			// those too, but only after allocating what the module
			// states, up to tens of GiB (vet.go), which kills the
			// fuzzing worker.
			return
		}
		origErr := valid(wasm)
		if ierr != nil {
			// Refused by design: the reserved name, and modules that are
			// no component for want of a memory.
			if origErr == nil && !strings.Contains(ierr.Error(), abi.ExportInterrupt) && !strings.Contains(ierr.Error(), "has no linear memory") {
				t.Fatalf("instrument refused a valid module: %v", ierr)
			}
			return
		}
		outErr := valid(out)
		if origErr == nil && outErr != nil {
			t.Fatalf("the rewrite broke a valid module: %v", outErr)
		}
		if origErr != nil && outErr == nil {
			t.Fatalf("the rewrite made an invalid module valid (was: %v)", origErr)
		}
	})
}

// semanticRefusal reports whether instrument refused a module it had read
// in full, for what it found in it.
func semanticRefusal(err error) bool {
	for _, s := range []string{"global index", "is not supported", "a name the host reserves", "has no linear memory", "locals:"} {
		if strings.Contains(err.Error(), s) && !errors.Is(err, errOversized) {
			return true
		}
	}
	return false
}

func BenchmarkInstrument(b *testing.B) {
	wasm := testwasm.WAT(b, filepath.Join("testdata", "instrument.wat"))
	if p := os.Getenv("MOSS_INSTRUMENT_WASM"); p != "" { // e.g. a Go guest
		var err error
		if wasm, err = os.ReadFile(p); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(wasm)))
	for b.Loop() {
		if _, err := instrument(wasm); err != nil {
			b.Fatal(err)
		}
	}
}

func TestAppendSLEB(t *testing.T) {
	for _, v := range []int64{0, 1, 63, 64, -1, -64, -65, 1000, 1 << 30, -1 << 31, 1<<31 - 1} {
		b := appendSLEB(nil, v)
		r := &reader{b: b}
		if got := int64(int32(r.leb(5, true))); got != v || r.pos != len(b) || r.err != nil {
			t.Errorf("appendSLEB(%d) = %x, reads back as %d (%d of %d bytes, %v)", v, b, got, r.pos, len(b), r.err)
		}
	}
}
