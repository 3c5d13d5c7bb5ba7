package daemon

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moss-edge/moss/internal/testwasm"
)

// TestShadowTopicProtocol drives the shadow service over the local bus as
// an MQTT device would, and sees IoT Core's replies on IoT Core's topics.
func TestShadowTopicProtocol(t *testing.T) {
	dir := t.TempDir()
	h := startHost(t, fmt.Sprintf("data_dir = %q\ncache_dir = %q\n[cloud]\nthing_name = \"gw-1\"\n", filepath.Join(dir, "data"), testwasm.CompileCacheDir(t)))
	const base = "$aws/things/gw-1/shadow/name/lamp"
	replies := subscribe(t, h, base+"/#")
	ctx := context.Background()
	pub := func(topic, payload string) {
		t.Helper()
		if err := h.client.Publish(ctx, topic, []byte(payload)); err != nil {
			t.Fatal(err)
		}
	}
	// The replies come in IoT Core's order; the requests themselves are
	// seen too (the subscription matches them).
	wait := func(topic string, n int) []string {
		t.Helper()
		var hits []string
		replies.waitFor(t, topic, func(m []string) bool {
			hits = hits[:0]
			for _, s := range m {
				if strings.HasPrefix(s, topic+" ") {
					hits = append(hits, strings.TrimPrefix(s, topic+" "))
				}
			}
			return len(hits) >= n
		})
		return hits
	}

	pub(base+"/update", `{"state":{"desired":{"color":"RED"},"reported":{"color":"GREEN"}},"clientToken":"tok-1"}`)
	acc := wait(base+"/update/accepted", 1)[0]
	if !strings.Contains(acc, `"clientToken":"tok-1"`) || !strings.Contains(acc, `"version":1`) {
		t.Errorf("update/accepted: %s", acc)
	}
	if d := wait(base+"/update/delta", 1)[0]; !strings.Contains(d, `"state":{"color":"RED"}`) {
		t.Errorf("update/delta: %s", d)
	}
	if d := wait(base+"/update/documents", 1)[0]; !strings.Contains(d, `"current"`) {
		t.Errorf("update/documents: %s", d)
	}
	pub(base+"/get", `{"clientToken":"tok-2"}`)
	if g := wait(base+"/get/accepted", 1)[0]; !strings.Contains(g, `"delta":{"color":"RED"}`) || !strings.Contains(g, `"tok-2"`) {
		t.Errorf("get/accepted: %s", g)
	}
	// The device applies it, naming the version it read.
	pub(base+"/update", `{"state":{"reported":{"color":"RED"}},"version":1}`)
	if d := wait(base+"/update/documents", 2)[1]; !strings.Contains(d, `"previous"`) || !strings.Contains(d, `"version":2`) {
		t.Errorf("second update/documents: %s", d)
	}
	pub(base+"/update", `{"state":{"reported":{"color":"BLUE"}},"version":1}`)
	if r := wait(base+"/update/rejected", 1)[0]; !strings.Contains(r, `"code":409`) {
		t.Errorf("stale version: %s", r)
	}
	pub(base+"/update", `{"state":`)
	if r := wait(base+"/update/rejected", 2)[1]; !strings.Contains(r, `"code":400`) {
		t.Errorf("bad JSON: %s", r)
	}
	pub(base+"/delete", ``)
	if r := wait(base+"/delete/accepted", 1)[0]; !strings.Contains(r, `"version":2`) {
		t.Errorf("delete/accepted: %s", r)
	}
	pub(base+"/get", ``)
	if r := wait(base+"/get/rejected", 1)[0]; !strings.Contains(r, `"code":404`) {
		t.Errorf("get after delete: %s", r)
	}
}
