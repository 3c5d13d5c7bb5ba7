package shadowsync

import "time"

// bucket is a token bucket holding at most one second's worth of tokens.
type bucket struct {
	rate   float64 // tokens per second; 0 is unlimited
	tokens float64
	at     time.Time
}

func newBucket(rate int, now time.Time) *bucket {
	return &bucket{rate: float64(rate), tokens: float64(rate), at: now}
}

func (b *bucket) refill(now time.Time) {
	if now.After(b.at) {
		b.tokens = min(b.rate, b.tokens+now.Sub(b.at).Seconds()*b.rate)
		b.at = now
	}
}

// ready is when the next token is available: now if one is.
func (b *bucket) ready(now time.Time) time.Time {
	if b.rate <= 0 {
		return now
	}
	b.refill(now)
	if b.tokens >= 1 {
		return now
	}
	return now.Add(time.Duration((1 - b.tokens) / b.rate * float64(time.Second)))
}

func (b *bucket) take() {
	if b.rate > 0 {
		b.tokens--
	}
}

// limiter bounds the requests sent to the cloud: in total, per thing, and
// in flight. It belongs to the sync goroutine.
type limiter struct {
	total    *bucket
	perThing map[string]*bucket
	rate     int // per thing
	inFlight int // requests awaiting a reply
	maxIn    int // 0 is unlimited
}

func newLimiter(l RateLimits, now time.Time) *limiter {
	return &limiter{total: newBucket(l.PerSecond, now), perThing: map[string]*bucket{}, rate: l.PerThingPerSecond, maxIn: l.InFlight}
}

func (l *limiter) thing(name string, now time.Time) *bucket {
	b := l.perThing[name]
	if b == nil {
		b = newBucket(l.rate, now)
		l.perThing[name] = b
	}
	return b
}

// take spends a request on thing if the limits allow one now; otherwise
// it says which limit is in the way and when to try again (zero when a
// reply, not time, will free a slot).
func (l *limiter) take(thing string, now time.Time) (ok bool, limit string, retry time.Time) {
	if l.maxIn > 0 && l.inFlight >= l.maxIn {
		return false, "in-flight requests", time.Time{}
	}
	tb := l.thing(thing, now)
	if t := l.total.ready(now); t.After(now) {
		return false, "requests per second", t
	}
	if t := tb.ready(now); t.After(now) {
		return false, "requests per second for the thing", t
	}
	l.total.take()
	tb.take()
	l.inFlight++
	return true, "", time.Time{}
}

// force spends a request on thing whatever the limits: for one that
// follows from a reply, and so takes over its slot. The buckets may go
// below zero, which delays the requests after it.
func (l *limiter) force(thing string, now time.Time) {
	l.total.refill(now)
	tb := l.thing(thing, now)
	tb.refill(now)
	l.total.take()
	tb.take()
	l.inFlight++
}

// done frees the in-flight slot of a request that was answered or given up.
func (l *limiter) done() {
	if l.inFlight > 0 {
		l.inFlight--
	}
}
