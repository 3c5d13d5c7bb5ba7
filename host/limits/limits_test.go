package limits

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
		err  string // substring; empty means success
	}{
		{"0", 0, ""},
		{"1048576", 1 << 20, ""},
		{"512B", 512, ""},
		{"64KiB", 64 << 10, ""},
		{"32MiB", 32 << 20, ""},
		{"1GiB", 1 << 30, ""},
		{"2TiB", 2 << 40, ""},
		{"10kB", 10_000, ""},
		{"10MB", 10_000_000, ""},
		{"3GB", 3_000_000_000, ""},
		{"1TB", 1_000_000_000_000, ""},
		{" 64 KiB ", 64 << 10, ""},
		{"", 0, "want a whole number"},
		{"KiB", 0, "want a whole number"},
		{"-1", 0, "must not be negative"},
		{"-1KiB", 0, "must not be negative"},
		{"1.5MiB", 0, "only whole numbers"},
		{"10KB", 0, "ambiguous"},
		{"10kb", 0, `unknown unit "kb"`},
		{"10 bytes", 0, `unknown unit "bytes"`},
		{"1e6", 0, `unknown unit "e6"`},
		{"99999999999999999999", 0, "too large"},
		{"9000000TiB", 0, "too large"},
		{"9223372036854775807", 1<<63 - 1, ""},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if tt.err == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ParseSize(%q) error = %v; want it to contain %q", tt.in, err, tt.err)
		}
	}
}

func TestSizeString(t *testing.T) {
	tests := []struct {
		in   Size
		want string
	}{
		{0, "0B"},
		{1, "1B"},
		{1000, "1kB"},
		{1001, "1001B"},
		{1024, "1KiB"},
		{1536 * KiB, "1536KiB"},
		{32 * MiB, "32MiB"},
		{4 * GiB, "4GiB"},
		{10 * MB, "10MB"},
		{3 * TiB, "3TiB"},
		{-5, "-5B"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		if tt.in < 0 {
			continue
		}
		back, err := ParseSize(tt.in.String())
		if err != nil || back != tt.in {
			t.Errorf("ParseSize(%q) = %d, %v; want the round trip to give %d", tt.in.String(), back, err, tt.in)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"500ms", 500 * time.Millisecond, ""},
		{"2s", 2 * time.Second, ""},
		{"1m30s", 90 * time.Second, ""},
		{"1h", time.Hour, ""},
		{"250us", 250 * time.Microsecond, ""},
		{"0", 0, ""},
		{"0s", 0, ""},
		{"-1s", 0, "must not be negative"},
		{"5", 0, "want a number with a unit"},
		{"", 0, "want a number with a unit"},
		{"1 s", 0, "want a number with a unit"},
		{"soon", 0, "want a number with a unit"},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if tt.err == "" {
			if err != nil || got.Duration != tt.want {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ParseDuration(%q) error = %v; want it to contain %q", tt.in, err, tt.err)
		}
	}
}

// BurntSushi/toml must decode these types on its own too: other packages may
// decode a Limits without the strict helper.
func TestTOMLDecode(t *testing.T) {
	tests := []struct {
		doc  string
		want Limits
		err  string
	}{
		{`memory = 1048576`, Limits{Memory: MiB}, ""},
		{`memory = "1MiB"`, Limits{Memory: MiB}, ""},
		{`max_message = "10kB"`, Limits{MaxMessage: 10 * KB}, ""},
		{`call_deadline = "500ms"`, Limits{CallDeadline: Duration{500 * time.Millisecond}}, ""},
		{`mailbox = 7` + "\n" + `max_subscriptions = 9`, Limits{Mailbox: 7, MaxSubscriptions: 9}, ""},
		{`memory = -1`, Limits{}, "must not be negative"},
		{`memory = 1.5`, Limits{}, "whole number"},
		{`memory = true`, Limits{}, "invalid size"},
		{`memory = "1.5MiB"`, Limits{}, "only whole numbers"},
		{`call_deadline = 5`, Limits{}, `"5s"`},
		{`call_deadline = "-2s"`, Limits{}, "must not be negative"},
	}
	for _, tt := range tests {
		var got Limits
		_, err := toml.Decode(tt.doc, &got)
		if tt.err == "" {
			if err != nil || got != tt.want {
				t.Errorf("decode %q = %+v, %v; want %+v", tt.doc, got, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("decode %q error = %v; want it to contain %q", tt.doc, err, tt.err)
		}
	}
}

func TestTOMLEncodeRoundTrip(t *testing.T) {
	in := Limits{Memory: 16 * MiB, CallDeadline: Duration{1500 * time.Millisecond}, Mailbox: 3, MaxMessage: 10 * KB, MaxSubscriptions: 4}
	var b strings.Builder
	if err := toml.NewEncoder(&b).Encode(in); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`memory = "16MiB"`, `call_deadline = "1.5s"`, `max_message = "10kB"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("encoded %q lacks %q", b.String(), want)
		}
	}
	var out Limits
	if _, err := toml.Decode(b.String(), &out); err != nil || out != in {
		t.Errorf("round trip = %+v, %v; want %+v", out, err, in)
	}
}

func TestOr(t *testing.T) {
	d := Defaults()
	if got := (Limits{}).Or(d); got != d {
		t.Errorf("zero.Or(defaults) = %+v, want %+v", got, d)
	}
	l := Limits{Memory: 16 * MiB, Mailbox: 8}
	got := l.Or(d)
	want := d
	want.Memory, want.Mailbox = 16*MiB, 8
	if got != want {
		t.Errorf("Or = %+v, want %+v", got, want)
	}
	if got := d.Or(Limits{}); got != d {
		t.Errorf("defaults.Or(zero) = %+v, want them unchanged", got)
	}
}

func TestValidate(t *testing.T) {
	if err := Defaults().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	edges := Limits{Memory: MaxMemory, CallDeadline: Duration{MaxCallDeadline}, Mailbox: MaxMailbox, MaxMessage: MaxMaxMessage, MaxSubscriptions: MaxMaxSubscription, PublishRate: MaxPublishRate}
	if err := edges.Validate(); err != nil {
		t.Errorf("upper edges invalid: %v", err)
	}
	low := Limits{Memory: MinMemory, CallDeadline: Duration{MinCallDeadline}, Mailbox: 1, MaxMessage: 1, MaxSubscriptions: 1, PublishRate: 1}
	if err := low.Validate(); err != nil {
		t.Errorf("lower edges invalid: %v", err)
	}

	tests := []struct {
		mod   func(*Limits)
		field string
		msg   string
	}{
		{func(l *Limits) { l.Memory = 0 }, "memory", "between 64KiB and 4GiB"},
		{func(l *Limits) { l.Memory = 100 * KiB }, "memory", "multiple of 64KiB"},
		{func(l *Limits) { l.Memory = 4*GiB + 64*KiB }, "memory", "got 4194368KiB"},
		{func(l *Limits) { l.CallDeadline.Duration = time.Microsecond }, "call_deadline", "between 1ms and 10m0s"},
		{func(l *Limits) { l.CallDeadline.Duration = time.Hour }, "call_deadline", "got 1h0m0s"},
		{func(l *Limits) { l.Mailbox = 0 }, "mailbox", "between 1 and 1000000"},
		{func(l *Limits) { l.Mailbox = -3 }, "mailbox", "got -3"},
		{func(l *Limits) { l.MaxMessage = 17 * MiB }, "max_message", "between 1B and 16MiB"},
		{func(l *Limits) { l.MaxSubscriptions = 100_001 }, "max_subscriptions", "between 1 and 100000"},
		{func(l *Limits) { l.PublishRate = -1 }, "publish_rate", "between 1 and 100000000"},
	}
	for _, tt := range tests {
		l := Defaults()
		tt.mod(&l)
		err := l.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field || !strings.Contains(fe.Msg, tt.msg) {
			t.Errorf("Validate(%+v) = %v; want a FieldError on %s containing %q", l, err, tt.field, tt.msg)
		}
	}

	// All bad fields at once, each its own FieldError.
	err := Limits{}.Validate()
	multi, ok := err.(interface{ Unwrap() []error })
	if !ok || len(multi.Unwrap()) != 6 {
		t.Errorf("Validate(zero) = %v; want 6 field errors", err)
	}
}
