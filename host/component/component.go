// Package component runs one component: it owns the component's mailbox,
// its current Wasm instance and the one goroutine that enters that instance,
// and moves the component through its lifecycle:
//
//	NEW -> INSTALLED -> STARTING -> RUNNING -> STOPPING -> FINISHED
//	                        |          |
//	                        +-> ERRORED -> (backoff) -> STARTING ...
//	                                   \-> BROKEN after BrokenAfter errors within ErrorWindow
//
// A trap, a call past its deadline, a non-zero return from the guest or a
// guest reporting ERRORED discards the instance; the mailbox and the
// subscriptions survive, so messages that arrive while the component
// restarts are delivered to the next instance. The host functions a guest
// calls are served here, on the same goroutine, so per-instance state needs
// no locking.
package component

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/host/authz"
	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/conftree"
	"github.com/moss-edge/moss/host/limits"
	"github.com/moss-edge/moss/host/mailbox"
	"github.com/moss-edge/moss/host/wasm"
)

// State is a lifecycle state, named as Greengrass names them.
type State string

// Lifecycle states.
const (
	StateNew       State = "NEW"
	StateInstalled State = "INSTALLED"
	StateStarting  State = "STARTING"
	StateRunning   State = "RUNNING"
	StateStopping  State = "STOPPING"
	StateFinished  State = "FINISHED"
	StateErrored   State = "ERRORED"
	StateBroken    State = "BROKEN"
)

// Restart policy defaults.
const (
	DefaultRestartBackoff    = 500 * time.Millisecond
	DefaultMaxRestartBackoff = 30 * time.Second
	DefaultBrokenAfter       = 3
	DefaultErrorWindow       = time.Minute
	DefaultStopTimeout       = 5 * time.Second
)

// Per-instance quotas the ABI documents.
const (
	maxTimers     = 64
	maxWatches    = 64
	maxLogMsg     = 64 << 10
	logsPerSecond = 1000
	batchEvents   = 64
	batchBytes    = 64 << 10
)

// Spec is everything needed to run a component.
type Spec struct {
	Name    string
	Version string
	Module  *wasm.Module
	Limits  limits.Limits // resolved: no zero fields
	Config  map[string]any
	Policy  *authz.Policy
	Caps    wasm.Capabilities // WASI grants
}

// Restart says how a component comes back after errors.
type Restart struct {
	Backoff     time.Duration // first delay, doubled after each error
	MaxBackoff  time.Duration
	BrokenAfter int // errors within Window that make it BROKEN
	Window      time.Duration
	StopTimeout time.Duration // how long a stop may take before the instance is closed
}

func (r Restart) withDefaults() Restart {
	if r.Backoff <= 0 {
		r.Backoff = DefaultRestartBackoff
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = DefaultMaxRestartBackoff
	}
	if r.BrokenAfter <= 0 {
		r.BrokenAfter = DefaultBrokenAfter
	}
	if r.Window <= 0 {
		r.Window = DefaultErrorWindow
	}
	if r.StopTimeout <= 0 {
		r.StopTimeout = DefaultStopTimeout
	}
	return r
}

// Env is what a component needs from its host.
type Env struct {
	Engine *wasm.Engine
	Bus    *bus.Bus
	Codec  *abi.Codec
	Logger *slog.Logger // the component's logger ("component" attribute set by New)
	// Secrets serves secret_get; nil makes it fail with E_UNAVAILABLE.
	Secrets Secrets
	// Cloud serves the cloud_* host functions; nil makes them fail with
	// E_UNAVAILABLE.
	Cloud Cloud
	// Shadows serves the shadow_* host functions; nil makes them fail
	// with E_UNAVAILABLE.
	Shadows Shadows
	Restart Restart
	// Output makes the writer a guest's stdout or stderr goes to (each line
	// logged at level); nil discards guest output.
	Output func(log *slog.Logger, level slog.Level) io.WriteCloser
}

// Cloud is the host's link to AWS IoT Core as a component sees it. Errors
// it returns should be *abi.Error, whose codes reach the guest as they are;
// any other error becomes E_INTERNAL.
type Cloud interface {
	// Publish returns once the message is safe (acknowledged or spooled).
	Publish(ctx context.Context, topic string, payload []byte, qos byte) error
	// Subscribe delivers matching cloud messages to s with id.
	Subscribe(filter string, s bus.Subscriber, id uint32) error
	Unsubscribe(filter string, s bus.Subscriber, id uint32)
}

// Secrets is the secret store as a component sees it.
type Secrets interface {
	// Get returns the value of a secret, or an error matching
	// ErrNoSecret when it is not set.
	Get(name string) ([]byte, error)
}

// ErrNoSecret is what a Secrets returns (wrapped) for a missing secret.
var ErrNoSecret = errors.New("no such secret")

// Info is a snapshot of a component for status displays.
type Info struct {
	Name, Version string
	State         State
	Since         time.Time
	Restarts      int
	Errors        int
	Delivered     uint64
	Dropped       uint64
	Queued        int
	LastError     string
	// SwapGap is how long the last hot swap had no instance serving: from
	// the old instance's upgrade stop event to the new one running.
	SwapGap time.Duration
	// Memory is the size of the instance's linear memory after its last
	// call (0 with no instance); MemoryLimit is what it may grow to.
	Memory, MemoryLimit uint64
	// UpdateSeen is the last update notice (NotifyUpdate's number) the
	// component has handled; DeferredUntil is when it last asked a
	// deployment to wait until (defer_update).
	UpdateSeen    uint64
	DeferredUntil time.Time
}

// Component is one running component. Its methods are safe for concurrent
// use; the instance itself is used only by the component's own goroutine.
type Component struct {
	name string // spec.Name, which never changes; spec does, on Upgrade
	spec Spec
	env  Env
	log  *slog.Logger
	mbox *mailbox.Mailbox
	conf *conftree.Tree

	mu       sync.Mutex
	state    State
	since    time.Time
	restarts int
	errCount int
	errTimes []time.Time
	lastErr  string
	// Subscriptions on the local bus and in the cloud; ids stable for the
	// component's life, from one counter.
	subs       subTable
	cloudSubs  subTable
	nextSub    uint32
	changed    chan struct{} // closed and replaced on every state change
	swapGap    time.Duration
	updateSent uint64 // update notices queued
	updateSeen uint64 // and handled
	deferUntil time.Time

	delivered     atomic.Uint64
	memory        atomic.Uint64 // the instance's linear memory after the last call, for metrics
	updatesQueued atomic.Int64  // update events in the mailbox, so deliver looks for them only then
	dropWarn      burst
	denyWarn      burst
	limitWarn     burst

	stopOnce sync.Once
	stopCh   chan struct{}
	done     chan struct{}
	swapCh   chan *prepared // Upgrade to the run goroutine

	// Owned by the run goroutine, across instances.
	handoff   []byte         // state_save's data, for the next instance's start event
	next      *prepared      // the instance an upgrade made, for runInstance
	swapping  *prepared      // an upgrade drain took between two batches
	upgrading bool           // the instance is handling its upgrade stop event
	swapFrom  string         // the version being replaced, while a swap is under way
	swapStart time.Time      // when the old instance stopped serving
	retired   *wasm.Instance // the replaced instance, closed once the new one serves
	closing   sync.WaitGroup // closeRetired's goroutines
	loadErr   error          // NewBroken's cause: there is no module to run

	// Owned by the run goroutine.
	inst     *wasm.Instance
	guest    *guestState
	events   []abi.Event
	batch    []byte
	respBuf  []byte
	nextID   uint32 // timers and watches; never reused so stale events are recognisable
	logLimit tokenBucket
	pubLimit tokenBucket
}

// New prepares a component in state INSTALLED; Start runs it.
func New(spec Spec, env Env) *Component {
	env.Restart = env.Restart.withDefaults()
	if env.Logger == nil {
		env.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Component{
		name:      spec.Name,
		spec:      spec,
		env:       env,
		log:       env.Logger.With("component", spec.Name),
		mbox:      mailbox.New(spec.Limits.Mailbox),
		conf:      conftree.New(spec.Config),
		state:     StateInstalled,
		since:     time.Now(),
		subs:      newSubTable(),
		cloudSubs: newSubTable(),
		changed:   make(chan struct{}),
		stopCh:    make(chan struct{}),
		done:      make(chan struct{}),
		swapCh:    make(chan *prepared),
		logLimit:  tokenBucket{rate: logsPerSecond, burst: logsPerSecond},
		pubLimit:  tokenBucket{rate: float64(spec.Limits.PublishRate), burst: float64(spec.Limits.PublishRate)},
	}
	return c
}

// NewBroken makes a component whose module could not be loaded (read,
// compiled or vetted): spec has everything but a Module. Once started it is
// BROKEN with cause as its LastError and in its log, holds no subscription,
// and waits for a stop or for Upgrade to a version that loads, so a device
// with one damaged component can still be repaired by a deployment.
func NewBroken(spec Spec, env Env, cause error) *Component {
	spec.Module = nil
	c := New(spec, env)
	c.loadErr = cause
	return c
}

// Name returns the component's name.
func (c *Component) Name() string { return c.name }

// Logger returns the component's logger.
func (c *Component) Logger() *slog.Logger { return c.log }

// Config returns the component's configuration tree (deployments update it).
func (c *Component) Config() *conftree.Tree { return c.conf }

// Start starts the component's goroutine. It returns at once; use
// WaitState to wait for RUNNING.
func (c *Component) Start() { go c.run() }

// Stop asks the component to stop and waits until it has, or until ctx is
// done. Messages already queued are delivered first, within StopTimeout.
func (c *Component) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() { close(c.stopCh) })
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop %s: %w", c.name, ctx.Err())
	}
}

// Upgrade moves the component to spec, another version of it, without a
// restart and without losing a message (hot swap): between two batches the
// running instance gets a stop event with reason "upgrade" (during which it
// may hand state over with state_save), is closed, and an instance of
// spec's module starts with that state; the mailbox, the subscriptions and
// their ids stay as they are, so messages that arrive meanwhile wait and go
// to the new instance. spec.Config replaces the configuration. A component
// waiting to restart after an error, or BROKEN, starts again on spec at
// once. Upgrade returns when the run goroutine has taken the request; use
// WaitState (RUNNING, or ERRORED when the new version fails to start) to
// follow it, and Upgrade again to the old spec to roll back.
func (c *Component) Upgrade(ctx context.Context, spec Spec) error {
	if spec.Name != c.Name() {
		return fmt.Errorf("upgrade %s: the spec is for %q", c.Name(), spec.Name)
	}
	// The new instance is made here, while the old one keeps serving: the
	// swap itself is then a stop event and a start event.
	p, err := c.prepare(spec)
	if err != nil {
		p.discard()
		return fmt.Errorf("upgrade %s to %s: %w", spec.Name, spec.Version, err)
	}
	select {
	case c.swapCh <- p:
		return nil
	case <-c.done:
		p.discard()
		return fmt.Errorf("upgrade %s: the component has stopped", spec.Name)
	case <-ctx.Done():
		p.discard()
		return fmt.Errorf("upgrade %s: %w", spec.Name, ctx.Err())
	}
}

// setNext installs a prepared instance and its spec for runInstance; run
// goroutine only.
func (c *Component) setNext(p *prepared) {
	if c.next != nil {
		c.next.discard()
	}
	c.next = p
	c.setSpec(p.spec)
}

// setSpec installs spec for the next instance; run goroutine only.
func (c *Component) setSpec(spec Spec) {
	c.mu.Lock()
	c.swapFrom = c.spec.Version
	c.spec = spec
	c.errTimes = nil // a new version starts with a clean error record
	// STARTING with the new version in one step, so a watcher never sees
	// the new version RUNNING before its instance is.
	if c.state != StateStarting {
		c.state, c.since = StateStarting, time.Now()
		close(c.changed)
		c.changed = make(chan struct{})
	}
	c.mu.Unlock()
	c.regrant(spec)
	c.conf.Replace(spec.Config)
	c.pubLimit = tokenBucket{rate: float64(spec.Limits.PublishRate), burst: float64(spec.Limits.PublishRate)}
}

// Done is closed when the component's goroutine has ended.
func (c *Component) Done() <-chan struct{} { return c.done }

// State returns the current state.
func (c *Component) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// WaitState waits until the state is one of want, or ctx is done, and
// returns the state reached.
func (c *Component) WaitState(ctx context.Context, want ...State) (State, error) {
	info, err := c.Wait(ctx, func(i Info) bool { return slices.Contains(want, i.State) })
	if err != nil {
		return info.State, fmt.Errorf("%s is %s, waited for %v: %w", c.name, info.State, want, err)
	}
	return info.State, nil
}

// Wait waits until cond holds for the component's Info, re-checking on every
// state change (errors and restarts are counted before the state changes).
func (c *Component) Wait(ctx context.Context, cond func(Info) bool) (Info, error) {
	for {
		c.mu.Lock()
		ch := c.changed
		c.mu.Unlock()
		info := c.Info()
		if cond(info) {
			return info, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return info, ctx.Err()
		}
	}
}

// Info returns a snapshot for status displays.
func (c *Component) Info() Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Info{
		Name: c.name, Version: c.spec.Version, State: c.state, Since: c.since,
		Restarts: c.restarts, Errors: c.errCount, LastError: c.lastErr,
		Delivered: c.delivered.Load(), Dropped: c.mbox.Dropped(), Queued: c.mbox.Len(),
		SwapGap: c.swapGap, UpdateSeen: c.updateSeen, DeferredUntil: c.deferUntil,
		Memory: c.memory.Load(), MemoryLimit: uint64(c.spec.Limits.Memory),
	}
}

func (c *Component) setState(s State) {
	c.mu.Lock()
	if c.state != s {
		c.state, c.since = s, time.Now()
		close(c.changed)
		c.changed = make(chan struct{})
	}
	c.mu.Unlock()
	c.log.Debug("state", "state", s)
}

// Deliver implements bus.Subscriber: it queues a message for the component.
// It never blocks; when the mailbox is full the message is dropped for this
// component, counted, and logged at most once a second.
func (c *Component) Deliver(subID uint32, m *bus.Message) {
	if c.mbox.Push(abi.Event{Kind: abi.EventMessage, ID: subID, Topic: m.Topic, Payload: m.Payload}) {
		return
	}
	if n, ok := c.dropWarn.allow(time.Now()); ok {
		c.log.Warn("mailbox full: dropping messages", "mailbox", c.mbox.Cap(), "dropped_since_last_warning", n, "dropped_total", c.mbox.Dropped())
	}
}

var _ bus.Subscriber = (*Component)(nil)

// errStop ends the run loop when a stop was requested; errSwap ends an
// instance that a new version replaces.
var (
	errStop = errors.New("stop requested")
	errSwap = errors.New("upgrade requested")
)

// waitStopOrSwap waits, in a state that runs nothing (FINISHED, BROKEN),
// for a stop (false) or an upgrade (true, the spec installed).
func (c *Component) waitStopOrSwap() bool {
	select {
	case <-c.stopCh:
		return false
	case p := <-c.swapCh:
		c.setNext(p)
		return true
	}
}

// run is the component's goroutine: it owns the instance.
func (c *Component) run() {
	defer close(c.done)
	defer c.closing.Wait()
	defer c.closeRetired()
	defer c.unsubscribeAll()
	defer func() {
		if c.next != nil { // an upgrade that came with the stop
			c.next.discard()
		}
	}()
	if c.loadErr != nil {
		c.mu.Lock()
		c.errCount++
		c.lastErr = c.loadErr.Error()
		c.mu.Unlock()
		c.log.Error("component broken: its module did not load", "version", c.spec.Version, "error", c.loadErr)
		c.setState(StateBroken)
		if !c.waitStopOrSwap() {
			return
		}
	}
	for {
		err := c.runInstance()
		if errors.Is(err, errSwap) {
			continue // straight to the new version: no backoff, not an error
		}
		if errors.Is(err, errStop) {
			c.setState(StateFinished)
			c.log.Info("component stopped")
			return
		}
		if err == nil { // the guest reported FINISHED: it wants no more messages
			c.unsubscribeAll()
			c.setState(StateFinished)
			if c.waitStopOrSwap() {
				continue
			}
			return
		}
		delay, broken := c.recordError(err)
		if broken {
			// Leave the bus before saying BROKEN, so that whoever sees the
			// state also sees no subscription left.
			c.unsubscribeAll()
			c.setState(StateBroken)
			if c.waitStopOrSwap() {
				continue
			}
			return
		}
		c.setState(StateErrored)
		t := time.NewTimer(delay)
		select {
		case <-c.stopCh:
			t.Stop()
			c.setState(StateFinished)
			return
		case p := <-c.swapCh:
			t.Stop()
			c.setNext(p) // a fixed version need not wait out the backoff
		case <-t.C:
		}
		c.mu.Lock()
		c.restarts++
		c.mu.Unlock()
	}
}

// recordError counts an error and decides between a restart after a backoff
// and BROKEN.
func (c *Component) recordError(err error) (time.Duration, bool) {
	now := time.Now()
	r := c.env.Restart
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errCount++
	c.lastErr = err.Error()
	keep := c.errTimes[:0]
	for _, t := range c.errTimes {
		if now.Sub(t) < r.Window {
			keep = append(keep, t)
		}
	}
	c.errTimes = append(keep, now)
	n := len(c.errTimes)
	if n >= r.BrokenAfter {
		c.log.Error("component broken: not restarting", "errors", n, "window", r.Window, "error", err)
		return 0, true
	}
	delay := r.Backoff << (n - 1)
	if delay > r.MaxBackoff || delay <= 0 {
		delay = r.MaxBackoff
	}
	c.log.Error("component errored: restarting", "error", err, "in", delay, "errors_in_window", n)
	return delay, false
}

// runInstance makes an instance, starts it and delivers events until the
// instance fails (the error), the guest finishes (nil), or a stop is
// requested (errStop).
func (c *Component) runInstance() error {
	select {
	case <-c.stopCh:
		return errStop
	default:
	}
	c.setState(StateStarting)
	p := c.next
	c.next = nil
	if p == nil {
		var err error
		if p, err = c.prepare(c.spec); err != nil {
			p.guest.stop()
			return err
		}
	}
	c.guest, c.inst = p.guest, p.inst
	defer c.discardInstance()
	p.gate.open.Store(true)
	inst := p.inst
	start := abi.Event{Kind: abi.EventStart, Name: c.name, Version: c.spec.Version, ABI: abi.Version, Payload: c.handoff}
	if err := c.deliver([]abi.Event{start}); err != nil {
		// The handed-over state stays for the next start: a retry, or the
		// old version after a rollback.
		return fmt.Errorf("start: %w", err)
	}
	c.handoff = nil
	if c.guest.finished {
		return nil
	}
	// Logged before the state changes, so that whoever waits for RUNNING
	// finds the line already written (the daemon starts dependents then).
	if !c.swapStart.IsZero() {
		gap := time.Since(c.swapStart)
		c.mu.Lock()
		c.swapGap = gap
		c.mu.Unlock()
		c.log.Info("component upgraded", "from", c.swapFrom, "to", c.spec.Version, "gap", gap, "queued", c.mbox.Len())
		c.swapStart = time.Time{}
	} else {
		c.log.Info("component running", "version", c.spec.Version, "memory_kib", inst.MemorySize()>>10)
	}
	c.setState(StateRunning)
	for {
		select {
		case <-c.stopCh:
			return c.stopInstance()
		case p := <-c.swapCh:
			return c.upgradeInstance(p)
		case <-c.mbox.Ready():
		}
		if err := c.drain(); err != nil {
			return err
		}
		if p := c.swapping; p != nil {
			c.swapping = nil
			return c.upgradeInstance(p)
		}
		// After an upgrade, once what queued during the swap is
		// delivered.
		c.closeRetired()
		if c.guest.finished {
			return nil
		}
	}
}

// drain delivers what the mailbox holds, in batches, until it is empty. It
// returns between batches when a stop is requested, or an upgrade (left in
// c.swapping), so that a flood delays neither: under a load that keeps the
// mailbox full the swap happens after the batch under way, and what is
// queued goes to the new version.
func (c *Component) drain() error {
	for {
		c.events = c.mbox.Drain(c.events[:0], batchEvents, batchBytes)
		if len(c.events) == 0 {
			return nil
		}
		if err := c.deliver(c.events); err != nil {
			return err
		}
		if c.guest.finished {
			return nil
		}
		select {
		case <-c.stopCh:
			return nil // runInstance sees the stop next
		case p := <-c.swapCh:
			c.swapping = p
			return nil
		default:
		}
	}
}

// stopInstance delivers what is queued (within StopTimeout), then the stop
// event.
func (c *Component) stopInstance() error {
	c.setState(StateStopping)
	deadline := time.Now().Add(c.env.Restart.StopTimeout)
	for time.Now().Before(deadline) && !c.guest.finished {
		c.events = c.mbox.Drain(c.events[:0], batchEvents, batchBytes)
		if len(c.events) == 0 {
			break
		}
		if err := c.deliver(c.events); err != nil {
			c.log.Warn("error while draining before stop", "error", err)
			return errStop
		}
	}
	if n := c.mbox.Len(); n > 0 {
		c.log.Warn("stopping with undelivered messages", "queued", n, "stop_timeout", c.env.Restart.StopTimeout)
	}
	if err := c.deliver([]abi.Event{{Kind: abi.EventStop, Reason: "host stopping"}}); err != nil {
		c.log.Warn("stop handler failed", "error", err)
	}
	return errStop
}

// prepared is an instance made ahead of its start, with its guest state
// and the gate its host calls pass through.
type prepared struct {
	spec  Spec
	inst  *wasm.Instance
	guest *guestState
	gate  *gate
}

// prepare instantiates spec's module. It may run on any goroutine: until
// the gate opens, the guest's initialiser can only log (the component's
// host functions belong to the run goroutine).
func (c *Component) prepare(spec Spec) (*prepared, error) {
	p := &prepared{spec: spec, guest: newGuestState(), gate: &gate{c: c}}
	inst, err := c.env.Engine.Instantiate(context.Background(), spec.Module, wasm.InstanceConfig{
		Name:        c.name,
		MemoryLimit: uint64(spec.Limits.Memory),
		Deadline:    spec.Limits.CallDeadline.Duration,
		Stdout:      p.guest.output(c, slog.LevelInfo, "stdout"),
		Stderr:      p.guest.output(c, slog.LevelWarn, "stderr"),
		Handler:     p.gate,
		Caps:        spec.Caps,
	})
	p.inst = inst
	return p, err
}

// discard releases a prepared instance that will not run.
func (p *prepared) discard() {
	p.guest.stop()
	if p.inst != nil {
		p.inst.Close(context.Background())
	}
}

// gate passes host calls to the component once open; before, during a
// prepared instance's initialiser, it serves log alone.
type gate struct {
	c    *Component
	open atomic.Bool
}

func (g *gate) HostCall(ctx context.Context, fn wasm.Func, req []byte) ([]byte, error) {
	if g.open.Load() {
		return g.c.HostCall(ctx, fn, req)
	}
	name := abi.HostFunctions[fn]
	if name == abi.FuncLog {
		var r abi.LogRequest
		if err := g.c.env.Codec.Unmarshal(req, &r); err != nil {
			return nil, abi.Errorf(abi.ErrDecode, "log request: %v", err)
		}
		g.c.log.Log(nil, slog.Level(r.Level), r.Msg, "source", "guest", "phase", "init")
		return nil, nil
	}
	return nil, abi.Errorf(abi.ErrUnavailable, "%s: not available while the module initialises; call it from the start handler", name)
}

// upgradeInstance ends the instance for a new version: a stop event with
// reason "upgrade" (the guest may call state_save), and nothing drained, so
// every queued message goes to the new instance.
func (c *Component) upgradeInstance(p *prepared) error {
	c.swapStart = time.Now()
	c.log.Info("upgrading component", "from", c.spec.Version, "to", p.spec.Version, "queued", c.mbox.Len())
	c.upgrading = true
	if err := c.deliver([]abi.Event{{Kind: abi.EventStop, Reason: abi.StopUpgrade}}); err != nil {
		c.log.Warn("upgrade stop handler failed; the new version starts without handed-over state", "error", err)
		c.handoff = nil
	}
	c.upgrading = false
	c.setNext(p)
	return errSwap
}

// deliver encodes events as one batch and calls the guest. Timer and config
// events of an earlier instance are dropped here; a reported ERRORED state
// turns into an error.
func (c *Component) deliver(events []abi.Event) error {
	n := 0
	for i := range events {
		if c.guest.current(&events[i]) {
			events[n] = events[i]
			n++
		}
	}
	if n == 0 {
		return nil
	}
	events = events[:n]
	b := abi.AppendArray(c.batch[:0], len(events))
	for i := range events {
		b = abi.AppendEvent(b, &events[i])
	}
	c.batch = b
	err := c.inst.Deliver(b)
	c.memory.Store(uint64(c.inst.MemorySize()))
	var seen uint64
	if c.updatesQueued.Load() > 0 { // rare: the batch scan stays off the hot path
		for i := range events {
			if events[i].Kind == abi.EventUpdate {
				seen = max(seen, uint64(events[i].ID))
				c.updatesQueued.Add(-1)
			}
		}
	}
	clear(events) // let payloads go
	if seen > 0 {
		// Handled, or failed: either way the deployment need not wait.
		c.mu.Lock()
		c.updateSeen = max(c.updateSeen, seen)
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
	if err != nil {
		return err
	}
	c.delivered.Add(uint64(n))
	if c.guest.errored != "" {
		return fmt.Errorf("component reported ERRORED: %s", c.guest.errored)
	}
	return nil
}

func (c *Component) discardInstance() {
	c.guest.stop()
	c.closeRetired()
	c.memory.Store(0)
	if c.inst != nil {
		if c.next != nil {
			// An upgrade: closing returns the instance's memory to the
			// OS, which takes a few hundred microseconds for a Go
			// guest's; it waits until the new version has delivered
			// what queued during the swap, so that it is not part of
			// the gap.
			c.retired = c.inst
		} else {
			c.inst.Close(context.Background())
		}
		c.inst = nil
	}
}

// closeRetired closes the replaced instance on a goroutine of its own (run
// waits for it before it ends): returning a Go guest's memory to the OS
// takes a few hundred microseconds, which would otherwise stall delivery
// to the new version on the run goroutine.
func (c *Component) closeRetired() {
	if inst := c.retired; inst != nil {
		c.retired = nil
		c.closing.Add(1)
		go func() {
			defer c.closing.Done()
			inst.Close(context.Background())
		}()
	}
}

func (c *Component) unsubscribeAll() {
	for f, id := range c.takeSubs(&c.subs) {
		c.env.Bus.Unsubscribe(f, c, id)
	}
	for f, id := range c.takeSubs(&c.cloudSubs) {
		c.env.Cloud.Unsubscribe(f, c, id)
	}
}

// NotifyUpdate queues an update event (a deployment is about to update or
// reconfigure the component to version) and returns its number: Info's
// UpdateSeen reaches it once the component has handled it, and
// DeferredUntil then says whether it asked to wait.
func (c *Component) NotifyUpdate(version string) uint64 {
	c.mu.Lock()
	c.updateSent++
	n := c.updateSent
	c.mu.Unlock()
	c.updatesQueued.Add(1)
	c.mbox.PushForce(abi.Event{Kind: abi.EventUpdate, ID: uint32(n), Version: version})
	return n
}

// Spec returns the spec of the version the component runs, or is moving
// to.
func (c *Component) Spec() Spec {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.spec
}
