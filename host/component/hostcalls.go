package component

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/wasm"
)

// HostCall implements wasm.Handler. It runs on the component's goroutine,
// inside a call into the guest.
func (c *Component) HostCall(ctx context.Context, fn wasm.Func, req []byte) ([]byte, error) {
	switch abi.HostFunctions[fn] {
	case abi.FuncPublish:
		return nil, c.publish(req)
	case abi.FuncLog:
		return nil, c.guestLog(req)
	case abi.FuncSubscribe:
		return c.subscribe(req)
	case abi.FuncUnsubscribe:
		return nil, c.unsubscribe(req)
	case abi.FuncConfigGet:
		return c.configGet(req)
	case abi.FuncConfigUpdate:
		return nil, c.configUpdate(req)
	case abi.FuncConfigWatch:
		return c.configWatch(req)
	case abi.FuncTimerStart:
		return c.timerStart(req)
	case abi.FuncTimerStop:
		return nil, c.timerStop(req)
	case abi.FuncReportState:
		return nil, c.reportState(req)
	case abi.FuncSecretGet:
		return c.secretGet(req)
	case abi.FuncCloudPublish:
		return nil, c.cloudPublish(ctx, req)
	case abi.FuncCloudSubscribe:
		return c.cloudSubscribe(req)
	case abi.FuncCloudUnsubscribe:
		return nil, c.cloudUnsubscribe(req)
	case abi.FuncStateSave:
		return nil, c.stateSave(req)
	case abi.FuncDeferUpdate:
		return nil, c.deferUpdate(req)
	case abi.FuncShadowGet:
		return c.shadowCall(abi.FuncShadowGet, "shadow.get", "get", req)
	case abi.FuncShadowUpdate:
		return c.shadowCall(abi.FuncShadowUpdate, "shadow.update", "update", req)
	case abi.FuncShadowDelete:
		return c.shadowCall(abi.FuncShadowDelete, "shadow.delete", "delete", req)
	case abi.FuncShadowList:
		return c.shadowList(req)
	case abi.FuncShadowWatch:
		return c.shadowWatch(req)
	}
	return nil, abi.Errorf(abi.ErrUnsupported, "%s", fn)
}

func (c *Component) decode(fn string, req []byte, v any) error {
	if err := c.env.Codec.Unmarshal(req, v); err != nil {
		return abi.Errorf(abi.ErrDecode, "%s request: %v", fn, err)
	}
	return nil
}

func (c *Component) idResponse(id uint32) []byte {
	c.respBuf = abi.AppendUint(abi.AppendText(abi.AppendMap(c.respBuf[:0], 1), "id"), uint64(id))
	return c.respBuf
}

// publish is the hot path: decoded by hand, one copy of the payload (out of
// guest memory, which the guest reuses), shared by all subscribers.
func (c *Component) publish(req []byte) error {
	topic, payload, err := decodePublish(req)
	if err != nil {
		return err
	}
	if err := bus.ValidateTopic(topic); err != nil {
		return abi.Errorf(abi.ErrInvalid, "publish: %v", err)
	}
	if max := int64(c.spec.Limits.MaxMessage); int64(len(payload)) > max {
		c.limitHit("max_message", max, int64(len(payload)))
		return abi.Errorf(abi.ErrTooLarge, "publish: payload of %d bytes exceeds max_message %d", len(payload), max)
	}
	if !c.allow("pubsub.publish", topic) {
		return abi.Errorf(abi.ErrDenied, "publish: no pubsub.publish grant for topic %q", topic)
	}
	if !c.pubLimit.take(time.Now()) {
		c.limitHit("publish_rate", int64(c.spec.Limits.PublishRate), 0)
		return abi.Errorf(abi.ErrRate, "publish: over publish_rate (%d messages a second)", c.spec.Limits.PublishRate)
	}
	c.env.Bus.Publish(&bus.Message{Topic: topic, Payload: bytes.Clone(payload)})
	return nil
}

func decodePublish(req []byte) (topic string, payload []byte, err error) {
	r := abi.NewReader(req)
	n, err := r.Map()
	if err != nil {
		return "", nil, abi.Errorf(abi.ErrDecode, "publish request: not a map")
	}
	var haveTopic, havePayload bool
	for range n {
		k, err := r.Text()
		if err != nil {
			return "", nil, abi.Errorf(abi.ErrDecode, "publish request: bad key")
		}
		switch string(k) {
		case "topic":
			if haveTopic {
				return "", nil, abi.Errorf(abi.ErrDecode, "publish request: key %q twice", k)
			}
			t, err := r.Text()
			if err != nil {
				return "", nil, abi.Errorf(abi.ErrDecode, "publish request: topic is not text")
			}
			topic, haveTopic = string(t), true
		case "payload":
			if havePayload {
				return "", nil, abi.Errorf(abi.ErrDecode, "publish request: key %q twice", k)
			}
			if payload, err = r.Bytes(); err != nil {
				return "", nil, abi.Errorf(abi.ErrDecode, "publish request: payload is not bytes")
			}
			havePayload = true
		default:
			return "", nil, abi.Errorf(abi.ErrDecode, "publish request: unknown key %q", k)
		}
	}
	if r.Len() != 0 {
		return "", nil, abi.Errorf(abi.ErrDecode, "publish request: %d trailing bytes", r.Len())
	}
	if !haveTopic {
		return "", nil, abi.Errorf(abi.ErrDecode, "publish request: no topic")
	}
	if payload == nil {
		payload = []byte{}
	}
	return topic, payload, nil
}

func (c *Component) allow(op, resource string) bool {
	if c.spec.Policy != nil && c.spec.Policy.Allow(op, resource) {
		return true
	}
	if n, ok := c.denyWarn.allow(time.Now()); ok {
		c.log.Warn("access denied", "operation", op, "resource", resource, "denied_since_last_warning", n)
	}
	return false
}

// limitHit logs, at most once a second, that the component ran into one of
// its limits: which, the limit, and what was asked for (0 when the attempt
// is not a size, as for a rate).
func (c *Component) limitHit(limit string, value, attempted int64) {
	n, ok := c.limitWarn.allow(time.Now())
	if !ok {
		return
	}
	attrs := []any{"limit", limit, "value", value, "hits_since_last_warning", n}
	if attempted > 0 {
		attrs = append(attrs, "attempted", attempted, "over_by", attempted-value)
	}
	c.log.Warn("component limit exceeded", attrs...)
}

func (c *Component) guestLog(req []byte) error {
	var r abi.LogRequest
	if err := c.decode(abi.FuncLog, req, &r); err != nil {
		return err
	}
	if len(r.Msg) > maxLogMsg {
		return abi.Errorf(abi.ErrTooLarge, "log: message of %d bytes exceeds %d", len(r.Msg), maxLogMsg)
	}
	if !c.logLimit.take(time.Now()) {
		return abi.Errorf(abi.ErrRate, "log: over %d lines a second", logsPerSecond)
	}
	c.log.Log(nil, slog.Level(r.Level), r.Msg, "source", "guest")
	return nil
}

func (c *Component) subscribe(req []byte) ([]byte, error) {
	var r abi.SubscribeRequest
	if err := c.decode(abi.FuncSubscribe, req, &r); err != nil {
		return nil, err
	}
	if err := bus.ValidateFilter(r.Filter); err != nil {
		return nil, abi.Errorf(abi.ErrInvalid, "subscribe: %v", err)
	}
	if !c.allow("pubsub.subscribe", r.Filter) {
		return nil, abi.Errorf(abi.ErrDenied, "subscribe: no pubsub.subscribe grant covering %q", r.Filter)
	}
	return c.subscribeFilter(abi.FuncSubscribe, r.Filter)
}

// subscribeFilter adds a local-bus subscription the caller has authorised.
func (c *Component) subscribeFilter(fn, filter string) ([]byte, error) {
	id, fresh, err := c.addSub(fn, &c.subs, filter)
	if err != nil {
		return nil, err
	}
	if fresh {
		if err := c.env.Bus.Subscribe(filter, c, id); err != nil {
			c.removeSub(&c.subs, id)
			return nil, abi.Errorf(abi.ErrInvalid, "%s: %v", fn, err)
		}
	}
	return c.idResponse(id), nil
}

func (c *Component) unsubscribe(req []byte) error {
	var r abi.IDRequest
	if err := c.decode(abi.FuncUnsubscribe, req, &r); err != nil {
		return err
	}
	f, ok := c.removeSub(&c.subs, r.ID)
	if !ok {
		return abi.Errorf(abi.ErrNotFound, "unsubscribe: no subscription %d", r.ID)
	}
	c.env.Bus.Unsubscribe(f, c, r.ID)
	return nil
}

func (c *Component) configGet(req []byte) ([]byte, error) {
	var r abi.ConfigGetRequest
	if err := c.decode(abi.FuncConfigGet, req, &r); err != nil {
		return nil, err
	}
	v, ok := c.conf.Get(r.Path)
	if !ok {
		return nil, abi.Errorf(abi.ErrNotFound, "config_get: no value at %q", r.Path)
	}
	b, err := c.env.Codec.Marshal(map[string]any{"value": v})
	if err != nil {
		return nil, fmt.Errorf("config_get %q: %w", r.Path, err)
	}
	return b, nil
}

func (c *Component) configUpdate(req []byte) error {
	var r abi.ConfigUpdateRequest
	if err := c.decode(abi.FuncConfigUpdate, req, &r); err != nil {
		return err
	}
	var v any
	if err := c.env.Codec.Unmarshal(r.Value, &v); err != nil {
		return abi.Errorf(abi.ErrDecode, "config_update value: %v", err)
	}
	if err := c.conf.Update(r.Path, v); err != nil {
		return abi.Errorf(abi.ErrInvalid, "config_update: %v", err)
	}
	return nil
}

func (c *Component) configWatch(req []byte) ([]byte, error) {
	var r abi.ConfigGetRequest
	if err := c.decode(abi.FuncConfigWatch, req, &r); err != nil {
		return nil, err
	}
	if len(c.guest.watches) >= maxWatches {
		return nil, abi.Errorf(abi.ErrFull, "config_watch: %d watches already", maxWatches)
	}
	c.nextID++
	id := c.nextID
	mbox := c.mbox
	c.guest.watches[id] = c.conf.Watch(r.Path, func(changed []string) {
		mbox.PushForce(abi.Event{Kind: abi.EventConfig, ID: id, Path: changed})
	})
	return c.idResponse(id), nil
}

func (c *Component) timerStart(req []byte) ([]byte, error) {
	var r abi.TimerStartRequest
	if err := c.decode(abi.FuncTimerStart, req, &r); err != nil {
		return nil, err
	}
	if r.IntervalMS == 0 {
		return nil, abi.Errorf(abi.ErrInvalid, "timer_start: interval_ms must be at least 1")
	}
	if len(c.guest.timers) >= maxTimers {
		return nil, abi.Errorf(abi.ErrFull, "timer_start: %d timers already", maxTimers)
	}
	c.nextID++
	id := c.nextID
	d := time.Duration(r.IntervalMS) * time.Millisecond
	t := &timer{repeat: r.Repeat}
	mbox := c.mbox
	t.t = time.AfterFunc(d, func() {
		if t.pending.CompareAndSwap(false, true) {
			mbox.PushForce(abi.Event{Kind: abi.EventTimer, ID: id})
		}
		if t.repeat && !t.stopped.Load() {
			t.t.Reset(d)
		}
	})
	c.guest.timers[id] = t
	return c.idResponse(id), nil
}

func (c *Component) timerStop(req []byte) error {
	var r abi.IDRequest
	if err := c.decode(abi.FuncTimerStop, req, &r); err != nil {
		return err
	}
	t, ok := c.guest.timers[r.ID]
	if !ok {
		return abi.Errorf(abi.ErrNotFound, "timer_stop: no timer %d", r.ID)
	}
	t.stopped.Store(true)
	t.t.Stop()
	delete(c.guest.timers, r.ID)
	return nil
}

func (c *Component) reportState(req []byte) error {
	var r abi.ReportStateRequest
	if err := c.decode(abi.FuncReportState, req, &r); err != nil {
		return err
	}
	switch r.State {
	case abi.StateRunning:
	case abi.StateErrored:
		c.guest.errored = r.Reason
		if c.guest.errored == "" {
			c.guest.errored = "no reason given"
		}
	case abi.StateFinished:
		c.guest.finished = true
		c.log.Info("component reported FINISHED", "reason", r.Reason)
	default:
		return abi.Errorf(abi.ErrInvalid, "report_state: unknown state %q (want RUNNING, ERRORED or FINISHED)", r.State)
	}
	return nil
}

// secretGet never puts the value in an error or a log line; errors name the
// secret only.
func (c *Component) secretGet(req []byte) ([]byte, error) {
	var r abi.SecretGetRequest
	if err := c.decode(abi.FuncSecretGet, req, &r); err != nil {
		return nil, err
	}
	if !c.allow("secret.get", r.Name) {
		return nil, abi.Errorf(abi.ErrDenied, "secret_get: no secret.get grant for %q", r.Name)
	}
	if c.env.Secrets == nil {
		return nil, abi.Errorf(abi.ErrUnavailable, "secret_get: this host has no secret store")
	}
	v, err := c.env.Secrets.Get(r.Name)
	if errors.Is(err, ErrNoSecret) {
		return nil, abi.Errorf(abi.ErrNotFound, "secret_get: no secret %q", r.Name)
	}
	if err != nil {
		return nil, abi.Errorf(abi.ErrInternal, "secret_get %q: %v", r.Name, err)
	}
	c.respBuf = abi.AppendBytes(abi.AppendText(abi.AppendMap(c.respBuf[:0], 1), "value"), v)
	clear(v)
	return c.respBuf, nil
}

// stateSave keeps a snapshot for the next version during an upgrade.
func (c *Component) stateSave(req []byte) error {
	if !c.upgrading {
		return abi.Errorf(abi.ErrInvalid, "state_save: only during a stop event with reason %q", abi.StopUpgrade)
	}
	var r abi.StateSaveRequest
	if err := c.decode(abi.FuncStateSave, req, &r); err != nil {
		return err
	}
	c.handoff = bytes.Clone(r.Data)
	return nil
}

// deferUpdate records how long the component asks deployments to wait.
func (c *Component) deferUpdate(req []byte) error {
	var r abi.DeferUpdateRequest
	if err := c.decode(abi.FuncDeferUpdate, req, &r); err != nil {
		return err
	}
	if r.Seconds > 86400 {
		return abi.Errorf(abi.ErrInvalid, "defer_update: %d seconds: at most a day (86400)", r.Seconds)
	}
	until := time.Time{}
	if r.Seconds > 0 {
		until = time.Now().Add(time.Duration(r.Seconds) * time.Second)
		c.log.Info("component defers updates", "until", until.Format(time.TimeOnly))
	}
	c.mu.Lock()
	c.deferUntil = until
	c.mu.Unlock()
	return nil
}
