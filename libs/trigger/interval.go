package trigger

import (
	"fmt"
	"strconv"
	"time"
)

// maxInterval is the longest interval: 100 years of 365 days.
const maxInterval = 100 * 365 * 24 * time.Hour

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
// or a Go duration ("90s", "1h30m"), from one second to 100 years.
func parseDuration(spec string) (time.Duration, error) {
	var d time.Duration
	if n, err := strconv.ParseInt(spec, 10, 64); err == nil {
		if n > int64(maxInterval/time.Second) {
			return 0, fmt.Errorf("%w: interval %q is too long: at most 100 years", ErrBadSpec, spec)
		}
		d = time.Duration(n) * time.Second
	} else if d, err = time.ParseDuration(spec); err != nil {
		return 0, fmt.Errorf("%w: interval %q: want whole seconds (\"5\") or a duration (\"90s\", \"1h30m\")", ErrBadSpec, spec)
	}
	switch {
	case d < time.Second:
		return 0, fmt.Errorf("%w: interval %q: must be at least 1s", ErrBadSpec, spec)
	case d > maxInterval:
		return 0, fmt.Errorf("%w: interval %q is too long: at most 100 years", ErrBadSpec, spec)
	case d%time.Second != 0:
		return 0, fmt.Errorf("%w: interval %q: must be whole seconds", ErrBadSpec, spec)
	}
	return d, nil
}

// Next counts in whole seconds, which cannot overflow where a
// time.Duration of k*every (at most 292 years) would.
func (s intervalSchedule) Next(t time.Time) time.Time {
	if t.Before(s.anchor) {
		return s.anchor
	}
	every := int64(s.every / time.Second)
	secs := t.Unix() - s.anchor.Unix()
	if t.Nanosecond() < s.anchor.Nanosecond() {
		secs-- // t is secs and a fraction past the anchor
	}
	k := secs/every + 1
	return time.Unix(s.anchor.Unix()+k*every, int64(s.anchor.Nanosecond())).UTC()
}

func (s intervalSchedule) Kind() string { return KindInterval }
func (s intervalSchedule) Spec() string { return s.every.String() }
