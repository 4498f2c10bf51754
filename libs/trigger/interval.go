package trigger

import (
	"fmt"
	"strconv"
	"time"
)

type intervalSchedule struct {
	every  time.Duration
	anchor time.Time
}

func parseInterval(spec string, opt Options) (Schedule, error) {
	d, err := parseDuration(spec)
	if err != nil {
		return nil, err
	}
	anchor := opt.Anchor
	if anchor.IsZero() {
		anchor = time.Unix(0, 0)
	}
	return intervalSchedule{every: d, anchor: anchor.UTC()}, nil
}

// parseDuration accepts whole seconds ("5", as in the original framework)
// or a Go duration ("90s", "1h30m"), at least one second.
func parseDuration(spec string) (time.Duration, error) {
	var d time.Duration
	if n, err := strconv.ParseInt(spec, 10, 64); err == nil {
		if n > int64(100*365*24*time.Hour/time.Second) {
			return 0, fmt.Errorf("%w: interval %q is too long", ErrBadSpec, spec)
		}
		d = time.Duration(n) * time.Second
	} else if d, err = time.ParseDuration(spec); err != nil {
		return 0, fmt.Errorf("%w: interval %q: want whole seconds (\"5\") or a duration (\"90s\", \"1h30m\")", ErrBadSpec, spec)
	}
	if d < time.Second {
		return 0, fmt.Errorf("%w: interval %q: must be at least 1s", ErrBadSpec, spec)
	}
	if d%time.Second != 0 {
		return 0, fmt.Errorf("%w: interval %q: must be whole seconds", ErrBadSpec, spec)
	}
	return d, nil
}

func (s intervalSchedule) Next(t time.Time) time.Time {
	if t.Before(s.anchor) {
		return s.anchor
	}
	n := t.Sub(s.anchor)/s.every + 1
	return s.anchor.Add(n * s.every)
}

func (s intervalSchedule) Kind() string { return KindInterval }
func (s intervalSchedule) Spec() string { return s.every.String() }
