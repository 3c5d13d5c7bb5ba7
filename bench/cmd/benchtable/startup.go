package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// startOnce runs a host whose one component is pub with autostart, and
// returns the time from daemon.Run being called to the first message pub
// publishes arriving on the bus. cacheDir is the compilation cache: empty
// for a cold start, filled by an earlier run for a warm one.
func startOnce(dir, cacheDir string, pub guest) (time.Duration, error) {
	p, err := pub.install(filepath.Join(dir, "components"), "pub")
	if err != nil {
		return 0, err
	}
	cfg, err := hostConfig(dir, cacheDir, []compRef{{
		manifest: p,
		config:   map[string]string{"count": "1", "burst": "1", "autostart": "true"},
	}})
	if err != nil {
		return 0, err
	}
	h, err := newHost(cfg)
	if err != nil {
		return 0, err
	}
	first := make(chan time.Time, 1)
	unsub, err := h.d.Subscribe("bench/data", func(string, []byte) {
		select {
		case first <- time.Now():
		default:
		}
	})
	if err != nil {
		return 0, err
	}
	defer unsub()
	start := time.Now()
	h.run()
	defer h.stop()
	select {
	case at := <-first:
		return at.Sub(start), nil
	case err := <-h.done:
		h.done <- err
		return 0, fmt.Errorf("host stopped before the first message: %v\n%s", err, h.log.String())
	case <-time.After(time.Minute):
		return 0, fmt.Errorf("no message within a minute\n%s", h.log.String())
	}
}

// runStartup measures cold and warm starts, alternating, runs times each.
// Each run has its own data directory; cold runs get an empty compilation
// cache, warm runs share one that a first, uncounted run filled.
func runStartup(work string, pub guest, runs int, progress func(string)) (cold, warm []float64, err error) {
	base := filepath.Join(work, "startup-"+pub.name)
	warmCache := filepath.Join(base, "warm-cache")
	if _, err := startOnce(filepath.Join(base, "fill"), warmCache, pub); err != nil {
		return nil, nil, err
	}
	for run := range runs {
		for _, isCold := range []bool{true, false} {
			dir := filepath.Join(base, fmt.Sprintf("run%d-cold%v", run, isCold))
			cache := warmCache
			if isCold {
				cache = filepath.Join(dir, "cache")
			}
			d, err := startOnce(dir, cache, pub)
			if err != nil {
				return nil, nil, err
			}
			name := "warm"
			if isCold {
				cold = append(cold, float64(d.Nanoseconds()))
				name = "cold"
				// Free the disk space of this run's compiled code now.
				_ = os.RemoveAll(cache)
			} else {
				warm = append(warm, float64(d.Nanoseconds()))
			}
			progress(fmt.Sprintf("start to first message, %s, %s, run %d/%d: %v", pub.name, name, run+1, runs, d.Round(time.Microsecond)))
		}
	}
	return cold, warm, nil
}
