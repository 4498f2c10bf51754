package trigger

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-co-op/gocron/v2"
)

// cronSchedule evaluates a cron expression with gocron's parser.
//
// Daylight saving time rule, for a zone that has it:
//   - an expression whose hour field is "*" follows real time: it fires at
//     each matching instant, so "*/15 * * * *" fires four times in each of the
//     two 01:00 hours of a fall-back night and never in the skipped hour;
//   - any other expression follows the wall clock: it is evaluated on the
//     calendar, then a wall time that does not exist (spring-forward gap)
//     fires once at the first instant after the gap, and a wall time that
//     occurs twice (fall-back overlap) fires once, at its first occurrence.
//
// So a daily task runs exactly once on both transition days.
//
// The parser has no "L" (the last day of the month), so an expression whose
// day-of-month field is L is evaluated with 28-31 there and Next keeps only
// the candidates on a month's last wall-clock day; Spec keeps the L.
type cronSchedule struct {
	spec     string
	loc      *time.Location
	realTime gocron.Cron // evaluated in loc, for hour "*" expressions
	wall     gocron.Cron // evaluated in UTC on wall-clock fields
	hourly   bool
	lastDay  bool // the day-of-month field is L
}

func parseCron(spec string, opt Options) (Schedule, error) {
	fields := strings.Fields(spec)
	spec = strings.Join(fields, " ")
	if rest, ok := strings.CutPrefix(spec, "@every"); ok {
		s, err := parseInterval(strings.TrimSpace(rest), opt)
		if err != nil {
			return nil, fmt.Errorf("%w: cron %q: @every wants a duration such as \"@every 90s\"", ErrBadSpec, spec)
		}
		return s, nil
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, fmt.Errorf("%w: cron %q: set the task's time zone instead of a TZ= prefix", ErrBadSpec, spec)
	}
	if !strings.HasPrefix(spec, "@") && len(fields) != 5 && len(fields) != 6 {
		return nil, fmt.Errorf("%w: cron %q has %d fields: want 5 (minute hour day month weekday) or 6 (second first)", ErrBadSpec, spec, len(fields))
	}
	eval, lastDay, err := lastDayField(spec, fields)
	if err != nil {
		return nil, err
	}
	// A fixed reference keeps validation independent of the clock; an
	// expression that never fires (30 2 30 2 *) fails here all the same.
	ref := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	wall := gocron.NewDefaultCron(true)
	if err := wall.IsValid(eval, time.UTC, ref); err != nil {
		if errors.Is(err, gocron.ErrCronJobInvalid) {
			return nil, fmt.Errorf("%w: cron %q", ErrNoFireTime, spec)
		}
		return nil, fmt.Errorf("%w: cron %q: %s", ErrBadSpec, spec, cronReason(err))
	}
	s := &cronSchedule{spec: spec, loc: opt.Location, wall: wall, lastDay: lastDay}
	s.hourly = hourField(fields) == "*" || spec == "@hourly"
	if s.hourly {
		s.realTime = gocron.NewDefaultCron(true)
		if err := s.realTime.IsValid(eval, opt.Location, ref); err != nil {
			return nil, fmt.Errorf("%w: cron %q: %s", ErrBadSpec, spec, cronReason(err))
		}
	}
	return s, nil
}

// fieldNames name the fields of a 6-field expression; a 5-field one has no second.
var fieldNames = []string{"second", "minute", "hour", "day-of-month", "month", "weekday"}

// lastDayField reads an L day-of-month field, which the parser does not
// know. It returns the expression to give the parser, with 28-31 for the
// L, and whether Next must keep only the last day of each month. L
// anywhere else, or mixed into the field (1,L, L-2, LW), is refused rather
// than passed on to a parser that would quote it as a bad number.
func lastDayField(spec string, fields []string) (eval string, lastDay bool, err error) {
	if strings.HasPrefix(spec, "@") || len(fields) != 5 && len(fields) != 6 {
		return spec, false, nil // a descriptor, or a count the caller refuses
	}
	names := fieldNames[6-len(fields):]
	dom, dow := len(fields)-3, len(fields)-1
	for i, f := range fields {
		if i != dom && hasL(f) {
			return "", false, fmt.Errorf("%w: cron %q: L (the last day of the month) is only supported as the whole day-of-month field, not in the %s field %q", ErrBadSpec, spec, names[i], f)
		}
	}
	switch {
	case fields[dom] == "L":
	case hasL(fields[dom]):
		return "", false, fmt.Errorf("%w: cron %q: L (the last day of the month) must be the whole day-of-month field, as in \"0 23 L * *\", not part of %q", ErrBadSpec, spec, fields[dom])
	default:
		return spec, false, nil
	}
	if fields[dow] != "*" && fields[dow] != "?" {
		// cron fires when either a restricted day of month or a restricted
		// weekday matches, which with L nobody means.
		return "", false, fmt.Errorf("%w: cron %q: with L as the day of month the weekday field must be *, not %q", ErrBadSpec, spec, fields[dow])
	}
	eval = strings.Join(slices.Concat(fields[:dom], []string{"28-31"}, fields[dom+1:]), " ")
	return eval, true, nil
}

// hasL reports whether a field uses L; "jul" is the only name with an l.
func hasL(field string) bool {
	return strings.Contains(strings.ReplaceAll(strings.ToLower(field), "jul", ""), "l")
}

// cronReason keeps the parser's own words and drops gocron's generic prefix.
func cronReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "\n"); i >= 0 {
		msg = msg[i+1:]
	}
	return msg
}

// hourField returns the hour field of a 5 or 6 field expression, or "" for a descriptor.
func hourField(fields []string) string {
	switch len(fields) {
	case 5:
		return fields[1]
	case 6:
		return fields[2]
	}
	return ""
}

// maxCandidates bounds the candidates Next looks at. A month skips at most
// three days for L and a daylight-saving change a few more, so this is
// hundreds of months; the parser itself gives up after five years.
const maxCandidates = 1000

func (s *cronSchedule) Next(t time.Time) time.Time {
	if s.hourly {
		return s.nextRealTime(t)
	}
	tw := wallOf(t, s.loc)
	for range maxCandidates {
		w := s.wall.Next(tw)
		if w.IsZero() {
			return w
		}
		if s.lastDay && !isLastDay(w) {
			tw = nextDay(w).Add(-time.Nanosecond) // the parser reads on from the next 00:00
			continue
		}
		if x := wallToInstant(w, s.loc); x.After(t) {
			return x.UTC()
		}
		// The first occurrence of w is not after t: t is in the second
		// pass of a fall-back hour, or a gap folded w onto an earlier fire.
		tw = w
	}
	return time.Time{}
}

// nextRealTime is Next for an hour "*" expression, which follows real time.
func (s *cronSchedule) nextRealTime(t time.Time) time.Time {
	for range maxCandidates {
		n := s.realTime.Next(t.In(s.loc))
		if n.IsZero() {
			return n
		}
		w := wallOf(n, s.loc)
		if !s.lastDay || isLastDay(w) {
			return n.UTC()
		}
		// Read on from the first instant of the next day, which is the end
		// of the gap where a daylight-saving change skips midnight.
		t = wallToInstant(nextDay(w), s.loc).Add(-time.Nanosecond)
	}
	return time.Time{}
}

// isLastDay reports whether wall-clock fields (labelled UTC) fall on the
// last day of their month.
func isLastDay(w time.Time) bool { return nextDay(w).Day() == 1 }

// nextDay is 00:00 of the day after w, on the wall clock (labelled UTC).
func nextDay(w time.Time) time.Time {
	return time.Date(w.Year(), w.Month(), w.Day()+1, 0, 0, 0, 0, time.UTC)
}

func (s *cronSchedule) Kind() string { return KindCron }
func (s *cronSchedule) Spec() string { return s.spec }

// wallOf returns the wall-clock fields of t in loc, labelled UTC.
func wallOf(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

func sameWall(a, b time.Time) bool {
	return a.Year() == b.Year() && a.YearDay() == b.YearDay() &&
		a.Hour() == b.Hour() && a.Minute() == b.Minute() && a.Second() == b.Second()
}

// wallToInstant maps wall-clock fields (labelled UTC) to the instant they
// name in loc: the first occurrence of a wall time that occurs twice, and the
// end of the gap for one that does not occur.
func wallToInstant(w time.Time, loc *time.Location) time.Time {
	i := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc)
	if !sameWall(i, w) {
		start, end := i.ZoneBounds()
		if wallOf(i, loc).After(w) {
			return start // i was pushed past the gap: the gap ends where i's zone starts
		}
		return end
	}
	// An earlier instant with the same wall time exists only if the zone
	// before i's had a larger offset (a fall-back just before i).
	start, _ := i.ZoneBounds()
	if start.IsZero() {
		return i
	}
	_, before := start.Add(-time.Nanosecond).Zone()
	_, now := i.Zone()
	if before > now {
		if e := i.Add(-time.Duration(before-now) * time.Second); sameWall(e.In(loc), w) {
			return e
		}
	}
	return i
}
