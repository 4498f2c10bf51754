package trigger

import (
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// cronSchedule evaluates a cron expression: robfig/cron parses it into bit
// sets of seconds, minutes, hours, days, months and weekdays, and Next
// searches them itself, without robfig's five-year limit and, for an
// expression that follows real time, one zone offset at a time.
//
// Daylight saving time rule, for a zone that has it:
//   - an expression whose hour field is "*" follows real time: it fires at
//     each instant whose wall time matches, so "*/15 * * * *" fires four
//     times in each of the two 01:00 hours of a fall-back night and never in
//     the skipped hour, and "0 * * * 0" fires from 01:00 on a Sunday whose
//     midnight is skipped;
//   - any other expression follows the wall clock: it is evaluated on the
//     calendar, then a wall time that does not exist (spring-forward gap)
//     fires once at the first instant after the gap, and a wall time that
//     occurs twice (fall-back overlap) fires once, at its first occurrence.
//
// So a daily task runs exactly once on both transition days.
//
// Day of month and weekday combine as in crontab(5): when both are
// restricted a day matching either fires; a field starting with * (such
// as */2) or ? counts as unrestricted, and then a day must match both.
// Weekday 7 is Sunday, as 0 is.
//
// L as the whole day-of-month field is the last day of the month; Spec
// keeps the L.
type cronSchedule struct {
	spec    string
	loc     *time.Location
	f       *cron.SpecSchedule
	hourly  bool // follows real time
	lastDay bool // the day-of-month field is L
	anyDom  bool // the day-of-month field starts with * or is ?
	anyDow  bool // the weekday field starts with * or is ?
}

// cronParser reads 5 fields, or 6 with seconds first, and the descriptors.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// starBit is the bit robfig sets in a field written * or ?.
const starBit = 1 << 63

func parseCron(spec string, opt Options) (Schedule, error) {
	fields := strings.Fields(spec)
	spec = strings.Join(fields, " ")
	if rest, ok := strings.CutPrefix(spec, "@every"); ok {
		s, err := parseInterval(strings.TrimSpace(rest), opt)
		if err != nil {
			return nil, fmt.Errorf("%w: cron %q: @every wants a duration such as \"@every 90s\": %w", ErrBadSpec, spec, err)
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
	sched, err := cronParser.Parse(eval)
	if err != nil {
		return nil, fmt.Errorf("%w: cron %q: %s", ErrBadSpec, spec, err)
	}
	f, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("%w: cron %q", ErrBadSpec, spec)
	}
	s := &cronSchedule{spec: spec, loc: opt.Location, f: f, lastDay: lastDay,
		anyDom: f.Dom&starBit != 0, anyDow: f.Dow&starBit != 0}
	if len(fields) >= 5 {
		s.anyDom = s.anyDom || strings.HasPrefix(fields[len(fields)-3], "*")
		s.anyDow = s.anyDow || strings.HasPrefix(fields[len(fields)-1], "*")
	}
	s.hourly = hourField(fields) == "*" || spec == "@hourly"
	// A fixed reference keeps validation independent of the clock; the
	// calendar repeats every 400 years, so an expression that matches no
	// day from it (30 2 30 2 *) never fires.
	if s.nextWall(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("%w: cron %q", ErrNoFireTime, spec)
	}
	return s, nil
}

// fieldNames name the fields of a 6-field expression; a 5-field one has no second.
var fieldNames = []string{"second", "minute", "hour", "day-of-month", "month", "weekday"}

// lastDayField reads an L day-of-month field, which the parser does not
// know. It returns the expression to give the parser, with 28-31 for the
// L (Next checks the last day itself) and weekday 7 written as 0, and
// whether the field is L. L anywhere else, or mixed into the field (1,L,
// L-2, LW), is refused rather than passed on to a parser that would quote
// it as a bad number.
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
		return weekdaySeven(fields), false, nil
	}
	if fields[dow] != "*" && fields[dow] != "?" {
		// cron fires when either a restricted day of month or a restricted
		// weekday matches, which with L nobody means.
		return "", false, fmt.Errorf("%w: cron %q: with L as the day of month the weekday field must be *, not %q", ErrBadSpec, spec, fields[dow])
	}
	eval = weekdaySeven(slices.Concat(fields[:dom], []string{"28-31"}, fields[dom+1:]))
	return eval, true, nil
}

// weekdaySeven joins the fields with 7 in the weekday field written as 0:
// crontab(5) reads 0 and 7 as Sunday, the parser knows 0 to 6. A range
// or step reaching 7 is spelt out (5-7 is 5,6,0; 1-7/2 is 1,3,5,0).
// Anything it cannot read is left for the parser to refuse.
func weekdaySeven(fields []string) string {
	dow := len(fields) - 1
	parts := strings.Split(fields[dow], ",")
	for i, p := range parts {
		r, stepText, hasStep := strings.Cut(p, "/")
		loText, hiText, isRange := strings.Cut(r, "-")
		if !isRange {
			hiText = loText
		}
		if loText != "7" && hiText != "7" {
			continue
		}
		lo, okLo := weekdayNumber(loText)
		hi, okHi := weekdayNumber(hiText)
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			okHi = okHi && err == nil && n > 0
			step = n
		}
		if !okLo || !okHi || lo > hi {
			continue
		}
		var days []string
		for d := lo; d <= hi; d += step {
			days = append(days, strconv.Itoa(d%7))
		}
		parts[i] = strings.Join(days, ",")
	}
	out := slices.Clone(fields)
	out[dow] = strings.Join(parts, ",")
	return strings.Join(out, " ")
}

// weekdayNumber reads 0 to 7 or a weekday's three-letter name.
func weekdayNumber(s string) (int, bool) {
	names := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	if i := slices.Index(names, strings.ToLower(s)); i >= 0 {
		return i, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0 && n <= 7
}

// hasL reports whether a field uses L; "jul" is the only name with an l.
func hasL(field string) bool {
	return strings.Contains(strings.ReplaceAll(strings.ToLower(field), "jul", ""), "l")
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

// maxCandidates bounds the candidates Next looks at: a wall time folded
// onto an earlier fire by a daylight-saving change, or a zone offset with
// no fire left in it, costs one each.
const maxCandidates = 1000

func (s *cronSchedule) Next(t time.Time) time.Time {
	if s.hourly {
		return s.nextRealTime(t)
	}
	tw := wallOf(t, s.loc)
	for range maxCandidates {
		w := s.nextWall(tw)
		if w.IsZero() {
			return w
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

// nextRealTime is Next for an hour "*" expression, which follows real
// time. Within one zone offset wall time runs with real time, so it
// searches the wall clock of the offset in force at t, and moves on to the
// next offset when the first match falls after that offset ends.
func (s *cronSchedule) nextRealTime(t time.Time) time.Time {
	at, tw := t, wallOf(t, s.loc)
	for range maxCandidates {
		l := at.In(s.loc)
		_, off := l.Zone()
		_, end := l.ZoneBounds()
		w := s.nextWall(tw)
		if w.IsZero() {
			return w
		}
		x := w.Add(-time.Duration(off) * time.Second)
		if end.IsZero() || x.Before(end) {
			return x.UTC()
		}
		if !end.After(at) {
			end = at.Add(time.Second) // never stand still on a zone's own bound
		}
		// Nothing matches before the offset changes: read on from the
		// change, on the new offset's wall clock.
		at, tw = end, wallOf(end, s.loc).Add(-time.Nanosecond)
	}
	return time.Time{}
}

// searchYears bounds nextWall: the Gregorian calendar repeats every 400
// years, so an expression with no match in 401 has none at all.
const searchYears = 401

// nextWall returns the first whole-second wall time (labelled UTC)
// strictly after after that matches the expression, or the zero time.
func (s *cronSchedule) nextWall(after time.Time) time.Time {
	t := after.Truncate(time.Second).Add(time.Second)
	y, m, d := t.Date()
	h, mi, sec := t.Clock()
	for limit := y + searchYears; y < limit; {
		if has(s.f.Month, int(m)) {
			for n := daysIn(y, m); d <= n; d, h, mi, sec = d+1, 0, 0, 0 {
				if !s.dayMatches(y, m, d) {
					continue
				}
				if hh, mm, ss, ok := s.timeOfDay(h, mi, sec); ok {
					return time.Date(y, m, d, hh, mm, ss, 0, time.UTC)
				}
			}
		}
		d, h, mi, sec = 1, 0, 0, 0
		if m++; m > time.December {
			y, m = y+1, time.January
		}
	}
	return time.Time{}
}

// dayMatches applies the day-of-month (or L) and weekday fields to a day.
func (s *cronSchedule) dayMatches(y int, m time.Month, d int) bool {
	dom := has(s.f.Dom, d)
	if s.lastDay {
		dom = d == daysIn(y, m)
	}
	dow := has(s.f.Dow, int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Weekday()))
	if s.anyDom || s.anyDow {
		return dom && dow
	}
	return dom || dow
}

// timeOfDay returns the first time of day at or after h:m:sec that matches.
func (s *cronSchedule) timeOfDay(h, m, sec int) (int, int, int, bool) {
	for ; h < 24; h, m, sec = h+1, 0, 0 {
		if !has(s.f.Hour, h) {
			continue
		}
		for ; m < 60; m, sec = m+1, 0 {
			if !has(s.f.Minute, m) {
				continue
			}
			if rest := s.f.Second &^ starBit >> sec; rest != 0 {
				return h, m, sec + bits.TrailingZeros64(rest), true
			}
		}
	}
	return 0, 0, 0, false
}

func has(field uint64, v int) bool { return field&(1<<uint(v)) != 0 }

// daysIn is the number of days in month m of year y.
func daysIn(y int, m time.Month) int { return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day() }

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
