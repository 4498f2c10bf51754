package phrase

import (
	"fmt"
)

// period is the part of the day an hour is counted in.
type period int

const (
	anyPeriod period = iota // none written: the 24-hour clock
	early                   // 凌晨
	morning                 // 上午, 早上, morning
	noon                    // 中午, noon
	afternoon               // 下午
	dusk                    // 傍晚
	evening                 // 晚上, evening, night
	night                   // 夜里, 半夜: late evening or the small hours
	am
	pm
)

// hour24 maps an hour written after p to the 24-hour clock. 24 is the end
// of the day: 晚上12点 is 24:00, which is 00:00 of the next day, and
// 晚上12点半 is 24:30, 00:30 of the next day.
func (p period) hour24(h int) (int, bool) {
	switch p {
	case early:
		if h == 12 {
			return 0, true
		}
		return h, h <= 6
	case morning:
		return h, h <= 11
	case am:
		if h == 12 {
			return 0, true
		}
		return h, h >= 1 && h <= 11
	case noon:
		if h == 1 || h == 2 {
			return h + 12, true
		}
		return h, h >= 11 && h <= 13
	case afternoon, pm:
		if h >= 1 && h <= 11 {
			return h + 12, true
		}
		return h, h == 12 || p == afternoon && h >= 13 && h <= 23
	case dusk:
		if h >= 4 && h <= 7 {
			return h + 12, true
		}
		return h, h >= 16 && h <= 19
	case night:
		switch {
		case h >= 7 && h <= 11:
			return h + 12, true
		case h == 12:
			return 24, true
		}
		return h, h <= 5 || h >= 19 && h <= 23
	case evening:
		if h >= 5 && h <= 11 {
			return h + 12, true
		}
		if h == 12 {
			return 24, true
		}
		return h, h >= 17 && h <= 23
	}
	return h, h <= 24
}

// rule says which hours p takes, for messages.
func (p period) rule() string {
	switch p {
	case early:
		return "after 凌晨 the hour goes from 0 to 6"
	case morning:
		return "in the morning the hour goes from 0 to 11 (say 中午12点 or noon for 12:00)"
	case am, pm:
		return "with am or pm the hour goes from 1 to 12"
	case noon:
		return "around noon the hour goes from 11 to 2"
	case afternoon:
		return "in the afternoon the hour goes from 1 to 11, or 12 to 23"
	case dusk:
		return "after 傍晚 the hour goes from 4 to 7"
	case evening:
		return "in the evening the hour goes from 5 to 12 (12 is the end of the day: 晚上12点半 is 00:30 the next day)"
	case night:
		return "after 夜里 or 半夜 the hour goes from 7 to 12 (19:00 to 24:00) or 0 to 5"
	}
	return "the hour goes from 0 to 23, minutes and seconds from 0 to 59"
}

// agrees reports whether an am/pm suffix fits a period word before the hour.
func (p period) agrees(suffix period) bool {
	switch p {
	case anyPeriod:
		return true
	case early, morning:
		return suffix == am
	case night:
		return true
	}
	return suffix == pm
}

// clock is a time of day as written; its period is applied when the
// clause it belongs to is resolved, because it may be inherited.
type clock struct {
	text     string
	h, m, s  int
	period   period
	midnight bool // the English "midnight": 00:00, refused where it could mean 24:00
}

// at resolves c in period p to seconds since the start of the day
// (86400 for 24:00, more for 晚上12点半, which is in the next day).
func (c clock) at(p period) (int, bool) {
	if c.midnight {
		return 0, true
	}
	h, ok := p.hour24(c.h)
	if !ok {
		return 0, false
	}
	return h*3600 + c.m*60 + c.s, true
}

// clock reads a time of day: 9点, 9点半, 下午3点15分, 18:30, 9:30:15, 9am,
// at 9 (bare, after "at" or in an English range), noon, midnight, 中午.
func (s *scanner) clock(bare bool) (clock, bool) {
	start := s.pos
	var c clock
	if s.lit("at") != "" {
		bare = true
	}
	c.period, _ = lookup(s, periods)
	if s.lit("at") != "" {
		bare = true
	}
	word := c.period == anyPeriod // noon and midnight take no part of the day
	switch {
	case word && s.lit("noon", "midday") != "":
		c.h, c.period = 12, noon
	case word && s.lit("midnight") != "":
		c.midnight = true
	case s.pastHour(&c):
	case s.hourMinute(&c, bare):
	case c.period == noon && s.err == nil: // 中午 alone
		c.h = 12
	default:
		s.pos = start
		return clock{}, false
	}
	c.text = s.text(start)
	return c, true
}

// hourMinute reads the hour and what follows it into c.
func (s *scanner) hourMinute(c *clock, bare bool) bool {
	start := s.pos
	if !s.clockDigits(c) {
		n, ok := s.num()
		if !ok {
			return false
		}
		c.h = n
		if s.lit("点", "时") != "" {
			s.zhMinutes(c)
			return s.checkClock(c, start)
		}
		// A bare number is an hour only where nothing else can be meant
		// ("at 9"), and never a year or a date.
		o := s.lit("o'clock", "oclock") != ""
		if !o && !s.peek("am", "pm") && (!bare || n > 24 || s.peek("-", "/", "年", "月")) {
			s.pos = start
			return false
		}
	}
	if p, ok := lookup(s, ampm); ok {
		if !c.period.agrees(p) {
			return s.fail(hintTime, "%q says two different parts of the day", s.text(start))
		}
		c.period = p
	}
	return s.checkClock(c, start)
}

// pastHour reads "quarter past 8" and "half past 5 pm": the hour as "at 8"
// reads it (on the 24-hour clock unless am or pm follows), plus 15 or 30
// minutes.
func (s *scanner) pastHour(c *clock) bool {
	start := s.pos
	switch s.lit("quarter past", "half past") {
	case "quarter past":
		c.m = 15
	case "half past":
		c.m = 30
	default:
		return false
	}
	h, ok := s.num()
	if !ok {
		s.expect("an hour", hintTime)
		s.pos, c.m = start, 0
		return false
	}
	c.h = h
	s.lit("o'clock", "oclock")
	if p, ok := lookup(s, ampm); ok {
		if !c.period.agrees(p) {
			return s.fail(hintTime, "%q says two different parts of the day", s.text(start))
		}
		c.period = p
	}
	return s.checkClock(c, start)
}

func (s *scanner) checkClock(c *clock, start int) bool {
	text := s.text(start)
	switch {
	case (c.period == am || c.period == pm) && (c.h < 1 || c.h > 12):
		return s.fail(hintTime, "%q is not a time: with am or pm the hour goes from 1 to 12", text)
	case c.h > 24 || c.h == 24 && c.m+c.s > 0:
		return s.fail(hintTime, "%q is not a time: the hour goes from 0 to 23", text)
	case c.m > 59 || c.s > 59:
		return s.fail(hintTime, "%q is not a time: minutes and seconds go from 0 to 59", text)
	}
	return true
}

// clockDigits reads H:MM or H:MM:SS.
func (s *scanner) clockDigits(c *clock) bool {
	rest := s.rest()
	h, n := digits(rest)
	if n == 0 || n > 2 || len(rest) == n || rest[n] != ':' {
		return false
	}
	m, k := digits(rest[n+1:])
	if k != 2 {
		return false
	}
	size, sec := n+1+k, 0
	if len(rest) > size && rest[size] == ':' {
		if v, j := digits(rest[size+1:]); j == 2 {
			size, sec = size+3, v
		}
	}
	c.h, c.m, c.s = h, m, sec
	s.advance(size)
	return true
}

// zhMinutes reads what may follow 点: 半, 整, 一刻, 三刻, 15, 15分, 零五分, 15分30秒.
func (s *scanner) zhMinutes(c *clock) {
	if s.pos < len(s.src) && s.src[s.pos] == ' ' {
		return // 9点 12 is not 9:12
	}
	switch s.lit("半", "整", "一刻", "三刻") {
	case "半":
		c.m = 30
		return
	case "一刻":
		c.m = 15
		return
	case "三刻":
		c.m = 45
		return
	case "整":
		return
	}
	start := s.pos
	m, ok := s.num()
	switch {
	case !ok:
	case s.peek("分钟", "秒", "小时", "钟头", "天", "号", "日", "月", "周", "个", "点", "时", ":"):
		s.pos = start // a length of time or a date, not minutes
	case s.lit("分") != "":
		c.m = m
		s.zhSeconds(c)
	default:
		c.m = m
	}
}

func (s *scanner) zhSeconds(c *clock) {
	start := s.pos
	if n, ok := s.num(); ok && s.lit("秒") != "" {
		c.s = n
		return
	}
	s.pos = start
}

// atTimes is one or more times of day: 9点和18点, at 9am and 6pm.
type atTimes struct {
	text   string
	clocks []clock
}

func (t atTimes) source() string { return t.text }

func (t atTimes) hasMidnight() bool {
	for _, c := range t.clocks {
		if c.midnight {
			return true
		}
	}
	return false
}

func (s *scanner) timesClause() (clause, bool) {
	start := s.pos
	at := s.lit("at") != ""
	first, ok := s.clock(at)
	if !ok {
		if at {
			s.expect("a time", hintTime)
		}
		return nil, false
	}
	list := []clock{first}
	for s.err == nil {
		m := s.pos
		if s.lit(listWords...) == "" {
			break
		}
		next, ok := s.clock(at)
		if !ok {
			s.pos = m
			break
		}
		list = append(list, next)
	}
	if s.err != nil {
		return nil, false
	}
	return atTimes{text: s.text(start), clocks: list}, true
}

// window is a range of times of day a repeat fires in: 9点到18点, between
// 9:00 and 17:00, from 9am to 5pm. Its end is exclusive.
type window struct {
	text     string
	from, to clock
}

func (w window) source() string { return w.text }

func (s *scanner) windowClause() (clause, bool) {
	start := s.pos
	kw := s.lit("from", "between", "从", "在")
	bare := kw == "from" || kw == "between"
	from, ok := s.clock(bare)
	if !ok {
		return nil, false
	}
	conns := windowEndWords
	if kw == "between" {
		conns = []string{"and", "-"}
	}
	if s.lit(conns...) == "" {
		return nil, false
	}
	to, ok := s.clock(bare)
	if !ok {
		s.expect("an end time", hintRange)
		return nil, false
	}
	s.lit("之间", "期间", "之内", "内")
	return window{text: s.text(start), from: from, to: to}, true
}

// secondsOf resolves c to seconds since the start of the day. A clock with
// no period of its own takes inherit when that gives a time after prev:
// 下午3点到5点 ends at 17:00, 晚上8点和9点 is 20:00 and 21:00.
func (s *scanner) secondsOf(c clock, inherit period, prev int) (int, period, error) {
	if c.period == anyPeriod && inherit != anyPeriod && !c.midnight {
		if v, ok := c.at(inherit); ok && v > prev {
			return v, inherit, nil
		}
	}
	v, ok := c.at(c.period)
	if !ok {
		return 0, 0, refuse(s.phrase, hintTime, "%q is not a time of day: %s", c.text, c.period.rule())
	}
	return v, c.period, nil
}

// clockSeconds resolves a list of times, the first taking implied (今晚).
func (s *scanner) clockSeconds(t atTimes, implied period) ([]int, error) {
	inherit, prev := implied, -1
	out := make([]int, 0, len(t.clocks))
	for _, c := range t.clocks {
		v, p, err := s.secondsOf(c, inherit, prev)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		inherit, prev = p, v
	}
	return out, nil
}

// bounds resolves a window to [from, to) in seconds since the start of the day.
func (s *scanner) bounds(w window) (from, to int, err error) {
	from, p, err := s.secondsOf(w.from, anyPeriod, -1)
	if err != nil {
		return 0, 0, err
	}
	if w.to.midnight {
		to = 86400
	} else if to, _, err = s.secondsOf(w.to, p, from); err != nil {
		return 0, 0, err
	}
	if to <= from || to > 86400 {
		return 0, 0, refuse(s.phrase, hintRange, "in %q the end is not after the start (a range cannot cross midnight)", w.text)
	}
	return from, to, nil
}

func formatSeconds(sec int) string {
	return fmt.Sprintf("%02d:%02d:%02d", sec/3600, sec/60%60, sec%60)
}
