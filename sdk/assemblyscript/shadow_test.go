//go:build !wasip1

package assdk_test

import (
	"strings"
	"testing"

	"github.com/moss-edge/moss/internal/conformance"
)

// shadowProbeManifest grants testdata/shadowprobe its shadows of the
// device's thing ("moss": the test host has no [cloud] section), the list
// of that thing's shadows, and a plain subscription to one delta topic.
const shadowProbeManifest = `name = "shadowprobe"
version = "1.0.0"

[wasm]
path = "probe.wasm"

[[access]]
operations = ["shadow.get", "shadow.update", "shadow.delete"]
resources = ["$aws/things/moss/shadow/name/probe", "$aws/things/moss/shadow/name/gone"]

[[access]]
operations = ["shadow.list"]
resources = ["$aws/things/moss"]

[[access]]
operations = ["pubsub.subscribe"]
resources = ["$aws/things/moss/shadow/name/probe/update/delta", "probe/cmd"]

[[access]]
operations = ["pubsub.publish"]
resources = ["probe/#"]

[[access]]
operations = ["cloud.publish"]
resources = ["up/#"]

[[access]]
operations = ["cloud.subscribe"]
resources = ["down/#"]
`

// TestShadowProbe runs testdata/shadowprobe, which calls every shadow and
// cloud function of the SDK, in a real host with its shadow service (and
// no cloud link), and checks the statuses, documents, codes and messages it
// reports, and the delta and documents messages its watches receive.
func TestShadowProbe(t *testing.T) {
	wasm := buildAS(t, "sdk/assemblyscript/testdata/shadowprobe/probe.ts")
	h := conformance.StartHost(t, conformance.Install(t, []byte(shadowProbeManifest), wasm), "", "probe/#")
	p := conformance.Probe{T: t, H: h}

	// The watches and the plain subscription to the delta topic share one
	// id; onShadowDocuments has its own.
	if ids := strings.Fields(p.Wait("watch", 1)[0]); len(ids) != 3 || ids[0] != ids[1] || ids[0] == ids[2] || ids[0] == "0" || strings.HasPrefix(ids[0], "-") {
		t.Errorf("watch ids %q: want the delta watch's id for the delta topic's subscription, another for documents", ids)
	}

	p.Expect("get-missing", `-103|404|E_REJECTED|moss: shadow_get: rejected: 404 No shadow exists with name: 'probe'`)
	update := p.ExpectPrefix("update", "0|200|OK|")
	for _, want := range []string{`"state":{"desired":{"x":1,"y":"two"},"reported":{"x":0}}`, `"clientToken":"t1"`, `"version":1`} {
		if !strings.Contains(update, want) {
			t.Errorf("update/accepted %s: no %s", update, want)
		}
	}
	p.ExpectPrefix("update-bad", "-103|400|E_REJECTED|moss: shadow_update: rejected: 400 ")
	p.Expect("update-conflict", "-103|409|E_REJECTED|moss: shadow_update: rejected: 409 Version conflict")
	p.Expect("get", `0|200|{"x":1,"y":"two"}`)
	p.Expect("get-denied", `-4|0|E_DENIED|moss: shadow_get: shadow_get: no shadow.get grant for "$aws/things/moss/shadow/name/other"`)
	p.Expect("get-classic-denied", `-4|0|E_DENIED|moss: shadow_get: shadow_get: no shadow.get grant for "$aws/things/moss/shadow"`)
	p.ExpectPrefix("get-bad-name", `-3|0|E_INVALID|moss: shadow_get: shadow_get: shadow name "bad name"`)
	p.Expect("get-thing", `-4|0|E_DENIED|moss: shadow_get: shadow_get: no shadow.get grant for "$aws/things/other-thing/shadow/name/probe"`)
	p.ExpectPrefix("update-large", "-6|0|E_TOO_LARGE|moss: shadow_update: ")
	list := p.ExpectPrefix("list", "0|200|OK|")
	if !strings.HasPrefix(list, `{"results":["probe"],"timestamp":`) {
		t.Errorf("list: %s", list)
	}
	p.Expect("names", "0|probe")
	p.ExpectPrefix("list-denied", `-4|0|E_DENIED|moss: shadow_list: shadow_list: no shadow.list grant for "$aws/things/other-thing"`)
	p.ExpectPrefix("delete", `-103|404|E_REJECTED|moss: shadow_delete: rejected: 404 No shadow exists with name: 'gone'`)

	// Without a [cloud] section the host's link is offline: a QoS 1
	// message waits in its spool and a cloud subscription is accepted.
	p.Expect("cloud-publish", "0|")
	p.Expect("cloud-publish-qos", "-3|E_INVALID|moss: cloud_publish: QoS 300")
	p.Expect("cloud-publish-denied", `-4|E_DENIED|moss: cloud_publish: cloud_publish: no cloud.publish grant for topic "elsewhere/x"`)
	p.ExpectPrefix("cloud-publish-big", "-6|E_TOO_LARGE|moss: cloud_publish: cloud_publish: ")
	sub := p.Wait("cloud-subscribe", 1)[0]
	if strings.HasPrefix(sub, "-") || sub == "0|" {
		t.Errorf("cloud-subscribe: %s", sub)
	}
	p.ExpectPrefix("cloud-subscribe-denied", `-4|E_DENIED|moss: cloud_subscribe: cloud_subscribe: no cloud.subscribe grant covering "elsewhere/#"`)
	p.Expect("cloud-unsubscribe", "0|")
	p.Expect("cloud-unsubscribe-again", "-5|E_NOT_FOUND|moss: cloud_unsubscribe: cloud_unsubscribe: no cloud subscription "+strings.TrimSuffix(sub, "|"))
	if st := h.Daemon().Status().Cloud; st.Spooled != 1 || st.Subscriptions != 0 {
		t.Errorf("cloud status %+v: want the QoS 1 message spooled, no subscription left", st)
	}

	// The update's delta reached both handlers of the watch's id (start's
	// and start2's) and the plain subscription's; its documents the
	// documents watch.
	const deltaTopic = "$aws/things/moss/shadow/name/probe/update/delta"
	want := deltaTopic + ` {"x":1,"y":"two"}`
	if got := p.Wait("delta", 2); got[0] != want || got[1] != want {
		t.Errorf("probe/delta %q, want twice %q", got, want)
	}
	p.Expect("delta-again", deltaTopic)
	p.Expect("documents", `$aws/things/moss/shadow/name/probe/update/documents {"desired":{"x":1,"y":"two"},"reported":{"x":0}}`)

	// After unsubscribe no handler of the id runs.
	h.Publish("probe/cmd", "unwatch")
	p.Expect("unwatch", "0|")
	h.Publish("probe/cmd", "update")
	p.ExpectPrefix("update-again", "0|200|OK|")
	h.Publish("probe/cmd", "delete")
	p.ExpectPrefix("delete-probe", "0|200|OK|")
	if n := len(p.Get("delta")); n != 2 {
		t.Errorf("%d deltas after unsubscribe: want the first 2 only", n)
	}
	if n := len(p.Get("delta-again")); n != 1 {
		t.Errorf("%d deltas on the plain subscription after unsubscribe: want 1", n)
	}
	if n := len(p.Get("documents")); n != 2 {
		t.Errorf("%d documents messages: want 2 (the documents watch is another id)", n)
	}
}
