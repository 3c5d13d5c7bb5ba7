package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/internal/golden"
)

// guestValue returns v as the bridge receives it from config_get: encoded
// by the host's codec and decoded by the SDK's into an any (maps with text
// keys, integers as uint64 or int64).
func guestValue(t testing.TB, v any) any {
	t.Helper()
	c, err := abi.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := c.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// mappingsOf reads a TOML file shaped like a manifest's [config] and returns
// its mappings value as the bridge would see it.
func mappingsOf(t testing.TB, file string) any {
	t.Helper()
	var doc struct {
		Config map[string]any `toml:"config"`
	}
	if _, err := toml.DecodeFile(file, &doc); err != nil {
		t.Fatal(err)
	}
	v, ok := doc.Config["mappings"]
	if !ok {
		t.Fatalf("%s: no config.mappings", file)
	}
	return guestValue(t, v)
}

// render is ParseMappings' result as text: one line per mapping, or one per
// problem.
func render(ms []Mapping, err error) string {
	var b strings.Builder
	if err != nil {
		var ce *ConfigError
		if !errors.As(err, &ce) {
			return "unexpected error type: " + err.Error() + "\n"
		}
		for _, p := range ce.Problems {
			fmt.Fprintf(&b, "error: %s\n", p)
		}
		return b.String()
	}
	if len(ms) == 0 {
		return "no mappings\n"
	}
	for i, m := range ms {
		fmt.Fprintf(&b, "%s: %s qos=%d\n", label(i, m.Name), m, m.QoS)
	}
	return b.String()
}

// TestParseMappingsGolden: each testdata/*.toml is a [config] table; its
// .golden file holds the mappings decoded or every problem found.
func TestParseMappingsGolden(t *testing.T) {
	golden.Run(t, "testdata/*.toml", func(t *testing.T, file string) string {
		return render(ParseMappings(mappingsOf(t, file)))
	})
}

// TestManifestDefault: the mapping component.toml ships is valid and is
// what the README says.
func TestManifestDefault(t *testing.T) {
	ms, err := ParseMappings(mappingsOf(t, "component.toml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Mapping{{Name: "telemetry", Source: Local, Target: Cloud, Filter: "telemetry/#", QoS: 1}}
	if len(ms) != 1 || ms[0] != want[0] {
		t.Fatalf("default mappings %+v, want %+v", ms, want)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "filter = \"telemetry/#\"") {
		t.Error("README.md does not show the default mapping")
	}
}

func TestCheckFilter(t *testing.T) {
	for f, want := range map[string]string{
		"a":      "",
		"#":      "",
		"+":      "",
		"a/+/b":  "",
		"a/#":    "",
		"/":      "",
		"a//b":   "",
		"$aws/x": "",
		"":       "empty",
		"a/#/b":  "# must be a whole level, and the last",
		"a#":     "# must be a whole level, and the last",
		"a/b+":   "+ must be a whole level",
		"+a":     "+ must be a whole level",
		"a\x00b": "holds a NUL",
	} {
		err := checkFilter(f)
		if got := fmt.Sprint(err); (want == "" && err != nil) || (want != "" && got != want) {
			t.Errorf("checkFilter(%q) = %v, want %q", f, err, want)
		}
	}
	if err := checkFilter(strings.Repeat("a", 65536)); err == nil {
		t.Error("a 64 KiB filter passed")
	}
}

func TestOverlap(t *testing.T) {
	for _, c := range []struct {
		prefix, out, in string
		want            bool
	}{
		{"", "a/b", "a/b", true},
		{"", "a/b", "a/c", false},
		{"", "a/+", "a/b", true},
		{"", "a/+", "+/b", true},
		{"", "a/#", "a", true}, // # matches its parent
		{"", "a", "a/#", true},
		{"", "a/+", "a", false}, // + needs a level
		{"", "a", "a/b", false},
		{"", "#", "$aws/x", false}, // wildcards do not match $ topics
		{"", "$aws/x", "#", false},
		{"", "$aws/x", "$aws/#", true},
		{"", "+/x", "$aws/x", false},
		{"up/", "#", "up", true},
		{"up/", "#", "up/a/b", true},
		{"up/", "#", "down/#", false},
		{"up/", "a/#", "up/+/x", true},
		{"up/", "a/#", "up/b/x", false},
		{"dev-", "+/x", "dev-a/x", true}, // a prefix ending inside a level
		{"dev-", "+/x", "dev/x", false},
		{"dev-", "+/x", "+/x", true},
		{"dev-", "#", "dev-a/b/c", true},
		{"dev-", "#", "devx", false},
		{"dev-", "a", "dev-a", true},
		{"dev-", "a", "dev-b", false},
		{"$aws/rules/r/", "#", "#", false},
		{"$aws/rules/r/", "#", "$aws/rules/+/t", true},
	} {
		if got := overlap(pattern(c.prefix, c.out), pattern("", c.in)); got != c.want {
			t.Errorf("overlap(%q + %q, %q) = %v, want %v", c.prefix, c.out, c.in, got, c.want)
		}
	}
}

// TestOverlapNeverMissesAMatch checks overlap against brute force over a
// small universe of topics: whenever some topic is written by prefix+filter
// and matched by another filter, overlap must say so (loop detection may
// refuse too much, never too little).
func TestOverlapNeverMissesAMatch(t *testing.T) {
	words := []string{"a", "b", "", "$x", "dev-a"}
	var topics []string
	var grow func(prefix string, depth int)
	grow = func(prefix string, depth int) {
		for _, w := range words {
			tp := w
			if depth > 0 {
				tp = prefix + "/" + w
			}
			topics = append(topics, tp)
			if depth < 2 {
				grow(tp, depth+1)
			}
		}
	}
	grow("", 0)
	var filters []string
	tokens := []string{"a", "b", "+", "#", "$x", "dev-a", ""}
	for _, x := range tokens {
		filters = append(filters, x)
		for _, y := range tokens {
			filters = append(filters, x+"/"+y)
		}
	}
	prefixes := []string{"", "dev-", "a/", "$x/", "b", "a/b/"}
	// Every topic a prefixed mapping writes is prefix+topic.
	seen := map[string]bool{}
	var universe []string
	for _, p := range prefixes {
		for _, tp := range topics {
			if !seen[p+tp] {
				seen[p+tp] = true
				universe = append(universe, p+tp)
			}
		}
	}
	var valid []string
	for _, f := range filters {
		if checkFilter(f) == nil {
			valid = append(valid, f)
		}
	}
	// reads[f][i]: filter f matches universe[i]; writes: a mapping with
	// prefix p and filter f can write universe[i].
	reads := map[string][]bool{}
	for _, f := range valid {
		reads[f] = make([]bool, len(universe))
		for i, tp := range universe {
			reads[f][i] = matches(f, tp)
		}
	}
	writes := func(p, f string) []bool {
		w := make([]bool, len(universe))
		for i, tp := range universe {
			rest, ok := strings.CutPrefix(tp, p)
			w[i] = ok && rest != "" && matches(f, rest)
		}
		return w
	}
	checked, met := 0, 0
	for _, p := range prefixes {
		for _, out := range valid {
			w := writes(p, out)
			for _, in := range valid {
				checked++
				for i, r := range reads[in] {
					if r && w[i] {
						met++
						if !overlap(pattern(p, out), pattern("", in)) {
							t.Errorf("overlap(%q + %q, %q) = false, but %q is both", p, out, in, universe[i])
						}
						break
					}
				}
			}
		}
	}
	if checked < 1000 || met < checked/10 {
		t.Fatalf("checked only %d cases, %d of them overlapping", checked, met)
	}
	t.Logf("%d cases, %d overlapping", checked, met)
}

// matches is MQTT topic matching written the plain way, as the reference.
func matches(filter, topic string) bool {
	if (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) && strings.HasPrefix(topic, "$") {
		return false
	}
	f, tp := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, l := range f {
		if l == "#" {
			return true
		}
		if i == len(tp) || (l != "+" && l != tp[i]) {
			return false
		}
	}
	return len(f) == len(tp)
}

// FuzzParseMappings: any configuration value the SDK can decode is either
// refused with problems or gives mappings that hold the invariants the
// bridge relies on.
func FuzzParseMappings(f *testing.F) {
	c, err := abi.NewCodec()
	if err != nil {
		f.Fatal(err)
	}
	files, _ := os.ReadDir("testdata")
	for _, e := range files {
		if strings.HasSuffix(e.Name(), ".toml") {
			b, err := c.Marshal(mappingsOf(f, "testdata/"+e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if c.Unmarshal(data, &v) != nil {
			return
		}
		ms, err := ParseMappings(v)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("error %v is not a ConfigError with problems", err)
			}
			return
		}
		valid := make([]bool, len(ms))
		for i, m := range ms {
			valid[i] = true
			if m.Target != m.Source.other() || (m.Source != Local && m.Source != Cloud) || checkFilter(m.Filter) != nil ||
				strings.ContainsAny(m.TargetPrefix, "+#\x00") || (m.Target == Local && m.QoS != 0) || m.QoS < 0 || m.QoS > 1 {
				t.Fatalf("accepted a bad mapping: %+v", m)
			}
		}
		if l := loops(ms, valid); len(l) > 0 {
			t.Fatalf("accepted mappings with loops %v: %+v", l, ms)
		}
	})
}
