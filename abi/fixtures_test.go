package abi

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/fixtures.json")

// h joins hex pieces, so each fixture can be annotated piece by piece.
func h(pieces ...string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(strings.Join(pieces, ""), " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// fixture is one entry of the shared table: bytes plus what they decode to,
// or the error code the host answers with.
type fixture struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"` // publish | subscribe | event | id | error
	Hex   string `json:"hex"`
	Want  any    `json:"want,omitempty"`
	Error string `json:"error,omitempty"` // E_DECODE etc.
	bytes []byte
}

var fixtures = []fixture{
	{Name: "publish", Kind: "publish", bytes: h(
		"a2",                         // map(2)
		"65 746f706963", "63 612f62", // "topic": "a/b"
		"67 7061796c6f6164", "42 6869"), // "payload": h'6869'
		Want: PublishRequest{Topic: "a/b", Payload: []byte("hi")}},
	{Name: "publish, keys in other order, empty payload", Kind: "publish", bytes: h(
		"a2", "67 7061796c6f6164", "40", "65 746f706963", "61 74"),
		Want: PublishRequest{Topic: "t", Payload: []byte{}}},
	{Name: "publish with an unknown key", Kind: "publish", bytes: h(
		"a3", "65 746f706963", "61 74", "67 7061796c6f6164", "40", "63 716f73", "01"), // "qos": 1
		Error: "E_DECODE"},
	{Name: "publish with the topic as bytes", Kind: "publish", bytes: h(
		"a2", "65 746f706963", "41 74", "67 7061796c6f6164", "40"),
		Error: "E_DECODE"},
	{Name: "publish truncated", Kind: "publish", bytes: h("a2", "65 746f706963", "63 61"), Error: "E_DECODE"},
	{Name: "publish as an indefinite-length map", Kind: "publish", bytes: h(
		"bf", "65 746f706963", "61 74", "67 7061796c6f6164", "40", "ff"),
		Error: "E_DECODE"},
	{Name: "publish declaring a 2^56-byte payload", Kind: "publish", bytes: h(
		"a2", "65 746f706963", "61 74", "67 7061796c6f6164", "5b 0100000000000000"),
		Error: "E_DECODE"},
	{Name: "publish with trailing bytes", Kind: "publish", bytes: h(
		"a2", "65 746f706963", "61 74", "67 7061796c6f6164", "40", "00"),
		Error: "E_DECODE"},
	// A key twice is refused (ABI.md, "Overview"), never resolved to one of
	// the values.
	{Name: "publish with the topic twice", Kind: "publish", bytes: h(
		"a3", "65 746f706963", "61 74", "67 7061796c6f6164", "40", "65 746f706963", "61 75"), // "topic": "t", ..., "topic": "u"
		Error: "E_DECODE"},
	{Name: "publish with the payload twice", Kind: "publish", bytes: h(
		"a3", "65 746f706963", "61 74", "67 7061796c6f6164", "40", "67 7061796c6f6164", "41 00"),
		Error: "E_DECODE"},
	{Name: "subscribe with the filter twice", Kind: "subscribe", bytes: h(
		"a2", "66 66696c746572", "61 23", "66 66696c746572", "61 23"), // the same value twice is refused too
		Error: "E_DECODE"},
	{Name: "subscribe", Kind: "subscribe", bytes: h("a1", "66 66696c746572", "69 73656e736f72732f23"), // "filter": "sensors/#"
		Want: SubscribeRequest{Filter: "sensors/#"}},
	{Name: "subscribe nested 20 deep", Kind: "subscribe", bytes: h("a1", "66 66696c746572", strings.Repeat("81", 20), "00"),
		Error: "E_DECODE"},
	{Name: "subscribe declaring 2^32 map pairs", Kind: "subscribe", bytes: h("ba ffffffff", "66 66696c746572", "61 23"),
		Error: "E_DECODE"},
	{Name: "id response", Kind: "id", bytes: h("a1", "62 6964", "18 2a"), Want: IDResponse{ID: 42}},
	{Name: "id response with the id twice", Kind: "id", bytes: h("a2", "62 6964", "01", "62 6964", "02"), Error: "E_DECODE"},
	{Name: "error response with the message twice", Kind: "error", bytes: h(
		"a3", "64 636f6465", "04", "67 6d657373616765", "61 61", "67 6d657373616765", "61 62"),
		Error: "E_DECODE"},
	{Name: "error response", Kind: "error", bytes: h("a2", "64 636f6465", "04", "67 6d657373616765", "64 6e6f7065"),
		Want: Error{Code: ErrDenied, Message: "nope"}},
	{Name: "message event", Kind: "event", bytes: h(
		"a4", "64 6b696e64", "02", // "kind": 2 (message)
		"62 6964", "03", // "id": 3
		"65 746f706963", "63 612f62", // "topic": "a/b"
		"67 7061796c6f6164", "42 6869"), // "payload": h'6869'
		Want: Event{Kind: EventMessage, ID: 3, Topic: "a/b", Payload: []byte("hi")}},
	{Name: "start event", Kind: "event", bytes: h(
		"a4", "64 6b696e64", "01", "64 6e616d65", "61 78", "67 76657273696f6e", "65 312e302e30", "63 616269", "01"),
		Want: Event{Kind: EventStart, Name: "x", Version: "1.0.0", ABI: 1}},
	{Name: "event with a key from a later version (skipped)", Kind: "event", bytes: h(
		"a3", "64 6b696e64", "03", "62 6964", "07", "65 6c61746572", "a1 61 61 82 01 02"), // "later": {"a": [1, 2]}
		Want: Event{Kind: EventTimer, ID: 7}},
	{Name: "event with the topic twice", Kind: "event", bytes: h(
		"a3", "64 6b696e64", "02", "65 746f706963", "61 61", "65 746f706963", "61 62"),
		Error: "E_DECODE"},
	{Name: "event with the kind twice", Kind: "event", bytes: h("a2", "64 6b696e64", "03", "64 6b696e64", "03"),
		Error: "E_DECODE"},
	{Name: "event with a key from a later version twice", Kind: "event", bytes: h(
		"a3", "64 6b696e64", "03", "65 6c61746572", "01", "65 6c61746572", "02"),
		Error: "E_DECODE"},
}

func decodeFixture(t *testing.T, c *Codec, f fixture) (any, error) {
	t.Helper()
	switch f.Kind {
	case "publish":
		var v PublishRequest
		return v, c.Unmarshal(f.bytes, &v)
	case "subscribe":
		var v SubscribeRequest
		err := c.Unmarshal(f.bytes, &v)
		return v, err
	case "id":
		var v IDResponse
		err := c.Unmarshal(f.bytes, &v)
		return v, err
	case "error":
		var v Error
		err := c.Unmarshal(f.bytes, &v)
		return v, err
	case "event":
		var v Event
		r := NewReader(f.bytes)
		err := r.ReadEvent(&v)
		return v, err
	}
	t.Fatalf("unknown kind %q", f.Kind)
	return nil, nil
}

func TestFixtures(t *testing.T) {
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fixtures {
		t.Run(f.Name, func(t *testing.T) {
			got, err := decodeFixture(t, c, f)
			if f.Error != "" {
				if err == nil {
					t.Fatalf("decoded %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Kind == "publish" { // publish has a fixed key set; normalise nil vs empty
				p := got.(PublishRequest)
				if p.Payload == nil {
					p.Payload = []byte{}
				}
				got = p
			}
			if !reflect.DeepEqual(got, f.Want) {
				t.Fatalf("decoded %+v, want %+v", got, f.Want)
			}
			// The hand-written encoders produce exactly the canonical bytes.
			switch w := f.Want.(type) {
			case Event:
				if f.Name != "event with a key from a later version (skipped)" {
					if enc := AppendEvent(nil, &w); !bytes.Equal(enc, f.bytes) {
						t.Fatalf("AppendEvent = %x, want %x", enc, f.bytes)
					}
				}
			case PublishRequest:
				if f.Name == "publish" {
					if enc := AppendPublish(nil, w.Topic, w.Payload); !bytes.Equal(enc, f.bytes) {
						t.Fatalf("AppendPublish = %x, want %x", enc, f.bytes)
					}
				}
			}
		})
	}
}

// TestFixturesFile keeps testdata/fixtures.json, the table other SDKs test
// against, in step with the table above.
// wireView renders v as the wire sees it: CBOR key names, byte strings as
// hex.
func wireView(t *testing.T, c *Codec, v any) any {
	b, err := c.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m any
	if err := c.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var conv func(any) any
	conv = func(x any) any {
		switch y := x.(type) {
		case map[string]any:
			for k, e := range y {
				y[k] = conv(e)
			}
		case []any:
			for i, e := range y {
				y[i] = conv(e)
			}
		case []byte:
			return "h'" + hex.EncodeToString(y) + "'"
		}
		return x
	}
	return conv(m)
}

func TestFixturesFile(t *testing.T) {
	type file struct {
		About    string    `json:"about"`
		Fixtures []fixture `json:"fixtures"`
	}
	out := file{About: "Moss ABI v1 fixtures, generated from abi/fixtures_test.go (go test ./abi -run TestFixturesFile -update). " +
		"Each entry: CBOR bytes as hex, the message kind, and either what they decode to (want: CBOR map keys, byte strings written h'hex') or the error code the host answers with."}
	c, _ := NewCodec()
	for _, f := range fixtures {
		f.Hex = hex.EncodeToString(f.bytes)
		if f.Want != nil {
			f.Want = wireView(t, c, f.Want)
		}
		out.Fixtures = append(out.Fixtures, f)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	const path = "testdata/fixtures.json"
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(have, b) {
		t.Fatalf("%s is stale or missing (%v): run go test ./abi -run TestFixturesFile -update", path, err)
	}
}
