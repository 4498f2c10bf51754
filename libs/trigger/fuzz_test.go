package trigger

import (
	"errors"
	"testing"
	"time"
)

// FuzzParse checks that Parse returns promptly without panicking, refuses
// only with ErrBadSpec, ErrNoFireTime or ErrUnknownTrigger, gives a
// canonical Spec that parses to itself, and fire times that only go
// forward.
func FuzzParse(f *testing.F) {
	for _, seed := range [][2]string{
		{"cron", "0 * * * 0"}, {"cron", "*/15 9-17 * * 1-5"}, {"cron", "0 23 L * *"},
		{"cron", "0 0 29 2 *"}, {"cron", "0 9 * * 5-7"}, {"cron", "0 0 */2 * 1"},
		{"cron", "@weekly"}, {"cron", "@every 90s"}, {"cron", "0 30 12 L * *"},
		{"interval", "5"}, {"interval", "48h"}, {"interval", "3100000000"}, {"interval", "1h30m"},
		{"date", "2027-12-01 08:00:00"}, {"date", "2026-03-29 00:30, 2026-11-01 01:30:00"},
	} {
		f.Add(seed[0], seed[1])
	}
	loc, err := time.LoadLocation("Asia/Beirut") // midnight skipped and repeated
	if err != nil {
		f.Fatal(err)
	}
	from := time.Date(2026, 3, 28, 20, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, kind, spec string) {
		if kind == KindText {
			return // phrases are fuzzed in package phrase
		}
		done := make(chan struct{})
		var s Schedule
		var err error
		var times []time.Time
		go func() {
			defer close(done)
			if s, err = Parse(kind, spec, Options{Location: loc}); err == nil {
				times = NextN(s, from, 5)
			}
		}()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Fatalf("Parse(%q, %q) and five fires did not return within 2s", kind, spec)
		}
		if err != nil {
			if !errors.Is(err, ErrBadSpec) && !errors.Is(err, ErrNoFireTime) && !errors.Is(err, ErrUnknownTrigger) {
				t.Fatalf("Parse(%q, %q) = %v, not a known error", kind, spec, err)
			}
			return
		}
		again, err := Parse(s.Kind(), s.Spec(), Options{Location: loc})
		if err != nil || again.Kind() != s.Kind() || again.Spec() != s.Spec() {
			t.Fatalf("Parse(%q, %q) gives %s %q, which parses to %v, %v", kind, spec, s.Kind(), s.Spec(), again, err)
		}
		prev := from
		for _, x := range times {
			if !x.After(prev) {
				t.Fatalf("%s %q: fire %s is not after %s (%v)", s.Kind(), s.Spec(), x, prev, times)
			}
			prev = x
		}
	})
}
