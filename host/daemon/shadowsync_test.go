package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moss-edge/moss/host/shadow"
	"github.com/moss-edge/moss/host/shadowsync"
	"github.com/moss-edge/moss/host/store"
	"github.com/moss-edge/moss/internal/mqtttest"
	"github.com/moss-edge/moss/internal/poll"
	"github.com/moss-edge/moss/internal/testwasm"
)

// TestShadowSyncWithThermostat is the whole shadow story on real things: a
// desired color set in the "cloud" (moss iotsim's shadow service on a real
// Mosquitto with mutual TLS) reaches the thermostat component through the
// cloud link and the sync, the thermostat applies it and reports it, and
// the reported state arrives back in the cloud shadow.
func TestShadowSyncWithThermostat(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	set := b.Certs()
	simDB, err := store.Open(filepath.Join(t.TempDir(), "cloud.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer simDB.Close()
	// No rate limit in the simulated cloud: the test reads its shadow as
	// often as it polls.
	sim, err := shadowsync.NewSimulator(shadowsync.SimulatorOptions{Broker: b.URL(), TLS: b.ClientTLS(t), ClientID: "iotsim", Store: simDB, RateLimits: &shadow.RateLimits{}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	select {
	case <-sim.Ready():
	case <-time.After(poll.Deadline):
		t.Fatal("simulator not subscribed")
	}

	dir := t.TempDir()
	root := testwasm.Root(t)
	manifest, err := os.ReadFile(filepath.Join(root, "examples/thermostat/component.toml"))
	if err != nil {
		t.Fatal(err)
	}
	body := string(manifest)
	body = body[strings.Index(body, "[limits]"):]
	c := install(t, dir, "thermostat", testwasm.GoPath(t, filepath.Join(root, "examples/thermostat")), body)
	h := startHost(t, fmt.Sprintf("data_dir = %q\ncache_dir = %q\n%s[[shadow.sync]]\nname = \"thermostat\"\n[[components]]\nmanifest = %q\n",
		filepath.Join(dir, "data"), testwasm.CompileCacheDir(t), b.CloudConfig(), c))
	applied := subscribe(t, h, "thermostat/thermostat/applied")
	ctx := context.Background()
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range h.logs.Tail("", 60) {
				t.Log(r)
			}
		}
	})
	cloudReported := func(want string) {
		t.Helper()
		poll.Until(t, "the cloud shadow's reported "+want, func() bool {
			r, err := sim.Shadows().Get(ctx, set.ThingName, "thermostat", nil)
			return err == nil && strings.Contains(string(r.Payload), `"reported":{"color":"`+want+`"`)
		})
	}
	// The thermostat's first report (GREEN) reaches the cloud.
	cloudReported("GREEN")

	// An application sets desired RED in the cloud, over MQTT.
	b.Pub(t, "$aws/things/"+set.ThingName+"/shadow/name/thermostat/update", []byte(`{"state":{"desired":{"color":"RED"}}}`), 1)
	applied.waitFor(t, "RED applied", func(m []string) bool {
		return len(m) > 0 && strings.Contains(m[len(m)-1], `"color":"RED"`)
	})
	cloudReported("RED")
	// And locally the delta is gone: the component reported what it applied.
	status, doc, err := h.d.Shadow(ctx, "get", "", "thermostat", nil)
	if err != nil || status != 200 || strings.Contains(string(doc), `"delta"`) {
		t.Errorf("local shadow: %d %s %v", status, doc, err)
	}
}
