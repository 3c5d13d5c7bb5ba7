package authz

import (
	"path"
	"strings"
	"sync"
	"testing"
)

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name   string
		grants []Grant
		want   string
	}{
		{"ok", []Grant{{Operations: []string{"*"}, Resources: []string{"*"}}}, ""},
		{"no grants", nil, ""},
		{"unknown op", []Grant{{Operations: []string{"pubsub.publsh"}, Resources: []string{"a"}}},
			`grant 0: operations[0]: unknown operation "pubsub.publsh"`},
		{"empty ops", []Grant{{Resources: []string{"a"}}}, "grant 0: operations: no operations"},
		{"empty resources", []Grant{{Operations: []string{"shadow.get"}}}, "grant 0: resources: no resources"},
		{"empty pattern", []Grant{{Operations: []string{"shadow.get"}, Resources: []string{""}}}, `grant 0: resources[0]: pattern "": empty`},
		{"hash not last", []Grant{{Operations: []string{"pubsub.publish"}, Resources: []string{"a/#/b"}}}, `pattern "a/#/b": "#" must be the last level`},
		{"partial plus", []Grant{{Operations: []string{"pubsub.publish"}, Resources: []string{"a/b+"}}}, `pattern "a/b+": "+" and "#" must each be a whole level`},
		{"partial hash", []Grant{{Operations: []string{"pubsub.publish"}, Resources: []string{"a/#b"}}}, `must each be a whole level`},
		{"star plus", []Grant{{Operations: []string{"pubsub.publish"}, Resources: []string{"a/*+"}}}, `must each be a whole level`},
		{"nul", []Grant{{Operations: []string{"pubsub.publish"}, Resources: []string{"a\x00"}}}, `contains NUL`},
		{"second grant, second entry", []Grant{
			{Operations: []string{"pubsub.publish"}, Resources: []string{"a"}},
			{Operations: []string{"shadow.get", "Shadow.Get"}, Resources: []string{"a"}},
		}, `grant 1: operations[1]: unknown operation "Shadow.Get"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.grants)
			if tt.want == "" {
				if err != nil || p == nil {
					t.Fatalf("New = %v, %v", p, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New error = %v, want it to contain %q", err, tt.want)
			}
			if p != nil {
				t.Errorf("New returned a policy with an error")
			}
		})
	}
}

func TestNewReportsAll(t *testing.T) {
	_, err := New([]Grant{
		{Operations: []string{"bad1", "pubsub.publish"}, Resources: []string{"#/x", "ok"}},
		{Operations: []string{"bad2"}},
	})
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		e := e.(*Error)
		got = append(got, e.Field)
	}
	if strings.Join(got, ",") != "operations,resources,operations,resources" {
		t.Errorf("errors = %v; want every bad entry\n%v", got, err)
	}
}

// Every operation is allowed by a grant naming it, denied by a grant naming
// any other, and allowed by "*".
func TestAllowOperationMatrix(t *testing.T) {
	ops := Operations()
	if len(ops) != 9 {
		t.Fatalf("Operations() = %v", ops)
	}
	for _, granted := range ops {
		p, err := New([]Grant{{Operations: []string{granted}, Resources: []string{"res/#"}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range ops {
			if got := p.Allow(op, "res/x"); got != (op == granted) {
				t.Errorf("grant %s: Allow(%s, res/x) = %v", granted, op, got)
			}
			if p.Allow(op, "other") {
				t.Errorf("grant %s: Allow(%s, other) = true", granted, op)
			}
		}
	}
	all, _ := New([]Grant{{Operations: []string{"*"}, Resources: []string{"*"}}})
	for _, op := range ops {
		if !all.Allow(op, "$aws/things/x/shadow/get") {
			t.Errorf("*/*: Allow(%s) = false", op)
		}
	}
	for _, op := range []string{"", "*", "pubsub.Publish", "pubsub", "log"} {
		if all.Allow(op, "a") {
			t.Errorf("Allow(%q) = true for an unknown operation", op)
		}
	}
	var nilPolicy *Policy
	if nilPolicy.Allow(PubsubPublish, "a") {
		t.Error("nil policy allows")
	}
	empty, _ := New(nil)
	if empty.Allow(PubsubPublish, "a") {
		t.Error("empty policy allows")
	}
}

// Patterns against plain resources (publish and the non-topic operations).
func TestAllowMatch(t *testing.T) {
	tests := []struct {
		pattern  string
		resource string
		want     bool
	}{
		{"*", "anything/at/all", true},
		{"*", "$aws/things/t/shadow/update", true},
		{"*", "", false},
		{"a/b", "a/b", true},
		{"a/b", "a/b/c", false},
		{"a/b", "a", false},
		{"a/b", "a/B", false},
		{"a/+", "a/b", true},
		{"a/+", "a/", true},
		{"a/+", "a/b/c", false},
		{"a/+", "a", false},
		{"+/b", "x/b", true},
		{"+/b", "$sys/b", false},
		{"+", "a", true},
		{"+", "a/b", false},
		{"#", "a", true},
		{"#", "a/b/c", true},
		{"#", "/", true},
		{"#", "$SYS/x", false},
		{"#", "$SYS", false},
		{"a/#", "a", true},
		{"a/#", "a/", true},
		{"a/#", "a/b/c", true},
		{"a/#", "ab", false},
		{"a/#", "b/a", false},
		{"+/#", "$x/y", false},
		{"$SYS/#", "$SYS/broker", true},
		{"$SYS/#", "$SYS", true},
		{"$aws/things/*/shadow/#", "$aws/things/t1/shadow/update", true},
		{"$aws/things/*/shadow/#", "$aws/things/t1/jobs", false},
		{"sensor-*", "sensor-1", true},
		{"sensor-*", "sensor-", true},
		{"sensor-*", "sensor", false},
		{"sensor-*", "sensor-1/x", false},
		{"sensor-*", "xsensor-1", false},
		{"*-temp", "room-temp", true},
		{"*-temp", "$x-temp", false},
		{"a/*-temp", "a/$x-temp", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "a-b-c", true},
		{"a*b*c", "axxbyybc", true},
		{"a*b*c", "acb", false},
		{"a*b*c", "ab", false},
		{"ab*ba", "aba", false},
		{"ab*ba", "abba", true},
		{"*", "a/b", true}, // "*" alone is all, not one level
		{"x/*", "x/a", true},
		{"x/*", "x/", true},
		{"x/*", "x/a/b", false},
		{"x/**", "x/a", true},
		{"**", "x", true}, // a level of only stars is "+"
		{"**", "x/y", false},
		{"**", "$x", false},
		{"a//b", "a//b", true},
		{"a/+/b", "a//b", true},
		{"arn:aws:secretsmanager:*:*:secret:db-*", "arn:aws:secretsmanager:us-east-1:1:secret:db-AbC", true},
		{"arn:aws:secretsmanager:*:*:secret:db-*", "arn:aws:secretsmanager:us-east-1:1:secret:api-AbC", false},
	}
	for _, tt := range tests {
		for _, op := range []string{PubsubPublish, CloudPublish, ShadowGet, ShadowUpdate, ShadowDelete, ShadowList, SecretGet} {
			p, err := New([]Grant{{Operations: []string{op}, Resources: []string{tt.pattern}}})
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Allow(op, tt.resource); got != tt.want {
				t.Errorf("pattern %q: Allow(%s, %q) = %v, want %v", tt.pattern, op, tt.resource, got, tt.want)
			}
		}
	}
}

// Patterns against subscription filters: granted only if every topic the
// filter matches is matched.
func TestAllowCover(t *testing.T) {
	tests := []struct {
		pattern string
		filter  string
		want    bool
	}{
		{"sensors/#", "sensors/+/t", true},
		{"sensors/+/t", "sensors/#", false},
		{"sensors/+/t", "sensors/+/t", true},
		{"sensors/+/t", "sensors/a/t", true},
		{"sensors/+/t", "sensors/a/u", false},
		{"sensors/#", "sensors/#", true},
		{"sensors/#", "sensors", true},
		{"sensors/#", "sensors/a/b/c", true},
		{"sensors/#", "other/#", false},
		{"sensors/+", "sensors/#", false},   // "sensors" and "sensors/a/b" escape
		{"sensors/+/#", "sensors/#", false}, // "sensors" escapes
		{"sensors", "sensors/#", false},
		{"a/+", "a/+", true},
		{"a/*", "a/+", true},
		{"a/x*", "a/+", false},
		{"a/*x", "a/+", false},
		{"a/b", "a/+", false},
		{"+", "+", true},
		{"+", "#", false},
		{"#", "#", true},
		{"#", "+/+", true},
		{"#", "a/#", true},
		{"+/#", "#", true}, // a topic has at least one level
		{"*/#", "#", true},
		{"+/+/#", "#", false},
		{"a/+/#", "a/#", false},
		{"#", "$SYS/#", false},
		{"+/#", "$SYS/x", false},
		{"$SYS/#", "$SYS/#", true},
		{"$SYS/+", "$SYS/+", true},
		{"*", "$SYS/#", true},
		{"*", "#", true},
		{"+/x", "+/x", true},
		{"sensor-*/t", "sensor-1/t", true},
		{"sensor-*/t", "+/t", false},
		{"sensor-*/t", "sensor-*/t", true}, // "*" in a filter is a plain character
		{"a/b", "a/b*", false},
		{"a/#", "a/b/#", true},
		{"a/#", "a/+/#", true},
		// Invalid filters are never granted, even by "*".
		{"*", "a/#/b", false},
		{"#", "a/b+", false},
		{"#", "a/#b", false},
		{"*", "", false},
		{"#", "a\x00", false},
	}
	for _, tt := range tests {
		for _, op := range []string{PubsubSubscribe, CloudSubscribe} {
			p, err := New([]Grant{{Operations: []string{op}, Resources: []string{tt.pattern}}})
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Allow(op, tt.filter); got != tt.want {
				t.Errorf("pattern %q: Allow(%s, %q) = %v, want %v", tt.pattern, op, tt.filter, got, tt.want)
			}
		}
	}
}

func TestAllowSeveralGrants(t *testing.T) {
	p, err := New([]Grant{
		{Operations: []string{PubsubPublish}, Resources: []string{"sensors/+/temperature", "sensors/+/humidity"}},
		{Operations: []string{PubsubSubscribe, CloudSubscribe}, Resources: []string{"commands/#"}},
		{Operations: []string{ShadowGet, ShadowUpdate}, Resources: []string{"thing-*"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		op, res string
		want    bool
	}{
		{PubsubPublish, "sensors/1/temperature", true},
		{PubsubPublish, "sensors/1/humidity", true},
		{PubsubPublish, "sensors/1/pressure", false},
		{PubsubSubscribe, "commands/+", true},
		{CloudSubscribe, "commands/reboot", true},
		{PubsubSubscribe, "sensors/1/temperature", false},
		{ShadowGet, "thing-7", true},
		{ShadowDelete, "thing-7", false},
		{CloudPublish, "sensors/1/temperature", false},
	}
	for _, c := range checks {
		if got := p.Allow(c.op, c.res); got != c.want {
			t.Errorf("Allow(%s, %q) = %v, want %v", c.op, c.res, got, c.want)
		}
	}
}

// TestCoverExhaustive checks covers against its definition over a universe
// of topics rich enough to hold a counterexample for every pattern and filter
// built from the levels below: each way a level can satisfy or fail the
// level tests in play ("a", "b", "$s", "", "a*", prefix "a", suffix "b", a
// leading "$") has a representative, and topics go one level deeper than
// any pattern or filter.
func TestCoverExhaustive(t *testing.T) {
	alphabet := []string{"a", "b", "ab", "a*", "$s", "$b", "", "zz"}
	var topics []string
	var grow func(prefix string, depth int)
	grow = func(prefix string, depth int) {
		for _, l := range alphabet {
			tp := l
			if depth > 0 {
				tp = prefix + "/" + l
			}
			topics = append(topics, tp)
			if depth < 3 {
				grow(tp, depth+1)
			}
		}
	}
	grow("", 0)

	combos := func(levels []string) []string {
		var out []string
		var rec func(prefix []string)
		rec = func(prefix []string) {
			if len(prefix) > 0 {
				out = append(out, strings.Join(prefix, "/"))
			}
			if len(prefix) == 3 || len(prefix) > 0 && prefix[len(prefix)-1] == "#" {
				return
			}
			for _, l := range levels {
				rec(append(prefix[:len(prefix):len(prefix)], l))
			}
		}
		rec(nil)
		return out
	}
	patterns := append(combos([]string{"a", "+", "*", "a*", "*b", "$s", "#"}), "*")
	filters := combos([]string{"a", "b", "+", "#", "$s", "a*", ""})

	type bits []uint64
	set := func(match func(string) bool) bits {
		b := make(bits, (len(topics)+63)/64)
		for i, tp := range topics {
			if match(tp) {
				b[i/64] |= 1 << (i % 64)
			}
		}
		return b
	}
	fsets := make([]bits, len(filters))
	for i, f := range filters {
		fsets[i] = set(func(tp string) bool { return refFilter(f, tp) })
	}
	for _, pat := range patterns {
		ps := set(func(tp string) bool { return refPattern(pat, tp) })
		cp, err := compile(pat)
		if err != nil {
			t.Fatal(err)
		}
		// matches agrees with the reference matcher.
		for _, tp := range topics {
			if tp != "" && cp.matches(tp) != refPattern(pat, tp) {
				t.Fatalf("matches(%q, %q) = %v", pat, tp, cp.matches(tp))
			}
		}
		for i, f := range filters {
			want := true
			for w := range ps {
				if fsets[i][w]&^ps[w] != 0 {
					want = false
					break
				}
			}
			if got := cp.covers(f); got != want {
				t.Errorf("covers(%q, %q) = %v, want %v", pat, f, got, want)
			}
		}
	}
	t.Logf("%d patterns x %d filters over %d topics", len(patterns), len(filters), len(topics))
}

// refFilter is MQTT topic matching, written plainly.
func refFilter(filter, topic string) bool {
	f, tp := strings.Split(filter, "/"), strings.Split(topic, "/")
	if strings.HasPrefix(topic, "$") && (f[0] == "+" || f[0] == "#") {
		return false
	}
	for i, l := range f {
		if l == "#" {
			return true
		}
		if i >= len(tp) || l != "+" && l != tp[i] {
			return false
		}
	}
	return len(f) == len(tp)
}

// refPattern is the documented pattern semantics, written plainly.
func refPattern(pat, topic string) bool {
	if pat == "*" {
		return true
	}
	p, tp := strings.Split(pat, "/"), strings.Split(topic, "/")
	if strings.HasPrefix(topic, "$") && (p[0] == "+" || p[0] == "#" || strings.HasPrefix(p[0], "*")) {
		return false
	}
	for i, l := range p {
		if l == "#" {
			return true
		}
		if i >= len(tp) {
			return false
		}
		switch {
		case l == "+":
		case strings.Contains(l, "*"):
			if ok, _ := path.Match(l, tp[i]); !ok {
				return false
			}
		case l != tp[i]:
			return false
		}
	}
	return len(p) == len(tp)
}

func benchPolicy(tb testing.TB) *Policy {
	p, err := New([]Grant{
		{Operations: []string{PubsubPublish}, Resources: []string{"telemetry/+/cpu", "telemetry/+/mem", "logs/#"}},
		{Operations: []string{PubsubSubscribe}, Resources: []string{"commands/device-*/#", "config/+"}},
		{Operations: []string{ShadowGet, ShadowUpdate}, Resources: []string{"thing-*"}},
		{Operations: []string{PubsubPublish}, Resources: []string{"sensors/+/temperature"}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

var allowCases = []struct{ op, res string }{
	{PubsubPublish, "sensors/kitchen/temperature"},
	{PubsubPublish, "sensors/kitchen/humidity"},
	{PubsubSubscribe, "commands/device-7/+"},
	{PubsubSubscribe, "commands/#"},
	{ShadowUpdate, "thing-42"},
	{SecretGet, "db"},
}

func TestAllowDoesNotAllocate(t *testing.T) {
	p := benchPolicy(t)
	allocs := testing.AllocsPerRun(100, func() {
		for _, c := range allowCases {
			p.Allow(c.op, c.res)
		}
	})
	if allocs != 0 {
		t.Errorf("Allow allocates %v times per round", allocs)
	}
}

func BenchmarkAllow(b *testing.B) {
	p := benchPolicy(b)
	for _, c := range allowCases {
		b.Run(c.op+"/"+c.res, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Allow(c.op, c.res)
			}
		})
	}
}

func FuzzAllow(f *testing.F) {
	f.Add("sensors/#", "sensors/+/t")
	f.Add("a/*b*/c", "a/xbx/c")
	f.Add("+/#", "$SYS/#")
	f.Add("*", "")
	f.Add("a/#", "a")
	f.Fuzz(func(t *testing.T, pattern, resource string) {
		ops := Operations()
		p, err := New([]Grant{{Operations: []string{"*"}, Resources: []string{pattern}}})
		if err != nil {
			return
		}
		for _, op := range ops {
			p.Allow(op, resource)
		}
		// For a filter without wildcards, covering it is matching it.
		if resource != "" && !strings.ContainsAny(resource, "+#\x00") {
			if p.Allow(PubsubSubscribe, resource) != p.Allow(PubsubPublish, resource) {
				t.Errorf("pattern %q, topic %q: subscribe %v, publish %v", pattern, resource,
					p.Allow(PubsubSubscribe, resource), p.Allow(PubsubPublish, resource))
			}
		}
	})
}

// A Policy is shared by every goroutine serving a component; run with -race.
func TestAllowConcurrent(t *testing.T) {
	p := benchPolicy(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				for _, c := range allowCases {
					p.Allow(c.op, c.res)
				}
			}
		})
	}
	wg.Wait()
}
