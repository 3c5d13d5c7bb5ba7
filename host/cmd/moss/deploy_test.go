package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moss-edge/moss/host/admin"
	"github.com/moss-edge/moss/host/deploy"
	"github.com/moss-edge/moss/host/manifest"
	"github.com/moss-edge/moss/host/store"
)

// Deployments of the fake host: none (the tests of other commands do not
// deploy).
func (h *fakeHost) Deployments() admin.Deployments { return nil }

// deployHost is a fakeHost with a real Deployer, whose components run on
// componentHost.
type deployHost struct {
	*fakeHost
	d *deploy.Deployer
}

func (h deployHost) Deployments() admin.Deployments { return h.d }

// componentHost is the deploy.Host under the Deployer: it keeps what it is
// told to run, fails the components named in fail and holds the ones in
// block until their context ends.
type componentHost struct {
	mu        sync.Mutex
	installed map[string]deploy.Installed
	fail      map[string]error
	block     map[string]bool
	applying  map[string]bool
}

func (h *componentHost) Installed() map[string]deploy.Installed {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]deploy.Installed{}
	for n, in := range h.installed {
		out[n] = in
	}
	return out
}

func (h *componentHost) Apply(ctx context.Context, file string, cfg map[string]any) error {
	m, err := manifest.Load(file)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.applying[m.Name] = true
	block, fail := h.block[m.Name], h.fail[m.Name]
	h.mu.Unlock()
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.installed[m.Name] = deploy.Installed{Name: m.Name, Version: m.Version, Manifest: file, Config: cfg}
	return fail
}

func (h *componentHost) Remove(_ context.Context, name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.installed, name)
	return nil
}

func (h *componentHost) Healthy(context.Context, string, time.Duration) error { return nil }

func (h *componentHost) Notify(context.Context, []string) (time.Time, error) {
	return time.Time{}, nil
}

func (h *componentHost) started(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.applying[name]
}

// startDeployHost serves a host with a Deployer on a temp socket until the
// test ends and returns the socket path.
func startDeployHost(t *testing.T, ch *componentHost) string {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "moss.db"))
	if err != nil {
		t.Fatal(err)
	}
	comps, err := deploy.NewStore(filepath.Join(dir, "components"), db, 0)
	if err != nil {
		t.Fatal(err)
	}
	d, err := deploy.New(deploy.Options{DB: db, Components: comps, Host: ch})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	path := filepath.Join(dir, "admin.sock")
	served, ran := make(chan error, 1), make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	go func() { served <- admin.NewServer(path, deployHost{&fakeHost{}, d}, nil, nil).Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := errors.Join(<-served, <-ran); err != nil {
			t.Error(err)
		}
		db.Close()
	})
	checkFor(t, func() bool {
		_, err := (&admin.Client{Path: path}).Status(ctx)
		return err == nil
	})
	return path
}

func newComponentHost() *componentHost {
	return &componentHost{installed: map[string]deploy.Installed{}, fail: map[string]error{}, block: map[string]bool{}, applying: map[string]bool{}}
}

// writeComponent writes a component's manifest and module under dir.
func writeComponent(t *testing.T, dir, name, version string) {
	t.Helper()
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(d, name+".wasm"), []byte("\x00asm\x01\x00\x00\x00"+name+version), 0o644)
	manifest := fmt.Sprintf("name = %q\nversion = %q\n[wasm]\npath = %q\n[config]\nthreshold = 10\n", name, version, name+".wasm")
	if err := os.WriteFile(filepath.Join(d, "component.toml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
}

// document writes a deployment document deploying the named components
// (each at 1.0.0, from <name>/component.toml) and returns its path.
func document(t *testing.T, dir, id string, names ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "id = %q\n[timeouts]\nprobation = \"0s\"\n", id)
	for _, n := range names {
		fmt.Fprintf(&b, "[[components]]\nname = %q\nversion = \"1.0.0\"\nmanifest = \"%s/component.toml\"\n", n, n)
	}
	file := filepath.Join(dir, id+".toml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// mossDeploy runs a command line as execute does, with the deployment
// commands added to the root when root.go does not add them (yet).
func mossDeploy(ctx context.Context, args ...string) result {
	var out, errOut bytes.Buffer
	g := &globals{Stdout: &out, Stderr: &errOut, Stdin: strings.NewReader("")}
	root := newRootCmd(g)
	if c, _, err := root.Find([]string{"deploy"}); err != nil || c == root {
		root.AddCommand(deployCommands(g)...)
	}
	root.SetArgs(args)
	code := 0
	if cmd, err := root.ExecuteContextC(ctx); err != nil {
		fmt.Fprintf(&errOut, "moss: %v\n", err)
		if errors.As(err, new(usageError)) {
			fmt.Fprintf(&errOut, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		code = 1
	}
	return result{code, out.String(), errOut.String()}
}

func TestDeployCommand(t *testing.T) {
	ch := newComponentHost()
	sock := startDeployHost(t, ch)
	src := t.TempDir()
	writeComponent(t, src, "sensor", "1.0.0")
	writeComponent(t, src, "alerts", "1.0.0")
	ctx := context.Background()

	r := mossDeploy(ctx, "--socket", sock, "deploy", document(t, src, "d1", "sensor", "alerts"))
	want := []string{
		"deployment d1: queued: next to run",
		"deployment d1: started: install alerts, install sensor",
		"alerts 1.0.0 (new): started",
		"alerts 1.0.0 (new): running",
		"sensor 1.0.0 (new): started",
		"sensor 1.0.0 (new): running",
		"alerts 1.0.0 (new): healthy",
		"sensor 1.0.0 (new): healthy",
		"deployment d1: SUCCEEDED",
	}
	if r.code != 0 || r.stdout != strings.Join(want, "\n")+"\n" || r.stderr != "" {
		t.Fatalf("moss deploy: exit %d\nstdout:\n%s\nstderr:\n%s\nwant stdout:\n%s", r.code, r.stdout, r.stderr, strings.Join(want, "\n"))
	}

	// A failure: exit 1, the device back where it was.
	writeComponent(t, src, "broken", "1.0.0")
	ch.mu.Lock()
	ch.fail["broken"] = errors.New("broken: trap: unreachable")
	ch.mu.Unlock()
	r = mossDeploy(ctx, "--socket", sock, "deploy", document(t, src, "d2", "broken"))
	if r.code != 1 || r.stderr != "moss: deployment d2 ended FAILED_ROLLED_BACK\n" ||
		!strings.Contains(r.stdout, "broken 1.0.0 (new): failed: broken: trap: unreachable\n") ||
		!strings.Contains(r.stdout, "rollback: broken 1.0.0 (remove): removed\n") ||
		!strings.HasSuffix(r.stdout, "deployment d2: FAILED_ROLLED_BACK: broken 1.0.0 (new): broken: trap: unreachable\n") {
		t.Errorf("failed deployment: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if _, ok := ch.Installed()["broken"]; ok {
		t.Error("the failed component is still installed")
	}

	// --artifacts: manifest paths are relative to it, not to the document.
	docs := t.TempDir()
	file := filepath.Join(docs, "d3.toml")
	os.WriteFile(file, []byte("id = \"d3\"\n[[components]]\nname = \"sensor\"\nversion = \"1.0.0\"\nmanifest = \"sensor/component.toml\"\n[components.config]\nmerge = { threshold = 15 }\n"), 0o644)
	if r := mossDeploy(ctx, "--socket", sock, "deploy", file, "--artifacts", src); r.code != 0 || !strings.Contains(r.stdout, "sensor 1.0.0: healthy") {
		t.Errorf("deploy --artifacts: %+v", r)
	}
	if got := ch.Installed()["sensor"].Config["threshold"]; got != int64(15) {
		t.Errorf("sensor's threshold = %#v after d3, want 15", got)
	}

	// Rejected: the reason, every problem, on stderr.
	bad := filepath.Join(docs, "bad.toml")
	os.WriteFile(bad, []byte("id = \"d4\"\nfailure_policy = \"maybe\"\n[[components]]\nname = \"sensor\"\nversion = \"1.0\"\n"), 0o644)
	r = mossDeploy(ctx, "--socket", sock, "deploy", bad)
	wantErr := "deployment d4: REJECTED:\n" +
		"  " + bad + ":2: failure_policy \"maybe\": want \"rollback\" or \"none\"\n" +
		"  " + bad + ":5: components[0].version: \"1.0\" is not an exact version (MAJOR.MINOR.PATCH, such as \"1.2.0\"): invalid semantic version\n" +
		"moss: deployment d4 was rejected\n"
	if r.code != 1 || r.stderr != wantErr || r.stdout != "" {
		t.Errorf("rejected deployment: exit %d\nstdout %q\nstderr:\n%s\nwant:\n%s", r.code, r.stdout, r.stderr, wantErr)
	}

	// The history.
	r = mossDeploy(ctx, "--socket", sock, "deployments")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if r.code != 0 || len(lines) != 5 || !strings.HasPrefix(lines[0], "ID   STATUS               STARTED               DURATION   REASON") {
		t.Fatalf("moss deployments: %+v", r)
	}
	for i, want := range []string{
		"d1   SUCCEEDED",
		"d2   FAILED_ROLLED_BACK",
		"d3   SUCCEEDED",
		"d4   REJECTED             -                     -          bad.toml:2: failure_policy \"maybe\": want \"rollback\" or \"none\" (and 1 more)",
	} {
		if !strings.HasPrefix(lines[i+1], want) {
			t.Errorf("row %d: %q, want it to start with %q", i+1, lines[i+1], want)
		}
	}
	if !strings.HasSuffix(lines[2], "broken 1.0.0 (new): broken: trap: unreachable") {
		t.Errorf("d2's row lacks its reason: %q", lines[2])
	}
	var recs []deploy.Record
	if err := json.Unmarshal([]byte(mossDeploy(ctx, "--socket", sock, "deployments", "--json").stdout), &recs); err != nil || len(recs) != 4 || recs[1].Status != deploy.FailedRolledBack {
		t.Errorf("moss deployments --json: %+v, %v", recs, err)
	}

	r = mossDeploy(ctx, "--socket", sock, "deployment", "show", "d2")
	for _, want := range []string{
		"ID:         d2\n",
		"Status:     FAILED_ROLLED_BACK\n",
		"Reason:     broken 1.0.0 (new): broken: trap: unreachable\n",
		"  NAME     ACTION    FROM   TO      STATE         ERROR\n",
		"  broken   install   -      1.0.0   rolled back   broken: trap: unreachable\n",
		"  rollback: broken 1.0.0 (remove): stopping\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("moss deployment show d2 lacks %q:\n%s", want, r.stdout)
		}
	}
	var rec deploy.Record
	if err := json.Unmarshal([]byte(mossDeploy(ctx, "--socket", sock, "deployment", "show", "d1", "--json").stdout), &rec); err != nil || len(rec.Target) != 2 || rec.Document == "" {
		t.Errorf("moss deployment show --json: %+v, %v", rec, err)
	}
	if r := mossDeploy(ctx, "--socket", sock, "deployment", "show", "nope"); r.code != 1 || r.stderr != "moss: deployment \"nope\": deployment \"nope\": no such deployment\n" {
		t.Errorf("show of an unknown deployment: %+v", r)
	}
}

func TestDeployNoWaitAndCancel(t *testing.T) {
	ch := newComponentHost()
	ch.block["slow"] = true
	sock := startDeployHost(t, ch)
	src := t.TempDir()
	writeComponent(t, src, "slow", "1.0.0")
	writeComponent(t, src, "sensor", "1.0.0")
	ctx := context.Background()

	r := mossDeploy(ctx, "--socket", sock, "deploy", "--no-wait", document(t, src, "d1", "slow"))
	if r.code != 0 || r.stdout != "deployment d1: QUEUED (next to run)\n" {
		t.Fatalf("deploy --no-wait: %+v", r)
	}
	checkFor(t, func() bool { return ch.started("slow") })
	r = mossDeploy(ctx, "--socket", sock, "deploy", "--no-wait", document(t, src, "d2", "sensor"))
	if r.code != 0 || r.stdout != "deployment d2: QUEUED (waiting for d1)\n" {
		t.Fatalf("second deploy --no-wait: %+v", r)
	}
	r = mossDeploy(ctx, "--socket", sock, "deployments")
	if !strings.Contains(r.stdout, "d1   IN_PROGRESS") || !strings.Contains(r.stdout, "d2   QUEUED        -                     -          waiting for d1") {
		t.Errorf("moss deployments while d1 runs:\n%s", r.stdout)
	}

	r = mossDeploy(ctx, "--socket", sock, "deployment", "cancel", "d1")
	if r.code != 0 || r.stdout != "deployment d1: CANCELED: canceled during the deployment; rolled back to the previous set\n" {
		t.Errorf("cancel d1: %+v", r)
	}
	// d2 runs next.
	checkFor(t, func() bool { _, ok := ch.Installed()["sensor"]; return ok })
	r = mossDeploy(ctx, "--socket", sock, "deployment", "cancel", "d1")
	if r.code != 1 || !strings.Contains(r.stderr, "the deployment has already ended: CANCELED") {
		t.Errorf("cancel of an ended deployment: %+v", r)
	}
}

func TestDeployUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"deploy"}, "moss: accepts 1 arg(s), received 0\nRun 'moss deploy --help' for usage.\n"},
		{[]string{"deploy", "/nonexistent/d.toml"}, "moss: open /nonexistent/d.toml: no such file or directory\n"},
		{[]string{"deployment", "cancel"}, "Run 'moss deployment cancel --help' for usage.\n"},
		{[]string{"deployments", "x"}, "Run 'moss deployments --help' for usage.\n"},
	} {
		r := mossDeploy(context.Background(), tc.args...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("moss %v: exit %d, stderr %q; want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	dir := t.TempDir()
	file := document(t, dir, "d1")
	r := mossDeploy(context.Background(), "deploy", file, "--artifacts", filepath.Join(dir, "nope"))
	if r.code != 1 || !strings.Contains(r.stderr, "--artifacts: stat ") {
		t.Errorf("--artifacts to nowhere: %+v", r)
	}
	for _, sub := range [][]string{{"deploy"}, {"deployments"}, {"deployment", "show"}, {"deployment", "cancel"}} {
		out := mossDeploy(context.Background(), append(sub, "--help")...).stdout
		if !strings.Contains(out, "Examples:") || !strings.Contains(out, "moss "+strings.Join(sub, " ")) {
			t.Errorf("moss %s --help lacks examples:\n%s", strings.Join(sub, " "), out)
		}
	}
}
