package shadow

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
)

// BenchmarkUpdateDurable measures durable updates per second: each returns
// only once bbolt has fsynced it. writers goroutines update their own
// shadows (shadows=writers) or all the same one (shadows=1); the group
// committer shares each fsync among the writers waiting for it, so
// throughput grows with concurrency across shadows, while one shadow takes
// one change per commit. The package comment records the figures.
func BenchmarkUpdateDurable(b *testing.B) {
	for _, c := range []struct{ writers, shadows int }{
		{1, 1}, {16, 1}, {16, 16}, {64, 64}, {256, 256}, {1024, 1024},
	} {
		b.Run(fmt.Sprintf("writers=%d/shadows=%d", c.writers, c.shadows), func(b *testing.B) {
			s := newService(b, Options{})
			payload := []byte(`{"state":{"reported":{"temperature":21.5,"humidity":40,"fan":{"speed":3,"on":true}}},"clientToken":"bench"}`)
			var next atomic.Int64
			b.SetParallelism((c.writers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			cpu := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				thing := fmt.Sprint("thing-", next.Add(1)%int64(c.shadows))
				for pb.Next() {
					if _, err := s.Update(context.Background(), thing, "", payload, OriginLocal); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
			b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/update")
		})
	}
}

// BenchmarkMerge is the in-memory cost of one update to a 40-leaf shadow:
// parse the request, merge, check the size, encode the stored record and
// the accepted, delta and documents replies.
func BenchmarkMerge(b *testing.B) {
	base := `{"state":{"desired":{`
	for i := range 20 {
		if i > 0 {
			base += ","
		}
		base += fmt.Sprintf(`"d%d":{"v":%d,"unit":"x"}`, i, i)
	}
	base += `},"reported":{`
	for i := range 20 {
		if i > 0 {
			base += ","
		}
		base += fmt.Sprintf(`"d%d":{"v":%d,"unit":"x"}`, i, i+1)
	}
	base += `}}}`
	req, err := parseUpdate([]byte(base))
	if err != nil {
		b.Fatal(err)
	}
	doc, _, err := apply(nil, 0, req, 1, DefaultMaxDocumentBytes)
	if err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"state":{"reported":{"d3":{"v":3},"d7":{"unit":null}}},"clientToken":"t"}`)
	b.ReportAllocs()
	for b.Loop() {
		req, perr := parseUpdate(payload)
		if perr != nil {
			b.Fatal(perr)
		}
		next, meta, aerr := apply(doc, 0, req, 2, DefaultMaxDocumentBytes)
		if aerr != nil {
			b.Fatal(aerr)
		}
		_ = encodeStored(next)
		_ = updateAccepted(req, meta, next.version, 2)
		_ = updateDelta(next, 2, req.clientToken)
		_ = updateDocuments(doc, next, 2, req.clientToken)
	}
}
