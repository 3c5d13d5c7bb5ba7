package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/moss-edge/moss/host/logs"
)

// Client talks to a host's admin socket. Each call opens its own
// connection, so a Client is safe for concurrent use.
type Client struct {
	// Path is the socket path, e.g. "var/moss/admin.sock".
	Path string
	// OnDrop, when set, is called during Subscribe with the number of
	// messages the host dropped because this client read too slowly.
	OnDrop func(n uint64)
}

// List returns the host's components.
func (c *Client) List(ctx context.Context) ([]ComponentInfo, error) {
	var out []ComponentInfo
	err := c.call(ctx, request{Op: "list"}, false, func(r *reply) (bool, error) {
		out = r.Components
		return true, nil
	})
	if err != nil {
		return nil, wrap("list components", err)
	}
	return out, nil
}

// Status returns the host's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var out Status
	err := c.call(ctx, request{Op: "status"}, false, func(r *reply) (bool, error) {
		if r.Status == nil {
			return true, errors.New("the host sent no status")
		}
		out = *r.Status
		return true, nil
	})
	if err != nil {
		return Status{}, wrap("status", err)
	}
	return out, nil
}

// Publish publishes payload on topic on the host's local bus.
func (c *Client) Publish(ctx context.Context, topic string, payload []byte) error {
	if len(payload) > MaxPayload {
		return fmt.Errorf("publish to %q: the message is %d bytes, more than the %d allowed", topic, len(payload), MaxPayload)
	}
	err := c.call(ctx, request{Op: "pub", Topic: topic, Payload: payload}, false, func(r *reply) (bool, error) {
		return r.OK, nil
	})
	if err != nil {
		return wrap(fmt.Sprintf("publish to %q", topic), err)
	}
	return nil
}

// Shadow runs a shadow operation (get, update, delete or list) on the host
// as the operator: an empty thing is the device's own, an empty name the
// classic shadow. It returns IoT Core's status and document (accepted or
// rejected).
func (c *Client) Shadow(ctx context.Context, op, thing, name string, payload []byte) (int, []byte, error) {
	var code int
	var doc []byte
	err := c.call(ctx, request{Op: "shadow", Shadow: op, Thing: thing, Name: name, Payload: payload}, false, func(r *reply) (bool, error) {
		code, doc = r.Code, r.Payload
		return code != 0, nil
	})
	if err != nil {
		return 0, nil, wrap("shadow "+op, err)
	}
	return code, doc, nil
}

// CloudPublish sends payload to topic on the cloud link as the device, at
// qos 0 or 1; it returns once the host acknowledged a QoS 1 message as
// sent or spooled.
func (c *Client) CloudPublish(ctx context.Context, topic string, payload []byte, qos byte) error {
	if len(payload) > MaxPayload {
		return fmt.Errorf("cloud publish to %q: the message is %d bytes, more than the %d allowed", topic, len(payload), MaxPayload)
	}
	err := c.call(ctx, request{Op: "cloud_pub", Topic: topic, Payload: payload, QoS: qos}, false, func(r *reply) (bool, error) {
		return r.OK, nil
	})
	if err != nil {
		return wrap(fmt.Sprintf("cloud publish to %q", topic), err)
	}
	return nil
}

// Subscribe calls fn, in the calling goroutine, for each message on the
// host's local bus that matches filter (MQTT wildcards + and #). It blocks
// until ctx is done, which returns nil, or until the subscription fails or
// the host goes away, which returns an error. Once ctx is done fn is not
// called again.
func (c *Client) Subscribe(ctx context.Context, filter string, fn func(topic string, payload []byte)) error {
	err := c.call(ctx, request{Op: "sub", Filter: filter}, true, func(r *reply) (bool, error) {
		switch {
		case r.Topic != "":
			fn(r.Topic, r.Payload)
		case r.Dropped > 0 && c.OnDrop != nil:
			c.OnDrop(r.Dropped)
		}
		return false, nil
	})
	if err != nil {
		return wrap(fmt.Sprintf("subscribe to %q", filter), err)
	}
	return nil
}

// Logs calls fn, in the calling goroutine, for the last tail records of
// component ("" for all components; tail < 0 for every buffered record),
// oldest first. Without follow it then returns; with follow it goes on with
// new records until ctx is done, which returns nil, or the host goes away.
func (c *Client) Logs(ctx context.Context, component string, tail int, follow bool, fn func(logs.Record)) error {
	req := request{Op: "logs", Component: component, Tail: &tail, Follow: follow}
	err := c.call(ctx, req, follow, func(r *reply) (bool, error) {
		if r.Record != nil {
			fn(*r.Record)
		}
		return r.End, nil
	})
	if err != nil {
		return wrap("logs", err)
	}
	return nil
}

// wrap prefixes err with what the client was doing, except when the host
// could not be reached at all: that message says everything, and it reads
// the same whatever the command.
func wrap(what string, err error) error {
	var ue *UnreachableError
	if errors.As(err, &ue) {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// call sends req on a new connection and hands each reply line to fn until
// fn reports done. A stream (one that only ends when ctx does) returns nil
// when ctx is done; any other call returns ctx's error.
func (c *Client) call(ctx context.Context, req request, stream bool, fn func(*reply) (done bool, err error)) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.Path)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// "dial unix PATH: connect: ENOENT" says PATH twice once wrapped;
		// keep the syscall part only.
		var oe *net.OpError
		if errors.As(err, &oe) {
			err = oe.Err
		}
		return &UnreachableError{Path: c.Path, Err: err}
	}
	defer conn.Close()
	// Closing the connection is what interrupts a blocked read or write.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	ended := func(err error) error {
		if ctx.Err() != nil {
			if stream {
				return nil
			}
			return ctx.Err()
		}
		return err
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return ended(fmt.Errorf("sending the request: %w", err))
	}
	dec := json.NewDecoder(conn)
	for {
		var r reply
		if err := dec.Decode(&r); err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("the moss host closed the connection")
			} else {
				err = fmt.Errorf("reading the reply: %w", err)
			}
			return ended(err)
		}
		if ctx.Err() != nil {
			return ended(nil)
		}
		if r.Error != "" {
			return &RemoteError{Msg: r.Error}
		}
		done, err := fn(&r)
		if err != nil || done {
			return err
		}
	}
}

// SetSecret stores a secret on the host (encrypted at rest there).
func (c *Client) SetSecret(ctx context.Context, name string, value []byte) error {
	err := c.call(ctx, request{Op: "secret_set", Name: name, Value: value}, false, func(r *reply) (bool, error) {
		return r.OK, nil
	})
	if err != nil {
		return wrap(fmt.Sprintf("set secret %q", name), err)
	}
	return nil
}

// SecretNames lists the names of the secrets set on the host.
func (c *Client) SecretNames(ctx context.Context) ([]string, error) {
	var names []string
	err := c.call(ctx, request{Op: "secret_list"}, false, func(r *reply) (bool, error) {
		if r.Secrets != nil {
			names = r.Secrets
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return nil, wrap("list secrets", err)
	}
	if names == nil {
		names = []string{}
	}
	return names, nil
}
