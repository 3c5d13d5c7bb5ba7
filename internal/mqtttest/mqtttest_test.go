package mqtttest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/moss-edge/moss/host/certs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPubSubRoundTrip(t *testing.T) {
	b := Start(t, Options{ThingName: "thing-1"})
	if !strings.HasPrefix(b.Addr(), "127.0.0.1:") || b.URL() != "mqtts://"+b.Addr() {
		t.Fatalf("Addr %q, URL %q", b.Addr(), b.URL())
	}
	s := b.Sub(t, "sensors/#")
	other := b.Sub(t, "other/topic")

	binary := []byte{0, 1, '\n', 0xff, ' ', '\r'}
	b.Pub(t, "sensors/temp", []byte("21.5"), 1)
	b.Pub(t, "sensors/with space/raw", binary, 0)
	b.Pub(t, "sensors/empty", nil, 1)
	got := s.Wait(3, 10*time.Second)
	want := []Message{
		{Topic: "sensors/temp", Payload: []byte("21.5"), QoS: 1},
		{Topic: "sensors/with space/raw", Payload: binary, QoS: 0},
		{Topic: "sensors/empty", Payload: []byte{}, QoS: 1},
	}
	for i := range want {
		if got[i].Topic != want[i].Topic || !bytes.Equal(got[i].Payload, want[i].Payload) || got[i].QoS != want[i].QoS || got[i].Retain {
			t.Errorf("message %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if got[0].String() != "sensors/temp 21.5" {
		t.Errorf("String() = %q", got[0].String())
	}
	if m, ok := other.Next(0); ok {
		t.Errorf("other/topic got %v", m)
	}
	// The CN is the user name: no client is anonymous.
	if log := b.Log(); !strings.Contains(log, "u'thing-1'") {
		t.Errorf("no client with user name thing-1 in the log:\n%s", log)
	}
}

func TestStopRestartKeepsPort(t *testing.T) {
	b := Start(t, Options{})
	addr := b.Addr()
	b.Stop()
	if b.Running() {
		t.Fatal("Running after Stop")
	}
	_, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, b.ClientTLS(t))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial a stopped broker: %v", err)
	}
	b.Stop() // a no-op

	b.Restart()
	if b.Addr() != addr || !b.Running() {
		t.Fatalf("after Restart: Addr %s (was %s), Running %v", b.Addr(), addr, b.Running())
	}
	s := b.Sub(t, "after/restart")
	b.Pub(t, "after/restart", []byte("hello again"), 1)
	if m := s.Wait(1, 10*time.Second)[0]; string(m.Payload) != "hello again" {
		t.Fatalf("got %v", m)
	}

	// Restart of a running broker stops it first; the subscriber's
	// connection drops, and it reconnects and resubscribes by itself.
	b.Restart()
	b.WaitLog(t, "Sending SUBACK to "+s.id+"\n")
	b.Pub(t, "after/restart", []byte("and again"), 1)
	if m := s.Wait(1, 10*time.Second)[0]; string(m.Payload) != "and again" {
		t.Fatalf("got %v", m)
	}
}

// The broker takes only certificates from its own CA, as IoT Core takes
// only those registered with the account.
func TestOtherCARefused(t *testing.T) {
	b := Start(t, Options{})
	other := b.OtherCA()
	if other != b.OtherCA() || other.CA == b.Certs().CA {
		t.Fatal("OtherCA is not one set apart from Certs")
	}

	// The right certificate: a bare MQTT 5 CONNECT without user name is
	// accepted (use_identity_as_username).
	if code, err := connect(b, b.Certs()); err != nil || code != 0 {
		t.Fatalf("CONNECT with the broker's CA: reason %#x, %v", code, err)
	}

	// The other CA's device certificate: the broker drops the connection
	// (Mosquitto 2.0 closes it without a TLS alert, so the client sees a
	// reset or EOF rather than "bad certificate").
	if code, err := connect(b, other); err == nil {
		t.Fatalf("CONNECT with another CA's certificate: accepted, reason %#x", code)
	}
	b.WaitLog(t, "certificate verify failed")

	// And a client that trusts only the other CA refuses the broker.
	cfg, err := certs.TLSConfig(other.Cert, other.Key, other.CA, "127.0.0.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", b.Addr(), cfg)
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("trusting the other CA: %v", err)
	}
}

// connect sends an MQTT 5 CONNECT with set's device certificate (trusting
// the broker's CA) and returns the CONNACK reason code.
func connect(b *Broker, set *certs.DevSet) (byte, error) {
	cfg, err := certs.TLSConfig(set.Cert, set.Key, b.Certs().CA, "127.0.0.1", nil)
	if err != nil {
		return 0, err
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", b.Addr(), cfg)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	id := "mqtttest-connect"
	varHeader := []byte{0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 60, 0} // clean start, keep-alive 60, no properties
	body := append(varHeader, 0, byte(len(id)))
	body = append(body, id...)
	if _, err := conn.Write(append([]byte{0x10, byte(len(body))}, body...)); err != nil {
		return 0, err
	}
	// With TLS 1.3 the client's handshake is over before the broker has
	// checked the client's certificate: a refusal shows up here.
	ack := make([]byte, 4) // type, length, flags, reason code
	if _, err := io.ReadFull(conn, ack); err != nil {
		return 0, err
	}
	if ack[0] != 0x20 {
		return 0, errors.New("no CONNACK")
	}
	return ack[3], nil
}

// A port taken between finding it free and mosquitto binding it is
// recognised, which is what makes Start retry with another.
func TestPortTakenIsRecognised(t *testing.T) {
	b := Start(t, Options{})
	b.Stop()
	l, err := net.Listen("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := b.start(); !errors.Is(err, errAddrInUse) {
		t.Fatalf("start on a taken port: %v", err)
	}
	if b.Running() {
		t.Fatal("Running after a failed start")
	}
}
