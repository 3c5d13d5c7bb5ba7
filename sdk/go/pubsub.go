package moss

import (
	"fmt"
	"slices"

	"github.com/moss-edge/moss/abi"
)

// Message is a message delivered to a subscription.
//
// Payload aliases the buffer the host wrote the event batch into and is valid
// only until the handler returns: the next batch overwrites it. Copy it
// (bytes.Clone) to keep it. Topic is a string of its own and may be kept.
type Message struct {
	Topic   string
	Payload []byte
}

// Publish publishes payload on topic on the host's local bus, through the
// host function publish. It returns once the message is queued for every
// matching subscriber; a subscriber whose mailbox is full loses the message
// without failing the publisher.
//
// Publish is the per-message path: it encodes into a reused buffer and does
// not allocate. Errors: ErrInvalid (topic empty or holding +, # or NUL),
// ErrDenied (the manifest's access policy lacks pubsub.publish on the topic),
// ErrTooLarge (payload over the component's max_message limit).
func Publish(topic string, payload []byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.req = abi.AppendPublish(g.req[:0], topic, payload)
	return send(fnPublish, hostPublish)
}

// Subscription is a handler registered with Subscribe.
type Subscription struct{ s *subscription }

type subscription struct {
	id      uint32
	filter  string
	handler func(Message)
	cloud   bool // made with CloudSubscribe
}

// Subscribe calls h with every message whose topic matches filter (MQTT
// wildcards: + is one level, # the rest), through the host function subscribe.
//
// The host gives each filter one id, the same across restarts of the
// instance, so messages queued while the component restarts reach the
// handlers the new instance registers in its start function. Subscribing
// twice to one filter adds a second handler; each gets every message.
//
// Errors: ErrInvalid (malformed filter), ErrDenied (the access policy lacks
// pubsub.subscribe on the filter), ErrFull (too many subscriptions).
func Subscribe(filter string, h func(Message)) (Subscription, error) {
	if h == nil {
		return Subscription{}, fmt.Errorf("moss: subscribe %q: %w", filter, errNilFunc)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.req = abi.AppendText(abi.AppendText(abi.AppendMap(g.req[:0], 1), "filter"), filter)
	resp, err := call(fnSubscribe, hostSubscribe)
	if err != nil {
		return Subscription{}, err
	}
	id, err := decodeID(fnSubscribe, resp)
	if err != nil {
		return Subscription{}, err
	}
	s := &subscription{id: id, filter: filter, handler: h}
	updateSubs(id, append(slices.Clip((*subs.Load())[id]), s))
	return Subscription{s}, nil
}

// Filter returns the topic filter the subscription was made with.
func (s Subscription) Filter() string {
	if s.s == nil {
		return ""
	}
	return s.s.filter
}

// Unsubscribe removes the handler. When it was the filter's last handler the
// SDK also ends the subscription with the host function unsubscribe.
// Messages the host had already queued are dropped rather than handled.
// Unsubscribing twice is not an error.
func (s Subscription) Unsubscribe() error {
	if s.s == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	hs := (*subs.Load())[s.s.id]
	i := slices.Index(hs, s.s)
	if i < 0 {
		return nil
	}
	rest := slices.Delete(slices.Clone(hs), i, i+1)
	updateSubs(s.s.id, rest)
	if len(rest) > 0 {
		return nil
	}
	g.req = appendIDRequest(g.req[:0], s.s.id)
	if s.s.cloud {
		return send(fnCloudUnsubscribe, hostCloudUnsubscribe)
	}
	return send(fnUnsubscribe, hostUnsubscribe)
}
