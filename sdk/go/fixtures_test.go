//go:build !wasip1

package moss

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/moss-edge/moss/abi"
)

// TestFixtures runs the SDK's own decoders over the ABI's shared fixtures
// (abi/testdata/fixtures.json): events through the batch path the host
// calls (on_events), and the id and error responses through the decoders a
// host call uses. What the ABI refuses (a key twice among it) the SDK
// refuses too, rather than pick one of the values.
func TestFixtures(t *testing.T) {
	b, err := os.ReadFile("../../abi/testdata/fixtures.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Fixtures []struct {
			Name, Kind, Hex, Error string
			Want                   map[string]any
		}
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	newFakeHost(t, nil) // on_events logs what it refuses
	for _, fx := range file.Fixtures {
		in, err := hex.DecodeString(fx.Hex)
		if err != nil {
			t.Fatal(err)
		}
		switch fx.Kind {
		case "event":
			batch := append(abi.AppendArray(nil, 1), in...)
			buf := eventBuffer(len(batch))
			copy(buf, batch)
			rc := onEvents(addressOf(buf), len(batch))
			if want := map[bool]int32{true: rcBadBatch, false: rcOK}[fx.Error != ""]; rc != want {
				t.Errorf("%s: on_events(%x) = %d, want %d", fx.Name, batch, rc, want)
			}
		case "id":
			id, err := decodeID(fnSubscribe, in)
			if fx.Error != "" {
				if err == nil {
					t.Errorf("%s: decodeID(%s) = %d, want an error", fx.Name, fx.Hex, id)
				}
			} else if err != nil || float64(id) != fx.Want["id"] {
				t.Errorf("%s: decodeID(%s) = %d, %v; want %v", fx.Name, fx.Hex, id, err, fx.Want["id"])
			}
		case "error":
			msg := decodeErrorMessage(in)
			want, _ := fx.Want["message"].(string) // "" for a refused map
			if msg != want {
				t.Errorf("%s: decodeErrorMessage(%s) = %q, want %q", fx.Name, fx.Hex, msg, want)
			}
		}
	}
}

// TestDuplicateKeysRefused covers the SDK's decoders that the shared
// fixtures do not reach: shadow and config_get responses with a key twice.
func TestDuplicateKeysRefused(t *testing.T) {
	// {"status": 200, "payload": h'7b7d', "status": 404}
	shadow := []byte{0xa3, 0x66, 's', 't', 'a', 't', 'u', 's', 0x18, 200, 0x67, 'p', 'a', 'y', 'l', 'o', 'a', 'd', 0x42, '{', '}',
		0x66, 's', 't', 'a', 't', 'u', 's', 0x19, 0x01, 0x94}
	if status, payload, err := decodeShadowResponse(shadow); err == nil {
		t.Errorf("decodeShadowResponse(%x) = %d, %q; want an error", shadow, status, payload)
	}
	if _, _, err := decodeShadowResponse(append([]byte{0xa2}, shadow[1:1+7+2+8+3]...)); err != nil {
		t.Errorf("the same response without the second status: %v", err)
	}
	// {"value": 1, "value": 2}
	cfg := []byte{0xa2, 0x65, 'v', 'a', 'l', 'u', 'e', 0x01, 0x65, 'v', 'a', 'l', 'u', 'e', 0x02}
	newFakeHost(t, func(fn hostFunc, req []byte) ([]byte, error) { return cfg, nil })
	if v, err := configGet(nil); err == nil {
		t.Errorf("config_get answered %x: got %x, want an error", cfg, v)
	}
}
