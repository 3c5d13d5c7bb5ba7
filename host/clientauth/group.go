package clientauth

import (
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// Group is a set of things chosen by a selection rule, with policies.
type Group struct {
	Name     string
	Rule     Rule
	Policies []*Policy
}

// Selects reports whether thing belongs to g.
func (g *Group) Selects(thing string) bool { return g.Rule.Match(thing) }

// Rule is a Greengrass client device auth selection rule:
// "thingName: sensor-*", alternatives joined by " OR ".
type Rule struct {
	text     string
	patterns []string // thing name globs, '*' only
}

// ParseRule parses a selection rule.
func ParseRule(s string) (Rule, error) {
	r := Rule{text: s}
	for _, alt := range strings.Split(s, " OR ") {
		k, v, ok := strings.Cut(strings.TrimSpace(alt), ":")
		if !ok || strings.TrimSpace(k) != "thingName" {
			return Rule{}, fmt.Errorf("selection rule %q: each alternative is \"thingName: PATTERN\"", s)
		}
		v = strings.TrimSpace(v)
		if v == "" {
			return Rule{}, fmt.Errorf("selection rule %q: empty pattern", s)
		}
		if strings.ContainsAny(v, "?[]\\") {
			return Rule{}, fmt.Errorf("selection rule %q: only '*' is a wildcard", s)
		}
		r.patterns = append(r.patterns, v)
	}
	return r, nil
}

// Match reports whether thing satisfies the rule.
func (r Rule) Match(thing string) bool {
	for _, p := range r.patterns {
		// path.Match's '*' does not cross '/', and thing names have none.
		if ok, _ := path.Match(p, thing); ok {
			return true
		}
	}
	return false
}

func (r Rule) String() string { return r.text }

// LoadGroup builds a group from its selection rule and policy files.
func LoadGroup(name, rule string, policyFiles []string) (Group, error) {
	r, err := ParseRule(rule)
	if err != nil {
		return Group{}, fmt.Errorf("group %s: %w", name, err)
	}
	g := Group{Name: name, Rule: r}
	for _, f := range policyFiles {
		data, err := readLimited(f, maxPolicy+1)
		if err != nil {
			return Group{}, fmt.Errorf("group %s: %w", name, err)
		}
		p, err := ParsePolicy(f, data)
		if err != nil {
			return Group{}, fmt.Errorf("group %s: %w", name, err)
		}
		g.Policies = append(g.Policies, p)
	}
	return g, nil
}

func readLimited(file string, n int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}
