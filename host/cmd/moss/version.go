package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise versionString falls back to what the Go toolchain recorded.
var version string

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this moss binary",
		Long: `Print the version of this moss binary, with the Go release that built it and
the platform it was built for. "moss status" shows the version of the host
that is running, which may differ after an upgrade.`,
		Example: `  moss version`,
		Args:    checkArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(g.Stdout, "moss version %s\n", versionString())
			return err
		},
	}
}

// versionString is e.g. "v1.2.3 (go1.26.8 linux/arm64)" or, for a build
// from a checkout, "dev+0a1b2c3d4e5f-dirty (go1.26.8 linux/amd64)".
func versionString() string {
	v := version
	if v == "" {
		v = "dev"
		if bi, ok := debug.ReadBuildInfo(); ok {
			if mv := bi.Main.Version; mv != "" && mv != "(devel)" {
				v = mv
			} else {
				var rev, dirty string
				for _, s := range bi.Settings {
					switch s.Key {
					case "vcs.revision":
						rev = s.Value[:min(len(s.Value), 12)]
					case "vcs.modified":
						if s.Value == "true" {
							dirty = "-dirty"
						}
					}
				}
				if rev != "" {
					v += "+" + rev + dirty
				}
			}
		}
	}
	return fmt.Sprintf("%s (%s %s/%s)", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
