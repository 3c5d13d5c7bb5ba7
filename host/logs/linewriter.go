package logs

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"unicode/utf8"
)

// MaxLine is the longest message LineWriter logs. A longer line is logged in
// pieces of at most MaxLine bytes, so a guest printing without newlines
// cannot make the host hold an unbounded line in memory.
const MaxLine = 4 << 10

// LineWriter returns a writer that logs each line written to it as one
// record at level, without the line ending ("\n" or "\r\n"). It is meant
// for a guest's stdout and stderr: give it a logger that already carries
// the component (and, say, stream=stdout). Empty lines are not logged. A
// partial last line is held until its newline arrives or Close is called.
// It is safe for concurrent use; Write never fails before Close.
func LineWriter(l *slog.Logger, level slog.Level) io.WriteCloser {
	return &lineWriter{l: l, level: level}
}

type lineWriter struct {
	l     *slog.Logger
	level slog.Level

	mu     sync.Mutex
	buf    []byte // the current partial line, at most MaxLine bytes between calls
	closed bool
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, os.ErrClosed
	}
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		seg := p
		if i >= 0 {
			seg = p[:i]
		}
		// Feed at most one line's worth at a time so buf stays bounded even
		// when p is huge.
		for len(seg) > 0 {
			k := min(len(seg), MaxLine+1-len(w.buf))
			w.buf = append(w.buf, seg[:k]...)
			seg = seg[k:]
			if len(w.buf) > MaxLine {
				cut := pieceEnd(w.buf)
				w.emit(w.buf[:cut])
				w.buf = append(w.buf[:0], w.buf[cut:]...)
			}
		}
		if i < 0 {
			break
		}
		w.emit(w.buf)
		w.buf = w.buf[:0]
		p = p[i+1:]
	}
	return n, nil
}

// pieceEnd returns where to cut an over-long line: at MaxLine, moved back to
// a rune boundary so a multi-byte character is not split across records.
func pieceEnd(b []byte) int {
	for cut := MaxLine; cut > MaxLine-utf8.UTFMax; cut-- {
		if utf8.RuneStart(b[cut]) {
			return cut
		}
	}
	return MaxLine // not UTF-8 anyway
}

// emit logs line. It runs with w.mu held so lines keep their order.
func (w *lineWriter) emit(line []byte) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		return
	}
	w.l.Log(context.Background(), w.level, string(line))
}

// Close logs a pending partial line. Writes after Close fail with
// os.ErrClosed.
func (w *lineWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	w.emit(w.buf)
	w.buf = nil
	return nil
}
