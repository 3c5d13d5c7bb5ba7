package deploy

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/moss-edge/moss/host/manifest"
)

func man(name, version string, deps ...string) *manifest.Manifest {
	m := &manifest.Manifest{Name: name, Version: version, Dependencies: map[string]manifest.Dependency{}}
	for _, d := range deps {
		n, rng, _ := strings.Cut(d, " ")
		typ := manifest.Hard
		if strings.HasPrefix(n, "~") {
			n, typ = n[1:], manifest.Soft
		}
		m.Dependencies[n] = manifest.Dependency{Version: rng, Type: typ}
	}
	return m
}

func set(ms ...*manifest.Manifest) map[string]*manifest.Manifest {
	out := map[string]*manifest.Manifest{}
	for _, m := range ms {
		out[m.Name] = m
	}
	return out
}

func TestOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  map[string]*manifest.Manifest
		want string // the order, or the error
	}{
		{"independent by name", set(man("c", "1.0.0"), man("a", "1.0.0"), man("b", "1.0.0")), "a b c"},
		{"dependencies first", set(man("app", "1.0.0", "db ^2", "~cache"), man("db", "2.1.0"), man("cache", "1.0.0", "db")), "db cache app"},
		{"soft dependency absent", set(man("app", "1.0.0", "~cache")), "app"},
		{"hard dependency absent", set(man("app", "1.0.0", "db ^2")), "dependencies: app 1.0.0 needs db ^2, which would not be running"},
		{"out of range", set(man("app", "1.0.0", "db ^2"), man("db", "3.0.0")), "dependencies: app 1.0.0 needs db ^2, but db 3.0.0 would be running"},
		{"cycle", set(man("a", "1.0.0", "b"), man("b", "1.0.0", "c"), man("c", "1.0.0", "a"), man("d", "1.0.0")), "dependencies: cycle a -> b -> c -> a"},
		{"every problem", set(man("a", "1.0.0", "b", "x >=1"), man("b", "1.0.0", "a")), "dependencies: a 1.0.0 needs x >=1, which would not be running; cycle a -> b -> a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := order(tc.set, true)
			if err != nil {
				var de *DependencyError
				if !errors.As(err, &de) {
					t.Errorf("error %T, want *DependencyError", err)
				}
				if err.Error() != tc.want {
					t.Errorf("order: %v\nwant %s", err, tc.want)
				}
				return
			}
			if s := strings.Join(got, " "); s != tc.want {
				t.Errorf("order = %s, want %s", s, tc.want)
			}
		})
	}
	// Not strict: a cycle is broken, problems ignored, everyone listed.
	got, err := order(set(man("a", "1.0.0", "b"), man("b", "1.0.0", "a", "x")), false)
	if err != nil || !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("lenient order = %q, %v", got, err)
	}
}
