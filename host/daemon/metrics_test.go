package daemon

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/moss-edge/moss/host/admin"
	"github.com/moss-edge/moss/host/config"
	"github.com/moss-edge/moss/internal/poll"
)

const metricsConfig = "[metrics]\nlisten = \"127.0.0.1:0\"\n"

// scrape fetches and parses a host's /metrics over loopback.
func scrape(t testing.TB, h *host) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + h.d.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// value is the value of the series of family name whose labels include
// want, and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

func mustValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	v, ok := value(fams, name, labels...)
	if !ok {
		t.Fatalf("/metrics has no %s%v", name, labels)
	}
	return v
}

// TestMetricsEndpoint scrapes a real host running the examples and checks
// that the figures move with what the host does.
func TestMetricsEndpoint(t *testing.T) {
	h := startHost(t, examplesConfig(t, metricsConfig))
	ctx := context.Background()
	poll.Until(t, "alerts to have had events", func() bool {
		v, _ := value(scrape(t, h), "moss_component_events_delivered_total", "component", "alerts")
		return v >= 3
	})
	f := scrape(t, h)
	for _, c := range []string{"sensor", "alerts"} {
		if v := mustValue(t, f, "moss_component_state", "component", c, "state", "RUNNING"); v != 1 {
			t.Errorf("%s RUNNING = %v", c, v)
		}
		if v := mustValue(t, f, "moss_component_state", "component", c, "state", "BROKEN"); v != 0 {
			t.Errorf("%s BROKEN = %v", c, v)
		}
		if v := mustValue(t, f, "moss_component_memory_bytes", "component", c); v < 64<<10 {
			t.Errorf("%s memory = %v bytes", c, v)
		}
		if v := mustValue(t, f, "moss_component_memory_limit_bytes", "component", c); v < 1<<20 {
			t.Errorf("%s memory limit = %v bytes", c, v)
		}
		mustValue(t, f, "moss_component_events_dropped_total", "component", c)
		mustValue(t, f, "moss_component_errors_total", "component", c)
		mustValue(t, f, "moss_component_restarts_total", "component", c)
	}
	mustValue(t, f, "moss_component_info", "component", "sensor", "version", "1.0.0")
	if p, dl, s := mustValue(t, f, "moss_bus_publishes_total"), mustValue(t, f, "moss_bus_deliveries_total"), mustValue(t, f, "moss_bus_subscriptions"); p < 1 || dl < 1 || s < 1 {
		t.Errorf("bus: %v publishes, %v deliveries, %v subscriptions", p, dl, s)

	}
	// Offline: the link exists, unconnected, with an empty spool.
	if v := mustValue(t, f, "moss_cloud_connected"); v != 0 {
		t.Errorf("moss_cloud_connected = %v offline", v)
	}
	mustValue(t, f, "moss_cloud_messages_total", "direction", "out")
	mustValue(t, f, "moss_cloud_spool_bytes")
	for _, n := range []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "process_resident_memory_bytes", "process_cpu_seconds_total"} {
		mustValue(t, f, n)
	}

	// Shadow operations by result.
	if code, _, err := h.d.Shadow(ctx, "update", "", "", []byte(`{"state":{"reported":{"on":true}}}`)); err != nil || code != 200 {
		t.Fatalf("shadow update: %d %v", code, err)
	}
	if code, _, err := h.d.Shadow(ctx, "update", "", "", []byte(`{not json`)); err != nil || code == 200 {
		t.Fatalf("bad shadow update: %d %v", code, err)
	}
	f = scrape(t, h)
	if a, r := mustValue(t, f, "moss_shadow_operations_total", "op", "update", "result", "accepted"), mustValue(t, f, "moss_shadow_operations_total", "op", "update", "result", "rejected"); a != 1 || r != 1 {
		t.Errorf("shadow updates accepted %v, rejected %v; want 1 and 1", a, r)
	}

	// State and restarts follow the lifecycle.
	if _, err := h.client.ControlComponent(ctx, admin.ActionStop, "sensor"); err != nil {
		t.Fatal(err)
	}
	f = scrape(t, h)
	if v := mustValue(t, f, "moss_component_state", "component", "sensor", "state", "FINISHED"); v != 1 {
		t.Errorf("sensor FINISHED = %v after a stop", v)
	}
	if v := mustValue(t, f, "moss_component_memory_bytes", "component", "sensor"); v != 0 {
		t.Errorf("sensor memory = %v with no instance", v)
	}
}

// TestMetricsPortTaken: a listen address another process holds fails the
// start with the address in the error, and nothing is left running.
func TestMetricsPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "moss.toml")
	os.WriteFile(file, []byte(`data_dir = "data"
[metrics]
listen = "`+ln.Addr().String()+`"
`), 0o644)
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = d.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "metrics: listen tcp "+ln.Addr().String()) || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Run with a taken metrics port: %v", err)
	}
}

func TestMetricsListenRefused(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "moss.toml")
	os.WriteFile(file, []byte("[metrics]\nlisten = \"9464\"\n"), 0o644)
	_, err := config.Load(file)
	if err == nil || !strings.Contains(err.Error(), `metrics.listen "9464": want HOST:PORT`) {
		t.Fatalf("config.Load: %v", err)
	}
}

// BenchmarkScrape measures one scrape of a host running the two examples,
// over loopback, parse excluded.
func BenchmarkScrape(b *testing.B) {
	h := startHost(b, examplesConfig(b, metricsConfig))
	url := "http://" + h.d.MetricsAddr() + "/metrics"
	var size int64
	for b.Loop() {
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		size = n
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}
