package cloudbench

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/certs"
	"github.com/moss-edge/moss/host/cloud"
	"github.com/moss-edge/moss/host/config"
	"github.com/moss-edge/moss/host/daemon"
	"github.com/moss-edge/moss/host/logs"
	"github.com/moss-edge/moss/internal/mqtttest"
	"github.com/moss-edge/moss/internal/testwasm"
)

var (
	runs  = flag.Int("runs", 5, "runs per figure (the median is reported)")
	count = flag.Int("count", 5000, "messages per run")
)

const topic = "bench/data"

// subscriber counts messages arriving at the broker's far side: a bare
// paho client subscribed to bench/data.
type subscriber struct {
	cm   *autopaho.ConnectionManager
	n    atomic.Int64
	want atomic.Int64
	done chan struct{}
	mu   sync.Mutex
}

func dial(ctx context.Context, b *mqtttest.Broker, id string, wire *atomic.Int64, onMsg func(paho.PublishReceived) (bool, error)) (*autopaho.ConnectionManager, error) {
	set := b.Certs()
	tc, err := certs.TLSConfig(set.Cert, set.Key, set.CA, "127.0.0.1", nil)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse("tls://" + b.Addr())
	cfg := autopaho.ClientConfig{
		ServerUrls: []*url.URL{u}, TlsCfg: tc, KeepAlive: 60, CleanStartOnInitialConnection: true,
		ClientConfig: paho.ClientConfig{ClientID: id},
	}
	if wire != nil {
		// The stock connection (paho's thread-safe wrapper of a TLS
		// conn), counting what it writes: the baseline for bytes/message.
		cfg.AttemptConnection = func(ctx context.Context, _ autopaho.ClientConfig, u *url.URL) (net.Conn, error) {
			var d net.Dialer
			raw, err := d.DialContext(ctx, "tcp", u.Host)
			if err != nil {
				return nil, err
			}
			c := tls.Client(&countConn{Conn: raw, n: wire}, tc)
			if err := c.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, err
			}
			return packets.NewThreadSafeConn(c), nil
		}
	}
	if onMsg != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){onMsg}
	}
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := cm.AwaitConnection(ctx); err != nil {
		return nil, err
	}
	return cm, nil
}

func newSubscriber(ctx context.Context, b *mqtttest.Broker) (*subscriber, error) {
	s := &subscriber{}
	cm, err := dial(ctx, b, "bench-sub", nil, func(paho.PublishReceived) (bool, error) {
		if s.n.Add(1) == s.want.Load() {
			s.mu.Lock()
			close(s.done)
			s.mu.Unlock()
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	s.cm = cm
	if _, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: 1}}}); err != nil {
		return nil, err
	}
	return s, nil
}

// expect arms the subscriber for n more messages.
func (s *subscriber) expect(n int) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done = make(chan struct{})
	s.want.Store(s.n.Load() + int64(n))
	return s.done
}

// mossHost runs the host in process with the bench publisher, its cloud
// link on b.
type mossHost struct {
	d      *daemon.Daemon
	logs   *logs.Buffer
	cancel context.CancelFunc
	done   chan error
}

func startHost(b *testing.B, br *mqtttest.Broker, qos int) *mossHost {
	dir := b.TempDir()
	root := testwasm.Root(b)
	pubDir := filepath.Join(dir, "pub")
	os.MkdirAll(pubDir, 0o755)
	wasm, err := os.ReadFile(testwasm.GoPath(b, filepath.Join(root, "bench/guests/pub")))
	if err != nil {
		b.Fatal(err)
	}
	os.WriteFile(filepath.Join(pubDir, "pub.wasm"), wasm, 0o644)
	manifest, _ := os.ReadFile(filepath.Join(root, "bench/guests/pub/component.toml"))
	os.WriteFile(filepath.Join(pubDir, "component.toml"), manifest, 0o644)
	set := br.Certs()
	cfgText := fmt.Sprintf(`data_dir = %q
cache_dir = %q
log_level = "warn"
[cloud]
endpoint = "127.0.0.1"
port = %d
thing_name = %q
cert = %q
key = %q
root_ca = %q
max_publish_rate = 0
[[components]]
manifest = %q
[components.config]
count = %d
burst = 100
cloud_qos = %d
`, filepath.Join(dir, "data"), testwasm.CompileCacheDir(b), br.Port(), set.ThingName, set.Cert, set.Key, set.CA,
		filepath.Join(pubDir, "component.toml"), *count, qos)
	cfgFile := filepath.Join(dir, "moss.toml")
	os.WriteFile(cfgFile, []byte(cfgText), 0o644)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		b.Fatal(err)
	}
	buf := logs.NewBuffer(100)
	d, err := daemon.New(cfg, slog.New(buf.Handler(nil)), buf)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &mossHost{d: d, logs: buf, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- d.Run(ctx) }()
	select {
	case <-d.Ready():
	case err := <-h.done:
		b.Fatalf("host: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for d.Status().Cloud.State != cloud.StateConnected {
		if time.Now().After(deadline) {
			b.Fatalf("cloud link not up: %+v", d.Status().Cloud)
		}
		time.Sleep(time.Millisecond) // polling: no event to wait on from outside
	}
	return h
}

// stop stops the host; the next one connects with the same client id.
func (h *mossHost) stop() {
	h.cancel()
	<-h.done
}

// run triggers one run of the publisher and returns messages/s delivered
// to the subscriber.
func (h *mossHost) run(s *subscriber, n int, run uint32) (float64, error) {
	done := s.expect(n)
	var p [4]byte
	binary.LittleEndian.PutUint32(p[:], run)
	t := time.Now()
	h.d.Bus().Publish(&bus.Message{Topic: "bench/go", Payload: p[:]})
	select {
	case <-done:
		return float64(n) / time.Since(t).Seconds(), nil
	case <-time.After(30 * time.Second):
		return 0, fmt.Errorf("moss: %d of %d messages arrived", s.n.Load()-(s.want.Load()-int64(n)), n)
	}
}

// bare publishes n messages with a plain autopaho client, one after the
// other as the component does (QoS 1: each waits for its PUBACK).
func bare(ctx context.Context, cm *autopaho.ConnectionManager, s *subscriber, n int, qos byte) (float64, error) {
	done := s.expect(n)
	payload := make([]byte, 256)
	t := time.Now()
	for i := range n {
		binary.LittleEndian.PutUint32(payload[4:], uint32(i))
		if _, err := cm.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Payload: payload}); err != nil {
			return 0, err
		}
	}
	select {
	case <-done:
		return float64(n) / time.Since(t).Seconds(), nil
	case <-time.After(30 * time.Second):
		return 0, fmt.Errorf("bare: %d of %d messages arrived", s.n.Load()-(s.want.Load()-int64(n)), n)
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkCloud reports, each a median of -runs runs alternating Moss and
// the bare client: messages/s for QoS 0 and 1, their ratio, and bytes on
// the wire per message. One iteration does all the runs; run it with
// -benchtime 1x.
func BenchmarkCloud(b *testing.B) {
	for range b.N {
		// Mosquitto queues at most 1000 messages for a subscriber that
		// falls behind and drops the rest; the benchmark counts every one.
		br := mqtttest.Start(b, mqtttest.Options{Config: []string{"max_queued_messages 0"}})
		ctx := context.Background()
		s, err := newSubscriber(ctx, br)
		if err != nil {
			b.Fatal(err)
		}
		var bareWire atomic.Int64
		pub, err := dial(ctx, br, "bench-bare", &bareWire, nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, qos := range []int{0, 1} {
			h := startHost(b, br, qos)
			var m, p []float64
			mossWire0 := h.d.Status().Cloud.BytesOut
			bare0 := bareWire.Load()
			for r := range *runs {
				x, err := h.run(s, *count, uint32(r))
				if err != nil {
					for _, rec := range h.logs.Tail("", 20) {
						b.Log(rec)
					}
					b.Fatalf("QoS %d run %d: %v; cloud %+v", qos, r, err, h.d.Status().Cloud)
				}
				y, err := bare(ctx, pub, s, *count, byte(qos))
				if err != nil {
					b.Fatal(err)
				}
				m, p = append(m, x), append(p, y)
			}
			msgs := float64(*runs * *count)
			b.ReportMetric(median(m), fmt.Sprintf("moss-qos%d-msg/s", qos))
			b.ReportMetric(median(p), fmt.Sprintf("bare-qos%d-msg/s", qos))
			b.ReportMetric(median(m)/median(p), fmt.Sprintf("qos%d-ratio", qos))
			b.ReportMetric(float64(h.d.Status().Cloud.BytesOut-mossWire0)/msgs, fmt.Sprintf("moss-qos%d-wire-B/msg", qos))
			b.ReportMetric(float64(bareWire.Load()-bare0)/msgs, fmt.Sprintf("bare-qos%d-wire-B/msg", qos))
			h.stop()
		}
		pub.Disconnect(ctx)
		s.cm.Disconnect(ctx)
	}
	b.ReportMetric(0, "ns/op") // the figures are the metrics above
}

// BenchmarkIdleWire measures what keeping an idle link costs on the wire,
// TLS included, as an hour's worth: keep-alives at the default keep_alive
// (60 s) and one reconnect with 10 subscriptions restored. It measures a
// keep-alive exchange at a 1 s keep-alive, and a broker restart.
func BenchmarkIdleWire(b *testing.B) {
	for range b.N {
		br := mqtttest.Start(b, mqtttest.Options{})
		set := br.Certs()
		tc, err := certs.TLSConfig(set.Cert, set.Key, set.CA, "127.0.0.1", nil)
		if err != nil {
			b.Fatal(err)
		}
		l, err := cloud.New(cloud.Options{Endpoint: "127.0.0.1", Port: br.Port(), ThingName: set.ThingName, TLS: tc,
			KeepAlive: time.Second, ReconnectMin: 10 * time.Millisecond, ReconnectMax: 100 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		var sink nopSub
		for i := range 10 {
			l.Subscribe(fmt.Sprintf("cmd/%d/#", i), sink, uint32(i+1))
		}
		waitFor(b, func() bool { return l.Status().State == cloud.StateConnected })
		br.WaitLog(b, "\tcmd/9/# (QoS 1)")
		wire := func() uint64 { st := l.Status(); return st.BytesIn + st.BytesOut }
		// Keep-alives: five 1 s periods.
		w0, t0 := wire(), time.Now()
		time.Sleep(5 * time.Second) // the quantity measured is idle time itself
		perSecondAt1s := float64(wire()-w0) / time.Since(t0).Seconds()
		// A reconnect: the broker restarts, the link comes back and
		// restores its subscriptions.
		br.Stop()
		waitFor(b, func() bool { return l.Status().State != cloud.StateConnected })
		w1 := wire()
		br.Restart()
		waitFor(b, func() bool { return l.Status().State == cloud.StateConnected && l.Status().Reconnects == 1 })
		br.WaitLog(b, "\tcmd/9/# (QoS 1)")
		reconnect := float64(wire() - w1)
		l.Close()
		// One PINGREQ/PINGRESP per keep-alive period.
		perHour := perSecondAt1s*3600/60 + reconnect
		b.ReportMetric(perSecondAt1s, "ping-B/exchange")
		b.ReportMetric(reconnect, "reconnect-B")
		b.ReportMetric(perHour, "idle-B/hour")
	}
	b.ReportMetric(0, "ns/op")
}

type nopSub struct{}

func (nopSub) Deliver(uint32, *bus.Message) {}

func waitFor(b *testing.B, cond func() bool) {
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}
