package daemon

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moss-edge/moss/host/admin"
	"github.com/moss-edge/moss/internal/poll"
)

const brokerPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:*:*:topic/sensors/${iot:Connection.Thing.ThingName}/*"},
    {"Effect": "Allow", "Action": ["iot:Subscribe", "iot:Receive"], "Resource": ["arn:aws:iot:*:*:topicfilter/alerts/*", "arn:aws:iot:*:*:topic/alerts/*"]}
  ]
}`

// TestClientDevices runs a host with [broker] and real mosquitto clients
// holding certificates issued through the admin socket.
func TestClientDevices(t *testing.T) {
	if _, err := exec.LookPath("mosquitto_sub"); err != nil {
		t.Fatal("mosquitto_sub not found: install mosquitto-clients (make deps does)")
	}
	dir := t.TempDir()
	pol := filepath.Join(dir, "sensor.json")
	os.WriteFile(pol, []byte(brokerPolicy), 0o644)
	h := startHost(t, fmt.Sprintf("data_dir = %q\n[broker]\nlisten = \"127.0.0.1:0\"\n[[broker.group]]\nname = \"sensors\"\nselect = \"thingName: sensor-*\"\npolicies = [%q]\n", filepath.Join(dir, "data"), pol))
	ctx := context.Background()
	r, err := h.client.ClientsCall(ctx, admin.ClientsRequest{Op: "cert", Thing: "sensor-1"})
	if err != nil {
		t.Fatal(err)
	}
	ca, cert, key := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "s1.pem"), filepath.Join(dir, "s1.key")
	os.WriteFile(ca, r.Cert.CA, 0o644)
	os.WriteFile(cert, r.Cert.Cert, 0o644)
	os.WriteFile(key, r.Cert.Key, 0o600)
	_, port, _ := strings.Cut(h.d.clients.broker.TLSAddr().String(), ":")
	args := func(more ...string) []string {
		return append([]string{"-h", "localhost", "-p", port, "-i", "sensor-1", "--cafile", ca, "--cert", cert, "--key", key}, more...)
	}

	// A component's message (here the operator's, on the same bus)
	// reaches the device.
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	subCmd := exec.CommandContext(sctx, "mosquitto_sub", args("-t", "alerts/#", "-C", "1", "-v")...)
	var out strings.Builder
	subCmd.Stdout = &out
	if err := subCmd.Start(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the device listed with its subscription", func() bool {
		r, err := h.client.ClientsCall(ctx, admin.ClientsRequest{Op: "list"})
		return err == nil && len(r.List) == 1 && r.List[0].Thing == "sensor-1" && len(r.List[0].Subscriptions) == 1
	})
	if err := h.client.Publish(ctx, "alerts/fire", []byte("hot")); err != nil {
		t.Fatal(err)
	}
	if err := subCmd.Wait(); err != nil || strings.TrimSpace(out.String()) != "alerts/fire hot" {
		t.Fatalf("device got %q (%v)", out.String(), err)
	}

	// The device's message reaches the bus.
	bus := subscribe(t, h, "sensors/#")
	if o, err := exec.Command("mosquitto_pub", args("-t", "sensors/sensor-1/temp", "-m", "22")...).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, o)
	}
	bus.waitFor(t, "the device's message", func(m []string) bool { return len(m) == 1 && m[0] == "sensors/sensor-1/temp 22" })

	d, err := h.client.ClientsCall(ctx, admin.ClientsRequest{Op: "check", Thing: "sensor-1", Action: "iot:Publish", Resource: "topic/sensors/sensor-2/temp"})
	if err != nil || d.Decision.Allowed || !strings.Contains(d.Decision.Explanation, "default deny") {
		t.Fatalf("check: %+v %v", d, err)
	}

	if _, err := h.client.ClientsCall(ctx, admin.ClientsRequest{Op: "revoke", Thing: "sensor-1"}); err != nil {
		t.Fatal(err)
	}
	if o, err := exec.Command("mosquitto_pub", args("-t", "sensors/sensor-1/temp", "-m", "23")...).CombinedOutput(); err == nil {
		t.Fatalf("revoked device connected: %s", o)
	}
}

func TestClientsWithoutBroker(t *testing.T) {
	h := startHost(t, fmt.Sprintf("data_dir = %q\n", filepath.Join(t.TempDir(), "data")))
	_, err := h.client.ClientsCall(context.Background(), admin.ClientsRequest{Op: "list"})
	if err == nil || !strings.Contains(err.Error(), "[broker]") {
		t.Fatalf("got %v", err)
	}
}

const shadowPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": "arn:aws:iot:*:*:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:*:*:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"}
  ]
}`

// TestClientDeviceShadow: a thermostat played by mosquitto reports its
// state, the operator sets a desired one, and the device gets the delta
// from the host's shadow service; another thing's shadow is out of reach.
func TestClientDeviceShadow(t *testing.T) {
	if _, err := exec.LookPath("mosquitto_sub"); err != nil {
		t.Fatal("mosquitto_sub not found: install mosquitto-clients (make deps does)")
	}
	dir := t.TempDir()
	pol := filepath.Join(dir, "thermo.json")
	os.WriteFile(pol, []byte(shadowPolicy), 0o644)
	h := startHost(t, fmt.Sprintf("data_dir = %q\n[broker]\nlisten = \"127.0.0.1:0\"\n[[broker.group]]\nname = \"thermostats\"\nselect = \"thingName: thermo-*\"\npolicies = [%q]\n", filepath.Join(dir, "data"), pol))
	ctx := context.Background()
	r, err := h.client.ClientsCall(ctx, admin.ClientsRequest{Op: "cert", Thing: "thermo-1"})
	if err != nil {
		t.Fatal(err)
	}
	ca, cert, key := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "t.pem"), filepath.Join(dir, "t.key")
	os.WriteFile(ca, r.Cert.CA, 0o644)
	os.WriteFile(cert, r.Cert.Cert, 0o644)
	os.WriteFile(key, r.Cert.Key, 0o600)
	_, port, _ := strings.Cut(h.d.clients.broker.TLSAddr().String(), ":")
	args := func(more ...string) []string {
		return append([]string{"-h", "localhost", "-p", port, "-i", "thermo-1", "--cafile", ca, "--cert", cert, "--key", key}, more...)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	const prefix = "$aws/things/thermo-1/shadow/"
	subCmd := exec.CommandContext(sctx, "mosquitto_sub", args("-t", prefix+"update/delta", "-C", "1", "-v")...)
	var out strings.Builder
	subCmd.Stdout = &out
	if err := subCmd.Start(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the thermostat subscribed", func() bool {
		r, err := h.client.ClientsCall(ctx, admin.ClientsRequest{Op: "list"})
		return err == nil && len(r.List) == 1 && len(r.List[0].Subscriptions) == 1
	})
	// mosquitto_sub holds the client id thermo-1; the publisher uses the
	// same certificate, so it takes the session over. Publish through the
	// operator instead for the desired state, and as the device for the
	// reported one once the subscriber is done.
	if _, _, err := h.client.Shadow(ctx, "update", "thermo-1", "", []byte(`{"state":{"desired":{"temp":21}}}`)); err != nil {
		t.Fatal(err)
	}
	if err := subCmd.Wait(); err != nil {
		t.Fatalf("mosquitto_sub: %v: %q", err, out.String())
	}
	got := out.String()
	if !strings.HasPrefix(got, prefix+`update/delta {`) || !strings.Contains(got, `"state":{"temp":21}`) {
		t.Fatalf("thermostat got %q", got)
	}
	// The device reports; the host's shadow service records it.
	if o, err := exec.Command("mosquitto_pub", args("-t", prefix+"update", "-m", `{"state":{"reported":{"temp":21}}}`, "-q", "1")...).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, o)
	}
	poll.Until(t, "the reported state in the shadow", func() bool {
		_, doc, err := h.client.Shadow(ctx, "get", "thermo-1", "", nil)
		return err == nil && strings.Contains(string(doc), `"reported":{"temp":21}`)
	})
	// Another thing's shadow: the publish is not authorised and never
	// reaches the shadow service.
	exec.Command("mosquitto_pub", args("-t", "$aws/things/thermo-2/shadow/update", "-m", `{"state":{"reported":{"x":1}}}`, "-q", "1")...).Run()
	if code, _, _ := h.client.Shadow(ctx, "get", "thermo-2", "", nil); code != 404 {
		t.Fatalf("thermo-2's shadow: status %d, want 404", code)
	}
}
