package cloud

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/session/state"

	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/store"
)

// Options configure a Link. Zero durations take the defaults below.
type Options struct {
	// Endpoint is the broker's host name; empty means offline: messages
	// are spooled and nothing is dialled.
	Endpoint string
	Port     int // default 8883; 443 uses ALPN "x-amzn-mqtt-ca"
	// ThingName is the client id.
	ThingName string
	// TLS holds the device certificate and the root CAs; ServerName is set
	// to Endpoint when empty. The server's certificate is always verified.
	TLS *tls.Config

	KeepAlive      time.Duration // default 60s
	ConnectTimeout time.Duration // default 10s
	ReconnectMin   time.Duration // default 1s
	ReconnectMax   time.Duration // default 2m
	// PublishRate caps publishes per second on the connection (IoT Core
	// allows 100); 0 means no cap. Messages over the rate are spooled and
	// sent as the rate allows.
	PublishRate int
	// AckWait is how long Publish waits for the broker's PUBACK before it
	// spools the message instead; it must stay well below a component's
	// call deadline. Default 250ms.
	AckWait time.Duration

	// Store holds the spool; nil keeps it in memory.
	Store         *store.Store
	SpoolMaxBytes int64 // default 2.5 MiB
	// KeepQoS0WhenOffline spools QoS 0 messages while disconnected instead
	// of refusing them with ErrOffline.
	KeepQoS0WhenOffline bool

	Logger *slog.Logger
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.KeepAlive, 60*time.Second)
	def(&o.ConnectTimeout, 10*time.Second)
	def(&o.ReconnectMin, time.Second)
	def(&o.ReconnectMax, 2*time.Minute)
	def(&o.AckWait, 250*time.Millisecond)
	if o.Port == 0 {
		o.Port = 8883
	}
	if o.SpoolMaxBytes <= 0 {
		o.SpoolMaxBytes = 2621440
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Link states.
const (
	StateOffline      = "OFFLINE"      // no endpoint configured
	StateConnecting   = "CONNECTING"   // first attempt under way
	StateConnected    = "CONNECTED"    // up
	StateDisconnected = "DISCONNECTED" // lost or refused; retrying with backoff
)

// Status is a snapshot of the link for `moss status` and `moss list`.
type Status struct {
	State      string
	Endpoint   string // host:port, empty offline
	Since      time.Time
	LastError  string // why the last attempt failed or the connection dropped
	Reconnects int    // connections made after the first

	Spooled      int    // messages waiting
	SpooledBytes int64  // their size, against SpoolMaxBytes
	SpoolMax     int64  //
	Evicted      uint64 // QoS 0 messages evicted to make room for QoS 1

	Subscriptions int    // distinct filters on the broker's side
	Sent          uint64 // messages the broker took
	Received      uint64 // messages from the broker
	Rejected      uint64 // messages the broker refused for good (PUBACK reason code)
	LostQoS0      uint64 // QoS 0 messages a dropped connection took with it
	BytesOut      uint64 // on the wire, TLS included
	BytesIn       uint64
}

// Link is the host's connection to the cloud. It is safe for concurrent
// use.
type Link struct {
	opt  Options
	log  *slog.Logger
	sp   *spool
	in   *bus.Bus // cloud messages to component subscriptions
	wire wireStats
	cm   *autopaho.ConnectionManager // nil offline

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	inflight chan struct{} // QoS 1 publishes awaiting PUBACK
	q0       chan outMsg   // QoS 0 messages for the writer, in order
	flights  flights       // spooled messages in flight, by packet identifier
	session  *trackingSession

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every change the loops wait for
	state      string
	since      time.Time
	lastErr    string
	errStreak  string // the error being repeated by reconnect attempts, logged once
	gen        int    // connection number; 0 before the first
	up         bool
	connCtx    context.Context // ends when the current connection does
	connCancel context.CancelFunc
	subs       map[string]int  // filter -> component subscriptions
	onBroker   map[string]bool // filters subscribed on the current connection
	refused    map[string]bool // of those, the ones the broker refused (SUBACK >= 0x80)
	tokens     float64
	tokensAt   time.Time
	reconnects int

	sent, received, rejected, lost0 atomic.Uint64
}

// outMsg is a QoS 0 message on its way to the writer.
type outMsg struct {
	topic   string
	payload []byte
}

// q0Len bounds the QoS 0 messages waiting for the writer; past it they go
// to the spool like anything else the link cannot take now.
const q0Len = 256

// New opens the spool and, with an endpoint, starts connecting. Close stops
// it.
func New(opt Options) (*Link, error) {
	opt.defaults()
	sp, err := openSpool(opt.Store, opt.SpoolMaxBytes, opt.KeepQoS0WhenOffline)
	if sp == nil {
		return nil, err
	}
	l := &Link{
		opt:      opt,
		log:      opt.Logger,
		sp:       sp,
		in:       bus.New(),
		inflight: make(chan struct{}, maxInFlight),
		q0:       make(chan outMsg, q0Len),
		changed:  make(chan struct{}),
		subs:     map[string]int{},
		onBroker: map[string]bool{},
		refused:  map[string]bool{},
		since:    time.Now(),
		flights:  flights{byID: map[uint16]*flight{}},
		tokens:   float64(opt.PublishRate),
		tokensAt: time.Now(),
	}
	if err != nil {
		l.log.Error("cloud spool", "err", err)
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	if n, b, _ := sp.stats(); n > 0 {
		l.log.Info("cloud spool holds messages from before the restart", "messages", n, "bytes", b)
	}
	if opt.Endpoint == "" {
		l.state = StateOffline
		l.log.Info("cloud link offline: no [cloud] endpoint configured; cloud-bound messages are spooled")
		return l, nil
	}
	if opt.TLS == nil {
		return nil, errors.New("cloud: no TLS configuration (device certificate, key and root CA)")
	}
	l.state = StateConnecting
	if err := l.connect(); err != nil {
		return nil, err
	}
	l.wg.Add(3)
	go l.sender()
	go l.subscriber()
	go l.writer0()
	return l, nil
}

func (l *Link) addr() string { return net.JoinHostPort(l.opt.Endpoint, strconv.Itoa(l.opt.Port)) }

func (l *Link) connect() error {
	tc := l.opt.TLS.Clone()
	if tc.ServerName == "" {
		tc.ServerName = l.opt.Endpoint
	}
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}
	if tc.ClientSessionCache == nil {
		// Resuming the TLS session after a reconnect skips the certificate
		// exchange (a few kilobytes) when the broker still holds the
		// session; a restarted broker does not, and costs a full handshake.
		tc.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	}
	if l.opt.Port == 443 && len(tc.NextProtos) == 0 {
		tc.NextProtos = []string{"x-amzn-mqtt-ca"}
	}
	u := &url.URL{Scheme: "tls", Host: l.addr()}
	l.session = &trackingSession{State: state.NewInMemory(), fs: &l.flights}
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		KeepAlive:                     uint16(l.opt.KeepAlive / time.Second),
		CleanStartOnInitialConnection: true,
		ConnectTimeout:                l.opt.ConnectTimeout,
		ReconnectBackoff:              l.backoff,
		AttemptConnection: func(ctx context.Context, _ autopaho.ClientConfig, u *url.URL) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, l.opt.ConnectTimeout)
			defer cancel()
			var d net.Dialer
			raw, err := d.DialContext(ctx, "tcp", u.Host)
			if err != nil {
				return nil, err
			}
			// Counted below TLS, so the figures are what the link costs.
			tlsConn := tls.Client(&countConn{Conn: raw, stats: &l.wire}, tc)
			if err := tlsConn.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, err
			}
			return newWireConn(tlsConn, l.flights.written), nil
		},
		OnConnectionUp:   l.onUp,
		OnConnectionDown: l.onDown,
		OnConnectError:   l.onConnectError,
		ClientConfig: paho.ClientConfig{
			ClientID:          l.opt.ThingName,
			Session:           l.session,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){l.onPublish},
		},
	}
	cm, err := autopaho.NewConnection(l.ctx, cfg)
	if err != nil {
		return fmt.Errorf("cloud: %w", err)
	}
	l.cm = cm
	return nil
}

// backoff is exponential from ReconnectMin to ReconnectMax with full
// jitter in its upper half, so a fleet that lost its link together does not
// come back in step. The first attempt is immediate.
func (l *Link) backoff(attempt int) time.Duration {
	if attempt == 0 {
		return 0
	}
	d := l.opt.ReconnectMin
	for i := 1; i < attempt && d < l.opt.ReconnectMax; i++ {
		d *= 2
	}
	d = min(d, l.opt.ReconnectMax)
	return d/2 + rand.N(d/2+1)
}

// notify wakes the loops; call with l.mu held.
func (l *Link) notify() {
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *Link) onUp(_ *autopaho.ConnectionManager, _ *paho.Connack) {
	l.mu.Lock()
	if l.gen > 0 {
		l.reconnects++
	}
	l.gen++
	l.up, l.state, l.since = true, StateConnected, time.Now()
	l.lastErr, l.errStreak = "", ""
	l.onBroker, l.refused = map[string]bool{}, map[string]bool{}
	if l.connCancel != nil {
		l.connCancel()
	}
	l.connCtx, l.connCancel = context.WithCancel(l.ctx)
	l.notify()
	n, _, _ := l.sp.stats()
	l.mu.Unlock()
	l.log.Info("cloud connected", "endpoint", l.addr(), "client_id", l.opt.ThingName, "spooled", n)
}

func (l *Link) onDown() bool {
	l.mu.Lock()
	l.up, l.state, l.since = false, StateDisconnected, time.Now()
	if l.connCancel != nil {
		// paho forgets the messages awaiting a PUBACK without answering
		// their Publish; this ends those calls now.
		l.connCancel()
	}
	l.notify()
	l.mu.Unlock()
	if l.ctx.Err() == nil {
		l.log.Warn("cloud connection lost; reconnecting", "endpoint", l.addr())
	}
	return true
}

func (l *Link) onConnectError(err error) {
	if l.ctx.Err() != nil {
		return
	}
	msg := explain(err, l.opt)
	l.mu.Lock()
	repeat := msg == l.errStreak
	l.errStreak, l.lastErr = msg, msg
	if l.state != StateConnecting {
		l.state = StateDisconnected
	}
	l.notify()
	l.mu.Unlock()
	if repeat {
		l.log.Debug("cloud connect failed again", "endpoint", l.addr(), "err", msg)
		return
	}
	l.log.Error("cloud connect failed; retrying with backoff", "endpoint", l.addr(), "err", msg)
}

// explain adds what to check to the errors a misconfigured device meets
// first.
func explain(err error, o Options) string {
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ce x509.CertificateInvalidError
	var ca *autopaho.ConnackError
	s := err.Error()
	switch {
	case errors.As(err, &ua):
		return fmt.Sprintf("%s: the broker's certificate is not signed by the CA in cloud.root_ca", s)
	case errors.As(err, &hn):
		return fmt.Sprintf("%s: the broker's certificate is not for %s (check cloud.endpoint)", s, o.Endpoint)
	case errors.As(err, &ce):
		return fmt.Sprintf("%s: the broker's certificate is not valid (expired, or the device clock is wrong)", s)
	case errors.As(err, &ca):
		return fmt.Sprintf("%s: the broker refused the connection (is the thing's certificate active and its policy allowing iot:Connect for client id %q?)", s, o.ThingName)
	case strings.Contains(s, "remote error: tls:"):
		return fmt.Sprintf("%s: the broker refused the device certificate (cloud.cert): is it registered, active and signed by a CA the broker trusts?", s)
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.EPIPE),
		strings.HasSuffix(s, "EOF"), strings.Contains(s, "connection reset"), strings.Contains(s, "closed network connection"):
		// With TLS 1.3 the client finishes its handshake before the
		// server checks the client certificate, and some brokers
		// (Mosquitto) then just close the connection without an alert.
		return fmt.Sprintf("%s: the broker closed the connection; if it does so at every attempt, it is probably refusing the device certificate (cloud.cert)", s)
	}
	return s
}

func (l *Link) onPublish(pr paho.PublishReceived) (bool, error) {
	l.received.Add(1)
	l.in.Publish(&bus.Message{Topic: pr.Packet.Topic, Payload: pr.Packet.Payload})
	return true, nil
}

// wait blocks until the link changes or it is closed; it returns false
// when closed.
func (l *Link) wait(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-l.ctx.Done():
		return false
	}
}

// Publish sends a message to the cloud, or spools it (see the package doc).
// It returns nil once a QoS 1 message is safe: acknowledged by the broker
// or spooled.
func (l *Link) Publish(ctx context.Context, topic string, payload []byte, qos byte) error {
	if err := CheckPublish(topic, len(payload), qos); err != nil {
		return err
	}
	if l.ctx.Err() != nil {
		return ErrClosed
	}
	l.mu.Lock()
	up := l.up
	direct := up && l.sp.empty() && l.takeToken(time.Now())
	l.mu.Unlock()
	if direct && qos == 0 {
		m := outMsg{topic, bytes.Clone(payload)}
		select {
		case l.q0 <- m:
			return nil
		default:
			// The writer is behind: wait a little (backpressure a
			// component's deadline can afford), then let the spool keep
			// the order.
			t := time.NewTimer(l.opt.AckWait)
			select {
			case l.q0 <- m:
				t.Stop()
				return nil
			case <-t.C:
			case <-ctx.Done(): // the caller's deadline: spool it
				t.Stop()
			}
		}
	}
	if direct && qos == 1 {
		select {
		case l.inflight <- struct{}{}:
			switch err := l.sendDirect(ctx, topic, payload); {
			case err == nil:
				return nil
			case errors.Is(err, ErrRefused), errors.Is(err, ErrClosed):
				return err
			default:
				l.log.Debug("cloud publish not acknowledged in time; spooling it", "topic", topic, "err", err)
			}
		default: // maxInFlight PUBACKs outstanding
		}
	}
	if !up && qos == 0 && !l.sp.keepQoS0 {
		return fmt.Errorf("%w: QoS 0 message to %q not sent (set cloud.spool.keep_qos0_when_offline to keep them)", ErrOffline, topic)
	}
	if err := l.sp.add(topic, payload, qos); err != nil {
		return err
	}
	l.mu.Lock()
	l.notify()
	l.mu.Unlock()
	return nil
}

// sendDirect publishes a QoS 1 message from a goroutine of its own, holding
// an in-flight slot the caller took, and waits up to AckWait for the
// outcome. Network writes never happen on the caller's goroutine: a
// component's call must not hang on a full TCP send buffer. A message whose
// PUBACK is late stays in flight and is also spooled by the caller; QoS 1 is
// at least once. ctx ending (the calling component's deadline) ends the wait
// as AckWait does.
//
// The goroutine is counted in l.wg, so Close waits for it; the count is
// taken under l.mu, which Close holds to cancel, so none starts after.
func (l *Link) sendDirect(ctx context.Context, topic string, payload []byte) error {
	res := make(chan error, 1)
	p := bytes.Clone(payload)
	l.mu.Lock()
	if l.ctx.Err() != nil {
		l.mu.Unlock()
		<-l.inflight
		return ErrClosed
	}
	l.wg.Add(1)
	l.mu.Unlock()
	go func() {
		defer l.wg.Done()
		defer func() { <-l.inflight }()
		res <- l.send(l.ctx, topic, p, 1, l.opt.ConnectTimeout+l.opt.KeepAlive)
	}()
	t := time.NewTimer(l.opt.AckWait)
	defer t.Stop()
	select {
	case err := <-res:
		return err
	case <-t.C:
		return fmt.Errorf("no PUBACK within %v", l.opt.AckWait)
	case <-ctx.Done():
		return fmt.Errorf("waiting for the PUBACK: %w", ctx.Err())
	}
}

// writer0 sends QoS 0 messages in the order Publish queued them. One that
// meets a dropped connection is lost, as QoS 0 allows; Status counts them.
func (l *Link) writer0() {
	defer l.wg.Done()
	for {
		select {
		case m := <-l.q0:
			if err := l.send(l.ctx, m.topic, m.payload, 0, l.opt.ConnectTimeout); err != nil {
				l.lost0.Add(1)
			}
		case <-l.ctx.Done():
			return
		}
	}
}

// send publishes one message on the current connection and, for QoS 1,
// waits up to wait for the PUBACK.
func (l *Link) send(ctx context.Context, topic string, payload []byte, qos byte, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	pr, err := l.cm.Publish(ctx, &paho.Publish{QoS: qos, Topic: topic, Payload: payload})
	if err != nil {
		if pr != nil && pr.ReasonCode >= 0x80 {
			return &refusedError{code: pr.ReasonCode, err: err}
		}
		return err
	}
	l.sent.Add(1)
	return nil
}

// refusedError is a PUBACK with a failure reason code: the broker will not
// take the message however often it is sent (e.g. not authorised).
type refusedError struct {
	code byte
	err  error
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("%v (reason code 0x%02x): %v", ErrRefused, e.code, e.err)
}

func (e *refusedError) Unwrap() error { return ErrRefused }

// takeToken spends one publish from the rate budget; call with l.mu held.
func (l *Link) takeToken(now time.Time) bool {
	r := float64(l.opt.PublishRate)
	if r <= 0 {
		return true
	}
	l.tokens = min(r, l.tokens+now.Sub(l.tokensAt).Seconds()*r)
	l.tokensAt = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}

// paceToken waits for the publish rate to allow one more message.
func (l *Link) paceToken() bool {
	for {
		l.mu.Lock()
		ok := l.takeToken(time.Now())
		l.mu.Unlock()
		if ok {
			return true
		}
		t := time.NewTimer(time.Second / time.Duration(l.opt.PublishRate))
		select {
		case <-t.C:
		case <-l.ctx.Done():
			t.Stop()
			return false
		}
	}
}

// Subscribe delivers cloud messages matching filter to s with id, making
// the broker subscription if it is the first for filter.
func (l *Link) Subscribe(filter string, s bus.Subscriber, id uint32) error {
	if err := CheckFilter(filter); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.subs[filter] == 0 && len(l.subs) >= MaxSubscriptions {
		return fmt.Errorf("%w: the connection has %d subscriptions, AWS IoT Core's maximum", ErrTooManySubscriptions, MaxSubscriptions)
	}
	if err := l.in.Subscribe(filter, s, id); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	l.subs[filter]++
	if l.subs[filter] == 1 {
		l.notify()
	}
	return nil
}

// Unsubscribe removes what Subscribe added; the broker subscription goes
// with the last one for filter.
func (l *Link) Unsubscribe(filter string, s bus.Subscriber, id uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.in.Unsubscribe(filter, s, id) {
		return
	}
	if l.subs[filter]--; l.subs[filter] <= 0 {
		delete(l.subs, filter)
		l.notify()
	}
}

// subscriber keeps the broker's subscriptions equal to the components'.
func (l *Link) subscriber() {
	defer l.wg.Done()
	for l.ctx.Err() == nil {
		l.mu.Lock()
		ch, up, gen := l.changed, l.up, l.gen
		var add, drop []string
		if up {
			want := brokerFilters(l.subs, l.refused)
			for f := range want {
				if !l.onBroker[f] {
					add = append(add, f)
				}
			}
			for f := range l.onBroker {
				if !want[f] {
					drop = append(drop, f)
				}
			}
		}
		l.mu.Unlock()
		if len(add) == 0 && len(drop) == 0 {
			if !l.wait(ch) {
				return
			}
			continue
		}
		if err := l.syncSubs(gen, add, drop); err != nil && l.ctx.Err() == nil {
			l.log.Debug("cloud subscribe interrupted; retrying on the next connection", "err", err)
			// Wait for a change (a new connection) before trying again.
			if !l.wait(ch) {
				return
			}
		}
	}
}

// brokerFilters is the set of filters to subscribe on the broker: those of
// subs that no other filter of subs covers. A broker sends a message once
// for each of a client's subscriptions that match it, and IoT Core has no
// subscription identifiers to tell the copies apart, so with "cmd/#" and
// "cmd/+/reboot" both on the broker every reboot command would arrive
// twice. Only "cmd/#" goes to the broker; the local routing gives each
// component what its own filter matches. Filters that overlap without one
// covering the other (a/+/c and a/b/+) still both go, and a message both
// match arrives twice (QoS 1 is at least once anyway).
//
// A filter the broker refused covers nothing: IoT Core refuses "cmd/#" when
// the thing's policy allows only some of its topics, and then each filter
// it covered ("cmd/+/reboot") is subscribed on its own. The broker's
// messages on those go, by the local routing, to every component whose
// filter matches, the refused one's included.
func brokerFilters(subs map[string]int, refused map[string]bool) map[string]bool {
	out := make(map[string]bool, len(subs))
	for f := range subs {
		covered := false
		for g := range subs {
			if g != f && !refused[g] && covers(g, f) {
				covered = true
				break
			}
		}
		if !covered {
			out[f] = true
		}
	}
	return out
}

// covers reports whether every topic filter f matches is matched by g.
func covers(g, f string) bool {
	gl, fl := strings.Split(g, "/"), strings.Split(f, "/")
	// A filter starting with a wildcard does not match $ topics.
	if (gl[0] == "+" || gl[0] == "#") && strings.HasPrefix(fl[0], "$") {
		return false
	}
	for i, lv := range gl {
		if lv == "#" {
			return true // also covers the parent level: "a/#" matches "a"
		}
		if i >= len(fl) {
			return false
		}
		switch {
		case fl[i] == "#":
			return false
		case lv == "+":
		case lv != fl[i]:
			return false
		}
	}
	return len(fl) == len(gl)
}

func (l *Link) syncSubs(gen int, add, drop []string) error {
	for len(add) > 0 {
		n := min(len(add), filtersPerSubscribe)
		batch := add[:n]
		add = add[n:]
		s := &paho.Subscribe{}
		for _, f := range batch {
			s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: 1})
		}
		ctx, cancel := context.WithTimeout(l.ctx, l.opt.ConnectTimeout)
		ack, err := l.cm.Subscribe(ctx, s)
		cancel()
		if err != nil && ack == nil {
			return fmt.Errorf("subscribe %v: %w", batch, err)
		}
		l.mu.Lock()
		for i, f := range batch {
			if l.gen != gen {
				break
			}
			// A refused filter is marked as done too: asking again on
			// the same connection would be refused again.
			l.onBroker[f] = true
			if ack != nil && i < len(ack.Reasons) && ack.Reasons[i] >= 0x80 {
				// What it covered must now be asked for on its own.
				l.refused[f] = true
				l.notify()
				l.log.Error("cloud broker refused a subscription (does the thing's policy allow iot:Subscribe?)", "filter", f, "reason_code", fmt.Sprintf("0x%02x", ack.Reasons[i]))
			}
		}
		l.mu.Unlock()
	}
	for len(drop) > 0 {
		n := min(len(drop), filtersPerSubscribe)
		batch := drop[:n]
		drop = drop[n:]
		ctx, cancel := context.WithTimeout(l.ctx, l.opt.ConnectTimeout)
		_, err := l.cm.Unsubscribe(ctx, &paho.Unsubscribe{Topics: batch})
		cancel()
		if err != nil {
			return fmt.Errorf("unsubscribe %v: %w", batch, err)
		}
		l.mu.Lock()
		if l.gen == gen {
			for _, f := range batch {
				delete(l.onBroker, f)
				delete(l.refused, f)
			}
		}
		l.mu.Unlock()
	}
	return nil
}

// Status returns a snapshot.
func (l *Link) Status() Status {
	n, b, ev := l.sp.stats()
	l.mu.Lock()
	defer l.mu.Unlock()
	st := Status{
		State: l.state, Since: l.since, LastError: l.lastErr, Reconnects: l.reconnects,
		Spooled: n, SpooledBytes: b, SpoolMax: l.opt.SpoolMaxBytes, Evicted: ev,
		Subscriptions: len(l.subs),
		Sent:          l.sent.Load(), Received: l.received.Load(), Rejected: l.rejected.Load(), LostQoS0: l.lost0.Load(),
		BytesOut: l.wire.out.Load(), BytesIn: l.wire.in.Load(),
	}
	if l.opt.Endpoint != "" {
		st.Endpoint = l.addr()
	}
	return st
}

// Close disconnects (politely when connected), stops the loops and writes
// what the spool owes the disk. Messages still spooled stay there for the
// next start.
func (l *Link) Close() error {
	if l.cm != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = l.cm.Disconnect(ctx)
		cancel()
	}
	l.mu.Lock() // see sendDirect
	l.cancel()
	l.mu.Unlock()
	if l.cm != nil {
		<-l.cm.Done()
	}
	l.wg.Wait()
	l.mu.Lock()
	if l.connCancel != nil {
		l.connCancel()
	}
	l.mu.Unlock()
	if l.session != nil {
		l.session.Close()
	}
	return l.sp.flush()
}
