package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/moss-edge/moss/host/cloud"
	"github.com/moss-edge/moss/host/metrics"
)

// shadowOps counts shadow operations by result for metrics; the
// operations are few and fixed, so an array of atomics does.
type shadowOps struct {
	n [4][2]atomic.Uint64 // [get update delete list][accepted rejected]
}

var shadowOpNames = [4]string{"get", "update", "delete", "list"}

func (o *shadowOps) count(op string, err error) {
	for i, name := range shadowOpNames {
		if name == op {
			r := 0
			if err != nil {
				r = 1
			}
			o.n[i][r].Add(1)
			return
		}
	}
}

func (o *shadowOps) snapshot() []metrics.ShadowOps {
	out := make([]metrics.ShadowOps, len(shadowOpNames))
	for i, name := range shadowOpNames {
		out[i] = metrics.ShadowOps{Op: name, Accepted: o.n[i][0].Load(), Rejected: o.n[i][1].Load()}
	}
	return out
}

// metricsSnapshot gathers what the host's packages count, for a scrape.
func (d *Daemon) metricsSnapshot() metrics.Snapshot {
	d.mu.Lock()
	comps := d.comps
	d.mu.Unlock()
	s := metrics.Snapshot{Components: make([]metrics.Component, 0, len(comps))}
	for _, c := range comps {
		i := c.Info()
		s.Components = append(s.Components, metrics.Component{
			Name: i.Name, Version: i.Version, State: string(i.State),
			Delivered: i.Delivered, Dropped: i.Dropped, Queued: i.Queued,
			Errors: i.Errors, Restarts: i.Restarts, Memory: i.Memory, MemoryLimit: i.MemoryLimit,
		})
	}
	b := d.bus.Stats()
	s.Bus = metrics.Bus{Published: b.Published, Delivered: b.Delivered, Subscriptions: b.Subscriptions}
	if d.cloud != nil {
		l := d.cloud.Status()
		s.Cloud = &metrics.Cloud{
			Connected: l.State == cloud.StateConnected, Reconnects: l.Reconnects,
			Sent: l.Sent, Received: l.Received, Rejected: l.Rejected,
			BytesOut: l.BytesOut, BytesIn: l.BytesIn,
			Spooled: l.Spooled, SpooledBytes: l.SpooledBytes, SpoolMaxBytes: l.SpoolMax,
			Evicted: l.Evicted, Subscriptions: l.Subscriptions,
		}
	}
	if d.shadows != nil {
		s.Shadow = d.shadows.ops.snapshot()
	}
	return s
}

// serveMetrics serves /metrics on [metrics] listen until stop is called;
// with no listen address it serves nothing. A taken port fails the start,
// as the admin socket does: an operator who asked for metrics wants to
// know.
func (d *Daemon) serveMetrics() (stop func(), err error) {
	addr := d.cfg.Metrics.Listen
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(metrics.NewRegistry(d.metricsSnapshot), promhttp.HandlerOpts{
		ErrorLog: slogPrinter{d}, MaxRequestsInFlight: 4, Timeout: 10 * time.Second,
	}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("metrics endpoint", "err", err)
		}
	})
	d.metricsAddr.Store(ln.Addr().String())
	d.log.Info("metrics listening", "addr", ln.Addr().String(), "path", "/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		srv.Close()
		wg.Wait()
	}, nil
}

// MetricsAddr is the address /metrics is served on ("" when not), which
// tells a test the port a ":0" listen address took.
func (d *Daemon) MetricsAddr() string {
	s, _ := d.metricsAddr.Load().(string)
	return s
}

// slogPrinter gives promhttp's error log to the host's logger.
type slogPrinter struct{ d *Daemon }

func (p slogPrinter) Println(v ...any) { p.d.log.Error("metrics: " + fmt.Sprint(v...)) }
