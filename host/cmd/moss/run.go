package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/moss-edge/moss/host/config"
	"github.com/moss-edge/moss/host/daemon"
	"github.com/moss-edge/moss/host/logs"
)

func newRunCmd(g *globals) *cobra.Command {
	var (
		configPath string
		print      []string
		strict     bool
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the Moss host in the foreground",
		Long: `Run starts the Moss host: it loads the host configuration, compiles the
configured components (cached in the data directory, so later starts are fast),
starts them in dependency order and serves the admin socket that "moss list",
"moss pub", "moss sub" and "moss logs" talk to.

A component whose module cannot be loaded (damaged, refused by the host) is
BROKEN, with its error in "moss list" and "moss logs", and the rest of the
host runs, so a deployment can repair it; --strict exits instead. A
configuration that does not parse always stops the host.

It runs until interrupted (SIGINT or SIGTERM), then stops the components in
reverse dependency order, delivering what their mailboxes hold first.`,
		Example: `  moss run --config configs/default.toml
  moss run --config configs/default.toml --print 'sensors/#' --print 'alerts/#'
  moss run --config /etc/moss/config.toml   # the admin socket is set in the file`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(configPath)
			if err != nil {
				return err
			}
			buf := logs.NewBuffer(2000)
			buf.SetLevel(cfg.SlogLevel())
			text := slog.NewTextHandler(g.Stderr, &slog.HandlerOptions{Level: cfg.SlogLevel()})
			log := slog.New(buf.Handler(text))
			d, err := daemon.New(cfg, log, buf)
			if err != nil {
				return err
			}
			d.SetStrict(strict)
			if len(print) > 0 {
				// Written off the publishers' goroutines: see printer.
				p := newPrinter(g.Stdout, log)
				defer p.close(time.Second) // after the cancels below: deferred first
				for _, f := range print {
					cancel, err := d.Subscribe(f, p.deliver)
					if err != nil {
						return fmt.Errorf("--print %q: %w", f, err)
					}
					defer cancel()
				}
			}
			if err := d.Run(cmd.Context()); err != nil {
				return fmt.Errorf("run %s: %w", configPath, err)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&print, "print", nil, "print every bus message matching this MQTT filter to stdout, as \"topic payload\" (repeatable; when stdout is behind, messages are dropped and counted in the log)")
	cmd.Flags().BoolVar(&strict, "strict", false, "exit if a component's module cannot be loaded, instead of marking that component BROKEN and running the rest (for CI)")
	cmd.Flags().StringVarP(&configPath, "config", "c", defaultConfigPath(), "host configuration file (TOML)")
	return cmd
}

// defaultConfigPath is $MOSS_CONFIG, else configs/default.toml.
func defaultConfigPath() string {
	if p := os.Getenv("MOSS_CONFIG"); p != "" {
		return p
	}
	return "configs/default.toml"
}
