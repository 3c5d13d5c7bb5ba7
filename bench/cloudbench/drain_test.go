package cloudbench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/moss-edge/moss/host/certs"
	"github.com/moss-edge/moss/host/cloud"
	"github.com/moss-edge/moss/host/store"
	"github.com/moss-edge/moss/internal/delayproxy"
	"github.com/moss-edge/moss/internal/mqtttest"
)

// drainOneWay is the delay the proxy adds in each direction: 100 ms more
// round trip, a cellular link's.
const drainOneWay = 50 * time.Millisecond

// BenchmarkSpoolDrain measures how long a full spool (the default 2.5 MiB
// of 256 B QoS 1 messages, filled while offline) takes to reach the broker
// over a link with 100 ms of added round trip: a loopback TCP proxy that
// holds each byte 50 ms each way, between the host's link and Mosquitto
// (mutual TLS, max_inflight_messages 100 as IoT Core's 100 unacknowledged
// publishes). The time runs from cloud.New with the filled spool (TLS
// handshake included) to the spool being empty, every message
// acknowledged. The publish rate cap is off: with the shipped
// max_publish_rate of 100/s the drain cannot be shorter than messages/100
// seconds. Run it with -benchtime 1x; -runs runs, the median reported.
func BenchmarkSpoolDrain(b *testing.B) {
	for range b.N {
		br := mqtttest.Start(b, mqtttest.Options{Config: []string{"max_inflight_messages 100"}})
		px, err := delayproxy.Start(br.Addr(), drainOneWay)
		if err != nil {
			b.Fatal(err)
		}
		set := br.Certs()
		tc, err := certs.TLSConfig(set.Cert, set.Key, set.CA, "127.0.0.1", nil)
		if err != nil {
			b.Fatal(err)
		}
		var secs, msgs []float64
		for r := range *runs {
			st, err := store.Open(filepath.Join(b.TempDir(), "moss.db"))
			if err != nil {
				b.Fatal(err)
			}
			n := fillSpool(b, st)
			t0 := time.Now()
			l, err := cloud.New(cloud.Options{Endpoint: "127.0.0.1", Port: px.Port(), ThingName: set.ThingName, TLS: tc, Store: st})
			if err != nil {
				b.Fatal(err)
			}
			deadline := t0.Add(10 * time.Minute)
			for s := l.Status(); s.Spooled > 0 || s.State != cloud.StateConnected; s = l.Status() {
				if time.Now().After(deadline) {
					b.Fatalf("run %d: spool not drained after 10 min: %+v", r, s)
				}
				time.Sleep(time.Millisecond) // polling what is measured
			}
			d := time.Since(t0)
			if s := l.Status(); int(s.Sent) < n {
				b.Fatalf("run %d: %d of %d messages sent", r, s.Sent, n)
			}
			l.Close()
			st.Close()
			secs, msgs = append(secs, d.Seconds()), append(msgs, float64(n))
		}
		px.Close()
		b.ReportMetric(median(secs), "drain-s")
		b.ReportMetric(median(msgs), "messages")
		b.ReportMetric(median(msgs)/median(secs), "msg/s")
		b.ReportMetric(float64(2*drainOneWay/time.Millisecond), "added-rtt-ms")
	}
	b.ReportMetric(0, "ns/op")
}

// fillSpool fills an offline link's spool on st to ErrSpoolFull with
// 256 B QoS 1 messages and returns how many it holds.
func fillSpool(b *testing.B, st *store.Store) int {
	l, err := cloud.New(cloud.Options{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	payload := make([]byte, 256)
	for i := 0; ; i++ {
		err := l.Publish(context.Background(), fmt.Sprintf("bench/spool/%d", i), payload, 1)
		if errors.Is(err, cloud.ErrSpoolFull) {
			return i
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}
