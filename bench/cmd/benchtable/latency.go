package main

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/moss-edge/moss/host/bus"
)

// latencySink records, for each echoed message, the time since the send
// time stamped in its first 8 bytes.
type latencySink struct {
	mu   sync.Mutex
	lats []time.Duration
	on   bool
}

func (s *latencySink) Deliver(_ uint32, m *bus.Message) {
	if len(m.Payload) < 8 {
		return
	}
	d := time.Since(time.Unix(0, int64(binary.LittleEndian.Uint64(m.Payload))))
	s.mu.Lock()
	if s.on {
		s.lats = append(s.lats, d)
	}
	s.mu.Unlock()
}

// runMossLatency measures, at rate messages a second, the time from a
// publish on the host's bus to the echo guest's republished copy arriving
// back: p50 and p99 per run, each over latencyRun after a warm-up.
func runMossLatency(work, cacheDir string, echo guest, rate float64, runs int, progress func(string)) (p50s, p99s []float64, err error) {
	dir := filepath.Join(work, "latency")
	m, err := echo.install(dir, "echo")
	if err != nil {
		return nil, nil, err
	}
	cfg, err := hostConfig(dir, cacheDir, []compRef{{manifest: m}})
	if err != nil {
		return nil, nil, err
	}
	h, err := newHost(cfg)
	if err != nil {
		return nil, nil, err
	}
	h.run()
	defer h.stop()
	if err := h.waitReady(time.Minute); err != nil {
		return nil, nil, err
	}
	sink := &latencySink{}
	if err := h.d.Bus().Subscribe("bench/lat/out", sink, 1); err != nil {
		return nil, nil, err
	}
	payload := make([]byte, 256)
	interval := time.Duration(float64(time.Second) / rate)
	send := func(d time.Duration) int {
		return paced(interval, d, func() {
			// A fresh payload each time: the bus hands the slice on.
			p := append([]byte(nil), payload...)
			binary.LittleEndian.PutUint64(p, uint64(time.Now().UnixNano()))
			h.d.Bus().Publish(&bus.Message{Topic: "bench/lat/in", Payload: p})
		})
	}
	for run := range runs {
		send(300 * time.Millisecond) // warm-up
		sink.mu.Lock()
		sink.lats, sink.on = sink.lats[:0], true
		sink.mu.Unlock()
		n := send(latencyRun)
		// Wait for the last echoes (the guest keeps up at this rate, so
		// they are microseconds away), at most a second.
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			sink.mu.Lock()
			got := len(sink.lats)
			sink.mu.Unlock()
			if got >= n {
				break
			}
		}
		sink.mu.Lock()
		sink.on = false
		lats := slices.Clone(sink.lats)
		sink.mu.Unlock()
		if len(lats) == 0 {
			return nil, nil, fmt.Errorf("latency run %d: no echo arrived", run+1)
		}
		p50, p99 := percentiles(lats)
		p50s, p99s = append(p50s, float64(p50.Nanoseconds())), append(p99s, float64(p99.Nanoseconds()))
		progress(fmt.Sprintf("Moss latency at %s msg/s, run %d/%d: p50 %s, p99 %s (%d echoes)", fmtRate(rate), run+1, runs, fmtDur(p50), fmtDur(p99), len(lats)))
	}
	return p50s, p99s, nil
}

// paced calls send at start + n × interval for d and returns how many times
// it did. A ticker does not tick faster than about once a millisecond here,
// so it sleeps most of each wait and spins the last 50 µs; spinning all of
// it takes a core from the receiver and makes the p99 ten times worse on 2
// cores.
func paced(interval, d time.Duration, send func()) (n int) {
	start := time.Now()
	for ; ; n++ {
		at := start.Add(time.Duration(n) * interval)
		if at.Sub(start) >= d {
			return n
		}
		if w := time.Until(at); w > 100*time.Microsecond {
			time.Sleep(w - 50*time.Microsecond)
		}
		for time.Now().Before(at) {
		}
		send()
	}
}

// runHandoffFloor measures the least any design that hands a message to a
// parked goroutine pays on this machine: a send time, paced as in
// runMossLatency, passed over a Go channel to a goroutine that waits on it.
// The Moss figure makes one such handoff (bus publish -> the component's
// goroutine) and then runs the guest.
func runHandoffFloor(rate float64, runs int, progress func(string)) (p50s, p99s []float64) {
	interval := time.Duration(float64(time.Second) / rate)
	for run := range runs {
		ch := make(chan time.Time, 1024)
		done := make(chan []time.Duration)
		go func() {
			var lats []time.Duration
			for t := range ch {
				if !t.IsZero() { // the warm-up's
					lats = append(lats, time.Since(t))
				}
			}
			done <- lats
		}()
		paced(interval, 300*time.Millisecond, func() { ch <- time.Time{} }) // warm-up, not counted
		paced(interval, latencyRun, func() { ch <- time.Now() })
		close(ch)
		lats := <-done
		p50, p99 := percentiles(lats)
		p50s, p99s = append(p50s, float64(p50.Nanoseconds())), append(p99s, float64(p99.Nanoseconds()))
		progress(fmt.Sprintf("goroutine handoff at %s msg/s, run %d/%d: p50 %s, p99 %s", fmtRate(rate), run+1, runs, fmtDur(p50), fmtDur(p99)))
	}
	return p50s, p99s
}

// percentiles sorts lats and returns its p50 and p99.
func percentiles(lats []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(lats)
	return lats[len(lats)/2], lats[len(lats)*99/100]
}
