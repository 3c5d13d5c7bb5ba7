package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moss-edge/moss/internal/conformance"
	"github.com/moss-edge/moss/internal/testwasm"
)

// TestNewBuildsAndRuns: `moss new` makes a component in each language that
// builds with its own build.sh and runs in a real host with no edits: a
// message on NAME/in comes back on NAME/out with the configured prefix.
func TestNewBuildsAndRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds components with the Go, C, Rust and AssemblyScript toolchains")
	}
	root := testwasm.Root(t)
	for _, lang := range []string{"go", "c", "rust", "assemblyscript"} {
		t.Run(lang, func(t *testing.T) {
			name := "hello-" + lang
			dir := filepath.Join(t.TempDir(), name)
			// Outside the checkout: a Go component gets a go.mod pointing
			// at it (--moss-src).
			r := moss(context.Background(), "", "new", "--lang", lang, "--dir", dir, "--moss-src", root, name)
			if r.code != 0 {
				t.Fatalf("moss new: %+v", r)
			}
			build := exec.Command(filepath.Join(dir, "build.sh"))
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("%s/build.sh: %v\n%s", name, err, out)
			}
			manifest := filepath.Join(dir, "component.toml")
			if _, err := os.Stat(filepath.Join(dir, name+".wasm")); err != nil {
				t.Fatal(err)
			}
			h := conformance.StartHost(t, manifest, `prefix = "echo: "`, name+"/out")
			h.Publish(name+"/in", "hi")
			conformance.CheckFor(t, "the echo on "+name+"/out", func() bool { return h.PublishedCount() >= 1 })
			if got := string(h.Published(0)[0].Payload); got != "echo: hi" {
				t.Fatalf("%s echoed %q", name, got)
			}
			if log := h.Log(name); !strings.Contains(log, "echoing") {
				t.Fatalf("%s's start log line missing:\n%s", name, log)
			}
		})
	}
	// Refusals: an existing directory, an unknown language, a bad name.
	dir := t.TempDir()
	for _, args := range [][]string{
		{"new", "--dir", dir, "x"},
		{"new", "--lang", "cobol", "--dir", filepath.Join(dir, "y"), "y"},
		{"new", "--dir", filepath.Join(dir, "z"), "Bad Name"},
	} {
		if r := moss(context.Background(), "", args...); r.code == 0 {
			t.Errorf("moss %v succeeded", args)
		}
	}
}
