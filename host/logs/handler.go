package logs

import (
	"context"
	"encoding"
	"fmt"
	"log/slog"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// Handler returns an slog.Handler that records into b and forwards every
// record to next (which may be nil). A record is forwarded when next is
// enabled for its level, and recorded when it reaches the buffer's level,
// independently of each other.
func (b *Buffer) Handler(next slog.Handler) slog.Handler {
	return &handler{b: b, next: next}
}

type handler struct {
	b    *Buffer
	next slog.Handler
	// component is the last top-level "component" attribute given to
	// WithAttrs; a record's own top-level one overrides it.
	component string
	// attrs holds what WithAttrs gave, already rendered: rendering once here
	// rather than per record is why loggers made by With are cheap.
	attrs string
	// group is the dotted prefix that WithGroup opened, e.g. "req.http.".
	group string
}

var _ slog.Handler = (*handler)(nil)

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.b.minLevel() || (h.next != nil && h.next.Enabled(ctx, l))
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if h.next != nil && h.next.Enabled(ctx, r.Level) {
		err = h.next.Handle(ctx, r)
	}
	if r.Level < h.b.minLevel() {
		return err
	}
	rec := Record{Time: r.Time, Level: r.Level, Component: h.component, Msg: r.Message}
	buf := []byte(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		buf = appendAttr(buf, h.group, a, &rec.Component)
		return true
	})
	rec.Attrs = string(buf)
	h.b.add(rec)
	return err
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	h2 := *h
	if h.next != nil {
		h2.next = h.next.WithAttrs(as)
	}
	buf := []byte(h.attrs)
	for _, a := range as {
		buf = appendAttr(buf, h.group, a, &h2.component)
	}
	h2.attrs = string(buf)
	return &h2
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h // slog: an empty group name inlines its attributes
	}
	h2 := *h
	if h.next != nil {
		h2.next = h.next.WithGroup(name)
	}
	h2.group = h.group + name + "."
	return &h2
}

// appendAttr renders a as key=value pairs after buf. A top-level (prefix "")
// "component" attribute sets *component instead of being rendered, because
// Record carries it in its own field.
func appendAttr(buf []byte, prefix string, a slog.Attr, component *string) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return buf
	}
	if a.Value.Kind() == slog.KindGroup {
		as := a.Value.Group()
		if len(as) == 0 {
			return buf
		}
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, ga := range as {
			buf = appendAttr(buf, p, ga, component)
		}
		return buf
	}
	if prefix == "" && a.Key == ComponentKey {
		*component = a.Value.String()
		return buf
	}
	if len(buf) > 0 {
		buf = append(buf, ' ')
	}
	buf = appendString(buf, prefix+a.Key)
	buf = append(buf, '=')
	return appendString(buf, valueString(a.Value))
}

func valueString(v slog.Value) string {
	switch v.Kind() {
	case slog.KindTime:
		return v.Time().Format(time.RFC3339Nano)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return x.Error()
		case encoding.TextMarshaler:
			if b, err := x.MarshalText(); err == nil {
				return string(b)
			}
		case []byte:
			return string(x)
		}
		return fmt.Sprintf("%+v", v.Any())
	default:
		return v.String()
	}
}

// appendString quotes s when a reader could not otherwise tell where it
// ends, the same rule as slog's TextHandler.
func appendString(buf []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(buf, s)
	}
	return append(buf, s...)
}

func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for _, r := range s {
		if r == utf8.RuneError || r == '=' || r == '"' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
	}
	return false
}
