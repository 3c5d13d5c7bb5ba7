package limits

import (
	"errors"
	"fmt"
	"time"
)

// Duration is a time.Duration written as text in TOML ("500ms", "2s", "1m30s",
// as time.ParseDuration reads it). Negative durations are refused: every
// duration in Moss is a timeout, delay or window. A bare integer is refused
// too, because it would silently mean nanoseconds.
type Duration struct{ time.Duration }

// ParseDuration parses the text form of a Duration.
func ParseDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return Duration{}, fmt.Errorf("invalid duration %q: want a number with a unit, such as \"500ms\" or \"2s\"", s)
	}
	if d < 0 {
		return Duration{}, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	return Duration{d}, nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := ParseDuration(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// UnmarshalTOML implements toml.Unmarshaler so that a TOML integer gets a
// message saying a unit is missing instead of the generic parse failure.
func (d *Duration) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		return d.UnmarshalText([]byte(v))
	case int64, float64:
		return fmt.Errorf("invalid duration %v: give it as text with a unit, such as \"%vs\" or \"%vms\"", v, v, v)
	}
	return errors.New("invalid duration: want text such as \"500ms\" or \"2s\"")
}
