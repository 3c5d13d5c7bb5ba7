package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/moss-edge/moss/host/admin"
	"github.com/moss-edge/moss/host/config"
	"github.com/moss-edge/moss/internal/mqtttest"
	"github.com/moss-edge/moss/internal/poll"
)

// linkCutter is a loopback TCP relay between the host and the broker that
// the test can cut and mend, so the host goes offline while the broker,
// and the mosquitto_sub on it, stay up.
type linkCutter struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
	wg    sync.WaitGroup
}

func newLinkCutter(t *testing.T, target string) *linkCutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &linkCutter{t: t, target: target, addr: ln.Addr().String()}
	c.serve(ln)
	t.Cleanup(func() { c.cut(); c.wg.Wait() })
	return c
}

func (c *linkCutter) port() string { _, p, _ := net.SplitHostPort(c.addr); return p }

func (c *linkCutter) serve(ln net.Listener) {
	c.mu.Lock()
	c.ln = ln
	c.mu.Unlock()
	c.wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", c.target)
			if err != nil {
				in.Close()
				continue
			}
			c.mu.Lock()
			c.conns = append(c.conns, in, out)
			c.mu.Unlock()
			c.wg.Go(func() { io.Copy(out, in); out.Close(); in.Close() })
			c.wg.Go(func() { io.Copy(in, out); out.Close(); in.Close() })
		}
	})
}

// cut closes the listener and every relayed connection.
func (c *linkCutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ln != nil {
		c.ln.Close()
		c.ln = nil
	}
	for _, x := range c.conns {
		x.Close()
	}
	c.conns = nil
}

// mend listens again on the same port.
func (c *linkCutter) mend() {
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		c.t.Fatalf("relisten on %s: %v", c.addr, err)
	}
	c.serve(ln)
}

func nextHealth(t *testing.T, s *mqtttest.Subscriber) HealthDocument {
	t.Helper()
	m, ok := s.Next(poll.Deadline)
	if !ok {
		t.Fatal("no health document within the deadline")
	}
	var doc HealthDocument
	if err := json.Unmarshal(m.Payload, &doc); err != nil {
		t.Fatalf("health document on %s: %v\n%s", m.Topic, err, m.Payload)
	}
	t.Logf("%s %s", m.Topic, m.Payload)
	return doc
}

func stateIn(doc HealthDocument, name string) string {
	for _, c := range doc.Components {
		if c.Name == name {
			return c.State
		}
	}
	return ""
}

// TestHealthToCloud: the host reports its status on moss/THING/health at
// start and after each change, through a real Mosquitto to a real
// mosquitto_sub; a change while the link is cut is spooled and arrives
// once it is back.
func TestHealthToCloud(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	thing := b.Certs().ThingName
	topic := "moss/" + thing + "/health"
	sub := b.Sub(t, "moss/+/health")
	relay := newLinkCutter(t, b.Addr())
	cfg := cloudConfig(t, b, "")
	cfg = strings.Replace(cfg, fmt.Sprintf("port = %d", b.Port()), "port = "+relay.port(), 1)
	cfg = strings.Replace(cfg, "enabled = false", "enabled = true\ndebounce = \"50ms\"", 1)
	h := startHost(t, cfg)
	ctx := context.Background()

	doc := nextHealth(t, sub)
	if doc.Trigger != "start" || doc.Health != Healthy || doc.Thing != thing || doc.HostVersion != Version ||
		!strings.HasPrefix(doc.Platform, "linux/") || stateIn(doc, "cloudprobe") != "RUNNING" || doc.Seq != 1 {
		t.Fatalf("start document: %+v", doc)
	}

	// A stop is a change; FINISHED is healthy.
	if _, err := h.client.ControlComponent(ctx, admin.ActionStop, "cloudprobe"); err != nil {
		t.Fatal(err)
	}
	doc = nextHealth(t, sub)
	if doc.Trigger != "change" || doc.Health != Healthy || stateIn(doc, "cloudprobe") != "FINISHED" {
		t.Fatalf("after a stop: %+v", doc)
	}

	// Offline: the next change waits in the spool.
	relay.cut()
	poll.Until(t, "the link to drop", func() bool { return h.d.Status().Cloud.State != "CONNECTED" })
	if _, err := h.client.ControlComponent(ctx, admin.ActionStart, "cloudprobe"); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the document to be spooled", func() bool { return h.d.Status().Cloud.Spooled > 0 })
	relay.mend()
	// QoS 1 is at least once: a document whose PUBACK the cut lost comes
	// again, and seq tells it apart.
	// A start slower than the debounce is reported STARTING first.
	for last := doc.Seq; ; {
		if doc = nextHealth(t, sub); doc.Seq > last && stateIn(doc, "cloudprobe") != "STARTING" {
			break
		}
	}
	if doc.Trigger != "change" || stateIn(doc, "cloudprobe") != "RUNNING" || doc.Seq < 3 {
		t.Fatalf("after the outage: %+v", doc)
	}

	// A deployment's end is reported with its id and status.
	in := h.d.Installed()["cloudprobe"]
	file := filepath.Join(t.TempDir(), "d1.toml")
	os.WriteFile(file, []byte(fmt.Sprintf("id = \"health-d1\"\n[timeouts]\nprobation = \"100ms\"\n[[components]]\nname = \"cloudprobe\"\nversion = %q\nmanifest = %q\n", in.Version, in.Manifest)), 0o644)
	if rec := submit(t, h, file); rec.Status != "SUCCEEDED" {
		t.Fatalf("deployment: %+v", rec)
	}
	for last := doc.Seq; ; {
		if doc = nextHealth(t, sub); doc.Seq > last && doc.Deployment != nil {
			break
		}
	}
	if doc.Deployment.ID != "health-d1" || doc.Deployment.Status != "SUCCEEDED" || doc.Health != Healthy {
		t.Fatalf("after the deployment: %+v %+v", doc, doc.Deployment)
	}
	_ = topic
}

// TestHealthUnhealthy: a component that traps until BROKEN makes the host
// UNHEALTHY, with its last error in the document sent to the broker.
func TestHealthUnhealthy(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	sub := b.Sub(t, "moss/+/health")
	dir := t.TempDir()
	w := writeWasm(t, dir, "unreachable", hostileWAT(t, "unreachable"))
	m := install(t, dir, "unreachable", w, hostileLimits+grant("pubsub.subscribe", "hostile/in"))
	cfg := hostileConfig(t, dir, m) + b.CloudConfig() + "[health]\ndebounce = \"50ms\"\n"
	h := startHost(t, cfg)
	if doc := nextHealth(t, sub); doc.Health != Healthy {
		t.Fatalf("start: %+v", doc)
	}
	c := h.d.Component("unreachable")
	for c.State() != "BROKEN" {
		poke(t, h)
		if _, err := c.WaitState(context.Background(), "ERRORED", "BROKEN"); err != nil {
			t.Fatal(err)
		}
		if c.State() == "ERRORED" {
			if _, err := c.WaitState(context.Background(), "RUNNING", "BROKEN"); err != nil {
				t.Fatal(err)
			}
		}
	}
	for {
		doc := nextHealth(t, sub)
		if doc.Health == Unhealthy && stateIn(doc, "unreachable") == "BROKEN" {
			if !strings.Contains(doc.Components[0].LastError, "unreachable") {
				t.Fatalf("no last error: %+v", doc)
			}
			return
		}
		if doc.Health == Healthy && stateIn(doc, "unreachable") == "BROKEN" {
			t.Fatalf("BROKEN reported HEALTHY: %+v", doc)
		}
	}
}

// TestHealthInterval: with nothing changing, the document still goes out
// every status_interval.
func TestHealthInterval(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	sub := b.Sub(t, "moss/+/health")
	startHost(t, strings.Replace(cloudConfig(t, b, ""), "enabled = false", "enabled = true\nstatus_interval = \"1s\"", 1))
	if doc := nextHealth(t, sub); doc.Trigger != "start" {
		t.Fatalf("first: %+v", doc)
	}
	if doc := nextHealth(t, sub); doc.Trigger != "interval" || doc.Seq != 2 || doc.Health != Healthy {
		t.Fatalf("second: %+v", doc)
	}
}

// TestHealthTopicChecked: wildcards and $ topics are refused at load.
func TestHealthTopicChecked(t *testing.T) {
	for _, topic := range []string{"$aws/things/x/health", "moss/+/health", ""} {
		file := filepath.Join(t.TempDir(), "moss.toml")
		os.WriteFile(file, []byte(fmt.Sprintf("[health]\ntopic = %q\n", topic)), 0o644)
		if _, err := config.Load(file); err == nil || !strings.Contains(err.Error(), "health.topic") {
			t.Errorf("topic %q: %v", topic, err)
		}
	}
}
