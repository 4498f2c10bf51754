// Package trigger turns a task's (trigger, spec) pair into a Schedule: the
// exact sequence of fire times, computed from a given instant and never from
// the wall clock, so every replica derives the same fire times.
//
// Kinds:
//   - cron: 5 fields (minute first) or 6 (seconds first), @hourly/@daily/
//     @weekly/@monthly/@yearly, and "@every <duration>" (an interval).
//     L as the whole day-of-month field is the last day of the month:
//     "0 23 L * *" is 23:00 on Jan 31, Feb 28 (29 in a leap year), Mar 31, ….
//     The weekday field must then be *; L anywhere else (1,L, L-2, LW, 5L)
//     is refused. Weekday 7 is Sunday, as 0 is. When both the day of month
//     and the weekday are restricted, a day matching either fires; a field
//     starting with * (*/2) counts as unrestricted, as in crontab(5), so
//     "0 0 */2 * 1" is the odd days that are Mondays.
//   - interval: whole seconds ("5") or a Go duration ("90s", "1h30m"), up
//     to 100 years. Whole days fire at local 00:00, every n-th day counted
//     from 1970-01-01; whole hours every n hours from 1970-01-01 00:00 at
//     the zone's offset of 2000-01-01 (on the hour in Asia/Kolkata); any
//     other interval at multiples of it since the Unix epoch.
//   - date: "YYYY-MM-DD HH:MM:SS", or a comma separated list of them, in the
//     task's time zone.
//   - text: a phrase in Chinese or English, translated by a TextFunc into one
//     of the kinds above.
package trigger

import (
	"fmt"
	"strings"
	"time"
)

// Kinds of trigger, as stored in task.trigger.
const (
	KindCron     = "cron"
	KindInterval = "interval"
	KindDate     = "date"
	KindText     = "text"
)

// Schedule is a parsed trigger.
type Schedule interface {
	// Next returns the first fire time strictly after t, or the zero time
	// when the schedule has no more fire times.
	Next(t time.Time) time.Time
	// Kind is the trigger kind the engine schedules (never KindText).
	Kind() string
	// Spec is the canonical spec: parsing Kind and Spec again gives the same schedule.
	Spec() string
}

// Options are the context a spec is parsed in.
type Options struct {
	// Location is the time zone of cron, date and text specs. Defaults to UTC.
	Location *time.Location
	// Anchor is the instant interval fire times are counted from. Left
	// zero, they are counted from a fixed date in Location (see the
	// package documentation), so that every replica agrees on them.
	Anchor time.Time
	// Ref is the instant relative phrases ("in 10 minutes", "明天") are
	// measured from. Use a stored time (the row's update time), not the
	// clock, so that re-parsing gives the same schedule.
	Ref time.Time
}

// TextFunc translates a plain-words phrase into a kind and a spec of
// another kind. It is set by the package that implements the phrases.
type TextFunc func(phrase string, loc *time.Location, ref time.Time) (kind, spec string, err error)

var textFunc TextFunc

// SetTextFunc installs the translator for KindText. Call it once at start.
func SetTextFunc(f TextFunc) { textFunc = f }

// Parse parses spec as a trigger of the given kind.
func Parse(kind, spec string, opt Options) (Schedule, error) {
	if opt.Location == nil {
		opt.Location = time.UTC
	}
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fmt.Errorf("%w: empty %s spec", ErrBadSpec, kind)
	}
	switch strings.ToLower(strings.TrimSpace(kind)) {
	case KindCron:
		return parseCron(spec, opt)
	case KindInterval:
		return parseInterval(spec, opt)
	case KindDate:
		return parseDate(spec, opt)
	case KindText:
		if textFunc == nil {
			return nil, fmt.Errorf("%w %q: no phrase parser installed", ErrUnknownTrigger, kind)
		}
		k, s, err := textFunc(spec, opt.Location, opt.Ref)
		if err != nil {
			return nil, err
		}
		if k == KindText {
			return nil, fmt.Errorf("%w: phrase parser returned a text spec", ErrBadSpec)
		}
		return Parse(k, s, opt)
	default:
		return nil, fmt.Errorf("%w %q: want cron, interval, date or text", ErrUnknownTrigger, kind)
	}
}

// NextN returns up to n fire times after t.
func NextN(s Schedule, t time.Time, n int) []time.Time {
	var out []time.Time
	for len(out) < n {
		t = s.Next(t)
		if t.IsZero() {
			break
		}
		out = append(out, t)
	}
	return out
}
