package main

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/moss-edge/moss/host/certs"
	"github.com/moss-edge/moss/host/shadowsync"
	"github.com/moss-edge/moss/host/store"
)

func newIotsimCmd(g *globals) *cobra.Command {
	var broker, cert, key, rootCA, dataDir, clientID string
	cmd := &cobra.Command{
		Use:   "iotsim",
		Short: "Serve AWS IoT Core's device shadow topics on an MQTT broker",
		Long: `Iotsim is the cloud side of device shadows for a broker that is not AWS IoT
Core, such as a local Mosquitto: it connects to the broker as a client, with
mutual TLS as a device does, subscribes to the shadow request topics
($aws/things/+/shadow/{get,update,delete} and the same under name/+), and
answers them as IoT Core's Device Shadow service would: accepted or
rejected, then update/delta and update/documents.

With it, a host whose [cloud] link points at that broker can synchronise its
shadows ([[shadow.sync]]) without an AWS account, and a script or
mosquitto_pub can play the cloud application.

Shadows are kept in DIR/iotsim.db with --data, so they survive a restart of
iotsim; without it they live in a temporary directory removed on exit. Use a
client id other than the device's thing name: a broker disconnects a client
when another connects with its id.

It runs until interrupted.`,
		Example: `  # Development certificates and a broker, as in configs/local-broker.toml
  moss certs dev --dir var/certs
  moss iotsim --broker mqtts://127.0.0.1:8883 --cert var/certs/device.pem.crt \
      --key var/certs/private.pem.key --ca var/certs/ca.pem --data var/iotsim

  # Then, as the cloud application: set the desired state, read the shadow
  mosquitto_pub -h 127.0.0.1 -p 8883 --cafile var/certs/ca.pem \
      --cert var/certs/device.pem.crt --key var/certs/private.pem.key \
      -t '$aws/things/moss-dev/shadow/name/thermostat/update' \
      -m '{"state":{"desired":{"target":21}}}'`,
		Args: checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var missing []string
			for _, f := range []struct{ name, val string }{{"--broker", broker}, {"--cert", cert}, {"--key", key}, {"--ca", rootCA}} {
				if f.val == "" {
					missing = append(missing, f.name)
				}
			}
			if len(missing) > 0 {
				return usageError{fmt.Errorf("iotsim needs %s: it connects with mutual TLS, as a device connects to IoT Core", strings.Join(missing, ", "))}
			}
			u, err := url.Parse(broker)
			if err != nil || u.Hostname() == "" {
				return usageError{fmt.Errorf("--broker %q: want mqtts://HOST:PORT", broker)}
			}
			tc, err := certs.TLSConfig(cert, key, rootCA, u.Hostname(), nil)
			if err != nil {
				return err
			}
			dir := dataDir
			if dir == "" {
				if dir, err = os.MkdirTemp("", "moss-iotsim-"); err != nil {
					return err
				}
				defer os.RemoveAll(dir)
			} else if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			db, err := store.Open(filepath.Join(dir, "iotsim.db"))
			if err != nil {
				return err
			}
			defer db.Close()
			log := slog.New(slog.NewTextHandler(g.Stderr, nil))
			sim, err := shadowsync.NewSimulator(shadowsync.SimulatorOptions{
				Broker: broker, TLS: tc, ClientID: clientID, Store: db, Logger: log,
			})
			if err != nil {
				return err
			}
			log.Info("iotsim started", "broker", broker, "client_id", clientID, "data", dir)
			<-cmd.Context().Done()
			log.Info("iotsim stopping")
			return sim.Close()
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&broker, "broker", "", "the broker's `URL`, mqtts://HOST:PORT")
	fl.StringVar(&cert, "cert", "", "client certificate `file` (PEM)")
	fl.StringVar(&key, "key", "", "its private key `file` (PEM, readable only by its owner)")
	fl.StringVar(&rootCA, "ca", "", "root CA `file` that signed the broker's certificate (PEM)")
	fl.StringVar(&dataDir, "data", "", "keep the shadows in `DIR`/iotsim.db (default: a temporary directory, removed on exit)")
	fl.StringVar(&clientID, "client-id", shadowsync.DefaultSimulatorClientID, "MQTT client `id`; not the device's thing name")
	for _, f := range []string{"cert", "key", "ca"} {
		cmd.MarkFlagFilename(f, "pem", "crt", "key")
	}
	cmd.MarkFlagDirname("data")
	return cmd
}
