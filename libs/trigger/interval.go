package trigger

import (
	"fmt"
	"strconv"
	"time"
)

// maxInterval is the longest interval: 100 years of 365 days.
const maxInterval = 100 * 365 * 24 * time.Hour

// intervalSchedule fires every period. Where its fire times fall:
//   - an explicit Options.Anchor: at anchor + k*every, in real time;
//   - whole days: at 00:00 on the task's calendar, every days-th day
//     counted from 1970-01-01 (a midnight skipped by a daylight-saving
//     change fires at the end of the gap), so "every 2 days" keeps its
//     local time all year;
//   - whole hours: every so many hours of real time from 1970-01-01 00:00
//     at the offset the zone had on 2000-01-01, so "every hour" is on the
//     hour in Asia/Kolkata and Asia/Kathmandu;
//   - anything else: multiples of the interval since the Unix epoch.
//
// Each depends only on the spec and the zone, so every replica agrees; in
// UTC the three rules give the Unix epoch's fire times.
type intervalSchedule struct {
	every  time.Duration
	anchor time.Time      // real-time rules: fire times are anchor + k*every
	days   *time.Location // the calendar of a whole-day interval, else nil
}

func parseInterval(spec string, opt Options) (Schedule, error) {
	d, err := parseDuration(spec)
	if err != nil {
		return nil, err
	}
	s := intervalSchedule{every: d, anchor: opt.Anchor.UTC()}
	switch {
	case !opt.Anchor.IsZero():
	case d%(24*time.Hour) == 0:
		s.days = opt.Location
	case d%time.Hour == 0:
		_, off := time.Date(2000, 1, 1, 0, 0, 0, 0, opt.Location).Zone()
		s.anchor = time.Unix(-int64(off), 0).UTC()
	default:
		s.anchor = time.Unix(0, 0).UTC()
	}
	return s, nil
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
	if s.days != nil {
		return s.nextDay(t)
	}
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

// nextDay is Next for a whole-day interval: the first local midnight of a
// counted day after t.
func (s intervalSchedule) nextDay(t time.Time) time.Time {
	n := int64(s.every / (24 * time.Hour))
	w := wallOf(t, s.days)
	day := time.Date(w.Year(), w.Month(), w.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400
	k := day - (day%n+n)%n // the counted day on or before t's
	for range 3 {
		x := wallToInstant(time.Unix(k*86400, 0).UTC(), s.days)
		if x.After(t) {
			return x.UTC()
		}
		k += n
	}
	return time.Time{}
}

func (s intervalSchedule) Kind() string { return KindInterval }
func (s intervalSchedule) Spec() string { return s.every.String() }
