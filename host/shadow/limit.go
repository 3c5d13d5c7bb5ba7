package shadow

import (
	"sync"
	"time"
)

// limiter enforces RateLimits: token buckets per thing and in total, and a
// count of requests in flight per thing.
type limiter struct {
	cfg RateLimits

	mu       sync.Mutex
	total    tokenBucket
	things   map[string]*tokenBucket
	inFlight map[string]int
}

// tokenBucket is a token bucket holding at most one second's worth of tokens.
type tokenBucket struct {
	tokens float64
	last   time.Time
}

// take refills b for the time since it was last used and takes a token.
func (b *tokenBucket) take(now time.Time, rate int) bool {
	burst := float64(rate)
	if b.last.IsZero() {
		b.tokens = burst
	} else if d := now.Sub(b.last); d > 0 {
		b.tokens = min(burst, b.tokens+d.Seconds()*burst)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// full reports whether b would be full at now, so forgetting it changes
// nothing.
func (b *tokenBucket) full(now time.Time, rate int) bool {
	return b.tokens+now.Sub(b.last).Seconds()*float64(rate) >= float64(rate)
}

// sweepAt is how many per-thing buckets trigger dropping the full ones, so
// a gateway cycling through many things does not grow the map forever.
const sweepAt = 4096

func newLimiter(cfg RateLimits) *limiter {
	return &limiter{cfg: cfg, things: make(map[string]*tokenBucket), inFlight: make(map[string]int)}
}

// admit takes a request of thing, or refuses it. A refused request takes no
// token from the other bucket, so a thing over its own limit does not eat
// the total.
func (l *limiter) admit(thing string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.InFlightPerThing > 0 && l.inFlight[thing] >= l.cfg.InFlightPerThing {
		return false
	}
	if l.cfg.PerThingPerSecond > 0 {
		b := l.things[thing]
		if b == nil {
			if len(l.things) >= sweepAt {
				for t, x := range l.things {
					if x.full(now, l.cfg.PerThingPerSecond) {
						delete(l.things, t)
					}
				}
			}
			b = &tokenBucket{}
			l.things[thing] = b
		}
		saved := *b
		if !b.take(now, l.cfg.PerThingPerSecond) {
			return false
		}
		if l.cfg.TotalPerSecond > 0 && !l.total.take(now, l.cfg.TotalPerSecond) {
			*b = saved // as if this request never came
			return false
		}
	} else if l.cfg.TotalPerSecond > 0 && !l.total.take(now, l.cfg.TotalPerSecond) {
		return false
	}
	if l.cfg.InFlightPerThing > 0 {
		l.inFlight[thing]++
	}
	return true
}

// done ends a request admit let in.
func (l *limiter) done(thing string) {
	if l.cfg.InFlightPerThing == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inFlight[thing]--; l.inFlight[thing] <= 0 {
		delete(l.inFlight, thing)
	}
}

// admit applies the rate limits to a local request; done must be called
// when it ends.
func (s *Service) admit(thing string, origin Origin) (done func(), err error) {
	if s.limits == nil || origin == OriginSync {
		return func() {}, nil
	}
	if !s.limits.admit(thing, s.now()) {
		return nil, newError(429, msgTooManyRequests)
	}
	return func() { s.limits.done(thing) }, nil
}
