package daemon

import (
	"fmt"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/moss-edge/moss/host/manifest"
)

// dependencyOrder sorts manifests so that every component comes after the
// components it depends on (hard or soft, when present). A missing hard
// dependency, a version outside the required range, or a cycle is an error
// naming the components involved.
func dependencyOrder(mans []*manifest.Manifest) ([]*manifest.Manifest, error) {
	byName := make(map[string]*manifest.Manifest, len(mans))
	for _, m := range mans {
		byName[m.Name] = m
	}
	var problems []string
	for _, m := range mans {
		for dep, spec := range m.Dependencies {
			target, ok := byName[dep]
			if !ok {
				if spec.Type != "soft" {
					problems = append(problems, fmt.Sprintf("%s depends on %s, which is not configured", m.Name, dep))
				}
				continue
			}
			if spec.Version == "" {
				continue
			}
			c, err := semver.NewConstraint(spec.Version)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: dependency %s: bad version range %q: %v", m.Name, dep, spec.Version, err))
				continue
			}
			v, err := semver.NewVersion(target.Version)
			if err != nil || !c.Check(v) {
				problems = append(problems, fmt.Sprintf("%s needs %s %s, but %s is configured", m.Name, dep, spec.Version, target.Version))
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("dependencies: %s", strings.Join(problems, "; "))
	}
	const (
		unvisited = iota
		visiting
		done
	)
	mark := make(map[string]int, len(mans))
	out := make([]*manifest.Manifest, 0, len(mans))
	var visit func(m *manifest.Manifest, path []string) error
	visit = func(m *manifest.Manifest, path []string) error {
		switch mark[m.Name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("dependencies: cycle %s -> %s", strings.Join(path, " -> "), m.Name)
		}
		mark[m.Name] = visiting
		deps := make([]string, 0, len(m.Dependencies))
		for d := range m.Dependencies {
			deps = append(deps, d)
		}
		sort.Strings(deps) // deterministic start order
		for _, d := range deps {
			if t, ok := byName[d]; ok {
				if err := visit(t, append(path, m.Name)); err != nil {
					return err
				}
			}
		}
		mark[m.Name] = done
		out = append(out, m)
		return nil
	}
	for _, m := range mans { // configuration order among independent components
		if err := visit(m, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}
