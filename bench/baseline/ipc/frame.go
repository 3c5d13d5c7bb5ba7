package ipc

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/moss-edge/moss/abi"
)

// A frame is a 4-byte big-endian length, then that many bytes: one
// operation byte and a CBOR body.
//
//	+--------+----+----------------------------------------+
//	| length | op | body (CBOR map)                        |
//	| u32 BE | u8 | length-1 bytes                         |
//	+--------+----+----------------------------------------+
//
// The bodies are the maps of Moss's ABI (abi/ABI.md), written with the same
// hand-written encoder the host and the Go SDK use (abi.AppendPublish,
// abi.AppendEvent):
//
//	op               direction          body
//	OpPublish        component->broker  {"topic": text, "payload": bytes}; answered by OpReply
//	OpPublishNoReply component->broker  the same; not answered (pipelined)
//	OpSubscribe      component->broker  {"filter": text}; answered by OpReply {"id": uint}
//	OpReply          broker->component  {} or {"id": uint} on success, {"code": uint, "message": text} on failure
//	OpEvent          broker->component  a message event {"kind": 2, "id": uint, "topic": text, "payload": bytes}
//
// Greengrass's IPC frames its messages the same way (AWS's event-stream
// encoding: a prelude of lengths with a CRC32, binary headers naming the
// operation and the stream, a JSON payload, a CRC32 of the whole); this
// uses one byte for the headers, CBOR for the payload and no checksums,
// which only makes it cheaper.

// Op is a frame's operation.
type Op byte

// Operations.
const (
	OpPublish        Op = 1
	OpPublishNoReply Op = 2
	OpSubscribe      Op = 3
	OpReply          Op = 4
	OpEvent          Op = 5
)

func (o Op) String() string {
	switch o {
	case OpPublish:
		return "publish"
	case OpPublishNoReply:
		return "publish-no-reply"
	case OpSubscribe:
		return "subscribe"
	case OpReply:
		return "reply"
	case OpEvent:
		return "event"
	}
	return fmt.Sprintf("op(%d)", byte(o))
}

const (
	// MaxFrame is the largest frame body (op byte and CBOR) either side
	// accepts: the ABI's largest request.
	MaxFrame = 1 << 20
	// MaxPayload is the largest payload the broker publishes: Moss's
	// default max_message limit.
	MaxPayload = 256 << 10
	// BufferSize is the size of every bufio.Reader and bufio.Writer on a
	// connection: about 220 frames of a 256-byte message per system call.
	BufferSize = 64 << 10
)

// ErrFrameTooLarge is returned for a frame whose declared length exceeds
// MaxFrame, and ErrEmptyFrame for one with no operation byte.
var (
	ErrFrameTooLarge = errors.New("ipc: frame larger than 1 MiB")
	ErrEmptyFrame    = errors.New("ipc: empty frame")
)

// begin appends a frame header for op with a length to be filled in by end,
// and returns where the frame starts.
func begin(dst []byte, op Op) ([]byte, int) {
	start := len(dst)
	return append(dst, 0, 0, 0, 0, byte(op)), start
}

// end fills in the length of the frame that starts at start.
func end(dst []byte, start int) []byte {
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// AppendPublish appends a publish frame (op is OpPublish or
// OpPublishNoReply) whose body is Moss's ABI publish request.
func AppendPublish(dst []byte, op Op, topic string, payload []byte) []byte {
	dst, start := begin(dst, op)
	return end(abi.AppendPublish(dst, topic, payload), start)
}

// AppendSubscribe appends a subscribe frame.
func AppendSubscribe(dst []byte, filter string) []byte {
	dst, start := begin(dst, OpSubscribe)
	dst = abi.AppendText(abi.AppendText(abi.AppendMap(dst, 1), "filter"), filter)
	return end(dst, start)
}

// AppendReply appends a successful reply: an empty map, or {"id": id} when
// id is not 0 (the answer to a subscribe).
func AppendReply(dst []byte, id uint32) []byte {
	dst, start := begin(dst, OpReply)
	if id == 0 {
		dst = abi.AppendMap(dst, 0)
	} else {
		dst = abi.AppendUint(abi.AppendText(abi.AppendMap(dst, 1), "id"), uint64(id))
	}
	return end(dst, start)
}

// AppendError appends a failed reply: an abi.Error map.
func AppendError(dst []byte, e *abi.Error) []byte {
	dst, start := begin(dst, OpReply)
	dst = abi.AppendMap(dst, 2)
	dst = abi.AppendUint(abi.AppendText(dst, "code"), uint64(e.Code))
	dst = abi.AppendText(abi.AppendText(dst, "message"), e.Message)
	return end(dst, start)
}

// AppendEvent appends a message event frame, encoded as the host encodes
// the events it delivers to a component.
func AppendEvent(dst []byte, id uint32, topic string, payload []byte) []byte {
	dst, start := begin(dst, OpEvent)
	ev := abi.Event{Kind: abi.EventMessage, ID: id, Topic: topic, Payload: payload}
	return end(abi.AppendEvent(dst, &ev), start)
}

// FrameReader reads frames from a bufio.Reader without copying them: a
// frame that fits the reader's buffer is returned in place.
type FrameReader struct {
	r       *bufio.Reader
	consume int    // bytes of the last frame still to discard from r
	large   []byte // holds a frame larger than r's buffer
}

// NewFrameReader returns a FrameReader reading rd through a bufio.Reader
// of BufferSize bytes.
func NewFrameReader(rd io.Reader) *FrameReader {
	return &FrameReader{r: bufio.NewReaderSize(rd, BufferSize)}
}

// Buffered reports how many bytes are already read from the connection and
// not yet returned as frames: 0 means the next Next may wait for the peer.
func (fr *FrameReader) Buffered() int { return fr.r.Buffered() - fr.consume }

// Next returns the next frame's operation and body. The body is valid until
// the following call of Next. At the end of the stream between two frames
// it returns io.EOF; in the middle of a frame io.ErrUnexpectedEOF.
func (fr *FrameReader) Next() (Op, []byte, error) {
	if fr.consume > 0 {
		if _, err := fr.r.Discard(fr.consume); err != nil {
			return 0, nil, err
		}
		fr.consume = 0
	}
	hdr, err := fr.r.Peek(4)
	if err != nil {
		if err == io.EOF && len(hdr) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr))
	switch {
	case n == 0:
		return 0, nil, ErrEmptyFrame
	case n > MaxFrame:
		return 0, nil, ErrFrameTooLarge
	}
	if 4+n <= fr.r.Size() {
		b, err := fr.r.Peek(4 + n)
		if err != nil {
			return 0, nil, unexpected(err)
		}
		fr.consume = 4 + n
		return Op(b[4]), b[5:], nil
	}
	if _, err := fr.r.Discard(4); err != nil {
		return 0, nil, unexpected(err)
	}
	if cap(fr.large) < n {
		fr.large = make([]byte, n)
	}
	b := fr.large[:n]
	if _, err := io.ReadFull(fr.r, b); err != nil {
		return 0, nil, unexpected(err)
	}
	return Op(b[0]), b[1:], nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func malformed(what string) error {
	return abi.Errorf(abi.ErrDecode, "%s", what)
}

// DecodePublish decodes a publish body strictly, as the host's publish
// function does: a map of exactly "topic" (text) and "payload" (bytes,
// optional), nothing after it. topic and payload alias body.
func DecodePublish(body []byte) (topic, payload []byte, err error) {
	r := abi.NewReader(body)
	n, err := r.Map()
	if err != nil {
		return nil, nil, malformed("publish request: not a map")
	}
	haveTopic := false
	for range n {
		k, err := r.Text()
		if err != nil {
			return nil, nil, malformed("publish request: bad key")
		}
		switch string(k) {
		case "topic":
			if topic, err = r.Text(); err != nil {
				return nil, nil, malformed("publish request: topic is not text")
			}
			haveTopic = true
		case "payload":
			if payload, err = r.Bytes(); err != nil {
				return nil, nil, malformed("publish request: payload is not bytes")
			}
		default:
			return nil, nil, abi.Errorf(abi.ErrDecode, "publish request: unknown key %q", k)
		}
	}
	if r.Len() != 0 {
		return nil, nil, abi.Errorf(abi.ErrDecode, "publish request: %d trailing bytes", r.Len())
	}
	if !haveTopic {
		return nil, nil, malformed("publish request: no topic")
	}
	return topic, payload, nil
}

// DecodeSubscribe decodes a subscribe body: a map of exactly "filter".
func DecodeSubscribe(body []byte) (filter []byte, err error) {
	r := abi.NewReader(body)
	if n, err := r.Map(); err != nil || n != 1 {
		return nil, malformed("subscribe request: not a map of one key")
	}
	if k, err := r.Text(); err != nil || string(k) != "filter" {
		return nil, malformed("subscribe request: want key \"filter\"")
	}
	if filter, err = r.Text(); err != nil {
		return nil, malformed("subscribe request: filter is not text")
	}
	if r.Len() != 0 {
		return nil, abi.Errorf(abi.ErrDecode, "subscribe request: %d trailing bytes", r.Len())
	}
	return filter, nil
}

// DecodeReply decodes a reply body: the id of a successful subscribe (0 for
// other requests), or the *abi.Error of a failed request.
func DecodeReply(body []byte) (uint32, error) {
	r := abi.NewReader(body)
	n, err := r.Map()
	if err != nil {
		return 0, malformed("reply: not a map")
	}
	var id uint64
	var e abi.Error
	failed := false
	for range n {
		k, err := r.Text()
		if err != nil {
			return 0, malformed("reply: bad key")
		}
		switch string(k) {
		case "id":
			if id, err = r.Uint(); err != nil || id > 0xffffffff {
				return 0, malformed("reply: bad id")
			}
		case "code":
			c, err := r.Uint()
			if err != nil || c > 0x7fffffff {
				return 0, malformed("reply: bad code")
			}
			e.Code, failed = abi.Code(c), true
		case "message":
			m, err := r.Text()
			if err != nil {
				return 0, malformed("reply: bad message")
			}
			e.Message = string(m)
		default:
			if err := r.Skip(); err != nil {
				return 0, malformed("reply: bad value")
			}
		}
	}
	if failed {
		return 0, &e
	}
	return uint32(id), nil
}
