package daemon

import (
	"context"
	"errors"

	"fmt"

	"github.com/moss-edge/moss/host/component"
	"github.com/moss-edge/moss/host/secret"

	"github.com/moss-edge/moss/host/admin"
	"github.com/moss-edge/moss/host/bus"
)

// The daemon is the admin socket's backend.
var _ admin.Backend = (*Daemon)(nil)

// Components implements admin.Backend.
func (d *Daemon) Components() []admin.ComponentInfo {
	d.mu.Lock()
	comps := d.comps
	d.mu.Unlock()
	out := make([]admin.ComponentInfo, 0, len(comps))
	for _, c := range comps {
		out = append(out, componentInfo(c.Info()))
	}
	return out
}

// Status implements admin.Backend.
func (d *Daemon) Status() admin.Status {
	d.mu.Lock()
	n := len(d.comps)
	d.mu.Unlock()
	return admin.Status{Version: Version, Started: d.started, Components: n, Subscriptions: d.bus.Len(), Cloud: cloudStatus(d.cloud)}
}

// Publish implements admin.Backend: `moss pub` publishes as the operator,
// who is not subject to component access policies.
func (d *Daemon) Publish(topic string, payload []byte) error {
	if err := bus.ValidateTopic(topic); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	d.bus.Publish(&bus.Message{Topic: topic, Payload: payload})
	return nil
}

// Subscribe implements admin.Backend.
func (d *Daemon) Subscribe(filter string, fn func(topic string, payload []byte)) (func(), error) {
	if err := bus.ValidateFilter(filter); err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	s := funcSubscriber(fn)
	id := d.subID.Add(1)
	if err := d.bus.Subscribe(filter, &s, id); err != nil {
		return nil, err
	}
	return func() { d.bus.Unsubscribe(filter, &s, id) }, nil
}

type funcSubscriber func(topic string, payload []byte)

func (f *funcSubscriber) Deliver(_ uint32, m *bus.Message) { (*f)(m.Topic, m.Payload) }

// SetSecret implements admin.Backend.
func (d *Daemon) SetSecret(name string, value []byte) error {
	if err := d.secrets.Set(name, value); err != nil {
		return err
	}
	d.log.Info("secret set", "name", name) // the name only, never the value
	return nil
}

// CloudPublish implements admin.Backend: `moss pub --cloud` publishes as
// the device, not subject to component access policies.
func (d *Daemon) CloudPublish(ctx context.Context, topic string, payload []byte, qos byte) error {
	return d.cloud.Publish(ctx, topic, payload, qos)
}

// Shadow implements admin.Backend: `moss shadow` acts as the operator, not
// subject to component access policies.
func (d *Daemon) Shadow(_ context.Context, op, thing, name string, payload []byte) (int, []byte, error) {
	if thing == "" {
		thing = d.shadows.Thing()
	}
	if op == "list" {
		return d.shadows.List(thing, 0, string(payload))
	}
	return d.shadows.Request(op, thing, name, payload)
}

// SecretNames implements admin.Backend.
func (d *Daemon) SecretNames() ([]string, error) { return d.secrets.Names() }

// secretsView is the secret store as components see it.
type secretsView struct{ s *secret.Store }

func (v secretsView) Get(name string) ([]byte, error) {
	b, err := v.s.Get(name)
	if errors.Is(err, secret.ErrNotFound) {
		return nil, component.ErrNoSecret
	}
	return b, err
}
