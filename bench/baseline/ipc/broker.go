package ipc

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/host/bus"
)

// highWater is how many bytes of frames the broker queues for one
// connection before a publisher delivering to it waits for its writer: the
// broker pushes back instead of dropping, so every message published is
// delivered and the benchmark's counts are exact.
const highWater = 256 << 10

// inlineMax is the most a reader writes to a connection itself (see
// conn.flush): a few frames.
const inlineMax = 4 << 10

// Broker routes publishes from component connections to subscriptions with
// Moss's own bus (host/bus: the same MQTT topic trie, the same matching
// rules).
//
// Each connection has a reader goroutine, which decodes frames, publishes
// and queues replies, and a writer goroutine. What is queued for a
// connection goes out in as few system calls as possible: whatever
// accumulated while the last write was under way goes out in the next one.
// When a reader has handled all the input it has (and would wait for the
// socket next), it flushes the connections it queued frames for: a small
// queue (a reply, the event of one message) it writes itself, so that an
// acknowledged publish to one subscriber costs no hand-off between
// goroutines; a larger one, or the queues of many subscribers, it leaves to
// the connections' writer goroutines and goes back to reading. This is how
// NATS's server flushes its clients.
//
// Delivery to a connection never drops: a publisher waits while the
// subscriber's queue holds more than highWater bytes (bus.Subscriber asks
// Deliver not to block; here blocking is the flow control, and the bus holds
// no lock while it delivers). So a connection that subscribes to what it
// publishes and stops reading its socket could deadlock with the broker;
// the benchmark's components either publish or subscribe.
//
// A Broker is safe for concurrent use.
type Broker struct {
	bus *bus.Bus
	log *slog.Logger

	mu     sync.Mutex
	ln     net.Listener
	conns  map[*conn]struct{}
	closed bool

	// publishers maps each connection's reused *bus.Message to the
	// connection, so that Deliver knows which reader to hand the
	// subscriber's connection to for flushing.
	publishers sync.Map
	wg         sync.WaitGroup // every connection goroutine
}

// NewBroker returns a Broker that logs protocol errors to log.
func NewBroker(log *slog.Logger) *Broker {
	return &Broker{bus: bus.New(), log: log, conns: make(map[*conn]struct{})}
}

// Serve accepts connections on ln until Close, and serves each in its own
// goroutines. It returns nil after Close, or the error that stopped Accept.
func (b *Broker) Serve(ln net.Listener) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return net.ErrClosed
	}
	b.ln = ln
	b.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			b.mu.Lock()
			closed := b.closed
			b.mu.Unlock()
			if closed {
				return nil
			}
			return err
		}
		c := newConn(b, nc)
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			nc.Close()
			return nil
		}
		b.conns[c] = struct{}{}
		b.publishers.Store(&c.msg, c)
		b.wg.Add(2)
		b.mu.Unlock()
		go func() { defer b.wg.Done(); c.readLoop() }()
		go func() { defer b.wg.Done(); c.writeLoop() }()
	}
}

// Close stops accepting, closes every connection and waits for their
// goroutines.
func (b *Broker) Close() error {
	b.mu.Lock()
	b.closed = true
	var err error
	if b.ln != nil {
		err = b.ln.Close()
	}
	conns := make([]*conn, 0, len(b.conns))
	for c := range b.conns {
		conns = append(conns, c)
	}
	b.mu.Unlock()
	for _, c := range conns {
		c.close(nil)
	}
	b.wg.Wait()
	return err
}

// conn is one component's connection. It is the bus.Subscriber of all its
// subscriptions.
type conn struct {
	b  *Broker
	nc net.Conn

	mu        sync.Mutex // guards the fields up to the reader's own
	ready     sync.Cond  // signalled when the writer goroutine should write pending
	space     sync.Cond  // signalled when pending is taken, for publishers waiting on highWater
	pending   []byte     // frames queued for the connection
	writing   bool       // a goroutine is writing a batch taken from pending
	scheduled bool       // in a reader's touched list, to be flushed
	closed    bool
	filters   []subscription // this connection's subscriptions, to remove on close
	nextID    uint32
	spare     []byte // the second buffer, which pending is swapped with
	// Owned by the reader goroutine:
	topic   string // the last topic published, reused while it repeats
	msg     bus.Message
	touched []*conn // connections with frames queued by this reader, to flush
}

type subscription struct {
	filter string
	id     uint32
}

func newConn(b *Broker, nc net.Conn) *conn {
	c := &conn{b: b, nc: nc}
	c.ready.L = &c.mu
	c.space.L = &c.mu
	return c
}

// Deliver implements bus.Subscriber: it queues a message event for the
// connection, waiting first if its queue is over highWater, and adds the
// connection to the publishing reader's list of connections to flush.
func (c *conn) Deliver(id uint32, m *bus.Message) {
	c.enqueue(c.publisherOf(m), func(dst []byte) []byte { return AppendEvent(dst, id, m.Topic, m.Payload) })
}

// publisherOf is the connection whose reader is publishing m.
func (c *conn) publisherOf(m *bus.Message) *conn {
	p, _ := c.b.publishers.Load(m)
	pc, _ := p.(*conn)
	return pc
}

// enqueue appends a frame built by fn to the queue and records the
// connection in by's touched list (by is the reader that will flush it; nil
// leaves it to the writer goroutine).
func (c *conn) enqueue(by *conn, fn func([]byte) []byte) {
	c.mu.Lock()
	for len(c.pending) >= highWater && !c.closed {
		// Full: the writer takes it now rather than when the reader
		// that scheduled it flushes.
		c.ready.Signal()
		c.space.Wait()
	}
	if c.closed {
		c.mu.Unlock()
		return
	}
	before := len(c.pending)
	c.pending = fn(c.pending)
	switch {
	case by == nil, before <= inlineMax && len(c.pending) > inlineMax:
		// Too much for the reader to write itself (see flush): the
		// writer starts now, while the reader goes on.
		c.ready.Signal()
	case c.scheduled:
	default:
		c.scheduled = true
		by.touched = append(by.touched, c)
	}
	c.mu.Unlock()
}

// reply queues a reply frame built by fn; the reader flushes it.
func (c *conn) reply(fn func([]byte) []byte) { c.enqueue(c, fn) }

// writeLoop writes what is queued, a whole batch per system call.
func (c *conn) writeLoop() {
	for {
		c.mu.Lock()
		for (len(c.pending) == 0 || c.writing) && !c.closed {
			c.ready.Wait()
		}
		if c.closed {
			c.mu.Unlock()
			return
		}
		buf := c.take()
		c.mu.Unlock()
		err := c.write(buf)
		if err != nil {
			c.close(err)
			return
		}
	}
}

// take swaps pending for the spare buffer and marks a write under way.
// c.mu is held.
func (c *conn) take() []byte {
	buf := c.pending
	c.pending, c.spare = c.spare[:0], nil
	c.writing = true
	c.space.Broadcast()
	return buf
}

// write writes buf (taken from pending), then keeps it as the spare buffer.
func (c *conn) write(buf []byte) error {
	_, err := c.nc.Write(buf)
	c.mu.Lock()
	c.writing = false
	if c.spare == nil {
		c.spare = buf[:0]
	}
	if len(c.pending) > 0 {
		c.ready.Signal()
	}
	c.mu.Unlock()
	return err
}

// flush is called by a reader that has queued frames for c, once it has no
// more input buffered. With inline, a small queue (the reply to one
// acknowledged publish, the event of one message) is written from the
// reader's goroutine, without waking the writer goroutine; a large one, one
// that finds a write under way, or any without inline is left to the writer
// goroutine, so that the reader goes back to reading while it is written.
func (c *conn) flush(inline bool) {
	c.mu.Lock()
	c.scheduled = false
	if c.closed || len(c.pending) == 0 {
		c.mu.Unlock()
		return
	}
	if !inline || c.writing || len(c.pending) > inlineMax {
		c.ready.Signal()
		c.mu.Unlock()
		return
	}
	buf := c.take()
	c.mu.Unlock()
	if err := c.write(buf); err != nil {
		c.close(err)
	}
}

// close closes the connection and removes its subscriptions; err (nil for a
// normal end) is logged.
func (c *conn) close(err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	subs := c.filters
	c.ready.Broadcast()
	c.space.Broadcast()
	c.mu.Unlock()
	c.nc.Close()
	for _, s := range subs {
		c.b.bus.Unsubscribe(s.filter, c, s.id)
	}
	c.b.mu.Lock()
	delete(c.b.conns, c)
	c.b.mu.Unlock()
	c.b.publishers.Delete(&c.msg)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && c.b.log != nil {
		c.b.log.Warn("connection closed", "err", err)
	}
}

// readLoop handles the connection's frames until it ends.
func (c *conn) readLoop() {
	fr := NewFrameReader(c.nc)
	for {
		op, body, err := fr.Next()
		if err != nil {
			c.close(err)
			return
		}
		if err := c.handle(op, body); err != nil {
			c.close(err)
			return
		}
		if fr.Buffered() == 0 {
			// Newest first: the reply to an acknowledged publish, queued
			// after its deliveries, goes out before them, so that the
			// publisher can go on while the broker writes the events.
			// The reader writes its own reply and at most one other
			// queue itself: with more subscribers, their writer
			// goroutines write while the reader reads on, and each
			// batches what arrives meanwhile (measured: 1 -> 10
			// acknowledged is faster so, 1 -> 1 slower).
			inline := len(c.touched) <= 2
			for _, t := range slices.Backward(c.touched) {
				t.flush(inline || t == c)
			}
			clear(c.touched)
			c.touched = c.touched[:0]
		}
	}
}

// handle serves one frame. A failed request is answered with an error
// reply; a failed OpPublishNoReply, which has no reply to carry it, and a
// frame that is no request end the connection.
func (c *conn) handle(op Op, body []byte) error {
	switch op {
	case OpPublish, OpPublishNoReply:
		err := c.publish(body)
		if op == OpPublishNoReply {
			return err
		}
		if err != nil {
			c.replyError(err)
			return nil
		}
		c.reply(func(dst []byte) []byte { return AppendReply(dst, 0) })
		return nil
	case OpSubscribe:
		id, err := c.subscribe(body)
		if err != nil {
			c.replyError(err)
			return nil
		}
		c.reply(func(dst []byte) []byte { return AppendReply(dst, id) })
		return nil
	}
	return errors.New("ipc: unexpected " + op.String() + " frame from a component")
}

func (c *conn) replyError(err error) {
	var e *abi.Error
	if !errors.As(err, &e) {
		e = &abi.Error{Code: abi.ErrInternal, Message: err.Error()}
	}
	c.reply(func(dst []byte) []byte { return AppendError(dst, e) })
}

// publish decodes, checks and publishes one message, as the host's publish
// function does (strict decode, topic validation, size limit), minus the
// access policy and rate limit: the broker trusts its components. The
// payload is not copied: subscribers copy it into their queues before
// Publish returns.
func (c *conn) publish(body []byte) error {
	topic, payload, err := DecodePublish(body)
	if err != nil {
		return err
	}
	if string(topic) != c.topic { // no allocation while the topic repeats
		t := string(topic)
		if err := bus.ValidateTopic(t); err != nil {
			return abi.Errorf(abi.ErrInvalid, "publish: %v", err)
		}
		c.topic = t
	}
	if len(payload) > MaxPayload {
		return abi.Errorf(abi.ErrTooLarge, "publish: payload of %d bytes exceeds %d", len(payload), MaxPayload)
	}
	// The message is reused: Deliver copies it and keeps no reference.
	c.msg.Topic, c.msg.Payload = c.topic, payload
	c.b.bus.Publish(&c.msg)
	c.msg.Payload = nil
	return nil
}

func (c *conn) subscribe(body []byte) (uint32, error) {
	f, err := DecodeSubscribe(body)
	if err != nil {
		return 0, err
	}
	filter := string(f)
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.mu.Unlock()
	if err := c.b.bus.Subscribe(filter, c, id); err != nil {
		return 0, abi.Errorf(abi.ErrInvalid, "subscribe: %v", err)
	}
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.filters = append(c.filters, subscription{filter, id})
	}
	c.mu.Unlock()
	if closed {
		c.b.bus.Unsubscribe(filter, c, id)
	}
	return id, nil
}
