package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moss-edge/moss/host/admin"
	"github.com/moss-edge/moss/internal/poll"
	"github.com/moss-edge/moss/internal/testwasm"
)

// TestDeploymentSurvivesKill9: the host is killed with SIGKILL while a
// deployment is in progress (the new version runs, its probation has not
// ended). After the restart the device runs the old set, never a mix, and
// `moss deployments` says the deployment failed and was rolled back
// because the host restarted.
func TestDeploymentSurvivesKill9(t *testing.T) {
	bin := buildMoss(t)
	root := testwasm.Root(t)
	dir := t.TempDir()
	wasm, err := os.ReadFile(testwasm.GoPath(t, filepath.Join(root, "host/daemon/testdata/counter")))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := os.ReadFile(filepath.Join(root, "host/daemon/testdata/counter.toml"))
	for _, v := range []string{"1.0.0", "2.0.0"} {
		d := filepath.Join(dir, "counter-"+v)
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "counter.wasm"), wasm, 0o644)
		os.WriteFile(filepath.Join(d, "component.toml"), []byte(fmt.Sprintf("name = \"counter\"\nversion = %q\n[wasm]\npath = \"counter.wasm\"\n%s", v, body)), 0o644)
	}
	sock := filepath.Join(dir, "admin.sock")
	cfg := filepath.Join(dir, "moss.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("data_dir = %q\nadmin_socket = %q\ncache_dir = %q\n[[components]]\nmanifest = %q\n",
		filepath.Join(dir, "data"), sock, testwasm.CompileCacheDir(t), filepath.Join(dir, "counter-1.0.0", "component.toml"))), 0o644)
	doc := filepath.Join(dir, "to-v2.toml")
	os.WriteFile(doc, []byte(`id = "to-v2"
[timeouts]
probation = "10m"   # the host is killed long before it ends
[[components]]
name = "counter"
version = "2.0.0"
manifest = "counter-2.0.0/component.toml"
`), 0o644)

	p := startMoss(t, bin, cfg, sock)
	client := &admin.Client{Path: sock}
	version := func() string {
		var v string
		poll.Until(t, "counter RUNNING", func() bool {
			cs, err := client.List(context.Background())
			if err != nil || len(cs) != 1 || cs[0].State != "RUNNING" {
				return false
			}
			v = cs[0].Version
			return true
		})
		return v
	}
	if v := version(); v != "1.0.0" {
		t.Fatalf("before: %s", v)
	}
	if out, err := exec.Command(bin, "--socket", sock, "deploy", doc, "--no-wait").CombinedOutput(); err != nil {
		t.Fatalf("moss deploy: %v\n%s", err, out)
	}
	// v2 runs, on probation: the deployment is IN_PROGRESS.
	poll.Until(t, "v2 running on probation", func() bool {
		cs, err := client.List(context.Background())
		return err == nil && len(cs) == 1 && cs[0].Version == "2.0.0" && cs[0].State == "RUNNING"
	})
	out, _ := exec.Command(bin, "--socket", sock, "deployments").CombinedOutput()
	if !strings.Contains(string(out), "IN_PROGRESS") {
		t.Fatalf("moss deployments before the kill:\n%s", out)
	}
	p.kill9(t)

	startMoss(t, bin, cfg, sock)
	if v := version(); v != "1.0.0" {
		t.Errorf("after the kill and restart the host runs counter %s, want the old 1.0.0", v)
	}
	out, err = exec.Command(bin, "--socket", sock, "deployments").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "FAILED_ROLLED_BACK") || !strings.Contains(string(out), "restarted") {
		t.Errorf("moss deployments after the restart: %v\n%s", err, out)
	}
}
