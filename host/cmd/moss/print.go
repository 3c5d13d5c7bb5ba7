package main

import (
	"bufio"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// printQueue is how many messages --print holds for a terminal that is
// behind before it drops.
const printQueue = 4096

// printer writes "topic payload" lines for `moss run --print` from a
// goroutine of its own. The bus calls its deliver inside Publish, on the
// publisher's goroutine, so a terminal that stalls (a paused pager, a pipe
// nobody reads) must not stall the publisher: deliver queues without
// blocking and, when the queue is full, drops the message and counts it.
type printer struct {
	log     *slog.Logger
	lines   chan []byte
	done    chan struct{}
	dropped atomic.Uint64
	warnMu  sync.Mutex
	warned  time.Time
}

func newPrinter(w io.Writer, log *slog.Logger) *printer {
	p := &printer{log: log, lines: make(chan []byte, printQueue), done: make(chan struct{})}
	go p.write(w)
	return p
}

// deliver is the bus callback; it never blocks.
func (p *printer) deliver(topic string, payload []byte) {
	line := make([]byte, 0, len(topic)+len(payload)+2)
	line = append(append(append(append(line, topic...), ' '), payload...), '\n')
	select {
	case p.lines <- line:
		return
	default:
	}
	n := p.dropped.Add(1)
	p.warnMu.Lock()
	defer p.warnMu.Unlock()
	if now := time.Now(); now.Sub(p.warned) >= time.Second {
		p.warned = now
		p.log.Warn("--print: stdout is behind; dropping messages", "dropped_total", n)
	}
}

// write owns w: it writes queued lines, flushing whenever the queue is
// empty, until close. A write error (stdout closed) ends it; what is still
// queued is then dropped.
func (p *printer) write(w io.Writer) {
	defer close(p.done)
	bw := bufio.NewWriter(w)
	for line := range p.lines {
		if _, err := bw.Write(line); err != nil {
			p.log.Warn("--print: writing to stdout failed; not printing any more", "error", err)
			for range p.lines {
			}
			return
		}
		if len(p.lines) == 0 {
			if err := bw.Flush(); err != nil {
				p.log.Warn("--print: writing to stdout failed; not printing any more", "error", err)
				for range p.lines {
				}
				return
			}
		}
	}
	bw.Flush()
}

// close stops taking lines (call it once the bus no longer delivers to
// deliver) and waits up to wait for the queue to be written: a terminal
// that never reads again must not keep the host from exiting. It returns
// how many messages were dropped.
func (p *printer) close(wait time.Duration) uint64 {
	close(p.lines)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.log.Warn("--print: stdout did not take the last messages; exiting without them", "waited", wait)
	}
	if n := p.dropped.Load(); n > 0 {
		p.log.Warn("--print: messages dropped because stdout was behind", "dropped_total", n)
	}
	return p.dropped.Load()
}
