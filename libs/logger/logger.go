// Package logger builds the daemon's *slog.Logger from logger.toml: text
// for people reading a terminal, JSON for machines collecting logs, to
// stderr or to one file.
//
// The logger is returned, never stored: main passes it to whatever needs it.
package logger

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"taskrunner/libs/tomlconf"
)

// Config is logger.toml.
type Config struct {
	// Level is the least severe record written: debug, info, warn or error.
	// Defaults to info.
	Level string `toml:"level"`
	// Format is text (key=value lines, for people) or json (one object a
	// line, for log collectors). Defaults to text.
	Format string `toml:"format"`
	// File, when set, receives the log instead of stderr (not both: the
	// original framework wrote to a file only). It is appended to, and its
	// parent directory is created if missing. Rotation is left to the
	// system (logrotate with copytruncate). Defaults to "" (stderr).
	File string `toml:"file"`
}

var (
	levels  = []string{"debug", "info", "warn", "error"}
	formats = []string{"text", "json"}
)

// DefaultConfig returns the values a logger.toml key takes when absent.
func DefaultConfig() Config {
	return Config{Level: "info", Format: "text"}
}

// Validate reports every bad key, with its allowed values, as a
// tomlconf.KeyError without a file: pin it with tomlconf.Source.Wrap.
func (c Config) Validate() error {
	var errs []error
	if !slices.Contains(levels, c.Level) {
		errs = append(errs, tomlconf.KeyError{Key: "level", Msg: oneOf(levels, c.Level)})
	}
	if !slices.Contains(formats, c.Format) {
		errs = append(errs, tomlconf.KeyError{Key: "format", Msg: oneOf(formats, c.Format)})
	}
	return errors.Join(errs...)
}

func oneOf(allowed []string, got string) string {
	return fmt.Sprintf("want one of %s, got %q", strings.Join(allowed, ", "), got)
}

// New returns a logger writing as c says, and a Closer for its file (a no-op
// when writing to stderr). Close it last, after the final log record.
func New(c Config) (*slog.Logger, io.Closer, error) {
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	if c.File == "" {
		return newLogger(os.Stderr, c), nopCloser{}, nil
	}
	if err := os.MkdirAll(filepath.Dir(c.File), 0o755); err != nil {
		return nil, nil, fmt.Errorf("create log directory: %w", err)
	}
	f, err := os.OpenFile(c.File, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("open log file: %w", err)
	}
	return newLogger(f, c), f, nil
}

// newLogger assumes c is valid.
func newLogger(w io.Writer, c Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level(c.Level), ReplaceAttr: durationString}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// durationString writes a duration as people and Go write it ("10s",
// "1.5ms"), not as the JSON handler's integer of nanoseconds.
func durationString(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// level reads a level Validate accepted: debug, info, warn or error.
func level(s string) slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(s))
	return l
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
