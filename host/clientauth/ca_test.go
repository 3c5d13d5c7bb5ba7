package clientauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moss-edge/moss/host/store"
)

func openAuthority(t *testing.T, dir string, st *store.Store, extra string) *Authority {
	t.Helper()
	a, err := Open(Options{Dir: filepath.Join(dir, "clientca"), Store: st, ExtraCA: extra})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, "moss.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func parseCert(t *testing.T, p []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(p)
	if b == nil {
		t.Fatal("no PEM")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCACreatedOnceKeyPrivate(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	a := openAuthority(t, dir, st, "")
	fi, err := os.Stat(filepath.Join(dir, "clientca", "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("ca.key mode %v", fi.Mode().Perm())
	}
	b := openAuthority(t, dir, st, "")
	if string(a.CACertPEM()) != string(b.CACertPEM()) {
		t.Error("second Open made a new CA")
	}
	os.Chmod(filepath.Join(dir, "clientca", "ca.key"), 0o644)
	if _, err := Open(Options{Dir: filepath.Join(dir, "clientca"), Store: st}); err == nil {
		t.Error("a CA key readable by others was accepted")
	}
}

func TestIssueVerifyRevoke(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	a := openAuthority(t, dir, st, "")
	one, err := a.IssueClient("sensor-1")
	if err != nil {
		t.Fatal(err)
	}
	two, err := a.IssueClient("sensor-2")
	if err != nil {
		t.Fatal(err)
	}
	c1 := parseCert(t, one.Cert)
	if thing, err := a.Verify([]*x509.Certificate{c1}); err != nil || thing != "sensor-1" {
		t.Fatalf("verify: %q %v", thing, err)
	}
	if _, err := a.IssueClient("bad/name"); err == nil {
		t.Error("thing name with '/' accepted")
	}
	if n, err := a.Revoke("sensor-1"); err != nil || n != 1 {
		t.Fatalf("revoke: %d %v", n, err)
	}
	// A fresh Authority on the same store sees the revocation.
	a = openAuthority(t, dir, st, "")
	if _, err := a.Verify([]*x509.Certificate{c1}); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked certificate: %v", err)
	}
	if _, err := a.Verify([]*x509.Certificate{parseCert(t, two.Cert)}); err != nil {
		t.Errorf("other thing refused after a revocation: %v", err)
	}
	again, err := a.IssueClient("sensor-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify([]*x509.Certificate{parseCert(t, again.Cert)}); err != nil {
		t.Errorf("certificate issued after the revocation refused: %v", err)
	}
}

// foreignCA writes a CA of the devices' own (as registered with IoT Core)
// and returns its file and a client certificate it issued for thing.
func foreignCA(t *testing.T, dir, thing string, notBefore time.Time) (string, *x509.Certificate) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fleet CA"}, NotBefore: notBefore, NotAfter: notBefore.Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(der)
	file := filepath.Join(dir, "fleet.pem")
	os.WriteFile(file, certPEM(der), 0o644)
	lk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: thing}, NotBefore: notBefore, NotAfter: notBefore.Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	ld, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &lk.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	lc, _ := x509.ParseCertificate(ld)
	return file, lc
}

func TestExtraCA(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	file, leaf := foreignCA(t, dir, "esp32-7", time.Now().Add(-time.Hour))
	if _, err := openAuthority(t, dir, st, "").Verify([]*x509.Certificate{leaf}); err == nil {
		t.Fatal("certificate of an unknown CA accepted")
	}
	a := openAuthority(t, dir, st, file)
	if thing, err := a.Verify([]*x509.Certificate{leaf}); err != nil || thing != "esp32-7" {
		t.Fatalf("extra CA: %q %v", thing, err)
	}
	if _, err := a.Revoke("esp32-7"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify([]*x509.Certificate{leaf}); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked extra-CA certificate: %v", err)
	}
}

func TestServerCertificate(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	a := openAuthority(t, dir, st, "")
	c, err := a.ServerCertificate([]string{"moss.local", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(a.CACertPEM())
	for _, name := range []string{"moss.local", "192.0.2.7", "localhost", "127.0.0.1"} {
		if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	same, _ := a.ServerCertificate([]string{"moss.local", "192.0.2.7"})
	if !same.Leaf.Equal(c.Leaf) {
		t.Error("unchanged names gave a new certificate")
	}
	other, _ := a.ServerCertificate([]string{"moss.lan"})
	if other.Leaf.Equal(c.Leaf) {
		t.Error("new names kept the old certificate")
	}
	// A third of the validity left: renewed.
	late := openAuthority(t, dir, st, "")
	late.opts.Now = func() time.Time { return time.Now().Add(300 * 24 * time.Hour) }
	renewed, _ := late.ServerCertificate([]string{"moss.lan"})
	if renewed.Leaf.Equal(other.Leaf) {
		t.Error("certificate near expiry not renewed")
	}
}
