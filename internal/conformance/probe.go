package conformance

import (
	"fmt"
	"strings"
	"testing"
)

// ProbeManifest is the manifest of the SDK probes (sdk/*/testdata/probe):
// configuration of every type, and the grants the probes use. %s is a
// 5000-byte value, to exercise responses larger than an SDK's first buffer.
const ProbeManifest = `name = "probe"
version = "1.2.3"

[wasm]
path = "probe.wasm"

[config]
greeting = "hello"
ratio = 0.25
count = 42
flag = true
big = "%s"
nested = { inner = "deep", n = 1 }
"dotted.key" = "dk"
watched = { x = 0 }

[[access]]
operations = ["pubsub.subscribe", "pubsub.publish"]
resources = ["probe/#"]

[[access]]
operations = ["secret.get"]
resources = ["token"]
`

// Probe collects what an SDK probe publishes on probe/#.
type Probe struct {
	T *testing.T
	H *Host
}

// Wait returns the payloads published on probe/<what>, waiting for n.
func (p Probe) Wait(what string, n int) []string {
	p.T.Helper()
	var got []string
	CheckFor(p.T, fmt.Sprintf("%d messages on probe/%s", n, what), func() bool {
		got = p.Get(what)
		return len(got) >= n
	})
	return got
}

// Get returns the payloads published on probe/<what> so far.
func (p Probe) Get(what string) []string {
	var got []string
	for _, m := range p.H.Published(0) {
		if m.Topic == "probe/"+what {
			got = append(got, string(m.Payload))
		}
	}
	return got
}

// Expect waits for probe/<what> and checks its first payload.
func (p Probe) Expect(what, want string) {
	p.T.Helper()
	if got := p.Wait(what, 1); got[0] != want {
		p.T.Errorf("probe/%s = %q, want %q", what, got[0], want)
	}
}

// ExpectPrefix waits for probe/<what>, checks that its first payload
// begins with want, and returns the rest.
func (p Probe) ExpectPrefix(what, want string) string {
	p.T.Helper()
	got := p.Wait(what, 1)[0]
	if !strings.HasPrefix(got, want) {
		p.T.Errorf("probe/%s = %q, want it to begin %q", what, got, want)
	}
	return strings.TrimPrefix(got, want)
}
