package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/moss-edge/moss/host/config"
	"github.com/moss-edge/moss/host/daemon"
)

// syncBuffer collects the host's warnings and errors, to show when a run
// goes wrong (and to see mailbox-full warnings).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// compRef is one [[components]] entry of a host configuration.
type compRef struct {
	manifest string
	config   map[string]string // key -> TOML value as written
}

// hostConfig writes a host configuration into dir and returns its path.
// The data directory and admin socket live in dir; cacheDir is the
// compilation cache (shared by runs that measure a warm start).
func hostConfig(dir, cacheDir string, comps []compRef) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "data_dir = %q\nadmin_socket = %q\ncache_dir = %q\nlog_level = \"warn\"\n",
		filepath.Join(dir, "data"), filepath.Join(dir, "admin.sock"), cacheDir)
	for _, c := range comps {
		fmt.Fprintf(&b, "\n[[components]]\nmanifest = %q\n", c.manifest)
		if len(c.config) > 0 {
			b.WriteString("[components.config]\n")
			for k, v := range c.config {
				fmt.Fprintf(&b, "%s = %s\n", k, v)
			}
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	p := filepath.Join(dir, "moss.toml")
	return p, os.WriteFile(p, []byte(b.String()), 0o644)
}

// inProcessHost is a daemon running in this process, as `moss run` runs it.
type inProcessHost struct {
	d      *daemon.Daemon
	log    *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// newHost loads the configuration and makes the daemon; run starts it.
func newHost(cfgFile string) (*inProcessHost, error) {
	cfg, err := config.Load(cfgFile)
	if err != nil {
		return nil, err
	}
	buf := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := daemon.New(cfg, log, nil)
	if err != nil {
		return nil, err
	}
	return &inProcessHost{d: d, log: buf, done: make(chan error, 1)}, nil
}

func (h *inProcessHost) run() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.d.Run(ctx) }()
}

// waitReady waits until every component has been started.
func (h *inProcessHost) waitReady(timeout time.Duration) error {
	select {
	case <-h.d.Ready():
		return nil
	case err := <-h.done:
		h.done <- err
		return fmt.Errorf("host stopped before it was ready: %v\n%s", err, h.log.String())
	case <-time.After(timeout):
		return fmt.Errorf("host not ready after %v\n%s", timeout, h.log.String())
	}
}

// failed reports whether the host or a component logged an error (a
// guest's failed publish, a crash): a run that would otherwise wait for
// messages that never come.
func (h *inProcessHost) failed() bool {
	return strings.Contains(h.log.String(), "level=ERROR")
}

// stop stops the host and waits for Run to return.
func (h *inProcessHost) stop() error {
	if h.cancel == nil {
		return nil
	}
	h.cancel()
	select {
	case err := <-h.done:
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("host did not stop within 30s")
	}
}
