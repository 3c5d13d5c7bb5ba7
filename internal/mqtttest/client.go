package mqtttest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moss-edge/moss/internal/poll"
)

// Message is one message a Subscriber received.
type Message struct {
	Topic   string
	Payload []byte
	QoS     int // the QoS it was delivered with
	Retain  bool
}

// String is the message as mosquitto_sub -v prints it: "topic payload".
func (m Message) String() string { return m.Topic + " " + string(m.Payload) }

// subFormat is mosquitto_sub's output format: QoS, retain flag, payload in
// hex (so any bytes, newlines included, survive), then the topic, last
// because it may contain spaces.
const subFormat = "%q %r %x %t"

// Subscriber is a mosquitto_sub connected with the device certificate and
// subscribed at QoS 1. It queues what it receives, without bound, until
// Next takes it. Its methods are for the test goroutine.
type Subscriber struct {
	t       testing.TB
	id      string
	topic   string
	cmd     *exec.Cmd
	errFile string // its stderr

	mu     sync.Mutex
	queue  []Message
	notify chan struct{} // cap 1: something was queued

	exited    chan struct{} // closed when the process is gone and waited for
	closeOnce sync.Once
}

// Sub subscribes to topic (a filter; wildcards allowed) with a new
// mosquitto_sub, and returns once the broker has acknowledged the
// subscription, so a message published afterwards is delivered. The
// subscriber stops when t ends, or on Close. mosquitto_sub reconnects and
// resubscribes by itself when the broker restarts; messages published
// while it is disconnected are lost (its session is clean).
func (b *Broker) Sub(t testing.TB, topic string) *Subscriber {
	t.Helper()
	id := fmt.Sprintf("mqtttest-sub-%d", b.subID.Add(1))
	s := &Subscriber{
		t:       t,
		id:      id,
		topic:   topic,
		errFile: filepath.Join(b.dir, id+".stderr"),
		notify:  make(chan struct{}, 1),
		exited:  make(chan struct{}),
	}
	stderr, err := os.Create(s.errFile)
	if err != nil {
		t.Fatalf("mqtttest: %v", err)
	}
	defer stderr.Close()
	args := append(b.clientArgs(id), "-t", topic, "-q", "1", "-F", subFormat)
	s.cmd = exec.Command("mosquitto_sub", args...)
	s.cmd.Stderr = stderr
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("mqtttest: %v", err)
	}
	from := fileSize(b.log)
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("mqtttest: mosquitto_sub: %v", err)
	}
	go s.read(stdout)
	t.Cleanup(s.Close)

	// mosquitto_sub prints nothing once subscribed, but the broker logs
	// the SUBACK it sends to this client id (unique per broker).
	if err := b.waitLog(from, "Sending SUBACK to "+id+"\n", s.exited); err != nil {
		t.Fatalf("mqtttest: mosquitto_sub -t %q: %v%s", topic, err, s.said())
	}
	return s
}

// read queues what mosquitto_sub prints until it exits, then waits for it.
func (s *Subscriber) read(stdout io.Reader) {
	defer close(s.exited)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 64<<20) // a hex payload is twice the message
	for sc.Scan() {
		m, err := parseLine(sc.Text())
		if err != nil {
			s.t.Errorf("mqtttest: subscriber %s: %v", s.id, err)
			continue
		}
		s.mu.Lock()
		s.queue = append(s.queue, m)
		s.mu.Unlock()
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
	// Drain whatever is left so the process never blocks on a full pipe,
	// then reap it (Wait closes the pipe, so it comes after the reads).
	io.Copy(io.Discard, stdout)
	s.cmd.Wait()
}

func parseLine(line string) (Message, error) {
	f := strings.SplitN(line, " ", 4)
	if len(f) != 4 {
		return Message{}, fmt.Errorf("unexpected mosquitto_sub output %q", line)
	}
	qos, err1 := strconv.Atoi(f[0])
	payload, err2 := hex.DecodeString(f[2])
	if err1 != nil || err2 != nil || (f[1] != "0" && f[1] != "1") {
		return Message{}, fmt.Errorf("unexpected mosquitto_sub output %q", line)
	}
	return Message{Topic: f[3], Payload: payload, QoS: qos, Retain: f[1] == "1"}, nil
}

// Next returns the next message, waiting up to timeout for one; false if
// none came (or mosquitto_sub has exited and nothing is left).
func (s *Subscriber) Next(timeout time.Duration) (Message, bool) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	exited := false
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			m := s.queue[0]
			s.queue = s.queue[1:]
			s.mu.Unlock()
			return m, true
		}
		s.mu.Unlock()
		if exited {
			return Message{}, false
		}
		select {
		case <-s.notify:
		case <-s.exited:
			exited = true // one more look at the queue
		case <-timer.C:
			return Message{}, false
		}
	}
}

// Wait returns the next n messages, failing the test if they do not all
// arrive within timeout.
func (s *Subscriber) Wait(n int, timeout time.Duration) []Message {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	got := make([]Message, 0, n)
	for len(got) < n {
		m, ok := s.Next(time.Until(deadline))
		if !ok {
			s.t.Fatalf("mqtttest: subscriber to %q got %d of %d messages within %v: %q%s", s.topic, len(got), n, timeout, got, s.said())
		}
		got = append(got, m)
	}
	return got
}

// Close stops mosquitto_sub and waits for it; messages still queued stay
// readable with Next. Closing twice is harmless.
func (s *Subscriber) Close() {
	s.closeOnce.Do(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
	})
}

// said is mosquitto_sub's stderr if it has exited, for failure messages.
func (s *Subscriber) said() string {
	select {
	case <-s.exited:
		data, _ := os.ReadFile(s.errFile)
		return fmt.Sprintf("; mosquitto_sub exited (%v): %s", s.cmd.ProcessState, bytes.TrimSpace(data))
	default:
		return ""
	}
}

// Pub publishes payload to topic at qos (0, 1 or 2) with mosquitto_pub,
// connected with the device certificate, and returns once it is done: for
// QoS 1 and 2, once the broker has acknowledged the message.
func (b *Broker) Pub(t testing.TB, topic string, payload []byte, qos int) {
	t.Helper()
	id := fmt.Sprintf("mqtttest-pub-%d", b.pubID.Add(1))
	args := append(b.clientArgs(id), "-t", topic, "-q", strconv.Itoa(qos))
	if len(payload) == 0 {
		args = append(args, "-n") // -s would need something on stdin
	} else {
		args = append(args, "-s") // stdin: binary-safe, unlike -m
	}
	ctx, cancel := context.WithTimeout(context.Background(), poll.Deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, "mosquitto_pub", args...)
	cmd.Stdin = bytes.NewReader(payload)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mqtttest: mosquitto_pub -t %q: %v: %s", topic, err, bytes.TrimSpace(out))
	}
}
