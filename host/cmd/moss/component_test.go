package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moss-edge/moss/host/admin"
	"github.com/moss-edge/moss/host/config"
	"github.com/moss-edge/moss/host/daemon"
	"github.com/moss-edge/moss/host/logs"
	"github.com/moss-edge/moss/internal/testwasm"
)

func (h *fakeHost) ControlComponent(_ context.Context, _, name string) (admin.ComponentInfo, error) {
	return admin.ComponentInfo{}, fmt.Errorf("%w %q", admin.ErrNoComponent, name)
}

// startDaemon runs a real host with the example components in-process and
// returns its admin socket.
func startDaemon(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	cfgText := fmt.Sprintf(`data_dir = %q
admin_socket = %q
cache_dir = %q
[[components]]
manifest = %q
[components.config]
interval = "100ms"
[[components]]
manifest = %q
`, filepath.Join(dir, "data"), sock, testwasm.CompileCacheDir(t),
		installExample(t, dir, "sensor"), installExample(t, dir, "alerts"))
	cfgFile := filepath.Join(dir, "moss.toml")
	if err := os.WriteFile(cfgFile, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	buf := logs.NewBuffer(1000)
	d, err := daemon.New(cfg, slog.New(buf.Handler(nil)), buf)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-d.Ready():
	case err := <-done:
		t.Fatalf("host stopped before ready: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("host not ready after 60s")
	}
	return sock
}

// listState is the STATE column of name's row in `moss list`.
func listState(t *testing.T, sock, name string) string {
	t.Helper()
	// The cloud line goes to stderr, so only the exit code is checked.
	r := moss(context.Background(), "", "--socket", sock, "list")
	if r.code != 0 {
		t.Fatalf("moss list: exit %d: %s", r.code, r.stderr)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == name {
			return f[2]
		}
	}
	t.Fatalf("%s not in moss list", name)
	return ""
}

func TestComponentCommandOnRealHost(t *testing.T) {
	sock := startDaemon(t)
	if got := listState(t, sock, "sensor"); got != "RUNNING" {
		t.Fatalf("sensor at start: %s", got)
	}
	if out := mustMoss(t, "", "--socket", sock, "component", "stop", "sensor"); out != "sensor 1.0.0: FINISHED\n" {
		t.Fatalf("moss component stop: %q", out)
	}
	if got := listState(t, sock, "sensor"); got != "FINISHED" {
		t.Fatalf("moss list after stop: sensor %s", got)
	}
	if got := listState(t, sock, "alerts"); got != "RUNNING" {
		t.Fatalf("moss list after stop: alerts %s", got)
	}
	if out := mustMoss(t, "", "--socket", sock, "component", "start", "sensor"); out != "sensor 1.0.0: RUNNING\n" {
		t.Fatalf("moss component start: %q", out)
	}
	if got := listState(t, sock, "sensor"); got != "RUNNING" {
		t.Fatalf("moss list after start: sensor %s", got)
	}
	if out := mustMoss(t, "", "--socket", sock, "component", "restart", "alerts"); out != "alerts 1.0.0: RUNNING\n" {
		t.Fatalf("moss component restart: %q", out)
	}

	r := moss(context.Background(), "", "--socket", sock, "component", "restart", "nosuch")
	if r.code != 1 || r.stderr != "moss: restart nosuch: no such component \"nosuch\"; the host runs alerts, sensor\n" {
		t.Fatalf("unknown component: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestComponentCommandUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"component", "stop"}, "moss: accepts 1 arg(s), received 0\nRun 'moss component stop --help' for usage.\n"},
		{[]string{"component", "start", "a", "b"}, "accepts 1 arg(s), received 2"},
		{[]string{"component", "--socket", "/nonexistent/admin.sock", "restart", "x"}, "cannot reach the moss host"},
	} {
		r := moss(context.Background(), "", tc.args...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("moss %v: exit %d, stderr %q; want exit 1 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if out := mustMoss(t, "", "component", "--help"); !strings.Contains(out, "Examples:") || !strings.Contains(out, "moss component restart") {
		t.Errorf("moss component --help lacks examples:\n%s", out)
	}
}
