package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moss-edge/moss/internal/mqtttest"
	"github.com/moss-edge/moss/internal/poll"
	"github.com/moss-edge/moss/internal/testwasm"
)

// TestRemoteDeployment: a deployment arrives as an AWS IoT Jobs
// notification on a real Mosquitto (mutual TLS), its artifacts come from
// an HTTP server on loopback and are checked against their digests, the
// component moves to the new version, and the job's status is reported on
// IoT Jobs' update topic: IN_PROGRESS, then SUCCEEDED. A job whose artifact
// does not match its digest is REJECTED and changes nothing.
func TestRemoteDeployment(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	dir := t.TempDir()
	v1, version := counterManifests(t, dir)
	v2 := version("2.0.0")
	files := map[string][]byte{}
	for name, path := range map[string]string{"component.toml": v2, "counter.wasm": filepath.Join(filepath.Dir(v1), "counter.wasm")} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = data
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := files[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	digest := func(name string) string { s := sha256.Sum256(files[name]); return hex.EncodeToString(s[:]) }

	h := startHost(t, fmt.Sprintf("data_dir = %q\ncache_dir = %q\n%s[[components]]\nmanifest = %q\n",
		filepath.Join(dir, "data"), testwasm.CompileCacheDir(t), b.CloudConfig(), v1))
	thing := b.Certs().ThingName
	b.WaitLog(t, "\t$aws/things/"+thing+"/jobs/notify-next (QoS 1)")
	updates := b.Sub(t, "$aws/things/"+thing+"/jobs/+/update")

	job := func(id, wasmSum string) []byte {
		doc := fmt.Sprintf("id = %q\n[timeouts]\nprobation = \"200ms\"\n[[components]]\nname = \"counter\"\nversion = \"2.0.0\"\nmanifest = \"counter/component.toml\"\n", id)
		b, _ := json.Marshal(map[string]any{"execution": map[string]any{"jobId": id, "status": "QUEUED", "jobDocument": map[string]any{"moss": map[string]any{
			"deployment": doc,
			"artifacts": []map[string]string{
				{"path": "counter/component.toml", "url": srv.URL + "/component.toml", "sha256": digest("component.toml")},
				{"path": "counter/counter.wasm", "url": srv.URL + "/counter.wasm", "sha256": wasmSum},
			},
		}}}})
		return b
	}
	status := func(id string) string {
		t.Helper()
		m, ok := updates.Next(poll.Deadline)
		if !ok || m.Topic != "$aws/things/"+thing+"/jobs/"+id+"/update" {
			t.Fatalf("job update: %v %v", m, ok)
		}
		var u struct {
			Status  string            `json:"status"`
			Details map[string]string `json:"statusDetails"`
		}
		json.Unmarshal(m.Payload, &u)
		return u.Status + " " + u.Details["deployment"] + " " + u.Details["reason"]
	}

	b.Pub(t, "$aws/things/"+thing+"/jobs/notify-next", job("bad-digest", strings.Repeat("0", 64)), 1)
	if s := status("bad-digest"); !strings.HasPrefix(s, "IN_PROGRESS") {
		t.Fatalf("first update: %s", s)
	}
	if s := status("bad-digest"); !strings.HasPrefix(s, "REJECTED") || !strings.Contains(s, "sha256") {
		t.Fatalf("a wasm that does not match its digest: %s", s)
	}
	if v := h.d.Component("counter").Info().Version; v != "1.0.0" {
		t.Fatalf("after a rejected job: %s", v)
	}

	b.Pub(t, "$aws/things/"+thing+"/jobs/notify-next", job("to-v2", digest("counter.wasm")), 1)
	if s := status("to-v2"); !strings.HasPrefix(s, "IN_PROGRESS") {
		t.Fatalf("first update: %s", s)
	}
	if s := status("to-v2"); !strings.HasPrefix(s, "SUCCEEDED SUCCEEDED") {
		t.Fatalf("remote deployment: %s", s)
	}
	if info := h.d.Component("counter").Info(); info.Version != "2.0.0" || info.State != "RUNNING" {
		t.Fatalf("after the job: %+v", info)
	}
}
