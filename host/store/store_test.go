package store

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestPutGetDeleteKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "moss.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("b", "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get on empty store: %v", err)
	}
	for _, k := range []string{"b2", "a1"} {
		if err := s.Put("b", k, []byte("v-"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := s.Get("b", "a1"); err != nil || string(v) != "v-a1" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if keys, _ := s.Keys("b"); !reflect.DeepEqual(keys, []string{"a1", "b2"}) {
		t.Fatalf("Keys = %v", keys)
	}
	s.Delete("b", "a1")
	s.Close()
	// Survives reopening.
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if keys, _ := s.Keys("b"); !reflect.DeepEqual(keys, []string{"b2"}) {
		t.Fatalf("Keys after reopen = %v", keys)
	}
}

func TestSecondOpenRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "moss.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// bbolt's flock is per open file description, so a second Open in the
	// same process is refused as another process would be.
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("second Open: %v", err)
	}
}
