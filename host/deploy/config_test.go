package deploy

import (
	"reflect"
	"testing"
)

func TestResolveConfig(t *testing.T) {
	defaults := map[string]any{"threshold": int64(20), "window": int64(60), "limits": map[string]any{"max": int64(5), "min": int64(1)}}
	current := map[string]any{"threshold": int64(10), "window": int64(99), "limits": map[string]any{"max": int64(50)}, "custom": "x"}
	for _, tc := range []struct {
		name                      string
		installed, versionChanged bool
		upd                       ConfigUpdate
		want                      map[string]any
	}{
		{"new component: defaults", false, false, ConfigUpdate{},
			defaults},
		{"new component: merged", false, false, ConfigUpdate{Merge: map[string]any{"threshold": 30.0}},
			map[string]any{"threshold": 30.0, "window": int64(60), "limits": map[string]any{"max": int64(5), "min": int64(1)}}},
		{"same version: kept as is", true, false, ConfigUpdate{},
			current},
		{"new version: new defaults beneath", true, true, ConfigUpdate{},
			map[string]any{"threshold": int64(10), "window": int64(99), "limits": map[string]any{"max": int64(50), "min": int64(1)}, "custom": "x"}},
		{"reset paths, then merge", true, false, ConfigUpdate{Reset: []string{"window", "/limits/max", "custom", "nothing/here"}, Merge: map[string]any{"limits": map[string]any{"min": int64(2)}}},
			map[string]any{"threshold": int64(10), "window": int64(60), "limits": map[string]any{"max": int64(5), "min": int64(2)}}},
		{"reset everything", true, false, ConfigUpdate{Reset: []string{""}},
			defaults},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := resolveConfig(defaults, current, tc.installed, tc.versionChanged, tc.upd)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
	// Nothing shared with the inputs.
	got := resolveConfig(defaults, current, true, false, ConfigUpdate{Reset: []string{"limits"}})
	got["limits"].(map[string]any)["max"] = int64(0)
	if defaults["limits"].(map[string]any)["max"] != int64(5) {
		t.Error("resolveConfig shares maps with the defaults")
	}
}

func TestSameConfig(t *testing.T) {
	if !sameConfig(map[string]any{"n": int64(3)}, map[string]any{"n": uint64(3)}) {
		t.Error("int64 3 and uint64 3 differ")
	}
	if sameConfig(map[string]any{"n": int64(3)}, map[string]any{"n": 3.0}) {
		t.Error("3 and 3.0 are the same (a guest sees the difference)")
	}
	if !sameConfig(nil, map[string]any{}) {
		t.Error("nil and empty differ")
	}
}
