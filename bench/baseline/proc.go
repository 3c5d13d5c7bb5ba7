package baseline

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one running ipcnode process: its stdin (closing it ends the
// process), its stdout lines and its stderr.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // closed when stdout ends
	stderr *syncBuffer
	exited chan struct{} // closed once Wait has returned
	err    error         // Wait's result, set before exited closes
}

// startProc starts bin with args. The process is killed if the harness's
// process dies (Pdeathsig) and exits by itself when its stdin ends.
func startProc(name, bin string, args ...string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &proc{name: name, cmd: cmd, lines: make(chan string, 64), stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p.stdin = stdin
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	go func() {
		// Wait closes stdout, so it must wait until the scanner has
		// read everything.
		<-scanned
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// line waits for the next line the process prints.
func (p *proc) line(ctx context.Context) (string, error) {
	select {
	case l, ok := <-p.lines:
		if !ok {
			return "", p.failure("exited")
		}
		return l, nil
	case <-ctx.Done():
		return "", fmt.Errorf("%s: %w", p.name, ctx.Err())
	}
}

// expect waits for a line starting with word and returns its fields after
// word parsed as integers.
func (p *proc) expect(ctx context.Context, word string, n int) ([]int64, error) {
	l, err := p.line(ctx)
	if err != nil {
		return nil, err
	}
	f := strings.Fields(l)
	if len(f) != n+1 || f[0] != word {
		return nil, p.failure(fmt.Sprintf("printed %q, want %q and %d numbers", l, word, n))
	}
	out := make([]int64, n)
	for i, s := range f[1:] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, p.failure(fmt.Sprintf("printed %q: %v", l, err))
		}
		out[i] = v
	}
	return out, nil
}

// failure is an error naming the process, with its stderr and, if it has
// exited, its exit status.
func (p *proc) failure(what string) error {
	select {
	case <-p.exited:
		what += fmt.Sprintf(" (%v)", p.err)
	case <-time.After(100 * time.Millisecond):
	}
	if s := strings.TrimSpace(p.stderr.String()); s != "" {
		what += ": " + s
	}
	return fmt.Errorf("%s %s", p.name, what)
}

func (p *proc) send(line string) error {
	_, err := io.WriteString(p.stdin, line+"\n")
	if err != nil {
		return p.failure("stdin: " + err.Error())
	}
	return nil
}

// stop closes stdin, which ends the process, and kills it if it has not
// exited within grace. It always waits for the process.
func (p *proc) stop(grace time.Duration) {
	p.stdin.Close()
	select {
	case <-p.exited:
		return
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// cpu is the CPU time the process has used (user + system).
func (p *proc) cpu() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields are
	// counted after its closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", p.cmd.Process.Pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", p.cmd.Process.Pid, len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / 100, nil // USER_HZ
}

// memory reads the process's VmRSS (/proc/PID/status) and Pss
// (/proc/PID/smaps_rollup), in bytes.
func (p *proc) memory() (rss, pss int64, err error) {
	pid := p.cmd.Process.Pid
	if rss, err = kbField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS"); err != nil {
		return 0, 0, err
	}
	if pss, err = kbField(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss"); err != nil {
		return 0, 0, err
	}
	return rss, pss, nil
}

// kbField reads the "key: N kB" line of a /proc file, in bytes.
func kbField(file, key string) (int64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	for l := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(l, ":")
		if !ok || k != key {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s %s: %q", file, key, v)
		}
		return n * 1024, nil
	}
	return 0, fmt.Errorf("%s: no %s", file, key)
}

// syncBuffer collects a process's stderr.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 64<<10 {
		return len(p), nil // enough to say what went wrong
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
