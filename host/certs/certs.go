// Package certs handles the X.509 material of the link to AWS IoT Core:
// it checks a device's certificate, private key and root CA before the host
// uses them (Check), builds the client TLS configuration from them
// (TLSConfig), and creates a development CA with device and server
// certificates for tests and for trying Moss against a local Mosquitto
// without an AWS account (Dev).
//
// Two different CAs are involved with IoT Core, and they are easy to mix
// up. The root CA file (AmazonRootCA1.pem) is the CA that signed the
// *server's* certificate; the client uses it to verify the broker. The
// device certificate is signed by the account's CA (or by AWS's own issuing
// CA), which the device never needs. So Check does not require the root CA
// to verify the device certificate; it only reports when it does, which
// happens with the development set where one CA signs everything.
//
// Keys are read in the three PEM encodings found in the field: PKCS#1
// ("RSA PRIVATE KEY", what IoT Core hands out), SEC1 ("EC PRIVATE KEY",
// what openssl ecparam writes) and PKCS#8 ("PRIVATE KEY"). A private key
// file must not be accessible by group or others (secret.CheckPrivate),
// since whoever reads it can act as the device.
package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/moss-edge/moss/host/secret"
)

// maxPEMFile bounds what is read from a certificate or key file: a chain or
// a CA bundle is a few KiB, and a huge file is a mistake, not a bundle.
const maxPEMFile = 1 << 20

// Report is what Check found out about a device's certificate, key and root
// CA. Fields Check could not determine are zero.
type Report struct {
	Cert, Key, RootCA string // the files, as given

	Subject   string // device certificate's subject, e.g. "CN=my-thing"
	Issuer    string // who signed it (the account's CA or AWS's)
	NotBefore time.Time
	NotAfter  time.Time
	// DaysLeft is the number of whole days from now to NotAfter; negative
	// once the certificate has expired.
	DaysLeft int

	// KeyType describes the private key, e.g. "ECDSA P-256" or "RSA 2048".
	KeyType string
	// KeyMatches reports that the private key is the certificate's.
	KeyMatches bool

	// RootCAs are the subjects of the CA certificates in the root CA file.
	RootCAs []string
	// RootCAVerifiesCert reports that the root CA also signed the device
	// certificate, as in a development setup (Dev). With IoT Core it is
	// normally false, and that is not a problem: see the package comment.
	RootCAVerifiesCert bool
}

// Check examines the device certificate cert, its private key key and the
// root CA file rootCA as of now: the key must be private to its owner and
// match the certificate, the certificate must be valid at now, and rootCA
// must hold at least one CA certificate valid at now. It returns every
// problem at once, joined, each naming its file, along with a Report of
// everything it could read (never nil).
func Check(cert, key, rootCA string, now time.Time) (*Report, error) {
	r := &Report{Cert: cert, Key: key, RootCA: rootCA}
	var errs []error

	chain, err := readCerts(cert)
	if err != nil {
		errs = append(errs, err)
	} else {
		leaf := chain[0]
		r.Subject = leaf.Subject.String()
		r.Issuer = leaf.Issuer.String()
		r.NotBefore, r.NotAfter = leaf.NotBefore, leaf.NotAfter
		r.DaysLeft = daysUntil(now, leaf.NotAfter)
		errs = append(errs, checkValidity(cert, "certificate", leaf, now))
		if !allowsClientAuth(leaf) {
			errs = append(errs, fmt.Errorf("%s: the certificate's extended key usage does not include client authentication, so a broker will refuse it", cert))
		}
	}

	// The mode is checked even when the key does not parse: a leaked
	// file is a problem whatever it holds. A missing one is readKey's to
	// report.
	if err := secret.CheckPrivate(key); !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	priv, err := readKey(key)
	if err != nil {
		errs = append(errs, err)
	} else {
		r.KeyType = keyType(priv.Public())
		if chain != nil {
			if err := matchKey(cert, chain[0], key, priv); err != nil {
				errs = append(errs, err)
			} else {
				r.KeyMatches = true
			}
		}
	}

	roots, err := readCAs(rootCA, now)
	if err != nil {
		errs = append(errs, err)
	}
	for _, ca := range roots {
		r.RootCAs = append(r.RootCAs, ca.Subject.String())
	}
	if chain != nil && len(roots) > 0 {
		r.RootCAVerifiesCert = verifies(chain, roots, now)
	}
	return r, errors.Join(errs...)
}

// TLSConfig returns the client TLS configuration for the MQTT link: the
// device certificate (with any intermediates in the same file) and key,
// trusting only the CAs in rootCA, verifying the broker as serverName (a
// host name or an IP address), TLS 1.2 or later, offering the ALPN
// protocols alpn (IoT Core on port 443 needs "x-amzn-mqtt-ca"). The key
// file gets the same privacy check as in Check. Expiry is not checked here:
// the handshake reports it, and a renewed certificate may yet be installed.
func TLSConfig(cert, key, rootCA, serverName string, alpn []string) (*tls.Config, error) {
	if serverName == "" {
		return nil, errors.New("tls: no server name to verify the broker's certificate against")
	}
	chain, err := readCerts(cert)
	if err != nil {
		return nil, err
	}
	if err := secret.CheckPrivate(key); err != nil {
		return nil, err
	}
	priv, err := readKey(key)
	if err != nil {
		return nil, err
	}
	if err := matchKey(cert, chain[0], key, priv); err != nil {
		return nil, err
	}
	pool, err := readPool(rootCA)
	if err != nil {
		return nil, err
	}
	tc := tls.Certificate{PrivateKey: priv, Leaf: chain[0]}
	for _, c := range chain {
		tc.Certificate = append(tc.Certificate, c.Raw)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{tc},
		RootCAs:      pool,
		ServerName:   serverName,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   append([]string(nil), alpn...),
	}, nil
}

// readPEM reads file and decodes its PEM blocks, failing with a hint when
// it holds none (DER files are the usual culprit).
func readPEM(file string) ([]*pem.Block, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err // *PathError names the file
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(data) > maxPEMFile {
		return nil, fmt.Errorf("%s: larger than %d bytes; not a certificate or key file", file, maxPEMFile)
	}
	var blocks []*pem.Block
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks = append(blocks, b)
	}
	if len(blocks) == 0 {
		return nil, fmt.Errorf("%s: no PEM data (a DER file converts with: openssl x509 -inform der -in %s -out %s.pem)", file, file, file)
	}
	return blocks, nil
}

// readCerts returns the certificates in file, leaf first.
func readCerts(file string) ([]*x509.Certificate, error) {
	blocks, err := readPEM(file)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for _, b := range blocks {
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", file, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: holds %s, not a CERTIFICATE", file, describe(blocks))
	}
	return certs, nil
}

// readKey returns the first private key in file, in any of PKCS#1, SEC1
// or PKCS#8.
func readKey(file string) (crypto.Signer, error) {
	blocks, err := readPEM(file)
	if err != nil {
		return nil, err
	}
	for _, b := range blocks {
		var k any
		switch b.Type {
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("%s: the private key is encrypted with a passphrase, which the host cannot type; decrypt it with: openssl pkey -in %s -out %s.plain", file, file, file)
		default:
			continue // e.g. the "EC PARAMETERS" openssl ecparam writes first
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", file, b.Type, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%s: unsupported private key type %T", file, k)
		}
		return s, nil
	}
	hint := ""
	for _, b := range blocks {
		if b.Type == "PUBLIC KEY" || b.Type == "RSA PUBLIC KEY" {
			hint = " (IoT Core gives the public and the private key: use the one ending private.pem.key)"
		}
	}
	return nil, fmt.Errorf("%s: holds %s, not a private key%s", file, describe(blocks), hint)
}

// readCAs returns the CA certificates in file, failing unless at least one
// is valid at now.
func readCAs(file string, now time.Time) ([]*x509.Certificate, error) {
	all, err := readCerts(file)
	if err != nil {
		return nil, err
	}
	var cas []*x509.Certificate
	var valid bool
	for _, c := range all {
		if c.BasicConstraintsValid && c.IsCA {
			cas = append(cas, c)
			valid = valid || !now.Before(c.NotBefore) && !now.After(c.NotAfter)
		}
	}
	switch {
	case len(cas) == 0:
		return nil, fmt.Errorf("%s: none of its %d certificate(s) is a CA certificate (is it the device certificate? the root CA is AmazonRootCA1.pem for IoT Core)", file, len(all))
	case !valid:
		return cas, fmt.Errorf("%s: no CA certificate in it is valid on %s", file, now.UTC().Format(time.DateOnly))
	}
	return cas, nil
}

func readPool(file string) (*x509.CertPool, error) {
	all, err := readCerts(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range all {
		pool.AddCert(c)
	}
	return pool, nil
}

// describe names what PEM blocks hold, for "holds X, not Y" errors.
func describe(blocks []*pem.Block) string {
	var b bytes.Buffer
	for i, bl := range blocks {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("a " + bl.Type)
	}
	return b.String()
}

func checkValidity(file, what string, c *x509.Certificate, now time.Time) error {
	switch {
	case now.Before(c.NotBefore):
		return fmt.Errorf("%s: the %s is not valid until %s (is the clock right? it says %s)", file, what, c.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case now.After(c.NotAfter):
		return fmt.Errorf("%s: the %s expired on %s (%s ago)", file, what, c.NotAfter.UTC().Format(time.RFC3339), days(-daysUntil(now, c.NotAfter)))
	}
	return nil
}

func daysUntil(now, t time.Time) int { return int(t.Sub(now) / (24 * time.Hour)) }

func days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

// allowsClientAuth reports whether c may authenticate a TLS client: no
// extended key usage at all means any use.
func allowsClientAuth(c *x509.Certificate) bool {
	if len(c.ExtKeyUsage) == 0 {
		return true
	}
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

func matchKey(certFile string, c *x509.Certificate, keyFile string, k crypto.Signer) error {
	pub, ok := k.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(c.PublicKey) {
		why := "it is another certificate's key"
		if kt, ct := keyType(k.Public()), keyType(c.PublicKey); kt != ct {
			why = fmt.Sprintf("an %s key; the certificate is for an %s key", kt, ct)
		}
		return fmt.Errorf("%s: the private key does not match the certificate %s (%s)", keyFile, certFile, why)
	}
	return nil
}

func verifies(chain, roots []*x509.Certificate, now time.Time) bool {
	opts := x509.VerifyOptions{
		Roots:         x509.NewCertPool(),
		Intermediates: x509.NewCertPool(),
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	for _, r := range roots {
		opts.Roots.AddCert(r)
	}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := chain[0].Verify(opts)
	return err == nil
}

func keyType(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}
