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
		{"weekly", "* * * * *", ErrUnknownTrigger, "want cron, interval, date or text"},
		{"cron", "   ", ErrBadSpec, "empty"},
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
