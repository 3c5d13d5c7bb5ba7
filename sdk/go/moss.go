// Package moss is the Go SDK for Moss components: WebAssembly modules that
// the Moss edge runtime hosts in-process. It hides the component ABI
// (abi/ABI.md) and its CBOR behind a small Go API: publish and subscribe on
// the local bus, host timers, configuration, logs and state reports.
//
// # A component
//
// A component is a WASI reactor: the host instantiates it, then calls into it
// once per batch of events (a message, a timer, a configuration change, start
// and stop). A Go module built with -buildmode=c-shared runs package init
// functions when it is instantiated but never runs main, so a component
// registers what to do in init:
//
//	package main
//
//	import (
//		"errors"
//		"time"
//
//		moss "github.com/moss-edge/moss/sdk/go"
//	)
//
//	func init() { moss.OnStart(start) }
//
//	func main() {} // required by the toolchain, never called
//
//	func start() error {
//		interval := "2s" // the default, kept when the key is absent
//		if err := moss.Config().Get(&interval, "interval"); err != nil && !errors.Is(err, moss.ErrNotFound) {
//			return err
//		}
//		d, err := time.ParseDuration(interval)
//		if err != nil {
//			return err
//		}
//		if _, err := moss.Subscribe("sensors/+/temperature", func(m moss.Message) {
//			moss.Infof("%s: %s", m.Topic, m.Payload)
//		}); err != nil {
//			return err
//		}
//		_, err = moss.Every(d, func() {
//			if err := moss.Publish("heartbeat/example", []byte("alive")); err != nil {
//				moss.Warnf("heartbeat: %v", err)
//			}
//		})
//		return err
//	}
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o example.wasm .
//
// # The reactor rule
//
// A component runs only while the host is calling it. Goroutines it starts
// make progress only until the current call returns and then stay frozen until
// the next event arrives, so a time.Ticker, a background goroutine or a
// blocking read never does periodic work. Use host timers (Every, After)
// instead, and keep each handler short: every call into a component has a
// deadline (the manifest's limits.call_deadline), and a component that runs
// past it is stopped and restarted.
//
// # Failures
//
// A handler that panics, or a start function that returns an error, fails the
// call: the SDK logs the panic value and stack (or the error) through the
// host's log at error level and returns a non-zero code, and the host then
// discards the instance, marks the component ERRORED and restarts it after a
// backoff. The batch that was being handled is not redelivered. The codes
// moss_on_events returns are 1 (the batch was malformed or not in the event
// buffer), 2 (a start function failed) and 3 (a handler panicked).
//
// Host functions that fail return an error that errors.As turns into an
// *Error (the host's code and message) and that errors.Is matches against
// the sentinel for its code, such as ErrDenied or ErrNotFound.
//
// # Concurrency
//
// The host never calls a component twice at once, so handlers run one at a
// time. The SDK's functions may still be called from goroutines a handler
// starts and waits for; they are safe for concurrent use.
//
// Outside GOOS=wasip1 the package builds (so that tools and tests of a whole
// module work) but every host function fails with ErrUnsupported.
package moss

import (
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moss-edge/moss/abi"
)

// Codes moss_on_events returns; the host logs them when it fails the call.
const (
	rcOK          = 0
	rcBadBatch    = 1 // not a CBOR array of events, or not where the event buffer is
	rcStartFailed = 2 // an OnStart function returned an error
	rcPanic       = 3 // a handler panicked
)

// minEventBuffer is the smallest event buffer handed to the host; most
// batches of small messages fit, so the host rarely has to ask again.
const minEventBuffer = 4 << 10

// g is the state of this instance. Handlers run one at a time, but a handler
// may start goroutines that use the SDK while it waits for them, so mu guards
// everything here. mu is never held while user code runs, so handlers may
// call back into the SDK.
var g struct {
	mu sync.Mutex

	req  []byte // the request being encoded, reused by every host call
	resp []byte // the buffer every host call may answer into

	// events is the event buffer the host writes batches into. Go's
	// collector does not move objects, and this reference keeps it alive
	// between calls, so the address the host holds stays valid.
	events []byte
	ev     abi.Event // reused so decoding a batch does not allocate per event

	onStart []func() error
	onStop  []func()

	onUpgrade func() []byte // OnUpgrade's
	onUpdate  func(version string) time.Duration
	handover  []byte // the start event's state from the previous version

	timers  map[uint32]*timer
	watches map[uint32]func(path []string)
}

// subs maps a subscription id to its handlers. It is read on every message,
// so it is copied on write (under g.mu) and read without a lock: in Wasm
// under the host's deadline checks a lock costs about as much as decoding
// the event.
var subs atomic.Pointer[map[uint32][]*subscription]

// updateSubs replaces the handlers of id (none: removes it). g.mu must be
// held.
func updateSubs(id uint32, hs []*subscription) {
	m := maps.Clone(*subs.Load())
	if len(hs) == 0 {
		delete(m, id)
	} else {
		m[id] = hs
	}
	subs.Store(&m)
}

func init() {
	subs.Store(&map[uint32][]*subscription{})
	g.timers = make(map[uint32]*timer)
	g.watches = make(map[uint32]func([]string))
}

// OnStart registers fn to run when the instance receives its start event, the
// first event of every instance. That is where a component reads its
// configuration, subscribes and starts timers: subscriptions keep their ids
// across restarts but timers and configuration watches do not, so a fresh
// instance makes them again here. Functions run in the order registered; the
// first error fails the start and the host restarts the component.
//
// Call OnStart from an init function: main never runs in a component.
func OnStart(fn func() error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.onStart = append(g.onStart, fn)
}

// OnStop registers fn to run when the instance receives its stop event, just
// before the host closes it. Functions run in reverse order of registration,
// as deferred calls do.
func OnStop(fn func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.onStop = append(g.onStop, fn)
}

// eventBuffer serves moss_event_buffer: it returns a buffer of at least size
// bytes, reusing the current one when it is large enough.
func eventBuffer(size int) []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	if size > cap(g.events) {
		n := minEventBuffer
		for n < size {
			n *= 2
		}
		g.events = make([]byte, n)
	}
	return g.events[:cap(g.events)]
}

// onEvents serves moss_on_events. ptr must be the address of the event buffer:
// anything else means the host and the guest disagree about memory, and the
// call fails rather than read it.
func onEvents(ptr uintptr, n int) int32 {
	g.mu.Lock()
	ev := g.events
	g.mu.Unlock()
	if len(ev) == 0 || ptr != addressOf(ev) || n < 0 || n > len(ev) {
		Log(slog.LevelError, fmt.Sprintf("moss: moss_on_events(%#x, %d) outside the event buffer (%#x, %d bytes)", ptr, n, addressOf(ev), len(ev)))
		return rcBadBatch
	}
	return dispatch(ev[:n])
}

// dispatch handles a batch: a CBOR array of events, in order. Only this
// function touches g.ev, and the host never delivers two batches at once.
//
// A panic in a handler is logged and turned into a failed call, so the host
// restarts a component in an unknown state instead of trapping in the middle
// of the Go runtime. It ends the batch, so one recover serves all its events.
func dispatch(batch []byte) (rc int32) {
	defer func() {
		if p := recover(); p != nil {
			what := kindName(g.ev.Kind) + " handler"
			if g.ev.Kind == abi.EventMessage {
				what += " (topic " + g.ev.Topic + ")"
			}
			Log(slog.LevelError, fmt.Sprintf("moss: panic in %s: %v\n%s", what, p, debug.Stack()))
			rc = rcPanic
		}
	}()
	r := abi.NewReader(batch)
	n, err := r.Array()
	if err != nil {
		Log(slog.LevelError, "moss: event batch is not a CBOR array: "+err.Error())
		return rcBadBatch
	}
	for i := range n {
		if err := r.ReadEvent(&g.ev); err != nil {
			Log(slog.LevelError, fmt.Sprintf("moss: event %d of %d: %v", i, n, err))
			return rcBadBatch
		}
		if rc := handle(&g.ev); rc != rcOK {
			return rc
		}
	}
	return rcOK
}

// handle runs the user code one event asks for.
func handle(ev *abi.Event) int32 {
	switch ev.Kind {
	case abi.EventMessage:
		m := Message{Topic: ev.Topic, Payload: ev.Payload}
		for _, s := range (*subs.Load())[ev.ID] {
			s.handler(m)
		}
	case abi.EventTimer:
		g.mu.Lock()
		t := g.timers[ev.ID]
		if t != nil && !t.repeat {
			delete(g.timers, ev.ID)
		}
		g.mu.Unlock()
		// A missing timer was stopped after its event was queued.
		if t != nil {
			t.fn()
		}
	case abi.EventConfig:
		g.mu.Lock()
		fn := g.watches[ev.ID]
		g.mu.Unlock()
		if fn != nil {
			// g.ev reuses Path's storage for the next event.
			fn(slices.Clone(ev.Path))
		}
	case abi.EventStart:
		g.mu.Lock()
		fns := slices.Clone(g.onStart)
		g.handover = slices.Clone(ev.Payload)
		g.mu.Unlock()
		for _, fn := range fns {
			if err := fn(); err != nil {
				Log(slog.LevelError, "moss: start: "+err.Error())
				return rcStartFailed
			}
		}
	case abi.EventUpdate:
		g.mu.Lock()
		fn := g.onUpdate
		g.mu.Unlock()
		if fn != nil {
			if d := fn(ev.Version); d > 0 {
				deferUpdate(d)
			}
		}
	case abi.EventStop:
		g.mu.Lock()
		fns := slices.Clone(g.onStop)
		save := g.onUpgrade
		g.mu.Unlock()
		if ev.Reason == abi.StopUpgrade && save != nil {
			saveState(save())
		}
		for _, fn := range slices.Backward(fns) {
			fn()
		}
	}
	// Kinds added by later hosts are skipped: the ABI lets events grow.
	return rcOK
}

func kindName(k abi.EventKind) string {
	switch k {
	case abi.EventStart:
		return "start"
	case abi.EventMessage:
		return "message"
	case abi.EventTimer:
		return "timer"
	case abi.EventConfig:
		return "config"
	case abi.EventStop:
		return "stop"
	case abi.EventUpdate:
		return "update"
	}
	return fmt.Sprintf("event kind %d", k)
}

// OnUpgrade registers fn to hand state to the next version of the
// component when a deployment replaces this one without a restart (hot
// swap). fn runs on the stop event that announces the upgrade, before the
// OnStop functions; the new version reads what it returned with Handover.
// A later OnUpgrade replaces fn. Host function: state_save.
func OnUpgrade(fn func() []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.onUpgrade = fn
}

// Handover returns the state the previous version handed over with
// OnUpgrade, or nil when this instance did not start from a hot swap. It is
// valid from the start functions on.
func Handover() []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.handover
}

func saveState(data []byte) {
	g.mu.Lock()
	g.req = abi.AppendBytes(abi.AppendText(abi.AppendMap(g.req[:0], 1), "data"), data)
	err := send(fnStateSave, hostStateSave)
	g.mu.Unlock()
	if err != nil {
		Log(slog.LevelError, "moss: upgrade: "+err.Error())
	}
}

// OnUpdate registers fn to hear that a deployment is about to update or
// reconfigure the component (version is the new version, "" when only its
// configuration changes). fn returns how long the deployment should wait,
// 0 to accept now: a component in the middle of work it must not lose
// defers, as with Greengrass's DeferComponentUpdate. The deployment asks
// again when the time is up, and goes ahead anyway once its update policy's
// timeout has passed. Host function: defer_update.
func OnUpdate(fn func(version string) time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.onUpdate = fn
}

func deferUpdate(d time.Duration) {
	secs := uint64((d + time.Second - 1) / time.Second)
	g.mu.Lock()
	g.req = abi.AppendUint(abi.AppendText(abi.AppendMap(g.req[:0], 1), "seconds"), secs)
	err := send(fnDeferUpdate, hostDeferUpdate)
	g.mu.Unlock()
	if err != nil {
		Log(slog.LevelError, "moss: defer update: "+err.Error())
	}
}
