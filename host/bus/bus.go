// Package bus is the host's local publish/subscribe: components and host
// services publish messages on topics and subscribe with MQTT topic filters.
//
// Topics and filters follow MQTT 3.1.1 and 5. Levels are separated by '/' and
// may be empty ("a//b", "/a", "a/"). In a filter, '+' matches exactly one
// level, an empty one too; '#', which must be the last level, matches its
// parent level and any number of child levels ("a/#" matches "a", "a/b" and
// "a/b/c"). A filter whose first level is a wildcard does not match a topic
// starting with '$': "#" does not see "$aws/things/x", "$aws/#" does.
//
// Publish delivers synchronously, in the publisher's goroutine, to every
// matching subscription before it returns. So messages from one publisher
// reach each subscriber in the order they were published; between different
// publishers no order is promised. A message that matches several
// subscriptions of one subscriber is delivered once per subscription, each
// time with that subscription's id, as ABI.md asks of message events.
//
// Subscriptions live in a trie keyed by topic level, with dedicated children
// for '+' and '#', so a publish costs the matching paths of its topic rather
// than the number of subscriptions, and allocates nothing.
package bus

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Message is one published message. It is shared by every subscriber it is
// delivered to, so nobody may modify it (nor its Payload) once published.
type Message struct {
	Topic   string
	Payload []byte
}

// Subscriber receives messages. Deliver runs synchronously in the publisher's
// goroutine, possibly in several goroutines at once, so it must not block:
// queue the message and return. It may call the Bus, e.g. to publish a reply.
type Subscriber interface {
	Deliver(subID uint32, m *Message)
}

// Bus routes published messages to subscriptions. It is safe for concurrent
// use. The zero value is not usable; call New.
//
// The trie is copy-on-write: Publish walks an immutable snapshot without
// taking a lock, and Subscribe and Unsubscribe copy the nodes on the path
// they change and swap the root. A read-write lock cost the same for one
// publisher but two to four times as much per publish with two publishers on
// two cores (readers contend on the lock's counter; see
// BenchmarkPublishParallel), and would deadlock a Deliver that publishes
// while a writer waits. The price is paid by Subscribe and Unsubscribe, which
// allocate and copy the child map of every level on their path: cheap while
// levels have tens of children, about 0.2 ms beside 2,500.
type Bus struct {
	root atomic.Pointer[node]
	mu   sync.Mutex // serialises writers
	n    int        // subscriptions; guarded by mu

	// Counted for metrics; padded so publishers bumping them do not
	// invalidate the line root sits on.
	_         [64]byte
	published atomic.Uint64
	delivered atomic.Uint64
}

// Stats is what the bus has counted since it was made.
type Stats struct {
	Published     uint64 // Publish calls
	Delivered     uint64 // deliveries to subscriptions, summed over publishes
	Subscriptions int    // now
}

// Stats returns the bus's counters.
func (b *Bus) Stats() Stats {
	return Stats{Published: b.published.Load(), Delivered: b.delivered.Load(), Subscriptions: b.Len()}
}

// node is one filter level in the trie. The path from the root to a node
// spells a filter; sub and more are the subscriptions to exactly that filter. A node
// reachable from a published root is never modified.
type node struct {
	// Literal levels. A single one is kept in the node itself, two or
	// more in the map (never both): most levels under a device's or a
	// component's name have one child, and reaching it through a map
	// costs two more cache misses per publish once the trie outgrows the
	// cache (BenchmarkPublishSubscriptions with 10,000 subscriptions).
	oneLevel string
	one      *node
	children map[string]*node
	plus     *node // '+' level
	hash     *node // '#' level; never has children
	// The subscriptions to exactly this filter, in subscription order:
	// the first in the node (most filters have one subscriber, and a
	// separate array is one more cache miss per delivery), the rest in
	// more.
	sub  subscription // sub.s is nil when there is none
	more []subscription
}

type subscription struct {
	s  Subscriber
	id uint32
}

// emptyRoot is shared, being immutable like every published node.
var emptyRoot = &node{}

// New returns an empty Bus.
func New() *Bus {
	b := &Bus{}
	b.root.Store(emptyRoot)
	return b
}

// Subscribe adds the subscription (s, id) to filter. Subscribing the same
// filter, s and id again is a no-op. s must be comparable (a pointer,
// typically), because subscriptions are told apart by comparing it. A
// Publish that starts after Subscribe returns sees the subscription.
func (b *Bus) Subscribe(filter string, s Subscriber, id uint32) error {
	if err := ValidateFilter(filter); err != nil {
		return err
	}
	if s == nil {
		return fmt.Errorf("bus: subscribe to %s: nil subscriber", quote(filter))
	}
	if !reflect.TypeOf(s).Comparable() {
		return fmt.Errorf("bus: subscribe to %s: subscriber type %T is not comparable", quote(filter), s)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if root, added := b.root.Load().with(filter, true, subscription{s, id}); added {
		b.root.Store(root)
		b.n++
	}
	return nil
}

// Unsubscribe removes the subscription (s, id) from filter and reports whether
// it existed. A Publish that starts after Unsubscribe returns does not deliver
// to it; one already under way may still do so.
func (b *Bus) Unsubscribe(filter string, s Subscriber, id uint32) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	root, removed := b.root.Load().without(filter, true, subscription{s, id})
	if !removed {
		return false
	}
	if root == nil {
		root = emptyRoot
	}
	b.root.Store(root)
	b.n--
	return true
}

// with returns a copy of n, which has matched the filter's levels before rest
// (more is false when none are left), with sub added below it; or n itself
// and false if sub is there already. n may be nil.
func (n *node) with(rest string, more bool, sub subscription) (*node, bool) {
	if n == nil {
		n = emptyRoot // an empty node, copied below like any other
	}
	if !more {
		if n.sub == sub || slices.Contains(n.more, sub) {
			return n, false
		}
		c := *n
		if c.sub.s == nil {
			c.sub = sub
		} else {
			c.more = append(slices.Clip(n.more), sub) // Clip: never write into the old node's array
		}
		return &c, true
	}
	level, rest, more := strings.Cut(rest, "/")
	child, added := n.lookup(level).with(rest, more, sub)
	if !added {
		return n, false
	}
	return n.withChild(level, child), true
}

// without returns a copy of n with sub removed below it, nil if that copy
// would be empty, or n itself and false if sub is not there.
func (n *node) without(rest string, more bool, sub subscription) (*node, bool) {
	if n == nil {
		return nil, false
	}
	var c *node
	if !more {
		cp := *n
		if n.sub == sub {
			// The next one moves up, keeping the delivery order.
			cp.sub = subscription{}
			if len(n.more) > 0 {
				cp.sub, cp.more = n.more[0], slices.Clone(n.more[1:])
			}
		} else if i := slices.Index(n.more, sub); i >= 0 {
			cp.more = slices.Delete(slices.Clone(n.more), i, i+1)
		} else {
			return n, false
		}
		if len(cp.more) == 0 {
			cp.more = nil
		}
		c = &cp
	} else {
		level, rest, more := strings.Cut(rest, "/")
		child, removed := n.lookup(level).without(rest, more, sub)
		if !removed {
			return n, false
		}
		c = n.withChild(level, child)
	}
	if c.empty() {
		return nil, true // prune
	}
	return c, true
}

// withChild returns a copy of n whose child for level is child (none if nil).
func (n *node) withChild(level string, child *node) *node {
	c := *n
	switch level {
	case "+":
		c.plus = child
	case "#":
		c.hash = child
	default:
		c.setLiteral(level, child)
	}
	return &c
}

// setLiteral sets c's literal child for level to child (removes it if nil),
// keeping one child in the node and more in a fresh map. c is a copy being
// built, whose map is still shared with the original.
func (c *node) setLiteral(level string, child *node) {
	if c.children == nil && (c.one == nil || c.oneLevel == level) {
		if child == nil {
			c.oneLevel, c.one = "", nil
		} else if c.one == nil {
			// Clone so the trie does not pin the caller's filter string
			// (perhaps a slice of a larger decoded buffer) for as long as
			// the subscription lives.
			c.oneLevel, c.one = strings.Clone(level), child
		} else {
			c.one = child
		}
		return
	}
	m := maps.Clone(c.children) // copies the table wholesale: several times faster than re-inserting
	if m == nil {
		m = map[string]*node{c.oneLevel: c.one}
		c.oneLevel, c.one = "", nil
	}
	delete(m, level)
	if child != nil {
		m[strings.Clone(level)] = child
	}
	c.children = m
	if len(m) == 1 {
		for l, n := range m {
			c.oneLevel, c.one, c.children = l, n, nil
		}
	} else if len(m) == 0 {
		c.children = nil
	}
}

// literal returns n's child for the literal level, or nil.
func (n *node) literal(level string) *node {
	if n.one != nil {
		if n.oneLevel == level {
			return n.one
		}
		return nil
	}
	return n.children[level]
}

// lookup returns n's child for level, or nil.
func (n *node) lookup(level string) *node {
	switch level {
	case "+":
		return n.plus
	case "#":
		return n.hash
	}
	return n.literal(level)
}

func (n *node) empty() bool {
	return n.sub.s == nil && n.one == nil && len(n.children) == 0 && n.plus == nil && n.hash == nil
}

// Publish delivers m to every subscription whose filter matches m.Topic and
// returns how many did. It validates nothing: the caller has checked the
// topic with ValidateTopic.
func (b *Bus) Publish(m *Message) int {
	r := b.root.Load()
	count := 0
	// A filter starting with a wildcard does not see '$' topics (MQTT
	// 4.7.2), which keeps "#" from matching system topics such as "$aws/...".
	dollar := len(m.Topic) > 0 && m.Topic[0] == '$'
	if r.hash != nil && !dollar {
		count += r.hash.deliver(m)
	}
	level, rest, more := strings.Cut(m.Topic, "/")
	if c := r.literal(level); c != nil {
		count += c.publish(m, rest, more)
	}
	if r.plus != nil && !dollar {
		count += r.plus.publish(m, rest, more)
	}
	b.published.Add(1)
	b.delivered.Add(uint64(count))
	return count
}

// publish delivers m to the subscriptions at and below n, once n has matched
// the topic's levels before rest; more is false when no level is left. Each
// node is visited at most once per publish, because the topic fixes the level
// compared at each depth.
func (n *node) publish(m *Message, rest string, more bool) int {
	count := 0
	if n.hash != nil {
		count += n.hash.deliver(m) // '#' matches the parent level as well as children
	}
	if !more {
		return count + n.deliver(m)
	}
	level, rest, more := strings.Cut(rest, "/")
	if c := n.literal(level); c != nil {
		count += c.publish(m, rest, more)
	}
	if n.plus != nil {
		count += n.plus.publish(m, rest, more)
	}
	return count
}

func (n *node) deliver(m *Message) int {
	if n.sub.s == nil {
		return 0
	}
	n.sub.s.Deliver(n.sub.id, m)
	for _, sub := range n.more {
		sub.s.Deliver(sub.id, m)
	}
	return 1 + len(n.more)
}

// Len returns the number of subscriptions.
func (b *Bus) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// maxLen is the longest topic or filter, in bytes: MQTT's string length limit.
const maxLen = 65535

// ValidateTopic reports what, if anything, makes topic unfit to publish on:
// it must be non-empty, at most 65535 bytes, and hold no '+', '#' or NUL.
func ValidateTopic(topic string) error {
	if topic == "" {
		return errors.New("bus: invalid topic: empty")
	}
	if len(topic) > maxLen {
		return fmt.Errorf("bus: invalid topic %s: %d bytes, over the limit of %d", quote(topic), len(topic), maxLen)
	}
	if !utf8.ValidString(topic) {
		return fmt.Errorf("bus: invalid topic %s: not UTF-8 (MQTT topics are UTF-8 strings)", quote(topic))
	}
	for i := 0; i < len(topic); i++ {
		switch c := topic[i]; c {
		case '+', '#':
			return fmt.Errorf("bus: invalid topic %s: wildcard %q at byte %d (wildcards belong in filters)", quote(topic), c, i)
		case 0:
			return fmt.Errorf("bus: invalid topic %s: NUL at byte %d", quote(topic), i)
		}
	}
	return nil
}

// ValidateFilter reports what, if anything, makes filter unfit to subscribe
// with: it must be non-empty, at most 65535 bytes, hold no NUL, use '+' and
// '#' only as whole levels, and '#' only as the last level.
func ValidateFilter(filter string) error {
	if filter == "" {
		return errors.New("bus: invalid filter: empty")
	}
	if len(filter) > maxLen {
		return fmt.Errorf("bus: invalid filter %s: %d bytes, over the limit of %d", quote(filter), len(filter), maxLen)
	}
	if !utf8.ValidString(filter) {
		return fmt.Errorf("bus: invalid filter %s: not UTF-8 (MQTT filters are UTF-8 strings)", quote(filter))
	}
	for i := 0; i < len(filter); i++ {
		switch c := filter[i]; c {
		case '+', '#':
			if (i > 0 && filter[i-1] != '/') || (i+1 < len(filter) && filter[i+1] != '/') {
				return fmt.Errorf("bus: invalid filter %s: wildcard %q at byte %d is not a whole level", quote(filter), c, i)
			}
			if c == '#' && i+1 != len(filter) {
				return fmt.Errorf("bus: invalid filter %s: '#' at byte %d is not the last level", quote(filter), i)
			}
		case 0:
			return fmt.Errorf("bus: invalid filter %s: NUL at byte %d", quote(filter), i)
		}
	}
	return nil
}

// Match reports whether topic matches filter under the rules in the package
// comment. An invalid filter or topic matches nothing, so a pattern nobody
// validated can never match more than it appears to.
func Match(filter, topic string) bool {
	if ValidateFilter(filter) != nil || ValidateTopic(topic) != nil {
		return false
	}
	if topic[0] == '$' && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	for {
		flevel, frest, fmore := strings.Cut(filter, "/")
		if flevel == "#" {
			return true
		}
		tlevel, trest, tmore := strings.Cut(topic, "/")
		if flevel != "+" && flevel != tlevel {
			return false
		}
		switch {
		case !fmore:
			return !tmore
		case !tmore:
			return frest == "#" // "a/#" matches "a"
		}
		filter, topic = frest, trest
	}
}

// quote quotes s for an error message, cut short so that a 64 KiB topic does
// not become a 64 KiB log line.
func quote(s string) string {
	const limit = 64
	if len(s) <= limit {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q...", s[:limit])
}
