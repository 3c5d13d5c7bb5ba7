package shadowsync

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/moss-edge/moss/host/shadow"
)

// A state tree here is what encoding/json decodes with UseNumber:
// map[string]any, []any, json.Number, string and bool. Stored shadows hold
// no nulls (a null deletes) and no empty objects (they disappear), on
// either side, so neither do the trees compared below.

// state is a shadow's state: its desired and reported sections, each nil
// when absent. Metadata is not synchronised: each side stamps what it
// stores.
type state struct {
	Desired  map[string]any `json:"desired,omitempty"`
	Reported map[string]any `json:"reported,omitempty"`
}

func (s *state) section(reported bool) map[string]any {
	if s == nil {
		return nil
	}
	if reported {
		return s.Reported
	}
	return s.Desired
}

// doc is one side's shadow as a get or update/documents gives it.
type doc struct {
	state   state
	version int64
}

// decode reads one JSON value with numbers kept as json.Number.
func decode(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

// decodeObject reads a JSON object.
func decodeObject(data []byte) (map[string]any, error) {
	v, err := decode(data)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	return obj, nil
}

// docFrom reads {"state":{"desired","reported"},"version"} out of a get
// or update/accepted body, or a documents "current"; delta and metadata
// are ignored.
func docFrom(obj map[string]any) (*doc, error) {
	v, err := int64Field(obj, "version")
	if err != nil {
		return nil, err
	}
	d := &doc{version: v}
	if st, ok := obj["state"].(map[string]any); ok {
		d.state.Desired, _ = st["desired"].(map[string]any)
		d.state.Reported, _ = st["reported"].(map[string]any)
		if len(d.state.Desired) == 0 {
			d.state.Desired = nil
		}
		if len(d.state.Reported) == 0 {
			d.state.Reported = nil
		}
	}
	return d, nil
}

func int64Field(obj map[string]any, name string) (int64, error) {
	n, ok := obj[name].(json.Number)
	if !ok {
		return 0, fmt.Errorf("no %q number", name)
	}
	return strconv.ParseInt(string(n), 10, 64)
}

// clientToken is the body's clientToken, "" if none.
func clientToken(obj map[string]any) string {
	s, _ := obj["clientToken"].(string)
	return s
}

// equalValue compares two state values as the shadow service does.
func equalValue(a, b any) bool { return shadow.EqualValues(a, b) }

// diff returns the update that turns from into to, as shadow update
// semantics apply it: members only in from become null (deleted), members
// whose values differ are sent whole (arrays included: IoT Core replaces
// arrays whole), objects on both sides are compared member by member. nil
// means nothing differs.
func diff(from, to map[string]any) map[string]any {
	var out map[string]any
	set := func(k string, v any) {
		if out == nil {
			out = make(map[string]any)
		}
		out[k] = v
	}
	for k := range from {
		if _, ok := to[k]; !ok {
			set(k, nil)
		}
	}
	for k, tv := range to {
		fv, ok := from[k]
		if !ok {
			set(k, tv)
			continue
		}
		fm, fObj := fv.(map[string]any)
		tm, tObj := tv.(map[string]any)
		switch {
		case fObj && tObj:
			if sub := diff(fm, tm); sub != nil {
				set(k, sub)
			}
		case !equalValue(fv, tv):
			set(k, tv)
		}
	}
	return out
}

// patch is an update request's "state": the sections that change, a null
// section deleting the whole section. nil when nothing changes.
func patch(from, to *state) map[string]any {
	var out map[string]any
	for _, reported := range []bool{false, true} {
		f, t := from.section(reported), to.section(reported)
		var v any
		switch {
		case len(f) == 0 && len(t) == 0:
			continue
		case len(t) == 0:
			v = nil // "desired": null removes the section
		case len(f) == 0:
			v = t
		default:
			d := diff(f, t)
			if d == nil {
				continue
			}
			v = d
		}
		if out == nil {
			out = make(map[string]any)
		}
		name := "desired"
		if reported {
			name = "reported"
		}
		out[name] = v
	}
	return out
}

// owner says whose value a merge keeps where both sides changed a value
// since the last sync.
type owner uint8

const (
	ownerLocal owner = iota
	ownerCloud
)

// merge3 merges the local and cloud versions of a section against base,
// the section as last synchronised (nil if never): a value changed on one
// side only takes that side's value, one changed on both takes owner's,
// objects present on both sides are merged member by member (a member
// missing from base counts as changed on the side that has it, so a first
// sync unites both sides). Arrays are values, as in IoT Core. This is
// Greengrass's SyncNodeMerger, except that Greengrass merges arrays
// element by element.
func merge3(local, cloud, base map[string]any, o owner) map[string]any {
	v, ok := mergeValue(local, local != nil, cloud, cloud != nil, base, base != nil, o)
	if !ok {
		return nil
	}
	m, _ := v.(map[string]any)
	if len(m) == 0 {
		return nil
	}
	return m
}

func mergeValue(l any, lok bool, c any, cok bool, b any, bok bool, o owner) (any, bool) {
	if !lok && !cok {
		return nil, false
	}
	lm, lObj := l.(map[string]any)
	cm, cObj := c.(map[string]any)
	if lok && cok && lObj && cObj {
		bm, _ := b.(map[string]any) // nil when base had no object here
		out := make(map[string]any, max(len(lm), len(cm)))
		for _, m := range []map[string]any{lm, cm} {
			for k := range m {
				if _, done := out[k]; done {
					continue
				}
				lv, lk := lm[k]
				cv, ck := cm[k]
				bv, bk := bm[k]
				if v, ok := mergeValue(lv, lk, cv, ck, bv, bk, o); ok {
					out[k] = v
				}
			}
		}
		if len(out) == 0 {
			return nil, false
		}
		return out, true
	}
	lChanged := !same(l, lok, b, bok)
	cChanged := !same(c, cok, b, bok)
	switch {
	case lChanged && cChanged:
		if o == ownerCloud {
			return c, cok
		}
		return l, lok
	case cChanged:
		return c, cok
	default: // only local changed, or neither did (then l equals c)
		return l, lok
	}
}

func same(x any, xok bool, y any, yok bool) bool {
	return xok == yok && (!xok || equalValue(x, y))
}

// mergeState merges whole states, desired with one owner, reported with
// another.
func mergeState(local, cloud, base *state, desired, reported owner) *state {
	return &state{
		Desired:  merge3(local.section(false), cloud.section(false), base.section(false), desired),
		Reported: merge3(local.section(true), cloud.section(true), base.section(true), reported),
	}
}

// stateEqual reports whether two states hold the same values.
func stateEqual(a, b *state) bool {
	return patch(a, b) == nil
}
