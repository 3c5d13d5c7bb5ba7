// Package authz decides what a component may do: its access policy is a list
// of grants, each a set of operations times a set of resource patterns, in the
// spirit of the accessControl section of an AWS IoT Greengrass recipe.
// Anything not granted is denied.
//
// # Resource patterns
//
// A pattern is "*" alone, which matches every resource, or a topic-like
// pattern split into levels at "/":
//
//   - "+" matches exactly one level, "#" (only as the last level) matches the
//     rest, including nothing: "a/#" matches "a", "a/b" and "a/b/c", as MQTT
//     filters do;
//   - a level holding "*" is a glob within that level: "sensor-*" matches
//     "sensor-1" and "sensor-", "*" matches any one level (like "+"), and a
//     "*" never crosses a "/";
//   - any other level matches itself.
//
// As in MQTT, a pattern whose first level is a wildcard ("+", "#", or a glob
// starting with "*") does not match a resource whose first level starts
// with "$": "$aws/..." must be granted by a pattern spelling out "$aws" (or
// by "*" alone).
//
// # Subscriptions
//
// For pubsub.subscribe and cloud.subscribe the resource is itself a topic
// filter, and a pattern grants it only if it matches every topic the filter
// can match: "sensors/#" grants the filter "sensors/+/t", but "sensors/+/t"
// does not grant "sensors/#". A "+" in a filter is granted only by "+", by
// "#" or by a "*" level. In a filter, "*" is an ordinary character (MQTT has
// no globs), so the filter "a*" is the single topic "a*". An invalid filter
// (a "#" that is not the whole last level, a "+" that is not a whole level,
// empty, or holding NUL) is never granted.
//
// For every other operation the resource is a plain name or topic matched
// against the pattern; Allow does not check that a topic is valid to publish
// on, that is the caller's job. The empty resource is never granted.
package authz

import (
	"errors"
	"fmt"
	"strings"
)

// Operations a grant may name. "*" in a grant stands for all of them.
const (
	PubsubPublish   = "pubsub.publish"
	PubsubSubscribe = "pubsub.subscribe"
	CloudPublish    = "cloud.publish"
	CloudSubscribe  = "cloud.subscribe"
	ShadowGet       = "shadow.get"
	ShadowUpdate    = "shadow.update"
	ShadowDelete    = "shadow.delete"
	ShadowList      = "shadow.list"
	SecretGet       = "secret.get"

	AllOperations = "*"
)

// operations is indexed by opIndex; Policy keeps one rule list per entry.
var operations = [...]string{
	PubsubPublish, PubsubSubscribe, CloudPublish, CloudSubscribe,
	ShadowGet, ShadowUpdate, ShadowDelete, ShadowList, SecretGet,
}

// Operations returns every operation a grant may name (besides "*").
func Operations() []string { return append([]string(nil), operations[:]...) }

func opIndex(op string) int {
	switch op {
	case PubsubPublish:
		return 0
	case PubsubSubscribe:
		return 1
	case CloudPublish:
		return 2
	case CloudSubscribe:
		return 3
	case ShadowGet:
		return 4
	case ShadowUpdate:
		return 5
	case ShadowDelete:
		return 6
	case ShadowList:
		return 7
	case SecretGet:
		return 8
	}
	return -1
}

func isSubscribe(i int) bool { return i == 1 || i == 3 }

// Grant allows each of Operations on each of Resources (patterns).
type Grant struct {
	Operations []string `toml:"operations"`
	Resources  []string `toml:"resources"`
}

// Error is one bad entry in the grants given to New.
type Error struct {
	Grant int    // index into the grants
	Field string // "operations" or "resources"
	Index int    // index into that list; -1 when the list as a whole is wrong
	Msg   string
}

func (e *Error) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("grant %d: %s: %s", e.Grant, e.Field, e.Msg)
	}
	return fmt.Sprintf("grant %d: %s[%d]: %s", e.Grant, e.Field, e.Index, e.Msg)
}

// Policy is a compiled set of grants. It is immutable and safe for
// concurrent use. A nil *Policy denies everything.
type Policy struct {
	// rules holds, per operation, the patterns granted for it. Patterns are
	// split into levels once here so that Allow only compares strings.
	rules [len(operations)][]*pattern
	// all marks operations granted on "*", answered without looking at the
	// resource.
	all [len(operations)]bool
}

// New compiles grants into a Policy. Every bad entry is reported, each as an
// *Error, joined into one error.
func New(grants []Grant) (*Policy, error) {
	p := &Policy{}
	var errs []error
	bad := func(g int, field string, i int, format string, args ...any) {
		errs = append(errs, &Error{Grant: g, Field: field, Index: i, Msg: fmt.Sprintf(format, args...)})
	}
	for g, grant := range grants {
		var ops []int
		if len(grant.Operations) == 0 {
			bad(g, "operations", -1, "no operations")
		}
		for i, op := range grant.Operations {
			if op == AllOperations {
				for j := range operations {
					ops = append(ops, j)
				}
				continue
			}
			j := opIndex(op)
			if j < 0 {
				bad(g, "operations", i, "unknown operation %q (known: %s, or %q for all)", op, strings.Join(operations[:], ", "), AllOperations)
				continue
			}
			ops = append(ops, j)
		}
		var pats []*pattern
		if len(grant.Resources) == 0 {
			bad(g, "resources", -1, "no resources")
		}
		for i, r := range grant.Resources {
			pat, err := compile(r)
			if err != nil {
				bad(g, "resources", i, "pattern %q: %v", r, err)
				continue
			}
			pats = append(pats, pat)
		}
		for _, op := range ops {
			for _, pat := range pats {
				if pat.all {
					p.all[op] = true
				}
				p.rules[op] = append(p.rules[op], pat)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// Allow reports whether the policy grants op on resource. It does not
// allocate.
func (p *Policy) Allow(op, resource string) bool {
	if p == nil || resource == "" {
		return false
	}
	i := opIndex(op)
	if i < 0 {
		return false
	}
	if isSubscribe(i) {
		if !validFilter(resource) {
			return false
		}
		if p.all[i] {
			return true
		}
		for _, pat := range p.rules[i] {
			if pat.covers(resource) {
				return true
			}
		}
		return false
	}
	if p.all[i] {
		return true
	}
	for _, pat := range p.rules[i] {
		if pat.matches(resource) {
			return true
		}
	}
	return false
}
