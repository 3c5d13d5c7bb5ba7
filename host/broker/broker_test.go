package broker

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/clientauth"
	"github.com/moss-edge/moss/host/store"
	"github.com/moss-edge/moss/internal/poll"
)

const testPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive", "iot:RetainPublish"], "Resource": "arn:aws:iot:*:*:topic/sensors/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:*:*:topicfilter/sensors/*"}
  ]
}`

type env struct {
	dir  string
	auth *clientauth.Authority
	bus  *bus.Bus
	b    *Broker
	port string
}

func start(t *testing.T) *env {
	t.Helper()
	if _, err := exec.LookPath("mosquitto_sub"); err != nil {
		t.Fatal("mosquitto_sub not found: install mosquitto-clients (make deps does)")
	}
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "moss.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pol := filepath.Join(dir, "sensor.json")
	os.WriteFile(pol, []byte(testPolicy), 0o644)
	g, err := clientauth.LoadGroup("sensors", "thingName: sensor-*", []string{pol})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := clientauth.Open(clientauth.Options{Dir: filepath.Join(dir, "clientca"), Store: st, Groups: []clientauth.Group{g}})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "ca.pem"), auth.CACertPEM(), 0o644)
	bs := bus.New()
	b, err := New(Options{Auth: auth, Bus: bs, TLSAddress: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	_, port, _ := strings.Cut(b.TLSAddr().String(), ":")
	return &env{dir: dir, auth: auth, bus: bs, b: b, port: port}
}

// issue writes thing's certificate and key and returns mosquitto's flags.
func (e *env) issue(t *testing.T, thing string) []string {
	t.Helper()
	is, err := e.auth.IssueClient(thing)
	if err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(e.dir, thing+".pem"), filepath.Join(e.dir, thing+".key")
	os.WriteFile(cert, is.Cert, 0o644)
	os.WriteFile(key, is.Key, 0o600)
	return []string{"--cafile", filepath.Join(e.dir, "ca.pem"), "--cert", cert, "--key", key}
}

func (e *env) args(id string, tls []string, more ...string) []string {
	a := append([]string{"-h", "localhost", "-p", e.port, "-i", id}, tls...)
	return append(a, more...)
}

type recorder struct {
	mu   sync.Mutex
	msgs []*bus.Message
}

func (r *recorder) Deliver(_ uint32, m *bus.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func TestDevicePublishReachesBus(t *testing.T) {
	e := start(t)
	var rec recorder
	e.bus.Subscribe("sensors/#", &rec, 1)
	tls := e.issue(t, "sensor-1")
	out, err := exec.Command("mosquitto_pub", e.args("sensor-1", tls, "-t", "sensors/sensor-1/temp", "-m", "21.5", "-q", "1")...).CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_pub: %v\n%s", err, out)
	}
	poll.Until(t, "message on the bus", func() bool { return rec.count() == 1 })
	if m := rec.msgs[0]; m.Topic != "sensors/sensor-1/temp" || string(m.Payload) != "21.5" {
		t.Errorf("got %s %q", m.Topic, m.Payload)
	}
	// Not allowed by the policy: never reaches the bus.
	var other recorder
	e.bus.Subscribe("secret", &other, 2)
	exec.Command("mosquitto_pub", e.args("sensor-1", tls, "-t", "secret", "-m", "x", "-q", "1", "-V", "mqttv5")...).Run()
	exec.Command("mosquitto_pub", e.args("sensor-1", tls, "-t", "sensors/after", "-m", "y")...).Run()
	poll.Until(t, "second message", func() bool { return rec.count() == 2 })
	if other.count() != 0 {
		t.Error("a publish the policy does not allow reached the bus")
	}
}

// sub starts mosquitto_sub and returns its output after it exits.
func sub(t *testing.T, args ...string) func() (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	cmd := exec.CommandContext(ctx, "mosquitto_sub", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cancel(); <-done })
	return func() (string, error) {
		err := <-done
		done <- err
		return out.String(), err
	}
}

func TestBusMessageReachesDevice(t *testing.T) {
	e := start(t)
	tls := e.issue(t, "sensor-2")
	wait := sub(t, e.args("sensor-2", tls, "-t", "sensors/+/cmd", "-C", "1", "-v")...)
	// Publish once the broker holds the subscription (not before: with
	// -C 1 a message that arrives while polling ends mosquitto_sub, and the
	// subscription would never be seen).
	poll.Until(t, "the device's subscription", func() bool {
		return len(e.b.srv.Topics.Subscribers("sensors/sensor-2/cmd").Subscriptions) > 0
	})
	e.bus.Publish(&bus.Message{Topic: "sensors/sensor-2/cmd", Payload: []byte("on")})
	out, err := wait()
	if err != nil || strings.TrimSpace(out) != "sensors/sensor-2/cmd on" {
		t.Fatalf("mosquitto_sub: %v: %q", err, out)
	}
}

func TestNoLoop(t *testing.T) {
	e := start(t)
	var rec recorder
	e.bus.Subscribe("sensors/#", &rec, 1)
	tls := e.issue(t, "sensor-3")
	wait := sub(t, e.args("sensor-3", tls, "-t", "sensors/#", "-v", "-W", "3")...)
	poll.Until(t, "subscribed", func() bool { return len(e.b.srv.Topics.Subscribers("sensors/x").Subscriptions) > 0 })
	tls4 := e.issue(t, "sensor-4")
	if out, err := exec.Command("mosquitto_pub", e.args("sensor-4", tls4, "-t", "sensors/x", "-m", "once")...).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	out, _ := wait() // -W 3: runs for 3 s, the time for a loop to show
	if n := strings.Count(out, "sensors/x once"); n != 1 {
		t.Errorf("device got the message %d times: %q", n, out)
	}
	if rec.count() != 1 {
		t.Errorf("bus got the message %d times", rec.count())
	}
}

func TestRefusals(t *testing.T) {
	e := start(t)
	good := e.issue(t, "sensor-5")
	ca := []string{"--cafile", filepath.Join(e.dir, "ca.pem")}
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "mosquitto_sub", args...).CombinedOutput()
		return string(out), err
	}
	// No certificate: the TLS handshake fails.
	if out, err := run(e.args("sensor-5", ca, "-t", "sensors/a", "-C", "1")...); err == nil {
		t.Errorf("no certificate accepted: %s", out)
	}
	// A client id other than the thing name.
	if out, err := run(e.args("other", good, "-t", "sensors/a", "-C", "1")...); err == nil || !strings.Contains(out, "identifier rejected") {
		t.Errorf("mismatched client id: %v %s", err, out)
	}
	if out, err := run(e.args("other", good, "-V", "mqttv5", "-t", "sensors/a", "-C", "1")...); err == nil || !strings.Contains(strings.ToLower(out), "client identifier not valid") {
		t.Errorf("mismatched client id, MQTT 5: %v %s", err, out)
	}
	// A subscription the policy does not grant: SUBACK 0x87 (MQTT 5).
	// mosquitto_sub reports a refused SUBACK as "denied"; a granted one
	// would wait for a message until the 15 s context ends.
	if out, _ := run(e.args("sensor-5", good, "-V", "mqttv5", "-t", "#", "-C", "1")...); !strings.Contains(out, "All subscription requests were denied") {
		t.Errorf("subscription to # : %s", out)
	}
	// A certificate from an unknown CA.
	other := start(t)
	foreign := other.issue(t, "sensor-5")
	foreign[1] = filepath.Join(e.dir, "ca.pem")
	if out, err := run(e.args("sensor-5", foreign, "-t", "sensors/a", "-C", "1")...); err == nil {
		t.Errorf("unknown CA accepted: %s", out)
	}
	// Revoked.
	if _, err := e.auth.Revoke("sensor-5"); err != nil {
		t.Fatal(err)
	}
	if out, err := run(e.args("sensor-5", good, "-t", "sensors/a", "-C", "1")...); err == nil {
		t.Errorf("revoked certificate accepted: %s", out)
	}
	// The broker still serves others.
	fresh := e.issue(t, "sensor-6")
	if out, err := exec.Command("mosquitto_pub", e.args("sensor-6", fresh, "-t", "sensors/ok", "-m", "1")...).CombinedOutput(); err != nil {
		t.Errorf("after refusals: %v %s", err, out)
	}
}
