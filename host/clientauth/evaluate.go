package clientauth

import (
	"fmt"
	"strings"
)

// Request is one thing a client device asks to do.
type Request struct {
	Thing    string // the certificate's CN
	ClientID string // the MQTT client id
	Action   Action
	// Resource is an ARN ("arn:aws:iot:eu-west-1:123456789012:topic/a")
	// or only its resource part ("topic/a", "topicfilter/a/#",
	// "client/sensor-1").
	Resource string
}

// Decision is the outcome of Evaluate, with what decided it.
type Decision struct {
	Allowed bool
	// Policy and Statement (index) name the statement that decided;
	// Statement is -1 when nothing matched (the default deny).
	Policy    string
	Statement int
	Sid       string
	Line      int
}

// String explains the decision as the policy simulator does.
func (d Decision) String() string {
	verdict := "deny"
	if d.Allowed {
		verdict = "allow"
	}
	if d.Statement < 0 {
		return verdict + ": no statement allows it (default deny)"
	}
	how := "allowed"
	if !d.Allowed {
		how = "explicitly denied"
	}
	sid := ""
	if d.Sid != "" {
		sid = fmt.Sprintf(" (Sid %q)", d.Sid)
	}
	return fmt.Sprintf("%s: %s by %s statement %d%s at line %d", verdict, how, d.Policy, d.Statement, sid, d.Line)
}

// Evaluate decides req against policies as IoT Core does: an explicit Deny
// anywhere wins, otherwise an Allow that matches, otherwise deny.
//
// Region and account in a policy's ARNs match anything: the policies are
// the ones written for IoT Core, and the local broker has neither. Policy
// variables are replaced by the request's values before matching, and the
// values match literally (a '*' in a client id is no wildcard).
func Evaluate(policies []*Policy, req Request) Decision {
	res := resourcePart(req.Resource)
	allow := Decision{Statement: -1}
	for _, p := range policies {
		for i, st := range p.Statements {
			if !st.matchesAction(req.Action) || !st.matchesResource(res, req) {
				continue
			}
			d := Decision{Allowed: st.Allow, Policy: p.Name, Statement: i, Sid: st.Sid, Line: st.Line}
			if !st.Allow {
				return d
			}
			if allow.Statement < 0 {
				allow = d
			}
		}
	}
	return allow
}

// resourcePart strips "arn:PARTITION:iot:REGION:ACCOUNT:" from an ARN.
func resourcePart(arn string) string {
	if !strings.HasPrefix(arn, "arn:") {
		return arn
	}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return arn
	}
	return parts[5]
}

func (st *Statement) matchesAction(a Action) bool {
	for _, x := range st.Actions {
		if x == "*" || x == "iot:*" || x == string(a) {
			return true
		}
	}
	return false
}

func (st *Statement) matchesResource(res string, req Request) bool {
	for _, r := range st.Resources {
		if r == "*" {
			return true
		}
		parts := strings.SplitN(r, ":", 6)
		if len(parts) < 6 || parts[2] != "iot" && parts[2] != "*" {
			continue
		}
		if globVars(parts[5], res, req) {
			return true
		}
	}
	return false
}

// globVars matches s against pattern, where '*' matches any run of
// characters (including '/'), '?' any one, and policy variables match their
// value literally.
func globVars(pattern, s string, req Request) bool {
	for len(pattern) > 0 {
		switch {
		case strings.HasPrefix(pattern, "${"):
			j := strings.IndexByte(pattern, '}')
			var v string
			switch pattern[:j+1] {
			case varThingName:
				v = req.Thing
			case varClientID:
				v = req.ClientID
			default:
				return false
			}
			if v == "" || !strings.HasPrefix(s, v) {
				return false
			}
			pattern, s = pattern[j+1:], s[len(v):]
		case pattern[0] == '*':
			pattern = strings.TrimLeft(pattern, "*")
			if pattern == "" {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if globVars(pattern, s[i:], req) {
					return true
				}
			}
			return false
		case pattern[0] == '?':
			if s == "" {
				return false
			}
			pattern, s = pattern[1:], s[1:]
		default:
			if s == "" || s[0] != pattern[0] {
				return false
			}
			pattern, s = pattern[1:], s[1:]
		}
	}
	return s == ""
}
