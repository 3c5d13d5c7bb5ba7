package shadowsync

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/moss-edge/moss/host/shadow"
	"github.com/moss-edge/moss/host/store"
)

// SimulatorFilters are what the Simulator subscribes to: the request
// topics of every classic and named shadow, and no reply topic, so it
// never receives what it publishes.
var SimulatorFilters = []string{"$aws/things/+/shadow/+", "$aws/things/+/shadow/name/+/+"}

// DefaultSimulatorClientID is the Simulator's MQTT client id unless told
// otherwise; it must differ from the device's (its thing name), or each
// connection would take over the other's.
const DefaultSimulatorClientID = "moss-iotsim"

// SimulatorOptions configures a Simulator. Broker, TLS and Store are
// required.
type SimulatorOptions struct {
	// Broker is the broker's URL: mqtts://host:port (also tls://, ssl://).
	Broker string
	// TLS holds the client certificate and the root CAs; ServerName is set
	// to the broker's host when empty.
	TLS      *tls.Config
	ClientID string // default DefaultSimulatorClientID

	Store *store.Store // holds the simulated cloud's shadows; not closed
	// MaxDocumentBytes and RateLimits are the shadow service's (IoT Core's
	// 8 KiB and limits by default).
	MaxDocumentBytes int
	RateLimits       *shadow.RateLimits

	Logger *slog.Logger // nil means slog.Default()
}

// Simulator is the cloud side of device shadows on any MQTT broker: it
// serves the shadow request topics as AWS IoT Core's Device Shadow service
// does, with its own shadow.Service, publishing the accepted, rejected,
// delta and documents replies. Requests are served one at a time, in
// arrival order.
//
// Unlike IoT Core it sees only what reaches the broker while it is
// connected, and its replies to a disconnected client are lost (as IoT
// Core's are to a client with a clean session).
type Simulator struct {
	svc *shadow.Service
	cm  *autopaho.ConnectionManager
	log *slog.Logger
	id  string

	requests chan *paho.Publish
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu     sync.Mutex
	ready  chan struct{} // closed once subscribed on the current connection
	closed sync.Once
}

// NewSimulator starts the shadow service and connects to the broker,
// retrying with backoff until it can; Close stops it.
func NewSimulator(opts SimulatorOptions) (*Simulator, error) {
	var errs []error
	if opts.Store == nil {
		errs = append(errs, errors.New("SimulatorOptions.Store is required"))
	}
	u, err := url.Parse(opts.Broker)
	switch {
	case opts.Broker == "":
		errs = append(errs, errors.New("SimulatorOptions.Broker is required"))
	case err != nil:
		errs = append(errs, fmt.Errorf("broker URL: %w", err))
	case !tlsScheme(u.Scheme) || u.Hostname() == "" || u.Port() == "":
		errs = append(errs, fmt.Errorf("broker URL %q: want mqtts://host:port (or tls://, ssl://): IoT Core takes only mutual TLS, and so does the device's link", opts.Broker))
	}
	if opts.TLS == nil {
		errs = append(errs, errors.New("SimulatorOptions.TLS is required (client certificate and root CA)"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("iotsim: %w", errors.Join(errs...))
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	svc, err := shadow.New(shadow.Options{Store: opts.Store, MaxDocumentBytes: opts.MaxDocumentBytes, RateLimits: opts.RateLimits, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("iotsim: %w", err)
	}
	s := &Simulator{svc: svc, log: log, id: opts.ClientID, requests: make(chan *paho.Publish, 256), ready: make(chan struct{})}
	if s.id == "" {
		s.id = DefaultSimulatorClientID
	}
	tc := opts.TLS.Clone()
	if tc.ServerName == "" {
		tc.ServerName = u.Hostname()
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	var failing sync.Mutex
	lastErr := ""
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		TlsCfg:                        tc,
		KeepAlive:                     30,
		CleanStartOnInitialConnection: true,
		ConnectTimeout:                10 * time.Second,
		ReconnectBackoff:              autopaho.NewExponentialBackoff(50*time.Millisecond, 5*time.Second, 100*time.Millisecond, 2),
		OnConnectionUp:                s.onUp,
		OnConnectionDown: func() bool {
			s.mu.Lock()
			s.ready = make(chan struct{})
			s.mu.Unlock()
			if s.ctx.Err() == nil {
				log.Warn("iotsim: connection to the broker lost; reconnecting", "broker", opts.Broker)
			}
			return true
		},
		OnConnectError: func(err error) {
			if s.ctx.Err() != nil {
				return
			}
			failing.Lock()
			repeat := err.Error() == lastErr
			lastErr = err.Error()
			failing.Unlock()
			if !repeat {
				log.Error("iotsim: cannot connect to the broker; retrying", "broker", opts.Broker, "err", err)
			}
		},
		ClientConfig: paho.ClientConfig{
			ClientID:          s.id,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){s.onPublish},
		},
	}
	cm, err := autopaho.NewConnection(s.ctx, cfg)
	if err != nil {
		s.cancel()
		svc.Close()
		return nil, fmt.Errorf("iotsim: %w", err)
	}
	s.cm = cm
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Shadows is the simulated cloud's shadow service: a test reads or changes
// the cloud side with it, as the AWS console or the HTTP API would (such
// changes publish nothing, so the device hears of them only through its
// own requests).
func (s *Simulator) Shadows() *shadow.Service { return s.svc }

// Ready returns a channel closed once the Simulator is subscribed on its
// current connection, so that requests reach it.
func (s *Simulator) Ready() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready
}

func (s *Simulator) onUp(cm *autopaho.ConnectionManager, _ *paho.Connack) {
	s.mu.Lock()
	ready := s.ready
	s.mu.Unlock()
	// OnConnectionUp must not block: subscribe from a goroutine.
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		sub := &paho.Subscribe{}
		for _, f := range SimulatorFilters {
			sub.Subscriptions = append(sub.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: 1})
		}
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		defer cancel()
		if _, err := cm.Subscribe(ctx, sub); err != nil {
			if s.ctx.Err() == nil {
				s.log.Error("iotsim: subscribe failed; requests are not served until the next connection", "err", err)
			}
			return
		}
		s.log.Info("iotsim: serving shadow requests", "client_id", s.id, "filters", SimulatorFilters)
		s.mu.Lock()
		if s.ready == ready {
			close(ready)
		}
		s.mu.Unlock()
	}()
}

// onPublish queues a request for serve, waiting while the queue is full
// (the broker then holds further messages back).
func (s *Simulator) onPublish(pr paho.PublishReceived) (bool, error) {
	select {
	case s.requests <- pr.Packet:
	case <-s.ctx.Done():
	}
	return true, nil
}

// serve answers requests in order.
func (s *Simulator) serve() {
	defer s.wg.Done()
	for {
		select {
		case p := <-s.requests:
			replies, ok := s.svc.HandleTopic(s.ctx, p.Topic, p.Payload)
			if !ok {
				continue
			}
			for _, r := range replies {
				ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
				_, err := s.cm.Publish(ctx, &paho.Publish{Topic: r.Topic, Payload: r.Payload, QoS: 1})
				cancel()
				if err != nil && s.ctx.Err() == nil {
					s.log.Debug("iotsim: reply not published", "topic", r.Topic, "err", err)
				}
			}
		case <-s.ctx.Done():
			return
		}
	}
}

// Close disconnects, stops the shadow service and waits for the
// Simulator's goroutines. It does not close the store.
func (s *Simulator) Close() error {
	s.closed.Do(func() {
		// Cancelling the context disconnects, and releases a handler
		// waiting for room in the queue.
		s.cancel()
		<-s.cm.Done()
		s.wg.Wait()
		s.svc.Close()
	})
	return nil
}

// tlsScheme reports whether autopaho dials TLS for scheme.
func tlsScheme(scheme string) bool {
	switch scheme {
	case "mqtts", "tls", "ssl", "tcps", "mqtt+ssl":
		return true
	}
	return false
}
