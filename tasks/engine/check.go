package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"taskrunner/models"
	"taskrunner/tasks"
)

// FieldError is what is wrong with one column of a task row.
type FieldError struct {
	Field   string `json:"field"`   // the column: task_key, execute_func, trigger, spec, args, extra
	Message string `json:"message"` // what is wrong, as sched_error would say it
}

func (f FieldError) Error() string { return "column " + f.Field + ": " + f.Message }

// CheckTask says what keeps a row from being scheduled, one error per
// column, by the same parsing the sync applies to it (parseOptions,
// ParseSchedule, ParseArgs, the registry's Check), whatever is_valid
// says. ref is what relative text phrases are measured from: the row's
// update_at, or now for a row not yet written. Two valid rows of one
// task_key are not checked here; child tasks (extra.then) that would make
// a loop with the scheduled rows are.
func (e *Engine) CheckTask(t models.Task, ref time.Time) []FieldError {
	errs := CheckTask(e.cfg, e.reg, t, ref)
	if opts, _, err := parseOptions(t.Extra, e.cfg.Location, e.cfg.Defaults); err == nil && len(opts.Then) > 0 {
		e.tab.mu.Lock()
		loop := e.syncer.thenLoop(t.Key, opts.Then)
		e.tab.mu.Unlock()
		if loop != "" {
			errs = append(errs, FieldError{"extra", "key \"then\": the child tasks make a loop: " + loop})
		}
	}
	return errs
}

// CheckTask is Engine.CheckTask for a configuration and registry.
func CheckTask(cfg Config, reg *tasks.Registry, t models.Task, ref time.Time) []FieldError {
	var errs []FieldError
	loc := cfg.Location
	if loc == nil {
		loc = time.UTC
	}
	if _, l, err := parseOptions(t.Extra, loc, cfg.Defaults); err != nil {
		errs = append(errs, FieldError{"extra", err.Error()})
	} else {
		loc = l
	}
	if s, err := ParseSchedule(t.Trigger, t.Spec, loc, ref); err != nil {
		errs = append(errs, columnError(err))
	} else if next := s.Next(ref); next.After(maxStorable) {
		errs = append(errs, FieldError{"spec", fmt.Sprintf("the next fire time, %s UTC, is past 9999-12-31 23:59:59 UTC, the latest the database stores",
			next.UTC().Format("2006-01-02 15:04:05"))})
	}
	args, err := tasks.ParseArgs(t.Args)
	if err != nil {
		errs = append(errs, FieldError{"args", err.Error()})
	}
	if _, err := reg.Check(t.Func, args); err != nil {
		switch {
		case errors.Is(err, tasks.ErrUnknownFunc):
			errs = append(errs, FieldError{"execute_func", err.Error()})
		case args.Raw() != nil && !hasField(errs, "args"):
			errs = append(errs, FieldError{"args", fmt.Sprintf("%v (as %s takes them)", err, t.Func)})
		}
	}
	return errs
}

// TaskLocation returns the zone of a row's spec: extra's timezone, else
// the configured one.
func (e *Engine) TaskLocation(extra string) (*time.Location, error) {
	_, loc, err := parseOptions(extra, e.cfg.Location, e.cfg.Defaults)
	if err != nil {
		return nil, FieldError{"extra", err.Error()}
	}
	return loc, nil
}

// Location returns the configured zone of specs without their own.
func (e *Engine) Location() *time.Location { return e.cfg.Location }

// Synced reports whether the first sync is done: the schedule is loaded.
func (e *Engine) Synced() bool {
	e.syncer.mu.Lock()
	defer e.syncer.mu.Unlock()
	return e.syncer.synced
}

// Functions returns the names of the registered functions, sorted.
func (e *Engine) Functions() []string { return e.reg.Names() }

// columnError splits ParseSchedule's "column spec: ..." into its parts.
func columnError(err error) FieldError {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "column "); ok {
		if col, m, ok := strings.Cut(rest, ": "); ok {
			return FieldError{col, m}
		}
	}
	return FieldError{"spec", msg}
}

func hasField(errs []FieldError, field string) bool {
	for _, e := range errs {
		if e.Field == field {
			return true
		}
	}
	return false
}
