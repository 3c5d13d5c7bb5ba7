package abi

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A hand-written subset of CBOR (RFC 8949) for the per-message hot path:
// encoding and decoding events and publish requests without reflection. In a
// Go guest, reflection-based CBOR costs 6-10 us per message against well under
// 1 us for this (see docs/RATIONALE.md). The bytes are ordinary CBOR, so any
// decoder reads them; the Reader accepts definite lengths only, as the ABI does.

const (
	majUint  = 0 << 5
	majBytes = 2 << 5
	majText  = 3 << 5
	majArray = 4 << 5
	majMap   = 5 << 5
	majOther = 7 << 5
)

func appendHead(dst []byte, major byte, n uint64) []byte {
	switch {
	case n < 24:
		return append(dst, major|byte(n))
	case n <= 0xff:
		return append(dst, major|24, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, major|25), uint16(n))
	case n <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(dst, major|26), uint32(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, major|27), n)
	}
}

// AppendUint appends an unsigned integer.
func AppendUint(dst []byte, v uint64) []byte { return appendHead(dst, majUint, v) }

// AppendText appends a text string.
func AppendText(dst []byte, s string) []byte {
	return append(appendHead(dst, majText, uint64(len(s))), s...)
}

// AppendBytes appends a byte string.
func AppendBytes(dst []byte, b []byte) []byte {
	return append(appendHead(dst, majBytes, uint64(len(b))), b...)
}

// AppendArray appends the head of an array of n items.
func AppendArray(dst []byte, n int) []byte { return appendHead(dst, majArray, uint64(n)) }

// AppendMap appends the head of a map of n pairs.
func AppendMap(dst []byte, n int) []byte { return appendHead(dst, majMap, uint64(n)) }

// AppendBool appends true or false.
func AppendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, majOther|21)
	}
	return append(dst, majOther|20)
}

// AppendEvent appends ev as a CBOR map holding only the fields its kind uses.
func AppendEvent(dst []byte, ev *Event) []byte {
	n := 1
	if ev.ID != 0 {
		n++
	}
	if ev.Topic != "" {
		n++
	}
	if ev.Payload != nil {
		n++
	}
	if ev.Path != nil {
		n++
	}
	if ev.Name != "" {
		n++
	}
	if ev.Version != "" {
		n++
	}
	if ev.ABI != 0 {
		n++
	}
	if ev.Reason != "" {
		n++
	}
	dst = AppendMap(dst, n)
	dst = AppendUint(AppendText(dst, "kind"), uint64(ev.Kind))
	if ev.ID != 0 {
		dst = AppendUint(AppendText(dst, "id"), uint64(ev.ID))
	}
	if ev.Topic != "" {
		dst = AppendText(AppendText(dst, "topic"), ev.Topic)
	}
	if ev.Payload != nil {
		dst = AppendBytes(AppendText(dst, "payload"), ev.Payload)
	}
	if ev.Path != nil {
		dst = AppendArray(AppendText(dst, "path"), len(ev.Path))
		for _, p := range ev.Path {
			dst = AppendText(dst, p)
		}
	}
	if ev.Name != "" {
		dst = AppendText(AppendText(dst, "name"), ev.Name)
	}
	if ev.Version != "" {
		dst = AppendText(AppendText(dst, "version"), ev.Version)
	}
	if ev.ABI != 0 {
		dst = AppendUint(AppendText(dst, "abi"), uint64(ev.ABI))
	}
	if ev.Reason != "" {
		dst = AppendText(AppendText(dst, "reason"), ev.Reason)
	}
	return dst
}

// AppendPublish appends a PublishRequest.
func AppendPublish(dst []byte, topic string, payload []byte) []byte {
	dst = AppendMap(dst, 2)
	dst = AppendText(AppendText(dst, "topic"), topic)
	return AppendBytes(AppendText(dst, "payload"), payload)
}

// ErrMalformed is returned by Reader for input that is not CBOR of the
// expected shape, or that uses what the ABI forbids (indefinite lengths, tags,
// nesting deeper than MaxNesting).
var ErrMalformed = errors.New("malformed CBOR")

// ErrDuplicateKey is returned by Reader.ReadEvent (and the SDK's decoders)
// for a map holding a key twice. It wraps ErrMalformed: the ABI refuses such a map (E_DECODE) rather
// than pick one of the values.
var ErrDuplicateKey = fmt.Errorf("%w: map key given twice", ErrMalformed)

// KeySet records the keys of one map so that a decoder can refuse a key
// given twice, as the ABI requires. Keys alias the input; the first few are held without allocating, and the
// linear search is cheaper than hashing for the handful of keys an ABI map
// has.
type KeySet struct {
	n     int
	small [12][]byte
	more  [][]byte
}

// Add reports whether key is new, and records it. The zero KeySet is empty.
func (s *KeySet) Add(key []byte) bool {
	for i := range min(s.n, len(s.small)) {
		if string(s.small[i]) == string(key) {
			return false
		}
	}
	for _, k := range s.more {
		if string(k) == string(key) {
			return false
		}
	}
	if s.n < len(s.small) {
		s.small[s.n] = key
	} else {
		s.more = append(s.more, key)
	}
	s.n++
	return true
}

// Reader decodes CBOR from a byte slice without allocating. Strings and byte
// strings it returns alias the input.
type Reader struct {
	b   []byte
	off int
}

// NewReader returns a Reader over b.
func NewReader(b []byte) Reader { return Reader{b: b} }

// Len reports how many bytes are left.
func (r *Reader) Len() int { return len(r.b) - r.off }

func (r *Reader) head() (major byte, arg uint64, err error) {
	if r.off >= len(r.b) {
		return 0, 0, ErrMalformed
	}
	ib := r.b[r.off]
	r.off++
	major, ai := ib&0xe0, ib&0x1f
	var need int
	switch {
	case ai < 24:
		return major, uint64(ai), nil
	case ai == 24:
		need = 1
	case ai == 25:
		need = 2
	case ai == 26:
		need = 4
	case ai == 27:
		need = 8
	default:
		return 0, 0, ErrMalformed // reserved or indefinite length
	}
	if len(r.b)-r.off < need {
		return 0, 0, ErrMalformed
	}
	p := r.b[r.off : r.off+need]
	r.off += need
	switch need {
	case 1:
		arg = uint64(p[0])
	case 2:
		arg = uint64(binary.BigEndian.Uint16(p))
	case 4:
		arg = uint64(binary.BigEndian.Uint32(p))
	default:
		arg = binary.BigEndian.Uint64(p)
	}
	return major, arg, nil
}

func (r *Reader) expect(major byte) (uint64, error) {
	m, n, err := r.head()
	if err != nil {
		return 0, err
	}
	if m != major {
		return 0, ErrMalformed
	}
	return n, nil
}

// count reads a container head and refuses counts that cannot fit in the
// remaining input (each item takes at least one byte), so a huge declared
// length costs nothing.
func (r *Reader) count(major byte) (int, error) {
	n, err := r.expect(major)
	if err != nil {
		return 0, err
	}
	if n > uint64(r.Len()) {
		return 0, ErrMalformed
	}
	return int(n), nil
}

// Array reads an array head and returns its item count.
func (r *Reader) Array() (int, error) { return r.count(majArray) }

// Map reads a map head and returns its pair count.
func (r *Reader) Map() (int, error) { return r.count(majMap) }

// Uint reads an unsigned integer.
func (r *Reader) Uint() (uint64, error) { return r.expect(majUint) }

func (r *Reader) str(major byte) ([]byte, error) {
	n, err := r.expect(major)
	if err != nil {
		return nil, err
	}
	if n > uint64(r.Len()) {
		return nil, ErrMalformed
	}
	s := r.b[r.off : r.off+int(n) : r.off+int(n)]
	r.off += int(n)
	return s, nil
}

// Text reads a text string; the result aliases the input.
func (r *Reader) Text() ([]byte, error) { return r.str(majText) }

// Bytes reads a byte string; the result aliases the input.
func (r *Reader) Bytes() ([]byte, error) { return r.str(majBytes) }

// Skip skips one data item of any type.
func (r *Reader) Skip() error { return r.skip(0) }

func (r *Reader) skip(depth int) error {
	if depth > MaxNesting {
		return ErrMalformed
	}
	m, n, err := r.head()
	if err != nil {
		return err
	}
	switch m {
	case majUint, 1 << 5, majOther:
		return nil
	case majBytes, majText:
		if n > uint64(r.Len()) {
			return ErrMalformed
		}
		r.off += int(n)
		return nil
	case majArray, majMap:
		if n > uint64(r.Len()) {
			return ErrMalformed
		}
		items := int(n)
		if m == majMap {
			items *= 2
		}
		for i := 0; i < items; i++ {
			if err := r.skip(depth + 1); err != nil {
				return err
			}
		}
		return nil
	default: // tags
		return ErrMalformed
	}
}

// ReadEvent decodes one event map into ev, reusing ev.Path's storage.
// Payload aliases the input; text fields are copied into new strings.
// Unknown keys are skipped so that a guest built for this version reads
// events that carry fields added later; a key given twice, known or not, is
// refused (ErrDuplicateKey).
func (r *Reader) ReadEvent(ev *Event) error {
	pairs, err := r.Map()
	if err != nil {
		return err
	}
	path := ev.Path[:0]
	*ev = Event{}
	var seen KeySet
	for i := 0; i < pairs; i++ {
		key, err := r.Text()
		if err != nil {
			return err
		}
		if !seen.Add(key) {
			return ErrDuplicateKey
		}
		switch string(key) {
		case "kind":
			v, err := r.Uint()
			if err != nil || v > 255 {
				return ErrMalformed
			}
			ev.Kind = EventKind(v)
		case "id":
			v, err := r.Uint()
			if err != nil || v > 0xffffffff {
				return ErrMalformed
			}
			ev.ID = uint32(v)
		case "abi":
			v, err := r.Uint()
			if err != nil || v > 0xffffffff {
				return ErrMalformed
			}
			ev.ABI = uint32(v)
		case "payload":
			if ev.Payload, err = r.Bytes(); err != nil {
				return err
			}
		case "path":
			n, err := r.Array()
			if err != nil {
				return err
			}
			for j := 0; j < n; j++ {
				s, err := r.Text()
				if err != nil {
					return err
				}
				path = append(path, string(s))
			}
			ev.Path = path
		case "topic", "name", "version", "reason":
			s, err := r.Text()
			if err != nil {
				return err
			}
			switch string(key) {
			case "topic":
				ev.Topic = string(s)
			case "name":
				ev.Name = string(s)
			case "version":
				ev.Version = string(s)
			default:
				ev.Reason = string(s)
			}
		default:
			if err := r.Skip(); err != nil {
				return err
			}
		}
	}
	return nil
}
