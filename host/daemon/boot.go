package daemon

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/moss-edge/moss/host/component"
	"github.com/moss-edge/moss/host/config"
	"github.com/moss-edge/moss/host/conftree"
	"github.com/moss-edge/moss/host/limits"
	"github.com/moss-edge/moss/host/manifest"
	"github.com/moss-edge/moss/host/wasm"
)

// SetStrict makes Run fail, before any component starts, when a component's
// module cannot be loaded (read, compiled or vetted), as CI wants; by default
// such a component is BROKEN with its error and the rest of the host runs,
// so that a device with one damaged component keeps its cloud link and can
// be repaired by a deployment. Call it before Run.
func (d *Daemon) SetStrict(strict bool) { d.strict = strict }

// boot is the loading of the components Run starts: every module compiles
// in the background (at most GOMAXPROCS at once) while the host opens its
// services, and each component starts as soon as its own module and its
// dependencies are ready, so one slow compile delays only the components
// that depend on it.
type boot struct {
	mans      []*manifest.Manifest // dependency order
	overrides map[string]map[string]any
	index     map[string]int  // name to position in mans
	loaded    []chan struct{} // closed once specs[i] or errs[i] is set
	specs     []component.Spec
	errs      []error
	cancel    context.CancelFunc
	done      chan struct{} // closed once every compilation has ended
}

// parse reads every manifest and orders them by dependency. These are
// problems of the configuration (a manifest that does not parse, a
// component configured twice, a missing dependency or a cycle): all are
// reported together and stop the host.
func (d *Daemon) parse(refs []config.ComponentRef) (*boot, error) {
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
	b := &boot{
		mans: ordered, overrides: overrides, index: make(map[string]int, len(ordered)),
		loaded: make([]chan struct{}, len(ordered)),
		specs:  make([]component.Spec, len(ordered)), errs: make([]error, len(ordered)),
	}
	for i, m := range ordered {
		b.index[m.Name] = i
		b.loaded[i] = make(chan struct{})
	}
	return b, nil
}

// compile starts compiling every module in the background, in dependency
// order, under ctx: close cancels what has not finished.
func (b *boot) compile(ctx context.Context, d *Daemon, engine *wasm.Engine) {
	ctx, b.cancel = context.WithCancel(ctx)
	b.done = make(chan struct{})
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	go func() {
		defer close(b.done)
		var wg sync.WaitGroup
		defer wg.Wait()
		for i, m := range b.mans {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				for j := i; j < len(b.mans); j++ {
					b.errs[j] = fmt.Errorf("component %s: not compiled: %w", b.mans[j].Name, ctx.Err())
					close(b.loaded[j])
				}
				return
			}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				b.specs[i], b.errs[i] = d.spec(ctx, engine, m, b.overrides[m.Name])
				close(b.loaded[i])
			}()
		}
	}()
}

// wait waits for every module and returns the load errors, all together.
func (b *boot) wait(ctx context.Context) error {
	for _, ch := range b.loaded {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return errors.Join(b.errs...)
}

// close cancels the compilations still under way and waits for them up to
// timeout. It reports whether they all ended: a compile that ignores its
// context can outlive the host's stop, and then the engine must not be
// closed under it.
func (b *boot) close(timeout time.Duration) bool {
	b.cancel()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-b.done:
		return true
	case <-t.C:
		return false
	}
}

// start starts each component once its module is compiled and its
// dependencies have settled (RUNNING, FINISHED, ERRORED, BROKEN, or
// startTimeout passed), as Greengrass starts a component once its hard
// dependencies run; independent components start concurrently. A module
// that did not load makes its component BROKEN. start returns when every
// component has been started and has settled, or when ctx is done.
func (d *Daemon) start(ctx context.Context, b *boot, env component.Env) {
	settled := make([]chan struct{}, len(b.mans))
	for i := range settled {
		settled[i] = make(chan struct{})
	}
	var wg sync.WaitGroup
	for i, m := range b.mans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(settled[i])
			for dep := range m.Dependencies {
				if j, ok := b.index[dep]; ok {
					select {
					case <-settled[j]:
					case <-ctx.Done():
						return
					}
				}
			}
			select {
			case <-b.loaded[i]:
			case <-ctx.Done():
				return
			}
			if ctx.Err() != nil {
				return
			}
			var c *component.Component
			if err := b.errs[i]; err != nil {
				c = component.NewBroken(d.brokenSpec(m, b.overrides[m.Name]), env, err)
			} else {
				c = component.New(b.specs[i], env)
			}
			// Appended only once its dependencies are: comps stays in
			// dependency order, which stopAll reverses.
			d.mu.Lock()
			d.comps = append(d.comps, c)
			d.mu.Unlock()
			c.Start()
			wctx, cancel := context.WithTimeout(ctx, startTimeout)
			st, err := c.WaitState(wctx, component.StateRunning, component.StateFinished, component.StateErrored, component.StateBroken)
			cancel()
			if err != nil && ctx.Err() != nil {
				return
			}
			if st != component.StateRunning && st != component.StateFinished {
				d.log.Warn("component did not reach RUNNING", "component", m.Name, "state", st)
			}
		}()
	}
	wg.Wait()
}

// brokenSpec is the spec of a component whose module did not load: what
// its manifest says, without a module, so that `moss list` shows its
// version and a deployment can replace it.
func (d *Daemon) brokenSpec(m *manifest.Manifest, override map[string]any) component.Spec {
	lim := m.Limits.Or(d.cfg.Limits)
	if lim.Validate() != nil {
		lim = d.cfg.Limits.Or(limits.Defaults())
	}
	policy, _ := m.Policy() // nil grants nothing, and it runs nothing anyway
	return component.Spec{
		Name: m.Name, Version: m.Version, Limits: lim,
		Config: conftree.Merge(m.Config, override), Policy: policy,
	}
}
