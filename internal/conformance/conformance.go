// Package conformance checks that components written with the SDKs of other
// languages behave as their Go originals, in a real host. Each SDK's test
// builds its port of examples/alerts and hands it over:
//
//	conformance.CompareAlerts(t, conformance.Component{
//		Wasm:     buildC(t, "examples/alerts-c/alerts.c"),
//		Manifest: conformance.ReadManifest(t, "examples/alerts-c"),
//	})
//
// CompareAlerts runs the same scenario (readings, configuration changes,
// malformed payloads, configurations refused at start) against that
// component and against examples/alerts built with the Go SDK, each in its
// own host, and fails the test where they publish different alerts.
// AlertsUnderLoad feeds a component readings from more sensors than it
// tracks, straight through the engine, and reports its memory.
//
// The package also exports the real-host harness the scenario uses
// (StartHost, Install, CheckFor) for an SDK's own tests. Everything takes a
// testing.TB and fails it; nothing here is meant for production code.
package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moss-edge/moss/host/component"
	"github.com/moss-edge/moss/host/manifest"
	"github.com/moss-edge/moss/internal/testwasm"
)

// Component is a built component under test.
type Component struct {
	Wasm     string // path of the .wasm file
	Manifest []byte // its component.toml; [wasm] path names the file the module is installed as
}

// name returns the component's name, as its manifest gives it.
func (c Component) name(t testing.TB) string {
	t.Helper()
	m, err := manifest.Parse("component.toml", c.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	return m.Name
}

// ReadManifest reads component.toml from dir, a directory relative to the
// module's root ("examples/alerts-c").
func ReadManifest(t testing.TB, dir string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testwasm.Root(t), dir, "component.toml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// GoAlerts builds examples/alerts, the reference every port is compared
// with.
func GoAlerts(t testing.TB) Component {
	t.Helper()
	return Component{
		Wasm:     testwasm.GoPath(t, filepath.Join(testwasm.Root(t), "examples/alerts")),
		Manifest: ReadManifest(t, "examples/alerts"),
	}
}

// Alert is what the alerts components publish, less the timestamp (checked
// to be the time now, in RFC 3339, then dropped).
type Alert struct {
	ID        string  `json:"id"`
	Cleared   bool    `json:"cleared"`
	Average   float64 `json:"average"`
	Threshold float64 `json:"threshold"`
	Keys      string  `json:"-"` // the JSON object's keys, in order
	JSON      string  `json:"-"` // the payload as published, its ts blanked
}

// Run is what one component did in the scenario.
type Run struct {
	Name      string
	Alerts    [][]Alert // by step
	WasmBytes int64
	MemoryKiB string // the instance's memory once running, as the host logs it
}

// String sums the run up for a test log.
func (r *Run) String() string {
	return fmt.Sprintf("%s: %d bytes of wasm, %s KiB of memory when running", r.Name, r.WasmBytes, r.MemoryKiB)
}

// CompareAlerts runs the scenario against c, a port of examples/alerts,
// and against examples/alerts itself, each in a real host with the same
// configuration, and checks that they publish the same alerts: the same
// topics and the same JSON, byte for byte, but for the timestamps; that
// both log the warnings the scenario calls for; and that both refuse the
// same configurations at start. It logs each one's module size and memory,
// and returns the two runs: c's, then the reference's.
func CompareAlerts(t testing.TB, c Component) (port, reference *Run) {
	t.Helper()
	ref := GoAlerts(t)
	port, reference = RunAlerts(t, c), RunAlerts(t, ref)
	if !reflect.DeepEqual(port.Alerts, reference.Alerts) {
		t.Errorf("%s and %s (Go) alerts differ:\n%8s %+v\n%8s %+v", port.Name, reference.Name, port.Name, port.Alerts, reference.Name, reference.Alerts)
	}
	t.Log(port)
	t.Log(reference, "(Go)")
	CheckRefusesBadConfig(t, c)
	CheckRefusesBadConfig(t, ref)
	return port, reference
}

// step feeds readings (after a configuration change, if any) and expects
// alerts.
type step struct {
	what     string
	config   []any // path (a string, "" for the whole tree), value
	readings [][2]string
	want     []Alert
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

// hostConfig is the host configuration's override of the alerts
// configuration for the scenario.
const hostConfig = "window = 3\nthreshold = 28.0\nhysteresis = 0.5\n"

func scenario() []step {
	const odd = `a"b<c>&é`
	return []step{
		{what: "below", readings: readings("s1", 20, 29, 29)},
		{what: "rising", readings: readings("s1", 30), want: []Alert{{ID: "s1", Average: avg(29, 29, 30), Threshold: 28}}},
		{what: "still high", readings: readings("s1", 31, 30)},
		{what: "other sensor", readings: readings("s2", 10, 10, 10, 10)},
		{what: "inside hysteresis", readings: readings("s1", 27.7, 27.7, 27.7)},
		{what: "cleared", readings: readings("s1", 27), want: []Alert{{ID: "s1", Cleared: true, Average: avg(27.7, 27.7, 27), Threshold: 28}}},
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
		}, want: []Alert{{ID: "s3", Average: 40, Threshold: 28}}},
		{what: "rounding", readings: readings("s4", 28.1, 28.125, 28.15), want: []Alert{{ID: "s4", Average: avg(28.1, 28.125, 28.15), Threshold: 28}}},
		{what: "an id JSON must escape", readings: readings(odd, 50, 50, 50), want: []Alert{{ID: odd, Average: 50, Threshold: 28}}},
		{what: "threshold raised", config: []any{"threshold", 35.0}, readings: readings("s1", 34, 34, 34)},
		{what: "over the new threshold", readings: readings("s1", 36, 36), want: []Alert{{ID: "s1", Average: avg(34, 36, 36), Threshold: 35}}},
		{what: "invalid window", config: []any{"window", 0}, readings: readings("s1", 36)},
		{what: "shorter window, alert kept", config: []any{"window", 2}, readings: readings("s1", 10, 10), want: []Alert{{ID: "s1", Cleared: true, Average: 10, Threshold: 35}}},
		{what: "invalid hysteresis", config: []any{"hysteresis", -1.0}, readings: readings("s1", 40, 40), want: []Alert{{ID: "s1", Average: 40, Threshold: 35}}},
		// Numbers encoding/json writes in exponent form.
		{what: "a tiny threshold", config: []any{"", map[string]any{"threshold": 1.5e-7, "hysteresis": 0.5}}, readings: readings("s7", 1, 1), want: []Alert{{ID: "s7", Average: 1, Threshold: 1.5e-7}}},
		{what: "a huge threshold", config: []any{"threshold", 1e21}, readings: readings("s8", 3e21, 3e21), want: []Alert{{ID: "s8", Average: avg(3e21, 3e21), Threshold: 1e21}}},
	}
}

// RunAlerts runs the scenario against one alerts component in its own host
// and returns the alerts of each step. It fails the test where an alert is
// not the one expected, or a warning every port logs is missing.
func RunAlerts(t testing.TB, c Component) *Run {
	t.Helper()
	name := c.name(t)
	h := StartHost(t, Install(t, c.Manifest, c.Wasm), hostConfig, "alerts/#")
	comp := h.d.Component(name)
	if comp == nil || comp.State() != component.StateRunning {
		t.Fatalf("%s not running:\n%s", name, h.Log(name))
	}
	delivered := uint64(1) // the start event
	var got [][]Alert
	for _, s := range scenario() {
		before := h.PublishedCount()
		if s.config != nil {
			var path []string // "": the whole tree
			if p := s.config[0].(string); p != "" {
				path = []string{p}
			}
			if err := comp.Config().Update(path, s.config[1]); err != nil {
				t.Fatal(err)
			}
			delivered++ // the watch's config event
		}
		for _, r := range s.readings {
			h.Publish(r[0], r[1])
		}
		delivered += uint64(len(s.readings))
		CheckFor(t, fmt.Sprintf("%s: %s: %d events delivered", name, s.what, delivered), func() bool {
			i := comp.Info()
			if i.State != component.StateRunning {
				t.Fatalf("%s: %s: component %+v\n%s", name, s.what, i, h.Log(name))
			}
			return i.Delivered >= delivered
		})
		var alerts []Alert
		for _, m := range h.Published(before) {
			var a struct {
				Alert
				TS string `json:"ts"`
			}
			if err := json.NewDecoder(bytes.NewReader(m.Payload)).Decode(&a); err != nil {
				t.Fatalf("%s: %s: %s %s: %v", name, s.what, m.Topic, m.Payload, err)
			}
			if ts, err := time.Parse(time.RFC3339, a.TS); err != nil || time.Since(ts).Abs() > time.Minute {
				t.Errorf("%s: %s: ts %q is not the time now in RFC 3339", name, s.what, a.TS)
			}
			if m.Topic != "alerts/"+a.ID {
				t.Errorf("%s: %s: alert for %q on %s", name, s.what, a.ID, m.Topic)
			}
			a.Alert.Keys = jsonKeys(t, m.Payload)
			a.Alert.JSON = strings.Replace(string(m.Payload), `"ts":"`+a.TS+`"`, `"ts":"..."`, 1)
			alerts = append(alerts, a.Alert)
		}
		if len(alerts) != len(s.want) {
			t.Errorf("%s: %s: published %+v, want %+v\n%s", name, s.what, alerts, s.want, h.Log(name))
		} else {
			for i := range alerts {
				if w := s.want[i]; alerts[i].ID != w.ID || alerts[i].Cleared != w.Cleared || alerts[i].Average != w.Average || alerts[i].Threshold != w.Threshold {
					t.Errorf("%s: %s: alert %+v, want %+v", name, s.what, alerts[i], w)
				}
			}
		}
		got = append(got, alerts)
	}
	log := h.Log(name)
	for _, want := range []string{"not a reading", "configuration change ignored", "config window 0", "config hysteresis -1"} {
		if !strings.Contains(log, want) {
			t.Errorf("%s: no %q in its log:\n%s", name, want, log)
		}
	}
	fi, err := os.Stat(c.Wasm)
	if err != nil {
		t.Fatal(err)
	}
	return &Run{Name: name, Alerts: got, WasmBytes: fi.Size(), MemoryKiB: h.MemoryKiB(t, name)}
}

// CheckRefusesBadConfig starts an alerts component with configurations it
// must refuse at start — a float window (the SDKs decode an integer into a
// float, not the reverse) and one out of range — and checks that its start
// fails (moss_on_events returns 2) with a log line naming the window.
func CheckRefusesBadConfig(t testing.TB, c Component) {
	t.Helper()
	name := c.name(t)
	manifestPath := Install(t, c.Manifest, c.Wasm)
	for _, bad := range []string{"window = 5.0\n", "window = 1001\n"} {
		h := StartHost(t, manifestPath, bad, "alerts/#")
		comp := h.d.Component(name)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		st, err := comp.WaitState(ctx, component.StateErrored, component.StateBroken)
		cancel()
		if err != nil || !strings.Contains(comp.Info().LastError, "returned 2") {
			t.Errorf("%s with %q: %v, %+v; want its start to fail (moss_on_events returned 2)", name, bad, st, comp.Info())
		}
		if log := h.Log(name); !strings.Contains(log, "window") {
			t.Errorf("%s with %q: the log does not say what is wrong:\n%s", name, bad, log)
		}
		h.Stop(t)
	}
}

// jsonKeys lists an object's keys in order.
func jsonKeys(t testing.TB, b []byte) string {
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
