package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/moss-edge/moss/host/manifest"
	"github.com/moss-edge/moss/host/store"
	"github.com/moss-edge/moss/internal/poll"
)

// fixture: the host runs a 1.0.0 (started from a manifest outside the
// component store, as from the host configuration); the sources directory
// holds a 2.0.0 and b 1.0.0, which needs a ^2.
type fixture struct {
	src      string // where the document and the sources are
	a1       string // a 1.0.0's manifest
	a1Config map[string]any
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	src := t.TempDir()
	f := fixture{src: src}
	f.a1 = component(t, src, "a", "1.0.0", "[config]\nthreshold = 10\nwindow = 5\n")
	f.a1Config = map[string]any{"threshold": int64(10), "window": int64(99)} // window changed at runtime
	component(t, src, "a", "2.0.0", "[config]\nthreshold = 20\nwindow = 60\nunit = \"C\"\n")
	component(t, src, "b", "1.0.0", "[dependencies.a]\nversion = \"^2.0.0\"\n")
	return f
}

func (f fixture) host() *testHost {
	return newTestHost(running("a", "1.0.0", f.a1, f.a1Config))
}

// submit writes doc beside the sources and submits it to e.
func (f fixture) submit(t *testing.T, e *env, name, doc string) Record {
	t.Helper()
	file := filepath.Join(f.src, name)
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := e.d.Submit([]byte(doc), file, "")
	if err != nil {
		t.Fatalf("Submit %s: %v", name, err)
	}
	return r
}

const updateDoc = `
id = "%s"
failure_policy = "%s"
[timeouts]
start = "5s"
probation = "10ms"

[[components]]
name = "a"
version = "2.0.0"
manifest = "a-2.0.0/component.toml"
[components.config]
merge = { threshold = 30.0 }
reset = ["window"]

[[components]]
name = "b"
version = "1.0.0"
manifest = "b-1.0.0/component.toml"
`

func TestDeploySucceeds(t *testing.T) {
	f := newFixture(t)
	h := f.host()
	e := newEnv(t, h)
	r := f.submit(t, e, "d1.toml", fmt.Sprintf(updateDoc, "d1", "rollback"))
	if r.Status != Queued || r.ID != "d1" {
		t.Fatalf("Submit = %s %s, want d1 QUEUED", r.ID, r.Status)
	}
	r, events := e.follow("d1")
	if r.Status != Succeeded {
		t.Fatalf("status %s (%s), want SUCCEEDED; events:\n%s", r.Status, r.Reason, strings.Join(events, "\n"))
	}
	wantCalls := []string{"notify a", "apply a 2.0.0", "apply b 1.0.0", "healthy a", "healthy b"}
	if got := h.Calls(); !slices.Equal(got, wantCalls) {
		t.Errorf("host calls %q, want %q", got, wantCalls)
	}
	for _, want := range []string{
		"deployment d1: queued: next to run",
		"deployment d1: started: update a, install b",
		"a 1.0.0 -> 2.0.0: started",
		"a 1.0.0 -> 2.0.0: running",
		"b 1.0.0 (new): started",
		"a 1.0.0 -> 2.0.0: healthy",
		"deployment d1: SUCCEEDED",
	} {
		if !slices.Contains(events, want) {
			t.Errorf("no event %q in:\n%s", want, strings.Join(events, "\n"))
		}
	}

	// The current set is the target, from the component store, with the
	// configuration resolved: runtime values kept, new defaults added,
	// window reset to the new default, threshold merged.
	cur, set, err := e.d.Current()
	if err != nil || !set {
		t.Fatalf("Current: %v, set %v", err, set)
	}
	if len(cur) != 2 || cur[0].Name != "a" || cur[1].Name != "b" {
		t.Fatalf("current set %+v, want a then b", cur)
	}
	wantA := map[string]any{"threshold": 30.0, "window": int64(60), "unit": "C"}
	if !reflect.DeepEqual(cur[0].Config, wantA) {
		t.Errorf("a's configuration %#v, want %#v", cur[0].Config, wantA)
	}
	if dir := filepath.Join(e.dir, "components", "a", "2.0.0"); filepath.Dir(cur[0].Manifest) != dir {
		t.Errorf("a runs from %s, want the component store's %s", cur[0].Manifest, dir)
	}
	if got := h.versions(); got != "a 2.0.0, b 1.0.0" {
		t.Errorf("host runs %s", got)
	}
	if len(r.Previous) != 1 || r.Previous[0].Manifest != f.a1 || len(r.Target) != 2 {
		t.Errorf("record's sets: previous %+v, target %+v", r.Previous, r.Target)
	}
	for _, c := range r.Changes {
		if c.State != string(StepHealthy) {
			t.Errorf("change %+v: want state healthy", c)
		}
	}
}

func TestDeployFailureRollsBack(t *testing.T) {
	f := newFixture(t)
	h := f.host()
	h.failHealthy["b"] = errors.New("b errored during probation: trap: unreachable")
	e := newEnv(t, h)
	f.submit(t, e, "d1.toml", fmt.Sprintf(updateDoc, "d1", "rollback"))
	r, events := e.follow("d1")
	if r.Status != FailedRolledBack {
		t.Fatalf("status %s (%s), want FAILED_ROLLED_BACK", r.Status, r.Reason)
	}
	if want := "b 1.0.0 (new): b errored during probation: trap: unreachable"; r.Reason != want {
		t.Errorf("reason %q, want %q", r.Reason, want)
	}
	wantCalls := []string{"notify a", "apply a 2.0.0", "apply b 1.0.0", "healthy a", "healthy b",
		"remove b", "apply a 1.0.0"}
	if got := h.Calls(); !slices.Equal(got, wantCalls) {
		t.Errorf("host calls %q, want %q", got, wantCalls)
	}
	// The previous set runs again, with its own manifest and configuration.
	in := h.Installed()
	if len(in) != 1 || in["a"].Manifest != f.a1 || !reflect.DeepEqual(in["a"].Config, f.a1Config) {
		t.Errorf("host runs %+v, want a 1.0.0 as before", in)
	}
	cur, set, _ := e.d.Current()
	if !set || len(cur) != 1 || cur[0].Version != "1.0.0" {
		t.Errorf("current set %+v, want a 1.0.0", cur)
	}
	for _, want := range []string{
		"b 1.0.0 (new): failed: b errored during probation: trap: unreachable",
		"deployment d1: rolling back: restoring the previous set",
		"rollback: b 1.0.0 (remove): removed",
		"rollback: a 2.0.0 -> 1.0.0: running",
	} {
		if !slices.Contains(events, want) {
			t.Errorf("no event %q in:\n%s", want, strings.Join(events, "\n"))
		}
	}
}

func TestFailurePolicyNone(t *testing.T) {
	f := newFixture(t)
	h := f.host()
	h.failApply["b 1.0.0"] = errors.New("b: _initialize trapped")
	e := newEnv(t, h)
	f.submit(t, e, "d1.toml", fmt.Sprintf(updateDoc, "d1", "none"))
	r, _ := e.follow("d1")
	if r.Status != FailedNoRollback || !strings.Contains(r.Reason, `b: _initialize trapped (failure_policy is "none": not rolled back)`) {
		t.Fatalf("status %s (%s), want FAILED_NO_ROLLBACK", r.Status, r.Reason)
	}
	if got := h.Calls(); !slices.Equal(got, []string{"notify a", "apply a 2.0.0", "apply b 1.0.0"}) {
		t.Errorf("host calls %q", got)
	}
	// The current set says what runs: the truth, a mix.
	cur, _, _ := e.d.Current()
	var got []string
	for _, in := range cur {
		got = append(got, in.Name+" "+in.Version)
	}
	if strings.Join(got, ", ") != "a 2.0.0, b 1.0.0" || h.versions() != "a 2.0.0, b 1.0.0" {
		t.Errorf("current set %q, host runs %s", got, h.versions())
	}
}

func TestStartTimeout(t *testing.T) {
	f := newFixture(t)
	h := f.host()
	h.block["a 2.0.0"] = make(chan struct{}) // never starts
	e := newEnv(t, h)
	f.submit(t, e, "d1.toml", strings.Replace(fmt.Sprintf(updateDoc, "d1", "rollback"), `start = "5s"`, `start = "50ms"`, 1))
	r, _ := e.follow("d1")
	if r.Status != FailedRolledBack || !strings.HasPrefix(r.Reason, "a 1.0.0 -> 2.0.0: did not reach RUNNING within 50ms (timeouts.start): a: context deadline exceeded") {
		t.Fatalf("status %s (%q), want FAILED_ROLLED_BACK after the start timeout", r.Status, r.Reason)
	}
	if h.versions() != "a 1.0.0" {
		t.Errorf("host runs %s", h.versions())
	}
}

func TestRejectedDependencies(t *testing.T) {
	for _, tc := range []struct {
		name, bDeps, want string
	}{
		{"cycle", "[dependencies.a]\nversion = \"^2.0.0\"\n", "dependencies: cycle a -> b -> a"},
		{"range", "[dependencies.a]\nversion = \">=3.0.0\"\n", "dependencies: b 1.0.0 needs a >=3.0.0, but a 2.0.0 would be running"},
		{"missing", "[dependencies.broker]\nversion = \"^1\"\n", "dependencies: b 1.0.0 needs broker ^1, which would not be running"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := t.TempDir()
			a1 := component(t, src, "a", "1.0.0", "")
			deps := ""
			if tc.name == "cycle" {
				deps = "[dependencies.b]\nversion = \"*\"\n"
			}
			component(t, src, "a", "2.0.0", deps)
			component(t, src, "b", "1.0.0", tc.bDeps)
			h := newTestHost(running("a", "1.0.0", a1, nil))
			e := newEnv(t, h)
			f := fixture{src: src}
			f.submit(t, e, "d.toml", fmt.Sprintf(updateDoc, "d1", "rollback"))
			r, _ := e.follow("d1")
			if r.Status != Rejected || r.Reason != tc.want {
				t.Errorf("status %s, reason %q; want REJECTED, %q", r.Status, r.Reason, tc.want)
			}
			if calls := h.Calls(); len(calls) != 0 {
				t.Errorf("a rejected deployment called the host: %q", calls)
			}
			if _, set, _ := e.d.Current(); set {
				t.Error("a rejected deployment set the current set")
			}
		})
	}
}

func TestRejectedAtSubmit(t *testing.T) {
	f := newFixture(t)
	e := newEnv(t, f.host())
	pinned := component(t, f.src, "c", "1.0.0", "")
	text, _ := os.ReadFile(pinned)
	text = []byte(strings.Replace(string(text), "[wasm]\n", "[wasm]\nsha256 = \""+strings.Repeat("ab", 32)+"\"\n", 1))
	if err := os.WriteFile(pinned, text, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"bad document", "id = \"r1\"\nfailure_policy = \"maybe\"\n[[remove]]\nname = \"a\"\n",
			[]string{`r1.toml:2: failure_policy "maybe": want "rollback" or "none"`}},
		{"unknown version", "id = \"r2\"\n[[components]]\nname = \"a\"\nversion = \"9.9.9\"\n",
			[]string{"r2.toml:2: a 9.9.9: unknown version: not in the component store, and the document gives no manifest"}},
		{"digest mismatch", "id = \"r3\"\n[[components]]\nname = \"c\"\nversion = \"1.0.0\"\nmanifest = \"c-1.0.0/component.toml\"\n",
			[]string{"r3.toml:2: c 1.0.0: artifact digest mismatch", "sha256 mismatch"}},
		{"version mismatch", "id = \"r4\"\n[[components]]\nname = \"a\"\nversion = \"2.0.1\"\nmanifest = \"a-2.0.0/component.toml\"\n",
			[]string{"r4.toml:2: a 2.0.1: ", "a-2.0.0/component.toml is a 2.0.0"}},
		{"missing manifest", "id = \"r5\"\n[[components]]\nname = \"a\"\nversion = \"2.0.0\"\nmanifest = \"nowhere/component.toml\"\n",
			[]string{"r5.toml:2: a: open ", "no such file or directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := strings.SplitN(tc.doc, "\"", 3)[1]
			r := f.submit(t, e, id+".toml", tc.doc)
			if r.Status != Rejected {
				t.Fatalf("status %s, want REJECTED", r.Status)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Reason, w) {
					t.Errorf("reason %q lacks %q", r.Reason, w)
				}
			}
			// Recorded, with its reason.
			if got, err := e.d.Get(id); err != nil || got.Status != Rejected || got.Reason != r.Reason {
				t.Errorf("Get = %+v, %v", got.Status, err)
			}
		})
	}
	if calls := e.host.Calls(); len(calls) != 0 {
		t.Errorf("rejected deployments called the host: %q", calls)
	}

	// No record at all: no usable id, or an id already used.
	if _, err := e.d.Submit([]byte("[[remove]]\nname = \"a\"\n"), "x.toml", ""); err == nil || !strings.Contains(err.Error(), `x.toml: missing required key "id"`) {
		t.Errorf("Submit without an id: %v", err)
	}
	if _, err := e.d.Submit([]byte("id = \"r1\"\n[[remove]]\nname = \"a\"\n"), "", ""); !errors.Is(err, ErrDuplicateID) {
		t.Errorf("Submit with a used id: %v, want ErrDuplicateID", err)
	}
}

func TestQueueAndCancel(t *testing.T) {
	f := newFixture(t)
	h := f.host()
	unblock := make(chan struct{})
	h.block["b 1.0.0"] = unblock
	e := newEnv(t, h)

	f.submit(t, e, "d1.toml", fmt.Sprintf(updateDoc, "d1", "rollback"))
	poll.Until(t, "d1 to start b", func() bool { return h.called("apply b 1.0.0") })
	if s := e.status("d1"); s != InProgress {
		t.Fatalf("d1 is %s, want IN_PROGRESS", s)
	}

	r2 := f.submit(t, e, "d2.toml", "id = \"d2\"\n[[remove]]\nname = \"a\"\n")
	r3 := f.submit(t, e, "d3.toml", "id = \"d3\"\n[[remove]]\nname = \"a\"\n")
	if r2.Status != Queued || !slices.Equal(r2.WaitingFor, []string{"d1"}) {
		t.Errorf("d2: %s waiting for %q, want QUEUED waiting for d1", r2.Status, r2.WaitingFor)
	}
	if !slices.Equal(r3.WaitingFor, []string{"d1", "d2"}) {
		t.Errorf("d3 waits for %q, want d1, d2", r3.WaitingFor)
	}
	if ev := r3.Events[0].String(); ev != "deployment d3: queued: waiting for d1, d2" {
		t.Errorf("d3's first event %q", ev)
	}
	list, err := e.d.List()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range list {
		ids = append(ids, r.ID+" "+string(r.Status))
	}
	if want := []string{"d1 IN_PROGRESS", "d2 QUEUED", "d3 QUEUED"}; !slices.Equal(ids, want) {
		t.Errorf("List: %q, want %q", ids, want)
	}

	// A queued deployment is dropped; the one after it moves up.
	ctx := context.Background()
	c2, err := e.d.Cancel(ctx, "d2")
	if err != nil || c2.Status != Canceled || c2.Reason != "canceled before it started" {
		t.Fatalf("Cancel d2: %s %q, %v", c2.Status, c2.Reason, err)
	}
	if r, _ := e.d.Get("d3"); !slices.Equal(r.WaitingFor, []string{"d1"}) {
		t.Errorf("d3 now waits for %q, want d1", r.WaitingFor)
	}
	c3, err := e.d.Cancel(ctx, "d3")
	if err != nil || c3.Status != Canceled {
		t.Fatalf("Cancel d3: %s, %v", c3.Status, err)
	}

	// The one in progress stops and is rolled back.
	c1, err := e.d.Cancel(ctx, "d1")
	if err != nil || c1.Status != Canceled || c1.Reason != "canceled during the deployment; rolled back to the previous set" {
		t.Fatalf("Cancel d1: %s %q, %v", c1.Status, c1.Reason, err)
	}
	if got := h.versions(); got != "a 1.0.0" {
		t.Errorf("after the cancel the host runs %s, want a 1.0.0", got)
	}
	if cur, _, _ := e.d.Current(); len(cur) != 1 || cur[0].Version != "1.0.0" {
		t.Errorf("current set %+v", cur)
	}
	if _, err := e.d.Cancel(ctx, "d1"); !errors.Is(err, ErrEnded) {
		t.Errorf("Cancel of an ended deployment: %v, want ErrEnded", err)
	}
	if _, err := e.d.Cancel(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Cancel of an unknown deployment: %v, want ErrNotFound", err)
	}
	close(unblock)
	// Nothing else ran: d2 and d3 never started.
	if calls := h.Calls(); slices.Contains(calls, "remove a") {
		t.Errorf("a canceled deployment ran: %q", calls)
	}
}

func TestNotifyDefers(t *testing.T) {
	f := newFixture(t)
	h := f.host()
	answers := 0
	h.notify = func([]string) (time.Time, error) {
		answers++
		if answers == 1 {
			return time.Now().Add(20 * time.Millisecond), nil
		}
		return time.Time{}, nil
	}
	e := newEnv(t, h)
	f.submit(t, e, "d1.toml", fmt.Sprintf(updateDoc, "d1", "rollback"))
	r, events := e.follow("d1")
	if r.Status != Succeeded {
		t.Fatalf("status %s (%s)", r.Status, r.Reason)
	}
	calls := h.Calls()
	if !slices.Equal(calls[:3], []string{"notify a", "notify a", "apply a 2.0.0"}) {
		t.Errorf("host calls %q: want two notifications before the update", calls)
	}
	if !slices.ContainsFunc(events, func(s string) bool {
		return strings.HasPrefix(s, "deployment d1: waiting: components deferred the update until ")
	}) {
		t.Errorf("no waiting event in:\n%s", strings.Join(events, "\n"))
	}
}

func TestNotifyTimeoutAndSkip(t *testing.T) {
	f := newFixture(t)
	h := f.host()
	h.notify = func([]string) (time.Time, error) { return time.Now().Add(time.Hour), nil }
	e := newEnv(t, h)
	doc := strings.Replace(fmt.Sprintf(updateDoc, "d1", "rollback"), "[timeouts]", "[update_policy]\ntimeout = \"30ms\"\n[timeouts]", 1)
	f.submit(t, e, "d1.toml", doc)
	r, events := e.follow("d1")
	if r.Status != Succeeded {
		t.Fatalf("status %s (%s)", r.Status, r.Reason)
	}
	if !slices.ContainsFunc(events, func(s string) bool {
		return strings.HasPrefix(s, "deployment d1: notice: update_policy.timeout (30ms) has passed; going ahead")
	}) {
		t.Errorf("no timeout notice in:\n%s", strings.Join(events, "\n"))
	}
	h.Calls()

	doc = strings.Replace(fmt.Sprintf(updateDoc, "d2", "rollback"), "[timeouts]", "[update_policy]\naction = \"skip\"\n[timeouts]", 1)
	doc = strings.Replace(doc, "threshold = 30.0", "threshold = 31.0", 1)
	f.submit(t, e, "d2.toml", doc)
	if r, _ := e.follow("d2"); r.Status != Succeeded {
		t.Fatalf("d2: %s (%s)", r.Status, r.Reason)
	}
	if got := h.Calls(); !slices.Equal(got, []string{"apply a 2.0.0", "healthy a"}) {
		t.Errorf("with action skip (a new configuration only): calls %q", got)
	}
}

// TestRecoverAfterCrash takes a copy of the database while a deployment is
// half done (a updated, b starting), as a kill -9 would leave it, and
// starts a host on it.
func TestRecoverAfterCrash(t *testing.T) {
	f := newFixture(t)
	h := f.host()
	h.block["b 1.0.0"] = make(chan struct{})
	e := newEnv(t, h)
	f.submit(t, e, "d1.toml", fmt.Sprintf(updateDoc, "d1", "rollback"))
	poll.Until(t, "d1 to start b", func() bool { return h.called("apply b 1.0.0") })
	crash := filepath.Join(e.dir, "crash.db")
	err := e.db.View(HistoryBucket, func(b *bolt.Bucket) error { return b.Tx().CopyFile(crash, 0o600) })
	if err != nil {
		t.Fatal(err)
	}
	e.stop()

	// The host restarts. A deployment has never set the current set, so
	// it would run its configuration's components; to show that Recover
	// fixes a mix, this one comes up running what the crash left.
	_, set, err := readCurrentFile(t, crash)
	if err != nil || set {
		t.Fatalf("after the crash: current set %v, %v; want none (the deployment never ended)", set, err)
	}
	h2 := newTestHost(running("a", "2.0.0", filepath.Join(e.dir, "components/a/2.0.0/component.toml"), nil),
		running("b", "1.0.0", filepath.Join(e.dir, "components/b/1.0.0/component.toml"), nil))
	e2 := openEnv(t, e.dir, crash, h2)
	r, err := e2.d.Get("d1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != FailedRolledBack || r.Reason != "host restarted during the deployment" {
		t.Errorf("after Recover: %s %q, want FAILED_ROLLED_BACK, host restarted during the deployment", r.Status, r.Reason)
	}
	if got := h2.Calls(); !slices.Equal(got, []string{"remove b", "apply a 1.0.0"}) {
		t.Errorf("Recover called %q, want remove b, apply a 1.0.0", got)
	}
	if got := h2.versions(); got != "a 1.0.0" {
		t.Errorf("after Recover the host runs %s", got)
	}
	in := h2.Installed()["a"]
	if in.Manifest != f.a1 || !reflect.DeepEqual(in.Config, f.a1Config) {
		t.Errorf("a restored as %+v", in)
	}
	cur, set, err := e2.d.Current()
	if err != nil || !set || len(cur) != 1 || cur[0].Manifest != f.a1 {
		t.Errorf("current set %+v (%v, %v), want the previous one", cur, set, err)
	}
}

// TestRecoverAfterStop: a host that stops mid-deployment leaves it
// IN_PROGRESS; started again from its current set, Recover has nothing to
// restore and records the outcome.
func TestRecoverAfterStop(t *testing.T) {
	f := newFixture(t)
	h := f.host()
	h.block["b 1.0.0"] = make(chan struct{})
	e := newEnv(t, h)
	f.submit(t, e, "d1.toml", fmt.Sprintf(updateDoc, "d1", "rollback"))
	poll.Until(t, "d1 to start b", func() bool { return h.called("apply b 1.0.0") })
	f.submit(t, e, "d2.toml", "id = \"d2\"\n[[remove]]\nname = \"a\"\n")
	e.stop()

	db, err := store.Open(filepath.Join(e.dir, "moss.db"))
	if err != nil {
		t.Fatal(err)
	}
	comps, _ := NewStore(filepath.Join(e.dir, "components"), db, 0)
	h2 := f.host() // what the daemon starts: the configuration's components
	d, err := New(Options{DB: db, Components: comps, Host: h2})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := d.Get("d1"); r.Status != InProgress {
		t.Fatalf("before Recover d1 is %s, want IN_PROGRESS", r.Status)
	}
	if _, err := d.Submit([]byte("id = \"d3\"\n[[remove]]\nname = \"a\"\n"), "", ""); !errors.Is(err, ErrNotReady) {
		t.Errorf("Submit before Recover: %v, want ErrNotReady", err)
	}
	if err := d.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := h2.Calls(); len(got) != 0 {
		t.Errorf("Recover on the previous set called %q, want nothing", got)
	}
	if r, _ := d.Get("d1"); r.Status != FailedRolledBack || r.Reason != "host restarted during the deployment" {
		t.Errorf("d1: %s %q", r.Status, r.Reason)
	}
	// d2 is queued again, and runs.
	if r, _ := d.Get("d2"); r.Status != Queued {
		t.Errorf("d2 after Recover: %s, want QUEUED", r.Status)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	r, err := d.Follow(ctx, "d2", func(Progress) {})
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
	db.Close()
	if err != nil || r.Status != Succeeded || h2.versions() != "" {
		t.Errorf("d2: %s (%s) %v; host runs %q", r.Status, r.Reason, err, h2.versions())
	}
}

func TestHistorySurvivesReopen(t *testing.T) {
	f := newFixture(t)
	e := newEnv(t, f.host())
	f.submit(t, e, "d1.toml", fmt.Sprintf(updateDoc, "d1", "rollback"))
	want, _ := e.follow("d1")
	e.stop()

	e2 := openEnv(t, e.dir, filepath.Join(e.dir, "moss.db"), newTestHost())
	list, err := e2.d.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("List after reopening: %d records, %v", len(list), err)
	}
	got := list[0]
	if got.ID != "d1" || got.Status != Succeeded || got.Started.IsZero() || got.Ended.IsZero() ||
		len(got.Events) != len(want.Events) || len(got.Changes) != 2 || got.Document != want.Document {
		t.Errorf("record after reopening: %+v", got)
	}
	if !reflect.DeepEqual(got.Events, want.Events) {
		t.Errorf("events differ after reopening:\n%v\n%v", got.Events, want.Events)
	}
	// Configurations keep their types through the database: 60 stays an
	// integer, 30.0 a float.
	cur, _, _ := e2.d.Current()
	if w, ok := cur[0].Config["window"].(int64); !ok || w != 60 {
		t.Errorf("window = %#v, want int64 60", cur[0].Config["window"])
	}
	if th, ok := cur[0].Config["threshold"].(float64); !ok || th != 30 {
		t.Errorf("threshold = %#v, want float64 30", cur[0].Config["threshold"])
	}
	// Ids stay taken.
	if _, err := e2.d.Submit([]byte(want.Document), "", ""); !errors.Is(err, ErrDuplicateID) {
		t.Errorf("resubmitting d1: %v", err)
	}
}

func TestGCKeepsWhatIsInUse(t *testing.T) {
	src := t.TempDir()
	h := newTestHost()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "moss.db"))
	if err != nil {
		t.Fatal(err)
	}
	comps, err := NewStore(filepath.Join(dir, "components"), db, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := New(Options{DB: db, Components: comps, Host: h})
	d.Recover(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done; db.Close() }()

	for i, v := range []string{"1.0.0", "2.0.0", "3.0.0"} {
		m := component(t, src, "a", v, "")
		doc := fmt.Sprintf("id = \"d%d\"\n[update_policy]\naction = \"skip\"\n[[components]]\nname = \"a\"\nversion = %q\nmanifest = %q\n", i, v, m)
		if _, err := d.Submit([]byte(doc), "", ""); err != nil {
			t.Fatal(err)
		}
		if r, err := d.Follow(ctx, fmt.Sprintf("d%d", i), func(Progress) {}); err != nil || r.Status != Succeeded {
			t.Fatalf("d%d: %s %s %v", i, r.Status, r.Reason, err)
		}
	}
	// keep = 1: only what runs remains, once Run has collected.
	poll.Until(t, "the store to hold a 3.0.0 only", func() bool {
		as, _ := comps.List()
		return len(as) == 1 && as[0].Version == "3.0.0"
	})
}

func readCurrentFile(t *testing.T, file string) ([]Installed, bool, error) {
	t.Helper()
	db, err := store.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return readCurrent(db)
}

var _ = manifest.Load
