// Package mqtttest runs a real Mosquitto broker for tests, with mutual TLS
// as AWS IoT Core has it, so the cloud link is tested against a broker
// that verifies client certificates, drops connections and restarts, not
// against a fake (STYLE.md: tests start real things).
//
// Start writes a development CA and certificates (certs.Dev) and a
// mosquitto.conf into the test's temp directory and starts Mosquitto on a
// free loopback port; the test's cleanup stops it. Sub and Pub drive the
// broker with mosquitto_sub and mosquitto_pub, which makes them
// independent of the Go MQTT client under test.
//
// The broker logs everything (log_type all) to a file that the test log
// shows when the test fails; it is also how Sub knows its subscription is
// in place, since mosquitto_sub itself announces nothing.
//
// Tests are skipped when Mosquitto is not installed ("make deps" installs
// it). A Broker is meant for the test goroutine: Start, Stop, Restart, Sub
// and Pub may call t.Fatal.
package mqtttest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/moss-edge/moss/host/certs"
	"github.com/moss-edge/moss/internal/poll"
)

// Options configures Start. The zero value is a valid configuration.
type Options struct {
	// ThingName is the device certificate's common name, which the
	// broker takes as the client's user name; default certs.DefaultThingName.
	ThingName string
	// Config holds extra mosquitto.conf lines, e.g. "max_keepalive 10"
	// or "max_packet_size 1024", appended after the listener's.
	Config []string
	// SubscribeAllow, if set, are the only filters the device may
	// subscribe to, as an IoT Core policy's iot:Subscribe: any other
	// filter is refused with SUBACK reason code 0x87 (not authorized).
	// A filter is allowed if it is one of these or, by MQTT matching,
	// narrower ("cmd/+" allows "cmd/a", not "cmd/#"). Mosquitto's
	// acl_file checks read access only when delivering, never refusing
	// a SUBSCRIBE, so this loads its dynamic security plugin; the test
	// is skipped when the plugin is not installed.
	SubscribeAllow []string
}

// Broker is a running (or stopped) Mosquitto.
type Broker struct {
	t     testing.TB
	bin   string // mosquitto
	dir   string
	certs *certs.DevSet
	conf  string // mosquitto.conf
	log   string // the broker's log file, appended to across restarts
	out   string // its stdout and stderr: what it says before opening log
	port  int
	extra []string
	subID atomic.Int64
	pubID atomic.Int64

	mu       sync.Mutex
	proc     *proc // nil while stopped
	logStart int64 // size of the log when the broker last started

	otherOnce sync.Once
	other     *certs.DevSet
}

// proc is one run of mosquitto; done closes once it has exited and err
// is set.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// errAddrInUse is a start that failed because the port was taken.
var errAddrInUse = errors.New("address already in use")

// Start starts a broker for t and stops it when t ends. It skips t if
// Mosquitto is not installed.
func Start(t testing.TB, opts Options) *Broker {
	t.Helper()
	bin := lookMosquitto(t)
	dir := t.TempDir()
	set, err := certs.Dev(filepath.Join(dir, "certs"), certs.DevOptions{ThingName: opts.ThingName})
	if err != nil {
		t.Fatalf("mqtttest: %v", err)
	}
	b := &Broker{
		t:     t,
		bin:   bin,
		dir:   dir,
		certs: set,
		conf:  filepath.Join(dir, "mosquitto.conf"),
		log:   filepath.Join(dir, "mosquitto.log"),
		out:   filepath.Join(dir, "mosquitto.out"),
		extra: opts.Config,
	}
	if opts.SubscribeAllow != nil {
		lines, err := dynsec(t, dir, set.ThingName, opts.SubscribeAllow)
		if err != nil {
			t.Fatalf("mqtttest: %v", err)
		}
		b.extra = append(lines, b.extra...)
	}
	t.Cleanup(func() {
		b.Stop()
		if t.Failed() {
			t.Logf("mqtttest: mosquitto log (%s):\n%s", b.log, tail(b.Log(), 64<<10))
		}
	})
	// A port found free may be taken before mosquitto binds it; a few
	// tries make that race harmless.
	for try := 1; ; try++ {
		b.port = freePort(t)
		if err := b.writeConf(); err != nil {
			t.Fatalf("mqtttest: %v", err)
		}
		err := b.start()
		if err == nil {
			return b
		}
		if !errors.Is(err, errAddrInUse) || try == 5 {
			t.Fatalf("mqtttest: start mosquitto: %v", err)
		}
	}
}

func lookMosquitto(t testing.TB) string {
	t.Helper()
	const hint = "run `make deps`, which installs the Debian packages mosquitto and mosquitto-clients"
	for _, c := range []string{"mosquitto_sub", "mosquitto_pub"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("mqtttest: %s is not installed: %s", c, hint)
		}
	}
	// The broker lives in sbin, which a normal user's PATH may lack.
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skipf("mqtttest: mosquitto is not installed: %s", hint)
	return ""
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mqtttest: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (b *Broker) writeConf() error {
	var c bytes.Buffer
	fmt.Fprintf(&c, `# Written by internal/mqtttest: IoT Core's mutual TLS on loopback.
listener %d 127.0.0.1
cafile %s
certfile %s
keyfile %s
# Every client needs a certificate from the CA; its CN is the user name,
# so no client is anonymous and none needs a password.
require_certificate true
use_identity_as_username true
allow_anonymous false
persistence false
log_dest file %s
log_type all
log_timestamp_format %%Y-%%m-%%dT%%H:%%M:%%S
`, b.port, b.certs.CA, b.certs.ServerCert, b.certs.ServerKey, b.log)
	if os.Geteuid() == 0 {
		// As root, mosquitto switches to the user "mosquitto" before it
		// reads the certificates and opens the log, none of which that
		// user may read in a root-owned temp dir; "root" keeps it as is.
		c.WriteString("user root\n")
	}
	for _, l := range b.extra {
		c.WriteString(l + "\n")
	}
	if err := os.WriteFile(b.conf, c.Bytes(), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", b.conf, err)
	}
	return nil
}

// start runs mosquitto and waits until it accepts TLS connections.
func (b *Broker) start() error {
	from := fileSize(b.log)
	fromOut := fileSize(b.out)
	out, err := os.OpenFile(b.out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(b.bin, "-c", b.conf)
	cmd.Stdout, cmd.Stderr = out, out // files: Wait starts no copying goroutine
	err = cmd.Start()
	out.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", b.bin, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()

	cfg := b.ClientTLS(b.t)
	deadline := time.Now().Add(poll.Deadline)
	for {
		select {
		case <-p.done:
			said := readFrom(b.out, fromOut) + readFrom(b.log, from)
			if strings.Contains(said, "Address already in use") {
				return fmt.Errorf("port %d: %w", b.port, errAddrInUse)
			}
			return fmt.Errorf("mosquitto exited (%v) before accepting connections:\n%s", p.err, said)
		default:
		}
		// Ready means a TLS handshake with the broker's CA succeeds: the
		// listener is bound and has loaded its certificates.
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", b.Addr(), cfg)
		if err == nil {
			conn.Close()
			b.mu.Lock()
			b.proc, b.logStart = p, from
			b.mu.Unlock()
			return nil
		}
		if time.Now().After(deadline) {
			stop(p)
			return fmt.Errorf("mosquitto did not accept TLS connections on %s within %v: %v", b.Addr(), poll.Deadline, err)
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
}

// Stop stops the broker (SIGTERM, then SIGKILL if it has not exited within
// ten seconds) and waits for it to exit; clients see their connections
// drop. Stopping a stopped broker does nothing.
func (b *Broker) Stop() {
	b.mu.Lock()
	p := b.proc
	b.proc = nil
	b.mu.Unlock()
	if p == nil {
		return
	}
	select {
	case <-p.done:
		b.t.Errorf("mqtttest: mosquitto had exited by itself: %v", p.err)
		return
	default:
	}
	stop(p)
}

func stop(p *proc) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// Restart starts the stopped broker again, on the same port with the same
// certificates (stopping it first if it is running), and waits until it
// accepts connections. Nothing survives a restart: persistence is off.
func (b *Broker) Restart() {
	b.t.Helper()
	b.Stop()
	// Mosquitto binds with SO_REUSEADDR, so the old connections' TIME_WAIT
	// does not matter; a refusal means another process took the port
	// while the broker was down, which a short retry may outlast.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := b.start()
		if err == nil {
			return
		}
		if !errors.Is(err, errAddrInUse) || time.Now().After(deadline) {
			b.t.Fatalf("mqtttest: restart mosquitto on %s: %v", b.Addr(), err)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}

// Running reports whether the broker is started (and not yet stopped).
func (b *Broker) Running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.proc != nil
}

// Addr is the broker's address, "127.0.0.1:PORT"; it stays the same
// across Restart.
func (b *Broker) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

// Port is the broker's TCP port.
func (b *Broker) Port() int { return b.port }

// URL is the broker's URL for paho.golang's autopaho, "mqtts://127.0.0.1:PORT"
// (autopaho dials TLS for mqtts, ssl, tls, mqtt+ssl and tcps).
func (b *Broker) URL() string { return "mqtts://" + b.Addr() }

// Certs is the development set the broker uses: CA is its cafile (and what
// a client's root CA must be), Cert and Key a device certificate it
// accepts, ServerCert and ServerKey its own.
func (b *Broker) Certs() *certs.DevSet { return b.certs }

// OtherCA is a second development set from an unrelated CA, made on first
// use: the broker refuses its device certificate, and a client trusting
// only its CA refuses the broker.
func (b *Broker) OtherCA() *certs.DevSet {
	b.otherOnce.Do(func() {
		set, err := certs.Dev(filepath.Join(b.dir, "other-ca"), certs.DevOptions{ThingName: b.certs.ThingName})
		if err != nil {
			b.t.Fatalf("mqtttest: other CA: %v", err)
		}
		b.other = set
	})
	return b.other
}

// ClientTLS returns a client TLS configuration with the device certificate,
// trusting the broker's CA and verifying the broker as 127.0.0.1.
func (b *Broker) ClientTLS(t testing.TB) *tls.Config {
	t.Helper()
	cfg, err := certs.TLSConfig(b.certs.Cert, b.certs.Key, b.certs.CA, "127.0.0.1", nil)
	if err != nil {
		t.Fatalf("mqtttest: %v", err)
	}
	return cfg
}

// Log returns the broker's log so far, across restarts.
func (b *Broker) Log() string {
	data, _ := os.ReadFile(b.log)
	return string(data)
}

// WaitLog waits until what the broker has logged since it last started
// contains s, failing t after poll.Deadline. Only the latest run counts,
// so after a Restart it does not find what the previous run logged.
func (b *Broker) WaitLog(t testing.TB, s string) {
	t.Helper()
	b.mu.Lock()
	from := b.logStart
	b.mu.Unlock()
	if err := b.waitLog(from, s, nil); err != nil {
		t.Fatalf("mqtttest: %v", err)
	}
}

// waitLog polls the log, from byte offset from on, for s; it gives up
// early when abort closes.
func (b *Broker) waitLog(from int64, s string, abort <-chan struct{}) error {
	deadline := time.Now().Add(poll.Deadline)
	for !strings.Contains(readFrom(b.log, from), s) {
		select {
		case <-abort:
			return fmt.Errorf("gave up waiting for %q in the broker log", s)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %q in the broker log %s", poll.Deadline, s, b.log)
		}
		time.Sleep(2 * time.Millisecond) // polling interval
	}
	return nil
}

// clientArgs are the connection arguments of mosquitto_sub and
// mosquitto_pub: this broker, its CA, the device certificate, MQTT 5.
func (b *Broker) clientArgs(id string) []string {
	return []string{
		"-h", "127.0.0.1", "-p", strconv.Itoa(b.port),
		"--cafile", b.certs.CA, "--cert", b.certs.Cert, "--key", b.certs.Key,
		"-V", "mqttv5", "-i", id,
	}
}

func fileSize(name string) int64 {
	fi, err := os.Stat(name)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readFrom returns file's content from byte offset on ("" if unreadable).
func readFrom(file string, offset int64) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	data, _ := io.ReadAll(f)
	return string(data)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "...\n" + s
}

// CloudConfig is a host configuration's [cloud] section for a link to b as
// its device: the broker's address, the device certificate and CA, quick
// reconnects and no publish cap. Keys of the section may follow it.
func (b *Broker) CloudConfig() string {
	return fmt.Sprintf(`[cloud]
endpoint = "127.0.0.1"
port = %d
thing_name = %q
cert = %q
key = %q
root_ca = %q
reconnect_min = "100ms"
reconnect_max = "1s"
max_publish_rate = 0
`, b.port, b.certs.ThingName, b.certs.Cert, b.certs.Key, b.certs.CA)
}
