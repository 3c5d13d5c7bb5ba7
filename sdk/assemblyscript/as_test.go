//go:build !wasip1

// Package assdk_test tests the AssemblyScript SDK (sdk/assemblyscript):
// examples/alerts-as, built with sdk/assemblyscript/build.sh, runs in a real
// host beside the Go version of the same component (internal/conformance),
// and its module imports nothing the host does not provide.
package assdk_test

import (
	"os"
	"os/exec"
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

// TestImports checks that the module imports only from "moss" and
// wasi_snapshot_preview1 (no env.abort: build.sh routes abort to the SDK)
// and exports memory and the ABI's functions.
func TestImports(t *testing.T) {
	b, err := os.ReadFile(alertsAS(t).Wasm)
	if err != nil {
		t.Fatal(err)
	}
	imports, exports := testwasm.Names(t, b)
	for _, im := range imports {
		if !strings.HasPrefix(im, "moss.") && !strings.HasPrefix(im, "wasi_snapshot_preview1.") {
			t.Errorf("imports %s: the host provides only moss and wasi_snapshot_preview1", im)
		}
	}
	for _, want := range []string{"memory", "_initialize", "moss_abi_version", "moss_event_buffer", "moss_on_events"} {
		found := false
		for _, e := range exports {
			found = found || e == want
		}
		if !found {
			t.Errorf("no export %q in %v", want, exports)
		}
	}
	t.Logf("imports %v; exports %v", imports, exports)
}
