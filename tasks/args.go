package tasks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Args are a task's decoded args column. The column takes the original
// framework's form, JSON values separated by commas ('1,2,3',
// '"guess","hello"'), or a whole JSON array or object.
type Args struct {
	raw json.RawMessage // a JSON array or object
}

// ParseArgs decodes the args column.
func ParseArgs(s string) (Args, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Args{raw: json.RawMessage("[]")}, nil
	}
	text := s
	if s[0] != '[' && s[0] != '{' {
		text = "[" + s + "]"
	}
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return Args{}, fmt.Errorf("%w %q: %v; write values as JSON separated by commas (1,2,\"text\") or a JSON array or object", ErrBadArgs, s, jsonReason(err))
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(text)); err != nil {
		return Args{}, fmt.Errorf("%w %q: %v", ErrBadArgs, s, err)
	}
	return Args{raw: buf.Bytes()}, nil
}

func jsonReason(err error) string {
	var syn *json.SyntaxError
	if e, ok := err.(*json.SyntaxError); ok {
		syn = e
		return fmt.Sprintf("%s (at byte %d)", syn.Error(), syn.Offset)
	}
	return err.Error()
}

// Raw returns the args as a JSON array or object.
func (a Args) Raw() json.RawMessage {
	if a.raw == nil {
		return json.RawMessage("[]")
	}
	return a.raw
}

// IsObject reports whether the args are a JSON object (named arguments).
func (a Args) IsObject() bool { return len(a.raw) > 0 && a.raw[0] == '{' }

// Values returns positional args decoded as plain Go values (numbers as
// json.Number), or nil for an object.
func (a Args) Values() []any {
	if a.IsObject() {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(a.Raw()))
	dec.UseNumber()
	var vs []any
	_ = dec.Decode(&vs) // ParseArgs already checked the JSON
	return vs
}

func (a Args) String() string { return string(a.Raw()) }

// Decode decodes the args into v. An object decodes into a struct (unknown
// keys are an error) or a map; an array into a slice, an array, or a
// struct whose exported fields take the values in order.
func (a Args) Decode(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("%w: Decode needs a non-nil pointer, got %T", ErrBadArgs, v)
	}
	if !a.IsObject() && rv.Elem().Kind() == reflect.Struct {
		return a.decodePositional(rv.Elem())
	}
	dec := json.NewDecoder(bytes.NewReader(a.Raw()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w %s into %T: %v", ErrBadArgs, a.Raw(), v, err)
	}
	return nil
}

func (a Args) decodePositional(s reflect.Value) error {
	if len(a.raw) == 0 || string(a.raw) == "[]" { // none: the fields keep their zero values
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(a.Raw(), &items); err != nil {
		return fmt.Errorf("%w %s: %v", ErrBadArgs, a.Raw(), err)
	}
	var fields []int
	for i := 0; i < s.NumField(); i++ {
		if s.Type().Field(i).IsExported() {
			fields = append(fields, i)
		}
	}
	if len(items) > len(fields) {
		return fmt.Errorf("%w %s: %d values, but %s takes %d", ErrBadArgs, a.Raw(), len(items), s.Type(), len(fields))
	}
	for i, item := range items {
		f := s.Type().Field(fields[i])
		if err := json.Unmarshal(item, s.Field(fields[i]).Addr().Interface()); err != nil {
			return fmt.Errorf("%w: value %d (%s) for %s.%s: %v", ErrBadArgs, i+1, item, s.Type(), f.Name, err)
		}
	}
	return nil
}

// MarshalJSON writes the args as their JSON array or object, so a job
// carrying them can cross a process boundary.
func (a Args) MarshalJSON() ([]byte, error) { return a.Raw(), nil }

// UnmarshalJSON reads what MarshalJSON wrote.
func (a *Args) UnmarshalJSON(b []byte) error {
	parsed, err := ParseArgs(string(b))
	if err != nil {
		return err
	}
	*a = parsed
	return nil
}

// Append returns the args with more appended, in the original
// framework's order: the row's own args first, then those given when the
// run was asked for (a manual run, a trigger through the API). Named
// args (an object) take no positional ones: more must then be an object
// too, whose keys override.
func (a Args) Append(more Args) (Args, error) {
	switch {
	case len(more.Raw()) <= 2: // [] or {}
		return a, nil
	case a.IsObject() != more.IsObject() && len(a.Raw()) > 2:
		return Args{}, fmt.Errorf("%w: cannot add %s to %s (positional and named args do not mix)", ErrBadArgs, more.Raw(), a.Raw())
	case more.IsObject():
		var base, add map[string]json.RawMessage
		if len(a.Raw()) > 2 {
			if err := json.Unmarshal(a.Raw(), &base); err != nil {
				return Args{}, err
			}
		}
		if err := json.Unmarshal(more.Raw(), &add); err != nil {
			return Args{}, err
		}
		if base == nil {
			base = map[string]json.RawMessage{}
		}
		for k, v := range add {
			base[k] = v
		}
		b, err := json.Marshal(base)
		return Args{raw: b}, err
	}
	head := bytes.TrimSuffix(a.Raw(), []byte("]"))
	tail := bytes.TrimPrefix(more.Raw(), []byte("["))
	sep := []byte(",")
	if len(head) == 1 {
		sep = nil
	}
	return Args{raw: slices.Concat(head, sep, tail)}, nil
}
