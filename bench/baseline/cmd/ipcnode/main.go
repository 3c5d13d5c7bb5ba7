// Command ipcnode is one process of the process-per-component baseline
// (bench/baseline): the broker, a publishing component or a subscribing
// component, chosen by -role. The harness in bench/baseline builds it once
// and starts one broker and one process per component; they talk over the
// broker's Unix socket (package bench/baseline/ipc), and with the harness
// over stdin and stdout:
//
//	broker: prints "ready" once it listens.
//	sub:    prints "ready <subscription id>" once subscribed, then for each
//	        run "done <run> <count> <first ns> <last ns> <p50 ns> <p99 ns>"
//	        when it has every message of the run, in order (times are Unix
//	        nanoseconds; p50 and p99 are the latencies of stamped messages,
//	        0 if none were stamped). A message out of order ends it with an
//	        error on stderr.
//	pub:    prints "ready", then for each line "run <run> <count> <rate>" on
//	        stdin publishes count messages (rate per second, 0 for as fast as
//	        it can; a paced run stamps each message with its send time) and
//	        prints "sent <run> <start ns> <end ns>".
//
// Every role exits when its stdin ends, so no process outlives the harness.
//
// A message's payload is -size bytes: the run number, the message's
// sequence number and the run's message count (uint32 each, little
// endian), the send time (Unix nanoseconds, int64, 0 when not stamped),
// then zeros.
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"time"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/bench/baseline/ipc"
)

// header is the part of a payload the roles read: run, seq, count, sent.
const header = 20

func main() {
	role := flag.String("role", "", "broker, pub or sub")
	socket := flag.String("socket", "", "the broker's Unix socket")
	topic := flag.String("topic", "bench/data", "pub: topic to publish on")
	filter := flag.String("filter", "bench/data", "sub: topic filter to subscribe to")
	pipelined := flag.Bool("pipelined", false, "pub: publish without waiting for the broker's replies")
	size := flag.Int("size", 256, "pub: payload size in bytes (at least 20)")
	flag.Parse()
	if *socket == "" {
		fail(fmt.Errorf("-socket is required"))
	}
	var err error
	switch *role {
	case "broker":
		err = broker(*socket)
	case "pub":
		if *size < header {
			fail(fmt.Errorf("-size %d: want at least %d", *size, header))
		}
		err = pub(*socket, *topic, *pipelined, *size)
	case "sub":
		err = sub(*socket, *filter)
	default:
		err = fmt.Errorf("-role %q: want broker, pub or sub", *role)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ipcnode:", err)
	os.Exit(1)
}

// exitOnStdinEOF ends the process when the harness closes stdin or dies.
func exitOnStdinEOF() {
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
}

func broker(path string) error {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	b := ipc.NewBroker(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		b.Close()
	}()
	fmt.Println("ready")
	return b.Serve(ln)
}

func sub(path, filter string) error {
	c, err := ipc.Dial(path)
	if err != nil {
		return err
	}
	id, err := c.Subscribe(filter)
	if err != nil {
		return err
	}
	exitOnStdinEOF()
	fmt.Println("ready", id)
	var (
		ev       abi.Event
		inRun    bool
		run      uint32
		next     uint32 // sequence number expected next
		first    time.Time
		lat      []time.Duration
		received uint64
	)
	for {
		if err := c.Next(&ev); err != nil {
			if err == io.EOF {
				return nil // the broker closed
			}
			return err
		}
		received++
		p := ev.Payload
		if ev.ID != id || len(p) < header {
			return fmt.Errorf("message %d: subscription %d, %d-byte payload; want subscription %d and at least %d bytes", received, ev.ID, len(p), id, header)
		}
		r := binary.LittleEndian.Uint32(p)
		seq := binary.LittleEndian.Uint32(p[4:])
		count := binary.LittleEndian.Uint32(p[8:])
		sent := int64(binary.LittleEndian.Uint64(p[12:]))
		if !inRun || r != run {
			if inRun && next != 0 {
				return fmt.Errorf("run %d began after %d of run %d's messages", r, next, run)
			}
			inRun, run, next = true, r, 0
		}
		if seq != next {
			return fmt.Errorf("run %d: message %d arrived when %d was due", run, seq, next)
		}
		next++
		var now time.Time
		if seq == 0 || sent != 0 || next == count {
			now = time.Now()
		}
		if seq == 0 {
			first = now
		}
		if sent != 0 {
			lat = append(lat, time.Duration(now.UnixNano()-sent))
		}
		if next == count {
			p50, p99 := percentile(lat, 0.50), percentile(lat, 0.99)
			fmt.Printf("done %d %d %d %d %d %d\n", run, count, first.UnixNano(), now.UnixNano(), p50, p99)
			next, lat = 0, lat[:0]
		}
	}
}

// percentile is the nearest-rank q-quantile of xs (which it sorts), 0 if
// xs is empty.
func percentile(xs []time.Duration, q float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	i := int(q*float64(len(xs))+0.999999) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

func pub(path, topic string, pipelined bool, size int) error {
	c, err := ipc.Dial(path)
	if err != nil {
		return err
	}
	fmt.Println("ready")
	payload := make([]byte, size)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var run, count uint32
		var rate float64
		if _, err := fmt.Sscanf(in.Text(), "run %d %d %g", &run, &count, &rate); err != nil {
			return fmt.Errorf("command %q: %v", in.Text(), err)
		}
		binary.LittleEndian.PutUint32(payload, run)
		binary.LittleEndian.PutUint32(payload[8:], count)
		binary.LittleEndian.PutUint64(payload[12:], 0)
		var interval time.Duration
		if rate > 0 {
			interval = time.Duration(float64(time.Second) / rate)
		}
		start := time.Now()
		for i := range count {
			binary.LittleEndian.PutUint32(payload[4:], i)
			if interval > 0 {
				if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
					time.Sleep(d)
				}
				binary.LittleEndian.PutUint64(payload[12:], uint64(time.Now().UnixNano()))
			}
			if pipelined {
				err = c.PublishAsync(topic, payload)
			} else {
				err = c.Publish(topic, payload)
			}
			if err != nil {
				return fmt.Errorf("run %d, message %d: %w", run, i, err)
			}
		}
		if err := c.Flush(); err != nil {
			return err
		}
		fmt.Printf("sent %d %d %d\n", run, start.UnixNano(), time.Now().UnixNano())
	}
	return in.Err()
}
