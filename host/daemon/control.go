package daemon

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/moss-edge/moss/host/admin"
	"github.com/moss-edge/moss/host/component"
)

// ControlComponent implements admin.Backend: `moss component stop|start|
// restart NAME`. A stop ends the component as the host's own stop does (its
// mailbox drained within the stop timeout, then the stop event) but keeps
// it on the host, FINISHED, until a start or a deployment brings it back; a
// start runs the version it had; a restart is a stop, then a start.
// Operations on components are serialised, so two operators cannot
// interleave a stop and a start.
func (d *Daemon) ControlComponent(ctx context.Context, action, name string) (admin.ComponentInfo, error) {
	d.ctl.Lock()
	defer d.ctl.Unlock()
	c := d.Component(name)
	if c == nil {
		return admin.ComponentInfo{}, d.noComponent(name)
	}
	var err error
	switch action {
	case admin.ActionStop:
		err = d.stopComponent(ctx, c)
	case admin.ActionStart:
		c, err = d.startComponent(ctx, c)
	case admin.ActionRestart:
		if err = d.stopComponent(ctx, c); err == nil {
			c, err = d.startComponent(ctx, c)
		}
	default:
		err = fmt.Errorf("unknown action %q: want stop, start or restart", action)
	}
	if err != nil {
		return admin.ComponentInfo{}, fmt.Errorf("%s %s: %w", action, name, err)
	}
	d.log.Info("component "+action+" by the operator", "component", name, "state", c.State())
	return componentInfo(c.Info()), nil
}

// noComponent says which components there are, so a typo is obvious.
func (d *Daemon) noComponent(name string) error {
	d.mu.Lock()
	names := make([]string, 0, len(d.comps))
	for _, c := range d.comps {
		names = append(names, c.Name())
	}
	d.mu.Unlock()
	slices.Sort(names)
	if len(names) == 0 {
		return fmt.Errorf("%w %q: the host runs no components", admin.ErrNoComponent, name)
	}
	return fmt.Errorf("%w %q; the host runs %s", admin.ErrNoComponent, name, strings.Join(names, ", "))
}

func (d *Daemon) stopComponent(ctx context.Context, c *component.Component) error {
	timeout := d.cfg.Lifecycle.StopTimeout.Duration
	if timeout <= 0 {
		timeout = component.DefaultStopTimeout
	}
	// The component drains within StopTimeout itself; the extra second
	// covers the stop event, as in stopAll.
	ctx, cancel := context.WithTimeout(ctx, timeout+time.Second)
	defer cancel()
	return c.Stop(ctx)
}

// startComponent brings c back and returns the component now serving its
// name: a new one in c's place when c was stopped (a component's goroutine
// does not outlive a stop), c itself when it was FINISHED by its own
// choice, ERRORED or BROKEN (it starts again on its spec at once, as a
// rollback does), and c unchanged when it already runs. It waits until the
// component has left STARTING.
func (d *Daemon) startComponent(ctx context.Context, c *component.Component) (*component.Component, error) {
	select {
	case <-c.Done():
		c = d.replace(c, c.Spec())
	default:
		switch c.State() {
		case component.StateRunning, component.StateStarting, component.StateStopping:
			// Running already, or on its way (an automatic restart,
			// a deployment): nothing to do but wait for it.
		default:
			t0 := time.Now()
			if err := c.Upgrade(ctx, c.Spec()); err != nil {
				return c, err
			}
			// Upgrade returns once the request is taken; the state
			// changes to STARTING after that, so wait for a change.
			if _, err := c.Wait(ctx, func(i component.Info) bool { return i.Since.After(t0) }); err != nil {
				return c, err
			}
		}
	}
	wctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	st, err := c.WaitState(wctx, component.StateRunning, component.StateFinished, component.StateErrored, component.StateBroken)
	if err != nil {
		return c, err
	}
	if st != component.StateRunning && st != component.StateFinished {
		return c, fmt.Errorf("%s after starting: %s", st, c.Info().LastError)
	}
	return c, nil
}

// replace puts a new component for spec, started, in old's place (its
// position in the dependency order kept) and returns it. old must have
// stopped.
func (d *Daemon) replace(old *component.Component, spec component.Spec) *component.Component {
	c := component.New(spec, d.env)
	d.mu.Lock()
	if i := slices.Index(d.comps, old); i >= 0 {
		d.comps[i] = c
	} else {
		d.comps = append(d.comps, c)
	}
	d.mu.Unlock()
	c.Start()
	return c
}

// stopped reports whether c's goroutine has ended (an operator's stop).
func stopped(c *component.Component) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

func componentInfo(i component.Info) admin.ComponentInfo {
	return admin.ComponentInfo{
		Name: i.Name, Version: i.Version, State: string(i.State), Since: i.Since,
		Restarts: i.Restarts, Errors: i.Errors, Delivered: i.Delivered, Dropped: i.Dropped,
		Queued: i.Queued, LastError: i.LastError,
	}
}
