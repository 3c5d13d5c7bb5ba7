package main

import (
	"bufio"
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

// TestPrintDoesNotBlockOnAStalledStdout (issue 12, hole 9): with stdout a
// pipe nobody reads, --print's bus callback still returns at once for every
// message (the publisher is not held), drops what does not fit and counts
// it, and the log says so; close does not hang on the stalled pipe.
func TestPrintDoesNotBlockOnAStalledStdout(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var logBuf bytes.Buffer
	p := newPrinter(w, slog.New(slog.NewTextHandler(&logBuf, nil)))
	// A pipe holds 64 KiB; 100,000 lines of 40 bytes are 4 MB.
	payload := []byte(strings.Repeat("x", 30))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100_000 {
			p.deliver("sensors/t", payload)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("deliver blocked on a stdout nobody reads")
	}
	dropped := p.dropped.Load()
	if dropped == 0 {
		t.Fatal("nothing was dropped, though stdout took at most 64 KiB")
	}
	// close waits its bound and gives up on the stalled pipe; closing the
	// read end then ends the writer (EPIPE), which close's goroutine check
	// (goleak in TestMain) needs.
	if n := p.close(10 * time.Millisecond); n != dropped {
		t.Errorf("close reports %d dropped, deliver counted %d", n, dropped)
	}
	r.Close()
	<-p.done
	if !strings.Contains(logBuf.String(), "stdout is behind; dropping messages") {
		t.Errorf("the log does not say messages were dropped:\n%s", logBuf.String())
	}
	t.Logf("100,000 messages into a stalled pipe: %d dropped", dropped)
}

// TestPrintWritesWhatItTakes: with a reader, every line arrives whole and
// in order.
func TestPrintWritesWhatItTakes(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := newPrinter(w, slog.New(slog.DiscardHandler))
	got := make(chan []string, 1)
	go func() {
		var lines []string
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		got <- lines
	}()
	for i := range 100 {
		p.deliver("a/b", []byte{byte('0' + i%10)})
	}
	if n := p.close(10 * time.Second); n != 0 {
		t.Fatalf("%d dropped with a reader", n)
	}
	w.Close()
	lines := <-got
	if len(lines) != 100 || lines[0] != "a/b 0" || lines[99] != "a/b 9" {
		t.Fatalf("got %d lines: %q ... ", len(lines), lines[:min(3, len(lines))])
	}
}
