package limits

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Size is a number of bytes. In TOML it is an integer (bytes) or text with a
// unit: "512B", "64KiB", "32MiB", "1GiB" (powers of 1024) or "10kB", "10MB",
// "1GB" (powers of 1000). "KB" is refused as ambiguous. Only whole numbers are
// accepted ("1536KiB", not "1.5MiB"), so a size always means an exact count.
type Size int64

// Units, for writing sizes in Go.
const (
	B   Size = 1
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
	TiB Size = 1 << 40
	KB  Size = 1000 // SI kilobyte, written "kB" in text
	MB  Size = 1000 * KB
	GB  Size = 1000 * MB
	TB  Size = 1000 * GB
)

var units = []struct {
	name string
	size Size
}{
	// String picks the first unit that divides the size exactly, so the
	// binary units come first: they are what memory limits are written in.
	{"TiB", TiB}, {"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB},
	{"TB", TB}, {"GB", GB}, {"MB", MB}, {"kB", KB},
	{"B", B},
}

// ParseSize parses the text form of a Size (see Size). A bare number is bytes.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		if strings.HasPrefix(t, "-") {
			return 0, fmt.Errorf("invalid size %q: must not be negative", s)
		}
		return 0, fmt.Errorf("invalid size %q: want a whole number with a unit, such as \"64KiB\" or \"32MiB\"", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: number too large", s)
	}
	unit := strings.TrimSpace(t[i:])
	if unit == "" {
		return Size(n), nil
	}
	for _, u := range units {
		if unit == u.name {
			if n > math.MaxInt64/int64(u.size) {
				return 0, fmt.Errorf("invalid size %q: too large", s)
			}
			return Size(n) * u.size, nil
		}
	}
	switch {
	case unit == "KB":
		return 0, fmt.Errorf("invalid size %q: \"KB\" is ambiguous, write \"kB\" (1000 bytes) or \"KiB\" (1024 bytes)", s)
	case strings.HasPrefix(unit, "."):
		return 0, fmt.Errorf("invalid size %q: only whole numbers are allowed, use a smaller unit", s)
	}
	return 0, fmt.Errorf("invalid size %q: unknown unit %q (want B, KiB, MiB, GiB, TiB, kB, MB, GB or TB)", s, unit)
}

// String gives the shortest exact text form, e.g. "32MiB", "10kB", "1000B".
func (s Size) String() string {
	if s == 0 {
		return "0B"
	}
	if s < 0 {
		return strconv.FormatInt(int64(s), 10) + "B"
	}
	for _, u := range units {
		if s%u.size == 0 {
			return strconv.FormatInt(int64(s/u.size), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B" // unreachable: B divides everything
}

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Size) UnmarshalText(text []byte) error {
	v, err := ParseSize(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// UnmarshalTOML implements toml.Unmarshaler: BurntSushi/toml hands a TOML
// integer to UnmarshalText as decimal text, which would work, but a float
// would arrive as "1.500000" and give a confusing message; taking the raw
// value lets both integers and strings through and name the real problem.
func (s *Size) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			return fmt.Errorf("invalid size %d: must not be negative", v)
		}
		*s = Size(v)
		return nil
	case string:
		return s.UnmarshalText([]byte(v))
	case float64:
		return fmt.Errorf("invalid size %v: want a whole number of bytes or text such as \"64KiB\"", v)
	}
	return errors.New("invalid size: want an integer number of bytes or text such as \"64KiB\"")
}
