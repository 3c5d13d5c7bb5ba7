// Package tomlx decodes TOML strictly and reports every problem at once, each
// with the file and line it comes from. It serves host/config and
// host/manifest.
//
// BurntSushi/toml stops at the first type error, matches keys to fields case
// insensitively, and keeps key positions to itself. So tomlx lets it parse the
// document into plain maps (its syntax errors carry a line) and then decodes
// those maps into the target struct itself: exact key match on `toml` tags,
// unknown keys and wrong types collected, not fatal. Lines come from a small
// scanner over the source (lines.go) that records where each key, table header
// and array element starts; a problem whose own key has no line takes the line
// of the nearest enclosing key that has one.
//
// Fields of type map[string]any or any take the TOML value as is (free-form,
// never reported as unknown), with arrays of tables turned into []any so that
// every array looks the same to the code that reads them.
package tomlx

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/moss-edge/moss/host/limits"
)

// MaxDepth bounds how deeply a document may nest: keys, tables and arrays
// count one level each (the ABI refuses anything deeper than 16 anyway).
const MaxDepth = 32

// Error is one problem in a file.
type Error struct {
	File string
	Line int // 1-based; 0 when unknown
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// List is every problem found in one file, in line order (problems without a
// line, such as a missing key, first).
type List []*Error

func (l List) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap gives errors.Is and errors.As each problem.
func (l List) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Path addresses a value in a document: string keys and int array indexes.
type Path []any

// Key returns p extended by parts (each a string key or an int index).
func (p Path) Key(parts ...any) Path {
	return append(slices.Clip(p), parts...)
}

// String renders p as TOML would, with indexes in brackets:
// limits.memory, access[0].resources, dependencies."my.dep".type
func (p Path) String() string {
	var b strings.Builder
	for i, part := range p {
		switch part := part.(type) {
		case int:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(part))
			b.WriteByte(']')
		case string:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(quoteKey(part))
		default:
			panic(fmt.Sprintf("tomlx: path part %T", part))
		}
	}
	return b.String()
}

// table renders the table a key of p sits in, as a reader finds it in the file:
// [limits], [[access]], [dependencies.broker]; empty at the top level.
func (p Path) table() string {
	if len(p) == 0 {
		return ""
	}
	var keys []string
	for _, part := range p {
		if s, ok := part.(string); ok {
			keys = append(keys, quoteKey(s))
		}
	}
	if _, ok := p[len(p)-1].(int); ok {
		return "[[" + strings.Join(keys, ".") + "]]"
	}
	return "[" + strings.Join(keys, ".") + "]"
}

func quoteKey(k string) string {
	if k == "" {
		return `""`
	}
	for i := 0; i < len(k); i++ {
		if !isBare(k[i]) {
			return strconv.Quote(k)
		}
	}
	return k
}

func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// Doc is a decoded document: the raw values, where each key sits, and the
// problems found so far. Callers add their own validation problems with Errorf
// and finish with Err.
type Doc struct {
	name   string
	raw    map[string]any
	lines  map[string]int
	errs   List
	failed map[string]bool
}

// Decode parses data and decodes it into v, a pointer to a struct. It never
// stops early: check Doc.Err after adding any validation of your own. If the
// TOML syntax is broken, v is left untouched and the Doc holds that one error.
func Decode(name string, data []byte, v any) *Doc {
	d := &Doc{name: name, failed: map[string]bool{}}
	// The scanner runs first because it is also the depth guard: the TOML
	// parser, and anything that walks paths, slows down with the square of
	// the nesting, and no real file nests deeply.
	sc := scan(data)
	if sc.tooDeep > 0 {
		d.errs = append(d.errs, &Error{File: name, Line: sc.tooDeep, Msg: fmt.Sprintf("nested more than %d levels deep", MaxDepth)})
		return d
	}
	raw, err := parse(data)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			d.errs = append(d.errs, &Error{File: name, Line: pe.Position.Line, Msg: oneLine(pe.Message)})
		} else {
			d.errs = append(d.errs, &Error{File: name, Msg: oneLine(err.Error())})
		}
		return d
	}
	d.raw = raw
	d.lines = sc.lines
	d.decode(nil, raw, reflect.ValueOf(v).Elem())
	return d
}

// parse keeps a panic inside the TOML library from taking the host down:
// manifests arrive with deployments, so their bytes are not ours to trust.
func parse(data []byte) (raw map[string]any, err error) {
	defer func() {
		if r := recover(); r != nil {
			raw, err = nil, fmt.Errorf("TOML parser failed: %v", r)
		}
	}()
	_, err = toml.Decode(string(data), &raw)
	return raw, err
}

// OK reports whether the TOML parsed; when it did not, only the syntax error
// is worth reporting.
func (d *Doc) OK() bool { return d.raw != nil }

// Has reports whether the document sets the value at p.
func (d *Doc) Has(p Path) bool {
	_, ok := d.lookup(p)
	return ok
}

// IsTable reports whether the value at p is a table.
func (d *Doc) IsTable(p Path) bool {
	v, _ := d.lookup(p)
	_, ok := v.(map[string]any)
	return ok
}

func (d *Doc) lookup(p Path) (any, bool) {
	var cur any = d.raw
	for _, part := range p {
		switch part := part.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = m[part]; !ok {
				return nil, false
			}
		case int:
			v := reflect.ValueOf(cur)
			if v.Kind() != reflect.Slice || part < 0 || part >= v.Len() {
				return nil, false
			}
			cur = v.Index(part).Interface()
		}
	}
	return cur, true
}

// Failed reports whether decoding the value at p (or inside it) already gave
// an error, so that validation does not report a second problem for it.
func (d *Doc) Failed(p Path) bool { return d.failed[p.String()] }

// Line is the line of the key at p, or of the nearest enclosing key with a
// known line; 0 if none.
func (d *Doc) Line(p Path) int {
	for n := len(p); n > 0; n-- {
		if l, ok := d.lines[p[:n].String()]; ok {
			return l
		}
	}
	return 0
}

// Errorf records a problem located at p (see Line).
func (d *Doc) Errorf(p Path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.name, Line: d.Line(p), Msg: oneLine(fmt.Sprintf(format, args...))})
}

// oneLine keeps each problem on one line of the report: messages from the
// TOML and semver libraries may quote input holding newlines.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\r", `\r`).Replace(s)
}

// Err returns all recorded problems as a List, or nil.
func (d *Doc) Err() error {
	if len(d.errs) == 0 {
		return nil
	}
	errs := slices.Clone(d.errs)
	slices.SortStableFunc(errs, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
	return errs
}

// fail records a decoding problem at p and marks p and its parents as failed.
func (d *Doc) fail(p Path, format string, args ...any) {
	d.Errorf(p, format, args...)
	for n := len(p); n > 0; n-- {
		d.failed[p[:n].String()] = true
	}
}

// ReadFile reads a file of at most limit bytes; a larger one is refused
// without reading it all (configuration and modules come from disk a user
// controls, but a mistake should not exhaust a small device's memory).
func ReadFile(file string, limit int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %v", file, limits.Size(limit))
	}
	return data, nil
}

// Check runs fn when the file sets p and its value decoded cleanly: a key
// with a decoding error already has its message, and fn validates values.
func (d *Doc) Check(p Path, fn func()) {
	if d.Has(p) && !d.Failed(p) {
		fn()
	}
}

// Require reports p as missing unless the file sets it, or its parent is
// set but is not a table (which has a message of its own).
func (d *Doc) Require(p Path) {
	parent := p[:len(p)-1]
	if d.Has(p) || len(parent) > 0 && d.Has(parent) && !d.IsTable(parent) {
		return
	}
	if len(parent) == 0 {
		d.Errorf(parent, "missing required key %q", p[len(p)-1])
	} else {
		d.Errorf(parent, "%s: missing required key %q", parent, p[len(p)-1])
	}
}
