package deploy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/moss-edge/moss/host/manifest"
)

// DependencyError lists why a set of components cannot run together: a
// missing hard dependency, a version outside a required range, a cycle.
// Each problem names the components involved.
type DependencyError struct {
	Problems []string
}

func (e *DependencyError) Error() string {
	return "dependencies: " + strings.Join(e.Problems, "; ")
}

// order sorts the names of a component set so that every component comes
// after those it depends on (hard or soft, when in the set); names absent
// from mans (a manifest that could not be read) keep their place at the end.
// Ties go by name, so the order is the same on every run.
//
// With strict, a missing hard dependency, a version outside the required
// range or a cycle is a *DependencyError; without, they are ignored (a
// cycle is broken where it is found), which is what ordering the set a
// device already runs needs: it is stopped or restored, not judged.
//
// This is host/daemon's dependencyOrder (deps.go) over names rather than a
// list, with every problem reported rather than the first cycle only.
func order(mans map[string]*manifest.Manifest, strict bool) ([]string, error) {
	names := make([]string, 0, len(mans))
	for n := range mans {
		names = append(names, n)
	}
	slices.Sort(names)

	var problems []string
	if strict {
		for _, n := range names {
			m := mans[n]
			for _, dep := range sortedKeys(m.Dependencies) {
				spec := m.Dependencies[dep]
				target, ok := mans[dep]
				if !ok {
					if spec.Type != manifest.Soft {
						problems = append(problems, fmt.Sprintf("%s %s needs %s %s, which would not be running", n, m.Version, dep, rangeText(spec.Version)))
					}
					continue
				}
				if spec.Version == "" {
					continue
				}
				c, err := semver.NewConstraint(spec.Version)
				if err != nil {
					problems = append(problems, fmt.Sprintf("%s %s: dependency %s: bad version range %q: %v", n, m.Version, dep, spec.Version, err))
					continue
				}
				if v, err := semver.NewVersion(target.Version); err != nil || !c.Check(v) {
					problems = append(problems, fmt.Sprintf("%s %s needs %s %s, but %s %s would be running", n, m.Version, dep, spec.Version, dep, target.Version))
				}
			}
		}
	}

	const (
		unvisited = iota
		visiting
		done
	)
	mark := make(map[string]int, len(names))
	out := make([]string, 0, len(names))
	cycles := map[string]bool{}
	var visit func(n string, path []string)
	visit = func(n string, path []string) {
		switch mark[n] {
		case done:
			return
		case visiting:
			i := slices.Index(path, n)
			cycle := strings.Join(append(slices.Clone(path[i:]), n), " -> ")
			if !cycles[cycle] {
				cycles[cycle] = true
				problems = append(problems, "cycle "+cycle)
			}
			return
		}
		mark[n] = visiting
		path = append(path, n)
		for _, d := range sortedKeys(mans[n].Dependencies) {
			if _, ok := mans[d]; ok {
				visit(d, path)
			}
		}
		mark[n] = done
		out = append(out, n)
	}
	for _, n := range names {
		visit(n, nil)
	}
	if strict && len(problems) > 0 {
		return nil, &DependencyError{Problems: problems}
	}
	return out, nil
}

func rangeText(r string) string {
	if r == "" {
		return "(any version)"
	}
	return r
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
