package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/moss-edge/moss/host/manifest"
)

// moduleRoot is the directory holding go.mod at or above the working
// directory (make runs the harness from the repository root).
func moduleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		p := filepath.Dir(d)
		if p == d {
			return "", errors.New("go.mod not found above the working directory")
		}
		d = p
	}
}

// buildGuest builds the Go guest package in root/pkg for wasip1 as a
// reactor (c-shared) and writes it to out.
func buildGuest(root, pkg, out string) error {
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./"+pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s for wasip1: %v\n%s", pkg, err, b)
	}
	return nil
}

// buildCGuest builds the C guest source root/src with the C SDK's build
// script (sdk/c/build.sh: clang for wasm32-wasi as a reactor) and writes it
// to out.
func buildCGuest(root, src, out string) error {
	cmd := exec.Command(filepath.Join(root, "sdk", "c", "build.sh"), src, "-o", out)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("sdk/c/build.sh %s (needs clang, lld and wasi-libc: apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32): %v\n%s", src, err, b)
	}
	return nil
}

// buildHost builds the moss binary to out.
func buildHost(root, out string) error {
	cmd := exec.Command("go", "build", "-o", out, "./host/cmd/moss")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./host/cmd/moss: %v\n%s", err, b)
	}
	return nil
}

// wat compiles a WAT file with wabt's wat2wasm (make deps installs it) and
// returns the module bytes.
func wat(src, outDir string) ([]byte, error) {
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		return nil, fmt.Errorf("wat2wasm not found: install Debian's wabt (make deps): %w", err)
	}
	out := filepath.Join(outDir, strings.TrimSuffix(filepath.Base(src), ".wat")+".wasm")
	if b, err := exec.Command("wat2wasm", "-o", out, src).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("wat2wasm %s: %v\n%s", src, err, b)
	}
	return os.ReadFile(out)
}

// guest is a built guest (Go or C) and its manifest text.
type guest struct {
	name     string // its directory under bench/guests: "sink", "sink-c"
	wasm     string // path of the .wasm file
	manifest string // the component.toml from bench/guests/<name>
	mailbox  int    // its limits.mailbox
}

var nameLine = regexp.MustCompile(`(?m)^name = "[^"]*"$`)
var pathLine = regexp.MustCompile(`(?m)^path = "[^"]*"$`)

// install writes a manifest for the guest named name into dir, pointing at
// the guest's wasm (copied into dir once) and pinning its SHA-256, as
// `make components` does for the examples. It returns the manifest's path.
func (g guest) install(dir, name string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	code, err := os.ReadFile(g.wasm)
	if err != nil {
		return "", err
	}
	wasmName := filepath.Base(g.wasm)
	if _, err := os.Stat(filepath.Join(dir, wasmName)); err != nil {
		if err := os.WriteFile(filepath.Join(dir, wasmName), code, 0o644); err != nil {
			return "", err
		}
	}
	sum := sha256.Sum256(code)
	if !nameLine.MatchString(g.manifest) || !pathLine.MatchString(g.manifest) {
		return "", fmt.Errorf("manifest of %s: no name or wasm path line", g.wasm)
	}
	m := nameLine.ReplaceAllLiteralString(g.manifest, fmt.Sprintf("name = %q", name))
	m = pathLine.ReplaceAllLiteralString(m, fmt.Sprintf("path = %q\nsha256 = %q", wasmName, hex.EncodeToString(sum[:])))
	p := filepath.Join(dir, name+".toml")
	return p, os.WriteFile(p, []byte(m), 0o644)
}

// loadGuest builds bench/guests/<name> into dir: a Go guest with the Go
// toolchain, a C guest (a directory holding <name minus -c>.c, e.g.
// sink-c/sink.c) with sdk/c/build.sh.
func loadGuest(root, dir, name string) (guest, error) {
	out := filepath.Join(dir, name+".wasm")
	csrc := filepath.Join("bench", "guests", name, strings.TrimSuffix(name, "-c")+".c")
	if _, err := os.Stat(filepath.Join(root, csrc)); err == nil {
		if err := buildCGuest(root, csrc, out); err != nil {
			return guest{}, err
		}
	} else if err := buildGuest(root, "bench/guests/"+name, out); err != nil {
		return guest{}, err
	}
	file := filepath.Join(root, "bench", "guests", name, "component.toml")
	m, err := os.ReadFile(file)
	if err != nil {
		return guest{}, err
	}
	parsed, err := manifest.Parse(file, m)
	if err != nil {
		return guest{}, err
	}
	return guest{name: name, wasm: out, manifest: string(m), mailbox: parsed.Limits.Mailbox}, nil
}
