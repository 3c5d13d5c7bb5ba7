package abi

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestSpecMatchesTable checks that ABI.md documents every host function,
// export, error code and event kind of the Go table, with the same numbers.
func TestSpecMatchesTable(t *testing.T) {
	spec, err := os.ReadFile("ABI.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(spec)
	for _, f := range HostFunctions {
		if !strings.Contains(s, "### `"+f) {
			t.Errorf("ABI.md has no section for host function %s", f)
		}
	}
	for _, e := range []string{ExportABIVersion, ExportEventBuffer, ExportOnEvents, ExportInitialize, ExportMemory} {
		if !strings.Contains(s, "| `"+e+"` |") {
			t.Errorf("ABI.md's export table lacks %s", e)
		}
	}
	for c := OK; c <= ErrUnsupported; c++ {
		re := regexp.MustCompile(fmt.Sprintf("(?m)^\\| %d \\| `[A-Z_]+` \\|", c))
		if !re.MatchString(s) {
			t.Errorf("ABI.md's error table lacks code %d (%s)", c, c)
		}
	}
	for k := EventStart; k <= EventUpdate; k++ {
		re := regexp.MustCompile(fmt.Sprintf("(?m)^\\| %d \\| [a-z]+ \\|", k))
		if !re.MatchString(s) {
			t.Errorf("ABI.md's event table lacks kind %d", k)
		}
	}
	if !strings.Contains(s, fmt.Sprintf("# Moss component ABI, version %d", Version)) {
		t.Errorf("ABI.md title does not name version %d", Version)
	}
}

func TestCodecLimits(t *testing.T) {
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	var v any
	deep := append(bytes.Repeat([]byte{0x81}, MaxNesting+2), 0x00)
	if err := c.Unmarshal(deep, &v); err == nil {
		t.Error("nesting past the limit accepted")
	}
	// An array declaring 2^32-1 items with nothing behind it: refused
	// without allocating.
	huge := []byte{0x9a, 0xff, 0xff, 0xff, 0xff}
	allocs := testing.AllocsPerRun(10, func() { _ = c.Unmarshal(huge, &v) })
	if err := c.Unmarshal(huge, &v); err == nil {
		t.Error("huge declared array accepted")
	}
	if allocs > 10 {
		t.Errorf("refusing a huge declared length took %v allocations", allocs)
	}
	big := make([]byte, MaxRequestBytes+1)
	if err := c.Unmarshal(big, &v); err != ErrRequestTooLarge {
		t.Errorf("oversized request: %v", err)
	}
	tagged := []byte{0xc1, 0x00} // tag 1 (epoch time)
	if err := c.Unmarshal(tagged, &v); err == nil {
		t.Error("tag accepted")
	}
}

func TestReaderRefusesHugeLengthsCheaply(t *testing.T) {
	for _, b := range [][]byte{
		{0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // bytes(2^63-1)
		{0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // array(2^63-1)
		{0x1c},       // reserved additional info
		{0x5f, 0xff}, // indefinite bytes
	} {
		r := NewReader(b)
		if err := r.Skip(); err == nil {
			t.Errorf("% x accepted", b)
		}
	}
}

func TestEventRoundTrip(t *testing.T) {
	evs := []Event{
		{Kind: EventStart, Name: "sensor", Version: "1.2.3", ABI: Version},
		{Kind: EventMessage, ID: 1 << 20, Topic: strings.Repeat("t/", 200), Payload: bytes.Repeat([]byte{7}, 70000)},
		{Kind: EventConfig, ID: 9, Path: []string{"a", "b"}},
		{Kind: EventStop, Reason: "host stopping"},
	}
	b := AppendArray(nil, len(evs))
	for i := range evs {
		b = AppendEvent(b, &evs[i])
	}
	r := NewReader(b)
	n, err := r.Array()
	if err != nil || n != len(evs) {
		t.Fatalf("array: %d %v", n, err)
	}
	var ev Event
	for i := range evs {
		if err := r.ReadEvent(&ev); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(ev) != fmt.Sprint(evs[i]) {
			t.Fatalf("event %d: got %+v", i, ev)
		}
	}
	// The codec (fxamacker) reads the same bytes.
	c, _ := NewCodec()
	var viaCodec []Event
	if err := c.Unmarshal(b, &viaCodec); err != nil || len(viaCodec) != len(evs) {
		t.Fatalf("codec: %v", err)
	}
}

func FuzzReader(f *testing.F) {
	for _, fx := range fixtures {
		f.Add(fx.bytes)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(b)
		var ev Event
		_ = r.ReadEvent(&ev)
		r = NewReader(b)
		_ = r.Skip()
		if r.Len() < 0 || r.Len() > len(b) {
			t.Fatalf("reader overran: %d", r.Len())
		}
	})
}

func BenchmarkAppendEvent(b *testing.B) {
	ev := Event{Kind: EventMessage, ID: 1, Topic: "sensors/s1/temperature", Payload: make([]byte, 256)}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEvent(buf[:0], &ev)
	}
}

func BenchmarkReadEvent(b *testing.B) {
	ev := Event{Kind: EventMessage, ID: 1, Topic: "sensors/s1/temperature", Payload: make([]byte, 256)}
	buf := AppendEvent(nil, &ev)
	var out Event
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(buf)
		if err := r.ReadEvent(&out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCodecUnmarshalPublish(b *testing.B) {
	c, _ := NewCodec()
	buf := AppendPublish(nil, "sensors/s1/temperature", make([]byte, 256))
	var p PublishRequest
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Unmarshal(buf, &p); err != nil {
			b.Fatal(err)
		}
	}
}
