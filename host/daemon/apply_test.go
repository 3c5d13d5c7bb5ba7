package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/internal/testwasm"
)

// counterManifests installs the counter test component as version 1.0.0
// and returns a function writing further versions of its manifest (same
// module) beside it.
func counterManifests(t testing.TB, dir string) (v1 string, version func(v string) string) {
	t.Helper()
	root := testwasm.Root(t)
	body, err := os.ReadFile(filepath.Join(root, "host/daemon/testdata/counter.toml"))
	if err != nil {
		t.Fatal(err)
	}
	v1 = install(t, dir, "counter", testwasm.GoPath(t, filepath.Join(root, "host/daemon/testdata/counter")), string(body))
	return v1, func(v string) string {
		m, _ := os.ReadFile(v1)
		p := filepath.Join(filepath.Dir(v1), "component-"+v+".toml")
		os.WriteFile(p, []byte(strings.Replace(string(m), `version = "1.0.0"`, fmt.Sprintf("version = %q", v), 1)), 0o644)
		return p
	}
}

// TestHotSwapLosesNothing upgrades a component while a publisher sends it
// numbered messages at a steady rate: every message is handled exactly
// once, in order, the count handed over carries on, and the new version's
// tag appears from some message on.
func TestHotSwapLosesNothing(t *testing.T) {
	dir := t.TempDir()
	v1, version := counterManifests(t, dir)
	h := startHost(t, fmt.Sprintf("data_dir = %q\ncache_dir = %q\n[[components]]\nmanifest = %q\n", filepath.Join(dir, "data"), testwasm.CompileCacheDir(t), v1))
	out := subscribe(t, h, "seq/out")
	ctx := context.Background()

	const n = 3000
	done := make(chan error, 1)
	go func() {
		tick := time.NewTicker(200 * time.Microsecond) // about 5000 messages a second
		defer tick.Stop()
		for i := range n {
			<-tick.C
			if err := h.client.Publish(ctx, "seq/in", []byte(strconv.Itoa(i))); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	out.waitFor(t, "the stream to flow", func(m []string) bool { return len(m) >= n/4 })
	if err := h.d.Apply(ctx, version("2.0.0"), map[string]any{"tag": "v2"}); err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	msgs := out.waitFor(t, "every message", func(m []string) bool { return len(m) >= n })
	swapAt := -1
	for i, m := range msgs {
		var tag string
		var seq, count int
		if _, err := fmt.Sscanf(strings.TrimPrefix(m, "seq/out "), "%s %d %d", &tag, &seq, &count); err != nil {
			t.Fatalf("message %d: %q: %v", i, m, err)
		}
		if seq != i || count != i+1 {
			t.Fatalf("message %d is %q: want seq %d, count %d (lost, duplicated or reordered)", i, m, i, i+1)
		}
		if tag == "v2" && swapAt < 0 {
			swapAt = i
		}
		if (tag == "v1") != (swapAt < 0) {
			t.Fatalf("message %d from %s after the swap at %d", i, tag, swapAt)
		}
	}
	if swapAt <= 0 || len(msgs) != n {
		t.Fatalf("swap at %d, %d messages", swapAt, len(msgs))
	}
	if info := h.d.Component("counter").Info(); info.Version != "2.0.0" || info.State != "RUNNING" || info.Restarts != 0 {
		t.Errorf("after the swap: %+v", info)
	}
	t.Logf("swapped at message %d of %d", swapAt, n)
}

// TestFailedUpgradeRollsBack: a version that fails its start leaves the
// component ERRORED; applying the old version again brings it back with the
// state it had handed over (kept while no version took it), and the message
// queued meanwhile is not lost.
func TestFailedUpgradeRollsBack(t *testing.T) {
	dir := t.TempDir()
	v1, version := counterManifests(t, dir)
	h := startHost(t, fmt.Sprintf("data_dir = %q\ncache_dir = %q\n[[components]]\nmanifest = %q\n", filepath.Join(dir, "data"), testwasm.CompileCacheDir(t), v1))
	out := subscribe(t, h, "seq/out")
	ctx := context.Background()
	h.client.Publish(ctx, "seq/in", []byte("0"))
	out.waitFor(t, "v1", func(m []string) bool { return len(m) == 1 })

	err := h.d.Apply(ctx, version("3.0.0"), map[string]any{"trap_on_start": true})
	if err == nil || !strings.Contains(err.Error(), "did not start") {
		t.Fatalf("broken upgrade: %v", err)
	}
	h.client.Publish(ctx, "seq/in", []byte("1")) // queued while no version runs
	if err := h.d.Apply(ctx, v1, nil); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	got := out.waitFor(t, "the queued message", func(m []string) bool { return len(m) == 2 })
	if got[1] != "seq/out v1 1 2" {
		t.Errorf("after rollback: %q", got)
	}
	if info := h.d.Component("counter").Info(); info.Version != "1.0.0" || info.State != "RUNNING" {
		t.Errorf("after rollback: %+v", info)
	}
}

// BenchmarkHotSwap measures the swap gap (no instance serving) of a Go
// component with a cached module under a steady stream of about 10,000
// messages a second, and counts messages lost or duplicated (both must be
// 0). Each iteration is one upgrade, alternating two versions.
// BenchmarkHotSwap swaps the counter between two versions while a publisher
// streams seq/in at swapRate (paced by a schedule, not a ticker: each wake-up
// publishes every message due, so the achieved rate is the schedule's and is
// reported as msgs/s). The gap of a swap is the whole stall of delivery as
// the counter's output shows it: the longest time between two consecutive
// seq/out messages from just before Apply until 5 ms after it returns, which
// includes the old instance's stop event, the new one's start and the old
// one's close.
func BenchmarkHotSwap(b *testing.B) {
	const swapRate = 10_000 // msg/s
	dir := b.TempDir()
	v1, version := counterManifests(b, dir)
	h := startHost(b, fmt.Sprintf("data_dir = %q\ncache_dir = %q\nlog_level = \"warn\"\n[[components]]\nmanifest = %q\n", filepath.Join(dir, "data"), testwasm.CompileCacheDir(b), v1))
	var got, dup, lost int
	seen := map[int]bool{}
	out := &stampSub{}
	h.d.Bus().Subscribe("seq/out", out, 99)
	ctx := context.Background()
	stop := make(chan struct{})
	type result struct {
		n       int
		elapsed time.Duration
	}
	sent := make(chan result, 1)
	go func() {
		start := time.Now()
		i := 0
		for {
			select {
			case <-stop:
				sent <- result{i, time.Since(start)}
				return
			default:
			}
			due := int(time.Since(start).Seconds() * swapRate)
			for ; i < due; i++ {
				h.d.Bus().Publish(&bus.Message{Topic: "seq/in", Payload: []byte(strconv.Itoa(i))})
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	v2 := version("2.0.0")
	type window struct{ from, to time.Time }
	var windows []window
	b.ResetTimer()
	for i := range b.N {
		m, tag := v2, "v2"
		if i%2 == 1 {
			m, tag = v1, "v1"
		}
		time.Sleep(20 * time.Millisecond) // let traffic flow between swaps: the load is the point
		from := time.Now()
		if err := h.d.Apply(ctx, m, map[string]any{"tag": tag}); err != nil {
			b.Fatal(err)
		}
		windows = append(windows, window{from, time.Now().Add(5 * time.Millisecond)})
	}
	time.Sleep(20 * time.Millisecond) // the last window's traffic
	b.StopTimer()
	close(stop)
	r := <-sent
	n := r.n
	deadline := time.Now().Add(30 * time.Second)
	for out.len() < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	out.mu.Lock()
	for _, m := range out.msgs {
		var tag string
		var seq, count int
		fmt.Sscanf(m, "%s %d %d", &tag, &seq, &count)
		if seen[seq] {
			dup++
		}
		seen[seq] = true
		got++
	}
	var gaps []time.Duration
	for _, w := range windows {
		var gap time.Duration
		var prev time.Time
		for _, at := range out.at {
			if at.After(w.to) {
				break
			}
			if !prev.IsZero() && !at.Before(w.from) {
				gap = max(gap, at.Sub(prev))
			}
			prev = at
		}
		gaps = append(gaps, gap)
	}
	out.mu.Unlock()
	for i := range n {
		if !seen[i] {
			lost++
		}
	}
	slices.Sort(gaps)
	b.ReportMetric(float64(gaps[len(gaps)/2].Microseconds()), "gap-p50-µs")
	b.ReportMetric(float64(gaps[len(gaps)-1].Microseconds()), "gap-max-µs")
	b.ReportMetric(float64(lost), "lost")
	// Lost to a full mailbox (a stall longer than the mailbox holds at
	// this rate), rather than to the swap.
	b.ReportMetric(float64(h.d.Component("counter").Info().Dropped), "mailbox-dropped")
	b.ReportMetric(float64(dup), "duplicated")
	b.ReportMetric(float64(n)/r.elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(n)/float64(max(1, b.N)), "msgs/swap")
}

// stampSub records each message's payload and when it arrived.
type stampSub struct {
	mu   sync.Mutex
	msgs []string
	at   []time.Time
}

func (s *stampSub) Deliver(_ uint32, m *bus.Message) {
	now := time.Now()
	s.mu.Lock()
	s.msgs = append(s.msgs, string(m.Payload))
	s.at = append(s.at, now)
	s.mu.Unlock()
}

func (s *stampSub) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}
