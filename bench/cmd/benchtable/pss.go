package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// procPss reads the Pss line of /proc/PID/smaps_rollup (bytes): the
// process's resident pages with each shared page divided among the
// processes that map it, the figure that adds up across processes.
func procPss(pid int) (float64, error) {
	file := fmt.Sprintf("/proc/%d/smaps_rollup", pid)
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	for l := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(l, ":")
		if !ok || k != "Pss" {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		if err != nil {
			return 0, fmt.Errorf("%s Pss: %q", file, v)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("%s: no Pss line", file)
}

func pssOf(s []hostSample) []float64 {
	var out []float64
	for _, x := range s {
		out = append(out, x.pss)
	}
	return out
}
