package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	moss "github.com/moss-edge/moss/sdk/go"
)

// warnEvery is the least time between two warnings about the same mapping
// dropping messages for the same reason; the drops in between are counted
// and reported with the next warning, or by a timer when none comes.
const warnEvery = 10 * time.Second

// host is what the bridge needs from the Moss host. main.go implements it
// with the SDK; the tests, natively, with a fake.
type host interface {
	// subscribe calls h with every message on side whose topic matches
	// filter, until the returned function is called.
	subscribe(side Side, filter string, h func(topic string, payload []byte)) (unsubscribe func() error, err error)
	// publish sends a message on side; qos is for the cloud only.
	publish(side Side, topic string, payload []byte, qos int) error
	log(level slog.Level, msg string)
	// after runs fn once, after d (a host timer).
	after(d time.Duration, fn func()) error
	now() time.Time
}

// bridge forwards messages along the current mappings. The host makes one
// call into a component at a time, so it needs no lock.
type bridge struct {
	host    host
	routes  []*route
	flusher bool // a timer is set to report drops not yet warned of
}

// route is a mapping at work: its subscription and what it has done.
// Routes outlive a configuration change that keeps their mapping.
type route struct {
	m         Mapping
	label     string // label(index, name) in the current list
	unsub     func() error
	forwarded uint64
	drops     [numReasons]drops
}

// drops counts a route's messages lost for one reason.
type drops struct {
	total    uint64
	unwarned uint64    // since the last warning
	warned   time.Time // when the last warning was logged
	last     string    // the last error, for the timer's report
}

// reason is why a message could not be forwarded.
type reason int

const (
	spoolFull   reason = iota // E_FULL: the host's cloud spool refused a QoS 1 message
	unavailable               // E_UNAVAILABLE: QoS 0 while the link is down, or no cloud link
	denied                    // E_DENIED: the manifest grants no publish on the topic
	rateLimited               // E_RATE: over the component's publish_rate
	refused                   // E_INVALID, E_TOO_LARGE...: the topic or payload cannot go there
	numReasons
)

var reasonText = [numReasons]string{
	spoolFull:   "the cloud spool is full",
	unavailable: "the cloud link is down and QoS 0 messages are not kept offline (or the host has no cloud link)",
	denied:      "the manifest does not grant publishing there: widen its [[access]]",
	rateLimited: "over the component's publish_rate",
	refused:     "the host refused it",
}

func classify(err error) reason {
	switch {
	case errors.Is(err, moss.ErrFull):
		return spoolFull
	case errors.Is(err, moss.ErrUnavailable):
		return unavailable
	case errors.Is(err, moss.ErrDenied):
		return denied
	case errors.Is(err, moss.ErrRate):
		return rateLimited
	}
	return refused
}

func newBridge(h host) *bridge { return &bridge{host: h} }

// apply makes ms the mappings in force. Routes whose mapping is unchanged
// keep their subscription (no message is missed) and counters; new ones
// subscribe first, then the ones no longer wanted unsubscribe. If a
// subscription fails, the ones this call made are undone and the previous
// mappings stay in force.
func (b *bridge) apply(ms []Mapping) error {
	kept := make(map[*route]bool, len(b.routes))
	next := make([]*route, len(ms))
	var made []*route
	for i, m := range ms {
		for _, r := range b.routes {
			if r.m == m && !kept[r] {
				next[i], kept[r] = r, true
				break
			}
		}
		if next[i] != nil {
			continue
		}
		r := &route{m: m, label: label(i, m.Name)}
		unsub, err := b.host.subscribe(m.Source, m.Filter, func(topic string, payload []byte) { b.forward(r, topic, payload) })
		if err != nil {
			for _, r := range made {
				b.close(r, false)
			}
			return fmt.Errorf("%s: subscribe to %s %q: %w", label(i, m.Name), m.Source, m.Filter, err)
		}
		r.unsub = unsub
		next[i] = r
		made = append(made, r)
	}
	for _, r := range b.routes {
		if !kept[r] {
			b.close(r, true)
		}
	}
	for i, r := range next {
		r.label = label(i, r.m.Name)
		if !kept[r] {
			b.host.log(slog.LevelInfo, fmt.Sprintf("%s: forwarding %s", r.label, r.m))
		}
	}
	if len(next) == 0 {
		b.host.log(slog.LevelInfo, "no mappings: forwarding nothing")
	}
	b.routes = next
	return nil
}

// close ends a route's subscription and, when report is set, logs what it
// did.
func (b *bridge) close(r *route, report bool) {
	if err := r.unsub(); err != nil {
		b.host.log(slog.LevelWarn, fmt.Sprintf("%s: unsubscribe from %s %q: %v", r.label, r.m.Source, r.m.Filter, err))
	}
	if report {
		b.host.log(slog.LevelInfo, fmt.Sprintf("%s: stopped forwarding %s: %s", r.label, r.m, r.summary()))
	}
}

// stop reports what every route did; the host ends the subscriptions.
func (b *bridge) stop() {
	for _, r := range b.routes {
		b.host.log(slog.LevelInfo, fmt.Sprintf("%s: %s", r.label, r.summary()))
	}
}

// summary is "forwarded N, dropped M (spool full: a, ...)".
func (r *route) summary() string {
	var total uint64
	var parts []string
	for why, d := range r.drops {
		if d.total > 0 {
			total += d.total
			parts = append(parts, fmt.Sprintf("%s: %d", reasonKey[why], d.total))
		}
	}
	s := fmt.Sprintf("forwarded %d, dropped %d", r.forwarded, total)
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

var reasonKey = [numReasons]string{
	spoolFull: "spool full", unavailable: "unavailable", denied: "denied", rateLimited: "rate", refused: "refused",
}

// forward sends one message on. The payload is valid only during this
// call, which is all the host functions need.
func (b *bridge) forward(r *route, topic string, payload []byte) {
	out := topic
	if r.m.TargetPrefix != "" {
		out = r.m.TargetPrefix + topic
	}
	err := b.host.publish(r.m.Target, out, payload, r.m.QoS)
	if err == nil {
		r.forwarded++
		return
	}
	why := classify(err)
	d := &r.drops[why]
	d.total++
	d.last = err.Error()
	now := b.host.now()
	if d.warned.IsZero() || now.Sub(d.warned) >= warnEvery {
		b.host.log(slog.LevelWarn, fmt.Sprintf("%s: dropped a message for %s %q: %s: %v (dropped_since_last_warning=%d dropped_total=%d)",
			r.label, r.m.Target, out, reasonText[why], err, d.unwarned+1, d.total))
		d.unwarned, d.warned = 0, now
		return
	}
	d.unwarned++
	if !b.flusher {
		// Nothing may be lost silently: if no later drop logs these,
		// the timer does.
		if err := b.host.after(warnEvery-now.Sub(d.warned), b.flush); err != nil {
			b.host.log(slog.LevelWarn, fmt.Sprintf("cannot set the timer that reports dropped messages: %v", err))
			return
		}
		b.flusher = true
	}
}

// flush logs the drops no warning has reported yet.
func (b *bridge) flush() {
	b.flusher = false
	now := b.host.now()
	for _, r := range b.routes {
		for why := range r.drops {
			d := &r.drops[why]
			if d.unwarned == 0 {
				continue
			}
			b.host.log(slog.LevelWarn, fmt.Sprintf("%s: dropped messages for %s: %s: last error: %s (dropped_since_last_warning=%d dropped_total=%d)",
				r.label, r.m.Target, reasonText[why], d.last, d.unwarned, d.total))
			d.unwarned, d.warned = 0, now
		}
	}
}
