package cloud

import (
	"net"
	"sync"
	"sync/atomic"
)

// wireStats counts bytes on the wire, TLS included, over every connection
// of a link.
type wireStats struct {
	in, out atomic.Uint64
}

// countConn counts the bytes of the TCP connection under TLS: handshakes,
// record overhead and all.
type countConn struct {
	net.Conn
	stats *wireStats
}

func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.stats.out.Add(uint64(n))
	return n, err
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.stats.in.Add(uint64(n))
	return n, err
}

// wireConn is the connection paho writes to. paho locks a connection that
// implements sync.Locker around each packet and then writes the packet in
// pieces (five for a PUBLISH); wireConn gathers the pieces while locked and
// writes them with one call, so a packet is one TLS record and one syscall
// instead of five.
type wireConn struct {
	net.Conn

	mu       sync.Mutex
	buf      []byte
	gather   bool
	flushErr error // a failed gathered write, returned by the next Write

	// written, if set, is told the packet identifier of each QoS 1
	// PUBLISH once it is on the wire: the pipelined sender starts the
	// next message only then, so the broker receives them in spool order.
	written func(id uint16)
}

func newWireConn(c net.Conn, written func(uint16)) *wireConn {
	return &wireConn{Conn: c, written: written}
}

func (c *wireConn) Lock() {
	c.mu.Lock()
	c.gather = true
}

func (c *wireConn) Unlock() {
	c.gather = false
	if len(c.buf) > 0 && c.flushErr == nil {
		if _, err := c.Conn.Write(c.buf); err != nil {
			// paho has been told the packet was written. Closing makes
			// its reader fail at once, so the connection is seen as lost
			// and QoS 1 messages are sent again.
			c.flushErr = err
			c.Conn.Close()
		} else if c.written != nil {
			if id, ok := publishID(c.buf); ok {
				c.written(id)
			}
		}
	}
	if cap(c.buf) > 64<<10 { // a large payload went through: do not keep its buffer
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
	c.mu.Unlock()
}

// Write must be called between Lock and Unlock, as paho does for every
// packet it sends.
func (c *wireConn) Write(p []byte) (int, error) {
	if c.flushErr != nil {
		return 0, c.flushErr
	}
	if c.gather {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// publishID returns the packet identifier of p if p is one whole QoS 1
// PUBLISH packet (MQTT 5, 3.3): fixed header, remaining length, topic,
// then the identifier.
func publishID(p []byte) (uint16, bool) {
	if len(p) < 2 || p[0]>>4 != 3 || (p[0]>>1)&3 != 1 {
		return 0, false
	}
	i := 1
	for ; i < len(p) && i <= 4 && p[i]&0x80 != 0; i++ { // variable byte integer
	}
	i++
	if i+2 > len(p) {
		return 0, false
	}
	topicLen := int(p[i])<<8 | int(p[i+1])
	i += 2 + topicLen
	if i+2 > len(p) {
		return 0, false
	}
	return uint16(p[i])<<8 | uint16(p[i+1]), true
}
