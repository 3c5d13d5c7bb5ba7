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
		t.Skip("mosquitto-clients not installed (make deps)")
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
