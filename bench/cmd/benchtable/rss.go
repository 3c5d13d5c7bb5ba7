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

// rssOnce runs `moss run` with n idle components (copies of the sink
// manifest), waits until `moss list` shows all of them RUNNING, then reads
// the process's RSS and stops it with SIGTERM.
func rssOnce(mossBin, dir, cacheDir string, sink guest, n int) (rss, hwm float64, err error) {
	var comps []compRef
	for i := range n {
		p, err := sink.install(filepath.Join(dir, "components"), "idle"+strconv.Itoa(i))
		if err != nil {
			return 0, 0, err
		}
		comps = append(comps, compRef{manifest: p})
	}
	cfg, err := hostConfig(dir, cacheDir, comps)
	if err != nil {
		return 0, 0, err
	}
	out := &syncBuffer{}
	cmd := exec.Command(mossBin, "run", "--config", cfg)
	cmd.Stdout, cmd.Stderr = out, out
	// If the harness dies, the host goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return 0, 0, err
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
	for {
		select {
		case err := <-exited:
			exited <- err
			return 0, 0, fmt.Errorf("moss run exited: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("components not RUNNING after 2 minutes\n%s", out.String())
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		list, err := client.List(ctx)
		cancel()
		if err == nil && len(list) == n && allRunning(list) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(settle)
	return procStatus(cmd.Process.Pid)
}

func allRunning(list []admin.ComponentInfo) bool {
	for _, c := range list {
		if c.State != "RUNNING" {
			return false
		}
	}
	return true
}

// runRSS measures the host with 0 idle components and with 10 idle copies
// of each of sinks (the Go sink, the C sink), alternating, runs times each,
// after one uncounted run per guest that fills the compilation cache.
// rss10 and hwm10 have one slice per guest in sinks. alt, if not nil, is
// called after each run with its number (from 0), so that the baseline's
// runs alternate with these.
func runRSS(root, work string, sinks []guest, runs int, progress func(string), alt func(run int) error) (rss0 []float64, rss10, hwm10 [][]float64, err error) {
	base := filepath.Join(work, "rss")
	mossBin := filepath.Join(base, "moss")
	if err := buildHost(root, mossBin); err != nil {
		return nil, nil, nil, err
	}
	cache := filepath.Join(base, "cache")
	for i, sink := range sinks {
		if _, _, err := rssOnce(mossBin, filepath.Join(base, fmt.Sprintf("fill%d", i)), cache, sink, 1); err != nil {
			return nil, nil, nil, err
		}
	}
	rss10 = make([][]float64, len(sinks))
	hwm10 = make([][]float64, len(sinks))
	for run := range runs {
		rss, hwm, err := rssOnce(mossBin, filepath.Join(base, fmt.Sprintf("run%d-n0", run)), cache, guest{}, 0)
		if err != nil {
			return nil, nil, nil, err
		}
		rss0 = append(rss0, rss)
		progress(fmt.Sprintf("RSS, 0 idle components, run %d/%d: %s (peak %s)", run+1, runs, fmtBytes(rss), fmtBytes(hwm)))
		for i, sink := range sinks {
			rss, hwm, err := rssOnce(mossBin, filepath.Join(base, fmt.Sprintf("run%d-n10-%d", run, i)), cache, sink, 10)
			if err != nil {
				return nil, nil, nil, err
			}
			rss10[i] = append(rss10[i], rss)
			hwm10[i] = append(hwm10[i], hwm)
			progress(fmt.Sprintf("RSS, 10 idle %s components, run %d/%d: %s (peak %s)", filepath.Base(sink.wasm), run+1, runs, fmtBytes(rss), fmtBytes(hwm)))
		}
		if alt != nil {
			if err := alt(run); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	return rss0, rss10, hwm10, nil
}
