package tomlx

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
)

// decode stores val (a value from the TOML parser) into rv, recording every
// problem instead of stopping.
func (d *Doc) decode(p Path, val any, rv reflect.Value) {
	if rv.CanAddr() {
		switch u := rv.Addr().Interface().(type) {
		case toml.Unmarshaler:
			if err := u.UnmarshalTOML(val); err != nil {
				d.fail(p, "%s: %v", p, err)
			}
			return
		case encoding.TextUnmarshaler:
			s, ok := val.(string)
			if !ok {
				d.fail(p, "%s: expected string, got %s", p, tomlType(val))
				return
			}
			if err := u.UnmarshalText([]byte(s)); err != nil {
				d.fail(p, "%s: %v", p, err)
			}
			return
		}
	}

	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			rv.Set(reflect.New(rv.Type().Elem()))
		}
		d.decode(p, val, rv.Elem())
	case reflect.Struct:
		d.decodeStruct(p, val, rv)
	case reflect.Map:
		d.decodeMap(p, val, rv)
	case reflect.Slice:
		d.decodeSlice(p, val, rv)
	case reflect.Interface:
		if rv.NumMethod() != 0 {
			d.fail(p, "%s: cannot decode into %s", p, rv.Type())
			return
		}
		rv.Set(reflect.ValueOf(Normalize(val)))
	case reflect.String:
		s, ok := val.(string)
		if !ok {
			d.typeErr(p, "string", val)
			return
		}
		rv.SetString(s)
	case reflect.Bool:
		b, ok := val.(bool)
		if !ok {
			d.typeErr(p, "boolean", val)
			return
		}
		rv.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := val.(int64)
		if !ok {
			d.typeErr(p, "integer", val)
			return
		}
		if rv.OverflowInt(n) {
			d.fail(p, "%s: %d is out of range for this setting", p, n)
			return
		}
		rv.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := val.(int64)
		if !ok {
			d.typeErr(p, "integer", val)
			return
		}
		if n < 0 || rv.OverflowUint(uint64(n)) {
			d.fail(p, "%s: %d is out of range for this setting", p, n)
			return
		}
		rv.SetUint(uint64(n))
	case reflect.Float32, reflect.Float64:
		switch n := val.(type) {
		case float64:
			if rv.OverflowFloat(n) {
				d.fail(p, "%s: %v is out of range for this setting", p, n)
				return
			}
			rv.SetFloat(n)
		case int64:
			rv.SetFloat(float64(n))
		default:
			d.typeErr(p, "float", val)
		}
	default:
		d.fail(p, "%s: cannot decode into %s", p, rv.Type())
	}
}

func (d *Doc) typeErr(p Path, want string, val any) {
	d.fail(p, "%s: expected %s, got %s", p, want, tomlType(val))
}

func (d *Doc) decodeStruct(p Path, val any, rv reflect.Value) {
	m, ok := val.(map[string]any)
	if !ok {
		d.typeErr(p, "table", val)
		return
	}
	fields := structFields(rv.Type())
	for _, k := range d.sortedKeys(p, m) {
		kp := p.Key(k)
		i, ok := fields[k]
		if !ok {
			if t := p.table(); t != "" {
				d.fail(kp, "unknown key %q in %s", k, t)
			} else {
				d.fail(kp, "unknown key %q", k)
			}
			continue
		}
		d.decode(kp, m[k], rv.Field(i))
	}
}

func (d *Doc) decodeMap(p Path, val any, rv reflect.Value) {
	if rv.Type().Key().Kind() != reflect.String {
		d.fail(p, "%s: cannot decode into %s", p, rv.Type())
		return
	}
	m, ok := val.(map[string]any)
	if !ok {
		d.typeErr(p, "table", val)
		return
	}
	if rv.IsNil() {
		rv.Set(reflect.MakeMapWithSize(rv.Type(), len(m)))
	}
	elem := rv.Type().Elem()
	for _, k := range d.sortedKeys(p, m) {
		ev := reflect.New(elem).Elem()
		// Decode over the existing entry, so that defaults set before
		// decoding survive for keys the file leaves out.
		if old := rv.MapIndex(reflect.ValueOf(k).Convert(rv.Type().Key())); old.IsValid() {
			ev.Set(old)
		}
		d.decode(p.Key(k), m[k], ev)
		rv.SetMapIndex(reflect.ValueOf(k).Convert(rv.Type().Key()), ev)
	}
}

func (d *Doc) decodeSlice(p Path, val any, rv reflect.Value) {
	var items []any
	switch v := val.(type) {
	case []any:
		items = v
	case []map[string]any:
		for _, m := range v {
			items = append(items, m)
		}
	default:
		d.typeErr(p, "array", val)
		return
	}
	out := reflect.MakeSlice(rv.Type(), len(items), len(items))
	for i, item := range items {
		d.decode(p.Key(i), item, out.Index(i))
	}
	rv.Set(out)
}

// sortedKeys orders a table's keys as they appear in the file, so that
// problems come out in reading order; keys without a known line go last, by
// name, which keeps the output stable.
func (d *Doc) sortedKeys(p Path, m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	line := func(k string) int {
		if l, ok := d.lines[p.Key(k).String()]; ok {
			return l
		}
		return math.MaxInt
	}
	slices.SortFunc(keys, func(a, b string) int {
		if la, lb := line(a), line(b); la != lb {
			return la - lb
		}
		return strings.Compare(a, b)
	})
	return keys
}

var fieldCache sync.Map // reflect.Type -> map[string]int

// structFields maps each `toml` tag of t to its field index. Fields without a
// tag, or tagged "-", are not decoded: every key a file may hold is spelled
// out in a tag.
func structFields(t reflect.Type) map[string]int {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]int)
	}
	fields := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		fields[name] = i
	}
	fieldCache.Store(t, fields)
	return fields
}

// tomlType names the TOML type of a parsed value, for messages.
func tomlType(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("string %q", truncate(v))
	case int64:
		return fmt.Sprintf("integer %d", v)
	case float64:
		f := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(f, ".eEnN") { // keep 1.0 from reading as an integer
			f += ".0"
		}
		return "float " + f
	case bool:
		return fmt.Sprintf("boolean %v", v)
	case time.Time:
		return "datetime"
	case map[string]any:
		return "table"
	case []map[string]any, []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

func truncate(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// Normalize returns a deep copy of a parsed TOML value in which every array is
// an []any (the parser gives arrays of tables as []map[string]any).
func Normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = Normalize(e)
		}
		return m
	case []map[string]any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = Normalize(e)
		}
		return s
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = Normalize(e)
		}
		return s
	}
	return v
}
