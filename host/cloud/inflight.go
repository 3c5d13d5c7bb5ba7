package cloud

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho/session"
	"github.com/eclipse/paho.golang/paho/session/state"
)

// The spool drains with up to maxInFlight QoS 1 messages awaiting their
// PUBACK, not one per round trip: at 100 ms RTT, one at a time is 10
// messages a second and a full spool takes a quarter of an hour.
//
// paho's Publish blocks until the PUBACK, so each spooled message is
// published from a goroutine of its own. Order on the wire is kept by
// starting the next one only once the previous PUBLISH has been written:
// the session below learns each message's packet identifier when paho
// allocates it, and the connection (wireConn) reports the identifier of
// each QoS 1 PUBLISH it writes. A message leaves the spool only on its
// PUBACK. When the connection drops, the messages in flight are given
// back to the spool, and the next connection sends them again from the
// oldest, in order, before anything newer (the broker may see a message
// twice: QoS 1 is at least once).

// flight is one spooled message being published.
type flight struct {
	e       *entry
	id      uint16        // its packet identifier, once allocated
	written chan struct{} // closed once its PUBLISH is on the wire
	once    sync.Once
	err     error // the outcome: nil once acknowledged
}

func (f *flight) markWritten() { f.once.Do(func() { close(f.written) }) }

// flightKey is the context key under which a flight's Publish carries it
// to the session.
type flightKey struct{}

// flights maps packet identifiers to the flights that hold them.
type flights struct {
	mu   sync.Mutex
	byID map[uint16]*flight
	peak atomic.Int64 // most spooled messages in flight at once, for tests
}

// written is wireConn's report that the PUBLISH with id is on the wire.
func (fs *flights) written(id uint16) {
	fs.mu.Lock()
	f := fs.byID[id]
	fs.mu.Unlock()
	if f != nil {
		f.markWritten()
	}
}

func (fs *flights) done(f *flight) {
	fs.mu.Lock()
	// The identifier is free from the PUBACK on, and another message may
	// already hold it.
	if fs.byID[f.id] == f {
		delete(fs.byID, f.id)
	}
	fs.mu.Unlock()
}

// trackingSession is paho's in-memory session state, also telling a
// spooled message's flight the packet identifier it was given.
type trackingSession struct {
	*state.State
	fs *flights
}

func (s *trackingSession) AddToSession(ctx context.Context, p session.Packet, resp chan<- packets.ControlPacket) error {
	if err := s.State.AddToSession(ctx, p, resp); err != nil {
		return err
	}
	f, _ := ctx.Value(flightKey{}).(*flight)
	pub, ok := p.(*packets.Publish)
	if f != nil && ok {
		s.fs.mu.Lock()
		f.id = pub.PacketID
		s.fs.byID[pub.PacketID] = f
		s.fs.mu.Unlock()
	}
	return nil
}

// sender drains the spool in order while the link is up.
func (l *Link) sender() {
	defer l.wg.Done()
	defer func() {
		if err := l.sp.flush(); err != nil {
			l.log.Error("cloud spool", "err", err)
		}
	}()
	for l.ctx.Err() == nil {
		l.mu.Lock()
		ch, up, gen, connCtx := l.changed, l.up, l.gen, l.connCtx
		l.mu.Unlock()
		if !up || l.sp.empty() {
			if !l.wait(ch) {
				return
			}
			continue
		}
		if !l.drain(connCtx) {
			// Something did not reach the broker: wait for the link to
			// change (it is probably going) or, if it stays up, a moment.
			l.mu.Lock()
			ch, same := l.changed, l.gen == gen && l.up
			l.mu.Unlock()
			if same {
				t := time.NewTimer(l.opt.ReconnectMin)
				select {
				case <-t.C:
				case <-ch:
					t.Stop()
				case <-l.ctx.Done():
					t.Stop()
				}
			}
		}
	}
}

// drain sends what the spool holds on the connection of connCtx, keeping
// up to maxInFlight messages unacknowledged, until the spool is empty. It
// returns false if a message did not reach the broker (the connection
// dropped or the PUBACK was too late); every message in flight has then
// been given back to the spool.
func (l *Link) drain(connCtx context.Context) bool {
	results := make(chan *flight, maxInFlight)
	pending := 0
	ok := true
	finish := func(f *flight) {
		pending--
		<-l.inflight
		var refused *refusedError
		switch {
		case f.err == nil:
		case errors.As(f.err, &refused):
			l.rejected.Add(1)
			l.log.Error("cloud broker refused a spooled message; dropping it", "topic", f.e.topic, "err", f.err)
		default:
			if ok && l.ctx.Err() == nil {
				l.log.Debug("cloud send failed; will resend in order", "topic", f.e.topic, "err", f.err)
			}
			ok = false
			l.sp.release(f.e)
			return
		}
		if l.sp.sent(f.e) {
			if err := l.sp.flush(); err != nil {
				l.log.Error("cloud spool", "err", err)
			}
		}
		if l.sp.empty() {
			l.mu.Lock()
			l.notify() // drained: Status watchers may be waiting for it
			l.mu.Unlock()
		}
	}
	defer func() {
		for pending > 0 {
			finish(<-results)
		}
	}()
	for ok && connCtx.Err() == nil {
		l.mu.Lock()
		ch := l.changed
		l.mu.Unlock()
		e := l.sp.take()
		if e == nil {
			if pending == 0 && l.sp.empty() {
				return true
			}
			// Wait for an acknowledgement or a new message.
			select {
			case f := <-results:
				finish(f)
			case <-ch:
			case <-connCtx.Done():
			}
			continue
		}
		if !l.paceToken() {
			l.sp.release(e)
			return false
		}
		// A slot: waiting for one is waiting for acknowledgements.
		for got := false; !got; {
			select {
			case l.inflight <- struct{}{}:
				got = true
			case f := <-results:
				finish(f)
			case <-connCtx.Done():
				l.sp.release(e)
				return false
			}
		}
		pending++
		if int64(pending) > l.flights.peak.Load() {
			l.flights.peak.Store(int64(pending))
		}
		f := l.publishSpooled(connCtx, e, results)
		if e.qos == 0 {
			// Returns once written; nothing to wait for on the wire.
			finish(<-results)
			continue
		}
		// The next message goes only once this one is on the wire (or
		// has failed, which ends the round).
		for written := false; !written; {
			select {
			case <-f.written:
				written = true
			case f2 := <-results:
				finish(f2)
				written = f2 == f
			}
		}
	}
	return ok && connCtx.Err() == nil
}

// publishSpooled publishes e from a goroutine of its own, which sends the
// flight to results when paho's Publish returns.
func (l *Link) publishSpooled(connCtx context.Context, e *entry, results chan<- *flight) *flight {
	f := &flight{e: e, written: make(chan struct{})}
	ctx := context.WithValue(connCtx, flightKey{}, f)
	go func() {
		f.err = l.send(ctx, e.topic, e.payload, e.qos, l.opt.ConnectTimeout+l.opt.KeepAlive)
		l.flights.done(f)
		results <- f
	}()
	return f
}
