package trigger

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// fmtTimes renders instants in loc with their offset, so a DST mistake shows.
func fmtTimes(ts []time.Time, loc *time.Location) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.In(loc).Format("2006-01-02 15:04:05 -0700")
	}
	return out
}

func TestParse_NextTimes(t *testing.T) {
	shanghai := mustLoc(t, "Asia/Shanghai")
	ny := mustLoc(t, "America/New_York")
	berlin := mustLoc(t, "Europe/Berlin")
	tests := []struct {
		name, kind, spec string
		loc              *time.Location
		from             string // wall time in loc
		want             []string
		wantSpec         string
	}{
		{"interval seconds", "interval", "5", time.UTC, "2026-01-01 00:00:03",
			[]string{"2026-01-01 00:00:05 +0000", "2026-01-01 00:00:10 +0000", "2026-01-01 00:00:15 +0000"}, "5s"},
		{"interval on a boundary is strictly after", "interval", "90s", time.UTC, "2026-01-01 00:01:30",
			[]string{"2026-01-01 00:03:00 +0000", "2026-01-01 00:04:30 +0000"}, "1m30s"},
		{"interval go duration", "interval", "1h30m", time.UTC, "2026-01-01 00:00:00",
			[]string{"2026-01-01 01:30:00 +0000", "2026-01-01 03:00:00 +0000"}, "1h30m0s"},
		{"cron 5 fields", "cron", "* * * * *", time.UTC, "2026-01-01 00:00:30",
			[]string{"2026-01-01 00:01:00 +0000", "2026-01-01 00:02:00 +0000"}, "* * * * *"},
		{"cron 6 fields", "cron", "*/20 * * * * *", time.UTC, "2026-01-01 00:00:30",
			[]string{"2026-01-01 00:00:40 +0000", "2026-01-01 00:01:00 +0000"}, "*/20 * * * * *"},
		{"cron in a zone", "cron", "0 9 * * 1-5", shanghai, "2026-11-20 10:00:00",
			[]string{"2026-11-23 09:00:00 +0800", "2026-11-24 09:00:00 +0800"}, "0 9 * * 1-5"},
		{"daily descriptor", "cron", "@daily", shanghai, "2026-02-28 12:00:00",
			[]string{"2026-03-01 00:00:00 +0800", "2026-03-02 00:00:00 +0800"}, "@daily"},
		{"monthly on the 31st skips short months", "cron", "0 0 31 * *", time.UTC, "2026-01-31 12:00:00",
			[]string{"2026-03-31 00:00:00 +0000", "2026-05-31 00:00:00 +0000"}, "0 0 31 * *"},
		{"leap day", "cron", "0 12 29 2 *", time.UTC, "2026-01-01 00:00:00",
			[]string{"2028-02-29 12:00:00 +0000", "2032-02-29 12:00:00 +0000"}, "0 12 29 2 *"},
		{"every is an anchored interval", "cron", "@every 10s", time.UTC, "2026-01-01 00:00:01",
			[]string{"2026-01-01 00:00:10 +0000", "2026-01-01 00:00:20 +0000"}, "10s"},
		{"date list sorted, past ones skipped", "date", "2026-12-01 08:00:00, 2026-01-01 08:00:00,2027-01-01 08:00:00", shanghai, "2026-06-01 00:00:00",
			[]string{"2026-12-01 08:00:00 +0800", "2027-01-01 08:00:00 +0800"}, "2026-01-01 08:00:00,2026-12-01 08:00:00,2027-01-01 08:00:00"},
		{"date of the original sample", "date", "2020-04-24 18:08:00", shanghai, "2020-04-24 18:00:00",
			[]string{"2020-04-24 18:08:00 +0800"}, "2020-04-24 18:08:00"},

		// DST, America/New_York: 2026-03-08 02:00 -> 03:00, 2026-11-01 02:00 -> 01:00.
		{"daily in the spring gap runs once after it", "cron", "30 2 * * *", ny, "2026-03-07 12:00:00",
			[]string{"2026-03-08 03:00:00 -0400", "2026-03-09 02:30:00 -0400", "2026-03-10 02:30:00 -0400"}, "30 2 * * *"},
		{"two fires in the gap fold into one", "cron", "0,30 2 * * *", ny, "2026-03-08 00:00:00",
			[]string{"2026-03-08 03:00:00 -0400", "2026-03-09 02:00:00 -0400"}, "0,30 2 * * *"},
		{"daily in the fall overlap runs once, first pass", "cron", "30 1 * * *", ny, "2026-10-31 12:00:00",
			[]string{"2026-11-01 01:30:00 -0400", "2026-11-02 01:30:00 -0500"}, "30 1 * * *"},
		{"from inside the second pass, no second run", "cron", "30 1 * * *", ny, "2026-11-01 01:10:00 second",
			[]string{"2026-11-02 01:30:00 -0500"}, "30 1 * * *"},
		{"hour * follows real time through the overlap", "cron", "0 * * * *", ny, "2026-11-01 00:30:00",
			[]string{"2026-11-01 01:00:00 -0400", "2026-11-01 01:00:00 -0500", "2026-11-01 02:00:00 -0500"}, "0 * * * *"},
		{"hour * skips the gap hour", "cron", "15 * * * *", ny, "2026-03-08 01:30:00",
			[]string{"2026-03-08 03:15:00 -0400", "2026-03-08 04:15:00 -0400"}, "15 * * * *"},
		{"date in the gap fires after it", "date", "2026-03-08 02:30:00", ny, "2026-03-08 00:00:00",
			[]string{"2026-03-08 03:00:00 -0400"}, "2026-03-08 03:00:00"},

		// L, the last day of the month.
		{"last day: Jan 31, Feb 28, Mar 31, Apr 30", "cron", "0 23 L * *", time.UTC, "2026-01-15 00:00:00",
			[]string{"2026-01-31 23:00:00 +0000", "2026-02-28 23:00:00 +0000", "2026-03-31 23:00:00 +0000", "2026-04-30 23:00:00 +0000"}, "0 23 L * *"},
		{"last day after its time moves to the next month", "cron", "0 23 L * *", time.UTC, "2026-01-31 23:00:00",
			[]string{"2026-02-28 23:00:00 +0000", "2026-03-31 23:00:00 +0000"}, "0 23 L * *"},
		{"last day in a leap year is Feb 29", "cron", "0 23 L * *", time.UTC, "2028-02-01 00:00:00",
			[]string{"2028-02-29 23:00:00 +0000", "2028-03-31 23:00:00 +0000"}, "0 23 L * *"},
		{"last day of February only", "cron", "0 0 L 2 *", time.UTC, "2026-01-01 00:00:00",
			[]string{"2026-02-28 00:00:00 +0000", "2027-02-28 00:00:00 +0000", "2028-02-29 00:00:00 +0000"}, "0 0 L 2 *"},
		{"last day of July by name", "cron", "0 0 L jul *", time.UTC, "2026-01-01 00:00:00",
			[]string{"2026-07-31 00:00:00 +0000", "2027-07-31 00:00:00 +0000"}, "0 0 L jul *"},
		{"last day in a zone, across spring forward", "cron", "0 23 L * *", ny, "2026-02-15 00:00:00",
			[]string{"2026-02-28 23:00:00 -0500", "2026-03-31 23:00:00 -0400", "2026-04-30 23:00:00 -0400"}, "0 23 L * *"},
		{"last day in a zone, across fall back", "cron", "0 23 L * *", ny, "2026-10-15 00:00:00",
			[]string{"2026-10-31 23:00:00 -0400", "2026-11-30 23:00:00 -0500", "2026-12-31 23:00:00 -0500"}, "0 23 L * *"},
		{"last day with hour * in a zone", "cron", "0 * L * *", ny, "2026-02-28 21:30:00",
			[]string{"2026-02-28 22:00:00 -0500", "2026-02-28 23:00:00 -0500", "2026-03-31 00:00:00 -0400", "2026-03-31 01:00:00 -0400"}, "0 * L * *"},
		{"last day, 6 fields", "cron", "0 30 12 L * *", time.UTC, "2026-02-01 00:00:00",
			[]string{"2026-02-28 12:30:00 +0000", "2026-03-31 12:30:00 +0000"}, "0 30 12 L * *"},
		{"last day, 6 fields with hour *", "cron", "*/20 * * L * *", time.UTC, "2026-02-28 23:59:30",
			[]string{"2026-02-28 23:59:40 +0000", "2026-03-31 00:00:00 +0000", "2026-03-31 00:00:20 +0000"}, "*/20 * * L * *"},
		{"last day skips whole days, not each second", "cron", "* * 0 L * *", time.UTC, "2026-01-01 00:00:00",
			[]string{"2026-01-31 00:00:00 +0000", "2026-01-31 00:00:01 +0000"}, "* * 0 L * *"},
		{"last day with hour * skips whole days", "cron", "* * * L * *", time.UTC, "2026-01-01 00:00:00",
			[]string{"2026-01-31 00:00:00 +0000", "2026-01-31 00:00:01 +0000"}, "* * * L * *"},
		// Europe/Berlin changes clocks on the last Sunday of March and
		// October, which is the 31st in March 2024 and October 2021.
		{"last day in the spring gap runs once after it", "cron", "30 2 L * *", berlin, "2024-03-01 00:00:00",
			[]string{"2024-03-31 03:00:00 +0200", "2024-04-30 02:30:00 +0200"}, "30 2 L * *"},
		{"last day in the fall overlap runs once, first pass", "cron", "30 2 L * *", berlin, "2021-10-01 00:00:00",
			[]string{"2021-10-31 02:30:00 +0200", "2021-11-30 02:30:00 +0100"}, "30 2 L * *"},
		{"last day from inside the second pass, no second run", "cron", "30 2 L * *", berlin, "2021-10-31 02:10:00 second",
			[]string{"2021-11-30 02:30:00 +0100"}, "30 2 L * *"},
		{"last day with hour * follows real time through the overlap", "cron", "0 * L * *", berlin, "2021-10-31 01:30:00",
			[]string{"2021-10-31 02:00:00 +0200", "2021-10-31 02:00:00 +0100", "2021-10-31 03:00:00 +0100"}, "0 * L * *"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.kind, tt.spec, Options{Location: tt.loc})
			if err != nil {
				t.Fatal(err)
			}
			from := parseFrom(t, tt.from, tt.loc)
			got := fmtTimes(NextN(s, from, len(tt.want)+1), tt.loc)
			if tt.kind == "date" && len(got) > len(tt.want) {
				t.Fatalf("date schedule has more times than expected: %v", got)
			}
			for i := range tt.want {
				if i >= len(got) || got[i] != tt.want[i] {
					t.Fatalf("next times from %s:\n got  %v\n want %v", tt.from, got, tt.want)
				}
			}
			if s.Spec() != tt.wantSpec {
				t.Errorf("Spec() = %q, want %q", s.Spec(), tt.wantSpec)
			}
		})
	}
}

// parseFrom reads "YYYY-MM-DD HH:MM:SS" in loc; a " second" suffix picks the
// second occurrence of an ambiguous wall time.
func parseFrom(t *testing.T, s string, loc *time.Location) time.Time {
	t.Helper()
	second := false
	if len(s) > 19 {
		s, second = s[:19], true
	}
	w, err := time.ParseInLocation(dateLayout, s, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	i := wallToInstant(w, loc)
	if second {
		i = i.Add(time.Hour)
	}
	return i
}

func TestParse_Errors(t *testing.T) {
	tests := []struct {
		kind, spec string
		want       error
		contains   string
	}{
		{"cron", "61 * * * *", ErrBadSpec, "61"},
		{"cron", "* * *", ErrBadSpec, "has 3 fields"},
		{"cron", "0 0 30 2 *", ErrNoFireTime, ""},
		{"cron", "@every banana", ErrBadSpec, "@every"},
		{"cron", "CRON_TZ=UTC * * * * *", ErrBadSpec, "time zone"},
		{"interval", "0", ErrBadSpec, "at least 1s"},
		{"interval", "-5", ErrBadSpec, "at least 1s"},
		{"interval", "1.5s", ErrBadSpec, "whole seconds"},
		{"interval", "five", ErrBadSpec, "want whole seconds"},
		{"date", "2026-02-30 10:00:00", ErrBadSpec, "date 1"},
		{"date", "2026-01-01 10:00:00,tomorrow", ErrBadSpec, "date 2"},
		{"date", "2027-12-01 08:00:00.5", ErrBadSpec, "fractions of a second"},
		{"date", "2027-12-01T08:00:00.000001", ErrBadSpec, "fractions of a second"},
		{"weekly", "* * * * *", ErrUnknownTrigger, "want cron, interval, date or text"},
		{"cron", "   ", ErrBadSpec, "empty"},
		{"cron", "0 0 1,L * *", ErrBadSpec, `must be the whole day-of-month field, as in "0 23 L * *", not part of "1,L"`},
		{"cron", "0 0 L-2 * *", ErrBadSpec, `not part of "L-2"`},
		{"cron", "0 0 LW * *", ErrBadSpec, `not part of "LW"`},
		{"cron", "0 0 l * *", ErrBadSpec, `not part of "l"`},
		{"cron", "0 0 * * 5L", ErrBadSpec, `only supported as the whole day-of-month field, not in the weekday field "5L"`},
		{"cron", "L 0 * * *", ErrBadSpec, `not in the minute field "L"`},
		{"cron", "0 0 L L *", ErrBadSpec, `not in the month field "L"`},
		{"cron", "0 0 0 1 L *", ErrBadSpec, `not in the month field "L"`},
		{"cron", "L 0 0 L * *", ErrBadSpec, `not in the second field "L"`},
		{"cron", "0 0 L * 1-5", ErrBadSpec, `weekday field must be *, not "1-5"`},
	}
	for _, tt := range tests {
		t.Run(tt.kind+" "+tt.spec, func(t *testing.T) {
			_, err := Parse(tt.kind, tt.spec, Options{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.contains != "" && !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("err %q does not mention %q", err, tt.contains)
			}
		})
	}
}
