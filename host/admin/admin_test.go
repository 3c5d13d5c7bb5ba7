package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moss-edge/moss/internal/poll"

	"go.uber.org/goleak"

	"github.com/moss-edge/moss/host/logs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeBackend stands in for the host: a list of components and an
// in-memory bus that delivers in the publisher's goroutine, as the real one
// does.
type fakeBackend struct {
	mu        sync.Mutex
	comps     []ComponentInfo
	published []string // "topic payload"
	subs      map[int]fakeSub
	nextID    int
	pubErr    error
	secrets   map[string][]byte
}

func (b *fakeBackend) SetSecret(name string, value []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if name == "bad name" {
		return errors.New("secret name \"bad name\": invalid")
	}
	if b.secrets == nil {
		b.secrets = map[string][]byte{}
	}
	b.secrets[name] = append([]byte(nil), value...)
	return nil
}

func (b *fakeBackend) Shadow(_ context.Context, op, thing, name string, _ []byte) (int, []byte, error) {
	return 404, []byte(fmt.Sprintf(`{"code":404,"message":"No shadow exists with name: '%s'"}`, thing+name)), nil
}

func (b *fakeBackend) CloudPublish(_ context.Context, topic string, _ []byte, qos byte) error {
	return fmt.Errorf("cloud publish %q at QoS %d: no cloud link", topic, qos)
}

func (b *fakeBackend) SecretNames() ([]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var names []string
	for n := range b.secrets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

type fakeSub struct {
	filter string
	fn     func(string, []byte)
}

func newFakeBackend() *fakeBackend { return &fakeBackend{subs: map[int]fakeSub{}} }

func (b *fakeBackend) Components() []ComponentInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.comps
}

func (b *fakeBackend) Status() Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Status{Version: "1.2.3", Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Components: len(b.comps), Subscriptions: len(b.subs)}
}

func (b *fakeBackend) Publish(topic string, payload []byte) error {
	b.mu.Lock()
	if b.pubErr != nil {
		b.mu.Unlock()
		return b.pubErr
	}
	b.published = append(b.published, topic+" "+string(payload))
	var fns []func(string, []byte)
	for _, s := range b.subs {
		if match(s.filter, topic) {
			fns = append(fns, s.fn)
		}
	}
	b.mu.Unlock()
	for _, fn := range fns {
		fn(topic, payload)
	}
	return nil
}

func (b *fakeBackend) Subscribe(filter string, fn func(string, []byte)) (func(), error) {
	if strings.Contains(filter, "#/") {
		return nil, errors.New("invalid filter: # must be last")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.nextID
	b.nextID++
	b.subs[id] = fakeSub{filter, fn}
	return func() {
		b.mu.Lock()
		delete(b.subs, id)
		b.mu.Unlock()
	}, nil
}

func (b *fakeBackend) subCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// match is just enough MQTT matching for these tests.
func match(filter, topic string) bool {
	f, t := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, p := range f {
		if p == "#" {
			return true
		}
		if i >= len(t) || p != "+" && p != t[i] {
			return false
		}
	}
	return len(f) == len(t)
}

// testServer is a Server running on a socket in a temp dir until the test
// ends or stop is called.
type testServer struct {
	*Client
	stop func() error // cancels Serve and returns what it returned
}

func startServer(t *testing.T, b Backend, buf *logs.Buffer) testServer {
	t.Helper()
	return startServerAt(t, filepath.Join(t.TempDir(), "run", "admin.sock"), b, buf)
}

func startServerAt(t *testing.T, path string, b Backend, buf *logs.Buffer) testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv := NewServer(path, b, buf, slog.New(slog.DiscardHandler))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	var once sync.Once
	var serveErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			serveErr = waitErr(t, done)
		})
		return serveErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Serve returned %v", err)
		}
	})
	c := &Client{Path: path}
	checkFor(t, func() bool {
		select {
		case err := <-done:
			done <- err // for stop
			t.Fatalf("Serve ended early: %v", err)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := c.Status(ctx)
		return err == nil
	})
	return testServer{Client: c, stop: stop}
}

// waitErr waits for one value from ch, failing after a deadline.
func waitErr(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a goroutine to return")
		return nil
	}
}

// checkFor polls cond until it holds or a deadline passes.
func checkFor(t *testing.T, cond func() bool) {
	t.Helper()
	poll.Until(t, "the condition", cond)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestListAndStatus(t *testing.T) {
	b := newFakeBackend()
	c := startServer(t, b, nil)
	ctx := ctxT(t)

	got, err := c.List(ctx)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("List with no components = %#v, %v; want an empty list", got, err)
	}

	since := time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
	want := []ComponentInfo{
		{Name: "sensor", Version: "1.0.0", State: "RUNNING", Restarts: 1, Delivered: 10, Dropped: 2, Queued: 3, Since: since},
		{Name: "bridge", Version: "0.2.0", State: "ERRORED", Errors: 4, LastError: "trap: unreachable", Since: since},
	}
	b.mu.Lock()
	b.comps = want
	b.mu.Unlock()
	got, err = c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("List =\n%v\nwant\n%v", got, want)
	}

	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := b.Status(); st != want {
		t.Errorf("Status = %+v, want %+v", st, want)
	}
}

func TestComponentInfoJSON(t *testing.T) {
	j, _ := json.Marshal(ComponentInfo{Name: "a", LastError: "x"})
	for _, key := range []string{`"name"`, `"last_error"`, `"delivered"`, `"queued"`, `"since"`} {
		if !strings.Contains(string(j), key) {
			t.Errorf("%s lacks %s", j, key)
		}
	}
}

func TestSecrets(t *testing.T) {
	b := newFakeBackend()
	c := startServer(t, b, nil)
	ctx := ctxT(t)
	if names, err := c.SecretNames(ctx); err != nil || len(names) != 0 {
		t.Fatalf("no secrets yet: %v %v", names, err)
	}
	if err := c.SetSecret(ctx, "db-password", []byte("hunter2")); err != nil {
		t.Fatal(err)
	}
	if string(b.secrets["db-password"]) != "hunter2" {
		t.Fatalf("backend got %q", b.secrets["db-password"])
	}
	if names, err := c.SecretNames(ctx); err != nil || len(names) != 1 || names[0] != "db-password" {
		t.Fatalf("SecretNames = %v, %v", names, err)
	}
	if err := c.SetSecret(ctx, "bad name", []byte("hunter2")); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("bad name: %v", err)
	}
}

func TestPublish(t *testing.T) {
	b := newFakeBackend()
	c := startServer(t, b, nil)
	ctx := ctxT(t)

	if err := c.Publish(ctx, "sensors/temp", []byte("21.5")); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(ctx, "empty", nil); err != nil {
		t.Fatal(err)
	}
	bin := []byte{0, 1, 0xff, '\n'}
	if err := c.Publish(ctx, "bin", bin); err != nil {
		t.Fatal(err)
	}
	want := []string{"sensors/temp 21.5", "empty ", "bin " + string(bin)}
	b.mu.Lock()
	if fmt.Sprint(b.published) != fmt.Sprint(want) {
		t.Errorf("backend got %q, want %q", b.published, want)
	}
	b.mu.Unlock()

	b.mu.Lock()
	b.pubErr = errors.New("not authorised")
	b.mu.Unlock()
	err := c.Publish(ctx, "x", []byte("y"))
	var re *RemoteError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "not authorised") {
		t.Errorf("Publish with a failing backend = %v, want a RemoteError saying why", err)
	}
}

func TestSubscribe(t *testing.T) {
	b := newFakeBackend()
	c := startServer(t, b, nil)
	ctx, cancel := context.WithCancel(ctxT(t))

	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- c.Subscribe(ctx, "sensors/#", func(topic string, payload []byte) {
			got <- topic + " " + string(payload)
		})
	}()
	checkFor(t, func() bool { return b.subCount() == 1 })

	for _, m := range [][2]string{{"sensors/a", "1"}, {"other", "x"}, {"sensors/b/c", "2"}} {
		if err := b.Publish(m[0], []byte(m[1])); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"sensors/a 1", "sensors/b/c 2"} {
		select {
		case g := <-got:
			if g != want {
				t.Errorf("got %q, want %q", g, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no message; want %q", want)
		}
	}

	cancel()
	if err := waitErr(t, done); err != nil {
		t.Errorf("Subscribe after cancel = %v, want nil", err)
	}
	// The server notices the client left and drops the subscription.
	checkFor(t, func() bool { return b.subCount() == 0 })
}

func TestSubscribeSlowClientDropsWithoutBlockingPublisher(t *testing.T) {
	b := newFakeBackend()
	c := startServer(t, b, nil)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()

	var mu sync.Mutex
	var received, dropped uint64
	release := make(chan struct{})
	c.OnDrop = func(n uint64) {
		mu.Lock()
		dropped += n
		mu.Unlock()
	}
	done := make(chan error, 1)
	go func() {
		done <- c.Subscribe(ctx, "#", func(string, []byte) {
			<-release // a reader stuck on its first message
			mu.Lock()
			received++
			mu.Unlock()
		})
	}()
	checkFor(t, func() bool { return b.subCount() == 1 })

	// Enough to fill the socket buffers and the queue several times over.
	const total = 5000
	payload := make([]byte, 1024)
	pubDone := make(chan error, 1)
	go func() {
		for range total {
			if err := b.Publish("t", payload); err != nil {
				pubDone <- err
				return
			}
		}
		pubDone <- nil
	}()
	if err := waitErr(t, pubDone); err != nil {
		t.Fatal(err)
	}
	close(release)

	checkFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return received+dropped == total
	})
	mu.Lock()
	if dropped == 0 {
		t.Errorf("received %d, dropped none: the test did not make the queue overflow", received)
	}
	mu.Unlock()
	cancel()
	if err := waitErr(t, done); err != nil {
		t.Error(err)
	}
}

func TestLogs(t *testing.T) {
	buf := logs.NewBuffer(100)
	log := slog.New(buf.Handler(nil))
	log.With("component", "a").Info("a1", "k", "v")
	log.With("component", "b").Warn("b1")
	log.With("component", "a").Info("a2")

	c := startServer(t, newFakeBackend(), buf)
	ctx := ctxT(t)

	collect := func(component string, n int) []string {
		t.Helper()
		var got []string
		err := c.Logs(ctx, component, n, false, func(r logs.Record) {
			got = append(got, r.Component+":"+r.Msg+":"+r.Attrs)
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, tc := range []struct {
		component string
		n         int
		want      string
	}{
		{"", -1, "[a:a1:k=v b:b1: a:a2:]"},
		{"", 2, "[b:b1: a:a2:]"},
		{"a", -1, "[a:a1:k=v a:a2:]"},
		{"a", 0, "[]"},
		{"zzz", -1, "[]"},
	} {
		if got := fmt.Sprint(collect(tc.component, tc.n)); got != tc.want {
			t.Errorf("Logs(%q, %d) = %s, want %s", tc.component, tc.n, got, tc.want)
		}
	}
}

func TestLogsFollow(t *testing.T) {
	buf := logs.NewBuffer(100)
	log := slog.New(buf.Handler(nil)).With("component", "a")
	log.Info("before")

	c := startServer(t, newFakeBackend(), buf)
	ctx, cancel := context.WithCancel(ctxT(t))
	got := make(chan logs.Record, 10)
	done := make(chan error, 1)
	go func() {
		done <- c.Logs(ctx, "a", 1, true, func(r logs.Record) { got <- r })
	}()
	next := func() string {
		t.Helper()
		select {
		case r := <-got:
			return r.Msg
		case <-time.After(10 * time.Second):
			t.Fatal("no record")
			return ""
		}
	}
	if m := next(); m != "before" {
		t.Fatalf("tail gave %q, want before", m)
	}
	// The tail arrived, so the follow is in place: nothing logged now is missed.
	slog.New(buf.Handler(nil)).With("component", "b").Info("other component")
	log.Info("after")
	if m := next(); m != "after" {
		t.Errorf("follow gave %q, want after", m)
	}
	cancel()
	if err := waitErr(t, done); err != nil {
		t.Errorf("Logs after cancel = %v, want nil", err)
	}
}

// rawRequest sends one request line and returns every reply line.
func rawRequest(t *testing.T, path, req string) []string {
	t.Helper()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestErrorReplies(t *testing.T) {
	c := startServer(t, newFakeBackend(), nil)
	ctx := ctxT(t)

	for _, tc := range []struct{ req, want string }{
		{`{"op":"nope"}` + "\n", `{"error":"unknown op \"nope\""}`},
		{`{}` + "\n", `{"error":"bad request: no \"op\""}`},
		{`not json` + "\n", `{"error":"bad request: invalid character 'o' in literal null (expecting 'u')"}`},
		{`{"op":"pub","payload":"eA=="}` + "\n", `{"error":"pub: \"topic\" is required"}`},
		{`{"op":"sub"}` + "\n", `{"error":"sub: \"filter\" is required"}`},
		{`{"op":"status","extra":1}` + "\n", `{"status":{"version":"1.2.3","started":"2026-01-02T03:04:05Z","components":0,"subscriptions":0}}`},
	} {
		got := rawRequest(t, c.Path, tc.req)
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s-> %q, want %q", tc.req, got, tc.want)
		}
	}

	var re *RemoteError
	err := c.Subscribe(ctx, "a/#/b", func(string, []byte) { t.Error("called") })
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "# must be last") {
		t.Errorf("Subscribe with a bad filter = %v", err)
	}
	err = c.Logs(ctx, "", 10, false, func(logs.Record) {})
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "no log buffer") {
		t.Errorf("Logs without a buffer = %v", err)
	}
}

func TestUnreachable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin.sock")
	c := &Client{Path: path}
	_, err := c.List(ctxT(t))
	want := fmt.Sprintf(`cannot reach the moss host at %s: is "moss run" running? (connect: no such file or directory)`, path)
	if err == nil || err.Error() != want {
		t.Errorf("List = %v\nwant %s", err, want)
	}
	var ue *UnreachableError
	if !errors.As(err, &ue) || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("error %v is not an UnreachableError wrapping ENOENT", err)
	}
}

// staleSocket leaves a socket file at path with nobody listening, as a
// killed host does.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
}

func TestStaleSocketIsReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin.sock")
	staleSocket(t, path)
	if _, err := (&Client{Path: path}).List(ctxT(t)); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("the stale socket answers: %v", err)
	}
	c := startServerAt(t, path, newFakeBackend(), nil)
	if _, err := c.Status(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestRefusesWhenAnotherHostRuns(t *testing.T) {
	b := newFakeBackend()
	c := startServer(t, b, nil)

	err := NewServer(c.Path, b, nil, nil).Serve(ctxT(t))
	if !errors.Is(err, ErrAlreadyRunning) || !strings.Contains(err.Error(), "another moss is running") {
		t.Fatalf("second Serve = %v, want ErrAlreadyRunning", err)
	}
	// The first host keeps its socket.
	if _, err := c.Status(ctxT(t)); err != nil {
		t.Errorf("the first host stopped answering: %v", err)
	}
}

func TestRefusesNonSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin.sock")
	os.WriteFile(path, []byte("mine"), 0o600)
	err := NewServer(path, newFakeBackend(), nil, nil).Serve(ctxT(t))
	if err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Serve over a regular file = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "mine" {
		t.Error("Serve clobbered a regular file")
	}
}

func TestPermissions(t *testing.T) {
	c := startServer(t, newFakeBackend(), nil)
	fi, err := os.Stat(c.Path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	di, err := os.Stat(filepath.Dir(c.Path))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("socket directory mode %v, want 0700", di.Mode().Perm())
	}
}

func TestCancelClosesEverything(t *testing.T) {
	b := newFakeBackend()
	buf := logs.NewBuffer(10)
	c := startServer(t, b, buf)
	ctx := ctxT(t)

	subDone := make(chan error, 1)
	go func() { subDone <- c.Subscribe(ctx, "#", func(string, []byte) {}) }()
	logsDone := make(chan error, 1)
	logged := make(chan struct{}, 1)
	go func() {
		logsDone <- c.Logs(ctx, "", -1, true, func(logs.Record) { logged <- struct{}{} })
	}()
	// A client that connects and never sends its request.
	idle, err := net.Dial("unix", c.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()

	checkFor(t, func() bool { return b.subCount() == 1 })
	slog.New(buf.Handler(nil)).Info("hello")
	<-logged

	if err := c.stop(); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
	for name, ch := range map[string]chan error{"Subscribe": subDone, "Logs": logsDone} {
		err := waitErr(t, ch)
		if err == nil || !strings.Contains(err.Error(), "closed the connection") {
			t.Errorf("%s after the host stopped = %v, want a closed-connection error", name, err)
		}
	}
	idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := idle.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("idle connection still open: %d, %v", n, err)
	}
	if b.subCount() != 0 {
		t.Error("the backend subscription outlived the server")
	}
	if _, err := os.Lstat(c.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket file left behind: %v", err)
	}
}
