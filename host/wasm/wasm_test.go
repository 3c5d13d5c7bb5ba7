package wasm

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/internal/testwasm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Handler that keeps what the guest sent.
type recorder struct {
	calls []string
	reqs  [][]byte
	resp  []byte
	err   error
}

func (r *recorder) HostCall(_ context.Context, fn Func, req []byte) ([]byte, error) {
	r.calls = append(r.calls, fn.String())
	r.reqs = append(r.reqs, bytes.Clone(req))
	return r.resp, r.err
}

func newEngine(t *testing.T, cacheDir string) *Engine {
	t.Helper()
	e, err := NewEngine(context.Background(), Options{CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

func instantiate(t *testing.T, e *Engine, wat string, h Handler, cfg InstanceConfig) (*Instance, error) {
	t.Helper()
	m, err := e.Compile(context.Background(), wat, testwasm.WAT(t, filepath.Join("testdata", wat)))
	if err != nil {
		return nil, err
	}
	cfg.Name = strings.TrimSuffix(wat, ".wat")
	cfg.Handler = h
	if cfg.MemoryLimit == 0 {
		cfg.MemoryLimit = 16 << 20
	}
	if cfg.Deadline == 0 {
		cfg.Deadline = time.Second
	}
	return e.Instantiate(context.Background(), m, cfg)
}

func batch(events ...abi.Event) []byte {
	b := abi.AppendArray(nil, len(events))
	for i := range events {
		b = abi.AppendEvent(b, &events[i])
	}
	return b
}

func TestDeliverReachesGuest(t *testing.T) {
	e := newEngine(t, "")
	rec := &recorder{}
	inst, err := instantiate(t, e, "echo.wat", rec, InstanceConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(context.Background())
	want := batch(abi.Event{Kind: abi.EventMessage, ID: 3, Topic: "a/b", Payload: []byte("hi")})
	for range 3 {
		if err := inst.Deliver(want); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.reqs) != 3 || !bytes.Equal(rec.reqs[2], want) || rec.calls[0] != abi.FuncLog {
		t.Fatalf("guest passed back %d requests %q, want 3 x %x", len(rec.reqs), rec.calls, want)
	}
	// A batch larger than the buffer the guest gave asks for a new one.
	big := batch(abi.Event{Kind: abi.EventMessage, ID: 1, Topic: "t", Payload: make([]byte, 5000)})
	if err := inst.Deliver(big); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rec.reqs[3], big) {
		t.Fatal("large batch corrupted")
	}
}

func TestDeadlineStopsSpinningGuest(t *testing.T) {
	e := newEngine(t, "")
	inst, err := instantiate(t, e, "spin.wat", &recorder{}, InstanceConfig{Deadline: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = inst.Deliver(batch(abi.Event{Kind: abi.EventTimer, ID: 1}))
	if !errors.Is(err, ErrDeadline) {
		t.Fatalf("Deliver = %v, want ErrDeadline", err)
	}
	t.Logf("spinning guest stopped after %v (deadline 50ms)", time.Since(start))
	if err := inst.Deliver(batch(abi.Event{Kind: abi.EventTimer, ID: 1})); !errors.Is(err, ErrClosed) {
		t.Fatalf("Deliver after deadline = %v, want ErrClosed", err)
	}
	// The engine keeps working for other instances.
	rec := &recorder{}
	ok, err := instantiate(t, e, "echo.wat", rec, InstanceConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer ok.Close(context.Background())
	if err := ok.Deliver(batch(abi.Event{Kind: abi.EventTimer, ID: 1})); err != nil || len(rec.reqs) != 1 {
		t.Fatalf("healthy instance after a kill: err=%v reqs=%d", err, len(rec.reqs))
	}
}

func TestBadPointersGetErrorCodes(t *testing.T) {
	e := newEngine(t, "")
	rec := &recorder{}
	inst, err := instantiate(t, e, "badptr.wat", rec, InstanceConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(context.Background())
	if err := inst.Deliver(batch(abi.Event{Kind: abi.EventTimer, ID: 1})); err != nil {
		t.Fatalf("a guest passing bad pointers must get E_MEMORY each time: %v", err)
	}
	if len(rec.calls) != 0 {
		t.Fatalf("handler was called with out-of-range requests: %q", rec.calls)
	}
}

func TestTrapFailsCallNotHost(t *testing.T) {
	e := newEngine(t, "")
	inst, err := instantiate(t, e, "trap.wat", &recorder{}, InstanceConfig{})
	if err != nil {
		t.Fatal(err)
	}
	err = inst.Deliver(batch(abi.Event{Kind: abi.EventTimer, ID: 1}))
	if err == nil || !strings.Contains(err.Error(), "trapped") || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("Deliver = %v, want a trap naming unreachable", err)
	}
}

func TestMemoryCap(t *testing.T) {
	e := newEngine(t, "")
	inst, err := instantiate(t, e, "grow.wat", &recorder{}, InstanceConfig{MemoryLimit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	err = inst.Deliver(batch(abi.Event{Kind: abi.EventTimer, ID: 1}))
	if err == nil || !strings.Contains(err.Error(), "returned 7") || !errors.Is(err, ErrMemoryLimit) ||
		!strings.Contains(err.Error(), "limit 1024 KiB, a grow to 65600 KiB was refused") {
		t.Fatalf("memory.grow past the cap must fail in the guest and be named; Deliver = %v", err)
	}
	// With room, the same grow succeeds.
	inst2, err := instantiate(t, e, "grow.wat", &recorder{}, InstanceConfig{MemoryLimit: 128 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer inst2.Close(context.Background())
	if err := inst2.Deliver(batch(abi.Event{Kind: abi.EventTimer, ID: 1})); err != nil {
		t.Fatal(err)
	}
	if got := inst2.MemorySize(); got != 1025*65536 {
		t.Fatalf("memory after grow = %d", got)
	}
	// A module whose initial memory exceeds the cap is refused up front.
	_, err = instantiate(t, e, "bigmem.wat", &recorder{}, InstanceConfig{MemoryLimit: 8 << 20})
	if err == nil || !strings.Contains(err.Error(), "needs 32768 KiB") {
		t.Fatalf("bigmem: %v", err)
	}
}

func TestABIVersionHandshake(t *testing.T) {
	e := newEngine(t, "")
	_, err := instantiate(t, e, "version2.wat", &recorder{}, InstanceConfig{})
	if err == nil || !strings.Contains(err.Error(), "built for ABI version 2, this host speaks version 1") {
		t.Fatalf("version2: %v", err)
	}
}

func TestForeignModuleRefused(t *testing.T) {
	e := newEngine(t, "")
	_, err := instantiate(t, e, "foreign.wat", &recorder{}, InstanceConfig{})
	for _, want := range []string{"moss.frobnicate", `module "env"`, "does not export moss_on_events", "does not export moss_event_buffer"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("foreign module error %v does not mention %q", err, want)
		}
	}
}

func TestResponsePendingAndErrors(t *testing.T) {
	// The echo guest ignores responses; exercise hostCall directly through
	// an instance to check the pending-response protocol.
	e := newEngine(t, "")
	rec := &recorder{resp: bytes.Repeat([]byte{0xab}, 100)}
	inst, err := instantiate(t, e, "echo.wat", rec, InstanceConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(context.Background())
	mem := inst.mem
	mem.Write(0, []byte{0xa0}) // {}
	if n := inst.hostCall(0, 0, 1, 200, 10); n != 100 || !inst.hasPending {
		t.Fatalf("short buffer: n=%d pending=%v", n, inst.hasPending)
	}
	if n := inst.hostCall(0, 0, 1, 200, 100); n != 100 || inst.hasPending {
		t.Fatalf("big enough buffer: n=%d pending=%v", n, inst.hasPending)
	}
	if got, _ := mem.Read(200, 100); !bytes.Equal(got, rec.resp) {
		t.Fatal("response not written")
	}
	rec.err = abi.Errorf(abi.ErrDenied, "no grant for %s", "x/y")
	if n := inst.hostCall(0, 0, 1, 200, 100); n != -int32(abi.ErrDenied) {
		t.Fatalf("denied: %d", n)
	}
	var codec, _ = abi.NewCodec()
	var got abi.Error
	if err := codec.Unmarshal(inst.pending, &got); err != nil || got.Code != abi.ErrDenied || got.Message != "no grant for x/y" {
		t.Fatalf("pending error = %+v, %v", got, err)
	}
}

func TestCompilationCacheOnDisk(t *testing.T) {
	dir := t.TempDir()
	wasm := testwasm.WAT(t, "testdata/echo.wat")
	e1 := newEngine(t, dir)
	if _, err := e1.Compile(context.Background(), "echo", wasm); err != nil {
		t.Fatal(err)
	}
	files := cacheFiles(t, dir)
	if len(files) == 0 {
		t.Fatal("nothing written to the compilation cache")
	}
	e1.Close(context.Background())
	e2 := newEngine(t, dir)
	if _, err := e2.Compile(context.Background(), "echo", wasm); err != nil {
		t.Fatal(err)
	}
	after := cacheFiles(t, dir)
	for f, mt := range files {
		if after[f] != mt {
			t.Fatalf("cache entry %s rewritten on the second start: recompiled", f)
		}
	}
	if len(after) != len(files) {
		t.Fatalf("second start added cache entries: %d -> %d", len(files), len(after))
	}
}

func cacheFiles(t *testing.T, dir string) map[string]time.Time {
	m := map[string]time.Time{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			m[p] = fi.ModTime()
		}
		return nil
	})
	return m
}

// TestInterpreterContainment runs the containment cases on wazero's
// interpreter, which is what 32-bit ARM devices get.
func TestInterpreterContainment(t *testing.T) {
	e, err := NewEngine(context.Background(), Options{Interpreter: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	load := func(wat string, cfg InstanceConfig) *Instance {
		m, err := e.Compile(context.Background(), wat, testwasm.WAT(t, filepath.Join("testdata", wat)))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Name, cfg.Handler = wat, &recorder{}
		if cfg.MemoryLimit == 0 {
			cfg.MemoryLimit = 1 << 20
		}
		if cfg.Deadline == 0 {
			cfg.Deadline = time.Second
		}
		inst, err := e.Instantiate(context.Background(), m, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { inst.Close(context.Background()) })
		return inst
	}
	ev := batch(abi.Event{Kind: abi.EventTimer, ID: 1})
	if err := load("spin.wat", InstanceConfig{Deadline: 50 * time.Millisecond}).Deliver(ev); !errors.Is(err, ErrDeadline) {
		t.Errorf("spin: %v", err)
	}
	if err := load("badptr.wat", InstanceConfig{}).Deliver(ev); err != nil {
		t.Errorf("badptr: %v", err)
	}
	if err := load("grow.wat", InstanceConfig{}).Deliver(ev); !errors.Is(err, ErrMemoryLimit) {
		t.Errorf("grow: %v", err)
	}
	if err := load("trap.wat", InstanceConfig{}).Deliver(ev); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("trap: %v", err)
	}
}
