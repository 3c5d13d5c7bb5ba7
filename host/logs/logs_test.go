package logs

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/moss-edge/moss/internal/poll"
)

func TestRecordString(t *testing.T) {
	ts := time.Date(2026, 11, 24, 2, 11, 32, 123456789, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		r    Record
		want string
	}{
		{Record{Time: ts, Level: slog.LevelInfo, Component: "sensor", Msg: "msg", Attrs: "key=value"},
			"2026-11-24T01:11:32.123Z INFO  [sensor] msg key=value"},
		{Record{Time: ts, Level: slog.LevelError, Msg: "host msg"},
			"2026-11-24T01:11:32.123Z ERROR host msg"},
		{Record{Level: slog.LevelWarn, Component: "c", Msg: "no time"},
			"WARN  [c] no time"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

func TestHandlerRecordsComponentAndAttrs(t *testing.T) {
	b := NewBuffer(10)
	var out bytes.Buffer
	log := slog.New(b.Handler(slog.NewTextHandler(&out, nil)))

	log.With("component", "sensor").Info("reading", "temp", 21.5, "unit", "deg C")
	log.Warn("host only", "err", errors.New("boom"))
	log.Info("inline component", "component", "other", "n", 1)

	got := b.Tail("", -1)
	want := []Record{
		{Level: slog.LevelInfo, Component: "sensor", Msg: "reading", Attrs: `temp=21.5 unit="deg C"`},
		{Level: slog.LevelWarn, Msg: "host only", Attrs: "err=boom"},
		{Level: slog.LevelInfo, Component: "other", Msg: "inline component", Attrs: "n=1"},
	}
	checkRecords(t, got, want)
	for _, r := range got {
		if time.Since(r.Time) > time.Minute {
			t.Errorf("record %q has time %v, want about now", r.Msg, r.Time)
		}
	}
	// The next handler sees every record unchanged, component included.
	if s := out.String(); !strings.Contains(s, "msg=reading component=sensor temp=21.5") ||
		!strings.Contains(s, "component=other n=1") {
		t.Errorf("next handler output:\n%s", s)
	}
}

func TestHandlerWithAttrsAndGroups(t *testing.T) {
	b := NewBuffer(10)
	log := slog.New(b.Handler(nil))

	base := log.With("component", "bridge", "a", 1)
	req := base.WithGroup("req").With("id", "x1", "component", "not-this-one")
	req.WithGroup("http").Info("done", "status", 200)
	base.Info("plain", slog.Group("g", "k", "v"), slog.Group("", "inl", true), slog.Group("empty"))
	log.WithGroup("").With("z", "=").Info("empty group name")

	checkRecords(t, b.Tail("", -1), []Record{
		{Level: slog.LevelInfo, Component: "bridge", Msg: "done",
			Attrs: "a=1 req.id=x1 req.component=not-this-one req.http.status=200"},
		{Level: slog.LevelInfo, Component: "bridge", Msg: "plain", Attrs: "a=1 g.k=v inl=true"},
		{Level: slog.LevelInfo, Msg: "empty group name", Attrs: `z="="`},
	})
}

func TestHandlerLevels(t *testing.T) {
	b := NewBuffer(10)
	var out bytes.Buffer
	log := slog.New(b.Handler(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn})))

	log.Debug("d")
	log.Info("i")
	log.Warn("w")
	if n := len(b.Tail("", -1)); n != 2 {
		t.Errorf("buffer holds %d records, want 2 (info and warn)", n)
	}
	if s := out.String(); strings.Contains(s, "msg=i") || !strings.Contains(s, "msg=w") {
		t.Errorf("next handler got:\n%s", s)
	}

	var lv slog.LevelVar
	b.SetLevel(&lv)
	lv.Set(slog.LevelDebug)
	log.Debug("d2")
	if got := b.Tail("", 1); len(got) != 1 || got[0].Msg != "d2" {
		t.Errorf("after lowering the level, Tail = %v", got)
	}
}

// TestHandlerConformance runs slog's own handler test suite against what the
// buffer records, parsing Record.Attrs back into nested maps.
func TestHandlerConformance(t *testing.T) {
	var b *Buffer
	newHandler := func(*testing.T) slog.Handler {
		b = NewBuffer(10)
		return b.Handler(nil)
	}
	result := func(t *testing.T) map[string]any {
		recs := b.Tail("", -1)
		if len(recs) != 1 {
			t.Fatalf("got %d records, want 1", len(recs))
		}
		return parseRecord(t, recs[0])
	}
	slogtest.Run(t, newHandler, result)
}

func parseRecord(t *testing.T, r Record) map[string]any {
	m := map[string]any{slog.LevelKey: r.Level, slog.MessageKey: r.Msg}
	if !r.Time.IsZero() {
		m[slog.TimeKey] = r.Time
	}
	s := r.Attrs
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			t.Fatalf("malformed attrs %q", r.Attrs)
		}
		key := s[:eq]
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				t.Fatalf("attrs %q: %v", r.Attrs, err)
			}
			val, _ = strconv.Unquote(q)
			s = s[len(q):]
		} else if sp := strings.IndexByte(s, ' '); sp >= 0 {
			val, s = s[:sp], s[sp:]
		} else {
			val, s = s, ""
		}
		s = strings.TrimPrefix(s, " ")
		path := strings.Split(key, ".")
		cur := m
		for _, p := range path[:len(path)-1] {
			next, ok := cur[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
		cur[path[len(path)-1]] = val
	}
	return m
}

func TestTail(t *testing.T) {
	b := NewBuffer(5)
	log := slog.New(b.Handler(nil))
	for i := range 8 {
		log.With("component", []string{"a", "b"}[i%2]).Info(fmt.Sprint(i))
	}
	msgs := func(rs []Record) string {
		var s []string
		for _, r := range rs {
			s = append(s, r.Msg)
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct {
		component string
		n         int
		want      string
	}{
		{"", -1, "3,4,5,6,7"}, // the ring keeps the last 5
		{"", 2, "6,7"},
		{"", 100, "3,4,5,6,7"},
		{"", 0, ""},
		{"a", -1, "4,6"},
		{"b", 1, "7"},
		{"nope", -1, ""},
	} {
		if got := msgs(b.Tail(tc.component, tc.n)); got != tc.want {
			t.Errorf("Tail(%q, %d) = %s, want %s", tc.component, tc.n, got, tc.want)
		}
	}

	empty := NewBuffer(0)
	slog.New(empty.Handler(nil)).Info("x")
	if got := empty.Tail("", -1); len(got) != 0 {
		t.Errorf("a zero-size buffer kept %v", got)
	}
}

func TestFollow(t *testing.T) {
	b := NewBuffer(10)
	log := slog.New(b.Handler(nil))
	log.Info("before")

	ch, cancel := b.Follow("a")
	log.With("component", "b").Info("not mine")
	log.With("component", "a").Info("mine")
	r := <-ch
	if r.Msg != "mine" || r.Component != "a" {
		t.Errorf("first followed record = %v", r)
	}
	cancel()
	cancel() // idempotent
	log.With("component", "a").Info("after cancel")
	if r, ok := <-ch; ok {
		t.Errorf("channel still open after cancel, got %v", r)
	}
}

func TestTailAndFollowIsAtomic(t *testing.T) {
	b := NewBuffer(1000)
	log := slog.New(b.Handler(nil))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			log.Info(strconv.Itoa(i))
		}
	})
	// Wait for some records so the tail is not empty.
	checkFor(t, func() bool { return len(b.Tail("", 1)) == 1 })
	tail, ch, cancel := b.TailAndFollow("", -1)
	defer cancel()
	last, _ := strconv.Atoi(tail[len(tail)-1].Msg)
	next := <-ch
	close(stop)
	wg.Wait()
	if n, _ := strconv.Atoi(next.Msg); n != last+1 {
		t.Errorf("tail ends at %d but follow starts at %s: records lost or repeated", last, next.Msg)
	}
}

func TestFollowSlowReaderDropsWithoutBlocking(t *testing.T) {
	b := NewBuffer(10)
	log := slog.New(b.Handler(nil))
	ch, cancel := b.Follow("")
	defer cancel()

	const total = 1000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range total {
			log.Info(strconv.Itoa(i))
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the logger blocked on a follower that does not read")
	}

	// The channel holds the first FollowQueue records; the rest were dropped.
	for i := range FollowQueue {
		if r := <-ch; r.Msg != strconv.Itoa(i) {
			t.Fatalf("record %d = %q", i, r.Msg)
		}
	}
	log.Info("resumed")
	r := <-ch
	want := fmt.Sprintf("%d log records dropped", total-FollowQueue)
	if r.Msg != want || r.Level != slog.LevelWarn {
		t.Errorf("after the gap got %v, want a warning %q", r, want)
	}
	if r := <-ch; r.Msg != "resumed" {
		t.Errorf("after the drop notice got %v, want the new record", r)
	}
	select {
	case r := <-ch:
		t.Errorf("unexpected extra record %v", r)
	default:
	}
}

func TestFollowDropNoticeWaitsForRoom(t *testing.T) {
	b := NewBuffer(0)
	log := slog.New(b.Handler(nil))
	ch, cancel := b.Follow("")
	defer cancel()
	for i := range FollowQueue + 3 { // 3 dropped
		log.Info(strconv.Itoa(i))
	}
	<-ch // one free slot: not enough for notice + record
	log.Info("x")
	<-ch // two free slots
	log.Info("y")
	for range FollowQueue - 2 {
		<-ch
	}
	if r := <-ch; r.Msg != "4 log records dropped" {
		t.Errorf("notice = %q, want 4 dropped (3 + x)", r.Msg)
	}
	if r := <-ch; r.Msg != "y" {
		t.Errorf("after notice got %q, want y", r.Msg)
	}
}

func TestHandlerConcurrentHammer(t *testing.T) {
	b := NewBuffer(64)
	log := slog.New(b.Handler(nil))
	ch, cancel := b.Follow("")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			l := log.With("component", strconv.Itoa(g))
			for i := range 500 {
				l.Info("m", "i", i)
				if i%50 == 0 {
					b.Tail(strconv.Itoa(g), 10)
				}
			}
		})
	}
	wg.Go(func() {
		for range ch {
		}
	})
	checkFor(t, func() bool { return len(b.Tail("", -1)) == 64 })
	// The reader ends when cancel closes its channel, even mid-stream.
	cancel()
	wg.Wait()
}

func TestLineWriter(t *testing.T) {
	b := NewBuffer(100)
	log := slog.New(b.Handler(nil)).With("component", "guest", "stream", "stdout")
	w := LineWriter(log, slog.LevelInfo)

	for _, s := range []string{"hel", "lo\nwor", "ld\r\n\n", "a\nb\nc"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	checkRecords(t, b.Tail("", -1), []Record{
		{Level: slog.LevelInfo, Component: "guest", Msg: "hello", Attrs: "stream=stdout"},
		{Level: slog.LevelInfo, Component: "guest", Msg: "world", Attrs: "stream=stdout"},
		{Level: slog.LevelInfo, Component: "guest", Msg: "a", Attrs: "stream=stdout"},
		{Level: slog.LevelInfo, Component: "guest", Msg: "b", Attrs: "stream=stdout"},
	})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := b.Tail("", 1); got[0].Msg != "c" {
		t.Errorf("Close did not flush the partial line: last record %v", got[0])
	}
	if _, err := w.Write([]byte("late\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close = %v, want os.ErrClosed", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestLineWriterLongLines(t *testing.T) {
	b := NewBuffer(100)
	w := LineWriter(slog.New(b.Handler(nil)), slog.LevelWarn)

	// 10000 bytes in one line, written in odd-sized pieces, then a short line.
	long := strings.Repeat("x", 10000)
	for s := long + "\nshort\n"; s != ""; {
		k := min(len(s), 777)
		w.Write([]byte(s[:k]))
		s = s[k:]
	}
	// A multi-byte rune straddling the cut is not split.
	euro := strings.Repeat("a", MaxLine-1) + "€" + "tail\n"
	w.Write([]byte(euro))
	w.Close()

	got := b.Tail("", -1)
	var lens []int
	for _, r := range got {
		lens = append(lens, len(r.Msg))
		if r.Level != slog.LevelWarn {
			t.Errorf("level %v, want WARN", r.Level)
		}
	}
	want := []int{MaxLine, MaxLine, 10000 - 2*MaxLine, 5, MaxLine - 1, len("€tail")}
	if fmt.Sprint(lens) != fmt.Sprint(want) {
		t.Errorf("record lengths %v, want %v", lens, want)
	}
	if got[0].Msg+got[1].Msg+got[2].Msg != long {
		t.Error("the pieces of a long line do not add up to it")
	}
}

func checkRecords(t *testing.T, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d:\n%v", len(got), len(want), got)
	}
	for i := range got {
		g := got[i]
		g.Time = time.Time{}
		if g != want[i] {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, g, want[i])
		}
	}
}

// checkFor polls cond until it holds or a deadline passes.
func checkFor(t *testing.T, cond func() bool) {
	t.Helper()
	poll.Until(t, "the condition", cond)
}
