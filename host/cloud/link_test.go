package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/certs"
	"github.com/moss-edge/moss/internal/delayproxy"
	"github.com/moss-edge/moss/internal/mqtttest"
	"github.com/moss-edge/moss/internal/poll"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testLink connects to b as its device; tune may change the options.
func testLink(t *testing.T, b *mqtttest.Broker, tune func(*Options)) *Link {
	t.Helper()
	set := b.Certs()
	tc, err := certs.TLSConfig(set.Cert, set.Key, set.CA, "127.0.0.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{
		Endpoint: "127.0.0.1", Port: b.Port(), ThingName: set.ThingName, TLS: tc,
		ReconnectMin: 50 * time.Millisecond, ReconnectMax: 500 * time.Millisecond,
		KeepAlive: 30 * time.Second, ConnectTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if tune != nil {
		tune(&opt)
	}
	l, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// waitState waits, on the link's own change events, until cond holds.
func waitState(t *testing.T, l *Link, what string, cond func(Status) bool) Status {
	t.Helper()
	deadline := time.NewTimer(poll.Deadline)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		ch := l.changed
		l.mu.Unlock()
		if st := l.Status(); cond(st) {
			return st
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; status %+v", what, l.Status())
		}
	}
}

func connected(s Status) bool { return s.State == StateConnected }

type recorder struct {
	mu  sync.Mutex
	got []string
	ch  chan struct{}
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 1)} }

func (r *recorder) Deliver(id uint32, m *bus.Message) {
	r.mu.Lock()
	r.got = append(r.got, fmt.Sprintf("%d %s %s", id, m.Topic, m.Payload))
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

func (r *recorder) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.NewTimer(poll.Deadline)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		got := append([]string(nil), r.got...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-r.ch:
		case <-deadline.C:
			t.Fatalf("got %d messages, want %d: %q", len(got), n, got)
		}
	}
}

func TestPublishAndSubscribe(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	l := testLink(t, b, nil)
	waitState(t, l, "connected", connected)
	ctx := context.Background()

	sub := b.Sub(t, "dev/#")
	for i, qos := range []byte{0, 1} {
		if err := l.Publish(ctx, "dev/up", []byte("hello "+strconv.Itoa(i)), qos); err != nil {
			t.Fatalf("QoS %d: %v", qos, err)
		}
		if m, ok := sub.Next(poll.Deadline); !ok || m.String() != "dev/up hello "+strconv.Itoa(i) {
			t.Fatalf("QoS %d: mosquitto_sub got %q, %v", qos, m, ok)
		}
	}

	// Two components on overlapping filters: one broker subscription per
	// filter, each delivery to its own subscription id.
	r := newRecorder()
	for id, f := range map[uint32]string{1: "cmd/#", 2: "cmd/+/reboot"} {
		if err := l.Subscribe(f, r, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Subscribe("cmd/#", r, 3); err != nil { // same filter, another subscriber id
		t.Fatal(err)
	}
	waitSubscribed(t, b, "cmd/#")
	if n := strings.Count(b.Log(), "\tcmd/#"); n != 1 {
		t.Errorf("broker saw %d subscriptions to cmd/#, want 1 shared one", n)
	}
	if strings.Contains(b.Log(), "\tcmd/+/reboot") {
		t.Errorf("cmd/+/reboot, covered by cmd/#, was subscribed on the broker: messages would arrive twice")
	}
	b.Pub(t, "cmd/dev1/reboot", []byte("now"), 1)
	got := r.wait(t, 3)
	want := []string{"1 cmd/dev1/reboot now", "2 cmd/dev1/reboot now", "3 cmd/dev1/reboot now"}
	if fmt.Sprint(sorted(got)) != fmt.Sprint(want) {
		t.Errorf("delivered %q, want %q", got, want)
	}
	if st := l.Status(); st.Subscriptions != 2 || st.Sent != 2 || st.Received != 1 || st.BytesOut == 0 {
		t.Errorf("status %+v", st)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// waitSubscribed waits until the broker has logged a SUBSCRIBE for each
// filter (mosquitto logs "\t<filter> (QoS 1)" after "Received SUBSCRIBE").
func waitSubscribed(t *testing.T, b *mqtttest.Broker, filters ...string) {
	t.Helper()
	for _, f := range filters {
		b.WaitLog(t, "\t"+f+" (QoS 1)")
	}
}

// publishedTopics lists, in order, the topics the broker received from
// the client id, across restarts, from its log.
func publishedTopics(b *mqtttest.Broker, client, prefix string) []string {
	re := regexp.MustCompile(`Received PUBLISH from ` + regexp.QuoteMeta(client) + ` \([^']*'(` + regexp.QuoteMeta(prefix) + `[^']*)'`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(b.Log(), -1) {
		out = append(out, m[1])
	}
	return out
}

// checkInOrder checks that every numbered topic 0..n-1 arrived and that,
// duplicates (QoS 1 is at least once) aside, they arrived in order.
func checkInOrder(t *testing.T, got []string, prefix string, n int) {
	t.Helper()
	seen := map[int]bool{}
	next := 0
	for _, topic := range got {
		i, err := strconv.Atoi(strings.TrimPrefix(topic, prefix))
		if err != nil {
			t.Fatalf("unexpected topic %q", topic)
		}
		if seen[i] {
			continue // a resend
		}
		if i != next {
			t.Fatalf("message %d arrived when %d was due (order broken); topics: %v", i, next, got)
		}
		seen[i] = true
		next++
	}
	if next != n {
		t.Fatalf("%d of %d messages arrived", next, n)
	}
}

func TestBrokerDownDuringQoS1Stream(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	l := testLink(t, b, nil)
	waitState(t, l, "connected", connected)
	ctx := context.Background()
	// A steady stream, one message every 15 ms; the broker is down for
	// messages 50 to 249, three seconds.
	const n = 300
	tick := time.NewTicker(15 * time.Millisecond)
	defer tick.Stop()
	for i := range n {
		<-tick.C
		switch i {
		case 50:
			b.Stop()
			waitState(t, l, "disconnected", func(s Status) bool { return s.State != StateConnected })
		case 250:
			// The reconnect backoff has grown meanwhile, and every message
			// since 50 is in the spool.
			if st := l.Status(); st.Spooled < 200 {
				t.Errorf("with the broker down, %d messages spooled, want at least 200", st.Spooled)
			}
			b.Restart()
		}
		if err := l.Publish(ctx, fmt.Sprintf("stream/%d", i), []byte("x"), 1); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	waitState(t, l, "the spool to drain", func(s Status) bool { return s.State == StateConnected && s.Spooled == 0 })
	checkInOrder(t, publishedTopics(b, b.Certs().ThingName, "stream/"), "stream/", n)
	if st := l.Status(); st.Reconnects < 1 {
		t.Errorf("reconnects = %d", st.Reconnects)
	}
}

func TestSubscriptionsRestoredAfterReconnect(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	l := testLink(t, b, nil)
	r := newRecorder()
	var filters []string
	for i := range 10 { // more than one SUBSCRIBE's worth (8)
		f := fmt.Sprintf("in/%d/#", i)
		filters = append(filters, f)
		if err := l.Subscribe(f, r, uint32(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	waitState(t, l, "connected", connected)
	waitSubscribed(t, b, filters...)
	b.Stop()
	b.Restart()
	waitState(t, l, "reconnected", func(s Status) bool { return s.State == StateConnected && s.Reconnects == 1 })
	b.Pub(t, "in/9/x", []byte("after restart"), 1)
	if got := r.wait(t, 1); got[0] != "10 in/9/x after restart" {
		t.Errorf("got %q", got)
	}
}

func TestOfflineSpoolsAndQoS0IsRefused(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	l, err := New(Options{Store: st, SpoolMaxBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	if s := l.Status(); s.State != StateOffline {
		t.Fatalf("state %s", s.State)
	}
	if err := l.Publish(ctx, "t/1", []byte("x"), 1); err != nil {
		t.Fatal(err)
	}
	if err := l.Publish(ctx, "t/0", []byte("x"), 0); !errors.Is(err, ErrOffline) {
		t.Errorf("QoS 0 offline: %v, want ErrOffline", err)
	}
	big := make([]byte, 4060)
	if err := l.Publish(ctx, "t/big", big, 1); !errors.Is(err, ErrSpoolFull) {
		t.Errorf("over the spool: %v, want ErrSpoolFull", err)
	}
	for _, tc := range []struct {
		topic string
		size  int
		qos   byte
		want  error
	}{
		{strings.Repeat("x", 257), 1, 1, ErrInvalid},
		{"t/x", MaxPayloadBytes + 1, 1, ErrTooLarge},
		{"t/x", 1, 2, ErrQoS},
	} {
		if err := l.Publish(ctx, tc.topic, make([]byte, tc.size), tc.qos); !errors.Is(err, tc.want) {
			t.Errorf("Publish(%.20q, %d bytes, QoS %d) = %v, want %v", tc.topic, tc.size, tc.qos, err, tc.want)
		}
	}
	if s := l.Status(); s.Spooled != 1 {
		t.Errorf("spooled %d, want 1", s.Spooled)
	}
}

func TestWrongCertificates(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	other := b.OtherCA()
	for _, tc := range []struct {
		name             string
		cert, key, ca    string
		wantErrSubstring string
	}{
		{"wrong root CA", b.Certs().Cert, b.Certs().Key, other.CA, "not signed by the CA in cloud.root_ca"},
		{"unknown client certificate", other.Cert, other.Key, b.Certs().CA, "device certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc2, err := certs.TLSConfig(tc.cert, tc.key, tc.ca, "127.0.0.1", nil)
			if err != nil {
				t.Fatal(err)
			}
			l := testLink(t, b, func(o *Options) { o.TLS = tc2 })
			st := waitState(t, l, "a connect error", func(s Status) bool { return s.LastError != "" })
			if !strings.Contains(st.LastError, tc.wantErrSubstring) || st.State == StateConnected {
				t.Errorf("status %+v; want an error containing %q", st, tc.wantErrSubstring)
			}
			if tc.name == "unknown client certificate" {
				b.WaitLog(t, "certificate verify failed") // the broker's side of it
			}
			// Still taking messages, into the spool.
			if err := l.Publish(context.Background(), "t/1", []byte("x"), 1); err != nil {
				t.Errorf("publish while refused: %v", err)
			}
		})
	}
}

func TestCovers(t *testing.T) {
	for _, tc := range []struct {
		g, f string
		want bool
	}{
		{"cmd/#", "cmd/+/reboot", true},
		{"cmd/#", "cmd", true},
		{"cmd/+", "cmd/a", true},
		{"cmd/+", "cmd/a/b", false},
		{"cmd/+/x", "cmd/#", false},
		{"+/x", "a/x", true},
		{"#", "$aws/things/t/shadow/#", false},
		{"$aws/#", "$aws/things/t/shadow/#", true},
		{"a/+/c", "a/b/+", false},
		{"a/b", "a/b", true},
	} {
		if got := covers(tc.g, tc.f); got != tc.want {
			t.Errorf("covers(%q, %q) = %v, want %v", tc.g, tc.f, got, tc.want)
		}
	}
}

// TestSpoolDrainsInFlightAcrossBrokerRestart fills the spool while the
// broker is down, lets it drain over a link with 20 ms added each way
// (where one message per round trip would show as one in flight), and
// restarts the broker mid-drain: every message arrives, first copies in
// spool order, and the spool empties only as PUBACKs come.
func TestSpoolDrainsInFlightAcrossBrokerRestart(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{Config: []string{"max_inflight_messages 100"}})
	px, err := delayproxy.Start(b.Addr(), 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	st := openStore(t, t.TempDir())
	defer st.Close()
	l := testLink(t, b, func(o *Options) {
		o.Port, o.Store, o.SpoolMaxBytes = px.Port(), st, 8<<20
		o.Logger = slog.New(slog.DiscardHandler) // thousands of lines otherwise
	})
	waitState(t, l, "connected", connected)
	b.Stop()
	waitState(t, l, "disconnected", func(s Status) bool { return s.State != StateConnected })

	const n = 3000
	ctx := context.Background()
	for i := range n {
		if err := l.Publish(ctx, fmt.Sprintf("drain/%d", i), []byte("x"), 1); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	b.Restart()
	// Mid-drain: some sent, most still spooled.
	// (Sent moves without a change event: poll it.)
	poll.Until(t, "part of the spool sent", func() bool { return l.Status().Sent >= 300 })
	st1 := l.Status()
	b.Stop()
	if st1.Spooled == 0 {
		t.Fatalf("the spool had drained before the broker stopped; status %+v", st1)
	}
	st2 := waitState(t, l, "disconnected", func(s Status) bool { return s.State != StateConnected })
	if st2.Spooled == 0 || int(st2.Sent)+st2.Spooled < n {
		t.Fatalf("after the broker stopped mid-drain: %d sent + %d spooled < %d published", st2.Sent, st2.Spooled, n)
	}
	b.Restart()
	waitState(t, l, "the spool to drain", func(s Status) bool { return s.State == StateConnected && s.Spooled == 0 })
	got := publishedTopics(b, b.Certs().ThingName, "drain/")
	checkInOrder(t, got, "drain/", n)
	t.Logf("%d publishes for %d messages (resent after the restart: %d); at most %d in flight", len(got), n, len(got)-n, l.flights.peak.Load())
	if p := l.flights.peak.Load(); p < 2 {
		t.Errorf("at most %d spooled message in flight at once; want several", p)
	}
	if keys, _ := st.Keys(spoolBucket); len(keys) != 0 {
		t.Errorf("the disk spool still holds %d records", len(keys))
	}
}

// TestRefusedCoveringFilterFallsBack: the thing may subscribe to
// cmd/+/reboot but not to cmd/#. With components asking for both, the
// broker refuses cmd/#, which then covers nothing: cmd/+/reboot is
// subscribed on its own and its messages arrive.
func TestRefusedCoveringFilterFallsBack(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{SubscribeAllow: []string{"cmd/+/reboot"}})
	l := testLink(t, b, nil)
	r := newRecorder()
	if err := l.Subscribe("cmd/#", r, 1); err != nil {
		t.Fatal(err)
	}
	if err := l.Subscribe("cmd/+/reboot", r, 2); err != nil {
		t.Fatal(err)
	}
	waitState(t, l, "connected", connected)
	waitSubscribed(t, b, "cmd/#", "cmd/+/reboot")
	b.Pub(t, "cmd/dev1/reboot", []byte("now"), 1)
	got := r.wait(t, 2)
	want := []string{"1 cmd/dev1/reboot now", "2 cmd/dev1/reboot now"}
	if fmt.Sprint(sorted(got)) != fmt.Sprint(want) {
		t.Errorf("delivered %q, want %q", got, want)
	}

	// After a reconnect, the same: cmd/# is asked for first, refused
	// again, and cmd/+/reboot follows.
	b.Restart()
	waitState(t, l, "reconnected", func(s Status) bool { return s.State == StateConnected && s.Reconnects == 1 })
	waitSubscribed(t, b, "cmd/#", "cmd/+/reboot")
	b.Pub(t, "cmd/dev2/reboot", []byte("again"), 1)
	if got := r.wait(t, 4); len(got) != 4 {
		t.Errorf("after the restart: %q", got)
	}
}
