package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moss-edge/moss/internal/mqtttest"
	"github.com/moss-edge/moss/internal/poll"
	"github.com/moss-edge/moss/internal/testwasm"
)

// cloudConfig is a host configuration with the cloudprobe component and a
// cloud link to b; ca replaces the root CA when set.
func cloudConfig(t *testing.T, b *mqtttest.Broker, ca string) string {
	t.Helper()
	dir := t.TempDir()
	root := testwasm.Root(t)
	manifest, err := os.ReadFile(filepath.Join(root, "host/daemon/testdata/cloudprobe.toml"))
	if err != nil {
		t.Fatal(err)
	}
	c := install(t, dir, "cloudprobe", testwasm.GoPath(t, filepath.Join(root, "host/daemon/testdata/cloudprobe")), string(manifest))
	cloud := b.CloudConfig()
	if ca != "" {
		cloud = strings.Replace(cloud, fmt.Sprintf("root_ca = %q", b.Certs().CA), fmt.Sprintf("root_ca = %q", ca), 1)
	}
	// The health document would add to the counts these tests check;
	// health_test.go turns it back on.
	return fmt.Sprintf("data_dir = %q\ncache_dir = %q\n%s[health]\nenabled = false\n[[components]]\nmanifest = %q\n", filepath.Join(dir, "data"), testwasm.CompileCacheDir(t), cloud, c)
}

// TestCloudComponentRoundTrip: a component's cloud publish reaches a
// mosquitto_sub on the broker, a mosquitto_pub reaches the component's
// cloud subscription, and IoT Core's limits give the codes ABI.md lists.
func TestCloudComponentRoundTrip(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	h := startHost(t, cloudConfig(t, b, ""))
	poll.Until(t, "the cloud link", func() bool { return h.d.Status().Cloud.State == "CONNECTED" })
	b.WaitLog(t, "\tdown/# (QoS 1)")

	up := b.Sub(t, "up/#")
	results := subscribe(t, h, "probe/result")
	down := subscribe(t, h, "probe/down")
	if err := h.client.Publish(context.Background(), "probe/up", []byte("hello cloud")); err != nil {
		t.Fatal(err)
	}
	if m, ok := up.Next(poll.Deadline); !ok || m.String() != "up/data hello cloud" {
		t.Fatalf("mosquitto_sub got %q, %v", m, ok)
	}
	got := results.waitFor(t, "six results", func(m []string) bool { return len(m) >= 6 })
	want := []string{
		"probe/result forward 0",
		"probe/result long-topic 3",  // E_INVALID
		"probe/result big-payload 6", // E_TOO_LARGE
		"probe/result qos2 12",       // E_UNSUPPORTED
		"probe/result reserved 3",    // E_INVALID
		"probe/result denied 4",      // E_DENIED
	}
	if !slices.Equal(got, want) {
		t.Errorf("results:\n got %q\nwant %q", got, want)
	}

	b.Pub(t, "down/cmd", []byte("reboot"), 1)
	if m := down.waitFor(t, "the cloud message", func(m []string) bool { return len(m) >= 1 }); m[0] != "probe/down down/cmd reboot" {
		t.Errorf("component got %q", m)
	}
	st := h.d.Status().Cloud
	// Two filters: the component's down/#, and the host's own for remote
	// deployments (IoT Jobs' notify-next).
	if st.Sent != 1 || st.Received != 1 || st.Subscriptions != 2 {
		t.Errorf("cloud status %+v", st)
	}
}

// TestCloudWrongCAKeepsHostRunning: with a root CA that did not sign the
// broker's certificate the link never connects and says why, while the
// components run and their QoS 1 messages wait in the spool.
func TestCloudWrongCAKeepsHostRunning(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	h := startHost(t, cloudConfig(t, b, b.OtherCA().CA))
	poll.Until(t, "a connect error", func() bool { return h.d.Status().Cloud.LastError != "" })
	results := subscribe(t, h, "probe/result")
	h.client.Publish(context.Background(), "probe/up", []byte("queued"))
	got := results.waitFor(t, "the forward result", func(m []string) bool { return len(m) >= 1 })
	if got[0] != "probe/result forward 0" {
		t.Errorf("forward while refused: %q", got[0])
	}
	st := h.d.Status().Cloud
	if st.State == "CONNECTED" || !strings.Contains(st.LastError, "cloud.root_ca") || st.Spooled != 1 {
		t.Errorf("cloud status %+v", st)
	}
	if cs := h.d.Components(); len(cs) != 1 || cs[0].State != "RUNNING" {
		t.Errorf("components %+v", cs)
	}
}
