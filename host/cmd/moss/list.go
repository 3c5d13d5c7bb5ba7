package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/moss-edge/moss/host/admin"
)

func newListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the components on the host",
		Long: `List the components the running host knows, one per line:

  NAME       the component's name
  VERSION    the version deployed
  STATE      its lifecycle state (e.g. RUNNING, ERRORED)
  RESTARTS   how often the host restarted it after an error
  DELIVERED  messages delivered to it
  DROPPED    messages its mailbox dropped because it fell behind
  QUEUED     messages waiting in its mailbox now

--json prints everything the host reports, including each component's error
count, last error and when it entered its state. A last line, on stderr,
gives the state of the cloud link.`,
		Example: `  moss list
  moss list --json | jq -r '.[] | select(.state == "ERRORED") | .last_error'`,
		Args: checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cs, err := g.client().List(cmd.Context())
			if err != nil {
				return err
			}
			slices.SortFunc(cs, func(a, b admin.ComponentInfo) int { return strings.Compare(a.Name, b.Name) })
			if asJSON {
				if cs == nil {
					cs = []admin.ComponentInfo{}
				}
				return printJSON(g, cs)
			}
			if len(cs) == 0 {
				// On stderr, so a script reading the table sees no rows.
				fmt.Fprintln(g.Stderr, "No components.")
				return nil
			}
			tw := tabwriter.NewWriter(g.Stdout, 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tSTATE\tRESTARTS\tDELIVERED\tDROPPED\tQUEUED")
			for _, c := range cs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\n",
					c.Name, c.Version, c.State, c.Restarts, c.Delivered, c.Dropped, c.Queued)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			// The cloud link goes to stderr, so a script reading the table
			// sees only component rows.
			if st, err := g.client().Status(cmd.Context()); err == nil && st.Cloud != nil {
				fmt.Fprintf(g.Stderr, "cloud: %s, %d spooled\n", cloudLine(st.Cloud), st.Cloud.Spooled)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the components as a JSON array")
	return cmd
}

func printJSON(g *globals, v any) error {
	enc := json.NewEncoder(g.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
