package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/moss-edge/moss/host/admin"
)

// cloudLine says in a few words how the cloud link is.
func cloudLine(c *admin.Cloud) string {
	since := time.Since(c.Since).Round(time.Second)
	switch c.State {
	case "OFFLINE":
		return "OFFLINE (no [cloud] endpoint configured; cloud messages are spooled)"
	case "CONNECTED":
		return fmt.Sprintf("CONNECTED to %s for %s", c.Endpoint, since)
	}
	return fmt.Sprintf("%s from %s for %s", c.State, c.Endpoint, since)
}

func newStatusCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the host's status",
		Long: `Show the running host's version, when it started, how many components it
runs and how many subscriptions its local bus holds. It is also the quickest
way to check that a host is up: it fails when none answers on the socket.`,
		Example: `  moss status
  moss status --json
  moss status >/dev/null 2>&1 && echo "moss is up"`,
		Args: checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := g.client().Status(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, st)
			}
			tw := tabwriter.NewWriter(g.Stdout, 0, 8, 2, ' ', 0)
			fmt.Fprintf(tw, "Version:\t%s\n", st.Version)
			fmt.Fprintf(tw, "Started:\t%s (up %s)\n",
				st.Started.Local().Format(time.RFC3339), time.Since(st.Started).Round(time.Second))
			fmt.Fprintf(tw, "Components:\t%d\n", st.Components)
			fmt.Fprintf(tw, "Subscriptions:\t%d\n", st.Subscriptions)
			fmt.Fprintf(tw, "Socket:\t%s\n", g.Socket)
			if c := st.Cloud; c != nil {
				fmt.Fprintf(tw, "Cloud:\t%s\n", cloudLine(c))
				fmt.Fprintf(tw, "Cloud spool:\t%d messages, %d of %d bytes\n", c.Spooled, c.SpooledBytes, c.SpoolMax)
				fmt.Fprintf(tw, "Cloud traffic:\t%d sent, %d received, %d subscriptions, %d bytes out, %d bytes in\n",
					c.Sent, c.Received, c.Subscriptions, c.BytesOut, c.BytesIn)
				if c.LastError != "" {
					fmt.Fprintf(tw, "Cloud error:\t%s\n", c.LastError)
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}
