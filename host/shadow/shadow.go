// Package shadow is the host's local device shadow service, with the
// semantics of the AWS IoT Device Shadow service so that a device or
// component written against IoT Core works unchanged: classic and named
// shadows of any thing, desired/reported/delta, per-leaf metadata
// timestamps, versions, client tokens, the same error codes and messages,
// the same MQTT request and reply topics and bodies.
//
// # What IoT Core does, and where it says so
//
// From the AWS IoT Core Developer Guide (docs.aws.amazon.com/iot/latest/developerguide/):
//   - "Device Shadow service documents" (device-shadow-document.html): the
//     request, /accepted, /delta, /documents, error and shadow-name-list
//     documents; an update merges into the fields it names, null deletes a
//     field, and a section left null or empty disappears; arrays are values,
//     replaced and compared whole, and may not hold null; the delta holds the
//     desired fields absent from or different from reported, down to the
//     differing leaf, with the desired metadata; metadata gives every leaf
//     {"timestamp": epoch seconds} and does not count toward the size
//     limit; a clientToken longer than 64 bytes is a 400.
//   - "Device Shadow MQTT topics" (device-shadow-mqtt.html): requests on
//     $aws/things/T/shadow[/name/N]/{get,update,delete}, replies on
//     …/accepted and …/rejected, plus …/update/delta when the shadow's
//     desired and reported differ after an update (whatever the update
//     touched) and …/update/documents after every accepted update. There is
//     no MQTT topic to list named shadows; that is ListNamedShadowsForThing
//     over HTTP ("Device Shadow REST API", device-shadow-rest-api.html).
//   - "Interacting with shadows" (device-shadow-data-flow.html): an update
//     naming a version other than the current one is a 409; deleting a
//     shadow does not reset its version, and one re-created within 48 hours
//     continues from the deleted one's version; delete/accepted carries the
//     deleted version.
//   - "Simulating Device Shadow service communications" (using-device-shadows.html):
//     complete accepted/delta/documents bodies, metadata of arrays as arrays
//     of per-element metadata, and the 404 message "No shadow exists with
//     name: 'simShadow1'". The tests replay this walk-through byte for byte.
//   - "Device Shadow error messages" (device-shadow-error-messages.html): 400
//     "Invalid JSON", "Missing required node: state", "State node must be an
//     object", "Desired node must be an object", "Reported node must be an
//     object", "Invalid version", "Invalid clientToken", "JSON contains too
//     many levels of nesting; maximum is 6", "State contains an invalid
//     node"; 404 "No shadow exists with name: …"; 409 "Version conflict"; 413
//     "The payload exceeds the maximum size allowed"; 415 "Unsupported
//     documented encoding; supported encoding is UTF-8"; 429 when too many
//     requests are in flight; 500 "Internal service failure". The page gives
//     no text for 429; this package says "Too Many Requests".
//
// Limits, from "AWS IoT Core endpoints and quotas" (docs.aws.amazon.com/general/latest/gr/iot-core.html,
// Device Shadow section) and AWS IoT Greengrass's shadow manager, which
// runs the same service locally ("Shadow manager", docs.aws.amazon.com/greengrass/v2/developerguide/shadow-manager-component.html,
// and github.com/aws-greengrass/aws-greengrass-shadow-manager):
//   - state document (desired plus reported, compact JSON): 8 KB
//     (8192 bytes); Greengrass's shadowDocumentSizeLimitBytes raises it to
//     at most 30720 bytes. A request payload over 128 KB, IoT Core's MQTT
//     message limit, is refused before it is parsed.
//   - depth: 6 levels in desired or reported (the error message's figure),
//     the section itself being the first, which is how the quotas page's
//     example (desired, one, two, three, four, five) reads; older versions
//     of that page said 5.
//   - thing name 1–128, shadow name 1–64 characters of [a-zA-Z0-9:_-], so no
//     '$' (Greengrass's pattern and messages).
//   - requests: 10 in flight per thing (IoT Core), 20 per second per thing
//     and 200 per second in total (Greengrass's maxLocalRequestsPerSecondPerThing
//     and maxTotalLocalRequestsRate defaults), each over 429.
//   - ListNamedShadowsForThing pages: 1–100 names, 25 by default
//     (Greengrass).
//
// Where the documentation is silent this package chooses, and says so: an
// update setting a member to {} merges nothing (an object member stays, a
// scalar one is replaced by an empty object and so disappears; Greengrass
// deletes the member in both cases); a request version of 0 matches a
// shadow that does not exist (Greengrass accepts it); a state member other
// than desired or reported is "State contains an invalid node", and so is a
// null array element; "state": null clears both sections but keeps the
// shadow, as the data-flow page's note on setting state to null implies.
//
// # Wiring it into the host
//
// The service publishes nothing itself. The host routes what is published
// on $aws/things/+/shadow/# to HandleTopic and publishes the replies it
// returns (replies are not request topics, so they do not loop back). A
// component's shadow host functions call Get, Update, Delete and List, give
// the component Reply.Payload or the *Error, and publish Reply.Messages,
// since IoT Core publishes update/delta and update/documents whoever
// updated. The cloud sync applies IoT Core's changes with OriginSync and
// Watches for changes whose Origin is OriginLocal to send them up.
//
// # Durability and throughput
//
// Shadows live in the host's bbolt file (package store), bucket "shadow",
// key thing + "\x00" + name. An operation returns only after its write is
// committed, and bbolt fsyncs every commit, so an acknowledged change
// survives kill -9. One fsync costs about a millisecond, so writes go
// through one committer goroutine that takes every write waiting at that
// moment into one transaction: group commit, whose batches grow with the
// number of concurrent writers. Changes to one shadow are serialised, each
// waiting for its own commit before the next is computed, so memory never
// runs ahead of the disk and a failed commit (a 500) changes nothing; the
// price is that one shadow takes at most one change per commit, while
// changes to different shadows share commits.
//
// Measured with BenchmarkUpdateDurable on the 2-core development machine
// while other jobs held its load average near 10 (go test -run '^$' -bench
// UpdateDurable -benchtime 3s -count 2): a bbolt commit is two fdatasyncs,
// about 2 ms, so one writer gets 400–570 durable updates/s and 16 writers
// sharing one shadow about the same; 16 writers on their own shadows ~3,100/s,
// 64 ~6,000/s, 256 10,500–17,000/s and 1,024 ~11,000/s. Past a few hundred
// writers the limit is CPU, about 45 µs per update (parse, merge, encode
// the record and the replies, commit) on a shared machine. So 10,000
// durable updates/s takes a few hundred concurrent updates to distinct
// shadows: a fleet of things, not one chatty device, which IoT Core and
// Greengrass cap at 20 requests per second anyway.
//
// Documents are cached in memory after first use, up to
// Options.MaxCachedShadows idle ones (least recently used are dropped and
// re-read on demand): a shadow is at most 30 KB of state, but a gateway may
// serve thousands of things.
package shadow

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moss-edge/moss/host/store"
	bolt "go.etcd.io/bbolt"
)

// bucket is the store bucket holding shadows.
const bucket = "shadow"

// tombstoneTTL is how long a deleted shadow's version is remembered.
const tombstoneTTL = 48 * time.Hour

// DefaultMaxCachedShadows is how many idle shadows stay in memory.
const DefaultMaxCachedShadows = 1024

// Options configures a Service. The zero value of every field but Store
// means its default.
type Options struct {
	Store *store.Store // required; the Service does not close it

	// MaxDocumentBytes limits desired plus reported as compact JSON; 0
	// means DefaultMaxDocumentBytes, and it may not exceed
	// MaxDocumentBytesLimit.
	MaxDocumentBytes int

	// RateLimits bounds local requests; nil means the defaults
	// (DefaultPerThingPerSecond, DefaultTotalPerSecond,
	// DefaultInFlightPerThing).
	RateLimits *RateLimits

	// MaxCachedShadows bounds the idle shadows kept in memory; 0 means
	// DefaultMaxCachedShadows.
	MaxCachedShadows int

	Now    func() time.Time // the clock for timestamps and rate limits; nil means time.Now
	Logger *slog.Logger     // nil means slog.Default()
}

// RateLimits bounds the requests of OriginLocal callers, each excess request
// failing with 429. A zero field disables its limit.
type RateLimits struct {
	PerThingPerSecond int // token bucket per thing, burst one second's worth
	TotalPerSecond    int // token bucket over all things
	InFlightPerThing  int // requests of one thing being processed at once
}

// The default rate limits: Greengrass's maxLocalRequestsPerSecondPerThing
// and maxTotalLocalRequestsRate, and IoT Core's in-flight requests per
// thing (see the package comment).
const (
	DefaultPerThingPerSecond = 20
	DefaultTotalPerSecond    = 200
	DefaultInFlightPerThing  = 10
)

// Origin says who made a change, so that the cloud sync can apply IoT
// Core's changes locally without sending them back.
type Origin uint8

const (
	// OriginLocal is a component or local client; its requests are rate
	// limited.
	OriginLocal Origin = iota
	// OriginSync is the cloud sync applying a change made in IoT Core; it is
	// not rate limited.
	OriginSync
)

func (o Origin) String() string {
	if o == OriginSync {
		return "sync"
	}
	return "local"
}

// Op is a shadow operation, as named in its MQTT topic.
type Op string

// The operations that have MQTT topics. Listing named shadows has none.
const (
	OpGet    Op = "get"
	OpUpdate Op = "update"
	OpDelete Op = "delete"
)

// Message is one MQTT message IoT Core would publish. It converts to
// bus.Message.
type Message struct {
	Topic   string
	Payload []byte
}

// Reply is the outcome of an accepted request.
type Reply struct {
	// Payload is the document IoT Core answers the requester with: the
	// get/accepted, update/accepted or delete/accepted body.
	Payload []byte
	// Messages are what IoT Core publishes whoever asked, over MQTT or not:
	// update/delta and update/documents after an update, nothing after a get
	// or a delete. The caller publishes them.
	Messages []Message
}

// Change tells watchers about an accepted update or delete.
type Change struct {
	Thing   string
	Name    string // "" for the classic shadow
	Op      Op     // OpUpdate or OpDelete
	Origin  Origin
	Version int64 // the new version; a delete carries the deleted one

	Accepted  []byte // the update/accepted or delete/accepted document
	Delta     []byte // the update/delta document; nil if none
	Documents []byte // the update/documents document; nil for a delete
}

// Error is a rejected request: the code and message IoT Core would give.
// It unwraps to the cause of a 500.
type Error struct {
	Code        int    // HTTP status, as in IoT Core's error documents
	Message     string // IoT Core's message text
	ClientToken string // the request's, echoed unless empty
	Timestamp   int64  // epoch seconds
	err         error
}

func (e *Error) Error() string {
	if e.err != nil {
		return fmt.Sprintf("shadow: %d %s: %v", e.Code, e.Message, e.err)
	}
	return fmt.Sprintf("shadow: %d %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.err }

// Payload is the error response document published on …/rejected.
func (e *Error) Payload() []byte {
	b := append([]byte(nil), `{"code":`...)
	b = strconv.AppendInt(b, int64(e.Code), 10)
	b = append(b, `,"message":`...)
	b = appendString(b, e.Message)
	return appendTail(b, e.Timestamp, e.ClientToken)
}

// ErrClosed is the cause of the 500 a closed Service answers.
var ErrClosed = errors.New("shadow service closed")

// IoT Core's messages; see the package comment.
const (
	msgInvalidJSON         = "Invalid JSON"
	msgMissingState        = "Missing required node: state"
	msgStateNotObject      = "State node must be an object"
	msgDesiredNotObject    = "Desired node must be an object"
	msgReportedNotObject   = "Reported node must be an object"
	msgInvalidVersion      = "Invalid version"
	msgInvalidClientToken  = "Invalid clientToken"
	msgTooDeep             = "JSON contains too many levels of nesting; maximum is 6"
	msgInvalidNode         = "State contains an invalid node"
	msgVersionConflict     = "Version conflict"
	msgPayloadTooLarge     = "The payload exceeds the maximum size allowed"
	msgUnsupportedEncoding = "Unsupported documented encoding; supported encoding is UTF-8"
	msgTooManyRequests     = "Too Many Requests"
	msgInternal            = "Internal service failure"
)

func newError(code int, msg string) *Error { return &Error{Code: code, Message: msg} }

func internalError(err error) *Error { return &Error{Code: 500, Message: msgInternal, err: err} }

// Service is the shadow service. It is safe for concurrent use.
type Service struct {
	store    *store.Store
	maxBytes int
	maxIdle  int
	now      func() time.Time
	log      *slog.Logger
	limits   *limiter // nil when every limit is off

	watchMu  sync.Mutex                 // serialises Watch and cancel
	watchers atomic.Pointer[[]*watcher] // copy-on-write; read without a lock

	mu      sync.Mutex // guards entries, idle, closed and entry.refs/elem
	entries map[string]*entry
	idle    list.List // entries nobody holds, most recently used first
	closed  bool

	commits   chan *commitReq // unbuffered: a write is either taken or never was
	quit      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// entry is one cached shadow. Its lock is held by whoever reads or changes
// the shadow, across the commit of a change, which is what serialises
// changes to one shadow.
type entry struct {
	key  string
	lock chan struct{} // a one-slot semaphore, so waiting can honour a context

	refs int           // holders and waiters; guarded by Service.mu
	elem *list.Element // position in Service.idle while refs == 0

	// Guarded by lock.
	loaded    bool
	doc       *document // nil: no shadow
	tombVer   int64     // with doc nil: the deleted shadow's version
	tombAtSec int64     // and when it was deleted
}

// New starts a Service on opts.Store.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("shadow: Options.Store is required")
	}
	maxBytes := opts.MaxDocumentBytes
	if maxBytes == 0 {
		maxBytes = DefaultMaxDocumentBytes
	}
	if maxBytes < 0 || maxBytes > MaxDocumentBytesLimit {
		return nil, fmt.Errorf("shadow: MaxDocumentBytes %d is outside 1..%d", opts.MaxDocumentBytes, MaxDocumentBytesLimit)
	}
	rl := RateLimits{PerThingPerSecond: DefaultPerThingPerSecond, TotalPerSecond: DefaultTotalPerSecond, InFlightPerThing: DefaultInFlightPerThing}
	if opts.RateLimits != nil {
		rl = *opts.RateLimits
	}
	if rl.PerThingPerSecond < 0 || rl.TotalPerSecond < 0 || rl.InFlightPerThing < 0 {
		return nil, fmt.Errorf("shadow: negative rate limit %+v", rl)
	}
	s := &Service{
		store:    opts.Store,
		maxBytes: maxBytes,
		maxIdle:  opts.MaxCachedShadows,
		now:      opts.Now,
		log:      opts.Logger,
		entries:  make(map[string]*entry),
		commits:  make(chan *commitReq),
		quit:     make(chan struct{}),
	}
	if s.maxIdle <= 0 {
		s.maxIdle = DefaultMaxCachedShadows
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if rl != (RateLimits{}) {
		s.limits = newLimiter(rl)
	}
	s.watchers.Store(new([]*watcher))
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.commitLoop()
	}()
	return s, nil
}

// Close stops the committer after the commit in progress; requests made
// afterwards fail with 500 (ErrClosed). It does not close the store.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.quit)
		s.wg.Wait()
	})
	return nil
}

// validateNames checks a thing name and a shadow name ("" is the classic
// shadow), with Greengrass's messages.
func validateNames(thing, name string) *Error {
	switch {
	case thing == "":
		return newError(400, "ThingName is missing")
	case len(thing) > 128:
		return newError(400, "ThingName has a maximum length of 128")
	case !validName(thing):
		return newError(400, "ThingName must match pattern [a-zA-Z0-9:_-]+")
	case len(name) > 64:
		return newError(400, "ShadowName has a maximum length of 64")
	case name != "" && !validName(name):
		return newError(400, "ShadowName must match pattern [a-zA-Z0-9:_-]+")
	}
	return nil
}

// validName reports whether s is all [a-zA-Z0-9:_-].
// ValidName reports whether s is made of IoT Core's thing and shadow name
// characters, [a-zA-Z0-9:_-] (lengths are checked apart: 128 for things,
// 64 for shadows).
func ValidName(s string) bool { return validName(s) }

func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == ':', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

func key(thing, name string) string { return thing + "\x00" + name }

// notFound is IoT Core's 404; the classic shadow is named after its thing.
func notFound(thing, name string) *Error {
	if name == "" {
		name = thing
	}
	return newError(404, fmt.Sprintf("No shadow exists with name: '%s'", name))
}

// fail stamps an *Error with the time and token of the request, turning any
// other error into a 500.
func (s *Service) fail(err error, token string) error {
	var e *Error
	if !errors.As(err, &e) {
		e = internalError(err)
	}
	if e.ClientToken == "" {
		e.ClientToken = token
	}
	e.Timestamp = s.now().Unix()
	return e
}

// Get returns the shadow's get/accepted document. payload is the get
// request's, empty or a JSON object whose clientToken is echoed.
func (s *Service) Get(ctx context.Context, thing, name string, payload []byte) (Reply, error) {
	if err := validateNames(thing, name); err != nil {
		return Reply{}, s.fail(err, "")
	}
	token, terr := parseClientToken(payload)
	if terr != nil {
		return Reply{}, s.fail(terr, "")
	}
	done, err := s.admit(thing, OriginLocal)
	if err != nil {
		return Reply{}, s.fail(err, token)
	}
	defer done()
	e, err := s.acquire(ctx, key(thing, name))
	if err != nil {
		return Reply{}, s.fail(err, token)
	}
	doc := e.doc
	s.release(e)
	if doc == nil {
		return Reply{}, s.fail(notFound(thing, name), token)
	}
	return Reply{Payload: getAccepted(doc, s.now().Unix(), token)}, nil
}

// Update applies an update request document, returns once the new version
// is durable, and tells watchers. A context ending before the write reaches
// the committer cancels the update (a 500 wrapping the context's error);
// once it has, Update waits for the outcome.
func (s *Service) Update(ctx context.Context, thing, name string, payload []byte, origin Origin) (Reply, error) {
	if err := validateNames(thing, name); err != nil {
		return Reply{}, s.fail(err, "")
	}
	req, rerr := parseUpdate(payload)
	if rerr != nil {
		return Reply{}, s.fail(rerr, "")
	}
	done, err := s.admit(thing, origin)
	if err != nil {
		return Reply{}, s.fail(err, req.clientToken)
	}
	defer done()
	k := key(thing, name)
	e, err := s.acquire(ctx, k)
	if err != nil {
		return Reply{}, s.fail(err, req.clientToken)
	}
	now := s.now().Unix()
	prev := e.doc
	next, meta, aerr := apply(prev, e.baseVersion(now), req, now, s.maxBytes)
	if aerr != nil {
		s.release(e)
		return Reply{}, s.fail(aerr, req.clientToken)
	}
	if err := s.commit(ctx, k, encodeStored(next)); err != nil {
		s.release(e)
		s.log.Error("shadow update not committed", "thing", thing, "shadow", name, "version", next.version, "err", err)
		return Reply{}, s.fail(fmt.Errorf("commit version %d of %s/%s: %w", next.version, thing, name, err), req.clientToken)
	}
	e.doc, e.tombVer, e.tombAtSec = next, 0, 0
	s.release(e)

	c := Change{
		Thing: thing, Name: name, Op: OpUpdate, Origin: origin, Version: next.version,
		Accepted:  updateAccepted(req, meta, next.version, now),
		Delta:     updateDelta(next, now, req.clientToken),
		Documents: updateDocuments(prev, next, now, req.clientToken),
	}
	r := Reply{Payload: c.Accepted}
	if c.Delta != nil {
		r.Messages = append(r.Messages, Message{Topic: Topic{Thing: thing, Name: name, Op: OpUpdate, Reply: "delta"}.String(), Payload: c.Delta})
	}
	r.Messages = append(r.Messages, Message{Topic: Topic{Thing: thing, Name: name, Op: OpUpdate, Reply: "documents"}.String(), Payload: c.Documents})
	s.notify(c)
	return r, nil
}

// Delete deletes a shadow, keeping its version for a re-creation, and
// returns once that is durable. payload is the delete request's, empty or a
// JSON object whose clientToken is echoed.
func (s *Service) Delete(ctx context.Context, thing, name string, payload []byte, origin Origin) (Reply, error) {
	if err := validateNames(thing, name); err != nil {
		return Reply{}, s.fail(err, "")
	}
	token, terr := parseClientToken(payload)
	if terr != nil {
		return Reply{}, s.fail(terr, "")
	}
	done, err := s.admit(thing, origin)
	if err != nil {
		return Reply{}, s.fail(err, token)
	}
	defer done()
	k := key(thing, name)
	e, err := s.acquire(ctx, k)
	if err != nil {
		return Reply{}, s.fail(err, token)
	}
	if e.doc == nil {
		s.release(e)
		return Reply{}, s.fail(notFound(thing, name), token)
	}
	now := s.now().Unix()
	version := e.doc.version
	if err := s.commit(ctx, k, encodeTombstone(version, now)); err != nil {
		s.release(e)
		s.log.Error("shadow delete not committed", "thing", thing, "shadow", name, "version", version, "err", err)
		return Reply{}, s.fail(fmt.Errorf("commit deletion of %s/%s: %w", thing, name, err), token)
	}
	e.doc, e.tombVer, e.tombAtSec = nil, version, now
	s.release(e)

	c := Change{Thing: thing, Name: name, Op: OpDelete, Origin: origin, Version: version,
		Accepted: deleteAccepted(version, now, token)}
	s.notify(c)
	return Reply{Payload: c.Accepted}, nil
}

// baseVersion is what a new shadow's version continues from.
func (e *entry) baseVersion(nowSec int64) int64 {
	if e.tombVer > 0 && nowSec-e.tombAtSec <= int64(tombstoneTTL/time.Second) {
		return e.tombVer
	}
	return 0
}

// acquire takes the shadow's lock, loading it on first use.
func (s *Service) acquire(ctx context.Context, k string) (*entry, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, internalError(ErrClosed)
	}
	e := s.entries[k]
	if e == nil {
		e = &entry{key: k, lock: make(chan struct{}, 1)}
		s.entries[k] = e
	}
	if e.elem != nil {
		s.idle.Remove(e.elem)
		e.elem = nil
	}
	e.refs++
	s.mu.Unlock()

	select {
	case e.lock <- struct{}{}:
	case <-ctx.Done():
		s.unref(e)
		return nil, internalError(ctx.Err())
	}
	if !e.loaded {
		if err := s.load(e); err != nil {
			s.release(e)
			s.log.Error("shadow not loaded", "key", e.key, "err", err)
			return nil, internalError(err)
		}
	}
	return e, nil
}

// release drops the shadow's lock.
func (s *Service) release(e *entry) {
	<-e.lock
	s.unref(e)
}

// unref forgets a holder; an entry nobody holds becomes idle, and idle
// entries beyond the cache size are dropped, least recently used first.
func (s *Service) unref(e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.refs--
	if e.refs > 0 {
		return
	}
	e.elem = s.idle.PushFront(e)
	for s.idle.Len() > s.maxIdle {
		old := s.idle.Remove(s.idle.Back()).(*entry)
		old.elem = nil
		delete(s.entries, old.key)
	}
}

// load reads the shadow's record; a missing one is no shadow.
func (s *Service) load(e *entry) error {
	var rec stored
	err := s.store.View(bucket, func(b *bolt.Bucket) error {
		v := b.Get([]byte(e.key))
		if v == nil {
			return nil
		}
		var err error
		rec, err = decodeStored(v) // copies: v is valid only in the transaction
		return err
	})
	if err != nil {
		return fmt.Errorf("load %q: %w", e.key, err)
	}
	e.doc, e.tombVer, e.tombAtSec = rec.doc, rec.version, rec.deletedAt
	e.loaded = true
	return nil
}

// watcher is one Watch registration; a pointer so cancel can find it.
type watcher struct{ fn func(Change) }

// Watch calls fn after every accepted update and delete, whatever its
// origin, until cancel is called. fn runs synchronously in the goroutine
// that made the change, after every lock is released, so it may call the
// Service; it should not block, since the change's caller waits for it.
// Changes to one shadow made from several goroutines may reach fn out of
// order, or at once: order them by Version (for an equal Version, the
// update came before the delete).
func (s *Service) Watch(fn func(Change)) (cancel func()) {
	w := &watcher{fn: fn}
	s.watchMu.Lock()
	old := *s.watchers.Load()
	next := append(append(make([]*watcher, 0, len(old)+1), old...), w)
	s.watchers.Store(&next)
	s.watchMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.watchMu.Lock()
			defer s.watchMu.Unlock()
			cur := *s.watchers.Load()
			next := make([]*watcher, 0, len(cur))
			for _, x := range cur {
				if x != w {
					next = append(next, x)
				}
			}
			s.watchers.Store(&next)
		})
	}
}

func (s *Service) notify(c Change) {
	for _, w := range *s.watchers.Load() {
		w.fn(c)
	}
}
