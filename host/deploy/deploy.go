// Package deploy moves a device from one set of components to another, as
// AWS IoT Greengrass V2 deployments do: a deployment document names
// component versions and configuration changes; the Deployer applies them
// in dependency order, checks that each component reaches RUNNING and stays
// healthy through a probation period, and rolls the device back to the set
// it ran before when something fails. It is never stuck: every step has a
// timeout, and a deployment in progress can be canceled.
//
// # Pieces
//
//   - Document (document.go): the TOML deployment document, decoded
//     strictly like the host configuration.
//   - Store (artifacts.go): the component store, where a deployment's
//     manifests and modules are copied, checked against their SHA-256 and
//     kept (a few versions per component) for rollback.
//   - Deployer (this file): the queue (one deployment at a time, first
//     come first served), the history and the current set, both in the
//     host database, and the steps themselves, done through Host.
//
// # States
//
// A deployment is QUEUED, then IN_PROGRESS, then SUCCEEDED,
// FAILED_ROLLED_BACK (the previous set runs again) or FAILED_NO_ROLLBACK
// (failure_policy = "none", or the rollback failed too: the device runs
// what Host.Installed reports, and the current set says so). It is
// REJECTED, without anything being touched, when its document is invalid,
// a version is unknown, a module does not match its digest, or the
// resulting set cannot run (a missing dependency, a version out of range, a
// cycle); CANCELED when Cancel stops it (a deployment in progress is rolled
// back first).
//
// # Crash consistency
//
// Before it touches anything, the Deployer durably records the deployment
// as IN_PROGRESS together with the previous set and the target set. The
// current set (CurrentBucket) changes only when the deployment ends, in the
// same transaction that records its final status. So after a kill -9 the
// current set is still the previous one: a host that starts the components
// of Current and then calls Recover runs the previous set, and Recover marks
// the interrupted deployment FAILED_ROLLED_BACK ("host restarted during the
// deployment"), restoring any component that differs. The device runs the
// old set or the new set, never a mix, and the history says which.
// A host that stops cleanly mid-deployment (Run's context ends) is treated
// the same way at its next start.
//
// # What the host does
//
// At start: open the database, NewStore(<data_dir>/components), New; run
// the components of Current when it reports a set (it holds manifest paths,
// most in the component store, and each component's full configuration:
// start them as they are, without merging the host configuration's
// [[components]] again), else those of the host configuration; then
// Recover; then Run in a goroutine the host owns. Host.Apply with the
// manifest and configuration a component already runs must still (re)start
// it if it is not RUNNING: a rollback relies on that. Host.Healthy counts
// probation from when the component reached RUNNING, so that checking the
// components of a deployment one after the other costs one probation.
//
// # Configuration
//
// A component's configuration after a deployment is what it ran with (its
// manifest's defaults when new; the new version's defaults merged beneath
// when its version changes), with the document's reset paths set back to
// the manifest's defaults, and its merge table merged over (conftree.Merge).
// Records and the current set store configurations as CBOR, so values keep
// their types across a restart.
//
// # Component store
//
// Versions are immutable: adding a version the store holds with another
// module or manifest is refused. After each deployment the store keeps at
// most keep versions of each component (DefaultKeep), never one that runs,
// is current, or belongs to a queued deployment, and otherwise the most
// recently added.
package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/moss-edge/moss/host/internal/tomlx"
	"github.com/moss-edge/moss/host/manifest"
	"github.com/moss-edge/moss/host/store"
)

// Host is what the Deployer needs from the host. Its methods may be called
// from the Deployer's goroutine while the host runs; the Deployer never
// calls two of them at once.
type Host interface {
	// Installed returns what runs now, by name.
	Installed() map[string]Installed
	// Apply moves one component to the given manifest and config: start it
	// if new, hot-swap it if its version differs (the host keeps its
	// mailbox: no message lost), or just update its configuration. It
	// returns once the component reached RUNNING, or an error (failed to
	// start, timed out: ctx).
	Apply(ctx context.Context, manifest string, cfg map[string]any) error
	// Remove stops and removes a component.
	Remove(ctx context.Context, name string) error
	// Healthy waits for probation and returns an error if the component
	// errored during it.
	Healthy(ctx context.Context, name string, probation time.Duration) error
	// Notify asks components that are about to be updated whether they
	// accept; a component may defer (returns the defer duration); the
	// deployer waits up to update_policy.timeout, asking again.
	Notify(ctx context.Context, names []string) (deferUntil time.Time, err error)
}

// Installed is one component as it runs (or is to run): the manifest it was
// started from and its full, resolved configuration.
type Installed struct {
	Name     string         `json:"name"`
	Version  string         `json:"version"`
	Manifest string         `json:"manifest"` // path of its component.toml
	Config   map[string]any `json:"config,omitempty"`
}

func (i Installed) same(o Installed) bool {
	return i.Name == o.Name && i.Version == o.Version && i.Manifest == o.Manifest && sameConfig(i.Config, o.Config)
}

// Buckets of the host database the Deployer keeps.
const (
	// HistoryBucket holds a Record per deployment, by id.
	HistoryBucket = "deploy.history"
	// CurrentBucket holds the current set: an Installed per component
	// name, plus the key currentKey saying which deployment set it.
	CurrentBucket = "deploy.current"
	// currentKey cannot be a component name (those start with a-z or 0-9).
	currentKey = ".set"
)

// MaxHistory is how many ended deployments the history keeps; the oldest
// go first. Deployment ids are unique among those kept.
const MaxHistory = 100

// maxEvents bounds the progress events kept per deployment; past it, only
// the deployment's status changes are kept.
const maxEvents = 1000

// Status is a deployment's state.
type Status string

// Statuses (see the package documentation).
const (
	Queued           Status = "QUEUED"
	InProgress       Status = "IN_PROGRESS"
	Succeeded        Status = "SUCCEEDED"
	FailedRolledBack Status = "FAILED_ROLLED_BACK"
	FailedNoRollback Status = "FAILED_NO_ROLLBACK"
	Rejected         Status = "REJECTED"
	Canceled         Status = "CANCELED"
)

// Ended reports whether s is final.
func (s Status) Ended() bool {
	switch s {
	case Succeeded, FailedRolledBack, FailedNoRollback, Rejected, Canceled:
		return true
	}
	return false
}

// Step says what a progress event reports.
type Step string

// Steps of a deployment (Progress.Component empty) and of a component.
const (
	StepQueued   Step = "queued"   // accepted; Detail says what it waits for
	StepStarted  Step = "started"  // deployment: IN_PROGRESS; component: Apply called
	StepWaiting  Step = "waiting"  // components deferred the update (Detail: until when)
	StepNotice   Step = "notice"   // something worth saying that changes nothing
	StepStopping Step = "stopping" // component: Remove called
	StepRemoved  Step = "removed"
	StepRunning  Step = "running" // component reached RUNNING
	StepHealthy  Step = "healthy" // and passed probation
	StepFailed   Step = "failed"  // Detail: why
	StepRollback Step = "rolling back"
	StepEnded    Step = "ended" // Status: the final status; Detail: the reason
)

// Progress is one event of a deployment.
type Progress struct {
	Deployment string    `json:"deployment"`
	Time       time.Time `json:"time"`
	// Component, From and To are set for a component's events: From is
	// the version before (empty when new), To the version after (empty
	// when removed).
	Component string `json:"component,omitempty"`
	From      string `json:"from,omitempty"`
	To        string `json:"to,omitempty"`
	// Rollback marks the events of a rollback.
	Rollback bool   `json:"rollback,omitempty"`
	Step     Step   `json:"step"`
	Detail   string `json:"detail,omitempty"`
	// Status is the deployment's status after this event.
	Status Status `json:"status"`
}

// String renders the event as "moss deploy" prints it, e.g.
// "alerts 1.0.0 -> 2.0.0: started" or "deployment d1: SUCCEEDED".
func (p Progress) String() string {
	var b strings.Builder
	if p.Rollback {
		b.WriteString("rollback: ")
	}
	switch {
	case p.Component != "" && p.Rollback && p.From == "":
		b.WriteString(p.Component + " " + p.To + " (restore): " + string(p.Step))
	case p.Component != "":
		b.WriteString(label(p.Component, p.From, p.To))
		b.WriteString(": ")
		b.WriteString(string(p.Step))
	default:
		b.WriteString("deployment ")
		b.WriteString(p.Deployment)
		b.WriteString(": ")
		if p.Step == StepEnded {
			b.WriteString(string(p.Status))
		} else {
			b.WriteString(string(p.Step))
		}
	}
	if p.Detail != "" {
		b.WriteString(": ")
		b.WriteString(p.Detail)
	}
	return b.String()
}

// label names a component's change: "alerts 1.0.0 -> 2.0.0", "alerts
// 2.0.0 (new)", "old 1.0.0 (remove)", or "alerts 2.0.0" for a new
// configuration.
func label(name, from, to string) string {
	switch {
	case from == "":
		return name + " " + to + " (new)"
	case to == "":
		return name + " " + from + " (remove)"
	case from == to:
		return name + " " + to
	}
	return name + " " + from + " -> " + to
}

// Action is what a deployment does to one component.
type Action string

// Actions.
const (
	ActionInstall   Action = "install"   // not running before
	ActionUpdate    Action = "update"    // another version (or manifest)
	ActionConfigure Action = "configure" // same version, new configuration
	ActionRemove    Action = "remove"
)

// Change is one component's part in a deployment and how far it got.
type Change struct {
	Name   string `json:"name"`
	Action Action `json:"action"`
	From   string `json:"from,omitempty"` // version before; empty when installed
	To     string `json:"to,omitempty"`   // version after; empty when removed
	// State is the last step reached: pending, then started, running and
	// healthy (or stopping and removed); failed; rolled back.
	State string `json:"state"`
	Error string `json:"error,omitempty"`
}

// Record is a deployment as the history keeps it.
type Record struct {
	ID     string `json:"id"`
	Seq    uint64 `json:"seq"` // submission order
	Status Status `json:"status"`
	// Reason says why a deployment failed, was rejected or canceled.
	Reason string `json:"reason,omitempty"`
	// Document is the document as submitted; File and Artifacts are the
	// paths it came with.
	Document  string    `json:"document"`
	File      string    `json:"file,omitempty"`
	Artifacts string    `json:"artifacts,omitempty"`
	Submitted time.Time `json:"submitted"`
	Started   time.Time `json:"started,omitzero"`
	Ended     time.Time `json:"ended,omitzero"`
	// WaitingFor lists, for a queued deployment, the deployments ahead of
	// it, the one in progress first. It is worked out when the record is
	// read, not stored.
	WaitingFor []string `json:"waiting_for,omitempty"`
	// Stored is the component store's copy of each component the document
	// names, in document order.
	Stored []Artifact `json:"stored,omitempty"`
	// Previous and Target are the sets before and after, in dependency
	// order, recorded before anything is touched.
	Previous []Installed `json:"previous,omitempty"`
	Target   []Installed `json:"target,omitempty"`
	Changes  []Change    `json:"changes,omitempty"`
	Events   []Progress  `json:"events,omitempty"`
}

// Duration is how long the deployment ran (so far, if it has not ended);
// 0 if it has not started.
func (r *Record) Duration() time.Duration {
	switch {
	case r.Started.IsZero():
		return 0
	case r.Ended.IsZero():
		return time.Since(r.Started)
	}
	return r.Ended.Sub(r.Started)
}

func (r *Record) clone() Record {
	c := *r
	c.WaitingFor = slices.Clone(r.WaitingFor)
	c.Stored = slices.Clone(r.Stored)
	c.Previous = slices.Clone(r.Previous)
	c.Target = slices.Clone(r.Target)
	c.Changes = slices.Clone(r.Changes)
	c.Events = slices.Clone(r.Events)
	return c
}

// Errors the Deployer's methods return (wrapped).
var (
	ErrNotFound    = errors.New("no such deployment")
	ErrDuplicateID = errors.New("deployment id already used")
	ErrEnded       = errors.New("the deployment has already ended")
	ErrNotReady    = errors.New("the deployer is not ready: the host is still starting")
)

// Options configure a Deployer.
type Options struct {
	DB         *store.Store // the host database
	Components *Store       // the component store, in the same database
	Host       Host
	Logger     *slog.Logger // nil: discard
	// OnProgress, when set, is called with every event of every
	// deployment, from the goroutine making it; it must not block.
	OnProgress func(Progress)
}

// Deployer runs deployments one at a time. Create it with New, call
// Recover once at start, then Run in a goroutine it owns. Its methods are
// safe for concurrent use.
type Deployer struct {
	db         *store.Store
	comps      *Store
	host       Host
	log        *slog.Logger
	onProgress func(Progress)

	// subMu keeps GC from removing what a submission is storing: Submit
	// holds it for reading, GC for writing.
	subMu sync.RWMutex

	mu       sync.Mutex
	ready    bool // Recover succeeded
	running  bool // Run was called
	seq      uint64
	queue    []*Record // QUEUED, first to run first
	reserved map[string]bool
	active   *active
	watchers map[string]map[*watcher]struct{}
	wake     chan struct{}
}

type active struct {
	rec        *Record
	ctx        context.Context // ends when Cancel is called or Run's context ends
	cancel     context.CancelCauseFunc
	done       chan struct{}
	committing bool // past the point where Cancel can stop it
}

type watcher struct {
	pending []Progress
	final   *Record
	signal  chan struct{}
}

// errCanceled is the cause of a deployment context Cancel ended.
var errCanceled = errors.New("canceled")

// New returns a Deployer. It reads the history to number new deployments
// but starts nothing.
func New(o Options) (*Deployer, error) {
	if o.DB == nil || o.Components == nil || o.Host == nil {
		return nil, errors.New("deploy: Options need DB, Components and Host")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Deployer{
		db: o.DB, comps: o.Components, host: o.Host, log: o.Logger, onProgress: o.OnProgress,
		reserved: map[string]bool{},
		watchers: map[string]map[*watcher]struct{}{},
		wake:     make(chan struct{}, 1),
	}
	recs, err := d.history()
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		d.seq = max(d.seq, r.Seq)
	}
	return d, nil
}

// Current returns the set of components the last ended deployment left
// running, in dependency order, and whether any deployment has set it.
// When none has, the host runs the components of its configuration file.
func (d *Deployer) Current() ([]Installed, bool, error) {
	return readCurrent(d.db)
}

type currentMark struct {
	Deployment string    `json:"deployment"`
	Time       time.Time `json:"time"`
	Order      []string  `json:"order"`
}

func readCurrent(db *store.Store) ([]Installed, bool, error) {
	var out []Installed
	var set bool
	err := db.View(CurrentBucket, func(b *bolt.Bucket) error {
		v := b.Get([]byte(currentKey))
		if v == nil {
			return nil
		}
		set = true
		var mark currentMark
		if err := unmarshal(v, &mark); err != nil {
			return fmt.Errorf("%s: %w", CurrentBucket, err)
		}
		for _, n := range mark.Order {
			var in Installed
			v := b.Get([]byte(n))
			if v == nil {
				return fmt.Errorf("%s: %q is in the order but has no entry", CurrentBucket, n)
			}
			if err := unmarshal(v, &in); err != nil {
				return fmt.Errorf("%s/%s: %w", CurrentBucket, n, err)
			}
			out = append(out, in)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return out, set, nil
}

// writeCurrent replaces the current set inside tx.
func writeCurrent(tx *bolt.Tx, id string, set []Installed) error {
	if err := tx.DeleteBucket([]byte(CurrentBucket)); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
		return err
	}
	b, err := tx.CreateBucket([]byte(CurrentBucket))
	if err != nil {
		return err
	}
	mark := currentMark{Deployment: id, Time: time.Now().UTC()}
	for _, in := range set {
		v, err := marshal(in)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", CurrentBucket, in.Name, err)
		}
		if err := b.Put([]byte(in.Name), v); err != nil {
			return err
		}
		mark.Order = append(mark.Order, in.Name)
	}
	v, err := marshal(mark)
	if err != nil {
		return err
	}
	return b.Put([]byte(currentKey), v)
}

// history reads every record, in submission order.
func (d *Deployer) history() ([]*Record, error) {
	var out []*Record
	err := d.db.View(HistoryBucket, func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			r := new(Record)
			if err := unmarshal(v, r); err != nil {
				return fmt.Errorf("%s/%s: %w", HistoryBucket, k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	slices.SortFunc(out, func(a, b *Record) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, err
}

// save writes r (and, when set is not nil, the current set) in one durable
// transaction, and trims the history when r has ended.
func (d *Deployer) save(r *Record, set []Installed) error {
	v, err := marshal(r)
	if err != nil {
		return fmt.Errorf("deployment %s: %w", r.ID, err)
	}
	return d.db.Update(HistoryBucket, func(b *bolt.Bucket) error {
		if err := b.Put([]byte(r.ID), v); err != nil {
			return err
		}
		if set != nil {
			if err := writeCurrent(b.Tx(), r.ID, set); err != nil {
				return err
			}
		}
		if r.Status.Ended() {
			return trim(b)
		}
		return nil
	})
}

// trim deletes the oldest ended records beyond MaxHistory.
func trim(b *bolt.Bucket) error {
	type entry struct {
		key string
		seq uint64
	}
	var ended []entry
	err := b.ForEach(func(k, v []byte) error {
		var r struct {
			Seq    uint64 `json:"seq"`
			Status Status `json:"status"`
		}
		if err := unmarshal(v, &r); err == nil && r.Status.Ended() {
			ended = append(ended, entry{string(k), r.Seq})
		}
		return nil
	})
	if err != nil || len(ended) <= MaxHistory {
		return err
	}
	slices.SortFunc(ended, func(a, b entry) int { return cmp.Compare(a.seq, b.seq) })
	for _, e := range ended[:len(ended)-MaxHistory] {
		if err := b.Delete([]byte(e.key)); err != nil {
			return err
		}
	}
	return nil
}

// Get returns a deployment's record.
func (d *Deployer) Get(id string) (Record, error) {
	d.mu.Lock()
	if r := d.liveLocked(id); r != nil {
		out := d.withWaitLocked(r)
		d.mu.Unlock()
		return out, nil
	}
	d.mu.Unlock()
	v, err := d.db.Get(HistoryBucket, id)
	if errors.Is(err, store.ErrNotFound) {
		return Record{}, fmt.Errorf("deployment %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Record{}, err
	}
	var r Record
	if err := unmarshal(v, &r); err != nil {
		return Record{}, fmt.Errorf("%s/%s: %w", HistoryBucket, id, err)
	}
	return r, nil
}

// List returns the history, oldest first (in the order of submission).
func (d *Deployer) List() ([]Record, error) {
	recs, err := d.history()
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Record, 0, len(recs))
	for _, r := range recs {
		if live := d.liveLocked(r.ID); live != nil {
			out = append(out, d.withWaitLocked(live))
		} else {
			out = append(out, *r)
		}
	}
	return out, nil
}

// liveLocked returns the in-memory record of a queued or active deployment.
func (d *Deployer) liveLocked(id string) *Record {
	if d.active != nil && d.active.rec.ID == id {
		return d.active.rec
	}
	for _, r := range d.queue {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// withWaitLocked copies r, saying what it waits for when it is queued.
func (d *Deployer) withWaitLocked(r *Record) Record {
	out := r.clone()
	if r.Status == Queued {
		out.WaitingFor = d.aheadLocked(r.ID)
	}
	return out
}

func (d *Deployer) aheadLocked(id string) []string {
	var ahead []string
	if d.active != nil {
		ahead = append(ahead, d.active.rec.ID)
	}
	for _, r := range d.queue {
		if r.ID == id {
			break
		}
		ahead = append(ahead, r.ID)
	}
	return ahead
}

// Submit stores a deployment's artifacts and queues it. doc is the
// document; file is its path (for messages, and the directory relative
// manifest paths start from), artifacts a directory they start from
// instead (both may be empty when every manifest path is absolute or
// absent).
//
// A document that can be recorded (its id is valid and unused) but is
// invalid, names an unknown version or a module that does not match its
// digest, is recorded as REJECTED and returned with a nil error, its reason
// listing every problem as file:line. Other failures (no usable id, the id
// already used: ErrDuplicateID) return an error and record nothing.
func (d *Deployer) Submit(doc []byte, file, artifacts string) (Record, error) {
	d.mu.Lock()
	ready := d.ready
	d.mu.Unlock()
	if !ready {
		return Record{}, ErrNotReady
	}
	name := file
	if name == "" {
		name = "deployment.toml"
	}
	dd, tdoc := decodeDocument(name, doc)
	problems := tdoc.Err()
	if !ValidID(dd.ID) {
		if problems == nil {
			problems = fmt.Errorf("%s: no valid id", name)
		}
		return Record{}, problems
	}

	// GC must not remove what is stored here before it is queued.
	d.subMu.RLock()
	defer d.subMu.RUnlock()
	if err := d.reserve(dd.ID); err != nil {
		return Record{}, err
	}
	defer func() {
		d.mu.Lock()
		delete(d.reserved, dd.ID)
		d.mu.Unlock()
	}()

	r := &Record{ID: dd.ID, Document: string(doc), File: file, Artifacts: artifacts, Submitted: time.Now().UTC()}
	if problems == nil {
		r.Stored, problems = d.stage(dd, file, artifacts)
	}
	d.mu.Lock()
	d.seq++
	r.Seq = d.seq
	d.mu.Unlock()
	if problems != nil {
		if err := d.finish(r, Rejected, problems.Error()); err != nil {
			return Record{}, err
		}
		return r.clone(), nil
	}

	r.Status = Queued
	d.mu.Lock()
	ahead := d.aheadLocked("")
	d.mu.Unlock()
	detail := "next to run"
	if len(ahead) > 0 {
		detail = "waiting for " + strings.Join(ahead, ", ")
	}
	d.event(r, Progress{Step: StepQueued, Detail: detail})
	if err := d.save(r, nil); err != nil {
		return Record{}, err
	}
	d.mu.Lock()
	d.queue = append(d.queue, r)
	out := d.withWaitLocked(r)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
	return out, nil
}

// reserve claims an id for a submission, refusing one in use.
func (d *Deployer) reserve(id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	taken := d.reserved[id] || d.liveLocked(id) != nil
	if !taken {
		if _, err := d.db.Get(HistoryBucket, id); err == nil {
			taken = true
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if taken {
		return fmt.Errorf("deployment %q: %w (give each deployment a new id)", id, ErrDuplicateID)
	}
	d.reserved[id] = true
	return nil
}

// stage copies the document's manifests and modules into the component
// store, or finds the versions it names there.
func (d *Deployer) stage(doc *Document, file, artifacts string) ([]Artifact, error) {
	base := artifacts
	if base == "" && file != "" {
		base = filepath.Dir(file)
	}
	var problems tomlx.List
	out := make([]Artifact, len(doc.Components))
	for i, c := range doc.Components {
		if c.Manifest == "" {
			a, err := d.comps.Get(c.Name, c.Version)
			if errors.Is(err, ErrUnknownVersion) {
				problems = append(problems, doc.errAt(i, "%s %s: unknown version: not in the component store, and the document gives no manifest", c.Name, c.Version))
				continue
			}
			if err != nil {
				problems = append(problems, doc.errAt(i, "%s %s: %v", c.Name, c.Version, err))
				continue
			}
			out[i] = a
			continue
		}
		if base == "" && !filepath.IsAbs(filepath.FromSlash(c.Manifest)) {
			problems = append(problems, doc.errAt(i, "%s: manifest %q is relative, but the document came with neither its path nor an artifacts directory", c.Name, c.Manifest))
			continue
		}
		path := manifestPath(base, c.Manifest)
		m, err := manifest.Load(path)
		if err != nil {
			problems = append(problems, doc.errAt(i, "%s: %v", c.Name, err))
			continue
		}
		if m.Name != c.Name || m.Version != c.Version {
			problems = append(problems, doc.errAt(i, "%s %s: %s is %s %s", c.Name, c.Version, path, m.Name, m.Version))
			continue
		}
		a, err := d.comps.Add(path)
		if err != nil {
			problems = append(problems, doc.errAt(i, "%v", err))
			continue
		}
		out[i] = a
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return out, nil
}

// event appends p to r's events (stamping it) and hands it to watchers and
// OnProgress. The caller saves r.
func (d *Deployer) event(r *Record, p Progress) {
	d.mu.Lock()
	p = d.eventLocked(r, p)
	d.mu.Unlock()
	d.announce(p)
}

func (d *Deployer) eventLocked(r *Record, p Progress) Progress {
	p.Deployment = r.ID
	p.Time = time.Now().UTC()
	p.Status = r.Status
	if len(r.Events) < maxEvents || p.Component == "" {
		r.Events = append(r.Events, p)
	}
	for w := range d.watchers[r.ID] {
		w.pending = append(w.pending, p)
		select {
		case w.signal <- struct{}{}:
		default:
		}
	}
	return p
}

func (d *Deployer) announce(p Progress) {
	d.log.Info(p.String(), "deployment", p.Deployment, "status", p.Status)
	if d.onProgress != nil {
		d.onProgress(p)
	}
}

// Follow calls fn, in the calling goroutine, with every progress event of
// deployment id, those already recorded first, until the deployment ends;
// then it returns its final record. When ctx ends first it returns the
// record as it stands and ctx's error (the deployment goes on).
func (d *Deployer) Follow(ctx context.Context, id string, fn func(Progress)) (Record, error) {
	d.mu.Lock()
	r := d.liveLocked(id)
	if r == nil {
		d.mu.Unlock()
		rec, err := d.Get(id)
		if err != nil {
			return Record{}, err
		}
		for _, p := range rec.Events {
			fn(p)
		}
		return rec, nil
	}
	if r.Status.Ended() { // ended and saved, not yet out of the worker's hands
		rec := r.clone()
		d.mu.Unlock()
		for _, p := range rec.Events {
			fn(p)
		}
		return rec, nil
	}
	w := &watcher{pending: slices.Clone(r.Events), signal: make(chan struct{}, 1)}
	if d.watchers[id] == nil {
		d.watchers[id] = map[*watcher]struct{}{}
	}
	d.watchers[id][w] = struct{}{}
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.watchers[id], w)
		if len(d.watchers[id]) == 0 {
			delete(d.watchers, id)
		}
		d.mu.Unlock()
	}()
	for {
		d.mu.Lock()
		events, final := w.pending, w.final
		w.pending = nil
		d.mu.Unlock()
		for _, p := range events {
			fn(p)
		}
		if final != nil {
			return *final, nil
		}
		select {
		case <-w.signal:
		case <-ctx.Done():
			rec, err := d.Get(id)
			if err != nil {
				return Record{}, err
			}
			return rec, ctx.Err()
		}
	}
}

// Cancel stops a deployment: a queued one is dropped, one in progress is
// stopped at its current step and rolled back. It returns the final
// record once the deployment has ended (or ctx's error). A deployment that
// had already ended, or got too far to stop, is returned with an error
// wrapping ErrEnded.
func (d *Deployer) Cancel(ctx context.Context, id string) (Record, error) {
	d.mu.Lock()
	if a := d.active; a != nil && a.rec.ID == id {
		if a.committing {
			d.mu.Unlock()
			rec, err := d.wait(ctx, a)
			if err != nil {
				return rec, err
			}
			return rec, fmt.Errorf("deployment %q: %w: %s", id, ErrEnded, rec.Status)
		}
		a.cancel(errCanceled)
		d.mu.Unlock()
		return d.wait(ctx, a)
	}
	i := slices.IndexFunc(d.queue, func(r *Record) bool { return r.ID == id })
	if i < 0 {
		d.mu.Unlock()
		rec, err := d.Get(id)
		if err != nil {
			return Record{}, err
		}
		return rec, fmt.Errorf("deployment %q: %w: %s", id, ErrEnded, rec.Status)
	}
	// Ended and saved under the lock: the worker cannot start it, and it
	// is never missing from both the queue and the history.
	r := d.queue[i]
	p, err := d.endLocked(r, Canceled, "canceled before it started", nil)
	d.queue = slices.Delete(d.queue, i, i+1)
	out := r.clone()
	d.mu.Unlock()
	d.announce(p)
	return out, err
}

// wait waits for the active deployment a to end and returns its record.
func (d *Deployer) wait(ctx context.Context, a *active) (Record, error) {
	select {
	case <-a.done:
	case <-ctx.Done():
		rec, _ := d.Get(a.rec.ID)
		return rec, ctx.Err()
	}
	return d.Get(a.rec.ID)
}

// Recover finishes what a previous run of the host left: a deployment found
// IN_PROGRESS (the host was killed or stopped during it) is rolled back to
// its previous set and marked FAILED_ROLLED_BACK, with the reason "host
// restarted during the deployment" (FAILED_NO_ROLLBACK if restoring fails);
// queued deployments are queued again, in their order. Call it once, after
// the host has started the components of Current (or of its configuration
// when no deployment has set one) and before Run. Nothing can be submitted
// until it has succeeded.
func (d *Deployer) Recover(ctx context.Context) error {
	recs, err := d.history()
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.Status != InProgress {
			continue
		}
		const reason = "host restarted during the deployment"
		d.event(r, Progress{Step: StepRollback, Detail: reason + "; restoring the previous set"})
		if err := d.save(r, nil); err != nil {
			return err
		}
		if err := d.restore(ctx, r, nil, d.startTimeout(r)); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := d.finishWith(r, FailedNoRollback, reason+"; restoring the previous set failed: "+err.Error(), d.snapshot()); err != nil {
				return err
			}
			continue
		}
		if err := d.finishWith(r, FailedRolledBack, reason, r.Previous); err != nil {
			return err
		}
	}
	d.mu.Lock()
	for _, r := range recs {
		if r.Status == Queued {
			d.queue = append(d.queue, r)
		}
	}
	d.ready = true
	d.mu.Unlock()
	d.gc()
	return nil
}

// startTimeout is timeouts.start of r's document (the default if it no
// longer parses).
func (d *Deployer) startTimeout(r *Record) time.Duration {
	if doc, err := ParseDocument(r.ID, []byte(r.Document)); err == nil {
		return doc.Timeouts.Start.Duration
	}
	return DefaultStartTimeout
}

// Run runs queued deployments one at a time until ctx ends. A deployment
// in progress then is left IN_PROGRESS, not rolled back: the host is
// stopping, starts the previous set next time (Current has not changed),
// and Recover records the outcome. Run returns once the deployment it was
// running has stopped.
func (d *Deployer) Run(ctx context.Context) error {
	d.mu.Lock()
	switch {
	case !d.ready:
		d.mu.Unlock()
		return errors.New("deploy: Run before Recover")
	case d.running:
		d.mu.Unlock()
		return errors.New("deploy: Run called twice")
	}
	d.running = true
	d.mu.Unlock()
	for {
		a := d.next(ctx)
		if a == nil {
			return nil
		}
		d.execute(ctx, a)
		a.cancel(nil)
		d.mu.Lock()
		d.active = nil
		d.mu.Unlock()
		close(a.done)
		if ctx.Err() != nil {
			return nil
		}
		d.gc()
	}
}

// next waits for a queued deployment and makes it the active one.
func (d *Deployer) next(ctx context.Context) *active {
	for {
		d.mu.Lock()
		if len(d.queue) > 0 {
			r := d.queue[0]
			d.queue = d.queue[1:]
			actx, cancel := context.WithCancelCause(ctx)
			a := &active{rec: r, ctx: actx, cancel: cancel, done: make(chan struct{})}
			d.active = a
			d.mu.Unlock()
			return a
		}
		d.mu.Unlock()
		select {
		case <-d.wake:
		case <-ctx.Done():
			return nil
		}
	}
}

// gc removes old component versions: never those of the current set, of a
// queued deployment or of the one in progress.
func (d *Deployer) gc() {
	d.subMu.Lock()
	defer d.subMu.Unlock()
	use := map[string]bool{}
	cur, _, err := d.Current()
	if err != nil {
		d.log.Error("component store: not collecting", "err", err)
		return
	}
	for _, in := range cur {
		use[key(in.Name, in.Version)] = true
	}
	for _, in := range d.host.Installed() {
		use[key(in.Name, in.Version)] = true
	}
	d.mu.Lock()
	live := slices.Clone(d.queue)
	if d.active != nil {
		live = append(live, d.active.rec)
	}
	for _, r := range live {
		for _, a := range r.Stored {
			use[key(a.Name, a.Version)] = true
		}
		for _, in := range slices.Concat(r.Previous, r.Target) {
			use[key(in.Name, in.Version)] = true
		}
	}
	d.mu.Unlock()
	removed, err := d.comps.GC(func(name, version string) bool { return use[key(name, version)] })
	for _, a := range removed {
		d.log.Info("component store: removed an old version", "component", a.Name, "version", a.Version)
	}
	if err != nil {
		d.log.Error("component store: collecting old versions", "err", err)
	}
}

// snapshot is what the host runs now, in dependency order.
func (d *Deployer) snapshot() []Installed {
	set := d.host.Installed()
	mans := map[string]*manifest.Manifest{}
	for n, in := range set {
		if m, err := manifest.Load(in.Manifest); err == nil {
			mans[n] = m
		}
	}
	return inOrder(set, mans)
}

// inOrder lists set in dependency order as far as mans allows; components
// without a manifest come last, by name.
func inOrder(set map[string]Installed, mans map[string]*manifest.Manifest) []Installed {
	known := map[string]*manifest.Manifest{}
	for n := range set {
		if m := mans[n]; m != nil {
			known[n] = m
		}
	}
	names, _ := order(known, false)
	for _, n := range sortedKeys(set) {
		if known[n] == nil {
			names = append(names, n)
		}
	}
	out := make([]Installed, 0, len(names))
	for _, n := range names {
		out = append(out, set[n])
	}
	return out
}

// finish records r's final status without touching the current set (the
// deployment changed nothing), then tells watchers.
func (d *Deployer) finish(r *Record, status Status, reason string) error {
	return d.end(r, status, reason, nil)
}

// finishWith records r's final status and makes set the current set, in
// one transaction, then tells watchers.
func (d *Deployer) finishWith(r *Record, status Status, reason string, set []Installed) error {
	if set == nil {
		set = []Installed{} // an empty set is still a set
	}
	return d.end(r, status, reason, set)
}

func (d *Deployer) end(r *Record, status Status, reason string, set []Installed) error {
	d.mu.Lock()
	p, err := d.endLocked(r, status, reason, set)
	d.mu.Unlock()
	d.announce(p)
	if err != nil {
		d.log.Error("deployment: recording the outcome", "deployment", r.ID, "status", status, "err", err)
	}
	return err
}

// endLocked sets r's final status, saves it (and set, when not nil) and
// then hands watchers the event that says so with the final record. The
// lock is held across the write so that nobody sees the outcome before it
// is durable.
func (d *Deployer) endLocked(r *Record, status Status, reason string, set []Installed) (Progress, error) {
	r.Status, r.Reason, r.Ended = status, reason, time.Now().UTC()
	ws := d.watchers[r.ID]
	delete(d.watchers, r.ID) // nobody is told before the save
	p := d.eventLocked(r, Progress{Step: StepEnded, Detail: reason})
	err := d.save(r, set)
	if ws != nil {
		d.watchers[r.ID] = ws
	}
	for w := range ws {
		w.pending = append(w.pending, p)
		c := r.clone()
		w.final = &c
		select {
		case w.signal <- struct{}{}:
		default:
		}
	}
	return p, err
}
