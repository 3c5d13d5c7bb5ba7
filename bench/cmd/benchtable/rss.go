package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moss-edge/moss/host/admin"
)

// settle is how long the harness waits, once every component is RUNNING,
// before it reads the host's RSS.
const settle = time.Second

// procStatus reads VmRSS and VmHWM (bytes) of pid.
func procStatus(pid int) (rss, hwm float64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status %s: %q", pid, k, v)
		}
		if k == "VmRSS" {
			rss = kb * 1024
		} else {
			hwm = kb * 1024
		}
	}
	return rss, hwm, sc.Err()
}

// hostSample is what one `moss run` process gave the RSS and scale figures.
type hostSample struct {
	rss, hwm float64 // VmRSS and VmHWM (bytes), settle after all were RUNNING
	pss      float64 // Pss (bytes, smaps_rollup), read with rss
	// start is the time from just before the harness started the process
	// to the last component turning RUNNING (the latest since of `moss
	// list`'s answer, read from the host's clock, which is this machine's);
	// with no component, to the admin socket's first answer (so to within
	// listPoll).
	start time.Duration
}

// listPoll is how often the harness asks the admin socket whether every
// component is RUNNING. It does not limit the start time's resolution,
// which comes from the components' own since.
const listPoll = 20 * time.Millisecond

// rssOnce runs `moss run` with n idle components (copies of the sink
// manifest), waits until `moss list` shows all of them RUNNING, then reads
// the process's RSS and stops it with SIGTERM.
func rssOnce(mossBin, dir, cacheDir string, sink guest, n int) (hostSample, error) {
	var comps []compRef
	for i := range n {
		p, err := sink.install(filepath.Join(dir, "components"), "idle"+strconv.Itoa(i))
		if err != nil {
			return hostSample{}, err
		}
		comps = append(comps, compRef{manifest: p})
	}
	cfg, err := hostConfig(dir, cacheDir, comps)
	if err != nil {
		return hostSample{}, err
	}
	out := &syncBuffer{}
	cmd := exec.Command(mossBin, "run", "--config", cfg)
	cmd.Stdout, cmd.Stderr = out, out
	// If the harness dies, the host goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return hostSample{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	client := &admin.Client{Path: filepath.Join(dir, "admin.sock")}
	deadline := time.Now().Add(2 * time.Minute)
	var s hostSample
	for {
		select {
		case err := <-exited:
			exited <- err
			return hostSample{}, fmt.Errorf("moss run exited: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			return hostSample{}, fmt.Errorf("components not RUNNING after 2 minutes\n%s", truncate(out.String(), 4000))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		list, err := client.List(ctx)
		answered := time.Now()
		cancel()
		if err == nil && len(list) == n && allRunning(list) {
			last := answered
			if n > 0 {
				last = list[0].Since
				for _, c := range list[1:] {
					if c.Since.After(last) {
						last = c.Since
					}
				}
			}
			s.start = last.Sub(began)
			break
		}
		time.Sleep(listPoll)
	}
	time.Sleep(settle)
	if s.rss, s.hwm, err = procStatus(cmd.Process.Pid); err != nil {
		return s, err
	}
	s.pss, err = procPss(cmd.Process.Pid)
	return s, err
}

func allRunning(list []admin.ComponentInfo) bool {
	for _, c := range list {
		if c.State != "RUNNING" {
			return false
		}
	}
	return true
}

// hostSet is one configuration of the RSS and scale figures: n idle copies
// of a guest's manifest (none for n 0).
type hostSet struct {
	guest string // the guest's name, "" for n 0
	n     int
}

// runRSS measures `moss run` with no component and with each of sets (n
// idle copies of one of guests, which holds every guest the sets name),
// runs times each, after one uncounted run per guest that fills the
// compilation cache. The sets alternate: each run takes one sample of the
// empty host and then of every set, in order. alt, if not nil, is called
// after each run with its number (from 0), so that the baseline's runs
// alternate with these. The samples of the empty host are under hostSet{}.
func runRSS(root, work string, guests []guest, sets []hostSet, runs int, progress func(string), alt func(run int) error) (map[hostSet][]hostSample, error) {
	base := filepath.Join(work, "rss")
	mossBin := filepath.Join(base, "moss")
	if err := buildHost(root, mossBin); err != nil {
		return nil, err
	}
	byName := map[string]guest{}
	cache := filepath.Join(base, "cache")
	for _, g := range guests {
		byName[g.name] = g
		if _, err := rssOnce(mossBin, filepath.Join(base, "fill-"+g.name), cache, g, 1); err != nil {
			return nil, err
		}
	}
	for _, s := range sets {
		if _, ok := byName[s.guest]; !ok {
			return nil, fmt.Errorf("RSS: no guest %q to run %d copies of", s.guest, s.n)
		}
	}
	res := map[hostSet][]hostSample{}
	for run := range runs {
		for _, set := range append([]hostSet{{}}, sets...) {
			dir := filepath.Join(base, fmt.Sprintf("run%d-%s-n%d", run, set.guest, set.n))
			s, err := rssOnce(mossBin, dir, cache, byName[set.guest], set.n)
			if err != nil {
				return nil, err
			}
			// Free the disk space (a copy of the manifest per component) now.
			_ = os.RemoveAll(dir)
			res[set] = append(res[set], s)
			what, ready := "0 components", "admin socket answering"
			if set.n > 0 {
				what, ready = fmt.Sprintf("%d idle %s component%s", set.n, set.guest, plural(set.n, "s")), "all RUNNING"
			}
			progress(fmt.Sprintf("RSS, %s, run %d/%d: %s (peak %s), %s %s after the process started",
				what, run+1, runs, fmtBytes(s.rss), fmtBytes(s.hwm), ready, fmtDur(s.start)))
		}
		if alt != nil {
			if err := alt(run); err != nil {
				return nil, err
			}
		}
	}
	return res, nil
}
