package main

import (
	"fmt"
	"testing"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/mailbox"
)

// mailboxSubscriber queues messages as a component does (Component.Deliver):
// one event pushed into a bounded mailbox.
type mailboxSubscriber struct{ mb *mailbox.Mailbox }

func (s *mailboxSubscriber) Deliver(id uint32, m *bus.Message) {
	s.mb.Push(abi.Event{Kind: abi.EventMessage, ID: id, Topic: m.Topic, Payload: m.Payload})
}

// drainEvery is how many publishes the benchmark makes before it empties
// the mailboxes (with the timer stopped), so they never fill.
const drainEvery = 4096

// runBusPublish measures bus.Publish of a 256-byte message on bench/data with
// n subscribers to bench/data, each a mailbox as a component has; runs times.
func runBusPublish(n, runs int, progress func(string)) ([]float64, int64, error) {
	b := bus.New()
	subs := make([]*mailboxSubscriber, n)
	for i := range subs {
		subs[i] = &mailboxSubscriber{mb: mailbox.New(2 * drainEvery)}
		if err := b.Subscribe("bench/data", subs[i], uint32(i+1)); err != nil {
			return nil, 0, err
		}
	}
	msg := &bus.Message{Topic: "bench/data", Payload: make([]byte, 256)}
	var events []abi.Event
	drain := func() {
		for _, s := range subs {
			for {
				events = s.mb.Drain(events[:0], 0, 0)
				if len(events) == 0 {
					break
				}
			}
		}
	}
	var out []float64
	var allocs int64
	for run := range runs {
		bad := false
		r := testing.Benchmark(func(tb *testing.B) {
			tb.ReportAllocs()
			for i := range tb.N {
				if i%drainEvery == drainEvery-1 {
					tb.StopTimer()
					drain()
					tb.StartTimer()
				}
				if b.Publish(msg) != n {
					bad = true
				}
			}
			tb.StopTimer()
			drain()
		})
		if bad {
			return nil, 0, fmt.Errorf("bus.Publish did not reach all %d subscribers", n)
		}
		for _, s := range subs {
			if d := s.mb.Dropped(); d > 0 {
				return nil, 0, fmt.Errorf("benchmark mailbox dropped %d messages", d)
			}
		}
		ns := float64(r.T.Nanoseconds()) / float64(r.N)
		out = append(out, ns)
		allocs = r.AllocsPerOp()
		progress(fmt.Sprintf("bus.Publish %d subscribers run %d/%d: %s", n, run+1, runs, fmtNs(ns)))
	}
	return out, allocs, nil
}
