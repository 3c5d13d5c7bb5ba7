package conftree

import (
	"reflect"
	"testing"
)

func TestUpdateMergeReplaceDelete(t *testing.T) {
	tr := New(map[string]any{"a": map[string]any{"x": int64(1), "y": "keep"}, "b": "s"})
	before, _ := tr.Get(nil)
	cases := []struct {
		path  []string
		value any
		want  map[string]any
	}{
		{[]string{"a"}, map[string]any{"x": int64(2), "z": true}, map[string]any{"a": map[string]any{"x": int64(2), "y": "keep", "z": true}, "b": "s"}},
		{[]string{"a", "y"}, nil, map[string]any{"a": map[string]any{"x": int64(2), "z": true}, "b": "s"}},
		{[]string{"b"}, []any{int64(1)}, map[string]any{"a": map[string]any{"x": int64(2), "z": true}, "b": []any{int64(1)}}},
		{[]string{"n", "m", "o"}, "deep", map[string]any{"a": map[string]any{"x": int64(2), "z": true}, "b": []any{int64(1)}, "n": map[string]any{"m": map[string]any{"o": "deep"}}}},
		{nil, map[string]any{"n": nil, "b": "s2"}, map[string]any{"a": map[string]any{"x": int64(2), "z": true}, "b": "s2"}},
	}
	for i, c := range cases {
		if err := tr.Update(c.path, c.value); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		got, _ := tr.Get(nil)
		if !reflect.DeepEqual(got, c.want) {
			t.Fatalf("%d: got %v, want %v", i, got, c.want)
		}
	}
	// Copy-on-write: what Get returned earlier is unchanged.
	if !reflect.DeepEqual(before, map[string]any{"a": map[string]any{"x": int64(1), "y": "keep"}, "b": "s"}) {
		t.Fatalf("earlier snapshot changed: %v", before)
	}
}

func TestUpdateErrors(t *testing.T) {
	tr := New(map[string]any{"s": "x"})
	if err := tr.Update([]string{"s", "t"}, int64(1)); err == nil {
		t.Fatal("update below a string must fail")
	}
	if err := tr.Update(nil, "x"); err == nil {
		t.Fatal("root replaced by a non-map")
	}
	if _, ok := tr.Get([]string{"s", "t"}); ok {
		t.Fatal("Get below a string")
	}
}

func TestWatch(t *testing.T) {
	tr := New(nil)
	var got [][]string
	cancel := tr.Watch([]string{"a", "b"}, func(p []string) { got = append(got, p) })
	tr.Update([]string{"a", "b", "c"}, int64(1))            // below: notified
	tr.Update([]string{"a"}, map[string]any{"q": int64(1)}) // above: notified
	tr.Update([]string{"x"}, int64(1))                      // elsewhere: not
	cancel()
	tr.Update([]string{"a", "b"}, int64(2)) // cancelled
	want := [][]string{{"a", "b", "c"}, {"a"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("watch saw %v, want %v", got, want)
	}
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name           string
		base, override map[string]any
		want           map[string]any
	}{
		{"both nil", nil, nil, map[string]any{}},
		{"base only", map[string]any{"a": int64(1)}, nil, map[string]any{"a": int64(1)}},
		{"override only", nil, map[string]any{"a": int64(1)}, map[string]any{"a": int64(1)}},
		{"replace scalar", map[string]any{"a": int64(1), "b": "x"}, map[string]any{"a": "one"}, map[string]any{"a": "one", "b": "x"}},
		{"deep merge",
			map[string]any{"t": map[string]any{"x": int64(1), "y": map[string]any{"p": true, "q": false}}},
			map[string]any{"t": map[string]any{"y": map[string]any{"q": true}, "z": 2.5}},
			map[string]any{"t": map[string]any{"x": int64(1), "y": map[string]any{"p": true, "q": true}, "z": 2.5}}},
		{"map replaces scalar", map[string]any{"t": "flat"}, map[string]any{"t": map[string]any{"x": int64(1)}}, map[string]any{"t": map[string]any{"x": int64(1)}}},
		{"scalar replaces map", map[string]any{"t": map[string]any{"x": int64(1)}}, map[string]any{"t": "flat"}, map[string]any{"t": "flat"}},
		{"arrays replace, not append", map[string]any{"l": []any{int64(1), int64(2)}}, map[string]any{"l": []any{int64(3)}}, map[string]any{"l": []any{int64(3)}}},
		{"nil deletes", map[string]any{"a": int64(1), "t": map[string]any{"x": int64(1), "y": int64(2)}},
			map[string]any{"a": nil, "t": map[string]any{"x": nil}, "gone": nil, "n": map[string]any{"k": nil, "v": int64(1)}},
			map[string]any{"t": map[string]any{"y": int64(2)}, "n": map[string]any{"v": int64(1)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Merge(tt.base, tt.override); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Merge = %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestMergeSharesNothing(t *testing.T) {
	base := map[string]any{"t": map[string]any{"x": int64(1)}, "l": []any{map[string]any{"a": int64(1)}}}
	override := map[string]any{"o": map[string]any{"y": int64(2)}, "t": map[string]any{"z": int64(3)}}
	out := Merge(base, override)

	out["t"].(map[string]any)["x"] = "changed"
	out["l"].([]any)[0].(map[string]any)["a"] = "changed"
	out["o"].(map[string]any)["y"] = "changed"

	wantBase := map[string]any{"t": map[string]any{"x": int64(1)}, "l": []any{map[string]any{"a": int64(1)}}}
	wantOverride := map[string]any{"o": map[string]any{"y": int64(2)}, "t": map[string]any{"z": int64(3)}}
	if !reflect.DeepEqual(base, wantBase) || !reflect.DeepEqual(override, wantOverride) {
		t.Errorf("inputs changed: base %v, override %v", base, override)
	}
}

// The manifest's [config] and a [components.config] from a file merge as
// the host will merge them.
