package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// goBench runs `go test -bench` benchmarks that live beside the code they
// measure (the cloud link against Mosquitto, durable shadow updates, hot
// swaps) and collects their custom metrics: result[benchmark][unit] holds
// one value per line printed, -count lines for each benchmark.
func goBench(root, pkg, pattern, benchtime string, count int, args ...string) (map[string]map[string][]float64, error) {
	cmdArgs := []string{"test", "-run", "^$", "-bench", pattern, "-benchtime", benchtime, "-count", strconv.Itoa(count), "-timeout", "20m", pkg}
	if len(args) > 0 {
		cmdArgs = append(append(cmdArgs, "-args"), args...)
	}
	cmd := exec.Command("go", cmdArgs...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go %s: %v\n%s", strings.Join(cmdArgs, " "), err, tailLines(out, 40))
	}
	res := parseBench(out)
	if len(res) == 0 {
		return nil, fmt.Errorf("go test -bench %s %s printed no benchmark line:\n%s", pattern, pkg, tailLines(out, 40))
	}
	return res, nil
}

// parseBench reads the benchmark lines of `go test -bench` output:
// result[benchmark][unit] holds one value per line printed for the
// benchmark (its name without the GOMAXPROCS suffix).
func parseBench(out []byte) map[string]map[string][]float64 {
	res := map[string]map[string][]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i] // the GOMAXPROCS suffix
		}
		if res[name] == nil {
			res[name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				res[name][f[i+1]] = append(res[name][f[i+1]], v)
			}
		}
	}
	return res
}

func tailLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// metric is the median of a benchmark's metric, NaN when absent.
func metric(res map[string]map[string][]float64, bench, unit string) float64 {
	return median(res[bench][unit])
}

// goBenchRows runs the cloud, shadow and hot-swap benchmarks that -only
// selects and returns their rows.
func goBenchRows(root string, runs int, progress func(string)) ([]row, error) {
	var rows []row
	if want("cloud") {
		progress("cloud: forwarding to Mosquitto vs a bare paho client")
		res, err := goBench(root, "./bench/cloudbench", "^BenchmarkCloud$", "1x", 1, "-runs", strconv.Itoa(runs), "-count", "5000")
		if err != nil {
			return nil, err
		}
		for _, q := range []string{"0", "1"} {
			m, b := metric(res, "BenchmarkCloud", "moss-qos"+q+"-msg/s"), metric(res, "BenchmarkCloud", "bare-qos"+q+"-msg/s")
			rows = append(rows, row{
				figure: "cloud forwarding QoS " + q + ": component -> host -> Mosquitto (mutual TLS) -> subscriber",
				value:  fmt.Sprintf("%.0f msg/s", m),
				notes: fmt.Sprintf("a bare paho.golang client publishing the same 256 B messages one after the other, same broker, same run: %.0f msg/s; Moss / bare = %.2f (goal for QoS 1: at least 0.80); bytes on the wire per message, TLS included: Moss %.0f, bare %.0f (Moss writes each packet in one TLS record); median of %d runs alternating",
					b, m/b, metric(res, "BenchmarkCloud", "moss-qos"+q+"-wire-B/msg"), metric(res, "BenchmarkCloud", "bare-qos"+q+"-wire-B/msg"), runs),
			})
		}
		progress("cloud: idle link cost")
		res, err = goBench(root, "./bench/cloudbench", "^BenchmarkIdleWire$", "1x", 1)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{
			figure: "cloud link idle, bytes on the wire per hour",
			value:  fmtBytes(metric(res, "BenchmarkIdleWire", "idle-B/hour")),
			notes: fmt.Sprintf("keep-alive 60 s (one PINGREQ/PINGRESP exchange: %.0f B with TLS, measured at a 1 s keep-alive) plus one reconnect with 10 subscriptions restored (%s, a full TLS handshake with ECDSA certificates)",
				metric(res, "BenchmarkIdleWire", "ping-B/exchange"), fmtBytes(metric(res, "BenchmarkIdleWire", "reconnect-B"))),
		})
	}
	if want("shadow") {
		progress("shadow: durable updates")
		res, err := goBench(root, "./host/shadow", "^BenchmarkUpdateDurable$/^writers=(1|256)/", "1s", runs)
		if err != nil {
			return nil, err
		}
		one := "BenchmarkUpdateDurable/writers=1/shadows=1"
		many := "BenchmarkUpdateDurable/writers=256/shadows=256"
		rows = append(rows, row{
			figure: "durable shadow updates (fsync'd to the host's bbolt file), **rate limits off**",
			value:  fmt.Sprintf("%.0f /s", metric(res, many, "updates/s")),
			notes: fmt.Sprintf("256 concurrent writers on 256 shadows, group commit (goal: at least 10,000/s); one writer on one shadow: %.0f/s (one commit, two fdatasyncs, each); CPU %.0f µs per update; median of %d runs",
				metric(res, one, "updates/s"), metric(res, many, "cpu-µs/update"), runs),
		})
	}
	if want("swap") {
		progress("hot swap under load")
		res, err := goBench(root, "./host/daemon", "^BenchmarkHotSwap$", "20x", runs)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{
			figure: fmt.Sprintf("hot swap gap (longest stall of delivery, the old instance's close included) at a measured %.0f msg/s, Go component, cached module", metric(res, "BenchmarkHotSwap", "msgs/s")),
			value:  fmt.Sprintf("%.0f µs", metric(res, "BenchmarkHotSwap", "gap-p50-µs")),
			notes: fmt.Sprintf("the publisher follows a 10,000 msg/s schedule (achieved %.0f msg/s); gap: longest time between two outputs of the counter from just before Apply to 5 ms after; median over %d runs of the median of 20 upgrades each (worst %.0f µs); messages lost %.0f, duplicated %.0f (goal: gap at most 1 ms, none lost, at 10,000 msg/s)",
				metric(res, "BenchmarkHotSwap", "msgs/s"), runs, metric(res, "BenchmarkHotSwap", "gap-max-µs"), sum(res["BenchmarkHotSwap"]["lost"]), sum(res["BenchmarkHotSwap"]["duplicated"])),
		})
	}
	return rows, nil
}

func sum(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}
