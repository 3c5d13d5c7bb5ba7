package component

import (
	"github.com/moss-edge/moss/abi"
)

// Shadows is the device shadow service as a component sees it.
type Shadows interface {
	// Request runs op ("get", "update" or "delete") on a shadow and
	// returns IoT Core's status (200, or its error code) with the accepted
	// or rejected document; err is for a service that could not answer.
	Request(op, thing, name string, payload []byte) (status int, doc []byte, err error)
	// List returns a page of a thing's named shadows, as Request does.
	List(thing string, pageSize int, nextToken string) (status int, doc []byte, err error)
	// Thing is the device's own thing, for requests that name none.
	Thing() string
}

// maxShadowRequest is IoT Core's MQTT payload limit, which bounds a shadow
// request document on the topics too.
const maxShadowRequest = 128 << 10

// shadowPrefix is the access policy resource for a shadow, as Greengrass's
// shadow manager names it.
func shadowPrefix(thing, name string) string {
	if name == "" {
		return "$aws/things/" + thing + "/shadow"
	}
	return "$aws/things/" + thing + "/shadow/name/" + name
}

// validShadowNames checks IoT Core's name rules before a name goes into a
// policy resource: 1 to 128 (thing) or 64 (shadow) of [a-zA-Z0-9:_-].
func validShadowNames(fn, thing, name string) error {
	check := func(what, s string, max int) error {
		if len(s) < 1 || len(s) > max {
			return abi.Errorf(abi.ErrInvalid, "%s: %s name %q: want 1 to %d characters", fn, what, s, max)
		}
		for _, r := range s {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == ':' || r == '_' || r == '-') {
				return abi.Errorf(abi.ErrInvalid, "%s: %s name %q: only a-z A-Z 0-9 : _ - allowed", fn, what, s)
			}
		}
		return nil
	}
	if err := check("thing", thing, 128); err != nil {
		return err
	}
	if name != "" {
		return check("shadow", name, 64)
	}
	return nil
}

// shadowTarget resolves and checks a request's thing and shadow name and
// the caller's grant for op.
func (c *Component) shadowTarget(fn, op string, r *abi.ShadowRequest) (thing string, err error) {
	if c.env.Shadows == nil {
		return "", abi.Errorf(abi.ErrUnavailable, "%s: this host has no shadow service", fn)
	}
	thing = r.Thing
	if thing == "" {
		thing = c.env.Shadows.Thing()
	}
	if err := validShadowNames(fn, thing, r.Name); err != nil {
		return "", err
	}
	if res := shadowPrefix(thing, r.Name); !c.allow(op, res) {
		return "", abi.Errorf(abi.ErrDenied, "%s: no %s grant for %q", fn, op, res)
	}
	return thing, nil
}

func (c *Component) shadowCall(fn, op, verb string, req []byte) ([]byte, error) {
	var r abi.ShadowRequest
	if err := c.decode(fn, req, &r); err != nil {
		return nil, err
	}
	if len(r.Payload) > maxShadowRequest {
		return nil, abi.Errorf(abi.ErrTooLarge, "%s: request document of %d bytes exceeds %d", fn, len(r.Payload), maxShadowRequest)
	}
	thing, err := c.shadowTarget(fn, op, &r)
	if err != nil {
		return nil, err
	}
	status, doc, err := c.env.Shadows.Request(verb, thing, r.Name, r.Payload)
	if err != nil {
		return nil, abi.Errorf(abi.ErrUnavailable, "%s: %v", fn, err)
	}
	return c.shadowResponse(fn, status, doc)
}

func (c *Component) shadowResponse(fn string, status int, doc []byte) ([]byte, error) {
	b, err := c.env.Codec.Marshal(abi.ShadowResponse{Status: uint16(status), Payload: doc})
	if err != nil {
		return nil, abi.Errorf(abi.ErrInternal, "%s: %v", fn, err)
	}
	return b, nil
}

func (c *Component) shadowList(req []byte) ([]byte, error) {
	var r abi.ShadowListRequest
	if err := c.decode(abi.FuncShadowList, req, &r); err != nil {
		return nil, err
	}
	if c.env.Shadows == nil {
		return nil, abi.Errorf(abi.ErrUnavailable, "shadow_list: this host has no shadow service")
	}
	thing := r.Thing
	if thing == "" {
		thing = c.env.Shadows.Thing()
	}
	if err := validShadowNames(abi.FuncShadowList, thing, ""); err != nil {
		return nil, err
	}
	if res := "$aws/things/" + thing; !c.allow("shadow.list", res) {
		return nil, abi.Errorf(abi.ErrDenied, "shadow_list: no shadow.list grant for %q", res)
	}
	status, doc, err := c.env.Shadows.List(thing, int(r.PageSize), r.NextToken)
	if err != nil {
		return nil, abi.Errorf(abi.ErrUnavailable, "shadow_list: %v", err)
	}
	return c.shadowResponse(abi.FuncShadowList, status, doc)
}

// shadowWatch is a local-bus subscription to a shadow's update/delta or
// update/documents topic, granted by shadow.get rather than
// pubsub.subscribe.
func (c *Component) shadowWatch(req []byte) ([]byte, error) {
	var r abi.ShadowWatchRequest
	if err := c.decode(abi.FuncShadowWatch, req, &r); err != nil {
		return nil, err
	}
	var suffix string
	switch r.Topic {
	case "delta":
		suffix = "/update/delta"
	case "documents":
		suffix = "/update/documents"
	default:
		return nil, abi.Errorf(abi.ErrInvalid, "shadow_watch: topic %q: want \"delta\" or \"documents\"", r.Topic)
	}
	thing, err := c.shadowTarget(abi.FuncShadowWatch, "shadow.get", &abi.ShadowRequest{Thing: r.Thing, Name: r.Name})
	if err != nil {
		return nil, err
	}
	return c.subscribeFilter(abi.FuncShadowWatch, shadowPrefix(thing, r.Name)+suffix)
}
