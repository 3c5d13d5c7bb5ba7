//go:build !wasip1

package assdk_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/moss-edge/moss/internal/conformance"
)

// jsonManifest is testdata/json's: a mailbox that holds every case at once.
const jsonManifest = `name = "json"
version = "1.0.0"

[wasm]
path = "json.wasm"

[limits]
mailbox = 4096

[[access]]
operations = ["pubsub.subscribe"]
resources = ["json/in/+"]

[[access]]
operations = ["pubsub.publish"]
resources = ["json/#"]
`

// jsonCase is a document for the SDK's reader. want is the writer's output
// byte for byte when set; otherwise the output must read, by Go's
// encoding/json, as the same value the input does. err is a substring of
// the SDK's error; when neither is set, the SDK must fail where Go fails.
type jsonCase struct {
	in   string
	want string
	err  string
}

var jsonCases = []jsonCase{
	// Every kind, written as Go's json.Marshal would (objects in input order).
	{in: `null`, want: `null`},
	{in: ` true `, want: `true`},
	{in: "\t\r\nfalse\n", want: `false`},
	{in: `{"b":1,"a":[true,null,"x"],"c":{}}`, want: `{"b":1,"a":[true,null,"x"],"c":{}}`},
	{in: `[ ]`, want: `[]`},
	{in: `{ "state" : { "desired" : { "color" : "RED" , "t" : 22.5 } } }`, want: `{"state":{"desired":{"color":"RED","t":22.5}}}`},
	// Repeated keys: the first place, the last value (Go keeps the last).
	{in: `{"a":1,"b":2,"a":3}`, want: `{"a":3,"b":2}`},
	// Numbers: Go's float format.
	{in: `[0,-0,1.0,1e2,1E+2,25e-1,0.000001,0.0000001,1e20,1e21,123456789012345678,-1.5e-7,5e-324,1.7976931348623157e308]`,
		want: `[0,-0,1,100,100,2.5,0.000001,1e-7,100000000000000000000,1e+21,123456789012345680,-1.5e-7,5e-324,1.7976931348623157e+308]`},
	{in: `1e-400`, want: `0`},
	// Numbers that the fast paths get wrong: halfway cases, subnormals,
	// the range's ends, more digits than a float has (Go reads them all).
	{in: `[9007199254740993,9007199254740995,9007199254740993.000000000000000000001]`, want: `[9007199254740992,9007199254740996,9007199254740994]`},
	{in: `[2.2250738585072011e-308,2.2250738585072012e-308,2.2250738585072014e-308]`},
	{in: `[4.9406564584124654e-324,2.4703282292062327e-324,2.4703282292062328e-324,1e-324]`, want: `[5e-324,0,5e-324,0]`},
	{in: `[1.7976931348623158e308,1.7976931348623157081e308]`, want: `[1.7976931348623157e+308,1.7976931348623157e+308]`},
	{in: `1.7976931348623159e308`, err: "out of range"},
	{in: `[1e23,8.41e21,1e22,9.999999999999999e22,123456789012345678901234567890,0.1,0.2,0.3,1.1,100000000000000000000000000000000000000000e-40]`,
		want: `[1e+23,8.41e+21,1e+22,1e+23,1.2345678901234568e+29,0.1,0.2,0.3,1.1,10]`},
	{in: `[1.6340257915917452e+43,-1.6715269026984623e+44,1.0287663208218688e+49]`}, // the runtime's parseFloat reads e+38
	{in: "0." + strings.Repeat("9", 800), want: `1`},
	{in: "1" + strings.Repeat("0", 308), want: `1e+308`},
	{in: "1" + strings.Repeat("0", 309), err: "out of range"},
	{in: "0." + strings.Repeat("0", 323) + "4940656458412465441765687928682213723651", want: `5e-324`},
	{in: "1e999999999999999999999", err: "out of range"},
	{in: "1e-999999999999999999999", want: `0`},
	{in: "-0.0e5", want: `-0`},
	{in: `1e400`, err: "out of range"},
	{in: `-1e309`, err: "out of range"},
	// Strings: escapes in, Go's escapes out.
	{in: `"\"\\\/\b\f\n\r\t\u0041\u00e9\u20ac\ud83d\ude00"`, want: `"\"\\/\b\f\n\r\tAé€😀"`},
	{in: `"<a href='x'>&amp;</a>"`, want: `"\u003ca href='x'\u003e\u0026amp;\u003c/a\u003e"`},
	{in: "\"\u2028\u2029\u007f\"", want: `"\u2028\u2029` + "\u007f" + `"`},
	{in: `"\u0001\u001f"`, want: `"\u0001\u001f"`},
	// Unpaired surrogates and invalid UTF-8 read as U+FFFD, as Go has it.
	{in: `"\ud800"`, want: `"` + "\ufffd" + `"`},
	{in: `"\udc00\ud800x\ud800\u0041"`, want: `"` + "\ufffd\ufffdx\ufffdA" + `"`},
	{in: "\"a\xffb\xc3\"", want: "\"a\ufffdb\ufffd\""},
	{in: "\"\xed\xa0\x80\xf4\x90\x80\x80\xe0\x80\x80\xc0\xaf\"", want: "\"" + strings.Repeat("\ufffd", 12) + "\""},
	{in: "\"\xf0\x9f\x98\x80 \xe2\x82\xac \xc3\xa9\"", want: `"😀 € é"`},
	// Malformed: the SDK refuses what Go refuses.
	{in: ``, err: "unexpected end of JSON input"},
	{in: `   `, err: "unexpected end"},
	{in: `{`, err: "unexpected end"},
	{in: `{"a"}`, err: "after object key at offset 4"},
	{in: `{"a":1,}`, err: "looking for beginning of object key string"},
	{in: `[1,]`, err: "looking for beginning of value"},
	{in: `[1 2]`, err: "after array element"},
	{in: `{"a":1 "b":2}`, err: "after object key:value pair"},
	{in: `{a:1}`},
	{in: `nul`},
	{in: `truex`, err: "after top-level value"},
	{in: `1 2`, err: "after top-level value"},
	{in: `01`},
	{in: `-`},
	{in: `+1`},
	{in: `.5`},
	{in: `1.`},
	{in: `1e`},
	{in: `1e+`},
	{in: `NaN`},
	{in: `Infinity`},
	{in: `"abc`},
	{in: "\"a\nb\""},
	{in: "\"a\x00b\""},
	{in: `"\x"`},
	{in: `"\u12"`},
	{in: `"\u12g4"`},
	{in: `"\ud800\u12g4"`},
	{in: `'a'`},
	{in: "\ufeff1"}, // a byte order mark is not whitespace
	// Nesting: the SDK reads 512 levels and refuses deeper (Go reads 10000).
	{in: strings.Repeat("[", 512) + strings.Repeat("]", 512)},
	{in: strings.Repeat(`{"a":`, 511) + "[1]" + strings.Repeat("}", 511)},
	{in: strings.Repeat("[", 513) + strings.Repeat("]", 513), err: "nested over 512 deep"},
	{in: strings.Repeat(`{"a":`, 513) + "1" + strings.Repeat("}", 513), err: "nested over 512 deep"},
	// Long strings with escapes (read in chunks).
	{in: `"` + strings.Repeat(`\u00e9x\n`, 2000) + `"`},
	{in: `"` + strings.Repeat("é", 3000) + `"`},
	{in: `"` + strings.Repeat("a", 70000) + `"`},
}

// randomJSON makes a random value of depth at most d, as encoding/json
// reads it: nil, bool, float64, string, []any, map[string]any.
func randomJSON(r *rand.Rand, d int) any {
	k := r.IntN(7)
	if d == 0 && k >= 5 {
		k = r.IntN(5)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		switch r.IntN(4) {
		case 0:
			return float64(r.IntN(2000) - 1000)
		case 1:
			return math.Round(r.NormFloat64()*1e4) / 100 // two decimals, as a sensor's
		case 2:
			return r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
		default:
			// Any finite float64: every exponent, every mantissa.
			for {
				if f := math.Float64frombits(r.Uint64()); !math.IsNaN(f) && !math.IsInf(f, 0) {
					return f
				}
			}
		}
	case 3, 4:
		return randomString(r)
	case 5:
		a := []any{}
		for range r.IntN(5) {
			a = append(a, randomJSON(r, d-1))
		}
		return a
	}
	m := map[string]any{}
	for range r.IntN(5) {
		m[randomString(r)] = randomJSON(r, d-1)
	}
	return m
}

func randomString(r *rand.Rand) string {
	pieces := []string{"a", "color", " ", "é", "€", "😀", "\"", "\\", "/", "\n", "\t", "\x00", "\x1f", "<", ">", "&", "\u2028", "\u2029", "\ufffd", "\u007f", "\uffff"}
	var b strings.Builder
	for range r.IntN(8) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// TestJSON runs testdata/json, the SDK's JSON reader and writer, in a real
// host over jsonCases and random documents, and checks each answer against
// Go's encoding/json: what Go reads, the SDK reads to the same value (its
// output, read by Go, equals Go's reading of the input; floats exactly), and
// what Go refuses, the SDK refuses.
func TestJSON(t *testing.T) {
	wasm := buildAS(t, "sdk/assemblyscript/testdata/json/json.ts")
	h := conformance.StartHost(t, conformance.Install(t, []byte(jsonManifest), wasm), "", "json/#")

	cases := append([]jsonCase(nil), jsonCases...)
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		v := randomJSON(r, 4)
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		in := string(b)
		if r.IntN(4) == 0 {
			in = spaced(r, in) // whitespace between tokens
		}
		cases = append(cases, jsonCase{in: in})
	}
	// Decimals of 1 to 25 digits at any exponent, most not the shortest
	// form of any float: the reader must round each as Go does.
	for range 1000 {
		var b strings.Builder
		if r.IntN(2) == 0 {
			b.WriteByte('-')
		}
		n := 1 + r.IntN(25)
		b.WriteByte(byte('1' + r.IntN(9)))
		for range n - 1 {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
		fmt.Fprintf(&b, "e%d", r.IntN(660)-340)
		cases = append(cases, jsonCase{in: b.String()})
	}
	for i, c := range cases {
		h.Publish(fmt.Sprintf("json/in/%d", i), c.in)
	}
	outs := map[string]string{}
	conformance.CheckFor(t, fmt.Sprintf("%d answers on json/out/+", len(cases)), func() bool {
		for _, m := range h.Published(0) {
			if strings.HasPrefix(m.Topic, "json/out/") {
				outs[strings.TrimPrefix(m.Topic, "json/out/")] = string(m.Payload)
			}
		}
		return len(outs) >= len(cases)
	})
	for i, c := range cases {
		got := outs[fmt.Sprint(i)]
		name := c.in
		if len(name) > 80 {
			name = name[:80] + "..."
		}
		var want any
		goErr := json.Unmarshal([]byte(c.in), &want)
		deep := strings.HasPrefix(c.in, strings.Repeat("[", 513)) || strings.HasPrefix(c.in, strings.Repeat(`{"a":`, 513))
		switch {
		case c.err != "" || goErr != nil || deep:
			if !strings.HasPrefix(got, "error json: ") || !strings.Contains(got, c.err) || !strings.HasSuffix(got, "(E_DECODE)") {
				t.Errorf("%q: SDK %q; want an error containing %q (Go: %v)", name, got, c.err, goErr)
			}
		case c.want != "":
			if got != "ok "+c.want {
				t.Errorf("%q: SDK wrote\n %q\nwant\n %q", name, got, "ok "+c.want)
			}
		default:
			var back any
			out, ok := strings.CutPrefix(got, "ok ")
			if !ok {
				t.Errorf("%q: SDK %q; Go reads it", name, got)
				continue
			}
			if err := json.Unmarshal([]byte(out), &back); err != nil {
				t.Errorf("%q: SDK wrote %q, which Go cannot read: %v", name, out, err)
				continue
			}
			if !reflect.DeepEqual(back, want) {
				t.Errorf("%q: SDK read and wrote %q: a different value", name, out)
			}
			// Go writes the same bytes for a value whose objects have at
			// most one key (no order to differ in).
			if b, _ := json.Marshal(want); !hasWideObject(want) && string(b) != out {
				t.Errorf("%q: SDK wrote\n %s\nGo writes\n %s", name, out, b)
			}
		}
	}

	// The builders and accessors.
	var got string
	conformance.CheckFor(t, "json/built", func() bool {
		for _, m := range h.Published(0) {
			if m.Topic == "json/built" {
				got = string(m.Payload)
				return true
			}
		}
		return false
	})
	want := strings.Join([]string{
		`{"s":"\u003ca \u0026 b\u003e\u2028\"\\\n\t\u0001é😀","n":3,"i":1e+21,"small":1.5e-7,"nan":null,"t":true,"f":false,"z":null,"a":[1,[],{}],"lone":"\ufffdx"}`,
		"s,n,i,small,nan,t,f,z,a,lone",
		"10",
		"has z",
		"no q",
		"get q null",
		"3.0",
		"|0.0|true",
		"z null",
		"a array of 3",
		"array,object,at 3 null",
		"scalar has no keys",
	}, "\n")
	if got != want {
		t.Errorf("json/built:\n%s\nwant\n%s", got, want)
	}
	if !utf8.ValidString(got) {
		t.Errorf("json/built is not UTF-8: %q", got)
	}
}

// spaced puts random JSON whitespace between the tokens of a compact
// document (outside strings).
func spaced(r *rand.Rand, s string) string {
	var b strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if in {
			b.WriteByte(c)
			if c == '\\' {
				i++
				b.WriteByte(s[i])
			} else if c == '"' {
				in = false
			}
			continue
		}
		if strings.IndexByte("{}[],:", c) >= 0 && r.IntN(2) == 0 {
			b.WriteString([]string{" ", "\n", "\t", "\r\n  "}[r.IntN(4)])
		}
		b.WriteByte(c)
		in = c == '"'
	}
	return b.String()
}

// hasWideObject reports whether v holds an object of two keys or more,
// whose key order Go's json.Marshal sorts and the SDK keeps.
func hasWideObject(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		if len(v) > 1 {
			return true
		}
		for _, x := range v {
			if hasWideObject(x) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if hasWideObject(x) {
				return true
			}
		}
	}
	return false
}
