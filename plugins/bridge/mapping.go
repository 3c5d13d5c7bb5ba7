package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Side is where a mapping reads from or writes to.
type Side string

// The two sides a mapping connects.
const (
	Local Side = "local" // the host's local pub/sub (publish, subscribe)
	Cloud Side = "cloud" // AWS IoT Core through the host's link (cloud_publish, cloud_subscribe)
)

// other returns the side s is not.
func (s Side) other() Side {
	if s == Local {
		return Cloud
	}
	return Local
}

// Mapping is one validated entry of the configuration's mappings list: every
// message on Source whose topic matches Filter is published on Target under
// TargetPrefix + topic.
type Mapping struct {
	Name         string // optional; names the mapping in logs
	Source       Side
	Target       Side // always Source.other()
	Filter       string
	TargetPrefix string
	QoS          int // for a Cloud target 0 or 1 (default 1); 0 for a Local one
}

// defaultCloudQoS is the QoS of a cloud target that sets none: at least once,
// as Greengrass's MQTT bridge always uses.
const defaultCloudQoS = 1

// label names the mapping at index i in messages: "mappings[2]", and its
// name when it has one.
func label(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("mappings[%d]", i)
	}
	return fmt.Sprintf("mappings[%d] (%s)", i, name)
}

// String describes what the mapping forwards, e.g.
// "local telemetry/# -> cloud dev1/telemetry/#".
func (m Mapping) String() string {
	return fmt.Sprintf("%s %s -> %s %s%s", m.Source, m.Filter, m.Target, m.TargetPrefix, m.Filter)
}

// ConfigError lists every problem found in the mappings, each prefixed with
// the mapping it is about.
type ConfigError struct{ Problems []string }

func (e *ConfigError) Error() string { return strings.Join(e.Problems, "; ") }

// mappingKeys are the keys a mapping may have; renamed holds hints for the
// keys of Greengrass's mqttTopicMapping, which an operator porting a
// configuration is likely to write.
var (
	mappingKeys = []string{"name", "source", "target", "filter", "target_prefix", "qos"}
	renamed     = map[string]string{"topic": "filter", "targetTopicPrefix": "target_prefix"}
)

// ParseMappings decodes and validates the configuration's "mappings" value as
// the SDK decodes it (an array of maps with text keys; integers as int64 or
// uint64). It reports every problem at once in a *ConfigError; the mappings
// are returned only when there is none.
func ParseMappings(v any) ([]Mapping, error) {
	list, ok := v.([]any)
	if !ok {
		if v == nil {
			return nil, nil
		}
		return nil, &ConfigError{[]string{fmt.Sprintf("mappings: want an array of tables ([[config.mappings]]), got %s", typeName(v))}}
	}
	var problems []string
	ms := make([]Mapping, 0, len(list))
	valid := make([]bool, 0, len(list))
	for i, item := range list {
		m, errs := parseMapping(i, item)
		problems = append(problems, errs...)
		ms = append(ms, m)
		valid = append(valid, len(errs) == 0)
	}
	problems = append(problems, checkSet(ms, valid)...)
	if len(problems) > 0 {
		return nil, &ConfigError{problems}
	}
	return ms, nil
}

// parseMapping decodes and checks one mapping on its own.
func parseMapping(i int, item any) (Mapping, []string) {
	var m Mapping
	at := label(i, "")
	raw, ok := item.(map[string]any)
	if !ok {
		return m, []string{fmt.Sprintf("%s: want a table with source and filter, got %s", at, typeName(item))}
	}
	if s, ok := raw["name"].(string); ok && s != "" {
		m.Name = s
		at = label(i, s)
	}
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, at+": "+fmt.Sprintf(format, args...))
	}
	// text returns the text at key, and whether the key holds text.
	text := func(key string) (string, bool) {
		v, ok := raw[key]
		if !ok {
			return "", false
		}
		s, ok := v.(string)
		if !ok {
			bad("%s: want text, got %s", key, typeName(v))
		}
		return s, ok
	}

	for _, k := range sortedKeys(raw) {
		switch to, ok := renamed[k]; {
		case slices.Contains(mappingKeys, k):
		case ok:
			bad("unknown key %q (Greengrass's %s is %s here)", k, k, to)
		default:
			bad("unknown key %q (want %s)", k, strings.Join(mappingKeys, ", "))
		}
	}
	if s, ok := text("name"); ok && s == "" {
		bad("name is empty (leave it out, or name the mapping)")
	}

	if _, ok := raw["source"]; !ok {
		bad("source is required: %q or %q", Local, Cloud)
	} else if s, ok := text("source"); ok {
		if s == string(Local) || s == string(Cloud) {
			m.Source, m.Target = Side(s), Side(s).other()
		} else {
			bad("source %q: %s", s, sideHint(s))
		}
	}
	if t, ok := text("target"); ok {
		switch {
		case t != string(Local) && t != string(Cloud):
			bad("target %q: %s", t, sideHint(t))
		case m.Source == Side(t):
			bad("target %q is the source: a mapping forwards from one side to the other (leave target out)", t)
		}
	}

	if _, ok := raw["filter"]; !ok {
		bad("filter is required (an MQTT topic filter on the source side, e.g. \"telemetry/#\")")
	} else if f, ok := text("filter"); ok {
		if err := checkFilter(f); err != nil {
			bad("filter %q: %v", f, err)
		}
		m.Filter = f
	}
	if p, ok := text("target_prefix"); ok {
		if i := strings.IndexAny(p, "+#\x00"); i >= 0 {
			bad("target_prefix %q holds %q: a prefix is literal topic text", p, p[i])
		}
		m.TargetPrefix = p
	}

	if q, ok := raw["qos"]; ok {
		n, isInt := integer(q)
		switch {
		case !isInt:
			bad("qos: want 0 or 1, got %s", typeName(q))
		case m.Target == Local:
			bad("qos: only cloud targets have a QoS (the local bus has none); leave it out")
		case n != 0 && n != 1:
			bad("qos %d: want 0 or 1 (AWS IoT Core has no QoS 2)", n)
		default:
			m.QoS = int(n)
		}
	} else if m.Target == Cloud {
		m.QoS = defaultCloudQoS
	}
	return m, problems
}

// checkSet checks the mappings against each other: names unique, no
// mapping twice, no loop. Only mappings that are valid on their own take
// part, so one mistake is reported once.
func checkSet(ms []Mapping, valid []bool) []string {
	var problems []string
	names := map[string]int{}
	for i, m := range ms {
		if m.Name == "" {
			continue
		}
		if j, ok := names[m.Name]; ok {
			problems = append(problems, fmt.Sprintf("%s: name %q is also mappings[%d]'s", label(i, m.Name), m.Name, j))
			continue
		}
		names[m.Name] = i
	}
	for i, m := range ms {
		for j := range i {
			if valid[i] && valid[j] && ms[j].Source == m.Source && ms[j].Filter == m.Filter && ms[j].TargetPrefix == m.TargetPrefix {
				problems = append(problems, fmt.Sprintf("%s: forwards what %s forwards (%s): every message would be sent twice", label(i, m.Name), label(j, ms[j].Name), m))
				break
			}
		}
	}
	for _, loop := range loops(ms, valid) {
		var who, what []string
		for _, i := range loop {
			who = append(who, label(i, ms[i].Name))
			what = append(what, ms[i].String())
		}
		problems = append(problems, fmt.Sprintf("%s and %s form a loop (%s): a message one of them forwards can come back to it and be forwarded again, without end "+
			"(the cloud sends the bridge its own messages when its filters match them, and the local bus does too); "+
			"give one a target_prefix that the other side's filters do not match, or narrow a filter",
			strings.Join(who[:len(who)-1], ", "), who[len(who)-1], strings.Join(what, "; ")))
	}
	return problems
}

// loops returns the groups of mappings that can pass a message around in a
// cycle, each as sorted mapping indexes. Mapping a feeds mapping b when a
// writes to the side b reads and some topic a can write matches b's filter;
// a cycle in that graph is a possible loop. The test is conservative: it
// may refuse a pair whose overlapping topics never meet in practice, but it
// never lets a loop through.
func loops(ms []Mapping, valid []bool) [][]int {
	n := len(ms)
	feeds := make([][]int, n)
	for a := range n {
		for b := range n {
			if valid[a] && valid[b] && ms[a].Target == ms[b].Source &&
				overlap(pattern(ms[a].TargetPrefix, ms[a].Filter), pattern("", ms[b].Filter)) {
				feeds[a] = append(feeds[a], b)
			}
		}
	}
	// reach[a][b]: a message a forwards can reach b. Mappings are few
	// (each is a subscription), so a search from each is cheap enough.
	reach := make([][]bool, n)
	for a := range n {
		reach[a] = make([]bool, n)
		stack := slices.Clone(feeds[a])
		for len(stack) > 0 {
			b := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if !reach[a][b] {
				reach[a][b] = true
				stack = append(stack, feeds[b]...)
			}
		}
	}
	// A loop is a strongly connected group: each reaches every other.
	var out [][]int
	seen := make([]bool, n)
	for a := range n {
		if seen[a] || !reach[a][a] {
			continue
		}
		var group []int
		for b := a; b < n; b++ {
			if reach[a][b] && reach[b][a] {
				group = append(group, b)
				seen[b] = true
			}
		}
		out = append(out, group)
	}
	return out
}

// checkFilter applies the MQTT rules for a topic filter: not empty, no NUL,
// + and # only as whole levels, # only last. The host checks the rest (IoT
// Core's limits on cloud filters, the access policy) when the bridge
// subscribes.
func checkFilter(f string) error {
	switch {
	case f == "":
		return fmt.Errorf("empty")
	case len(f) > math.MaxUint16:
		return fmt.Errorf("longer than 65535 bytes")
	case strings.ContainsRune(f, 0):
		return fmt.Errorf("holds a NUL")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		switch {
		case strings.Contains(l, "#") && (l != "#" || i != len(levels)-1):
			return fmt.Errorf("# must be a whole level, and the last")
		case strings.Contains(l, "+") && l != "+":
			return fmt.Errorf("+ must be a whole level")
		}
	}
	return nil
}

// level is one level of a topic pattern: the literal text lit, followed,
// when wild is '+', by anything within the level, or, when wild is '#', by
// anything at all (the rest of the level and any levels after it).
type level struct {
	lit  string
	wild byte // 0, '+' or '#'
}

// pattern returns the levels of the topics prefix+t for every topic t
// filter matches. The prefix is literal text that may end inside a level
// ("dev-"), so its last piece joins the filter's first level.
func pattern(prefix, filter string) []level {
	pre := strings.Split(prefix, "/")
	out := make([]level, 0, len(pre)+strings.Count(filter, "/"))
	for _, s := range pre[:len(pre)-1] {
		out = append(out, level{lit: s})
	}
	head := pre[len(pre)-1]
	for i, s := range strings.Split(filter, "/") {
		l := level{lit: s}
		if s == "+" || s == "#" {
			l = level{wild: s[0]}
		}
		if i == 0 {
			l.lit = head + l.lit
		}
		out = append(out, l)
	}
	return out
}

// overlap reports whether some topic matches both patterns. A bare # also
// matches its parent ("a/#" matches "a"), and a pattern starting with a
// bare wildcard matches no topic starting with "$" (MQTT's rule, which the
// local bus and IoT Core both follow).
func overlap(a, b []level) bool {
	if dollarOnly(a[0], b[0]) || dollarOnly(b[0], a[0]) {
		return false
	}
	for i := 0; ; i++ {
		switch {
		case i == len(a) && i == len(b):
			return true
		case i == len(a):
			return b[i].wild == '#' && b[i].lit == ""
		case i == len(b):
			return a[i].wild == '#' && a[i].lit == ""
		}
		if !levelsMeet(a[i], b[i]) {
			return false
		}
		if a[i].wild == '#' || b[i].wild == '#' {
			return true // one side takes any rest the other has
		}
	}
}

// levelsMeet reports whether one level of a topic can match both x and y.
func levelsMeet(x, y level) bool {
	switch {
	case x.wild == 0 && y.wild == 0:
		return x.lit == y.lit
	case x.wild == 0:
		return strings.HasPrefix(x.lit, y.lit)
	case y.wild == 0:
		return strings.HasPrefix(y.lit, x.lit)
	default:
		return strings.HasPrefix(x.lit, y.lit) || strings.HasPrefix(y.lit, x.lit)
	}
}

// dollarOnly reports whether first level w is a bare wildcard and l can
// only be a "$" level, which w does not match.
func dollarOnly(w, l level) bool {
	return w.wild != 0 && w.lit == "" && strings.HasPrefix(l.lit, "$")
}

func sideHint(s string) string {
	switch s {
	case "Pubsub", "pubsub":
		return fmt.Sprintf("want %q or %q (Greengrass's Pubsub is %q)", Local, Cloud, Local)
	case "IotCore", "iotcore":
		return fmt.Sprintf("want %q or %q (Greengrass's IotCore is %q)", Local, Cloud, Cloud)
	case "LocalMqtt":
		return fmt.Sprintf("want %q or %q (Moss runs no local MQTT broker: components and devices meet on the local bus, %q)", Local, Cloud, Local)
	}
	return fmt.Sprintf("want %q or %q", Local, Cloud)
}

// integer returns v as an integer if it is one: CBOR integers decode as
// int64 or uint64; a float with no fraction (JSON tools write those) counts.
func integer(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case int:
		return int64(x), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), true
		}
	}
	return 0, false
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case string:
		return "text"
	case bool:
		return "a boolean"
	case int64, uint64, int:
		return "an integer"
	case float64, float32:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
