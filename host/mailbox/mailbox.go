// Package mailbox is a component's bounded event queue (ABI.md,
// "Mailboxes"): the bus, timers and configuration changes push events in,
// and the one goroutine that owns the component's instance drains them in
// batches, so that one guest call carries every event waiting.
//
// Push drops the newest event when the mailbox is full, so the events already
// queued keep their order and are all delivered; the caller counts and logs
// the loss. PushForce is for lifecycle and configuration events, which must
// not be lost to a flood of messages, and may exceed the capacity.
//
// The consumer waits on Ready and drains:
//
//	for {
//		select {
//		case <-ctx.Done():
//			return
//		case <-mb.Ready():
//		}
//		batch = mb.Drain(batch[:0], 64, 64<<10)
//		deliver(batch)
//	}
//
// Drain leaves Ready signalled while events remain, so a consumer that takes
// one batch per signal never strands events behind its limits.
package mailbox

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/moss-edge/moss/abi"
)

// Mailbox is a FIFO of events with a capacity. It is safe for concurrent
// producers; Drain and Ready are for one consumer.
type Mailbox struct {
	mu sync.Mutex
	// buf is a ring of len(buf) slots holding n events from head. It grows
	// on demand rather than being allocated at full capacity up front,
	// because most mailboxes of a default capacity of 1024 (128 KiB of
	// events) never hold more than a few events.
	buf      []abi.Event
	head, n  int
	capacity int
	// signalled is set once ready has been sent a value that no Drain has
	// followed yet; pushes until then need not signal again.
	signalled bool
	ready     chan struct{}
	dropped   atomic.Uint64
}

// minRing is the ring's first size: enough for a typical burst without
// regrowing.
const minRing = 16

// New returns an empty mailbox that holds up to capacity events pushed with
// Push. It panics if capacity < 1, which only a bug (not a manifest, whose
// limits are validated) can ask for.
func New(capacity int) *Mailbox {
	if capacity < 1 {
		panic(fmt.Sprintf("mailbox: capacity %d, want at least 1", capacity))
	}
	return &Mailbox{capacity: capacity, ready: make(chan struct{}, 1)}
}

// Push queues ev unless the mailbox holds Cap() events or more, in which case
// it drops ev, counts it in Dropped and returns false.
func (m *Mailbox) Push(ev abi.Event) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n >= m.capacity {
		m.dropped.Add(1)
		return false
	}
	m.put(ev)
	return true
}

// PushForce queues ev even if the mailbox is full.
func (m *Mailbox) PushForce(ev abi.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.put(ev)
}

func (m *Mailbox) put(ev abi.Event) {
	if m.n == len(m.buf) {
		size := max(2*len(m.buf), minRing)
		if m.n < m.capacity {
			size = min(size, m.capacity) // Push never needs more than capacity slots
		}
		m.grow(size)
	}
	i := m.head + m.n
	if i >= len(m.buf) {
		i -= len(m.buf)
	}
	m.buf[i] = ev
	m.n++
	m.signal()
}

// grow moves the ring into a slice of size slots, oldest event first.
func (m *Mailbox) grow(size int) {
	buf := make([]abi.Event, size)
	k := copy(buf, m.buf[m.head:])
	copy(buf[k:], m.buf[:m.head])
	m.buf, m.head = buf, 0
}

// signal makes sure a value is waiting on ready or that the consumer has
// taken one it has not yet followed with a Drain. Called with mu held; the
// send never blocks because the channel has room for one value.
func (m *Mailbox) signal() {
	if m.signalled {
		return
	}
	m.signalled = true
	select {
	case m.ready <- struct{}{}:
	default:
	}
}

// Ready returns a channel that has a value whenever events are queued that
// the consumer has not been told about. A receive may occasionally find the
// mailbox empty; Drain then returns nothing. The channel is never closed.
func (m *Mailbox) Ready() <-chan struct{} { return m.ready }

// Drain moves the oldest queued events to dst and returns it: at most
// maxEvents events whose len(Topic)+len(Payload) add up to at most maxBytes,
// but always at least one event if any is queued, however big. A limit <= 0
// means no limit. It is for the consumer only.
func (m *Mailbox) Drain(dst []abi.Event, maxEvents, maxBytes int) []abi.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	taken, size := 0, 0
	for m.n > 0 && (maxEvents <= 0 || taken < maxEvents) {
		ev := &m.buf[m.head]
		evSize := len(ev.Topic) + len(ev.Payload)
		if taken > 0 && maxBytes > 0 && size+evSize > maxBytes {
			break
		}
		dst = append(dst, *ev)
		*ev = abi.Event{} // let the payload be collected once the consumer is done
		m.head++
		if m.head == len(m.buf) {
			m.head = 0
		}
		m.n--
		taken++
		size += evSize
	}
	m.signalled = false
	if m.n > 0 {
		m.signal()
		return dst
	}
	m.head = 0
	// The consumer is the only receiver and has just seen everything, so a
	// value left on ready would only wake it for nothing.
	select {
	case <-m.ready:
	default:
	}
	return dst
}

// Len returns the number of queued events.
func (m *Mailbox) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}

// Cap returns the capacity given to New or SetCap. Len may exceed it after
// PushForce or a SetCap below Len.
func (m *Mailbox) Cap() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.capacity
}

// SetCap changes the capacity (a new version's limits.mailbox). Events
// already queued stay, even past a lower capacity: Push refuses new ones
// until the consumer has drained below it. It panics if capacity < 1, as
// New does.
func (m *Mailbox) SetCap(capacity int) {
	if capacity < 1 {
		panic(fmt.Sprintf("mailbox: capacity %d, want at least 1", capacity))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.capacity = capacity
}

// Remove drops every queued event for which drop returns true, keeping the
// others in order, and returns how many it dropped (not counted in
// Dropped: the caller decided, the mailbox was not full). It is for the
// consumer only.
func (m *Mailbox) Remove(drop func(*abi.Event) bool) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	kept := 0
	for k := range m.n {
		ev := &m.buf[(m.head+k)%len(m.buf)]
		if drop(ev) {
			continue
		}
		m.buf[(m.head+kept)%len(m.buf)] = *ev
		kept++
	}
	for k := kept; k < m.n; k++ {
		m.buf[(m.head+k)%len(m.buf)] = abi.Event{}
	}
	removed := m.n - kept
	m.n = kept
	return removed
}

// Dropped returns how many events Push has dropped because the mailbox was
// full.
func (m *Mailbox) Dropped() uint64 { return m.dropped.Load() }
