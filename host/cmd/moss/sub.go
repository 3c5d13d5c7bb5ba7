package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

func newSubCmd(g *globals) *cobra.Command {
	var (
		verbose bool
		count   int
	)
	cmd := &cobra.Command{
		Use:   "sub FILTER",
		Short: "Print messages from the host's local bus as they arrive",
		Long: `Subscribe to FILTER on the running host's local bus and print each matching
message as it arrives, like mosquitto_sub: the payload followed by a newline,
or, with -v, the topic, a space and the payload.

FILTER is an MQTT topic filter: "+" matches one topic level and "#", at the
end, any number of levels. Quote it so the shell leaves "#" alone.

It runs until Ctrl-C, or until -C messages have arrived. If the terminal or
pipe reads more slowly than messages arrive, the host drops messages for this
subscriber rather than slowing the publishers, and moss says how many on
standard error.`,
		Example: `  moss sub 'sensors/#'
  moss sub -v 'sensors/+/temp'
  moss sub -C 1 commands/reply      # wait for one message, then exit`,
		Args: checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if count < 0 {
				return usageError{errors.New("-C must be a positive count")}
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			c := g.client()
			c.OnDrop = func(n uint64) {
				fmt.Fprintf(g.Stderr, "moss: the host dropped %d messages for this subscriber, which reads too slowly\n", n)
			}
			seen := 0
			var werr error
			err := c.Subscribe(ctx, args[0], func(topic string, payload []byte) {
				line := make([]byte, 0, len(topic)+len(payload)+2)
				if verbose {
					line = append(append(line, topic...), ' ')
				}
				line = append(append(line, payload...), '\n')
				if _, err := g.Stdout.Write(line); err != nil {
					werr = err // e.g. the reading end of a pipe closed
					cancel()
					return
				}
				if seen++; count > 0 && seen >= count {
					cancel()
				}
			})
			if werr != nil {
				return fmt.Errorf("writing a message: %w", werr)
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print each message's topic before its payload")
	cmd.Flags().IntVarP(&count, "count", "C", 0, "exit after `N` messages (0: run until interrupted)")
	return cmd
}
