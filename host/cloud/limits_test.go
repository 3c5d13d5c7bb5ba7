package cloud

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckPublish(t *testing.T) {
	long := strings.Repeat("a", MaxTopicBytes+1)
	for _, tc := range []struct {
		topic string
		size  int
		qos   byte
		want  error
	}{
		{"sensors/t1", 10, 0, nil},
		{"sensors/t1", MaxPayloadBytes, 1, nil},
		{strings.Repeat("a", MaxTopicBytes), 0, 1, nil},
		{"a/b/c/d/e/f/g/h", 0, 1, nil}, // 7 slashes
		{"$aws/things/t1/shadow/update", 10, 1, nil},
		{"$aws/things/t1/jobs/get", 10, 1, nil},
		{"$aws/rules/myrule/x", 10, 0, nil},
		{"sensors/t1", 10, 2, ErrQoS},
		{"sensors/t1", MaxPayloadBytes + 1, 1, ErrTooLarge},
		{long, 0, 1, ErrInvalid},
		{"a/b/c/d/e/f/g/h/i", 0, 1, ErrInvalid}, // 8 slashes
		{"$SYS/broker/load", 0, 0, ErrInvalid},
		{"$aws/things/t1/other", 0, 0, ErrInvalid},
		{"$aws/events/presence/connected/t1", 0, 0, ErrInvalid}, // subscribe only
		{"sensors/+", 0, 0, ErrInvalid},
		{"", 0, 0, ErrInvalid},
	} {
		err := CheckPublish(tc.topic, tc.size, tc.qos)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("CheckPublish(%.40q, %d, %d) = %v, want %v", tc.topic, tc.size, tc.qos, err, tc.want)
		}
	}
}

func TestCheckFilter(t *testing.T) {
	for _, tc := range []struct {
		filter string
		ok     bool
	}{
		{"sensors/#", true},
		{"$aws/things/+/shadow/update/delta", true},
		{"$aws/events/presence/connected/+", true},
		{"$SYS/#", false},
		{"a/b/c/d/e/f/g/h/#", false},
		{"a/#/b", false},
	} {
		if err := CheckFilter(tc.filter); (err == nil) != tc.ok {
			t.Errorf("CheckFilter(%q) = %v, want ok=%v", tc.filter, err, tc.ok)
		}
	}
}
