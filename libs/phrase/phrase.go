package phrase

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"taskrunner/libs/trigger"
)

// maxRunes bounds a phrase: room for a list of a dozen dates.
const maxRunes = 400

// Parse translates a phrase in Chinese or English into a trigger kind and
// its canonical spec (see the package documentation for the grammar).
// Wall times are in loc (UTC when nil); relative phrases are measured from
// ref, read in loc. It has the signature of trigger.TextFunc.
//
// A phrase it cannot read, or could read more than one way, is an error
// wrapping trigger.ErrBadSpec that quotes the part not understood and
// suggests a supported phrase.
func Parse(text string, loc *time.Location, ref time.Time) (kind, spec string, err error) {
	if loc == nil {
		loc = time.UTC
	}
	phrase := strings.TrimSpace(text)
	if n := utf8.RuneCountInString(phrase); n > maxRunes {
		return "", "", fmt.Errorf("%w: a phrase of %d characters is too long (at most %d); %s", trigger.ErrBadSpec, n, maxRunes, hintAny)
	}
	src := normalise(phrase)
	if src == "" {
		return "", "", refuse(phrase, hintAny, "the phrase is empty")
	}
	s := newScanner(phrase, src, loc, ref)
	cs, err := s.clauses()
	if err != nil {
		return "", "", err
	}
	if kind, spec, err = s.build(cs); err != nil {
		return "", "", err
	}
	return canonical(phrase, kind, spec, loc)
}

// canonical checks kind and spec with trigger and returns the form it
// shows users, so that what Parse returns is exactly what will run.
func canonical(phrase, kind, spec string, loc *time.Location) (string, string, error) {
	sched, err := trigger.Parse(kind, spec, trigger.Options{Location: loc})
	if err != nil {
		return "", "", fmt.Errorf("%w: cannot understand %q: it gives %s %q: %w", trigger.ErrBadSpec, phrase, kind, spec, err)
	}
	return sched.Kind(), sched.Spec(), nil
}

// clause is one part of a phrase: a day rule, times of day, a window, a
// repeat, a date, a delay or a separator between one-time items.
type clause interface{ source() string }

type separator struct{ text string }

func (c separator) source() string { return c.text }

// clauses reads the whole phrase as a sequence of clauses, in any order.
func (s *scanner) clauses() ([]clause, error) {
	var cs []clause
	for !s.atEnd() {
		start := s.pos
		c, ok := s.clause()
		switch {
		case s.err != nil:
			return nil, s.err
		case !ok || s.pos == start:
			s.pos = start
			return nil, s.notUnderstood()
		case c != nil:
			cs = append(cs, c)
			s.noteWeekdayTimes(cs)
		}
	}
	return cs, nil
}

// clause reads one clause; the order of the readers settles overlaps
// (3天后 is a delay before 3天 could be anything else).
func (s *scanner) clause() (clause, bool) {
	start := s.pos
	readers := []func() (clause, bool){
		s.relativeClause, s.dateClause, s.daysClause, s.repeatClause,
		s.windowClause, s.timesClause, s.separatorClause, s.fillerClause,
		s.weekdaySpanClause, s.bareWeekdayClause,
	}
	for _, read := range readers {
		if c, ok := read(); ok || s.err != nil {
			return c, ok
		}
		s.pos = start
	}
	return nil, false
}

// noteWeekdayTimes sets weekdayTimes when the clauses read so far give
// weekdays and then times.
func (s *scanner) noteWeekdayTimes(cs []clause) {
	weekdays := false
	for _, c := range cs {
		switch c := c.(type) {
		case dayRule:
			weekdays = weekdays || c.dow != nil
		case atTimes:
			s.weekdayTimes = s.weekdayTimes || weekdays
		}
	}
}

func (s *scanner) separatorClause() (clause, bool) {
	if w := s.lit(sepWords...); w != "" {
		return separator{w}, true
	}
	return nil, false
}

// fillerClause reads a word that changes nothing (的, 执行, run), as no clause.
func (s *scanner) fillerClause() (clause, bool) {
	return nil, s.lit(fillWords...) != ""
}

// build turns the clauses into a kind and a spec.
func (s *scanner) build(cs []clause) (kind, spec string, err error) {
	var once, repeating clause
	for _, c := range cs {
		switch c.(type) {
		case onDate, relative:
			if once == nil {
				once = c
			}
		case dayRule, repeat, window:
			if repeating == nil {
				repeating = c
			}
		}
	}
	switch {
	case once != nil && repeating != nil:
		return "", "", refuse(s.phrase, hintAny, "%q repeats but %q happens once; a task does one or the other", repeating.source(), once.source())
	case once != nil:
		return s.once(cs)
	}
	return s.recurring(cs)
}

// conflict is the error for two clauses that both say what, such as which days.
func (s *scanner) conflict(a, b clause, what string) error {
	return refuse(s.phrase, hintAny, "%q and %q both give %s; keep one", a.source(), b.source(), what)
}

// joinText joins the texts of two clauses for a message.
func joinText(a, b string) string {
	if hasHan(a) && hasHan(b) {
		return a + b
	}
	return a + " " + b
}
