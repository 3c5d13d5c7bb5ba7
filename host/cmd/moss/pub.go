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
	var (
		file    string
		toCloud bool
		qos     int
	)
	cmd := &cobra.Command{
		Use:   "pub TOPIC [MESSAGE]",
		Short: "Publish a message on the host's local bus",
		Long: `Publish one message on TOPIC on the running host's local bus, where every
component subscribed to a matching filter receives it.

The message is MESSAGE's bytes exactly, with no newline added. Use -f FILE to
send a file's contents instead, and "-" (as MESSAGE or as FILE) to send what
arrives on standard input. A message may be up to 8 MiB.

With --cloud the message goes to AWS IoT Core instead, through the host's
cloud link, as the device; while the link is down a QoS 1 message waits in
the host's spool and the command returns once it is there.`,
		Example: `  moss pub commands/led on
  moss pub sensors/room1/temp '{"celsius": 21.5}'
  moss pub -f firmware.bin ota/chunk
  date | moss pub clock/now -
  moss pub --cloud --qos 1 dt/device1/status online`,
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
			if toCloud {
				if qos > 1 {
					return usageError{fmt.Errorf("--qos %d: AWS IoT Core takes QoS 0 or 1", qos)}
				}
				return g.client().CloudPublish(cmd.Context(), args[0], payload, byte(qos))
			}
			if cmd.Flags().Changed("qos") {
				return usageError{errors.New("--qos applies only with --cloud (the local bus has no QoS)")}
			}
			return g.client().Publish(cmd.Context(), args[0], payload)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", `send the contents of `+"`FILE`"+` ("-" for standard input)`)
	cmd.Flags().BoolVar(&toCloud, "cloud", false, "publish to AWS IoT Core through the host's cloud link, as the device")
	cmd.Flags().IntVarP(&qos, "qos", "q", 1, "with --cloud: 0 or 1 (QoS 1 returns once the broker acknowledged the message or the host spooled it)")
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
