package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moss-edge/moss/host/admin"
	"github.com/moss-edge/moss/internal/poll"
)

// TestShadowSurvivesKill9 drives shadows with the real binaries: `moss
// shadow update` is accepted, the host is killed with SIGKILL right after,
// and the restarted host serves the same document and version; a
// `moss pub` on the IoT Core topic works as over MQTT, and a rejected
// request exits 1 with IoT Core's error document.
func TestShadowSurvivesKill9(t *testing.T) {
	bin := buildMoss(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	cfg := filepath.Join(dir, "moss.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("data_dir = %q\nadmin_socket = %q\n", filepath.Join(dir, "data"), sock)), 0o644)
	moss := func(args ...string) (string, string, error) {
		c := exec.Command(bin, append([]string{"--socket", sock}, args...)...)
		var out, errOut strings.Builder
		c.Stdout, c.Stderr = &out, &errOut
		err := c.Run()
		return out.String(), errOut.String(), err
	}

	p := startMoss(t, bin, cfg, sock)
	if _, stderr, err := moss("shadow", "update", "-", `{"state":{"desired":{"color":"RED"},"reported":{"color":"GREEN"}}}`, "--name", "lamp"); err != nil {
		t.Fatalf("update: %v\n%s", err, stderr)
	}
	// The same through the topic protocol, as a device on MQTT would.
	if _, stderr, err := moss("pub", "$aws/things/moss/shadow/name/lamp/update", `{"state":{"reported":{"color":"BLUE"}}}`); err != nil {
		t.Fatalf("pub: %v\n%s", err, stderr)
	}
	var before string
	client := &admin.Client{Path: sock}
	// The pub is answered asynchronously: wait for version 2.
	poll.Until(t, "version 2 of the shadow", func() bool {
		code, doc, err := client.Shadow(context.Background(), "get", "", "lamp", nil)
		if err != nil || code != 200 {
			t.Fatalf("get: %d %v", code, err)
		}
		before = string(doc)
		return strings.Contains(before, `"version":2`)
	})
	p.kill9(t)

	startMoss(t, bin, cfg, sock)
	out, stderr, err := moss("shadow", "get", "-", "--name", "lamp")
	if err != nil {
		t.Fatalf("get after kill -9: %v\n%s", err, stderr)
	}
	var got, want map[string]any
	json.Unmarshal([]byte(out), &got)
	json.Unmarshal([]byte(before), &want)
	if fmt.Sprint(got["state"]) != fmt.Sprint(want["state"]) || fmt.Sprint(got["version"]) != "2" {
		t.Errorf("after kill -9:\n%s\nbefore:\n%s", out, before)
	}
	if !strings.Contains(out, `"delta"`) || !strings.Contains(out, `"RED"`) {
		t.Errorf("no delta RED in %s", out)
	}
	// A version conflict: exit 1, IoT Core's 409 document on stderr.
	_, stderr, err = moss("shadow", "update", "-", `{"state":{"reported":{"color":"RED"}},"version":1}`, "--name", "lamp")
	if err == nil || !strings.Contains(stderr, `"code": 409`) || !strings.Contains(stderr, "Version conflict") {
		t.Errorf("stale version: %v\n%s", err, stderr)
	}
	if _, stderr, err = moss("shadow", "get", "-", "--name", "nosuch"); err == nil || !strings.Contains(stderr, "No shadow exists with name: 'nosuch'") {
		t.Errorf("missing shadow: %v\n%s", err, stderr)
	}
	if out, _, err = moss("shadow", "list", "-"); err != nil || !strings.Contains(out, `"lamp"`) {
		t.Errorf("list: %v\n%s", err, out)
	}
}
