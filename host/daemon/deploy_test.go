package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moss-edge/moss/host/deploy"
	"github.com/moss-edge/moss/internal/testwasm"
)

// deployDoc writes a deployment document moving counter to manifest.
func deployDoc(t *testing.T, dir, id, manifest, extra string) string {
	t.Helper()
	p := filepath.Join(dir, id+".toml")
	doc := fmt.Sprintf("id = %q\n[timeouts]\nstart = \"20s\"\nprobation = \"300ms\"\n[[components]]\nname = \"counter\"\nversion = %q\nmanifest = %q\n%s",
		id, versionOf(t, manifest), manifest, extra)
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func versionOf(t *testing.T, manifest string) string {
	b, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "version = "); ok {
			return strings.Trim(v, `"`)
		}
	}
	t.Fatalf("%s has no version", manifest)
	return ""
}

// submit runs a deployment document through the host's deployer, as
// `moss deploy` does, and returns its final record.
func submit(t *testing.T, h *host, file string) deploy.Record {
	t.Helper()
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := h.d.deployer.Submit(doc, file, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rec, err = h.d.deployer.Follow(ctx, rec.ID, func(p deploy.Progress) { t.Log(p) })
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestDeploymentUpgradeAndRollback: a deployment moves a component from v1
// to v2 while messages stream in (none lost, state handed over), a broken
// v3 is rolled back to v2 with the right status, and after a restart the
// host runs the deployed set, not the configuration's.
func TestDeploymentUpgradeAndRollback(t *testing.T) {
	dir := t.TempDir()
	v1, version := counterManifests(t, dir)
	cfg := fmt.Sprintf("data_dir = %q\ncache_dir = %q\n[[components]]\nmanifest = %q\n", filepath.Join(dir, "data"), testwasm.CompileCacheDir(t), v1)
	h := startHost(t, cfg)
	out := subscribe(t, h, "seq/out")
	ctx := context.Background()

	const n = 2000
	done := make(chan error, 1)
	go func() {
		tick := time.NewTicker(250 * time.Microsecond)
		defer tick.Stop()
		for i := range n {
			<-tick.C
			if err := h.client.Publish(ctx, "seq/in", []byte(strconv.Itoa(i))); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	out.waitFor(t, "the stream", func(m []string) bool { return len(m) >= n/4 })
	rec := submit(t, h, deployDoc(t, dir, "to-v2", version("2.0.0"), "[components.config]\nmerge = { tag = \"v2\" }\n"))
	if rec.Status != deploy.Succeeded {
		t.Fatalf("v2: %s %s", rec.Status, rec.Reason)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	msgs := out.waitFor(t, "every message", func(m []string) bool { return len(m) >= n })
	v2seen := false
	for i, m := range msgs {
		var tag string
		var seq, count int
		fmt.Sscanf(strings.TrimPrefix(m, "seq/out "), "%s %d %d", &tag, &seq, &count)
		if seq != i || count != i+1 {
			t.Fatalf("message %d is %q (lost, duplicated or reordered)", i, m)
		}
		v2seen = v2seen || tag == "v2"
	}
	if !v2seen {
		t.Fatal("no message handled by v2")
	}

	rec = submit(t, h, deployDoc(t, dir, "to-v3", version("3.0.0"), "[components.config]\nmerge = { trap_on_start = true }\n"))
	if rec.Status != deploy.FailedRolledBack || !strings.Contains(rec.Reason, "counter") {
		t.Fatalf("broken v3: %s %q", rec.Status, rec.Reason)
	}
	if info := h.d.Component("counter").Info(); info.Version != "2.0.0" || info.State != "RUNNING" {
		t.Fatalf("after the rollback: %+v", info)
	}
	h.client.Publish(ctx, "seq/in", []byte("after"))
	if m := out.waitFor(t, "v2 after the rollback", func(m []string) bool { return len(m) > n }); !strings.HasPrefix(m[n], "seq/out v2 after ") {
		t.Errorf("after the rollback: %q", m[n])
	}
	h.stop(t)

	// The restarted host runs the deployed v2, not the configuration's v1.
	h2 := startHost(t, cfg)
	if info := h2.d.Component("counter").Info(); info.Version != "2.0.0" || info.State != "RUNNING" {
		t.Fatalf("after a restart: %+v", info)
	}
	recs, err := h2.d.deployer.List()
	if err != nil || len(recs) != 2 {
		t.Fatalf("history: %v %+v", err, recs)
	}
}

// TestDeploymentWaitsForDefer: a component that defers the update (as
// Greengrass's DeferComponentUpdate) holds the deployment until the time it
// asked for, then the deployment goes ahead and succeeds.
func TestDeploymentWaitsForDefer(t *testing.T) {
	dir := t.TempDir()
	v1, version := counterManifests(t, dir)
	h := startHost(t, fmt.Sprintf("data_dir = %q\ncache_dir = %q\n[[components]]\nmanifest = %q\n[components.config]\ndefer_s = 1\n",
		filepath.Join(dir, "data"), testwasm.CompileCacheDir(t), v1))
	start := time.Now()
	rec := submit(t, h, deployDoc(t, dir, "deferred", version("2.0.0"), "[update_policy]\naction = \"notify\"\ntimeout = \"30s\"\n"))
	if rec.Status != deploy.Succeeded {
		t.Fatalf("%s %s", rec.Status, rec.Reason)
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("the deployment took %v: it did not wait for the 1 s the component asked", took)
	}
	waited := false
	for _, e := range rec.Events {
		waited = waited || strings.Contains(e.Detail, "deferred the update")
	}
	if !waited {
		t.Errorf("no progress event says the update was deferred: %+v", rec.Events)
	}
}
