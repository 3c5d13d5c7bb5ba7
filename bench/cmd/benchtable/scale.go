package main

import (
	"fmt"
	"slices"
)

// Figure 7: how the host's memory and start time grow with the number of
// idle components, measured by runRSS with the RSS figure's machinery.

// scaleC and scaleGo are the numbers of idle components the scale figure
// runs (issue #8: C guests up to 1,000, Go guests up to 100; 100 Go guests
// take about 1 GB).
var (
	scaleC  = []int{1, 10, 100, 1000}
	scaleGo = []int{1, 10, 100}
)

// The targets for 1,000 idle C components (issue #8).
const (
	scaleTargetN     = 1000
	scaleTargetRSS   = 150e6 // bytes: 150 MB
	scaleTargetStart = 5e9   // ns: 5 s
)

// scaleSets are the configurations the scale figure needs that have does
// not hold already.
func scaleSets(goSink, cSink guest, have []hostSet) []hostSet {
	var sets []hostSet
	add := func(g guest, ns []int) {
		for _, n := range ns {
			s := hostSet{g.name, n}
			if !slices.Contains(have, s) {
				sets = append(sets, s)
			}
		}
	}
	add(cSink, scaleC)
	add(goSink, scaleGo)
	return sets
}

func rssOf(s []hostSample) []float64 {
	var out []float64
	for _, x := range s {
		out = append(out, x.rss)
	}
	return out
}

func hwmOf(s []hostSample) []float64 {
	var out []float64
	for _, x := range s {
		out = append(out, x.hwm)
	}
	return out
}

func startOf(s []hostSample) []float64 {
	var out []float64
	for _, x := range s {
		out = append(out, float64(x.start.Nanoseconds()))
	}
	return out
}

// scaleRows are the rows of figure 7: one per guest and number of idle
// components, RSS and start time side by side. The cost per component is
// the slope from the host with one such component, which holds what all
// copies share (the compiled module): the cost of each one after the first.
// The first component's RSS is given over the empty host, measured in the
// same runs.
func scaleRows(res map[hostSet][]hostSample, goSink, cSink guest) []row {
	rss0 := median(rssOf(res[hostSet{}]))
	var rows []row
	first := true
	for _, g := range []struct {
		sink guest
		what string
		ns   []int
	}{{cSink, "C", scaleC}, {goSink, "Go", scaleGo}} {
		one := res[hostSet{g.sink.name, 1}]
		rss1, start1 := median(rssOf(one)), median(startOf(one))
		for _, n := range g.ns {
			s := res[hostSet{g.sink.name, n}]
			rss, start := median(rssOf(s)), median(startOf(s))
			how := "measured the same way, its runs alternating with the rows above"
			if first {
				how = fmt.Sprintf("start time: from just before the harness starts the `moss run` process to the moment the last component turned RUNNING (the latest `since` in the answer of the admin socket's List, what `moss list` shows, polled every %v); that covers exec, the Go runtime, opening the data directory, the engine, loading the module from the warm compilation cache (one wasm, compiled by an uncounted earlier run), and for each component in turn (the host starts them one after the other) its instance and start event. RSS: VmRSS %v after all are RUNNING",
					listPoll, settle)
				first = false
			}
			per := fmt.Sprintf("the first component over the empty host (%s, in the same runs): %s", fmtBytes(rss0), fmtBytes(rss-rss0))
			if n > 1 {
				per = fmt.Sprintf("each component after the first (the difference from 1 component / %d): %s / %s", n-1, fmtBytes((rss-rss1)/float64(n-1)), fmtNs((start-start1)/float64(n-1)))
			}
			target := ""
			if g.sink.name == cSink.name && n == scaleTargetN {
				verdict := func(ok bool) string {
					if ok {
						return "meets"
					}
					return "**misses**"
				}
				target = fmt.Sprintf("; RSS %s the target of at most 150 MB (%s), start time %s the target of at most 5 s",
					verdict(rss <= scaleTargetRSS), fmtBytes(scaleTargetRSS), verdict(start <= scaleTargetStart))
			}
			rows = append(rows, row{
				figure: fmt.Sprintf("scale: `moss run` + %d idle %s component%s (copies of %s): RSS / start time", n, g.what, plural(n, "s"), g.sink.name),
				value:  fmt.Sprintf("%s / %s", fmtBytes(rss), fmtNs(start)),
				notes: fmt.Sprintf("%s; %s%s; peak (VmHWM) %s; spread %s / %s",
					how, per, target, fmtBytes(median(hwmOf(s))), spread(rssOf(s)), spread(startOf(s))),
			})
		}
	}
	return rows
}
