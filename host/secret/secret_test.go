package secret

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moss-edge/moss/host/store"
)

func open(t *testing.T, dir string) (*Store, *store.Store) {
	t.Helper()
	db, err := store.Open(filepath.Join(dir, "moss.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := Open(db, filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	return s, db
}

func TestSetGetEncryptedAtRest(t *testing.T) {
	dir := t.TempDir()
	s, db := open(t, dir)
	value := []byte("hunter2-the-password")
	if err := s.Set("db-password", value); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get("db-password")
	if err != nil || !bytes.Equal(got, value) {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if _, err := s.Get("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing secret: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, "secret.key"))
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != keySize {
		t.Fatalf("key file: %v %v", fi.Mode(), err)
	}
	db.Close()
	raw, err := os.ReadFile(filepath.Join(dir, "moss.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, value) {
		t.Fatal("the database file holds the secret in plaintext")
	}
}

func TestCiphertextBoundToName(t *testing.T) {
	s, db := open(t, t.TempDir())
	s.Set("a", []byte("value-a"))
	sealed, _ := db.Get(bucket, "a")
	db.Put(bucket, "b", sealed)
	_, err := s.Get("b")
	if err == nil || strings.Contains(err.Error(), "value-a") {
		t.Fatalf("a ciphertext moved to another name opened, or leaked: %v", err)
	}
}

func TestKeyFilePermissions(t *testing.T) {
	dir := t.TempDir()
	open(t, dir) // creates the key
	key := filepath.Join(dir, "secret.key")
	os.Chmod(key, 0o644)
	db, err := store.Open(filepath.Join(dir, "other.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = Open(db, key)
	if err == nil || !strings.Contains(err.Error(), "chmod 600 "+key) || !strings.Contains(err.Error(), "0644") {
		t.Fatalf("world-readable key accepted or unhelpful: %v", err)
	}
}

func TestWrongKeyFailsWithoutLeaking(t *testing.T) {
	dir := t.TempDir()
	s, db := open(t, dir)
	s.Set("token", []byte("s3cr3t-value"))
	other := filepath.Join(t.TempDir(), "k")
	s2, err := Open(db, other)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s2.Get("token")
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "key file") {
		t.Fatalf("wrong key: %v", err)
	}
}

func TestNames(t *testing.T) {
	s, _ := open(t, t.TempDir())
	for _, n := range []string{"b", "a"} {
		if err := s.Set(n, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Set("bad name", nil); err == nil {
		t.Fatal("bad name accepted")
	}
	if names, _ := s.Names(); strings.Join(names, ",") != "a,b" {
		t.Fatalf("Names = %v", names)
	}
}
