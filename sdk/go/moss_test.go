//go:build !wasip1

package moss

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/moss-edge/moss/abi"
)

// fakeHost plays the "moss" import module with the semantics of host/wasm:
// a response that does not fit, and every error map, is left pending for
// the response function, and any call clears what was pending.
type fakeHost struct {
	t       *testing.T
	serve   func(fn hostFunc, req []byte) ([]byte, error)
	calls   []call1
	pending []byte
	hasPend bool
	fetches int // calls of response
}

type call1 struct {
	fn  hostFunc
	req []byte
}

func newFakeHost(t *testing.T, serve func(fn hostFunc, req []byte) ([]byte, error)) *fakeHost {
	f := &fakeHost{t: t, serve: serve}
	saved := host
	host.call, host.response = f.call, f.response
	resetState()
	t.Cleanup(func() {
		host = saved
		resetState()
	})
	return f
}

func resetState() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.req, g.resp, g.events = nil, nil, nil
	g.onStart, g.onStop = nil, nil
	subs.Store(&map[uint32][]*subscription{})
	clear(g.timers)
	clear(g.watches)
}

func (f *fakeHost) call(fn hostFunc, req, resp []byte) int32 {
	f.hasPend = false
	f.calls = append(f.calls, call1{fn, bytes.Clone(req)})
	if f.serve == nil {
		return 0
	}
	out, err := f.serve(fn, req)
	if err != nil {
		var e *abi.Error
		if !errors.As(err, &e) {
			e = &abi.Error{Code: abi.ErrInternal, Message: err.Error()}
		}
		p := abi.AppendMap(nil, 2)
		p = abi.AppendUint(abi.AppendText(p, "code"), uint64(e.Code))
		f.pending, f.hasPend = abi.AppendText(abi.AppendText(p, "message"), e.Message), true
		return -int32(e.Code)
	}
	if len(out) <= len(resp) {
		copy(resp, out)
	} else {
		f.pending, f.hasPend = bytes.Clone(out), true
	}
	return int32(len(out))
}

func (f *fakeHost) response(buf []byte) int32 {
	f.fetches++
	if !f.hasPend {
		return -int32(abi.ErrNoResponse)
	}
	if len(f.pending) <= len(buf) {
		copy(buf, f.pending)
		f.hasPend = false
	}
	return int32(len(f.pending))
}

// requests returns the decoded requests made to fn.
func (f *fakeHost) requests(fn hostFunc) []map[string]any {
	f.t.Helper()
	var out []map[string]any
	for _, c := range f.calls {
		if c.fn != fn {
			continue
		}
		var m map[string]any
		if err := mustCodec(f.t).Unmarshal(c.req, &m); err != nil {
			f.t.Fatalf("%s request %x is not CBOR: %v", fn, c.req, err)
		}
		out = append(out, m)
	}
	return out
}

// logs returns the messages logged, each prefixed with its level.
func (f *fakeHost) logs() []string {
	var out []string
	for _, c := range f.calls {
		if c.fn != fnLog {
			continue
		}
		var r abi.LogRequest
		if err := mustCodec(f.t).Unmarshal(c.req, &r); err != nil {
			f.t.Fatalf("log request %x: %v", c.req, err)
		}
		out = append(out, slog.Level(r.Level).String()+" "+r.Msg)
	}
	return out
}

func mustCodec(t testing.TB) *abi.Codec {
	c, err := abi.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func idResponse(id uint32) []byte {
	return abi.AppendUint(abi.AppendText(abi.AppendMap(nil, 1), "id"), uint64(id))
}

// deliver sends events through the event buffer as the host does.
func deliver(t *testing.T, events ...abi.Event) int32 {
	t.Helper()
	b := abi.AppendArray(nil, len(events))
	for i := range events {
		b = abi.AppendEvent(b, &events[i])
	}
	buf := eventBuffer(len(b))
	copy(buf, b)
	return onEvents(addressOf(buf), len(b))
}

func TestHostFuncTable(t *testing.T) {
	for fn := fnLog; fn <= fnReportState; fn++ {
		if abi.HostFunctions[fn] == abi.FuncResponse {
			t.Fatalf("hostFunc %d is response, which has its own import", fn)
		}
	}
	if int(fnDeferUpdate)+2 != len(abi.HostFunctions) || abi.HostFunctions[len(abi.HostFunctions)-1] != abi.FuncResponse {
		t.Fatalf("hostFunc constants do not cover abi.HostFunctions %q", abi.HostFunctions)
	}
	for fn, want := range map[hostFunc]string{
		fnLog: abi.FuncLog, fnPublish: abi.FuncPublish, fnSubscribe: abi.FuncSubscribe,
		fnUnsubscribe: abi.FuncUnsubscribe, fnConfigGet: abi.FuncConfigGet,
		fnConfigUpdate: abi.FuncConfigUpdate, fnConfigWatch: abi.FuncConfigWatch,
		fnTimerStart: abi.FuncTimerStart, fnTimerStop: abi.FuncTimerStop, fnReportState: abi.FuncReportState,
		fnSecretGet: abi.FuncSecretGet, fnCloudPublish: abi.FuncCloudPublish,
		fnCloudSubscribe: abi.FuncCloudSubscribe, fnCloudUnsubscribe: abi.FuncCloudUnsubscribe,
		fnShadowGet: abi.FuncShadowGet, fnShadowUpdate: abi.FuncShadowUpdate, fnShadowDelete: abi.FuncShadowDelete,
		fnShadowList: abi.FuncShadowList, fnShadowWatch: abi.FuncShadowWatch, fnStateSave: abi.FuncStateSave,
		fnDeferUpdate: abi.FuncDeferUpdate,
	} {
		if fn.String() != want {
			t.Errorf("hostFunc %d is %q, want %q", fn, fn, want)
		}
	}
}

func TestPublishEncoding(t *testing.T) {
	f := newFakeHost(t, nil)
	payload := []byte(`{"t":21.5}`)
	if err := Publish("sensors/s1/temperature", payload); err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 1 || f.calls[0].fn != fnPublish {
		t.Fatalf("calls = %+v", f.calls)
	}
	if want := abi.AppendPublish(nil, "sensors/s1/temperature", payload); !bytes.Equal(f.calls[0].req, want) {
		t.Fatalf("request %x, want %x", f.calls[0].req, want)
	}
	// The host decodes with the strict codec: unknown keys would fail.
	var req abi.PublishRequest
	if err := mustCodec(t).Unmarshal(f.calls[0].req, &req); err != nil || req.Topic != "sensors/s1/temperature" || !bytes.Equal(req.Payload, payload) {
		t.Fatalf("decoded %+v, %v", req, err)
	}
}

func TestPublishDoesNotAllocate(t *testing.T) {
	newFakeHost(t, nil)
	host.call = func(hostFunc, []byte, []byte) int32 { return 0 }
	payload := make([]byte, 256)
	Publish("a/b", payload) // grows the request buffer once
	if n := testing.AllocsPerRun(1000, func() { Publish("a/b", payload) }); n != 0 {
		t.Fatalf("Publish allocates %v times per call", n)
	}
}

func TestHostErrorsAreCheckable(t *testing.T) {
	f := newFakeHost(t, func(fn hostFunc, req []byte) ([]byte, error) {
		return nil, abi.Errorf(abi.ErrDenied, "no grant for pubsub.publish on %s", "x/y")
	})
	err := Publish("x/y", nil)
	var e *Error
	if !errors.As(err, &e) || e.Code != abi.ErrDenied || e.Message != "no grant for pubsub.publish on x/y" {
		t.Fatalf("errors.As(%v) = %+v", err, e)
	}
	if !errors.Is(err, ErrDenied) || errors.Is(err, ErrNotFound) {
		t.Fatalf("errors.Is(%v, ErrDenied) is wrong", err)
	}
	if got := err.Error(); got != "moss: publish: access denied: no grant for pubsub.publish on x/y" {
		t.Fatalf("Error() = %q", got)
	}
	if f.fetches != 1 {
		t.Fatalf("error message fetched with %d response calls, want 1", f.fetches)
	}
}

func TestLongErrorMessageFetched(t *testing.T) {
	long := strings.Repeat("why ", 500) // larger than the first response buffer
	newFakeHost(t, func(fn hostFunc, req []byte) ([]byte, error) {
		return nil, abi.Errorf(abi.ErrInvalid, "%s", long)
	})
	var e *Error
	if err := Publish("a", nil); !errors.As(err, &e) || e.Message != long {
		t.Fatalf("long message lost: %v", err)
	}
}

func TestErrorWithoutMessage(t *testing.T) {
	// A host (or a future one) that leaves nothing pending still yields the code.
	newFakeHost(t, nil)
	host.call = func(hostFunc, []byte, []byte) int32 { return -int32(abi.ErrRate) }
	var e *Error
	if err := Publish("a", nil); !errors.As(err, &e) || e.Code != abi.ErrRate || !errors.Is(err, ErrRate) {
		t.Fatalf("err = %v", err)
	}
}

func TestNotInHost(t *testing.T) {
	err := Publish("a", nil)
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "GOOS=wasip1") {
		t.Fatalf("Publish outside a host = %v", err)
	}
}

func TestResponseTooSmallIsFetched(t *testing.T) {
	big := strings.Repeat("x", 3*initialResponse)
	value := map[string]any{"value": big}
	f := newFakeHost(t, func(fn hostFunc, req []byte) ([]byte, error) {
		return mustCodec(t).Marshal(value)
	})
	var got string
	if err := Config().Get(&got, "big"); err != nil || got != big {
		t.Fatalf("Get = %d bytes, %v", len(got), err)
	}
	if f.fetches != 1 {
		t.Fatalf("%d response calls, want 1", f.fetches)
	}
	// The grown buffer is kept: the same response now fits first time.
	f.fetches = 0
	if err := Config().Get(&got, "big"); err != nil || f.fetches != 0 {
		t.Fatalf("second Get: %v, %d fetches", err, f.fetches)
	}
	if r := f.requests(fnConfigGet)[0]; len(r["path"].([]any)) != 1 || r["path"].([]any)[0] != "big" {
		t.Fatalf("request %v", r)
	}
}

func TestResponseGrowsWhileFetching(t *testing.T) {
	// The pending response says its own length each time it does not fit.
	newFakeHost(t, nil)
	resp, _ := mustCodec(t).Marshal(map[string]any{"value": strings.Repeat("y", 1000)})
	host.call = func(hostFunc, []byte, []byte) int32 { return 300 } // an understatement
	host.response = func(buf []byte) int32 {
		if len(buf) >= len(resp) {
			copy(buf, resp)
		}
		return int32(len(resp))
	}
	var got string
	if err := Config().Get(&got); err != nil || len(got) != 1000 {
		t.Fatalf("Get = %d bytes, %v", len(got), err)
	}
}

func TestConfigNotFoundKeepsDefault(t *testing.T) {
	newFakeHost(t, func(fn hostFunc, req []byte) ([]byte, error) {
		return nil, abi.Errorf(abi.ErrNotFound, "no value at interval")
	})
	interval := "2s"
	err := Config().Get(&interval, "interval")
	if !errors.Is(err, ErrNotFound) || interval != "2s" {
		t.Fatalf("Get = %v, interval %q", err, interval)
	}
}

func TestConfigGetStruct(t *testing.T) {
	newFakeHost(t, func(fn hostFunc, req []byte) ([]byte, error) {
		return mustCodec(t).Marshal(map[string]any{"value": map[string]any{"threshold": 28, "window": 5}})
	})
	var c struct {
		Threshold float64 `cbor:"threshold"`
		Window    int     `cbor:"window"`
	}
	if err := Config().Get(&c); err != nil || c.Threshold != 28 || c.Window != 5 {
		t.Fatalf("Get = %+v, %v", c, err)
	}
	var wrong struct {
		Window int `cbor:"window"`
	}
	if err := Config().Get(&wrong); err == nil {
		t.Fatal("a struct lacking a key must fail")
	}
}

func TestConfigUpdateAndWatch(t *testing.T) {
	f := newFakeHost(t, func(fn hostFunc, req []byte) ([]byte, error) {
		if fn == fnConfigWatch {
			return idResponse(4), nil
		}
		return nil, nil
	})
	if err := Config().Update(map[string]any{"threshold": 30.5, "old": nil}, "alerts"); err != nil {
		t.Fatal(err)
	}
	var req abi.ConfigUpdateRequest
	if err := mustCodec(t).Unmarshal(f.calls[0].req, &req); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := mustCodec(t).Unmarshal(req.Value, &v); err != nil || len(req.Path) != 1 || req.Path[0] != "alerts" || v["threshold"] != 30.5 || v["old"] != nil {
		t.Fatalf("update request %+v value %v: %v", req, v, err)
	}
	var seen [][]string
	if err := Config().Watch(func(p []string) { seen = append(seen, p) }); err != nil {
		t.Fatal(err)
	}
	if rc := deliver(t,
		abi.Event{Kind: abi.EventConfig, ID: 4, Path: []string{"alerts", "threshold"}},
		abi.Event{Kind: abi.EventConfig, ID: 4, Path: []string{"window"}},
		abi.Event{Kind: abi.EventConfig, ID: 9, Path: []string{"nobody"}},
	); rc != 0 {
		t.Fatalf("rc = %d", rc)
	}
	if len(seen) != 2 || strings.Join(seen[0], "/") != "alerts/threshold" || strings.Join(seen[1], "/") != "window" {
		t.Fatalf("watch saw %q", seen)
	}
}

func TestDispatchByID(t *testing.T) {
	ids := map[string]uint32{"a/+": 7, "b/#": 9}
	f := newFakeHost(t, func(fn hostFunc, req []byte) ([]byte, error) {
		switch fn {
		case fnSubscribe:
			var r abi.SubscribeRequest
			if err := mustCodec(t).Unmarshal(req, &r); err != nil {
				return nil, err
			}
			return idResponse(ids[r.Filter]), nil
		case fnTimerStart:
			var r abi.TimerStartRequest
			if err := mustCodec(t).Unmarshal(req, &r); err != nil {
				return nil, err
			}
			if r.Repeat {
				return idResponse(1), nil
			}
			return idResponse(2), nil
		}
		return nil, nil
	})
	var got []string
	var started, stopped bool
	OnStart(func() error {
		started = true
		if _, err := Subscribe("a/+", func(m Message) { got = append(got, "A "+m.Topic+" "+string(m.Payload)) }); err != nil {
			return err
		}
		if _, err := Subscribe("b/#", func(m Message) { got = append(got, "B "+m.Topic+" "+string(m.Payload)) }); err != nil {
			return err
		}
		if _, err := Every(1500*time.Microsecond, func() { got = append(got, "every") }); err != nil {
			return err
		}
		_, err := After(time.Second, func() { got = append(got, "after") })
		return err
	})
	OnStop(func() { stopped = true })
	if rc := deliver(t, abi.Event{Kind: abi.EventStart, Name: "c", Version: "1.0.0", ABI: 1}); rc != 0 || !started {
		t.Fatalf("start rc=%d started=%v", rc, started)
	}
	timers := f.requests(fnTimerStart)
	if len(timers) != 2 || timers[0]["interval_ms"] != uint64(2) || timers[0]["repeat"] != true || timers[1]["interval_ms"] != uint64(1000) || timers[1]["repeat"] != false {
		t.Fatalf("timer requests %v (1.5ms must round up to 2)", timers)
	}
	rc := deliver(t,
		abi.Event{Kind: abi.EventMessage, ID: 9, Topic: "b/x/y", Payload: []byte("1")},
		abi.Event{Kind: abi.EventMessage, ID: 7, Topic: "a/z", Payload: []byte("2")},
		abi.Event{Kind: abi.EventMessage, ID: 3, Topic: "unknown", Payload: []byte("3")},
		abi.Event{Kind: abi.EventTimer, ID: 1},
		abi.Event{Kind: abi.EventTimer, ID: 2},
		abi.Event{Kind: abi.EventTimer, ID: 2}, // a one-shot fires once
		abi.Event{Kind: abi.EventTimer, ID: 1},
		abi.Event{Kind: 200}, // a kind from a later ABI is skipped
	)
	want := []string{"B b/x/y 1", "A a/z 2", "every", "after", "every"}
	if rc != 0 || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("rc=%d handled %q, want %q", rc, got, want)
	}
	if rc := deliver(t, abi.Event{Kind: abi.EventStop, Reason: "deploy"}); rc != 0 || !stopped {
		t.Fatalf("stop rc=%d stopped=%v", rc, stopped)
	}
}

func TestSameFilterTwiceAndUnsubscribe(t *testing.T) {
	f := newFakeHost(t, func(fn hostFunc, req []byte) ([]byte, error) {
		if fn == fnSubscribe {
			return idResponse(5), nil // the host's id for the one filter
		}
		return nil, nil
	})
	var got []string
	s1, err1 := Subscribe("t", func(Message) { got = append(got, "1") })
	s2, err2 := Subscribe("t", func(Message) { got = append(got, "2") })
	if err1 != nil || err2 != nil || s1.Filter() != "t" {
		t.Fatal(err1, err2)
	}
	msg := abi.Event{Kind: abi.EventMessage, ID: 5, Topic: "t", Payload: []byte{}}
	deliver(t, msg)
	if err := s1.Unsubscribe(); err != nil || len(f.requests(fnUnsubscribe)) != 0 {
		t.Fatalf("unsubscribing one of two handlers must not end the subscription: %v", err)
	}
	deliver(t, msg)
	if err := s2.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if r := f.requests(fnUnsubscribe); len(r) != 1 || r[0]["id"] != uint64(5) {
		t.Fatalf("unsubscribe requests %v", r)
	}
	deliver(t, msg) // already queued: dropped
	if err := s2.Unsubscribe(); err != nil || strings.Join(got, "") != "122" {
		t.Fatalf("got %q, second Unsubscribe %v", got, err)
	}
}

func TestHandlerUnsubscribesDuringDispatch(t *testing.T) {
	newFakeHost(t, func(fn hostFunc, req []byte) ([]byte, error) {
		if fn == fnSubscribe {
			return idResponse(1), nil
		}
		return nil, nil
	})
	n := 0
	var s Subscription
	s, _ = Subscribe("t", func(Message) {
		n++
		if err := s.Unsubscribe(); err != nil {
			t.Error(err)
		}
	})
	msg := abi.Event{Kind: abi.EventMessage, ID: 1, Topic: "t"}
	if rc := deliver(t, msg, msg); rc != 0 || n != 1 {
		t.Fatalf("rc=%d handled %d times, want 1", rc, n)
	}
}

func TestTimerStop(t *testing.T) {
	f := newFakeHost(t, func(fn hostFunc, req []byte) ([]byte, error) {
		switch fn {
		case fnTimerStart:
			return idResponse(3), nil
		case fnTimerStop:
			return nil, abi.Errorf(abi.ErrNotFound, "no timer 3")
		}
		return nil, nil
	})
	ran := 0
	tm, err := Every(time.Second, func() { ran++ })
	if err != nil {
		t.Fatal(err)
	}
	if err := tm.Stop(); err != nil {
		t.Fatalf("Stop of a timer the host already dropped: %v", err)
	}
	deliver(t, abi.Event{Kind: abi.EventTimer, ID: 3}) // queued before Stop
	if ran != 0 || len(f.requests(fnTimerStop)) != 1 {
		t.Fatalf("stopped timer ran %d times", ran)
	}
	if err := tm.Stop(); err != nil || len(f.requests(fnTimerStop)) != 1 {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := Every(0, func() {}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Every(0) = %v", err)
	}
}

func TestPanicIsRecoveredAndLogged(t *testing.T) {
	f := newFakeHost(t, func(fn hostFunc, req []byte) ([]byte, error) {
		if fn == fnSubscribe {
			return idResponse(1), nil
		}
		return nil, nil
	})
	if _, err := Subscribe("t", func(m Message) { panic("boom on " + m.Topic) }); err != nil {
		t.Fatal(err)
	}
	later := false
	if _, err := Subscribe("t", func(Message) { later = true }); err != nil {
		t.Fatal(err)
	}
	rc := deliver(t, abi.Event{Kind: abi.EventMessage, ID: 1, Topic: "t"}, abi.Event{Kind: abi.EventMessage, ID: 1, Topic: "t"})
	if rc != rcPanic || later {
		t.Fatalf("rc=%d, later handler ran=%v: a panic must end the batch", rc, later)
	}
	logs := f.logs()
	if len(logs) != 1 || !strings.HasPrefix(logs[0], "ERROR moss: panic in message handler (topic t): boom on t\n") || !strings.Contains(logs[0], "goroutine") {
		t.Fatalf("logs %q", logs)
	}
	// The SDK is usable afterwards (its lock was released by the panic).
	if err := Publish("a", nil); err != nil {
		t.Fatal(err)
	}
}

func TestStartErrorFailsCall(t *testing.T) {
	f := newFakeHost(t, nil)
	second := false
	OnStart(func() error { return errors.New("no sensor attached") })
	OnStart(func() error { second = true; return nil })
	if rc := deliver(t, abi.Event{Kind: abi.EventStart}); rc != rcStartFailed || second {
		t.Fatalf("rc=%d second=%v", rc, second)
	}
	if logs := f.logs(); len(logs) != 1 || logs[0] != "ERROR moss: start: no sensor attached" {
		t.Fatalf("logs %q", logs)
	}
}

func TestBadBatches(t *testing.T) {
	f := newFakeHost(t, nil)
	buf := eventBuffer(10)
	if len(buf) < minEventBuffer {
		t.Fatalf("event buffer of %d bytes", len(buf))
	}
	copy(buf, []byte{0x81, 0xa1, 0x64, 'k', 'i', 'n', 'd', 0x03}) // [{"kind": 3}]
	if rc := onEvents(addressOf(buf)+1, 8); rc != rcBadBatch {
		t.Fatalf("a batch outside the event buffer: rc=%d", rc)
	}
	if rc := onEvents(addressOf(buf), len(buf)+1); rc != rcBadBatch {
		t.Fatalf("a batch longer than the event buffer: rc=%d", rc)
	}
	if rc := onEvents(addressOf(buf), 8); rc != rcOK {
		t.Fatalf("a good batch: rc=%d", rc)
	}
	for _, bad := range [][]byte{{0xa0}, {0x81, 0x01}, {0x82, 0xa1, 0x64, 'k', 'i', 'n', 'd', 0x03}, {0x9f}} {
		copy(buf, bad)
		if rc := onEvents(addressOf(buf), len(bad)); rc != rcBadBatch {
			t.Fatalf("batch %x: rc=%d", bad, rc)
		}
	}
	if len(f.logs()) != 6 {
		t.Fatalf("each bad batch must be logged: %q", f.logs())
	}
	// A larger batch gets a larger buffer; a smaller one reuses it.
	big := eventBuffer(3 * minEventBuffer)
	if len(big) < 3*minEventBuffer || addressOf(eventBuffer(100)) != addressOf(big) {
		t.Fatal("event buffer not grown and kept")
	}
}

func TestLogEncoding(t *testing.T) {
	f := newFakeHost(t, nil)
	Log(slog.LevelDebug, "d")
	Infof("n=%d", 3)
	Warnf("w")
	Errorf("e")
	Log(slog.Level(-300), "very verbose")
	Log(slog.LevelInfo, strings.Repeat("é", maxLogMsg)) // cut on a rune boundary
	var reqs []abi.LogRequest
	for _, c := range f.calls {
		var r abi.LogRequest
		if err := mustCodec(t).Unmarshal(c.req, &r); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, r)
	}
	want := []abi.LogRequest{{Level: -4, Msg: "d"}, {Level: 0, Msg: "n=3"}, {Level: 4, Msg: "w"}, {Level: 8, Msg: "e"}, {Level: -300, Msg: "very verbose"}}
	for i, w := range want {
		if reqs[i] != w {
			t.Errorf("log %d = %+v, want %+v", i, reqs[i], w)
		}
	}
	if m := reqs[5].Msg; len(m) != maxLogMsg || !strings.HasSuffix(m, "é") {
		t.Errorf("long message cut to %d bytes", len(m))
	}
}

func TestLogger(t *testing.T) {
	f := newFakeHost(t, nil)
	l := Logger().With("sensor", "s1")
	l.Info("reading", "temperature", 21.5)
	l.WithGroup("net").Warn("slow", "rtt", 250*time.Millisecond)
	Logger().Debug("plain")
	want := []string{
		"INFO reading sensor=s1 temperature=21.5",
		"WARN slow sensor=s1 net.rtt=250ms",
		"DEBUG plain",
	}
	if got := f.logs(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("logs\n%q\nwant\n%q", got, want)
	}
}

func TestReportState(t *testing.T) {
	f := newFakeHost(t, nil)
	if err := ReportState(Finished, "batch done"); err != nil {
		t.Fatal(err)
	}
	if err := ReportState(Running, ""); err != nil {
		t.Fatal(err)
	}
	for i, want := range []abi.ReportStateRequest{{State: "FINISHED", Reason: "batch done"}, {State: "RUNNING"}} {
		var r abi.ReportStateRequest
		if err := mustCodec(t).Unmarshal(f.calls[i].req, &r); err != nil || r != want {
			t.Fatalf("report_state %d = %+v, %v", i, r, err)
		}
	}
}

func TestAppendInt(t *testing.T) {
	c := mustCodec(t)
	for _, v := range []int64{0, 1, 23, 24, -1, -24, -25, -256, -257, -65537, -1 << 40} {
		var got int64
		if err := c.Unmarshal(appendInt(nil, v), &got); err != nil || got != v {
			t.Errorf("appendInt(%d) decodes to %d, %v", v, got, err)
		}
	}
}
