// Package shadowsync keeps the host's local shadows (package shadow) in
// step with their copies in AWS IoT Core, through the host's cloud link
// (package cloud), as the shadow manager of AWS IoT Greengrass V2 does. It
// also holds Simulator, a stand-in for IoT Core's shadow service on any
// MQTT broker, for tests and for trying Moss without an AWS account.
//
// # What Greengrass does, and where it says so
//
//   - "Sync local device shadows with AWS IoT Core" (docs.aws.amazon.com/greengrass/v2/developerguide/sync-shadows-with-iot-core.html):
//     the shadows to sync are listed by thing and name; the direction is
//     betweenDeviceAndCloud (the default), deviceToCloud or cloudToDevice.
//     Under "Shadow merge conflict behavior": when both sides changed before
//     a sync, a conflict in desired keeps the cloud's value and one in
//     reported keeps the local value; with deviceToCloud the local value
//     wins every conflict, with cloudToDevice the cloud's.
//   - "Shadow manager" (shadow-manager-component.html): rateLimits
//     maxOutboundSyncUpdatesPerSecond, 100 by default. The component's
//     README gives maxLocalRequestsPerSecondPerThing a default of 20, "Iot
//     Device Shadow default value".
//   - The component's source (github.com/aws-greengrass/aws-greengrass-shadow-manager,
//     src/main/java/com/aws/greengrass/shadowmanager/sync): a sync table
//     keeps, per shadow, the last synced document and the local and cloud
//     versions it had (SyncInformation); an update sent to the cloud carries
//     the cloud version last synced, so a cloud that moved meanwhile refuses
//     it with 409 (CloudUpdateSyncRequest); a cloud update is applied
//     locally only if it is the next cloud version, else the whole shadow
//     is synchronised (LocalUpdateSyncRequest); a full sync gets both
//     documents and merges them three ways against the last synced one,
//     value by value (FullShadowSyncRequest, SyncNodeMerger); a shadow
//     deleted on one side since the last sync is deleted on the other,
//     while one that has never been synced is created there instead.
//   - IoT Core ("Device Shadow error messages", docs.aws.amazon.com/iot/latest/developerguide/device-shadow-error-messages.html)
//     answers 429 when a connection has more than 10 shadow requests in
//     flight.
//
// # How Moss does it
//
// For each configured shadow the sync keeps a record in the host database
// (bucket "shadow.sync", key thing + "\x00" + name): the state as last
// synchronised (nil when neither side had the shadow), the local and cloud
// versions it had then, and whether a sync ever happened. Both sides are
// compared to it, never to each other, which is what stops loops: a change
// the sync applies moves the record along with it, so it is not seen as a
// change again.
//
// Local to cloud: the sync Watches the shadow service. When a synced
// shadow's local version moves away from the record's (a component, the
// CLI or a local MQTT client changed it), the sync sends IoT Core the
// difference between the record's state and the local one, on
// $aws/things/T/shadow[/name/N]/update at QoS 1, with the record's cloud
// version (bidirectional only) and a clientToken of its own. The cloud
// link keeps it in its spool while offline. A local delete becomes a cloud
// delete. One request per shadow is in flight at a time; changes made
// meanwhile are coalesced into the next one, so a chatty component costs
// one request per round trip, not one per change.
//
// Cloud to local: the sync subscribes, through the link, to
// $aws/things/T/shadow[/name/N]/+/+ (every reply topic of the shadow, one
// subscription of the connection's 50; it costs receiving update/delta and
// update/accepted messages too). Replies carrying the sync's clientToken
// answer its requests. An update/documents or delete/accepted message
// whose version is newer than the record's is a change made in the cloud:
// if the local shadow has not changed since the record, the sync applies
// the difference locally with shadow.OriginSync (which the shadow service
// does not rate-limit), moves the record to the new local version, so that
// the change is not sent back, and publishes the replies on the local bus,
// as IoT Core would publish them to the device. (Greengrass applies only the next cloud version and does
// a full sync after a gap; update/documents carries the whole shadow, so
// a gap does not matter here.) If the local shadow has changed too, the
// document is merged as in a full sync, without getting it again. The echo of the sync's own update carries the version its
// reply already recorded, so it is ignored; documents arriving while a
// request is in flight wait for its reply, which tells which is which.
//
// Full sync: at start, after every reconnection (changes made in the cloud
// while offline were not delivered: the link's sessions are clean), when a
// cloud update is refused with 409, or when a reply does not come within
// Options.ReplyTimeout, the sync gets the cloud shadow (…/get) and the
// local one and merges them three ways against the record:
//
//   - a value changed on one side only takes that side's value; one
//     changed on both (a conflict) keeps the local value in reported and
//     the cloud's in desired, as Greengrass does; objects merge member by
//     member; arrays are values (IoT Core replaces them whole, so Moss does
//     not merge them element by element as Greengrass does);
//   - the merged state is written to each side that differs from it, the
//     local one with a version guard, the cloud with the version just read
//     (409 starts over);
//   - a shadow missing on one side that the record says existed was
//     deleted there, and is deleted on the other; one missing on one side
//     that the record does not know (never synced, or absent from both at
//     the last sync) is created there from the other.
//
// Other directions: device_to_cloud never changes the local shadow; the
// record holds the local state last sent, each local change sends its
// difference without a version guard, and a full sync writes the cloud
// only where the local side changed (the local value wins conflicts),
// leaving the cloud's own additions alone. cloud_to_device is the mirror
// image: the local shadow takes the cloud's changes, local changes stay
// local.
//
// Limits: at most Options.RateLimits.PerSecond requests to the cloud per
// second (Greengrass's maxOutboundSyncUpdatesPerSecond, 100),
// PerThingPerSecond per thing (20, IoT Core's per-thing rate) and InFlight
// awaiting their reply (10, past which IoT Core answers 429). A request
// over a limit waits, coalescing with later changes, and the sync logs a
// warning at most every 10 seconds; a 429 from IoT Core is retried with
// backoff and logged the same way.
//
// The link says when it reconnects only through Status, so the sync polls
// it every Options.LinkCheck.
package shadowsync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/cloud"
	"github.com/moss-edge/moss/host/shadow"
	"github.com/moss-edge/moss/host/store"
)

// Bucket is the store bucket holding the sync records.
const Bucket = "shadow.sync"

// Direction says which way a shadow is synchronised.
type Direction string

// The directions, named after Greengrass's betweenDeviceAndCloud,
// deviceToCloud and cloudToDevice.
const (
	Bidirectional Direction = "bidirectional"
	DeviceToCloud Direction = "device_to_cloud"
	CloudToDevice Direction = "cloud_to_device"
)

// Shadow is one shadow to synchronise.
type Shadow struct {
	Thing     string    // required: the thing's name in IoT Core and locally
	Name      string    // "" for the classic shadow
	Direction Direction // "" means Bidirectional
}

func (s Shadow) String() string {
	if s.Name == "" {
		return s.Thing + " (classic)"
	}
	return s.Thing + "/" + s.Name
}

// Cloud is what the sync needs of the cloud link; *cloud.Link has it.
// Publish must return once a QoS 1 message is acknowledged or kept to be
// sent later; Status tells connections apart (State, Reconnects).
type Cloud interface {
	Publish(ctx context.Context, topic string, payload []byte, qos byte) error
	Subscribe(filter string, s bus.Subscriber, id uint32) error
	Unsubscribe(filter string, s bus.Subscriber, id uint32)
	Status() cloud.Status
}

var _ Cloud = (*cloud.Link)(nil)

// RateLimits bounds the requests the sync sends to the cloud. A zero field
// disables its limit.
type RateLimits struct {
	PerSecond         int // all shadows together
	PerThingPerSecond int // the shadows of one thing
	InFlight          int // requests awaiting their reply
}

// The default rate limits; see the package comment.
const (
	DefaultPerSecond         = 100
	DefaultPerThingPerSecond = 20
	DefaultInFlight          = 10
)

// Default timings.
const (
	DefaultReplyTimeout = 10 * time.Second
	DefaultLinkCheck    = 500 * time.Millisecond
)

// Options configures a Syncer. Shadows, Cloud and Store are required.
type Options struct {
	Shadows *shadow.Service // the local shadows; not closed by the Syncer
	Cloud   Cloud           // the link to IoT Core; not closed by the Syncer
	Store   *store.Store    // for the sync records; not closed by the Syncer
	// Bus, if not nil, gets what IoT Core would publish to the device when
	// the sync changes a local shadow (…/update/accepted, update/delta,
	// update/documents, …/delete/accepted), so that components watching
	// the shadow hear of cloud changes.
	Bus *bus.Bus

	Sync []Shadow // the shadows to synchronise

	// RateLimits bounds the requests to the cloud; nil means the defaults
	// (DefaultPerSecond, DefaultPerThingPerSecond, DefaultInFlight).
	RateLimits *RateLimits
	// ReplyTimeout is how long a request may wait for its reply, counted
	// while the link is up, before the shadow is fully synchronised
	// instead; 0 means DefaultReplyTimeout.
	ReplyTimeout time.Duration
	// LinkCheck is how often the link's status is read to notice a
	// reconnection; 0 means DefaultLinkCheck.
	LinkCheck time.Duration

	Logger *slog.Logger // nil means slog.Default()
}

// Syncer synchronises shadows. Its methods are safe for concurrent use.
type Syncer struct {
	svc          *shadow.Service
	cloud        Cloud
	db           *store.Store
	bus          *bus.Bus
	log          *slog.Logger
	replyTimeout time.Duration
	linkCheck    time.Duration
	tokenPrefix  string

	shadows []*shadowSync // subscription id i+1 is shadows[i]
	byKey   map[string]*shadowSync

	// Owned by the sync goroutine.
	lim         *limiter
	seq         uint64
	connected   bool
	reconnects  int
	connSince   time.Time
	throttledAt time.Time // last throttling warning

	mu    sync.Mutex // guards inbox
	inbox []event
	wake  chan struct{} // cap 1: the inbox has something

	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	cancelWatch func()
	closeOnce   sync.Once
}

// New checks opts, loads the sync records, watches the local shadows,
// subscribes on the link and starts the sync goroutine; Close stops it.
// Configuration problems are reported all at once.
func New(opts Options) (*Syncer, error) {
	var errs []error
	if opts.Shadows == nil {
		errs = append(errs, errors.New("Options.Shadows is required"))
	}
	if opts.Cloud == nil {
		errs = append(errs, errors.New("Options.Cloud is required"))
	}
	if opts.Store == nil {
		errs = append(errs, errors.New("Options.Store is required"))
	}
	rl := RateLimits{PerSecond: DefaultPerSecond, PerThingPerSecond: DefaultPerThingPerSecond, InFlight: DefaultInFlight}
	if opts.RateLimits != nil {
		rl = *opts.RateLimits
	}
	if rl.PerSecond < 0 || rl.PerThingPerSecond < 0 || rl.InFlight < 0 {
		errs = append(errs, fmt.Errorf("negative rate limit %+v", rl))
	}
	if opts.ReplyTimeout < 0 || opts.LinkCheck < 0 {
		errs = append(errs, errors.New("negative ReplyTimeout or LinkCheck"))
	}
	s := &Syncer{
		svc: opts.Shadows, cloud: opts.Cloud, db: opts.Store, bus: opts.Bus, log: opts.Logger,
		replyTimeout: opts.ReplyTimeout, linkCheck: opts.LinkCheck,
		byKey: map[string]*shadowSync{},
		lim:   newLimiter(rl, time.Now()),
		wake:  make(chan struct{}, 1),
	}
	for i, sh := range opts.Sync {
		if sh.Direction == "" {
			sh.Direction = Bidirectional
		}
		if err := checkShadow(sh); err != nil {
			errs = append(errs, fmt.Errorf("sync[%d] %s: %w", i, sh, err))
			continue
		}
		k := key(sh.Thing, sh.Name)
		if s.byKey[k] != nil {
			errs = append(errs, fmt.Errorf("sync[%d] %s: listed twice", i, sh))
			continue
		}
		t := shadow.Topic{Thing: sh.Thing, Name: sh.Name, Op: "+", Reply: "+"}
		ss := &shadowSync{Shadow: sh, key: k, id: uint32(len(s.shadows) + 1), filter: t.String(), needFull: true}
		s.shadows = append(s.shadows, ss)
		s.byKey[k] = ss
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("shadow sync: %w", errors.Join(errs...))
	}
	if s.replyTimeout == 0 {
		s.replyTimeout = DefaultReplyTimeout
	}
	if s.linkCheck == 0 {
		s.linkCheck = DefaultLinkCheck
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	var r [4]byte
	rand.Read(r[:])
	s.tokenPrefix = "shadowsync-" + hex.EncodeToString(r[:])

	for _, sh := range s.shadows {
		if err := s.load(sh); err != nil {
			return nil, fmt.Errorf("shadow sync: %s: %w", sh, err)
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.cancelWatch = s.svc.Watch(s.watch)
	for i, sh := range s.shadows {
		if err := s.cloud.Subscribe(sh.filter, s, sh.id); err != nil {
			for _, done := range s.shadows[:i] {
				s.cloud.Unsubscribe(done.filter, s, done.id)
			}
			s.cancelWatch()
			s.cancel()
			return nil, fmt.Errorf("shadow sync: %s: subscribe to %s: %w", sh, sh.filter, err)
		}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.run()
	}()
	return s, nil
}

// checkShadow validates names as the shadow service does.
func checkShadow(sh Shadow) error {
	var errs []error
	switch {
	case sh.Thing == "":
		errs = append(errs, errors.New("no thing name"))
	case len(sh.Thing) > 128 || !shadow.ValidName(sh.Thing):
		errs = append(errs, fmt.Errorf("thing name %q: want 1 to 128 characters of [a-zA-Z0-9:_-]", sh.Thing))
	}
	if len(sh.Name) > 64 || !shadow.ValidName(sh.Name) {
		errs = append(errs, fmt.Errorf("shadow name %q: want up to 64 characters of [a-zA-Z0-9:_-]", sh.Name))
	}
	switch sh.Direction {
	case Bidirectional, DeviceToCloud, CloudToDevice:
	default:
		errs = append(errs, fmt.Errorf("direction %q: want %q, %q or %q", sh.Direction, Bidirectional, DeviceToCloud, CloudToDevice))
	}
	return errors.Join(errs...)
}

func key(thing, name string) string { return thing + "\x00" + name }

// Close stops the sync: it no longer watches the local shadows nor listens
// to the cloud, and returns once its goroutines have. Requests already
// handed to the link stay with it. Closing twice is harmless.
func (s *Syncer) Close() error {
	s.closeOnce.Do(func() {
		s.cancelWatch()
		for _, sh := range s.shadows {
			s.cloud.Unsubscribe(sh.filter, s, sh.id)
		}
		s.cancel()
		s.wg.Wait()
	})
	return nil
}

// record is what the store keeps of a shadow's last sync.
type record struct {
	Direction Direction `json:"direction"`
	Synced    bool      `json:"synced"` // a sync has completed
	// Base is the state as last synchronised (for one-way directions, the
	// source's state as last copied); nil when neither side had the shadow.
	Base  *state `json:"base"`
	Local int64  `json:"local"` // the local version then
	Cloud int64  `json:"cloud"` // the cloud version then
}

func (s *Syncer) load(sh *shadowSync) error {
	data, err := s.db.Get(Bucket, sh.key)
	if errors.Is(err, store.ErrNotFound) {
		sh.st = record{Direction: sh.Direction}
		return nil
	}
	if err != nil {
		return err
	}
	obj, err := decodeObject(data)
	if err != nil {
		return fmt.Errorf("sync record: %w", err)
	}
	var r record
	dir, _ := obj["direction"].(string)
	r.Direction = Direction(dir)
	r.Synced, _ = obj["synced"].(bool)
	if b, ok := obj["base"].(map[string]any); ok {
		r.Base = &state{}
		r.Base.Desired, _ = b["desired"].(map[string]any)
		r.Base.Reported, _ = b["reported"].(map[string]any)
	}
	r.Local, _ = int64Field(obj, "local")
	r.Cloud, _ = int64Field(obj, "cloud")
	if r.Direction != sh.Direction {
		// What the record means depends on the direction: start afresh,
		// as for a shadow never synced.
		s.log.Info("shadow sync direction changed; synchronising as for the first time", "shadow", sh.String(), "was", r.Direction, "now", sh.Direction)
		r = record{Direction: sh.Direction, Local: r.Local, Cloud: r.Cloud}
	}
	sh.st = r
	return nil
}

func (s *Syncer) save(sh *shadowSync) {
	sh.st.Direction = sh.Direction
	data, err := json.Marshal(sh.st)
	if err == nil {
		err = s.db.Put(Bucket, sh.key, data)
	}
	if err != nil {
		s.log.Error("shadow sync record not saved; the next start syncs the shadow again", "shadow", sh.String(), "err", err)
	}
}
