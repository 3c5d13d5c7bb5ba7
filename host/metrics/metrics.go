// Package metrics exposes the host's figures to Prometheus. It keeps no
// counters of its own: at each scrape it asks a Source for a Snapshot of
// what the other packages already count (components, bus, cloud link,
// shadows) and turns it into metrics, so no package imports this one to do
// its job and a host nobody scrapes pays nothing.
//
// Names follow Prometheus conventions: a moss_ prefix, the subsystem,
// _total on counters, base units (bytes, seconds).
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Snapshot is the host's figures at one moment.
type Snapshot struct {
	Components []Component
	Bus        Bus
	Cloud      *Cloud // nil: no cloud link
	Shadow     []ShadowOps
}

// Component is one component's figures.
type Component struct {
	Name, Version string
	State         string // its lifecycle state, e.g. RUNNING
	Delivered     uint64 // events delivered
	Dropped       uint64 // messages its mailbox dropped
	Queued        int
	Errors        int
	Restarts      int
	Memory        uint64 // linear memory in use, bytes
	MemoryLimit   uint64
}

// Bus is the local bus's figures.
type Bus struct {
	Published, Delivered uint64
	Subscriptions        int
}

// Cloud is the cloud link's figures.
type Cloud struct {
	Connected         bool
	Reconnects        int
	Sent, Received    uint64 // messages
	Rejected          uint64
	BytesOut, BytesIn uint64
	Spooled           int
	SpooledBytes      int64
	SpoolMaxBytes     int64
	Evicted           uint64
	Subscriptions     int
}

// ShadowOps counts one shadow operation's outcomes.
type ShadowOps struct {
	Op                 string // get, update, delete, list
	Accepted, Rejected uint64
}

// States are the lifecycle states moss_component_state reports, one series
// each, 1 for the component's current state.
var States = []string{"NEW", "INSTALLED", "STARTING", "RUNNING", "STOPPING", "FINISHED", "ERRORED", "BROKEN"}

// Source returns a snapshot; it is called once per scrape and may be
// called from many goroutines at once.
type Source func() Snapshot

// NewRegistry returns a registry with the host's collector and the Go
// runtime's and the process's own.
func NewRegistry(src Source) *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&collector{src: src},
	)
	return r
}

var (
	compLabels = []string{"component"}

	cDelivered  = desc("component_events_delivered_total", "Events delivered to the component's instances.", compLabels...)
	cDropped    = desc("component_events_dropped_total", "Messages the component's mailbox dropped because it was full.", compLabels...)
	cQueued     = desc("component_mailbox_queued", "Events waiting in the component's mailbox.", compLabels...)
	cErrors     = desc("component_errors_total", "Errors (traps, deadlines, ERRORED reports) of the component.", compLabels...)
	cRestarts   = desc("component_restarts_total", "Restarts of the component after an error.", compLabels...)
	cState      = desc("component_state", "1 for the component's lifecycle state, 0 for the others.", "component", "state")
	cInfo       = desc("component_info", "The component's version, always 1.", "component", "version")
	cMemory     = desc("component_memory_bytes", "Linear memory of the component's instance after its last call.", compLabels...)
	cMemLimit   = desc("component_memory_limit_bytes", "Linear memory the component may grow to.", compLabels...)
	bPublished  = desc("bus_publishes_total", "Messages published on the local bus.")
	bDelivered  = desc("bus_deliveries_total", "Deliveries to local bus subscriptions.")
	bSubs       = desc("bus_subscriptions", "Subscriptions on the local bus.")
	lConnected  = desc("cloud_connected", "1 while the cloud link is connected.")
	lReconnects = desc("cloud_reconnects_total", "Connections made after the first.")
	lMessages   = desc("cloud_messages_total", "Messages the broker took (out) or sent (in).", "direction")
	lBytes      = desc("cloud_bytes_total", "Bytes on the wire, TLS included.", "direction")
	lRejected   = desc("cloud_messages_rejected_total", "Messages the broker refused for good.")
	lSpooled    = desc("cloud_spool_messages", "Messages waiting in the spool.")
	lSpoolBytes = desc("cloud_spool_bytes", "Size of the messages waiting in the spool.")
	lSpoolMax   = desc("cloud_spool_max_bytes", "The spool's bound.")
	lEvicted    = desc("cloud_spool_evicted_total", "QoS 0 messages evicted to make room for QoS 1.")
	lSubs       = desc("cloud_subscriptions", "Distinct filters subscribed on the broker.")
	sOps        = desc("shadow_operations_total", "Shadow operations by operation and result.", "op", "result")
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("moss_"+name, help, labels, nil)
}

// collector turns a Snapshot into metrics. It is unchecked (Describe sends
// nothing): which series exist depends on the components deployed.
type collector struct{ src Source }

func (c *collector) Describe(chan<- *prometheus.Desc) {}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src()
	counter := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, l...)
	}
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	for _, x := range s.Components {
		counter(cDelivered, float64(x.Delivered), x.Name)
		counter(cDropped, float64(x.Dropped), x.Name)
		gauge(cQueued, float64(x.Queued), x.Name)
		counter(cErrors, float64(x.Errors), x.Name)
		counter(cRestarts, float64(x.Restarts), x.Name)
		gauge(cInfo, 1, x.Name, x.Version)
		gauge(cMemory, float64(x.Memory), x.Name)
		gauge(cMemLimit, float64(x.MemoryLimit), x.Name)
		for _, st := range States {
			v := 0.0
			if st == x.State {
				v = 1
			}
			gauge(cState, v, x.Name, st)
		}
	}
	counter(bPublished, float64(s.Bus.Published))
	counter(bDelivered, float64(s.Bus.Delivered))
	gauge(bSubs, float64(s.Bus.Subscriptions))
	if l := s.Cloud; l != nil {
		connected := 0.0
		if l.Connected {
			connected = 1
		}
		gauge(lConnected, connected)
		counter(lReconnects, float64(l.Reconnects))
		counter(lMessages, float64(l.Sent), "out")
		counter(lMessages, float64(l.Received), "in")
		counter(lBytes, float64(l.BytesOut), "out")
		counter(lBytes, float64(l.BytesIn), "in")
		counter(lRejected, float64(l.Rejected))
		gauge(lSpooled, float64(l.Spooled))
		gauge(lSpoolBytes, float64(l.SpooledBytes))
		gauge(lSpoolMax, float64(l.SpoolMaxBytes))
		counter(lEvicted, float64(l.Evicted))
		gauge(lSubs, float64(l.Subscriptions))
	}
	for _, o := range s.Shadow {
		counter(sOps, float64(o.Accepted), o.Op, "accepted")
		counter(sOps, float64(o.Rejected), o.Op, "rejected")
	}
}
