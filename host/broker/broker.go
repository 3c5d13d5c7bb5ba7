// Package broker is the host's embedded MQTT broker for client devices
// (github.com/mochi-mqtt/server/v2). Devices connect over TLS with a client
// certificate, which host/clientauth verifies; the certificate's CN is the
// thing name and the MQTT client id must equal it (iot:Connect on
// client/ID decides otherwise). Every publish, subscription and delivery is
// checked against the device's IoT policies (iot:Publish, iot:RetainPublish,
// iot:Subscribe, iot:Receive).
//
// Components and devices share one topic space: what a device publishes is
// published on host/bus under the same topic, and what anyone publishes on
// the bus reaches the devices subscribed to it. The broker subscribes to
// the bus, never the other way round. A message the broker put on the bus is
// recognised when the bus hands it back and is not forwarded again, and a
// message the broker injected for devices is not put back on the bus, so
// nothing loops.
//
// A plain TCP listener exists only when configured, for local tools; its
// clients have no certificate and so no identity, and are refused unless
// they connect from loopback, where they act as the thing named by their
// client id (use it for tests and local tools only).
package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/clientauth"
)

// Options configure a Broker.
type Options struct {
	Auth *clientauth.Authority
	Bus  *bus.Bus
	// TLSAddress is the TLS listener's address, e.g. ":8883".
	TLSAddress string
	// Hosts are the names and addresses put in the server certificate.
	Hosts []string
	// TCPAddress, when set, opens a plain listener (see the package doc).
	TCPAddress string
	Logger     *slog.Logger
}

// Broker is the embedded MQTT broker. Start it once, Close it once.
type Broker struct {
	opts   Options
	srv    *mqtt.Server
	hook   *hook
	log    *slog.Logger
	tlsLn  net.Listener
	tcpLn  net.Listener
	fromMe sync.Map // *bus.Message the broker is publishing on the bus
}

// New builds a broker and opens its listeners; Start serves them.
func New(opts Options) (*Broker, error) {
	if opts.Auth == nil || opts.Bus == nil {
		return nil, errors.New("broker: needs an Authority and a Bus")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	b := &Broker{opts: opts, log: opts.Logger}
	b.srv = mqtt.New(&mqtt.Options{InlineClient: true, Logger: opts.Logger.With("part", "mqtt")})
	b.hook = &hook{b: b}
	if err := b.srv.AddHook(b.hook, nil); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	cert, err := opts.Auth.ServerCertificate(opts.Hosts)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	tcfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		ClientAuth:   tls.RequireAnyClientCert,
		ClientCAs:    opts.Auth.ClientCAs(),
		// Verification is clientauth's: it knows the extra CA and
		// revocations, which a static pool does not.
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			chain := make([]*x509.Certificate, 0, len(raw))
			for _, r := range raw {
				c, err := x509.ParseCertificate(r)
				if err != nil {
					return err
				}
				chain = append(chain, c)
			}
			_, err := opts.Auth.Verify(chain)
			if err != nil {
				b.log.Warn("broker: client certificate refused", "err", err)
			}
			return err
		},
	}
	addr := opts.TLSAddress
	if addr == "" {
		addr = ":8883"
	}
	if b.tlsLn, err = tls.Listen("tcp", addr, tcfg); err != nil {
		return nil, fmt.Errorf("broker: listen %s: %w", addr, err)
	}
	if err := b.srv.AddListener(&listener{id: "tls", proto: "tls", ln: b.tlsLn}); err != nil {
		b.tlsLn.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	if opts.TCPAddress != "" {
		if b.tcpLn, err = net.Listen("tcp", opts.TCPAddress); err != nil {
			b.tlsLn.Close()
			return nil, fmt.Errorf("broker: listen %s: %w", opts.TCPAddress, err)
		}
		if err := b.srv.AddListener(&listener{id: "tcp", proto: "tcp", ln: b.tcpLn}); err != nil {
			b.tlsLn.Close()
			b.tcpLn.Close()
			return nil, fmt.Errorf("broker: %w", err)
		}
	}
	return b, nil
}

// TLSAddr is the TLS listener's address (its port, when ":0" was asked).
func (b *Broker) TLSAddr() net.Addr { return b.tlsLn.Addr() }

// TCPAddr is the plain listener's address, or nil.
func (b *Broker) TCPAddr() net.Addr {
	if b.tcpLn == nil {
		return nil
	}
	return b.tcpLn.Addr()
}

// Start serves the listeners and joins the bus.
func (b *Broker) Start() error {
	for _, f := range busFilters {
		if err := b.opts.Bus.Subscribe(f, b, 0); err != nil {
			b.leaveBus()
			return fmt.Errorf("broker: %w", err)
		}
	}
	if err := b.srv.Serve(); err != nil {
		b.leaveBus()
		return fmt.Errorf("broker: %w", err)
	}
	return nil
}

// busFilters are what the broker hears on the bus: everything, and the
// shadow topics, which "#" does not match ('$' topics), so that the host's
// shadow service answers client devices' shadow requests.
var busFilters = []string{"#", "$aws/things/+/shadow/#"}

func (b *Broker) leaveBus() {
	for _, f := range busFilters {
		b.opts.Bus.Unsubscribe(f, b, 0)
	}
}

// Close leaves the bus, disconnects every client and closes the listeners.
func (b *Broker) Close() error {
	b.leaveBus()
	return b.srv.Close()
}

// Deliver implements bus.Subscriber: a message on the bus goes to the
// devices, unless the broker put it there.
func (b *Broker) Deliver(_ uint32, m *bus.Message) {
	if _, mine := b.fromMe.Load(m); mine {
		return
	}
	if err := b.srv.Publish(m.Topic, m.Payload, false, 0); err != nil {
		b.log.Debug("broker: bus message not delivered", "topic", m.Topic, "err", err)
	}
}

// toBus publishes a device's message on the bus.
func (b *Broker) toBus(topic string, payload []byte) {
	if bus.ValidateTopic(topic) != nil {
		return
	}
	m := &bus.Message{Topic: topic, Payload: payload}
	b.fromMe.Store(m, struct{}{})
	b.opts.Bus.Publish(m)
	b.fromMe.Delete(m)
}

// listener serves an already opened net.Listener to mochi, so the broker
// knows its address before serving and a busy port fails New.
type listener struct {
	id, proto string
	ln        net.Listener
	wg        sync.WaitGroup
}

func (l *listener) Init(*slog.Logger) error { return nil }
func (l *listener) ID() string              { return l.id }
func (l *listener) Address() string         { return l.ln.Addr().String() }
func (l *listener) Protocol() string        { return l.proto }

func (l *listener) Serve(establish listeners.EstablishFn) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			_ = establish(l.id, c)
		}()
	}
}

func (l *listener) Close(closeClients listeners.CloseFn) {
	l.ln.Close()
	closeClients(l.id)
}

// ClientInfo describes a connected client.
type ClientInfo struct {
	ClientID      string
	Thing         string
	Remote        string
	Protocol      byte
	Subscriptions []string
}

// Clients lists the connected clients, by client id.
func (b *Broker) Clients() []ClientInfo {
	var out []ClientInfo
	for id, cl := range b.srv.Clients.GetAll() {
		if cl.Net.Inline || cl.Closed() {
			continue
		}
		ci := ClientInfo{ClientID: id, Remote: cl.Net.Remote, Protocol: cl.Properties.ProtocolVersion}
		ci.Thing = b.hook.thing(cl)
		for f := range cl.State.Subscriptions.GetAll() {
			ci.Subscriptions = append(ci.Subscriptions, f)
		}
		slices.Sort(ci.Subscriptions)
		out = append(out, ci)
	}
	slices.SortFunc(out, func(a, b ClientInfo) int { return strings.Compare(a.ClientID, b.ClientID) })
	return out
}
