// Command benchtable runs Moss's benchmarks and prints a markdown table of
// the results, then a second one setting them beside the process-per-
// component baseline (bench/baseline), and writes both to bench/RESULTS.md
// with the date and the machine. `make bench` runs it; bench/README.md says
// what each figure means and how it is measured.
//
// Every figure is the median of -runs runs (at least 5 by default), and the
// runs of figures that are compared (the two engines, cold and warm start,
// Go and C guests, 0 to 1,000 idle components, 10 to 10,000 subscriptions,
// Moss and the baseline) alternate, so that they are measured side by side.
// Everything runs on loopback: in-process hosts, `moss run` child processes
// with a Unix admin socket, the baseline's processes on a Unix socket, and
// temporary directories removed at the end.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func main() {
	runs := flag.Int("runs", 5, "runs per figure; each figure is the median")
	count := flag.Int("count", 200000, "messages per run, pub/sub 1 -> 1")
	count10 := flag.Int("count10", 50000, "messages per run, pub/sub 1 -> 10 (each delivered 10 times)")
	benchtime := flag.Duration("benchtime", 500*time.Millisecond, "duration of each micro-benchmark run")
	out := flag.String("out", "bench/RESULTS.md", "file the table is written to, relative to the module root (empty: none)")
	keep := flag.Bool("keep", false, "keep the temporary directory (host data, logs, built guests)")
	flag.StringVar(&only, "only", "", "comma-separated figures to run: engine, bus, routing, pubsub, startup, rss, scale, baseline, cloud, shadow, swap, drain (default: all)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	// testing.Benchmark reads its duration from the testing flags, which a
	// program must register itself.
	testing.Init()
	flag.Parse()
	if err := flag.Set("test.benchtime", benchtime.String()); err != nil {
		fatal(err)
	}
	if *runs < 1 {
		fatal(fmt.Errorf("-runs %d: want at least 1", *runs))
	}
	root, err := moduleRoot()
	if err != nil {
		fatal(err)
	}
	work, err := os.MkdirTemp("", "moss-bench-")
	if err != nil {
		fatal(err)
	}
	cleanup := func() {
		if *keep {
			fmt.Fprintf(os.Stderr, "benchtable: kept %s\n", work)
			return
		}
		_ = os.RemoveAll(work)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		cleanup()
		os.Exit(130)
	}()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	t, err := run(root, work, *runs, *count, *count10)
	cleanup()
	if err != nil {
		fatal(err)
	}
	fmt.Print(t)
	if only != "" {
		// A partial table does not replace the results file.
		return
	}
	if *out != "" {
		p := *out
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		doc := "# Moss benchmark results\n\nWritten by `make bench` (bench/cmd/benchtable); bench/README.md explains each figure.\n\n" + t
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			fatal(err)
		}
		fmt.Fprintf(os.Stderr, "benchtable: wrote %s\n", p)
	}
}

// only selects figures (-only); empty runs them all.
var only string

// sinkMemory is the sink guest's linear memory measured by the engine
// figures, for the note of the RSS figure; 0 when not measured.
var sinkMemory uint32

func want(fig string) bool {
	if only == "" {
		return true
	}
	for _, f := range strings.Split(only, ",") {
		if strings.TrimSpace(f) == fig {
			return true
		}
	}
	return false
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "benchtable:", err)
	os.Exit(1)
}

// row is one line of the table. noT and ratio are for the engine figures.
type row struct{ figure, value, noT, ratio, notes string }

func run(root, work string, runs, count, count10 int) (string, error) {
	began := time.Now()
	loadBefore := loadAvg()
	progress := func(s string) {
		fmt.Fprintf(os.Stderr, "[%5.1fs] %s\n", time.Since(began).Seconds(), s)
	}
	progress("building guests")
	pub, err := loadGuest(root, work, "pub")
	if err != nil {
		return "", err
	}
	sink, err := loadGuest(root, work, "sink")
	if err != nil {
		return "", err
	}
	var sinkC, pubC guest
	if want("pubsub") || want("rss") || want("scale") {
		if sinkC, err = loadGuest(root, work, "sink-c"); err != nil {
			return "", err
		}
	}
	if want("pubsub") || want("startup") {
		if pubC, err = loadGuest(root, work, "pub-c"); err != nil {
			return "", err
		}
	}
	var rows []row

	// 2, 3: the engine, both runtimes.
	if want("engine") {
		hc, err := runEngine(root, work, "calls.wat", 1000, runs, progress)
		if err != nil {
			return "", err
		}
		rows = append(rows, engineRow("one host call (guest -> host, 256 B request, bounds-checked, no-op handler)", hc,
			"calls.wat: 1000 `publish` calls per event; time per event / 1000 (includes 1/1000 of the export call)"))
		dl, err := runEngine(root, work, "echo.wat", 1, runs, progress)
		if err != nil {
			return "", err
		}
		rows = append(rows, engineRow("event delivery (one 256 B message event: write into guest memory + one export call)", dl,
			fmt.Sprintf("echo.wat, which makes one no-op `log` host call; allocs/call %d default, %d no-termination", dl.allocDef, dl.allo)))
		gd, err := runGoDeliver(sink, runs, progress)
		if err != nil {
			return "", err
		}
		sinkMemory = gd.memory
		rows = append(rows, engineRow(fmt.Sprintf("event delivery into a Go guest, per message (batch of %d × 256 B into the sink guest)", goBatch), gd,
			"the hot path of figure 1's receiving side without the bus: one export call per batch, the Go SDK decodes and dispatches each event, the sink counts it"))
	}

	// 4: the bus.
	if want("bus") {
		for _, n := range []int{1, 10} {
			ns, allocs, err := runBusPublish(n, runs, progress)
			if err != nil {
				return "", err
			}
			rows = append(rows, row{
				figure: fmt.Sprintf("host-side publish: bus.Publish to %d subscriber mailbox%s", n, plural(n, "es")),
				value:  fmtNs(median(ns)) + "/op",
				notes:  fmt.Sprintf("256 B on bench/data, each subscriber a mailbox.Push as Component.Deliver does; %d allocs/op; spread %s", allocs, spread(ns)),
			})
		}
	}

	// 4b: routing as the subscriptions grow.
	if want("routing") {
		ns, allocs, err := runRouting(root, work, flag.Lookup("test.benchtime").Value.String(), runs, progress)
		if err != nil {
			return "", err
		}
		rows = append(rows, routingRows(ns, allocs)...)
	}

	// 1: pub/sub through a real host, and the process-per-component
	// baseline's pub/sub, their runs alternating.
	var cmp []cmpRow
	ctx := context.Background()
	var baseBin string
	if want("baseline") {
		progress("building the baseline's ipcnode")
		if baseBin, err = buildBaseline(ctx, work); err != nil {
			return "", err
		}
	}
	var ackRates []float64 // the baseline's acknowledged 1 -> 1 rates, for the latency figure
	if want("pubsub") || want("baseline") {
		warmCache := filepath.Join(work, "cache")
		for _, n := range []int{1, 10} {
			c := count
			if n > 1 {
				c = count10
			}
			var base *baselinePubSub
			var alt func(run int) error
			if want("baseline") {
				if base, err = startBaselinePubSub(ctx, baseBin, n, c); err != nil {
					return "", err
				}
				defer base.close()
				alt = func(run int) error { return base.run(ctx, run, runs, progress) }
			}
			var moss []mossPubSub // Go guests, then C guests
			if want("pubsub") {
				// Go guests, (1 -> 1 only) the Go publisher with the C
				// sink, and C guests: one host each, all up at once, so
				// that their runs alternate with each other and with the
				// baseline's.
				scenarios := []struct {
					guests    string
					pub, sink guest
					compared  bool // with the baseline
				}{{"Go guests", pub, sink, true}, {"Go publisher -> C sink", pub, sinkC, false}, {"C guests", pubC, sinkC, true}}
				if n > 1 {
					scenarios = slices.Delete(scenarios, 1, 2)
				}
				var hosts []*pubsubHost
				for _, sc := range scenarios {
					h, err := startPubSub(work, warmCache, fmt.Sprintf("1->%d %s", n, sc.guests), &sc.pub, sc.sink, n, c)
					if err != nil {
						for _, h := range hosts {
							h.close(progress)
						}
						return "", err
					}
					hosts = append(hosts, h)
				}
				err := alternate(hosts, runs, progress, alt)
				for _, h := range hosts {
					h.close(progress)
				}
				if err != nil {
					return "", err
				}
				for i, sc := range scenarios {
					rows = append(rows, pubsubRow(hosts[i].res, sc.guests))
					if sc.compared {
						moss = append(moss, mossPubSub{sc.guests, fmt.Sprintf("%s -> %s", sc.pub.name, sc.sink.name), hosts[i].res})
					}
				}
			} else {
				for run := range runs + 1 {
					if err := alt(run); err != nil {
						return "", err
					}
				}
				moss = []mossPubSub{{guests: "Go guests"}, {guests: "C guests"}}
			}
			if base != nil {
				base.close()
				cmp = append(cmp, baselinePubSubRows(moss, base)...)
				if n == 1 {
					ackRates = base.modes[0].rates
				}
			}
		}
	}
	if want("pubsub") {
		warmCache := filepath.Join(work, "cache")
		// The two halves of 1 -> 1 on their own, to show which one
		// limits it.
		r, err := runPubSub(work, warmCache, "pub alone", &pub, sink, 0, count, runs, progress)
		if err != nil {
			return "", err
		}
		rows = append(rows, row{
			figure: "  publishing half alone: pub Go guest, no subscriber",
			value:  fmt.Sprintf("%s msg/s (%s/msg)", fmtRate(median(r.rates)), fmtNs(median(r.nsPer))),
			notes: fmt.Sprintf("%d msgs per run, bursts of 1000; timed bench/go -> bench/sent; guest encode + host call + decode + authz + rate limit + bus; host CPU %.2f cores (whole machine %.2f); spread %s",
				count, median(r.cpu), median(r.machineCPU), spread(r.rates)),
		})
		// The harness cannot be slowed down, so it publishes no more
		// than the sink's mailbox holds.
		c := min(count, sink.mailbox-1000)
		r, err = runPubSub(work, warmCache, "sink alone", nil, sink, 1, c, runs, progress)
		if err != nil {
			return "", err
		}
		rows = append(rows, row{
			figure: "  receiving half alone: host publishes from Go, sink Go guest",
			value:  fmt.Sprintf("%s msg/s (%s/msg)", fmtRate(median(r.rates)), fmtNs(median(r.nsPer))),
			notes: fmt.Sprintf("%d msgs per run (fewer than the mailbox holds) published by the harness with bus.Publish; timed first publish -> bench/done; mailbox -> batch of up to 64 events -> Go guest decode + dispatch; %s; host CPU %.2f cores (whole machine %.2f); spread %s",
				c, dropNote(r), median(r.cpu), median(r.machineCPU), spread(r.rates)),
		})
	}
	if want("baseline") {
		// Latency at half the acknowledged maximum, measured above.
		rate := median(ackRates) / 2
		p50s, p99s, err := runBaselineLatency(ctx, baseBin, rate, runs, progress)
		if err != nil {
			return "", err
		}
		echo, err := loadGuest(root, work, "echo")
		if err != nil {
			return "", err
		}
		m50, m99, err := runMossLatency(work, filepath.Join(work, "cache"), echo, rate, runs, progress)
		if err != nil {
			return "", err
		}
		cmp = append(cmp, cmpRow{
			figure: fmt.Sprintf("pub/sub latency 1 -> 1, 256 B, at %s msg/s (half the baseline's acknowledged maximum): p50 / p99", fmtRate(rate)),
			moss:   fmt.Sprintf("%s / %s", fmtNs(median(m50)), fmtNs(median(m99))),
			base:   fmt.Sprintf("%s / %s", fmtNs(median(p50s)), fmtNs(median(p99s))),
			ratio:  ratio(median(m99), median(p99s)) + " (p99)",
			notes: fmt.Sprintf("Moss: the host publishes on its bus, paced to the rate, each message stamped with its send time; the echo Go guest republishes it; the time is read when the copy is back on the bus (two hops, as publisher -> broker -> subscriber in the baseline); p50 and p99 over a %v run after a warm-up, spread %s / %s (goal: p99 at most 50 µs at half load). Baseline, acknowledged: the publisher paces itself to the rate and stamps each message with its send time (wall clock; the processes share it); the subscriber takes the percentiles over a %v run of %d messages after a warm-up; a fresh cluster each run; spread %s / %s",
				latencyRun, spread(m50), spread(m99), latencyRun, int(rate*latencyRun.Seconds()), spread(p50s), spread(p99s)),
		})
		f50, f99 := runHandoffFloor(rate, runs, progress)
		rows = append(rows, row{
			figure: fmt.Sprintf("floor under the latency figure: one goroutine handoff at %s msg/s, p50 / p99", fmtRate(rate)),
			value:  fmt.Sprintf("%s / %s", fmtNs(median(f50)), fmtNs(median(f99))),
			notes: fmt.Sprintf("no Moss code: the send time, paced as in the latency figure, passed over a Go channel to a goroutine parked on it; the least a design that wakes a waiting goroutine per message pays on this machine (Moss's latency figure makes one such handoff, then runs the guest); p50 and p99 over a %v run after a warm-up, spread %s / %s",
				latencyRun, spread(f50), spread(f99)),
		})
	}

	// 5: start-up.
	if want("startup") {
		cold, warm, err := runStartup(work, pub, runs, progress)
		if err != nil {
			return "", err
		}
		coldC, warmC, err := runStartup(work, pubC, runs, progress)
		if err != nil {
			return "", err
		}
		rows = append(rows,
			row{figure: "start to first delivered message, warm (compilation cache present), Go guest", value: fmtNs(median(warm)),
				notes: "daemon.Run called -> first bench/data message from the pub Go guest (autostart, publishes from its start handler) seen on the bus; fresh data dir; spread " + spread(warm) + " (goal: at most 100 ms)"},
			row{figure: "start to first delivered message, cold (empty compilation cache), Go guest", value: fmtNs(median(cold)),
				notes: fmt.Sprintf("the same with an empty cache dir: includes compiling the %s guest (the wasm file itself is in the OS page cache); spread %s", fmtBytes(fileSize(pub.wasm)), spread(cold))},
			row{figure: "start to first delivered message, warm, C guest", value: fmtNs(median(warmC)),
				notes: fmt.Sprintf("the same with pub-c (%s); spread %s", fmtBytes(fileSize(pubC.wasm)), spread(warmC))},
			row{figure: "start to first delivered message, cold, C guest", value: fmtNs(median(coldC)),
				notes: "the same with an empty cache dir; spread " + spread(coldC)},
		)
	}

	// 6: memory, in separate `moss run` processes, and 7: how memory and
	// start time grow with the number of idle components. Their runs
	// alternate in one loop, which measures each configuration once.
	var baseMem *baselineRSS
	var baseAlt func(run int) error
	if want("baseline") {
		baseMem = &baselineRSS{}
		baseAlt = func(run int) error { return baseMem.run(ctx, baseBin, run, runs, progress) }
	}
	var sets []hostSet
	if want("rss") {
		sets = append(sets, hostSet{sink.name, 10}, hostSet{sinkC.name, 10})
	}
	if want("scale") {
		sets = append(sets, scaleSets(sink, sinkC, sets)...)
	}
	var rssGo, rssC []float64 // Moss with 10 idle Go and C components
	var pssGo, pssC []float64
	if len(sets) > 0 {
		res, err := runRSS(root, work, []guest{sink, sinkC}, sets, runs, progress, baseAlt)
		if err != nil {
			return "", err
		}
		rss0 := rssOf(res[hostSet{}])
		if want("rss") {
			rssGo, rssC = rssOf(res[hostSet{sink.name, 10}]), rssOf(res[hostSet{sinkC.name, 10}])
			pssGo, pssC = pssOf(res[hostSet{sink.name, 10}]), pssOf(res[hostSet{sinkC.name, 10}])
			hwm10, hwmC := hwmOf(res[hostSet{sink.name, 10}]), hwmOf(res[hostSet{sinkC.name, 10}])
			per := (median(rssGo) - median(rss0)) / 10
			perC := (median(rssC) - median(rss0)) / 10
			const goal = 20e6 // the goal: 10 idle C or Rust components plus the host in at most 20 MB
			verdict := "meets"
			if median(rssC) > goal {
				verdict = "**misses**"
			}
			mem := ""
			if sinkMemory > 0 {
				mem = fmt.Sprintf(" (the sink's linear memory after its start event: %s)", fmtBytes(float64(sinkMemory)))
			}
			rows = append(rows,
				row{figure: "RSS of `moss run`, 0 components", value: fmtBytes(median(rss0)),
					notes: fmt.Sprintf("VmRSS %v after the admin socket answers; spread %s", settle, spread(rss0))},
				row{figure: "RSS of `moss run` + 10 idle Go components", value: fmtBytes(median(rssGo)),
					notes: fmt.Sprintf("10 copies of the sink manifest (one wasm, compiled once, 10 instances), VmRSS %v after `moss list` shows all RUNNING; %s per component%s; peak (VmHWM) %s; spread %s",
						settle, fmtBytes(per), mem, fmtBytes(median(hwm10)), spread(rssGo))},
				row{figure: "RSS of `moss run` + 10 idle C components", value: fmtBytes(median(rssC)),
					notes: fmt.Sprintf("10 copies of the sink-c manifest (the sink in C, %s wasm, 1 MiB memory limit), measured the same way, alternating with the rows above; %s per component (Go: %s); %s the goal of at most 20 MB (%s) for 10 idle C or Rust components plus the host; peak (VmHWM) %s; spread %s",
						fmtBytes(fileSize(sinkC.wasm)), fmtBytes(perC), fmtBytes(per), verdict, fmtBytes(goal), fmtBytes(median(hwmC)), spread(rssC))},
			)
		}
		if want("scale") {
			rows = append(rows, scaleRows(res, sink, sinkC)...)
		}
	} else if baseMem != nil {
		for run := range runs {
			if err := baseAlt(run); err != nil {
				return "", err
			}
		}
	}
	if baseMem != nil {
		cmp = append(cmp, rssCmpRows(baseMem, fileSize(baseBin), rssGo, pssGo, rssC, pssC)...)
	}
	more, err := goBenchRows(root, runs, progress)
	if err != nil {
		return "", err
	}
	rows = append(rows, more...)
	for _, f := range []func(string, int, func(string)) ([]row, error){shadowLimitRows, drainRows} {
		more, err := f(root, runs, progress)
		if err != nil {
			return "", err
		}
		rows = append(rows, more...)
	}
	progress("done")
	return table(rows, runs, time.Since(began), loadBefore, loadAvg()) + cmpTable(cmp), nil
}

func engineRow(figure string, r *engineResult, notes string) row {
	d, n := median(r.def), median(r.noT)
	return row{
		figure: figure, value: fmtNs(d), noT: fmtNs(n), ratio: fmt.Sprintf("%.1fx", d/n),
		notes: fmt.Sprintf("%s; spread %s / %s", notes, spread(r.def), spread(r.noT)),
	}
}

// pubsubRow is a row of figure 1; guests says which ("Go guests", "Go
// publisher -> C sink").
func pubsubRow(r *pubsubResult, guests string) row {
	rate, ns := median(r.rates), median(r.nsPer)
	what := "msg/s"
	fig := fmt.Sprintf("Wasm -> host -> Wasm pub/sub, 1 -> 1 (256 B, %s)", guests)
	per := "msg"
	if r.sinks > 1 {
		what, per = "deliveries/s", "delivery"
		fig = fmt.Sprintf("Wasm -> host -> Wasm pub/sub, 1 -> %d (256 B, %s, %d sink components)", r.sinks, guests, r.sinks)
	}
	drop := dropNote(r)
	return row{
		figure: fig,
		value:  fmt.Sprintf("%s %s (%s/%s)", fmtRate(rate), what, fmtNs(ns), per),
		notes: fmt.Sprintf("%d msgs per run published in bursts of 1000 per call; timed bench/go -> last bench/done; %s (sink mailbox %d); host CPU %.2f cores busy (whole machine %.2f); spread %s",
			r.count, drop, r.mailbox, median(r.cpu), median(r.machineCPU), spread(r.rates)),
	}
}

func dropNote(r *pubsubResult) string {
	if r.incomplete > 0 {
		return fmt.Sprintf("**dropped %d** (in %d of %d runs; the rate counts delivered messages only)", r.dropped, r.incomplete, len(r.rates))
	}
	return fmt.Sprintf("dropped %d", r.dropped)
}

func plural(n int, s string) string {
	if n == 1 {
		return ""
	}
	return s
}

func fileSize(p string) float64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return float64(fi.Size())
}

// loadAvg is the 1-minute load average, which shows whether something else
// was using the machine.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}

func table(rows []row, runs int, took time.Duration, loadBefore, loadAfter string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Date: %s  \n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Machine: %s  \n", machine())
	fmt.Fprintf(&b, "1-minute load average before / after: %s / %s (other work on the machine shows up as variance)  \n", loadBefore, loadAfter)
	fmt.Fprintf(&b, "Each value is the median of %d runs (whole run took %v). `value` is the default engine (the host's interrupt checks compiled in); `no-termination` is wasm.Options{NoTermination: true}; ratio = default / no-termination.\n\n", runs, took.Round(time.Second))
	if len(rows) > 0 {
		b.WriteString("| figure | value | no-termination | ratio | notes |\n| --- | --- | --- | --- | --- |\n")
	}
	for _, r := range rows {
		dash := func(s string) string {
			if s == "" {
				return "-"
			}
			return s
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.figure, r.value, dash(r.noT), dash(r.ratio), r.notes)
	}
	return b.String()
}

// machine is the CPU model, core count, OS/arch, Go and wazero versions.
func machine() string {
	cpu := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	return fmt.Sprintf("%s, %d cores (GOMAXPROCS %d), %s/%s, %s, wazero %s",
		cpu, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version(), wazeroVersion())
}

func wazeroVersion() string {
	const mod = "github.com/tetratelabs/wazero"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == mod {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	// Built without module information: read go.mod.
	if root, err := moduleRoot(); err == nil {
		if f, err := os.Open(filepath.Join(root, "go.mod")); err == nil {
			defer f.Close()
			b, _ := io.ReadAll(f)
			for _, l := range strings.Split(string(b), "\n") {
				if fs := strings.Fields(l); len(fs) >= 2 && fs[0] == mod {
					return fs[1]
				}
			}
		}
	}
	return "unknown"
}
