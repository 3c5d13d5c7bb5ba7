// Package logs is the host's log pipeline: an slog.Handler that keeps the
// last N records in memory so the admin socket can serve "moss logs" (tail
// and follow) without a log file, and a LineWriter that turns a guest's
// stdout/stderr bytes into log records.
//
// The pipeline sits beside the host's real handler (text or JSON to stderr,
// a file, journald) rather than replacing it: Buffer.Handler forwards every
// record to the next handler and also renders it into a Record. Records are
// rendered once, when logged, so a Record is a small immutable value that can
// be copied to any number of readers.
//
// The component a record belongs to is the "component" attribute, normally
// attached with logger.With("component", name); it is kept apart from the
// other attributes so "moss logs NAME" can filter on it.
//
// A follower never slows the host down: each follower has a bounded channel,
// and when it is full records are dropped and counted. The count reaches the
// follower as a synthetic WARN record ("N log records dropped"), just before
// the next record that finds room in the channel for both.
package logs

import (
	"log/slog"
	"strings"
	"time"
)

// ComponentKey is the attribute key that names the component a record
// belongs to.
const ComponentKey = "component"

// Record is one rendered log record.
type Record struct {
	Time      time.Time  `json:"time"` // zero when the logger gave no time
	Level     slog.Level `json:"level"`
	Component string     `json:"component,omitempty"` // "" for the host itself
	Msg       string     `json:"msg"`
	Attrs     string     `json:"attrs,omitempty"` // rendered key=value pairs, groups as dotted keys
}

// timeFormat is RFC 3339 with milliseconds, fixed width so columns line up.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// String renders r on one line, as "moss logs" prints it:
//
//	2026-11-24T02:11:32.123Z INFO  [sensor] msg key=value
//
// Times are in UTC so lines from different machines compare directly.
func (r Record) String() string {
	var b strings.Builder
	if !r.Time.IsZero() {
		b.WriteString(r.Time.UTC().Format(timeFormat))
		b.WriteByte(' ')
	}
	lvl := r.Level.String()
	b.WriteString(lvl)
	for i := len(lvl); i < 5; i++ {
		b.WriteByte(' ')
	}
	if r.Component != "" {
		b.WriteString(" [")
		b.WriteString(r.Component)
		b.WriteByte(']')
	}
	b.WriteByte(' ')
	b.WriteString(r.Msg)
	if r.Attrs != "" {
		b.WriteByte(' ')
		b.WriteString(r.Attrs)
	}
	return b.String()
}
