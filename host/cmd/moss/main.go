// Command moss is the Moss edge runtime in one binary: "moss run" is the
// host daemon, and the other subcommands are its CLI, which talks to a
// running host over the admin socket (package host/admin).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal cancels ctx so streams and the host stop cleanly;
	// restoring the default handling then lets a second Ctrl-C kill a host
	// that is slow to stop.
	context.AfterFunc(ctx, stop)
	code := execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
