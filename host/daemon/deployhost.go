package daemon

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/moss-edge/moss/host/admin"
	"github.com/moss-edge/moss/host/component"
	"github.com/moss-edge/moss/host/config"
	"github.com/moss-edge/moss/host/deploy"
	"github.com/moss-edge/moss/host/store"
)

// The daemon is the deployer's host: deployments start, swap, reconfigure
// and remove its components.
var _ deploy.Host = (*Daemon)(nil)

// Installed implements deploy.Host.
func (d *Daemon) Installed() map[string]deploy.Installed {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]deploy.Installed, len(d.comps))
	for _, c := range d.comps {
		s := c.Spec()
		out[s.Name] = deploy.Installed{Name: s.Name, Version: s.Version, Manifest: d.manifests[s.Name], Config: s.Config}
	}
	return out
}

// Remove implements deploy.Host: the component stops (its mailbox drained
// within the stop timeout) and leaves the host.
func (d *Daemon) Remove(ctx context.Context, name string) error {
	c := d.Component(name)
	if c == nil {
		return nil
	}
	if err := c.Stop(ctx); err != nil {
		return err
	}
	d.mu.Lock()
	d.comps = slices.DeleteFunc(d.comps, func(x *component.Component) bool { return x == c })
	delete(d.manifests, name)
	d.mu.Unlock()
	return nil
}

// Healthy implements deploy.Host: the component must stay RUNNING, with no
// new error, for probation.
func (d *Daemon) Healthy(ctx context.Context, name string, probation time.Duration) error {
	c := d.Component(name)
	if c == nil {
		return fmt.Errorf("%s is not installed", name)
	}
	now := c.Info()
	before := now.Errors
	// Probation counts from when the component reached RUNNING, so
	// checking several components one after the other costs about one
	// probation, not one each.
	if now.State == component.StateRunning {
		probation -= time.Since(now.Since)
		if probation <= 0 {
			return nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, probation)
	defer cancel()
	info, err := c.Wait(ctx, func(i component.Info) bool {
		return i.Errors > before || (i.State != component.StateRunning && i.State != component.StateStarting)
	})
	if err == nil { // the condition held: it failed during probation
		return fmt.Errorf("%s %s during probation: %s %s", name, info.Version, info.State, info.LastError)
	}
	if ctx.Err() == context.DeadlineExceeded {
		return nil
	}
	return err
}

// Notify implements deploy.Host: each running component named gets an
// update event and may defer the update (defer_update); Notify returns the
// latest time one asked for, zero when all accept. A component that does
// not handle the event within its call deadline (and a second) accepts.
func (d *Daemon) Notify(ctx context.Context, names []string) (time.Time, error) {
	var until time.Time
	for _, name := range names {
		c := d.Component(name)
		if c == nil || c.Info().State != component.StateRunning {
			continue
		}
		n := c.NotifyUpdate("")
		wctx, cancel := context.WithTimeout(ctx, c.Spec().Limits.CallDeadline.Duration+time.Second)
		info, _ := c.Wait(wctx, func(i component.Info) bool { return i.UpdateSeen >= n || i.State != component.StateRunning })
		cancel()
		if ctx.Err() != nil {
			return time.Time{}, ctx.Err()
		}
		if info.DeferredUntil.After(time.Now()) && info.DeferredUntil.After(until) {
			until = info.DeferredUntil
		}
	}
	return until, nil
}

// openDeployer makes the component store and the deployer, and returns
// the components to run: the set the last deployment left, or the
// configuration's when no deployment ever set one.
func (d *Daemon) openDeployer(db *store.Store) ([]config.ComponentRef, error) {
	comps, err := deploy.NewStore(filepath.Join(d.cfg.DataDir, "components"), db, 0)
	if err != nil {
		return nil, err
	}
	if d.deployer, err = deploy.New(deploy.Options{DB: db, Components: comps, Host: d, Logger: d.log.With("service", "deploy")}); err != nil {
		return nil, err
	}
	set, ok, err := d.deployer.Current()
	if err != nil {
		return nil, err
	}
	if !ok {
		return d.cfg.Components, nil
	}
	refs := make([]config.ComponentRef, len(set))
	for i, c := range set {
		refs[i] = config.ComponentRef{Manifest: c.Manifest, Config: c.Config}
	}
	d.log.Info("running the deployed component set; [[components]] in the configuration is not used", "components", len(refs))
	return refs, nil
}

// Deployments implements admin.Backend.
func (d *Daemon) Deployments() admin.Deployments {
	if d.deployer == nil {
		return nil // an untyped nil: the server says the host has no deployer
	}
	return d.deployer
}
