package shadow

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// maxBatch bounds one transaction, so one commit's latency stays bounded
// however many writers wait.
const maxBatch = 1024

// commitReq is one record to write; done receives the commit's outcome.
type commitReq struct {
	key  string
	val  []byte
	done chan error
}

// commit writes one record durably through the committer. It gives up, with
// nothing written, only if ctx ends or the Service closes before the
// committer takes the write; after that it waits for the outcome, since the
// write may already be on disk.
func (s *Service) commit(ctx context.Context, k string, val []byte) error {
	r := &commitReq{key: k, val: val, done: make(chan error, 1)}
	select {
	case s.commits <- r:
	case <-s.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-r.done
}

// commitLoop is the group committer: it takes every write waiting at the
// moment into one transaction, so concurrent writers share an fsync. While
// a commit is on disk, the next writers queue on the unbuffered channel and
// make up the next batch; a lone writer waits for nobody.
func (s *Service) commitLoop() {
	batch := make([]*commitReq, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case r := <-s.commits:
			batch = append(batch, r)
		case <-s.quit:
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case r := <-s.commits:
				batch = append(batch, r)
			default:
				break more
			}
		}
		err := s.store.Update(bucket, func(b *bolt.Bucket) error {
			for _, r := range batch {
				if err := b.Put([]byte(r.key), r.val); err != nil {
					return fmt.Errorf("put %q: %w", r.key, err)
				}
			}
			return nil
		})
		if err != nil {
			err = fmt.Errorf("commit %d writes: %w", len(batch), err)
		}
		for _, r := range batch {
			r.done <- err
		}
	}
}
