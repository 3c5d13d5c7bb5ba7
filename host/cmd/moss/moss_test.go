package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moss-edge/moss/internal/poll"

	"go.uber.org/goleak"

	"github.com/moss-edge/moss/host/admin"
	"github.com/moss-edge/moss/host/logs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeHost is the admin.Backend of these tests: a fixed component list and
// an in-memory bus with exact topic or "#"-suffix matching.
type fakeHost struct {
	mu        sync.Mutex
	comps     []admin.ComponentInfo
	published []string
	subs      map[*func(string, []byte)]string
	secrets   map[string]string
}

func (h *fakeHost) SetSecret(name string, value []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.secrets == nil {
		h.secrets = map[string]string{}
	}
	h.secrets[name] = string(value)
	return nil
}

func (h *fakeHost) Shadow(_ context.Context, op, thing, name string, payload []byte) (int, []byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.published = append(h.published, fmt.Sprintf("shadow:%s %s/%s %s", op, thing, name, payload))
	if thing == "missing" {
		return 404, []byte(`{"code":404,"message":"No shadow exists with name: 'missing'"}`), nil
	}
	return 200, []byte(`{"state":{}}`), nil
}

func (h *fakeHost) CloudPublish(_ context.Context, topic string, payload []byte, qos byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.published = append(h.published, fmt.Sprintf("cloud:%d %s %s", qos, topic, payload))
	return nil
}

func (h *fakeHost) SecretNames() ([]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var names []string
	for n := range h.secrets {
		names = append(names, n)
	}
	return names, nil
}

func (h *fakeHost) Components() []admin.ComponentInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.comps
}

func (h *fakeHost) Status() admin.Status {
	return admin.Status{Version: "0.9.0", Started: time.Now().Add(-90 * time.Minute), Components: 2, Subscriptions: 7}
}

func (h *fakeHost) Publish(topic string, payload []byte) error {
	if strings.ContainsAny(topic, "+#") {
		return errors.New("wildcards are not allowed in a topic")
	}
	h.mu.Lock()
	h.published = append(h.published, topic+" "+string(payload))
	var fns []func(string, []byte)
	for fn, filter := range h.subs {
		if filter == topic || strings.HasSuffix(filter, "#") && strings.HasPrefix(topic, strings.TrimSuffix(filter, "#")) {
			fns = append(fns, *fn)
		}
	}
	h.mu.Unlock()
	for _, fn := range fns {
		fn(topic, payload)
	}
	return nil
}

func (h *fakeHost) Subscribe(filter string, fn func(string, []byte)) (func(), error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[*func(string, []byte)]string{}
	}
	key := &fn
	h.subs[key] = filter
	return func() {
		h.mu.Lock()
		delete(h.subs, key)
		h.mu.Unlock()
	}, nil
}

func (h *fakeHost) subCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// startHost serves the admin protocol for h and buf on a temp socket until
// the test ends, and returns the socket path.
func startHost(t *testing.T, h *fakeHost, buf *logs.Buffer) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "admin.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- admin.NewServer(path, h, buf, nil).Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	checkFor(t, func() bool {
		_, err := (&admin.Client{Path: path}).Status(ctx)
		return err == nil
	})
	return path
}

func checkFor(t *testing.T, cond func() bool) {
	t.Helper()
	poll.Until(t, "the condition", cond)
}

type result struct {
	code           int
	stdout, stderr string
}

// moss runs the command line in-process, as main would.
func moss(ctx context.Context, stdin string, args ...string) result {
	var out, errOut bytes.Buffer
	code := execute(ctx, args, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

func mustMoss(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := moss(context.Background(), stdin, args...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("moss %s: exit %d, stderr:\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

func TestHelpMentionsEverySubcommand(t *testing.T) {
	out := mustMoss(t, "", "--help")
	for _, sub := range []string{"run", "list", "status", "pub", "sub", "logs", "version", "completion", "--socket", "MOSS_SOCKET"} {
		if !strings.Contains(out, sub) {
			t.Errorf("moss --help does not mention %s", sub)
		}
	}
	// Each of our subcommands documents itself with examples.
	for _, sub := range []string{"list", "status", "pub", "sub", "logs", "version"} {
		out := mustMoss(t, "", sub, "--help")
		if !strings.Contains(out, "Examples:") || !strings.Contains(out, "moss "+sub) {
			t.Errorf("moss %s --help lacks examples:\n%s", sub, out)
		}
	}
	if out := mustMoss(t, "", "completion", "bash"); !strings.Contains(out, "bash completion") {
		t.Errorf("no bash completion script:\n%.200s", out)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"lst"}, "moss: unknown command \"lst\"; did you mean list?\nRun 'moss --help' for usage.\n"},
		{[]string{"pub"}, "moss: pub needs a TOPIC and a MESSAGE\nRun 'moss pub --help' for usage.\n"},
		{[]string{"pub", "t"}, "Run 'moss pub --help' for usage.\n"},
		{[]string{"pub", "t", "a", "b"}, "quote a message"},
		{[]string{"pub", "-f", "x", "t", "m"}, "takes only a TOPIC"},
		{[]string{"sub"}, "moss: accepts 1 arg(s), received 0\nRun 'moss sub --help' for usage.\n"},
		{[]string{"sub", "-C", "-1", "x"}, "-C must be a positive count"},
		{[]string{"list", "--bogus"}, "moss: unknown flag: --bogus\nRun 'moss list --help' for usage.\n"},
		{[]string{"logs", "a", "b"}, "accepts at most 1 arg(s)"},
		{[]string{"version", "x"}, "unknown command \"x\" for \"moss version\""},
	} {
		r := moss(context.Background(), "", tc.args...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("moss %v: exit %d, stderr %q; want exit 1 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

func TestUnreachableHost(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin.sock")
	r := moss(context.Background(), "", "--socket", path, "list")
	want := fmt.Sprintf("moss: cannot reach the moss host at %s: is \"moss run\" running? (connect: no such file or directory)\n", path)
	if r.code != 1 || r.stderr != want || r.stdout != "" {
		t.Errorf("got exit %d, stdout %q, stderr %q\nwant stderr %q", r.code, r.stdout, r.stderr, want)
	}
}

func TestList(t *testing.T) {
	h := &fakeHost{}
	sock := startHost(t, h, nil)

	r := moss(context.Background(), "", "--socket", sock, "list")
	if r.code != 0 || r.stdout != "" || r.stderr != "No components.\n" {
		t.Errorf("empty list: %+v", r)
	}
	if out := mustMoss(t, "", "--socket", sock, "list", "--json"); out != "[]\n" {
		t.Errorf("empty list --json = %q", out)
	}

	h.mu.Lock()
	h.comps = []admin.ComponentInfo{
		{Name: "sensor", Version: "1.0.0", State: "RUNNING", Delivered: 1234, Queued: 2},
		{Name: "alerts", Version: "0.3.1", State: "ERRORED", Restarts: 3, Dropped: 17, Errors: 3, LastError: "trap"},
	}
	h.mu.Unlock()
	want := "" +
		"NAME     VERSION   STATE     RESTARTS   DELIVERED   DROPPED   QUEUED\n" +
		"alerts   0.3.1     ERRORED   3          0           17        0\n" +
		"sensor   1.0.0     RUNNING   0          1234        0         2\n"
	if out := mustMoss(t, "", "--socket", sock, "list"); out != want {
		t.Errorf("moss list:\n%s\nwant:\n%s", out, want)
	}

	var got []admin.ComponentInfo
	if err := json.Unmarshal([]byte(mustMoss(t, "", "--socket", sock, "ls", "--json")), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "alerts" || got[0].LastError != "trap" {
		t.Errorf("moss ls --json = %+v", got)
	}
}

func TestSocketFromEnvironment(t *testing.T) {
	sock := startHost(t, &fakeHost{}, nil)
	t.Setenv("MOSS_SOCKET", sock)
	out := mustMoss(t, "", "status")
	for _, want := range []string{"Version:        0.9.0\n", "(up 1h30m0s)\n", "Components:     2\n", "Subscriptions:  7\n", "Socket:         " + sock + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("moss status lacks %q:\n%s", want, out)
		}
	}
	var st admin.Status
	if err := json.Unmarshal([]byte(mustMoss(t, "", "status", "--json")), &st); err != nil || st.Version != "0.9.0" {
		t.Errorf("moss status --json: %+v, %v", st, err)
	}
}

func TestPub(t *testing.T) {
	h := &fakeHost{}
	sock := startHost(t, h, nil)
	file := filepath.Join(t.TempDir(), "msg.bin")
	os.WriteFile(file, []byte("from\nfile"), 0o600)

	mustMoss(t, "", "--socket", sock, "pub", "commands/led", "on")
	mustMoss(t, "", "--socket", sock, "pub", "empty", "")
	mustMoss(t, "", "--socket", sock, "pub", "-f", file, "f")
	mustMoss(t, "piped\n", "--socket", sock, "pub", "stdin1", "-")
	mustMoss(t, "piped2", "--socket", sock, "pub", "--file", "-", "stdin2")

	want := []string{"commands/led on", "empty ", "f from\nfile", "stdin1 piped\n", "stdin2 piped2"}
	h.mu.Lock()
	if fmt.Sprint(h.published) != fmt.Sprint(want) {
		t.Errorf("published %q, want %q", h.published, want)
	}
	h.mu.Unlock()

	r := moss(context.Background(), "", "--socket", sock, "pub", "a/#", "x")
	if r.code != 1 || r.stderr != "moss: publish to \"a/#\": wildcards are not allowed in a topic\n" {
		t.Errorf("publish refused by the host: %+v", r)
	}
	r = moss(context.Background(), "", "--socket", sock, "pub", "-f", filepath.Join(t.TempDir(), "nope"), "t")
	if r.code != 1 || !strings.Contains(r.stderr, "no such file") {
		t.Errorf("pub -f of a missing file: %+v", r)
	}
}

func TestSub(t *testing.T) {
	h := &fakeHost{}
	sock := startHost(t, h, nil)

	done := make(chan result, 1)
	go func() { done <- moss(context.Background(), "", "--socket", sock, "sub", "-v", "-C", "2", "sensors/#") }()
	checkFor(t, func() bool { return h.subCount() == 1 })
	h.Publish("other", []byte("not shown"))
	h.Publish("sensors/a", []byte("21.5"))
	h.Publish("sensors/b", []byte("{\"x\":1}"))
	h.Publish("sensors/c", []byte("after the count"))

	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("moss sub -C 2 did not exit after 2 messages")
	}
	want := "sensors/a 21.5\nsensors/b {\"x\":1}\n"
	if r.code != 0 || r.stdout != want || r.stderr != "" {
		t.Errorf("moss sub -v -C 2: %+v\nwant stdout %q", r, want)
	}
}

func TestSubInterrupted(t *testing.T) {
	h := &fakeHost{}
	sock := startHost(t, h, nil)

	ctx, interrupt := context.WithCancel(context.Background()) // as Ctrl-C does in main
	done := make(chan result, 1)
	go func() { done <- moss(ctx, "", "--socket", sock, "sub", "t") }()
	checkFor(t, func() bool { return h.subCount() == 1 })
	h.Publish("t", []byte("hello"))
	checkFor(t, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.published) == 1
	})
	// Whether "hello" is printed before the interrupt lands is a race the
	// test does not need to win; the exit must be clean either way.
	interrupt()
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("moss sub did not exit on interrupt")
	}
	if r.code != 0 || r.stderr != "" {
		t.Errorf("interrupted moss sub: %+v, want a clean exit", r)
	}
	if r.stdout != "" && r.stdout != "hello\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	checkFor(t, func() bool { return h.subCount() == 0 })
}

func TestLogs(t *testing.T) {
	buf := logs.NewBuffer(100)
	log := slog.New(buf.Handler(nil))
	log.With("component", "sensor").Info("reading", "celsius", 21.5)
	log.Warn("host thing")
	log.With("component", "sensor").Error("sensor gone")
	sock := startHost(t, &fakeHost{}, buf)

	lines := func(out string) []string {
		var msgs []string
		for l := range strings.Lines(out) {
			// Drop the timestamp, which the test does not control.
			_, rest, _ := strings.Cut(strings.TrimSuffix(l, "\n"), " ")
			msgs = append(msgs, rest)
		}
		return msgs
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"INFO  [sensor] reading celsius=21.5", "WARN  host thing", "ERROR [sensor] sensor gone"}},
		{[]string{"sensor"}, []string{"INFO  [sensor] reading celsius=21.5", "ERROR [sensor] sensor gone"}},
		{[]string{"sensor", "-n", "1"}, []string{"ERROR [sensor] sensor gone"}},
		{[]string{"nobody"}, nil},
	} {
		args := append([]string{"--socket", sock, "logs"}, tc.args...)
		if got := lines(mustMoss(t, "", args...)); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("moss logs %v:\n%q\nwant\n%q", tc.args, got, tc.want)
		}
	}
	if out := mustMoss(t, "", "--socket", sock, "logs", "-n", "1"); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ERROR `).MatchString(out) {
		t.Errorf("record line does not start with a UTC timestamp: %q", out)
	}
}

func TestLogsFollow(t *testing.T) {
	buf := logs.NewBuffer(100)
	log := slog.New(buf.Handler(nil)).With("component", "sensor")
	log.Info("old")
	sock := startHost(t, &fakeHost{}, buf)

	ctx, interrupt := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, []string{"--socket", sock, "logs", "-f", "-n", "1", "sensor"}, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	out := make(chan string, 10)
	go func() {
		defer close(out)
		b := make([]byte, 4096)
		for {
			n, err := pr.Read(b)
			if n > 0 {
				out <- string(b[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case s := <-out:
			if !strings.HasSuffix(s, want) {
				t.Errorf("got %q, want a line ending %q", s, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no output; want %q", want)
		}
	}
	expect("[sensor] old\n")
	log.Info("new", "n", 1)
	expect("[sensor] new n=1\n")

	interrupt()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("interrupted moss logs -f exited %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("moss logs -f did not exit on interrupt")
	}
	for range out {
	}
}

func TestVersion(t *testing.T) {
	out := mustMoss(t, "", "version")
	if !strings.HasPrefix(out, "moss version ") || !strings.Contains(out, "go1.") {
		t.Errorf("moss version = %q", out)
	}
	if v := mustMoss(t, "", "--version"); v != out {
		t.Errorf("moss --version = %q, moss version = %q", v, out)
	}
}

func TestSecretSetReadsStdinAndNeverPrints(t *testing.T) {
	h := &fakeHost{}
	sock := startHost(t, h, nil)
	r := moss(context.Background(), "hunter2\n", "--socket", sock, "secret", "set", "db-password")
	if r.code != 0 || strings.Contains(r.stdout+r.stderr, "hunter2") {
		t.Fatalf("secret set: %+v", r)
	}
	h.mu.Lock()
	got := h.secrets["db-password"]
	h.mu.Unlock()
	if got != "hunter2" {
		t.Fatalf("host got %q (one trailing newline should be removed)", got)
	}
	if out := mustMoss(t, "", "--socket", sock, "secret", "list"); out != "db-password\n" {
		t.Fatalf("secret list = %q", out)
	}
	// No value on stdin: a clear error, nothing stored.
	if r := moss(context.Background(), "", "--socket", sock, "secret", "set", "empty"); r.code == 0 || !strings.Contains(r.stderr, "no value on stdin") {
		t.Fatalf("empty stdin: %+v", r)
	}
	// The value is never an argument.
	if r := moss(context.Background(), "", "--socket", sock, "secret", "set", "x", "value"); r.code == 0 {
		t.Fatal("secret set accepted the value as an argument")
	}
}
