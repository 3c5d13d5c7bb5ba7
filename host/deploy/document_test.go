package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moss-edge/moss/internal/golden"
)

// TestDocumentGolden parses every testdata/documents/*.toml and compares the
// errors, or the decoded document as JSON, with the .golden file beside it.
func TestDocumentGolden(t *testing.T) {
	golden.Run(t, "testdata/documents/*.toml", func(t *testing.T, file string) string {
		d, err := LoadDocument(file)
		if err != nil {
			return "error:\n" + err.Error() + "\n"
		}
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(d); err != nil {
			t.Fatal(err)
		}
		return b.String()
	})
}

func TestDocumentDefaults(t *testing.T) {
	d, err := ParseDocument("d.toml", []byte("id = \"x\"\n[[remove]]\nname = \"a\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d.FailurePolicy != Rollback || d.UpdatePolicy.Action != ActionNotify ||
		d.UpdatePolicy.Timeout.Duration != DefaultUpdateTimeout ||
		d.Timeouts.Start.Duration != DefaultStartTimeout || d.Timeouts.Probation.Duration != DefaultProbation {
		t.Errorf("defaults not set: %+v", d)
	}
}

func TestSplitPath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{"/", nil, true},
		{"window", []string{"window"}, true},
		{"/limits/max", []string{"limits", "max"}, true},
		{"a//b", nil, false},
		{"a/", nil, false},
	} {
		got, ok := splitPath(tc.in)
		if ok != tc.ok || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("splitPath(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzDocument(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/documents/*.toml")
	for _, in := range inputs {
		if data, err := os.ReadFile(in); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDocument("fuzz.toml", data)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.toml:") {
					t.Fatalf("error line without the file name: %q", line)
				}
			}
			return
		}
		if !ValidID(d.ID) || len(d.Components)+len(d.Remove) == 0 {
			t.Fatalf("accepted document is invalid: %+v", d)
		}
		for _, c := range d.Components {
			for _, r := range c.Config.Reset {
				if _, ok := splitPath(r); !ok {
					t.Fatalf("accepted reset path %q", r)
				}
			}
		}
	})
}
