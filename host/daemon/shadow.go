package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/shadow"
	"github.com/moss-edge/moss/host/shadowsync"
	"github.com/moss-edge/moss/host/store"
)

// shadowFilter is what the shadow service hears on the local bus: every
// shadow topic of every thing; replies are filtered out by ParseTopic.
const shadowFilter = "$aws/things/+/shadow/#"

// shadowWorkers serve shadow requests from the bus. Requests for one
// shadow always go to the same worker, so they are answered in the order
// they were published; different shadows proceed in parallel and share
// commits (the service batches durable writes).
const shadowWorkers = 4

// shadowQueue bounds the requests waiting for a worker; past it a request
// is rejected with 429 at once, as IoT Core does when too many are in
// flight.
const shadowQueue = 256

// shadows joins the shadow service to the host: the MQTT topic protocol on
// the local bus, and the host functions (component.Shadows), whose updates
// publish the same update/delta and update/documents messages.
type shadows struct {
	svc   *shadow.Service
	bus   *bus.Bus
	thing string
	log   *slog.Logger

	queues [shadowWorkers]chan *bus.Message
	ops    shadowOps // for metrics
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newShadows(svc *shadow.Service, b *bus.Bus, thing string, log *slog.Logger) (*shadows, error) {
	s := &shadows{svc: svc, bus: b, thing: thing, log: log}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for i := range s.queues {
		s.queues[i] = make(chan *bus.Message, shadowQueue)
		s.wg.Add(1)
		go s.work(s.queues[i])
	}
	if err := b.Subscribe(shadowFilter, s, 1); err != nil {
		s.close()
		return nil, fmt.Errorf("shadow service: %w", err)
	}
	return s, nil
}

// close stops the workers; requests still queued are dropped (their
// senders see no reply, as after a broker restart).
func (s *shadows) close() {
	s.bus.Unsubscribe(shadowFilter, s, 1)
	s.cancel()
	s.wg.Wait()
}

// Deliver implements bus.Subscriber; it must not block.
func (s *shadows) Deliver(_ uint32, m *bus.Message) {
	t, ok := shadow.ParseTopic(m.Topic)
	if !ok || t.Reply != "" {
		return
	}
	h := fnv.New32a()
	h.Write([]byte(t.Thing))
	h.Write([]byte{0})
	h.Write([]byte(t.Name))
	select {
	case s.queues[h.Sum32()%shadowWorkers] <- m:
	default:
		t.Reply = "rejected"
		e := &shadow.Error{Code: 429, Message: "Too Many Requests", Timestamp: time.Now().Unix()}
		s.bus.Publish(&bus.Message{Topic: t.String(), Payload: e.Payload()})
	}
}

func (s *shadows) work(q chan *bus.Message) {
	defer s.wg.Done()
	for {
		select {
		case m := <-q:
			replies, _ := s.svc.HandleTopic(s.ctx, m.Topic, m.Payload)
			s.publish(replies)
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *shadows) publish(ms []shadow.Message) {
	for _, m := range ms {
		s.bus.Publish(&bus.Message{Topic: m.Topic, Payload: m.Payload})
	}
}

// Thing implements component.Shadows.
func (s *shadows) Thing() string { return s.thing }

// Request implements component.Shadows.
func (s *shadows) Request(op, thing, name string, payload []byte) (int, []byte, error) {
	var r shadow.Reply
	var err error
	switch op {
	case "get":
		r, err = s.svc.Get(s.ctx, thing, name, payload)
	case "update":
		r, err = s.svc.Update(s.ctx, thing, name, payload, shadow.OriginLocal)
	case "delete":
		r, err = s.svc.Delete(s.ctx, thing, name, payload, shadow.OriginLocal)
	default:
		return 0, nil, fmt.Errorf("unknown shadow operation %q", op)
	}
	s.ops.count(op, err)
	if err != nil {
		return rejected(err)
	}
	s.publish(r.Messages)
	return 200, r.Payload, nil
}

// List implements component.Shadows.
func (s *shadows) List(thing string, pageSize int, nextToken string) (int, []byte, error) {
	page, err := s.svc.List(s.ctx, thing, pageSize, nextToken)
	s.ops.count("list", err)
	if err != nil {
		return rejected(err)
	}
	if page.Results == nil {
		page.Results = []string{}
	}
	b, err := json.Marshal(page)
	if err != nil {
		return 0, nil, err
	}
	return 200, b, nil
}

// rejected turns the service's error into IoT Core's status and document.
func rejected(err error) (int, []byte, error) {
	var e *shadow.Error
	if errors.As(err, &e) {
		return e.Code, e.Payload(), nil
	}
	return 0, nil, err
}

// openShadowSync starts keeping the configured shadows in step with IoT
// Core; nil when none is configured.
func (d *Daemon) openShadowSync(svc *shadow.Service, db *store.Store) (*shadowsync.Syncer, error) {
	if len(d.cfg.Shadow.Sync) == 0 {
		return nil, nil
	}
	specs := make([]shadowsync.Shadow, len(d.cfg.Shadow.Sync))
	for i, s := range d.cfg.Shadow.Sync {
		thing := s.Thing
		if thing == "" {
			thing = d.cfg.Thing()
		}
		specs[i] = shadowsync.Shadow{Thing: thing, Name: s.Name, Direction: shadowsync.Direction(s.Direction)}
	}
	return shadowsync.New(shadowsync.Options{
		Shadows: svc, Cloud: d.cloud, Store: db, Bus: d.bus, Sync: specs,
		Logger: d.log.With("service", "shadowsync"),
	})
}
