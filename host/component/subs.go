package component

import "github.com/moss-edge/moss/abi"

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
