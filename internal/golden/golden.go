// Package golden runs golden-file tests: each input file is rendered to text
// and compared with the .golden file beside it; `go test -update` rewrites
// the golden files instead (STYLE.md: input, expected output or error).
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Run renders every file matching pattern (e.g. "testdata/*.toml") and
// compares the result with the file of the same name ending in .golden.
func Run(t *testing.T, pattern string, render func(t *testing.T, file string) string) {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no inputs match %s: %v", pattern, err)
	}
	for _, file := range files {
		ext := filepath.Ext(file)
		t.Run(strings.TrimSuffix(filepath.Base(file), ext), func(t *testing.T) {
			got := render(t, file)
			golden := strings.TrimSuffix(file, ext) + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s:\n--- got\n%s--- want\n%s", file, golden, got, want)
			}
		})
	}
}
