package ipc

import (
	"bufio"
	"fmt"
	"net"

	"github.com/moss-edge/moss/abi"
)

// Client is a component's connection to the Broker, as a Greengrass
// component's IPC client is: it publishes (waiting for the broker's reply,
// or pipelined without one) and receives message events. It serves one job
// per connection: a client that waits for a reply treats an event arriving
// first as an error. A Client is not safe for concurrent use.
type Client struct {
	nc  net.Conn
	r   *FrameReader
	w   *bufio.Writer
	buf []byte // scratch for frames larger than w's free space
}

// Dial connects to the broker's Unix socket at path.
func Dial(path string) (*Client, error) {
	nc, err := net.Dial("unix", path)
	if err != nil {
		return nil, err
	}
	return &Client{nc: nc, r: NewFrameReader(nc), w: bufio.NewWriterSize(nc, BufferSize)}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.nc.Close() }

// writeFrame encodes a frame of at most size bytes straight into the bufio.Writer's free space
// when it fits (no copy), else through a scratch buffer.
func (c *Client) writeFrame(size int, enc func([]byte) []byte) error {
	if c.w.Available() < size && c.w.Buffered() > 0 {
		if err := c.w.Flush(); err != nil {
			return err
		}
	}
	if c.w.Available() >= size {
		_, err := c.w.Write(enc(c.w.AvailableBuffer()))
		return err
	}
	c.buf = enc(c.buf[:0])
	_, err := c.w.Write(c.buf)
	return err
}

// publishSize bounds the encoded size of a publish frame: the frame header,
// the map, two keys, and two heads of at most 9 bytes.
func publishSize(topic string, payload []byte) int {
	return 5 + 1 + 6 + 9 + len(topic) + 8 + 9 + len(payload)
}

// Publish publishes and waits for the broker's reply, as Greengrass's
// PublishToTopic and Moss's publish host function do.
func (c *Client) Publish(topic string, payload []byte) error {
	if err := c.writeFrame(publishSize(topic, payload), func(dst []byte) []byte {
		return AppendPublish(dst, OpPublish, topic, payload)
	}); err != nil {
		return err
	}
	if err := c.w.Flush(); err != nil {
		return err
	}
	_, err := c.awaitReply()
	return err
}

// PublishAsync queues a publish that the broker does not answer; frames
// go out when the buffer is full or on Flush.
func (c *Client) PublishAsync(topic string, payload []byte) error {
	return c.writeFrame(publishSize(topic, payload), func(dst []byte) []byte {
		return AppendPublish(dst, OpPublishNoReply, topic, payload)
	})
}

// Flush writes the publishes PublishAsync queued.
func (c *Client) Flush() error { return c.w.Flush() }

// Subscribe subscribes to filter and returns the subscription's id, which
// the events of its messages carry.
func (c *Client) Subscribe(filter string) (uint32, error) {
	if err := c.writeFrame(5+1+7+9+len(filter), func(dst []byte) []byte {
		return AppendSubscribe(dst, filter)
	}); err != nil {
		return 0, err
	}
	if err := c.w.Flush(); err != nil {
		return 0, err
	}
	return c.awaitReply()
}

func (c *Client) awaitReply() (uint32, error) {
	op, body, err := c.r.Next()
	if err != nil {
		return 0, err
	}
	if op != OpReply {
		return 0, fmt.Errorf("ipc: %s frame while waiting for a reply", op)
	}
	return DecodeReply(body)
}

// Next reads the next message event into ev, with abi.Reader.ReadEvent,
// the decoder Moss's Go SDK uses for the events it receives. ev.Payload
// aliases the connection's buffer and is valid until the next call.
func (c *Client) Next(ev *abi.Event) error {
	op, body, err := c.r.Next()
	if err != nil {
		return err
	}
	if op != OpEvent {
		return fmt.Errorf("ipc: %s frame while waiting for an event", op)
	}
	r := abi.NewReader(body)
	if err := r.ReadEvent(ev); err != nil {
		return err
	}
	if ev.Kind != abi.EventMessage {
		return fmt.Errorf("ipc: event of kind %d, want a message", ev.Kind)
	}
	return nil
}
