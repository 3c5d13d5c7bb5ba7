//go:build !wasip1

// Package csdk_test tests the C SDK (moss.h, moss.c, cbor.c, json.c): its
// CBOR code natively against the ABI's shared fixtures, its JSON reader
// natively against Go's encoding/json (json_test.go), and components built
// with it (examples/alerts-c, testdata/probe, testdata/shadowprobe) in a real
// host, the alerts beside the Go version of the same component.
package csdk_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/host/component"
	"github.com/moss-edge/moss/internal/conformance"
	"github.com/moss-edge/moss/internal/testwasm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const toolchainHint = "apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32"

// buildC builds a component from its C source (relative to the module
// root) with sdk/c/build.sh and returns the path of the .wasm file. The
// SDK builds without a warning, and so must what uses it.
func buildC(t *testing.T, src string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds Wasm components: skipped in -short mode")
	}
	if _, err := exec.LookPath("clang"); err != nil {
		t.Fatalf("clang not found: the C SDK's tests need clang and wasi-libc (%s): %v", toolchainHint, err)
	}
	wasm, out := testwasm.Script(t, "sdk/c/build.sh", src, "the C SDK needs clang, wasm-ld and wasi-libc: "+toolchainHint)
	if len(out) > 0 {
		t.Errorf("sdk/c/build.sh %s: warnings:\n%s", src, out)
	}
	return wasm
}

// ---- The codec against the shared fixtures ---------------------------------

// fixture is one case of abi/testdata/fixtures.json, or one the tests add.
type fixture struct {
	Name  string         `json:"name"`
	Kind  string         `json:"kind"`
	Hex   string         `json:"hex"`
	Want  map[string]any `json:"want"`
	Error string         `json:"error"`
}

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
	// A key twice is refused however many keys come between: the SDK
	// compares the first 32 through a table and later ones by re-reading.
	wide := func(dup int) string {
		h := "b8" + fmt.Sprintf("%02x", 41) + "646b696e6403"
		for i := range 40 {
			if i == dup {
				i = 34
			}
			h += "63" + hex.EncodeToString([]byte(fmt.Sprintf("k%02d", i))) + "00"
		}
		return h
	}
	fixtures = append(fixtures,
		fixture{Name: "event with 40 distinct unknown keys", Kind: "event", Hex: wide(-1), Want: map[string]any{"kind": 3.0}},
		fixture{Name: "event with the 35th unknown key again as the 39th", Kind: "event", Hex: wide(38), Error: "E_DECODE"},
		fixture{Name: "event with the 35th unknown key again as the 36th", Kind: "event", Hex: wide(35), Error: "E_DECODE"},
	)
	// Floats of every width and deeply nested unknown keys are skipped.
	fixtures = append(fixtures,
		fixture{Name: "event with float keys", Kind: "event", Hex: "a4646b696e6403626964076168f93c006166fb3ff8000000000000", Want: map[string]any{"kind": 3.0, "id": 7.0}},
		fixture{Name: "event with a deep unknown", Kind: "event", Hex: "a2646b696e6403617a" + strings.Repeat("81", 40) + "00", Want: map[string]any{"kind": 3.0}},
	)
	codec, err := abi.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	fixtures = append(fixtures, cloudShadowFixtures(t, codec)...)
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
		case "subscribe", "cloud_subscribe":
			var r abi.SubscribeRequest
			err = codec.Unmarshal(req, &r)
			back = map[string]any{"filter": r.Filter}
		default:
			back, err = decodeRequest(codec, f.Kind, req)
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

// cloudShadowFixtures are the requests of the cloud and shadow functions as
// the host's codec writes them, for the SDK to decode strictly and build
// again from the same fields, and shadow responses for its decoder, valid
// and malformed.
func cloudShadowFixtures(t *testing.T, codec *abi.Codec) []fixture {
	var fs []fixture
	add := func(kind string, v any, want map[string]any) {
		b, err := codec.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, fixture{Name: fmt.Sprintf("%s %+v", kind, v), Kind: kind, Hex: hex.EncodeToString(b), Want: want})
	}
	add("cloud_publish", abi.CloudPublishRequest{Topic: "dt/moss/1", Payload: []byte{0, 1}, QoS: 1}, map[string]any{"topic": "dt/moss/1", "payload": "h'0001'", "qos": 1.0})
	add("cloud_publish", abi.CloudPublishRequest{Topic: "t", Payload: []byte{}}, map[string]any{"topic": "t", "payload": "h''"})
	add("cloud_subscribe", abi.SubscribeRequest{Filter: "cmd/#"}, map[string]any{"filter": "cmd/#"})
	for _, kind := range []string{"shadow_get", "shadow_delete"} {
		add(kind, abi.ShadowRequest{Thing: "pump-1", Name: "config"}, map[string]any{"thing": "pump-1", "name": "config"})
		add(kind, abi.ShadowRequest{}, map[string]any{})
	}
	add("shadow_update", abi.ShadowRequest{Name: "thermostat", Payload: []byte(`{"state":{"reported":{"color":"RED"}}}`)},
		map[string]any{"name": "thermostat", "payload": "h'" + hex.EncodeToString([]byte(`{"state":{"reported":{"color":"RED"}}}`)) + "'"})
	add("shadow_list", abi.ShadowListRequest{Thing: "t", PageSize: 7, NextToken: "n"}, map[string]any{"thing": "t", "page_size": 7.0, "next_token": "n"})
	add("shadow_list", abi.ShadowListRequest{}, map[string]any{})
	add("shadow_watch", abi.ShadowWatchRequest{Name: "s", Topic: "delta"}, map[string]any{"name": "s", "topic": "delta"})
	add("shadow_watch", abi.ShadowWatchRequest{Thing: "t", Topic: "documents"}, map[string]any{"thing": "t", "topic": "documents"})
	// Requests the SDK's strict decoder refuses, as the host's does.
	for name, h := range map[string]string{
		"shadow_get with a payload":  "a1677061796c6f616440",
		"shadow_get with thing 1":    "a1657468696e6701",
		"shadow_list page_size text": "a169706167655f73697a656131",
	} {
		kind, _, _ := strings.Cut(name, " ")
		fs = append(fs, fixture{Name: name, Kind: kind, Hex: h, Error: "E_DECODE"})
	}

	doc := `{"state":{"desired":{"color":"RED"}},"version":3}`
	add("shadow_response", abi.ShadowResponse{Status: 200, Payload: []byte(doc)}, map[string]any{"status": 200.0, "payload": "h'" + hex.EncodeToString([]byte(doc)) + "'"})
	add("shadow_response", abi.ShadowResponse{Status: 404, Payload: []byte("ab")}, map[string]any{"status": 404.0, "payload": "h'6162'"})
	add("shadow_response", abi.ShadowResponse{Status: 409}, map[string]any{"status": 409.0, "payload": "h''"})
	for name, h := range map[string]string{
		// {"status": 200, "payload": h'', "later": 1}: a key from a later version is skipped.
		"with a later key": "a366737461747573 18c8 677061796c6f616440 656c6174657201",
	} {
		fs = append(fs, fixture{Name: "shadow_response " + name, Kind: "shadow_response", Hex: strings.ReplaceAll(h, " ", ""), Want: map[string]any{"status": 200.0, "payload": "h''"}})
	}
	for name, h := range map[string]string{
		"without status":      "a1677061796c6f616440",
		"with status 0":       "a16673746174757300",
		"with status as text": "a16673746174757363323030",
		"with trailing bytes": "a16673746174757318c800",
		"truncated":           "a266737461747573",
		"not a map":           "8118c8",
	} {
		fs = append(fs, fixture{Name: "shadow_response " + name, Kind: "shadow_response", Hex: h, Error: "E_DECODE"})
	}
	return fs
}

// decodeRequest decodes a request the SDK built with the host's codec into
// the map of its fields that are not empty.
func decodeRequest(codec *abi.Codec, kind string, req []byte) (map[string]any, error) {
	back := map[string]any{}
	put := func(k string, v any) {
		switch v := v.(type) {
		case string:
			if v != "" {
				back[k] = v
			}
		case []byte:
			if len(v) > 0 {
				back[k] = "h'" + hex.EncodeToString(v) + "'"
			}
		case float64:
			if v != 0 {
				back[k] = v
			}
		}
	}
	switch kind {
	case "cloud_publish":
		var r abi.CloudPublishRequest
		if err := codec.Unmarshal(req, &r); err != nil {
			return nil, err
		}
		put("topic", r.Topic)
		put("qos", float64(r.QoS))
		back["payload"] = "h'" + hex.EncodeToString(r.Payload) + "'" // always sent
		return back, nil
	case "shadow_get", "shadow_update", "shadow_delete":
		var r abi.ShadowRequest
		if err := codec.Unmarshal(req, &r); err != nil {
			return nil, err
		}
		put("thing", r.Thing)
		put("name", r.Name)
		put("payload", r.Payload)
		return back, nil
	case "shadow_list":
		var r abi.ShadowListRequest
		if err := codec.Unmarshal(req, &r); err != nil {
			return nil, err
		}
		put("thing", r.Thing)
		put("page_size", float64(r.PageSize))
		put("next_token", r.NextToken)
		return back, nil
	case "shadow_watch":
		var r abi.ShadowWatchRequest
		if err := codec.Unmarshal(req, &r); err != nil {
			return nil, err
		}
		put("thing", r.Thing)
		put("name", r.Name)
		put("topic", r.Topic)
		return back, nil
	}
	return nil, fmt.Errorf("no decoder for %s requests", kind)
}

// ---- alerts, in C and in Go ------------------------------------------------

// TestAlertsConformance runs examples/alerts-c and examples/alerts, each in a
// real host with the same configuration, feeds both the same readings and
// configuration changes, and checks that they publish the same alerts (see
// internal/conformance).
func TestAlertsConformance(t *testing.T) {
	conformance.CompareAlerts(t, conformance.Component{
		Wasm:     buildC(t, "examples/alerts-c/alerts.c"),
		Manifest: conformance.ReadManifest(t, "examples/alerts-c"),
	})
}

// TestAlertsMemory feeds both alerts components readings from more sensors
// than they track, and reports their memory before and after, and the time
// per reading.
func TestAlertsMemory(t *testing.T) {
	c := conformance.Component{Wasm: buildC(t, "examples/alerts-c/alerts.c"), Manifest: conformance.ReadManifest(t, "examples/alerts-c")}
	conformance.AlertsUnderLoad(t, c)
	conformance.AlertsUnderLoad(t, conformance.GoAlerts(t))
}

// ---- Every SDK function against a real host -------------------------------

// TestProbe runs testdata/probe, which calls every function of the SDK, in
// a real host.
func TestProbe(t *testing.T) {
	wasmPath := buildC(t, "sdk/c/testdata/probe/probe.c")
	manifest := conformance.Install(t, []byte(fmt.Sprintf(conformance.ProbeManifest, strings.Repeat("b", 5000))), wasmPath)
	h := conformance.StartHost(t, manifest, "", "probe/#")
	p := conformance.Probe{T: t, H: h}
	c := h.Daemon().Component("probe")

	// Configuration of every type, read in the start function.
	p.Expect("string", "5 hello")
	p.Expect("double", "0 0.25")
	p.Expect("int", "0 42")
	p.Expect("bool", "0 1")
	p.Expect("dotted", "4 deep")
	p.Expect("type", "-101|E_TYPE -101")
	if msg := p.ExpectPrefix("missing", "-5|E_NOT_FOUND|"); msg == "" {
		t.Error("no host message for E_NOT_FOUND")
	}
	p.Expect("big", "5000 5000")
	raw := p.ExpectPrefix("raw", "0 ")
	codec, _ := abi.NewCodec()
	var nested map[string]any
	if b, err := hex.DecodeString(raw); err != nil || codec.Unmarshal(b, &nested) != nil || fmt.Sprint(nested) != "map[inner:deep n:1]" {
		t.Errorf("raw CBOR of nested: %s decodes to %v", raw, nested)
	}
	p.Expect("cborv", "0 3")
	if msg := p.ExpectPrefix("error", "-4|E_DENIED|"); !strings.Contains(msg, "denied/topic") {
		t.Errorf("the host's message for a denied publish: %q", msg)
	}
	var sub, again, cmd, watch, after, every int64
	if _, err := fmt.Sscan(p.Wait("ids", 1)[0], &sub, &again, &cmd, &watch, &after, &every); err != nil || sub != again || sub < 0 {
		t.Fatalf("ids %q: %v", p.Get("ids"), err)
	}
	if !strings.Contains(h.Log("probe"), "probe started name=probe version=1.2.3") {
		t.Errorf("start log:\n%s", h.Log("probe"))
	}

	// Timers: the one-shot fires once, the repeating one until it stops
	// itself on its third call.
	p.Expect("after", fmt.Sprint(after))
	p.Expect("every-stopped", "0")

	// Messages reach their handler, with the context given to subscribe.
	h.Publish("probe/in/a", "hi")
	p.Expect("echo", "probe/in/a hi 2 ctx-ok")

	h.Publish("probe/cmd", "update")
	p.Expect("update", "0")
	p.Expect("config", "watched x=7 rc=0 len=1")

	h.Publish("probe/cmd", "unsubscribe")
	p.Expect("unsubscribed", "0")
	p.Expect("unsubscribed-again", "-5")
	h.Publish("probe/in/b", "nobody listens")

	if err := h.Daemon().SetSecret("token", []byte("s3cret")); err != nil {
		t.Fatal(err)
	}
	h.Publish("probe/cmd", "secret")
	p.Expect("secret", "6 s3cret")
	p.ExpectPrefix("secret-denied", "-4|")

	h.Publish("probe/cmd", "log")
	p.Expect("log", "0 0")
	var cut, fixed bool
	for _, r := range h.LogRecords("probe") {
		cut = cut || (len(r.Msg) == 64<<10 && strings.Trim(r.Msg, "x") == "")
		fixed = fixed || r.Msg == "bad utf-8: ?? end"
	}
	if !cut || !fixed {
		t.Errorf("a long line cut at 64 KiB: %v; bytes that are not UTF-8 replaced: %v", cut, fixed)
	}

	h.Publish("probe/cmd", "large")
	p.Expect("after-large", "0")
	if got := p.Get("large"); len(got) != 1 || got[0] != strings.Repeat("L", 100<<10) {
		t.Errorf("a 100 KiB publish arrived as %d messages", len(got))
	}

	h.Publish("probe/cmd", "bad-timer")
	p.ExpectPrefix("bad-timer", "-3|E_INVALID|")
	if n := len(p.Get("echo")); n != 1 {
		t.Errorf("%d echoes: the handler ran after moss_unsubscribe", n)
	}
	if n := len(p.Get("every")); n != 3 {
		t.Errorf("the repeating timer ran %d times, want 3 (it stops itself)", n)
	}

	// ERRORED: the host makes a new instance, which subscribes again and
	// gets the same ids; then FINISHED ends the component.
	h.Publish("probe/cmd", "errored")
	p.Expect("erroring", "0")
	ids := p.Wait("ids", 2)
	var sub2, again2, cmd2 int64
	if _, err := fmt.Sscan(ids[1], &sub2, &again2, &cmd2); err != nil || cmd2 != cmd {
		t.Errorf("after a restart: ids %q, want the subscription id %d of probe/cmd again", ids[1], cmd)
	}
	t.Logf("subscription ids: first instance %s, second %s (probe/in/# was unsubscribed in between)", ids[0], ids[1])
	conformance.CheckFor(t, "probe RUNNING again", func() bool { return c.State() == component.StateRunning })
	h.Publish("probe/cmd", "finish")
	p.Expect("finishing", "0")
	conformance.CheckFor(t, "probe FINISHED", func() bool { return c.State() == component.StateFinished })

	// A stop event reaches the stop function.
	h2 := conformance.StartHost(t, manifest, "", "probe/stopped")
	h2.Stop(t)
	if got := (conformance.Probe{T: t, H: h2}).Get("stopped"); len(got) != 1 || got[0] != "host stopping" {
		t.Errorf("stop handler published %q", got)
	}
}

// ---- Shadows and the cloud against a real host ----------------------------

// TestShadowProbe runs testdata/shadowprobe, which calls the shadow and
// cloud functions and reads the documents with the JSON reader, in a real
// host with its shadow service.
func TestShadowProbe(t *testing.T) {
	wasmPath := buildC(t, "sdk/c/testdata/shadowprobe/shadowprobe.c")
	manifest := conformance.Install(t, conformance.ReadManifest(t, "sdk/c/testdata/shadowprobe"), wasmPath)
	h := conformance.StartHost(t, manifest, "", "probe/#")
	p := conformance.Probe{T: t, H: h}

	p.Expect("get-missing", "404 No shadow exists with name: 'probe-s'")
	p.Expect("update", "200 1")
	p.Expect("get", "200 RED")
	p.Expect("get-cut", "200 1 15 1")
	p.Expect("update-bad", "400 400")
	p.Expect("update-conflict", "409 409")
	p.Expect("list", "200 probe-s")
	p.Expect("list-bad", "400 400")
	p.ExpectPrefix("classic-denied", "E_DENIED|")
	p.ExpectPrefix("other-thing", "404 ")
	p.ExpectPrefix("list-denied", "E_DENIED|")
	p.ExpectPrefix("bad-name", "E_INVALID|")
	p.ExpectPrefix("watch-bad", "E_INVALID|")
	p.Expect("delete", "200 1")
	p.Expect("delete-again", "404 404")
	p.Expect("cloud-publish", "OK E_UNAVAILABLE E_UNSUPPORTED E_DENIED")
	p.Expect("cloud-subscribe", "1 1 OK")
	p.ExpectPrefix("cloud-unsubscribe", "E_NOT_FOUND|")
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
	p.Expect("delta", "1 $aws/things/moss/shadow/name/probe-s/update/delta BLUE ctx-ok")
	p.Expect("documents", "BLUE")
	h.Publish("probe/cmd", "unwatch")
	p.Expect("unwatch", "0")
	update(`{"state":{"desired":{"color":"GREEN"}}}`)
	if got := p.Wait("documents", 2); got[1] != "GREEN" {
		t.Errorf("second documents message: %q", got[1])
	}
	h.Publish("probe/cmd", "ping")
	p.Expect("pong", "1")
}

// TestHandover runs testdata/counter, the C port of the Go counter, through
// an update event it defers and a hot swap that hands its count over
// (moss_on_update, moss_state_save, moss_handover) in a real host.
func TestHandover(t *testing.T) {
	conformance.RunHandover(t, buildC(t, "sdk/c/testdata/counter/counter.c"))
}
