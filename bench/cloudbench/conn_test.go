package cloudbench

import (
	"net"
	"sync/atomic"
)

// countConn counts the bytes of a TCP connection under TLS, as the cloud
// link counts its own: the bare client's wire cost.
type countConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}
