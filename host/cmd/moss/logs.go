package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/moss-edge/moss/host/logs"
)

func newLogsCmd(g *globals) *cobra.Command {
	var (
		follow bool
		tail   int
	)
	cmd := &cobra.Command{
		Use:   "logs [COMPONENT]",
		Short: "Print the host's or a component's logs",
		Long: `Print the log records the running host keeps in memory (the most recent
ones; older records are in the host's own log output), oldest first, one per
line:

  2026-11-24T02:11:32.123Z INFO  [sensor] reading taken celsius=21.5

With COMPONENT, only that component's records, including what it wrote to
its standard output and error. With -f, keep printing new records as they
are logged until Ctrl-C. If this terminal falls behind, the host skips
records rather than waiting, and prints how many it skipped.`,
		Example: `  moss logs
  moss logs sensor -n 20
  moss logs -f sensor`,
		Args:              checkArgs(cobra.MaximumNArgs(1)),
		ValidArgsFunction: completeComponents(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			component := ""
			if len(args) == 1 {
				component = args[0]
			}
			var werr error
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			err := g.client().Logs(ctx, component, tail, follow, func(r logs.Record) {
				if werr != nil {
					return
				}
				if _, err := fmt.Fprintln(g.Stdout, r.String()); err != nil {
					werr = err
					cancel()
				}
			})
			if werr != nil {
				return fmt.Errorf("writing logs: %w", werr)
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new records as they are logged")
	cmd.Flags().IntVarP(&tail, "tail", "n", -1, "print only the last `N` records (-1: all the host keeps)")
	return cmd
}

// completeComponents offers the running host's component names, so
// "moss logs <TAB>" completes them; without a host it offers nothing.
func completeComponents(g *globals) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Second)
		defer cancel()
		cs, err := g.client().List(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []cobra.Completion
		for _, c := range cs {
			names = append(names, cobra.CompletionWithDesc(c.Name, c.State))
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
