// Package config reads the host configuration file: where the host keeps its
// data, how it logs, how it restarts failing components, the default limits
// for components, and which components to run.
//
// Decoding is strict, as for manifests: unknown keys, wrong types and invalid
// values are all reported at once, each as "file:line: message". Keys under
// [components.config] belong to the component and are taken as written.
//
// Relative paths (data_dir, admin_socket, components.manifest) are relative
// to the directory of the configuration file, not to the directory the host
// was started from, so a configuration means the same thing however it is
// launched. Every default is set before decoding, so a Config from Load or
// Parse is complete; in [limits] a key set to 0 is an error rather than a
// request for the default (leave the key out for that).
package config

import (
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/moss-edge/moss/host/internal/tomlx"
	"github.com/moss-edge/moss/host/limits"
)

// Config is the host configuration.
type Config struct {
	DataDir     string `toml:"data_dir"`     // the host's state: database, compilation cache
	LogLevel    string `toml:"log_level"`    // debug, info, warn or error
	AdminSocket string `toml:"admin_socket"` // unix socket the CLI talks to
	// CacheDir holds compiled machine code of components, keyed by module
	// hash, so a restart does not recompile; default <data_dir>/cache. On a
	// device it may live on a different partition than the state.
	CacheDir string `toml:"cache_dir"`
	// SecretKeyFile is the device key that encrypts secrets at rest,
	// created (mode 0600) at first start; default <data_dir>/secret.key.
	SecretKeyFile string    `toml:"secret_key_file"`
	Lifecycle     Lifecycle `toml:"lifecycle"`
	// Limits are the host-wide defaults for component limits; a
	// component's manifest may set its own.
	Limits limits.Limits `toml:"limits"`
	// Cloud is the link to AWS IoT Core; with no endpoint the host runs
	// offline and spools what components send to the cloud.
	Cloud Cloud `toml:"cloud"`
	// Shadow configures the local device shadow service.
	Shadow     Shadow         `toml:"shadow"`
	Metrics    Metrics        `toml:"metrics"` // observe.go
	Health     Health         `toml:"health"`  // observe.go
	Components []ComponentRef `toml:"components"`
	// Broker is the MQTT broker for client devices; off when absent.
	Broker *Broker `toml:"broker"`
	// File is the path the configuration was loaded from; empty from
	// Default or Parse.
	File string `toml:"-"`
}

// Lifecycle says how the host restarts components that fail.
type Lifecycle struct {
	// RestartBackoff is the delay before the first restart after an error;
	// it doubles with each further error up to MaxRestartBackoff.
	RestartBackoff    limits.Duration `toml:"restart_backoff"`
	MaxRestartBackoff limits.Duration `toml:"max_restart_backoff"`
	// BrokenAfter errors within ErrorWindow make a component BROKEN: it is
	// not restarted again until redeployed.
	BrokenAfter int             `toml:"broken_after"`
	ErrorWindow limits.Duration `toml:"error_window"`
	// StopTimeout is how long a component gets to handle its stop event.
	StopTimeout limits.Duration `toml:"stop_timeout"`
}

// Cloud configures the MQTT link to AWS IoT Core (or any MQTT 5 broker
// with mutual TLS).
type Cloud struct {
	// Endpoint is the IoT Core data endpoint (xxxx-ats.iot.REGION.amazonaws.com);
	// empty means offline: cloud publishes spool until one is configured.
	Endpoint string `toml:"endpoint"`
	// Port is 8883, or 443 (which uses ALPN "x-amzn-mqtt-ca").
	Port int `toml:"port"`
	// ThingName is the device's thing, also its MQTT client id.
	ThingName string `toml:"thing_name"`
	Cert      string `toml:"cert"`    // device certificate (PEM)
	Key       string `toml:"key"`     // its private key (PEM, mode 0600)
	RootCA    string `toml:"root_ca"` // CA that signed the broker's certificate
	// KeepAlive is the MQTT keep-alive; IoT Core accepts 30s to 1200s.
	KeepAlive limits.Duration `toml:"keep_alive"`
	// ConnectTimeout bounds one connection attempt (TCP, TLS and CONNACK).
	ConnectTimeout limits.Duration `toml:"connect_timeout"`
	// Reconnect delays grow exponentially (with jitter) from ReconnectMin
	// to ReconnectMax while the broker cannot be reached.
	ReconnectMin limits.Duration `toml:"reconnect_min"`
	ReconnectMax limits.Duration `toml:"reconnect_max"`
	// PublishRate caps messages a second to the cloud (IoT Core allows 100
	// per connection); 0 lifts the cap, e.g. for a local broker. Messages
	// over the rate wait in the spool.
	PublishRate int   `toml:"max_publish_rate"`
	Spool       Spool `toml:"spool"`
}

// Shadow configures the device shadow service.
type Shadow struct {
	// MaxDocumentBytes limits a shadow's state (desired plus reported, as
	// compact JSON): IoT Core's 8 KiB by default, at most 30 KiB as
	// Greengrass allows.
	MaxDocumentBytes int `toml:"max_document_bytes"`
	// Sync lists the shadows kept in step with IoT Core's shadow service
	// through the cloud link.
	Sync []ShadowSync `toml:"sync"`
}

// ShadowSync is one shadow synchronised with the cloud.
type ShadowSync struct {
	Thing     string `toml:"thing"`     // "": the device's thing
	Name      string `toml:"name"`      // "": the classic shadow
	Direction string `toml:"direction"` // bidirectional (default), device_to_cloud or cloud_to_device
}

// DefaultThing is the device's thing name for shadows when [cloud] names
// none.
const DefaultThing = "moss"

// Thing is the device's thing name: cloud.thing_name, or DefaultThing.
func (c *Config) Thing() string {
	if c.Cloud.ThingName != "" {
		return c.Cloud.ThingName
	}
	return DefaultThing
}

// Spool configures the queue of cloud-bound messages kept while offline.
type Spool struct {
	// Storage is "disk" (in the host database: survives a restart or a
	// kill -9) or "memory".
	Storage string `toml:"storage"`
	// MaxSizeBytes caps the spool (payload plus topic of each message);
	// when it is full, new QoS 1 messages are refused, never dropped.
	MaxSizeBytes int64 `toml:"max_size_bytes"`
	// KeepQoS0WhenOffline spools QoS 0 messages too; they are the first
	// evicted when a QoS 1 message needs room.
	KeepQoS0WhenOffline bool `toml:"keep_qos0_when_offline"`
}

// Spool storages.
const (
	SpoolDisk   = "disk"
	SpoolMemory = "memory"
)

// Online reports whether a cloud endpoint is configured.
func (c *Cloud) Online() bool { return c.Endpoint != "" }

// ComponentRef names a component to run.
type ComponentRef struct {
	Manifest string `toml:"manifest"` // path of its component.toml
	// Config is merged over the manifest's [config] (conftree.Merge).
	Config map[string]any `toml:"config"`
}

// Log levels.
const (
	LevelDebug = "debug"
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelError = "error"
)

const adminSocketName = "admin.sock"

var maxConfigSize int64 = 1 << 20

// Default returns the configuration used when there is no file: all
// defaults, no components, paths relative to the current directory.
func Default() *Config {
	return &Config{
		DataDir:       "var/moss",
		LogLevel:      LevelInfo,
		AdminSocket:   filepath.Join("var/moss", adminSocketName),
		CacheDir:      filepath.Join("var/moss", "cache"),
		SecretKeyFile: filepath.Join("var/moss", "secret.key"),
		Lifecycle: Lifecycle{
			RestartBackoff:    limits.Duration{Duration: 500 * time.Millisecond},
			MaxRestartBackoff: limits.Duration{Duration: 30 * time.Second},
			BrokenAfter:       3,
			ErrorWindow:       limits.Duration{Duration: time.Minute},
			StopTimeout:       limits.Duration{Duration: 5 * time.Second},
		},
		Limits: limits.Defaults(),
		Shadow: Shadow{MaxDocumentBytes: 8192},
		Health: defaultHealth(),
		Cloud: Cloud{
			Port:           8883,
			KeepAlive:      limits.Duration{Duration: 60 * time.Second},
			ConnectTimeout: limits.Duration{Duration: 10 * time.Second},
			ReconnectMin:   limits.Duration{Duration: time.Second},
			ReconnectMax:   limits.Duration{Duration: 2 * time.Minute},
			PublishRate:    100,
			Spool: Spool{
				Storage:      SpoolDisk,
				MaxSizeBytes: 2621440, // Greengrass's default: 2.5 MiB
			},
		},
	}
}

// Load reads and parses the configuration file at path. Relative paths in it
// are resolved against the file's directory (made absolute).
func Load(file string) (*Config, error) {
	data, err := tomlx.ReadFile(file, maxConfigSize)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		return nil, err
	}
	c, err := Parse(file, data, dir)
	if err != nil {
		return nil, err
	}
	c.File = file
	return c, nil
}

// Parse decodes and validates a configuration. name is used in error
// messages; relative paths are resolved against baseDir.
func Parse(name string, data []byte, baseDir string) (*Config, error) {
	c := Default()
	// Their defaults depend on data_dir, known only after decoding.
	c.AdminSocket, c.CacheDir, c.SecretKeyFile = "", "", ""
	doc := tomlx.Decode(name, data, c)
	if doc.OK() {
		c.validate(doc)
		c.validateBroker(doc)
	}
	if err := doc.Err(); err != nil {
		return nil, err
	}
	c.DataDir = resolve(baseDir, c.DataDir)
	if c.CacheDir == "" {
		c.CacheDir = filepath.Join(c.DataDir, "cache")
	} else {
		c.CacheDir = resolve(baseDir, c.CacheDir)
	}
	if c.SecretKeyFile == "" {
		c.SecretKeyFile = filepath.Join(c.DataDir, "secret.key")
	} else {
		c.SecretKeyFile = resolve(baseDir, c.SecretKeyFile)
	}
	if c.AdminSocket == "" {
		c.AdminSocket = filepath.Join(c.DataDir, adminSocketName)
	} else {
		c.AdminSocket = resolve(baseDir, c.AdminSocket)
	}
	for i := range c.Components {
		c.Components[i].Manifest = resolve(baseDir, c.Components[i].Manifest)
	}
	c.resolveBroker(baseDir)
	for _, p := range []*string{&c.Cloud.Cert, &c.Cloud.Key, &c.Cloud.RootCA} {
		if *p != "" {
			*p = resolve(baseDir, *p)
		}
	}
	return c, nil
}

func resolve(base, p string) string {
	p = filepath.FromSlash(p)
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(base, p)
}

// SlogLevel returns LogLevel as a slog.Level (Info for an unknown name;
// Load and Parse refuse those).
func (c *Config) SlogLevel() slog.Level {
	switch c.LogLevel {
	case LevelDebug:
		return slog.LevelDebug
	case LevelWarn:
		return slog.LevelWarn
	case LevelError:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (c *Config) validate(doc *tomlx.Doc) {
	c.validateObserve(doc)
	check := doc.Check
	check(tomlx.Path{"data_dir"}, func() {
		if c.DataDir == "" {
			doc.Errorf(tomlx.Path{"data_dir"}, "data_dir is empty")
		}
	})
	check(tomlx.Path{"admin_socket"}, func() {
		if c.AdminSocket == "" {
			doc.Errorf(tomlx.Path{"admin_socket"}, "admin_socket is empty (leave it out for <data_dir>/%s)", adminSocketName)
		}
	})
	check(tomlx.Path{"log_level"}, func() {
		switch c.LogLevel {
		case LevelDebug, LevelInfo, LevelWarn, LevelError:
		default:
			doc.Errorf(tomlx.Path{"log_level"}, "log_level %q: want %q, %q, %q or %q", c.LogLevel, LevelDebug, LevelInfo, LevelWarn, LevelError)
		}
	})

	lc := &c.Lifecycle
	positive := func(key string, d limits.Duration) {
		p := tomlx.Path{"lifecycle", key}
		check(p, func() {
			if d.Duration <= 0 {
				doc.Errorf(p, "%s: must be more than 0", p)
			}
		})
	}
	positive("restart_backoff", lc.RestartBackoff)
	positive("max_restart_backoff", lc.MaxRestartBackoff)
	positive("error_window", lc.ErrorWindow)
	positive("stop_timeout", lc.StopTimeout)
	if lc.RestartBackoff.Duration > 0 && lc.MaxRestartBackoff.Duration > 0 && lc.MaxRestartBackoff.Duration < lc.RestartBackoff.Duration {
		p := tomlx.Path{"lifecycle", "max_restart_backoff"}
		if !doc.Has(p) {
			p = tomlx.Path{"lifecycle", "restart_backoff"}
		}
		doc.Errorf(p, "lifecycle.max_restart_backoff (%v) is less than lifecycle.restart_backoff (%v)", lc.MaxRestartBackoff, lc.RestartBackoff)
	}
	check(tomlx.Path{"lifecycle", "broken_after"}, func() {
		if lc.BrokenAfter < 1 {
			doc.Errorf(tomlx.Path{"lifecycle", "broken_after"}, "lifecycle.broken_after: must be at least 1, got %d", lc.BrokenAfter)
		}
	})

	for _, e := range unwrap(c.Limits.Validate()) {
		var fe *limits.FieldError
		if !errors.As(e, &fe) {
			doc.Errorf(tomlx.Path{"limits"}, "limits: %v", e)
			continue
		}
		if p := (tomlx.Path{"limits", fe.Field}); !doc.Failed(p) {
			doc.Errorf(p, "%s: %s", p, fe.Msg)
		}
	}

	c.validateCloud(doc, check)
	for i, s := range c.Shadow.Sync {
		p := tomlx.Path{"shadow", "sync", i}
		switch s.Direction {
		case "", "bidirectional", "device_to_cloud", "cloud_to_device":
		default:
			doc.Errorf(p.Key("direction"), "shadow.sync[%d].direction %q: want bidirectional, device_to_cloud or cloud_to_device", i, s.Direction)
		}
		if c.Cloud.Endpoint == "" && i == 0 {
			doc.Errorf(p, "[[shadow.sync]] needs a cloud link: set cloud.endpoint")
		}
	}
	check(tomlx.Path{"shadow", "max_document_bytes"}, func() {
		if n := c.Shadow.MaxDocumentBytes; n < 1 || n > 30720 {
			doc.Errorf(tomlx.Path{"shadow", "max_document_bytes"}, "shadow.max_document_bytes %d: want 1 to 30720 (IoT Core's limit is 8192; Greengrass allows up to 30720)", n)
		}
	})

	seen := map[string]int{}
	for i, ref := range c.Components {
		p := tomlx.Path{"components", i}
		if doc.Failed(p.Key("manifest")) {
			continue
		}
		switch {
		case !doc.Has(p.Key("manifest")):
			if doc.IsTable(p) {
				doc.Errorf(p, "missing required key %q in [[components]]", "manifest")
			}
		case ref.Manifest == "":
			doc.Errorf(p.Key("manifest"), "%s is empty", p.Key("manifest"))
		default:
			// Compare resolved, so "a/../x" and "x" are one component.
			key := filepath.Clean(filepath.FromSlash(ref.Manifest))
			if j, dup := seen[key]; dup {
				doc.Errorf(p.Key("manifest"), "%s: %q is already listed as components[%d]", p.Key("manifest"), ref.Manifest, j)
			} else {
				seen[key] = i
			}
		}
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

func (c *Config) validateCloud(doc *tomlx.Doc, check func(tomlx.Path, func())) {
	cl := &c.Cloud
	p := func(key ...string) tomlx.Path {
		out := tomlx.Path{"cloud"}
		for _, k := range key {
			out = out.Key(k)
		}
		return out
	}
	check(p("port"), func() {
		if cl.Port < 1 || cl.Port > 65535 {
			doc.Errorf(p("port"), "cloud.port %d: want 1..65535 (IoT Core listens on 8883 and 443)", cl.Port)
		}
	})
	// IoT Core refuses a keep-alive outside 30s..1200s; a local broker may
	// take less, which the tests use, so only the upper bound is enforced.
	check(p("keep_alive"), func() {
		if d := cl.KeepAlive.Duration; d < time.Second || d > 1200*time.Second || d%time.Second != 0 {
			doc.Errorf(p("keep_alive"), "cloud.keep_alive %v: want whole seconds from 1s to 1200s (IoT Core accepts 30s to 1200s)", cl.KeepAlive)
		}
	})
	for _, k := range []string{"connect_timeout", "reconnect_min", "reconnect_max"} {
		k := k
		d := map[string]limits.Duration{"connect_timeout": cl.ConnectTimeout, "reconnect_min": cl.ReconnectMin, "reconnect_max": cl.ReconnectMax}[k]
		check(p(k), func() {
			if d.Duration <= 0 {
				doc.Errorf(p(k), "cloud.%s: must be more than 0", k)
			}
		})
	}
	if cl.ReconnectMin.Duration > 0 && cl.ReconnectMax.Duration > 0 && cl.ReconnectMax.Duration < cl.ReconnectMin.Duration {
		doc.Errorf(p("reconnect_max"), "cloud.reconnect_max (%v) is less than cloud.reconnect_min (%v)", cl.ReconnectMax, cl.ReconnectMin)
	}
	if cl.Endpoint != "" && !doc.Failed(p("endpoint")) {
		for _, k := range []struct {
			key string
			val string
		}{{"thing_name", cl.ThingName}, {"cert", cl.Cert}, {"key", cl.Key}, {"root_ca", cl.RootCA}} {
			if k.val == "" && !doc.Failed(p(k.key)) {
				doc.Errorf(p("endpoint"), "cloud.endpoint is set but cloud.%s is missing", k.key)
			}
		}
	}
	check(p("thing_name"), func() {
		// IoT Core: thing names are 1..128 of [a-zA-Z0-9:_-].
		if !validThingName(cl.ThingName) {
			doc.Errorf(p("thing_name"), "cloud.thing_name %q: want 1 to 128 characters from a-z A-Z 0-9 : _ -", cl.ThingName)
		}
	})
	check(p("max_publish_rate"), func() {
		if cl.PublishRate < 0 {
			doc.Errorf(p("max_publish_rate"), "cloud.max_publish_rate %d: want 0 (no cap) or more", cl.PublishRate)
		}
	})
	check(p("spool", "storage"), func() {
		if cl.Spool.Storage != SpoolDisk && cl.Spool.Storage != SpoolMemory {
			doc.Errorf(p("spool", "storage"), "cloud.spool.storage %q: want %q or %q", cl.Spool.Storage, SpoolDisk, SpoolMemory)
		}
	})
	check(p("spool", "max_size_bytes"), func() {
		if cl.Spool.MaxSizeBytes < 1024 {
			doc.Errorf(p("spool", "max_size_bytes"), "cloud.spool.max_size_bytes %d: want at least 1024", cl.Spool.MaxSizeBytes)
		}
	})
}

func validThingName(s string) bool {
	if len(s) < 1 || len(s) > 128 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == ':', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}
