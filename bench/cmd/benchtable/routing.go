package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Figure 4b: what routing one message costs as the subscriptions on the
// bus grow. The benchmark is host/bus's BenchmarkPublishSubscriptions,
// which lives beside the trie it measures; the harness builds its test
// binary once and runs it runs times, so the three sizes alternate.

// routingSubs are the sub-benchmarks of BenchmarkPublishSubscriptions.
var routingSubs = []int{10, 1000, 10000}

// routingTarget is the most routing with 10,000 subscriptions may cost,
// as a multiple of the cost with 10 (issue #8).
const routingTarget = 2.0

// runRouting returns, for each of routingSubs, the ns/op and allocs/op of
// every run.
func runRouting(root, work, benchtime string, runs int, progress func(string)) (ns, allocs map[int][]float64, err error) {
	bin := filepath.Join(work, "bus.test")
	build := exec.Command("go", "test", "-c", "-o", bin, "./host/bus")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("go test -c ./host/bus: %v\n%s", err, tailLines(out, 40))
	}
	ns, allocs = map[int][]float64{}, map[int][]float64{}
	for run := range runs {
		args := []string{"-test.run", "^$", "-test.bench", "^BenchmarkPublishSubscriptions$", "-test.benchtime", benchtime, "-test.count", "1"}
		cmd := exec.Command(bin, args...)
		cmd.Dir = filepath.Join(root, "host", "bus")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, tailLines(out, 40))
		}
		res := parseBench(out)
		var line []string
		for _, n := range routingSubs {
			name := fmt.Sprintf("BenchmarkPublishSubscriptions/subs=%d", n)
			v, a := res[name]["ns/op"], res[name]["allocs/op"]
			if len(v) != 1 || len(a) != 1 {
				return nil, nil, fmt.Errorf("BenchmarkPublishSubscriptions: no ns/op and allocs/op for subs=%d in:\n%s", n, tailLines(out, 40))
			}
			ns[n] = append(ns[n], v[0])
			allocs[n] = append(allocs[n], a[0])
			line = append(line, fmt.Sprintf("%d subscriptions %s", n, fmtNs(v[0])))
		}
		progress(fmt.Sprintf("routing, bus.Publish, run %d/%d: %s", run+1, runs, strings.Join(line, ", ")))
	}
	return ns, allocs, nil
}

// routingRows are the rows of figure 4b, the ratio to the smallest bus and
// the verdict against the target on the largest one.
func routingRows(ns, allocs map[int][]float64) []row {
	var rows []row
	small := routingSubs[0]
	for i, n := range routingSubs {
		notes := "measured the same way, the sizes alternating run by run"
		if i == 0 {
			notes = "host/bus BenchmarkPublishSubscriptions (`go test -bench`, its binary built once and run once per run): distinct filters as on a host serving many devices, one per device (site/<d>/temp for three devices in five, site/<d>/+ or site/<d>/# for the others) plus two fleet-wide ones (site/+/temp, site/#); each publish goes to the next device's site/<d>/temp in a shuffled order and matches 3 subscriptions (the device's and the two fleet-wide); the subscriber only counts, so this is the trie walk plus 3 Deliver calls, without figure 4's mailbox push"
		}
		if n != small {
			r := median(ns[n]) / median(ns[small])
			// The sizes of one run are measured seconds apart: the
			// ratio within each run shows how far noise moves it.
			var perRun []float64
			for i := range ns[n] {
				perRun = append(perRun, ns[n][i]/ns[small][i])
			}
			notes += fmt.Sprintf("; %.2fx the cost with %d (within each run: %.2fx to %.2fx)", r, small, slices.Min(perRun), slices.Max(perRun))
			if n == routingSubs[len(routingSubs)-1] {
				verdict := "meets"
				if r > routingTarget {
					verdict = "**misses**"
				}
				notes += fmt.Sprintf(", which %s the target of at most %.0fx", verdict, routingTarget)
			}
		}
		rows = append(rows, row{
			figure: fmt.Sprintf("routing: bus.Publish with %d subscriptions installed, message matching 3", n),
			value:  fmtNs(median(ns[n])) + "/op",
			notes:  fmt.Sprintf("%s; %.0f allocs/op; spread %s", notes, median(allocs[n]), spread(ns[n])),
		})
	}
	return rows
}
