package shadow

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestParseTopic: the topics of "Device Shadow MQTT topics", classic and
// named, requests and replies, and near misses.
func TestParseTopic(t *testing.T) {
	cases := []struct {
		topic string
		want  Topic
		ok    bool
	}{
		{"$aws/things/T/shadow/get", Topic{Thing: "T", Op: OpGet}, true},
		{"$aws/things/T/shadow/update", Topic{Thing: "T", Op: OpUpdate}, true},
		{"$aws/things/T/shadow/delete", Topic{Thing: "T", Op: OpDelete}, true},
		{"$aws/things/T/shadow/get/accepted", Topic{Thing: "T", Op: OpGet, Reply: "accepted"}, true},
		{"$aws/things/T/shadow/get/rejected", Topic{Thing: "T", Op: OpGet, Reply: "rejected"}, true},
		{"$aws/things/T/shadow/update/delta", Topic{Thing: "T", Op: OpUpdate, Reply: "delta"}, true},
		{"$aws/things/T/shadow/update/documents", Topic{Thing: "T", Op: OpUpdate, Reply: "documents"}, true},
		{"$aws/things/T/shadow/delete/accepted", Topic{Thing: "T", Op: OpDelete, Reply: "accepted"}, true},
		{"$aws/things/T/shadow/name/N/update", Topic{Thing: "T", Name: "N", Op: OpUpdate}, true},
		{"$aws/things/T/shadow/name/N/update/delta", Topic{Thing: "T", Name: "N", Op: OpUpdate, Reply: "delta"}, true},
		{"$aws/things/T/shadow/name/update/update", Topic{Thing: "T", Name: "update", Op: OpUpdate}, true},
		{"$aws/things/name/shadow/get", Topic{Thing: "name", Op: OpGet}, true},
		{"$aws/things/T/shadow/name/N/delete/rejected", Topic{Thing: "T", Name: "N", Op: OpDelete, Reply: "rejected"}, true},
		{"$aws/things/T/shadow/get/delta", Topic{}, false},
		{"$aws/things/T/shadow/delete/documents", Topic{}, false},
		{"$aws/things/T/shadow/list", Topic{}, false},
		{"$aws/things/T/shadow/name/N/list", Topic{}, false},
		{"$aws/things/T/shadow/name//update", Topic{}, false},
		{"$aws/things/T/shadow/name/N", Topic{}, false},
		{"$aws/things//shadow/update", Topic{}, false},
		{"$aws/things/T/shadow", Topic{}, false},
		{"$aws/things/T/shadow/update/accepted/x", Topic{}, false},
		{"$aws/things/T/jobs/get", Topic{}, false},
		{"aws/things/T/shadow/get", Topic{}, false},
		{"$aws/things/T/shadow/update/", Topic{}, false},
	}
	for _, c := range cases {
		got, ok := ParseTopic(c.topic)
		if ok != c.ok || got != c.want {
			t.Errorf("ParseTopic(%q) = %+v, %v; want %+v, %v", c.topic, got, ok, c.want, c.ok)
		}
		if ok && got.String() != c.topic {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), c.topic)
		}
	}
}

// TestHandleTopic drives update, get and delete over MQTT topics for the
// classic shadow and a named one of the same thing: replies go to IoT
// Core's topics, in order, with the right bodies, and the two shadows stay
// apart.
func TestHandleTopic(t *testing.T) {
	clk := newClock(1700000000)
	s := newService(t, Options{Now: clk.Now})
	ctx := context.Background()
	for _, prefix := range []string{"$aws/things/dev-1/shadow", "$aws/things/dev-1/shadow/name/config"} {
		t.Run(prefix, func(t *testing.T) {
			clk.Set(1700000000)
			replies, ok := s.HandleTopic(ctx, prefix+"/update", []byte(`{"state":{"desired":{"led":"on"}},"clientToken":"c1"}`))
			if !ok {
				t.Fatal("update not handled")
			}
			topics := func(ms []Message) []string {
				var ts []string
				for _, m := range ms {
					ts = append(ts, m.Topic)
				}
				return ts
			}
			if want := []string{prefix + "/update/accepted", prefix + "/update/delta", prefix + "/update/documents"}; !slices.Equal(topics(replies), want) {
				t.Fatalf("update replies on %v, want %v", topics(replies), want)
			}
			jsonEqual(t, "accepted", replies[0].Payload, `{"state":{"desired":{"led":"on"}},
			  "metadata":{"desired":{"led":{"timestamp":1700000000}}},"version":1,"timestamp":1700000000,"clientToken":"c1"}`)
			jsonEqual(t, "delta", replies[1].Payload, `{"version":1,"timestamp":1700000000,"state":{"led":"on"},
			  "metadata":{"led":{"timestamp":1700000000}},"clientToken":"c1"}`)
			jsonEqual(t, "documents", replies[2].Payload, `{"current":{"state":{"desired":{"led":"on"}},
			  "metadata":{"desired":{"led":{"timestamp":1700000000}}},"version":1},"timestamp":1700000000,"clientToken":"c1"}`)

			replies, _ = s.HandleTopic(ctx, prefix+"/update", []byte(`{"state":{"reported":{"led":"on"}}}`))
			if want := []string{prefix + "/update/accepted", prefix + "/update/documents"}; !slices.Equal(topics(replies), want) {
				t.Fatalf("in-sync update replies on %v, want %v", topics(replies), want)
			}

			replies, _ = s.HandleTopic(ctx, prefix+"/get", nil)
			if len(replies) != 1 || replies[0].Topic != prefix+"/get/accepted" {
				t.Fatalf("get replies %v", topics(replies))
			}
			jsonEqual(t, "get", replies[0].Payload, `{"state":{"desired":{"led":"on"},"reported":{"led":"on"}},
			  "metadata":{"desired":{"led":{"timestamp":1700000000}},"reported":{"led":{"timestamp":1700000000}}},
			  "version":2,"timestamp":1700000000}`)

			replies, _ = s.HandleTopic(ctx, prefix+"/update", []byte(`{"state":{"desired":{"led":"off"}},"version":1,"clientToken":"old"}`))
			if len(replies) != 1 || replies[0].Topic != prefix+"/update/rejected" {
				t.Fatalf("stale update replies %v", topics(replies))
			}
			jsonEqual(t, "rejected", replies[0].Payload, `{"code":409,"message":"Version conflict","timestamp":1700000000,"clientToken":"old"}`)

			replies, _ = s.HandleTopic(ctx, prefix+"/delete", []byte(`{"clientToken":"bye"}`))
			if len(replies) != 1 || replies[0].Topic != prefix+"/delete/accepted" {
				t.Fatalf("delete replies %v", topics(replies))
			}
			jsonEqual(t, "delete", replies[0].Payload, `{"version":2,"timestamp":1700000000,"clientToken":"bye"}`)

			replies, _ = s.HandleTopic(ctx, prefix+"/delete", nil)
			if len(replies) != 1 || replies[0].Topic != prefix+"/delete/rejected" {
				t.Fatalf("second delete replies %v", topics(replies))
			}
			name := "config"
			if prefix == "$aws/things/dev-1/shadow" {
				name = "dev-1"
			}
			jsonEqual(t, "delete rejected", replies[0].Payload,
				fmt.Sprintf(`{"code":404,"message":"No shadow exists with name: '%s'","timestamp":1700000000}`, name))
		})
	}

	// Not a request: replies, other topics.
	for _, topic := range []string{"$aws/things/dev-1/shadow/update/accepted", "$aws/things/dev-1/shadow/update/delta",
		"dev-1/telemetry", "$aws/things/dev-1/shadow/name/config/list"} {
		if replies, ok := s.HandleTopic(ctx, topic, []byte(`{"state":{}}`)); ok || replies != nil {
			t.Errorf("HandleTopic(%q) handled it: %v", topic, replies)
		}
	}
	// A request naming an invalid thing is rejected on its own topic.
	replies, ok := s.HandleTopic(ctx, "$aws/things/bad$thing/shadow/get", nil)
	if !ok || len(replies) != 1 || replies[0].Topic != "$aws/things/bad$thing/shadow/get/rejected" {
		t.Fatalf("invalid thing: %v %v", replies, ok)
	}
	var e struct{ Code int }
	json.Unmarshal(replies[0].Payload, &e)
	if e.Code != 400 {
		t.Fatalf("invalid thing: %s", replies[0].Payload)
	}
}

// TestRateLimits: token buckets per thing and in total, on an injected
// clock; OriginSync is never limited.
func TestRateLimits(t *testing.T) {
	clk := newClock(100)
	s := newService(t, Options{Now: clk.Now, RateLimits: &RateLimits{PerThingPerSecond: 3, TotalPerSecond: 5}})
	ctx := context.Background()
	try := func(thing string) int {
		_, err := s.Get(ctx, thing, "", nil)
		if e, ok := err.(*Error); ok {
			return e.Code
		}
		return 200
	}
	var got []int
	for range 4 {
		got = append(got, try("A")) // 404: admitted, no shadow
	}
	if want := []int{404, 404, 404, 429}; !slices.Equal(got, want) {
		t.Fatalf("thing A: %v, want %v", got, want)
	}
	got = got[:0]
	for range 3 {
		got = append(got, try("B"))
	}
	if want := []int{404, 404, 429}; !slices.Equal(got, want) {
		t.Fatalf("thing B after A used 3 of 5 in total: %v, want %v", got, want)
	}
	if _, err := s.Update(ctx, "B", "", []byte(`{"state":{}}`), OriginSync); err != nil {
		t.Fatalf("sync update limited: %v", err)
	}
	clk.Add(200 * time.Millisecond) // one more total token (5/s), 0.6 of A's
	if c := try("C"); c != 404 {
		t.Fatalf("after 200 ms, C got %d", c)
	}
	if c := try("C"); c != 429 {
		t.Fatalf("total bucket not empty: %d", c)
	}
	clk.Add(time.Second) // everything refilled, to its burst only
	got = got[:0]
	for range 4 {
		got = append(got, try("A"))
	}
	if want := []int{404, 404, 404, 429}; !slices.Equal(got, want) {
		t.Fatalf("after a second: %v, want %v", got, want)
	}

	// Without RateLimits, the defaults: Greengrass's 20 per second for one
	// thing.
	s, err := New(Options{Store: s.store, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if want := (RateLimits{PerThingPerSecond: 20, TotalPerSecond: 200, InFlightPerThing: 10}); s.limits.cfg != want {
		t.Fatalf("default limits %+v, want %+v", s.limits.cfg, want)
	}
	n := 0
	for s.limits.admit("D", clk.Now()) {
		n++
		s.limits.done("D")
	}
	if n != 20 {
		t.Fatalf("default per-thing burst %d, want 20", n)
	}
}

// TestList pages through the named shadows of a thing as
// ListNamedShadowsForThing does: no classic shadow, no deleted one, no other
// thing's, nextToken until the last page.
func TestList(t *testing.T) {
	clk := newClock(42)
	s := newService(t, Options{Now: clk.Now})
	ctx := context.Background()
	for _, n := range []string{"e", "a", "c", "b", "d", "zz"} {
		update(t, s, "T", n, `{"state":{}}`)
	}
	update(t, s, "T", "", `{"state":{}}`)
	update(t, s, "T2", "other", `{"state":{}}`)
	update(t, s, "T-", "other", `{"state":{}}`)
	if _, err := s.Delete(ctx, "T", "zz", nil, OriginLocal); err != nil {
		t.Fatal(err)
	}

	var all []string
	token := ""
	for pages := 0; ; pages++ {
		p, err := s.List(ctx, "T", 2, token)
		if err != nil {
			t.Fatal(err)
		}
		if p.Timestamp != 42 || len(p.Results) > 2 {
			t.Fatalf("page %+v", p)
		}
		all = append(all, p.Results...)
		if token = p.NextToken; token == "" {
			break
		}
		if pages > 5 {
			t.Fatal("pages without end")
		}
	}
	if want := []string{"a", "b", "c", "d", "e"}; !slices.Equal(all, want) {
		t.Fatalf("listed %v, want %v", all, want)
	}
	p, err := s.List(ctx, "T", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(p)
	jsonEqual(t, "list document", b, `{"results":["a","b","c","d","e"],"timestamp":42}`)
	p, _ = s.List(ctx, "Nobody", 0, "")
	b, _ = json.Marshal(p)
	jsonEqual(t, "empty list", b, `{"results":[],"timestamp":42}`)

	_, err = s.List(ctx, "T", 101, "")
	wantError(t, err, 400, "PageSize must be between 1 and 100")
	_, err = s.List(ctx, "T", -1, "")
	wantError(t, err, 400, "PageSize must be between 1 and 100")
	_, err = s.List(ctx, "T", 1, "!!")
	wantError(t, err, 400, "Invalid nextToken")
	_, err = s.List(ctx, "$T", 1, "")
	wantError(t, err, 400, "ThingName must match pattern [a-zA-Z0-9:_-]+")
}
