package conformance

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moss-edge/moss/internal/poll"

	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/config"
	"github.com/moss-edge/moss/host/daemon"
	"github.com/moss-edge/moss/host/logs"
	"github.com/moss-edge/moss/host/manifest"
	"github.com/moss-edge/moss/internal/testwasm"
)

// Host is a real Moss host (a daemon on a temporary directory, with a
// restart backoff of 10 ms) running one component, with a bus subscriber
// that keeps what is published on one filter. Its methods are safe for
// concurrent use.
type Host struct {
	d      *daemon.Daemon
	logs   *logs.Buffer
	seen   *collector
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// Install copies a manifest and its module (named as the manifest's [wasm]
// path says) into a directory of their own and returns the manifest's path.
func Install(t testing.TB, manifestText []byte, wasmPath string) string {
	t.Helper()
	m, err := manifest.Parse("component.toml", manifestText)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	code, err := os.ReadFile(wasmPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(m.Wasm.Path)), code, 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "component.toml")
	if err := os.WriteFile(p, manifestText, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// StartHost runs a host with one component (the manifest at manifestPath,
// with the host configuration's [components.config] overrides, in TOML) and
// collects what is published on filter from before the component starts. It
// returns once the host is ready; the host stops when the test ends, or
// earlier with Stop.
func StartHost(t testing.TB, manifestPath, overrides, filter string) *Host {
	t.Helper()
	return startHostIn(t, t.TempDir(), manifestPath, overrides, filter)
}

// startHostIn is StartHost on a directory of the caller's, so that a later
// host finds the state (the shadows) an earlier one left there.
func startHostIn(t testing.TB, dir, manifestPath, overrides, filter string) *Host {
	t.Helper()
	cfgFile := filepath.Join(dir, "moss.toml")
	text := fmt.Sprintf("data_dir = %q\nadmin_socket = %q\ncache_dir = %q\n[lifecycle]\nrestart_backoff = \"10ms\"\n[[components]]\nmanifest = %q\n[components.config]\n%s",
		filepath.Join(dir, "data"), filepath.Join(dir, "admin.sock"), testwasm.CompileCacheDir(t), manifestPath, overrides)
	if err := os.WriteFile(cfgFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	buf := logs.NewBuffer(5000)
	buf.SetLevel(slog.LevelDebug)
	d, err := daemon.New(cfg, slog.New(buf.Handler(nil)), buf)
	if err != nil {
		t.Fatal(err)
	}
	h := &Host{d: d, logs: buf, seen: &collector{}, done: make(chan error, 1)}
	if err := d.Bus().Subscribe(filter, h.seen, 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- d.Run(ctx) }()
	select {
	case <-d.Ready():
	case err := <-h.done:
		cancel()
		t.Fatalf("host stopped before ready: %v", err)
	case <-time.After(60 * time.Second):
		t.Cleanup(func() { h.Stop(t) })
		t.Fatal("host not ready after 60s")
	}
	t.Cleanup(func() { h.Stop(t) })
	return h
}

// Daemon returns the host's daemon, to reach its components, bus and
// secrets.
func (h *Host) Daemon() *daemon.Daemon { return h.d }

// Stop stops the host and waits for it; later calls do nothing.
func (h *Host) Stop(t testing.TB) {
	h.once.Do(func() {
		h.cancel()
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("host did not stop within 30s")
		}
	})
}

// Publish publishes a message on the host's bus.
func (h *Host) Publish(topic, payload string) {
	h.d.Bus().Publish(&bus.Message{Topic: topic, Payload: []byte(payload)})
}

// Published returns the messages seen on the host's filter after the first
// n (0: all of them).
func (h *Host) Published(n int) []bus.Message { return h.seen.since(n) }

// PublishedCount returns how many messages were seen on the host's filter.
func (h *Host) PublishedCount() int { return h.seen.len() }

// Log returns a component's log, one record a line.
func (h *Host) Log(name string) string {
	var b strings.Builder
	for _, r := range h.logs.Tail(name, -1) {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// LogRecords returns a component's log records.
func (h *Host) LogRecords(name string) []logs.Record { return h.logs.Tail(name, -1) }

var memoryKiB = regexp.MustCompile(`memory_kib=(\d+)`)

// MemoryKiB reads the instance's memory, in KiB, from the host's "component
// running" log record; "?" (and an error) when there is none.
func (h *Host) MemoryKiB(t testing.TB, name string) string {
	t.Helper()
	for _, r := range h.logs.Tail(name, -1) {
		if r.Msg == "component running" {
			if m := memoryKiB.FindStringSubmatch(r.Attrs); m != nil {
				return m[1]
			}
		}
	}
	t.Errorf("%s: no memory_kib in its log:\n%s", name, h.Log(name))
	return "?"
}

// CheckFor polls cond until it holds, or fails the test (poll.Until).
func CheckFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, what, cond)
}

// collector is a bus subscriber that keeps every message it gets.
type collector struct {
	mu   sync.Mutex
	msgs []bus.Message
}

func (c *collector) Deliver(_ uint32, m *bus.Message) {
	c.mu.Lock()
	c.msgs = append(c.msgs, bus.Message{Topic: m.Topic, Payload: bytes.Clone(m.Payload)})
	c.mu.Unlock()
}

// since returns the messages after the first n.
func (c *collector) since(n int) []bus.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.msgs[min(n, len(c.msgs)):])
}

func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}
