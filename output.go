package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Exit statuses, as the root's --help and README list them.
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // unknown verb or flag, missing or extra argument, a flag value that cannot be read
	exitBad   = 3 // validate found rows the engine would not schedule
)

// exitErr is an error with its exit status.
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string { return e.err.Error() }
func (e *exitErr) Unwrap() error { return e.err }

// usagef is a bad command line: exit status 2.
func usagef(format string, args ...any) error {
	return &exitErr{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// ranErr marks an error returned by a verb once its command line was
// read: anything else cobra returns (an unknown verb or flag, a missing
// argument or required flag) is bad usage.
type ranErr struct{ err error }

func (e ranErr) Error() string { return e.err.Error() }
func (e ranErr) Unwrap() error { return e.err }

// exitCode is the exit status for what run returned.
func exitCode(err error) int {
	var ee *exitErr
	var ran ranErr
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ran):
		return exitError
	}
	return exitUsage
}

// timeLayout is how times are shown to people: in the task's zone, with
// its offset.
const timeLayout = "2006-01-02 15:04:05 -0700"

// showTime formats t in loc; a missing time is "-".
func showTime(t *time.Time, loc *time.Location) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.In(loc).Format(timeLayout)
}

// table writes aligned columns for people.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

// row writes one line; an empty cell is "-", and tabs or line breaks in
// a value become spaces so a row stays one line.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		c = strings.Join(strings.Fields(c), " ")
		if c == "" {
			c = "-"
		}
		cells[i] = c
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// writeJSON writes v as indented JSON, for scripts.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// clip cuts s to n characters, marking the cut.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// firstLine is the first line of s.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
