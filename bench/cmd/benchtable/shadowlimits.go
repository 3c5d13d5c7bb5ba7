package main

import (
	"fmt"

	"github.com/moss-edge/moss/host/shadow"
)

// shadowLimitRows runs the durable shadow benchmark with the shipped rate
// limits (-only shadow), the figure set beside the one measured with them
// off.
func shadowLimitRows(root string, runs int, progress func(string)) ([]row, error) {
	if !want("shadow") {
		return nil, nil
	}
	progress("shadow: durable updates with the shipped rate limits")
	const b = "BenchmarkUpdateDurableShippedLimits"
	res, err := goBench(root, "./host/shadow", "^"+b+"$", "1x", runs)
	if err != nil {
		return nil, err
	}
	return []row{{
		figure: "durable shadow updates with the shipped rate limits (256 writers on 256 shadows)",
		value:  fmt.Sprintf("%.0f /s", metric(res, b, "accepted-updates/s")),
		notes: fmt.Sprintf("the row \"durable shadow updates ... rate limits off\" with the default limits (%d/s per thing, %d/s in all, %d in flight per thing: Greengrass's local shadow defaults); a writer refused with 429 backs off 10 ms; accepted updates counted from 1 s to 6 s, after the buckets' one-second burst; %.0f 429 refusals/s; the total limit, not the disk, sets this figure; median of %d runs",
			shadow.DefaultPerThingPerSecond, shadow.DefaultTotalPerSecond, shadow.DefaultInFlightPerThing, metric(res, b, "refused-429/s"), runs),
	}}, nil
}
