package deploy

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/Masterminds/semver/v3"
	bolt "go.etcd.io/bbolt"

	"github.com/moss-edge/moss/host/internal/tomlx"
	"github.com/moss-edge/moss/host/manifest"
	"github.com/moss-edge/moss/host/store"
)

// DefaultKeep is how many versions of each component the component store
// keeps when NewStore is given 0.
const DefaultKeep = 3

// IndexBucket is the bucket of the host database that indexes the
// component store, by "name/version".
const IndexBucket = "deploy.components"

// ManifestFile is the name of a stored manifest in its version directory.
const ManifestFile = "component.toml"

// Errors of the component store, wrapped by what its methods return.
var (
	// ErrUnknownVersion: the store does not hold that version.
	ErrUnknownVersion = errors.New("not in the component store")
	// ErrVersionConflict: the store holds that version with other
	// content; a version, once stored, is immutable.
	ErrVersionConflict = errors.New("already in the component store with different content")
)

// Artifact is one component version in the store.
type Artifact struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Manifest is the absolute path of the stored component.toml; its
	// wasm.path names the module beside it and wasm.sha256 pins it.
	Manifest string `json:"manifest"`
	// SHA256 is the module's digest (64 lowercase hex digits); the module
	// is stored as <SHA256>.wasm.
	SHA256 string `json:"sha256"`
	// Added is when the version was last added (a second Add of the same
	// content refreshes it).
	Added time.Time `json:"added"`
}

// Store is the component store: the manifests and modules that deployments
// install, one directory per version (<dir>/<name>/<version>/), indexed in
// the host database. Stored versions are immutable and their modules
// addressed by SHA-256, so a rollback finds exactly what ran before.
//
// A Store is safe for concurrent use.
type Store struct {
	dir  string
	db   *store.Store
	keep int

	mu sync.Mutex // serialises Add and GC
}

// NewStore opens the component store in dir (created with mode 0700, e.g.
// <data_dir>/components), indexed in db. keep is how many versions of each
// component GC leaves (0 for DefaultKeep). It removes what an interrupted
// Add left behind: temporary directories and version directories that the
// index does not list.
func NewStore(dir string, db *store.Store, keep int) (*Store, error) {
	if keep <= 0 {
		keep = DefaultKeep
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("component store: %w", err)
	}
	s := &Store{dir: abs, db: db, keep: keep}
	if err := s.sweep(); err != nil {
		return nil, fmt.Errorf("component store %s: %w", abs, err)
	}
	return s, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

func key(name, version string) string { return name + "/" + version }

// sweep removes directories the index does not know.
func (s *Store) sweep() error {
	known := map[string]bool{}
	as, err := s.List()
	if err != nil {
		return err
	}
	for _, a := range as {
		known[key(a.Name, a.Version)] = true
	}
	top, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	for _, e := range top {
		p := filepath.Join(s.dir, e.Name())
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".tmp-") {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
			continue
		}
		versions, err := os.ReadDir(p)
		if err != nil {
			return err
		}
		for _, v := range versions {
			if !known[key(e.Name(), v.Name())] {
				if err := os.RemoveAll(filepath.Join(p, v.Name())); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Add copies the manifest at manifestFile and its module into the store
// and returns the stored version. The module is checked against the
// manifest's wasm.sha256 when it has one (a mismatch wraps
// manifest.ErrChecksum); its digest is computed and recorded either way.
// The stored manifest is the original re-encoded with wasm.path naming the
// stored module, wasm.sha256 pinning it, and relative wasi.dirs made
// absolute. Adding a version the store already holds with the same content
// only refreshes its Added time; with other content it is refused
// (ErrVersionConflict).
func (s *Store) Add(manifestFile string) (Artifact, error) {
	m, err := manifest.Load(manifestFile)
	if err != nil {
		return Artifact{}, err
	}
	code, err := m.ReadWasm()
	if errors.Is(err, manifest.ErrChecksum) {
		return Artifact{}, fmt.Errorf("%s %s: artifact digest mismatch: %w", m.Name, m.Version, err)
	}
	if err != nil {
		return Artifact{}, fmt.Errorf("%s %s: %w", m.Name, m.Version, err)
	}
	sum := sha256.Sum256(code)
	digest := hex.EncodeToString(sum[:])
	text, err := s.storedManifest(manifestFile, m, digest)
	if err != nil {
		return Artifact{}, fmt.Errorf("%s %s: %w", m.Name, m.Version, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	final := filepath.Join(s.dir, m.Name, m.Version)
	a := Artifact{
		Name: m.Name, Version: m.Version, SHA256: digest, Added: time.Now().UTC(),
		Manifest: filepath.Join(final, ManifestFile),
	}
	if old, err := s.Get(m.Name, m.Version); err == nil {
		if old.SHA256 != digest {
			return Artifact{}, fmt.Errorf("%s %s: %w: it holds the module with sha256 %s, %s has %s; give the new build a new version",
				m.Name, m.Version, ErrVersionConflict, old.SHA256, m.WasmFile(), digest)
		}
		have, err := os.ReadFile(old.Manifest)
		if err != nil {
			return Artifact{}, fmt.Errorf("%s %s: %w", m.Name, m.Version, err)
		}
		if !bytes.Equal(have, text) {
			return Artifact{}, fmt.Errorf("%s %s: %w: the module is the same but %s differs from the stored manifest; give it a new version",
				m.Name, m.Version, ErrVersionConflict, manifestFile)
		}
		return a, s.put(a)
	} else if !errors.Is(err, ErrUnknownVersion) {
		return Artifact{}, err
	}

	tmp, err := os.MkdirTemp(s.dir, ".tmp-")
	if err != nil {
		return Artifact{}, fmt.Errorf("component store: %w", err)
	}
	defer os.RemoveAll(tmp) // gone after the rename; cleans up a failure
	if err := writeFile(filepath.Join(tmp, digest+".wasm"), code); err != nil {
		return Artifact{}, err
	}
	if err := writeFile(filepath.Join(tmp, ManifestFile), text); err != nil {
		return Artifact{}, err
	}
	if err := syncDir(tmp); err != nil {
		return Artifact{}, err
	}
	parent := filepath.Dir(final)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return Artifact{}, fmt.Errorf("component store: %w", err)
	}
	// A directory the index does not list is what an interrupted Add left.
	if err := os.RemoveAll(final); err != nil {
		return Artifact{}, fmt.Errorf("component store: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return Artifact{}, fmt.Errorf("component store: %w", err)
	}
	if err := syncDir(parent); err != nil {
		return Artifact{}, err
	}
	// Indexed last: a crash before this leaves a directory that NewStore
	// removes, never an index entry without its files.
	return a, s.put(a)
}

// storedManifest re-encodes the manifest for the store.
func (s *Store) storedManifest(file string, m *manifest.Manifest, digest string) ([]byte, error) {
	data, err := tomlx.ReadFile(file, 1<<20)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	wasm, _ := raw["wasm"].(map[string]any)
	if wasm == nil {
		wasm = map[string]any{}
	}
	wasm["path"] = digest + ".wasm"
	wasm["sha256"] = digest
	raw["wasm"] = wasm
	if wasi, ok := raw["wasi"].(map[string]any); ok {
		if dirs, ok := wasi["dirs"].([]map[string]any); ok {
			for _, d := range dirs {
				if h, ok := d["host"].(string); ok {
					d["host"] = filepath.ToSlash(m.HostDir(manifest.Mount{Host: h}))
				}
			}
		}
	}
	var b bytes.Buffer
	b.WriteString("# Stored by moss: wasm.path names the module beside this file, wasm.sha256 pins it.\n")
	if err := toml.NewEncoder(&b).Encode(raw); err != nil {
		return nil, fmt.Errorf("re-encoding %s: %w", file, err)
	}
	// The copy must say what the original says.
	got, err := manifest.Parse(ManifestFile, b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("re-encoding %s changed it: %w", file, err)
	}
	if got.Name != m.Name || got.Version != m.Version || got.Wasm.SHA256 != digest {
		return nil, fmt.Errorf("re-encoding %s changed it: %s %s", file, got.Name, got.Version)
	}
	return b.Bytes(), nil
}

func (s *Store) put(a Artifact) error {
	v, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return s.db.Put(IndexBucket, key(a.Name, a.Version), v)
}

// Get returns the stored version of a component, or an error wrapping
// ErrUnknownVersion.
func (s *Store) Get(name, version string) (Artifact, error) {
	v, err := s.db.Get(IndexBucket, key(name, version))
	if errors.Is(err, store.ErrNotFound) {
		return Artifact{}, fmt.Errorf("%s %s: %w", name, version, ErrUnknownVersion)
	}
	if err != nil {
		return Artifact{}, err
	}
	var a Artifact
	if err := json.Unmarshal(v, &a); err != nil {
		return Artifact{}, fmt.Errorf("component store index %s: %w", key(name, version), err)
	}
	return a, nil
}

// List returns every stored version, by name, newest first.
func (s *Store) List() ([]Artifact, error) {
	var out []Artifact
	err := s.db.View(IndexBucket, func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			var a Artifact
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("component store index %s: %w", k, err)
			}
			out = append(out, a)
			return nil
		})
	})
	slices.SortFunc(out, newestFirst)
	return out, err
}

// newestFirst orders artifacts by name, then most recently added first
// (then highest version first).
func newestFirst(a, b Artifact) int {
	if c := cmp.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	if c := b.Added.Compare(a.Added); c != 0 {
		return c
	}
	va, ea := semver.NewVersion(a.Version)
	vb, eb := semver.NewVersion(b.Version)
	if ea == nil && eb == nil {
		return vb.Compare(va)
	}
	return cmp.Compare(b.Version, a.Version)
}

// GC removes old versions so that at most keep versions of each component
// remain: the ones inUse reports always stay, and the most recently added
// others fill the remaining places. It returns what it removed.
func (s *Store) GC(inUse func(name, version string) bool) ([]Artifact, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	byName := map[string][]Artifact{}
	for _, a := range all {
		byName[a.Name] = append(byName[a.Name], a)
	}
	var removed []Artifact
	var errs []error
	for _, name := range sortedKeys(byName) {
		as := byName[name]
		kept := 0
		for _, a := range as {
			if inUse(a.Name, a.Version) {
				kept++
			}
		}
		for _, a := range as { // newest first
			if inUse(a.Name, a.Version) {
				continue
			}
			if kept < s.keep {
				kept++
				continue
			}
			// The index entry goes first: a crash in between leaves a
			// directory NewStore sweeps, never an entry without files.
			if err := s.db.Delete(IndexBucket, key(a.Name, a.Version)); err != nil {
				errs = append(errs, err)
				continue
			}
			if err := os.RemoveAll(filepath.Dir(a.Manifest)); err != nil {
				errs = append(errs, err)
			}
			removed = append(removed, a)
		}
		if dir := filepath.Join(s.dir, name); len(as) > 0 {
			os.Remove(dir) // only succeeds when empty
		}
	}
	return removed, errors.Join(errs...)
}

// writeFile writes data to a new file (mode 0600) and syncs it.
func writeFile(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("component store: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("component store: write %s: %w", name, err)
	}
	return nil
}

// syncDir makes a directory's entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("component store: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return fmt.Errorf("component store: sync %s: %w", dir, err)
	}
	return nil
}
