package shadow

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"unicode/utf8"
)

// Limits of the document model, from the AWS pages cited in the package
// comment.
const (
	// DefaultMaxDocumentBytes is IoT Core's state document limit and
	// Greengrass's shadowDocumentSizeLimitBytes default.
	DefaultMaxDocumentBytes = 8 * 1024
	// MaxDocumentBytesLimit is the largest shadowDocumentSizeLimitBytes
	// Greengrass accepts.
	MaxDocumentBytesLimit = 30 * 1024

	maxDepth          = 6         // levels in desired or reported, the section itself being level 1
	maxClientToken    = 64        // bytes
	maxRequestPayload = 128 << 10 // IoT Core's MQTT message limit: bounds what is parsed at all
)

// document is one shadow as stored: an immutable value, replaced whole on
// every change, so readers never see a half-applied update and unchanged
// subtrees are shared between versions.
type document struct {
	desired, reported   map[string]any // nil when the section is absent
	mDesired, mReported map[string]any // metadata, same shape, stamps at the leaves
	version             int64

	// body is the encoded {"state","metadata","version"}, set by seal: it is
	// the stored record and, in update/documents, "current" and then
	// "previous", so each version is encoded once.
	body []byte
}

// seal encodes d's body, in a buffer of sizeHint bytes if that is enough;
// d must not change afterwards.
func (d *document) seal(sizeHint int) *document {
	d.body = appendBody(make([]byte, 0, sizeHint), d)
	return d
}

// request is a parsed and validated update request document.
type request struct {
	stateNull    bool // "state": null clears both sections
	desired      any  // map[string]any, or nil for null; only if hasDesired
	reported     any
	hasDesired   bool
	hasReported  bool
	version      int64
	hasVersion   bool
	clientToken  string // "" is no token: an empty one is not echoed
	payloadState any    // state exactly as sent (may be nil), echoed in update/accepted
	raw          []byte // the payload, whose length sizes buffers
}

// parseClientToken finds the clientToken of a get or delete request, whose
// payload IoT Core otherwise ignores: an empty or non-JSON payload is fine.
func parseClientToken(payload []byte) (string, *Error) {
	if len(payload) == 0 || len(payload) > maxRequestPayload || !utf8.Valid(payload) {
		return "", nil
	}
	v, err := decodeJSON(payload)
	if err != nil {
		return "", nil
	}
	obj, _ := v.(map[string]any)
	tok, ok := obj["clientToken"]
	if !ok {
		return "", nil
	}
	s, ok := tok.(string)
	if !ok || len(s) > maxClientToken {
		return "", newError(400, msgInvalidClientToken)
	}
	return s, nil
}

// parseUpdate validates an update request document. The client token is
// read first so that a rejection of anything else can echo it.
func parseUpdate(payload []byte) (*request, *Error) {
	if len(payload) > maxRequestPayload {
		return nil, newError(413, msgPayloadTooLarge)
	}
	if !utf8.Valid(payload) {
		return nil, newError(415, msgUnsupportedEncoding)
	}
	v, err := decodeJSON(payload)
	if err != nil {
		return nil, newError(400, msgInvalidJSON)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, newError(400, msgInvalidJSON)
	}
	r := &request{raw: payload}
	if tok, ok := doc["clientToken"]; ok {
		s, ok := tok.(string)
		if !ok || len(s) > maxClientToken {
			return nil, newError(400, msgInvalidClientToken)
		}
		r.clientToken = s
	}
	reject := func(code int, msg string) (*request, *Error) {
		e := newError(code, msg)
		e.ClientToken = r.clientToken
		return nil, e
	}
	if ver, ok := doc["version"]; ok {
		n, ok := ver.(json.Number)
		if !ok {
			return reject(400, msgInvalidVersion)
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil || i < 0 {
			return reject(400, msgInvalidVersion)
		}
		r.version, r.hasVersion = i, true
	}
	st, ok := doc["state"]
	if !ok {
		return reject(400, msgMissingState)
	}
	r.payloadState = st
	if st == nil {
		r.stateNull = true
		return r, nil
	}
	state, ok := st.(map[string]any)
	if !ok {
		return reject(400, msgStateNotObject)
	}
	for k, sec := range state {
		switch k {
		case "desired":
			r.desired, r.hasDesired = sec, true
		case "reported":
			r.reported, r.hasReported = sec, true
		default:
			return reject(400, msgInvalidNode)
		}
		if sec == nil {
			continue
		}
		obj, ok := sec.(map[string]any)
		if !ok {
			if k == "desired" {
				return reject(400, msgDesiredNotObject)
			}
			return reject(400, msgReportedNotObject)
		}
		if tooDeep(obj, 1) {
			return reject(400, msgTooDeep)
		}
		if nullInArray(obj, false) {
			return reject(400, msgInvalidNode)
		}
	}
	return r, nil
}

// tooDeep reports whether v nests more than maxDepth objects or arrays,
// counting v itself as level.
func tooDeep(v any, level int) bool {
	switch v := v.(type) {
	case map[string]any:
		if level > maxDepth {
			return true
		}
		for _, c := range v {
			if tooDeep(c, level+1) {
				return true
			}
		}
	case []any:
		if level > maxDepth {
			return true
		}
		for _, c := range v {
			if tooDeep(c, level+1) {
				return true
			}
		}
	}
	return false
}

// nullInArray reports a null array element, which IoT Core rejects ("Arrays
// can't have null values"); a null object member is a deletion instead.
func nullInArray(v any, inArray bool) bool {
	switch v := v.(type) {
	case nil:
		return inArray
	case map[string]any:
		for _, c := range v {
			if nullInArray(c, false) {
				return true
			}
		}
	case []any:
		for _, c := range v {
			if nullInArray(c, true) {
				return true
			}
		}
	}
	return false
}

// apply computes the document an accepted update leaves, and the metadata
// of what the request sent. cur is nil for a shadow that does not exist;
// base is then the version it continues from (a recent tombstone's, or 0).
func apply(cur *document, base int64, r *request, ts int64, maxBytes int) (*document, any, *Error) {
	version := base
	if cur != nil {
		version = cur.version
	}
	if r.hasVersion && r.version != version {
		e := newError(409, msgVersionConflict)
		e.ClientToken = r.clientToken
		return nil, nil, e
	}
	next := &document{version: version + 1}
	hint := 256
	if cur != nil {
		hint += len(cur.body) + 2*len(r.raw)
		next.desired, next.mDesired, next.reported, next.mReported = cur.desired, cur.mDesired, cur.reported, cur.mReported
	}
	now := &stamp{ts}
	if r.stateNull {
		next.desired, next.mDesired, next.reported, next.mReported = nil, nil, nil, nil
		return next.seal(64), now, nil
	}
	if r.hasDesired {
		next.desired, next.mDesired = mergeSection(next.desired, next.mDesired, r.desired, now)
	}
	if r.hasReported {
		next.reported, next.mReported = mergeSection(next.reported, next.mReported, r.reported, now)
	}
	if stateSize(next) > maxBytes {
		e := newError(413, msgPayloadTooLarge)
		e.ClientToken = r.clientToken
		return nil, nil, e
	}
	return next.seal(hint), stamps(r.payloadState, now), nil
}

// stateSize is what counts against the document limit: desired and reported
// as compact JSON. Metadata does not count.
func stateSize(d *document) int {
	n := 0
	if d.desired != nil {
		n += jsonSize(d.desired)
	}
	if d.reported != nil {
		n += jsonSize(d.reported)
	}
	return n
}

// mergeSection applies one section of a request: null removes the section,
// an object merges into it.
func mergeSection(cur, mcur map[string]any, patch any, now *stamp) (map[string]any, map[string]any) {
	p, _ := patch.(map[string]any)
	if p == nil {
		return nil, nil
	}
	return mergeObject(cur, mcur, p, now)
}

// mergeObject returns cur with patch merged in, leaving cur untouched: a
// null member deletes, an object merges recursively, anything else (arrays
// included) replaces. Objects left empty are dropped, so a result is nil
// rather than empty.
func mergeObject(cur, mcur, patch map[string]any, now *stamp) (map[string]any, map[string]any) {
	out := make(map[string]any, len(cur)+len(patch))
	maps.Copy(out, cur)
	mout := make(map[string]any, len(cur)+len(patch))
	maps.Copy(mout, mcur)
	for k, pv := range patch {
		switch pv := pv.(type) {
		case nil:
			delete(out, k)
			delete(mout, k)
		case map[string]any:
			child, _ := out[k].(map[string]any)
			var mchild map[string]any
			if child != nil {
				mchild, _ = mout[k].(map[string]any)
			}
			nv, nm := mergeObject(child, mchild, pv, now)
			if nv == nil {
				delete(out, k)
				delete(mout, k)
			} else {
				out[k], mout[k] = nv, nm
			}
		default:
			out[k], mout[k] = pv, stamps(pv, now)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, mout
}

// stamps builds the metadata of v: its shape, with now at every leaf (a null
// one too, which is how update/accepted reports a deletion).
func stamps(v any, now *stamp) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, c := range v {
			m[k] = stamps(c, now)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, c := range v {
			a[i] = stamps(c, now)
		}
		return a
	}
	return now
}

// delta lists the desired members whose value differs from reported,
// recursing into objects present on both sides; arrays are values. nil when
// nothing differs.
func delta(desired, reported map[string]any) map[string]any {
	var out map[string]any
	for k, dv := range desired {
		var d any
		rv, ok := reported[k]
		dm, dObj := dv.(map[string]any)
		rm, rObj := rv.(map[string]any)
		switch {
		case !ok:
			d = dv
		case dObj && rObj:
			if sub := delta(dm, rm); sub != nil {
				d = sub
			}
		case !equalValue(dv, rv):
			d = dv
		}
		if d != nil {
			if out == nil {
				out = make(map[string]any)
			}
			out[k] = d
		}
	}
	return out
}

// deltaMetadata picks the desired metadata of the members in d: "its values
// are equal to the metadata in the desired field".
func deltaMetadata(d any, md any) any {
	dm, ok := d.(map[string]any)
	if !ok {
		return md
	}
	mm, _ := md.(map[string]any)
	out := make(map[string]any, len(dm))
	for k, v := range dm {
		out[k] = deltaMetadata(v, mm[k])
	}
	return out
}

// equalValue compares two state values; numbers compare by value, so a
// reported 1.0 satisfies a desired 1.
// EqualValues reports whether two state values, decoded with json.Number
// numbers, are equal as IoT Core compares them for the delta: numbers by
// value, arrays element by element, objects key by key.
func EqualValues(a, b any) bool { return equalValue(a, b) }

func equalValue(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case json.Number:
		b, ok := b.(json.Number)
		return ok && numberEqual(a, b)
	case string:
		b, ok := b.(string)
		return ok && a == b
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equalValue(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok || !equalValue(av, bv) {
				return false
			}
		}
		return true
	}
	return false
}

func numberEqual(a, b json.Number) bool {
	if a == b {
		return true
	}
	ia, errA := strconv.ParseInt(string(a), 10, 64)
	ib, errB := strconv.ParseInt(string(b), 10, 64)
	if errA == nil && errB == nil {
		return ia == ib // exact beyond float64's 53 bits
	}
	fa, errA := strconv.ParseFloat(string(a), 64)
	fb, errB := strconv.ParseFloat(string(b), 64)
	return errA == nil && errB == nil && fa == fb
}

// Stored records: one byte of kind, then JSON. A tombstone keeps a deleted
// shadow's version so that one re-created within tombstoneTTL continues
// from it, as IoT Core's does.
const (
	recordShadow    = 'S'
	recordTombstone = 'T'
)

func encodeStored(d *document) []byte {
	return append([]byte{recordShadow}, d.body...)
}

func encodeTombstone(version, deletedAt int64) []byte {
	b := []byte{recordTombstone}
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, version, 10)
	b = append(b, `,"deleted":`...)
	b = strconv.AppendInt(b, deletedAt, 10)
	return append(b, '}')
}

// stored is what a record decodes to: a document, or a tombstone.
type stored struct {
	doc       *document
	version   int64 // the tombstone's
	deletedAt int64
}

func decodeStored(rec []byte) (stored, error) {
	if len(rec) == 0 {
		return stored{}, fmt.Errorf("empty record")
	}
	v, err := decodeJSON(rec[1:])
	if err != nil {
		return stored{}, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return stored{}, fmt.Errorf("record is not an object")
	}
	version, err := int64Field(obj, "version")
	if err != nil {
		return stored{}, err
	}
	switch rec[0] {
	case recordTombstone:
		at, err := int64Field(obj, "deleted")
		if err != nil {
			return stored{}, err
		}
		return stored{version: version, deletedAt: at}, nil
	case recordShadow:
		d := &document{version: version}
		state, _ := obj["state"].(map[string]any)
		meta, _ := obj["metadata"].(map[string]any)
		d.desired, _ = state["desired"].(map[string]any)
		d.reported, _ = state["reported"].(map[string]any)
		stamps := map[int64]*stamp{}
		md, err := metadataFor(d.desired, meta["desired"], stamps)
		if err != nil {
			return stored{}, fmt.Errorf("desired metadata: %w", err)
		}
		mr, err := metadataFor(d.reported, meta["reported"], stamps)
		if err != nil {
			return stored{}, fmt.Errorf("reported metadata: %w", err)
		}
		d.mDesired, _ = md.(map[string]any)
		d.mReported, _ = mr.(map[string]any)
		return stored{doc: d.seal(len(rec))}, nil
	}
	return stored{}, fmt.Errorf("unknown record kind %q", rec[0])
}

func int64Field(obj map[string]any, name string) (int64, error) {
	n, ok := obj[name].(json.Number)
	if !ok {
		return 0, fmt.Errorf("missing %s", name)
	}
	return strconv.ParseInt(string(n), 10, 64)
}

// metadataFor rebuilds a decoded metadata tree into stamps, guided by the
// state it describes, and insists the shapes match. Leaves of equal time
// share a stamp from stamps.
func metadataFor(state, meta any, stamps map[int64]*stamp) (any, error) {
	switch s := state.(type) {
	case map[string]any:
		if s == nil {
			return nil, nil
		}
		m, ok := meta.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("object without object metadata")
		}
		out := make(map[string]any, len(s))
		for k, c := range s {
			v, err := metadataFor(c, m[k], stamps)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = v
		}
		return out, nil
	case []any:
		m, ok := meta.([]any)
		if !ok || len(m) != len(s) {
			return nil, fmt.Errorf("array without matching metadata")
		}
		out := make([]any, len(s))
		for i, c := range s {
			v, err := metadataFor(c, m[i], stamps)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = v
		}
		return out, nil
	case nil:
		return nil, nil
	}
	m, ok := meta.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("leaf without a timestamp")
	}
	ts, err := int64Field(m, "timestamp")
	if err != nil {
		return nil, err
	}
	st := stamps[ts]
	if st == nil {
		st = &stamp{ts}
		stamps[ts] = st
	}
	return st, nil
}

// The response documents. Keys come in the order of AWS's examples; JSON
// does not care, people reading logs do.

// appendBody appends {"state":…,"metadata":…,"version":N} without delta,
// as update/documents and the stored record carry it.
func appendBody(b []byte, d *document) []byte {
	b = append(b, `{"state":`...)
	b = appendSections(b, d.desired, d.reported, nil)
	b = append(b, `,"metadata":`...)
	b = appendSections(b, d.mDesired, d.mReported, nil)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, d.version, 10)
	return append(b, '}')
}

func appendSections(b []byte, desired, reported, dlt map[string]any) []byte {
	b = append(b, '{')
	sep := false
	for _, s := range []struct {
		name string
		v    map[string]any
	}{{"desired", desired}, {"reported", reported}, {"delta", dlt}} {
		if s.v == nil {
			continue
		}
		if sep {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, s.name...)
		b = append(b, `":`...)
		b = appendJSON(b, s.v)
		sep = true
	}
	return append(b, '}')
}

func appendTail(b []byte, ts int64, token string) []byte {
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, ts, 10)
	if token != "" {
		b = append(b, `,"clientToken":`...)
		b = appendString(b, token)
	}
	return append(b, '}')
}

// getAccepted is the get/accepted document: the whole shadow, delta included.
func getAccepted(d *document, ts int64, token string) []byte {
	b := append([]byte(nil), `{"state":`...)
	b = appendSections(b, d.desired, d.reported, delta(d.desired, d.reported))
	b = append(b, `,"metadata":`...)
	b = appendSections(b, d.mDesired, d.mReported, nil)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, d.version, 10)
	return appendTail(b, ts, token)
}

// updateAccepted echoes the request's state with the metadata of what it sent.
func updateAccepted(r *request, meta any, version, ts int64) []byte {
	b := append([]byte(nil), `{"state":`...)
	b = appendJSON(b, r.payloadState)
	b = append(b, `,"metadata":`...)
	b = appendJSON(b, meta)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, version, 10)
	return appendTail(b, ts, r.clientToken)
}

// updateDelta is the update/delta document, or nil when desired and
// reported agree.
func updateDelta(d *document, ts int64, token string) []byte {
	dlt := delta(d.desired, d.reported)
	if dlt == nil {
		return nil
	}
	b := append([]byte(nil), `{"version":`...)
	b = strconv.AppendInt(b, d.version, 10)
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, `,"state":`...)
	b = appendJSON(b, dlt)
	b = append(b, `,"metadata":`...)
	b = appendJSON(b, deltaMetadata(dlt, d.mDesired))
	if token != "" {
		b = append(b, `,"clientToken":`...)
		b = appendString(b, token)
	}
	return append(b, '}')
}

// updateDocuments is the update/documents document; prev is nil when the
// update created the shadow, and "previous" is then left out.
func updateDocuments(prev, cur *document, ts int64, token string) []byte {
	b := make([]byte, 0, len(prev.bodyOrNil())+len(cur.body)+128)
	b = append(b, '{')
	if prev != nil {
		b = append(b, `"previous":`...)
		b = append(b, prev.body...)
		b = append(b, ',')
	}
	b = append(b, `"current":`...)
	b = append(b, cur.body...)
	return appendTail(b, ts, token)
}

func (d *document) bodyOrNil() []byte {
	if d == nil {
		return nil
	}
	return d.body
}

// deleteAccepted is delete/accepted: the deleted shadow's version.
func deleteAccepted(version, ts int64, token string) []byte {
	b := append([]byte(nil), `{"version":`...)
	b = strconv.AppendInt(b, version, 10)
	return appendTail(b, ts, token)
}
