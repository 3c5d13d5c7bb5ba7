package broker

import (
	"bytes"
	"crypto/tls"
	"net"
	"strings"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/moss-edge/moss/host/clientauth"
)

// hook is where mochi asks the broker: authentication, authorisation and
// the way into the bus.
type hook struct {
	mqtt.HookBase
	b *Broker
	// things maps a connected *mqtt.Client to its thing name.
	things sync.Map
	// subscribing holds, while a SUBSCRIBE is processed, the decision for
	// each of its filters: mochi asks OnACLCheck(write=false) both for a
	// subscription's filter and for each delivery's topic, and this is how
	// the two are told apart (see OnACLCheck).
	subscribing sync.Map // *mqtt.Client -> map[string]bool
}

func (h *hook) ID() string { return "moss-clientauth" }

func (h *hook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnDisconnect,
		mqtt.OnSubscribe, mqtt.OnSubscribed, mqtt.OnPublish, mqtt.OnPublished,
	}, []byte{b})
}

// identity returns the thing name of cl: its certificate's CN on TLS, its
// client id on the plain listener from loopback, else "".
func identity(cl *mqtt.Client) string {
	if tc, ok := cl.Net.Conn.(*tls.Conn); ok {
		if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
			return certs[0].Subject.CommonName
		}
		return ""
	}
	if cl.Net.Conn == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(cl.Net.Remote)
	if ip := net.ParseIP(host); err == nil && ip != nil && ip.IsLoopback() {
		return cl.ID
	}
	return ""
}

func (h *hook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	thing := identity(cl)
	if thing == "" {
		h.refuse(cl, packets.ErrNotAuthorized, "no identity")
		return packets.ErrNotAuthorized
	}
	d := h.b.opts.Auth.Check(thing, cl.ID, clientauth.Connect, "client/"+cl.ID)
	if !d.Allowed {
		h.refuse(cl, packets.ErrClientIdentifierNotValid, d.String())
		return packets.ErrClientIdentifierNotValid
	}
	if cl.ID != thing {
		// IoT Core lets a policy allow other client ids; the issue asks for
		// the id to match the thing unless the policy allows otherwise,
		// which the Connect check above has just said.
		h.b.log.Info("broker: client id differs from its thing name, allowed by policy", "client", cl.ID, "thing", thing, "by", d.String())
	}
	h.things.Store(cl, thing)
	return nil
}

func (h *hook) refuse(cl *mqtt.Client, code packets.Code, why string) {
	h.b.log.Warn("broker: connection refused", "client", cl.ID, "remote", cl.Net.Remote, "reason", code.Reason, "why", why)
	_ = h.b.srv.SendConnack(cl, code, false, nil)
}

func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, _ packets.Packet) bool {
	_, ok := h.things.Load(cl)
	return ok
}

func (h *hook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.things.Delete(cl)
}

func (h *hook) thing(cl *mqtt.Client) string {
	t, _ := h.things.Load(cl)
	s, _ := t.(string)
	return s
}

func (h *hook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	thing := h.thing(cl)
	m := make(map[string]bool, len(pk.Filters))
	for _, f := range pk.Filters {
		ok := h.b.opts.Auth.Check(thing, cl.ID, clientauth.Subscribe, "topicfilter/"+f.Filter).Allowed
		if ok && !strings.ContainsAny(f.Filter, "+#") {
			// A delivery on a literal filter's topic could arrive while
			// this SUBSCRIBE is being processed and be judged by this
			// map, so it must satisfy iot:Receive too.
			ok = h.b.opts.Auth.Check(thing, cl.ID, clientauth.Receive, "topic/"+f.Filter).Allowed
		}
		m[f.Filter] = ok
	}
	h.subscribing.Store(cl, m)
	return pk
}

func (h *hook) OnSubscribed(cl *mqtt.Client, _ packets.Packet, _ []byte) {
	h.subscribing.Delete(cl)
}

// OnACLCheck decides iot:Publish (write) and, for reads, iot:Subscribe
// while cl's SUBSCRIBE is processed and iot:Receive otherwise.
func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	thing := h.thing(cl)
	if write {
		return h.b.opts.Auth.Check(thing, cl.ID, clientauth.Publish, "topic/"+topic).Allowed
	}
	if m, ok := h.subscribing.Load(cl); ok {
		if allowed, ok := m.(map[string]bool)[topic]; ok {
			return allowed
		}
	}
	return h.b.opts.Auth.Check(thing, cl.ID, clientauth.Receive, "topic/"+topic).Allowed
}

// OnPublish refuses a retained publish without iot:RetainPublish.
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || !pk.FixedHeader.Retain {
		return pk, nil
	}
	if !h.b.opts.Auth.Check(h.thing(cl), cl.ID, clientauth.RetainPublish, "topic/"+pk.TopicName).Allowed {
		if cl.Properties.ProtocolVersion == 5 && pk.FixedHeader.Qos > 0 {
			return pk, packets.ErrNotAuthorized // PUBACK/PUBREC 0x87
		}
		return pk, packets.ErrRejectPacket // dropped: MQTT 3 has no negative ack
	}
	return pk, nil
}

// OnPublished puts a device's message on the bus. Messages the broker
// injected from the bus (the inline client) are not put back.
func (h *hook) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	if cl.Net.Inline {
		return
	}
	h.b.toBus(pk.TopicName, pk.Payload)
}
