package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/moss-edge/moss/host/deploy"
)

// Deployments is the host's deployment service as the admin socket uses
// it; *deploy.Deployer is one.
type Deployments interface {
	Submit(doc []byte, file, artifacts string) (deploy.Record, error)
	Follow(ctx context.Context, id string, fn func(deploy.Progress)) (deploy.Record, error)
	Get(id string) (deploy.Record, error)
	List() ([]deploy.Record, error)
	Cancel(ctx context.Context, id string) (deploy.Record, error)
}

var _ Deployments = (*deploy.Deployer)(nil)

// DeployRequest is the "deploy" field of a deploy request: the document's
// content, and the absolute paths manifests are found from (the host reads
// them, so they must be absolute and readable by the user running it).
type DeployRequest struct {
	Document  []byte `json:"document"`
	File      string `json:"file,omitempty"`      // the document's path
	Artifacts string `json:"artifacts,omitempty"` // a directory manifests are relative to instead
}

// deploymentsReply is written instead of reply so that an empty list is [].
type deploymentsReply struct {
	Deployments []deploy.Record `json:"deployments"`
}

func (s *Server) deployer(c *conn) (Deployments, error) {
	d := s.backend.Deployments()
	if d == nil {
		return nil, c.fail("deployments: this host is not ready for deployments yet")
	}
	return d, nil
}

func (s *Server) deploy(ctx context.Context, c *conn, req request) error {
	d, err := s.deployer(c)
	if d == nil {
		return err
	}
	if req.Deploy == nil || len(req.Deploy.Document) == 0 {
		return c.fail(`deploy: "deploy.document" is required`)
	}
	rec, err := d.Submit(req.Deploy.Document, req.Deploy.File, req.Deploy.Artifacts)
	if err != nil {
		return c.fail(err.Error())
	}
	end := !req.Follow || rec.Status.Ended()
	if err := c.send(reply{Deployment: &rec, End: end}); err != nil {
		return err
	}
	if err := c.flush(); err != nil || end {
		return err
	}
	// The deployment goes on if the client leaves; only the following
	// stops.
	ctx, stop := s.clientGone(ctx, c)
	defer stop()
	var werr error
	final, err := d.Follow(ctx, rec.ID, func(p deploy.Progress) {
		if werr == nil {
			if werr = c.send(reply{Progress: &p}); werr == nil {
				werr = c.flush()
			}
		}
	})
	if werr != nil || err != nil {
		return errors.Join(werr, err)
	}
	if err := c.send(reply{Deployment: &final, End: true}); err != nil {
		return err
	}
	return c.flush()
}

func (s *Server) deployments(c *conn) error {
	d, err := s.deployer(c)
	if d == nil {
		return err
	}
	recs, err := d.List()
	if err != nil {
		return c.fail(err.Error())
	}
	// A summary: "deployment" gives the rest.
	for i := range recs {
		r := &recs[i]
		r.Events, r.Document, r.Previous, r.Target, r.Stored = nil, "", nil, nil, nil
	}
	if recs == nil {
		recs = []deploy.Record{}
	}
	if err := c.send(deploymentsReply{Deployments: recs}); err != nil {
		return err
	}
	return c.flush()
}

func (s *Server) deployment(c *conn, req request) error {
	d, err := s.deployer(c)
	if d == nil {
		return err
	}
	if req.ID == "" {
		return c.fail(`deployment: "id" is required`)
	}
	rec, err := d.Get(req.ID)
	if err != nil {
		return c.fail(err.Error())
	}
	if err := c.send(reply{Deployment: &rec}); err != nil {
		return err
	}
	return c.flush()
}

func (s *Server) deploymentCancel(ctx context.Context, c *conn, req request) error {
	d, err := s.deployer(c)
	if d == nil {
		return err
	}
	if req.ID == "" {
		return c.fail(`deployment_cancel: "id" is required`)
	}
	ctx, stop := s.clientGone(ctx, c)
	defer stop()
	rec, err := d.Cancel(ctx, req.ID)
	if err != nil {
		return c.fail(err.Error())
	}
	if err := c.send(reply{Deployment: &rec}); err != nil {
		return err
	}
	return c.flush()
}

// Deploy submits a deployment document to the host: doc is its content,
// file its absolute path (manifest paths in it are relative to its
// directory), artifacts an absolute directory they are relative to instead
// (or ""). Without follow it returns the record as submitted: QUEUED, or
// REJECTED with the reason. With follow it calls fn, in the calling
// goroutine, with every progress event, and returns the final record once
// the deployment has ended; when ctx ends first, it returns the last record
// it had and ctx's error, and the deployment goes on.
func (c *Client) Deploy(ctx context.Context, doc []byte, file, artifacts string, follow bool, fn func(deploy.Progress)) (deploy.Record, error) {
	req := request{Op: "deploy", Follow: follow, Deploy: &DeployRequest{Document: doc, File: file, Artifacts: artifacts}}
	var rec deploy.Record
	err := c.call(ctx, req, false, func(r *reply) (bool, error) {
		switch {
		case r.Deployment != nil:
			rec = *r.Deployment
		case r.Progress != nil && fn != nil:
			fn(*r.Progress)
		}
		return r.End, nil
	})
	if err != nil {
		return rec, wrap("deploy", err)
	}
	return rec, nil
}

// Deployments returns the host's deployment history, oldest first, each
// record without its events, document and component sets (Deployment
// returns those).
func (c *Client) Deployments(ctx context.Context) ([]deploy.Record, error) {
	var out []deploy.Record
	err := c.call(ctx, request{Op: "deployments"}, false, func(r *reply) (bool, error) {
		out = r.Deployments
		return true, nil
	})
	if err != nil {
		return nil, wrap("list deployments", err)
	}
	if out == nil {
		out = []deploy.Record{}
	}
	return out, nil
}

// Deployment returns one deployment's full record.
func (c *Client) Deployment(ctx context.Context, id string) (deploy.Record, error) {
	var rec deploy.Record
	err := c.call(ctx, request{Op: "deployment", ID: id}, false, func(r *reply) (bool, error) {
		if r.Deployment == nil {
			return true, errors.New("the host sent no deployment")
		}
		rec = *r.Deployment
		return true, nil
	})
	if err != nil {
		return deploy.Record{}, wrap(fmt.Sprintf("deployment %q", id), err)
	}
	return rec, nil
}

// CancelDeployment cancels a deployment: a queued one is dropped, one in
// progress is stopped and rolled back. It returns once the deployment has
// ended, with its final record.
func (c *Client) CancelDeployment(ctx context.Context, id string) (deploy.Record, error) {
	var rec deploy.Record
	err := c.call(ctx, request{Op: "deployment_cancel", ID: id}, false, func(r *reply) (bool, error) {
		if r.Deployment == nil {
			return true, errors.New("the host sent no deployment")
		}
		rec = *r.Deployment
		return true, nil
	})
	if err != nil {
		return deploy.Record{}, wrap(fmt.Sprintf("cancel deployment %q", id), err)
	}
	return rec, nil
}
