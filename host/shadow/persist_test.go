package shadow

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/moss-edge/moss/host/store"
	bolt "go.etcd.io/bbolt"
)

// TestSurvivesRestart: a shadow, its metadata and version come back from the
// file after the host closes and reopens it; so does a deletion's version.
func TestSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	clk := newClock(1000)
	st := openStore(t, dir)
	s, err := New(Options{Store: st, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	update(t, s, "Thing", "", `{"state":{"desired":{"n":1.50,"tags":["a",{"b":true}]},"reported":{"n":1}}}`)
	clk.Set(2000)
	update(t, s, "Thing", "", `{"state":{"reported":{"s":"é\"<>\u0001"}}}`)
	update(t, s, "Thing", "gone", `{"state":{"reported":{"x":1}}}`)
	update(t, s, "Thing", "gone", `{"state":{"reported":{"x":2}}}`)
	if _, err := s.Delete(context.Background(), "Thing", "gone", nil, OriginLocal); err != nil {
		t.Fatal(err)
	}
	before := get(t, s, "Thing", "")
	s.Close()
	st.Close()

	st = openStore(t, dir)
	defer st.Close()
	s = newService(t, Options{Store: st, Now: clk.Now})
	if got := get(t, s, "Thing", ""); string(got) != string(before) {
		t.Fatalf("after restart:\n got %s\nwant %s", got, before)
	}
	jsonEqual(t, "restored", before, `{"state":{"desired":{"n":1.50,"tags":["a",{"b":true}]},"reported":{"n":1,"s":"é\"<>\u0001"},
	  "delta":{"n":1.50,"tags":["a",{"b":true}]}},
	  "metadata":{"desired":{"n":{"timestamp":1000},"tags":[{"timestamp":1000},{"b":{"timestamp":1000}}]},
	    "reported":{"n":{"timestamp":1000},"s":{"timestamp":2000}}},"version":2,"timestamp":2000}`)
	_, err = s.Get(context.Background(), "Thing", "gone", nil)
	wantError(t, err, 404, "No shadow exists with name: 'gone'")
	r := update(t, s, "Thing", "gone", `{"state":{"reported":{"x":3}}}`)
	var acc struct{ Version int64 }
	json.Unmarshal(r.Payload, &acc)
	if acc.Version != 3 {
		t.Fatalf("re-created after restart at version %d, want 3", acc.Version)
	}
}

// TestFailedCommit: when the commit fails the update is a 500 and nothing
// changes, in memory as on disk. Closing the store under the Service is a
// real way to make bbolt refuse the transaction.
func TestFailedCommit(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	s := newService(t, Options{Store: st})
	update(t, s, "Thing", "", `{"state":{"reported":{"v":1}}}`)
	before := get(t, s, "Thing", "")
	var changes int
	defer s.Watch(func(Change) { changes++ })()

	st.Close()
	_, err := s.Update(context.Background(), "Thing", "", []byte(`{"state":{"reported":{"v":2}},"clientToken":"k"}`), OriginLocal)
	e := wantError(t, err, 500, "Internal service failure")
	if e.ClientToken != "k" || !errors.Is(err, bolt.ErrDatabaseNotOpen) {
		t.Fatalf("500 = %v (token %q)", err, e.ClientToken)
	}
	_, err = s.Delete(context.Background(), "Thing", "", nil, OriginLocal)
	wantError(t, err, 500, "Internal service failure")
	if got := get(t, s, "Thing", ""); string(got) != string(before) {
		t.Fatalf("memory changed by a failed commit:\n got %s\nwant %s", got, before)
	}
	if changes != 0 {
		t.Fatalf("watchers told of %d failed changes", changes)
	}
	s.Close()

	st = openStore(t, dir)
	defer st.Close()
	s = newService(t, Options{Store: st})
	if got := get(t, s, "Thing", ""); string(got) != string(before) {
		t.Fatalf("disk differs from what memory served:\n got %s\nwant %s", got, before)
	}
	update(t, s, "Thing", "", `{"state":{"reported":{"v":2}},"version":1}`)
}

// TestCacheEviction: with a cache of one idle shadow, shadows are dropped
// and re-read from the file without losing anything.
func TestCacheEviction(t *testing.T) {
	s := newService(t, Options{MaxCachedShadows: 1})
	for i := range 3 {
		for j := range 5 {
			update(t, s, "Thing", fmt.Sprint("s", j), fmt.Sprintf(`{"state":{"reported":{"i":%d}},"version":%d}`, i, i))
		}
	}
	s.mu.Lock()
	n := len(s.entries)
	s.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d entries cached, want 1", n)
	}
	for j := range 5 {
		var doc struct {
			State   struct{ Reported struct{ I int } }
			Version int64
		}
		json.Unmarshal(get(t, s, "Thing", fmt.Sprint("s", j)), &doc)
		if doc.State.Reported.I != 2 || doc.Version != 3 {
			t.Fatalf("s%d after eviction: %+v", j, doc)
		}
	}
}

// TestKill9 is the durability promise: every update that returned survives
// SIGKILL of the process. A child process updates a shadow in a loop and
// prints each acknowledged version; the parent kills it mid-stream and
// checks the file holds at least the last version it saw.
func TestKill9(t *testing.T) {
	if dir := os.Getenv("SHADOW_KILL9_DIR"); dir != "" {
		kill9Child(dir)
		return
	}
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9$")
	cmd.Env = append(os.Environ(), "SHADOW_KILL9_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var last int64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		v, err := strconv.ParseInt(sc.Text(), 10, 64)
		if err != nil {
			continue // the test framework's own output
		}
		if last = v; last >= 200 {
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if last < 200 {
		t.Fatalf("child acknowledged only %d updates", last)
	}

	st := openStore(t, dir)
	defer st.Close()
	s := newService(t, Options{Store: st})
	var doc struct {
		State   struct{ Reported struct{ N int64 } }
		Version int64
	}
	if err := json.Unmarshal(get(t, s, "Thing", "crash"), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version < last || doc.State.Reported.N != doc.Version {
		t.Fatalf("after kill -9: version %d, n %d; the child had acknowledged version %d", doc.Version, doc.State.Reported.N, last)
	}
	t.Logf("acknowledged %d, found %d after kill -9", last, doc.Version)
}

func kill9Child(dir string) {
	st, err := store.Open(filepath.Join(dir, "moss.db"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s, err := New(Options{Store: st, RateLimits: &RateLimits{}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	// The parent kills us after 200; should it die first, writing to the
	// closed pipe ends us (SIGPIPE on standard output), and so does the cap.
	for n := int64(1); n <= 100000; n++ {
		r, err := s.Update(context.Background(), "Thing", "crash", fmt.Appendf(nil, `{"state":{"reported":{"n":%d}}}`, n), OriginLocal)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var acc struct{ Version int64 }
		json.Unmarshal(r.Payload, &acc)
		fmt.Fprintln(w, acc.Version)
		w.Flush()
	}
}
