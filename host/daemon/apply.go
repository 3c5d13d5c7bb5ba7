package daemon

import (
	"context"
	"fmt"

	"github.com/moss-edge/moss/host/component"
	"github.com/moss-edge/moss/host/manifest"
)

// Apply moves one component to the manifest at manifestPath with cfg merged
// over the manifest's defaults: it starts the component if the host does
// not run it, hot-swaps it (component.Upgrade: mailbox and subscriptions
// kept, no message lost) if its version or module differs, and otherwise
// only replaces its configuration. It returns once the component runs the
// new version, or with why it does not (it errored while starting, or ctx
// ended). The module is compiled, or taken from the compilation cache,
// before the running instance is touched, so the swap does not wait for it.
func (d *Daemon) Apply(ctx context.Context, manifestPath string, cfg map[string]any) error {
	m, err := manifest.Load(manifestPath)
	if err != nil {
		return err
	}
	spec, err := d.spec(ctx, d.engine, m, cfg)
	if err != nil {
		return err
	}
	c := d.Component(m.Name)
	d.mu.Lock()
	d.manifests[m.Name] = manifestPath
	d.mu.Unlock()
	switch {
	case c == nil:
		c = component.New(spec, d.env)
		d.mu.Lock()
		d.comps = append(d.comps, c)
		d.mu.Unlock()
		c.Start()
	case stopped(c):
		// An operator stopped it (`moss component stop`); the deployment
		// starts it again, on its spec.
		c = d.replace(c, spec)
	case c.Spec().Version != spec.Version || c.Spec().Module != spec.Module:
		if err := c.Upgrade(ctx, spec); err != nil {
			return err
		}
	case c.Info().State == component.StateRunning:
		c.Config().Replace(spec.Config)
		return nil
	default:
		// The same version, not running (ERRORED, BROKEN, FINISHED): a
		// rollback wants it back, so it starts again.
		if err := c.Upgrade(ctx, spec); err != nil {
			return err
		}
	}
	info, err := c.Wait(ctx, func(i component.Info) bool {
		// INSTALLED: a new component's goroutine has not begun yet.
		return i.Version == spec.Version && i.State != component.StateStarting && i.State != component.StateInstalled
	})
	if err != nil {
		return fmt.Errorf("%s %s: %s after waiting: %w", m.Name, spec.Version, info.State, err)
	}
	if info.State != component.StateRunning && info.State != component.StateFinished {
		return fmt.Errorf("%s %s did not start: %s: %s", m.Name, spec.Version, info.State, info.LastError)
	}
	return nil
}
