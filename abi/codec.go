package abi

import (
	"errors"
	"reflect"

	"github.com/fxamacker/cbor/v2"
)

// Limits applied when decoding CBOR that came from a guest. Guest bytes are
// untrusted: these bound the work and memory one request can cost the host.
const (
	MaxNesting      = 16
	MaxArrayElems   = 4096
	MaxMapPairs     = 4096
	MaxRequestBytes = 1 << 20 // a request larger than this is refused with ErrTooLarge
)

// Codec holds the CBOR encoding and decoding modes of the ABI. It is safe for
// concurrent use.
type Codec struct {
	dec cbor.DecMode
	enc cbor.EncMode
}

// NewCodec returns a codec with the ABI's decode limits set.
func NewCodec() (*Codec, error) {
	dec, err := cbor.DecOptions{
		MaxNestedLevels:   MaxNesting,
		MaxArrayElements:  MaxArrayElems,
		MaxMapPairs:       MaxMapPairs,
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		DefaultMapType:    reflect.TypeOf(map[string]any(nil)),
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode()
	if err != nil {
		return nil, err
	}
	enc, err := cbor.EncOptions{Sort: cbor.SortCoreDeterministic}.EncMode()
	if err != nil {
		return nil, err
	}
	return &Codec{dec: dec, enc: enc}, nil
}

// Unmarshal decodes one CBOR data item into v, enforcing the decode limits
// and refusing unknown fields and trailing bytes.
func (c *Codec) Unmarshal(data []byte, v any) error {
	if len(data) > MaxRequestBytes {
		return ErrRequestTooLarge
	}
	return c.dec.Unmarshal(data, v)
}

// Marshal encodes v in deterministic (sorted-key) CBOR.
func (c *Codec) Marshal(v any) ([]byte, error) { return c.enc.Marshal(v) }

// ErrRequestTooLarge is returned by Codec.Unmarshal for input over MaxRequestBytes.
var ErrRequestTooLarge = errors.New("request larger than 1 MiB")
