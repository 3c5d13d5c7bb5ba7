//go:build !wasip1

package csdk_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/moss-edge/moss/internal/testwasm"
)

// jsonCorpus holds documents for the JSON reader, each with the paths to
// look up in it: shadow documents as the service writes them, and the
// corners of RFC 8259.
var jsonCorpus = []struct {
	doc   string
	paths []string
}{
	{`{"state":{"desired":{"color":"RED","target_temperature":22.5},"reported":{"color":"GREEN","target_temperature":20},` +
		`"delta":{"color":"RED","target_temperature":22.5}},"metadata":{"desired":{"color":{"timestamp":1700000000}}},` +
		`"version":7,"timestamp":1700000001}`,
		[]string{"", "state", "state.delta", "state.delta.color", "state.delta.target_temperature", "state.reported.target_temperature",
			"state.desired.missing", "version", "version.x", "metadata.desired.color.timestamp", "state.delta.color.x"}},
	{`{"version":8,"timestamp":1700000002,"state":{"color":"BLUE"},"metadata":{"color":{"timestamp":1700000002}}}`,
		[]string{"state", "state.color", "version"}},
	{`{"code":404,"message":"No shadow exists with name: 'thermostat'","timestamp":1700000003}`, []string{"code", "message"}},
	{`{"results":["a","b","thermostat"],"nextToken":"tok","timestamp":1}`, []string{"results", "nextToken"}},
	{` { "a" : 1 , "a" : 2 , "b" : [ 1 , { "c" : null } , [ ] , { } ] } `, []string{"", "a", "b", "b.c", "c"}},
	{`{"a.b":1,"a":{"b":2}}`, []string{"a.b", "a"}},
	{`{"":{"":3}}`, []string{"", "."}},
	{`{"esc":"\"\\\/\b\f\n\r\t\u0041\u00e9\u20ac\ud83d\ude00","\u0061":"by escape","bad":"\ud800 \udc00 \ud800\u0041 \ud800\ud83d\ude00"}`,
		[]string{"esc", "a", "bad"}},
	{`{"é":"UTF-8 key","\u00e9x":"escaped key","日本":"語"}`, []string{"é", "éx", "日本"}},
	{`{"n":[0,-0,1,-1,0.1,1e2,1E+2,1e-2,-1.5e-7,123456789012345678901234567890,1e400,-1e400,1e-400,` +
		`0.1000000000000000055511151231257827021181583404541015625,2.2250738585072011e-308,` +
		`1.7976931348623157e308,1.7976931348623159e308,4.9406564584124654e-324,2.4703282292062327e-324,` +
		`0.0000000000000000000000000000000000000000000000001,100000000000000000000000000000000000000000000e-40]}`,
		[]string{"n"}},
	{`[true,false,null,"s",1,{},[]]`, []string{"", "a"}},
	{`"just a string"`, []string{"", "a"}},
	{`12`, []string{""}},
	{`null`, []string{"", "a"}},
	{`true`, []string{""}},
	{"\t\r\n {}\n", []string{""}},
	// Malformed: each is refused.
	{``, nil}, {` `, nil}, {`{`, nil}, {`}`, nil}, {`{"a":1,}`, nil}, {`[1,]`, nil}, {`[,1]`, nil}, {`{"a" 1}`, nil},
	{`{"a":1 "b":2}`, nil}, {`{a:1}`, nil}, {`{'a':1}`, nil}, {`01`, nil}, {`-`, nil}, {`1.`, nil}, {`.5`, nil}, {`+1`, nil},
	{`1e`, nil}, {`1e+`, nil}, {`0x10`, nil}, {`NaN`, nil}, {`Infinity`, nil}, {`tru`, nil}, {`nul`, nil}, {`falsey`, nil},
	{`"abc`, nil}, {`"a\"`, nil}, {"\"a\tb\"", nil}, {"\"a\x00b\"", nil}, {`"\x"`, nil}, {`"\u12"`, nil}, {`"\u12g4"`, nil},
	{`{} {}`, nil}, {`[1] 2`, nil}, {`[1]]`, nil}, {`{"a":1}}`, nil}, {`[{]}`, nil}, {`{"a":[}`, nil}, {`[1 2]`, nil},
	{`{"a"}`, nil}, {`{"a":}`, nil}, {`{,}`, nil}, {`{:1}`, nil}, {`{1:1}`, nil}, {"\"\\", nil}, {"[", nil}, {"[\"", nil},
}

// jsonAnswer is a line of testdata/jsontest.c's output.
type jsonAnswer struct {
	Valid       bool
	RC          *int
	Type        string
	String      *string
	StringError string `json:"string_error"`
	NumberRC    *int   `json:"number_rc"`
	Number      *string
	Bool        *bool
	Members     []jsonMember
	Wrong       string
}

type jsonMember struct {
	Type string
	Name *string // hex
}

// TestJSON runs the C SDK's JSON reader, built natively (with the address
// and undefined-behaviour sanitizers where the compiler has them), over
// jsonCorpus, documents nested at and over its depth limit, and thousands
// of mutations of the corpus, and checks every answer against Go's
// encoding/json: which documents are valid, what a path finds (the last of
// repeated names), strings with their escapes decoded, numbers rounded to
// the same double, members in order.
func TestJSON(t *testing.T) {
	var cc string
	for _, c := range []string{"cc", "gcc", "clang"} {
		if p, err := exec.LookPath(c); err == nil {
			cc = p
			break
		}
	}
	if cc == "" {
		t.Fatalf("no native C compiler (cc, gcc or clang): %s", toolchainHint)
	}
	root := testwasm.Root(t)
	bin := filepath.Join(t.TempDir(), "jsontest")
	build := func(flags ...string) error {
		args := append([]string{"-std=c11", "-O1", "-Wall", "-Wextra", "-Werror"}, flags...)
		cmd := exec.Command(cc, append(args, "-I", "sdk/c", "-o", bin, "sdk/c/json.c", "sdk/c/testdata/jsontest.c", "-lm")...)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, b)
		}
		return nil
	}
	if err := build("-fsanitize=address,undefined", "-fno-sanitize-recover"); err != nil {
		t.Logf("without sanitizers: %v", err)
		if err := build(); err != nil {
			t.Fatal(err)
		}
	}

	type query struct {
		doc, path string
		valid     *bool // when Go's json.Valid does not say (the depth limit)
	}
	var qs []query
	for _, c := range jsonCorpus {
		qs = append(qs, query{doc: c.doc})
		for _, p := range c.paths {
			qs = append(qs, query{doc: c.doc, path: p})
		}
	}
	yes, no := true, false
	for _, open := range []string{"[", `{"a":`} {
		closing := map[string]string{"[": "]", `{"a":`: "}"}[open]
		at := strings.Repeat(open, 512) + "1" + strings.Repeat(closing, 512)
		over := strings.Repeat(open, 513) + "1" + strings.Repeat(closing, 513)
		qs = append(qs, query{doc: at, valid: &yes}, query{doc: over, valid: &no})
	}
	qs = append(qs, query{doc: `{"a":` + strings.Repeat("[", 511) + strings.Repeat("]", 511) + `}`, path: "a", valid: &yes})
	// Mutations of the valid documents: a byte deleted, inserted or
	// replaced, a piece repeated.
	var seeds []string
	for _, c := range jsonCorpus {
		if json.Valid([]byte(c.doc)) {
			seeds = append(seeds, c.doc)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	const interesting = `{}[]",:\ 0123456789eE.-+tfnu/` + "\x00\x1f\x7f\xc3\xa9\xff"
	paths := []string{"", "a", "b", "state", "state.delta", "n", "esc"}
	for range 4000 {
		b := []byte(seeds[r.IntN(len(seeds))])
		for range 1 + r.IntN(3) {
			i := r.IntN(len(b) + 1)
			c := interesting[r.IntN(len(interesting))]
			switch r.IntN(4) {
			case 0:
				if i < len(b) {
					b = append(b[:i], b[i+1:]...)
				}
			case 1:
				b = append(b[:i], append([]byte{c}, b[i:]...)...)
			case 2:
				if i < len(b) {
					b[i] = c
				}
			case 3:
				j := i + r.IntN(len(b)-i+1)
				b = append(b[:j], append(bytes.Clone(b[i:j]), b[j:]...)...)
			}
		}
		qs = append(qs, query{doc: string(b), path: paths[r.IntN(len(paths))]})
	}

	var in strings.Builder
	for _, q := range qs {
		d, p := hex.EncodeToString([]byte(q.doc)), hex.EncodeToString([]byte(q.path))
		if d == "" {
			d = "-"
		}
		if p == "" {
			p = "-"
		}
		fmt.Fprintf(&in, "%s %s\n", d, p)
	}
	run := exec.Command(bin)
	run.Stdin = strings.NewReader(in.String())
	var stderr bytes.Buffer
	run.Stderr = &stderr
	out, err := run.Output()
	if err != nil {
		t.Fatalf("jsontest: %v\n%s", err, stderr.Bytes())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	i, valid, failures := 0, 0, 0
	for ; sc.Scan(); i++ {
		if i >= len(qs) {
			t.Fatalf("more answers than queries: %s", sc.Text())
		}
		q := qs[i]
		var got jsonAnswer
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatalf("%q: answer %q: %v", q.doc, sc.Text(), err)
		}
		if why := checkJSONAnswer(q.doc, q.path, q.valid, &got); why != "" {
			failures++
			if failures <= 20 {
				t.Errorf("document %q, path %q: %s\n answer %s", trimDoc(q.doc), q.path, why, sc.Text())
			}
		}
		if got.Valid {
			valid++
		}
	}
	if i != len(qs) {
		t.Errorf("%d answers for %d queries", i, len(qs))
	}
	t.Logf("%d queries, %d on valid documents, %d failures", len(qs), valid, failures)
}

func trimDoc(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// checkJSONAnswer compares the C reader's answer for doc at path with what
// Go's encoding/json makes of them; "" if they agree.
func checkJSONAnswer(doc, path string, valid *bool, got *jsonAnswer) string {
	want := json.Valid([]byte(doc))
	if valid != nil {
		want = *valid
	}
	if got.Valid != want {
		return fmt.Sprintf("valid = %v, encoding/json says %v", got.Valid, want)
	}
	if !want {
		return ""
	}
	if got.StringError != "" || got.Wrong != "" {
		return fmt.Sprintf("string_error %q, wrong accessor %q", got.StringError, got.Wrong)
	}
	// Go replaces bytes that are not UTF-8; the C reader passes them on.
	if !utf8.ValidString(doc) {
		return ""
	}
	raw := json.RawMessage(strings.TrimSpace(doc))
	rc := 0
	if path != "" {
		for _, name := range strings.Split(path, ".") {
			if raw[0] != '{' {
				rc = -101
				break
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				return "" // a number Go cannot hold, somewhere inside
			}
			v, ok := m[name]
			if !ok {
				rc = -5
				break
			}
			raw = v
		}
	}
	if got.RC == nil || *got.RC != rc {
		return fmt.Sprintf("rc %v, want %d", got.RC, rc)
	}
	if rc != 0 {
		return ""
	}
	if wantType := jsonType(raw); got.Type != wantType {
		return fmt.Sprintf("type %q, want %q", got.Type, wantType)
	}
	switch got.Type {
	case "string":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return err.Error()
		}
		if got.String == nil || *got.String != hex.EncodeToString([]byte(s)) {
			return fmt.Sprintf("string %v, want %x (%q)", got.String, s, s)
		}
	case "number":
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			if got.NumberRC == nil || *got.NumberRC != -101 || got.Number != nil {
				return fmt.Sprintf("number %v (rc %v), want E_TYPE: Go says %v", got.Number, got.NumberRC, err)
			}
			return ""
		}
		if got.Number == nil {
			return fmt.Sprintf("no number, want %v", f)
		}
		g, err := strconv.ParseFloat(*got.Number, 64)
		if err != nil || math.Float64bits(g) != math.Float64bits(f) {
			return fmt.Sprintf("number %s, want %v", *got.Number, f)
		}
	case "bool":
		if got.Bool == nil || *got.Bool != (string(raw) == "true") {
			return fmt.Sprintf("bool %v, want %s", got.Bool, raw)
		}
	case "array", "object":
		members, err := jsonMembers(raw)
		if err != nil {
			return "" // a number Go cannot hold, somewhere inside
		}
		if len(got.Members) != len(members) {
			return fmt.Sprintf("%d members, want %d", len(got.Members), len(members))
		}
		for i, m := range members {
			g := got.Members[i]
			if g.Type != m.Type || (g.Name == nil) != (m.Name == nil) || (g.Name != nil && *g.Name != *m.Name) {
				return fmt.Sprintf("member %d: %v %v, want %v %v", i, g.Type, g.Name, m.Type, m.Name)
			}
		}
	}
	return ""
}

func jsonType(raw json.RawMessage) string {
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// jsonMembers lists an object's members or an array's items in order,
// repeated names included.
func jsonMembers(raw json.RawMessage) ([]jsonMember, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var ms []jsonMember
	for dec.More() {
		var m jsonMember
		if raw[0] == '{' {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			h := hex.EncodeToString([]byte(k.(string)))
			m.Name = &h
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		m.Type = jsonType(v)
		ms = append(ms, m)
	}
	return ms, nil
}
