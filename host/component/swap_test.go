package component

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/host/authz"
	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/limits"
	"github.com/moss-edge/moss/internal/poll"
	"github.com/moss-edge/moss/internal/testwasm"
)

// Hot swaps against the new version's grants (issue 12, hole 7): what v1
// held and v2 is not granted must go before v2 gets a message, and v2's
// limits apply to what is held.

// TestUpgradeDropsWhatTheNewPolicyDoesNotGrant: the canary (v1) subscribes
// to canary/in; v2's policy grants no subscription at all and a mailbox of
// 8. After the swap nothing reaches the component on canary/in and its
// mailbox holds 8.
func TestUpgradeDropsWhatTheNewPolicyDoesNotGrant(t *testing.T) {
	h := newHarness(t)
	c := h.start("swapper", "canary.wat", limits.Limits{}, Restart{})
	h.wait(c, StateRunning)
	out := newCounter()
	h.bus.Subscribe("canary/out", out, 1)
	h.bus.Publish(&bus.Message{Topic: "canary/in", Payload: []byte("ping")})
	out.await(t, "v1's answer")

	mod, err := h.engine.Compile(context.Background(), "swapper", testwasm.WAT(t, filepath.Join("testdata", "quiet.wat")))
	if err != nil {
		t.Fatal(err)
	}
	policy, err := authz.New([]authz.Grant{{Operations: []string{"pubsub.publish"}, Resources: []string{"*"}}})
	if err != nil {
		t.Fatal(err)
	}
	lim := limits.Defaults()
	lim.Mailbox = 8
	v2 := Spec{Name: "swapper", Version: "2.0.0", Module: mod, Limits: lim, Policy: policy}
	if err := c.Upgrade(ctxTimeout(t, 10e9), v2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Wait(ctxTimeout(t, 10e9), func(i Info) bool { return i.Version == "2.0.0" && i.State == StateRunning }); err != nil {
		t.Fatalf("%v\n%s", err, h.logs)
	}
	if n := h.bus.Publish(&bus.Message{Topic: "canary/in", Payload: []byte("late")}); n != 0 {
		t.Errorf("a message on canary/in reached %d subscriptions after v2, which is not granted it, started", n)
	}
	if got := c.mbox.Cap(); got != 8 {
		t.Errorf("mailbox capacity %d after the swap, want v2's 8", got)
	}
	if !strings.Contains(h.logs.String(), "subscription dropped: the new version's policy does not grant it") || !strings.Contains(h.logs.String(), "filter=canary/in") {
		t.Errorf("no log line says canary/in was dropped:\n%s", h.logs)
	}
}

// TestRegrant: local and cloud subscriptions, checked one by one against
// the new policy, then cut to the new max_subscriptions (the newest go);
// messages queued for a dropped subscription never reach the new version.
func TestRegrant(t *testing.T) {
	codec, _ := abi.NewCodec()
	v1, _ := authz.New(allowAll)
	b := bus.New()
	cloud := &recordingCloud{}
	c := New(Spec{Name: "r", Version: "1.0.0", Limits: limits.Defaults(), Policy: v1},
		Env{Bus: b, Codec: codec, Cloud: cloud})
	c.guest = newGuestState()
	defer c.guest.stop()
	for _, call := range []struct{ fn, filter string }{
		{abi.FuncSubscribe, "a/1"}, {abi.FuncSubscribe, "b/1"}, {abi.FuncSubscribe, "a/2"},
		{abi.FuncCloudSubscribe, "c/1"}, {abi.FuncCloudSubscribe, "d/1"},
	} {
		if _, err := c.HostCall(context.Background(), fn(call.fn), textReq("filter", call.filter)); err != nil {
			t.Fatalf("%s %s: %v", call.fn, call.filter, err)
		}
	}
	for _, topic := range []string{"a/1", "b/1", "a/2", "a/1"} {
		b.Publish(&bus.Message{Topic: topic})
	}
	c.Deliver(5, &bus.Message{Topic: "d/1"}) // as the cloud link delivers

	// v2 grants a/# locally and c/# in the cloud: b/1 and d/1 go; of a/1,
	// a/2 and c/1, max_subscriptions 2 keeps the two oldest.
	v2, _ := authz.New([]authz.Grant{
		{Operations: []string{"pubsub.subscribe"}, Resources: []string{"a/#"}},
		{Operations: []string{"cloud.subscribe"}, Resources: []string{"c/#"}},
	})
	lim := limits.Defaults()
	lim.MaxSubscriptions = 2
	lim.Mailbox = 4
	c.setSpec(Spec{Name: "r", Version: "2.0.0", Limits: lim, Policy: v2})

	if got := slices.Sorted(maps.Keys(c.subs.byFilter)); !slices.Equal(got, []string{"a/1", "a/2"}) {
		t.Errorf("local subscriptions after the swap: %v, want [a/1 a/2]", got)
	}
	if len(c.cloudSubs.byID) != 0 {
		t.Errorf("cloud subscriptions after the swap: %v, want none", c.cloudSubs.byFilter)
	}
	if n := b.Publish(&bus.Message{Topic: "b/1"}); n != 0 {
		t.Errorf("b/1 still reaches %d subscriptions", n)
	}
	if got := cloud.unsubscribed(); !slices.Equal(got, []string{"c/1", "d/1"}) {
		t.Errorf("cloud unsubscribed %v, want [c/1 d/1]", got)
	}
	var topics []string
	for _, ev := range c.mbox.Drain(nil, 0, 0) {
		topics = append(topics, ev.Topic)
	}
	if !slices.Equal(topics, []string{"a/1", "a/2", "a/1"}) {
		t.Errorf("queued for v2: %v, want [a/1 a/2 a/1]", topics)
	}
	if c.mbox.Cap() != 4 {
		t.Errorf("mailbox capacity %d, want 4", c.mbox.Cap())
	}
}

// recordingCloud is a cloud link that takes every subscription and
// records the unsubscriptions, sorted.
type recordingCloud struct {
	mu    sync.Mutex
	unsub []string
}

func (r *recordingCloud) Publish(context.Context, string, []byte, byte) error { return nil }
func (r *recordingCloud) Subscribe(string, bus.Subscriber, uint32) error      { return nil }
func (r *recordingCloud) Unsubscribe(f string, _ bus.Subscriber, _ uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unsub = append(r.unsub, f)
}

func (r *recordingCloud) unsubscribed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(slices.Values(r.unsub))
}

// TestUpgradeUnderFullMailbox (issue 12, hole 8): a component whose
// mailbox (8) is never empty after a batch (it is subscribed to what it
// publishes, 100 messages a batch, and four publishers stream into it as
// well) is still upgraded, between two batches, and every message the
// mailbox took is delivered, by v1 or v2. Before, the swap waited for an
// empty mailbox and the upgrade timed out.
func TestUpgradeUnderFullMailbox(t *testing.T) {
	h := newHarness(t)
	c := h.start("loaded", "burst.wat", limits.Limits{Mailbox: 8, PublishRate: 1 << 30}, Restart{})
	h.wait(c, StateRunning)
	// As if the guest had subscribed to what it publishes, counted.
	self := &forwarder{to: c}
	if err := h.bus.Subscribe("burst/out", self, 2); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var published atomic.Uint64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := &bus.Message{Topic: "in", Payload: []byte("x")}
			for {
				select {
				case <-stop:
					return
				default:
				}
				c.Deliver(3, m) // as the bus does for a subscription
				published.Add(1)
			}
		}()
	}
	var once sync.Once
	halt := func() { once.Do(func() { close(stop) }); wg.Wait() }
	defer halt()
	poll.Until(t, "the mailbox to overflow", func() bool { return c.mbox.Dropped() > 1000 && self.n.Load() > 0 })

	spec := c.Spec()
	spec.Version = "2.0.0"
	if err := c.Upgrade(ctxTimeout(t, 10e9), spec); err != nil {
		t.Fatalf("upgrade under load: %v", err)
	}
	if _, err := c.Wait(ctxTimeout(t, 10e9), func(i Info) bool { return i.Version == "2.0.0" && i.State == StateRunning }); err != nil {
		t.Fatalf("%v\n%s", err, h.logs)
	}
	halt()
	h.bus.Unsubscribe("burst/out", self, 2) // ends the loop
	// Everything the mailbox took reached an instance: the messages are
	// delivered or dropped, plus v1's start event, its upgrade stop event
	// and v2's start event.
	poll.Until(t, "the mailbox to drain", func() bool {
		i := c.Info()
		return i.Queued == 0 && i.Delivered-3+i.Dropped == published.Load()+self.n.Load()
	})
	i := c.Info()
	t.Logf("%d messages: delivered %d, dropped %d (mailbox 8); swap gap %v", published.Load()+self.n.Load(), i.Delivered-3, i.Dropped, i.SwapGap)
}

// forwarder passes messages on to a component, counting them.
type forwarder struct {
	to *Component
	n  atomic.Uint64
}

func (f *forwarder) Deliver(id uint32, m *bus.Message) {
	f.n.Add(1)
	f.to.Deliver(id, m)
}
