package tomlx

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestKeyLines(t *testing.T) {
	src := "\ufeff" + `# comment
top = 1
"quoted.key" = 'x' # trailing
a.b.c = """
multi
line \"""
"""
lit = '''
x'''''
[tbl]
k = [
  1, # one
  { in = 2,
    deep = { x = 3 } },
]
[[arr]]
x = 1
[arr.sub]
y = 2
[[arr]]
x = 2
[[arr.list]]
z = 1
[[arr.list]]
z = 2
[ "sp ace" . 'lit' ]
"\u0041" = 1
"esc\"q" = 2
date = 1979-05-27 07:32:00Z
inl = { a = 1, b = [ { c = 1 }, { c = 2 } ] }
`
	got := scan([]byte(src)).lines
	want := map[string]int{
		"top":                     2,
		`"quoted.key"`:            3,
		"a":                       4,
		"a.b":                     4,
		"a.b.c":                   4,
		"lit":                     8,
		"tbl":                     10,
		"tbl.k":                   11,
		"tbl.k[0]":                12,
		"tbl.k[1]":                13,
		"tbl.k[1].in":             13,
		"tbl.k[1].deep":           14,
		"tbl.k[1].deep.x":         14,
		"arr":                     16,
		"arr[0]":                  16,
		"arr[0].x":                17,
		"arr[0].sub":              18,
		"arr[0].sub.y":            19,
		"arr[1]":                  20,
		"arr[1].x":                21,
		"arr[1].list":             22,
		"arr[1].list[0]":          22,
		"arr[1].list[0].z":        23,
		"arr[1].list[1]":          24,
		"arr[1].list[1].z":        25,
		`"sp ace"`:                26,
		`"sp ace".lit`:            26,
		`"sp ace".lit.A`:          27,
		`"sp ace".lit."esc\"q"`:   28,
		`"sp ace".lit.date`:       29,
		`"sp ace".lit.inl`:        30,
		`"sp ace".lit.inl.a`:      30,
		`"sp ace".lit.inl.b`:      30,
		`"sp ace".lit.inl.b[0]`:   30,
		`"sp ace".lit.inl.b[0].c`: 30,
		`"sp ace".lit.inl.b[1].c`: 30,
	}
	for k, line := range want {
		if got[k] != line {
			t.Errorf("line of %s = %d, want %d", k, got[k], line)
		}
	}
	if t.Failed() {
		keys := slices.Sorted(maps.Keys(got))
		for _, k := range keys {
			t.Logf("%s: %d", k, got[k])
		}
	}
}

type inner struct {
	N    int      `toml:"n"`
	List []string `toml:"list"`
}

type target struct {
	Name  string         `toml:"name"`
	Ratio float64        `toml:"ratio"`
	On    bool           `toml:"on"`
	Small int8           `toml:"small"`
	U     uint           `toml:"u"`
	In    inner          `toml:"in"`
	Items []inner        `toml:"items"`
	ByKey map[string]int `toml:"by_key"`
	Free  map[string]any `toml:"free"`
	Any   any            `toml:"any"`
	Skip  string         `toml:"-"`
	Bare  string
}

func TestDecodeCollectsAll(t *testing.T) {
	src := `name = 3
Name = "x"
ratio = 2
on = "yes"
small = 300
u = -1
Bare = "no"
[in]
n = "1"
lisst = []
[[items]]
n = 1
list = ["a", 2]
[[items]]
extra = true
[by_key]
a = 1
b = "two"
[free]
anything = { goes = [1, 2] }
tables = [{ a = 1 }]
[[free.aot]]
x = 1
`
	var v target
	d := Decode("f.toml", []byte(src), &v)
	want := `f.toml:1: name: expected string, got integer 3
f.toml:2: unknown key "Name"
f.toml:4: on: expected boolean, got string "yes"
f.toml:5: small: 300 is out of range for this setting
f.toml:6: u: -1 is out of range for this setting
f.toml:7: unknown key "Bare"
f.toml:9: in.n: expected integer, got string "1"
f.toml:10: unknown key "lisst" in [in]
f.toml:13: items[0].list[1]: expected string, got integer 2
f.toml:15: unknown key "extra" in [[items]]
f.toml:18: by_key.b: expected integer, got string "two"`
	if got := errString(d.Err()); got != want {
		t.Errorf("errors:\n%s\nwant:\n%s", got, want)
	}
	if v.Ratio != 2 || v.Items[0].N != 1 || v.ByKey["a"] != 1 {
		t.Errorf("good values not decoded: %+v", v)
	}
	if _, ok := v.Free["aot"].([]any); !ok {
		t.Errorf("free aot = %T, want []any", v.Free["aot"])
	}
	if !d.Failed(Path{"items", 0}) || d.Failed(Path{"items", 1, "n"}) || !d.Failed(Path{"items"}) {
		t.Errorf("Failed does not follow the errors")
	}
	if !d.Has(Path{"items", 1, "extra"}) || d.Has(Path{"items", 2}) || d.Has(Path{"nope"}) {
		t.Errorf("Has wrong")
	}
}

func TestDecodeSyntaxError(t *testing.T) {
	var v target
	d := Decode("f.toml", []byte("name = \"x\"\n\nratio = = 1\n"), &v)
	if d.OK() {
		t.Fatal("OK after a syntax error")
	}
	if got := errString(d.Err()); !strings.HasPrefix(got, "f.toml:3: ") {
		t.Errorf("syntax error = %q, want it at line 3", got)
	}
}

func TestPathString(t *testing.T) {
	tests := []struct {
		p    Path
		want string
	}{
		{Path{"a"}, "a"},
		{Path{"a", 0, "b"}, "a[0].b"},
		{Path{"deps", "my.dep", "type"}, `deps."my.dep".type`},
		{Path{""}, `""`},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// FuzzKeyLines checks the line scanner against the TOML parser: every key
// the parser sees, the scanner must find too (array indexes aside), or that
// key's problems would lose their line.
func FuzzKeyLines(f *testing.F) {
	f.Add([]byte("a = 1\n[t]\nb.c = 'x'\n[[arr]]\nd = [1, {e = 2}]\n"))
	f.Add([]byte("\"q\\u0041\" = \"\"\"\nx\"\"\"\n'lit' = '''y'''\n"))
	f.Add([]byte("[a]\n[[a.b]]\n[a.b.c]\nx = { y = { z = 1 } }\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		md, err := toml.Decode(string(data), new(map[string]any))
		if err != nil {
			return
		}
		found := map[string]bool{}
		for _, p := range scan(data).paths {
			var parts []string
			for _, part := range p {
				if s, ok := part.(string); ok {
					parts = append(parts, s)
				}
			}
			found[strings.Join(parts, "\x00")] = true
		}
		for _, k := range md.Keys() {
			if !found[strings.Join(k, "\x00")] {
				t.Errorf("scanner missed key %q", []string(k))
			}
		}
	})
}

func TestDepthLimit(t *testing.T) {
	var v map[string]any
	ok := strings.Repeat("a.", MaxDepth-2) + "b = [1]\n" // 31 keys and an index
	if err := Decode("f.toml", []byte(ok), &v).Err(); err != nil {
		t.Errorf("depth %d refused: %v", MaxDepth, err)
	}
	for name, src := range map[string]string{
		"dotted":  "x = 1\n" + strings.Repeat("a.", MaxDepth) + "b = 1\n",
		"arrays":  "x = 1\na = " + strings.Repeat("[", 200_000) + strings.Repeat("]", 200_000) + "\n",
		"inline":  "x = 1\na = " + strings.Repeat("{b = ", 200_000) + "1" + strings.Repeat("}", 200_000) + "\n",
		"headers": "x = 1\n[" + strings.Repeat("a.", 200_000) + "b]\n",
		"keys":    "x = 1\n" + strings.Repeat("a.", 200_000) + "b = 1\n",
	} {
		err := Decode("f.toml", []byte(src), &v).Err()
		if want := "f.toml:2: nested more than 32 levels deep"; err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %s", name, err, want)
		}
	}
}
