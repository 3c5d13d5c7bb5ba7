package tomlx

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"
)

// scan records the line of every key, table header and array element in src,
// by the Path.String() of each.
//
// It runs before BurntSushi/toml parses the document (to bound its depth,
// see Decode), and its lines are used only if the parser accepts it, so it
// trusts the syntax and skips values without checking them. It still never
// reads out of bounds and always makes progress, whatever the input: a key it
// misreads only costs that key its line (the error then takes its parent's).
func scan(src []byte) *scanner {
	s := &scanner{
		src:    bytes.TrimPrefix(src, []byte("\xef\xbb\xbf")),
		line:   1,
		lines:  map[string]int{},
		arrays: map[string]int{},
	}
	s.document()
	return s
}

type scanner struct {
	src    []byte
	i      int
	line   int
	lines  map[string]int
	arrays map[string]int // elements seen so far of each array of tables
	table  Path           // the table the current key/value lines belong to
	paths  []Path         // every path marked, in order (for tests)
	// tooDeep is the line where a path first exceeded MaxDepth; 0 if none.
	tooDeep int
}

func (s *scanner) eof() bool { return s.i >= len(s.src) }

func (s *scanner) at(c byte) bool { return s.i < len(s.src) && s.src[s.i] == c }

func (s *scanner) atString(prefix string) bool {
	if s.i > len(s.src) {
		return false
	}
	return bytes.HasPrefix(s.src[s.i:], []byte(prefix))
}

// mark keeps the first line a path is seen on: a table named by [a.b] before
// [a] is first mentioned there.
func (s *scanner) mark(p Path, line int) {
	if len(p) > MaxDepth {
		if s.tooDeep == 0 {
			s.tooDeep = line
		}
		s.i = len(s.src) // stop: nothing after this is read
		return
	}
	k := p.String()
	if _, ok := s.lines[k]; !ok {
		s.lines[k] = line
		s.paths = append(s.paths, p)
	}
}

func (s *scanner) document() {
	for !s.eof() {
		s.skipBlank()
		if s.eof() {
			return
		}
		switch s.src[s.i] {
		case '\n':
			s.i++
			s.line++
		case '#':
			s.skipLine()
		case '[':
			s.header()
		default:
			start := s.i
			s.keyValue(s.table)
			s.skipLine()
			if s.i == start {
				s.i++
			}
		}
	}
}

// header reads [a.b] or [[a.b]] and makes it the current table. Keys are
// resolved as TOML does: a name that is an array of tables stands for its
// last element, and [[x]] adds an element.
func (s *scanner) header() {
	line := s.line
	s.i++
	array := s.at('[')
	if array {
		s.i++
	}
	keys := s.key()
	var p Path
	for j, k := range keys {
		if s.tooDeep > 0 {
			return
		}
		p = p.Key(k)
		s.mark(p, line)
		n, isArray := s.arrays[p.String()]
		if array && j == len(keys)-1 {
			s.arrays[p.String()] = n + 1
			p = p.Key(n)
			s.mark(p, line)
		} else if isArray && n > 0 {
			p = p.Key(n - 1)
		}
	}
	s.table = p
	s.skipLine()
}

// keyValue reads `key = value` and records the key, its dotted prefixes and
// whatever the value holds.
func (s *scanner) keyValue(base Path) {
	line := s.line
	keys := s.key()
	if len(keys) == 0 {
		return
	}
	p := base
	for _, k := range keys {
		if s.tooDeep > 0 {
			return
		}
		p = p.Key(k)
		s.mark(p, line)
	}
	s.skipBlank()
	if !s.at('=') {
		return
	}
	s.i++
	s.skipBlank()
	s.value(p)
}

// key reads a dotted key: bare, "basic" or 'literal' parts.
func (s *scanner) key() []string {
	var keys []string
	for {
		s.skipBlank()
		k, ok := s.simpleKey()
		if !ok {
			return keys
		}
		keys = append(keys, k)
		s.skipBlank()
		if !s.at('.') {
			return keys
		}
		s.i++
	}
}

func (s *scanner) simpleKey() (string, bool) {
	if s.eof() {
		return "", false
	}
	switch s.src[s.i] {
	case '"':
		start := s.i + 1
		s.i++
		for !s.eof() && s.src[s.i] != '"' && s.src[s.i] != '\n' {
			if s.src[s.i] == '\\' {
				s.i++
			}
			s.i++
		}
		end := min(s.i, len(s.src))
		if s.at('"') {
			s.i++
		}
		return unescape(string(s.src[start:end])), true
	case '\'':
		start := s.i + 1
		s.i++
		for !s.eof() && s.src[s.i] != '\'' && s.src[s.i] != '\n' {
			s.i++
		}
		end := s.i
		if s.at('\'') {
			s.i++
		}
		return string(s.src[start:end]), true
	}
	start := s.i
	// Bytes >= 0x80 are let through for TOML 1.1's Unicode bare keys.
	for !s.eof() && (isBare(s.src[s.i]) || s.src[s.i] >= utf8.RuneSelf) {
		s.i++
	}
	return string(s.src[start:s.i]), s.i > start
}

// value skips one value, recording the keys of inline tables and the
// elements of arrays it contains.
func (s *scanner) value(p Path) {
	if s.eof() {
		return
	}
	switch {
	case s.atString(`"""`):
		s.multiline(`"""`, true)
	case s.atString(`'''`):
		s.multiline(`'''`, false)
	case s.at('"'), s.at('\''):
		q := s.src[s.i]
		s.i++
		for !s.eof() && s.src[s.i] != q && s.src[s.i] != '\n' {
			if q == '"' && s.src[s.i] == '\\' {
				s.i++
			}
			s.i++
		}
		if s.at(q) {
			s.i++
		}
	case s.at('['):
		s.i++
		for n := 0; ; {
			s.skipSpace()
			switch {
			case s.eof():
				return
			case s.at(']'):
				s.i++
				return
			case s.at(','):
				s.i++
				continue
			}
			start := s.i
			s.mark(p.Key(n), s.line)
			s.value(p.Key(n))
			n++
			if s.i == start {
				s.i++
			}
		}
	case s.at('{'):
		s.i++
		for {
			s.skipSpace()
			switch {
			case s.eof():
				return
			case s.at('}'):
				s.i++
				return
			case s.at(','):
				s.i++
				continue
			}
			start := s.i
			s.keyValue(p)
			if s.i == start {
				s.i++
			}
		}
	default:
		// Numbers, booleans, dates (which may hold a space).
		for !s.eof() && strings.IndexByte(",]}#\r\n", s.src[s.i]) < 0 {
			s.i++
		}
	}
}

// multiline skips a multi-line string, counting its lines. Up to two extra
// quotes right before the closing delimiter belong to the string.
func (s *scanner) multiline(delim string, escapes bool) {
	s.i += len(delim)
	for !s.eof() {
		switch c := s.src[s.i]; {
		case escapes && c == '\\':
			s.i++
			if s.at('\n') {
				s.line++
			}
			s.i++
		case c == '\n':
			s.line++
			s.i++
		case s.atString(delim):
			s.i += len(delim)
			for n := 0; n < 2 && s.at(delim[0]); n++ {
				s.i++
			}
			return
		default:
			s.i++
		}
	}
}

// skipBlank skips spaces and tabs.
func (s *scanner) skipBlank() {
	for !s.eof() && (s.src[s.i] == ' ' || s.src[s.i] == '\t' || s.src[s.i] == '\r') {
		s.i++
	}
}

// skipSpace skips blanks, newlines and comments, as allowed inside arrays
// (and, since TOML 1.1, inline tables).
func (s *scanner) skipSpace() {
	for !s.eof() {
		switch s.src[s.i] {
		case ' ', '\t', '\r':
			s.i++
		case '\n':
			s.line++
			s.i++
		case '#':
			s.skipLine()
		default:
			return
		}
	}
}

// skipLine moves to the newline ending the current line (not past it).
func (s *scanner) skipLine() {
	for !s.eof() && s.src[s.i] != '\n' {
		s.i++
	}
}

// unescape decodes a basic-string key. Anything it does not understand is
// kept as written; that key merely goes without a line.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		hex := 0
		switch s[i] {
		case 'b':
			b.WriteByte('\b')
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'f':
			b.WriteByte('\f')
		case 'r':
			b.WriteByte('\r')
		case 'e':
			b.WriteByte(0x1b)
		case '"', '\\':
			b.WriteByte(s[i])
		case 'x':
			hex = 2
		case 'u':
			hex = 4
		case 'U':
			hex = 8
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
		if hex > 0 && i+hex < len(s) {
			if r, err := strconv.ParseUint(s[i+1:i+1+hex], 16, 32); err == nil {
				b.WriteRune(rune(r))
				i += hex
				continue
			}
		}
		if hex > 0 {
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
