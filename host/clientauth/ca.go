package clientauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	caCertFile     = "ca.pem"
	caKeyFile      = "ca.key"
	serverCertFile = "server.pem"
	serverKeyFile  = "server.key"
	caValidity     = 20 * 365 * 24 * time.Hour
	// clockSkew backdates NotBefore so a device whose clock is a little
	// behind the host's accepts a certificate issued a moment ago.
	clockSkew = time.Hour
)

type ca struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
	dir     string
}

// loadCA reads the CA in dir or creates it there.
func loadCA(dir string, now time.Time) (*ca, error) {
	if dir == "" {
		return nil, errors.New("clientauth: no directory for the CA")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("clientauth: %w", err)
	}
	certFile, keyFile := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
	certPEM, err := os.ReadFile(certFile)
	if errors.Is(err, fs.ErrNotExist) {
		return createCA(dir, now)
	}
	if err != nil {
		return nil, fmt.Errorf("clientauth: %w", err)
	}
	if err := checkPrivate(keyFile); err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("clientauth: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("clientauth: CA in %s: %w", dir, err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("clientauth: %s: %w", certFile, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("clientauth: %s is not a CA certificate", certFile)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("clientauth: %s: key cannot sign", keyFile)
	}
	return &ca{cert: cert, certPEM: certPEM, key: signer, dir: dir}, nil
}

func checkPrivate(file string) error {
	fi, err := os.Stat(file)
	if err != nil {
		return fmt.Errorf("clientauth: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("clientauth: %s is accessible by group or others (mode %v); chmod 600 it", file, fi.Mode().Perm())
	}
	return nil
}

func createCA(dir string, now time.Time) (*ca, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 4)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"Moss"}, CommonName: "Moss client devices CA " + hex.EncodeToString(id)},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(caValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, _, err := sign(tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("clientauth: create CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyPEM, err := keyPEM(key)
	if err != nil {
		return nil, err
	}
	// The key first: a CA certificate without its key would be loaded
	// next time and fail; a key without a certificate is replaced.
	if err := writeFile(filepath.Join(dir, caKeyFile), keyPEM, 0o600); err != nil {
		return nil, err
	}
	certPEM := certPEM(der)
	if err := writeFile(filepath.Join(dir, caCertFile), certPEM, 0o644); err != nil {
		return nil, err
	}
	return &ca{cert: cert, certPEM: certPEM, key: key, dir: dir}, nil
}

// Issued is a client certificate and its key, in PEM.
type Issued struct {
	Thing   string
	Serial  string // hex
	Cert    []byte
	Key     []byte
	CA      []byte // the CA certificate, for the device to verify the broker
	NotOnOr time.Time
}

// IssueClient issues a client certificate with CN thing and records its
// serial, so that Revoke(thing) refuses it.
func (a *Authority) IssueClient(thing string) (*Issued, error) {
	if err := ValidThingName(thing); err != nil {
		return nil, err
	}
	now := a.opts.Now()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: thing},
		NotBefore:   now.Add(-clockSkew),
		NotAfter:    now.Add(a.opts.ClientValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, serial, err := sign(tmpl, a.ca.cert, &key.PublicKey, a.ca.key)
	if err != nil {
		return nil, fmt.Errorf("clientauth: issue %s: %w", thing, err)
	}
	kp, err := keyPEM(key)
	if err != nil {
		return nil, err
	}
	if err := a.opts.Store.Put(bucketIssued, serial, []byte(thing)); err != nil {
		return nil, fmt.Errorf("clientauth: issue %s: %w", thing, err)
	}
	return &Issued{Thing: thing, Serial: serial, Cert: certPEM(der), Key: kp, CA: a.CACertPEM(), NotOnOr: tmpl.NotAfter}, nil
}

// ValidThingName checks a thing name as IoT Core does: 1 to 128 of
// [a-zA-Z0-9:_-].
func ValidThingName(thing string) error {
	if thing == "" || len(thing) > 128 {
		return fmt.Errorf("clientauth: thing name %q: must be 1 to 128 characters", thing)
	}
	for _, r := range thing {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == ':' || r == '_' || r == '-') {
			return fmt.Errorf("clientauth: thing name %q: %q is not allowed (letters, digits, ':', '_', '-')", thing, r)
		}
	}
	return nil
}

// Revoke refuses, from now on, every certificate issued to thing by this CA,
// and every certificate of the extra CA for thing issued before now.
// It returns how many certificates of this CA it revoked.
func (a *Authority) Revoke(thing string) (int, error) {
	n := 0
	now := a.opts.Now()
	var serials []string
	err := a.opts.Store.View(bucketIssued, func(b *bolt.Bucket) error {
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if string(v) == thing {
				serials = append(serials, string(k))
			}
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("clientauth: revoke %s: %w", thing, err)
	}
	err = a.opts.Store.Update(bucketRevoked, func(b *bolt.Bucket) error {
		for _, s := range serials {
			if b.Get([]byte(s)) == nil {
				n++
			}
			if err := b.Put([]byte(s), []byte(thing)); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = a.opts.Store.Put(bucketThings, thing, []byte(now.UTC().Format(time.RFC3339Nano)))
	}
	if err != nil {
		return 0, fmt.Errorf("clientauth: revoke %s: %w", thing, err)
	}
	return n, nil
}

// Verify checks a client's certificate chain (leaf first, as presented in
// the TLS handshake) against the CA and the extra CA, and revocation, and
// returns the thing name (the leaf's CN).
func (a *Authority) Verify(chain []*x509.Certificate) (string, error) {
	if len(chain) == 0 {
		return "", errors.New("clientauth: no client certificate")
	}
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	roots := x509.NewCertPool()
	roots.AddCert(a.ca.cert)
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: a.opts.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	ours := true
	if _, err := leaf.Verify(opts); err != nil {
		if a.extra == nil {
			return "", fmt.Errorf("clientauth: %s: %w", leaf.Subject, err)
		}
		opts.Roots = a.extra
		if _, err2 := leaf.Verify(opts); err2 != nil {
			return "", fmt.Errorf("clientauth: %s: %w", leaf.Subject, err2)
		}
		ours = false
	}
	thing := leaf.Subject.CommonName
	if err := ValidThingName(thing); err != nil {
		return "", err
	}
	if ours {
		v, err := a.opts.Store.Get(bucketRevoked, serialHex(leaf.SerialNumber))
		if err == nil && v != nil {
			return "", fmt.Errorf("clientauth: %s (serial %s): %w", thing, serialHex(leaf.SerialNumber), ErrRevoked)
		}
		return thing, nil
	}
	if v, err := a.opts.Store.Get(bucketThings, thing); err == nil {
		at, perr := time.Parse(time.RFC3339Nano, string(v))
		if perr != nil || !leaf.NotBefore.After(at) {
			return "", fmt.Errorf("clientauth: %s: issued before its revocation: %w", thing, ErrRevoked)
		}
	}
	return thing, nil
}

// ClientCAs returns the pool of CAs whose client certificates the broker
// asks for in the handshake; Verify still decides.
func (a *Authority) ClientCAs() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.ca.cert)
	return p
}

// ServerCertificate returns the broker's certificate for hosts (names and
// addresses), issued by the CA and kept in the CA's directory. It issues a
// new one when none exists, the names changed, or a third of its validity is
// left.
func (a *Authority) ServerCertificate(hosts []string) (tls.Certificate, error) {
	now := a.opts.Now()
	dns, ips := splitHosts(hosts)
	certFile, keyFile := filepath.Join(a.ca.dir, serverCertFile), filepath.Join(a.ca.dir, serverKeyFile)
	if pair, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil {
		c, err := x509.ParseCertificate(pair.Certificate[0])
		if err == nil && c.CheckSignatureFrom(a.ca.cert) == nil &&
			c.NotAfter.Sub(now) > c.NotAfter.Sub(c.NotBefore)/3 &&
			slices.Equal(c.DNSNames, dns) && slices.EqualFunc(c.IPAddresses, ips, net.IP.Equal) {
			pair.Leaf = c
			return pair, nil
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	cn := "moss"
	if len(dns) > 0 {
		cn = dns[0]
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{Organization: []string{"Moss"}, CommonName: cn},
		NotBefore:   now.Add(-clockSkew),
		NotAfter:    now.Add(a.opts.ServerValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    dns,
		IPAddresses: ips,
	}
	der, _, err := sign(tmpl, a.ca.cert, &key.PublicKey, a.ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("clientauth: server certificate: %w", err)
	}
	kp, err := keyPEM(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	cp := certPEM(der)
	if err := writeFile(keyFile, kp, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFile(certFile, cp, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	a.log.Info("clientauth: issued the broker's server certificate", "dns", dns, "ip", ips, "not_after", tmpl.NotAfter)
	pair, err := tls.X509KeyPair(cp, kp)
	if err != nil {
		return tls.Certificate{}, err
	}
	pair.Leaf, _ = x509.ParseCertificate(der)
	return pair, nil
}

// splitHosts sorts hosts into DNS names and IP addresses; localhost and the
// loopback addresses are always included, so local tools can connect.
func splitHosts(hosts []string) ([]string, []net.IP) {
	dns := []string{"localhost"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if v4 := ip.To4(); v4 != nil {
				ip = v4
			}
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
		} else if h != "" && !slices.Contains(dns, h) {
			dns = append(dns, h)
		}
	}
	return dns, ips
}

func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) ([]byte, string, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, "", err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	return der, serialHex(serial), err
}

func serialHex(n *big.Int) string { return n.Text(16) }

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func keyPEM(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func readPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", file)
	}
	return p, nil
}

// writeFile writes a temporary file and renames it over file, so a crash
// leaves the old file or the new one, with mode from the start.
func writeFile(file string, data []byte, mode fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return fmt.Errorf("clientauth: %w", err)
	}
	tmp := f.Name()
	err = f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("clientauth: write %s: %w", file, err)
	}
	return nil
}
