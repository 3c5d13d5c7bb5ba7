package admin

import (
	"context"
	"errors"
	"fmt"
)

// Component actions, as "moss component ACTION NAME" and Greengrass's CLI
// name them.
const (
	ActionStop    = "stop"
	ActionStart   = "start"
	ActionRestart = "restart"
)

// ErrNoComponent is what a Backend's ControlComponent returns (wrapped)
// for a name the host does not run.
var ErrNoComponent = errors.New("no such component")

// componentReply is the answer to a "component" request.
type componentReply struct {
	Component *ComponentInfo `json:"component"`
}

// component serves
//
//	> {"op":"component","action":"restart","name":"sensor"}
//	< {"component":ComponentInfo}             once the action has taken effect
func (s *Server) component(ctx context.Context, c *conn, req request) error {
	switch req.Action {
	case ActionStop, ActionStart, ActionRestart:
	default:
		return c.fail(fmt.Sprintf(`component: "action" %q: want stop, start or restart`, req.Action))
	}
	if req.Name == "" {
		return c.fail(`component: "name" is required`)
	}
	info, err := s.backend.ControlComponent(ctx, req.Action, req.Name)
	if err != nil {
		return c.fail(err.Error())
	}
	if err := c.send(componentReply{Component: &info}); err != nil {
		return err
	}
	return c.flush()
}

// ControlComponent stops, starts or restarts the named component (action
// is one of the Action constants) and returns its state once the action
// has taken effect: FINISHED after a stop, RUNNING (or why not) after a
// start or a restart.
func (c *Client) ControlComponent(ctx context.Context, action, name string) (ComponentInfo, error) {
	var out ComponentInfo
	err := c.call(ctx, request{Op: "component", Action: action, Name: name}, false, func(r *reply) (bool, error) {
		if r.Component == nil {
			return true, errors.New("the host sent no component")
		}
		out = *r.Component
		return true, nil
	})
	if err != nil {
		return ComponentInfo{}, wrap(fmt.Sprintf("%s %s", action, name), err)
	}
	return out, nil
}
