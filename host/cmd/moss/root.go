package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/moss-edge/moss/host/admin"
)

// defaultSocket is the admin socket path when neither --socket nor
// MOSS_SOCKET says otherwise: relative, so "make run" from a checkout keeps
// everything under var/.
const defaultSocket = "var/moss/admin.sock"

// globals is what every subcommand shares: the persistent flags and the
// process's standard streams, which tests replace.
type globals struct {
	Socket string // admin socket path (--socket)
	Stdout io.Writer
	Stderr io.Writer
	Stdin  io.Reader
}

func (g *globals) client() *admin.Client { return &admin.Client{Path: g.Socket} }

// usageError marks errors in how the command was called, which earn a
// pointer to --help; errors from the host do not.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// checkArgs wraps an argument validator so its errors are usage errors.
func checkArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// execute runs the moss command line args and returns the exit code.
func execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{Stdout: stdout, Stderr: stderr, Stdin: stdin}
	root := newRootCmd(g)
	if args == nil {
		args = []string{} // nil would make cobra read os.Args
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "moss: %v\n", err)
	if errors.As(err, new(usageError)) {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return 1
}

func newRootCmd(g *globals) *cobra.Command {
	socket := defaultSocket
	if s := os.Getenv("MOSS_SOCKET"); s != "" {
		socket = s
	}
	root := &cobra.Command{
		Use:   "moss",
		Short: "Moss runs WebAssembly components on edge devices",
		Long: `Moss is an edge runtime. Like an AWS IoT Greengrass V2 core device it runs
components and gives them a local publish/subscribe bus with MQTT wildcards,
configuration, secrets, device shadows, a link to AWS IoT Core that keeps
working offline, and a supervised lifecycle; unlike Greengrass, each
component is a sandboxed WebAssembly module and all of them run inside this
one process, and deployments move it between versioned component sets with
hot swaps and rollback.

"moss run" starts the host. The other commands talk to a running host over
its admin socket, a Unix socket only the user running the host can open:
--socket, or $MOSS_SOCKET, or var/moss/admin.sock under the current
directory.`,
		Example: `  # Start the host
  moss run

  # In another terminal: what is running, and how is it doing?
  moss list
  moss status

  # Watch every message under sensors/, with its topic
  moss sub -v 'sensors/#'

  # Send a message to the components
  moss pub commands/led on

  # Follow one component's logs
  moss logs -f sensor

  # Talk to a host started elsewhere
  moss --socket /var/lib/moss/admin.sock list`,
		Version: versionString(),
		// Errors are printed once, by execute, as "moss: ...".
		SilenceErrors: true,
		SilenceUsage:  true,
		// Without a RunE, "moss nosuch" would print help and succeed; with
		// it, unknown commands are errors with suggestions.
		Args:                       checkArgs(unknownCommand),
		SuggestionsMinimumDistance: 2,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	root.SetIn(g.Stdin)
	root.SetOut(g.Stdout)
	root.SetErr(g.Stderr)
	root.SetVersionTemplate("moss version {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVar(&g.Socket, "socket", socket,
		"admin socket of the host (env MOSS_SOCKET)")
	root.MarkPersistentFlagFilename("socket", "sock")

	root.AddCommand(
		newRunCmd(g),
		newListCmd(g),
		newStatusCmd(g),
		newPubCmd(g),
		newSubCmd(g),
		newLogsCmd(g),
		newSecretCmd(g),
		newComponentCmd(g),
		newShadowCmd(g),
		newCertsCmd(g),
		newClientsCmd(g),
		newIotsimCmd(g),
		newNewCmd(g),
		newVersionCmd(g),
	)
	root.AddCommand(deployCommands(g)...)
	return root
}

func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return errors.New(msg)
}
