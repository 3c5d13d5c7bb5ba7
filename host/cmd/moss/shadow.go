package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

func newShadowCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "shadow",
		Short: "Read and change device shadows on the host",
		Long: `The host keeps device shadows as AWS IoT Core does (desired, reported and
delta state, versions, metadata), persisted on the device, for its own thing
and for any other (client devices). These commands act as the operator; the
documents and error codes are IoT Core's. THING "-" is the device's own thing
(cloud.thing_name in the host configuration, "moss" when none is set).

A rejected request prints IoT Core's error document and exits 1.`,
	}
	cmd.AddCommand(
		newShadowOpCmd(g, "get", "get THING [--name NAME]", "Print a shadow", `  moss shadow get - --name thermostat
  moss shadow get gateway-01 | jq .state.delta`, 1),
		newShadowOpCmd(g, "update", "update THING JSON [--name NAME]", "Update a shadow with an IoT Core update document", `  moss shadow update - '{"state":{"desired":{"color":"RED"}}}' --name thermostat
  moss shadow update sensor-7 '{"state":{"reported":{"battery":80}},"version":12}'`, 2),
		newShadowOpCmd(g, "delete", "delete THING [--name NAME]", "Delete a shadow (its version carries on if it is made again)", `  moss shadow delete - --name thermostat`, 1),
		newShadowOpCmd(g, "list", "list THING", "List a thing's named shadows", `  moss shadow list -`, 1),
	)
	return cmd
}

func newShadowOpCmd(g *globals, op, use, short, example string, nargs int) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    checkArgs(cobra.ExactArgs(nargs)),
		RunE: func(cmd *cobra.Command, args []string) error {
			thing := args[0]
			if thing == "-" {
				thing = ""
			}
			var payload []byte
			if nargs == 2 {
				payload = []byte(args[1])
				if !json.Valid(payload) {
					return usageError{fmt.Errorf("the update document is not valid JSON: %s", args[1])}
				}
			}
			code, doc, err := g.client().Shadow(cmd.Context(), op, thing, name, payload)
			if err != nil {
				return err
			}
			var out bytes.Buffer
			if json.Indent(&out, doc, "", "  ") != nil {
				out.Reset()
				out.Write(doc)
			}
			out.WriteByte('\n')
			if code != 200 {
				g.Stderr.Write(out.Bytes())
				return fmt.Errorf("shadow %s rejected with %d", op, code)
			}
			_, err = g.Stdout.Write(out.Bytes())
			return err
		},
	}
	if op != "list" {
		cmd.Flags().StringVarP(&name, "name", "n", "", "a named shadow (default: the classic shadow)")
	}
	return cmd
}
