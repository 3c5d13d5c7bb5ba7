package admin

import (
	"context"
	"fmt"
)

// Clients is the client devices' side of the host (host/clientauth and
// host/broker) as the admin socket uses it.
type Clients interface {
	Issue(thing string) (ClientCert, error)
	Revoke(thing string) (revoked int, err error)
	Check(thing, clientID, action, resource string) ClientDecision
	Connected() []ClientInfo
}

// ClientsBackend is a Backend that has client devices; a Backend without
// it answers "clients" requests with an error.
type ClientsBackend interface {
	// Clients returns nil while the broker is not configured.
	Clients() Clients
}

// ClientCert is an issued client certificate, in PEM.
type ClientCert struct {
	Thing  string `json:"thing"`
	Serial string `json:"serial"`
	Cert   []byte `json:"cert"`
	Key    []byte `json:"key"`
	CA     []byte `json:"ca"`
}

// ClientDecision is what "clients check" answers.
type ClientDecision struct {
	Allowed     bool     `json:"allowed"`
	Explanation string   `json:"explanation"`
	Groups      []string `json:"groups"`
}

// ClientInfo is one connected client device.
type ClientInfo struct {
	ClientID      string   `json:"client_id"`
	Thing         string   `json:"thing"`
	Remote        string   `json:"remote"`
	Protocol      byte     `json:"protocol"`
	Subscriptions []string `json:"subscriptions"`
}

// ClientsRequest is the "clients" field of a clients request.
type ClientsRequest struct {
	Op       string `json:"op"` // cert, revoke, check, list
	Thing    string `json:"thing,omitempty"`
	ClientID string `json:"client_id,omitempty"`
	Action   string `json:"action,omitempty"`
	Resource string `json:"resource,omitempty"`
}

// ClientsReply is the "clients" field of a reply.
type ClientsReply struct {
	Cert     *ClientCert     `json:"cert,omitempty"`
	Revoked  int             `json:"revoked,omitempty"`
	Decision *ClientDecision `json:"decision,omitempty"`
	List     []ClientInfo    `json:"list"`
}

func (s *Server) clients(c *conn, req request) error {
	cb, ok := s.backend.(ClientsBackend)
	var cl Clients
	if ok {
		cl = cb.Clients()
	}
	if cl == nil {
		return c.fail("clients: the broker for client devices is not configured ([broker] in the host's configuration)")
	}
	r := req.Clients
	if r == nil {
		return c.fail(`clients: "clients" is required`)
	}
	out := &ClientsReply{}
	switch r.Op {
	case "cert":
		cert, err := cl.Issue(r.Thing)
		if err != nil {
			return c.fail(err.Error())
		}
		out.Cert = &cert
	case "revoke":
		n, err := cl.Revoke(r.Thing)
		if err != nil {
			return c.fail(err.Error())
		}
		out.Revoked = n
	case "check":
		d := cl.Check(r.Thing, r.ClientID, r.Action, r.Resource)
		out.Decision = &d
	case "list":
		out.List = cl.Connected()
	default:
		return c.fail(fmt.Sprintf("clients: unknown op %q", r.Op))
	}
	if out.List == nil {
		out.List = []ClientInfo{}
	}
	if err := c.send(reply{Clients: out, End: true}); err != nil {
		return err
	}
	return c.flush()
}

// ClientsCall runs one clients operation on the host.
func (c *Client) ClientsCall(ctx context.Context, r ClientsRequest) (*ClientsReply, error) {
	var out *ClientsReply
	err := c.call(ctx, request{Op: "clients", Clients: &r}, false, func(rp *reply) (bool, error) {
		if rp.Clients != nil {
			out = rp.Clients
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return nil, wrap("clients "+r.Op, err)
	}
	return out, nil
}
