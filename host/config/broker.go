package config

import (
	"net"

	"github.com/moss-edge/moss/host/internal/tomlx"
)

// Broker configures the MQTT broker for client devices (host/broker); nil,
// the broker is off.
type Broker struct {
	// Listen is the TLS listener's address; default ":8883".
	Listen string `toml:"listen"`
	// Hosts are the names and addresses devices use to reach the host,
	// put in the broker's server certificate (localhost and loopback are
	// always there).
	Hosts []string `toml:"hosts"`
	// TCP opens a plain listener on this address: no certificates, for
	// local tools; only loopback clients get an identity. Off when empty.
	TCP string `toml:"tcp"`
	// ExtraCA is a PEM file of the devices' own CA (as registered with
	// IoT Core), whose client certificates are accepted too.
	ExtraCA string        `toml:"extra_ca"`
	Groups  []BrokerGroup `toml:"group"`
}

// BrokerGroup puts client devices into a group with IoT policies.
type BrokerGroup struct {
	Name string `toml:"name"`
	// Select is a selection rule, "thingName: sensor-*" (alternatives
	// joined by " OR ").
	Select string `toml:"select"`
	// Policies are AWS IoT policy JSON files.
	Policies []string `toml:"policies"`
}

func (c *Config) validateBroker(doc *tomlx.Doc) {
	b := c.Broker
	if b == nil {
		return
	}
	if b.Listen == "" {
		b.Listen = ":8883"
	}
	doc.Check(tomlx.Path{"broker", "listen"}, func() {
		if _, _, err := net.SplitHostPort(b.Listen); err != nil {
			doc.Errorf(tomlx.Path{"broker", "listen"}, "broker.listen %q: %v", b.Listen, err)
		}
	})
	doc.Check(tomlx.Path{"broker", "tcp"}, func() {
		if _, _, err := net.SplitHostPort(b.TCP); err != nil {
			doc.Errorf(tomlx.Path{"broker", "tcp"}, "broker.tcp %q: %v (e.g. \"127.0.0.1:1883\")", b.TCP, err)
		}
	})
	names := map[string]bool{}
	for i, g := range b.Groups {
		p := tomlx.Path{"broker", "group", i}
		switch {
		case g.Name == "":
			doc.Errorf(p, "broker.group %d has no name", i+1)
		case names[g.Name]:
			doc.Errorf(p, "broker.group %q defined twice", g.Name)
		case g.Select == "":
			doc.Errorf(p, "broker.group %q has no select rule (e.g. \"thingName: sensor-*\")", g.Name)
		}
		names[g.Name] = true
	}
}

func (c *Config) resolveBroker(baseDir string) {
	if c.Broker == nil {
		return
	}
	if c.Broker.ExtraCA != "" {
		c.Broker.ExtraCA = resolve(baseDir, c.Broker.ExtraCA)
	}
	for i := range c.Broker.Groups {
		for j, f := range c.Broker.Groups[i].Policies {
			c.Broker.Groups[i].Policies[j] = resolve(baseDir, f)
		}
	}
}
