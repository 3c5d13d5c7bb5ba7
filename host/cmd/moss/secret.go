package main

import (
	"bytes"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// maxSecret bounds what `moss secret set` reads from stdin.
const maxSecret = 64 << 10

func newSecretCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Manage the secrets components may read",
		Long: `Secrets (passwords, tokens, keys) are stored on the device encrypted with
AES-256-GCM under the device key (secret_key_file in the host configuration,
created with mode 0600 at first start). A component reads one with the
secret_get host function when its manifest grants "secret.get" on the name.
Values are never printed, logged or echoed.`,
	}
	cmd.AddCommand(newSecretSetCmd(g), newSecretListCmd(g))
	return cmd
}

func newSecretSetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "set NAME",
		Short: "Store a secret, reading its value from standard input",
		Long: `Store a secret under NAME, replacing any previous value. The value is read
from standard input, never from the command line, so it stays out of shell
history and process listings; one trailing newline is removed. NAME is 1-128
letters, digits, '.', '_' or '-'.`,
		Example: `  printf '%s' "$DB_PASSWORD" | moss secret set db-password
  moss secret set api-token < token.txt`,
		Args: checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			value, err := io.ReadAll(io.LimitReader(g.Stdin, maxSecret+1))
			if err != nil {
				return fmt.Errorf("read the secret from stdin: %w", err)
			}
			if len(value) > maxSecret {
				return fmt.Errorf("the secret is larger than %d bytes", maxSecret)
			}
			value = bytes.TrimSuffix(value, []byte("\n"))
			if len(value) == 0 {
				return fmt.Errorf("no value on stdin: pipe the secret in, e.g. printf '%%s' \"$VALUE\" | moss secret set %s", args[0])
			}
			err = g.client().SetSecret(cmd.Context(), args[0], value)
			clear(value)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.Stderr, "secret %q stored\n", args[0])
			return nil
		},
	}
}

func newSecretListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the names of the stored secrets (never their values)",
		Example: `  moss secret list`,
		Args:    checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			names, err := g.client().SecretNames(cmd.Context())
			if err != nil {
				return err
			}
			for _, n := range names {
				fmt.Fprintln(g.Stdout, n)
			}
			return nil
		},
	}
}
