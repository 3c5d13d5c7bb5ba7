package authz

import (
	"errors"
	"strings"
)

type kind uint8

const (
	literal kind = iota // matches itself
	any1                // "+" or a level of only "*": any one level
	rest                // "#": this level and all below, or nothing
	glob                // a level with "*" among other characters
)

type level struct {
	kind kind
	text string // literal: the level
	// glob: the text between the stars; the first part is a prefix, the
	// last a suffix, and those in between must appear in order.
	parts []string
}

// pattern is a compiled resource pattern.
type pattern struct {
	all    bool // "*" alone
	levels []level
}

func compile(src string) (*pattern, error) {
	switch {
	case src == "*":
		return &pattern{all: true}, nil
	case src == "":
		return nil, errors.New("empty")
	case strings.IndexByte(src, 0) >= 0:
		return nil, errors.New("contains NUL")
	}
	n := strings.Count(src, "/") + 1
	p := &pattern{levels: make([]level, 0, n)}
	for i, l := range strings.Split(src, "/") {
		switch {
		case l == "#":
			if i != n-1 {
				return nil, errors.New(`"#" must be the last level`)
			}
			p.levels = append(p.levels, level{kind: rest})
		case l == "+":
			p.levels = append(p.levels, level{kind: any1})
		case strings.ContainsAny(l, "+#"):
			return nil, errors.New(`"+" and "#" must each be a whole level`)
		case strings.Trim(l, "*") == "" && l != "":
			p.levels = append(p.levels, level{kind: any1})
		case strings.Contains(l, "*"):
			p.levels = append(p.levels, level{kind: glob, parts: strings.Split(l, "*")})
		default:
			p.levels = append(p.levels, level{kind: literal, text: l})
		}
	}
	return p, nil
}

// match reports whether l matches one level s of a resource. first says s is
// the resource's first level, where wildcards skip "$" names.
func (l *level) match(s string, first bool) bool {
	switch l.kind {
	case literal:
		return s == l.text
	case any1:
		return !(first && strings.HasPrefix(s, "$"))
	case glob:
		if first && l.parts[0] == "" && strings.HasPrefix(s, "$") {
			return false
		}
		return globMatch(l.parts, s)
	}
	return false // rest is handled by the callers
}

func globMatch(parts []string, s string) bool {
	prefix, suffix := parts[0], parts[len(parts)-1]
	if len(s) < len(prefix)+len(suffix) || !strings.HasPrefix(s, prefix) {
		return false
	}
	s = s[len(prefix):]
	// Taking each middle part at its leftmost place leaves the most room
	// for the rest, so no backtracking is needed.
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, suffix)
}

// nextLevel splits the level starting at start off s. It returns the level,
// where the next one starts, and whether this is the last level.
func nextLevel(s string, start int) (lvl string, next int, last bool) {
	i := strings.IndexByte(s[start:], '/')
	if i < 0 {
		return s[start:], len(s), true
	}
	return s[start : start+i], start + i + 1, false
}

// done reports whether a resource that ran out after li levels is matched:
// the pattern ran out too, or only a "#" is left (which matches its parent).
func (p *pattern) done(li int) bool {
	return li == len(p.levels) || li == len(p.levels)-1 && p.levels[li].kind == rest
}

// matches reports whether the pattern matches the plain resource name t.
func (p *pattern) matches(t string) bool {
	if p.all {
		return true
	}
	li := 0
	for start := 0; ; {
		lvl, next, last := nextLevel(t, start)
		if li == len(p.levels) {
			return false
		}
		l := &p.levels[li]
		if l.kind == rest {
			return !(start == 0 && strings.HasPrefix(t, "$"))
		}
		if !l.match(lvl, start == 0) {
			return false
		}
		li++
		if last {
			return p.done(li)
		}
		start = next
	}
}

// covers reports whether the pattern matches every topic the (valid) MQTT
// filter f matches.
func (p *pattern) covers(f string) bool {
	if p.all {
		return true
	}
	li := 0
	for start := 0; ; {
		lvl, next, last := nextLevel(f, start)
		first := start == 0
		if li == len(p.levels) {
			return false
		}
		l := &p.levels[li]
		if l.kind == rest {
			// Everything from here down, except "$" topics at the top:
			// a "+" or "#" filter level never matches those anyway.
			return !(first && strings.HasPrefix(lvl, "$"))
		}
		switch lvl {
		case "#":
			// The filter matches this level's parent and any depth below
			// it, which only a "#" here covers. At the top there is no
			// parent (a topic has at least one level), so "+/#" covers
			// "#" as well.
			return first && li == len(p.levels)-2 && l.kind == any1 && p.levels[li+1].kind == rest
		case "+":
			if l.kind != any1 {
				return false
			}
		default:
			if !l.match(lvl, first) {
				return false
			}
		}
		li++
		if last {
			return p.done(li)
		}
		start = next
	}
}

// validFilter reports whether f is a well-formed MQTT topic filter.
func validFilter(f string) bool {
	if f == "" {
		return false
	}
	for start := 0; ; {
		lvl, next, last := nextLevel(f, start)
		for i := 0; i < len(lvl); i++ {
			switch lvl[i] {
			case 0:
				return false
			case '+':
				if len(lvl) != 1 {
					return false
				}
			case '#':
				if len(lvl) != 1 || !last {
					return false
				}
			}
		}
		if last {
			return true
		}
		start = next
	}
}
