package daemon

import (
	"strings"
	"testing"

	"github.com/moss-edge/moss/host/manifest"
)

func man(name, version string, deps map[string]manifest.Dependency) *manifest.Manifest {
	return &manifest.Manifest{Name: name, Version: version, Dependencies: deps}
}

func names(ms []*manifest.Manifest) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Name)
	}
	return strings.Join(s, ",")
}

func TestDependencyOrder(t *testing.T) {
	hard := func(v string) manifest.Dependency { return manifest.Dependency{Version: v, Type: "hard"} }
	cases := []struct {
		name    string
		in      []*manifest.Manifest
		want    string
		wantErr string
	}{
		{"independent keep config order", []*manifest.Manifest{man("b", "1.0.0", nil), man("a", "1.0.0", nil)}, "b,a", ""},
		{"dependency first", []*manifest.Manifest{
			man("app", "1.0.0", map[string]manifest.Dependency{"db": hard(">=1.0.0"), "log": {Type: "soft"}}),
			man("db", "1.2.0", map[string]manifest.Dependency{"log": hard("")}),
			man("log", "0.1.0", nil)}, "log,db,app", ""},
		{"missing soft dependency is fine", []*manifest.Manifest{man("a", "1.0.0", map[string]manifest.Dependency{"x": {Type: "soft"}})}, "a", ""},
		{"missing hard", []*manifest.Manifest{man("a", "1.0.0", map[string]manifest.Dependency{"x": hard("")})}, "", "a depends on x, which is not configured"},
		{"version out of range", []*manifest.Manifest{
			man("a", "1.0.0", map[string]manifest.Dependency{"b": hard("^2.0.0")}), man("b", "1.5.0", nil)}, "", "a needs b ^2.0.0, but 1.5.0 is configured"},
		{"cycle", []*manifest.Manifest{
			man("a", "1.0.0", map[string]manifest.Dependency{"b": hard("")}),
			man("b", "1.0.0", map[string]manifest.Dependency{"c": hard("")}),
			man("c", "1.0.0", map[string]manifest.Dependency{"a": hard("")})}, "", "cycle a -> b -> c -> a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := dependencyOrder(c.in)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || names(got) != c.want {
				t.Fatalf("order %s, %v; want %s", names(got), err, c.want)
			}
		})
	}
}
