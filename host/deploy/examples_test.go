package deploy

import (
	"path/filepath"
	"testing"
)

// TestExampleDocuments: the documents in examples/deployments are valid.
func TestExampleDocuments(t *testing.T) {
	files, err := filepath.Glob("../../examples/deployments/*.toml")
	if err != nil || len(files) < 2 {
		t.Fatalf("example documents: %v %v", files, err)
	}
	for _, f := range files {
		if _, err := LoadDocument(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
