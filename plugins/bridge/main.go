// Command bridge is the Moss MQTT bridge, a first-party component: it
// forwards messages between the host's local pub/sub and AWS IoT Core
// along the topic mappings in its configuration, as Greengrass's MQTT
// bridge component (aws.greengrass.clientdevices.mqtt.Bridge) does. It uses
// only the public ABI, through the Go SDK. README.md is the configuration
// reference.
//
// The parts are split so that all but this file run natively in tests:
// mapping.go parses and validates the mappings, bridge.go forwards along
// them through the small host interface, and this file implements that
// interface with the SDK and wires up the start, stop and configuration
// events.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o bridge.wasm .
package main

import (
	"errors"
	"log/slog"
	"time"

	moss "github.com/moss-edge/moss/sdk/go"
)

// b is this instance's bridge, made by start.
var b *bridge

func init() {
	moss.OnStart(start)
	moss.OnStop(func() {
		if b != nil {
			b.stop()
		}
	})
}

func main() {} // a component's main never runs

func start() error {
	b = newBridge(sdkHost{})
	// A deployment that changes the mappings takes effect at once;
	// unchanged mappings keep their subscriptions.
	if err := moss.Config().Watch(func([]string) { reload() }, "mappings"); err != nil {
		return err
	}
	reload()
	return nil
}

// reload reads the mappings and applies them. Mappings that are not valid
// make the component ERRORED, with every problem logged and the reason in
// `moss list`, rather than leave it forwarding along a configuration that
// is no longer the one deployed.
func reload() {
	ms, err := readMappings()
	if err == nil {
		err = b.apply(ms)
	}
	if err == nil {
		return
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			moss.Errorf("%s", p)
		}
	} else {
		moss.Errorf("%v", err)
	}
	if err := moss.ReportState(moss.Errored, "bad mappings: "+clip(err.Error(), 2000)); err != nil {
		moss.Errorf("report_state: %v", err)
	}
}

// readMappings reads the configuration's mappings; none configured is an
// empty list.
func readMappings() ([]Mapping, error) {
	var v any
	if err := moss.Config().Get(&v, "mappings"); err != nil {
		if errors.Is(err, moss.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	return ParseMappings(v)
}

// clip shortens s to at most n bytes, at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "..."
}

// sdkHost is the host interface over the SDK.
type sdkHost struct{}

func (sdkHost) subscribe(side Side, filter string, h func(string, []byte)) (func() error, error) {
	fn := func(m moss.Message) { h(m.Topic, m.Payload) }
	var s moss.Subscription
	var err error
	if side == Cloud {
		s, err = moss.CloudSubscribe(filter, fn)
	} else {
		s, err = moss.Subscribe(filter, fn)
	}
	if err != nil {
		return nil, err
	}
	return s.Unsubscribe, nil
}

func (sdkHost) publish(side Side, topic string, payload []byte, qos int) error {
	if side == Cloud {
		return moss.CloudPublish(topic, payload, qos)
	}
	return moss.Publish(topic, payload)
}

func (sdkHost) log(level slog.Level, msg string) { moss.Log(level, msg) }

func (sdkHost) after(d time.Duration, fn func()) error {
	_, err := moss.After(d, fn)
	return err
}

func (sdkHost) now() time.Time { return time.Now() }
