package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newRunCmd is owned by the lead; this placeholder is replaced when the daemon lands.
func newRunCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the Moss host",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("not yet")
		},
	}
}
