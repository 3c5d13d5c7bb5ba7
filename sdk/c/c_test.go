//go:build !wasip1

// Package csdk_test tests the C SDK (moss.h, moss.c, cbor.c): its CBOR code
// natively against the ABI's shared fixtures, and components built with it
// (examples/alerts-c, testdata/probe) in a real host, the alerts beside the
// Go version of the same component.
package csdk_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/component"
	"github.com/moss-edge/moss/host/config"
	"github.com/moss-edge/moss/host/daemon"
	"github.com/moss-edge/moss/host/logs"
	"github.com/moss-edge/moss/host/wasm"
	"github.com/moss-edge/moss/internal/testwasm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const toolchainHint = "apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32"

// buildC builds a component from C sources (relative to the module root)
// with sdk/c/build.sh and returns the path of the .wasm file.
func buildC(t *testing.T, srcs ...string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds Wasm components: skipped in -short mode")
	}
	if _, err := exec.LookPath("clang"); err != nil {
		t.Fatalf("clang not found: the C SDK's tests need clang and wasi-libc (%s): %v", toolchainHint, err)
	}
	root := testwasm.Root(t)
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(srcs[0]), ".c")+".wasm")
	args := append([]string{"-o", out}, srcs...)
	cmd := exec.Command(filepath.Join(root, "sdk/c/build.sh"), args...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sdk/c/build.sh %s: %v\n%s\n(the C SDK needs clang, wasm-ld and wasi-libc: %s)", strings.Join(args, " "), err, b, toolchainHint)
	} else if len(b) > 0 {
		t.Errorf("sdk/c/build.sh %s: warnings:\n%s", strings.Join(args, " "), b)
	}
	return out
}

// ---- The codec against the shared fixtures ---------------------------------

// TestCodecFixtures runs the SDK's CBOR decoders and request encoders, built
// natively, over abi/testdata/fixtures.json, and over events the host's own
// encoder (abi.AppendEvent) writes.
func TestCodecFixtures(t *testing.T) {
	var cc string
	for _, c := range []string{"cc", "gcc", "clang"} {
		if p, err := exec.LookPath(c); err == nil {
			cc = p
			break
		}
	}
	if cc == "" {
		t.Fatalf("no native C compiler (cc, gcc or clang): %s", toolchainHint)
	}
	root := testwasm.Root(t)
	bin := filepath.Join(t.TempDir(), "fixtures")
	build := func(flags ...string) error {
		args := append([]string{"-std=c11", "-O1", "-Wall", "-Wextra", "-Werror"}, flags...)
		cmd := exec.Command(cc, append(args, "-I", "sdk/c", "-o", bin, "sdk/c/cbor.c", "sdk/c/testdata/fixtures.c", "-lm")...)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, b)
		}
		return nil
	}
	// With the address and undefined-behaviour sanitizers where the
	// compiler has their runtimes.
	if err := build("-fsanitize=address,undefined", "-fno-sanitize-recover"); err != nil {
		t.Logf("without sanitizers: %v", err)
		if err := build(); err != nil {
			t.Fatal(err)
		}
	}

	type fixture struct {
		Name  string         `json:"name"`
		Kind  string         `json:"kind"`
		Hex   string         `json:"hex"`
		Want  map[string]any `json:"want"`
		Error string         `json:"error"`
	}
	var file struct{ Fixtures []fixture }
	b, err := os.ReadFile(filepath.Join(root, "abi/testdata/fixtures.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	fixtures := file.Fixtures
	// Events as the host writes them: every kind and key, and keys from a
	// later version (nested) that must be skipped.
	for _, ev := range []abi.Event{
		{Kind: abi.EventStart, Name: "alerts-c", Version: "1.0.0", ABI: abi.Version},
		{Kind: abi.EventMessage, ID: 70000, Topic: "sensors/é/temperature", Payload: bytes.Repeat([]byte{0, 0xff}, 300)},
		{Kind: abi.EventMessage, ID: 1, Topic: "t"},
		{Kind: abi.EventTimer, ID: 1 << 31},
		{Kind: abi.EventConfig, ID: 9, Path: []string{"a", "", "ü"}},
		{Kind: abi.EventConfig, ID: 9},
		{Kind: abi.EventStop, Reason: "host stopping"},
	} {
		want := map[string]any{"kind": float64(ev.Kind)}
		if ev.ID != 0 {
			want["id"] = float64(ev.ID)
		}
		for k, v := range map[string]string{"topic": ev.Topic, "name": ev.Name, "version": ev.Version, "reason": ev.Reason} {
			if v != "" {
				want[k] = v
			}
		}
		if ev.ABI != 0 {
			want["abi"] = float64(ev.ABI)
		}
		if len(ev.Payload) > 0 {
			want["payload"] = "h'" + hex.EncodeToString(ev.Payload) + "'"
		}
		if len(ev.Path) > 0 {
			var p []any
			for _, k := range ev.Path {
				p = append(p, k)
			}
			want["path"] = p
		}
		fixtures = append(fixtures, fixture{Name: fmt.Sprintf("host-encoded %+v", ev), Kind: "event", Hex: hex.EncodeToString(abi.AppendEvent(nil, &ev)), Want: want})
	}
	// Malformed events: the SDK refuses them rather than guessing.
	for name, h := range map[string]string{
		"event without kind":               "a162696401",
		"event with kind as text":          "a1646b696e646131",
		"event truncated in a skipped key": "a2646b696e640363666f6f8301",
		"event with indefinite unknown":    "a2646b696e640363666f6f9fff",
		"event with a bogus simple value":  "a2646b696e640363666f6ff801",
		"event with topic as bytes":        "a2646b696e640265746f7069634174",
		"event declaring 2^32 path items":  "a2646b696e640464706174689affffffff",
	} {
		fixtures = append(fixtures, fixture{Name: name, Kind: "event", Hex: h, Error: "E_DECODE"})
	}
	// Floats of every width and deeply nested unknown keys are skipped.
	fixtures = append(fixtures,
		fixture{Name: "event with float keys", Kind: "event", Hex: "a4646b696e6403626964076168f93c006166fb3ff8000000000000", Want: map[string]any{"kind": 3.0, "id": 7.0}},
		fixture{Name: "event with a deep unknown", Kind: "event", Hex: "a2646b696e6403617a" + strings.Repeat("81", 40) + "00", Want: map[string]any{"kind": 3.0}},
	)
	codec, err := abi.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	// moss_cbor_valid against the host's codec (the ABI's limits as the host
	// counts them), on items at and over each limit.
	items := func(head string, n int, item func(i int) string) string {
		var b strings.Builder
		b.WriteString(head)
		for i := range n {
			b.WriteString(item(i))
		}
		return b.String()
	}
	key := func(i int) string {
		return "6" + fmt.Sprint(len(fmt.Sprint(i))+1) + hex.EncodeToString([]byte(fmt.Sprint("k", i))) + "00"
	}
	for _, c := range []struct{ name, hex string }{
		{"16 nested containers", "a1636d7367" + strings.Repeat("81", 15) + "00"},
		{"17 nested containers", "a1636d7367" + strings.Repeat("81", 16) + "00"},
		{"4096 array items", items("991000", 4096, func(int) string { return "00" })},
		{"4097 array items", items("991001", 4097, func(int) string { return "00" })},
		{"4096 map pairs", items("b91000", 4096, key)},
		{"4097 map pairs", items("b91001", 4097, key)},
		{"a tag", "c100"},
		{"indefinite array", "9f00ff"},
		{"indefinite text", "7f6161ff"},
		{"trailing bytes", "0000"},
		{"an integer key", "a10102"},
		{"a bytes key", "a1410002"},
		{"text not UTF-8", "62fffe"},
		{"text with a surrogate", "63eda080"},
		{"text cut inside a rune", "62c3"},
		{"text in UTF-8", "6bc3a9e282acf09f988021"},
		{"half float", "f93c00"},
		{"single float", "fa3fc00000"},
		{"undefined", "f7"},
		{"simple value 16", "f0"},
		{"simple value 255", "f8ff"},
		{"simple value in two bytes below 32", "f810"},
		{"largest uint", "1bffffffffffffffff"},
		{"smallest negint", "3bffffffffffffffff"},
		{"reserved additional info", "1c"},
		{"2^32 items declared", "9affffffff00"},
		{"text longer than the input", "6561"},
		{"empty input", ""},
	} {
		b, err := hex.DecodeString(c.hex)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var v any
		err = codec.Unmarshal(b, &v)
		fixtures = append(fixtures, fixture{Name: "valid: " + c.name, Kind: "valid", Hex: c.hex, Want: map[string]any{"valid": err == nil}})
	}

	var in strings.Builder
	for _, f := range fixtures {
		fmt.Fprintf(&in, "%s %s\n", f.Kind, f.Hex)
	}
	run := exec.Command(bin)
	run.Stdin = strings.NewReader(in.String())
	var stderr bytes.Buffer
	run.Stderr = &stderr
	out, err := run.Output()
	if err != nil {
		t.Fatalf("fixtures program: %v\n%s", err, stderr.Bytes())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	answers := 0
	for i := 0; sc.Scan(); i++ {
		answers++
		if i >= len(fixtures) {
			t.Fatalf("more answers than fixtures: %s", sc.Text())
		}
		f := fixtures[i]
		var got struct {
			Want      map[string]any
			Error     string
			Encoded   *string
			LastError *string `json:"last_error"`
			Valid     *bool
		}
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatalf("%s: answer %q: %v", f.Name, sc.Text(), err)
		}
		if f.Kind == "valid" {
			if got.Valid == nil || *got.Valid != f.Want["valid"] {
				t.Errorf("%s: moss_cbor_valid(%s) answered %s; the host's codec says valid=%v", f.Name, f.Hex, sc.Text(), f.Want["valid"])
			}
			continue
		}
		if got.Error != f.Error || (f.Error == "" && !reflect.DeepEqual(got.Want, f.Want)) {
			t.Errorf("%s (%s %s):\n got %s\nwant %v %v", f.Name, f.Kind, f.Hex, sc.Text(), f.Want, f.Error)
			continue
		}
		if got.LastError != nil && *got.LastError != f.Want["message"] {
			t.Errorf("%s: moss_last_error() = %q, want the host's message %q", f.Name, *got.LastError, f.Want["message"])
		}
		if got.Encoded == nil {
			continue
		}
		// What the SDK sends for the same fields must pass the host's
		// strict decoder and carry the same values.
		req, err := hex.DecodeString(*got.Encoded)
		if err != nil {
			t.Errorf("%s: the SDK's request: %s", f.Name, *got.Encoded)
			continue
		}
		var back map[string]any
		switch f.Kind {
		case "publish":
			var r abi.PublishRequest
			err = codec.Unmarshal(req, &r)
			back = map[string]any{"topic": r.Topic, "payload": "h'" + hex.EncodeToString(r.Payload) + "'"}
		case "subscribe":
			var r abi.SubscribeRequest
			err = codec.Unmarshal(req, &r)
			back = map[string]any{"filter": r.Filter}
		}
		if err != nil || !reflect.DeepEqual(back, f.Want) {
			t.Errorf("%s: the SDK's request %s decodes by the host's codec to %v (%v), want %v", f.Name, *got.Encoded, back, err, f.Want)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if answers != len(fixtures) {
		t.Errorf("%d answers for %d fixtures", answers, len(fixtures))
	}
}

// ---- A real host -----------------------------------------------------------

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

type host struct {
	d      *daemon.Daemon
	logs   *logs.Buffer
	seen   *collector // what was published on the filter startHost was given
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// install copies a manifest and its wasm (named as the manifest's [wasm]
// path says) into a directory of their own and returns the manifest's path.
func install(t *testing.T, manifest []byte, wasmPath string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^path = "([^"]+)"`).FindSubmatch(manifest)
	if m == nil {
		t.Fatalf("manifest has no [wasm] path:\n%s", manifest)
	}
	dir := t.TempDir()
	code, err := os.ReadFile(wasmPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, string(m[1])), code, 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "component.toml")
	if err := os.WriteFile(p, manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startHost runs a host with one component (manifest, with the host
// configuration's [components.config] overrides in TOML) and collects
// what is published on filter from before the component starts.
func startHost(t *testing.T, manifest, overrides, filter string) *host {
	t.Helper()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "moss.toml")
	text := fmt.Sprintf("data_dir = %q\nadmin_socket = %q\ncache_dir = %q\n[lifecycle]\nrestart_backoff = \"10ms\"\n[[components]]\nmanifest = %q\n[components.config]\n%s",
		filepath.Join(dir, "data"), filepath.Join(dir, "admin.sock"), testwasm.CompileCacheDir(t), manifest, overrides)
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
	h := &host{d: d, logs: buf, seen: &collector{}, done: make(chan error, 1)}
	if err := d.Bus().Subscribe(filter, h.seen, 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
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
func (h *host) stop(t *testing.T) {
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

func (h *host) publish(topic, payload string) {
	h.d.Bus().Publish(&bus.Message{Topic: topic, Payload: []byte(payload)})
}

// checkFor polls cond until it holds or 30 s pass.
func checkFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// logText returns a component's log, one record a line.
func (h *host) logText(name string) string {
	var b strings.Builder
	for _, r := range h.logs.Tail(name, -1) {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// memoryKiB reads the instance's memory from the "component running" log
// record.
func (h *host) memoryKiB(t *testing.T, name string) string {
	for _, r := range h.logs.Tail(name, -1) {
		if r.Msg == "component running" {
			if m := regexp.MustCompile(`memory_kib=(\d+)`).FindStringSubmatch(r.Attrs); m != nil {
				return m[1]
			}
		}
	}
	t.Errorf("%s: no memory_kib in its log:\n%s", name, h.logText(name))
	return "?"
}

// ---- alerts, in C and in Go ------------------------------------------------

// alert is what the alerts components publish, ts checked and dropped.
type alert struct {
	ID        string  `json:"id"`
	Cleared   bool    `json:"cleared"`
	Average   float64 `json:"average"`
	Threshold float64 `json:"threshold"`
	Keys      string  `json:"-"` // the JSON object's keys, in order
}

// step feeds readings (after a configuration change, if any) and expects
// alerts.
type step struct {
	what     string
	config   []any // path (a string), value
	readings [][2]string
	want     []alert
}

func readings(id string, temps ...float64) [][2]string {
	var r [][2]string
	for _, v := range temps {
		r = append(r, [2]string{"sensors/" + id + "/temperature", fmt.Sprintf(`{"id":%q,"temperature":%v,"unit":"C"}`, id, v)})
	}
	return r
}

// avg is the rounded average as the components compute it, in float64 at
// run time (Go constant arithmetic would be exact).
func avg(xs ...float64) float64 {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return math.Round(sum/float64(len(xs))*100) / 100
}

func alertsScenario() []step {
	const odd = `a"b<c>&é`
	return []step{
		{what: "below", readings: readings("s1", 20, 29, 29)},
		{what: "rising", readings: readings("s1", 30), want: []alert{{ID: "s1", Average: avg(29, 29, 30), Threshold: 28}}},
		{what: "still high", readings: readings("s1", 31, 30)},
		{what: "other sensor", readings: readings("s2", 10, 10, 10, 10)},
		{what: "inside hysteresis", readings: readings("s1", 27.7, 27.7, 27.7)},
		{what: "cleared", readings: readings("s1", 27), want: []alert{{ID: "s1", Cleared: true, Average: avg(27.7, 27.7, 27), Threshold: 28}}},
		{what: "not JSON", readings: [][2]string{{"sensors/s1/temperature", "hot"}}},
		{what: "JSON as encoding/json reads it", readings: [][2]string{
			{"sensors/s3/temperature", `{"Temperature":40}`},
			{"sensors/s3/temperature", `{"temperature":"40"}`},
			{"sensors/s3/temperature", `{"temperature":null}`},
			{"sensors/s3/temperature", `{"temperature":40,"temperature":null}`},
			{"sensors/s3/temperature", `[40]`},
			{"sensors/s3/temperature", `null`},
			{"sensors/s3/temperature", `{"temperature":40,}`},
			{"sensors/s3/temperature", `{"temperature":40} x`},
			{"sensors/s3/temperature", `{"temperature":1e400}`},
			{"sensors/s3/temperature", `{"temperature":040}`},
			{"sensors/s3/temperature", ` {"temp\u0065rature" : 4e1 } `},
			{"sensors/s3/temperature", `{"temperature":1,"x":{"a":[1,2.5e-3,{"b":null}],"s":"\"}q\\"},"temperature":40.0}`},
		}, want: []alert{{ID: "s3", Average: 40, Threshold: 28}}},
		{what: "rounding", readings: readings("s4", 28.1, 28.125, 28.15), want: []alert{{ID: "s4", Average: avg(28.1, 28.125, 28.15), Threshold: 28}}},
		{what: "an id JSON must escape", readings: readings(odd, 50, 50, 50), want: []alert{{ID: odd, Average: 50, Threshold: 28}}},
		{what: "threshold raised", config: []any{"threshold", 35.0}, readings: readings("s1", 34, 34, 34)},
		{what: "over the new threshold", readings: readings("s1", 36, 36), want: []alert{{ID: "s1", Average: avg(34, 36, 36), Threshold: 35}}},
		{what: "invalid window", config: []any{"window", 0}, readings: readings("s1", 36)},
		{what: "shorter window, alert kept", config: []any{"window", 2}, readings: readings("s1", 10, 10), want: []alert{{ID: "s1", Cleared: true, Average: 10, Threshold: 35}}},
		{what: "invalid hysteresis", config: []any{"hysteresis", -1.0}, readings: readings("s1", 40, 40), want: []alert{{ID: "s1", Average: 40, Threshold: 35}}},
	}
}

// runAlerts runs the scenario against one alerts component in its own host
// and returns the alerts of each step.
func runAlerts(t *testing.T, name, manifest string) (*host, [][]alert) {
	h := startHost(t, manifest, "window = 3\nthreshold = 28.0\nhysteresis = 0.5\n", "alerts/#")
	c := h.d.Component(name)
	if c == nil || c.State() != component.StateRunning {
		t.Fatalf("%s not running:\n%s", name, h.logText(name))
	}
	delivered := uint64(1) // the start event
	var got [][]alert
	for _, s := range alertsScenario() {
		before := h.seen.len()
		if s.config != nil {
			if err := c.Config().Update([]string{s.config[0].(string)}, s.config[1]); err != nil {
				t.Fatal(err)
			}
			delivered++ // the watch's config event
		}
		for _, r := range s.readings {
			h.publish(r[0], r[1])
		}
		delivered += uint64(len(s.readings))
		checkFor(t, fmt.Sprintf("%s: %s: %d events delivered", name, s.what, delivered), func() bool {
			i := c.Info()
			if i.State != component.StateRunning {
				t.Fatalf("%s: %s: component %+v\n%s", name, s.what, i, h.logText(name))
			}
			return i.Delivered >= delivered
		})
		var alerts []alert
		for _, m := range h.seen.since(before) {
			var a struct {
				alert
				TS string `json:"ts"`
			}
			dec := json.NewDecoder(bytes.NewReader(m.Payload))
			if err := dec.Decode(&a); err != nil {
				t.Fatalf("%s: %s: %s %s: %v", name, s.what, m.Topic, m.Payload, err)
			}
			if ts, err := time.Parse(time.RFC3339, a.TS); err != nil || time.Since(ts).Abs() > time.Minute {
				t.Errorf("%s: %s: ts %q is not the time now in RFC 3339", name, s.what, a.TS)
			}
			if m.Topic != "alerts/"+a.ID {
				t.Errorf("%s: %s: alert for %q on %s", name, s.what, a.ID, m.Topic)
			}
			a.alert.Keys = jsonKeys(t, m.Payload)
			alerts = append(alerts, a.alert)
		}
		if len(alerts) != len(s.want) {
			t.Errorf("%s: %s: published %+v, want %+v\n%s", name, s.what, alerts, s.want, h.logText(name))
		} else {
			for i := range alerts {
				if w := s.want[i]; alerts[i].ID != w.ID || alerts[i].Cleared != w.Cleared || alerts[i].Average != w.Average || alerts[i].Threshold != w.Threshold {
					t.Errorf("%s: %s: alert %+v, want %+v", name, s.what, alerts[i], w)
				}
			}
		}
		got = append(got, alerts)
	}
	log := h.logText(name)
	for _, want := range []string{"not a reading", "configuration change ignored", "config window 0", "config hysteresis -1"} {
		if !strings.Contains(log, want) {
			t.Errorf("%s: no %q in its log:\n%s", name, want, log)
		}
	}
	return h, got
}

// jsonKeys lists an object's keys in order.
func jsonKeys(t *testing.T, b []byte) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	var keys []string
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		default:
			if s, ok := tok.(string); ok && depth == 1 && dec.More() {
				keys = append(keys, s)
				if _, err := dec.Token(); err != nil { // the value
					t.Fatalf("%s: %v", b, err)
				}
			}
		}
	}
	return strings.Join(keys, ",")
}

// TestAlertsConformance runs examples/alerts-c and examples/alerts, each in a
// real host with the same configuration, feeds both the same readings and
// configuration changes, and checks that they publish the same alerts: the
// same topics, ids, averages, thresholds, cleared flags and JSON keys (the
// timestamps may differ).
func TestAlertsConformance(t *testing.T) {
	root := testwasm.Root(t)
	cWasm := buildC(t, "examples/alerts-c/alerts.c")
	goWasm := testwasm.GoPath(t, filepath.Join(root, "examples/alerts"))
	manifest := func(dir string) []byte {
		b, err := os.ReadFile(filepath.Join(root, "examples", dir, "component.toml"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cManifest, goManifest := install(t, manifest("alerts-c"), cWasm), install(t, manifest("alerts"), goWasm)
	cHost, cAlerts := runAlerts(t, "alerts-c", cManifest)
	goHost, goAlerts := runAlerts(t, "alerts", goManifest)
	if !reflect.DeepEqual(cAlerts, goAlerts) {
		t.Errorf("C and Go alerts differ:\n   C %+v\n  Go %+v", cAlerts, goAlerts)
	}
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	t.Logf("alerts-c: %d bytes of wasm, %s KiB of memory when running", size(cWasm), cHost.memoryKiB(t, "alerts-c"))
	t.Logf("alerts (Go): %d bytes of wasm, %s KiB of memory when running", size(goWasm), goHost.memoryKiB(t, "alerts"))

	// A configuration both refuse at start: a float window (the SDKs
	// decode an integer into a float, not the reverse), and one out of
	// range.
	for _, bad := range []string{"window = 5.0\n", "window = 1001\n"} {
		for _, c := range []struct{ name, manifest string }{{"alerts-c", cManifest}, {"alerts", goManifest}} {
			h := startHost(t, c.manifest, bad, "alerts/#")
			comp := h.d.Component(c.name)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			st, err := comp.WaitState(ctx, component.StateErrored, component.StateBroken)
			cancel()
			if err != nil || !strings.Contains(comp.Info().LastError, "returned 2") {
				t.Errorf("%s with %q: %v, %+v; want its start to fail (moss_on_events returned 2)", c.name, bad, st, comp.Info())
			}
			if log := h.logText(c.name); !strings.Contains(log, "window") {
				t.Errorf("%s with %q: the log does not say what is wrong:\n%s", c.name, bad, log)
			}
			h.stop(t)
		}
	}
}

// ---- Every SDK function against a real host -------------------------------

const probeManifest = `name = "probe"
version = "1.2.3"

[wasm]
path = "probe.wasm"

[config]
greeting = "hello"
ratio = 0.25
count = 42
flag = true
big = "%s"
nested = { inner = "deep", n = 1 }
"dotted.key" = "dk"
watched = { x = 0 }

[[access]]
operations = ["pubsub.subscribe", "pubsub.publish"]
resources = ["probe/#"]

[[access]]
operations = ["secret.get"]
resources = ["token"]
`

// probe collects what testdata/probe publishes.
type probe struct {
	t *testing.T
	h *host
}

// wait returns the payloads published on probe/<what>, waiting for n.
func (p probe) wait(what string, n int) []string {
	p.t.Helper()
	var got []string
	checkFor(p.t, fmt.Sprintf("%d messages on probe/%s", n, what), func() bool {
		got = p.get(what)
		return len(got) >= n
	})
	return got
}

func (p probe) get(what string) []string {
	var got []string
	for _, m := range p.h.seen.since(0) {
		if m.Topic == "probe/"+what {
			got = append(got, string(m.Payload))
		}
	}
	return got
}

func (p probe) expect(what, want string) {
	p.t.Helper()
	if got := p.wait(what, 1); got[0] != want {
		p.t.Errorf("probe/%s = %q, want %q", what, got[0], want)
	}
}

func (p probe) expectPrefix(what, want string) string {
	p.t.Helper()
	got := p.wait(what, 1)[0]
	if !strings.HasPrefix(got, want) {
		p.t.Errorf("probe/%s = %q, want it to begin %q", what, got, want)
	}
	return strings.TrimPrefix(got, want)
}

// TestProbe runs testdata/probe, which calls every function of the SDK, in
// a real host.
func TestProbe(t *testing.T) {
	wasmPath := buildC(t, "sdk/c/testdata/probe/probe.c")
	manifest := install(t, []byte(fmt.Sprintf(probeManifest, strings.Repeat("b", 5000))), wasmPath)
	h := startHost(t, manifest, "", "probe/#")
	p := probe{t, h}
	c := h.d.Component("probe")

	// Configuration of every type, read in the start function.
	p.expect("string", "5 hello")
	p.expect("double", "0 0.25")
	p.expect("int", "0 42")
	p.expect("bool", "0 1")
	p.expect("dotted", "4 deep")
	p.expect("type", "-101|E_TYPE -101")
	if msg := p.expectPrefix("missing", "-5|E_NOT_FOUND|"); msg == "" {
		t.Error("no host message for E_NOT_FOUND")
	}
	p.expect("big", "5000 5000")
	raw := p.expectPrefix("raw", "0 ")
	codec, _ := abi.NewCodec()
	var nested map[string]any
	if b, err := hex.DecodeString(raw); err != nil || codec.Unmarshal(b, &nested) != nil || fmt.Sprint(nested) != "map[inner:deep n:1]" {
		t.Errorf("raw CBOR of nested: %s decodes to %v", raw, nested)
	}
	p.expect("cborv", "0 3")
	if msg := p.expectPrefix("error", "-4|E_DENIED|"); !strings.Contains(msg, "denied/topic") {
		t.Errorf("the host's message for a denied publish: %q", msg)
	}
	var sub, again, cmd, watch, after, every int64
	if _, err := fmt.Sscan(p.wait("ids", 1)[0], &sub, &again, &cmd, &watch, &after, &every); err != nil || sub != again || sub < 0 {
		t.Fatalf("ids %q: %v", p.get("ids"), err)
	}
	if !strings.Contains(h.logText("probe"), "probe started name=probe version=1.2.3") {
		t.Errorf("start log:\n%s", h.logText("probe"))
	}

	// Timers: the one-shot fires once, the repeating one until it stops
	// itself on its third call.
	p.expect("after", fmt.Sprint(after))
	p.expect("every-stopped", "0")

	// Messages reach their handler, with the context given to subscribe.
	h.publish("probe/in/a", "hi")
	p.expect("echo", "probe/in/a hi 2 ctx-ok")

	h.publish("probe/cmd", "update")
	p.expect("update", "0")
	p.expect("config", "watched x=7 rc=0 len=1")

	h.publish("probe/cmd", "unsubscribe")
	p.expect("unsubscribed", "0")
	p.expect("unsubscribed-again", "-5")
	h.publish("probe/in/b", "nobody listens")

	if err := h.d.SetSecret("token", []byte("s3cret")); err != nil {
		t.Fatal(err)
	}
	h.publish("probe/cmd", "secret")
	p.expect("secret", "6 s3cret")
	p.expectPrefix("secret-denied", "-4|")

	h.publish("probe/cmd", "log")
	p.expect("log", "0 0")
	var cut, fixed bool
	for _, r := range h.logs.Tail("probe", -1) {
		cut = cut || (len(r.Msg) == 64<<10 && strings.Trim(r.Msg, "x") == "")
		fixed = fixed || r.Msg == "bad utf-8: ?? end"
	}
	if !cut || !fixed {
		t.Errorf("a long line cut at 64 KiB: %v; bytes that are not UTF-8 replaced: %v", cut, fixed)
	}

	h.publish("probe/cmd", "large")
	p.expect("after-large", "0")
	if got := p.get("large"); len(got) != 1 || got[0] != strings.Repeat("L", 100<<10) {
		t.Errorf("a 100 KiB publish arrived as %d messages", len(got))
	}

	h.publish("probe/cmd", "bad-timer")
	p.expectPrefix("bad-timer", "-3|E_INVALID|")
	if n := len(p.get("echo")); n != 1 {
		t.Errorf("%d echoes: the handler ran after moss_unsubscribe", n)
	}
	if n := len(p.get("every")); n != 3 {
		t.Errorf("the repeating timer ran %d times, want 3 (it stops itself)", n)
	}

	// ERRORED: the host makes a new instance, which subscribes again and
	// gets the same ids; then FINISHED ends the component.
	h.publish("probe/cmd", "errored")
	p.expect("erroring", "0")
	ids := p.wait("ids", 2)
	var sub2, again2, cmd2 int64
	if _, err := fmt.Sscan(ids[1], &sub2, &again2, &cmd2); err != nil || cmd2 != cmd {
		t.Errorf("after a restart: ids %q, want the subscription id %d of probe/cmd again", ids[1], cmd)
	}
	t.Logf("subscription ids: first instance %s, second %s (probe/in/# was unsubscribed in between)", ids[0], ids[1])
	checkFor(t, "probe RUNNING again", func() bool { return c.State() == component.StateRunning })
	h.publish("probe/cmd", "finish")
	p.expect("finishing", "0")
	checkFor(t, "probe FINISHED", func() bool { return c.State() == component.StateFinished })

	// A stop event reaches the stop function.
	h2 := startHost(t, manifest, "", "probe/stopped")
	h2.stop(t)
	if got := (probe{t, h2}).get("stopped"); len(got) != 1 || got[0] != "host stopping" {
		t.Errorf("stop handler published %q", got)
	}
}

// ---- Memory under load -----------------------------------------------------

// loadHost serves what the alerts components call, counting publishes.
type loadHost struct {
	codec     *abi.Codec
	published int
}

func (h *loadHost) HostCall(fn wasm.Func, req []byte) ([]byte, error) {
	switch fn.String() {
	case abi.FuncLog:
	case abi.FuncPublish:
		h.published++
	case abi.FuncSubscribe, abi.FuncConfigWatch:
		return h.codec.Marshal(abi.IDResponse{ID: 1})
	case abi.FuncConfigGet:
		var r abi.ConfigGetRequest
		if err := h.codec.Unmarshal(req, &r); err != nil {
			return nil, abi.Errorf(abi.ErrDecode, "%v", err)
		}
		if len(r.Path) == 1 && r.Path[0] == "threshold" {
			return h.codec.Marshal(map[string]any{"value": 27.0})
		}
		return nil, abi.Errorf(abi.ErrNotFound, "no value at %v", r.Path)
	default:
		return nil, abi.Errorf(abi.ErrUnsupported, "%s", fn)
	}
	return nil, nil
}

// TestAlertsMemory feeds both alerts components readings from more sensors
// than they track (in the host's batches of 64) directly through the engine,
// and reports their memory before and after, and the time per reading.
func TestAlertsMemory(t *testing.T) {
	root := testwasm.Root(t)
	ctx := context.Background()
	e, err := wasm.NewEngine(ctx, wasm.Options{CacheDir: testwasm.CompileCacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	codec, err := abi.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	for _, guest := range []struct{ name, wasm string }{
		{"alerts-c", buildC(t, "examples/alerts-c/alerts.c")},
		{"alerts", testwasm.GoPath(t, filepath.Join(root, "examples/alerts"))},
	} {
		code, err := os.ReadFile(guest.wasm)
		if err != nil {
			t.Fatal(err)
		}
		m, err := e.Compile(ctx, guest.name, code)
		if err != nil {
			t.Fatal(err)
		}
		h := &loadHost{codec: codec}
		inst, err := e.Instantiate(ctx, m, wasm.InstanceConfig{Name: guest.name, MemoryLimit: 32 << 20, Deadline: 5 * time.Second, Handler: h})
		if err != nil {
			t.Fatal(err)
		}
		start := abi.Event{Kind: abi.EventStart, Name: guest.name, Version: "1.0.0", ABI: abi.Version}
		if err := inst.Deliver(abi.AppendEvent(abi.AppendArray(nil, 1), &start)); err != nil {
			t.Fatalf("%s: start: %v", guest.name, err)
		}
		before := inst.MemorySize()
		const sensors, window = 1100, 5 // 1024 tracked, the rest refused
		var evs []abi.Event
		for r := range window {
			for s := range sensors {
				evs = append(evs, abi.Event{Kind: abi.EventMessage, ID: 1, Topic: fmt.Sprintf("sensors/s%d/temperature", s),
					Payload: fmt.Appendf(nil, `{"id":"s%d","temperature":%d.5,"unit":"C"}`, s, 25+r)})
			}
		}
		began := time.Now()
		for i := 0; i < len(evs); i += 64 {
			chunk := evs[i:min(i+64, len(evs))]
			b := abi.AppendArray(nil, len(chunk))
			for j := range chunk {
				b = abi.AppendEvent(b, &chunk[j])
			}
			if err := inst.Deliver(b); err != nil {
				t.Fatalf("%s: %v", guest.name, err)
			}
		}
		took := time.Since(began)
		// Averages of 27.5, over 27: every tracked sensor alerts once.
		if h.published != 1024 {
			t.Errorf("%s published %d alerts, want 1024", guest.name, h.published)
		}
		t.Logf("%s: memory %d KiB after start, %d KiB after %d readings from %d sensors; %v a reading",
			guest.name, before>>10, inst.MemorySize()>>10, len(evs), sensors, took/time.Duration(len(evs)))
		inst.Close(ctx)
	}
}
