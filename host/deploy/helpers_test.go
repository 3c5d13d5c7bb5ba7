package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/moss-edge/moss/host/conftree"
	"github.com/moss-edge/moss/host/manifest"
	"github.com/moss-edge/moss/host/store"
	"github.com/moss-edge/moss/internal/poll"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// component writes a component (manifest and a module) under dir and
// returns the manifest's path. extra is appended to the manifest as TOML
// (dependencies, config).
func component(t *testing.T, dir, name, version, extra string) string {
	t.Helper()
	d := filepath.Join(dir, name+"-"+version)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	// Not a module the engine would run: the test host never compiles it.
	// Its bytes differ per version, as builds do.
	wasm := []byte("\x00asm\x01\x00\x00\x00" + name + "@" + version)
	if err := os.WriteFile(filepath.Join(d, name+".wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("name = %q\nversion = %q\n\n[wasm]\npath = %q\n\n%s\n", name, version, name+".wasm", extra)
	file := filepath.Join(d, "component.toml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// testHost is the Host of these tests: it records every call, keeps what it
// was told to run, and fails or blocks where a test says.
type testHost struct {
	mu          sync.Mutex
	installed   map[string]Installed
	calls       []string
	failApply   map[string]error         // by "name version"
	failHealthy map[string]error         // by name
	block       map[string]chan struct{} // Apply of "name version" waits for this (or ctx)
	notify      func(names []string) (time.Time, error)
}

func newTestHost(running ...Installed) *testHost {
	h := &testHost{
		installed:   map[string]Installed{},
		failApply:   map[string]error{},
		failHealthy: map[string]error{},
		block:       map[string]chan struct{}{},
	}
	for _, in := range running {
		h.installed[in.Name] = in
	}
	return h
}

func (h *testHost) call(format string, args ...any) {
	h.mu.Lock()
	h.calls = append(h.calls, fmt.Sprintf(format, args...))
	h.mu.Unlock()
}

// Calls returns the calls so far, and forgets them.
func (h *testHost) Calls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.calls
	h.calls = nil
	return c
}

func (h *testHost) called(s string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Contains(h.calls, s)
}

func (h *testHost) Installed() map[string]Installed {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]Installed{}
	for n, in := range h.installed {
		in.Config = conftree.Merge(nil, in.Config)
		out[n] = in
	}
	return out
}

func (h *testHost) Apply(ctx context.Context, file string, cfg map[string]any) error {
	m, err := manifest.Load(file)
	if err != nil {
		return err
	}
	if _, err := m.ReadWasm(); err != nil {
		return err
	}
	k := m.Name + " " + m.Version
	h.call("apply %s", k)
	h.mu.Lock()
	block, fail := h.block[k], h.failApply[k]
	h.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", m.Name, ctx.Err())
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	// A component that failed to start is still there, at the new
	// version, errored: as the real host leaves it.
	h.installed[m.Name] = Installed{Name: m.Name, Version: m.Version, Manifest: file, Config: conftree.Merge(nil, cfg)}
	return fail
}

func (h *testHost) Remove(_ context.Context, name string) error {
	h.call("remove %s", name)
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.installed, name)
	return nil
}

func (h *testHost) Healthy(_ context.Context, name string, _ time.Duration) error {
	h.call("healthy %s", name)
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failHealthy[name]
}

func (h *testHost) Notify(_ context.Context, names []string) (time.Time, error) {
	h.call("notify %s", strings.Join(names, ","))
	h.mu.Lock()
	fn := h.notify
	h.mu.Unlock()
	if fn == nil {
		return time.Time{}, nil
	}
	return fn(names)
}

// versions renders what the host runs: "a 1.0.0, b 2.0.0".
func (h *testHost) versions() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var s []string
	for _, n := range sortedKeys(h.installed) {
		s = append(s, n+" "+h.installed[n].Version)
	}
	return strings.Join(s, ", ")
}

// env is a Deployer over a database in a temp directory, running until the
// test ends (or stop is called).
type env struct {
	t     *testing.T
	dir   string // the data directory
	db    *store.Store
	comps *Store
	host  *testHost
	d     *Deployer
	stop  func()
}

func newEnv(t *testing.T, h *testHost) *env {
	t.Helper()
	dir := t.TempDir()
	return openEnv(t, dir, filepath.Join(dir, "moss.db"), h)
}

// openEnv opens the database file db of data directory dir, recovers and
// runs the deployer.
func openEnv(t *testing.T, dir, dbFile string, h *testHost) *env {
	t.Helper()
	db, err := store.Open(dbFile)
	if err != nil {
		t.Fatal(err)
	}
	comps, err := NewStore(filepath.Join(dir, "components"), db, 0)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Options{DB: db, Components: comps, Host: h})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	e := &env{t: t, dir: dir, db: db, comps: comps, host: h, d: d}
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			db.Close()
		})
	}
	t.Cleanup(e.stop)
	return e
}

// submit writes doc as dir/<name> and submits it.
func (e *env) submit(name, doc string) Record {
	e.t.Helper()
	file := filepath.Join(e.dir, name)
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		e.t.Fatal(err)
	}
	r, err := e.d.Submit([]byte(doc), file, "")
	if err != nil {
		e.t.Fatalf("Submit %s: %v", name, err)
	}
	return r
}

// follow waits for deployment id to end and returns its record and the
// events it reported, as text.
func (e *env) follow(id string) (Record, []string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), poll.Deadline)
	defer cancel()
	var events []string
	r, err := e.d.Follow(ctx, id, func(p Progress) { events = append(events, p.String()) })
	if err != nil {
		e.t.Fatalf("Follow %s: %v", id, err)
	}
	return r, events
}

func (e *env) status(id string) Status {
	r, err := e.d.Get(id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r.Status
}

func running(name, version, manifest string, cfg map[string]any) Installed {
	return Installed{Name: name, Version: version, Manifest: manifest, Config: cfg}
}
