package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/moss-edge/moss/host/admin"
)

func newComponentCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "component",
		Short: "Stop, start or restart a component on the running host",
		Long: `The lifecycle verbs of the Greengrass CLI's "component" command, on a running
host. A stop delivers what the component's mailbox holds (within the stop
timeout), gives it its stop event and leaves it FINISHED, subscribed to
nothing, until "moss component start" or a deployment brings it back; a
start runs the version it had; a restart is both. Each returns once the
component has reached its new state, and prints it as "moss list" would.`,
		Example: `  moss component restart sensor
  moss component stop alerts && moss list
  moss component start alerts`,
	}
	for _, v := range []struct{ action, short string }{
		{admin.ActionStop, "Stop a component (it stays FINISHED until started)"},
		{admin.ActionStart, "Start a stopped, finished or broken component"},
		{admin.ActionRestart, "Stop a component, then start it again"},
	} {
		cmd.AddCommand(&cobra.Command{
			Use:   v.action + " NAME",
			Short: v.short,
			Args:  checkArgs(cobra.ExactArgs(1)),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := g.client().ControlComponent(cmd.Context(), v.action, args[0])
				if err != nil {
					return err
				}
				line := fmt.Sprintf("%s %s: %s", c.Name, c.Version, c.State)
				if c.LastError != "" && c.State != "RUNNING" && c.State != "FINISHED" {
					line += ": " + c.LastError
				}
				_, err = fmt.Fprintln(g.Stdout, line)
				return err
			},
		})
	}
	return cmd
}
