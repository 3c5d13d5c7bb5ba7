package component

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/moss-edge/moss/abi"
)

// TestDecodePublishFixtures runs the publish hot path's hand-written decoder
// over the publish requests of the ABI's shared fixtures
// (abi/testdata/fixtures.json): it must take what the reflective codec takes
// and refuse with E_DECODE what the ABI refuses, a key given twice included.
func TestDecodePublishFixtures(t *testing.T) {
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
	n := 0
	for _, f := range file.Fixtures {
		if f.Kind != "publish" {
			continue
		}
		n++
		t.Run(f.Name, func(t *testing.T) {
			req, err := hex.DecodeString(f.Hex)
			if err != nil {
				t.Fatal(err)
			}
			topic, payload, err := decodePublish(req)
			if f.Error != "" {
				var e *abi.Error
				if !errors.As(err, &e) || e.Code != abi.ErrDecode {
					t.Fatalf("decodePublish(%s) = %q, %x, %v; want %s", f.Hex, topic, payload, err, f.Error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if topic != f.Want["topic"] || "h'"+hex.EncodeToString(payload)+"'" != f.Want["payload"] {
				t.Fatalf("decodePublish(%s) = %q, %x; want %v", f.Hex, topic, payload, f.Want)
			}
		})
	}
	if n == 0 {
		t.Fatal("no publish fixtures")
	}
}
