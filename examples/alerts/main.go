// Command alerts is a Moss component that watches temperature readings: it
// keeps a moving average per sensor and publishes on alerts/<id> when the
// average rises over a threshold, and again when it falls back below.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o alerts.wasm .
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	moss "github.com/moss-edge/moss/sdk/go"
)

// maxSensors bounds the per-sensor state, so that a publisher inventing ids
// cannot grow this component's memory until it hits its limit.
const maxSensors = 1024

// settings is the configuration; see README.md.
type settings struct {
	Window     int
	Threshold  float64
	Hysteresis float64
	Severity   bool
}

// sensor is what we know of one sensor: its last readings and whether it is
// in alert.
type sensor struct {
	readings []float64 // ring of the last Window readings
	next     int       // where the next reading goes
	full     bool      // the ring has wrapped: there are Window readings
	alerting bool
}

// alert is published on alerts/<id>.
type alert struct {
	ID        string  `json:"id"`
	Cleared   bool    `json:"cleared,omitempty"`
	Average   float64 `json:"average"`
	Threshold float64 `json:"threshold"`
	// Severity is set with config severity = true (version 2.0.0 of the
	// deployments example turns it on): "critical" 2 C or more over the
	// threshold, "warning" below that.
	Severity string `json:"severity,omitempty"`
	TS       string `json:"ts"`
}

// State lives in package variables: the host calls one handler at a time, so
// they need no lock.
var (
	cfg     settings
	sensors = map[string]*sensor{}
)

// A component's main never runs: the host calls the SDK's exports, and the
// SDK calls what init registered.
func init() { moss.OnStart(start) }

func main() {}

func start() error {
	if err := reload(); err != nil {
		return err
	}
	// Watch the whole tree: a deployment may change any of the keys, and
	// the new values apply from the next reading, without a restart.
	if err := moss.Config().Watch(func([]string) {
		if err := reload(); err != nil {
			moss.Warnf("configuration change ignored, keeping %+v: %v", cfg, err)
		}
	}); err != nil {
		return err
	}
	if _, err := moss.Subscribe("sensors/+/temperature", onReading); err != nil {
		return err
	}
	moss.Infof("alerts: average of %d readings over %.1f C raises alerts/<id> (cleared below %.1f C)", cfg.Window, cfg.Threshold, cfg.Threshold-cfg.Hysteresis)
	return nil
}

// reload reads the configuration, keeping the current one if the new one is
// not valid.
func reload() error {
	next := settings{Window: 5, Threshold: 28.0, Hysteresis: 0.5}
	if err := errors.Join(get(&next.Window, "window"), get(&next.Threshold, "threshold"), get(&next.Hysteresis, "hysteresis"), get(&next.Severity, "severity")); err != nil {
		return err
	}
	if next.Window < 1 || next.Window > 1000 {
		return fmt.Errorf("config window %d: want 1 to 1000 readings", next.Window)
	}
	if next.Hysteresis < 0 {
		return fmt.Errorf("config hysteresis %v: must not be negative", next.Hysteresis)
	}
	if next.Window != cfg.Window {
		// Averages over the old window mean nothing now: start again,
		// but remember which sensors are in alert so none is raised or
		// cleared twice.
		for _, s := range sensors {
			s.readings, s.next, s.full = make([]float64, next.Window), 0, false
		}
	}
	if cfg != (settings{}) && next != cfg {
		moss.Infof("alerts: configuration now %+v", next)
	}
	cfg = next
	return nil
}

// get reads one configuration key into dst; when the key is absent dst keeps
// the default it holds.
func get(dst any, key string) error {
	if err := moss.Config().Get(dst, key); err != nil && !errors.Is(err, moss.ErrNotFound) {
		return err
	}
	return nil
}

func onReading(m moss.Message) {
	// The subscription is sensors/+/temperature: the id is the middle level.
	id := strings.Split(m.Topic, "/")[1]
	var r struct {
		Temperature *float64 `json:"temperature"`
	}
	if err := json.Unmarshal(m.Payload, &r); err != nil || r.Temperature == nil {
		moss.Warnf("%s: not a reading: %q", m.Topic, m.Payload)
		return
	}
	s := sensors[id]
	if s == nil {
		if len(sensors) >= maxSensors {
			moss.Warnf("%s: ignored: already tracking %d sensors", m.Topic, maxSensors)
			return
		}
		s = &sensor{readings: make([]float64, cfg.Window)}
		sensors[id] = s
	}
	s.readings[s.next] = *r.Temperature
	s.next = (s.next + 1) % len(s.readings)
	s.full = s.full || s.next == 0
	if !s.full {
		return
	}
	var sum float64
	for _, t := range s.readings {
		sum += t
	}
	avg := sum / float64(len(s.readings))
	switch {
	case !s.alerting && avg > cfg.Threshold:
		s.alerting = true
		publish(id, avg, false)
	case s.alerting && avg < cfg.Threshold-cfg.Hysteresis:
		s.alerting = false
		publish(id, avg, true)
	}
}

func publish(id string, avg float64, cleared bool) {
	a := alert{
		ID:        id,
		Cleared:   cleared,
		Average:   math.Round(avg*100) / 100,
		Threshold: cfg.Threshold,
		TS:        time.Now().UTC().Format(time.RFC3339),
	}
	if cfg.Severity && !cleared {
		a.Severity = "warning"
		if avg >= cfg.Threshold+2 {
			a.Severity = "critical"
		}
	}
	b, err := json.Marshal(a)
	if err == nil {
		err = moss.Publish("alerts/"+id, b)
	}
	if err != nil {
		moss.Warnf("alerts/%s: %v", id, err)
	}
}
