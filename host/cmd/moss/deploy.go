package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/moss-edge/moss/host/deploy"
)

// maxDocument bounds what `moss deploy` reads.
const maxDocument = 1 << 20

// deployCommands are the deployment commands: moss deploy, moss
// deployments and moss deployment.
func deployCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{newDeployCmd(g), newDeploymentsCmd(g), newDeploymentCmd(g)}
}

func newDeployCmd(g *globals) *cobra.Command {
	var (
		artifacts string
		noWait    bool
	)
	cmd := &cobra.Command{
		Use:   "deploy FILE [--artifacts DIR] [--no-wait]",
		Short: "Deploy a set of component versions and configuration changes",
		Long: `Submit the deployment document FILE to the host and print its progress until
it ends. The host copies each component it names (manifest and module) into
its component store, checking the module against the manifest's sha256, then
applies the components in dependency order: each must reach RUNNING within
timeouts.start and run without error for timeouts.probation. If one fails,
the host goes back to the components and configuration it ran before
(failure_policy = "rollback", the default). One deployment runs at a time;
others wait in a queue.

The exit status is 0 only when the deployment SUCCEEDED (with --no-wait:
when it was queued). Ctrl-C stops printing, not the deployment: see
"moss deployment cancel".

A document (TOML):

  id = "2026-12-02-alerts-v2"         # unique
  failure_policy = "rollback"         # or "none"
  [update_policy]
  action = "notify"                   # running components may defer ("skip": not asked)
  timeout = "60s"                     # how long they may
  [timeouts]
  start = "60s"
  probation = "10s"
  [[components]]
  name = "alerts"
  version = "2.0.0"
  manifest = "alerts-v2/component.toml"  # relative to FILE, or to --artifacts;
                                         # leave out for a version already stored
  [components.config]
  merge = { threshold = 30.0 }
  reset = ["window"]                  # back to the manifest's default first
  [[remove]]
  name = "old-thing"`,
		Example: `  moss deploy deployments/alerts-v2.toml
  moss deploy alerts-v2.toml --artifacts build/components
  moss deploy alerts-v2.toml --no-wait && moss deployments`,
		Args: checkArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return []cobra.Completion{"toml"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			// The host reads the manifests: give it absolute paths.
			file, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			doc, err := readDocument(file)
			if err != nil {
				return err
			}
			if artifacts != "" {
				if artifacts, err = filepath.Abs(artifacts); err != nil {
					return err
				}
				if fi, err := os.Stat(artifacts); err != nil {
					return usageError{fmt.Errorf("--artifacts: %w", err)}
				} else if !fi.IsDir() {
					return usageError{fmt.Errorf("--artifacts %s is not a directory", artifacts)}
				}
			}
			var werr error
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			rec, err := g.client().Deploy(ctx, doc, file, artifacts, !noWait, func(p deploy.Progress) {
				if werr == nil {
					if _, werr = fmt.Fprintln(g.Stdout, p.String()); werr != nil {
						cancel()
					}
				}
			})
			switch {
			case werr != nil:
				return fmt.Errorf("writing progress: %w", werr)
			case err != nil && rec.ID != "" && cmd.Context().Err() != nil:
				return fmt.Errorf("stopped following deployment %s, which goes on (moss deployment show %s; moss deployment cancel %s)", rec.ID, rec.ID, rec.ID)
			case err != nil:
				return err
			}
			switch {
			case rec.Status == deploy.Rejected:
				fmt.Fprintf(g.Stderr, "deployment %s: REJECTED:\n%s\n", rec.ID, indent(rec.Reason))
				return fmt.Errorf("deployment %s was rejected", rec.ID)
			case noWait:
				wait := "next to run"
				if len(rec.WaitingFor) > 0 {
					wait = "waiting for " + strings.Join(rec.WaitingFor, ", ")
				}
				fmt.Fprintf(g.Stdout, "deployment %s: %s (%s)\n", rec.ID, rec.Status, wait)
				return nil
			case rec.Status != deploy.Succeeded:
				return fmt.Errorf("deployment %s ended %s", rec.ID, rec.Status)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&artifacts, "artifacts", "", "directory the document's manifest paths are relative to (default: the document's)")
	cmd.MarkFlagDirname("artifacts")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the deployment is queued")
	return cmd
}

func readDocument(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := io.ReadAll(io.LimitReader(f, maxDocument+1))
	if err != nil {
		return nil, err
	}
	if len(doc) > maxDocument {
		return nil, fmt.Errorf("%s is larger than %d bytes", file, maxDocument)
	}
	return doc, nil
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

func newDeploymentsCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "deployments",
		Short: "List the deployments the host ran, runs and has queued",
		Long: `List the host's deployments, oldest first, one per line:

  ID        the document's id
  STATUS    QUEUED, IN_PROGRESS, SUCCEEDED, FAILED_ROLLED_BACK,
            FAILED_NO_ROLLBACK, REJECTED or CANCELED
  STARTED   when it started (local time)
  DURATION  how long it ran (so far)
  REASON    why it failed, was rejected or canceled (first line); for a
            queued deployment, what it waits for

The host keeps the last 100 that ended. "moss deployment show ID" prints one
in full.`,
		Example: `  moss deployments
  moss deployments --json | jq -r '.[] | select(.status == "FAILED_ROLLED_BACK") | .id'`,
		Args: checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			recs, err := g.client().Deployments(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, recs)
			}
			if len(recs) == 0 {
				fmt.Fprintln(g.Stderr, "No deployments.")
				return nil
			}
			tw := tabwriter.NewWriter(g.Stdout, 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tSTARTED\tDURATION\tREASON")
			for _, r := range recs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Status, when(r.Started), duration(r), reason(r, 72))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the deployments as a JSON array")
	return cmd
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}

func duration(r deploy.Record) string {
	if r.Started.IsZero() {
		return "-"
	}
	return r.Duration().Round(100 * time.Millisecond).String()
}

// reason is what the REASON column shows: the first line of the reason, at
// most max characters, with the document's file named without its
// directory.
func reason(r deploy.Record, max int) string {
	s := r.Reason
	if r.File != "" {
		s = strings.ReplaceAll(s, r.File+":", filepath.Base(r.File)+":")
	}
	if r.Status == deploy.Queued && len(r.WaitingFor) > 0 {
		s = "waiting for " + strings.Join(r.WaitingFor, ", ")
	}
	first, rest, more := strings.Cut(s, "\n")
	if len(first) > max {
		first = first[:max-3] + "..."
	}
	if more {
		first += fmt.Sprintf(" (and %d more)", strings.Count(rest, "\n")+1)
	}
	return first
}

func newDeploymentCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deployment",
		Short: "Show or cancel one deployment",
	}
	cmd.AddCommand(newDeploymentShowCmd(g), newDeploymentCancelCmd(g))
	return cmd
}

func newDeploymentShowCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Print a deployment: status, components, every event",
		Long: `Print everything the host recorded about a deployment: its status and
reason, when it was submitted, started and ended, what it did to each
component and how far each got, and every progress event. --json adds the
document and the component sets before and after, with their configuration.`,
		Example: `  moss deployment show 2026-12-02-alerts-v2
  moss deployment show 2026-12-02-alerts-v2 --json | jq .target`,
		Args:              checkArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeDeployments(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := g.client().Deployment(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, r)
			}
			return printDeployment(g.Stdout, r)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the whole record as JSON")
	return cmd
}

func printDeployment(w io.Writer, r deploy.Record) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "ID:\t%s\n", r.ID)
	fmt.Fprintf(tw, "Status:\t%s\n", r.Status)
	if r.Reason != "" {
		fmt.Fprintf(tw, "Reason:\t%s\n", strings.ReplaceAll(r.Reason, "\n", "\n\t"))
	}
	if len(r.WaitingFor) > 0 {
		fmt.Fprintf(tw, "Waiting for:\t%s\n", strings.Join(r.WaitingFor, ", "))
	}
	if r.File != "" {
		fmt.Fprintf(tw, "File:\t%s\n", r.File)
	}
	fmt.Fprintf(tw, "Submitted:\t%s\n", when(r.Submitted))
	fmt.Fprintf(tw, "Started:\t%s\n", when(r.Started))
	if !r.Ended.IsZero() {
		fmt.Fprintf(tw, "Ended:\t%s (%s)\n", when(r.Ended), duration(r))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Changes) > 0 {
		fmt.Fprintln(w, "\nComponents:")
		tw = tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
		fmt.Fprintln(tw, "  NAME\tACTION\tFROM\tTO\tSTATE\tERROR")
		for _, c := range r.Changes {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", c.Name, c.Action, dash(c.From), dash(c.To), c.State, c.Error)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Events) > 0 {
		fmt.Fprintln(w, "\nEvents:")
		for _, p := range r.Events {
			fmt.Fprintf(w, "  %s  %s\n", p.Time.Local().Format("15:04:05.000"), p)
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newDeploymentCancelCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a queued deployment, or stop one in progress and roll it back",
		Long: `Cancel a deployment. A queued one is dropped; one in progress stops at its
current step and the host goes back to the components it ran before. The
command returns once the deployment has ended, and prints its final status.
A deployment that has already ended cannot be canceled (exit status 1).`,
		Example:           `  moss deployment cancel 2026-12-02-alerts-v2`,
		Args:              checkArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeDeployments(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := g.client().CancelDeployment(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(g.Stdout, "deployment %s: %s: %s\n", r.ID, r.Status, r.Reason)
			return nil
		},
	}
}

// completeDeployments offers the ids of the host's deployments, newest
// first, each with its status.
func completeDeployments(g *globals) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Second)
		defer cancel()
		recs, err := g.client().Deployments(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var ids []cobra.Completion
		for i := len(recs) - 1; i >= 0; i-- { // newest first
			ids = append(ids, cobra.CompletionWithDesc(recs[i].ID, string(recs[i].Status)))
		}
		return ids, cobra.ShellCompDirectiveNoFileComp
	}
}
