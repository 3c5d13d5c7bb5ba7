package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moss-edge/moss/internal/golden"

	"github.com/moss-edge/moss/host/authz"
)

// TestGolden loads every testdata/*.toml and compares the errors, or a
// rendering of the decoded manifest, with testdata/*.golden.
func TestGolden(t *testing.T) {
	golden.Run(t, "testdata/*.toml", render)
}

func render(t *testing.T, file string) string {
	m, err := Load(file)
	if err != nil {
		return "error:\n" + err.Error() + "\n"
	}
	// Machine-specific absolute paths would make the golden files unportable.
	abs, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	if m.Dir != abs {
		t.Errorf("Dir = %q, want %q", m.Dir, abs)
	}
	if _, err := m.Policy(); err != nil {
		t.Errorf("Policy() of a valid manifest: %v", err)
	}
	wasm, err := filepath.Rel(filepath.Dir(abs), m.WasmFile())
	if err != nil {
		t.Fatal(err)
	}
	out := *m
	out.Dir = "$TESTDATA"
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err = enc.Encode(struct {
		Manifest
		WasmFile string // relative to the package directory
	}{out, filepath.ToSlash(wasm)})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestParseUsesName(t *testing.T) {
	_, err := Parse("sensor/component.toml", []byte("name = \"sensor\"\nversion = \"1.0.0\"\nwasm.path = \"s.wasm\"\n[limits]\nmemroy = 1\n"))
	want := `sensor/component.toml:5: unknown key "memroy" in [limits]`
	if err == nil || err.Error() != want {
		t.Errorf("Parse error = %v, want %s", err, want)
	}
	m, err := Parse("x", []byte("name = \"x\"\nversion = \"1.0.0\"\nwasm.path = \"a/b.wasm\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Dir != "" || m.WasmFile() != filepath.FromSlash("a/b.wasm") {
		t.Errorf("Parse: Dir %q, WasmFile %q", m.Dir, m.WasmFile())
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "component.toml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file = %v, want ErrNotExist", err)
	}
}

func TestReadWasm(t *testing.T) {
	dir := t.TempDir()
	wasm := []byte("\x00asm\x01\x00\x00\x00")
	sum := sha256.Sum256(wasm)
	good := hex.EncodeToString(sum[:])
	other := strings.Repeat("0", 64)
	if err := os.MkdirAll(filepath.Join(dir, "comp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mod.wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		path   string
		sha256 string
		err    []string // substrings; none means success
	}{
		{"pinned", "../mod.wasm", good, nil},
		{"unpinned", "../mod.wasm", "", nil},
		{"mismatch", "../mod.wasm", other, []string{
			`component "c": sha256 mismatch for ` + filepath.Join(dir, "mod.wasm"),
			"manifest says " + other, "file has " + good,
		}},
		{"missing", "nope.wasm", "", []string{`component "c": open ` + filepath.Join(dir, "comp", "nope.wasm")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			man := "name = \"c\"\nversion = \"1.0.0\"\n[wasm]\npath = \"" + tt.path + "\"\n"
			if tt.sha256 != "" {
				man += "sha256 = \"" + tt.sha256 + "\"\n"
			}
			file := filepath.Join(dir, "comp", "component.toml")
			if err := os.WriteFile(file, []byte(man), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := Load(file)
			if err != nil {
				t.Fatal(err)
			}
			data, err := m.ReadWasm()
			if tt.err == nil {
				if err != nil || string(data) != string(wasm) {
					t.Fatalf("ReadWasm = %q, %v", data, err)
				}
				return
			}
			if err == nil {
				t.Fatal("ReadWasm succeeded")
			}
			for _, want := range tt.err {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if tt.name == "mismatch" && !errors.Is(err, ErrChecksum) {
				t.Errorf("mismatch error is not ErrChecksum")
			}
		})
	}

	t.Run("too large", func(t *testing.T) {
		old := maxWasmSize
		maxWasmSize = int64(len(wasm) - 1)
		defer func() { maxWasmSize = old }()
		m := &Manifest{Name: "c", Dir: dir, Wasm: Wasm{Path: "mod.wasm"}}
		_, err := m.ReadWasm()
		if err == nil || !strings.Contains(err.Error(), "is larger than 7B") {
			t.Errorf("ReadWasm of an oversized file = %v", err)
		}
	})
}

func TestPolicy(t *testing.T) {
	m, err := Load("testdata/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if !p.Allow(authz.PubsubPublish, "sensors/kitchen/temperature") || p.Allow(authz.PubsubPublish, "sensors/kitchen/humidity") {
		t.Error("publish grant not applied")
	}
	if !p.Allow(authz.ShadowGet, "sensor-1") || !p.Allow(authz.PubsubSubscribe, "commands/+") {
		t.Error("second grant not applied")
	}
	bad := &Manifest{Name: "c", Access: []authz.Grant{{Operations: []string{"nope"}, Resources: []string{"a"}}}}
	if _, err := bad.Policy(); err == nil || !strings.Contains(err.Error(), `component "c": access: grant 0: operations[0]: unknown operation "nope"`) {
		t.Errorf("Policy of a bad grant = %v", err)
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"a", "0", "sensor", "com.example.sensor", "a_b-c", strings.Repeat("a", 64)} {
		if !ValidName(ok) {
			t.Errorf("ValidName(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "-a", ".a", "_a", "A", "a b", "a/b", "é", strings.Repeat("a", 65)} {
		if ValidName(bad) {
			t.Errorf("ValidName(%q) = true", bad)
		}
	}
}

// FuzzManifest checks that Parse never panics, and that what it accepts is
// usable: the policy compiles and the paths resolve.
func FuzzManifest(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/*.toml")
	for _, in := range inputs {
		if data, err := os.ReadFile(in); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("fuzz.toml", data)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.toml:") {
					t.Fatalf("error line without the file name: %q", line)
				}
			}
			return
		}
		if _, err := m.Policy(); err != nil {
			t.Fatalf("accepted manifest has a bad policy: %v", err)
		}
		if !ValidName(m.Name) || m.WasmFile() == "" {
			t.Fatalf("accepted manifest is invalid: %+v", m)
		}
	})
}
