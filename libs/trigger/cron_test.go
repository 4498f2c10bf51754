package trigger

import (
	"archive/zip"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCronSchedule_NextDSTMidnight pins hourly crons limited to some days
// on a spring-forward day whose gap covers midnight: the day starts at
// 01:00 and fires from then on.
func TestCronSchedule_NextDSTMidnight(t *testing.T) {
	beirut := mustLoc(t, "Asia/Beirut") // 2026-03-29 00:00 -> 01:00
	cairo := mustLoc(t, "Africa/Cairo") // 2026-04-24 00:00 -> 01:00
	tests := []struct {
		spec string
		loc  *time.Location
		from string
		want []string
	}{
		{"0 * * * 0", beirut, "2026-03-28 22:00:00",
			[]string{"2026-03-29 01:00:00 +0300", "2026-03-29 02:00:00 +0300", "2026-03-29 03:00:00 +0300"}},
		{"0 * * * 5", cairo, "2026-04-23 22:00:00",
			[]string{"2026-04-24 01:00:00 +0300", "2026-04-24 02:00:00 +0300", "2026-04-24 03:00:00 +0300"}},
		{"0 * 29 3 *", beirut, "2026-03-28 22:00:00",
			[]string{"2026-03-29 01:00:00 +0300", "2026-03-29 02:00:00 +0300", "2026-03-29 03:00:00 +0300"}},
		{"0 * 29 3 *", beirut, "2026-03-29 23:30:00",
			[]string{"2027-03-29 00:00:00 +0300", "2027-03-29 01:00:00 +0300"}},
	}
	for _, tt := range tests {
		t.Run(tt.loc.String()+" "+tt.spec, func(t *testing.T) {
			s, err := Parse(KindCron, tt.spec, Options{Location: tt.loc})
			if err != nil {
				t.Fatal(err)
			}
			got := fmtTimes(NextN(s, parseFrom(t, tt.from, tt.loc), len(tt.want)), tt.loc)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("next from %s:\n got  %v\n want %v", tt.from, got, tt.want)
			}
		})
	}
}

// TestCronSchedule_NextDSTMidnightAllZones scans every IANA zone for the
// changes of 2026-2030 whose gap or overlap touches midnight, and checks
// hourly crons for each day around them against a brute-force search, and
// that a daily cron fires once on each of those days.
func TestCronSchedule_NextDSTMidnightAllZones(t *testing.T) {
	zones := ianaZones(t)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	until := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	checked := map[string]bool{}
	for _, loc := range zones {
		for _, e := range transitions(loc, from, until) {
			if !touchesMidnight(e, loc) {
				continue
			}
			checked[loc.String()] = true
			checkAroundChange(t, loc, e)
		}
	}
	for _, name := range []string{"Asia/Beirut", "Africa/Cairo", "America/Havana", "America/Santiago"} {
		if !checked[name] {
			t.Errorf("%s has no change at midnight in 2026-2030: the scan is broken", name)
		}
	}
	t.Logf("%d zones of %d change clocks at midnight in 2026-2030", len(checked), len(zones))
}

// checkAroundChange compares Next with a brute-force search over the days
// around the change at e, in steps of 15 minutes (every offset in use is
// a multiple of that).
func checkAroundChange(t *testing.T, loc *time.Location, e time.Time) {
	t.Helper()
	lo, hi := e.Add(-50*time.Hour), e.Add(50*time.Hour)
	type check struct {
		spec  string
		match func(w time.Time) bool // on wall-clock fields
	}
	var checks []check
	for d := lo; d.Before(hi); d = d.Add(12 * time.Hour) {
		day := d.In(loc)
		for _, minute := range []int{0, 30} {
			checks = append(checks,
				check{fmt.Sprintf("%d * * * %d", minute, day.Weekday()), func(w time.Time) bool {
					return w.Minute() == minute && w.Weekday() == day.Weekday()
				}},
				check{fmt.Sprintf("%d * %d %d *", minute, day.Day(), day.Month()), func(w time.Time) bool {
					return w.Minute() == minute && w.Day() == day.Day() && w.Month() == day.Month()
				}})
		}
	}
	seen := map[string]bool{}
	for _, c := range checks {
		if seen[c.spec] {
			continue
		}
		seen[c.spec] = true
		s, err := Parse(KindCron, c.spec, Options{Location: loc})
		if err != nil {
			t.Fatal(err)
		}
		var want []time.Time
		for x := lo.Truncate(15 * time.Minute).Add(15 * time.Minute); x.Before(hi); x = x.Add(15 * time.Minute) {
			if c.match(wallOf(x, loc)) {
				want = append(want, x)
			}
		}
		var got []time.Time
		for x := s.Next(lo); !x.IsZero() && x.Before(hi); x = s.Next(x) {
			got = append(got, x)
		}
		if !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("%s %q around %s:\n got  %v\n want %v", loc, c.spec, e.In(loc), fmtTimes(got, loc), fmtTimes(want, loc))
		}
	}
	daily, _ := Parse(KindCron, "0 0 * * *", Options{Location: loc})
	days := map[string]int{}
	for x := daily.Next(lo); x.Before(hi); x = daily.Next(x) {
		days[x.In(loc).Format("2006-01-02")]++
	}
	for day, n := range days {
		if n != 1 {
			t.Errorf("%s \"0 0 * * *\" fires %d times on %s", loc, n, day)
		}
	}
	if len(days) < 3 {
		t.Errorf("%s \"0 0 * * *\" fires on %d days in the 100 hours around %s", loc, len(days), e.In(loc))
	}
}

// transitions lists the instants in [from, until) where loc's offset changes.
func transitions(loc *time.Location, from, until time.Time) []time.Time {
	var out []time.Time
	for t := from; t.Before(until); {
		_, end := t.In(loc).ZoneBounds()
		if end.IsZero() || !end.Before(until) {
			break
		}
		if !end.After(t) { // a rule-extended zone can report a bound at t itself
			t = t.Add(time.Hour)
			continue
		}
		_, before := end.Add(-time.Nanosecond).In(loc).Zone()
		if _, after := end.In(loc).Zone(); after != before {
			out = append(out, end)
		}
		t = end
	}
	return out
}

// touchesMidnight reports whether the wall times skipped or repeated at e
// include or end at a midnight.
func touchesMidnight(e time.Time, loc *time.Location) bool {
	_, before := e.Add(-time.Nanosecond).In(loc).Zone()
	_, after := e.In(loc).Zone()
	a := e.UTC().Add(time.Duration(min(before, after)) * time.Second)
	b := e.UTC().Add(time.Duration(max(before, after)) * time.Second)
	return a.YearDay() != b.YearDay() || a.Hour()+a.Minute() == 0 || b.Hour()+b.Minute() == 0
}

// ianaZones loads every zone of the Go distribution's time zone database,
// so the scan does not depend on the machine's.
func ianaZones(t *testing.T) []*time.Location {
	t.Helper()
	z, err := zip.OpenReader(filepath.Join(runtime.GOROOT(), "lib", "time", "zoneinfo.zip"))
	if err != nil {
		t.Fatalf("the Go time zone database: %v", err)
	}
	defer z.Close()
	var out []*time.Location
	for _, f := range z.File {
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		loc, err := time.LoadLocationFromTZData(f.Name, data)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		out = append(out, loc)
	}
	if len(out) < 300 {
		t.Fatalf("only %d zones in the Go time zone database", len(out))
	}
	return out
}

// TestCronSchedule_NextBeyondFiveYears: the next fire may be more than five
// years away (the parser gives up after five).
func TestCronSchedule_NextBeyondFiveYears(t *testing.T) {
	tests := []struct{ spec, from, want string }{
		{"0 0 29 2 *", "2096-02-29 00:00:00", "2104-02-29 00:00:00 +0000"},
		{"0 0 29 2 *", "2099-01-01 00:00:00", "2104-02-29 00:00:00 +0000"},
	}
	for _, tt := range tests {
		t.Run(tt.spec+" from "+tt.from, func(t *testing.T) {
			s, err := Parse(KindCron, tt.spec, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := fmtTimes(NextN(s, parseFrom(t, tt.from, time.UTC), 1), time.UTC)
			if len(got) != 1 || got[0] != tt.want {
				t.Fatalf("next = %v, want %s", got, tt.want)
			}
		})
	}
}

// TestCronSchedule_NextWeekdaySeven: 7 is Sunday, as 0 is, as in crontab(5).
func TestCronSchedule_NextWeekdaySeven(t *testing.T) {
	tests := []struct {
		spec string
		want []string
	}{
		{"0 9 * * 7", []string{"2026-01-04 09:00:00 +0000", "2026-01-11 09:00:00 +0000"}},
		{"0 9 * * 0,7", []string{"2026-01-04 09:00:00 +0000", "2026-01-11 09:00:00 +0000"}},
		{"0 9 * * 5-7", []string{"2026-01-02 09:00:00 +0000", "2026-01-03 09:00:00 +0000", "2026-01-04 09:00:00 +0000", "2026-01-09 09:00:00 +0000"}},
		{"0 9 * * 1-7/2", []string{"2026-01-02 09:00:00 +0000", "2026-01-04 09:00:00 +0000", "2026-01-05 09:00:00 +0000", "2026-01-07 09:00:00 +0000"}},
		{"0 9 * * sat-7", []string{"2026-01-03 09:00:00 +0000", "2026-01-04 09:00:00 +0000", "2026-01-10 09:00:00 +0000"}},
		{"0 0 9 * * 7", []string{"2026-01-04 09:00:00 +0000", "2026-01-11 09:00:00 +0000"}},
	}
	from := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) // a Thursday
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := Parse(KindCron, tt.spec, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := fmtTimes(NextN(s, from, len(tt.want)), time.UTC); !slices.Equal(got, tt.want) {
				t.Fatalf("next:\n got  %v\n want %v", got, tt.want)
			}
			if s.Spec() != tt.spec {
				t.Errorf("Spec() = %q, want %q", s.Spec(), tt.spec)
			}
		})
	}
	if _, err := Parse(KindCron, "0 9 * * 8", Options{}); err == nil {
		t.Errorf("weekday 8 is accepted")
	}
}

// TestCronSchedule_NextDayAndWeekday pins how the day-of-month and weekday
// fields combine, as crontab(5) says: when both are restricted, a day
// matching either fires; a field starting with * (*, */2) counts as
// unrestricted, so then a day must match both.
func TestCronSchedule_NextDayAndWeekday(t *testing.T) {
	tests := []struct {
		name, spec string
		want       []string
	}{
		{"both restricted: either", "0 0 13 * 5", []string{"2026-04-03", "2026-04-10", "2026-04-13", "2026-04-17"}},
		{"day */2: odd days that are Mondays", "0 0 */2 * 1", []string{"2026-04-13", "2026-04-27", "2026-05-11", "2026-05-25"}},
		{"weekday */2: the 1st on Sun, Tue, Thu, Sat", "0 0 1 * */2", []string{"2026-08-01", "2026-09-01", "2026-10-01", "2026-11-01"}},
		{"day * and weekday: the weekday", "0 0 * * 1", []string{"2026-04-06", "2026-04-13", "2026-04-20", "2026-04-27"}},
		{"day ? is *", "0 0 ? * 1", []string{"2026-04-06", "2026-04-13", "2026-04-20", "2026-04-27"}},
		{"day 1-31 is restricted: either", "0 0 1-31 * 1", []string{"2026-04-02", "2026-04-03", "2026-04-04", "2026-04-05"}},
	}
	from := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(KindCron, tt.spec, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, x := range NextN(s, from, len(tt.want)) {
				got = append(got, x.Format("2006-01-02"))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("%q next days:\n got  %v\n want %v", tt.spec, got, tt.want)
			}
		})
	}
}
