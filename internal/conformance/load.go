package conformance

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/host/wasm"
	"github.com/moss-edge/moss/internal/testwasm"
)

// loadHost serves what the alerts components call, counting publishes.
type loadHost struct {
	codec     *abi.Codec
	published int
}

func (h *loadHost) HostCall(_ context.Context, fn wasm.Func, req []byte) ([]byte, error) {
	switch fn.String() {
	case abi.FuncLog:
	case abi.FuncPublish:
		h.published++
	case abi.FuncSubscribe, abi.FuncConfigWatch:
		return h.codec.Marshal(abi.IDResponse{ID: 1})
	case abi.FuncConfigGet:
		var r abi.ConfigGetRequest
		if err := h.codec.Unmarshal(req, &r); err != nil {
			return nil, abi.Errorf(abi.ErrDecode, "%v", err)
		}
		if len(r.Path) == 1 && r.Path[0] == "threshold" {
			return h.codec.Marshal(map[string]any{"value": 27.0})
		}
		return nil, abi.Errorf(abi.ErrNotFound, "no value at %v", r.Path)
	default:
		return nil, abi.Errorf(abi.ErrUnsupported, "%s", fn)
	}
	return nil, nil
}

// Load is what AlertsUnderLoad measured.
type Load struct {
	Name               string
	Readings, Sensors  int
	StartKiB, AfterKiB uint32 // the instance's memory after the start event and after the readings
	PerReading         time.Duration
}

func (l *Load) String() string {
	return fmt.Sprintf("%s: memory %d KiB after start, %d KiB after %d readings from %d sensors; %v a reading",
		l.Name, l.StartKiB, l.AfterKiB, l.Readings, l.Sensors, l.PerReading)
}

// AlertsUnderLoad feeds an alerts component readings from more sensors than
// it tracks (1100 of them, 5 rounds, in the host's batches of 64) directly
// through the engine, with a threshold of 27, and checks that every tracked
// sensor, and only those, alerts once. It logs and returns the memory before
// and after and the time per reading.
func AlertsUnderLoad(t testing.TB, c Component) *Load {
	t.Helper()
	name := c.name(t)
	ctx := context.Background()
	e, err := wasm.NewEngine(ctx, wasm.Options{CacheDir: testwasm.CompileCacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	codec, err := abi.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	code, err := os.ReadFile(c.Wasm)
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.Compile(ctx, name, code)
	if err != nil {
		t.Fatal(err)
	}
	h := &loadHost{codec: codec}
	inst, err := e.Instantiate(ctx, m, wasm.InstanceConfig{Name: name, MemoryLimit: 32 << 20, Deadline: 5 * time.Second, Handler: h})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(ctx)
	start := abi.Event{Kind: abi.EventStart, Name: name, Version: "1.0.0", ABI: abi.Version}
	if err := inst.Deliver(abi.AppendEvent(abi.AppendArray(nil, 1), &start)); err != nil {
		t.Fatalf("%s: start: %v", name, err)
	}
	l := &Load{Name: name, StartKiB: inst.MemorySize() >> 10}
	const sensors, window = 1100, 5 // 1024 tracked, the rest refused
	var evs []abi.Event
	for r := range window {
		for s := range sensors {
			evs = append(evs, abi.Event{Kind: abi.EventMessage, ID: 1, Topic: fmt.Sprintf("sensors/s%d/temperature", s),
				Payload: fmt.Appendf(nil, `{"id":"s%d","temperature":%d.5,"unit":"C"}`, s, 25+r)})
		}
	}
	began := time.Now()
	for i := 0; i < len(evs); i += 64 {
		chunk := evs[i:min(i+64, len(evs))]
		b := abi.AppendArray(nil, len(chunk))
		for j := range chunk {
			b = abi.AppendEvent(b, &chunk[j])
		}
		if err := inst.Deliver(b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	took := time.Since(began)
	// Averages of 27.5, over 27: every tracked sensor alerts once.
	if h.published != 1024 {
		t.Errorf("%s published %d alerts, want 1024", name, h.published)
	}
	l.Readings, l.Sensors = len(evs), sensors
	l.AfterKiB = inst.MemorySize() >> 10
	l.PerReading = took / time.Duration(len(evs))
	t.Log(l)
	return l
}
