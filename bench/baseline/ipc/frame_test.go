package ipc

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moss-edge/moss/abi"
)

type fixture struct {
	name  string
	frame []byte // a whole frame: length, op, body
	op    Op
	body  string // the decoded body, for valid frames
	err   string // DecodePublish's, DecodeSubscribe's or DecodeReply's error, for malformed ones
}

// frames is one annotated table of frames, valid and malformed side by side,
// used by the encoder and decoder tests.
var frames = []fixture{

	{
		name: "publish",
		frame: cat(
			[]byte{0, 0, 0, 23}, // length: op + 22 bytes of CBOR
			[]byte{1},           // OpPublish
			[]byte{0xa2},        // map(2)
			[]byte{0x65}, []byte("topic"),
			[]byte{0x63}, []byte("a/b"),
			[]byte{0x67}, []byte("payload"),
			[]byte{0x42, 1, 2}, // bytes(2)
		),
		op:   OpPublish,
		body: "topic=a/b payload=0102",
	},
	{
		name:  "publish, empty payload",
		frame: AppendPublish(nil, OpPublishNoReply, "t", []byte{}),
		op:    OpPublishNoReply,
		body:  "topic=t payload=",
	},
	{
		name:  "publish, no payload key",
		frame: frame(OpPublish, abi.AppendText(abi.AppendText(abi.AppendMap(nil, 1), "topic"), "t")),
		op:    OpPublish,
		body:  "topic=t payload=",
	},
	{
		name:  "publish, no topic",
		frame: frame(OpPublish, abi.AppendBytes(abi.AppendText(abi.AppendMap(nil, 1), "payload"), nil)),
		op:    OpPublish,
		err:   "malformed request: publish request: no topic",
	},
	{
		name:  "publish, unknown key",
		frame: frame(OpPublish, abi.AppendUint(abi.AppendText(abi.AppendMap(nil, 1), "qos"), 1)),
		op:    OpPublish,
		err:   `malformed request: publish request: unknown key "qos"`,
	},
	{
		name:  "publish, trailing byte",
		frame: frame(OpPublish, append(abi.AppendPublish(nil, "t", nil), 0)),
		op:    OpPublish,
		err:   "malformed request: publish request: 1 trailing bytes",
	},
	{
		name:  "publish, topic as bytes",
		frame: frame(OpPublish, abi.AppendBytes(abi.AppendText(abi.AppendMap(nil, 1), "topic"), []byte("t"))),
		op:    OpPublish,
		err:   "malformed request: publish request: topic is not text",
	},
	{
		name:  "subscribe",
		frame: AppendSubscribe(nil, "a/+/#"),
		op:    OpSubscribe,
		body:  "filter=a/+/#",
	},
	{
		name:  "subscribe, two keys",
		frame: frame(OpSubscribe, abi.AppendMap(nil, 2)),
		op:    OpSubscribe,
		err:   "malformed request: subscribe request: not a map of one key",
	},
	{
		name:  "reply",
		frame: AppendReply(nil, 0),
		op:    OpReply,
		body:  "id=0",
	},
	{
		name:  "reply with id",
		frame: AppendReply(nil, 7),
		op:    OpReply,
		body:  "id=7",
	},
	{
		name:  "error reply",
		frame: AppendError(nil, abi.Errorf(abi.ErrInvalid, "bad topic")),
		op:    OpReply,
		err:   "invalid argument: bad topic",
	},
	{
		name: "event",
		frame: cat(
			[]byte{0, 0, 0, 32},                        // length: op + 31 bytes of CBOR
			[]byte{5},                                  // OpEvent
			[]byte{0xa4},                               // map(4)
			[]byte{0x64}, []byte("kind"), []byte{0x02}, // a message event
			[]byte{0x62}, []byte("id"), []byte{0x03},
			[]byte{0x65}, []byte("topic"), []byte{0x63}, []byte("a/b"),
			[]byte{0x67}, []byte("payload"), []byte{0x41, 9},
		),
		op:   OpEvent,
		body: "kind=2 id=3 topic=a/b payload=09",
	},
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// frame wraps body in a frame header by hand, for malformed bodies the
// encoders cannot make.
func frame(op Op, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(body)))
	return append(append(b, byte(op)), body...)
}

// describe decodes body by its op, as the broker and the client do.
func describe(op Op, body []byte) (string, error) {
	switch op {
	case OpPublish, OpPublishNoReply:
		t, p, err := DecodePublish(body)
		if err != nil {
			return "", err
		}
		return "topic=" + string(t) + " payload=" + hex(p), nil
	case OpSubscribe:
		f, err := DecodeSubscribe(body)
		if err != nil {
			return "", err
		}
		return "filter=" + string(f), nil
	case OpReply:
		id, err := DecodeReply(body)
		if err != nil {
			return "", err
		}
		return "id=" + itoa(id), nil
	case OpEvent:
		var ev abi.Event
		r := abi.NewReader(body)
		if err := r.ReadEvent(&ev); err != nil {
			return "", err
		}
		return "kind=" + itoa(uint32(ev.Kind)) + " id=" + itoa(ev.ID) + " topic=" + ev.Topic + " payload=" + hex(ev.Payload), nil
	}
	return "", errors.New("unknown op")
}

func hex(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

// TestEncoders checks that the encoders write the annotated bytes.
func TestEncoders(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
	}{
		{"publish", AppendPublish(nil, OpPublish, "a/b", []byte{1, 2})},
		{"event", AppendEvent(nil, 3, "a/b", []byte{9})},
	} {
		i := slices.IndexFunc(frames[:], func(f fixture) bool { return f.name == tc.name })
		if !bytes.Equal(tc.got, frames[i].frame) {
			t.Errorf("%s: encoded % x\nwant % x", tc.name, tc.got, frames[i].frame)
		}
	}
}

func TestFrames(t *testing.T) {
	// All frames back to back through one reader, as on a connection.
	var stream []byte
	for _, f := range frames {
		stream = append(stream, f.frame...)
	}
	fr := NewFrameReader(bytes.NewReader(stream))
	for _, f := range frames {
		op, body, err := fr.Next()
		if err != nil {
			t.Fatalf("%s: Next: %v", f.name, err)
		}
		if op != f.op {
			t.Errorf("%s: op %s, want %s", f.name, op, f.op)
		}
		got, err := describe(op, body)
		switch {
		case f.err != "":
			if err == nil || err.Error() != f.err {
				t.Errorf("%s: error %v, want %q", f.name, err, f.err)
			}
		case err != nil:
			t.Errorf("%s: %v", f.name, err)
		case got != f.body:
			t.Errorf("%s: decoded %q, want %q", f.name, got, f.body)
		}
	}
	if _, _, err := fr.Next(); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}
}

// TestPublishIsTheABIRequest checks that a publish body is Moss's ABI
// publish request, as the host's strict fxamacker/cbor decoder reads it.
func TestPublishIsTheABIRequest(t *testing.T) {
	c, err := abi.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	f := AppendPublish(nil, OpPublish, "bench/data", bytes.Repeat([]byte{7}, 256))
	var req abi.PublishRequest
	if err := c.Unmarshal(f[5:], &req); err != nil {
		t.Fatal(err)
	}
	if req.Topic != "bench/data" || !bytes.Equal(req.Payload, bytes.Repeat([]byte{7}, 256)) {
		t.Errorf("decoded %q, %d bytes", req.Topic, len(req.Payload))
	}
	var ev abi.Event
	if err := c.Unmarshal(AppendEvent(nil, 1, "bench/data", []byte{1})[5:], &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Kind != abi.EventMessage || ev.ID != 1 || ev.Topic != "bench/data" {
		t.Errorf("event decoded as %+v", ev)
	}
}

func TestFrameReaderErrors(t *testing.T) {
	big := AppendPublish(nil, OpPublish, "t", make([]byte, 3*BufferSize))
	for _, tc := range []struct {
		name  string
		input []byte
		want  error
	}{
		{"empty stream", nil, io.EOF},
		{"half a header", []byte{0, 0}, io.ErrUnexpectedEOF},
		{"header only", []byte{0, 0, 0, 5}, io.ErrUnexpectedEOF},
		{"truncated body", AppendReply(nil, 0)[:5], io.ErrUnexpectedEOF},
		{"truncated large frame", big[:len(big)-1], io.ErrUnexpectedEOF},
		{"zero length", []byte{0, 0, 0, 0}, ErrEmptyFrame},
		{"over MaxFrame", binary.BigEndian.AppendUint32(nil, MaxFrame+1), ErrFrameTooLarge},
	} {
		_, _, err := NewFrameReader(bytes.NewReader(tc.input)).Next()
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestLargeFrame reads a frame larger than the reader's buffer between two
// small ones, in chunks of one byte so that every read is short.
func TestLargeFrame(t *testing.T) {
	payload := bytes.Repeat([]byte("xyz"), BufferSize)
	var stream []byte
	stream = AppendReply(stream, 1)
	stream = AppendPublish(stream, OpPublish, "big", payload)
	stream = AppendReply(stream, 2)
	fr := NewFrameReader(bufio.NewReaderSize(iotestOneByte{bytes.NewReader(stream)}, 16))
	for i, want := range []string{"id=1", "topic=big payload=" + hex(payload), "id=2"} {
		op, body, err := fr.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		got, err := describe(op, body)
		if err != nil || got != want {
			t.Fatalf("frame %d: %.40q, %v", i, got, err)
		}
	}
}

type iotestOneByte struct{ r io.Reader }

func (o iotestOneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

var sink []byte

func BenchmarkAppendPublish(b *testing.B) {
	payload := make([]byte, 256)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendPublish(buf[:0], OpPublish, "bench/data", payload)
	}
	sink = buf
}

func BenchmarkAppendEvent(b *testing.B) {
	payload := make([]byte, 256)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEvent(buf[:0], 1, "bench/data", payload)
	}
	sink = buf
}

// stream holds n frames made by enc, back to back.
func stream(n int, enc func([]byte) []byte) []byte {
	var s []byte
	for range n {
		s = enc(s)
	}
	return s
}

// BenchmarkReadPublish is the broker's side: FrameReader.Next and
// DecodePublish of 256-byte publishes, from a buffer of 1000 frames.
func BenchmarkReadPublish(b *testing.B) {
	s := stream(1000, func(d []byte) []byte { return AppendPublish(d, OpPublish, "bench/data", make([]byte, 256)) })
	r := bytes.NewReader(s)
	fr := NewFrameReader(r)
	b.SetBytes(int64(len(s) / 1000))
	b.ReportAllocs()
	for b.Loop() {
		op, body, err := fr.Next()
		if err == io.EOF {
			r.Reset(s)
			op, body, err = fr.Next()
		}
		if err != nil || op != OpPublish {
			b.Fatal(op, err)
		}
		if _, p, err := DecodePublish(body); err != nil || len(p) != 256 {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadEvent is the subscriber's side: FrameReader.Next and
// abi.Reader.ReadEvent of 256-byte message events.
func BenchmarkReadEvent(b *testing.B) {
	s := stream(1000, func(d []byte) []byte { return AppendEvent(d, 1, "bench/data", make([]byte, 256)) })
	r := bytes.NewReader(s)
	fr := NewFrameReader(r)
	var ev abi.Event
	b.SetBytes(int64(len(s) / 1000))
	b.ReportAllocs()
	for b.Loop() {
		op, body, err := fr.Next()
		if err == io.EOF {
			r.Reset(s)
			op, body, err = fr.Next()
		}
		if err != nil || op != OpEvent {
			b.Fatal(op, err)
		}
		rd := abi.NewReader(body)
		if err := rd.ReadEvent(&ev); err != nil || len(ev.Payload) != 256 {
			b.Fatal(err)
		}
	}
}

// FuzzFrames feeds arbitrary bytes to the frame reader and every body
// decoder: they may refuse them, never panic or read out of bounds.
func FuzzFrames(f *testing.F) {
	for _, fx := range frames {
		f.Add(fx.frame)
	}
	f.Add(AppendPublish(nil, OpPublish, "big", make([]byte, BufferSize)))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr := NewFrameReader(bytes.NewReader(b))
		for {
			op, body, err := fr.Next()
			if err != nil {
				return
			}
			_, _ = describe(op, body)
			_, _, _ = DecodePublish(body)
			_, _ = DecodeSubscribe(body)
			_, _ = DecodeReply(body)
		}
	})
}
