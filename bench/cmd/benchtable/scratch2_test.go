package main

import (
	"context"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/host/wasm"
)

type sinkHandler struct{}

func (sinkHandler) HostCall(fn wasm.Func, req []byte) ([]byte, error) {
	switch fn.String() {
	case abi.FuncConfigGet:
		return nil, abi.Errorf(abi.ErrNotFound, "no")
	case abi.FuncSubscribe:
		return abi.AppendUint(abi.AppendText(abi.AppendMap(nil, 1), "id"), 1), nil
	}
	return nil, nil
}

func TestScratchGoParallel(t *testing.T) {
	root, _ := moduleRoot()
	work := t.TempDir()
	g, err := loadGuest(root, work, "sink")
	if err != nil {
		t.Fatal(err)
	}
	code, _ := os.ReadFile(g.wasm)
	var evs []byte
	evs = abi.AppendArray(evs, 64)
	for i := range 64 {
		ev := abi.Event{Kind: abi.EventMessage, ID: 1, Topic: "bench/data", Payload: make([]byte, 256)}
		ev.Payload[0] = byte(i)
		evs = abi.AppendEvent(evs, &ev)
	}
	for _, noT := range []bool{false, true} {
		ctx := context.Background()
		e, _ := wasm.NewEngine(ctx, wasm.Options{NoTermination: noT})
		m, err := e.Compile(ctx, "sink", code)
		if err != nil {
			t.Fatal(err)
		}
		for _, par := range []int{1, 2, 4} {
			var wg sync.WaitGroup
			const n = 1000
			var insts []*wasm.Instance
			for range par {
				inst, err := e.Instantiate(ctx, m, wasm.InstanceConfig{Name: "s", MemoryLimit: 32 << 20, Deadline: time.Second, Handler: sinkHandler{}})
				if err != nil {
					t.Fatal(err)
				}
				st := abi.Event{Kind: abi.EventStart, Name: "s", Version: "1.0.0", ABI: 1}
				if err := inst.Deliver(abi.AppendEvent(abi.AppendArray(nil, 1), &st)); err != nil {
					t.Fatal(err)
				}
				insts = append(insts, inst)
			}
			var ru0, ru1 syscall.Rusage
			syscall.Getrusage(0, &ru0)
			start := time.Now()
			for _, inst := range insts {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range n {
						if err := inst.Deliver(evs); err != nil {
							panic(err)
						}
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			syscall.Getrusage(0, &ru1)
			cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
			t.Logf("noT=%v par=%d: %v per msg per goroutine, aggregate %.0f msgs/s, cpu %.2f cores (sys %v)", noT, par, el/n/64, float64(n*par*64)/el.Seconds(), cpu.Seconds()/el.Seconds(), time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano()))
			for _, i := range insts {
				i.Close(ctx)
			}
		}
		e.Close(ctx)
	}
}
