package moss

import (
	"fmt"
	"math"
	"time"

	"github.com/moss-edge/moss/abi"
)

// Timer is a host timer started by Every or After.
//
// A component cannot keep a goroutine, time.Ticker or time.AfterFunc running
// between events: its goroutines are frozen as soon as the host's call
// returns. Host timers are how a component does periodic or delayed work: the
// host queues a timer event in the component's mailbox and the SDK runs the
// function when it is delivered.
type Timer struct{ t *timer }

type timer struct {
	id     uint32
	fn     func()
	repeat bool
}

// Every runs fn every d, through the host function timer_start, until the
// timer is stopped or the instance ends. d is rounded up to a whole
// millisecond. Timer events coalesce: if fn is still queued when the timer
// fires again, it runs once, not twice.
//
// Timers do not survive a restart of the instance; start them in an OnStart
// function. Errors: ErrFull (more than 64 timers).
func Every(d time.Duration, fn func()) (Timer, error) {
	if d <= 0 {
		return Timer{}, fmt.Errorf("moss: Every(%v): interval must be positive: %w", d, ErrInvalid)
	}
	return startTimer(d, fn, true)
}

// After runs fn once, after d, through the host function timer_start. A d of
// zero or less runs it as soon as possible after the current call.
func After(d time.Duration, fn func()) (Timer, error) {
	return startTimer(max(d, time.Millisecond), fn, false)
}

func startTimer(d time.Duration, fn func(), repeat bool) (Timer, error) {
	if fn == nil {
		return Timer{}, fmt.Errorf("moss: timer_start: %w", errNilFunc)
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > math.MaxUint32 {
		return Timer{}, fmt.Errorf("moss: timer_start: %v is longer than the host's %v: %w", d, math.MaxUint32*time.Millisecond, ErrInvalid)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	b := abi.AppendMap(g.req[:0], 2)
	b = abi.AppendUint(abi.AppendText(b, "interval_ms"), uint64(ms))
	g.req = abi.AppendBool(abi.AppendText(b, "repeat"), repeat)
	resp, err := call(fnTimerStart, hostTimerStart)
	if err != nil {
		return Timer{}, err
	}
	id, err := decodeID(fnTimerStart, resp)
	if err != nil {
		return Timer{}, err
	}
	t := &timer{id: id, fn: fn, repeat: repeat}
	g.timers[id] = t
	return Timer{t}, nil
}

// Stop stops the timer through the host function timer_stop. Once Stop
// returns, the function does not run again, even if the host had already
// queued its event. Stopping a timer that has fired (After) or was stopped
// is not an error.
func (t Timer) Stop() error {
	if t.t == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.timers[t.t.id] != t.t {
		return nil
	}
	delete(g.timers, t.t.id)
	g.req = appendIDRequest(g.req[:0], t.t.id)
	if err := send(fnTimerStop, hostTimerStop); err != nil && !isCode(err, abi.ErrNotFound) {
		return err
	}
	return nil
}

func isCode(err error, c abi.Code) bool {
	e, ok := err.(*callError)
	return ok && e.err.Code == c
}
