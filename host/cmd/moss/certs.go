package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/moss-edge/moss/host/certs"
	"github.com/moss-edge/moss/host/config"
)

func newCertsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Check the device certificate, or make development certificates",
		Long: `The link to AWS IoT Core uses mutual TLS: the device proves who it is with
its certificate and private key (cloud.cert and cloud.key in the host
configuration), and checks the broker against the root CA (cloud.root_ca,
AmazonRootCA1.pem for IoT Core).

"moss certs check" finds what would make that handshake fail before the host
tries it. "moss certs dev" makes a CA and certificates for a local Mosquitto,
to try Moss without an AWS account.`,
	}
	cmd.AddCommand(newCertsCheckCmd(g), newCertsDevCmd(g))
	return cmd
}

func newCertsCheckCmd(g *globals) *cobra.Command {
	var configPath, cert, key, rootCA string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check the device certificate, its private key and the root CA",
		Long: `Check reads the files named in the [cloud] section of the host configuration
(or given with --cert, --key and --root-ca, which take precedence) and checks
that the certificate is valid today, that the private key is the
certificate's and readable only by its owner, and that the root CA file holds
a CA certificate. It prints the certificate's subject, issuer and expiry, and
every problem it finds, and exits with status 1 if there is any.

With IoT Core the root CA signs the broker's certificate, not the device's,
so the device certificate need not chain to it.`,
		Example: `  moss certs check --config /etc/moss/config.toml
  moss certs check --cert certs/device.pem.crt --key certs/private.pem.key --root-ca certs/AmazonRootCA1.pem`,
		Args: checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			if !fl.Changed("cert") || !fl.Changed("key") || !fl.Changed("root-ca") {
				c, err := config.Load(configPath)
				if err != nil {
					return fmt.Errorf("%w\n(or give --cert, --key and --root-ca)", err)
				}
				var missing []string
				for _, f := range []struct {
					flag, key string
					val       *string
					cfg       string
				}{
					{"cert", "cert", &cert, c.Cloud.Cert},
					{"key", "key", &key, c.Cloud.Key},
					{"root-ca", "root_ca", &rootCA, c.Cloud.RootCA},
				} {
					if !fl.Changed(f.flag) {
						*f.val = f.cfg
					}
					if *f.val == "" {
						missing = append(missing, fmt.Sprintf("cloud.%s (or --%s)", f.key, f.flag))
					}
				}
				if len(missing) > 0 {
					return fmt.Errorf("%s does not set %s", configPath, strings.Join(missing, ", "))
				}
			}
			r, err := certs.Check(cert, key, rootCA, time.Now())
			printReport(g.Stdout, r)
			if err != nil {
				return problems(err)
			}
			fmt.Fprintln(g.Stdout, "OK: the key matches, is private, and the certificate is valid")
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&configPath, "config", "c", defaultConfigPath(), "host configuration file whose [cloud] section names the files (env MOSS_CONFIG)")
	fl.StringVar(&cert, "cert", "", "device certificate (PEM) instead of cloud.cert")
	fl.StringVar(&key, "key", "", "its private key (PEM) instead of cloud.key")
	fl.StringVar(&rootCA, "root-ca", "", "root CA of the broker (PEM) instead of cloud.root_ca")
	for _, f := range []string{"cert", "key", "root-ca"} {
		cmd.MarkFlagFilename(f, "pem", "crt", "key")
	}
	cmd.MarkFlagFilename("config", "toml")
	return cmd
}

// printReport prints what Check learned, leaving out what it could not.
func printReport(w io.Writer, r *certs.Report) {
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-9s %s\n", label, fmt.Sprintf(format, args...))
	}
	line("cert", "%s", r.Cert)
	if r.Subject != "" {
		line("subject", "%s", r.Subject)
		line("issuer", "%s", r.Issuer)
		switch d := r.DaysLeft; {
		case r.NotBefore.After(time.Now()):
			line("valid", "from %s, not yet", r.NotBefore.UTC().Format("2006-01-02 15:04 MST"))
		case r.NotAfter.Before(time.Now()):
			line("expired", "%s", r.NotAfter.UTC().Format("2006-01-02 15:04 MST"))
		case d < 30:
			line("expires", "%s (in %d days: renew it soon)", r.NotAfter.UTC().Format("2006-01-02 15:04 MST"), d)
		default:
			line("expires", "%s (in %d days)", r.NotAfter.UTC().Format("2006-01-02 15:04 MST"), d)
		}
	}
	k := r.Key
	if r.KeyType != "" {
		k += ": " + r.KeyType
		if r.KeyMatches {
			k += ", matches the certificate"
		}
	}
	line("key", "%s", k)
	line("root CA", "%s", r.RootCA)
	for _, s := range r.RootCAs {
		line("", "CA %s", s)
	}
	if r.RootCAVerifiesCert {
		line("", "(it also signed the device certificate, as a development CA does)")
	}
}

// problemList is Check's joined errors, one per line.
type problemList struct{ errs []error }

func problems(err error) error {
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		return problemList{j.Unwrap()}
	}
	return problemList{[]error{err}}
}

func (p problemList) Error() string {
	var b strings.Builder
	if len(p.errs) == 1 {
		b.WriteString("found 1 problem:")
	} else {
		fmt.Fprintf(&b, "found %d problems:", len(p.errs))
	}
	for _, e := range p.errs {
		b.WriteString("\n  - " + e.Error())
	}
	return b.String()
}

func (p problemList) Unwrap() []error { return p.errs }

func newCertsDevCmd(g *globals) *cobra.Command {
	var opts certs.DevOptions
	var dir string
	var days int
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Make a development CA, a device certificate and a broker certificate",
		Long: `Dev makes a new certificate authority in DIR and signs with it a client
certificate for the thing (common name THING) and a server certificate for a
broker on this machine (localhost, 127.0.0.1, ::1 and any --host), all with
ECDSA P-256 keys, written with mode 0600. It prints the [cloud] section and
the Mosquitto configuration that use them.

These certificates are for a local broker and for tests: AWS IoT Core does
not accept them unless the CA is registered with the account. Dev does not
overwrite existing files unless --force is given.`,
		Example: `  moss certs dev
  moss certs dev --dir /etc/moss/dev-certs --thing kitchen-sensor --host broker.lan --host 192.168.1.10`,
		Args: checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if days < 1 {
				return usageError{fmt.Errorf("--days %d: must be at least 1", days)}
			}
			opts.Validity = time.Duration(days) * 24 * time.Hour
			set, err := certs.Dev(dir, opts)
			if err != nil {
				return err
			}
			printDevSet(g.Stdout, set, opts.Hosts)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dir, "dir", "certs", "directory to write the files to (created if missing)")
	fl.StringVar(&opts.ThingName, "thing", certs.DefaultThingName, "thing name: the device certificate's common name")
	fl.StringArrayVar(&opts.Hosts, "host", nil, "another DNS name or IP address for the broker's certificate (repeatable)")
	fl.IntVar(&days, "days", 365, "validity of the device and broker certificates, in days (the CA's is ten years)")
	fl.BoolVar(&opts.Force, "force", false, "replace existing files")
	cmd.MarkFlagDirname("dir")
	return cmd
}

func printDevSet(w io.Writer, s *certs.DevSet, hosts []string) {
	rel := func(p string) string { return filepath.Base(p) }
	fmt.Fprintf(w, `Created a development CA and certificates in %s:
  %-16s CA certificate (root_ca for the device, cafile for the broker)
  %-16s CA private key: keep it to sign more certificates, or delete it
  %-16s device certificate, CN=%s
  %-16s device private key
  %-16s broker certificate for %s
  %-16s broker private key

AWS IoT Core does not know this CA; use these with a local broker. In the host
configuration:

  [cloud]
  endpoint = "localhost"
  port = 8883
  thing_name = %q
  cert = %q
  key = %q
  root_ca = %q

Mosquitto with mutual TLS, as IoT Core has it: save this as mosquitto.conf

  listener 8883
  cafile %s
  certfile %s
  keyfile %s
  require_certificate true
  use_identity_as_username true
  allow_anonymous false

and run it as your own user (started as root, Mosquitto switches to the user
"mosquitto", which cannot read the 0600 keys; add "user root" to keep root):

  mosquitto -c mosquitto.conf

Watch what the device publishes:

  mosquitto_sub -h localhost -p 8883 --cafile %s --cert %s --key %s -t '#' -v
`,
		s.Dir,
		rel(s.CA), rel(s.CAKey), rel(s.Cert), s.ThingName, rel(s.Key),
		rel(s.ServerCert), strings.Join(append([]string{"localhost", "127.0.0.1", "::1"}, hosts...), ", "), rel(s.ServerKey),
		s.ThingName, s.Cert, s.Key, s.CA,
		s.CA, s.ServerCert, s.ServerKey,
		s.CA, s.Cert, s.Key)
}
