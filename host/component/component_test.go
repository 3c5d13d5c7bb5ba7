package component

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/host/authz"
	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/limits"
	"github.com/moss-edge/moss/host/wasm"
	"github.com/moss-edge/moss/internal/testwasm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type harness struct {
	t      *testing.T
	engine *wasm.Engine
	bus    *bus.Bus
	codec  *abi.Codec
	logs   *syncBuffer
	comps  []*Component
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	e, err := wasm.NewEngine(context.Background(), wasm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	codec, _ := abi.NewCodec()
	h := &harness{t: t, engine: e, bus: bus.New(), codec: codec, logs: &syncBuffer{}}
	t.Cleanup(func() {
		for _, c := range h.comps {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := c.Stop(ctx); err != nil {
				t.Error(err)
			}
			cancel()
		}
		e.Close(context.Background())
	})
	return h
}

var allowAll = []authz.Grant{{Operations: []string{"*"}, Resources: []string{"*"}}}

func (h *harness) start(name, wat string, lim limits.Limits, restart Restart) *Component {
	h.t.Helper()
	mod, err := h.engine.Compile(context.Background(), name, testwasm.WAT(h.t, filepath.Join("testdata", wat)))
	if err != nil {
		h.t.Fatal(err)
	}
	policy, err := authz.New(allowAll)
	if err != nil {
		h.t.Fatal(err)
	}
	c := New(Spec{Name: name, Version: "1.0.0", Module: mod, Limits: lim.Or(limits.Defaults()), Policy: policy}, Env{
		Engine: h.engine, Bus: h.bus, Codec: h.codec, Restart: restart,
		Logger: slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	h.comps = append(h.comps, c)
	c.Start()
	return c
}

func (h *harness) wait(c *Component, want ...State) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.WaitState(ctx, want...); err != nil {
		h.t.Fatalf("%v\nlogs:\n%s", err, h.logs)
	}
}

// counter is a bus subscriber counting messages.
type counter struct {
	n  atomic.Int64
	ch chan struct{}
}

func newCounter() *counter { return &counter{ch: make(chan struct{}, 1<<16)} }

func (c *counter) Deliver(uint32, *bus.Message) {
	c.n.Add(1)
	c.ch <- struct{}{}
}

func (c *counter) await(t *testing.T, what string) {
	t.Helper()
	select {
	case <-c.ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestCanaryRoundTrip(t *testing.T) {
	h := newHarness(t)
	c := h.start("canary", "canary.wat", limits.Limits{}, Restart{})
	h.wait(c, StateRunning)
	out := newCounter()
	h.bus.Subscribe("canary/out", out, 1)
	for i := range 50 {
		h.bus.Publish(&bus.Message{Topic: "canary/in", Payload: []byte{byte(i)}})
		out.await(t, "canary reply")
	}
	if got := c.Info().Delivered; got < 50 {
		t.Fatalf("delivered %d events, want >= 50", got)
	}
}

// TestSpinnerStoppedWhileCanaryRuns: a component stuck in a loop is stopped
// at its deadline, restarted with backoff, and BROKEN after three errors,
// while another component keeps answering throughout.
func TestSpinnerStoppedWhileCanaryRuns(t *testing.T) {
	h := newHarness(t)
	canary := h.start("canary", "canary.wat", limits.Limits{}, Restart{})
	spinner := h.start("spinner", "spinner.wat",
		limits.Limits{CallDeadline: limits.Duration{Duration: 50 * time.Millisecond}},
		Restart{Backoff: 10 * time.Millisecond, BrokenAfter: 3, Window: time.Minute})
	h.wait(canary, StateRunning)
	h.wait(spinner, StateRunning)
	out := newCounter()
	h.bus.Subscribe("canary/out", out, 1)

	for state := spinner.State(); state != StateBroken; state = spinner.State() {
		if state == StateRunning {
			h.bus.Publish(&bus.Message{Topic: "spin/in", Payload: []byte("x")})
		}
		// The canary answers while the spinner spins.
		h.bus.Publish(&bus.Message{Topic: "canary/in", Payload: []byte("ping")})
		out.await(t, "canary reply while the spinner spins")
		if _, err := spinner.WaitState(ctxTimeout(t, 20*time.Millisecond), StateBroken); err == nil {
			break
		}
	}
	info := spinner.Info()
	if info.Errors != 3 || info.Restarts != 2 || !strings.Contains(info.LastError, "deadline") {
		t.Fatalf("spinner info %+v", info)
	}
	if !strings.Contains(h.logs.String(), "component broken") {
		t.Fatalf("no BROKEN log line:\n%s", h.logs)
	}
	// BROKEN leaves the bus: the spinner's subscription is gone.
	if n := h.bus.Publish(&bus.Message{Topic: "spin/in"}); n != 0 {
		t.Fatalf("BROKEN component still subscribed (%d matches)", n)
	}
	h.bus.Publish(&bus.Message{Topic: "canary/in", Payload: []byte("ping")})
	out.await(t, "canary reply after the spinner broke")
	if canary.State() != StateRunning {
		t.Fatalf("canary is %s", canary.State())
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestMailboxKeepsMessagesAcrossRestartAndCountsOverflow: while a component
// waits to restart, messages queue in its mailbox up to its capacity; the
// rest are dropped and counted, never silently.
func TestMailboxKeepsMessagesAcrossRestartAndCountsOverflow(t *testing.T) {
	h := newHarness(t)
	c := h.start("crasher", "crasher.wat", limits.Limits{Mailbox: 4},
		Restart{Backoff: time.Hour, BrokenAfter: 5})
	h.wait(c, StateRunning)
	h.bus.Publish(&bus.Message{Topic: "crash/in"})
	h.wait(c, StateErrored)
	for range 10 {
		if n := h.bus.Publish(&bus.Message{Topic: "crash/in"}); n != 1 {
			t.Fatal("subscription lost while ERRORED")
		}
	}
	info := c.Info()
	if info.Queued != 4 || info.Dropped != 6 {
		t.Fatalf("queued %d dropped %d, want 4 and 6", info.Queued, info.Dropped)
	}
	if !strings.Contains(h.logs.String(), "mailbox full") {
		t.Fatalf("overflow not logged:\n%s", h.logs)
	}
	if !strings.Contains(info.LastError, "unreachable") {
		t.Fatalf("last error %q does not name the trap", info.LastError)
	}
}

func TestTrapRestartsWithSameSubscription(t *testing.T) {
	h := newHarness(t)
	c := h.start("crasher", "crasher.wat", limits.Limits{},
		Restart{Backoff: time.Millisecond, BrokenAfter: 10})
	h.wait(c, StateRunning)
	for i := 1; i <= 3; i++ {
		h.bus.Publish(&bus.Message{Topic: "crash/in"})
		// Each message crashes the instance; it comes back RUNNING.
		if _, err := c.Wait(ctxTimeout(t, 10*time.Second), func(in Info) bool {
			return in.Errors == i && in.Restarts == i && in.State == StateRunning
		}); err != nil {
			t.Fatalf("restart %d: %v (%+v)", i, err, c.Info())
		}
	}
	if n := h.bus.Len(); n != 1 {
		t.Fatalf("bus holds %d subscriptions after restarts, want 1 (same id re-used)", n)
	}
	if info := c.Info(); info.Restarts != 3 {
		t.Fatalf("restarts = %d", info.Restarts)
	}
}

func TestReportFinished(t *testing.T) {
	h := newHarness(t)
	c := h.start("finisher", "finisher.wat", limits.Limits{}, Restart{})
	h.wait(c, StateFinished)
	if c.Info().Errors != 0 {
		t.Fatal("finished component counted an error")
	}
}

// TestPublishRateLimit: past publish_rate a publish fails with E_RATE, and
// the component's log says which limit.
func TestPublishRateLimit(t *testing.T) {
	h := newHarness(t)
	c := h.start("burst", "burst.wat", limits.Limits{PublishRate: 10}, Restart{})
	h.wait(c, StateRunning)
	out := newCounter()
	h.bus.Subscribe("burst/out", out, 1)
	// Nudge it through its mailbox, as the bus would.
	c.Deliver(1, &bus.Message{Topic: "go"})
	for range 10 {
		out.await(t, "the first 10 publishes")
	}
	// Stop returns after the batch in flight: all 100 attempts are made.
	if err := c.Stop(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	// The bucket holds one second's worth: 10, plus what refilled while the
	// 100 calls ran (well under a second).
	if n := out.n.Load(); n < 10 || n > 12 {
		t.Fatalf("%d of 100 publishes passed a 10/s limit", n)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "component limit exceeded") || !strings.Contains(logs, "limit=publish_rate") {
		t.Fatalf("rate limit not logged:\n%s", logs)
	}
}
