package bus

import (
	"fmt"
	"testing"
)

type countSubscriber struct{ n int }

func (c *countSubscriber) Deliver(uint32, *Message) { c.n++ }

type nopSubscriber struct{}

func (nopSubscriber) Deliver(uint32, *Message) {}

// benchBus holds n subscriptions: n-1 distinct filters that share prefixes
// with the topic but do not match it, and one that does.
func benchBus(b *testing.B, n int, s Subscriber) *Bus {
	bus := New()
	for i := range n - 1 {
		var f string
		switch i % 4 {
		case 0:
			f = fmt.Sprintf("fleet/device-%d/cmd", i)
		case 1:
			f = fmt.Sprintf("fleet/+/status/%d", i)
		case 2:
			f = fmt.Sprintf("site/%d/#", i)
		case 3:
			f = fmt.Sprintf("fleet/device-42/telemetry/%d", i)
		}
		if err := bus.Subscribe(f, s, uint32(i)); err != nil {
			b.Fatal(err)
		}
	}
	if err := bus.Subscribe("fleet/+/telemetry/#", s, uint32(n)); err != nil {
		b.Fatal(err)
	}
	return bus
}

var benchMessage = &Message{Topic: "fleet/device-42/telemetry/temp", Payload: make([]byte, 256)}

func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{1, 10, 1000, 10000} {
		b.Run(fmt.Sprint("subs=", n), func(b *testing.B) {
			s := &countSubscriber{}
			bus := benchBus(b, n, s)
			b.ReportAllocs()
			for b.Loop() {
				if bus.Publish(benchMessage) != 1 {
					b.Fatal("Publish did not match exactly one subscription")
				}
			}
		})
	}
}

// BenchmarkPublishParallel shows what publishers pay for sharing the read lock.
func BenchmarkPublishParallel(b *testing.B) {
	bus := benchBus(b, 1000, nopSubscriber{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bus.Publish(benchMessage)
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	for _, c := range []struct{ name, filter, topic string }{
		{"exact", "fleet/device-42/telemetry/temp", "fleet/device-42/telemetry/temp"},
		{"plus", "fleet/+/telemetry/+", "fleet/device-42/telemetry/temp"},
		{"hash", "fleet/#", "fleet/device-42/telemetry/temp"},
		{"miss", "fleet/+/status", "fleet/device-42/telemetry/temp"},
		{"dollar", "#", "$aws/things/x/shadow/update"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Match(c.filter, c.topic)
			}
		})
	}
}

// BenchmarkSubscribeUnsubscribe measures what copy-on-write costs writers:
// the filter lands under a level with n/4 siblings, whose map is copied.
func BenchmarkSubscribeUnsubscribe(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprint("subs=", n), func(b *testing.B) {
			s := &countSubscriber{}
			bus := benchBus(b, n, s)
			b.ReportAllocs()
			for b.Loop() {
				if err := bus.Subscribe("fleet/device-new/cmd", s, 0); err != nil {
					b.Fatal(err)
				}
				if !bus.Unsubscribe("fleet/device-new/cmd", s, 0) {
					b.Fatal("Unsubscribe = false")
				}
			}
		})
	}
}
