package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/component"
	"github.com/moss-edge/moss/host/config"
	"github.com/moss-edge/moss/host/logs"
	"github.com/moss-edge/moss/internal/testwasm"
)

// The hostile-component suite. Each module under testdata/hostile misbehaves
// in one way (its comment says how, and what the host must do about it). It
// runs in a real host beside the canary (host/component/testdata/canary.wat),
// which answers every batch on canary/in with one message on canary/out, and
// each case checks that
//
//   - the canary keeps answering while the hostile component fails and
//     restarts, and after it has given up;
//   - the host stays up: Run has not returned and the admin socket answers;
//   - the hostile component ends BROKEN with the cause in its LastError and
//     in its log, or stays RUNNING where the host's job is to make each bad
//     call fail cleanly, or is refused at load naming the problem.
//
// Restarts are fast (10ms backoff, BROKEN after 3 errors) and most hostile
// calls have a 100ms deadline, so the suite takes about 17s (40s under
// -race): 6s for the initialiser case (2s per attempt, the least an
// initialiser gets), 2-7s for recursion, 2-10s for the 50 MB modules.

// hostileLimits is the [limits] table of most hostile components.
const hostileLimits = "[limits]\ncall_deadline = \"100ms\"\n"

// hostileCase is one hostile module and what the host must make of it.
type hostileCase struct {
	// name names the subtest and the component; the module is
	// testdata/hostile/<name>.wat unless module makes it.
	name     string
	module   func(*testing.T) []byte
	manifest string // manifest body (install adds the [wasm] table)
	// extra installs more components, started before the hostile one.
	extra func(t *testing.T, dir string) []string
	poke  bool            // it misbehaves on a message on hostile/in, else when it starts
	want  component.State // BROKEN, or RUNNING when its bad calls must merely fail
	cause []string        // in LastError and in each "component errored/broken" log line
	// instant: it fails too fast for the canary to be pinged in between.
	instant bool
	// maxAlloc, when set, is the most the test process may allocate
	// during the case (host start included).
	maxAlloc uint64
	// observe starts the case's own observers once the host runs and returns
	// the checks to make when the hostile component has settled.
	observe func(t *testing.T, h *host) func(t *testing.T)
}

var hostileCases = []hostileCase{{
	name:     "initloop",
	manifest: hostileLimits,
	want:     component.StateBroken,
	cause:    []string{"instantiate initloop", "_initialize: call deadline exceeded (2s)"},
}, {
	name:     "handlerloop",
	manifest: hostileLimits + grant("pubsub.subscribe", "hostile/in"),
	poke:     true,
	want:     component.StateBroken,
	cause:    []string{"moss_on_events", "call deadline exceeded (100ms)"},
}, {
	name:     "sleeploop",
	manifest: hostileLimits + grant("pubsub.subscribe", "hostile/in"),
	poke:     true,
	want:     component.StateBroken,
	cause:    []string{"moss_on_events", "call deadline exceeded (100ms)"},
}, {
	// Growing to a 4 MiB limit a page at a time should take well under a
	// millisecond and cost the host about the limit in heap (plus the
	// allocator's headroom): three attempts and the host's own start stay
	// under 48 MiB. The deadline is 1s so that the memory limit, not the
	// deadline, ends each attempt even under -race.
	name:     "memgrow",
	manifest: "[limits]\ncall_deadline = \"1s\"\nmemory = \"4MiB\"\n" + grant("pubsub.subscribe", "hostile/in"),
	poke:     true,
	want:     component.StateBroken,
	cause:    []string{"unreachable", "memory limit reached (limit 4096 KiB, a grow to 4160 KiB was refused)"},
	maxAlloc: 48 << 20,
}, {
	// Without the table cap the case allocated gigabytes; with it, each of
	// the three attempts grows one table to 8 MiB of references (the
	// slice doubling as it grows) and the host's start allocates a few MiB.
	name:     "tablegrow",
	manifest: "[limits]\ncall_deadline = \"1s\"\n" + grant("pubsub.subscribe", "hostile/in"),
	poke:     true,
	want:     component.StateBroken,
	cause:    []string{"unreachable"},
	maxAlloc: 160 << 20,
}, {
	name:     "badptr",
	manifest: hostileLimits + grant("pubsub.subscribe", "hostile/in"),
	poke:     true,
	want:     component.StateRunning,
}, {
	name:     "badcbor",
	manifest: hostileLimits + grant("pubsub.subscribe", "hostile/in"),
	poke:     true,
	want:     component.StateRunning,
	// The requests declare strings, arrays and maps of gigabytes; the
	// whole case, host start included, allocates a few MiB.
	maxAlloc: 256 << 20,
}, {
	name:     "pubflood",
	manifest: hostileLimits + grant("pubsub.subscribe", "hostile/in") + grant("pubsub.publish", "flood/out"),
	extra: func(t *testing.T, dir string) []string {
		w := writeWasm(t, dir, "sink", hostileWAT(t, "sink"))
		return []string{install(t, dir, "sink", w, "[limits]\nmailbox = 8\n"+grant("pubsub.subscribe", "flood/out"))}
	},
	poke:    true,
	want:    component.StateBroken,
	cause:   []string{"moss_on_events", "call deadline exceeded (100ms)"},
	observe: observeFlood,
}, {
	name:     "subflood",
	manifest: hostileLimits + grant("pubsub.subscribe", "hostile/in", "sub/#"),
	poke:     true,
	want:     component.StateRunning,
	observe:  observeSubscriptions,
}, {
	name:     "unreachable",
	manifest: hostileLimits + grant("pubsub.subscribe", "hostile/in"),
	poke:     true,
	want:     component.StateBroken,
	cause:    []string{"moss_on_events", "guest trapped", "unreachable"},
}, {
	// The deadline is long so that the stack runs out first, as it would
	// anyway: wazero checks for termination only at loop back-edges, not
	// on calls (see callbomb), so a recursing guest runs until wazero's
	// call stack passes its 50 MB ceiling (about 160 MiB of host heap
	// allocated on the way): 0.1-1s, about 2s under -race.
	name:     "recursion",
	manifest: "[limits]\ncall_deadline = \"10s\"\n" + grant("pubsub.subscribe", "hostile/in"),
	poke:     true,
	want:     component.StateBroken,
	cause:    []string{"moss_on_events", "guest trapped", "stack overflow"},
}, {
	// A call tree without loops: wazero's own checks (loop heads only)
	// could not stop it; the host's interrupt checks at function entries
	// do (host/wasm/interrupt.go).
	name:     "callbomb",
	manifest: hostileLimits + grant("pubsub.subscribe", "hostile/in"),
	poke:     true,
	want:     component.StateBroken,
	cause:    []string{"moss_on_events", "call deadline exceeded (100ms)"},
}, {
	name:     "closegrow",
	manifest: "[limits]\ncall_deadline = \"100ms\"\nmemory = \"4MiB\"\n" + grant("pubsub.subscribe", "hostile/in"),
	poke:     true,
	// Its delay is a loop-free call tree, like callbomb's.
	want:  component.StateBroken,
	cause: []string{"moss_on_events", "call deadline exceeded (100ms)"},
	// Three attempts at 64 MiB each would be 192 MiB; the host's own
	// start allocates a few MiB.
	maxAlloc: 48 << 20,
}, {
	name:     "version2",
	manifest: hostileLimits,
	want:     component.StateBroken,
	cause:    []string{"built for ABI version 2, this host speaks version 1"},
	instant:  true,
}, {
	// 50 MB is under ReadWasm's 64 MiB cap: the module loads, and runs
	// within a memory limit that holds its 800 pages.
	name:     "big50mb",
	module:   func(t *testing.T) []byte { return bigModule(t, bigSegment) },
	manifest: "[limits]\nmemory = \"64MiB\"\n",
	want:     component.StateRunning,
}}

// TestHostileComponents runs each hostile module beside the canary.
func TestHostileComponents(t *testing.T) {
	for _, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) { runHostile(t, tc) })
	}
}

func runHostile(t *testing.T, tc hostileCase) {
	var mem0 runtime.MemStats
	runtime.ReadMemStats(&mem0)
	dir := t.TempDir()
	var mod []byte
	if tc.module != nil {
		mod = tc.module(t)
	} else {
		mod = hostileWAT(t, tc.name)
	}
	manifests := []string{installCanary(t, dir)}
	if tc.extra != nil {
		manifests = append(manifests, tc.extra(t, dir)...)
	}
	manifests = append(manifests, install(t, dir, tc.name, writeWasm(t, dir, tc.name, mod), tc.manifest))
	mod = nil
	h := startHost(t, hostileConfig(t, dir, manifests...))
	canary := watchCanary(t, h)
	var finish func(*testing.T)
	if tc.observe != nil {
		finish = tc.observe(t, h)
	}
	c := h.d.Component(tc.name)

	if tc.want == component.StateRunning {
		// Its bad calls fail one by one and it goes on: it runs its checks
		// when started and again on every poke.
		if info := c.Info(); info.State != component.StateRunning {
			t.Fatalf("%s is %s, want RUNNING: %s", tc.name, info.State, info.LastError)
		}
		const pokes = 3
		for range pokes {
			if tc.poke {
				poke(t, h)
			}
			canary.ping(t)
			checkAlive(t, h)
		}
		want := uint64(1) // the start event
		if tc.poke {
			want += pokes
		}
		waitInfo(t, c, "the pokes to be handled", func(i component.Info) bool {
			return i.Delivered >= want || i.State != component.StateRunning
		})
		if info := c.Info(); info.State != component.StateRunning || info.Errors != 0 {
			t.Fatalf("%s: %s after %d errors, want RUNNING: %s", tc.name, info.State, info.Errors, info.LastError)
		}
		for _, r := range h.logs.Tail(tc.name, -1) {
			if strings.HasPrefix(r.Msg, "component errored") || strings.HasPrefix(r.Msg, "component broken") {
				t.Errorf("%s's log: %s", tc.name, r)
			}
		}
	} else {
		// It fails, restarts and fails until BROKEN; the canary is pinged
		// on every round, so it is seen answering while the hostile
		// component spins, traps or restarts.
		start := time.Now()
		poked, rounds := -1, 0
		for {
			info := c.Info()
			if info.State == tc.want {
				break
			}
			if tc.poke && info.State == component.StateRunning && info.Restarts != poked {
				poke(t, h)
				poked = info.Restarts
			}
			canary.ping(t)
			checkAlive(t, h)
			rounds++
			if time.Since(start) > 30*time.Second {
				t.Fatalf("%s did not become %s within 30s: %+v\n%s", tc.name, tc.want, info, logText(h, tc.name))
			}
			// Pace the rounds by the hostile component: its next state
			// change or error, or 20ms.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			c.Wait(ctx, func(i component.Info) bool { return i.State != info.State || i.Errors != info.Errors })
			cancel()
		}
		t.Logf("%s became %s in %v; the canary answered %d pings meanwhile", tc.name, tc.want, time.Since(start).Round(time.Millisecond), rounds)
		if rounds == 0 && !tc.instant {
			t.Errorf("the canary was not pinged while %s was failing", tc.name)
		}
		info := c.Info()
		if info.Errors != 3 {
			t.Errorf("%s: %d errors, want 3 (broken_after)", tc.name, info.Errors)
		}
		for _, want := range tc.cause {
			if !strings.Contains(info.LastError, want) {
				t.Errorf("%s: LastError %q does not say %q", tc.name, info.LastError, want)
			}
		}
		checkBrokenLog(t, h, tc.name, tc.cause)
		checkStoppedPromptly(t, h, tc.name)
		if tc.poke {
			// BROKEN leaves the bus.
			if n := h.d.Bus().Publish(&bus.Message{Topic: "hostile/in", Payload: []byte("late")}); n != 0 {
				t.Errorf("a message on hostile/in reached %d subscriptions after %s broke", n, tc.name)
			}
		}
	}

	// After the hostile component settled, the canary still answers and
	// the host still runs.
	canary.ping(t)
	checkAlive(t, h)
	if info := h.d.Component("canary").Info(); info.State != component.StateRunning || info.Errors != 0 {
		t.Errorf("canary: %+v", info)
	}
	if finish != nil {
		finish(t)
	}
	var mem1 runtime.MemStats
	runtime.ReadMemStats(&mem1)
	alloc := mem1.TotalAlloc - mem0.TotalAlloc
	t.Logf("the case allocated %d MiB", alloc>>20)
	if tc.maxAlloc > 0 && alloc > tc.maxAlloc {
		t.Errorf("the case allocated %d MiB, more than %d MiB", alloc>>20, tc.maxAlloc>>20)
	}
}

// stopSlack is how long after the watchdog stops an overrunning instance
// the call may take to end: the guest notices at its next loop back-edge
// (host/wasm/watchdog.go).
const stopSlack = 250 * time.Millisecond

// checkStoppedPromptly checks that every call the watchdog stopped ended
// within stopSlack of the watchdog's log line.
func checkStoppedPromptly(t *testing.T, h *host, name string) {
	t.Helper()
	var killed time.Time
	for _, r := range h.logs.Tail(name, -1) {
		switch {
		case strings.HasPrefix(r.Msg, "guest call past its deadline"):
			killed = r.Time
		case !killed.IsZero() && (strings.HasPrefix(r.Msg, "component errored") || strings.HasPrefix(r.Msg, "component broken")):
			if late := r.Time.Sub(killed); late > stopSlack {
				t.Errorf("%s: the call ended %v after the watchdog closed its instance (allowed %v):\n%s", name, late.Round(time.Millisecond), stopSlack, r)
			}
			killed = time.Time{}
		}
	}
}

// checkBrokenLog checks that the component's log says it broke, with the
// cause, after two restarts that said the same.
func checkBrokenLog(t *testing.T, h *host, name string, cause []string) {
	t.Helper()
	var restarts, broken int
	for _, r := range h.logs.Tail(name, -1) {
		line := r.String()
		hasCause := true
		for _, want := range cause {
			hasCause = hasCause && strings.Contains(line, want)
		}
		switch {
		case strings.HasPrefix(r.Msg, "component errored") && hasCause:
			restarts++
		case strings.HasPrefix(r.Msg, "component broken") && hasCause:
			broken++
		}
	}
	if restarts != 2 || broken != 1 {
		t.Errorf("%s's log has %d restart and %d broken lines naming %q, want 2 and 1:\n%s", name, restarts, broken, cause, logText(h, name))
	}
}

// logText returns the component's log, one record a line.
func logText(h *host, name string) string {
	var b strings.Builder
	for _, r := range h.logs.Tail(name, -1) {
		fmt.Fprintln(&b, r)
	}
	return b.String()
}

// observeFlood counts what pubflood publishes; once it is BROKEN, every
// message must have reached the sink (mailbox 8) or been dropped and
// counted there, and the sink must have said so in its log.
func observeFlood(t *testing.T, h *host) func(*testing.T) {
	var flooded atomic.Uint64
	unsub, err := h.d.Subscribe("flood/out", func(string, []byte) { flooded.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unsub)
	return func(t *testing.T) {
		sink := h.d.Component("sink")
		n := flooded.Load()
		info := waitInfo(t, sink, "the sink to account for the flood", func(i component.Info) bool {
			return i.Queued == 0 && i.Delivered-1+i.Dropped == n // -1: the start event
		})
		t.Logf("pubflood published %d messages; the sink got %d and dropped %d", n, info.Delivered-1, info.Dropped)
		if info.State != component.StateRunning || info.Errors != 0 {
			t.Errorf("sink: %+v", info)
		}
		if info.Dropped == 0 {
			t.Errorf("the sink (mailbox 8) dropped nothing of %d flood messages", n)
		}
		var warned bool
		for _, r := range h.logs.Tail("sink", -1) {
			warned = warned || strings.Contains(r.Msg, "mailbox full")
		}
		if !warned {
			t.Error("the sink's log does not say its mailbox was full")
		}
	}
}

// observeSubscriptions checks that subflood holds exactly max_subscriptions
// (256) subscriptions on the bus, before and after its pokes (each of which
// tries one more filter).
func observeSubscriptions(t *testing.T, h *host) func(*testing.T) {
	// The canary, the test's canary/out subscription and the shadow
	// service's hold the rest.
	check := func(t *testing.T) {
		t.Helper()
		if n := h.d.Bus().Len() - 3; n != 256 {
			t.Errorf("subflood holds %d subscriptions, want 256 (max_subscriptions)", n)
		}
	}
	check(t)
	return check
}

// TestHostileRefusedAtLoad: in strict mode, a module the host cannot run is
// refused when the configuration is loaded, with a message naming the problem; the host
// starts nothing. A host already running beside it is not affected.
func TestHostileRefusedAtLoad(t *testing.T) {
	cases := []struct {
		name   string
		module func(*testing.T) []byte
		want   []string
	}{{
		name:   "badimport",
		module: func(t *testing.T) []byte { return hostileWAT(t, "badimport") },
		want:   []string{"component badimport", "imports moss.frobnicate, which this host (ABI version 1) does not provide"},
	}, {
		// Needs more memory at start than its limit (the default 32 MiB)
		// allows: no restart can help, so it is refused at load.
		name:   "big50mb-lowmem",
		module: func(t *testing.T) []byte { return bigModule(t, bigSegment) },
		want:   []string{"component big50mb-lowmem: module needs 51200 KiB of memory at start, its limits.memory is 32768 KiB"},
	}, {
		// A start function would run inside instantiation, outside any
		// deadline (docs/RATIONALE.md): refused at compile.
		name:   "startloop",
		module: func(t *testing.T) []byte { return hostileWAT(t, "startloop") },
		want:   []string{"component startloop", "has a start section: function 0 would run while the module is instantiated, outside any deadline"},
	}, {
		// Over ReadWasm's cap: refused before it is parsed.
		name:   "oversize",
		module: func(t *testing.T) []byte { return bigModule(t, 64<<20) },
		want:   []string{"oversize", "is larger than 64MiB"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The running host, with its canary.
			dir := t.TempDir()
			h := startHost(t, hostileConfig(t, dir, installCanary(t, dir)))
			canary := watchCanary(t, h)
			canary.ping(t)

			// A second host (own data directory and admin socket) with the
			// canary and the bad module.
			dir2 := t.TempDir()
			bad := install(t, dir2, tc.name, writeWasm(t, dir2, tc.name, tc.module(t)), "")
			cfgFile := filepath.Join(dir2, "moss.toml")
			if err := os.WriteFile(cfgFile, []byte(hostileConfig(t, dir2, installCanary(t, dir2), bad)), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(cfgFile)
			if err != nil {
				t.Fatal(err)
			}
			buf := logs.NewBuffer(100)
			d, err := New(cfg, slog.New(buf.Handler(nil)), buf)
			if err != nil {
				t.Fatal(err)
			}
			d.SetStrict(true) // without it the component is BROKEN: hostile_load_test.go
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err = d.Run(ctx)
			if err == nil {
				t.Fatal("the host with the bad module started")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Run error does not say %q:\n%v", want, err)
				}
			}
			t.Logf("refused: %v", err)
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatal("Run ran until its context ended")
			}
			for _, r := range buf.Tail("", -1) {
				if r.Msg == "component running" {
					t.Errorf("the refused host started a component: %s", r)
				}
			}
			if _, err := os.Stat(cfg.AdminSocket); err == nil {
				t.Error("the refused host left its admin socket")
			}

			// The first host did not notice.
			canary.ping(t)
			checkAlive(t, h)
		})
	}
}

// bigSegment is the size of big50mb's data segment; big.wat checks its last
// byte at 1024 + bigSegment - 1.
const bigSegment = 50_000_000

// bigModule returns big.wat with a data section appended: one segment of
// size bytes at address 1024, ending in 0x5a. big.wat ends with its code
// section, so the data section (id 11) may follow it.
func bigModule(t *testing.T, size int) []byte {
	base := hostileWAT(t, "big")
	if last := lastSection(t, base); last != 10 {
		t.Fatalf("big.wat's last section has id %d, want 10 (code)", last)
	}
	// segment: flags 0 (active, memory 0), offset (i32.const 1024) end, bytes
	seg := []byte{0x01, 0x00, 0x41, 0x80, 0x08, 0x0b}
	seg = appendULEB(seg, uint64(size))
	out := bytes.NewBuffer(make([]byte, 0, len(base)+len(seg)+size+16))
	out.Write(base)
	out.WriteByte(11)
	out.Write(appendULEB(nil, uint64(len(seg)+size)))
	out.Write(seg)
	pattern := make([]byte, 251)
	for i := range pattern {
		pattern[i] = byte(i * 7)
	}
	out.Write(bytes.Repeat(pattern, size/len(pattern)))
	out.Write(pattern[:size%len(pattern)])
	b := out.Bytes()
	b[len(b)-1] = 0x5a
	return b
}

// lastSection returns the id of the last section of a wasm module.
func lastSection(t *testing.T, b []byte) byte {
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		t.Fatal("not a wasm module")
	}
	var id byte
	for p := 8; p < len(b); {
		id = b[p]
		n, w := readULEB(b[p+1:])
		p += 1 + w + int(n)
	}
	return id
}

func appendULEB(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

func readULEB(b []byte) (v uint64, n int) {
	for shift := 0; n < len(b); shift += 7 {
		c := b[n]
		n++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
	}
	return v, n
}

// hostileWAT compiles testdata/hostile/<name>.wat.
func hostileWAT(t *testing.T, name string) []byte {
	t.Helper()
	return testwasm.WAT(t, filepath.Join(testwasm.Root(t), "host/daemon/testdata/hostile", name+".wat"))
}

// writeWasm writes a module to dir/<name>.src.wasm for install to copy.
func writeWasm(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name+".src.wasm")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// grant returns an [[access]] table granting op on resources.
func grant(op string, resources ...string) string {
	q := make([]string, len(resources))
	for i, r := range resources {
		q[i] = strconv.Quote(r)
	}
	return fmt.Sprintf("[[access]]\noperations = [%q]\nresources = [%s]\n", op, strings.Join(q, ", "))
}

// installCanary installs the canary in dir and returns its manifest.
func installCanary(t *testing.T, dir string) string {
	w := writeWasm(t, dir, "canary", testwasm.WAT(t, filepath.Join(testwasm.Root(t), "host/component/testdata/canary.wat")))
	return install(t, dir, "canary", w, grant("pubsub.subscribe", "canary/in")+grant("pubsub.publish", "canary/out"))
}

// hostileConfig is a host configuration running manifests in order, with
// fast restarts: 10ms backoff, BROKEN after 3 errors.
func hostileConfig(t *testing.T, dir string, manifests ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "data_dir = %q\nadmin_socket = %q\ncache_dir = %q\n[lifecycle]\nrestart_backoff = \"10ms\"\nbroken_after = 3\n",
		filepath.Join(dir, "data"), filepath.Join(dir, "admin.sock"), testwasm.CompileCacheDir(t))
	for _, m := range manifests {
		fmt.Fprintf(&b, "[[components]]\nmanifest = %q\n", m)
	}
	return b.String()
}

// poke publishes a message on hostile/in through the admin socket.
func poke(t *testing.T, h *host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.client.Publish(ctx, "hostile/in", []byte("go")); err != nil {
		t.Fatalf("the admin socket does not answer: %v", err)
	}
}

// canaryProbe sees the canary's answers on canary/out.
type canaryProbe struct {
	h       *host
	replies chan struct{}
}

func watchCanary(t *testing.T, h *host) *canaryProbe {
	p := &canaryProbe{h: h, replies: make(chan struct{}, 1)}
	unsub, err := h.d.Subscribe("canary/out", func(string, []byte) {
		select {
		case p.replies <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unsub)
	return p
}

// ping publishes on canary/in through the admin socket and waits for the
// canary's answer.
func (p *canaryProbe) ping(t *testing.T) {
	t.Helper()
	select {
	case <-p.replies:
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.h.client.Publish(ctx, "canary/in", []byte("ping")); err != nil {
		t.Fatalf("the admin socket does not answer: %v", err)
	}
	select {
	case <-p.replies:
	case <-ctx.Done():
		t.Fatalf("the canary did not answer within 10s: %+v", p.h.d.Component("canary").Info())
	}
}

// checkAlive fails the test unless the host runs: Run has not returned and
// the admin socket answers.
func checkAlive(t *testing.T, h *host) {
	t.Helper()
	select {
	case err := <-h.done:
		h.done <- err // for h.stop
		t.Fatalf("the host stopped: Run returned %v", err)
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.client.Status(ctx); err != nil {
		t.Fatalf("the admin socket does not answer: %v", err)
	}
}

// waitInfo waits up to 30s for cond to hold for c's Info. Counters
// (delivered, dropped, queued) change without a state change, which is all
// Component.Wait is woken by, so it re-checks every 5ms as well.
func waitInfo(t *testing.T, c *component.Component, what string, cond func(component.Info) bool) component.Info {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		info, err := c.Wait(ctx, cond)
		cancel()
		if err == nil {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out waiting for %s: %+v", c.Name(), what, info)
		}
	}
}
