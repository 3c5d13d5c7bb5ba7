package moss

import (
	"fmt"
	"slices"

	"github.com/moss-edge/moss/abi"
)

// QoS levels for CloudPublish. AWS IoT Core has no QoS 2.
const (
	AtMostOnce  = 0 // QoS 0: fire and forget; refused while the link is down unless the host keeps QoS 0 offline
	AtLeastOnce = 1 // QoS 1: acknowledged by the broker or kept in the host's spool
)

// CloudPublish sends payload to topic on AWS IoT Core through the host's
// MQTT connection (host function cloud_publish). With AtLeastOnce it
// returns once the message is safe: acknowledged by the broker, or in the
// host's spool (on disk by default), which sends it in order when the link
// is up. The component's manifest must grant "cloud.publish" on the topic.
//
// Errors: ErrInvalid (topic over 256 bytes, over 7 slashes, wildcards, or
// a reserved $ topic), ErrTooLarge (payload over 128 KiB), ErrUnsupported
// (QoS 2), ErrFull (the spool is full: the message was not taken),
// ErrUnavailable (QoS 0 while offline), ErrDenied.
func CloudPublish(topic string, payload []byte, qos int) error {
	if qos < 0 || qos > 255 {
		return fmt.Errorf("moss: cloud_publish %q: QoS %d", topic, qos)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.req = abi.AppendText(abi.AppendText(abi.AppendMap(g.req[:0], 3), "topic"), topic)
	g.req = abi.AppendBytes(abi.AppendText(g.req, "payload"), payload)
	g.req = abi.AppendUint(abi.AppendText(g.req, "qos"), uint64(qos))
	return send(fnCloudPublish, hostCloudPublish)
}

// CloudSubscribe calls h with every message from AWS IoT Core whose topic
// matches filter (host function cloud_subscribe). The host shares one
// broker subscription per filter among all components and makes it again
// after every reconnect; the call succeeds while offline too. Unsubscribe
// the returned Subscription as for Subscribe.
//
// Errors: ErrInvalid, ErrDenied (no "cloud.subscribe" grant covering the
// filter), ErrFull (too many subscriptions: the component's, or IoT Core's
// 50 per connection).
func CloudSubscribe(filter string, h func(Message)) (Subscription, error) {
	if h == nil {
		return Subscription{}, fmt.Errorf("moss: cloud_subscribe %q: %w", filter, errNilFunc)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.req = abi.AppendText(abi.AppendText(abi.AppendMap(g.req[:0], 1), "filter"), filter)
	resp, err := call(fnCloudSubscribe, hostCloudSubscribe)
	if err != nil {
		return Subscription{}, err
	}
	id, err := decodeID(fnCloudSubscribe, resp)
	if err != nil {
		return Subscription{}, err
	}
	s := &subscription{id: id, filter: filter, handler: h, cloud: true}
	updateSubs(id, append(slices.Clip((*subs.Load())[id]), s))
	return Subscription{s}, nil
}
