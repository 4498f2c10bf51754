package trigger

import (
	"errors"
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
