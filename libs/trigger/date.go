package trigger

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// dateLayouts are the accepted forms of one date, most specific first.
var dateLayouts = []string{
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04",
	"2006/01/02 15:04:05",
	"2006/01/02 15:04",
}

const dateLayout = "2006-01-02 15:04:05"

var errFraction = errors.New("fraction of a second")

type dateSchedule struct {
	times []time.Time // ascending, distinct
	loc   *time.Location
}

func parseDate(spec string, opt Options) (Schedule, error) {
	var times []time.Time
	for i, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		t, err := parseOneDate(part, opt.Location)
		if errors.Is(err, errFraction) {
			return nil, fmt.Errorf("%w: date %d of %q: %q: fractions of a second are not supported; want YYYY-MM-DD HH:MM:SS", ErrBadSpec, i+1, spec, part)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: date %d of %q: %q: want YYYY-MM-DD HH:MM:SS", ErrBadSpec, i+1, spec, part)
		}
		times = append(times, t)
	}
	slices.SortFunc(times, time.Time.Compare)
	times = slices.CompactFunc(times, time.Time.Equal)
	return dateSchedule{times: times, loc: opt.Location}, nil
}

func parseOneDate(s string, loc *time.Location) (time.Time, error) {
	for _, layout := range dateLayouts {
		w, err := time.ParseInLocation(layout, s, time.UTC)
		if err == nil && w.Nanosecond() != 0 {
			// time.Parse takes a fraction after the seconds even where the
			// layout has none; Spec could not write it back.
			return time.Time{}, errFraction
		}
		if err == nil {
			return wallToInstant(w, loc), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: date %q", ErrBadSpec, s)
}

func (s dateSchedule) Next(t time.Time) time.Time {
	i, found := slices.BinarySearchFunc(s.times, t, time.Time.Compare)
	if found {
		i++
	}
	if i >= len(s.times) {
		return time.Time{}
	}
	return s.times[i]
}

func (s dateSchedule) Kind() string { return KindDate }

func (s dateSchedule) Spec() string {
	parts := make([]string, len(s.times))
	for i, t := range s.times {
		parts[i] = t.In(s.loc).Format(dateLayout)
	}
	return strings.Join(parts, ",")
}
