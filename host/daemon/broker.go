package daemon

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/moss-edge/moss/host/admin"
	"github.com/moss-edge/moss/host/broker"
	"github.com/moss-edge/moss/host/clientauth"
	"github.com/moss-edge/moss/host/config"
	"github.com/moss-edge/moss/host/store"
)

// clientCADir is where the client devices' CA lives under the data dir.
const clientCADir = "clientca"

// openClientAuth builds the client devices' authority from [broker]; it is
// also what the admin operations of "moss clients" use.
func openClientAuth(dataDir string, cfg *config.Broker, db *store.Store, log *slog.Logger) (*clientauth.Authority, error) {
	var groups []clientauth.Group
	extra := ""
	if cfg != nil {
		extra = cfg.ExtraCA
		for _, g := range cfg.Groups {
			grp, err := clientauth.LoadGroup(g.Name, g.Select, g.Policies)
			if err != nil {
				return nil, fmt.Errorf("broker: %w", err)
			}
			groups = append(groups, grp)
		}
	}
	return clientauth.Open(clientauth.Options{
		Dir: filepath.Join(dataDir, clientCADir), Store: db, ExtraCA: extra, Groups: groups, Logger: log,
	})
}

// startBroker starts the client devices' broker when [broker] is
// configured; it returns nil, nil when it is not.
func (d *Daemon) startBroker(db *store.Store) (*broker.Broker, error) {
	cfg := d.cfg.Broker
	if cfg == nil {
		return nil, nil
	}
	auth, err := openClientAuth(d.cfg.DataDir, cfg, db, d.log.With("service", "clientauth"))
	if err != nil {
		return nil, err
	}
	b, err := broker.New(broker.Options{
		Auth: auth, Bus: d.bus, TLSAddress: cfg.Listen, Hosts: cfg.Hosts, TCPAddress: cfg.TCP,
		Logger: d.log.With("service", "broker"),
	})
	if err != nil {
		return nil, err
	}
	if err := b.Start(); err != nil {
		b.Close()
		return nil, err
	}
	d.clients = &clientDevices{auth: auth, broker: b}
	d.log.Info("broker: listening for client devices", "tls", b.TLSAddr().String())
	return b, nil
}

// clientDevices is the admin socket's view of the client devices.
type clientDevices struct {
	auth   *clientauth.Authority
	broker *broker.Broker
}

// Clients implements admin.ClientsBackend.
func (d *Daemon) Clients() admin.Clients {
	if d.clients == nil {
		return nil
	}
	return d.clients
}

var _ admin.ClientsBackend = (*Daemon)(nil)

func (c *clientDevices) Issue(thing string) (admin.ClientCert, error) {
	is, err := c.auth.IssueClient(thing)
	if err != nil {
		return admin.ClientCert{}, err
	}
	return admin.ClientCert{Thing: is.Thing, Serial: is.Serial, Cert: is.Cert, Key: is.Key, CA: is.CA}, nil
}

func (c *clientDevices) Revoke(thing string) (int, error) { return c.auth.Revoke(thing) }

func (c *clientDevices) Check(thing, clientID, action, resource string) admin.ClientDecision {
	if clientID == "" {
		clientID = thing
	}
	d := c.auth.Check(thing, clientID, clientauth.Action(action), resource)
	groups := c.auth.Groups(thing)
	if groups == nil {
		groups = []string{}
	}
	return admin.ClientDecision{Allowed: d.Allowed, Explanation: d.String(), Groups: groups}
}

func (c *clientDevices) Connected() []admin.ClientInfo {
	var out []admin.ClientInfo
	for _, ci := range c.broker.Clients() {
		out = append(out, admin.ClientInfo{ClientID: ci.ClientID, Thing: ci.Thing, Remote: ci.Remote, Protocol: ci.Protocol, Subscriptions: ci.Subscriptions})
	}
	return out
}
