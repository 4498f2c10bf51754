package phrase

import (
	"strings"
	"time"
)

// unit is what a length of time is counted in.
type unit int

const (
	second unit = iota + 1
	minute
	quarter // 刻钟, a quarter of an hour
	hour
	day
	week
	month
	year
)

// maxSeconds is the longest repeat or delay: 100 years, as for intervals.
const maxSeconds = 100 * 365 * 86400

// span is a length of time as written. Seconds to hours are exact; days and
// weeks are calendar days (a day is 23 or 25 hours across a daylight-saving
// change); months and years have no fixed length and are refused.
type span struct {
	secs      int64
	days      int
	weeks     bool
	months    int
	uncounted bool // a unit with no count where one is needed ("in hours")
}

// duration reads a length of time: 5分钟, 一个半小时, 1小时30分钟, 90 seconds,
// half an hour, an hour, 2 hours and 30 minutes. After every or 每 the
// count may be left out (every minute, 每小时) or be "other" (every other
// day); a delay must say it (10分钟后, in an hour, not "in hours").
func (s *scanner) duration(every bool) (span, bool) {
	var sp span
	parts := 0
	for s.err == nil && parts < 8 {
		m := s.pos
		if parts > 0 {
			s.lit("and", "零", ",")
		}
		counted, ok := s.durationPart(&sp, every, parts == 0)
		if !ok {
			s.pos = m
			break
		}
		parts++
		if !counted {
			break // every hour, not every hour 30 minutes
		}
	}
	return sp, parts > 0 && s.err == nil
}

// durationPart reads one count and unit into sp, reporting whether the
// count was written.
func (s *scanner) durationPart(sp *span, every, first bool) (counted, ok bool) {
	start := s.pos
	n, half := 1, false
	counted = true
	switch {
	case s.lit("half an", "half a", "half", "半") != "":
		n, half = 0, true
	case s.lit("an", "a") != "":
	case every && first && s.lit("other") != "":
		n = 2
	default:
		if n, counted = s.num(); !counted {
			n = 1
		}
		if size := fractionSize(s.src[s.pos:]); counted && size > 0 {
			rest := s.src[s.pos:]
			return false, s.fail(hint{"每90分钟", "every 1 hour 30 minutes"}, "%q: a count with a fraction is not supported; say it in a smaller unit, as in 90分钟 or 1 hour 30 minutes", s.text(start)+rest[:size])
		}
	}
	s.lit("个")
	if !half && s.lit("半") != "" { // 一个半小时
		half = true
	}
	u, ok := lookup(s, units)
	switch {
	case !ok:
		if s.pos > start {
			s.expect("a unit (seconds, minutes, hours or days)", hintEvery)
		}
		s.pos = start
		return false, false
	case !counted && !(every && first):
		sp.uncounted = true
	}
	if half && u != hour && u != minute {
		return false, s.fail(hintEvery, "%q: only hours and minutes can be halved", s.text(start))
	}
	halfSecs := int64(0)
	if half {
		halfSecs = 30 // of a minute
		if u == hour {
			halfSecs = 1800
		}
	}
	switch u {
	case second:
		sp.secs += int64(n)
	case minute:
		sp.secs += int64(n)*60 + halfSecs
	case quarter:
		sp.secs += int64(n) * 900
	case hour:
		sp.secs += int64(n)*3600 + halfSecs
	case day:
		sp.days += n
	case week:
		sp.days += 7 * n
		sp.weeks = true
	case month:
		sp.months += n
	case year:
		sp.months += 12 * n
	}
	return counted || half, true
}

// fractionSize is the length of a fraction (.5) that rest starts with
// when a unit follows it (1.5小时, 1.5 hours), else 0.
func fractionSize(rest string) int {
	if len(rest) < 2 || rest[0] != '.' || !isDigit(rest[1]) {
		return 0
	}
	_, n := digits(rest[1:])
	after := strings.TrimLeft(rest[1+n:], " ")
	for u := range units {
		if matches(after, u) {
			return 1 + n
		}
	}
	return 0
}

// repeat is "every" a length shorter or longer than a day: 每5分钟, 每隔2小时,
// every 90 seconds, every 2 days.
type repeat struct {
	text  string
	every time.Duration
	// minute is the minute of the hour a repeat of whole hours fires at
	// (每小时的第15分钟); 0 is on the hour, as without one.
	minute int
}

func (r repeat) source() string { return r.text }

func (s *scanner) repeatClause() (clause, bool) {
	start := s.pos
	if s.lit("hourly") != "" {
		return repeat{text: "hourly", every: time.Hour}, true
	}
	kw := s.lit("每隔", "隔", "每", "every", "each")
	if kw == "" {
		return nil, false
	}
	sp, ok := s.duration(true)
	if !ok {
		s.expect("a number and a unit (seconds, minutes, hours or days)", hintEvery)
		return nil, false
	}
	text := s.text(start)
	skip := kw == "每隔" || kw == "隔"
	total := int64(sp.days)*86400 + sp.secs
	switch {
	case sp.months%12 == 0 && sp.months > 0:
		return nil, s.fail(hintYear, "%q does not say on which day", text)
	case sp.months > 0:
		return nil, s.fail(hintMonth, "%q does not say on which day of the month", text)
	case sp.weeks && (skip || total > 7*86400):
		return nil, s.fail(hintWeek, "%q: one cron cannot count weeks, so a schedule every other week or every few weeks cannot be written; name the weekday for every week, as in 每周一9点, or list the dates", text)
	case sp.weeks:
		return nil, s.fail(hintWeek, "%q does not say on which weekday", text)
	case skip && total == 86400:
		return nil, s.fail(hint{"每天9点", "每两天"}, "%q can mean every day or every other day", text)
	case total == 86400 && sp.days == 1:
		return dayRule{text: text}, true // 每1天, every 1 day: a calendar day
	case total == 0:
		return nil, s.fail(hintEvery, "%q repeats every zero seconds", text)
	case total > maxSeconds:
		return nil, s.fail(hintEvery, "%q is too long: at most 100 years", text)
	}
	r := repeat{every: time.Duration(total) * time.Second}
	if kw == "每" && total%3600 == 0 && total < 86400 {
		r.minute = s.minuteOfHour()
	}
	r.text = s.text(start)
	return r, s.err == nil
}

// minuteOfHour reads the minute after 每小时: 的第15分钟, 第15分, 的30分; it
// is 0 when there is none. 每小时15分钟 is not read: it could be a length.
func (s *scanner) minuteOfHour() int {
	start := s.pos
	s.lit("的")
	nth := s.lit("第") != ""
	at := s.pos
	n, ok := s.num()
	unit := s.lit("分钟", "分")
	if !ok || unit == "" || unit == "分钟" && !nth {
		s.pos = start
		return 0
	}
	if n > 59 {
		s.fail(hint{"每小时的第15分钟", "每天9点"}, "%q is not a minute of the hour (0 to 59)", s.text(at))
		return 0
	}
	return n
}

// relative is a delay from the reference time: 10分钟后, in 2 hours, 3天后.
type relative struct {
	text  string
	exact time.Duration // seconds to hours
	days  int           // calendar days, at the reference's time of day
}

func (r relative) source() string { return r.text }

func (s *scanner) relativeClause() (clause, bool) {
	start := s.pos
	if s.lit("in", "after") != "" {
		sp, ok := s.duration(false)
		if !ok {
			s.expect("a length of time such as 10 minutes", hintIn)
			return nil, false
		}
		return s.makeRelative(start, sp)
	}
	s.lit("再过", "过")
	sp, ok := s.duration(false)
	if !ok || s.lit("后", "以后", "之后", "from now", "later") == "" {
		return nil, false
	}
	return s.makeRelative(start, sp)
}

func (s *scanner) makeRelative(start int, sp span) (clause, bool) {
	text := s.text(start)
	switch {
	case sp.uncounted:
		return nil, s.fail(hintIn, "%q needs a number, as in 10分钟后 or in 2 hours", text)
	case sp.months > 0:
		return nil, s.fail(hintDate, "%q: months and years have no fixed length; give the date", text)
	case sp.days > 0 && sp.secs > 0:
		return nil, s.fail(hintIn, "%q mixes days with hours; say it in hours, or give the day and the time", text)
	case sp.days == 0 && sp.secs == 0:
		return nil, s.fail(hintIn, "%q is no time at all", text)
	case int64(sp.days)*86400+sp.secs > maxSeconds:
		return nil, s.fail(hintIn, "%q is too far: at most 100 years", text)
	case !s.needRef(text):
		return nil, false
	}
	return relative{text: text, exact: time.Duration(sp.secs) * time.Second, days: sp.days}, true
}

// needRef fails when a phrase relative to the reference time has none.
func (s *scanner) needRef(text string) bool {
	if s.ref.IsZero() {
		return s.fail(hintDate, "%q is relative, but no reference time was given", text)
	}
	return true
}
