package wasm

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/internal/testwasm"
)

type nopHandler struct{}

func (nopHandler) HostCall(context.Context, Func, []byte) ([]byte, error) { return nil, nil }

func benchInstance(b *testing.B, wat string, noTermination bool) *Instance {
	e, err := NewEngine(context.Background(), Options{NoTermination: noTermination})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close(context.Background()) })
	m, err := e.Compile(context.Background(), wat, testwasm.WAT(b, filepath.Join("testdata", wat)))
	if err != nil {
		b.Fatal(err)
	}
	inst, err := e.Instantiate(context.Background(), m, InstanceConfig{
		Name: "bench", MemoryLimit: 16 << 20, Deadline: time.Second, Handler: nopHandler{},
	})
	if err != nil {
		b.Fatal(err)
	}
	return inst
}

func message256() []byte {
	ev := abi.Event{Kind: abi.EventMessage, ID: 1, Topic: "sensors/s1/temperature", Payload: make([]byte, 256)}
	return abi.AppendEvent(abi.AppendArray(nil, 1), &ev)
}

// BenchmarkDeliver is one 256-byte message event into a guest: host write
// into guest memory plus one export call, with the watchdog bookkeeping.
func BenchmarkDeliver(b *testing.B) {
	for _, mode := range []struct {
		name string
		noT  bool
	}{{"termination", false}, {"no-termination", true}} {
		b.Run(mode.name, func(b *testing.B) {
			inst := benchInstance(b, "echo.wat", mode.noT)
			inst.handler = nopHandler{}
			batch := message256()
			b.ReportAllocs()
			for b.Loop() {
				if err := inst.Deliver(batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHostCall is one guest -> host call with a 256-byte request,
// bounds-checked, into a no-op handler.
func BenchmarkHostCall(b *testing.B) {
	for _, mode := range []struct {
		name string
		noT  bool
	}{{"termination", false}, {"no-termination", true}} {
		b.Run(mode.name, func(b *testing.B) {
			inst := benchInstance(b, "calls.wat", mode.noT)
			batch := message256()
			b.ReportAllocs()
			for b.Loop() {
				if err := inst.Deliver(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/hostcall")
		})
	}
}
