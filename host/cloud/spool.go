package cloud

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"syscall"

	bolt "go.etcd.io/bbolt"

	"github.com/moss-edge/moss/host/store"
)

// spoolBucket is the spool's bucket in the host database. Keys are
// big-endian sequence numbers, so bbolt's key order is send order.
const spoolBucket = "cloud.spool"

// entryOverhead is what an entry costs beyond its topic and payload: the
// key, the header and the bookkeeping. It keeps max_size_bytes honest for
// many small messages.
const entryOverhead = 32

// deleteBatch is how many sent entries are deleted from disk in one
// transaction. A crash before the delete resends them: at least once.
const deleteBatch = 64

type entry struct {
	seq     uint64
	topic   string
	payload []byte
	qos     byte
	ready   bool  // durable (disk) and so visible to the sender
	gone    bool  // evicted while being written
	written bool  // its commit finished (err says how)
	err     error // of its commit
	sending bool  // handed to the sender and not yet acknowledged
}

func (e *entry) size() int64 { return int64(len(e.topic)+len(e.payload)) + entryOverhead }

// spool is the ordered queue of messages waiting for the link. All of it is
// held in memory, bounded by max (2.5 MiB by default); with a store, every
// entry is also in the host database before add returns, and is read back
// by openSpool after a restart.
type spool struct {
	st       *store.Store // nil: memory only
	max      int64
	keepQoS0 bool

	// commitMu is held by the one writer committing; the others' entries
	// wait in pending and go in its next transaction (group commit: one
	// fsync for all publishers that arrived during the previous one).
	commitMu sync.Mutex
	pending  []*entry

	mu      sync.Mutex
	q       []*entry // q[head:] in send order
	head    int
	bytes   int64
	next    uint64
	evicted uint64   // QoS 0 entries evicted to make room for QoS 1
	done    []uint64 // sent, not yet deleted from disk
}

func openSpool(st *store.Store, max int64, keepQoS0 bool) (*spool, error) {
	s := &spool{st: st, max: max, keepQoS0: keepQoS0, next: 1}
	if st == nil {
		return s, nil
	}
	var bad [][]byte
	err := st.View(spoolBucket, func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			e, err := decodeEntry(k, v)
			if err != nil {
				bad = append(bad, append([]byte(nil), k...))
				return nil
			}
			e.ready = true
			s.q = append(s.q, e)
			s.bytes += e.size()
			s.next = e.seq + 1
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read spool: %w", err)
	}
	if len(bad) > 0 {
		// A record we cannot read would block the queue forever; it can
		// only come from a bug or a damaged file, so say so and move on.
		if err := st.Update(spoolBucket, func(b *bolt.Bucket) error {
			for _, k := range bad {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("drop %d unreadable spool records: %w", len(bad), err)
		}
		return s, fmt.Errorf("dropped %d unreadable spool records", len(bad))
	}
	return s, nil
}

func encodeEntry(e *entry) []byte {
	v := make([]byte, 0, 1+binary.MaxVarintLen64+len(e.topic)+len(e.payload))
	v = append(v, e.qos)
	v = binary.AppendUvarint(v, uint64(len(e.topic)))
	v = append(v, e.topic...)
	return append(v, e.payload...)
}

func decodeEntry(k, v []byte) (*entry, error) {
	if len(k) != 8 || len(v) < 2 || v[0] > 1 {
		return nil, errors.New("bad record")
	}
	n, w := binary.Uvarint(v[1:])
	if w <= 0 || n > uint64(len(v)-1-w) {
		return nil, errors.New("bad topic length")
	}
	rest := v[1+w:]
	return &entry{
		seq:     binary.BigEndian.Uint64(k),
		qos:     v[0],
		topic:   string(rest[:n]),
		payload: append([]byte(nil), rest[n:]...),
	}, nil
}

func key(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// add queues a message, durably when the spool is on disk. The payload is
// copied.
func (s *spool) add(topic string, payload []byte, qos byte) error {
	e := &entry{topic: topic, payload: append([]byte(nil), payload...), qos: qos, ready: s.st == nil}
	s.mu.Lock()
	if err := s.makeRoom(e); err != nil {
		s.mu.Unlock()
		return err
	}
	e.seq = s.next
	s.next++
	s.q = append(s.q, e)
	s.bytes += e.size()
	if s.st == nil {
		s.mu.Unlock()
		return nil
	}
	s.pending = append(s.pending, e)
	s.mu.Unlock()
	s.commit(e)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.err != nil {
		s.unlink(e)
		if errors.Is(e.err, syscall.ENOSPC) {
			return fmt.Errorf("%w: the disk holding %s is full", ErrSpoolFull, s.st.Path())
		}
		return fmt.Errorf("spool to %s: %w", s.st.Path(), e.err)
	}
	if e.gone { // evicted while it was being written
		s.done = append(s.done, e.seq)
		return nil
	}
	e.ready = true
	return nil
}

// commit returns once e has been written, by this call or by another
// writer's transaction that took it along. The sender skips e until it is
// ready, so it never sends a message that could still be lost.
func (s *spool) commit(e *entry) {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	s.mu.Lock()
	if e.written {
		s.mu.Unlock()
		return
	}
	batch := s.pending
	s.pending = nil
	s.mu.Unlock()
	err := s.st.Update(spoolBucket, func(b *bolt.Bucket) error {
		for _, p := range batch {
			if err := b.Put(key(p.seq), encodeEntry(p)); err != nil {
				return err
			}
		}
		return nil
	})
	s.mu.Lock()
	for _, p := range batch {
		p.written, p.err = true, err
	}
	s.mu.Unlock()
}

// makeRoom evicts spooled QoS 0 messages, oldest first, when a QoS 1
// message needs their room; it never evicts QoS 1. Called with s.mu held.
func (s *spool) makeRoom(e *entry) error {
	need := e.size()
	if s.bytes+need <= s.max {
		return nil
	}
	if e.qos == 0 {
		return fmt.Errorf("%w: %d of %d bytes used; QoS 0 message refused", ErrSpoolFull, s.bytes, s.max)
	}
	free := int64(0)
	for _, o := range s.q[s.head:] { // never one being sent: it may be on the wire
		if o.qos == 0 && !o.gone && !o.sending {
			free += o.size()
		}
	}
	if s.bytes-free+need > s.max {
		return fmt.Errorf("%w: %d of %d bytes used by messages waiting for the cloud; QoS 1 message refused", ErrSpoolFull, s.bytes, s.max)
	}
	for _, o := range s.q[s.head:] {
		if s.bytes+need <= s.max {
			break
		}
		if o.qos == 0 && !o.gone && !o.sending {
			s.unlink(o)
			s.evicted++
			if o.ready {
				s.done = append(s.done, o.seq)
			}
		}
	}
	return nil
}

// unlink removes e from the queue's accounting; the sender skips it.
func (s *spool) unlink(e *entry) {
	if e.gone {
		return
	}
	e.gone = true
	s.bytes -= e.size()
}

// take returns the oldest message not yet handed to the sender and marks
// it as being sent, or nil when there is none or it is not yet durable.
// Messages are taken in send order: one still being committed holds back
// those behind it. The sender hands each back with sent or release.
func (s *spool) take() *entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skipGone()
	for _, e := range s.q[s.head:] {
		switch {
		case e.gone || e.sending:
			continue
		case !e.ready:
			return nil
		}
		e.sending = true
		return e
	}
	return nil
}

// release returns e, which take returned and which did not reach the
// broker, to the queue, to be taken again in its place.
func (s *spool) release(e *entry) {
	s.mu.Lock()
	e.sending = false
	s.mu.Unlock()
}

func (s *spool) skipGone() {
	for s.head < len(s.q) && s.q[s.head].gone {
		s.q[s.head] = nil
		s.head++
	}
	if s.head > 64 && s.head*2 > len(s.q) { // compact
		n := copy(s.q, s.q[s.head:])
		clear(s.q[n:])
		s.q, s.head = s.q[:n], 0
	}
}

// empty reports whether nothing is queued (ready or not).
func (s *spool) empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skipGone()
	return s.head == len(s.q)
}

// sent removes e, which take returned and the broker took (or refused for
// good); acknowledgements may come in any order. It reports whether
// deletions are pending on disk and nothing else is ready to send, i.e.
// whether now is the time to flush.
func (s *spool) sent(e *entry) (flush bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.sending = false
	s.unlink(e)
	if s.st != nil {
		s.done = append(s.done, e.seq)
	}
	s.skipGone()
	idle := s.head == len(s.q) || !s.q[s.head].ready
	return len(s.done) >= deleteBatch || (idle && len(s.done) > 0)
}

// flush deletes sent entries from disk.
func (s *spool) flush() error {
	s.mu.Lock()
	done := s.done
	s.done = nil
	s.mu.Unlock()
	if len(done) == 0 || s.st == nil {
		return nil
	}
	err := s.st.Update(spoolBucket, func(b *bolt.Bucket) error {
		for _, seq := range done {
			if err := b.Delete(key(seq)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.mu.Lock()
		s.done = append(done, s.done...)
		s.mu.Unlock()
		return fmt.Errorf("delete %d sent messages from the spool: %w", len(done), err)
	}
	return nil
}

// stats returns the number of queued messages and their size.
func (s *spool) stats() (n int, bytes int64, evicted uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.q[s.head:] {
		if !e.gone {
			n++
		}
	}
	return n, s.bytes, s.evicted
}
