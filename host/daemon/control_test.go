package daemon

import (
	"context"
	"strings"
	"testing"

	"github.com/moss-edge/moss/host/admin"
)

func stateOf(t *testing.T, h *host, name string) admin.ComponentInfo {
	t.Helper()
	list, err := h.client.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("%s not in moss list: %+v", name, list)
	return admin.ComponentInfo{}
}

func countPrefix(msgs []string, prefix string) int {
	n := 0
	for _, m := range msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

// TestComponentStopStartRestart drives the example components through the
// admin socket as `moss component` does, and checks the effect in the list
// and on the bus.
func TestComponentStopStartRestart(t *testing.T) {
	h := startHost(t, examplesConfig(t, ""))
	ctx := context.Background()
	s := subscribe(t, h, "#")
	const reading = "sensors/s1/temperature "
	s.waitFor(t, "a reading", func(m []string) bool { return countPrefix(m, reading) > 0 })

	info, err := h.client.ControlComponent(ctx, admin.ActionStop, "sensor")
	if err != nil {
		t.Fatal(err)
	}
	if info.State != "FINISHED" {
		t.Fatalf("after stop: %+v", info)
	}
	if got := stateOf(t, h, "sensor"); got.State != "FINISHED" {
		t.Fatalf("moss list after stop: %+v", got)
	}
	if got := stateOf(t, h, "alerts"); got.State != "RUNNING" {
		t.Fatalf("stopping sensor touched alerts: %+v", got)
	}
	// A second stop is not an error: it is stopped.
	if info, err := h.client.ControlComponent(ctx, admin.ActionStop, "sensor"); err != nil || info.State != "FINISHED" {
		t.Fatalf("second stop: %+v, %v", info, err)
	}

	s.mu.Lock()
	before := countPrefix(s.msgs, reading)
	s.mu.Unlock()
	info, err = h.client.ControlComponent(ctx, admin.ActionStart, "sensor")
	if err != nil {
		t.Fatal(err)
	}
	if info.State != "RUNNING" || info.Version != "1.0.0" {
		t.Fatalf("after start: %+v", info)
	}
	if got := stateOf(t, h, "sensor"); got.State != "RUNNING" {
		t.Fatalf("moss list after start: %+v", got)
	}
	s.waitFor(t, "readings after the start", func(m []string) bool { return countPrefix(m, reading) > before+1 })

	// Starting a running component changes nothing.
	again, err := h.client.ControlComponent(ctx, admin.ActionStart, "sensor")
	if err != nil || again.State != "RUNNING" || !again.Since.Equal(info.Since) {
		t.Fatalf("start of a running component: %+v, %v (was %+v)", again, err, info)
	}

	// A restart gives a new instance (a later Since) that works: readings
	// still turn into alerts (the threshold is below any reading).
	was := stateOf(t, h, "alerts")
	info, err = h.client.ControlComponent(ctx, admin.ActionRestart, "alerts")
	if err != nil {
		t.Fatal(err)
	}
	if info.State != "RUNNING" || !info.Since.After(was.Since) {
		t.Fatalf("after restart: %+v (before: %+v)", info, was)
	}
	s.mu.Lock()
	alerts := countPrefix(s.msgs, "alerts/")
	s.mu.Unlock()
	s.waitFor(t, "alerts after the restart", func(m []string) bool { return countPrefix(m, "alerts/") > alerts })

	// A deployment brings back a component an operator stopped.
	if _, err := h.client.ControlComponent(ctx, admin.ActionStop, "sensor"); err != nil {
		t.Fatal(err)
	}
	in := h.d.Installed()["sensor"]
	if err := h.d.Apply(ctx, in.Manifest, map[string]any{"interval": "50ms"}); err != nil {
		t.Fatalf("apply after stop: %v", err)
	}
	if got := stateOf(t, h, "sensor"); got.State != "RUNNING" {
		t.Fatalf("moss list after a deployment: %+v", got)
	}
}

func TestComponentControlErrors(t *testing.T) {
	h := startHost(t, examplesConfig(t, ""))
	ctx := context.Background()
	_, err := h.client.ControlComponent(ctx, admin.ActionRestart, "sensr")
	if err == nil || !strings.Contains(err.Error(), `no such component "sensr"; the host runs alerts, sensor`) {
		t.Fatalf("unknown component: %v", err)
	}
	_, err = h.client.ControlComponent(ctx, "pause", "sensor")
	if err == nil || !strings.Contains(err.Error(), `"action" "pause": want stop, start or restart`) {
		t.Fatalf("unknown action: %v", err)
	}
	_, err = h.client.ControlComponent(ctx, admin.ActionStop, "")
	if err == nil || !strings.Contains(err.Error(), `"name" is required`) {
		t.Fatalf("no name: %v", err)
	}
	// The host is unharmed.
	for _, name := range []string{"sensor", "alerts"} {
		if got := stateOf(t, h, name); got.State != "RUNNING" {
			t.Fatalf("%s after bad requests: %+v", name, got)
		}
	}
}
