package tomlconf

import (
	"errors"
	"fmt"
	"strings"
)

// KeyError is a bad value in a config file, or in the environment variable
// that overrode it. It is a value type: build one with a composite literal,
// match one with
//
//	var ke tomlconf.KeyError
//	errors.As(err, &ke)
//
// A lib's validate() may return a KeyError with only Key and Msg set; the
// loader then pins it to the file or variable with [Source.Wrap].
type KeyError struct {
	File string // The TOML file, as given to LoadSource. Empty until pinned by Source.Wrap.
	Key  string // Dotted key path, e.g. "app.timezone". Empty for a whole-file error.
	Line int    // 1-based line in File, 0 when unknown.
	Env  string // The variable the value came from; empty when it came from File.
	Msg  string // What is wrong, e.g. `unknown time zone "Mars/Base"`.
}

// Error names the variable when the value came from the environment, since
// that is where the fix goes; otherwise the file, line and key:
//
//	TASKRUNNER_MYSQL_PORT: want an integer, got "abc"
//	conf/local/mysql.toml:3: key "port": want an integer, got "abc"
//	conf/local/common.toml: key "app.timezone": unknown time zone "Mars/Base"
func (e KeyError) Error() string {
	if e.Env != "" {
		return e.Env + ": " + e.Msg
	}
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		fmt.Fprintf(&b, "key %q: ", e.Key)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Source says where the values of one loaded file came from, so that a
// validation error found after LoadSource can point at the right place.
type Source struct {
	File   string            // The TOML file, as given to LoadSource.
	Prefix string            // The envPrefix given to LoadSource.
	Env    map[string]string // Dotted key path -> variable that overrode it; only keys that were overridden.
}

// Errorf returns a KeyError for key (dotted, e.g. "app.timezone"; empty for
// the file as a whole) that names the overriding variable if there was one,
// else the file.
func (s Source) Errorf(key, format string, args ...any) error {
	return s.pin(KeyError{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Wrap pins err to this source: a KeyError without a File gets File (or Env,
// if its key was overridden); each error of an errors.Join is pinned in turn;
// any other error is prefixed with the file name. Wrap(nil) is nil.
func (s Source) Wrap(err error) error {
	if err == nil {
		return nil
	}
	var ke KeyError
	switch e := err.(type) {
	case KeyError:
		return s.pin(e)
	case *KeyError:
		return s.pin(*e)
	case interface{ Unwrap() []error }:
		errs := e.Unwrap()
		pinned := make([]error, len(errs))
		for i, e := range errs {
			pinned[i] = s.Wrap(e)
		}
		return errors.Join(pinned...)
	}
	if errors.As(err, &ke) && ke.File != "" {
		return err // Already pinned below some wrapping: leave it as it is.
	}
	return fmt.Errorf("%s: %w", s.File, err)
}

func (s Source) pin(e KeyError) KeyError {
	if e.File != "" {
		return e
	}
	e.File = s.File
	if env, ok := s.Env[e.Key]; ok && e.Env == "" {
		e.Env = env
	}
	return e
}
