// Package daemon assembles a Moss host from its configuration: the Wasm
// engine, the local bus, the components (started in dependency order, stopped
// in reverse) and the admin socket the CLI talks to.
//
// New has no side effects; Run does the work and returns after ctx is done
// and everything it started has stopped.
package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/host/admin"
	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/cloud"
	"github.com/moss-edge/moss/host/component"
	"github.com/moss-edge/moss/host/config"
	"github.com/moss-edge/moss/host/conftree"
	"github.com/moss-edge/moss/host/deploy"
	"github.com/moss-edge/moss/host/logs"
	"github.com/moss-edge/moss/host/manifest"
	"github.com/moss-edge/moss/host/secret"
	"github.com/moss-edge/moss/host/shadow"
	"github.com/moss-edge/moss/host/store"
	"github.com/moss-edge/moss/host/wasm"
)

// Version is the host's version, shown by `moss version` and `moss status`.
const Version = "0.1.0"

// startTimeout bounds how long Run waits for one component to leave
// STARTING before it starts the next.
const startTimeout = 30 * time.Second

// Daemon is one Moss host.
type Daemon struct {
	cfg   *config.Config
	log   *slog.Logger
	logs  *logs.Buffer
	bus   *bus.Bus
	codec *abi.Codec

	started time.Time
	ready   chan struct{}
	secrets *secret.Store // set by Run before the admin socket serves
	cloud   *cloud.Link   // likewise
	engine  *wasm.Engine  // likewise
	env     component.Env // likewise: what every component is made with
	shadows *shadows      // likewise
	// clients is the client devices' broker and authority, set by Run
	// before the admin socket serves when [broker] is configured.
	clients *clientDevices
	// deployer is set by Run before the admin socket serves.
	deployer *deploy.Deployer

	ctl   sync.Mutex // serialises ControlComponent
	mu    sync.Mutex
	comps []*component.Component // dependency order
	// manifests maps a component to the manifest it runs from.
	manifests map[string]string
	subID     atomic.Uint32
	strict    bool // SetStrict
	// released is closed once Run has released the engine, which a
	// compilation that ignores its context can delay past Run's return.
	released chan struct{}

	metricsAddr atomic.Value // string; metrics.go
}

// New returns a daemon for cfg. logBuf (may be nil) receives the records the
// admin socket serves to `moss logs`.
func New(cfg *config.Config, log *slog.Logger, logBuf *logs.Buffer) (*Daemon, error) {
	codec, err := abi.NewCodec()
	if err != nil {
		return nil, err
	}
	if logBuf == nil {
		logBuf = logs.NewBuffer(1000)
	}
	return &Daemon{cfg: cfg, log: log, logs: logBuf, bus: bus.New(), codec: codec, ready: make(chan struct{}), released: make(chan struct{}), manifests: map[string]string{}}, nil
}

// Ready is closed once every component has been started (whether or not it
// reached RUNNING) and the admin socket is listening.
func (d *Daemon) Ready() <-chan struct{} { return d.ready }

// Bus returns the local bus (for tests and embedding).
func (d *Daemon) Bus() *bus.Bus { return d.bus }

// Component returns the named component, or nil.
func (d *Daemon) Component(name string) *component.Component {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.comps {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

// Run starts the host and blocks until ctx is done, then stops components
// in reverse dependency order and returns. A configuration that cannot be
// loaded (a manifest that does not parse, a missing dependency) fails Run
// before anything starts; a component whose module cannot be loaded (a wasm
// whose hash does not match, that does not compile or that the host
// refuses) is BROKEN and the others run, unless SetStrict asked for Run to
// fail instead.
func (d *Daemon) Run(ctx context.Context) error {
	d.started = time.Now()
	if err := os.MkdirAll(d.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	engine, err := wasm.NewEngine(ctx, wasm.Options{
		CacheDir: filepath.Join(d.cfg.CacheDir, "wasm"),
		Logger:   d.log,
	})
	if err != nil {
		return err
	}
	// The engine is closed under no compilation: one that outlived the
	// stop closes it when it ends (see boot.close).
	var compiling <-chan struct{}
	defer func() {
		if compiling == nil {
			engine.Close(context.Background())
			close(d.released)
			return
		}
		go func() {
			<-compiling
			engine.Close(context.Background())
			close(d.released)
		}()
	}()

	srv := admin.NewServer(d.cfg.AdminSocket, d, d.logs, d.log)
	if err := srv.Listen(); err != nil {
		return err
	}
	db, err := store.Open(filepath.Join(d.cfg.DataDir, "moss.db"))
	if err != nil {
		srv.Close()
		return err
	}
	defer db.Close()
	// The components to run: the set the last deployment left, or, on a
	// device never deployed to, the configuration's.
	refs, err := d.openDeployer(db)
	if err != nil {
		srv.Close()
		return err
	}
	b, err := d.parse(refs)
	if err != nil {
		srv.Close()
		return err
	}
	// Modules compile while the services open and the components start.
	b.compile(ctx, d, engine)
	defer func() {
		if !b.close(d.stopTimeout()) {
			d.log.Error("a module was still compiling after stop_timeout; stopping without waiting for it")
			compiling = b.done
		}
	}()
	if d.strict {
		if err := b.wait(ctx); err != nil {
			srv.Close()
			return err
		}
	}
	if d.secrets, err = secret.Open(db, d.cfg.SecretKeyFile); err != nil {
		srv.Close()
		return err
	}
	if d.cloud, err = d.openCloud(db); err != nil {
		srv.Close()
		return err
	}
	defer d.closeCloud(d.cloud)
	svc, err := shadow.New(shadow.Options{Store: db, MaxDocumentBytes: d.cfg.Shadow.MaxDocumentBytes, Logger: d.log.With("service", "shadow")})
	if err != nil {
		srv.Close()
		return err
	}
	defer svc.Close()
	if d.shadows, err = newShadows(svc, d.bus, d.cfg.Thing(), d.log); err != nil {
		srv.Close()
		return err
	}
	defer d.shadows.close()
	if b, err := d.startBroker(db); err != nil {
		srv.Close()
		return err
	} else if b != nil {
		defer b.Close()
	}
	if ss, err := d.openShadowSync(svc, db); err != nil {
		srv.Close()
		return err
	} else if ss != nil {
		defer ss.Close()
	}
	stopMetrics, err := d.serveMetrics()
	if err != nil {
		srv.Close()
		return err
	}
	defer stopMetrics()
	adminErr := make(chan error, 1)
	actx, stopAdmin := context.WithCancel(context.Background())
	go func() { adminErr <- srv.Serve(actx) }()
	defer func() {
		stopAdmin()
		if err := <-adminErr; err != nil {
			d.log.Error("admin socket", "error", err)
		}
	}()

	restart := component.Restart{
		Backoff:     d.cfg.Lifecycle.RestartBackoff.Duration,
		MaxBackoff:  d.cfg.Lifecycle.MaxRestartBackoff.Duration,
		BrokenAfter: d.cfg.Lifecycle.BrokenAfter,
		Window:      d.cfg.Lifecycle.ErrorWindow.Duration,
		StopTimeout: d.cfg.Lifecycle.StopTimeout.Duration,
	}
	d.engine = engine
	env := component.Env{
		Engine: engine, Bus: d.bus, Codec: d.codec, Logger: d.log, Restart: restart,
		Secrets: secretsView{d.secrets},
		Cloud:   cloudEnv{d.cloud},
		Shadows: d.shadows,
		Output:  func(l *slog.Logger, level slog.Level) io.WriteCloser { return logs.LineWriter(l, level) },
	}
	d.env = env
	defer d.stopAll()
	d.start(ctx, b, env)
	if ctx.Err() != nil {
		return nil
	}
	// A deployment a crash or a stop interrupted is rolled back now that
	// the components run; then deployments are taken.
	if err := d.deployer.Recover(ctx); err != nil {
		d.log.Error("deployments: recovering the last one failed; new ones are refused", "err", err)
	}
	dctx, stopDeployer := context.WithCancel(context.Background())
	deployerDone := make(chan struct{})
	go func() {
		defer close(deployerDone)
		if err := d.deployer.Run(dctx); err != nil && dctx.Err() == nil {
			d.log.Error("deployments", "err", err)
		}
	}()
	defer func() { stopDeployer(); <-deployerDone }()
	if d.cfg.Cloud.Online() {
		if r, err := d.startRemote(d.cloud); err != nil {
			d.log.Error("remote deployments not available", "err", err)
		} else {
			defer r.close(d.cloud)
		}
	}
	defer d.startHealth()() // health.go
	close(d.ready)
	// Start-up is the host's one burst of allocation (decoding and
	// compiling modules, language runtimes initialising): hand what it
	// left behind back to the OS now rather than when the scavenger gets
	// to it, since an edge device's memory is what it is short of.
	debug.FreeOSMemory()
	d.log.Info("moss running", "components", len(b.mans), "admin_socket", d.cfg.AdminSocket, "data_dir", d.cfg.DataDir)
	<-ctx.Done()
	d.log.Info("moss stopping")
	return nil
}

// stopTimeout is how long a component may take to stop.
func (d *Daemon) stopTimeout() time.Duration {
	if t := d.cfg.Lifecycle.StopTimeout.Duration; t > 0 {
		return t
	}
	return component.DefaultStopTimeout
}

// stopAll stops components in reverse dependency order.
func (d *Daemon) stopAll() {
	d.mu.Lock()
	comps := d.comps
	d.mu.Unlock()
	timeout := d.stopTimeout()
	for i := len(comps) - 1; i >= 0; i-- {
		c := comps[i]
		// The component drains within StopTimeout itself; the extra
		// second covers the stop event.
		ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Second)
		if err := c.Stop(ctx); err != nil {
			d.log.Error("component did not stop in time", "component", c.Name(), "error", err)
		}
		cancel()
	}
}

func (d *Daemon) spec(ctx context.Context, engine *wasm.Engine, m *manifest.Manifest, override map[string]any) (component.Spec, error) {
	lim := m.Limits.Or(d.cfg.Limits)
	if err := lim.Validate(); err != nil {
		return component.Spec{}, fmt.Errorf("component %s: limits: %w", m.Name, err)
	}
	// Errors from the manifest and the engine already name the component.
	policy, err := m.Policy()
	if err != nil {
		return component.Spec{}, err
	}
	code, err := m.ReadWasm()
	if err != nil {
		return component.Spec{}, err
	}
	if m.Wasm.SHA256 == "" {
		d.log.Warn("manifest has no sha256: module integrity not checked", "component", m.Name, "wasm", m.WasmFile())
	}
	caps, err := capabilities(m)
	if err != nil {
		return component.Spec{}, fmt.Errorf("component %s: %w", m.Name, err)
	}
	t := time.Now()
	mod, err := engine.Compile(ctx, m.Name, code)
	if err != nil {
		return component.Spec{}, err
	}
	// Refused here rather than restarted into BROKEN: no restart helps.
	if need := mod.MinMemory(); need > uint64(lim.Memory) {
		return component.Spec{}, fmt.Errorf("component %s: module needs %d KiB of memory at start, its limits.memory is %d KiB", m.Name, need>>10, int64(lim.Memory)>>10)
	}
	d.log.Debug("compiled", "component", m.Name, "bytes", len(code), "took", time.Since(t))
	return component.Spec{
		Name: m.Name, Version: m.Version, Module: mod, Limits: lim,
		Config: conftree.Merge(m.Config, override), Policy: policy, Caps: caps,
	}, nil
}

// capabilities resolves a manifest's WASI grants: directories must exist,
// and environment variables take their values now, at load.
func capabilities(m *manifest.Manifest) (wasm.Capabilities, error) {
	caps := wasm.Capabilities{Clock: m.WASI.Clock, Random: m.WASI.Random}
	for _, d := range m.WASI.Dirs {
		host := m.HostDir(d)
		fi, err := os.Stat(host)
		if err != nil {
			return caps, fmt.Errorf("wasi dir %s: %w", host, err)
		}
		if !fi.IsDir() {
			return caps, fmt.Errorf("wasi dir %s: not a directory", host)
		}
		caps.Dirs = append(caps.Dirs, wasm.DirMount{Host: host, Guest: d.Guest})
	}
	for _, name := range m.WASI.Env {
		if v, ok := os.LookupEnv(name); ok {
			caps.Env = append(caps.Env, [2]string{name, v})
		}
	}
	return caps, nil
}
