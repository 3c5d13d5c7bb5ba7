package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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
	"time"
)

// Names of the files Dev writes. The device files are named as IoT Core
// names what it hands out, so the [cloud] section looks the same with
// either.
const (
	CAFile         = "ca.pem"
	CAKeyFile      = "ca.key"
	DeviceCertFile = "device.pem.crt"
	DeviceKeyFile  = "private.pem.key"
	ServerCertFile = "server.pem"
	ServerKeyFile  = "server.key"
)

// DefaultThingName is the device certificate's common name when
// DevOptions.ThingName is empty.
const DefaultThingName = "moss-dev"

// DevOptions configures Dev. The zero value is a valid configuration.
type DevOptions struct {
	// ThingName is the device certificate's common name, which a broker
	// with use_identity_as_username (Mosquitto) takes as the user name;
	// default DefaultThingName.
	ThingName string
	// Hosts are extra DNS names or IP addresses for the server
	// certificate, beside localhost, 127.0.0.1 and ::1.
	Hosts []string
	// Validity is how long the device and server certificates are valid;
	// default one year.
	Validity time.Duration
	// CAValidity is how long the CA is valid; default ten years.
	CAValidity time.Duration
	// NotBefore starts every certificate's validity; default five minutes
	// ago, so a device whose clock is a little behind accepts them. A
	// past NotBefore with a short Validity makes expired certificates for
	// tests.
	NotBefore time.Time
	// Force overwrites existing files; without it Dev refuses to touch a
	// directory that already holds any of them.
	Force bool
}

// DevSet is what Dev wrote: absolute paths of the files.
type DevSet struct {
	Dir       string
	ThingName string // the device certificate's common name

	CA, CAKey string // the self-signed CA that signed the two others
	// Cert and Key are the device's client certificate and private key:
	// cloud.cert and cloud.key in the host configuration (with CA as
	// cloud.root_ca).
	Cert, Key string
	// ServerCert and ServerKey are for a local broker (Mosquitto's
	// certfile and keyfile).
	ServerCert, ServerKey string
}

// Dev creates a development CA under dir (created if missing) and signs
// with it a client certificate for the thing and a server certificate for a
// broker on this machine; see the file names above. All keys are ECDSA
// P-256, written with mode 0600; certificates get mode 0644.
//
// It is for tests and for trying Moss with a local Mosquitto; IoT Core
// does not know this CA unless it is registered there. Each call makes a
// new, unrelated CA, so calling Dev on a second directory gives the
// certificates a broker must refuse.
func Dev(dir string, opts DevOptions) (*DevSet, error) {
	if opts.ThingName == "" {
		opts.ThingName = DefaultThingName
	}
	if opts.Validity == 0 {
		opts.Validity = 365 * 24 * time.Hour
	}
	if opts.CAValidity == 0 {
		opts.CAValidity = 10 * 365 * 24 * time.Hour
	}
	if opts.Validity < 0 || opts.CAValidity < 0 {
		return nil, errors.New("certs: negative validity")
	}
	if opts.NotBefore.IsZero() {
		opts.NotBefore = time.Now().Add(-5 * time.Minute)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	set := &DevSet{
		Dir:        abs,
		ThingName:  opts.ThingName,
		CA:         filepath.Join(abs, CAFile),
		CAKey:      filepath.Join(abs, CAKeyFile),
		Cert:       filepath.Join(abs, DeviceCertFile),
		Key:        filepath.Join(abs, DeviceKeyFile),
		ServerCert: filepath.Join(abs, ServerCertFile),
		ServerKey:  filepath.Join(abs, ServerKeyFile),
	}
	files := []string{set.CA, set.CAKey, set.Cert, set.Key, set.ServerCert, set.ServerKey}
	if !opts.Force {
		// All up front, so a refused call writes nothing.
		var errs []error
		for _, f := range files {
			if _, err := os.Lstat(f); err == nil {
				errs = append(errs, fmt.Errorf("%s already exists; use --force (DevOptions.Force) to replace the whole set", f))
			}
		}
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
	}

	data, err := generate(opts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, err
	}
	for i, f := range files {
		mode := fs.FileMode(0o644)
		if i%2 == 1 { // every other file is a key
			mode = 0o600
		}
		if err := writeFile(f, data[i], mode, opts.Force); err != nil {
			// Leave no half set behind (what was overwritten is gone).
			for _, g := range files[:i] {
				os.Remove(g)
			}
			return nil, err
		}
	}
	return set, nil
}

// generate returns the PEM files of a development set, in the order CA,
// CA key, device certificate, device key, server certificate, server key.
func generate(opts DevOptions) ([6][]byte, error) {
	var out [6][]byte
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return out, err
	}
	// A random suffix tells two development CAs apart in error messages
	// and in "moss certs check".
	id := make([]byte, 4)
	if _, err := rand.Read(id); err != nil {
		return out, err
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"Moss development"}, CommonName: "Moss development CA " + hex.EncodeToString(id)},
		NotBefore:             opts.NotBefore,
		NotAfter:              opts.NotBefore.Add(opts.CAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := sign(caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return out, fmt.Errorf("certs: CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return out, err
	}

	leaf := func(tmpl *x509.Certificate) ([]byte, []byte, error) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl.NotBefore = opts.NotBefore
		tmpl.NotAfter = opts.NotBefore.Add(opts.Validity)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := sign(tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			return nil, nil, err
		}
		kp, err := keyPEM(k)
		return certPEM(der), kp, err
	}

	device := &x509.Certificate{
		Subject:     pkix.Name{Organization: []string{"Moss development"}, CommonName: opts.ThingName},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	server := &x509.Certificate{
		Subject:     pkix.Name{Organization: []string{"Moss development"}, CommonName: "localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, h := range opts.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			server.IPAddresses = append(server.IPAddresses, ip)
		} else if h != "" {
			server.DNSNames = append(server.DNSNames, h)
		}
	}
	caKeyPEM, err := keyPEM(caKey)
	if err != nil {
		return out, err
	}
	out[0], out[1] = certPEM(caDER), caKeyPEM
	if out[2], out[3], err = leaf(device); err != nil {
		return out, fmt.Errorf("certs: device certificate: %w", err)
	}
	if out[4], out[5], err = leaf(server); err != nil {
		return out, fmt.Errorf("certs: server certificate: %w", err)
	}
	return out, nil
}

func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	return x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
}

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

// writeFile writes data to file with mode. Without force it never replaces
// a file (O_EXCL). With force it writes a temporary file and renames it
// over the old one, so the old file's mode (a key once chmod 644) does not
// carry over and a crash leaves either the old file or the new one.
func writeFile(file string, data []byte, mode fs.FileMode, force bool) error {
	if !force {
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if err != nil {
			return err
		}
		_, werr := f.Write(data)
		if err := errors.Join(werr, f.Close()); err != nil {
			return fmt.Errorf("write %s: %w", file, err)
		}
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	err = errors.Join(werr, f.Chmod(mode), f.Close())
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}
