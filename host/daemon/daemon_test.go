package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/moss-edge/moss/host/admin"
	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/component"
	"github.com/moss-edge/moss/host/config"
	"github.com/moss-edge/moss/host/logs"
	"github.com/moss-edge/moss/internal/testwasm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// install copies a wasm module into dir/name with a manifest whose body is
// manifest (the [wasm] table is added here).
func install(t testing.TB, dir, name, wasmPath, manifest string) string {
	t.Helper()
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(wasmPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, name+".wasm"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	m := fmt.Sprintf("name = %q\nversion = \"1.0.0\"\n[wasm]\npath = %q\n%s", name, name+".wasm", manifest)
	p := filepath.Join(d, "component.toml")
	if err := os.WriteFile(p, []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// exampleManifest is the example's own component.toml without its [wasm]
// table (install adds one).
func exampleManifest(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testwasm.Root(t), "examples", name, "component.toml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "[limits]")
	if i < 0 {
		t.Fatalf("examples/%s/component.toml has no [limits] table", name)
	}
	return s[i:]
}

type host struct {
	d        *Daemon
	client   *admin.Client
	logs     *logs.Buffer
	cancel   context.CancelFunc
	done     chan error
	stopOnce sync.Once
	early    *sub
}

func startHost(t testing.TB, cfgText string) *host { return startHostWith(t, cfgText, "") }

// startHostWith starts a host; when early is a filter, h.early collects the
// messages matching it from before the components start.
func startHostWith(t testing.TB, cfgText, early string) *host {
	t.Helper()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "moss.toml")
	if err := os.WriteFile(cfgFile, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	buf := logs.NewBuffer(5000)
	buf.SetLevel(slog.LevelDebug)
	log := slog.New(buf.Handler(nil))
	d, err := New(cfg, log, buf)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &host{d: d, client: &admin.Client{Path: cfg.AdminSocket}, logs: buf, cancel: cancel, done: make(chan error, 1)}
	if early != "" {
		h.early = &sub{ch: make(chan struct{}, 1024)}
		if err := d.Bus().Subscribe(early, h.early, 1); err != nil {
			t.Fatal(err)
		}
	}
	go func() { h.done <- d.Run(ctx) }()
	select {
	case <-d.Ready():
	case err := <-h.done:
		t.Fatalf("host stopped before ready: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("host not ready after 60s")
	}
	t.Cleanup(func() { h.stop(t) })
	return h
}

// stop stops the host and waits for Run to return; later calls do nothing.
func (h *host) stop(t testing.TB) {
	h.stopOnce.Do(func() {
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

// sub collects messages from the admin socket, like `moss sub`.
type sub struct {
	mu   sync.Mutex
	msgs []string
	ch   chan struct{}
}

func subscribe(t *testing.T, h *host, filter string) *sub {
	s := &sub{ch: make(chan struct{}, 1024)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	before := h.d.Bus().Len()
	go func() {
		defer close(done)
		h.client.Subscribe(ctx, filter, func(topic string, payload []byte) {
			s.mu.Lock()
			s.msgs = append(s.msgs, topic+" "+string(payload))
			s.mu.Unlock()
			select {
			case s.ch <- struct{}{}:
			default:
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	// The client reports no "subscribed" event, so poll the bus until the
	// subscription is there: messages published after this return are seen.
	deadline := time.Now().Add(10 * time.Second)
	for h.d.Bus().Len() <= before {
		if time.Now().After(deadline) {
			t.Fatal("admin subscription not registered within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	return s
}

// Deliver makes a sub a bus subscriber.
func (s *sub) Deliver(_ uint32, m *bus.Message) {
	s.mu.Lock()
	s.msgs = append(s.msgs, m.Topic+" "+string(m.Payload))
	s.mu.Unlock()
	select {
	case s.ch <- struct{}{}:
	default:
	}
}

// waitFor waits until cond holds for the messages seen so far.
func (s *sub) waitFor(t testing.TB, what string, cond func([]string) bool) []string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		s.mu.Lock()
		msgs := append([]string(nil), s.msgs...)
		s.mu.Unlock()
		if cond(msgs) {
			return msgs
		}
		select {
		case <-s.ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; got %q", what, msgs)
		}
	}
}

func examplesConfig(t testing.TB, extra string) string {
	dir := t.TempDir()
	sensor := install(t, dir, "sensor", testwasm.GoPath(t, filepath.Join(testwasm.Root(t), "examples/sensor")), exampleManifest(t, "sensor"))
	alerts := install(t, dir, "alerts", testwasm.GoPath(t, filepath.Join(testwasm.Root(t), "examples/alerts")), exampleManifest(t, "alerts"))
	return fmt.Sprintf(`data_dir = %q
admin_socket = %q
cache_dir = %q
[lifecycle]
restart_backoff = "10ms"
[[components]]
manifest = %q
[components.config]
interval = "50ms"
[[components]]
manifest = %q
[components.config]
threshold = -100.0
window = 1
%s`, filepath.Join(dir, "data"), filepath.Join(dir, "admin.sock"), testwasm.CompileCacheDir(t), sensor, alerts, extra)
}

// TestExamplesFlowEndToEnd: the real example components, built by the Go
// toolchain, run in the host; readings reach alerts, alerts are published,
// and a client on the admin socket (what `moss sub` uses) sees both.
func TestExamplesFlowEndToEnd(t *testing.T) {
	h := startHost(t, examplesConfig(t, ""))
	s := subscribe(t, h, "#")
	// alerts raises an alert once per sensor, when its average first rises
	// over the threshold: s1's may have gone before this subscription, so
	// a sensor alerts has not seen yet is what this test waits for.
	if err := h.client.Publish(context.Background(), "sensors/t1/temperature", []byte(`{"id":"t1","temperature":20}`)); err != nil {
		t.Fatal(err)
	}
	msgs := s.waitFor(t, "3 readings and an alert", func(m []string) bool {
		var readings, alerts int
		for _, x := range m {
			if strings.HasPrefix(x, "sensors/s1/temperature ") {
				readings++
			}
			if strings.HasPrefix(x, "alerts/") {
				alerts++
			}
		}
		return readings >= 3 && alerts >= 1
	})
	for _, m := range msgs {
		topic, payload, _ := strings.Cut(m, " ")
		var v map[string]any
		if err := json.Unmarshal([]byte(payload), &v); err != nil {
			t.Fatalf("%s: payload is not JSON: %q", topic, payload)
		}
		if topic == "sensors/s1/temperature" {
			if _, ok := v["temperature"].(float64); !ok || v["id"] != "s1" {
				t.Fatalf("reading %q", payload)
			}
		}
	}
	list, err := h.client.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("list: %+v", list)
	}
	for _, c := range list {
		if c.State != "RUNNING" || c.Delivered == 0 {
			t.Fatalf("component %+v", c)
		}
	}
	// A publish from the CLI side reaches a component: alerts handles a
	// reading from another sensor and alerts for it.
	if err := h.client.Publish(context.Background(), "sensors/cli/temperature", []byte(`{"id":"cli","temperature":99}`)); err != nil {
		t.Fatal(err)
	}
	s.waitFor(t, "an alert for the CLI's reading", func(m []string) bool {
		for _, x := range m {
			if strings.HasPrefix(x, "alerts/cli ") {
				return true
			}
		}
		return false
	})
}

// TestSpinnerContainedBesideExamples: a component that spins in its handler
// is stopped at its deadline, restarted, and finally BROKEN, while the
// example components keep exchanging messages.
func TestSpinnerContainedBesideExamples(t *testing.T) {
	dir := t.TempDir()
	spinWasm := filepath.Join(dir, "spinner.wasm")
	if err := os.WriteFile(spinWasm, testwasm.WAT(t, filepath.Join(testwasm.Root(t), "host/component/testdata/spinner.wat")), 0o644); err != nil {
		t.Fatal(err)
	}
	spinner := install(t, dir, "spinner", spinWasm, `[limits]
call_deadline = "100ms"
[[access]]
operations = ["pubsub.subscribe"]
resources = ["spin/#"]
`)
	h := startHost(t, examplesConfig(t, fmt.Sprintf("[[components]]\nmanifest = %q\n", spinner)))
	s := subscribe(t, h, "sensors/#")
	sp := h.d.Component("spinner")
	alerts := h.d.Component("alerts")
	for sp.State() != component.StateBroken {
		if sp.State() == component.StateRunning {
			h.client.Publish(context.Background(), "spin/in", []byte("go"))
		}
		// Readings keep flowing and alerts keeps receiving them while the
		// spinner spins.
		n := len(s.waitFor(t, "readings", func(m []string) bool { return true }))
		s.waitFor(t, "readings to keep flowing while the spinner spins", func(m []string) bool { return len(m) > n+1 })
		before := alerts.Info().Delivered
		s.waitFor(t, "more readings", func(m []string) bool { return len(m) > n+3 })
		if alerts.Info().Delivered <= before {
			t.Fatalf("alerts received nothing while the spinner spun (%+v)", alerts.Info())
		}
	}
	info := sp.Info()
	if !strings.Contains(info.LastError, "deadline") || info.Errors != 3 {
		t.Fatalf("spinner: %+v", info)
	}
	var sawBroken bool
	for _, r := range h.logs.Tail("spinner", -1) {
		if strings.Contains(r.Msg, "component broken") {
			sawBroken = true
		}
	}
	if !sawBroken {
		t.Fatal("no log line says the spinner is broken")
	}
	for _, name := range []string{"sensor", "alerts"} {
		if st := h.d.Component(name).State(); st != component.StateRunning {
			t.Fatalf("%s is %s", name, st)
		}
	}
}

func TestBadManifestStopsStartWithFileAndLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("name = \"bad\"\nversion = \"1.0\"\n[wasm]\npath = \"x.wasm\"\nmemroy = 3\n"), 0o644)
	cfgFile := filepath.Join(dir, "moss.toml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("data_dir = %q\n[[components]]\nmanifest = %q\n", filepath.Join(dir, "data"), bad)), 0o644)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := New(cfg, slog.New(slog.DiscardHandler), nil)
	err = d.Run(context.Background())
	for _, want := range []string{bad + ":2", bad + ":5", "memroy"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Run error %v does not mention %q", err, want)
		}
	}
}

func TestWasmHashMismatchRefused(t *testing.T) {
	dir := t.TempDir()
	w := filepath.Join(dir, "c.wasm")
	os.WriteFile(w, testwasm.WAT(t, filepath.Join(testwasm.Root(t), "host/component/testdata/canary.wat")), 0o644)
	p := install(t, dir, "canary", w, "")
	b, _ := os.ReadFile(p)
	b = bytes.Replace(b, []byte("path = \"canary.wasm\"\n"), []byte("path = \"canary.wasm\"\nsha256 = \""+strings.Repeat("ab", 32)+"\"\n"), 1)
	os.WriteFile(p, b, 0o644)
	cfgFile := filepath.Join(dir, "moss.toml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("data_dir = %q\n[[components]]\nmanifest = %q\n", filepath.Join(dir, "data"), p)), 0o644)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := New(cfg, slog.New(slog.DiscardHandler), nil)
	d.SetStrict(true) // without it the component is BROKEN: hostile_load_test.go
	if err := d.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("Run = %v, want a sha256 mismatch", err)
	}
}

// TestSandbox: a component sees no files, directories, environment or
// network; its stdout and stderr land in its log; allocating without end
// stops at its memory cap, and the host and the other components go on.
func TestSandbox(t *testing.T) {
	dir := t.TempDir()
	root := testwasm.Root(t)
	manifest, err := os.ReadFile(filepath.Join(root, "host/daemon/testdata/snoop.toml"))
	if err != nil {
		t.Fatal(err)
	}
	snoop := install(t, dir, "snoop", testwasm.GoPath(t, filepath.Join(root, "host/daemon/testdata/snoop")), string(manifest))
	cfg := examplesConfig(t, fmt.Sprintf("[[components]]\nmanifest = %q\n", snoop))
	h := startHost(t, cfg)
	// snoop reports from its start handler. Make it hog memory: it fails,
	// restarts and reports again, to this subscription.
	s := subscribe(t, h, "snoop/result")
	h.client.Publish(context.Background(), "snoop/hog", []byte("eat"))
	msgs := s.waitFor(t, "snoop's report after its restart", func(m []string) bool { return len(m) >= 1 })
	result := strings.TrimPrefix(msgs[0], "snoop/result ")
	if result != "{}" {
		t.Fatalf("the sandbox leaked: %s", result)
	}
	if _, err := os.Stat("/tmp/snoop-was-here"); err == nil {
		t.Fatal("snoop created a file on the host")
	}
	info := h.d.Component("snoop").Info()
	if info.Errors < 1 || !strings.Contains(info.LastError, "memory limit reached (limit 16384 KiB") {
		t.Fatalf("memory hog did not fail naming its limit: %+v", info)
	}
	var stdout, stderr, oom bool
	for _, r := range h.logs.Tail("snoop", -1) {
		line := r.String()
		stdout = stdout || strings.Contains(line, "snoop says hello on stdout")
		stderr = stderr || strings.Contains(line, "snoop says hello on stderr")
		oom = oom || strings.Contains(line, "out of memory")
	}
	if testing.Verbose() {
		for _, r := range h.logs.Tail("snoop", -1) {
			t.Log(r)
		}
	}
	if !stdout || !stderr || !oom {
		t.Fatalf("snoop's log: stdout=%v stderr=%v out-of-memory=%v\n%v", stdout, stderr, oom, h.logs.Tail("snoop", -1))
	}
	for _, name := range []string{"sensor", "alerts"} {
		if st := h.d.Component(name).State(); st != component.StateRunning {
			t.Fatalf("%s is %s after snoop's hog", name, st)
		}
	}
}

// TestStartAndStopOrder: a component starts after what it depends on and
// stops before it.
func TestStartAndStopOrder(t *testing.T) {
	dir := t.TempDir()
	w := filepath.Join(dir, "canary.wasm")
	os.WriteFile(w, testwasm.WAT(t, filepath.Join(testwasm.Root(t), "host/component/testdata/canary.wat")), 0o644)
	grant := "[[access]]\noperations = [\"pubsub.subscribe\"]\nresources = [\"canary/#\"]\n"
	app := install(t, dir, "app", w, "[dependencies]\ndb = { version = \"^1.0.0\" }\n"+grant)
	db := install(t, dir, "db", w, grant)
	cfg := fmt.Sprintf("data_dir = %q\nadmin_socket = %q\n[[components]]\nmanifest = %q\n[[components]]\nmanifest = %q\n",
		filepath.Join(dir, "data"), filepath.Join(dir, "a.sock"), app, db)
	h := startHost(t, cfg)
	h.stop(t)
	var events []string
	for _, r := range h.logs.Tail("", -1) {
		if r.Msg == "component running" || r.Msg == "component stopped" {
			events = append(events, r.Component+" "+strings.TrimPrefix(r.Msg, "component "))
		}
	}
	want := "db running,app running,app stopped,db stopped"
	if got := strings.Join(events, ","); got != want {
		t.Fatalf("lifecycle order %q, want %q", got, want)
	}
}

// TestSecondHostRefused: a second host on the same admin socket stops
// before starting anything, and the first keeps running.
func TestSecondHostRefused(t *testing.T) {
	dir := t.TempDir()
	w := filepath.Join(dir, "canary.wasm")
	os.WriteFile(w, testwasm.WAT(t, filepath.Join(testwasm.Root(t), "host/component/testdata/canary.wat")), 0o644)
	c := install(t, dir, "canary", w, "[[access]]\noperations = [\"pubsub.subscribe\"]\nresources = [\"canary/#\"]\n")
	cfgText := fmt.Sprintf("data_dir = %q\nadmin_socket = %q\n[[components]]\nmanifest = %q\n", filepath.Join(dir, "data"), filepath.Join(dir, "a.sock"), c)
	first := startHost(t, cfgText)
	cfgFile := filepath.Join(dir, "second.toml")
	os.WriteFile(cfgFile, []byte(cfgText), 0o644)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	buf := logs.NewBuffer(100)
	d, _ := New(cfg, slog.New(buf.Handler(nil)), buf)
	if err := d.Run(context.Background()); !errors.Is(err, admin.ErrAlreadyRunning) {
		t.Fatalf("second host: %v, want ErrAlreadyRunning", err)
	}
	for _, r := range buf.Tail("", -1) {
		if r.Msg == "component running" {
			t.Fatal("the second host started a component")
		}
	}
	if _, err := first.client.List(context.Background()); err != nil {
		t.Fatalf("first host no longer answers: %v", err)
	}
}

// TestSecrets: a secret set through the admin socket (what `moss secret set`
// uses) reaches a component granted it, is refused to one not granted, and
// its value appears in no log line and not in the database file.
func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	root := testwasm.Root(t)
	manifest, err := os.ReadFile(filepath.Join(root, "host/daemon/testdata/secretreader.toml"))
	if err != nil {
		t.Fatal(err)
	}
	c := install(t, dir, "secretreader", testwasm.GoPath(t, filepath.Join(root, "host/daemon/testdata/secretreader")), string(manifest))
	data := filepath.Join(dir, "data")
	h := startHost(t, fmt.Sprintf("data_dir = %q\ncache_dir = %q\n[[components]]\nmanifest = %q\n", data, testwasm.CompileCacheDir(t), c))
	const value = "correct-horse-battery-staple"
	ctx := context.Background()
	if err := h.client.SetSecret(ctx, "db-password", []byte(value)); err != nil {
		t.Fatal(err)
	}
	if err := h.client.SetSecret(ctx, "root-password", []byte("other-"+value)); err != nil {
		t.Fatal(err)
	}
	out := subscribe(t, h, "secret/out")
	denied := subscribe(t, h, "secret/denied")
	h.client.Publish(ctx, "secret/read", nil)
	msgs := append(out.waitFor(t, "the secret", func(m []string) bool { return len(m) >= 1 }),
		denied.waitFor(t, "the denial", func(m []string) bool { return len(m) >= 1 })...)
	if msgs[0] != "secret/out "+value {
		t.Fatalf("component read %q", msgs[0])
	}
	if !strings.HasPrefix(msgs[1], "secret/denied ") || !strings.Contains(msgs[1], "access denied") || strings.Contains(msgs[1], value) {
		t.Fatalf("ungranted secret: %q", msgs[1])
	}
	if names, err := h.client.SecretNames(ctx); err != nil || strings.Join(names, ",") != "db-password,root-password" {
		t.Fatalf("names: %v %v", names, err)
	}
	h.stop(t)
	for _, r := range h.logs.Tail("", -1) {
		if strings.Contains(r.String(), value) {
			t.Fatalf("a log line carries the secret: %s", r)
		}
	}
	raw, err := os.ReadFile(filepath.Join(data, "moss.db"))
	if err != nil || bytes.Contains(raw, []byte(value)) {
		t.Fatalf("database holds the secret in plaintext (or is missing: %v)", err)
	}
	if fi, err := os.Stat(filepath.Join(data, "secret.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret key file: %v", err)
	}
}

// TestReadableSecretKeyRefused: the host does not start with a secret key
// others can read, and says how to fix it.
func TestReadableSecretKeyRefused(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "secret.key")
	os.WriteFile(key, bytes.Repeat([]byte{1}, 32), 0o644)
	os.Chmod(key, 0o644)
	cfgFile := filepath.Join(dir, "moss.toml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("data_dir = %q\nsecret_key_file = %q\n", filepath.Join(dir, "data"), key)), 0o644)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := New(cfg, slog.New(slog.DiscardHandler), nil)
	err = d.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "chmod 600 "+key) {
		t.Fatalf("Run = %v", err)
	}
	if _, err := os.Stat(cfg.AdminSocket); !os.IsNotExist(err) {
		t.Fatalf("admin socket left behind: %v", err)
	}
}

// TestWASIGrants: what a manifest grants under [wasi], and nothing more.
func TestWASIGrants(t *testing.T) {
	dir := t.TempDir()
	root := testwasm.Root(t)
	data := filepath.Join(dir, "shared")
	os.MkdirAll(data, 0o755)
	os.WriteFile(filepath.Join(data, "hello.txt"), []byte("hi from the host"), 0o644)
	t.Setenv("MOSS_TEST_GRANTED", "yes")
	t.Setenv("MOSS_TEST_HIDDEN", "should not be seen")
	grants := fmt.Sprintf(`[wasi]
env = ["MOSS_TEST_GRANTED"]
clock = false
[[wasi.dirs]]
host = %q
guest = "/data"
[[access]]
operations = ["pubsub.publish"]
resources = ["wasi/result"]
`, data)
	probe := install(t, dir, "wasiprobe", testwasm.GoPath(t, filepath.Join(root, "host/daemon/testdata/wasiprobe")), grants)
	cfg := fmt.Sprintf("data_dir = %q\ncache_dir = %q\n[[components]]\nmanifest = %q\n",
		filepath.Join(dir, "data"), testwasm.CompileCacheDir(t), probe)
	// The probe reports once, from its start handler: catch it with a bus
	// subscription made before Run starts components.
	h := startHostWith(t, cfg, "wasi/result")
	msgs := h.early.waitFor(t, "the probe's report", func(m []string) bool { return len(m) >= 1 })
	var res map[string]any
	if err := json.Unmarshal([]byte(strings.TrimPrefix(msgs[0], "wasi/result ")), &res); err != nil {
		t.Fatal(err)
	}
	if res["file"] != "hi from the host" || res["write"] != nil || res["granted"] != "yes" || res["hidden"] != "" {
		t.Fatalf("grants not as configured: %v", res)
	}
	if res["year"].(float64) >= 2026 {
		t.Fatalf("clock = false still gave the real clock (year %v)", res["year"])
	}
	if _, err := os.Stat(filepath.Join(data, "written.txt")); err == nil {
		t.Fatal("a read-only mount was written")
	}
}
