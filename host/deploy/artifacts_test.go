package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moss-edge/moss/host/manifest"
	"github.com/moss-edge/moss/host/store"
)

func openStore(t *testing.T, keep int) (*Store, *store.Store, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "moss.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := NewStore(filepath.Join(dir, "components"), db, keep)
	if err != nil {
		t.Fatal(err)
	}
	return s, db, dir
}

func TestStoreAdd(t *testing.T) {
	s, _, _ := openStore(t, 0)
	src := t.TempDir()
	if err := os.Mkdir(filepath.Join(src, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := component(t, src, "sensor", "1.2.0", "[config]\nperiod = 5\n\n[[wasi.dirs]]\nhost = \"../data\"\nguest = \"/data\"\n")
	a, err := s.Add(file)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := os.ReadFile(filepath.Join(filepath.Dir(file), "sensor.wasm"))
	sum := sha256.Sum256(code)
	if a.SHA256 != hex.EncodeToString(sum[:]) || a.Name != "sensor" || a.Version != "1.2.0" {
		t.Errorf("Add = %+v", a)
	}
	if want := filepath.Join(s.Dir(), "sensor", "1.2.0", ManifestFile); a.Manifest != want {
		t.Errorf("stored manifest %s, want %s", a.Manifest, want)
	}
	// The stored manifest pins the stored module and says what the
	// original says; its relative mount now resolves where the original
	// did.
	m, err := manifest.Load(a.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	if m.Wasm.SHA256 != a.SHA256 || m.Wasm.Path != a.SHA256+".wasm" || m.Config["period"] != int64(5) {
		t.Errorf("stored manifest: %+v", m)
	}
	if got := m.HostDir(m.WASI.Dirs[0]); got != filepath.Join(src, "data") {
		t.Errorf("wasi dir resolves to %s, want %s", got, filepath.Join(src, "data"))
	}
	if _, err := m.ReadWasm(); err != nil {
		t.Errorf("stored module: %v", err)
	}
	if got, err := s.Get("sensor", "1.2.0"); err != nil || got.SHA256 != a.SHA256 {
		t.Errorf("Get = %+v, %v", got, err)
	}
	if _, err := s.Get("sensor", "9.0.0"); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("Get of an unknown version: %v", err)
	}

	// The same content again is fine; other content under the same
	// version is not.
	if _, err := s.Add(file); err != nil {
		t.Errorf("adding the same version again: %v", err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(file), "sensor.wasm"), []byte("\x00asm\x01\x00\x00\x00rebuilt"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(file); !errors.Is(err, ErrVersionConflict) || !strings.Contains(err.Error(), "give the new build a new version") {
		t.Errorf("adding another module as the same version: %v, want ErrVersionConflict", err)
	}
}

func TestStoreRefusesDigestMismatch(t *testing.T) {
	s, _, _ := openStore(t, 0)
	src := t.TempDir()
	file := component(t, src, "sensor", "1.0.0", "")
	text, _ := os.ReadFile(file)
	text = []byte(strings.Replace(string(text), "[wasm]\n", "[wasm]\nsha256 = \""+strings.Repeat("0", 64)+"\"\n", 1))
	if err := os.WriteFile(file, text, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := s.Add(file)
	if !errors.Is(err, manifest.ErrChecksum) || !strings.HasPrefix(err.Error(), "sensor 1.0.0: artifact digest mismatch: ") {
		t.Fatalf("Add: %v, want a digest mismatch", err)
	}
	if as, _ := s.List(); len(as) != 0 {
		t.Errorf("store holds %+v after a refused Add", as)
	}
	if entries, _ := os.ReadDir(s.Dir()); len(entries) != 0 {
		t.Errorf("store directory holds %d entries after a refused Add", len(entries))
	}
}

func TestStoreGC(t *testing.T) {
	s, _, _ := openStore(t, 0) // DefaultKeep: 3
	src := t.TempDir()
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0", "2.1.0", "3.0.0"} {
		if _, err := s.Add(component(t, src, "a", v, "")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // distinct Added times on coarse clocks
	}
	if _, err := s.Add(component(t, src, "b", "1.0.0", "")); err != nil {
		t.Fatal(err)
	}
	// a 1.0.0 runs: it stays, and takes one of the three places.
	removed, err := s.GC(func(name, version string) bool { return name == "a" && version == "1.0.0" })
	if err != nil {
		t.Fatal(err)
	}
	var gone []string
	for _, a := range removed {
		gone = append(gone, a.Name+" "+a.Version)
		if _, err := os.Stat(filepath.Dir(a.Manifest)); !os.IsNotExist(err) {
			t.Errorf("%s %s: directory still there (%v)", a.Name, a.Version, err)
		}
	}
	if got := strings.Join(gone, ", "); got != "a 2.0.0, a 1.1.0" {
		t.Errorf("GC removed %q, want a 2.0.0, a 1.1.0", got)
	}
	var kept []string
	as, _ := s.List()
	for _, a := range as {
		kept = append(kept, a.Name+" "+a.Version)
	}
	if got := strings.Join(kept, ", "); got != "a 3.0.0, a 2.1.0, a 1.0.0, b 1.0.0" {
		t.Errorf("store keeps %q", got)
	}
}

// TestStoreSweep: what an Add interrupted by a crash leaves (a temporary
// directory, a version directory without its index entry) is removed at
// the next start.
func TestStoreSweep(t *testing.T) {
	s, db, dir := openStore(t, 0)
	a, err := s.Add(component(t, t.TempDir(), "a", "1.0.0", ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{".tmp-123", "a/2.0.0", "b/1.0.0"} {
		if err := os.MkdirAll(filepath.Join(s.Dir(), d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	s2, err := NewStore(filepath.Join(dir, "components"), db, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{".tmp-123", "a/2.0.0", "b/1.0.0"} {
		if _, err := os.Stat(filepath.Join(s2.Dir(), d)); !os.IsNotExist(err) {
			t.Errorf("%s survived the sweep (%v)", d, err)
		}
	}
	if _, err := os.Stat(a.Manifest); err != nil {
		t.Errorf("the indexed version went: %v", err)
	}
}
