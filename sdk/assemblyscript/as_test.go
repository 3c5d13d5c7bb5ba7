//go:build !wasip1

// Package assdk_test tests the AssemblyScript SDK (sdk/assemblyscript):
// examples/alerts-as, built with sdk/assemblyscript/build.sh, runs in a real
// host beside the Go version of the same component (internal/conformance),
// and its module imports nothing the host does not provide.
package assdk_test

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/moss-edge/moss/internal/conformance"
	"github.com/moss-edge/moss/internal/testwasm"
)

const toolHint = "the AssemblyScript SDK needs node and npm (apt-get install -y nodejs npm); its first build runs npm ci in sdk/assemblyscript, which needs the npm registry"

// buildAS builds a component from its entry file (relative to the module
// root) with sdk/assemblyscript/build.sh and returns the path of the .wasm
// file. (Its first build prints what npm ci installs: not a warning.)
func buildAS(t *testing.T, src string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds AssemblyScript: skipped in -short mode")
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: %s: %v", tool, toolHint, err)
		}
	}
	wasm, _ := testwasm.Script(t, "sdk/assemblyscript/build.sh", src, toolHint)
	return wasm
}

func alertsAS(t *testing.T) conformance.Component {
	return conformance.Component{
		Wasm:     buildAS(t, "examples/alerts-as/alerts.ts"),
		Manifest: conformance.ReadManifest(t, "examples/alerts-as"),
	}
}

// TestAlertsConformance runs examples/alerts-as and examples/alerts, each in
// a real host with the same configuration, and checks that they publish the
// same alerts, byte for byte but for the timestamps.
func TestAlertsConformance(t *testing.T) {
	conformance.CompareAlerts(t, alertsAS(t))
}

// TestImports checks that the modules import only from "moss" and
// wasi_snapshot_preview1 (no env.abort: build.sh routes abort to the SDK),
// only the host functions they call (the linker drops the rest, so a
// component runs on every host that has what it uses), and export memory
// and the ABI's functions.
func TestImports(t *testing.T) {
	thermostat := buildAS(t, "examples/thermostat-as/thermostat.ts")
	for _, c := range []struct {
		wasm string
		want []string // the moss functions it imports
	}{
		{alertsAS(t).Wasm, []string{"config_get", "config_watch", "log", "publish", "response", "subscribe"}},
		{thermostat, []string{"config_get", "log", "publish", "response", "shadow_get", "shadow_update", "shadow_watch"}},
	} {
		b, err := os.ReadFile(c.wasm)
		if err != nil {
			t.Fatal(err)
		}
		imports, exports := testwasm.Names(t, b)
		var moss []string
		for _, im := range imports {
			if f, ok := strings.CutPrefix(im, "moss."); ok {
				moss = append(moss, f)
			} else if !strings.HasPrefix(im, "wasi_snapshot_preview1.") {
				t.Errorf("%s imports %s: the host provides only moss and wasi_snapshot_preview1", c.wasm, im)
			}
		}
		slices.Sort(moss)
		if !slices.Equal(moss, c.want) {
			t.Errorf("%s imports moss.%v, want %v", c.wasm, moss, c.want)
		}
		for _, want := range []string{"memory", "_initialize", "moss_abi_version", "moss_event_buffer", "moss_on_events"} {
			if !slices.Contains(exports, want) {
				t.Errorf("%s: no export %q in %v", c.wasm, want, exports)
			}
		}
		t.Logf("%s: imports %v; exports %v", c.wasm, imports, exports)
	}
}
