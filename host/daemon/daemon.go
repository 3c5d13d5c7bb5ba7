// Package daemon assembles a Moss host from its configuration: the Wasm
// engine, the local bus, the components (started in dependency order, stopped
// in reverse) and the admin socket the CLI talks to.
//
// New has no side effects; Run does the work and returns after ctx is done
// and everything it started has stopped.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
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

	mu    sync.Mutex
	comps []*component.Component // dependency order
	// manifests maps a component to the manifest it runs from.
	manifests map[string]string
	subID     atomic.Uint32
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
	return &Daemon{cfg: cfg, log: log, logs: logBuf, bus: bus.New(), codec: codec, ready: make(chan struct{}), manifests: map[string]string{}}, nil
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
// loaded (a bad manifest, a missing dependency, a wasm whose hash does not
// match) fails Run before anything starts.
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
	defer engine.Close(context.Background())

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
	specs, err := d.load(ctx, engine, refs)
	if err != nil {
		srv.Close()
		return err
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
	for _, s := range specs {
		c := component.New(s, env)
		d.mu.Lock()
		d.comps = append(d.comps, c)
		d.mu.Unlock()
		c.Start()
		// Dependents start after their dependencies have settled, as
		// Greengrass starts a component once its hard dependencies run.
		wctx, cancel := context.WithTimeout(ctx, startTimeout)
		st, err := c.WaitState(wctx, component.StateRunning, component.StateFinished, component.StateErrored, component.StateBroken)
		cancel()
		if err != nil && ctx.Err() != nil {
			return nil
		}
		if st != component.StateRunning && st != component.StateFinished {
			d.log.Warn("component did not reach RUNNING", "component", s.Name, "state", st)
		}
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
	close(d.ready)
	// Start-up is the host's one burst of allocation (decoding and
	// compiling modules, language runtimes initialising): hand what it
	// left behind back to the OS now rather than when the scavenger gets
	// to it, since an edge device's memory is what it is short of.
	debug.FreeOSMemory()
	d.log.Info("moss running", "components", len(specs), "admin_socket", d.cfg.AdminSocket, "data_dir", d.cfg.DataDir)
	<-ctx.Done()
	d.log.Info("moss stopping")
	return nil
}

// stopAll stops components in reverse dependency order.
func (d *Daemon) stopAll() {
	d.mu.Lock()
	comps := d.comps
	d.mu.Unlock()
	timeout := d.cfg.Lifecycle.StopTimeout.Duration
	if timeout <= 0 {
		timeout = component.DefaultStopTimeout
	}
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

// load reads every manifest and wasm, checks dependencies and compiles the
// modules (in parallel: compiling is the slow part of a cold start). All
// problems are reported together.
func (d *Daemon) load(ctx context.Context, engine *wasm.Engine, refs []config.ComponentRef) ([]component.Spec, error) {
	var errs []error
	mans := make([]*manifest.Manifest, 0, len(refs))
	overrides := map[string]map[string]any{}
	for _, ref := range refs {
		m, err := manifest.Load(ref.Manifest)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := overrides[m.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: component %q is configured twice", ref.Manifest, m.Name))
			continue
		}
		overrides[m.Name] = ref.Config
		d.mu.Lock()
		d.manifests[m.Name] = ref.Manifest
		d.mu.Unlock()
		mans = append(mans, m)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	ordered, err := dependencyOrder(mans)
	if err != nil {
		return nil, err
	}
	specs := make([]component.Spec, len(ordered))
	errs = make([]error, len(ordered))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, m := range ordered {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			specs[i], errs[i] = d.spec(ctx, engine, m, overrides[m.Name])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return specs, nil
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
