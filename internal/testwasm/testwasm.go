// Package testwasm builds the Wasm modules tests run, with the real
// toolchains: wat2wasm (Debian's wabt) for WAT sources and the Go toolchain
// (GOOS=wasip1 GOARCH=wasm, c-shared) for Go guests. Builds are cached by
// content under the user cache directory so a test run compiles each guest
// once.
package testwasm

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var mu sync.Mutex // serialises builds into the shared cache directory

func cacheDir(t testing.TB) string {
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	d = filepath.Join(d, "moss-testwasm")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// WAT compiles a .wat file and returns the module bytes.
func WAT(t testing.TB, path string) []byte {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		t.Fatalf("wat2wasm not found: install Debian's wabt (make deps): %v", err)
	}
	sum := sha256.Sum256(src)
	out := filepath.Join(cacheDir(t), "wat-"+hex.EncodeToString(sum[:8])+".wasm")
	mu.Lock()
	defer mu.Unlock()
	if b, err := os.ReadFile(out); err == nil {
		return b
	}
	cmd := exec.Command("wat2wasm", "-o", out+"."+strconv.Itoa(os.Getpid())+".tmp", path)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm %s: %v\n%s", path, err, b)
	}
	if err := os.Rename(out+"."+strconv.Itoa(os.Getpid())+".tmp", out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// GoPath builds the Go guest package in dir (a directory inside this module)
// and returns the path of the .wasm file.
func GoPath(t testing.TB, dir string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	root := moduleRoot(t)
	// Key the cache on every Go source the guest can import from this
	// module (the SDK and the ABI as well as the guest itself).
	h := sha256.New()
	for _, d := range []string{abs, filepath.Join(root, "sdk", "go"), filepath.Join(root, "abi")} {
		hashGoFiles(t, h, d)
	}
	h.Write([]byte(runtime.Version()))
	out := filepath.Join(cacheDir(t), filepath.Base(abs)+"-"+hex.EncodeToString(h.Sum(nil)[:8])+".wasm")
	mu.Lock()
	defer mu.Unlock()
	if _, err := os.Stat(out); err == nil {
		return out
	}
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out+"."+strconv.Itoa(os.Getpid())+".tmp", ".")
	cmd.Dir = abs
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s for wasip1: %v\n%s", dir, err, b)
	}
	if err := os.Rename(out+"."+strconv.Itoa(os.Getpid())+".tmp", out); err != nil {
		t.Fatal(err)
	}
	return out
}

// Go builds the Go guest package in dir and returns the module bytes.
func Go(t testing.TB, dir string) []byte {
	t.Helper()
	b, err := os.ReadFile(GoPath(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hashGoFiles(t testing.TB, h interface{ Write([]byte) (int, error) }, dir string) {
	var files []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".go") || filepath.Base(p) == "go.mod") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte(f))
		h.Write(b)
	}
}

// moduleRoot finds the directory holding go.mod above the working directory.
func moduleRoot(t testing.TB) string {
	d, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		p := filepath.Dir(d)
		if p == d {
			t.Fatal("go.mod not found above the working directory")
		}
		d = p
	}
}

// Root returns the module's root directory.
func Root(t testing.TB) string { return moduleRoot(t) }

// CompileCacheDir is a wazero compilation cache shared by every test process
// of this user. Compiled code does not depend on the race detector, so a
// guest compiled once (2-3 s, or 20-40 s under -race) is loaded from here by
// every later test. wazero writes entries atomically (temp file + rename),
// so concurrent test processes may share it.
func CompileCacheDir(t testing.TB) string {
	return filepath.Join(cacheDir(t), "wazero")
}

// Names lists a module's imports ("module.name") and exports, read from
// its import and export sections.
func Names(t testing.TB, b []byte) (imports, exports []string) {
	t.Helper()
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		t.Fatal("not a Wasm module")
	}
	p := 8
	uleb := func() int {
		v, shift := 0, 0
		for p < len(b) {
			c := b[p]
			p++
			v |= int(c&0x7f) << shift
			if c < 0x80 {
				return v
			}
			shift += 7
		}
		t.Fatal("truncated LEB128")
		return 0
	}
	name := func() string {
		n := uleb()
		s := string(b[p : p+n])
		p += n
		return s
	}
	for p < len(b) {
		id := b[p]
		p++
		size := uleb()
		end := p + size
		switch id {
		case 2: // imports
			for range uleb() {
				mod, field := name(), name()
				imports = append(imports, mod+"."+field)
				switch kind := b[p]; kind {
				case 0: // function: type index
					p++
					uleb()
				default:
					t.Fatalf("import %s.%s of kind %d: only functions expected", mod, field, kind)
				}
			}
		case 7: // exports
			for range uleb() {
				exports = append(exports, name())
				p++ // kind
				uleb()
			}
		}
		p = end
	}
	return imports, exports
}

// Script builds the component whose source is src with an SDK's build
// script, both relative to the module root (e.g. "sdk/c/build.sh",
// "examples/alerts-c/alerts.c"), run as `script src -o OUT` with env added
// to the environment, and returns the path of the module and what the
// script printed (warnings). The result is cached by the content of the
// SDK's directory, of src's directory and of env, like the Go builds, so
// each component is built once across test runs. hint says what to install
// when the build fails.
func Script(t testing.TB, script, src, hint string, env ...string) (wasm string, output []byte) {
	t.Helper()
	root := moduleRoot(t)
	h := sha256.New()
	for _, d := range []string{filepath.Dir(script), filepath.Dir(src)} {
		hashDir(t, h, filepath.Join(root, d))
	}
	h.Write([]byte(src + "\x00" + strings.Join(env, "\x00")))
	base := strings.TrimSuffix(filepath.Base(src), filepath.Ext(src))
	out := filepath.Join(cacheDir(t), base+"-"+hex.EncodeToString(h.Sum(nil)[:8])+".wasm")
	mu.Lock()
	defer mu.Unlock()
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	tmp := out + "." + strconv.Itoa(os.Getpid()) + ".tmp"
	cmd := exec.Command(filepath.Join(root, script), src, "-o", tmp)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		t.Fatalf("%s %s: %v\n%s\n(%s)", script, src, err, b, hint)
	}
	if err := os.Rename(tmp, out); err != nil {
		t.Fatal(err)
	}
	return out, b
}

// hashDir hashes the regular files under dir, skipping node_modules and
// built modules.
func hashDir(t testing.TB, h interface{ Write([]byte) (int, error) }, dir string) {
	var files []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && d.Name() == "node_modules" {
			return filepath.SkipDir
		}
		if !d.IsDir() && !strings.HasSuffix(p, ".wasm") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte(f))
		h.Write(b)
	}
}
