// Package limits holds the value types shared by the host configuration and
// component manifests: byte sizes, durations, and the per-component resource
// limits.
//
// Size and Duration decode from TOML text ("32MiB", "500ms") so that files say
// what they mean; a Size also accepts a bare integer number of bytes. Both
// implement toml.Unmarshaler (which BurntSushi/toml prefers) and
// encoding.TextUnmarshaler (for every other text decoder), and marshal back to
// the short text form.
//
// A zero field of Limits means "not set": Or fills it from another Limits, so a
// component's effective limits are manifest.Or(host).Or(Defaults()).
package limits

import (
	"errors"
	"fmt"
	"time"
)

// Limits bounds what one component may use. The zero value of a field means
// "not set" (see Or); Validate checks a complete set.
type Limits struct {
	Memory           Size     `toml:"memory"`            // linear memory cap per instance
	CallDeadline     Duration `toml:"call_deadline"`     // deadline of each call into the guest
	Mailbox          int      `toml:"mailbox"`           // mailbox capacity, events
	MaxMessage       Size     `toml:"max_message"`       // max payload of one publish
	MaxSubscriptions int      `toml:"max_subscriptions"` // max live subscriptions
	// PublishRate is the sustained publishes per second a component may
	// make (a token bucket holding one second's worth, so bursts up to the
	// rate pass at once). Past it, publish fails with E_RATE.
	PublishRate int `toml:"publish_rate"`
}

// The allowed ranges, inclusive. Memory is counted in WebAssembly pages, so it
// must also be a whole number of pages; 4GiB is all a wasm32 module can address.
const (
	PageSize = 64 * KiB

	MinMemory          = PageSize
	MaxMemory          = 4 * GiB
	MinCallDeadline    = time.Millisecond
	MaxCallDeadline    = 10 * time.Minute
	MinMailbox         = 1
	MaxMailbox         = 1_000_000
	MinMaxMessage      = 1 * B
	MaxMaxMessage      = 16 * MiB
	MinMaxSubscription = 1
	MaxMaxSubscription = 100_000
	MinPublishRate     = 1
	MaxPublishRate     = 100_000_000
)

// Defaults returns the limits a component gets when neither its manifest nor
// the host configuration sets them.
func Defaults() Limits {
	return Limits{
		Memory:           32 * MiB,
		CallDeadline:     Duration{time.Second},
		Mailbox:          1024,
		MaxMessage:       256 * KiB,
		MaxSubscriptions: 256,
		PublishRate:      100_000,
	}
}

// Or returns l with each zero field replaced by fallback's value.
func (l Limits) Or(fallback Limits) Limits {
	if l.Memory == 0 {
		l.Memory = fallback.Memory
	}
	if l.CallDeadline.Duration == 0 {
		l.CallDeadline = fallback.CallDeadline
	}
	if l.Mailbox == 0 {
		l.Mailbox = fallback.Mailbox
	}
	if l.MaxMessage == 0 {
		l.MaxMessage = fallback.MaxMessage
	}
	if l.MaxSubscriptions == 0 {
		l.MaxSubscriptions = fallback.MaxSubscriptions
	}
	if l.PublishRate == 0 {
		l.PublishRate = fallback.PublishRate
	}
	return l
}

// FieldError is one field of Limits out of range. Field is the TOML key, so a
// caller that knows where the key sits in a file can point at its line.
type FieldError struct {
	Field string // TOML key, e.g. "memory"
	Msg   string // what is wrong, with the allowed range
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Validate checks every field against its allowed range (a zero field is out
// of range: call Or first to fill unset fields). The error joins one
// *FieldError per bad field, so all of them are reported at once.
func (l Limits) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if l.Memory < MinMemory || l.Memory > MaxMemory || l.Memory%PageSize != 0 {
		bad("memory", "must be between %v and %v and a multiple of %v (the wasm page size), got %v",
			MinMemory, MaxMemory, PageSize, l.Memory)
	}
	if d := l.CallDeadline.Duration; d < MinCallDeadline || d > MaxCallDeadline {
		bad("call_deadline", "must be between %v and %v, got %v", MinCallDeadline, MaxCallDeadline, d)
	}
	if l.Mailbox < MinMailbox || l.Mailbox > MaxMailbox {
		bad("mailbox", "must be between %d and %d events, got %d", MinMailbox, MaxMailbox, l.Mailbox)
	}
	if l.MaxMessage < MinMaxMessage || l.MaxMessage > MaxMaxMessage {
		bad("max_message", "must be between %v and %v, got %v", MinMaxMessage, MaxMaxMessage, l.MaxMessage)
	}
	if l.MaxSubscriptions < MinMaxSubscription || l.MaxSubscriptions > MaxMaxSubscription {
		bad("max_subscriptions", "must be between %d and %d, got %d", MinMaxSubscription, MaxMaxSubscription, l.MaxSubscriptions)
	}
	if l.PublishRate < MinPublishRate || l.PublishRate > MaxPublishRate {
		bad("publish_rate", "must be between %d and %d messages a second, got %d", MinPublishRate, MaxPublishRate, l.PublishRate)
	}
	return errors.Join(errs...)
}
