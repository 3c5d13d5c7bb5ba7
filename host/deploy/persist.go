package deploy

import (
	"bytes"
	"reflect"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// Records and the current set are stored as CBOR rather than JSON because
// they hold component configurations, which must come back with the types
// they had: an integer stays an integer (JSON would make it a float, and a
// guest would see 30.0 where its manifest says 30), a datetime stays a
// datetime, bytes stay bytes. Keys are sorted, so equal values encode to
// equal bytes, which is also how two configurations are compared.
var codec = sync.OnceValue(func() struct {
	enc cbor.EncMode
	dec cbor.DecMode
} {
	enc, err := cbor.EncOptions{
		Sort:    cbor.SortCoreDeterministic,
		Time:    cbor.TimeRFC3339Nano,
		TimeTag: cbor.EncTagRequired,
	}.EncMode()
	if err != nil {
		panic(err)
	}
	dec, err := cbor.DecOptions{
		DefaultMapType: reflect.TypeOf(map[string]any(nil)),
		// TOML and the ABI give int64; uint64 beyond int64 (a guest may
		// store one) comes back as a big.Int that encodes to the same CBOR.
		IntDec:          cbor.IntDecConvertSignedOrBigInt,
		MaxNestedLevels: 64,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return struct {
		enc cbor.EncMode
		dec cbor.DecMode
	}{enc, dec}
})

func marshal(v any) ([]byte, error) { return codec().enc.Marshal(v) }

func unmarshal(data []byte, v any) error { return codec().dec.Unmarshal(data, v) }

// sameConfig reports whether two configurations hold the same values (an
// int64 and a uint64 of the same value are the same to a guest, which sees
// CBOR).
func sameConfig(a, b map[string]any) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	ea, err1 := marshal(a)
	eb, err2 := marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ea, eb)
}
