package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/moss-edge/moss/bench/baseline"
)

// The process-per-component baseline (bench/baseline), measured beside
// Moss's figures: its runs alternate with Moss's pub/sub and RSS runs.

// ackShare is the fraction of Moss's message count an acknowledged
// baseline run publishes: each of its publishes waits for a round trip
// between processes, so a run of Moss's size would take minutes.
const ackShare = 10

// latencyRun is how long a latency run lasts, at its paced rate.
const latencyRun = 2 * time.Second

// baselineTimeout bounds each baseline run, as waitRun bounds Moss's: a
// lost message would otherwise leave the harness waiting for ever.
const baselineTimeout = time.Minute

// baselineMode is one publishing mode of the baseline in one scenario: a
// running cluster and its measured runs.
type baselineMode struct {
	name       string // "acknowledged" or "pipelined"
	c          *baseline.Cluster
	count      int       // messages per run
	rates      []float64 // deliveries per second, one per measured run
	nsPer      []float64 // ns per delivery
	cpu        []float64 // CPU time of all the baseline's processes / wall time
	machineCPU []float64 // CPU time of every process on the machine / wall time
}

// baselinePubSub is the baseline's side of one pub/sub scenario (1 -> subs),
// in both modes.
type baselinePubSub struct {
	subs  int
	modes []*baselineMode // acknowledged, pipelined
}

// startBaselinePubSub starts an acknowledged and a pipelined cluster of one
// publisher and subs subscriber processes. The pipelined runs publish count
// messages, as Moss's do; the acknowledged ones count/ackShare.
func startBaselinePubSub(ctx context.Context, bin string, subs, count int) (*baselinePubSub, error) {
	b := &baselinePubSub{subs: subs}
	for _, pipelined := range []bool{false, true} {
		m := &baselineMode{name: "acknowledged", count: max(count/ackShare, 1)}
		if pipelined {
			m.name, m.count = "pipelined", count
		}
		c, err := baseline.Start(ctx, bin, subs, pipelined)
		if err != nil {
			b.close()
			return nil, fmt.Errorf("baseline 1 -> %d, %s: %w", subs, m.name, err)
		}
		m.c = c
		b.modes = append(b.modes, m)
	}
	return b, nil
}

// run makes one run in each mode; run 0 is the warm-up, not counted.
func (b *baselinePubSub) run(ctx context.Context, run, runs int, progress func(string)) error {
	for _, m := range b.modes {
		sys0 := machineBusy()
		rctx, cancel := context.WithTimeout(ctx, baselineTimeout)
		r, err := m.c.Run(rctx, m.count)
		cancel()
		if err != nil {
			return fmt.Errorf("baseline 1 -> %d, %s, run %d: %w", b.subs, m.name, run, err)
		}
		sys1 := machineBusy()
		rate := r.Rate()
		cpu, machine := r.CPU.Seconds()/r.Elapsed.Seconds(), (sys1-sys0).Seconds()/r.Elapsed.Seconds()
		label := "warm-up"
		if run > 0 {
			label = fmt.Sprintf("run %d/%d", run, runs)
			m.rates = append(m.rates, rate)
			m.nsPer = append(m.nsPer, float64(r.Elapsed.Nanoseconds())/float64(r.Deliveries))
			m.cpu = append(m.cpu, cpu)
			m.machineCPU = append(m.machineCPU, machine)
		}
		progress(fmt.Sprintf("baseline 1->%d %s %s: %d msgs in %v, %s deliveries/s, CPU %.2f cores (machine %.2f)",
			b.subs, m.name, label, m.count, r.Elapsed.Round(time.Millisecond), fmtRate(rate), cpu, machine))
	}
	return nil
}

func (b *baselinePubSub) close() {
	for _, m := range b.modes {
		m.c.Close()
	}
}

// runBaselineLatency measures the baseline's publish-to-delivery latency
// (1 -> 1, acknowledged) at rate messages a second, runs times, each in a
// fresh cluster with a warm-up. It returns the p50s and p99s in ns.
func runBaselineLatency(ctx context.Context, bin string, rate float64, runs int, progress func(string)) (p50s, p99s []float64, err error) {
	count := int(rate * latencyRun.Seconds())
	for run := range runs {
		rctx, cancel := context.WithTimeout(ctx, baselineTimeout)
		p50, p99, err := baseline.Latency(rctx, bin, rate, count)
		cancel()
		if err != nil {
			return nil, nil, fmt.Errorf("baseline latency at %.0f msg/s: %w", rate, err)
		}
		p50s = append(p50s, float64(p50.Nanoseconds()))
		p99s = append(p99s, float64(p99.Nanoseconds()))
		progress(fmt.Sprintf("baseline latency at %s msg/s, run %d/%d: p50 %s, p99 %s", fmtRate(rate), run+1, runs, fmtDur(p50), fmtDur(p99)))
	}
	return p50s, p99s, nil
}

// baselineRSS collects the baseline's idle memory, one run at a time.
type baselineRSS struct {
	rss, pss, broker []float64
}

func (b *baselineRSS) run(ctx context.Context, bin string, run, runs int, progress func(string)) error {
	rctx, cancel := context.WithTimeout(ctx, baselineTimeout)
	m, err := baseline.IdleRSS(rctx, bin, 10)
	cancel()
	if err != nil {
		return fmt.Errorf("baseline RSS: %w", err)
	}
	b.rss = append(b.rss, float64(m.RSS))
	b.pss = append(b.pss, float64(m.PSS))
	b.broker = append(b.broker, float64(m.BrokerRSS))
	progress(fmt.Sprintf("baseline RSS, broker + 10 idle component processes, run %d/%d: %s (PSS %s, broker %s)",
		run+1, runs, fmtBytes(float64(m.RSS)), fmtBytes(float64(m.PSS)), fmtBytes(float64(m.BrokerRSS))))
	return nil
}

// buildBaseline builds the baseline's ipcnode command into work. (The
// harness runs inside the module, as baseline.Build needs.)
func buildBaseline(ctx context.Context, work string) (string, error) {
	bin := filepath.Join(work, "ipcnode")
	return bin, baseline.Build(ctx, bin)
}

// cmpRow is one line of the comparison table: Moss, the baseline, and
// Moss / baseline.
type cmpRow struct{ figure, moss, base, ratio, notes string }

// ratio is a / b as "N.NNx", or "-" when either side was not measured.
func ratio(a, b float64) string {
	if a == 0 || b == 0 || a != a || b != b { // a != a: NaN, the median of nothing
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// mossPubSub is one of Moss's figures set beside the baseline's.
type mossPubSub struct {
	guests string        // "Go guests", "C guests"
	which  string        // the guests: "pub -> sink"
	res    *pubsubResult // nil when pubsub was not run
}

// baselinePubSubRows compares Moss's 1 -> n figures (Go guests, C guests)
// with the baseline in both modes: for each mode, one row per figure.
func baselinePubSubRows(moss []mossPubSub, b *baselinePubSub) []cmpRow {
	var rows []cmpRow
	unit, per := "msg/s", "msg"
	if b.subs > 1 {
		unit, per = "deliveries/s", "delivery"
	}
	for _, m := range b.modes {
		how := "each publish waits for the broker's reply, as a Moss publish host call returns once the message is queued"
		if m.name == "pipelined" {
			how = "publishes stream without replies; Moss's guests make no such call, so this is the ceiling of the process design, not its like-for-like figure"
		}
		rate := median(m.rates)
		for i, ms := range moss {
			mossRate, mossValue, mossSpread := 0.0, "- (add pubsub to -only)", "n/a"
			if ms.res != nil {
				mossRate = median(ms.res.rates)
				mossValue = fmt.Sprintf("%s %s (%s/%s)", fmtRate(mossRate), unit, fmtNs(median(ms.res.nsPer)), per)
				mossSpread = spread(ms.res.rates)
			}
			notes := fmt.Sprintf("baseline: %d msgs per run, %s; timed from the publisher's first publish to the last subscriber's last message; its processes' CPU %.2f cores (whole machine %.2f); spread %s (Moss %s)",
				m.count, how, median(m.cpu), median(m.machineCPU), spread(m.rates), mossSpread)
			if i > 0 {
				notes = fmt.Sprintf("the same baseline runs as the row above; Moss: %s (%s), its runs alternating with the other guests' and the baseline's; spread %s", ms.guests, ms.which, mossSpread)
			}
			rows = append(rows, cmpRow{
				figure: fmt.Sprintf("pub/sub 1 -> %d, 256 B: Moss (%s) vs baseline %s", b.subs, ms.guests, m.name),
				moss:   mossValue,
				base:   fmt.Sprintf("%s %s (%s/%s)", fmtRate(rate), unit, fmtNs(median(m.nsPer)), per),
				ratio:  ratio(mossRate, rate),
				notes:  notes,
			})
		}
	}
	return rows
}

// cmpTable is the comparison table, with its explanation.
func cmpTable(rows []cmpRow) string {
	if len(rows) == 0 {
		return ""
	}
	var b []byte
	b = append(b, "\n## Moss against the process-per-component baseline\n\n"...)
	b = append(b, "The baseline (bench/baseline) is Greengrass's design: a broker process and one native Go process per component, the same CBOR messages over a Unix socket. Its runs alternate with Moss's in this invocation. Moss ÷ baseline above 1 means Moss delivers more messages a second (throughput) or uses more memory (RSS).\n\n"...)
	b = append(b, "| figure | Moss | baseline | Moss ÷ baseline | notes |\n| --- | --- | --- | --- | --- |\n"...)
	for _, r := range rows {
		b = fmt.Appendf(b, "| %s | %s | %s | %s | %s |\n", r.figure, r.moss, r.base, r.ratio, r.notes)
	}
	return string(b)
}
