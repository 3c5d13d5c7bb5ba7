package cloud

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/moss-edge/moss/host/store"
)

func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, "moss.db"))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// drainAll sends everything as the sender would and returns the topics.
func drainAll(s *spool) []string {
	var got []string
	for e := s.take(); e != nil; e = s.take() {
		got = append(got, e.topic)
		if s.sent(e) {
			if err := s.flush(); err != nil {
				panic(err)
			}
		}
	}
	return got
}

func TestSpoolSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	s, err := openSpool(st, 1<<20, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := s.add(fmt.Sprintf("t/%d", i), []byte{byte(i)}, 1); err != nil {
			t.Fatal(err)
		}
	}
	// Send three, as if the host died right after.
	for range 3 {
		e := s.take()
		s.sent(e)
	}
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	st.Close()

	st = openStore(t, dir)
	defer st.Close()
	s, err = openSpool(st, 1<<20, false)
	if err != nil {
		t.Fatal(err)
	}
	got := drainAll(s)
	want := []string{"t/3", "t/4", "t/5", "t/6", "t/7", "t/8", "t/9"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after reopen got %v, want %v", got, want)
	}
	// New messages continue the sequence rather than reuse it.
	if err := s.add("t/new", nil, 1); err != nil {
		t.Fatal(err)
	}
	if e := s.take(); e.seq != 11 {
		t.Errorf("next seq = %d, want 11", e.seq)
	}
	if keys, _ := st.Keys(spoolBucket); len(keys) != 1 {
		t.Errorf("disk holds %d records, want 1", len(keys))
	}
}

func TestSpoolFullRefusesQoS1AndEvictsQoS0(t *testing.T) {
	for _, disk := range []bool{false, true} {
		t.Run(fmt.Sprintf("disk=%v", disk), func(t *testing.T) {
			var st *store.Store
			if disk {
				st = openStore(t, t.TempDir())
				defer st.Close()
			}
			payload := make([]byte, 100-entryOverhead-3) // 100 bytes per entry with a 3-byte topic
			s, _ := openSpool(st, 500, true)
			for i, qos := range []byte{1, 0, 1, 0, 0} {
				if err := s.add(fmt.Sprintf("t/%d", i), payload, qos); err != nil {
					t.Fatalf("add %d: %v", i, err)
				}
			}
			// Full: a QoS 0 message is refused...
			if err := s.add("t/5", payload, 0); !errors.Is(err, ErrSpoolFull) {
				t.Fatalf("QoS 0 into a full spool: %v, want ErrSpoolFull", err)
			}
			// ...a QoS 1 message evicts the oldest QoS 0 one (t/1)...
			if err := s.add("t/6", payload, 1); err != nil {
				t.Fatalf("QoS 1 with QoS 0 to evict: %v", err)
			}
			if err := s.add("t/7", payload, 1); err != nil { // evicts t/3
				t.Fatal(err)
			}
			if err := s.add("t/8", payload, 1); err != nil { // evicts t/4
				t.Fatal(err)
			}
			// ...and with only QoS 1 left, QoS 1 is refused, never dropped.
			if err := s.add("t/9", payload, 1); !errors.Is(err, ErrSpoolFull) {
				t.Fatalf("QoS 1 into a spool of QoS 1: %v, want ErrSpoolFull", err)
			}
			if _, _, ev := s.stats(); ev != 3 {
				t.Errorf("evicted = %d, want 3", ev)
			}
			got := drainAll(s)
			if want := "[t/0 t/2 t/6 t/7 t/8]"; fmt.Sprint(got) != want {
				t.Errorf("sent %v, want %s", got, want)
			}
			if n, b, _ := s.stats(); n != 0 || b != 0 {
				t.Errorf("after draining: %d messages, %d bytes", n, b)
			}
			if disk {
				if keys, _ := st.Keys(spoolBucket); len(keys) != 0 {
					t.Errorf("disk still holds %v", keys)
				}
			}
		})
	}
}

func TestSpoolDropsUnreadableRecords(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	defer st.Close()
	s, _ := openSpool(st, 1<<20, false)
	s.add("good/1", []byte("x"), 1)
	st.Update(spoolBucket, func(b *bolt.Bucket) error { return b.Put(key(5), []byte{7}) })
	s.add("good/3", []byte("y"), 1)

	s, err := openSpool(st, 1<<20, false)
	if err == nil || s == nil {
		t.Fatalf("openSpool = %v, %v; want a spool and an error about the bad record", s, err)
	}
	if got := drainAll(s); fmt.Sprint(got) != "[good/1 good/3]" {
		t.Errorf("sent %v", got)
	}
}

func BenchmarkSpoolAddDisk(b *testing.B) {
	st := openStore(b, b.TempDir())
	defer st.Close()
	s, _ := openSpool(st, 1<<40, false)
	payload := make([]byte, 256)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.add("bench/topic", payload, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}
