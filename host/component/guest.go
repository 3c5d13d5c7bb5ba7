package component

import (
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/moss-edge/moss/abi"
)

// guestState is what belongs to one instance and dies with it: timers,
// config watches, guest output writers and what the guest reported.
type guestState struct {
	timers   map[uint32]*timer
	watches  map[uint32]func()
	outputs  []io.WriteCloser
	finished bool
	errored  string
}

type timer struct {
	t       *time.Timer
	pending atomic.Bool // an event for this timer is queued: coalesce
	stopped atomic.Bool // read by the timer's own goroutine
	repeat  bool        // set at creation, read-only after
}

func newGuestState() *guestState {
	return &guestState{timers: make(map[uint32]*timer), watches: make(map[uint32]func())}
}

// current reports whether ev belongs to this instance; for a timer event it
// also re-arms coalescing.
func (g *guestState) current(ev *abi.Event) bool {
	switch ev.Kind {
	case abi.EventTimer:
		t, ok := g.timers[ev.ID]
		if !ok {
			return false
		}
		t.pending.Store(false)
		if !t.repeat {
			delete(g.timers, ev.ID)
		}
		return true
	case abi.EventConfig:
		_, ok := g.watches[ev.ID]
		return ok
	}
	return true
}

func (g *guestState) stop() {
	for _, t := range g.timers {
		t.stopped.Store(true)
		t.t.Stop()
	}
	for _, cancel := range g.watches {
		cancel()
	}
	for _, w := range g.outputs {
		w.Close()
	}
	g.timers, g.watches, g.outputs = nil, nil, nil
}

func (g *guestState) output(c *Component, level slog.Level, stream string) io.Writer {
	if c.env.Output == nil {
		return nil
	}
	w := c.env.Output(c.log.With("stream", stream), level)
	g.outputs = append(g.outputs, w)
	return w
}

// burst lets a repeated warning through at most once a second and counts
// what it held back, so a flood is visible without flooding the log.
type burst struct {
	last       atomic.Int64
	suppressed atomic.Uint64
}

func (b *burst) allow(now time.Time) (suppressed uint64, ok bool) {
	last := b.last.Load()
	if now.UnixNano()-last < int64(time.Second) || !b.last.CompareAndSwap(last, now.UnixNano()) {
		b.suppressed.Add(1)
		return 0, false
	}
	return b.suppressed.Swap(0), true
}

// tokenBucket limits a rate; used only from the component's goroutine.
type tokenBucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func (t *tokenBucket) take(now time.Time) bool {
	if t.last.IsZero() {
		t.tokens = t.burst
	} else {
		t.tokens = min(t.burst, t.tokens+now.Sub(t.last).Seconds()*t.rate)
	}
	t.last = now
	if t.tokens < 1 {
		return false
	}
	t.tokens--
	return true
}
