// Package manifest reads a component's manifest, component.toml: its name and
// version, the Wasm module to run, resource limits, default configuration,
// access policy and dependencies.
//
// Decoding is strict: an unknown key, a value of the wrong type or an invalid
// value is an error, and every problem in a file is reported at once, each as
// "file:line: message". Keys under [config] are the component's own and are
// taken as written.
//
// # The Wasm path
//
// wasm.path is relative to the manifest's directory and must not be absolute,
// so that a component directory can be moved or copied whole. It may climb
// out of that directory with "../": a manifest kept with the component's
// sources can then name the module its build writes elsewhere (e.g.
// "../../build/sensor.wasm"). Manifests are trusted configuration (they come
// from the device's operator or a signed deployment), so this is a
// convenience, not a hole; set wasm.sha256 to pin the exact module, which
// ReadWasm checks before the bytes reach the engine.
package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"regexp"
	"slices"

	"github.com/Masterminds/semver/v3"

	"github.com/moss-edge/moss/host/authz"
	"github.com/moss-edge/moss/host/internal/tomlx"
	"github.com/moss-edge/moss/host/limits"
)

// Manifest is a decoded, validated component.toml.
type Manifest struct {
	Name        string `toml:"name"`        // [a-z0-9][a-z0-9._-]{0,63}
	Version     string `toml:"version"`     // strict semver, e.g. "1.2.0"
	Description string `toml:"description"` // free text
	Wasm        Wasm   `toml:"wasm"`
	// Limits set by the component; a zero field takes the host's value.
	Limits limits.Limits `toml:"limits"`
	// Config is the component's default configuration: TOML values as the
	// parser gives them (string, int64, float64, bool, time.Time,
	// map[string]any, []any).
	Config       map[string]any        `toml:"config"`
	Access       []authz.Grant         `toml:"access"`
	Dependencies map[string]Dependency `toml:"dependencies"` // by component name
	// WASI is what the component may reach through WASI besides its own
	// memory: nothing but clocks and randomness unless granted here.
	WASI WASI `toml:"wasi"`
	// Dir is the absolute directory of the manifest file, set by Load; the
	// Wasm path is relative to it. Parse leaves it empty (the current
	// directory).
	Dir string `toml:"-"`
}

// Wasm names the module of a component.
type Wasm struct {
	Path   string `toml:"path"`   // slash-separated, relative to Manifest.Dir
	SHA256 string `toml:"sha256"` // 64 lowercase hex digits, or empty
}

// WASI lists the WASI capabilities a component is granted. Sockets are never
// granted; files only read-only, and only the directories listed.
type WASI struct {
	// Dirs are host directories mounted read-only in the guest.
	Dirs []Mount `toml:"dirs"`
	// Env names host environment variables the guest may read (their
	// values at the component's start); no others are visible.
	Env []string `toml:"env"`
	// Clock gives the real wall and monotonic clocks (default true); false
	// leaves WASI's deterministic fake clock, for reproducible components.
	Clock bool `toml:"clock"`
	// Random gives crypto-quality random bytes (default true); false
	// leaves a deterministic source.
	Random bool `toml:"random"`
}

// Mount is a host directory mounted read-only in the guest.
type Mount struct {
	Host  string `toml:"host"`  // absolute, or relative to the manifest's directory
	Guest string `toml:"guest"` // absolute path inside the guest, e.g. "/data"
}

// Dependency types.
const (
	Hard = "hard" // the dependent restarts when the dependency does
	Soft = "soft" // the dependent only waits for the dependency to start
)

// Dependency is another component this one needs.
type Dependency struct {
	Version string `toml:"version"` // a version range, e.g. ">=1.0.0 <2.0.0" (Masterminds/semver syntax)
	Type    string `toml:"type"`    // Hard or Soft; "hard" when the file leaves it out
}

// Caps on what is read from disk, so that a wrong path (a log, a disk image)
// fails fast instead of filling memory. Variables so tests can lower them.
var (
	maxManifestSize int64 = 1 << 20
	maxWasmSize     int64 = 64 << 20
)

// ErrChecksum is wrapped by the error ReadWasm returns when the module's
// SHA-256 is not the one the manifest pins.
var ErrChecksum = errors.New("sha256 mismatch")

// Load reads and parses the manifest at path and sets Dir.
func Load(file string) (*Manifest, error) {
	data, err := tomlx.ReadFile(file, maxManifestSize)
	if err != nil {
		return nil, err
	}
	m, err := Parse(file, data)
	if err != nil {
		return nil, err
	}
	if m.Dir, err = filepath.Abs(filepath.Dir(file)); err != nil {
		return nil, err
	}
	return m, nil
}

// Parse decodes and validates a manifest. name is the file name used in error
// messages.
func Parse(name string, data []byte) (*Manifest, error) {
	// Every language runtime reads the clock and seeds itself from random
	// bytes, and neither reveals anything of the host: granted unless the
	// manifest says otherwise (see docs/RATIONALE.md).
	m := Manifest{WASI: WASI{Clock: true, Random: true}}
	doc := tomlx.Decode(name, data, &m)
	if doc.OK() {
		m.validate(doc)
	}
	if err := doc.Err(); err != nil {
		return nil, err
	}
	return &m, nil
}

// WasmFile returns the cleaned path of the module, absolute when Dir is.
func (m *Manifest) WasmFile() string {
	return filepath.Join(m.Dir, filepath.FromSlash(m.Wasm.Path))
}

// ReadWasm reads the module (at most 64 MiB) and, when the manifest pins a
// SHA-256, checks it.
func (m *Manifest) ReadWasm() ([]byte, error) {
	file := m.WasmFile()
	data, err := tomlx.ReadFile(file, maxWasmSize)
	if err != nil {
		return nil, fmt.Errorf("component %q: %w", m.Name, err)
	}
	if m.Wasm.SHA256 != "" {
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != m.Wasm.SHA256 {
			return nil, fmt.Errorf("component %q: %w for %s: manifest says %s, file has %s",
				m.Name, ErrChecksum, file, m.Wasm.SHA256, got)
		}
	}
	return data, nil
}

// Policy compiles the component's access grants.
func (m *Manifest) Policy() (*authz.Policy, error) {
	p, err := authz.New(m.Access)
	if err != nil {
		return nil, fmt.Errorf("component %q: access: %w", m.Name, err)
	}
	return p, nil
}

func (m *Manifest) validate(doc *tomlx.Doc) {
	check := doc.Check
	required := doc.Require

	required(tomlx.Path{"name"})
	check(tomlx.Path{"name"}, func() {
		if !ValidName(m.Name) {
			doc.Errorf(tomlx.Path{"name"}, "name %q: %s", m.Name, nameRule)
		}
	})

	required(tomlx.Path{"version"})
	check(tomlx.Path{"version"}, func() {
		if _, err := semver.StrictNewVersion(m.Version); err != nil {
			doc.Errorf(tomlx.Path{"version"}, "version %q is not a strict semantic version (MAJOR.MINOR.PATCH, such as \"1.2.0\"): %v", m.Version, err)
		}
	})

	required(tomlx.Path{"wasm", "path"})
	check(tomlx.Path{"wasm", "path"}, func() {
		p := m.Wasm.Path
		switch {
		case p == "":
			doc.Errorf(tomlx.Path{"wasm", "path"}, "wasm.path is empty")
		case path.IsAbs(p) || filepath.IsAbs(p) || filepath.VolumeName(p) != "":
			doc.Errorf(tomlx.Path{"wasm", "path"}, "wasm.path %q must be relative to the manifest's directory", p)
		}
	})
	check(tomlx.Path{"wasm", "sha256"}, func() {
		if !validSHA256(m.Wasm.SHA256) {
			doc.Errorf(tomlx.Path{"wasm", "sha256"}, "wasm.sha256 %q: want 64 lowercase hexadecimal digits", m.Wasm.SHA256)
		}
	})

	m.validateLimits(doc)
	m.validateAccess(doc)
	m.validateWASI(doc)

	for _, name := range slices.Sorted(maps.Keys(m.Dependencies)) {
		p := tomlx.Path{"dependencies", name}
		if doc.Failed(p) {
			continue
		}
		if !ValidName(name) {
			doc.Errorf(p, "dependency name %q: %s", name, nameRule)
		} else if name == m.Name {
			doc.Errorf(p, "component %q depends on itself", name)
		}
		dep := m.Dependencies[name]
		required(p.Key("version"))
		check(p.Key("version"), func() {
			if _, err := semver.NewConstraint(dep.Version); err != nil {
				doc.Errorf(p.Key("version"), "%s: %q is not a valid version range (such as \">=1.0.0 <2.0.0\" or \"^1.2\"): %v", p.Key("version"), dep.Version, err)
			}
		})
		switch dep.Type {
		case "":
			dep.Type = Hard
			m.Dependencies[name] = dep
		case Hard, Soft:
		default:
			doc.Errorf(p.Key("type"), "%s: %q is not a dependency type (want %q or %q)", p.Key("type"), dep.Type, Hard, Soft)
		}
	}
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// validateWASI checks the grants: guest paths absolute and distinct, host
// paths non-empty, environment variable names well formed.
func (m *Manifest) validateWASI(doc *tomlx.Doc) {
	guests := map[string]bool{}
	for i, d := range m.WASI.Dirs {
		p := tomlx.Path{"wasi", "dirs", i}
		if doc.Failed(p) {
			continue
		}
		if d.Host == "" {
			doc.Errorf(p, "wasi.dirs[%d]: host is required (the directory to mount read-only)", i)
		}
		if !path.IsAbs(d.Guest) || path.Clean(d.Guest) != d.Guest || d.Guest == "/" {
			doc.Errorf(p, "wasi.dirs[%d]: guest %q must be a clean absolute path other than /, such as \"/data\"", i, d.Guest)
		} else if guests[d.Guest] {
			doc.Errorf(p, "wasi.dirs[%d]: guest path %q mounted twice", i, d.Guest)
		}
		guests[d.Guest] = true
	}
	for i, e := range m.WASI.Env {
		if !envName.MatchString(e) {
			doc.Errorf(tomlx.Path{"wasi", "env", i}, "wasi.env: %q is not an environment variable name", e)
		}
	}
}

// HostDir returns a mount's host directory, resolved against the manifest's
// directory.
func (m *Manifest) HostDir(mt Mount) string {
	if filepath.IsAbs(mt.Host) {
		return filepath.Clean(mt.Host)
	}
	return filepath.Join(m.Dir, filepath.FromSlash(mt.Host))
}

// validateLimits checks the limits the file sets. A key set to 0 is an error
// rather than "use the default": leaving the key out says that.
func (m *Manifest) validateLimits(doc *tomlx.Doc) {
	set := limits.Defaults()
	fields := []struct {
		key  string
		copy func()
	}{
		{"memory", func() { set.Memory = m.Limits.Memory }},
		{"call_deadline", func() { set.CallDeadline = m.Limits.CallDeadline }},
		{"mailbox", func() { set.Mailbox = m.Limits.Mailbox }},
		{"max_message", func() { set.MaxMessage = m.Limits.MaxMessage }},
		{"max_subscriptions", func() { set.MaxSubscriptions = m.Limits.MaxSubscriptions }},
		{"publish_rate", func() { set.PublishRate = m.Limits.PublishRate }},
	}
	for _, f := range fields {
		if p := (tomlx.Path{"limits", f.key}); doc.Has(p) && !doc.Failed(p) {
			f.copy()
		}
	}
	reportLimits(doc, tomlx.Path{"limits"}, set.Validate())
}

// reportLimits places each limits.FieldError at its key.
func reportLimits(doc *tomlx.Doc, at tomlx.Path, err error) {
	for _, e := range unwrap(err) {
		var fe *limits.FieldError
		if errors.As(e, &fe) {
			p := at.Key(fe.Field)
			doc.Errorf(p, "%s: %s", p, fe.Msg)
		} else {
			doc.Errorf(at, "%s: %v", at, e)
		}
	}
}

func (m *Manifest) validateAccess(doc *tomlx.Doc) {
	_, err := authz.New(m.Access)
	for _, e := range unwrap(err) {
		var ae *authz.Error
		if !errors.As(e, &ae) {
			doc.Errorf(tomlx.Path{"access"}, "access: %v", e)
			continue
		}
		p := tomlx.Path{"access", ae.Grant, ae.Field}
		// A list that failed to decode, or that is missing from a grant with
		// a mistyped key (most likely the list itself), is already reported.
		if doc.Failed(p) || ae.Index < 0 && doc.Failed(p[:2]) {
			continue
		}
		if ae.Index >= 0 {
			p = p.Key(ae.Index)
		}
		doc.Errorf(p, "%s: %s", p, ae.Msg)
	}
}

// unwrap flattens an errors.Join result.
func unwrap(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

const nameRule = `want 1 to 64 characters from a-z, 0-9, ".", "_" and "-", starting with a letter or digit`

// ValidName reports whether s is a valid component name:
// [a-z0-9][a-z0-9._-]{0,63}. Names are used in topics, file names and logs,
// so they are kept to characters that need no quoting anywhere.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
