package deploy

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/moss-edge/moss/host/internal/tomlx"
	"github.com/moss-edge/moss/host/limits"
	"github.com/moss-edge/moss/host/manifest"
)

// Document is a decoded, validated deployment document. Every default is
// set, so a Document from ParseDocument is complete.
type Document struct {
	// ID names the deployment; it is unique in the device's history.
	ID string `toml:"id"`
	// FailurePolicy says what happens when a component fails to reach
	// RUNNING or errors during probation: Rollback or NoRollback.
	FailurePolicy string       `toml:"failure_policy"`
	UpdatePolicy  UpdatePolicy `toml:"update_policy"`
	Timeouts      Timeouts     `toml:"timeouts"`
	// Components are set to the version and configuration given; the
	// components the device runs that the document does not name stay as
	// they are.
	Components []Component `toml:"components"`
	// Remove lists components to stop and remove.
	Remove []Removal `toml:"remove"`

	// lines of each [[components]] entry, for errors found after decoding.
	lines []int
	file  string
}

// UpdatePolicy says whether running components are asked before they are
// updated (Greengrass's componentUpdatePolicy).
type UpdatePolicy struct {
	// Action is ActionNotify (components may defer the update) or
	// ActionSkip (they are not asked).
	Action string `toml:"action"`
	// Timeout is how long deferring components may hold the deployment;
	// once it has passed, the deployment proceeds.
	Timeout limits.Duration `toml:"timeout"`
}

// Timeouts bound each component's steps.
type Timeouts struct {
	// Start is how long a component has to reach RUNNING (and how long a
	// removal may take).
	Start limits.Duration `toml:"start"`
	// Probation is how long a component must then run without an error
	// for the deployment to succeed; 0 checks only that it has not
	// already failed.
	Probation limits.Duration `toml:"probation"`
}

// Component is one component a deployment sets.
type Component struct {
	Name    string `toml:"name"`
	Version string `toml:"version"` // exact; must be the manifest's
	// Manifest is the component.toml to copy into the component store,
	// relative to the document (or to the artifacts directory given with
	// it); when empty, the component store must already hold the version.
	Manifest string       `toml:"manifest"`
	Config   ConfigUpdate `toml:"config"`
}

// ConfigUpdate changes a component's configuration, as Greengrass's
// configurationUpdate: Reset first, then Merge.
type ConfigUpdate struct {
	// Merge is merged over the configuration (conftree.Merge).
	Merge map[string]any `toml:"merge"`
	// Reset lists slash-separated paths ("window", "limits/max") set back
	// to the manifest's default (removed when the default has none); ""
	// resets the whole configuration. A leading "/" is allowed, as in
	// Greengrass's JSON pointers.
	Reset []string `toml:"reset"`
}

// Removal names a component to remove.
type Removal struct {
	Name string `toml:"name"`
}

// Failure and update policies.
const (
	Rollback   = "rollback"
	NoRollback = "none"

	ActionNotify = "notify"
	ActionSkip   = "skip"
)

// Defaults of a document's optional keys.
const (
	DefaultUpdateTimeout = 60 * time.Second
	DefaultStartTimeout  = 60 * time.Second
	DefaultProbation     = 10 * time.Second
)

// maxDocumentSize bounds what LoadDocument reads.
var maxDocumentSize int64 = 1 << 20

// LoadDocument reads and parses the deployment document at file.
func LoadDocument(file string) (*Document, error) {
	data, err := tomlx.ReadFile(file, maxDocumentSize)
	if err != nil {
		return nil, err
	}
	return ParseDocument(file, data)
}

// ParseDocument decodes and validates a deployment document. name is the
// file name used in error messages. Decoding is strict, as for manifests:
// every problem is reported at once, each as "file:line: message".
func ParseDocument(name string, data []byte) (*Document, error) {
	d, doc := decodeDocument(name, data)
	if err := doc.Err(); err != nil {
		return nil, err
	}
	return d, nil
}

// decodeDocument is ParseDocument that also returns what it decoded when the
// document has errors, so that a rejection can be recorded under its id.
func decodeDocument(name string, data []byte) (*Document, *tomlx.Doc) {
	d := &Document{
		FailurePolicy: Rollback,
		UpdatePolicy:  UpdatePolicy{Action: ActionNotify, Timeout: limits.Duration{Duration: DefaultUpdateTimeout}},
		Timeouts: Timeouts{
			Start:     limits.Duration{Duration: DefaultStartTimeout},
			Probation: limits.Duration{Duration: DefaultProbation},
		},
		file: name,
	}
	doc := tomlx.Decode(name, data, d)
	if doc.OK() {
		d.validate(doc)
	}
	for i := range d.Components {
		d.lines = append(d.lines, doc.Line(tomlx.Path{"components", i}))
	}
	return d, doc
}

// ValidID reports whether s can name a deployment: 1 to 128 characters from
// letters, digits, ".", "_", ":" and "-", starting with a letter or digit.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-' || c == ':'):
		default:
			return false
		}
	}
	return true
}

func (d *Document) validate(doc *tomlx.Doc) {
	check := doc.Check
	required := doc.Require

	required(tomlx.Path{"id"})
	check(tomlx.Path{"id"}, func() {
		if !ValidID(d.ID) {
			doc.Errorf(tomlx.Path{"id"}, "id %q: want 1 to 128 characters from letters, digits, \".\", \"_\", \":\" and \"-\", starting with a letter or digit", d.ID)
		}
	})
	check(tomlx.Path{"failure_policy"}, func() {
		if d.FailurePolicy != Rollback && d.FailurePolicy != NoRollback {
			doc.Errorf(tomlx.Path{"failure_policy"}, "failure_policy %q: want %q or %q", d.FailurePolicy, Rollback, NoRollback)
		}
	})
	check(tomlx.Path{"update_policy", "action"}, func() {
		if a := d.UpdatePolicy.Action; a != ActionNotify && a != ActionSkip {
			doc.Errorf(tomlx.Path{"update_policy", "action"}, "update_policy.action %q: want %q or %q", a, ActionNotify, ActionSkip)
		}
	})
	check(tomlx.Path{"timeouts", "start"}, func() {
		if d.Timeouts.Start.Duration <= 0 {
			doc.Errorf(tomlx.Path{"timeouts", "start"}, "timeouts.start: must be more than 0")
		}
	})

	if !doc.Failed(tomlx.Path{"components"}) && !doc.Failed(tomlx.Path{"remove"}) && len(d.Components) == 0 && len(d.Remove) == 0 {
		doc.Errorf(nil, "the deployment changes nothing: give at least one [[components]] or [[remove]]")
	}

	seen := map[string]string{} // name -> where it was first named
	for i := range d.Components {
		c := &d.Components[i]
		p := tomlx.Path{"components", i}
		if doc.Failed(p) && !doc.IsTable(p) {
			continue
		}
		required(p.Key("name"))
		check(p.Key("name"), func() {
			if !manifest.ValidName(c.Name) {
				doc.Errorf(p.Key("name"), "%s: %q is not a component name: want 1 to 64 characters from a-z, 0-9, \".\", \"_\" and \"-\", starting with a letter or digit", p.Key("name"), c.Name)
				return
			}
			if prev, dup := seen[c.Name]; dup {
				doc.Errorf(p.Key("name"), "%s: component %q is already named by %s", p.Key("name"), c.Name, prev)
				return
			}
			seen[c.Name] = p.String()
		})
		required(p.Key("version"))
		check(p.Key("version"), func() {
			if _, err := semver.StrictNewVersion(c.Version); err != nil {
				doc.Errorf(p.Key("version"), "%s: %q is not an exact version (MAJOR.MINOR.PATCH, such as \"1.2.0\"): %v", p.Key("version"), c.Version, err)
			}
		})
		check(p.Key("manifest"), func() {
			if c.Manifest == "" {
				doc.Errorf(p.Key("manifest"), "%s is empty (leave it out to deploy a version already in the component store)", p.Key("manifest"))
			}
		})
		for j, r := range c.Config.Reset {
			rp := p.Key("config", "reset", j)
			if doc.Failed(rp) {
				continue
			}
			if _, ok := splitPath(r); !ok {
				doc.Errorf(rp, "%s: %q is not a configuration path: want keys separated by \"/\", such as \"window\" or \"limits/max\" (\"\" resets everything)", rp, r)
			}
		}
	}
	for i := range d.Remove {
		r := d.Remove[i]
		p := tomlx.Path{"remove", i}
		if doc.Failed(p) && !doc.IsTable(p) {
			continue
		}
		required(p.Key("name"))
		check(p.Key("name"), func() {
			if !manifest.ValidName(r.Name) {
				doc.Errorf(p.Key("name"), "%s: %q is not a component name", p.Key("name"), r.Name)
				return
			}
			if prev, dup := seen[r.Name]; dup {
				doc.Errorf(p.Key("name"), "%s: component %q is already named by %s", p.Key("name"), r.Name, prev)
				return
			}
			seen[r.Name] = p.String()
		})
	}
}

// splitPath splits a reset path into keys; an empty path (or "/") is the
// whole configuration.
func splitPath(s string) ([]string, bool) {
	s = strings.TrimPrefix(s, "/")
	if s == "" {
		return nil, true
	}
	keys := strings.Split(s, "/")
	for _, k := range keys {
		if k == "" {
			return nil, false
		}
	}
	return keys, true
}

// manifestPath resolves the manifest of c against base (the artifacts
// directory, or the document's directory).
func manifestPath(base, m string) string {
	m = filepath.FromSlash(m)
	if filepath.IsAbs(m) {
		return filepath.Clean(m)
	}
	return filepath.Join(base, m)
}

// errAt is a problem with the i-th component of the document, placed at its
// line.
func (d *Document) errAt(i int, format string, args ...any) *tomlx.Error {
	line := 0
	if i >= 0 && i < len(d.lines) {
		line = d.lines[i]
	}
	return &tomlx.Error{File: d.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}
