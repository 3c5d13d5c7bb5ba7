//go:build !wasip1

package assdk_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moss-edge/moss/internal/conformance"
	"github.com/moss-edge/moss/internal/testwasm"
)

const cborManifest = `name = "cbor"
version = "1.0.0"

[wasm]
path = "cbor.wasm"

[[access]]
operations = ["pubsub.subscribe"]
resources = ["cbor/in/+/+"]

[[access]]
operations = ["pubsub.publish"]
resources = ["cbor/out/+"]
`

// TestFixtures runs testdata/cbor in a real host over the events and the id
// and error responses of the ABI's shared fixtures
// (abi/testdata/fixtures.json): the SDK's decoders must read what the
// fixture says and refuse what the ABI refuses, a key twice included.
func TestFixtures(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testwasm.Root(t), "abi/testdata/fixtures.json"))
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
	wasm := buildAS(t, "sdk/assemblyscript/testdata/cbor/cbor.ts")
	h := conformance.StartHost(t, conformance.Install(t, []byte(cborManifest), wasm), "", "cbor/#")

	type sent struct{ name, want string }
	cases := map[string]sent{}
	for i, f := range file.Fixtures {
		if f.Kind != "event" && f.Kind != "id" && f.Kind != "error" {
			continue
		}
		in, err := hex.DecodeString(f.Hex)
		if err != nil {
			t.Fatal(err)
		}
		want := "refused"
		if f.Error == "" {
			num := func(k string) string { v, _ := f.Want[k].(float64); return fmt.Sprint(uint64(v)) }
			str := func(k string) string { v, _ := f.Want[k].(string); return v }
			switch f.Kind {
			case "event":
				want = "ok kind=" + num("kind") + " id=" + num("id") + " topic=" + str("topic") +
					" payload=" + strings.TrimSuffix(strings.TrimPrefix(str("payload"), "h'"), "'")
			case "id":
				want = "ok " + num("id")
			case "error":
				want = "ok " + str("message")
			}
		}
		cases[fmt.Sprint(i)] = sent{f.Name, want}
		h.Publish(fmt.Sprintf("cbor/in/%d/%s", i, f.Kind), string(in))
	}
	outs := map[string]string{}
	conformance.CheckFor(t, fmt.Sprintf("%d answers on cbor/out/+", len(cases)), func() bool {
		for _, m := range h.Published(0) {
			if n, ok := strings.CutPrefix(m.Topic, "cbor/out/"); ok {
				outs[n] = string(m.Payload)
			}
		}
		return len(outs) >= len(cases)
	})
	for n, c := range cases {
		if outs[n] != c.want {
			t.Errorf("%s: the SDK answered %q, want %q", c.name, outs[n], c.want)
		}
	}
}

// TestHandover runs testdata/counter, the AssemblyScript port of the Go
// counter, through an update event it defers and a hot swap that hands its
// count over (onUpdate, onUpgrade, handover) in a real host.
func TestHandover(t *testing.T) {
	conformance.RunHandover(t, buildAS(t, "sdk/assemblyscript/testdata/counter/counter.ts"))
}
