package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/host/wasm"
)

// nopHandler serves every host function with an empty response.
type nopHandler struct{}

func (nopHandler) HostCall(context.Context, wasm.Func, []byte) ([]byte, error) { return nil, nil }

// engineResult is one engine figure: ns per unit for the default engine
// (interrupt checks compiled in) and for wasm.Options{NoTermination: true}.
type engineResult struct {
	def, noT       []float64
	allocDef, allo int64
	memory         uint32 // guest linear memory after its start event, bytes (runGoDeliver)
}

// message256 is a batch holding one 256-byte message event, as the
// component's deliverer encodes it.
func message256() []byte {
	ev := abi.Event{Kind: abi.EventMessage, ID: 1, Topic: "sensors/s1/temperature", Payload: make([]byte, 256)}
	return abi.AppendEvent(abi.AppendArray(nil, 1), &ev)
}

// engineInstance compiles code on a fresh engine and instantiates it.
func engineInstance(code []byte, noTermination bool) (*wasm.Instance, func(), error) {
	ctx := context.Background()
	e, err := wasm.NewEngine(ctx, wasm.Options{NoTermination: noTermination})
	if err != nil {
		return nil, nil, err
	}
	m, err := e.Compile(ctx, "bench", code)
	if err != nil {
		e.Close(ctx)
		return nil, nil, err
	}
	inst, err := e.Instantiate(ctx, m, wasm.InstanceConfig{
		Name: "bench", MemoryLimit: 16 << 20, Deadline: time.Second, Handler: nopHandler{},
	})
	if err != nil {
		e.Close(ctx)
		return nil, nil, err
	}
	return inst, func() { inst.Close(ctx); e.Close(ctx) }, nil
}

// runEngine measures Deliver of one 256-byte message event into the module
// in watFile on both engines, runs times each, alternating. perDeliver is
// how many units one Deliver holds (1000 host calls for calls.wat).
func runEngine(root, work, watFile string, perDeliver float64, runs int, progress func(string)) (*engineResult, error) {
	code, err := wat(filepath.Join(root, "host", "wasm", "testdata", watFile), work)
	if err != nil {
		return nil, err
	}
	insts := make([]*wasm.Instance, 2)
	for i, noT := range []bool{false, true} {
		inst, closeFn, err := engineInstance(code, noT)
		if err != nil {
			return nil, err
		}
		defer closeFn()
		insts[i] = inst
	}
	batch := message256()
	res := &engineResult{}
	for run := range runs {
		for i, inst := range insts {
			r, failed := benchDeliver(inst, batch)
			if failed != nil {
				return nil, fmt.Errorf("%s: %w", watFile, failed)
			}
			ns := float64(r.T.Nanoseconds()) / float64(r.N) / perDeliver
			name := res.add(i, ns, r.AllocsPerOp())
			progress(fmt.Sprintf("%s %s run %d/%d: %s", watFile, name, run+1, runs, fmtNs(ns)))
		}
	}
	return res, nil
}

// benchDeliver measures delivering batch into inst, as testing.Benchmark
// does, and returns the first delivery error.
func benchDeliver(inst *wasm.Instance, batch []byte) (testing.BenchmarkResult, error) {
	var failed error
	r := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if err := inst.Deliver(batch); err != nil {
				failed = err
				b.FailNow()
			}
		}
	})
	return r, failed
}

// add records one run: engine 0 is the default, 1 no-termination. It
// returns the engine's name for progress lines.
func (res *engineResult) add(engine int, ns float64, allocs int64) string {
	if engine == 0 {
		res.def = append(res.def, ns)
		res.allocDef = allocs
		return "default"
	}
	res.noT = append(res.noT, ns)
	res.allo = allocs
	return "no-termination"
}

// sinkHandler serves the host functions the sink guest calls at start
// (config_get: nothing configured; subscribe: id 1) and ignores the rest.
type sinkHandler struct{}

func (sinkHandler) HostCall(_ context.Context, fn wasm.Func, _ []byte) ([]byte, error) {
	switch fn.String() {
	case abi.FuncConfigGet:
		return nil, abi.Errorf(abi.ErrNotFound, "no configuration")
	case abi.FuncSubscribe:
		return abi.AppendUint(abi.AppendText(abi.AppendMap(nil, 1), "id"), 1), nil
	}
	return nil, nil
}

// goBatch is how many message events runGoDeliver puts in one batch: the
// most a component's deliverer puts in one call.
const goBatch = 64

// runGoDeliver measures delivering a batch of goBatch 256-byte message
// events into the sink Go guest (SDK decode + dispatch + the sink's
// handler), per message, on both engines, runs times each, alternating.
func runGoDeliver(sink guest, runs int, progress func(string)) (*engineResult, error) {
	code, err := os.ReadFile(sink.wasm)
	if err != nil {
		return nil, err
	}
	batch := abi.AppendArray(nil, goBatch)
	for range goBatch {
		ev := abi.Event{Kind: abi.EventMessage, ID: 1, Topic: "bench/data", Payload: make([]byte, 256)}
		batch = abi.AppendEvent(batch, &ev)
	}
	ctx := context.Background()
	insts := make([]*wasm.Instance, 2)
	for i, noT := range []bool{false, true} {
		e, err := wasm.NewEngine(ctx, wasm.Options{NoTermination: noT})
		if err != nil {
			return nil, err
		}
		defer e.Close(ctx)
		m, err := e.Compile(ctx, "sink", code)
		if err != nil {
			return nil, err
		}
		inst, err := e.Instantiate(ctx, m, wasm.InstanceConfig{
			Name: "sink", MemoryLimit: 32 << 20, Deadline: time.Second, Handler: sinkHandler{},
		})
		if err != nil {
			return nil, err
		}
		start := abi.Event{Kind: abi.EventStart, Name: "sink", Version: "1.0.0", ABI: abi.Version}
		if err := inst.Deliver(abi.AppendEvent(abi.AppendArray(nil, 1), &start)); err != nil {
			return nil, fmt.Errorf("sink start: %w", err)
		}
		insts[i] = inst
	}
	res := &engineResult{memory: insts[0].MemorySize()}
	progress(fmt.Sprintf("sink Go guest: linear memory after start %s", fmtBytes(float64(res.memory))))
	for run := range runs {
		for i, inst := range insts {
			r, failed := benchDeliver(inst, batch)
			if failed != nil {
				return nil, fmt.Errorf("sink: %w", failed)
			}
			ns := float64(r.T.Nanoseconds()) / float64(r.N) / goBatch
			name := res.add(i, ns, r.AllocsPerOp())
			progress(fmt.Sprintf("sink Go guest, batch of %d, %s run %d/%d: %s/msg", goBatch, name, run+1, runs, fmtNs(ns)))
		}
	}
	return res, nil
}
