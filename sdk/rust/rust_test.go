//go:build !wasip1

// Package rustsdk_test tests the Rust SDK (sdk/rust): its own unit tests,
// built natively, its tables against the abi package, probes calling every
// function (testdata/probe, testdata/shadowprobe) in a real host, and
// examples/alerts-rust, built with sdk/rust/build.sh, in a real host beside
// the Go version of the same component (internal/conformance).
package rustsdk_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/host/component"
	"github.com/moss-edge/moss/internal/conformance"
	"github.com/moss-edge/moss/internal/testwasm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const toolchainHint = "apt-get install -y rustc libstd-rust-dev-wasm32 lld-14"

// rustc returns Debian's rustc (or $RUSTC), failing the test when it, its
// wasm32-wasi standard library or its linker is missing.
func rustc(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds Rust: skipped in -short mode")
	}
	r := os.Getenv("RUSTC")
	if r == "" {
		r = "/usr/bin/rustc" // a rustup rustc earlier on PATH may have no wasm32 target
	}
	if _, err := exec.LookPath(r); err != nil {
		t.Fatalf("%s not found: the Rust SDK's tests need Debian's rustc and its wasm32-wasi standard library (%s): %v", r, toolchainHint, err)
	}
	out, err := exec.Command(r, "--print", "sysroot").Output()
	if err != nil {
		t.Fatalf("%s --print sysroot: %v", r, err)
	}
	std, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "lib/rustlib/wasm32-wasi/lib/libstd-*.rlib"))
	if len(std) == 0 {
		t.Fatalf("%s has no wasm32-wasi standard library: %s", r, toolchainHint)
	}
	// Debian's rustc links Wasm with rust-lld, a link to lld-14.
	if r == "/usr/bin/rustc" {
		if _, err := exec.LookPath("rust-lld"); err != nil {
			t.Fatalf("rustc's Wasm linker rust-lld is missing or dangling (%s): %v", toolchainHint, err)
		}
	}
	return r
}

// buildRust builds a component from its crate root (relative to the module
// root) with sdk/rust/build.sh and returns the path of the .wasm file.
func buildRust(t *testing.T, src string) string {
	t.Helper()
	wasm, out := testwasm.Script(t, "sdk/rust/build.sh", src, "the Rust SDK needs "+toolchainHint, "RUSTC="+rustc(t))
	if len(out) > 0 {
		t.Errorf("sdk/rust/build.sh %s: warnings:\n%s", src, out)
	}
	return wasm
}

func alertsRust(t *testing.T) conformance.Component {
	return conformance.Component{
		Wasm:     buildRust(t, "examples/alerts-rust/alerts.rs"),
		Manifest: conformance.ReadManifest(t, "examples/alerts-rust"),
	}
}

// TestAlertsConformance runs examples/alerts-rust and examples/alerts, each
// in a real host with the same configuration, feeds both the same readings
// and configuration changes, and checks that they publish the same alerts.
func TestAlertsConformance(t *testing.T) {
	conformance.CompareAlerts(t, alertsRust(t))
}

// TestAlertsMemory feeds the Rust and the Go alerts readings from more
// sensors than they track, and reports their memory and time per reading.
func TestAlertsMemory(t *testing.T) {
	conformance.AlertsUnderLoad(t, alertsRust(t))
	conformance.AlertsUnderLoad(t, conformance.GoAlerts(t))
}

// TestImports checks that a Rust component imports only the host functions
// it calls, and exports _initialize (so wasm-ld does not wrap every export
// in a run of the static constructors).
func TestImports(t *testing.T) {
	code, err := os.ReadFile(alertsRust(t).Wasm)
	if err != nil {
		t.Fatal(err)
	}
	imports, exports := testwasm.Names(t, code)
	var moss []string
	for _, im := range imports {
		if mod, name, _ := strings.Cut(im, "."); mod == abi.ImportModule {
			moss = append(moss, name)
		}
	}
	slices.Sort(moss)
	want := []string{abi.FuncConfigGet, abi.FuncConfigWatch, abi.FuncLog, abi.FuncPublish, abi.FuncResponse, abi.FuncSubscribe}
	if !slices.Equal(moss, want) {
		t.Errorf("alerts-rust imports %v from %q, want %v", moss, abi.ImportModule, want)
	}
	slices.Sort(exports)
	want = []string{"__data_end", "__heap_base", abi.ExportInitialize, abi.ExportMemory, abi.ExportABIVersion, abi.ExportEventBuffer, abi.ExportOnEvents}
	slices.Sort(want)
	if !slices.Equal(exports, want) {
		t.Errorf("alerts-rust exports %v, want %v", exports, want)
	}
}

// TestTables checks the SDK's table of error codes against ABI.md's, and its
// host function imports against abi.HostFunctions.
func TestTables(t *testing.T) {
	root := testwasm.Root(t)
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// ABI.md: | 4 | `E_DENIED` | ...
	spec := map[int]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| (\\d+) \\| `(E_\\w+)` \\|").FindAllStringSubmatch(read("abi/ABI.md"), -1) {
		n, _ := strconv.Atoi(m[1])
		spec[n] = m[2]
	}
	if len(spec) != int(abi.ErrUnsupported) || spec[int(abi.ErrDenied)] != "E_DENIED" {
		t.Fatalf("ABI.md's error table as read: %v", spec)
	}
	rows := regexp.MustCompile(`\(Code::\w+, "(E_\w+)"\)`).FindAllStringSubmatch(read("sdk/rust/src/error.rs"), -1)
	if len(rows) != len(spec) {
		t.Errorf("sdk/rust/src/error.rs has %d ABI codes, ABI.md %d", len(rows), len(spec))
	}
	for i, m := range rows {
		if spec[i+1] != m[1] {
			t.Errorf("sdk/rust/src/error.rs: code %d is %s, ABI.md says %s", i+1, m[1], spec[i+1])
		}
	}

	host := read("sdk/rust/src/host.rs")
	wasm := host[strings.Index(host, "#[link(wasm_import_module"):]
	var fns []string
	for _, m := range regexp.MustCompile(`pub fn (\w+)\(`).FindAllStringSubmatch(wasm[:strings.Index(wasm, "\n}\n")], -1) {
		fns = append(fns, m[1])
	}
	if !slices.Equal(fns, abi.HostFunctions) {
		t.Errorf("sdk/rust/src/host.rs imports %v, abi.HostFunctions is %v", fns, abi.HostFunctions)
	}
	if !strings.Contains(wasm, `wasm_import_module = "`+abi.ImportModule+`"`) {
		t.Errorf("sdk/rust/src/host.rs does not import from %q", abi.ImportModule)
	}
}

// TestUnit runs the SDK's own unit tests (the #[cfg(test)] modules), built
// natively with rustc --test.
func TestUnit(t *testing.T) {
	r := rustc(t)
	root := testwasm.Root(t)
	bin := filepath.Join(t.TempDir(), "moss-unit")
	cmd := exec.Command(r, "--edition", "2021", "--test", "--crate-name", "moss", "-o", bin, "sdk/rust/src/lib.rs")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, b)
	} else if len(b) > 0 {
		t.Errorf("%s: warnings:\n%s", strings.Join(cmd.Args, " "), b)
	}
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil {
		t.Fatalf("unit tests: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// ---- Every SDK function against a real host -------------------------------

// TestProbe runs testdata/probe, which calls every function of the SDK, in
// a real host.
func TestProbe(t *testing.T) {
	wasmPath := buildRust(t, "sdk/rust/testdata/probe/probe.rs")
	manifest := conformance.Install(t, []byte(fmt.Sprintf(conformance.ProbeManifest, strings.Repeat("b", 5000))), wasmPath)
	h := conformance.StartHost(t, manifest, "", "probe/#")
	p := conformance.Probe{T: t, H: h}
	c := h.Daemon().Component("probe")

	// Configuration of every type, read in the start function.
	p.Expect("string", `ok "hello"`)
	p.Expect("double", "ok 0.25")
	p.Expect("int", "ok 42")
	p.Expect("int-as-double", "ok 42.0")
	p.Expect("bool", "ok true")
	p.Expect("dotted", `ok "deep"`)
	p.Expect("type", "E_TYPE|moss: config greeting: text, not an integer")
	p.Expect("float-as-int", "E_TYPE|moss: config ratio: a float, not an integer")
	if msg := p.ExpectPrefix("missing", "E_NOT_FOUND|"); !strings.Contains(msg, "missing") {
		t.Errorf("the host's message for E_NOT_FOUND: %q", msg)
	}
	p.Expect("big", "ok 5000")
	raw := p.ExpectPrefix("raw", `ok "`)
	codec, err := abi.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	var nested map[string]any
	if b, err := hex.DecodeString(strings.TrimSuffix(raw, `"`)); err != nil || codec.Unmarshal(b, &nested) != nil || fmt.Sprint(nested) != "map[inner:deep n:1]" {
		t.Errorf("raw CBOR of nested: %s decodes to %v", raw, nested)
	}
	p.Expect("path", `ok "dk"`)
	if msg := p.ExpectPrefix("error", "E_DENIED|"); !strings.Contains(msg, "denied/topic") {
		t.Errorf("the host's message for a denied publish: %q", msg)
	}
	var sub, again, cmd, watch, after, every int64
	if _, err := fmt.Sscan(p.Wait("ids", 1)[0], &sub, &again, &cmd, &watch, &after, &every); err != nil || sub != again || sub == 0 {
		t.Fatalf("ids %q: %v", p.Get("ids"), err)
	}
	if !strings.Contains(h.Log("probe"), "probe started name=probe version=1.2.3") {
		t.Errorf("start log:\n%s", h.Log("probe"))
	}

	// Timers: the one-shot fires once, the repeating one until it stops
	// itself on its third call.
	p.Expect("after", "fired")
	p.Expect("every-stopped", "ok ()")

	// Messages reach their handler; a handler may unsubscribe itself.
	h.Publish("probe/in/a", "hi")
	p.Expect("echo", fmt.Sprintf("probe/in/a hi %d", sub))
	h.Publish("probe/self", "1")
	h.Publish("probe/self", "2")
	p.Expect("self-unsubscribed", "ok ()")

	h.Publish("probe/cmd", "update")
	p.Expect("update", "ok ()")
	p.Expect("config", "watched x=ok 7")

	h.Publish("probe/cmd", "unsubscribe")
	p.Expect("unsubscribed", "ok ()")
	p.ExpectPrefix("unsubscribed-again", "E_NOT_FOUND|")
	h.Publish("probe/in/b", "nobody listens")

	if err := h.Daemon().SetSecret("token", []byte("s3cret")); err != nil {
		t.Fatal(err)
	}
	h.Publish("probe/cmd", "secret")
	p.Expect("secret", `ok "s3cret"`)
	p.ExpectPrefix("secret-denied", "E_DENIED|")

	h.Publish("probe/cmd", "log")
	p.Expect("log", "ok ()")
	cut := false
	for _, r := range h.LogRecords("probe") {
		cut = cut || (len(r.Msg) == 64<<10-1 && strings.HasPrefix(r.Msg, "xé") && strings.Trim(r.Msg[1:], "é") == "")
	}
	if !cut {
		t.Error("a long line was not cut at the last character boundary before 64 KiB")
	}

	h.Publish("probe/cmd", "large")
	p.Expect("after-large", "ok ()")
	if got := p.Get("large"); len(got) != 1 || got[0] != strings.Repeat("L", 100<<10) {
		t.Errorf("a 100 KiB publish arrived as %d messages", len(got))
	}
	h.Publish("probe/cmd", "too-large")
	p.ExpectPrefix("too-large", "E_TOO_LARGE|moss: publish: request of ")

	h.Publish("probe/cmd", "bad-timer")
	p.ExpectPrefix("bad-timer", "E_INVALID|timer_start: ")
	if n := len(p.Get("echo")); n != 1 {
		t.Errorf("%d echoes: the handler ran after unsubscribe", n)
	}
	if n := len(p.Get("self-unsubscribed")); n != 1 {
		t.Errorf("%d messages on probe/self-unsubscribed: the handler ran after it unsubscribed itself", n)
	}
	if n := len(p.Get("every")); n != 3 {
		t.Errorf("the repeating timer ran %d times, want 3 (it stops itself)", n)
	}

	// A panic traps: the host makes a new instance, which subscribes again
	// and gets the same ids; so does reporting ERRORED. The panic's message
	// reaches the log through stderr.
	restarts := 1
	for _, c := range []string{"panic", "errored"} {
		h.Publish("probe/cmd", c)
		restarts++
		ids := p.Wait("ids", restarts)
		var sub2, again2, cmd2 int64
		if _, err := fmt.Sscan(ids[restarts-1], &sub2, &again2, &cmd2); err != nil || cmd2 != cmd {
			t.Errorf("after %s: ids %q, want the subscription id %d of probe/cmd again", c, ids[restarts-1], cmd)
		}
	}
	p.Expect("erroring", "ok ()")
	if log := h.Log("probe"); !strings.Contains(log, "probe panics on purpose") {
		t.Errorf("the panic's message is not in the log:\n%s", log)
	}
	conformance.CheckFor(t, "probe RUNNING again", func() bool { return c.State() == component.StateRunning })
	h.Publish("probe/cmd", "finish")
	p.Expect("finishing", "ok ()")
	conformance.CheckFor(t, "probe FINISHED", func() bool { return c.State() == component.StateFinished })

	// A stop event reaches the stop function.
	h2 := conformance.StartHost(t, manifest, "", "probe/stopped")
	h2.Stop(t)
	if got := (conformance.Probe{T: t, H: h2}).Get("stopped"); len(got) != 1 || got[0] != "host stopping" {
		t.Errorf("stop handler published %q", got)
	}
}

// ---- Shadows and the cloud against a real host ----------------------------

// TestShadowProbe runs testdata/shadowprobe, which calls moss::shadow and
// moss::cloud and reads the documents with moss::json, in a real host with
// its shadow service.
func TestShadowProbe(t *testing.T) {
	wasmPath := buildRust(t, "sdk/rust/testdata/shadowprobe/shadowprobe.rs")
	manifest := conformance.Install(t, conformance.ReadManifest(t, "sdk/rust/testdata/shadowprobe"), wasmPath)
	h := conformance.StartHost(t, manifest, "", "probe/#")
	p := conformance.Probe{T: t, H: h}

	p.Expect("get-missing", "rejected 404 No shadow exists with name: 'probe-s'")
	p.Expect("update", "ok 1")
	p.Expect("get", `ok "RED"`)
	p.ExpectPrefix("update-bad", "rejected 400 ")
	p.ExpectPrefix("update-conflict", "rejected 409 ")
	p.Expect("list", `Ok(Page { names: ["probe-s"], next_token: None })`)
	p.Expect("list-all", `Ok(["probe-s"])`)
	p.Expect("list-bad", "Err(Some(400))")
	p.ExpectPrefix("classic-denied", "E_DENIED|")
	p.ExpectPrefix("other-thing", "rejected 404 ")
	p.ExpectPrefix("list-denied", `Err("shadow_list: no shadow.list grant`)
	p.ExpectPrefix("bad-name", "E_INVALID|")
	p.Expect("delete", "ok 1")
	p.ExpectPrefix("delete-again", "rejected 404 ")
	p.Expect("cloud-publish", "ok () E_UNAVAILABLE E_DENIED")
	p.Expect("cloud-subscribe", "true ok ()")
	p.ExpectPrefix("cloud-unsubscribe", "E_NOT_FOUND|")
	p.Expect("json-deep", "Ok(true)")
	var delta, docs, cmd int64
	if _, err := fmt.Sscan(p.Wait("watch", 1)[0], &delta, &docs, &cmd); err != nil || delta <= 0 || docs <= 0 || delta == docs {
		t.Fatalf("watch ids %q: %v", p.Get("watch"), err)
	}

	// Updates made elsewhere (here, as moss shadow update does) reach the
	// watches; after unsubscribe, only the documents one.
	update := func(doc string) {
		t.Helper()
		if status, resp, err := h.Daemon().Shadow(context.Background(), "update", "", "probe-s", []byte(doc)); err != nil || status != 200 {
			t.Fatalf("shadow update %s: %d %s %v", doc, status, resp, err)
		}
	}
	update(`{"state":{"desired":{"color":"BLUE"}}}`)
	p.Expect("delta", `1 $aws/things/moss/shadow/name/probe-s/update/delta "BLUE"`)
	p.Expect("documents", `"BLUE"`)
	h.Publish("probe/cmd", "unwatch")
	p.Expect("unwatch", "ok ()")
	update(`{"state":{"desired":{"color":"GREEN"}}}`)
	if got := p.Wait("documents", 2); got[1] != `"GREEN"` {
		t.Errorf("second documents message: %q", got[1])
	}
	h.Publish("probe/cmd", "ping")
	p.Expect("pong", "1")
}

// TestHandover runs testdata/counter, the Rust port of the Go counter,
// through an update event it defers and a hot swap that hands its count
// over (moss::on_update, moss::state_save, moss::handover) in a real host.
func TestHandover(t *testing.T) {
	conformance.RunHandover(t, buildRust(t, "sdk/rust/testdata/counter/counter.rs"))
}
