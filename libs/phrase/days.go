package phrase

import (
	"slices"
	"time"
	"unicode/utf8"
)

// dayRule is the days a repeating phrase fires on. The zero value is every day.
type dayRule struct {
	text    string
	dow     []int // weekdays, 0 is Sunday; nil for any
	dom     []int // days of the month; nil for any
	months  []int // the months of a yearly day; nil for any
	lastDay bool  // the last day of every month
}

func (d dayRule) source() string { return d.text }

func (d dayRule) everyDay() bool {
	return d.dow == nil && d.dom == nil && d.months == nil && !d.lastDay
}

// newYear reports whether d is Jan 1 alone, whose midnight is the start
// of the year: every year on Jan 1 at midnight is 0 0 1 1 *.
func (d dayRule) newYear() bool {
	return slices.Equal(d.months, []int{1}) && slices.Equal(d.dom, []int{1}) && d.dow == nil
}

var (
	workdays = []int{1, 2, 3, 4, 5}
	weekend  = []int{0, 6}
)

// cronFields renders the day of month, month and weekday fields.
func (d dayRule) cronFields() []string {
	f := []string{"*", "*", "*"}
	switch {
	case d.lastDay:
		f[0] = "L" // trigger's last day of the month
	case d.dom != nil:
		f[0] = field(d.dom, 1, 31, false)
	}
	if d.months != nil {
		f[1] = field(d.months, 1, 12, false)
	}
	if d.dow != nil {
		f[2] = field(d.dow, 0, 6, false)
	}
	return f
}

// nextDay is the rule for the days after d's, for a time of 24:00. It is
// false when one cron cannot name them (the day after the 28th).
func (d dayRule) nextDay() (dayRule, bool) {
	n := dayRule{text: d.text}
	switch {
	case d.lastDay:
		n.dom = []int{1}
	case d.months != nil:
		if slices.Max(d.dom) < 28 {
			n.months = d.months
			for _, x := range d.dom {
				n.dom = append(n.dom, x+1)
			}
			break
		}
		for _, m := range d.months { // the last day of each month: the 1st of the next
			if len(d.dom) > 1 || m == 2 || d.dom[0] != maxDays(m) {
				return d, false
			}
			n.months = append(n.months, m%12+1)
		}
		n.months, n.dom = sortedSet(n.months), []int{1}
	case d.dom != nil:
		if slices.Max(d.dom) > 27 {
			return d, false
		}
		for _, x := range d.dom {
			n.dom = append(n.dom, x+1)
		}
	case d.dow != nil:
		for _, x := range d.dow {
			n.dow = append(n.dow, (x+1)%7)
		}
		n.dow = sortedSet(n.dow)
	}
	return n, true
}

func (s *scanner) daysClause() (clause, bool) {
	start := s.pos
	d, ok := s.zhDays()
	if !ok && s.err == nil {
		s.pos = start
		d, ok = s.enDays()
	}
	if !ok {
		return nil, false
	}
	d.text = s.text(start)
	return d, true
}

// zhDays reads 每天, 工作日, 周末, 每周一三五, 每月1号和15号, 每月最后一天, 每年12月1日.
func (s *scanner) zhDays() (dayRule, bool) {
	if s.lit("每天", "每日", "天天", "每一天") != "" {
		return dayRule{}, true
	}
	every := s.lit("每个", "每逢", "每") != ""
	switch {
	case s.lit("工作日") != "":
		return dayRule{dow: workdays}, true
	case s.lit("周末") != "":
		return dayRule{dow: weekend}, true
	case !every:
		return dayRule{}, false
	case s.lit("周") != "":
		return s.zhWeekdays()
	case s.lit("月") != "":
		s.lit("的")
		return s.zhMonthDays()
	case s.lit("年") != "":
		s.lit("的")
		return s.zhYearDay()
	}
	return dayRule{}, false
}

// zhWeekdays reads the weekdays after 周: 一, 一三五, 一、周四, 一到五.
func (s *scanner) zhWeekdays() (dayRule, bool) {
	first, ok := s.zhWeekday(true, false)
	if !ok {
		return dayRule{}, false
	}
	set := []int{first}
	for s.err == nil {
		m := s.pos
		conn := s.lit(listOrRangeWords...)
		prefixed := s.lit("周") != ""
		wd, ok := s.zhWeekday(false, conn == "" && !prefixed)
		if !ok {
			s.pos = m
			break
		}
		if isRangeWord(conn) {
			set = append(set, weekdayRange(set[len(set)-1], wd)...)
		} else {
			set = append(set, wd)
		}
	}
	if s.err != nil {
		return dayRule{}, false
	}
	return dayRule{dow: sortedSet(set)}, true
}

// zhWeekday reads one weekday character. The first one after 周 must not
// be followed by 点 (每周一点 is refused); an adjacent one (每周一三五) is
// not read when it starts the hour instead (每周一三点 is Monday at 3:00),
// and 每周一二十点 (Monday and Tuesday at 10, or Monday at 20?) is refused.
func (s *scanner) zhWeekday(first, adjacent bool) (int, bool) {
	rest := s.rest()
	if rest == "" {
		return 0, false
	}
	r, size := utf8.DecodeRuneInString(rest)
	wd, ok := zhWeekdayRunes[r]
	next := rest[size:]
	hourNext := startsWithWord(next, "点", "时")
	switch {
	case !ok || isDigit(rest[0]) && next != "" && isDigit(next[0]):
		if first && startsWithNumber(rest) {
			return 0, s.fail(hintWeek, "%q is not a weekday (周一 to 周日)", "周"+rest[:numberSize(rest)])
		}
		return 0, false
	case first && hourNext:
		return 0, s.fail(hintWeek, "%q could be a weekday or an hour; write them apart, as 每周一 9点", "周"+rest[:size]+"点")
	case adjacent && hourNext:
		return 0, false
	case adjacent && (r == '一' || r == '二') && startsWithWord(next, "十"):
		return 0, s.fail(hintWeek, "%q after a weekday could be a weekday or part of the hour; separate weekdays with 、 as in 每周一、二 10点", rest[:size]+"十")
	}
	s.advance(size)
	return wd, true
}

// numberSize is the length of the number s starts with, for quoting it.
func numberSize(s string) int {
	if _, n := digits(s); n > 0 {
		return n
	}
	if _, n, _ := chineseNumber(s); n > 0 {
		return n
	}
	return len(firstRune(s))
}

// weekdayRange is the weekdays from a to b, going forward through the week.
func weekdayRange(a, b int) []int {
	out := []int{a}
	for d := a; d != b; {
		d = (d + 1) % 7
		out = append(out, d)
	}
	return out
}

// zhMonthDays reads the days after 每月: 1号, 1号和15号, 1、15号, 1号到5号, 最后一天.
func (s *scanner) zhMonthDays() (dayRule, bool) {
	start := s.pos
	if s.lit("最后一天", "最后1天", "月底", "月末", "底", "末") != "" {
		return dayRule{lastDay: true}, true
	}
	first, marked, ok := s.zhMonthDay()
	if !ok {
		return dayRule{}, false
	}
	set := []int{first}
	for s.err == nil {
		m := s.pos
		conn := s.lit(listOrRangeWords...)
		if conn == "" {
			break
		}
		n, mark, ok := s.zhMonthDay()
		if !ok {
			s.pos = m
			break
		}
		if isRangeWord(conn) {
			if n < set[len(set)-1] {
				return dayRule{}, s.fail(hintMonth, "in %q the range runs backwards", s.text(start))
			}
			for d := set[len(set)-1] + 1; d <= n; d++ {
				set = append(set, d)
			}
		} else {
			set = append(set, n)
		}
		marked = mark
	}
	switch {
	case s.err != nil:
		return dayRule{}, false
	case !marked:
		return dayRule{}, s.fail(hintMonth, "%q: end the days of the month with 号 or 日", "每月"+s.text(start))
	}
	return dayRule{dom: sortedSet(set)}, true
}

// zhMonthDay reads one day of the month, with or without 号.
func (s *scanner) zhMonthDay() (day int, marked, ok bool) {
	start := s.pos
	n, ok := s.num()
	if !ok || s.peek("点", "时", ":", "月", "分", "秒", "小时", "天", "个") {
		s.pos = start
		return 0, false, false
	}
	marked = s.lit("号", "日") != ""
	if n < 1 || n > 31 {
		return 0, false, s.fail(hintMonth, "%q is not a day of the month (1 to 31)", s.text(start))
	}
	return n, marked, true
}

// zhYearDay reads the days after 每年: 12月1日, 6月1日和10月1日.
func (s *scanner) zhYearDay() (dayRule, bool) {
	return s.yearDays(func() (m, d int, ok bool) {
		m, ok = s.num()
		if !ok || s.lit("月") == "" {
			return 0, 0, false
		}
		d, ok = s.num()
		return m, d, ok && s.lit("日", "号") != ""
	})
}

// yearDays reads one or more days of the year with read, joined by 和, a
// comma or "and", as one yearly rule. One cron fires on each of its days
// in each of its months, so the days must be the same in every month
// (Jan 1 and Jul 1), or every day in every month (Dec 1 and Dec 15).
func (s *scanner) yearDays(read func() (m, d int, ok bool)) (dayRule, bool) {
	start := s.pos
	type day struct{ m, d int }
	var list []day
	for s.err == nil {
		at := s.pos
		if len(list) > 0 && s.lit(listWords...) == "" {
			break
		}
		m, d, ok := read()
		if !ok {
			s.pos = at
			break
		}
		if m < 1 || m > 12 || d < 1 || d > maxDays(m) {
			return dayRule{}, s.fail(hintYear, "%q is not a day of the year", s.text(at))
		}
		list = append(list, day{m, d})
	}
	if len(list) == 0 || s.err != nil {
		return dayRule{}, false
	}
	var months, doms []int
	for _, x := range list {
		months, doms = append(months, x.m), append(doms, x.d)
	}
	r := dayRule{months: sortedSet(months), dom: sortedSet(doms)}
	if len(r.months)*len(r.dom) != len(sortedSetOf(list, func(x day) int { return x.m*100 + x.d })) {
		return dayRule{}, s.fail(hint{"每年1月1日和7月1日9点", "every Jan 1 and Jul 1 at 9am"}, "%q: these days need two tasks, since one cron fires on each of its days in each of its months (Jan 1 and Jul 1 is one cron, Jan 1 and Jul 15 is not)", s.text(start))
	}
	return r, true
}

// sortedSetOf is the distinct keys of xs, sorted.
func sortedSetOf[T any](xs []T, key func(T) int) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = key(x)
	}
	return sortedSet(out)
}

// enDays reads every day, daily, weekdays, every weekend, every Monday and
// Thursday, mondays, every month on the 15th, the 1st and 15th of every
// month, the last day of the month, every year on Dec 1.
func (s *scanner) enDays() (dayRule, bool) {
	if s.lit("daily", "everyday") != "" {
		return dayRule{}, true
	}
	pre := s.lit("every", "each", "on")
	every := pre == "every" || pre == "each"
	switch {
	case every && s.lit("day") != "":
		return dayRule{}, true
	case s.lit("weekday", "weekdays", "workday", "workdays", "business day", "business days", "working day", "working days") != "":
		return dayRule{dow: workdays}, true
	case s.lit("weekend", "weekends") != "":
		return dayRule{dow: weekend}, true
	case every && s.lit("month") != "", pre == "" && s.lit("monthly") != "":
		s.lit("on")
		return s.enMonthDays()
	case every && s.lit("year") != "", pre == "" && s.lit("yearly", "annually") != "":
		s.lit("on")
		return s.enYearDay()
	}
	if d, ok := s.enWeekdays(every); ok || s.err != nil {
		return d, ok
	}
	if every {
		return s.enYearDay() // every Dec 1
	}
	return s.enDaysOfMonth()
}

func (s *scanner) enWeekday() (weekdayWord, bool) { return lookup(s, enWeekdays) }

// enWeekdays reads Monday, Monday and Thursday, mon, wed, fri, Monday to
// Friday; a single singular weekday needs "every".
func (s *scanner) enWeekdays(every bool) (dayRule, bool) {
	start := s.pos
	first, ok := s.enWeekday()
	if !ok || !every && !first.plural {
		s.pos = start
		return dayRule{}, false
	}
	set := []int{first.day}
	for {
		m := s.pos
		conn := s.lit(",", "and", "/", "to", "through", "thru", "-")
		if conn == "," {
			s.lit("and")
		}
		wd, ok := s.enWeekday()
		if conn == "" || !ok {
			s.pos = m
			break
		}
		if isRangeWord(conn) {
			set = append(set, weekdayRange(set[len(set)-1], wd.day)...)
		} else {
			set = append(set, wd.day)
		}
	}
	return dayRule{dow: sortedSet(set)}, true
}

// enMonthDays reads the days after "every month on": the 15th, the 1st and
// 15th, day 15, the last day.
func (s *scanner) enMonthDays() (dayRule, bool) {
	s.lit("the")
	if s.lit("last day") != "" {
		return dayRule{lastDay: true}, true
	}
	set, ok := s.enOrdinals()
	if !ok {
		s.expect("a day of the month such as the 15th", hintMonth)
		return dayRule{}, false
	}
	return dayRule{dom: set}, true
}

// enDaysOfMonth reads "the 15th of every month", "the last day of the month".
func (s *scanner) enDaysOfMonth() (dayRule, bool) {
	s.lit("the")
	var d dayRule
	if s.lit("last day") != "" {
		d.lastDay = true
	} else {
		set, ok := s.enOrdinals()
		if !ok {
			return dayRule{}, false
		}
		d.dom = set
	}
	if s.lit("of") == "" || s.lit("every", "each", "the") == "" || s.lit("month") == "" {
		return dayRule{}, false
	}
	return d, true
}

func (s *scanner) enOrdinals() ([]int, bool) {
	first, ok := s.enOrdinal()
	if !ok {
		return nil, false
	}
	set := []int{first}
	for s.err == nil {
		m := s.pos
		if s.lit(",", "and") == "" {
			break
		}
		s.lit("and")
		s.lit("the")
		n, ok := s.enOrdinal()
		if !ok {
			s.pos = m
			break
		}
		set = append(set, n)
	}
	return sortedSet(set), s.err == nil
}

// enOrdinal reads 15th or day 15.
func (s *scanner) enOrdinal() (int, bool) {
	start := s.pos
	day := s.lit("day") != ""
	n, ok := s.num()
	if !ok || s.lit("st", "nd", "rd", "th") == "" && !day {
		s.pos = start
		return 0, false
	}
	if n < 1 || n > 31 {
		return 0, s.fail(hintMonth, "%q is not a day of the month (1 to 31)", s.text(start))
	}
	return n, true
}

// enYearDay reads the days after "every year on": Dec 1, Jan 1 and Jul 1.
func (s *scanner) enYearDay() (dayRule, bool) {
	return s.yearDays(s.enMonthAndDay)
}

// enMonthAndDay reads Dec 1, December 1st, 1 Dec, the 1st of December.
func (s *scanner) enMonthAndDay() (m, d int, ok bool) {
	s.lit("the")
	if m, ok = lookup(s, enMonths); ok {
		d, ok = s.dayNumber()
		return m, d, ok
	}
	if d, ok = s.dayNumber(); !ok {
		return 0, 0, false
	}
	s.lit("of")
	m, ok = lookup(s, enMonths)
	return m, d, ok
}

// dayNumber reads a day as a number with an optional ordinal suffix.
func (s *scanner) dayNumber() (int, bool) {
	n, ok := s.num()
	if ok {
		s.lit("st", "nd", "rd", "th")
	}
	return n, ok
}

// daysIn is the number of days in month m of year y.
func daysIn(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// maxDays is the number of days month m can have.
func maxDays(m int) int { return daysIn(2028, m) }

// weekdaySpanClause reads a range of weekdays with no 每 or every:
// 周一至周五, 周一到周五, monday to friday, mon-fri. Unlike a single weekday
// (周五9点), a range is read as every week.
func (s *scanner) weekdaySpanClause() (clause, bool) {
	start := s.pos
	var from, to int
	if s.lit("周") != "" {
		a, ok := s.zhWeekday(false, false)
		if !ok || !isRangeWord(s.lit(rangeWords...)) {
			return nil, false
		}
		b, ok := s.zhWeekday(s.lit("周") != "", false)
		if !ok {
			return nil, false
		}
		from, to = a, b
	} else {
		s.lit("on")
		a, ok := s.enWeekday()
		if !ok || s.lit("to", "through", "thru", "-") == "" {
			return nil, false
		}
		b, ok := s.enWeekday()
		if !ok {
			return nil, false
		}
		from, to = a.day, b.day
	}
	if s.peek(listOrRangeWords...) && !s.peek(listWords...) {
		return nil, false // 周一到周三到周五
	}
	return dayRule{text: s.text(start), dow: sortedSet(weekdayRange(from, to))}, true
}

// bareWeekdayClause refuses a weekday with no 每, 下, every or next: once,
// or every week?
func (s *scanner) bareWeekdayClause() (clause, bool) {
	start := s.pos
	if s.lit("周") != "" {
		if _, ok := s.zhWeekdays(); ok {
			days := s.text(start)
			if s.weekdayTimes {
				return nil, s.fail(hint{"每" + days + "9点", "每周一、周五 9点"}, "%q has a time of its own: two times on two weekdays need two tasks, one per weekday, since one cron fires at each of its times on each of its days", days)
			}
			first := "周" + firstRune(days[len("周"):])
			at := s.timeAhead("9点")
			return nil, s.fail(hint{"每" + days + at, "下" + first + at}, "%q alone could be once or every week", days)
		}
	}
	s.pos = start
	s.lit("on")
	at := s.pos
	if _, ok := s.enWeekday(); ok {
		day := s.text(at)
		if s.weekdayTimes {
			return nil, s.fail(hint{"every " + day + " at 9:00", "every Monday and Friday at 9:00"}, "%q has a time of its own: two times on two weekdays need two tasks, one per weekday, since one cron fires at each of its times on each of its days", day)
		}
		at := s.timeAhead("at 9:00")
		return nil, s.fail(hint{"every " + day + " " + at, "next " + day + " " + at}, "%q alone could be once or every week", s.text(start))
	}
	return nil, false
}

// timeAhead is the text of the times of day that follow, for a hint that
// keeps them (on Friday at 5pm suggests every Friday at 5pm), or orElse.
// It reads nothing.
func (s *scanner) timeAhead(orElse string) string {
	saved := *s
	defer func() { *s = saved }()
	if c, ok := s.timesClause(); ok && s.err == nil {
		return c.source()
	}
	return orElse
}
