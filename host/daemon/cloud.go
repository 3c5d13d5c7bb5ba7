package daemon

import (
	"context"
	"errors"
	"fmt"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/host/admin"
	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/certs"
	"github.com/moss-edge/moss/host/cloud"
	"github.com/moss-edge/moss/host/config"
	"github.com/moss-edge/moss/host/store"
)

// openCloud starts the cloud link. A link that cannot be configured (an
// unreadable certificate, say) is logged and replaced by an offline one:
// the device keeps running its components and spooling for the cloud
// until the operator fixes the files and restarts.
func (d *Daemon) openCloud(db *store.Store) (*cloud.Link, error) {
	c := d.cfg.Cloud
	opt := cloud.Options{
		Endpoint: c.Endpoint, Port: c.Port, ThingName: c.ThingName,
		KeepAlive: c.KeepAlive.Duration, ConnectTimeout: c.ConnectTimeout.Duration,
		ReconnectMin: c.ReconnectMin.Duration, ReconnectMax: c.ReconnectMax.Duration,
		PublishRate:         c.PublishRate,
		SpoolMaxBytes:       c.Spool.MaxSizeBytes,
		KeepQoS0WhenOffline: c.Spool.KeepQoS0WhenOffline,
		Logger:              d.log.With("service", "cloud"),
	}
	if c.Spool.Storage != config.SpoolMemory {
		opt.Store = db
	}
	if c.Online() {
		var alpn []string
		if c.Port == 443 {
			alpn = []string{"x-amzn-mqtt-ca"}
		}
		tc, err := certs.TLSConfig(c.Cert, c.Key, c.RootCA, c.Endpoint, alpn)
		if err != nil {
			d.log.Error("cloud link not started: fix the [cloud] certificate files and restart; running offline meanwhile", "err", err)
			opt.Endpoint = ""
		}
		opt.TLS = tc
	}
	return cloud.New(opt)
}

// cloudEnv adapts the link to what components need: the link's errors
// become ABI codes.
type cloudEnv struct{ l *cloud.Link }

func (e cloudEnv) Publish(ctx context.Context, topic string, payload []byte, qos byte) error {
	return abiError(e.l.Publish(ctx, topic, payload, qos))
}

func (e cloudEnv) Subscribe(filter string, s bus.Subscriber, id uint32) error {
	return abiError(e.l.Subscribe(filter, s, id))
}

func (e cloudEnv) Unsubscribe(filter string, s bus.Subscriber, id uint32) {
	e.l.Unsubscribe(filter, s, id)
}

func abiError(err error) error {
	if err == nil {
		return nil
	}
	code := abi.ErrInternal
	switch {
	case errors.Is(err, cloud.ErrInvalid):
		code = abi.ErrInvalid
	case errors.Is(err, cloud.ErrTooLarge):
		code = abi.ErrTooLarge
	case errors.Is(err, cloud.ErrQoS):
		code = abi.ErrUnsupported
	case errors.Is(err, cloud.ErrSpoolFull), errors.Is(err, cloud.ErrTooManySubscriptions):
		code = abi.ErrFull
	case errors.Is(err, cloud.ErrRefused):
		code = abi.ErrDenied
	case errors.Is(err, cloud.ErrOffline), errors.Is(err, cloud.ErrClosed):
		code = abi.ErrUnavailable
	}
	return &abi.Error{Code: code, Message: err.Error()}
}

func cloudStatus(l *cloud.Link) *admin.Cloud {
	if l == nil {
		return nil
	}
	s := l.Status()
	return &admin.Cloud{
		State: s.State, Endpoint: s.Endpoint, Since: s.Since, LastError: s.LastError,
		Reconnects: s.Reconnects, Spooled: s.Spooled, SpooledBytes: s.SpooledBytes,
		SpoolMax: s.SpoolMax, Evicted: s.Evicted, Subscriptions: s.Subscriptions,
		Sent: s.Sent, Received: s.Received, Rejected: s.Rejected,
		BytesOut: s.BytesOut, BytesIn: s.BytesIn,
	}
}

// cloudClosed wraps Close for a deferred call.
func (d *Daemon) closeCloud(l *cloud.Link) {
	if err := l.Close(); err != nil {
		d.log.Error("cloud link", "err", fmt.Errorf("close: %w", err))
	}
}
