// Package delayproxy is a TCP proxy on loopback that holds every byte for
// a fixed time in each direction, so that tests and benchmarks can run the
// cloud link over a link with latency (a cellular modem's 100 ms round
// trip) without touching the machine's network configuration.
//
// Each direction is a reader that stamps what it reads with the time it
// arrived and a writer that passes it on once the delay has elapsed, so
// the delay adds latency without limiting throughput: many round trips'
// worth of data can be on the way at once, as on a real long link.
package delayproxy

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"time"
)

// Proxy forwards connections made to it to a target address.
type Proxy struct {
	ln     net.Listener
	target string
	delay  time.Duration

	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// Start listens on a free port of 127.0.0.1 and forwards each connection
// to target, each byte delayed by oneWay in each direction (the round trip
// grows by twice oneWay). Close stops it.
func Start(target string, oneWay time.Duration) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, delay: oneWay, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Port is the port the proxy listens on.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Addr is the proxy's address, "127.0.0.1:PORT".
func (p *Proxy) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port())) }

// Close stops listening, closes every connection and waits for the
// proxy's goroutines.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		down, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if !p.track(down) {
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
			if err != nil || !p.track(up) {
				p.untrack(down)
				return
			}
			var done sync.WaitGroup
			done.Add(2)
			go func() { defer done.Done(); p.pipe(up, down) }()
			go func() { defer done.Done(); p.pipe(down, up) }()
			done.Wait()
			p.untrack(up, down)
		}()
	}
}

type chunk struct {
	data []byte
	due  time.Time
}

// pipe copies src to dst, each chunk delayed. When src ends, what it sent
// is delivered, then both connections close, which ends the other
// direction too.
func (p *Proxy) pipe(dst, src net.Conn) {
	q := make(chan chunk, 4096)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{buf[:n], time.Now().Add(p.delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	failed := false
	for c := range q {
		if failed {
			continue // drain so the reader can finish
		}
		time.Sleep(time.Until(c.due)) // the delay is what the proxy is for
		if _, err := dst.Write(c.data); err != nil {
			failed = true
			src.Close()
		}
	}
	dst.Close()
	src.Close()
}
