package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/cloud"
	"github.com/moss-edge/moss/host/deploy"
)

// Remote deployments arrive as AWS IoT Jobs, the way IoT Core tells a
// device about work (Greengrass's deployments are jobs too): the host
// subscribes to $aws/things/THING/jobs/notify-next, takes the job document
// below, fetches the artifacts it lists (HTTP(S) or file URLs, each checked
// against its SHA-256), runs the deployment, and reports on
// $aws/things/THING/jobs/JOBID/update: IN_PROGRESS when it starts, then
// SUCCEEDED, FAILED or REJECTED with the deployment's status and reason in
// statusDetails.
//
//	{"moss": {
//	  "deployment": "id = \"alerts-2.0.0\"\n[[components]]\nname = \"alerts\"\n...",
//	  "artifacts": [
//	    {"path": "alerts-2.0.0/component.toml", "url": "https://…", "sha256": "…"},
//	    {"path": "alerts-2.0.0/alerts.wasm", "url": "https://…", "sha256": "…"}]}}
//
// Artifact paths are where the deployment document's manifest paths find
// them; the manifest's own sha256 of its module is checked again by the
// component store.
const maxArtifact = 64 << 20

type jobDocument struct {
	Moss *struct {
		Deployment string `json:"deployment"`
		Artifacts  []struct {
			Path   string `json:"path"`
			URL    string `json:"url"`
			SHA256 string `json:"sha256"`
		} `json:"artifacts"`
	} `json:"moss"`
}

type jobNotify struct {
	Execution *struct {
		JobID       string          `json:"jobId"`
		JobDocument json.RawMessage `json:"jobDocument"`
	} `json:"execution"`
}

// remote runs deployments that arrive as jobs. Deliver queues; one
// goroutine, stopped by close, does the work.
type remote struct {
	d      *Daemon
	thing  string
	jobs   chan []byte
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	http   *http.Client
}

func (d *Daemon) startRemote(link *cloud.Link) (*remote, error) {
	r := &remote{d: d, thing: d.cfg.Thing(), jobs: make(chan []byte, 16), http: &http.Client{Timeout: 5 * time.Minute}}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	if err := link.Subscribe("$aws/things/"+r.thing+"/jobs/notify-next", r, 1); err != nil {
		return nil, fmt.Errorf("remote deployments: %w", err)
	}
	r.wg.Add(1)
	go r.run()
	return r, nil
}

func (r *remote) close(link *cloud.Link) {
	link.Unsubscribe("$aws/things/"+r.thing+"/jobs/notify-next", r, 1)
	r.cancel()
	r.wg.Wait()
}

// Deliver implements bus.Subscriber.
func (r *remote) Deliver(_ uint32, m *bus.Message) {
	select {
	case r.jobs <- m.Payload:
	default:
		r.d.log.Warn("remote deployments: too many job notifications waiting; dropped one (IoT Jobs notifies again)")
	}
}

func (r *remote) run() {
	defer r.wg.Done()
	for {
		select {
		case p := <-r.jobs:
			r.handle(p)
		case <-r.ctx.Done():
			return
		}
	}
}

func (r *remote) handle(payload []byte) {
	var n jobNotify
	if err := json.Unmarshal(payload, &n); err != nil || n.Execution == nil || n.Execution.JobID == "" {
		return // {} means no job is pending; anything else is not ours
	}
	id := n.Execution.JobID
	log := r.d.log.With("service", "deploy", "job", id)
	var doc jobDocument
	if err := json.Unmarshal(n.Execution.JobDocument, &doc); err != nil || doc.Moss == nil {
		log.Warn("remote deployments: the job is not a Moss deployment; rejecting it")
		r.report(id, "REJECTED", "", "not a Moss deployment: the job document has no \"moss\" object")
		return
	}
	dir, err := os.MkdirTemp("", "moss-job-")
	if err != nil {
		r.report(id, "FAILED", "", err.Error())
		return
	}
	defer os.RemoveAll(dir)
	r.report(id, "IN_PROGRESS", "", "fetching artifacts")
	for _, a := range doc.Moss.Artifacts {
		if err := r.fetch(dir, a.Path, a.URL, a.SHA256); err != nil {
			log.Error("remote deployment rejected", "err", err)
			r.report(id, "REJECTED", "", err.Error())
			return
		}
	}
	rec, err := r.d.deployer.Submit([]byte(doc.Moss.Deployment), filepath.Join(dir, "job-"+id+".toml"), dir)
	if err != nil {
		r.report(id, "REJECTED", "", err.Error())
		return
	}
	log.Info("remote deployment submitted", "deployment", rec.ID)
	rec, err = r.d.deployer.Follow(r.ctx, rec.ID, func(deploy.Progress) {})
	if r.ctx.Err() != nil {
		return // the host is stopping: the deployment is recovered at the next start
	}
	if err != nil {
		r.report(id, "FAILED", string(rec.Status), err.Error())
		return
	}
	status := "FAILED"
	switch rec.Status {
	case deploy.Succeeded:
		status = "SUCCEEDED"
	case deploy.Rejected:
		status = "REJECTED"
	}
	r.report(id, status, string(rec.Status), rec.Reason)
}

// fetch downloads one artifact to dir/path and checks its digest.
func (r *remote) fetch(dir, path, rawURL, want string) error {
	clean := filepath.Clean(filepath.FromSlash(path))
	if path == "" || filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return fmt.Errorf("artifact path %q: want a relative path inside the deployment", path)
	}
	if len(want) != 64 {
		return fmt.Errorf("artifact %s: sha256 %q: want 64 hex digits (every remote artifact must name its digest)", path, want)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("artifact %s: url: %w", path, err)
	}
	var body io.ReadCloser
	switch u.Scheme {
	case "https", "http":
		req, err := http.NewRequestWithContext(r.ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return err
		}
		resp, err := r.http.Do(req)
		if err != nil {
			return fmt.Errorf("artifact %s: %w", path, err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return fmt.Errorf("artifact %s: GET %s: %s", path, rawURL, resp.Status)
		}
		body = resp.Body
	case "file":
		f, err := os.Open(u.Path)
		if err != nil {
			return fmt.Errorf("artifact %s: %w", path, err)
		}
		body = f
	default:
		return fmt.Errorf("artifact %s: url scheme %q: want https, http or file", path, u.Scheme)
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, maxArtifact+1))
	if err != nil {
		return fmt.Errorf("artifact %s: %w", path, err)
	}
	if len(data) > maxArtifact {
		return fmt.Errorf("artifact %s: larger than %d MiB", path, maxArtifact>>20)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, want) {
		return fmt.Errorf("artifact %s: sha256 %s, the job says %s: refused", path, got, want)
	}
	dst := filepath.Join(dir, clean)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// report updates the job execution, as IoT Jobs' UpdateJobExecution does
// over MQTT. QoS 1: spooled while offline.
func (r *remote) report(jobID, status, deployment, reason string) {
	details := map[string]string{}
	if deployment != "" {
		details["deployment"] = deployment
	}
	if reason != "" {
		if len(reason) > 1000 {
			reason = reason[:1000]
		}
		details["reason"] = reason
	}
	b, _ := json.Marshal(map[string]any{"status": status, "statusDetails": details})
	topic := "$aws/things/" + r.thing + "/jobs/" + jobID + "/update"
	if err := r.d.cloud.Publish(r.ctx, topic, b, 1); err != nil && !errors.Is(err, context.Canceled) {
		r.d.log.Error("remote deployments: reporting the job's status", "job", jobID, "status", status, "err", err)
	}
}
