package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/moss-edge/moss/host/admin"
)

func newPubCmd(g *globals) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "pub TOPIC [MESSAGE]",
		Short: "Publish a message on the host's local bus",
		Long: `Publish one message on TOPIC on the running host's local bus, where every
component subscribed to a matching filter receives it.

The message is MESSAGE's bytes exactly, with no newline added. Use -f FILE to
send a file's contents instead, and "-" (as MESSAGE or as FILE) to send what
arrives on standard input. A message may be up to 8 MiB.`,
		Example: `  moss pub commands/led on
  moss pub sensors/room1/temp '{"celsius": 21.5}'
  moss pub -f firmware.bin ota/chunk
  date | moss pub clock/now -`,
		Args: checkArgs(func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return errors.New("pub needs a TOPIC and a MESSAGE")
			case file != "" && len(args) != 1:
				return fmt.Errorf("pub -f takes the message from %s, so it takes only a TOPIC (got %d arguments)", file, len(args))
			case file == "" && len(args) == 1:
				return errors.New(`pub needs a MESSAGE after the TOPIC (or -f FILE, or "-" for standard input)`)
			case len(args) > 2:
				return fmt.Errorf("pub takes a TOPIC and a MESSAGE, got %d arguments (quote a message that contains spaces)", len(args))
			}
			return nil
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			var payload []byte
			var err error
			switch {
			case file != "":
				payload, err = readPayload(g, file)
			case args[1] == "-":
				payload, err = readPayload(g, "-")
			default:
				payload = []byte(args[1])
			}
			if err != nil {
				return err
			}
			return g.client().Publish(cmd.Context(), args[0], payload)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", `send the contents of `+"`FILE`"+` ("-" for standard input)`)
	return cmd
}

// readPayload reads a message from path, or from standard input for "-",
// refusing more than the host accepts rather than reading it all first.
func readPayload(g *globals, path string) ([]byte, error) {
	var r io.Reader = g.Stdin
	name := "standard input"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r, name = f, path
	}
	b, err := io.ReadAll(io.LimitReader(r, admin.MaxPayload+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(b) > admin.MaxPayload {
		return nil, fmt.Errorf("%s holds more than the %d bytes a message may have", name, admin.MaxPayload)
	}
	return b, nil
}
