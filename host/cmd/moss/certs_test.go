package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moss-edge/moss/host/certs"
)

func TestCertsDev(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	out := mustMoss(t, "", "certs", "dev", "--dir", dir, "--thing", "kitchen-1", "--host", "broker.lan", "--days", "30")
	for _, want := range []string{
		"in " + dir + ":",
		"device certificate, CN=kitchen-1",
		"broker certificate for localhost, 127.0.0.1, ::1, broker.lan",
		"[cloud]\n",
		`thing_name = "kitchen-1"`,
		fmt.Sprintf("cert = %q", filepath.Join(dir, certs.DeviceCertFile)),
		fmt.Sprintf("key = %q", filepath.Join(dir, certs.DeviceKeyFile)),
		fmt.Sprintf("root_ca = %q", filepath.Join(dir, certs.CAFile)),
		"certfile " + filepath.Join(dir, certs.ServerCertFile),
		"require_certificate true",
		"mosquitto -c mosquitto.conf",
		"mosquitto_sub -h localhost -p 8883 --cafile " + filepath.Join(dir, certs.CAFile),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("moss certs dev output lacks %q:\n%s", want, out)
		}
	}
	// What it made passes the check, and lasts the days asked for.
	out = mustMoss(t, "", "certs", "check", "--cert", filepath.Join(dir, certs.DeviceCertFile),
		"--key", filepath.Join(dir, certs.DeviceKeyFile), "--root-ca", filepath.Join(dir, certs.CAFile))
	for _, want := range []string{"subject   CN=kitchen-1,O=Moss development", "(in 29 days: renew it soon)", "ECDSA P-256, matches the certificate", "also signed the device certificate", "\nOK: "} {
		if !strings.Contains(out, want) {
			t.Errorf("moss certs check output lacks %q:\n%s", want, out)
		}
	}

	// A second run refuses to overwrite; --force replaces.
	r := moss(context.Background(), "", "certs", "dev", "--dir", dir)
	if r.code != 1 || !strings.Contains(r.stderr, filepath.Join(dir, certs.CAFile)+" already exists; use --force") || r.stdout != "" {
		t.Fatalf("second certs dev: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	mustMoss(t, "", "certs", "dev", "--dir", dir, "--force")

	r = moss(context.Background(), "", "certs", "dev", "--dir", dir, "--days", "0")
	if r.code != 1 || !strings.Contains(r.stderr, "--days 0: must be at least 1\nRun 'moss certs dev --help' for usage.") {
		t.Fatalf("--days 0: exit %d, stderr %q", r.code, r.stderr)
	}
}

// By default the files come from the [cloud] section, relative to the
// configuration file.
func TestCertsCheckFromConfig(t *testing.T) {
	dir := t.TempDir()
	if _, err := certs.Dev(filepath.Join(dir, "certs"), certs.DevOptions{ThingName: "from-config"}); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "moss.toml")
	writeConf := func(cloud string) {
		t.Helper()
		if err := os.WriteFile(conf, []byte("[cloud]\n"+cloud), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeConf(`thing_name = "from-config"
cert = "certs/device.pem.crt"
key = "certs/private.pem.key"
root_ca = "certs/ca.pem"
`)
	out := mustMoss(t, "", "certs", "check", "--config", conf)
	if !strings.Contains(out, "cert      "+filepath.Join(dir, "certs", "device.pem.crt")+"\n") || !strings.Contains(out, "CN=from-config") {
		t.Fatalf("moss certs check --config:\n%s", out)
	}

	// A flag replaces one file and keeps the others from the file.
	other, err := certs.Dev(filepath.Join(dir, "other"), certs.DevOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := moss(context.Background(), "", "certs", "check", "--config", conf, "--key", other.Key)
	if r.code != 1 || !strings.Contains(r.stderr, other.Key+": the private key does not match the certificate "+filepath.Join(dir, "certs", "device.pem.crt")) {
		t.Fatalf("--key from another set: exit %d, stderr %q", r.code, r.stderr)
	}

	writeConf(`thing_name = "from-config"` + "\n")
	r = moss(context.Background(), "", "certs", "check", "--config", conf, "--root-ca", other.CA)
	if r.code != 1 || !strings.Contains(r.stderr, conf+" does not set cloud.cert (or --cert), cloud.key (or --key)\n") {
		t.Fatalf("no files configured: exit %d, stderr %q", r.code, r.stderr)
	}

	r = moss(context.Background(), "", "certs", "check", "--config", filepath.Join(dir, "missing.toml"))
	if r.code != 1 || !strings.Contains(r.stderr, "missing.toml") || !strings.Contains(r.stderr, "(or give --cert, --key and --root-ca)") {
		t.Fatalf("missing config: exit %d, stderr %q", r.code, r.stderr)
	}
}

// Every problem is listed, each with its file, after what could be read.
func TestCertsCheckProblems(t *testing.T) {
	a, err := certs.Dev(t.TempDir(), certs.DevOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := certs.Dev(t.TempDir(), certs.DevOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(b.Key, 0o644); err != nil {
		t.Fatal(err)
	}
	r := moss(context.Background(), "", "certs", "check", "--cert", a.Cert, "--key", b.Key, "--root-ca", a.Cert)
	if r.code != 1 {
		t.Fatalf("exit %d", r.code)
	}
	if !strings.Contains(r.stdout, "subject   CN=moss-dev") || strings.Contains(r.stdout, "OK") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	want := "moss: found 3 problems:\n" +
		"  - " + b.Key + " is accessible by group or others (mode 0644): anyone who can read it can read what it protects; run: chmod 600 " + b.Key + "\n" +
		"  - " + b.Key + ": the private key does not match the certificate " + a.Cert + " (it is another certificate's key)\n" +
		"  - " + a.Cert + ": none of its 1 certificate(s) is a CA certificate (is it the device certificate? the root CA is AmazonRootCA1.pem for IoT Core)\n"
	if r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
}
