package trigger

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestIntervalSchedule_NextLong: a long interval never overflows, so fire
// times only go forward, and every form is capped at 100 years.
func TestIntervalSchedule_NextLong(t *testing.T) {
	s, err := Parse(KindInterval, "3100000000", Options{}) // 98 years
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	got := NextN(s, from, 4)
	if len(got) != 4 {
		t.Fatalf("next = %v, want 4 times", got)
	}
	prev := from
	for i, x := range got {
		if !x.After(prev) {
			t.Fatalf("fire %d at %s is not after %s: %v", i+1, x, prev, got)
		}
		if i > 0 && x.Unix()-prev.Unix() != 3100000000 {
			t.Errorf("fire %d is %d s after the one before, want 3100000000", i+1, x.Unix()-prev.Unix())
		}
		prev = x
	}
	for _, spec := range []string{"2562047h", "876001h", "3153600001", "@every 2562047h"} {
		kind := KindInterval
		if strings.HasPrefix(spec, "@") {
			kind = KindCron
		}
		if _, err := Parse(kind, spec, Options{}); !errors.Is(err, ErrBadSpec) {
			t.Errorf("Parse(%s %q) = %v, want a bad spec", kind, spec, err)
		}
	}
	if _, err := Parse(KindInterval, "876000h", Options{}); err != nil {
		t.Errorf("100 years is refused: %v", err)
	}
}

// TestIntervalSchedule_NextAnchor pins where intervals fall: whole days at
// local midnight, whole hours on the hour of the task's zone, anything
// else from the Unix epoch.
func TestIntervalSchedule_NextAnchor(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	kolkata := mustLoc(t, "Asia/Kolkata")
	beirut := mustLoc(t, "Asia/Beirut")
	tests := []struct {
		name, spec string
		loc        *time.Location
		from       string
		want       []string
	}{
		// Days are counted from 1970-01-01, as in UTC: 2026-01-01 is day 20454.
		{"every 2 days at local midnight", "48h", ny, "2026-01-01 00:00:00",
			[]string{"2026-01-03 00:00:00 -0500", "2026-01-05 00:00:00 -0500"}},
		{"every 2 days keeps local midnight across DST", "48h", ny, "2026-03-06 12:00:00",
			[]string{"2026-03-08 00:00:00 -0500", "2026-03-10 00:00:00 -0400", "2026-03-12 00:00:00 -0400"}},
		{"every 2 days in summer, in seconds", "172800", ny, "2026-07-01 00:00:00",
			[]string{"2026-07-02 00:00:00 -0400", "2026-07-04 00:00:00 -0400"}},
		{"every day when midnight is skipped fires at the end of the gap", "24h", beirut, "2026-03-28 12:00:00",
			[]string{"2026-03-29 01:00:00 +0300", "2026-03-30 00:00:00 +0300"}},
		{"every hour on the hour at +05:30", "1h", kolkata, "2026-01-01 10:10:00",
			[]string{"2026-01-01 11:00:00 +0530", "2026-01-01 12:00:00 +0530"}},
		{"every 2 hours on even hours at +05:30", "7200", kolkata, "2026-01-01 10:10:00",
			[]string{"2026-01-01 12:00:00 +0530", "2026-01-01 14:00:00 +0530"}},
		{"every hour through a fall back", "1h", ny, "2026-11-01 00:30:00",
			[]string{"2026-11-01 01:00:00 -0400", "2026-11-01 01:00:00 -0500", "2026-11-01 02:00:00 -0500"}},
		{"minutes stay on the epoch", "45m", kolkata, "2026-01-01 10:10:00",
			[]string{"2026-01-01 10:45:00 +0530", "2026-01-01 11:30:00 +0530"}},
		{"seconds stay on the epoch", "5", ny, "2026-01-01 00:00:03",
			[]string{"2026-01-01 00:00:05 -0500", "2026-01-01 00:00:10 -0500"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(KindInterval, tt.spec, Options{Location: tt.loc})
			if err != nil {
				t.Fatal(err)
			}
			got := fmtTimes(NextN(s, parseFrom(t, tt.from, tt.loc), len(tt.want)), tt.loc)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("next from %s:\n got  %v\n want %v", tt.from, got, tt.want)
			}
		})
	}
	// An explicit anchor wins.
	s, _ := Parse(KindInterval, "1h", Options{Location: kolkata, Anchor: time.Unix(0, 0)})
	if got := fmtTimes(NextN(s, parseFrom(t, "2026-01-01 10:10:00", kolkata), 1), kolkata); got[0] != "2026-01-01 10:30:00 +0530" {
		t.Errorf("with the epoch as anchor: %v", got)
	}
}
