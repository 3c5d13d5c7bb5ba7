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
