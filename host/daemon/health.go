package daemon

import (
	"context"
	"encoding/json"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/moss-edge/moss/host/component"
)

// HealthDocument is what the host publishes on its health topic, as
// Greengrass's fleet status service reports a core device's status.
type HealthDocument struct {
	Thing       string            `json:"thing"`
	HostVersion string            `json:"host_version"`
	Platform    string            `json:"platform"` // GOOS/GOARCH
	Health      string            `json:"health"`   // HEALTHY or UNHEALTHY
	Trigger     string            `json:"trigger"`  // start, change or interval
	Time        time.Time         `json:"time"`
	Seq         uint64            `json:"seq"` // per host run, so a reader can order documents
	Components  []HealthComponent `json:"components"`
	Deployment  *HealthDeployment `json:"last_deployment,omitempty"`
}

// HealthComponent is one component in a HealthDocument.
type HealthComponent struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	State     string `json:"state"`
	LastError string `json:"last_error,omitempty"`
}

// HealthDeployment is the last deployment that ended.
type HealthDeployment struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Health values.
const (
	Healthy   = "HEALTHY"
	Unhealthy = "UNHEALTHY"
)

// healthCheckEvery is how often the reporter looks for a change; it is
// also the debounce floor: changes within it go out as one document.
const healthCheckEvery = 250 * time.Millisecond

// healthReport builds the document from what the host runs now. The
// digest leaves out what changes without a state change (time, seq, the
// trigger), so equal digests mean nothing worth reporting happened.
func (d *Daemon) healthReport() (doc HealthDocument, digest string) {
	d.mu.Lock()
	comps := d.comps
	d.mu.Unlock()
	doc = HealthDocument{
		Thing: d.cfg.Thing(), HostVersion: Version, Platform: runtime.GOOS + "/" + runtime.GOARCH,
		Health: Healthy, Components: make([]HealthComponent, 0, len(comps)),
	}
	for _, c := range comps {
		i := c.Info()
		doc.Components = append(doc.Components, HealthComponent{Name: i.Name, Version: i.Version, State: string(i.State), LastError: i.LastError})
		if i.State != component.StateRunning && i.State != component.StateFinished {
			doc.Health = Unhealthy
		}
	}
	slices.SortFunc(doc.Components, func(a, b HealthComponent) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	if d.deployer != nil {
		if recs, err := d.deployer.List(); err == nil {
			for i := len(recs) - 1; i >= 0; i-- {
				if recs[i].Status.Ended() {
					doc.Deployment = &HealthDeployment{ID: recs[i].ID, Status: string(recs[i].Status), Reason: recs[i].Reason}
					break
				}
			}
		}
	}
	b, _ := json.Marshal(struct {
		H string
		C []HealthComponent
		D *HealthDeployment
	}{doc.Health, doc.Components, doc.Deployment})
	return doc, string(b)
}

// startHealth publishes the health document at start, after every
// change (a component's state, version or last error, a deployment
// ending) once things have been quiet for the debounce, and every status
// interval, at QoS 1 through the cloud link: offline, the documents wait
// in the spool and go out when the link is back. It needs a cloud link;
// without one it does nothing. stop ends it.
func (d *Daemon) startHealth() (stop func()) {
	h := d.cfg.Health
	if !h.Enabled || !d.cfg.Cloud.Online() || d.cloud == nil {
		return func() {}
	}
	topic := d.cfg.HealthTopic()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(healthCheckEvery)
		defer tick.Stop()
		var seq uint64
		publish := func(doc HealthDocument, trigger string) {
			seq++
			doc.Trigger, doc.Time, doc.Seq = trigger, time.Now().UTC(), seq
			b, err := json.Marshal(doc)
			if err == nil {
				err = d.cloud.Publish(ctx, topic, b, 1)
			}
			if err != nil && ctx.Err() == nil {
				d.log.Warn("health: publishing the status document failed", "topic", topic, "err", err)
				return
			}
			d.log.Debug("health published", "topic", topic, "health", doc.Health, "trigger", trigger)
		}
		doc, sent := d.healthReport()
		publish(doc, "start")
		lastSent := time.Now()
		var pending string      // a digest seen but not sent yet
		var pendingAt time.Time // when it was first seen
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				doc, dg := d.healthReport()
				switch {
				case dg != sent && dg != pending:
					pending, pendingAt = dg, now // wait for it to settle
				case dg != sent && now.Sub(pendingAt) >= h.Debounce.Duration:
					publish(doc, "change")
					sent, pending, lastSent = dg, "", now
				case dg == sent:
					pending = ""
				}
				if now.Sub(lastSent) >= h.StatusInterval.Duration {
					publish(doc, "interval")
					sent, pending, lastSent = dg, "", now
				}
			}
		}
	})
	d.log.Info("health reporting", "topic", topic, "status_interval", h.StatusInterval)
	return func() { cancel(); wg.Wait() }
}
