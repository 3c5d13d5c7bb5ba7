package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/moss-edge/moss/host/admin"
)

func newClientsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "clients",
		Short: "Manage the client devices of the host's MQTT broker",
		Long: `Client devices (microcontrollers with an X.509 certificate) connect to the
host's MQTT broker over TLS, configured by [broker] in the host configuration.
The host keeps a CA for them (<data_dir>/clientca); a device's identity is its
certificate's CN, the thing name, and what it may do is decided by the AWS IoT
policy documents of the groups its thing name selects.`,
	}
	cmd.AddCommand(newClientsCertCmd(g), newClientsRevokeCmd(g), newClientsCheckCmd(g), newClientsListCmd(g))
	return cmd
}

func newClientsCertCmd(g *globals) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "cert THING",
		Short: "Issue a client certificate and key for a device",
		Long: `Issue a client certificate (CN = THING) and a new private key, signed by the
host's client devices CA. --format pem writes THING.cert.pem, THING.private.key
(mode 0600) and moss-ca.pem into --out; --format c prints them as C string
literals ready to paste into firmware (aws_clientcredential_keys.h of the AWS
IoT Device SDK / FreeRTOS demos). The key is not kept by the host.`,
		Example: `  moss clients cert sensor-1 --out ./creds
  moss clients cert sensor-1 --format c > aws_clientcredential_keys.h`,
		Args: checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "pem" && format != "c" {
				return usageError{fmt.Errorf("--format %q: want pem or c", format)}
			}
			r, err := g.client().ClientsCall(cmd.Context(), admin.ClientsRequest{Op: "cert", Thing: args[0]})
			if err != nil {
				return err
			}
			c := r.Cert
			if format == "c" {
				writeCHeader(g.Stdout, c)
				return nil
			}
			return writePEMFiles(g.Stderr, out, c)
		},
	}
	cmd.Flags().StringVar(&format, "format", "pem", "pem (files) or c (C string literals on stdout)")
	cmd.Flags().StringVar(&out, "out", ".", "directory for --format pem")
	return cmd
}

func writePEMFiles(w io.Writer, dir string, c *admin.ClientCert) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{c.Thing + ".cert.pem", c.Cert, 0o644},
		{c.Thing + ".private.key", c.Key, 0o600},
		{"moss-ca.pem", c.CA, 0o644},
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		// O_EXCL: never overwrite a device's key by accident.
		fh, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
		if err != nil && f.name == "moss-ca.pem" && errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		_, werr := fh.Write(f.data)
		if err := errors.Join(werr, fh.Close()); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		fmt.Fprintf(w, "wrote %s\n", p)
	}
	fmt.Fprintf(w, "certificate serial %s for thing %s\n", c.Serial, c.Thing)
	return nil
}

// cString renders PEM as C string literals, one line each, joined by
// backslash-newline so it can follow a #define.
func cString(pem []byte) string {
	var b strings.Builder
	lines := strings.Split(strings.TrimRight(string(pem), "\n"), "\n")
	for i, l := range lines {
		b.WriteString(`"` + l + `\n"`)
		if i < len(lines)-1 {
			b.WriteString(" \\\n")
		}
	}
	return b.String()
}

func writeCHeader(w io.Writer, c *admin.ClientCert) {
	fmt.Fprintf(w, `/* Credentials of thing %q for the Moss host's MQTT broker (serial %s).
 * Issued by "moss clients cert"; the private key is in this file only. */
#ifndef AWS_CLIENT_CREDENTIAL_KEYS_H
#define AWS_CLIENT_CREDENTIAL_KEYS_H

#define keyCLIENT_CERTIFICATE_PEM \
%s

#define keyCLIENT_PRIVATE_KEY_PEM \
%s

/* The CA that signed the broker's certificate: verify the broker with it. */
#define democonfigROOT_CA_PEM \
%s

#endif /* AWS_CLIENT_CREDENTIAL_KEYS_H */
`, c.Thing, c.Serial, cString(c.Cert), cString(c.Key), cString(c.CA))
}

func newClientsRevokeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "revoke THING",
		Short:   "Refuse the device's certificates from now on",
		Example: `  moss clients revoke sensor-1`,
		Args:    checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := g.client().ClientsCall(cmd.Context(), admin.ClientsRequest{Op: "revoke", Thing: args[0]})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.Stderr, "revoked %d certificate(s) of %s; certificates of the extra CA issued before now are refused too\n", r.Revoked, args[0])
			return nil
		},
	}
}

func newClientsCheckCmd(g *globals) *cobra.Command {
	var clientID string
	cmd := &cobra.Command{
		Use:   "check THING ACTION RESOURCE",
		Short: "Say whether a device may do something, and which statement decided",
		Long: `Evaluate the policies of THING's groups as the broker does. ACTION is
iot:Connect, iot:Publish, iot:Subscribe, iot:Receive or iot:RetainPublish;
RESOURCE an ARN or its resource part (client/ID, topic/TOPIC,
topicfilter/FILTER). Exits 1 when denied.`,
		Example: `  moss clients check sensor-1 iot:Publish topic/sensors/sensor-1/temp
  moss clients check sensor-1 iot:Subscribe 'topicfilter/#'`,
		Args: checkArgs(cobra.ExactArgs(3)),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch args[1] {
			case "iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive", "iot:RetainPublish":
			default:
				return usageError{fmt.Errorf("action %q: want iot:Connect, iot:Publish, iot:Subscribe, iot:Receive or iot:RetainPublish", args[1])}
			}
			r, err := g.client().ClientsCall(cmd.Context(), admin.ClientsRequest{Op: "check", Thing: args[0], ClientID: clientID, Action: args[1], Resource: args[2]})
			if err != nil {
				return err
			}
			d := r.Decision
			fmt.Fprintf(g.Stdout, "%s\ngroups: %s\n", d.Explanation, strings.Join(d.Groups, ", "))
			if !d.Allowed {
				return errors.New("denied")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&clientID, "client-id", "", "MQTT client id for ${iot:ClientId} (default THING)")
	return cmd
}

func newClientsListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the connected client devices",
		Args:    checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := g.client().ClientsCall(cmd.Context(), admin.ClientsRequest{Op: "list"})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLIENT ID\tTHING\tADDRESS\tMQTT\tSUBSCRIPTIONS")
			for _, c := range r.List {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", c.ClientID, c.Thing, c.Remote, c.Protocol, strings.Join(c.Subscriptions, " "))
			}
			return tw.Flush()
		},
	}
}
