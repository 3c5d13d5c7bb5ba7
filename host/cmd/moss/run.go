package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/moss-edge/moss/host/config"
	"github.com/moss-edge/moss/host/daemon"
	"github.com/moss-edge/moss/host/logs"
)

func newRunCmd(g *globals) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the Moss host in the foreground",
		Long: `Run starts the Moss host: it loads the host configuration, compiles the
configured components (cached in the data directory, so later starts are fast),
starts them in dependency order and serves the admin socket that "moss list",
"moss pub", "moss sub" and "moss logs" talk to.

It runs until interrupted (SIGINT or SIGTERM), then stops the components in
reverse dependency order, delivering what their mailboxes hold first.`,
		Example: `  moss run --config configs/default.toml
  MOSS_SOCKET=/run/moss/admin.sock moss run --config /etc/moss/config.toml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(configPath)
			if err != nil {
				return err
			}
			buf := logs.NewBuffer(2000)
			text := slog.NewTextHandler(g.Stderr, &slog.HandlerOptions{Level: cfg.SlogLevel()})
			log := slog.New(buf.Handler(text))
			d, err := daemon.New(cfg, log, buf)
			if err != nil {
				return err
			}
			if err := d.Run(cmd.Context()); err != nil {
				return fmt.Errorf("run %s: %w", configPath, err)
			}
			return nil
		},
	}
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
