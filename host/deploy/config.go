package deploy

import (
	"github.com/moss-edge/moss/host/conftree"
)

// resolveConfig computes a component's configuration after a deployment,
// as Greengrass does:
//
//  1. start from what the component runs with now (current; its manifest's
//     defaults when it is new). When its version changes, the new
//     version's defaults are merged beneath, so keys the new version adds
//     get their default and everything set before is kept;
//  2. reset each path of upd.Reset to the (new) manifest's default, or
//     remove it when the default has no such key ("" resets everything);
//  3. merge upd.Merge over the result.
//
// The result shares nothing with the inputs.
func resolveConfig(defaults, current map[string]any, installed, versionChanged bool, upd ConfigUpdate) map[string]any {
	var cfg map[string]any
	switch {
	case !installed:
		cfg = conftree.Merge(nil, defaults)
	case versionChanged:
		cfg = conftree.Merge(defaults, current)
	default:
		cfg = conftree.Merge(nil, current)
	}
	for _, r := range upd.Reset {
		keys, ok := splitPath(r)
		if !ok {
			continue // ParseDocument refuses these
		}
		if len(keys) == 0 {
			cfg = conftree.Merge(nil, defaults)
			continue
		}
		if v, ok := lookup(defaults, keys); ok {
			setPath(cfg, keys, v)
		} else {
			deletePath(cfg, keys)
		}
	}
	return conftree.Merge(cfg, upd.Merge)
}

func lookup(m map[string]any, keys []string) (any, bool) {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = mm[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// setPath sets a deep copy of v at keys in m (which the caller owns),
// replacing anything in the way that is not a table.
func setPath(m map[string]any, keys []string, v any) {
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	last := keys[len(keys)-1]
	if vm, ok := v.(map[string]any); ok {
		m[last] = conftree.Merge(nil, vm)
		return
	}
	// Merge deep-copies values: wrap v to copy it.
	m[last] = conftree.Merge(nil, map[string]any{last: v})[last]
}

func deletePath(m map[string]any, keys []string) {
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			return
		}
		m = next
	}
	delete(m, keys[len(keys)-1])
}
