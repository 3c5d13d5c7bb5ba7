package baseline

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moss-edge/moss/bench/baseline/ipc"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	binDir    string
)

// ipcnode builds the ipcnode command once for all tests.
func ipcnode(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binPath = filepath.Join(binDir, "ipcnode")
		buildErr = Build(context.Background(), binPath)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ipcnode-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestRun runs 1 -> 1 with 1000 messages in both modes, twice each. A
// subscriber reports a run only once it has received every message of it
// in order (it exits with an error at the first message out of order), so
// a completed run is the check.
func TestRun(t *testing.T) {
	bin := ipcnode(t)
	for _, pipelined := range []bool{false, true} {
		t.Run(fmt.Sprint("pipelined=", pipelined), func(t *testing.T) {
			ctx := testContext(t)
			c, err := Start(ctx, bin, 1, pipelined)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for range 2 {
				r, err := c.Run(ctx, 1000)
				if err != nil {
					t.Fatal(err)
				}
				if r.Messages != 1000 || r.Deliveries != 1000 || r.Elapsed <= 0 {
					t.Errorf("result %+v, want 1000 messages delivered once each", r)
				}
			}
		})
	}
}

// TestOutOfOrder publishes run 1's messages 0 and 2 straight to the
// broker: the subscriber process must fail rather than count them.
func TestOutOfOrder(t *testing.T) {
	ctx := testContext(t)
	c, err := start(ctx, ipcnode(t), 1, false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pub, err := ipc.Dial(filepath.Join(c.dir, "broker.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	payload := make([]byte, PayloadSize)
	binary.LittleEndian.PutUint32(payload, 1)     // run
	binary.LittleEndian.PutUint32(payload[8:], 3) // count
	for _, seq := range []uint32{0, 2} {
		binary.LittleEndian.PutUint32(payload[4:], seq)
		if err := pub.Publish(Topic, payload); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.subs[0].line(ctx)
	if err == nil || !strings.Contains(err.Error(), "run 1: message 2 arrived when 1 was due") {
		t.Errorf("subscriber: %v, want it to exit on message 2", err)
	}
}

// TestCancel checks that cancelling the context stops every process.
func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(testContext(t))
	c, err := Start(ctx, ipcnode(t), 2, true)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	for _, p := range append([]*proc{c.broker, c.pub}, c.subs...) {
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			t.Errorf("%s still running 10s after the context was cancelled", p.name)
		}
	}
	if _, err := c.Run(context.Background(), 10); err == nil {
		t.Error("Run after cancel: no error")
	}
}

func TestIdleRSS(t *testing.T) {
	m, err := IdleRSS(testContext(t), ipcnode(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	if m.BrokerRSS <= 0 || m.RSS <= m.BrokerRSS || m.PSS <= 0 || m.PSS > m.RSS {
		t.Errorf("implausible memory %+v", m)
	}
}

func TestLatency(t *testing.T) {
	p50, p99, err := Latency(testContext(t), ipcnode(t), 2000, 500)
	if err != nil {
		t.Fatal(err)
	}
	if p50 <= 0 || p99 < p50 {
		t.Errorf("p50 %v, p99 %v", p50, p99)
	}
}

// TestThroughput runs the one-call form, 1 -> 2 pipelined.
func TestThroughput(t *testing.T) {
	rate, err := Throughput(testContext(t), ipcnode(t), 2, true, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if rate <= 0 {
		t.Errorf("rate %v", rate)
	}
}
