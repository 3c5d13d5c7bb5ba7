package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moss-edge/moss/host/component"
	"github.com/moss-edge/moss/host/logs"
	"github.com/moss-edge/moss/internal/poll"
	"github.com/moss-edge/moss/internal/testwasm"
)

// The thermostat scenario checks the ports of examples/thermostat (README.md
// there is the behaviour every port implements) against a real host's
// shadow service: the applied messages, the shadow each leaves, and its
// warnings, across three boots of a host on one data directory.

// thermostatShadow is the shadow the thermostats keep their settings in (the
// manifests' default), of the host's own thing ("moss": the test hosts have
// no [cloud] section).
const (
	thermostatShadow = "thermostat"
	thermostatTopic  = "$aws/things/moss/shadow/name/" + thermostatShadow
	thermostatOut    = "thermostat/" + thermostatShadow + "/applied"
)

// GoThermostat builds examples/thermostat, the reference every port is
// compared with.
func GoThermostat(t testing.TB) Component {
	t.Helper()
	return Component{
		Wasm:     testwasm.GoPath(t, filepath.Join(testwasm.Root(t), "examples/thermostat")),
		Manifest: ReadManifest(t, "examples/thermostat"),
	}
}

// ThermostatStep is what a thermostat did in one step of the scenario: the
// applied messages it published (parsed JSON, as ports format numbers
// differently), and the shadow's state.reported and state.desired
// afterwards (nil when absent).
type ThermostatStep struct {
	What     string
	Applied  []any
	Reported any
	Desired  any
}

func (s ThermostatStep) String() string {
	b, _ := json.Marshal(map[string]any{"applied": s.Applied, "reported": s.Reported, "desired": s.Desired})
	return s.What + ": " + string(b)
}

// thermostatStep is one step: what the operator does, then what the
// thermostat must do.
type thermostatStep struct {
	what string
	// desired is published on the shadow's update topic, as a device or
	// an application would over MQTT ("": nothing).
	desired string
	want    ThermostatStep
	warns   bool // the thermostat logs a warning: it refused a value
}

// jsonValue parses a JSON literal of the scenario's tables.
func jsonValue(s string) any {
	if s == "" {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic(fmt.Sprintf("%s: %v", s, err))
	}
	return v
}

func applied(docs ...string) []any {
	out := []any{}
	for _, d := range docs {
		out = append(out, jsonValue(d))
	}
	return out
}

const (
	red225  = `{"color":"RED","target_temperature":22.5}`
	blue225 = `{"color":"BLUE","target_temperature":22.5}`
)

// RunThermostat runs the scenario against one thermostat component and
// returns what it did in each step; it fails the test where that is not
// what README.md says. The scenario, in three boots of a host on one data
// directory:
//
//  1. a new shadow: the defaults (GREEN, 20) are reported and applied;
//     desired RED and 22.5 over the update topic are applied; desired
//     PURPLE, then 40, are refused (a warning each) and cleared from
//     desired while RED and 22.5 stay. With the component stopped, the
//     operator desires BLUE and "hot".
//  2. at start the shadow has a delta: the thermostat resumes from reported
//     (RED, 22.5), takes BLUE, refuses "hot" and clears it. With the
//     component stopped, the operator reports a target of 50.
//  3. at start the shadow has no delta: nothing is reported or applied (the
//     version stays); desired GREEN then shows that the invalid reported 50
//     was not taken: the target is the default, 20.
func RunThermostat(t testing.TB, c Component) []ThermostatStep {
	t.Helper()
	name := c.name(t)
	manifestPath := Install(t, c.Manifest, c.Wasm)
	dir := t.TempDir()
	boot := func() *thermostatHost {
		return &thermostatHost{Host: startHostIn(t, dir, manifestPath, "", "thermostat/#"), name: name}
	}
	var steps []ThermostatStep

	// Boot 1: a new shadow.
	h := boot()
	steps = append(steps, h.run(t,
		thermostatStep{what: "new shadow", want: ThermostatStep{
			Applied: applied(`{"color":"GREEN","target_temperature":20}`), Reported: jsonValue(`{"color":"GREEN","target_temperature":20}`)}},
		thermostatStep{what: "desired RED 22.5", desired: `{"state":{"desired":{"color":"RED","target_temperature":22.5}}}`, want: ThermostatStep{
			Applied: applied(red225), Reported: jsonValue(red225), Desired: jsonValue(red225)}},
		thermostatStep{what: "desired PURPLE refused", desired: `{"state":{"desired":{"color":"PURPLE"}}}`, warns: true, want: ThermostatStep{
			Applied: applied(red225), Reported: jsonValue(red225), Desired: jsonValue(`{"target_temperature":22.5}`)}},
		thermostatStep{what: "desired 40 refused", desired: `{"state":{"desired":{"target_temperature":40}}}`, warns: true, want: ThermostatStep{
			Applied: applied(red225), Reported: jsonValue(red225)}},
		// A desired key that is not the thermostat's: ignored, and no
		// report, which the service would answer with the same delta.
		thermostatStep{what: "desired fan ignored", desired: `{"state":{"desired":{"fan":"on"}}}`, want: ThermostatStep{
			Applied: applied(), Reported: jsonValue(red225), Desired: jsonValue(`{"fan":"on"}`)}},
	)...)
	h.operatorUpdate(t, `{"state":{"desired":{"fan":null}}}`)
	h.stopComponent(t)
	h.operatorUpdate(t, `{"state":{"desired":{"color":"BLUE","target_temperature":"hot"}}}`)
	h.Stop(t)

	// Boot 2: a delta waits.
	h = boot()
	steps = append(steps, h.run(t,
		thermostatStep{what: "restart with a delta", warns: true, want: ThermostatStep{
			Applied: applied(blue225), Reported: jsonValue(blue225), Desired: jsonValue(`{"color":"BLUE"}`)}},
	)...)
	h.stopComponent(t)
	h.operatorUpdate(t, `{"state":{"reported":{"target_temperature":50}}}`)
	before := h.shadowVersion(t)
	h.Stop(t)

	// Boot 3: no delta.
	h = boot()
	steps = append(steps, h.run(t,
		thermostatStep{what: "restart without a delta", want: ThermostatStep{
			Applied: applied(), Reported: jsonValue(`{"color":"BLUE","target_temperature":50}`), Desired: jsonValue(`{"color":"BLUE"}`)}},
	)...)
	if after := h.shadowVersion(t); after != before {
		t.Errorf("%s: restart without a delta: shadow version %v, was %v: nothing is to be reported", name, after, before)
	}
	steps = append(steps, h.run(t,
		thermostatStep{what: "desired GREEN: the invalid reported 50 was not taken", desired: `{"state":{"desired":{"color":"GREEN"}}}`, want: ThermostatStep{
			Applied:  applied(`{"color":"GREEN","target_temperature":20}`),
			Reported: jsonValue(`{"color":"GREEN","target_temperature":20}`), Desired: jsonValue(`{"color":"GREEN"}`)}},
	)...)
	h.Stop(t)
	return steps
}

// thermostatHost is a host running a thermostat, with what the scenario
// has seen of it so far.
type thermostatHost struct {
	*Host
	name   string
	deltas int // delta events the scenario caused
	seen   int // applied messages already checked
	warns  int // warnings already checked
}

// run runs steps against the thermostat and returns what it did.
func (h *thermostatHost) run(t testing.TB, steps ...thermostatStep) []ThermostatStep {
	t.Helper()
	name := h.name
	comp := h.d.Component(name)
	if comp == nil {
		t.Fatalf("no component %s in the host", name)
	}
	var out []ThermostatStep
	for _, s := range steps {
		before, warnsBefore := h.seen, h.warns
		if s.desired != "" {
			h.Publish(thermostatTopic+"/update", s.desired)
			h.deltas++
		}
		wantDelivered := uint64(1 + h.deltas) // the start event, then one delta a step
		for deadline := time.Now().Add(poll.Deadline); ; time.Sleep(time.Millisecond) {
			i := comp.Info()
			if i.Errors > 0 || i.State == component.StateErrored || i.State == component.StateBroken || i.State == component.StateFinished {
				t.Fatalf("%s: %s: component %+v\n%s", name, s.what, i, h.Log(name))
			}
			if i.State == component.StateRunning && i.Delivered >= wantDelivered && h.PublishedCount()-before >= len(s.want.Applied) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s: timed out after %v waiting for %d applied and %d events delivered: %+v, published %q\n%s",
					name, s.what, poll.Deadline, len(s.want.Applied), wantDelivered, i, h.Published(before), h.Log(name))
			}
		}
		got := ThermostatStep{What: s.what, Applied: []any{}}
		for _, m := range h.Published(before) {
			if m.Topic != thermostatOut {
				t.Errorf("%s: %s: published on %s: want %s", name, s.what, m.Topic, thermostatOut)
			}
			var v any
			if err := json.Unmarshal(m.Payload, &v); err != nil {
				t.Errorf("%s: %s: applied %q: %v", name, s.what, m.Payload, err)
			}
			got.Applied = append(got.Applied, v)
		}
		got.Reported, got.Desired = h.shadowState(t)
		// The shadow read is a round trip through the service, after which
		// a delta the thermostat's report caused would have been
		// delivered: a thermostat feeding itself deltas shows here.
		if n := comp.Info().Delivered; n != wantDelivered {
			t.Errorf("%s: %s: %d events delivered, want %d (the start event and one delta a step)", name, s.what, n, wantDelivered)
		}
		want := s.want
		want.What = s.what
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %s:\n got %v\nwant %v\n%s", name, s.what, got, want, h.Log(name))
		}
		h.seen, h.warns = before+len(got.Applied), countWarnings(h.LogRecords(name))
		if warned := h.warns > warnsBefore; warned != s.warns {
			t.Errorf("%s: %s: warned %v, want %v:\n%s", name, s.what, warned, s.warns, h.Log(name))
		}
		out = append(out, got)
	}
	return out
}

// countWarnings counts the warnings the guest logged (not the host's, such
// as the one for a manifest without a sha256).
func countWarnings(rs []logs.Record) int {
	n := 0
	for _, r := range rs {
		if r.Level == slog.LevelWarn && strings.Contains(r.Attrs, "source=guest") {
			n++
		}
	}
	return n
}

// shadowDoc reads the thermostat's shadow as the operator does (moss shadow
// get).
func (h *thermostatHost) shadowDoc(t testing.TB) map[string]any {
	t.Helper()
	status, doc, err := h.d.Shadow(context.Background(), "get", "", thermostatShadow, nil)
	if err != nil || status != 200 {
		t.Fatalf("shadow get: %d %s %v", status, doc, err)
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatalf("shadow get: %s: %v", doc, err)
	}
	return m
}

func (h *thermostatHost) shadowState(t testing.TB) (reported, desired any) {
	t.Helper()
	state, _ := h.shadowDoc(t)["state"].(map[string]any)
	return state["reported"], state["desired"]
}

func (h *thermostatHost) shadowVersion(t testing.TB) float64 {
	t.Helper()
	v, _ := h.shadowDoc(t)["version"].(float64)
	return v
}

// operatorUpdate updates the thermostat's shadow as the operator does (moss
// shadow update).
func (h *thermostatHost) operatorUpdate(t testing.TB, doc string) {
	t.Helper()
	status, resp, err := h.d.Shadow(context.Background(), "update", "", thermostatShadow, []byte(doc))
	if err != nil || status != 200 {
		t.Fatalf("shadow update %s: %d %s %v", doc, status, resp, err)
	}
}

// stopComponent stops the thermostat, leaving the host running.
func (h *thermostatHost) stopComponent(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.d.Component(h.name).Stop(ctx); err != nil {
		t.Fatal(err)
	}
}
