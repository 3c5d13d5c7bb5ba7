package shadowsync

import (
	"encoding/json"
	"testing"
)

func obj(t *testing.T, s string) map[string]any {
	t.Helper()
	if s == "" {
		return nil
	}
	o, err := decodeObject([]byte(s))
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return o
}

func enc(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestDiff(t *testing.T) {
	for _, tc := range []struct{ from, to, want string }{
		{`{"a":1}`, `{"a":1}`, `null`},
		{`{"a":1}`, `{"a":1.0}`, `null`}, // numbers compare by value
		{`{"a":1}`, `{"a":2}`, `{"a":2}`},
		{`{"a":1,"b":2}`, `{"a":1}`, `{"b":null}`},
		{`{"a":1}`, `{"a":1,"b":{"c":[1,2]}}`, `{"b":{"c":[1,2]}}`},
		{`{"o":{"x":1,"y":2}}`, `{"o":{"x":1,"y":3}}`, `{"o":{"y":3}}`},
		{`{"o":{"x":1}}`, `{"o":5}`, `{"o":5}`},
		{`{"o":5}`, `{"o":{"x":1}}`, `{"o":{"x":1}}`},
		{`{"l":[1,2]}`, `{"l":[1,3]}`, `{"l":[1,3]}`}, // arrays are values
		{`{"o":{"x":1}}`, `{}`, `{"o":null}`},
	} {
		if got := enc(diff(obj(t, tc.from), obj(t, tc.to))); got != tc.want {
			t.Errorf("diff(%s, %s) = %s, want %s", tc.from, tc.to, got, tc.want)
		}
	}
}

func TestPatch(t *testing.T) {
	st := func(d, r string) *state { return &state{Desired: obj(t, d), Reported: obj(t, r)} }
	for _, tc := range []struct {
		from, to *state
		want     string
	}{
		{nil, st(`{"a":1}`, ""), `{"desired":{"a":1}}`},
		{st(`{"a":1}`, `{"b":1}`), st(`{"a":1}`, `{"b":1}`), `null`},
		{st(`{"a":1}`, `{"b":1}`), st("", `{"b":2}`), `{"desired":null,"reported":{"b":2}}`},
		{st("", ""), st("", `{"b":2}`), `{"reported":{"b":2}}`},
	} {
		if got := enc(patch(tc.from, tc.to)); got != tc.want {
			t.Errorf("patch(%+v, %+v) = %s, want %s", tc.from, tc.to, got, tc.want)
		}
	}
}

// TestMerge3 is the merge table of the package comment: one-sided changes
// win, conflicts go to the owner, objects merge member by member, arrays
// are values, deletions are changes, a missing base unites both sides.
func TestMerge3(t *testing.T) {
	for _, tc := range []struct {
		name                string
		local, cloud, base  string
		ownerLocal, ownerCl string // expected with each owner
	}{
		{"unchanged", `{"a":1}`, `{"a":1}`, `{"a":1}`, `{"a":1}`, `{"a":1}`},
		{"local changed", `{"a":2}`, `{"a":1}`, `{"a":1}`, `{"a":2}`, `{"a":2}`},
		{"cloud changed", `{"a":1}`, `{"a":3}`, `{"a":1}`, `{"a":3}`, `{"a":3}`},
		{"conflict", `{"a":2}`, `{"a":3}`, `{"a":1}`, `{"a":2}`, `{"a":3}`},
		{"same change both sides", `{"a":2}`, `{"a":2.0}`, `{"a":1}`, `{"a":2}`, `{"a":2.0}`},
		{"different members", `{"a":2,"b":1}`, `{"a":1,"b":3}`, `{"a":1,"b":1}`, `{"a":2,"b":3}`, `{"a":2,"b":3}`},
		{"added on each side", `{"a":1,"l":1}`, `{"a":1,"c":1}`, `{"a":1}`, `{"a":1,"c":1,"l":1}`, `{"a":1,"c":1,"l":1}`},
		{"deleted locally", `{}`, `{"a":1}`, `{"a":1}`, `null`, `null`},
		{"deleted in cloud, changed locally", `{"a":2}`, `{}`, `{"a":1}`, `{"a":2}`, `null`},
		{"nested", `{"o":{"x":2,"y":1}}`, `{"o":{"x":1,"y":3}}`, `{"o":{"x":1,"y":1}}`, `{"o":{"x":2,"y":3}}`, `{"o":{"x":2,"y":3}}`},
		{"arrays are values", `{"l":[1,2]}`, `{"l":[1,3]}`, `{"l":[1]}`, `{"l":[1,2]}`, `{"l":[1,3]}`},
		{"first sync", `{"a":1,"x":1}`, `{"b":2,"x":2}`, ``, `{"a":1,"b":2,"x":1}`, `{"a":1,"b":2,"x":2}`},
		{"object against scalar", `{"o":{"x":1}}`, `{"o":7}`, `{"o":{"x":0}}`, `{"o":{"x":1}}`, `{"o":7}`},
		{"section gone on one side", ``, `{"a":1}`, `{"a":1}`, `null`, `null`},
	} {
		l, c, b := obj(t, tc.local), obj(t, tc.cloud), obj(t, tc.base)
		if len(l) == 0 {
			l = nil
		}
		if len(c) == 0 {
			c = nil
		}
		if got := enc(merge3(l, c, b, ownerLocal)); got != tc.ownerLocal {
			t.Errorf("%s, local owner: got %s, want %s", tc.name, got, tc.ownerLocal)
		}
		if got := enc(merge3(l, c, b, ownerCloud)); got != tc.ownerCl {
			t.Errorf("%s, cloud owner: got %s, want %s", tc.name, got, tc.ownerCl)
		}
	}
}

// TestMergeThenPatchConverges checks that writing the merge result to each
// side as a patch leaves both sides equal to it.
func TestMergeThenPatchConverges(t *testing.T) {
	st := func(d, r string) *state { return &state{Desired: obj(t, d), Reported: obj(t, r)} }
	base := st(`{"target":20,"mode":"auto"}`, `{"temp":19}`)
	local := st(`{"target":20,"mode":"eco"}`, `{"temp":25,"humidity":40}`)
	cloud := st(`{"target":20,"mode":"heat","fan":"on"}`, `{"temp":99}`)
	m := mergeState(local, cloud, base, ownerCloud, ownerLocal)
	want := st(`{"target":20,"mode":"heat","fan":"on"}`, `{"temp":25,"humidity":40}`)
	if !stateEqual(m, want) {
		t.Fatalf("merged %s, want %s", enc(m), enc(want))
	}
	for name, side := range map[string]*state{"local": local, "cloud": cloud} {
		if got := apply(side, patch(side, m)); !stateEqual(got, m) {
			t.Errorf("%s patched: %s, want %s", name, enc(got), enc(m))
		}
	}
}

// apply is the shadow service's merge, enough for the test: null deletes,
// objects merge, anything else replaces.
func apply(s *state, p map[string]any) *state {
	out := &state{Desired: s.Desired, Reported: s.Reported}
	for name, v := range p {
		sec := &out.Desired
		if name == "reported" {
			sec = &out.Reported
		}
		if v == nil {
			*sec = nil
			continue
		}
		*sec = mergeInto(*sec, v.(map[string]any))
	}
	return out
}

func mergeInto(cur, p map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range cur {
		out[k] = v
	}
	for k, v := range p {
		switch v := v.(type) {
		case nil:
			delete(out, k)
		case map[string]any:
			c, _ := out[k].(map[string]any)
			out[k] = mergeInto(c, v)
		default:
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
