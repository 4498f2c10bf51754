package phrase

import (
	"fmt"
	"strings"
	"time"

	"taskrunner/libs/trigger"
)

// wallLayout is the date spec's layout, in the task's time zone.
const wallLayout = "2006-01-02 15:04:05"

// onDate is one calendar day: 明天, 下周五, 2026年12月1日, next Friday, Dec 1.
type onDate struct {
	text   string
	date   time.Time // 00:00 UTC on the day
	period period    // the part of the day implied by 今晚 or tonight
}

func (d onDate) source() string { return d.text }

func (s *scanner) dateClause() (clause, bool) {
	start := s.pos
	for _, read := range []func() (time.Time, period, bool){s.namedDay, s.zhWeekOf, s.zhMonthOf, s.enWeekOf, s.calendarDay} {
		if d, p, ok := read(); ok {
			return onDate{text: s.text(start), date: d, period: p}, true
		}
		if s.err != nil {
			return nil, false
		}
		s.pos = start
	}
	return nil, false
}

// namedDay reads 今天, 明天, 后天, 大后天, 今晚, today, tomorrow, tonight.
func (s *scanner) namedDay() (time.Time, period, bool) {
	start := s.pos
	w, ok := lookup(s, namedDays)
	if !ok || !s.needRef(s.text(start)) {
		return time.Time{}, 0, false
	}
	return s.today.AddDate(0, 0, w.offset), w.period, true
}

// zhWeekOf reads 下周五 (Friday of next week; weeks start on Monday) and
// 本周五 or 这周五 (Friday of this week).
func (s *scanner) zhWeekOf() (time.Time, period, bool) {
	start := s.pos
	weeks := 0
	switch s.lit("下个", "下", "本", "这个", "这") {
	case "下个", "下":
		weeks = 1
	case "":
		return time.Time{}, 0, false
	}
	if s.lit("周") == "" {
		return time.Time{}, 0, false
	}
	wd, ok := s.zhWeekday(true, false)
	if !ok || !s.needRef(s.text(start)) {
		return time.Time{}, 0, false
	}
	monday := s.today.AddDate(0, 0, -mondayOffset(int(s.today.Weekday())))
	return monday.AddDate(0, 0, 7*weeks+mondayOffset(wd)), anyPeriod, true
}

// zhMonthOf reads 下个月1号 (the 1st of next month) and 本月15号 or
// 这个月15号 (of this month).
func (s *scanner) zhMonthOf() (time.Time, period, bool) {
	start := s.pos
	months := 0
	switch s.lit("下个月", "下月", "本月", "这个月") {
	case "下个月", "下月":
		months = 1
	case "":
		return time.Time{}, 0, false
	}
	s.lit("的")
	d, ok := s.num()
	if !ok || s.lit("号", "日") == "" || !s.needRef(s.text(start)) {
		return time.Time{}, 0, false
	}
	first := time.Date(s.today.Year(), s.today.Month()+time.Month(months), 1, 0, 0, 0, 0, time.UTC)
	if d < 1 || d > daysIn(first.Year(), int(first.Month())) {
		return time.Time{}, 0, s.fail(hintDate, "%q is not a date: %s has %d days", s.text(start), first.Format("2006-01"), daysIn(first.Year(), int(first.Month())))
	}
	return first.AddDate(0, 0, d-1), anyPeriod, true
}

// enWeekOf reads "next Friday" (the first Friday after today) and "this
// Friday" (Friday of this week, Monday to Sunday).
func (s *scanner) enWeekOf() (time.Time, period, bool) {
	start := s.pos
	which := s.lit("next", "this")
	if which == "" {
		return time.Time{}, 0, false
	}
	wd, ok := s.enWeekday()
	if !ok || wd.plural || !s.needRef(s.text(start)) {
		return time.Time{}, 0, false
	}
	today := int(s.today.Weekday())
	if which == "this" {
		return s.today.AddDate(0, 0, mondayOffset(wd.day)-mondayOffset(today)), anyPeriod, true
	}
	ahead := (wd.day - today + 7) % 7
	if ahead == 0 {
		ahead = 7
	}
	return s.today.AddDate(0, 0, ahead), anyPeriod, true
}

// mondayOffset is how many days weekday wd (0 is Sunday) comes after Monday.
func mondayOffset(wd int) int { return (wd + 6) % 7 }

// calendarDay reads 2026-12-01, 2026/12/01, 2026年12月1日, 12月1号, Dec 1,
// December 1st, 2026, 1 Dec 2026. Without a year it is in the reference's year.
func (s *scanner) calendarDay() (time.Time, period, bool) {
	start := s.pos
	s.lit("on")
	y, m, d, hasYear, ok := s.isoDate()
	if !ok {
		s.pos = start
		y, m, d, hasYear, ok = s.zhDate()
	}
	if !ok && s.err == nil {
		s.pos = start
		s.lit("on")
		y, m, d, hasYear, ok = s.enDate()
	}
	if !ok {
		return time.Time{}, 0, false
	}
	t, ok := s.makeDate(y, m, d, hasYear, s.text(start))
	return t, anyPeriod, ok
}

func (s *scanner) isoDate() (y, m, d int, hasYear, ok bool) {
	rest := s.rest()
	y, n := digits(rest)
	if n != 4 || len(rest) == n || rest[n] != '-' && rest[n] != '/' {
		return 0, 0, 0, false, false
	}
	sep := rest[n]
	m, k := digits(rest[n+1:])
	i := n + 1 + k
	if k == 0 || k > 2 || len(rest) == i || rest[i] != sep {
		return 0, 0, 0, false, false
	}
	d, j := digits(rest[i+1:])
	if j == 0 || j > 2 {
		return 0, 0, 0, false, false
	}
	size := i + 1 + j
	if len(rest) > size+1 && rest[size] == 't' && isDigit(rest[size+1]) { // 2026-12-01T08:00
		size++
	}
	s.advance(size)
	return y, m, d, true, true
}

func (s *scanner) zhDate() (y, m, d int, hasYear, ok bool) {
	n, ok := s.num()
	if !ok {
		return 0, 0, 0, false, false
	}
	if s.lit("年") != "" {
		y, hasYear = n, true
		if n, ok = s.num(); !ok {
			return 0, 0, 0, false, false
		}
	}
	if s.lit("月") == "" {
		return 0, 0, 0, false, false
	}
	d, ok = s.num()
	if !ok || s.lit("日", "号") == "" {
		return 0, 0, 0, false, false
	}
	return y, n, d, hasYear, true
}

func (s *scanner) enDate() (y, m, d int, hasYear, ok bool) {
	if m, d, ok = s.enMonthAndDay(); !ok {
		return 0, 0, 0, false, false
	}
	before := s.pos
	s.lit(",")
	if v, n := digits(s.rest()); n == 4 {
		s.advance(n)
		return v, m, d, true, true
	}
	s.pos = before
	return 0, m, d, false, true
}

func (s *scanner) makeDate(y, m, d int, hasYear bool, text string) (time.Time, bool) {
	if !hasYear {
		if !s.needRef(text) {
			return time.Time{}, false
		}
		y = s.today.Year()
	}
	switch {
	case y < 1000 || y > 9999:
		return time.Time{}, s.fail(hintDate, "%q: %d is not a year", text, y)
	case m < 1 || m > 12 || d < 1 || d > maxDays(m):
		return time.Time{}, s.fail(hintDate, "%q is not a date", text)
	case d > daysIn(y, m) && hasYear:
		return time.Time{}, s.fail(hintDate, "%q is not a date: %d is not a leap year", text, y)
	case d > daysIn(y, m):
		return time.Time{}, s.fail(hintDate, "%q is not a date in %d, which is not a leap year; give the year", text, y)
	}
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC), true
}

// once builds a date spec from one-time clauses. Separators (和, and, a
// comma) split them into items, each a day with its times, or a delay.
func (s *scanner) once(cs []clause) (kind, spec string, err error) {
	var walls []string
	for _, item := range splitAtSeparators(cs) {
		w, err := s.onceItem(item)
		if err != nil {
			return "", "", err
		}
		walls = append(walls, w...)
	}
	return trigger.KindDate, strings.Join(walls, ","), nil
}

func splitAtSeparators(cs []clause) [][]clause {
	var items [][]clause
	var cur []clause
	for _, c := range cs {
		if _, ok := c.(separator); !ok {
			cur = append(cur, c)
			continue
		}
		if len(cur) > 0 {
			items = append(items, cur)
		}
		cur = nil
	}
	if len(cur) > 0 {
		items = append(items, cur)
	}
	return items
}

func (s *scanner) onceItem(item []clause) ([]string, error) {
	var day clause
	var at *atTimes
	for _, c := range item {
		switch c := c.(type) {
		case atTimes:
			if at != nil {
				return nil, s.conflict(*at, c, "the time")
			}
			at = &c
		default:
			if day != nil {
				return nil, refuse(s.phrase, hintOnce, "%q and %q are two days; join them with 和 or and, each with its time", day.source(), c.source())
			}
			day = c
		}
	}
	switch d := day.(type) {
	case relative:
		return s.afterDelay(d, at)
	case onDate:
		if at == nil {
			return nil, refuse(s.phrase, s.dayHint(d), "%q does not say at what time", d.text)
		}
		return s.walls(d.date, *at, d.period, joinText(d.text, at.text))
	}
	return nil, s.timeWithoutDay(*at)
}

// timeWithoutDay is the error for times with no day among one-time items
// (明天9点；10点): alone they would be every day, which a list of dates
// cannot hold.
func (s *scanner) timeWithoutDay(t atTimes) error {
	h := hint{"明天" + t.text, "明天9点和" + t.text}
	if !hasHan(t.text) {
		h = hint{"tomorrow " + t.text, "tomorrow at 9am and " + strings.TrimPrefix(t.text, "at ")}
	}
	return refuse(s.phrase, h, "%q does not say on which day; each one-time item needs its own day", t.text)
}

// afterDelay resolves 10分钟后 (exact), 3天后 (at the reference's time of
// day) and 3天后9点.
func (s *scanner) afterDelay(d relative, at *atTimes) ([]string, error) {
	date := s.today.AddDate(0, 0, d.days)
	switch {
	case d.days == 0 && at != nil:
		return nil, refuse(s.phrase, hintIn, "%q already gives the time; drop %q", d.text, at.text)
	case d.days == 0:
		return s.exactly(d)
	case at == nil:
		l := s.ref.In(s.loc)
		return s.wallsAt(date, []int{l.Hour()*3600 + l.Minute()*60 + l.Second()}, d.text)
	}
	return s.walls(date, *at, anyPeriod, joinText(d.text, at.text))
}

// exactly resolves a delay of seconds to hours: the reference time (to the
// second) plus the delay.
func (s *scanner) exactly(d relative) ([]string, error) {
	inst := s.ref.Truncate(time.Second).Add(d.exact)
	w := inst.In(s.loc).Format(wallLayout)
	got, err := s.instant(w)
	if err != nil {
		return nil, err
	}
	if !got.Equal(inst) {
		return nil, refuse(s.phrase, hintIn, "%q ends at %s in the second pass of an hour repeated by a daylight-saving change, which a date cannot single out", d.text, w)
	}
	return []string{w}, nil
}

func (s *scanner) walls(date time.Time, at atTimes, implied period, text string) ([]string, error) {
	if at.hasMidnight() {
		return nil, refuse(s.phrase, hint{"明天0点", "tomorrow at 0:00"}, "%q could be the start or the end of the day", text)
	}
	secs, err := s.clockSeconds(at, implied)
	if err != nil {
		return nil, err
	}
	for i, c := range at.clocks {
		v, ok := impliedFits(implied, c.period, secs[i])
		if !ok {
			h := hint{"今晚8点", "tonight at 8pm"}
			switch {
			case implied == morning:
				h = hint{"明早8点", "tomorrow at 8am"}
			case !date.Equal(s.today): // 明晚
				h = hint{"明晚8点", "tomorrow at 8pm"}
			}
			return nil, refuse(s.phrase, h, "%q says two different parts of the day", text)
		}
		secs[i] = v
	}
	return s.wallsAt(date, secs, text)
}

// impliedFits checks a time of day (in seconds) against the part of the
// day a day word implies, as "tomorrow morning at 8pm" is checked: 今晚 and
// tonight take 16:00 to 24:00, and the early hours after (tonight at 1am,
// 今晚凌晨2点 are the next day's); 今早 and 明早 take 0:00 to 12:00.
func impliedFits(implied, p period, v int) (int, bool) {
	const hour = 3600
	switch implied {
	case evening:
		switch {
		case v >= 16*hour:
			return v, true
		case v <= 6*hour && (p == early || p == am || p == anyPeriod):
			return v + 24*hour, true
		}
		return v, false
	case morning:
		return v, v < 12*hour
	}
	return v, true
}

// dayHint suggests the day of a one-time phrase with a time that fits it
// and is still ahead: 今天 read at 10:30 suggests 今天下午3点, not 今天9点.
func (s *scanner) dayHint(d onDate) hint {
	zh := hasHan(d.text)
	hours := []int{9, 15}
	switch d.period {
	case evening:
		hours = []int{20, 21}
	case morning:
		hours = []int{8, 9}
	}
	var out []string
	for _, h := range hours {
		if inst, err := s.instant(d.date.Add(time.Duration(h) * time.Hour).Format(wallLayout)); err == nil && inst.After(s.ref) {
			out = append(out, joinText(d.text, clockWords(h, d.period, zh)))
		}
	}
	tomorrow := []string{"tomorrow at 9am", "tomorrow at 3pm"}
	if zh {
		tomorrow = []string{"明天9点", "明天下午3点"}
	}
	out = append(out, tomorrow...)
	return hint{out[0], out[1]}
}

// clockWords writes hour h as a phrase does after a day word with part p.
func clockWords(h int, p period, zh bool) string {
	switch {
	case zh && (p == evening || p == morning):
		return fmt.Sprintf("%d点", (h-1)%12+1)
	case zh && h < 12:
		return fmt.Sprintf("%d点", h)
	case zh:
		return fmt.Sprintf("下午%d点", h-12)
	case h < 12:
		return fmt.Sprintf("at %dam", h)
	}
	return fmt.Sprintf("at %dpm", h-12)
}

// wallsAt is the date spec of each time on date (24:00 is the next day),
// refusing any that is not after the reference time.
func (s *scanner) wallsAt(date time.Time, secs []int, text string) ([]string, error) {
	out := make([]string, 0, len(secs))
	for _, sec := range secs {
		w := date.Add(time.Duration(sec) * time.Second).Format(wallLayout)
		inst, err := s.instant(w)
		if err != nil {
			return nil, err
		}
		if !inst.After(s.ref) {
			return nil, refuse(s.phrase, hintOnce, "%q is %s, which is in the past (the phrase is read at %s)", text, w, s.ref.In(s.loc).Format(wallLayout))
		}
		out = append(out, w)
	}
	return out, nil
}

// instant is the instant trigger fires a date spec at: a wall time that
// does not exist moves past the daylight-saving gap, one that occurs twice
// is its first occurrence.
func (s *scanner) instant(wall string) (time.Time, error) {
	sched, err := trigger.Parse(trigger.KindDate, wall, trigger.Options{Location: s.loc})
	if err != nil {
		return time.Time{}, refuse(s.phrase, hintDate, "%s is out of range", wall)
	}
	return sched.Next(time.Time{}), nil
}
