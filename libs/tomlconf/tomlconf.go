// Package tomlconf loads one TOML file into a struct that already holds its
// defaults, then lets environment variables override single keys, so a
// deployment can change a password or an address without editing the file.
//
// Keys are the fields' toml tags; a nested struct is a TOML table. A key the
// struct does not have is an error, not a silent typo. Every error names the
// file and key (and line, when the TOML library knows it), or the
// environment variable when the bad value came from there.
//
// # Environment overrides
//
// For every field reachable through toml tags, the variable
//
//	<envPrefix>_<KEY PATH joined with "_", upper-cased>
//
// replaces the value when it is set, even to "" (see [Env]). With the
// prefix "TASKRUNNER_COMMON", key "timezone" in table [app] is
// TASKRUNNER_COMMON_APP_TIMEZONE. Values are parsed by field type: string
// as is; bool by strconv.ParseBool; integers and floats in base 10;
// time.Duration by time.ParseDuration ("10s"); []string split on commas,
// each item trimmed ("" is an empty list); any encoding.TextUnmarshaler by
// its UnmarshalText. Fields of other types (maps, slices of structs, ...)
// can only be set in the file.
//
// # Durations
//
// A time.Duration field takes a string in the file ("10s", "5m"). A bare
// integer is refused, because the TOML library would read it as nanoseconds
// and `sync_interval = 10` would silently mean 10ns.
package tomlconf

import (
	"encoding"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// LoadSource decodes the TOML file at path into v (a pointer to a struct
// already holding defaults), then applies environment overrides named by
// envPrefix (see [Env]; an empty envPrefix disables them). Errors name the
// file and the key, or the variable.
//
// The Source says which keys the environment overrode, for validation
// errors after loading: see [Source.Errorf] and [Source.Wrap]. It is
// filled in even when err is not nil.
func LoadSource(path string, envPrefix string, v any) (Source, error) {
	src := Source{File: path, Prefix: envPrefix, Env: map[string]string{}}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return src, fmt.Errorf("tomlconf: load %s: want a non-nil pointer to a struct, got %T", path, v)
	}
	// Read once and decode the same bytes twice, so the two decodes cannot
	// see different versions of a file being edited.
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return src, fmt.Errorf("%s: %w", path, pe.Err) // pe.Error() would repeat the path.
		}
		return src, fmt.Errorf("%s: %w", path, err)
	}
	f := file{path: path, fields: fieldsOf(rv.Elem())}
	// The generic decode can only fail on syntax, and gives the raw values
	// that make type errors readable ("got "abc"" rather than "got string").
	f.raw = map[string]any{}
	md, err := toml.Decode(string(data), &f.raw)
	if err != nil {
		return src, f.syntaxError(err)
	}
	f.keys = make(map[string]toml.Key, len(md.Keys()))
	for _, k := range md.Keys() {
		f.keys[k.String()] = k
	}

	md, err = toml.Decode(string(data), v)
	if err != nil {
		return src, f.decodeError(err)
	}
	if err := unknownKeys(path, md.Undecoded()); err != nil {
		return src, err
	}
	if err := f.checkDurations(); err != nil {
		return src, err
	}
	if envPrefix == "" {
		return src, nil
	}
	var errs []error
	for _, fl := range f.fields {
		name := Env(envPrefix, fl.key)
		s, ok := os.LookupEnv(name)
		if !ok {
			continue
		}
		src.Env[fl.key] = name
		if msg := setString(fl.v, s); msg != "" {
			errs = append(errs, KeyError{File: path, Key: fl.key, Env: name, Msg: msg})
		}
	}
	return src, errors.Join(errs...)
}

// Env returns the variable that overrides key, a dotted key path as written
// in the file: Env("TASKRUNNER_MYSQL", "password") is
// "TASKRUNNER_MYSQL_PASSWORD" and Env("TASKRUNNER_COMMON", "app.timezone")
// is "TASKRUNNER_COMMON_APP_TIMEZONE". Characters other than ASCII letters
// and digits become "_".
func Env(envPrefix, key string) string {
	b := []byte(strings.ToUpper(key))
	for i, c := range b {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			b[i] = '_'
		}
	}
	if envPrefix == "" {
		return string(b)
	}
	return envPrefix + "_" + string(b)
}

// file is one LoadSource in progress.
type file struct {
	path   string
	fields []field             // Leaf fields of the target struct, in declaration order.
	raw    map[string]any      // The file decoded without a target.
	keys   map[string]toml.Key // Key.String() -> Key, to find raw values named in error texts.
}

// field is a leaf of the target struct: a value a single key sets.
type field struct {
	key string // Dotted path of toml names, e.g. "app.timezone".
	v   reflect.Value
}

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// fieldsOf lists the leaf fields of struct value rv the way the TOML library
// sees them: the toml tag (or the field name) is the key, "-" is skipped, a
// nested struct is a table, and an untagged embedded struct is flattened.
func fieldsOf(rv reflect.Value) []field {
	var out []field
	var walk func(rv reflect.Value, path []string)
	walk = func(rv reflect.Value, path []string) {
		t := rv.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("toml"), ",")
			if name == "-" || (!sf.IsExported() && !sf.Anonymous) {
				continue
			}
			fv := rv.Field(i)
			switch {
			case isLeaf(sf.Type):
				if !sf.IsExported() {
					continue
				}
				if name == "" {
					name = sf.Name
				}
				out = append(out, field{key: strings.Join(append(slices.Clip(path), name), "."), v: fv})
			case sf.Type.Kind() == reflect.Struct:
				if sf.Anonymous && name == "" {
					walk(fv, path)
					continue
				}
				if !sf.IsExported() {
					continue
				}
				if name == "" {
					name = sf.Name
				}
				walk(fv, append(slices.Clip(path), name))
			}
		}
	}
	walk(rv, nil)
	return out
}

// isLeaf reports whether an environment variable can set a field of type t.
func isLeaf(t reflect.Type) bool {
	if t == durationType || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return false
}

// setString parses s into v by v's type and returns what is wrong, or "".
func setString(v reflect.Value, s string) string {
	t := v.Type()
	if t == durationType {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Sprintf("want a duration like \"10s\", got %q", s)
		}
		v.SetInt(int64(d))
		return ""
	}
	if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		if err := u.UnmarshalText([]byte(s)); err != nil {
			return fmt.Sprintf("bad value %q: %v", s, err)
		}
		return ""
	}
	switch t.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Sprintf("want true or false, got %q", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, t.Bits())
		if errors.Is(err, strconv.ErrRange) {
			return fmt.Sprintf("%q is out of range for %s", s, t.Kind())
		} else if err != nil {
			return fmt.Sprintf("want an integer, got %q", s)
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, t.Bits())
		if errors.Is(err, strconv.ErrRange) {
			return fmt.Sprintf("%q is out of range for %s", s, t.Kind())
		} else if err != nil {
			return fmt.Sprintf("want a non-negative integer, got %q", s)
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(strings.TrimSpace(s), t.Bits())
		if err != nil {
			return fmt.Sprintf("want a number, got %q", s)
		}
		v.SetFloat(n)
	case reflect.Slice: // Of strings: isLeaf admits no other.
		items := strings.Split(s, ",")
		if strings.TrimSpace(s) == "" {
			items = nil
		}
		sl := reflect.MakeSlice(t, len(items), len(items))
		for i, item := range items {
			sl.Index(i).SetString(strings.TrimSpace(item))
		}
		v.Set(sl)
	default:
		return fmt.Sprintf("cannot be set from the environment (type %s)", t)
	}
	return ""
}

// unknownKeys reports every key the struct has no field for, on one line.
// A key under an unknown table is left out: the table says it all.
func unknownKeys(path string, undecoded []toml.Key) error {
	if len(undecoded) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(undecoded))
	for _, k := range undecoded {
		seen[k.String()] = true
	}
	var names []string
outer:
	for _, k := range undecoded {
		for i := 1; i < len(k); i++ {
			if seen[k[:i].String()] {
				continue outer
			}
		}
		names = append(names, strconv.Quote(k.String()))
	}
	slices.Sort(names)
	msg := "unknown key "
	if len(names) > 1 {
		msg = "unknown keys "
	}
	return KeyError{File: path, Msg: msg + strings.Join(names, ", ")}
}

// checkDurations refuses integers for duration fields (see the package doc).
func (f *file) checkDurations() error {
	for _, fl := range f.fields {
		if fl.v.Type() != durationType {
			continue
		}
		if n, ok := f.rawValue(strings.Split(fl.key, ".")).(int64); ok {
			return KeyError{File: f.path, Key: fl.key,
				Msg: fmt.Sprintf("want a duration string like \"10s\", got %d (a bare integer would be nanoseconds)", n)}
		}
	}
	return nil
}

// rawValue finds the value at key in the generic decode, matching names
// without regard to case as the TOML library does; nil if absent.
func (f *file) rawValue(key []string) any {
	var cur any = f.raw
	for _, name := range key {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		v, ok := m[name]
		if !ok {
			for k, kv := range m {
				if strings.EqualFold(k, name) {
					v, ok = kv, true
					break
				}
			}
		}
		if !ok {
			return nil
		}
		cur = v
	}
	return cur
}

func (f *file) syntaxError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return KeyError{File: f.path, Line: pe.Position.Line, Msg: pe.Message}
	}
	return fmt.Errorf("%s: %w", f.path, err)
}

var (
	// The TOML library reports type errors only as text:
	// toml: line 3 (last key "port"): incompatible types: TOML value has type string; destination has type integer
	lastKeyRE      = regexp.MustCompile(`(?s)^toml: (?:line (\d+) )?\(last key ("(?:[^"\\]|\\.)*")\): (.*)$`)
	incompatibleRE = regexp.MustCompile(`^incompatible types: TOML value has type (.+); destination has type (.+)$`)
	notTableRE     = regexp.MustCompile(`^type mismatch for .+: expected table but found (.+)$`)
)

// decodeError turns the TOML library's error for decoding into the target
// struct into a KeyError that says what the key wants and what it got.
func (f *file) decodeError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) { // Value errors: bad duration, out of range.
		ke := KeyError{File: f.path, Key: pe.LastKey, Line: pe.Position.Line, Msg: pe.Message}
		if f.isDuration(pe.LastKey) {
			ke.Msg = "want a duration like \"10s\", got " + f.describe(pe.LastKey, "")
		}
		return ke
	}
	m := lastKeyRE.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("%s: %w", f.path, err)
	}
	ke := KeyError{File: f.path, Msg: m[3]}
	ke.Line, _ = strconv.Atoi(m[1])
	ke.Key, _ = strconv.Unquote(m[2])
	if mm := incompatibleRE.FindStringSubmatch(m[3]); mm != nil {
		want := wants[mm[2]]
		if want.one == "" {
			want.one, want.many = "a "+mm[2], mm[2]+"s"
		}
		if f.isDuration(ke.Key) {
			want.one = "a duration like \"10s\""
		}
		k, known := f.keys[ke.Key]
		if _, isArray := f.rawValue(k).([]any); known && isArray && !strings.HasPrefix(mm[1], "[]") {
			// An element of an array is wrong: the library names the array.
			ke.Msg = fmt.Sprintf("want an array of %s, got %s", want.many, f.describe(ke.Key, mm[1]))
		} else {
			ke.Msg = fmt.Sprintf("want %s, got %s", want.one, f.describe(ke.Key, mm[1]))
		}
	} else if mm := notTableRE.FindStringSubmatch(m[3]); mm != nil {
		ke.Msg = "want a table, got " + f.describe(ke.Key, mm[1])
	}
	return ke
}

// wants words the TOML library's destination type names.
var wants = map[string]struct{ one, many string }{
	"integer":                 {"an integer", "integers"},
	"float":                   {"a number", "numbers"},
	"string":                  {"a string", "strings"},
	"primitive (string-like)": {"a string", "strings"},
	"boolean":                 {"a boolean (true or false)", "booleans"},
	"slice":                   {"an array", "arrays"},
	"map":                     {"a table", "tables"},
}

func (f *file) isDuration(key string) bool {
	for _, fl := range f.fields {
		if fl.key == key {
			return fl.v.Type() == durationType
		}
	}
	return false
}

// describe shows the value at key as it was written, or failing that the
// type the TOML library named.
func (f *file) describe(key, typ string) string {
	k, ok := f.keys[key]
	if !ok {
		return typ
	}
	v := f.rawValue(k)
	if v == nil {
		return typ
	}
	return tomlValue(v)
}

// tomlValue renders a decoded TOML value in TOML syntax.
func tomlValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = tomlValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	case time.Time:
		return v.Format(time.RFC3339Nano)
	default:
		return fmt.Sprint(v)
	}
}
