package main

import (
	"fmt"

	"github.com/moss-edge/moss/bench/baseline"
)

// rssCmpRows set `moss run` with 10 idle Go and C components beside the
// baseline's broker and 10 idle component processes, by RSS and by PSS.
// RSS alone flatters neither side fairly: the baseline's 10 processes
// share one binary, whose pages each process's RSS counts again, while
// PSS divides them among the processes. The baseline's components are Go
// processes (ipcnode) in both rows; there is no C baseline, so the C row
// compares C guests with Go processes and says so.
func rssCmpRows(base *baselineRSS, baseBinSize float64, rssGo, pssGo, rssC, pssC []float64) []cmpRow {
	var rows []cmpRow
	for i, m := range []struct {
		what     string
		rss, pss []float64
	}{{"Go", rssGo, pssGo}, {"C", rssC, pssC}} {
		moss := "- (add rss to -only)"
		if m.rss != nil {
			moss = fmt.Sprintf("RSS %s / PSS %s", fmtBytes(median(m.rss)), fmtBytes(median(m.pss)))
		}
		note := "the same baseline runs as the row above"
		if i == 0 {
			note = fmt.Sprintf("baseline: a broker and 10 component processes (ipcnode, a static %s Go binary), each connected and subscribed to bench/data; VmRSS summed and Pss (smaps_rollup) summed over the 11 processes %v after the last subscribed (RSS counts the binary's shared pages once per process, PSS divides them among them); the broker alone RSS %s; spread RSS %s, PSS %s",
				fmtBytes(baseBinSize), baseline.Settle, fmtBytes(median(base.broker)), spread(base.rss), spread(base.pss))
		} else {
			note += "; **the baseline's components are Go processes: this row sets C guests beside Go processes, not beside C processes** (no C baseline is built)"
		}
		ratios := ratio(median(m.rss), median(base.rss)) + " (RSS)"
		if m.pss != nil {
			ratios += ", " + ratio(median(m.pss), median(base.pss)) + " (PSS)"
		}
		rows = append(rows, cmpRow{
			figure: fmt.Sprintf("memory: `moss run` + 10 idle %s components vs broker + 10 idle Go component processes, RSS / PSS", m.what),
			moss:   moss,
			base:   fmt.Sprintf("RSS %s / PSS %s", fmtBytes(median(base.rss)), fmtBytes(median(base.pss))),
			ratio:  ratios,
			notes: note + fmt.Sprintf("; Moss: one process, VmRSS and Pss (smaps_rollup) read together, the figure \"RSS of `moss run` + 10 idle %s components\" above, its runs alternating with the baseline's (spread RSS %s, PSS %s)",
				m.what, spread(m.rss), spread(m.pss)),
		})
	}
	return rows
}
