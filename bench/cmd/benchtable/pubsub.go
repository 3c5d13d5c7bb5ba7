package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moss-edge/moss/host/component"
)

// pubsubResult is one scenario of figure 1: rates per run.
type pubsubResult struct {
	sinks      int
	count      int       // messages published per run
	rates      []float64 // deliveries per second, one per measured run
	nsPer      []float64 // ns per delivery
	cpu        []float64 // host process CPU time / wall time, per run
	machineCPU []float64 // CPU time of every process on the machine / wall time
	dropped    uint64    // over all measured runs and sinks
	incomplete int       // runs in which some sink lost messages
	mailbox    int       // the sinks' mailbox capacity
}

type stamp struct {
	run uint32
	at  time.Time
}

// pubsubHost is a host running one scenario of figure 1 (a publisher and
// nsinks sinks) and the runs measured on it so far. Several can be up at
// once, so that the runs of the scenarios compared alternate.
type pubsubHost struct {
	name   string // for the progress lines: "1->1 Go guests"
	h      *inProcessHost
	pub    *guest
	sinks  []*component.Component
	doneCh chan stamp
	sentCh chan stamp
	unsub  []func()
	res    *pubsubResult
}

// startPubSub starts a host with the pub guest and nsinks sink guests (one
// component each, the same wasm) for runs of count messages: the harness
// publishes bench/go, pub publishes count messages on bench/data, and each
// sink publishes bench/done when it has all of them. A run lasts from the
// publish of bench/go to the last bench/done.
//
// With nsinks 0 nobody subscribes to bench/data and a run ends at pub's
// bench/sent: that is the publishing side alone. With a nil pub the harness
// publishes the messages itself, from Go, through the daemon's bus: that is
// the receiving side alone.
func startPubSub(work, cacheDir, name string, pub *guest, sink guest, nsinks, count int) (_ *pubsubHost, err error) {
	pubName := "harness"
	if pub != nil {
		pubName = pub.name
	}
	dir := filepath.Join(work, fmt.Sprintf("pubsub-%s-%s-%d", pubName, sink.name, nsinks))
	var comps []compRef
	var names []string
	for i := range nsinks {
		name := "sink" + strconv.Itoa(i)
		p, err := sink.install(filepath.Join(dir, "components"), name)
		if err != nil {
			return nil, err
		}
		comps = append(comps, compRef{manifest: p, config: map[string]string{"count": strconv.Itoa(count)}})
		names = append(names, name)
	}
	if pub != nil {
		p, err := pub.install(filepath.Join(dir, "components"), "pub")
		if err != nil {
			return nil, err
		}
		comps = append(comps, compRef{manifest: p, config: map[string]string{"count": strconv.Itoa(count), "burst": "1000"}})
	}
	cfg, err := hostConfig(dir, cacheDir, comps)
	if err != nil {
		return nil, err
	}
	h, err := newHost(cfg)
	if err != nil {
		return nil, err
	}
	p := &pubsubHost{
		name: name, h: h, pub: pub,
		doneCh: make(chan stamp, 4*nsinks), sentCh: make(chan stamp, 4),
		res: &pubsubResult{sinks: nsinks, count: count, mailbox: sink.mailbox},
	}
	defer func() {
		if err != nil {
			p.close(nil)
		}
	}()
	record := func(ch chan stamp) func(string, []byte) {
		return func(_ string, b []byte) {
			at := time.Now()
			if len(b) >= 4 {
				ch <- stamp{binary.LittleEndian.Uint32(b), at}
			}
		}
	}
	for topic, ch := range map[string]chan stamp{"bench/done": p.doneCh, "bench/sent": p.sentCh} {
		unsub, err := h.d.Subscribe(topic, record(ch))
		if err != nil {
			return nil, err
		}
		p.unsub = append(p.unsub, unsub)
	}
	h.run()
	if err := h.waitReady(2 * time.Minute); err != nil {
		return nil, err
	}
	for _, c := range h.d.Components() {
		if c.State != string(component.StateRunning) {
			return nil, fmt.Errorf("component %s is %s, not RUNNING: %s\n%s", c.Name, c.State, c.LastError, h.log.String())
		}
	}
	p.sinks = make([]*component.Component, nsinks)
	for i, n := range names {
		p.sinks[i] = h.d.Component(n)
	}
	return p, nil
}

// run makes one run; run 0 is a warm-up and is not counted.
func (p *pubsubHost) run(run, runs int, progress func(string)) error {
	h, res, nsinks, count := p.h, p.res, p.res.sinks, p.res.count
	var dropBefore uint64
	for _, s := range p.sinks {
		dropBefore += s.Info().Dropped
	}
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	sys0 := machineBusy()
	var runBuf [4]byte
	binary.LittleEndian.PutUint32(runBuf[:], uint32(run))
	start := time.Now()
	if p.pub != nil {
		if err := h.d.Publish("bench/go", runBuf[:]); err != nil {
			return err
		}
	} else {
		// What pub does, from Go: a fresh 256-byte payload per
		// message, as the host's publish function copies it out
		// of guest memory.
		for i := range count {
			b := make([]byte, 256)
			copy(b, runBuf[:])
			binary.LittleEndian.PutUint32(b[4:], uint32(i))
			if err := h.d.Publish("bench/data", b); err != nil {
				return err
			}
		}
		p.sentCh <- stamp{uint32(run), time.Now()}
	}
	end, lost, err := waitRun(uint32(run), nsinks, p.doneCh, p.sentCh, p.sinks, dropBefore, h.failed)
	if err != nil {
		return fmt.Errorf("pub/sub %s, run %d: %w\n%s", p.name, run, err, h.log.String())
	}
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	sys1 := machineBusy()
	elapsed := end.Sub(start)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	deliveries := float64(count*max(nsinks, 1)) - float64(lost)
	rate := deliveries / elapsed.Seconds()
	label := "warm-up"
	if run > 0 {
		label = fmt.Sprintf("run %d/%d", run, runs)
		res.rates = append(res.rates, rate)
		res.nsPer = append(res.nsPer, float64(elapsed.Nanoseconds())/deliveries)
		res.cpu = append(res.cpu, cpu.Seconds()/elapsed.Seconds())
		res.machineCPU = append(res.machineCPU, (sys1-sys0).Seconds()/elapsed.Seconds())
		res.dropped += lost
		if lost > 0 {
			res.incomplete++
		}
	}
	progress(fmt.Sprintf("pub/sub %s %s: %d msgs in %v, %s deliveries/s, dropped %d, CPU %.2f cores (machine %.2f)",
		p.name, label, count, elapsed.Round(time.Millisecond), fmtRate(rate), lost,
		cpu.Seconds()/elapsed.Seconds(), (sys1-sys0).Seconds()/elapsed.Seconds()))
	return nil
}

// close stops the host and shows what it logged, if anything.
func (p *pubsubHost) close(progress func(string)) {
	for _, u := range p.unsub {
		u()
	}
	p.unsub = nil
	_ = p.h.stop()
	if l := p.h.log.String(); l != "" && progress != nil {
		progress(fmt.Sprintf("host warnings during pub/sub %s:\n%s", p.name, truncate(l, 4000)))
	}
}

// alternate makes runs+1 runs (the first a warm-up) of every host in turn,
// calling alt, if not nil, after each round with its number: the
// baseline's runs, so that all of them alternate.
func alternate(hosts []*pubsubHost, runs int, progress func(string), alt func(run int) error) error {
	for run := range runs + 1 {
		for _, p := range hosts {
			if err := p.run(run, runs, progress); err != nil {
				return err
			}
		}
		if alt != nil {
			if err := alt(run); err != nil {
				return err
			}
		}
	}
	return nil
}

// runPubSub measures one scenario on its own (see startPubSub): a warm-up
// and runs measured runs.
func runPubSub(work, cacheDir, name string, pub *guest, sink guest, nsinks, count, runs int, progress func(string)) (*pubsubResult, error) {
	p, err := startPubSub(work, cacheDir, name, pub, sink, nsinks, count)
	if err != nil {
		return nil, err
	}
	defer p.close(progress)
	if err := alternate([]*pubsubHost{p}, runs, progress, nil); err != nil {
		return nil, err
	}
	return p.res, nil
}

// machineBusy is the CPU time all processes on the machine have used since
// boot (/proc/stat: everything but idle and iowait), so a run can tell its
// own CPU use from other work on a shared machine. 0 if unreadable.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest and guest_nice are already in user and nice
			break
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * time.Second / 100 // USER_HZ
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("... (%d more bytes)", len(s)-n)
}

// waitRun waits for every sink's bench/done of run and for pub's bench/sent,
// and returns when the last sink finished. A sink that lost messages never
// sends bench/done: once pub has sent everything and every mailbox is empty,
// the run ends there, with the number lost.
func waitRun(run uint32, nsinks int, doneCh, sentCh <-chan stamp, sinks []*component.Component, dropBefore uint64, failed func() bool) (end time.Time, lost uint64, err error) {
	timeout := time.After(time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	done, sent := 0, false
	for done < nsinks || !sent {
		select {
		case s := <-doneCh:
			if s.run == run {
				done++
				if s.at.After(end) {
					end = s.at
				}
			}
		case s := <-sentCh:
			if s.run == run {
				sent = true
				if nsinks == 0 {
					end = s.at
				}
			}
		case <-tick.C:
			if failed() {
				return end, 0, fmt.Errorf("the host logged an error: %d of %d sinks done, sent=%v", done, nsinks, sent)
			}
			if !sent || done == nsinks {
				continue
			}
			var dropped uint64
			queued := 0
			for _, s := range sinks {
				i := s.Info()
				dropped += i.Dropped
				queued += i.Queued
			}
			if queued == 0 && dropped > dropBefore {
				// Every sink has handled what it was given; the
				// ones that lost messages will not report done.
				return time.Now(), dropped - dropBefore, nil
			}
		case <-timeout:
			return end, 0, fmt.Errorf("timed out: %d of %d sinks done, sent=%v", done, nsinks, sent)
		}
	}
	var dropped uint64
	for _, s := range sinks {
		dropped += s.Info().Dropped
	}
	return end, dropped - dropBefore, nil
}
