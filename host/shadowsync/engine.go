package shadowsync

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/cloud"
	"github.com/moss-edge/moss/host/shadow"
)

// Backoff after a refused or failed request.
const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// throttleLogEvery spaces out the warnings about rate limits.
const throttleLogEvery = 10 * time.Second

// shadowSync is the sync's state for one shadow; apart from the
// configuration it belongs to the sync goroutine.
type shadowSync struct {
	Shadow
	key    string
	id     uint32 // cloud subscription id
	filter string // cloud subscription filter

	st record // as saved

	// The local shadow as last seen (a Watch event or a Get).
	localKnown bool
	localVer   int64 // its version; for a deleted shadow, the deleted one
	localDoc   *doc  // nil when there is no local shadow

	req      *request      // the request awaiting its reply
	held     *cloudChange  // the newest cloud change that arrived meanwhile
	needFull bool          // a full sync is due (done once the link is up)
	retryAt  time.Time     // nothing is sent before
	backoff  time.Duration // the next retry's delay
	stuck    *localState   // the local shadow whose push IoT Core refused for good
}

// localDirty reports whether the local shadow may have changed since the
// record. A delete keeps the deleted shadow's version, so existence counts
// too.
func (sh *shadowSync) localDirty() bool {
	return !sh.localKnown || sh.localVer != sh.st.Local || (sh.localDoc == nil) != (sh.st.Base == nil)
}

// localStuck reports whether the local shadow is as it was when IoT Core
// refused it for good.
func (sh *shadowSync) localStuck() bool {
	return sh.stuck != nil && sh.stuck.version == sh.localVer && sh.stuck.exists == (sh.localDoc != nil)
}

// pushes reports whether local changes go to the cloud.
func (sh *shadowSync) pushes() bool { return sh.Direction != CloudToDevice }

func (sh *shadowSync) topic(op shadow.Op, reply string) string {
	return shadow.Topic{Thing: sh.Thing, Name: sh.Name, Op: op, Reply: reply}.String()
}

// localState identifies a local shadow's state: its version, and whether
// it exists (a deleted shadow keeps its last version).
type localState struct {
	version int64
	exists  bool
}

// request is one request to the cloud and what its acceptance records.
type request struct {
	op      shadow.Op
	token   string
	payload []byte
	sent    time.Time
	base    *state // the record's Base once accepted (update)
	local   int64  // the record's Local once accepted
}

// cloudChange is a change made in the cloud by someone else.
type cloudChange struct {
	deleted  bool
	version  int64
	doc      *doc // the current shadow; nil for a delete
	creation bool // update/documents without "previous"
}

// newer reports whether c came after o.
func (c *cloudChange) newer(o *cloudChange) bool {
	return c.version > o.version || c.version == o.version && c.deleted
}

// event is something for the sync goroutine.
type event struct {
	sh      *shadowSync
	local   *shadow.Change // a local change
	msg     *bus.Message   // a message from the cloud
	token   string         // with sendErr: the request that could not be sent
	sendErr error
}

func (s *Syncer) post(e event) {
	s.mu.Lock()
	s.inbox = append(s.inbox, e)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// watch is the shadow service's Watch callback: it runs in the goroutine
// that made the change, so it only queues it.
func (s *Syncer) watch(c shadow.Change) {
	if sh := s.byKey[key(c.Thing, c.Name)]; sh != nil {
		s.post(event{sh: sh, local: &c})
	}
}

// Deliver implements bus.Subscriber for the cloud link's messages.
func (s *Syncer) Deliver(id uint32, m *bus.Message) {
	if id == 0 || int(id) > len(s.shadows) {
		return
	}
	s.post(event{sh: s.shadows[id-1], msg: m})
}

// run is the sync goroutine.
func (s *Syncer) run() {
	tick := time.NewTicker(s.linkCheck)
	defer tick.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for _, sh := range s.shadows {
		if _, err := s.getLocal(sh); err != nil {
			s.log.Debug("shadow sync: local shadow not read yet", "shadow", sh.String(), "err", err)
		}
	}
	for {
		s.drain()
		if next := s.step(time.Now()); !next.IsZero() {
			timer.Reset(time.Until(next))
		}
		select {
		case <-s.wake:
		case <-tick.C:
			s.checkLink(time.Now())
		case <-timer.C:
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *Syncer) drain() {
	for s.ctx.Err() == nil {
		s.mu.Lock()
		batch := s.inbox
		s.inbox = nil
		s.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		for _, e := range batch {
			switch {
			case e.local != nil:
				s.localChanged(e.sh, e.local)
			case e.msg != nil:
				s.cloudMessage(e.sh, e.msg)
			case e.sendErr != nil:
				s.sendFailed(e.sh, e.token, e.sendErr)
			}
		}
	}
}

// checkLink notices (re)connections: the cloud may have changed while the
// link was down, and its messages were not kept for the device.
func (s *Syncer) checkLink(now time.Time) {
	st := s.cloud.Status()
	up := st.State == cloud.StateConnected
	if up && (!s.connected || st.Reconnects != s.reconnects) {
		s.connSince = now
		for _, sh := range s.shadows {
			sh.needFull = true
			sh.retryAt, sh.backoff = time.Time{}, 0
		}
		s.log.Debug("shadow sync: cloud link up; synchronising every shadow", "shadows", len(s.shadows))
	}
	s.connected, s.reconnects = up, st.Reconnects
}

// step times out requests and sends what is due; it returns when it wants
// to run again (zero: on the next event).
func (s *Syncer) step(now time.Time) time.Time {
	var next time.Time
	later := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, sh := range s.shadows {
		if sh.req != nil {
			if !s.connected {
				continue // the request waits in the spool, or for the link
			}
			deadline := sh.req.sent
			if s.connSince.After(deadline) {
				deadline = s.connSince
			}
			deadline = deadline.Add(s.replyTimeout)
			if now.Before(deadline) {
				later(deadline)
				continue
			}
			s.log.Debug("shadow sync: no reply; synchronising the whole shadow", "shadow", sh.String(), "op", sh.req.op, "waited", s.replyTimeout)
			sh.req, sh.held, sh.needFull = nil, nil, true
			s.lim.done()
		}
		if now.Before(sh.retryAt) {
			later(sh.retryAt)
			continue
		}
		var build func(*shadowSync) *request
		switch {
		case sh.needFull && s.connected:
			build = s.getRequest
		case sh.pushes() && sh.st.Synced && sh.localKnown && sh.localDirty() && !sh.localStuck():
			// Offline too: the link spools it, and a bidirectional
			// update's version guard makes it harmless if the cloud
			// changed meanwhile.
			build = s.pushRequest
		default:
			continue
		}
		req := build(sh)
		if req == nil {
			continue // nothing to send after all
		}
		if ok, limit, retry := s.lim.take(sh.Thing, now); !ok {
			s.throttled(sh, limit)
			later(retry) // req is built again then, from what is current
			continue
		}
		s.send(sh, req)
	}
	return next
}

func (s *Syncer) throttled(sh *shadowSync, limit string) {
	now := time.Now()
	if now.Sub(s.throttledAt) < throttleLogEvery {
		return
	}
	s.throttledAt = now
	s.log.Warn("shadow sync throttled (429 Too Many Requests avoided): requests to the cloud wait, later changes coalesce", "limit", limit, "shadow", sh.String())
}

func (s *Syncer) token() string {
	s.seq++
	return s.tokenPrefix + "-" + strconv.FormatUint(s.seq, 10)
}

func (s *Syncer) getRequest(sh *shadowSync) *request {
	tok := s.token()
	return &request{op: shadow.OpGet, token: tok, payload: tokenPayload(tok)}
}

func tokenPayload(tok string) []byte {
	b, _ := json.Marshal(map[string]string{"clientToken": tok})
	return b
}

// pushRequest turns the local changes since the record into a request,
// or records that there is nothing to send.
func (s *Syncer) pushRequest(sh *shadowSync) *request {
	L := sh.localDoc
	if L == nil {
		if sh.st.Base == nil {
			sh.st.Local = sh.localVer
			s.save(sh)
			return nil
		}
		tok := s.token()
		return &request{op: shadow.OpDelete, token: tok, payload: tokenPayload(tok), local: sh.localVer}
	}
	p := patch(sh.st.Base, &L.state)
	if p == nil && sh.st.Base != nil {
		sh.st.Local = L.version
		s.save(sh)
		return nil
	}
	var guard int64
	if sh.Direction == Bidirectional && sh.st.Base != nil {
		guard = sh.st.Cloud
	}
	return s.updateRequest(p, guard, &L.state, L.version)
}

// updateRequest builds an update whose acceptance records base and local.
// guard is the version the cloud must have, 0 for none.
func (s *Syncer) updateRequest(p map[string]any, guard int64, base *state, local int64) *request {
	if p == nil {
		p = map[string]any{} // creates an empty shadow
	}
	tok := s.token()
	body := map[string]any{"state": p, "clientToken": tok}
	if guard > 0 {
		body["version"] = guard
	}
	payload, err := json.Marshal(body)
	if err != nil { // state trees always encode
		panic(err)
	}
	return &request{op: shadow.OpUpdate, token: tok, payload: payload, base: base, local: local}
}

// send hands req to the link, from a goroutine of its own: a QoS 1
// publish may wait for the broker's acknowledgement. The caller has taken
// a slot from the limiter.
func (s *Syncer) send(sh *shadowSync, req *request) {
	req.sent = time.Now()
	sh.req = req
	topic := sh.topic(req.op, "")
	s.log.Debug("shadow sync: request to the cloud", "shadow", sh.String(), "op", req.op, "bytes", len(req.payload))
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.cloud.Publish(s.ctx, topic, req.payload, 1); err != nil {
			s.post(event{sh: sh, token: req.token, sendErr: err})
		}
	}()
}

// sendNow sends a request that follows from a reply, whose slot it takes
// over, so it is not held back by the rate limits (it counts against
// them).
func (s *Syncer) sendNow(sh *shadowSync, req *request) {
	s.lim.force(sh.Thing, time.Now())
	s.send(sh, req)
}

func (s *Syncer) sendFailed(sh *shadowSync, token string, err error) {
	if sh.req == nil || sh.req.token != token {
		return
	}
	req := sh.req
	sh.req, sh.held = nil, nil
	s.lim.done()
	if errors.Is(err, cloud.ErrClosed) || s.ctx.Err() != nil {
		return
	}
	if req.op != shadow.OpGet && (errors.Is(err, cloud.ErrTooLarge) || errors.Is(err, cloud.ErrRefused)) {
		// Sending the same again would fail again.
		sh.stuck = &localState{req.local, req.op == shadow.OpUpdate}
		s.log.Error("shadow sync: the cloud link refused the local change; it is not synced until the shadow changes again", "shadow", sh.String(), "op", req.op, "err", err)
		return
	}
	sh.needFull = true
	s.retry(sh)
	s.log.Warn("shadow sync: request not sent; will retry", "shadow", sh.String(), "op", req.op, "err", err, "retry_in", sh.backoff)
}

// retry holds the shadow back with exponential backoff.
func (s *Syncer) retry(sh *shadowSync) {
	sh.backoff = min(max(2*sh.backoff, minBackoff), maxBackoff)
	sh.retryAt = time.Now().Add(sh.backoff)
}

func (s *Syncer) succeeded(sh *shadowSync) { sh.backoff, sh.retryAt = 0, time.Time{} }

// localChanged records a local change.
func (s *Syncer) localChanged(sh *shadowSync, c *shadow.Change) {
	if c.Op == shadow.OpDelete {
		// For an equal version, the delete came after the update.
		if !sh.localKnown || c.Version >= sh.localVer {
			sh.localKnown, sh.localVer, sh.localDoc = true, c.Version, nil
		}
		return
	}
	obj, err := decodeObject(c.Documents)
	if err != nil {
		s.log.Error("shadow sync: unreadable local update/documents", "shadow", sh.String(), "err", err)
		return
	}
	cur, _ := obj["current"].(map[string]any)
	d, err := docFrom(cur)
	if err != nil {
		s.log.Error("shadow sync: unreadable local update/documents", "shadow", sh.String(), "err", err)
		return
	}
	// A shadow deleted more than 48 hours ago starts again from version 1.
	_, hasPrev := obj["previous"]
	if !sh.localKnown || d.version > sh.localVer || sh.localDoc == nil && !hasPrev {
		sh.localKnown, sh.localVer, sh.localDoc = true, d.version, d
	}
}

// cloudMessage handles a message on the shadow's reply topics.
func (s *Syncer) cloudMessage(sh *shadowSync, m *bus.Message) {
	t, ok := shadow.ParseTopic(m.Topic)
	if !ok || t.Reply == "" {
		return
	}
	obj, err := decodeObject(m.Payload)
	if err != nil {
		s.log.Debug("shadow sync: unreadable cloud message", "topic", m.Topic, "err", err)
		return
	}
	if sh.req != nil && t.Op == sh.req.op && (t.Reply == "accepted" || t.Reply == "rejected") && clientToken(obj) == sh.req.token {
		s.reply(sh, t.Reply == "accepted", obj)
		return
	}
	switch {
	case t.Op == shadow.OpUpdate && t.Reply == "documents":
		cur, _ := obj["current"].(map[string]any)
		d, err := docFrom(cur)
		if err != nil {
			s.log.Debug("shadow sync: unreadable cloud update/documents", "topic", m.Topic, "err", err)
			return
		}
		prev, _ := obj["previous"].(map[string]any)
		s.cloudChanged(sh, &cloudChange{version: d.version, doc: d, creation: prev == nil})
	case t.Op == shadow.OpDelete && t.Reply == "accepted":
		v, err := int64Field(obj, "version")
		if err != nil {
			s.log.Debug("shadow sync: unreadable cloud delete/accepted", "topic", m.Topic, "err", err)
			return
		}
		s.cloudChanged(sh, &cloudChange{deleted: true, version: v})
	}
}

// reply handles the answer to the shadow's request.
func (s *Syncer) reply(sh *shadowSync, accepted bool, obj map[string]any) {
	req := sh.req
	sh.req = nil
	s.lim.done()
	code, _ := int64Field(obj, "code")
	msg, _ := obj["message"].(string)
	switch {
	case req.op == shadow.OpGet && accepted:
		d, err := docFrom(obj)
		if err != nil {
			s.log.Error("shadow sync: unreadable cloud get/accepted", "shadow", sh.String(), "err", err)
			s.retry(sh)
			break
		}
		s.reconcile(sh, d)
	case req.op == shadow.OpGet && code == 404:
		s.reconcile(sh, nil)
	case (req.op == shadow.OpUpdate || req.op == shadow.OpDelete) && accepted:
		v, err := int64Field(obj, "version")
		if err != nil {
			s.log.Error("shadow sync: cloud reply without a version", "shadow", sh.String(), "op", req.op)
			sh.needFull = true
			break
		}
		s.synced(sh, req.base, req.local, v)
	case req.op == shadow.OpDelete && code == 404:
		s.synced(sh, nil, req.local, sh.st.Cloud) // gone already
	case code == 409:
		s.log.Debug("shadow sync: the cloud shadow changed meanwhile (409); merging", "shadow", sh.String())
		sh.needFull = true
	case code == 429:
		s.retry(sh)
		s.log.Warn("shadow sync: IoT Core refused a request with 429 Too Many Requests; retrying", "shadow", sh.String(), "op", req.op, "retry_in", sh.backoff)
		if req.op == shadow.OpGet {
			sh.needFull = true
		}
	case req.op == shadow.OpGet:
		s.retry(sh)
		s.log.Error("shadow sync: IoT Core refused to get the shadow; retrying", "shadow", sh.String(), "code", code, "message", msg, "retry_in", sh.backoff)
	default:
		// 400, 401, 403, 413...: sending the same again would fail again.
		sh.stuck = &localState{req.local, req.op == shadow.OpUpdate}
		s.log.Error("shadow sync: IoT Core refused the local change; it is not synced until the shadow changes again", "shadow", sh.String(), "op", req.op, "code", code, "message", msg)
	}
	held := sh.held
	sh.held = nil
	if held != nil && !sh.needFull && sh.req == nil {
		s.cloudChanged(sh, held)
	}
}

// synced records a completed sync.
func (s *Syncer) synced(sh *shadowSync, base *state, local, cloudVer int64) {
	sh.st = record{Direction: sh.Direction, Synced: true, Base: base, Local: local, Cloud: cloudVer}
	s.save(sh)
	s.succeeded(sh)
}

// cloudChanged handles a change made in the cloud by someone else.
func (s *Syncer) cloudChanged(sh *shadowSync, cc *cloudChange) {
	if sh.req != nil {
		// The reply will tell whether this is our own update's echo.
		if sh.held == nil || cc.newer(sh.held) {
			sh.held = cc
		}
		return
	}
	if !sh.st.Synced {
		return // the first full sync, due anyway, will see it
	}
	if cc.deleted {
		if sh.st.Base == nil || cc.version < sh.st.Cloud {
			return // not there as far as we know, or deleted before our last sync
		}
	} else if cc.version <= sh.st.Cloud && !(sh.st.Base == nil && cc.creation) {
		return // our own echo, or older than what we have
	}
	switch sh.Direction {
	case DeviceToCloud:
		if cc.deleted {
			// The next local change re-creates it from the whole local
			// state.
			sh.st.Base, sh.st.Cloud = nil, cc.version
			s.save(sh)
		}
		return
	case Bidirectional:
		if sh.localDirty() {
			s.reconcile(sh, cc.doc)
			return
		}
	}
	// The local shadow is as last synced (bidirectional), or takes the
	// cloud's changes whatever it holds (cloud to device).
	if cc.deleted {
		v, err := s.deleteLocal(sh)
		if err != nil {
			s.localFailed(sh, err)
			return
		}
		s.synced(sh, nil, v, cc.version)
		return
	}
	from, guard := sh.st.Base, int64(0)
	switch {
	case sh.localDoc == nil:
		from = nil // (re-)create it whole
	case sh.Direction == Bidirectional:
		guard = sh.st.Local
	}
	v, err := s.updateLocal(sh, patch(from, &cc.doc.state), guard, from == nil)
	var e *shadow.Error
	if errors.As(err, &e) && e.Code == 409 {
		s.reconcile(sh, cc.doc) // it changed after all
		return
	}
	if err != nil {
		s.localFailed(sh, err)
		return
	}
	s.synced(sh, &cc.doc.state, v, cc.version)
	s.log.Debug("shadow sync: cloud change applied locally", "shadow", sh.String(), "cloud_version", cc.version, "local_version", v)
}

// localFailed handles a local request that failed: a 413 (the merged
// document is over the local size limit) or a 400 will not get better by
// itself; anything else is retried by a full sync.
func (s *Syncer) localFailed(sh *shadowSync, err error) {
	s.retry(sh)
	sh.needFull = true
	s.log.Error("shadow sync: local shadow not updated; retrying", "shadow", sh.String(), "err", err, "retry_in", sh.backoff)
}

// reconcile is the full sync: c is the cloud shadow (nil: none), just
// read; the local one is read now.
func (s *Syncer) reconcile(sh *shadowSync, c *doc) {
	L, err := s.getLocal(sh)
	if err != nil {
		s.localFailed(sh, err)
		return
	}
	sh.needFull = false
	base := sh.st.Base
	known := sh.st.Synced && base != nil // the record says the shadow existed
	if !sh.st.Synced {
		base = nil
	}
	cloudVer := sh.st.Cloud
	if c != nil {
		cloudVer = c.version
	}
	if sh.st.Synced && (L == nil) == (base == nil) && sh.localVer == sh.st.Local && (c == nil) == (base == nil) && cloudVer == sh.st.Cloud {
		s.succeeded(sh)
		return // nothing changed on either side
	}
	switch sh.Direction {
	case Bidirectional:
		switch {
		case L == nil && c == nil:
			s.synced(sh, nil, sh.localVer, cloudVer)
		case c == nil && !known:
			s.log.Info("shadow sync: creating the cloud shadow from the local one", "shadow", sh.String())
			s.sendNow(sh, s.updateRequest(patch(nil, &L.state), 0, &L.state, L.version))
		case c == nil:
			s.log.Info("shadow sync: the cloud shadow was deleted since the last sync; deleting the local one", "shadow", sh.String())
			s.applyCloudDelete(sh, cloudVer)
		case L == nil && !known:
			s.log.Info("shadow sync: creating the local shadow from the cloud one", "shadow", sh.String())
			s.applyCloudState(sh, c, nil, 0)
		case L == nil:
			s.log.Info("shadow sync: the local shadow was deleted since the last sync; deleting the cloud one", "shadow", sh.String())
			tok := s.token()
			s.sendNow(sh, &request{op: shadow.OpDelete, token: tok, payload: tokenPayload(tok), local: sh.localVer})
		default:
			m := mergeState(&L.state, &c.state, base, ownerCloud, ownerLocal)
			if sh.st.Synced && L.version != sh.st.Local && c.version != sh.st.Cloud {
				s.log.Info("shadow sync: the shadow changed on both sides since the last sync; merged (reported keeps the device's values, desired the cloud's)", "shadow", sh.String(), "local_version", L.version, "cloud_version", c.version)
			}
			local := L.version
			if p := patch(&L.state, m); p != nil {
				v, err := s.updateLocal(sh, p, L.version, false)
				if err != nil {
					s.localFailed(sh, err)
					return
				}
				local = v
			}
			if p := patch(&c.state, m); p != nil {
				s.sendNow(sh, s.updateRequest(p, c.version, m, local))
				return
			}
			s.synced(sh, m, local, c.version)
		}
	case DeviceToCloud:
		switch {
		case L == nil && c != nil && known:
			tok := s.token()
			s.sendNow(sh, &request{op: shadow.OpDelete, token: tok, payload: tokenPayload(tok), local: sh.localVer})
		case L == nil:
			s.synced(sh, nil, sh.localVer, cloudVer)
		case c == nil:
			s.sendNow(sh, s.updateRequest(patch(nil, &L.state), 0, &L.state, L.version))
		default:
			m := mergeState(&L.state, &c.state, base, ownerLocal, ownerLocal)
			if p := patch(&c.state, m); p != nil {
				s.sendNow(sh, s.updateRequest(p, c.version, &L.state, L.version))
				return
			}
			s.synced(sh, &L.state, L.version, c.version)
		}
	case CloudToDevice:
		switch {
		case c == nil && L != nil && known:
			s.applyCloudDelete(sh, cloudVer)
		case c == nil:
			s.synced(sh, nil, sh.localVer, cloudVer)
		case L == nil:
			s.applyCloudState(sh, c, nil, 0)
		default:
			m := mergeState(&L.state, &c.state, base, ownerCloud, ownerCloud)
			local := L.version
			if p := patch(&L.state, m); p != nil {
				v, err := s.updateLocal(sh, p, L.version, false)
				if err != nil {
					s.localFailed(sh, err)
					return
				}
				local = v
			}
			s.synced(sh, &c.state, local, c.version)
		}
	}
}

// applyCloudDelete deletes the local shadow, as the cloud's was.
func (s *Syncer) applyCloudDelete(sh *shadowSync, cloudVer int64) {
	v, err := s.deleteLocal(sh)
	if err != nil {
		s.localFailed(sh, err)
		return
	}
	s.synced(sh, nil, v, cloudVer)
}

// applyCloudState writes the cloud's state locally as the difference from
// from (nil: the whole state, creating the shadow).
func (s *Syncer) applyCloudState(sh *shadowSync, c *doc, from *state, guard int64) {
	v, err := s.updateLocal(sh, patch(from, &c.state), guard, from == nil)
	if err != nil {
		s.localFailed(sh, err)
		return
	}
	s.synced(sh, &c.state, v, c.version)
}

// getLocal reads the local shadow; nil if there is none.
func (s *Syncer) getLocal(sh *shadowSync) (*doc, error) {
	r, err := s.svc.Get(s.ctx, sh.Thing, sh.Name, nil)
	var e *shadow.Error
	if errors.As(err, &e) && e.Code == 404 {
		sh.localKnown, sh.localDoc = true, nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	obj, err := decodeObject(r.Payload)
	if err != nil {
		return nil, err
	}
	d, err := docFrom(obj)
	if err != nil {
		return nil, err
	}
	sh.localKnown, sh.localVer, sh.localDoc = true, d.version, d
	return d, nil
}

// updateLocal applies p to the local shadow with OriginSync, publishes
// what IoT Core would publish, and returns the new version. guard is the
// version the local shadow must have (0: any). create allows an empty p.
func (s *Syncer) updateLocal(sh *shadowSync, p map[string]any, guard int64, create bool) (int64, error) {
	if p == nil && !create {
		return sh.localVer, nil
	}
	if p == nil {
		p = map[string]any{}
	}
	body := map[string]any{"state": p}
	if guard > 0 {
		body["version"] = guard
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	r, err := s.svc.Update(s.ctx, sh.Thing, sh.Name, payload, shadow.OriginSync)
	if err != nil {
		return 0, err
	}
	s.publish(sh.topic(shadow.OpUpdate, "accepted"), r.Payload)
	var cur *doc
	for _, m := range r.Messages {
		s.publish(m.Topic, m.Payload)
		if t, ok := shadow.ParseTopic(m.Topic); ok && t.Reply == "documents" {
			if obj, err := decodeObject(m.Payload); err == nil {
				c, _ := obj["current"].(map[string]any)
				cur, _ = docFrom(c)
			}
		}
	}
	if cur == nil {
		return 0, fmt.Errorf("local update of %s: no update/documents in the reply", sh)
	}
	sh.localKnown, sh.localVer, sh.localDoc = true, cur.version, cur
	return cur.version, nil
}

// deleteLocal deletes the local shadow with OriginSync and returns the
// deleted version; a shadow already gone is fine.
func (s *Syncer) deleteLocal(sh *shadowSync) (int64, error) {
	r, err := s.svc.Delete(s.ctx, sh.Thing, sh.Name, nil, shadow.OriginSync)
	var e *shadow.Error
	if errors.As(err, &e) && e.Code == 404 {
		sh.localKnown, sh.localDoc = true, nil
		return sh.localVer, nil
	}
	if err != nil {
		return 0, err
	}
	s.publish(sh.topic(shadow.OpDelete, "accepted"), r.Payload)
	obj, err := decodeObject(r.Payload)
	if err != nil {
		return 0, err
	}
	v, err := int64Field(obj, "version")
	if err != nil {
		return 0, err
	}
	sh.localKnown, sh.localVer, sh.localDoc = true, v, nil
	return v, nil
}

func (s *Syncer) publish(topic string, payload []byte) {
	if s.bus != nil {
		s.bus.Publish(&bus.Message{Topic: topic, Payload: payload})
	}
}
