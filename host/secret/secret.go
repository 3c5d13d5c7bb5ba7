// Package secret keeps secrets (passwords, tokens) for components, encrypted
// at rest with AES-256-GCM.
//
// The key is a 32-byte device key in its own file (default
// <data_dir>/secret.key), created with mode 0600 at first start from
// crypto/rand. A key file was chosen over a key derived from the host
// configuration because configuration files are copied around, committed
// and shipped in images; a key file can stay on the device, on its own
// partition or a secure element's mount, and is easy to rotate by
// re-setting secrets. The host refuses to start if the key file can be read
// by group or others (CheckPrivate), since anyone who can read it can read
// every secret.
//
// Each value is sealed with a fresh random nonce and the secret's name as
// additional data, so a ciphertext moved to another name does not open.
// Values never leave this package except to the component that asks for a
// secret it is granted (secret.get) and to nothing else: no log line, error
// message or CLI output carries one.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"

	"github.com/moss-edge/moss/host/store"
)

const (
	bucket  = "secrets"
	keySize = 32 // AES-256
)

// ErrNotFound is returned by Get for a secret that is not set.
var ErrNotFound = errors.New("no such secret")

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidName reports whether name can name a secret: 1-128 characters,
// letters, digits, '.', '_' and '-', starting with a letter or digit.
func ValidName(name string) bool { return validName.MatchString(name) }

// Store holds the secrets. It is safe for concurrent use.
type Store struct {
	db   *store.Store
	aead cipher.AEAD
}

// Open returns the secret store over db, with the device key from keyFile,
// creating the key file if it does not exist.
func Open(db *store.Store, keyFile string) (*Store, error) {
	key, err := loadOrCreateKey(keyFile)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret key %s: %w", keyFile, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Store{db: db, aead: aead}, nil
}

func loadOrCreateKey(file string) ([]byte, error) {
	key, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		key = make([]byte, keySize)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		// O_EXCL: never overwrite a key another process just created.
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create secret key %s: %w", file, err)
		}
		_, werr := f.Write(key)
		serr := f.Sync()
		if err := errors.Join(werr, serr, f.Close()); err != nil {
			return nil, fmt.Errorf("write secret key %s: %w", file, err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	if err := CheckPrivate(file); err != nil {
		return nil, err
	}
	if len(key) != keySize {
		return nil, fmt.Errorf("secret key %s: %d bytes, want %d", file, len(key), keySize)
	}
	return key, nil
}

// CheckPrivate refuses a key file that group or others may read or write,
// saying how to fix it. The device's TLS private key gets the same check.
func CheckPrivate(file string) error {
	fi, err := os.Stat(file)
	if err != nil {
		return err
	}
	if mode := fi.Mode().Perm(); mode&0o077 != 0 {
		return fmt.Errorf("%s is accessible by group or others (mode %04o): anyone who can read it can read what it protects; run: chmod 600 %s", file, mode, file)
	}
	return nil
}

// Set stores value under name, replacing any previous value.
func (s *Store) Set(name string, value []byte) error {
	if !ValidName(name) {
		return fmt.Errorf("secret name %q: want 1-128 letters, digits, '.', '_' or '-'", name)
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	sealed := s.aead.Seal(nonce, nonce, value, []byte(name))
	if err := s.db.Put(bucket, name, sealed); err != nil {
		return fmt.Errorf("set secret %s: %w", name, err)
	}
	return nil
}

// Get returns the value of the secret name, or ErrNotFound.
func (s *Store) Get(name string) ([]byte, error) {
	sealed, err := s.db.Get(bucket, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, fmt.Errorf("secret %s: stored value is corrupt", name)
	}
	value, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(name))
	if err != nil {
		// Wrong key (the key file was replaced) or tampering; the error
		// says which secret, never what it holds.
		return nil, fmt.Errorf("secret %s: cannot decrypt with this device's key (was the key file replaced?)", name)
	}
	return value, nil
}

// Names lists the secrets that are set (names only).
func (s *Store) Names() ([]string, error) { return s.db.Keys(bucket) }

// Delete removes a secret; a missing one is not an error.
func (s *Store) Delete(name string) error { return s.db.Delete(bucket, name) }
