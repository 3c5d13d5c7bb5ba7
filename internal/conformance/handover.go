package conformance

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// counterManifest is the manifest of the counter test component, in every
// language: host/daemon/testdata/counter and its ports in the SDKs'
// testdata.
const counterManifest = `name = "counter"
version = "1.0.0"

[wasm]
path = "counter.wasm"

[limits]
mailbox = 4096

[[access]]
operations = ["pubsub.subscribe"]
resources = ["seq/in"]

[[access]]
operations = ["pubsub.publish"]
resources = ["seq/out"]
`

// RunHandover runs the counter component (wasmPath, built from an SDK's
// port of host/daemon/testdata/counter) in a real host through the
// lifecycle calls of a deployment, as the Go version is run in host/daemon:
// it counts ten messages; answers an update event with the deferral its
// configuration asks for (defer_update); is hot-swapped to version 2.0.0
// with a new tag, handing its count over (state_save on the "upgrade"
// stop); and the new version carries on from the count it read from its
// start event (the handover), losing and repeating nothing.
func RunHandover(t testing.TB, wasmPath string) {
	t.Helper()
	v1 := Install(t, []byte(counterManifest), wasmPath)
	h := StartHost(t, v1, "tag = \"v1\"\ndefer_s = 30\n", "seq/out")
	c := h.Daemon().Component("counter")
	if c == nil {
		t.Fatal("no component counter")
	}
	outputs := func(want int) []string {
		var got []string
		CheckFor(t, fmt.Sprintf("%d messages on seq/out", want), func() bool {
			got = got[:0]
			for _, m := range h.Published(0) {
				got = append(got, string(m.Payload))
			}
			return len(got) >= want
		})
		return got
	}
	for i := range 10 {
		h.Publish("seq/in", fmt.Sprint(i))
	}
	outputs(10)

	// The update event: the component asks for 30 s (defer_s), once.
	before := time.Now()
	n := c.NotifyUpdate("2.0.0")
	CheckFor(t, "the update event handled", func() bool { return c.Info().UpdateSeen >= n })
	if until := c.Info().DeferredUntil; until.Before(before.Add(29 * time.Second)) {
		t.Errorf("after an update event with defer_s = 30: DeferredUntil %v, want about %v", until, before.Add(30*time.Second))
	}

	// The hot swap, handing the count over.
	m, err := os.ReadFile(v1)
	if err != nil {
		t.Fatal(err)
	}
	v2 := filepath.Join(filepath.Dir(v1), "component-2.0.0.toml")
	if err := os.WriteFile(v2, []byte(strings.Replace(string(m), `version = "1.0.0"`, `version = "2.0.0"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.Daemon().Apply(context.Background(), v2, map[string]any{"tag": "v2"}); err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	for i := 10; i < 20; i++ {
		h.Publish("seq/in", fmt.Sprint(i))
	}
	got := outputs(20)
	for i, s := range got {
		tag := "v1"
		if i >= 10 {
			tag = "v2"
		}
		if want := fmt.Sprintf("%s %d %d", tag, i, i+1); s != want {
			t.Errorf("message %d on seq/out: %q, want %q (the count handed over carries on)", i, s, want)
		}
	}
	if len(got) != 20 {
		t.Errorf("%d messages on seq/out, want 20: %q", len(got), got)
	}
	if info := c.Info(); info.Version != "2.0.0" || info.State != "RUNNING" || info.Restarts != 0 {
		t.Errorf("after the swap: %+v\n%s", info, h.Log("counter"))
	}
}
