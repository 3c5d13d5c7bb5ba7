// Command cloudprobe is a test component for the cloud host functions. On
// start it subscribes to the cloud filter "down/#" and republishes what
// arrives on the local topic "probe/down". On each local message on
// "probe/up" it forwards the payload to the cloud topic "up/data" at QoS 1,
// then tries IoT Core's limits (a 257-byte topic, a 128 KiB + 1 payload,
// QoS 2, a reserved topic, and a topic it has no grant for) and publishes
// each outcome on "probe/result" as "NAME CODE" (CODE 0 on success).
package main

import (
	"errors"
	"fmt"
	"strings"

	moss "github.com/moss-edge/moss/sdk/go"
)

func init() { moss.OnStart(start) }

func main() {}

func start() error {
	if _, err := moss.CloudSubscribe("down/#", func(m moss.Message) {
		moss.Publish("probe/down", []byte(m.Topic+" "+string(m.Payload)))
	}); err != nil {
		return err
	}
	_, err := moss.Subscribe("probe/up", func(m moss.Message) {
		report("forward", moss.CloudPublish("up/data", m.Payload, moss.AtLeastOnce))
		report("long-topic", moss.CloudPublish("up/"+strings.Repeat("t", 254), nil, 1))
		report("big-payload", moss.CloudPublish("up/big", make([]byte, 128*1024+1), 1))
		report("qos2", moss.CloudPublish("up/q", nil, 2))
		report("reserved", moss.CloudPublish("$aws/other/x", nil, 1))
		report("denied", moss.CloudPublish("elsewhere/x", nil, 1))
	})
	return err
}

func report(name string, err error) {
	code := 0
	var e *moss.Error
	if errors.As(err, &e) {
		code = int(e.Code)
	} else if err != nil {
		code = -1
	}
	moss.Publish("probe/result", fmt.Appendf(nil, "%s %d", name, code))
}
