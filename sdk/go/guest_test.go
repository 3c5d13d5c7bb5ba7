//go:build !wasip1

package moss_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/host/wasm"
	"github.com/moss-edge/moss/internal/testwasm"
)

// These tests build real components (the examples and testdata/probe) with
// the Go toolchain for wasip1 and run them in the host's engine, with a
// small host that answers from a config map and records what the guest
// does: the SDK's Wasm half (imports, exports, pointers, the response
// protocol) is checked end to end.

var builds sync.Map // dir -> *built

// buildGuest builds the component in dir (relative to this package) with
// the shared test builder, which caches by source content.
func buildGuest(t testing.TB, dir string) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("builds Wasm components: skipped in -short mode")
	}
	return testwasm.Go(t, dir)
}

// testHost serves the host functions the way the real host will, decoding
// each request with the ABI's strict codec (unknown keys fail).
type testHost struct {
	t      testing.TB
	codec  *abi.Codec
	config map[string]any
	deny   string // a topic prefix publish refuses

	subs      map[string]uint32
	watches   [][]string
	timers    []abi.TimerStartRequest
	stopped   []uint32
	updates   []abi.ConfigUpdateRequest
	published []abi.PublishRequest
	logs      []abi.LogRequest
}

func newTestHost(t testing.TB, config map[string]any) *testHost {
	c, err := abi.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	return &testHost{t: t, codec: c, config: config, subs: map[string]uint32{}}
}

func (h *testHost) HostCall(_ context.Context, fn wasm.Func, req []byte) ([]byte, error) {
	decode := func(v any) error {
		if err := h.codec.Unmarshal(req, v); err != nil {
			return abi.Errorf(abi.ErrDecode, "%s: %v", fn, err)
		}
		return nil
	}
	id := func(n int) ([]byte, error) { return h.codec.Marshal(abi.IDResponse{ID: uint32(n)}) }
	switch fn.String() {
	case abi.FuncLog:
		var r abi.LogRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		h.logs = append(h.logs, r)
	case abi.FuncPublish:
		var r abi.PublishRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		if h.deny != "" && strings.HasPrefix(r.Topic, h.deny) {
			return nil, abi.Errorf(abi.ErrDenied, "no grant for pubsub.publish on %s", r.Topic)
		}
		h.published = append(h.published, r)
	case abi.FuncSubscribe:
		var r abi.SubscribeRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		if _, ok := h.subs[r.Filter]; !ok {
			h.subs[r.Filter] = uint32(len(h.subs) + 1)
		}
		return id(int(h.subs[r.Filter]))
	case abi.FuncConfigGet:
		var r abi.ConfigGetRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		var v any = h.config
		for _, k := range r.Path {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, abi.Errorf(abi.ErrNotFound, "no value at %v", r.Path)
			}
			if v, ok = m[k]; !ok {
				return nil, abi.Errorf(abi.ErrNotFound, "no value at %v", r.Path)
			}
		}
		return h.codec.Marshal(map[string]any{"value": v})
	case abi.FuncConfigUpdate:
		var r abi.ConfigUpdateRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		h.updates = append(h.updates, r)
	case abi.FuncConfigWatch:
		var r abi.ConfigGetRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		h.watches = append(h.watches, r.Path)
		return id(len(h.watches))
	case abi.FuncTimerStart:
		var r abi.TimerStartRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		h.timers = append(h.timers, r)
		return id(len(h.timers))
	case abi.FuncTimerStop, abi.FuncUnsubscribe:
		var r abi.IDRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		h.stopped = append(h.stopped, r.ID)
	default:
		return nil, abi.Errorf(abi.ErrUnsupported, "%s not served by this test", fn)
	}
	return nil, nil
}

// take returns and forgets what was published.
func (h *testHost) take() []abi.PublishRequest {
	p := h.published
	h.published = nil
	return p
}

func (h *testHost) logText() string {
	var b strings.Builder
	for _, l := range h.logs {
		fmt.Fprintf(&b, "%d %s\n", l.Level, l.Msg)
	}
	return b.String()
}

func startGuest(t testing.TB, dir string, h wasm.Handler) *wasm.Instance {
	t.Helper()
	return startGuestWith(t, dir, h, wasm.Options{})
}

func startGuestWith(t testing.TB, dir string, h wasm.Handler, opts wasm.Options) *wasm.Instance {
	t.Helper()
	code := buildGuest(t, dir)
	ctx := context.Background()
	// A disk cache of compiled code, as the host keeps: compiling a Go
	// guest takes most of a second, loading it from the cache a few ms.
	opts.CacheDir = testwasm.CompileCacheDir(t)
	e, err := wasm.NewEngine(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(ctx) })
	m, err := e.Compile(ctx, filepath.Base(dir), code)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := e.Instantiate(ctx, m, wasm.InstanceConfig{
		Name: filepath.Base(dir), MemoryLimit: 32 << 20, Deadline: 5 * time.Second, Handler: h,
		// What a manifest grants unless it says otherwise.
		Caps: wasm.Capabilities{Clock: true, Random: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close(ctx) })
	return inst
}

func batch(events ...abi.Event) []byte {
	b := abi.AppendArray(nil, len(events))
	for i := range events {
		b = abi.AppendEvent(b, &events[i])
	}
	return b
}

func start(name string) abi.Event {
	return abi.Event{Kind: abi.EventStart, Name: name, Version: "1.0.0", ABI: abi.Version}
}

func msg(id uint32, topic, payload string) abi.Event {
	return abi.Event{Kind: abi.EventMessage, ID: id, Topic: topic, Payload: []byte(payload)}
}

func TestGuestSensor(t *testing.T) {
	h := newTestHost(t, map[string]any{"id": "kitchen", "interval": "500ms", "base": 21.0})
	inst := startGuest(t, "../../examples/sensor", h)
	if err := inst.Deliver(batch(start("sensor"))); err != nil {
		t.Fatalf("start: %v\n%s", err, h.logText())
	}
	if len(h.timers) != 1 || h.timers[0] != (abi.TimerStartRequest{IntervalMS: 500, Repeat: true}) {
		t.Fatalf("timers %+v, want one of 500 ms repeating", h.timers)
	}
	if len(h.logs) != 1 || h.logs[0].Level != abi.LevelInfo || !strings.Contains(h.logs[0].Msg, "sensors/kitchen/temperature") {
		t.Fatalf("start log %q", h.logText())
	}
	tick := abi.Event{Kind: abi.EventTimer, ID: 1}
	if err := inst.Deliver(batch(tick, tick, tick)); err != nil {
		t.Fatal(err)
	}
	pubs := h.take()
	if len(pubs) != 3 {
		t.Fatalf("%d readings for 3 ticks", len(pubs))
	}
	for _, p := range pubs {
		var r struct {
			ID          string
			Temperature float64
			Unit        string
			TS          string
		}
		if err := json.Unmarshal(p.Payload, &r); err != nil {
			t.Fatalf("reading %s: %v", p.Payload, err)
		}
		ts, err := time.Parse(time.RFC3339, r.TS)
		if p.Topic != "sensors/kitchen/temperature" || r.ID != "kitchen" || r.Unit != "C" ||
			math.Abs(r.Temperature-21) > 8.4 || err != nil || time.Since(ts).Abs() > time.Minute {
			t.Fatalf("reading on %s: %s (the guest must see the real clock)", p.Topic, p.Payload)
		}
	}
}

func TestGuestSensorDefaultsAndBadConfig(t *testing.T) {
	h := newTestHost(t, map[string]any{})
	inst := startGuest(t, "../../examples/sensor", h)
	if err := inst.Deliver(batch(start("sensor"), abi.Event{Kind: abi.EventTimer, ID: 1})); err != nil {
		t.Fatal(err)
	}
	if p := h.take(); len(h.timers) != 1 || h.timers[0].IntervalMS != 2000 || len(p) != 1 || p[0].Topic != "sensors/s1/temperature" {
		t.Fatalf("defaults: timers %+v, published %+v", h.timers, p)
	}

	h = newTestHost(t, map[string]any{"id": "a/b"})
	inst = startGuest(t, "../../examples/sensor", h)
	err := inst.Deliver(batch(start("sensor")))
	if err == nil || !strings.Contains(err.Error(), "returned 2") || !strings.Contains(h.logText(), `config id "a/b"`) {
		t.Fatalf("a bad id must fail the start: %v\n%s", err, h.logText())
	}
}

func TestGuestAlerts(t *testing.T) {
	h := newTestHost(t, map[string]any{"window": 3, "threshold": 28.0, "hysteresis": 0.5})
	inst := startGuest(t, "../../examples/alerts", h)
	if err := inst.Deliver(batch(start("alerts"))); err != nil {
		t.Fatalf("start: %v\n%s", err, h.logText())
	}
	sub := h.subs["sensors/+/temperature"]
	if sub == 0 || len(h.watches) != 1 {
		t.Fatalf("subscriptions %v, watches %v", h.subs, h.watches)
	}
	reading := func(id string, temps ...float64) []abi.Event {
		var evs []abi.Event
		for _, v := range temps {
			evs = append(evs, msg(sub, "sensors/"+id+"/temperature", fmt.Sprintf(`{"id":%q,"temperature":%v,"unit":"C"}`, id, v)))
		}
		return evs
	}
	type alert struct {
		ID        string  `json:"id"`
		Cleared   bool    `json:"cleared"`
		Average   float64 `json:"average"`
		Threshold float64 `json:"threshold"`
		TS        string  `json:"ts"`
	}
	expect := func(what string, evs []abi.Event, want ...alert) {
		t.Helper()
		if err := inst.Deliver(batch(evs...)); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, h.logText())
		}
		pubs := h.take()
		if len(pubs) != len(want) {
			t.Fatalf("%s: published %d alerts, want %d: %+v", what, len(pubs), len(want), pubs)
		}
		for i, p := range pubs {
			var a alert
			if err := json.Unmarshal(p.Payload, &a); err != nil || p.Topic != "alerts/"+want[i].ID {
				t.Fatalf("%s: %s %s: %v", what, p.Topic, p.Payload, err)
			}
			if _, err := time.Parse(time.RFC3339, a.TS); err != nil {
				t.Fatalf("%s: ts %q", what, a.TS)
			}
			a.TS = ""
			if a != want[i] {
				t.Fatalf("%s: alert %+v, want %+v", what, a, want[i])
			}
		}
	}
	expect("below", reading("s1", 20, 29, 29))
	expect("rising", reading("s1", 30), alert{ID: "s1", Average: 29.33, Threshold: 28})
	expect("still high", reading("s1", 31, 30))
	expect("other sensor", reading("s2", 10, 10, 10, 10))
	expect("inside hysteresis", reading("s1", 27.7, 27.7, 27.7))
	expect("cleared", reading("s1", 27), alert{ID: "s1", Cleared: true, Average: 27.47, Threshold: 28})
	expect("not JSON", []abi.Event{msg(sub, "sensors/s1/temperature", "hot")})
	if !strings.Contains(h.logText(), "not a reading") {
		t.Fatalf("bad payload not logged:\n%s", h.logText())
	}

	// A threshold change applies without a restart.
	h.config["threshold"] = 35.0
	if err := inst.Deliver(batch(abi.Event{Kind: abi.EventConfig, ID: 1, Path: []string{"threshold"}})); err != nil {
		t.Fatal(err)
	}
	expect("under the new threshold", reading("s1", 34, 34, 34))
	expect("over the new threshold", reading("s1", 36, 36), alert{ID: "s1", Average: 35.33, Threshold: 35})

	h.config["window"] = 0
	if err := inst.Deliver(batch(abi.Event{Kind: abi.EventConfig, ID: 1, Path: []string{"window"}})); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.logText(), "configuration change ignored") {
		t.Fatalf("an invalid change must be logged and ignored:\n%s", h.logText())
	}
}

func TestGuestSDK(t *testing.T) {
	big := strings.Repeat("x", 5000)
	h := newTestHost(t, map[string]any{"big": big})
	h.deny = "denied/"
	inst := startGuest(t, "testdata/probe", h)
	if err := inst.Deliver(batch(start("probe"))); err != nil {
		t.Fatalf("start: %v\n%s", err, h.logText())
	}
	got := map[string]string{}
	for _, p := range h.take() {
		got[p.Topic] = string(p.Payload)
	}
	if got["probe/big"] != "5000" {
		t.Errorf("a response larger than the guest's buffer: guest read %s bytes", got["probe/big"])
	}
	if want := "4|no grant for pubsub.publish on denied/topic|moss: publish: access denied: no grant for pubsub.publish on denied/topic"; got["probe/error"] != want {
		t.Errorf("error seen by the guest:\n%s\nwant\n%s", got["probe/error"], want)
	}
	if len(h.updates) != 1 || strings.Join(h.updates[0].Path, "/") != "probe" {
		t.Errorf("config updates %+v", h.updates)
	}
	if !strings.Contains(h.logText(), "0 probe started big=5000\n") {
		t.Errorf("slog record not rendered: %q", h.logText())
	}
	if len(h.timers) != 2 || h.timers[0] != (abi.TimerStartRequest{IntervalMS: 1}) || h.timers[1] != (abi.TimerStartRequest{IntervalMS: 3600000, Repeat: true}) {
		t.Errorf("timers %+v", h.timers)
	}

	// Timers: the one-shot fires once, the repeating one until stopped.
	after, every := abi.Event{Kind: abi.EventTimer, ID: 1}, abi.Event{Kind: abi.EventTimer, ID: 2}
	if err := inst.Deliver(batch(after, after, every, msg(h.subs["probe/stop-timer"], "probe/stop-timer", ""), every)); err != nil {
		t.Fatal(err)
	}
	var topics []string
	for _, p := range h.take() {
		topics = append(topics, p.Topic)
	}
	if strings.Join(topics, ",") != "probe/after,probe/every" || len(h.stopped) != 1 || h.stopped[0] != 2 {
		t.Errorf("timer events published %q, stopped %v", topics, h.stopped)
	}

	// Messages reach handlers by id, payloads intact, in order.
	echo := h.subs["echo/in"]
	if err := inst.Deliver(batch(msg(echo, "echo/in", "one"), msg(echo, "echo/in", strings.Repeat("z", 10000)), msg(99, "x", "for nobody"))); err != nil {
		t.Fatal(err)
	}
	if p := h.take(); len(p) != 2 || string(p[0].Payload) != "one" || len(p[1].Payload) != 10000 || p[1].Topic != "echo/out" {
		t.Errorf("echo: %+v", p)
	}

	// Allocations on the hot paths, counted by the Go runtime in the guest.
	count := h.subs["count/+"]
	evs := []abi.Event{msg(count, "count/x", "publish"), msg(count, "count/x", "begin")}
	for range 100 {
		evs = append(evs, msg(count, "count/x", "payload"))
	}
	evs = append(evs, msg(count, "count/x", "end"))
	if err := inst.Deliver(batch(evs...)); err != nil {
		t.Fatal(err)
	}
	for _, p := range h.take() {
		switch p.Topic {
		case "probe/publish-allocs":
			t.Logf("100 publishes inside Wasm: %s allocations", p.Payload)
			if string(p.Payload) != "0" {
				t.Errorf("Publish allocates in the guest: %s allocations for 100 calls", p.Payload)
			}
		case "probe/dispatch-allocs":
			// ReadEvent makes each topic a string of its own (Message.Topic
			// may be kept): one allocation per message, nothing else.
			t.Logf("dispatching 101 messages inside Wasm: %s allocations", p.Payload)
			if string(p.Payload) != "101" {
				t.Errorf("dispatch allocates more than the topic string: %s allocations for 101 messages", p.Payload)
			}
		}
	}

	// A panic is logged with its stack and fails the call.
	err := inst.Deliver(batch(msg(h.subs["probe/panic"], "probe/panic", "kaput")))
	if err == nil || !strings.Contains(err.Error(), "returned 3") {
		t.Fatalf("panicking handler: Deliver = %v", err)
	}
	last := h.logs[len(h.logs)-1]
	if last.Level != abi.LevelError || !strings.HasPrefix(last.Msg, "moss: panic in message handler (topic probe/panic): boom: kaput\n") || !strings.Contains(last.Msg, "main.start.func") {
		t.Fatalf("panic log: %d %q", last.Level, last.Msg)
	}
}

func TestGuestStop(t *testing.T) {
	h := newTestHost(t, map[string]any{"big": ""})
	h.deny = "denied/"
	inst := startGuest(t, "testdata/probe", h)
	if err := inst.Deliver(batch(start("probe"))); err != nil {
		t.Fatal(err)
	}
	h.take()
	if err := inst.Deliver(batch(abi.Event{Kind: abi.EventStop, Reason: "shutdown"})); err != nil {
		t.Fatal(err)
	}
	if p := h.take(); len(p) != 1 || p[0].Topic != "probe/stopped" {
		t.Fatalf("stop: %+v", p)
	}
}

// relayHost serves only what the probe needs, without decoding publishes:
// the benchmark measures the guest side and the engine.
type relayHost struct {
	testHost
	relaying bool // start is over: publishes are counted, not decoded
	n        int
}

func (h *relayHost) HostCall(ctx context.Context, fn wasm.Func, req []byte) ([]byte, error) {
	if h.relaying && fn.String() == abi.FuncPublish {
		h.n++
		return nil, nil
	}
	return h.testHost.HostCall(ctx, fn, req)
}

// BenchmarkGuestRelay delivers 256-byte message events to a Go guest whose
// handler publishes each payload back (decode event, dispatch, encode,
// publish), or, for "dispatch", does nothing with it; with the engine's
// deadline enforcement ("deadline") and without it ("nodeadline"), whose
// cost docs/RATIONALE.md weighs.
func BenchmarkGuestRelay(b *testing.B) {
	type benchCase struct {
		name  string
		topic string
		size  int
		pubs  int
		opts  wasm.Options
	}
	var cases []benchCase
	for _, mode := range []struct {
		name string
		opts wasm.Options
	}{{"deadline", wasm.Options{}}, {"nodeadline", wasm.Options{NoTermination: true}}} {
		cases = append(cases,
			benchCase{mode.name + "/relay/batch=1", "echo/in", 1, 1, mode.opts},
			benchCase{mode.name + "/relay/batch=64", "echo/in", 64, 1, mode.opts},
			benchCase{mode.name + "/dispatch/batch=1", "count/x", 1, 0, mode.opts},
			benchCase{mode.name + "/dispatch/batch=64", "count/x", 64, 0, mode.opts},
		)
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			h := &relayHost{testHost: *newTestHost(b, map[string]any{"big": ""})}
			h.deny = "denied/"
			inst := startGuestWith(b, "testdata/probe", h, bc.opts)
			if err := inst.Deliver(batch(start("probe"))); err != nil {
				b.Fatal(err)
			}
			id := h.subs["echo/in"]
			if bc.topic == "count/x" {
				id = h.subs["count/+"]
			}
			var evs []abi.Event
			for range bc.size {
				evs = append(evs, msg(id, bc.topic, strings.Repeat("p", 256)))
			}
			in := batch(evs...)
			h.relaying = true
			b.ResetTimer()
			for range b.N {
				if err := inst.Deliver(in); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if h.n != b.N*bc.size*bc.pubs {
				b.Fatalf("%d publishes for %d messages", h.n, b.N*bc.size)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*bc.size), "ns/msg")
		})
	}
}
