package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func dev(t *testing.T, opts DevOptions) *DevSet {
	t.Helper()
	set, err := Dev(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// wantErrs fails unless err mentions every one of wants (each a substring
// of one of the joined errors).
func wantErrs(t *testing.T, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %q", wants)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
}

func TestDevFilesAndModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs") // created by Dev
	set, err := Dev(dir, DevOptions{ThingName: "kitchen-sensor", Hosts: []string{"broker.lan", "10.0.0.7"}})
	if err != nil {
		t.Fatal(err)
	}
	for file, mode := range map[string]fs.FileMode{
		set.CA: 0o644, set.CAKey: 0o600, set.Cert: 0o644, set.Key: 0o600, set.ServerCert: 0o644, set.ServerKey: 0o600,
	} {
		if !filepath.IsAbs(file) || filepath.Dir(file) != set.Dir {
			t.Errorf("%s: not an absolute path in %s", file, set.Dir)
		}
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		// Group/other bits may only be cleared further by the umask.
		if got := fi.Mode().Perm(); got&^mode != 0 {
			t.Errorf("%s: mode %04o, want %04o", file, got, mode)
		}
	}

	device, err := readCerts(set.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if cn := device[0].Subject.CommonName; cn != "kitchen-sensor" {
		t.Errorf("device CN %q", cn)
	}
	if !slices.Equal(device[0].ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("device ExtKeyUsage %v", device[0].ExtKeyUsage)
	}
	if d := device[0].NotAfter.Sub(device[0].NotBefore); d != 365*24*time.Hour {
		t.Errorf("device validity %v, want a year", d)
	}
	ca, err := readCerts(set.CA)
	if err != nil {
		t.Fatal(err)
	}
	if d := ca[0].NotAfter.Sub(ca[0].NotBefore); !ca[0].IsCA || d != 10*365*24*time.Hour {
		t.Errorf("CA: IsCA %v, validity %v", ca[0].IsCA, d)
	}
	server, err := readCerts(set.ServerCert)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1", "broker.lan", "10.0.0.7"} {
		if err := server[0].VerifyHostname(h); err != nil {
			t.Errorf("server certificate: %v", err)
		}
	}
	if !slices.Equal(server[0].ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("server ExtKeyUsage %v", server[0].ExtKeyUsage)
	}

	r, err := Check(set.Cert, set.Key, set.CA, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !r.KeyMatches || !r.RootCAVerifiesCert || r.KeyType != "ECDSA P-256" || r.DaysLeft != 364 ||
		r.Subject != "CN=kitchen-sensor,O=Moss development" || !strings.HasPrefix(r.Issuer, "CN=Moss development CA ") ||
		len(r.RootCAs) != 1 || r.RootCAs[0] != r.Issuer {
		t.Errorf("report %+v", r)
	}
}

func TestDevRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	first, err := Dev(dir, DevOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(first.CA)
	_, err = Dev(dir, DevOptions{})
	wantErrs(t, err, first.CA+" already exists", first.Key+" already exists", "--force")
	if after, _ := os.ReadFile(first.CA); string(after) != string(before) {
		t.Fatal("a refused Dev changed ca.pem")
	}

	// Only one file present is enough to refuse, and the others are not
	// created.
	dir2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir2, DeviceKeyFile), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Dev(dir2, DevOptions{})
	wantErrs(t, err, DeviceKeyFile+" already exists")
	if _, err := os.Stat(filepath.Join(dir2, CAFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ca.pem written by a refused Dev: %v", err)
	}

	// Force replaces the set, and a key someone made readable is private
	// again.
	if err := os.Chmod(first.Key, 0o644); err != nil {
		t.Fatal(err)
	}
	second, err := Dev(dir, DevOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(second.CA); string(after) == string(before) {
		t.Fatal("Force did not replace ca.pem")
	}
	if fi, _ := os.Stat(second.Key); fi.Mode().Perm() != 0o600 {
		t.Fatalf("forced key mode %04o", fi.Mode().Perm())
	}
	if _, err := Check(second.Cert, second.Key, second.CA, time.Now()); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// With IoT Core the root CA signs the server, not the device: a device
// certificate the root CA does not verify is fine.
func TestCheckOtherCAIsNotAnError(t *testing.T) {
	a, b := dev(t, DevOptions{}), dev(t, DevOptions{})
	r, err := Check(b.Cert, b.Key, a.CA, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r.RootCAVerifiesCert || !r.KeyMatches {
		t.Fatalf("report %+v", r)
	}
	// Two Dev calls make unrelated CAs.
	if r.Issuer == r.RootCAs[0] {
		t.Fatalf("both sets have CA %s", r.Issuer)
	}
}

func TestCheckMismatchedKey(t *testing.T) {
	a, b := dev(t, DevOptions{}), dev(t, DevOptions{})
	r, err := Check(a.Cert, b.Key, a.CA, time.Now())
	wantErrs(t, err, b.Key+": the private key does not match the certificate "+a.Cert)
	if r.KeyMatches {
		t.Fatal("KeyMatches with another set's key")
	}
}

func TestCheckValidity(t *testing.T) {
	now := time.Now()
	expired := dev(t, DevOptions{NotBefore: now.Add(-48 * time.Hour), Validity: 24 * time.Hour})
	r, err := Check(expired.Cert, expired.Key, expired.CA, now)
	wantErrs(t, err, expired.Cert+": the certificate expired on ", "(1 day ago)")
	if r.DaysLeft != -1 || r.RootCAVerifiesCert {
		t.Fatalf("expired: DaysLeft %d, RootCAVerifiesCert %v", r.DaysLeft, r.RootCAVerifiesCert)
	}

	future := dev(t, DevOptions{NotBefore: now.Add(time.Hour)})
	_, err = Check(future.Cert, future.Key, future.CA, now)
	wantErrs(t, err, future.Cert+": the certificate is not valid until ", "is the clock right?",
		future.CA+": no CA certificate in it is valid on")
}

func TestCheckKeyMode(t *testing.T) {
	set := dev(t, DevOptions{})
	if err := os.Chmod(set.Key, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Check(set.Cert, set.Key, set.CA, time.Now())
	wantErrs(t, err, set.Key+" is accessible by group or others (mode 0644)", "run: chmod 600 "+set.Key)
	if !r.KeyMatches { // the other checks still ran
		t.Fatal("key not compared")
	}
}

// Every problem is reported in one go, each naming its file.
func TestCheckAllProblemsAtOnce(t *testing.T) {
	now := time.Now()
	a := dev(t, DevOptions{NotBefore: now.Add(-48 * time.Hour), Validity: time.Hour})
	b := dev(t, DevOptions{})
	if err := os.Chmod(b.Key, 0o640); err != nil {
		t.Fatal(err)
	}
	_, err := Check(a.Cert, b.Key, a.Cert, now)
	wantErrs(t, err,
		a.Cert+": the certificate expired",
		b.Key+" is accessible by group or others (mode 0640)",
		b.Key+": the private key does not match",
		a.Cert+": none of its 1 certificate(s) is a CA certificate")
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 4 {
		t.Fatalf("%d errors, want 4:\n%v", n, err)
	}
}

func TestCheckWrongFiles(t *testing.T) {
	set := dev(t, DevOptions{})
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pubDER, err := x509.MarshalPKIXPublicKey(mustCert(t, set.Cert).PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub := write("public.pem.key", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	der := write("cert.der", mustCert(t, set.Cert).Raw)
	missing := filepath.Join(dir, "missing.pem")

	for _, tc := range []struct {
		name            string
		cert, key, root string
		want            []string
	}{
		{"public key as key", set.Cert, pub, set.CA,
			[]string{pub + ": holds a PUBLIC KEY, not a private key (IoT Core gives the public and the private key: use the one ending private.pem.key)"}},
		{"key as certificate", set.Key, set.Key, set.CA,
			[]string{set.Key + ": holds a PRIVATE KEY, not a CERTIFICATE"}},
		{"certificate as key", set.Cert, set.Cert, set.CA,
			[]string{set.Cert + ": holds a CERTIFICATE, not a private key"}},
		{"DER certificate", der, set.Key, set.CA,
			[]string{der + ": no PEM data (a DER file converts with: openssl x509 -inform der"}},
		{"device certificate as root CA", set.Cert, set.Key, set.Cert,
			[]string{set.Cert + ": none of its 1 certificate(s) is a CA certificate"}},
		{"missing files", missing, missing, missing,
			[]string{"open " + missing + ": no such file or directory"}},
		{"server certificate as device certificate", set.ServerCert, set.ServerKey, set.CA,
			[]string{set.ServerCert + ": the certificate's extended key usage does not include client authentication"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(tc.cert, tc.key, tc.root, time.Now())
			wantErrs(t, err, tc.want...)
		})
	}
	// A missing file is one problem, not also a mode problem.
	_, err = Check(missing, missing, missing, time.Now())
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 3 {
		t.Errorf("%d errors for three missing files:\n%v", n, err)
	}
}

// IoT Core hands out RSA keys in PKCS#1; openssl ecparam writes SEC1 after
// an EC PARAMETERS block. Both must load, for Check and for TLSConfig.
func TestKeyEncodings(t *testing.T) {
	set := dev(t, DevOptions{})
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		pub     any
		keyPEM  []byte
		keyType string
	}{
		{"RSA PKCS#1", &rsaKey.PublicKey, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), "RSA 2048"},
		{"EC SEC1", &ecKey.PublicKey, append(
			pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})...), "ECDSA P-384"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile := filepath.Join(dir, "device.pem.crt")
			keyFile := filepath.Join(dir, "private.pem.key")
			if err := os.WriteFile(certFile, issue(t, set, tc.pub), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(keyFile, tc.keyPEM, 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := Check(certFile, keyFile, set.CA, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if r.KeyType != tc.keyType || !r.KeyMatches || !r.RootCAVerifiesCert {
				t.Fatalf("report %+v", r)
			}
			if _, err := TLSConfig(certFile, keyFile, set.CA, "localhost", nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestTLSConfig(t *testing.T) {
	set := dev(t, DevOptions{ThingName: "thing-1"})
	cfg, err := TLSConfig(set.Cert, set.Key, set.CA, "127.0.0.1", []string{"x-amzn-mqtt-ca"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.InsecureSkipVerify || cfg.MinVersion != tls.VersionTLS12 || cfg.ServerName != "127.0.0.1" ||
		!slices.Equal(cfg.NextProtos, []string{"x-amzn-mqtt-ca"}) || len(cfg.Certificates) != 1 {
		t.Fatalf("config %+v", cfg)
	}

	// A real handshake against a server that requires a client
	// certificate from the development CA.
	state, err := handshake(t, cfg, set, set.CA)
	if err != nil {
		t.Fatal(err)
	}
	if state.NegotiatedProtocol != "x-amzn-mqtt-ca" || len(state.PeerCertificates) == 0 {
		t.Fatalf("state %+v", state)
	}

	// RootCAs is the given file only: a server from another CA is refused.
	other := dev(t, DevOptions{})
	if _, err := handshake(t, cfg, other, set.CA); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("server from another CA: %v", err)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	a, b := dev(t, DevOptions{}), dev(t, DevOptions{})
	_, err := TLSConfig(a.Cert, b.Key, a.CA, "localhost", nil)
	wantErrs(t, err, b.Key+": the private key does not match the certificate "+a.Cert)
	_, err = TLSConfig(a.Cert, a.Key, a.Key, "localhost", nil)
	wantErrs(t, err, a.Key+": holds a PRIVATE KEY, not a CERTIFICATE")
	_, err = TLSConfig(a.Cert, a.Key, a.CA, "", nil)
	wantErrs(t, err, "no server name")
	if err := os.Chmod(a.Key, 0o604); err != nil {
		t.Fatal(err)
	}
	_, err = TLSConfig(a.Cert, a.Key, a.CA, "localhost", nil)
	wantErrs(t, err, "chmod 600 "+a.Key)
}

// handshake runs client cfg against a TLS server with srv's server
// certificate that requires client certificates from clientCA.
func handshake(t *testing.T, cfg *tls.Config, srv *DevSet, clientCA string) (tls.ConnectionState, error) {
	t.Helper()
	serverCert, err := tls.LoadX509KeyPair(srv.ServerCert, srv.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := readPool(clientCA)
	if err != nil {
		t.Fatal(err)
	}
	c, s := net.Pipe()
	server := tls.Server(s, &tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		NextProtos:   []string{"x-amzn-mqtt-ca"},
	})
	done := make(chan error, 1)
	go func() {
		done <- server.Handshake()
		// The raw end: on a synchronous pipe, both sides' close_notify
		// would wait for each other until their write deadline.
		s.Close()
	}()
	client := tls.Client(c, cfg)
	err = client.Handshake()
	client.Close()
	serr := <-done
	if err == nil && serr != nil {
		err = serr
	}
	return client.ConnectionState(), err
}

func mustCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	c, err := readCerts(file)
	if err != nil {
		t.Fatal(err)
	}
	return c[0]
}

// issue signs a client certificate for pub with set's CA.
func issue(t *testing.T, set *DevSet, pub any) []byte {
	t.Helper()
	caKey, err := readKey(set.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: "rsa-thing"},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, mustCert(t, set.CA), pub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM(der)
}
