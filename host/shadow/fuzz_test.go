package shadow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzMerge applies a sequence of update requests (one per line of data) to
// a document, as Update does minus the disk, and checks after each one:
// rejections are IoT Core's codes; an accepted update raises the version by
// exactly one, leaves the previous document untouched, stores no null and
// no empty object, keeps metadata the shape of the state, stays within the
// size limit, merges as documented (checked leaf by leaf against the
// request), and yields the delta an independent leaf-by-leaf computation
// gives; every response document is valid JSON; and the stored record
// decodes back to the same document.
func FuzzMerge(f *testing.F) {
	for _, seed := range []string{
		`{"state":{"desired":{"color":"RED","sequence":["RED","GREEN","BLUE"]},"reported":{"color":"GREEN"}}}`,
		`{"state":{"reported":{"lights":{"color":{"r":255,"g":0,"b":255}}}}}` + "\n" +
			`{"state":{"desired":{"lights":{"color":{"r":255,"g":255,"b":255}}}},"version":1}`,
		`{"state":{"desired":{"a":{"b":1}}}}` + "\n" + `{"state":{"desired":{"a":{"b":null}}}}` + "\n" + `{"state":{"desired":{"a":5}}}`,
		`{"state":{"desired":{"x":[1,{"y":[2,3]}],"n":1.0}}}` + "\n" + `{"state":{"reported":{"x":[1,{"y":[2,3]}],"n":1}}}`,
		`{"state":{"reported":{"color":"red"},"desired":null}}` + "\n" + `{"state":null}` + "\n" + `{"state":{}}`,
		`{"state":{"desired":{"a":{}}}}` + "\n" + `{"state":{"desired":{"a":1}}}` + "\n" + `{"state":{"desired":{"a":{"b":{}}}}}`,
		`{"state":{"desired":{"a":1}},"version":0,"clientToken":"t"}` + "\n" + `{"state":{"desired":{"a":2}},"version":0}`,
		`{"state":{"desired":{"k":"` + strings.Repeat("x", 100) + `"}}}`,
		`{"state":{"delta":{}}}` + "\n" + `{"state":{"reported":{"a":[null]}}}` + "\n" + "\xff",
	} {
		f.Add([]byte(seed), uint16(8192))
		f.Add([]byte(seed), uint16(40))
	}
	f.Fuzz(func(t *testing.T, data []byte, limit uint16) {
		maxBytes := 16 + int(limit)%MaxDocumentBytesLimit
		var doc *document
		for i, line := range bytes.Split(data, []byte("\n")) {
			now := int64(1000 + i)
			req, rerr := parseUpdate(line)
			if rerr != nil {
				if rerr.Code != 400 && rerr.Code != 413 && rerr.Code != 415 {
					t.Fatalf("parse rejected %q with %d", line, rerr.Code)
				}
				continue
			}
			var before []byte
			var version int64
			if doc != nil {
				before = appendBody(nil, doc)
				version = doc.version
			}
			next, meta, aerr := apply(doc, 0, req, now, maxBytes)
			if doc != nil && !bytes.Equal(before, appendBody(nil, doc)) {
				t.Fatalf("apply modified the previous document")
			}
			if aerr != nil {
				switch {
				case aerr.Code == 409 && req.hasVersion && req.version != version:
				case aerr.Code == 413:
				default:
					t.Fatalf("apply rejected %q with %d %s", line, aerr.Code, aerr.Message)
				}
				continue
			}
			if next.version != version+1 {
				t.Fatalf("version %d after %d", next.version, version)
			}
			if n := stateSize(next); n > maxBytes {
				t.Fatalf("state of %d bytes accepted under a limit of %d", n, maxBytes)
			}
			if got := len(appendJSON(nil, next.desired)) + len(appendJSON(nil, next.reported)); next.desired != nil && next.reported != nil && got != stateSize(next) {
				t.Fatalf("stateSize %d, encoded %d", stateSize(next), got)
			}
			for _, sec := range []struct {
				name     string
				old, cur map[string]any
				mcur     map[string]any
				patch    any
				has      bool
			}{
				{"desired", docSection(doc, true), next.desired, next.mDesired, req.desired, req.hasDesired},
				{"reported", docSection(doc, false), next.reported, next.mReported, req.reported, req.hasReported},
			} {
				checkStored(t, sec.name, sec.cur, sec.mcur, now)
				if req.stateNull {
					if sec.cur != nil {
						t.Fatalf("%s survived state null", sec.name)
					}
					continue
				}
				checkMerge(t, sec.name, sec.old, sec.cur, sec.patch, sec.has)
			}
			checkDelta(t, next)
			for what, b := range map[string][]byte{
				"accepted":  updateAccepted(req, meta, next.version, now),
				"delta":     updateDelta(next, now, req.clientToken),
				"documents": updateDocuments(doc, next, now, req.clientToken),
				"get":       getAccepted(next, now, req.clientToken),
			} {
				if b != nil && !json.Valid(b) {
					t.Fatalf("%s is not JSON: %s", what, b)
				}
			}
			rec, err := decodeStored(encodeStored(next))
			if err != nil {
				t.Fatalf("stored record does not decode: %v", err)
			}
			if !reflect.DeepEqual(rec.doc, next) {
				t.Fatalf("stored record decodes to another document:\n got %s\nwant %s", appendBody(nil, rec.doc), appendBody(nil, next))
			}
			doc = next
		}
	})
}

func docSection(d *document, desired bool) map[string]any {
	switch {
	case d == nil:
		return nil
	case desired:
		return d.desired
	}
	return d.reported
}

// checkStored: no null, no empty object outside arrays (an array is a
// value, kept as sent), metadata of the same shape with a stamp no later
// than now at every leaf.
func checkStored(t *testing.T, name string, v, m any, now int64) {
	t.Helper()
	checkStoredIn(t, name, v, m, now, false)
}

func checkStoredIn(t *testing.T, name string, v, m any, now int64, inArray bool) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		mm, ok := m.(map[string]any)
		if v != nil && len(v) == 0 && !inArray || !ok || len(mm) != len(v) {
			t.Fatalf("%s: object %v with metadata %v", name, v, m)
		}
		for k, c := range v {
			checkStoredIn(t, name+"."+k, c, mm[k], now, inArray)
		}
	case []any:
		ma, ok := m.([]any)
		if !ok || len(ma) != len(v) {
			t.Fatalf("%s: array %v with metadata %v", name, v, m)
		}
		for i, c := range v {
			checkStoredIn(t, name+"[]", c, ma[i], now, true)
		}
	case nil:
		t.Fatalf("%s: stored null", name)
	default:
		if s, ok := m.(*stamp); !ok || s.ts > now {
			t.Fatalf("%s: leaf %v with metadata %v", name, v, m)
		}
	}
}

// checkMerge holds the result against the request, path by path: every
// non-null leaf sent is there, every null sent is gone, and every old leaf
// the request did not touch is unchanged.
func checkMerge(t *testing.T, name string, old, cur map[string]any, patch any, has bool) {
	t.Helper()
	if !has {
		if !reflect.DeepEqual(old, cur) {
			t.Fatalf("%s changed by a request without it", name)
		}
		return
	}
	sent := map[string]any{} // path -> leaf (nil for a null)
	if patch == nil {
		if cur != nil {
			t.Fatalf("%s: null section survived", name)
		}
		return
	}
	leaves(patch, "", sent)
	for p, v := range sent {
		got, ok := lookup(cur, p)
		if m, isObj := v.(map[string]any); isObj && len(m) == 0 {
			if _, obj := got.(map[string]any); ok && !obj {
				t.Fatalf("%s%s: sent {}, holds %v", name, p, got)
			}
			continue
		}
		if v == nil {
			if ok {
				t.Fatalf("%s%s: sent null, still holds %v", name, p, got)
			}
			continue
		}
		if !ok || !reflect.DeepEqual(got, v) {
			t.Fatalf("%s%s: sent %v, holds %v (present %v)", name, p, v, got, ok)
		}
	}
	before := map[string]any{}
	leaves(old, "", before)
	for p, v := range before {
		touched := false
		for s := range sent {
			if strings.HasPrefix(p+"\x00", s+"\x00") || strings.HasPrefix(s+"\x00", p+"\x00") {
				touched = true
				break
			}
		}
		if got, ok := lookup(cur, p); !touched && (!ok || !reflect.DeepEqual(got, v)) {
			t.Fatalf("%s%s: untouched leaf %v became %v (present %v)", name, p, v, got, ok)
		}
	}
}

// leaves maps each path through objects ("\x00"-separated keys) to the
// value there that is not an object, or is an empty object (which only a
// request holds: it replaces a scalar and merges nothing into an object).
func leaves(v any, path string, out map[string]any) {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 && path != "" {
		out[path] = v
		return
	}
	for k, c := range m {
		leaves(c, path+"\x00"+k, out)
	}
}

func lookup(v any, path string) (any, bool) {
	if path == "" {
		return v, v != nil
	}
	for _, k := range strings.Split(path[1:], "\x00") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// checkDelta recomputes the delta from scratch, leaf by leaf, and compares;
// the delta's metadata must be desired's.
func checkDelta(t *testing.T, d *document) {
	t.Helper()
	want := map[string]any{}
	desired := map[string]any{}
	leaves(d.desired, "", desired)
	for p, v := range desired {
		if p == "" {
			continue // no desired section
		}
		if r, ok := lookup(d.reported, p); !ok || !equalValue(v, r) {
			want[p] = v
		}
	}
	got := map[string]any{}
	dlt := delta(d.desired, d.reported)
	if dlt != nil {
		leaves(dlt, "", got)
	}
	if len(want) != len(got) {
		t.Fatalf("delta %v, leaf by leaf %v", got, want)
	}
	for p, v := range want {
		if !reflect.DeepEqual(got[p], v) {
			t.Fatalf("delta%s = %v, leaf by leaf %v", p, got[p], v)
		}
	}
	if dlt == nil {
		return
	}
	dm := map[string]any{}
	leavesMeta(deltaMetadata(dlt, d.mDesired), dlt, "", dm)
	for p, m := range dm {
		want := lookupMeta(d.mDesired, p)
		if !reflect.DeepEqual(m, want) {
			t.Fatalf("delta metadata%s = %v, desired's %v", p, m, want)
		}
	}
}

// leavesMeta maps the delta's leaf paths to their metadata.
func leavesMeta(m, v any, path string, out map[string]any) {
	vm, ok := v.(map[string]any)
	if !ok {
		out[path] = m
		return
	}
	mm, _ := m.(map[string]any)
	for k, c := range vm {
		leavesMeta(mm[k], c, path+"\x00"+k, out)
	}
}

func lookupMeta(m any, path string) any {
	for _, k := range strings.Split(path[1:], "\x00") {
		mm, _ := m.(map[string]any)
		m = mm[k]
	}
	return m
}

// FuzzDecode holds decodeJSON to encoding/json's reading with UseNumber:
// the same inputs accepted, to the same values. Only valid UTF-8 is
// compared, since every caller checks that first.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"state":{"desired":{"a":[1,-2.5e+3,0.0,true,false,null,"x"]}},"version":3}`,
		`"\u00e9\ud83d\ude00\ud800x\u0041\n\t\\\/\"\b\f\r"`, `{"a":1,"a":2}`, ` [ ] `, `{}`, `-0`, `01`, `1.`, `1e`, `.5`,
		`"\x01"`, `{"a" 1}`, `[1,]`, `{"a":1,}`, `nul`, `truefalse`, `"\ud800\udc00\udc00"`, `"\u12"`, `[[[[]]]]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !utf8.Valid(data) {
			return
		}
		got, err := decodeJSON(data)
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var want any
		werr := dec.Decode(&want)
		if werr == nil {
			if _, terr := dec.Token(); terr != io.EOF {
				werr = fmt.Errorf("trailing data")
			}
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: decodeJSON error %v, encoding/json error %v", data, err, werr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decodeJSON %#v, encoding/json %#v", data, got, want)
		}
	})
}
