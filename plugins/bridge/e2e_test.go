//go:build !wasip1

package main_test

// End-to-end: the bridge, built for wasip1 from this directory, runs in an
// in-process host (host/daemon) whose cloud link talks mutual TLS to a real
// Mosquitto (internal/mqtttest). The host packages do not build for
// wasip1, hence the build constraint and the external test package.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/moss-edge/moss/host/component"
	"github.com/moss-edge/moss/host/config"
	"github.com/moss-edge/moss/host/daemon"
	"github.com/moss-edge/moss/host/logs"
	"github.com/moss-edge/moss/host/manifest"
	"github.com/moss-edge/moss/internal/mqtttest"
	"github.com/moss-edge/moss/internal/poll"
	"github.com/moss-edge/moss/internal/testwasm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testGrants widen the shipped manifest's grants to the topics the tests
// map, as an operator would for theirs.
const testGrants = `
[[access]]
operations = ["pubsub.subscribe"]
resources = ["status/+"]

[[access]]
operations = ["cloud.publish"]
resources = ["dev1/status/+", "dev2/status/+"]

[[access]]
operations = ["cloud.subscribe"]
resources = ["dev1/commands/#"]

[[access]]
operations = ["pubsub.publish"]
resources = ["cloud/dev1/commands/#"]
`

// install puts the bridge's module and its shipped component.toml, with
// grants appended, in a directory of its own, and returns the manifest's
// path.
func install(t *testing.T, grants string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bridge")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	wasm, err := os.ReadFile(testwasm.GoPath(t, "."))
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := os.ReadFile("component.toml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "component.toml")
	for name, data := range map[string][]byte{"bridge.wasm": wasm, "component.toml": append(shipped, grants...)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return file
}

// host is a running daemon with its log buffer.
type host struct {
	d    *daemon.Daemon
	logs *logs.Buffer
	stop func()
}

// startHost runs a daemon with the bridge installed; cloud is the body of
// the [cloud] table and mappings the host configuration's override of the
// bridge's mappings (TOML, under [components.config]).
func startHost(t *testing.T, grants, cloud, mappings string) *host {
	t.Helper()
	dir := t.TempDir()
	text := fmt.Sprintf(`data_dir = %q
admin_socket = %q
cache_dir = %q
[lifecycle]
restart_backoff = "10ms"
[cloud]
%s
[[components]]
manifest = %q
%s
`, filepath.Join(dir, "data"), filepath.Join(dir, "admin.sock"), testwasm.CompileCacheDir(t), cloud, install(t, grants), mappings)
	file := filepath.Join(dir, "moss.toml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	buf := logs.NewBuffer(5000)
	buf.SetLevel(slog.LevelDebug)
	d, err := daemon.New(cfg, slog.New(buf.Handler(nil)), buf)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	select {
	case <-d.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("host stopped before ready: %v", err)
	case <-time.After(poll.Deadline):
		cancel()
		t.Fatal("host not ready")
	}
	h := &host{d: d, logs: buf}
	stopped := false
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(poll.Deadline):
			buf := make([]byte, 1<<20)
			t.Errorf("host did not stop; goroutines:\n%s", buf[:runtime.Stack(buf, true)])
		}
	}
	t.Cleanup(func() {
		h.stop()
		if t.Failed() {
			for _, r := range buf.Tail("", 200) {
				t.Log(r.String())
			}
		}
	})
	return h
}

// cloudSection is the [cloud] table for the broker: mutual TLS with its
// development certificates, fast reconnects, no publish cap.
func cloudSection(b *mqtttest.Broker) string {
	c := b.Certs()
	return fmt.Sprintf(`endpoint = "127.0.0.1"
port = %d
thing_name = %q
cert = %q
key = %q
root_ca = %q
keep_alive = "30s"
reconnect_min = "50ms"
reconnect_max = "500ms"
max_publish_rate = 0`, b.Port(), c.ThingName, c.Cert, c.Key, c.CA)
}

// bridgeLog reports whether the bridge has logged a line containing s.
func (h *host) bridgeLog(s string) bool {
	return slices.ContainsFunc(h.logs.Tail("bridge", 5000), func(r logs.Record) bool { return strings.Contains(r.Msg, s) })
}

func (h *host) waitLog(t *testing.T, s string) {
	t.Helper()
	poll.Until(t, fmt.Sprintf("the bridge to log %q", s), func() bool { return h.bridgeLog(s) })
}

func (h *host) waitRunning(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), poll.Deadline)
	defer cancel()
	if _, err := h.d.Component("bridge").WaitState(ctx, component.StateRunning); err != nil {
		t.Fatal(err)
	}
}

// localSub collects what the local bus delivers on filter.
func localSub(t *testing.T, h *host, filter string) chan string {
	t.Helper()
	ch := make(chan string, 100)
	unsub, err := h.d.Subscribe(filter, func(topic string, payload []byte) { ch <- topic + " " + string(payload) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unsub)
	return ch
}

func next(t *testing.T, s *mqtttest.Subscriber, want string, qos int) {
	t.Helper()
	m, ok := s.Next(poll.Deadline)
	if !ok {
		t.Fatalf("mosquitto_sub: nothing within %v, want %q", poll.Deadline, want)
	}
	if m.String() != want || m.QoS != qos {
		t.Fatalf("mosquitto_sub got %q at QoS %d, want %q at QoS %d", m, m.QoS, want, qos)
	}
}

// TestShippedManifest: component.toml is a valid manifest.
func TestShippedManifest(t *testing.T) {
	data, err := os.ReadFile("component.toml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse("component.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "bridge" || m.Wasm.Path != "bridge.wasm" {
		t.Fatalf("manifest %+v", m)
	}
}

// TestShippedDefault: the shipped manifest, untouched, forwards local
// telemetry to the cloud with its own grants.
func TestShippedDefault(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	h := startHost(t, "", cloudSection(b), "")
	h.waitRunning(t)
	poll.Until(t, "the cloud link to connect", func() bool {
		c := h.d.Status().Cloud
		return c != nil && c.State == "CONNECTED"
	})
	up := b.Sub(t, "telemetry/#")
	if err := h.d.Publish("telemetry/t1", []byte("21.5")); err != nil {
		t.Fatal(err)
	}
	next(t, up, "telemetry/t1 21.5", 1)
}

// TestBridgeEndToEnd: local messages on mapped topics reach the broker with
// the mapping's prefix and QoS, the broker's on a mapped cloud topic reach
// local subscribers, and a configuration change moves the mappings without
// a restart.
func TestBridgeEndToEnd(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	h := startHost(t, testGrants, cloudSection(b), `
[[components.config.mappings]]
name = "telemetry"
source = "local"
filter = "telemetry/#"

[[components.config.mappings]]
name = "status"
source = "local"
filter = "status/+"
target_prefix = "dev1/"
qos = 0

[[components.config.mappings]]
name = "commands"
source = "cloud"
filter = "dev1/commands/#"
target_prefix = "cloud/"
`)
	h.waitRunning(t)
	poll.Until(t, "the cloud link to connect", func() bool {
		c := h.d.Status().Cloud
		return c != nil && c.State == "CONNECTED"
	})
	b.WaitLog(t, "\tdev1/commands/# (QoS 1)") // the bridge's cloud subscription is on the broker
	up := b.Sub(t, "+/#")
	down := localSub(t, h, "cloud/#")

	// Local to cloud: QoS 1 by default, QoS 0 where the mapping says so.
	if err := h.d.Publish("telemetry/t1", []byte(`{"temperature":21.5}`)); err != nil {
		t.Fatal(err)
	}
	next(t, up, `telemetry/t1 {"temperature":21.5}`, 1)
	if err := h.d.Publish("status/s1", []byte("up")); err != nil {
		t.Fatal(err)
	}
	next(t, up, "dev1/status/s1 up", 0)

	// Cloud to local.
	b.Pub(t, "dev1/commands/reboot", []byte("now"), 1)
	next(t, up, "dev1/commands/reboot now", 1) // what the test itself published
	select {
	case got := <-down:
		if got != "cloud/dev1/commands/reboot now" {
			t.Fatalf("local subscriber got %q", got)
		}
	case <-time.After(poll.Deadline):
		t.Fatal("the cloud message did not reach the local subscriber")
	}

	// A deployment changes the mappings: status now goes to dev2/ at QoS
	// 1, and telemetry is no longer forwarded.
	err := h.d.Component("bridge").Config().Update([]string{"mappings"}, []any{
		map[string]any{"name": "status", "source": "local", "filter": "status/+", "target_prefix": "dev2/"},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.waitLog(t, "mappings[0] (status): forwarding local status/+ -> cloud dev2/status/+")
	h.waitLog(t, `mappings[0] (telemetry): stopped forwarding local telemetry/# -> cloud telemetry/#: forwarded 1, dropped 0`)
	// The cloud mapping is gone, and with it the broker subscription.
	b.WaitLog(t, "Sending UNSUBACK to "+b.Certs().ThingName+"\n")
	if err := h.d.Publish("telemetry/t2", []byte("not forwarded")); err != nil {
		t.Fatal(err)
	}
	if err := h.d.Publish("status/s2", []byte("moved")); err != nil {
		t.Fatal(err)
	}
	// The bridge handles its mailbox in order: had telemetry/t2 been
	// forwarded, it would come first.
	next(t, up, "dev2/status/s2 moved", 1)
	// Its PUBACK has reached the link, so the UNSUBACK before it has too;
	// stopping with the unsubscribe still in flight can hang the link's
	// Close (reported to host/cloud's owner).
	poll.Until(t, "the link to count 3 messages sent", func() bool { return h.d.Status().Cloud.Sent >= 3 })
	if st := h.d.Component("bridge").Info(); st.State != component.StateRunning || st.Restarts != 0 {
		t.Fatalf("bridge after the change: %+v", st)
	}

	h.stop()
	if !h.bridgeLog("mappings[0] (status): forwarded 1, dropped 0") {
		t.Error("the bridge did not report its counts when stopped")
	}
}

// TestBridgeRefusesLoop: mappings that would pass a message back and forth
// make the bridge ERRORED with the reason; the host gives up on it (BROKEN)
// after its usual retries. No broker is needed: the check comes first.
func TestBridgeRefusesLoop(t *testing.T) {
	h := startHost(t, `
[[access]]
operations = ["cloud.subscribe"]
resources = ["telemetry/#"]
[[access]]
operations = ["pubsub.publish"]
resources = ["telemetry/#"]
`, "", `
[[components.config.mappings]]
name = "up"
source = "local"
filter = "telemetry/#"

[[components.config.mappings]]
name = "down"
source = "cloud"
filter = "telemetry/+/state"
`)
	ctx, cancel := context.WithTimeout(context.Background(), poll.Deadline)
	defer cancel()
	info, err := h.d.Component("bridge").Wait(ctx, func(i component.Info) bool { return i.State == component.StateBroken })
	if err != nil {
		t.Fatalf("bridge %+v: %v", info, err)
	}
	const want = "mappings[0] (up) and mappings[1] (down) form a loop"
	if !strings.Contains(info.LastError, "component reported ERRORED: bad mappings: "+want) {
		t.Errorf("last error %q", info.LastError)
	}
	if !h.bridgeLog(want) {
		t.Error("the problem is not in the bridge's log")
	}
}

// TestBridgeDropsAreLogged: with the link offline and a tiny spool, QoS 1
// messages past the spool's size and QoS 0 ones are refused by the host;
// the bridge warns of each kind and counts them.
func TestBridgeDropsAreLogged(t *testing.T) {
	h := startHost(t, testGrants, `
[cloud.spool]
storage = "memory"
max_size_bytes = 1024`, `
[[components.config.mappings]]
source = "local"
filter = "telemetry/#"

[[components.config.mappings]]
source = "local"
filter = "status/+"
target_prefix = "dev1/"
qos = 0
`)
	h.waitRunning(t)
	payload := []byte(strings.Repeat("x", 200))
	for i := range 10 {
		if err := h.d.Publish(fmt.Sprintf("telemetry/%d", i), payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.d.Publish("status/s1", []byte("up")); err != nil {
		t.Fatal(err)
	}
	h.waitLog(t, `mappings[0]: dropped a message for cloud "telemetry/4": the cloud spool is full`)
	h.waitLog(t, `mappings[1]: dropped a message for cloud "dev1/status/s1": the cloud link is down`)
	h.stop()
	if !h.bridgeLog("mappings[0]: forwarded 4, dropped 6 (spool full: 6)") || !h.bridgeLog("mappings[1]: forwarded 0, dropped 1 (unavailable: 1)") {
		t.Error("the counts are not in the bridge's log")
	}
	if st := h.d.Status().Cloud; st == nil || st.Spooled != 4 {
		t.Errorf("cloud status %+v, want 4 spooled", st)
	}
}
