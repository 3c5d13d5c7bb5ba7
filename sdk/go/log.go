package moss

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"unicode/utf8"

	"github.com/moss-edge/moss/abi"
)

// maxLogMsg is the longest message the host's log function accepts.
const maxLogMsg = 64 << 10

// Log writes msg to the component's log at level, through the host function
// log. The host adds the component's name and the time. Messages over 64 KiB
// are cut; a line the host refuses (over its rate limit) is dropped, as a log
// call has no one to report to.
func Log(level slog.Level, msg string) {
	if len(msg) > maxLogMsg {
		cut := maxLogMsg
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut]
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	b := abi.AppendMap(g.req[:0], 2)
	b = appendInt(abi.AppendText(b, "level"), int64(level))
	g.req = abi.AppendText(abi.AppendText(b, "msg"), msg)
	_ = send(fnLog, hostLog)
}

// Debugf logs at debug level; arguments are handled as by fmt.Sprintf.
func Debugf(format string, args ...any) { Log(slog.LevelDebug, fmt.Sprintf(format, args...)) }

// Infof logs at info level; arguments are handled as by fmt.Sprintf.
func Infof(format string, args ...any) { Log(slog.LevelInfo, fmt.Sprintf(format, args...)) }

// Warnf logs at warn level; arguments are handled as by fmt.Sprintf.
func Warnf(format string, args ...any) { Log(slog.LevelWarn, fmt.Sprintf(format, args...)) }

// Errorf logs at error level; arguments are handled as by fmt.Sprintf.
func Errorf(format string, args ...any) { Log(slog.LevelError, fmt.Sprintf(format, args...)) }

// Logger returns a *slog.Logger whose records go to the host's log function:
// the record's attributes are rendered as slog's text handler renders them
// (k=v, groups as g.k=v) and appended to the message. The host adds the time
// and the component's name. slog.SetDefault(moss.Logger()) sends the slog
// package functions there too.
func Logger() *slog.Logger {
	// Built here rather than in a package variable so that a component
	// that never calls Logger does not link slog's handlers.
	loggerOnce.Do(func() { logger = slog.New(newLogHandler()) })
	return logger
}

var (
	loggerOnce sync.Once
	logger     *slog.Logger
)

// logHandler renders attributes with slog's text handler into a buffer,
// dropping the time, level and message that the host records separately.
type logHandler struct {
	text slog.Handler
	out  *logBuffer
}

type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func newLogHandler() *logHandler {
	out := &logBuffer{}
	return &logHandler{out: out, text: slog.NewTextHandler(out, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
				return slog.Attr{}
			}
			return a
		},
	})}
}

// Enabled passes every level: the host, which knows its log level, filters.
func (h *logHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	h.out.mu.Lock()
	h.out.buf = h.out.buf[:0]
	err := h.text.Handle(ctx, r)
	msg := r.Message
	if attrs := bytes.TrimSpace(h.out.buf); len(attrs) > 0 {
		msg += " " + string(attrs)
	}
	h.out.mu.Unlock()
	Log(r.Level, msg)
	return err
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &logHandler{text: h.text.WithAttrs(as), out: h.out}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{text: h.text.WithGroup(name), out: h.out}
}

// States a component reports with ReportState.
const (
	Running  = abi.StateRunning  // the component is working
	Errored  = abi.StateErrored  // the component failed: the host restarts it
	Finished = abi.StateFinished // the component is done: the host stops it for good
)

// ReportState tells the host the component's state, through the host function
// report_state. After Errored the host discards the instance when the current
// call returns and restarts it as after a crash; after Finished it stops the
// component and does not restart it. reason is shown in moss list and logs.
// Errors: ErrInvalid (an unknown state).
func ReportState(state, reason string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 1
	if reason != "" {
		n = 2
	}
	b := abi.AppendText(abi.AppendText(abi.AppendMap(g.req[:0], n), "state"), state)
	if reason != "" {
		b = abi.AppendText(abi.AppendText(b, "reason"), reason)
	}
	g.req = b
	return send(fnReportState, hostReportState)
}
