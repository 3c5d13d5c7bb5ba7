package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/moss-edge/moss/host/deploy"
)

// Deployments of the fake backend: none, as for a host still starting.
func (b *fakeBackend) Deployments() Deployments { return nil }

// deployBackend is a fakeBackend with a deployer.
type deployBackend struct {
	*fakeBackend
	d *fakeDeployments
}

func (b deployBackend) Deployments() Deployments { return b.d }

// fakeDeployments knows one deployment, "d1", which reports three events
// and succeeds; "slow" follows until the client leaves.
type fakeDeployments struct {
	mu       sync.Mutex
	got      []string // what it was asked
	followed chan struct{}
	left     chan struct{} // closed when a Follow of "slow" saw its context end
}

func (f *fakeDeployments) ask(format string, args ...any) {
	f.mu.Lock()
	f.got = append(f.got, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

func (f *fakeDeployments) Submit(doc []byte, file, artifacts string) (deploy.Record, error) {
	f.ask("submit %s %s %s", doc, file, artifacts)
	switch string(doc) {
	case "dup":
		return deploy.Record{}, fmt.Errorf("deployment \"d1\": %w", deploy.ErrDuplicateID)
	case "bad":
		return deploy.Record{ID: "b1", Status: deploy.Rejected, Reason: "d.toml:2: failure_policy \"x\": want \"rollback\" or \"none\""}, nil
	case "slow":
		return deploy.Record{ID: "slow", Status: deploy.Queued}, nil
	}
	return deploy.Record{ID: "d1", Status: deploy.Queued, WaitingFor: []string{"d0"}}, nil
}

func (f *fakeDeployments) Follow(ctx context.Context, id string, fn func(deploy.Progress)) (deploy.Record, error) {
	if id == "slow" {
		fn(deploy.Progress{Deployment: id, Step: deploy.StepQueued})
		close(f.followed)
		<-ctx.Done()
		close(f.left)
		return deploy.Record{ID: id, Status: deploy.InProgress}, ctx.Err()
	}
	for _, p := range []deploy.Progress{
		{Deployment: id, Step: deploy.StepQueued, Detail: "waiting for d0", Status: deploy.Queued},
		{Deployment: id, Component: "a", From: "1.0.0", To: "2.0.0", Step: deploy.StepStarted, Status: deploy.InProgress},
		{Deployment: id, Step: deploy.StepEnded, Status: deploy.Succeeded},
	} {
		fn(p)
	}
	return deploy.Record{ID: id, Status: deploy.Succeeded, Events: make([]deploy.Progress, 3)}, nil
}

func (f *fakeDeployments) Get(id string) (deploy.Record, error) {
	if id != "d1" {
		return deploy.Record{}, fmt.Errorf("deployment %q: %w", id, deploy.ErrNotFound)
	}
	return deploy.Record{ID: "d1", Status: deploy.Succeeded, Document: "id = \"d1\"", Events: make([]deploy.Progress, 3)}, nil
}

func (f *fakeDeployments) List() ([]deploy.Record, error) {
	rec, _ := f.Get("d1")
	return []deploy.Record{rec}, nil
}

func (f *fakeDeployments) Cancel(_ context.Context, id string) (deploy.Record, error) {
	f.ask("cancel %s", id)
	if id == "d1" {
		return deploy.Record{ID: id, Status: deploy.Succeeded}, fmt.Errorf("deployment %q: %w: SUCCEEDED", id, deploy.ErrEnded)
	}
	return deploy.Record{ID: id, Status: deploy.Canceled, Reason: "canceled before it started"}, nil
}

func startDeployServer(t *testing.T) (testServer, *fakeDeployments) {
	t.Helper()
	f := &fakeDeployments{followed: make(chan struct{}), left: make(chan struct{})}
	return startServer(t, deployBackend{newFakeBackend(), f}, nil), f
}

func TestDeploy(t *testing.T) {
	c, f := startDeployServer(t)
	ctx := ctxT(t)

	var events []string
	rec, err := c.Deploy(ctx, []byte("id = \"d1\""), "/srv/d.toml", "/srv/art", true, func(p deploy.Progress) {
		events = append(events, p.String())
	})
	if err != nil || rec.ID != "d1" || rec.Status != deploy.Succeeded || len(rec.Events) != 3 {
		t.Fatalf("Deploy with follow = %+v, %v", rec, err)
	}
	want := []string{"deployment d1: queued: waiting for d0", "a 1.0.0 -> 2.0.0: started", "deployment d1: SUCCEEDED"}
	if strings.Join(events, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant\n%s", strings.Join(events, "\n"), strings.Join(want, "\n"))
	}
	if f.got[0] != `submit id = "d1" /srv/d.toml /srv/art` {
		t.Errorf("the deployer got %q", f.got)
	}

	// Without follow: the record as submitted.
	rec, err = c.Deploy(ctx, []byte("x"), "", "", false, func(deploy.Progress) { t.Error("progress without follow") })
	if err != nil || rec.Status != deploy.Queued || rec.WaitingFor[0] != "d0" {
		t.Errorf("Deploy without follow = %+v, %v", rec, err)
	}
	// Rejected: the first line is the last, even with follow.
	rec, err = c.Deploy(ctx, []byte("bad"), "", "", true, func(deploy.Progress) { t.Error("progress for a rejected deployment") })
	if err != nil || rec.Status != deploy.Rejected || !strings.Contains(rec.Reason, "failure_policy") {
		t.Errorf("rejected Deploy = %+v, %v", rec, err)
	}
	// Refused: an error.
	_, err = c.Deploy(ctx, []byte("dup"), "", "", true, nil)
	var re *RemoteError
	if !errors.As(err, &re) || err.Error() != `deploy: deployment "d1": deployment id already used` {
		t.Errorf("refused Deploy: %v", err)
	}
}

func TestDeployClientLeaves(t *testing.T) {
	c, f := startDeployServer(t)
	ctx, cancel := context.WithCancel(ctxT(t))
	done := make(chan error, 1)
	go func() {
		_, err := c.Deploy(ctx, []byte("slow"), "", "", true, nil)
		done <- err
	}()
	<-f.followed
	cancel()
	if err := waitErr(t, done); !errors.Is(err, context.Canceled) {
		t.Errorf("Deploy after its context ended: %v", err)
	}
	select { // the server stops following (the deployment itself goes on)
	case <-f.left:
	case <-ctxT(t).Done():
		t.Fatal("the server still follows after the client left")
	}
}

func TestDeploymentsShowCancel(t *testing.T) {
	c, f := startDeployServer(t)
	ctx := ctxT(t)
	list, err := c.Deployments(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "d1" {
		t.Fatalf("Deployments = %+v, %v", list, err)
	}
	if list[0].Events != nil || list[0].Document != "" {
		t.Errorf("the list carries events or documents: %+v", list[0])
	}
	rec, err := c.Deployment(ctx, "d1")
	if err != nil || len(rec.Events) != 3 || rec.Document == "" {
		t.Errorf("Deployment = %+v, %v", rec, err)
	}
	if _, err := c.Deployment(ctx, "nope"); err == nil || err.Error() != `deployment "nope": deployment "nope": no such deployment` {
		t.Errorf("Deployment of an unknown id: %v", err)
	}
	rec, err = c.CancelDeployment(ctx, "d2")
	if err != nil || rec.Status != deploy.Canceled {
		t.Errorf("CancelDeployment = %+v, %v", rec, err)
	}
	if _, err := c.CancelDeployment(ctx, "d1"); err == nil || !strings.Contains(err.Error(), "already ended: SUCCEEDED") {
		t.Errorf("CancelDeployment of an ended deployment: %v", err)
	}
	if !strings.Contains(strings.Join(f.got, ","), "cancel d2") {
		t.Errorf("the deployer got %q", f.got)
	}
}

func TestDeployNotReady(t *testing.T) {
	c := startServer(t, newFakeBackend(), nil)
	ctx := ctxT(t)
	_, err := c.Deploy(ctx, []byte("x"), "", "", false, nil)
	if err == nil || !strings.Contains(err.Error(), "not ready for deployments") {
		t.Errorf("Deploy on a host without a deployer: %v", err)
	}
	if _, err := c.Deployments(ctx); err == nil {
		t.Error("Deployments on a host without a deployer succeeded")
	}
}
