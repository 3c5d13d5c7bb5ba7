// Command sensor is a Moss component that simulates a temperature sensor: it
// publishes a JSON reading on sensors/<id>/temperature at a fixed interval.
// The temperature drifts slowly around a base value, with a little noise, so
// that it now and then rises over the alerts example's threshold.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o sensor.wasm .
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	moss "github.com/moss-edge/moss/sdk/go"
)

// The drift: a sine of this amplitude and period around the base value.
const (
	amplitude = 8.0
	period    = time.Minute
	noise     = 0.3 // largest random step, either way
)

// reading is the JSON published on each tick.
type reading struct {
	ID          string  `json:"id"`
	Temperature float64 `json:"temperature"`
	Unit        string  `json:"unit"`
	TS          string  `json:"ts"`
}

// A component's main never runs: the host calls the SDK's exports, and the
// SDK calls what init registered.
func init() { moss.OnStart(start) }

func main() {}

func start() error {
	id, interval, base := "s1", "2s", 21.0
	if err := errors.Join(get(&id, "id"), get(&interval, "interval"), get(&base, "base")); err != nil {
		return err
	}
	if id == "" || strings.ContainsAny(id, "/+#") {
		return fmt.Errorf("config id %q: must be one non-empty topic level", id)
	}
	d, err := time.ParseDuration(interval)
	if err != nil || d <= 0 {
		return fmt.Errorf("config interval %q: want a positive duration such as 2s", interval)
	}
	topic := "sensors/" + id + "/temperature"
	// A timer, not a time.Ticker: the component is frozen between events.
	started := time.Now()
	if _, err := moss.Every(d, func() { publish(topic, id, base, started) }); err != nil {
		return err
	}
	moss.Infof("sensor %s publishing on %s every %v around %.1f C", id, topic, d, base)
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

// publish sends one reading. The drift starts at its peak when the component
// starts, so a new user sees the alerts example fire within seconds.
func publish(topic, id string, base float64, started time.Time) {
	now := time.Now()
	phase := 2 * math.Pi * float64(now.Sub(started)%period) / float64(period)
	t := base + amplitude*math.Cos(phase) + noise*(2*rand.Float64()-1)
	b, err := json.Marshal(reading{
		ID:          id,
		Temperature: math.Round(t*10) / 10,
		Unit:        "C",
		TS:          now.UTC().Format(time.RFC3339),
	})
	if err == nil {
		err = moss.Publish(topic, b)
	}
	if err != nil {
		// Log and carry on: the next tick tries again. A denied topic
		// would fail every tick, so it is worth seeing in the log.
		moss.Warnf("publish %s: %v", topic, err)
	}
}
