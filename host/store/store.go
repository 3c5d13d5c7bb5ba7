// Package store is the host's one embedded database file (bbolt): shadows,
// the offline spool, deployment history, secrets and the component store
// index all live in it, each in its own bucket. bbolt commits with fsync,
// so a write that returned survives a kill -9 or a power cut; it also locks
// the file, so a second host on the same data directory is refused.
//
// A Store is safe for concurrent use.
package store

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrNotFound is returned by Get for a missing key.
var ErrNotFound = errors.New("not found")

// Store is the host's database.
type Store struct {
	db   *bolt.DB
	path string
}

// Open opens (creating it if needed) the database file at path, with mode
// 0600. It fails after a second if another process holds the file.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open %s: the database is locked by another process (is another moss running on this data directory?)", path)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &Store{db: db, path: path}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Put sets key in bucket, durably.
func (s *Store) Put(bucket, key string, value []byte) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		return b.Put([]byte(key), value)
	})
	if err != nil {
		return fmt.Errorf("store %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Get returns a copy of the value of key in bucket, or ErrNotFound.
func (s *Store) Get(bucket, key string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return ErrNotFound
		}
		v := b.Get([]byte(key))
		if v == nil {
			return ErrNotFound
		}
		out = append([]byte(nil), v...) // v is valid only inside the transaction
		return nil
	})
	return out, err
}

// Delete removes key from bucket; a missing key is not an error.
func (s *Store) Delete(bucket, key string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		return b.Delete([]byte(key))
	})
}

// Keys lists the keys of bucket in order.
func (s *Store) Keys(bucket string) ([]string, error) {
	var keys []string
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			keys = append(keys, string(k))
			return nil
		})
	})
	return keys, err
}

// Update runs fn in one durable read-write transaction on bucket (created if
// missing): everything fn writes commits together or not at all.
func (s *Store) Update(bucket string, fn func(b *bolt.Bucket) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		return fn(b)
	})
}

// Batch is Update for many concurrent writers: bbolt coalesces calls made
// at about the same time into one commit (one fsync), so throughput grows
// with concurrency. fn may run more than once and must be idempotent; it
// returns only once its write is durable.
func (s *Store) Batch(bucket string, fn func(b *bolt.Bucket) error) error {
	return s.db.Batch(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		return fn(b)
	})
}

// View runs fn in a read-only transaction on bucket; a missing bucket is
// empty, so fn is not called. Slices read from b are valid only inside fn.
func (s *Store) View(bucket string, fn func(b *bolt.Bucket) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		return fn(b)
	})
}
