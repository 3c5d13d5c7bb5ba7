package ipc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"github.com/moss-edge/moss/abi"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startBroker serves a broker on a socket in a temporary directory until
// the test ends.
func startBroker(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "broker.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	b := NewBroker(slog.New(slog.DiscardHandler))
	served := make(chan error, 1)
	go func() { served <- b.Serve(ln) }()
	t.Cleanup(func() {
		b.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return path
}

func dial(t *testing.T, path string) *Client {
	t.Helper()
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestOrder publishes n messages from one client to several subscribers,
// acknowledged and pipelined, and checks that each subscriber receives all
// of them, in order, with its subscription id.
func TestOrder(t *testing.T) {
	const n = 5000
	for _, pipelined := range []bool{false, true} {
		t.Run(fmt.Sprint("pipelined=", pipelined), func(t *testing.T) {
			path := startBroker(t)
			subs := make([]*Client, 3)
			ids := make([]uint32, len(subs))
			for i := range subs {
				subs[i] = dial(t, path)
				var err error
				if ids[i], err = subs[i].Subscribe("bench/+"); err != nil {
					t.Fatal(err)
				}
			}
			errs := make(chan error, len(subs))
			var wg sync.WaitGroup
			for i, s := range subs {
				wg.Go(func() {
					var ev abi.Event
					for seq := range uint32(n) {
						if err := s.Next(&ev); err != nil {
							errs <- fmt.Errorf("sub %d, message %d: %w", i, seq, err)
							return
						}
						if got := binary.LittleEndian.Uint32(ev.Payload); got != seq || ev.ID != ids[i] || ev.Topic != "bench/data" || len(ev.Payload) != 256 {
							errs <- fmt.Errorf("sub %d: message %d: got seq %d id %d topic %q, %d bytes", i, seq, got, ev.ID, ev.Topic, len(ev.Payload))
							return
						}
					}
				})
			}
			pub := dial(t, path)
			payload := make([]byte, 256)
			for seq := range uint32(n) {
				binary.LittleEndian.PutUint32(payload, seq)
				var err error
				if pipelined {
					err = pub.PublishAsync("bench/data", payload)
				} else {
					err = pub.Publish("bench/data", payload)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := pub.Flush(); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// TestMatching checks that the broker matches with host/bus's MQTT rules.
func TestMatching(t *testing.T) {
	path := startBroker(t)
	sub := dial(t, path)
	for _, f := range []string{"a/+/c", "a/#", "#"} {
		if _, err := sub.Subscribe(f); err != nil {
			t.Fatal(err)
		}
	}
	pub := dial(t, path)
	for _, topic := range []string{"x/y", "a/b/c", "$sys/x", "end"} {
		if err := pub.Publish(topic, []byte(topic)); err != nil {
			t.Fatal(err)
		}
	}
	// Events as "<subscription id> <topic>": the ids are 1 for a/+/c, 2
	// for a/# and 3 for #. a/b/c matches all three; $sys/x none, since a
	// filter starting with a wildcard does not see '$' topics.
	want := []string{"3 x/y", "1 a/b/c", "2 a/b/c", "3 a/b/c", "3 end"}
	got := map[string]int{}
	var ev abi.Event
	for range want {
		if err := sub.Next(&ev); err != nil {
			t.Fatal(err)
		}
		got[fmt.Sprint(ev.ID, " ", ev.Topic)]++
	}
	for _, w := range want {
		if got[w] != 1 {
			t.Errorf("event %q received %d times; got %v", w, got[w], got)
		}
	}
}

func TestErrors(t *testing.T) {
	path := startBroker(t)
	c := dial(t, path)
	var e *abi.Error
	if err := c.Publish("a/+", nil); !errors.As(err, &e) || e.Code != abi.ErrInvalid {
		t.Errorf("publish on a wildcard topic: %v, want an ErrInvalid reply", err)
	}
	if _, err := c.Subscribe("a/#/b"); !errors.As(err, &e) || e.Code != abi.ErrInvalid {
		t.Errorf("subscribe to a bad filter: %v, want an ErrInvalid reply", err)
	}
	if err := c.Publish("a", make([]byte, MaxPayload+1)); !errors.As(err, &e) || e.Code != abi.ErrTooLarge {
		t.Errorf("publish over MaxPayload: %v, want an ErrTooLarge reply", err)
	}
	// The connection still works after failed requests.
	if err := c.Publish("a", nil); err != nil {
		t.Errorf("publish after errors: %v", err)
	}
	// A frame that is no request ends the connection.
	if _, err := c.w.Write(AppendReply(nil, 0)); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish("a", nil); err == nil {
		t.Error("publish after a reply frame from the component: no error, want the connection closed")
	}
}
