package clientauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Action is an IoT policy action a client device can be allowed.
type Action string

// The actions the broker checks, as AWS IoT Core names them.
const (
	Connect       Action = "iot:Connect"
	Publish       Action = "iot:Publish"
	Subscribe     Action = "iot:Subscribe"
	Receive       Action = "iot:Receive"
	RetainPublish Action = "iot:RetainPublish"
)

var actions = []Action{Connect, Publish, Subscribe, Receive, RetainPublish}

// maxPolicy bounds a policy document: IoT Core's limit is 2,048 characters
// without white space; ten times that allows for generous formatting.
const maxPolicy = 20 << 10

// Policy is a parsed AWS IoT policy document.
type Policy struct {
	Name       string // file name or the name it was given
	Statements []Statement
}

// Statement is one statement of a policy.
type Statement struct {
	Sid       string
	Allow     bool     // Effect: Allow (true) or Deny
	Actions   []string // "iot:Publish", "iot:*", "*"
	Resources []string // ARNs, possibly with '*' and '?' and policy variables
	Line      int      // where the statement starts, for explanations
}

// PolicyError is a policy document that cannot be used, with where.
type PolicyError struct {
	Name      string
	Line, Col int
	Msg       string
}

func (e *PolicyError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.Name, e.Line, e.Col, e.Msg)
}

// policy variables the evaluator substitutes.
const (
	varThingName = "${iot:Connection.Thing.ThingName}"
	varClientID  = "${iot:ClientId}"
)

// ParsePolicy parses an IoT policy JSON document. Errors are *PolicyError
// with the line and column of the offending value. Condition, NotAction and
// NotResource are refused rather than ignored: ignoring them would grant
// more than the author wrote.
func ParsePolicy(name string, data []byte) (*Policy, error) {
	p := &parser{name: name, data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.UseNumber()
	if len(data) > maxPolicy {
		return nil, p.errAt(0, fmt.Sprintf("policy is %d bytes, more than %d", len(data), maxPolicy))
	}
	pol, err := p.document()
	if err != nil {
		return nil, err
	}
	return pol, nil
}

type parser struct {
	name string
	data []byte
	dec  *json.Decoder
}

func (p *parser) errAt(off int64, msg string) error {
	line, col := 1, 1
	for i := int64(0); i < off && i < int64(len(p.data)); i++ {
		if p.data[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return &PolicyError{Name: p.name, Line: line, Col: col, Msg: msg}
}

// start returns the offset of the next value's first byte.
func (p *parser) start() int64 {
	off := p.dec.InputOffset()
	for off < int64(len(p.data)) {
		switch p.data[off] {
		case ' ', '\t', '\r', '\n', ':', ',':
			off++
			continue
		}
		break
	}
	return off
}

func (p *parser) token() (json.Token, int64, error) {
	off := p.start()
	t, err := p.dec.Token()
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, se.Offset, p.errAt(se.Offset, se.Error())
		}
		if errors.Is(err, io.EOF) {
			return nil, off, p.errAt(int64(len(p.data)), "unexpected end of document")
		}
		return nil, off, p.errAt(off, err.Error())
	}
	return t, off, nil
}

func (p *parser) document() (*Policy, error) {
	t, off, err := p.token()
	if err != nil {
		return nil, err
	}
	if t != json.Delim('{') {
		return nil, p.errAt(off, "a policy is a JSON object")
	}
	pol := &Policy{Name: p.name}
	seenStmt := false
	for p.dec.More() {
		key, koff, err := p.key()
		if err != nil {
			return nil, err
		}
		switch key {
		case "Version":
			v, voff, err := p.str()
			if err != nil {
				return nil, err
			}
			if v != "2012-10-17" {
				return nil, p.errAt(voff, fmt.Sprintf("Version %q: only \"2012-10-17\" is known", v))
			}
		case "Statement":
			seenStmt = true
			if err := p.statements(pol); err != nil {
				return nil, err
			}
		default:
			return nil, p.errAt(koff, fmt.Sprintf("unknown key %q (want Version, Statement)", key))
		}
	}
	if _, _, err := p.token(); err != nil { // '}'
		return nil, err
	}
	if rest := p.dec.InputOffset(); len(bytes.TrimSpace(p.data[rest:])) != 0 {
		return nil, p.errAt(p.start(), "data after the policy object")
	}
	if !seenStmt || len(pol.Statements) == 0 {
		return nil, p.errAt(0, "no Statement")
	}
	return pol, nil
}

func (p *parser) key() (string, int64, error) {
	t, off, err := p.token()
	if err != nil {
		return "", off, err
	}
	s, ok := t.(string)
	if !ok {
		return "", off, p.errAt(off, "expected a key")
	}
	return s, off, nil
}

func (p *parser) str() (string, int64, error) {
	t, off, err := p.token()
	if err != nil {
		return "", off, err
	}
	s, ok := t.(string)
	if !ok {
		return "", off, p.errAt(off, "expected a string")
	}
	return s, off, nil
}

// strs reads a string or an array of strings.
func (p *parser) strs() ([]string, int64, error) {
	t, off, err := p.token()
	if err != nil {
		return nil, off, err
	}
	if s, ok := t.(string); ok {
		return []string{s}, off, nil
	}
	if t != json.Delim('[') {
		return nil, off, p.errAt(off, "expected a string or an array of strings")
	}
	var out []string
	for p.dec.More() {
		s, _, err := p.str()
		if err != nil {
			return nil, off, err
		}
		out = append(out, s)
	}
	if _, _, err := p.token(); err != nil {
		return nil, off, err
	}
	if len(out) == 0 {
		return nil, off, p.errAt(off, "empty array")
	}
	return out, off, nil
}

func (p *parser) statements(pol *Policy) error {
	off := p.start()
	if off < int64(len(p.data)) && p.data[off] == '{' {
		return p.statement(pol)
	}
	t, off, err := p.token()
	if err != nil {
		return err
	}
	if t != json.Delim('[') {
		return p.errAt(off, "Statement is an object or an array of objects")
	}
	for p.dec.More() {
		if err := p.statement(pol); err != nil {
			return err
		}
	}
	_, _, err = p.token()
	return err
}

func (p *parser) statement(pol *Policy) error {
	t, off, err := p.token()
	if err != nil {
		return err
	}
	if t != json.Delim('{') {
		return p.errAt(off, "a statement is an object")
	}
	line := p.errAt(off, "").(*PolicyError).Line
	st := Statement{Line: line}
	var haveEffect, haveAction, haveResource bool
	for p.dec.More() {
		key, koff, err := p.key()
		if err != nil {
			return err
		}
		switch key {
		case "Sid":
			if st.Sid, _, err = p.str(); err != nil {
				return err
			}
		case "Effect":
			e, eoff, err := p.str()
			if err != nil {
				return err
			}
			switch e {
			case "Allow":
				st.Allow = true
			case "Deny":
			default:
				return p.errAt(eoff, fmt.Sprintf("Effect %q: want \"Allow\" or \"Deny\"", e))
			}
			haveEffect = true
		case "Action":
			as, aoff, err := p.strs()
			if err != nil {
				return err
			}
			for _, a := range as {
				if !knownAction(a) {
					return p.errAt(aoff, fmt.Sprintf("Action %q: the broker knows iot:Connect, iot:Publish, iot:Subscribe, iot:Receive, iot:RetainPublish, iot:* and *", a))
				}
			}
			st.Actions, haveAction = as, true
		case "Resource":
			rs, roff, err := p.strs()
			if err != nil {
				return err
			}
			for _, r := range rs {
				if err := checkResource(r); err != nil {
					return p.errAt(roff, fmt.Sprintf("Resource %q: %v", r, err))
				}
			}
			st.Resources, haveResource = rs, true
		case "Condition", "NotAction", "NotResource", "Principal", "NotPrincipal":
			return p.errAt(koff, fmt.Sprintf("%s is not supported by the local broker", key))
		default:
			return p.errAt(koff, fmt.Sprintf("unknown statement key %q", key))
		}
	}
	if _, _, err := p.token(); err != nil {
		return err
	}
	switch {
	case !haveEffect:
		return p.errAt(off, "statement has no Effect")
	case !haveAction:
		return p.errAt(off, "statement has no Action")
	case !haveResource:
		return p.errAt(off, "statement has no Resource")
	}
	pol.Statements = append(pol.Statements, st)
	return nil
}

func knownAction(a string) bool {
	if a == "*" || a == "iot:*" {
		return true
	}
	for _, k := range actions {
		if string(k) == a {
			return true
		}
	}
	return false
}

// checkResource accepts "*" or an IoT ARN whose variables are known.
func checkResource(r string) error {
	if r == "*" {
		return nil
	}
	if !strings.HasPrefix(r, "arn:") {
		return errors.New("not an ARN (arn:aws:iot:REGION:ACCOUNT:client/..., topic/..., topicfilter/...)")
	}
	rest := r
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			return nil
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return errors.New("unterminated policy variable")
		}
		v := rest[i : i+j+1]
		if v != varThingName && v != varClientID {
			return fmt.Errorf("policy variable %s is not known here (only %s and %s)", v, varThingName, varClientID)
		}
		rest = rest[i+j+1:]
	}
}
