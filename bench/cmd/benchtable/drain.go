package main

import (
	"fmt"
	"strconv"
)

// drainRows runs the spool drain benchmark (-only drain) and returns its
// row.
func drainRows(root string, runs int, progress func(string)) ([]row, error) {
	if !want("drain") {
		return nil, nil
	}
	progress("cloud: draining a full spool over 100 ms of added round trip")
	res, err := goBench(root, "./bench/cloudbench", "^BenchmarkSpoolDrain$", "1x", 1, "-runs", strconv.Itoa(runs))
	if err != nil {
		return nil, err
	}
	const b = "BenchmarkSpoolDrain"
	secs, n := metric(res, b, "drain-s"), metric(res, b, "messages")
	verdict := "meets"
	if secs >= 30 {
		verdict = "**misses**"
	}
	return []row{{
		figure: "drain a full spool (2.5 MiB, 256 B QoS 1 messages) over a link with 100 ms added round trip",
		value:  fmt.Sprintf("%.1f s", secs),
		notes: fmt.Sprintf("%.0f messages filled offline into the bbolt spool, then cloud.New -> spool empty (TLS handshake included, every message PUBACKed) through a loopback proxy holding each byte %.0f ms each way, to Mosquitto (mutual TLS, max_inflight_messages 100 as IoT Core's 100 unacknowledged); up to 100 in flight: %.0f msg/s; %s the goal of under 30 s; **publish rate cap off**: with the shipped max_publish_rate = 100 (IoT Core's per-connection limit) the drain cannot take less than %.0f s (messages / 100, not measured); median of %d runs",
			n, metric(res, b, "added-rtt-ms")/2, metric(res, b, "msg/s"), verdict, n/100, runs),
	}}, nil
}
