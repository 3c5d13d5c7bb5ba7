package main

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	moss "github.com/moss-edge/moss/sdk/go"
)

// fakeHost plays the Moss host for the bridge, natively: subscriptions are
// handlers by side and filter, publishes are recorded or fail with the
// error set for their side, time stands still until the test moves it.
type fakeHost struct {
	t       *testing.T
	subs    map[string][]*fakeSub // by "side filter"
	calls   []string              // subscribe and unsubscribe, in order
	sent    []string              // "side topic payload qos=n"
	fail    map[Side]error        // what publish returns on a side
	subFail map[string]error      // what subscribe returns for a "side filter"
	logs    []string
	clock   time.Time
	timers  []fakeTimer
}

type fakeSub struct{ h func(string, []byte) }

type fakeTimer struct {
	at time.Time
	fn func()
}

func newFakeHost(t *testing.T) *fakeHost {
	return &fakeHost{t: t, subs: map[string][]*fakeSub{}, fail: map[Side]error{}, subFail: map[string]error{},
		clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (f *fakeHost) subscribe(side Side, filter string, h func(string, []byte)) (func() error, error) {
	key := string(side) + " " + filter
	if err := f.subFail[key]; err != nil {
		return nil, err
	}
	s := &fakeSub{h}
	f.subs[key] = append(f.subs[key], s)
	f.calls = append(f.calls, "subscribe "+key)
	return func() error {
		i := slices.Index(f.subs[key], s)
		if i < 0 {
			f.t.Errorf("unsubscribe %s twice", key)
			return nil
		}
		f.subs[key] = slices.Delete(f.subs[key], i, i+1)
		f.calls = append(f.calls, "unsubscribe "+key)
		return nil
	}, nil
}

func (f *fakeHost) publish(side Side, topic string, payload []byte, qos int) error {
	if err := f.fail[side]; err != nil {
		return err
	}
	f.sent = append(f.sent, fmt.Sprintf("%s %s %s qos=%d", side, topic, payload, qos))
	return nil
}

func (f *fakeHost) log(level slog.Level, msg string) { f.logs = append(f.logs, level.String()+" "+msg) }

func (f *fakeHost) after(d time.Duration, fn func()) error {
	f.timers = append(f.timers, fakeTimer{f.clock.Add(d), fn})
	return nil
}

func (f *fakeHost) now() time.Time { return f.clock }

// advance moves the clock and runs the timers that are due.
func (f *fakeHost) advance(d time.Duration) {
	f.clock = f.clock.Add(d)
	due := slices.DeleteFunc(slices.Clone(f.timers), func(t fakeTimer) bool { return t.at.After(f.clock) })
	f.timers = slices.DeleteFunc(f.timers, func(t fakeTimer) bool { return !t.at.After(f.clock) })
	for _, t := range due {
		t.fn()
	}
}

// deliver hands a message to every handler of side's filter, as the host
// would for a matching topic.
func (f *fakeHost) deliver(side Side, filter, topic, payload string) {
	f.t.Helper()
	hs := f.subs[string(side)+" "+filter]
	if len(hs) == 0 {
		f.t.Fatalf("no subscription to %s %s", side, filter)
	}
	for _, s := range hs {
		s.h(topic, []byte(payload))
	}
}

// takeLogs returns the log lines so far and forgets them.
func (f *fakeHost) takeLogs() []string {
	l := f.logs
	f.logs = nil
	return l
}

func mustParse(t *testing.T, v any) []Mapping {
	t.Helper()
	ms, err := ParseMappings(guestValue(t, v))
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func mapping(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func TestForwardBothWays(t *testing.T) {
	h := newFakeHost(t)
	b := newBridge(h)
	if err := b.apply(mustParse(t, []any{
		mapping("name", "up", "source", "local", "filter", "telemetry/#", "target_prefix", "dev1/", "qos", 0),
		mapping("source", "cloud", "filter", "commands/+", "target_prefix", "cloud/"),
		mapping("source", "local", "filter", "status"),
	})); err != nil {
		t.Fatal(err)
	}
	h.deliver(Local, "telemetry/#", "telemetry/t1", "21.5")
	h.deliver(Cloud, "commands/+", "commands/reboot", "now")
	h.deliver(Local, "status", "status", "ok")
	want := []string{
		"cloud dev1/telemetry/t1 21.5 qos=0",
		"local cloud/commands/reboot now qos=0",
		"cloud status ok qos=1",
	}
	if !slices.Equal(h.sent, want) {
		t.Errorf("sent %q, want %q", h.sent, want)
	}
	for _, want := range []string{
		"INFO mappings[0] (up): forwarding local telemetry/# -> cloud dev1/telemetry/#",
		"INFO mappings[1]: forwarding cloud commands/+ -> local cloud/commands/+",
	} {
		if !slices.Contains(h.logs, want) {
			t.Errorf("logs %q lack %q", h.logs, want)
		}
	}
	h.takeLogs()
	b.stop()
	if got := h.takeLogs(); !slices.Contains(got, "INFO mappings[0] (up): forwarded 1, dropped 0") {
		t.Errorf("stop logged %q", got)
	}
}

// TestReconfigure: a change keeps the subscriptions of unchanged mappings,
// subscribes new ones before it drops old ones, and relabels what moved.
func TestReconfigure(t *testing.T) {
	h := newFakeHost(t)
	b := newBridge(h)
	keep := mapping("name", "keep", "source", "local", "filter", "a/#")
	if err := b.apply(mustParse(t, []any{
		mapping("source", "local", "filter", "old/#"),
		keep,
	})); err != nil {
		t.Fatal(err)
	}
	h.deliver(Local, "a/#", "a/1", "x")
	h.calls = nil
	if err := b.apply(mustParse(t, []any{
		keep,
		mapping("source", "cloud", "filter", "new/#"),
	})); err != nil {
		t.Fatal(err)
	}
	if want := []string{"subscribe cloud new/#", "unsubscribe local old/#"}; !slices.Equal(h.calls, want) {
		t.Errorf("calls %q, want %q", h.calls, want)
	}
	h.deliver(Local, "a/#", "a/2", "y")
	h.deliver(Cloud, "new/#", "new/1", "z")
	if want := []string{"cloud a/1 x qos=1", "cloud a/2 y qos=1", "local new/1 z qos=0"}; !slices.Equal(h.sent, want) {
		t.Errorf("sent %q, want %q", h.sent, want)
	}
	h.takeLogs()
	b.stop()
	if got := h.takeLogs(); !slices.Contains(got, "INFO mappings[0] (keep): forwarded 2, dropped 0") {
		t.Errorf("the kept mapping lost its count or label: %q", got)
	}

	// A change that cannot subscribe leaves the previous mappings in
	// force and undoes what it made.
	h.subFail["cloud denied/#"] = fmt.Errorf("moss: cloud_subscribe: %w", moss.ErrDenied)
	h.calls = nil
	err := b.apply(mustParse(t, []any{
		mapping("source", "local", "filter", "b/#"),
		mapping("source", "cloud", "filter", "denied/#"),
	}))
	if err == nil || !errors.Is(err, moss.ErrDenied) || !strings.HasPrefix(err.Error(), `mappings[1]: subscribe to cloud "denied/#": `) {
		t.Fatalf("apply = %v", err)
	}
	if want := []string{"subscribe local b/#", "unsubscribe local b/#"}; !slices.Equal(h.calls, want) {
		t.Errorf("calls %q, want %q", h.calls, want)
	}
	h.deliver(Local, "a/#", "a/3", "still")
	if got := h.sent[len(h.sent)-1]; got != "cloud a/3 still qos=1" {
		t.Errorf("after the failed change, sent %q", got)
	}

	// No mappings: everything is unsubscribed.
	h.calls = nil
	if err := b.apply(nil); err != nil {
		t.Fatal(err)
	}
	slices.Sort(h.calls)
	if want := []string{"unsubscribe cloud new/#", "unsubscribe local a/#"}; !slices.Equal(h.calls, want) {
		t.Errorf("calls %q, want %q", h.calls, want)
	}
}

// TestDropsAreWarnedAndCounted: a full spool, or QoS 0 while offline, loses
// the message; the first loss is logged at once, later ones within
// warnEvery are counted and reported by the next warning or by a timer.
func TestDropsAreWarnedAndCounted(t *testing.T) {
	h := newFakeHost(t)
	b := newBridge(h)
	if err := b.apply(mustParse(t, []any{mapping("name", "up", "source", "local", "filter", "t/#")})); err != nil {
		t.Fatal(err)
	}
	h.takeLogs()
	h.fail[Cloud] = fmt.Errorf("moss: cloud_publish: %w", moss.ErrFull)
	for i := range 5 {
		h.deliver(Local, "t/#", fmt.Sprintf("t/%d", i), "x")
		h.advance(time.Second)
	}
	logs := h.takeLogs()
	if len(logs) != 1 || !strings.HasPrefix(logs[0], `WARN mappings[0] (up): dropped a message for cloud "t/0": the cloud spool is full: `) ||
		!strings.HasSuffix(logs[0], "(dropped_since_last_warning=1 dropped_total=1)") {
		t.Fatalf("first drop logged %q", logs)
	}
	if len(h.timers) != 1 {
		t.Fatalf("%d timers set, want 1 for the suppressed warnings", len(h.timers))
	}
	h.advance(warnEvery)
	logs = h.takeLogs()
	if len(logs) != 1 || !strings.Contains(logs[0], "dropped messages for cloud: the cloud spool is full") ||
		!strings.HasSuffix(logs[0], "(dropped_since_last_warning=4 dropped_total=5)") {
		t.Fatalf("the timer logged %q", logs)
	}

	// Another reason is warned of on its own, at once.
	h.fail[Cloud] = fmt.Errorf("moss: cloud_publish: %w", moss.ErrUnavailable)
	h.deliver(Local, "t/#", "t/q0", "x")
	if logs := h.takeLogs(); len(logs) != 1 || !strings.Contains(logs[0], "the cloud link is down") {
		t.Fatalf("offline drop logged %q", logs)
	}

	// Past warnEvery a drop warns again, with the count in between.
	h.fail[Cloud] = fmt.Errorf("moss: cloud_publish: %w", moss.ErrFull)
	h.deliver(Local, "t/#", "t/a", "x")
	h.deliver(Local, "t/#", "t/b", "x")
	h.advance(warnEvery)
	h.takeLogs() // the timer's report of t/a and t/b
	h.advance(warnEvery)
	h.deliver(Local, "t/#", "t/c", "x")
	logs = h.takeLogs()
	if len(logs) != 1 || !strings.HasSuffix(logs[0], "(dropped_since_last_warning=1 dropped_total=8)") {
		t.Fatalf("later drop logged %q", logs)
	}

	h.fail[Cloud] = nil
	h.deliver(Local, "t/#", "t/ok", "x")
	b.stop()
	want := "INFO mappings[0] (up): forwarded 1, dropped 9 (spool full: 8, unavailable: 1)"
	if logs := h.takeLogs(); !slices.Contains(logs, want) {
		t.Fatalf("stop logged %q, want %q", logs, want)
	}
}

func TestClassify(t *testing.T) {
	for err, want := range map[error]reason{
		moss.ErrFull:        spoolFull,
		moss.ErrUnavailable: unavailable,
		moss.ErrDenied:      denied,
		moss.ErrRate:        rateLimited,
		moss.ErrInvalid:     refused,
		moss.ErrTooLarge:    refused,
		errors.New("other"): refused,
	} {
		if got := classify(fmt.Errorf("wrapped: %w", err)); got != want {
			t.Errorf("classify(%v) = %v, want %v", err, got, want)
		}
	}
}

func TestClip(t *testing.T) {
	if got := clip("héllo", 2); got != "h..." {
		t.Errorf("clip cut inside a rune: %q", got)
	}
	if got := clip("short", 10); got != "short" {
		t.Errorf("clip(short) = %q", got)
	}
}
