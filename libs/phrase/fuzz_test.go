package phrase_test

import (
	"errors"
	"testing"
	"time"

	"taskrunner/libs/phrase"
	"taskrunner/libs/trigger"
)

// FuzzParse checks that Parse returns promptly without panicking, refuses
// only with trigger.ErrBadSpec, and otherwise gives a canonical spec that
// trigger accepts and, for a date, fire times after the reference.
func FuzzParse(f *testing.F) {
	for _, c := range parseCases {
		f.Add(c.phrase)
	}
	for _, c := range refusedCases {
		f.Add(c.phrase)
	}
	loc, ref := nySpring.load(f)
	f.Fuzz(func(t *testing.T, text string) {
		type result struct {
			kind, spec string
			err        error
		}
		done := make(chan result, 1)
		go func() {
			kind, spec, err := phrase.Parse(text, loc, ref)
			done <- result{kind, spec, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(2 * time.Second):
			t.Fatalf("Parse(%q) did not return within 2s", text)
		}
		if r.err != nil {
			if !errors.Is(r.err, trigger.ErrBadSpec) {
				t.Fatalf("Parse(%q) = %v, which does not wrap trigger.ErrBadSpec", text, r.err)
			}
			return
		}
		sched, err := trigger.Parse(r.kind, r.spec, trigger.Options{Location: loc})
		if err != nil {
			t.Fatalf("Parse(%q) = %s %q, which trigger refuses: %v", text, r.kind, r.spec, err)
		}
		if sched.Kind() != r.kind || sched.Spec() != r.spec {
			t.Fatalf("Parse(%q) = %s %q, not canonical: %s %q", text, r.kind, r.spec, sched.Kind(), sched.Spec())
		}
		if r.kind == trigger.KindDate && !sched.Next(time.Time{}).After(ref) {
			t.Fatalf("Parse(%q) = date %q, which is not after %s", text, r.spec, ref)
		}
	})
}
