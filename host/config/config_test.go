package config

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moss-edge/moss/internal/golden"

	"github.com/moss-edge/moss/host/conftree"

	"github.com/moss-edge/moss/host/limits"
)

// TestGolden loads every testdata/*.toml and compares the errors, or a
// rendering of the decoded configuration, with testdata/*.golden.
func TestGolden(t *testing.T) {
	abs, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	golden.Run(t, "testdata/*.toml", func(t *testing.T, file string) string { return render(t, file, abs) })
}

func render(t *testing.T, file, abs string) string {
	c, err := Load(file)
	if err != nil {
		return "error:\n" + err.Error() + "\n"
	}
	if c.File != file {
		t.Errorf("File = %q, want %q", c.File, file)
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		t.Fatal(err)
	}
	// Paths are absolute; show those under the package relative to it so
	// that the golden files do not depend on where the repository is.
	pkg := filepath.Dir(abs)
	return strings.ReplaceAll(b.String(), pkg+string(filepath.Separator), "$PKG/")
}

func TestDefault(t *testing.T) {
	d := Default()
	if err := d.Limits.Validate(); err != nil {
		t.Errorf("default limits invalid: %v", err)
	}
	c, err := Parse("empty.toml", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, d) {
		t.Errorf("Parse of an empty file = %+v\nwant Default() = %+v", c, d)
	}
	want := Lifecycle{
		RestartBackoff:    limits.Duration{Duration: 500 * time.Millisecond},
		MaxRestartBackoff: limits.Duration{Duration: 30 * time.Second},
		BrokenAfter:       3,
		ErrorWindow:       limits.Duration{Duration: time.Minute},
		StopTimeout:       limits.Duration{Duration: 5 * time.Second},
	}
	if d.Lifecycle != want || d.DataDir != "var/moss" || d.AdminSocket != filepath.FromSlash("var/moss/admin.sock") || d.LogLevel != "info" {
		t.Errorf("Default() = %+v", d)
	}
	// Each call gives a fresh value.
	d.Limits.Mailbox = 1
	if Default().Limits.Mailbox == 1 {
		t.Error("Default() shares state")
	}
}

func TestParseResolvesAgainstBaseDir(t *testing.T) {
	base := filepath.FromSlash("/etc/moss")
	c, err := Parse("moss.toml", []byte(`
data_dir = "../../var/lib/moss"
[[components]]
manifest = "c/component.toml"
[[components]]
manifest = "/abs/component.toml"
`), base)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.FromSlash("/var/lib/moss"),
		filepath.FromSlash("/var/lib/moss/admin.sock"),
		filepath.FromSlash("/etc/moss/c/component.toml"),
		filepath.FromSlash("/abs/component.toml"),
	}
	got := []string{c.DataDir, c.AdminSocket, c.Components[0].Manifest, c.Components[1].Manifest}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("paths = %q, want %q", got, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "moss.toml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file = %v", err)
	}
}

func TestSlogLevel(t *testing.T) {
	for name, want := range map[string]slog.Level{
		"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError, "": slog.LevelInfo,
	} {
		if got := (&Config{LogLevel: name}).SlogLevel(); got != want {
			t.Errorf("SlogLevel(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestMergeDecoded(t *testing.T) {
	c, err := Parse("moss.toml", []byte(`
[[components]]
manifest = "m.toml"
[components.config]
interval = "1s"
[components.config.alarm]
high = 40
`), "/")
	if err != nil {
		t.Fatal(err)
	}
	manifestConfig := map[string]any{"interval": "2s", "threshold": 30.5, "alarm": map[string]any{"high": int64(50), "low": int64(0)}}
	got := conftree.Merge(manifestConfig, c.Components[0].Config)
	want := map[string]any{"interval": "1s", "threshold": 30.5, "alarm": map[string]any{"high": int64(40), "low": int64(0)}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merged = %v, want %v", got, want)
	}
}

func FuzzConfig(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/*.toml")
	for _, in := range inputs {
		if data, err := os.ReadFile(in); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.toml", data, "/base")
		if err != nil {
			return
		}
		if err := c.Limits.Validate(); err != nil {
			t.Fatalf("accepted config has invalid limits: %v", err)
		}
		if !filepath.IsAbs(c.DataDir) || !filepath.IsAbs(c.AdminSocket) {
			t.Fatalf("paths not resolved: %q %q", c.DataDir, c.AdminSocket)
		}
	})
}
