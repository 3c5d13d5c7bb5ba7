package shadow

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkUpdateDurableShippedLimits is BenchmarkUpdateDurable's 256
// writers on 256 shadows with the rate limits a host ships with
// (DefaultPerThingPerSecond, DefaultTotalPerSecond, DefaultInFlightPerThing)
// instead of none: what a burst of local updates gets through. A writer
// refused with 429 waits 10 ms, as a client backing off would, then tries
// again. One iteration runs 6 s; the rate counts the updates accepted
// (committed) from 1 s on, after the buckets' one-second burst is spent.
// Run it with -benchtime 1x.
func BenchmarkUpdateDurableShippedLimits(b *testing.B) {
	const writers, warm, run = 256, time.Second, 6 * time.Second
	for range b.N {
		s := newService(b, Options{RateLimits: &RateLimits{
			PerThingPerSecond: DefaultPerThingPerSecond, TotalPerSecond: DefaultTotalPerSecond, InFlightPerThing: DefaultInFlightPerThing,
		}})
		payload := []byte(`{"state":{"reported":{"temperature":21.5,"humidity":40,"fan":{"speed":3,"on":true}}},"clientToken":"bench"}`)
		var accepted, refused atomic.Int64
		start := time.Now()
		steadyFrom, end := start.Add(warm), start.Add(run)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				thing := fmt.Sprint("thing-", w)
				for time.Now().Before(end) {
					_, err := s.Update(context.Background(), thing, "", payload, OriginLocal)
					var se *Error
					switch {
					case err == nil:
						if time.Now().After(steadyFrom) {
							accepted.Add(1)
						}
					case errors.As(err, &se) && se.Code == 429:
						refused.Add(1)
						time.Sleep(10 * time.Millisecond) // the client's backoff
					default:
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		b.ReportMetric(float64(accepted.Load())/(run-warm).Seconds(), "accepted-updates/s")
		b.ReportMetric(float64(refused.Load())/run.Seconds(), "refused-429/s")
	}
	b.ReportMetric(0, "ns/op")
}
