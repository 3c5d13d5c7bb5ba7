package shadow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/moss-edge/moss/internal/poll"
)

// TestConcurrentUpdates hammers one shadow and several others from many
// goroutines: every shadow's versions must come out 1..n with no gap and no
// repeat, each writer's last value must be there, and watchers must see
// every change exactly once.
func TestConcurrentUpdates(t *testing.T) {
	s := newService(t, Options{})
	const writers, each = 16, 25
	var mu sync.Mutex
	seen := map[string][]int64{} // shadow -> versions watchers saw
	defer s.Watch(func(c Change) {
		mu.Lock()
		seen[c.Name] = append(seen[c.Name], c.Version)
		mu.Unlock()
	})()

	var wg sync.WaitGroup
	accepted := make([][]int64, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				name := "shared"
				if i%2 == 1 {
					name = fmt.Sprint("own", w%4)
				}
				r, err := s.Update(context.Background(), "Thing", name,
					fmt.Appendf(nil, `{"state":{"reported":{"w%d":%d}}}`, w, i), OriginLocal)
				if err != nil {
					t.Error(err)
					return
				}
				if name == "shared" {
					var acc struct{ Version int64 }
					json.Unmarshal(r.Payload, &acc)
					accepted[w] = append(accepted[w], acc.Version)
				}
			}
		})
	}
	wg.Wait()

	var all []int64
	for _, v := range accepted {
		all = append(all, v...)
	}
	slices.Sort(all)
	for i, v := range all {
		if v != int64(i+1) {
			t.Fatalf("shared shadow versions %v: position %d holds %d", all, i, v)
		}
	}
	for name, vs := range seen {
		slices.Sort(vs)
		for i, v := range vs {
			if v != int64(i+1) {
				t.Fatalf("watchers saw %s versions %v", name, vs)
			}
		}
	}
	var doc struct {
		State   struct{ Reported map[string]int }
		Version int
	}
	json.Unmarshal(get(t, s, "Thing", "shared"), &doc)
	if doc.Version != len(all) || len(doc.State.Reported) != writers {
		t.Fatalf("shared shadow: version %d of %d, %d writers of %d", doc.Version, len(all), len(doc.State.Reported), writers)
	}
	for w := range writers {
		if got := doc.State.Reported[fmt.Sprint("w", w)]; got != each-1 {
			t.Fatalf("w%d's last value is %d, want %d", w, got, each-1)
		}
	}
}

// TestNoLostUpdate: read-modify-write with optimistic locking, the way IoT
// Core clients do it, from many goroutines at once. Every increment must
// land exactly once.
func TestNoLostUpdate(t *testing.T) {
	s := newService(t, Options{})
	update(t, s, "Thing", "counter", `{"state":{"reported":{"n":0}}}`)
	const workers, incs = 8, 10
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for done := 0; done < incs; {
				var doc struct {
					State   struct{ Reported struct{ N int } }
					Version int64
				}
				json.Unmarshal(get(t, s, "Thing", "counter"), &doc)
				_, err := s.Update(context.Background(), "Thing", "counter",
					fmt.Appendf(nil, `{"state":{"reported":{"n":%d}},"version":%d}`, doc.State.Reported.N+1, doc.Version), OriginLocal)
				var e *Error
				switch {
				case err == nil:
					done++
				case errors.As(err, &e) && e.Code == 409:
				default:
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	var doc struct {
		State struct{ Reported struct{ N int } }
	}
	json.Unmarshal(get(t, s, "Thing", "counter"), &doc)
	if doc.State.Reported.N != workers*incs {
		t.Fatalf("counter %d, want %d", doc.State.Reported.N, workers*incs)
	}
}

// TestWatch: watchers hear of updates and deletes with their origin and
// payloads, may call the Service from the callback, and stop on cancel.
func TestWatch(t *testing.T) {
	s := newService(t, Options{Now: newClock(3).Now})
	var got []Change
	cancel := s.Watch(func(c Change) {
		got = append(got, c)
		if c.Op == OpUpdate && c.Origin == OriginSync {
			get(t, s, c.Thing, c.Name) // re-entering must not deadlock
		}
	})
	r := update(t, s, "Thing", "n", `{"state":{"desired":{"a":1}},"clientToken":"x"}`)
	if _, err := s.Update(context.Background(), "Thing", "n", []byte(`{"state":{"reported":{"a":1}}}`), OriginSync); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(context.Background(), "Thing", "n", nil, OriginSync); err != nil {
		t.Fatal(err)
	}
	cancel()
	cancel()
	update(t, s, "Thing", "n", `{"state":{}}`)

	if len(got) != 3 {
		t.Fatalf("%d changes, want 3", len(got))
	}
	c := got[0]
	if c.Thing != "Thing" || c.Name != "n" || c.Op != OpUpdate || c.Origin != OriginLocal || c.Version != 1 ||
		string(c.Accepted) != string(r.Payload) || c.Delta == nil || c.Documents == nil {
		t.Fatalf("first change %+v", c)
	}
	jsonEqual(t, "delta", c.Delta, `{"version":1,"timestamp":3,"state":{"a":1},"metadata":{"a":{"timestamp":3}},"clientToken":"x"}`)
	if c := got[1]; c.Origin != OriginSync || c.Delta != nil || c.Version != 2 {
		t.Fatalf("second change %+v", c)
	}
	if c := got[2]; c.Op != OpDelete || c.Origin != OriginSync || c.Version != 2 || c.Documents != nil {
		t.Fatalf("third change %+v", c)
	}
	jsonEqual(t, "delete accepted", got[2].Accepted, `{"version":2,"timestamp":3}`)
}

// TestContextCancel: an update whose context ends while it waits for the
// shadow is a 500 that changed nothing.
func TestContextCancel(t *testing.T) {
	s := newService(t, Options{})
	update(t, s, "Thing", "", `{"state":{"reported":{"v":1}}}`)
	e, err := s.acquire(context.Background(), key("Thing", ""))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = s.Update(ctx, "Thing", "", []byte(`{"state":{"reported":{"v":2}}}`), OriginLocal)
	wantError(t, err, 500, msgInternal)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v does not wrap the context's error", err)
	}
	s.release(e)
	if v := get(t, s, "Thing", ""); !containsVersion(v, 1) {
		t.Fatalf("after a cancelled update: %s", v)
	}
}

func containsVersion(doc []byte, v int64) bool {
	var d struct{ Version int64 }
	return json.Unmarshal(doc, &d) == nil && d.Version == v
}

// TestInFlight: more than InFlightPerThing requests of one thing at once is
// a 429, "more than 10 in-flight requests" in IoT Core's words.
func TestInFlight(t *testing.T) {
	s := newService(t, Options{RateLimits: &RateLimits{InFlightPerThing: 2}})
	e, err := s.acquire(context.Background(), key("Thing", ""))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := s.Update(context.Background(), "Thing", "", []byte(`{"state":{}}`), OriginLocal); err != nil {
				t.Error(err)
			}
		})
	}
	poll.Until(t, "two updates in flight", func() bool {
		s.limits.mu.Lock()
		defer s.limits.mu.Unlock()
		return s.limits.inFlight["Thing"] == 2
	})
	_, err = s.Update(context.Background(), "Thing", "", []byte(`{"state":{},"clientToken":"third"}`), OriginLocal)
	if e := wantError(t, err, 429, "Too Many Requests"); e.ClientToken != "third" {
		t.Fatalf("429 token %q", e.ClientToken)
	}
	update(t, s, "Other", "", `{"state":{}}`) // another thing is not held up
	if _, err := s.Update(context.Background(), "Thing", "x", []byte(`{"state":{}}`), OriginSync); err != nil {
		t.Fatalf("sync update limited: %v", err)
	}
	s.release(e)
	wg.Wait()
	update(t, s, "Thing", "", `{"state":{}}`)
}
