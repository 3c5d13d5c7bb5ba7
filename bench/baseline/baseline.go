// Package baseline measures the process-per-component design Moss replaces,
// AWS IoT Greengrass V2's: a broker process (Greengrass's nucleus) and one
// OS process per component, exchanging the same CBOR messages as Moss's ABI
// over a Unix domain socket, in length-prefixed frames (package ipc; the
// processes are cmd/ipcnode). bench/cmd/benchtable runs it beside Moss's
// own figures, and bench/README.md says how the two compare and why the
// comparison is fair.
//
// Two publishing modes are measured. Acknowledged: each publish waits for
// the broker's reply, as Greengrass's IPC PublishToTopic and Moss's publish
// host function do. Pipelined: publishes stream without replies, the most a
// process-per-component design can do with one connection.
//
// Every function here starts real processes and stops them before it
// returns, also on failure and when its context is cancelled; a process
// also exits when the harness dies (its stdin ends, and Pdeathsig kills
// it).
package baseline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Package is the import path of the ipcnode command, which Build builds.
const Package = "github.com/moss-edge/moss/bench/baseline/cmd/ipcnode"

// Topic is the topic the benchmark publishes on and subscribes to.
const Topic = "bench/data"

// PayloadSize is the size of every message's payload.
const PayloadSize = 256

// Settle is how long IdleRSS waits, once every component has subscribed,
// before it reads memory: the same as for Moss's RSS figure.
const Settle = time.Second

// Build builds the ipcnode command into out. It runs the go command in the
// working directory, which must be inside this module. The binary is
// static (CGO_ENABLED=0), as a native component built for a small device
// would be, and needs no C library at run time.
func Build(ctx context.Context, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, Package)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", Package, err, b)
	}
	return nil
}

// Cluster is a running broker with one publishing component process and
// some subscribing ones. It is not safe for concurrent use, except Close,
// which may be called at any time (it is also called when the context
// given to Start is done).
type Cluster struct {
	dir       string
	pipelined bool
	broker    *proc
	pub       *proc
	subs      []*proc
	run       int
	stopWatch func() bool

	closeOnce sync.Once
}

// Start starts a broker, subs subscriber processes (each subscribed to
// Topic) and a publisher process (pipelined or acknowledged), and returns
// once all are connected and subscribed.
func Start(ctx context.Context, bin string, subs int, pipelined bool) (*Cluster, error) {
	return start(ctx, bin, subs, true, pipelined)
}

// start is Start, with a publisher only if withPub.
func start(ctx context.Context, bin string, subs int, withPub, pipelined bool) (c *Cluster, err error) {
	dir, err := os.MkdirTemp("", "moss-baseline-")
	if err != nil {
		return nil, err
	}
	c = &Cluster{dir: dir, pipelined: pipelined}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	c.stopWatch = context.AfterFunc(ctx, func() { c.Close() })
	sock := filepath.Join(dir, "broker.sock")
	if c.broker, err = startProc("broker", bin, "-role", "broker", "-socket", sock); err != nil {
		return nil, err
	}
	if _, err := c.broker.expect(ctx, "ready", 0); err != nil {
		return nil, err
	}
	for i := range subs {
		p, err := startProc("sub"+strconv.Itoa(i), bin, "-role", "sub", "-socket", sock, "-filter", Topic)
		if err != nil {
			return nil, err
		}
		c.subs = append(c.subs, p)
	}
	for _, p := range c.subs {
		if _, err := p.expect(ctx, "ready", 1); err != nil {
			return nil, err
		}
	}
	if !withPub {
		return c, nil
	}
	args := []string{"-role", "pub", "-socket", sock, "-topic", Topic, "-size", strconv.Itoa(PayloadSize)}
	if pipelined {
		args = append(args, "-pipelined")
	}
	if c.pub, err = startProc("pub", bin, args...); err != nil {
		return nil, err
	}
	if _, err := c.pub.expect(ctx, "ready", 0); err != nil {
		return nil, err
	}
	return c, nil
}

// Close stops every process and removes the socket's directory. It waits
// for the processes to exit (killing any that has not within a second).
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		if c.stopWatch != nil {
			c.stopWatch()
		}
		var wg sync.WaitGroup
		for _, p := range append([]*proc{c.pub, c.broker}, c.subs...) {
			if p != nil {
				wg.Go(func() { p.stop(time.Second) })
			}
		}
		wg.Wait()
		os.RemoveAll(c.dir)
	})
	return nil
}

// Result is one run.
type Result struct {
	Messages   int           // messages published
	Deliveries int           // messages delivered: Messages times the subscribers
	Elapsed    time.Duration // from the first publish to the last delivery
	CPU        time.Duration // CPU time of the broker and every component during the run
	// P50 and P99 are the latencies from publish to delivery of a paced
	// run (RunPaced), the highest over the subscribers; 0 otherwise.
	P50, P99 time.Duration
}

// Rate is deliveries per second.
func (r Result) Rate() float64 { return float64(r.Deliveries) / r.Elapsed.Seconds() }

// Run publishes count messages as fast as the mode allows and returns when
// every subscriber has all of them; each subscriber checks that they came
// in order, none missing. Elapsed runs from the publisher's first publish
// to the last subscriber's last message, both read from the clock by the
// processes themselves.
func (c *Cluster) Run(ctx context.Context, count int) (Result, error) {
	return c.RunPaced(ctx, count, 0)
}

// RunPaced is Run with the publisher pacing itself to rate messages a
// second (0: as fast as it can). A paced run stamps each message with its
// send time, and each subscriber reports the median and 99th percentile of
// its latencies.
func (c *Cluster) RunPaced(ctx context.Context, count int, rate float64) (Result, error) {
	if count < 1 {
		return Result{}, fmt.Errorf("baseline: run of %d messages", count)
	}
	if c.pub == nil {
		return Result{}, errors.New("baseline: cluster without a publisher")
	}
	procs := append([]*proc{c.broker, c.pub}, c.subs...)
	cpu0, err := cpuOf(procs)
	if err != nil {
		return Result{}, err
	}
	c.run++
	if err := c.pub.send(fmt.Sprintf("run %d %d %g", c.run, count, rate)); err != nil {
		return Result{}, err
	}
	sent, err := c.pub.expect(ctx, "sent", 3)
	if err != nil {
		return Result{}, err
	}
	start := sent[1]
	var last int64
	var p50, p99 time.Duration
	for _, s := range c.subs {
		done, err := s.expect(ctx, "done", 6)
		if err != nil {
			return Result{}, err
		}
		if done[0] != int64(c.run) || done[1] != int64(count) {
			return Result{}, fmt.Errorf("%s: done with run %d, %d messages; want run %d, %d", s.name, done[0], done[1], c.run, count)
		}
		last = max(last, done[3])
		p50, p99 = max(p50, time.Duration(done[4])), max(p99, time.Duration(done[5]))
	}
	cpu1, err := cpuOf(procs)
	if err != nil {
		return Result{}, err
	}
	if len(c.subs) == 0 {
		last = sent[2]
	}
	return Result{
		Messages:   count,
		Deliveries: count * max(len(c.subs), 1),
		Elapsed:    time.Duration(last - start),
		CPU:        cpu1 - cpu0,
		P50:        p50,
		P99:        p99,
	}, nil
}

func cpuOf(procs []*proc) (time.Duration, error) {
	var sum time.Duration
	for _, p := range procs {
		t, err := p.cpu()
		if err != nil {
			return 0, p.failure("CPU time: " + err.Error())
		}
		sum += t
	}
	return sum, nil
}

// Throughput starts a cluster of one publisher and subs subscribers, makes
// one uncounted warm-up run and one measured run of count messages, stops
// the cluster and returns deliveries per second.
func Throughput(ctx context.Context, bin string, subs int, pipelined bool, count int) (float64, error) {
	c, err := Start(ctx, bin, subs, pipelined)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if _, err := c.Run(ctx, min(count, 10000)); err != nil {
		return 0, err
	}
	r, err := c.Run(ctx, count)
	if err != nil {
		return 0, err
	}
	return r.Rate(), nil
}

// Latency starts a cluster of one publisher and one subscriber in the
// acknowledged mode, makes an uncounted warm-up run, then publishes count
// messages paced to rate a second, and returns the median and 99th
// percentile of the time from publish to delivery.
func Latency(ctx context.Context, bin string, rate float64, count int) (p50, p99 time.Duration, err error) {
	c, err := Start(ctx, bin, 1, false)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	if _, err := c.RunPaced(ctx, min(count, 1000), rate); err != nil {
		return 0, 0, err
	}
	r, err := c.RunPaced(ctx, count, rate)
	if err != nil {
		return 0, 0, err
	}
	return r.P50, r.P99, nil
}

// Memory is what IdleRSS measures, in bytes.
type Memory struct {
	RSS       int64 // sum of VmRSS over the broker and the components
	PSS       int64 // sum of Pss: shared pages (the binary's code) split between the processes
	BrokerRSS int64 // the broker's VmRSS alone
}

// IdleRSS starts a broker and n component processes, each subscribed to
// Topic, waits Settle once all are subscribed, and reads their memory.
func IdleRSS(ctx context.Context, bin string, n int) (Memory, error) {
	c, err := start(ctx, bin, n, false, false)
	if err != nil {
		return Memory{}, err
	}
	defer c.Close()
	select {
	case <-time.After(Settle):
	case <-ctx.Done():
		return Memory{}, ctx.Err()
	}
	var m Memory
	for i, p := range append([]*proc{c.broker}, c.subs...) {
		rss, pss, err := p.memory()
		if err != nil {
			return Memory{}, p.failure("memory: " + err.Error())
		}
		m.RSS += rss
		m.PSS += pss
		if i == 0 {
			m.BrokerRSS = rss
		}
	}
	return m, nil
}
