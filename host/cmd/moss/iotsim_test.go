package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moss-edge/moss/internal/mqtttest"
	"github.com/moss-edge/moss/internal/poll"
)

func TestIotsimHelp(t *testing.T) {
	out := mustMoss(t, "", "iotsim", "--help")
	for _, want := range []string{"Examples:", "moss iotsim --broker mqtts://", "--broker URL", "--cert file", "--key file", "--ca file", "--data DIR", "--client-id id", "moss-iotsim"} {
		if !strings.Contains(out, want) {
			t.Errorf("moss iotsim --help lacks %q:\n%s", want, out)
		}
	}
	if out := mustMoss(t, "", "--help"); !strings.Contains(out, "iotsim") {
		t.Errorf("moss --help does not list iotsim:\n%s", out)
	}
}

func TestIotsimRefuses(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"iotsim"}, "moss: iotsim needs --broker, --cert, --key, --ca: it connects with mutual TLS, as a device connects to IoT Core\nRun 'moss iotsim --help' for usage.\n"},
		{[]string{"iotsim", "--broker", "mqtts://127.0.0.1:8883"}, "iotsim needs --cert, --key, --ca"},
		{[]string{"iotsim", "--broker", "mqtts://127.0.0.1:8883", "--cert", "c", "--key", "k"}, "iotsim needs --ca:"},
		{[]string{"iotsim", "--broker", "::", "--cert", "c", "--key", "k", "--ca", "a"}, `--broker "::": want mqtts://HOST:PORT`},
		{[]string{"iotsim", "extra"}, `unknown command "extra" for "moss iotsim"`},
		{[]string{"iotsim", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"iotsim", "--broker", "mqtts://127.0.0.1:8883", "--cert", missing, "--key", missing, "--ca", missing}, "missing.pem"},
	} {
		r := moss(context.Background(), "", tc.args...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("moss %q: exit %d, stderr %q; want exit 1 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// TestIotsimServesShadows runs the command against a real Mosquitto and
// plays the device with mosquitto_pub and mosquitto_sub.
func TestIotsimServesShadows(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	set := b.Certs()
	data := filepath.Join(t.TempDir(), "iotsim")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, []string{"iotsim", "--broker", b.URL(), "--cert", set.Cert, "--key", set.Key, "--ca", set.CA, "--data", data},
			strings.NewReader(""), &stdout, &stderr)
	}()
	b.WaitLog(t, "Sending SUBACK to moss-iotsim\n")

	sub := b.Sub(t, "$aws/things/lamp/shadow/name/+/+/+")
	b.Pub(t, "$aws/things/lamp/shadow/name/light/update", []byte(`{"state":{"desired":{"on":true}},"clientToken":"t1"}`), 1)
	got := sub.Wait(3, poll.Deadline) // accepted, delta, documents
	for i, want := range []string{"/update/accepted", "/update/delta", "/update/documents"} {
		if !strings.HasSuffix(got[i].Topic, want) || !strings.Contains(string(got[i].Payload), `"on":true`) {
			t.Errorf("message %d: %s; want %s with the desired state", i, got[i], want)
		}
	}
	b.Pub(t, "$aws/things/lamp/shadow/name/nosuch/get", nil, 1)
	b.Pub(t, "$aws/things/lamp/shadow/name/light/get", []byte(`{"clientToken":"t2"}`), 1)
	got = sub.Wait(2, poll.Deadline)
	if m := got[0]; m.Topic != "$aws/things/lamp/shadow/name/nosuch/get/rejected" || !strings.Contains(string(m.Payload), `"code":404`) {
		t.Errorf("get of a missing shadow: %s", m)
	}
	if m := got[1]; !strings.HasSuffix(m.Topic, "/light/get/accepted") || !strings.Contains(string(m.Payload), `"clientToken":"t2"`) {
		t.Errorf("get: %s", m)
	}

	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("moss iotsim: exit %d, stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "iotsim: serving shadow requests") {
		t.Errorf("stderr lacks the serving line:\n%s", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(data, "iotsim.db")); err != nil {
		t.Errorf("--data: %v", err)
	}
}
