package component

import (
	"context"
	"errors"
	"time"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/host/bus"
)

// cloudError passes on the codes the cloud link chose.
func cloudError(fn string, err error) error {
	var ae *abi.Error
	if errors.As(err, &ae) {
		return abi.Errorf(ae.Code, "%s: %s", fn, ae.Message)
	}
	return abi.Errorf(abi.ErrInternal, "%s: %v", fn, err)
}

func (c *Component) cloudPublish(ctx context.Context, req []byte) error {
	var r abi.CloudPublishRequest
	if err := c.decode(abi.FuncCloudPublish, req, &r); err != nil {
		return err
	}
	if c.env.Cloud == nil {
		return abi.Errorf(abi.ErrUnavailable, "cloud_publish: this host has no cloud link")
	}
	if !c.allow("cloud.publish", r.Topic) {
		return abi.Errorf(abi.ErrDenied, "cloud_publish: no cloud.publish grant for topic %q", r.Topic)
	}
	if !c.pubLimit.take(time.Now()) {
		c.limitHit("publish_rate", int64(c.spec.Limits.PublishRate), 0)
		return abi.Errorf(abi.ErrRate, "cloud_publish: over publish_rate (%d messages a second)", c.spec.Limits.PublishRate)
	}
	// The link bounds its own wait (it spools a message whose PUBACK is
	// late); ctx ends it at the call's deadline, so that a guest looping on
	// QoS 1 publishes is stopped on time.
	if err := c.env.Cloud.Publish(ctx, r.Topic, r.Payload, r.QoS); err != nil {
		return cloudError(abi.FuncCloudPublish, err)
	}
	return nil
}

func (c *Component) cloudSubscribe(req []byte) ([]byte, error) {
	var r abi.SubscribeRequest
	if err := c.decode(abi.FuncCloudSubscribe, req, &r); err != nil {
		return nil, err
	}
	if c.env.Cloud == nil {
		return nil, abi.Errorf(abi.ErrUnavailable, "cloud_subscribe: this host has no cloud link")
	}
	if err := bus.ValidateFilter(r.Filter); err != nil {
		return nil, abi.Errorf(abi.ErrInvalid, "cloud_subscribe: %v", err)
	}
	if !c.allow("cloud.subscribe", r.Filter) {
		return nil, abi.Errorf(abi.ErrDenied, "cloud_subscribe: no cloud.subscribe grant covering %q", r.Filter)
	}
	id, fresh, err := c.addSub(abi.FuncCloudSubscribe, &c.cloudSubs, r.Filter)
	if err != nil {
		return nil, err
	}
	if fresh {
		if err := c.env.Cloud.Subscribe(r.Filter, c, id); err != nil {
			c.removeSub(&c.cloudSubs, id)
			return nil, cloudError(abi.FuncCloudSubscribe, err)
		}
	}
	return c.idResponse(id), nil
}

func (c *Component) cloudUnsubscribe(req []byte) error {
	var r abi.IDRequest
	if err := c.decode(abi.FuncCloudUnsubscribe, req, &r); err != nil {
		return err
	}
	f, ok := c.removeSub(&c.cloudSubs, r.ID)
	if !ok {
		return abi.Errorf(abi.ErrNotFound, "cloud_unsubscribe: no cloud subscription %d", r.ID)
	}
	c.env.Cloud.Unsubscribe(f, c, r.ID)
	return nil
}
