package config

// MergeConfig returns base with override merged over it, for a component's
// configuration: where both hold a table (map) at the same key the two are
// merged key by key, recursively; any other value in override replaces the
// one in base; a nil value in override deletes the key (TOML has no null,
// but configuration updates from components do). The result shares nothing
// with the inputs, which are not modified, so it can be handed to a
// component and changed later without touching the manifest's defaults.
func MergeConfig(base, override map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(override))
	for k, v := range base {
		out[k] = deepCopy(v)
	}
	for k, v := range override {
		if v == nil {
			delete(out, k)
			continue
		}
		if om, ok := v.(map[string]any); ok {
			// Merging into nothing still drops the nils inside om.
			bm, _ := out[k].(map[string]any)
			out[k] = MergeConfig(bm, om)
			continue
		}
		out[k] = deepCopy(v)
	}
	return out
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = deepCopy(e)
		}
		return s
	case []map[string]any:
		s := make([]map[string]any, len(v))
		for i, e := range v {
			s[i] = deepCopy(e).(map[string]any)
		}
		return s
	}
	return v // scalars (string, int64, float64, bool, time.Time) are values
}
