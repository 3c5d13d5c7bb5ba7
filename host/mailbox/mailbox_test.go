package mailbox

import (
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/moss-edge/moss/abi"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func msg(id uint32) abi.Event { return abi.Event{Kind: abi.EventMessage, ID: id} }

func ids(evs []abi.Event) []uint32 {
	out := make([]uint32, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

func signalled(m *Mailbox) bool {
	select {
	case <-m.Ready():
		return true
	default:
		return false
	}
}

func TestFIFOAcrossWrap(t *testing.T) {
	m := New(5)
	var want, got []uint32
	next := uint32(0)
	push := func(k int) {
		for range k {
			if !m.Push(msg(next)) {
				t.Fatalf("Push(%d) = false with Len() = %d", next, m.Len())
			}
			want = append(want, next)
			next++
		}
	}
	drain := func(k int) {
		got = append(got, ids(m.Drain(nil, k, 0))...)
	}
	push(3)
	drain(2)
	push(4) // wraps around the end of the ring
	drain(1)
	push(1)
	drain(0)
	if !slices.Equal(got, want) {
		t.Errorf("drained %v, want %v", got, want)
	}
	if m.Len() != 0 || m.Dropped() != 0 {
		t.Errorf("Len() = %d, Dropped() = %d, want 0, 0", m.Len(), m.Dropped())
	}
}

func TestPushDropsNewestWhenFull(t *testing.T) {
	m := New(3)
	for i := range uint32(5) {
		if got, want := m.Push(msg(i)), i < 3; got != want {
			t.Errorf("Push(%d) = %v, want %v", i, got, want)
		}
	}
	if m.Len() != 3 || m.Cap() != 3 || m.Dropped() != 2 {
		t.Errorf("Len, Cap, Dropped = %d, %d, %d; want 3, 3, 2", m.Len(), m.Cap(), m.Dropped())
	}
	if got := ids(m.Drain(nil, 0, 0)); !slices.Equal(got, []uint32{0, 1, 2}) {
		t.Errorf("drained %v, want the oldest three", got)
	}
	if !m.Push(msg(9)) {
		t.Error("Push after Drain = false")
	}
	if m.Dropped() != 2 {
		t.Errorf("Dropped() = %d after a successful push, want 2", m.Dropped())
	}
}

func TestPushForceExceedsCapacity(t *testing.T) {
	m := New(2)
	m.Push(msg(0))
	m.Push(msg(1))
	if m.Push(msg(2)) {
		t.Fatal("Push into a full mailbox = true")
	}
	for i := range uint32(20) { // enough to grow the ring past its first size
		m.PushForce(msg(100 + i))
	}
	if m.Len() != 22 {
		t.Errorf("Len() = %d, want 22", m.Len())
	}
	if m.Push(msg(3)) {
		t.Error("Push beyond capacity after PushForce = true")
	}
	if m.Dropped() != 2 {
		t.Errorf("Dropped() = %d, want 2 (PushForce never drops)", m.Dropped())
	}
	got := ids(m.Drain(nil, 0, 0))
	want := []uint32{0, 1}
	for i := range uint32(20) {
		want = append(want, 100+i)
	}
	if !slices.Equal(got, want) {
		t.Errorf("drained %v, want %v", got, want)
	}
}

func TestDrainLimits(t *testing.T) {
	// Sizes count Topic and Payload: 10, 20, 30, 40 bytes.
	queued := []abi.Event{
		{ID: 1, Topic: "t", Payload: make([]byte, 9)},
		{ID: 2, Topic: "tt", Payload: make([]byte, 18)},
		{ID: 3, Payload: make([]byte, 30)},
		{ID: 4, Topic: strings.Repeat("t", 40)},
	}
	tests := []struct {
		name                string
		maxEvents, maxBytes int
		want                []uint32
	}{
		{"no limits", 0, 0, []uint32{1, 2, 3, 4}},
		{"negative limits", -1, -1, []uint32{1, 2, 3, 4}},
		{"max events", 2, 0, []uint32{1, 2}},
		{"max one event", 1, 1 << 20, []uint32{1}},
		{"bytes exactly fit", 0, 60, []uint32{1, 2, 3}},
		{"bytes one short", 0, 59, []uint32{1, 2}},
		{"first event too big still goes", 0, 1, []uint32{1}},
		{"events before bytes", 2, 100, []uint32{1, 2}},
		{"bytes before events", 4, 30, []uint32{1, 2}},
		{"limits larger than queue", 100, 1 << 20, []uint32{1, 2, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(10)
			for _, ev := range queued {
				m.Push(ev)
			}
			prefix := []abi.Event{{ID: 99}}
			got := m.Drain(prefix, tt.maxEvents, tt.maxBytes)
			if got[0].ID != 99 {
				t.Fatalf("Drain overwrote dst instead of appending")
			}
			if !slices.Equal(ids(got[1:]), tt.want) {
				t.Errorf("Drain(%d, %d) = %v, want %v", tt.maxEvents, tt.maxBytes, ids(got[1:]), tt.want)
			}
			if m.Len() != len(queued)-len(tt.want) {
				t.Errorf("Len() = %d after draining %d of %d", m.Len(), len(tt.want), len(queued))
			}
			rest := ids(m.Drain(nil, 0, 0))
			if !slices.Equal(append(slices.Clone(tt.want), rest...), []uint32{1, 2, 3, 4}) {
				t.Errorf("the rest drained as %v", rest)
			}
		})
	}
	if got := New(1).Drain(nil, 10, 10); len(got) != 0 {
		t.Errorf("Drain of an empty mailbox = %v", got)
	}
}

func TestDrainClearsSlots(t *testing.T) {
	m := New(8)
	for i := range uint32(6) {
		m.Push(abi.Event{ID: i, Topic: "t", Payload: []byte("payload")})
	}
	m.Drain(nil, 4, 0) // part of the ring
	m.Push(msg(6))
	m.Drain(nil, 0, 0) // the rest, wrapping
	for i, ev := range m.buf {
		if ev.Payload != nil || ev.Topic != "" || ev.ID != 0 {
			t.Errorf("slot %d still holds %+v after Drain", i, ev)
		}
	}
}

func TestReady(t *testing.T) {
	m := New(10)
	if signalled(m) {
		t.Fatal("a new mailbox is ready")
	}
	m.Push(msg(1))
	m.Push(msg(2))
	m.PushForce(msg(3))
	if !signalled(m) {
		t.Fatal("not ready after a push")
	}
	if signalled(m) {
		t.Fatal("ready twice for one wake-up")
	}
	m.Push(msg(4)) // the consumer has not drained since its signal: no new one
	if signalled(m) {
		t.Fatal("signalled again before the consumer drained")
	}

	m.Drain(nil, 2, 0)
	if !signalled(m) {
		t.Fatal("not ready after a Drain that left events behind")
	}
	m.Drain(nil, 0, 0)
	if signalled(m) {
		t.Fatal("ready after a Drain that emptied the mailbox")
	}

	m.Push(msg(5))
	m.Drain(nil, 0, 0) // the consumer drains before it waits
	if signalled(m) {
		t.Fatal("a stale signal survived a Drain that emptied the mailbox")
	}

	m.PushForce(msg(6))
	if !signalled(m) {
		t.Fatal("not ready after PushForce into an empty mailbox")
	}
	full := New(1)
	full.Push(msg(1))
	<-full.Ready()
	if full.Push(msg(2)) || signalled(full) {
		t.Fatal("a dropped push signalled")
	}
}

// TestAgainstModel runs random operations against a plain slice queue, which
// exercises wrapping and growth at many ring sizes.
func TestAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, capacity := range []int{1, 2, 7, 16, 17, 100} {
		m := New(capacity)
		var model []abi.Event
		var dropped uint64
		next := uint32(0)
		for range 5000 {
			switch op := rng.IntN(10); {
			case op < 5:
				ev := abi.Event{ID: next, Payload: make([]byte, rng.IntN(8))}
				next++
				ok := m.Push(ev)
				if want := len(model) < capacity; ok != want {
					t.Fatalf("cap %d: Push = %v with %d queued", capacity, ok, len(model))
				}
				if ok {
					model = append(model, ev)
				} else {
					dropped++
				}
			case op < 6:
				ev := abi.Event{ID: next}
				next++
				m.PushForce(ev)
				model = append(model, ev)
			default:
				maxEvents, maxBytes := rng.IntN(6)-1, rng.IntN(20)-1
				got := m.Drain(nil, maxEvents, maxBytes)
				n, size := 0, 0
				for n < len(model) && (maxEvents <= 0 || n < maxEvents) {
					s := len(model[n].Payload)
					if n > 0 && maxBytes > 0 && size+s > maxBytes {
						break
					}
					n, size = n+1, size+s
				}
				if !slices.Equal(ids(got), ids(model[:n])) {
					t.Fatalf("cap %d: Drain(%d, %d) = %v, want %v", capacity, maxEvents, maxBytes, ids(got), ids(model[:n]))
				}
				model = model[n:]
			}
			if m.Len() != len(model) || m.Dropped() != dropped {
				t.Fatalf("cap %d: Len, Dropped = %d, %d; want %d, %d", capacity, m.Len(), m.Dropped(), len(model), dropped)
			}
		}
	}
}

// TestConcurrentProducers has producers push while one consumer drains, and
// checks that nothing is lost but what Push reported dropped, and that each
// producer's events arrive in its order.
func TestConcurrentProducers(t *testing.T) {
	const producers, perProducer = 4, 5000
	m := New(64)
	var accepted [producers]int
	var received [producers][]uint32
	done := make(chan struct{})
	consumed := make(chan struct{})

	go func() {
		defer close(consumed)
		var batch []abi.Event
		take := func() {
			batch = m.Drain(batch[:0], 16, 0)
			for _, ev := range batch {
				received[ev.ID] = append(received[ev.ID], uint32(ev.Payload[0])<<8|uint32(ev.Payload[1]))
			}
		}
		for {
			select {
			case <-m.Ready():
				take()
			case <-done:
				for m.Len() > 0 {
					take()
				}
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for seq := range perProducer {
				ev := abi.Event{ID: uint32(p), Payload: []byte{byte(seq >> 8), byte(seq)}}
				if seq%500 == 0 {
					m.PushForce(ev)
					accepted[p]++
				} else if m.Push(ev) {
					accepted[p]++
				}
			}
		})
	}
	wg.Wait()
	close(done)
	<-consumed

	total := 0
	for p := range producers {
		if len(received[p]) != accepted[p] {
			t.Errorf("producer %d: %d events accepted, %d received", p, accepted[p], len(received[p]))
		}
		if !slices.IsSorted(received[p]) || len(slices.Compact(slices.Clone(received[p]))) != len(received[p]) {
			t.Errorf("producer %d: events arrived out of order", p)
		}
		total += accepted[p]
	}
	if got, want := m.Dropped(), uint64(producers*perProducer-total); got != want {
		t.Errorf("Dropped() = %d, want %d (pushed %d, accepted %d)", got, want, producers*perProducer, total)
	}
	if m.Len() != 0 {
		t.Errorf("Len() = %d after the consumer finished", m.Len())
	}
}

func TestNewPanicsOnBadCapacity(t *testing.T) {
	for _, c := range []int{0, -1} {
		func() {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(r.(string), "capacity") {
					t.Errorf("New(%d) did not panic about its capacity: %v", c, r)
				}
			}()
			New(c)
		}()
	}
}

func BenchmarkMailboxPushDrain(b *testing.B) {
	const batch = 64
	m := New(1024)
	ev := abi.Event{Kind: abi.EventMessage, ID: 1, Topic: "fleet/device-42/telemetry/temp", Payload: make([]byte, 256)}
	dst := make([]abi.Event, 0, batch)
	b.ReportAllocs()
	for b.Loop() {
		for range batch {
			m.Push(ev)
		}
		dst = m.Drain(dst[:0], batch, 64<<10)
		if len(dst) != batch {
			b.Fatalf("drained %d events, want %d", len(dst), batch)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/event")
}

// TestRemoveAndSetCap: Remove keeps the order of what stays, across the
// ring's wrap; a lower capacity keeps what is queued and refuses pushes
// until the consumer drains below it.
func TestRemoveAndSetCap(t *testing.T) {
	m := New(16)
	for i := range 10 {
		m.Push(abi.Event{ID: uint32(i)})
	}
	m.Drain(nil, 6, 0) // head moves to 6
	for i := 10; i < 20; i++ {
		m.Push(abi.Event{ID: uint32(i)}) // wraps
	}
	if n := m.Remove(func(ev *abi.Event) bool { return ev.ID%3 == 0 }); n != 5 {
		t.Fatalf("removed %d, want 5 (6, 9, 12, 15, 18)", n)
	}
	m.SetCap(2)
	if m.Push(abi.Event{ID: 99}) {
		t.Error("a push past the lowered capacity was taken")
	}
	var got []uint32
	for _, ev := range m.Drain(nil, 0, 0) {
		got = append(got, ev.ID)
	}
	want := []uint32{7, 8, 10, 11, 13, 14, 16, 17, 19}
	if !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
	if !m.Push(abi.Event{ID: 100}) || m.Cap() != 2 {
		t.Error("after draining, a push within the new capacity was refused")
	}
}
