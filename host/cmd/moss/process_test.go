package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moss-edge/moss/host/admin"
	"github.com/moss-edge/moss/internal/testwasm"
)

// buildMoss builds the moss binary once per test process.
// buildMoss builds the binary for a test that runs it; under -short such
// tests are skipped, here for all of them.
func buildMoss(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the moss binary")
	}
	bin := filepath.Join(t.TempDir(), "moss")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build moss: %v\n%s", err, out)
	}
	return bin
}

// installExample puts an example's wasm and a manifest for it in dir.
func installExample(t *testing.T, dir, name string) string {
	t.Helper()
	root := testwasm.Root(t)
	d := filepath.Join(dir, name)
	os.MkdirAll(d, 0o755)
	wasm, err := os.ReadFile(testwasm.GoPath(t, filepath.Join(root, "examples", name)))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(d, name+".wasm"), wasm, 0o644)
	m, err := os.ReadFile(filepath.Join(root, "examples", name, "component.toml"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(d, "component.toml"), m, 0o644)
	return filepath.Join(d, "component.toml")
}

// TestProcessEndToEnd runs the real binary as a user does: `moss run` with
// the example components, `moss sub` and `moss list` against it from other
// processes, then SIGTERM and a clean exit.
func TestProcessEndToEnd(t *testing.T) {
	bin := buildMoss(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	cfg := fmt.Sprintf(`data_dir = %q
admin_socket = %q
cache_dir = %q
[[components]]
manifest = %q
[components.config]
interval = "100ms"
[[components]]
manifest = %q
[components.config]
threshold = -50.0
`, filepath.Join(dir, "data"), sock, testwasm.CompileCacheDir(t),
		installExample(t, dir, "sensor"), installExample(t, dir, "alerts"))
	cfgFile := filepath.Join(dir, "moss.toml")
	os.WriteFile(cfgFile, []byte(cfg), 0o644)

	run := exec.Command(bin, "run", "--config", cfgFile)
	var runOut bytes.Buffer
	run.Stdout, run.Stderr = &runOut, &runOut
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	var runErr error
	exited := make(chan struct{})
	go func() { runErr = run.Wait(); close(exited) }()
	t.Cleanup(func() {
		run.Process.Kill()
		<-exited
	})

	// Poll the admin socket until the host answers, with a deadline.
	client := &admin.Client{Path: sock}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		list, err := client.List(ctx)
		cancel()
		if err == nil && len(list) == 2 && list[0].State == "RUNNING" && list[1].State == "RUNNING" {
			break
		}
		select {
		case <-exited:
			t.Fatalf("moss run exited: %v\n%s", runErr, runOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("host not running after 60s (last: %v %+v)\n%s", err, list, runOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	sub := exec.Command(bin, "--socket", sock, "sub", "-v", "-C", "4", "sensors/#")
	out, err := sub.Output()
	if err != nil {
		t.Fatalf("moss sub: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 4 {
		t.Fatalf("moss sub -C 4 printed %d lines: %q", len(lines), out)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "sensors/s1/temperature {") {
			t.Fatalf("unexpected line %q", l)
		}
	}

	list, err := exec.Command(bin, "--socket", sock, "list").Output()
	if err != nil || !bytes.Contains(list, []byte("sensor")) || !bytes.Contains(list, []byte("RUNNING")) {
		t.Fatalf("moss list: %v\n%s", err, list)
	}

	logs, err := exec.Command(bin, "--socket", sock, "logs", "alerts").Output()
	if err != nil || !bytes.Contains(logs, []byte("component running")) {
		t.Fatalf("moss logs alerts: %v\n%s", err, logs)
	}

	run.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if runErr != nil {
			t.Fatalf("moss run after SIGTERM: %v\n%s", runErr, runOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("moss run did not exit within 30s of SIGTERM")
	}
	s := bufio.NewScanner(&runOut)
	var stopping bool
	for s.Scan() {
		if strings.Contains(s.Text(), "moss stopping") {
			stopping = true
		}
	}
	if !stopping {
		t.Fatal("no shutdown log line")
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("admin socket left behind after a clean stop: %v", err)
	}
}
