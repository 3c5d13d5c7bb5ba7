package shadowsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/cloud"
	"github.com/moss-edge/moss/host/shadow"
	"github.com/moss-edge/moss/host/store"
	"github.com/moss-edge/moss/internal/mqtttest"
	"github.com/moss-edge/moss/internal/poll"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testWriter sends log lines to the test log, and keeps them.
type testWriter struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

func (w *testWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	w.t.Log(line)
	w.mu.Lock()
	w.lines = append(w.lines, line)
	w.mu.Unlock()
	return len(p), nil
}

func (w *testWriter) logged(s string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func openStore(t *testing.T, name string) *store.Store {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// rig is a device (local shadows, bus, cloud link, sync) and a simulated
// IoT Core, on one Mosquitto.
type rig struct {
	t     *testing.T
	b     *mqtttest.Broker
	thing string
	sim   *Simulator
	db    *store.Store // the device's
	local *shadow.Service
	bus   *bus.Bus
	link  *cloud.Link
	sync  *Syncer
	opts  Options
	logs  *testWriter
}

func newRig(t *testing.T, shadows []Shadow, tune ...func(*Options)) *rig {
	t.Helper()
	b := mqtttest.Start(t, mqtttest.Options{})
	r := &rig{t: t, b: b, thing: b.Certs().ThingName, bus: bus.New(), logs: &testWriter{t: t}}
	log := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// The tests poll both sides with Get, far beyond the services' rate
	// limits; the sync itself neither needs nor minds them being off.
	noLimits := &shadow.RateLimits{}
	sim, err := NewSimulator(SimulatorOptions{Broker: b.URL(), TLS: b.ClientTLS(t), Store: openStore(t, "cloud.db"), RateLimits: noLimits, Logger: log.With("side", "cloud")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	r.sim = sim
	select {
	case <-sim.Ready():
	case <-time.After(poll.Deadline):
		t.Fatal("simulator not subscribed")
	}

	r.db = openStore(t, "moss.db")
	r.local, err = shadow.New(shadow.Options{Store: r.db, RateLimits: noLimits, Logger: log.With("side", "local")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.local.Close() })
	r.link, err = cloud.New(cloud.Options{
		Endpoint: "127.0.0.1", Port: b.Port(), ThingName: r.thing, TLS: b.ClientTLS(t),
		ReconnectMin: 50 * time.Millisecond, ReconnectMax: 500 * time.Millisecond,
		Store: r.db, Logger: log.With("side", "link"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.link.Close() })
	for i := range shadows {
		if shadows[i].Thing == "" {
			shadows[i].Thing = r.thing
		}
	}
	r.opts = Options{
		Shadows: r.local, Cloud: r.link, Store: r.db, Bus: r.bus, Sync: shadows,
		ReplyTimeout: 2 * time.Second, LinkCheck: 20 * time.Millisecond,
		Logger: log.With("side", "sync"),
	}
	for _, f := range tune {
		f(&r.opts)
	}
	r.start()
	for _, sh := range shadows {
		b.WaitLog(t, shadow.Topic{Thing: sh.Thing, Name: sh.Name, Op: "+", Reply: "+"}.String())
	}
	return r
}

// start starts (or restarts) the sync.
func (r *rig) start() {
	r.t.Helper()
	s, err := New(r.opts)
	if err != nil {
		r.t.Fatal(err)
	}
	r.sync = s
	r.t.Cleanup(func() { s.Close() })
}

func (r *rig) update(svc *shadow.Service, name, payload string) {
	r.t.Helper()
	if _, err := svc.Update(context.Background(), r.thing, name, []byte(payload), shadow.OriginLocal); err != nil {
		r.t.Fatalf("update %s: %v", payload, err)
	}
}

// get returns a side's state and version; nil if it has no shadow.
func (r *rig) get(svc *shadow.Service, name string) *doc {
	r.t.Helper()
	rep, err := svc.Get(context.Background(), r.thing, name, nil)
	var e *shadow.Error
	if errors.As(err, &e) && e.Code == 404 {
		return nil
	}
	if err != nil {
		r.t.Fatal(err)
	}
	o, err := decodeObject(rep.Payload)
	if err != nil {
		r.t.Fatal(err)
	}
	d, err := docFrom(o)
	if err != nil {
		r.t.Fatal(err)
	}
	return d
}

func describe(d *doc) string {
	if d == nil {
		return "no shadow"
	}
	return fmt.Sprintf("v%d %s", d.version, enc(d.state))
}

// waitState waits until a side's state is want ("" for no shadow).
func (r *rig) waitState(side string, svc *shadow.Service, name, want string) {
	r.t.Helper()
	var w *state
	if want != "" {
		o := obj(r.t, want)
		w = &state{}
		w.Desired, _ = o["desired"].(map[string]any)
		w.Reported, _ = o["reported"].(map[string]any)
	}
	var last *doc
	defer func() {
		if r.t.Failed() {
			r.t.Logf("%s shadow %q: last %s", side, name, describe(last))
		}
	}()
	poll.Until(r.t, fmt.Sprintf("%s shadow %q to be %s", side, name, want), func() bool {
		last = r.get(svc, name)
		return (w == nil) == (last == nil) && (w == nil || stateEqual(&last.state, w))
	})
}

// waitQuiet waits until the sync's record holds both sides' current
// versions: nothing is left to do, and a loop would show as versions
// moving on.
func (r *rig) waitQuiet(name string) {
	r.t.Helper()
	poll.Until(r.t, "sync record matching both sides", func() bool {
		l, c := r.get(r.local, name), r.get(r.sim.Shadows(), name)
		data, err := r.db.Get(Bucket, key(r.thing, name))
		if err != nil || l == nil || c == nil {
			return false
		}
		o, err := decodeObject(data)
		if err != nil {
			return false
		}
		lv, _ := int64Field(o, "local")
		cv, _ := int64Field(o, "cloud")
		return lv == l.version && cv == c.version
	})
}

// recorder is a component listening on the local bus.
type recorder struct {
	mu  sync.Mutex
	got []string
	ch  chan struct{}
}

func (r *recorder) Deliver(_ uint32, m *bus.Message) {
	r.mu.Lock()
	r.got = append(r.got, m.Topic+" "+string(m.Payload))
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

// waitFor waits for a message containing all of subs.
func (r *recorder) waitFor(t *testing.T, subs ...string) string {
	t.Helper()
	deadline := time.NewTimer(poll.Deadline)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		for _, m := range r.got {
			all := true
			for _, s := range subs {
				all = all && strings.Contains(m, s)
			}
			if all {
				r.mu.Unlock()
				return m
			}
		}
		got := append([]string(nil), r.got...)
		r.mu.Unlock()
		select {
		case <-r.ch:
		case <-deadline.C:
			t.Fatalf("no message with %q; got %q", subs, got)
		}
	}
}

func (r *rig) listen(filter string) *recorder {
	rec := &recorder{ch: make(chan struct{}, 1)}
	if err := r.bus.Subscribe(filter, rec, 1); err != nil {
		r.t.Fatal(err)
	}
	return rec
}

// TestBothWays: a desired change made in the cloud reaches the local
// shadow and a component watching its delta; a reported change made
// locally reaches the cloud; neither comes back.
func TestBothWays(t *testing.T) {
	r := newRig(t, []Shadow{{Name: "thermostat"}})
	comp := r.listen("$aws/things/" + r.thing + "/shadow/name/thermostat/update/delta")

	// The cloud application sets the desired temperature, over MQTT.
	r.b.Pub(t, "$aws/things/"+r.thing+"/shadow/name/thermostat/update", []byte(`{"state":{"desired":{"target":22}},"clientToken":"app"}`), 1)
	delta := comp.waitFor(t, `"target":22`)
	t.Logf("component got %s", delta)
	r.waitState("local", r.local, "thermostat", `{"desired":{"target":22}}`)

	// The device reports.
	r.update(r.local, "thermostat", `{"state":{"reported":{"target":22,"temp":21.5}}}`)
	want := `{"desired":{"target":22},"reported":{"target":22,"temp":21.5}}`
	r.waitState("cloud", r.sim.Shadows(), "thermostat", want)
	r.waitQuiet("thermostat")
	l, c := r.get(r.local, "thermostat"), r.get(r.sim.Shadows(), "thermostat")
	// One local change (created from the cloud), one local update; the
	// echo of the pushed update did not come back as a third.
	if l.version != 2 || c.version != 2 {
		t.Errorf("local %s, cloud %s: want version 2 on both sides", describe(l), describe(c))
	}
}

// TestMergeAfterOffline: both sides change while the broker is down; after
// it comes back they converge on the documented merge: reported keeps the
// device's values, desired the cloud's, other changes from both sides.
func TestMergeAfterOffline(t *testing.T) {
	r := newRig(t, []Shadow{{Name: "thermostat"}})
	r.update(r.local, "thermostat", `{"state":{"desired":{"target":20,"mode":"auto"},"reported":{"temp":19}}}`)
	start := `{"desired":{"target":20,"mode":"auto"},"reported":{"temp":19}}`
	r.waitState("cloud", r.sim.Shadows(), "thermostat", start)
	r.waitQuiet("thermostat")

	r.b.Stop()
	poll.Until(t, "the link to notice", func() bool { return r.link.Status().State != cloud.StateConnected })
	// On the device: a new reading (conflicting with the cloud's), a new
	// reported field, and a desired change (conflicting too).
	r.update(r.local, "thermostat", `{"state":{"reported":{"temp":25,"humidity":40}}}`)
	r.update(r.local, "thermostat", `{"state":{"desired":{"mode":"eco"}}}`)
	// In the cloud, meanwhile (the console or the HTTP API).
	r.update(r.sim.Shadows(), "thermostat", `{"state":{"desired":{"mode":"heat","fan":"on"},"reported":{"temp":99}}}`)
	poll.Until(t, "the local change to wait in the link's spool", func() bool { return r.link.Status().Spooled > 0 })

	comp := r.listen("$aws/things/" + r.thing + "/shadow/name/thermostat/update/documents")
	r.b.Restart()
	merged := `{"desired":{"target":20,"mode":"heat","fan":"on"},"reported":{"temp":25,"humidity":40}}`
	r.waitState("local", r.local, "thermostat", merged)
	r.waitState("cloud", r.sim.Shadows(), "thermostat", merged)
	r.waitQuiet("thermostat")
	comp.waitFor(t, `"mode":"heat"`) // components hear of the merge
}

// TestDeletes: a delete on either side deletes the other.
func TestDeletes(t *testing.T) {
	r := newRig(t, []Shadow{{Name: "a"}, {Name: "b"}})
	r.update(r.local, "a", `{"state":{"reported":{"x":1}}}`)
	r.update(r.sim.Shadows(), "b", `{"state":{"desired":{"y":1}}}`) // not published: the full sync finds it
	r.b.Pub(t, "$aws/things/"+r.thing+"/shadow/name/b/update", []byte(`{"state":{"desired":{"y":2}}}`), 1)
	r.waitState("cloud", r.sim.Shadows(), "a", `{"reported":{"x":1}}`)
	r.waitState("local", r.local, "b", `{"desired":{"y":2}}`)
	r.waitQuiet("a")
	r.waitQuiet("b")

	comp := r.listen("$aws/things/" + r.thing + "/shadow/name/b/delete/accepted")
	if _, err := r.local.Delete(context.Background(), r.thing, "a", nil, shadow.OriginLocal); err != nil {
		t.Fatal(err)
	}
	r.b.Pub(t, "$aws/things/"+r.thing+"/shadow/name/b/delete", nil, 1)
	r.waitState("cloud", r.sim.Shadows(), "a", "")
	r.waitState("local", r.local, "b", "")
	comp.waitFor(t, `"version":`)

	// Re-created on the device: the cloud follows.
	r.update(r.local, "a", `{"state":{"reported":{"x":2}}}`)
	r.waitState("cloud", r.sim.Shadows(), "a", `{"reported":{"x":2}}`)
	r.waitQuiet("a")
}

// TestOneWay: device_to_cloud sends local changes only, cloud_to_device
// brings cloud changes only.
func TestOneWay(t *testing.T) {
	r := newRig(t, []Shadow{{Name: "up", Direction: DeviceToCloud}, {Name: "down", Direction: CloudToDevice}})
	r.update(r.local, "up", `{"state":{"reported":{"v":1}}}`)
	r.waitState("cloud", r.sim.Shadows(), "up", `{"reported":{"v":1}}`)
	r.b.Pub(t, "$aws/things/"+r.thing+"/shadow/name/down/update", []byte(`{"state":{"desired":{"v":1}}}`), 1)
	r.waitState("local", r.local, "down", `{"desired":{"v":1}}`)

	// The other way round, nothing moves: a cloud change to "up" stays
	// there, a local change to "down" stays here; and what does move
	// leaves them alone.
	r.b.Pub(t, "$aws/things/"+r.thing+"/shadow/name/up/update", []byte(`{"state":{"desired":{"c":1}}}`), 1)
	r.update(r.local, "down", `{"state":{"reported":{"l":1}}}`)
	r.update(r.local, "up", `{"state":{"reported":{"v":2}}}`)
	r.b.Pub(t, "$aws/things/"+r.thing+"/shadow/name/down/update", []byte(`{"state":{"desired":{"v":2}}}`), 1)
	r.waitState("cloud", r.sim.Shadows(), "up", `{"desired":{"c":1},"reported":{"v":2}}`)
	r.waitState("local", r.local, "down", `{"desired":{"v":2},"reported":{"l":1}}`)
	if d := r.get(r.local, "up"); !stateEqual(&d.state, &state{Reported: obj(t, `{"v":2}`)}) {
		t.Errorf("local up: %s; the cloud's change came down", describe(d))
	}
	if d := r.get(r.sim.Shadows(), "down"); !stateEqual(&d.state, &state{Desired: obj(t, `{"v":2}`)}) {
		t.Errorf("cloud down: %s; the local change went up", describe(d))
	}
}

// TestRestartKeepsRecord: a sync restarted with both sides unchanged
// changes nothing; one restarted after a cloud change made while it was
// stopped brings it down.
func TestRestartKeepsRecord(t *testing.T) {
	r := newRig(t, []Shadow{{Name: "s"}})
	r.update(r.local, "s", `{"state":{"reported":{"x":1}}}`)
	r.waitState("cloud", r.sim.Shadows(), "s", `{"reported":{"x":1}}`)
	r.waitQuiet("s")
	before := r.get(r.local, "s").version

	r.sync.Close()
	r.update(r.sim.Shadows(), "s", `{"state":{"desired":{"x":5}}}`)
	r.start()
	r.waitState("local", r.local, "s", `{"desired":{"x":5},"reported":{"x":1}}`)
	r.waitQuiet("s")
	if v := r.get(r.local, "s").version; v != before+1 {
		t.Errorf("local version %d after one cloud change, want %d", v, before+1)
	}
}

// TestThrottled: over the rate limits requests wait, with a warning, and
// every shadow still gets there.
func TestThrottled(t *testing.T) {
	names := []string{"a", "b", "c"}
	var shadows []Shadow
	for _, n := range names {
		shadows = append(shadows, Shadow{Name: n})
	}
	r := newRig(t, shadows, func(o *Options) {
		o.RateLimits = &RateLimits{PerSecond: 20, PerThingPerSecond: 10, InFlight: 1}
	})
	for i := range 5 {
		for _, n := range names {
			r.update(r.local, n, fmt.Sprintf(`{"state":{"reported":{"i":%d}}}`, i))
		}
	}
	for _, n := range names {
		r.waitState("cloud", r.sim.Shadows(), n, `{"reported":{"i":4}}`)
		r.waitQuiet(n)
	}
	if !r.logs.logged("shadow sync throttled") {
		t.Error("no throttling warning")
	}
}

// TestHammer: the device and the cloud application change one shadow at
// the same time; once they stop, both sides hold the same state, with each
// side's last value of what only it changed.
func TestHammer(t *testing.T) {
	r := newRig(t, []Shadow{{Name: "h"}})
	const n = 30
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range n {
			payload := fmt.Sprintf(`{"state":{"reported":{"l":%d},"desired":{"both":"L%d"}}}`, i, i)
			if _, err := r.local.Update(context.Background(), r.thing, "h", []byte(payload), shadow.OriginLocal); err != nil {
				t.Errorf("local update %d: %v", i, err)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := range n {
			payload := fmt.Sprintf(`{"state":{"desired":{"c":%d,"both":"C%d"}}}`, i, i)
			r.b.Pub(t, "$aws/things/"+r.thing+"/shadow/name/h/update", []byte(payload), 1)
		}
	}()
	wg.Wait()
	// mosquitto_pub returns once the broker has the message; wait for the
	// cloud to have applied the last one.
	last := fmt.Sprint(n - 1)
	poll.Until(t, "the cloud application's last update", func() bool {
		c := r.get(r.sim.Shadows(), "h")
		return c != nil && enc(c.state.Desired["c"]) == last
	})
	var l, c *doc
	poll.Until(t, "both sides equal and the sync quiet", func() bool {
		l, c = r.get(r.local, "h"), r.get(r.sim.Shadows(), "h")
		if l == nil || c == nil || !stateEqual(&l.state, &c.state) {
			return false
		}
		data, err := r.db.Get(Bucket, key(r.thing, "h"))
		o, _ := decodeObject(data)
		lv, _ := int64Field(o, "local")
		cv, _ := int64Field(o, "cloud")
		return err == nil && lv == l.version && cv == c.version
	})
	t.Logf("converged: local %s, cloud %s", describe(l), describe(c))
	if got := enc(l.state.Reported["l"]); got != last {
		t.Errorf("reported.l = %s, want %d (the device's last)", got, n-1)
	}
	if got := enc(l.state.Desired["c"]); got != last {
		t.Errorf("desired.c = %s, want %d (the cloud's last)", got, n-1)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	_, err := New(Options{Sync: []Shadow{
		{Thing: "", Name: "x"},
		{Thing: "t", Name: "bad name"},
		{Thing: "t", Name: "ok", Direction: "sideways"},
		{Thing: "t", Name: "dup"},
		{Thing: "t", Name: "dup"},
	}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"Options.Shadows is required", "Options.Cloud is required", "Options.Store is required",
		"sync[0]", "no thing name", `sync[1] t/bad name: shadow name "bad name"`, `direction "sideways"`, "sync[4] t/dup: listed twice"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
