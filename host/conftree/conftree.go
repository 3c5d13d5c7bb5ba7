// Package conftree holds a component's configuration: a tree of maps (as
// decoded from TOML or CBOR) that components read, update and watch.
//
// Updates are copy-on-write along the changed path: a value handed out by Get
// is never modified afterwards, so readers need no copy and no lock once they
// have it. A Tree is safe for concurrent use.
package conftree

import (
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Tree is one component's configuration.
type Tree struct {
	mu       sync.Mutex
	root     map[string]any
	watchers map[uint64]watcher
	next     uint64
}

type watcher struct {
	path []string
	fn   func(changed []string)
}

// New returns a tree holding a deep copy of initial.
func New(initial map[string]any) *Tree {
	root, _ := deepCopy(initial).(map[string]any)
	if root == nil {
		root = map[string]any{}
	}
	return &Tree{root: root, watchers: make(map[uint64]watcher)}
}

// Get returns the value at path (the whole tree for an empty path). The
// value must not be modified.
func (t *Tree) Get(path []string) (any, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var v any = t.root
	for _, k := range path {
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

// Update changes the value at path: when the current value and value are
// both maps they are merged key by key (recursively), a nil value deletes a
// key, and anything else replaces the value, creating missing parent maps.
// Watchers whose path overlaps path are called after the update, outside the
// lock, with path.
func (t *Tree) Update(path []string, value any) error {
	t.mu.Lock()
	if len(path) == 0 {
		m, ok := value.(map[string]any)
		if !ok {
			t.mu.Unlock()
			return fmt.Errorf("the configuration root must be a map, not %T", value)
		}
		t.root = Merge(t.root, m)
	} else {
		root, err := setAt(t.root, path, value)
		if err != nil {
			t.mu.Unlock()
			return err
		}
		t.root = root
	}
	var fns []func([]string)
	for _, w := range t.watchers {
		if overlaps(w.path, path) {
			fns = append(fns, w.fn)
		}
	}
	t.mu.Unlock()
	changed := slices.Clone(path)
	for _, fn := range fns {
		fn(changed)
	}
	return nil
}

// Watch calls fn after every update at, above or below path. The returned
// function removes the watch.
func (t *Tree) Watch(path []string, fn func(changed []string)) (cancel func()) {
	t.mu.Lock()
	t.next++
	id := t.next
	t.watchers[id] = watcher{path: slices.Clone(path), fn: fn}
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		delete(t.watchers, id)
		t.mu.Unlock()
	}
}

func overlaps(a, b []string) bool {
	n := min(len(a), len(b))
	return slices.Equal(a[:n], b[:n])
}

// setAt returns a copy of m with value applied at path; maps along the path
// are copied, the rest is shared.
func setAt(m map[string]any, path []string, value any) (map[string]any, error) {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]any{}
	}
	k := path[0]
	if len(path) == 1 {
		old, _ := out[k].(map[string]any)
		nv, isMap := value.(map[string]any)
		switch {
		case value == nil:
			delete(out, k)
		case isMap:
			out[k] = Merge(old, nv)
		default:
			out[k] = deepCopy(value)
		}
		return out, nil
	}
	child, exists := out[k]
	cm, isMap := child.(map[string]any)
	if exists && !isMap && child != nil {
		return nil, fmt.Errorf("cannot update below %q: it holds a %T, not a map", k, child)
	}
	nc, err := setAt(cm, path[1:], value)
	if err != nil {
		return nil, fmt.Errorf("%s/%w", k, err)
	}
	out[k] = nc
	return out, nil
}

// Merge returns base with over merged into it: where both hold a map at the
// same key the two are merged key by key, recursively; any other value in
// over replaces the one in base; a nil value in over deletes the key (also
// inside a map merged into nothing). The result shares nothing with the
// inputs, which are not modified. The host uses it for a component's
// configuration (manifest defaults, then the host configuration's
// overrides) and for config_update.
func Merge(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = deepCopy(v)
	}
	for k, v := range over {
		if v == nil {
			delete(out, k)
			continue
		}
		if om, ok := v.(map[string]any); ok {
			bm, _ := out[k].(map[string]any)
			out[k] = Merge(bm, om)
			continue
		}
		out[k] = deepCopy(v)
	}
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	case []map[string]any: // TOML arrays of tables
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	case []byte:
		return slices.Clone(x)
	default:
		return v
	}
}

// Replace sets the whole tree to a deep copy of root (a deployment's
// resolved configuration) and tells every watcher, with an empty path.
func (t *Tree) Replace(root map[string]any) {
	r, _ := deepCopy(root).(map[string]any)
	if r == nil {
		r = map[string]any{}
	}
	t.mu.Lock()
	t.root = r
	fns := make([]func([]string), 0, len(t.watchers))
	for _, w := range t.watchers {
		fns = append(fns, w.fn)
	}
	t.mu.Unlock()
	for _, fn := range fns {
		fn([]string{})
	}
}
