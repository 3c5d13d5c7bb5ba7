// Command thermostat is a Moss component that keeps its settings, a light
// color and a target temperature, in a named device shadow: it applies
// what is desired there when valid, reports what it applied, clears a
// desired value it refuses, and publishes the settings it runs with on
// thermostat/<shadow>/applied. See README.md.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o thermostat.wasm .
package main

import (
	"encoding/json"
	"errors"
	"fmt"

	moss "github.com/moss-edge/moss/sdk/go"
)

// Valid settings.
var colors = map[string]bool{"RED": true, "GREEN": true, "BLUE": true}

const minTarget, maxTarget = 5.0, 35.0

// settings is what the thermostat runs with, and what it reports and
// publishes.
type settings struct {
	Color  string  `json:"color"`
	Target float64 `json:"target_temperature"`
}

// State lives in package variables: the host calls one handler at a time.
var (
	shadow  string // the shadow's name
	current settings
)

// A component's main never runs: the host calls the SDK's exports, and the
// SDK calls what init registered.
func init() { moss.OnStart(start) }

func main() {}

func start() error {
	shadow = "thermostat"
	defaults := settings{Color: "GREEN", Target: 20}
	if err := errors.Join(get(&shadow, "shadow"), get(&defaults.Color, "color"), get(&defaults.Target, "target_temperature")); err != nil {
		return err
	}
	// Watch first, then read: a change made in between arrives as a delta.
	if _, err := moss.OnShadowDelta("", shadow, onDelta); err != nil {
		return err
	}
	doc, err := moss.GetShadow("", shadow)
	var rejected *moss.ShadowError
	if errors.As(err, &rejected) && rejected.Code == 404 {
		// A new shadow: start from the configuration and say so.
		current = defaults
		moss.Infof("thermostat: no shadow %s yet: starting from %s at %v C", shadow, current.Color, current.Target)
		report(nil)
		return nil
	}
	if err != nil {
		return fmt.Errorf("shadow %s: %w", shadow, err)
	}
	var got struct {
		State struct {
			Reported map[string]any `json:"reported"`
			Delta    map[string]any `json:"delta"`
		} `json:"state"`
	}
	if err := json.Unmarshal(doc, &got); err != nil {
		return fmt.Errorf("shadow %s: %w", shadow, err)
	}
	// Resume from what was reported; a setting missing or invalid there
	// keeps the configured default.
	current = defaults
	if v, ok := validColor(got.State.Reported["color"]); ok {
		current.Color = v
	}
	if v, ok := validTarget(got.State.Reported["target_temperature"]); ok {
		current.Target = v
	}
	moss.Infof("thermostat: shadow %s reports %s at %v C", shadow, current.Color, current.Target)
	if got.State.Delta != nil {
		apply(got.State.Delta)
	}
	return nil
}

// get reads one configuration key into dst; when the key is absent dst keeps
// the default it holds.
func get(dst any, key string) error {
	if err := moss.Config().Get(dst, key); err != nil && !errors.Is(err, moss.ErrNotFound) {
		return fmt.Errorf("config %s: %w", key, err)
	}
	return nil
}

func onDelta(m moss.Message) {
	var delta struct {
		State map[string]any `json:"state"`
	}
	if err := json.Unmarshal(m.Payload, &delta); err != nil {
		moss.Warnf("%s: not a delta document: %v", m.Topic, err)
		return
	}
	apply(delta.State)
}

// apply takes the desired settings that are valid, then reports. Keys other
// than color and target_temperature are ignored.
func apply(state map[string]any) {
	_, hasColor := state["color"]
	_, hasTarget := state["target_temperature"]
	if !hasColor && !hasTarget {
		// Nothing of ours: a report would change nothing in desired, and
		// the service would answer it with the same delta again.
		return
	}
	var rejected []string
	if v, present := state["color"]; present {
		if c, ok := validColor(v); ok {
			current.Color = c
		} else {
			moss.Warnf("thermostat: desired color %v refused: want RED, GREEN or BLUE", jsonText(v))
			rejected = append(rejected, "color")
		}
	}
	if v, present := state["target_temperature"]; present {
		if t, ok := validTarget(v); ok {
			current.Target = t
		} else {
			moss.Warnf("thermostat: desired target_temperature %v refused: want a number from %v to %v", jsonText(v), minTarget, maxTarget)
			rejected = append(rejected, "target_temperature")
		}
	}
	report(rejected)
}

func validColor(v any) (string, bool) {
	s, ok := v.(string)
	return s, ok && colors[s]
}

func validTarget(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok && f >= minTarget && f <= maxTarget
}

// report writes the current settings to the shadow's reported state, and
// clears the desired keys it refused: the service publishes a delta after
// every update while desired and reported differ, so a refused value left
// in desired would come back after each report. Then it publishes the
// settings on thermostat/<shadow>/applied.
func report(rejected []string) {
	type state struct {
		Reported settings       `json:"reported"`
		Desired  map[string]any `json:"desired,omitempty"`
	}
	s := state{Reported: current}
	if len(rejected) > 0 {
		s.Desired = map[string]any{}
		for _, k := range rejected {
			s.Desired[k] = nil
		}
	}
	doc, err := json.Marshal(struct {
		State state `json:"state"`
	}{s})
	if err == nil {
		_, err = moss.UpdateShadow("", shadow, doc)
	}
	if err != nil {
		moss.Warnf("thermostat: shadow %s: reporting %s: %v", shadow, doc, err)
	}
	applied, err := json.Marshal(current)
	if err == nil {
		err = moss.Publish("thermostat/"+shadow+"/applied", applied)
	}
	if err != nil {
		moss.Warnf("thermostat/%s/applied: %v", shadow, err)
	}
}

// jsonText shows a JSON value as it was sent, for a log line.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
