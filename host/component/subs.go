package component

import (
	"cmp"
	"slices"

	"github.com/moss-edge/moss/abi"
)

// subTable is one kind of subscription a component holds (local bus or
// cloud): filter to id and back. Ids come from one counter for both kinds,
// so an event's id names exactly one subscription. Guarded by c.mu.
type subTable struct {
	byFilter map[string]uint32
	byID     map[uint32]string
}

func newSubTable() subTable {
	return subTable{byFilter: make(map[string]uint32), byID: make(map[uint32]string)}
}

// addSub returns filter's id in t, making a new one (fresh) within the
// component's max_subscriptions, which counts both kinds.
func (c *Component) addSub(fn string, t *subTable, filter string) (id uint32, fresh bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id, ok := t.byFilter[filter]; ok {
		return id, false, nil
	}
	if n := len(c.subs.byID) + len(c.cloudSubs.byID); n >= c.spec.Limits.MaxSubscriptions {
		c.limitHit("max_subscriptions", int64(c.spec.Limits.MaxSubscriptions), int64(n+1))
		return 0, false, abi.Errorf(abi.ErrFull, "%s: max_subscriptions (%d) reached", fn, c.spec.Limits.MaxSubscriptions)
	}
	c.nextSub++
	id = c.nextSub
	t.byFilter[filter], t.byID[id] = id, filter
	return id, true, nil
}

// removeSub forgets id in t and returns its filter.
func (c *Component) removeSub(t *subTable, id uint32) (filter string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	filter, ok = t.byID[id]
	delete(t.byID, id)
	delete(t.byFilter, filter)
	return filter, ok
}

// takeSubs empties t and returns what it held, by filter.
func (c *Component) takeSubs(t *subTable) map[string]uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	held := t.byFilter
	*t = newSubTable()
	return held
}

// regrant brings what the component holds in line with spec, the version
// about to start (a hot swap, or a fixed version after an error): every
// subscription, local and cloud, that spec's policy does not grant is
// dropped, then the newest go until max_subscriptions holds; messages
// queued for a dropped subscription are removed, so the new instance never
// sees one; and the mailbox takes spec's capacity. Run goroutine only,
// before the new instance gets its start event.
func (c *Component) regrant(spec Spec) {
	type held struct {
		cloud  bool
		filter string
		id     uint32
	}
	var drop []held
	var keep []held
	c.mu.Lock()
	for _, k := range []struct {
		t     *subTable
		cloud bool
		op    string
	}{{&c.subs, false, "pubsub.subscribe"}, {&c.cloudSubs, true, "cloud.subscribe"}} {
		for id, f := range k.t.byID {
			h := held{k.cloud, f, id}
			if spec.Policy == nil || !spec.Policy.Allow(k.op, f) {
				c.log.Warn("subscription dropped: the new version's policy does not grant it", "version", spec.Version, "operation", k.op, "filter", f, "id", id)
				drop = append(drop, h)
			} else {
				keep = append(keep, h)
			}
		}
	}
	if max := spec.Limits.MaxSubscriptions; len(keep) > max {
		// The oldest (lowest id) stay: they are what the guest relied on
		// longest.
		slices.SortFunc(keep, func(a, b held) int { return cmp.Compare(a.id, b.id) })
		for _, h := range keep[max:] {
			c.log.Warn("subscription dropped: over the new version's max_subscriptions", "version", spec.Version, "max_subscriptions", max, "filter", h.filter, "id", h.id)
		}
		drop = append(drop, keep[max:]...)
	}
	gone := make(map[uint32]bool, len(drop))
	for _, h := range drop {
		t := &c.subs
		if h.cloud {
			t = &c.cloudSubs
		}
		delete(t.byID, h.id)
		delete(t.byFilter, h.filter)
		gone[h.id] = true
	}
	c.mu.Unlock()
	for _, h := range drop {
		if h.cloud {
			c.env.Cloud.Unsubscribe(h.filter, c, h.id)
		} else {
			c.env.Bus.Unsubscribe(h.filter, c, h.id)
		}
	}
	if len(gone) > 0 {
		if n := c.mbox.Remove(func(ev *abi.Event) bool { return ev.Kind == abi.EventMessage && gone[ev.ID] }); n > 0 {
			c.log.Info("queued messages of dropped subscriptions discarded", "messages", n)
		}
	}
	if n := spec.Limits.Mailbox; n != c.mbox.Cap() {
		c.log.Info("mailbox capacity changed", "from", c.mbox.Cap(), "to", n, "queued", c.mbox.Len())
		c.mbox.SetCap(n)
	}
}
