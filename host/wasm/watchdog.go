package wasm

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// watchdog enforces call deadlines for all instances of an engine with one
// goroutine. A per-call context.WithTimeout costs a timer and a watcher
// goroutine on every call (about 1 us, see docs/RATIONALE.md); here a call
// costs two atomic stores and the goroutine sleeps while no call is running.
type watchdog struct {
	log  *slog.Logger
	tick time.Duration

	mu    sync.Mutex
	insts map[*Instance]struct{}

	idle     atomic.Bool
	wake     chan struct{}
	stopOnce sync.Once
	quit     chan struct{}
	done     chan struct{}
}

func startWatchdog(log *slog.Logger) *watchdog {
	d := &watchdog{
		log:   log,
		tick:  5 * time.Millisecond,
		insts: make(map[*Instance]struct{}),
		wake:  make(chan struct{}, 1),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go d.run()
	return d
}

func (d *watchdog) stop() {
	d.stopOnce.Do(func() { close(d.quit) })
	<-d.done
}

func (d *watchdog) add(i *Instance) {
	d.mu.Lock()
	d.insts[i] = struct{}{}
	d.mu.Unlock()
}

func (d *watchdog) remove(i *Instance) {
	d.mu.Lock()
	delete(d.insts, i)
	d.mu.Unlock()
}

// begin marks the start of a call into i that may run for deadline.
func (d *watchdog) begin(i *Instance, deadline time.Duration) {
	i.callDeadline.Store(int64(deadline))
	i.callStart.Store(time.Now().UnixNano())
	if d.idle.Load() && d.idle.CompareAndSwap(true, false) {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

func (d *watchdog) end(i *Instance) { i.callStart.Store(0) }

func (d *watchdog) run() {
	defer close(d.done)
	t := time.NewTicker(d.tick)
	defer t.Stop()
	for {
		select {
		case <-d.quit:
			return
		case <-t.C:
		}
		// Go idle first, then scan: a call that begins after the scan sees
		// idle and wakes us, and one that began before is seen by the scan.
		d.idle.Store(true)
		if d.scan() {
			d.idle.Store(false)
			continue
		}
		select {
		case <-d.quit:
			return
		case <-d.wake:
			t.Reset(d.tick)
		}
	}
}

// scan closes every instance whose current call is past its deadline and
// reports whether any call is still running.
func (d *watchdog) scan() (busy bool) {
	now := time.Now().UnixNano()
	var late []*Instance
	d.mu.Lock()
	for i := range d.insts {
		start := i.callStart.Load()
		if start == 0 {
			continue
		}
		busy = true
		if now-start > i.callDeadline.Load() && i.killed.CompareAndSwap(false, true) {
			late = append(late, i)
		}
	}
	d.mu.Unlock()
	for _, i := range late {
		d.log.Warn("guest call past its deadline: stopping instance", "component", i.name, "deadline", time.Duration(i.callDeadline.Load()))
		// The guest traps at its next interrupt check: a function entry
		// or a loop head (interrupt.go).
		i.kill()
	}
	return busy
}
