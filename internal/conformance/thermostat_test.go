//go:build !wasip1

package conformance

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/moss-edge/moss/internal/testwasm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestThermostat runs examples/thermostat and its ports, each through the
// same scenario (RunThermostat) in real hosts, and checks that every port
// does what the Go one does. A port whose source is not there is skipped,
// naming the file.
func TestThermostat(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Wasm components and runs hosts: skipped in -short mode")
	}
	var reference []ThermostatStep
	goRun := func(t *testing.T) []ThermostatStep {
		if reference == nil {
			reference = RunThermostat(t, GoThermostat(t))
		}
		return reference
	}
	for _, port := range []struct {
		lang, src string // the source, relative to the module root
		build     func(t *testing.T, src string) string
	}{
		{"Go", "examples/thermostat/main.go", nil},
		{"C", "examples/thermostat-c/thermostat.c", buildC},
		{"Rust", "examples/thermostat-rust/thermostat.rs", buildRust},
		{"AssemblyScript", "examples/thermostat-as/thermostat.ts", buildAS},
	} {
		t.Run(port.lang, func(t *testing.T) {
			if port.build == nil {
				for _, s := range goRun(t) {
					t.Log(s)
				}
				return
			}
			if _, err := os.Stat(filepath.Join(testwasm.Root(t), port.src)); errors.Is(err, fs.ErrNotExist) {
				t.Skipf("%s missing: no %s port of examples/thermostat yet", port.src, port.lang)
			}
			ref := goRun(t)
			got := RunThermostat(t, Component{
				Wasm:     port.build(t, port.src),
				Manifest: ReadManifest(t, filepath.Dir(port.src)),
			})
			if !reflect.DeepEqual(got, ref) {
				t.Errorf("%s and Go differ:\n%s\nGo:\n%s", port.lang, steps(got), steps(ref))
			}
		})
	}
}

func steps(s []ThermostatStep) string {
	var b strings.Builder
	for _, x := range s {
		b.WriteString("  " + x.String() + "\n")
	}
	return b.String()
}

// The builders below are those of the SDKs' own conformance tests
// (sdk/c, sdk/rust, sdk/assemblyscript): the same toolchain checks and
// hints, and warnings are failures for C and Rust.

const (
	cHint    = "apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32"
	rustHint = "apt-get install -y rustc libstd-rust-dev-wasm32 lld-14"
	asHint   = "the AssemblyScript SDK needs node and npm (apt-get install -y nodejs npm); its first build runs npm ci in sdk/assemblyscript, which needs the npm registry"
)

// buildC builds a component from its C source with sdk/c/build.sh.
func buildC(t *testing.T, src string) string {
	t.Helper()
	if _, err := exec.LookPath("clang"); err != nil {
		t.Fatalf("clang not found: the C SDK needs clang and wasi-libc (%s): %v", cHint, err)
	}
	wasm, out := testwasm.Script(t, "sdk/c/build.sh", src, "the C SDK needs clang, wasm-ld and wasi-libc: "+cHint)
	if len(out) > 0 {
		t.Errorf("sdk/c/build.sh %s: warnings:\n%s", src, out)
	}
	return wasm
}

// buildRust builds a component from its crate root with sdk/rust/build.sh
// and Debian's rustc (or $RUSTC).
func buildRust(t *testing.T, src string) string {
	t.Helper()
	r := os.Getenv("RUSTC")
	if r == "" {
		r = "/usr/bin/rustc" // a rustup rustc earlier on PATH may have no wasm32 target
	}
	if _, err := exec.LookPath(r); err != nil {
		t.Fatalf("%s not found: the Rust SDK needs Debian's rustc and its wasm32-wasi standard library (%s): %v", r, rustHint, err)
	}
	out, err := exec.Command(r, "--print", "sysroot").Output()
	if err != nil {
		t.Fatalf("%s --print sysroot: %v", r, err)
	}
	if std, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "lib/rustlib/wasm32-wasi/lib/libstd-*.rlib")); len(std) == 0 {
		t.Fatalf("%s has no wasm32-wasi standard library: %s", r, rustHint)
	}
	if r == "/usr/bin/rustc" {
		if _, err := exec.LookPath("rust-lld"); err != nil {
			t.Fatalf("rustc's Wasm linker rust-lld is missing or dangling (%s): %v", rustHint, err)
		}
	}
	wasm, warnings := testwasm.Script(t, "sdk/rust/build.sh", src, "the Rust SDK needs "+rustHint, "RUSTC="+r)
	if len(warnings) > 0 {
		t.Errorf("sdk/rust/build.sh %s: warnings:\n%s", src, warnings)
	}
	return wasm
}

// buildAS builds a component from its entry file with
// sdk/assemblyscript/build.sh. (Its first build prints what npm ci
// installs: not a warning.)
func buildAS(t *testing.T, src string) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: %s: %v", tool, asHint, err)
		}
	}
	wasm, _ := testwasm.Script(t, "sdk/assemblyscript/build.sh", src, asHint)
	return wasm
}
