package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/moss-edge/moss/host/conftree"
	"github.com/moss-edge/moss/host/manifest"
)

// notifyMin is the least time one Notify call gets, even when
// update_policy.timeout is shorter or has passed: components must at least
// hear that an update is coming.
const notifyMin = 5 * time.Second

// Reasons recorded for the ways a deployment is stopped.
const (
	reasonRestarted = "host restarted during the deployment"
	reasonCanceled  = "canceled during the deployment"
)

// execute runs the active deployment a to its end. ctx is Run's: when it
// ends, the deployment stops where it is and stays IN_PROGRESS for Recover.
func (d *Deployer) execute(ctx context.Context, a *active) {
	r := a.rec
	doc, err := ParseDocument(docName(r), []byte(r.Document))
	if err != nil { // accepted by Submit; only a change of this code gets here
		d.finish(r, Rejected, err.Error())
		return
	}
	prev, target, changes, err := d.plan(doc, r)
	if err != nil {
		d.finish(r, Rejected, err.Error())
		return
	}

	// The record of what is about to happen is durable before anything
	// is touched: Recover needs the previous set.
	d.mu.Lock()
	r.Status, r.Started = InProgress, time.Now().UTC()
	r.Previous, r.Target, r.Changes = prev, target, changes
	d.mu.Unlock()
	d.event(r, Progress{Step: StepStarted, Detail: summary(changes)})
	if err := d.save(r, nil); err != nil {
		d.finish(r, Rejected, "could not record the deployment before starting it: "+err.Error())
		return
	}

	touched := map[string]bool{}
	err = d.notify(a.ctx, r, doc)
	if err == nil {
		err = d.steps(a.ctx, r, doc, touched)
	}
	d.mu.Lock()
	if err == nil && a.ctx.Err() == nil {
		a.committing = true
	}
	committing := a.committing
	d.mu.Unlock()
	if committing {
		d.finishWith(r, Succeeded, "", r.Target)
		return
	}
	if err == nil {
		err = context.Cause(a.ctx)
	}

	start := doc.Timeouts.Start.Duration
	switch {
	case ctx.Err() != nil:
		d.progress(r, Progress{Step: StepNotice, Detail: "the host is stopping: the deployment stops here; the host starts the previous set again and records the outcome"})
	case errors.Is(context.Cause(a.ctx), errCanceled):
		if rerr := d.rollback(ctx, r, touched, start); ctx.Err() != nil {
			return
		} else if rerr != nil {
			d.finishWith(r, Canceled, reasonCanceled+"; rollback failed: "+rerr.Error(), d.snapshot())
		} else {
			d.finishWith(r, Canceled, reasonCanceled+"; rolled back to the previous set", r.Previous)
		}
	case doc.FailurePolicy == NoRollback:
		d.finishWith(r, FailedNoRollback, err.Error()+` (failure_policy is "none": not rolled back)`, d.snapshot())
	default:
		if rerr := d.rollback(ctx, r, touched, start); ctx.Err() != nil {
			return
		} else if rerr != nil {
			d.finishWith(r, FailedNoRollback, err.Error()+"; rollback failed: "+rerr.Error(), d.snapshot())
		} else {
			d.finishWith(r, FailedRolledBack, err.Error(), r.Previous)
		}
	}
}

func docName(r *Record) string {
	if r.File != "" {
		return r.File
	}
	return "deployment.toml"
}

func summary(changes []Change) string {
	if len(changes) == 0 {
		return "nothing to change"
	}
	var parts []string
	for _, c := range changes {
		parts = append(parts, string(c.Action)+" "+c.Name)
	}
	return strings.Join(parts, ", ")
}

// plan works out the previous set (what the host runs), the target set and
// the changes between them, without touching anything. Any reason the
// target cannot run is an error naming the components.
func (d *Deployer) plan(doc *Document, r *Record) (prev, target []Installed, changes []Change, err error) {
	installed := map[string]Installed{}
	for n, in := range d.host.Installed() {
		in.Config = conftree.Merge(nil, in.Config) // ours from now on
		installed[n] = in
	}
	mans := map[string]*manifest.Manifest{}
	loadErr := map[string]error{}
	for n, in := range installed {
		if m, err := manifest.Load(in.Manifest); err == nil {
			mans[n] = m
		} else {
			loadErr[n] = err
		}
	}
	prev = inOrder(installed, mans)

	set := maps.Clone(installed)
	tmans := maps.Clone(mans)
	for _, rm := range doc.Remove {
		delete(set, rm.Name)
		delete(tmans, rm.Name)
	}
	var problems []string
	if len(r.Stored) != len(doc.Components) {
		return nil, nil, nil, fmt.Errorf("the record lists %d stored components for %d in the document", len(r.Stored), len(doc.Components))
	}
	for i, c := range doc.Components {
		a := r.Stored[i]
		m, err := manifest.Load(a.Manifest)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s %s: the component store's copy: %v", c.Name, c.Version, err))
			continue
		}
		old, had := installed[c.Name]
		set[c.Name] = Installed{
			Name: c.Name, Version: m.Version, Manifest: a.Manifest,
			Config: resolveConfig(m.Config, old.Config, had, had && old.Version != m.Version, c.Config),
		}
		tmans[c.Name] = m
	}
	for _, n := range sortedKeys(set) {
		if tmans[n] == nil && loadErr[n] != nil {
			problems = append(problems, fmt.Sprintf("%s %s runs, but its manifest cannot be read to check dependencies: %v", n, set[n].Version, loadErr[n]))
		}
	}
	if len(problems) > 0 {
		return nil, nil, nil, errors.New(strings.Join(problems, "; "))
	}
	names, err := order(tmans, true)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, n := range names {
		target = append(target, set[n])
	}

	for i := len(prev) - 1; i >= 0; i-- {
		p := prev[i]
		if _, stays := set[p.Name]; !stays {
			changes = append(changes, Change{Name: p.Name, Action: ActionRemove, From: p.Version, State: "pending"})
		}
	}
	for _, t := range target {
		old, had := installed[t.Name]
		c := Change{Name: t.Name, From: old.Version, To: t.Version, State: "pending"}
		switch {
		case !had:
			c.Action = ActionInstall
		case old.Version != t.Version || old.Manifest != t.Manifest:
			c.Action = ActionUpdate
		case !sameConfig(old.Config, t.Config):
			c.Action = ActionConfigure
		default:
			continue
		}
		changes = append(changes, c)
	}
	return prev, target, changes, nil
}

// notify asks the running components the deployment changes whether they
// accept the update, waiting while they defer, up to update_policy.timeout.
func (d *Deployer) notify(ctx context.Context, r *Record, doc *Document) error {
	if doc.UpdatePolicy.Action == ActionSkip {
		return nil
	}
	var names []string
	for _, c := range r.Changes {
		if c.Action != ActionInstall {
			names = append(names, c.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	deadline := time.Now().Add(doc.UpdatePolicy.Timeout.Duration)
	for {
		cctx, cancel := context.WithTimeout(ctx, max(time.Until(deadline), notifyMin))
		until, err := d.host.Notify(cctx, names)
		cancel()
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err != nil {
			d.progress(r, Progress{Step: StepNotice, Detail: fmt.Sprintf("asking %s about the update failed (%v); going ahead", strings.Join(names, ", "), err)})
			return nil
		}
		now := time.Now()
		if !until.After(now) {
			return nil
		}
		if !now.Before(deadline) {
			d.progress(r, Progress{Step: StepNotice, Detail: fmt.Sprintf("update_policy.timeout (%v) has passed; going ahead although components defer the update until %s", doc.UpdatePolicy.Timeout, until.Format(time.TimeOnly))})
			return nil
		}
		wake := until
		if deadline.Before(wake) {
			wake = deadline
		}
		d.progress(r, Progress{Step: StepWaiting, Detail: fmt.Sprintf("components deferred the update until %s; waiting until %s", until.Format(time.TimeOnly), wake.Format(time.TimeOnly))})
		t := time.NewTimer(time.Until(wake))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		}
	}
}

// steps removes, applies and checks each component, in the order of
// r.Changes (removals first, dependents last), marking each component it
// acts on in touched.
func (d *Deployer) steps(ctx context.Context, r *Record, doc *Document, touched map[string]bool) error {
	start := doc.Timeouts.Start.Duration
	probation := doc.Timeouts.Probation.Duration
	targets := map[string]Installed{}
	for _, t := range r.Target {
		targets[t.Name] = t
	}
	var applied []int
	for i, c := range r.Changes {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		touched[c.Name] = true
		if c.Action == ActionRemove {
			d.change(r, i, StepStopping, "")
			err := d.step(ctx, start, func(ctx context.Context) error { return d.host.Remove(ctx, c.Name) })
			if err != nil {
				return d.failed(ctx, r, i, err, fmt.Sprintf("did not stop within %v (timeouts.start)", start))
			}
			d.change(r, i, StepRemoved, "")
			continue
		}
		t := targets[c.Name]
		d.change(r, i, StepStarted, "")
		err := d.step(ctx, start, func(ctx context.Context) error { return d.host.Apply(ctx, t.Manifest, t.Config) })
		if err != nil {
			return d.failed(ctx, r, i, err, fmt.Sprintf("did not reach RUNNING within %v (timeouts.start)", start))
		}
		d.change(r, i, StepRunning, "")
		applied = append(applied, i)
	}
	// One probation for all: the host counts it from when each component
	// reached RUNNING, so checking them in turn costs about one period.
	for _, i := range applied {
		c := r.Changes[i]
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		err := d.step(ctx, probation+start, func(ctx context.Context) error { return d.host.Healthy(ctx, c.Name, probation) })
		if err != nil {
			return d.failed(ctx, r, i, err, fmt.Sprintf("probation (%v) did not end within %v more", probation, start))
		}
		d.change(r, i, StepHealthy, "")
	}
	return nil
}

// step runs fn with its own timeout.
func (d *Deployer) step(ctx context.Context, timeout time.Duration, fn func(context.Context) error) error {
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := fn(sctx)
	if err != nil && ctx.Err() == nil && errors.Is(sctx.Err(), context.DeadlineExceeded) {
		return &timeoutError{err}
	}
	return err
}

type timeoutError struct{ err error }

func (e *timeoutError) Error() string { return e.err.Error() }
func (e *timeoutError) Unwrap() error { return e.err }

// failed records that change i failed and returns the deployment's error:
// the cause of ctx when the deployment was stopped, else the failure.
func (d *Deployer) failed(ctx context.Context, r *Record, i int, err error, timeoutMsg string) error {
	if ctx.Err() != nil {
		d.change(r, i, StepFailed, "interrupted")
		return context.Cause(ctx)
	}
	msg := err.Error()
	if te := (*timeoutError)(nil); errors.As(err, &te) {
		msg = timeoutMsg
		if s := te.err.Error(); s != context.DeadlineExceeded.Error() {
			msg += ": " + s
		}
	}
	d.change(r, i, StepFailed, msg)
	c := r.Changes[i]
	return fmt.Errorf("%s: %s", label(c.Name, c.From, c.To), msg)
}

// change moves change i of r to step and reports it.
func (d *Deployer) change(r *Record, i int, step Step, detail string) {
	d.mu.Lock()
	c := &r.Changes[i]
	c.State = string(step)
	if step == StepFailed {
		c.Error = detail
	}
	p := Progress{Component: c.Name, From: c.From, To: c.To, Step: step, Detail: detail}
	d.mu.Unlock()
	d.progress(r, p)
}

// progress reports p and saves r with it: the history keeps every event.
func (d *Deployer) progress(r *Record, p Progress) {
	d.event(r, p)
	if err := d.save(r, nil); err != nil {
		d.log.Error("deployment: recording progress", "deployment", r.ID, "err", err)
	}
}

// rollback restores the previous set after a failure or a cancel.
func (d *Deployer) rollback(ctx context.Context, r *Record, touched map[string]bool, timeout time.Duration) error {
	d.progress(r, Progress{Step: StepRollback, Detail: "restoring the previous set"})
	return d.restore(ctx, r, touched, timeout)
}

// restore brings the host back to r.Previous: it removes the components the
// deployment added (dependents first) and applies every previous component
// that the deployment touched or that differs from what runs now
// (dependencies first). It goes on past a failure and returns them all.
func (d *Deployer) restore(ctx context.Context, r *Record, touched map[string]bool, timeout time.Duration) error {
	installed := d.host.Installed()
	prev := map[string]bool{}
	for _, p := range r.Previous {
		prev[p.Name] = true
	}
	var errs []error
	for _, t := range slices.Backward(r.Target) {
		if prev[t.Name] {
			continue
		}
		if _, runs := installed[t.Name]; !runs && !touched[t.Name] {
			continue
		}
		p := Progress{Component: t.Name, From: t.Version, Rollback: true}
		d.rolled(r, p, StepStopping, "")
		if err := d.step(ctx, timeout, func(ctx context.Context) error { return d.host.Remove(ctx, t.Name) }); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", t.Name, err))
			d.rolled(r, p, StepFailed, err.Error())
			continue
		}
		d.rolled(r, p, StepRemoved, "")
	}
	for _, p := range r.Previous {
		cur, runs := installed[p.Name]
		if runs && cur.same(p) && !touched[p.Name] {
			continue
		}
		ev := Progress{Component: p.Name, From: cur.Version, To: p.Version, Rollback: true}
		d.rolled(r, ev, StepStarted, "")
		if err := d.step(ctx, timeout, func(ctx context.Context) error { return d.host.Apply(ctx, p.Manifest, p.Config) }); err != nil {
			errs = append(errs, fmt.Errorf("restoring %s %s: %w", p.Name, p.Version, err))
			d.rolled(r, ev, StepFailed, err.Error())
			continue
		}
		d.rolled(r, ev, StepRunning, "")
	}
	return errors.Join(errs...)
}

// rolled reports a rollback step and keeps the component's change current.
func (d *Deployer) rolled(r *Record, p Progress, step Step, detail string) {
	p.Step, p.Detail = step, detail
	d.mu.Lock()
	for i := range r.Changes {
		if c := &r.Changes[i]; c.Name == p.Component {
			switch step {
			case StepFailed:
				c.State, c.Error = "rollback failed", detail
			case StepRunning, StepRemoved:
				c.State = "rolled back"
			}
		}
	}
	d.mu.Unlock()
	d.progress(r, p)
}
