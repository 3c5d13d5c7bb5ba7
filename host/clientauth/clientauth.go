// Package clientauth decides who the host's client devices are and what
// they may do on its MQTT broker: it keeps the local certificate authority
// for client devices (created on first use under the data directory, its
// key readable by the owner only), issues the broker's server certificate
// and the devices' client certificates, keeps revocations in the host's
// store, accepts certificates from one more CA the operator names (the
// devices' own, as registered with IoT Core), puts devices into groups by
// rules on the thing name, and evaluates AWS IoT policy documents
// (policy.go) for each group.
//
// A client's identity is its certificate's subject CN, the thing name. The
// broker asks this package; nothing else does.
//
// An Authority is safe for concurrent use.
package clientauth

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/moss-edge/moss/host/store"
)

// Store buckets. Issued serials are kept so that revoking a thing refuses
// every certificate this CA gave it; a revocation time per thing refuses
// certificates of the extra CA issued before it.
const (
	bucketIssued  = "clientauth.issued"  // serial (hex) -> thing name
	bucketRevoked = "clientauth.revoked" // serial (hex) -> thing name
	bucketThings  = "clientauth.things"  // thing name -> revocation time (RFC 3339)
)

// ErrRevoked is returned (wrapped) by Verify for a revoked certificate.
var ErrRevoked = errors.New("certificate revoked")

// Options configure an Authority.
type Options struct {
	// Dir holds the CA's files (ca.pem, ca.key) and the broker's server
	// certificate; created with mode 0700 when missing.
	Dir string
	// Store keeps issued serials and revocations.
	Store *store.Store
	// ExtraCA, when set, is a PEM file of CA certificates whose client
	// certificates are accepted as well.
	ExtraCA string
	// Groups put things into groups with policies. A thing in no group
	// may do nothing.
	Groups []Group
	// ClientValidity is how long a client certificate is valid; 0 means
	// ten years (firmware is rarely re-flashed).
	ClientValidity time.Duration
	// ServerValidity is how long the broker's server certificate is
	// valid; 0 means one year. It is renewed when a third of it is left.
	ServerValidity time.Duration
	Logger         *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Authority is the client devices' CA, revocation list, groups and policies.
type Authority struct {
	opts  Options
	ca    *ca
	extra *x509.CertPool
	log   *slog.Logger
}

// Open loads the CA from opts.Dir, creating it on first use.
func Open(opts Options) (*Authority, error) {
	if opts.Store == nil {
		return nil, errors.New("clientauth: no store")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ClientValidity == 0 {
		opts.ClientValidity = 10 * 365 * 24 * time.Hour
	}
	if opts.ServerValidity == 0 {
		opts.ServerValidity = 365 * 24 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c, err := loadCA(opts.Dir, opts.Now())
	if err != nil {
		return nil, err
	}
	a := &Authority{opts: opts, ca: c, log: opts.Logger}
	if opts.ExtraCA != "" {
		pool, err := readPool(opts.ExtraCA)
		if err != nil {
			return nil, fmt.Errorf("clientauth: extra CA: %w", err)
		}
		a.extra = pool
	}
	names := map[string]bool{}
	for _, g := range opts.Groups {
		if names[g.Name] {
			return nil, fmt.Errorf("clientauth: group %q defined twice", g.Name)
		}
		names[g.Name] = true
	}
	return a, nil
}

// CACertPEM returns the CA certificate, which devices use to verify the
// broker.
func (a *Authority) CACertPEM() []byte { return slices.Clone(a.ca.certPEM) }

// Groups returns the names of the groups thing belongs to, in
// configuration order.
func (a *Authority) Groups(thing string) []string {
	var out []string
	for _, g := range a.opts.Groups {
		if g.Selects(thing) {
			out = append(out, g.Name)
		}
	}
	return out
}

// policies returns the policies of every group thing belongs to.
func (a *Authority) policies(thing string) []*Policy {
	var out []*Policy
	for _, g := range a.opts.Groups {
		if g.Selects(thing) {
			out = append(out, g.Policies...)
		}
	}
	return out
}

// Check evaluates whether thing, connected with clientID, may do action on
// resource (a full ARN, or its resource part such as "topic/a/b").
func (a *Authority) Check(thing, clientID string, action Action, resource string) Decision {
	return Evaluate(a.policies(thing), Request{Thing: thing, ClientID: clientID, Action: action, Resource: resource})
}
