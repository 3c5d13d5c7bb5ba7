package cloud

import (
	"errors"
	"fmt"
	"strings"

	"github.com/moss-edge/moss/host/bus"
)

// IoT Core's limits (see the package doc for the source).
const (
	MaxTopicBytes    = 256
	MaxTopicSlashes  = 7
	MaxPayloadBytes  = 128 * 1024
	MaxSubscriptions = 50

	filtersPerSubscribe = 8
	maxInFlight         = 100
)

// Errors Publish and Subscribe return, wrapped with the detail. The host
// maps each to an ABI error code.
var (
	// ErrInvalid: a topic or filter is malformed, too long, has too many
	// levels or is reserved.
	ErrInvalid = errors.New("invalid topic")
	// ErrTooLarge: the payload is over MaxPayloadBytes.
	ErrTooLarge = errors.New("payload too large")
	// ErrQoS: QoS 2 (IoT Core has none) or a QoS above 2.
	ErrQoS = errors.New("unsupported QoS")
	// ErrSpoolFull: the spool has no room for a QoS 1 message.
	ErrSpoolFull = errors.New("spool full")
	// ErrOffline: a QoS 0 message while offline, with
	// keep_qos0_when_offline off.
	ErrOffline = errors.New("cloud offline")
	// ErrTooManySubscriptions: the connection already has MaxSubscriptions.
	ErrTooManySubscriptions = errors.New("too many cloud subscriptions")
	// ErrRefused: the broker answered a QoS 1 message with a failure
	// reason code (e.g. not authorised); sending it again will not help.
	ErrRefused = errors.New("broker refused the message")
	// ErrClosed: the link was closed.
	ErrClosed = errors.New("cloud link closed")
)

// CheckPublish reports whether IoT Core would take a publish of payload on
// topic with qos.
func CheckPublish(topic string, payloadLen int, qos byte) error {
	if qos > 1 {
		return fmt.Errorf("%w: QoS %d (AWS IoT Core supports QoS 0 and 1)", ErrQoS, qos)
	}
	if payloadLen > MaxPayloadBytes {
		return fmt.Errorf("%w: %d bytes (AWS IoT Core takes at most %d)", ErrTooLarge, payloadLen, MaxPayloadBytes)
	}
	if err := bus.ValidateTopic(topic); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return checkName("topic", topic, false)
}

// CheckFilter reports whether IoT Core would take a subscription to filter.
func CheckFilter(filter string) error {
	if err := bus.ValidateFilter(filter); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return checkName("topic filter", filter, true)
}

func checkName(what, s string, subscribe bool) error {
	if len(s) > MaxTopicBytes {
		return fmt.Errorf("%w: %s of %d bytes (AWS IoT Core takes at most %d)", ErrInvalid, what, len(s), MaxTopicBytes)
	}
	if n := strings.Count(s, "/"); n > MaxTopicSlashes {
		return fmt.Errorf("%w: %s %q has %d forward slashes (AWS IoT Core takes at most %d)", ErrInvalid, what, s, n, MaxTopicSlashes)
	}
	if strings.HasPrefix(s, "$") && !deviceTopic(s, subscribe) {
		return fmt.Errorf("%w: %s %q is reserved (devices may use only the $aws/things/THING/shadow|jobs|tunnels|defender|streams, $aws/rules, $aws/certificates and $aws/provisioning-templates topics)", ErrInvalid, what, s)
	}
	return nil
}

// deviceTopic reports whether a reserved topic is one IoT Core lets devices
// use. The list follows "Reserved topics" in the AWS IoT Core developer
// guide.
func deviceTopic(s string, subscribe bool) bool {
	lv := strings.Split(s, "/")
	if lv[0] != "$aws" || len(lv) < 2 {
		return false
	}
	switch lv[1] {
	case "things":
		if len(lv) < 4 {
			return false
		}
		switch lv[3] {
		case "shadow", "jobs", "tunnels", "defender", "streams":
			return true
		}
		return false
	case "rules", "certificates", "provisioning-templates":
		return len(lv) > 2
	case "events":
		return subscribe && len(lv) > 2
	}
	return false
}
