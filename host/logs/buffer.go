package logs

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
)

// FollowQueue is how many records a follower's channel holds before records
// for it are dropped.
const FollowQueue = 256

// Buffer keeps the last N records and hands new ones to followers. It is
// safe for concurrent use.
type Buffer struct {
	level atomic.Pointer[slog.Leveler]

	mu        sync.Mutex
	ring      []Record // len == capacity once full; ring[next] is the oldest then
	next      int
	full      bool
	followers map[*follower]struct{}
}

type follower struct {
	component string
	ch        chan Record
	dropped   int // guarded by Buffer.mu
}

// NewBuffer returns a Buffer that keeps the last n records (n <= 0 keeps
// none, which still lets callers follow live records). It records
// slog.LevelInfo and above until SetLevel says otherwise.
func NewBuffer(n int) *Buffer {
	if n < 0 {
		n = 0
	}
	b := &Buffer{ring: make([]Record, 0, n), followers: map[*follower]struct{}{}}
	b.SetLevel(slog.LevelInfo)
	return b
}

// SetLevel sets the lowest level the buffer records. Pass a *slog.LevelVar
// to change it later without calling SetLevel again; nil means LevelInfo.
//
// The buffer has its own level, apart from the next handler's, so an
// operator can read debug records with "moss logs" without also sending
// them to the console.
func (b *Buffer) SetLevel(l slog.Leveler) {
	if l == nil {
		l = slog.LevelInfo
	}
	b.level.Store(&l)
}

func (b *Buffer) minLevel() slog.Level { return (*b.level.Load()).Level() }

// add stores r and offers it to every follower of its component.
func (b *Buffer) add(r Record) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := cap(b.ring); c > 0 {
		if len(b.ring) < c {
			b.ring = append(b.ring, r)
		} else {
			b.ring[b.next] = r
			b.next = (b.next + 1) % c
		}
	}
	for f := range b.followers {
		if f.component == "" || f.component == r.Component {
			f.offer(r)
		}
	}
}

// offer never blocks: the logger's goroutine must not wait for a reader.
// Called with Buffer.mu held, which makes the free-space check below exact
// (only this side adds to the channel, and readers only make more room).
func (f *follower) offer(r Record) {
	free := cap(f.ch) - len(f.ch)
	if f.dropped > 0 {
		// Report the gap before the next record, and only when both fit, so
		// the notice cannot itself cause another gap.
		if free < 2 {
			f.dropped++
			return
		}
		f.ch <- Record{
			Time:      r.Time,
			Level:     slog.LevelWarn,
			Component: f.component,
			Msg:       fmt.Sprintf("%d log records dropped", f.dropped),
			Attrs:     "reason=slow_reader",
		}
		f.dropped = 0
		free--
	}
	if free < 1 {
		f.dropped++
		return
	}
	f.ch <- r
}

// Tail returns the last n records of component ("" for all components),
// oldest first. n < 0 returns every record the buffer holds.
func (b *Buffer) Tail(component string, n int) []Record {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tailLocked(component, n)
}

func (b *Buffer) tailLocked(component string, n int) []Record {
	if n == 0 {
		return nil
	}
	var out []Record
	// Walk newest to oldest so a small n stops early, then reverse.
	for i := len(b.ring) - 1; i >= 0 && (n < 0 || len(out) < n); i-- {
		r := b.ring[(b.next+i)%len(b.ring)]
		if component == "" || r.Component == component {
			out = append(out, r)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// Follow returns a channel of the records of component ("" for all) logged
// after the call. The channel holds FollowQueue records; when the reader
// falls further behind, records are dropped and the reader later receives a
// warning record saying how many. cancel stops the follow and closes the
// channel; it may be called more than once.
func (b *Buffer) Follow(component string) (ch <-chan Record, cancel func()) {
	_, ch, cancel = b.TailAndFollow(component, 0)
	return ch, cancel
}

// TailAndFollow is Tail followed by Follow as one step, so no record logged
// in between is lost or seen twice ("moss logs -f").
func (b *Buffer) TailAndFollow(component string, n int) (tail []Record, ch <-chan Record, cancel func()) {
	f := &follower{component: component, ch: make(chan Record, FollowQueue)}
	b.mu.Lock()
	defer b.mu.Unlock()
	tail = b.tailLocked(component, n)
	b.followers[f] = struct{}{}
	var once sync.Once
	cancel = func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			delete(b.followers, f)
			close(f.ch) // under mu, so add can never send on it afterwards
		})
	}
	return tail, f.ch, cancel
}
